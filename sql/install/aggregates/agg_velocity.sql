-- sql/install/aggregates/agg_velocity.sql: sales velocity and the sales cycle
-- C: src/aggregates/agg_velocity.c.  Part of the install script (see sql/install/README.md).

-- velocity_state and sales_velocity

CREATE TYPE funnel.velocity_state;
CREATE FUNCTION funnel_internal.velocity_state_in(cstring) RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.velocity_state_in(cstring) IS
  'text input of velocity_state: (deals,won,lost,won_amount_count,won_amount,cycles,cycle_microseconds)';
CREATE FUNCTION funnel_internal.velocity_state_out(funnel.velocity_state) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.velocity_state_out(funnel.velocity_state) IS
  'text output of velocity_state: (deals,won,lost,won_amount_count,won_amount,cycles,cycle_microseconds)';
CREATE FUNCTION funnel_internal.velocity_state_recv(internal) RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.velocity_state_recv(internal) IS 'binary input of velocity_state';
CREATE FUNCTION funnel_internal.velocity_state_send(funnel.velocity_state) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.velocity_state_send(funnel.velocity_state) IS 'binary output of velocity_state';
CREATE TYPE funnel.velocity_state (
    INPUT = funnel_internal.velocity_state_in,
    OUTPUT = funnel_internal.velocity_state_out,
    RECEIVE = funnel_internal.velocity_state_recv,
    SEND = funnel_internal.velocity_state_send,
    INTERNALLENGTH = 80,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE funnel.velocity_state IS
  'transition state of funnel.sales_velocity: deal, won and lost counts, exact won amount total, won cycle count and total microseconds';

CREATE FUNCTION funnel_internal.sales_velocity_trans(funnel.velocity_state, funnel.deal_stage, numeric, timestamptz, timestamptz)
    RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.sales_velocity_trans(funnel.velocity_state, funnel.deal_stage, numeric, timestamptz, timestamptz) IS
  'funnel internal: transition function of sales_velocity';
CREATE FUNCTION funnel_internal.velocity_state_combine(funnel.velocity_state, funnel.velocity_state)
    RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.velocity_state_combine(funnel.velocity_state, funnel.velocity_state) IS
  'funnel internal: combine function of sales_velocity';
CREATE FUNCTION funnel_internal.velocity_state_final(funnel.velocity_state) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.velocity_state_final(funnel.velocity_state) IS
  'funnel internal: final function of sales_velocity';

CREATE AGGREGATE funnel.sales_velocity(stage funnel.deal_stage, amount numeric,
                                       created_at timestamptz, closed_at timestamptz) (
    SFUNC = funnel_internal.sales_velocity_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel_internal.velocity_state_final,
    COMBINEFUNC = funnel_internal.velocity_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.sales_velocity(funnel.deal_stage, numeric, timestamptz, timestamptz) IS
  'amount per day: open deals x win rate x average won amount / average cycle of won deals in days (cycle = closed_at - created_at); one row per deal, its current stage; NULL when a factor is undefined (doc/metrics.md)';

CREATE FUNCTION funnel_internal.sales_velocity_journey_trans(funnel.velocity_state, funnel.journey, numeric)
    RETURNS funnel.velocity_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.sales_velocity_journey_trans(funnel.velocity_state, funnel.journey, numeric) IS
  'funnel internal: transition function of sales_velocity(journey, amount)';

CREATE AGGREGATE funnel.sales_velocity(journey funnel.journey, amount numeric) (
    SFUNC = funnel_internal.sales_velocity_journey_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel_internal.velocity_state_final,
    COMBINEFUNC = funnel_internal.velocity_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.sales_velocity(funnel.journey, numeric) IS
  'sales velocity from journeys: outcome from the current stage, cycle = first entry to close of won deals';

CREATE TYPE funnel.velocity AS (
    open_deals bigint, won bigint, lost bigint, win_rate numeric,
    avg_won_amount numeric, avg_won_cycle_days numeric, velocity numeric);
COMMENT ON TYPE funnel.velocity IS
  'sales velocity and its inputs: open deals x win_rate x avg_won_amount / avg_won_cycle_days = velocity (amount per day)';

CREATE FUNCTION funnel_internal.velocity_state_parts(funnel.velocity_state) RETURNS funnel.velocity
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.velocity_state_parts(funnel.velocity_state) IS
  'funnel internal: final function of sales_velocity_parts';

CREATE AGGREGATE funnel.sales_velocity_parts(stage funnel.deal_stage, amount numeric,
                                             created_at timestamptz, closed_at timestamptz) (
    SFUNC = funnel_internal.sales_velocity_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel_internal.velocity_state_parts,
    COMBINEFUNC = funnel_internal.velocity_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.sales_velocity_parts(funnel.deal_stage, numeric, timestamptz, timestamptz) IS
  'sales_velocity with each input visible: (open_deals, won, lost, win_rate, avg_won_amount, avg_won_cycle_days, velocity)';

CREATE AGGREGATE funnel.sales_velocity_parts(journey funnel.journey, amount numeric) (
    SFUNC = funnel_internal.sales_velocity_journey_trans,
    STYPE = funnel.velocity_state,
    FINALFUNC = funnel_internal.velocity_state_parts,
    COMBINEFUNC = funnel_internal.velocity_state_combine,
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
