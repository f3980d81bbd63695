-- sql/install/citus/citus.sql: pipelines on every node of a Citus cluster: the pipeline log, node catch-up and checks
-- C: src/citus/track_citus.c (tracking of distributed tables).  Part of the install script (see sql/install/README.md).

-- On a Citus worker, the Citus tables (whose rows live in shards); else none
CREATE FUNCTION funnel_internal.citus_worker_tables() RETURNS oid[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tables oid[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN '{}';
    END IF;
    EXECUTE 'SELECT coalesce(array_agg(p.logicalrelid::pg_catalog.oid), ''{}'')
               FROM pg_catalog.pg_dist_partition p, pg_catalog.pg_dist_local_group g
              WHERE g.groupid OPERATOR(pg_catalog.<>) 0'
       INTO tables;
    RETURN tables;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_worker_tables() IS
  'funnel internal: on a Citus worker, the distributed, reference and Citus local tables (their shards are plain tables); empty elsewhere';

--------------------------------------------------------------------------
-- Pipelines on every node of a Citus cluster (doc/design.md §11)
--
-- Without Citus, and on a Citus coordinator that has no workers (and no log
-- yet), the pipeline functions run their body on this node only.  On a Citus
-- coordinator with workers, each call also appends a row to
-- funnel_citus.pipeline_log, a reference table funnel creates the first time
-- it is needed, in the extension's schema funnel_citus (the table is not an
-- extension member: it exists only with Citus).  Citus
-- writes the row to every node's copy in its coordinated transaction (two-
-- phase commit); a statement trigger on each worker's copy applies the rows
-- that node has not applied yet, with the same function bodies, and checks
-- that the node's pipeline then equals the coordinator's, or fails, which
-- aborts the whole transaction on every node.  Citus's own propagation of the
-- enum DDL is turned off inside the functions, so nothing is applied twice.
-- On a worker the functions refuse: a change made there would diverge.
--
-- Schema funnel_citus is an extension member, owned by the extension owner
-- and created here, so no other role can create it first or create objects
-- in it; the log and each worker's pipeline_log_applied are created in it
-- lazily, and checked by funnel_internal.citus_check_table() before every use
-- (doc/security.md, "SECURITY DEFINER write targets").
--------------------------------------------------------------------------

CREATE SCHEMA funnel_citus;
COMMENT ON SCHEMA funnel_citus IS
  'funnel: objects funnel creates on a Citus cluster (the pipeline log, created on first use); the schema belongs to the extension, the tables in it do not';
REVOKE ALL ON SCHEMA funnel_citus FROM PUBLIC;
GRANT USAGE ON SCHEMA funnel_citus TO PUBLIC;

-- 'none' (no Citus here), 'single' (a Citus coordinator with neither
-- workers nor pipeline log), 'coordinator' or 'worker'; without Citus this
-- costs one index probe of pg_extension
CREATE FUNCTION funnel_internal.citus_role() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grp integer;
    workers boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN 'none';
    END IF;
    -- Citus objects only through EXECUTE: nothing to resolve without Citus
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO grp;
    IF grp IS DISTINCT FROM 0 THEN
        RETURN 'worker';
    END IF;
    IF to_regclass('funnel_citus.pipeline_log') IS NOT NULL THEN
        RETURN 'coordinator';
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node
                             WHERE groupid OPERATOR(pg_catalog.<>) 0 AND noderole OPERATOR(pg_catalog.=) ''primary'')'
       INTO workers;
    RETURN CASE WHEN workers THEN 'coordinator' ELSE 'single' END;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_role() IS
  'funnel internal: none (no Citus), single (a Citus coordinator without workers or pipeline log), coordinator or worker';

-- host:port of the nodes of a Citus node group (0: the coordinator)
CREATE FUNCTION funnel_internal.citus_node_name(grp integer) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    name text;
BEGIN
    EXECUTE 'SELECT string_agg(nodename || '':'' || nodeport, '', '' ORDER BY nodeid)
               FROM pg_catalog.pg_dist_node WHERE groupid OPERATOR(pg_catalog.=) $1'
       INTO name USING grp;
    RETURN coalesce(name, format('(node group %s)', grp));
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_node_name(integer) IS
  'funnel internal: host:port of the Citus node(s) of a node group';

-- to_jsonb with the settings that make floats and intervals exact and
-- readable on every node (shortest exact floats, postgres interval style)
CREATE FUNCTION funnel_internal.exact_jsonb(value anyelement) RETURNS jsonb
LANGUAGE sql STABLE
SET extra_float_digits = 1
SET IntervalStyle = postgres
SET TimeZone = 'UTC'
AS $$ SELECT pg_catalog.to_jsonb(value) $$;
COMMENT ON FUNCTION funnel_internal.exact_jsonb(anyelement) IS
  'funnel internal: to_jsonb with exact floats, postgres-style intervals and UTC times, so every node reads the same value back';

