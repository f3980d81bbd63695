-- test/pgtap/duration_sample.sql: funnel.duration_sample, the state of the
-- exact time-in-stage percentiles (issue 11, item 3).  It is a real SQL
-- type (so Citus pushes partial aggregation down), its text and binary
-- forms read back every value they print, binary input is strict, partial
-- samples merge to the same percentile as one pass (what Citus's
-- worker_partial_agg / coord_combine_agg do through the text form), and
-- the aggregates stay equal to percentile_cont.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(39);

-- the aggregates' state is the type, with no serialize functions
SELECT is((SELECT array_agg(DISTINCT aggtranstype::regtype::text) FROM pg_aggregate
            WHERE aggfnoid::regproc::text IN ('funnel.median_time_in_stage', 'funnel.time_in_stage_percentile',
                                              'funnel.median_time_in_stage_days', 'funnel.time_in_stage_percentile_days')),
          ARRAY['funnel.duration_sample'], 'the four percentile aggregates keep a funnel.duration_sample state');
SELECT is((SELECT count(*)::int FROM pg_aggregate
            WHERE aggtranstype = 'funnel.duration_sample'::regtype AND aggcombinefn <> 0 AND aggserialfn = 0 AND aggdeserialfn = 0),
          4, '... with a combine function and no serialize functions');
SELECT ok((SELECT typsend <> 0 AND typreceive <> 0 AND typlen = -1 AND typalign = 'd'
             FROM pg_type WHERE oid = 'funnel.duration_sample'::regtype),
          'duration_sample is a double-aligned varlena with send and receive');

-- binary input through COPY: pg_temp.recv(bytes) returns the value's text
CREATE TEMP TABLE recv_sample (v funnel.duration_sample);
CREATE FUNCTION pg_temp.recv(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    path text := current_setting('data_directory') || '/funnel_duration_sample.bin';
    result text;
BEGIN
    EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
    DELETE FROM recv_sample;
    EXECUTE format('COPY recv_sample FROM %L (FORMAT binary)', path);
    SELECT v::text INTO result FROM recv_sample;
    RETURN result;
END
$$;

-- text and binary round trips
CREATE TEMP TABLE samples (t text);
INSERT INTO samples VALUES
    ('{"fraction": 0.5, "durations_us": [3600000000,86400000000,-1,0]}'),
    ('{"fraction": null, "durations_us": []}'),
    ('{"fraction": 1e-05, "durations_us": [9223372036854775807,-9223372036854775808]}'),
    ('{"fraction": 0.1, "durations_us": [7]}'),
    ('{"fraction": 1, "durations_us": []}'),
    ('{"fraction": 0, "durations_us": [1,1,1]}');
SELECT is((SELECT count(*)::int FROM samples WHERE t::funnel.duration_sample::text = t), 6,
          'text form reads back to itself');
SELECT is((SELECT count(*)::int FROM samples WHERE pg_temp.recv(funnel_internal.duration_sample_send(t::funnel.duration_sample)) = t), 6,
          'binary form reads back to the same value');
SELECT is(funnel_internal.duration_sample_send('{"fraction": 0.5, "durations_us": [1,-2]}'),
          '\x01013fe000000000000000000000000000020000000000000001fffffffffffffffe'::bytea,
          'binary form: version, flags, fraction, count, 8 bytes per duration (big-endian)');
SELECT is('{ "fraction" :0.25 , "durations_us" : [ 1 , 2 ] }'::funnel.duration_sample::text,
          '{"fraction": 0.25, "durations_us": [1,2]}', 'white space is allowed in the text form');
SELECT is(funnel_internal.time_in_stage_final(('{"fraction": ' || 0.9::float8 || ', "durations_us": [1,2,3]}')::funnel.duration_sample),
          interval '2.8 microseconds', 'a float8 fraction prints exactly and reads back');

-- strict text input
SELECT throws_ok($$SELECT '{"fraction": 1.5, "durations_us": []}'::funnel.duration_sample$$, '22003', NULL, 'a fraction above 1 is refused');
SELECT throws_ok($$SELECT '{"fraction": -0.5, "durations_us": []}'::funnel.duration_sample$$, '22003', NULL, 'a negative fraction is refused');
SELECT throws_ok($$SELECT '{"fraction": NaN, "durations_us": []}'::funnel.duration_sample$$, '22P02', NULL, 'a NaN fraction is refused');
SELECT throws_ok($$SELECT '{"fraction": 0.5, "durations_us": [1.5]}'::funnel.duration_sample$$, '22P02', NULL, 'a fractional microsecond is refused');
SELECT throws_ok($$SELECT '{"fraction": 0.5, "durations_us": [9223372036854775808]}'::funnel.duration_sample$$, '22003', NULL, 'a duration beyond bigint is refused');
SELECT throws_ok($$SELECT '{"durations_us": [], "fraction": 0.5}'::funnel.duration_sample$$, '22P02', NULL, 'keys come in order');
SELECT throws_ok($$SELECT '{"fraction": 0.5, "durations_us": [1,]}'::funnel.duration_sample$$, '22P02', NULL, 'a trailing comma is refused');
SELECT throws_ok($$SELECT '{"fraction": 0.5, "durations_us": [1]} x'::funnel.duration_sample$$, '22P02', NULL, 'trailing text is refused');

-- strict binary input
DELETE FROM recv_sample;
SELECT throws_ok($$SELECT pg_temp.recv('\x02013fe00000000000000000000000000000'::bytea)$$, '22P03', NULL, 'an unknown version is refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01033fe00000000000000000000000000000'::bytea)$$, '22P03', NULL, 'unknown flags are refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01003fe00000000000000000000000000000'::bytea)$$, '22P03', NULL, 'a fraction without its flag is refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01013ff80000000000000000000000000000'::bytea)$$, '22003', NULL, 'a binary fraction of 1.5 is refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01017ff80000000000000000000000000000'::bytea)$$, '22003', NULL, 'a binary NaN fraction is refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01013fe000000000000000000000000000020000000000000001'::bytea)$$, '22P03', NULL, 'a count above the durations sent is refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01013fe0000000000000ffffffffffffffff0000000000000001'::bytea)$$, '22P03', NULL, 'a negative count is refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01013fe00000000000000000000000000001000000000000000100'::bytea)$$, '22P03', NULL, 'trailing bytes are refused');
SELECT throws_ok($$SELECT pg_temp.recv('\x01013fe0'::bytea)$$, '08P01', NULL, 'a truncated header is refused');
SELECT is((SELECT count(*)::int FROM recv_sample), 0, 'nothing was stored by a refused COPY');

