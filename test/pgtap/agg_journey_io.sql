-- test/pgtap/agg_journey_io.sql: text and binary I/O of funnel.journey and
-- of funnel summaries with outcomes (format version 2), as strict as the
-- other state types: every printed value reads back, impossible values are
-- refused with 22P02 (text) or 22P03 (binary) naming them; summaries
-- stored by funnel 0.1 (on-disk format version 1) still read (issue 9).
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(45);
SET timezone = 'UTC';

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1,0.3,0.6]);
SELECT funnel.create_pipeline('q"u,o\te d 零售', ARRAY['a, b', 'say "hi"', repeat('阶', 21)],
    won => ARRAY['成交'], lost => ARRAY['lost ,"\', '无预算']);

-- binary input through COPY: pg_temp.recv(type, bytes) returns the value's text
CREATE TEMP TABLE recv_journey (v funnel.journey);
CREATE TEMP TABLE recv_funnel_summary (v funnel.funnel_summary);
CREATE FUNCTION pg_temp.recv(typ text, b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    path text := current_setting('data_directory') || '/funnel_journey_io.bin';
    result text;
BEGIN
    EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
    EXECUTE format('DELETE FROM pg_temp.%I', 'recv_' || typ);
    EXECUTE format('COPY pg_temp.%I FROM %L (FORMAT binary)', 'recv_' || typ, path);
    EXECUTE format('SELECT v::text FROM pg_temp.%I', 'recv_' || typ) INTO result;
    RETURN result;
END
$$;
CREATE FUNCTION pg_temp.cstr(t text) RETURNS bytea LANGUAGE sql
    AS $$ SELECT convert_to(t, 'UTF8') || '\x00'::bytea $$;
-- journey binary form, written independently of the C code
CREATE FUNCTION pg_temp.journey_bytes(pipeline text, cur text, furthest text, last_open text,
                                      cur_at timestamptz, last_open_at timestamptz, first_at timestamptz,
                                      version int DEFAULT 1)
    RETURNS bytea LANGUAGE sql AS $$
    SELECT set_byte('\x00'::bytea, 0, version) || pg_temp.cstr(pipeline) || pg_temp.cstr(cur)
        || pg_temp.cstr(furthest) || pg_temp.cstr(last_open)
        || int8send(((extract(epoch FROM cur_at - '2000-01-01 UTC') * 1000000)::bigint))
        || int8send(coalesce((extract(epoch FROM last_open_at - '2000-01-01 UTC') * 1000000)::bigint, 0))
        || int8send(((extract(epoch FROM first_at - '2000-01-01 UTC') * 1000000)::bigint))
$$;

----------------------------------------------------------------------
-- 1. journeys: text and binary round trips
----------------------------------------------------------------------
CREATE TEMP TABLE io_visits (deal int, stage funnel.deal_stage, at timestamptz);
INSERT INTO io_visits VALUES
  (1, 'b2b:lead', '2024-01-01 10:00'), (1, 'b2b:proposal', '2024-01-02 11:30:00.123456'), (1, 'b2b:won', '2024-02-01'),
  (2, 'b2b:lead', '2024-01-01'), (2, 'b2b:lost', '2024-01-01'),
  (3, 'b2b:lost', '1999-12-31 23:59:59.999999'),
  (4, 'b2b:qualified', '2024-01-01'),
  (5, 'q"u,o\te d 零售:a, b', '2024-01-01'), (5, 'q"u,o\te d 零售:say "hi"', '2024-01-03'), (5, 'q"u,o\te d 零售:lost ,"\', '2024-01-04'),
  (6, ('q"u,o\te d 零售:' || repeat('阶', 21))::funnel.deal_stage, '0044-03-15 12:00'),
  (7, 'q"u,o\te d 零售:成交', '294276-12-31 23:59:59');
CREATE TEMP TABLE io_journeys AS SELECT deal, funnel.journey(stage, at) AS j FROM io_visits GROUP BY deal;
SELECT is((SELECT array_agg(deal ORDER BY deal) FROM io_journeys WHERE j::text::funnel.journey::text IS DISTINCT FROM j::text),
          NULL, 'journey: text output reads back to the same text');
SELECT is((SELECT count(*)::int FROM io_journeys WHERE j::text::jsonb IS NULL), 0, 'journey text is JSON');
SELECT is((SELECT j::text::jsonb ->> 'pipeline' FROM io_journeys WHERE deal = 5), 'q"u,o\te d 零售',
          'the pipeline name survives JSON quoting');
SET timezone = 'Asia/Kolkata';
SELECT is((SELECT array_agg(deal ORDER BY deal) FROM io_journeys
            WHERE funnel.started_at(j::text::funnel.journey) <> funnel.started_at(j)
               OR funnel.closed_at(j::text::funnel.journey) IS DISTINCT FROM funnel.closed_at(j)),
          NULL, 'journey text keeps the instants in another time zone');
RESET timezone;
SET timezone = 'UTC';
SELECT is((SELECT count(*)::int FROM io_journeys j, LATERAL (SELECT pg_temp.recv('journey', funnel_internal.journey_send(j.j)) AS t) r
            WHERE r.t IS DISTINCT FROM j.j::text), 0, 'journey: binary round trip keeps every value');
SELECT is(funnel_internal.journey_send(j), pg_temp.journey_bytes('b2b', 'won', 'proposal', 'proposal',
          '2024-02-01', '2024-01-02 11:30:00.123456', '2024-01-01 10:00'), 'journey binary form as documented')
  FROM io_journeys WHERE deal = 1;
SELECT is((SELECT j::text FROM io_journeys WHERE deal = 3),
          '{"pipeline": "b2b", "outcome": "lost", "current": "lost", "current_entered_at": "1999-12-31T23:59:59.999999+00:00", "furthest": null, "last_open": null, "last_open_entered_at": null, "first_entered_at": "1999-12-31T23:59:59.999999+00:00"}',
          'a journey without an open visit');

----------------------------------------------------------------------
-- 2. journeys: refused input
----------------------------------------------------------------------
CREATE FUNCTION pg_temp.jt(outcome text, cur text, cur_at text, furthest text, last_open text, lo_at text, first_at text,
                           pipeline text DEFAULT 'b2b') RETURNS text LANGUAGE sql AS $$
    SELECT format('{"pipeline": %s, "outcome": %s, "current": %s, "current_entered_at": %s, "furthest": %s, "last_open": %s, "last_open_entered_at": %s, "first_entered_at": %s}',
                  to_json(pipeline), to_json(outcome), to_json(cur), to_json(cur_at), coalesce(to_json(furthest)::text, 'null'),
                  coalesce(to_json(last_open)::text, 'null'), coalesce(to_json(lo_at)::text, 'null'), to_json(first_at))
$$;
SELECT is(pg_temp.jt('lost', 'lost', '2024-01-05T00:00:00+00:00', 'proposal', 'qualified', '2024-01-03T00:00:00+00:00', '2024-01-01T00:00:00+00:00')::funnel.journey::text,
          pg_temp.jt('lost', 'lost', '2024-01-05T00:00:00+00:00', 'proposal', 'qualified', '2024-01-03T00:00:00+00:00', '2024-01-01T00:00:00+00:00'),
          'a valid journey written by hand reads');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', 'proposal', 'qualified', '2024-01-03', '2024-01-01', 'nope')),
    '22P02', 'invalid journey: pipeline "nope" does not exist', 'unknown pipeline');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'gone', '2024-01-05', 'proposal', 'qualified', '2024-01-03', '2024-01-01')),
    '22P02', 'invalid journey: pipeline "b2b" has no stage "gone" (current)', 'unknown stage');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('won', 'lost', '2024-01-05', 'proposal', 'qualified', '2024-01-03', '2024-01-01')),
    '22P02', 'invalid journey: outcome "won" but current stage "lost" is lost', 'outcome that is not the current stage''s kind');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', 'won', 'qualified', '2024-01-03', '2024-01-01')),
    '22P02', 'invalid journey: furthest "won" and last_open "qualified"', 'furthest must be open');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', 'lead', 'qualified', '2024-01-03', '2024-01-01')),
    '22P02', 'invalid journey: furthest "lead" and last_open "qualified"', 'last_open beyond furthest');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', 'lead', NULL, NULL, '2024-01-01')),
    '22P02', 'invalid journey: furthest "lead" and last_open "null"', 'furthest without last_open');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', 'lead', 'lead', NULL, '2024-01-01')),
    '22P02', 'invalid journey: last_open "lead" without last_open_entered_at', 'last_open without its time');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', NULL, NULL, '2024-01-03', '2024-01-01')),
    '22P02', 'invalid journey: last_open_entered_at without last_open', 'a time without last_open');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', 'lead', 'lead', '2024-01-06', '2024-01-01')),
    '22P02', NULL, 'last open visit after the current one');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', NULL, NULL, NULL, '2024-01-06')),
    '22P02', NULL, 'first visit after the current one');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('open', 'qualified', '2024-01-05', 'proposal', 'lead', '2024-01-04', '2024-01-01')),
    '22P02', 'invalid journey: open current stage "qualified" but last_open "lead"', 'an open deal was last open in its current stage');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', 'infinity', NULL, NULL, NULL, '2024-01-01')),
    '22P02', 'invalid journey: timestamps must be finite and in range', 'infinite timestamp');
