-- sql/install/pipeline/pipeline.sql: pipelines: catalog tables, the pipeline API and its bodies, uses of a pipeline, funnel.stages
-- C: src/pipeline/pipeline_cache.c, src/type/names.c, src/pipeline/pipeline_uses.c.  Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- Pipeline catalog
--
-- Each pipeline is an enum type in schema funnel_pipeline whose labels are
-- its stage names in funnel order: that part of the catalog is schema, so
-- pg_dump restores it before any table data and pg_upgrade keeps its OIDs.
-- The attributes of each stage live in funnel.pipeline_stage (config data).
--------------------------------------------------------------------------

CREATE SCHEMA funnel_pipeline;
COMMENT ON SCHEMA funnel_pipeline IS
  'funnel: one enum type per pipeline, labels = stage names in funnel order. Managed by funnel.create_pipeline() and related functions; do not alter by hand.';

-- owner is a role name, not an OID: these rows are dumped as data, and a
-- name is what pg_dump's OWNER TO carries to another cluster too.  A row
-- whose role no longer exists (renamed or dropped) can only be changed by
-- a superuser, who gives it a new owner with funnel.alter_pipeline_owner().
-- The default (the extension owner, the current_user of the SECURITY
-- DEFINER bodies) is what rows made by hand or before owners existed get.
CREATE TABLE funnel.pipeline (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    owner       name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE funnel.pipeline IS
  'funnel: one row per pipeline (see funnel.create_pipeline)';
COMMENT ON COLUMN funnel.pipeline.owner IS
  'funnel: the role (by name) that owns the pipeline: only its members and superusers change, re-rule or drop it (see funnel.alter_pipeline_owner)';

-- No foreign keys between config tables: they exist (with the extension)
-- before pg_restore loads their data, and pg_restore -j loads them in
-- parallel, in no order.  The API functions keep them consistent.
CREATE TABLE funnel.pipeline_stage (
    pipeline    text NOT NULL,
    stage       text NOT NULL,
    probability double precision NOT NULL
                    CHECK (probability >= 0 AND probability <= 1),
    kind        text NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
    stale_after interval CHECK (stale_after > interval '0'),
    retired     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (pipeline, stage)
);
COMMENT ON TABLE funnel.pipeline_stage IS
  'funnel: attributes of each stage (probability, kind, stale_after, retired); order and names live in the pipeline''s enum type';

SELECT pg_catalog.pg_extension_config_dump('funnel.pipeline', '');
SELECT pg_catalog.pg_extension_config_dump('funnel.pipeline_stage', '');

CREATE FUNCTION funnel_internal.catalog_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_catalog_changed'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.catalog_changed() IS
  'funnel internal: statement trigger that invalidates every backend''s pipeline cache when a funnel configuration table changes';

CREATE TRIGGER pipeline_stage_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.pipeline_stage
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.catalog_changed();
COMMENT ON TRIGGER pipeline_stage_changed ON funnel.pipeline_stage IS
  'tells every backend''s pipeline cache that stage attributes changed';

--------------------------------------------------------------------------
-- Pipeline API
--
-- These functions run as the extension owner (SECURITY DEFINER) because they
-- create and alter types in schema funnel_pipeline; EXECUTE is revoked from
-- PUBLIC: grant it to the roles that manage pipelines.
--------------------------------------------------------------------------

CREATE FUNCTION funnel_internal.check_name(what text, name text) RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_check_name'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.check_name(text, text) IS
  'funnel internal: validates a pipeline or stage name (non-empty, at most 63 bytes, no ":", no control, zero-width or bidi characters, no white space at either end, NFC in UTF-8 databases)';

CREATE FUNCTION funnel_internal.check_probability(stage text, probability double precision) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF probability IS NULL OR probability = 'NaN'::float8
       OR probability < 0 OR probability > 1 THEN
        RAISE EXCEPTION 'probability % of stage "%" is out of range', coalesce(probability::text, 'NULL'), stage
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A probability is a number between 0 and 1, such as 0.25.';
    END IF;
    -- weighted_forecast multiplies amounts by probability::numeric exactly
    -- (128-bit decimals, doc/aggregates.md): at most 18 decimal places
    IF pg_catalog.scale(probability::numeric) > 18 THEN
        RAISE EXCEPTION 'probability % of stage "%" has more than 18 decimal places', probability, stage
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Probabilities are used as probability::numeric, which must have at most 18 digits after the decimal point.',
                  HINT = 'Round it, e.g. round(p::numeric, 18), or use 0.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.check_probability(text, double precision) IS
  'funnel internal: validates a stage probability (in [0,1], not NaN, not NULL, at most 18 decimal places as numeric)';

-- The enum type of a pipeline, or an error (naming no other pipeline: a
-- tenant's typo need not list every other tenant's pipelines)
CREATE FUNCTION funnel_internal.pipeline_type(pipeline text) RETURNS regtype
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regtype;
BEGIN
    SELECT ty.oid INTO t
      FROM pg_type ty JOIN pg_namespace n ON n.oid = ty.typnamespace
     WHERE n.nspname = 'funnel_pipeline' AND ty.typname = pipeline
       AND ty.typtype = 'e';
    IF t IS NULL THEN
        RAISE EXCEPTION 'pipeline "%" does not exist', pipeline
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT DISTINCT pipeline FROM funnel.stages lists the pipelines; funnel.create_pipeline() creates one.';
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_type(text) IS
  'funnel internal: the enum type that holds a pipeline''s stages';

CREATE FUNCTION funnel_internal.pipeline_typmod(typoid oid) RETURNS integer
    AS 'MODULE_PATHNAME', 'funnel_pipeline_typmod'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.pipeline_typmod(oid) IS
  'funnel internal: the type modifier of funnel.deal_stage that binds a column to the pipeline with this enum type (its low 31 bits; PipelineTypmod in src/funnel.h)';

-- The metadata row of a stage, or an error listing the pipeline's stages
CREATE FUNCTION funnel_internal.stage_row(pipeline text, stage text) RETURNS funnel.pipeline_stage
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r funnel.pipeline_stage;
BEGIN
    PERFORM funnel_internal.pipeline_type(pipeline);
    SELECT * INTO r FROM funnel.pipeline_stage s
     WHERE s.pipeline = stage_row.pipeline AND s.stage = stage_row.stage;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stage "%" does not exist in pipeline "%"', stage, pipeline
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Its stages are: ' || funnel_internal.stage_list(pipeline) || '.';
    END IF;
    RETURN r;
END
$$;
COMMENT ON FUNCTION funnel_internal.stage_row(text, text) IS
  'funnel internal: the attributes of a stage, or an error listing the valid stages';

CREATE FUNCTION funnel_internal.stage_list(pipeline text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(e.enumlabel::text, ', ' ORDER BY e.enumsortorder)
      FROM pg_enum e
     WHERE e.enumtypid = funnel_internal.pipeline_type(pipeline)
$$;
COMMENT ON FUNCTION funnel_internal.stage_list(text) IS
  'funnel internal: the stage names of a pipeline in funnel order, comma separated';

-- Refuse unless the caller (the role that called the entry point) is a
-- member of the pipeline's owner or a superuser.  The pipeline's row is
-- locked, so the owner cannot change before the caller's transaction ends.
CREATE FUNCTION funnel_internal.check_pipeline_owner(pipeline text, caller oid, fn text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner_name name;
    owner_oid oid;
BEGIN
    PERFORM funnel_internal.pipeline_type(pipeline);
    SELECT p.owner INTO owner_name FROM funnel.pipeline p WHERE p.name = pipeline FOR UPDATE;
    -- a type without its row: the extension owner's, as rows made by hand
    owner_name := coalesce(owner_name, (SELECT r.rolname FROM pg_roles r
                                          JOIN pg_proc f ON f.proowner = r.oid
                                         WHERE f.oid = 'funnel_internal.check_pipeline_owner(text, oid, text)'::regprocedure));
    SELECT r.oid INTO owner_oid FROM pg_roles r WHERE r.rolname = owner_name;
    -- USAGE: the privileges of the owner, as PostgreSQL's own ownership
    -- checks (a NOINHERIT member first does SET ROLE to the owner)
    IF EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = caller AND r.rolsuper)
       OR (owner_oid IS NOT NULL AND pg_has_role(caller, owner_oid, 'USAGE')) THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'permission denied for pipeline "%" owned by role %', pipeline, quote_ident(owner_name)
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('Role %s does not have the privileges of role %s%s.',
                              coalesce(quote_ident((SELECT r.rolname FROM pg_roles r WHERE r.oid = caller)), caller::text),
                              quote_ident(owner_name),
                              CASE WHEN owner_oid IS NULL THEN ', which no longer exists' ELSE '' END),
              HINT = format('Only the owner, its members and superusers can call funnel.%s() on this pipeline; the owner can hand it over with funnel.alter_pipeline_owner().', fn);
END
$$;
COMMENT ON FUNCTION funnel_internal.check_pipeline_owner(text, oid, text) IS
  'funnel internal: refuses (42501) unless the calling role is a member of the pipeline''s owner or a superuser; locks the pipeline''s row';

CREATE FUNCTION funnel_internal.create_pipeline(
    name text,
    stages text[],
    probabilities double precision[] DEFAULT NULL,
    won text[] DEFAULT ARRAY['won'],
    lost text[] DEFAULT ARRAY['lost'])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    all_names text[];
    n_open integer;
    i integer;
    p double precision;
    typoid oid;
BEGIN
    PERFORM funnel_internal.check_name('pipeline', name);
    IF EXISTS (SELECT 1 FROM funnel.pipeline WHERE pipeline.name = create_pipeline.name) THEN
        RAISE EXCEPTION 'pipeline "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Use funnel.add_stage() to change it, or funnel.drop_pipeline() first.';
    END IF;
    n_open := coalesce(cardinality(stages), 0);
    IF n_open = 0 THEN
        RAISE EXCEPTION 'pipeline "%" needs at least one open stage', name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the open stages in funnel order, e.g. stages => ARRAY[''lead'', ''qualified'', ''proposal''].';
    END IF;
    IF coalesce(cardinality(won), 0) = 0 THEN
        RAISE EXCEPTION 'pipeline "%" needs at least one won stage', name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Omit won to get a single stage ''won'', or pass won => ARRAY[''closed won''].';
    END IF;
    all_names := stages || won || coalesce(lost, '{}');
    FOR i IN 1 .. cardinality(all_names) LOOP
        PERFORM funnel_internal.check_name('stage', all_names[i]);
        IF array_position(all_names, all_names[i]) <> i THEN
            RAISE EXCEPTION 'stage "%" appears twice in pipeline "%"', all_names[i], name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Stage names are unique within a pipeline.';
        END IF;
    END LOOP;
    IF probabilities IS NOT NULL THEN
        IF cardinality(probabilities) <> n_open THEN
            RAISE EXCEPTION 'pipeline "%" has % open stages but % probabilities',
                            name, n_open, cardinality(probabilities)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give one probability per open stage; won stages have 1 and lost stages 0.';
        END IF;
        FOR i IN 1 .. n_open LOOP
            PERFORM funnel_internal.check_probability(stages[i], probabilities[i]);
        END LOOP;
    END IF;

    EXECUTE format('CREATE TYPE funnel_pipeline.%I AS ENUM (%s)', name,
                   (SELECT string_agg(quote_literal(s), ', ' ORDER BY o)
                      FROM unnest(all_names) WITH ORDINALITY AS u(s, o)))
    ;
    typoid := format('funnel_pipeline.%I', name)::regtype::oid;
    IF EXISTS (SELECT 1 FROM pg_type t
                WHERE t.typnamespace = 'funnel_pipeline'::regnamespace
                  AND t.typtype = 'e' AND t.oid <> typoid
                  AND funnel_internal.pipeline_typmod(t.oid) = funnel_internal.pipeline_typmod(typoid)) THEN
        RAISE EXCEPTION 'could not assign a type modifier to pipeline "%"', name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Another pipeline''s type OID differs from this one by 2^31.',
                  HINT = 'Retry: the next attempt gets a different OID.';
    END IF;

    INSERT INTO funnel.pipeline (name) VALUES (name);
    FOR i IN 1 .. n_open LOOP
        -- evenly spaced defaults: 1/(n+1), 2/(n+1), ...
        p := coalesce(probabilities[i], i::double precision / (n_open + 1));
        IF pg_catalog.scale(p::numeric) > 18 THEN
            p := pg_catalog.round(p::numeric, 18)::double precision;   -- see _check_probability
        END IF;
        INSERT INTO funnel.pipeline_stage (pipeline, stage, probability, kind)
        VALUES (name, stages[i], p, 'open');
    END LOOP;
    INSERT INTO funnel.pipeline_stage (pipeline, stage, probability, kind)
    SELECT name, w, 1, 'won' FROM unnest(won) AS w;
    INSERT INTO funnel.pipeline_stage (pipeline, stage, probability, kind)
    SELECT name, l, 0, 'lost' FROM unnest(coalesce(lost, '{}')) AS l;
END
$$;
COMMENT ON FUNCTION funnel_internal.create_pipeline(text, text[], double precision[], text[], text[]) IS
  'funnel internal: the body of funnel.create_pipeline() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.add_stage(
    pipeline text,
    stage text,
    probability double precision DEFAULT NULL,
    after text DEFAULT NULL,
    before text DEFAULT NULL,
    kind text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ptype regtype := funnel_internal.pipeline_type(pipeline);
    kinds constant text[] := ARRAY['open', 'won', 'lost'];
    anchor funnel.pipeline_stage;
    prev_row funnel.pipeline_stage;
    next_row funnel.pipeline_stage;
    labels text[];
    idx integer;
    new_kind text := kind;
    p double precision := probability;
BEGIN
    PERFORM funnel_internal.check_name('stage', stage);
    IF kind IS NOT NULL AND NOT kind = ANY (kinds) THEN
        RAISE EXCEPTION 'invalid stage kind "%"', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A stage kind is open, won or lost.';
    END IF;
    IF EXISTS (SELECT 1 FROM funnel.pipeline_stage s
                WHERE s.pipeline = add_stage.pipeline AND s.stage = add_stage.stage) THEN
        RAISE EXCEPTION 'stage "%" already exists in pipeline "%"', stage, pipeline
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF after IS NOT NULL AND before IS NOT NULL THEN
        RAISE EXCEPTION 'give either after or before, not both'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) INTO labels
      FROM pg_enum e WHERE e.enumtypid = ptype;

    -- place the stage: after/before an anchor, or at the end of its kind
    IF after IS NOT NULL OR before IS NOT NULL THEN
        anchor := funnel_internal.stage_row(pipeline, coalesce(after, before));
        new_kind := coalesce(new_kind, anchor.kind);
        idx := array_position(labels, anchor.stage);
        IF after IS NOT NULL THEN
            prev_row := anchor;
            IF idx < cardinality(labels) THEN
                next_row := funnel_internal.stage_row(pipeline, labels[idx + 1]);
            END IF;
        ELSE
            next_row := anchor;
            IF idx > 1 THEN
                prev_row := funnel_internal.stage_row(pipeline, labels[idx - 1]);
            END IF;
        END IF;
    ELSE
        new_kind := coalesce(new_kind, 'open');
        SELECT s.* INTO prev_row FROM funnel.pipeline_stage s
          JOIN pg_enum e ON e.enumtypid = ptype AND e.enumlabel = s.stage
         WHERE s.pipeline = add_stage.pipeline
           AND array_position(kinds, s.kind) <= array_position(kinds, new_kind)
         ORDER BY e.enumsortorder DESC LIMIT 1;
        idx := array_position(labels, prev_row.stage);
        IF idx < cardinality(labels) THEN
            next_row := funnel_internal.stage_row(pipeline, labels[idx + 1]);
        END IF;
    END IF;

    IF (prev_row.stage IS NOT NULL AND array_position(kinds, prev_row.kind) > array_position(kinds, new_kind))
       OR (next_row.stage IS NOT NULL AND array_position(kinds, next_row.kind) < array_position(kinds, new_kind)) THEN
        RAISE EXCEPTION 'a % stage cannot go between "%" (%) and "%" (%)', new_kind,
                        coalesce(prev_row.stage, '(start)'), coalesce(prev_row.kind, '-'),
                        coalesce(next_row.stage, '(end)'), coalesce(next_row.kind, '-')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Open stages come first, then won stages, then lost stages.';
    END IF;

    IF new_kind = 'won' THEN
        IF p IS NOT NULL AND p <> 1 THEN
            RAISE EXCEPTION 'won stage "%" must have probability 1, not %', stage, p
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        p := 1;
    ELSIF new_kind = 'lost' THEN
        IF p IS NOT NULL AND p <> 0 THEN
            RAISE EXCEPTION 'lost stage "%" must have probability 0, not %', stage, p
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        p := 0;
    ELSIF p IS NULL THEN
        -- halfway between the neighbouring open stages (0 and 1 at the ends)
        p := (CASE WHEN prev_row.kind = 'open' THEN prev_row.probability ELSE 0 END +
              CASE WHEN next_row.kind = 'open' THEN next_row.probability ELSE 1 END) / 2;
        IF pg_catalog.scale(p::numeric) > 18 THEN
            p := pg_catalog.round(p::numeric, 18)::double precision;   -- see _check_probability
        END IF;
    END IF;
    PERFORM funnel_internal.check_probability(stage, p);

    IF next_row.stage IS NOT NULL AND (before IS NOT NULL OR prev_row.stage IS NULL) THEN
        EXECUTE format('ALTER TYPE %s ADD VALUE %L BEFORE %L', ptype, stage, next_row.stage);
    ELSE
        EXECUTE format('ALTER TYPE %s ADD VALUE %L AFTER %L', ptype, stage, prev_row.stage);
    END IF;
    INSERT INTO funnel.pipeline_stage (pipeline, stage, probability, kind)
    VALUES (pipeline, stage, p, new_kind);
END
$$;
COMMENT ON FUNCTION funnel_internal.add_stage(text, text, double precision, text, text, text) IS
  'funnel internal: the body of funnel.add_stage() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.rename_stage(pipeline text, stage text, new_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel_internal.stage_row(pipeline, stage);
    PERFORM funnel_internal.check_name('stage', new_name);
    IF EXISTS (SELECT 1 FROM funnel.pipeline_stage s
                WHERE s.pipeline = rename_stage.pipeline AND s.stage = new_name) THEN
        RAISE EXCEPTION 'stage "%" already exists in pipeline "%"', new_name, pipeline
            USING ERRCODE = 'duplicate_object';
    END IF;
    EXECUTE format('ALTER TYPE %s RENAME VALUE %L TO %L',
                   funnel_internal.pipeline_type(pipeline), stage, new_name);
    UPDATE funnel.pipeline_stage s SET stage = new_name
     WHERE s.pipeline = rename_stage.pipeline AND s.stage = rename_stage.stage;
END
$$;
COMMENT ON FUNCTION funnel_internal.rename_stage(text, text, text) IS
  'funnel internal: the body of funnel.rename_stage() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.set_probability(pipeline text, stage text, probability double precision)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r funnel.pipeline_stage := funnel_internal.stage_row(pipeline, stage);
BEGIN
    PERFORM funnel_internal.check_probability(stage, probability);
    IF r.kind <> 'open' THEN
        RAISE EXCEPTION 'stage "%" of pipeline "%" is a % stage', stage, pipeline, r.kind
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Won stages have probability 1 and lost stages 0.';
    END IF;
    UPDATE funnel.pipeline_stage s SET probability = set_probability.probability
     WHERE s.pipeline = set_probability.pipeline AND s.stage = set_probability.stage;
END
$$;
COMMENT ON FUNCTION funnel_internal.set_probability(text, text, double precision) IS
  'funnel internal: the body of funnel.set_probability() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.set_stale_after(pipeline text, stage text, stale_after interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel_internal.stage_row(pipeline, stage);
    IF stale_after IS NOT NULL AND stale_after <= interval '0' THEN
        RAISE EXCEPTION 'stale_after % of stage "%" is not positive', stale_after, stage
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a positive interval such as ''14 days'', or NULL to clear it.';
    END IF;
    UPDATE funnel.pipeline_stage s SET stale_after = set_stale_after.stale_after
     WHERE s.pipeline = set_stale_after.pipeline AND s.stage = set_stale_after.stage;
END
$$;
COMMENT ON FUNCTION funnel_internal.set_stale_after(text, text, interval) IS
  'funnel internal: the body of funnel.set_stale_after() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.retire_stage(pipeline text, stage text, retired boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel_internal.stage_row(pipeline, stage);
    UPDATE funnel.pipeline_stage s SET retired = retire_stage.retired
     WHERE s.pipeline = retire_stage.pipeline AND s.stage = retire_stage.stage;
END
$$;
COMMENT ON FUNCTION funnel_internal.retire_stage(text, text, boolean) IS
  'funnel internal: the body of funnel.retire_stage() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.value_holds_pipeline(value "any", pipeline oid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'funnel_value_holds_pipeline'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.value_holds_pipeline("any", oid) IS
  'funnel internal: does a value of any type (arrays, composites, ranges, domains, anyarray) hold a deal_stage or funnel_summary of the pipeline with this enum type OID';

CREATE FUNCTION funnel_internal.expr_holds_pipeline(expr pg_node_tree, pipeline oid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'funnel_expr_holds_pipeline'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.expr_holds_pipeline(pg_node_tree, oid) IS
  'funnel internal: does a stored expression (default, constraint, view, rule, index, partition bound, policy, function body) hold a constant of the pipeline';

CREATE FUNCTION funnel_internal.stage_holding_types() RETURNS oid[]
    AS 'MODULE_PATHNAME', 'funnel_stage_holding_types'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.stage_holding_types() IS
  'funnel internal: the one list of funnel''s types whose values hold stage OIDs (deal_stage, funnel_summary, journey; src/pipeline/pipeline_uses.c)';

-- Every type whose values can hold a pipeline's values: the stage-holding
-- types, and arrays, domains, composites, ranges and multiranges of them,
-- recursively
CREATE FUNCTION funnel_internal.pipeline_value_types() RETURNS TABLE (typoid oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE t(typoid) AS (
        SELECT unnest(funnel_internal.stage_holding_types())
        UNION
        SELECT c.oid FROM t, LATERAL (
            SELECT ty.oid FROM pg_type ty
             WHERE ty.typelem = t.typoid AND ty.typsubscript = 'array_subscript_handler'::regproc
            UNION ALL
            SELECT ty.oid FROM pg_type ty WHERE ty.typtype = 'd' AND ty.typbasetype = t.typoid
            UNION ALL
            SELECT ty.oid FROM pg_attribute a JOIN pg_type ty ON ty.typrelid = a.attrelid
             WHERE a.atttypid = t.typoid AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT r.rngtypid FROM pg_range r WHERE r.rngsubtype = t.typoid
            UNION ALL
            SELECT r.rngmultitypid FROM pg_range r WHERE r.rngsubtype = t.typoid
        ) c
    )
    SELECT typoid FROM t
$$;
COMMENT ON FUNCTION funnel_internal.pipeline_value_types() IS
  'funnel internal: the stage-holding types (funnel_internal.stage_holding_types()) and every array, domain, composite, range and multirange type built on them';

-- The lock that keeps drop_pipeline() from missing a column created by an
-- open transaction (doc/design.md §8): every command that can create a
-- column takes it in SHARE mode, drop_pipeline() in EXCLUSIVE mode
CREATE FUNCTION funnel_internal.stage_columns_ddl_start() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'funnel_stage_columns_ddl_start'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.stage_columns_ddl_start() IS
  'funnel internal: takes the SHARE lock that drop_pipeline() needs in EXCLUSIVE mode, before a command that can create a column holding stages';
CREATE EVENT TRIGGER funnel_stage_columns_ddl_start ON ddl_command_start
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
                 'CREATE MATERIALIZED VIEW', 'CREATE TYPE', 'ALTER TYPE',
                 'CREATE DOMAIN', 'ALTER DOMAIN')
    EXECUTE FUNCTION funnel_internal.stage_columns_ddl_start();
COMMENT ON EVENT TRIGGER funnel_stage_columns_ddl_start IS
  'orders commands that can create a column holding stages with funnel.drop_pipeline(): a transaction running one makes drop_pipeline() refuse until it ends';

CREATE FUNCTION funnel_internal.drop_pipeline_lock(pipeline text) RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_drop_pipeline_lock'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION funnel_internal.drop_pipeline_lock(text) IS
  'funnel internal: first step of drop_pipeline(): refuses at REPEATABLE READ or SERIALIZABLE and while a transaction that may have created a column holding stages is open (55P03), else locks out such commands until this transaction ends';

-- drop_pipeline(), step 2: columns and domains bound to the pipeline by
-- their type modifier
CREATE FUNCTION funnel_internal.drop_check_bound(pipeline text, ptype regtype) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stage_type oid := 'funnel.deal_stage'::regtype;
    typmod integer := funnel_internal.pipeline_typmod(ptype);
    col record;
BEGIN
    SELECT a.attrelid::regclass AS rel, a.attname INTO col
      FROM pg_attribute a
     WHERE a.atttypid = stage_type AND a.atttypmod = typmod
       AND a.attnum > 0 AND NOT a.attisdropped
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pipeline "%" is in use', pipeline
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Column %s.%I is bound to it.', col.rel, col.attname);
    END IF;
    SELECT t.oid::regtype AS typ INTO col
      FROM pg_type t
     WHERE t.typtype = 'd' AND t.typbasetype = stage_type AND t.typtypmod = typmod
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pipeline "%" is in use', pipeline
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Domain %s is bound to it.', col.typ);
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.drop_check_bound(text, regtype) IS
  'funnel internal: drop_pipeline() step: refuses while a column or domain is bound to the pipeline by its type modifier';

-- drop_pipeline(), step 3: the values stored in tables and materialized
-- views, at any depth, in every column of a stage-holding type
CREATE FUNCTION funnel_internal.drop_check_rows(pipeline text, ptype regtype) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stage_type oid := 'funnel.deal_stage'::regtype;
    lo funnel.deal_stage;
    hi funnel.deal_stage;
    citus_tables oid[] := funnel_internal.citus_worker_tables();
    col record;
    used boolean;
BEGIN
    SELECT format('%s:%s', pipeline, min(e.enumlabel::text) FILTER (WHERE e.enumsortorder = lim.lo)),
           format('%s:%s', pipeline, min(e.enumlabel::text) FILTER (WHERE e.enumsortorder = lim.hi))
      INTO lo, hi
      FROM pg_enum e,
           (SELECT min(enumsortorder) AS lo, max(enumsortorder) AS hi
              FROM pg_enum WHERE enumtypid = ptype) lim
     WHERE e.enumtypid = ptype;
    FOR col IN
        SELECT a.attrelid::regclass AS rel, a.attname, a.atttypid = stage_type AS scalar,
               c.relpersistence = 't' AND c.relnamespace <> pg_my_temp_schema() AS foreign_temp,
               c.relkind = 'm' AS matview
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE a.atttypid IN (SELECT typoid FROM funnel_internal.pipeline_value_types())
           AND a.attnum > 0 AND NOT a.attisdropped
           AND (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
           -- a column bound to another pipeline cannot hold this one's stages
           AND NOT (a.atttypid = stage_type AND a.atttypmod >= 0)
           -- on a Citus worker: its shards are checked, not the tables they
           -- make up (the coordinator checked those, on every node)
           AND NOT c.oid = ANY (citus_tables)
         ORDER BY c.oid, a.attnum
    LOOP
        IF col.foreign_temp THEN
            -- another session's temporary table cannot be read from here
            RAISE EXCEPTION 'pipeline "%" may be in use', pipeline
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('Temporary table %s of another session has column %I, which can hold stages, and cannot be read from this session.',
                                      col.rel, col.attname),
                      HINT = 'Retry when that session has ended or dropped the table.';
        END IF;
        -- block writers until this transaction ends, so that no row of the
        -- pipeline can be committed after the check (LOCK TABLE refuses
        -- materialized views: a REFRESH reads tables locked here, or
        -- constants of the view's query, checked below)
        IF NOT col.matview THEN
            EXECUTE format('LOCK TABLE ONLY %s IN SHARE MODE', col.rel);
            -- checked again under the lock: on PostgreSQL 15 the owner may
            -- have turned the (empty) table into a view meanwhile, and its
            -- query must not run here, as the extension owner; a view holds
            -- no values
            IF (SELECT c.relkind FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) col.rel)
               IS DISTINCT FROM 'r' THEN
                CONTINUE;
            END IF;
        END IF;
        -- ONLY: each child is in this loop itself, as a table (a foreign
        -- child is not read)
        IF col.scalar THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE %I OPERATOR(pg_catalog.>=) $1 AND %I OPERATOR(pg_catalog.<=) $2)',
                           col.rel, col.attname, col.attname)
               INTO used USING lo, hi;
        ELSE
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE funnel_internal.value_holds_pipeline(%I, $1))',
                           col.rel, col.attname)
               INTO used USING ptype::oid;
        END IF;
        IF used THEN
            RAISE EXCEPTION 'pipeline "%" is in use', pipeline
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('Column %s.%I holds stages of it.', col.rel, col.attname),
                      HINT = 'Delete or move those rows first.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.drop_check_rows(text, regtype) IS
  'funnel internal: drop_pipeline() step: locks every table with a column that can hold stages (SHARE) and refuses while a row holds one of the pipeline''s';

