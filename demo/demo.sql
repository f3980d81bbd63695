-- demo/demo.sql: the funnel tour on public CRM data.
--   Maven CRM opportunities (data/maven_crm): current stages, win rate, forecast
--   Pipedrive-style change log (data/pipedrive_deal_changes): imported into a
--   tracked table, then journey funnel reports, learned probabilities, sales
--   cycle and velocity, and time in stage from its history
--   a pipeline with Chinese stage names
\pset footer off
\pset null ''
SET client_min_messages = warning;
CREATE EXTENSION funnel;
-- the default search_path ("$user", public) is enough: operators and min/max
-- of stages are in pg_catalog, everything else is called as funnel.*
CREATE SCHEMA crm;
-- the tour shows refusals as rows (what a client receives: SQLSTATE,
-- message, detail, hint) rather than as psql error lines
CREATE FUNCTION pg_temp.refusal(statement text,
    OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    message := 'accepted';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;

\echo
\echo '== 1. Pipelines: Maven''s hardware sales, the Pipedrive pipeline, a retail pipeline in Chinese'
\o /dev/null
SELECT funnel.create_pipeline('hardware', ARRAY['Prospecting', 'Engaging'],
                              ARRAY[0.10, 0.40], won => ARRAY['Won'], lost => ARRAY['Lost']);
CREATE TEMP TABLE pd_stages (id int, name text);
\copy pd_stages FROM 'data/pipedrive_deal_changes/stages.csv' (FORMAT csv, HEADER)
SELECT funnel.create_pipeline('pipedrive', array_agg(name ORDER BY id)) FROM pd_stages;
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户', '合格线索', '商机'],
                              ARRAY[0.1, 0.3, 0.6], won => ARRAY['成交'], lost => ARRAY['流失', '无预算']);
\o
SELECT pipeline, string_agg(format('%s (%s)', stage, probability), ' > ' ORDER BY position) AS stages
  FROM funnel.stages GROUP BY pipeline ORDER BY min(position), pipeline;

-- Maven: one row per opportunity, current stage only
CREATE TEMP TABLE maven (opportunity_id text, sales_agent text, product text, account text,
                         deal_stage text, engage_date date, close_date date, close_value numeric);
\copy maven FROM 'data/maven_crm/sales_pipeline.csv' (FORMAT csv, HEADER)
CREATE TEMP TABLE teams (sales_agent text, manager text, regional_office text);
\copy teams FROM 'data/maven_crm/sales_teams.csv' (FORMAT csv, HEADER)
CREATE TEMP TABLE products (product text, series text, sales_price numeric);
\copy products FROM 'data/maven_crm/products.csv' (FORMAT csv, HEADER)

-- a deals table bound to one pipeline: bare stage names are enough
CREATE TABLE crm.opportunities (
    id          text PRIMARY KEY,
    owner       text NOT NULL,
    manager     text,
    product     text,
    amount      numeric(12,2),      -- close value, or list price while open
    engage_date date,
    close_date  date,
    stage       funnel.deal_stage(hardware) NOT NULL
);
INSERT INTO crm.opportunities
SELECT m.opportunity_id, m.sales_agent, t.manager, m.product,
       coalesce(m.close_value, p.sales_price), m.engage_date, m.close_date, m.deal_stage
  FROM maven m LEFT JOIN teams t USING (sales_agent)
  LEFT JOIN products p ON replace(p.product, ' ', '') = replace(m.product, ' ', '');

\echo
\echo '== 2. 8,800 Maven opportunities by stage, in funnel order (ORDER BY stage)'
SELECT stage, count(*) AS deals, sum(amount) AS amount,
       round(funnel.weighted_forecast(amount, stage), 2) AS weighted
  FROM crm.opportunities GROUP BY stage ORDER BY stage;

\echo
\echo '== 3. Per manager: win rate = won / (won + lost), weighted forecast of the open pipeline'
SELECT manager, count(*) AS deals,
       round(funnel.win_rate(stage), 3) AS win_rate,
       round(funnel.weighted_forecast(amount, stage) FILTER (WHERE funnel.kind(stage) = 'open'), 2) AS open_forecast
  FROM crm.opportunities GROUP BY manager ORDER BY win_rate DESC;