-- what Citus runs: a partial aggregate (state, no final function) per
-- worker, the states merged by the combine function on the coordinator
CREATE AGGREGATE pg_temp.sample_of(timestamptz, timestamptz) (
    SFUNC = funnel_internal.time_in_stage_trans, STYPE = funnel.duration_sample);
CREATE AGGREGATE pg_temp.merge(funnel.duration_sample) (
    SFUNC = funnel_internal.time_in_stage_combine, STYPE = funnel.duration_sample);

-- visits: 9 stages x random durations, some open, some negative
CREATE TEMP TABLE v AS
SELECT g % 9 AS stage, '2024-01-01'::timestamptz + (g * 7919 % 100000) * interval '1 minute' AS entered_at,
       CASE WHEN g % 13 = 0 THEN NULL
            ELSE '2024-01-01'::timestamptz + (g * 7919 % 100000) * interval '1 minute'
                 + ((g * 104729 % 9999991) - 100000) * interval '1 second' + (g % 1000) * interval '1 microsecond' END AS left_at
  FROM generate_series(1, 20000) g;

SELECT is((SELECT count(*)::int FROM (
             SELECT stage, funnel.median_time_in_stage(entered_at, left_at) AS m,
                    funnel.time_in_stage_percentile(entered_at, left_at, 0.9) AS p,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) AS em,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY left_at - entered_at) AS ep
               FROM v GROUP BY stage) x WHERE m = em AND p = ep AND m::text = em::text AND p::text = ep::text),
          9, 'per stage, median and p90 equal percentile_cont');

-- partial samples per (stage, shard) merged per stage, as Citus's
-- coordinator does with the workers' text forms
SELECT is((SELECT count(*)::int FROM (
             SELECT stage, funnel_internal.time_in_stage_final(s) AS m, funnel_internal.time_in_stage_final_days(s) AS d
               FROM (SELECT stage, pg_temp.merge(part::text::funnel.duration_sample) AS s
                       FROM (SELECT stage, extract(day FROM entered_at)::int % 4 AS shard, pg_temp.sample_of(entered_at, left_at) AS part
                               FROM v GROUP BY 1, 2) p
                      GROUP BY stage) q) r
             JOIN (SELECT stage, percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) AS em,
                          funnel.median_time_in_stage_days(entered_at, left_at) AS ed
                     FROM v GROUP BY stage) e USING (stage)
            WHERE m = em AND m::text = em::text AND d = ed),
          9, 'partial samples shipped as text and merged give the same medians');
