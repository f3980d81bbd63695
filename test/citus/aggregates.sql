-- test/citus/aggregates.sql: every funnel aggregate and analysis function on a
-- distributed table (hash by deal id, 32 shards) equals the same query on an
-- identical local table, grouped and ungrouped; and Citus pushes partial
-- aggregation to the workers exactly for the aggregates whose state is a real
-- SQL type (EXPLAIN VERBOSE of the coordinator: worker_partial_agg in the
-- shard queries).  Data: the Maven CRM opportunities (data/maven_crm)
-- replayed as a stage history, as sql/journey.sql does: Prospecting from
-- 2016-10-01 for deals never engaged, Engaging from engage_date, Won or Lost
-- at close_date; left_at = the next visit's entered_at.
--
-- Not in a transaction: run_command_on_workers (the fixture block) uses its
-- own connections, which a ROLLBACK here would not undo.  The tables are
-- dropped at the end; the database is a throw-away one (test/citus/run.sh).
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';
-- one more comparison where funnel.required_pipeline exists (branch reverse)
SELECT plan(121 + (to_regprocedure('funnel.required_pipeline(funnel.funnel_summary,numeric,numeric)') IS NOT NULL)::int);

SELECT funnel.create_pipeline('maven_citus', ARRAY['Prospecting', 'Engaging'], ARRAY[0.1, 0.4],
                              won => ARRAY['Won'], lost => ARRAY['Lost'])
 WHERE NOT EXISTS (SELECT 1 FROM funnel.pipeline WHERE name = 'maven_citus');

-- create_pipeline on the coordinator reaches every node (test/citus/pipeline_ddl.sql)

SELECT is((SELECT count(*)::int FROM run_command_on_workers(
               $$SELECT string_agg(format('%s %s %s %s', s.stage, s.probability, s.kind, e.enumsortorder), ', ' ORDER BY e.enumsortorder)
                   FROM funnel.pipeline_stage s
                   JOIN pg_enum e ON e.enumtypid = 'funnel_pipeline.maven_citus'::regtype AND e.enumlabel = s.stage
                  WHERE s.pipeline = 'maven_citus'$$)
            WHERE success AND result = 'Prospecting 0.1 open 1, Engaging 0.4 open 2, Won 1 won 3, Lost 0 lost 4'),
          2, 'both workers have the pipeline: enum labels in order and stage attributes');

-- the data: a local table and a distributed copy
DROP TABLE IF EXISTS visits, visits_local;
\i test/citus/fixtures/maven_visits.sql
CREATE TABLE visits_local (deal_id text NOT NULL, owner text NOT NULL, product text NOT NULL,
                           stage funnel.deal_stage(maven_citus) NOT NULL,
                           entered_at timestamptz NOT NULL, left_at timestamptz, amount numeric(12,2));
INSERT INTO visits_local SELECT * FROM maven_visits;
CREATE TABLE visits (LIKE visits_local);
SET citus.shard_count = 32;
SELECT create_distributed_table('visits', 'deal_id');
INSERT INTO visits SELECT * FROM visits_local;

SELECT is((SELECT format('%s visits, %s deals, %s closed visits', count(*), count(DISTINCT deal_id), count(left_at)) FROM visits),
          '15511 visits, 8800 deals, 6711 closed visits', 'distributed table: the Maven history');
SELECT is((SELECT format('%s visits, %s deals, %s closed visits', count(*), count(DISTINCT deal_id), count(left_at)) FROM visits_local),
          '15511 visits, 8800 deals, 6711 closed visits', 'local table: the same history');
SELECT is((SELECT format('%s shards, %s workers', count(*), count(DISTINCT nodeport))
             FROM pg_dist_shard s JOIN pg_dist_shard_placement p USING (shardid)
            WHERE s.logicalrelid = 'visits'::regclass),
          '32 shards, 2 workers', 'visits is hash-distributed over 32 shards on both workers');

-- anchors: the distributed results are the known figures (plain SQL over the CSV)
SELECT is((SELECT funnel.win_rate(stage) FROM visits WHERE left_at IS NULL),
          (SELECT count(*) FILTER (WHERE deal_stage = 'Won')::numeric / count(*) FILTER (WHERE deal_stage IN ('Won', 'Lost')) FROM maven_raw),
          'distributed win_rate = 4238 / 6711 from the CSV');
SELECT is((SELECT format('%s reached, %s won, %s lost, %s open', r.deals, r.won, r.lost, r.open)
             FROM funnel.report((SELECT funnel.funnel(j) FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j
                                                                 FROM visits GROUP BY deal_id) d)) r
            WHERE funnel.stage_name(r.stage) = 'Engaging'),
          '8300 reached, 4238 won, 2473 lost, 1589 open', 'distributed journey report at Engaging: the figures of issue 9');
