-- test/pgtap/track_trust.sql: tracking as a NOSUPERUSER table owner
--   - track()/untrack() require ownership of the deals table (42501), even
--     for a role granted EXECUTE; their SECURITY DEFINER bodies are not
--     callable; a member of the owning role may (as CREATE TRIGGER)
--   - check_history with keys whose = lives outside pg_catalog (citext,
--     ltree, created by the owner: trusted extensions)
--   - history writes that are not HOT updates (an index on left_at, full
--     pages): invariants hold, indexes agree with the heap
BEGIN;
SELECT plan(30);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal']);

CREATE ROLE tt_own NOSUPERUSER;
CREATE ROLE tt_mgr NOSUPERUSER;
CREATE ROLE tt_member NOSUPERUSER IN ROLE tt_own;
GRANT CREATE ON SCHEMA public TO tt_own;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO tt_own', current_database()); END $$;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass)
   TO tt_own, tt_mgr, tt_member;

-- privileges ---------------------------------------------------------------
SET ROLE tt_own;
CREATE TABLE deals (id bigint PRIMARY KEY, stage funnel.deal_stage NOT NULL);
INSERT INTO deals VALUES (1, 'b2b:lead'), (2, 'b2b:qualified');
SET ROLE tt_mgr;
SELECT throws_ok($$SELECT funnel.track('deals', 'b2b')$$, '42501', 'must be owner of table deals',
                 'track: a role granted EXECUTE cannot track a table it does not own');
SELECT throws_ok($$SELECT funnel_internal.track('deals', 'b2b', 'stage', NULL, 'forward')$$, '42501', NULL,
                 'the SECURITY DEFINER body of track() cannot be called directly');
SELECT throws_ok($$SELECT funnel_internal.untrack('deals')$$, '42501', NULL,
                 'the SECURITY DEFINER body of untrack() cannot be called directly');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM funnel.tracked_table), 0, 'the refused track() registered nothing');
SELECT hasnt_table('public', 'deals_stage_history', 'the refused track() created no history table');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'deals'::regclass), 0,
          'the refused track() created no trigger');

SET ROLE tt_member;
SELECT lives_ok($$SELECT funnel.track('deals', 'b2b')$$, 'a member of the owning role may track the table');
RESET ROLE;
SELECT is((SELECT relowner::regrole::text FROM pg_class WHERE oid = 'deals_stage_history'::regclass), 'tt_own',
          'the history table belongs to the owner of the deals table');
SET ROLE tt_mgr;
SELECT throws_ok($$SELECT funnel.untrack('deals')$$, '42501', 'must be owner of table deals',
                 'untrack: a role granted EXECUTE cannot untrack a table it does not own');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'deals'::regclass AND tgname LIKE 'funnel_track_%'), 6,
          'the refused untrack() dropped no trigger');
SET ROLE tt_own;
SELECT lives_ok($$SELECT funnel.untrack('deals')$$, 'the owner untracks its table');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM funnel.tracked_table), 0, 'untracked');

