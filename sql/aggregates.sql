--
-- aggregates: correctness of the funnel aggregates against plain SQL
-- (expected values are computed independently, without funnel functions)
--
CREATE EXTENSION funnel;
SET extra_float_digits = 0;

SELECT funnel.create_pipeline('b2b',
         stages        => ARRAY['lead','qualified','proposal','negotiation'],
         probabilities => ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'],
         ARRAY[0.1,0.3,0.6], won => ARRAY['成交'], lost => ARRAY['流失','无预算']);

-- stage positions and kinds as plain data, for the independent SQL
CREATE TABLE agg_stage_map (name text PRIMARY KEY, pos int, kind text, prob numeric);
INSERT INTO agg_stage_map VALUES
  ('lead', 1, 'open', 0.1), ('qualified', 2, 'open', 0.25), ('proposal', 3, 'open', 0.5),
  ('negotiation', 4, 'open', 0.75), ('won', 5, 'won', 1), ('lost', 6, 'lost', 0);

----------------------------------------------------------------------
-- furthest: won if won, else furthest open stage, else lost
----------------------------------------------------------------------
SELECT funnel.furthest(s::funnel.deal_stage)
  FROM unnest(ARRAY['b2b:lead','b2b:proposal','b2b:qualified']) s;
SELECT funnel.furthest(s::funnel.deal_stage)
  FROM unnest(ARRAY['b2b:lead','b2b:lost','b2b:qualified']) s;
SELECT funnel.furthest(s::funnel.deal_stage)
  FROM unnest(ARRAY['b2b:negotiation','b2b:won','b2b:lead']) s;
SELECT funnel.furthest(s::funnel.deal_stage)
  FROM unnest(ARRAY['b2b:lost']) s;
SELECT funnel.furthest(s::funnel.deal_stage) IS NULL AS empty_is_null
  FROM unnest(ARRAY[]::text[]) s;
SELECT funnel.furthest(s::funnel.deal_stage)
  FROM unnest(ARRAY['b2b:lead', NULL, 'b2b:qualified']) s;
SELECT funnel.furthest(s::funnel.deal_stage)
  FROM unnest(ARRAY['b2b:lead','零售:商机']) s;

----------------------------------------------------------------------
-- synthetic history: 20,000 deals, random visits with skips, backward
-- moves, re-entries, won and lost; pos/kind kept as plain columns
----------------------------------------------------------------------
SELECT setseed(0.42);
CREATE TABLE agg_hist AS
SELECT d AS deal_id, v AS visit, m.name, m.pos, m.kind,
       ('b2b:' || m.name)::funnel.deal_stage AS stage
  FROM generate_series(1, 20000) d,
       LATERAL generate_series(1, 1 + (random() * 5)::int + (d % 2) * 0) v,
       LATERAL (SELECT 1 + floor(random() * 6 + v * 0)::int AS p) r
  JOIN agg_stage_map m ON m.pos = r.p;
CREATE TABLE agg_deals AS
SELECT d AS deal_id, 'owner ' || (d % 7) AS owner,
       CASE WHEN d % 11 = 0 THEN NULL ELSE round((random() * 20000 - 2000)::numeric, 2) END AS amount
  FROM generate_series(1, 20000) d;
SELECT count(*) > 50000 AS many_visits, count(DISTINCT deal_id) AS deals FROM agg_hist;

-- furthest per deal vs plain SQL
WITH f AS (SELECT deal_id, funnel.furthest(stage) AS reached FROM agg_hist GROUP BY deal_id),
     e AS (SELECT deal_id,
                  CASE WHEN bool_or(kind = 'won') THEN 5
                       WHEN bool_or(kind = 'open') THEN max(pos) FILTER (WHERE kind = 'open')
                       ELSE 6 END AS pos
             FROM agg_hist GROUP BY deal_id)
