-- test/pgtap/plan_reset.sql: which changes of funnel.pipeline_stage reset
-- every cached plan (src/funnel.c).  A change of stage or pipeline names
-- (add_stage(), rename_stage(), create_pipeline()) may change how a bare
-- stage name reads, so every plan is parsed again, in the same transaction
-- too (test/pgtap/bare_names.sql); a change of probabilities, stale_after
-- or retired changes no name and leaves other plans alone.  Seen through a
-- prepared statement whose table name a newer table earlier on the
-- search_path shadows: only a new parse reads the newer table.
BEGIN;
SELECT plan(7);
SET client_min_messages = warning;
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal']);
CREATE SCHEMA pr1;
CREATE SCHEMA pr2;
CREATE TABLE public.pr_t (src text);
INSERT INTO public.pr_t VALUES ('public');
SET search_path = pr1, public;
PREPARE pr_q AS SELECT src FROM pr_t;
SELECT is((SELECT src FROM pr_t), 'public', 'the plan reads public.pr_t');
EXECUTE pr_q;
-- a table that shadows it: no plan is reset by its creation
CREATE TABLE pr1.pr_t (src text);
INSERT INTO pr1.pr_t VALUES ('pr1');

CREATE FUNCTION pr_read() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE 'EXECUTE pr_q' INTO r;
    RETURN r;
END $$;

SELECT is(pr_read(), 'public', 'creating a shadowing table resets no plan');
SELECT funnel.set_probability('b2b', 'lead', 0.3);
SELECT is(pr_read(), 'public', 'set_probability() resets no plan');
SELECT funnel.set_stale_after('b2b', 'lead', interval '30 days');
SELECT is(pr_read(), 'public', 'set_stale_after() resets no plan');
SELECT funnel.retire_stage('b2b', 'qualified');
SELECT is(pr_read(), 'public', 'retire_stage() resets no plan');
SELECT funnel.rename_stage('b2b', 'proposal', 'offer');
SELECT is(pr_read(), 'pr1', 'rename_stage() parses every plan again, in the same transaction');

-- again, shadowed once more
SET search_path = pr2, pr1, public;
DEALLOCATE pr_q;
PREPARE pr_q AS SELECT src FROM pr_t;
EXECUTE pr_q;
CREATE TABLE pr2.pr_t (src text);
INSERT INTO pr2.pr_t VALUES ('pr2');
SELECT funnel.add_stage('b2b', 'negotiation');
SELECT is(pr_read(), 'pr2', 'add_stage() parses every plan again');

SELECT * FROM finish();
ROLLBACK;
