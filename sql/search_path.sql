--
-- search_path: everything a client does with stages works on the default
-- search_path ("$user", public), the one BI tools and applications connect
-- with: every comparison operator, IN, CASE, joins (hash, merge, nested
-- loop), DISTINCT and GROUP BY (hash and sort), ORDER BY, min/max, indexes;
-- text filters (LIKE, ILIKE, lower(stage) LIKE); and parameters typed text or
-- varchar, as drivers bind them (JDBC setString sends varchar, psycopg 3 and
-- node-postgres text).  Schema funnel is never
-- put on the path in this file.
--
SET search_path = "$user", public;
\set SHOW_CONTEXT never
\set VERBOSITY default
SET extra_float_digits = 0;

-- How built-in expressions resolve before the extension exists, to compare
-- with the same expressions afterwards: the operators in pg_catalog (the
-- comparisons, LIKE and ILIKE), lower() and upper() in pg_catalog and the
-- implicit casts from text and varchar must not change any of them.
CREATE TABLE probe (t text, v varchar, n name, c char(3), i int);
CREATE VIEW probe_before AS
SELECT t = t AS a, t = v AS b, v = t AS c, v = v AS d, v = 'x' AS e, 'x' = v AS f,
       t = 'x' AS g, 'x' = 'y' AS h, t < v AS i, v >= 'x' AS j, t = n AS k, n = v AS l,
       v IN ('a', 'b') AS m, t IN (v, 'b') AS o, v IS DISTINCT FROM t AS p,
       c = v AS q, v <> n AS r, CASE v WHEN 'a' THEN 1 END AS s, t = ANY (ARRAY[v]) AS u,
       coalesce(v, t) AS w, v || t AS x, length(v) AS y, upper(v) AS z,
       t LIKE v AS aa, v LIKE 'x' AS ab, 'x' LIKE 'y' AS ac, v ILIKE t AS ad,
       v NOT LIKE 'x' AS ae, t NOT ILIKE 'x' AS af, c LIKE 'x' AS ag, n LIKE 'x' AS ah,
       v LIKE 'x' ESCAPE '!' AS ai, lower(v) AS aj, lower(t) AS ak, upper(c) AS al,
       lower('x') AS am, upper(n) AS an, lower(int4range(i, 5)) AS ao,
       upper(int4multirange(int4range(i, 5))) AS ap, lower(v) LIKE t AS aq
  FROM probe;
CREATE VIEW probe_before_agg AS
SELECT min(t) AS a, max(v) AS b, min(c) AS c, max(v::text) AS d, min('x') AS e,
       string_agg(v, ',') AS f
  FROM probe;
-- the operators, functions and result types a view's query tree refers to
CREATE FUNCTION view_refs(v regclass) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(o ORDER BY o) FROM (
        SELECT DISTINCT CASE m[1] WHEN 'opno' THEN 'operator ' || m[2]::oid::regoperator::text
                                  WHEN 'resulttype' THEN 'type ' || m[2]::oid::regtype::text
                                  ELSE 'function ' || m[2]::oid::regprocedure::text END AS o
          FROM pg_rewrite r,
               regexp_matches(r.ev_action::text, ':(opno|opfuncid|funcid|aggfnoid|winfnoid|resulttype) (\d+)', 'g') m
         WHERE r.ev_class = v AND m[2] <> '0') x
$$;

CREATE EXTENSION funnel;
SHOW search_path;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit'], ARRAY[0.2, 1/3::float8]);

