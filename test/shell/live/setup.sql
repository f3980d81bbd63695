-- test/shell/live/setup.sql: crm.live_deals, tracked with live summaries
-- (owner dimension, amount), run by its NOSUPERUSER owner (who owns schema
-- crm); visits spread over a few days and hours; the summary holds
-- compacted rows and deltas.  The caller creates pipeline sales (lead,
-- qualified, proposal).
CREATE TABLE crm.live_deals (id int PRIMARY KEY, stage funnel.deal_stage(sales) NOT NULL,
                             owner text, amount numeric);
INSERT INTO crm.live_deals SELECT g, 'lead', 'o' || g % 3, g * 10 FROM generate_series(1, 60) g;
SELECT funnel.track('crm.live_deals', 'sales', rule => 'any') IS NOT NULL;
UPDATE crm.live_deals SET stage = 'qualified' WHERE id % 2 = 0;
UPDATE crm.live_deals SET stage = 'lost' WHERE id % 9 = 0;
-- durations of hours and entry days over four days
UPDATE crm.live_deals_stage_history
   SET entered_at = entered_at - (deal_id % 4) * interval '1 day' - (deal_id % 5) * interval '1 hour',
       left_at = left_at - (deal_id % 4) * interval '1 day';
SELECT funnel.enable_live('crm.live_deals', '{owner}', 'amount') IS NOT NULL;
UPDATE crm.live_deals SET stage = 'proposal' WHERE id % 3 = 0 AND stage <> 'lost';
SELECT funnel.live_compact('crm.live_deals') > 0;
UPDATE crm.live_deals SET stage = 'won' WHERE id % 6 = 0 AND stage <> 'lost';
UPDATE crm.live_deals SET owner = 'o2' WHERE id = 1;
DELETE FROM crm.live_deals WHERE id = 2;
