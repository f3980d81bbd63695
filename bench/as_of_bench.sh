#!/bin/sh
# bench/as_of_bench.sh: speed of funnel.pipeline_as_of and funnel.pipeline_trend
# (issue 10.3) on a stage history of 5M visits (BENCH_ROWS), side by side in
# one session with SELECT count(*) of the history (the floor) and with the
# plain-SQL equivalents.  Targets: one as-of <= 2x count(*); the trend over
# 52 weekly instants <= 5x count(*).
#
# Run it inside a cluster that has funnel installed, e.g.
#   pg_virtualenv -v 15 -o shared_buffers=1GB bench/as_of_bench.sh
# Connection settings come from the usual PG* environment variables.  Each
# figure is the best of BENCH_REPS runs (psql \timing, wall clock), the
# statements of a row interleaved (1 2 3 1 2 3 ...) so that a burst of load
# on a shared machine hits all of them alike.  No parallel workers: the
# functions scan in one process, so count(*) is measured the same way (the
# count(*) with 2 workers is printed for reference).  BENCH_KEEP=1 keeps
# the database, BENCH_BUILD_ONLY=1 only builds it (for profiling).
set -eu
ROWS=${BENCH_ROWS:-5000000}
REPS=${BENCH_REPS:-3}
DB=${BENCH_DB:-funnel_asof_bench}
PSQL="psql -X -q -v ON_ERROR_STOP=1"

$PSQL -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
PSQL="$PSQL -d $DB"

echo "== building bench_history: $ROWS visits of $((ROWS / 4)) deals over two years (frozen, analyzed)"
start=$(date +%s)
$PSQL <<SQL
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('bench',
         stages        => ARRAY['lead','qualified','proposal','negotiation'],
         probabilities => ARRAY[0.10, 0.25, 0.50, 0.75]) \\gset
-- the layout funnel.track() creates; deal d starts at 2023-01-01 + d x (2 years / deals),
-- then lead -> qualified -> proposal -> one of negotiation (open), won, lost,
-- each visit lasting 1 to 20 days (per deal), the last one open (left_at NULL)
CREATE TABLE bench_deals (id bigint PRIMARY KEY, amount numeric(12,2), stage funnel.deal_stage(bench) NOT NULL);
CREATE TABLE bench_history (deal_id bigint NOT NULL, stage funnel.deal_stage(bench) NOT NULL,
                            entered_at timestamptz NOT NULL, left_at timestamptz,
                            entered_by name NOT NULL DEFAULT CURRENT_USER) WITH (fillfactor = 80);
INSERT INTO bench_history (deal_id, stage, entered_at, left_at)
SELECT d, CASE WHEN k < 4 THEN (ARRAY['bench:lead', 'bench:qualified', 'bench:proposal'])[k]
               ELSE (ARRAY['bench:negotiation', 'bench:won', 'bench:lost'])[1 + d % 3] END::funnel.deal_stage,
       s + (k - 1) * dur, CASE WHEN k < 4 THEN s + k * dur END
  FROM generate_series(1, $ROWS / 4) d,
       LATERAL (SELECT timestamptz '2023-01-01 00:00+00' + d * (interval '730 days' / ($ROWS / 4)) AS s,
                       (1 + (d * 2654435761) % 20) * interval '1 day' + (d % 86400) * interval '1 second' AS dur) x,
       generate_series(1, 4) k;
INSERT INTO bench_deals
SELECT deal_id, CASE WHEN deal_id % 37 = 0 THEN NULL ELSE ((deal_id * 104729) % 10000000) / 100.0 END, stage
  FROM bench_history WHERE left_at IS NULL;
CREATE INDEX ON bench_history (deal_id, entered_at);
CREATE INDEX ON bench_history (stage, entered_at);
VACUUM (FREEZE, ANALYZE) bench_history, bench_deals;
SQL
echo "   built in $(( $(date +%s) - start ))s; history: $($PSQL -At -c "SELECT pg_size_pretty(pg_table_size('bench_history'))"), deals: $($PSQL -At -c "SELECT pg_size_pretty(pg_table_size('bench_deals'))")"

if [ -n "${BENCH_BUILD_ONLY:-}" ]; then
    exit 0
fi

