-- test/citus/smoke.sql: the cluster is up and funnel is on every node
BEGIN;
SELECT plan(2);
SELECT is((SELECT count(*)::int FROM pg_dist_node WHERE noderole = 'primary'), 3, 'coordinator and 2 workers');
SELECT is((SELECT count(*)::int FROM run_command_on_workers($$SELECT extversion FROM pg_extension WHERE extname = 'funnel'$$) WHERE success AND result <> ''), 2, 'funnel on both workers');
SELECT * FROM finish();
ROLLBACK;
