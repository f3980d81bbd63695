-- test/pgtap/track_insert_lookups.sql: what funnel_track_insert reads of the
-- history for new deals, as a NOSUPERUSER table owner.  A deal key deleted
-- and inserted again keeps its visits, and its new visit is not entered
-- before the newest of them (test/shell/track_reinsert_race.sh covers the
-- two-session race); but a statement of many new deals probes the
-- (deal_id, entered_at) index only for its first deal, once for the
-- history's largest key, and for the deals whose key is not above it
-- (counted with pg_stat_get_xact_numscans).
BEGIN;
SELECT plan(7);
SET client_min_messages = warning;
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal']);
CREATE ROLE til_own NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO til_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO til_own;
SET ROLE til_own;
CREATE TABLE til (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL, changed timestamptz);
SELECT funnel.track('til', 'b2b', changed_at_column => 'changed', rule => 'any');

-- index scans of the history's (deal_id, entered_at) index so far in this
-- transaction
CREATE FUNCTION til_scans() RETURNS bigint LANGUAGE sql AS
  $$SELECT pg_stat_get_xact_numscans('til_stage_history_deal_id_entered_at_idx'::regclass)$$;
CREATE TABLE til_mark (scans bigint);
INSERT INTO til_mark SELECT til_scans();

INSERT INTO til (id, stage) SELECT g, 'lead' FROM generate_series(1, 1000) g;
SELECT is(til_scans() - (SELECT scans FROM til_mark), 2::bigint,
          'an INSERT of 1000 new deals probes the index twice: its first deal, the largest key');
SELECT is((SELECT count(*) FROM til_stage_history WHERE left_at IS NULL AND entered_at = now()), 1000::bigint,
          'each new deal has its open visit, entered now');

-- deal 5 moves tomorrow (an effective time given), is deleted, and is
-- inserted again between two new deals, without an effective time
UPDATE til SET stage = 'proposal', changed = now() + interval '1 day' WHERE id = 5;
DELETE FROM til WHERE id = 5;
UPDATE til_mark SET scans = til_scans();
INSERT INTO til (id, stage) VALUES (2000, 'lead'), (5, 'qualified'), (2001, 'lead');
SELECT is(til_scans() - (SELECT scans FROM til_mark), 3::bigint,
          'three new deals, one of them a key under the largest: three probes');
SELECT is((SELECT entered_at FROM til_stage_history WHERE deal_id = 5 AND left_at IS NULL),
          now() + interval '1 day',
          'the re-inserted deal''s visit is entered at its newest visit, not before it');
SELECT is((SELECT string_agg(stage::text || ' ' || (left_at IS NULL), ', ' ORDER BY entered_at, left_at NULLS LAST)
             FROM til_stage_history WHERE deal_id = 5),
          'b2b:lead false, b2b:proposal false, b2b:qualified true',
          'deal 5: its old visits closed, its new one open');
SELECT is((SELECT count(*) FROM til_stage_history WHERE deal_id IN (2000, 2001) AND left_at IS NULL AND entered_at = now()),
          2::bigint, 'the deals above the largest key get their visit now');

-- one new deal: one probe, as before
UPDATE til_mark SET scans = til_scans();
INSERT INTO til (id, stage) VALUES (3000, 'lead');
SELECT is(til_scans() - (SELECT scans FROM til_mark), 1::bigint,
          'a single new deal: one probe');

SELECT * FROM finish();
ROLLBACK;
