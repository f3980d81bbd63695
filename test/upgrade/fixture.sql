-- test/upgrade/fixture.sql: what a 0.1 user has, made by 0.1's code:
-- pipelines, a tracked table with its history, every state type in columns
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
SELECT funnel.add_stage('b2b', 'demo', after => 'qualified');
SELECT funnel.set_stale_after('b2b', 'proposal', interval '14 days');
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                        amount numeric NOT NULL,
                        other funnel.deal_stage, path funnel.deal_stage[]);
SELECT funnel.track('crm.deals', 'b2b', rule => 'any');
INSERT INTO crm.deals
SELECT g, 'lead', 100 * g,
       (ARRAY['retail:lead','retail:visit','b2b:demo','retail:won'])[1 + g % 4]::funnel.deal_stage,
       ARRAY['b2b:lead','b2b:demo','retail:visit']::funnel.deal_stage[]
  FROM generate_series(1, 40) g;
UPDATE crm.deals SET stage = 'qualified' WHERE id % 2 = 0;
UPDATE crm.deals SET stage = 'demo' WHERE id % 4 = 0;
UPDATE crm.deals SET stage = 'won' WHERE id % 8 = 0;
UPDATE crm.deals SET stage = 'lost' WHERE id % 5 = 0;
CREATE INDEX ON crm.deals (stage);

-- every state type, each one built by 0.1's transition functions
CREATE TABLE crm.states (k int PRIMARY KEY, summary funnel.funnel_summary,
                         journey funnel.journey, sample funnel.duration_sample,
                         forecast funnel.forecast_state, velocity funnel.velocity_state);
INSERT INTO crm.states
SELECT id % 3, funnel.funnel(stage), NULL, NULL, NULL, NULL
  FROM crm.deals GROUP BY id % 3;
UPDATE crm.states s SET
    journey = (SELECT funnel.journey(h.stage, h.entered_at ORDER BY h.entered_at, h.stage)
                 FROM crm.deals_stage_history h WHERE h.deal_id = s.k + 8),
    sample = funnel.time_in_stage_trans(
                 funnel.time_in_stage_trans(NULL, '2026-01-01', '2026-01-03 12:00'),
                 '2026-02-01', timestamptz '2026-02-01 00:00:01.5' + s.k * interval '1 day'),
    forecast = funnel.weighted_forecast_stage_trans(
                 funnel.weighted_forecast_stage_trans(NULL, 100.5, 'b2b:qualified'),
                 200 + s.k, 'b2b:proposal'),
    velocity = funnel.sales_velocity_trans(
                 funnel.sales_velocity_trans(NULL, 'b2b:won', 500, '2026-01-01', '2026-01-21'),
                 'b2b:lost', 70 + s.k, '2026-01-01', '2026-01-02');
