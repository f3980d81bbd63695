--
-- journey: funnel.journey(), funnel.funnel(journey [, amount]),
-- funnel.funnel(stage, amount, lost_at) and the outcome columns of
-- report(), against plain SQL computed without funnel functions (issue 9)
--
CREATE EXTENSION funnel;
SET timezone = 'UTC';
SET intervalstyle = 'postgres';
SET search_path = public, funnel;

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.1,0.25,0.5,0.75]);
SELECT funnel.create_pipeline('maven', ARRAY['Prospecting','Engaging'], ARRAY[0.1,0.4],
                              won => ARRAY['Won'], lost => ARRAY['Lost']);

-- The plain-SQL report of a visit history: j_visits holds one dataset's
-- visits (deal, stage position, kind, entered_at, the deal's amount),
-- j_map the stages.  A deal's current stage is that of its latest visit
-- (ties: the later stage), its outcome that stage's kind.
CREATE TABLE j_map (name text, pos int, kind text);
CREATE TABLE j_visits (deal text, pos int, kind text, at timestamptz, amount numeric);
CREATE VIEW j_facts AS
SELECT f.*, m.kind AS outcome
  FROM (SELECT deal,
               (array_agg(pos ORDER BY at DESC, pos DESC))[1] AS cur_pos,
               max(pos) FILTER (WHERE kind = 'open') AS furthest_pos,
               (array_agg(pos ORDER BY at DESC, pos DESC) FILTER (WHERE kind = 'open'))[1] AS last_open_pos,
               min(at) AS started_at,
               max(amount) AS amount
          FROM j_visits GROUP BY deal) f
  JOIN j_map m ON m.pos = f.cur_pos;
CREATE VIEW j_expected AS
WITH s AS (
  SELECT m.name, m.pos, m.kind,
         CASE WHEN m.kind = 'open'
              THEN count(*) FILTER (WHERE f.outcome = 'won' OR f.furthest_pos >= m.pos)
              ELSE count(*) FILTER (WHERE f.cur_pos = m.pos) END AS deals,
         CASE WHEN m.kind = 'open'
              THEN sum(f.amount) FILTER (WHERE f.outcome = 'won' OR f.furthest_pos >= m.pos)
              ELSE sum(f.amount) FILTER (WHERE f.cur_pos = m.pos) END AS amount,
         CASE WHEN m.kind = 'open' THEN count(*) FILTER (WHERE f.outcome = 'won')
              WHEN m.kind = 'won' THEN count(*) FILTER (WHERE f.cur_pos = m.pos) ELSE 0 END AS won,
         CASE WHEN m.kind = 'open' THEN count(*) FILTER (WHERE f.outcome = 'lost' AND f.furthest_pos >= m.pos)
              WHEN m.kind = 'lost' THEN count(*) FILTER (WHERE f.cur_pos = m.pos) ELSE 0 END AS lost,
         CASE WHEN m.kind = 'open' THEN count(*) FILTER (WHERE f.outcome = 'open' AND f.furthest_pos >= m.pos)
              ELSE 0 END AS open,
         CASE WHEN m.kind = 'open' THEN count(*) FILTER (WHERE f.outcome = 'lost' AND f.last_open_pos = m.pos) END AS lost_here,
         CASE WHEN m.kind = 'open' THEN count(*) FILTER (WHERE f.outcome = 'open' AND f.cur_pos = m.pos) END AS open_here
    FROM j_map m CROSS JOIN j_facts f
   GROUP BY m.name, m.pos, m.kind)
SELECT name, pos, deals, amount,
       CASE WHEN kind = 'open' AND pos > 1 OR kind = 'won'
            -- reached counts fall from stage to stage: the smallest earlier one is the previous open stage's
            -- report() rounds rates to 6 decimals (funnel.rate)
            THEN round(deals::numeric / nullif(min(deals) FILTER (WHERE kind = 'open')
                                           OVER (ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 6)
            END AS conversion_from_previous,
       CASE WHEN kind IN ('open', 'won') THEN round(deals::numeric / nullif(first_value(deals) OVER (ORDER BY pos), 0), 6) END AS conversion_from_first,
       lost_here + open_here AS drop_off, won, lost, open, lost_here, open_here,
       round(won::numeric / nullif(won + lost, 0), 6) AS win_rate
  FROM s;

----------------------------------------------------------------------
-- a small history checked by hand
----------------------------------------------------------------------
-- 1 lead -> proposal -> won; 2 lead -> lost; 3 skips to negotiation; 4 lead;
-- 5 lost without an open visit; 6 qualified -> lead -> qualified (backward);
-- 7 lead -> proposal -> lost in one transaction (same entered_at);
-- 8 lead -> lost -> qualified (reopened); 9 NULL rows only
CREATE TABLE h (deal int, stage funnel.deal_stage, entered_at timestamptz);
INSERT INTO h VALUES
 (1, 'b2b:lead', '2024-01-01'), (1, 'b2b:proposal', '2024-01-02'), (1, 'b2b:won', '2024-01-05'),
 (2, 'b2b:lead', '2024-01-01'), (2, 'b2b:lost', '2024-01-11'),
 (3, 'b2b:negotiation', '2024-01-03'),
 (4, 'b2b:lead', '2024-01-04'),
 (5, 'b2b:lost', '2024-01-04'),
 (6, 'b2b:qualified', '2024-01-01'), (6, 'b2b:lead', '2024-01-02'), (6, 'b2b:qualified', '2024-01-03'),
 (7, 'b2b:lead', '2024-01-01'), (7, 'b2b:lost', '2024-01-01'), (7, 'b2b:proposal', '2024-01-01'),
 (8, 'b2b:lead', '2024-01-01'), (8, 'b2b:lost', '2024-01-02'), (8, 'b2b:qualified', '2024-01-03'),
 (9, NULL, '2024-01-01'), (9, 'b2b:lead', NULL);
CREATE TABLE d (deal int, amount numeric(12,2));
INSERT INTO d VALUES (1, 1000), (2, 500), (3, 250.50), (4, NULL), (5, 10), (6, -100), (7, 5), (8, 1);
CREATE TABLE j AS SELECT deal, funnel.journey(stage, entered_at) AS j FROM h GROUP BY deal;
SELECT deal, funnel.outcome(j), funnel.current_stage(j), funnel.furthest_stage(j),
       funnel.last_open_stage(j), funnel.started_at(j), funnel.closed_at(j)
  FROM j ORDER BY deal;
SELECT j FROM j WHERE deal IN (2, 5) ORDER BY deal;
-- the journey of every deal vs plain SQL (ties: the later stage)
SELECT count(*) AS deals,
       count(*) FILTER (WHERE funnel.current_stage(j.j) = x.cur
                          AND funnel.furthest_stage(j.j) IS NOT DISTINCT FROM x.furthest
                          AND funnel.last_open_stage(j.j) IS NOT DISTINCT FROM x.last_open
                          AND funnel.started_at(j.j) = x.started) AS equal
  FROM j JOIN (SELECT deal, (array_agg(stage ORDER BY entered_at DESC, stage DESC))[1] AS cur,
                      funnel.max(stage) FILTER (WHERE funnel.kind(stage) = 'open') AS furthest,
                      (array_agg(stage ORDER BY entered_at DESC, stage DESC)
                         FILTER (WHERE funnel.kind(stage) = 'open'))[1] AS last_open,
                      min(entered_at) AS started
                 FROM h WHERE stage IS NOT NULL AND entered_at IS NOT NULL GROUP BY deal) x USING (deal);
-- journey of no rows, or only NULLs, is NULL
SELECT funnel.journey(stage, entered_at) IS NULL AS null_journey FROM h WHERE deal = 9;
SELECT r.* FROM funnel.report((SELECT funnel.funnel(j.j, d.amount) FROM j JOIN d USING (deal))) r;
-- the same against the plain-SQL report
INSERT INTO j_map SELECT funnel.stage_name(s), funnel.position(s), funnel.kind(s)
  FROM unnest(enum_range(NULL::funnel_pipeline.b2b)) e, LATERAL (SELECT ('b2b:' || e)::funnel.deal_stage AS s) x;
INSERT INTO j_visits SELECT h.deal, funnel.position(h.stage), funnel.kind(h.stage), h.entered_at, d.amount
  FROM h JOIN d USING (deal) WHERE h.stage IS NOT NULL AND h.entered_at IS NOT NULL;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (r.deals, r.amount, r.conversion_from_previous, r.conversion_from_first, r.drop_off,
                               r.won, r.lost, r.open, r.lost_here, r.open_here, r.win_rate)
                              IS NOT DISTINCT FROM
                              (e.deals, e.amount, e.conversion_from_previous, e.conversion_from_first, e.drop_off,
                               e.won, e.lost, e.open, e.lost_here, e.open_here, e.win_rate)) AS equal
  FROM funnel.report((SELECT funnel.funnel(j.j, d.amount) FROM j JOIN d USING (deal))) r
  JOIN j_expected e ON e.pos = funnel.position(r.stage);
-- funnel(journey) without amounts: same counts, no amounts
SELECT string_agg(deals || '/' || coalesce(amount::text, '-') || '/' || coalesce(lost_here::text, '-'), ' ')
  FROM funnel.report((SELECT funnel.funnel(j) FROM j));
-- merging a journey summary with a furthest() summary drops the outcome counters
SELECT r.stage, r.deals, r.won, r.lost, r.lost_here, r.win_rate
  FROM funnel.report((SELECT funnel.funnel(s) FROM (
         SELECT funnel.funnel(j) AS s FROM j
         UNION ALL SELECT funnel.funnel(f) FROM (SELECT funnel.furthest(stage) AS f FROM h WHERE deal = 1) x) y)) r;
-- per-owner journey summaries merge exactly
SELECT (SELECT funnel.funnel(s)::text FROM (SELECT funnel.funnel(j.j, d.amount) AS s FROM j JOIN d USING (deal)
                                             GROUP BY d.deal % 3) x)
     = (SELECT funnel.funnel(j.j, d.amount)::text FROM j JOIN d USING (deal)) AS merged_equal;

----------------------------------------------------------------------
-- Maven CRM replayed as history: a deal with an engage_date enters
-- Engaging then (the others stay in Prospecting, entered 2016-10-01);
-- Won or Lost at its close_date
----------------------------------------------------------------------
CREATE TABLE maven (opportunity_id text, sales_agent text, product text, account text,
                    deal_stage text, engage_date date, close_date date, close_value numeric);
\copy maven FROM 'data/maven_crm/sales_pipeline.csv' (FORMAT csv, HEADER true)
CREATE TABLE maven_history AS
SELECT opportunity_id AS deal, 'maven:Prospecting'::funnel.deal_stage AS stage, timestamptz '2016-10-01' AS entered_at
  FROM maven WHERE engage_date IS NULL
UNION ALL
SELECT opportunity_id, 'maven:Engaging', engage_date FROM maven WHERE engage_date IS NOT NULL
UNION ALL
SELECT opportunity_id, ('maven:' || deal_stage)::funnel.deal_stage, close_date
  FROM maven WHERE deal_stage IN ('Won', 'Lost');
CREATE TABLE maven_journeys AS
SELECT deal, funnel.journey(stage, entered_at) AS j FROM maven_history GROUP BY deal;
CREATE TABLE maven_report AS
SELECT r.* FROM funnel.report((SELECT funnel.funnel(mj.j, m.close_value)
                                 FROM maven_journeys mj JOIN maven m ON m.opportunity_id = mj.deal)) r;
SELECT stage, deals, won, lost, open, lost_here, open_here, drop_off, round(win_rate, 4) AS win_rate
  FROM maven_report;
-- the figures of issue 9 at Engaging, and the same from the CSV's columns
SELECT r.deals = 8300 AND r.won = 4238 AND r.lost = 2473 AND r.open = 1589
       AND r.lost_here = 2473 AND r.open_here = 1589 AND r.win_rate = round(4238::numeric / 6711, 6) AS issue_figures,
       r.deals = (SELECT count(*) FROM maven WHERE engage_date IS NOT NULL)
       AND r.won = (SELECT count(*) FROM maven WHERE deal_stage = 'Won')
       AND r.lost = (SELECT count(*) FROM maven WHERE deal_stage = 'Lost' AND engage_date IS NOT NULL)
       AND r.open = (SELECT count(*) FROM maven WHERE deal_stage = 'Engaging')
       AND r.amount = (SELECT sum(close_value) FROM maven WHERE engage_date IS NOT NULL) AS csv_figures
  FROM maven_report r WHERE funnel.stage_name(r.stage) = 'Engaging';
TRUNCATE j_map, j_visits;
INSERT INTO j_map VALUES ('Prospecting', 1, 'open'), ('Engaging', 2, 'open'), ('Won', 3, 'won'), ('Lost', 4, 'lost');
INSERT INTO j_visits SELECT h.deal, m.pos, m.kind, h.entered_at, mv.close_value
  FROM maven_history h JOIN j_map m ON m.name = funnel.stage_name(h.stage)
  JOIN maven mv ON mv.opportunity_id = h.deal;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (r.deals, r.amount, r.conversion_from_previous, r.conversion_from_first, r.drop_off,
                               r.won, r.lost, r.open, r.lost_here, r.open_here, r.win_rate)
                              IS NOT DISTINCT FROM
                              (e.deals, e.amount, e.conversion_from_previous, e.conversion_from_first, e.drop_off,
                               e.won, e.lost, e.open, e.lost_here, e.open_here, e.win_rate)) AS equal
  FROM maven_report r JOIN j_expected e ON e.pos = funnel.position(r.stage);

-- learned probabilities: the win rate of the closed deals that reached each
-- open stage, with a 95% Wilson interval (the formula written out here)
SELECT l.stage, l.configured, round(l.learned, 4) AS learned, l.closed, l.lower, l.upper
  FROM funnel.learned_probabilities((SELECT funnel.funnel(mj.j) FROM maven_journeys mj)) l;
WITH c AS (SELECT count(*) FILTER (WHERE deal_stage = 'Won')::numeric AS won,
                  count(*) FILTER (WHERE deal_stage IN ('Won', 'Lost'))::numeric AS n,
                  1.959963984540054::numeric AS z FROM maven)
SELECT l.learned = round(c.won / c.n, 6) AS learned_ok, l.closed = c.n AS closed_ok,
       l.lower = round((c.won / c.n + c.z ^ 2 / (2 * c.n)) / (1 + c.z ^ 2 / c.n)
                       - c.z / (1 + c.z ^ 2 / c.n) * sqrt(c.won / c.n * (1 - c.won / c.n) / c.n + c.z ^ 2 / (4 * c.n ^ 2)), 6) AS lower_ok,
       l.upper = round((c.won / c.n + c.z ^ 2 / (2 * c.n)) / (1 + c.z ^ 2 / c.n)
                       + c.z / (1 + c.z ^ 2 / c.n) * sqrt(c.won / c.n * (1 - c.won / c.n) / c.n + c.z ^ 2 / (4 * c.n ^ 2)), 6) AS upper_ok
  FROM funnel.learned_probabilities((SELECT funnel.funnel(mj.j) FROM maven_journeys mj)) l, c
 WHERE funnel.stage_name(l.stage) = 'Engaging';
-- every deal won, or none: the interval still lies in [0, 1]; no closed deal: NULLs
SELECT funnel.stage_name(stage), learned, closed, lower, upper
  FROM funnel.learned_probabilities((SELECT funnel.funnel(s::funnel.deal_stage, NULL, NULL)
                                       FROM (VALUES ('maven:Won'), ('maven:Won'), ('maven:Engaging')) v(s)));
SELECT funnel.stage_name(stage), learned, closed, lower, upper
  FROM funnel.learned_probabilities((SELECT funnel.funnel(s::funnel.deal_stage, NULL, NULL)
                                       FROM (VALUES ('maven:Lost'), ('maven:Engaging')) v(s)));
-- a summary without outcomes (furthest input) learns nothing
SELECT funnel.stage_name(stage), configured, learned, closed, lower
  FROM funnel.learned_probabilities((SELECT funnel.funnel('maven:Won'::funnel.deal_stage)));

-- sales cycle per closed deal (first entry to won/lost), by outcome, vs plain SQL
SELECT funnel.outcome(mj.j), count(*) AS deals,
       funnel.median_time_in_stage(funnel.started_at(mj.j), funnel.closed_at(mj.j)) AS median_cycle,
       funnel.avg_time_in_stage(funnel.started_at(mj.j), funnel.closed_at(mj.j)) AS avg_cycle,
       round(funnel.avg_time_in_stage_days(funnel.started_at(mj.j), funnel.closed_at(mj.j)), 3) AS avg_cycle_days
  FROM maven_journeys mj GROUP BY 1 ORDER BY 1;
SELECT m.deal_stage,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY m.close_date - m.engage_date) AS median_days,
       round(avg(m.close_date - m.engage_date), 3) AS avg_days,
       bool_and(funnel.sales_cycle(mj.j) = (m.close_date - m.engage_date) * interval '1 day') AS cycle_ok
  FROM maven m JOIN maven_journeys mj ON mj.deal = m.opportunity_id
 WHERE m.deal_stage IN ('Won', 'Lost') GROUP BY 1 ORDER BY 1;