SELECT is((SELECT funnel.weighted_forecast(amount, stage) FROM visits WHERE left_at IS NULL),
          (SELECT sum(close_value * CASE deal_stage WHEN 'Prospecting' THEN 0.1 WHEN 'Engaging' THEN 0.4
                                                    WHEN 'Won' THEN 1 ELSE 0 END) FROM maven_raw),
          'distributed weighted_forecast = plain SQL sum(amount x probability) over the CSV');
SELECT is((SELECT funnel.median_time_in_stage(entered_at, left_at) FROM visits),
          (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) FROM visits_local WHERE left_at IS NOT NULL),
          'distributed median_time_in_stage = percentile_cont(0.5)');

-- Comparisons: each query (%1$s = the table) run on visits and on
-- visits_local gives the same rows in the same order.  funnel's own types are
-- compared by their text form.  covers: the aggregates and functions it
-- exercises (checked against the catalog below).
-- {deals}: per deal its furthest stage, journey and amount (owner and
-- product depend on the deal)
SET client_min_messages = error;   -- pg_temp functions stay local: Citus warns
CREATE FUNCTION pg_temp.q(query text, tbl text) RETURNS text LANGUAGE sql AS $$
    SELECT format(replace(query, '{deals}',
                          '(SELECT deal_id, owner, product, funnel.furthest(stage) AS reached,
                                   funnel.journey(stage, entered_at) AS j, max(amount) AS amount
                              FROM %1$s GROUP BY deal_id, owner, product) d'), tbl)
$$;
SET client_min_messages = warning;
CREATE TEMP TABLE cases (name text PRIMARY KEY, query text NOT NULL, covers regprocedure[] NOT NULL);
INSERT INTO cases VALUES
('min, max', $$SELECT min(stage), max(stage), funnel.min(stage), funnel.max(stage) FROM %1$s$$,
 '{"min(funnel.deal_stage)","max(funnel.deal_stage)","funnel.min(funnel.deal_stage)","funnel.max(funnel.deal_stage)"}'),
('min, max per owner', $$SELECT owner, min(stage), max(stage), funnel.min(stage), funnel.max(stage) FROM %1$s GROUP BY owner ORDER BY owner$$,
 '{"min(funnel.deal_stage)","max(funnel.deal_stage)","funnel.min(funnel.deal_stage)","funnel.max(funnel.deal_stage)"}'),
('stage functions per visit',
 $$SELECT deal_id, entered_at, stage, funnel.pipeline_of(stage), funnel.stage_name(stage), funnel.position(stage),
          funnel.probability(stage), funnel.kind(stage), funnel.stale_after(stage)
     FROM %1$s ORDER BY deal_id, entered_at, stage$$,
 '{"funnel.pipeline_of(funnel.deal_stage)","funnel.stage_name(funnel.deal_stage)","funnel.position(funnel.deal_stage)","funnel.probability(funnel.deal_stage)","funnel.kind(funnel.deal_stage)","funnel.stale_after(funnel.deal_stage)"}'),
('bare names per visit, as text (read in the bound pipeline; any pipeline for IS DISTINCT FROM called by name)',
 $$SELECT deal_id, entered_at, stage, stage = 'Engaging'::text, stage IN ('Won'::text, 'Lost'::varchar),
          stage < 'Won'::text, funnel_internal.stage_distinct_named(stage, 'Engaging'),
          funnel_internal.stage_distinct_named(stage, 'maven_citus:Won')
     FROM %1$s ORDER BY deal_id, entered_at, stage$$,
 '{"funnel_internal.stage_distinct_named(funnel.deal_stage,text)"}'),
('text filters per visit (LIKE, ILIKE, NOT forms, lower, upper)',
 $$SELECT deal_id, entered_at, stage, stage LIKE '%%won', stage NOT LIKE 'b2b:%%', stage ILIKE '%%LEAD',
          stage NOT ILIKE '%%:W%%', lower(stage), upper(stage)
     FROM %1$s WHERE stage LIKE '%%:%%' ORDER BY deal_id, entered_at, stage$$,
 '{"funnel_internal.deal_stage_like(funnel.deal_stage,text)","funnel_internal.deal_stage_nlike(funnel.deal_stage,text)","funnel_internal.deal_stage_ilike(funnel.deal_stage,text)","funnel_internal.deal_stage_nilike(funnel.deal_stage,text)","lower(funnel.deal_stage)","upper(funnel.deal_stage)"}'),
('furthest', $$SELECT funnel.furthest(stage) FROM %1$s$$, '{"funnel.furthest(funnel.deal_stage)"}'),
('furthest per deal', $$SELECT deal_id, funnel.furthest(stage) FROM %1$s GROUP BY deal_id ORDER BY deal_id$$, '{"funnel.furthest(funnel.deal_stage)"}'),
('furthest per owner', $$SELECT owner, funnel.furthest(stage) FROM %1$s GROUP BY owner ORDER BY owner$$, '{"funnel.furthest(funnel.deal_stage)"}'),
('journey', $$SELECT funnel.journey(stage, entered_at)::text FROM %1$s$$, '{"funnel.journey(funnel.deal_stage,timestamptz)"}'),
('journey per owner', $$SELECT owner, funnel.journey(stage, entered_at)::text FROM %1$s GROUP BY owner ORDER BY owner$$,
 '{"funnel.journey(funnel.deal_stage,timestamptz)"}'),
('journey and its accessors per deal',
 $$SELECT deal_id, j::text, funnel.outcome(j), funnel.current_stage(j), funnel.furthest_stage(j), funnel.last_open_stage(j),
          funnel.started_at(j), funnel.closed_at(j), funnel.sales_cycle(j)
     FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM %1$s GROUP BY deal_id) d ORDER BY deal_id$$,
 '{"funnel.journey(funnel.deal_stage,timestamptz)","funnel.outcome(funnel.journey)","funnel.current_stage(funnel.journey)","funnel.furthest_stage(funnel.journey)","funnel.last_open_stage(funnel.journey)","funnel.started_at(funnel.journey)","funnel.closed_at(funnel.journey)","funnel.sales_cycle(funnel.journey)"}'),
