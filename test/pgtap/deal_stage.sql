-- test/pgtap/deal_stage.sql: the deal_stage type and the pipeline catalog
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
RESET client_min_messages;
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT plan(45);

-- objects
SELECT has_type('funnel', 'deal_stage', 'type funnel.deal_stage exists');
SELECT has_view('funnel', 'stages', 'view funnel.stages exists');
SELECT has_table('funnel', 'pipeline_stage', 'config table funnel.pipeline_stage exists');
SELECT is((SELECT typbyval AND typlen = 8 FROM pg_type WHERE oid = 'funnel.deal_stage'::regtype),
          true, 'deal_stage is 8 bytes, passed by value');
SELECT has_function('funnel', f, 'function funnel.' || f || ' exists')
  FROM unnest(ARRAY['create_pipeline','add_stage','rename_stage','set_probability',
                    'set_stale_after','retire_stage','drop_pipeline','pipeline_of',
                    'stage_name','position','probability','kind']) AS f;
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'funnel'::regnamespace
              AND obj_description(p.oid, 'pg_proc') IS NULL),
          0, 'every function in schema funnel has a comment');
SELECT is((SELECT count(*)::int FROM pg_opclass
            WHERE opcnamespace = 'funnel'::regnamespace AND amvalidate(oid)),
          2, 'btree and hash operator classes pass amvalidate');

-- pipelines
SELECT lives_ok($$SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                                                 ARRAY[0.10, 0.25, 0.50, 0.75])$$, 'create b2b');
SELECT lives_ok($$SELECT funnel.create_pipeline('retail', ARRAY['lead','visit'])$$, 'create retail');
SELECT lives_ok($$SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'],
                  ARRAY[0.1,0.3,0.6], won => ARRAY['成交'], lost => ARRAY['流失','无预算'])$$,
                'create a pipeline with Chinese names');
SELECT is((SELECT string_agg(format('%s/%s/%s/%s', stage, position, round(probability::numeric, 4), kind), ' ')
             FROM funnel.stages WHERE pipeline = 'retail'),
          'lead/1/0.3333/open visit/2/0.6667/open won/3/1.0000/won lost/4/0.0000/lost',
          'default probabilities are evenly spaced, won = 1, lost = 0');
SELECT throws_ok($$SELECT funnel.create_pipeline('b2b', ARRAY['x'])$$, '42710',
                 'pipeline "b2b" already exists', 'duplicate pipeline');
SELECT throws_ok($$SELECT funnel.create_pipeline('p', ARRAY['a'], ARRAY['NaN']::float8[])$$, '22023',
                 NULL, 'NaN probability refused');
SELECT throws_ok($$SELECT funnel.create_pipeline('p', ARRAY['a','a'])$$, '22023',
                 'stage "a" appears twice in pipeline "p"', 'duplicate stage refused');
SELECT throws_ok($$SELECT funnel.create_pipeline('p', ARRAY[repeat('x', 64)])$$, '22023',
                 NULL, 'a 64-byte stage name is refused');
SELECT lives_ok($$SELECT funnel.create_pipeline('p63', ARRAY[repeat('x', 63)])$$,
                'a 63-byte stage name is accepted');
SELECT is((repeat('x', 63))::funnel.deal_stage::text, 'p63:' || repeat('x', 63), 'and reads back');

-- literals
SELECT is('b2b:proposal'::deal_stage::text, 'b2b:proposal', 'qualified literal');
SELECT is('proposal'::deal_stage, 'b2b:proposal'::deal_stage, 'unambiguous bare literal');
SELECT is('合格线索'::deal_stage::text, '零售:合格线索', 'Chinese bare literal');
SELECT throws_ok($$SELECT 'lead'::funnel.deal_stage::text$$, '22P02',
                 'stage name "lead" is ambiguous', 'ambiguous bare literal');
SELECT throws_ok($$SELECT 'b2b:nope'::funnel.deal_stage$$, '22P02',
                 'invalid input value for type deal_stage: "b2b:nope"', 'unknown stage');
SELECT throws_ok($$SELECT 'nope:lead'::funnel.deal_stage$$, '22P02', NULL, 'unknown pipeline');
SELECT throws_ok($$SELECT 'b2b:lead '::funnel.deal_stage$$, '22P02', NULL, 'trailing space');
SELECT throws_ok($$SELECT 'b2b:'::funnel.deal_stage$$, '22P02', NULL, 'stray separator');

-- binding and order
CREATE TABLE t (id int, s funnel.deal_stage(b2b));
SELECT lives_ok($$INSERT INTO t VALUES (1, 'lead'), (2, 'won'), (3, 'lost'), (4, 'qualified')$$,
                'bound column takes shared bare names');
SELECT throws_ok($$INSERT INTO t VALUES (5, 'retail:lead')$$, '22P02', NULL,
                 'bound column refuses another pipeline');
SELECT results_eq($$SELECT id FROM t ORDER BY s$$, ARRAY[1, 4, 2, 3], 'ORDER BY follows funnel order');
SELECT is(funnel.max(s), 'b2b:lost'::deal_stage, 'max') FROM t;
SELECT is(funnel.min(s), 'b2b:lead'::deal_stage, 'min') FROM t;
SELECT ok('b2b:negotiation'::deal_stage < 'b2b:won' AND 'b2b:won' < 'b2b:lost'::deal_stage,
          'open < won < lost');

-- a stage added in this transaction is not usable before commit (like enums)
SELECT lives_ok($$SELECT funnel.add_stage('b2b', 'demo', after => 'qualified')$$, 'add_stage');
SELECT throws_ok($$SELECT 'b2b:demo'::funnel.deal_stage$$, '55P04', NULL,
                 'a stage added by the current transaction is refused');
SELECT is(funnel.position('b2b:proposal'), 4, 'position shifts after an inserted stage');

SELECT * FROM finish();
ROLLBACK;
