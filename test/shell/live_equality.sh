#!/bin/sh
# test/shell/live_equality.sh: live summaries (issue 23) equal the scan-based
# aggregates at every snapshot.  A NOSUPERUSER table owner enables them on a
# tracked table with a dimension (owner) and an amount; then (1) a seeded
# random workload in one session: single and bulk moves, two moves of a deal
# in one transaction, rolled-back moves, owner and amount changes, deletes,
# re-inserted ids, TRUNCATE, compactions; (2) pgbench: 4 movers (also
# deleting, changing owners and truncating), a compactor and a checker that compares inside one REPEATABLE READ snapshot
# while the movers run.  The reference is computed from the history and the
# deals table without the live tables: funnel.report(funnel.funnel(journey,
# amount)), percentile_cont over left_at - entered_at, win rate counted by
# hand; and funnel.live_check() must find nothing.
set -eu
DB=funnel_live_equality
SECONDS_RUN=${LIVE_EQUALITY_SECONDS:-15}
WORK=$(mktemp -d /tmp/funnel-live.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

SU_PASSWORD=${PGPASSWORD:-}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS live_owner" \
     -c "DROP ROLE IF EXISTS live_other" -c "CREATE DATABASE $DB" \
     -c "CREATE ROLE live_owner LOGIN NOSUPERUSER PASSWORD 'live'" \
     -c "CREATE ROLE live_other LOGIN NOSUPERUSER PASSWORD 'live'"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
GRANT CREATE ON SCHEMA public TO live_owner;
GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA public TO live_other;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
    funnel.enable_live(regclass, name[], name), funnel.disable_live(regclass) TO live_owner;
GRANT EXECUTE ON FUNCTION funnel.disable_live(regclass) TO live_other;
SQL
export PGPASSWORD=live
P="psql -X -q -At -v ON_ERROR_STOP=1 -U live_owner -d $DB"
$P <<'SQL'
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                    owner text, amount numeric);
INSERT INTO deals SELECT g, 'lead', 'o' || (g % 3), g * 10 FROM generate_series(1, 40) g;
SELECT funnel.track('deals', 'b2b', rule => 'any');
INSERT INTO deals SELECT g, 'qualified', 'o' || (g % 3), NULL FROM generate_series(41, 60) g;
SELECT funnel.enable_live('deals', '{owner}', 'amount');

-- the reference: the history and the deals, never the live tables
CREATE VIEW ref_deals AS
SELECT d.id, d.owner, d.amount, h.j, (funnel.started_at(h.j) AT TIME ZONE 'UTC')::date AS day
  FROM deals d
  JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j
          FROM deals_stage_history GROUP BY deal_id) h ON h.deal_id = d.id;

