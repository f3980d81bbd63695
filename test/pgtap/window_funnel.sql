-- test/pgtap/window_funnel.sql: funnel.window_funnel() has the semantics of
-- ClickHouse's windowFunnel: the examples of its documentation and the cases
-- of its own test (tests/queries/0_stateless/00632_aggregation_window_funnel,
-- integer seconds turned into timestamps), edge cases, errors with their
-- SQLSTATEs, and random data checked against two independent computations:
-- a plain-SQL recursive query (default mode) and a PL/pgSQL transcription of
-- ClickHouse's scan over its sorted (timestamp, step) pairs (every mode).
-- Runs as a role without superuser.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(76);

CREATE ROLE wf_analyst NOSUPERUSER;
SET ROLE wf_analyst;

-- seconds since the epoch -> timestamptz, as ClickHouse's tests use integers
CREATE FUNCTION pg_temp.t(s numeric) RETURNS timestamptz LANGUAGE sql IMMUTABLE
    AS $$ SELECT to_timestamp(s) $$;
CREATE FUNCTION pg_temp.w(s numeric) RETURNS interval LANGUAGE sql IMMUTABLE
    AS $$ SELECT make_interval(secs => s) $$;

-- ClickHouse documentation: a phone bought twice; the chain 1003 -> 1009 ->
-- 1007 -> 1010 is complete although the rows arrive out of order
CREATE TEMP TABLE trend (event_date date, user_id int, ts timestamptz, eventid int, product text);
INSERT INTO trend VALUES
 ('2019-01-28', 1, '2019-01-29 10:00:00+00', 1003, 'phone'),
 ('2019-01-31', 1, '2019-01-31 09:00:00+00', 1007, 'phone'),
 ('2019-01-30', 1, '2019-01-30 08:00:00+00', 1009, 'phone'),
 ('2019-02-01', 1, '2019-02-01 08:00:00+00', 1010, 'phone');
SELECT results_eq($$
    SELECT level, count(*) FROM (
        SELECT user_id, funnel.window_funnel(interval '1000 years', ts, eventid = 1003, eventid = 1009, eventid = 1007, eventid = 1010) AS level
          FROM trend WHERE event_date >= '2019-01-01' AND event_date <= '2019-02-02' GROUP BY user_id) x
     GROUP BY level ORDER BY level $$,
    $$ VALUES (4, 1::bigint) $$, 'docs example: level 4 for the one user');
SELECT is((SELECT funnel.window_funnel(interval '1 day', ts, eventid = 1003, eventid = 1009, eventid = 1007, eventid = 1010) FROM trend),
    2, 'docs example, 1-day window: 1009 is 22 h after 1003, 1007 is 47 h after');
SELECT is((SELECT funnel.window_funnel(interval '47 hours', ts, eventid = 1003, eventid = 1009, eventid = 1007, eventid = 1010) FROM trend),
    3, 'the window is inclusive: 1007 exactly 47 h after 1003 counts');

-- ClickHouse test 00632: consecutive seconds
CREATE TEMP TABLE ft (s int, event int);
INSERT INTO ft VALUES (0,1000),(1,1001),(2,1002),(3,1003),(4,1004),(5,1005),(6,1006),(7,1007),(8,1008);
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1000) FROM ft), 1, '00632: one step');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1000, event = 1001) FROM ft), 2, '00632: two steps');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1000, event = 1001, event = 1002) FROM ft), 3, '00632: three steps');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1000, event = 1001, event = 1002, event = 1008) FROM ft), 4, '00632: four steps, a gap is fine');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(1), pg_temp.t(s), event = 1000) FROM ft), 1, '00632: window 1');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(2), pg_temp.t(s), event = 1003, event = 1004, event = 1005, event = 1006, event = 1007) FROM ft), 3, '00632: window 2 -> 3');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(3), pg_temp.t(s), event = 1003, event = 1004, event = 1005, event = 1006, event = 1007) FROM ft), 4, '00632: window 3 -> 4');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(4), pg_temp.t(s), event = 1003, event = 1004, event = 1005, event = 1006, event = 1007) FROM ft), 5, '00632: window 4 -> 5');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1008, event = 1001) FROM ft), 1, '00632: steps out of order -> 1');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(4), pg_temp.t(s), event <= 1007, event >= 1002, event <= 1006, event >= 1004) FROM ft), 4,
    '00632: overlapping conditions');

