-- Pipeline API: create, add, rename, probabilities, stale_after, retire, drop
CREATE EXTENSION funnel;
SET search_path = public, funnel;
\set SHOW_CONTEXT never
\set VERBOSITY default

SELECT funnel.create_pipeline('b2b',
         stages        => ARRAY['lead','qualified','proposal','negotiation'],
         probabilities => ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'],
         ARRAY[0.1,0.3,0.6], won => ARRAY['成交'], lost => ARRAY['流失','无预算']);
-- default probabilities are evenly spaced; default won/lost stages
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit','basket']);
SELECT * FROM funnel.stages;

-- add_stage between two stages, at the end of the open stages, as won/lost
SELECT funnel.add_stage('b2b', 'demo', probability => 0.4, after => 'qualified');
SELECT funnel.add_stage('b2b', 'contract');            -- after the last open stage
SELECT funnel.add_stage('b2b', 'intro', before => 'lead');
SELECT funnel.add_stage('b2b', 'won via partner', kind => 'won');
SELECT funnel.add_stage('b2b', 'no budget', kind => 'lost');
SELECT stage, position, probability, kind FROM funnel.stages WHERE pipeline = 'b2b';

SELECT funnel.rename_stage('b2b', 'demo', 'evaluation');
SELECT funnel.set_probability('b2b', 'evaluation', 0.35);
SELECT funnel.set_stale_after('b2b', 'proposal', interval '14 days');
SELECT funnel.retire_stage('b2b', 'intro');
SELECT stage, position, probability, kind, stale_after, retired
  FROM funnel.stages WHERE pipeline = 'b2b';
SELECT funnel.retire_stage('b2b', 'intro', retired => false);
SELECT retired FROM funnel.stages WHERE pipeline = 'b2b' AND stage = 'intro';
SELECT funnel.set_stale_after('b2b', 'proposal', NULL);
SELECT stale_after FROM funnel.stages WHERE pipeline = 'b2b' AND stage = 'proposal';

-- validation: every failed call changes nothing
-- (the key column as text: a stored funnel.deal_stage would keep the pipeline in use)
CREATE TEMP TABLE before_errors AS SELECT *, key::text AS key_text FROM funnel.stages;
ALTER TABLE before_errors DROP COLUMN key;
SELECT funnel.create_pipeline('b2b', ARRAY['x']);
SELECT funnel.create_pipeline('', ARRAY['x']);
SELECT funnel.create_pipeline(repeat('p', 64), ARRAY['x']);
SELECT funnel.create_pipeline('a:b', ARRAY['x']);
SELECT funnel.create_pipeline(' padded', ARRAY['x']);
SELECT funnel.create_pipeline('empty', ARRAY[]::text[]);
SELECT funnel.create_pipeline('nowon', ARRAY['a'], won => ARRAY[]::text[]);
SELECT funnel.create_pipeline('dup', ARRAY['a','b','a']);
SELECT funnel.create_pipeline('dup2', ARRAY['a','won']);
SELECT funnel.create_pipeline('nulls', ARRAY['a', NULL]);
SELECT funnel.create_pipeline('longstage', ARRAY[repeat('é', 32)]);
SELECT funnel.create_pipeline('p', ARRAY['a','b'], ARRAY[0.5]);
SELECT funnel.create_pipeline('p', ARRAY['a'], ARRAY['NaN']::float8[]);
SELECT funnel.create_pipeline('p', ARRAY['a'], ARRAY[1.5]);
SELECT funnel.create_pipeline('p', ARRAY['a'], ARRAY[-0.1]);
SELECT funnel.create_pipeline('p', ARRAY['a'], ARRAY[NULL]::float8[]);
SELECT funnel.add_stage('nope', 'x');
SELECT funnel.add_stage('b2b', 'lead');
SELECT funnel.add_stage('b2b', 'x', after => 'nope');
SELECT funnel.add_stage('b2b', 'x', after => 'lead', before => 'proposal');
SELECT funnel.add_stage('b2b', 'x', kind => 'maybe');
SELECT funnel.add_stage('b2b', 'x', after => 'won', kind => 'open');
SELECT funnel.add_stage('b2b', 'x', before => 'lead', kind => 'won');
SELECT funnel.add_stage('b2b', 'x', kind => 'won', probability => 0.5);
SELECT funnel.add_stage('b2b', 'x', probability => 2);
SELECT funnel.rename_stage('b2b', 'nope', 'x');
SELECT funnel.rename_stage('b2b', 'lead', 'proposal');
SELECT funnel.rename_stage('b2b', 'lead', 'a:b');
SELECT funnel.set_probability('b2b', 'won', 0.5);
SELECT funnel.set_probability('b2b', 'lead', 'NaN');
SELECT funnel.set_stale_after('b2b', 'lead', interval '-1 day');
SELECT funnel.retire_stage('b2b', 'nope');
SELECT funnel.drop_pipeline('nope');
SELECT count(*) AS changed FROM (
  (SELECT pipeline, stage, position, probability, kind, stale_after, retired, owner, label, color, key::text
     FROM funnel.stages EXCEPT SELECT * FROM before_errors)
  UNION ALL
  (SELECT * FROM before_errors EXCEPT
   SELECT pipeline, stage, position, probability, kind, stale_after, retired, owner, label, color, key::text
     FROM funnel.stages)) d;
SELECT count(*) FROM pg_type WHERE typnamespace = 'funnel_pipeline'::regnamespace AND typtype = 'e';

-- drop_pipeline: refused while a column is bound to it or holds its stages
CREATE TABLE bound (s funnel.deal_stage(retail));
SELECT funnel.drop_pipeline('retail');
DROP TABLE bound;
CREATE TABLE holder (s funnel.deal_stage);
INSERT INTO holder VALUES ('retail:visit');
SELECT funnel.drop_pipeline('retail');
CREATE TABLE arr (a funnel.deal_stage[]);
DELETE FROM holder;
INSERT INTO arr VALUES (ARRAY['b2b:lead', 'retail:basket']::funnel.deal_stage[]);
SELECT funnel.drop_pipeline('retail');
DELETE FROM arr;
SELECT funnel.drop_pipeline('retail');
SELECT DISTINCT pipeline FROM funnel.stages ORDER BY 1;
SELECT * FROM funnel.pipeline_stage WHERE pipeline = 'retail';
-- the name can be used again
SELECT funnel.create_pipeline('retail', ARRAY['lead']);
SELECT stage, kind FROM funnel.stages WHERE pipeline = 'retail';

-- management functions are not open to PUBLIC
CREATE ROLE funnel_reader;
SET ROLE funnel_reader;
SELECT funnel.create_pipeline('sneaky', ARRAY['a']);
SELECT count(*) > 0 AS can_read FROM funnel.stages;
RESET ROLE;
DROP ROLE funnel_reader;

DROP TABLE holder, arr;
DROP EXTENSION funnel CASCADE;
