-- test/pgtap/agg_state_io.sql: the aggregate state types (funnel_summary,
-- forecast_state, velocity_state and the bigint[2] counters) read back
-- every value they print, in text and in binary; counters never wrap (22003
-- in transition, combine and input functions); binary input is as strict
-- as text input; every probability set_probability() accepts works in
-- every aggregate (issue 7, item 4).  Binary input is fed through
-- COPY ... (FORMAT binary) from a file in the data directory (superuser);
-- the overflow checks of transition functions run as a NOSUPERUSER role.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(98);

-- names that need quoting in JSON, COPY and messages
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1,0.3,0.6]);
SELECT funnel.create_pipeline('q"u,o\te d 零售',
    ARRAY['a, b', 'say "hi"', 'back\slash', '商机 阶段', repeat('x', 63), repeat('阶', 21), '{"stage", null}'],
    won => ARRAY['成交'], lost => ARRAY['lost ,"\']);
SELECT funnel.create_pipeline(repeat('漏', 21), ARRAY[repeat('y', 63)]);

-- binary input through COPY: pg_temp.recv(type, bytes) returns the value's text
CREATE TEMP TABLE recv_funnel_summary (v funnel.funnel_summary);
CREATE TEMP TABLE recv_forecast_state (v funnel.forecast_state);
CREATE TEMP TABLE recv_velocity_state (v funnel.velocity_state);
CREATE FUNCTION pg_temp.recv(typ text, b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    path text := current_setting('data_directory') || '/funnel_state_io.bin';
    result text;
BEGIN
    EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
    EXECUTE format('DELETE FROM pg_temp.%I', 'recv_' || typ);
    EXECUTE format('COPY pg_temp.%I FROM %L (FORMAT binary)', 'recv_' || typ, path);
    EXECUTE format('SELECT v::text FROM pg_temp.%I', 'recv_' || typ) INTO result;
    RETURN result;
END
$$;
-- a table's rows through COPY binary into <table>_back
CREATE FUNCTION pg_temp.copy_back(tab text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    path text := current_setting('data_directory') || '/funnel_state_io.bin';
BEGIN
    EXECUTE format('COPY pg_temp.%I TO %L (FORMAT binary)', tab, path);
    EXECUTE format('CREATE TEMP TABLE %I (LIKE pg_temp.%I)', tab || '_back', tab);
    EXECUTE format('COPY pg_temp.%I FROM %L (FORMAT binary)', tab || '_back', path);
END
$$;
-- bytes of the binary forms, written independently of the C code
CREATE FUNCTION pg_temp.cstr(t text) RETURNS bytea LANGUAGE sql
    AS $$ SELECT convert_to(t, 'UTF8') || '\x00'::bytea $$;
CREATE FUNCTION pg_temp.i128(v numeric) RETURNS bytea LANGUAGE sql AS $$
    SELECT int8send(CASE WHEN h >= 9223372036854775808 THEN h - 18446744073709551616 ELSE h END::bigint)
        || int8send(CASE WHEN l >= 9223372036854775808 THEN l - 18446744073709551616 ELSE l END::bigint)
      FROM (SELECT div(u, 18446744073709551616) AS h, mod(u, 18446744073709551616) AS l
              FROM (SELECT CASE WHEN v < 0 THEN v + 340282366920938463463374607431768211456 ELSE v END AS u) x) y
$$;
CREATE FUNCTION pg_temp.summary_bytes(pipeline text, scale int, entries bytea[], version int DEFAULT 1)
    RETURNS bytea LANGUAGE sql AS $$
    SELECT set_byte('\x00'::bytea, 0, version) || pg_temp.cstr(pipeline) || int2send(scale::int2)
        || int4send(coalesce(cardinality(entries), 0))
        || coalesce((SELECT string_agg(e, ''::bytea) FROM unnest(entries) e), ''::bytea)
$$;
CREATE FUNCTION pg_temp.entry(stage text, deals bigint, amount_count bigint, amount numeric)
    RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_temp.cstr(stage) || int8send(deals) || int8send(amount_count) || pg_temp.i128(amount)
$$;
CREATE FUNCTION pg_temp.forecast_bytes(n bigint, scale int, total numeric) RETURNS bytea LANGUAGE sql
    AS $$ SELECT int8send(n) || int4send(scale) || pg_temp.i128(total) $$;
CREATE FUNCTION pg_temp.velocity_bytes(deals bigint, won bigint, lost bigint, won_amount_count bigint,
                                       scale int, won_amount numeric, cycles bigint, cycle_usecs numeric)
    RETURNS bytea LANGUAGE sql AS $$
    SELECT int8send(deals) || int8send(won) || int8send(lost) || int8send(won_amount_count)
        || int4send(scale) || pg_temp.i128(won_amount) || int8send(cycles) || pg_temp.i128(cycle_usecs)
$$;

----------------------------------------------------------------------
-- 1. text output is JSON carrying exactly the input (checked with jsonb)
----------------------------------------------------------------------
CREATE TEMP TABLE io_deals (stage funnel.deal_stage, amount numeric);
INSERT INTO io_deals
SELECT (p || ':' || s)::funnel.deal_stage, a
  FROM (VALUES ('a, b', 12345678901234567890.123456789012345678), ('a, b', -0.000000000000000001),
               ('a, b', NULL), ('say "hi"', -5), ('say "hi"', NULL), ('back\slash', 0.5),
               ('商机 阶段', 7), (repeat('x', 63), 1), (repeat('阶', 21), -1), (repeat('阶', 21), NULL),
               ('{"stage", null}', 3), ('成交', 99999999999999999999.99), ('lost ,"\', 0)) v(s, a),
       (VALUES ('q"u,o\te d 零售')) w(p);
-- the stage 'a, b' is reached by three deals, 'lost ,"\' by one; none is empty, so add one
INSERT INTO io_deals SELECT ('b2b:' || s)::funnel.deal_stage, a
  FROM (VALUES ('lead', 100.25), ('lead', 1e-18), ('proposal', -3)) v(s, a);

CREATE TEMP TABLE io_summaries (id text, s funnel.funnel_summary);
INSERT INTO io_summaries
SELECT 'odd names, amounts', funnel.funnel(stage, amount) FROM io_deals
 WHERE funnel.pipeline_of(stage) = 'q"u,o\te d 零售'
UNION ALL
SELECT 'b2b, empty stages', funnel.funnel(stage, amount) FROM io_deals WHERE funnel.pipeline_of(stage) = 'b2b'
UNION ALL
SELECT 'stages only', funnel.funnel(stage) FROM io_deals WHERE funnel.pipeline_of(stage) = 'b2b'
UNION ALL
SELECT '63-byte names', funnel.funnel((repeat('漏', 21) || ':' || repeat('y', 63))::funnel.deal_stage, 1.5)
UNION ALL
SELECT 'empty', '{"pipeline": "b2b", "stages": []}'::funnel.funnel_summary
UNION ALL
SELECT 'extremes', ('{"pipeline": "b2b", "stages": ['
    '{"stage": "lead", "deals": 9223372036854775807, "amount_count": 9223372036854775807, "amount": -170.141183460469231731687303715884105728}, '
    '{"stage": "qualified", "deals": 9223372036854775807, "amount_count": 1, "amount": 170.141183460469231731687303715884105727}, '
    '{"stage": "won", "deals": 1, "amount_count": 1, "amount": -0.000000000000000000000000000000000001}]}')::funnel.funnel_summary;

SELECT set_eq(
    $$ SELECT e->>'stage' AS stage, (e->>'deals')::bigint AS deals, (e->>'amount_count')::bigint AS amount_count,
              (e->>'amount')::numeric AS amount
         FROM io_summaries, jsonb_array_elements(s::text::jsonb -> 'stages') e
        WHERE id = 'odd names, amounts' $$,
    $$ SELECT st.stage, count(d.stage) AS deals, count(d.amount) AS amount_count, coalesce(sum(d.amount), 0) AS amount
         FROM funnel.stages st
         LEFT JOIN io_deals d ON funnel.stage_name(d.stage) = st.stage AND funnel.pipeline_of(d.stage) = st.pipeline
        WHERE st.pipeline = 'q"u,o\te d 零售'
        GROUP BY st.stage $$,
    'the JSON text of a summary holds every stage name and the exact counts and totals');
SELECT is((SELECT s::text::jsonb ->> 'pipeline' FROM io_summaries WHERE id = 'odd names, amounts'),
          'q"u,o\te d 零售', 'the pipeline name survives JSON quoting');
SELECT is((SELECT count(*)::int FROM io_summaries WHERE s::text::jsonb IS NULL), 0,
          'every summary prints as valid JSON');

----------------------------------------------------------------------
-- 2. text and binary round trips of every state type
----------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM io_summaries), 6, 'six summaries to round-trip');
SELECT is((SELECT array_agg(id ORDER BY id) FROM io_summaries
            WHERE s::text::funnel.funnel_summary::text IS DISTINCT FROM s::text),
          NULL, 'funnel_summary: text output reads back to the same text');
SELECT pg_temp.copy_back('io_summaries');
SELECT set_eq($$ SELECT id, s::text FROM io_summaries_back $$, $$ SELECT id, s::text FROM io_summaries $$,
              'funnel_summary: binary COPY round trip keeps every value');
SELECT set_eq($$ SELECT id, funnel_internal.funnel_summary_send(s) FROM io_summaries_back $$,
              $$ SELECT id, funnel_internal.funnel_summary_send(s) FROM io_summaries $$,
              'funnel_summary: send(recv(send(x))) = send(x)');
SELECT is((SELECT count(*)::int FROM io_summaries, funnel.report(s) WHERE id <> 'extremes'), 9 + 5 + 5 + 3 + 5,
          'report() reads every round-tripped summary (but "extremes", whose passage totals exceed bigint)');

CREATE TEMP TABLE io_forecasts (id int, f funnel.forecast_state);
INSERT INTO io_forecasts VALUES
    (1, '(0,0)'), (2, '(0,0.000000000000000000000000000000000000)'),
    (3, '(9223372036854775807,-170141183460469231731687303715884105728)'),
    (4, '(9223372036854775807,170141183460469231731687303715884105727)'),
    (5, '(1,-170.141183460469231731687303715884105728)'),
    (6, '(2,0.000000000000000000000000000000000001)'), (7, '(5,-12.50)'),
    (8, funnel_internal.weighted_forecast_numeric_trans(NULL, 100.5, 0.25)),
    (9, funnel_internal.weighted_forecast_stage_trans(NULL, -99999999999999999.99, 'b2b:lead'));
SELECT is((SELECT array_agg(id ORDER BY id) FROM io_forecasts
            WHERE f::text::funnel.forecast_state::text IS DISTINCT FROM f::text),
          NULL, 'forecast_state: text output reads back to the same text');
SELECT pg_temp.copy_back('io_forecasts');
SELECT set_eq($$ SELECT id, f::text FROM io_forecasts_back $$, $$ SELECT id, f::text FROM io_forecasts $$,
              'forecast_state: binary COPY round trip keeps every value');
SELECT is((SELECT f::text FROM io_forecasts WHERE id = 9), '(1,-9999999999999999.999)',
          'forecast_state of a direct transition call is amount x probability');

CREATE TEMP TABLE io_velocities (id int, v funnel.velocity_state);
INSERT INTO io_velocities VALUES
    (1, '(0,0,0,0,0,0,0)'), (2, '(0,0,0,0,0.00,0,0)'),
    (3, '(9223372036854775807,4611686018427387904,4611686018427387903,4611686018427387904,-170141183460469231731687303715884105728,4611686018427387904,-170141183460469231731687303715884105728)'),
    (4, '(9223372036854775807,9223372036854775807,0,9223372036854775807,170141183460469231731.687303715884105727,1,170141183460469231731687303715884105727)'),
    (5, '(3,1,1,1,-0.000000000000000000000000000000000001,1,-5)'),
    (6, funnel_internal.sales_velocity_trans(NULL, 'b2b:won', 12.345, '2024-01-01', '2024-01-03'));
SELECT is((SELECT array_agg(id ORDER BY id) FROM io_velocities
            WHERE v::text::funnel.velocity_state::text IS DISTINCT FROM v::text),
          NULL, 'velocity_state: text output reads back to the same text');
SELECT pg_temp.copy_back('io_velocities');
SELECT set_eq($$ SELECT id, v::text FROM io_velocities_back $$, $$ SELECT id, v::text FROM io_velocities $$,
              'velocity_state: binary COPY round trip keeps every value');
SELECT is((SELECT v::text FROM io_velocities WHERE id = 6), '(1,1,0,1,12.345,1,172800000000)',
          'velocity_state of a direct transition call');

-- counters: bigint[] keeps its own I/O; the extremes still combine and finish
SELECT is(funnel_internal.funnel_counters_ratio('{9223372036854775807,9223372036854775807}'), 1::numeric,
          'conversion_rate final at the largest counts');
SELECT is(funnel_internal.win_rate_final('{4611686018427387904,4611686018427387903}'),
          4611686018427387904::numeric / 9223372036854775807, 'win_rate final at large counts');

----------------------------------------------------------------------
-- 3. counters never wrap: 22003 in inputs, transitions, combines, report
----------------------------------------------------------------------
SELECT throws_ok($$ SELECT '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 9223372036854775808, "amount_count": 0, "amount": 0}]}'::funnel.funnel_summary $$,
    '22003', 'funnel summary count 9223372036854775808 is out of range', 'summary text input: count beyond bigint');
SELECT throws_ok($$ SELECT '(9223372036854775808,0)'::funnel.forecast_state $$,
    '22003', 'forecast_state count 9223372036854775808 is out of range', 'forecast_state text input: count beyond bigint');
SELECT throws_ok($$ SELECT '(9223372036854775808,0,0,0,0,0,0)'::funnel.velocity_state $$,
    '22003', 'velocity_state count 9223372036854775808 is out of range', 'velocity_state text input: count beyond bigint');
SELECT throws_ok($$ SELECT '(1,170141183460469231731687303715884105728)'::funnel.forecast_state $$,
    '22003', 'number "170141183460469231731687303715884105728" is out of range for a funnel total',
    'forecast_state text input: total beyond int128');

CREATE TEMP TABLE io_max AS
SELECT '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 9223372036854775807, "amount_count": 0, "amount": 0}]}'::funnel.funnel_summary AS s,
       '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 1, "amount_count": 1, "amount": 1}]}'::funnel.funnel_summary AS one,
       '(9223372036854775807,5)'::funnel.forecast_state AS f,
       '(9223372036854775807,0,0,0,0,0,0)'::funnel.velocity_state AS v;
SELECT throws_ok($$ SELECT funnel.funnel(x) FROM (SELECT s FROM io_max UNION ALL SELECT one FROM io_max) u(x) $$,
    '22003', 'funnel aggregate count out of range', 'funnel(summary): text input at the maximum plus a merge');
SELECT throws_ok($$ SELECT funnel_internal.funnel_summary_merge(s, one) FROM io_max $$,
    '22003', 'funnel aggregate count out of range', 'funnel_summary_merge called directly');
SELECT pg_temp.copy_back('io_max');
SELECT throws_ok($$ SELECT funnel.funnel(x) FROM (SELECT s FROM io_max_back UNION ALL SELECT one FROM io_max_back) u(x) $$,
    '22003', 'funnel aggregate count out of range', 'funnel(summary): binary input at the maximum plus a merge');
SELECT throws_ok($$ SELECT funnel_internal.forecast_state_combine(f, '(1,1)') FROM io_max_back $$,
    '22003', 'funnel aggregate count out of range', 'forecast_state combine');
SELECT throws_ok($$ SELECT funnel_internal.velocity_state_combine(v, '(1,0,0,0,0,0,0)') FROM io_max_back $$,
    '22003', 'funnel aggregate count out of range', 'velocity_state combine');
SELECT throws_ok($$ SELECT funnel_internal.funnel_counters_combine('{9223372036854775807,0}', '{1,0}') $$,
    '22003', 'funnel aggregate count out of range', 'bigint[2] counters combine');
SELECT throws_ok($$ SELECT funnel_internal.win_rate_final('{9223372036854775807,1}') $$,
    '22003', 'funnel aggregate count out of range', 'win_rate final: won + lost beyond bigint');
SELECT throws_ok($$ SELECT * FROM funnel.report('{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 9223372036854775807, "amount_count": 0, "amount": 0}, {"stage": "qualified", "deals": 1, "amount_count": 0, "amount": 0}]}') $$,
    '22003', 'funnel aggregate count out of range', 'report(): implied-passage total beyond bigint');
SELECT throws_ok($$ SELECT * FROM funnel.report('{"pipeline": "b2b", "stages": [{"stage": "won", "deals": 9223372036854775807, "amount_count": 0, "amount": 0}, {"stage": "proposal", "deals": 1, "amount_count": 0, "amount": 0}]}') $$,
    '22003', 'funnel aggregate count out of range', 'report(): won plus open deals beyond bigint');

-- transition functions, given a state at the maximum by an aggregate of
-- one's own: PUBLIC has no EXECUTE on them (sql/install/grants.sql), so only
-- a superuser can build one
CREATE ROLE funnel_io_owner NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO funnel_io_owner;
SET ROLE funnel_io_owner;
SELECT throws_ok($$ CREATE AGGREGATE public.io_denied(funnel.deal_stage) (SFUNC = funnel_internal.win_rate_trans, STYPE = bigint[]) $$,
    '42501', NULL, 'a NOSUPERUSER role cannot build an aggregate on funnel''s transition functions');
RESET ROLE;
CREATE AGGREGATE public.io_win(funnel.deal_stage) (SFUNC = funnel_internal.win_rate_trans, STYPE = bigint[],
    INITCOND = '{9223372036854775807,0}', FINALFUNC = funnel_internal.win_rate_final);
CREATE AGGREGATE public.io_conv(funnel.deal_stage, funnel.deal_stage, funnel.deal_stage) (
    SFUNC = funnel_internal.conversion_rate_trans, STYPE = bigint[], INITCOND = '{9223372036854775807,9223372036854775807}',
    FINALFUNC = funnel_internal.funnel_counters_ratio);
CREATE AGGREGATE public.io_funnel(funnel.deal_stage) (SFUNC = funnel_internal.funnel_summary_trans,
    STYPE = funnel.funnel_summary,
    INITCOND = '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 9223372036854775807, "amount_count": 0, "amount": 0}]}');
CREATE AGGREGATE public.io_funnel(funnel.deal_stage, numeric) (SFUNC = funnel_internal.funnel_summary_trans,
    STYPE = funnel.funnel_summary,
    INITCOND = '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 9223372036854775806, "amount_count": 9223372036854775806, "amount": 0}]}');
CREATE AGGREGATE public.io_forecast(numeric, numeric) (SFUNC = funnel_internal.weighted_forecast_numeric_trans,
    STYPE = funnel.forecast_state, INITCOND = '(9223372036854775807,0)', FINALFUNC = funnel_internal.forecast_state_final);
CREATE AGGREGATE public.io_velocity(funnel.deal_stage, numeric, timestamptz, timestamptz) (
    SFUNC = funnel_internal.sales_velocity_trans, STYPE = funnel.velocity_state,
    INITCOND = '(9223372036854775806,9223372036854775806,0,9223372036854775806,0,9223372036854775806,0)');
SELECT throws_ok($$ SELECT public.io_win('b2b:won') $$, '22003', 'funnel aggregate count out of range',
    'win_rate transition at the maximum (an aggregate of its own)');
SELECT throws_ok($$ SELECT public.io_conv('b2b:won', 'b2b:lead', 'b2b:qualified') $$, '22003', NULL,
    'conversion_rate transition at the maximum');
SELECT throws_ok($$ SELECT public.io_funnel('b2b:lead'::funnel.deal_stage) $$, '22003', NULL,
    'funnel(stage) transition at the maximum');
SELECT throws_ok($$ SELECT public.io_funnel(s, 1) FROM (VALUES ('b2b:lead'::funnel.deal_stage), ('b2b:lead')) v(s) $$,
    '22003', NULL, 'funnel(stage, amount) transition at the maximum');
SELECT throws_ok($$ SELECT public.io_forecast(1, 0.5) $$, '22003', NULL,
    'weighted_forecast transition at the maximum');
SELECT throws_ok($$ SELECT public.io_velocity(s, 1, now(), now()) FROM (VALUES ('b2b:won'::funnel.deal_stage), ('b2b:won')) v(s) $$,
    '22003', NULL, 'sales_velocity transition at the maximum');
SELECT is(public.io_funnel('b2b:qualified'::funnel.deal_stage)::text::jsonb #>> '{stages,1,deals}', '1',
    'a transition that does not overflow still works from such a state');
RESET ROLE;

----------------------------------------------------------------------
-- 4. binary input is as strict as text input
----------------------------------------------------------------------
SELECT is(pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 2,
              ARRAY[pg_temp.entry('qualified', 3, 2, 150.00 * 100), pg_temp.entry('lead', 1, 0, 0)])),
          '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 1, "amount_count": 0, "amount": 0.00}, {"stage": "qualified", "deals": 3, "amount_count": 2, "amount": 150.00}, {"stage": "proposal", "deals": 0, "amount_count": 0, "amount": 0.00}, {"stage": "won", "deals": 0, "amount_count": 0, "amount": 0.00}, {"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0.00}]}',
          'a hand-built binary summary reads (the test encoder is right)');
SELECT is(pg_temp.recv('funnel_summary', pg_temp.summary_bytes('q"u,o\te d 零售', 0,
              ARRAY[pg_temp.entry('lost ,"\', 1, 1, -1)]))::jsonb #>> '{stages,8,amount}',
          '-1', 'binary input of a stage name with quotes, comma and backslash');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', -1, 0, 0)])) $$,
    '22P03', 'invalid funnel summary: stage "lead" has deals -1 and amount_count 0', 'binary summary: negative deals');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, 2, 5)])) $$,
    '22P03', 'invalid funnel summary: stage "lead" has deals 1 and amount_count 2', 'binary summary: amount_count above deals');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, -1, 0)])) $$,
    '22P03', 'invalid funnel summary: stage "lead" has deals 1 and amount_count -1', 'binary summary: negative amount_count');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 2, ARRAY[pg_temp.entry('lead', 4, 0, 500)])) $$,
    '22P03', 'invalid funnel summary: stage "lead" has amount 5.00 but amount_count 0', 'binary summary: an amount without amounts');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, 0, 0)], 4)) $$,
    '22P03', 'unsupported binary format version 4 of type funnel_summary', 'binary summary: unknown version byte');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, 0, 0)]) || '\x00'::bytea) $$,
    '22P03', NULL, 'binary summary: trailing garbage');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', substring(pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, 0, 0)]) from 1 for 20)) $$,
    '22P03', 'invalid funnel summary: stage count 1 does not fit in the remaining 9 bytes', 'binary summary: truncated stage');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', substring(pg_temp.summary_bytes('b2b', 0, ARRAY[]::bytea[]) from 1 for 8)) $$,
    '08P01', NULL, 'binary summary: truncated header');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', '\x01'::bytea || convert_to('b2b', 'UTF8')) $$,
    '08P01', NULL, 'binary summary: unterminated pipeline name');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('nope', 1, 0, 0)])) $$,
    '22P03', 'invalid funnel summary: pipeline "b2b" has no stage "nope"', 'binary summary: a stage that does not exist');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('成交', 1, 0, 0)])) $$,
    '22P03', 'invalid funnel summary: pipeline "b2b" has no stage "成交"', 'binary summary: a stage of another pipeline');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, 0, 0), pg_temp.entry('lead', 1, 0, 0)])) $$,
    '22P03', 'invalid funnel summary: stage "lead" appears more than once', 'binary summary: duplicate stage');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('nope', 0, ARRAY[]::bytea[])) $$,
    '22P03', 'invalid funnel summary: pipeline "nope" does not exist', 'binary summary: unknown pipeline');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', 37, ARRAY[]::bytea[])) $$,
    '22P03', 'invalid funnel summary: scale 37', 'binary summary: scale above 36');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', pg_temp.summary_bytes('b2b', -1, ARRAY[]::bytea[])) $$,
    '22P03', 'invalid funnel summary: scale -1', 'binary summary: negative scale');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', overlay(pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, 0, 0)]) placing int4send(2147483647) from 8 for 4)) $$,
    '22P03', 'invalid funnel summary: stage count 2147483647 does not fit in the remaining 37 bytes', 'binary summary: a stage count the data cannot hold');
