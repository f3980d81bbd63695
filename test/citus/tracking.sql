-- test/citus/tracking.sql: funnel.track() on a table hash-distributed by
-- Citus (issue 11.2).  The history is a distributed table co-located with
-- the deals; the triggers on each shard write the co-located history shard.
-- Every statement is run on the distributed table and on a tracked local
-- copy, and the two histories must be equal (effective times are given in
-- the changed column: the workers' transactions start at other instants
-- than the coordinator's).

-- The pipeline on every node: created on the coordinator, which changes
-- every node (issue 11.1, test/citus/pipeline_ddl.sql).
SELECT funnel.create_pipeline('ct_sales', ARRAY['lead', 'qualified', 'proposal']);

CREATE TABLE ct_deals (
    id      bigint PRIMARY KEY,
    stage   funnel.deal_stage(ct_sales) NOT NULL,
    changed timestamptz,
    amount  numeric
);
SELECT create_distributed_table('ct_deals', 'id', shard_count => 4);
CREATE TABLE ct_local (LIKE ct_deals INCLUDING ALL);

INSERT INTO ct_deals VALUES (1, 'lead', '2024-01-01', 10), (2, 'qualified', '2024-01-01', 20);
INSERT INTO ct_local SELECT * FROM ct_deals;

SELECT funnel.create_pipeline('ct_rules', ARRAY['a', 'b']);
SELECT funnel.require_fields('ct_rules', 'b', ARRAY['amount']);

-- committed before the writes: the workers see a table distributed (and
-- the history created) in a transaction only after it commits
SELECT funnel.track('ct_deals', 'ct_sales', changed_at_column => 'changed') AS ct_history \gset
SELECT funnel.track('ct_local', 'ct_sales', changed_at_column => 'changed');

-- allow-lists and required fields reach the workers through the pipeline
-- log: set on a pipeline tracking a distributed table, and a distributed
-- table tracked in a pipeline that has required fields (committed: the
-- shards of a multi-shard statement may use other connections than the
-- one that changed the workers' rules)
SELECT funnel.allow_transition('ct_sales', 'lost', 'lead');
SELECT funnel.require_fields('ct_sales', 'won', ARRAY['amount']);
CREATE TABLE ct_ruled (id bigint PRIMARY KEY, stage funnel.deal_stage(ct_rules) NOT NULL, amount numeric);
SELECT create_distributed_table('ct_ruled', 'id', shard_count => 4);
CREATE TABLE ct_ruled_local (LIKE ct_ruled INCLUDING ALL);
SELECT funnel.track('ct_ruled', 'ct_rules');
SELECT funnel.track('ct_ruled_local', 'ct_rules');

BEGIN;
SELECT plan(29);
SELECT is(:'ct_history'::text, 'ct_deals_stage_history', 'track() on a hash-distributed table');
SELECT is((SELECT p.partmethod::text || ' ' || (p.colocationid = d.colocationid)::text
             FROM pg_dist_partition p, pg_dist_partition d
            WHERE p.logicalrelid = 'ct_deals_stage_history'::regclass AND d.logicalrelid = 'ct_deals'::regclass),
          'h true', 'the history is hash-distributed, co-located with the deals');
SELECT is(current_setting('citus.enable_unsafe_triggers'), 'off',
          'track() restores citus.enable_unsafe_triggers');
SELECT is((SELECT count(*)::int FROM ct_deals_stage_history), 2, 'existing deals backfilled');

-- the same statements on both tables: INSERT, single and multi-shard UPDATE, COPY
INSERT INTO ct_deals SELECT g, 'lead', '2024-01-02', g FROM generate_series(3, 40) g;
INSERT INTO ct_local SELECT g, 'lead', '2024-01-02', g FROM generate_series(3, 40) g;
UPDATE ct_deals SET stage = 'qualified', changed = '2024-01-03' WHERE id = 3;
UPDATE ct_local SET stage = 'qualified', changed = '2024-01-03' WHERE id = 3;
SELECT is((SELECT count(DISTINCT get_shard_id_for_distribution_column('ct_deals', g))::int
             FROM generate_series(1, 30) g), 4, 'the multi-row UPDATE touches every shard');
UPDATE ct_deals SET stage = 'proposal', changed = '2024-01-04' WHERE id <= 30;
UPDATE ct_local SET stage = 'proposal', changed = '2024-01-04' WHERE id <= 30;
UPDATE ct_deals SET stage = 'won', changed = '2024-01-05' WHERE id % 3 = 0;
UPDATE ct_local SET stage = 'won', changed = '2024-01-05' WHERE id % 3 = 0;
UPDATE ct_deals SET amount = amount + 1 WHERE id <= 10;
UPDATE ct_local SET amount = amount + 1 WHERE id <= 10;
COPY ct_deals FROM STDIN;
41	lead	2024-01-06	41
42	proposal	2024-01-06	42
43	qualified	2024-01-06	43
44	lead	2024-01-06	44
\.
COPY ct_local FROM STDIN;
41	lead	2024-01-06	41
42	proposal	2024-01-06	42
43	qualified	2024-01-06	43
44	lead	2024-01-06	44
\.
UPDATE ct_deals SET stage = 'lost', changed = '2024-01-07' WHERE id > 39;
UPDATE ct_local SET stage = 'lost', changed = '2024-01-07' WHERE id > 39;

SELECT is((SELECT count(*)::int FROM ct_deals_stage_history),
          (SELECT count(*)::int FROM ct_local_stage_history), 'as many visits as the local copy');
SELECT results_eq(
    $$SELECT deal_id, stage::text, entered_at, left_at, entered_by FROM ct_deals_stage_history ORDER BY 1, 3, 4 NULLS LAST$$,
    $$SELECT deal_id, stage::text, entered_at, left_at, entered_by FROM ct_local_stage_history ORDER BY 1, 3, 4 NULLS LAST$$,
    'the distributed history equals the local one, visit by visit');
SELECT is((SELECT count(*)::int FROM ct_deals_stage_history h JOIN ct_deals d ON d.id = h.deal_id
            WHERE h.left_at IS NULL AND h.stage = d.stage), 44, 'one open visit per deal, in its stage');
SELECT is_empty($$SELECT * FROM funnel.check_history('ct_deals')$$, 'check_history() finds nothing on the distributed table');

-- rule errors reach the client; nothing is written on any node
CREATE TEMP TABLE before_error AS SELECT count(*) AS n FROM ct_deals_stage_history;
SELECT throws_ok($$UPDATE ct_deals SET stage = 'lead', changed = '2024-01-08' WHERE id = 1$$,
                 '23514', 'invalid stage transition from "proposal" to "lead" in pipeline "ct_sales"',
                 'a backward move on a shard is refused with 23514');
SELECT throws_ok($$UPDATE ct_deals SET stage = 'lead', changed = '2024-01-08' WHERE id BETWEEN 31 AND 38$$,
                 '23514', NULL, 'a multi-shard UPDATE with one refused move is refused');
SELECT is((SELECT count(*) FROM ct_deals_stage_history), (SELECT n FROM before_error),
          'nothing written by the refused statements');
SELECT results_eq($$SELECT id, stage::text FROM ct_deals ORDER BY id$$, $$SELECT id, stage::text FROM ct_local ORDER BY id$$,
                  'no deal moved');

-- check_history() reports a broken history
DELETE FROM ct_deals_stage_history WHERE deal_id = 5 AND left_at IS NULL;
SELECT results_eq($$SELECT deal_id, problem FROM funnel.check_history('ct_deals')$$,
                  $$VALUES ('5', 'no open visit')$$, 'check_history() reports a missing open visit');

-- reference tables, Citus local tables, another distribution column
CREATE TABLE ct_ref (id bigint PRIMARY KEY, stage funnel.deal_stage(ct_sales) NOT NULL);
SELECT create_reference_table('ct_ref');
SELECT throws_ok($$SELECT funnel.track('ct_ref', 'ct_sales')$$, '0A000',
                 'table public.ct_ref is a Citus reference table', 'a reference table is refused');
CREATE TABLE ct_citus_local (id bigint PRIMARY KEY, stage funnel.deal_stage(ct_sales) NOT NULL);
SELECT citus_add_local_table_to_metadata('ct_citus_local');
SELECT throws_ok($$SELECT funnel.track('ct_citus_local', 'ct_sales')$$, '0A000',
                 'table public.ct_citus_local is a Citus local or single-shard table', 'a Citus local table is refused');
CREATE TABLE ct_by_region (id bigint, region int, stage funnel.deal_stage(ct_sales) NOT NULL, PRIMARY KEY (id, region));
SELECT create_distributed_table('ct_by_region', 'region');
SELECT throws_ok($$SELECT funnel.track('ct_by_region', 'ct_sales')$$, '0A000',
                 'table public.ct_by_region is distributed by column "region", not by its primary key',
                 'a table distributed by another column than its key is refused');

-- allow-lists and required fields on the shards: a move they refuse is
-- refused with 23514 and writes nothing on any node
UPDATE ct_deals SET amount = NULL WHERE id IN (4, 40);
UPDATE ct_local SET amount = NULL WHERE id IN (4, 40);
CREATE TEMP TABLE before_rules AS SELECT count(*) AS n FROM ct_deals_stage_history;
SELECT throws_ok($$UPDATE ct_deals SET stage = 'qualified', changed = '2024-01-10' WHERE id = 40$$,
                 '23514', 'invalid stage transition from "lost" to "qualified" in pipeline "ct_sales"',
                 'a move not in the allow-list is refused on a shard');
SELECT throws_ok($$UPDATE ct_deals SET stage = 'won', changed = '2024-01-10' WHERE id = 4$$,
                 '23514', 'invalid stage transition from "proposal" to "won" in pipeline "ct_sales"',
                 'a move to a stage whose required field is null is refused on a shard');
SELECT throws_ok($$UPDATE ct_deals SET stage = 'won', changed = '2024-01-10' WHERE id IN (4, 7, 8, 10, 11, 13)$$,
                 '23514', NULL, 'a multi-row UPDATE with one deal lacking a required field is refused');
SELECT is((SELECT count(*) FROM ct_deals_stage_history), (SELECT n FROM before_rules),
          'nothing written by the statements the rules refused');
-- the allowed moves are made, as on the local copy
UPDATE ct_deals SET stage = 'lead', changed = '2024-01-11' WHERE id >= 40;
UPDATE ct_local SET stage = 'lead', changed = '2024-01-11' WHERE id >= 40;
UPDATE ct_deals SET stage = 'won', changed = '2024-01-12' WHERE id IN (7, 8, 10, 11, 13);
UPDATE ct_local SET stage = 'won', changed = '2024-01-12' WHERE id IN (7, 8, 10, 11, 13);
-- (deal 5 left aside: its open visit was deleted above)
SELECT results_eq(
    $$SELECT deal_id, stage::text, entered_at, left_at, entered_by FROM ct_deals_stage_history WHERE deal_id <> 5 ORDER BY 1, 3, 4 NULLS LAST$$,
    $$SELECT deal_id, stage::text, entered_at, left_at, entered_by FROM ct_local_stage_history WHERE deal_id <> 5 ORDER BY 1, 3, 4 NULLS LAST$$,
    'moves the allow-list and the required fields accept: the same history as the local copy');
-- a distributed table tracked in a pipeline with required fields
SELECT throws_ok($$INSERT INTO ct_ruled VALUES (1, 'a', 1), (2, 'b', NULL), (3, 'a', NULL), (4, 'b', 4)$$,
                 '23514', 'invalid initial stage "b" in pipeline "ct_rules"',
                 'a new deal without its required field is refused on a shard');
SELECT is((SELECT count(*)::int FROM ct_ruled) + (SELECT count(*)::int FROM ct_ruled_stage_history), 0,
          'nothing written: no deal, no history');
INSERT INTO ct_ruled VALUES (1, 'a', 1), (2, 'b', 2), (3, 'a', NULL), (4, 'b', 4);
INSERT INTO ct_ruled_local VALUES (1, 'a', 1), (2, 'b', 2), (3, 'a', NULL), (4, 'b', 4);
UPDATE ct_ruled SET stage = 'b' WHERE id = 1;
UPDATE ct_ruled_local SET stage = 'b' WHERE id = 1;
SELECT results_eq(
    $$SELECT deal_id, stage::text, left_at IS NULL FROM ct_ruled_stage_history ORDER BY 1, 2$$,
    $$SELECT deal_id, stage::text, left_at IS NULL FROM ct_ruled_local_stage_history ORDER BY 1, 2$$,
    'accepted deals and moves: the same history as the local copy');

-- a trigger with arguments on a table that is not a shard of the table named
CREATE TABLE ct_forged (id bigint PRIMARY KEY, stage funnel.deal_stage(ct_sales) NOT NULL);
INSERT INTO ct_forged VALUES (1, 'lead');
CREATE TRIGGER forged AFTER DELETE ON ct_forged FOR EACH ROW EXECUTE FUNCTION
    funnel_internal.track_delete('citus', 'deals=public.ct_deals', 'history=public.ct_deals_stage_history', 'pipeline=ct_sales', 'stage_column=stage', 'rule=any', 'key_column=id');
SELECT throws_ok($$DELETE FROM ct_forged$$, '55000', 'table "ct_forged" is not a shard of tracked table "public.ct_deals"',
                 'forged trigger arguments are checked against the Citus metadata');

-- DDL after track() is still caught on the shards
ALTER TABLE ct_deals_stage_history ALTER COLUMN entered_by TYPE text;
SELECT throws_ok($$UPDATE ct_deals SET stage = 'won', changed = '2024-01-09' WHERE id = 1$$, '42804', NULL,
                 'a history column of another type is refused on the shards');
ALTER TABLE ct_deals_stage_history ALTER COLUMN entered_by TYPE name;
SELECT lives_ok($$UPDATE ct_deals SET stage = 'won', changed = '2024-01-09' WHERE id = 1$$, 'repaired, moves work again');

-- TRUNCATE closes every open visit (trigger on the coordinator's table)
TRUNCATE ct_deals;
SELECT is((SELECT count(*)::int FROM ct_deals_stage_history WHERE left_at IS NULL), 0, 'TRUNCATE closed every open visit');

SELECT * FROM finish();
ROLLBACK;

DROP TABLE ct_deals, ct_deals_stage_history, ct_local, ct_local_stage_history,
           ct_ruled, ct_ruled_stage_history, ct_ruled_local, ct_ruled_local_stage_history;
SELECT funnel.drop_pipeline('ct_sales');
SELECT funnel.drop_pipeline('ct_rules');
