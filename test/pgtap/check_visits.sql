-- test/pgtap/check_visits.sql: funnel.check_visits() (issue 21.3) on a
-- naive visit export of import.sql's messy change log (each row a visit
-- until the deal's next row in log order) plus an export with overlapping
-- visits, two open visits and re-openings with and without an allowed
-- transition: each contradiction listed by hand, the counts per kind equal
-- to plain SQL; a consistent tracked history gives none; a view, other
-- column names, text stages; a view the caller cannot read (42501) and a
-- hostile mapping (42703).  As a NOSUPERUSER table owner.
BEGIN;
SELECT plan(11);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SET TIME ZONE 'UTC';
SELECT funnel.create_pipeline('b2b', ARRAY['lead', 'qualified', 'proposal']);
SELECT funnel.allow_transition('b2b', 'lost', 'lead');
CREATE ROLE cv_owner NOSUPERUSER;
CREATE ROLE cv_reader NOSUPERUSER;
CREATE SCHEMA crm AUTHORIZATION cv_owner;
GRANT USAGE ON SCHEMA crm TO cv_reader;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO cv_owner;
SET ROLE cv_owner;

-- import.sql's messy log, less the rows no visit can hold (NULLs, unknown
-- stages, another pipeline's stage)
CREATE TABLE crm.messy_log (pos int, deal int, stage text, at timestamp);
INSERT INTO crm.messy_log VALUES
    (1,  1, 'lead',          '2024-01-01'),
    (2,  1, 'lead',          '2024-01-01'),  -- duplicate
    (3,  1, 'lead',          '2024-01-05'),  -- repeat
    (4,  1, 'b2b:qualified', '2024-01-10'),
    (5,  1, 'proposal',      '2024-01-08'),  -- time backwards
    (6,  1, 'won',           '2024-01-20'),
    (7,  1, 'lead',          '2024-02-01'),  -- after the close
    (8,  2, 'lead',          '2024-01-03'),
    (10, 2, 'proposal',      '2024-01-06'),
    (11, 2, 'qualified',     '2024-01-07'),  -- backwards in the funnel, not in time
    (16, 3, 'lead',          '2024-03-01');
-- the naive export: a visit per row, left at the deal's next row (log order)
CREATE TABLE crm.export (opp int, step text, since timestamp, until timestamp);
INSERT INTO crm.export
SELECT deal, stage, at, lead(at) OVER (PARTITION BY deal ORDER BY pos) FROM crm.messy_log;
INSERT INTO crm.export VALUES
    (4, 'lead', '2024-02-01', '2024-02-10'), (4, 'qualified', '2024-02-05', '2024-02-20'),  -- overlap
    (4, 'proposal', '2024-02-20', NULL),
    (5, 'lead', '2024-03-01', NULL), (5, 'qualified', '2024-03-05', NULL),                  -- two open
    (6, 'lead', '2024-01-01', '2024-01-02'), (6, 'lost', '2024-01-02', '2024-01-03'),
    (6, 'lead', '2024-01-03', NULL),                                                        -- reopened, allowed
    (7, 'lead', '2024-01-01', '2024-01-02'), (7, 'lost', '2024-01-02', '2024-01-04'),
    (7, 'qualified', '2024-01-04', NULL);                                                   -- reopened, not allowed
CREATE VIEW crm.visits AS
    SELECT opp AS deal_id, step::funnel.deal_stage AS stage, since::timestamptz AS entered_at,
           until::timestamptz AS left_at FROM crm.export;
CREATE VIEW crm.secret_visits AS SELECT * FROM crm.visits;
-- a consistent history: a tracked table moved by hand
CREATE TABLE crm.deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('crm.deals', pipeline => 'b2b', rule => 'any') IS NOT NULL AS tracked;
INSERT INTO crm.deals VALUES (1, 'lead'), (2, 'lead');
UPDATE crm.deals SET stage = 'qualified';
UPDATE crm.deals SET stage = 'lost' WHERE id = 1;
UPDATE crm.deals SET stage = 'lead' WHERE id = 1;
GRANT SELECT ON crm.export, crm.visits TO cv_reader;
RESET ROLE;

-- plain SQL over the same rows: every visit with its order in the deal
CREATE TEMP VIEW plain AS
SELECT opp::text AS deal, step::funnel.deal_stage AS st, since::timestamptz AS e, until::timestamptz AS l,
       row_number() OVER (PARTITION BY opp ORDER BY since, until NULLS LAST) AS n
  FROM crm.export;
