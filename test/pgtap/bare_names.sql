-- test/pgtap/bare_names.sql: saved queries that compare stages with bare
-- names ('won') give the same rows before and after a second and third
-- pipeline sharing every stage name are created (issue 19.1): literals in
-- =, <>, <, <=, >, >=, IN, NOT IN, = ANY, BETWEEN, CASE, IS [NOT] DISTINCT
-- FROM and funnel function arguments; text, varchar and untyped parameters
-- of prepared statements (generic plans cached before the new pipelines);
-- PL/pgSQL.  Three columns: one bound to b2b, one unbound but tracked in
-- b2b, one unbound holding the stages of two pipelines.  On that last one
-- an order comparison with a shared bare name is refused with the
-- candidates, and no HINT advises what the query already does.  Everything
-- runs as a table owner without superuser.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
RESET client_min_messages;
CREATE EXTENSION funnel;
SELECT plan(150);

-- b2b and partner share no stage name (partner's won and lost are named
-- signed and dropped), so every bare name below is unique until later
SELECT funnel.create_pipeline('b2b', ARRAY['lead', 'qualified', 'proposal']);
SELECT funnel.create_pipeline('partner', ARRAY['intro', 'pilot'],
                              won => ARRAY['signed'], lost => ARRAY['dropped']);
CREATE ROLE funnel_bn_owner NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE SCHEMA bn AUTHORIZATION funnel_bn_owner;
GRANT USAGE ON SCHEMA public TO funnel_bn_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO funnel_bn_owner;
SET ROLE funnel_bn_owner;
SET search_path = bn, public;

