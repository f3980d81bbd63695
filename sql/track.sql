-- track.sql: funnel.track() and its triggers (brief section 3)
CREATE EXTENSION funnel;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit'], ARRAY[0.1, 0.5]);
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                        close_date date, stage funnel.deal_stage NOT NULL);
INSERT INTO crm.deals VALUES (1, 'ann', 100, NULL, 'b2b:lead'),
                             (2, 'bob', NULL, NULL, 'b2b:qualified');

-- errors of track(): nothing is created
SELECT funnel.track('crm.deals', 'nope');
SELECT funnel.track('crm.deals', 'b2b', stage_column => 'stag');
SELECT funnel.track('crm.deals', 'b2b', stage_column => 'owner');
SELECT funnel.track('crm.deals', 'b2b', rule => 'backwards');
SELECT funnel.track('crm.deals', 'b2b', changed_at_column => 'close_date');
CREATE TABLE crm.nokey (stage funnel.deal_stage NOT NULL);
SELECT funnel.track('crm.nokey', 'b2b');
CREATE TABLE crm.twokey (a int, b int, stage funnel.deal_stage NOT NULL, PRIMARY KEY (a, b));
SELECT funnel.track('crm.twokey', 'b2b');
CREATE TABLE crm.nullable (id int PRIMARY KEY, stage funnel.deal_stage);
SELECT funnel.track('crm.nullable', 'b2b');
CREATE TABLE crm.bound (id int PRIMARY KEY, stage funnel.deal_stage(retail) NOT NULL);
SELECT funnel.track('crm.bound', 'b2b');
-- the checks of track() are those the triggers make later (one definition,
-- src/track/track_validate.c): a deferrable primary key, which the triggers
-- cannot use, is refused up front
CREATE TABLE crm.deferred (id int PRIMARY KEY DEFERRABLE, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('crm.deferred', 'b2b');
CREATE TABLE crm.keyed_stage (stage funnel.deal_stage PRIMARY KEY);
SELECT funnel.track('crm.keyed_stage', 'b2b');
CREATE TABLE crm.parted (id int, stage funnel.deal_stage NOT NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id);
SELECT funnel.track('crm.parted', 'b2b');
CREATE TABLE crm.part1 PARTITION OF crm.parted FOR VALUES FROM (0) TO (10);
SELECT funnel.track('crm.part1', 'b2b');
CREATE VIEW crm.deals_view AS SELECT * FROM crm.deals;
SELECT funnel.track('crm.deals_view', 'b2b');
SELECT count(*) FROM funnel.tracked_table;
SELECT count(*) FROM pg_class WHERE relname LIKE '%_stage_history%';

-- track: history table, triggers, backfill
SELECT funnel.track('crm.deals', pipeline => 'b2b');
SELECT funnel.track('crm.deals', 'b2b');
\d crm.deals_stage_history
SELECT tgname FROM pg_trigger WHERE tgrelid = 'crm.deals'::regclass ORDER BY 1;
SELECT deals, pipeline, stage_column, changed_at_column, rule, history FROM funnel.tracked_table;
SELECT deal_id, stage, left_at, entered_by = current_user AS by_me
  FROM crm.deals_stage_history ORDER BY deal_id;

-- INSERT opens the first visit; a bare name shared by pipelines resolves to b2b
INSERT INTO crm.deals VALUES (3, 'cy', 5, NULL, 'lead');
SELECT deal_id, stage FROM crm.deals_stage_history WHERE deal_id = 3;
SELECT stage FROM crm.deals WHERE id = 3;
INSERT INTO crm.deals VALUES (4, 'di', 5, NULL, 'retail:visit');

-- forward rule: skips allowed, backwards refused with 23514 and the allowed targets
UPDATE crm.deals SET stage = 'proposal' WHERE id = 1;
UPDATE crm.deals SET stage = 'lead' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE crm.deals SET stage = 'b2b:won' WHERE id = 1;
UPDATE crm.deals SET stage = 'lost' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT deal_id, stage, left_at IS NULL AS open FROM crm.deals_stage_history
 WHERE deal_id = 1 ORDER BY entered_at, left_at NULLS LAST;

-- a no-op UPDATE writes nothing; an UPDATE of another column writes nothing
SELECT count(*) FROM crm.deals_stage_history;
UPDATE crm.deals SET stage = stage;
UPDATE crm.deals SET amount = 10;
SELECT count(*) FROM crm.deals_stage_history;

-- several moves in one transaction give zero-length visits
BEGIN;
UPDATE crm.deals SET stage = 'proposal' WHERE id = 3;
UPDATE crm.deals SET stage = 'negotiation' WHERE id = 3;
UPDATE crm.deals SET stage = 'won' WHERE id = 3;
SELECT stage, entered_at = now() AS at_now, left_at = now() AS left_now
  FROM crm.deals_stage_history WHERE deal_id = 3 ORDER BY entered_at, left_at NULLS LAST;
COMMIT;

-- a deal inserted and moved in one transaction
BEGIN;
INSERT INTO crm.deals VALUES (20, 'ny', 1, NULL, 'lead');
UPDATE crm.deals SET stage = 'qualified' WHERE id = 20;
COMMIT;
SELECT stage, entered_at = left_at AS zero_length FROM crm.deals_stage_history
 WHERE deal_id = 20 ORDER BY entered_at, left_at NULLS LAST;
DELETE FROM crm.deals WHERE id = 20;

-- a rolled-back move leaves no history
BEGIN;
UPDATE crm.deals SET stage = 'negotiation' WHERE id = 2;
ROLLBACK;
SELECT count(*) FROM crm.deals_stage_history WHERE deal_id = 2;

-- a move in a rolled-back savepoint leaves no history; the deal moves again
BEGIN;
SAVEPOINT s;
UPDATE crm.deals SET stage = 'proposal' WHERE id = 2;
ROLLBACK TO SAVEPOINT s;
UPDATE crm.deals SET stage = 'negotiation' WHERE id = 2;
COMMIT;
SELECT stage, left_at IS NULL AS open FROM crm.deals_stage_history
 WHERE deal_id = 2 ORDER BY entered_at, left_at NULLS LAST;
UPDATE crm.deals SET stage = 'proposal' WHERE id = 2;

-- allow-list: reopen a lost deal
UPDATE crm.deals SET stage = 'lost' WHERE id = 2;
UPDATE crm.deals SET stage = 'lead' WHERE id = 2;
SELECT funnel.allow_transition('b2b', 'lost', 'lead');
SELECT funnel.allow_transition('b2b', 'lost', 'lead');
UPDATE crm.deals SET stage = 'lead' WHERE id = 2;
SELECT stage FROM crm.deals WHERE id = 2;
SELECT * FROM funnel.allowed_transition;
SELECT funnel.allow_transition('b2b', 'lost', 'nope');
SELECT funnel.allow_transition('b2b', 'lost', 'lost');

-- required fields: on entering and on skipping past
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount', 'close_date']);
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['no_such_column']);
SELECT * FROM funnel.required_field;
INSERT INTO crm.deals VALUES (10, 'jo', NULL, NULL, 'lead'), (11, 'ki', 5, NULL, 'lead');
UPDATE crm.deals SET stage = 'qualified' WHERE id = 10;
UPDATE crm.deals SET stage = 'proposal' WHERE id = 10;
UPDATE crm.deals SET stage = 'negotiation' WHERE id = 10;
UPDATE crm.deals SET stage = 'won' WHERE id = 11;
UPDATE crm.deals SET stage = 'lost' WHERE id = 10;
UPDATE crm.deals SET stage = 'negotiation', amount = 1, close_date = '2026-12-31' WHERE id = 11;
SELECT stage FROM crm.deals WHERE id IN (10, 11) ORDER BY id;
INSERT INTO crm.deals VALUES (12, 'li', NULL, NULL, 'negotiation');
INSERT INTO crm.deals VALUES (12, 'li', 1, '2026-12-31', 'negotiation');
INSERT INTO crm.deals VALUES (13, 'mo', NULL, NULL, 'lost');
SELECT funnel.require_fields('b2b', 'proposal', NULL);
SELECT count(*) FROM funnel.required_field;

