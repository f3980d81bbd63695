-- sql/install/type/deal_stage.sql: the type funnel.deal_stage: I/O, casts, operators, operator classes, min/max, accessors
-- C: src/type/deal_stage_io.c, src/type/deal_stage_ops.c.  Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- The type funnel.deal_stage
--------------------------------------------------------------------------

CREATE TYPE funnel.deal_stage;

CREATE FUNCTION funnel_internal.deal_stage_in(cstring, oid, integer)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage_in(cstring, oid, integer) IS
  'text input of deal_stage: ''pipeline:stage'', or a bare ''stage'' where unambiguous';

CREATE FUNCTION funnel_internal.deal_stage_out(funnel.deal_stage)
    RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage_out(funnel.deal_stage) IS
  'text output of deal_stage, always qualified: ''pipeline:stage''';

CREATE FUNCTION funnel_internal.deal_stage_recv(internal, oid, integer)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage_recv(internal, oid, integer) IS
  'binary input of deal_stage: version byte 1, then the text form';

CREATE FUNCTION funnel_internal.deal_stage_send(funnel.deal_stage)
    RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage_send(funnel.deal_stage) IS
  'binary output of deal_stage: version byte 1, then the text form';

CREATE FUNCTION funnel_internal.deal_stage_typmod_in(cstring[])
    RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage_typmod_in(cstring[]) IS
  'type modifier input: funnel.deal_stage(pipeline) binds a column to one pipeline';

CREATE FUNCTION funnel_internal.deal_stage_typmod_out(integer)
    RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage_typmod_out(integer) IS
  'type modifier output: (pipeline)';