-- strict_deduplication: a repeated step (1005 at 50 and 51) ends the search
CREATE TEMP TABLE fts (s int, event int);
INSERT INTO fts VALUES (0,1000),(10,1001),(20,1002),(30,1003),(40,1004),(50,1005),(51,1005),(60,1006),(70,1007),(80,1008);
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), 'strict_deduplication', pg_temp.t(s), event = 1000, event = 1001, event = 1002, event = 1003, event = 1004, event = 1005, event = 1006) FROM fts),
    6, '00632: strict_deduplication stops at the repeated 1005');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1000, event = 1001, event = 1002, event = 1003, event = 1004, event = 1005, event = 1006) FROM fts),
    7, '00632: without the mode the chain completes');
-- ClickHouse issue 27469 and the documentation's A-B-C-B-D
SELECT is((SELECT funnel.window_funnel(pg_temp.w(86400), 'strict_deduplication', pg_temp.t(s), e = 'a', e = 'b', e = 'c', e = 'd')
             FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'b'), (5, 'd')) v(s, e)),
    3, 'strict_deduplication: A-B-C-B-D gives 3');

-- strict_order (00632): users 1..7
CREATE TEMP TABLE fso (s int, u int, e text);
INSERT INTO fso VALUES (1,1,'a'),(2,1,'b'),(3,1,'c'),
 (1,2,'a'),(2,2,'d'),(3,2,'b'),(4,2,'c'),
 (1,3,'a'),(2,3,'a'),(3,3,'b'),(4,3,'b'),(5,3,'c'),(6,3,'c'),
 (1,4,'a'),(2,4,'a'),(3,4,'a'),(4,4,'a'),(5,4,'b'),(6,4,'b'),(7,4,'c'),(8,4,'c'),
 (1,5,'a'),(2,5,'a'),(3,5,'b'),(4,5,'b'),(5,5,'d'),(6,5,'c'),(7,5,'c'),
 (1,6,'c'),(2,6,'c'),(3,6,'b'),(4,6,'b'),(5,6,'a'),(6,6,'a');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), pg_temp.t(s), e = 'a', e = 'b', e = 'c') FROM fso GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 3), (2, 3), (3, 3), (4, 3), (5, 3), (6, 1) $$, '00632 strict_order table, default mode');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), 'strict_order', pg_temp.t(s), e = 'a', e = 'b', e = 'c') FROM fso GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 3), (2, 1), (3, 3), (4, 3), (5, 2), (6, 1) $$, '00632 strict_order table, strict_order');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), 'strict_deduplication, strict_order', pg_temp.t(s), e = 'a', e = 'b', e = 'c') FROM fso GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 3), (2, 1), (3, 2), (4, 2), (5, 2), (6, 1) $$, '00632 strict_order table, strict_deduplication + strict_order');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10), 'strict_order', pg_temp.t(s), e = 'a', e = 'b', e = 'c')
             FROM (VALUES (1, 'a'), (2, 'c'), (3, 'b')) v(s, e)),
    1, '00632 user 7: strict_order, a step ahead of its turn ends the chain');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(86400), 'strict_order', pg_temp.t(s), e = 'A', e = 'B', e = 'C', e = 'D')
             FROM (VALUES (1, 'A'), (2, 'B'), (3, 'D'), (4, 'C')) v(s, e)),
    2, 'docs: strict_order on A-B-D-C gives 2');

