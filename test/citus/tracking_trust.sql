-- test/citus/tracking_trust.sql: a hostile NOSUPERUSER table owner against
-- the tracking of Citus distributed tables (doc/security.md, "Tracking").
-- The triggers Citus copies to the shards carry their tracking in their
-- arguments; an attacker who owns a table co-located with a victim's
-- tracked table creates the same triggers with forged arguments naming the
-- victim's tables, or breaks the history of a table it tracks itself.
-- Every write must be refused, naming the table, and the victim's history
-- must stay byte for byte what it was (read through the coordinator: every
-- shard on every node).  Attacks run on a worker directly:
-- test/citus/tracking_trust.sh.

CREATE ROLE ctt_victim NOSUPERUSER LOGIN;
CREATE ROLE ctt_attacker NOSUPERUSER LOGIN;
CREATE ROLE ctt_accomplice NOSUPERUSER LOGIN;
GRANT ctt_accomplice TO ctt_attacker;
GRANT CREATE ON SCHEMA public TO ctt_victim, ctt_attacker, ctt_accomplice;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass)
    TO ctt_victim, ctt_attacker;
SELECT funnel.create_pipeline('ctt_sales', ARRAY['lead', 'qualified', 'proposal']);

-- the victim: a tracked distributed table, one with another shard count
-- (not co-located with the attacker's), a tracked local table (committed:
-- the workers see distributed tables only after the transaction commits)
SET SESSION AUTHORIZATION ctt_victim;
CREATE TABLE ctt_v (id bigint PRIMARY KEY, stage funnel.deal_stage(ctt_sales) NOT NULL, changed timestamptz);
SELECT create_distributed_table('ctt_v', 'id', shard_count => 4);
INSERT INTO ctt_v SELECT g, 'lead', '2024-01-01' FROM generate_series(1, 20) g;
SELECT funnel.track('ctt_v', 'ctt_sales', changed_at_column => 'changed');
CREATE TABLE ctt_w (id bigint PRIMARY KEY, stage funnel.deal_stage(ctt_sales) NOT NULL);
SELECT create_distributed_table('ctt_w', 'id', shard_count => 8);
SELECT funnel.track('ctt_w', 'ctt_sales');
CREATE TABLE ctt_vl (id bigint PRIMARY KEY, stage funnel.deal_stage(ctt_sales) NOT NULL);
SELECT funnel.track('ctt_vl', 'ctt_sales');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ctt_victim;
UPDATE ctt_v SET stage = 'qualified', changed = '2024-01-02' WHERE id <= 10;
INSERT INTO ctt_w SELECT g, 'lead' FROM generate_series(1, 20) g;
INSERT INTO ctt_vl SELECT g, 'lead' FROM generate_series(1, 20) g;
RESET SESSION AUTHORIZATION;

-- the names of a shard of the victim's table and of a shard of its history
SELECT shard_name('ctt_v', min(shardid)) AS v_shard FROM pg_dist_shard WHERE logicalrelid = 'ctt_v'::regclass \gset
SELECT shard_name('ctt_v_stage_history', get_shard_id_for_distribution_column('ctt_v_stage_history', 1)) AS vh_shard \gset

