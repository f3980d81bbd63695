-- sql/install/aggregates/agg_stage.sql: aggregates over stages: furthest, conversion_rate, win_rate
-- C: src/aggregates/agg_stage.c, src/aggregates/agg_common.c.  Part of the install script (see sql/install/README.md).

-- Aggregates (issue 4): src/agg_*.c, doc/aggregates.md, doc/metrics.md
--
-- Every aggregate is PARALLEL SAFE with a combine function.  Small states
-- are real SQL types with text and binary I/O (Citus can push partial
-- aggregation down to workers); only the exact percentiles keep an
-- `internal` state, with serialize/deserialize functions.
--------------------------------------------------------------------------

-- furthest(stage): won if won, else the furthest open stage, else lost

CREATE FUNCTION funnel_internal.furthest_trans(funnel.deal_stage, funnel.deal_stage)
    RETURNS funnel.deal_stage
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.furthest_trans(funnel.deal_stage, funnel.deal_stage) IS
  'funnel internal: transition and combine function of funnel.furthest(): the further of two stages (won > open by position > lost)';

CREATE AGGREGATE funnel.furthest(funnel.deal_stage) (
    SFUNC = funnel_internal.furthest_trans,
    STYPE = funnel.deal_stage,
    COMBINEFUNC = funnel_internal.furthest_trans,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.furthest(funnel.deal_stage) IS
  'over one deal''s visits: a won stage if the deal was won, else its furthest open stage, else its lost stage; the input of funnel.funnel() and funnel.conversion_rate()';

-- counters shared by conversion_rate and win_rate: bigint[2]

CREATE FUNCTION funnel_internal.funnel_counters_combine(bigint[], bigint[]) RETURNS bigint[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_counters_combine(bigint[], bigint[]) IS
  'funnel internal: combine function of conversion_rate and win_rate (adds two bigint[2] counter states)';

CREATE FUNCTION funnel_internal.funnel_counters_ratio(bigint[]) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.funnel_counters_ratio(bigint[]) IS
  'funnel internal: final function of conversion_rate: counters[2] / counters[1], NULL if counters[1] = 0';

CREATE FUNCTION funnel_internal.conversion_rate_trans(bigint[], funnel.deal_stage, funnel.deal_stage, funnel.deal_stage)
    RETURNS bigint[]
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.conversion_rate_trans(bigint[], funnel.deal_stage, funnel.deal_stage, funnel.deal_stage) IS
  'funnel internal: transition function of conversion_rate; state {deals that reached from_stage, of those reached to_stage}';

CREATE AGGREGATE funnel.conversion_rate(reached funnel.deal_stage, from_stage funnel.deal_stage, to_stage funnel.deal_stage) (
    SFUNC = funnel_internal.conversion_rate_trans,
    STYPE = bigint[],
    INITCOND = '{0,0}',
    FINALFUNC = funnel_internal.funnel_counters_ratio,
    COMBINEFUNC = funnel_internal.funnel_counters_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.conversion_rate(funnel.deal_stage, funnel.deal_stage, funnel.deal_stage) IS
  'among deals that reached from_stage (implied passage: a later open stage or a won stage passed it), the fraction that reached to_stage; NULL if none reached from_stage. Input: each deal''s furthest stage';

CREATE FUNCTION funnel_internal.win_rate_trans(bigint[], funnel.deal_stage) RETURNS bigint[]
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.win_rate_trans(bigint[], funnel.deal_stage) IS
  'funnel internal: transition function of win_rate; state {won, lost}';

CREATE FUNCTION funnel_internal.win_rate_final(bigint[]) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.win_rate_final(bigint[]) IS
  'funnel internal: final function of win_rate: won / (won + lost), NULL if no deal is closed';

CREATE AGGREGATE funnel.win_rate(stage funnel.deal_stage) (
    SFUNC = funnel_internal.win_rate_trans,
    STYPE = bigint[],
    INITCOND = '{0,0}',
    FINALFUNC = funnel_internal.win_rate_final,
    COMBINEFUNC = funnel_internal.funnel_counters_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.win_rate(funnel.deal_stage) IS
  'won / (won + lost) over deals'' current stages; open deals and NULLs are ignored; NULL if no deal is closed';