SELECT throws_ok($$ SELECT pg_temp.recv('funnel_summary', overlay(pg_temp.summary_bytes('b2b', 0, ARRAY[pg_temp.entry('lead', 1, 0, 0)]) placing int4send(-1) from 8 for 4)) $$,
    '22P03', 'invalid funnel summary: stage count -1 does not fit in the remaining 37 bytes', 'binary summary: negative stage count');
-- the same rules in text
SELECT throws_ok($$ SELECT '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 4, "amount_count": 0, "amount": 5.00}]}'::funnel.funnel_summary $$,
    '22P02', 'invalid funnel summary: stage "lead" has amount 5.00 but amount_count 0', 'text summary: an amount without amounts');
SELECT throws_ok($$ SELECT '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 1, "amount_count": 0, "amount": 0}, {"stage": "lead", "deals": 1, "amount_count": 0, "amount": 0}]}'::funnel.funnel_summary $$,
    '22P02', 'invalid funnel summary: stage "lead" appears more than once', 'text summary: duplicate stage');
SELECT is(('{"pipeline": "q\"u,o\\te d \u96f6\u552e", "stages": [{"stage": "\u6210\u4ea4", "deals": 1, "amount_count": 0, "amount": 0}]}'::funnel.funnel_summary)::text::jsonb #>> '{stages,7,deals}',
    '1', 'text summary: \u escapes read as the server-encoded names');