\echo
\echo '== 4. Pipedrive change log imported into a tracked table (funnel.import_history: history written, every row not taken reported)'
CREATE TEMP TABLE pd_changes (deal_id bigint, change_time timestamp, field text, value text);
\copy pd_changes FROM 'data/pipedrive_deal_changes/deal_changes.csv' (FORMAT csv, HEADER)
-- stage events in time order: stage_id changes, and a lost_reason = moved to lost
CREATE TEMP TABLE events AS
SELECT c.deal_id, c.change_time AT TIME ZONE 'UTC' AS at,
       CASE c.field WHEN 'stage_id' THEN 'pipedrive:' || s.name ELSE 'pipedrive:lost' END AS stage,
       row_number() OVER (PARTITION BY c.deal_id ORDER BY c.change_time, c.field DESC) AS n
  FROM pd_changes c LEFT JOIN pd_stages s ON c.field = 'stage_id' AND s.id = c.value::int
 WHERE c.field IN ('stage_id', 'lost_reason');
CREATE TABLE crm.deals (
    id          bigint PRIMARY KEY,
    owner       text,
    amount      numeric(12,2),
    changed_at  timestamptz,
    stage       funnel.deal_stage(pipedrive) NOT NULL
);
-- rule 'any': the log has backward moves and moves after a loss
\o /dev/null
SELECT funnel.track('crm.deals', pipeline => 'pipedrive', changed_at_column => 'changed_at', rule => 'any');
SELECT setseed(0.2024);
\o
-- one call: the deals at their last stage, their whole history; the rows
-- not taken as moves come back with the reason
SELECT action, count(*) AS rows, min(detail) AS example
  FROM funnel.import_history('crm.deals',
         'SELECT deal_id, stage, at AS changed_at, round((1000 + random() * 49000)::numeric, -2) AS amount FROM events ORDER BY deal_id, n',
         amount_column => 'amount', apply_rules => true)
 GROUP BY action;
-- the other columns: an UPDATE that does not change the stage writes no history
UPDATE crm.deals d SET owner = 'user ' || u.max
  FROM (SELECT deal_id, max(value) FROM pd_changes WHERE field = 'user_id' GROUP BY deal_id) u
 WHERE u.deal_id = d.id;
SELECT (SELECT count(*) FROM crm.deals) AS deals,
       (SELECT count(*) FROM crm.deals_stage_history) AS visits,
       (SELECT count(*) FROM funnel.check_history('crm.deals')) AS invariant_violations;

\echo
\echo '== 5. Funnel report from each deal''s journey: Maven replayed as history (engaged at engage_date, won/lost at close_date)'
CREATE TEMP TABLE maven_history AS
SELECT opportunity_id AS deal_id, 'hardware:Prospecting'::funnel.deal_stage AS stage, timestamptz '2016-10-01' AS entered_at
  FROM maven WHERE engage_date IS NULL
UNION ALL
SELECT opportunity_id, 'hardware:Engaging', engage_date FROM maven WHERE engage_date IS NOT NULL
UNION ALL
SELECT opportunity_id, ('hardware:' || deal_stage)::funnel.deal_stage, close_date FROM maven WHERE deal_stage IN ('Won', 'Lost');
CREATE TEMP TABLE journeys AS
SELECT h.deal_id, o.owner, o.amount, funnel.journey(h.stage, h.entered_at) AS j
  FROM maven_history h JOIN crm.opportunities o ON o.id = h.deal_id GROUP BY h.deal_id, o.owner, o.amount;
SELECT r.stage, r.deals, r.won, r.lost, r.open, r.lost_here, r.open_here, r.drop_off,
       round(r.win_rate, 3) AS win_rate, round(r.conversion_from_first, 3) AS from_first
  FROM funnel.report((SELECT funnel.funnel(j, amount) FROM journeys)) r;
SELECT stage, deals, bar FROM funnel.report((SELECT funnel.funnel(j, amount) FROM journeys));

\echo
\echo '== 5b. Learned vs configured probabilities (95% Wilson interval), sales cycle, sales velocity'
SELECT stage, configured, round(learned, 3) AS learned, closed, lower, upper
  FROM funnel.learned_probabilities((SELECT funnel.funnel(j) FROM journeys));
SELECT funnel.outcome(j) AS outcome, count(*) AS deals,
       funnel.median_time_in_stage(funnel.started_at(j), funnel.closed_at(j)) AS median_cycle,
       funnel.avg_time_in_stage(funnel.started_at(j), funnel.closed_at(j)) AS avg_cycle,
       round(funnel.avg_time_in_stage_days(funnel.started_at(j), funnel.closed_at(j)), 1) AS avg_cycle_days
  FROM journeys GROUP BY 1 ORDER BY 1;
SELECT open_deals, won, lost, round(win_rate, 3) AS win_rate, round(avg_won_amount, 2) AS avg_won_amount,
       round(avg_won_cycle_days, 1) AS avg_won_cycle_days, round(velocity, 2) AS velocity_per_day
  FROM (SELECT (funnel.sales_velocity_parts(j, amount)).* FROM journeys) v;

