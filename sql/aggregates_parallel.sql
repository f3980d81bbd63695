--
-- aggregates_parallel: every funnel aggregate gives the same result in a
-- serial plan and in a forced parallel plan (Partial + Finalize Aggregate,
-- partial states shipped from 2 workers, leader not participating), and
-- the exact percentiles equal percentile_cont there too
--
CREATE EXTENSION funnel;
SET extra_float_digits = 0;
SELECT funnel.create_pipeline('b2b',
         stages        => ARRAY['lead','qualified','proposal','negotiation'],
         probabilities => ARRAY[0.10, 0.25, 0.50, 0.75]);

SELECT setseed(0.5);
CREATE TABLE par_visits AS
SELECT i AS visit_id, 1 + i / 3 AS deal_id, 'owner ' || (i % 5) AS owner,
       (ARRAY['b2b:lead','b2b:qualified','b2b:proposal','b2b:negotiation','b2b:won','b2b:lost'])[1 + floor(random() * 6)::int]::funnel.deal_stage AS stage,
       t AS entered_at,
       CASE WHEN random() < 0.1 THEN NULL
            ELSE t + (random() * 60 * 86400 * 1000000)::bigint * interval '1 microsecond' END AS left_at,
       CASE WHEN i % 17 = 0 THEN NULL ELSE round((random() * 50000 - 5000)::numeric, 2) END AS amount,
       round(random()::numeric, 2) AS p
  FROM generate_series(1, 200000) i,
       LATERAL (SELECT timestamptz '2024-01-01 00:00+00'
                       + (random() * 365 * 86400 * 1000000 + i * 0)::bigint * interval '1 microsecond' AS t) x;
CREATE TABLE par_reached AS
SELECT deal_id, min(owner) AS owner, funnel.furthest(stage) AS reached, max(amount) AS amount
  FROM par_visits GROUP BY deal_id;
-- stored summaries per owner and deal bucket, to be merged
CREATE TABLE par_owner_summary AS
SELECT owner, deal_id % 500 AS bucket, funnel.funnel(reached, amount) AS f
  FROM par_reached GROUP BY owner, deal_id % 500;
CREATE TABLE par_journeys AS
SELECT deal_id, min(owner) AS owner, funnel.journey(stage, entered_at) AS j, max(amount) AS amount
  FROM par_visits GROUP BY deal_id;
ANALYZE par_visits, par_reached, par_owner_summary, par_journeys;

-- serial results
SET max_parallel_workers_per_gather = 0;
SELECT funnel.furthest(stage)::text AS s_furthest,
       funnel.median_time_in_stage(entered_at, left_at)::text AS s_median,
       funnel.time_in_stage_percentile(entered_at, left_at, 0.9)::text AS s_p90,
       funnel.weighted_forecast(amount, stage)::text AS s_fc_stage,
       funnel.weighted_forecast(amount, p)::text AS s_fc_numeric,
       funnel.win_rate(stage)::text AS s_win_rate,
       funnel.sales_velocity(stage, amount, entered_at, left_at)::text AS s_velocity,
       funnel.avg_time_in_stage(entered_at, left_at)::text AS s_avg,
       funnel.avg_time_in_stage_days(entered_at, left_at)::text AS s_avg_days,
       funnel.median_time_in_stage_days(entered_at, left_at)::text AS s_median_days,
       funnel.time_in_stage_percentile_days(entered_at, left_at, 0.9)::text AS s_p90_days
  FROM par_visits \gset
SELECT funnel.conversion_rate(reached, 'b2b:qualified', 'b2b:negotiation')::text AS s_conversion,
       funnel.funnel(reached)::text AS s_funnel,
       funnel.funnel(reached, amount)::text AS s_funnel_amount
  FROM par_reached \gset
SELECT funnel.funnel(f)::text AS s_merged FROM par_owner_summary \gset
SELECT funnel.journey(stage, entered_at)::text AS s_journey,
       funnel.funnel(stage, amount, NULL)::text AS s_funnel_current
  FROM par_visits \gset
SELECT funnel.funnel(j)::text AS s_funnel_journey, funnel.funnel(j, amount)::text AS s_funnel_journey_amount
  FROM par_journeys \gset
SELECT md5(string_agg(owner || ':' || j::text, ',' ORDER BY owner)) AS s_journey_per_owner
  FROM (SELECT owner, funnel.journey(stage, entered_at) AS j FROM par_visits GROUP BY owner) x \gset
