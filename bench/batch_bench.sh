#!/bin/sh
# bench/batch_bench.sh: funnel.move_deals() against the same moves as plain
# UPDATEs, side by side (README "Moving in batches").
#
# 10,000 moves (lead -> proposal, setting the required amount) on a tracked
# table of 100k deals (rule forward, a required field):
#   (a) one UPDATE ... FROM a table of the moves (aborts on any refused row)
#   (b) one UPDATE per move, a PL/pgSQL loop (aborts on any refused row)
#   (c) one UPDATE per move under a savepoint (a PL/pgSQL exception block),
#       the hand-written way to survive refused rows
#   (d) funnel.move_deals() with the moves as a JSON array
# then (c) and (d) again with 10% of the moves refused (amount missing).
# Each run is BEGIN; the moves; ROLLBACK, so every run starts from the same
# table; medians of BENCH_BATCH_ROUNDS (default 5) runs.
#
# Runs in the cluster given by PG* variables, or in a throw-away cluster
# (pg_virtualenv) when PGPORT is not set.  Needs the extension installed.
set -eu
if [ -z "${PGPORT:-}" ]; then
    exec pg_virtualenv -v "${PG_MAJOR:-15}" "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
ROUNDS=${BENCH_BATCH_ROUNDS:-5}
DB=funnel_batch_bench
export PGOPTIONS='-c search_path=public,funnel'

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']) \gset
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']) \gset
CREATE TABLE deals (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                    stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('deals', 'b2b') \gset
INSERT INTO deals SELECT g, 'owner' || g % 50, CASE WHEN g % 4 <> 0 THEN g % 1000 END,
       (ARRAY['lead','qualified','proposal','negotiation'])[1 + g % 4]::funnel.deal_stage(b2b)
  FROM generate_series(1, 100000) g;
-- 10,000 deals in lead (id % 4 = 0, no amount), moved to proposal with an amount;
-- in moves_refused every tenth move lacks the amount
CREATE TABLE moves AS
SELECT g AS id, 'proposal'::text AS stage, (g % 1000)::numeric AS amount
  FROM generate_series(4, 40000, 4) g;
CREATE TABLE moves_refused AS
SELECT id, stage, CASE WHEN id % 40 <> 4 THEN amount END AS amount FROM moves;
CREATE TABLE batch AS
SELECT (SELECT jsonb_agg(jsonb_build_object('id', id, 'stage', stage, 'amount', amount) ORDER BY id) FROM moves) AS ok,
       (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('id', id, 'stage', stage, 'amount', amount)) ORDER BY id)
          FROM moves_refused) AS refused;
CREATE FUNCTION per_row(tbl text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE m record; n bigint := 0;
BEGIN
    FOR m IN EXECUTE format('SELECT * FROM %I ORDER BY id', tbl) LOOP
        UPDATE deals SET stage = m.stage::funnel.deal_stage(b2b), amount = m.amount WHERE id = m.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
CREATE FUNCTION per_row_savepoint(tbl text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE m record; n bigint := 0;
BEGIN
    FOR m IN EXECUTE format('SELECT * FROM %I ORDER BY id', tbl) LOOP
        BEGIN
            UPDATE deals SET stage = m.stage::funnel.deal_stage(b2b), amount = m.amount WHERE id = m.id;
            n := n + 1;
        EXCEPTION WHEN integrity_constraint_violation OR data_exception THEN
            NULL;
        END;
    END LOOP;
    RETURN n;
END $$;
VACUUM ANALYZE;
SQL

# run_ms SQL: median wall time of SQL (one statement) in BEGIN ... ROLLBACK
run_ms()
{
    i=0
    while [ $i -lt "$ROUNDS" ]; do
        printf '%s\n' 'BEGIN;' '\timing on' "$1" '\timing off' 'ROLLBACK;'
        i=$((i + 1))
    done | psql -X -q -v ON_ERROR_STOP=1 -d $DB 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
        sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "NaN"; else print a[int((NR + 1) / 2)] }'
}

# the moves must do what they claim before they are timed
n=$(psql -X -At -d $DB -c "BEGIN" -c "SELECT count(*) FILTER (WHERE status = 'moved') || '/' || count(*) FILTER (WHERE status = 'refused') FROM funnel.move_deals('deals', (SELECT refused FROM batch))" -c "ROLLBACK" | sed -n 2p)
[ "$n" = "9000/1000" ] || { echo "move_deals gave moved/refused $n, not 9000/1000"; exit 1; }

a=$(run_ms "UPDATE deals d SET stage = m.stage::funnel.deal_stage(b2b), amount = m.amount FROM moves m WHERE d.id = m.id;")
b=$(run_ms "SELECT per_row('moves');")
c=$(run_ms "SELECT per_row_savepoint('moves');")
d=$(run_ms "SELECT count(*) FROM funnel.move_deals('deals', (SELECT ok FROM batch));")
cr=$(run_ms "SELECT per_row_savepoint('moves_refused');")
dr=$(run_ms "SELECT count(*) FROM funnel.move_deals('deals', (SELECT refused FROM batch));")

echo "10,000 moves on a tracked table of 100k deals (median of $ROUNDS, ms):"
printf '  (a) one UPDATE ... FROM               %8.1f\n' "$a"
printf '  (b) per-row UPDATEs                   %8.1f   %s x (a)\n' "$b" "$(ratio "$b" "$a")"
printf '  (c) per-row UPDATEs with savepoints   %8.1f   %s x (a)\n' "$c" "$(ratio "$c" "$a")"
printf '  (d) funnel.move_deals()               %8.1f   %s x (a), %s x (c)\n' "$d" "$(ratio "$d" "$a")" "$(ratio "$d" "$c")"
echo "the same with 1,000 of them refused (required field empty):"
printf '  (c) per-row UPDATEs with savepoints   %8.1f\n' "$cr"
printf '  (d) funnel.move_deals()               %8.1f   %s x (c), %s x (a)\n' "$dr" "$(ratio "$dr" "$cr")" "$(ratio "$dr" "$a")"