-- retired stages cannot be entered under any rule, even allow-listed
SELECT funnel.retire_stage('b2b', 'qualified');
INSERT INTO crm.deals VALUES (6, 'fy', 1, NULL, 'qualified');
SELECT funnel.allow_transition('b2b', 'lost', 'qualified');
UPDATE crm.deals SET stage = 'qualified' WHERE id = 13;
UPDATE crm.deals SET stage = 'qualified' WHERE id = 2;
SELECT funnel.retire_stage('b2b', 'qualified', false);
UPDATE crm.deals SET stage = 'qualified' WHERE id = 13;

-- the primary key of a tracked deal cannot change
UPDATE crm.deals SET id = 100 WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- multi-row UPDATE and UPDATE ... FROM obey the rules, all or nothing
SELECT id, stage FROM crm.deals ORDER BY id;
SELECT count(*) FROM crm.deals_stage_history;
UPDATE crm.deals SET stage = 'proposal' WHERE id IN (2, 13, 1);
UPDATE crm.deals SET stage = 'proposal' WHERE id IN (2, 13);
UPDATE crm.deals SET stage = 'won';
CREATE TEMP TABLE moves (id bigint, stage funnel.deal_stage);
INSERT INTO moves VALUES (2, 'b2b:negotiation'), (13, 'b2b:lead'), (12, 'b2b:won');
UPDATE crm.deals d SET stage = m.stage FROM moves m WHERE m.id = d.id;
DELETE FROM moves WHERE id = 13;
UPDATE crm.deals d SET stage = m.stage FROM moves m WHERE m.id = d.id;
SELECT id, stage FROM crm.deals ORDER BY id;
SELECT count(*) FROM crm.deals_stage_history;
SELECT * FROM funnel.check_history('crm.deals');

