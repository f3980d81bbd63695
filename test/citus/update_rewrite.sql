-- test/citus/update_rewrite.sql: UPDATEs of a distributed table that need
-- a stage's name or attributes (issue 22.5).  Citus refuses STABLE
-- functions with column references in UPDATE (SET and WHERE), and every
-- funnel function that reads a stage's name, position or attributes is
-- STABLE on purpose: rename_stage(), set_probability(), add_stage() ...
-- change their result for the same value.  Only the comparison operators
-- of funnel.deal_stage are IMMUTABLE.  The rewrites documented in README
-- ("Scaling out with Citus", caveats) must give what the direct UPDATE
-- gives on a local copy.

SELECT funnel.create_pipeline('ur_sales', ARRAY['lead', 'qualified', 'proposal']);
SELECT funnel.set_probability('ur_sales', 'qualified', 0.4);
CREATE TABLE ur_deals (id bigint PRIMARY KEY, stage funnel.deal_stage(ur_sales) NOT NULL,
                       p double precision, note text);
SELECT create_distributed_table('ur_deals', 'id', shard_count => 4);
INSERT INTO ur_deals (id, stage) VALUES
    (1, 'lead'), (2, 'qualified'), (3, 'proposal'), (4, 'won'), (5, 'lost'),
    (6, 'lead'), (7, 'qualified'), (8, 'proposal'), (9, 'lead'), (10, 'won');
CREATE TABLE ur_local (LIKE ur_deals INCLUDING ALL);
INSERT INTO ur_local SELECT * FROM ur_deals;

-- rewrite 3: the direct UPDATE run on each shard, outside the test's
-- transaction (run_command_on_shards uses connections of its own, one
-- transaction per shard: for idempotent backfills)
SELECT count(*) AS shards_ok FROM run_command_on_shards('ur_deals',
    $cmd$UPDATE %s SET p = 2 * funnel.probability(stage)$cmd$) WHERE success \gset
SELECT count(*) AS doubled FROM ur_deals WHERE p = 2 * funnel.probability(stage) \gset
UPDATE ur_deals SET p = NULL;

BEGIN;
SELECT plan(10);

SELECT throws_ok($$UPDATE ur_deals SET p = funnel.probability(stage)$$, '0A000',
                 'STABLE functions used in UPDATE queries cannot be called with column references',
                 'Citus refuses funnel.probability(stage) in SET');
SELECT throws_ok($$UPDATE ur_deals SET note = stage::text$$, '0A000',
                 'STABLE functions used in UPDATE queries cannot be called with column references',
                 'Citus refuses stage::text in SET');
SELECT throws_ok($$UPDATE ur_deals SET note = 'x' WHERE funnel.probability(stage) > 0.3$$, '0A000',
                 'STABLE functions used in UPDATE queries cannot be called with column references',
                 'Citus refuses funnel.probability(stage) in WHERE');
SELECT is((SELECT count(*)::int FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
            WHERE o.oprleft = 'funnel.deal_stage'::regtype AND o.oprright = 'funnel.deal_stage'::regtype
              AND o.oprname IN ('=', '<>', '<', '<=', '>', '>=') AND p.provolatile = 'i'), 6,
          'the comparison operators of deal_stage are IMMUTABLE: a rewrite may compare stages');

-- rewrite 1: the values computed on the coordinator, as constants in a
-- searched CASE (the simple form CASE stage WHEN ... is deparsed wrongly
-- for the shards)
DO $$
BEGIN
    EXECUTE (SELECT format('UPDATE ur_deals SET p = CASE %s END, note = CASE %s END',
                           string_agg(format('WHEN stage = %L THEN %s', pipeline || ':' || stage, probability), ' '),
                           string_agg(format('WHEN stage = %L THEN %L', pipeline || ':' || stage, stage), ' '))
               FROM funnel.stages WHERE pipeline = 'ur_sales');
END
$$;
UPDATE ur_local SET p = funnel.probability(stage), note = funnel.stage_name(stage);
SELECT set_eq($$SELECT id, p, note FROM ur_deals$$, $$SELECT id, p, note FROM ur_local$$,
              'a searched CASE of constants built from funnel.stages sets what probability() and stage_name() give');
SELECT is((SELECT count(*)::int FROM ur_local WHERE p IS NULL OR note IS NULL), 0, 'every row was set');

-- rewrite 2: a condition on attributes as a list of stages
UPDATE ur_deals SET note = 'likely'
 WHERE stage = ANY (ARRAY(SELECT (pipeline || ':' || stage)::funnel.deal_stage
                            FROM funnel.stages WHERE pipeline = 'ur_sales' AND probability > 0.3));
UPDATE ur_local SET note = 'likely' WHERE funnel.probability(stage) > 0.3;
SELECT set_eq($$SELECT id, note FROM ur_deals$$, $$SELECT id, note FROM ur_local$$,
              'stage = ANY (ARRAY(SELECT ... FROM funnel.stages WHERE ...)) selects what the attribute test selects');
SELECT is((SELECT count(*)::int FROM ur_local WHERE note = 'likely'), 6, 'qualified, proposal and won: 6 deals');

SELECT is(:shards_ok, 4, 'run_command_on_shards ran the direct UPDATE on the 4 shards');
SELECT is(:doubled, 10, 'and set every row to what the function gives');
SELECT finish();
ROLLBACK;
