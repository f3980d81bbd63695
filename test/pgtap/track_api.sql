-- test/pgtap/track_api.sql: the SQL surface of tracking and the history table layout
BEGIN;
SELECT plan(28);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT has_function('funnel', 'track', ARRAY['regclass', 'text', 'name', 'name', 'text'], 'funnel.track()');
SELECT has_function('funnel', 'untrack', ARRAY['regclass'], 'funnel.untrack()');
SELECT has_function('funnel', 'allow_transition', ARRAY['text', 'text', 'text'], 'funnel.allow_transition()');
SELECT has_function('funnel', 'require_fields', ARRAY['text', 'text', 'text[]'], 'funnel.require_fields()');
SELECT function_returns('funnel', 'track', ARRAY['regclass', 'text', 'name', 'name', 'text'], 'regclass', 'track returns regclass');

-- every tracking object has a comment
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'funnel'::regnamespace
              AND p.proname IN ('track', 'untrack', 'allow_transition', 'disallow_transition', 'require_fields',
                                'check_history', 'track_resolve', 'track_insert', 'track_update',
                                'track_delete', 'track_truncate')
              AND obj_description(p.oid, 'pg_proc') IS NULL), 0, 'every tracking function has a COMMENT');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['funnel.tracked_table', 'funnel.allowed_transition',
                                                  'funnel.required_field']::regclass[]) t
            WHERE obj_description(t, 'pg_class') IS NULL), 0, 'every configuration table has a COMMENT');

-- configuration tables are dumped by pg_dump
SELECT ok((SELECT extconfig @> ARRAY['funnel.tracked_table'::regclass::oid, 'funnel.allowed_transition'::regclass::oid,
                                     'funnel.required_field'::regclass::oid]
             FROM pg_extension WHERE extname = 'funnel'), 'configuration tables registered with pg_extension_config_dump');

-- the default argument values
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.2, 0.4, 0.6]);
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id uuid PRIMARY KEY, stage funnel.deal_stage NOT NULL, amount numeric);
INSERT INTO crm.deals VALUES ('00000000-0000-0000-0000-000000000001', 'b2b:lead', 1),
                             ('00000000-0000-0000-0000-000000000002', 'b2b:proposal', NULL);
SELECT is(funnel.track('crm.deals', 'b2b')::text, 'crm.deals_stage_history', 'history table in the table''s schema');
SELECT is((SELECT format('%s %s %s %s', pipeline, stage_column, coalesce(changed_at_column, '-'), rule) FROM funnel.tracked_table),
          'b2b stage - forward', 'defaults: stage column "stage", no changed_at column, rule forward');

-- history layout
SELECT columns_are('crm', 'deals_stage_history', ARRAY['deal_id', 'stage', 'entered_at', 'left_at', 'entered_by'], 'history columns');
SELECT col_type_is('crm', 'deals_stage_history', 'deal_id', 'uuid', 'deal_id has the type of the primary key');
SELECT col_type_is('crm', 'deals_stage_history', 'stage', 'deal_stage(b2b)', 'stage is a deal_stage bound to the pipeline');
SELECT col_type_is('crm', 'deals_stage_history', 'entered_at', 'timestamp with time zone', 'entered_at');
SELECT col_type_is('crm', 'deals_stage_history', 'left_at', 'timestamp with time zone', 'left_at');
SELECT col_type_is('crm', 'deals_stage_history', 'entered_by', 'name', 'entered_by');
SELECT is((SELECT array_agg(pg_get_indexdef(indexrelid) ORDER BY 1) FROM pg_index WHERE indrelid = 'crm.deals_stage_history'::regclass),
          ARRAY['CREATE INDEX deals_stage_history_deal_id_entered_at_idx ON crm.deals_stage_history USING btree (deal_id, entered_at)',
                'CREATE INDEX deals_stage_history_stage_entered_at_idx ON crm.deals_stage_history USING btree (stage, entered_at)'],
          'per-deal and per-stage indexes, none on left_at (closing a visit is a HOT update)');
SELECT ok((SELECT reloptions @> ARRAY['fillfactor=80'] FROM pg_class WHERE oid = 'crm.deals_stage_history'::regclass),
          'history leaves room for HOT updates');
SELECT is((SELECT string_agg(format('%s %s %s', deal_id, stage, coalesce(left_at::text, 'open')), ', ' ORDER BY deal_id) FROM crm.deals_stage_history),
          '00000000-0000-0000-0000-000000000001 b2b:lead open, 00000000-0000-0000-0000-000000000002 b2b:proposal open',
          'backfill: one open visit per existing deal');
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE entered_at = now()), 2, 'backfilled visits start now');

-- a uuid key works end to end
UPDATE crm.deals SET stage = 'proposal' WHERE id = '00000000-0000-0000-0000-000000000001';
SELECT is((SELECT count(*)::int FROM crm.deals_stage_history WHERE deal_id = '00000000-0000-0000-0000-000000000001'), 2, 'uuid deal moved');

-- require_fields is checked against tracked tables, and track() against requirements
SELECT throws_ok($$SELECT funnel.require_fields('b2b', 'proposal', ARRAY['close_date'])$$, '42703', NULL,
                 'require_fields: unknown column of a tracked table');
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']);
CREATE TABLE crm.other (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT throws_ok($$SELECT funnel.track('crm.other', 'b2b')$$, '42703', NULL, 'track: a required field is not a column');
SELECT is((SELECT count(*)::int FROM funnel.tracked_table), 1, 'the failed track() created nothing');
SELECT hasnt_table('crm', 'other_stage_history', 'no history table for the failed track()');

-- untrack
SELECT lives_ok($$SELECT funnel.untrack('crm.deals')$$, 'untrack');
SELECT has_table('crm', 'deals_stage_history', 'untrack keeps the history table');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'crm.deals'::regclass), 0, 'untrack drops the triggers');

SELECT * FROM finish();
ROLLBACK;
