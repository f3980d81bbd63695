-- test/pgtap/agg_state_fuzz.sql: thousands of random, truncated and
-- mutated byte strings through the binary input of every aggregate state
-- type (COPY ... FROM a file (FORMAT binary) calls the type's recv, as a
-- client's binary COPY or bind parameter does).  Each must either be
-- refused with a binary-format or range error, or read into a value that
-- keeps the types' rules (checked independently from its JSON/tuple text),
-- prints and reads back, sends, merges and reports (issue 7, item 4).
-- Journeys and summaries with outcomes (issue 9) and duration samples (the
-- percentiles' state, issue 11) are fuzzed the same way.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(8);
SELECT setseed(0.4242);

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1,0.3,0.6]);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','商机'], ARRAY[0.2,0.5], won => ARRAY['成交'], lost => ARRAY['流失']);

CREATE TEMP TABLE recv_funnel_summary (v funnel.funnel_summary);
CREATE TEMP TABLE recv_forecast_state (v funnel.forecast_state);
CREATE TEMP TABLE recv_velocity_state (v funnel.velocity_state);
CREATE TEMP TABLE recv_journey (v funnel.journey);
CREATE TEMP TABLE recv_duration_sample (v funnel.duration_sample);
SET timezone = 'UTC';

-- the seeds: binary forms of valid values
CREATE TEMP TABLE fuzz_seed (typ text, b bytea);
INSERT INTO fuzz_seed
SELECT 'funnel_summary', funnel_internal.funnel_summary_send(s::funnel.funnel_summary) FROM (VALUES
    ('{"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 3, "amount_count": 2, "amount": 150.25}, {"stage": "won", "deals": 1, "amount_count": 1, "amount": -7.50}]}'),
    ('{"pipeline": "零售", "stages": [{"stage": "商机", "deals": 9223372036854775807, "amount_count": 1, "amount": 1}]}'),
    ('{"pipeline": "b2b", "stages": []}')) v(s)
UNION ALL
SELECT 'funnel_summary', funnel_internal.funnel_summary_send(s) FROM (
    SELECT funnel.funnel(j, a) FROM (
        SELECT deal, funnel.journey(st::funnel.deal_stage, at::timestamptz) AS j FROM (VALUES
            (1, 'b2b:lead', '2024-01-01'), (1, 'b2b:won', '2024-01-03'), (2, 'b2b:qualified', '2024-01-01'),
            (3, 'b2b:proposal', '2024-01-01'), (3, 'b2b:lost', '2024-01-02'), (4, 'b2b:lost', '2024-01-02')) v(deal, st, at)
         GROUP BY deal) x, LATERAL (SELECT x.deal * 100.25 AS a) y
    UNION ALL
    SELECT funnel.funnel(st::funnel.deal_stage, 7, l::funnel.deal_stage)
      FROM (VALUES ('零售:流失', '零售:商机'), ('零售:流失', NULL), ('零售:潜在客户', NULL), ('零售:成交', NULL)) v(st, l)) z(s)
UNION ALL
SELECT 'journey', funnel_internal.journey_send(j) FROM (
    SELECT funnel.journey(st::funnel.deal_stage, at::timestamptz) AS j FROM (VALUES
        (1, 'b2b:lead', '2024-01-01'), (1, 'b2b:proposal', '2024-01-02 10:00:00.5'), (1, 'b2b:won', '2024-01-03'),
        (2, 'b2b:lost', '2024-01-02'),
        (3, '零售:潜在客户', '2024-01-01'), (3, '零售:商机', '2024-01-05')) v(deal, st, at)
     GROUP BY deal) x
UNION ALL
SELECT 'forecast_state', funnel_internal.forecast_state_send(s::funnel.forecast_state)
  FROM (VALUES ('(3,1250.50)'), ('(0,0)'), ('(9223372036854775807,-0.000001)')) v(s)
UNION ALL
SELECT 'velocity_state', funnel_internal.velocity_state_send(s::funnel.velocity_state)
  FROM (VALUES ('(10,3,2,3,4500.00,3,864000000000)'), ('(0,0,0,0,0,0,0)'), ('(7,1,6,1,-1.5,1,-3)')) v(s)
UNION ALL
SELECT 'duration_sample', funnel_internal.duration_sample_send(s::funnel.duration_sample)
  FROM (VALUES ('{"fraction": 0.5, "durations_us": [3600000000,86400000000,-1,0]}'),
               ('{"fraction": null, "durations_us": [9223372036854775807,-9223372036854775808,7]}'),
               ('{"fraction": 0.9, "durations_us": []}')) v(s);