-- drop_pipeline(), step 4: constants of stored expressions and missing
-- values
CREATE FUNCTION funnel_internal.drop_check_expressions(pipeline text, ptype regtype) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    what text;
BEGIN
    SELECT x.what INTO what FROM (
        SELECT format('The default of column %s.%I', d.adrelid::regclass, a.attname) AS what
          FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
         WHERE funnel_internal.expr_holds_pipeline(d.adbin, ptype)
        UNION ALL
        SELECT format('Constraint %I of %s', c.conname,
                      coalesce(c.conrelid::regclass::text, c.contypid::regtype::text))
          FROM pg_constraint c WHERE funnel_internal.expr_holds_pipeline(c.conbin, ptype)
        UNION ALL
        SELECT format('%s %s', CASE WHEN r.rulename <> '_RETURN' THEN 'Rule ' || quote_ident(r.rulename) || ' of'
                                    WHEN c.relkind = 'm' THEN 'Materialized view' ELSE 'View' END,
                      r.ev_class::regclass)
          FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
         WHERE funnel_internal.expr_holds_pipeline(r.ev_action, ptype) OR funnel_internal.expr_holds_pipeline(r.ev_qual, ptype)
        UNION ALL
        SELECT format('Index %s', i.indexrelid::regclass)
          FROM pg_index i
         WHERE funnel_internal.expr_holds_pipeline(i.indexprs, ptype) OR funnel_internal.expr_holds_pipeline(i.indpred, ptype)
        UNION ALL
        SELECT format('The partition bound of %s', c.oid::regclass)
          FROM pg_class c WHERE c.relispartition AND funnel_internal.expr_holds_pipeline(c.relpartbound, ptype)
        UNION ALL
        SELECT format('Trigger %I of %s', t.tgname, t.tgrelid::regclass)
          FROM pg_trigger t WHERE funnel_internal.expr_holds_pipeline(t.tgqual, ptype)
        UNION ALL
        SELECT format('Policy %I of %s', p.polname, p.polrelid::regclass)
          FROM pg_policy p
         WHERE funnel_internal.expr_holds_pipeline(p.polqual, ptype) OR funnel_internal.expr_holds_pipeline(p.polwithcheck, ptype)
        UNION ALL
        SELECT format('Function %s', p.oid::regprocedure)
          FROM pg_proc p
         WHERE funnel_internal.expr_holds_pipeline(p.prosqlbody, ptype) OR funnel_internal.expr_holds_pipeline(p.proargdefaults, ptype)
        UNION ALL
        SELECT format('The default of domain %s', t.oid::regtype)
          FROM pg_type t WHERE funnel_internal.expr_holds_pipeline(t.typdefaultbin, ptype)
        UNION ALL
        SELECT format('Statistics object %I', s.stxname)
          FROM pg_statistic_ext s WHERE funnel_internal.expr_holds_pipeline(s.stxexprs, ptype)
        UNION ALL
        SELECT format('The value of column %s.%I in rows older than the column', a.attrelid::regclass, a.attname)
          FROM pg_attribute a
         WHERE a.atthasmissing AND a.atttypid IN (SELECT typoid FROM funnel_internal.pipeline_value_types())
           AND funnel_internal.value_holds_pipeline(a.attmissingval, ptype)
        ) x LIMIT 1;
    IF what IS NOT NULL THEN
        RAISE EXCEPTION 'pipeline "%" is in use', pipeline
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = what || ' holds stages of it.',
                  HINT = 'Drop or change that object first.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.drop_check_expressions(text, regtype) IS
  'funnel internal: drop_pipeline() step: refuses while a stored expression (default, constraint, view, rule, index, partition bound, trigger condition, policy, function body, domain default, statistics object) or a column''s missing value holds one of the pipeline''s stages';

