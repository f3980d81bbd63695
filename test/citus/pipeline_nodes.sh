#!/bin/sh
# test/citus/pipeline_nodes.sh: nodes that join later get the pipelines
# (issue 11.1).  Run by test/citus/run.sh with CITUS_HOST, COORD_PORT,
# WORKER1_PORT and WORKER2_PORT set.  Citus keeps its cluster metadata per
# database, so this test builds its own cluster in database funnel_nodes on
# the same three servers: pipelines are created on a coordinator without
# workers, then worker 1 joins, then worker 2 (which already has one
# pipeline's enum type, as Citus would have copied it), then worker 2 is
# disabled and activated again.  Exits non-zero on the first failure.
set -u
db=funnel_nodes
fail() { echo "not ok - $1"; echo "#   have: $2"; echo "#   want: $3"; exit 1; }
node() { port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$port" -U postgres -d $db "$@"; }
coord() { node "$COORD_PORT" -c "$1" 2>&1 | sed "/^$/d"; }
# is NAME ACTUAL EXPECTED
is() { [ "$2" = "$3" ] || fail "$1" "$2" "$3"; echo "# ok: $1"; }
# like NAME ACTUAL PATTERN (shell glob)
like() { case "$2" in $3) echo "# ok: $1" ;; *) fail "$1" "$2" "$3" ;; esac; }

cleanup() {
    for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
        psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
}
trap cleanup EXIT
cleanup
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null &&
        node "$port" -c 'CREATE EXTENSION citus' || fail "set-up on port $port" "error" "database with citus"
done

# every stage of every pipeline through the accessors, then the allowed
# moves and required fields, on one node
probe="SELECT string_agg(format('%s|%s|%s|%s|%s|%s', funnel.stage_name(s), funnel.position(s), funnel.probability(s),
                                funnel.kind(s), funnel.stale_after(s), r), ',' ORDER BY s)
              || ' / ' || coalesce((SELECT string_agg(format('%s:%s>%s', pipeline, from_stage, to_stage), ','
                                                      ORDER BY pipeline, from_stage, to_stage)
                                      FROM funnel.allowed_transition), '')
              || ' / ' || coalesce((SELECT string_agg(format('%s:%s=%s', pipeline, stage, fields), ','
                                                      ORDER BY pipeline, stage)
                                      FROM funnel.required_field), '')
         FROM (SELECT (pipeline || ':' || stage)::funnel.deal_stage AS s, retired AS r FROM funnel.stages) x"
# probe on each given worker port: none when all equal the coordinator's
differs() {
    want=$(coord "$probe")
    for port in "$@"; do
        have=$(node "$port" -c "$probe" 2>&1)
        [ "$have" = "$want" ] || { echo "$port: $have (coordinator: $want)"; return; }
    done
    echo none
}