CREATE FUNCTION pg_temp.random_bytes(n int) RETURNS bytea LANGUAGE sql AS $$
    SELECT coalesce(string_agg(set_byte('\x00'::bytea, 0, floor(random() * 256)::int), ''::bytea), ''::bytea)
      FROM generate_series(1, n)
$$;

-- one random mutation of b
CREATE FUNCTION pg_temp.mutate(b bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    len int := length(b);
    pos int := floor(random() * greatest(len, 1))::int;
    words bytea[] := ARRAY[int8send(0), int8send(-1), int8send(1), int8send(9223372036854775807),
                           int8send(-9223372036854775808), int8send(4611686018427387904)];
    i int;
BEGIN
    CASE floor(random() * 7)::int
        WHEN 0 THEN             -- change one to three bytes
            FOR i IN 1 .. 1 + floor(random() * 3)::int LOOP
                IF len > 0 THEN
                    b := set_byte(b, floor(random() * len)::int, floor(random() * 256)::int);
                END IF;
            END LOOP;
        WHEN 1 THEN             -- truncate
            b := substring(b from 1 for pos);
        WHEN 2 THEN             -- append garbage
            b := b || pg_temp.random_bytes(1 + floor(random() * 8)::int);
        WHEN 3 THEN             -- insert garbage
            b := substring(b from 1 for pos) || pg_temp.random_bytes(1 + floor(random() * 4)::int)
                 || substring(b from pos + 1);
        WHEN 4 THEN             -- random bytes
            b := pg_temp.random_bytes(floor(random() * 64)::int);
        WHEN 5 THEN             -- an interesting 8-byte word anywhere (counts, int128 halves)
            b := overlay(b placing words[1 + floor(random() * 6)::int] from pos + 1 for 8);
        ELSE                    -- repeat a slice (duplicate stages, longer counts)
            b := substring(b from 1 for pos) || substring(b from pos + 1 - floor(random() * pos)::int);
    END CASE;
    RETURN b;
END
$$;

-- rules a value must keep, checked from its text form (not by the C code)
CREATE FUNCTION pg_temp.keeps_rules(typ text, t text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    f numeric[];
BEGIN
    IF typ = 'journey' THEN
        RETURN pg_temp.journey_keeps_rules(t::jsonb);
    END IF;
    IF typ = 'duration_sample' THEN
        -- fraction null or in [0,1]; durations whole bigint microseconds
        RETURN coalesce((t::jsonb ->> 'fraction')::float8 BETWEEN 0 AND 1, t::jsonb -> 'fraction' = 'null'::jsonb)
           AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(t::jsonb -> 'durations_us') d
                            WHERE d::numeric <> trunc(d::numeric)
                               OR d::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807);
    END IF;
    IF typ = 'funnel_summary' AND t::jsonb #> '{stages,0,open}' IS NOT NULL THEN
        RETURN pg_temp.outcome_summary_keeps_rules(t::jsonb);
    END IF;
    IF typ = 'funnel_summary' THEN
        RETURN NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements(t::jsonb -> 'stages') e
             WHERE (e->>'deals')::numeric < 0 OR (e->>'amount_count')::numeric < 0
                OR (e->>'amount_count')::numeric > (e->>'deals')::numeric
                OR ((e->>'amount_count')::numeric = 0 AND (e->>'amount')::numeric <> 0))
           AND (SELECT count(*) = count(DISTINCT e->>'stage') FROM jsonb_array_elements(t::jsonb -> 'stages') e);
    END IF;
    f := string_to_array(btrim(t, '()'), ',')::numeric[];
    IF typ = 'forecast_state' THEN
        RETURN f[1] >= 0 AND (f[1] > 0 OR f[2] = 0);
    END IF;
    -- deals, won, lost, won_amount_count, won_amount, cycles, cycle_usecs
    RETURN f[1] >= 0 AND f[2] >= 0 AND f[3] >= 0 AND f[4] >= 0 AND f[6] >= 0
       AND f[2] + f[3] <= f[1] AND f[4] <= f[2] AND f[6] <= f[2]
       AND (f[4] > 0 OR f[5] = 0) AND (f[6] > 0 OR f[7] = 0);
END
$$;