SELECT count(*) AS deals, count(*) FILTER (WHERE funnel.stage_name(f.reached) <> m.name) AS mismatches
  FROM f JOIN e USING (deal_id) JOIN agg_stage_map m ON m.pos = e.pos;

CREATE TABLE agg_reached AS
SELECT deal_id, funnel.furthest(stage) AS reached,
       CASE WHEN bool_or(kind = 'won') THEN 5
            WHEN bool_or(kind = 'open') THEN max(pos) FILTER (WHERE kind = 'open')
            ELSE 6 END AS rpos
  FROM agg_hist GROUP BY deal_id;

-- conversion_rate for every pair of stages vs plain SQL with implied passage
-- reached(deal, S): rpos = S, or S open and (rpos is a later open stage or won)
CREATE FUNCTION pg_temp.reached_sql(rpos int, spos int) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS
  $$ SELECT rpos = spos OR (spos <= 4 AND (rpos = 5 OR (rpos <= 4 AND rpos >= spos))) $$;
WITH pairs AS (SELECT a.name AS from_name, a.pos AS from_pos, b.name AS to_name, b.pos AS to_pos
                 FROM agg_stage_map a, agg_stage_map b),
     got AS (SELECT p.from_name, p.to_name,
                    (SELECT funnel.conversion_rate(r.reached, ('b2b:' || p.from_name)::funnel.deal_stage,
                                                   ('b2b:' || p.to_name)::funnel.deal_stage)
                       FROM agg_reached r) AS rate,
                    (SELECT count(*) FILTER (WHERE pg_temp.reached_sql(r.rpos, p.from_pos) AND pg_temp.reached_sql(r.rpos, p.to_pos))::numeric
                            / nullif(count(*) FILTER (WHERE pg_temp.reached_sql(r.rpos, p.from_pos)), 0)
                       FROM agg_reached r) AS expected
               FROM pairs p)
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE rate IS NOT DISTINCT FROM expected) AS equal
  FROM got;
SELECT funnel.conversion_rate(reached, 'b2b:lead', 'b2b:proposal') AS lead_to_proposal,
       funnel.conversion_rate(reached, 'b2b:proposal', 'b2b:won') AS proposal_to_won
  FROM agg_reached;
SELECT funnel.conversion_rate(reached, 'b2b:lead', 'b2b:won') IS NULL AS no_deals_is_null
  FROM agg_reached WHERE false;

-- funnel + report vs plain SQL
CREATE TABLE agg_report AS
SELECT r.* FROM (SELECT funnel.funnel(h.reached, d.amount) AS f
                   FROM agg_reached h JOIN agg_deals d USING (deal_id)) s,
              funnel.report(s.f) r;
CREATE TABLE agg_report_expected AS
WITH per_stage AS (
  SELECT m.name, m.pos, m.kind,
         count(*) FILTER (WHERE CASE WHEN m.kind = 'open' THEN pg_temp.reached_sql(r.rpos, m.pos) ELSE r.rpos = m.pos END) AS deals,
         sum(d.amount) FILTER (WHERE CASE WHEN m.kind = 'open' THEN pg_temp.reached_sql(r.rpos, m.pos) ELSE r.rpos = m.pos END) AS amount
    FROM agg_stage_map m CROSS JOIN agg_reached r JOIN agg_deals d USING (deal_id)
   GROUP BY m.name, m.pos, m.kind)
SELECT name, pos, deals, amount,
       -- report() rounds rates to 6 decimals (funnel.rate)
       CASE WHEN kind = 'open' AND pos > 1 THEN round(deals::numeric / nullif(lag(deals) OVER (ORDER BY pos), 0), 6)
            WHEN kind = 'won' THEN round(deals::numeric / nullif(lag(deals) OVER (ORDER BY pos), 0), 6) END AS conversion_from_previous,
       CASE WHEN kind IN ('open', 'won') THEN round(deals::numeric / nullif(first_value(deals) OVER (ORDER BY pos), 0), 6) END AS conversion_from_first,
       CASE WHEN kind = 'open' THEN deals - lead(deals) OVER (ORDER BY pos) END AS drop_off
  FROM per_stage;