('conversion_rate',
 $$SELECT funnel.conversion_rate(reached, 'maven_citus:Prospecting', 'maven_citus:Engaging'),
          funnel.conversion_rate(reached, 'maven_citus:Engaging', 'maven_citus:Won') FROM {deals}$$,
 '{"funnel.conversion_rate(funnel.deal_stage,funnel.deal_stage,funnel.deal_stage)"}'),
('conversion_rate per owner',
 $$SELECT owner, funnel.conversion_rate(reached, 'maven_citus:Prospecting', 'maven_citus:Engaging'),
          funnel.conversion_rate(reached, 'maven_citus:Engaging', 'maven_citus:Won') FROM {deals} GROUP BY owner ORDER BY owner$$,
 '{"funnel.conversion_rate(funnel.deal_stage,funnel.deal_stage,funnel.deal_stage)"}'),
('funnel(furthest [, amount])', $$SELECT funnel.funnel(reached)::text, funnel.funnel(reached, amount)::text FROM {deals}$$,
 '{"funnel.funnel(funnel.deal_stage)","funnel.funnel(funnel.deal_stage,numeric)"}'),
('funnel(furthest [, amount]) per product',
 $$SELECT product, funnel.funnel(reached)::text, funnel.funnel(reached, amount)::text FROM {deals} GROUP BY product ORDER BY product$$,
 '{"funnel.funnel(funnel.deal_stage)","funnel.funnel(funnel.deal_stage,numeric)"}'),
('funnel(journey [, amount])', $$SELECT funnel.funnel(j)::text, funnel.funnel(j, amount)::text FROM {deals}$$,
 '{"funnel.funnel(funnel.journey)","funnel.funnel(funnel.journey,numeric)"}'),
('funnel(journey [, amount]) per owner',
 $$SELECT owner, funnel.funnel(j)::text, funnel.funnel(j, amount)::text FROM {deals} GROUP BY owner ORDER BY owner$$,
 '{"funnel.funnel(funnel.journey)","funnel.funnel(funnel.journey,numeric)"}'),
('funnel(current stage, amount, lost_at)',
 $$SELECT funnel.funnel(stage, amount, NULL)::text,
          funnel.funnel(stage, amount, CASE WHEN funnel.kind(stage) = 'lost' THEN 'maven_citus:Engaging'::funnel.deal_stage END)::text
     FROM %1$s WHERE left_at IS NULL$$,
 '{"funnel.funnel(funnel.deal_stage,numeric,funnel.deal_stage)"}'),
('funnel(current stage, amount, lost_at) per owner',
 $$SELECT owner, funnel.funnel(stage, amount, NULL)::text FROM %1$s WHERE left_at IS NULL GROUP BY owner ORDER BY owner$$,
 '{"funnel.funnel(funnel.deal_stage,numeric,funnel.deal_stage)"}'),
('funnel(summary): per-owner summaries merged',
 $$SELECT funnel.funnel(f)::text, funnel.funnel(g)::text
     FROM (SELECT owner, funnel.funnel(j, amount) AS f, funnel.funnel(reached) AS g FROM {deals} GROUP BY owner) s$$,
 '{"funnel.funnel(funnel.funnel_summary)"}'),
