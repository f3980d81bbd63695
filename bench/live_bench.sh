#!/bin/sh
# bench/live_bench.sh: live summaries (issue 23), measured side by side.
#
#   (a) writes: pgbench -M prepared, 2 clients, random single-deal stage
#       moves on 100k deals of a table tracked by funnel.track(), WITHOUT
#       and WITH live summaries (dimension owner, amount), in alternating
#       rounds; medians (target: with / without >= 0.85).
#   (b) reads on a history of BENCH_LIVE_VISITS (default 5M) visits: the
#       report, the weighted forecast, the win rate, a conversion, the
#       median and the 90th percentile of time in stage, each for a period
#       range (a quarter of entry days) and for one dimension value (an
#       owner), from the live summaries (median of BENCH_REPS) and from the
#       scan-based aggregates over the history and the deals (once; their
#       answers must equal the live ones), and the same questions in an
#       in-memory DuckDB over the same rows (min of 3).  Targets: live
#       <= 10 ms and >= 10x faster than DuckDB.  DuckDB comes from npm
#       (@duckdb/node-api, cached under build/duckdb); without the registry
#       its column says why it is missing.
#
# Runs in the cluster given by PG* variables, or in a throw-away cluster
# (pg_virtualenv) when PGPORT is not set.  Needs the extension installed.
# BENCH_SECONDS (default 6) per pgbench run, BENCH_ROUNDS (default 5);
# BENCH_LIVE_READS=0 runs part (a) only.
set -eu
if [ -z "${PGPORT:-}" ]; then
    exec pg_virtualenv -v "${PG_MAJOR:-15}" -o 'shared_buffers=1GB' -o 'max_wal_size=4GB' sh "$0" "$@"
