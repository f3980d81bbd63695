-- test/pgtap/import.sql: funnel.import_history(), a change log into a history
--   - the demo's Pipedrive change log imported into a tracked table gives the
--     history and deals of the row-by-row replay through the triggers
--   - a messy log with every defect class: each row not taken is reported
--     with its reason (taken + reported = source rows), the history holds the
--     visits computed by hand, check_history() finds nothing
--   - a plain history table, a date change time, bare and qualified names
--   - NULLs, an empty source, bad input (SQLSTATE and the value named)
--   - as a NOSUPERUSER table owner; a source the caller cannot read (42501)
BEGIN;
SELECT plan(46);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SET TIME ZONE 'UTC';
CREATE SCHEMA crm;

-- Pipedrive: the replay of demo/demo.sql (before the import) ---------------
CREATE TEMP TABLE pd_stages (id int, name text);
\copy pd_stages FROM 'data/pipedrive_deal_changes/stages.csv' (FORMAT csv, HEADER)
SELECT funnel.create_pipeline('pipedrive', array_agg(name ORDER BY id)) FROM pd_stages \gset
CREATE TEMP TABLE pd_changes (deal_id bigint, change_time timestamp, field text, value text);
\copy pd_changes FROM 'data/pipedrive_deal_changes/deal_changes.csv' (FORMAT csv, HEADER)
CREATE TEMP TABLE events AS
SELECT c.deal_id, c.change_time AT TIME ZONE 'UTC' AS at,
       CASE c.field WHEN 'stage_id' THEN 'pipedrive:' || s.name ELSE 'pipedrive:lost' END AS stage,
       row_number() OVER (PARTITION BY c.deal_id ORDER BY c.change_time, c.field DESC) AS n
  FROM pd_changes c LEFT JOIN pd_stages s ON c.field = 'stage_id' AND s.id = c.value::int
 WHERE c.field IN ('stage_id', 'lost_reason');
CREATE TABLE crm.replayed (id bigint PRIMARY KEY, amount numeric(12,2), changed_at timestamptz,
                           stage funnel.deal_stage(pipedrive) NOT NULL);
SELECT funnel.track('crm.replayed', pipeline => 'pipedrive', changed_at_column => 'changed_at', rule => 'any') \gset
INSERT INTO crm.replayed (id, changed_at, stage)
SELECT e.deal_id, e.at, e.stage FROM events e WHERE e.n = 1;
DO $$
DECLARE k int;
BEGIN
    FOR k IN 2 .. (SELECT max(n) FROM events) LOOP
        UPDATE crm.replayed d SET stage = e.stage, changed_at = e.at
          FROM events e WHERE e.deal_id = d.id AND e.n = k;
    END LOOP;
END
$$;

-- the same log, imported
CREATE TABLE crm.deals (id bigint PRIMARY KEY, amount numeric(12,2), changed_at timestamptz,
                        stage funnel.deal_stage(pipedrive) NOT NULL);
SELECT funnel.track('crm.deals', pipeline => 'pipedrive', changed_at_column => 'changed_at', rule => 'any') \gset
CREATE TEMP TABLE pd_report AS
SELECT * FROM funnel.import_history('crm.deals',
    'SELECT deal_id, stage, at AS changed_at FROM events ORDER BY deal_id, n', apply_rules => true);

SELECT bag_eq($$ SELECT deal_id, stage, entered_at, left_at FROM crm.deals_stage_history $$,
              $$ SELECT deal_id, stage, entered_at, left_at FROM crm.replayed_stage_history $$,
              'Pipedrive: the imported history is the row-by-row replay''s, visit for visit');
SELECT bag_eq($$ SELECT id, stage FROM crm.deals $$,
              $$ SELECT id, stage FROM crm.replayed $$,
              'Pipedrive: the imported deals are the replay''s, each at its last stage');
-- changed_at: the time of the last move (the replay's UPDATEs also set it
-- for rows that repeat the stage, which move nothing)
SELECT bag_eq($$ SELECT id, changed_at FROM crm.deals $$,
              $$ SELECT deal_id, max(at)
                   FROM (SELECT e.*, lag(stage) OVER (PARTITION BY deal_id ORDER BY n) AS prev FROM events e) e
                  WHERE prev IS DISTINCT FROM stage GROUP BY deal_id $$,
              'Pipedrive: each imported deal''s changed_at is the time of its last move');