('funnel(summary): per-deal summaries merged per product',
 $$SELECT product, funnel.funnel(f)::text
     FROM (SELECT deal_id, product, funnel.funnel(stage, amount, NULL) AS f FROM %1$s WHERE left_at IS NULL GROUP BY deal_id, product) s
    GROUP BY product ORDER BY product$$,
 '{"funnel.funnel(funnel.funnel_summary)"}'),
('report(furthest summary)',
 $$SELECT r.* FROM funnel.report((SELECT funnel.funnel(reached, amount) FROM {deals})) r$$,
 '{"funnel.report(funnel.funnel_summary)"}'),
('report(journey summary)',
 $$SELECT r.* FROM funnel.report((SELECT funnel.funnel(j, amount) FROM {deals})) r$$,
 '{"funnel.report(funnel.funnel_summary)"}'),
('report per owner (LATERAL)',
 $$SELECT s.owner, r.* FROM (SELECT owner, funnel.funnel(j, amount) AS f FROM {deals} GROUP BY owner) s,
          LATERAL funnel.report(s.f) r ORDER BY s.owner, r.stage$$,
 '{"funnel.report(funnel.funnel_summary)"}'),
('learned_probabilities',
 $$SELECT l.* FROM funnel.learned_probabilities((SELECT funnel.funnel(j) FROM {deals})) l$$,
 '{"funnel.learned_probabilities(funnel.funnel_summary)"}'),
('learned_probabilities per product (LATERAL)',
 $$SELECT s.product, l.* FROM (SELECT product, funnel.funnel(j) AS f FROM {deals} GROUP BY product) s,
          LATERAL funnel.learned_probabilities(s.f) l ORDER BY s.product, l.stage$$,
 '{"funnel.learned_probabilities(funnel.funnel_summary)"}'),
('funnel_svg', $$SELECT funnel.funnel_svg((SELECT funnel.funnel(j, amount) FROM {deals}))$$,
 '{"funnel.funnel_svg(funnel.funnel_summary,jsonb)"}'),
('win_rate', $$SELECT funnel.win_rate(stage) FROM %1$s WHERE left_at IS NULL$$, '{"funnel.win_rate(funnel.deal_stage)"}'),
-- on the workers, worker_partial_agg calls every transition function with a
-- new FmgrInfo per row; funnel's calls in one aggregate context share one
-- call cache of stage facts and memos (issue 22.4): mixed aggregates, two
-- conversion_rate stage pairs and float8 probabilities in one cache
('several aggregates in one query (one shared call cache on the workers)',
 $$SELECT funnel.funnel(stage, amount)::text, funnel.weighted_forecast(amount, stage), funnel.win_rate(stage),
          funnel.conversion_rate(stage, 'maven_citus:Prospecting', 'maven_citus:Engaging'),
          funnel.conversion_rate(stage, 'maven_citus:Engaging', 'maven_citus:Won'),
          funnel.weighted_forecast(amount, funnel.probability(stage)), funnel.furthest(stage), funnel.funnel(stage)::text
     FROM %1$s WHERE left_at IS NULL$$,
 '{"funnel.funnel(funnel.deal_stage,numeric)","funnel.weighted_forecast(numeric,funnel.deal_stage)","funnel.win_rate(funnel.deal_stage)"}'),
('several aggregates in one query per owner and product',
 $$SELECT owner, product, funnel.funnel(stage, amount)::text, funnel.weighted_forecast(amount, stage), funnel.win_rate(stage),
          funnel.conversion_rate(stage, 'maven_citus:Prospecting', 'maven_citus:Engaging'), funnel.furthest(stage)
     FROM %1$s WHERE left_at IS NULL GROUP BY owner, product ORDER BY owner, product$$,
 '{"funnel.funnel(funnel.deal_stage,numeric)","funnel.weighted_forecast(numeric,funnel.deal_stage)","funnel.win_rate(funnel.deal_stage)"}'),
('win_rate per owner', $$SELECT owner, funnel.win_rate(stage) FROM %1$s WHERE left_at IS NULL GROUP BY owner ORDER BY owner$$,
 '{"funnel.win_rate(funnel.deal_stage)"}'),
('weighted_forecast (three forms)',
 $$SELECT funnel.weighted_forecast(amount, stage), funnel.weighted_forecast(amount, funnel.probability(stage)::numeric),
          funnel.weighted_forecast(amount, funnel.probability(stage)) FROM %1$s WHERE left_at IS NULL$$,
 '{"funnel.weighted_forecast(numeric,funnel.deal_stage)","funnel.weighted_forecast(numeric,numeric)","funnel.weighted_forecast(numeric,float8)"}'),
('weighted_forecast (three forms) per owner',
 $$SELECT owner, funnel.weighted_forecast(amount, stage), funnel.weighted_forecast(amount, funnel.probability(stage)::numeric),
          funnel.weighted_forecast(amount, funnel.probability(stage)) FROM %1$s WHERE left_at IS NULL GROUP BY owner ORDER BY owner$$,
 '{"funnel.weighted_forecast(numeric,funnel.deal_stage)","funnel.weighted_forecast(numeric,numeric)","funnel.weighted_forecast(numeric,float8)"}'),
