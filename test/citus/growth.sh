#!/bin/sh
# test/citus/growth.sh: scale-out day two (issue 22): a tracked distributed
# table with history, then a third worker joins (citus_add_node must work
# although tables have funnel.deal_stage(pipeline) columns), a rebalance in
# Citus's default mode (online moves by logical replication) runs while
# two sessions move deals, the shard count changes
# (alter_distributed_table), and undistribute_table is refused with a hint
# whose procedure is then followed.  After each step every history
# invariant (funnel.check_history), the visit count (one visit per deal
# plus one per successful move) and funnel.check_pipeline_nodes() must hold.
# Run by test/citus/run.sh with CITUS_HOST, COORD_PORT, WORKER1_PORT,
# WORKER2_PORT and CITUS_DIR set; it builds its own Citus cluster in database
# funnel_growth on those servers plus a fourth server it starts
# (test/citus/cluster.sh add).  Exits non-zero on the first failure.
set -u
db=funnel_growth
deals=200
fail() { echo "not ok - $1"; echo "#   have: $2"; echo "#   want: $3"; exit 1; }
node() { port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$port" -U postgres -d $db "$@"; }
coord() { node "$COORD_PORT" -c "$1" 2>&1 | sed "/^$/d"; }
is() { [ "$2" = "$3" ] || fail "$1" "$2" "$3"; echo "# ok: $1"; }
like() { case "$2" in $3) echo "# ok: $1" ;; *) fail "$1" "$2" "$3" ;; esac; }

ports="$COORD_PORT $WORKER1_PORT $WORKER2_PORT"
work=
cleanup() {
    for port in $ports; do
        psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
    [ -z "$work" ] || rm -rf "$work"
}
trap cleanup EXIT
cleanup
work=$(mktemp -d /tmp/funnel-growth.XXXXXX)
for port in $ports; do
    psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null &&
        node "$port" -c 'CREATE EXTENSION citus' || fail "set-up on port $port" "error" "database with citus"
done
node "$COORD_PORT" >/dev/null <<SQL || fail "cluster and tracked table" "error" "set up"
SELECT citus_set_coordinator_host('$CITUS_HOST', $COORD_PORT);
SELECT citus_add_node('$CITUS_HOST', $WORKER1_PORT);
SELECT citus_add_node('$CITUS_HOST', $WORKER2_PORT);
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('g_sales', ARRAY['lead', 'qualified', 'proposal']);
CREATE TABLE g_deals (id bigint PRIMARY KEY, stage funnel.deal_stage(g_sales) NOT NULL, amount numeric);
SELECT create_distributed_table('g_deals', 'id', shard_count => 6);
SELECT funnel.track('g_deals', 'g_sales', rule => 'any');
INSERT INTO g_deals SELECT g, 'lead', g FROM generate_series(1, $deals) g;
UPDATE g_deals SET stage = 'qualified' WHERE id % 4 = 0;
SQL
moves=$((deals / 4))
# the next stage, round the open ones: every such UPDATE is a move
cycle="CASE WHEN stage = 'lead' THEN 'qualified' WHEN stage = 'qualified' THEN 'proposal' ELSE 'lead' END::funnel.deal_stage(g_sales)"

# every invariant, and one visit per deal plus one per move
check() {
    is "$1: check_history" "$(coord "SELECT count(*) FROM funnel.check_history('g_deals')")" 0
    is "$1: visits" "$(coord "SELECT count(*) FROM g_deals_stage_history")" $((deals + moves))
    is "$1: one open visit per deal, at its stage" \
        "$(coord "SELECT count(*) FROM g_deals d JOIN g_deals_stage_history h ON h.deal_id = d.id AND h.left_at IS NULL AND h.stage = d.stage")" \
        "$deals"
    is "$1: check_pipeline_nodes" "$(coord "SELECT count(*) FROM funnel.check_pipeline_nodes()")" 0
}
check "before growth"

# 1. a third worker joins: Citus creates the pipeline's enum type on it
# before the shell tables that use it, funnel gives it the attributes
port3=$(test/citus/cluster.sh add "$CITUS_DIR" worker3) || fail "third server" "not started" "started"
ports="$ports $port3"
psql -X -q -h "$CITUS_HOST" -p "$port3" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null &&
    node "$port3" -c 'CREATE EXTENSION citus' || fail "set-up on port $port3" "error" "database with citus"
like "citus_add_node with a deal_stage(pipeline) column" \
    "$(coord "SELECT citus_add_node('$CITUS_HOST', $port3)")" '[0-9]*'
is "sync_pipeline_nodes() reaches the three workers" "$(coord "SELECT funnel.sync_pipeline_nodes()")" 3
is "the new node has the pipeline with its attributes" \
    "$(node "$port3" -c "SELECT string_agg(funnel.stage_name(s) || '=' || funnel.probability(s), ',' ORDER BY s) FROM unnest(enum_range(NULL::funnel_pipeline.g_sales)::text[]) u, LATERAL (SELECT ('g_sales:' || u)::funnel.deal_stage AS s) x")" \
    "$(coord "SELECT string_agg(funnel.stage_name(s) || '=' || funnel.probability(s), ',' ORDER BY s) FROM unnest(enum_range(NULL::funnel_pipeline.g_sales)::text[]) u, LATERAL (SELECT ('g_sales:' || u)::funnel.deal_stage AS s) x")"