-- NULL conditions count as false (00632 funnel_test_non_null, without COALESCE)
CREATE TEMP TABLE fnn (s int, u int, a text, b text);
INSERT INTO fnn VALUES (1,1,'a1','b1'),(2,1,'a2','b2'),(1,2,'a1',NULL),(2,2,'a2',NULL),(1,3,NULL,NULL),(1,4,NULL,'b1'),(2,4,'a2',NULL),(3,4,NULL,'b3');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), pg_temp.t(s), a = 'a1', a = 'a2') FROM fnn GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 2), (2, 2), (3, 0), (4, 0) $$, '00632 non-null: a1 -> a2');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), pg_temp.t(s), a = 'a1', b = 'b2') FROM fnn GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 2), (2, 1), (3, 0), (4, 0) $$, '00632 non-null: a1 -> b2, NULL steps false');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), pg_temp.t(s), a IS NULL AND b IS NULL) FROM fnn GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 0), (2, 0), (3, 1), (4, 0) $$, '00632 non-null: one step');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), pg_temp.t(s), a IS NULL, b = 'b3') FROM fnn GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 0), (2, 0), (3, 1), (4, 2) $$, '00632 non-null: a IS NULL -> b3');
SELECT results_eq($$ SELECT u, funnel.window_funnel(pg_temp.w(86400), 'strict_order', pg_temp.t(s), a IS NULL, b = 'b3') FROM fnn GROUP BY u ORDER BY u $$,
    $$ VALUES (1, 0), (2, 0), (3, 1), (4, 1) $$, '00632 non-null: strict_order, the row at 2 s breaks the chain');

-- strict_increase (00632): three steps share second 1
CREATE TEMP TABLE fsi (s int, event int);
INSERT INTO fsi VALUES (0,1000),(1,1001),(1,1002),(1,1003),(2,1004);
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1000, event = 1001, event = 1002, event = 1003, event = 1004) FROM fsi),
    5, '00632 strict_increase table, default mode: equal timestamps chain');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), 'strict_increase', pg_temp.t(s), event = 1000, event = 1001, event = 1002, event = 1003, event = 1004) FROM fsi),
    2, '00632: strict_increase stops at the second event of second 1');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), pg_temp.t(s), event = 1004, event = 1004, event = 1004) FROM fsi),
    3, '00632: one event matching every step passes them all');
SELECT is((SELECT funnel.window_funnel(pg_temp.w(10000), 'strict_increase', pg_temp.t(s), event = 1004, event = 1004, event = 1004) FROM fsi),
    1, '00632: ... but only one under strict_increase');

-- edge cases
SELECT is((SELECT funnel.window_funnel(interval '1 day', ts, true, true) FROM trend WHERE false), 0, 'no rows -> 0');
SELECT is((SELECT funnel.window_funnel(interval '1 day', 'strict_order', ts, true) FROM trend WHERE false), 0, 'no rows, with a mode -> 0');
SELECT is((SELECT funnel.window_funnel(interval '1 day', ts, false, false) FROM trend), 0, 'no row matches a step -> 0');
SELECT is((SELECT funnel.window_funnel(interval '1 day', ts, false, true) FROM trend), 0, 'step 2 without step 1 -> 0');
SELECT is((SELECT funnel.window_funnel(interval '1 day', ts, eventid = 1003, eventid = 1009) FROM trend WHERE user_id IS NULL), 0, 'empty group -> 0');
SELECT results_eq($$ SELECT eventid, funnel.window_funnel(interval '1 day', ts, eventid = 1003, eventid = 1009) FROM trend GROUP BY GROUPING SETS ((), (eventid)) ORDER BY eventid NULLS FIRST $$,
    $$ VALUES (NULL::int, 2), (1003, 1), (1007, 0), (1009, 0), (1010, 0) $$, 'grouping sets: each group on its own');
SELECT is((SELECT funnel.window_funnel(interval '0', t, s = 1, s = 2, s = 3)
             FROM (VALUES ('2024-01-01 10:00+00'::timestamptz, 1), ('2024-01-01 10:00+00', 2), ('2024-01-01 10:00:00.000001+00', 3)) v(t, s)),
    2, 'window 0: same-instant steps chain, a microsecond later does not');
SELECT is((SELECT funnel.window_funnel(interval '24 hours', t, s = 1, s = 2)
             FROM (VALUES ('2024-01-01 00:00+00'::timestamptz, 1), ('2024-01-02 00:00+00', 2)) v(t, s)),
    2, 'the window bound is inclusive (ts_2 - ts_1 = window)');
