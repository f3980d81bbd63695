#!/bin/sh
# bench/agg_bench.sh: speed of the funnel aggregates, side by side with
# count(*) (the floor) and the best plain-SQL equivalent, with 0 and 2
# parallel workers, on a history table of 5M visits (BENCH_ROWS).
#
# Run it inside a cluster that has funnel installed, e.g.
#   pg_virtualenv -v 15 -o max_worker_processes=16 bench/agg_bench.sh
# Connection settings come from the usual PG* environment variables.
# Each timing is the best of BENCH_REPS runs (psql \timing, wall clock).
# Expect about 2-4 minutes on 2 cores.  BENCH_KEEP=1 keeps the database,
# BENCH_BUILD_ONLY=1 only builds it (for profiling); BENCH_JOURNEY_ONLY=1
# stops after the journey-vs-furthest report comparison.
set -eu
ROWS=${BENCH_ROWS:-5000000}
REPS=${BENCH_REPS:-3}
DB=${BENCH_DB:-funnel_bench}
PSQL="psql -X -q -v ON_ERROR_STOP=1"

$PSQL -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
PSQL="$PSQL -d $DB"

echo "== building bench_visits: $ROWS visits (unlogged, frozen, analyzed)"
start=$(date +%s)
$PSQL <<SQL
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('bench',
         stages        => ARRAY['lead','qualified','proposal','negotiation'],
         probabilities => ARRAY[0.10, 0.25, 0.50, 0.75]) \\gset
-- stage mix: 35% lead, 20% qualified, 15% proposal, 10% negotiation, 10% won, 10% lost
CREATE UNLOGGED TABLE bench_visits AS
SELECT (ARRAY['bench:lead','bench:lead','bench:lead','bench:lead','bench:lead','bench:lead','bench:lead',
              'bench:qualified','bench:qualified','bench:qualified','bench:qualified',
              'bench:proposal','bench:proposal','bench:proposal',
              'bench:negotiation','bench:negotiation','bench:won','bench:won','bench:lost','bench:lost']
        ::funnel.deal_stage[])[1 + (i * 7) % 20] AS stage,
       t AS entered_at,
       CASE WHEN i % 10 = 0 THEN NULL
            ELSE t + ((i::bigint * 2654435761) % (90::bigint * 86400 * 1000000)) * interval '1 microsecond' END AS left_at,
       CASE WHEN i % 37 = 0 THEN NULL
            ELSE (((i::bigint * 104729) % 10000000) / 100.0 - 5000)::numeric(12,2) END AS amount,
       (((i * 31) % 101) / 100.0)::numeric(3,2) AS p,
       i / 4 AS deal_id
  FROM generate_series(1, $ROWS) i,
       LATERAL (SELECT timestamptz '2023-01-01 00:00+00' + (i * 6) * interval '1 second' AS t) x;
VACUUM (FREEZE, ANALYZE) bench_visits;
-- plain-SQL side: stage attributes as a plain table joined by stage
CREATE TABLE bench_map AS
SELECT (pipeline || ':' || stage)::funnel.deal_stage AS stage, position AS pos, kind, probability::numeric AS prob
  FROM funnel.stages WHERE pipeline = 'bench';
ANALYZE bench_map;
SQL
echo "   built in $(( $(date +%s) - start ))s; table size: $($PSQL -At -c "SELECT pg_size_pretty(pg_table_size('bench_visits'))")"

if [ -n "${BENCH_BUILD_ONLY:-}" ]; then
    exit 0
fi

TICK=$(getconf CLK_TCK)
CPU_OK=$($PSQL -At -c "SELECT 1 FROM pg_read_file('/proc/self/stat')" 2>/dev/null || true)