SELECT count(*) AS open_deals_without_cycle FROM maven_journeys WHERE funnel.sales_cycle(j) IS NULL;

-- sales velocity = open deals x win rate x average won amount / average won
-- cycle (days), every input visible, vs plain SQL over the CSV
SELECT (v).* FROM (SELECT funnel.sales_velocity_parts(mj.j, m.close_value) AS v
                     FROM maven_journeys mj JOIN maven m ON m.opportunity_id = mj.deal) x;
WITH e AS (
  SELECT count(*) FILTER (WHERE deal_stage IN ('Prospecting', 'Engaging')) AS open_deals,
         count(*) FILTER (WHERE deal_stage = 'Won')::numeric / count(*) FILTER (WHERE deal_stage IN ('Won', 'Lost')) AS win_rate,
         avg(close_value) FILTER (WHERE deal_stage = 'Won') AS avg_won,
         avg(close_date - engage_date) FILTER (WHERE deal_stage = 'Won') AS avg_days
    FROM maven),
v AS (SELECT funnel.sales_velocity_parts(mj.j, m.close_value) AS p, funnel.sales_velocity(mj.j, m.close_value) AS s,
             funnel.sales_velocity(('maven:' || m.deal_stage)::funnel.deal_stage, m.close_value,
                                   m.engage_date, m.close_date) AS by_stage
        FROM maven_journeys mj JOIN maven m ON m.opportunity_id = mj.deal)
