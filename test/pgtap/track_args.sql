-- test/pgtap/track_args.sql: the arguments of the triggers funnel.track()
-- creates on a Citus distributed table ('citus' then name=value pairs named
-- like the columns of funnel.tracked_table, in any order), read as a
-- NOSUPERUSER table owner on a server without Citus: each malformed list is
-- refused with 39P01 and a detail naming the offending argument, a
-- well-formed one reaches the Citus check (55000)
BEGIN;
SELECT plan(8);
SET client_min_messages = warning;
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal']);
CREATE ROLE ta_own NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO ta_own;
SET ROLE ta_own;
CREATE TABLE ta (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL, changed timestamptz);

-- SQLSTATE, message and detail of the error a DELETE raises with these arguments
CREATE FUNCTION ta_error(args text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    msg text;
    detail text;
BEGIN
    DROP TRIGGER IF EXISTS funnel_track_delete ON ta;
    EXECUTE format('CREATE TRIGGER funnel_track_delete AFTER DELETE ON ta FOR EACH ROW EXECUTE FUNCTION funnel_internal.track_delete(%s)', args);
    INSERT INTO ta VALUES (1, 'lead');
    DELETE FROM ta;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ' ' || msg || ' | ' || coalesce(detail, '');
END $$;

SELECT is(ta_error($$'citus', 'public.ta', 'public.ta_h', 'b2b', 'stage', '', 'any', 'id'$$),
          '39P01 funnel trigger "funnel_track_delete" of table "ta" has unexpected arguments | Argument "public.ta" is not a setting=value pair funnel knows.',
          'the positional arguments of 0.1 are refused');
SELECT is(ta_error($$'citus', 'deals=public.ta', 'history=public.ta_h', 'pipeline=b2b', 'stage_column=stage', 'rule=any'$$),
          '39P01 funnel trigger "funnel_track_delete" of table "ta" has unexpected arguments | Setting "key_column" is missing.',
          'a missing setting is named');
SELECT is(ta_error($$'citus', 'deals=public.ta', 'history=public.ta_h', 'pipeline=b2b', 'stage_column=stage', 'rule=any', 'rule=forward', 'key_column=id'$$),
          '39P01 funnel trigger "funnel_track_delete" of table "ta" has unexpected arguments | Setting "rule" is given twice.',
          'a setting given twice is named');
SELECT is(ta_error($$'citus', 'deals=public.ta', 'history=public.ta_h', 'pipeline=b2b', 'stage_column=stage', 'rule=sideways', 'key_column=id'$$),
          '39P01 funnel trigger "funnel_track_delete" of table "ta" has unexpected arguments | Rule "sideways" is none of forward, sequential, any.',
          'an unknown rule is named');
SELECT is(ta_error($$'citus', 'deals=public.ta', 'history=public.ta_h', 'pipeline=b2b', 'stage_column=stage', 'rule=any', 'key_column=id', 'owner=me'$$),
          '39P01 funnel trigger "funnel_track_delete" of table "ta" has unexpected arguments | Argument "owner=me" is not a setting=value pair funnel knows.',
          'an unknown setting is named');
SELECT is(ta_error($$'local', 'deals=public.ta'$$),
          '39P01 funnel trigger "funnel_track_delete" of table "ta" has unexpected arguments | The first argument is not "citus".',
          'the first argument must be citus');
SELECT is(ta_error($$'citus', 'key_column=id', 'rule=any', 'stage_column=nosuch', 'pipeline=b2b', 'history=public.ta_h', 'deals=public.ta'$$),
          '42703 column "nosuch" of tracked table "public.ta" does not exist | It is the stage column of the table''s tracking.',
          'the stage column named is looked up in the table');
SELECT is(ta_error($$'citus', 'key_column=id', 'rule=any', 'changed_at_column=changed', 'stage_column=stage', 'pipeline=b2b', 'history=public.ta_h', 'deals=public.ta'$$),
          '55000 funnel trigger of table "ta" names distributed table "public.ta", but Citus is not installed | Triggers with arguments track the shards of a table distributed by Citus.',
          'well-formed arguments in any order reach the Citus check');

RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