CREATE TABLE db (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
CREATE TABLE dt (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
CREATE TABLE dm (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
INSERT INTO db VALUES (1, 'lead'), (2, 'qualified'), (3, 'proposal'), (4, 'won'), (5, 'lost'), (6, 'won');
INSERT INTO dt SELECT * FROM db;
INSERT INTO dm SELECT * FROM db;
INSERT INTO dm VALUES (11, 'intro'), (12, 'pilot'), (13, 'signed'), (14, 'dropped');
SELECT funnel.track('dt', 'b2b');
CREATE INDEX ON dm (stage);

-- the saved queries: each gives one text, its ids (or values) in order
CREATE TABLE saved (name text PRIMARY KEY, sql text NOT NULL);
INSERT INTO saved
SELECT t || ': ' || replace(q, '$t', t), replace(q, '$t', t)
  FROM unnest(ARRAY['db', 'dt', 'dm']) AS t,
       unnest(ARRAY[
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage = 'won'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE 'won' = stage$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage <> 'won'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage IN ('won', 'lost')$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage IN ('won', 'b2b:lead', 'lost')$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage NOT IN ('won', 'lead')$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage = ANY (ARRAY['won', 'lead'])$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage = ANY ('{won,lead}'::text[])$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage <> ALL (ARRAY['won', 'lead'])$$,
         $$SELECT string_agg(id::text || CASE stage WHEN 'won' THEN 'W' WHEN 'lost' THEN 'L' ELSE '' END, ',' ORDER BY id) FROM $t$$,
         $$SELECT string_agg(id::text || CASE WHEN stage = 'won' THEN 'W' WHEN stage IN ('lost') THEN 'L' ELSE '' END, ',' ORDER BY id) FROM $t$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage IS DISTINCT FROM 'won'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage IS NOT DISTINCT FROM 'won'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage = 'won'::text$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage IN ('won'::varchar, 'lead'::text)$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t d WHERE EXISTS (SELECT FROM $t e WHERE e.id = d.id AND d.stage = 'won')$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t JOIN (SELECT 1) x ON true WHERE stage = 'lost'$$,
         $$SELECT count(*)::text FROM $t WHERE stage = 'won' OR stage = 'lead'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage < 'b2b:proposal'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage BETWEEN 'b2b:qualified' AND 'b2b:won'$$]) AS q;
-- order comparisons and funnel functions: the bound and the tracked column
INSERT INTO saved
SELECT t || ': ' || replace(q, '$t', t), replace(q, '$t', t)
  FROM unnest(ARRAY['db', 'dt']) AS t,
       unnest(ARRAY[
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage < 'proposal'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage <= 'proposal'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage > 'qualified'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE 'qualified' < stage$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage >= 'won'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage BETWEEN 'qualified' AND 'won'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage NOT BETWEEN 'qualified' AND 'won'$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage < ANY (ARRAY['qualified', 'lost'])$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE stage > 'lead'::varchar$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE NULLIF(stage, 'won') IS NULL$$,
         $$SELECT funnel.conversion_rate(stage, 'lead', 'won')::text FROM $t$$,
         $$SELECT funnel.conversion_rate(stage, 'qualified'::text, 'won'::varchar)::text FROM $t$$,
         $$SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE funnel.position(stage) >= funnel.position('b2b:proposal')$$]) AS q;

-- prepared statements, generic plans made before the new pipelines
SET plan_cache_mode = force_generic_plan;
PREPARE p_db_text(text) AS SELECT string_agg(id::text, ',' ORDER BY id) FROM db WHERE stage = $1;
PREPARE p_db_varchar(varchar) AS SELECT string_agg(id::text, ',' ORDER BY id) FROM db WHERE stage IN ($1, 'lost');
PREPARE p_db_unknown AS SELECT string_agg(id::text, ',' ORDER BY id) FROM db WHERE stage >= $1;
PREPARE p_db_case AS SELECT string_agg(id::text || CASE stage WHEN $1 THEN 'W' ELSE '' END, ',' ORDER BY id) FROM db;
PREPARE p_dt_text(text) AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dt WHERE stage < $1;
PREPARE p_dt_varchar(varchar) AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dt WHERE stage = $1;
PREPARE p_dt_unknown AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dt WHERE stage IS DISTINCT FROM $1;
PREPARE p_dm_text(text) AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage = $1;
PREPARE p_dm_varchar(varchar, varchar) AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage NOT IN ($1, $2);
PREPARE p_dm_unknown AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage IN ($1, $2);
PREPARE p_dm_literal AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage = 'won';
PREPARE p_dm_order(text) AS SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage <= $1;
PREPARE p_dt_update AS UPDATE dt SET stage = $1 WHERE id = $2 RETURNING stage::text;
PREPARE p_db_insert AS INSERT INTO db VALUES ($1, $2) RETURNING stage::text;
-- PL/pgSQL: static SQL, its plans cached by the first call
CREATE FUNCTION f_db(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT string_agg(id::text, ',' ORDER BY id) FROM db WHERE stage = t OR stage < 'qualified');
END $$;
CREATE FUNCTION f_dt(t varchar) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT string_agg(id::text, ',' ORDER BY id) FROM dt WHERE stage IN (t, 'lost'));
END $$;
CREATE FUNCTION f_dm(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    SELECT string_agg(id::text, ',' ORDER BY id) INTO r FROM dm WHERE stage = t OR stage IN ('lost', 'dropped');
    RETURN r;
END $$;

-- one value of a statement, or its error
CREATE FUNCTION one(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE q INTO r;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ' ' || SQLERRM;
END $$;

-- each saved query, prepared statement and function: its result or error
CREATE FUNCTION run_all() RETURNS TABLE (name text, result text) LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT * FROM saved ORDER BY 1 LOOP
        name := s.name;
        BEGIN
            EXECUTE s.sql INTO result;
        EXCEPTION WHEN OTHERS THEN
            result := 'ERROR ' || SQLSTATE || ' ' || SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
    FOR s IN SELECT * FROM unnest(ARRAY[
        'p_db_text(''won'')', 'p_db_varchar(''won'')', 'p_db_unknown(''won'')', 'p_db_case(''won'')',
        'p_dt_text(''proposal'')', 'p_dt_varchar(''won'')', 'p_dt_unknown(''won'')',
        'p_dm_text(''won'')', 'p_dm_varchar(''won'', ''lead'')', 'p_dm_unknown(''won'', ''b2b:lead'')',
        'p_dm_order(''b2b:qualified'')', 'p_dm_literal']) AS e(sql) LOOP
        name := s.sql;
        BEGIN
            EXECUTE 'EXECUTE ' || s.sql INTO result;
        EXCEPTION WHEN OTHERS THEN
            result := 'ERROR ' || SQLSTATE || ' ' || SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
    name := 'f_db'; result := one('SELECT f_db(''won'')'); RETURN NEXT;
    name := 'f_dt'; result := one('SELECT f_dt(''won'')'); RETURN NEXT;
    name := 'f_dm'; result := one('SELECT f_dm(''won'')'); RETURN NEXT;
END $$;

CREATE TEMP TABLE before AS SELECT * FROM run_all();
-- the queries' answers, known independently of the code under test
SELECT is((SELECT count(*) FROM before WHERE result LIKE 'ERROR%'), 0::bigint,
          'with one pipeline per name, no saved query fails');
SELECT results_eq($$SELECT name, result FROM before WHERE name ~ '^(db|dt|dm): .* = ''won''$' ORDER BY 1$$,
                  $$VALUES ('db: SELECT string_agg(id::text, '','' ORDER BY id) FROM db WHERE stage = ''won''', '4,6'),
                           ('dm: SELECT string_agg(id::text, '','' ORDER BY id) FROM dm WHERE stage = ''won''', '4,6'),
                           ('dt: SELECT string_agg(id::text, '','' ORDER BY id) FROM dt WHERE stage = ''won''', '4,6')$$,
                  'stage = ''won'' finds deals 4 and 6 in each table');
SELECT is((SELECT result FROM before WHERE name = 'dm: ' || (SELECT sql FROM saved WHERE name LIKE 'dm:%NOT IN%')),
          '2,3,5,11,12,13,14', 'dm: NOT IN (''won'', ''lead'')');
SELECT is((SELECT result FROM before WHERE name = 'p_db_unknown(''won'')'), '4,5,6', 'untyped parameter: stage >= $1');
SELECT is((SELECT result FROM before WHERE name = 'f_dm'), '4,5,6,14', 'PL/pgSQL over the two-pipeline column');

-- a second and a third pipeline, sharing every name of b2b and partner
RESET ROLE;
SELECT funnel.create_pipeline('retail', ARRAY['lead', 'qualified', 'proposal', 'intro', 'pilot'],
                              won => ARRAY['won', 'signed'], lost => ARRAY['lost', 'dropped']);
SELECT funnel.create_pipeline('smb', ARRAY['intro', 'pilot', 'lead', 'qualified', 'proposal'],
                              won => ARRAY['signed', 'won'], lost => ARRAY['dropped', 'lost']);
SET ROLE funnel_bn_owner;

-- 1. identical answers (one assertion per saved query, statement, function)
SELECT is(a.result, b.result, 'same after two more pipelines: ' || b.name)
  FROM before b LEFT JOIN run_all() a USING (name)
 ORDER BY b.name;

-- 2. a shared name compared in order with the two-pipeline column: refused,
--    naming the candidates; the HINT does not advise binding the column
CREATE FUNCTION err(q text, p text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; m text; d text; h text;
BEGIN
    IF p IS NULL THEN
        EXECUTE q;
    ELSE
        EXECUTE q USING p;
    END IF;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN st || ' | ' || m || ' | ' || d || ' | ' || h;
END $$;
SELECT is(err($$SELECT count(*) FROM dm WHERE stage < 'won'$$),
          '22P02 | stage name "won" is ambiguous | It could be ''b2b:won'', ''retail:won'' or ''smb:won''. | Qualify it, as in ''b2b:won'': stages are ordered within one pipeline, and the column compared may hold stages of several.',
          'dm: stage < ''won'' is refused with the candidates');
SELECT is(err($$SELECT count(*) FROM dm WHERE stage BETWEEN 'lead' AND 'b2b:won'$$),
          '22P02 | stage name "lead" is ambiguous | It could be ''b2b:lead'', ''retail:lead'' or ''smb:lead''. | Qualify it, as in ''b2b:lead'': stages are ordered within one pipeline, and the column compared may hold stages of several.',
          'dm: BETWEEN with a shared name is refused');
SELECT is(err($$SELECT count(*) FROM dm WHERE stage >= $1$$, 'pilot'),
          '22P02 | stage name "pilot" is ambiguous | It could be ''partner:pilot'', ''retail:pilot'' or ''smb:pilot''. | Qualify it, as in ''partner:pilot'': stages are ordered within one pipeline, and the column compared may hold stages of several.',
          'dm: stage >= a text value naming a shared stage is refused when read');
SELECT is(err('EXECUTE p_dm_order(''lead'')'),
          '22P02 | stage name "lead" is ambiguous | It could be ''b2b:lead'', ''retail:lead'' or ''smb:lead''. | Qualify it, as in ''b2b:lead'': stages are ordered within one pipeline, and the column compared may hold stages of several.',
          'dm: a cached plan refuses a shared name in an order comparison');
SELECT is(err($$SELECT funnel.conversion_rate(stage, 'lead', 'won') FROM dm$$),
          '22P02 | stage name "lead" is ambiguous | It could be ''b2b:lead'', ''retail:lead'' or ''smb:lead''. | Qualify it, as in ''b2b:lead''.',
          'dm: conversion_rate needs qualified stages');
-- a name no pipeline of a bound column has: that pipeline's stages only
SELECT is(err($$SELECT count(*) FROM db WHERE stage = 'signed'$$),
          '22P02 | invalid input value for type deal_stage: "signed" | Pipeline "b2b" has no stage "signed". Its stages are: lead, qualified, proposal, won, lost. | ',
          'db: a name b2b lacks is refused, listing b2b''s stages');
SELECT is(err('EXECUTE p_db_text(''signed'')'),
          '22P02 | invalid input value for type deal_stage: "signed" | Pipeline "b2b" has no stage "signed". Its stages are: lead, qualified, proposal, won, lost. | ',
          'db: a text parameter b2b lacks is refused, listing b2b''s stages');
SELECT is(err($$SELECT count(*) FROM dm WHERE stage = 'nope'$$),
          '22P02 | invalid input value for type deal_stage: "nope" | No pipeline has a stage "nope". | A stage is written as ''pipeline:stage'', or as ''stage'' where only one pipeline has that name. SELECT * FROM funnel.stages lists the stages of every pipeline.',
          'dm: a name no pipeline has');

-- 3. the new pipelines' deals: the two-pipeline column's equality means the
--    name in any pipeline, index or not
INSERT INTO dm VALUES (21, 'retail:won'), (22, 'smb:lead'), (23, 'smb:lost');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage = 'won'), '4,6,21', 'dm: stage = ''won'' means every pipeline''s won');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage IN ('won', 'lead')), '1,4,6,21,22', 'dm: IN, every pipeline');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage <> 'won'), '1,2,3,5,11,12,13,14,22,23', 'dm: <> ''won'' excludes every pipeline''s won');
SELECT is(one('SELECT f_dm(''won'')'), '4,5,6,14,21,23', 'dm: a PL/pgSQL plan cached before finds the new pipeline''s won');
SELECT is(one('EXECUTE p_dm_text(''won'')'), '4,6,21', 'dm: a generic plan cached before finds the new pipeline''s won');
SELECT is(one('EXECUTE p_dm_literal'), '4,6,21', 'dm: a plan of stage = ''won'' cached while ''won'' was b2b''s alone is parsed again');
CREATE FUNCTION plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        r := concat_ws(' ', r, l);
    END LOOP;
    RETURN r;