# time_set WORKERS SQL1 [SQL2 [SQL3]] -> "W1 C1 W2 C2 W3 C3": for each
# statement, the best wall-clock ms of REPS runs (psql \timing) and, for
# serial runs, the best CPU time of the backend in ms (from /proc/self/stat:
# immune to other load on the machine; - when unavailable or parallel).  The
# statements run interleaved in one session (1 2 3 1 2 3 ...), so a burst of
# load on this shared machine hits all of them alike.
time_set()
{
    workers=$1
    shift
    script="SET max_parallel_workers_per_gather = $workers;
SET search_path = public, funnel;
SET work_mem = '1GB';
SET jit = off;
\\o /dev/null"
    for _ in $(seq "$REPS"); do
        i=0
        for sql in "$@"; do
            i=$((i + 1))
            if [ "$workers" = 0 ] && [ -n "$CPU_OK" ]; then
                script="$script
SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint AS cpu0 FROM pg_read_file('/proc/self/stat') s \\gset
\\echo T$i
\\timing on
$sql;
\\timing off
SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint - :cpu0 AS cpu1 FROM pg_read_file('/proc/self/stat') s \\gset
\\echo CPU$i :cpu1"
            else
                script="$script
\\echo T$i
\\timing on
$sql;
\\timing off"
            fi
        done
    done
    out=$(printf "%s\n" "$script" | $PSQL 2>&1) || { echo "query failed: $*" >&2; echo "$out" >&2; exit 1; }
    printf "%s\n" "$out" | awk -v tick="$TICK" -v n=$# '
        /^T[0-9]+$/ { cur = substr($1, 2) + 0 }
        /^Time:/ { t = $2 + 0; if (!(cur in best) || t < best[cur]) best[cur] = t }
        /^CPU[0-9]+ / { k = substr($1, 4) + 0; c = $2 * 1000 / tick; if (!(k in cpu) || c < cpu[k]) cpu[k] = c }
        END { for (k = 1; k <= n; k++) printf "%.0f %s ", best[k], ((k in cpu) ? sprintf("%.0f", cpu[k]) : "-") }'
}

CNT="SELECT count(*) FROM bench_visits"
set -- $(time_set 0 "$CNT"); COUNT0=$1; COUNTCPU=$2
set -- $(time_set 2 "$CNT"); COUNT2=$1

# The journey report (issue 9) next to the furthest-based report of 0.1: per
# deal (GROUP BY deal_id, 1.25M deals), then funnel() with amounts and
# report(), interleaved in one session; target: journey within 1.3x
FURTHEST_REPORT="SELECT r.* FROM funnel.report((SELECT funnel.funnel(f, a) FROM (SELECT funnel.furthest(stage) AS f, max(amount) AS a FROM bench_visits GROUP BY deal_id) x)) r"
JOURNEY_REPORT="SELECT r.* FROM funnel.report((SELECT funnel.funnel(j, a) FROM (SELECT funnel.journey(stage, entered_at) AS j, max(amount) AS a FROM bench_visits GROUP BY deal_id) x)) r"
echo
echo "== journey + funnel + report vs furthest + funnel + report, best of $REPS runs, ms"
printf "%-10s %10s %10s %8s %8s  %s\n" "workers" "furthest" "journey" "ratio" "cpu ratio" "target"
for w in 0 2; do
    set -- $(time_set $w "$FURTHEST_REPORT" "$JOURNEY_REPORT"); f=$1 fc=$2 j=$3 jc=$4
    awk -v w=$w -v f=$f -v j=$j -v fc=$fc -v jc=$jc 'BEGIN {
        rc = (fc == "-" || jc == "-" || fc == 0) ? "-" : sprintf("%.2f", jc / fc);
        printf "%-10s %10d %10d %8.2f %8s  <=1.3x: %s\n", "w" w, f, j, j / f, rc, (j / f <= 1.3) ? "ok" : "MISSED" }'
done
[ -z "${BENCH_JOURNEY_ONLY:-}" ] || { [ -n "${BENCH_KEEP:-}" ] || $PSQL -d postgres -c "DROP DATABASE $DB" >/dev/null; exit 0; }

