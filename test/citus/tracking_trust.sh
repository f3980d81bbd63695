#!/bin/sh
# test/citus/tracking_trust.sh: a tracked distributed table seen from a
# worker (doc/security.md, "Tracking").  Run by test/citus/run.sh with
# CITUS_HOST, COORD_PORT, WORKER1_PORT and WORKER2_PORT set, in database
# funnel_citus.  1. The owner writes through the distributed table from a
# client connected to a worker: Citus runs the statement on the local
# shards in that backend, which does not see shards in pg_class, and the
# history must still be written.  2. A NOSUPERUSER attacker connected to
# the worker that holds a shard of the victim's history cannot write it,
# neither directly nor through a trigger it creates on a shard of its own
# co-located table: SQLSTATE 42501, the history byte for byte unchanged.
# Exits non-zero on the first failure.
set -u
db=funnel_citus
fail() { echo "not ok - $1"; echo "#   have: $2"; echo "#   want: $3"; exit 1; }
# as USER on PORT: the output, errors with their SQLSTATE
as() { user=$1; port=$2; shift 2; psql -X -q -At -v VERBOSITY=verbose -h "$CITUS_HOST" -p "$port" -U "$user" -d $db "$@" 2>&1 | sed "/^$/d; /^LOCATION:/d; /^CONTEXT:/d"; }
coord() { as postgres "$COORD_PORT" -v ON_ERROR_STOP=1 -c "$1"; }
is() { [ "$2" = "$3" ] || fail "$1" "$2" "$3"; echo "# ok: $1"; }
like() { case "$2" in $3) echo "# ok: $1" ;; *) fail "$1" "$2" "$3" ;; esac; }

cleanup() {
    as postgres "$COORD_PORT" -c "DROP TABLE IF EXISTS ctw_v, ctw_v_stage_history, ctw_a" \
        -c "SELECT funnel.drop_pipeline('ctw_sales')" \
        -c "REVOKE ALL ON SCHEMA public FROM ctw_victim, ctw_attacker" \
        -c "REVOKE EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) FROM ctw_victim" \
        -c "DROP ROLE IF EXISTS ctw_victim, ctw_attacker" >/dev/null 2>&1
}
trap cleanup EXIT
cleanup
coord "CREATE ROLE ctw_victim NOSUPERUSER LOGIN;
       CREATE ROLE ctw_attacker NOSUPERUSER LOGIN;
       GRANT CREATE ON SCHEMA public TO ctw_victim, ctw_attacker;
       GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO ctw_victim;
       SELECT funnel.create_pipeline('ctw_sales', ARRAY['lead', 'qualified', 'proposal'])" >/dev/null ||
    fail "set-up" "error" "roles and pipeline"
as ctw_victim "$COORD_PORT" -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE ctw_v (id bigint PRIMARY KEY, stage funnel.deal_stage(ctw_sales) NOT NULL)" \
    -c "SELECT create_distributed_table('ctw_v', 'id', shard_count => 4)" \
    -c "INSERT INTO ctw_v SELECT g, 'lead' FROM generate_series(1, 20) g" \
    -c "SELECT funnel.track('ctw_v', 'ctw_sales')" >/dev/null || fail "victim set-up" "error" "tracked table"
as ctw_attacker "$COORD_PORT" -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE ctw_a (id bigint PRIMARY KEY, stage funnel.deal_stage(ctw_sales) NOT NULL)" \
    -c "SELECT create_distributed_table('ctw_a', 'id', colocate_with => 'ctw_v')" >/dev/null ||
    fail "attacker set-up" "error" "co-located table"

# 1. the owner writes from a client connected to each worker: every shard,
# local ones included
for port in "$WORKER1_PORT" "$WORKER2_PORT"; do
    out=$(as ctw_victim "$port" -c "INSERT INTO ctw_v SELECT g, 'lead' FROM generate_series($port * 100, $port * 100 + 19) g" \
                                -c "UPDATE ctw_v SET stage = 'qualified' WHERE id BETWEEN $port * 100 AND $port * 100 + 9" \
                                -c "UPDATE ctw_v SET stage = 'proposal' WHERE id = $port * 100 + 10")
    is "INSERT and UPDATE from a client on worker port $port" "$out" ""