SELECT * FROM agg_report ORDER BY stage;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE r.deals = e.deals AND r.amount IS NOT DISTINCT FROM e.amount
                          AND r.conversion_from_previous IS NOT DISTINCT FROM e.conversion_from_previous
                          AND r.conversion_from_first IS NOT DISTINCT FROM e.conversion_from_first
                          AND r.drop_off IS NOT DISTINCT FROM e.drop_off) AS equal
  FROM agg_report r JOIN agg_report_expected e ON funnel.stage_name(r.stage) = e.name;

-- merging per-owner summaries = one summary over everything
WITH per_owner AS (SELECT d.owner, funnel.funnel(h.reached, d.amount) AS f
                     FROM agg_reached h JOIN agg_deals d USING (deal_id) GROUP BY d.owner)
SELECT (SELECT funnel.funnel(f) FROM per_owner)::text =
       (SELECT funnel.funnel(h.reached, d.amount) FROM agg_reached h JOIN agg_deals d USING (deal_id))::text
       AS merged_equals_overall;
-- funnel(stage) without amounts: amount column NULL
SELECT stage, deals, amount, drop_off FROM funnel.report((SELECT funnel.funnel(reached) FROM agg_reached));

----------------------------------------------------------------------
-- Pipedrive-style change log: stage history from the stage_id changes
----------------------------------------------------------------------
CREATE TABLE pd_stages (stage_id int PRIMARY KEY, stage_name text);
\copy pd_stages FROM 'data/pipedrive_deal_changes/stages.csv' (FORMAT csv, HEADER true)
CREATE TABLE pd_changes (deal_id bigint, change_time timestamp, changed_field_key text, new_value text);
\copy pd_changes FROM 'data/pipedrive_deal_changes/deal_changes.csv' (FORMAT csv, HEADER true)
SELECT funnel.create_pipeline('pipedrive',
         (SELECT array_agg(stage_name ORDER BY stage_id) FROM pd_stages));
-- one visit per stage change; a lost_reason closes the deal as lost
CREATE TABLE pd_history AS
WITH ev AS (
  SELECT deal_id, change_time AT TIME ZONE 'UTC' AS at,
         CASE WHEN changed_field_key = 'stage_id' THEN new_value::int ELSE 10 END AS stage_id,
         changed_field_key
    FROM pd_changes WHERE changed_field_key IN ('stage_id', 'lost_reason'))
SELECT deal_id, stage_id,
       ('pipedrive:' || coalesce(s.stage_name, 'lost'))::funnel.deal_stage AS stage,
       at AS entered_at,
       lead(at) OVER (PARTITION BY deal_id ORDER BY at, changed_field_key DESC) AS left_at
  FROM ev LEFT JOIN pd_stages s USING (stage_id);
SELECT count(*) AS visits, count(DISTINCT deal_id) AS deals,
       count(*) FILTER (WHERE stage_id <= 9) AS stage_changes FROM pd_history;
-- deals skip stages: moves that jump over at least one stage
SELECT count(*) > 0 AS has_skips FROM (
  SELECT stage_id - lag(stage_id) OVER (PARTITION BY deal_id ORDER BY entered_at) AS step
    FROM pd_history WHERE stage_id <= 9) x WHERE step > 1;

CREATE TABLE pd_reached AS
SELECT deal_id, funnel.furthest(stage) AS reached,
       coalesce(max(stage_id) FILTER (WHERE stage_id <= 9), 10) AS rid
  FROM pd_history GROUP BY deal_id;
SELECT count(*) AS deals,
       count(*) FILTER (WHERE funnel.position(reached) <> rid) AS furthest_mismatches
  FROM pd_reached;
