#!/bin/sh
# test/shell/live_pipelines.sh: live summaries (issue 23) of a tracked table
# of several pipelines equal the scan-based aggregates when deals move
# between pipelines.  A deal contributes one journey per pipeline it
# visited (funnel.journey(stage, entered_at, left_at, pipeline): outcome
# moved in a pipeline it left), keyed by the entry day in that pipeline;
# each closed visit's duration counts in its own pipeline.  A NOSUPERUSER
# table owner enables them; then (1) a seeded random workload: moves within
# and between pipelines (also back), two moves of a deal in one
# transaction, rolled-back moves, owner changes, deletes, re-inserted ids,
# compactions; (2) pgbench: 3 movers across pipelines and a checker in one
# REPEATABLE READ snapshot while they run.  The reference reads only the
# history and the deals; funnel.live_check() must find nothing.
set -eu
DB=funnel_live_pipelines
SECONDS_RUN=${LIVE_PIPELINES_SECONDS:-8}
WORK=$(mktemp -d /tmp/funnel-live-pl.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

SU_PASSWORD=${PGPASSWORD:-}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS live_pl_owner" \
     -c "CREATE DATABASE $DB" -c "CREATE ROLE live_pl_owner LOGIN NOSUPERUSER PASSWORD 'live'"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','qualified','proposal'], ARRAY[0.2, 0.4, 0.6]);
-- any stage of one pipeline may move to any open stage of the other
SELECT funnel.allow_transition('b2b', '*', 'retail:' || s) FROM unnest(ARRAY['lead','qualified','proposal']) s;
SELECT funnel.allow_transition('retail', '*', 'b2b:' || s) FROM unnest(ARRAY['lead','qualified','proposal','negotiation']) s;
GRANT CREATE ON SCHEMA public TO live_pl_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text[], name, name, text),
    funnel.enable_live(regclass, name[], name) TO live_pl_owner;
SQL
export PGPASSWORD=live
P="psql -X -q -At -v ON_ERROR_STOP=1 -U live_pl_owner -d $DB"
$P <<'SQL'
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL, owner text, amount numeric);
INSERT INTO deals SELECT g, CASE WHEN g % 2 = 0 THEN 'b2b:lead' ELSE 'retail:lead' END,
       'o' || (g % 3), g * 10 FROM generate_series(1, 40) g;
SELECT funnel.track('deals', pipelines => ARRAY['b2b', 'retail'], rule => 'any');
-- spread the first visits over a few days
UPDATE deals_stage_history SET entered_at = entered_at - (deal_id % 4) * interval '1 day' - interval '1 hour';
SELECT funnel.enable_live('deals', '{owner}', 'amount');

-- the reference: per deal and pipeline it visited, its journey there
CREATE VIEW ref_deals AS
SELECT d.id, d.owner, d.amount, h.p, h.j, (funnel.started_at(h.j) AT TIME ZONE 'UTC')::date AS day
  FROM deals d
  JOIN (SELECT p.deal_id, p.p, funnel.journey(h.stage, h.entered_at, h.left_at, p.p) AS j
          FROM (SELECT DISTINCT deal_id, funnel.pipeline_of(stage) AS p FROM deals_stage_history) p
          JOIN deals_stage_history h USING (deal_id)
         GROUP BY 1, 2) h ON h.deal_id = d.id;

