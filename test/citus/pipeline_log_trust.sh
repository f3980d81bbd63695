#!/bin/sh
# test/citus/pipeline_log_trust.sh: the objects the SECURITY DEFINER pipeline
# functions write on a Citus cluster cannot be planted or swapped (issue 17.3;
# doc/security.md, "SECURITY DEFINER write targets").  Run by
# test/citus/run.sh with CITUS_HOST, COORD_PORT, WORKER1_PORT and
# WORKER2_PORT set.  Builds its own cluster in database funnel_trap (Citus
# keeps its metadata per database), so the attack runs before the first
# pipeline call.  A NOSUPERUSER role with CREATE on the database and on
# schema public tries, before the first create_pipeline():
#   1. on the coordinator, to create schema funnel_citus and in it a
#      reference table pipeline_log with a trigger of its own (it would fire
#      as the extension owner and make the attacker a superuser);
#   2. on worker 1, to create funnel_citus.pipeline_log_applied, which the
#      log's trigger writes on each worker as the extension owner.
# Both are refused, create_pipeline() then uses funnel's own log and
# reaches both workers, and the attacker's trigger never fires.  Then a
# log or pipeline_log_applied handed to the attacker by a superuser (as a
# mistake) is refused, naming it, before funnel writes it.  Exits non-zero
# on the first failure.
set -u
db=funnel_trap
fail() { echo "not ok - $1"; echo "#   have: $2"; echo "#   want: $3"; exit 1; }
# as USER on PORT: the output, errors with their SQLSTATE
as() { user=$1; port=$2; shift 2; psql -X -q -At -v VERBOSITY=verbose -h "$CITUS_HOST" -p "$port" -U "$user" -d $db "$@" 2>&1 | sed "/^$/d; /^LOCATION:/d; /^CONTEXT:/d; /^NOTICE:/d; /^DETAIL:/d; /^HINT:/d"; }
coord() { as postgres "$COORD_PORT" -v ON_ERROR_STOP=1 -c "$1"; }
is() { [ "$2" = "$3" ] || fail "$1" "$2" "$3"; echo "# ok: $1"; }
like() { case "$2" in $3) echo "# ok: $1" ;; *) fail "$1" "$2" "$3" ;; esac; }

cleanup() {
    for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
        psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS trap_attacker" >/dev/null 2>&1
    done
}
trap cleanup EXIT
cleanup
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null &&
        as postgres "$port" -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION citus' \
            -c 'SET citus.enable_ddl_propagation = off' \
            -c 'CREATE ROLE trap_attacker NOSUPERUSER LOGIN' \
            -c "GRANT CREATE ON DATABASE $db TO trap_attacker" \
            -c 'GRANT CREATE ON SCHEMA public TO trap_attacker' >/dev/null ||
        fail "set-up on port $port" "error" "database with citus and role trap_attacker"
done
coord "SELECT citus_set_coordinator_host('$CITUS_HOST', $COORD_PORT);
       SELECT citus_add_node('$CITUS_HOST', $WORKER1_PORT);
       SELECT citus_add_node('$CITUS_HOST', $WORKER2_PORT);
       CREATE EXTENSION funnel" >/dev/null || fail "cluster set-up" "error" "two workers, funnel on every node"

# the attacker's trigger function, on every node: records that it ran and
# as whom, and tries to make the attacker a superuser
trapfn="CREATE FUNCTION public.trap() RETURNS trigger LANGUAGE plpgsql AS \$t\$
BEGIN
    BEGIN
        INSERT INTO public.trap_fired VALUES (current_user, TG_TABLE_NAME);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
        EXECUTE 'ALTER ROLE trap_attacker SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN NULL;
END\$t\$"
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    out=$(as trap_attacker "$port" -v ON_ERROR_STOP=1 -c 'SET citus.enable_ddl_propagation = off' \
              -c 'CREATE TABLE public.trap_fired (who text, tbl text)' \
              -c 'GRANT INSERT ON public.trap_fired TO PUBLIC' -c "$trapfn")
    is "set-up: the attacker's trap function on port $port" "$out" ""
