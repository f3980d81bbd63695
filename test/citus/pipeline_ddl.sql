-- test/citus/pipeline_ddl.sql: every pipeline function run on the coordinator
-- changes every node in the same transaction, or no node (issue 11.1).
-- Runs in autocommit (no enclosing transaction): the workers are read with
-- run_command_on_workers, whose connections see only committed data.  Each
-- probe runs the same query on the coordinator and on both workers and
-- compares the text it returns.
\set ON_ERROR_STOP 1
SET client_min_messages = error;   -- Citus warns that pg_temp functions stay local
SELECT plan(60);

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

-- the allowed moves and required fields of pipeline p, read from the tables
CREATE FUNCTION pg_temp.rules(p text) RETURNS text LANGUAGE sql AS $$
    SELECT format($q$SELECT coalesce((SELECT string_agg(from_stage || '>' || to_stage, ' ' ORDER BY from_stage, to_stage)
                                        FROM funnel.allowed_transition WHERE pipeline = %1$L), '-')
                            || ' / ' ||
                            coalesce((SELECT string_agg(stage || '=' || fields::text, ' ' ORDER BY stage)
                                        FROM funnel.required_field WHERE pipeline = %1$L), '-')$q$, p)
$$;

-- every stage of pipeline p through the accessors, in funnel order
CREATE FUNCTION pg_temp.probe(p text) RETURNS text LANGUAGE sql AS $$
    SELECT format($q$SELECT string_agg(format('%%s|%%s|%%s|%%s|%%s|%%s|%%s', funnel.stage_name(s), funnel.position(s),
                                               funnel.probability(s), funnel.kind(s), funnel.stale_after(s),
                                               r, s::text), ',' ORDER BY funnel.position(s))
                        FROM (SELECT (pipeline || ':' || stage)::funnel.deal_stage AS s, retired AS r
                                FROM funnel.stages WHERE pipeline = %L) x$q$, p)
$$;

-- a query's result on one node
CREATE FUNCTION pg_temp.on_node(port integer, q text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN (r).success THEN (r).result ELSE 'error: ' || (r).result END
      FROM (SELECT master_run_on_worker(ARRAY['127.0.0.1'], ARRAY[port], ARRAY[q], false) AS r) x
$$;
CREATE FUNCTION pg_temp.worker_port(n integer) RETURNS integer LANGUAGE sql AS $$
    SELECT nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid OFFSET n - 1 LIMIT 1
$$;

-- 1. create_pipeline
SELECT lives_ok($$SELECT funnel.create_pipeline('ddl_sales', ARRAY['lead', 'qualified', 'proposal'],
                                                ARRAY[0.1, 0.3, 0.6], lost => ARRAY['lost', 'no budget'])$$,
                'create_pipeline on the coordinator');
SELECT is(pg_temp.differs(pg_temp.probe('ddl_sales')), NULL, 'create_pipeline: every node has the same stages and attributes');
SELECT is((SELECT count(*)::int FROM run_command_on_workers($$SELECT funnel.probability('ddl_sales:qualified')$$)
            WHERE success AND result = '0.3'), 2, 'create_pipeline: both workers answer probability() from the new rows');
SELECT is(pg_temp.differs($$SELECT created_at::text FROM funnel.pipeline WHERE name = 'ddl_sales'$$), NULL,
          'create_pipeline: created_at is the coordinator''s on every node');

-- 2. add_stage (default probability computed on each node: the same)
SELECT lives_ok($$SELECT funnel.add_stage('ddl_sales', 'demo', after => 'qualified')$$, 'add_stage');
SELECT is(pg_temp.differs(pg_temp.probe('ddl_sales')), NULL, 'add_stage: every node has the new stage in the same place');
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_workers($$SELECT funnel.position('ddl_sales:demo')::text || '/' || funnel.probability('ddl_sales:demo')$$)),
          format('3/%1$s,3/%1$s', (0.3::float8 + 0.6::float8) / 2),
          'add_stage: position 3 and probability halfway between 0.3 and 0.6 on both workers');

-- 3. rename_stage
SELECT lives_ok($$SELECT funnel.rename_stage('ddl_sales', 'demo', 'demonstration')$$, 'rename_stage');
SELECT is(pg_temp.differs(pg_temp.probe('ddl_sales')), NULL, 'rename_stage: every node shows the new name');
SELECT is((SELECT count(*)::int FROM run_command_on_workers($$SELECT 'ddl_sales:demo'::funnel.deal_stage$$)
            WHERE NOT success AND result LIKE '%invalid input value for type deal_stage: "ddl_sales:demo"%'), 2,
          'rename_stage: the old name is refused on both workers');