SELECT is(pg_temp.recv('forecast_state', pg_temp.forecast_bytes(3, 2, 125050)), '(3,1250.50)',
          'a hand-built binary forecast_state reads');
SELECT throws_ok($$ SELECT pg_temp.recv('forecast_state', pg_temp.forecast_bytes(-1, 0, 0)) $$,
    '22P03', 'invalid forecast_state: row count -1 is negative', 'binary forecast_state: negative count');
SELECT throws_ok($$ SELECT pg_temp.recv('forecast_state', pg_temp.forecast_bytes(0, 2, 5)) $$,
    '22P03', 'invalid forecast_state: sum 0.05 over 0 rows', 'binary forecast_state: a sum over no rows');
SELECT throws_ok($$ SELECT pg_temp.recv('forecast_state', pg_temp.forecast_bytes(1, 37, 5)) $$,
    '22P03', 'invalid forecast_state: scale 37', 'binary forecast_state: scale above 36');
SELECT throws_ok($$ SELECT pg_temp.recv('forecast_state', pg_temp.forecast_bytes(1, 0, 5) || '\x00'::bytea) $$,
    '22P03', NULL, 'binary forecast_state: trailing garbage');
SELECT throws_ok($$ SELECT pg_temp.recv('forecast_state', substring(pg_temp.forecast_bytes(1, 0, 5) from 1 for 27)) $$,
    '08P01', NULL, 'binary forecast_state: truncated');