SELECT string_agg(deal_id || ':' || reached::text, ',' ORDER BY deal_id) AS s_furthest_per_deal
  FROM (SELECT deal_id, funnel.furthest(stage) AS reached FROM par_visits GROUP BY deal_id) x \gset
SELECT string_agg(owner || ':' || reached::text, ',' ORDER BY owner) AS s_furthest_per_owner
  FROM (SELECT owner, funnel.furthest(stage) AS reached FROM par_visits GROUP BY owner) x \gset
SELECT string_agg(stage::text || '=' || m::text, ',' ORDER BY stage) AS s_median_per_stage
  FROM (SELECT stage, funnel.median_time_in_stage(entered_at, left_at) AS m FROM par_visits GROUP BY stage) x \gset
SELECT string_agg(owner || '=' || f::text, ',' ORDER BY owner) AS s_funnel_per_owner
  FROM (SELECT owner, funnel.funnel(reached, amount) AS f FROM par_reached GROUP BY owner) x \gset

-- forced parallel plans
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET min_parallel_index_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
-- force_parallel_mode became debug_parallel_query in PostgreSQL 16
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'on', false) AS forced;
SET enable_indexscan = off;
SET enable_bitmapscan = off;

EXPLAIN (COSTS OFF) SELECT funnel.furthest(stage) FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.conversion_rate(reached, 'b2b:qualified', 'b2b:negotiation') FROM par_reached;
EXPLAIN (COSTS OFF) SELECT funnel.funnel(reached) FROM par_reached;
EXPLAIN (COSTS OFF) SELECT funnel.funnel(reached, amount) FROM par_reached;
EXPLAIN (COSTS OFF) SELECT funnel.funnel(f) FROM par_owner_summary;
EXPLAIN (COSTS OFF) SELECT funnel.median_time_in_stage(entered_at, left_at) FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.time_in_stage_percentile(entered_at, left_at, 0.9) FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.weighted_forecast(amount, stage) FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.weighted_forecast(amount, p) FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.win_rate(stage) FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.sales_velocity(stage, amount, entered_at, left_at) FROM par_visits;

-- the same results in parallel
SELECT funnel.furthest(stage)::text = :'s_furthest' AS furthest,
       funnel.median_time_in_stage(entered_at, left_at)::text = :'s_median' AS median,
       funnel.time_in_stage_percentile(entered_at, left_at, 0.9)::text = :'s_p90' AS p90,
       funnel.weighted_forecast(amount, stage)::text = :'s_fc_stage' AS forecast_stage,
       funnel.weighted_forecast(amount, p)::text = :'s_fc_numeric' AS forecast_numeric,
       funnel.win_rate(stage)::text = :'s_win_rate' AS win_rate,
       funnel.sales_velocity(stage, amount, entered_at, left_at)::text = :'s_velocity' AS velocity
  FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.avg_time_in_stage(entered_at, left_at) FROM par_visits;
SELECT funnel.avg_time_in_stage(entered_at, left_at)::text = :'s_avg' AS avg,
       funnel.avg_time_in_stage_days(entered_at, left_at)::text = :'s_avg_days' AS avg_days,
       funnel.median_time_in_stage_days(entered_at, left_at)::text = :'s_median_days' AS median_days,
       funnel.time_in_stage_percentile_days(entered_at, left_at, 0.9)::text = :'s_p90_days' AS p90_days
  FROM par_visits;
SELECT funnel.conversion_rate(reached, 'b2b:qualified', 'b2b:negotiation')::text = :'s_conversion' AS conversion,
       funnel.funnel(reached)::text = :'s_funnel' AS funnel,
       funnel.funnel(reached, amount)::text = :'s_funnel_amount' AS funnel_amount
  FROM par_reached;
SELECT funnel.funnel(f)::text = :'s_merged' AS merged,
       funnel.funnel(f)::text = :'s_funnel_amount' AS merged_equals_overall
  FROM par_owner_summary;
EXPLAIN (COSTS OFF) SELECT funnel.journey(stage, entered_at) FROM par_visits;
EXPLAIN (COSTS OFF) SELECT funnel.funnel(j, amount) FROM par_journeys;
SELECT funnel.journey(stage, entered_at)::text = :'s_journey' AS journey,
       funnel.funnel(stage, amount, NULL)::text = :'s_funnel_current' AS funnel_current
  FROM par_visits;
SELECT funnel.funnel(j)::text = :'s_funnel_journey' AS funnel_journey,
       funnel.funnel(j, amount)::text = :'s_funnel_journey_amount' AS funnel_journey_amount
  FROM par_journeys;