fi
cd "$(dirname "$0")/.."
. bench/lib.sh
SECONDS_PER_RUN=${BENCH_SECONDS:-6}
ROUNDS=${BENCH_ROUNDS:-5}
REPS=${BENCH_REPS:-7}
VISITS=${BENCH_LIVE_VISITS:-5000000}
# a deal has 1 to 5 visits (3 on average)
READ_DEALS=$((VISITS / 3))
DEALS=100000
DB=funnel_live_bench
export PGOPTIONS='-c search_path=public,funnel -c timezone=UTC'
WORK=$(mktemp -d /tmp/funnel-live-bench.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -v ON_ERROR_STOP=1 -d $DB"

# ---- (a) writes -----------------------------------------------------------
$P <<SQL
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
CREATE TABLE deals_plain (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                          stage funnel.deal_stage(b2b) NOT NULL);
CREATE TABLE deals_live (LIKE deals_plain INCLUDING ALL);
INSERT INTO deals_plain SELECT g, 'o' || g % 50, g % 1000,
       (ARRAY['lead','qualified','proposal','negotiation']::funnel.deal_stage(b2b)[])[1 + g % 4]
  FROM generate_series(1, $DEALS) g;
INSERT INTO deals_live SELECT * FROM deals_plain;
SELECT funnel.track('deals_plain', 'b2b', rule => 'any');
SELECT funnel.track('deals_live', 'b2b', rule => 'any');
SELECT funnel.enable_live('deals_live', '{owner}', 'amount');
VACUUM ANALYZE;
SQL

for t in plain live; do
    for s in lead qualified proposal negotiation won lost; do
        printf '\\set id random(1, %s)\nUPDATE deals_%s SET stage = %s WHERE id = :id;\n' \
            "$DEALS" "$t" "'$s'" > "$WORK/move_${t}_$s.sql"
    done
done

tps()
{
    args=""
    for s in lead qualified proposal negotiation won lost; do
        args="$args -f $WORK/move_$1_$s.sql"
    done
    $P -c "VACUUM deals_$1" -c "CHECKPOINT"
    pgbench -n -M prepared -c 2 -j 2 -T "$SECONDS_PER_RUN" $args "$DB" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

: > "$WORK/rounds"
r=1
while [ $r -le "$ROUNDS" ]; do
    # alternate which goes first, so a burst of load hits both alike
    if [ $((r % 2)) = 1 ]; then a=$(tps plain); b=$(tps live); else b=$(tps live); a=$(tps plain); fi
    echo "round $r: without live $a tps, with live $b tps"
    echo "$a $b" >> "$WORK/rounds"
    r=$((r + 1))
done
live_rows=$($P -At -c "SELECT count(*) FROM deals_live_stage_live")
problems=$($P -At -c "SELECT count(*) FROM funnel.live_check('deals_live')")
echo "live_check after the moves: $problems differences ($live_rows delta rows)"
[ "$problems" = 0 ] || { echo "FAIL: live summaries differ from the history"; exit 1; }
$P -c "DROP TABLE deals_plain, deals_plain_stage_history" -c "SELECT funnel.disable_live('deals_live')" \
   -c "DROP TABLE deals_live, deals_live_stage_history" >/dev/null
if [ "${BENCH_LIVE_READS:-1}" = 0 ]; then
    # writes only (BENCH_LIVE_READS=0): part (b) skipped
    awk '{ n++; a[n] = $1; b[n] = $2; r[n] = $2 / $1 }
    END { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
          printf "  (a) writes: with/without = %.2f (median of %d rounds; target >= 0.85)\n", n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2, n }' "$WORK/rounds"
    [ -n "${BENCH_KEEP:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
    exit 0
fi

# ---- (b) reads ------------------------------------------------------------
echo "== building $VISITS visits of $READ_DEALS deals"
start=$(date +%s)
$P <<SQL
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                    owner text, amount numeric(12,2));
SELECT funnel.track('deals', 'b2b', rule => 'any');
ALTER TABLE deals DISABLE TRIGGER USER;
-- deal g: k = 1..5 visits along lead, qualified, proposal, negotiation,
-- then won or lost; the first on one of 366 days; visit i lasts a*i + b
-- seconds (a, b from g); the last visit is open
CREATE TEMP TABLE g AS
SELECT g, 1 + (g * 7919) % 5 AS k, (g * 7907) % 86400 AS a, (g::bigint * 2654435761) % 864000 AS b,
       timestamptz '2024-01-01 00:00+00' + (g % 366) * interval '1 day' + ((g * 37) % 86400) * interval '1 second' AS t0
  FROM generate_series(1::bigint, $READ_DEALS) g;
INSERT INTO deals
SELECT g, (ARRAY['lead','qualified','proposal','negotiation',
                 CASE WHEN g % 3 = 0 THEN 'won' ELSE 'lost' END]::funnel.deal_stage(b2b)[])[k],
       'o' || g % 50, CASE WHEN g % 37 <> 0 THEN (g % 1000) * 10 END
  FROM g;
ALTER TABLE deals ENABLE TRIGGER USER;
INSERT INTO deals_stage_history (deal_id, stage, entered_at, left_at)
SELECT g, (ARRAY['lead','qualified','proposal','negotiation',
                 CASE WHEN g % 3 = 0 THEN 'won' ELSE 'lost' END]::funnel.deal_stage(b2b)[])[i],
       t0 + ((i - 1) * i / 2 * a + (i - 1) * b) * interval '1 second',
       CASE WHEN i < k THEN t0 + (i * (i + 1) / 2 * a + i * b) * interval '1 second' END
  FROM g, generate_series(1, k) i;
DROP TABLE g;
VACUUM ANALYZE deals, deals_stage_history;
SQL
echo "   history built in $(( $(date +%s) - start ))s: $($P -At -c "SELECT count(*) FROM deals_stage_history") visits"
start=$(date +%s)
$P -c "SELECT funnel.enable_live('deals', '{owner}', 'amount')" >/dev/null
$P -c "VACUUM ANALYZE deals_stage_live" >/dev/null
echo "   enable_live (summaries from the history) in $(( $(date +%s) - start ))s: $($P -At -c "SELECT count(*) FROM deals_stage_live") rows"
# a few moves since: delta rows the readers merge
$P -c "UPDATE deals SET stage = 'proposal' WHERE id IN (SELECT id FROM deals WHERE stage IN ('lead', 'qualified') ORDER BY id LIMIT 100)" \
   -c "UPDATE deals SET stage = 'won' WHERE id IN (SELECT id FROM deals WHERE stage = 'negotiation' ORDER BY id LIMIT 100)" >/dev/null
for i in $(seq 1 20); do
    $P -c "UPDATE deals SET stage = 'negotiation' WHERE id = $((i * 977))" >/dev/null
done
echo "   live rows after 22 move statements: $($P -At -c "SELECT count(*) FROM deals_stage_live")"

# the questions: period range (Q2 2024, every owner) and one owner (every day)
F="'2024-04-01'::date, '2024-06-30'::date, NULL"
O="NULL, NULL, '{\"owner\": \"o7\"}'::jsonb"
# scan-based: the deals with their journey, entry day and current stage
ref()
{
    # $1 the deals' filter
    echo "WITH x AS (SELECT d.id, d.amount, d.stage AS now, j.j FROM deals d
  JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM deals_stage_history GROUP BY deal_id) j
    ON j.deal_id = d.id
 WHERE $1)"
}
RF="(funnel.started_at(j.j) AT TIME ZONE 'UTC')::date BETWEEN '2024-04-01' AND '2024-06-30'"
RO="d.owner = 'o7'"