('sales_velocity (both forms) and parts',
 $$SELECT funnel.sales_velocity(funnel.current_stage(j), amount, funnel.started_at(j), funnel.closed_at(j)),
          funnel.sales_velocity(j, amount),
          funnel.sales_velocity_parts(funnel.current_stage(j), amount, funnel.started_at(j), funnel.closed_at(j))::text,
          funnel.sales_velocity_parts(j, amount)::text FROM {deals}$$,
 '{"funnel.sales_velocity(funnel.deal_stage,numeric,timestamptz,timestamptz)","funnel.sales_velocity(funnel.journey,numeric)","funnel.sales_velocity_parts(funnel.deal_stage,numeric,timestamptz,timestamptz)","funnel.sales_velocity_parts(funnel.journey,numeric)"}'),
('sales_velocity (both forms) and parts per owner',
 $$SELECT owner, funnel.sales_velocity(funnel.current_stage(j), amount, funnel.started_at(j), funnel.closed_at(j)),
          funnel.sales_velocity(j, amount),
          funnel.sales_velocity_parts(funnel.current_stage(j), amount, funnel.started_at(j), funnel.closed_at(j))::text,
          funnel.sales_velocity_parts(j, amount)::text FROM {deals} GROUP BY owner ORDER BY owner$$,
 '{"funnel.sales_velocity(funnel.deal_stage,numeric,timestamptz,timestamptz)","funnel.sales_velocity(funnel.journey,numeric)","funnel.sales_velocity_parts(funnel.deal_stage,numeric,timestamptz,timestamptz)","funnel.sales_velocity_parts(funnel.journey,numeric)"}'),
('time in stage',
 $$SELECT funnel.median_time_in_stage(entered_at, left_at), funnel.time_in_stage_percentile(entered_at, left_at, 0.9),
          funnel.median_time_in_stage_days(entered_at, left_at), funnel.time_in_stage_percentile_days(entered_at, left_at, 0.25),
          funnel.avg_time_in_stage(entered_at, left_at), funnel.avg_time_in_stage_days(entered_at, left_at) FROM %1$s$$,
 '{"funnel.median_time_in_stage(timestamptz,timestamptz)","funnel.time_in_stage_percentile(timestamptz,timestamptz,float8)","funnel.median_time_in_stage_days(timestamptz,timestamptz)","funnel.time_in_stage_percentile_days(timestamptz,timestamptz,float8)","funnel.avg_time_in_stage(timestamptz,timestamptz)","funnel.avg_time_in_stage_days(timestamptz,timestamptz)"}'),
('time in stage per stage',
 $$SELECT stage, funnel.median_time_in_stage(entered_at, left_at), funnel.time_in_stage_percentile(entered_at, left_at, 0.9),
          funnel.median_time_in_stage_days(entered_at, left_at), funnel.time_in_stage_percentile_days(entered_at, left_at, 0.25),
          funnel.avg_time_in_stage(entered_at, left_at), funnel.avg_time_in_stage_days(entered_at, left_at) FROM %1$s GROUP BY stage ORDER BY stage$$,
 '{"funnel.median_time_in_stage(timestamptz,timestamptz)","funnel.time_in_stage_percentile(timestamptz,timestamptz,float8)","funnel.median_time_in_stage_days(timestamptz,timestamptz)","funnel.time_in_stage_percentile_days(timestamptz,timestamptz,float8)","funnel.avg_time_in_stage(timestamptz,timestamptz)","funnel.avg_time_in_stage_days(timestamptz,timestamptz)"}'),
('time in stage per owner',
 $$SELECT owner, funnel.median_time_in_stage(entered_at, left_at), funnel.time_in_stage_percentile(entered_at, left_at, 0.9),
          funnel.median_time_in_stage_days(entered_at, left_at), funnel.time_in_stage_percentile_days(entered_at, left_at, 0.25),
          funnel.avg_time_in_stage(entered_at, left_at), funnel.avg_time_in_stage_days(entered_at, left_at) FROM %1$s GROUP BY owner ORDER BY owner$$,
 '{"funnel.median_time_in_stage(timestamptz,timestamptz)","funnel.time_in_stage_percentile(timestamptz,timestamptz,float8)","funnel.median_time_in_stage_days(timestamptz,timestamptz)","funnel.time_in_stage_percentile_days(timestamptz,timestamptz,float8)","funnel.avg_time_in_stage(timestamptz,timestamptz)","funnel.avg_time_in_stage_days(timestamptz,timestamptz)"}'),