SELECT (v.p).open_deals = e.open_deals AS open_ok, (v.p).win_rate = e.win_rate AS win_rate_ok,
       round((v.p).avg_won_amount, 10) = round(e.avg_won, 10) AS avg_won_ok,
       round((v.p).avg_won_cycle_days, 10) = round(e.avg_days, 10) AS cycle_ok,
       round((v.p).velocity, 6) = round(e.open_deals * e.win_rate * e.avg_won / e.avg_days, 6) AS velocity_ok,
       v.s = (v.p).velocity AS same_as_sales_velocity,
       v.by_stage = v.s AS stage_form_agrees
  FROM v, e;
-- edge cases: no won deal, no open deal, no closed deal, a zero cycle
SELECT x.label, (funnel.sales_velocity_parts(s::funnel.deal_stage, a::numeric, c::timestamptz, d::timestamptz)).*
  FROM (VALUES ('no won', 'maven:Lost', 10, '2024-01-01', '2024-01-05'), ('no won', 'maven:Engaging', 10, NULL, NULL),
               ('no open', 'maven:Won', 100, '2024-01-01', '2024-01-11'), ('no open', 'maven:Lost', 10, '2024-01-01', '2024-01-05'),
               ('open only', 'maven:Engaging', 10, '2024-01-01', NULL),
               ('zero cycle', 'maven:Won', 100, '2024-01-01', '2024-01-01'), ('zero cycle', 'maven:Engaging', 5, NULL, NULL))
       x(label, s, a, c, d)
 GROUP BY x.label ORDER BY x.label;

