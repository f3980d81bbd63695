-- test/shell/live/compare.sql: crm.live_mismatches(), the differences
-- between the live readers of crm.live_deals (id, stage, owner, amount) and
-- the same answers computed from its history and deals without the live
-- tables: funnel.report(funnel.funnel(journey, amount)) over all deals and
-- per owner, percentile_cont over left_at - entered_at (0.5 and 0.9), the
-- win rate counted by hand, plus every row funnel.live_check() returns.
-- Loaded by test/shell/live_dump.sh and test/shell/pg_upgrade.sh before the
-- dump or upgrade, so the function travels with the database.
CREATE VIEW crm.live_ref AS
SELECT d.id, d.owner, d.amount, h.j
  FROM crm.live_deals d
  JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j
          FROM crm.live_deals_stage_history GROUP BY deal_id) h ON h.deal_id = d.id;

CREATE FUNCTION crm.live_mismatches() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    m bigint;
    own text;
    filter jsonb;
    fr float8;
BEGIN
    FOR own IN SELECT NULL UNION ALL SELECT DISTINCT owner FROM crm.live_deals WHERE owner IS NOT NULL LOOP
        filter := CASE WHEN own IS NULL THEN NULL ELSE jsonb_build_object('owner', own) END;
        WITH ref AS (SELECT r.* FROM funnel.report((SELECT funnel.funnel(j, amount) FROM crm.live_ref
                                                    WHERE own IS NULL OR owner = own)) r),
             live AS (SELECT * FROM funnel.live_report('crm.live_deals', NULL, NULL, filter))
        SELECT count(*) INTO m FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                                     UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
        IF m > 0 THEN RAISE WARNING 'report differs (% rows) for %', m, filter; END IF;
        n := n + m;
        FOREACH fr IN ARRAY ARRAY[0.5, 0.9] LOOP
            WITH ref AS (SELECT h.stage, count(*) AS c,
                                justify_hours(percentile_cont(fr) WITHIN GROUP (ORDER BY h.left_at - h.entered_at)) AS p
                           FROM crm.live_deals_stage_history h JOIN crm.live_ref r ON r.id = h.deal_id
                          WHERE h.left_at IS NOT NULL AND (own IS NULL OR r.owner = own)
                          GROUP BY h.stage),
                 live AS (SELECT * FROM funnel.live_time_in_stage_percentile('crm.live_deals', fr, NULL, NULL, filter))
            SELECT count(*) INTO m FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                                         UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
            IF m > 0 THEN RAISE WARNING 'percentile % differs (% rows) for %', fr, m, filter; END IF;
            n := n + m;
        END LOOP;
        SELECT count(*) INTO m
          FROM (SELECT (SELECT CASE WHEN count(*) FILTER (WHERE o <> 'open') > 0
                                    THEN count(*) FILTER (WHERE o = 'won')::numeric
                                         / count(*) FILTER (WHERE o <> 'open') END
                          FROM (SELECT funnel.outcome(j) AS o FROM crm.live_ref
                                 WHERE own IS NULL OR owner = own) x) AS a,
                       funnel.live_win_rate('crm.live_deals', NULL, NULL, filter) AS b) y
         WHERE a IS DISTINCT FROM b;
        IF m > 0 THEN RAISE WARNING 'win rate differs for %', filter; END IF;
        n := n + m;
    END LOOP;
    SELECT count(*) INTO m FROM funnel.live_check('crm.live_deals');
    IF m > 0 THEN RAISE WARNING 'live_check() finds % differences', m; END IF;
    RETURN n + m;
END
$$;

-- moves after a restore or an upgrade: single and bulk moves, an owner and
-- an amount change, a delete, a new deal
CREATE PROCEDURE crm.live_writes() LANGUAGE sql AS $$
UPDATE crm.live_deals SET stage = 'proposal' WHERE id % 5 = 0 AND stage IN ('lead', 'qualified');
UPDATE crm.live_deals SET stage = 'won' WHERE id % 11 = 1;
UPDATE crm.live_deals SET owner = 'o9', amount = 999 WHERE id = 3;
DELETE FROM crm.live_deals WHERE id = 7;
INSERT INTO crm.live_deals VALUES (1000, 'lead', 'o1', 5);
$$;