-- the attacker: tables co-located with the victim's, with forged triggers
SET SESSION AUTHORIZATION ctt_attacker;
SET citus.enable_unsafe_triggers = on;
CREATE TABLE ctt_a1 (id bigint PRIMARY KEY, stage funnel.deal_stage(ctt_sales) NOT NULL, changed timestamptz);
SELECT create_distributed_table('ctt_a1', 'id', colocate_with => 'ctt_v');
CREATE TABLE ctt_a2 (LIKE ctt_a1 INCLUDING ALL);
SELECT create_distributed_table('ctt_a2', 'id', colocate_with => 'ctt_v');
CREATE TABLE ctt_a3 (LIKE ctt_a1 INCLUDING ALL);
SELECT create_distributed_table('ctt_a3', 'id', colocate_with => 'ctt_v');
CREATE TABLE ctt_a4 (LIKE ctt_a1 INCLUDING ALL);
SELECT create_distributed_table('ctt_a4', 'id', colocate_with => 'ctt_v');
CREATE TABLE ctt_a5 (LIKE ctt_a1 INCLUDING ALL);
SELECT create_distributed_table('ctt_a5', 'id', colocate_with => 'ctt_v');
-- a local table on the coordinator named like a shard of the victim's table
CREATE TABLE :"v_shard" (LIKE ctt_a1 INCLUDING ALL);
INSERT INTO ctt_a1 SELECT g, 'lead', '2024-01-01' FROM generate_series(1, 20) g;
-- 1: the victim's history, written from the attacker's own table
CREATE TRIGGER funnel_track_insert AFTER INSERT ON ctt_a1 REFERENCING NEW TABLE AS funnel_new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_insert('citus', 'deals=public.ctt_a1', 'history=public.ctt_v_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'changed_at_column=changed', 'rule=any', 'key_column=id');
CREATE TRIGGER funnel_track_update AFTER UPDATE ON ctt_a1 FOR EACH ROW EXECUTE FUNCTION
    funnel_internal.track_update('citus', 'deals=public.ctt_a1', 'history=public.ctt_v_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'changed_at_column=changed', 'rule=any', 'key_column=id');
CREATE TRIGGER funnel_track_delete AFTER DELETE ON ctt_a1 FOR EACH ROW EXECUTE FUNCTION
    funnel_internal.track_delete('citus', 'deals=public.ctt_a1', 'history=public.ctt_v_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'changed_at_column=changed', 'rule=any', 'key_column=id');
CREATE TRIGGER funnel_track_truncate AFTER TRUNCATE ON ctt_a1 FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_truncate('citus', 'deals=public.ctt_a1', 'history=public.ctt_v_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'changed_at_column=changed', 'rule=any', 'key_column=id');
-- 2: the victim's table named as the deals table
CREATE TRIGGER funnel_track_insert AFTER INSERT ON ctt_a2 REFERENCING NEW TABLE AS funnel_new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_insert('citus', 'deals=public.ctt_v', 'history=public.ctt_v_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'changed_at_column=changed', 'rule=any', 'key_column=id');
-- 3: a history not co-located with the attacker's table
CREATE TRIGGER funnel_track_insert AFTER INSERT ON ctt_a3 REFERENCING NEW TABLE AS funnel_new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_insert('citus', 'deals=public.ctt_a3', 'history=public.ctt_w_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'rule=any', 'key_column=id');
-- 4: the history of a local table
CREATE TRIGGER funnel_track_insert AFTER INSERT ON ctt_a4 REFERENCING NEW TABLE AS funnel_new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_insert('citus', 'deals=public.ctt_a4', 'history=public.ctt_vl_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'rule=any', 'key_column=id');
CREATE TRIGGER funnel_track_truncate AFTER TRUNCATE ON ctt_a4 FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_truncate('citus', 'deals=public.ctt_a4', 'history=public.ctt_vl_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'rule=any', 'key_column=id');
-- 5: a shard of the victim's history named directly (the shard deal 1 goes to)
SELECT format($$CREATE TRIGGER funnel_track_insert AFTER INSERT ON ctt_a5 REFERENCING NEW TABLE AS funnel_new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_insert('citus', 'deals=public.ctt_a5', %L, 'pipeline=ctt_sales', 'stage_column=stage', 'changed_at_column=changed', 'rule=any', 'key_column=id')$$, 'history=public.' || :'vh_shard') \gexec
-- 6: the local table named like a shard of the victim's table
CREATE TRIGGER funnel_track_insert AFTER INSERT ON :"v_shard" REFERENCING NEW TABLE AS funnel_new_deals
    FOR EACH STATEMENT EXECUTE FUNCTION
    funnel_internal.track_insert('citus', 'deals=public.ctt_v', 'history=public.ctt_v_stage_history', 'pipeline=ctt_sales', 'stage_column=stage', 'changed_at_column=changed', 'rule=any', 'key_column=id');
RESET citus.enable_unsafe_triggers;
-- the attacker's own tracked table
CREATE TABLE ctt_at (id bigint PRIMARY KEY, stage funnel.deal_stage(ctt_sales) NOT NULL);
SELECT create_distributed_table('ctt_at', 'id', colocate_with => 'ctt_v');
SELECT funnel.track('ctt_at', 'ctt_sales');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ctt_attacker;
INSERT INTO ctt_at SELECT g, 'lead' FROM generate_series(1, 10) g;
RESET SESSION AUTHORIZATION;

-- the victim's histories, byte for byte, before the attacks
CREATE TABLE ctt_before AS
SELECT (SELECT md5(string_agg(format('%s|%s|%s|%s|%s', deal_id, stage, entered_at, left_at, entered_by), ','
                              ORDER BY deal_id, entered_at)) FROM ctt_v_stage_history) AS v,
       (SELECT md5(string_agg(format('%s|%s|%s|%s|%s', deal_id, stage, entered_at, left_at, entered_by), ','
                              ORDER BY deal_id, entered_at)) FROM ctt_w_stage_history) AS w,
       (SELECT md5(string_agg(format('%s|%s|%s|%s|%s', deal_id, stage, entered_at, left_at, entered_by), ','
                              ORDER BY deal_id, entered_at)) FROM ctt_vl_stage_history) AS vl,
       (SELECT count(*) FROM ctt_v_stage_history) AS v_rows;

-- not in one transaction: Citus refuses to read as one user placements
-- another user modified in the transaction
SELECT plan(27);
SET SESSION AUTHORIZATION ctt_attacker;

-- 1: the owner check refuses every path, on the shards and on the coordinator
SELECT throws_ok($$INSERT INTO ctt_a1 VALUES (101, 'lead', '2024-02-01')$$, '42501', NULL,
                 'forged history argument: an INSERT is refused with 42501');
SELECT throws_like($$INSERT INTO ctt_a1 VALUES (101, 'lead', '2024-02-01')$$,
                   'history table "ctt_v_stage_history_% is not owned by the owner of tracked table "ctt_a1_%',
                   'the error names the shards of the victim''s history and of the attacker''s table');
SELECT throws_like($$INSERT INTO ctt_a1 SELECT g, 'lead', '2024-02-01' FROM generate_series(101, 140) g$$,
                   '%is not owned by the owner of tracked table "ctt_a1_%',
                   'a multi-shard INSERT is refused');
SELECT throws_ok($$UPDATE ctt_a1 SET stage = 'proposal', changed = '2024-02-02' WHERE id = 1$$, '42501', NULL,
                 'an UPDATE is refused with 42501');
SELECT throws_like($$UPDATE ctt_a1 SET stage = 'proposal', changed = '2024-02-02'$$,
                   '%is not owned by the owner of tracked table "ctt_a1_%', 'a multi-shard UPDATE is refused');
SELECT throws_ok($$DELETE FROM ctt_a1 WHERE id = 1$$, '42501', NULL, 'a DELETE is refused with 42501');
SELECT throws_ok($$TRUNCATE ctt_a1$$, '42501',
                 'history table "ctt_v_stage_history" is not owned by the owner of tracked table "ctt_a1"',
                 'a TRUNCATE (trigger on the coordinator''s table) is refused with 42501');

-- 2: the victim's table named as the deals table
SELECT throws_ok($$INSERT INTO ctt_a2 VALUES (1, 'lead', '2024-02-01')$$, '55000', NULL,
                 'the victim''s table named as the deals table: refused with 55000');
SELECT throws_like($$INSERT INTO ctt_a2 VALUES (1, 'lead', '2024-02-01')$$,
                   'table "ctt_a2_% is not a shard of tracked table "public.ctt_v"', 'the error names the shard');

-- 3: a history that is not co-located
SELECT throws_ok($$INSERT INTO ctt_a3 VALUES (1, 'lead', '2024-02-01')$$, '55000',
                 'tracked table "public.ctt_a3" and its history table "public.ctt_w_stage_history" are not co-located by the deal key',
                 'a history not co-located with the table: refused with 55000');

-- 4: the history of a local table (absent on the workers)
SELECT throws_ok($$INSERT INTO ctt_a4 VALUES (1, 'lead', '2024-02-01')$$, '42P01', NULL,
                 'a local history named on a shard: it does not exist on the worker');
SELECT throws_ok($$TRUNCATE ctt_a4$$, '55000',
                 'tables "public.ctt_a4" and "public.ctt_vl_stage_history" of a funnel trigger of "ctt_a4" are not both distributed',
                 'a local history named on the coordinator''s table: refused with 55000');

-- 5: a shard of the victim's history named directly
SELECT throws_ok($$INSERT INTO ctt_a5 VALUES (1, 'lead', '2024-02-01')$$, '55000',
                 format('tables "public.ctt_a5" and "public.%s" of a funnel trigger of "%s" are not both distributed',
                        :'vh_shard', (SELECT shard_name('ctt_a5', get_shard_id_for_distribution_column('ctt_a5', 1)))),
                 'a history shard named directly: refused with 55000');

-- 6: a local table named like a shard of the victim's table
SELECT throws_ok(format($$INSERT INTO %I VALUES (1, 'lead', '2024-02-01')$$, :'v_shard'), '55000',
                 format('the history shard of shard "%s" of tracked table "public.ctt_v" is not on this node', :'v_shard'),
                 'a local table named like a shard of the victim''s table: refused with 55000');

-- 7: the attacker breaks the history of a table it tracks itself
ALTER TABLE ctt_at_stage_history ALTER COLUMN entered_at TYPE timestamp;
SELECT throws_ok($$UPDATE ctt_at SET stage = 'qualified' WHERE id = 1$$, '42804', NULL,
                 'own history retyped: refused with 42804');
ALTER TABLE ctt_at_stage_history ALTER COLUMN entered_at TYPE timestamptz;
DROP INDEX ctt_at_stage_history_deal_id_entered_at_idx;
SELECT throws_like($$UPDATE ctt_at SET stage = 'qualified' WHERE id = 1$$,
                   'history table "ctt_at_stage_history_% has no btree index on (deal_id, entered_at)',
                   'own history without its index: refused');
CREATE INDEX ON ctt_at_stage_history (deal_id, entered_at);
ALTER TABLE ctt_at_stage_history OWNER TO ctt_accomplice;
SELECT throws_ok($$UPDATE ctt_at SET stage = 'qualified' WHERE id = 1$$, '42501', NULL,
                 'own history given to another role: refused with 42501');
SELECT throws_ok($$TRUNCATE ctt_at$$, '42501',
                 'history table "ctt_at_stage_history" is not owned by the owner of tracked table "ctt_at"',
                 'and TRUNCATE too, on the coordinator''s table');
ALTER TABLE ctt_at_stage_history OWNER TO ctt_attacker;
SELECT lives_ok($$UPDATE ctt_at SET stage = 'qualified' WHERE id = 1$$, 'repaired, the attacker''s own table tracks again');
SELECT is((SELECT count(*)::int FROM ctt_at_stage_history), 11, 'one visit added, nothing by the refused writes');

-- nothing written anywhere; the attacker cannot read nor write the history
SELECT is((SELECT count(*)::int FROM ctt_a1), 20, 'no row of the attacker''s table changed');
SELECT is((SELECT count(*)::int FROM ctt_a2) + (SELECT count(*)::int FROM ctt_a3)
          + (SELECT count(*)::int FROM ctt_a4) + (SELECT count(*)::int FROM ctt_a5), 0,
          'no row inserted by the refused statements');
SELECT throws_ok($$INSERT INTO ctt_v_stage_history VALUES (1, 'lead', now(), NULL, 'x')$$, '42501', NULL,
                 'the attacker cannot write the victim''s history table itself');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT md5(string_agg(format('%s|%s|%s|%s|%s', deal_id, stage, entered_at, left_at, entered_by), ','
                                 ORDER BY deal_id, entered_at)) FROM ctt_v_stage_history),
          (SELECT v FROM ctt_before), 'the victim''s history is byte for byte unchanged on every node');
SELECT is((SELECT md5(string_agg(format('%s|%s|%s|%s|%s', deal_id, stage, entered_at, left_at, entered_by), ','
                                 ORDER BY deal_id, entered_at)) FROM ctt_w_stage_history),
          (SELECT w FROM ctt_before), 'the victim''s non-co-located history is unchanged');
SELECT is((SELECT md5(string_agg(format('%s|%s|%s|%s|%s', deal_id, stage, entered_at, left_at, entered_by), ','
                                 ORDER BY deal_id, entered_at)) FROM ctt_vl_stage_history),
          (SELECT vl FROM ctt_before), 'the victim''s local history is unchanged');
SELECT is((SELECT count(*) FROM ctt_v_stage_history), (SELECT v_rows FROM ctt_before), 'as many visits as before (30)');

SELECT * FROM finish();

-- (Citus takes the table named like a shard for one)
SET citus.enable_manual_changes_to_shards = on;
DROP TABLE :"v_shard";
RESET citus.enable_manual_changes_to_shards;
DROP TABLE ctt_before, ctt_v, ctt_v_stage_history, ctt_w, ctt_w_stage_history, ctt_vl, ctt_vl_stage_history,
           ctt_a1, ctt_a2, ctt_a3, ctt_a4, ctt_a5, ctt_at, ctt_at_stage_history;
SELECT funnel.drop_pipeline('ctt_sales');
REVOKE ALL ON SCHEMA public FROM ctt_victim, ctt_attacker, ctt_accomplice;
REVOKE EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass)
    FROM ctt_victim, ctt_attacker;
DROP ROLE ctt_victim, ctt_attacker, ctt_accomplice;
