#!/bin/sh
# bench/track_bench.sh: what stage tracking costs, measured side by side.
#
#   (a)  pgbench -M prepared, 2 clients: random single-deal stage moves on
#        100k deals in an untracked table (the floor)
#   (b)  the same moves on a table tracked by funnel.track(rule => 'any')
#   (b2) the same, stage column bound to the pipeline (funnel.deal_stage(b2b)):
#        no BEFORE trigger
#   (c)  the same with a hand-written PL/pgSQL trigger that closes the open
#        visit and inserts the next, on a history table laid out the usual
#        way (partial unique index on the open visit)
#   (c2) the same PL/pgSQL trigger on funnel's history layout (no partial
#        index, fillfactor 80), to separate layout from implementation
#   COPY of 1M deals into an empty untracked vs tracked table, with the
#   brief's unbound stage column and with a bound one.
#
# Runs in the cluster given by PG* variables, or in a throw-away cluster
# (pg_virtualenv) when PGPORT is not set.  Needs the extension installed.
# BENCH_SECONDS (default 8) per pgbench run, BENCH_ROUNDS (default 5)
# rounds of a, b, c, c2 in turn (medians are reported: the machine may be
# shared); BENCH_COPY_ROWS (default 1000000).
set -eu
if [ -z "${PGPORT:-}" ]; then
    exec pg_virtualenv -v "${PG_MAJOR:-15}" -o 'max_locks_per_transaction=256' "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
SECONDS_PER_RUN=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-5}
COPY_ROWS=${BENCH_COPY_ROWS:-1000000}
DEALS=100000
export PGOPTIONS='-c search_path=public,funnel'
bench_db funnel_bench