CREATE VIEW probe_after AS
SELECT t = t AS a, t = v AS b, v = t AS c, v = v AS d, v = 'x' AS e, 'x' = v AS f,
       t = 'x' AS g, 'x' = 'y' AS h, t < v AS i, v >= 'x' AS j, t = n AS k, n = v AS l,
       v IN ('a', 'b') AS m, t IN (v, 'b') AS o, v IS DISTINCT FROM t AS p,
       c = v AS q, v <> n AS r, CASE v WHEN 'a' THEN 1 END AS s, t = ANY (ARRAY[v]) AS u,
       coalesce(v, t) AS w, v || t AS x, length(v) AS y, upper(v) AS z,
       t LIKE v AS aa, v LIKE 'x' AS ab, 'x' LIKE 'y' AS ac, v ILIKE t AS ad,
       v NOT LIKE 'x' AS ae, t NOT ILIKE 'x' AS af, c LIKE 'x' AS ag, n LIKE 'x' AS ah,
       v LIKE 'x' ESCAPE '!' AS ai, lower(v) AS aj, lower(t) AS ak, upper(c) AS al,
       lower('x') AS am, upper(n) AS an, lower(int4range(i, 5)) AS ao,
       upper(int4multirange(int4range(i, 5))) AS ap, lower(v) LIKE t AS aq
  FROM probe;
CREATE VIEW probe_after_agg AS
SELECT min(t) AS a, max(v) AS b, min(c) AS c, max(v::text) AS d, min('x') AS e,
       string_agg(v, ',') AS f
  FROM probe;
-- same operators and functions, same deparsed text (no cast to deal_stage)
SELECT view_refs('probe_before') = view_refs('probe_after') AS same_operators,
       pg_get_viewdef('probe_before') = pg_get_viewdef('probe_after') AS same_text,
       view_refs('probe_before_agg') = view_refs('probe_after_agg') AS same_aggregates,
       pg_get_viewdef('probe_before_agg') = pg_get_viewdef('probe_after_agg') AS same_agg_text;
SELECT unnest(view_refs('probe_after')) AS resolved_to;
SELECT unnest(view_refs('probe_after_agg')) AS resolved_to;
-- (the same function sees deal_stage where it is used)
CREATE TABLE probe_stage (s funnel.deal_stage, t text);
CREATE VIEW probe_stage_v AS
SELECT s = 'b2b:won' AS a, s = t AS b, s IN (t, 'b2b:lost') AS c, min(s) OVER () AS d FROM probe_stage;
SELECT unnest(view_refs('probe_stage_v')) AS resolved_to;
-- untyped parameters of LIKE and lower() are still read as text
PREPARE probe_unknown AS SELECT $1 LIKE $2, lower($3), upper($4) LIKE 'x';
SELECT parameter_types FROM pg_prepared_statements WHERE name = 'probe_unknown';
DEALLOCATE probe_unknown;
DROP VIEW probe_stage_v;
DROP TABLE probe_stage;

-- What the extension put in pg_catalog (what \doS, \dfS and \daS show): the
-- six comparison operators on deal_stage, LIKE, ILIKE and their negations
-- (deal_stage, text), lower() and upper() and min/max; nothing in schema
-- funnel is an operator any more.
SELECT o.oprname, o.oprnamespace::regnamespace, o.oprleft::regtype, o.oprright::regtype,
       o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator, o.oprcanhash, o.oprcanmerge,
       obj_description(o.oid, 'pg_operator')
  FROM pg_operator o
 WHERE 'funnel.deal_stage'::regtype IN (o.oprleft, o.oprright)
 ORDER BY o.oprname;
SELECT count(*) AS operators_in_funnel FROM pg_operator WHERE oprnamespace = 'funnel'::regnamespace;
SELECT p.oid::regprocedure, obj_description(p.oid, 'pg_proc')
  FROM pg_proc p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace
   AND p.proargtypes[0] = 'funnel.deal_stage'::regtype
 ORDER BY 1::text;
SELECT c.castsource::regtype, c.casttarget::regtype, c.castcontext, c.castmethod
  FROM pg_cast c
 WHERE 'funnel.deal_stage'::regtype IN (c.castsource, c.casttarget)
    OR 'funnel.funnel_summary'::regtype IN (c.castsource, c.casttarget)
 ORDER BY 1::text, 2::text;
-- every operator class on deal_stage, wherever it is, passes amvalidate
SELECT c.opcname, am.amname, amvalidate(c.oid)
  FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod
 WHERE c.opcintype = 'funnel.deal_stage'::regtype
 ORDER BY 1;

