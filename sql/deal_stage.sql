-- The deal_stage type: literals, errors, binding, order, operators, indexes
CREATE EXTENSION funnel;
CREATE EXTENSION amcheck;
SET search_path = public, funnel;
\set SHOW_CONTEXT never
\set VERBOSITY default

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit','basket'], lost => ARRAY['lost','no budget']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'], ARRAY[0.1,0.3,0.6],
                              won => ARRAY['成交'], lost => ARRAY['流失','无预算']);

-- qualified literals always, bare literals where unambiguous; output is qualified
SELECT 'b2b:proposal'::deal_stage, 'proposal'::deal_stage, 'retail:lead'::deal_stage,
       '商机'::deal_stage, '零售:成交'::deal_stage, 'no budget'::deal_stage;
SELECT s::text, funnel.pipeline_of(s), funnel.stage_name(s), funnel.position(s),
       funnel.probability(s), funnel.kind(s)
  FROM unnest(ARRAY['b2b:lead','b2b:negotiation','b2b:won','b2b:lost',
                    'retail:visit','零售:无预算']::deal_stage[]) AS s;
-- text round trip of every stage
SELECT count(*) AS stages, count(*) FILTER (WHERE v::text::deal_stage = v) AS round_trips
  FROM (SELECT (pipeline || ':' || stage)::deal_stage AS v FROM funnel.stages) s;

-- bad literals: 22P02 naming the value and the valid choices
-- each error shows its SQLSTATE after it (not VERBOSITY verbose, whose LOCATION lines change with every C edit)
SELECT 'b2b:nope'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'nope:lead'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'nope'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'lead'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'won'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT ''::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT ':lead'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'b2b:'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'b2b::lead'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT ' b2b:lead'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'b2b:lead '::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'b2b: lead'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT 'B2B:lead'::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT (repeat('x', 64) || ':lead')::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT ('b2b:' || repeat('y', 64))::deal_stage;
\echo :LAST_ERROR_SQLSTATE
SELECT repeat('z', 64)::deal_stage;
\echo :LAST_ERROR_SQLSTATE

-- a column bound to one pipeline takes bare names, even shared ones
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
\d deals
INSERT INTO deals VALUES (1, 'lead'), (2, 'won'), (3, 'b2b:proposal'), (4, 'lost'),
                         (5, 'qualified'), (6, 'negotiation'), (7, 'lead');
UPDATE deals SET stage = 'lost' WHERE id = 7;
SELECT * FROM deals ORDER BY id;
INSERT INTO deals VALUES (8, 'retail:lead');
INSERT INTO deals VALUES (8, 'visit');
INSERT INTO deals VALUES (8, 'no budget');
SELECT 'lead'::deal_stage(b2b), 'lead'::deal_stage(retail);
CREATE TABLE wrong (s funnel.deal_stage(nope));
CREATE TABLE wrong (s funnel.deal_stage(b2b, retail));
CREATE TABLE quoted (s funnel.deal_stage("零售"), t funnel.deal_stage('retail'));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'quoted'::regclass AND attnum > 0 ORDER BY attnum;
DROP TABLE quoted;
-- an ambiguous bare name is refused where no pipeline binds it, so nothing is
-- stored that could not be read back; a cast to a bound type resolves it
CREATE TABLE loose (s funnel.deal_stage);
INSERT INTO loose VALUES ('won');
INSERT INTO loose SELECT 'won';
INSERT INTO loose SELECT 'won'::text;
SELECT count(*) FROM loose;
INSERT INTO loose VALUES ('won'::funnel.deal_stage(retail));
SELECT s FROM loose;
DROP TABLE loose;

-- comparisons in funnel order
SELECT 'b2b:lead'::deal_stage < 'b2b:qualified', 'b2b:won' > 'b2b:negotiation',
       'b2b:lost' > 'b2b:won', 'b2b:lead' = 'lead'::deal_stage(b2b),
       'b2b:lead' <> 'retail:lead'::deal_stage, 'b2b:lead' <= 'b2b:lead'::deal_stage,
       'b2b:won' >= 'b2b:lost'::deal_stage;
SELECT funnel_internal.deal_stage_cmp('b2b:lead', 'b2b:won'), funnel_internal.deal_stage_cmp('b2b:won', 'b2b:won'),
       funnel_internal.deal_stage_cmp('b2b:lost', 'b2b:won');
-- a total order across pipelines: all stages of one pipeline, then the next
SELECT array_agg(s ORDER BY s)
  FROM unnest(ARRAY['retail:won','b2b:won','b2b:lead','retail:lead','零售:商机',
                    'b2b:lost','retail:basket']::deal_stage[]) AS s;
