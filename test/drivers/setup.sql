-- test/drivers/setup.sql: the fixture every driver test starts from (a fresh
-- database): pipelines b2b and retail sharing the stage names lead, won and
-- lost, and a tracked table crm.deals bound to b2b.
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                        stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO crm.deals VALUES (1, 'ann', 100.00, 'lead'), (2, 'bob', 200.50, 'qualified'),
                             (3, 'ann', 300.00, 'proposal'), (4, 'bob', 400.25, 'won'),
                             (5, 'ann', 500.00, 'lost'), (6, 'bob', 600.00, 'proposal');
SELECT funnel.track('crm.deals', pipeline => 'b2b');