CREATE TABLE deals (id int PRIMARY KEY, amount numeric(12,2),
                    stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO deals VALUES (1, 100, 'lead'), (2, 200, 'qualified'), (3, 300, 'proposal'),
                         (4, 400, 'won'), (5, 500, 'lost'), (6, 600, 'proposal'),
                         (7, NULL, 'negotiation');
CREATE TABLE targets (stage funnel.deal_stage, label text);
INSERT INTO targets VALUES ('b2b:proposal', 'p'), ('b2b:won', 'w'), ('retail:visit', 'r'),
                           ('b2b:won', 'w2');

-- every operator with a literal, which resolves to deal_stage = deal_stage
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM deals WHERE stage = 'b2b:won';
SELECT id FROM deals WHERE stage = 'b2b:won';
SELECT id FROM deals WHERE 'b2b:won' = stage;
SELECT id FROM deals WHERE stage = 'b2b:won'::funnel.deal_stage;
SELECT id FROM deals WHERE stage = CAST('b2b:won' AS funnel.deal_stage(b2b));
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage <> 'b2b:proposal';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage < 'b2b:proposal';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage <= 'b2b:proposal';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage > 'b2b:proposal';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage >= 'b2b:proposal';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage BETWEEN 'b2b:qualified' AND 'b2b:negotiation';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage IN ('b2b:won', 'b2b:lost');
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage NOT IN ('b2b:won', 'b2b:lost');
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage = ANY ('{b2b:lead,b2b:won}');
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage IS DISTINCT FROM 'b2b:lead';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage IS NOT DISTINCT FROM 'b2b:lead';
SELECT array_agg(id ORDER BY id) FROM deals WHERE (stage, id) = ('b2b:proposal', 6);
SELECT array_agg(id ORDER BY id) FROM deals WHERE NULLIF(stage, 'b2b:lost') IS NULL;
SELECT id, CASE stage WHEN 'b2b:won' THEN 'won' WHEN 'b2b:lost' THEN 'lost' ELSE 'open' END
  FROM deals ORDER BY id;
-- ORDER BY, DISTINCT and GROUP BY, by sorting and by hashing; min and max
SELECT id, stage FROM deals ORDER BY stage DESC, id;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT DISTINCT stage FROM deals;
SELECT DISTINCT stage FROM deals;
SELECT stage, count(*) FROM deals GROUP BY stage;
RESET enable_hashagg;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT stage, count(*) FROM deals GROUP BY stage;
SELECT stage, count(*) FROM deals GROUP BY stage ORDER BY count(*) DESC, stage::text;
SELECT count(*) FROM (SELECT DISTINCT stage FROM deals) s;
RESET enable_sort;
SELECT min(stage), max(stage), min(stage) FILTER (WHERE stage > 'b2b:lead') FROM deals;
SELECT funnel.min(stage), funnel.max(stage) FROM deals;
-- joins: hash, merge and nested loop
SET enable_mergejoin = off; SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT d.id, t.label FROM deals d JOIN targets t ON t.stage = d.stage;
SELECT d.id, t.label FROM deals d JOIN targets t ON t.stage = d.stage ORDER BY 1, 2;
RESET enable_mergejoin; RESET enable_nestloop;
SET enable_hashjoin = off; SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT d.id, t.label FROM deals d JOIN targets t USING (stage);
SELECT d.id, t.label FROM deals d JOIN targets t USING (stage) ORDER BY 1, 2;
RESET enable_hashjoin; RESET enable_nestloop;
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT d.id, t.label FROM deals d JOIN targets t ON t.stage <= d.stage AND t.stage >= d.stage ORDER BY 1, 2;
RESET enable_hashjoin; RESET enable_mergejoin;
SELECT d.id FROM deals d WHERE d.stage IN (SELECT stage FROM targets) ORDER BY 1;
-- indexes are used
CREATE INDEX deals_stage ON deals (stage);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM deals WHERE stage = 'b2b:won';
EXPLAIN (COSTS OFF) SELECT id FROM deals WHERE stage >= 'b2b:won';

-- parameters typed text and varchar, as drivers bind them
PREPARE p_text(text) AS SELECT array_agg(id ORDER BY id) FROM deals WHERE stage = $1;
PREPARE p_varchar(varchar) AS SELECT array_agg(id ORDER BY id) FROM deals WHERE stage = $1;
EXECUTE p_text('b2b:proposal');
EXECUTE p_varchar('b2b:proposal');
EXECUTE p_text('proposal');            -- a bare name only b2b has
EXECUTE p_varchar('negotiation');
-- the plans use the index (sum(id): 16+ would add a Sort for array_agg's ORDER BY)
PREPARE c_text(text) AS SELECT sum(id) FROM deals WHERE stage = $1;
PREPARE c_varchar(varchar) AS SELECT sum(id) FROM deals WHERE stage = $1;
EXPLAIN (COSTS OFF) EXECUTE c_text('b2b:won');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE c_varchar('b2b:won');
EXECUTE p_varchar('b2b:won');
RESET plan_cache_mode;
RESET enable_seqscan;
-- a bad value raises the usual 22P02 error
-- each error shows its SQLSTATE after it (not VERBOSITY verbose, whose LOCATION lines change with every C edit)
EXECUTE p_text('b2b:nope');
\echo :LAST_ERROR_SQLSTATE
-- a bare name both pipelines have is read in the pipeline the column fixes
-- (the plans above: funnel_internal.stage_in_pipeline($1, b2b))
EXECUTE p_varchar('won');
PREPARE p_cmp(text, varchar) AS
SELECT array_agg(id ORDER BY id) FILTER (WHERE stage <> $1) AS ne,
       array_agg(id ORDER BY id) FILTER (WHERE stage < $1) AS lt,
       array_agg(id ORDER BY id) FILTER (WHERE stage <= $2) AS le,
       array_agg(id ORDER BY id) FILTER (WHERE $2 < stage) AS gt,
       array_agg(id ORDER BY id) FILTER (WHERE stage >= $2) AS ge,
       array_agg(id ORDER BY id) FILTER (WHERE stage IS DISTINCT FROM $1) AS distinct_from
  FROM deals;
EXECUTE p_cmp('b2b:proposal', 'b2b:proposal');
PREPARE p_in_text(text, text) AS SELECT array_agg(id ORDER BY id) FROM deals WHERE stage IN ($1, $2);
PREPARE p_in_varchar(varchar, varchar) AS SELECT array_agg(id ORDER BY id) FROM deals WHERE stage IN ($1, $2);
PREPARE p_in_mixed(varchar) AS SELECT array_agg(id ORDER BY id) FROM deals WHERE stage IN ('b2b:lead', $1);
EXECUTE p_in_text('b2b:won', 'b2b:lost');
EXECUTE p_in_varchar('b2b:won', 'qualified');
EXECUTE p_in_mixed('b2b:won');
PREPARE p_any(text[]) AS SELECT array_agg(id ORDER BY id) FROM deals WHERE stage = ANY ($1);
EXECUTE p_any('{b2b:won,b2b:lost,proposal}');
PREPARE p_case(varchar) AS
SELECT array_agg(CASE stage WHEN $1 THEN 'x' ELSE '-' END ORDER BY id) FROM deals;
EXECUTE p_case('b2b:proposal');
-- a text column compared with a stage (the cast reads it per row)
SELECT t.label, d.id FROM deals d JOIN (VALUES ('b2b:won'::text, 'w'), ('b2b:lead', 'l')) AS t(s, label)
    ON d.stage = t.s ORDER BY 1;
-- writes: a bare name, even one other pipelines share, into the bound column
PREPARE p_ins_text(int, text) AS INSERT INTO deals VALUES ($1, 10, $2);
PREPARE p_ins_varchar(int, varchar) AS INSERT INTO deals VALUES ($1, 10, $2);
PREPARE p_upd(varchar, int) AS UPDATE deals SET stage = $1 WHERE id = $2;
EXECUTE p_ins_text(20, 'won');
EXECUTE p_ins_varchar(21, 'lead');
EXECUTE p_upd('qualified', 21);
EXECUTE p_ins_text(22, 'retail:visit');
SELECT id, stage FROM deals WHERE id >= 20 ORDER BY id;
DELETE FROM deals WHERE id >= 20;

-- aggregates with text and varchar parameters
CREATE TABLE visits (deal_id int, stage funnel.deal_stage);
INSERT INTO visits VALUES (1, 'b2b:lead'), (2, 'b2b:lead'), (2, 'b2b:qualified'),
                          (3, 'b2b:lead'), (3, 'b2b:proposal'), (4, 'b2b:qualified'),
                          (4, 'b2b:won'), (5, 'b2b:lead'), (5, 'b2b:lost');
CREATE TABLE reached AS SELECT deal_id, funnel.furthest(stage) AS reached FROM visits GROUP BY deal_id;
PREPARE p_conv(text, text) AS SELECT funnel.conversion_rate(reached, $1, $2) FROM reached;
PREPARE p_conv_varchar(varchar, varchar) AS SELECT funnel.conversion_rate(reached, $1, $2) FROM reached;
-- expected: reached lead = all 5; reached proposal = deals 3 and 4 (won passes every open stage)
SELECT count(*) FILTER (WHERE deal_id IN (3, 4))::float8 / count(*) AS expected FROM reached;
EXECUTE p_conv('b2b:lead', 'b2b:proposal');
EXECUTE p_conv_varchar('b2b:lead', 'b2b:proposal');
SELECT funnel.conversion_rate(reached, 'b2b:lead', 'b2b:proposal') FROM reached;
-- a summary sent as text or varchar reaches report()
CREATE TABLE summary_text AS SELECT funnel.funnel(reached)::text AS s FROM reached;
PREPARE p_report(text) AS SELECT stage, deals, drop_off FROM funnel.report($1);
PREPARE p_report_varchar(varchar) AS SELECT stage, deals, drop_off FROM funnel.report($1);
SELECT s AS summary FROM summary_text \gset
EXECUTE p_report(:'summary');
EXECUTE p_report_varchar(:'summary');
SELECT (SELECT array_agg(r ORDER BY r.stage) FROM summary_text, funnel.report(s) r)
     = (SELECT array_agg(r ORDER BY r.stage) FROM funnel.report((SELECT funnel.funnel(reached) FROM reached)) r)
       AS same_report_as_summary;
-- each error shows its SQLSTATE after it (not VERBOSITY verbose, whose LOCATION lines change with every C edit)
EXECUTE p_report('{"pipeline": "b2b"');
\echo :LAST_ERROR_SQLSTATE
-- funnel.funnel() given text stays a deliberate choice: stage or summary?
SELECT funnel.funnel(s) FROM summary_text;

-- weighted_forecast(amount, float8), e.g. probability(stage): exact, and
-- equal to the (amount, stage) form and to a plain numeric sum
SELECT funnel.weighted_forecast(amount, funnel.probability(stage)) AS by_probability,
       funnel.weighted_forecast(amount, stage) AS by_stage,
       (SELECT sum(d.amount * s.probability::numeric) FROM deals d
          JOIN funnel.stages s ON s.pipeline = 'b2b' AND d.stage::text = 'b2b:' || s.stage) AS plain_sql
  FROM deals;
SELECT funnel.weighted_forecast(a, p) AS forecast,
       sum(a * p::numeric) AS plain_sql,
       pg_typeof(funnel.weighted_forecast(a, p))
  FROM (VALUES (300.00, 1/3::float8), (0.07, 0.1::float8), (-20, 1e-9::float8),
               (5, 1::float8), (7, 0::float8), (NULL, 0.5), (9, NULL)) AS v(a, p);
SELECT funnel.weighted_forecast(amount, 'retail:visit'::funnel.deal_stage) AS by_stage,
       funnel.weighted_forecast(amount, funnel.probability('retail:visit')) AS by_probability
  FROM deals;
-- an integer probability still picks a form and gives the exact answer
SELECT funnel.weighted_forecast(amount, 1) = sum(amount), funnel.weighted_forecast(amount, 0.5) FROM deals;
SELECT funnel.weighted_forecast(1.00, p) FROM (VALUES ('NaN'::float8)) v(p);
SELECT funnel.weighted_forecast(1.00, p) FROM (VALUES (1.5::float8)) v(p);
SELECT funnel.weighted_forecast(1.00, p) FROM (VALUES ('-Infinity'::float8)) v(p);
SELECT funnel.weighted_forecast(1.00, 0.5::float8) WHERE false;
-- in a parallel plan (partial states combined)
CREATE TABLE fc AS SELECT i, round((i % 1000)::numeric / 100, 2) AS amount, (i % 7) / 7::float8 AS p
  FROM generate_series(1, 50000) i;
ANALYZE fc;
SELECT sum(amount * p::numeric) AS serial_plain_sql, funnel.weighted_forecast(amount, p) AS serial FROM fc;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT funnel.weighted_forecast(amount, p) FROM fc;
SELECT funnel.weighted_forecast(amount, p) AS parallel FROM fc;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;

-- Text filters as BI tools generate them: LIKE, ILIKE, NOT LIKE, NOT ILIKE,
-- lower(stage) / upper(stage) LIKE, on the text form 'pipeline:stage'.
-- Stage names with % and _ in them, which only an escaped pattern matches.
SELECT funnel.create_pipeline('promo', ARRAY['50%_off', '50xoff', 'a_b', 'axb', 'Won']);
CREATE TABLE tagged (id int, stage funnel.deal_stage);
INSERT INTO tagged VALUES (1, 'promo:50%_off'), (2, 'promo:50xoff'), (3, 'promo:a_b'),
                          (4, 'promo:axb'), (5, 'promo:Won'), (6, 'b2b:won'),
                          (7, 'retail:visit'), (8, NULL);
-- inlined into stage::text LIKE pattern; no index is needed (or used)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM deals WHERE stage LIKE '%won';
-- a bound column, literals: expected {4}, {1..7}, none (a bare name is not the text form), {4,5}
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage LIKE '%won';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage LIKE 'b2b:%';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage LIKE 'won';
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage ILIKE 'B2B:_O%';
-- an unbound column: expected {6}, {5,6}, {6,7}, {1,2,3,4,7}, {6}
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE '%won';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage ILIKE '%won';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage NOT LIKE 'promo:%';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage NOT ILIKE '%WON';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE '%!_won' ESCAPE '!' OR stage LIKE 'b2b:won';
-- % and _ in stage names: escaped they match themselves, unescaped anything:
-- expected {1}, {1,2}, {3}, {3,4}
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE 'promo:50\%%';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE 'promo:50%';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE '%a\_b';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE '%a_b';
-- lower() and upper(): expected {5,6}, {3,4}, and the text itself
SELECT array_agg(id ORDER BY id) FROM tagged WHERE lower(stage) LIKE '%won';
SELECT array_agg(id ORDER BY id) FROM tagged WHERE upper(stage) LIKE 'PROMO:A_B';
SELECT id, lower(stage), upper(stage), pg_typeof(lower(stage)) FROM tagged WHERE id IN (5, 8) ORDER BY id;
-- NULLs: a NULL stage or a NULL pattern gives NULL, as LIKE on text does
SELECT stage LIKE '%' AS null_stage, stage NOT ILIKE '%' AS null_stage_not_ilike FROM tagged WHERE id = 8;
SELECT stage LIKE NULL AS null_pattern, stage NOT LIKE NULL::text AS null_pattern_not FROM tagged WHERE id = 1;
-- parameters typed text and varchar and untyped (the unknown type is read as text)
PREPARE l_text(text) AS SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE $1;
PREPARE l_varchar(varchar) AS SELECT array_agg(id ORDER BY id) FROM deals WHERE stage ILIKE $1;
PREPARE l_unknown AS SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage LIKE $1;
PREPARE l_unknown_not AS SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage NOT ILIKE $1 AND lower(stage) LIKE $2;
SELECT name, parameter_types FROM pg_prepared_statements WHERE name LIKE 'l\_%' ORDER BY name;
-- expected {3}, {4}, {1}, {2,3,4}
EXECUTE l_text('%:a\_b');
EXECUTE l_varchar('%WON');
EXECUTE l_unknown('promo:50\%%');
EXECUTE l_unknown_not('%won', 'promo:%');
SET plan_cache_mode = force_generic_plan;
EXECUTE l_text('%:a\_b');
EXECUTE l_unknown_not('%won', 'promo:%');
RESET plan_cache_mode;
-- every operator on every row and pattern agrees with the same filter on stage::text
SELECT count(*) AS compared,
       count(*) FILTER (WHERE (stage LIKE p) IS DISTINCT FROM (stage::text LIKE p)
                           OR (stage NOT LIKE p) IS DISTINCT FROM (stage::text NOT LIKE p)
                           OR (stage ILIKE p) IS DISTINCT FROM (stage::text ILIKE p)
                           OR (stage NOT ILIKE p) IS DISTINCT FROM (stage::text NOT ILIKE p)
                           OR (lower(stage) LIKE p) IS DISTINCT FROM (lower(stage::text) LIKE p)
                           OR (upper(stage) LIKE p) IS DISTINCT FROM (upper(stage::text) LIKE p)) AS differ,
       count(*) FILTER (WHERE stage LIKE p) AS matched
  FROM tagged, unnest(ARRAY['%', '%won', 'promo:%', 'PROMO:%', '%\%%', '%\_%', '%_b', 'b2b:won',
                            'won', '', NULL, 'RETAIL:VISIT', '%:a_b']) AS p;

-- a role without superuser and without funnel on its path
CREATE ROLE funnel_path_user NOSUPERUSER;
GRANT SELECT ON deals, targets, tagged TO funnel_path_user;
SET ROLE funnel_path_user;
SHOW search_path;
SELECT array_agg(id ORDER BY id) FROM deals WHERE stage IN ('b2b:won', 'b2b:lost');
SELECT min(stage), max(stage) FROM deals;
SELECT count(*) FROM deals d JOIN targets t ON t.stage = d.stage;
EXECUTE p_varchar('b2b:proposal');
SELECT array_agg(id ORDER BY id) FROM tagged WHERE stage ILIKE '%won' AND lower(stage) NOT LIKE 'b2b:%';
EXECUTE l_unknown('promo:50\%%');
RESET ROLE;
REVOKE ALL ON deals, targets, tagged FROM funnel_path_user;
DROP ROLE funnel_path_user;

-- DROP EXTENSION removes what it put in pg_catalog; it can be created again
DEALLOCATE ALL;
DROP VIEW probe_before, probe_after, probe_before_agg, probe_after_agg;
DROP FUNCTION view_refs(regclass);
DROP TABLE probe, deals, targets, tagged, visits, reached, summary_text, fc;
CREATE TEMP TABLE installed AS
SELECT 'pg_operator'::regclass AS catalog, oid FROM pg_operator
 WHERE 'funnel.deal_stage'::regtype IN (oprleft, oprright)
UNION ALL
SELECT 'pg_proc'::regclass, oid FROM pg_proc
 WHERE pronamespace = 'pg_catalog'::regnamespace AND 'funnel.deal_stage'::regtype = ANY (proargtypes)
UNION ALL
SELECT 'pg_cast'::regclass, oid FROM pg_cast
 WHERE castsource IN ('text'::regtype, 'varchar'::regtype)
   AND casttarget IN ('funnel.deal_stage'::regtype, 'funnel.funnel_summary'::regtype);
SELECT catalog, count(*) FROM installed GROUP BY 1 ORDER BY 1::text;
DROP EXTENSION funnel CASCADE;
SELECT count(*) AS left_over FROM installed i
 WHERE EXISTS (SELECT 1 FROM pg_operator o WHERE i.catalog = 'pg_operator'::regclass AND o.oid = i.oid)
    OR EXISTS (SELECT 1 FROM pg_proc p WHERE i.catalog = 'pg_proc'::regclass AND p.oid = i.oid)
    OR EXISTS (SELECT 1 FROM pg_cast c WHERE i.catalog = 'pg_cast'::regclass AND c.oid = i.oid);
SELECT count(*) AS shell_operators FROM pg_operator WHERE oprcode = 0;
CREATE EXTENSION funnel;
SELECT 'b2b:won' = 'b2b:won'::text AS text_compare_unchanged;
DROP EXTENSION funnel;
