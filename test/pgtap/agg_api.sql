-- test/pgtap/agg_api.sql: the SQL surface of the funnel aggregates (issue 4):
-- names and signatures, parallel safety, combine functions, state types
-- that travel (no `internal` except window_funnel), comments.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(49);

SELECT has_type('funnel', 'funnel_summary', 'type funnel.funnel_summary exists');
SELECT has_type('funnel', 'forecast_state', 'type funnel.forecast_state exists');
SELECT has_type('funnel', 'velocity_state', 'type funnel.velocity_state exists');
SELECT has_type('funnel', 'journey', 'type funnel.journey exists');

SELECT has_function('funnel', 'furthest', ARRAY['funnel.deal_stage']);
SELECT has_function('funnel', 'conversion_rate', ARRAY['funnel.deal_stage', 'funnel.deal_stage', 'funnel.deal_stage']);
SELECT has_function('funnel', 'funnel', ARRAY['funnel.deal_stage']);
SELECT has_function('funnel', 'funnel', ARRAY['funnel.deal_stage', 'numeric']);
SELECT has_function('funnel', 'funnel', ARRAY['funnel.funnel_summary']);
SELECT has_function('funnel', 'journey', ARRAY['funnel.deal_stage', 'timestamp with time zone']);
SELECT has_function('funnel', 'funnel', ARRAY['funnel.journey']);
SELECT has_function('funnel', 'funnel', ARRAY['funnel.journey', 'numeric']);
SELECT has_function('funnel', 'funnel', ARRAY['funnel.deal_stage', 'numeric', 'funnel.deal_stage']);
SELECT has_function('funnel', 'report', ARRAY['funnel.funnel_summary']);
SELECT has_function('funnel', 'learned_probabilities', ARRAY['funnel.funnel_summary']);
SELECT has_function('funnel', 'median_time_in_stage', ARRAY['timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('funnel', 'time_in_stage_percentile', ARRAY['timestamp with time zone', 'timestamp with time zone', 'double precision']);
SELECT has_function('funnel', 'weighted_forecast', ARRAY['numeric', 'funnel.deal_stage']);
SELECT has_function('funnel', 'avg_time_in_stage', ARRAY['timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('funnel', 'avg_time_in_stage_days', ARRAY['timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('funnel', 'median_time_in_stage_days', ARRAY['timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('funnel', 'time_in_stage_percentile_days', ARRAY['timestamp with time zone', 'timestamp with time zone', 'double precision']);
SELECT has_function('funnel', 'weighted_forecast', ARRAY['numeric', 'numeric']);
SELECT has_function('funnel', 'weighted_forecast', ARRAY['numeric', 'double precision']);
SELECT has_function('funnel', 'win_rate', ARRAY['funnel.deal_stage']);
SELECT has_function('funnel', 'sales_velocity', ARRAY['funnel.deal_stage', 'numeric', 'timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('funnel', 'sales_velocity', ARRAY['funnel.journey', 'numeric']);
SELECT has_function('funnel', 'sales_velocity_parts', ARRAY['funnel.deal_stage', 'numeric', 'timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('funnel', 'sales_velocity_parts', ARRAY['funnel.journey', 'numeric']);
SELECT has_function('funnel', 'sales_cycle', ARRAY['funnel.journey']);

SELECT is(
    (SELECT count(*)::int FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
      WHERE p.pronamespace = 'funnel'::regnamespace
        AND p.proname IN ('furthest', 'conversion_rate', 'funnel', 'median_time_in_stage',
                          'time_in_stage_percentile', 'weighted_forecast', 'win_rate', 'sales_velocity',
                          'journey', 'avg_time_in_stage', 'avg_time_in_stage_days', 'median_time_in_stage_days',
                          'time_in_stage_percentile_days', 'sales_velocity_parts')),
    24, 'twenty-four funnel aggregates');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
     WHERE p.pronamespace = 'funnel'::regnamespace AND p.proname NOT IN ('min', 'max')
       AND (p.proparallel <> 's' OR a.aggcombinefn = 0) $$,
    'every funnel aggregate is PARALLEL SAFE with a combine function');

SELECT set_eq($$
    SELECT p.proname::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
     WHERE p.pronamespace = 'funnel'::regnamespace AND a.aggtranstype = 'internal'::regtype $$,
    ARRAY['window_funnel', 'journey'],
    'only window_funnel and the journey of a deal in one of several pipelines have an internal state (the exact percentiles keep a funnel.duration_sample)');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
     WHERE p.pronamespace = 'funnel'::regnamespace AND a.aggtranstype = 'internal'::regtype
       AND (a.aggserialfn = 0 OR a.aggdeserialfn = 0) $$,
    'internal states have serialize and deserialize functions');

SELECT is_empty($$
    SELECT DISTINCT t.typname::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
      JOIN pg_type t ON t.oid = a.aggtranstype
     WHERE p.pronamespace = 'funnel'::regnamespace AND a.aggtranstype <> 'internal'::regtype
       AND (t.typsend = 0 OR t.typreceive = 0 OR t.typinput = 0 OR t.typoutput = 0) $$,
    'every non-internal state type has text and binary I/O');

SELECT set_eq($$
    SELECT DISTINCT a.aggtranstype::regtype::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
     WHERE p.pronamespace = 'funnel'::regnamespace AND p.proname NOT IN ('min', 'max') $$,
    ARRAY['funnel.deal_stage', 'bigint[]', 'funnel.funnel_summary', 'internal',
          'funnel.forecast_state', 'funnel.velocity_state', 'funnel.journey', 'funnel.duration_sample'],
    'state types');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'funnel'::regnamespace
       AND obj_description(p.oid, 'pg_proc') IS NULL $$,
    'every funnel function and aggregate has a COMMENT');

SELECT is_empty($$
    SELECT t.typname::text FROM pg_type t
     WHERE t.typnamespace = 'funnel'::regnamespace AND t.typtype = 'b' AND t.typcategory <> 'A'
       AND obj_description(t.oid, 'pg_type') IS NULL $$,
    'every funnel base type has a COMMENT');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace IN ('funnel'::regnamespace, 'funnel_internal'::regnamespace)
       AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
       AND p.proparallel <> 's' AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
       AND p.proname NOT IN ('track', 'untrack', 'set_rule')
       -- locks a history for track() to re-attach: PARALLEL UNSAFE
       AND p.proname NOT IN ('check_history_layout')
       -- writes a history table and a deals table: PARALLEL UNSAFE
       AND p.proname NOT IN ('import_history')
       -- the pipeline functions' entry points: DDL, PARALLEL UNSAFE
       AND p.prosrc <> 'funnel_pipeline_entry'
       -- takes a lock held until the transaction ends: PARALLEL UNSAFE
       AND p.proname NOT IN ('drop_pipeline_lock')
       -- these read a table named by their argument, maybe a temporary one,
       -- which parallel workers cannot read, or lock and validate the
       -- tables a query will read (tracked_sources), or open a tracked
       -- table to answer as its triggers (next_stages): PARALLEL RESTRICTED
       AND p.proname NOT IN ('pipeline_as_of', 'pipeline_trend', 'history_visits', 'tracked_sources', 'next_stages')
       -- the loop of move_deals(): updates in subtransactions, PARALLEL UNSAFE
       AND p.proname NOT IN ('try_moves')
       -- writes pg_depend (a table's dependencies on its pipelines, for
       -- Citus, src/citus/citus_depend.c): PARALLEL UNSAFE
       AND p.proname NOT IN ('citus_pipeline_depend')
       -- enable_live/disable_live create or drop a live table and its
       -- triggers (DDL): PARALLEL UNSAFE
       AND p.proname NOT IN ('enable_live', 'disable_live') $$,
    'every C function of funnel (but triggers, event triggers, the DDL of track/untrack/set_rule, of the pipeline functions and of enable_live/disable_live, drop_pipeline''s lock and history lock, table readers, the batch loop, the import and catalog writers) is PARALLEL SAFE');

SELECT function_returns('funnel', 'furthest', ARRAY['funnel.deal_stage'], 'funnel.deal_stage');
SELECT function_returns('funnel', 'conversion_rate', ARRAY['funnel.deal_stage', 'funnel.deal_stage', 'funnel.deal_stage'], 'numeric');
SELECT function_returns('funnel', 'funnel', ARRAY['funnel.deal_stage', 'numeric'], 'funnel.funnel_summary');
SELECT function_returns('funnel', 'journey', ARRAY['funnel.deal_stage', 'timestamp with time zone'], 'funnel.journey');
SELECT function_returns('funnel', 'median_time_in_stage', ARRAY['timestamp with time zone', 'timestamp with time zone'], 'interval');
SELECT function_returns('funnel', 'weighted_forecast', ARRAY['numeric', 'funnel.deal_stage'], 'numeric');
SELECT function_returns('funnel', 'win_rate', ARRAY['funnel.deal_stage'], 'numeric');
SELECT function_returns('funnel', 'sales_velocity', ARRAY['funnel.deal_stage', 'numeric', 'timestamp with time zone', 'timestamp with time zone'], 'numeric');

SELECT is(pg_get_function_result('funnel.report(funnel.funnel_summary)'::regprocedure),
    'TABLE(stage funnel.deal_stage, deals bigint, amount numeric, conversion_from_previous funnel.rate, conversion_from_first funnel.rate, drop_off bigint, won bigint, lost bigint, open bigint, lost_here bigint, open_here bigint, win_rate funnel.rate, bar text, "position" integer, kind text, average_amount numeric, open_amount numeric, moved bigint, moved_here bigint)',
    'report() columns are those of the product brief, then those of BI tools (issue 21.4) at the end');

SELECT is(pg_get_function_result('funnel.live_report(regclass,date,date,jsonb)'::regprocedure),
    pg_get_function_result('funnel.report(funnel.funnel_summary)'::regprocedure),
    'live_report() has the columns of report() (issue 23)');

SELECT * FROM finish();
ROLLBACK;
