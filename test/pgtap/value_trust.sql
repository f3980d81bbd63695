-- test/pgtap/value_trust.sql: no statement of a table owner (NOSUPERUSER) can
-- store a deal_stage value that does not read back: ambiguous bare names are
-- refused wherever no pipeline binds them, values of a stage added by an open
-- transaction cannot escape into an index, and drop_pipeline() finds every
-- stored value of the pipeline (or refuses) so that nothing it leaves behind
-- becomes unreadable.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS amcheck;
RESET client_min_messages;
CREATE EXTENSION funnel;
SELECT plan(50);

SELECT funnel.create_pipeline('p1', ARRAY['lead', 'demo']);
SELECT funnel.create_pipeline('p2', ARRAY['lead', 'visit']);
SELECT funnel.create_pipeline('p3', ARRAY['only']);
CREATE ROLE funnel_vt_owner NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE SCHEMA vt AUTHORIZATION funnel_vt_owner;
GRANT USAGE ON SCHEMA public TO funnel_vt_owner;
SET ROLE funnel_vt_owner;
SET search_path = vt, public;
CREATE TABLE u (id serial, s funnel.deal_stage);
CREATE TABLE b (id serial, s funnel.deal_stage(p2));
CREATE TABLE texts (t text);
INSERT INTO texts VALUES ('won');

-- 1. an ambiguous bare name reaches no unbound column, constraint, default,
--    view, partition bound, rule or variable
SELECT throws_ok($$INSERT INTO u(s) VALUES ('won')$$, '22P02', 'stage name "won" is ambiguous', 'INSERT VALUES into an unbound column');
SELECT throws_ok($$INSERT INTO u(s) VALUES ('p1:won'), ('won')$$, '22P02', 'stage name "won" is ambiguous', 'multi-row INSERT VALUES');
SELECT throws_ok($$INSERT INTO u(s) SELECT 'won'$$, '22P02', 'stage name "won" is ambiguous', 'INSERT ... SELECT of a literal');
SELECT throws_ok($$INSERT INTO u(s) SELECT t FROM texts$$, '22P02', 'stage name "won" is ambiguous', 'INSERT ... SELECT of a text column');
SELECT throws_ok($$UPDATE u SET s = 'won'$$, '22P02', 'stage name "won" is ambiguous', 'UPDATE SET');
SELECT throws_ok($$CREATE TABLE d (s funnel.deal_stage DEFAULT 'won')$$, '22P02', 'stage name "won" is ambiguous', 'column DEFAULT');
SELECT throws_ok($$CREATE TABLE c (s funnel.deal_stage CHECK (s OPERATOR(pg_catalog.<>) 'won'))$$, '22P02', 'stage name "won" is ambiguous', 'CHECK constraint');
SELECT throws_ok($$CREATE VIEW v AS SELECT 'won'::funnel.deal_stage AS s$$, '22P02', 'stage name "won" is ambiguous', 'view');
CREATE TABLE pt (s funnel.deal_stage) PARTITION BY LIST (s);
SELECT throws_ok($$CREATE TABLE pt1 PARTITION OF pt FOR VALUES IN ('won')$$, '22P02', 'stage name "won" is ambiguous', 'LIST partition bound');
SELECT throws_ok($$CREATE RULE r AS ON INSERT TO b DO ALSO INSERT INTO u(s) VALUES ('won')$$, '22P02', 'stage name "won" is ambiguous', 'rule action');
SELECT throws_ok($$CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC INSERT INTO u(s) VALUES ('won'); END$$, '22P02', 'stage name "won" is ambiguous', 'BEGIN ATOMIC function body');
SELECT throws_ok($q$DO $d$ DECLARE v funnel.deal_stage := 'won'; BEGIN INSERT INTO u(s) VALUES (v); END $d$$q$, '22P02', 'stage name "won" is ambiguous', 'PL/pgSQL variable');
SELECT throws_ok($$SELECT '{won}'::funnel.deal_stage[]$$, '22P02', 'stage name "won" is ambiguous', 'element of an array literal');
SELECT throws_ok($$SELECT funnel_internal.deal_stage_in('won', 0, -1)$$, '42501', NULL, 'input function called directly: PUBLIC has no EXECUTE');
RESET ROLE;
SELECT throws_ok($$SELECT funnel_internal.deal_stage_in('won', 0, -1)$$, '22P02', 'stage name "won" is ambiguous', 'input function called directly by a superuser');
SET ROLE funnel_vt_owner;
SELECT throws_ok($$PREPARE q(funnel.deal_stage) AS INSERT INTO u(s) VALUES ($1); EXECUTE q('won')$$, '22P02', 'stage name "won" is ambiguous', 'EXECUTE parameter');
SELECT is((SELECT count(*)::int FROM u), 0, 'nothing was stored in the unbound column');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relnamespace = 'vt'::regnamespace AND relname IN ('d', 'c', 'v', 'pt1')),
          0, 'no table, view or partition was created');