-- drop_pipeline(), step 5: no row holds the pipeline's stages any more,
-- but the statistics of ANALYZE may still list some (ANALYZE of an emptied
-- table keeps them): they would make pg_stats and pg_dump --statistics
-- fail; the next ANALYZE rebuilds them
CREATE FUNCTION funnel_internal.drop_statistics(ptype regtype) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM pg_statistic s
     USING pg_attribute a
     WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum
       AND a.atttypid IN (SELECT typoid FROM funnel_internal.pipeline_value_types())
       AND (funnel_internal.value_holds_pipeline(s.stavalues1, ptype)
            OR funnel_internal.value_holds_pipeline(s.stavalues2, ptype)
            OR funnel_internal.value_holds_pipeline(s.stavalues3, ptype)
            OR funnel_internal.value_holds_pipeline(s.stavalues4, ptype)
            OR funnel_internal.value_holds_pipeline(s.stavalues5, ptype))
$$;
COMMENT ON FUNCTION funnel_internal.drop_statistics(regtype) IS
  'funnel internal: drop_pipeline() step: deletes the ANALYZE statistics that list the pipeline''s stages';

CREATE FUNCTION funnel_internal.drop_pipeline(pipeline text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ptype regtype := funnel_internal.pipeline_type(pipeline);
BEGIN
    -- first, so that the checks see every column (doc/design.md §8)
    PERFORM funnel_internal.drop_pipeline_lock(pipeline);
    PERFORM funnel_internal.drop_check_bound(pipeline, ptype);
    PERFORM funnel_internal.drop_check_rows(pipeline, ptype);
    PERFORM funnel_internal.drop_check_expressions(pipeline, ptype);
    PERFORM funnel_internal.drop_statistics(ptype);
    EXECUTE format('DROP TYPE %s', ptype);
    DELETE FROM funnel.pipeline_stage s WHERE s.pipeline = drop_pipeline.pipeline;
    DELETE FROM funnel.pipeline p WHERE p.name = drop_pipeline.pipeline;
END
$$;
COMMENT ON FUNCTION funnel_internal.drop_pipeline(text) IS
  'funnel internal: the body of funnel.drop_pipeline() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.create_pipeline_as(
    caller oid,
    name text,
    stages text[],
    probabilities double precision[] DEFAULT NULL,
    won text[] DEFAULT ARRAY['won'],
    lost text[] DEFAULT ARRAY['lost'])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('create_pipeline');