SELECT funnel.min(stage), funnel.max(stage) FROM deals;
SELECT funnel.min(stage) FROM deals WHERE false;
SELECT stage, count(*) FROM deals GROUP BY stage ORDER BY stage;
SELECT DISTINCT stage FROM deals ORDER BY stage DESC;

-- btree and hash indexes, both operator classes valid
SELECT opcname, amvalidate(oid) FROM pg_opclass
 WHERE opcnamespace = 'funnel'::regnamespace ORDER BY opcname;
CREATE INDEX deals_stage_idx ON deals (stage);
CREATE INDEX deals_stage_hash ON deals USING hash (stage);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM deals WHERE stage = 'b2b:won';
SELECT id FROM deals WHERE stage = 'b2b:won';
SELECT id FROM deals WHERE stage >= 'b2b:negotiation' ORDER BY stage, id;
SET enable_indexscan = off; SET enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT id FROM deals WHERE stage = 'b2b:lead';
RESET enable_indexscan; RESET enable_bitmapscan; RESET enable_seqscan;
-- hash join and hash aggregate
SET enable_mergejoin = off; SET enable_nestloop = off;
SELECT d.id, s.stage FROM deals d JOIN (SELECT stage FROM deals WHERE id = 2) s USING (stage);
RESET enable_mergejoin; RESET enable_nestloop;
SET enable_sort = off;
SELECT stage, count(*) FROM deals GROUP BY stage ORDER BY count(*) DESC, 1;
RESET enable_sort;

-- rename_stage: no table rewrite, rows show the new name, indexes stay valid
CREATE TEMP TABLE filenodes AS
  SELECT relname, pg_relation_filenode(oid) AS filenode FROM pg_class
   WHERE relname IN ('deals', 'deals_stage_idx', 'deals_stage_hash');
SELECT funnel.rename_stage('b2b', 'proposal', 'offer');
SELECT * FROM deals WHERE id = 3;
SELECT relname, pg_relation_filenode(c.oid) = f.filenode AS same_file
  FROM pg_class c JOIN filenodes f USING (relname) ORDER BY relname;
SELECT id FROM deals WHERE stage = 'b2b:offer';

-- add_stage between stages: indexes stay valid, ORDER BY follows funnel order
INSERT INTO deals SELECT g, (ARRAY['lead','qualified','offer','negotiation','won','lost'])[1 + g % 6]::deal_stage(b2b)
  FROM generate_series(100, 5099) g;
SELECT funnel.add_stage('b2b', 'demo', probability => 0.4, after => 'qualified');
SELECT funnel.add_stage('b2b', 'contract', before => 'won');
SELECT funnel.add_stage('b2b', 'prospect', before => 'lead');
INSERT INTO deals SELECT g, (ARRAY['prospect','demo','contract'])[1 + g % 3]::deal_stage(b2b)
  FROM generate_series(10000, 12999) g;
SELECT bt_index_check('deals_stage_idx', true);
SELECT funnel.position(stage), stage, count(*) FROM deals GROUP BY stage ORDER BY stage;
-- index order = sort order = position order
SET enable_seqscan = off; SET enable_bitmapscan = off;
SELECT count(*) AS out_of_order FROM (
  SELECT funnel.position(stage) AS p, lag(funnel.position(stage)) OVER () AS prev
    FROM (SELECT stage FROM deals ORDER BY stage) s) x WHERE p < prev;
RESET enable_seqscan; RESET enable_bitmapscan;
REINDEX INDEX deals_stage_idx;
SELECT bt_index_check('deals_stage_idx', true);

-- a stage added in the current transaction cannot be used until it commits
BEGIN;
SELECT funnel.add_stage('b2b', 'pilot', after => 'demo');
SELECT 'b2b:pilot'::deal_stage;
ROLLBACK;
-- ... but a pipeline created in the current transaction can be used
BEGIN;
SELECT funnel.create_pipeline('fresh', ARRAY['a','b']);
CREATE TEMP TABLE fresh_rows AS SELECT 'fresh:b'::deal_stage AS s;
SELECT s, s > 'fresh:a' FROM fresh_rows;
ROLLBACK;
SELECT 'fresh:a'::deal_stage;

-- binary send/recv through a record round trip, casts to text
SELECT funnel_internal.deal_stage_send('b2b:offer');
SELECT 'b2b:offer'::deal_stage::text, 'b2b:won'::text::deal_stage;

-- NULLs: strict functions return NULL, aggregates skip them
SELECT funnel.position(NULL), funnel.kind(NULL), funnel.max(s)
  FROM (VALUES (NULL::deal_stage), ('b2b:lead')) v(s);

DROP TABLE deals;
DROP EXTENSION amcheck;
DROP EXTENSION funnel CASCADE;
