-- test/pgtap/agg_stage_cache.sql: the backend-level table of stage facts
-- that fills a new per-call cache (issue 11, item 4) follows every change
-- of the pipelines: set_probability() in this transaction, its rollback,
-- are seen by the next query (another session's commit: sql/cache.sql); a
-- query over more stages than the 64 per-call slots gets every stage's own
-- facts.
-- (A guard of the documented semantics: these pass before and after.)
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(5);

SELECT funnel.create_pipeline('p' || i, (SELECT array_agg('s' || j ORDER BY j) FROM generate_series(1, 40) j),
                              (SELECT array_agg(round(j / 41.0 + i / 1000.0, 4) ORDER BY j) FROM generate_series(1, 40) j))
  FROM generate_series(1, 3) i;
CREATE TEMP TABLE d AS
SELECT ('p' || (1 + g % 3) || ':s' || (1 + g % 40))::funnel.deal_stage AS stage, (g % 97 + 0.5)::numeric AS amount
  FROM generate_series(1, 3000) g;

CREATE FUNCTION pg_temp.expected() RETURNS numeric LANGUAGE sql AS $$
    SELECT sum(d.amount * s.probability::numeric) FROM d JOIN funnel.stages s ON d.stage = (s.pipeline || ':' || s.stage)::funnel.deal_stage
$$;

SELECT is((SELECT funnel.weighted_forecast(amount, stage) FROM d), pg_temp.expected(),
          '120 stages in one query: every stage its own probability');
SELECT is((SELECT funnel.weighted_forecast(amount, stage) FROM d), pg_temp.expected(), '... and again from the backend table');

SAVEPOINT a;
SELECT funnel.set_probability('p2', 's7', 0.99);
SELECT is((SELECT funnel.weighted_forecast(amount, stage) FROM d), pg_temp.expected(),
          'set_probability() in this transaction is seen by the next query');
SELECT is((SELECT funnel.weighted_forecast(amount, stage) FROM d WHERE stage = 'p2:s7'),
          (SELECT sum(amount) * 0.99 FROM d WHERE stage = 'p2:s7'), '... with the new probability');
ROLLBACK TO SAVEPOINT a;
SELECT is((SELECT funnel.weighted_forecast(amount, stage) FROM d WHERE stage = 'p2:s7'),
          (SELECT sum(amount) * round(7 / 41.0 + 2 / 1000.0, 4) FROM d WHERE stage = 'p2:s7'),
          'after ROLLBACK TO SAVEPOINT the old probability is back');

SELECT * FROM finish();
ROLLBACK;