-- 4. set_probability, set_stale_after, retire_stage
SELECT lives_ok($$SELECT funnel.set_probability('ddl_sales', 'lead', 0.123456789012345)$$, 'set_probability');
SELECT is(pg_temp.differs(pg_temp.probe('ddl_sales')), NULL, 'set_probability: the same probability on every node, to the last digit');
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_workers($$SELECT funnel.probability('ddl_sales:lead') = 0.123456789012345$$)),
          't,t', 'set_probability: the workers hold exactly the double given');
SELECT lives_ok($$SELECT funnel.set_stale_after('ddl_sales', 'proposal', '1 mon 3 days 04:05:06')$$, 'set_stale_after');
SELECT is(pg_temp.differs(pg_temp.probe('ddl_sales')), NULL, 'set_stale_after: the same interval on every node');
SELECT lives_ok($$SELECT funnel.retire_stage('ddl_sales', 'no budget')$$, 'retire_stage');
SELECT is(pg_temp.differs(pg_temp.probe('ddl_sales')), NULL, 'retire_stage: retired on every node');

-- 4b. allow_transition, require_fields, disallow_transition, require_fields(NULL)
SELECT lives_ok($$SELECT funnel.allow_transition('ddl_sales', 'lost', 'lead'),
                         funnel.allow_transition('ddl_sales', 'no budget', 'qualified')$$, 'allow_transition');
SELECT lives_ok($$SELECT funnel.require_fields('ddl_sales', 'proposal', ARRAY['amount', 'owner']),
                         funnel.require_fields('ddl_sales', 'lost', ARRAY['reason'])$$, 'require_fields');
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_all_nodes(pg_temp.rules('ddl_sales'))),
          'lost>lead no budget>qualified / lost={reason} proposal={amount,owner},' ||
          'lost>lead no budget>qualified / lost={reason} proposal={amount,owner},' ||
          'lost>lead no budget>qualified / lost={reason} proposal={amount,owner}',
          'allowed moves and required fields on every node');
SELECT lives_ok($$SELECT funnel.disallow_transition('ddl_sales', 'no budget', 'qualified'),
                         funnel.require_fields('ddl_sales', 'lost', NULL),
                         funnel.require_fields('ddl_sales', 'proposal', ARRAY['owner'])$$,
                'disallow_transition, require_fields(NULL) and a new set of fields');
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_all_nodes(pg_temp.rules('ddl_sales'))),
          'lost>lead / proposal={owner},lost>lead / proposal={owner},lost>lead / proposal={owner}',
          'removed and replaced on every node');
SELECT throws_ok($$SELECT funnel.allow_transition('ddl_sales', 'won', 'lead'), funnel.require_fields('ddl_sales', 'won', ARRAY['x']),
                          funnel.disallow_transition('ddl_sales', 'lost', 'lead'), 1/0$$, '22012', NULL,
                 'rule changes followed by an error');
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_all_nodes(pg_temp.rules('ddl_sales'))),
          'lost>lead / proposal={owner},lost>lead / proposal={owner},lost>lead / proposal={owner}',
          'rolled back: no node has the rule changes');
SELECT is((SELECT count(*)::int FROM run_command_on_workers($$SELECT funnel.allow_transition('ddl_sales', 'won', 'lead')$$)
            WHERE NOT success AND result LIKE '%funnel.allow_transition() cannot run on a Citus worker%'), 2,
          'allow_transition on a worker: refused with a clear error');
SELECT is((SELECT count(*)::int FROM run_command_on_workers($$SELECT funnel.require_fields('ddl_sales', 'proposal', NULL)$$)
            WHERE NOT success AND result LIKE '%funnel.require_fields() cannot run on a Citus worker%'), 2,
          'require_fields (clearing) on a worker: refused with a clear error');
SELECT is(pg_temp.differs(pg_temp.rules('ddl_sales')), NULL, 'nothing changed by the refused calls');
-- a difference made by hand on worker 1: listed, and rule changes refused until fixed
SELECT is(pg_temp.on_node(pg_temp.worker_port(1),
          $$INSERT INTO funnel.allowed_transition VALUES ('ddl_sales', 'won', 'proposal')$$),
          'INSERT 0 1', 'set-up: worker 1 has an extra allowed move');
SELECT is(pg_temp.on_node(pg_temp.worker_port(1),
          $$UPDATE funnel.required_field SET fields = '{owner,amount}' WHERE pipeline = 'ddl_sales'$$),
          'UPDATE 1', 'set-up: worker 1 has other required fields');
SELECT results_eq($$SELECT node, pipeline, stage, difference FROM funnel.check_pipeline_nodes()$$,
                  format($$VALUES ('127.0.0.1:%1$s', 'ddl_sales', 'proposal', 'required fields: {owner} on the coordinator, {owner,amount} on the node'),
                                  ('127.0.0.1:%1$s', 'ddl_sales', 'won', 'allowed move to "proposal" only on the node')$$,
                         pg_temp.worker_port(1)),
                  'check_pipeline_nodes(): differences in allowed moves and required fields');
