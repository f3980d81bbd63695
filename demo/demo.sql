-- demo/demo.sql: the funnel tour on real data (Maven CRM sales pipeline,
-- data/maven_crm) and a pipeline with Chinese stage names.
\pset footer off
\pset null '-'
SET client_min_messages = warning;
CREATE EXTENSION funnel;
-- operators live in schema funnel: put it on the search path once per database
ALTER DATABASE funnel_demo SET search_path = "$user", public, funnel;
SET search_path = "$user", public, funnel;

\echo
\echo '== Two pipelines: Maven''s hardware sales and a retail pipeline in Chinese'
\o /dev/null
SELECT funnel.create_pipeline('hardware', ARRAY['Prospecting', 'Engaging'],
                              ARRAY[0.10, 0.40], won => ARRAY['Won'], lost => ARRAY['Lost']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户', '合格线索', '商机'],
                              ARRAY[0.1, 0.3, 0.6], won => ARRAY['成交'], lost => ARRAY['流失', '无预算']);
\o
SELECT * FROM funnel.stages;

CREATE SCHEMA crm;
CREATE TEMP TABLE maven (opportunity_id text, sales_agent text, product text, account text,
                         deal_stage text, engage_date date, close_date date, close_value numeric);
\copy maven FROM 'data/maven_crm/sales_pipeline.csv' (FORMAT csv, HEADER)
CREATE TEMP TABLE teams (sales_agent text, manager text, regional_office text);
\copy teams FROM 'data/maven_crm/sales_teams.csv' (FORMAT csv, HEADER)

-- a deals table bound to one pipeline: bare stage names are enough
CREATE TABLE crm.deals (
    id          text PRIMARY KEY,
    owner       text NOT NULL,
    manager     text,
    product     text,
    amount      numeric(12,2),
    engage_date date,
    close_date  date,
    stage       funnel.deal_stage(hardware) NOT NULL
);
INSERT INTO crm.deals
SELECT m.opportunity_id, m.sales_agent, t.manager, m.product, m.close_value,
       m.engage_date, m.close_date, m.deal_stage
  FROM maven m LEFT JOIN teams t USING (sales_agent);
CREATE INDEX ON crm.deals (stage);

\echo
\echo '== 8,800 Maven opportunities by stage, in funnel order (ORDER BY stage)'
SELECT stage, funnel.position(stage) AS pos, funnel.kind(stage) AS kind,
       count(*) AS deals, sum(amount) AS closed_value
  FROM crm.deals GROUP BY stage ORDER BY stage;

\echo
\echo '== Win rate per manager: won / (won + lost), open deals left out'
SELECT manager,
       count(*) FILTER (WHERE funnel.kind(stage) = 'won') AS won,
       count(*) FILTER (WHERE funnel.kind(stage) = 'lost') AS lost,
       count(*) FILTER (WHERE funnel.kind(stage) = 'open') AS open,
       round(count(*) FILTER (WHERE funnel.kind(stage) = 'won')::numeric /
             nullif(count(*) FILTER (WHERE funnel.kind(stage) <> 'open'), 0), 3) AS win_rate
  FROM crm.deals GROUP BY manager ORDER BY win_rate DESC;

\echo
\echo '== Deals still in the pipeline, and a filter in funnel order'
SELECT stage, count(*) FROM crm.deals WHERE stage < 'Won'::deal_stage(hardware)
 GROUP BY stage ORDER BY stage;

\echo
\echo '== The Chinese pipeline: bare names work where unambiguous'
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
       sum(amount) AS amount, round(sum(amount * funnel.probability(stage)::numeric), 2) AS weighted
  FROM crm.retail_deals GROUP BY stage ORDER BY stage;

\echo
\echo '== Renaming a stage rewrites nothing: rows show the new name'
\o /dev/null
SELECT funnel.rename_stage('hardware', 'Engaging', 'Engaged');
\o
SELECT stage, count(*) FROM crm.deals GROUP BY stage ORDER BY stage;
\echo
\echo '== A bad literal is refused with the valid choices'
\set ON_ERROR_STOP 0
SELECT 'hardware:Negotiating'::funnel.deal_stage;
