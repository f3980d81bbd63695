-- test/pgtap/bi_views.sql: the stage dimension (funnel.stages key, label,
-- color) and funnel.create_views() (issue 21.5), as a NOSUPERUSER table
-- owner: the four views against plain SQL over the same tables, per group,
-- their owner, comments and security_invoker, and every refusal.
BEGIN;
SELECT plan(32);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT funnel.create_pipeline('bv', ARRAY['lead', 'demo', 'offer'], ARRAY[0.1, 0.4, 0.7],
                              won => ARRAY['won'], lost => ARRAY['lost', 'no_budget']);

-- the stage dimension
SELECT results_eq(
    $$SELECT key, label, color FROM funnel.stages WHERE pipeline = 'bv' ORDER BY position$$,
    $$VALUES ('bv:lead'::funnel.deal_stage, 'Lead', '#4e79a7'), ('bv:demo', 'Demo', '#4e79a7'),
             ('bv:offer', 'Offer', '#4e79a7'), ('bv:won', 'Won', '#59a14f'),
             ('bv:lost', 'Lost', '#c9665f'), ('bv:no_budget', 'No Budget', '#c9665f')$$,
    'stages: key is the stage value, label in title case, color of the kind (funnel_svg''s)');
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'funnel.stages'::regclass AND attnum > 0 ORDER BY attnum),
          ARRAY['pipeline', 'stage', 'position', 'probability', 'kind', 'stale_after', 'retired', 'owner',
                'key', 'label', 'color'],
          'the new columns of funnel.stages come last (CREATE OR REPLACE VIEW can add them)');
SAVEPOINT added;
SELECT funnel.add_stage('bv', 'trial', after => 'demo');
SELECT is((SELECT key IS NULL AND label = 'Trial' FROM funnel.stages WHERE pipeline = 'bv' AND stage = 'trial'), true,
          'a stage added by this open transaction: the view still reads, its key is NULL (no value of it escapes)');
ROLLBACK TO added;

CREATE ROLE bv_owner NOSUPERUSER;
CREATE ROLE bv_reader NOSUPERUSER;
CREATE SCHEMA bv AUTHORIZATION bv_owner;
CREATE SCHEMA bi AUTHORIZATION bv_owner;
GRANT USAGE ON SCHEMA bv, bi TO bv_reader;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO bv_owner;
SET ROLE bv_owner;
CREATE TABLE bv.deals (id int PRIMARY KEY, region text, amount_usd numeric(10,2),
                       stage funnel.deal_stage(bv) NOT NULL, changed_at timestamptz);
SELECT funnel.track('bv.deals', 'bv', changed_at_column => 'changed_at', rule => 'any');
-- histories with known times: 1 day in lead, then 2 or 4 days in demo ...
INSERT INTO bv.deals VALUES
  (1, 'eu', 100, 'lead', '2026-01-01'), (2, 'eu', 200, 'lead', '2026-01-01'),
  (3, 'us', 300, 'lead', '2026-01-01'), (4, 'us', NULL, 'lead', '2026-01-01'),
  (5, 'eu', 500, 'lead', '2026-01-01');
UPDATE bv.deals SET stage = 'demo', changed_at = '2026-01-02' WHERE id IN (1, 2, 3, 4);
UPDATE bv.deals SET stage = 'offer', changed_at = '2026-01-04' WHERE id IN (1, 2);
UPDATE bv.deals SET stage = 'won', changed_at = '2026-01-06' WHERE id = 1;
UPDATE bv.deals SET stage = 'no_budget', changed_at = '2026-01-06' WHERE id = 3;
UPDATE bv.deals SET stage = 'lost', changed_at = '2026-01-03' WHERE id = 5;

SELECT results_eq(
    $$SELECT v::text FROM funnel.create_views('bv.deals', group_by => ARRAY['region'], amount_column => 'amount_usd') v$$,
    $$VALUES ('bv.deals_pipeline'), ('bv.deals_conversion'), ('bv.deals_time_in_stage'), ('bv.deals_trend')$$,
    'create_views as the NOSUPERUSER owner: four views named after the table, in its schema');