-- every conversion between open stages vs plain SQL (reached S = furthest open id >= S)
WITH pairs AS (SELECT a.stage_id AS f, b.stage_id AS t, a.stage_name AS fn, b.stage_name AS tn
                 FROM pd_stages a, pd_stages b),
     got AS (SELECT f, t,
                    (SELECT funnel.conversion_rate(reached, ('pipedrive:' || fn)::funnel.deal_stage,
                                                   ('pipedrive:' || tn)::funnel.deal_stage) FROM pd_reached) AS rate,
                    (SELECT count(*) FILTER (WHERE rid BETWEEN f AND 9 AND rid >= t)::numeric
                            / nullif(count(*) FILTER (WHERE rid BETWEEN f AND 9), 0) FROM pd_reached) AS expected
               FROM pairs)
SELECT count(*) AS pairs, count(*) FILTER (WHERE rate IS NOT DISTINCT FROM expected) AS equal FROM got;
-- report vs plain SQL counts
SELECT r.stage, r.deals, r.drop_off, round(r.conversion_from_previous, 4) AS conv_prev,
       r.deals = CASE WHEN funnel.kind(r.stage) = 'open'
                      THEN (SELECT count(*) FROM pd_reached WHERE rid BETWEEN funnel.position(r.stage) AND 9)
                      ELSE (SELECT count(*) FROM pd_reached WHERE rid = funnel.position(r.stage)) END AS deals_ok
  FROM funnel.report((SELECT funnel.funnel(reached) FROM pd_reached)) r;

----------------------------------------------------------------------
-- Maven CRM: win rate and sales velocity
----------------------------------------------------------------------
CREATE TABLE maven (opportunity_id text, sales_agent text, product text, account text,
                    deal_stage text, engage_date date, close_date date, close_value numeric);
\copy maven FROM 'data/maven_crm/sales_pipeline.csv' (FORMAT csv, HEADER true)
SELECT funnel.create_pipeline('maven', ARRAY['Prospecting','Engaging'], won => ARRAY['Won'], lost => ARRAY['Lost']);
ALTER TABLE maven ADD COLUMN stage funnel.deal_stage;
UPDATE maven SET stage = ('maven:' || deal_stage)::funnel.deal_stage;
SELECT deal_stage, count(*) FROM maven GROUP BY 1 ORDER BY 1;
SELECT funnel.win_rate(stage) AS win_rate,
       4238::numeric / 6711 AS expected,
       funnel.win_rate(stage) = 4238::numeric / 6711 AS equal,
       funnel.win_rate(stage) = (count(*) FILTER (WHERE deal_stage = 'Won'))::numeric
                                / count(*) FILTER (WHERE deal_stage IN ('Won', 'Lost')) AS equal_sql
  FROM maven;
SELECT sales_agent, funnel.win_rate(stage) = (count(*) FILTER (WHERE deal_stage = 'Won'))::numeric
                                / nullif(count(*) FILTER (WHERE deal_stage IN ('Won', 'Lost')), 0) AS equal
  FROM maven GROUP BY sales_agent ORDER BY sales_agent LIMIT 5;
SELECT funnel.win_rate(stage) IS NULL AS open_only_is_null FROM maven WHERE deal_stage = 'Engaging';
-- velocity = open deals x win rate x avg won amount / avg cycle days of won deals
WITH v AS (
  SELECT funnel.sales_velocity(stage, close_value, engage_date::timestamptz, close_date::timestamptz) AS got,
         count(*) FILTER (WHERE deal_stage IN ('Prospecting', 'Engaging'))::numeric AS n,
         count(*) FILTER (WHERE deal_stage = 'Won')::numeric
           / count(*) FILTER (WHERE deal_stage IN ('Won', 'Lost')) AS win_rate,
         avg(close_value) FILTER (WHERE deal_stage = 'Won') AS avg_won,
         avg(extract(epoch FROM close_date::timestamptz - engage_date::timestamptz) / 86400)
           FILTER (WHERE deal_stage = 'Won') AS avg_days
    FROM maven)