SELECT is((SELECT funnel_internal.time_in_stage_final(pg_temp.merge(s))
             FROM (SELECT pg_temp.recv(funnel_internal.duration_sample_send(pg_temp.sample_of(entered_at, left_at)))::funnel.duration_sample AS s
                     FROM v GROUP BY stage) x),
          (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) FROM v),
          'per-stage samples shipped in binary and merged give the overall median');

-- combine and transition called directly (outside an aggregate) leave their inputs alone
SELECT is((SELECT funnel_internal.time_in_stage_combine(s, s)::text || ' ' || s::text
             FROM (SELECT '{"fraction": 0.5, "durations_us": [1,2]}'::funnel.duration_sample AS s) x),
          '{"fraction": 0.5, "durations_us": [1,2,1,2]} {"fraction": 0.5, "durations_us": [1,2]}',
          'combine of a sample with itself appends a copy and leaves the input alone');
SELECT is(funnel_internal.time_in_stage_trans('{"fraction": 0.5, "durations_us": [1]}'::funnel.duration_sample,
                                     '2024-01-01', '2024-01-02')::text,
          '{"fraction": 0.5, "durations_us": [1,86400000000]}', 'the transition appends one duration');
SELECT throws_ok($$SELECT funnel_internal.time_in_stage_combine('{"fraction": 0.5, "durations_us": [1]}', '{"fraction": 0.9, "durations_us": [1]}')$$,
                 '22023', NULL, 'samples of two fractions do not merge');

-- a stored sample (a table column), read by the final functions
CREATE TEMP TABLE stored AS SELECT stage, pg_temp.sample_of(entered_at, left_at) AS s FROM v GROUP BY stage;
SELECT is((SELECT count(*)::int FROM stored JOIN (
             SELECT stage, percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at) AS em FROM v GROUP BY stage) e USING (stage)
            WHERE funnel_internal.time_in_stage_final(s) = em),
          9, 'stored samples give the medians');

-- window use: the final function reads the growing state, never consumes it
SELECT is((SELECT count(*)::int FROM (
             SELECT k, funnel.median_time_in_stage(entered_at, left_at) OVER (ORDER BY k) AS m,
                    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY left_at - entered_at)
                       FROM (SELECT * FROM v WHERE stage = 1 ORDER BY entered_at, left_at LIMIT 200) y
                      WHERE y.entered_at < x.entered_at OR (y.entered_at = x.entered_at AND y.left_at IS NOT DISTINCT FROM x.left_at)) AS em
               FROM (SELECT *, row_number() OVER (ORDER BY entered_at, left_at) AS k
                       FROM (SELECT * FROM v WHERE stage = 1 ORDER BY entered_at, left_at LIMIT 200) z) x) w
            WHERE m IS NOT DISTINCT FROM em),
          200, 'a running median (window aggregate) equals percentile_cont over the rows so far');

-- a visit whose duration does not fit in an interval: 22008 (PostgreSQL 15's
-- timestamptz_mi wraps around there instead); the widest one that fits is exact
SELECT throws_ok($$ SELECT funnel.median_time_in_stage(e, l)
                      FROM (VALUES ('4713-01-01 BC'::timestamptz, '294276-12-31'::timestamptz)) v(e, l) $$,
                 '22008', 'interval out of range', 'median_time_in_stage refuses a duration that overflows');
SELECT is((SELECT funnel.median_time_in_stage(e, l)
             FROM (VALUES ('4713-01-01 BC'::timestamptz, '200000-01-01'::timestamptz)) v(e, l)),
          justify_hours('200000-01-01'::timestamptz - '4713-01-01 BC'::timestamptz),
          'a 204,713-year visit is still exact');

-- a syntax error quotes at most 80 bytes of a long state literal, not the whole literal
CREATE FUNCTION pg_temp.error_text(lit text, typ regtype) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('SELECT %L::%s', lit, typ);
    RETURN NULL;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN SQLERRM;
END $f$;
SELECT cmp_ok(length(pg_temp.error_text('{"fraction": 0.5, "durations_us": [' || repeat('1,', 500000) || 'x]}',
                                        'funnel.duration_sample')), '<', 200,
              'a 1 MB duration_sample literal with a syntax error gives a short message');
SELECT cmp_ok(length(pg_temp.error_text('(1,1x' || repeat('1', 500000) || ')', 'funnel.forecast_state')), '<', 200,
              'a 500 kB forecast_state literal with a syntax error gives a short message');
SELECT throws_ok(format('SELECT %L::funnel.forecast_state', '(' || repeat('1', 500000) || ',1)'),
                 '22003', 'number "' || repeat('1', 80) || '..." is out of range for a funnel total',
                 'an out-of-range number is quoted to 80 digits');

SELECT * FROM finish();
ROLLBACK;