GRANT SELECT ON plain TO cv_reader;
CREATE FUNCTION pg_temp.plain_counts() RETURNS TABLE (contradiction text, n bigint) LANGUAGE sql AS $$
    SELECT 'overlap', count(*) FROM plain v
     WHERE NOT v.l < v.e IS TRUE AND NOT (v.l IS NULL AND EXISTS (SELECT FROM plain p WHERE p.deal = v.deal AND p.n < v.n AND p.l IS NULL))
       AND EXISTS (SELECT FROM plain p WHERE p.deal = v.deal AND p.n < v.n AND NOT p.l < p.e IS TRUE
                     AND coalesce(p.l, 'infinity') > v.e)
    UNION ALL
    SELECT 'reopened', count(*) FROM plain v JOIN plain p ON p.deal = v.deal AND p.n = v.n - 1
     WHERE funnel.kind(p.st) IN ('won', 'lost') AND funnel.kind(v.st) = 'open'
       AND NOT (funnel.stage_name(p.st) = 'lost' AND funnel.stage_name(v.st) = 'lead')
    UNION ALL
    SELECT 'time_backwards', count(*) FROM plain WHERE l < e
    UNION ALL
    SELECT 'two_open', coalesce(sum(k - 1), 0) FROM (SELECT count(*) AS k FROM plain WHERE l IS NULL GROUP BY deal) o WHERE k > 1
    ORDER BY 1 $$;
SET ROLE cv_reader;

SELECT results_eq($$SELECT deal_id, contradiction, stage::text, entered_at, previous_stage::text
                      FROM funnel.check_visits('crm.export', 'opp', 'step', 'since', 'until')$$,
    $$VALUES ('1', 'overlap', 'b2b:proposal', timestamptz '2024-01-08', 'b2b:lead'),
             ('1', 'time_backwards', 'b2b:qualified', '2024-01-10', 'b2b:proposal'),
             ('1', 'reopened', 'b2b:lead', '2024-02-01', 'b2b:won'),
             ('4', 'overlap', 'b2b:qualified', '2024-02-05', 'b2b:lead'),
             ('5', 'two_open', 'b2b:qualified', '2024-03-05', 'b2b:lead'),
             ('7', 'reopened', 'b2b:qualified', '2024-01-04', 'b2b:lost')$$,
    'the naive export of the messy log: each contradiction, by hand');
SELECT results_eq($$SELECT contradiction, count(*) FROM funnel.check_visits('crm.export', 'opp', 'step', 'since', 'until')
                     GROUP BY 1 ORDER BY 1$$,
                  $$SELECT * FROM pg_temp.plain_counts()$$, 'counts per kind = plain SQL over the same rows');
SELECT results_eq($$SELECT deal_id, contradiction, stage, entered_at, left_at, previous_stage FROM funnel.check_visits('crm.visits')$$,
                  $$SELECT deal_id, contradiction, stage, entered_at, left_at, previous_stage
                      FROM funnel.check_visits('crm.export', 'opp', 'step', 'since', 'until')$$,
                  'a view of the same rows (funnel.deal_stage, timestamptz): the same contradictions');
SELECT is((SELECT count(*) FROM funnel.check_visits('crm.visits') WHERE deal_id = '6'), 0::bigint,
          'a re-opening the allow-list allows (lost -> lead) is no contradiction');
SELECT is((SELECT funnel.outcome(funnel.journey(stage, entered_at)) FROM crm.visits WHERE deal_id = 1), 'open',
          'the journey of deal 1 says open: the answer check_visits() warns about');
SELECT throws_ok($$SELECT * FROM funnel.check_visits('crm.secret_visits')$$,
                 '42501', 'permission denied for view secret_visits', 'a view the caller cannot read: 42501');
SELECT throws_ok($$SELECT * FROM funnel.check_visits('crm.export', 'opp', 'step', 'since', 'until); DROP VIEW crm.visits; --')$$,
                 '42703', 'column "until); DROP VIEW crm.visits; --" of "crm.export" does not exist',
                 'a hostile column name is quoted as a name: 42703, nothing run');
SELECT is((SELECT count(*) FROM funnel.check_visits(NULL)), 0::bigint, 'NULL history: no rows');
RESET ROLE;
SELECT has_view('crm', 'visits', 'crm.visits is still there');
SET ROLE cv_owner;
SELECT is((SELECT count(*) FROM funnel.check_visits('crm.deals_stage_history')), 0::bigint,
          'a tracked history (moves in one transaction, a re-opening lost -> lead the allow-list allows): no contradiction');
SELECT is((SELECT count(*) FROM crm.deals_stage_history WHERE deal_id = 1), 4::bigint,
          'the tracked history holds deal 1''s four visits');

SELECT * FROM finish();
ROLLBACK;