-- a journey: stages of its pipeline, kinds and order that visits can make
CREATE FUNCTION pg_temp.journey_keeps_rules(j jsonb) RETURNS boolean LANGUAGE sql AS $$
    WITH s AS (SELECT stage, kind, position FROM funnel.stages WHERE pipeline = j->>'pipeline'),
         c AS (SELECT * FROM s WHERE stage = j->>'current'),
         f AS (SELECT * FROM s WHERE stage = j->>'furthest'),
         l AS (SELECT * FROM s WHERE stage = j->>'last_open')
    SELECT (SELECT kind FROM c) = j->>'outcome'
       AND (j->>'furthest' IS NULL) = (j->>'last_open' IS NULL)
       AND (j->>'last_open' IS NULL) = (j->>'last_open_entered_at' IS NULL)
       AND (j->>'furthest' IS NULL OR ((SELECT kind FROM f) = 'open' AND (SELECT kind FROM l) = 'open'
                                       AND (SELECT position FROM l) <= (SELECT position FROM f)))
       AND (j->>'first_entered_at')::timestamptz <= (j->>'current_entered_at')::timestamptz
       AND (j->>'last_open' IS NULL OR (j->>'last_open_entered_at')::timestamptz
                                       BETWEEN (j->>'first_entered_at')::timestamptz AND (j->>'current_entered_at')::timestamptz)
       AND (j->>'outcome' <> 'open' OR (j->>'last_open' = j->>'current'
                                        AND j->>'last_open_entered_at' = j->>'current_entered_at'))
$$;
-- a summary with outcomes: per stage and over the open stages, the counts journeys make
CREATE FUNCTION pg_temp.outcome_summary_keeps_rules(t jsonb) RETURNS boolean LANGUAGE sql AS $$
    WITH e AS (
        SELECT x->>'stage' AS stage, (x->>'deals')::numeric AS deals, (x->>'amount_count')::numeric AS amount_count,
               (x->>'amount')::numeric AS amount, (x->>'open')::numeric AS open, (x->>'lost_here')::numeric AS lost_here,
               (x->>'current')::numeric AS cur, (x->>'current_amount_count')::numeric AS cur_count,
               (x->>'current_amount')::numeric AS cur_amount, s.kind, s.position
          FROM jsonb_array_elements(t -> 'stages') x JOIN funnel.stages s ON s.pipeline = t->>'pipeline' AND s.stage = x->>'stage'),
         o AS (SELECT position,
                      sum(deals - open) OVER w AS lost_reached, sum(lost_here) OVER w AS lost_from,
                      sum(open) OVER w AS open_reached, sum(cur) OVER w AS open_now
                 FROM e WHERE kind = 'open' WINDOW w AS (ORDER BY position DESC))
    SELECT NOT EXISTS (SELECT 1 FROM e WHERE deals < 0 OR amount_count < 0 OR amount_count > deals
                                          OR (amount_count = 0 AND amount <> 0) OR open < 0 OR open > deals
                                          OR lost_here < 0 OR cur < 0 OR cur_count < 0 OR cur_count > cur
                                          OR (cur_count = 0 AND cur_amount <> 0)
                                          OR (kind <> 'open' AND (open <> 0 OR lost_here <> 0))
                                          OR (kind = 'won' AND (cur <> deals OR cur_count <> amount_count OR cur_amount <> amount)))
       AND NOT EXISTS (SELECT 1 FROM o WHERE lost_from > lost_reached OR open_now > open_reached
                                          OR (position = (SELECT min(position) FROM o)
                                              AND (lost_from <> lost_reached OR open_now <> open_reached)))
       AND (SELECT coalesce(sum(cur), 0) FROM e WHERE kind = 'lost')
           = (SELECT coalesce(sum(deals), 0) FROM e WHERE kind = 'lost') + (SELECT coalesce(sum(deals - open), 0) FROM e WHERE kind = 'open')
       AND (SELECT count(*) = count(DISTINCT stage) FROM e)
       AND (SELECT count(*) FROM e) = jsonb_array_length(t -> 'stages')
$$;

CREATE TEMP TABLE fuzz_log (typ text, input bytea, outcome text, detail text);
DO $$
DECLARE
    path text := current_setting('data_directory') || '/funnel_state_fuzz.bin';
    seed record;
    input bytea;
    val text;
    i int;