# label | funnel query | plain-SQL equivalent | target vs count(*)
QUERIES=$(cat <<'EOF'
furthest|SELECT funnel.furthest(stage) FROM bench_visits|SELECT max(CASE m.kind WHEN 'won' THEN 2000 WHEN 'open' THEN 1000 ELSE 0 END + m.pos) FROM bench_visits v JOIN bench_map m USING (stage)|1.3
conversion_rate|SELECT funnel.conversion_rate(stage, 'bench:qualified', 'bench:negotiation') FROM bench_visits|SELECT count(*) FILTER (WHERE m.kind = 'won' OR (m.kind = 'open' AND m.pos >= 4))::float8 / nullif(count(*) FILTER (WHERE m.kind = 'won' OR (m.kind = 'open' AND m.pos >= 2)), 0) FROM bench_visits v JOIN bench_map m USING (stage)|1.3
funnel(stage)|SELECT funnel.funnel(stage) FROM bench_visits|SELECT stage, count(*) FROM bench_visits GROUP BY stage|1.3
funnel+report|SELECT r.* FROM (SELECT funnel.funnel(stage, amount) AS f FROM bench_visits) s, funnel.report(s.f) r|WITH c AS (SELECT stage, count(*) AS n, count(amount) AS na, sum(amount) AS a FROM bench_visits GROUP BY stage), x AS (SELECT m.stage, m.pos, m.kind, coalesce(c.n, 0) AS n, c.a, sum(c.n) FILTER (WHERE m.kind = 'won') OVER () AS won_n, sum(c.a) FILTER (WHERE m.kind = 'won') OVER () AS won_a FROM bench_map m LEFT JOIN c USING (stage)), r AS (SELECT stage, pos, kind, CASE WHEN kind = 'open' THEN sum(n) FILTER (WHERE kind = 'open') OVER (ORDER BY pos DESC) + coalesce(max(won_n) OVER (), 0) ELSE n END AS deals, CASE WHEN kind = 'open' THEN sum(a) FILTER (WHERE kind = 'open') OVER (ORDER BY pos DESC) + coalesce(max(won_a) OVER (), 0) ELSE a END AS amount FROM x) SELECT stage, deals, amount, deals::float8 / nullif(lag(deals) OVER (ORDER BY pos), 0), deals::float8 / nullif(first_value(deals) OVER (ORDER BY pos), 0), CASE WHEN kind = 'open' THEN deals - lead(deals) OVER (ORDER BY pos) END FROM r ORDER BY pos|1.3
median_time_in_stage|SELECT funnel.median_time_in_stage(entered_at, left_at) FROM bench_visits|SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) FROM bench_visits|2.0
time_in_stage_percentile(0.9)|SELECT funnel.time_in_stage_percentile(entered_at, left_at, 0.9) FROM bench_visits|SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY left_at - entered_at) FROM bench_visits|2.0
weighted_forecast(amount,stage)|SELECT funnel.weighted_forecast(amount, stage) FROM bench_visits|SELECT sum(v.amount * m.prob) FROM bench_visits v JOIN bench_map m USING (stage)|1.3
weighted_forecast(amount,p)|SELECT funnel.weighted_forecast(amount, p) FROM bench_visits|SELECT sum(amount * p) FROM bench_visits|1.3
win_rate|SELECT funnel.win_rate(stage) FROM bench_visits|SELECT count(*) FILTER (WHERE m.kind = 'won')::float8 / nullif(count(*) FILTER (WHERE m.kind IN ('won', 'lost')), 0) FROM bench_visits v JOIN bench_map m USING (stage)|1.3
sales_velocity|SELECT funnel.sales_velocity(stage, amount, entered_at, left_at) FROM bench_visits|SELECT count(*) * (count(*) FILTER (WHERE m.kind = 'won')::numeric / nullif(count(*) FILTER (WHERE m.kind IN ('won', 'lost')), 0)) * avg(v.amount) FILTER (WHERE m.kind = 'won') / nullif(avg(extract(epoch FROM v.left_at - v.entered_at) / 86400) FILTER (WHERE m.kind IN ('won', 'lost')), 0) FROM bench_visits v JOIN bench_map m USING (stage)|1.3
EOF
)