SELECT is((SELECT funnel.window_funnel(interval '1 day', t, s = 1, s = 2)
             FROM (VALUES ('2024-01-01 00:00+00'::timestamptz, 1), ('2024-01-02 00:00:00.000001+00', 2)) v(t, s)),
    1, 'one microsecond past the window does not count');
SELECT is((SELECT funnel.window_funnel(interval '1 mon', t, s = 1, s = 2)
             FROM (VALUES ('2024-02-01 00:00+00'::timestamptz, 1), ('2024-03-02 00:00+00', 2)) v(t, s)),
    2, 'a month of window is 30 days as interval comparison has it, not a calendar month: Feb 1 -> Mar 2, 2024 counts');
SELECT is((SELECT funnel.window_funnel(interval '1 day', t, s = 1, s = 2)
             FROM (VALUES (NULL::timestamptz, 1), ('2024-01-01 00:00+00', 2)) v(t, s)),
    0, 'a NULL timestamp skips its row');
-- equal timestamps: the order of rows never matters
CREATE TEMP TABLE ties (t timestamptz, s int, k int);
INSERT INTO ties VALUES ('2024-01-01 10:00+00', 3, 1), ('2024-01-01 10:00+00', 2, 2), ('2024-01-01 10:00+00', 1, 3), ('2024-01-01 11:00+00', 4, 4);
SELECT is((SELECT array_agg(DISTINCT l) FROM (
             SELECT funnel.window_funnel(interval '1 hour', t, s = 1, s = 2, s = 3, s = 4 ORDER BY k) AS l FROM ties
             UNION ALL SELECT funnel.window_funnel(interval '1 hour', t, s = 1, s = 2, s = 3, s = 4 ORDER BY k DESC) FROM ties
             UNION ALL SELECT funnel.window_funnel(interval '1 hour', t, s = 1, s = 2, s = 3, s = 4 ORDER BY t DESC, k) FROM ties) x),
    ARRAY[4], 'rows at one instant chain in step order, whatever their input order');
SELECT is((SELECT array_agg(DISTINCT l) FROM (
             SELECT funnel.window_funnel(interval '1 hour', 'strict_increase', t, s = 1, s = 2, s = 3, s = 4 ORDER BY k) AS l FROM ties
             UNION ALL SELECT funnel.window_funnel(interval '1 hour', 'strict_increase', t, s = 1, s = 2, s = 3, s = 4 ORDER BY k DESC) FROM ties) x),
    ARRAY[1], 'strict_increase: rows at one instant do not chain');
SELECT is((SELECT funnel.window_funnel(interval '1 hour', 'strict_deduplication', t, s = 1, s = 2, s = 3)
             FROM (VALUES ('2024-01-01 10:00+00'::timestamptz, 1), ('2024-01-01 10:00+00', 2), ('2024-01-01 10:00+00', 2), ('2024-01-01 10:05+00', 3)) v(t, s)),
    2, 'strict_deduplication: two rows of step 2 at one instant are a repeat');
SELECT is((SELECT funnel.window_funnel(interval '1 hour', 'strict_order', t, s = 1, s = 2)
             FROM (VALUES ('2024-01-01 10:00+00'::timestamptz, 1), ('2024-01-01 10:05+00', 9), ('2024-01-01 10:05+00', 2)) v(t, s)),
    1, 'strict_order: a non-step row at the instant of step 2 comes first and breaks the chain');
SELECT is((SELECT funnel.window_funnel(interval '1 hour', t, true, s = 2, true)
             FROM (VALUES ('2024-01-01 10:00+00'::timestamptz, 1), ('2024-01-01 10:05+00', 2)) v(t, s)),
    3, 'an event matching several steps counts for each of them');
SELECT is((SELECT funnel.window_funnel(interval '1 hour', ' strict_order ,strict_increase', t, s = 1, s = 2)
             FROM (VALUES ('2024-01-01 10:00+00'::timestamptz, 1), ('2024-01-01 10:00+00', 2)) v(t, s)),
    1, 'a mode list (spaces and commas) combines modes');
