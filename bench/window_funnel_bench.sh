#!/bin/sh
# bench/window_funnel_bench.sh: speed of funnel.window_funnel() over an event
# log of 10M events (BENCH_EVENTS), side by side with count(*) over the same
# rows: one funnel over every event, and one per user (GROUP BY user_id),
# with 0 and 2 parallel workers, on a log in time order (as an event log is
# appended) and on the same rows in random order (the final sort runs).
# Target (issue 10): <= 2x count(*).  The [floor] row measures what the
# executor spends before window_funnel runs: reading ts and event from each
# row and evaluating the step conditions (count(ts) with the steps as a
# FILTER, which stops at the first true one).
#
# Run it inside a cluster that has funnel installed, e.g.
#   pg_virtualenv -v 15 -o max_worker_processes=16 sh bench/window_funnel_bench.sh
# Each figure is the median of BENCH_REPS runs (psql \timing, wall clock).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
ROWS=${BENCH_EVENTS:-10000000}
REPS=${BENCH_REPS:-5}
DB=${BENCH_DB:-funnel_wf_bench}
PSQL="psql -X -q -v ON_ERROR_STOP=1"

$PSQL -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null

echo "== building wf_log: $ROWS events of 1M users (unlogged, frozen, analyzed)"
start=$(date +%s)
$PSQL -d "$DB" <<SQL
CREATE EXTENSION funnel;
-- events 6 s apart in time order; each user has 10 (one every ~69 days)
-- of kinds 1..10 (1 = visit, 2 = signup, 3 = purchase, ...)
CREATE UNLOGGED TABLE wf_log AS
SELECT ((i * 7919) % 1000000)::int AS user_id,
       timestamptz '2024-01-01 00:00+00' + (i * 6) * interval '1 second' AS ts,
       (1 + (i * 31 + i / 1000000) % 10)::int AS event
  FROM generate_series(1, $ROWS::bigint) i;
CREATE UNLOGGED TABLE wf_shuffled AS SELECT * FROM wf_log ORDER BY hashint8(extract(epoch FROM ts)::bigint);
VACUUM (FREEZE, ANALYZE) wf_log, wf_shuffled;
SQL
echo "   built in $(( $(date +%s) - start ))s; table size: $($PSQL -d "$DB" -At -c "SELECT pg_size_pretty(pg_table_size('wf_log'))")"

FUNNEL="funnel.window_funnel(interval '100 days', ts, event = 1, event = 2, event = 3)"
export PGOPTIONS="-c jit=off -c work_mem=1GB"

# label | count(*) query | window_funnel query
QUERIES=$(cat <<EOF
all events, time order|SELECT count(*) FROM wf_log|SELECT $FUNNEL FROM wf_log
[floor] step conditions|SELECT count(*) FROM wf_log|SELECT count(ts) FILTER (WHERE event = 1 OR event = 2 OR event = 3) FROM wf_log
all events, random order|SELECT count(*) FROM wf_shuffled|SELECT $FUNNEL FROM wf_shuffled
per user, time order|SELECT count(*) FROM (SELECT user_id, count(*) FROM wf_log GROUP BY user_id) x|SELECT count(*) FROM (SELECT user_id, $FUNNEL FROM wf_log GROUP BY user_id) x
per user, strict_order|SELECT count(*) FROM (SELECT user_id, count(*) FROM wf_log GROUP BY user_id) x|SELECT count(*) FROM (SELECT user_id, funnel.window_funnel(interval '100 days', 'strict_order', ts, event = 1, event = 2, event = 3) FROM wf_log GROUP BY user_id) x
EOF
)

# pair_ms DB REPS SQL1 SQL2: run SQL1 and SQL2 in turn REPS times in one
# session (so that a change of load on the machine hits both alike); print
# the median wall time in ms of each
pair_ms()
{
    db=$1 reps=$2 sql1=$3 sql2=$4
    {
        printf '%s\n' '\timing on'
        i=0
        while [ $i -lt "$reps" ]; do
            printf '%s\n%s\n' "$sql1" "$sql2"
            i=$((i + 1))
        done
    } | psql -X -d "$db" 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
        awk 'function median(a, k,   i, j, x) {
                 for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                 return k ? a[int((k + 1) / 2)] : "NaN"
             }
             NR % 2 == 1 { one[++n1] = $1 }
             NR % 2 == 0 { two[++n2] = $1 }
             END { print median(one, n1), median(two, n2) }'
}

echo
echo "== median of $REPS runs, ms (count(*) and window_funnel in turn); w0: no parallel workers, w2: 2 workers; ratio = window_funnel / count(*)"
printf "%-26s %8s %8s %6s %8s %8s %6s  %s\n" "query" "cnt w0" "wf w0" "w0" "cnt w2" "wf w2" "w2" "target <= 2.0x"
printf "%s\n" "$QUERIES" | while IFS='|' read -r label cq fq; do
    set -- $(PGOPTIONS="$PGOPTIONS -c max_parallel_workers_per_gather=0" pair_ms "$DB" "$REPS" "$cq;" "$fq;")
    c0=$1 f0=$2
    set -- $(PGOPTIONS="$PGOPTIONS -c max_parallel_workers_per_gather=2" pair_ms "$DB" "$REPS" "$cq;" "$fq;")
    c2=$1 f2=$2
    r0=$(ratio "$f0" "$c0")
    r2=$(ratio "$f2" "$c2")
    ok=$(awk -v a="$r0" -v b="$r2" 'BEGIN { print (a <= 2.0 && b <= 2.0) ? "ok" : "MISSED" }')
    printf "%-26s %8.0f %8.0f %6s %8.0f %8.0f %6s  %s\n" "$label" "$c0" "$f0" "$r0" "$c2" "$f2" "$r2" "$ok"
done
[ -n "${BENCH_KEEP:-}" ] || $PSQL -d postgres -c "DROP DATABASE $DB" >/dev/null