-- DELETE keeps the history and closes the open visit; TRUNCATE closes all
DELETE FROM crm.deals WHERE id = 2;
SELECT stage, left_at IS NOT NULL AS closed FROM crm.deals_stage_history
 WHERE deal_id = 2 ORDER BY entered_at, left_at NULLS LAST;
SELECT * FROM funnel.check_history('crm.deals');

-- invariants checker reports problems
UPDATE crm.deals_stage_history SET left_at = NULL WHERE deal_id = 2;
SELECT deal_id, substr(problem, 1, 20) FROM funnel.check_history('crm.deals') ORDER BY 1, 2;
DELETE FROM crm.deals_stage_history WHERE deal_id = 2;

-- TRUNCATE by a role that may truncate deals but not write the history
CREATE ROLE funnel_track_truncater;
GRANT USAGE ON SCHEMA crm TO funnel_track_truncater;
GRANT TRUNCATE ON crm.deals TO funnel_track_truncater;
SET ROLE funnel_track_truncater;
TRUNCATE crm.deals;
RESET ROLE;
SELECT count(*) AS open_visits FROM crm.deals_stage_history WHERE left_at IS NULL;
REVOKE ALL ON crm.deals FROM funnel_track_truncater;
REVOKE ALL ON SCHEMA crm FROM funnel_track_truncater;
DROP ROLE funnel_track_truncater;

-- untrack keeps the history table and removes the triggers
SELECT funnel.untrack('crm.deals');
SELECT funnel.untrack('crm.deals');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'crm.deals'::regclass;
INSERT INTO crm.deals VALUES (7, 'gi', 1, NULL, 'b2b:lead');
SELECT count(*) FROM crm.deals_stage_history WHERE deal_id = 7;
-- track() again re-attaches the kept history; the deal inserted meanwhile
-- gets its open visit
SELECT funnel.track('crm.deals', 'b2b');
SELECT stage, left_at IS NULL AS open FROM crm.deals_stage_history WHERE deal_id = 7;
SELECT * FROM funnel.check_history('crm.deals');
SELECT funnel.untrack('crm.deals');
DROP TABLE crm.deals_stage_history;

-- sequential rule, a changed_at column and a bound stage column
CREATE TABLE crm.seq (id text PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                      changed_at timestamptz);
INSERT INTO crm.seq VALUES ('a', 'lead', '2024-01-01'), ('b', 'lead', NULL);
SELECT funnel.track('crm.seq', 'b2b', changed_at_column => 'changed_at', rule => 'sequential');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'crm.seq'::regclass ORDER BY 1;
UPDATE crm.seq SET stage = 'proposal' WHERE id = 'a';
UPDATE crm.seq SET stage = 'qualified', changed_at = '2024-02-01' WHERE id = 'a';
UPDATE crm.seq SET stage = 'proposal', changed_at = '2024-01-15' WHERE id = 'a';
UPDATE crm.seq SET stage = 'lost', changed_at = '2024-03-01' WHERE id = 'a';
UPDATE crm.seq SET stage = 'won' WHERE id = 'b';
UPDATE crm.seq SET stage = 'qualified' WHERE id = 'b';
UPDATE crm.seq SET stage = 'proposal' WHERE id = 'b';
UPDATE crm.seq SET stage = 'negotiation' WHERE id = 'b';
UPDATE crm.seq SET stage = 'won' WHERE id = 'b';
SET TIME ZONE 'UTC';
SELECT deal_id, stage, entered_at, left_at FROM crm.seq_stage_history
 WHERE deal_id = 'a' ORDER BY entered_at, left_at NULLS LAST;
SELECT deal_id, count(*) FROM crm.seq_stage_history GROUP BY 1 ORDER BY 1;
SELECT * FROM funnel.check_history('crm.seq');

-- dropping a tracked table forgets its tracking and keeps its history
CREATE TABLE crm.gone (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('crm.gone', 'b2b');
INSERT INTO crm.gone VALUES (1, 'lead');
DROP TABLE crm.gone;
SELECT count(*) FROM funnel.tracked_table WHERE history = 'crm.gone_stage_history'::regclass;
SELECT count(*) FROM crm.gone_stage_history;
DROP TABLE crm.gone_stage_history;
-- a dropped history table: a clear error on the next write
DROP TABLE crm.seq_stage_history;
UPDATE crm.seq SET stage = 'lost' WHERE id = 'b';
SELECT funnel.untrack('crm.seq');
UPDATE crm.seq SET stage = 'lost' WHERE id = 'b';

-- triggers called by hand
SELECT funnel_internal.track_update();

DROP VIEW crm.deals_view;
DROP TABLE crm.seq, crm.deals, crm.nokey, crm.twokey,
           crm.nullable, crm.bound, crm.deferred, crm.keyed_stage, crm.parted;
DROP SCHEMA crm;
DROP EXTENSION funnel CASCADE;
