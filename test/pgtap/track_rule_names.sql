-- test/pgtap/track_rule_names.sql: the transition rule names and the
-- pipeline type modifier each have one definition in C, which track(), the
-- CHECK of funnel.tracked_table and the triggers all use (issue 24, item 5).
-- A rule name the triggers do not know is an error, never "forward".  The
-- deals table is owned and written by a NOSUPERUSER role; only the
-- corruption of funnel.tracked_table (which its CHECK refuses) is done as
-- superuser.
BEGIN;
SELECT plan(9);
CREATE EXTENSION funnel;

SELECT funnel.create_pipeline('rn', ARRAY['lead', 'qualified', 'proposal'], ARRAY[0.1, 0.3, 0.6]);
CREATE ROLE funnel_rn_owner NOSUPERUSER;
CREATE SCHEMA rn AUTHORIZATION funnel_rn_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO funnel_rn_owner;
SET ROLE funnel_rn_owner;
CREATE TABLE rn.deals (id int PRIMARY KEY, stage funnel.deal_stage(rn) NOT NULL);

SELECT throws_ok($$SELECT funnel.track('rn.deals', 'rn', rule => 'backwards')$$,
                 '22023', 'invalid transition rule "backwards"',
                 'track() refuses an unknown rule, naming it');
SELECT throws_ok($$SELECT funnel.track('rn.deals', 'rn', rule => NULL)$$,
                 '22023', 'invalid transition rule "<NULL>"',
                 'track() refuses a NULL rule');
SELECT lives_ok($$SELECT funnel.track('rn.deals', 'rn', rule => 'sequential')$$, 'track() takes sequential');
CREATE TABLE rn.seq (id int PRIMARY KEY, stage funnel.deal_stage(rn) NOT NULL);
SELECT funnel.track('rn.seq', 'rn', rule => 'sequential');
INSERT INTO rn.seq VALUES (1, 'lead');
SELECT throws_ok($$UPDATE rn.seq SET stage = 'proposal' WHERE id = 1$$,
                 '23514', 'invalid stage transition from "lead" to "proposal" in pipeline "rn"',
                 'sequential refuses a skip');

-- the type modifier: the one definition, PipelineTypmod in C
SELECT is(funnel_internal.pipeline_typmod('funnel_pipeline.rn'::regtype),
          (SELECT atttypmod FROM pg_attribute WHERE attrelid = 'rn.deals'::regclass AND attname = 'stage'),
          'funnel_internal.pipeline_typmod() is the modifier of a column bound with deal_stage(rn)');

-- the CHECK of tracked_table is the same list
RESET ROLE;
SELECT throws_ok($$UPDATE funnel.tracked_table SET rule = 'backwards' WHERE deals = 'rn.deals'::regclass$$,
                 '22023', 'invalid transition rule "backwards"',
                 'tracked_table refuses an unknown rule through the same check');
-- a row the CHECK did not see (dropped by a superuser): the triggers refuse
-- the unknown rule instead of reading it as forward
ALTER TABLE funnel.tracked_table DROP CONSTRAINT tracked_table_rule_check;
UPDATE funnel.tracked_table SET rule = 'backwards' WHERE deals = 'rn.deals'::regclass;
SET ROLE funnel_rn_owner;
SELECT throws_ok($$INSERT INTO rn.deals VALUES (2, 'proposal')$$,
                 '22023', 'invalid transition rule "backwards"',
                 'the trigger refuses an unknown stored rule, not read as forward');
SELECT is((SELECT count(*) FROM rn.deals), 0::bigint, '... and nothing is written');
SELECT is((SELECT count(*) FROM rn.deals_stage_history), 0::bigint, '... not even in the history');

SELECT * FROM finish();
ROLLBACK;
