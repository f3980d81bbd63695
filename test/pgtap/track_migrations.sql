-- test/pgtap/track_migrations.sql: schema migrations of a tracked table, each
-- run as its NOSUPERUSER owner (issue 20 item 4); after each, a move still
-- writes history and check_history() is empty, or the migration was refused
-- (nothing kept) with the HINT asserted:
--   - renaming a column funnel names (a required field, the stage column)
--     is followed; dropping a required field, or renaming one that another
--     table tracked in the pipeline keeps, is refused
--   - the key's type (bigint -> uuid) or column: refused; the steps of the
--     HINT (untrack, change both tables, track) keep the history
--   - funnel.set_rule() changes the rule in place, owner only
--   - funnel.track() re-attaches the history after untrack(), recording
--     the moves, inserts and deletes made meanwhile
--   - the history gets the SELECT grants of the deals; the app role's
--     minimal grants, measured
BEGIN;
SELECT plan(52);
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('mig', ARRAY['lead','qualified','proposal']);
SELECT funnel.create_pipeline('mig2', ARRAY['lead','qualified','proposal']);

CREATE ROLE mig_own NOSUPERUSER;
CREATE ROLE mig_other NOSUPERUSER;
CREATE ROLE mig_app NOSUPERUSER;
CREATE ROLE mig_reader NOSUPERUSER;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO mig_own', current_database()); END $$;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass),
                          funnel.set_rule(regclass, text)
   TO mig_own, mig_other;

-- SQLSTATE and HINT of a statement that fails, run in a subtransaction
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    h text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, h = PG_EXCEPTION_HINT;
    RETURN st || ': ' || h;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

SET ROLE mig_own;
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, ext uuid NOT NULL, amount numeric,
                        stage funnel.deal_stage(mig) NOT NULL);
INSERT INTO crm.deals SELECT g, md5(g::text)::uuid, 100 * g, 'mig:lead' FROM generate_series(1, 6) g;
SELECT funnel.track('crm.deals', 'mig');
RESET ROLE;
SELECT funnel.require_fields('mig', 'proposal', ARRAY['amount']);

-- 1. renaming a required field ----------------------------------------------
SET ROLE mig_own;
SELECT lives_ok($$ALTER TABLE crm.deals RENAME amount TO amount_eur$$,
                'the owner renames a required field of its tracked table');
SELECT is((SELECT fields::text FROM funnel.required_field WHERE pipeline = 'mig' AND stage = 'proposal'),
          '{amount_eur}', 'the required field follows the renamed column');
SELECT lives_ok($$UPDATE crm.deals SET stage = 'mig:proposal' WHERE id = 1$$,
                'after the rename, a move into the stage that requires it works');
SELECT throws_ok($$UPDATE crm.deals SET stage = 'mig:proposal', amount_eur = NULL WHERE id = 2$$,
                 '23514', NULL, 'the requirement holds under the new name');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE deal_id = 1), 2,
          'the move after the rename wrote its visit');
SELECT lives_ok($$ALTER TABLE crm.deals RENAME stage TO phase$$, 'the owner renames the stage column');
SELECT is((SELECT stage_column::text FROM funnel.tracked_table WHERE deals = 'crm.deals'::regclass), 'phase',
          'the tracked stage column follows the rename');
SELECT lives_ok($$UPDATE crm.deals SET phase = 'mig:qualified' WHERE id = 3$$,
                'after renaming the stage column, a move works');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE deal_id = 3), 2,
          'the move after renaming the stage column wrote its visit');
SELECT is_empty($$SELECT * FROM funnel.check_history('crm.deals')$$, 'check_history is empty after the renames');
SELECT alike(pg_temp.err($$ALTER TABLE crm.deals DROP COLUMN amount_eur$$),
            '2BP01: Remove it from the required fields first with funnel.require_fields(''mig'', ''proposal'', ARRAY[...]).',
            'dropping a required field is refused, with the HINT to un-require it');
SELECT has_column('crm', 'deals', 'amount_eur', 'the refused DROP COLUMN kept the column');

