#!/bin/sh
# bench/track_many_bench.sh: a tracked move in a deals table of three
# pipelines (issue 19.4), side by side with a plain UPDATE and a
# hand-written PL/pgSQL trigger.
#
#   (a) pgbench -M prepared, 2 clients: random single-deal moves on 100k
#       deals of three pipelines (b2b, retail, partner, sharing every stage
#       name) in an untracked table: to a random stage of a random
#       pipeline, so two moves in three change the deal's pipeline
#   (m) the same moves on the table tracked by funnel.track(pipelines =>
#       ARRAY['b2b','retail','partner'], rule => 'any'), moves between
#       pipelines allowed by allow-list entries from '*'
#   (b) for comparison, today's one-pipeline tracking: a table of b2b deals
#       tracked by funnel.track('b2b', rule => 'any'), random moves among
#       the six b2b stages
#   (c) the same with a hand-written PL/pgSQL trigger that closes the open
#       visit and inserts the next (usual layout: partial unique index on
#       the open visit), checking nothing
#
# Targets: (m)/(a) >= 0.61, (m)/(c) >= 1.20.  Runs in the cluster given by
# PG* variables, or in a throw-away cluster (pg_virtualenv) when PGPORT is
# not set.  Needs the extension installed.  BENCH_SECONDS (default 8) per
# pgbench run, BENCH_ROUNDS (default 5) interleaved rounds of a, m, b, c
# (medians are reported: the machine may be shared).
set -eu
if [ -z "${PGPORT:-}" ]; then
    exec pg_virtualenv -v "${PG_MAJOR:-15}" -o 'max_locks_per_transaction=256' "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
SECONDS_PER_RUN=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-5}
DEALS=100000
export PGOPTIONS='-c search_path=public,funnel'
PIPELINES="b2b retail partner"
STAGES="lead qualified proposal negotiation won lost"

bench_db funnel_bench_many

$P <<SQL
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline(p, ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75])
  FROM unnest(ARRAY['b2b','retail','partner']) p;
-- every stage of another pipeline may be entered from any stage
SELECT funnel.allow_transition(f, '*', t || ':' || s)
  FROM unnest(ARRAY['b2b','retail','partner']) f, unnest(ARRAY['b2b','retail','partner']) t,
       unnest(ARRAY['lead','qualified','proposal','negotiation','won','lost']) s
 WHERE f <> t;
CREATE TABLE deals_a (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                      close_date date, stage funnel.deal_stage NOT NULL);
CREATE TABLE deals_m (LIKE deals_a INCLUDING ALL);
CREATE TABLE deals_c (LIKE deals_a INCLUDING ALL);
CREATE TABLE deals_b (LIKE deals_a INCLUDING ALL);
INSERT INTO deals_a SELECT g, 'owner' || g % 50, g % 1000, NULL,
       ((ARRAY['b2b','retail','partner'])[1 + g % 3] || ':' ||
        (ARRAY['lead','qualified','proposal','negotiation'])[1 + g / 3 % 4])::funnel.deal_stage
  FROM generate_series(1, $DEALS) g;
INSERT INTO deals_m SELECT * FROM deals_a;
INSERT INTO deals_c SELECT * FROM deals_a;
INSERT INTO deals_b SELECT id, owner, amount, close_date, ('b2b:' || funnel.stage_name(stage))::funnel.deal_stage FROM deals_a;
SELECT funnel.track('deals_b', 'b2b', rule => 'any');

-- (m) funnel, three pipelines in one table
SELECT funnel.track('deals_m', pipelines => ARRAY['b2b','retail','partner'], rule => 'any');

-- (c) hand-written PL/pgSQL, usual layout
$(plpgsql_tracking_sql deals_c)
VACUUM ANALYZE;
SQL

# one pgbench script per target stage (18), picked at random per transaction
for t in a m c; do
    for p in $PIPELINES; do
        for s in $STAGES; do
            move_script "$t" "$p" "$s"
        done
    done
done
for s in $STAGES; do
    move_script b b2b "$s"
done

: > "$WORK/rounds"
r=1
while [ $r -le "$ROUNDS" ]; do
    a=$(variant_tps a); m=$(variant_tps m); b=$(variant_tps b); c=$(variant_tps c)
    echo "round $r: (a) $a  (m) $m  (b) $b  (c) $c tps"
    echo "$a $m $c $b" >> "$WORK/rounds"
    r=$((r + 1))
done

$P -At <<SQL
SELECT 'history check (m): ' || count(*) || ' problems' FROM funnel.check_history('deals_m');
SELECT 'moves between pipelines (m): ' || count(*) || ' of ' || (SELECT count(*) FROM deals_m_stage_history WHERE left_at IS NOT NULL)
  FROM (SELECT funnel.pipeline_of(stage) AS p, lag(funnel.pipeline_of(stage)) OVER (PARTITION BY deal_id ORDER BY entered_at, left_at NULLS LAST) AS prev
          FROM deals_m_stage_history) v
 WHERE v.p <> v.prev;
SQL

echo
echo "funnel tracking benchmark, three pipelines in one table ($(nproc) cores, ${SECONDS_PER_RUN}s x $ROUNDS rounds per variant, $DEALS deals)"
awk "$AWK_MEDIAN"'
{ n++; va[n] = $1; vm[n] = $2; vc[n] = $3; vb[n] = $4;
  rma[n] = $2 / $1; rmc[n] = $2 / $3; rba[n] = $4 / $1; rmb[n] = $2 / $4 }
END {
    printf "  medians over %d interleaved rounds (tps; ratios: median of the per-round ratios)\n", n;
    printf "  (a) untracked UPDATE              %9.0f tps\n", median(va, n);
    printf "  (m) funnel.track, three pipelines %9.0f tps   (m)/(a) = %.2f  (target >= 0.61)\n", median(vm, n), median(rma, n);
    printf "  (b) funnel.track, one pipeline    %9.0f tps   (b)/(a) = %.2f, (m)/(b) = %.2f\n", median(vb, n), median(rba, n), median(rmb, n);
    printf "  (c) PL/pgSQL, usual layout        %9.0f tps   (m)/(c) = %.2f  (target >= 1.20)\n", median(vc, n), median(rmc, n);
}' "$WORK/rounds"
[ -n "${BENCH_KEEP:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