-- current stage only (one row per deal, no history): without lost_at a lost
-- deal counts as reached and lost at the first open stage
SELECT stage, deals, won, lost, open, lost_here, open_here, round(win_rate, 4) AS win_rate
  FROM funnel.report((SELECT funnel.funnel(('maven:' || deal_stage)::funnel.deal_stage, close_value, NULL)
                        FROM maven));
-- with a "stage when lost" column: every Maven loss was engaged, so lost_at
-- Engaging gives the journey report exactly
SELECT (SELECT funnel.funnel(('maven:' || deal_stage)::funnel.deal_stage, close_value,
                             CASE WHEN engage_date IS NOT NULL THEN 'maven:Engaging'::funnel.deal_stage END)::text
          FROM maven)
     = (SELECT funnel.funnel(mj.j, m.close_value)::text
          FROM maven_journeys mj JOIN maven m ON m.opportunity_id = mj.deal) AS lost_at_equals_journey;
-- lost_at is ignored on rows that are not lost; it must be an open stage
SELECT funnel.funnel(s::funnel.deal_stage, NULL, 'maven:Engaging') IS NOT NULL AS ignored
  FROM (VALUES ('maven:Won'), ('maven:Prospecting')) v(s);
SELECT funnel.funnel('maven:Lost'::funnel.deal_stage, NULL, 'maven:Won');
SELECT funnel.funnel('maven:Lost'::funnel.deal_stage, NULL, 'b2b:lead');

