-- test/pgtap/agg_errors.sql: bad input to the funnel aggregates fails with
-- the right SQLSTATE and message.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(16);
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1,0.3,0.6]);
SELECT funnel.create_pipeline('retail', ARRAY['visit','cart'], ARRAY[0.2,0.5]);

SELECT throws_ok($$ SELECT funnel.furthest(s::funnel.deal_stage) FROM (VALUES ('b2b:lead'), ('retail:cart')) v(s) $$,
    '22023', 'funnel.furthest() cannot mix stages of pipelines "b2b" and "retail"', 'furthest refuses mixed pipelines');
SELECT throws_ok($$ SELECT funnel.funnel(s::funnel.deal_stage) FROM (VALUES ('b2b:lead'), ('retail:cart')) v(s) $$,
    '22023', 'cannot mix pipelines "b2b" and "retail" in one funnel summary', 'funnel() refuses mixed pipelines');
SELECT throws_ok($$ SELECT funnel.funnel(x) FROM (SELECT funnel.funnel('b2b:lead'::funnel.deal_stage)
                                                   UNION ALL SELECT funnel.funnel('retail:cart'::funnel.deal_stage)) v(x) $$,
    '22023', NULL, 'merging summaries of two pipelines is refused');
SELECT throws_ok($$ SELECT funnel.conversion_rate('retail:cart', 'b2b:lead', 'b2b:proposal') $$,
    '22023', NULL, 'conversion_rate refuses a stage of another pipeline');
SELECT throws_ok($$ SELECT funnel.time_in_stage_percentile(now(), now(), 1.01) $$,
    '22003', 'percentile fraction 1.01 is not between 0 and 1', 'fraction above 1');
SELECT throws_ok($$ SELECT funnel.time_in_stage_percentile(now(), now(), -0.5) $$,
    '22003', NULL, 'fraction below 0');
SELECT throws_ok($$ SELECT funnel.time_in_stage_percentile(now(), now(), f) FROM (VALUES (0.5::float8), (0.9)) v(f) $$,
    '22023', 'percentile fraction must be the same for every row', 'fraction varying across rows');
SELECT throws_ok($$ SELECT funnel.weighted_forecast('NaN'::numeric, 'b2b:lead'::funnel.deal_stage) $$,
    '22023', 'amount must be a finite number, not NaN', 'NaN amount refused');
SELECT throws_ok($$ SELECT funnel.weighted_forecast(1, 'NaN'::numeric) $$,
    '22023', 'probability must be a finite number, not NaN', 'NaN probability refused');
SELECT throws_ok($$ SELECT funnel.weighted_forecast(1, 1.01) $$,
    '22003', 'probability 1.01 is not between 0 and 1', 'probability above 1 refused');
SELECT throws_ok($$ SELECT funnel.weighted_forecast(a, 1) FROM (VALUES (9e37::numeric), (9e37)) v(a) $$,
    '22003', 'funnel aggregate total out of range', 'int128 overflow is reported, not wrapped');
SELECT throws_ok($$ SELECT '{"pipeline": "nope", "stages": []}'::funnel.funnel_summary $$,
    '22P02', NULL, 'summary of an unknown pipeline');
SELECT throws_ok($$ SELECT '{"pipeline": "b2b", "stages": [{"stage": "cart", "deals": 1, "amount_count": 0, "amount": 0}]}'::funnel.funnel_summary $$,
    '22P02', 'invalid funnel summary: pipeline "b2b" has no stage "cart"', 'summary with a stage of another pipeline');
SELECT throws_ok($$ SELECT 'garbage'::funnel.funnel_summary $$,
    '22P02', NULL, 'summary syntax error');
SELECT throws_ok($$ SELECT '(1,x)'::funnel.forecast_state $$, '22P02', NULL, 'forecast_state syntax error');
SELECT throws_ok($$ SELECT funnel.median_time_in_stage('-infinity', now()) $$,
    '22008', 'cannot subtract infinite timestamps', 'infinite timestamps refused');

SELECT * FROM finish();
ROLLBACK;
