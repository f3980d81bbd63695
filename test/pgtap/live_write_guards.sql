-- test/pgtap/live_write_guards.sql: the live summaries' UPDATE trigger
-- reads a deal's visits by a direct scan of the history's index and writes
-- deltas with heap_insert (src/live/live_visits.c, live_write.c); each is
-- done only where the SQL it replaces would do the same as the deals
-- table's owner, a NOSUPERUSER role, after DDL on the history or the
-- summary table since the trigger cached them:
--   - the owner's INSERT privilege on the summary table revoked: 42501, as
--     the generated SQL raises (not a silent heap_insert)
--   - the owner's SELECT privilege on the history revoked: 42501
--   - row level security forced on the history: the visits the owner's
--     policy hides are not read (no delta written for a deal it hides)
--   - the history's (deal_id, entered_at) index dropped and created again
--     (another OID): moves still leave summaries equal to the history
--   - an inheritance child of the history holding a visit of a deal: the
--     statement read it too, so does the trigger
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(9);

CREATE ROLE lg_own NOSUPERUSER;
CREATE ROLE lg_mover NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO lg_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
                          funnel.enable_live(regclass, name[], name) TO lg_own;
SELECT funnel.create_pipeline('lg', ARRAY['lead', 'qualified', 'proposal']) IS NULL AS created \gset

SET ROLE lg_own;
CREATE TABLE lg_deals (id int PRIMARY KEY, owner text, amount int,
                       stage funnel.deal_stage(lg) NOT NULL);
INSERT INTO lg_deals VALUES (1, 'a', 100, 'lead'), (2, 'a', 200, 'lead'), (3, 'b', 50, 'lead');
SELECT funnel.track('lg_deals', 'lg', rule => 'any') IS NOT NULL AS tracked \gset
SELECT funnel.enable_live('lg_deals', '{owner}', 'amount') IS NOT NULL AS live \gset
GRANT SELECT, UPDATE ON lg_deals TO lg_mover;
RESET ROLE;

-- a first move: the trigger's entry is built and cached
SET ROLE lg_mover;
UPDATE lg_deals SET stage = 'qualified' WHERE id = 1;
RESET ROLE;

-- the owner may no longer insert into its summary table
-- (pgTAP's results roll back with a savepoint: privileges are given back)
SET ROLE lg_own;
REVOKE INSERT ON lg_deals_stage_live FROM lg_own;
SET ROLE lg_mover;
SELECT throws_ok($$UPDATE lg_deals SET stage = 'proposal' WHERE id = 1$$, '42501', NULL,
                 'the owner''s INSERT on the summary table revoked: the move is refused as INSERT would be');
SET ROLE lg_own;
GRANT INSERT ON lg_deals_stage_live TO lg_own;

-- the owner may no longer read its history
REVOKE SELECT ON lg_deals_stage_history FROM lg_own;
SET ROLE lg_mover;
SELECT throws_ok($$UPDATE lg_deals SET stage = 'won' WHERE id = 3$$, '42501', NULL,
                 'the owner''s SELECT on the history revoked: the visits are not read past it');
SET ROLE lg_own;
GRANT SELECT ON lg_deals_stage_history TO lg_own;

-- row level security forced on the history, hiding deal 2's visits
ALTER TABLE lg_deals_stage_history ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY lg_hide ON lg_deals_stage_history USING (deal_id <> 2);
SELECT count(*) AS rows_before FROM lg_deals_stage_live \gset
SET ROLE lg_mover;
UPDATE lg_deals SET stage = 'qualified' WHERE id = 2;
SET ROLE lg_own;
SELECT is((SELECT count(*) FROM lg_deals_stage_live), :rows_before::bigint,
          'history under forced row level security: no delta for a deal whose visits the policy hides');
UPDATE lg_deals SET stage = 'qualified' WHERE id = 3;
SELECT cmp_ok((SELECT count(*) FROM lg_deals_stage_live), '>', :rows_before::bigint,
              'a deal the policy shows still gets its deltas');
DROP POLICY lg_hide ON lg_deals_stage_history;
ALTER TABLE lg_deals_stage_history DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
SELECT funnel.live_rebuild('lg_deals') > 0 AS rebuilt \gset
RESET ROLE;

-- the history's index dropped and created again (another OID; tracking
-- itself refuses a history without one)
SET ROLE lg_own;
SELECT indexrelid::regclass::text AS history_index FROM pg_index
 WHERE indrelid = 'lg_deals_stage_history'::regclass AND indkey[0] = 1 AND indkey[1] = 3 \gset
DROP INDEX :history_index;
CREATE INDEX lg_history_again ON lg_deals_stage_history (deal_id, entered_at);
SET ROLE lg_mover;
UPDATE lg_deals SET stage = 'proposal' WHERE id = 1;
RESET ROLE;
SELECT is((SELECT count(*) FROM funnel.live_check('lg_deals')), 0::bigint,
          'a move after the history''s index was created again: summaries equal the history');
SET ROLE lg_own;
ALTER INDEX lg_history_again RENAME TO lg_history_renamed;
SET ROLE lg_mover;
UPDATE lg_deals SET stage = 'won' WHERE id = 1;
UPDATE lg_deals SET amount = 300 WHERE id = 2;
RESET ROLE;
SELECT is((SELECT count(*) FROM funnel.live_check('lg_deals')), 0::bigint,
          'more moves: summaries equal the history');
-- by hand: owner a: deal 1 won after lead, qualified, proposal (100), deal
-- 2 open in qualified after lead (300)
SELECT is((SELECT array_agg(ROW(deals, won, amount)::text ORDER BY "position")
             FROM funnel.live_report('lg_deals', filter => '{"owner": "a"}') WHERE kind = 'open'),
          ARRAY['(2,1,400)', '(2,1,400)', '(1,1,100)'],
          'owner a: deals, won and amount reached per stage');

-- an inheritance child of the history with a visit of deal 3, read by the
-- statement (no ONLY) and so by the trigger
SET ROLE lg_own;
CREATE TABLE lg_history_child () INHERITS (lg_deals_stage_history);
INSERT INTO lg_history_child (deal_id, stage, entered_at, left_at)
VALUES (3, 'lead', '2000-01-01', '2000-01-02');
SELECT count(*) AS rows_before FROM lg_deals_stage_live \gset
SET ROLE lg_mover;
UPDATE lg_deals SET stage = 'proposal' WHERE id = 3;
SET ROLE lg_own;
SELECT is((SELECT count(*) FROM lg_deals_stage_live
            WHERE day = '2000-01-01' AND plus IS NOT NULL AND minus IS NOT NULL), 1::bigint,
          'a visit in an inheritance child of the history is read as the statement read it: the journey starts on its day');
SELECT is((SELECT count(*) FROM lg_deals_stage_live), :rows_before::bigint + 2,
          'two delta rows: the journeys at that day and the duration of the visit closed');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