('window_funnel (both forms) per deal',
 $$SELECT deal_id,
          funnel.window_funnel('120 days', entered_at, stage = 'maven_citus:Prospecting', stage = 'maven_citus:Engaging', stage = 'maven_citus:Won'),
          funnel.window_funnel('120 days', 'strict_order', entered_at, stage = 'maven_citus:Engaging', stage = 'maven_citus:Won')
     FROM %1$s GROUP BY deal_id ORDER BY deal_id$$,
 '{"funnel.window_funnel(interval,timestamptz,\"any\")","funnel.window_funnel(interval,text,timestamptz,\"any\")"}'),
('window_funnel (both forms) per owner',
 $$SELECT owner,
          funnel.window_funnel('120 days', entered_at, stage = 'maven_citus:Engaging', stage = 'maven_citus:Won'),
          funnel.window_funnel('120 days', 'strict_increase', entered_at, stage = 'maven_citus:Engaging', stage = 'maven_citus:Lost')
     FROM %1$s GROUP BY owner ORDER BY owner$$,
 '{"funnel.window_funnel(interval,timestamptz,\"any\")","funnel.window_funnel(interval,text,timestamptz,\"any\")"}');
-- the reverse funnel (issue 10.1), once branch reverse has landed
-- the journey of a deal in one pipeline of several (one pipeline here)
INSERT INTO cases VALUES
('journey in a pipeline, per deal',
 $$SELECT deal_id, funnel.journey(stage, entered_at, left_at, 'maven_citus')::text FROM %1$s GROUP BY deal_id ORDER BY deal_id$$,
 '{"funnel.journey(funnel.deal_stage,timestamptz,timestamptz,text)"}');
INSERT INTO cases
SELECT 'required_pipeline',
       $$SELECT r.* FROM funnel.required_pipeline((SELECT funnel.funnel(j, amount) FROM {deals}), 5000000) r$$, ARRAY[p]
  FROM to_regprocedure('funnel.required_pipeline(funnel.funnel_summary,numeric,numeric)') p WHERE p IS NOT NULL;

SELECT results_eq(pg_temp.q(query, 'visits'), pg_temp.q(query, 'visits_local'), 'distributed = local: ' || name)
  FROM cases ORDER BY name;

-- the shared call cache with sorted grouping on the workers: the wrapper's
-- aggregate context is reset at every group, and the cache with it
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enable_hashagg = off;
SELECT results_eq(pg_temp.q(query, 'visits'), pg_temp.q(query, 'visits_local'), 'distributed = local, sorted grouping: ' || name)
  FROM cases WHERE name = 'several aggregates in one query per owner and product';
COMMIT;

-- the comparisons are not vacuous: every query returns rows with values
SET client_min_messages = error;
CREATE FUNCTION pg_temp.row_stats(q text, OUT n bigint, OUT non_null bigint) LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE NOT (x IS NULL)) FROM (%s) x', q) INTO n, non_null;
END $$;
SET client_min_messages = warning;
SELECT is((SELECT string_agg(name, ', ' ORDER BY name) FROM cases, pg_temp.row_stats(pg_temp.q(query, 'visits_local')) s
            WHERE s.n = 0 OR s.non_null = 0),
          NULL, 'every comparison returns rows with non-NULL values');

-- every aggregate of the extension is compared (a new one must be added here)
SELECT is((SELECT string_agg(a.aggfnoid::regprocedure::text, ', ' ORDER BY a.aggfnoid::regprocedure::text)
             FROM pg_aggregate a
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = a.aggfnoid AND d.deptype = 'e'
                             AND d.refclassid = 'pg_extension'::regclass
                             AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'funnel')
            WHERE a.aggfnoid NOT IN (SELECT unnest(covers)::oid FROM cases)
              -- the internals of live summaries (funnel_internal.live_*)
              -- read only a live table, which Citus does not distribute yet
              -- (issue 23.5, doc/design.md "Live summaries")
              AND a.aggfnoid NOT IN (SELECT oid FROM pg_proc WHERE pronamespace = 'funnel_internal'::regnamespace AND proname LIKE 'live\_%')),
          NULL, 'every funnel aggregate (but the internals of live summaries) is compared distributed vs local');
-- and every function taking a stage, journey or summary
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text)
             FROM pg_proc p
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                             AND d.refclassid = 'pg_extension'::regclass
                             AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'funnel')
            WHERE p.prokind = 'f' AND p.proname !~ '(_trans|_combine|_final|_final_days|_merge|_in|_out|_recv|_send|_eq|_ne|_lt|_le|_gt|_ge|_cmp|_hash|_hash_extended|_larger|_smaller|_parts)$'
              AND p.proname NOT IN ('deal_stage', 'furthest_trans')
              AND p.proargtypes::oid[] && ARRAY['funnel.deal_stage'::regtype, 'funnel.journey'::regtype, 'funnel.funnel_summary'::regtype]::oid[]
              AND p.oid NOT IN (SELECT unnest(covers)::oid FROM cases)
              -- the internals of live summaries, as above
              AND NOT (p.pronamespace = 'funnel_internal'::regnamespace AND p.proname LIKE 'live\_%')),
          NULL, 'every analysis function of a stage, journey or summary (but the internals of live summaries) is compared distributed vs local');