-- mismatches between live and reference for one day range and owner filter
CREATE FUNCTION mismatches(f date, t date, own text, filter jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    m bigint;
BEGIN
    WITH ref AS (SELECT r.* FROM funnel.report((SELECT funnel.funnel(j, amount) FROM ref_deals
                   WHERE (f IS NULL OR day >= f) AND (t IS NULL OR day <= t)
                     AND (filter IS NULL OR owner IS NOT DISTINCT FROM own))) r),
         live AS (SELECT * FROM funnel.live_report('deals', f, t, filter))
    SELECT count(*) INTO m FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                                 UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
    IF m > 0 THEN RAISE WARNING 'report differs (% rows) for % % %', m, f, t, filter; END IF;
    n := n + m;
    FOR fr IN 1 .. 3 LOOP
        WITH ref AS (SELECT h.stage, count(*) AS c,
                            justify_hours(percentile_cont(CASE fr WHEN 1 THEN 0.5 WHEN 2 THEN 0.9 ELSE 0.0 END)
                                          WITHIN GROUP (ORDER BY h.left_at - h.entered_at)) AS p
                       FROM deals_stage_history h JOIN ref_deals r ON r.id = h.deal_id
                      WHERE h.left_at IS NOT NULL
                        AND (f IS NULL OR r.day >= f) AND (t IS NULL OR r.day <= t)
                        AND (filter IS NULL OR r.owner IS NOT DISTINCT FROM own)
                      GROUP BY h.stage),
             live AS (SELECT * FROM funnel.live_time_in_stage_percentile('deals',
                               CASE fr WHEN 1 THEN 0.5 WHEN 2 THEN 0.9 ELSE 0.0 END, f, t, filter))
        SELECT count(*) INTO m FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                                     UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
        IF m > 0 THEN RAISE WARNING 'percentile % differs (% rows) for % % %', fr, m, f, t, filter; END IF;
        n := n + m;
    END LOOP;
    SELECT count(*) INTO m
      FROM (SELECT (SELECT CASE WHEN count(*) FILTER (WHERE o <> 'open') > 0
                                THEN count(*) FILTER (WHERE o = 'won')::numeric
                                     / count(*) FILTER (WHERE o <> 'open') END
                      FROM (SELECT funnel.outcome(j) AS o FROM ref_deals
                             WHERE (f IS NULL OR day >= f) AND (t IS NULL OR day <= t)
                               AND (filter IS NULL OR owner IS NOT DISTINCT FROM own)) x) AS a,
                   funnel.live_win_rate('deals', f, t, filter) AS b) y
     WHERE a IS DISTINCT FROM b;
    IF m > 0 THEN RAISE WARNING 'win rate differs for % % %', f, t, filter; END IF;
    RETURN n + m;
END
$$;

-- every comparison: all, per owner (and NULL owner), per day range, live_check
CREATE FUNCTION all_mismatches() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    d0 date;
    d1 date;
BEGIN
    SELECT min(day), max(day) INTO d0, d1 FROM ref_deals;
    n := mismatches(NULL, NULL, NULL, NULL)
       + mismatches(NULL, NULL, 'o1', '{"owner": "o1"}')
       + mismatches(NULL, NULL, 'o2', '{"owner": "o2"}')
       + mismatches(NULL, NULL, NULL, '{"owner": null}')
       + mismatches(d0, d0, NULL, NULL)
       + mismatches(d0 + 1, d1, 'o0', '{"owner": "o0"}');
    n := n + (SELECT count(*) FROM funnel.live_check('deals'));
    RETURN n;
END
$$;
SQL

check() {
    got=$($P -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT all_mismatches()" -c "COMMIT")
    [ "$got" = "0" ] || fail "$1: $got mismatches"
    echo "ok: $1"
}
check "after enable_live"

# (1) a seeded random workload, checked after every step; entry days vary
# through backdated first visits (an INSERT's visit is now(), so the days
# come from rows moved in the past: history rows are shifted by whole days)
$P <<'SQL'
SELECT setseed(0.23);
-- spread the first visits over a few days (as an import would), then rebuild
UPDATE deals_stage_history SET entered_at = entered_at - (deal_id % 4) * interval '1 day' - interval '1 hour';
SELECT funnel.live_rebuild('deals') > 0;
SQL
check "after rebuild over backdated visits"

for step in 1 2 3 4 5 6 7 8 9 10 11 12; do
    $P >/dev/null <<SQL
SELECT setseed(0.$step);
CREATE TEMP TABLE pick AS SELECT id FROM deals ORDER BY random() LIMIT 8;
-- single moves
UPDATE deals SET stage = (ARRAY['lead','qualified','proposal','negotiation','won','lost']::funnel.deal_stage(b2b)[])[1 + floor(random() * 6)::int]
 WHERE id IN (SELECT id FROM pick LIMIT 3);
-- a bulk move
UPDATE deals SET stage = 'proposal' WHERE id % 7 = $step % 7;
-- two moves of one deal in one transaction (zero-length visit)
BEGIN;
UPDATE deals SET stage = 'negotiation' WHERE id = (SELECT min(id) FROM pick);
UPDATE deals SET stage = 'won' WHERE id = (SELECT min(id) FROM pick);
COMMIT;
-- a rolled-back move
BEGIN;
UPDATE deals SET stage = 'lost', owner = 'zz' WHERE id IN (SELECT id FROM pick);
ROLLBACK;
-- an owner change and an amount change, with and without a move
UPDATE deals SET owner = 'o' || (random() * 3)::int WHERE id = (SELECT max(id) FROM pick);
UPDATE deals SET owner = NULL, stage = 'qualified' WHERE id = (SELECT id FROM pick OFFSET 3 LIMIT 1);
UPDATE deals SET amount = round((random() * 1000)::numeric, 3) WHERE id IN (SELECT id FROM pick OFFSET 4 LIMIT 2);
-- a delete, and an id deleted before coming back (its old visits count again)
DELETE FROM deals WHERE id = (SELECT id FROM pick OFFSET 6 LIMIT 1);
INSERT INTO deals VALUES (100 + $step, 'lead', 'o1', 5), ($step * 3 + 1, 'qualified', 'o2', 7)
    ON CONFLICT (id) DO NOTHING;
SQL
    check "random step $step"
    if [ $((step % 4)) -eq 0 ]; then
        $P -c "SELECT funnel.live_compact('deals')" >/dev/null
        check "compaction after step $step"
    fi
done

$P -c "TRUNCATE deals" >/dev/null
check "after TRUNCATE"
$P -c "INSERT INTO deals SELECT g, 'lead', 'o' || (g % 3), g FROM generate_series(1, 50) g" >/dev/null
check "after re-inserting truncated ids"

# (2) concurrent movers (moves, two moves in one transaction, rollbacks,
# deletes and re-inserts, owner changes, TRUNCATE and re-inserts), a
# compactor and a checker (pgbench); skip it with
# LIVE_EQUALITY_CONCURRENT=0 (it once found keys re-inserted before their
# last move leaving two open visits: doc/design.md "Live summaries")
if [ "${LIVE_EQUALITY_CONCURRENT:-1}" = 1 ]; then
cat > "$WORK/move.sql" <<'SQL'
\set id random(1, 50)
\set s random(1, 6)
UPDATE deals SET stage = (ARRAY['lead','qualified','proposal','negotiation','won','lost']::funnel.deal_stage(b2b)[])[:s] WHERE id = :id;
SQL
cat > "$WORK/twice.sql" <<'SQL'
\set id random(1, 50)
\set o random(0, 3)
BEGIN;
UPDATE deals SET stage = 'negotiation', owner = 'o' || :o WHERE id = :id;
UPDATE deals SET stage = 'won', amount = :o * 100 WHERE id = :id;
COMMIT;
SQL
cat > "$WORK/rollback.sql" <<'SQL'
\set id random(1, 50)
BEGIN;
UPDATE deals SET stage = 'lost', owner = 'x' WHERE id = :id;
DELETE FROM deals WHERE id = :id + 1;
ROLLBACK;
SQL
cat > "$WORK/churn.sql" <<'SQL'
\set id random(1, 50)
BEGIN;
DELETE FROM deals WHERE id = :id;
INSERT INTO deals VALUES (:id, 'qualified', 'o2', 42) ON CONFLICT (id) DO NOTHING;
COMMIT;
SQL
cat > "$WORK/owner.sql" <<'SQL'
\set id random(1, 50)
\set o random(0, 3)
UPDATE deals SET owner = CASE WHEN :o = 3 THEN NULL ELSE 'o' || :o END WHERE id = :id;
SQL
# TRUNCATE keeps the history and closes the open visits; the ids come back
cat > "$WORK/truncate.sql" <<'SQL'
BEGIN;
TRUNCATE deals;
INSERT INTO deals SELECT g, 'lead', 'o' || (g % 3), g FROM generate_series(1, 50) g;
COMMIT;
SQL
cat > "$WORK/compact.sql" <<'SQL'
SELECT funnel.live_compact('deals');
\sleep 200 ms
SQL
# TRUNCATE is not MVCC-safe: the tables are locked before the snapshot
cat > "$WORK/check.sql" <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ;
LOCK TABLE deals, deals_stage_history, deals_stage_live IN ACCESS SHARE MODE;
SELECT 1 / (all_mismatches() = 0)::int;   -- division by zero on a mismatch
COMMIT;
SQL
pgbench -n -U live_owner -d $DB -c 4 -j 2 -T "$SECONDS_RUN" \
    -f "$WORK/move.sql@12" -f "$WORK/twice.sql@4" -f "$WORK/rollback.sql@2" -f "$WORK/churn.sql@2" \
    -f "$WORK/owner.sql@2" -f "$WORK/truncate.sql@1" \
    > "$WORK/movers.log" 2>&1 &
MOVERS=$!
pgbench -n -U live_owner -d $DB -c 1 -T "$SECONDS_RUN" -f "$WORK/compact.sql" > "$WORK/compact.log" 2>&1 &
COMPACT=$!
pgbench -n -U live_owner -d $DB -c 1 -T "$SECONDS_RUN" -f "$WORK/check.sql" > "$WORK/check.log" 2>&1 || {
    cat "$WORK/check.log"; fail "a snapshot under concurrent movers differed"; }
wait $MOVERS || { cat "$WORK/movers.log"; fail "movers failed"; }
wait $COMPACT || { cat "$WORK/compact.log"; fail "compactor failed"; }
grep -q 'aborted' "$WORK/check.log" && { cat "$WORK/check.log"; fail "checker aborted"; }
checks=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/check.log")
moves=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/movers.log")
[ "${checks:-0}" -gt 0 ] || fail "the checker ran no snapshot"
echo "ok: $checks snapshots equal while $moves mover transactions ran"
check "after the concurrent run"
fi

# not the owner: no enable_live, no rebuild
out=$(psql -X -q -At -U live_other -d $DB -c "SELECT funnel.disable_live('deals')" 2>&1 || true)
echo "$out" | grep -q 'must be owner of table deals' || fail "disable_live by another role: $out"
echo "ok: another role cannot disable the live summaries"
PGPASSWORD=$SU_PASSWORD psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE live_other" -c "DROP ROLE live_owner"
echo "live_equality: all ok"