$P <<SQL
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
CREATE TABLE deals_a (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                      close_date date, stage funnel.deal_stage NOT NULL);
CREATE TABLE deals_b (LIKE deals_a INCLUDING ALL);
CREATE TABLE deals_c (LIKE deals_a INCLUDING ALL);
CREATE TABLE deals_c2 (LIKE deals_a INCLUDING ALL);
CREATE TABLE deals_bb (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                       close_date date, stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO deals_a SELECT g, 'owner' || g % 50, g % 1000, NULL,
       (ARRAY['b2b:lead','b2b:qualified','b2b:proposal','b2b:negotiation'])[1 + g % 4]::funnel.deal_stage
  FROM generate_series(1, $DEALS) g;
INSERT INTO deals_b SELECT * FROM deals_a;
INSERT INTO deals_c SELECT * FROM deals_a;
INSERT INTO deals_c2 SELECT * FROM deals_a;
INSERT INTO deals_bb SELECT * FROM deals_a;

-- (b) funnel
SELECT funnel.track('deals_b', 'b2b', rule => 'any');
-- (b2) the same with the stage column bound to the pipeline: no BEFORE trigger
SELECT funnel.track('deals_bb', 'b2b', rule => 'any');

-- (c) hand-written PL/pgSQL, usual layout
$(plpgsql_tracking_sql deals_c)

-- (c2) the same trigger on funnel's layout
CREATE TABLE deals_c2_history (LIKE deals_c_history INCLUDING DEFAULTS) WITH (fillfactor = 80);
CREATE INDEX ON deals_c2_history (deal_id, entered_at);
CREATE INDEX ON deals_c2_history (stage, entered_at);
INSERT INTO deals_c2_history SELECT * FROM deals_c_history;

CREATE FUNCTION plpgsql_track_c2() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    UPDATE deals_c2_history SET left_at = greatest(now(), entered_at)
     WHERE deal_id = NEW.id AND left_at IS NULL;
    INSERT INTO deals_c2_history (deal_id, stage, entered_at) VALUES (NEW.id, NEW.stage, now());
    RETURN NULL;
END
\$\$;
CREATE TRIGGER track AFTER UPDATE ON deals_c2 FOR EACH ROW
    WHEN (OLD.stage IS DISTINCT FROM NEW.stage) EXECUTE FUNCTION plpgsql_track_c2();
VACUUM ANALYZE;
SQL

# one pgbench script per target stage, picked at random per transaction
for t in a b bb c c2; do
    for s in lead qualified proposal negotiation won lost; do
        move_script "$t" b2b "$s"
    done
done

: > "$WORK/rounds"
r=1
while [ $r -le "$ROUNDS" ]; do
    a=$(variant_tps a); b=$(variant_tps b); bb=$(variant_tps bb); c=$(variant_tps c); c2=$(variant_tps c2)
    echo "round $r: (a) $a  (b) $b  (b2) $bb  (c) $c  (c2) $c2 tps"
    echo "$a $b $c $c2 $bb" >> "$WORK/rounds"
    r=$((r + 1))
done

$P -At <<SQL
SELECT 'history check (b): ' || count(*) || ' problems' FROM funnel.check_history('deals_b');
SELECT 'HOT share of visit closes (b): ' || round(100.0 * n_tup_hot_upd / greatest(n_tup_upd, 1)) || '%'
  FROM pg_stat_user_tables WHERE relname = 'deals_b_stage_history';
SELECT 'HOT share of visit closes (c, partial unique index): ' || round(100.0 * n_tup_hot_upd / greatest(n_tup_upd, 1)) || '%'
  FROM pg_stat_user_tables WHERE relname = 'deals_c_history';
SQL

# COPY of COPY_ROWS new deals: untracked vs tracked (same table definition)
$P -c "\\copy (SELECT g, 'owner' || g % 50, g % 1000, NULL, (ARRAY['b2b:lead','b2b:qualified','b2b:proposal','b2b:negotiation','b2b:won','b2b:lost'])[1 + g % 6] FROM generate_series(1, $COPY_ROWS) g) TO '$WORK/deals.csv' WITH (FORMAT csv)"

copy_ms()
{
    # $1 table, $2 1 to track it, $3 table to copy the definition of
    $P -c "DROP TABLE IF EXISTS $1, $1_stage_history" \
       -c "CREATE TABLE $1 (LIKE ${3:-deals_a} INCLUDING ALL)"
    if [ "$2" = 1 ]; then
        $P -c "SELECT funnel.track('$1', 'b2b', rule => 'any')" >/dev/null
    fi
    $P -c "CHECKPOINT"
    start=$(date +%s%N)
    $P -c "\\copy $1 FROM '$WORK/deals.csv' WITH (FORMAT csv)"
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}

cu1=$(copy_ms copy_untracked 0); ct1=$(copy_ms copy_tracked 1)
cu2=$(copy_ms copy_untracked 0); ct2=$(copy_ms copy_tracked 1)
$P -At -c "SELECT 'history rows after COPY: ' || count(*) FROM copy_tracked_stage_history"
# the same with the stage column bound to the pipeline (no BEFORE trigger)
bu1=$(copy_ms copy_untracked 0 deals_bb); bt1=$(copy_ms copy_tracked 1 deals_bb)
bu2=$(copy_ms copy_untracked 0 deals_bb); bt2=$(copy_ms copy_tracked 1 deals_bb)

echo
echo "funnel tracking benchmark ($(nproc) cores, ${SECONDS_PER_RUN}s x $ROUNDS rounds per variant, $DEALS deals)"
awk -v cu1="$cu1" -v cu2="$cu2" -v ct1="$ct1" -v ct2="$ct2" -v rows="$COPY_ROWS" \
    -v bu1="$bu1" -v bu2="$bu2" -v bt1="$bt1" -v bt2="$bt2" "$AWK_MEDIAN"'
{ n++; va[n] = $1; vb[n] = $2; vc[n] = $3; vc2[n] = $4; vbb[n] = $5;
  rba[n] = $2 / $1; rbba[n] = $5 / $1; rbc[n] = $2 / $3; rbc2[n] = $2 / $4 }
END {
    a = median(va, n); b = median(vb, n); c = median(vc, n); c2 = median(vc2, n); bb = median(vbb, n);
    printf "  medians over %d interleaved rounds (tps; ratios: median of the per-round ratios)\n", n;
    printf "  (a)  untracked UPDATE            %9.0f tps\n", a;
    printf "  (b)  funnel.track (C)            %9.0f tps   (b)/(a) = %.2f  (target >= 0.75)\n", b, median(rba, n);
    printf "  (b2) funnel.track, bound column  %9.0f tps   (b2)/(a) = %.2f\n", bb, median(rbba, n);
    printf "  (c)  PL/pgSQL, usual layout      %9.0f tps   (b)/(c) = %.2f  (target >= 1.20)\n", c, median(rbc, n);
    printf "  (c2) PL/pgSQL, funnel layout     %9.0f tps   (b)/(c2) = %.2f\n", c2, median(rbc2, n);
    cu = (cu1 + cu2) / 2; ct = (ct1 + ct2) / 2;
    printf "  COPY %d deals untracked       %9.0f ms  (%d, %d)\n", rows, cu, cu1, cu2;
    printf "  COPY %d deals tracked         %9.0f ms  (%d, %d)   tracked/untracked = %.2f  (target <= 1.60)\n", rows, ct, ct1, ct2, ct / cu;
    bu = (bu1 + bu2) / 2; bt = (bt1 + bt2) / 2;
    printf "  bound stage column: untracked %9.0f ms, tracked %.0f ms   tracked/untracked = %.2f\n", bu, bt, bt / bu;
}' "$WORK/rounds"
[ -n "${BENCH_KEEP:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