SELECT is((SELECT count(*)::int FROM pg_rewrite WHERE rulename = 'r') + (SELECT count(*)::int FROM pg_proc WHERE proname = 'f'),
          0, 'no rule or function was created');

-- 2. a column bound to a pipeline still takes bare names, shared ones included
SELECT lives_ok($$INSERT INTO b(s) VALUES ('won'), ('lost'), ('p2:lead')$$, 'bound column: INSERT VALUES');
SELECT lives_ok($$UPDATE b SET s = 'won' WHERE s OPERATOR(pg_catalog.=) 'p2:lost'$$, 'bound column: UPDATE SET');
SELECT lives_ok($$INSERT INTO b(s) SELECT 'lead'$$, 'bound column: INSERT ... SELECT of a literal');
SELECT lives_ok($$INSERT INTO b(s) SELECT t FROM texts$$, 'bound column: INSERT ... SELECT of a text column');
SELECT lives_ok($q$DO $d$ DECLARE v funnel.deal_stage(p2) := 'won'; BEGIN INSERT INTO b(s) VALUES (v); END $d$$q$, 'bound PL/pgSQL variable');
SELECT is((SELECT string_agg(s::text, ',' ORDER BY id) FROM b), 'p2:won,p2:won,p2:lead,p2:lead,p2:won,p2:won',
          'bare names resolved in the bound pipeline');
SELECT is(('won'::funnel.deal_stage(p1))::text, 'p1:won', 'a cast to a bound type resolves a bare name');
SELECT throws_ok($$CREATE TABLE d2 (s funnel.deal_stage(p2) DEFAULT 'won')$$, '22P02', 'stage name "won" is ambiguous',
                 'a DEFAULT must be qualified even on a bound column (DDL expressions are not resolved)');

-- 3. a tracked table resolves bare names in its stage column only while
--    funnel's resolving trigger runs first
RESET ROLE;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO funnel_vt_owner;
SET ROLE funnel_vt_owner;
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('vt.deals', 'p1');
SELECT lives_ok($$INSERT INTO deals VALUES (1, 'lead'), (2, 'won')$$, 'tracked table: bare names resolved by its trigger');
SELECT is((SELECT string_agg(stage::text, ',' ORDER BY id) FROM deals), 'p1:lead,p1:won', 'in the tracked pipeline');
CREATE FUNCTION stash() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN INSERT INTO u(s) VALUES (NEW.stage); RETURN NEW; END $f$;
CREATE TRIGGER a_stash BEFORE INSERT OR UPDATE ON deals FOR EACH ROW EXECUTE FUNCTION stash();
SELECT throws_ok($$INSERT INTO deals VALUES (3, 'lead')$$, '22P02', 'stage name "lead" is ambiguous',
                 'refused when another BEFORE trigger would see the row first');
DROP TRIGGER a_stash ON deals;
ALTER TABLE deals DISABLE TRIGGER funnel_track_resolve;
SELECT throws_ok($$INSERT INTO deals VALUES (3, 'lead')$$, '22P02', 'stage name "lead" is ambiguous',
                 'refused when the resolving trigger is disabled');
ALTER TABLE deals ENABLE TRIGGER funnel_track_resolve;
SELECT is((SELECT count(*)::int FROM u), 0, 'no unresolved value reached another table');

-- 4. a stage added by an open transaction cannot escape into an index
CREATE TABLE idx (s funnel.deal_stage);
INSERT INTO idx VALUES ('p1:lead'), ('p1:demo'), ('p1:won');
CREATE INDEX idx_s ON idx (s);
RESET ROLE;
SAVEPOINT before_stage;
SELECT funnel.add_stage('p1', 'pilot', after => 'lead');
CREATE TEMP TABLE summary AS SELECT funnel.funnel('p1:lead'::funnel.deal_stage) AS f;
SELECT is((SELECT string_agg(funnel.stage_name(stage), ',') FROM summary, funnel.report(summary.f)),
          'lead,demo,won,lost', 'report() leaves out a stage added by the open transaction');
INSERT INTO vt.idx SELECT stage FROM summary, funnel.report(summary.f);
SELECT throws_ok($$SELECT 'p1:pilot'::funnel.deal_stage$$, '55P04', NULL, 'input refuses it (55P04)');
ROLLBACK TO before_stage;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT lives_ok($$SELECT count(*) FROM vt.idx WHERE s OPERATOR(pg_catalog.>=) 'p1:lead'$$, 'index scans work after the rollback');
SELECT lives_ok($$SELECT bt_index_check('vt.idx_s', true)$$, 'the index passes bt_index_check');
RESET enable_seqscan;
RESET enable_bitmapscan;

