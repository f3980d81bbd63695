-- test/pgtap/agg_time_units.sql: time in stage in the units analysts use
-- (issue 9.4): justified intervals (days and time, never months, never 24
-- hours or more), avg_time_in_stage, and numeric-days forms for BI tools,
-- each against plain SQL.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(14);
SET timezone = 'UTC';
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified'], ARRAY[0.1,0.3]);

SELECT setseed(0.77);
CREATE TEMP TABLE v AS
SELECT (ARRAY['b2b:lead','b2b:qualified'])[1 + i % 2]::funnel.deal_stage AS stage, t AS entered_at,
       CASE WHEN i % 9 = 0 THEN NULL
            ELSE t + (random() * 90 * 86400 * 1000000)::bigint * interval '1 microsecond' END AS left_at
  FROM generate_series(1, 5000) i,
       LATERAL (SELECT timestamptz '2024-01-01' + (random() * 365 * 86400 * 1000000 + i * 0)::bigint
                       * interval '1 microsecond' AS t) x;

-- percentile_cont interpolates days and hours apart: 10:00 and 3 days 20:00
-- give '1 day 27:00:00'; the funnel percentile is the same length, justified
SELECT is((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::text
             FROM (VALUES (interval '10:00'), (interval '3 days 20:00')) x(d)),
          '1 day 27:00:00', 'percentile_cont leaves 27 hours in a day');
SELECT is((SELECT funnel.median_time_in_stage(e, e + d)::text
             FROM (VALUES (interval '10:00'), (interval '3 days 20:00')) x(d), (VALUES (timestamptz '2024-01-01')) y(e)),
          '2 days 03:00:00', 'median_time_in_stage is justified: 2 days 03:00:00');
SELECT is((SELECT funnel.median_time_in_stage(e, e + d) FROM (VALUES (interval '10:00'), (interval '3 days 20:00')) x(d),
                  (VALUES (timestamptz '2024-01-01')) y(e)),
          interval '1 day 27:00:00', '... and equal to percentile_cont as an interval');
SELECT is((SELECT funnel.time_in_stage_percentile(e, e + d, 0.9)::text
             FROM (VALUES (interval '47 days 03:00'), (interval '47 days 03:00')) x(d), (VALUES (timestamptz '2024-01-01')) y(e)),
          '47 days 03:00:00', 'no months: 47 days stay 47 days');
SELECT is((SELECT funnel.avg_time_in_stage(e, e + d)::text
             FROM (VALUES (interval '35 days 20:00'), (interval '47 days 10:00')) x(d), (VALUES (timestamptz '2024-01-01')) y(e)),
          '41 days 15:00:00', 'avg_time_in_stage: days and time, never 1 mon');

-- against plain SQL, per stage
SELECT is((SELECT count(*)::int FROM (
             SELECT stage, funnel.avg_time_in_stage(entered_at, left_at) AS got,
                    justify_hours(round(avg(extract(epoch FROM left_at - entered_at) * 1000000))::bigint
                                  * interval '1 microsecond') AS expected
               FROM v GROUP BY stage) x WHERE got::text = expected::text), 2,
          'avg_time_in_stage = justify_hours(mean microseconds, rounded) per stage, text for text');
SELECT is((SELECT count(*)::int FROM (
             SELECT stage, funnel.median_time_in_stage(entered_at, left_at) AS got,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) AS expected
               FROM v GROUP BY stage) x WHERE got = expected AND got::text = justify_hours(expected)::text), 2,
          'median_time_in_stage = justify_hours(percentile_cont(0.5)), text for text');
SELECT is((SELECT count(*)::int FROM (
             SELECT stage, funnel.median_time_in_stage_days(entered_at, left_at) AS got,
                    extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at)) / 86400 AS expected
               FROM v GROUP BY stage) x WHERE got = expected), 2,
          'median_time_in_stage_days = epoch of percentile_cont(0.5) / 86400');
SELECT is((SELECT count(*)::int FROM (
             SELECT stage, funnel.time_in_stage_percentile_days(entered_at, left_at, 0.9) AS got,
                    extract(epoch FROM percentile_cont(0.9) WITHIN GROUP (ORDER BY left_at - entered_at)) / 86400 AS expected
               FROM v GROUP BY stage) x WHERE got = expected), 2,
          'time_in_stage_percentile_days = epoch of percentile_cont(0.9) / 86400');
SELECT is((SELECT count(*)::int FROM (
             SELECT stage, funnel.avg_time_in_stage_days(entered_at, left_at) AS got,
                    sum(extract(epoch FROM left_at - entered_at)) / (count(left_at) * 86400) AS expected
               FROM v GROUP BY stage) x WHERE round(got, 15) = round(expected, 15)), 2,
          'avg_time_in_stage_days = mean epoch / 86400');
SELECT is(pg_typeof(funnel.median_time_in_stage_days(now(), now()))::text, 'numeric', 'the *_days forms are numeric');
SELECT is((SELECT funnel.avg_time_in_stage_days(e, e + interval '1 day 12:00') FROM (VALUES (timestamptz '2024-01-01')) y(e)),
          1.5, 'a day and a half is 1.5');
SELECT is((SELECT funnel.avg_time_in_stage(entered_at, left_at) FROM v WHERE left_at IS NULL), NULL,
          'avg of open visits only is NULL');
SELECT throws_ok($$ SELECT funnel.avg_time_in_stage('-infinity', now()) $$, '22008', 'cannot subtract infinite timestamps',
                 'infinite timestamps refused');

SELECT * FROM finish();
ROLLBACK;