-- Pushdown: Citus runs partial aggregation on the workers
-- (worker_partial_agg in the shard query) exactly for the aggregates whose
-- state is a real SQL type; those with an `internal` state (the exact
-- percentiles, window_funnel) pull their input columns to the coordinator.
SET client_min_messages = error;
CREATE FUNCTION pg_temp.partial_aggs(q text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) ' || q INTO plan;
    RETURN ARRAY(SELECT DISTINCT m[1] FROM regexp_matches(plan::text, 'worker_partial_agg\(''([^'']+)''::regprocedure', 'g') m);
END $$;
SET client_min_messages = warning;
CREATE TEMP TABLE pushdown (agg regprocedure PRIMARY KEY, query text NOT NULL);
INSERT INTO pushdown VALUES
('min(funnel.deal_stage)', 'SELECT min(stage) FROM visits'),
('max(funnel.deal_stage)', 'SELECT max(stage) FROM visits'),
('funnel.min(funnel.deal_stage)', 'SELECT funnel.min(stage) FROM visits'),
('funnel.max(funnel.deal_stage)', 'SELECT funnel.max(stage) FROM visits'),
('funnel.furthest(funnel.deal_stage)', 'SELECT owner, funnel.furthest(stage) FROM visits GROUP BY owner'),
('funnel.conversion_rate(funnel.deal_stage,funnel.deal_stage,funnel.deal_stage)',
 $$SELECT funnel.conversion_rate(stage, 'maven_citus:Prospecting', 'maven_citus:Engaging') FROM visits WHERE left_at IS NULL$$),
('funnel.win_rate(funnel.deal_stage)', 'SELECT funnel.win_rate(stage) FROM visits WHERE left_at IS NULL'),
('funnel.journey(funnel.deal_stage,timestamptz)', 'SELECT owner, funnel.journey(stage, entered_at) FROM visits GROUP BY owner'),
('funnel.journey(funnel.deal_stage,timestamptz,timestamptz,text)',
 $$SELECT deal_id, funnel.journey(stage, entered_at, left_at, 'maven_citus') FROM visits GROUP BY deal_id$$),
('funnel.funnel(funnel.deal_stage)', 'SELECT funnel.funnel(stage) FROM visits WHERE left_at IS NULL'),
('funnel.funnel(funnel.deal_stage,numeric)', 'SELECT owner, funnel.funnel(stage, amount) FROM visits WHERE left_at IS NULL GROUP BY owner'),
('funnel.funnel(funnel.journey)',
 'SELECT funnel.funnel(j) FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM visits GROUP BY deal_id) d'),
('funnel.funnel(funnel.journey,numeric)',
 'SELECT funnel.funnel(j, a) FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j, max(amount) AS a FROM visits GROUP BY deal_id) d'),
('funnel.funnel(funnel.deal_stage,numeric,funnel.deal_stage)', 'SELECT funnel.funnel(stage, amount, NULL) FROM visits WHERE left_at IS NULL'),
('funnel.funnel(funnel.funnel_summary)',
 'SELECT funnel.funnel(f) FROM (SELECT deal_id, funnel.funnel(stage) AS f FROM visits WHERE left_at IS NULL GROUP BY deal_id) d'),
('funnel.weighted_forecast(numeric,funnel.deal_stage)', 'SELECT funnel.weighted_forecast(amount, stage) FROM visits WHERE left_at IS NULL'),
('funnel.weighted_forecast(numeric,numeric)', 'SELECT funnel.weighted_forecast(amount, 0.25::numeric) FROM visits'),
('funnel.weighted_forecast(numeric,float8)', 'SELECT funnel.weighted_forecast(amount, funnel.probability(stage)) FROM visits WHERE left_at IS NULL'),
('funnel.avg_time_in_stage(timestamptz,timestamptz)', 'SELECT funnel.avg_time_in_stage(entered_at, left_at) FROM visits'),
('funnel.avg_time_in_stage_days(timestamptz,timestamptz)', 'SELECT funnel.avg_time_in_stage_days(entered_at, left_at) FROM visits'),
('funnel.sales_velocity(funnel.deal_stage,numeric,timestamptz,timestamptz)',
 'SELECT funnel.sales_velocity(stage, amount, entered_at, left_at) FROM visits'),