SELECT results_eq(
    $$SELECT v::text FROM funnel.create_views('bv.deals', schema => 'bi', prefix => 'all_', amount_column => 'amount_usd') v$$,
    $$VALUES ('bi.all_pipeline'), ('bi.all_conversion'), ('bi.all_time_in_stage'), ('bi.all_trend')$$,
    'another schema and prefix, no groups');
SELECT is((SELECT count(*) FROM pg_class c
            WHERE c.oid IN ('bv.deals_pipeline'::regclass, 'bv.deals_conversion'::regclass, 'bv.deals_time_in_stage'::regclass,
                            'bv.deals_trend'::regclass, 'bi.all_pipeline'::regclass, 'bi.all_trend'::regclass)
              AND c.relowner = 'bv_owner'::regrole AND c.relkind = 'v'
              AND c.reloptions @> ARRAY['security_invoker=true']
              AND obj_description(c.oid, 'pg_class') LIKE 'funnel: %'), 6::bigint,
          'the views are owned by the caller, security_invoker, each with a COMMENT');

-- the current pipeline per region vs plain SQL
SELECT results_eq(
    $$SELECT region, stage, position, kind, deals, amount, weighted_amount FROM bv.deals_pipeline ORDER BY region, position$$,
    $$SELECT region, stage, funnel.position(stage), funnel.kind(stage), count(*), sum(amount_usd),
             sum(amount_usd * funnel.probability(stage)::numeric)
        FROM bv.deals GROUP BY region, stage ORDER BY region, funnel.position(stage)$$,
    'pipeline view per region = plain SQL (amount from amount_usd)');
SELECT results_eq(
    $$SELECT stage::text, deals, amount FROM bi.all_pipeline ORDER BY position$$,
    $$VALUES ('bv:demo', 1::bigint, NULL::numeric), ('bv:offer', 1, 200.00), ('bv:won', 1, 100.00),
             ('bv:lost', 1, 500.00), ('bv:no_budget', 1, 300.00)$$,
    'pipeline view without groups, worked out by hand');
-- conversion: report() of plain journeys per region
SELECT results_eq(
    $$SELECT region, stage, position, deals, amount, open_amount, conversion_from_first, win_rate
        FROM bv.deals_conversion ORDER BY region, position$$,
    $$SELECT g.region, r.stage, r.position, r.deals, r.amount, r.open_amount, r.conversion_from_first::numeric(7,6), r.win_rate::numeric(7,6)
        FROM (SELECT d.region, funnel.funnel(j.j, d.amount_usd) AS s
                FROM bv.deals d
                JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM bv.deals_stage_history GROUP BY deal_id) j
                  ON j.deal_id = d.id
               GROUP BY d.region) g, funnel.report(g.s) r
       ORDER BY g.region, r.position$$,
    'conversion view per region = report() over the journeys');
SELECT results_eq(
    $$SELECT stage::text, deals, won, lost, open_here, conversion_from_first::text, win_rate::text FROM bi.all_conversion WHERE kind = 'open' ORDER BY position$$,
    -- lead: all 5; demo: 1, 2, 3, 4 (5 was lost from lead); offer: 1, 2; won 1; lost 3 and 5
    $$VALUES ('bv:lead', 5::bigint, 1::bigint, 2::bigint, 0::bigint, '1.000000', '0.333333'),
             ('bv:demo', 4, 1, 1, 1, '0.800000', '0.500000'),
             ('bv:offer', 2, 1, 0, 1, '0.400000', '1.000000')$$,
    'conversion view, worked out by hand (rates numeric(7,6))');