END $$;
SET LOCAL enable_seqscan = off;
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM dm WHERE stage = 'lead'), '1,22', 'dm: stage = ''lead'' with the index');
SELECT matches(plan_of($$SELECT id FROM dm WHERE stage = 'lead'$$), 'Index Cond: \(stage = ANY \(funnel_internal.stages_named',
               'dm: stage = ''lead'' is an index condition');
SELECT matches(plan_of($$SELECT id FROM db WHERE stage = 'lead'$$), 'stage = ''b2b:lead''::funnel.deal_stage',
               'db: stage = ''lead'' is the constant b2b:lead');
RESET enable_seqscan;

-- 4. untyped parameters written to a bound and a tracked column
SELECT is(one('EXECUTE p_db_insert(7, ''won'')'), 'b2b:won', 'db: INSERT of an untyped shared name');
SELECT is(one('EXECUTE p_dt_update(''won'', 1)'), 'b2b:won', 'dt: UPDATE SET stage = $1 (untyped) on the tracked column');
SELECT is((SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'p_dt_update'), '{text,integer}',
          'the untyped stage parameter is described as text');
SELECT is((SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'p_db_text'), '{text}',
          'a declared parameter keeps its type');

-- 5. nothing unresolved is stored anywhere, by a table owner without
--    superuser: views keep names as text, the rest is refused or resolved
CREATE VIEW v_dm AS SELECT id FROM dm WHERE stage IN ('won', 'lost') AND stage <> 'smb:won';
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM v_dm), '4,5,6,21,23', 'view of IN (''won'', ''lost'') over the two-pipeline column');
SELECT matches(pg_get_viewdef('v_dm'), 'stages_named\(ARRAY\[''won''::text, ''lost''::text\]\)', 'the view stores the names as text');
SELECT lives_ok(format('CREATE VIEW v_dm2 AS %s', pg_get_viewdef('v_dm')), 'the view''s definition reads back (dump and restore)');
CREATE VIEW v_db AS SELECT id FROM db WHERE stage = 'won';
SELECT matches(pg_get_viewdef('v_db'), 'stage = ''b2b:won''::funnel.deal_stage', 'a view over the bound column stores the resolved stage');
SELECT throws_ok($$CREATE VIEW v_bad AS SELECT CASE WHEN stage = 'won' THEN 'lost' ELSE stage END AS s FROM dm$$,
                 '22P02', 'stage name "lost" is ambiguous', 'a shared name as a CASE result is refused in a view');