SELECT throws_like($$SELECT funnel.allow_transition('ddl_sales', 'won', 'lead')$$,
                   '%allowed moves or required fields of pipeline "ddl_sales" on node 127.0.0.1:% differ from the coordinator after allow_transition()%',
                   'a rule change on a diverged node is refused, naming the node');
SELECT is(pg_temp.on_node(pg_temp.worker_port(1),
          $$WITH d AS (DELETE FROM funnel.allowed_transition WHERE pipeline = 'ddl_sales' AND from_stage = 'won' RETURNING 1)
            UPDATE funnel.required_field SET fields = '{owner}' WHERE pipeline = 'ddl_sales'$$),
          'UPDATE 1', 'clean-up of worker 1');
SELECT is_empty($$SELECT * FROM funnel.check_pipeline_nodes()$$, 'check_pipeline_nodes(): no difference');

-- 5. a failing transaction changes no node
SELECT throws_ok($$SELECT funnel.add_stage('ddl_sales', 'legal', after => 'proposal'), 1/0$$, '22012', NULL,
                 'add_stage followed by an error in the same statement');
SELECT throws_ok($$SELECT funnel.set_probability('ddl_sales', 'qualified', 0.9), funnel.rename_stage('ddl_sales', 'lead', 'prospect'), 1/0$$,
                 '22012', NULL, 'set_probability and rename_stage followed by an error');
SELECT is((SELECT count(*)::int FROM run_command_on_all_nodes($$SELECT count(*) FROM funnel.stages
                                                                 WHERE pipeline = 'ddl_sales' AND stage IN ('legal', 'prospect')$$)
            WHERE success AND result = '0'), 3, 'rolled back: no node has the added or renamed stage');
SELECT is((SELECT count(*)::int FROM run_command_on_all_nodes($$SELECT funnel.probability('ddl_sales:qualified')$$)
            WHERE success AND result = '0.3'), 3, 'rolled back: every node keeps the old probability');
BEGIN;
SAVEPOINT before_gone;
SELECT funnel.create_pipeline('ddl_sp_gone', ARRAY['a']);
ROLLBACK TO SAVEPOINT before_gone;
SELECT funnel.create_pipeline('ddl_sp_kept', ARRAY['a']);
COMMIT;
SELECT is((SELECT string_agg(result, ',') FROM run_command_on_all_nodes($$SELECT string_agg(name, ' ' ORDER BY name) FROM funnel.pipeline
                                                                          WHERE name LIKE 'ddl_sp%'$$)),
          'ddl_sp_kept,ddl_sp_kept,ddl_sp_kept', 'a savepoint rolled back on every node, the rest of its transaction committed on every node');
SELECT funnel.drop_pipeline('ddl_sp_kept');
SELECT is((SELECT max(id)::int FROM funnel_citus.pipeline_log),
          (SELECT count(*)::int FROM funnel_citus.pipeline_log), 'rolled back: no gap or leftover in the pipeline log');

-- 6. a failure on one worker aborts every node: worker 2 has a type in the way
SELECT is(pg_temp.on_node(pg_temp.worker_port(2),
          $q$DO $d$BEGIN PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
                       CREATE TYPE funnel_pipeline.ddl_clash AS ENUM ('x'); END$d$$q$),
          'DO', 'set-up: worker 2 has a stray enum type funnel_pipeline.ddl_clash');
SELECT throws_like($$SELECT funnel.create_pipeline('ddl_clash', ARRAY['a'])$$, '%type "ddl_clash" already exists%',
                   'create_pipeline fails on worker 2 ...');
SELECT is((SELECT count(*)::int FROM run_command_on_all_nodes($$SELECT count(*) FROM funnel.pipeline WHERE name = 'ddl_clash'$$)
            WHERE success AND result = '0'), 3, '... and no node, coordinator included, has the pipeline');
SELECT is(pg_temp.on_node(pg_temp.worker_port(1), $$SELECT to_regtype('funnel_pipeline.ddl_clash') IS NULL$$), 't',
          '... nor worker 1 its type');
SELECT is(pg_temp.on_node(pg_temp.worker_port(2),
          $q$DO $d$BEGIN PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
                       DROP TYPE funnel_pipeline.ddl_clash; END$d$$q$),
          'DO', 'clean-up of worker 2');

-- 7. check_pipeline_nodes() lists a difference made by hand on one worker
SELECT is(pg_temp.on_node(pg_temp.worker_port(1),
          $$UPDATE funnel.pipeline_stage SET probability = 0.35, retired = true WHERE pipeline = 'ddl_sales' AND stage = 'qualified'$$),
          'UPDATE 1', 'set-up: worker 1''s qualified stage changed by hand');
