-- test/citus/pipeline_owners.sql: pipeline owners on a Citus cluster (issue
-- 19.3).  The owner travels with the pipeline definition in the pipeline
-- log: a tenant's pipeline has the same owner (by name) on every node,
-- alter_pipeline_owner() changes it on every node, a refused change leaves
-- every node alone, and check_pipeline_nodes() reports an owner that
-- differs.  Autocommit, as pipeline_ddl.sql: workers see committed data.
\set ON_ERROR_STOP 1
SET client_min_messages = error;
SELECT plan(13);

-- the same query here and on every worker: NULL when all agree, else what differs
CREATE FUNCTION pg_temp.differs(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    here text;
    diff text;
BEGIN
    EXECUTE q INTO here;
    SELECT string_agg(format('%s:%s %s', w.nodename, w.nodeport,
                             CASE WHEN w.success THEN coalesce(w.result, '(null)') ELSE 'error: ' || w.result END),
                      '; ')
      INTO diff
      FROM run_command_on_workers(q) w
     WHERE NOT w.success OR w.result IS DISTINCT FROM coalesce(here, '');
    RETURN CASE WHEN diff IS NOT NULL THEN format('coordinator %s; %s', here, diff) END;
END
$$;

-- roles are created on every node (Citus propagates CREATE ROLE)
CREATE ROLE citus_tenant_a NOSUPERUSER;
CREATE ROLE citus_tenant_b NOSUPERUSER;
GRANT EXECUTE ON FUNCTION funnel.create_pipeline(text, text[], double precision[], text[], text[]),
                          funnel.set_probability(text, text, double precision),
                          funnel.drop_pipeline(text),
                          funnel.alter_pipeline_owner(text, regrole)
   TO citus_tenant_a, citus_tenant_b;

SET ROLE citus_tenant_a;
SELECT lives_ok($$SELECT funnel.create_pipeline('own_a', ARRAY['lead', 'demo'])$$,
                'a tenant creates a pipeline on the coordinator');
RESET ROLE;
SELECT is((SELECT owner::text FROM funnel.pipeline WHERE name = 'own_a'), 'citus_tenant_a', 'the tenant owns it');
SELECT is(pg_temp.differs($$SELECT owner FROM funnel.pipeline WHERE name = 'own_a'$$), NULL,
          'every node has the same owner');

SET ROLE citus_tenant_b;
SELECT throws_ok($$SELECT funnel.set_probability('own_a', 'lead', 0.5)$$, '42501',
                 'permission denied for pipeline "own_a" owned by role citus_tenant_a',
                 'the other tenant cannot change it');
SELECT throws_ok($$SELECT funnel.drop_pipeline('own_a')$$, '42501', NULL, 'nor drop it');
RESET ROLE;
SELECT is(pg_temp.differs($$SELECT string_agg(stage || '=' || probability, ',' ORDER BY stage) FROM funnel.pipeline_stage WHERE pipeline = 'own_a'$$),
          NULL, 'the refused changes left every node alike');
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_workers($$SELECT count(*) FROM funnel.pipeline WHERE name = 'own_a'$$)),
          '1,1', 'and the pipeline is still on both workers');

SET ROLE citus_tenant_a;
SELECT lives_ok($$SELECT funnel.set_probability('own_a', 'lead', 0.125)$$, 'the owner changes it');
RESET ROLE;
SELECT is(pg_temp.differs($$SELECT probability FROM funnel.pipeline_stage WHERE pipeline = 'own_a' AND stage = 'lead'$$),
          NULL, 'on every node');

SELECT lives_ok($$SELECT funnel.alter_pipeline_owner('own_a', 'citus_tenant_b')$$, 'a superuser gives it to the other tenant');
SELECT is(pg_temp.differs($$SELECT owner FROM funnel.pipeline WHERE name = 'own_a'$$), NULL,
          'the new owner is on every node');
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_workers($$SELECT owner FROM funnel.pipeline WHERE name = 'own_a'$$)),
          'citus_tenant_b,citus_tenant_b', 'the workers have the new owner');

-- an owner changed by hand on a worker is a difference
DO $do$ BEGIN PERFORM run_command_on_workers($$UPDATE funnel.pipeline SET owner = 'citus_tenant_a' WHERE name = 'own_a'$$); END $do$;
SELECT is((SELECT string_agg(difference, ',') FROM funnel.check_pipeline_nodes() WHERE pipeline = 'own_a'),
          'owner: citus_tenant_b on the coordinator, citus_tenant_a on the node,owner: citus_tenant_b on the coordinator, citus_tenant_a on the node',
          'check_pipeline_nodes() reports an owner that differs');
DO $do$ BEGIN PERFORM run_command_on_workers($$UPDATE funnel.pipeline SET owner = 'citus_tenant_b' WHERE name = 'own_a'$$); END $do$;

SELECT funnel.drop_pipeline('own_a');
REVOKE EXECUTE ON FUNCTION funnel.create_pipeline(text, text[], double precision[], text[], text[]),
                          funnel.set_probability(text, text, double precision),
                          funnel.drop_pipeline(text),
                          funnel.alter_pipeline_owner(text, regrole)
   FROM citus_tenant_a, citus_tenant_b;
DROP ROLE citus_tenant_a;
DROP ROLE citus_tenant_b;
SELECT * FROM finish();
