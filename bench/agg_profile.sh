#!/bin/sh
# bench/agg_profile.sh: load-independent cost of the funnel aggregates:
# user-space instructions per query (valgrind callgrind, a single-user
# backend, serial plans) on the bench_visits table of bench/agg_bench.sh,
# relative to count(*).  Wall-clock on a shared 2-core machine swings by 2x
# with the other users' load; instruction counts do not (they leave out the
# kernel's page copies and memory stalls, which count(*) pays too, so the
# ratios here are if anything pessimistic).
#
# Usage: a STOPPED cluster holding database funnel_bench with bench_visits:
#   (start a scratch cluster) BENCH_ROWS=500000 BENCH_BUILD_ONLY=1 BENCH_KEEP=1 sh bench/agg_bench.sh
#   (stop it) PROFILE_DATADIR=/path/to/data sh bench/agg_profile.sh      (as the postgres user)
# Not run by make bench (its name does not end in _bench.sh).
set -eu
DATADIR=${PROFILE_DATADIR:?set PROFILE_DATADIR to a stopped cluster}
BINDIR=${PROFILE_BINDIR:-$(pg_config --bindir)}
DB=${BENCH_DB:-funnel_bench}
ROWS=${PROFILE_ROWS:-500000}

# instructions of a single-user session running SQL $2 times (default 1)
session_ir()
{
    {
        printf '%s\n' "SET max_parallel_workers_per_gather = 0;" "SET jit = off;" \
            "SET work_mem = '1GB';" "SET search_path = public, funnel;"
        i=0
        while [ $i -lt "${2:-1}" ]; do printf '%s\n' "$1;"; i=$((i + 1)); done
    } > /tmp/agg_profile_q.sql
    valgrind --tool=callgrind --callgrind-out-file=/tmp/agg_profile.cg \
        "$BINDIR/postgres" --single -D "$DATADIR" "$DB" < /tmp/agg_profile_q.sql >/dev/null 2>&1
    sed -n 's/^totals: \([0-9]*\).*/\1/p' /tmp/agg_profile.cg
}

# cost of one more execution in a warm session: (run twice) - (run once),
# so library loading, catalog and buffer warm-up are left out
warm_ir()
{
    echo $(( $(session_ir "$1" 2) - $(session_ir "$1" 1) ))
}
CNT=$(warm_ir "SELECT count(*) FROM bench_visits")
printf "user-space instructions per execution (callgrind, serial, warm session, %s rows)\n" "$ROWS"
printf "%-34s %14s %9s %8s\n" "query" "instructions" "per row" "/count"
while IFS='|' read -r label sql; do
    ir=$(warm_ir "$sql")
    awk -v l="$label" -v ir="$ir" -v c="$CNT" -v rows="$ROWS" 'BEGIN {
        printf "%-34s %14d %9.1f %8.2f\n", l, ir, ir / rows, ir / c }'
done <<'QUERIES'
count(*)|SELECT count(*) FROM bench_visits
[built-in] count(stage)|SELECT count(stage) FROM bench_visits
[built-in] count(amount)|SELECT count(amount) FROM bench_visits
[built-in] count(left_at)|SELECT count(left_at) FROM bench_visits
[built-in] sum(amount)|SELECT sum(amount) FROM bench_visits
[built-in] funnel.max(stage)|SELECT funnel.max(stage) FROM bench_visits
furthest|SELECT funnel.furthest(stage) FROM bench_visits
conversion_rate|SELECT funnel.conversion_rate(stage, 'bench:qualified', 'bench:negotiation') FROM bench_visits
funnel(stage)|SELECT funnel.funnel(stage) FROM bench_visits
funnel(stage, amount) + report|SELECT r.* FROM (SELECT funnel.funnel(stage, amount) AS f FROM bench_visits) s, funnel.report(s.f) r
median_time_in_stage|SELECT funnel.median_time_in_stage(entered_at, left_at) FROM bench_visits
time_in_stage_percentile(0.9)|SELECT funnel.time_in_stage_percentile(entered_at, left_at, 0.9) FROM bench_visits
weighted_forecast(amount, stage)|SELECT funnel.weighted_forecast(amount, stage) FROM bench_visits
weighted_forecast(amount, p)|SELECT funnel.weighted_forecast(amount, p) FROM bench_visits
win_rate|SELECT funnel.win_rate(stage) FROM bench_visits
sales_velocity|SELECT funnel.sales_velocity(stage, amount, entered_at, left_at) FROM bench_visits
[plain SQL] percentile_cont(0.5)|SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) FROM bench_visits
[plain SQL] report (GROUP BY + windows)|WITH c AS (SELECT stage, count(*) AS n, sum(amount) AS a FROM bench_visits GROUP BY stage) SELECT m.stage, sum(c.n) OVER (ORDER BY m.pos DESC), sum(c.a) OVER (ORDER BY m.pos DESC) FROM bench_map m LEFT JOIN c USING (stage)
QUERIES