-- The pipeline catalog of this node as rows: one per pipeline (stage NULL,
-- created_at, owner) and one per stage label or attribute row (position NULL for
-- an attribute row without a label, attributes NULL for a label without one)
CREATE FUNCTION funnel_internal.pipeline_catalog(pipeline text DEFAULT NULL)
RETURNS TABLE (pipeline text, stage text, "position" integer, probability double precision,
               kind text, stale_after interval, retired boolean, created_at timestamptz,
               owner name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH types AS (
        SELECT t.oid, t.typname::text AS name
          FROM pg_type t
         WHERE t.typnamespace = 'funnel_pipeline'::regnamespace AND t.typtype = 'e'
           AND (pipeline_catalog.pipeline IS NULL OR t.typname::text = pipeline_catalog.pipeline)
    ), labels AS (
        SELECT ty.name, e.enumlabel::text AS stage,
               (row_number() OVER (PARTITION BY e.enumtypid ORDER BY e.enumsortorder))::integer AS pos
          FROM types ty JOIN pg_enum e ON e.enumtypid = ty.oid
    ), attrs AS (
        SELECT s.* FROM funnel.pipeline_stage s
         WHERE pipeline_catalog.pipeline IS NULL OR s.pipeline = pipeline_catalog.pipeline
    )
    SELECT coalesce(p.name, ty.name), NULL, NULL, NULL, NULL, NULL, NULL, p.created_at, p.owner
      FROM (SELECT * FROM funnel.pipeline
             WHERE pipeline_catalog.pipeline IS NULL OR name = pipeline_catalog.pipeline) p
      FULL JOIN types ty ON ty.name = p.name
    UNION ALL
    SELECT coalesce(l.name, a.pipeline), coalesce(l.stage, a.stage), l.pos,
           a.probability, a.kind, a.stale_after, a.retired, NULL, NULL
      FROM labels l
      FULL JOIN attrs a ON a.pipeline = l.name AND a.stage = l.stage
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_catalog(text) IS
  'funnel internal: this node''s pipeline catalog (enum labels in order and stage attributes) as rows, for comparing nodes';

-- One pipeline's catalog as jsonb (NULL when it does not exist), the same
-- text on every node whatever the session settings
CREATE FUNCTION funnel_internal.pipeline_definition(pipeline text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1
SET IntervalStyle = postgres
SET TimeZone = 'UTC'
AS $$
    SELECT jsonb_agg(to_jsonb(c) ORDER BY c.stage COLLATE "C" NULLS FIRST, c.position)
      FROM funnel_internal.pipeline_catalog(pipeline) c
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_definition(text) IS
  'funnel internal: a pipeline''s labels and attributes on this node as jsonb (NULL if absent), comparable across nodes';

CREATE FUNCTION funnel_internal.pipeline_catalog_json() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1
SET IntervalStyle = postgres
SET TimeZone = 'UTC'
AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') FROM funnel_internal.pipeline_catalog() c
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_catalog_json() IS
  'funnel internal: this node''s whole pipeline catalog as jsonb, read by funnel.check_pipeline_nodes() on every worker';

-- Text array from a jsonb array (NULL for JSON null)
CREATE FUNCTION funnel_internal.jsonb_texts(a jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN jsonb_typeof(a) = 'array'
                THEN ARRAY(SELECT x FROM jsonb_array_elements_text(a) WITH ORDINALITY AS u(x, o) ORDER BY o)
           END
$$;
COMMENT ON FUNCTION funnel_internal.jsonb_texts(jsonb) IS
  'funnel internal: the elements of a jsonb array as text[] (NULL for JSON null)';

-- The rows of a pipeline definition (see funnel_internal.pipeline_definition)
CREATE FUNCTION funnel_internal.definition_rows(definition jsonb)
RETURNS TABLE (stage text, "position" integer, probability double precision, kind text,
               stale_after interval, retired boolean, created_at timestamptz, owner name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.stage, d.position, d.probability, d.kind, d.stale_after, d.retired, d.created_at, d.owner
      FROM jsonb_to_recordset(definition) AS d(stage text, "position" integer, probability double precision,
                                               kind text, stale_after interval, retired boolean,
                                               created_at timestamptz, owner name)
$$;
COMMENT ON FUNCTION funnel_internal.definition_rows(jsonb) IS
  'funnel internal: the rows of a pipeline definition made by funnel_internal.pipeline_definition()';

-- Make this node's copy of a pipeline equal to a definition (a node that
-- joins gets each pipeline this way): create it if absent, else set its
-- attributes; refuse if its stages differ
CREATE FUNCTION funnel_internal.define_pipeline(pipeline text, definition jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wanted text[];
    here text[];
BEGIN
    SELECT array_agg(d.stage ORDER BY d.position) INTO wanted
      FROM funnel_internal.definition_rows(definition) d WHERE d.position IS NOT NULL;
    SELECT array_agg(c.stage ORDER BY c.position) INTO here
      FROM funnel_internal.pipeline_catalog(pipeline) c WHERE c.position IS NOT NULL;
    IF here IS NULL THEN
        PERFORM funnel_internal.create_pipeline(pipeline,
            ARRAY(SELECT d.stage FROM funnel_internal.definition_rows(definition) d WHERE d.kind = 'open' ORDER BY d.position),
            ARRAY(SELECT d.probability FROM funnel_internal.definition_rows(definition) d WHERE d.kind = 'open' ORDER BY d.position),
            ARRAY(SELECT d.stage FROM funnel_internal.definition_rows(definition) d WHERE d.kind = 'won' ORDER BY d.position),
            ARRAY(SELECT d.stage FROM funnel_internal.definition_rows(definition) d WHERE d.kind = 'lost' ORDER BY d.position));
    ELSIF here IS DISTINCT FROM wanted THEN
        RAISE EXCEPTION 'pipeline "%" on node % has other stages than on the coordinator',
                        pipeline, funnel_internal.citus_node_name(funnel_internal.citus_group())
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Here: %s. On the coordinator: %s.',
                                  array_to_string(here, ', '), array_to_string(wanted, ', ')),
                  HINT = 'Make the stages equal by hand on that node (or drop the pipeline there), then run funnel.sync_pipeline_nodes() on the coordinator.';
    ELSE
        INSERT INTO funnel.pipeline (name) VALUES (pipeline) ON CONFLICT DO NOTHING;
    END IF;
    -- the owner follows the coordinator's, by name
    UPDATE funnel.pipeline p SET owner = d.owner
      FROM funnel_internal.definition_rows(definition) d
     WHERE p.name = pipeline AND d.stage IS NULL AND d.owner IS NOT NULL
       AND p.owner IS DISTINCT FROM d.owner;
    INSERT INTO funnel.pipeline_stage AS s (pipeline, stage, probability, kind, stale_after, retired)
    SELECT define_pipeline.pipeline, d.stage, d.probability, d.kind, d.stale_after, d.retired
      FROM funnel_internal.definition_rows(definition) d WHERE d.position IS NOT NULL AND d.kind IS NOT NULL
    ON CONFLICT ON CONSTRAINT pipeline_stage_pkey DO UPDATE
       SET probability = excluded.probability, kind = excluded.kind,
           stale_after = excluded.stale_after, retired = excluded.retired
     WHERE (s.probability, s.kind, s.stale_after, s.retired)
           IS DISTINCT FROM (excluded.probability, excluded.kind, excluded.stale_after, excluded.retired);
    DELETE FROM funnel.pipeline_stage s
     WHERE s.pipeline = define_pipeline.pipeline
       AND NOT EXISTS (SELECT 1 FROM funnel_internal.definition_rows(definition) d
                        WHERE d.stage = s.stage AND d.kind IS NOT NULL);
END
$$;
COMMENT ON FUNCTION funnel_internal.define_pipeline(text, jsonb) IS
  'funnel internal: creates a pipeline from its definition on this node, or sets the attributes of an existing one with the same stages';

-- The allow-list and required fields of this node as rows: one per allowed
-- move (stage: from, to_stage: to) and one per stage with required fields
CREATE FUNCTION funnel_internal.pipeline_rule_rows(pipeline text DEFAULT NULL)
RETURNS TABLE (pipeline text, stage text, to_stage text, fields text[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.pipeline, t.from_stage, t.to_stage, NULL::text[]
      FROM funnel.allowed_transition t
     WHERE pipeline_rule_rows.pipeline IS NULL OR t.pipeline = pipeline_rule_rows.pipeline
    UNION ALL
    SELECT r.pipeline, r.stage, NULL, r.fields::text[]
      FROM funnel.required_field r
     WHERE pipeline_rule_rows.pipeline IS NULL OR r.pipeline = pipeline_rule_rows.pipeline
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_rule_rows(text) IS
  'funnel internal: this node''s allowed moves and required fields as rows, for comparing nodes';

-- One pipeline's allow-list and required fields as jsonb ('[]': none), the
-- same text on every node
CREATE FUNCTION funnel_internal.pipeline_rules(pipeline text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('stage', r.stage, 'to_stage', r.to_stage, 'fields', r.fields)
                              ORDER BY r.stage COLLATE "C", r.to_stage COLLATE "C" NULLS FIRST), '[]')
      FROM funnel_internal.pipeline_rule_rows(pipeline) r
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_rules(text) IS
  'funnel internal: a pipeline''s allowed moves and required fields on this node as jsonb, comparable across nodes';

CREATE FUNCTION funnel_internal.pipeline_rules_json() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM funnel_internal.pipeline_rule_rows() r
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_rules_json() IS
  'funnel internal: this node''s allowed moves and required fields as jsonb, read by funnel.check_pipeline_nodes() on every worker';

-- Make this node's allow-list and required fields of a pipeline equal to
-- the coordinator's (see funnel_internal.pipeline_rules)
CREATE FUNCTION funnel_internal.define_rules(pipeline text, rules jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF funnel_internal.pipeline_rules(pipeline) IS NOT DISTINCT FROM rules THEN
        RETURN;
    END IF;
    DELETE FROM funnel.allowed_transition t WHERE t.pipeline = define_rules.pipeline;
    DELETE FROM funnel.required_field r WHERE r.pipeline = define_rules.pipeline;
    INSERT INTO funnel.allowed_transition (pipeline, from_stage, to_stage)
    SELECT define_rules.pipeline, d.stage, d.to_stage
      FROM jsonb_to_recordset(rules) AS d(stage text, to_stage text, fields text[])
     WHERE d.to_stage IS NOT NULL;
    INSERT INTO funnel.required_field (pipeline, stage, fields)
    SELECT define_rules.pipeline, d.stage, d.fields::name[]
      FROM jsonb_to_recordset(rules) AS d(stage text, to_stage text, fields text[])
     WHERE d.to_stage IS NULL;
END
$$;
COMMENT ON FUNCTION funnel_internal.define_rules(text, jsonb) IS
  'funnel internal: sets this node''s allowed moves and required fields of a pipeline to those of the coordinator';

-- Citus node group of this node (0: coordinator)
CREATE FUNCTION funnel_internal.citus_group() RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grp integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'funnel_internal.citus_group() needs the Citus extension'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('Extension citus is not installed in database %s.', current_database());
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO grp;
    RETURN grp;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_group() IS
  'funnel internal: the Citus node group of this node (0 on the coordinator); an error (0A000) without Citus';

-- Schema funnel_citus as CREATE EXTENSION made it: found through its
-- membership in extension funnel (not by name alone) and owned by the
-- extension owner, who must also own the tables funnel keeps in it
CREATE FUNCTION funnel_internal.citus_schema(OUT nsp oid, OUT owner oid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT n.oid, e.extowner INTO nsp, owner
      FROM pg_extension e
      JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
                      AND d.classid = 'pg_namespace'::regclass AND d.objsubid = 0 AND d.deptype = 'e'
      JOIN pg_namespace n ON n.oid = d.objid
     WHERE e.extname = 'funnel' AND n.nspname = 'funnel_citus' AND n.nspowner = e.extowner;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schema funnel_citus is not the one extension funnel created'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = CASE WHEN to_regnamespace('funnel_citus') IS NULL
                                THEN 'There is no schema funnel_citus.'
                                ELSE format('Schema funnel_citus (owner %s) is not a member of extension funnel owned by the extension owner.',
                                            (SELECT n.nspowner::regrole FROM pg_namespace n WHERE n.nspname = 'funnel_citus'))
                           END,
                  HINT = 'funnel writes its Citus pipeline log only into the schema funnel_citus that CREATE EXTENSION funnel created; see doc/security.md, "SECURITY DEFINER write targets".';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_schema() IS
  'funnel internal: the OID of schema funnel_citus, checked to be a member of extension funnel owned by the extension owner, and the extension owner; an error (42501) otherwise';

-- Refuse (42501, naming it) a table of schema funnel_citus that funnel is
-- about to write or trust unless it is as funnel created it: in the
-- extension's schema, an ordinary table owned by the extension owner that
-- no other role may write or alter, no row-level security, rules,
-- inheritance, defaults, constraints or index expressions that would run
-- code, no trigger but funnel's own (and PostgreSQL's or Citus's internal
-- ones), and the expected columns.  what: 'log' (funnel_citus.pipeline_log
-- or a Citus shard of it) or 'applied' (funnel_citus.pipeline_log_applied).
-- Citus hides shards from queries on pg_class in client backends unless
-- citus.override_table_visibility is off (a placeholder without Citus).
CREATE FUNCTION funnel_internal.citus_check_table(rel oid, what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET citus.override_table_visibility = off
AS $$
DECLARE
    sch record := funnel_internal.citus_schema();
    c record;
    cols text;
    problem text;
    want_cols constant text := CASE what
        WHEN 'log' THEN 'id bigint, op text, pipeline text, args jsonb, result jsonb, logged_at timestamp with time zone, logged_by text, rules jsonb'
        WHEN 'applied' THEN 'applied bigint' END;
    apply_fn constant oid := 'funnel_internal.pipeline_log_apply()'::regprocedure;
BEGIN
    SELECT cl.relname, cl.relnamespace, cl.relkind, cl.relowner, cl.relacl, cl.relrowsecurity,
           cl.relforcerowsecurity, cl.relhassubclass, cl.relispartition
      INTO c FROM pg_class cl WHERE cl.oid = rel;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', rel
            USING ERRCODE = 'undefined_table';
    END IF;
    SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
    problem := CASE
        WHEN c.relnamespace <> sch.nsp THEN
            'It is not in schema funnel_citus of extension funnel.'
        WHEN NOT CASE what WHEN 'log' THEN c.relname ~ '^pipeline_log(_[0-9]+)?$'
                           WHEN 'applied' THEN c.relname = 'pipeline_log_applied' ELSE false END THEN
            format('funnel uses no table of that name as %s.', what)
        WHEN c.relkind <> 'r' THEN
            'It is not an ordinary table.'
        WHEN c.relowner <> sch.owner THEN
            format('Its owner is %s, not the extension owner %s.', c.relowner::regrole, sch.owner::regrole)
        WHEN EXISTS (SELECT 1 FROM aclexplode(c.relacl) a
                      WHERE a.grantee <> c.relowner AND a.privilege_type <> 'SELECT') THEN
            format('A role other than its owner holds %s on it.',
                   (SELECT string_agg(DISTINCT a.privilege_type, ', ') FROM aclexplode(c.relacl) a
                     WHERE a.grantee <> c.relowner AND a.privilege_type <> 'SELECT'))
        WHEN c.relrowsecurity OR c.relforcerowsecurity THEN
            'It has row-level security enabled.'
        WHEN c.relhassubclass OR c.relispartition THEN
            'It has inheritance children or is a partition.'
        WHEN EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = rel) THEN
            format('It has rule %s.', (SELECT string_agg(quote_ident(r.rulename), ', ') FROM pg_rewrite r WHERE r.ev_class = rel))
        WHEN EXISTS (SELECT 1 FROM pg_trigger t
                      WHERE t.tgrelid = rel
                        AND NOT (what = 'log' AND NOT t.tgisinternal AND t.tgfoid = apply_fn
                                 AND t.tgtype = 4 AND t.tgqual IS NULL)   -- AFTER INSERT FOR EACH STATEMENT
                        AND NOT (t.tgisinternal AND EXISTS (SELECT 1 FROM pg_proc p
                                                             WHERE p.oid = t.tgfoid
                                                               AND p.pronamespace = 'pg_catalog'::regnamespace))) THEN
            format('It has trigger %s, which funnel did not create.',
                   (SELECT string_agg(quote_ident(t.tgname), ', ' ORDER BY t.tgname) FROM pg_trigger t
                     WHERE t.tgrelid = rel
                       AND NOT (what = 'log' AND NOT t.tgisinternal AND t.tgfoid = apply_fn
                                AND t.tgtype = 4 AND t.tgqual IS NULL)
                       AND NOT (t.tgisinternal AND EXISTS (SELECT 1 FROM pg_proc p
                                                            WHERE p.oid = t.tgfoid
                                                              AND p.pronamespace = 'pg_catalog'::regnamespace))))
        WHEN EXISTS (SELECT 1 FROM pg_attrdef d WHERE d.adrelid = rel) THEN
            'It has a column default or generated column.'
        WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = rel AND k.contype NOT IN ('p', 'n')) THEN
            format('It has constraint %s.', (SELECT string_agg(quote_ident(k.conname), ', ' ORDER BY k.conname)
                                               FROM pg_constraint k WHERE k.conrelid = rel AND k.contype NOT IN ('p', 'n')))
        WHEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = rel
                        AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)) THEN
            'It has an index on an expression or a partial index.'
        WHEN cols IS DISTINCT FROM want_cols THEN
            format('Its columns are (%s), not (%s).', cols, want_cols)
        END;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'table %.% is not the % table funnel created',
                        quote_ident((SELECT n.nspname FROM pg_namespace n WHERE n.oid = c.relnamespace)),
                        quote_ident(c.relname), CASE what WHEN 'log' THEN 'pipeline log' ELSE 'applied-log' END
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = problem || ' funnel writes and trusts it as the extension owner, so it refuses to use it.',
                  HINT = 'As a superuser, put it back as funnel created it (owner, privileges, triggers, rules, row-level security, columns); see doc/security.md, "SECURITY DEFINER write targets".';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_check_table(oid, text) IS
  'funnel internal: refuses (42501) a table of schema funnel_citus (the pipeline log or a shard of it, or pipeline_log_applied) that is not as funnel created it, before funnel writes or trusts it';

-- funnel_citus.<name> in the extension's schema (NULL if absent), checked
-- with funnel_internal.citus_check_table() when present
CREATE FUNCTION funnel_internal.citus_table(name text, what text) RETURNS regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET citus.override_table_visibility = off
AS $$
DECLARE
    rel oid;
BEGIN
    SELECT c.oid INTO rel FROM pg_class c
     WHERE c.relnamespace = (funnel_internal.citus_schema()).nsp AND c.relname = citus_table.name;
    IF rel IS NOT NULL THEN
        PERFORM funnel_internal.citus_check_table(rel, what);
    END IF;
    RETURN rel::regclass;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_table(text, text) IS
  'funnel internal: a table of schema funnel_citus found in the extension''s schema and checked by funnel_internal.citus_check_table() (NULL when absent)';

-- Apply one row of the pipeline log on this worker, then check that the
-- pipeline, its allow-list and required fields equal the coordinator's
-- copies recorded in the row (rules NULL: not recorded, not checked)
CREATE FUNCTION funnel_internal.pipeline_apply(op text, pipeline text, args jsonb, result jsonb, rules jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE op
    WHEN 'create_pipeline' THEN
        PERFORM funnel_internal.create_pipeline(args->>0, funnel_internal.jsonb_texts(args->1),
                                        funnel_internal.jsonb_texts(args->2)::double precision[],
                                        funnel_internal.jsonb_texts(args->3), funnel_internal.jsonb_texts(args->4));
    WHEN 'add_stage' THEN
        PERFORM funnel_internal.add_stage(args->>0, args->>1, (args->>2)::double precision,
                                  args->>3, args->>4, args->>5);
    WHEN 'rename_stage' THEN
        PERFORM funnel_internal.rename_stage(args->>0, args->>1, args->>2);
    WHEN 'set_probability' THEN
        PERFORM funnel_internal.set_probability(args->>0, args->>1, (args->>2)::double precision);
    WHEN 'set_stale_after' THEN
        PERFORM funnel_internal.set_stale_after(args->>0, args->>1, (args->>2)::interval);
    WHEN 'retire_stage' THEN
        PERFORM funnel_internal.retire_stage(args->>0, args->>1, (args->>2)::boolean);
    WHEN 'drop_pipeline' THEN
        PERFORM funnel_internal.drop_pipeline(args->>0);
    WHEN 'alter_pipeline_owner' THEN
        PERFORM funnel_internal.alter_pipeline_owner(args->>0, args->>1);
    WHEN 'allow_transition' THEN
        PERFORM funnel_internal.allow_transition(args->>0, args->>1, args->>2);
    WHEN 'disallow_transition' THEN
        PERFORM funnel_internal.disallow_transition(args->>0, args->>1, args->>2);
    WHEN 'require_fields' THEN
        PERFORM funnel_internal.require_fields(args->>0, args->>1, funnel_internal.jsonb_texts(args->2));
    WHEN 'define' THEN
        PERFORM funnel_internal.define_pipeline(pipeline, result);
        IF rules IS NOT NULL THEN
            PERFORM funnel_internal.define_rules(pipeline, rules);
        END IF;
    WHEN 'sync' THEN
        RETURN;
    ELSE
        RAISE EXCEPTION 'unknown operation "%" in funnel_citus.pipeline_log', op
            USING ERRCODE = 'data_exception',
                  HINT = 'The coordinator runs a newer funnel than this node: update funnel on every node.';
    END CASE;
    -- creation time and owner (by name) follow the coordinator
    UPDATE funnel.pipeline p SET created_at = d.created_at, owner = coalesce(d.owner, p.owner)
      FROM funnel_internal.definition_rows(result) d
     WHERE p.name = pipeline AND d.stage IS NULL
       AND (p.created_at, p.owner) IS DISTINCT FROM (d.created_at, coalesce(d.owner, p.owner));
    IF funnel_internal.pipeline_definition(pipeline) IS DISTINCT FROM result THEN
        RAISE EXCEPTION 'pipeline "%" on node % differs from the coordinator after %()',
                        pipeline, funnel_internal.citus_node_name(funnel_internal.citus_group()), op
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The node''s stages or their attributes differed from the coordinator''s before this change (changed on that node by hand?).',
                  HINT = 'Run SELECT * FROM funnel.check_pipeline_nodes() on the coordinator to see the differences, and fix that node by hand.';
    END IF;
    IF rules IS NOT NULL AND funnel_internal.pipeline_rules(pipeline) IS DISTINCT FROM rules THEN
        RAISE EXCEPTION 'allowed moves or required fields of pipeline "%" on node % differ from the coordinator after %()',
                        pipeline, funnel_internal.citus_node_name(funnel_internal.citus_group()), op
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The node''s funnel.allowed_transition or funnel.required_field rows differed from the coordinator''s before this change (changed on that node by hand?).',
                  HINT = 'Run SELECT * FROM funnel.check_pipeline_nodes() on the coordinator to see the differences, and fix that node by hand.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_apply(text, text, jsonb, jsonb, jsonb) IS
  'funnel internal: applies one row of funnel_citus.pipeline_log on a worker and checks the result (pipeline, allowed moves, required fields) against the coordinator''s';

-- Statement trigger on every worker's copy of funnel_citus.pipeline_log:
-- apply, in order, the rows this node has not applied yet (normally the
-- row just inserted; all of them on a node that joined later)
CREATE FUNCTION funnel_internal.pipeline_log_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done bigint;
    propagate text;
    r record;
BEGIN
    IF TG_TABLE_SCHEMA <> 'funnel_citus' OR TG_TABLE_NAME !~ '^pipeline_log(_[0-9]+)?$' THEN
        RAISE EXCEPTION 'funnel_internal.pipeline_log_apply() fires only on funnel_citus.pipeline_log'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the rows it reads drive DDL as the extension owner: the table they
    -- come from must be the log in the extension's schema, as funnel made it
    PERFORM funnel_internal.citus_check_table(TG_RELID, 'log');
    IF funnel_internal.citus_group() = 0 THEN
        RETURN NULL;            -- the coordinator changed its own catalog
    END IF;
    propagate := current_setting('citus.enable_ddl_propagation');
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    IF funnel_internal.citus_table('pipeline_log_applied', 'applied') IS NULL THEN
        CREATE TABLE funnel_citus.pipeline_log_applied (applied bigint NOT NULL);
        COMMENT ON TABLE funnel_citus.pipeline_log_applied IS
          'funnel: the last row of funnel_citus.pipeline_log that this worker applied';
        REVOKE ALL ON funnel_citus.pipeline_log_applied FROM PUBLIC;
        INSERT INTO funnel_citus.pipeline_log_applied VALUES (0);
    END IF;
    SELECT a.applied INTO done FROM funnel_citus.pipeline_log_applied a FOR UPDATE;
    IF done = 0 THEN
        -- a node that joins: each pipeline as it is now, from the last row
        -- about it (Citus may already have created some of the enum types)
        FOR r IN EXECUTE format('SELECT DISTINCT ON (pipeline) id, pipeline, result, rules FROM %s
                                  WHERE pipeline IS NOT NULL ORDER BY pipeline, id DESC',
                                TG_RELID::regclass)
        LOOP
            IF r.result IS NOT NULL THEN
                PERFORM funnel_internal.pipeline_apply('define', r.pipeline, NULL, r.result, r.rules);
            ELSIF funnel_internal.pipeline_definition(r.pipeline) IS NOT NULL THEN
                PERFORM funnel_internal.pipeline_apply('drop_pipeline', r.pipeline,
                                               jsonb_build_array(r.pipeline), NULL, r.rules);
            END IF;
        END LOOP;
        EXECUTE format('SELECT coalesce(max(id), 0) FROM %s', TG_RELID::regclass) INTO done;
    END IF;
    FOR r IN EXECUTE format('SELECT id, op, pipeline, args, result, rules FROM %s WHERE id > $1 ORDER BY id',
                            TG_RELID::regclass) USING done
    LOOP
        PERFORM funnel_internal.pipeline_apply(r.op, r.pipeline, r.args, r.result, r.rules);
        done := r.id;
    END LOOP;
    UPDATE funnel_citus.pipeline_log_applied SET applied = done;
    PERFORM set_config('citus.enable_ddl_propagation', propagate, true);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_log_apply() IS
  'funnel internal: trigger on each worker''s copy of funnel_citus.pipeline_log that applies the pipeline changes this node has not applied yet';

-- Append a row to the pipeline log (the caller holds the log lock), with
-- the pipeline's allowed moves and required fields as they are now
CREATE FUNCTION funnel_internal.pipeline_log_append(op text, pipeline text, args jsonb, result jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    next_id bigint;
BEGIN
    IF funnel_internal.citus_table('pipeline_log', 'log') IS NULL THEN
        RAISE EXCEPTION 'funnel_citus.pipeline_log does not exist'
            USING ERRCODE = 'undefined_table';
    END IF;
    SELECT coalesce(max(l.id), 0) + 1 INTO next_id FROM funnel_citus.pipeline_log l;
    INSERT INTO funnel_citus.pipeline_log (id, op, pipeline, args, result, logged_at, logged_by, rules)
    VALUES (next_id, op, pipeline, args, result, pg_catalog.now(), session_user,
            CASE WHEN pipeline IS NOT NULL THEN funnel_internal.pipeline_rules(pipeline) END);
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_log_append(text, text, jsonb, jsonb) IS
  'funnel internal: appends a row to funnel_citus.pipeline_log (Citus writes it on every node)';

-- Create the pipeline log on a Citus coordinator, with one row per existing
-- pipeline, unless it exists
CREATE FUNCTION funnel_internal.pipeline_log_ensure() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unsafe text;
    p text;
BEGIN
    -- only in the extension's own schema (created by CREATE EXTENSION, so
    -- no other role can have made it or put objects in it), and an existing
    -- log only as funnel created it
    IF funnel_internal.citus_table('pipeline_log', 'log') IS NOT NULL THEN
        RETURN;
    END IF;
    CREATE TABLE funnel_citus.pipeline_log (
        id          bigint PRIMARY KEY,
        op          text NOT NULL,
        pipeline    text,
        args        jsonb,
        result      jsonb,
        logged_at   timestamptz NOT NULL,
        logged_by   text NOT NULL,
        rules       jsonb
    );
    COMMENT ON TABLE funnel_citus.pipeline_log IS
      'funnel: every change of a pipeline, its allowed moves or required fields made on the coordinator, in order (reference table: each node applies the rows through a trigger)';
    REVOKE ALL ON funnel_citus.pipeline_log FROM PUBLIC;
    GRANT SELECT ON funnel_citus.pipeline_log TO PUBLIC;
    PERFORM create_reference_table('funnel_citus.pipeline_log');
    -- Citus creates triggers on reference tables only with this setting;
    -- this one writes nothing but funnel's catalog of the node it runs on
    unsafe := current_setting('citus.enable_unsafe_triggers');
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    CREATE TRIGGER pipeline_log_apply AFTER INSERT ON funnel_citus.pipeline_log
        FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.pipeline_log_apply();
    PERFORM set_config('citus.enable_unsafe_triggers', unsafe, true);
    -- the pipelines that exist now: a node applies them first
    FOR p IN SELECT t.typname::text FROM pg_type t
              WHERE t.typnamespace = 'funnel_pipeline'::regnamespace AND t.typtype = 'e'
              ORDER BY t.oid
    LOOP
        PERFORM funnel_internal.pipeline_log_append('define', p, NULL, funnel_internal.pipeline_definition(p));
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_log_ensure() IS
  'funnel internal: creates the reference table funnel_citus.pipeline_log and its trigger on a Citus coordinator, starting with the existing pipelines';

-- Refuse, naming them, when some worker cannot take part in a change
CREATE FUNCTION funnel_internal.pipeline_nodes_ready(fn text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inactive text;
    missing text;
BEGIN
    EXECUTE $q$
        SELECT string_agg(n.nodename || ':' || n.nodeport, ', ' ORDER BY n.nodeid)
                   FILTER (WHERE NOT n.isactive),
               string_agg(n.nodename || ':' || n.nodeport, ', ' ORDER BY n.nodeid)
                   FILTER (WHERE n.isactive AND NOT EXISTS (
                       SELECT 1 FROM pg_catalog.pg_dist_placement pl
                         JOIN pg_catalog.pg_dist_shard s ON s.shardid OPERATOR(pg_catalog.=) pl.shardid
                        WHERE s.logicalrelid OPERATOR(pg_catalog.=) 'funnel_citus.pipeline_log'::pg_catalog.regclass
                          AND pl.groupid OPERATOR(pg_catalog.=) n.groupid))
          FROM pg_catalog.pg_dist_node n
         WHERE n.groupid OPERATOR(pg_catalog.<>) 0 AND n.noderole OPERATOR(pg_catalog.=) 'primary'
    $q$ INTO inactive, missing;
    IF inactive IS NOT NULL THEN
        RAISE EXCEPTION 'funnel.%() cannot change every node: Citus node % is inactive', fn, inactive
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Pipelines must be the same on every node, so they change on all nodes at once or not at all.',
                  HINT = 'Activate the node (citus_activate_node) or remove it (citus_remove_node), then run funnel.sync_pipeline_nodes().';
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'funnel.%() cannot change every node: Citus node % has no copy of funnel_citus.pipeline_log yet', fn, missing
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A node added after the pipelines were created gets them from that reference table.',
                  HINT = 'Run SELECT funnel.sync_pipeline_nodes(); on the coordinator first.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_nodes_ready(text) IS
  'funnel internal: refuses a pipeline change, naming the Citus nodes, while a worker is inactive or has no copy of the pipeline log';

-- First step of every pipeline function: NULL without Citus; on a worker an
-- error; on a coordinator: lock, log ready and nodes ready (when it has
-- workers), Citus's DDL propagation off, so the enum types never become
-- Citus-distributed objects that Citus would copy on its own (returns the
-- setting's value, for _pipeline_change_end)
CREATE FUNCTION funnel_internal.pipeline_change_begin(fn text) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role text := funnel_internal.citus_role();
    propagate text;
BEGIN
    IF role = 'none' THEN
        RETURN NULL;
    ELSIF role = 'worker' THEN
        RAISE EXCEPTION 'funnel.%() cannot run on a Citus worker', fn
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('This node (%s) is a worker; pipelines must be the same on every node, so the coordinator changes them on all nodes in one transaction.',
                                  funnel_internal.citus_node_name(funnel_internal.citus_group())),
                  HINT = format('Connect to the coordinator (%s) and run it there.', funnel_internal.citus_node_name(0));
    END IF;
    -- one pipeline change at a time, so every node applies them in log order
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('funnel'), pg_catalog.hashtext('pipeline_log'));
    IF role = 'coordinator' THEN
        PERFORM funnel_internal.pipeline_log_ensure();
        PERFORM funnel_internal.pipeline_nodes_ready(fn);
    END IF;
    propagate := current_setting('citus.enable_ddl_propagation');
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    RETURN propagate;
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_change_begin(text) IS
  'funnel internal: Citus preamble of the pipeline functions (refuses on a worker; on the coordinator locks, creates the pipeline log, checks the nodes and turns off Citus''s DDL propagation)';

-- Last step on a Citus coordinator: restore DDL propagation and log the call
-- with the pipeline as it is now (no log: no worker yet)
CREATE FUNCTION funnel_internal.pipeline_change_end(propagate text, op text, pipeline text, args jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('citus.enable_ddl_propagation', propagate, true);
    IF funnel_internal.citus_table('pipeline_log', 'log') IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_log_append(op, pipeline, args, funnel_internal.pipeline_definition(pipeline));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_change_end(text, text, text, jsonb) IS
  'funnel internal: Citus epilogue of the pipeline functions (restores DDL propagation, appends the change to the pipeline log)';

-- Tables that hold stages of a pipeline depend on its enum type, so that
-- Citus creates the type on a node before the table (citus_add_node
-- replays the shell tables on a new node): src/citus/citus_depend.c
CREATE FUNCTION funnel_internal.citus_pipeline_depend(rel regclass) RETURNS integer
    AS 'MODULE_PATHNAME', 'funnel_citus_pipeline_depend'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION funnel_internal.citus_pipeline_depend(regclass) IS
  'funnel internal: records that a table depends on the enum types of the pipelines its deal_stage(pipeline) columns are bound to (and on no other), so Citus creates those types first on a new node; returns their number';

-- Every table with bound stage columns (the pass of
-- funnel.sync_pipeline_nodes() for tables created before the event trigger)
CREATE FUNCTION funnel_internal.citus_pipeline_depend_all() RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(funnel_internal.citus_pipeline_depend(r.oid::regclass))::integer
      FROM (SELECT DISTINCT c.oid FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypmod >= 0
               AND a.atttypid IN ('funnel.deal_stage'::regtype, 'funnel.deal_stage[]'::regtype)) r
$$;
COMMENT ON FUNCTION funnel_internal.citus_pipeline_depend_all() IS
  'funnel internal: funnel_internal.citus_pipeline_depend() on every table with a deal_stage(pipeline) column; returns the number of tables';

CREATE FUNCTION funnel_internal.citus_depend_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel oid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    FOR rel IN SELECT DISTINCT d.objid FROM pg_event_trigger_ddl_commands() d
                WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
    LOOP
        PERFORM funnel_internal.citus_pipeline_depend(rel::regclass);
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_depend_ddl_end() IS
  'funnel internal: with Citus installed, keeps the dependencies of created and altered tables on the pipelines of their deal_stage(pipeline) columns';
CREATE EVENT TRIGGER funnel_citus_depend_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE TABLE AS', 'SELECT INTO')
    EXECUTE FUNCTION funnel_internal.citus_depend_ddl_end();
COMMENT ON EVENT TRIGGER funnel_citus_depend_ddl_end IS
  'with Citus: makes tables depend on the enum types of the pipelines their stage columns are bound to, so citus_add_node creates the pipelines before the tables';

-- Citus's alter_distributed_table() and undistribute_table() rebuild a
-- table (alter_table.c, ReplaceTable): they create <name>_<hash of name>,
-- copy the rows, indexes, replica identity and triggers into it, drop the
-- old table and rename the new one.  funnel.tracked_table names the deals
-- and history tables by OID, so the drop would forget the tracking
-- (funnel_track_sql_drop).  This sql_drop trigger, which fires before that
-- one (event triggers fire in name order), moves the row to the new table
-- when the replacement is again hash-distributed, and refuses the command
-- when it would leave a tracked table or its history local: the shards'
-- triggers and the history must stay co-located (issue 22.3).

-- The table Citus is converting <schema>.<name> into in this transaction
-- (NULL when none): created by this transaction under Citus's temporary name
CREATE FUNCTION funnel_internal.citus_successor(old_schema text, old_name text) RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = old_schema
       AND c.relname = old_name || '_' || (hashtext(old_name)::bigint & 4294967295)::text
       AND c.relkind IN ('r', 'p')
       AND c.xmin = pg_current_xact_id()::xid
$$;
COMMENT ON FUNCTION funnel_internal.citus_successor(text, text) IS
  'funnel internal: the table that Citus''s alter_distributed_table() or undistribute_table() created in this transaction to replace a table (named <name>_<hash>), or NULL';

CREATE FUNCTION funnel_internal.citus_rebind_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    successor oid;
    method text;
    deals_name text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    FOR d IN SELECT o.objid, o.schema_name, o.object_name, t.deals, t.history,
                    o.objid = t.deals::oid AS is_deals
               FROM pg_event_trigger_dropped_objects() o
               JOIN funnel.tracked_table t ON o.objid IN (t.deals::oid, t.history::oid)
              WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0 AND o.original
    LOOP
        successor := funnel_internal.citus_successor(d.schema_name, d.object_name);
        CONTINUE WHEN successor IS NULL;
        EXECUTE 'SELECT partmethod::text FROM pg_catalog.pg_dist_partition WHERE logicalrelid OPERATOR(pg_catalog.=) $1'
           INTO method USING successor;
        IF method IS DISTINCT FROM 'h' THEN
            deals_name := CASE WHEN d.is_deals THEN format('%I.%I', d.schema_name, d.object_name)
                               ELSE d.deals::text END;
            RAISE EXCEPTION '%', CASE WHEN d.is_deals
                    THEN format('tracked table %s cannot stop being hash-distributed', deals_name)
                    ELSE format('history table %I.%I of tracked table %s cannot stop being hash-distributed',
                                d.schema_name, d.object_name, deals_name) END
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'The triggers on the shards of a distributed tracked table write its co-located history shards; the tables must stay distributed together.',
                      HINT = format('To make it local: SELECT funnel.untrack(%L), then undistribute both tables, rename the history, track the table again and copy the old history back (README, "Growing the cluster").', deals_name);
        END IF;
        IF d.is_deals THEN
            UPDATE funnel.tracked_table SET deals = successor::regclass WHERE deals::oid = d.objid;
        ELSE
            UPDATE funnel.tracked_table SET history = successor::regclass WHERE history::oid = d.objid;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_rebind_sql_drop() IS
  'funnel internal: when Citus''s alter_distributed_table() replaces a tracked table or its history, moves its funnel.tracked_table row to the new table; refuses undistribute_table() of either';
CREATE EVENT TRIGGER funnel_citus_rebind_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.citus_rebind_sql_drop();
COMMENT ON EVENT TRIGGER funnel_citus_rebind_sql_drop IS
  'with Citus: keeps the tracking of a table (and its history) that alter_distributed_table() rebuilds; refuses undistribute_table() of a tracked table or its history';

-- Citus re-creates the triggers of a table it rebuilds, and refuses
-- triggers on a distributed table unless citus.enable_unsafe_triggers is
-- on.  funnel's tracking triggers write only the co-located history shard
-- (see funnel.track()), so creating one of them on a distributed table
-- turns the setting on for the rest of the transaction, as track() does
-- for its own statements.
CREATE FUNCTION funnel_internal.citus_trigger_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                 JOIN pg_trigger t ON t.oid = c.objid
                 JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE c.classid = 'pg_trigger'::regclass
                  AND p.pronamespace = 'funnel_internal'::regnamespace
                  AND p.proname IN ('track_insert', 'track_update', 'track_delete', 'track_truncate')
                  AND t.tgnargs > 0 AND substring(t.tgargs FROM 1 FOR 6) = decode('636974757300', 'hex')) THEN
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.citus_trigger_ddl_end() IS
  'funnel internal: turns citus.enable_unsafe_triggers on for the transaction when a funnel tracking trigger of a distributed table is created (Citus re-creating it in alter_distributed_table())';
CREATE EVENT TRIGGER funnel_citus_trigger_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION funnel_internal.citus_trigger_ddl_end();
COMMENT ON EVENT TRIGGER funnel_citus_trigger_ddl_end IS
  'with Citus: lets Citus re-create funnel''s tracking triggers when it rebuilds a distributed tracked table (alter_distributed_table)';

-- A node added later, or one that was inactive, catches up
CREATE FUNCTION funnel.sync_pipeline_nodes() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role text := funnel_internal.citus_role();
    missing boolean;
    workers integer;
BEGIN
    IF role IN ('none', 'single') THEN
        RETURN 0;
    ELSIF role = 'worker' THEN
        PERFORM funnel_internal.pipeline_change_begin('sync_pipeline_nodes');   -- raises
    END IF;
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('funnel'), pg_catalog.hashtext('pipeline_log'));
    PERFORM funnel_internal.pipeline_log_ensure();
    -- tables created before funnel recorded their pipelines (the next
    -- citus_add_node creates the pipelines before them)
    PERFORM funnel_internal.citus_pipeline_depend_all();
    EXECUTE $q$
        SELECT count(*)::integer,
               bool_or(NOT EXISTS (
                   SELECT 1 FROM pg_catalog.pg_dist_placement pl
                     JOIN pg_catalog.pg_dist_shard s ON s.shardid OPERATOR(pg_catalog.=) pl.shardid
                    WHERE s.logicalrelid OPERATOR(pg_catalog.=) 'funnel_citus.pipeline_log'::pg_catalog.regclass
                      AND pl.groupid OPERATOR(pg_catalog.=) n.groupid))
          FROM pg_catalog.pg_dist_node n
         WHERE n.groupid OPERATOR(pg_catalog.<>) 0 AND n.noderole OPERATOR(pg_catalog.=) 'primary'
           AND n.isactive
    $q$ INTO workers, missing;
    IF missing THEN
        -- Citus copies reference tables to new nodes lazily; this copy runs
        -- in its own transaction and fires no trigger: the insert below
        -- makes the new nodes apply the whole log
        PERFORM replicate_reference_tables('block_writes');
    END IF;
    PERFORM funnel_internal.pipeline_nodes_ready('sync_pipeline_nodes');
    PERFORM funnel_internal.pipeline_log_append('sync', NULL, NULL, NULL);
    RETURN workers;
END
$$;
COMMENT ON FUNCTION funnel.sync_pipeline_nodes() IS
  'Citus: gives every worker the pipelines it lacks (run on the coordinator after citus_add_node); copies the pipeline log to new nodes and has each node apply the changes it has not applied, in one transaction; returns the number of workers; 0 without Citus';

-- Differences between each worker's pipeline catalog and the coordinator's
CREATE FUNCTION funnel.check_pipeline_nodes()
RETURNS TABLE (node text, pipeline text, stage text, difference text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role text := funnel_internal.citus_role();
BEGIN
    IF role IN ('none', 'single') THEN
        RETURN;
    ELSIF role = 'worker' THEN
        RAISE EXCEPTION 'funnel.check_pipeline_nodes() cannot run on a Citus worker'
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Connect to the coordinator (%s) and run it there.', funnel_internal.citus_node_name(0));
    END IF;
    RETURN QUERY EXECUTE $q$
    WITH here AS (
        SELECT * FROM funnel_internal.pipeline_catalog()
    ), remote AS (
        SELECT r.nodename || ':' || r.nodeport AS node, r.success, r.result
          FROM pg_catalog.run_command_on_workers('SELECT funnel_internal.pipeline_catalog_json()') r
    ), there AS (
        SELECT r.node, c.*
          FROM remote r,
               jsonb_to_recordset(r.result::jsonb)
                 AS c(pipeline text, stage text, "position" integer, probability double precision,
                      kind text, stale_after interval, retired boolean, created_at timestamptz,
                      owner name)
         WHERE r.success
    ), expected AS (
        SELECT n.node, h.*
          FROM (SELECT r.node FROM remote r WHERE r.success) n CROSS JOIN here h
    ), pairs AS (
        SELECT coalesce(h.node, t.node) AS node, coalesce(h.pipeline, t.pipeline) AS pipeline,
               coalesce(h.stage, t.stage) AS stage,
               h.node IS NOT NULL AS on_coord, t.node IS NOT NULL AS on_node,
               h.position AS h_pos, t.position AS t_pos,
               h.probability AS h_p, t.probability AS t_p, h.kind AS h_kind, t.kind AS t_kind,
               h.stale_after AS h_stale, t.stale_after AS t_stale, h.retired AS h_ret, t.retired AS t_ret,
               h.created_at AS h_created, t.created_at AS t_created,
               h.owner AS h_owner, t.owner AS t_owner
          FROM expected h
          FULL JOIN there t
            ON t.node = h.node AND t.pipeline = h.pipeline AND coalesce(t.stage, '') = coalesce(h.stage, '')
    ), rule_remote AS (
        SELECT r.nodename || ':' || r.nodeport AS node, r.success, r.result
          FROM pg_catalog.run_command_on_workers('SELECT funnel_internal.pipeline_rules_json()') r
    ), rule_there AS (
        SELECT r.node, c.*
          FROM rule_remote r,
               jsonb_to_recordset(r.result::jsonb) AS c(pipeline text, stage text, to_stage text, fields text[])
         WHERE r.success
    ), rule_expected AS (
        SELECT n.node, h.*
          FROM (SELECT r.node FROM rule_remote r WHERE r.success) n
         CROSS JOIN funnel_internal.pipeline_rule_rows() h
    ), rule_pairs AS (
        SELECT coalesce(h.node, t.node) AS node, coalesce(h.pipeline, t.pipeline) AS pipeline,
               coalesce(h.stage, t.stage) AS stage, coalesce(h.to_stage, t.to_stage) AS to_stage,
               h.node IS NOT NULL AS on_coord, t.node IS NOT NULL AS on_node,
               h.fields AS h_fields, t.fields AS t_fields
          FROM rule_expected h
          FULL JOIN rule_there t
            ON t.node = h.node AND t.pipeline = h.pipeline AND t.stage = h.stage
           AND coalesce(t.to_stage, '') = coalesce(h.to_stage, '')
    )
    SELECT r.node, NULL::text, NULL::text, 'could not be checked: ' || r.result
      FROM remote r WHERE NOT r.success
    UNION ALL
    SELECT d.node, d.pipeline, d.stage, d.difference FROM (
        SELECT p.node, p.pipeline, p.stage, x.difference
          FROM pairs p,
               LATERAL (VALUES
                 (CASE WHEN p.on_coord AND NOT p.on_node THEN
                           CASE WHEN p.stage IS NULL THEN 'pipeline missing on the node' ELSE 'stage missing on the node' END
                       WHEN p.on_node AND NOT p.on_coord THEN
                           CASE WHEN p.stage IS NULL THEN 'pipeline only on the node' ELSE 'stage only on the node' END
                  END),
                 (CASE WHEN p.on_coord AND p.on_node AND p.h_pos IS DISTINCT FROM p.t_pos THEN
                       format('position: %s on the coordinator, %s on the node', coalesce(p.h_pos::text, 'none'), coalesce(p.t_pos::text, 'none')) END),
                 (CASE WHEN p.on_coord AND p.on_node AND p.h_p IS DISTINCT FROM p.t_p THEN
                       format('probability: %s on the coordinator, %s on the node', coalesce(p.h_p::text, 'none'), coalesce(p.t_p::text, 'none')) END),
                 (CASE WHEN p.on_coord AND p.on_node AND p.h_kind IS DISTINCT FROM p.t_kind THEN
                       format('kind: %s on the coordinator, %s on the node', coalesce(p.h_kind, 'none'), coalesce(p.t_kind, 'none')) END),
                 (CASE WHEN p.on_coord AND p.on_node AND p.h_stale IS DISTINCT FROM p.t_stale THEN
                       format('stale_after: %s on the coordinator, %s on the node', coalesce(p.h_stale::text, 'none'), coalesce(p.t_stale::text, 'none')) END),
                 (CASE WHEN p.on_coord AND p.on_node AND p.h_ret IS DISTINCT FROM p.t_ret THEN
                       format('retired: %s on the coordinator, %s on the node', coalesce(p.h_ret::text, 'none'), coalesce(p.t_ret::text, 'none')) END),
                 (CASE WHEN p.on_coord AND p.on_node AND p.h_created IS DISTINCT FROM p.t_created THEN
                       format('created_at: %s on the coordinator, %s on the node', coalesce(p.h_created::text, 'none'), coalesce(p.t_created::text, 'none')) END),
                 (CASE WHEN p.on_coord AND p.on_node AND p.h_owner IS DISTINCT FROM p.t_owner THEN
                       format('owner: %s on the coordinator, %s on the node', coalesce(p.h_owner::text, 'none'), coalesce(p.t_owner::text, 'none')) END)
               ) AS x(difference)
         WHERE x.difference IS NOT NULL
           -- a stage of a pipeline missing on one side is covered by the pipeline's row
           AND NOT (p.stage IS NOT NULL AND (
                 (p.on_coord AND NOT p.on_node AND NOT EXISTS (
                     SELECT 1 FROM there t WHERE t.node = p.node AND t.pipeline = p.pipeline AND t.stage IS NULL)) OR
                 (p.on_node AND NOT p.on_coord AND NOT EXISTS (
                     SELECT 1 FROM here h WHERE h.pipeline = p.pipeline AND h.stage IS NULL))))
        ) d
    UNION ALL
    SELECT p.node, p.pipeline, p.stage,
           CASE WHEN p.to_stage IS NOT NULL THEN
                    format('allowed move to "%s" %s', p.to_stage,
                           CASE WHEN p.on_coord THEN 'missing on the node' ELSE 'only on the node' END)
                WHEN p.on_coord AND p.on_node THEN
                    format('required fields: %s on the coordinator, %s on the node', p.h_fields, p.t_fields)
                ELSE format('required fields %s %s', coalesce(p.h_fields, p.t_fields),
                            CASE WHEN p.on_coord THEN 'missing on the node' ELSE 'only on the node' END)
           END
      FROM rule_pairs p
     WHERE (NOT (p.on_coord AND p.on_node) OR p.h_fields IS DISTINCT FROM p.t_fields)
       -- the rules of a pipeline missing on one side are covered by the pipeline's row
       AND NOT (p.on_coord AND NOT p.on_node AND NOT EXISTS (
                   SELECT 1 FROM there t WHERE t.node = p.node AND t.pipeline = p.pipeline AND t.stage IS NULL))
       AND NOT (p.on_node AND NOT p.on_coord AND NOT EXISTS (
                   SELECT 1 FROM here h WHERE h.pipeline = p.pipeline AND h.stage IS NULL))
    ORDER BY 1, 2, 3 NULLS FIRST, 4
    $q$;
END
$$;
COMMENT ON FUNCTION funnel.check_pipeline_nodes() IS
  'Citus: one row per difference between a worker''s pipeline catalog (stage names in order, probability, kind, stale_after, retired, created_at, allowed moves, required fields) and the coordinator''s; no row: every node agrees (always none without Citus)';
REVOKE ALL ON FUNCTION funnel_internal.define_pipeline(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.pipeline_apply(text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.define_rules(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.pipeline_log_apply() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.pipeline_log_append(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.pipeline_log_ensure() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.citus_group() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.citus_schema() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.citus_check_table(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.citus_table(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.pipeline_change_begin(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.pipeline_change_end(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.sync_pipeline_nodes() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.citus_pipeline_depend(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.citus_pipeline_depend_all() FROM PUBLIC;
