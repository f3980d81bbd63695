-- test/pgtap/live_write.sql: the fast write path of the live summaries
-- (src/live/live_write.c, issue 23 item 3), as a NOSUPERUSER table owner
-- and a mover who may only update the deals:
--   - a one-row UPDATE is written by the C trigger, without running the
--     generated trigger function (its call count stays 0); a statement of
--     several rows still runs it, once
--   - moves, an amount change (integer column), a dimension change, a
--     no-op update and a rolled-back move leave summaries equal to the
--     history (live_check) with the values counted by hand below
--   - the deltas are written as the owner: the mover cannot write the
--     summary table itself
--   - a summary table with an index is written through INSERT (its
--     index stays right)
--   - a dropped summary table: 42P01 naming the deals table, not an
--     internal error
--   - a dimension column dropped and added again (a new column number) is
--     read by its new number: the trigger's cache follows ALTER TABLE
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(18);

SET track_functions = 'all';
CREATE ROLE lw_own NOSUPERUSER;
CREATE ROLE lw_mover NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO lw_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
                          funnel.enable_live(regclass, name[], name) TO lw_own;
SELECT funnel.create_pipeline('lw', ARRAY['lead', 'qualified', 'proposal']) IS NULL AS created \gset

SET ROLE lw_own;
CREATE TABLE lw_deals (id int PRIMARY KEY, owner text, amount int,
                       stage funnel.deal_stage(lw) NOT NULL);
INSERT INTO lw_deals VALUES (1, 'a', 100, 'lead'), (2, 'a', 200, 'lead'), (3, 'b', NULL, 'qualified');
SELECT funnel.track('lw_deals', 'lw', rule => 'any') IS NOT NULL AS tracked \gset
SELECT funnel.enable_live('lw_deals', '{owner}', 'amount') IS NOT NULL AS live \gset
GRANT SELECT, UPDATE ON lw_deals TO lw_mover;
RESET ROLE;

SELECT is((SELECT tgfoid::regprocedure::text FROM pg_trigger
            WHERE tgrelid = 'lw_deals'::regclass AND tgname = 'funnel_track_live_update'),
          'funnel_internal.live_update_trigger()',
          'the UPDATE trigger of the live summaries is the C trigger');

-- one-row statements, by the mover
SET ROLE lw_mover;
UPDATE lw_deals SET stage = 'qualified' WHERE id = 1;
UPDATE lw_deals SET stage = 'proposal' WHERE id = 1;
UPDATE lw_deals SET stage = 'lost' WHERE id = 2;
UPDATE lw_deals SET owner = 'a' WHERE id = 3;
UPDATE lw_deals SET amount = 50 WHERE id = 3;
UPDATE lw_deals SET stage = 'won', amount = 150 WHERE id = 1;
UPDATE lw_deals SET owner = owner WHERE id = 2;
SAVEPOINT s;
UPDATE lw_deals SET stage = 'proposal' WHERE id = 3;
ROLLBACK TO SAVEPOINT s;
RESET ROLE;

SELECT is(coalesce(pg_stat_get_xact_function_calls('public.lw_deals_stage_live()'::regprocedure), 0), 0::bigint,
          'one-row updates do not run the generated trigger function');
SELECT is((SELECT count(*) FROM funnel.live_check('lw_deals')), 0::bigint,
          'after one-row moves, amount and owner changes, the summaries equal the history');
-- by hand: owner a has deal 1 (lead, qualified, proposal, won; 150),
-- deal 2 (lost from lead; 200), deal 3 (qualified, open; 50)
SELECT is((SELECT array_agg(deals ORDER BY "position") FROM funnel.live_report('lw_deals', filter => '{"owner": "a"}')
            WHERE kind = 'open'),
          ARRAY[3, 2, 1]::bigint[], 'owner a: 3 deals reached lead, 2 qualified, 1 proposal');
SELECT is((SELECT array_agg(ROW(stage::text, open_here, lost_here)::text ORDER BY "position")
             FROM funnel.live_report('lw_deals', filter => '{"owner": "a"}') WHERE kind = 'open'),
          ARRAY['(lw:lead,0,1)', '(lw:qualified,1,0)', '(lw:proposal,0,0)'],
          'owner a: deal 2 lost at lead, deal 3 open at qualified');
SELECT is(funnel.live_win_rate('lw_deals', filter => '{"owner": "a"}'), 0.5,
          'owner a: one won, one lost');
SELECT is((SELECT amount FROM funnel.live_report('lw_deals', filter => '{"owner": "a"}') WHERE stage = 'lead'),
          400::numeric, 'owner a: the amounts as they are now (150 + 200 + 50)');
SELECT ok(funnel.live_summary('lw_deals', filter => '{"owner": "b"}') IS NULL,
          'owner b: no deal left after deal 3 changed owner');

