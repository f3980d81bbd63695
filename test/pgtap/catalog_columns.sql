-- test/pgtap/catalog_columns.sql: the C code reads funnel's own tables by
-- column name.  An upgrade script that adds a column, or re-creates one,
-- leaves the columns of an upgraded install in another order than a fresh
-- install's; simulated here by re-creating a column (it moves to the end,
-- its old number becomes a dropped column) in each table the C code reads.
-- The values must read the same as before.
BEGIN;
SELECT plan(6);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SET client_min_messages = warning;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.10, 0.25, 0.50]);
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                    amount numeric, changed timestamptz);
INSERT INTO deals VALUES (1, 'lead', NULL, '2024-01-01'), (2, 'qualified', 10, '2024-01-01');
SELECT funnel.track('deals', 'b2b', changed_at_column => 'changed');
SELECT funnel.allow_transition('b2b', 'lost', 'lead');
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']);

-- re-create a column of a funnel table: same name, same values, last position
CREATE FUNCTION recreate_column(tab regclass, col name, typ text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', tab, col || '_new', typ);
    EXECUTE format('UPDATE %s SET %I = %I', tab, col || '_new', col);
    EXECUTE format('ALTER TABLE %s DROP COLUMN %I', tab, col);
    EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', tab, col || '_new', col);
END $$;
-- the view funnel.stages reads pipeline_stage's columns (an upgrade script
-- would re-create it around the change, as here; all rolled back)
ALTER EXTENSION funnel DROP VIEW funnel.stages;
DROP VIEW funnel.stages;
SELECT recreate_column('funnel.pipeline_stage', 'kind', 'text');
SELECT recreate_column('funnel.pipeline_stage', 'probability', 'double precision');
SELECT recreate_column('funnel.tracked_table', 'rule', 'text');
SELECT recreate_column('funnel.tracked_table', 'changed_at_column', 'name');
SELECT recreate_column('funnel.allowed_transition', 'to_stage', 'text');
SELECT recreate_column('funnel.required_field', 'fields', 'name[]');

SELECT is(funnel.kind('b2b:won') || ' ' || funnel.kind('b2b:lead'), 'won open',
          'pipeline_stage.kind is read by name');
SELECT is(funnel.probability('b2b:qualified'), 0.25::float8,
          'pipeline_stage.probability is read by name');
SELECT lives_ok($$UPDATE deals SET stage = 'lost', changed = '2024-01-02' WHERE id = 1$$,
                'tracked_table.rule is read by name (forward allows lead -> lost)');
SELECT lives_ok($$UPDATE deals SET stage = 'lead', changed = '2024-01-03' WHERE id = 1$$,
                'allowed_transition.to_stage is read by name (lost -> lead allowed)');
SELECT throws_ok($$UPDATE deals SET stage = 'proposal' WHERE id = 1$$, '23514',
                 'invalid stage transition from "lead" to "proposal" in pipeline "b2b"',
                 'required_field.fields is read by name (proposal requires amount)');
SELECT is((SELECT string_agg(funnel.stage_name(stage) || '@' || entered_at::date, ' ' ORDER BY entered_at)
             FROM deals_stage_history WHERE deal_id = 1),
          'lead@2024-01-01 lost@2024-01-02 lead@2024-01-03',
          'tracked_table.changed_at_column is read by name (the moves carry their effective time)');

SELECT * FROM finish();
ROLLBACK;