check "third worker added"

# 2. rebalance in the default mode while two sessions move deals, each its
# own half, one move per transaction, until the rebalance is over
writer() {
    first=$1 last=$2 out=$3
    n=0
    : >"$out.moves"
    while [ ! -e "$work/stop" ]; do
        {
            i=0
            while [ $i -lt 20 ]; do
                id=$((first + (n * 7 + i * 13) % (last - first + 1)))
                echo "UPDATE g_deals SET stage = $cycle WHERE id = $id RETURNING 'moved';"
                i=$((i + 1))
            done
        } | node "$COORD_PORT" -v ON_ERROR_STOP=1 >>"$out.moves" 2>>"$out.err" || { echo failed >>"$out.err"; return 1; }
        n=$((n + 1))
    done
}
writer 1 $((deals / 2)) "$work/w1" & w1=$!
writer $((deals / 2 + 1)) $deals "$work/w2" & w2=$!
sleep 1
rebalance=$(node "$COORD_PORT" -c "SELECT citus_rebalance_start()" -c "SELECT citus_rebalance_wait()" 2>&1)
touch "$work/stop"
wait $w1; s1=$?
wait $w2; s2=$?
is "rebalance in the default mode" "$(echo "$rebalance" | grep -ci error)" 0
is "no writer saw an error" "$s1 $s2 $(cat "$work"/w1.err "$work"/w2.err)" "0 0 "
done_moves=$(cat "$work"/w1.moves "$work"/w2.moves | grep -c '^moved$')
like "the writers moved deals during the rebalance" "$done_moves" '[1-9]*'
moves=$((moves + done_moves))
like "shards moved to the new worker" \
    "$(coord "SELECT count(*) FROM citus_shards WHERE table_name = 'g_deals'::regclass AND nodeport = $port3")" '[1-9]*'
is "moves by logical replication (default mode)" \
    "$(coord "SELECT count(*) FROM pg_dist_background_task WHERE command LIKE '%citus_move_shard_placement%' AND command NOT LIKE '%block_writes%' AND status = 'done'")" \
    "$(coord "SELECT count(*) FROM pg_dist_background_task WHERE command LIKE '%citus_move_shard_placement%'")"
check "after the rebalance"

# 3. another shard count: the tracking follows the rebuilt tables (in a
# session with standard_conforming_strings off: funnel's event trigger
# that lets Citus re-create the tracking triggers reads the same there)
(PGOPTIONS="-c standard_conforming_strings=off"; export PGOPTIONS
 coord "SELECT alter_distributed_table('g_deals', shard_count => 4, cascade_to_colocated => true)") >/dev/null ||
    fail "alter_distributed_table" "error" "done"
is "still tracked, with its history" \
    "$(coord "SELECT deals::text || ' ' || history::text FROM funnel.tracked_table")" "g_deals g_deals_stage_history"
is "shard count of both tables" \
    "$(coord "SELECT string_agg(shard_count::text, ',') FROM citus_tables WHERE table_name IN ('g_deals'::regclass, 'g_deals_stage_history'::regclass)")" "4,4"
is "a move after the new shard count" \
    "$(coord "UPDATE g_deals SET stage = $cycle WHERE id = 1 RETURNING 'moved'")" moved
moves=$((moves + 1))
check "after alter_distributed_table"

# 4. undistribute_table: refused, nothing changed, and the hint's way works
out=$(node "$COORD_PORT" -v VERBOSITY=verbose -c "SELECT undistribute_table('g_deals')" 2>&1)
like "undistribute_table refused" "$out" "*ERROR:  0A000: tracked table public.g_deals cannot stop being hash-distributed*HINT:  To make it local: SELECT funnel.untrack('public.g_deals')*"
out=$(node "$COORD_PORT" -v VERBOSITY=verbose -c "SELECT undistribute_table('g_deals_stage_history')" 2>&1)
like "undistribute_table of the history refused" "$out" "*ERROR:  0A000: history table public.g_deals_stage_history of tracked table public.g_deals cannot stop being hash-distributed*"
is "still distributed" "$(coord "SELECT count(*) FROM citus_tables WHERE table_name IN ('g_deals'::regclass, 'g_deals_stage_history'::regclass)")" 2
check "after the refused undistribute_table"
node "$COORD_PORT" >/dev/null <<SQL || fail "the hint's way to a local table" "error" "done"
SET client_min_messages = warning;
SELECT funnel.untrack('g_deals');
SELECT undistribute_table('g_deals');
SELECT undistribute_table('g_deals_stage_history');
ALTER TABLE g_deals_stage_history RENAME TO g_deals_old_history;
SELECT funnel.track('g_deals', 'g_sales', rule => 'any');
BEGIN;
DELETE FROM g_deals_stage_history;
INSERT INTO g_deals_stage_history SELECT * FROM g_deals_old_history;
COMMIT;
DROP TABLE g_deals_old_history;
SQL
is "local again" "$(coord "SELECT count(*) FROM citus_tables WHERE table_name IN ('g_deals'::regclass, 'g_deals_stage_history'::regclass)")" 0
is "a move on the local table" "$(coord "UPDATE g_deals SET stage = $cycle WHERE id = 2 RETURNING 'moved'")" moved
moves=$((moves + 1))
check "after undistributing"
exit 0