BEGIN
    FOR seed IN SELECT typ, b FROM fuzz_seed LOOP
        FOR i IN 1 .. 700 LOOP
            input := pg_temp.mutate(seed.b);
            IF random() < 0.3 THEN
                input := pg_temp.mutate(input);
            END IF;
            BEGIN
                EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', input, path);
                EXECUTE format('DELETE FROM pg_temp.%I', 'recv_' || seed.typ);
                EXECUTE format('COPY pg_temp.%I FROM %L (FORMAT binary)', 'recv_' || seed.typ, path);
                EXECUTE format('SELECT v::text FROM pg_temp.%I', 'recv_' || seed.typ) INTO val;
            EXCEPTION WHEN others THEN
                INSERT INTO fuzz_log VALUES (seed.typ, input, 'refused ' || SQLSTATE, SQLERRM);
                CONTINUE;
            END;
            -- accepted: it keeps the rules, reads back, sends, merges, reports
            BEGIN
                IF NOT pg_temp.keeps_rules(seed.typ, val) THEN
                    INSERT INTO fuzz_log VALUES (seed.typ, input, 'breaks rules', val);
                    CONTINUE;
                END IF;
                EXECUTE format('SELECT $1::funnel.%I::text = $1', seed.typ) INTO STRICT val USING val;
                IF val::boolean IS NOT TRUE THEN
                    INSERT INTO fuzz_log VALUES (seed.typ, input, 'text round trip differs', NULL);
                    CONTINUE;
                END IF;
                EXECUTE format('SELECT funnel_internal.%I(v) FROM pg_temp.%I', seed.typ || '_send', 'recv_' || seed.typ);
                IF seed.typ = 'journey' THEN
                    PERFORM count(*) FROM funnel.report((SELECT funnel.funnel(v, 1) FROM pg_temp.recv_journey));
                    PERFORM funnel.outcome(v), funnel.closed_at(v), funnel_internal.journey_combine(v, v) FROM pg_temp.recv_journey;
                ELSIF seed.typ = 'funnel_summary' THEN
                    BEGIN
                        PERFORM count(*) FROM pg_temp.recv_funnel_summary, funnel.report(v);
                        PERFORM funnel.funnel(v) FROM pg_temp.recv_funnel_summary, generate_series(1, 2);
                    EXCEPTION WHEN numeric_value_out_of_range THEN
                        NULL;       -- 22003: totals beyond bigint, said so
                    END;
                ELSIF seed.typ = 'duration_sample' THEN
                    PERFORM funnel_internal.time_in_stage_final(funnel_internal.time_in_stage_combine(v, v)),
                            funnel_internal.time_in_stage_final_days(v)
                       FROM pg_temp.recv_duration_sample;
                ELSE
                    BEGIN
                        EXECUTE format('SELECT funnel_internal.%I(v, v) FROM pg_temp.%I',
                                       replace(seed.typ, '_state', '') || '_state_combine', 'recv_' || seed.typ);
                        EXECUTE format('SELECT funnel_internal.%I(v) FROM pg_temp.%I',
                                       replace(seed.typ, '_state', '') || '_state_final', 'recv_' || seed.typ);
                    EXCEPTION WHEN numeric_value_out_of_range THEN
                        NULL;
                    END;
                END IF;
                INSERT INTO fuzz_log VALUES (seed.typ, input, 'accepted', NULL);
            EXCEPTION WHEN others THEN
                INSERT INTO fuzz_log VALUES (seed.typ, input, 'accepted, then ' || SQLSTATE, SQLERRM);
            END;
        END LOOP;
    END LOOP;
END
$$;

SELECT is((SELECT count(*)::int FROM fuzz_log), 11900, '11900 mutated byte strings tried (700 per seed value)');
SELECT is((SELECT array_agg(DISTINCT outcome || ': ' || detail) FROM fuzz_log
            WHERE outcome LIKE 'refused%'
              AND outcome NOT IN ('refused 22P03', 'refused 08P01', 'refused 22003', 'refused 22021')),
          NULL, 'every refusal is a binary-format (22P03, 08P01), range (22003) or encoding (22021) error');
SELECT is((SELECT count(*)::int FROM fuzz_log WHERE outcome = 'breaks rules'), 0,
          'no accepted value has a negative count, more amounts than deals, an amount without amounts or a duplicate stage');
SELECT diag('breaks rules: ' || detail) FROM fuzz_log WHERE outcome = 'breaks rules' LIMIT 3;
SELECT is((SELECT count(*)::int FROM fuzz_log WHERE outcome = 'text round trip differs'), 0,
          'every accepted value prints text that reads back to itself');
SELECT is((SELECT array_agg(DISTINCT outcome || ': ' || detail) FROM fuzz_log WHERE outcome LIKE 'accepted, then%'), NULL,
          'every accepted value sends, merges, reports and finishes (or says 22003)');
SELECT cmp_ok((SELECT count(*)::int FROM fuzz_log WHERE outcome = 'accepted'), '>=', 300,
          'the fuzzer reaches the accepting path');
SELECT cmp_ok((SELECT count(DISTINCT typ)::int FROM fuzz_log WHERE outcome = 'accepted'), '=', 5,
          '... for every state type');
SELECT cmp_ok((SELECT count(*)::int FROM fuzz_log WHERE outcome = 'refused 22P03'), '>=', 1000,
          'most mutations are refused as invalid binary representation');

SELECT diag('outcomes: ' || string_agg(typ || ' ' || outcome || ' ' || n, ', ' ORDER BY typ, outcome))
  FROM (SELECT typ, outcome, count(*) AS n FROM fuzz_log GROUP BY 1, 2) c;

SELECT * FROM finish();
ROLLBACK;