SELECT throws_ok($$ SELECT '{"pipeline": "b2b"}'::funnel.journey $$, '22P02', NULL, 'syntax: missing keys');
SELECT throws_ok(format('SELECT %L::funnel.journey', pg_temp.jt('lost', 'lost', '2024-01-05', NULL, NULL, NULL, '2024-01-01') || ' x'),
    '22P02', NULL, 'syntax: trailing text');
SELECT throws_ok(format($$ SELECT pg_temp.recv('journey', %L) $$,
    pg_temp.journey_bytes('b2b', 'won', 'proposal', 'proposal', '2024-02-01', '2024-01-02', '2024-01-01', 3)),
    '22P03', 'unsupported binary format version 3 of type journey', 'binary: unknown version');
SELECT throws_ok(format($$ SELECT pg_temp.recv('journey', %L) $$,
    pg_temp.journey_bytes('b2b', 'won', 'proposal', 'proposal', '2024-02-01', '2024-01-02', '2024-01-01', 2)),
    '22P03', 'invalid journey: version 2 with current stage "won"', 'binary: version 2 is the form of a moved journey, its current stage qualified');
SELECT throws_ok(format($$ SELECT pg_temp.recv('journey', %L) $$,
    pg_temp.journey_bytes('b2b', 'lost', '', '', '2024-02-01', '2024-01-02', '2024-01-01')),
    '22P03', 'invalid journey: last_open_entered_at without last_open', 'binary: a time without last_open');
