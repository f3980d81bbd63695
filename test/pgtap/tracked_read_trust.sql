-- test/pgtap/tracked_read_trust.sql: the readers of tables named by an
-- argument never run code of the tables' owner on behalf of another role
-- (issue 17.2), and read inheritance children as plain SQL does (17.6).
-- A NOSUPERUSER owner tracks tables, then turns them into what would make
-- funnel.stale_deals() and funnel.check_history(), called by the superuser
-- or by a NOSUPERUSER administrator, run the owner's function trt.spy():
-- a cast of its key type, row-level security policies, a history of
-- another owner or of another shape, an inheritance child of another
-- owner (a history turned into a view: test/shell/reader_lock_race.sh, as
-- it needs a VACUUM outside this transaction).  trt.spy() raises
-- 'owner code ran as <role>': every call must end as asserted instead.
-- Then the C readers and stale_deals() over histories and deals tables with
-- inheritance children, against plain SQL.
BEGIN;
SELECT plan(17);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SET TimeZone = 'UTC';

SELECT funnel.create_pipeline('trt', ARRAY['lead', 'qualified']);
SELECT funnel.set_stale_after('trt', 'lead', '1 day');
CREATE ROLE trt_owner NOSUPERUSER;
CREATE ROLE trt_other NOSUPERUSER;
CREATE ROLE trt_admin NOSUPERUSER;
GRANT trt_other TO trt_owner;
CREATE SCHEMA trt AUTHORIZATION trt_owner;
GRANT USAGE ON SCHEMA trt TO trt_admin;
GRANT CREATE ON SCHEMA trt TO trt_other;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO trt_owner;

SET ROLE trt_owner;
CREATE FUNCTION trt.spy() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'owner code ran as %', current_user;
END $$;
GRANT EXECUTE ON FUNCTION trt.spy() TO PUBLIC;

-- deals of a key type whose cast to text is the owner's function
CREATE TYPE trt.dkey AS ENUM ('k1', 'k2', 'k3');
CREATE FUNCTION trt.dkey_text(trt.dkey) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM trt.spy();
    RETURN 'spied';
END $$;
CREATE CAST (trt.dkey AS text) WITH FUNCTION trt.dkey_text(trt.dkey);

