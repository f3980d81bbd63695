-- Pipeline cache invalidation: changes made by another backend (dblink) are
-- seen by this backend's cached pipelines at its next statement.
CREATE EXTENSION funnel;
CREATE EXTENSION dblink;
SET search_path = public, funnel;
\set SHOW_CONTEXT never
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));

-- warm this backend's cache
SELECT funnel.probability('b2b:lead'), funnel.position('b2b:proposal'), 'b2b:qualified'::deal_stage;
SELECT dblink_exec('other', $q$DO $d$ BEGIN PERFORM funnel.set_probability('b2b', 'lead', 0.15); END $d$$q$);
SELECT funnel.probability('b2b:lead');
SELECT dblink_exec('other', $q$DO $d$ BEGIN PERFORM funnel.rename_stage('b2b', 'qualified', 'sales qualified'); END $d$$q$);
-- a plain table: drop_pipeline() in the other session must be able to read it
CREATE TABLE kept AS SELECT 'b2b:sales qualified'::deal_stage AS s;
SELECT s, funnel.stage_name(s) FROM kept;
SELECT dblink_exec('other', $q$DO $d$ BEGIN PERFORM funnel.add_stage('b2b', 'demo', after => 'sales qualified'); END $d$$q$);
SELECT 'b2b:demo'::deal_stage, funnel.position('b2b:proposal');
SELECT 'b2b:demo'::deal_stage < 'b2b:proposal', 'b2b:demo'::deal_stage > s FROM kept;
SELECT dblink_exec('other', $q$DO $d$ BEGIN PERFORM funnel.retire_stage('b2b', 'lead'); END $d$$q$);
SELECT retired FROM funnel.stages WHERE stage = 'lead';
SELECT dblink_exec('other', $q$DO $d$ BEGIN PERFORM funnel.create_pipeline('retail', ARRAY['visit']); END $d$$q$);
SELECT 'visit'::deal_stage, 'won'::deal_stage(retail);
SELECT dblink_exec('other', $q$DO $d$ BEGIN PERFORM funnel.drop_pipeline('retail'); END $d$$q$);
SELECT 'visit'::deal_stage;
-- an uncommitted change in the other backend is not visible here
SELECT dblink_exec('other', 'BEGIN');
SELECT dblink_exec('other', $q$DO $d$ BEGIN PERFORM funnel.set_probability('b2b', 'proposal', 0.9); END $d$$q$);
SELECT funnel.probability('b2b:proposal');
SELECT dblink_exec('other', 'COMMIT');
SELECT funnel.probability('b2b:proposal');
SELECT dblink_disconnect('other');

-- a pipeline whose stages lack their attributes on this server (a Citus worker
-- that got create_pipeline()'s CREATE TYPE but not its rows, or a restore not
-- finished): values still read, print and sort; kind and probability are
-- refused, never guessed
SELECT funnel.create_pipeline('bare', ARRAY['a', 'b']);
DELETE FROM funnel.pipeline_stage WHERE pipeline = 'bare' AND stage = 'won';
SELECT 'bare:won'::deal_stage, 'bare:won'::deal_stage > 'bare:b', funnel.position('bare:won');
SELECT funnel.kind('bare:won');
SELECT funnel.probability('bare:a');
SELECT funnel.win_rate(s) FROM (VALUES ('bare:won'::deal_stage)) v(s);
SELECT funnel.weighted_forecast(100, s) FROM (VALUES ('bare:a'::deal_stage)) v(s);
INSERT INTO funnel.pipeline_stage VALUES ('bare', 'won', 1, 'won', NULL, false);
SELECT funnel.kind('bare:won'), funnel.win_rate(s) FROM (VALUES ('bare:won'::deal_stage)) v(s) GROUP BY s;

DROP TABLE kept;
DROP EXTENSION dblink;
DROP EXTENSION funnel CASCADE;