done
is "the history written from the workers, as from the coordinator" \
   "$(coord "SELECT (SELECT count(*) FROM ctw_v_stage_history) || ' ' ||
                    (SELECT count(*) FROM ctw_v_stage_history WHERE left_at IS NULL) || ' ' ||
                    (SELECT count(*) FROM ctw_v d JOIN ctw_v_stage_history h ON h.deal_id = d.id AND h.left_at IS NULL AND h.stage = d.stage)")" "82 60 60"

# 2. the attacker on the worker of the shard of the history deal 1 is in
shard=$(coord "SELECT shard_name('ctw_v_stage_history', get_shard_id_for_distribution_column('ctw_v_stage_history', 1))")
port=$(coord "SELECT nodeport FROM pg_dist_shard_placement
               WHERE shardid = get_shard_id_for_distribution_column('ctw_v_stage_history', 1)")
own=$(coord "SELECT shard_name('ctw_a', get_shard_id_for_distribution_column('ctw_a', 1))")
digest="SELECT md5(string_agg(format('%s|%s|%s|%s|%s', deal_id, stage, entered_at, left_at, entered_by), ','
                              ORDER BY deal_id, entered_at)) FROM ctw_v_stage_history"
before=$(coord "$digest")
for sql in "INSERT INTO $shard VALUES (1, 'lead', now(), NULL, 'x')" \
           "UPDATE $shard SET left_at = now()" \
           "DELETE FROM $shard" \
           "SET citus.enable_manual_changes_to_shards = on; TRUNCATE $shard" \
           "INSERT INTO ctw_v_stage_history VALUES (1, 'lead', now(), NULL, 'x')"; do
    like "the attacker on the worker: $sql" "$(as ctw_attacker "$port" -c "$sql")" "ERROR:  42501: permission denied for table ctw_v_stage_history*"
done
out=$(as ctw_attacker "$port" \
    -c "SET citus.enable_unsafe_triggers = on" \
    -c "CREATE TRIGGER forged AFTER INSERT ON $own REFERENCING NEW TABLE AS funnel_new_deals FOR EACH STATEMENT
        EXECUTE FUNCTION funnel_internal.track_insert('citus', 'deals=public.ctw_a', 'history=public.$shard', 'pipeline=ctw_sales', 'stage_column=stage', 'rule=any', 'key_column=id')" \
    -c "INSERT INTO $own VALUES (1, 'lead')")
like "a trigger on the attacker's shard naming the victim's history shard" "$out" \
     "ERROR:  55000: tables \"public.ctw_a\" and \"public.$shard\" of a funnel trigger of \"$own\" are not both distributed*"
out=$(as ctw_attacker "$port" \
    -c "DROP TRIGGER forged ON $own" \
    -c "SET citus.enable_unsafe_triggers = on" \
    -c "CREATE TRIGGER forged AFTER INSERT ON $own REFERENCING NEW TABLE AS funnel_new_deals FOR EACH STATEMENT
        EXECUTE FUNCTION funnel_internal.track_insert('citus', 'deals=public.ctw_a', 'history=public.ctw_v_stage_history', 'pipeline=ctw_sales', 'stage_column=stage', 'rule=any', 'key_column=id')" \
    -c "INSERT INTO $own VALUES (1, 'lead')")
like "a trigger on the attacker's shard naming the victim's history" "$out" \
     "ERROR:  42501: history table \"$shard\" is not owned by the owner of tracked table \"$own\"*"
# the refusal comes before any lock on the victim's history: with the
# victim holding it in SHARE mode, the forged write fails at once with 42501,
# not after waiting for a lock on a table the attacker may not even write
psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d $db \
     -c "BEGIN" -c "SET LOCAL citus.enable_manual_changes_to_shards = on" -c "LOCK TABLE $shard IN SHARE MODE" -c "SELECT pg_sleep(6)" -c "COMMIT" >/dev/null 2>&1 &
locker=$!
sleep 1
out=$(as ctw_attacker "$port" -c "SET lock_timeout = '3s'" -c "INSERT INTO $own VALUES (1, 'lead')")
wait $locker
like "the forged write is refused without waiting for the victim's lock" "$out" \
     "ERROR:  42501: history table \"$shard\" is not owned by the owner of tracked table \"$own\"*"
is "no row in the attacker's table" "$(coord "SELECT count(*) FROM ctw_a")" "0"
is "the victim's history byte for byte unchanged" "$(coord "$digest")" "$before"
exit 0
