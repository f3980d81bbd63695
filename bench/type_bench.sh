#!/bin/sh
# bench/type_bench.sh: ORDER BY over 1M deal_stage values vs the same over a
# native enum with the same stages, side by side in one run (run by make bench
# inside a throw-away cluster).  Two layouts: stages as created (even OIDs,
# compared without any lookup) and with stages inserted between others (odd
# OIDs, ranked through the pipeline cache), the same for the enum.
set -eu
. "$(dirname "$0")/lib.sh"
db=funnel_bench_type
reps=${BENCH_REPS:-7}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d $db <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']);
CREATE TYPE stage_enum AS ENUM ('lead','qualified','proposal','negotiation','won','lost');
CREATE TABLE t_stage AS
  SELECT ('b2b:' || (ARRAY['lead','qualified','proposal','negotiation','won','lost'])[1 + floor(random() * 6)::int])::funnel.deal_stage AS s
  FROM generate_series(1, 1000000);
CREATE TABLE t_enum AS SELECT funnel.stage_name(s)::stage_enum AS s FROM t_stage;
-- the same data with stages inserted between others (odd OIDs)
SELECT funnel.add_stage('b2b', 'demo', after => 'qualified');
SELECT funnel.add_stage('b2b', 'contract', before => 'won');
ALTER TYPE stage_enum ADD VALUE 'demo' AFTER 'qualified';
ALTER TYPE stage_enum ADD VALUE 'contract' BEFORE 'won';
SQL
psql -X -q -v ON_ERROR_STOP=1 -d $db <<'SQL'
CREATE TABLE t_stage_odd AS
  SELECT CASE WHEN random() < 0.3 THEN (ARRAY['b2b:demo','b2b:contract'])[1 + (random() > 0.5)::int]::funnel.deal_stage ELSE s END AS s
  FROM t_stage;
CREATE TABLE t_enum_odd AS SELECT funnel.stage_name(s)::stage_enum AS s FROM t_stage_odd;
VACUUM ANALYZE;
SQL
export PGOPTIONS="-c max_parallel_workers_per_gather=0 -c work_mem=512MB"
q() { echo "SELECT s FROM $1 ORDER BY s OFFSET 999999;"; }
psql -X -q -d $db -c "$(q t_stage)" -c "$(q t_enum)" >/dev/null   # warm up
cnt=$(median_ms $db "$reps" "SELECT count(*) FROM t_stage;")
ds=$(median_ms $db "$reps" "$(q t_stage)")
en=$(median_ms $db "$reps" "$(q t_enum)")
ds_odd=$(median_ms $db "$reps" "$(q t_stage_odd)")
en_odd=$(median_ms $db "$reps" "$(q t_enum_odd)")
echo
echo "ORDER BY over 1M values, median of $reps runs, one session, no parallel workers"
printf '%-44s %10s %8s\n' "query" "ms" "ratio"
printf '%-44s %10s %8s\n' "count(*) (floor: scan only)" "$cnt" ""
printf '%-44s %10s %8s\n' "native enum, stages as created" "$en" "1.00"
printf '%-44s %10s %8s\n' "deal_stage, stages as created" "$ds" "$(ratio "$ds" "$en")"
printf '%-44s %10s %8s\n' "native enum, 30% inserted stages (odd OIDs)" "$en_odd" "1.00"
printf '%-44s %10s %8s\n' "deal_stage, 30% inserted stages (odd OIDs)" "$ds_odd" "$(ratio "$ds_odd" "$en_odd")"
psql -X -q -d postgres -c "DROP DATABASE $db"