SELECT round(got, 6) AS velocity, round(n * win_rate * avg_won / avg_days, 6) AS expected,
       round(got, 6) = round(n * win_rate * avg_won / avg_days, 6) AS equal
  FROM v;

----------------------------------------------------------------------
-- weighted_forecast: exact numeric sums
----------------------------------------------------------------------
SELECT setseed(0.7);
CREATE TABLE agg_fc AS
SELECT i, CASE WHEN i % 13 = 0 THEN NULL
               ELSE round((random() * 200000 - 20000)::numeric, 2) END AS amount,
       ('b2b:' || (SELECT name FROM agg_stage_map WHERE pos = 1 + (i % 6)))::funnel.deal_stage AS stage,
       round(random()::numeric, 3) AS p
  FROM generate_series(1, 100000) i;
SELECT count(*) FILTER (WHERE amount < 0) > 0 AS has_negative, count(*) FILTER (WHERE amount IS NULL) AS null_amounts FROM agg_fc;
SELECT funnel.weighted_forecast(amount, stage) = sum(amount * funnel.probability(stage)::numeric) AS stage_equal,
       funnel.weighted_forecast(amount, stage)::text = sum(amount * funnel.probability(stage)::numeric)::text AS stage_same_text,
       funnel.weighted_forecast(amount, stage) = sum(amount * m.prob) AS stage_equal_plain,
       funnel.weighted_forecast(amount, p) = sum(amount * p) AS numeric_equal,
       funnel.weighted_forecast(amount, p)::text = sum(amount * p)::text AS numeric_same_text
  FROM agg_fc JOIN agg_stage_map m ON m.name = funnel.stage_name(stage);
SELECT funnel.weighted_forecast(amount, stage) FROM agg_fc WHERE false;
SELECT funnel.weighted_forecast(amount, stage) FROM agg_fc WHERE amount IS NULL;
SELECT funnel.weighted_forecast(a, p)
  FROM (VALUES (100.00::numeric, 0.5::numeric), (-40.00, 0.25), (NULL, 1), (7, NULL), (0.001, 1)) v(a, p);
SELECT funnel.weighted_forecast(a, 'b2b:won'::funnel.deal_stage) AS won_counts_1,
       funnel.weighted_forecast(a, 'b2b:lost'::funnel.deal_stage) AS lost_counts_0
  FROM (VALUES (123.45::numeric), (1e20), (-1e-10)) v(a);
SELECT funnel.weighted_forecast(a, 0.5) FROM (VALUES (1::numeric), ('NaN')) v(a);
SELECT funnel.weighted_forecast(a, 0.5) FROM (VALUES (1::numeric), ('Infinity')) v(a);
SELECT funnel.weighted_forecast(1, p) FROM (VALUES (1.5::numeric)) v(p);
SELECT funnel.weighted_forecast(1, p) FROM (VALUES (-0.1::numeric)) v(p);
SELECT funnel.weighted_forecast(a, 1) FROM (VALUES (1e30::numeric), (1e30)) v(a);
SELECT funnel.weighted_forecast(a, 1) FROM (VALUES (1e-40::numeric)) v(a);

-- numeric decoding fuzz: scales 0..10, 1 to 26 significant digits (both
-- the inline and the general decoding path), signs mixed, zeros
SELECT setseed(0.3);
CREATE TABLE agg_fuzz AS
SELECT i, ('b2b:' || (SELECT name FROM agg_stage_map WHERE pos = 1 + (i % 6)))::funnel.deal_stage AS stage,
       CASE WHEN i % 50 = 0 THEN 0::numeric
            ELSE round(((random() - 0.3) * 10 ^ (random() * 16 - 4))::numeric, (random() * 10)::int)
                 * CASE WHEN i % 7 = 0 THEN 10000::numeric ELSE 1::numeric END END AS amount,
       round(random()::numeric, (random() * 6)::int) AS p
  FROM generate_series(1, 30000) i;