BEGIN
    PERFORM funnel_internal.create_pipeline(name, stages, probabilities, won, lost);
    UPDATE funnel.pipeline p SET owner = r.rolname
      FROM pg_roles r WHERE r.oid = caller AND p.name = create_pipeline_as.name;
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'create_pipeline', name,
            jsonb_build_array(name, stages, funnel_internal.exact_jsonb(probabilities), won, lost));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.create_pipeline_as(oid, text, text[], double precision[], text[], text[]) IS
  'funnel internal: funnel.create_pipeline() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.create_pipeline(
    name text,
    stages text[],
    probabilities double precision[] DEFAULT NULL,
    won text[] DEFAULT ARRAY['won'],
    lost text[] DEFAULT ARRAY['lost'])
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.create_pipeline(text, text[], double precision[], text[], text[]) IS
  'creates a pipeline: open stages in funnel order with their win probabilities (default evenly spaced), then won stages (p=1, default ''won'') and lost stages (p=0, default ''lost'')';

CREATE FUNCTION funnel_internal.add_stage_as(
    caller oid,
    pipeline text,
    stage text,
    probability double precision DEFAULT NULL,
    after text DEFAULT NULL,
    before text DEFAULT NULL,
    kind text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('add_stage');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'add_stage');
    PERFORM funnel_internal.add_stage(pipeline, stage, probability, after, before, kind);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'add_stage', pipeline,
            jsonb_build_array(pipeline, stage, funnel_internal.exact_jsonb(probability), after, before, kind));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.add_stage_as(oid, text, text, double precision, text, text, text) IS
  'funnel internal: funnel.add_stage() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.add_stage(
    pipeline text,
    stage text,
    probability double precision DEFAULT NULL,
    after text DEFAULT NULL,
    before text DEFAULT NULL,
    kind text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.add_stage(text, text, double precision, text, text, text) IS
  'inserts a stage into a pipeline, after or before a given stage (default: after the last stage of its kind); existing stages keep their relative order, so indexes stay valid; usable once committed';