echo
echo "== best of $REPS runs, ms.  w0: no parallel workers, w2: 2 workers; cpu: backend CPU time (w0)"
echo "   Each row runs count(*), the aggregate and its plain-SQL equivalent interleaved in one session;"
echo "   /cnt: aggregate / that row's count(*) with the same workers; w0/w2: parallel speed-up;"
echo "   sql/agg: plain SQL / aggregate.  Targets are checked on wall-clock; cpu/cnt is the load-free ratio."
printf "%-31s %6s %6s %6s %7s %7s %7s %6s %6s %6s %6s %6s  %s\n" "query" "w0" "w2" "cpu" "/cnt w0" "/cnt w2" "cpu/cnt" "w0/w2" "sql w0" "sql w2" "sql/w0" "sql/w2" "target"
printf "%-31s %6s %6s %6s %7s %7s %7s %6s\n" "count(*)" "$COUNT0" "$COUNT2" "$COUNTCPU" "1.00" "1.00" "1.00" "$(awk -v a=$COUNT0 -v b=$COUNT2 'BEGIN{printf "%.2f", a/b}')"
# reference points: built-in aggregates that read the same columns (the
# floor any aggregate with arguments pays: deforming them, one call per row)
for ref in "count(stage)" "count(amount)" "count(left_at)" "sum(p)"; do
    set -- $(time_set 0 "$CNT" "SELECT $ref FROM bench_visits"); c0=$1 cc=$2 f0=$3 fcpu=$4
    set -- $(time_set 2 "$CNT" "SELECT $ref FROM bench_visits"); c2=$1 f2=$3
    awk -v l="[built-in] $ref" -v f0=$f0 -v f2=$f2 -v c0=$c0 -v c2=$c2 -v fc=$fcpu -v cc=$cc 'BEGIN {
        rc = (fc == "-" || cc == "-" || cc == 0) ? "-" : sprintf("%.2f", fc / cc);
        printf "%-31s %6d %6d %6s %7.2f %7.2f %7s %6.2f\n", l, f0, f2, fc, f0 / c0, f2 / c2, rc, f0 / f2 }'
done
printf "%s\n" "$QUERIES" | while IFS='|' read -r label fq sq target; do
    set -- $(time_set 0 "$CNT" "$fq" "$sq"); c0=$1 cc=$2 f0=$3 fcpu=$4 s0=$5
    set -- $(time_set 2 "$CNT" "$fq" "$sq"); c2=$1 f2=$3 s2=$5
    awk -v l="$label" -v f0=$f0 -v f2=$f2 -v c0=$c0 -v c2=$c2 -v fc=$fcpu -v cc=$cc -v s0=$s0 -v s2=$s2 -v t=$target 'BEGIN {
        r0 = f0 / c0; r2 = f2 / c2; sp = f0 / f2;
        rc = (fc == "-" || cc == "-" || cc == 0) ? "-" : sprintf("%.2f", fc / cc);
        ok = (r0 <= t && r2 <= t) ? "ok" : "MISSED";
        if (f2 >= f0) ok = ok ", w2 not faster";
        if (t == 2.0) ok = ok ((s0 / f0 >= 3) ? ", >=3x percentile_cont" : ", <3x percentile_cont");
        if (l == "funnel+report") ok = ok ((s0 / f0 >= 2 && s2 / f2 >= 2) ? ", >=2x plain SQL" : ", <2x plain SQL");
        printf "%-31s %6d %6d %6s %7.2f %7.2f %7s %6.2f %6d %6d %6.2f %6.2f  <=%.1fx: %s\n", l, f0, f2, fc, r0, r2, rc, sp, s0, s2, s0 / f0, s2 / f2, t, ok
    }'
done
[ -n "${BENCH_KEEP:-}" ] || $PSQL -d postgres -c "DROP DATABASE $DB" >/dev/null
