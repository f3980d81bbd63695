-- test/pgtap/stale_any_history.sql: funnel.stale_deals() over any history
-- (issue 21.2): a view of a history (a dbt model), a table with other column
-- names, text stages and date columns, amounts from a named column of an
-- untracked deals table, each against plain SQL; a view the caller cannot
-- read (42501); bad and hostile mappings (42703, 42804: quoted, never run);
-- the old calls on a tracked table unchanged.  As a NOSUPERUSER caller.
BEGIN;
SELECT plan(14);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('sh', ARRAY['lead', 'demo', 'offer'], ARRAY[0.2, 0.5, 0.8]);
SELECT funnel.set_stale_after('sh', 'offer', interval '3 days');
CREATE ROLE sh_owner NOSUPERUSER;
CREATE ROLE sh_reader NOSUPERUSER;
CREATE SCHEMA sh AUTHORIZATION sh_owner;
GRANT USAGE ON SCHEMA sh TO sh_reader;
SET ROLE sh_owner;
-- a CRM export: other names, text stages (qualified and bare), dates
CREATE TABLE sh.export (opp_id int, step text, since date, until date);
INSERT INTO sh.export VALUES
    (1, 'sh:lead', '2026-01-01', '2026-01-03'), (1, 'sh:demo', '2026-01-03', '2026-01-08'), (1, 'sh:won', '2026-01-08', NULL),
    (2, 'sh:lead', '2026-01-02', NULL),
    (3, 'lead', '2026-01-01', '2026-01-02'), (3, 'sh:lost', '2026-01-02', NULL),
    (4, 'sh:lead', '2026-01-01', '2026-01-05'), (4, 'demo', '2026-01-05', '2026-01-06'), (4, 'sh:offer', '2026-01-06', NULL),
    (5, 'sh:lead', '2026-01-03', '2026-01-04'), (5, 'sh:demo', '2026-01-04', NULL),
    (6, 'sh:lead', '2026-01-09', NULL),
    (7, 'sh:demo', '2026-01-01', '2026-01-02'), (7, 'sh:offer', '2026-01-02', '2026-01-03'), (7, 'sh:lost', '2026-01-03', NULL);
CREATE TABLE sh.moves (opp_id int, step funnel.deal_stage, started timestamptz, ended timestamptz);
INSERT INTO sh.moves SELECT opp_id, step::funnel.deal_stage, since, until FROM sh.export;
CREATE VIEW sh.model AS
    SELECT opp_id AS deal_id, step::funnel.deal_stage AS stage, since::timestamptz AS entered_at,
           until::timestamptz AS left_at FROM sh.export;
CREATE VIEW sh.secret_model AS SELECT * FROM sh.model;
-- untracked deals, the amount in amount_usd (deal 6 has none, 5 is gone)
CREATE TABLE sh.deals (id int PRIMARY KEY, amount_usd numeric(12, 2), label text);
INSERT INTO sh.deals VALUES (1, 100), (2, 50.5), (3, 7), (4, 1000), (6, NULL), (7, 3);
GRANT SELECT ON sh.export, sh.moves, sh.model, sh.deals TO sh_reader;
RESET ROLE;