SELECT is_empty($$ SELECT * FROM funnel.check_history('crm.deals') $$,
                'Pipedrive: check_history() finds nothing after the import');
SELECT is((SELECT count(*) FROM crm.deals_stage_history) + (SELECT count(*) FROM pd_report),
          (SELECT count(*) FROM events),
          'Pipedrive: visits taken + rows reported = rows of the log');
-- the rows the replay's UPDATEs did not change the stage with: computed here
SELECT bag_eq($$ SELECT deal_id::bigint, stage, changed_at, action FROM pd_report $$,
              $$ SELECT deal_id, stage, at, 'skipped_repeat'
                   FROM (SELECT e.*, lag(stage) OVER (PARTITION BY deal_id ORDER BY n) AS prev FROM events e) e
                  WHERE stage = prev $$,
              'Pipedrive: the report lists exactly the rows that repeat the stage before, as skipped_repeat');
SELECT ok((SELECT count(*) FROM pd_report) > 0 AND
          (SELECT bool_and(detail LIKE 'the deal is in "%" since %') FROM pd_report),
          'Pipedrive: each repeat says since when the deal is in its stage');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE entered_by <> current_user), 0,
          'Pipedrive: entered_by is the importing role');

-- A messy log: every defect class ------------------------------------------
SELECT funnel.create_pipeline('b2b', ARRAY['lead', 'qualified', 'proposal']) \gset
SELECT funnel.create_pipeline('other', ARRAY['lead', 'demo']) \gset
CREATE TABLE crm.messy_log (pos int, deal int, stage text, at timestamp, amount numeric);
INSERT INTO crm.messy_log VALUES
    (1,  1,    'lead',          '2024-01-01', 100),
    (2,  1,    'lead',          '2024-01-01', NULL),  -- duplicate
    (3,  1,    'lead',          '2024-01-05', NULL),  -- repeat
    (4,  1,    'b2b:qualified', '2024-01-10', NULL),
    (5,  1,    'proposal',      '2024-01-08', NULL),  -- time backwards
    (6,  1,    'won',           '2024-01-20', NULL),
    (7,  1,    'lead',          '2024-02-01', 250),   -- after the close
    (8,  2,    'lead',          '2024-01-03', NULL),
    (9,  2,    'negotiation',   '2024-01-04', NULL),  -- unknown stage
    (10, 2,    'proposal',      '2024-01-06', NULL),
    (11, 2,    'qualified',     '2024-01-07', NULL),  -- backwards: refused by forward
    (12, 2,    'other:demo',    '2024-01-09', NULL),  -- another pipeline's stage
    (13, NULL, 'lead',          '2024-01-01', NULL),  -- null key
    (14, 3,    NULL,            '2024-03-01', NULL),  -- null stage
    (15, 3,    'lead',          NULL,         NULL),  -- null time
    (16, 3,    'lead',          '2024-03-01', 500);