\echo
\echo '== 5c. The Pipedrive history: where deals were lost (every deal of this log ends lost)'
SELECT r.stage, r.deals, r.lost_here, r.open_here, r.drop_off, round(r.conversion_from_first, 3) AS from_first
  FROM funnel.report((
         SELECT funnel.funnel(h.j, d.amount)
           FROM crm.deals d
           JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j
                   FROM crm.deals_stage_history GROUP BY deal_id) h ON h.deal_id = d.id)) r;

\echo
\echo '== 5d. The reverse funnel: the deals each stage needs now for 3,000,000 more revenue (Maven)'
SELECT stage, round(win_rate, 3) AS win_rate, needed, open_here, open, gap, open_amount,
       round(coverage, 3) AS coverage, round(required_coverage, 3) AS required_coverage
  FROM funnel.required_pipeline((SELECT funnel.funnel(j, amount) FROM journeys), 3000000);

\echo
\echo '== 6. Time in stage: exact median and 90th percentile of closed visits'
SELECT stage, count(left_at) AS closed_visits,
       date_trunc('second', funnel.median_time_in_stage(entered_at, left_at)) AS median,
       date_trunc('second', funnel.time_in_stage_percentile(entered_at, left_at, 0.9)) AS p90
  FROM crm.deals_stage_history GROUP BY stage ORDER BY stage;

\echo
\echo '== 7. Conversion from the first stage to the later ones, top owners by deals'
SELECT d.owner, count(*) AS deals,
       round(funnel.conversion_rate(h.reached, 'pipedrive:Lead Generation', 'pipedrive:Proposal/Quote Preparation'), 3) AS lead_to_proposal,
       round(funnel.conversion_rate(h.reached, 'pipedrive:Lead Generation', 'pipedrive:Closing'), 3) AS lead_to_closing
  FROM crm.deals d
  JOIN (SELECT deal_id, funnel.furthest(stage) AS reached
          FROM crm.deals_stage_history GROUP BY deal_id) h ON h.deal_id = d.id
 GROUP BY d.owner ORDER BY deals DESC, d.owner LIMIT 5;

\echo
\echo '== 8. Rules: Maven opportunities tracked with the forward rule; a won deal cannot move back'
\o /dev/null
SELECT funnel.track('crm.opportunities', pipeline => 'hardware');
\o
\x on
SELECT * FROM pg_temp.refusal($$UPDATE crm.opportunities SET stage = 'Prospecting' WHERE id = '1C1I7A6R'$$);
\x off
UPDATE crm.opportunities SET stage = 'Engaging'
 WHERE id = (SELECT min(id) FROM crm.opportunities WHERE stage = 'Prospecting'::funnel.deal_stage(hardware));
SELECT deal_id, stage, left_at IS NULL AS current FROM crm.opportunities_stage_history
 WHERE deal_id = (SELECT min(id) FROM crm.opportunities WHERE stage = 'Engaging'::funnel.deal_stage(hardware)
                   AND id IN (SELECT deal_id FROM crm.opportunities_stage_history GROUP BY deal_id HAVING count(*) > 1))
 ORDER BY entered_at, left_at NULLS LAST;

\echo
\echo '== 9. The Chinese pipeline: bare names work where unambiguous'
CREATE TABLE crm.retail_deals (id int PRIMARY KEY, amount numeric(12,2),
                               stage funnel.deal_stage(零售) NOT NULL);
\o /dev/null
SELECT setseed(0.42);
\o
INSERT INTO crm.retail_deals
SELECT g, round((50 + random() * 950)::numeric, 2),
       (ARRAY['潜在客户','潜在客户','潜在客户','合格线索','合格线索','商机','成交','流失','无预算'])[1 + floor(random() * 9)::int]
  FROM generate_series(1, 500) g;
SELECT stage, funnel.stage_name(stage) AS name, funnel.probability(stage) AS p, count(*),
       sum(amount) AS amount, round(funnel.weighted_forecast(amount, stage), 2) AS weighted
  FROM crm.retail_deals GROUP BY stage ORDER BY stage;

\echo
\echo '== 10. Renaming a stage rewrites nothing: rows and history show the new name'
\o /dev/null
SELECT funnel.rename_stage('hardware', 'Engaging', 'Engaged');
\o
SELECT stage, count(*) FROM crm.opportunities GROUP BY stage ORDER BY stage;

