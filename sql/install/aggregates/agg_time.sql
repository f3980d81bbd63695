-- sql/install/aggregates/agg_time.sql: time in stage: exact percentiles (duration_sample) and averages
-- C: src/aggregates/agg_time.c, src/aggregates/duration_sample.c.  Part of the install script (see sql/install/README.md).

-- time in stage: exact percentile_cont over left_at - entered_at

CREATE TYPE funnel.duration_sample;
CREATE FUNCTION funnel_internal.duration_sample_in(cstring) RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.duration_sample_in(cstring) IS
  'text input of duration_sample: {"fraction": 0.5 or null, "durations_us": [microseconds, ...]}';
CREATE FUNCTION funnel_internal.duration_sample_out(funnel.duration_sample) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.duration_sample_out(funnel.duration_sample) IS
  'text output of duration_sample: {"fraction": 0.5 or null, "durations_us": [microseconds, ...]}';
CREATE FUNCTION funnel_internal.duration_sample_recv(internal) RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.duration_sample_recv(internal) IS
  'binary input of duration_sample (every field checked)';
CREATE FUNCTION funnel_internal.duration_sample_send(funnel.duration_sample) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.duration_sample_send(funnel.duration_sample) IS
  'binary output of duration_sample: version, flags, fraction, count, then 8 bytes per duration';
CREATE TYPE funnel.duration_sample (
    INPUT = funnel_internal.duration_sample_in,
    OUTPUT = funnel_internal.duration_sample_out,
    RECEIVE = funnel_internal.duration_sample_recv,
    SEND = funnel_internal.duration_sample_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = extended
);
COMMENT ON TYPE funnel.duration_sample IS
  'every closed visit''s duration (8 bytes per visit) and the percentile fraction: the transition state of the exact time-in-stage percentiles, mergeable across parallel and Citus workers';

CREATE FUNCTION funnel_internal.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz)
    RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz) IS
  'funnel internal: transition function of median_time_in_stage (collects closed visit durations)';
CREATE FUNCTION funnel_internal.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz, double precision)
    RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.time_in_stage_trans(funnel.duration_sample, timestamptz, timestamptz, double precision) IS
  'funnel internal: transition function of time_in_stage_percentile (collects closed visit durations)';
CREATE FUNCTION funnel_internal.time_in_stage_combine(funnel.duration_sample, funnel.duration_sample)
    RETURNS funnel.duration_sample
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.time_in_stage_combine(funnel.duration_sample, funnel.duration_sample) IS
  'funnel internal: combine function of the time-in-stage percentiles (appends durations)';
CREATE FUNCTION funnel_internal.time_in_stage_final(funnel.duration_sample) RETURNS interval
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.time_in_stage_final(funnel.duration_sample) IS
  'funnel internal: final function of the time-in-stage percentiles (selection + percentile_cont interpolation)';

CREATE AGGREGATE funnel.median_time_in_stage(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel_internal.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel_internal.time_in_stage_final,
    COMBINEFUNC = funnel_internal.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.median_time_in_stage(timestamptz, timestamptz) IS
  'exact median of left_at - entered_at over closed visits (= percentile_cont(0.5)); open visits (left_at NULL) are skipped; NULL if none';

CREATE AGGREGATE funnel.time_in_stage_percentile(entered_at timestamptz, left_at timestamptz, fraction double precision) (
    SFUNC = funnel_internal.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel_internal.time_in_stage_final,
    COMBINEFUNC = funnel_internal.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.time_in_stage_percentile(timestamptz, timestamptz, double precision) IS
  'exact percentile_cont(fraction) of left_at - entered_at over closed visits; fraction in [0,1], the same on every row; open visits are skipped; NULL if none';

-- numeric-days forms of the percentiles (issue 9.4)

CREATE FUNCTION funnel_internal.time_in_stage_final_days(funnel.duration_sample) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.time_in_stage_final_days(funnel.duration_sample) IS
  'funnel internal: final function of the *_days time-in-stage percentiles (the percentile in days, numeric)';

CREATE AGGREGATE funnel.median_time_in_stage_days(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel_internal.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel_internal.time_in_stage_final_days,
    COMBINEFUNC = funnel_internal.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.median_time_in_stage_days(timestamptz, timestamptz) IS
  'median_time_in_stage in days as numeric (for BI tools that cannot chart intervals): the exact median microseconds / 86400000000';

CREATE AGGREGATE funnel.time_in_stage_percentile_days(entered_at timestamptz, left_at timestamptz, fraction double precision) (
    SFUNC = funnel_internal.time_in_stage_trans,
    STYPE = funnel.duration_sample,
    FINALFUNC = funnel_internal.time_in_stage_final_days,
    COMBINEFUNC = funnel_internal.time_in_stage_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.time_in_stage_percentile_days(timestamptz, timestamptz, double precision) IS
  'time_in_stage_percentile in days as numeric (for BI tools that cannot chart intervals)';

-- average time in stage (issue 9.4): an exact microsecond total in a forecast_state

CREATE FUNCTION funnel_internal.avg_time_in_stage_trans(funnel.forecast_state, timestamptz, timestamptz)
    RETURNS funnel.forecast_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.avg_time_in_stage_trans(funnel.forecast_state, timestamptz, timestamptz) IS
  'funnel internal: transition function of avg_time_in_stage (closed visits and their total microseconds)';
CREATE FUNCTION funnel_internal.avg_time_in_stage_final(funnel.forecast_state) RETURNS interval
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.avg_time_in_stage_final(funnel.forecast_state) IS
  'funnel internal: final function of avg_time_in_stage (mean, rounded to the microsecond, justified)';
CREATE FUNCTION funnel_internal.avg_time_in_stage_final_days(funnel.forecast_state) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.avg_time_in_stage_final_days(funnel.forecast_state) IS
  'funnel internal: final function of avg_time_in_stage_days (mean in days, numeric)';

CREATE AGGREGATE funnel.avg_time_in_stage(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel_internal.avg_time_in_stage_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel_internal.avg_time_in_stage_final,
    COMBINEFUNC = funnel_internal.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.avg_time_in_stage(timestamptz, timestamptz) IS
  'mean of left_at - entered_at over closed visits, rounded to the microsecond, as a justified interval (days and time, no months); open visits skipped; NULL if none';

CREATE AGGREGATE funnel.avg_time_in_stage_days(entered_at timestamptz, left_at timestamptz) (
    SFUNC = funnel_internal.avg_time_in_stage_trans,
    STYPE = funnel.forecast_state,
    FINALFUNC = funnel_internal.avg_time_in_stage_final_days,
    COMBINEFUNC = funnel_internal.forecast_state_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel.avg_time_in_stage_days(timestamptz, timestamptz) IS
  'mean of left_at - entered_at over closed visits in days, as numeric (for BI tools that cannot chart intervals)';
