-- test/pgtap/agg_semantics.sql: the metric definitions of the product brief
-- on small hand-checked inputs (implied passage, won/lost rows, NULLs,
-- empty input, merging, exact money).
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(25);
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'], ARRAY[0.1,0.25,0.5,0.75]);

-- deals: 1 lead->proposal->won, 2 lead->lost, 3 skips to negotiation, 4 lead,
--        5 lost without an open visit, 6 qualified->lead (backward) ->qualified
CREATE TEMP TABLE h (deal int, stage funnel.deal_stage, entered_at timestamptz, left_at timestamptz);
INSERT INTO h VALUES
 (1, 'b2b:lead', '2024-01-01', '2024-01-02'), (1, 'b2b:proposal', '2024-01-02', '2024-01-05'), (1, 'b2b:won', '2024-01-05', NULL),
 (2, 'b2b:lead', '2024-01-01', '2024-01-11'), (2, 'b2b:lost', '2024-01-11', NULL),
 (3, 'b2b:negotiation', '2024-01-03', NULL),
 (4, 'b2b:lead', '2024-01-04', NULL),
 (5, 'b2b:lost', '2024-01-04', NULL),
 (6, 'b2b:qualified', '2024-01-01', '2024-01-02'), (6, 'b2b:lead', '2024-01-02', '2024-01-03'), (6, 'b2b:qualified', '2024-01-03', NULL);
CREATE TEMP TABLE d (deal int, owner text, amount numeric(12,2));
INSERT INTO d VALUES (1, 'ann', 1000), (2, 'ann', 500), (3, 'bob', 250.50), (4, 'bob', NULL), (5, 'cid', 10), (6, 'cid', -100);
CREATE TEMP TABLE r AS SELECT deal, funnel.furthest(stage) AS reached FROM h GROUP BY deal;

SELECT results_eq($$ SELECT deal, reached::text FROM r ORDER BY deal $$,
    $$ VALUES (1, 'b2b:won'), (2, 'b2b:lead'), (3, 'b2b:negotiation'), (4, 'b2b:lead'), (5, 'b2b:lost'), (6, 'b2b:qualified') $$,
    'furthest: won if won, else furthest open stage, else lost');

SELECT results_eq($$
    SELECT stage::text, deals, amount, round(conversion_from_previous, 4), round(conversion_from_first, 4), drop_off
      FROM funnel.report((SELECT funnel.funnel(r.reached, d.amount) FROM r JOIN d USING (deal))) $$,
    $$ VALUES ('b2b:lead', 5::bigint, 1650.50::numeric, NULL::numeric, 1.0000::numeric, 2::bigint),
              ('b2b:qualified', 3, 1150.50, 0.6000, 0.6000, 1),
              ('b2b:proposal', 2, 1250.50, 0.6667, 0.4000, 0),
              ('b2b:negotiation', 2, 1250.50, 1.0000, 0.4000, 1),
              ('b2b:won', 1, 1000.00, 0.5000, 0.2000, NULL),
              ('b2b:lost', 1, 10.00, NULL, NULL, NULL) $$,
    'report: implied passage for open stages, deals ending there for won/lost');

SELECT is((SELECT funnel.conversion_rate(reached, 'b2b:lead', 'b2b:proposal') FROM r), 2::numeric / 5, 'conversion lead -> proposal (skips count)');
SELECT is((SELECT funnel.conversion_rate(reached, 'b2b:qualified', 'b2b:won') FROM r), 1::numeric / 3, 'conversion qualified -> won');
SELECT is((SELECT funnel.conversion_rate(reached, 'b2b:lost', 'b2b:lost') FROM r), 1::numeric, 'lost reached only by lost deals');
SELECT is((SELECT funnel.conversion_rate(reached, 'b2b:won', 'b2b:lead') FROM r), 1::numeric, 'a won deal passed every open stage');
SELECT is((SELECT funnel.conversion_rate(reached, 'b2b:lead', 'b2b:won') FROM r WHERE deal = 5), NULL::numeric, 'NULL when nobody reached from_stage');

SELECT is((SELECT funnel.win_rate(stage) FROM h), 1::numeric / 3, 'win rate over visits: won / (won + lost)');
SELECT is((SELECT funnel.win_rate(stage) FROM h WHERE funnel.kind(stage) = 'open'), NULL::numeric,
    'win rate NULL without closed deals');

