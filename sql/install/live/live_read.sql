-- sql/install/live/live_read.sql: more readers of the live summaries (issue 23),
-- each the same answer as a scan-based aggregate, read from
-- funnel.live_report() (sql/install/live/live.sql).
-- Part of the install script (see sql/install/README.md).

CREATE FUNCTION funnel.live_weighted_forecast(deals regclass, "from" date DEFAULT NULL, "to" date DEFAULT NULL,
                                              filter jsonb DEFAULT NULL)
RETURNS numeric
LANGUAGE sql STABLE
AS $$
    -- open deals by their stage's probability, won deals whole, lost ones not
    SELECT sum(CASE r.kind WHEN 'won' THEN r.amount
                           ELSE r.open_amount * funnel.probability(r.stage)::numeric END)
      FROM funnel.live_report(deals, "from", "to", filter) r
     WHERE r.kind IN ('open', 'won')
$$;
COMMENT ON FUNCTION funnel.live_weighted_forecast(regclass, date, date, jsonb) IS
  'funnel.weighted_forecast(amount, current stage) over the deals of funnel.live_summary() (entered from..to, matching the dimension filter), read from the summary table';
