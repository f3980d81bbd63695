-- sql/updates/0.1--0.2.sql: the hand-written part of sql/funnel--0.1--0.2.sql
--
-- The Makefile builds the update script as
--   this file                       schemas, moved internals, catalog tables
--   statements.pl definitions       every function, aggregate and view of
--                                   sql/install/*.sql, CREATE OR REPLACE
--   0.1--0.2-after.sql              objects that need those functions
--   statements.pl privileges        every COMMENT, GRANT, REVOKE and DO block
-- so a function changed in sql/install/ reaches 0.1 installs with no edit
-- here.  An object that is not a function, aggregate or view (a type, a
-- table or its columns, an operator, a cast, an event trigger) added to
-- sql/install/ must be added here or in 0.1--0.2-after.sql by hand: the
-- upgrade test (test/upgrade/run.sh) prints it as a difference from a fresh
-- install.  Once 0.2 is released, the built script is frozen into
-- sql/funnel--0.1--0.2.sql and the next version gets an update of its own.

-- the internals' schema (sql/install/funnel.sql); USAGE is granted with the
-- privileges at the end, as its COMMENT
CREATE SCHEMA funnel_internal;
-- the schema of the Citus pipeline log (sql/install/citus/citus.sql): 0.1 made
-- it on first use, outside the extension; 0.2 makes it an extension member
-- owned by the extension owner, so no other role can have made it first
DO $$
DECLARE
    owner oid;
    ext_owner oid;
BEGIN
    SELECT n.nspowner INTO owner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'funnel_citus';
    IF NOT FOUND THEN
        CREATE SCHEMA funnel_citus;
        RETURN;
    END IF;
    SELECT e.extowner INTO ext_owner FROM pg_catalog.pg_extension e WHERE e.extname = 'funnel';
    IF owner <> ext_owner THEN
        RAISE EXCEPTION 'schema funnel_citus belongs to role %, not to the owner of extension funnel (%)',
                        owner::regrole, ext_owner::regrole
            USING ERRCODE = '42501',
                  DETAIL = 'funnel keeps its Citus pipeline log in this schema; 0.2 makes the schema part of the extension.',
                  HINT = 'Check what the schema holds, then ALTER SCHEMA funnel_citus OWNER TO the extension owner and update again.';
    END IF;
    ALTER EXTENSION funnel ADD SCHEMA funnel_citus;
END
$$;

-- 0.1 kept its internals in schema funnel, most named with a leading
-- underscore: move them (their OIDs stay, so the tracking triggers of the
-- users' tables and 0.1's event triggers follow them), rename them as 0.2
-- names them; the definitions below then replace their bodies.
ALTER FUNCTION funnel._add_stage(text, text, double precision, text, text, text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._add_stage(text, text, double precision, text, text, text) RENAME TO add_stage;
ALTER FUNCTION funnel._allow_transition(text, text, text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._allow_transition(text, text, text) RENAME TO allow_transition;
ALTER FUNCTION funnel._amount_column(regclass) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._amount_column(regclass) RENAME TO amount_column;
ALTER FUNCTION funnel._check_name(text, text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._check_name(text, text) RENAME TO check_name;
ALTER FUNCTION funnel._check_probability(text, double precision) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._check_probability(text, double precision) RENAME TO check_probability;
ALTER FUNCTION funnel._citus_group() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._citus_group() RENAME TO citus_group;
ALTER FUNCTION funnel._citus_node_name(integer) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._citus_node_name(integer) RENAME TO citus_node_name;
ALTER FUNCTION funnel._citus_role() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._citus_role() RENAME TO citus_role;
ALTER FUNCTION funnel._citus_worker_tables() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._citus_worker_tables() RENAME TO citus_worker_tables;
ALTER FUNCTION funnel._create_pipeline(text, text[], double precision[], text[], text[]) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._create_pipeline(text, text[], double precision[], text[], text[]) RENAME TO create_pipeline;
ALTER FUNCTION funnel._define_pipeline(text, jsonb) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._define_pipeline(text, jsonb) RENAME TO define_pipeline;
ALTER FUNCTION funnel._define_rules(text, jsonb) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._define_rules(text, jsonb) RENAME TO define_rules;
ALTER FUNCTION funnel._definition_rows(jsonb) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._definition_rows(jsonb) RENAME TO definition_rows;
ALTER FUNCTION funnel._disallow_transition(text, text, text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._disallow_transition(text, text, text) RENAME TO disallow_transition;
ALTER FUNCTION funnel._drop_pipeline(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._drop_pipeline(text) RENAME TO drop_pipeline;
ALTER FUNCTION funnel._equality_operator(regtype) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._equality_operator(regtype) RENAME TO equality_operator;
ALTER FUNCTION funnel._exact_jsonb(anyelement) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._exact_jsonb(anyelement) RENAME TO exact_jsonb;
ALTER FUNCTION funnel._expr_holds_pipeline(pg_node_tree, oid) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._expr_holds_pipeline(pg_node_tree, oid) RENAME TO expr_holds_pipeline;
ALTER FUNCTION funnel._jsonb_texts(jsonb) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._jsonb_texts(jsonb) RENAME TO jsonb_texts;
ALTER FUNCTION funnel._pipeline_apply(text, text, jsonb, jsonb, jsonb) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_apply(text, text, jsonb, jsonb, jsonb) RENAME TO pipeline_apply;
ALTER FUNCTION funnel._pipeline_catalog(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_catalog(text) RENAME TO pipeline_catalog;
ALTER FUNCTION funnel._pipeline_catalog_json() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_catalog_json() RENAME TO pipeline_catalog_json;
ALTER FUNCTION funnel._pipeline_change_begin(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_change_begin(text) RENAME TO pipeline_change_begin;
ALTER FUNCTION funnel._pipeline_change_end(text, text, text, jsonb) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_change_end(text, text, text, jsonb) RENAME TO pipeline_change_end;
ALTER FUNCTION funnel._pipeline_definition(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_definition(text) RENAME TO pipeline_definition;
ALTER FUNCTION funnel._pipeline_log_append(text, text, jsonb, jsonb) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_log_append(text, text, jsonb, jsonb) RENAME TO pipeline_log_append;
ALTER FUNCTION funnel._pipeline_log_apply() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_log_apply() RENAME TO pipeline_log_apply;
ALTER FUNCTION funnel._pipeline_log_ensure() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_log_ensure() RENAME TO pipeline_log_ensure;
ALTER FUNCTION funnel._pipeline_nodes_ready(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_nodes_ready(text) RENAME TO pipeline_nodes_ready;
ALTER FUNCTION funnel._pipeline_rule_rows(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_rule_rows(text) RENAME TO pipeline_rule_rows;
ALTER FUNCTION funnel._pipeline_rules(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_rules(text) RENAME TO pipeline_rules;
ALTER FUNCTION funnel._pipeline_rules_json() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_rules_json() RENAME TO pipeline_rules_json;
ALTER FUNCTION funnel._pipeline_type(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_type(text) RENAME TO pipeline_type;
ALTER FUNCTION funnel._pipeline_value_types() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._pipeline_value_types() RENAME TO pipeline_value_types;
ALTER FUNCTION funnel._rename_stage(text, text, text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._rename_stage(text, text, text) RENAME TO rename_stage;
ALTER FUNCTION funnel._require_fields(text, text, text[]) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._require_fields(text, text, text[]) RENAME TO require_fields;
ALTER FUNCTION funnel._retire_stage(text, text, boolean) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._retire_stage(text, text, boolean) RENAME TO retire_stage;
ALTER FUNCTION funnel._set_probability(text, text, double precision) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._set_probability(text, text, double precision) RENAME TO set_probability;
ALTER FUNCTION funnel._set_stale_after(text, text, interval) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._set_stale_after(text, text, interval) RENAME TO set_stale_after;
ALTER FUNCTION funnel._stage_list(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._stage_list(text) RENAME TO stage_list;
ALTER FUNCTION funnel._stage_row(text, text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._stage_row(text, text) RENAME TO stage_row;
ALTER FUNCTION funnel._svg_escape(text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._svg_escape(text) RENAME TO svg_escape;
ALTER FUNCTION funnel._svg_text_width(text, numeric) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._svg_text_width(text, numeric) RENAME TO svg_text_width;
ALTER FUNCTION funnel._track(regclass, text, name, name, text) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._track(regclass, text, name, name, text) RENAME TO track;
ALTER FUNCTION funnel._track_ddl_end() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._track_ddl_end() RENAME TO track_ddl_end;
ALTER FUNCTION funnel._track_sql_drop() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._track_sql_drop() RENAME TO track_sql_drop;
ALTER FUNCTION funnel._track_stage_changed() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._track_stage_changed() RENAME TO track_stage_changed;
ALTER FUNCTION funnel._untrack(regclass) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._untrack(regclass) RENAME TO untrack;
ALTER FUNCTION funnel._value_holds_pipeline("any", oid) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel_internal._value_holds_pipeline("any", oid) RENAME TO value_holds_pipeline;
ALTER FUNCTION funnel.avg_time_in_stage_final(funnel.forecast_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.avg_time_in_stage_final_days(funnel.forecast_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.avg_time_in_stage_trans(funnel.forecast_state, timestamp with time zone, timestamp with time zone) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.catalog_changed() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.conversion_rate_trans(bigint[], funnel.deal_stage, funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage(funnel.deal_stage, integer, boolean) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage(text, integer, boolean) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_cmp(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_eq(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_ge(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_gt(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_hash(funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_hash_extended(funnel.deal_stage, bigint) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_in(cstring, oid, integer) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_larger(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_le(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_lt(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_ne(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_out(funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_recv(internal, oid, integer) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_send(funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_smaller(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_sortsupport(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_typmod_in(cstring[]) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.deal_stage_typmod_out(integer) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.duration_sample_in(cstring) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.duration_sample_out(funnel.duration_sample) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.duration_sample_recv(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.duration_sample_send(funnel.duration_sample) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.forecast_state_combine(funnel.forecast_state, funnel.forecast_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.forecast_state_final(funnel.forecast_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.forecast_state_in(cstring) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.forecast_state_out(funnel.forecast_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.forecast_state_recv(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.forecast_state_send(funnel.forecast_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_counters_combine(bigint[], bigint[]) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_counters_ratio(bigint[]) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_current_trans(funnel.funnel_summary, funnel.deal_stage, numeric, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_in(cstring) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey, numeric) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_merge(funnel.funnel_summary, funnel.funnel_summary) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_out(funnel.funnel_summary) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_recv(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_send(funnel.funnel_summary) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage, numeric) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.furthest_trans(funnel.deal_stage, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.journey_combine(funnel.journey, funnel.journey) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.journey_in(cstring) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.journey_out(funnel.journey) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.journey_recv(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.journey_send(funnel.journey) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.journey_trans(funnel.journey, funnel.deal_stage, timestamp with time zone) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.sales_velocity_journey_trans(funnel.velocity_state, funnel.journey, numeric) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.sales_velocity_trans(funnel.velocity_state, funnel.deal_stage, numeric, timestamp with time zone, timestamp with time zone) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.time_in_stage_combine(funnel.duration_sample, funnel.duration_sample) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.time_in_stage_final(funnel.duration_sample) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.time_in_stage_final_days(funnel.duration_sample) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.time_in_stage_trans(funnel.duration_sample, timestamp with time zone, timestamp with time zone) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.time_in_stage_trans(funnel.duration_sample, timestamp with time zone, timestamp with time zone, double precision) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.track_delete() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.track_insert() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.track_resolve() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.track_truncate() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.track_update() SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.velocity_state_combine(funnel.velocity_state, funnel.velocity_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.velocity_state_final(funnel.velocity_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.velocity_state_in(cstring) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.velocity_state_out(funnel.velocity_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.velocity_state_parts(funnel.velocity_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.velocity_state_recv(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.velocity_state_send(funnel.velocity_state) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.weighted_forecast_float8_trans(funnel.forecast_state, numeric, double precision) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.weighted_forecast_numeric_trans(funnel.forecast_state, numeric, numeric) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.weighted_forecast_stage_trans(funnel.forecast_state, numeric, funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.win_rate_final(bigint[]) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.win_rate_trans(bigint[], funnel.deal_stage) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.window_funnel_combine(internal, internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.window_funnel_deserialize(bytea, internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.window_funnel_final(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.window_funnel_serialize(internal) SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.window_funnel_trans(internal, interval, text, timestamp with time zone, "any") SET SCHEMA funnel_internal;
ALTER FUNCTION funnel.window_funnel_trans(internal, interval, timestamp with time zone, "any") SET SCHEMA funnel_internal;

-- signatures that changed: 0.2 adds arguments (column names of other
-- history layouts; stale_deals' pipeline), created with the definitions
DROP FUNCTION funnel.pipeline_as_of(regclass, timestamptz);
DROP FUNCTION funnel.pipeline_trend(regclass, timestamptz[], regclass);
DROP FUNCTION funnel.stale_deals(regclass, timestamptz, double precision);
-- and result columns that changed: report() gives more columns (and rates
-- as funnel.rate), the pipeline's catalog rows give the owner
DROP FUNCTION funnel.report(funnel.funnel_summary);
DROP FUNCTION funnel_internal.pipeline_catalog(text);
DROP FUNCTION funnel_internal.definition_rows(jsonb);

-- report()'s rates (sql/install/aggregates/agg_report.sql)
CREATE DOMAIN funnel.rate AS numeric(7,6);

-- pipelines have owners (doc/security.md "Pipeline ownership"): a pipeline
-- made by 0.1 gets the extension owner, as sql/install/pipeline/pipeline.sql says of
-- rows made before owners existed (the default comes after the UPDATE: a
-- column added with it would keep it as a "missing value" a fresh install
-- does not have)
ALTER TABLE funnel.pipeline ADD COLUMN owner name;
UPDATE funnel.pipeline
   SET owner = (SELECT e.extowner::regrole::name
                  FROM pg_catalog.pg_extension e WHERE e.extname = 'funnel');
ALTER TABLE funnel.pipeline ALTER COLUMN owner SET DEFAULT CURRENT_USER,
                            ALTER COLUMN owner SET NOT NULL;

-- a deals table may hold several pipelines (sql/install/track/track_many.sql):
-- pipeline becomes NULL for those, pipelines lists them; 0.1's rows keep
-- their one pipeline.  The rule's CHECK is re-made after the definitions,
-- with funnel_internal.check_rule().
ALTER TABLE funnel.tracked_table ALTER COLUMN pipeline DROP NOT NULL;
ALTER TABLE funnel.tracked_table ADD COLUMN pipelines text[];
ALTER TABLE funnel.tracked_table
    ADD CONSTRAINT tracked_table_check CHECK ((pipeline IS NULL) <> (pipelines IS NULL));

-- live summaries (sql/install/live/live.sql)
CREATE TABLE funnel.live_table (
    deals         regclass PRIMARY KEY,
    live          regclass NOT NULL,
    dimensions    name[] NOT NULL,
    amount_column name,
    -- text, not regprocedure: pg_upgrade refuses regprocedure columns
    -- (function OIDs are not kept); the schema-qualified signature
    delta_function text NOT NULL,
    enabled_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('funnel.live_table', '');