SELECT results_eq($$SELECT node, pipeline, stage, difference FROM funnel.check_pipeline_nodes()$$,
                  format($$VALUES ('127.0.0.1:%s', 'ddl_sales', 'qualified', 'probability: 0.3 on the coordinator, 0.35 on the node'),
                                  ('127.0.0.1:%s', 'ddl_sales', 'qualified', 'retired: false on the coordinator, true on the node')$$,
                         pg_temp.worker_port(1), pg_temp.worker_port(1)),
                  'check_pipeline_nodes(): one row per differing attribute, naming the node');
SELECT throws_like($$SELECT funnel.set_probability('ddl_sales', 'qualified', 0.31)$$,
                   '%pipeline "ddl_sales" on node 127.0.0.1:% differs from the coordinator%',
                   'a change on a diverged node is refused, naming the node');
SELECT is(pg_temp.on_node(pg_temp.worker_port(1),
          $$UPDATE funnel.pipeline_stage SET probability = 0.3, retired = false WHERE pipeline = 'ddl_sales' AND stage = 'qualified'$$),
          'UPDATE 1', 'clean-up of worker 1');
SELECT is_empty($$SELECT * FROM funnel.check_pipeline_nodes()$$, 'check_pipeline_nodes(): consistent again');

-- 8. on a worker the functions refuse and change nothing
SELECT is((SELECT count(*)::int FROM run_command_on_workers($$SELECT funnel.set_probability('ddl_sales', 'qualified', 0.9)$$)
            WHERE NOT success AND result LIKE '%funnel.set_probability() cannot run on a Citus worker%'), 2,
          'set_probability on a worker: refused with a clear error');
SELECT is(pg_temp.differs(pg_temp.probe('ddl_sales')), NULL, 'nothing changed by the refused calls');

-- 9. a NOSUPERUSER role cannot change pipelines by writing the log
CREATE ROLE ddl_intruder NOSUPERUSER LOGIN;
CREATE TABLE ddl_intruder_table (x int);
ALTER TABLE ddl_intruder_table OWNER TO ddl_intruder;
SET ROLE ddl_intruder;
SELECT throws_ok($$INSERT INTO funnel_citus.pipeline_log VALUES (1000, 'drop_pipeline', 'ddl_sales', '["ddl_sales"]', NULL, now(), 'x')$$,
                 '42501', NULL, 'NOSUPERUSER: no INSERT into funnel_citus.pipeline_log');
SELECT throws_ok($$CREATE TRIGGER t AFTER INSERT ON ddl_intruder_table EXECUTE FUNCTION funnel_internal.pipeline_log_apply()$$,
                 '42501', NULL, 'NOSUPERUSER: cannot attach the apply trigger to an own table');
SELECT throws_ok($$SELECT funnel_internal.drop_pipeline('ddl_sales')$$, '42501', NULL,
                 'NOSUPERUSER: the bodies of the pipeline functions cannot be called');
SELECT throws_ok($$SELECT funnel_internal.allow_transition('ddl_sales', 'won', 'lead')$$, '42501', NULL,
                 'NOSUPERUSER: the bodies of the rule functions cannot be called');
SELECT throws_ok($$SELECT funnel.require_fields('ddl_sales', 'proposal', NULL)$$, '42501', NULL,
                 'NOSUPERUSER: require_fields() cannot be called');
-- the workers' connections are made as ddl_intruder
SELECT is((SELECT count(*)::int FROM run_command_on_workers(
              format($q$DO $d$BEGIN PERFORM set_config('citus.enable_manual_changes_to_shards', 'on', true);
                         INSERT INTO funnel_citus.pipeline_log_%s
                         VALUES (1000, 'drop_pipeline', 'ddl_sales', '["ddl_sales"]', NULL, now(), 'x'); END$d$$q$,
                     (SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'funnel_citus.pipeline_log'::regclass)))
            WHERE NOT success AND result LIKE '%permission denied for table pipeline_log_%'), 2,
          'NOSUPERUSER: no INSERT into the shard on a worker either');
SELECT throws_ok($$CREATE TABLE funnel_citus.pipeline_log_applied_x (applied bigint)$$, '42501', NULL,
                 'NOSUPERUSER: cannot create tables in schema funnel_citus');
RESET ROLE;

-- 10. drop_pipeline
SELECT lives_ok($$SELECT funnel.drop_pipeline('ddl_sales')$$, 'drop_pipeline');
SELECT is((SELECT count(*)::int FROM run_command_on_all_nodes($$SELECT count(*)::text || (to_regtype('funnel_pipeline.ddl_sales') IS NULL)::text
                                                                  FROM funnel.pipeline_stage WHERE pipeline = 'ddl_sales'$$)
            WHERE success AND result = '0true'), 3, 'drop_pipeline: gone from every node');

DROP TABLE ddl_intruder_table;
DROP ROLE ddl_intruder;
SELECT * FROM finish();