SELECT throws_ok(format($$ SELECT pg_temp.recv('journey', %L) $$,
    pg_temp.journey_bytes('b2b', 'lost', 'lead', 'proposal', '2024-02-01', '2024-01-02', '2024-01-01')),
    '22P03', 'invalid journey: furthest "lead" and last_open "proposal"', 'binary: last_open beyond furthest');
SELECT throws_ok(format($$ SELECT pg_temp.recv('journey', %L) $$,
    substring(pg_temp.journey_bytes('b2b', 'lost', '', '', '2024-02-01', NULL, '2024-01-01') FROM 1 FOR 20)),
    '08P01', NULL, 'binary: cut short');

----------------------------------------------------------------------
-- 3. summaries with outcomes: round trips, format versions
----------------------------------------------------------------------
CREATE TEMP TABLE io_summaries (id text, s funnel.funnel_summary);
INSERT INTO io_summaries
SELECT 'b2b', funnel.funnel(j, deal * 10.5) FROM io_journeys WHERE deal <= 4
UNION ALL
SELECT 'odd names', funnel.funnel(j, -0.000001) FROM io_journeys WHERE deal > 4
UNION ALL
SELECT 'no amounts', funnel.funnel(j) FROM io_journeys WHERE deal <= 4
UNION ALL
SELECT 'current stages', funnel.funnel(s::funnel.deal_stage, 1, l::funnel.deal_stage)
  FROM (VALUES ('b2b:lost', 'b2b:qualified'), ('b2b:lost', NULL), ('b2b:proposal', NULL), ('b2b:won', 'b2b:lead')) v(s, l);
SELECT is((SELECT array_agg(id ORDER BY id) FROM io_summaries WHERE s::text::funnel.funnel_summary::text IS DISTINCT FROM s::text),
          NULL, 'outcome summary: text output reads back to the same text');
SELECT is((SELECT count(*)::int FROM io_summaries s, LATERAL (SELECT pg_temp.recv('funnel_summary', funnel_internal.funnel_summary_send(s.s)) AS t) r
            WHERE r.t IS DISTINCT FROM s.s::text), 0, 'outcome summary: binary round trip keeps every value');
SELECT is((SELECT array_agg(DISTINCT get_byte(funnel_internal.funnel_summary_send(s), 0)) FROM io_summaries), ARRAY[2],
          'summaries with outcomes are sent as binary format version 2');
SELECT is(get_byte(funnel_internal.funnel_summary_send(funnel.funnel('b2b:lead'::funnel.deal_stage)), 0), 1,
          'summaries without outcomes are sent as version 1, as funnel 0.1 did');