CREATE TABLE crm.messy (id int PRIMARY KEY, amount numeric(12,2), changed_at timestamptz,
                        stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('crm.messy', pipeline => 'b2b', changed_at_column => 'changed_at') \gset
CREATE TEMP TABLE messy_report AS
SELECT * FROM funnel.import_history('crm.messy', 'SELECT * FROM crm.messy_log ORDER BY pos',
    key_column => 'deal', changed_at_column => 'at', amount_column => 'amount',
    apply_rules => true, order_by_time => false);

SELECT results_eq($$ SELECT source_row::int, deal_id, stage, changed_at, action FROM messy_report ORDER BY source_row $$,
    $$ VALUES (2, '1', 'lead', timestamptz '2024-01-01', 'skipped_duplicate'),
              (3, '1', 'lead', '2024-01-05', 'skipped_repeat'),
              (5, '1', 'proposal', '2024-01-08', 'skipped_time_backwards'),
              (7, '1', 'lead', '2024-02-01', 'skipped_after_close'),
              (9, '2', 'negotiation', '2024-01-04', 'skipped_unknown_stage'),
              (11, '2', 'qualified', '2024-01-07', 'refused_by_rule'),
              (12, '2', 'other:demo', '2024-01-09', 'skipped_unknown_stage'),
              (13, NULL, 'lead', '2024-01-01', 'skipped_null'),
              (14, '3', NULL, '2024-03-01', 'skipped_null'),
              (15, '3', 'lead', NULL, 'skipped_null') $$,
    'messy log: every row not taken is reported with its action, none silently');
SELECT is((SELECT count(*) FROM crm.messy_stage_history) + (SELECT count(*) FROM messy_report),
          (SELECT count(*) FROM crm.messy_log),
          'messy log: visits taken + rows reported = rows of the log (6 + 10 = 16)');
SELECT results_eq($$ SELECT source_row::int, detail FROM messy_report WHERE source_row IN (5, 7, 9, 11, 12, 13, 14, 15) ORDER BY 1 $$,
    $$ VALUES (5, 'earlier than the move before, to "qualified" at 2024-01-10 00:00:00+00'),
              (7, 'the deal closed in "won" at 2024-01-20 00:00:00+00; leaving it needs funnel.allow_transition(''b2b'', ''won'', ''lead'')'),
              (9, '"negotiation" is no stage of pipeline "b2b"'),
              (11, 'rule does not allow the move from "proposal" to "qualified"'),
              (12, 'stage "demo" belongs to pipeline "other", the target''s pipeline is "b2b"'),
              (13, 'the deal key is null'),
              (14, 'the stage is null'),
              (15, 'the change time is null') $$,
    'messy log: each reason names the values involved');
SELECT results_eq($$ SELECT deal_id, stage::text, entered_at, left_at FROM crm.messy_stage_history ORDER BY 1, 3 $$,
    $$ VALUES (1, 'b2b:lead', timestamptz '2024-01-01', timestamptz '2024-01-10'),
              (1, 'b2b:qualified', '2024-01-10', '2024-01-20'),
              (1, 'b2b:won', '2024-01-20', NULL),
              (2, 'b2b:lead', '2024-01-03', '2024-01-06'),
              (2, 'b2b:proposal', '2024-01-06', NULL),
              (3, 'b2b:lead', '2024-03-01', NULL) $$,
    'messy log: the history holds the visits of the moves taken');
SELECT results_eq($$ SELECT id, stage::text, changed_at, amount FROM crm.messy ORDER BY id $$,
    $$ VALUES (1, 'b2b:won', timestamptz '2024-01-20', 250.00),
              (2, 'b2b:proposal', '2024-01-06', NULL),
              (3, 'b2b:lead', '2024-03-01', 500.00) $$,
    'messy log: each deal at its last stage and time, with the last amount given');
SELECT is_empty($$ SELECT * FROM funnel.check_history('crm.messy') $$,
                'messy log: check_history() finds nothing after the import');
UPDATE crm.messy SET stage = 'won', changed_at = '2024-02-01' WHERE id = 2;
SELECT results_eq($$ SELECT stage::text, entered_at, left_at FROM crm.messy_stage_history WHERE deal_id = 2 ORDER BY 2 $$,
    $$ VALUES ('b2b:lead', timestamptz '2024-01-03', timestamptz '2024-01-06'),
              ('b2b:proposal', '2024-01-06', '2024-02-01'),
              ('b2b:won', '2024-02-01', NULL) $$,
    'messy log: the tracking goes on from the imported history');

-- the same log without rules, in time order, into a plain history table ----
CREATE FUNCTION pg_temp.plain_history(name text, key_type text, pipeline text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %s (%s)', name, funnel_internal.history_columns(key_type, pipeline));
    EXECUTE format('CREATE INDEX ON %s (deal_id, entered_at)', name);
END
$$;
SELECT pg_temp.plain_history('crm.plain', 'integer', 'b2b');
CREATE TEMP TABLE plain_report AS
SELECT * FROM funnel.import_history('crm.plain', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at');
SELECT results_eq($$ SELECT source_row::int, action FROM plain_report ORDER BY source_row $$,
    $$ VALUES (2, 'skipped_duplicate'), (3, 'skipped_repeat'), (9, 'skipped_unknown_stage'),
              (12, 'skipped_unknown_stage'), (13, 'skipped_null'), (14, 'skipped_null'),
              (15, 'skipped_null') $$,
    'plain history, in time order, no rules: only duplicates, repeats, unknown stages and NULLs are left out');
SELECT results_eq($$ SELECT deal_id, stage::text, entered_at, left_at FROM crm.plain ORDER BY 1, 3 $$,
    $$ VALUES (1, 'b2b:lead', timestamptz '2024-01-01', timestamptz '2024-01-08'),
              (1, 'b2b:proposal', '2024-01-08', '2024-01-10'),
              (1, 'b2b:qualified', '2024-01-10', '2024-01-20'),
              (1, 'b2b:won', '2024-01-20', '2024-02-01'),
              (1, 'b2b:lead', '2024-02-01', NULL),
              (2, 'b2b:lead', '2024-01-03', '2024-01-06'),
              (2, 'b2b:proposal', '2024-01-06', '2024-01-07'),
              (2, 'b2b:qualified', '2024-01-07', NULL),
              (3, 'b2b:lead', '2024-03-01', NULL) $$,
    'plain history: the visits of every move in time order, the last one open');

-- deal_stage values, a date change time, bare names in another pipeline
SELECT pg_temp.plain_history('crm.plain2', 'text', 'b2b');
SELECT is_empty($$ SELECT * FROM funnel.import_history('crm.plain2',
    $q$ VALUES ('a', 'b2b:lead'::funnel.deal_stage, date '2024-05-01'), ('a', 'b2b:won', date '2024-05-03') $q$,
    key_column => 'column1', stage_column => 'column2', changed_at_column => 'column3') $$,
    'deal_stage values and date change times are taken');
SELECT results_eq($$ SELECT deal_id, stage::text, entered_at, left_at FROM crm.plain2 $$,
    $$ VALUES ('a', 'b2b:lead', timestamptz '2024-05-01', timestamptz '2024-05-03'), ('a', 'b2b:won', '2024-05-03', NULL) $$,
    'a date is midnight in the session''s time zone');
TRUNCATE crm.plain2;
SELECT results_eq($$ SELECT stage, action, detail FROM funnel.import_history('crm.plain2',
    $q$ SELECT 'a' AS deal_id, 'demo' AS stage, now() AS changed_at $q$, pipeline => 'other') $$,
    $$ VALUES ('demo', 'skipped_unknown_stage', 'stage "demo" belongs to pipeline "other", the target''s pipeline is "b2b"') $$,
    'pipeline => names the pipeline of bare names; a stage of another pipeline than the target''s is reported');
SELECT is_empty($$ SELECT * FROM funnel.import_history('crm.plain2',
    $q$ SELECT 'a' AS deal_id, 'proposal'::varchar AS stage, now() AS changed_at $q$, pipeline => 'b2b') $$,
    'a varchar stage column is taken as text');

-- the same unknown stage on rows read in several fetches of the source (10000
-- rows each): each row reported with its reason, kept past a fetch's memory
SELECT pg_temp.plain_history('crm.plain3', 'int', 'b2b');
SELECT results_eq($$ SELECT count(*)::int, count(DISTINCT detail)::int, min(detail), max(detail)
                       FROM funnel.import_history('crm.plain3',
    $q$ SELECT g AS deal_id, 'nope' AS stage, timestamptz '2024-01-01' AS changed_at FROM generate_series(1, 25000) g $q$) $$,
    $$ VALUES (25000, 1, '"nope" is no stage of pipeline "b2b"', '"nope" is no stage of pipeline "b2b"') $$,
    'an unknown stage over several fetches of the source: all 25000 rows reported, each with its reason');

-- an empty source
CREATE TABLE crm.empty (id int PRIMARY KEY, changed_at timestamptz, stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('crm.empty', pipeline => 'b2b', changed_at_column => 'changed_at') \gset
SELECT is_empty($$ SELECT * FROM funnel.import_history('crm.empty', 'SELECT * FROM crm.messy_log WHERE false',
    key_column => 'deal', changed_at_column => 'at') $$, 'an empty source reports nothing');
SELECT is((SELECT count(*)::int FROM crm.empty) + (SELECT count(*)::int FROM crm.empty_stage_history), 0,
          'an empty source imports no deal and no visit');

-- bad input ----------------------------------------------------------------
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'crm.messy_log', key_column => 'nope', changed_at_column => 'at') $$,
    '42703', 'key column "nope" does not exist in the source', 'an unknown key column: 42703, named');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'crm.messy_log', key_column => 'deal') $$,
    '42703', 'changed-at column "changed_at" does not exist in the source', 'an unknown changed-at column: 42703, named');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at', amount_column => 'amt') $$,
    '42703', 'amount column "amt" does not exist in the source', 'an unknown amount column: 42703, named');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'SELECT deal, stage, at::text FROM crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '42804', 'changed-at column "at" of the source is of type text', 'a text change time: 42804, named');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'SELECT deal, pos AS stage, at FROM crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '42804', 'stage column "stage" of the source is of type integer', 'an integer stage: 42804, named');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'SELECT deal, stage, at, stage AS amount FROM crm.messy_log', key_column => 'deal', changed_at_column => 'at', amount_column => 'amount') $$,
    '42804', 'amount column "amount" of the source is of type text', 'a text amount: 42804, named');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'crm.no_such_log') $$,
    '42P01', NULL, 'an unknown source relation: 42P01');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', '  ') $$,
    '22023', 'source must not be empty', 'an empty source text: 22023');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', NULL) $$,
    '22004', 'source must not be null', 'a NULL source: 22004');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.messy', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '55000', 'tracked table "messy" is not empty', 'a tracked table with deals: 55000');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.plain', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '55000', 'history table "plain" is not empty', 'a history with visits: 55000');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty_stage_history', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '55000', 'table "empty_stage_history" is the stage history of tracked table "empty"', 'the history of a tracked table: 55000, import into the deals');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.plain2', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at', apply_rules => true) $$,
    '22023', 'apply_rules needs a tracked table', 'rules on a plain history: 22023');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.messy_log', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '42809', NULL, 'a table that is no history: refused');