done
fired="SELECT count(*) FROM public.trap_fired"
super="SELECT rolsuper FROM pg_roles WHERE rolname = 'trap_attacker'"

# 1. on the coordinator, before the first pipeline call
out=$(as trap_attacker "$COORD_PORT" -c "CREATE SCHEMA funnel_citus")
like "the attacker cannot create schema funnel_citus (CREATE EXTENSION made it)" "$out" \
     "ERROR:  42P06: schema \"funnel_citus\" already exists*"
out=$(as trap_attacker "$COORD_PORT" \
    -c "CREATE TABLE funnel_citus.pipeline_log (id bigint PRIMARY KEY, op text, pipeline text, args jsonb, result jsonb,
                                                logged_at timestamptz, logged_by text, rules jsonb)" \
    -c "SELECT create_reference_table('funnel_citus.pipeline_log')" \
    -c "SET citus.enable_unsafe_triggers = on" \
    -c "CREATE TRIGGER trap AFTER INSERT ON funnel_citus.pipeline_log FOR EACH STATEMENT EXECUTE FUNCTION public.trap()")
like "the attacker cannot create funnel_citus.pipeline_log first" "$out" \
     "ERROR:  42501: permission denied for schema funnel_citus*"

# 2. on worker 1, before its first apply
out=$(as trap_attacker "$WORKER1_PORT" -c "SET citus.enable_ddl_propagation = off" \
    -c "CREATE SCHEMA IF NOT EXISTS funnel_citus" \
    -c "CREATE TABLE funnel_citus.pipeline_log_applied (applied bigint NOT NULL)" \
    -c "INSERT INTO funnel_citus.pipeline_log_applied VALUES (0)" \
    -c "CREATE TRIGGER trap AFTER UPDATE ON funnel_citus.pipeline_log_applied FOR EACH STATEMENT EXECUTE FUNCTION public.trap()")
like "the attacker cannot create funnel_citus.pipeline_log_applied on a worker" "$out" \
     "ERROR:  42501: permission denied for schema funnel_citus*"

# the first pipeline call: funnel's own log, on every node
is "create_pipeline() after the attempts" \
   "$(coord "SELECT funnel.create_pipeline('trap_sales', ARRAY['lead', 'demo'], ARRAY[0.2, 0.4])")" ""
for port in "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "worker port $port has the pipeline" \
       "$(as postgres "$port" -c "SELECT funnel.position('trap_sales:demo') || ' ' || funnel.probability('trap_sales:demo')")" "2 0.4"
    is "worker port $port: pipeline_log_applied is funnel's, owned by the extension owner, without triggers" \
       "$(as postgres "$port" -c "SELECT c.relowner = e.extowner, (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid), a.applied
                                   FROM pg_class c, pg_extension e, funnel_citus.pipeline_log_applied a
                                  WHERE c.oid = 'funnel_citus.pipeline_log_applied'::regclass AND e.extname = 'funnel'")" "t|0|1"
done
is "the log is funnel's: owned by the extension owner, its one user trigger funnel's" \
   "$(coord "SELECT c.relowner = e.extowner, string_agg(t.tgname || '=' || t.tgfoid::regproc, ',')
               FROM pg_class c JOIN pg_extension e ON e.extname = 'funnel'
               LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
              WHERE c.oid = 'funnel_citus.pipeline_log'::regclass GROUP BY 1")" \
   "t|pipeline_log_apply=funnel_internal.pipeline_log_apply"
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "port $port: the attacker's trigger never fired" "$(as postgres "$port" -c "$fired")" "0"
    is "port $port: the attacker is no superuser" "$(as postgres "$port" -c "$super")" "f"
done

