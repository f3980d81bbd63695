-- test/pgtap/live_parallel.sql: the live percentile reader
-- (funnel_internal.live_percentile, src/live/live.c) aggregates in parallel
-- plans, as Citus needs it to on its workers: its runs state has a combine
-- function and a serial form.  Under forced parallel plans (debug_parallel_query,
-- force_parallel_mode before PostgreSQL 16; the leader not participating) the
-- plan is a Partial Aggregate in the workers and a Finalize Aggregate in the
-- leader, and the medians and 0.9 percentiles per stage, per owner and in
-- total equal those of a serial plan and percentile_cont over the history.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(7);

CREATE ROLE lpar_own NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO lpar_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
                          funnel.enable_live(regclass, name[], name) TO lpar_own;
SELECT funnel.create_pipeline('lpar', ARRAY['lead', 'qualified', 'proposal']) IS NULL AS created \gset

SET ROLE lpar_own;
CREATE TABLE lpar_deals (id int PRIMARY KEY, owner text, amount int,
                         stage funnel.deal_stage(lpar) NOT NULL);
INSERT INTO lpar_deals SELECT g, 'o' || (g % 3), g, 'lead' FROM generate_series(1, 600) g;
SELECT funnel.track('lpar_deals', 'lpar', rule => 'any') IS NOT NULL AS tracked \gset
SELECT funnel.enable_live('lpar_deals', '{owner}', 'amount') IS NOT NULL AS live \gset
-- many statements: many rows and runs
DO $$
BEGIN
    FOR i IN 1 .. 60 LOOP
        UPDATE lpar_deals SET stage = 'qualified' WHERE id % 60 = i - 1;
        UPDATE lpar_deals SET stage = 'proposal' WHERE id % 120 = i - 1;
    END LOOP;
END
$$;
RESET ROLE;
-- durations that differ: the first visits entered earlier, by whole
-- minutes, then the summaries rebuilt and moved again in many statements
UPDATE lpar_deals_stage_history SET entered_at = entered_at - (deal_id % 97) * interval '1 minute'
 WHERE stage = 'lpar:lead';
SET ROLE lpar_own;
SELECT funnel.live_rebuild('lpar_deals') > 0 AS rebuilt \gset
-- one move per statement too (a few rows each): a table big enough for a
-- parallel plan
DO $$
BEGIN
    FOR i IN 1 .. 40 LOOP
        UPDATE lpar_deals SET stage = 'won' WHERE id % 40 = i - 1 AND id % 3 = 0;
    END LOOP;
    FOR i IN 1 .. 600 LOOP
        UPDATE lpar_deals SET stage = CASE WHEN i % 2 = 0 THEN 'lost' ELSE 'won' END::funnel.deal_stage(lpar)
         WHERE id = i AND id % 3 <> 0;
    END LOOP;
END
$$;
ANALYZE lpar_deals_stage_live;

CREATE TEMP TABLE lpar_ref AS
SELECT h.stage, d.owner, (h.left_at - h.entered_at) AS dur
  FROM lpar_deals_stage_history h JOIN lpar_deals d ON d.id = h.deal_id
 WHERE h.left_at IS NOT NULL;

-- what the readers compute, by stage and owner and in total
CREATE TEMP VIEW lpar_read AS
SELECT stage, owner, funnel_internal.live_percentile(plus_runs, minus_runs, 0.5) AS p50,
       funnel_internal.live_percentile(plus_runs, minus_runs, 0.9) AS p90
  FROM lpar_deals_stage_live WHERE stage IS NOT NULL GROUP BY GROUPING SETS ((stage, owner), (stage));

SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE lpar_serial AS SELECT * FROM lpar_read;
SELECT cmp_ok((SELECT count(*) FROM lpar_serial WHERE p50 IS NOT NULL), '>=', 8::bigint,
              'serial: percentiles for every stage and owner');

SELECT is((SELECT count(*) FROM (
             (SELECT stage, owner, p50, p90 FROM lpar_serial
              EXCEPT ALL
              SELECT stage, owner, justify_hours(percentile_cont(0.5) WITHIN GROUP (ORDER BY dur)),
                     justify_hours(percentile_cont(0.9) WITHIN GROUP (ORDER BY dur))
                FROM lpar_ref GROUP BY GROUPING SETS ((stage, owner), (stage)))) x),
          0::bigint, 'serial: the percentiles of percentile_cont over the history');

-- forced parallel plans
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
-- force_parallel_mode became debug_parallel_query in PostgreSQL 16
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'on', true) AS forced \gset

CREATE TEMP TABLE lpar_plan (line text);
DO $$
DECLARE
    l text;
BEGIN
    FOR l IN EXPLAIN (COSTS OFF) SELECT stage, funnel_internal.live_percentile(plus_runs, minus_runs, 0.5)
                                   FROM lpar_deals_stage_live GROUP BY stage LOOP
        INSERT INTO lpar_plan VALUES (l);
    END LOOP;
END
$$;
SELECT ok((SELECT bool_or(line ~ 'Partial .*Aggregate') FROM lpar_plan),
          'parallel: the percentile aggregates partially in the workers');
SELECT ok((SELECT bool_or(line ~ 'Finalize .*Aggregate') FROM lpar_plan),
          'parallel: and finalizes in the leader');
SELECT ok((SELECT bool_or(line ~ 'Gather') FROM lpar_plan), 'parallel: a Gather plan');

SELECT is((SELECT count(*) FROM ((SELECT * FROM lpar_read EXCEPT ALL SELECT * FROM lpar_serial)
                                 UNION ALL (SELECT * FROM lpar_serial EXCEPT ALL SELECT * FROM lpar_read)) x),
          0::bigint, 'parallel: the same percentiles as the serial plan');
SELECT is((SELECT array_agg(m::text ORDER BY m.stage) FROM funnel.live_median_time_in_stage('lpar_deals') m),
          (SELECT array_agg(ROW(stage, c, p)::text ORDER BY stage)
             FROM (SELECT stage, count(*) AS c, justify_hours(percentile_cont(0.5) WITHIN GROUP (ORDER BY dur)) AS p
                     FROM lpar_ref GROUP BY stage) r),
          'parallel: funnel.live_median_time_in_stage() equals the median over the history');

SELECT * FROM finish();
ROLLBACK;