CREATE FUNCTION funnel_internal.rename_stage_as(caller oid, pipeline text, stage text, new_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('rename_stage');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'rename_stage');
    PERFORM funnel_internal.rename_stage(pipeline, stage, new_name);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'rename_stage', pipeline,
            jsonb_build_array(pipeline, stage, new_name));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.rename_stage_as(oid, text, text, text) IS
  'funnel internal: funnel.rename_stage() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.rename_stage(pipeline text, stage text, new_name text)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.rename_stage(text, text, text) IS
  'renames a stage; stored values keep their identity, so no table is rewritten and existing rows show the new name';

CREATE FUNCTION funnel_internal.set_probability_as(caller oid, pipeline text, stage text, probability double precision)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('set_probability');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'set_probability');
    PERFORM funnel_internal.set_probability(pipeline, stage, probability);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'set_probability', pipeline,
            jsonb_build_array(pipeline, stage, funnel_internal.exact_jsonb(probability)));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.set_probability_as(oid, text, text, double precision) IS
  'funnel internal: funnel.set_probability() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.set_probability(pipeline text, stage text, probability double precision)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.set_probability(text, text, double precision) IS
  'sets the win probability (in [0,1]) of an open stage';

CREATE FUNCTION funnel_internal.set_stale_after_as(caller oid, pipeline text, stage text, stale_after interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('set_stale_after');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'set_stale_after');
    PERFORM funnel_internal.set_stale_after(pipeline, stage, stale_after);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'set_stale_after', pipeline,
            jsonb_build_array(pipeline, stage, funnel_internal.exact_jsonb(stale_after)));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.set_stale_after_as(oid, text, text, interval) IS
  'funnel internal: funnel.set_stale_after() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.set_stale_after(pipeline text, stage text, stale_after interval)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.set_stale_after(text, text, interval) IS
  'sets after how long a deal in a stage counts as stale (NULL: never)';