-- a required field that another table tracked in the pipeline also has
CREATE TABLE crm.leads (id bigint PRIMARY KEY, amount_eur numeric, stage funnel.deal_stage(mig) NOT NULL);
SELECT funnel.track('crm.leads', 'mig');
SELECT alike(pg_temp.err($$ALTER TABLE crm.deals RENAME amount_eur TO value$$),
            '0A000: In one transaction: remove "amount_eur" from the required fields with funnel.require_fields(''mig'', ''proposal'', ARRAY[...]), rename the column in every table tracked in the pipeline, and require "value" again.',
            'renaming a required field another tracked table keeps is refused, with the steps in the HINT');
SELECT has_column('crm', 'deals', 'amount_eur', 'the refused rename kept the name');
SELECT funnel.untrack('crm.leads');

-- 2. the key: type and column -----------------------------------------------
SELECT alike(pg_temp.err($$ALTER TABLE crm.deals ALTER id TYPE uuid USING ext$$),
            '0A000: In one transaction: SELECT funnel.untrack(''crm.deals''); change the key of crm.deals; change deal_id of crm.deals_stage_history to match%',
            'changing the key''s type is refused, with the steps in the HINT');
SELECT alike(pg_temp.err($$ALTER TABLE crm.deals DROP CONSTRAINT deals_pkey, ADD PRIMARY KEY (ext)$$),
            '0A000: In one transaction: SELECT funnel.untrack(''crm.deals'');%',
            'moving the primary key to another column is refused, with the steps in the HINT');
SELECT is((SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'crm.deals'::regclass AND attname = 'id'),
          'bigint', 'the refused ALTER kept the key');
SELECT lives_ok($$UPDATE crm.deals SET phase = 'mig:qualified' WHERE id = 4$$, 'after the refused key changes, a move works');

-- the steps of the HINT: bigint -> uuid, the history kept
CREATE TEMP TABLE visits_before AS
SELECT d.ext, h.stage, h.entered_at, h.left_at FROM crm.deals_stage_history h JOIN crm.deals d ON d.id = h.deal_id;
SELECT lives_ok($t$DO $do$ BEGIN
    PERFORM funnel.untrack('crm.deals');
    ALTER TABLE crm.deals_stage_history ADD COLUMN new_id uuid;
    UPDATE crm.deals_stage_history h SET new_id = d.ext FROM crm.deals d WHERE d.id = h.deal_id;
    ALTER TABLE crm.deals_stage_history ALTER deal_id TYPE uuid USING new_id;
    ALTER TABLE crm.deals_stage_history DROP COLUMN new_id;
    ALTER TABLE crm.deals ALTER id TYPE uuid USING ext;
    PERFORM funnel.track('crm.deals', 'mig', stage_column => 'phase');
END $do$$t$, 'the steps of the HINT change the key to uuid and track() re-attaches the history');
SELECT set_eq($$SELECT deal_id, stage, entered_at, left_at FROM crm.deals_stage_history$$,
              $$SELECT * FROM visits_before$$, 'the history is kept, under the new keys');
SELECT lives_ok($$UPDATE crm.deals SET phase = 'mig:proposal' WHERE id = md5('5')::uuid$$,
                'a move after the key change works');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE deal_id = md5('5')::uuid), 2,
          'the move after the key change wrote its visit');
SELECT is_empty($$SELECT * FROM funnel.check_history('crm.deals')$$, 'check_history is empty after the key change');

-- 3. set_rule ---------------------------------------------------------------
SELECT throws_ok($$UPDATE crm.deals SET phase = 'mig:lead' WHERE id = md5('5')::uuid$$, '23514', NULL,
                 'forward: moving back is refused');
SELECT is(funnel.set_rule('crm.deals', 'any'), 'forward', 'set_rule returns the previous rule');
SELECT lives_ok($$UPDATE crm.deals SET phase = 'mig:lead' WHERE id = md5('5')::uuid$$,
                'after set_rule any, moving back works in the same session');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE deal_id = md5('5')::uuid), 3,
          'the move under the new rule wrote its visit');
