-- test/upgrade/states.sql: every state type in columns, each value built by
-- 0.1's transition functions (0.1 only: 0.2 keeps them in funnel_internal)
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