# 1. a coordinator without workers: local only, no Citus object made
coord "SELECT citus_set_coordinator_host('$CITUS_HOST', $COORD_PORT)" >/dev/null
out=$(coord "CREATE EXTENSION funnel;
             SELECT funnel.create_pipeline('n_sales', ARRAY['lead', 'demo'], ARRAY[0.2, 0.4]);
             SELECT funnel.set_stale_after('n_sales', 'lead', '3 days');
             SELECT funnel.create_pipeline('n_other', ARRAY['a', 'b'], lost => ARRAY['x', 'y']);
             SELECT funnel.retire_stage('n_other', 'y');
             SELECT funnel.allow_transition('n_other', 'x', 'a');
             SELECT funnel.require_fields('n_sales', 'demo', ARRAY['amount', 'owner']);
             SELECT to_regclass('funnel_citus.pipeline_log') IS NULL")
is "no worker: pipelines made locally, no pipeline log" "$out" "t"

# 2. worker 1 joins: check_pipeline_nodes() names it, sync gives it the pipelines
coord "SELECT citus_add_node('$CITUS_HOST', $WORKER1_PORT)" >/dev/null
out=$(coord "SELECT string_agg(format('%s %s %s', node, pipeline, difference), '; ' ORDER BY pipeline)
               FROM funnel.check_pipeline_nodes()")
is "check_pipeline_nodes() after worker 1 joined" "$out" \
   "$CITUS_HOST:$WORKER1_PORT n_other pipeline missing on the node; $CITUS_HOST:$WORKER1_PORT n_sales pipeline missing on the node"
is "sync_pipeline_nodes() returns the number of workers" "$(coord 'SELECT funnel.sync_pipeline_nodes()')" "1"
is "worker 1 has the pipelines" "$(differs "$WORKER1_PORT")" "none"
is "worker 1 has the allowed move and the required fields made before it joined" \
   "$(node "$WORKER1_PORT" -c "SELECT string_agg(x, ' ') FROM (SELECT from_stage || '>' || to_stage AS x FROM funnel.allowed_transition
                                                            UNION ALL SELECT stage || '=' || fields::text FROM funnel.required_field) y")" \
   "x>a demo={amount,owner}"
is "check_pipeline_nodes() empty" "$(coord 'SELECT count(*) FROM funnel.check_pipeline_nodes()')" "0"

# 3. worker 2 joins with one enum type already there: changes are refused,
#    naming it, until sync
coord "SELECT citus_add_node('$CITUS_HOST', $WORKER2_PORT)" >/dev/null
node "$WORKER2_PORT" -c "SET citus.enable_ddl_propagation = off" \
     -c "CREATE TYPE funnel_pipeline.n_sales AS ENUM ('lead', 'demo', 'won', 'lost')" >/dev/null
out=$(coord "SELECT funnel.set_probability('n_sales', 'lead', 0.25)")
like "a change while worker 2 lacks the log is refused, naming it" "$out" \
     "*ERROR:  funnel.set_probability() cannot change every node: Citus node $CITUS_HOST:$WORKER2_PORT has no copy of funnel_citus.pipeline_log yet*funnel.sync_pipeline_nodes()*"
is "the refused change changed no node" "$(node "$WORKER1_PORT" -c "SELECT funnel.probability('n_sales:lead')")" "0.2"
is "sync_pipeline_nodes() with two workers" "$(coord 'SELECT funnel.sync_pipeline_nodes()')" "2"
is "worker 2 has the pipelines (one of them was already an enum type there), allowed moves and required fields" \
   "$(differs "$WORKER1_PORT" "$WORKER2_PORT")" "none"
is "check_pipeline_nodes() empty with worker 2" "$(coord 'SELECT count(*) FROM funnel.check_pipeline_nodes()')" "0"

# 4. later changes reach both
coord "SELECT funnel.add_stage('n_sales', 'trial', after => 'lead');
       SELECT funnel.rename_stage('n_sales', 'trial', 'pilot');
       SELECT funnel.set_probability('n_sales', 'lead', 0.25);
       SELECT funnel.allow_transition('n_sales', 'lost', 'pilot');
       SELECT funnel.disallow_transition('n_other', 'x', 'a');
       SELECT funnel.require_fields('n_sales', 'demo', NULL);
       SELECT funnel.require_fields('n_sales', 'pilot', ARRAY['owner'])" >/dev/null
is "add_stage, rename_stage, set_probability and the rule functions reach both workers" "$(differs "$WORKER1_PORT" "$WORKER2_PORT")" "none"
is "worker 2: the allowed move and the required fields" \
   "$(node "$WORKER2_PORT" -c "SELECT string_agg(x, ' ') FROM (SELECT from_stage || '>' || to_stage AS x FROM funnel.allowed_transition
                                                            UNION ALL SELECT stage || '=' || fields::text FROM funnel.required_field) y")" \
   "lost>pilot pilot={owner}"
is "worker 2: the added and renamed stage" "$(node "$WORKER2_PORT" -c "SELECT funnel.position('n_sales:pilot')")" "2"

# 5. an inactive worker: refused, naming it; after activation, sync
coord "SELECT citus_disable_node('$CITUS_HOST', $WORKER2_PORT, synchronous => true)" >/dev/null
out=$(coord "SELECT funnel.retire_stage('n_sales', 'demo')")
like "a change while worker 2 is inactive is refused, naming it" "$out" \
     "*ERROR:  funnel.retire_stage() cannot change every node: Citus node $CITUS_HOST:$WORKER2_PORT is inactive*"
coord "SELECT citus_activate_node('$CITUS_HOST', $WORKER2_PORT)" >/dev/null
is "sync after activation" "$(coord 'SELECT funnel.sync_pipeline_nodes()')" "2"
coord "SELECT funnel.retire_stage('n_sales', 'demo')" >/dev/null
is "retire_stage reaches the re-activated worker" "$(node "$WORKER2_PORT" -c "SELECT retired FROM funnel.stages WHERE stage = 'demo'")" "t"
is "all nodes agree at the end" "$(differs "$WORKER1_PORT" "$WORKER2_PORT")" "none"
is "check_pipeline_nodes() empty at the end" "$(coord 'SELECT count(*) FROM funnel.check_pipeline_nodes()')" "0"
exit 0