# time_set SQL1 [SQL2 ...] -> "MS1 MS2 ...": best wall-clock ms of REPS
# interleaved runs of each statement in one session, no parallel workers
time_set()
{
    script="SET max_parallel_workers_per_gather = 0;
SET work_mem = '1GB';
SET jit = off;
\\o /dev/null"
    for _ in $(seq "$REPS"); do
        i=0
        for sql in "$@"; do
            i=$((i + 1))
            script="$script
\\echo T$i
\\timing on
$sql;
\\timing off"
        done
    done
    out=$(printf "%s\n" "$script" | $PSQL 2>&1) || { echo "query failed: $*" >&2; echo "$out" >&2; exit 1; }
    printf "%s\n" "$out" | awk -v n=$# '
        /^T[0-9]+$/ { cur = substr($1, 2) + 0 }
        /^Time:/ { t = $2 + 0; if (!(cur in best) || t < best[cur]) best[cur] = t }
        END { for (k = 1; k <= n; k++) printf "%.0f ", best[k] }'
}

AS_OF="2024-01-01 00:00+00"
WEEKS="ARRAY(SELECT generate_series(timestamptz '2023-01-02 00:00+00', timestamptz '2023-01-02 00:00+00' + interval '51 weeks', interval '1 week'))"
CNT="SELECT count(*) FROM bench_history"
OPEN_NOW=$($PSQL -At -c "SELECT count(*) FROM funnel.pipeline_as_of('bench_history', '$AS_OF')")
echo "   as of $AS_OF: $OPEN_NOW deals have a visit open (the rows pipeline_as_of returns)"

# label | funnel query | plain-SQL equivalent | target vs count(*)
QUERIES=$(cat <<EOF
pipeline_as_of|SELECT count(*) FROM funnel.pipeline_as_of('bench_history', '$AS_OF')|SELECT count(*) FROM (SELECT deal_id::text, stage, entered_at FROM bench_history WHERE entered_at <= '$AS_OF' AND (left_at IS NULL OR left_at > '$AS_OF') OFFSET 0) s|2.0
as_of + GROUP BY kind|SELECT funnel.kind(stage), count(*) FROM funnel.pipeline_as_of('bench_history', '$AS_OF') GROUP BY 1|SELECT funnel.kind(stage), count(*) FROM bench_history WHERE entered_at <= '$AS_OF' AND (left_at IS NULL OR left_at > '$AS_OF') GROUP BY 1|-
trend 52 weeks, counts|SELECT count(*) FROM funnel.pipeline_trend('bench_history', $WEEKS)|SELECT count(*) FROM (SELECT i.t, h.stage, count(*) FROM bench_history h JOIN unnest($WEEKS) i(t) ON h.entered_at <= i.t AND (h.left_at IS NULL OR h.left_at > i.t) GROUP BY 1, 2) s|5.0
trend 52 weeks, amounts|SELECT count(*) FROM funnel.pipeline_trend('bench_history', $WEEKS, 'bench_deals')|SELECT count(*) FROM (SELECT i.t, h.stage, count(*), sum(d.amount), sum(d.amount * funnel.probability(h.stage)::numeric) FROM bench_history h JOIN unnest($WEEKS) i(t) ON h.entered_at <= i.t AND (h.left_at IS NULL OR h.left_at > i.t) LEFT JOIN bench_deals d ON d.id = h.deal_id GROUP BY 1, 2) s|5.0
EOF
)

echo
echo "== best of $REPS runs, ms, no parallel workers.  Each row runs count(*) of the history, the"
echo "   funnel query and its plain-SQL equivalent interleaved in one session;"
echo "   /cnt: funnel / that row's count(*); sql/funnel: plain SQL / funnel."
set -- $(time_set "$CNT"); C0=$1
set -- $(printf "SET max_parallel_workers_per_gather = 2;\n\\\\timing on\n%s;\n%s;\n%s;\n" "$CNT" "$CNT" "$CNT" | $PSQL 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | head -1); C2=$1
printf "%-28s %8s %8s %7s %7s  %s\n" "query" "count" "funnel" "/cnt" "sql" "sql/funnel"
printf "%-28s %8.0f %8s %7s %7s  (count(*) with 2 workers: %.0f ms)\n" "count(*)" "$C0" "" "" "" "$C2"
printf "%s\n" "$QUERIES" | while IFS='|' read -r label fq sq target; do
    set -- $(time_set "$CNT" "$fq" "$sq"); c=$1 f=$2 s=$3
    awk -v l="$label" -v c=$c -v f=$f -v s=$s -v t=$target 'BEGIN {
        r = f / c;
        verdict = (t == "-") ? "(no target)" : sprintf("<=%.1fx: %s", t, (r <= t) ? "ok" : "MISSED");
        printf "%-28s %8d %8d %7.2f %7d  %6.2f   %s\n", l, c, f, r, s, s / f, verdict }'
done
[ -n "${BENCH_KEEP:-}" ] || $PSQL -d postgres -c "DROP DATABASE $DB" >/dev/null
