-- sql/install/aggregates/agg_window_funnel.sql: event funnels (window_funnel)
-- C: src/aggregates/agg_window_funnel.c, src/aggregates/agg_window_funnel_scan.c.  Part of the install script (see sql/install/README.md).

-- ---------------------------------------------------------------------------
-- Event funnels (issue 10): window_funnel, ClickHouse's windowFunnel
-- ---------------------------------------------------------------------------

CREATE FUNCTION funnel_internal.window_funnel_trans(internal, interval, timestamptz, VARIADIC "any")
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.window_funnel_trans(internal, interval, timestamptz, VARIADIC "any") IS
  'funnel internal: transition function of window_funnel (checks the step types once, collects (timestamp, step bitmask) events)';
CREATE FUNCTION funnel_internal.window_funnel_trans(internal, interval, text, timestamptz, VARIADIC "any")
    RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.window_funnel_trans(internal, interval, text, timestamptz, VARIADIC "any") IS
  'funnel internal: transition function of window_funnel with a mode (checks the step types once, collects (timestamp, step bitmask) events)';
CREATE FUNCTION funnel_internal.window_funnel_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.window_funnel_combine(internal, internal) IS
  'funnel internal: combine function of window_funnel (merges the event lists)';
CREATE FUNCTION funnel_internal.window_funnel_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.window_funnel_serialize(internal) IS
  'funnel internal: serializes a window_funnel state for parallel workers (12 bytes per event)';
CREATE FUNCTION funnel_internal.window_funnel_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.window_funnel_deserialize(bytea, internal) IS
  'funnel internal: deserializes a window_funnel state';
CREATE FUNCTION funnel_internal.window_funnel_final(internal) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.window_funnel_final(internal) IS
  'funnel internal: final function of window_funnel (sorts the events once, then one greedy scan)';

CREATE AGGREGATE funnel.window_funnel("window" interval, ts timestamptz, VARIADIC steps "any") (
    SFUNC = funnel_internal.window_funnel_trans,
    STYPE = internal,
    FINALFUNC = funnel_internal.window_funnel_final,
    COMBINEFUNC = funnel_internal.window_funnel_combine,
    SERIALFUNC = funnel_internal.window_funnel_serialize,
    DESERIALFUNC = funnel_internal.window_funnel_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.window_funnel(interval, timestamptz, VARIADIC "any") IS
  'event funnel (ClickHouse windowFunnel): length of the longest chain of steps 1..k met in order, each within window of the chain''s step-1 event (ts_k - ts_1 <= window); steps: 1 to 32 boolean conditions, one argument each (or VARIADIC boolean[]), NULL steps count as false; NULL timestamps skipped; 0 if none';

CREATE AGGREGATE funnel.window_funnel("window" interval, mode text, ts timestamptz, VARIADIC steps "any") (
    SFUNC = funnel_internal.window_funnel_trans,
    STYPE = internal,
    FINALFUNC = funnel_internal.window_funnel_final,
    COMBINEFUNC = funnel_internal.window_funnel_combine,
    SERIALFUNC = funnel_internal.window_funnel_serialize,
    DESERIALFUNC = funnel_internal.window_funnel_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.window_funnel(interval, text, timestamptz, VARIADIC "any") IS
  'event funnel (ClickHouse windowFunnel) with modes: strict_deduplication, strict_order, strict_increase, or a comma-separated list of them ('''' = default); same chain rules as window_funnel(window, ts, steps)';