SELECT throws_ok($$ SELECT '(0,5)'::funnel.forecast_state $$,
    '22P02', 'invalid forecast_state: sum 5 over 0 rows', 'text forecast_state: a sum over no rows');

SELECT is(pg_temp.recv('velocity_state', pg_temp.velocity_bytes(10, 3, 2, 3, 2, 450000, 3, 864000000000)),
          '(10,3,2,3,4500.00,3,864000000000)', 'a hand-built binary velocity_state reads');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(10, 3, -2, 3, 2, 450000, 1, 1)) $$,
    '22P03', 'invalid velocity_state: negative count in deals 10, won 3, lost -2, won_amount_count 3, cycles 1',
    'binary velocity_state: negative count');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(4, 3, 2, 3, 2, 450000, 3, 1)) $$,
    '22P03', 'invalid velocity_state: won 3 + lost 2 exceeds deals 4', 'binary velocity_state: more closed than deals');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(9223372036854775807, 9223372036854775807, 1, 0, 0, 0, 0, 0)) $$,
    '22P03', 'invalid velocity_state: won 9223372036854775807 + lost 1 exceeds deals 9223372036854775807',
    'binary velocity_state: won + lost beyond bigint');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(10, 3, 2, 4, 2, 450000, 3, 1)) $$,
    '22P03', 'invalid velocity_state: won_amount_count 4 exceeds won 3', 'binary velocity_state: more won amounts than won deals');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(10, 3, 2, 3, 2, 450000, 4, 1)) $$,
    '22P03', 'invalid velocity_state: cycles 4 exceeds won 3', 'binary velocity_state: more cycles than won deals');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(10, 3, 2, 0, 2, 450000, 3, 1)) $$,
    '22P03', 'invalid velocity_state: won_amount 4500.00 with won_amount_count 0', 'binary velocity_state: an amount without amounts');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(10, 3, 2, 3, 2, 450000, 0, 7)) $$,
    '22P03', 'invalid velocity_state: cycle_microseconds 7 with cycles 0', 'binary velocity_state: a duration without cycles');
