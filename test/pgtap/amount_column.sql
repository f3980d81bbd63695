-- test/pgtap/amount_column.sql: the amount column of pipeline_trend() and
-- stale_deals() named by an argument (issue 21.2): with amount_usd the
-- trend raised "no numeric column amount" and stale_deals() returned NULL
-- amounts without a word.  As a NOSUPERUSER table owner, against plain SQL.
BEGIN;
SELECT plan(11);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('ac', ARRAY['lead', 'demo'], ARRAY[0.2, 0.5]);
SELECT funnel.set_stale_after('ac', 'lead', interval '3 days');
CREATE ROLE ac_owner NOSUPERUSER;
CREATE ROLE ac_reader NOSUPERUSER;
CREATE SCHEMA ac AUTHORIZATION ac_owner;
GRANT USAGE ON SCHEMA ac TO ac_reader;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO ac_owner;
SET ROLE ac_owner;
CREATE TABLE ac.deals (id int PRIMARY KEY, amount_usd numeric(10,2), label text,
                       stage funnel.deal_stage(ac) NOT NULL, changed_at timestamptz);
SELECT funnel.track('ac.deals', 'ac', changed_at_column => 'changed_at', rule => 'any');
INSERT INTO ac.deals VALUES (1, 100.50, 'x', 'lead', '2026-01-01'), (2, 200.25, 'y', 'lead', '2026-01-01'),
                            (3, NULL, 'z', 'lead', '2026-01-05');
UPDATE ac.deals SET stage = 'demo', changed_at = '2026-01-03' WHERE id = 2;

SELECT results_eq(
    $$SELECT instant, stage::text, deals, amount, weighted_amount
        FROM funnel.pipeline_trend('ac.deals_stage_history', ARRAY['2026-01-02', '2026-01-06']::timestamptz[],
                                   'ac.deals', amount_column => 'amount_usd')
       WHERE funnel.kind(stage) = 'open' ORDER BY instant, funnel.position(stage)$$,
    $$SELECT i.t, ('ac:' || s.name), count(h.deal_id), coalesce(sum(d.amount_usd), 0),
             coalesce(sum(d.amount_usd * s.p), 0)
        FROM unnest(ARRAY['2026-01-02', '2026-01-06']::timestamptz[]) i(t)
       CROSS JOIN (VALUES ('lead', 1, 0.2), ('demo', 2, 0.5)) s(name, pos, p)
        LEFT JOIN ac.deals_stage_history h
          ON h.stage = ('ac:' || s.name)::funnel.deal_stage AND h.entered_at <= i.t AND (h.left_at IS NULL OR h.left_at > i.t)
        LEFT JOIN ac.deals d ON d.id = h.deal_id
       GROUP BY i.t, s.name, s.pos ORDER BY i.t, s.pos$$,
    'pipeline_trend(..., amount_column => amount_usd) = plain SQL');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_trend('ac.deals_stage_history', ARRAY[now()], 'ac.deals')$$,
                 '42703', 'deals table "deals" has no numeric column "amount"',
                 'without amount_column and no column amount: 42703, as before');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_trend('ac.deals_stage_history', ARRAY[now()], 'ac.deals', 'nope')$$,
                 '42703', 'column "nope" of deals table "ac.deals" does not exist', 'a missing amount column: 42703');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_trend('ac.deals_stage_history', ARRAY[now()], 'ac.deals', 'label')$$,
                 '42804', 'amount column "label" of deals table "ac.deals" is of type text, not numeric',
                 'a text amount column: 42804');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_trend('ac.deals_stage_history', ARRAY[now()], NULL, 'amount_usd')$$,
                 '22023', 'amount_column "amount_usd" given without deals_table', 'amount_column alone: 22023');

SELECT results_eq(
    $$SELECT deal_id, stage::text, amount FROM funnel.stale_deals('ac.deals', '2026-01-10', amount_column => 'amount_usd')$$,
    $$SELECT d.id::text, d.stage::text, d.amount_usd FROM ac.deals d
       JOIN ac.deals_stage_history h ON h.deal_id = d.id AND h.left_at IS NULL
      WHERE funnel.stale_after(d.stage) < '2026-01-10'::timestamptz - h.entered_at
      ORDER BY d.stage, h.entered_at, d.id$$,
    'stale_deals(..., amount_column => amount_usd): the amounts of plain SQL');
SELECT is((SELECT count(*) FROM funnel.stale_deals('ac.deals', '2026-01-10', amount_column => 'amount_usd') WHERE amount = 100.50),
          1::bigint, 'deal 1: stale in lead since 2026-01-01, amount 100.50 (not NULL)');
SELECT throws_ok($$SELECT * FROM funnel.stale_deals('ac.deals', now(), amount_column => 'nope')$$,
                 '42703', 'column "nope" of tracked table ac.deals does not exist', 'stale_deals, missing amount column: 42703');
SELECT throws_ok($$SELECT * FROM funnel.stale_deals('ac.deals', now(), amount_column => 'label')$$,
                 '42804', 'amount column "label" of tracked table ac.deals is of type text, not numeric',
                 'stale_deals, text amount column: 42804');

-- a reader with SELECT on the key and stage but not on amount_usd
GRANT SELECT (id, stage) ON ac.deals TO ac_reader;
GRANT SELECT ON ac.deals_stage_history TO ac_reader;
SET ROLE ac_reader;
SELECT throws_ok($$SELECT * FROM funnel.pipeline_trend('ac.deals_stage_history', ARRAY[now()], 'ac.deals', 'amount_usd')$$,
                 '42501', NULL, 'no SELECT on the named amount column: 42501');
SELECT lives_ok($$SELECT * FROM funnel.pipeline_trend('ac.deals_stage_history', ARRAY[now()])$$,
                'the same reader counts deals without amounts');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