-- time in stage: days between moves
SELECT results_eq(
    $$SELECT stage::text, visits, left_visits, median_days, avg_days FROM bi.all_time_in_stage WHERE kind = 'open' ORDER BY position$$,
    $$VALUES ('bv:lead', 5::bigint, 5::bigint, 1.00, 1.20), ('bv:demo', 4, 3, 2.00, 2.67), ('bv:offer', 2, 1, 2.00, 2.00)$$,
    'time in stage: lead 1,1,1,1,2 days; demo 2,2,4 (one still there); offer 2 (one still there)');
SELECT results_eq(
    $$SELECT region, stage::text, visits FROM bv.deals_time_in_stage WHERE stage = 'bv:lead' ORDER BY region$$,
    $$VALUES ('eu', 'bv:lead', 3::bigint), ('us', 'bv:lead', 2::bigint)$$,
    'time in stage per region');
-- the trend: pipeline_trend at the Mondays of the last 52 weeks
SELECT results_eq(
    $$SELECT instant, stage, deals FROM bi.all_trend ORDER BY instant, position$$,
    $$SELECT instant, stage, deals FROM funnel.pipeline_trend('bv.deals_stage_history',
          ARRAY(SELECT generate_series(date_trunc('week', now()) - interval '52 weeks', date_trunc('week', now()), interval '1 week')))
       ORDER BY instant, funnel.position(stage)$$,
    'trend view = pipeline_trend() at 53 weekly instants');
SELECT is((SELECT count(DISTINCT instant) FROM bi.all_trend), 53::bigint, '53 instants');

-- refusals
SELECT throws_ok($$SELECT funnel.create_views('bv.deals')$$, '42P07',
                 'relation "bv.deals_pipeline" already exists', 'existing views: 42P07 naming the first');
SELECT lives_ok($$SELECT funnel.create_views('bv.deals', group_by => ARRAY['region'], amount_column => 'amount_usd', replace => true)$$,
                'replace => true replaces them');
SELECT throws_ok($$SELECT funnel.create_views('bv.deals', prefix => 'x_', group_by => ARRAY['nope'])$$, '42703',
                 'column "nope" of table bv.deals does not exist', 'unknown group column: 42703');
SELECT throws_ok($$SELECT funnel.create_views('bv.deals', prefix => 'x_', group_by => ARRAY['stage'])$$, '42701',
                 'group column "stage" clashes with a column of the views', 'a group column named as a view column: 42701');
SELECT throws_ok($$SELECT funnel.create_views('bv.deals', prefix => 'x_', amount_column => 'region')$$, '42804',
                 'amount column "region" of table bv.deals is of type text, not a number', 'a text amount column: 42804');
SELECT throws_ok($$SELECT funnel.create_views('bv.deals', prefix => 'x_', amount_column => 'amount')$$, '42703',
                 'column "amount" of table bv.deals does not exist', 'a missing amount column: 42703');
SELECT throws_ok($$SELECT funnel.create_views('bv.deals', schema => 'nope')$$, '3F000',
                 'schema "nope" does not exist', 'unknown schema: 3F000');
SELECT throws_ok($$SELECT funnel.create_views('bv.deals', prefix => repeat('p', 60))$$, '42622',
                 NULL, 'a prefix too long for the view names: 42622');
CREATE TABLE bv.untracked (id int PRIMARY KEY);
SELECT throws_ok($$SELECT funnel.create_views('bv.untracked')$$, '55000',
                 'table bv.untracked is not tracked', 'an untracked table: 55000');
SELECT throws_ok($$SELECT funnel.create_views('bv.deals', schema => 'public', prefix => 'x_')$$, '42501',
                 NULL, 'no CREATE on the target schema: 42501, as for CREATE VIEW');
SELECT is((SELECT count(*) FROM pg_class WHERE relname LIKE 'x\_%'), 0::bigint, 'the refused calls created nothing');

-- a reader granted the views only: security_invoker views read as the reader
GRANT SELECT ON bv.deals_pipeline TO bv_reader;
SET ROLE bv_reader;
SELECT throws_ok($$SELECT * FROM bv.deals_pipeline$$, '42501', NULL,
                 'a reader without SELECT on the deals table cannot read through the view (42501)');