SELECT throws_ok($$ SELECT pg_temp.recv('velocity_state', pg_temp.velocity_bytes(10, 3, 2, 3, 99, 450000, 3, 1)) $$,
    '22P03', 'invalid velocity_state: scale 99', 'binary velocity_state: scale out of range');
SELECT throws_ok($$ SELECT '(4,3,2,3,4500.00,3,1)'::funnel.velocity_state $$,
    '22P02', 'invalid velocity_state: won 3 + lost 2 exceeds deals 4', 'text velocity_state: more closed than deals');
SELECT throws_ok($$ SELECT '(10,3,2,3,4500.00,0,7)'::funnel.velocity_state $$,
    '22P02', 'invalid velocity_state: cycle_microseconds 7 with cycles 0', 'text velocity_state: a duration without cycles');

-- bigint[2] counters are plain arrays: their readers check them
SELECT throws_ok($$ SELECT funnel_internal.win_rate_final('{-1,1}') $$, '22023', 'invalid funnel aggregate state {-1,1}',
    'win_rate final refuses a negative counter');
SELECT throws_ok($$ SELECT funnel_internal.funnel_counters_ratio('{1,2}') $$, '22023', 'invalid conversion_rate state {1,2}',
    'conversion_rate final refuses more conversions than deals');
SELECT throws_ok($$ SELECT funnel_internal.funnel_counters_combine('{1,1}', '{0,-5}') $$, '22023', 'invalid funnel aggregate state {0,-5}',
    'combine refuses a negative counter');
