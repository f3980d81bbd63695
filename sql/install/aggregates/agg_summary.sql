-- sql/install/aggregates/agg_summary.sql: the funnel_summary type and the funnel() aggregates
-- C: src/aggregates/agg_summary.c, src/aggregates/funnel_summary_io.c, src/aggregates/agg_json.c.  Part of the install script (see sql/install/README.md).

-- funnel_summary: a mergeable per-pipeline sketch

CREATE TYPE funnel.funnel_summary;

CREATE FUNCTION funnel_internal.funnel_summary_in(cstring) RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_in(cstring) IS
  'text input of funnel_summary (JSON with pipeline and stage names)';
CREATE FUNCTION funnel_internal.funnel_summary_out(funnel.funnel_summary) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_out(funnel.funnel_summary) IS
  'text output of funnel_summary: {"pipeline": ..., "stages": [{"stage", "deals", "amount_count", "amount"}, ...]}';
CREATE FUNCTION funnel_internal.funnel_summary_recv(internal) RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_recv(internal) IS
  'binary input of funnel_summary (names, not OIDs, so summaries move between databases)';
CREATE FUNCTION funnel_internal.funnel_summary_send(funnel.funnel_summary) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_send(funnel.funnel_summary) IS
  'binary output of funnel_summary (names, not OIDs, so summaries move between databases)';

CREATE TYPE funnel.funnel_summary (
    INPUT = funnel_internal.funnel_summary_in,
    OUTPUT = funnel_internal.funnel_summary_out,
    RECEIVE = funnel_internal.funnel_summary_recv,
    SEND = funnel_internal.funnel_summary_send,
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

CREATE FUNCTION funnel_internal.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage) IS
  'funnel internal: transition function of funnel.funnel(stage)';
CREATE FUNCTION funnel_internal.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage, numeric)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_trans(funnel.funnel_summary, funnel.deal_stage, numeric) IS
  'funnel internal: transition function of funnel.funnel(stage, amount)';
CREATE FUNCTION funnel_internal.funnel_summary_merge(funnel.funnel_summary, funnel.funnel_summary)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_merge(funnel.funnel_summary, funnel.funnel_summary) IS
  'funnel internal: merges two funnel summaries of the same pipeline (combine function of funnel.funnel)';
CREATE FUNCTION funnel_internal.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey) IS
  'funnel internal: transition function of funnel.funnel(journey)';
CREATE FUNCTION funnel_internal.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey, numeric)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_journey_trans(funnel.funnel_summary, funnel.journey, numeric) IS
  'funnel internal: transition function of funnel.funnel(journey, amount)';
CREATE FUNCTION funnel_internal.funnel_summary_current_trans(funnel.funnel_summary, funnel.deal_stage, numeric, funnel.deal_stage)
    RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_summary_current_trans(funnel.funnel_summary, funnel.deal_stage, numeric, funnel.deal_stage) IS
  'funnel internal: transition function of funnel.funnel(stage, amount, lost_at)';

CREATE AGGREGATE funnel.funnel(reached funnel.deal_stage) (
    SFUNC = funnel_internal.funnel_summary_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel_internal.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.deal_stage) IS
  'funnel summary of deals given their furthest stage (see funnel.furthest); read it with funnel.report()';

CREATE AGGREGATE funnel.funnel(reached funnel.deal_stage, amount numeric) (
    SFUNC = funnel_internal.funnel_summary_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel_internal.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.deal_stage, numeric) IS
  'funnel summary of deals given their furthest stage and amount (NULL amounts count the deal, not the amount); read it with funnel.report()';

CREATE AGGREGATE funnel.funnel(journey funnel.journey) (
    SFUNC = funnel_internal.funnel_summary_journey_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel_internal.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.journey) IS
  'funnel summary of deals given their journeys (see funnel.journey): knows outcomes, so report() adds won, lost, open, lost_here, open_here and win_rate, and counts a journey that moved to another pipeline in moved and moved_here only';

CREATE AGGREGATE funnel.funnel(journey funnel.journey, amount numeric) (
    SFUNC = funnel_internal.funnel_summary_journey_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel_internal.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.journey, numeric) IS
  'funnel summary of deals given their journeys and amounts (NULL amounts count the deal, not the amount); report() adds the outcome columns; a journey that moved to another pipeline counts in moved and moved_here only';

CREATE AGGREGATE funnel.funnel(stage funnel.deal_stage, amount numeric, lost_at funnel.deal_stage) (
    SFUNC = funnel_internal.funnel_summary_current_trans,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel_internal.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.deal_stage, numeric, funnel.deal_stage) IS
  'funnel summary of deals given their CURRENT stage (no history) and amount; lost_at is the open stage a lost deal was lost from (NULL: unknown, counted at the first open stage); report() adds the outcome columns';

CREATE AGGREGATE funnel.funnel(summary funnel.funnel_summary) (
    SFUNC = funnel_internal.funnel_summary_merge,
    STYPE = funnel.funnel_summary,
    COMBINEFUNC = funnel_internal.funnel_summary_merge,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.funnel(funnel.funnel_summary) IS
  'merges funnel summaries (e.g. per owner) into one; all must belong to the same pipeline';
