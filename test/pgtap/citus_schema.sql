-- test/pgtap/citus_schema.sql: the objects funnel's SECURITY DEFINER code
-- writes on a Citus cluster, checked without Citus (issue 17, items 3 and 6;
-- doc/security.md, "SECURITY DEFINER write targets")
--   - schema funnel_citus is created by CREATE EXTENSION as an extension
--     member owned by the extension owner: a NOSUPERUSER role with CREATE on
--     the database cannot create it first (CREATE EXTENSION then fails) nor
--     create objects in it afterwards
--   - funnel_internal.citus_group() and the funnel_citus checks are not executable
--     by PUBLIC; without Citus _citus_group() fails with 0A000
--   - funnel_internal.citus_check_table() refuses, with 42501 naming the table, a
--     table that is not as funnel creates it (wrong schema, owner, trigger,
--     rule, row-level security, privileges, columns)
BEGIN;
SET client_min_messages = warning;
SELECT plan(32);

CREATE ROLE cs_attacker NOSUPERUSER;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO cs_attacker', current_database()); END $$;

-- the attack of issue 17.3: the schema made first by another role -----------
SET ROLE cs_attacker;
CREATE SCHEMA funnel_citus;
CREATE TABLE funnel_citus.pipeline_log (id bigint);
RESET ROLE;
SELECT throws_ok($$CREATE EXTENSION funnel$$, '42P06', 'schema "funnel_citus" already exists',
                 'CREATE EXTENSION fails when another role made schema funnel_citus first');
DROP SCHEMA funnel_citus CASCADE;

CREATE EXTENSION funnel;

-- the schema ---------------------------------------------------------------
SELECT has_schema('funnel_citus', 'CREATE EXTENSION creates schema funnel_citus');
SELECT is((SELECT count(*)::int FROM pg_depend d
            WHERE d.classid = 'pg_namespace'::regclass AND d.objid = 'funnel_citus'::regnamespace
              AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
              AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'funnel')),
          1, 'schema funnel_citus is a member of extension funnel');
SELECT is((SELECT nspowner FROM pg_namespace WHERE nspname = 'funnel_citus'),
          (SELECT extowner FROM pg_extension WHERE extname = 'funnel'),
          'schema funnel_citus is owned by the extension owner');
SELECT is(has_schema_privilege('cs_attacker', 'funnel_citus', 'CREATE'), false,
          'a NOSUPERUSER role has no CREATE on schema funnel_citus');
SELECT is(has_schema_privilege('cs_attacker', 'funnel_citus', 'USAGE'), true,
          'PUBLIC has USAGE on schema funnel_citus (to read the log)');
SELECT is(to_regclass('funnel_citus.pipeline_log'), NULL, 'no pipeline log without Citus');
SET ROLE cs_attacker;
SELECT throws_ok($$CREATE TABLE funnel_citus.pipeline_log (id bigint)$$, '42501', NULL,
                 'NOSUPERUSER: cannot create the pipeline log first');
SELECT throws_ok($$CREATE TABLE funnel_citus.pipeline_log_applied (applied bigint)$$, '42501', NULL,
                 'NOSUPERUSER: cannot create pipeline_log_applied first');
SELECT throws_ok($$CREATE FUNCTION funnel_citus.f() RETURNS int LANGUAGE sql AS 'SELECT 1'$$, '42501', NULL,
                 'NOSUPERUSER: cannot create functions in funnel_citus');
SELECT throws_ok($$ALTER SCHEMA funnel_citus RENAME TO funnel_citus_old$$, '42501', NULL,
                 'NOSUPERUSER: cannot rename funnel_citus away');
SELECT throws_ok($$DROP SCHEMA funnel_citus$$, '42501', NULL, 'NOSUPERUSER: cannot drop funnel_citus');
RESET ROLE;

-- internals not executable by PUBLIC ---------------------------------------
SELECT is(has_function_privilege('cs_attacker', 'funnel_internal.citus_group()', 'EXECUTE'), false,
          'funnel_internal.citus_group() is not executable by PUBLIC');
SELECT is(has_function_privilege('cs_attacker', 'funnel_internal.citus_schema()', 'EXECUTE'), false,
          'funnel_internal.citus_schema() is not executable by PUBLIC');
SELECT is(has_function_privilege('cs_attacker', 'funnel_internal.citus_check_table(oid, text)', 'EXECUTE'), false,
          'funnel_internal.citus_check_table() is not executable by PUBLIC');
SELECT is(has_function_privilege('cs_attacker', 'funnel_internal.citus_table(text, text)', 'EXECUTE'), false,
          'funnel_internal.citus_table() is not executable by PUBLIC');
