-- test/pgtap/live_ddl.sql: live summaries through ALTER TABLE of their
-- deals table, history and summary table (funnel_internal.live_ddl_end(),
-- sql/install/live/live_ops.sql), as a NOSUPERUSER table owner:
--   - dimensions of the types CRM tables use: varchar(n), an enum, a
--     domain over varchar (enable_live() refused all three before)
--   - a dimension widened (varchar(10) -> varchar(30)): the summary table's
--     column follows, long values are written by one-row and bulk moves
--   - a dimension, the amount, the stage and key columns, the history, the
--     summary table and the deals table renamed: writes go on, the summaries
--     stay equal to the history and readers filter by the new name
--   - refused with the steps in the HINT, the ALTER rolled back: a dropped
--     dimension or amount column (also when added again in the statement), a dimension renamed to a column of the
--     summary table, an amount made text, a summary table column renamed
--   - a dimension renamed with the event trigger disabled: 42703, not XX000
-- Each check of the summaries compares them with the history (live_check)
-- and with counts read off the moves below.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(25);

CREATE ROLE ld_own NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO ld_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
                          funnel.enable_live(regclass, name[], name) TO ld_own;
SELECT funnel.create_pipeline('ld', ARRAY['lead', 'qualified', 'proposal']) IS NULL AS created \gset

SET ROLE ld_own;
CREATE TYPE ld_region AS ENUM ('emea', 'amer');
CREATE DOMAIN ld_team AS varchar(20);
CREATE TABLE ld_deals (id int PRIMARY KEY, owner varchar(10), region ld_region, team ld_team,
                       amount int, stage funnel.deal_stage(ld) NOT NULL);
INSERT INTO ld_deals VALUES (1, 'ann', 'emea', 't1', 100, 'lead'), (2, 'bob', 'amer', 't2', 200, 'lead'),
                            (3, 'cy', NULL, NULL, NULL, 'qualified');
SELECT funnel.track('ld_deals', 'ld', rule => 'any') IS NOT NULL AS tracked \gset
RESET ROLE;

SET ROLE ld_own;
SELECT lives_ok($$SELECT funnel.enable_live('ld_deals', '{owner,region,team}', 'amount')$$,
                'varchar(10), enum and domain columns can be dimensions');
UPDATE ld_deals SET stage = 'qualified' WHERE id = 1;
SELECT is((SELECT array_agg(deals ORDER BY "position") FROM funnel.live_report('ld_deals', filter => '{"region": "emea"}')
            WHERE kind = 'open'),
          ARRAY[1, 1, 0]::bigint[], 'filtered by the enum dimension: deal 1 reached qualified');

-- widened
ALTER TABLE ld_deals ALTER owner TYPE varchar(30);
SELECT is((SELECT format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = 'ld_deals_stage_live'::regclass AND attname = 'owner'),
          'character varying(30)', 'the summary table''s dimension column follows its new type');
UPDATE ld_deals SET owner = 'a-name-of-twenty-two' WHERE id = 1;
UPDATE ld_deals SET owner = 'another-name-of-22-ch' WHERE id IN (2, 3);
SELECT is((SELECT count(*) FROM funnel.live_check('ld_deals')), 0::bigint,
          'after long owners by one-row and bulk updates, the summaries equal the history');
SELECT is((SELECT deals FROM funnel.live_report('ld_deals', filter => '{"owner": "another-name-of-22-ch"}')
            WHERE stage = 'lead'), 2::bigint, 'two deals of the long owner name');

-- renamed: a dimension, then the amount, stage and key columns, then the tables
ALTER TABLE ld_deals RENAME owner TO rep;
SELECT is((SELECT dimensions FROM funnel.live_table WHERE deals = 'ld_deals'::regclass),
          '{rep,region,team}'::name[], 'the renamed dimension is followed in funnel.live_table');
SELECT has_column('ld_deals_stage_live', 'rep', 'and in the summary table');
UPDATE ld_deals SET stage = 'proposal' WHERE id = 1;
UPDATE ld_deals SET stage = 'proposal' WHERE id IN (2, 3);
INSERT INTO ld_deals VALUES (4, 'dee', 'emea', 't1', 1, 'lead');
SELECT is((SELECT count(*) FROM funnel.live_check('ld_deals')), 0::bigint,
          'after the rename, moves, a bulk move and an insert: the summaries equal the history');