('funnel.sales_velocity(funnel.journey,numeric)',
 'SELECT funnel.sales_velocity(j, a) FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j, max(amount) AS a FROM visits GROUP BY deal_id) d'),
('funnel.sales_velocity_parts(funnel.deal_stage,numeric,timestamptz,timestamptz)',
 'SELECT funnel.sales_velocity_parts(stage, amount, entered_at, left_at) FROM visits'),
('funnel.sales_velocity_parts(funnel.journey,numeric)',
 'SELECT funnel.sales_velocity_parts(j, a) FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j, max(amount) AS a FROM visits GROUP BY deal_id) d'),
('funnel.median_time_in_stage(timestamptz,timestamptz)', 'SELECT funnel.median_time_in_stage(entered_at, left_at) FROM visits'),
('funnel.time_in_stage_percentile(timestamptz,timestamptz,float8)',
 'SELECT funnel.time_in_stage_percentile(entered_at, left_at, 0.9) FROM visits'),
('funnel.median_time_in_stage_days(timestamptz,timestamptz)', 'SELECT funnel.median_time_in_stage_days(entered_at, left_at) FROM visits'),
('funnel.time_in_stage_percentile_days(timestamptz,timestamptz,float8)',
 'SELECT funnel.time_in_stage_percentile_days(entered_at, left_at, 0.9) FROM visits'),
('funnel.window_funnel(interval,timestamptz,"any")',
 $$SELECT funnel.window_funnel('120 days', entered_at, stage = 'maven_citus:Engaging', stage = 'maven_citus:Won') FROM visits$$),
('funnel.window_funnel(interval,text,timestamptz,"any")',
 $$SELECT funnel.window_funnel('120 days', 'strict_order', entered_at, stage = 'maven_citus:Engaging', stage = 'maven_citus:Won') FROM visits$$);

SELECT is((SELECT string_agg(a.aggfnoid::regprocedure::text, ', ' ORDER BY a.aggfnoid::regprocedure::text)
             FROM pg_aggregate a
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = a.aggfnoid AND d.deptype = 'e'
                             AND d.refclassid = 'pg_extension'::regclass
                             AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'funnel')
            WHERE a.aggfnoid NOT IN (SELECT agg FROM pushdown)
              -- the internals of live summaries, as above
              AND a.aggfnoid NOT IN (SELECT oid FROM pg_proc WHERE pronamespace = 'funnel_internal'::regnamespace AND proname LIKE 'live\_%')),
          NULL, 'every funnel aggregate (but the internals of live summaries) has a pushdown check');
-- each pushdown query gives the local answer too
SELECT bag_eq(format('SELECT q::text FROM (%s) q', p.query),
              format('SELECT q::text FROM (%s) q', replace(p.query, 'FROM visits', 'FROM visits_local')), 'pushdown query distributed = local: ' || p.agg)
  FROM pushdown p ORDER BY p.agg::text;
-- pushed down exactly when the state is not internal
SELECT is(p.agg::text = ANY (pg_temp.partial_aggs(p.query)), a.aggtranstype <> 'internal'::regtype,
          format('%s (state %s): %s', p.agg, a.aggtranstype::regtype,
                 CASE WHEN a.aggtranstype <> 'internal'::regtype THEN 'partial aggregation on the workers'
                      ELSE 'input rows pulled to the coordinator' END))
  FROM pushdown p JOIN pg_aggregate a ON a.aggfnoid = p.agg ORDER BY p.agg::text;
SELECT is((SELECT count(*)::int FROM pushdown p JOIN pg_aggregate a ON a.aggfnoid = p.agg
            WHERE a.aggtranstype <> 'internal'::regtype), 27, '27 aggregates have a real SQL state type (all but window_funnel)');

-- the exact percentiles keep a funnel.duration_sample: partial aggregation
-- on the workers, durations shipped instead of visit rows
SELECT ok(p.agg::text = ANY (pg_temp.partial_aggs(p.query)), 'pushed down (partial aggregation on the workers): ' || p.agg)
  FROM pushdown p
 WHERE p.agg::text ~ '^funnel\.(median_time_in_stage|time_in_stage_percentile)'
 ORDER BY p.agg::text;

-- pipeline_as_of and pipeline_trend scan the table they are given on this
-- node, where a distributed table is an empty shell: refused, not an empty
-- pipeline
SELECT throws_ok($$SELECT * FROM funnel.pipeline_as_of('visits', '2017-06-30')$$,
                 '0A000', '"visits" is a Citus table', 'pipeline_as_of refuses a distributed table');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_trend('visits', ARRAY['2017-03-31', '2017-06-30']::timestamptz[])$$,
                 '0A000', '"visits" is a Citus table', 'pipeline_trend refuses a distributed table');

SELECT * FROM finish();
DROP TABLE visits, visits_local;
