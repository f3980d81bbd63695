#!/bin/sh
# bench/replica_identity_bench.sh: what REPLICA IDENTITY FULL on a history
# costs a move (issue 22.2: funnel gives the history of a Citus distributed
# table REPLICA IDENTITY FULL, so that Citus can move its shards online).
#
#   (b)  pgbench -M prepared, 2 clients: random single-deal stage moves on
#        100k deals of a tracked table, history with the default replica
#        identity (today's speed)
#   (ri) the same, history with REPLICA IDENTITY FULL
#   and the WAL written per move by each (pg_current_wal_lsn() around a
#   fixed number of moves in one session).
#
# The old row is logged only under wal_level = logical: run by hand (its own
# pg_virtualenv, wal_level = logical) for the cost Citus clusters pay; under
# bench/run-bench.sh (wal_level = replica) both variants should match.
# BENCH_SECONDS (default 8), BENCH_ROUNDS (default 5; medians reported).
set -eu
if [ -z "${PGPORT:-}" ]; then
    exec pg_virtualenv -v "${PG_MAJOR:-15}" -o 'wal_level=logical' "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
SECONDS_PER_RUN=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-5}
DEALS=100000
MOVES=20000
bench_db funnel_ri_bench
$P <<SQL
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']);
CREATE TABLE deals_b (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                      stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO deals_b SELECT g, 'owner' || g % 50, g % 1000,
       (ARRAY['lead','qualified','proposal','negotiation'])[1 + g % 4]
  FROM generate_series(1, $DEALS) g;
CREATE TABLE deals_ri (LIKE deals_b INCLUDING ALL);
INSERT INTO deals_ri SELECT * FROM deals_b;
SELECT funnel.track('deals_b', 'b2b', rule => 'any');
SELECT funnel.track('deals_ri', 'b2b', rule => 'any');
ALTER TABLE deals_ri_stage_history REPLICA IDENTITY FULL;
VACUUM ANALYZE;
SQL

for t in b ri; do
    for s in lead qualified proposal negotiation won lost; do
        printf '\\set id random(1, %s)\nUPDATE deals_%s SET stage = '\''%s'\'' WHERE id = :id;\n' \
            "$DEALS" "$t" "$s" > "$WORK/move_${t}_$s.sql"
    done
done

# WAL bytes per move: MOVES moves, one per transaction, after a checkpoint
# (full-page images: the first change of each page after it)
wal_per_move()
{
    $P -c "CHECKPOINT"
    $P -At <<SQL
SELECT pg_current_wal_lsn() AS start \\gset
DO \$\$
DECLARE
    i integer;
BEGIN
    FOR i IN 1..$MOVES LOOP
        UPDATE deals_$1 SET stage = (ARRAY['lead','qualified','proposal','negotiation'])[1 + (i + id) % 4]::funnel.deal_stage(b2b)
         WHERE id = 1 + (i * 7919) % $DEALS;
        COMMIT;
    END LOOP;
END
\$\$;
SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), :'start') / $MOVES);
SQL
}

: > "$WORK/rounds"
r=1
while [ $r -le "$ROUNDS" ]; do
    b=$(variant_tps b); ri=$(variant_tps ri)
    echo "round $r: (b) $b  (ri) $ri tps"
    echo "$b $ri" >> "$WORK/rounds"
    r=$((r + 1))
done
wb=$(wal_per_move b); wri=$(wal_per_move ri)
$P -At -c "SELECT 'history check (ri): ' || count(*) || ' problems' FROM funnel.check_history('deals_ri')"

echo
echo "replica identity of the history ($(nproc) cores, wal_level = $($P -At -c 'SHOW wal_level'), ${SECONDS_PER_RUN}s x $ROUNDS rounds, $DEALS deals)"
awk -v wb="$wb" -v wri="$wri" "$AWK_MEDIAN"'
{ n++; vb[n] = $1; vri[n] = $2; r[n] = $2 / $1 }
END {
    printf "  (b)  tracked, default identity   %9.0f tps   %6d WAL bytes per move\n", median(vb, n), wb;
    printf "  (ri) REPLICA IDENTITY FULL       %9.0f tps   %6d WAL bytes per move   (ri)/(b) = %.2f\n",
           median(vri, n), wri, median(r, n);
}' "$WORK/rounds"
[ -n "${BENCH_KEEP:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
