-- test/pgtap/track_many_journeys.sql: journeys and reports of a deals table
-- of three pipelines (issue 19.2): funnel.journey(stage, entered_at,
-- left_at, pipeline) gives a deal's journey in each pipeline it visited;
-- the journey in a pipeline it moved out of has outcome 'moved' (neither
-- open nor lost there), checked against plain SQL over the same history;
-- text and binary forms of a moved journey; funnel(journey) and report()
-- per pipeline count the deals open, won and lost there and leave the
-- moved ones out.
BEGIN;
SELECT plan(16);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT funnel.create_pipeline(p, ARRAY['lead','qualified','proposal']) FROM unnest(ARRAY['b2b','retail','partner']) p;
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL, changed_at timestamptz);
INSERT INTO deals SELECT g, 'b2b:lead', '2024-01-01' FROM generate_series(1, 6) g;
INSERT INTO deals VALUES (7, 'retail:lead', '2024-01-01');
SELECT funnel.track('deals', pipelines => ARRAY['b2b','retail','partner'], changed_at_column => 'changed_at');
SELECT funnel.allow_transition(f, '*', t || ':lead')
  FROM unnest(ARRAY['b2b','retail','partner']) f, unnest(ARRAY['b2b','retail','partner']) t WHERE f <> t;
SELECT funnel.allow_transition('retail', '*', 'b2b:qualified');
SELECT funnel.allow_transition('b2b', 'won', 'partner:lead');

UPDATE deals SET stage = 'b2b:qualified', changed_at = '2024-01-02' WHERE id <= 6;
-- 1: b2b -> retail, won there
UPDATE deals SET stage = 'retail:lead', changed_at = '2024-01-03' WHERE id = 1;
UPDATE deals SET stage = 'retail:won', changed_at = '2024-01-04' WHERE id = 1;
-- 2: b2b -> retail -> back to b2b, open there
UPDATE deals SET stage = 'retail:lead', changed_at = '2024-01-03' WHERE id = 2;
UPDATE deals SET stage = 'b2b:qualified', changed_at = '2024-01-05' WHERE id = 2;
-- 3: lost in b2b; 4: won in b2b, then moved to partner (keeps won in b2b)
UPDATE deals SET stage = 'b2b:lost', changed_at = '2024-01-03' WHERE id = 3;
UPDATE deals SET stage = 'b2b:won', changed_at = '2024-01-03' WHERE id = 4;
UPDATE deals SET stage = 'partner:lead', changed_at = '2024-01-06' WHERE id = 4;
-- 5: b2b -> retail -> partner; 6: open in b2b, deleted
UPDATE deals SET stage = 'retail:lead', changed_at = '2024-01-03' WHERE id = 5;
UPDATE deals SET stage = 'partner:lead', changed_at = '2024-01-04' WHERE id = 5;
DELETE FROM deals WHERE id = 6;
-- 7: retail -> b2b -> retail at one instant, open in retail
UPDATE deals SET stage = 'b2b:lead', changed_at = '2024-01-07' WHERE id = 7;
UPDATE deals SET stage = 'retail:lead', changed_at = '2024-01-07' WHERE id = 7;

SELECT is_empty($$SELECT * FROM funnel.check_history('deals')$$, 'the history holds');

CREATE TEMP VIEW j AS
  SELECT p.deal_id, p.p, funnel.journey(h.stage, h.entered_at, h.left_at, p.p) AS j
    FROM (SELECT DISTINCT deal_id, funnel.pipeline_of(stage) AS p FROM deals_stage_history) p
    JOIN deals_stage_history h USING (deal_id)
   GROUP BY 1, 2;

-- plain SQL: the outcome in each pipeline from the visits alone
CREATE TEMP VIEW expected AS
  WITH own AS (
    SELECT DISTINCT ON (h.deal_id, funnel.pipeline_of(h.stage)) h.deal_id, funnel.pipeline_of(h.stage) AS p,
           h.stage, h.left_at
      FROM deals_stage_history h
     ORDER BY h.deal_id, funnel.pipeline_of(h.stage), h.entered_at DESC, funnel.stage_name(h.stage) DESC)
  SELECT o.deal_id, o.p,
         CASE WHEN funnel.kind(o.stage) = 'open' AND o.left_at IS NOT NULL
                   AND EXISTS (SELECT 1 FROM deals_stage_history x
                                WHERE x.deal_id = o.deal_id AND funnel.pipeline_of(x.stage) <> o.p
                                  AND x.entered_at >= o.left_at)
              THEN 'moved' ELSE funnel.kind(o.stage) END AS outcome
    FROM own o;

SELECT set_eq($$SELECT deal_id, p, funnel.outcome(j) FROM j$$, $$SELECT * FROM expected$$,
              'each deal''s outcome in each pipeline = plain SQL over the history');
SELECT results_eq($$SELECT deal_id, p, funnel.outcome(j), funnel.current_stage(j)::text FROM j ORDER BY 1, 2$$,
  $$VALUES (1, 'b2b', 'moved', 'retail:won'), (1, 'retail', 'won', 'retail:won'),
           (2, 'b2b', 'open', 'b2b:qualified'), (2, 'retail', 'moved', 'b2b:qualified'),
           (3, 'b2b', 'lost', 'b2b:lost'),
           (4, 'b2b', 'won', 'b2b:won'), (4, 'partner', 'open', 'partner:lead'),
           (5, 'b2b', 'moved', 'partner:lead'), (5, 'partner', 'open', 'partner:lead'), (5, 'retail', 'moved', 'partner:lead'),
           (6, 'b2b', 'open', 'b2b:qualified'),
           (7, 'b2b', 'moved', 'retail:lead'), (7, 'retail', 'open', 'retail:lead')$$,
  'moved out of an open stage: moved (current: the latest stage); won before the move: won; back again: open; deleted: as before');
