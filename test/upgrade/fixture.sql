-- test/upgrade/fixture.sql: what a 0.1 user has, made by 0.1's code:
-- pipelines, a tracked table with its history (the state types are in
-- states.sql); run also on a fresh install, to compare the tracked tables
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