----------------------------------------------------------------------
-- Pipedrive change log: lost_here per stage = a lag()-based count
----------------------------------------------------------------------
CREATE TABLE pd_stages (stage_id int PRIMARY KEY, stage_name text);
\copy pd_stages FROM 'data/pipedrive_deal_changes/stages.csv' (FORMAT csv, HEADER true)
CREATE TABLE pd_changes (deal_id bigint, change_time timestamp, changed_field_key text, new_value text);
\copy pd_changes FROM 'data/pipedrive_deal_changes/deal_changes.csv' (FORMAT csv, HEADER true)
SELECT funnel.create_pipeline('pipedrive', (SELECT array_agg(stage_name ORDER BY stage_id) FROM pd_stages));
-- one visit per stage change; a lost_reason moves the deal to lost (stage 10)
CREATE TABLE pd_history AS
SELECT deal_id, CASE WHEN changed_field_key = 'stage_id' THEN new_value::int ELSE 10 END AS stage_id,
       change_time AT TIME ZONE 'UTC' AS entered_at
  FROM pd_changes WHERE changed_field_key IN ('stage_id', 'lost_reason');
CREATE TABLE pd_journeys AS
SELECT h.deal_id, funnel.journey(('pipedrive:' || coalesce(s.stage_name, 'lost'))::funnel.deal_stage, h.entered_at) AS j
  FROM pd_history h LEFT JOIN pd_stages s USING (stage_id) GROUP BY h.deal_id;