SELECT throws_ok($$ SELECT funnel_internal.funnel_counters_combine('{-1,1}', '{0,5}') $$, '22023', 'invalid funnel aggregate state {-1,1}',
    'combine refuses a negative counter in its first state');

----------------------------------------------------------------------
-- 5. probabilities: every value set_probability accepts works everywhere
----------------------------------------------------------------------
SELECT throws_ok($$ SELECT funnel.set_probability('b2b', 'lead', 1e-40) $$,
    '22023', 'probability 1e-40 of stage "lead" has more than 18 decimal places', 'set_probability refuses 1e-40');
SELECT throws_ok($$ SELECT funnel.set_probability('b2b', 'lead', 5e-324) $$,
    '22023', 'probability 5e-324 of stage "lead" has more than 18 decimal places', 'set_probability refuses the smallest denormal');
SELECT throws_ok($$ SELECT funnel.set_probability('b2b', 'lead', 2.2250738585072014e-308) $$,
    '22023', NULL, 'set_probability refuses the smallest normal float8');
SELECT throws_ok($$ SELECT funnel.set_probability('b2b', 'lead', 1.5e-18) $$,
    '22023', 'probability 1.5e-18 of stage "lead" has more than 18 decimal places', 'set_probability refuses 19 decimal places');
SELECT is((SELECT probability FROM funnel.stages WHERE pipeline = 'b2b' AND stage = 'lead'), 0.1::float8,
    'a refused probability changes nothing');