-- make TABLE: a tracked table trt.TABLE (key KEYTYPE) with deals 1/k1 and
-- 2/k2 in lead since 2024-01-01, the open visit of the second one deleted
CREATE FUNCTION trt.make(name text, keytype text, k1 text, k2 text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE trt.%I (id %s PRIMARY KEY, amount numeric, changed_at timestamptz,
                                         stage funnel.deal_stage NOT NULL)', name, keytype);
    PERFORM funnel.track(format('trt.%I', name)::regclass, 'trt', changed_at_column => 'changed_at');
    EXECUTE format('INSERT INTO trt.%I VALUES (%L, 10, ''2024-01-01'', ''lead''), (%L, 20, ''2024-01-01'', ''lead'')',
                   name, k1, k2);
    EXECUTE format('DELETE FROM trt.%I WHERE deal_id = %L', name || '_stage_history', k2);
    EXECUTE format('GRANT SELECT ON trt.%I, trt.%I TO trt_admin', name, name || '_stage_history');
END $$;
SELECT trt.make('cast_deals', 'trt.dkey', 'k1', 'k2');
SELECT trt.make('rls_history', 'bigint', '1', '2');
SELECT trt.make('rls_deals', 'bigint', '1', '2');
SELECT trt.make('child_other', 'bigint', '1', '2');
SELECT trt.make('history_other', 'bigint', '1', '2');
SELECT trt.make('retyped', 'bigint', '1', '2');
ALTER TABLE trt.rls_history_stage_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON trt.rls_history_stage_history USING (trt.spy());
ALTER TABLE trt.rls_deals ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON trt.rls_deals USING (trt.spy());
CREATE TABLE trt.child_other_child () INHERITS (trt.child_other_stage_history);
ALTER TABLE trt.child_other_child OWNER TO trt_other;
ALTER TABLE trt.history_other_stage_history OWNER TO trt_other;
-- (refused up front by funnel's event trigger: bypassed as a superuser can,
-- to test the readers' own check)
RESET ROLE;
SET session_replication_role = replica;
ALTER TABLE trt.retyped_stage_history ALTER COLUMN deal_id TYPE text;
RESET session_replication_role;
SET ROLE trt_owner;

-- inheritance children: a tracked table's history with a child of the same
-- owner, holding the open visit of a deal 3 that does not exist
SELECT trt.make('inh', 'bigint', '1', '2');
CREATE TABLE trt.inh_child (note text, left_at timestamptz, deal_id bigint NOT NULL, stage funnel.deal_stage(trt) NOT NULL,
                            entered_at timestamptz NOT NULL, entered_by name NOT NULL);
INSERT INTO trt.inh_child VALUES ('child', NULL, 3, 'trt:lead', '2024-01-01', current_user);
ALTER TABLE trt.inh_child INHERIT trt.inh_stage_history;
-- track() backfills the table's own rows, not those of its children (whose
-- changes its triggers never see; a child may be a foreign table, and the
-- backfill runs as the extension owner)
CREATE TABLE trt.bf (id bigint PRIMARY KEY, stage funnel.deal_stage NOT NULL);
CREATE TABLE trt.bf_child () INHERITS (trt.bf);
INSERT INTO trt.bf VALUES (1, 'trt:lead');
INSERT INTO trt.bf_child VALUES (2, 'trt:qualified');
SELECT funnel.track('trt.bf', 'trt');
RESET ROLE;

-- runs a query as the administrator; an error rolls the role back with throws_ok's subtransaction
CREATE FUNCTION pg_temp.as_admin(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    PERFORM set_config('role', 'trt_admin', true);
    EXECUTE format('SELECT count(*) FROM (%s) q', q) INTO n;
    PERFORM set_config('role', 'none', true);
    RETURN n;
END $$;

-- the rows of a query as text, or its error (so that a call that runs the
-- owner's function fails its assertion instead of the whole file)
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE format('SELECT string_agg(q::text, '' '' ORDER BY q::text) FROM (%s) q', q) INTO r;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- a key type with the owner's cast: keys are output, never cast
SELECT is(pg_temp.outcome($$SELECT deal_id, stage::text FROM funnel.stale_deals('trt.cast_deals', '2024-03-01')$$),
          '(k1,trt:lead)',
          'stale_deals() outputs a key of the owner''s enum type without its cast');
SELECT is(pg_temp.outcome($$SELECT deal_id, problem FROM funnel.check_history('trt.cast_deals')$$),
          '(k2,"no open visit")',
          'check_history() outputs a key of the owner''s enum type without its cast');

-- row-level security: the owner's policy is not run for the administrator
SELECT throws_ok($$SELECT pg_temp.as_admin('SELECT * FROM funnel.stale_deals(''trt.rls_history'', ''2024-03-01'')')$$,
                 '0A000', 'cannot read "trt.rls_history_stage_history": row-level security applies to it',
                 'stale_deals() refuses a history whose policies apply to the caller');
SELECT throws_ok($$SELECT pg_temp.as_admin('SELECT * FROM funnel.check_history(''trt.rls_history'')')$$,
                 '0A000', 'cannot read "trt.rls_history_stage_history": row-level security applies to it',
                 'check_history() refuses a history whose policies apply to the caller');
SELECT throws_ok($$SELECT pg_temp.as_admin('SELECT * FROM funnel.stale_deals(''trt.rls_deals'', ''2024-03-01'')')$$,
                 '0A000', 'cannot read "trt.rls_deals": row-level security applies to it',
                 'stale_deals() refuses a deals table whose policies apply to the caller');
SELECT throws_ok($$SELECT pg_temp.as_admin('SELECT * FROM funnel.check_history(''trt.rls_deals'')')$$,
                 '0A000', 'cannot read "trt.rls_deals": row-level security applies to it',
                 'check_history() refuses a deals table whose policies apply to the caller');

-- tables of another owner
SELECT throws_ok($$SELECT * FROM funnel.stale_deals('trt.child_other', '2024-03-01')$$,
                 '42501', '"trt.child_other_child", an inheritance child of "trt.child_other_stage_history", is not owned by the owner of tracked table "trt.child_other"',
                 'stale_deals() refuses a history with a child of another owner');
SELECT throws_ok($$SELECT * FROM funnel.check_history('trt.child_other')$$,
                 '42501', '"trt.child_other_child", an inheritance child of "trt.child_other_stage_history", is not owned by the owner of tracked table "trt.child_other"',
                 'check_history() refuses a history with a child of another owner');
SELECT throws_ok($$SELECT * FROM funnel.stale_deals('trt.history_other', '2024-03-01')$$,
                 '42501', 'history table "history_other_stage_history" is not owned by the owner of tracked table "history_other"',
                 'stale_deals() refuses a history of another owner');
SELECT throws_ok($$SELECT * FROM funnel.check_history('trt.history_other')$$,
                 '42501', 'history table "history_other_stage_history" is not owned by the owner of tracked table "history_other"',
                 'check_history() refuses a history of another owner');

-- a history of another shape
SELECT throws_ok($$SELECT * FROM funnel.stale_deals('trt.retyped', '2024-03-01')$$,
                 '42804', '"trt.retyped_stage_history" is not a stage history',
                 'stale_deals() refuses a history whose deal_id is not of the key''s type');

-- inheritance children, read as plain SQL reads them
SELECT is((SELECT string_agg(deal_id || '=' || stage::text, ',') FROM trt.bf_stage_history), '1=trt:lead',
          'track() backfills the open visits of the table''s own rows only, not of its inheritance children');
SELECT results_eq($$SELECT deal_id, stage::text FROM funnel.stale_deals('trt.inh', '2024-03-01')$$,
                  $$SELECT h.deal_id::text, h.stage::text FROM trt.inh_stage_history h
                     WHERE h.left_at IS NULL ORDER BY h.deal_id$$,
                  'stale_deals() reads the history''s inheritance children, as plain SQL does');
SELECT results_eq($$SELECT deal_id, problem FROM funnel.check_history('trt.inh') ORDER BY 1$$,
                  $$VALUES ('2', 'no open visit'), ('3', 'open visit of a deal that does not exist')$$,
                  'check_history() reads the history''s inheritance children');

-- the C readers: a history whose child has its columns at other positions
CREATE TABLE trt.h_parent (junk int, deal_id bigint, stage funnel.deal_stage, entered_at timestamptz, left_at timestamptz);
ALTER TABLE trt.h_parent DROP COLUMN junk;
CREATE TABLE trt.h_child (note text, left_at timestamptz, deal_id bigint, stage funnel.deal_stage, entered_at timestamptz);
ALTER TABLE trt.h_child INHERIT trt.h_parent;
INSERT INTO trt.h_parent VALUES (1, 'trt:lead', '2024-01-01', '2024-01-10'), (1, 'trt:qualified', '2024-01-10', NULL);
INSERT INTO trt.h_child VALUES ('c', NULL, 2, 'trt:lead', '2024-01-05'), ('c', '2024-01-03', 3, 'trt:qualified', '2024-01-02');
CREATE TABLE trt.d_parent (id bigint PRIMARY KEY, amount numeric);
CREATE TABLE trt.d_child (note text, amount numeric, id bigint NOT NULL);
ALTER TABLE trt.d_child INHERIT trt.d_parent;
INSERT INTO trt.d_parent VALUES (1, 100);
INSERT INTO trt.d_child VALUES ('c', 200, 2), ('c', 300, 3);
CREATE TEMP TABLE instants (t timestamptz);
INSERT INTO instants VALUES ('2024-01-02'), ('2024-01-06'), ('2024-02-01');

SELECT results_eq($$SELECT deal_id, stage::text, entered_at FROM funnel.pipeline_as_of('trt.h_parent', '2024-01-06') ORDER BY 1$$,
                  $$SELECT h.deal_id::text, h.stage::text, h.entered_at FROM trt.h_parent h
                     WHERE h.entered_at <= '2024-01-06' AND (h.left_at IS NULL OR h.left_at > '2024-01-06') ORDER BY 1$$,
                  'pipeline_as_of() reads inheritance children, columns by name, as plain SQL does');
SELECT is((SELECT count(*) FROM funnel.pipeline_as_of('trt.h_parent', '2024-01-06')), 2::bigint,
          'pipeline_as_of(): 2 open visits at 2024-01-06, one of them in the child');
SELECT results_eq($$SELECT instant, stage::text, deals, amount FROM funnel.pipeline_trend('trt.h_parent',
                        (SELECT array_agg(t) FROM instants), 'trt.d_parent') WHERE deals > 0 ORDER BY 1, 2$$,
                  $$SELECT i.t, h.stage::text, count(*), sum(d.amount) FROM instants i
                      JOIN trt.h_parent h ON h.entered_at <= i.t AND (h.left_at IS NULL OR h.left_at > i.t)
                      LEFT JOIN trt.d_parent d ON d.id = h.deal_id
                     GROUP BY 1, 2 ORDER BY 1, 2$$,
                  'pipeline_trend() counts and sums inheritance children of the history and of the deals table, as plain SQL does');

SELECT * FROM finish();
ROLLBACK;
