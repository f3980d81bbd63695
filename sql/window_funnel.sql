--
-- window_funnel: event funnels on the Olist marketing funnel (MQL first
-- contact -> closed deal within 90 days, by origin) checked against plain
-- SQL; large states (radix sort, merged parallel states) checked against
-- the same input fed in timestamp order; forced parallel plans give the
-- serial results.  (Semantics and errors: test/pgtap/window_funnel.sql.)
--
CREATE EXTENSION funnel;
SET TimeZone = 'UTC';

----------------------------------------------------------------------
-- Olist: 8,000 marketing qualified leads, 842 closed deals
----------------------------------------------------------------------
CREATE TABLE olist_mql (mql_id text PRIMARY KEY, first_contact_date date, landing_page_id text, origin text);
\copy olist_mql FROM 'data/olist_marketing_funnel/olist_marketing_qualified_leads_dataset.csv' (FORMAT csv, HEADER true)
CREATE TABLE olist_deal (mql_id text, seller_id text, sdr_id text, sr_id text, won_date timestamp,
                         business_segment text, lead_type text, lead_behaviour_profile text,
                         has_company boolean, has_gtin boolean, average_stock text, business_type text,
                         declared_product_catalog_size numeric, declared_monthly_revenue numeric);
\copy olist_deal FROM 'data/olist_marketing_funnel/olist_closed_deals_dataset.csv' (FORMAT csv, HEADER true)
SELECT (SELECT count(*) FROM olist_mql) AS mqls, (SELECT count(*) FROM olist_deal) AS deals,
       (SELECT count(DISTINCT mql_id) FROM olist_deal) AS distinct_deal_mqls,
       (SELECT count(*) FROM olist_deal d WHERE NOT EXISTS (SELECT 1 FROM olist_mql m WHERE m.mql_id = d.mql_id)) AS deals_without_mql,
       (SELECT count(*) FROM olist_deal d JOIN olist_mql m USING (mql_id) WHERE d.won_date < m.first_contact_date) AS won_before_contact;

-- one event per contact and per won deal; steps: contact, won
CREATE TABLE olist_events AS
SELECT m.mql_id, coalesce(m.origin, '(blank)') AS origin, m.first_contact_date::timestamp AT TIME ZONE 'UTC' AS ts, 'contact' AS event
  FROM olist_mql m
UNION ALL
SELECT d.mql_id, coalesce(m.origin, '(blank)'), d.won_date AT TIME ZONE 'UTC', 'won'
  FROM olist_deal d JOIN olist_mql m USING (mql_id);

-- the event funnel by origin
CREATE TABLE olist_levels AS
SELECT mql_id, origin,
       funnel.window_funnel(interval '90 days', ts, event = 'contact', event = 'won') AS level,
       funnel.window_funnel(interval '90 days', 'strict_increase', ts, event = 'contact', event = 'won') AS level_increase
  FROM olist_events GROUP BY mql_id, origin;
SELECT origin, count(*) AS mqls, count(*) FILTER (WHERE level >= 1) AS contacted,
       count(*) FILTER (WHERE level = 2) AS won_90d,
       round(100.0 * count(*) FILTER (WHERE level = 2) / count(*), 2) AS pct
  FROM olist_levels GROUP BY ROLLUP (origin) ORDER BY origin NULLS LAST;

-- plain SQL: won at or after first contact and at most 90 days after it
SELECT count(*) AS mismatches
  FROM olist_levels l
  JOIN (SELECT m.mql_id,
               CASE WHEN EXISTS (SELECT 1 FROM olist_deal d
                                  WHERE d.mql_id = m.mql_id
                                    AND d.won_date >= m.first_contact_date
                                    AND d.won_date - m.first_contact_date <= interval '90 days')
                    THEN 2 ELSE 1 END AS level
          FROM olist_mql m) p USING (mql_id)
 WHERE l.level <> p.level OR l.level_increase <> p.level;