SELECT throws_ok($$ALTER TABLE dm ALTER stage SET DEFAULT 'won'$$, '22P02', 'stage name "won" is ambiguous', 'DEFAULT');
SELECT throws_ok($$WITH c AS (SELECT 'won'::funnel.deal_stage AS s) INSERT INTO dm SELECT 100, s FROM c$$,
                 '22P02', 'stage name "won" is ambiguous', 'a CTE''s shared name written to the two-pipeline column');
SELECT lives_ok($$WITH c AS (SELECT id, stage FROM db WHERE stage = 'won') INSERT INTO dm SELECT 100 + id, stage FROM c$$,
                'a CTE of the bound column''s won deals written to the two-pipeline column');
SELECT is((SELECT string_agg(stage::text, ',' ORDER BY id) FROM dm WHERE id > 100), 'b2b:won,b2b:won,b2b:won', 'what it wrote is b2b:won (the three won deals of db)');
CREATE TABLE texts (t text);
INSERT INTO texts VALUES ('won');
SELECT throws_ok($$INSERT INTO dm SELECT 200, t FROM texts$$, '22P02', 'stage name "won" is ambiguous', 'INSERT ... SELECT of a text column');
SELECT throws_ok($$INSERT INTO dm SELECT 201, unnest(ARRAY['won', 'lost']::funnel.deal_stage[])$$, '22P02', NULL, 'INSERT ... SELECT of an array of shared names');
SELECT throws_ok($$UPDATE dm SET stage = 'won' FROM db WHERE dm.id = db.id AND db.stage = 'won'$$,
                 '22P02', 'stage name "won" is ambiguous', 'UPDATE ... FROM: a shared name written to the two-pipeline column');