# 3. a log handed to the attacker (a superuser's mistake): refused before
#    funnel writes it, naming it; nothing changes on any node
is "set-up: the log handed to the attacker" \
   "$(coord "ALTER TABLE funnel_citus.pipeline_log OWNER TO trap_attacker")" ""
out=$(as trap_attacker "$COORD_PORT" -c "SET citus.enable_unsafe_triggers = on" \
    -c "CREATE TRIGGER trap AFTER INSERT ON funnel_citus.pipeline_log FOR EACH STATEMENT EXECUTE FUNCTION public.trap()")
is "set-up: the attacker, now owner of the log, adds a trigger" "$out" ""
out=$(as postgres "$COORD_PORT" -c "SELECT funnel.add_stage('trap_sales', 'trial', after => 'lead')")
like "a pipeline change with a log of another owner is refused, naming the log" "$out" \
     "ERROR:  42501: table funnel_citus.pipeline_log is not the pipeline log table funnel created*"
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "port $port: the trigger of the handed-over log never fired" "$(as postgres "$port" -c "$fired")" "0"
    is "port $port: still no superuser" "$(as postgres "$port" -c "$super")" "f"
    is "port $port: the refused change changed nothing" \
       "$(as postgres "$port" -c "SELECT count(*) FROM funnel.stages WHERE pipeline = 'trap_sales'")" "4"
done
is "clean-up: the log back as funnel made it" \
   "$(as postgres "$COORD_PORT" -c "SET citus.enable_unsafe_triggers = on" -c "DROP TRIGGER trap ON funnel_citus.pipeline_log" \
                                -c "ALTER TABLE funnel_citus.pipeline_log OWNER TO postgres")" ""

# 4. pipeline_log_applied of worker 2 handed to the attacker: the worker's
#    apply refuses it, which aborts the change on every node
is "set-up: worker 2's pipeline_log_applied handed to the attacker" \
   "$(as postgres "$WORKER2_PORT" -c "ALTER TABLE funnel_citus.pipeline_log_applied OWNER TO trap_attacker")" ""
out=$(as trap_attacker "$WORKER2_PORT" \
    -c "CREATE TRIGGER trap AFTER UPDATE ON funnel_citus.pipeline_log_applied FOR EACH STATEMENT EXECUTE FUNCTION public.trap()")
is "set-up: the attacker, now owner of worker 2's pipeline_log_applied, adds a trigger" "$out" ""
out=$(as postgres "$COORD_PORT" -c "SELECT funnel.add_stage('trap_sales', 'trial', after => 'lead')")
like "a change reaching a worker whose pipeline_log_applied has another owner is refused, naming it" "$out" \
     "ERROR:  42501: table funnel_citus.pipeline_log_applied is not the applied-log table funnel created*"
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "port $port: the trigger on pipeline_log_applied never fired" "$(as postgres "$port" -c "$fired")" "0"
    is "port $port: no superuser at the end" "$(as postgres "$port" -c "$super")" "f"
    is "port $port: the aborted change changed nothing" \
       "$(as postgres "$port" -c "SELECT count(*) FROM funnel.stages WHERE pipeline = 'trap_sales'")" "4"
done
is "clean-up: worker 2's pipeline_log_applied back as funnel made it" \
   "$(as postgres "$WORKER2_PORT" -c "DROP TRIGGER trap ON funnel_citus.pipeline_log_applied" \
                                  -c "ALTER TABLE funnel_citus.pipeline_log_applied OWNER TO postgres")" ""
is "with the tables restored, the change reaches every node" \
   "$(coord "SELECT funnel.add_stage('trap_sales', 'trial', after => 'lead')")" ""
is "worker 2 has the new stage" "$(as postgres "$WORKER2_PORT" -c "SELECT funnel.position('trap_sales:trial')")" "2"
is "check_pipeline_nodes(): every node agrees" "$(coord "SELECT count(*) FROM funnel.check_pipeline_nodes()")" "0"
exit 0