SELECT count(DISTINCT scale(amount)) AS scales, max(length(abs(amount)::text)) > 20 AS has_long_values,
       count(*) FILTER (WHERE amount < 0) > 0 AS has_negative FROM agg_fuzz;
SELECT funnel.weighted_forecast(amount, p)::text = sum(amount * p)::text AS forecast_numeric_same,
       funnel.weighted_forecast(amount, stage)::text = sum(amount * funnel.probability(stage)::numeric)::text AS forecast_stage_same
  FROM agg_fuzz;
SELECT count(*) AS stages,
       count(*) FILTER (WHERE r.amount = e.amount AND r.deals = e.deals) AS equal
  FROM funnel.report((SELECT funnel.funnel(stage, amount) FROM agg_fuzz)) r
  JOIN (SELECT m.pos, count(*) AS deals, sum(f.amount) AS amount
          FROM agg_stage_map m JOIN agg_fuzz f
            ON CASE WHEN m.kind = 'open' THEN pg_temp.reached_sql(funnel.position(f.stage), m.pos)
                    ELSE funnel.position(f.stage) = m.pos END
         GROUP BY m.pos) e ON e.pos = funnel.position(r.stage);

----------------------------------------------------------------------
-- time in stage: exact percentile_cont, edge cases
----------------------------------------------------------------------
CREATE TABLE agg_visits (entered_at timestamptz, left_at timestamptz);
SELECT funnel.median_time_in_stage(entered_at, left_at) AS zero_rows,
       funnel.time_in_stage_percentile(entered_at, left_at, 0.9) AS zero_rows_p90
  FROM agg_visits;
INSERT INTO agg_visits VALUES ('2024-01-01 00:00+00', NULL);
SELECT funnel.median_time_in_stage(entered_at, left_at) AS only_open_visits FROM agg_visits;
INSERT INTO agg_visits VALUES ('2024-01-01 00:00+00', '2024-01-03 05:00:00.000001+00');
SELECT funnel.median_time_in_stage(entered_at, left_at) AS one_row,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) AS expected
  FROM agg_visits;
INSERT INTO agg_visits VALUES ('2024-01-02 00:00+00', '2024-01-04 05:00:00.000001+00'),
                              ('2024-01-05 00:00+00', '2024-01-07 05:00:00.000001+00');
SELECT f, funnel.time_in_stage_percentile(entered_at, left_at, f) AS equal_values,
       percentile_cont(f) WITHIN GROUP (ORDER BY left_at - entered_at) AS expected
  FROM agg_visits, unnest(ARRAY[0, 0.25, 0.5, 0.9, 1]::float8[]) f GROUP BY f ORDER BY f;
INSERT INTO agg_visits VALUES ('2024-01-05 00:00+00', '2024-01-05 00:00:00.5+00'),
                              ('2024-03-01 00:00+00', '2024-01-01 00:00+00'),
                              ('2024-01-01 00:00+00', '2025-03-01 17:03:01.123457+00');
SELECT f, funnel.time_in_stage_percentile(entered_at, left_at, f) AS got,
       percentile_cont(f) WITHIN GROUP (ORDER BY left_at - entered_at) AS expected
  FROM agg_visits, unnest(ARRAY[0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]::float8[]) f GROUP BY f ORDER BY f;
SELECT funnel.time_in_stage_percentile(entered_at, left_at, NULL) AS null_fraction FROM agg_visits;
SELECT funnel.time_in_stage_percentile(entered_at, left_at, 1.5) FROM agg_visits;
SELECT funnel.time_in_stage_percentile(entered_at, left_at, -0.1) FROM agg_visits;
SELECT funnel.time_in_stage_percentile(entered_at, left_at, 'NaN') FROM agg_visits;
SELECT funnel.time_in_stage_percentile(entered_at, left_at, CASE WHEN left_at IS NULL THEN 0.5 ELSE 0.9 END) FROM agg_visits;
SELECT funnel.median_time_in_stage(entered_at, left_at) FROM (VALUES ('-infinity'::timestamptz, now())) v(entered_at, left_at);

