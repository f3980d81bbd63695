-- test/upgrade/values.sql: the stored values as text, in a fixed order;
-- printed by 0.1 before the update and by 0.2 after it, and compared
SELECT 'deals', id, stage, stage::text, other, path, amount FROM crm.deals ORDER BY id;
SELECT 'order', array_agg(id ORDER BY stage, id) FROM crm.deals;
SELECT 'history', deal_id, stage, entered_at IS NOT NULL, left_at IS NULL
  FROM crm.deals_stage_history ORDER BY deal_id, entered_at, stage;
SELECT 'states', k, summary, journey, sample, forecast, velocity FROM crm.states ORDER BY k;
SELECT 'pipelines', pipeline, stage, position, probability, kind, stale_after, retired FROM funnel.stages ORDER BY pipeline, position;