SET ROLE cs_attacker;
SELECT throws_ok($$SELECT funnel_internal.citus_group()$$, '42501', NULL, 'NOSUPERUSER: _citus_group() refused');
RESET ROLE;
SELECT throws_ok($$SELECT funnel_internal.citus_group()$$, '0A000', 'funnel_internal.citus_group() needs the Citus extension',
                 'without Citus: _citus_group() fails with a clear error');
SELECT is(funnel.sync_pipeline_nodes(), 0, 'without Citus: sync_pipeline_nodes() returns 0');
SELECT lives_ok($$SELECT funnel.create_pipeline('cs_sales', ARRAY['lead', 'won_later'])$$,
                'without Citus: create_pipeline() works and touches no funnel_citus object');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relnamespace = 'funnel_citus'::regnamespace), 0,
          'without Citus: schema funnel_citus stays empty');

-- the checks of a table in funnel_citus, as funnel creates it ---------------
SELECT is((funnel_internal.citus_schema()).nsp, 'funnel_citus'::regnamespace::oid, '_citus_schema(): the extension''s schema');
CREATE TABLE funnel_citus.pipeline_log (
    id bigint PRIMARY KEY, op text NOT NULL, pipeline text, args jsonb, result jsonb,
    logged_at timestamptz NOT NULL, logged_by text NOT NULL, rules jsonb);
REVOKE ALL ON funnel_citus.pipeline_log FROM PUBLIC;
GRANT SELECT ON funnel_citus.pipeline_log TO PUBLIC;
CREATE TRIGGER pipeline_log_apply AFTER INSERT ON funnel_citus.pipeline_log
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.pipeline_log_apply();
SELECT is(funnel_internal.citus_table('pipeline_log', 'log'), 'funnel_citus.pipeline_log'::regclass,
          'a log as funnel creates it passes the checks');
SELECT is(funnel_internal.citus_table('pipeline_log_applied', 'applied'), NULL, 'an absent table: NULL');

CREATE FUNCTION public.cs_trap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
SAVEPOINT s;
CREATE TRIGGER zz_trap AFTER INSERT ON funnel_citus.pipeline_log FOR EACH ROW EXECUTE FUNCTION public.cs_trap();
SELECT throws_ok($$SELECT funnel_internal.citus_table('pipeline_log', 'log')$$, '42501',
                 'table funnel_citus.pipeline_log is not the pipeline log table funnel created',
                 'a trigger funnel did not create: refused, naming the table');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s;
ALTER TABLE funnel_citus.pipeline_log OWNER TO cs_attacker;
SELECT throws_like($$SELECT funnel_internal.citus_table('pipeline_log', 'log')$$,
                   '%not the pipeline log table funnel created%',
                   'a log owned by another role: refused');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s;
GRANT INSERT ON funnel_citus.pipeline_log TO cs_attacker;
SELECT throws_ok($$SELECT funnel_internal.citus_table('pipeline_log', 'log')$$, '42501', NULL,
                 'INSERT granted to another role: refused');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s;
CREATE RULE cs_rule AS ON INSERT TO funnel_citus.pipeline_log DO ALSO NOTIFY cs;
SELECT throws_ok($$SELECT funnel_internal.citus_table('pipeline_log', 'log')$$, '42501', NULL, 'a rule: refused');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s;
ALTER TABLE funnel_citus.pipeline_log ENABLE ROW LEVEL SECURITY;
SELECT throws_ok($$SELECT funnel_internal.citus_table('pipeline_log', 'log')$$, '42501', NULL, 'row-level security: refused');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s;
ALTER TABLE funnel_citus.pipeline_log ADD COLUMN extra int DEFAULT 1;
SELECT throws_ok($$SELECT funnel_internal.citus_table('pipeline_log', 'log')$$, '42501', NULL, 'an extra column with a default: refused');
ROLLBACK TO SAVEPOINT s;
CREATE TABLE public.pipeline_log (LIKE funnel_citus.pipeline_log);
SELECT throws_ok($$SELECT funnel_internal.citus_check_table('public.pipeline_log'::regclass, 'log')$$, '42501',
                 'table public.pipeline_log is not the pipeline log table funnel created',
                 'a table of that name in another schema: refused');
SELECT throws_ok($$SELECT funnel_internal.citus_check_table('funnel_citus.pipeline_log'::regclass, 'applied')$$, '42501', NULL,
                 'the log passed as pipeline_log_applied: refused');

SELECT * FROM finish();
ROLLBACK;