SELECT is((SELECT s::text FROM io_summaries WHERE id = 'current stages'),
          '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 1, "amount_count": 1, "amount": 1, "open": 0, "lost_here": 1, "current": 0, "current_amount_count": 0, "current_amount": 0}, '
          '{"stage": "qualified", "deals": 1, "amount_count": 1, "amount": 1, "open": 0, "lost_here": 1, "current": 0, "current_amount_count": 0, "current_amount": 0}, '
          '{"stage": "proposal", "deals": 1, "amount_count": 1, "amount": 1, "open": 1, "lost_here": 0, "current": 1, "current_amount_count": 1, "current_amount": 1}, '
          '{"stage": "won", "deals": 1, "amount_count": 1, "amount": 1, "open": 0, "lost_here": 0, "current": 1, "current_amount_count": 1, "current_amount": 1}, '
          '{"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 2, "current_amount_count": 2, "current_amount": 2}]}',
          'current-stage summary: lost at lost_at, or at the first open stage');

----------------------------------------------------------------------
-- 4. summaries with outcomes: refused input
----------------------------------------------------------------------
CREATE FUNCTION pg_temp.st(stage text, deals int, open int, lost_here int, cur int, amount_count int DEFAULT 0,
                           amount text DEFAULT '0', cur_count int DEFAULT 0, cur_amount text DEFAULT '0') RETURNS text
    LANGUAGE sql AS $$
    SELECT format('{"stage": "%s", "deals": %s, "amount_count": %s, "amount": %s, "open": %s, "lost_here": %s, "current": %s, "current_amount_count": %s, "current_amount": %s}',
                  stage, deals, amount_count, amount, open, lost_here, cur, cur_count, cur_amount)
$$;
CREATE FUNCTION pg_temp.summary(VARIADIC stages text[]) RETURNS text LANGUAGE sql
    AS $$ SELECT '{"pipeline": "b2b", "stages": [' || array_to_string(stages, ', ') || ']}' $$;
SELECT is(pg_temp.summary(pg_temp.st('lead', 2, 1, 1, 1), pg_temp.st('lost', 0, 0, 0, 1))::funnel.funnel_summary::text,
          pg_temp.summary(pg_temp.st('lead', 2, 1, 1, 1), pg_temp.st('qualified', 0, 0, 0, 0), pg_temp.st('proposal', 0, 0, 0, 0),
                          pg_temp.st('won', 0, 0, 0, 0), pg_temp.st('lost', 0, 0, 0, 1)),
          'a valid outcome summary written by hand reads (missing stages are zero)');
SELECT throws_ok(format('SELECT %L::funnel.funnel_summary', pg_temp.summary(pg_temp.st('lead', 1, 2, 0, 2))),
    '22P02', 'invalid funnel summary: stage "lead" has deals 1, open 2, lost_here 0, current 2 and current_amount_count 0', 'open above deals');
SELECT throws_ok(format('SELECT %L::funnel.funnel_summary', pg_temp.summary(pg_temp.st('won', 1, 0, 1, 1))),
    '22P02', 'invalid funnel summary: won stage "won" has open 0 and lost_here 1', 'deals lost from a won stage');
SELECT throws_ok(format('SELECT %L::funnel.funnel_summary', pg_temp.summary(pg_temp.st('won', 2, 0, 0, 1))),
    '22P02', 'invalid funnel summary: won stage "won" has deals 2 but current 1', 'won deals not in their won stage');
SELECT throws_ok(format('SELECT %L::funnel.funnel_summary', pg_temp.summary(pg_temp.st('lead', 1, 0, 0, 0), pg_temp.st('qualified', 0, 0, 1, 0), pg_temp.st('lost', 0, 0, 0, 1))),
    '22P02', 'invalid funnel summary: from stage "qualified" on, 1 lost deals were lost there but 0 reached it, 0 open deals are there but 0 reached it',
    'a deal lost from a stage it never reached');
SELECT throws_ok(format('SELECT %L::funnel.funnel_summary', pg_temp.summary(pg_temp.st('lead', 1, 0, 1, 0))),
    '22P02', 'invalid funnel summary: 0 deals ended in lost stages but 1 are lost', 'a lost deal in no lost stage');
SELECT throws_ok(format('SELECT %L::funnel.funnel_summary', pg_temp.summary(pg_temp.st('lead', 1, 1, 0, 1, 0, '0', 0, '5'))),
    '22P02', 'invalid funnel summary: stage "lead" has current_amount 5 but current_amount_count 0', 'current_amount without amounts');
SELECT throws_ok(format('SELECT %L::funnel.funnel_summary',
    '{"pipeline": "b2b", "stages": [' || pg_temp.st('lead', 1, 1, 0, 1) || ', {"stage": "won", "deals": 0, "amount_count": 0, "amount": 0}]}'),
    '22P02', NULL, 'outcome counters on some stages only');