-- >= 100k random visits, 10% still open: equal to percentile_cont to the microsecond
SELECT setseed(0.1);
CREATE TABLE agg_random_visits AS
SELECT ('b2b:' || (SELECT name FROM agg_stage_map WHERE pos = 1 + (i % 4)))::funnel.deal_stage AS stage,
       t AS entered_at,
       CASE WHEN random() < 0.1 THEN NULL
            ELSE t + (random() * 90 * 86400 * 1000000)::bigint * interval '1 microsecond' END AS left_at
  FROM generate_series(1, 120000) i,
       LATERAL (SELECT timestamptz '2024-01-01 00:00+00' + (random() * 365 * 86400 * 1000000)::bigint * interval '1 microsecond' + (i * 0) * interval '1 s' AS t) x;
SELECT count(*) AS visits, count(left_at) AS closed FROM agg_random_visits;
SELECT f, funnel.time_in_stage_percentile(entered_at, left_at, f)
          = percentile_cont(f) WITHIN GROUP (ORDER BY left_at - entered_at) AS equal
  FROM agg_random_visits, unnest(ARRAY[0, 0.25, 0.5, 0.9, 1]::float8[]) f GROUP BY f ORDER BY f;
SELECT funnel.median_time_in_stage(entered_at, left_at)
       = percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) AS median_equal
  FROM agg_random_visits;
SELECT stage, funnel.median_time_in_stage(entered_at, left_at)
              = percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) AS median_equal
  FROM agg_random_visits GROUP BY stage ORDER BY stage;

-- skewed: most durations equal, a few far away in both directions, many ties
CREATE TABLE agg_skewed_visits AS
SELECT timestamptz '2024-01-01 00:00+00' AS entered_at,
       timestamptz '2024-01-01 00:00+00' + CASE WHEN i % 10000 = 0 THEN interval '900 days'
                                                WHEN i % 9999 = 0 THEN interval '-3 days'
                                                WHEN i % 3 = 0 THEN interval '1 hour 0.000001 s'
                                                ELSE interval '1 hour' END AS left_at
  FROM generate_series(1, 60000) i;
SELECT f, funnel.time_in_stage_percentile(entered_at, left_at, f)
          = percentile_cont(f) WITHIN GROUP (ORDER BY left_at - entered_at) AS equal
  FROM agg_skewed_visits, unnest(ARRAY[0, 0.0001, 0.25, 0.5, 0.6666, 0.6667, 0.9, 0.99995, 1]::float8[]) f
 GROUP BY f ORDER BY f;

----------------------------------------------------------------------
-- funnel_summary type: text I/O, errors
----------------------------------------------------------------------
SELECT funnel.funnel(s::funnel.deal_stage, a)
  FROM (VALUES ('零售:商机', 10.5), ('零售:潜在客户', NULL), ('零售:成交', 99.999)) v(s, a);
SELECT r.* FROM funnel.report((SELECT funnel.funnel(s::funnel.deal_stage, a)
  FROM (VALUES ('零售:商机', 10.5), ('零售:潜在客户', NULL), ('零售:成交', 99.999), ('零售:无预算', 1)) v(s, a))) r;
-- text round trip
SELECT x::text::funnel.funnel_summary::text = x::text AS text_round_trip
  FROM (SELECT funnel.funnel(reached, amount) AS x FROM agg_reached JOIN agg_deals USING (deal_id)) s;