-- mismatches of one pipeline (the live filter names it) for a day range and owner
CREATE FUNCTION mismatches(pl text, f date, t date, own text, filter jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    m bigint;
BEGIN
    WITH ref AS (SELECT r.* FROM funnel.report((SELECT funnel.funnel(j, amount) FROM ref_deals
                   WHERE p = pl AND (f IS NULL OR day >= f) AND (t IS NULL OR day <= t)
                     AND (filter IS NULL OR owner IS NOT DISTINCT FROM own))) r),
         live AS (SELECT * FROM funnel.live_report('deals', f, t,
                                                   coalesce(filter, '{}') || jsonb_build_object('pipeline', pl)))
    SELECT count(*) INTO m FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                                 UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
    IF m > 0 THEN RAISE WARNING 'report differs (% rows) for % % % %', m, pl, f, t, filter; END IF;
    n := n + m;
    WITH ref AS (SELECT h.stage, count(*) AS c,
                        justify_hours(percentile_cont(0.5) WITHIN GROUP (ORDER BY h.left_at - h.entered_at)) AS p
                   FROM deals_stage_history h
                   JOIN ref_deals r ON r.id = h.deal_id AND r.p = funnel.pipeline_of(h.stage)
                  WHERE h.left_at IS NOT NULL AND r.p = pl
                    AND (f IS NULL OR r.day >= f) AND (t IS NULL OR r.day <= t)
                    AND (filter IS NULL OR r.owner IS NOT DISTINCT FROM own)
                  GROUP BY h.stage),
         live AS (SELECT * FROM funnel.live_median_time_in_stage('deals', f, t,
                                coalesce(filter, '{}') || jsonb_build_object('pipeline', pl)))
    SELECT count(*) INTO m FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                                 UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
    IF m > 0 THEN RAISE WARNING 'median differs (% rows) for % % % %', m, pl, f, t, filter; END IF;
    n := n + m;
    -- the weighted forecast over the current stages of the journeys in pl
    -- (the journey's: concurrent moves may tie, and a tie goes to the
    -- later stage), those that moved away left out
    SELECT count(*) INTO m
      FROM (SELECT (SELECT funnel.weighted_forecast(r.amount, funnel.current_stage(r.j)) FROM ref_deals r
                     WHERE r.p = pl AND funnel.outcome(r.j) <> 'moved'
                       AND (f IS NULL OR r.day >= f) AND (t IS NULL OR r.day <= t)
                       AND (filter IS NULL OR r.owner IS NOT DISTINCT FROM own)) AS a,
                   funnel.live_weighted_forecast('deals', f, t,
                       coalesce(filter, '{}') || jsonb_build_object('pipeline', pl)) AS b) y
     WHERE a IS DISTINCT FROM b;
    IF m > 0 THEN RAISE WARNING 'weighted forecast differs for % % % %', pl, f, t, filter; END IF;
    RETURN n + m;
END
$$;

CREATE FUNCTION all_mismatches() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    d0 date;
    d1 date;
    pl text;
BEGIN
    SELECT min(day), max(day) INTO d0, d1 FROM ref_deals;
    FOREACH pl IN ARRAY ARRAY['b2b', 'retail'] LOOP
        n := n + mismatches(pl, NULL, NULL, NULL, NULL)
               + mismatches(pl, NULL, NULL, 'o1', '{"owner": "o1"}')
               + mismatches(pl, d0, d0, NULL, NULL)
               + mismatches(pl, d0 + 1, d1, 'o0', '{"owner": "o0"}');
    END LOOP;
    RETURN n + (SELECT count(*) FROM funnel.live_check('deals'));
END
$$;
SQL

check() {
    got=$($P -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT all_mismatches()" -c "COMMIT" 2>"$WORK/warn") ||
        { cat "$WORK/warn"; fail "$1: error"; }
    [ "$got" = "0" ] || { cat "$WORK/warn"; fail "$1: $got mismatches"; }
    echo "ok: $1"
}
check "after enable_live"

# a report mixes no pipelines: the filter must name one
out=$($P -c "SELECT * FROM funnel.live_report('deals')" 2>&1 || true)
echo "$out" | grep -q 'ERROR:  the live summaries of public.deals hold several pipelines' ||
    fail "live_report without a pipeline: $out"
echo "$out" | grep -q 'HINT:  Name one in the filter, as in {"pipeline": "b2b"}.' || fail "hint: $out"
echo "ok: a live report of several pipelines asks for one"

# a move between pipelines, and back
$P -c "UPDATE deals SET stage = 'retail:qualified' WHERE id = 2" \
   -c "UPDATE deals SET stage = 'b2b:proposal' WHERE id = 3" >/dev/null
moved=$($P -c "SELECT count(*) FROM ref_deals WHERE funnel.outcome(j) = 'moved'")
[ "$moved" = 2 ] || fail "expected 2 moved journeys, found $moved"
check "after two moves between pipelines"
$P -c "UPDATE deals SET stage = 'b2b:negotiation' WHERE id = 2" >/dev/null
check "after a deal came back to its first pipeline"

for step in 1 2 3 4 5 6 7 8; do
    $P >/dev/null <<SQL
SELECT setseed(0.$step);
CREATE TEMP TABLE pick AS SELECT id FROM deals ORDER BY random() LIMIT 8;
-- single moves anywhere, within or across pipelines
UPDATE deals d SET stage = x.s
  FROM (SELECT id, (ARRAY['b2b:lead','b2b:qualified','b2b:proposal','b2b:negotiation','b2b:won','b2b:lost',
                           'retail:lead','retail:qualified','retail:proposal']::funnel.deal_stage[])[1 + floor(random() * 9)::int] AS s
          FROM pick LIMIT 3) x
 WHERE d.id = x.id AND (funnel.pipeline_of(x.s) = funnel.pipeline_of(d.stage) OR funnel.kind(x.s) = 'open');
-- a bulk move into the other pipeline
UPDATE deals SET stage = CASE WHEN funnel.pipeline_of(stage) = 'b2b' THEN 'retail:proposal' ELSE 'b2b:qualified' END
 WHERE id % 9 = $step % 9 AND funnel.kind(stage) = 'open';
-- two moves of one deal in one transaction, across pipelines
BEGIN;
UPDATE deals SET stage = 'retail:qualified' WHERE id = (SELECT min(id) FROM pick) AND funnel.kind(stage) = 'open';
UPDATE deals SET stage = 'b2b:negotiation' WHERE id = (SELECT min(id) FROM pick) AND funnel.kind(stage) = 'open';
UPDATE deals SET stage = 'b2b:won' WHERE id = (SELECT min(id) FROM pick) AND funnel.kind(stage) = 'open';
COMMIT;
-- a rolled-back move
BEGIN;
UPDATE deals SET stage = 'retail:lead', owner = 'zz' WHERE id IN (SELECT id FROM pick) AND funnel.kind(stage) = 'open';
ROLLBACK;
UPDATE deals SET owner = 'o' || (random() * 3)::int, stage = 'retail:lead'
 WHERE id = (SELECT max(id) FROM pick) AND funnel.kind(stage) = 'open';
DELETE FROM deals WHERE id = (SELECT id FROM pick OFFSET 6 LIMIT 1);
INSERT INTO deals VALUES (100 + $step, 'retail:lead', 'o1', 5), ($step * 3 + 1, 'b2b:qualified', 'o2', 7)
    ON CONFLICT (id) DO NOTHING;
SQL
    check "random step $step"
    if [ $((step % 3)) -eq 0 ]; then
        $P -c "SELECT funnel.live_compact('deals')" >/dev/null
        check "compaction after step $step"
    fi
done

# (2) concurrent movers across pipelines and a checker
cat > "$WORK/move.sql" <<'SQL'
\set id random(1, 40)
\set s random(1, 7)
UPDATE deals SET stage = (ARRAY['b2b:lead','b2b:qualified','b2b:proposal','b2b:negotiation',
                                'retail:lead','retail:qualified','retail:proposal']::funnel.deal_stage[])[:s]
 WHERE id = :id AND funnel.kind(stage) = 'open';
SQL
cat > "$WORK/check.sql" <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 1 / (all_mismatches() = 0)::int;   -- division by zero on a mismatch
COMMIT;
SQL
pgbench -n -U live_pl_owner -d $DB -c 3 -j 2 -T "$SECONDS_RUN" -f "$WORK/move.sql" > "$WORK/movers.log" 2>&1 &
MOVERS=$!
pgbench -n -U live_pl_owner -d $DB -c 1 -T "$SECONDS_RUN" -f "$WORK/check.sql" > "$WORK/check.log" 2>&1 || {
    cat "$WORK/check.log"; fail "a snapshot under concurrent movers differed"; }
wait $MOVERS || { cat "$WORK/movers.log"; fail "movers failed"; }
checks=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/check.log")
[ "${checks:-0}" -gt 0 ] || fail "the checker ran no snapshot"
echo "ok: $checks snapshots equal under concurrent movers across pipelines"
check "after the concurrent run"

PGPASSWORD=$SU_PASSWORD psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE live_pl_owner"
echo "live_pipelines: all ok"
