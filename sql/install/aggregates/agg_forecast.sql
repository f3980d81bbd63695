-- sql/install/aggregates/agg_forecast.sql: the forecast state and weighted_forecast
-- C: src/aggregates/agg_forecast.c.  Part of the install script (see sql/install/README.md).

-- forecast_state and weighted_forecast

CREATE TYPE funnel.forecast_state;
CREATE FUNCTION funnel_internal.forecast_state_in(cstring) RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.forecast_state_in(cstring) IS 'text input of forecast_state: (rows,sum)';
CREATE FUNCTION funnel_internal.forecast_state_out(funnel.forecast_state) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.forecast_state_out(funnel.forecast_state) IS 'text output of forecast_state: (rows,sum)';
CREATE FUNCTION funnel_internal.forecast_state_recv(internal) RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.forecast_state_recv(internal) IS 'binary input of forecast_state';
CREATE FUNCTION funnel_internal.forecast_state_send(funnel.forecast_state) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.forecast_state_send(funnel.forecast_state) IS 'binary output of forecast_state';
CREATE TYPE funnel.forecast_state (
    INPUT = funnel_internal.forecast_state_in,
    OUTPUT = funnel_internal.forecast_state_out,
    RECEIVE = funnel_internal.forecast_state_recv,
    SEND = funnel_internal.forecast_state_send,
    INTERNALLENGTH = 32,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.forecast_state IS
  'a row count and an exact 128-bit fixed-point sum: the transition state of funnel.weighted_forecast (sum of amount x probability) and funnel.avg_time_in_stage (sum of microseconds)';

CREATE FUNCTION funnel_internal.weighted_forecast_stage_trans(funnel.forecast_state, numeric, funnel.deal_stage)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.weighted_forecast_stage_trans(funnel.forecast_state, numeric, funnel.deal_stage) IS
  'funnel internal: transition function of weighted_forecast(amount, stage)';
CREATE FUNCTION funnel_internal.weighted_forecast_numeric_trans(funnel.forecast_state, numeric, numeric)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.weighted_forecast_numeric_trans(funnel.forecast_state, numeric, numeric) IS
  'funnel internal: transition function of weighted_forecast(amount, probability)';
CREATE FUNCTION funnel_internal.forecast_state_combine(funnel.forecast_state, funnel.forecast_state)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.forecast_state_combine(funnel.forecast_state, funnel.forecast_state) IS
  'funnel internal: combine function of weighted_forecast';
CREATE FUNCTION funnel_internal.forecast_state_final(funnel.forecast_state) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.forecast_state_final(funnel.forecast_state) IS
  'funnel internal: final function of weighted_forecast: the exact sum as numeric';

CREATE AGGREGATE funnel.weighted_forecast(amount numeric, stage funnel.deal_stage) (
    SFUNC = funnel_internal.weighted_forecast_stage_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel_internal.forecast_state_final,
    COMBINEFUNC = funnel_internal.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.weighted_forecast(numeric, funnel.deal_stage) IS
  'exact sum of amount x probability(stage)::numeric (won 1, lost 0); NULL amounts skipped, negative amounts allowed, NaN/infinity refused; NULL if no row';

CREATE AGGREGATE funnel.weighted_forecast(amount numeric, probability numeric) (
    SFUNC = funnel_internal.weighted_forecast_numeric_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel_internal.forecast_state_final,
    COMBINEFUNC = funnel_internal.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.weighted_forecast(numeric, numeric) IS
  'exact numeric sum of amount x probability, probability in [0,1]; rows with a NULL are skipped, negative amounts allowed, NaN/infinity refused; NULL if no row';

CREATE FUNCTION funnel_internal.weighted_forecast_float8_trans(funnel.forecast_state, numeric, double precision)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.weighted_forecast_float8_trans(funnel.forecast_state, numeric, double precision) IS
  'funnel internal: transition function of weighted_forecast(amount, probability float8)';

CREATE AGGREGATE funnel.weighted_forecast(amount numeric, probability double precision) (
    SFUNC = funnel_internal.weighted_forecast_float8_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel_internal.forecast_state_final,
    COMBINEFUNC = funnel_internal.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.weighted_forecast(numeric, double precision) IS
  'exact numeric sum of amount x probability::numeric (15 significant digits, as for a stage), probability in [0,1], e.g. funnel.probability(stage); rows with a NULL are skipped, NaN/infinity refused; NULL if no row';