-- lost deals: the stage before the final lost visit (two back after a repeated loss)
WITH v AS (
  SELECT deal_id, stage_id, entered_at,
         lag(stage_id) OVER w AS prev, lag(stage_id, 2) OVER w AS prev2,
         row_number() OVER (PARTITION BY deal_id ORDER BY entered_at DESC, stage_id DESC) AS from_end
    FROM pd_history WINDOW w AS (PARTITION BY deal_id ORDER BY entered_at, stage_id)),
lost_from AS (
  SELECT CASE WHEN prev < 10 THEN prev WHEN prev2 < 10 THEN prev2 END AS stage_id, count(*) AS n
    FROM v WHERE from_end = 1 AND stage_id = 10 GROUP BY 1)
SELECT r.stage, r.lost_here, coalesce(l.n, 0) AS lag_count, r.lost_here = coalesce(l.n, 0) AS equal
  FROM funnel.report((SELECT funnel.funnel(j) FROM pd_journeys)) r
  LEFT JOIN lost_from l ON l.stage_id = funnel.position(r.stage)
 WHERE funnel.kind(r.stage) = 'open';
TRUNCATE j_map, j_visits;
INSERT INTO j_map SELECT stage_name, stage_id, 'open' FROM pd_stages UNION ALL VALUES ('won', 10, 'won'), ('lost', 11, 'lost');
INSERT INTO j_visits SELECT deal_id::text, CASE WHEN stage_id = 10 THEN 11 ELSE stage_id END, 'x', entered_at, NULL FROM pd_history;
UPDATE j_visits v SET kind = m.kind FROM j_map m WHERE m.pos = v.pos;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (r.deals, r.amount, r.conversion_from_previous, r.conversion_from_first, r.drop_off,
                               r.won, r.lost, r.open, r.lost_here, r.open_here, r.win_rate)
                              IS NOT DISTINCT FROM
                              (e.deals, e.amount, e.conversion_from_previous, e.conversion_from_first, e.drop_off,
                               e.won, e.lost, e.open, e.lost_here, e.open_here, e.win_rate)) AS equal
  FROM funnel.report((SELECT funnel.funnel(j) FROM pd_journeys)) r
  JOIN j_expected e ON e.pos = funnel.position(r.stage);

----------------------------------------------------------------------
-- errors
----------------------------------------------------------------------
SELECT funnel.journey(s::funnel.deal_stage, now()) FROM (VALUES ('b2b:lead'), ('maven:Engaging')) v(s);
SELECT funnel.journey('b2b:lead', 'infinity');
SELECT funnel.funnel(j) FROM (SELECT j FROM j WHERE deal = 1 UNION ALL SELECT j FROM maven_journeys LIMIT 2) x;