SELECT throws_ok(format($$ SELECT pg_temp.recv('funnel_summary', %L) $$,
    overlay(funnel_internal.funnel_summary_send(pg_temp.summary(pg_temp.st('lead', 1, 1, 0, 1))::funnel.funnel_summary)
            placing int8send(2) FROM 49 FOR 8)),
    '22P03', 'invalid funnel summary: stage "lead" has deals 1, open 2, lost_here 0, current 1 and current_amount_count 0',
    'binary: open above deals');

----------------------------------------------------------------------
-- 5. a summary stored by funnel 0.1 (on-disk format version 1) still reads
----------------------------------------------------------------------
-- the 0.1 layout: varlena header, version 1, flags 0, int16 scale, pipeline
-- OID, int32 count, pad (and 4 bytes to align the entries), then per stage label OID, pad, int64 deals,
-- int64 amount_count, int128 amount (native byte order): written here as a
-- bytea column whose catalog type is then switched to funnel_summary, as
-- the rows of a table written by funnel 0.1 are read after an upgrade
CREATE FUNCTION pg_temp.le(v numeric, n int) RETURNS bytea LANGUAGE sql AS $$
    SELECT string_agg(set_byte('\x00'::bytea, 0, (mod(div(CASE WHEN v < 0 THEN v + 2::numeric ^ (8 * n) ELSE v END,
                                                          256::numeric ^ i), 256))::int), ''::bytea ORDER BY i)
      FROM generate_series(0, n - 1) i
$$;
CREATE TEMP TABLE v1 (s bytea);
INSERT INTO v1
SELECT '\x01'::bytea || '\x00'::bytea || pg_temp.le(2, 2) || pg_temp.le('funnel_pipeline.b2b'::regtype::oid::text::numeric, 4)
        || pg_temp.le(2, 4) || pg_temp.le(0, 4) || pg_temp.le(0, 4)
        || pg_temp.le((SELECT oid FROM pg_enum WHERE enumtypid = 'funnel_pipeline.b2b'::regtype AND enumlabel = 'proposal')::text::numeric, 4)
        || pg_temp.le(0, 4) || pg_temp.le(3, 8) || pg_temp.le(2, 8) || pg_temp.le(-1250, 16)
        || pg_temp.le((SELECT oid FROM pg_enum WHERE enumtypid = 'funnel_pipeline.b2b'::regtype AND enumlabel = 'won')::text::numeric, 4)
        || pg_temp.le(0, 4) || pg_temp.le(1, 8) || pg_temp.le(1, 8) || pg_temp.le(99999, 16);
UPDATE pg_attribute SET atttypid = 'funnel.funnel_summary'::regtype, attalign = 'd'
 WHERE attrelid = 'pg_temp.v1'::regclass AND attname = 's';
-- (it stores two entries; like every summary it prints one per stage of the
-- pipeline, zeros for the others, so that its text reads back to itself)
SELECT is((SELECT s::text FROM v1),
          '{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0.00}, '
          '{"stage": "qualified", "deals": 0, "amount_count": 0, "amount": 0.00}, '
          '{"stage": "proposal", "deals": 3, "amount_count": 2, "amount": -12.50}, '
          '{"stage": "won", "deals": 1, "amount_count": 1, "amount": 999.99}, '
          '{"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0.00}]}',
          'a 0.1 summary prints in the 0.1 text form, every stage in order');
SELECT is((SELECT s::text::funnel.funnel_summary::text FROM v1), (SELECT s::text FROM v1),
          'a 0.1 summary: input(output(x)) prints as x');
SELECT is((SELECT string_agg(deals || ':' || coalesce(amount::text, '-') || ':' || coalesce(lost::text, '-'), ' ') FROM v1, funnel.report(v1.s)),
          '4:987.49:- 4:987.49:- 4:987.49:- 1:999.99:0 0:-:0', 'a 0.1 summary reports, without outcomes');
SELECT is((SELECT string_agg(deals || ':' || coalesce(amount::text, '-') || ':' || coalesce(lost::text, '-'), ' ')
             FROM funnel.report((SELECT funnel.funnel(x) FROM (SELECT s FROM v1 UNION ALL
                                   SELECT funnel.funnel(j) FROM io_journeys WHERE deal = 1) y(x)))),
          '5:987.49:- 5:987.49:- 5:987.49:- 2:999.99:0 0:-:0',
          'a 0.1 summary merges with a journey summary (outcomes dropped)');

SELECT * FROM finish();
ROLLBACK;