CREATE TABLE crm.no_time (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('crm.no_time', pipeline => 'b2b') \gset
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.no_time', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '55000', 'tracked table "no_time" has no changed_at column', 'a tracked table without changed_at column: 55000');
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.empty', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at', pipeline => 'nope') $$,
    '42704', 'pipeline "nope" does not exist', 'an unknown pipeline: 42704, named');
SELECT is((SELECT count(*)::int FROM crm.empty) + (SELECT count(*)::int FROM crm.empty_stage_history), 0,
          'nothing is written by a refused import');

-- a trigger of the deals table that moves a deal during the import: refused
-- (the history's indexes are rebuilt at the end, no visit can be looked up)
CREATE TABLE crm.guarded (id int PRIMARY KEY, changed_at timestamptz, stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('crm.guarded', pipeline => 'b2b', changed_at_column => 'changed_at') \gset
CREATE FUNCTION public.imp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE crm.guarded SET stage = 'proposal' WHERE id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER bump AFTER INSERT ON crm.guarded FOR EACH ROW EXECUTE FUNCTION public.imp_bump();
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.guarded', 'SELECT 1 AS deal_id, ''lead'' AS stage, now() AS changed_at') $$,
    '55000', 'cannot move or delete a deal while its history is being imported',
    'a move during the import (from a trigger it fires) is refused, nothing half-written');

-- a NOSUPERUSER table owner ------------------------------------------------
CREATE ROLE imp_own NOSUPERUSER;
CREATE ROLE imp_other NOSUPERUSER;
GRANT USAGE, CREATE ON SCHEMA crm TO imp_own, imp_other;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO imp_own;
SET ROLE imp_own;
CREATE TABLE crm.own_deals (id int PRIMARY KEY, changed_at timestamptz, stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('crm.own_deals', pipeline => 'b2b', changed_at_column => 'changed_at') \gset
CREATE TABLE crm.own_log AS SELECT * FROM (VALUES (7, 'lead', timestamptz '2024-01-01'), (7, 'proposal', '2024-01-02')) v(deal_id, stage, changed_at);
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.own_deals', 'crm.messy_log', key_column => 'deal', changed_at_column => 'at') $$,
    '42501', 'permission denied for table messy_log', 'a source the caller cannot read: 42501');
GRANT INSERT, SELECT ON crm.own_deals TO imp_other;
GRANT SELECT ON crm.own_log TO imp_other;
SET ROLE imp_other;
SELECT throws_ok($$ SELECT * FROM funnel.import_history('crm.own_deals', 'crm.own_log') $$,
    '42501', 'must be owner of table own_deals', 'a role that does not own the tracked table cannot import into it, INSERT or not');
SET ROLE imp_own;
SELECT is_empty($$ SELECT * FROM funnel.import_history('crm.own_deals', 'crm.own_log') $$,
    'the NOSUPERUSER owner imports its own log');
SELECT results_eq($$ SELECT stage::text, entered_at, left_at, entered_by = 'imp_own' FROM crm.own_deals_stage_history ORDER BY 2 $$,
    $$ VALUES ('b2b:lead', timestamptz '2024-01-01', timestamptz '2024-01-02', true),
              ('b2b:proposal', '2024-01-02', NULL, true) $$,
    'the owner''s import: visits written, entered_by the owner');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