RESET ROLE;
SET ROLE bv_owner;
GRANT SELECT ON bv.deals TO bv_reader;
SET ROLE bv_reader;
SELECT is((SELECT sum(deals) FROM bv.deals_pipeline), 5::numeric, 'with SELECT on the table it can');
RESET ROLE;


-- a table of several pipelines sharing stage names: the conversion view
-- gives one report per pipeline (journeys per deal and pipeline; a deal
-- that left a pipeline counts in the one it is in), checked against plain
-- SQL over the deals and the history
SELECT funnel.create_pipeline('mp_a', ARRAY['lead', 'demo']);
SELECT funnel.create_pipeline('mp_b', ARRAY['lead', 'demo']);
CREATE SCHEMA mp;
CREATE TABLE mp.deals (id int PRIMARY KEY, amount numeric, stage funnel.deal_stage NOT NULL);
INSERT INTO mp.deals VALUES (1, 10, 'mp_a:lead'), (2, 20, 'mp_a:lead'), (3, 30, 'mp_b:lead'),
                            (4, 40, 'mp_b:lead'), (5, 50, 'mp_a:lead');
SELECT funnel.track('mp.deals', pipelines => ARRAY['mp_a', 'mp_b']);
SELECT funnel.allow_transition('mp_a', 'demo', 'mp_b:demo');
UPDATE mp.deals SET stage = 'demo' WHERE id IN (1, 2, 3);
UPDATE mp.deals SET stage = 'won' WHERE id IN (2, 3);
UPDATE mp.deals SET stage = 'lost' WHERE id = 4;
UPDATE mp.deals SET stage = 'mp_b:demo' WHERE id = 1;     -- moved from mp_a to mp_b
SELECT lives_ok($$SELECT funnel.create_views('mp.deals')$$, 'create_views() on a table of several pipelines');
SELECT is((SELECT array_agg(DISTINCT funnel.pipeline_of(stage)::text ORDER BY funnel.pipeline_of(stage)::text)
             FROM mp.deals_conversion),
          ARRAY['mp_a', 'mp_b'], 'its conversion view has a report per pipeline');
SELECT results_eq(
    $$SELECT stage::text, deals FROM mp.deals_conversion WHERE kind = 'won' ORDER BY 1$$,
    $$SELECT s::text, (SELECT count(*) FROM mp.deals d WHERE d.stage = s) FROM unnest(ARRAY['mp_a:won', 'mp_b:won']::funnel.deal_stage[]) s ORDER BY 1$$,
    'won deals per pipeline: the deals now in each pipeline''s won stage');
-- the first stage of a pipeline counts the deals that visited it and did
-- not leave it for another (deal 1 left mp_a: it counts in mp_b only)
SELECT results_eq(
    $$SELECT stage::text, deals FROM mp.deals_conversion WHERE position = 1 ORDER BY 1$$,
    $$SELECT p || ':lead', count(DISTINCT h.deal_id)
        FROM mp.deals_stage_history h, LATERAL (SELECT funnel.pipeline_of(h.stage)::text) x(p)
       WHERE funnel.pipeline_of((SELECT d.stage FROM mp.deals d WHERE d.id = h.deal_id))::text = x.p
       GROUP BY p ORDER BY 1$$,
    'first stage per pipeline: deals whose journey there is not "moved"');
-- deal 1 reached demo in mp_a (passing lead) and left from demo for mp_b;
-- no deal left mp_b (worked out from the moves above)
SELECT results_eq(
    $$SELECT stage::text, moved, moved_here FROM mp.deals_conversion WHERE kind = 'open'
       ORDER BY funnel.pipeline_of(stage)::text, position$$,
    $$VALUES ('mp_a:lead', 1::bigint, 0::bigint), ('mp_a:demo', 1, 1), ('mp_b:lead', 0, 0), ('mp_b:demo', 0, 0)$$,
    'moved and moved_here per pipeline: deal 1 reached mp_a''s lead and demo and left from demo');

SELECT * FROM finish();
ROLLBACK;
