-- Bare stage names read in the context of the query (src/type/bare_names.c; the functions: src/type/bare_names_resolve.c).
-- After parse analysis, a bare name compared with a stage column is
-- rewritten into calls of these functions; users never call them by name.
-- They take names as text, so a view or rule that stores the rewritten
-- query stores no stage value that could not be read back, and they read
-- the pipelines when they run (STABLE), so a plan cached before a pipeline
-- was added still finds its stages.

CREATE FUNCTION funnel_internal.stage_in_pipeline(name text, pipeline regtype)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'funnel_stage_in_pipeline'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.stage_in_pipeline(text, regtype) IS
  'reads a bare stage name in one pipeline (that of the bound or single-pipeline column it is compared with), a qualified name as written';

CREATE FUNCTION funnel_internal.stage_ordered(name text)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME', 'funnel_stage_ordered'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.stage_ordered(text) IS
  'reads a stage compared in order (<, BETWEEN) with a column of several pipelines: a bare name several pipelines share is refused with the candidates';

CREATE FUNCTION funnel_internal.stages_named(names text[])
    RETURNS funnel.deal_stage[]
    AS 'MODULE_PATHNAME', 'funnel_stages_named'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.stages_named(text[]) IS
  'the stages some names mean: a bare name that stage in every pipeline that has it, a qualified name itself; for stage = ''won'' and IN on a column of several pipelines';

CREATE FUNCTION funnel_internal.stage_distinct_named(stage funnel.deal_stage, name text)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'funnel_stage_distinct_named'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.stage_distinct_named(funnel.deal_stage, text) IS
  'stage IS DISTINCT FROM a name, where a bare name means that stage in any pipeline';