CREATE FUNCTION funnel_internal.retire_stage_as(caller oid, pipeline text, stage text, retired boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('retire_stage');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'retire_stage');
    PERFORM funnel_internal.retire_stage(pipeline, stage, retired);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'retire_stage', pipeline,
            jsonb_build_array(pipeline, stage, retired));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.retire_stage_as(oid, text, text, boolean) IS
  'funnel internal: funnel.retire_stage() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.retire_stage(pipeline text, stage text, retired boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.retire_stage(text, text, boolean) IS
  'retires a stage (no new entries; stored values and history stay), or brings it back with retired => false';

CREATE FUNCTION funnel_internal.drop_pipeline_as(caller oid, pipeline text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('drop_pipeline');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'drop_pipeline');
    PERFORM funnel_internal.drop_pipeline(pipeline);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'drop_pipeline', pipeline,
            jsonb_build_array(pipeline));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.drop_pipeline_as(oid, text) IS
  'funnel internal: funnel.drop_pipeline() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.drop_pipeline(pipeline text)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.drop_pipeline(text) IS
  'drops a pipeline; refused while a column or domain is bound to it, or any table, materialized view or stored expression (default, constraint, view, rule, index, partition bound, policy, function body) holds one of its stages, journeys or summaries, at REPEATABLE READ or SERIALIZABLE, and while a transaction that may have created a column holding stages is open (55P03); stale statistics listing its stages are deleted (tables that can hold them are locked in SHARE mode while checked)';