SELECT throws_ok($$ SELECT funnel.create_pipeline('tiny', ARRAY['a', 'b'], ARRAY[0.5, 1e-40]) $$,
    '22023', 'probability 1e-40 of stage "b" has more than 18 decimal places', 'create_pipeline refuses 1e-40');
SELECT is((SELECT count(*)::int FROM funnel.pipeline WHERE name = 'tiny'), 0, 'the refused pipeline was not created');
SELECT throws_ok($$ SELECT funnel.add_stage('b2b', 'tiny', 5e-324) $$,
    '22023', 'probability 5e-324 of stage "tiny" has more than 18 decimal places', 'add_stage refuses 5e-324');
SELECT is((SELECT count(*)::int FROM funnel.stages WHERE stage = 'tiny'), 0, 'the refused stage was not added');

-- each accepted extreme: every aggregate works and weighted_forecast is exact
CREATE TEMP TABLE io_prob_rows (stage funnel.deal_stage, amount numeric, created_at timestamptz, closed_at timestamptz);
INSERT INTO io_prob_rows VALUES
    ('b2b:lead', 12345678901234.56, '2024-01-01', NULL), ('b2b:lead', -0.01, '2024-01-01', NULL),
    ('b2b:lead', 99999999999999999.99, '2024-01-01', NULL), ('b2b:lead', NULL, NULL, NULL),
    ('b2b:qualified', 10, '2024-01-01', NULL), ('b2b:won', 500, '2024-01-01', '2024-02-01'),
    ('b2b:lost', 7, '2024-01-01', '2024-01-05');