-- plain SQL: stale at t with percentile p (stale_after first, else the
-- percentile of the stage's visits closed by t)
CREATE FUNCTION pg_temp.stale_sql(t timestamptz, p float8)
RETURNS TABLE (deal_id text, stage text, entered_at timestamptz, days numeric, threshold interval, amount numeric)
LANGUAGE sql AS $$
    WITH v AS (SELECT opp_id, step::funnel.deal_stage AS st, since::timestamptz AS e, until::timestamptz AS l FROM sh.export),
    learned AS (SELECT st, percentile_cont(p) WITHIN GROUP (ORDER BY l - e) AS q
                  FROM v WHERE p IS NOT NULL AND l <= t GROUP BY st)
    SELECT v.opp_id::text, v.st::text, v.e, round(EXTRACT(epoch FROM t - v.e) / 86400, 2),
           coalesce(funnel.stale_after(v.st), learned.q), d.amount_usd
      FROM v LEFT JOIN learned ON learned.st = v.st LEFT JOIN sh.deals d ON d.id = v.opp_id
     WHERE v.e <= t AND (v.l IS NULL OR v.l > t) AND funnel.kind(v.st) = 'open'
       AND t - v.e > coalesce(funnel.stale_after(v.st), learned.q)
     ORDER BY funnel.position(v.st), v.e, v.opp_id $$;
GRANT SELECT ON sh.export, sh.deals TO sh_reader;
SET ROLE sh_reader;

SELECT results_eq($$SELECT deal_id, stage::text, entered_at, days_in_stage, threshold, amount
                      FROM funnel.stale_deals(history => 'sh.model', as_of => '2026-01-10', percentile => 0.5)$$,
                  $$SELECT deal_id, stage, entered_at, days, threshold, NULL::numeric FROM pg_temp.stale_sql('2026-01-10', 0.5)$$,
                  'a view of a history (a dbt model), percentile 0.5, no deals table (NULL amounts) = plain SQL');
SELECT is((SELECT count(*) FROM funnel.stale_deals(history => 'sh.model', as_of => '2026-01-10', percentile => 0.5)),
          3::bigint, 'three stale deals on 2026-01-10 (2 and 5 past the median, 4 past stale_after)');
SELECT results_eq($$SELECT deal_id, stage::text, entered_at, days_in_stage, threshold, amount
                      FROM funnel.stale_deals('sh.deals', '2026-01-10', 0.5, 'amount_usd', 'sh.export',
                                              'opp_id', 'step', 'since', 'until')$$,
                  $$SELECT * FROM pg_temp.stale_sql('2026-01-10', 0.5)$$,
                  'text stages (a bare ''lead''), date columns, amount_usd of an untracked deals table = plain SQL');
SELECT is((SELECT sum(amount) FROM funnel.stale_deals('sh.deals', '2026-01-10', 0.5, 'amount_usd', 'sh.export',
                                                       'opp_id', 'step', 'since', 'until')),
          1050.50, 'amounts 50.50 + 1000, deal 5 missing from the deals table: NULL');
SELECT results_eq($$SELECT deal_id, stage::text, entered_at, days_in_stage, threshold, amount
                      FROM funnel.stale_deals(history => 'sh.moves', as_of => '2026-01-06 12:00', percentile => 0.9,
                           deal_column => 'opp_id', stage_column => 'step', entered_at_column => 'started', left_at_column => 'ended')$$,
                  $$SELECT deal_id, stage, entered_at, days, threshold, NULL::numeric FROM pg_temp.stale_sql('2026-01-06 12:00', 0.9)$$,
                  'a table with other column names, an earlier as_of, percentile 0.9 = plain SQL');
SELECT results_eq($$SELECT deal_id FROM funnel.stale_deals(history => 'sh.model', as_of => '2026-01-10')$$,
                  $$VALUES ('4')$$, 'without percentile only stale_after counts: deal 4 in sh:offer');

SELECT throws_ok($$SELECT * FROM funnel.stale_deals(history => 'sh.secret_model')$$,
                 '42501', 'permission denied for view secret_model', 'a view the caller cannot read: 42501');
SELECT throws_ok($$SELECT * FROM funnel.stale_deals(history => 'sh.export', deal_column => 'opp_id', stage_column => 'step',
                        entered_at_column => 'since', left_at_column => 'until"; DROP TABLE sh.export; --')$$,
                 '42703', 'column "until"; DROP TABLE sh.export; --" of "sh.export" does not exist',
                 'a hostile column name is quoted as a name: 42703, nothing run');
RESET ROLE;
SELECT has_table('sh', 'export', 'sh.export is still there');
SET ROLE sh_reader;
SELECT throws_ok($$SELECT * FROM funnel.stale_deals(history => 'sh.export', deal_column => 'opp_id', stage_column => 'since',
                        entered_at_column => 'since', left_at_column => 'until')$$,
                 '42804', 'column "since" of "sh.export" is of type date', 'a date stage column: 42804 naming it');
SELECT throws_ok($$SELECT * FROM funnel.stale_deals('sh.deals', history => 'sh.model', amount_column => 'label')$$,
                 '42804', NULL, 'a text amount column: 42804');
SELECT throws_ok($$SELECT * FROM funnel.stale_deals(history => 'sh.model', amount_column => 'amount_usd')$$,
                 '22023', 'amount_column "amount_usd" given without a deals table', 'amount_column without deals: 22023');
SELECT throws_ok($$SELECT * FROM funnel.stale_deals('sh.deals')$$,
                 '55000', 'table sh.deals is not tracked', 'an untracked deals table without history: 55000, as before');
SELECT is((SELECT count(*) FROM funnel.stale_deals()), 0::bigint, 'neither deals nor history: no rows');

SELECT * FROM finish();
ROLLBACK;
