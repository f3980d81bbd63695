#!/bin/sh
# bench/citus_bench.sh: funnel aggregates on a Citus distributed table vs the
# same query on a local table (issue 11.5), and the rows each query ships to
# the coordinator.  Run by hand (not in make test, not in make bench: it
# starts its own 3-node cluster with test/citus/cluster.sh and needs Citus):
#
#   sh bench/citus_bench.sh            (as root or as the postgres user)
#
# Data: the Maven CRM history of test/citus/aggregates.sql (15,511 visits of
# 8,800 deals) copied BENCH_COPIES times (default 80: 1.24M visits, 704k
# deals; copy k renames deal d to d-k) into visits_local (a plain table on the
# coordinator) and visits (hash-distributed by deal_id, 32 shards on 2
# workers), vacuumed and analyzed.  Each figure is the median of BENCH_REPS
# runs (psql \timing, wall clock, one session per table and query).  Rows
# shipped: what the 32 shard queries of the distributed plan return (see
# shipped() below).  BENCH_PORT (default 28100) is the
# first port tried; BENCH_KEEP=1 leaves the cluster running (its directory is
# printed).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
COPIES=${BENCH_COPIES:-80}
REPS=${BENCH_REPS:-5}
PORT=${BENCH_PORT:-28100}

if ! test/citus/cluster.sh available; then
    echo "citus_bench: skipped, Citus is not installed for $(${PG_CONFIG:-pg_config} --version)"
    exit 0
fi
dir=$(mktemp -d /tmp/funnel-citus-bench.XXXXXX)
if [ "${BENCH_KEEP:-0}" = 1 ]; then
    trap 'echo "cluster kept in $dir (test/citus/cluster.sh stop $dir)"' EXIT
else
    trap 'test/citus/cluster.sh stop "$dir"' EXIT INT TERM
fi
test/citus/cluster.sh start "$dir" "$PORT" >/dev/null
. "$dir/env"
unset PGHOST PGPORT PGDATABASE PGPASSWORD PGOPTIONS
export PGUSER=postgres PGHOST=$CITUS_HOST PGPORT=$COORD_PORT
DB=funnel_bench
PSQL="psql -X -q -At -v ON_ERROR_STOP=1"

for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    $PSQL -p "$port" -d postgres -c "CREATE DATABASE $DB"
    $PSQL -p "$port" -d $DB -c 'CREATE EXTENSION citus'
done
echo "== cluster: coordinator $COORD_PORT, workers $WORKER1_PORT $WORKER2_PORT; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
$PSQL -d $DB >/dev/null <<SQL
SET client_min_messages = warning;
SELECT citus_set_coordinator_host('$CITUS_HOST', $COORD_PORT);
SELECT citus_add_node('$CITUS_HOST', $WORKER1_PORT);
SELECT citus_add_node('$CITUS_HOST', $WORKER2_PORT);
CREATE EXTENSION funnel;
SET TimeZone = 'UTC';
-- on the coordinator: reaches every node (funnel_citus.pipeline_log)
SELECT funnel.create_pipeline('maven_citus', ARRAY['Prospecting', 'Engaging'], ARRAY[0.1, 0.4],
                              won => ARRAY['Won'], lost => ARRAY['Lost']);
\\i test/citus/fixtures/maven_visits.sql
CREATE TABLE visits_local (deal_id text NOT NULL, owner text NOT NULL, product text NOT NULL,
                           stage funnel.deal_stage(maven_citus) NOT NULL,
                           entered_at timestamptz NOT NULL, left_at timestamptz, amount numeric(12,2));
INSERT INTO visits_local
SELECT deal || '-' || k, owner, product, stage, entered_at, left_at, amount
  FROM maven_visits, generate_series(1, $COPIES) k;
CREATE TABLE visits (LIKE visits_local);
SET citus.shard_count = 32;
SELECT create_distributed_table('visits', 'deal_id');
INSERT INTO visits SELECT * FROM visits_local;
VACUUM ANALYZE visits_local;
VACUUM ANALYZE visits;
SQL
$PSQL -d $DB -c "SELECT format('== %s visits of %s deals (%s closed), local %s, distributed %s (32 shards), built in %s s',
                     count(*), count(DISTINCT deal_id), count(left_at),
                     pg_size_pretty(pg_total_relation_size('visits_local')),
                     pg_size_pretty(citus_total_relation_size('visits')), $(date +%s) - $start)
                   FROM visits_local"

# Rows shipped to the coordinator: EXPLAIN ANALYZE would show them, but in
# Citus 13.2.2 it fails for any query whose shard queries return
# worker_partial_agg(...) (citusdata/citus#4043: 'column "field_0" has
# pseudo-type cstring').  So: EXPLAIN VERBOSE with every task shown, then run
# each task's query on the workers (it fails on the worker without the
# shard) and count its rows and the bytes of their text form.
$PSQL -d $DB <<'SQL'
CREATE FUNCTION shipped(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
    task text;
    res text;
    nrows bigint := 0;
    nbytes bigint := 0;
BEGIN
    PERFORM set_config('citus.explain_all_tasks', 'on', true);
    EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) ' || q INTO plan;
    FOR task IN SELECT n ->> 'Query' FROM jsonb_path_query(plan, 'strict $.**') n
                 WHERE jsonb_typeof(n) = 'object' AND n ? 'Query' AND n ? 'Node' LOOP
        SELECT string_agg(result, ' ') INTO res
          FROM run_command_on_workers(format('SELECT count(*) || '' '' || coalesce(sum(octet_length(x::text)), 0) FROM (%s) x', task))
         WHERE success;
        nrows := nrows + split_part(res, ' ', 1)::bigint;
        nbytes := nbytes + split_part(res, ' ', 2)::bigint;
    END LOOP;
    RETURN format('%s rows, %s', nrows, pg_size_pretty(nbytes));
END $$;
SQL

# label | query (%s = the table)
queries='count(*) (floor)|SELECT count(*) FROM %s
funnel(stage, amount), current visits|SELECT funnel.funnel(stage, amount) FROM %s WHERE left_at IS NULL
funnel(journey, amount) + report, per-deal journeys|SELECT count(*) FROM funnel.report((SELECT funnel.funnel(j, a) FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j, max(amount) AS a FROM %s GROUP BY deal_id) d))
weighted_forecast(amount, stage), current visits|SELECT funnel.weighted_forecast(amount, stage) FROM %s WHERE left_at IS NULL
median_time_in_stage, all visits|SELECT funnel.median_time_in_stage(entered_at, left_at) FROM %s
median_time_in_stage per stage|SELECT stage, funnel.median_time_in_stage(entered_at, left_at) FROM %s GROUP BY stage'

echo
echo "| query | local ms | distributed ms | distributed / local | rows shipped to the coordinator |"
echo "|---|---:|---:|---:|---|"
echo "$queries" | while IFS='|' read -r label q; do
    local_q=$(printf "$q" visits_local)
    dist_q=$(printf "$q" visits)
    same=$($PSQL -d $DB -c "SELECT (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM ($local_q) x)
                                   = (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM ($dist_q) x)")
    [ "$same" = t ] || echo "citus_bench: $label: the distributed result differs from the local one" >&2
    l=$(median_ms $DB "$REPS" "$local_q;")
    d=$(median_ms $DB "$REPS" "$dist_q;")
    s=$($PSQL -d $DB -c "SELECT shipped(\$q\$$dist_q\$q\$)")
    echo "| $label | $l | $d | $(ratio "$d" "$l") | $s |"
done