SELECT is_empty($$SELECT * FROM funnel.check_history('crm.deals')$$, 'check_history is empty after set_rule');
SELECT throws_ok($$SELECT funnel.set_rule('crm.deals', 'backwards')$$, '22023', NULL,
                 'set_rule refuses an unknown rule');
SELECT alike(pg_temp.err($$SELECT funnel.set_rule('crm.visits', 'any')$$), '42P01%',
            'set_rule of a missing table: 42P01');
CREATE TABLE crm.plain (id int PRIMARY KEY);
SELECT alike(pg_temp.err($$SELECT funnel.set_rule('crm.plain', 'any')$$),
            '42704: Track it with funnel.track(''crm.plain'', pipeline => ''...'', rule => ''any'').',
            'set_rule of a table that is not tracked: 42704 with the HINT to track it');
SELECT funnel.set_rule('crm.deals', 'sequential');
RESET ROLE;
GRANT USAGE ON SCHEMA crm TO mig_other;
SET ROLE mig_other;
SELECT throws_ok($$SELECT funnel.set_rule('crm.deals', 'any')$$, '42501', 'must be owner of table deals',
                 'set_rule: a role granted EXECUTE cannot change the rule of a table it does not own');
SET ROLE mig_own;
SELECT is((SELECT rule FROM funnel.tracked_table WHERE deals = 'crm.deals'::regclass), 'sequential',
          'the rule is the owner''s');

-- 4. re-attach after untrack ------------------------------------------------
SELECT funnel.untrack('crm.deals');
UPDATE crm.deals SET phase = 'mig:qualified' WHERE id = md5('6')::uuid;     -- moved while untracked
DELETE FROM crm.deals WHERE id = md5('2')::uuid;                           -- deleted while untracked
INSERT INTO crm.deals VALUES (md5('7')::uuid, md5('7')::uuid, 1, 'mig:qualified');  -- new
SELECT lives_ok($$SELECT funnel.track('crm.deals', 'mig', stage_column => 'phase', rule => 'sequential')$$,
                'track() re-attaches the history kept by untrack()');
SELECT is((SELECT array_agg(stage::text ORDER BY entered_at, left_at NULLS LAST) FROM crm.deals_stage_history WHERE deal_id = md5('6')::uuid),
          '{mig:lead,mig:qualified}', 'the move made while untracked is recorded');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE deal_id = md5('2')::uuid AND left_at IS NULL), 0,
          'the open visit of the deal deleted while untracked is closed');
SELECT is((SELECT stage::text FROM crm.deals_stage_history WHERE deal_id = md5('7')::uuid AND left_at IS NULL), 'mig:qualified',
          'the deal inserted while untracked has its open visit');
SELECT is_empty($$SELECT * FROM funnel.check_history('crm.deals')$$, 'check_history is empty after the re-attach');
SELECT lives_ok($$UPDATE crm.deals SET phase = 'mig:proposal' WHERE id = md5('7')::uuid$$, 'a move after the re-attach works');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE deal_id = md5('7')::uuid), 2,
          'the move after the re-attach wrote its visit');
SELECT lives_ok($$ALTER TABLE crm.deals RENAME id TO deal_key$$, 'the owner renames the key column');
SELECT lives_ok($$UPDATE crm.deals SET phase = 'mig:lost' WHERE deal_key = md5('1')::uuid$$,
                'after renaming the key column, a move works');
SELECT is((SELECT key_column::text FROM funnel.tracked_table WHERE deals = 'crm.deals'::regclass)
          || ' ' || (SELECT count(*) FROM crm.deals_stage_history WHERE deal_id = md5('1')::uuid),
          'deal_key 3', 'the tracked key column follows the rename and the move wrote its visit');