# live_sql NAME ARGS, scan_sql NAME FILTER: one statement each, its answer
# as one text value (compared live vs scan)
live_sql()
{
    case $1 in
    report) echo "SELECT string_agg(r::text, ';' ORDER BY r.position) FROM funnel.live_report('deals', $2) r" ;;
    forecast) echo "SELECT funnel.live_weighted_forecast('deals', $2)" ;;
    win_rate) echo "SELECT round(funnel.live_win_rate('deals', $2), 6)" ;;
    conversion) echo "SELECT round(max(deals) FILTER (WHERE stage = 'b2b:negotiation')::numeric / max(deals) FILTER (WHERE stage = 'b2b:lead'), 6) FROM funnel.live_report('deals', $2)" ;;
    median) echo "SELECT string_agg(stage::text || '=' || justify_hours(median), ';' ORDER BY stage) FROM funnel.live_median_time_in_stage('deals', $2)" ;;
    p90) echo "SELECT string_agg(stage::text || '=' || justify_hours(percentile), ';' ORDER BY stage) FROM funnel.live_time_in_stage_percentile('deals', 0.9, $2)" ;;
    esac
}
scan_sql()
{
    case $1 in
    report) echo "$(ref "$2") SELECT string_agg(r::text, ';' ORDER BY r.position) FROM funnel.report((SELECT funnel.funnel(j, amount) FROM x)) r" ;;
    forecast) echo "$(ref "$2") SELECT funnel.weighted_forecast(amount, now) FROM x" ;;
    win_rate) echo "$(ref "$2") SELECT round(funnel.win_rate(now), 6) FROM x" ;;
    conversion) echo "$(ref "$2") SELECT round(funnel.conversion_rate(funnel.furthest_stage(j), 'b2b:lead', 'b2b:negotiation'), 6) FROM x" ;;
    median) echo "$(ref "$2") SELECT string_agg(stage::text || '=' || justify_hours(m), ';' ORDER BY stage) FROM (SELECT h.stage, funnel.median_time_in_stage(h.entered_at, h.left_at) AS m FROM deals_stage_history h JOIN x ON x.id = h.deal_id WHERE h.left_at IS NOT NULL GROUP BY h.stage) s" ;;
    p90) echo "$(ref "$2") SELECT string_agg(stage::text || '=' || justify_hours(m), ';' ORDER BY stage) FROM (SELECT h.stage, funnel.time_in_stage_percentile(h.entered_at, h.left_at, 0.9) AS m FROM deals_stage_history h JOIN x ON x.id = h.deal_id WHERE h.left_at IS NOT NULL GROUP BY h.stage) s" ;;
    esac
}