CREATE TEMP TABLE io_prob_check (p float8, ok boolean, detail text);
DO $$
DECLARE
    p float8;
    got numeric;
    want numeric;
BEGIN
    FOREACH p IN ARRAY ARRAY[0, 1, 1e-18, 0.1234567890123456, 0.9999999999999999, 1.0/3, 1.0/13,
                             0.000123456789012345678, 2.5e-10, 0.5, 1e-15, 0.30000000000000004,
                             0.1 + 0.2, 1 - 1e-15]::float8[]
    LOOP
        BEGIN
            PERFORM funnel.set_probability('b2b', 'lead', p);
            SELECT funnel.weighted_forecast(amount, stage) INTO got FROM io_prob_rows;
            SELECT sum(amount * funnel.probability(stage)::numeric) INTO want FROM io_prob_rows;
            PERFORM funnel.furthest(stage), funnel.win_rate(stage), funnel.conversion_rate(stage, 'b2b:lead', 'b2b:won'),
                    funnel.sales_velocity(stage, amount, created_at, closed_at),
                    (SELECT count(*) FROM funnel.report(funnel.funnel(stage, amount)))
               FROM io_prob_rows;
            INSERT INTO io_prob_check VALUES (p, got = want AND got::text = want::text, got::text || ' vs ' || want::text);
        EXCEPTION WHEN others THEN
            INSERT INTO io_prob_check VALUES (p, false, SQLSTATE || ' ' || SQLERRM);
        END;
    END LOOP;
END
$$;
SELECT is((SELECT count(*)::int FROM io_prob_check), 14, 'fourteen accepted probabilities tried');
SELECT is((SELECT array_agg(p::text || ': ' || detail) FROM io_prob_check WHERE NOT ok), NULL,
    'every accepted probability: all aggregates work and weighted_forecast = sum(amount * probability::numeric), digit for digit');

-- a probability stored before this check (or written into pipeline_stage directly)
UPDATE funnel.pipeline_stage SET probability = 1e-40 WHERE pipeline = 'b2b' AND stage = 'qualified';
SELECT is((SELECT funnel.furthest(stage)::text || ' ' || funnel.win_rate(stage)
                  || ' ' || funnel.conversion_rate(stage, 'b2b:lead', 'b2b:qualified')
             FROM io_prob_rows), 'b2b:won 0.5 0.33333333333333333333',
    'a stage whose stored probability has 40 decimals does not break furthest, win_rate, conversion_rate');
SELECT is((SELECT (SELECT deals FROM funnel.report(funnel.funnel(stage, amount)) r WHERE r.stage::text = 'b2b:qualified')
             FROM io_prob_rows), 2::bigint, '... nor funnel() and report()');
SELECT is((SELECT round(funnel.sales_velocity(stage, amount, created_at, closed_at), 6) FROM io_prob_rows),
          round((5 * 0.5 * 500 / 31.0)::numeric, 6), '... nor sales_velocity (5 open deals, won cycle 31 days)');
SELECT throws_ok($$ SELECT funnel.weighted_forecast(amount, stage) FROM io_prob_rows $$,
    '22023', 'probability 1e-40 of stage "b2b:qualified" has more than 18 decimal places',
    'weighted_forecast names the stage whose stored probability it cannot use');

-- defaults are rounded to the same precision
SELECT funnel.create_pipeline('many', ARRAY(SELECT 's' || i FROM generate_series(1, 13) i));
SELECT funnel.create_pipeline('small', ARRAY['first'], ARRAY[1e-18]);
SELECT funnel.add_stage('small', 'before_first', before => 'first');
SELECT is((SELECT max(pg_catalog.scale(probability::numeric)) FROM funnel.stages WHERE pipeline IN ('many', 'small')), 18,
    'default probabilities (1/14 ..., a midpoint of 5e-19) keep at most 18 decimal places');
-- (a stage added in this transaction cannot be used before commit)
SELECT is((SELECT funnel.weighted_forecast(100.00, s::funnel.deal_stage)
             FROM (SELECT pipeline || ':' || stage FROM funnel.stages WHERE pipeline IN ('many', 'small') AND stage <> 'before_first') v(s)),
          (SELECT sum(100.00 * probability::numeric) FROM funnel.stages WHERE pipeline IN ('many', 'small') AND stage <> 'before_first'),
    'weighted_forecast over default probabilities is exact');

SELECT * FROM finish();
ROLLBACK;