SELECT ' { "pipeline" : "b2b" , "stages" : [ { "stage" : "lead" , "deals" : 2 , "amount_count" : 1 , "amount" : -5 } ] } '::funnel.funnel_summary;
SELECT '{"pipeline": "b2b", "stages": []}'::funnel.funnel_summary;
SELECT '{"pipeline": "nope", "stages": []}'::funnel.funnel_summary;
SELECT '{"pipeline": "b2b", "stages": [{"stage": "demo", "deals": 1, "amount_count": 0, "amount": 0}]}'::funnel.funnel_summary;
SELECT '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 1, "amount_count": 2, "amount": 0}]}'::funnel.funnel_summary;
SELECT '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": -1}]}'::funnel.funnel_summary;
SELECT '{"pipeline": "b2b"'::funnel.funnel_summary;
-- mixed pipelines are refused
SELECT funnel.funnel(s::funnel.deal_stage) FROM (VALUES ('b2b:lead'), ('零售:商机')) v(s);
SELECT funnel.funnel(x) FROM (SELECT funnel.funnel('b2b:lead'::funnel.deal_stage) UNION ALL
                              SELECT funnel.funnel('零售:商机'::funnel.deal_stage)) v(x);
SELECT funnel.conversion_rate(s::funnel.deal_stage, 'b2b:lead', 'b2b:won') FROM (VALUES ('零售:商机')) v(s);
-- state types
SELECT '(3,1250.50)'::funnel.forecast_state, '(6,2,3,1,4500.00,2,864000000000)'::funnel.velocity_state;
SELECT '(3,abc)'::funnel.forecast_state;
SELECT '(1,2)'::funnel.velocity_state;

----------------------------------------------------------------------
-- binary I/O: summaries and states move to a database whose OIDs differ
----------------------------------------------------------------------
CREATE TABLE agg_states AS
SELECT (SELECT funnel.funnel(reached, amount) FROM agg_reached JOIN agg_deals USING (deal_id)) AS summary,
       (SELECT funnel.funnel(s::funnel.deal_stage, 1) FROM (VALUES ('零售:商机'), ('零售:成交')) v(s)) AS summary_cn,
       '(3,1250.50)'::funnel.forecast_state AS fc,
       '(10,3,2,3,4500.00,3,864000000000)'::funnel.velocity_state AS vel;
\copy agg_states TO 'results/funnel_agg_states.bin' (FORMAT binary)
CREATE TABLE agg_states_back (LIKE agg_states);
\copy agg_states_back FROM 'results/funnel_agg_states.bin' (FORMAT binary)
SELECT a.summary::text = b.summary::text AS summary_equal, a.summary_cn::text = b.summary_cn::text AS cn_equal,
       a.fc::text = b.fc::text AS fc_equal, a.vel::text = b.vel::text AS vel_equal
  FROM agg_states a, agg_states_back b;
SELECT a.summary::text AS summary_text, current_database() AS regress_db FROM agg_states a \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS funnel_agg_other;
RESET client_min_messages;
CREATE DATABASE funnel_agg_other;
\c funnel_agg_other
CREATE EXTENSION funnel;
-- other OIDs: pipelines created in another order, with an extra stage
SELECT funnel.create_pipeline('x', ARRAY['a']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'], ARRAY[0.1,0.3,0.6], won => ARRAY['成交'], lost => ARRAY['流失','无预算']);
SELECT funnel.create_pipeline('b2b', stages => ARRAY['lead','qualified','proposal','negotiation'], probabilities => ARRAY[0.10, 0.25, 0.50, 0.75]);
CREATE TABLE agg_states (summary funnel.funnel_summary, summary_cn funnel.funnel_summary,
                         fc funnel.forecast_state, vel funnel.velocity_state);
\copy agg_states FROM 'results/funnel_agg_states.bin' (FORMAT binary)
SELECT summary::text = :'summary_text' AS same_summary_elsewhere, fc, vel FROM agg_states;
SELECT r.* FROM agg_states, funnel.report(summary_cn) r;
\c :regress_db
DROP DATABASE funnel_agg_other;

DROP TABLE agg_stage_map, agg_hist, agg_deals, agg_reached, agg_report, agg_report_expected,
           pd_stages, pd_changes, pd_history, pd_reached, maven, agg_fc, agg_visits,
           agg_random_visits, agg_skewed_visits, agg_states, agg_states_back, agg_fuzz;
DROP EXTENSION funnel CASCADE;