\echo
\echo '== 11. A bad literal is refused with the valid choices'
\x on
SELECT * FROM pg_temp.refusal($$SELECT 'hardware:Negotiating'::funnel.deal_stage$$);
\x off
\echo
\echo '== 11b. The Pipedrive funnel (section 4''s tracked table) as a picture: funnel.funnel_svg() writes doc/funnel.svg'
SELECT funnel.funnel_svg(funnel.funnel(h.reached, d.amount), '{"title": "Pipedrive deals: stages reached", "width": 760}')
  FROM crm.deals d
  JOIN (SELECT deal_id, funnel.furthest(stage) AS reached
          FROM crm.deals_stage_history GROUP BY deal_id) h ON h.deal_id = d.id
\g (format=unaligned tuples_only=on) doc/funnel.svg
\echo 'wrote doc/funnel.svg'

\echo
\echo '== 12. Event funnel on Olist''s marketing funnel: first contact -> closed deal within 30 / 90 days, by origin'
CREATE TEMP TABLE olist_mql (mql_id text, first_contact_date date, landing_page_id text, origin text);
\copy olist_mql FROM 'data/olist_marketing_funnel/olist_marketing_qualified_leads_dataset.csv' (FORMAT csv, HEADER)
CREATE TEMP TABLE olist_deal (mql_id text, seller_id text, sdr_id text, sr_id text, won_date timestamp,
                              business_segment text, lead_type text, lead_behaviour_profile text,
                              has_company boolean, has_gtin boolean, average_stock text, business_type text,
                              declared_product_catalog_size numeric, declared_monthly_revenue numeric);
\copy olist_deal FROM 'data/olist_marketing_funnel/olist_closed_deals_dataset.csv' (FORMAT csv, HEADER)
-- an event log: one row per first contact and per won deal
CREATE TEMP TABLE olist_events AS
SELECT mql_id, coalesce(origin, '(blank)') AS origin, first_contact_date::timestamp AT TIME ZONE 'UTC' AS ts, 'contact' AS event
  FROM olist_mql
UNION ALL
SELECT d.mql_id, coalesce(m.origin, '(blank)'), d.won_date AT TIME ZONE 'UTC', 'won'
  FROM olist_deal d JOIN olist_mql m USING (mql_id);
SELECT origin, count(*) AS mqls,
       count(*) FILTER (WHERE d30 = 2) AS won_30d,
       count(*) FILTER (WHERE d90 = 2) AS won_90d,
       round(100.0 * count(*) FILTER (WHERE d90 = 2) / count(*), 1) AS pct_90d
  FROM (SELECT mql_id, origin,
               funnel.window_funnel(interval '30 days', ts, event = 'contact', event = 'won') AS d30,
               funnel.window_funnel(interval '90 days', ts, event = 'contact', event = 'won') AS d90
          FROM olist_events GROUP BY mql_id, origin) f
 GROUP BY ROLLUP (origin) ORDER BY origin IS NULL, won_90d DESC, origin;

\echo
\echo '== 13. The Pipedrive pipeline on 2024-06-01, from the history alone (pipeline_as_of)'
SET TimeZone = 'UTC';
SELECT stage, count(*) AS deals, min(entered_at) AS longest_there_since
  FROM funnel.pipeline_as_of('crm.deals_stage_history', '2024-06-01') GROUP BY stage ORDER BY stage;

\echo
\echo '== 14. Pipeline trend on the first of each month (one scan): open deals, amount, weighted by current probabilities'
SELECT instant::date AS month,
       sum(deals) FILTER (WHERE funnel.kind(stage) = 'open') AS open_deals,
       sum(amount) FILTER (WHERE funnel.kind(stage) = 'open') AS open_amount,
       round(sum(weighted_amount) FILTER (WHERE funnel.kind(stage) = 'open'), 2) AS weighted,
       sum(deals) FILTER (WHERE funnel.kind(stage) = 'lost') AS lost_so_far
  FROM funnel.pipeline_trend('crm.deals_stage_history',
         ARRAY(SELECT generate_series(timestamptz '2024-01-01', '2024-12-01', interval '1 month')),
         'crm.deals')
 GROUP BY instant ORDER BY instant;

\echo
\echo '== 15. Stale deals on 2024-06-01: Negotiation after 20 days, other stages beyond their 90th percentile'
\o /dev/null
SELECT funnel.set_stale_after('pipedrive', 'Negotiation', interval '20 days');
\o
SELECT deal_id, stage, entered_at, days_in_stage, threshold, amount
  FROM funnel.stale_deals('crm.deals', as_of => '2024-06-01', percentile => 0.9);