SELECT lives_ok($$UPDATE dm SET stage = db.stage FROM db WHERE dm.id = db.id AND db.stage = 'lost'$$, 'UPDATE ... FROM the bound column');
PREPARE ins_dm AS INSERT INTO dm VALUES ($1, $2);
SELECT throws_ok('EXECUTE ins_dm(300, ''won'')', '22P02', 'stage name "won" is ambiguous', 'an untyped parameter written to the two-pipeline column');
-- ON CONFLICT DO UPDATE and MERGE into the tracked column: an untyped
-- parameter is read in the pipeline the table tracks, as a plain INSERT's is
PREPARE upsert_dt AS INSERT INTO dt VALUES ($1, 'b2b:lead') ON CONFLICT (id) DO UPDATE SET stage = $2;
SELECT lives_ok('EXECUTE upsert_dt(500, ''qualified'')', 'ON CONFLICT: the insert');
SELECT lives_ok('EXECUTE upsert_dt(500, ''qualified'')', 'ON CONFLICT DO UPDATE SET stage = an untyped parameter holding a shared name');
PREPARE merge_dt AS MERGE INTO dt USING (SELECT $1::int AS id) s ON dt.id = s.id
    WHEN MATCHED THEN UPDATE SET stage = $2 WHEN NOT MATCHED THEN INSERT VALUES (s.id, $2);
SELECT lives_ok('EXECUTE merge_dt(500, ''proposal'')', 'MERGE ... UPDATE SET stage = an untyped parameter');
SELECT lives_ok('EXECUTE merge_dt(400, ''lead'')', 'MERGE ... INSERT an untyped parameter');
SELECT lives_ok($$MERGE INTO dt USING (SELECT 401 AS id) s ON dt.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'qualified')$$, 'MERGE ... INSERT a literal');
SELECT is((SELECT string_agg(id || '=' || stage::text, ',' ORDER BY id) FROM dt WHERE id IN (400, 401, 500)),
          '400=b2b:lead,401=b2b:qualified,500=b2b:proposal', 'what they wrote, in the tracked pipeline');
SELECT is((SELECT string_agg(stage::text, ',' ORDER BY entered_at, stage) FROM dt_stage_history WHERE deal_id = 500),
          'b2b:lead,b2b:qualified,b2b:proposal', 'and the history has each visit');
SELECT is(funnel_internal.stages_named('{won,b2b:lost}')::text, '{b2b:won,retail:won,smb:won,b2b:lost}', 'stages_named() returns resolved stages only');
SELECT is((SELECT count(*) FROM (SELECT stage::text FROM dm UNION ALL SELECT stage::text FROM db UNION ALL SELECT stage::text FROM dt) s),
          (SELECT count(*) FROM dm) + (SELECT count(*) FROM db) + (SELECT count(*) FROM dt), 'every stored stage reads back');

SELECT * FROM finish();
ROLLBACK;