-- check_history with citext and ltree keys ---------------------------------
SET ROLE tt_own;
CREATE EXTENSION citext;
CREATE EXTENSION ltree;
CREATE TABLE ci (id citext PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('ci', 'b2b', rule => 'any');
INSERT INTO ci VALUES ('Acme', 'lead'), ('Bolt', 'lead');
UPDATE ci SET stage = 'qualified' WHERE id = 'acme';
-- the same key for citext's =: not a change of the key
UPDATE ci SET id = 'ACME' WHERE id = 'acme';
SELECT is((SELECT string_agg(format('%s %s %s', deal_id, stage, left_at IS NULL), ', ' ORDER BY entered_at, stage) FROM ci_stage_history WHERE deal_id = 'acme'),
          'Acme b2b:lead f, Acme b2b:qualified t', 'citext key: visits recorded');
SELECT is_empty($$SELECT * FROM funnel.check_history('ci')$$,
                'check_history compares citext keys with citext''s = (ACME is Acme)');
-- a second open visit written by hand is found
INSERT INTO ci_stage_history (deal_id, stage, entered_at) VALUES ('bolt', 'b2b:lead', now());
SELECT results_eq($$SELECT lower(deal_id), problem FROM funnel.check_history('ci')$$,
                  $$VALUES ('bolt', '2 open visits')$$, 'check_history finds two open visits of a citext key');

CREATE TABLE lt (id ltree PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('lt', 'b2b', rule => 'any');
INSERT INTO lt VALUES ('emea.acme', 'lead'), ('emea.bolt', 'lead');
UPDATE lt SET stage = 'proposal' WHERE id = 'emea.acme';
DELETE FROM lt WHERE id = 'emea.bolt';
SELECT is((SELECT string_agg(format('%s %s %s', deal_id, stage, left_at IS NULL), ', ' ORDER BY deal_id, entered_at) FROM lt_stage_history),
          'emea.acme b2b:lead f, emea.acme b2b:proposal t, emea.bolt b2b:lead f', 'ltree key: visits recorded');
SELECT is_empty($$SELECT * FROM funnel.check_history('lt')$$, 'check_history works with ltree keys');
INSERT INTO lt_stage_history (deal_id, stage, entered_at) VALUES ('emea.ghost', 'b2b:lead', now());
SELECT results_eq($$SELECT deal_id, problem FROM funnel.check_history('lt')$$,
                  $$VALUES ('emea.ghost', 'open visit of a deal that does not exist')$$,
                  'check_history finds an open visit of an ltree key that does not exist');
RESET ROLE;

-- history closes that are not HOT updates ----------------------------------
SET ROLE tt_own;
-- an index on left_at: every close changes an indexed column
CREATE TABLE nh (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('nh', 'b2b', rule => 'any');
CREATE INDEX nh_left_at ON nh_stage_history (left_at);
INSERT INTO nh SELECT g, 'lead' FROM generate_series(1, 300) g;
UPDATE nh SET stage = 'qualified';
UPDATE nh SET stage = 'proposal' WHERE id % 2 = 0;
DELETE FROM nh WHERE id % 3 = 0;
SELECT is(pg_stat_get_xact_tuples_updated('nh_stage_history'::regclass)
          - pg_stat_get_xact_tuples_hot_updated('nh_stage_history'::regclass), 300 + 150 + 100::bigint,
          'index on left_at: every visit close was a non-HOT update');
SELECT is((SELECT count(*)::int FROM nh_stage_history), 300 + 300 + 150, 'a visit per insert and per move');
SELECT is((SELECT count(*)::int FROM nh_stage_history WHERE left_at IS NULL), 200, 'one open visit per live deal');
SELECT is((SELECT string_agg(stage::text, ',' ORDER BY entered_at, left_at NULLS LAST) FROM nh_stage_history WHERE deal_id = 6),
          'b2b:lead,b2b:qualified,b2b:proposal', 'the visits of a moved and deleted deal');
SELECT is_empty($$SELECT * FROM funnel.check_history('nh')$$, 'non-HOT closes: every invariant holds');
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT count(*)::int FROM nh_stage_history WHERE left_at > '-infinity'), 550,
          'the left_at index holds every closed visit');
SELECT is((SELECT count(*)::int FROM nh_stage_history WHERE left_at IS NULL), 200,
          'the left_at index holds every open visit');
RESET enable_seqscan;
RESET enable_bitmapscan;

-- full pages: no room for a HOT update on the page
CREATE TABLE fp (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('fp', 'b2b', rule => 'any');
ALTER TABLE fp_stage_history SET (fillfactor = 100);
INSERT INTO fp SELECT g, 'lead' FROM generate_series(1, 2000) g;
UPDATE fp SET stage = 'qualified';
UPDATE fp SET stage = 'proposal' WHERE id <= 500;
SELECT cmp_ok(pg_stat_get_xact_tuples_updated('fp_stage_history'::regclass)
              - pg_stat_get_xact_tuples_hot_updated('fp_stage_history'::regclass), '>', 1000::bigint,
              'full pages: most visit closes were non-HOT updates');
SELECT is((SELECT count(*)::int FROM fp_stage_history), 4500, 'a visit per insert and per move');
SELECT is_empty($$SELECT * FROM funnel.check_history('fp')$$, 'full pages: every invariant holds');
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT count(*)::int FROM fp_stage_history WHERE deal_id BETWEEN 1 AND 2000 AND left_at IS NULL), 2000,
          'the (deal_id, entered_at) index finds every open visit');
SELECT is((SELECT count(*)::int FROM fp_stage_history WHERE stage = 'b2b:proposal'), 500,
          'the (stage, entered_at) index finds every proposal visit');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