CREATE TYPE funnel.deal_stage (
    INPUT = funnel_internal.deal_stage_in,
    OUTPUT = funnel_internal.deal_stage_out,
    RECEIVE = funnel_internal.deal_stage_recv,
    SEND = funnel_internal.deal_stage_send,
    TYPMOD_IN = funnel_internal.deal_stage_typmod_in,
    TYPMOD_OUT = funnel_internal.deal_stage_typmod_out,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.deal_stage IS
  'a stage of a sales pipeline, ordered in funnel order; text form ''pipeline:stage''; funnel.deal_stage(pipeline) binds a column to one pipeline';

CREATE FUNCTION funnel_internal.deal_stage(funnel.deal_stage, integer, boolean)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'deal_stage_enforce_typmod'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage(funnel.deal_stage, integer, boolean) IS
  'applies a pipeline binding: resolves a bare stage name in the bound pipeline, refuses stages of other pipelines';

CREATE CAST (funnel.deal_stage AS funnel.deal_stage)
    WITH FUNCTION funnel_internal.deal_stage(funnel.deal_stage, integer, boolean)
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
CREATE FUNCTION funnel_internal.deal_stage(text, integer, boolean)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'deal_stage_from_text'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.deal_stage(text, integer, boolean) IS
  'cast from text: reads ''pipeline:stage'', or a bare stage name in the pipeline the type modifier binds (or the only pipeline that has it)';
CREATE CAST (text AS funnel.deal_stage)
    WITH FUNCTION funnel_internal.deal_stage(text, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (text AS funnel.deal_stage) IS
  'reads the text form ''pipeline:stage'' (or a bare stage name); implicit, so text parameters work where a stage goes';
CREATE CAST (varchar AS funnel.deal_stage)
    WITH FUNCTION funnel_internal.deal_stage(text, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (varchar AS funnel.deal_stage) IS
  'reads the text form ''pipeline:stage'' (or a bare stage name); implicit, so varchar parameters (JDBC setString) work where a stage goes';

-- comparison

CREATE FUNCTION funnel_internal.deal_stage_eq(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION funnel_internal.deal_stage_ne(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION funnel_internal.deal_stage_lt(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_le(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_gt(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_ge(funnel.deal_stage, funnel.deal_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_cmp(funnel.deal_stage, funnel.deal_stage) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_hash(funnel.deal_stage) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_hash_extended(funnel.deal_stage, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_larger(funnel.deal_stage, funnel.deal_stage) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION funnel_internal.deal_stage_smaller(funnel.deal_stage, funnel.deal_stage) RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION funnel_internal.deal_stage_eq(funnel.deal_stage, funnel.deal_stage) IS 'implementation of = for deal_stage';
COMMENT ON FUNCTION funnel_internal.deal_stage_ne(funnel.deal_stage, funnel.deal_stage) IS 'implementation of <> for deal_stage';
COMMENT ON FUNCTION funnel_internal.deal_stage_lt(funnel.deal_stage, funnel.deal_stage) IS 'implementation of < for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel_internal.deal_stage_le(funnel.deal_stage, funnel.deal_stage) IS 'implementation of <= for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel_internal.deal_stage_gt(funnel.deal_stage, funnel.deal_stage) IS 'implementation of > for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel_internal.deal_stage_ge(funnel.deal_stage, funnel.deal_stage) IS 'implementation of >= for deal_stage (funnel order)';
COMMENT ON FUNCTION funnel_internal.deal_stage_cmp(funnel.deal_stage, funnel.deal_stage) IS 'btree support: three-way comparison in funnel order';
COMMENT ON FUNCTION funnel_internal.deal_stage_sortsupport(internal) IS 'btree support: sort support for deal_stage';
COMMENT ON FUNCTION funnel_internal.deal_stage_hash(funnel.deal_stage) IS 'hash support for deal_stage';
COMMENT ON FUNCTION funnel_internal.deal_stage_hash_extended(funnel.deal_stage, bigint) IS 'extended (seeded) hash support for deal_stage';
COMMENT ON FUNCTION funnel_internal.deal_stage_larger(funnel.deal_stage, funnel.deal_stage) IS 'the later of two stages in funnel order (for max)';
COMMENT ON FUNCTION funnel_internal.deal_stage_smaller(funnel.deal_stage, funnel.deal_stage) IS 'the earlier of two stages in funnel order (for min)';

-- The comparison operators (and min/max below) live in pg_catalog, which
-- every search_path includes: BI tools and application connections run with
-- the default "$user", public, where operators in schema funnel would not be
-- found (operator lookup, unlike ORDER BY's opclass lookup, follows the
-- path).  They are extension members, so DROP EXTENSION removes them and
-- pg_dump leaves them to CREATE EXTENSION.  Their argument types are
-- funnel.deal_stage, so no built-in operator is shadowed: see doc/design.md.
CREATE OPERATOR pg_catalog.= (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel_internal.deal_stage_eq,
    COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR pg_catalog.<> (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel_internal.deal_stage_ne,
    COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR pg_catalog.< (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel_internal.deal_stage_lt,
    COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR pg_catalog.<= (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel_internal.deal_stage_le,
    COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR pg_catalog.> (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel_internal.deal_stage_gt,
    COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR pg_catalog.>= (
    LEFTARG = funnel.deal_stage, RIGHTARG = funnel.deal_stage,
    FUNCTION = funnel_internal.deal_stage_ge,
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
        FUNCTION 1 funnel_internal.deal_stage_cmp(funnel.deal_stage, funnel.deal_stage),
        FUNCTION 2 funnel_internal.deal_stage_sortsupport(internal);
COMMENT ON OPERATOR CLASS funnel.deal_stage_ops USING btree IS
  'funnel order of deal stages (within a pipeline by position, across pipelines by pipeline)';

CREATE OPERATOR CLASS funnel.deal_stage_hash_ops
    DEFAULT FOR TYPE funnel.deal_stage USING hash AS
        OPERATOR 1 pg_catalog.= ,
        FUNCTION 1 funnel_internal.deal_stage_hash(funnel.deal_stage),
        FUNCTION 2 funnel_internal.deal_stage_hash_extended(funnel.deal_stage, bigint);
COMMENT ON OPERATOR CLASS funnel.deal_stage_hash_ops USING hash IS
  'hashing of deal stages (for hash joins, hash aggregates and hash indexes)';
COMMENT ON OPERATOR FAMILY funnel.deal_stage_ops USING btree IS
  'funnel order of deal stages';
COMMENT ON OPERATOR FAMILY funnel.deal_stage_hash_ops USING hash IS
  'hashing of deal stages';

CREATE AGGREGATE funnel.min(funnel.deal_stage) (
    SFUNC = funnel_internal.deal_stage_smaller,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel_internal.deal_stage_smaller,
    SORTOP = OPERATOR(pg_catalog.<),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.min(funnel.deal_stage) IS 'earliest stage in funnel order';

CREATE AGGREGATE funnel.max(funnel.deal_stage) (
    SFUNC = funnel_internal.deal_stage_larger,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel_internal.deal_stage_larger,
    SORTOP = OPERATOR(pg_catalog.>),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.max(funnel.deal_stage) IS 'latest stage in funnel order';

-- the same aggregates in pg_catalog, so min(stage) works on any search_path
CREATE AGGREGATE pg_catalog.min(funnel.deal_stage) (
    SFUNC = funnel_internal.deal_stage_smaller,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel_internal.deal_stage_smaller,
    SORTOP = OPERATOR(pg_catalog.<),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE pg_catalog.min(funnel.deal_stage) IS 'earliest stage in funnel order (same as funnel.min)';

CREATE AGGREGATE pg_catalog.max(funnel.deal_stage) (
    SFUNC = funnel_internal.deal_stage_larger,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel_internal.deal_stage_larger,
    SORTOP = OPERATOR(pg_catalog.>),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE pg_catalog.max(funnel.deal_stage) IS 'latest stage in funnel order (same as funnel.max)';

-- Text filters as BI tools generate them: stage LIKE ?, stage ILIKE ?, their
-- negations, and lower(stage) / upper(stage) LIKE ?.  They match the text
-- form stage::text, 'pipeline:stage' (so '%won', '%:won' and 'b2b:%' work;
-- a bare 'won' does not, as it is not the text form).  Like the comparison
-- operators they live in pg_catalog, so the default search_path finds them;
-- their left argument is funnel.deal_stage, which no built-in takes, so no
-- built-in LIKE, lower() or upper() changes its resolution (text, varchar
-- and unknown arguments still pick the text versions, text being the
-- preferred string type): sql/search_path.sql proves it.  The bodies are
-- single SQL expressions with every name qualified, so the planner inlines
-- them into stage::text LIKE pattern, and the collation of the pattern
-- applies as it does to text.
CREATE FUNCTION funnel_internal.deal_stage_like(funnel.deal_stage, text) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT $1::pg_catalog.text OPERATOR(pg_catalog.~~) $2 $$;
CREATE FUNCTION funnel_internal.deal_stage_nlike(funnel.deal_stage, text) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT $1::pg_catalog.text OPERATOR(pg_catalog.!~~) $2 $$;
CREATE FUNCTION funnel_internal.deal_stage_ilike(funnel.deal_stage, text) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT $1::pg_catalog.text OPERATOR(pg_catalog.~~*) $2 $$;
CREATE FUNCTION funnel_internal.deal_stage_nilike(funnel.deal_stage, text) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT $1::pg_catalog.text OPERATOR(pg_catalog.!~~*) $2 $$;
COMMENT ON FUNCTION funnel_internal.deal_stage_like(funnel.deal_stage, text) IS
  'implementation of LIKE for deal_stage: stage::text LIKE pattern';
COMMENT ON FUNCTION funnel_internal.deal_stage_nlike(funnel.deal_stage, text) IS
  'implementation of NOT LIKE for deal_stage: stage::text NOT LIKE pattern';
COMMENT ON FUNCTION funnel_internal.deal_stage_ilike(funnel.deal_stage, text) IS
  'implementation of ILIKE for deal_stage: stage::text ILIKE pattern';
COMMENT ON FUNCTION funnel_internal.deal_stage_nilike(funnel.deal_stage, text) IS
  'implementation of NOT ILIKE for deal_stage: stage::text NOT ILIKE pattern';

CREATE OPERATOR pg_catalog.~~ (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_like,
    NEGATOR = OPERATOR(pg_catalog.!~~),
    RESTRICT = likesel, JOIN = likejoinsel
);
CREATE OPERATOR pg_catalog.!~~ (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_nlike,
    NEGATOR = OPERATOR(pg_catalog.~~),
    RESTRICT = nlikesel, JOIN = nlikejoinsel
);
CREATE OPERATOR pg_catalog.~~* (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_ilike,
    NEGATOR = OPERATOR(pg_catalog.!~~*),
    RESTRICT = iclikesel, JOIN = iclikejoinsel
);
CREATE OPERATOR pg_catalog.!~~* (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_nilike,
    NEGATOR = OPERATOR(pg_catalog.~~*),
    RESTRICT = icnlikesel, JOIN = icnlikejoinsel
);
COMMENT ON OPERATOR pg_catalog.~~ (funnel.deal_stage, text) IS
  'stage LIKE pattern, on the text form ''pipeline:stage''';
COMMENT ON OPERATOR pg_catalog.!~~ (funnel.deal_stage, text) IS
  'stage NOT LIKE pattern, on the text form ''pipeline:stage''';
COMMENT ON OPERATOR pg_catalog.~~* (funnel.deal_stage, text) IS
  'stage ILIKE pattern, on the text form ''pipeline:stage'' ignoring case';
COMMENT ON OPERATOR pg_catalog.!~~* (funnel.deal_stage, text) IS
  'stage NOT ILIKE pattern, on the text form ''pipeline:stage'' ignoring case';

CREATE FUNCTION pg_catalog.lower(funnel.deal_stage) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT pg_catalog.lower($1::pg_catalog.text) $$;
COMMENT ON FUNCTION pg_catalog.lower(funnel.deal_stage) IS
  'the text form ''pipeline:stage'' in lower case (for lower(stage) LIKE filters)';
CREATE FUNCTION pg_catalog.upper(funnel.deal_stage) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$ SELECT pg_catalog.upper($1::pg_catalog.text) $$;
COMMENT ON FUNCTION pg_catalog.upper(funnel.deal_stage) IS
  'the text form ''pipeline:stage'' in upper case (for upper(stage) LIKE filters)';

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