# DuckDB: the same rows (visits, deals) exported as CSV, loaded in memory
$P -c "\\copy (SELECT deal_id, funnel.stage_name(stage), funnel.position(stage), extract(epoch FROM entered_at)::bigint, extract(epoch FROM left_at)::bigint FROM deals_stage_history) TO '$WORK/visits.csv' WITH (FORMAT csv)" \
   -c "\\copy (SELECT id, owner, amount, funnel.stage_name(stage), funnel.position(stage), funnel.kind(stage), CASE funnel.kind(stage) WHEN 'won' THEN 1 WHEN 'lost' THEN 0 ELSE funnel.probability(stage) END FROM deals) TO '$WORK/deals.csv' WITH (FORMAT csv)"
DUCK_DIR=$PWD/build/duckdb
DUCK=""
if [ -d "$DUCK_DIR/node_modules/@duckdb/node-api" ] ||
   { mkdir -p "$DUCK_DIR" && timeout 300 npm install --silent --no-audit --no-fund --prefix "$DUCK_DIR" @duckdb/node-api >"$WORK/npm.log" 2>&1; }; then
    DUCK=yes
else
    DUCK_WHY="npm could not install @duckdb/node-api: $(tail -n 1 "$WORK/npm.log")"
    echo "DuckDB skipped: $DUCK_WHY"
fi
if [ -n "$DUCK" ]; then
    cat > "$DUCK_DIR/live_bench.mjs" <<'JS'
// the questions of bench/live_bench.sh in an in-memory DuckDB: min of 3 ms
import { DuckDBInstance } from '@duckdb/node-api';
const [visits, deals] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run(`CREATE TABLE v AS SELECT * FROM read_csv('${visits}', header = false,
  columns = {'deal_id': 'INTEGER', 'stage': 'VARCHAR', 'pos': 'INTEGER', 'entered_s': 'BIGINT', 'left_s': 'BIGINT'})`);
await c.run(`CREATE TABLE d AS SELECT * FROM read_csv('${deals}', header = false,
  columns = {'id': 'INTEGER', 'owner': 'VARCHAR', 'amount': 'DECIMAL(12,2)', 'stage': 'VARCHAR', 'pos': 'INTEGER', 'kind': 'VARCHAR', 'prob': 'DECIMAL(6,4)'})`);
const x = (f) => `WITH j AS (SELECT deal_id, min(entered_s) AS t0, max(pos) FILTER (WHERE pos <= 4) AS furthest
                             FROM v GROUP BY deal_id),
  x AS (SELECT d.*, j.furthest, (to_timestamp(j.t0) AT TIME ZONE 'UTC')::date AS day FROM d JOIN j ON j.deal_id = d.id),
  f AS (SELECT * FROM x WHERE ${f})`;
