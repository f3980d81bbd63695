-- test/fuzz/fixture.sql: the database sqlsmith fuzzes (make fuzz).
-- Pipelines sharing stage names, a Chinese pipeline, tracked tables owned by
-- a NOSUPERUSER role with history rows, and stored state values of every
-- funnel type, so generated queries reach the type I/O, operators, triggers
-- and aggregates.  Run as superuser in an empty database.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION funnel;

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit','cart'], ARRAY[0.05, 0.2, 0.6],
                              won => ARRAY['won','paid'], lost => ARRAY['lost','abandoned']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'],
                              ARRAY[0.1, 0.3, 0.6], won => ARRAY['成交'], lost => ARRAY['流失','无预算']);
SELECT funnel.add_stage('b2b', 'demo', probability => 0.4, after => 'qualified');
SELECT funnel.set_stale_after('b2b', 'proposal', interval '14 days');
SELECT funnel.retire_stage('retail', 'cart');

-- the roles sqlsmith runs as besides the superuser: an owner of tracked
-- tables (the threat model) with no other rights
CREATE ROLE fuzz_owner NOSUPERUSER LOGIN;
CREATE SCHEMA crm AUTHORIZATION fuzz_owner;

SET ROLE fuzz_owner;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                        close_date date, created_at timestamptz NOT NULL,
                        stage funnel.deal_stage NOT NULL);
CREATE TABLE crm.orders (id int PRIMARY KEY, amount numeric, changed_at timestamptz,
                         stage funnel.deal_stage NOT NULL);
CREATE TABLE crm."交易" (编号 text PRIMARY KEY, 金额 numeric, stage funnel.deal_stage NOT NULL);
RESET ROLE;
SELECT funnel.track('crm.deals', 'b2b');
SELECT funnel.track('crm.orders', 'retail', changed_at_column => 'changed_at', rule => 'any');
SELECT funnel.track('crm."交易"', '零售', rule => 'sequential');
SELECT funnel.allow_transition('b2b', 'lost', 'lead');
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']);

SET ROLE fuzz_owner;
INSERT INTO crm.deals
SELECT g, 'owner' || g % 5, g * 100, date '2025-01-01' + g, timestamptz '2025-01-01' + g * interval '1 day', 'b2b:lead'
FROM generate_series(1, 200) g;
UPDATE crm.deals SET stage = 'b2b:qualified' WHERE id % 2 = 0;
UPDATE crm.deals SET stage = 'b2b:proposal' WHERE id % 4 = 0;
UPDATE crm.deals SET stage = 'b2b:won' WHERE id % 8 = 0;
UPDATE crm.deals SET stage = 'b2b:lost' WHERE id % 7 = 0 AND id % 8 <> 0;
INSERT INTO crm.orders
SELECT g, g, timestamptz '2025-01-01' + g * interval '1 hour', 'retail:lead' FROM generate_series(1, 100) g;
UPDATE crm.orders SET stage = 'retail:visit', changed_at = changed_at + interval '1 day' WHERE id % 3 = 0;
UPDATE crm.orders SET stage = 'retail:paid', changed_at = changed_at + interval '2 days' WHERE id % 6 = 0;
INSERT INTO crm."交易" SELECT 'T' || g, g, '零售:潜在客户' FROM generate_series(1, 50) g;
UPDATE crm."交易" SET stage = '零售:合格线索' WHERE 金额 > 20;

-- stored state values and stages of every pipeline in plain, array and
-- summary columns
CREATE TABLE crm.summaries AS
SELECT d.owner, funnel.funnel(d.stage, d.amount) AS summary, array_agg(d.stage) AS stages,
       -- state values through their text input: PUBLIC may not call the
       -- transition functions (sql/install/grants.sql)
       format('(%s,%s)', count(*), coalesce(sum(d.amount), 0))::funnel.forecast_state AS forecast,
       format('(%s,%s,%s,%s,%s,0,0)', count(*),
              count(*) FILTER (WHERE funnel.kind(d.stage) = 'won'),
              count(*) FILTER (WHERE funnel.kind(d.stage) = 'lost'),
              count(d.amount) FILTER (WHERE funnel.kind(d.stage) = 'won'),
              coalesce(sum(d.amount) FILTER (WHERE funnel.kind(d.stage) = 'won'), 0))::funnel.velocity_state AS velocity
FROM crm.deals d GROUP BY d.owner;
INSERT INTO crm.summaries (owner, summary)
SELECT 'orders', funnel.funnel(stage, amount) FROM crm.orders;
INSERT INTO crm.summaries (owner, summary)
SELECT '交易', funnel.funnel(stage) FROM crm."交易";
CREATE TABLE crm.history_copy AS
SELECT * FROM crm.deals_stage_history UNION ALL
SELECT deal_id::text::bigint, stage, entered_at, left_at, entered_by FROM crm.orders_stage_history;
CREATE INDEX ON crm.history_copy (stage);
CREATE INDEX ON crm.deals USING hash (stage);

RESET ROLE;
ANALYZE;