SELECT is((SELECT format('%s|%s|%s|%s', funnel.furthest_stage(j), funnel.last_open_stage(j), funnel.started_at(j), funnel.closed_at(j))
             FROM j WHERE deal_id = 1 AND p = 'b2b'),
          'b2b:qualified|b2b:qualified|2024-01-01 00:00:00+00|', 'a moved journey: furthest and last open stage of its pipeline; closed_at NULL');
SELECT is((SELECT j::text FROM j WHERE deal_id = 1 AND p = 'b2b'),
          '{"pipeline": "b2b", "outcome": "moved", "current": "retail:won", "current_entered_at": "2024-01-04T00:00:00+00:00", "furthest": "qualified", "last_open": "qualified", "last_open_entered_at": "2024-01-02T00:00:00+00:00", "first_entered_at": "2024-01-01T00:00:00+00:00"}',
          'text form: outcome moved, the current stage qualified');
SELECT is((SELECT count(*)::int FROM j WHERE j::text::funnel.journey::text <> j::text), 0, 'every journey reads back from its text form');
SELECT is((SELECT substr(funnel_internal.journey_send(j), 1, 1) FROM j WHERE deal_id = 1 AND p = 'b2b'), '\x02'::bytea,
          'binary form of a moved journey: version 2');
SELECT is((SELECT substr(funnel_internal.journey_send(j), 1, 1) FROM j WHERE deal_id = 3), '\x01'::bytea,
          'binary form of other journeys: version 1, as before');
SELECT throws_ok($$SELECT '{"pipeline": "b2b", "outcome": "open", "current": "retail:lead", "current_entered_at": "2024-01-03T00:00:00+00:00", "furthest": "qualified", "last_open": "qualified", "last_open_entered_at": "2024-01-02T00:00:00+00:00", "first_entered_at": "2024-01-01T00:00:00+00:00"}'::funnel.journey$$,
                 '22P02', 'invalid journey: outcome "open" but current stage "retail:lead" is of another pipeline',
                 'input: a stage of another pipeline needs outcome moved');
SELECT throws_ok($$SELECT '{"pipeline": "b2b", "outcome": "moved", "current": "b2b:lead", "current_entered_at": "2024-01-03T00:00:00+00:00", "furthest": "qualified", "last_open": "qualified", "last_open_entered_at": "2024-01-02T00:00:00+00:00", "first_entered_at": "2024-01-01T00:00:00+00:00"}'::funnel.journey$$,
                 '22P02', 'invalid journey: current stage "b2b:lead" is not of another pipeline',
                 'input: a qualified current stage of the journey''s own pipeline is refused');
SELECT throws_ok($$SELECT '{"pipeline": "b2b", "outcome": "moved", "current": "retail:lead", "current_entered_at": "2024-01-03T00:00:00+00:00", "furthest": null, "last_open": null, "last_open_entered_at": null, "first_entered_at": "2024-01-01T00:00:00+00:00"}'::funnel.journey$$,
                 '22P02', 'invalid journey: moved to "retail:lead" without last_open',
                 'input: a moved deal left from an open stage');
SELECT throws_ok($$SELECT funnel.journey(stage, entered_at) FROM deals_stage_history WHERE deal_id = 1$$,
                 '22023', 'funnel.journey() cannot mix stages of pipelines "b2b" and "retail"',
                 'the two-argument journey still refuses a deal''s visits of two pipelines');
SELECT throws_ok($$SELECT funnel.journey(stage, entered_at, left_at, NULL) FROM deals_stage_history$$,
                 '22004', NULL, 'a NULL pipeline is refused');
SELECT ok((SELECT funnel.journey(stage, entered_at, left_at, 'partner') IS NULL FROM deals_stage_history WHERE deal_id = 3),
          'NULL for a deal never in the pipeline');

-- funnel(journey) and report() per pipeline against plain SQL
SELECT set_eq($$SELECT r.p, r.won, r.lost, r.open FROM (SELECT p, (funnel.report(funnel.funnel(j))).* FROM j GROUP BY p) r
                 WHERE funnel.stage_name(r.stage) = 'lead'$$,
              $$SELECT p, count(*) FILTER (WHERE outcome = 'won') AS won, count(*) FILTER (WHERE outcome = 'lost') AS lost,
                       count(*) FILTER (WHERE outcome = 'open') AS open
                  FROM expected GROUP BY p$$,
              'report() per pipeline: won, lost and open deals = plain SQL; moved deals are none of them');
SELECT set_eq($$SELECT r.p, r.deals FROM (SELECT p, (funnel.report(funnel.funnel(j))).* FROM j GROUP BY p) r
                 WHERE funnel.stage_name(r.stage) = 'lead'$$,
              $$SELECT p, count(*) FILTER (WHERE outcome <> 'moved') FROM expected GROUP BY p$$,
              'report() per pipeline: the deals of the first stage leave the moved ones out');

SELECT * FROM finish();
ROLLBACK;