-- the same by origin for windows of 0 days to a year, window_funnel vs
-- plain SQL (a window function: each lead's first won_date after contact)
SELECT count(*) AS origin_window_mismatches
  FROM (SELECT w, origin, count(*) FILTER (WHERE lvl = 2) AS won
          FROM (SELECT w, origin, funnel.window_funnel(make_interval(days => w), ts, event = 'contact', event = 'won') AS lvl
                  FROM olist_events, unnest(ARRAY[0, 7, 30, 60, 90, 180, 365]) w GROUP BY w, mql_id, origin) x
         GROUP BY w, origin) f
  FULL JOIN
       (SELECT w, origin, count(*) FILTER (WHERE gap >= interval '0' AND gap <= make_interval(days => w)) AS won
          FROM (SELECT DISTINCT ON (e.mql_id) e.mql_id, e.origin,
                       CASE WHEN e.event = 'won' THEN e.ts - first_value(e.ts) OVER (PARTITION BY e.mql_id ORDER BY e.event, e.ts) END AS gap
                  FROM olist_events e ORDER BY e.mql_id, e.event DESC, e.ts) g,
               unnest(ARRAY[0, 7, 30, 60, 90, 180, 365]) w
         GROUP BY w, origin) s USING (w, origin)
 WHERE f.won IS DISTINCT FROM s.won;

----------------------------------------------------------------------
-- large states: radix sort and merges equal the input fed in order
----------------------------------------------------------------------
SELECT setseed(0.25);
-- 100,000 events over one day in random order, many equal seconds, six
-- sparse steps; 2,000 users for the grouped form
CREATE TABLE wf_events AS
SELECT i, 1 + (random() * 1999)::int AS user_id,
       timestamptz '2024-01-01 00:00+00' + (random() * 86400)::int * interval '1 second' AS ts,
       (random() * 100)::int AS e
  FROM generate_series(1, 100000) i;
CREATE TABLE wf_sorted AS SELECT * FROM wf_events ORDER BY ts, i;
ANALYZE wf_events, wf_sorted;
CREATE TABLE wf_modes (m text);
INSERT INTO wf_modes VALUES (''), ('strict_deduplication'), ('strict_order'), ('strict_increase'), ('strict_order,strict_increase');
CREATE TABLE wf_windows (w interval);
INSERT INTO wf_windows VALUES ('0'), ('1 second'), ('1 minute'), ('10 minutes'), ('1 hour'), ('6 hours');

-- one group of 100,000 events, unordered (radix sort) vs ordered input
SET max_parallel_workers_per_gather = 0;
CREATE TABLE wf_serial AS
SELECT m, w, (SELECT funnel.window_funnel(w, m, ts, e = 1, e = 2, e = 3, e = 4, e = 5, e = 6) FROM wf_events) AS level
  FROM wf_modes, wf_windows;
SELECT m, string_agg(level::text, ' ' ORDER BY w) AS levels_by_window FROM wf_serial GROUP BY m ORDER BY m;
SELECT count(*) AS ordered_input_mismatches
  FROM wf_serial s
 WHERE level <> (SELECT funnel.window_funnel(s.w, s.m, ts, e = 1, e = 2, e = 3, e = 4, e = 5, e = 6 ORDER BY ts, e DESC) FROM wf_events);
-- per user (small states), serial
SELECT string_agg(user_id || ':' || l, ',' ORDER BY user_id) AS s_per_user
  FROM (SELECT user_id, funnel.window_funnel(interval '1 hour', ts, e < 30, e < 20, e < 10, e < 5) AS l
          FROM wf_events GROUP BY user_id) x \gset
SELECT string_agg(user_id || ':' || l, ',' ORDER BY user_id) AS s_per_user_order
  FROM (SELECT user_id, funnel.window_funnel(interval '1 hour', 'strict_order', ts, e < 50, e < 20, e < 10, e < 5) AS l
          FROM wf_events GROUP BY user_id) x \gset
SELECT count(DISTINCT l) AS distinct_levels
  FROM (SELECT user_id, funnel.window_funnel(interval '1 hour', ts, e < 30, e < 20, e < 10, e < 5) AS l
          FROM wf_events GROUP BY user_id) x;

----------------------------------------------------------------------
-- forced parallel plans
----------------------------------------------------------------------
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
-- force_parallel_mode became debug_parallel_query in PostgreSQL 16
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'on', false) AS forced;
EXPLAIN (COSTS OFF) SELECT funnel.window_funnel(interval '1 hour', ts, e = 1, e = 2) FROM wf_events;
EXPLAIN (COSTS OFF) SELECT funnel.window_funnel(interval '1 hour', 'strict_order', ts, e = 1, e = 2) FROM wf_events;

-- the workers really ran and shipped their (serialized) states
CREATE FUNCTION pg_temp.workers_launched(query text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' -> 'Plans' -> 0 ->> 'Workers Launched')::int;
END $$;
SELECT pg_temp.workers_launched('SELECT funnel.window_funnel(interval ''1 hour'', ts, e = 1, e = 2) FROM wf_events') AS unordered_workers,
       pg_temp.workers_launched('SELECT funnel.window_funnel(interval ''1 hour'', ts, e = 1, e = 2) FROM wf_sorted') AS sorted_workers;

-- unordered table (states appended, then radix-sorted) and a table in
-- timestamp order (each worker's run is sorted: merged in one pass)
SELECT count(*) AS parallel_unordered_mismatches
  FROM wf_serial s
 WHERE level <> (SELECT funnel.window_funnel(s.w, s.m, ts, e = 1, e = 2, e = 3, e = 4, e = 5, e = 6) FROM wf_events);
SELECT count(*) AS parallel_sorted_mismatches
  FROM wf_serial s
 WHERE level <> (SELECT funnel.window_funnel(s.w, s.m, ts, e = 1, e = 2, e = 3, e = 4, e = 5, e = 6) FROM wf_sorted);

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
SELECT pg_temp.plan_has('SELECT user_id, funnel.window_funnel(interval ''1 hour'', ts, e < 30, e < 20) FROM wf_events GROUP BY user_id', 'Partial') AS grouped_partial;
SELECT string_agg(user_id || ':' || l, ',' ORDER BY user_id) = :'s_per_user' AS per_user
  FROM (SELECT user_id, funnel.window_funnel(interval '1 hour', ts, e < 30, e < 20, e < 10, e < 5) AS l
          FROM wf_events GROUP BY user_id) x;
SELECT string_agg(user_id || ':' || l, ',' ORDER BY user_id) = :'s_per_user_order' AS per_user_strict_order
  FROM (SELECT user_id, funnel.window_funnel(interval '1 hour', 'strict_order', ts, e < 50, e < 20, e < 10, e < 5) AS l
          FROM wf_events GROUP BY user_id) x;

-- Olist in parallel equals the serial levels
SELECT count(*) AS olist_parallel_mismatches
  FROM olist_levels l
  JOIN (SELECT mql_id, funnel.window_funnel(interval '90 days', ts, event = 'contact', event = 'won') AS level
          FROM olist_events GROUP BY mql_id) p USING (mql_id)
 WHERE l.level <> p.level;

RESET ALL;
DROP TABLE olist_mql, olist_deal, olist_events, olist_levels, wf_events, wf_sorted, wf_modes, wf_windows, wf_serial;
DROP EXTENSION funnel;