SELECT is((SELECT ARRAY[funnel.window_funnel(interval '1 hour', '', t, s = 1, s = 2), funnel.window_funnel(interval '1 hour', 'default', t, s = 1, s = 2)]
             FROM (VALUES ('2024-01-01 10:00+00'::timestamptz, 1), ('2024-01-01 10:00+00', 2)) v(t, s)),
    ARRAY[2, 2], 'mode '''' and ''default'' are the default');
SELECT is((SELECT funnel.window_funnel(interval '1 hour', t, VARIADIC ARRAY[s = 1, NULL, s = 3]) FROM (VALUES (now(), 1)) v(t, s)),
    1, 'NULL array elements are false');

-- the steps are VARIADIC "any": each condition reaches the aggregate as its
-- own argument (no boolean[] built per row); types are checked on the first row
SELECT results_eq($$ SELECT pg_get_function_arguments(oid) FROM pg_proc
                     WHERE pronamespace = 'funnel'::regnamespace AND proname = 'window_funnel' ORDER BY 1 $$,
    $$ VALUES ('"window" interval, mode text, ts timestamp with time zone, VARIADIC steps "any"'),
              ('"window" interval, ts timestamp with time zone, VARIADIC steps "any"') $$,
    'window_funnel takes its steps as VARIADIC "any"');
CREATE TEMP VIEW wf_call AS
    SELECT funnel.window_funnel(interval '1 hour', t, s = 1, s = 2) AS l FROM (VALUES (now(), 1)) v(t, s);
SELECT is(pg_get_viewdef('wf_call') !~ 'ARRAY', true, 'a call passes its steps as arguments, not as an array');
CREATE TEMP TABLE wf_types (t timestamp, e text);
INSERT INTO wf_types VALUES ('2024-01-01 10:00', 'a'), ('2024-01-01 10:01', 'd'), ('2024-01-01 10:02', 'b');
SELECT is((SELECT ARRAY[funnel.window_funnel('1 day', t, e = 'a', e = 'b'),
                        funnel.window_funnel('1 day', 'strict_order', t, e = 'a', e = 'b'),
                        funnel.window_funnel('1 day', 'strict_order', t::timestamptz, e = 'a', e = 'b'),
                        funnel.window_funnel('1 day', t::date, e = 'a', e = 'b'),
                        funnel.window_funnel('1 day', 'strict_order', t, VARIADIC ARRAY[e = 'a', e = 'b']),
                        funnel.window_funnel('1 day', t, VARIADIC ARRAY[e = 'a', e = 'b'])] FROM wf_types),
    ARRAY[2, 1, 1, 2, 1, 2], 'untyped window and mode literals pick the right form, with timestamp, timestamptz and date');
SELECT is((SELECT ARRAY[funnel.window_funnel(interval '1 day', t, e = 'a', NULL, e = 'b'),
                        funnel.window_funnel(interval '1 day', t, e = 'a', 'true', e = 'b'),
                        funnel.window_funnel(interval '1 day', t, e = 'a', NULL::boolean, e = 'b'),
                        funnel.window_funnel(interval '1 day', t, e = 'a', CASE WHEN e = 'd' THEN NULL ELSE e = 'd' END)] FROM wf_types),
    ARRAY[1, 3, 1, 1], 'NULL steps (typed, untyped, or NULL on a row) are false; an untyped ''true'' is true');
SELECT results_eq($$ SELECT funnel.window_funnel(interval '1 day', 'strict_order', t, e = 'a', e = 'b') OVER (ORDER BY t),
                            funnel.window_funnel(interval '1 day', t, VARIADIC ARRAY[e = 'a', e = 'b']) OVER (ORDER BY t)
                       FROM wf_types ORDER BY t $$,
    $$ VALUES (1, 1), (1, 1), (1, 2) $$, 'as window functions, with arguments and with VARIADIC ARRAY');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', now(), true, 1) $$,
    '42804', 'window_funnel argument 4 (step 2) must be boolean, not integer', 'a step of another type');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', 'strict_order', now(), 'x'::text, true) $$,
    '42804', 'window_funnel argument 4 (step 1) must be boolean, not text', 'a step of another type, mode form');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', now(), VARIADIC ARRAY[1, 2]) $$,
    '42804', 'window_funnel steps passed with VARIADIC must be a boolean array, not integer[]', 'VARIADIC array of another type');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', now(), true, ARRAY[true]) $$,
    '42804', 'window_funnel argument 4 (step 2) must be boolean, not boolean[]', 'an array among the steps');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', now(), true, 'maybe') $$,
    '22P02', 'invalid input syntax for type boolean: "maybe"', 'an untyped literal that is no boolean');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', now(), true, true, true, true, true, true, true, true, true, true,
                            true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
                            true, true, true, true, true, true, true) $$,
    '54023', 'window_funnel accepts at most 32 steps, got 33', 'more than 32 step arguments');

-- one large group (over 4096 events: not quicksorted) in any input order
-- gives the level of sorted input: a log read from its middle by a
-- synchronized scan (two runs, one after the other), a few interleaved
-- sorted runs (merged), many runs and random order (radix-sorted)
CREATE TEMP TABLE big AS
SELECT row_number() OVER (ORDER BY t, s) AS rn, t, s
  FROM (SELECT timestamptz '2024-01-01 00:00+00' + (hashint4(i) & 65535) * interval '1 second' AS t,
               hashint4(i + 99) & 7 AS s
          FROM generate_series(1, 20000) i) x;
-- one full chain, across the point where the scan of "rn >= 5001 first" wraps
CREATE TEMP TABLE chain AS
SELECT i AS rn, timestamptz '2024-01-01 00:00+00' + i * interval '1 second' AS t,
       CASE i WHEN 5000 THEN 2 WHEN 5001 THEN 3 WHEN 5002 THEN 4 ELSE 1 END AS s
  FROM generate_series(1, 10000) i;
CREATE FUNCTION pg_temp.big_level(tbl text, ord text, win interval, mode text, sorted boolean) RETURNS int LANGUAGE plpgsql AS $f$
DECLARE l int;
BEGIN
    EXECUTE format('SELECT funnel.window_funnel(%L, %L, t, s = 1, s = 2, s = 3, s = 4 %s) FROM (SELECT * FROM %I ORDER BY %s) x',
                   win, mode, CASE WHEN sorted THEN 'ORDER BY t, s DESC' ELSE '' END, tbl, ord) INTO l;
    RETURN l;
END $f$;
CREATE TEMP TABLE big_levels AS
SELECT tbl, o.ord, w.win, m.mode, pg_temp.big_level(tbl, o.ord, w.win, m.mode, false) AS level,
       pg_temp.big_level(tbl, 'rn', w.win, m.mode, true) AS sorted_level
  FROM (VALUES ('big'), ('chain')) b(tbl),
       (VALUES ('rn'), ('rn < 12345, rn'), ('rn < 5001, rn'), ('rn % 2, rn'), ('rn % 5, rn'), ('rn % 32, rn'),
               ('rn % 33, rn'), ('rn % 2, rn DESC'), ('hashint8(rn)')) o(ord),
       (VALUES (interval '0'), ('10 seconds'), ('2 minutes'), ('20 minutes')) w(win),
       (VALUES (''), ('strict_deduplication'), ('strict_order'), ('strict_increase')) m(mode);
SELECT is((SELECT count(*)::int FROM big_levels WHERE level IS DISTINCT FROM sorted_level), 0,
    'a large group gives the same level in every input order (merged runs, radix sort)');
SELECT cmp_ok((SELECT count(DISTINCT sorted_level)::int FROM big_levels), '>=', 3, 'the large group reaches several levels');

-- errors
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', now(), VARIADIC array_fill(true, ARRAY[33])) $$,
    '54023', 'window_funnel accepts at most 32 steps, got 33', 'more than 32 steps');
SELECT is((SELECT funnel.window_funnel(interval '1 day', now(), VARIADIC array_fill(true, ARRAY[32]))), 32, '32 steps are fine');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', t, VARIADIC st)
                      FROM (VALUES (now(), ARRAY[true]), (now(), ARRAY[true, false])) v(t, st) $$,
    '22023', 'window_funnel got 2 steps after 1', 'a different number of steps on another row');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', now(), VARIADIC ARRAY[]::boolean[]) $$,
    '22023', 'window_funnel needs at least one step', 'no steps');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', 'strict', now(), true) $$,
    '22023', 'unknown window_funnel mode "strict"', 'ClickHouse''s old mode name');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '-1 second', now(), true) $$,
    '22023', 'window_funnel window must not be negative', 'negative window');
SELECT throws_ok($$ SELECT funnel.window_funnel(NULL::interval, now(), true) $$,
    '22004', 'window_funnel window must not be NULL', 'NULL window');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', NULL::text, now(), true) $$,
    '22004', 'window_funnel mode must not be NULL', 'NULL mode');
SELECT throws_ok($$ SELECT funnel.window_funnel(w, now(), true) FROM (VALUES (interval '1 day'), (interval '2 days')) v(w) $$,
    '22023', 'window_funnel window must be the same for every row', 'window varying across rows');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', m, now(), true) FROM (VALUES (''), ('strict_order')) v(m) $$,
    '22023', 'window_funnel mode must be the same for every row', 'mode varying across rows');
SELECT throws_ok($$ SELECT funnel.window_funnel(interval '1 day', 'infinity'::timestamptz, true) $$,
    '22008', 'window_funnel timestamp must be finite, not infinity', 'infinite timestamp');

-- random data with many ties, rows matching several steps and NULLs: the
-- default mode equals the plain-SQL definition (a chain of steps 1..k with
-- non-decreasing timestamps, the last within the window of the first)
CREATE TEMP TABLE rnd AS
SELECT u, pg_temp.t((hashint4(u * 100 + i) & 15)) AS t,
       ARRAY[(hashint4(u * 1000 + i) & 3) = 0, (hashint4(u * 1000 + i + 7) & 3) = 0,
             CASE WHEN (hashint4(i + u) & 7) = 0 THEN NULL ELSE (hashint4(u * 1000 + i + 13) & 3) = 0 END,
             (hashint4(u * 1000 + i + 21) & 3) = 0] AS st
  FROM generate_series(1, 400) u, generate_series(1, (hashint4(u) & 15)) i;
CREATE TEMP TABLE rnd_entries AS
SELECT u, t, k AS step FROM rnd, generate_subscripts(st, 1) k WHERE st[k];
SELECT is_empty($$
    WITH RECURSIVE chain(u, first, last, k) AS (
        SELECT u, t, t, 1 FROM rnd_entries WHERE step = 1
        UNION
        SELECT c.u, c.first, e.t, c.k + 1
          FROM chain c JOIN rnd_entries e ON e.u = c.u AND e.step = c.k + 1
                      AND e.t >= c.last AND e.t - c.first <= interval '3 seconds'),
    expected AS (
        SELECT u, coalesce((SELECT max(k) FROM chain c WHERE c.u = r.u), 0) AS level
          FROM (SELECT DISTINCT u FROM rnd) r)
    SELECT u, level FROM expected
    EXCEPT
    SELECT u, funnel.window_funnel(interval '3 seconds', t, VARIADIC st) FROM rnd GROUP BY u $$,
    'random data, default mode: equal to the recursive plain-SQL definition');

-- every mode against a transcription of ClickHouse's scan: one (ts, step)
-- pair per matched step (step 0 for rows matching none, strict_order only),
-- sorted by (ts, step), walked one pair at a time
CREATE FUNCTION pg_temp.clickhouse_scan(win interval, modes text[], nsteps int, ts timestamptz[], steps int[])
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    dedup boolean := 'strict_deduplication' = ANY (modes);
    strict_order boolean := 'strict_order' = ANY (modes);
    incr boolean := 'strict_increase' = ANY (modes);
    ev_first timestamptz[] := array_fill(NULL::timestamptz, ARRAY[nsteps]);
    ev_last timestamptz[] := array_fill(NULL::timestamptz, ARRAY[nsteps]);
    first_event boolean := false;
    i int; e int; idx int; matched boolean;
BEGIN
    IF coalesce(array_length(ts, 1), 0) = 0 THEN RETURN 0; END IF;
    IF NOT strict_order AND nsteps = 1 THEN RETURN 1; END IF;
    FOR i IN 1 .. array_length(ts, 1) LOOP
        idx := steps[i];                       -- 1-based step, 0 = none
        IF strict_order AND idx = 0 THEN
            IF first_event THEN EXIT; ELSE CONTINUE; END IF;
        ELSIF idx = 1 THEN
            ev_first[1] := ts[i]; ev_last[1] := ts[i]; first_event := true;
        ELSIF dedup AND ev_first[idx] IS NOT NULL THEN
            FOR e IN REVERSE nsteps .. 1 LOOP
                IF ev_first[e] IS NOT NULL THEN RETURN e; END IF;
            END LOOP;
            RETURN 0;
        ELSIF strict_order AND first_event AND ev_first[idx - 1] IS NULL THEN
            FOR e IN 1 .. nsteps LOOP
                IF ev_first[e] IS NULL THEN RETURN e - 1; END IF;
            END LOOP;
        ELSIF ev_first[idx - 1] IS NOT NULL THEN
            matched := ts[i] <= ev_first[idx - 1] + win;
            IF incr THEN matched := matched AND ev_last[idx - 1] < ts[i]; END IF;
            IF matched THEN
                ev_first[idx] := ev_first[idx - 1]; ev_last[idx] := ts[i];
                IF idx = nsteps THEN RETURN nsteps; END IF;
            END IF;
        END IF;
    END LOOP;
    FOR e IN REVERSE nsteps .. 1 LOOP
        IF ev_first[e] IS NOT NULL THEN RETURN e; END IF;
    END LOOP;
    RETURN 0;
END $$;
CREATE TEMP TABLE modes (m text);
INSERT INTO modes SELECT concat_ws(',', CASE WHEN b & 1 <> 0 THEN 'strict_deduplication' END,
                                        CASE WHEN b & 2 <> 0 THEN 'strict_order' END,
                                        CASE WHEN b & 4 <> 0 THEN 'strict_increase' END)
  FROM generate_series(0, 7) b;
CREATE TEMP TABLE rnd_pairs AS
SELECT m.m, r.u, r.t, k AS step FROM modes m, rnd r, generate_subscripts(r.st, 1) k WHERE r.st[k]
UNION ALL
SELECT m.m, r.u, r.t, 0 FROM modes m, rnd r
 WHERE m.m LIKE '%strict_order%' AND NOT coalesce(r.st[1] OR r.st[2] OR r.st[3] OR r.st[4], false);
SELECT is_empty($$
    SELECT m.m, u.u, pg_temp.clickhouse_scan(interval '3 seconds', string_to_array(m.m, ','), 4, p.ts, p.steps)
      FROM modes m CROSS JOIN (SELECT DISTINCT u FROM rnd) u
      LEFT JOIN (SELECT m, u, array_agg(t ORDER BY t, step) AS ts, array_agg(step ORDER BY t, step) AS steps
                   FROM rnd_pairs GROUP BY m, u) p ON p.m = m.m AND p.u = u.u
    EXCEPT
    SELECT m.m, r.u, funnel.window_funnel(interval '3 seconds', m.m, r.t, VARIADIC r.st) FROM modes m, rnd r GROUP BY m.m, r.u $$,
    'random data, all 8 mode combinations: equal to ClickHouse''s scan over sorted (ts, step) pairs');
SELECT cmp_ok((SELECT count(DISTINCT l)::int FROM (SELECT funnel.window_funnel(interval '3 seconds', m.m, r.t, VARIADIC r.st) AS l
                                                      FROM modes m, rnd r GROUP BY m.m, r.u) x), '>=', 4,
    'the random data reaches several levels');

RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
