/* sql/funnel.sql -- the hand-kept source of sql/funnel--<version>.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION funnel" to load this file. \quit

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

CREATE FUNCTION funnel.catalog_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_catalog_changed'
    LANGUAGE C;
COMMENT ON FUNCTION funnel.catalog_changed() IS
  'funnel internal: statement trigger that invalidates every backend''s pipeline cache when a funnel configuration table changes';

CREATE TRIGGER pipeline_stage_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.pipeline_stage
    FOR EACH STATEMENT EXECUTE FUNCTION funnel.catalog_changed();
COMMENT ON TRIGGER pipeline_stage_changed ON funnel.pipeline_stage IS
  'tells every backend''s pipeline cache that stage attributes changed';

--------------------------------------------------------------------------
-- The type funnel.deal_stage
--------------------------------------------------------------------------

CREATE TYPE funnel.deal_stage;

CREATE FUNCTION funnel.deal_stage_in(cstring, oid, integer)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage_in(cstring, oid, integer) IS
  'text input of deal_stage: ''pipeline:stage'', or a bare ''stage'' where unambiguous';

CREATE FUNCTION funnel.deal_stage_out(funnel.deal_stage)
    RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage_out(funnel.deal_stage) IS
  'text output of deal_stage, always qualified: ''pipeline:stage''';

CREATE FUNCTION funnel.deal_stage_recv(internal, oid, integer)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage_recv(internal, oid, integer) IS
  'binary input of deal_stage: version byte 1, then the text form';

CREATE FUNCTION funnel.deal_stage_send(funnel.deal_stage)
    RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage_send(funnel.deal_stage) IS
  'binary output of deal_stage: version byte 1, then the text form';

CREATE FUNCTION funnel.deal_stage_typmod_in(cstring[])
    RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage_typmod_in(cstring[]) IS
  'type modifier input: funnel.deal_stage(pipeline) binds a column to one pipeline';

CREATE FUNCTION funnel.deal_stage_typmod_out(integer)
    RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage_typmod_out(integer) IS
  'type modifier output: (pipeline)';

CREATE TYPE funnel.deal_stage (
    INPUT = funnel.deal_stage_in,
    OUTPUT = funnel.deal_stage_out,
    RECEIVE = funnel.deal_stage_recv,
    SEND = funnel.deal_stage_send,
    TYPMOD_IN = funnel.deal_stage_typmod_in,
    TYPMOD_OUT = funnel.deal_stage_typmod_out,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.deal_stage IS
  'a stage of a sales pipeline, ordered in funnel order; text form ''pipeline:stage''; funnel.deal_stage(pipeline) binds a column to one pipeline';

CREATE FUNCTION funnel.deal_stage(funnel.deal_stage, integer, boolean)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'deal_stage_enforce_typmod'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage(funnel.deal_stage, integer, boolean) IS
  'applies a pipeline binding: resolves a bare stage name in the bound pipeline, refuses stages of other pipelines';

CREATE CAST (funnel.deal_stage AS funnel.deal_stage)
    WITH FUNCTION funnel.deal_stage(funnel.deal_stage, integer, boolean)
    AS IMPLICIT;
COMMENT ON CAST (funnel.deal_stage AS funnel.deal_stage) IS
  'applies the pipeline binding of funnel.deal_stage(pipeline) columns';

-- Implicit casts from text and varchar, so that parameters as drivers bind
-- them (JDBC setString sends varchar, psycopg 3 and node-postgres can send
-- text) work wherever a stage goes: WHERE stage = $1, IN ($1, $2), CASE,
-- funnel.conversion_rate(reached, $1, $2), INSERT and UPDATE, INSERT ...
-- SELECT of text columns.  No built-in operator or function changes its
-- resolution: an exact match (text = text) or PostgreSQL's preferred type
-- text (varchar = varchar, min(varchar)) always wins over deal_stage, which
-- is not a string type; doc/design.md has the analysis and
-- sql/search_path.sql the proof.  The cast function receives the target's
-- type modifier, so a bare stage name is read in the pipeline of a bound
-- column; an ambiguous bare name cast to an unbound deal_stage is an error
-- (never a value no pipeline claims).
CREATE FUNCTION funnel.deal_stage(text, integer, boolean)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'deal_stage_from_text'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.deal_stage(text, integer, boolean) IS
  'cast from text: reads ''pipeline:stage'', or a bare stage name in the pipeline the type modifier binds (or the only pipeline that has it)';
CREATE CAST (text AS funnel.deal_stage)
    WITH FUNCTION funnel.deal_stage(text, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (text AS funnel.deal_stage) IS
  'reads the text form ''pipeline:stage'' (or a bare stage name); implicit, so text parameters work where a stage goes';
CREATE CAST (varchar AS funnel.deal_stage)
    WITH FUNCTION funnel.deal_stage(text, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (varchar AS funnel.deal_stage) IS
  'reads the text form ''pipeline:stage'' (or a bare stage name); implicit, so varchar parameters (JDBC setString) work where a stage goes';

-- comparison

CREATE FUNCTION funnel.deal_stage_eq(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION funnel.deal_stage_ne(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION funnel.deal_stage_lt(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_le(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_gt(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_ge(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_cmp(funnel.deal_stage, funnel.deal_stage) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_hash(funnel.deal_stage) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_hash_extended(funnel.deal_stage, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_larger(funnel.deal_stage, funnel.deal_stage) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel.deal_stage_smaller(funnel.deal_stage, funnel.deal_stage) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION funnel.deal_stage_eq(funnel.deal_stage, funnel.deal_stage) IS 'implementation of = for deal_stage';
COMMENT ON FUNCTION funnel.deal_stage_ne(funnel.deal_stage, funnel.deal_stage) IS 'implementation of <> for deal_stage';
COMMENT ON FUNCTION funnel.deal_stage_lt(funnel.deal_stage, funnel.deal_stage) IS 'implementation of < for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel.deal_stage_le(funnel.deal_stage, funnel.deal_stage) IS 'implementation of <= for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel.deal_stage_gt(funnel.deal_stage, funnel.deal_stage) IS 'implementation of > for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel.deal_stage_ge(funnel.deal_stage, funnel.deal_stage) IS 'implementation of >= for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel.deal_stage_cmp(funnel.deal_stage, funnel.deal_stage) IS 'btree support: three-way comparison in funnel order';
COMMENT ON FUNCTION funnel.deal_stage_sortsupport(internal) IS 'btree support: sort support for deal_stage';
COMMENT ON FUNCTION funnel.deal_stage_hash(funnel.deal_stage) IS 'hash support for deal_stage';
COMMENT ON FUNCTION funnel.deal_stage_hash_extended(funnel.deal_stage, bigint) IS 'extended (seeded) hash support for deal_stage';
COMMENT ON FUNCTION funnel.deal_stage_larger(funnel.deal_stage, funnel.deal_stage) IS 'the later of two stages in funnel order (for max)';
COMMENT ON FUNCTION funnel.deal_stage_smaller(funnel.deal_stage, funnel.deal_stage) IS 'the earlier of two stages in funnel order (for min)';

-- The comparison operators (and min/max below) live in pg_catalog, which
-- every search_path includes: BI tools and application connections run with
-- the default "$user", public, where operators in schema funnel would not be
-- found (operator lookup, unlike ORDER BY's opclass lookup, follows the
-- path).  They are extension members, so DROP EXTENSION removes them and
-- pg_dump leaves them to CREATE EXTENSION.  Their argument types are
-- funnel.deal_stage, so no built-in operator is shadowed: see doc/design.md.
CREATE OPERATOR pg_catalog.= (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel.deal_stage_eq,
    COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR pg_catalog.<> (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel.deal_stage_ne,
    COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR pg_catalog.< (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel.deal_stage_lt,
    COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR pg_catalog.<= (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel.deal_stage_le,
    COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR pg_catalog.> (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel.deal_stage_gt,
    COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR pg_catalog.>= (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel.deal_stage_ge,
    COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

COMMENT ON OPERATOR pg_catalog.= (funnel.deal_stage, funnel.deal_stage) IS 'same stage';
COMMENT ON OPERATOR pg_catalog.<> (funnel.deal_stage, funnel.deal_stage) IS 'different stages';
COMMENT ON OPERATOR pg_catalog.< (funnel.deal_stage, funnel.deal_stage) IS 'earlier in funnel order';
COMMENT ON OPERATOR pg_catalog.<= (funnel.deal_stage, funnel.deal_stage) IS 'earlier in funnel order or same';
COMMENT ON OPERATOR pg_catalog.> (funnel.deal_stage, funnel.deal_stage) IS 'later in funnel order';
COMMENT ON OPERATOR pg_catalog.>= (funnel.deal_stage, funnel.deal_stage) IS 'later in funnel order or same';

CREATE OPERATOR CLASS funnel.deal_stage_ops
    DEFAULT FOR TYPE funnel.deal_stage USING btree AS
        OPERATOR 1 pg_catalog.< ,
        OPERATOR 2 pg_catalog.<= ,
        OPERATOR 3 pg_catalog.= ,
        OPERATOR 4 pg_catalog.>= ,
        OPERATOR 5 pg_catalog.> ,
        FUNCTION 1 funnel.deal_stage_cmp(funnel.deal_stage, funnel.deal_stage),
        FUNCTION 2 funnel.deal_stage_sortsupport(internal);
COMMENT ON OPERATOR CLASS funnel.deal_stage_ops USING btree IS
  'funnel order of deal stages (within a pipeline by position, across pipelines by pipeline)';

CREATE OPERATOR CLASS funnel.deal_stage_hash_ops
    DEFAULT FOR TYPE funnel.deal_stage USING hash AS
        OPERATOR 1 pg_catalog.= ,
        FUNCTION 1 funnel.deal_stage_hash(funnel.deal_stage),
        FUNCTION 2 funnel.deal_stage_hash_extended(funnel.deal_stage, bigint);
COMMENT ON OPERATOR CLASS funnel.deal_stage_hash_ops USING hash IS
  'hashing of deal stages (for hash joins, hash aggregates and hash indexes)';
COMMENT ON OPERATOR FAMILY funnel.deal_stage_ops USING btree IS
  'funnel order of deal stages';
COMMENT ON OPERATOR FAMILY funnel.deal_stage_hash_ops USING hash IS
  'hashing of deal stages';

CREATE AGGREGATE funnel.min(funnel.deal_stage) (
    SFUNC = funnel.deal_stage_smaller,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel.deal_stage_smaller,
    SORTOP = OPERATOR(pg_catalog.<),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.min(funnel.deal_stage) IS 'earliest stage in funnel order';

CREATE AGGREGATE funnel.max(funnel.deal_stage) (
    SFUNC = funnel.deal_stage_larger,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel.deal_stage_larger,
    SORTOP = OPERATOR(pg_catalog.>),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.max(funnel.deal_stage) IS 'latest stage in funnel order';

-- the same aggregates in pg_catalog, so min(stage) works on any search_path
CREATE AGGREGATE pg_catalog.min(funnel.deal_stage) (
    SFUNC = funnel.deal_stage_smaller,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel.deal_stage_smaller,
    SORTOP = OPERATOR(pg_catalog.<),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE pg_catalog.min(funnel.deal_stage) IS 'earliest stage in funnel order (same as funnel.min)';

CREATE AGGREGATE pg_catalog.max(funnel.deal_stage) (
    SFUNC = funnel.deal_stage_larger,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel.deal_stage_larger,
    SORTOP = OPERATOR(pg_catalog.>),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE pg_catalog.max(funnel.deal_stage) IS 'latest stage in funnel order (same as funnel.max)';

-- accessors

CREATE FUNCTION funnel.pipeline_of(funnel.deal_stage) RETURNS text
    AS 'MODULE_PATHNAME', 'deal_stage_pipeline_of'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.pipeline_of(funnel.deal_stage) IS 'name of the pipeline of a stage';

CREATE FUNCTION funnel.stage_name(funnel.deal_stage) RETURNS text
    AS 'MODULE_PATHNAME', 'deal_stage_stage_name'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.stage_name(funnel.deal_stage) IS 'name of a stage, without its pipeline';

CREATE FUNCTION funnel.position(funnel.deal_stage) RETURNS integer
    AS 'MODULE_PATHNAME', 'deal_stage_position'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.position(funnel.deal_stage) IS
  'current 1-based rank of a stage in its pipeline (an inserted stage shifts the ranks after it)';

CREATE FUNCTION funnel.probability(funnel.deal_stage) RETURNS double precision
    AS 'MODULE_PATHNAME', 'deal_stage_probability'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.probability(funnel.deal_stage) IS
  'win probability of a stage, in [0,1] (won stages 1, lost stages 0)';

CREATE FUNCTION funnel.kind(funnel.deal_stage) RETURNS text
    AS 'MODULE_PATHNAME', 'deal_stage_kind'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.kind(funnel.deal_stage) IS 'kind of a stage: open, won or lost';

CREATE FUNCTION funnel.stale_after(funnel.deal_stage) RETURNS interval
    AS 'MODULE_PATHNAME', 'deal_stage_stale_after'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.stale_after(funnel.deal_stage) IS
  'after how long a deal in this stage counts as stale (set by funnel.set_stale_after); NULL when none is set';

--------------------------------------------------------------------------
-- Pipeline API
--
-- These functions run as the extension owner (SECURITY DEFINER) because they
-- create and alter types in schema funnel_pipeline; EXECUTE is revoked from
-- PUBLIC: grant it to the roles that manage pipelines.
--------------------------------------------------------------------------

CREATE FUNCTION funnel._check_name(what text, name text) RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_check_name'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel._check_name(text, text) IS
  'funnel internal: validates a pipeline or stage name (non-empty, at most 63 bytes, no ":", no control, zero-width or bidi characters, no white space at either end, NFC in UTF-8 databases)';

CREATE FUNCTION funnel._check_probability(stage text, probability double precision) RETURNS void
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
COMMENT ON FUNCTION funnel._check_probability(text, double precision) IS
  'funnel internal: validates a stage probability (in [0,1], not NaN, not NULL, at most 18 decimal places as numeric)';

-- The enum type of a pipeline, or an error (naming no other pipeline: a
-- tenant's typo need not list every other tenant's pipelines)
CREATE FUNCTION funnel._pipeline_type(pipeline text) RETURNS regtype
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
COMMENT ON FUNCTION funnel._pipeline_type(text) IS
  'funnel internal: the enum type that holds a pipeline''s stages';

CREATE FUNCTION funnel._pipeline_typmod(typoid oid) RETURNS integer
    AS 'MODULE_PATHNAME', 'funnel_pipeline_typmod'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel._pipeline_typmod(oid) IS
  'funnel internal: the type modifier of funnel.deal_stage that binds a column to the pipeline with this enum type (its low 31 bits; PipelineTypmod in src/funnel.h)';

-- The metadata row of a stage, or an error listing the pipeline's stages
CREATE FUNCTION funnel._stage_row(pipeline text, stage text) RETURNS funnel.pipeline_stage
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r funnel.pipeline_stage;
BEGIN
    PERFORM funnel._pipeline_type(pipeline);
    SELECT * INTO r FROM funnel.pipeline_stage s
     WHERE s.pipeline = _stage_row.pipeline AND s.stage = _stage_row.stage;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stage "%" does not exist in pipeline "%"', stage, pipeline
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Its stages are: ' || funnel._stage_list(pipeline) || '.';
    END IF;
    RETURN r;
END
$$;
COMMENT ON FUNCTION funnel._stage_row(text, text) IS
  'funnel internal: the attributes of a stage, or an error listing the valid stages';

CREATE FUNCTION funnel._stage_list(pipeline text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(e.enumlabel::text, ', ' ORDER BY e.enumsortorder)
      FROM pg_enum e
     WHERE e.enumtypid = funnel._pipeline_type(pipeline)
$$;
COMMENT ON FUNCTION funnel._stage_list(text) IS
  'funnel internal: the stage names of a pipeline in funnel order, comma separated';

-- Refuse unless the caller (the role that called the entry point) is a
-- member of the pipeline's owner or a superuser.  The pipeline's row is
-- locked, so the owner cannot change before the caller's transaction ends.
CREATE FUNCTION funnel._check_pipeline_owner(pipeline text, caller oid, fn text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner_name name;
    owner_oid oid;
BEGIN
    PERFORM funnel._pipeline_type(pipeline);
    SELECT p.owner INTO owner_name FROM funnel.pipeline p WHERE p.name = pipeline FOR UPDATE;
    -- a type without its row: the extension owner's, as rows made by hand
    owner_name := coalesce(owner_name, (SELECT r.rolname FROM pg_roles r
                                          JOIN pg_proc f ON f.proowner = r.oid
                                         WHERE f.oid = 'funnel._check_pipeline_owner(text, oid, text)'::regprocedure));
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
COMMENT ON FUNCTION funnel._check_pipeline_owner(text, oid, text) IS
  'funnel internal: refuses (42501) unless the calling role is a member of the pipeline''s owner or a superuser; locks the pipeline''s row';

CREATE FUNCTION funnel._create_pipeline(
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
    PERFORM funnel._check_name('pipeline', name);
    IF EXISTS (SELECT 1 FROM funnel.pipeline WHERE pipeline.name = _create_pipeline.name) THEN
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
        PERFORM funnel._check_name('stage', all_names[i]);
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
            PERFORM funnel._check_probability(stages[i], probabilities[i]);
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
                  AND funnel._pipeline_typmod(t.oid) = funnel._pipeline_typmod(typoid)) THEN
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
COMMENT ON FUNCTION funnel._create_pipeline(text, text[], double precision[], text[], text[]) IS
  'funnel internal: the body of funnel.create_pipeline() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._add_stage(
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
    ptype regtype := funnel._pipeline_type(pipeline);
    kinds constant text[] := ARRAY['open', 'won', 'lost'];
    anchor funnel.pipeline_stage;
    prev_row funnel.pipeline_stage;
    next_row funnel.pipeline_stage;
    labels text[];
    idx integer;
    new_kind text := kind;
    p double precision := probability;
BEGIN
    PERFORM funnel._check_name('stage', stage);
    IF kind IS NOT NULL AND NOT kind = ANY (kinds) THEN
        RAISE EXCEPTION 'invalid stage kind "%"', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A stage kind is open, won or lost.';
    END IF;
    IF EXISTS (SELECT 1 FROM funnel.pipeline_stage s
                WHERE s.pipeline = _add_stage.pipeline AND s.stage = _add_stage.stage) THEN
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
        anchor := funnel._stage_row(pipeline, coalesce(after, before));
        new_kind := coalesce(new_kind, anchor.kind);
        idx := array_position(labels, anchor.stage);
        IF after IS NOT NULL THEN
            prev_row := anchor;
            IF idx < cardinality(labels) THEN
                next_row := funnel._stage_row(pipeline, labels[idx + 1]);
            END IF;
        ELSE
            next_row := anchor;
            IF idx > 1 THEN
                prev_row := funnel._stage_row(pipeline, labels[idx - 1]);
            END IF;
        END IF;
    ELSE
        new_kind := coalesce(new_kind, 'open');
        SELECT s.* INTO prev_row FROM funnel.pipeline_stage s
          JOIN pg_enum e ON e.enumtypid = ptype AND e.enumlabel = s.stage
         WHERE s.pipeline = _add_stage.pipeline
           AND array_position(kinds, s.kind) <= array_position(kinds, new_kind)
         ORDER BY e.enumsortorder DESC LIMIT 1;
        idx := array_position(labels, prev_row.stage);
        IF idx < cardinality(labels) THEN
            next_row := funnel._stage_row(pipeline, labels[idx + 1]);
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
    PERFORM funnel._check_probability(stage, p);

    IF next_row.stage IS NOT NULL AND (before IS NOT NULL OR prev_row.stage IS NULL) THEN
        EXECUTE format('ALTER TYPE %s ADD VALUE %L BEFORE %L', ptype, stage, next_row.stage);
    ELSE
        EXECUTE format('ALTER TYPE %s ADD VALUE %L AFTER %L', ptype, stage, prev_row.stage);
    END IF;
    INSERT INTO funnel.pipeline_stage (pipeline, stage, probability, kind)
    VALUES (pipeline, stage, p, new_kind);
END
$$;
COMMENT ON FUNCTION funnel._add_stage(text, text, double precision, text, text, text) IS
  'funnel internal: the body of funnel.add_stage() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._rename_stage(pipeline text, stage text, new_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel._stage_row(pipeline, stage);
    PERFORM funnel._check_name('stage', new_name);
    IF EXISTS (SELECT 1 FROM funnel.pipeline_stage s
                WHERE s.pipeline = _rename_stage.pipeline AND s.stage = new_name) THEN
        RAISE EXCEPTION 'stage "%" already exists in pipeline "%"', new_name, pipeline
            USING ERRCODE = 'duplicate_object';
    END IF;
    EXECUTE format('ALTER TYPE %s RENAME VALUE %L TO %L',
                   funnel._pipeline_type(pipeline), stage, new_name);
    UPDATE funnel.pipeline_stage s SET stage = new_name
     WHERE s.pipeline = _rename_stage.pipeline AND s.stage = _rename_stage.stage;
END
$$;
COMMENT ON FUNCTION funnel._rename_stage(text, text, text) IS
  'funnel internal: the body of funnel.rename_stage() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._set_probability(pipeline text, stage text, probability double precision)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r funnel.pipeline_stage := funnel._stage_row(pipeline, stage);
BEGIN
    PERFORM funnel._check_probability(stage, probability);
    IF r.kind <> 'open' THEN
        RAISE EXCEPTION 'stage "%" of pipeline "%" is a % stage', stage, pipeline, r.kind
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Won stages have probability 1 and lost stages 0.';
    END IF;
    UPDATE funnel.pipeline_stage s SET probability = _set_probability.probability
     WHERE s.pipeline = _set_probability.pipeline AND s.stage = _set_probability.stage;
END
$$;
COMMENT ON FUNCTION funnel._set_probability(text, text, double precision) IS
  'funnel internal: the body of funnel.set_probability() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._set_stale_after(pipeline text, stage text, stale_after interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel._stage_row(pipeline, stage);
    IF stale_after IS NOT NULL AND stale_after <= interval '0' THEN
        RAISE EXCEPTION 'stale_after % of stage "%" is not positive', stale_after, stage
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a positive interval such as ''14 days'', or NULL to clear it.';
    END IF;
    UPDATE funnel.pipeline_stage s SET stale_after = _set_stale_after.stale_after
     WHERE s.pipeline = _set_stale_after.pipeline AND s.stage = _set_stale_after.stage;
END
$$;
COMMENT ON FUNCTION funnel._set_stale_after(text, text, interval) IS
  'funnel internal: the body of funnel.set_stale_after() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._retire_stage(pipeline text, stage text, retired boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel._stage_row(pipeline, stage);
    UPDATE funnel.pipeline_stage s SET retired = _retire_stage.retired
     WHERE s.pipeline = _retire_stage.pipeline AND s.stage = _retire_stage.stage;
END
$$;
COMMENT ON FUNCTION funnel._retire_stage(text, text, boolean) IS
  'funnel internal: the body of funnel.retire_stage() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._value_holds_pipeline(value "any", pipeline oid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'funnel_value_holds_pipeline'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel._value_holds_pipeline("any", oid) IS
  'funnel internal: does a value of any type (arrays, composites, ranges, domains, anyarray) hold a deal_stage or funnel_summary of the pipeline with this enum type OID';

CREATE FUNCTION funnel._expr_holds_pipeline(expr pg_node_tree, pipeline oid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'funnel_expr_holds_pipeline'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel._expr_holds_pipeline(pg_node_tree, oid) IS
  'funnel internal: does a stored expression (default, constraint, view, rule, index, partition bound, policy, function body) hold a constant of the pipeline';

CREATE FUNCTION funnel._stage_holding_types() RETURNS oid[]
    AS 'MODULE_PATHNAME', 'funnel_stage_holding_types'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel._stage_holding_types() IS
  'funnel internal: the one list of funnel''s types whose values hold stage OIDs (deal_stage, funnel_summary, journey; src/pipeline_uses.c)';

-- Every type whose values can hold a pipeline's values: the stage-holding
-- types, and arrays, domains, composites, ranges and multiranges of them,
-- recursively
CREATE FUNCTION funnel._pipeline_value_types() RETURNS TABLE (typoid oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE t(typoid) AS (
        SELECT unnest(funnel._stage_holding_types())
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
COMMENT ON FUNCTION funnel._pipeline_value_types() IS
  'funnel internal: the stage-holding types (funnel._stage_holding_types()) and every array, domain, composite, range and multirange type built on them';

-- The lock that keeps drop_pipeline() from missing a column created by an
-- open transaction (doc/design.md §8): every command that can create a
-- column takes it in SHARE mode, drop_pipeline() in EXCLUSIVE mode
CREATE FUNCTION funnel._stage_columns_ddl_start() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'funnel_stage_columns_ddl_start'
    LANGUAGE C;
COMMENT ON FUNCTION funnel._stage_columns_ddl_start() IS
  'funnel internal: takes the SHARE lock that drop_pipeline() needs in EXCLUSIVE mode, before a command that can create a column holding stages';
CREATE EVENT TRIGGER funnel_stage_columns_ddl_start ON ddl_command_start
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
                 'CREATE MATERIALIZED VIEW', 'CREATE TYPE', 'ALTER TYPE',
                 'CREATE DOMAIN', 'ALTER DOMAIN')
    EXECUTE FUNCTION funnel._stage_columns_ddl_start();
COMMENT ON EVENT TRIGGER funnel_stage_columns_ddl_start IS
  'orders commands that can create a column holding stages with funnel.drop_pipeline(): a transaction running one makes drop_pipeline() refuse until it ends';

CREATE FUNCTION funnel._drop_pipeline_lock(pipeline text) RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_drop_pipeline_lock'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION funnel._drop_pipeline_lock(text) IS
  'funnel internal: first step of drop_pipeline(): refuses at REPEATABLE READ or SERIALIZABLE and while a transaction that may have created a column holding stages is open (55P03), else locks out such commands until this transaction ends';

-- On a Citus worker, the Citus tables (whose rows live in shards); else none
CREATE FUNCTION funnel._citus_worker_tables() RETURNS oid[]
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
COMMENT ON FUNCTION funnel._citus_worker_tables() IS
  'funnel internal: on a Citus worker, the distributed, reference and Citus local tables (their shards are plain tables); empty elsewhere';

-- drop_pipeline(), step 2: columns and domains bound to the pipeline by
-- their type modifier
CREATE FUNCTION funnel._drop_check_bound(pipeline text, ptype regtype) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stage_type oid := 'funnel.deal_stage'::regtype;
    typmod integer := (ptype::oid::bigint & 2147483647)::integer;
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
COMMENT ON FUNCTION funnel._drop_check_bound(text, regtype) IS
  'funnel internal: drop_pipeline() step: refuses while a column or domain is bound to the pipeline by its type modifier';

-- drop_pipeline(), step 3: the values stored in tables and materialized
-- views, at any depth, in every column of a stage-holding type
CREATE FUNCTION funnel._drop_check_rows(pipeline text, ptype regtype) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stage_type oid := 'funnel.deal_stage'::regtype;
    lo funnel.deal_stage;
    hi funnel.deal_stage;
    citus_tables oid[] := funnel._citus_worker_tables();
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
         WHERE a.atttypid IN (SELECT typoid FROM funnel._pipeline_value_types())
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
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE funnel._value_holds_pipeline(%I, $1))',
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
COMMENT ON FUNCTION funnel._drop_check_rows(text, regtype) IS
  'funnel internal: drop_pipeline() step: locks every table with a column that can hold stages (SHARE) and refuses while a row holds one of the pipeline''s';

-- drop_pipeline(), step 4: constants of stored expressions and missing
-- values
CREATE FUNCTION funnel._drop_check_expressions(pipeline text, ptype regtype) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    what text;
BEGIN
    SELECT x.what INTO what FROM (
        SELECT format('The default of column %s.%I', d.adrelid::regclass, a.attname) AS what
          FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
         WHERE funnel._expr_holds_pipeline(d.adbin, ptype)
        UNION ALL
        SELECT format('Constraint %I of %s', c.conname,
                      coalesce(c.conrelid::regclass::text, c.contypid::regtype::text))
          FROM pg_constraint c WHERE funnel._expr_holds_pipeline(c.conbin, ptype)
        UNION ALL
        SELECT format('%s %s', CASE WHEN r.rulename <> '_RETURN' THEN 'Rule ' || quote_ident(r.rulename) || ' of'
                                    WHEN c.relkind = 'm' THEN 'Materialized view' ELSE 'View' END,
                      r.ev_class::regclass)
          FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
         WHERE funnel._expr_holds_pipeline(r.ev_action, ptype) OR funnel._expr_holds_pipeline(r.ev_qual, ptype)
        UNION ALL
        SELECT format('Index %s', i.indexrelid::regclass)
          FROM pg_index i
         WHERE funnel._expr_holds_pipeline(i.indexprs, ptype) OR funnel._expr_holds_pipeline(i.indpred, ptype)
        UNION ALL
        SELECT format('The partition bound of %s', c.oid::regclass)
          FROM pg_class c WHERE c.relispartition AND funnel._expr_holds_pipeline(c.relpartbound, ptype)
        UNION ALL
        SELECT format('Trigger %I of %s', t.tgname, t.tgrelid::regclass)
          FROM pg_trigger t WHERE funnel._expr_holds_pipeline(t.tgqual, ptype)
        UNION ALL
        SELECT format('Policy %I of %s', p.polname, p.polrelid::regclass)
          FROM pg_policy p
         WHERE funnel._expr_holds_pipeline(p.polqual, ptype) OR funnel._expr_holds_pipeline(p.polwithcheck, ptype)
        UNION ALL
        SELECT format('Function %s', p.oid::regprocedure)
          FROM pg_proc p
         WHERE funnel._expr_holds_pipeline(p.prosqlbody, ptype) OR funnel._expr_holds_pipeline(p.proargdefaults, ptype)
        UNION ALL
        SELECT format('The default of domain %s', t.oid::regtype)
          FROM pg_type t WHERE funnel._expr_holds_pipeline(t.typdefaultbin, ptype)
        UNION ALL
        SELECT format('Statistics object %I', s.stxname)
          FROM pg_statistic_ext s WHERE funnel._expr_holds_pipeline(s.stxexprs, ptype)
        UNION ALL
        SELECT format('The value of column %s.%I in rows older than the column', a.attrelid::regclass, a.attname)
          FROM pg_attribute a
         WHERE a.atthasmissing AND a.atttypid IN (SELECT typoid FROM funnel._pipeline_value_types())
           AND funnel._value_holds_pipeline(a.attmissingval, ptype)
        ) x LIMIT 1;
    IF what IS NOT NULL THEN
        RAISE EXCEPTION 'pipeline "%" is in use', pipeline
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = what || ' holds stages of it.',
                  HINT = 'Drop or change that object first.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._drop_check_expressions(text, regtype) IS
  'funnel internal: drop_pipeline() step: refuses while a stored expression (default, constraint, view, rule, index, partition bound, trigger condition, policy, function body, domain default, statistics object) or a column''s missing value holds one of the pipeline''s stages';

-- drop_pipeline(), step 5: no row holds the pipeline's stages any more,
-- but the statistics of ANALYZE may still list some (ANALYZE of an emptied
-- table keeps them): they would make pg_stats and pg_dump --statistics
-- fail; the next ANALYZE rebuilds them
CREATE FUNCTION funnel._drop_statistics(ptype regtype) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM pg_statistic s
     USING pg_attribute a
     WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum
       AND a.atttypid IN (SELECT typoid FROM funnel._pipeline_value_types())
       AND (funnel._value_holds_pipeline(s.stavalues1, ptype)
            OR funnel._value_holds_pipeline(s.stavalues2, ptype)
            OR funnel._value_holds_pipeline(s.stavalues3, ptype)
            OR funnel._value_holds_pipeline(s.stavalues4, ptype)
            OR funnel._value_holds_pipeline(s.stavalues5, ptype))
$$;
COMMENT ON FUNCTION funnel._drop_statistics(regtype) IS
  'funnel internal: drop_pipeline() step: deletes the ANALYZE statistics that list the pipeline''s stages';

CREATE FUNCTION funnel._drop_pipeline(pipeline text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ptype regtype := funnel._pipeline_type(pipeline);
BEGIN
    -- first, so that the checks see every column (doc/design.md §8)
    PERFORM funnel._drop_pipeline_lock(pipeline);
    PERFORM funnel._drop_check_bound(pipeline, ptype);
    PERFORM funnel._drop_check_rows(pipeline, ptype);
    PERFORM funnel._drop_check_expressions(pipeline, ptype);
    PERFORM funnel._drop_statistics(ptype);
    EXECUTE format('DROP TYPE %s', ptype);
    DELETE FROM funnel.pipeline_stage s WHERE s.pipeline = _drop_pipeline.pipeline;
    DELETE FROM funnel.pipeline p WHERE p.name = _drop_pipeline.pipeline;
END
$$;
COMMENT ON FUNCTION funnel._drop_pipeline(text) IS
  'funnel internal: the body of funnel.drop_pipeline() on one node (the wrapper adds the Citus coordination)';

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
-- lazily, and checked by funnel._citus_check_table() before every use
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
CREATE FUNCTION funnel._citus_role() RETURNS text
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
COMMENT ON FUNCTION funnel._citus_role() IS
  'funnel internal: none (no Citus), single (a Citus coordinator without workers or pipeline log), coordinator or worker';

-- host:port of the nodes of a Citus node group (0: the coordinator)
CREATE FUNCTION funnel._citus_node_name(grp integer) RETURNS text
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
COMMENT ON FUNCTION funnel._citus_node_name(integer) IS
  'funnel internal: host:port of the Citus node(s) of a node group';

-- to_jsonb with the settings that make floats and intervals exact and
-- readable on every node (shortest exact floats, postgres interval style)
CREATE FUNCTION funnel._exact_jsonb(value anyelement) RETURNS jsonb
LANGUAGE sql STABLE
SET extra_float_digits = 1
SET IntervalStyle = postgres
SET TimeZone = 'UTC'
AS $$ SELECT pg_catalog.to_jsonb(value) $$;
COMMENT ON FUNCTION funnel._exact_jsonb(anyelement) IS
  'funnel internal: to_jsonb with exact floats, postgres-style intervals and UTC times, so every node reads the same value back';

-- The pipeline catalog of this node as rows: one per pipeline (stage NULL,
-- created_at, owner) and one per stage label or attribute row (position NULL for
-- an attribute row without a label, attributes NULL for a label without one)
CREATE FUNCTION funnel._pipeline_catalog(pipeline text DEFAULT NULL)
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
           AND (_pipeline_catalog.pipeline IS NULL OR t.typname::text = _pipeline_catalog.pipeline)
    ), labels AS (
        SELECT ty.name, e.enumlabel::text AS stage,
               (row_number() OVER (PARTITION BY e.enumtypid ORDER BY e.enumsortorder))::integer AS pos
          FROM types ty JOIN pg_enum e ON e.enumtypid = ty.oid
    ), attrs AS (
        SELECT s.* FROM funnel.pipeline_stage s
         WHERE _pipeline_catalog.pipeline IS NULL OR s.pipeline = _pipeline_catalog.pipeline
    )
    SELECT coalesce(p.name, ty.name), NULL, NULL, NULL, NULL, NULL, NULL, p.created_at, p.owner
      FROM (SELECT * FROM funnel.pipeline
             WHERE _pipeline_catalog.pipeline IS NULL OR name = _pipeline_catalog.pipeline) p
      FULL JOIN types ty ON ty.name = p.name
    UNION ALL
    SELECT coalesce(l.name, a.pipeline), coalesce(l.stage, a.stage), l.pos,
           a.probability, a.kind, a.stale_after, a.retired, NULL, NULL
      FROM labels l
      FULL JOIN attrs a ON a.pipeline = l.name AND a.stage = l.stage
$$;
COMMENT ON FUNCTION funnel._pipeline_catalog(text) IS
  'funnel internal: this node''s pipeline catalog (enum labels in order and stage attributes) as rows, for comparing nodes';

-- One pipeline's catalog as jsonb (NULL when it does not exist), the same
-- text on every node whatever the session settings
CREATE FUNCTION funnel._pipeline_definition(pipeline text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1
SET IntervalStyle = postgres
SET TimeZone = 'UTC'
AS $$
    SELECT jsonb_agg(to_jsonb(c) ORDER BY c.stage COLLATE "C" NULLS FIRST, c.position)
      FROM funnel._pipeline_catalog(pipeline) c
$$;
COMMENT ON FUNCTION funnel._pipeline_definition(text) IS
  'funnel internal: a pipeline''s labels and attributes on this node as jsonb (NULL if absent), comparable across nodes';

CREATE FUNCTION funnel._pipeline_catalog_json() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1
SET IntervalStyle = postgres
SET TimeZone = 'UTC'
AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') FROM funnel._pipeline_catalog() c
$$;
COMMENT ON FUNCTION funnel._pipeline_catalog_json() IS
  'funnel internal: this node''s whole pipeline catalog as jsonb, read by funnel.check_pipeline_nodes() on every worker';

-- Text array from a jsonb array (NULL for JSON null)
CREATE FUNCTION funnel._jsonb_texts(a jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN jsonb_typeof(a) = 'array'
                THEN ARRAY(SELECT x FROM jsonb_array_elements_text(a) WITH ORDINALITY AS u(x, o) ORDER BY o)
           END
$$;
COMMENT ON FUNCTION funnel._jsonb_texts(jsonb) IS
  'funnel internal: the elements of a jsonb array as text[] (NULL for JSON null)';

-- The rows of a pipeline definition (see funnel._pipeline_definition)
CREATE FUNCTION funnel._definition_rows(definition jsonb)
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
COMMENT ON FUNCTION funnel._definition_rows(jsonb) IS
  'funnel internal: the rows of a pipeline definition made by funnel._pipeline_definition()';

-- Make this node's copy of a pipeline equal to a definition (a node that
-- joins gets each pipeline this way): create it if absent, else set its
-- attributes; refuse if its stages differ
CREATE FUNCTION funnel._define_pipeline(pipeline text, definition jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wanted text[];
    here text[];
BEGIN
    SELECT array_agg(d.stage ORDER BY d.position) INTO wanted
      FROM funnel._definition_rows(definition) d WHERE d.position IS NOT NULL;
    SELECT array_agg(c.stage ORDER BY c.position) INTO here
      FROM funnel._pipeline_catalog(pipeline) c WHERE c.position IS NOT NULL;
    IF here IS NULL THEN
        PERFORM funnel._create_pipeline(pipeline,
            ARRAY(SELECT d.stage FROM funnel._definition_rows(definition) d WHERE d.kind = 'open' ORDER BY d.position),
            ARRAY(SELECT d.probability FROM funnel._definition_rows(definition) d WHERE d.kind = 'open' ORDER BY d.position),
            ARRAY(SELECT d.stage FROM funnel._definition_rows(definition) d WHERE d.kind = 'won' ORDER BY d.position),
            ARRAY(SELECT d.stage FROM funnel._definition_rows(definition) d WHERE d.kind = 'lost' ORDER BY d.position));
    ELSIF here IS DISTINCT FROM wanted THEN
        RAISE EXCEPTION 'pipeline "%" on node % has other stages than on the coordinator',
                        pipeline, funnel._citus_node_name(funnel._citus_group())
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Here: %s. On the coordinator: %s.',
                                  array_to_string(here, ', '), array_to_string(wanted, ', ')),
                  HINT = 'Make the stages equal by hand on that node (or drop the pipeline there), then run funnel.sync_pipeline_nodes() on the coordinator.';
    ELSE
        INSERT INTO funnel.pipeline (name) VALUES (pipeline) ON CONFLICT DO NOTHING;
    END IF;
    -- the owner follows the coordinator's, by name
    UPDATE funnel.pipeline p SET owner = d.owner
      FROM funnel._definition_rows(definition) d
     WHERE p.name = pipeline AND d.stage IS NULL AND d.owner IS NOT NULL
       AND p.owner IS DISTINCT FROM d.owner;
    INSERT INTO funnel.pipeline_stage AS s (pipeline, stage, probability, kind, stale_after, retired)
    SELECT _define_pipeline.pipeline, d.stage, d.probability, d.kind, d.stale_after, d.retired
      FROM funnel._definition_rows(definition) d WHERE d.position IS NOT NULL AND d.kind IS NOT NULL
    ON CONFLICT ON CONSTRAINT pipeline_stage_pkey DO UPDATE
       SET probability = excluded.probability, kind = excluded.kind,
           stale_after = excluded.stale_after, retired = excluded.retired
     WHERE (s.probability, s.kind, s.stale_after, s.retired)
           IS DISTINCT FROM (excluded.probability, excluded.kind, excluded.stale_after, excluded.retired);
    DELETE FROM funnel.pipeline_stage s
     WHERE s.pipeline = _define_pipeline.pipeline
       AND NOT EXISTS (SELECT 1 FROM funnel._definition_rows(definition) d
                        WHERE d.stage = s.stage AND d.kind IS NOT NULL);
END
$$;
COMMENT ON FUNCTION funnel._define_pipeline(text, jsonb) IS
  'funnel internal: creates a pipeline from its definition on this node, or sets the attributes of an existing one with the same stages';

-- The allow-list and required fields of this node as rows: one per allowed
-- move (stage: from, to_stage: to) and one per stage with required fields
CREATE FUNCTION funnel._pipeline_rule_rows(pipeline text DEFAULT NULL)
RETURNS TABLE (pipeline text, stage text, to_stage text, fields text[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.pipeline, t.from_stage, t.to_stage, NULL::text[]
      FROM funnel.allowed_transition t
     WHERE _pipeline_rule_rows.pipeline IS NULL OR t.pipeline = _pipeline_rule_rows.pipeline
    UNION ALL
    SELECT r.pipeline, r.stage, NULL, r.fields::text[]
      FROM funnel.required_field r
     WHERE _pipeline_rule_rows.pipeline IS NULL OR r.pipeline = _pipeline_rule_rows.pipeline
$$;
COMMENT ON FUNCTION funnel._pipeline_rule_rows(text) IS
  'funnel internal: this node''s allowed moves and required fields as rows, for comparing nodes';

-- One pipeline's allow-list and required fields as jsonb ('[]': none), the
-- same text on every node
CREATE FUNCTION funnel._pipeline_rules(pipeline text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('stage', r.stage, 'to_stage', r.to_stage, 'fields', r.fields)
                              ORDER BY r.stage COLLATE "C", r.to_stage COLLATE "C" NULLS FIRST), '[]')
      FROM funnel._pipeline_rule_rows(pipeline) r
$$;
COMMENT ON FUNCTION funnel._pipeline_rules(text) IS
  'funnel internal: a pipeline''s allowed moves and required fields on this node as jsonb, comparable across nodes';

CREATE FUNCTION funnel._pipeline_rules_json() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM funnel._pipeline_rule_rows() r
$$;
COMMENT ON FUNCTION funnel._pipeline_rules_json() IS
  'funnel internal: this node''s allowed moves and required fields as jsonb, read by funnel.check_pipeline_nodes() on every worker';

-- Make this node's allow-list and required fields of a pipeline equal to
-- the coordinator's (see funnel._pipeline_rules)
CREATE FUNCTION funnel._define_rules(pipeline text, rules jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF funnel._pipeline_rules(pipeline) IS NOT DISTINCT FROM rules THEN
        RETURN;
    END IF;
    DELETE FROM funnel.allowed_transition t WHERE t.pipeline = _define_rules.pipeline;
    DELETE FROM funnel.required_field r WHERE r.pipeline = _define_rules.pipeline;
    INSERT INTO funnel.allowed_transition (pipeline, from_stage, to_stage)
    SELECT _define_rules.pipeline, d.stage, d.to_stage
      FROM jsonb_to_recordset(rules) AS d(stage text, to_stage text, fields text[])
     WHERE d.to_stage IS NOT NULL;
    INSERT INTO funnel.required_field (pipeline, stage, fields)
    SELECT _define_rules.pipeline, d.stage, d.fields::name[]
      FROM jsonb_to_recordset(rules) AS d(stage text, to_stage text, fields text[])
     WHERE d.to_stage IS NULL;
END
$$;
COMMENT ON FUNCTION funnel._define_rules(text, jsonb) IS
  'funnel internal: sets this node''s allowed moves and required fields of a pipeline to those of the coordinator';

-- Citus node group of this node (0: coordinator)
CREATE FUNCTION funnel._citus_group() RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grp integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'funnel._citus_group() needs the Citus extension'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('Extension citus is not installed in database %s.', current_database());
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO grp;
    RETURN grp;
END
$$;
COMMENT ON FUNCTION funnel._citus_group() IS
  'funnel internal: the Citus node group of this node (0 on the coordinator); an error (0A000) without Citus';

-- Schema funnel_citus as CREATE EXTENSION made it: found through its
-- membership in extension funnel (not by name alone) and owned by the
-- extension owner, who must also own the tables funnel keeps in it
CREATE FUNCTION funnel._citus_schema(OUT nsp oid, OUT owner oid)
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
COMMENT ON FUNCTION funnel._citus_schema() IS
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
CREATE FUNCTION funnel._citus_check_table(rel oid, what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET citus.override_table_visibility = off
AS $$
DECLARE
    sch record := funnel._citus_schema();
    c record;
    cols text;
    problem text;
    want_cols constant text := CASE what
        WHEN 'log' THEN 'id bigint, op text, pipeline text, args jsonb, result jsonb, logged_at timestamp with time zone, logged_by text, rules jsonb'
        WHEN 'applied' THEN 'applied bigint' END;
    apply_fn constant oid := 'funnel._pipeline_log_apply()'::regprocedure;
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
COMMENT ON FUNCTION funnel._citus_check_table(oid, text) IS
  'funnel internal: refuses (42501) a table of schema funnel_citus (the pipeline log or a shard of it, or pipeline_log_applied) that is not as funnel created it, before funnel writes or trusts it';

-- funnel_citus.<name> in the extension's schema (NULL if absent), checked
-- with funnel._citus_check_table() when present
CREATE FUNCTION funnel._citus_table(name text, what text) RETURNS regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET citus.override_table_visibility = off
AS $$
DECLARE
    rel oid;
BEGIN
    SELECT c.oid INTO rel FROM pg_class c
     WHERE c.relnamespace = (funnel._citus_schema()).nsp AND c.relname = _citus_table.name;
    IF rel IS NOT NULL THEN
        PERFORM funnel._citus_check_table(rel, what);
    END IF;
    RETURN rel::regclass;
END
$$;
COMMENT ON FUNCTION funnel._citus_table(text, text) IS
  'funnel internal: a table of schema funnel_citus found in the extension''s schema and checked by funnel._citus_check_table() (NULL when absent)';

-- Apply one row of the pipeline log on this worker, then check that the
-- pipeline, its allow-list and required fields equal the coordinator's
-- copies recorded in the row (rules NULL: not recorded, not checked)
CREATE FUNCTION funnel._pipeline_apply(op text, pipeline text, args jsonb, result jsonb, rules jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE op
    WHEN 'create_pipeline' THEN
        PERFORM funnel._create_pipeline(args->>0, funnel._jsonb_texts(args->1),
                                        funnel._jsonb_texts(args->2)::double precision[],
                                        funnel._jsonb_texts(args->3), funnel._jsonb_texts(args->4));
    WHEN 'add_stage' THEN
        PERFORM funnel._add_stage(args->>0, args->>1, (args->>2)::double precision,
                                  args->>3, args->>4, args->>5);
    WHEN 'rename_stage' THEN
        PERFORM funnel._rename_stage(args->>0, args->>1, args->>2);
    WHEN 'set_probability' THEN
        PERFORM funnel._set_probability(args->>0, args->>1, (args->>2)::double precision);
    WHEN 'set_stale_after' THEN
        PERFORM funnel._set_stale_after(args->>0, args->>1, (args->>2)::interval);
    WHEN 'retire_stage' THEN
        PERFORM funnel._retire_stage(args->>0, args->>1, (args->>2)::boolean);
    WHEN 'drop_pipeline' THEN
        PERFORM funnel._drop_pipeline(args->>0);
    WHEN 'alter_pipeline_owner' THEN
        PERFORM funnel._alter_pipeline_owner(args->>0, args->>1);
    WHEN 'allow_transition' THEN
        PERFORM funnel._allow_transition(args->>0, args->>1, args->>2);
    WHEN 'disallow_transition' THEN
        PERFORM funnel._disallow_transition(args->>0, args->>1, args->>2);
    WHEN 'require_fields' THEN
        PERFORM funnel._require_fields(args->>0, args->>1, funnel._jsonb_texts(args->2));
    WHEN 'define' THEN
        PERFORM funnel._define_pipeline(pipeline, result);
        IF rules IS NOT NULL THEN
            PERFORM funnel._define_rules(pipeline, rules);
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
      FROM funnel._definition_rows(result) d
     WHERE p.name = pipeline AND d.stage IS NULL
       AND (p.created_at, p.owner) IS DISTINCT FROM (d.created_at, coalesce(d.owner, p.owner));
    IF funnel._pipeline_definition(pipeline) IS DISTINCT FROM result THEN
        RAISE EXCEPTION 'pipeline "%" on node % differs from the coordinator after %()',
                        pipeline, funnel._citus_node_name(funnel._citus_group()), op
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The node''s stages or their attributes differed from the coordinator''s before this change (changed on that node by hand?).',
                  HINT = 'Run SELECT * FROM funnel.check_pipeline_nodes() on the coordinator to see the differences, and fix that node by hand.';
    END IF;
    IF rules IS NOT NULL AND funnel._pipeline_rules(pipeline) IS DISTINCT FROM rules THEN
        RAISE EXCEPTION 'allowed moves or required fields of pipeline "%" on node % differ from the coordinator after %()',
                        pipeline, funnel._citus_node_name(funnel._citus_group()), op
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The node''s funnel.allowed_transition or funnel.required_field rows differed from the coordinator''s before this change (changed on that node by hand?).',
                  HINT = 'Run SELECT * FROM funnel.check_pipeline_nodes() on the coordinator to see the differences, and fix that node by hand.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._pipeline_apply(text, text, jsonb, jsonb, jsonb) IS
  'funnel internal: applies one row of funnel_citus.pipeline_log on a worker and checks the result (pipeline, allowed moves, required fields) against the coordinator''s';

-- Statement trigger on every worker's copy of funnel_citus.pipeline_log:
-- apply, in order, the rows this node has not applied yet (normally the
-- row just inserted; all of them on a node that joined later)
CREATE FUNCTION funnel._pipeline_log_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done bigint;
    propagate text;
    r record;
BEGIN
    IF TG_TABLE_SCHEMA <> 'funnel_citus' OR TG_TABLE_NAME !~ '^pipeline_log(_[0-9]+)?$' THEN
        RAISE EXCEPTION 'funnel._pipeline_log_apply() fires only on funnel_citus.pipeline_log'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the rows it reads drive DDL as the extension owner: the table they
    -- come from must be the log in the extension's schema, as funnel made it
    PERFORM funnel._citus_check_table(TG_RELID, 'log');
    IF funnel._citus_group() = 0 THEN
        RETURN NULL;            -- the coordinator changed its own catalog
    END IF;
    propagate := current_setting('citus.enable_ddl_propagation');
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    IF funnel._citus_table('pipeline_log_applied', 'applied') IS NULL THEN
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
                PERFORM funnel._pipeline_apply('define', r.pipeline, NULL, r.result, r.rules);
            ELSIF funnel._pipeline_definition(r.pipeline) IS NOT NULL THEN
                PERFORM funnel._pipeline_apply('drop_pipeline', r.pipeline,
                                               jsonb_build_array(r.pipeline), NULL, r.rules);
            END IF;
        END LOOP;
        EXECUTE format('SELECT coalesce(max(id), 0) FROM %s', TG_RELID::regclass) INTO done;
    END IF;
    FOR r IN EXECUTE format('SELECT id, op, pipeline, args, result, rules FROM %s WHERE id > $1 ORDER BY id',
                            TG_RELID::regclass) USING done
    LOOP
        PERFORM funnel._pipeline_apply(r.op, r.pipeline, r.args, r.result, r.rules);
        done := r.id;
    END LOOP;
    UPDATE funnel_citus.pipeline_log_applied SET applied = done;
    PERFORM set_config('citus.enable_ddl_propagation', propagate, true);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION funnel._pipeline_log_apply() IS
  'funnel internal: trigger on each worker''s copy of funnel_citus.pipeline_log that applies the pipeline changes this node has not applied yet';

-- Append a row to the pipeline log (the caller holds the log lock), with
-- the pipeline's allowed moves and required fields as they are now
CREATE FUNCTION funnel._pipeline_log_append(op text, pipeline text, args jsonb, result jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    next_id bigint;
BEGIN
    IF funnel._citus_table('pipeline_log', 'log') IS NULL THEN
        RAISE EXCEPTION 'funnel_citus.pipeline_log does not exist'
            USING ERRCODE = 'undefined_table';
    END IF;
    SELECT coalesce(max(l.id), 0) + 1 INTO next_id FROM funnel_citus.pipeline_log l;
    INSERT INTO funnel_citus.pipeline_log (id, op, pipeline, args, result, logged_at, logged_by, rules)
    VALUES (next_id, op, pipeline, args, result, pg_catalog.now(), session_user,
            CASE WHEN pipeline IS NOT NULL THEN funnel._pipeline_rules(pipeline) END);
END
$$;
COMMENT ON FUNCTION funnel._pipeline_log_append(text, text, jsonb, jsonb) IS
  'funnel internal: appends a row to funnel_citus.pipeline_log (Citus writes it on every node)';

-- Create the pipeline log on a Citus coordinator, with one row per existing
-- pipeline, unless it exists
CREATE FUNCTION funnel._pipeline_log_ensure() RETURNS void
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
    IF funnel._citus_table('pipeline_log', 'log') IS NOT NULL THEN
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
        FOR EACH STATEMENT EXECUTE FUNCTION funnel._pipeline_log_apply();
    PERFORM set_config('citus.enable_unsafe_triggers', unsafe, true);
    -- the pipelines that exist now: a node applies them first
    FOR p IN SELECT t.typname::text FROM pg_type t
              WHERE t.typnamespace = 'funnel_pipeline'::regnamespace AND t.typtype = 'e'
              ORDER BY t.oid
    LOOP
        PERFORM funnel._pipeline_log_append('define', p, NULL, funnel._pipeline_definition(p));
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel._pipeline_log_ensure() IS
  'funnel internal: creates the reference table funnel_citus.pipeline_log and its trigger on a Citus coordinator, starting with the existing pipelines';

-- Refuse, naming them, when some worker cannot take part in a change
CREATE FUNCTION funnel._pipeline_nodes_ready(fn text) RETURNS void
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
COMMENT ON FUNCTION funnel._pipeline_nodes_ready(text) IS
  'funnel internal: refuses a pipeline change, naming the Citus nodes, while a worker is inactive or has no copy of the pipeline log';

-- First step of every pipeline function: NULL without Citus; on a worker an
-- error; on a coordinator: lock, log ready and nodes ready (when it has
-- workers), Citus's DDL propagation off, so the enum types never become
-- Citus-distributed objects that Citus would copy on its own (returns the
-- setting's value, for _pipeline_change_end)
CREATE FUNCTION funnel._pipeline_change_begin(fn text) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role text := funnel._citus_role();
    propagate text;
BEGIN
    IF role = 'none' THEN
        RETURN NULL;
    ELSIF role = 'worker' THEN
        RAISE EXCEPTION 'funnel.%() cannot run on a Citus worker', fn
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('This node (%s) is a worker; pipelines must be the same on every node, so the coordinator changes them on all nodes in one transaction.',
                                  funnel._citus_node_name(funnel._citus_group())),
                  HINT = format('Connect to the coordinator (%s) and run it there.', funnel._citus_node_name(0));
    END IF;
    -- one pipeline change at a time, so every node applies them in log order
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('funnel'), pg_catalog.hashtext('pipeline_log'));
    IF role = 'coordinator' THEN
        PERFORM funnel._pipeline_log_ensure();
        PERFORM funnel._pipeline_nodes_ready(fn);
    END IF;
    propagate := current_setting('citus.enable_ddl_propagation');
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    RETURN propagate;
END
$$;
COMMENT ON FUNCTION funnel._pipeline_change_begin(text) IS
  'funnel internal: Citus preamble of the pipeline functions (refuses on a worker; on the coordinator locks, creates the pipeline log, checks the nodes and turns off Citus''s DDL propagation)';

-- Last step on a Citus coordinator: restore DDL propagation and log the call
-- with the pipeline as it is now (no log: no worker yet)
CREATE FUNCTION funnel._pipeline_change_end(propagate text, op text, pipeline text, args jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('citus.enable_ddl_propagation', propagate, true);
    IF funnel._citus_table('pipeline_log', 'log') IS NOT NULL THEN
        PERFORM funnel._pipeline_log_append(op, pipeline, args, funnel._pipeline_definition(pipeline));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._pipeline_change_end(text, text, text, jsonb) IS
  'funnel internal: Citus epilogue of the pipeline functions (restores DDL propagation, appends the change to the pipeline log)';

CREATE FUNCTION funnel._create_pipeline_as(
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
    citus text := funnel._pipeline_change_begin('create_pipeline');
BEGIN
    PERFORM funnel._create_pipeline(name, stages, probabilities, won, lost);
    UPDATE funnel.pipeline p SET owner = r.rolname
      FROM pg_roles r WHERE r.oid = caller AND p.name = _create_pipeline_as.name;
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'create_pipeline', name,
            jsonb_build_array(name, stages, funnel._exact_jsonb(probabilities), won, lost));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._create_pipeline_as(oid, text, text[], double precision[], text[], text[]) IS
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

CREATE FUNCTION funnel._add_stage_as(
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
    citus text := funnel._pipeline_change_begin('add_stage');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'add_stage');
    PERFORM funnel._add_stage(pipeline, stage, probability, after, before, kind);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'add_stage', pipeline,
            jsonb_build_array(pipeline, stage, funnel._exact_jsonb(probability), after, before, kind));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._add_stage_as(oid, text, text, double precision, text, text, text) IS
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

CREATE FUNCTION funnel._rename_stage_as(caller oid, pipeline text, stage text, new_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('rename_stage');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'rename_stage');
    PERFORM funnel._rename_stage(pipeline, stage, new_name);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'rename_stage', pipeline,
            jsonb_build_array(pipeline, stage, new_name));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._rename_stage_as(oid, text, text, text) IS
  'funnel internal: funnel.rename_stage() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.rename_stage(pipeline text, stage text, new_name text)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.rename_stage(text, text, text) IS
  'renames a stage; stored values keep their identity, so no table is rewritten and existing rows show the new name';

CREATE FUNCTION funnel._set_probability_as(caller oid, pipeline text, stage text, probability double precision)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('set_probability');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'set_probability');
    PERFORM funnel._set_probability(pipeline, stage, probability);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'set_probability', pipeline,
            jsonb_build_array(pipeline, stage, funnel._exact_jsonb(probability)));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._set_probability_as(oid, text, text, double precision) IS
  'funnel internal: funnel.set_probability() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.set_probability(pipeline text, stage text, probability double precision)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.set_probability(text, text, double precision) IS
  'sets the win probability (in [0,1]) of an open stage';

CREATE FUNCTION funnel._set_stale_after_as(caller oid, pipeline text, stage text, stale_after interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('set_stale_after');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'set_stale_after');
    PERFORM funnel._set_stale_after(pipeline, stage, stale_after);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'set_stale_after', pipeline,
            jsonb_build_array(pipeline, stage, funnel._exact_jsonb(stale_after)));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._set_stale_after_as(oid, text, text, interval) IS
  'funnel internal: funnel.set_stale_after() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.set_stale_after(pipeline text, stage text, stale_after interval)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.set_stale_after(text, text, interval) IS
  'sets after how long a deal in a stage counts as stale (NULL: never)';

CREATE FUNCTION funnel._retire_stage_as(caller oid, pipeline text, stage text, retired boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('retire_stage');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'retire_stage');
    PERFORM funnel._retire_stage(pipeline, stage, retired);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'retire_stage', pipeline,
            jsonb_build_array(pipeline, stage, retired));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._retire_stage_as(oid, text, text, boolean) IS
  'funnel internal: funnel.retire_stage() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.retire_stage(pipeline text, stage text, retired boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.retire_stage(text, text, boolean) IS
  'retires a stage (no new entries; stored values and history stay), or brings it back with retired => false';

CREATE FUNCTION funnel._drop_pipeline_as(caller oid, pipeline text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('drop_pipeline');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'drop_pipeline');
    PERFORM funnel._drop_pipeline(pipeline);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'drop_pipeline', pipeline,
            jsonb_build_array(pipeline));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._drop_pipeline_as(oid, text) IS
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
CREATE FUNCTION funnel._alter_pipeline_owner(pipeline text, new_owner name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel._pipeline_type(pipeline);
    IF new_owner IS NULL THEN
        RAISE EXCEPTION 'the new owner of pipeline "%" must not be null', pipeline
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO funnel.pipeline AS p (name, owner) VALUES (pipeline, new_owner)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner
     WHERE p.owner IS DISTINCT FROM excluded.owner;
END
$$;
COMMENT ON FUNCTION funnel._alter_pipeline_owner(text, name) IS
  'funnel internal: the body of funnel.alter_pipeline_owner() on one node (the wrapper checks the caller and adds the Citus coordination)';

CREATE FUNCTION funnel._alter_pipeline_owner_as(caller oid, pipeline text, new_owner regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('alter_pipeline_owner');
    new_name name := (SELECT r.rolname FROM pg_roles r WHERE r.oid = new_owner);
    may_set boolean;
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'alter_pipeline_owner');
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
    PERFORM funnel._alter_pipeline_owner(pipeline, new_name);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'alter_pipeline_owner', pipeline,
            jsonb_build_array(pipeline, new_name));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._alter_pipeline_owner_as(oid, text, regrole) IS
  'funnel internal: funnel.alter_pipeline_owner() for the calling role given by the entry point (owner checks, body, Citus coordination)';

CREATE FUNCTION funnel.alter_pipeline_owner(pipeline text, new_owner regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.alter_pipeline_owner(text, regrole) IS
  'gives a pipeline to another role, like ALTER ... OWNER TO: the caller must have the privileges of the current owner and be a member of the new owner, or be a superuser';

-- A node added later, or one that was inactive, catches up
CREATE FUNCTION funnel.sync_pipeline_nodes() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role text := funnel._citus_role();
    missing boolean;
    workers integer;
BEGIN
    IF role IN ('none', 'single') THEN
        RETURN 0;
    ELSIF role = 'worker' THEN
        PERFORM funnel._pipeline_change_begin('sync_pipeline_nodes');   -- raises
    END IF;
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('funnel'), pg_catalog.hashtext('pipeline_log'));
    PERFORM funnel._pipeline_log_ensure();
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
    PERFORM funnel._pipeline_nodes_ready('sync_pipeline_nodes');
    PERFORM funnel._pipeline_log_append('sync', NULL, NULL, NULL);
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
    role text := funnel._citus_role();
BEGIN
    IF role IN ('none', 'single') THEN
        RETURN;
    ELSIF role = 'worker' THEN
        RAISE EXCEPTION 'funnel.check_pipeline_nodes() cannot run on a Citus worker'
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Connect to the coordinator (%s) and run it there.', funnel._citus_node_name(0));
    END IF;
    RETURN QUERY EXECUTE $q$
    WITH here AS (
        SELECT * FROM funnel._pipeline_catalog()
    ), remote AS (
        SELECT r.nodename || ':' || r.nodeport AS node, r.success, r.result
          FROM pg_catalog.run_command_on_workers('SELECT funnel._pipeline_catalog_json()') r
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
          FROM pg_catalog.run_command_on_workers('SELECT funnel._pipeline_rules_json()') r
    ), rule_there AS (
        SELECT r.node, c.*
          FROM rule_remote r,
               jsonb_to_recordset(r.result::jsonb) AS c(pipeline text, stage text, to_stage text, fields text[])
         WHERE r.success
    ), rule_expected AS (
        SELECT n.node, h.*
          FROM (SELECT r.node FROM rule_remote r WHERE r.success) n
         CROSS JOIN funnel._pipeline_rule_rows() h
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

REVOKE ALL ON FUNCTION funnel._create_pipeline(text, text[], double precision[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._add_stage(text, text, double precision, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._rename_stage(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._set_probability(text, text, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._set_stale_after(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._retire_stage(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._drop_pipeline(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._drop_pipeline_lock(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._drop_check_bound(text, regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._drop_check_rows(text, regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._drop_check_expressions(text, regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._drop_statistics(regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._define_pipeline(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._pipeline_apply(text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._define_rules(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._pipeline_log_apply() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._pipeline_log_append(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._pipeline_log_ensure() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._citus_group() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._citus_schema() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._citus_check_table(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._citus_table(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._pipeline_change_begin(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._pipeline_change_end(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.sync_pipeline_nodes() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.create_pipeline(text, text[], double precision[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._create_pipeline_as(oid, text, text[], double precision[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.add_stage(text, text, double precision, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._add_stage_as(oid, text, text, double precision, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.rename_stage(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._rename_stage_as(oid, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.set_probability(text, text, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._set_probability_as(oid, text, text, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.set_stale_after(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._set_stale_after_as(oid, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.retire_stage(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._retire_stage_as(oid, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.drop_pipeline(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.alter_pipeline_owner(text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._alter_pipeline_owner_as(oid, text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._alter_pipeline_owner(text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._check_pipeline_owner(text, oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._drop_pipeline_as(oid, text) FROM PUBLIC;

CREATE VIEW funnel.stages AS
SELECT t.typname::text AS pipeline,
       e.enumlabel::text AS stage,
       (row_number() OVER (PARTITION BY e.enumtypid ORDER BY e.enumsortorder))::integer AS position,
       s.probability,
       s.kind,
       s.stale_after,
       coalesce(s.retired, false) AS retired,
       p.owner
  FROM pg_catalog.pg_enum e
  JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'funnel_pipeline'
  LEFT JOIN funnel.pipeline_stage s ON s.pipeline = t.typname::text AND s.stage = e.enumlabel::text
  LEFT JOIN funnel.pipeline p ON p.name = t.typname::text
 ORDER BY t.oid, e.enumsortorder;
COMMENT ON VIEW funnel.stages IS
  'every stage of every pipeline in funnel order: pipeline, stage, position, probability, kind, stale_after, retired, owner (the role that may change the pipeline)';
GRANT SELECT ON funnel.stages TO PUBLIC;
GRANT SELECT ON funnel.pipeline, funnel.pipeline_stage TO PUBLIC;
GRANT USAGE ON SCHEMA funnel TO PUBLIC;
GRANT USAGE ON SCHEMA funnel_pipeline TO PUBLIC;

--------------------------------------------------------------------------
-- Tracking a deals table (issue 3): configuration, API, trigger functions
--
-- funnel.track() installs C triggers on a deals table and creates its
-- history table <table>_stage_history; the triggers validate every stage
-- change against the table's rule, the pipeline's allow-list, retired stages
-- and required fields, and write one history row per visit in the same
-- transaction.  See doc/tracking.md.
--------------------------------------------------------------------------

-- Like the pipeline tables, these have no foreign keys (pg_restore -j loads
-- config tables in no order); the API functions validate what they write and
-- the trigger below follows stage renames and dropped pipelines.
CREATE FUNCTION funnel._check_rule(rule text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'funnel_check_rule'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel._check_rule(text) IS
  'funnel internal: true for a transition rule name (forward, sequential, any), else the 22023 error naming it; the one list of rule names (src/track_trigger.c)';

CREATE TABLE funnel.tracked_table (
    deals             regclass PRIMARY KEY,
    pipeline          text NOT NULL,
    stage_column      name NOT NULL,
    changed_at_column name,
    rule              text NOT NULL CHECK (funnel._check_rule(rule)),
    history           regclass NOT NULL,
    tracked_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    key_column        name NOT NULL
);
COMMENT ON TABLE funnel.tracked_table IS
  'funnel: one row per deals table tracked by funnel.track(): its pipeline, stage column, optional effective-time column, transition rule, history table and key column (the primary key when tracked)';

CREATE TABLE funnel.allowed_transition (
    pipeline    text NOT NULL,
    from_stage  text NOT NULL,
    to_stage    text NOT NULL,
    PRIMARY KEY (pipeline, from_stage, to_stage)
);
COMMENT ON TABLE funnel.allowed_transition IS
  'funnel: extra stage moves allowed in a pipeline on top of the rule of each tracked table (see funnel.allow_transition)';

CREATE TABLE funnel.required_field (
    pipeline    text NOT NULL,
    stage       text NOT NULL,
    fields      name[] NOT NULL,
    PRIMARY KEY (pipeline, stage)
);
COMMENT ON TABLE funnel.required_field IS
  'funnel: columns that must be non-null when a deal enters a stage or skips past it (see funnel.require_fields)';

SELECT pg_catalog.pg_extension_config_dump('funnel.tracked_table', '');
SELECT pg_catalog.pg_extension_config_dump('funnel.allowed_transition', '');
SELECT pg_catalog.pg_extension_config_dump('funnel.required_field', '');

CREATE TRIGGER tracked_table_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.tracked_table
    FOR EACH STATEMENT EXECUTE FUNCTION funnel.catalog_changed();
CREATE TRIGGER allowed_transition_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.allowed_transition
    FOR EACH STATEMENT EXECUTE FUNCTION funnel.catalog_changed();
CREATE TRIGGER required_field_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.required_field
    FOR EACH STATEMENT EXECUTE FUNCTION funnel.catalog_changed();
COMMENT ON TRIGGER tracked_table_changed ON funnel.tracked_table IS
  'tells every backend''s tracking cache that a tracked table was added or removed';
COMMENT ON TRIGGER allowed_transition_changed ON funnel.allowed_transition IS
  'tells every backend''s tracking cache that an allow-list changed';
COMMENT ON TRIGGER required_field_changed ON funnel.required_field IS
  'tells every backend''s tracking cache that required fields changed';

CREATE FUNCTION funnel._track_stage_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.stage <> NEW.stage OR OLD.pipeline <> NEW.pipeline THEN
            UPDATE funnel.allowed_transition t SET pipeline = NEW.pipeline, from_stage = NEW.stage
             WHERE t.pipeline = OLD.pipeline AND t.from_stage = OLD.stage;
            UPDATE funnel.allowed_transition t SET pipeline = NEW.pipeline, to_stage = NEW.stage
             WHERE t.pipeline = OLD.pipeline AND t.to_stage = OLD.stage;
            UPDATE funnel.required_field r SET pipeline = NEW.pipeline, stage = NEW.stage
             WHERE r.pipeline = OLD.pipeline AND r.stage = OLD.stage;
        END IF;
    ELSE
        DELETE FROM funnel.allowed_transition t
         WHERE t.pipeline = OLD.pipeline AND OLD.stage IN (t.from_stage, t.to_stage);
        DELETE FROM funnel.required_field r
         WHERE r.pipeline = OLD.pipeline AND r.stage = OLD.stage;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION funnel._track_stage_changed() IS
  'funnel internal: keeps allow-lists and required fields in step with renamed stages and dropped pipelines';
CREATE TRIGGER track_stage_changed
    AFTER UPDATE OR DELETE ON funnel.pipeline_stage
    FOR EACH ROW EXECUTE FUNCTION funnel._track_stage_changed();
COMMENT ON TRIGGER track_stage_changed ON funnel.pipeline_stage IS
  'renames or removes the stage in funnel.allowed_transition and funnel.required_field';

GRANT SELECT ON funnel.tracked_table, funnel.allowed_transition, funnel.required_field TO PUBLIC;

-- trigger functions (C, src/track_trigger.c)

CREATE FUNCTION funnel.track_resolve() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_resolve'
    LANGUAGE C;
COMMENT ON FUNCTION funnel.track_resolve() IS
  'funnel internal: BEFORE INSERT OR UPDATE row trigger of a tracked table whose stage column is not bound to a pipeline; resolves bare stage names in the tracked pipeline';

CREATE FUNCTION funnel.track_insert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_insert'
    LANGUAGE C;
COMMENT ON FUNCTION funnel.track_insert() IS
  'funnel internal: AFTER INSERT statement trigger (transition table) of a tracked table; checks the initial stages and opens the first visit of every new deal in one batch';

CREATE FUNCTION funnel.track_update() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_update'
    LANGUAGE C;
COMMENT ON FUNCTION funnel.track_update() IS
  'funnel internal: AFTER UPDATE row trigger of a tracked table; validates a stage change, closes the open visit and opens the next';

CREATE FUNCTION funnel.track_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_delete'
    LANGUAGE C;
COMMENT ON FUNCTION funnel.track_delete() IS
  'funnel internal: AFTER DELETE row trigger of a tracked table; closes the open visit of the deleted deal (history is kept)';

CREATE FUNCTION funnel.track_truncate() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_truncate'
    LANGUAGE C;
COMMENT ON FUNCTION funnel.track_truncate() IS
  'funnel internal: AFTER TRUNCATE statement trigger of a tracked table; closes every open visit (history is kept)';

-- API
--
-- funnel.track() and funnel.untrack() are C functions running as the caller
-- (src/track_api.c): they require ownership of the deals table, as CREATE
-- TRIGGER does, then call the bodies funnel._track() / funnel._untrack(),
-- which run as the extension owner to write the configuration tables and
-- create the history table owned by the deals table's owner.  EXECUTE on
-- the bodies is revoked from PUBLIC: only the entry points reach them.

CREATE FUNCTION funnel._track(
    deals regclass,
    pipeline text,
    stage_column name,
    changed_at_column name,
    rule text)
RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ptype regtype := funnel._pipeline_type(pipeline);
    typmod integer := funnel._pipeline_typmod(ptype);
    rel record;
    stage_att record;
    pk record;
    at_att record;
    hist_name text;
    hist regclass;
    missing record;
    dist_method text;
    dist_repmodel text;
    dist_column text;
    trigger_args text := '';
    saved_triggers text;
BEGIN
    SELECT c.oid, c.relname, c.relkind, c.relispartition, n.nspname, c.relowner::regrole AS owner
      INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = deals;
    IF rel.relkind <> 'r' THEN
        RAISE EXCEPTION '"%" is not a table', deals
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = CASE rel.relkind WHEN 'p' THEN 'Partitioned tables cannot be tracked: a statement trigger of a partition does not fire for rows inserted through its parent.'
                                            ELSE 'Only ordinary tables can be tracked.' END;
    END IF;
    IF rel.relispartition THEN
        RAISE EXCEPTION 'table % is a partition', deals
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Rows inserted through the partitioned table would not fire the partition''s statement triggers, so their history would be lost.',
                  HINT = 'Detach the partition first, or keep the deals in an ordinary table.';
    END IF;
    IF EXISTS (SELECT 1 FROM funnel.tracked_table t WHERE t.deals = _track.deals) THEN
        RAISE EXCEPTION 'table % is already tracked', deals
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Call funnel.untrack() first to change how it is tracked.';
    END IF;
    PERFORM funnel._check_rule(rule);

    -- the stage column: a deal_stage of this pipeline, NOT NULL
    SELECT a.attnum, a.atttypid, a.atttypmod, a.attnotnull INTO stage_att
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = stage_column
       AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', stage_column, deals
            USING ERRCODE = 'undefined_column',
                  HINT = 'Name the stage column with stage_column => ''...''.';
    END IF;
    IF stage_att.atttypid <> 'funnel.deal_stage'::regtype THEN
        RAISE EXCEPTION 'column "%" of table % is of type %, not funnel.deal_stage',
                        stage_column, deals, format_type(stage_att.atttypid, stage_att.atttypmod)
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF stage_att.atttypmod >= 0 AND stage_att.atttypmod <> typmod THEN
        RAISE EXCEPTION 'column "%" of table % is bound to another pipeline', stage_column, deals
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = format('Its type is %s.', format_type(stage_att.atttypid, stage_att.atttypmod));
    END IF;
    IF NOT stage_att.attnotnull THEN
        RAISE EXCEPTION 'column "%" of table % must be NOT NULL', stage_column, deals
            USING ERRCODE = 'invalid_table_definition',
                  HINT = format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', deals, stage_column);
    END IF;

    -- the effective-time column
    IF changed_at_column IS NOT NULL THEN
        SELECT a.attnum, a.atttypid INTO at_att
          FROM pg_attribute a
         WHERE a.attrelid = deals AND a.attname = changed_at_column
           AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', changed_at_column, deals
                USING ERRCODE = 'undefined_column';
        END IF;
        IF at_att.atttypid <> 'timestamptz'::regtype THEN
            RAISE EXCEPTION 'column "%" of table % is of type %, not timestamp with time zone',
                            changed_at_column, deals, format_type(at_att.atttypid, NULL)
                USING ERRCODE = 'datatype_mismatch';
        END IF;
    END IF;

    -- on Citus: hash-distributed by the deal key, or a plain local table
    -- (src/track_citus.c maps each shard to its co-located history shard)
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT p.partmethod::text, p.repmodel::text,
                          pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
                     FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1$q$
           INTO dist_method, dist_repmodel, dist_column USING deals;
        IF dist_method = 'n' AND dist_repmodel = 't' THEN
            RAISE EXCEPTION 'table % is a Citus reference table', deals
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'funnel tracks local tables and tables hash-distributed by their primary key; the triggers of a reference table would write a history on every node.',
                      HINT = format('Distribute it by its primary key with create_distributed_table(%L, ''<key column>''), or make it local again with undistribute_table(%L).', deals, deals);
        ELSIF dist_method = 'n' THEN
            RAISE EXCEPTION 'table % is a Citus local or single-shard table', deals
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'funnel tracks local tables and tables hash-distributed by their primary key.',
                      HINT = format('Distribute it by its primary key with create_distributed_table(%L, ''<key column>''), or make it local again with undistribute_table(%L).', deals, deals);
        ELSIF dist_method IS NOT NULL AND dist_method <> 'h' THEN
            RAISE EXCEPTION 'table % is not hash-distributed', deals
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'funnel tracks local tables and tables hash-distributed by their primary key.';
        ELSIF dist_method = 'h' AND NOT EXISTS (
                SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = deals AND i.indisprimary AND i.indnkeyatts = 1
                   AND a.attname = dist_column) THEN
            RAISE EXCEPTION 'table % is distributed by column "%", not by its primary key', deals, dist_column
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'The history of a deal is written on the node of the deal: the table must be distributed by its one-column primary key, the key of the history.',
                      HINT = format('Give the table a primary key on "%s" alone, or redistribute it with alter_distributed_table(%L, distribution_column := ''<primary key column>'').',
                                    dist_column, deals);
        END IF;
    END IF;

    -- a primary key of one column
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS typ,
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> 'pg_catalog.default'::regcollation
                THEN format(' COLLATE %s', a.attcollation::regcollation) ELSE '' END AS coll,
           i.indnkeyatts
      INTO pk
      FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indrelid = deals AND i.indisprimary;
    IF NOT FOUND OR pk.indnkeyatts <> 1 THEN
        RAISE EXCEPTION 'table % needs a primary key of one column', deals
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = CASE WHEN FOUND THEN format('Its primary key has %s columns.', pk.indnkeyatts)
                                ELSE 'It has no primary key.' END,
                  HINT = 'The history table refers to a deal by that key.';
    END IF;
    IF pk.attname = stage_column THEN
        RAISE EXCEPTION 'the stage column cannot be the primary key'
            USING ERRCODE = 'invalid_table_definition';
    END IF;
    -- required fields of the pipeline must be columns of the table
    SELECT r.stage, f.field INTO missing
      FROM funnel.required_field r, unnest(r.fields) AS f(field)
     WHERE r.pipeline = _track.pipeline
       AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = deals AND a.attname = f.field
                          AND a.attnum > 0 AND NOT a.attisdropped)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % has no column "%"', deals, missing.field
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('Stage "%s" of pipeline "%s" requires it.', missing.stage, pipeline);
    END IF;

    -- the history table
    hist_name := rel.relname || '_stage_history';
    IF octet_length(hist_name) > 63 THEN
        RAISE EXCEPTION 'history table name "%" is too long', hist_name
            USING ERRCODE = 'name_too_long',
                  HINT = 'Rename the table to at most 49 bytes.';
    END IF;
    IF to_regclass(format('%I.%I', rel.nspname, hist_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%.%" already exists', rel.nspname, hist_name
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Drop or rename it (a history table is kept by funnel.untrack()).';
    END IF;

    IF dist_method = 'h' THEN
        -- Citus: the triggers on the shards do what track() does on a
        -- local table (citus.enable_unsafe_triggers: they write only the
        -- co-located history shard, on the same node, in the same
        -- transaction)
        saved_triggers := pg_catalog.current_setting('citus.enable_unsafe_triggers');
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;

    EXECUTE format($f$
        CREATE TABLE %I.%I (
            deal_id    %s%s NOT NULL,
            stage      funnel.deal_stage(%I) NOT NULL,
            entered_at timestamptz NOT NULL,
            left_at    timestamptz,
            entered_by name NOT NULL DEFAULT CURRENT_USER
        ) WITH (fillfactor = 80)$f$,
        rel.nspname, hist_name, pk.typ, pk.coll, pipeline);
    hist := format('%I.%I', rel.nspname, hist_name)::regclass;
    EXECUTE format('CREATE INDEX ON %s (deal_id, entered_at)', hist);
    EXECUTE format('CREATE INDEX ON %s (stage, entered_at)', hist);
    EXECUTE format('COMMENT ON TABLE %s IS %L', hist,
                   format('funnel: stage history of %s (one row per visit; left_at NULL while the deal is there); written by funnel''s triggers', deals));
    IF dist_method = 'h' THEN
        -- co-located with the deals: a deal's visits live on its node
        EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''deal_id'', colocate_with => $2)'
            USING hist, deals::text;
        -- what a shard's triggers know of their tracking (src/track_citus.c),
        -- as name=value pairs named like the columns of funnel.tracked_table
        trigger_args := format('%L, %L, %L, %L, %L, %L, %L', 'citus',
                               'deals=' || deals::text, 'history=' || hist::text,
                               'pipeline=' || pipeline, 'stage_column=' || stage_column,
                               'rule=' || rule, 'key_column=' || pk.attname)
                        || CASE WHEN changed_at_column IS NULL THEN ''
                                ELSE format(', %L', 'changed_at_column=' || changed_at_column) END;
    END IF;

    -- one open visit for every existing deal: of the table itself (ONLY),
    -- whose triggers track it, never of its inheritance children, whose
    -- rows are not tracked and which may be foreign tables this query, run
    -- as the extension owner, must not read (Citus: no children, and its
    -- planner is given the table's plain name)
    EXECUTE format('INSERT INTO %s (deal_id, stage, entered_at) SELECT %I, %I::funnel.deal_stage(%I), %s FROM %s%s',
                   hist, pk.attname, stage_column, pipeline,
                   CASE WHEN changed_at_column IS NULL THEN 'pg_catalog.now()'
                        ELSE format('coalesce(%I, pg_catalog.now())', changed_at_column) END,
                   CASE WHEN dist_method IS NULL THEN 'ONLY ' ELSE '' END, deals);
    EXECUTE format('ALTER TABLE %s OWNER TO %I', hist, rel.owner);

    INSERT INTO funnel.tracked_table (deals, pipeline, stage_column, changed_at_column, rule, history, key_column)
    VALUES (deals, pipeline, stage_column, changed_at_column, rule, hist, pk.attname);

    -- the triggers; the BEFORE one only for a column not bound to the pipeline
    IF stage_att.atttypmod < 0 THEN
        EXECUTE format('CREATE TRIGGER funnel_track_resolve BEFORE INSERT OR UPDATE OF %I ON %s FOR EACH ROW EXECUTE FUNCTION funnel.track_resolve(%s)',
                       stage_column, deals, trigger_args);
    END IF;
    EXECUTE format('CREATE TRIGGER funnel_track_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS funnel_new_deals FOR EACH STATEMENT EXECUTE FUNCTION funnel.track_insert(%s)',
                   deals, trigger_args);
    -- the WHEN clause is compiled for every statement: keep it to one test;
    -- a change of the key is caught by the column trigger funnel_track_key
    EXECUTE format('CREATE TRIGGER funnel_track_update AFTER UPDATE ON %s FOR EACH ROW WHEN (NOT (OLD.%I OPERATOR(pg_catalog.=) NEW.%I)) EXECUTE FUNCTION funnel.track_update(%s)',
                   deals, stage_column, stage_column, trigger_args);
    EXECUTE format('CREATE TRIGGER funnel_track_key AFTER UPDATE OF %I ON %s FOR EACH ROW EXECUTE FUNCTION funnel.track_update(%s)',
                   pk.attname, deals, trigger_args);
    EXECUTE format('CREATE TRIGGER funnel_track_delete AFTER DELETE ON %s FOR EACH ROW EXECUTE FUNCTION funnel.track_delete(%s)',
                   deals, trigger_args);
    EXECUTE format('CREATE TRIGGER funnel_track_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION funnel.track_truncate(%s)',
                   deals, trigger_args);
    IF dist_method = 'h' THEN
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', saved_triggers, true);
    END IF;
    RETURN hist;
END
$$;
COMMENT ON FUNCTION funnel._track(regclass, text, name, name, text) IS
  'funnel internal: body of funnel.track(), run as the extension owner after funnel.track() checked that the caller owns the table';

CREATE FUNCTION funnel.track(
    deals regclass,
    pipeline text,
    stage_column name DEFAULT 'stage',
    changed_at_column name DEFAULT NULL,
    rule text DEFAULT 'forward')
RETURNS regclass
    AS 'MODULE_PATHNAME', 'funnel_track'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.track(regclass, text, name, name, text) IS
  'tracks a deals table the caller owns: validates every stage change (rule forward, sequential or any, allow-list, retired stages, required fields) and records each visit in <table>_stage_history, which it creates and backfills; returns the history table';

CREATE FUNCTION funnel._untrack(deals regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM funnel.tracked_table tt WHERE tt.deals = _untrack.deals) THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'undefined_object';
    END IF;
    FOR t IN SELECT tg.tgname FROM pg_trigger tg
              WHERE tg.tgrelid = deals AND NOT tg.tgisinternal
                AND tg.tgname IN ('funnel_track_resolve', 'funnel_track_insert', 'funnel_track_update',
                                  'funnel_track_key', 'funnel_track_delete', 'funnel_track_truncate') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, deals);
    END LOOP;
    DELETE FROM funnel.tracked_table tt WHERE tt.deals = _untrack.deals;
END
$$;
COMMENT ON FUNCTION funnel._untrack(regclass) IS
  'funnel internal: body of funnel.untrack(), run as the extension owner after funnel.untrack() checked that the caller owns the table';

CREATE FUNCTION funnel.untrack(deals regclass)
RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_untrack'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION funnel.untrack(regclass) IS
  'stops tracking a deals table the caller owns: drops funnel''s triggers; the history table is kept';

-- The allow-list and the required fields live in tables of each node, and
-- the triggers on the shards of a distributed table read those of their
-- worker.  As for the pipeline functions, each function below is a body
-- (funnel._allow_transition ...) run on this node and, on a Citus
-- coordinator, a wrapper that also logs the call in funnel_citus.pipeline_log
-- so that every node applies it in the same transaction (doc/design.md §11).
CREATE FUNCTION funnel._allow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel._stage_row(pipeline, from_stage);
    PERFORM funnel._stage_row(pipeline, to_stage);
    IF from_stage = to_stage THEN
        RAISE EXCEPTION 'a transition needs two different stages'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO funnel.allowed_transition (pipeline, from_stage, to_stage)
    VALUES (pipeline, from_stage, to_stage)
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION funnel._allow_transition(text, text, text) IS
  'funnel internal: the body of funnel.allow_transition() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._disallow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM funnel.allowed_transition t
     WHERE t.pipeline = _disallow_transition.pipeline
       AND t.from_stage = _disallow_transition.from_stage
       AND t.to_stage = _disallow_transition.to_stage;
END
$$;
COMMENT ON FUNCTION funnel._disallow_transition(text, text, text) IS
  'funnel internal: the body of funnel.disallow_transition() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._require_fields(pipeline text, stage text, fields text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing record;
BEGIN
    PERFORM funnel._stage_row(pipeline, stage);
    IF coalesce(cardinality(fields), 0) = 0 THEN
        DELETE FROM funnel.required_field r
         WHERE r.pipeline = _require_fields.pipeline AND r.stage = _require_fields.stage;
        RETURN;
    END IF;
    IF array_position(fields, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'required field names must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- (on a Citus worker funnel.tracked_table is empty: the coordinator,
    -- which has the rows, checked the columns of the distributed tables)
    SELECT t.deals, f.field INTO missing
      FROM funnel.tracked_table t, unnest(fields) AS f(field)
     WHERE t.pipeline = _require_fields.pipeline
       AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = t.deals AND a.attname = f.field
                          AND a.attnum > 0 AND NOT a.attisdropped)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % has no column "%"', missing.deals, missing.field
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('The table is tracked in pipeline "%s".', pipeline);
    END IF;
    INSERT INTO funnel.required_field (pipeline, stage, fields)
    VALUES (pipeline, stage, fields::name[])
    ON CONFLICT ON CONSTRAINT required_field_pkey DO UPDATE SET fields = excluded.fields;
END
$$;
COMMENT ON FUNCTION funnel._require_fields(text, text, text[]) IS
  'funnel internal: the body of funnel.require_fields() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel._allow_transition_as(caller oid, pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('allow_transition');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'allow_transition');
    PERFORM funnel._allow_transition(pipeline, from_stage, to_stage);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'allow_transition', pipeline,
            jsonb_build_array(pipeline, from_stage, to_stage));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._allow_transition_as(oid, text, text, text) IS
  'funnel internal: funnel.allow_transition() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.allow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.allow_transition(text, text, text) IS
  'allows a stage move in a pipeline in every tracked table, whatever its rule (e.g. reopening lost deals); retired stages still cannot be entered';

CREATE FUNCTION funnel._disallow_transition_as(caller oid, pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('disallow_transition');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'disallow_transition');
    PERFORM funnel._disallow_transition(pipeline, from_stage, to_stage);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'disallow_transition', pipeline,
            jsonb_build_array(pipeline, from_stage, to_stage));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._disallow_transition_as(oid, text, text, text) IS
  'funnel internal: funnel.disallow_transition() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.disallow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.disallow_transition(text, text, text) IS
  'removes a move added by funnel.allow_transition (moves the rule allows stay allowed)';

CREATE FUNCTION funnel._require_fields_as(caller oid, pipeline text, stage text, fields text[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel._pipeline_change_begin('require_fields');
BEGIN
    PERFORM funnel._check_pipeline_owner(pipeline, caller, 'require_fields');
    PERFORM funnel._require_fields(pipeline, stage, fields);
    IF citus IS NOT NULL THEN
        PERFORM funnel._pipeline_change_end(citus, 'require_fields', pipeline,
            jsonb_build_array(pipeline, stage, fields));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._require_fields_as(oid, text, text, text[]) IS
  'funnel internal: funnel.require_fields() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.require_fields(pipeline text, stage text, fields text[])
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.require_fields(text, text, text[]) IS
  'sets the columns that must be non-null when a deal enters the stage or skips past it (NULL or an empty array clears them)';

REVOKE ALL ON FUNCTION funnel.track(regclass, text, name, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.untrack(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._track(regclass, text, name, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._untrack(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.allow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._allow_transition_as(oid, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.disallow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._disallow_transition_as(oid, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.require_fields(text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._require_fields_as(oid, text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._allow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._disallow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel._require_fields(text, text, text[]) FROM PUBLIC;

CREATE FUNCTION funnel._track_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM funnel.tracked_table t
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid = 0 AND d.objid = t.deals::pg_catalog.oid;
END
$$;
COMMENT ON FUNCTION funnel._track_sql_drop() IS
  'funnel internal: forgets the tracking of a dropped deals table (its history table stays)';
CREATE EVENT TRIGGER funnel_track_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel._track_sql_drop();
COMMENT ON EVENT TRIGGER funnel_track_sql_drop IS
  'removes funnel.tracked_table rows of dropped tables';

-- A tracked table attached as a partition would lose the history of rows
-- inserted through its parent (a partition's statement triggers do not
-- fire then); a history table attached as a partition would be written
-- past its partition constraint.  Refused here, up front, and again by the
-- triggers (src/track_validate.c) where event triggers are bypassed.
CREATE FUNCTION funnel._track_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    -- the tables the command made partitions of the table it altered
    SELECT t.deals, t.history, i.inhrelid = t.deals::pg_catalog.oid AS is_deals INTO bad
      FROM pg_catalog.pg_event_trigger_ddl_commands() c
      JOIN pg_catalog.pg_inherits i ON i.inhparent = c.objid
      JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid AND p.relispartition
      JOIN funnel.tracked_table t
        ON i.inhrelid IN (t.deals::pg_catalog.oid, t.history::pg_catalog.oid)
     WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND c.command_tag = 'ALTER TABLE'
     LIMIT 1;
    IF FOUND THEN
        IF bad.is_deals THEN
            RAISE EXCEPTION 'tracked table % cannot be a partition', bad.deals
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Rows inserted through the partitioned table would not fire its statement triggers, so their history would be lost.',
                      HINT = format('Call funnel.untrack(%L) first.', bad.deals);
        END IF;
        RAISE EXCEPTION 'history table % of tracked table % cannot be a partition', bad.history, bad.deals
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'funnel writes the history directly, past partition routing and partition constraints.',
                  HINT = format('Call funnel.untrack(%L) first.', bad.deals);
    END IF;
END
$$;
COMMENT ON FUNCTION funnel._track_ddl_end() IS
  'funnel internal: refuses ALTER TABLE ... ATTACH PARTITION of a tracked table or of its history table';
CREATE EVENT TRIGGER funnel_track_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel._track_ddl_end();
COMMENT ON EVENT TRIGGER funnel_track_ddl_end IS
  'refuses to make a tracked table or its history table a partition';

CREATE FUNCTION funnel._equality_operator(regtype) RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_equality_operator'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel._equality_operator(regtype) IS
  'funnel internal: OPERATOR(schema.=) of the equality operator of a type''s default btree operator class, for dynamic SQL';

CREATE FUNCTION funnel._tracked_sources(deals regclass, history regclass,
                                        key_column name, stage_column name,
                                        OUT deals_from text, OUT history_from text)
    AS 'MODULE_PATHNAME', 'funnel_tracked_sources'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION funnel._tracked_sources(regclass, regclass, name, name) IS
  'funnel internal: locks a tracked table and its history (and their inheritance children), validates them under the lock (ordinary tables of one owner, the expected columns and types, no row-level security applying to the caller) and returns what a query must name to read each (ONLY each relation)';

CREATE FUNCTION funnel._key_text(anyelement) RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_key_text'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel._key_text(anyelement) IS
  'funnel internal: a deal key as text through its type''s output function, never through a cast the key type''s owner may have created';

CREATE FUNCTION funnel.check_history(deals regclass)
RETURNS TABLE (deal_id text, problem text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    src record;
    eq text;
BEGIN
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = check_history.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'undefined_object';
    END IF;
    -- both tables locked and validated: the query runs none of the owner's code
    src := funnel._tracked_sources(t.deals, t.history, t.key_column, t.stage_column);
    -- the key type's own = (ltree's and citext's live outside pg_catalog)
    SELECT funnel._equality_operator(a.atttypid) INTO eq
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = t.key_column AND NOT a.attisdropped;
    -- anti-joins, not NOT EXISTS: Citus plans no correlated subquery over a CTE
    RETURN QUERY EXECUTE format($q$
        WITH h AS (
            SELECT h.deal_id, h.stage, h.entered_at, h.left_at,
                   lag(h.left_at) OVER w AS prev_left,
                   row_number() OVER w AS n
              FROM %2$s h
            WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.entered_at, h.left_at NULLS LAST)
        ), open AS (
            SELECT h.deal_id, count(*) AS n, funnel.min(h.stage) AS stage
              FROM h WHERE h.left_at IS NULL GROUP BY h.deal_id
        )
        SELECT funnel._key_text(d.%3$I), 'no open visit'
          FROM %1$s d LEFT JOIN open o ON o.deal_id %5$s d.%3$I WHERE o.deal_id IS NULL
        UNION ALL
        SELECT funnel._key_text(o.deal_id), format('%%s open visits', o.n)
          FROM open o WHERE o.n > 1
        UNION ALL
        SELECT funnel._key_text(o.deal_id), 'open visit of a deal that does not exist'
          FROM open o LEFT JOIN %1$s d ON d.%3$I %5$s o.deal_id WHERE d.%3$I IS NULL
        UNION ALL
        SELECT funnel._key_text(o.deal_id), format('open visit in %%s but the deal is in %%s', o.stage, d.%4$I)
          FROM open o JOIN %1$s d ON d.%3$I %5$s o.deal_id
         WHERE o.n = 1 AND NOT (o.stage OPERATOR(pg_catalog.=) d.%4$I)
        UNION ALL
        SELECT funnel._key_text(h.deal_id), format('visit entered at %%s left at %%s', h.entered_at, h.left_at)
          FROM h WHERE h.left_at OPERATOR(pg_catalog.<) h.entered_at
        UNION ALL
        SELECT funnel._key_text(h.deal_id), format('gap: a visit left at %%s, the next entered at %%s', h.prev_left, h.entered_at)
          FROM h WHERE h.n > 1 AND h.prev_left IS NOT NULL AND h.prev_left OPERATOR(pg_catalog.<>) h.entered_at
        $q$, src.deals_from, src.history_from, t.key_column, t.stage_column, eq);
END
$$;
COMMENT ON FUNCTION funnel.check_history(regclass) IS
  'lists violations of the history invariants of a tracked table (one open visit per live deal, in its current stage; contiguous visits; left_at >= entered_at); no rows when all hold';

--------------------------------------------------------------------------
-- The pipeline at past instants and stale deals (issue 10.2, 10.3)
--
-- pipeline_as_of() and pipeline_trend() read a stage history in one
-- sequential scan (C, src/pipeline_as_of.c, after the checks of
-- src/history_read.c); stale_deals() composes SQL over the history of a
-- tracked table.  All run with the caller's privileges (SECURITY INVOKER).
-- A visit is open at instant t when entered_at <= t < left_at (left_at NULL:
-- still open).  See doc/metrics.md.
--------------------------------------------------------------------------

CREATE FUNCTION funnel.pipeline_as_of(history regclass, as_of timestamptz)
    RETURNS TABLE (deal_id text, stage funnel.deal_stage, entered_at timestamptz)
    AS 'MODULE_PATHNAME', 'funnel_pipeline_as_of'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION funnel.pipeline_as_of(regclass, timestamptz) IS
  'the visit of each deal open at as_of (entered_at <= as_of < left_at) in a stage history, won and lost deals included; deal_id as text; one scan of the history';

CREATE FUNCTION funnel.pipeline_trend(history regclass, instants timestamptz[],
                                      deals_table regclass DEFAULT NULL)
    RETURNS TABLE (instant timestamptz, stage funnel.deal_stage, deals bigint,
                   amount numeric, weighted_amount numeric)
    AS 'MODULE_PATHNAME', 'funnel_pipeline_trend'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION funnel.pipeline_trend(regclass, timestamptz[], regclass) IS
  'per instant (sorted, distinct, NULLs ignored) and stage of the history''s pipeline, in funnel order: the deals whose visit was open there, and with deals_table their current amount total and amount x current probability; one scan of the history';

CREATE FUNCTION funnel._amount_column(deals regclass) RETURNS name
    AS 'MODULE_PATHNAME', 'funnel_amount_column'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel._amount_column(regclass) IS
  'funnel internal: the amount column of a deals table (a column named amount of type numeric or a domain over numeric), or NULL';

CREATE FUNCTION funnel.stale_deals(deals regclass,
                                   as_of timestamptz DEFAULT pg_catalog.now(),
                                   percentile double precision DEFAULT NULL)
RETURNS TABLE (deal_id text, stage funnel.deal_stage, entered_at timestamptz,
               days_in_stage numeric, threshold interval, amount numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    src record;
    pk name;
    amount_col name;
    eq text;
BEGIN
    IF deals IS NULL OR as_of IS NULL THEN
        RETURN;
    END IF;
    IF percentile IS NOT NULL AND (percentile = 'NaN'::float8 OR percentile < 0 OR percentile > 1) THEN
        RAISE EXCEPTION 'percentile % is not between 0 and 1', percentile
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a fraction, such as 0.9 for the 90th percentile of the time deals spent in the stage.';
    END IF;
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = stale_deals.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Track it with funnel.track(); stale deals are found from its stage history.';
    END IF;
    SELECT a.attname INTO pk
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indrelid = deals AND i.indisprimary;
    IF pk IS NULL THEN
        RAISE EXCEPTION 'tracked table % has no primary key', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The stage history refers to deals by their primary key; add it back.';
    END IF;
    -- both tables locked and validated: the query runs none of the owner's code
    src := funnel._tracked_sources(t.deals, t.history, pk, t.stage_column);
    amount_col := funnel._amount_column(deals);
    SELECT funnel._equality_operator(a.atttypid) INTO eq
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = pk AND NOT a.attisdropped;
    RETURN QUERY EXECUTE format($q$
        WITH open_visits AS (
            SELECT h.deal_id, h.stage, h.entered_at
              FROM %2$s h
             WHERE h.entered_at <= $1 AND (h.left_at IS NULL OR h.left_at > $1)
               AND funnel.kind(h.stage) = 'open'
        ), learned AS (
            SELECT h.stage, funnel.time_in_stage_percentile(h.entered_at, h.left_at, $2) AS p
              FROM %2$s h
             WHERE $2 IS NOT NULL AND h.left_at <= $1
             GROUP BY h.stage
        )
        SELECT funnel._key_text(v.deal_id), v.stage, v.entered_at,
               round(EXTRACT(epoch FROM $1 - v.entered_at) / 86400, 2),
               x.threshold, %4$s
          FROM open_visits v
          LEFT JOIN learned l ON l.stage OPERATOR(pg_catalog.=) v.stage
          LEFT JOIN %1$s d ON d.%3$I %5$s v.deal_id
         CROSS JOIN LATERAL (SELECT coalesce(funnel.stale_after(v.stage), l.p) AS threshold) x
         WHERE $1 - v.entered_at > x.threshold
         ORDER BY v.stage, v.entered_at, v.deal_id
        $q$, src.deals_from, src.history_from, pk,
        CASE WHEN amount_col IS NULL THEN 'NULL::numeric' ELSE format('d.%I::numeric', amount_col) END,
        eq)
    USING as_of, percentile;
END
$$;
COMMENT ON FUNCTION funnel.stale_deals(regclass, timestamptz, double precision) IS
  'open deals of a tracked table whose visit open at as_of is older than the stage''s stale_after or, when none is set and percentile is given, than that percentile of the stage''s closed visits (left by as_of); with days in stage, the threshold applied and the deal''s current amount (column amount, numeric) or NULL';

-- Aggregates (issue 4): src/agg_*.c, doc/aggregates.md, doc/metrics.md
--
-- Every aggregate is PARALLEL SAFE with a combine function.  Small states
-- are real SQL types with text and binary I/O (Citus can push partial
-- aggregation down to workers); only the exact percentiles keep an
-- `internal` state, with serialize/deserialize functions.
--------------------------------------------------------------------------

-- furthest(stage): won if won, else the furthest open stage, else lost

CREATE FUNCTION funnel.furthest_trans(funnel.deal_stage, funnel.deal_stage)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.furthest_trans(funnel.deal_stage, funnel.deal_stage) IS
  'funnel internal: transition and combine function of funnel.furthest(): the further of two stages (won > open by position > lost)';

CREATE AGGREGATE funnel.furthest(funnel.deal_stage) (
    SFUNC = funnel.furthest_trans,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel.furthest_trans,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.furthest(funnel.deal_stage) IS
  'over one deal''s visits: a won stage if the deal was won, else its furthest open stage, else its lost stage; the input of funnel.funnel() and funnel.conversion_rate()';

-- counters shared by conversion_rate and win_rate: bigint[2]

CREATE FUNCTION funnel.funnel_counters_combine(bigint[], bigint[]) RETURNS bigint[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_counters_combine(bigint[], bigint[]) IS
  'funnel internal: combine function of conversion_rate and win_rate (adds two bigint[2] counter states)';

CREATE FUNCTION funnel.funnel_counters_ratio(bigint[]) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_counters_ratio(bigint[]) IS
  'funnel internal: final function of conversion_rate: counters[2] / counters[1], NULL if counters[1] = 0';

CREATE FUNCTION funnel.conversion_rate_trans(bigint[], funnel.deal_stage, funnel.deal_stage, funnel.deal_stage)
    RETURNS bigint[]
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.conversion_rate_trans(bigint[], funnel.deal_stage, funnel.deal_stage, funnel.deal_stage) IS
  'funnel internal: transition function of conversion_rate; state {deals that reached from_stage, of those reached to_stage}';

CREATE AGGREGATE funnel.conversion_rate(reached funnel.deal_stage, from_stage funnel.deal_stage, to_stage funnel.deal_stage) (
    SFUNC = funnel.conversion_rate_trans,
    STYPE = bigint[],
    INITCOND = '{0,0}',
    FINALFUNC = funnel.funnel_counters_ratio,
    COMBINEFUNC = funnel.funnel_counters_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.conversion_rate(funnel.deal_stage, funnel.deal_stage, funnel.deal_stage) IS
  'among deals that reached from_stage (implied passage: a later open stage or a won stage passed it), the fraction that reached to_stage; NULL if none reached from_stage. Input: each deal''s furthest stage';

CREATE FUNCTION funnel.win_rate_trans(bigint[], funnel.deal_stage) RETURNS bigint[]
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.win_rate_trans(bigint[], funnel.deal_stage) IS
  'funnel internal: transition function of win_rate; state {won, lost}';

CREATE FUNCTION funnel.win_rate_final(bigint[]) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.win_rate_final(bigint[]) IS
  'funnel internal: final function of win_rate: won / (won + lost), NULL if no deal is closed';

CREATE AGGREGATE funnel.win_rate(stage funnel.deal_stage) (
    SFUNC = funnel.win_rate_trans,
    STYPE = bigint[],
    INITCOND = '{0,0}',
    FINALFUNC = funnel.win_rate_final,
    COMBINEFUNC = funnel.funnel_counters_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.win_rate(funnel.deal_stage) IS
  'won / (won + lost) over deals'' current stages; open deals and NULLs are ignored; NULL if no deal is closed';

-- journey: one deal's path (issue 9)

CREATE TYPE funnel.journey;
CREATE FUNCTION funnel.journey_in(cstring) RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.journey_in(cstring) IS
  'text input of journey (JSON with pipeline and stage names)';
CREATE FUNCTION funnel.journey_out(funnel.journey) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.journey_out(funnel.journey) IS
  'text output of journey: {"pipeline", "outcome", "current", "current_entered_at", "furthest", "last_open", "last_open_entered_at", "first_entered_at"}';
CREATE FUNCTION funnel.journey_recv(internal) RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.journey_recv(internal) IS
  'binary input of journey (names, not OIDs)';
CREATE FUNCTION funnel.journey_send(funnel.journey) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.journey_send(funnel.journey) IS
  'binary output of journey (names, not OIDs)';
CREATE TYPE funnel.journey (
    INPUT = funnel.journey_in,
    OUTPUT = funnel.journey_out,
    RECEIVE = funnel.journey_recv,
    SEND = funnel.journey_send,
    INTERNALLENGTH = 48,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.journey IS
  'one deal''s path through its pipeline (funnel.journey() over its visits): current stage and outcome, furthest open stage, last open stage, first entry and close time; the input of funnel.funnel(journey [, amount])';

CREATE FUNCTION funnel.journey_trans(funnel.journey, funnel.deal_stage, timestamptz)
    RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.journey_trans(funnel.journey, funnel.deal_stage, timestamptz) IS
  'funnel internal: transition function of funnel.journey()';
CREATE FUNCTION funnel.journey_combine(funnel.journey, funnel.journey)
    RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.journey_combine(funnel.journey, funnel.journey) IS
  'funnel internal: combine function of funnel.journey() (two partial journeys of one deal)';

CREATE AGGREGATE funnel.journey(stage funnel.deal_stage, entered_at timestamptz) (
    SFUNC = funnel.journey_trans,
    STYPE = funnel.journey,
    COMBINEFUNC = funnel.journey_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.journey(funnel.deal_stage, timestamptz) IS
  'over one deal''s visits: its journey (current stage = stage of the latest entered_at, ties to the later stage; outcome; furthest open stage; last open stage; first entered_at); the input of funnel.funnel(journey [, amount])';

CREATE FUNCTION funnel.outcome(journey funnel.journey) RETURNS text
    AS 'MODULE_PATHNAME', 'journey_outcome' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.outcome(funnel.journey) IS
  'the outcome of a journey: won, lost or open (the kind of its current stage)';
CREATE FUNCTION funnel.current_stage(journey funnel.journey) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'journey_current_stage' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.current_stage(funnel.journey) IS
  'the stage of the journey''s latest visit';
CREATE FUNCTION funnel.furthest_stage(journey funnel.journey) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'journey_furthest_stage' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.furthest_stage(funnel.journey) IS
  'the furthest open stage the deal visited; NULL if it visited none';
CREATE FUNCTION funnel.last_open_stage(journey funnel.journey) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'journey_last_open_stage' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.last_open_stage(funnel.journey) IS
  'the open stage of the deal''s latest open visit (for a lost deal: the stage it was lost from); NULL if it visited none';
CREATE FUNCTION funnel.started_at(journey funnel.journey) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'journey_started_at' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.started_at(funnel.journey) IS
  'the earliest entered_at of the deal''s visits';
CREATE FUNCTION funnel.closed_at(journey funnel.journey) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'journey_closed_at' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.closed_at(funnel.journey) IS
  'when the deal entered its won or lost stage; NULL while it is open';

-- funnel_summary: a mergeable per-pipeline sketch

CREATE TYPE funnel.funnel_summary;

CREATE FUNCTION funnel.funnel_summary_in(cstring) RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_in(cstring) IS
  'text input of funnel_summary (JSON with pipeline and stage names)';
CREATE FUNCTION funnel.funnel_summary_out(funnel.funnel_summary) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_out(funnel.funnel_summary) IS
  'text output of funnel_summary: {"pipeline": ..., "stages": [{"stage", "deals", "amount_count", "amount"}, ...]}';
CREATE FUNCTION funnel.funnel_summary_recv(internal) RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_recv(internal) IS
  'binary input of funnel_summary (names, not OIDs, so summaries move between databases)';
CREATE FUNCTION funnel.funnel_summary_send(funnel.funnel_summary) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_send(funnel.funnel_summary) IS
  'binary output of funnel_summary (names, not OIDs, so summaries move between databases)';

CREATE TYPE funnel.funnel_summary (
    INPUT = funnel.funnel_summary_in,
    OUTPUT = funnel.funnel_summary_out,
    RECEIVE = funnel.funnel_summary_recv,
    SEND = funnel.funnel_summary_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = extended
);
COMMENT ON TYPE funnel.funnel_summary IS
  'mergeable funnel sketch of one pipeline: per stage the deals whose furthest stage it is and their exact amount total; built by funnel.funnel(), merged by funnel.funnel(summary), read by funnel.report()';

-- Implicit casts from text and varchar, so that a summary a client holds in
-- text form and binds as a text or varchar parameter reaches funnel.report()
-- (there is no operator on funnel_summary that this could make ambiguous).
CREATE CAST (text AS funnel.funnel_summary) WITH INOUT AS IMPLICIT;
COMMENT ON CAST (text AS funnel.funnel_summary) IS
  'reads the JSON text form of a funnel summary; implicit, so funnel.report($1) takes a text parameter';
CREATE CAST (varchar AS funnel.funnel_summary) WITH INOUT AS IMPLICIT;
COMMENT ON CAST (varchar AS funnel.funnel_summary) IS
  'reads the JSON text form of a funnel summary; implicit, so funnel.report($1) takes a varchar parameter (JDBC setString)';

CREATE FUNCTION funnel.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage) IS
  'funnel internal: transition function of funnel.funnel(stage)';
CREATE FUNCTION funnel.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage, numeric)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage, numeric) IS
  'funnel internal: transition function of funnel.funnel(stage, amount)';
CREATE FUNCTION funnel.funnel_summary_merge(funnel.funnel_summary, funnel.funnel_summary)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_merge(funnel.funnel_summary, funnel.funnel_summary) IS
  'funnel internal: merges two funnel summaries of the same pipeline (combine function of funnel.funnel)';
CREATE FUNCTION funnel.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey) IS
  'funnel internal: transition function of funnel.funnel(journey)';
CREATE FUNCTION funnel.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey, numeric)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey, numeric) IS
  'funnel internal: transition function of funnel.funnel(journey, amount)';
CREATE FUNCTION funnel.funnel_summary_current_trans(funnel.funnel_summary, funnel.deal_stage, numeric, funnel.deal_stage)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.funnel_summary_current_trans(funnel.funnel_summary, funnel.deal_stage, numeric, funnel.deal_stage) IS
  'funnel internal: transition function of funnel.funnel(stage, amount, lost_at)';

CREATE AGGREGATE funnel.funnel(reached funnel.deal_stage) (
    SFUNC = funnel.funnel_summary_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.deal_stage) IS
  'funnel summary of deals given their furthest stage (see funnel.furthest); read it with funnel.report()';

CREATE AGGREGATE funnel.funnel(reached funnel.deal_stage, amount numeric) (
    SFUNC = funnel.funnel_summary_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.deal_stage, numeric) IS
  'funnel summary of deals given their furthest stage and amount (NULL amounts count the deal, not the amount); read it with funnel.report()';

CREATE AGGREGATE funnel.funnel(journey funnel.journey) (
    SFUNC = funnel.funnel_summary_journey_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.journey) IS
  'funnel summary of deals given their journeys (see funnel.journey): knows outcomes, so report() adds won, lost, open, lost_here, open_here and win_rate';

CREATE AGGREGATE funnel.funnel(journey funnel.journey, amount numeric) (
    SFUNC = funnel.funnel_summary_journey_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.journey, numeric) IS
  'funnel summary of deals given their journeys and amounts (NULL amounts count the deal, not the amount); report() adds the outcome columns';

CREATE AGGREGATE funnel.funnel(stage funnel.deal_stage, amount numeric, lost_at funnel.deal_stage) (
    SFUNC = funnel.funnel_summary_current_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.deal_stage, numeric, funnel.deal_stage) IS
  'funnel summary of deals given their CURRENT stage (no history) and amount; lost_at is the open stage a lost deal was lost from (NULL: unknown, counted at the first open stage); report() adds the outcome columns';

CREATE AGGREGATE funnel.funnel(summary funnel.funnel_summary) (
    SFUNC = funnel.funnel_summary_merge,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.funnel_summary) IS
  'merges funnel summaries (e.g. per owner) into one; all must belong to the same pipeline';

CREATE FUNCTION funnel.report(summary funnel.funnel_summary)
    RETURNS TABLE (stage funnel.deal_stage, deals bigint, amount numeric,
                   conversion_from_previous numeric,
                   conversion_from_first numeric, drop_off bigint,
                   won bigint, lost bigint, open bigint,
                   lost_here bigint, open_here bigint, win_rate numeric,
                   bar text)
    AS 'MODULE_PATHNAME', 'funnel_report'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 12;
COMMENT ON FUNCTION funnel.report(funnel.funnel_summary) IS
  'one row per stage in funnel order: open stages count the deals that reached them (implied passage), with amount, conversion from the previous and the first stage, and drop-off; with journeys also won/lost/open among them, lost_here, open_here and win_rate; won and lost rows count the deals that ended there; bar: the deals as a text bar, 30 characters for the largest row (doc/metrics.md)';

-- learned vs configured probabilities (issue 9.3)

CREATE FUNCTION funnel.learned_probabilities(summary funnel.funnel_summary)
    RETURNS TABLE (stage funnel.deal_stage, configured numeric, learned numeric,
                   closed bigint, lower numeric, upper numeric)
LANGUAGE sql STABLE STRICT PARALLEL SAFE ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
    -- Wilson score interval, 95% (z = 1.959963984540054), from the closed
    -- deals (won + lost) among those that reached each open stage
    SELECT r.stage, funnel.probability(r.stage)::numeric, r.win_rate, r.won + r.lost,
           CASE WHEN w.half IS NOT NULL THEN round(greatest(w.center - w.half, 0), 6) END,
           CASE WHEN w.half IS NOT NULL THEN round(least(w.center + w.half, 1), 6) END
      FROM funnel.report(summary) r
      LEFT JOIN LATERAL (
            SELECT (p + z2 / (2 * n)) / (1 + z2 / n) AS center,
                   z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n) AS half
              FROM (SELECT r.won / nullif(r.won + r.lost, 0)::numeric AS p,
                           nullif(r.won + r.lost, 0)::numeric AS n,
                           1.959963984540054 AS z, 1.959963984540054 ^ 2 AS z2) c
             WHERE n > 0) w ON true
     WHERE funnel.kind(r.stage) = 'open'
$$;
COMMENT ON FUNCTION funnel.learned_probabilities(funnel.funnel_summary) IS
  'per open stage: the configured probability, the learned one (win rate of the closed deals that reached it), the closed deals it rests on and its 95% Wilson score interval; NULL where the summary has no outcomes or no closed deal. Apply with funnel.set_probability()';

-- the reverse funnel (issue 10.1): the deals each stage needs now for a revenue target

CREATE FUNCTION funnel.required_pipeline(summary funnel.funnel_summary, target numeric,
                                         average_won numeric DEFAULT NULL)
    RETURNS TABLE (stage funnel.deal_stage, win_rate numeric, needed bigint,
                   open_here bigint, open bigint, gap bigint, open_amount numeric,
                   coverage numeric, required_coverage numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 6
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    outcomes boolean;
    won_count numeric;
    won_total numeric;
    p numeric;
    q numeric;
    won_needed numeric;
    worst_stage funnel.deal_stage;
    worst_needed numeric;
    worst_rate float8;
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'target must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Give the revenue still to win, e.g. 3000000.';
    END IF;
    IF target <= 0 OR target IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION 'target % is not a positive finite amount', target
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the revenue still to win, e.g. 3000000.';
    END IF;
    IF average_won <= 0 OR average_won IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION 'average_won % is not a positive finite amount', average_won
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the expected amount of one won deal, or NULL for the summary''s average.';
    END IF;
    IF summary IS NULL THEN
        RETURN;     -- funnel() over no rows: no report, no rows
    END IF;

    -- the stage win rates need outcomes: a summary fed by furthest() has none
    SELECT pg_catalog.bool_and(r.open_here IS NOT NULL) INTO outcomes
      FROM funnel.report(summary) r
     WHERE funnel.kind(r.stage) OPERATOR(pg_catalog.=) 'open';
    IF NOT outcomes THEN
        RAISE EXCEPTION 'funnel summary of pipeline "%" has no outcomes',
                        (SELECT pg_catalog.min(funnel.pipeline_of(r.stage)) FROM funnel.report(summary) r)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The reverse funnel needs each stage''s win rate among closed deals, which a summary of reached stages (funnel.furthest) cannot tell.',
                  HINT = 'Build the summary from journeys: funnel.funnel(funnel.journey(stage, entered_at), amount).';
    END IF;

    -- won needed = ceil(target / average won amount), exactly: ceil(p / q)
    IF average_won IS NOT NULL THEN
        p := target;
        q := average_won;
    ELSE
        SELECT pg_catalog.sum((e ->> 'current_amount_count')::numeric),
               pg_catalog.sum((e ->> 'current_amount')::numeric)
          INTO won_count, won_total
          FROM funnel.report(summary) r
          JOIN pg_catalog.jsonb_array_elements(summary::text::jsonb -> 'stages') e
            ON e ->> 'stage' OPERATOR(pg_catalog.=) funnel.stage_name(r.stage)
         WHERE funnel.kind(r.stage) OPERATOR(pg_catalog.=) 'won';
        IF coalesce(won_count, 0) OPERATOR(pg_catalog.=) 0 THEN
            RAISE EXCEPTION 'funnel summary has no won deal with an amount'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'The deals needed are the target divided by the average won amount.',
                      HINT = 'Give average_won, the expected amount of one won deal.';
        END IF;
        IF won_total OPERATOR(pg_catalog.<=) 0 THEN
            RAISE EXCEPTION 'average won amount % is not positive', won_total OPERATOR(pg_catalog./) won_count
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give average_won, the expected amount of one won deal.';
        END IF;
        p := target OPERATOR(pg_catalog.*) won_count;
        q := won_total;
    END IF;
    won_needed := pg_catalog.div(p, q)
                  OPERATOR(pg_catalog.+) CASE WHEN pg_catalog.mod(p, q) OPERATOR(pg_catalog.<>) 0 THEN 1 ELSE 0 END;

    -- counts are bigint: refuse a target that needs more deals, naming the
    -- inputs, before the query below would fail on a cast deep inside it
    IF won_needed OPERATOR(pg_catalog.>) 9223372036854775807 THEN
        RAISE EXCEPTION 'target % needs % won deals, more than a bigint can count', target, won_needed
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = pg_catalog.format('The won deals needed are the target divided by the average won amount, %s%s.',
                                             CASE WHEN average_won IS NULL THEN 'the summary''s ' ELSE 'average_won ' END,
                                             coalesce(average_won, pg_catalog.trim_scale(won_total OPERATOR(pg_catalog./) won_count))),
                  HINT = 'Give a smaller target or a larger average_won.';
    END IF;
    -- the stage with the lowest win rate needs the most deals
    SELECT r.stage, r.win_rate,
           pg_catalog.div(won_needed OPERATOR(pg_catalog.*) (r.won OPERATOR(pg_catalog.+) r.lost), r.won)
           OPERATOR(pg_catalog.+)
           CASE WHEN pg_catalog.mod(won_needed OPERATOR(pg_catalog.*) (r.won OPERATOR(pg_catalog.+) r.lost), r.won)
                     OPERATOR(pg_catalog.<>) 0 THEN 1 ELSE 0 END
      INTO worst_stage, worst_rate, worst_needed
      FROM funnel.report(summary) r
     WHERE funnel.kind(r.stage) OPERATOR(pg_catalog.=) 'open' AND r.won OPERATOR(pg_catalog.>) 0
     ORDER BY 3 DESC LIMIT 1;
    IF worst_needed OPERATOR(pg_catalog.>) 9223372036854775807 THEN
        RAISE EXCEPTION 'target % needs % deals at stage "%", more than a bigint can count',
                        target, worst_needed, funnel.stage_name(worst_stage)
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = pg_catalog.format('It needs %s won deals, and the win rate of the closed deals that reached the stage is %s.',
                                             won_needed, worst_rate),
                  HINT = 'Give a smaller target or a larger average_won.';
    END IF;

    RETURN QUERY
    WITH rows AS (
        SELECT r.ordinality AS n, r.stage, funnel.kind(r.stage) AS kind, r.win_rate,
               r.won, r.lost, r.open_here, r.open,
               coalesce((e ->> 'current_amount_count')::numeric, 0) AS amount_count,
               coalesce((e ->> 'current_amount')::numeric, 0) AS amount
          FROM funnel.report(summary) WITH ORDINALITY r
          LEFT JOIN pg_catalog.jsonb_array_elements(summary::text::jsonb -> 'stages') e
            ON e ->> 'stage' OPERATOR(pg_catalog.=) funnel.stage_name(r.stage)
    ), open_stages AS (
        -- the open deals at this stage or a later one: amount, weighted amount
        SELECT o.*,
               pg_catalog.sum(o.amount_count) OVER later AS later_count,
               pg_catalog.sum(o.amount) OVER later AS later_amount,
               pg_catalog.sum(o.amount OPERATOR(pg_catalog.*) funnel.probability(o.stage)::numeric) OVER later AS later_weighted,
               CASE WHEN o.won OPERATOR(pg_catalog.>) 0 THEN
                   pg_catalog.div(won_needed OPERATOR(pg_catalog.*) (o.won OPERATOR(pg_catalog.+) o.lost), o.won)
                   OPERATOR(pg_catalog.+)
                   CASE WHEN pg_catalog.mod(won_needed OPERATOR(pg_catalog.*) (o.won OPERATOR(pg_catalog.+) o.lost), o.won)
                             OPERATOR(pg_catalog.<>) 0 THEN 1 ELSE 0 END
               END AS needed
          FROM rows o
         WHERE o.kind OPERATOR(pg_catalog.=) 'open'
        WINDOW later AS (ORDER BY o.n DESC)
    )
    SELECT o.stage, o.win_rate, o.needed::bigint, o.open_here, o.open,
           CASE WHEN o.needed IS NOT NULL THEN
               GREATEST(o.needed OPERATOR(pg_catalog.-) o.open, 0)::bigint END,
           CASE WHEN o.later_count OPERATOR(pg_catalog.>) 0 THEN o.later_amount END,
           CASE WHEN o.later_count OPERATOR(pg_catalog.>) 0 THEN
               pg_catalog.trim_scale(o.later_weighted OPERATOR(pg_catalog./) target) END,
           CASE WHEN o.won OPERATOR(pg_catalog.>) 0 THEN
               pg_catalog.trim_scale((o.won OPERATOR(pg_catalog.+) o.lost)::numeric OPERATOR(pg_catalog./) o.won) END
      FROM open_stages o
    UNION ALL
    (SELECT w.stage, 1::numeric, won_needed::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::numeric, NULL::numeric, 1::numeric
       FROM rows w
      WHERE w.kind OPERATOR(pg_catalog.=) 'won'
      ORDER BY w.n LIMIT 1)
    ORDER BY 1;
END
$$;
COMMENT ON FUNCTION funnel.required_pipeline(funnel.funnel_summary, numeric, numeric) IS
  'reverse funnel for a revenue target: won deals needed = ceil(target / average won amount, the summary''s or average_won), then per open stage the deals needed there = ceil(won needed / the stage''s win rate among closed deals), the open deals there (in the stage now, and at it or later), the gap, the open amount from the stage on, coverage (weighted open pipeline from the stage on / target) and required coverage (1 / win rate); needs a summary with outcomes (journeys) (doc/metrics.md)';

-- time in stage: exact percentile_cont over left_at - entered_at

CREATE TYPE funnel.duration_sample;
CREATE FUNCTION funnel.duration_sample_in(cstring) RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.duration_sample_in(cstring) IS
  'text input of duration_sample: {"fraction": 0.5 or null, "durations_us": [microseconds, ...]}';
CREATE FUNCTION funnel.duration_sample_out(funnel.duration_sample) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.duration_sample_out(funnel.duration_sample) IS
  'text output of duration_sample: {"fraction": 0.5 or null, "durations_us": [microseconds, ...]}';
CREATE FUNCTION funnel.duration_sample_recv(internal) RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.duration_sample_recv(internal) IS
  'binary input of duration_sample (every field checked)';
CREATE FUNCTION funnel.duration_sample_send(funnel.duration_sample) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.duration_sample_send(funnel.duration_sample) IS
  'binary output of duration_sample: version, flags, fraction, count, then 8 bytes per duration';
CREATE TYPE funnel.duration_sample (
    INPUT = funnel.duration_sample_in,
    OUTPUT = funnel.duration_sample_out,
    RECEIVE = funnel.duration_sample_recv,
    SEND = funnel.duration_sample_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = extended
);
COMMENT ON TYPE funnel.duration_sample IS
  'every closed visit''s duration (8 bytes per visit) and the percentile fraction: the transition state of the exact time-in-stage percentiles, mergeable across parallel and Citus workers';

CREATE FUNCTION funnel.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz)
    RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz) IS
  'funnel internal: transition function of median_time_in_stage (collects closed visit durations)';
CREATE FUNCTION funnel.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz, double precision)
    RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz, double precision) IS
  'funnel internal: transition function of time_in_stage_percentile (collects closed visit durations)';
CREATE FUNCTION funnel.time_in_stage_combine(funnel.duration_sample, funnel.duration_sample)
    RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.time_in_stage_combine(funnel.duration_sample, funnel.duration_sample) IS
  'funnel internal: combine function of the time-in-stage percentiles (appends durations)';
CREATE FUNCTION funnel.time_in_stage_final(funnel.duration_sample) RETURNS interval
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.time_in_stage_final(funnel.duration_sample) IS
  'funnel internal: final function of the time-in-stage percentiles (selection + percentile_cont interpolation)';

CREATE AGGREGATE funnel.median_time_in_stage(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel.time_in_stage_final,
    COMBINEFUNC = funnel.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.median_time_in_stage(timestamptz, timestamptz) IS
  'exact median of left_at - entered_at over closed visits (= percentile_cont(0.5)); open visits (left_at NULL) are skipped; NULL if none';

CREATE AGGREGATE funnel.time_in_stage_percentile(entered_at timestamptz, left_at timestamptz, fraction double precision) (
    SFUNC = funnel.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel.time_in_stage_final,
    COMBINEFUNC = funnel.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.time_in_stage_percentile(timestamptz, timestamptz, double precision) IS
  'exact percentile_cont(fraction) of left_at - entered_at over closed visits; fraction in [0,1], the same on every row; open visits are skipped; NULL if none';

-- numeric-days forms of the percentiles (issue 9.4)

CREATE FUNCTION funnel.time_in_stage_final_days(funnel.duration_sample) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.time_in_stage_final_days(funnel.duration_sample) IS
  'funnel internal: final function of the *_days time-in-stage percentiles (the percentile in days, numeric)';

CREATE AGGREGATE funnel.median_time_in_stage_days(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel.time_in_stage_final_days,
    COMBINEFUNC = funnel.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.median_time_in_stage_days(timestamptz, timestamptz) IS
  'median_time_in_stage in days as numeric (for BI tools that cannot chart intervals): the exact median microseconds / 86400000000';

CREATE AGGREGATE funnel.time_in_stage_percentile_days(entered_at timestamptz, left_at timestamptz, fraction double precision) (
    SFUNC = funnel.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel.time_in_stage_final_days,
    COMBINEFUNC = funnel.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.time_in_stage_percentile_days(timestamptz, timestamptz, double precision) IS
  'time_in_stage_percentile in days as numeric (for BI tools that cannot chart intervals)';

-- forecast_state and weighted_forecast

CREATE TYPE funnel.forecast_state;
CREATE FUNCTION funnel.forecast_state_in(cstring) RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.forecast_state_in(cstring) IS 'text input of forecast_state: (rows,sum)';
CREATE FUNCTION funnel.forecast_state_out(funnel.forecast_state) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.forecast_state_out(funnel.forecast_state) IS 'text output of forecast_state: (rows,sum)';
CREATE FUNCTION funnel.forecast_state_recv(internal) RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.forecast_state_recv(internal) IS 'binary input of forecast_state';
CREATE FUNCTION funnel.forecast_state_send(funnel.forecast_state) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.forecast_state_send(funnel.forecast_state) IS 'binary output of forecast_state';
CREATE TYPE funnel.forecast_state (
    INPUT = funnel.forecast_state_in,
    OUTPUT = funnel.forecast_state_out,
    RECEIVE = funnel.forecast_state_recv,
    SEND = funnel.forecast_state_send,
    INTERNALLENGTH = 32,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.forecast_state IS
  'a row count and an exact 128-bit fixed-point sum: the transition state of funnel.weighted_forecast (sum of amount x probability) and funnel.avg_time_in_stage (sum of microseconds)';

CREATE FUNCTION funnel.weighted_forecast_stage_trans(funnel.forecast_state, numeric, funnel.deal_stage)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.weighted_forecast_stage_trans(funnel.forecast_state, numeric, funnel.deal_stage) IS
  'funnel internal: transition function of weighted_forecast(amount, stage)';
CREATE FUNCTION funnel.weighted_forecast_numeric_trans(funnel.forecast_state, numeric, numeric)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.weighted_forecast_numeric_trans(funnel.forecast_state, numeric, numeric) IS
  'funnel internal: transition function of weighted_forecast(amount, probability)';
CREATE FUNCTION funnel.forecast_state_combine(funnel.forecast_state, funnel.forecast_state)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.forecast_state_combine(funnel.forecast_state, funnel.forecast_state) IS
  'funnel internal: combine function of weighted_forecast';
CREATE FUNCTION funnel.forecast_state_final(funnel.forecast_state) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.forecast_state_final(funnel.forecast_state) IS
  'funnel internal: final function of weighted_forecast: the exact sum as numeric';

CREATE AGGREGATE funnel.weighted_forecast(amount numeric, stage funnel.deal_stage) (
    SFUNC = funnel.weighted_forecast_stage_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel.forecast_state_final,
    COMBINEFUNC = funnel.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.weighted_forecast(numeric, funnel.deal_stage) IS
  'exact sum of amount x probability(stage)::numeric (won 1, lost 0); NULL amounts skipped, negative amounts allowed, NaN/infinity refused; NULL if no row';

CREATE AGGREGATE funnel.weighted_forecast(amount numeric, probability numeric) (
    SFUNC = funnel.weighted_forecast_numeric_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel.forecast_state_final,
    COMBINEFUNC = funnel.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.weighted_forecast(numeric, numeric) IS
  'exact numeric sum of amount x probability, probability in [0,1]; rows with a NULL are skipped, negative amounts allowed, NaN/infinity refused; NULL if no row';

CREATE FUNCTION funnel.weighted_forecast_float8_trans(funnel.forecast_state, numeric, double precision)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.weighted_forecast_float8_trans(funnel.forecast_state, numeric, double precision) IS
  'funnel internal: transition function of weighted_forecast(amount, probability float8)';

CREATE AGGREGATE funnel.weighted_forecast(amount numeric, probability double precision) (
    SFUNC = funnel.weighted_forecast_float8_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel.forecast_state_final,
    COMBINEFUNC = funnel.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.weighted_forecast(numeric, double precision) IS
  'exact numeric sum of amount x probability::numeric (15 significant digits, as for a stage), probability in [0,1], e.g. funnel.probability(stage); rows with a NULL are skipped, NaN/infinity refused; NULL if no row';

-- average time in stage (issue 9.4): an exact microsecond total in a forecast_state

CREATE FUNCTION funnel.avg_time_in_stage_trans(funnel.forecast_state, timestamptz, timestamptz)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.avg_time_in_stage_trans(funnel.forecast_state, timestamptz, timestamptz) IS
  'funnel internal: transition function of avg_time_in_stage (closed visits and their total microseconds)';
CREATE FUNCTION funnel.avg_time_in_stage_final(funnel.forecast_state) RETURNS interval
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.avg_time_in_stage_final(funnel.forecast_state) IS
  'funnel internal: final function of avg_time_in_stage (mean, rounded to the microsecond, justified)';
CREATE FUNCTION funnel.avg_time_in_stage_final_days(funnel.forecast_state) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.avg_time_in_stage_final_days(funnel.forecast_state) IS
  'funnel internal: final function of avg_time_in_stage_days (mean in days, numeric)';

CREATE AGGREGATE funnel.avg_time_in_stage(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel.avg_time_in_stage_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel.avg_time_in_stage_final,
    COMBINEFUNC = funnel.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.avg_time_in_stage(timestamptz, timestamptz) IS
  'mean of left_at - entered_at over closed visits, rounded to the microsecond, as a justified interval (days and time, no months); open visits skipped; NULL if none';

CREATE AGGREGATE funnel.avg_time_in_stage_days(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel.avg_time_in_stage_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel.avg_time_in_stage_final_days,
    COMBINEFUNC = funnel.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.avg_time_in_stage_days(timestamptz, timestamptz) IS
  'mean of left_at - entered_at over closed visits in days, as numeric (for BI tools that cannot chart intervals)';

-- velocity_state and sales_velocity

CREATE TYPE funnel.velocity_state;
CREATE FUNCTION funnel.velocity_state_in(cstring) RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.velocity_state_in(cstring) IS
  'text input of velocity_state: (deals,won,lost,won_amount_count,won_amount,cycles,cycle_microseconds)';
CREATE FUNCTION funnel.velocity_state_out(funnel.velocity_state) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.velocity_state_out(funnel.velocity_state) IS
  'text output of velocity_state: (deals,won,lost,won_amount_count,won_amount,cycles,cycle_microseconds)';
CREATE FUNCTION funnel.velocity_state_recv(internal) RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.velocity_state_recv(internal) IS 'binary input of velocity_state';
CREATE FUNCTION funnel.velocity_state_send(funnel.velocity_state) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.velocity_state_send(funnel.velocity_state) IS 'binary output of velocity_state';
CREATE TYPE funnel.velocity_state (
    INPUT = funnel.velocity_state_in,
    OUTPUT = funnel.velocity_state_out,
    RECEIVE = funnel.velocity_state_recv,
    SEND = funnel.velocity_state_send,
    INTERNALLENGTH = 80,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.velocity_state IS
  'transition state of funnel.sales_velocity: deal, won and lost counts, exact won amount total, won cycle count and total microseconds';

CREATE FUNCTION funnel.sales_velocity_trans(funnel.velocity_state, funnel.deal_stage, numeric, timestamptz, timestamptz)
    RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.sales_velocity_trans(funnel.velocity_state, funnel.deal_stage, numeric, timestamptz, timestamptz) IS
  'funnel internal: transition function of sales_velocity';
CREATE FUNCTION funnel.velocity_state_combine(funnel.velocity_state, funnel.velocity_state)
    RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.velocity_state_combine(funnel.velocity_state, funnel.velocity_state) IS
  'funnel internal: combine function of sales_velocity';
CREATE FUNCTION funnel.velocity_state_final(funnel.velocity_state) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.velocity_state_final(funnel.velocity_state) IS
  'funnel internal: final function of sales_velocity';

CREATE AGGREGATE funnel.sales_velocity(stage funnel.deal_stage, amount numeric,
                                       created_at timestamptz, closed_at timestamptz) (
    SFUNC = funnel.sales_velocity_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel.velocity_state_final,
    COMBINEFUNC = funnel.velocity_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.sales_velocity(funnel.deal_stage, numeric, timestamptz, timestamptz) IS
  'amount per day: open deals x win rate x average won amount / average cycle of won deals in days (cycle = closed_at - created_at); one row per deal, its current stage; NULL when a factor is undefined (doc/metrics.md)';

CREATE FUNCTION funnel.sales_velocity_journey_trans(funnel.velocity_state, funnel.journey, numeric)
    RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.sales_velocity_journey_trans(funnel.velocity_state, funnel.journey, numeric) IS
  'funnel internal: transition function of sales_velocity(journey, amount)';

CREATE AGGREGATE funnel.sales_velocity(journey funnel.journey, amount numeric) (
    SFUNC = funnel.sales_velocity_journey_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel.velocity_state_final,
    COMBINEFUNC = funnel.velocity_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.sales_velocity(funnel.journey, numeric) IS
  'sales velocity from journeys: outcome from the current stage, cycle = first entry to close of won deals';

CREATE TYPE funnel.velocity AS (
    open_deals bigint, won bigint, lost bigint, win_rate numeric,
    avg_won_amount numeric, avg_won_cycle_days numeric, velocity numeric);
COMMENT ON TYPE funnel.velocity IS
  'sales velocity and its inputs: open deals x win_rate x avg_won_amount / avg_won_cycle_days = velocity (amount per day)';

CREATE FUNCTION funnel.velocity_state_parts(funnel.velocity_state) RETURNS funnel.velocity
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.velocity_state_parts(funnel.velocity_state) IS
  'funnel internal: final function of sales_velocity_parts';

CREATE AGGREGATE funnel.sales_velocity_parts(stage funnel.deal_stage, amount numeric,
                                             created_at timestamptz, closed_at timestamptz) (
    SFUNC = funnel.sales_velocity_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel.velocity_state_parts,
    COMBINEFUNC = funnel.velocity_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.sales_velocity_parts(funnel.deal_stage, numeric, timestamptz, timestamptz) IS
  'sales_velocity with each input visible: (open_deals, won, lost, win_rate, avg_won_amount, avg_won_cycle_days, velocity)';

CREATE AGGREGATE funnel.sales_velocity_parts(journey funnel.journey, amount numeric) (
    SFUNC = funnel.sales_velocity_journey_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel.velocity_state_parts,
    COMBINEFUNC = funnel.velocity_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.sales_velocity_parts(funnel.journey, numeric) IS
  'sales_velocity(journey, amount) with each input visible';

CREATE FUNCTION funnel.sales_cycle(journey funnel.journey) RETURNS interval
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT funnel.closed_at(journey) - funnel.started_at(journey) $$;
COMMENT ON FUNCTION funnel.sales_cycle(funnel.journey) IS
  'a closed deal''s sales cycle: from its first entry to its won or lost stage (days and time); NULL while open';

-- ---------------------------------------------------------------------------
-- Event funnels (issue 10): window_funnel, ClickHouse's windowFunnel
-- ---------------------------------------------------------------------------

CREATE FUNCTION funnel.window_funnel_trans(internal, interval, timestamptz, VARIADIC "any")
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.window_funnel_trans(internal, interval, timestamptz, VARIADIC "any") IS
  'funnel internal: transition function of window_funnel (checks the step types once, collects (timestamp, step bitmask) events)';
CREATE FUNCTION funnel.window_funnel_trans(internal, interval, text, timestamptz, VARIADIC "any")
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.window_funnel_trans(internal, interval, text, timestamptz, VARIADIC "any") IS
  'funnel internal: transition function of window_funnel with a mode (checks the step types once, collects (timestamp, step bitmask) events)';
CREATE FUNCTION funnel.window_funnel_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.window_funnel_combine(internal, internal) IS
  'funnel internal: combine function of window_funnel (merges the event lists)';
CREATE FUNCTION funnel.window_funnel_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.window_funnel_serialize(internal) IS
  'funnel internal: serializes a window_funnel state for parallel workers (12 bytes per event)';
CREATE FUNCTION funnel.window_funnel_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.window_funnel_deserialize(bytea, internal) IS
  'funnel internal: deserializes a window_funnel state';
CREATE FUNCTION funnel.window_funnel_final(internal) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.window_funnel_final(internal) IS
  'funnel internal: final function of window_funnel (sorts the events once, then one greedy scan)';

CREATE AGGREGATE funnel.window_funnel("window" interval, ts timestamptz, VARIADIC steps "any") (
    SFUNC = funnel.window_funnel_trans,
    STYPE = internal,
    FINALFUNC = funnel.window_funnel_final,
    COMBINEFUNC = funnel.window_funnel_combine,
    SERIALFUNC = funnel.window_funnel_serialize,
    DESERIALFUNC = funnel.window_funnel_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.window_funnel(interval, timestamptz, VARIADIC "any") IS
  'event funnel (ClickHouse windowFunnel): length of the longest chain of steps 1..k met in order, each within window of the chain''s step-1 event (ts_k - ts_1 <= window); steps: 1 to 32 boolean conditions, one argument each (or VARIADIC boolean[]), NULL steps count as false; NULL timestamps skipped; 0 if none';

CREATE AGGREGATE funnel.window_funnel("window" interval, mode text, ts timestamptz, VARIADIC steps "any") (
    SFUNC = funnel.window_funnel_trans,
    STYPE = internal,
    FINALFUNC = funnel.window_funnel_final,
    COMBINEFUNC = funnel.window_funnel_combine,
    SERIALFUNC = funnel.window_funnel_serialize,
    DESERIALFUNC = funnel.window_funnel_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.window_funnel(interval, text, timestamptz, VARIADIC "any") IS
  'event funnel (ClickHouse windowFunnel) with modes: strict_deduplication, strict_order, strict_increase, or a comma-separated list of them ('''' = default); same chain rules as window_funnel(window, ts, steps)';

-- ---------------------------------------------------------------------------
-- Pictures (issue 10): funnel_svg, an SVG funnel chart composed over report()
-- ---------------------------------------------------------------------------

-- Text for SVG character data and attribute values: the five XML specials
-- escaped, and the characters XML 1.0 forbids (C0 controls but tab, newline
-- and carriage return; U+FFFE, U+FFFF) replaced by "?"
CREATE FUNCTION funnel._svg_escape(s text) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad text := chr(1) || chr(2) || chr(3) || chr(4) || chr(5) || chr(6) || chr(7) || chr(8)
                || chr(11) || chr(12) || chr(14) || chr(15) || chr(16) || chr(17) || chr(18)
                || chr(19) || chr(20) || chr(21) || chr(22) || chr(23) || chr(24) || chr(25)
                || chr(26) || chr(27) || chr(28) || chr(29) || chr(30) || chr(31);
BEGIN
    IF getdatabaseencoding() = 'UTF8' THEN
        bad := bad || chr(65534) || chr(65535);
    END IF;
    s := translate(s, bad, repeat('?', length(bad)));
    RETURN replace(replace(replace(replace(replace(s,
               '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;');
END
$$;
COMMENT ON FUNCTION funnel._svg_escape(text) IS
  'funnel internal: escapes text for SVG (& < > " '' as entities, characters XML 1.0 forbids as ?)';

-- Width in pixels a text needs at a font size, estimated on the wide side
-- (DejaVu Sans metrics, the usual fallback): CJK and other characters of three
-- or more UTF-8 bytes (two in other server encodings) count one full em
CREATE FUNCTION funnel._svg_text_width(s text, size numeric) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(sum(CASE
               WHEN octet_length(c) >= CASE getdatabaseencoding() WHEN 'UTF8' THEN 3 ELSE 2 END THEN 1.0
               WHEN octet_length(c) > 1 THEN 0.72
               WHEN c ~ '[ijlI.,:;!''|]' THEN 0.3
               WHEN c ~ '[ ftr()\[\]{}/\\`-]' THEN 0.42
               WHEN c ~ '[mwMW%&@#<>+=~]' THEN 1.0
               WHEN c ~ '[A-Z]' THEN 0.72
               ELSE 0.64 END), 0) * size
      FROM regexp_split_to_table(s, '') AS c
$$;
COMMENT ON FUNCTION funnel._svg_text_width(text, numeric) IS
  'funnel internal: estimated width in pixels of a text at a font size (full width for CJK), for the layout of funnel_svg';

CREATE FUNCTION funnel.funnel_svg(summary funnel.funnel_summary, options jsonb DEFAULT '{}')
    RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    opts jsonb := coalesce(options, '{}'::jsonb);
    opt text;
    val jsonb;
    ckey text;
    cval jsonb;
    req_width integer := 720;
    title text;
    show_amount boolean := true;
    col_open text := '#4e79a7';
    col_won text := '#59a14f';
    col_lost text := '#c9665f';
    -- the report, in its order
    names text[];
    kinds text[];
    deals bigint[];
    lost_among bigint[];
    amounts numeric[];
    from_prev double precision[];
    from_first double precision[];
    pipeline text;
    nrows integer := 0;
    nopen integer;
    first_open integer;
    total bigint := 0;
    max_deals bigint := 0;
    line1 text[] := '{}';
    line2 text[] := '{}';
    txt text;
    ipart text;
    fpart text;
    -- layout (pixels)
    pad constant numeric := 24;
    gutter constant numeric := 16;
    min_funnel constant numeric := 200;
    bar_h constant numeric := 36;
    gap constant numeric := 12;
    name_w numeric := 0;
    num_w numeric := 0;
    head_w numeric := 0;
    w numeric;
    h numeric;
    fw numeric;
    cx numeric;
    x_num numeric;
    top numeric;
    y numeric;
    bw numeric;
    last_bw numeric;
    last_bottom numeric;
    fill text;
    opacity numeric;
    caption text;
    body text := '';
    i integer;
    k integer := 0;
BEGIN
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'funnel_svg options must be a JSON object, not %', jsonb_typeof(opts)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid keys: width, title, show_amount, colors; e.g. ''{"width": 800, "title": "Q3"}''.';
    END IF;
    FOR opt, val IN SELECT e.key, e.value FROM jsonb_each(opts) AS e LOOP
        IF opt = 'width' THEN
            IF jsonb_typeof(val) <> 'number' THEN
                req_width := NULL;
            ELSIF val::numeric <> trunc(val::numeric) OR val::numeric < 320 OR val::numeric > 4096 THEN
                req_width := NULL;
            ELSE
                req_width := val::numeric::integer;
            END IF;
            IF req_width IS NULL THEN
                RAISE EXCEPTION 'invalid funnel_svg option "width": %', val
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'width is the width of the picture in pixels, a whole number from 320 to 4096.',
                          HINT = 'The picture grows wider than width when the stage names need it.';
            END IF;
        ELSIF opt = 'title' THEN
            IF jsonb_typeof(val) <> 'string' OR length(val #>> '{}') > 200 THEN
                RAISE EXCEPTION 'invalid funnel_svg option "title": %', left(val::text, 60)
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'title is a JSON string of at most 200 characters; "" leaves the title out.';
            END IF;
            title := val #>> '{}';
        ELSIF opt = 'show_amount' THEN
            IF jsonb_typeof(val) <> 'boolean' THEN
                RAISE EXCEPTION 'invalid funnel_svg option "show_amount": %', left(val::text, 60)
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'show_amount is true (the default) or false.';
            END IF;
            show_amount := val::boolean;
        ELSIF opt = 'colors' THEN
            IF jsonb_typeof(val) <> 'object' THEN
                RAISE EXCEPTION 'invalid funnel_svg option "colors": %', left(val::text, 60)
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'colors is an object such as {"open": "#4e79a7", "won": "#59a14f", "lost": "#c9665f"}.';
            END IF;
            FOR ckey, cval IN SELECT e.key, e.value FROM jsonb_each(val) AS e LOOP
                IF ckey NOT IN ('open', 'won', 'lost') THEN
                    RAISE EXCEPTION 'unknown funnel_svg color "%"', ckey
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'The keys of colors are open, won and lost.';
                END IF;
                IF jsonb_typeof(cval) <> 'string'
                   OR (cval #>> '{}') !~ '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$' THEN
                    RAISE EXCEPTION 'invalid funnel_svg color "%": %', ckey, left(cval::text, 60)
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'A color is "#rgb" or "#rrggbb", such as "#4e79a7".';
                END IF;
                CASE ckey
                    WHEN 'open' THEN col_open := cval #>> '{}';
                    WHEN 'won' THEN col_won := cval #>> '{}';
                    ELSE col_lost := cval #>> '{}';
                END CASE;
            END LOOP;
        ELSE
            RAISE EXCEPTION 'unknown funnel_svg option "%"', opt
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Valid keys: width, title, show_amount, colors.';
        END IF;
    END LOOP;

    -- report() by column name, so columns added to it change nothing here
    IF summary IS NOT NULL THEN
        SELECT array_agg(funnel.stage_name(r.stage) ORDER BY r.ordinality),
               array_agg(funnel.kind(r.stage) ORDER BY r.ordinality),
               array_agg(r.deals ORDER BY r.ordinality),
               array_agg(r.lost ORDER BY r.ordinality),
               array_agg(r.amount ORDER BY r.ordinality),
               array_agg(r.conversion_from_previous ORDER BY r.ordinality),
               array_agg(r.conversion_from_first ORDER BY r.ordinality),
               min(funnel.pipeline_of(r.stage)),
               count(*)
          INTO names, kinds, deals, lost_among, amounts, from_prev, from_first, pipeline, nrows
          FROM funnel.report(summary) WITH ORDINALITY AS r;
    END IF;
    nopen := coalesce(array_length(array_positions(kinds, 'open'), 1), 0);
    first_open := array_position(kinds, 'open');
    -- all deals: those that reached the first open stage, or a won stage if
    -- none is open, plus those whose reached stage is a lost one; a summary
    -- of journeys also counts a lost deal in the open stages it passed (its
    -- "lost" column says how many), so those are not counted again
    FOR i IN 1 .. nrows LOOP
        IF kinds[i] = 'lost' OR (first_open IS NULL AND kinds[i] = 'won') THEN
            total := total + deals[i];
        END IF;
        max_deals := greatest(max_deals, deals[i]);
    END LOOP;
    IF first_open IS NOT NULL THEN
        total := total + deals[first_open] - coalesce(lost_among[first_open], 0);
    END IF;
    title := coalesce(title, pipeline, '');

    -- labels: count (and amount), then the conversions report() gives
    FOR i IN 1 .. nrows LOOP
        txt := regexp_replace(deals[i]::text, '(\d)(?=(\d{3})+$)', '\1,', 'g')
               || CASE WHEN deals[i] = 1 THEN ' deal' ELSE ' deals' END;
        IF show_amount AND amounts[i] IS NOT NULL THEN
            ipart := regexp_replace(split_part(amounts[i]::text, '.', 1), '(\d)(?=(\d{3})+$)', '\1,', 'g');
            fpart := split_part(amounts[i]::text, '.', 2);
            txt := txt || ' · ' || ipart || CASE WHEN fpart ~ '^0*$' THEN '' ELSE '.' || fpart END;
        END IF;
        line1[i] := txt;
        line2[i] := NULL;
        IF i <> first_open AND kinds[i] <> 'lost' THEN
            line2[i] := nullif(concat_ws(' · ',
                to_char(from_prev[i] * 100, 'FM990.0') || '% of previous',
                to_char(from_first[i] * 100, 'FM990.0') || '% of first'), '');
        END IF;
        name_w := greatest(name_w, funnel._svg_text_width(names[i], 14));
        num_w := greatest(num_w, funnel._svg_text_width(line1[i], 14) * 1.1,
                          coalesce(funnel._svg_text_width(line2[i], 12), 0));
    END LOOP;
    caption := CASE WHEN total = 0 THEN 'no deals'
                    ELSE regexp_replace(total::text, '(\d)(?=(\d{3})+$)', '\1,', 'g')
                         || CASE WHEN total = 1 THEN ' deal' ELSE ' deals' END END;
    head_w := greatest(funnel._svg_text_width(title, 18) * 1.1, funnel._svg_text_width(caption, 12));

    w := ceil(greatest(req_width, 2 * pad + head_w,
                       2 * pad + name_w + gutter + min_funnel + gutter + num_w));
    top := CASE WHEN title = '' THEN pad ELSE pad + 56 END;

    IF total = 0 THEN
        -- nothing to draw: the title and a centred "no deals"
        h := top + 72;
        body := format('<text x="%s" y="%s" text-anchor="middle" font-size="16" fill="#6b7280" class="empty">no deals</text>',
                       round(w / 2, 1), top + 36);
        caption := NULL;
    ELSE
        fw := w - 2 * pad - name_w - num_w - 2 * gutter;
        cx := pad + name_w + gutter + fw / 2;
        x_num := pad + name_w + gutter + fw + gutter;
        y := top;
        FOR i IN 1 .. nrows LOOP
            IF kinds[i] = 'lost' AND (i = 1 OR kinds[i - 1] <> 'lost') THEN
                y := y + gap;          -- lost stages stand apart from the funnel
            END IF;
            bw := greatest(2, fw * deals[i] / max_deals);
            IF kinds[i] = 'open' THEN
                k := k + 1;
                fill := col_open;
                opacity := 1 - 0.35 * (k - 1) / greatest(nopen - 1, 1);
            ELSIF kinds[i] = 'won' THEN
                fill := col_won;
                opacity := 1;
            ELSE
                fill := col_lost;
                opacity := 0.85;
            END IF;
            -- a band joins each open stage to the next open or won stage
            IF i > 1 AND kinds[i - 1] = 'open' AND kinds[i] <> 'lost' THEN
                body := body || format('<polygon points="%s,%s %s,%s %s,%s %s,%s" fill="%s" fill-opacity="0.18"/>',
                    round(cx - last_bw / 2, 1), last_bottom, round(cx + last_bw / 2, 1), last_bottom,
                    round(cx + bw / 2, 1), y, round(cx - bw / 2, 1), y, col_open) || E'\n';
            END IF;
            body := body
                || format('<rect x="%s" y="%s" width="%s" height="%s" rx="3" fill="%s" fill-opacity="%s" class="bar %s"/>',
                          round(cx - bw / 2, 1), y, round(bw, 1), bar_h, fill, round(opacity, 2), kinds[i]) || E'\n'
                || format('<text x="%s" y="%s" text-anchor="end" font-size="14" fill="#1f2937" class="stage">%s</text>',
                          round(pad + name_w, 1), y + 23, funnel._svg_escape(names[i])) || E'\n';
            IF line2[i] IS NULL THEN
                body := body || format('<text x="%s" y="%s" font-size="14" font-weight="bold" fill="#1f2937" class="count">%s</text>',
                                       round(x_num, 1), y + 23, funnel._svg_escape(line1[i])) || E'\n';
            ELSE
                body := body
                    || format('<text x="%s" y="%s" font-size="14" font-weight="bold" fill="#1f2937" class="count">%s</text>',
                              round(x_num, 1), y + 15, funnel._svg_escape(line1[i])) || E'\n'
                    || format('<text x="%s" y="%s" font-size="12" fill="#6b7280" class="conversion">%s</text>',
                              round(x_num, 1), y + 31, funnel._svg_escape(line2[i])) || E'\n';
            END IF;
            last_bw := bw;
            last_bottom := y + bar_h;
            y := y + bar_h + gap;
        END LOOP;
        h := y - gap + pad;
    END IF;

    RETURN format('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img" font-family="%s">',
                  w, h, w, h, '''Noto Sans'', ''Noto Sans CJK SC'', ''Source Han Sans SC'', ''PingFang SC'', ''Microsoft YaHei'', ''DejaVu Sans'', Arial, sans-serif')
        || E'\n' || format('<title>%s</title>', funnel._svg_escape(coalesce(nullif(title, ''), 'funnel')))
        || E'\n' || format('<rect width="%s" height="%s" fill="#ffffff"/>', w, h)
        || E'\n' || CASE WHEN title = '' THEN '' ELSE
               format('<text x="%s" y="%s" font-size="18" font-weight="bold" fill="#1f2937" class="title">%s</text>',
                      pad, pad + 20, funnel._svg_escape(title)) || E'\n' END
        || CASE WHEN title = '' OR caption IS NULL THEN '' ELSE
               format('<text x="%s" y="%s" font-size="12" fill="#6b7280" class="caption">%s</text>',
                      pad, pad + 40, funnel._svg_escape(caption)) || E'\n' END
        || body
        || '</svg>';
END
$$;
COMMENT ON FUNCTION funnel.funnel_svg(funnel.funnel_summary, jsonb) IS
  'self-contained SVG funnel chart of a summary (text): per stage of report() a centred bar as wide as its deals, the count (and amount), conversion from the previous and the first stage; won and lost rows below; options {"width", "title", "show_amount", "colors": {"open", "won", "lost"}}; a NULL or empty summary draws "no deals"';