-- ALTER ... OWNER TO for a pipeline: the caller must have the privileges
-- of the current owner (or be a superuser) and, unless a superuser, be a
-- member of the new owner
CREATE FUNCTION funnel_internal.alter_pipeline_owner(pipeline text, new_owner name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel_internal.pipeline_type(pipeline);
    IF new_owner IS NULL THEN
        RAISE EXCEPTION 'the new owner of pipeline "%" must not be null', pipeline
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO funnel.pipeline AS p (name, owner) VALUES (pipeline, new_owner)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner
     WHERE p.owner IS DISTINCT FROM excluded.owner;
END
$$;
COMMENT ON FUNCTION funnel_internal.alter_pipeline_owner(text, name) IS
  'funnel internal: the body of funnel.alter_pipeline_owner() on one node (the wrapper checks the caller and adds the Citus coordination)';

CREATE FUNCTION funnel_internal.alter_pipeline_owner_as(caller oid, pipeline text, new_owner regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('alter_pipeline_owner');
    new_name name := (SELECT r.rolname FROM pg_roles r WHERE r.oid = new_owner);
    may_set boolean;
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'alter_pipeline_owner');
    IF new_name IS NULL THEN
        RAISE EXCEPTION 'the new owner of pipeline "%" must be an existing role', pipeline
            USING ERRCODE = CASE WHEN new_owner IS NULL THEN 'null_value_not_allowed' ELSE 'undefined_object' END;
    END IF;
    -- as ALTER ... OWNER TO: the caller must be able to SET ROLE to the new
    -- owner (PostgreSQL 16 added the SET option of a membership)
    IF current_setting('server_version_num')::integer >= 160000 THEN
        may_set := pg_has_role(caller, new_owner, 'SET');
    ELSE
        may_set := pg_has_role(caller, new_owner, 'MEMBER');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = caller AND r.rolsuper)
       AND NOT may_set THEN
        RAISE EXCEPTION 'must be able to SET ROLE % to give it pipeline "%"', quote_ident(new_name), pipeline
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role %s is not a member of role %s.',
                                  quote_ident((SELECT r.rolname FROM pg_roles r WHERE r.oid = caller)), quote_ident(new_name)),
                  HINT = 'As with ALTER ... OWNER TO, only a superuser gives an object to a role the caller is not a member of.';
    END IF;
    PERFORM funnel_internal.alter_pipeline_owner(pipeline, new_name);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'alter_pipeline_owner', pipeline,
            jsonb_build_array(pipeline, new_name));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.alter_pipeline_owner_as(oid, text, regrole) IS
  'funnel internal: funnel.alter_pipeline_owner() for the calling role given by the entry point (owner checks, body, Citus coordination)';

