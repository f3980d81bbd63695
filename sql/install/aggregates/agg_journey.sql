-- sql/install/aggregates/agg_journey.sql: the journey type and aggregate
-- C: src/aggregates/agg_journey.c, src/aggregates/agg_journey_in.c, src/aggregates/journey_io.c.  Part of the install script (see sql/install/README.md).

-- journey: one deal's path (issue 9)

CREATE TYPE funnel.journey;
CREATE FUNCTION funnel_internal.journey_in(cstring) RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_in(cstring) IS
  'text input of journey (JSON with pipeline and stage names)';
CREATE FUNCTION funnel_internal.journey_out(funnel.journey) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_out(funnel.journey) IS
  'text output of journey: {"pipeline", "outcome", "current", "current_entered_at", "furthest", "last_open", "last_open_entered_at", "first_entered_at"}';
CREATE FUNCTION funnel_internal.journey_recv(internal) RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_recv(internal) IS
  'binary input of journey (names, not OIDs)';
CREATE FUNCTION funnel_internal.journey_send(funnel.journey) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_send(funnel.journey) IS
  'binary output of journey (names, not OIDs)';
CREATE TYPE funnel.journey (
    INPUT = funnel_internal.journey_in,
    OUTPUT = funnel_internal.journey_out,
    RECEIVE = funnel_internal.journey_recv,
    SEND = funnel_internal.journey_send,
    INTERNALLENGTH = 48,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.journey IS
  'one deal''s path through its pipeline (funnel.journey() over its visits): current stage and outcome, furthest open stage, last open stage, first entry and close time; the input of funnel.funnel(journey [, amount])';

CREATE FUNCTION funnel_internal.journey_trans(funnel.journey, funnel.deal_stage, timestamptz)
    RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_trans(funnel.journey, funnel.deal_stage, timestamptz) IS
  'funnel internal: transition function of funnel.journey()';
CREATE FUNCTION funnel_internal.journey_combine(funnel.journey, funnel.journey)
    RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_combine(funnel.journey, funnel.journey) IS
  'funnel internal: combine function of funnel.journey() (two partial journeys of one deal)';

CREATE AGGREGATE funnel.journey(stage funnel.deal_stage, entered_at timestamptz) (
    SFUNC = funnel_internal.journey_trans,
    STYPE = funnel.journey,
    COMBINEFUNC = funnel_internal.journey_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.journey(funnel.deal_stage, timestamptz) IS
  'over one deal''s visits: its journey (current stage = stage of the latest entered_at, ties to the later stage; outcome; furthest open stage; last open stage; first entered_at); the input of funnel.funnel(journey [, amount])';

-- the journey of a deal in one pipeline of a tracked table that holds
-- several (sql/install/track/track_many.sql), over all the deal's visits
CREATE FUNCTION funnel_internal.journey_in_trans(internal, funnel.deal_stage, timestamptz, timestamptz, text)
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_in_trans(internal, funnel.deal_stage, timestamptz, timestamptz, text) IS
  'funnel internal: transition function of funnel.journey(stage, entered_at, left_at, pipeline)';
CREATE FUNCTION funnel_internal.journey_in_final(internal)
    RETURNS funnel.journey
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_in_final(internal) IS
  'funnel internal: final function of funnel.journey(stage, entered_at, left_at, pipeline)';
CREATE FUNCTION funnel_internal.journey_in_combine(internal, internal)
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_in_combine(internal, internal) IS
  'funnel internal: combine function of funnel.journey(stage, entered_at, left_at, pipeline)';
CREATE FUNCTION funnel_internal.journey_in_serialize(internal)
    RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_in_serialize(internal) IS
  'funnel internal: serialize function of funnel.journey(stage, entered_at, left_at, pipeline) (between parallel workers)';
CREATE FUNCTION funnel_internal.journey_in_deserialize(bytea, internal)
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.journey_in_deserialize(bytea, internal) IS
  'funnel internal: deserialize function of funnel.journey(stage, entered_at, left_at, pipeline) (between parallel workers)';
CREATE AGGREGATE funnel.journey(stage funnel.deal_stage, entered_at timestamptz,
                                left_at timestamptz, pipeline text) (
    SFUNC = funnel_internal.journey_in_trans,
    STYPE = internal,
    FINALFUNC = funnel_internal.journey_in_final,
    COMBINEFUNC = funnel_internal.journey_in_combine,
    SERIALFUNC = funnel_internal.journey_in_serialize,
    DESERIALFUNC = funnel_internal.journey_in_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.journey(funnel.deal_stage, timestamptz, timestamptz, text) IS
  'over all the visits of one deal of a tracked table of several pipelines: its journey in pipeline, as funnel.journey(stage, entered_at) over the visits there; outcome moved (current stage: its latest, in another pipeline) when it left an open stage of the pipeline for another pipeline and is not back; NULL when it never was in the pipeline';

CREATE FUNCTION funnel.outcome(journey funnel.journey) RETURNS text
    AS 'MODULE_PATHNAME', 'journey_outcome' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel.outcome(funnel.journey) IS
  'the outcome of a journey: won, lost or open (the kind of its current stage), or moved for a deal that left the pipeline for another pipeline of its tracked table';
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
  'when the deal entered its won or lost stage; NULL while it is open, and for a deal that moved to another pipeline';