SELECT is((SELECT deals FROM funnel.live_report('ld_deals', filter => '{"rep": "dee"}') WHERE stage = 'lead'),
          1::bigint, 'readers filter by the new name');

ALTER TABLE ld_deals RENAME amount TO value;
ALTER TABLE ld_deals RENAME stage TO st;
ALTER TABLE ld_deals RENAME id TO deal;
ALTER TABLE ld_deals_stage_history RENAME TO ld_hist;
ALTER TABLE ld_deals_stage_live RENAME TO ld_live;
ALTER TABLE ld_deals RENAME TO ld_opps;
SELECT is((SELECT amount_column FROM funnel.live_table WHERE deals = 'ld_opps'::regclass),
          'value'::name, 'the renamed amount column is followed');
SELECT lives_ok($$UPDATE ld_opps SET value = 5, st = 'lead' WHERE deal = 1$$,
                'a one-row move after renaming every column and table funnel names');
SELECT lives_ok($$UPDATE ld_opps SET value = 6, st = 'lost' WHERE deal IN (2, 3)$$,
                'a bulk move after the renames (the generated trigger function)');
DELETE FROM ld_opps WHERE deal = 4;
SELECT is((SELECT count(*) FROM funnel.live_check('ld_opps')), 0::bigint,
          'after the renames, the summaries equal the history');
SELECT is((SELECT amount FROM funnel.live_report('ld_opps') WHERE stage = 'lead'),
          17::numeric, 'amounts read from the renamed column: 5 + 6 + 6');

-- refused, each rolled back with its HINT
SELECT throws_ok($$ALTER TABLE ld_opps DROP rep$$, '2BP01',
                 'column "rep" of table public.ld_opps is a dimension of its live summaries',
                 'a dimension cannot be dropped');
SELECT throws_ok($$ALTER TABLE ld_opps RENAME rep TO day$$, '42701',
                 'dimension "rep" cannot be renamed to "day"',
                 'a dimension cannot take the name of a column of the summary table');
SELECT throws_ok($$ALTER TABLE ld_opps ALTER value TYPE text$$, '42804',
                 'amount column "value" of table public.ld_opps must stay a number',
                 'the amount column must stay a number');
SELECT throws_ok($$ALTER TABLE ld_opps DROP value$$, '2BP01',
                 'column "value" of table public.ld_opps is the amount of its live summaries',
                 'the amount column cannot be dropped');
SELECT throws_ok($$ALTER TABLE ld_live RENAME plus TO p$$, '2BP01',
                 'live summary table public.ld_live has no column "plus"',
                 'the summary table keeps the columns its trigger function writes');
SELECT throws_ok($$ALTER TABLE ld_live RENAME rep TO r$$, '2BP01',
                 'live summary table public.ld_live has no column "rep"',
                 'and its dimension columns');
SELECT throws_ok($$ALTER TABLE ld_opps DROP rep, ADD rep text$$, '2BP01',
                 'column "rep" of table public.ld_opps is a dimension of its live summaries',
                 'a dimension dropped and added again in one statement is refused too (its values are gone)');
SELECT has_column('ld_opps', 'rep', 'the refused DROPs left the dimension column');

-- the enum dimension retyped to text: its summary table column follows
ALTER TABLE ld_opps ALTER region TYPE text;
UPDATE ld_opps SET region = 'apac' WHERE deal = 1;
SELECT is((SELECT count(*) FROM funnel.live_check('ld_opps')), 0::bigint,
          'after the enum dimension became text, the summaries equal the history');
SELECT is((SELECT deals FROM funnel.live_report('ld_opps', filter => '{"region": "apac"}') WHERE stage = 'lead'),
          1::bigint, 'deal 1 counted under its new region');
RESET ROLE;

-- the event trigger bypassed by a superuser, a dimension renamed: the C
-- trigger says which, with SQLSTATE 42703, not an internal error
ALTER EVENT TRIGGER funnel_track_migrate_live DISABLE;
SET ROLE ld_own;
ALTER TABLE ld_opps RENAME region TO area;
SELECT throws_ok($$UPDATE ld_opps SET st = 'qualified' WHERE deal = 1$$, '42703',
                 'a dimension column of the live summaries of "ld_opps" does not exist',
                 'a dimension renamed behind the event trigger''s back: 42703 naming the table');
RESET ROLE;
ALTER EVENT TRIGGER funnel_track_migrate_live ENABLE;

SELECT * FROM finish();
ROLLBACK;
