#!/bin/sh
# test/shell/pipeline_ddl_concurrency.sh: pipeline DDL while others aggregate.
#   One pgbench client changes the pipeline in a loop (add_stage, rename_stage
#   back and forth, retire_stage on and off, set_probability); 6 clients run
#   the aggregates and accessors that read stage attributes (kind,
#   probability, retired) from each backend's pipeline cache.  Every backend
#   rebuilds its cache many times while the DDL commits.  Asserts that no
#   client gets an error (before the fix: spurious 55000 "stage ... has no
#   attributes" when a rebuild read pg_enum and funnel.pipeline_stage at
#   different instants) and that the work was actually done.
set -eu
DB=funnel_pipeline_ddl_conc
SECONDS_RUN=${PIPELINE_DDL_SECONDS:-15}
WORK=$(mktemp -d /tmp/funnel-ddl.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export PGOPTIONS='-c search_path=public,funnel'
fail() { echo "pipeline_ddl_concurrency: FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
$P <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
CREATE TABLE deals (id int PRIMARY KEY, amount numeric NOT NULL,
                    stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO deals
SELECT g, g, (ARRAY['lead','qualified','proposal','negotiation','won','lost'])[1 + g % 6]
  FROM generate_series(1, 3000) g;
CREATE TABLE ddl_rounds (n int);
INSERT INTO ddl_rounds VALUES (0);
SQL

# E'b2b\072x' is 'b2b:x': pgbench takes a colon in a literal for a variable
cat > "$WORK/ddl.sql" <<'EOF2'
\set r random(1, 1000000000)
BEGIN;
SELECT funnel.add_stage('b2b', 'extra ' || :r, after => 'qualified');
COMMIT;
SELECT funnel.rename_stage('b2b', 'proposal', 'offer');
SELECT funnel.rename_stage('b2b', 'offer', 'proposal');
SELECT funnel.retire_stage('b2b', 'negotiation');
SELECT funnel.retire_stage('b2b', 'negotiation', false);
SELECT funnel.set_probability('b2b', 'lead', round((random() * 0.2)::numeric, 6));
UPDATE ddl_rounds SET n = n + 1;
EOF2
cat > "$WORK/aggregate.sql" <<'EOF2'
SELECT funnel.weighted_forecast(amount, stage), funnel.win_rate(stage),
       funnel.report(funnel.funnel(stage, amount)) IS NOT NULL
  FROM deals;
SELECT count(*) FROM deals WHERE funnel.kind(stage) = 'open' AND funnel.probability(stage) >= 0;
EOF2

pgbench -n -T "$SECONDS_RUN" -c 1 -f "$WORK/ddl.sql" "$DB" > "$WORK/ddl.out" 2>&1 &
ddl=$!
pgbench -n -T "$SECONDS_RUN" -c 6 -j 6 -f "$WORK/aggregate.sql" "$DB" > "$WORK/agg.out" 2>&1 || true
wait $ddl || true
for f in ddl agg; do
    grep -E "ERROR|processed" "$WORK/$f.out" | sed 's/^pgbench: error: client [0-9]* /  /' | sort | uniq -c | head -10
done
errors=$(cat "$WORK/ddl.out" "$WORK/agg.out" | grep -c "ERROR" || true)
[ "$errors" -eq 0 ] || fail "$errors errors while pipeline DDL ran"
for f in ddl agg; do
    grep -q "number of transactions actually processed" "$WORK/$f.out" || { cat "$WORK/$f.out"; fail "pgbench ($f) did not finish"; }
done
rounds=$($P -c "SELECT n FROM ddl_rounds")
stages=$($P -c "SELECT count(*) FROM funnel.stages WHERE pipeline = 'b2b'")
echo "pipeline DDL rounds: $rounds, stages now: $stages"
[ "$rounds" -ge 5 ] || fail "only $rounds DDL rounds ran"
[ "$stages" -eq $((rounds + 6)) ] || fail "expected $((rounds + 6)) stages, found $stages"
$P -c "SELECT funnel.kind(stage), count(*) FROM deals GROUP BY 1 ORDER BY 1" > "$WORK/kinds.out"
grep -qx "open|2000" "$WORK/kinds.out" || { cat "$WORK/kinds.out"; fail "aggregates read wrong kinds"; }
psql -X -q -d postgres -c "DROP DATABASE $DB"
echo "ok: pipeline DDL under concurrent aggregation"