SELECT is((SELECT funnel.median_time_in_stage(entered_at, left_at) FROM h), interval '1 day', 'median over closed visits only');
SELECT is((SELECT funnel.time_in_stage_percentile(entered_at, left_at, 1) FROM h), interval '10 days', 'p100 = longest closed visit');
SELECT is((SELECT funnel.time_in_stage_percentile(entered_at, left_at, 0.6) FROM h), interval '1 day 19:12:00', 'p60 interpolates like percentile_cont (1d + 0.4 x 2d)');
SELECT is((SELECT funnel.median_time_in_stage(entered_at, left_at) FROM h WHERE left_at IS NULL), NULL::interval, 'NULL when every visit is open');

SELECT is((SELECT funnel.weighted_forecast(d.amount, h.stage) FROM h JOIN d USING (deal) WHERE h.left_at IS NULL),
    1000 * 1 + 500 * 0 + 250.50 * 0.75 + 10 * 0 + (-100) * 0.25, 'forecast of current stages: won 1, lost 0, NULL skipped, negative allowed');
SELECT is((SELECT funnel.weighted_forecast(a, p) FROM (VALUES (0.01::numeric, 0.333::numeric), (0.01, 0.333), (0.01, 0.334)) v(a, p)),
    0.01000::numeric, 'forecast with numeric probabilities is exact');
SELECT is((SELECT funnel.weighted_forecast(a, p)::text FROM (VALUES (0.01::numeric, 0.333::numeric), (0.01, 0.333), (0.01, 0.334)) v(a, p)),
    '0.01000', 'forecast keeps the scale numeric sum() gives');
SELECT is((SELECT funnel.weighted_forecast(a, p) FROM (VALUES (NULL::numeric, 0.5::numeric)) v(a, p)), NULL::numeric, 'forecast of only NULL amounts is NULL');

-- velocity: 3 open deals (3, 4, 6), win rate 1/3 (1 won, 2 lost), avg won amount 1000,
-- cycle of the won deal (created = first entered_at, closed = won entered_at): 4 days
SELECT is((SELECT round(funnel.sales_velocity(c.stage, d.amount, c.created_at, c.closed_at), 6)
             FROM (SELECT deal, (array_agg(stage ORDER BY entered_at DESC))[1] AS stage, min(entered_at) AS created_at,
                          max(entered_at) FILTER (WHERE funnel.kind(stage) <> 'open') AS closed_at
                     FROM h GROUP BY deal) c JOIN d USING (deal)),
    round(3 * (1.0 / 3) * 1000 / 4, 6), 'sales velocity = open deals x win rate x avg won amount / avg won cycle days');

SELECT is((SELECT funnel.funnel(f)::text FROM (SELECT funnel.funnel(r.reached, d.amount) AS f FROM r JOIN d USING (deal) GROUP BY d.owner) s),
          (SELECT funnel.funnel(r.reached, d.amount)::text FROM r JOIN d USING (deal)),
          'merged per-owner summaries = summary of everything');
SELECT is((SELECT funnel.funnel(f)::text FROM (SELECT NULL::funnel.funnel_summary) s(f)), NULL, 'merging only NULLs gives NULL');
SELECT is((SELECT funnel.funnel(reached)::text FROM r WHERE false), NULL, 'funnel of no rows is NULL');
SELECT is((SELECT count(*)::int FROM funnel.report(NULL)), 0, 'report of NULL has no rows');
SELECT is((SELECT funnel.furthest(stage)::text FROM h WHERE false), NULL, 'furthest of no rows is NULL');

-- a stage added after a summary was stored: until the stage commits, report()
-- leaves it out (no value of an uncommitted stage may escape into a table or
-- an index); sql/aggregates.sql checks it after commit
CREATE TEMP TABLE stored AS SELECT funnel.funnel(reached) AS f FROM r;
SELECT funnel.add_stage('b2b', 'demo', probability => 0.4, after => 'qualified');
SELECT is((SELECT string_agg(funnel.stage_name(stage) || '=' || deals, ',') FROM stored, funnel.report(stored.f)),
    'lead=5,qualified=3,proposal=2,negotiation=2,won=1,lost=1',
    'report leaves out a stage added by the current transaction');
SELECT is((SELECT string_agg(deals::text, ',') FROM funnel.report((SELECT funnel.funnel(f) FROM (SELECT f FROM stored UNION ALL SELECT f FROM stored) s))),
    (SELECT string_agg((2 * deals)::text, ',') FROM stored, funnel.report(stored.f)),
    'merging a summary with itself doubles every count');

SELECT * FROM finish();
ROLLBACK;