CREATE FUNCTION funnel.alter_pipeline_owner(pipeline text, new_owner regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.alter_pipeline_owner(text, regrole) IS
  'gives a pipeline to another role, like ALTER ... OWNER TO: the caller must have the privileges of the current owner and be a member of the new owner, or be a superuser';

REVOKE ALL ON FUNCTION funnel_internal.create_pipeline(text, text[], double precision[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.add_stage(text, text, double precision, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.rename_stage(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.set_probability(text, text, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.set_stale_after(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.retire_stage(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.drop_pipeline(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.drop_pipeline_lock(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.drop_check_bound(text, regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.drop_check_rows(text, regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.drop_check_expressions(text, regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.drop_statistics(regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.create_pipeline(text, text[], double precision[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.create_pipeline_as(oid, text, text[], double precision[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.add_stage(text, text, double precision, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.add_stage_as(oid, text, text, double precision, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.rename_stage(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.rename_stage_as(oid, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.set_probability(text, text, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.set_probability_as(oid, text, text, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.set_stale_after(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.set_stale_after_as(oid, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.retire_stage(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.retire_stage_as(oid, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.drop_pipeline(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.alter_pipeline_owner(text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.alter_pipeline_owner_as(oid, text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.alter_pipeline_owner(text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.check_pipeline_owner(text, oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.drop_pipeline_as(oid, text) FROM PUBLIC;

CREATE FUNCTION funnel_internal.stage_key(label oid) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'funnel_stage_key'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.stage_key(oid) IS
  'funnel internal: the stage of a pg_enum row as a funnel.deal_stage (the key of funnel.stages), NULL for a stage added by the current uncommitted transaction';

CREATE VIEW funnel.stages AS
SELECT t.typname::text AS pipeline,
       e.enumlabel::text AS stage,
       (row_number() OVER (PARTITION BY e.enumtypid ORDER BY e.enumsortorder))::integer AS position,
       s.probability,
       s.kind,
       s.stale_after,
       coalesce(s.retired, false) AS retired,
       p.owner,
       -- the stage dimension of BI tools (issue 21.5): a join key of the
       -- type of every stage column, a display label and the kind's colour
       -- (funnel_svg()'s defaults)
       funnel_internal.stage_key(e.oid) AS key,
       pg_catalog.initcap(pg_catalog.replace(e.enumlabel::text, '_', ' ')) COLLATE "default" AS label,
       CASE s.kind WHEN 'won' THEN '#59a14f' WHEN 'lost' THEN '#c9665f' ELSE '#4e79a7' END AS color
  FROM pg_catalog.pg_enum e
  JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'funnel_pipeline'
  LEFT JOIN funnel.pipeline_stage s ON s.pipeline = t.typname::text AND s.stage = e.enumlabel::text
  LEFT JOIN funnel.pipeline p ON p.name = t.typname::text
 ORDER BY t.oid, e.enumsortorder;
COMMENT ON VIEW funnel.stages IS
  'every stage of every pipeline in funnel order: pipeline, stage, position, probability, kind, stale_after, retired, owner (the role that may change the pipeline); for BI join editors key (the stage as a funnel.deal_stage, equal to the stage columns it joins), label (the name in title case, underscores as spaces) and color (funnel_svg()''s colour of the kind)';
GRANT SELECT ON funnel.stages TO PUBLIC;
GRANT SELECT ON funnel.pipeline, funnel.pipeline_stage TO PUBLIC;
GRANT USAGE ON SCHEMA funnel TO PUBLIC;
GRANT USAGE ON SCHEMA funnel_pipeline TO PUBLIC;