SELECT is_empty($$SELECT * FROM funnel.check_history('crm.deals')$$, 'check_history is empty after renaming the key');
-- a history of another owner is not re-attached
CREATE TABLE crm.others (id bigint PRIMARY KEY, stage funnel.deal_stage(mig2) NOT NULL);
RESET ROLE;
CREATE TABLE crm.others_stage_history (deal_id bigint NOT NULL, stage funnel.deal_stage(mig2) NOT NULL,
    entered_at timestamptz NOT NULL DEFAULT now(), left_at timestamptz, entered_by name NOT NULL DEFAULT current_user);
ALTER TABLE crm.others_stage_history OWNER TO mig_other;
SET ROLE mig_own;
SELECT throws_ok($$SELECT funnel.track('crm.others', 'mig2')$$, '42501', NULL,
                 'track() does not re-attach a history of another owner');
SELECT is((SELECT count(*)::int FROM funnel.tracked_table WHERE deals = 'crm.others'::regclass), 0,
          'the refused re-attach tracked nothing');
-- a history with two open visits of a deal is not re-attached
CREATE TABLE crm.twice (id bigint PRIMARY KEY, stage funnel.deal_stage(mig2) NOT NULL);
INSERT INTO crm.twice VALUES (1, 'mig2:lead');
SELECT funnel.track('crm.twice', 'mig2');
SELECT funnel.untrack('crm.twice');
INSERT INTO crm.twice_stage_history (deal_id, stage, entered_at) VALUES (1, 'mig2:lead', now());
SELECT alike(pg_temp.err($$SELECT funnel.track('crm.twice', 'mig2')$$),
             '55000: Set left_at of all but the last open visit of each deal in crm.twice_stage_history, then call funnel.track() again.',
             'track() does not re-attach a history with two open visits of a deal, and says how to repair it');
SELECT is((SELECT count(*)::int FROM funnel.tracked_table WHERE deals = 'crm.twice'::regclass), 0,
          'the refused re-attach tracked nothing');

-- 5. grants ------------------------------------------------------------------
CREATE TABLE crm.accounts (id bigint PRIMARY KEY, amount numeric, stage funnel.deal_stage(mig2) NOT NULL);
GRANT USAGE ON SCHEMA crm TO mig_app, mig_reader;
GRANT SELECT, INSERT, UPDATE ON crm.accounts TO mig_app;
GRANT SELECT ON crm.accounts TO mig_reader WITH GRANT OPTION;
SELECT funnel.track('crm.accounts', 'mig2');
SELECT ok(has_table_privilege('mig_app', 'crm.accounts_stage_history', 'SELECT')
          AND has_table_privilege('mig_reader', 'crm.accounts_stage_history', 'SELECT WITH GRANT OPTION')
          AND NOT has_table_privilege('mig_app', 'crm.accounts_stage_history', 'INSERT'),
          'track() grants SELECT on the history to the roles that may SELECT the deals, nothing else');
-- the app's statements as the app role: USAGE on crm, SELECT/INSERT/UPDATE on
-- the deals, SELECT on the history (copied), nothing granted on funnel
SET ROLE mig_app;
SELECT lives_ok($t$DO $do$ BEGIN
    INSERT INTO crm.accounts VALUES (1, 10, 'mig2:lead');
    UPDATE crm.accounts SET stage = 'mig2:qualified' WHERE id = 1;
    PERFORM * FROM funnel.next_stages('crm.accounts', 1::bigint);
END $do$$t$, 'the app inserts, moves and asks with USAGE on the schema and SELECT, INSERT, UPDATE on the deals');
SELECT is((SELECT array_agg(stage::text ORDER BY entered_at, left_at NULLS LAST) FROM crm.accounts_stage_history WHERE deal_id = 1),
          '{mig2:lead,mig2:qualified}', 'the app reads the history with the copied SELECT');
SET ROLE mig_own;
REVOKE SELECT ON crm.accounts FROM mig_app;
SET ROLE mig_app;
SELECT throws_ok($$UPDATE crm.accounts SET stage = 'mig2:proposal' WHERE id = 1$$, '42501', NULL,
                 'without SELECT on the deals, the app''s UPDATE ... WHERE is refused (the grant is needed)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