-- several rows: the generated function, once
SET ROLE lw_mover;
UPDATE lw_deals SET stage = 'proposal' WHERE id IN (2, 3);
RESET ROLE;
SELECT is(pg_stat_get_xact_function_calls('public.lw_deals_stage_live()'::regprocedure), 1::bigint,
          'a two-row update runs the generated trigger function once');
SELECT is((SELECT count(*) FROM funnel.live_check('lw_deals')), 0::bigint,
          'after a two-row update, the summaries equal the history');
SELECT is((SELECT array_agg(deals ORDER BY "position") FROM funnel.live_report('lw_deals', filter => '{"owner": "a"}')
            WHERE kind = 'open'),
          ARRAY[3, 3, 3]::bigint[], 'owner a: all 3 deals reached proposal');

SET ROLE lw_mover;
SELECT throws_ok($$INSERT INTO lw_deals_stage_live (day) VALUES (current_date)$$, '42501', NULL,
                 'the mover cannot write the summaries: the trigger writes them as the owner');
RESET ROLE;

-- an index on the summary table: rows go through the prepared INSERT
SET ROLE lw_own;
CREATE INDEX lw_live_day ON lw_deals_stage_live (day, owner);
UPDATE lw_deals SET stage = 'lead' WHERE id = 2;
SET enable_seqscan = off;
SELECT is((SELECT count(*) FROM lw_deals_stage_live WHERE day IS NOT NULL AND owner = 'a'),
          (SELECT count(*) FROM lw_deals_stage_live WHERE day::text IS NOT NULL AND owner || '' = 'a'),
          'with an index on the summary table, the index finds every row');
RESET enable_seqscan;
DROP INDEX lw_live_day;
RESET ROLE;

-- owner dropped and added again: column number 2 is gone (the event
-- triggers that refuse dropping a dimension, test/pgtap/live_ddl.sql,
-- disabled by a superuser: the C trigger's cache still follows)
ALTER EVENT TRIGGER funnel_live_sql_drop DISABLE;
ALTER EVENT TRIGGER funnel_track_migrate_live DISABLE;
SET ROLE lw_own;
ALTER TABLE lw_deals DROP COLUMN owner;
ALTER TABLE lw_deals ADD COLUMN owner text;
RESET ROLE;
ALTER EVENT TRIGGER funnel_live_sql_drop ENABLE;
ALTER EVENT TRIGGER funnel_track_migrate_live ENABLE;
SET ROLE lw_own;
UPDATE lw_deals SET owner = 'c';
SELECT funnel.live_rebuild('lw_deals') > 0 AS rebuilt \gset
UPDATE lw_deals SET owner = 'z', stage = 'won' WHERE id = 3;
RESET ROLE;
SELECT is((SELECT count(*) FROM funnel.live_check('lw_deals')), 0::bigint,
          'after the dimension column was added again, the summaries equal the history');
SELECT is((SELECT array_agg(won ORDER BY "position") FROM funnel.live_report('lw_deals', filter => '{"owner": "z"}')
            WHERE kind = 'open'),
          ARRAY[1, 1, 1]::bigint[], 'owner z: deal 3, won, read from the new column');

-- the summary table's columns retyped by its owner: the C trigger writes
-- no datum of another type (it leaves the rows to the prepared INSERT)
SET ROLE lw_own;
SAVEPOINT retyped;
ALTER TABLE lw_deals_stage_live ALTER stage TYPE text USING stage::text,
                                ALTER owner TYPE varchar(20);
SELECT lives_ok($$UPDATE lw_deals SET stage = 'won' WHERE id = 1$$,
                'a one-row move after the owner retyped columns of the summary table');
SELECT is((SELECT count(*) FROM (SELECT day::text, stage::text, owner::text, plus::text, minus::text,
                                        plus_runs::text, minus_runs::text FROM lw_deals_stage_live) r),
          (SELECT count(*) FROM lw_deals_stage_live), 'every row of it reads back');
ROLLBACK TO retyped;
RESET ROLE;

-- the summary table dropped behind enable_live()'s back: the sql_drop
-- event trigger drops the rest (test/shell/live_ops.sh); with it disabled
-- by a superuser, the C trigger still refuses cleanly
ALTER EVENT TRIGGER funnel_live_sql_drop DISABLE;
SET ROLE lw_own;
DROP TABLE lw_deals_stage_live;
SELECT throws_ok($$UPDATE lw_deals SET stage = 'lost' WHERE id = 3$$, '42P01',
                 'the live summary table of "lw_deals" does not exist',
                 'a one-row move on a table whose summary table was dropped: 42P01');
RESET ROLE;
ALTER EVENT TRIGGER funnel_live_sql_drop ENABLE;

SELECT * FROM finish();
ROLLBACK;