const filters = {
  range: "day BETWEEN DATE '2024-04-01' AND DATE '2024-06-30'",
  owner: "owner = 'o7'",
};
const q = {
  report: (f) => `${x(f)} SELECT s.pos, count(*) FILTER (WHERE f.furthest >= s.pos OR f.kind = 'won'),
      sum(amount) FILTER (WHERE f.furthest >= s.pos OR f.kind = 'won'),
      count(*) FILTER (WHERE f.kind = 'won' AND f.furthest >= s.pos), count(*) FILTER (WHERE f.kind = 'lost' AND f.furthest >= s.pos),
      count(*) FILTER (WHERE f.kind = 'open' AND f.furthest >= s.pos), count(*) FILTER (WHERE f.kind = 'lost' AND f.furthest = s.pos),
      count(*) FILTER (WHERE f.kind = 'open' AND f.pos = s.pos), sum(amount) FILTER (WHERE f.kind = 'open' AND f.pos = s.pos)
    FROM f, (SELECT unnest([1, 2, 3, 4]) AS pos) s GROUP BY s.pos ORDER BY s.pos`,
  forecast: (f) => `${x(f)} SELECT sum(amount * prob) FROM f`,
  win_rate: (f) => `${x(f)} SELECT count(*) FILTER (WHERE kind = 'won') / count(*) FILTER (WHERE kind <> 'open') FROM f`,
  conversion: (f) => `${x(f)} SELECT count(*) FILTER (WHERE furthest >= 4 OR kind = 'won') / count(*) FROM f`,
  median: (f) => `${x(f)} SELECT v.stage, median(v.left_s - v.entered_s) FROM v JOIN f ON f.id = v.deal_id
                   WHERE v.left_s IS NOT NULL GROUP BY v.stage`,
  p90: (f) => `${x(f)} SELECT v.stage, quantile_cont(v.left_s - v.entered_s, 0.9) FROM v JOIN f ON f.id = v.deal_id
                WHERE v.left_s IS NOT NULL GROUP BY v.stage`,
};
for (const name of Object.keys(q)) {
  for (const fn of Object.keys(filters)) {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t = process.hrtime.bigint();
      await c.runAndReadAll(q[name](filters[fn]));
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (ms < best) best = ms;
    }
    console.log(`${name} ${fn} ${best.toFixed(1)}`);
  }
}
JS
    node "$DUCK_DIR/live_bench.mjs" "$WORK/visits.csv" "$WORK/deals.csv" > "$WORK/duck" ||
        { DUCK=""; DUCK_WHY="DuckDB failed (see above)"; }
fi

echo
echo "funnel live summaries benchmark ($(nproc) cores)"
awk '
function median(v, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{ n++; a[n] = $1; b[n] = $2; r[n] = $2 / $1 }
END {
    printf "  (a) writes, %d alternating rounds of pgbench moves on 100k deals (medians)\n", n;
    printf "      tracked, without live summaries  %8.0f tps\n", median(a, n);
    printf "      tracked, with live summaries     %8.0f tps   with/without = %.2f  (target >= 0.85)\n", median(b, n), median(r, n);
}' "$WORK/rounds"
echo "  (b) reads, $VISITS visits of $READ_DEALS deals; live: median of $REPS; scan: once; DuckDB: min of 3 (ms)"
printf '      %-11s %-6s %9s %9s %9s %9s %9s  %s\n' question filter live scan duckdb scan/live duck/live same
fail=0
for qn in report forecast win_rate conversion median p90; do
    for fn in range owner; do
        if [ $fn = range ]; then args=$F; filt=$RF; else args=$O; filt=$RO; fi
        lsql=$(live_sql $qn "$args")
        ssql=$(scan_sql $qn "$filt")
        lans=$($P -At -c "$lsql")
        sans=$($P -At -c "$ssql")
        same=yes
        [ "$lans" = "$sans" ] || { same=NO; fail=1; printf 'live: %s\nscan: %s\n' "$lans" "$sans" >> "$WORK/diff"; }
        lms=$(median_ms "$DB" "$REPS" "$lsql")
        sms=$(median_ms "$DB" 1 "$ssql")
        dms=-
        [ -n "$DUCK" ] && dms=$(awk -v q=$qn -v f=$fn '$1 == q && $2 == f { print $3 }' "$WORK/duck")
        printf '      %-11s %-6s %9.2f %9.0f %9s %9s %9s  %s\n' $qn $fn "$lms" "$sms" "$dms" \
            "$(ratio "$sms" "$lms")" "$([ -n "$DUCK" ] && ratio "$dms" "$lms" || echo -)" $same
    done
done
[ -n "$DUCK" ] || echo "      DuckDB: $DUCK_WHY"
echo "      (targets: live <= 10 ms, duck/live >= 10)"
if [ $fail = 1 ]; then
    cat "$WORK/diff"
    echo "FAIL: a live answer differs from the scan-based one"
    exit 1
fi
[ -n "${BENCH_KEEP:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