-- 5. drop_pipeline finds values at any depth, in expressions and statistics
SET ROLE funnel_vt_owner;
DROP TABLE b;
CREATE MATERIALIZED VIEW mv_empty AS SELECT 'p1:lead'::funnel.deal_stage AS s WITH NO DATA;
CREATE MATERIALIZED VIEW mv_p2 AS SELECT 'p2:lead'::funnel.deal_stage AS s;
CREATE DOMAIN ds AS funnel.deal_stage;
CREATE TYPE comp AS (a int, s ds);
CREATE TYPE sr AS RANGE (subtype = funnel.deal_stage);
CREATE TABLE holders (c comp[], r sr, f funnel.funnel_summary, n int);
CREATE TABLE expr_holders (s funnel.deal_stage);
RESET ROLE;
SELECT lives_ok($$SELECT funnel.drop_pipeline('p3')$$, 'a materialized view (populated or not) of other pipelines does not block dropping p3');
CREATE FUNCTION pg_temp.detail_of(sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE d text;
BEGIN
    EXECUTE sql;
    RETURN 'dropped';
EXCEPTION WHEN dependent_objects_still_exist THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END $f$;
CREATE FUNCTION pg_temp.blocker(setup text, teardown text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE d text;
BEGIN
    SET LOCAL ROLE funnel_vt_owner;
    EXECUTE setup;
    RESET ROLE;
    d := pg_temp.detail_of($$SELECT funnel.drop_pipeline('p2')$$);
    SET LOCAL ROLE funnel_vt_owner;
    EXECUTE teardown;
    RESET ROLE;
    RETURN d;
END $f$;
DROP MATERIALIZED VIEW vt.mv_p2;
SELECT is(pg_temp.blocker($$INSERT INTO holders(c) VALUES (ARRAY[ROW(1, 'p2:visit')::comp])$$, 'DELETE FROM holders'),
          'Column vt.holders.c holds stages of it.', 'array of a composite with a domain over deal_stage');
SELECT is(pg_temp.blocker($$INSERT INTO holders(r) VALUES (sr('p2:lead', 'p2:won'))$$, 'DELETE FROM holders'),
          'Column vt.holders.r holds stages of it.', 'range over deal_stage');
SELECT is(pg_temp.blocker($$INSERT INTO holders(f) SELECT funnel.funnel('p2:won'::funnel.deal_stage)$$, 'DELETE FROM holders'),
          'Column vt.holders.f holds stages of it.', 'funnel_summary');
SELECT is(pg_temp.blocker($$CREATE VIEW v AS SELECT 'p2:won'::funnel.deal_stage AS s$$, 'DROP VIEW v'),
          'View vt.v holds stages of it.', 'constant of a view');
SELECT is(pg_temp.blocker($$ALTER TABLE expr_holders ALTER s SET DEFAULT 'p2:won'$$, 'ALTER TABLE expr_holders ALTER s DROP DEFAULT'),
          'The default of column vt.expr_holders.s holds stages of it.', 'column default');
SELECT is(pg_temp.blocker($$ALTER TABLE expr_holders ADD CONSTRAINT k CHECK (s OPERATOR(pg_catalog.<>) 'p2:lead')$$, 'ALTER TABLE expr_holders DROP CONSTRAINT k'),
          'Constraint k of vt.expr_holders holds stages of it.', 'CHECK constraint');
SELECT is(pg_temp.blocker($$CREATE TABLE ptab (s funnel.deal_stage) PARTITION BY LIST (s); CREATE TABLE ptab1 PARTITION OF ptab FOR VALUES IN ('p2:won')$$, 'DROP TABLE ptab'),
          'The partition bound of vt.ptab1 holds stages of it.', 'LIST partition bound');
SELECT is(pg_temp.blocker($$CREATE INDEX part_idx ON expr_holders (s) WHERE s OPERATOR(pg_catalog.<>) 'p2:won'$$, 'DROP INDEX part_idx'),
          'Index vt.part_idx holds stages of it.', 'partial index predicate');
SELECT is(pg_temp.blocker($$INSERT INTO holders(n) VALUES (1); ALTER TABLE holders ADD COLUMN late funnel.deal_stage DEFAULT 'p2:won'; ALTER TABLE holders ALTER late DROP DEFAULT$$,
                          'ALTER TABLE holders DROP COLUMN late; DELETE FROM holders'),
          'Column vt.holders.late holds stages of it.', 'column added with a default (missing value)');
SET LOCAL ROLE funnel_vt_owner;
INSERT INTO vt.expr_holders SELECT 'p2:won' FROM generate_series(1, 50);
ANALYZE vt.expr_holders;
DELETE FROM vt.expr_holders;
ANALYZE vt.expr_holders;
RESET ROLE;
SELECT ok((SELECT count(*) FROM pg_stats WHERE tablename = 'expr_holders') > 0,
          'ANALYZE of the emptied table kept statistics listing p2''s stages');
SELECT is(pg_temp.detail_of($$SELECT funnel.drop_pipeline('p2')$$), 'dropped', 'dropped once nothing holds its stages');
SELECT lives_ok($$SELECT * FROM vt.holders, vt.expr_holders, vt.deals, vt.idx$$, 'what is left reads back');
SELECT lives_ok($$SELECT most_common_vals::text FROM pg_stats WHERE schemaname = 'vt'$$, 'so do the statistics');

SELECT * FROM finish();
ROLLBACK;