-- grouped parallel aggregation (Partial/Finalize per group)
CREATE FUNCTION pg_temp.plan_has(query text, pattern text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE line text; found boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        found := found OR line LIKE '%' || pattern || '%';
    END LOOP;
    RETURN found;
END $$;
SELECT pg_temp.plan_has('SELECT owner, funnel.furthest(stage) FROM par_visits GROUP BY owner', 'Partial') AS furthest_grouped_partial,
       pg_temp.plan_has('SELECT stage, funnel.median_time_in_stage(entered_at, left_at) FROM par_visits GROUP BY stage', 'Partial') AS median_grouped_partial,
       pg_temp.plan_has('SELECT owner, funnel.funnel(reached, amount) FROM par_reached GROUP BY owner', 'Partial') AS funnel_grouped_partial,
       pg_temp.plan_has('SELECT owner, funnel.journey(stage, entered_at) FROM par_visits GROUP BY owner', 'Partial') AS journey_grouped_partial;
-- partial journeys of one owner from several workers, combined
SELECT md5(string_agg(owner || ':' || j::text, ',' ORDER BY owner)) = :'s_journey_per_owner' AS journey_per_owner
  FROM (SELECT owner, funnel.journey(stage, entered_at) AS j FROM par_visits GROUP BY owner) x;
SELECT string_agg(deal_id || ':' || reached::text, ',' ORDER BY deal_id) = :'s_furthest_per_deal' AS furthest_per_deal
  FROM (SELECT deal_id, funnel.furthest(stage) AS reached FROM par_visits GROUP BY deal_id) x;
SELECT string_agg(owner || ':' || reached::text, ',' ORDER BY owner) = :'s_furthest_per_owner' AS furthest_per_owner
  FROM (SELECT owner, funnel.furthest(stage) AS reached FROM par_visits GROUP BY owner) x;
SELECT string_agg(stage::text || '=' || m::text, ',' ORDER BY stage) = :'s_median_per_stage' AS median_per_stage
  FROM (SELECT stage, funnel.median_time_in_stage(entered_at, left_at) AS m FROM par_visits GROUP BY stage) x;
SELECT string_agg(owner || '=' || f::text, ',' ORDER BY owner) = :'s_funnel_per_owner' AS funnel_per_owner
  FROM (SELECT owner, funnel.funnel(reached, amount) AS f FROM par_reached GROUP BY owner) x;

-- exact percentiles in parallel equal percentile_cont (computed serially)
SET max_parallel_workers_per_gather = 0;
SELECT percentile_cont(0) WITHIN GROUP (ORDER BY left_at - entered_at)::text AS e0,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY left_at - entered_at)::text AS e25,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at)::text AS e50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY left_at - entered_at)::text AS e90,
       percentile_cont(1) WITHIN GROUP (ORDER BY left_at - entered_at)::text AS e100
  FROM par_visits \gset
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT funnel.time_in_stage_percentile(entered_at, left_at, 0),
       funnel.time_in_stage_percentile(entered_at, left_at, 0.25),
       funnel.time_in_stage_percentile(entered_at, left_at, 0.5),
       funnel.time_in_stage_percentile(entered_at, left_at, 0.9),
       funnel.time_in_stage_percentile(entered_at, left_at, 1)
  FROM par_visits;
SELECT funnel.time_in_stage_percentile(entered_at, left_at, 0)::text = :'e0' AS p0,
       funnel.time_in_stage_percentile(entered_at, left_at, 0.25)::text = :'e25' AS p25,
       funnel.time_in_stage_percentile(entered_at, left_at, 0.5)::text = :'e50' AS p50,
       funnel.time_in_stage_percentile(entered_at, left_at, 0.9)::text = :'e90' AS p90,
       funnel.time_in_stage_percentile(entered_at, left_at, 1)::text = :'e100' AS p100,
       funnel.median_time_in_stage(entered_at, left_at)::text = :'e50' AS median
  FROM par_visits;

-- the workers really ran and shipped their (serialized) states
CREATE FUNCTION pg_temp.workers_launched(query text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' -> 'Plans' -> 0 ->> 'Workers Launched')::int;
END $$;
SELECT pg_temp.workers_launched('SELECT funnel.median_time_in_stage(entered_at, left_at) FROM par_visits') AS median_workers,
       pg_temp.workers_launched('SELECT funnel.funnel(reached, amount) FROM par_reached') AS funnel_workers;

RESET ALL;
DROP TABLE par_visits, par_reached, par_owner_summary, par_journeys;
DROP EXTENSION funnel CASCADE;
