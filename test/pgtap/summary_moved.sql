-- test/pgtap/summary_moved.sql: funnel summaries and report() count the
-- deals that moved to another pipeline (PRODUCT.md section 6, issue 23
-- item 1).  A deals table of three pipelines, tracked, with a seeded random
-- workload of moves within and between them; the journey of a deal in a
-- pipeline it left (outcome moved) counts in report()'s moved column of
-- every open stage it reached there and in moved_here of the stage it left
-- from, each checked against plain SQL over the history; every other column
-- is that of the deals that stayed.  Merges of partial summaries, a forced
-- parallel plan, text and binary round trips of a summary with moved deals
-- (format version 3), version 2 input, bad version 3 input, and the live
-- summaries of the same table.
BEGIN;
SELECT plan(32);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']);
SELECT funnel.create_pipeline('retail', ARRAY['lead','qualified','proposal']);
SELECT funnel.create_pipeline('partner', ARRAY['lead','qualified']);
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL, owner text,
                    amount numeric, changed_at timestamptz);
INSERT INTO deals
  SELECT g, (ARRAY['b2b:lead','retail:lead','partner:lead'])[1 + g % 3]::funnel.deal_stage,
         'o' || (g % 4), g * 10, '2024-01-01'
    FROM generate_series(1, 60) g;
SELECT funnel.track('deals', pipelines => ARRAY['b2b','retail','partner'], rule => 'any',
                    changed_at_column => 'changed_at');
-- from any stage of a pipeline to any open stage of the others
SELECT funnel.allow_transition(f, '*', t || ':' || s)
  FROM unnest(ARRAY['b2b','retail','partner']) f,
       (VALUES ('b2b','lead'), ('b2b','qualified'), ('b2b','proposal'), ('b2b','negotiation'),
               ('retail','lead'), ('retail','qualified'), ('retail','proposal'),
               ('partner','lead'), ('partner','qualified')) v(t, s)
 WHERE f <> t;

-- random moves of open deals, one an hour; a closed deal stays closed
CREATE FUNCTION pg_temp.moves(seed float8, first int, steps int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d int;
    cur funnel.deal_stage;
    t text;
BEGIN
    PERFORM setseed(seed);
    FOR i IN first .. first + steps - 1 LOOP
        d := 1 + floor(random() * 60)::int;
        SELECT stage INTO cur FROM deals WHERE id = d;
        IF random() < 0.6 THEN
            -- within its pipeline, any stage
            SELECT ps.pipeline || ':' || ps.stage INTO t FROM funnel.pipeline_stage ps
             WHERE ps.pipeline = funnel.pipeline_of(cur)
             ORDER BY ps.stage OFFSET floor(random() * 5) LIMIT 1;
        ELSE
            -- to an open stage of another pipeline
            SELECT ps.pipeline || ':' || ps.stage INTO t FROM funnel.pipeline_stage ps
             WHERE ps.pipeline <> funnel.pipeline_of(cur) AND ps.kind = 'open'
             ORDER BY ps.pipeline, ps.stage OFFSET floor(random() * 6) LIMIT 1;
        END IF;
        IF funnel.kind(cur) = 'open' AND t IS NOT NULL AND t <> cur::text THEN
            UPDATE deals SET stage = t::funnel.deal_stage,
                             changed_at = timestamptz '2024-01-01' + i * interval '1 hour'
             WHERE id = d;
        END IF;
        t := NULL;
    END LOOP;
END
$$;
SELECT pg_temp.moves(0.25, 1, 300);

SELECT is_empty($$SELECT * FROM funnel.check_history('deals')$$, 'the history holds');

CREATE TEMP VIEW j AS
  SELECT p.deal_id, p.p, d.owner, d.amount, funnel.journey(h.stage, h.entered_at, h.left_at, p.p) AS j
    FROM (SELECT DISTINCT deal_id, funnel.pipeline_of(stage) AS p FROM deals_stage_history) p
    JOIN deals_stage_history h USING (deal_id)
    JOIN deals d ON d.id = p.deal_id
   GROUP BY 1, 2, 3, 4;

-- plain SQL, from the visits alone: a deal moved out of a pipeline when its
-- last visit there is an open stage it left, for a later visit elsewhere;
-- it reached (implied passage) the open stages up to its furthest one there
CREATE TEMP VIEW moved_ref AS
  WITH last AS (
    SELECT DISTINCT ON (h.deal_id, funnel.pipeline_of(h.stage)) h.deal_id,
           funnel.pipeline_of(h.stage) AS p, h.stage, h.left_at
      FROM deals_stage_history h
     ORDER BY h.deal_id, funnel.pipeline_of(h.stage), h.entered_at DESC)
  SELECT l.deal_id, l.p, l.stage AS left_from,
         (SELECT max(funnel.position(v.stage)) FROM deals_stage_history v
           WHERE v.deal_id = l.deal_id AND funnel.pipeline_of(v.stage) = l.p
             AND funnel.kind(v.stage) = 'open') AS furthest
    FROM last l
   WHERE funnel.kind(l.stage) = 'open' AND l.left_at IS NOT NULL
     AND EXISTS (SELECT 1 FROM deals_stage_history x
                  WHERE x.deal_id = l.deal_id AND funnel.pipeline_of(x.stage) <> l.p
                    AND x.entered_at >= l.left_at);
CREATE TEMP VIEW stages AS
  SELECT pipeline AS p, (pipeline || ':' || stage)::funnel.deal_stage AS stage FROM funnel.pipeline_stage;
CREATE TEMP VIEW expected AS
  SELECT s.p, s.stage,
         CASE WHEN funnel.kind(s.stage) = 'open'
              THEN (SELECT count(*) FROM moved_ref m WHERE m.p = s.p AND m.furthest >= funnel.position(s.stage))
              ELSE 0 END AS moved,
         CASE WHEN funnel.kind(s.stage) = 'open'
              THEN (SELECT count(*) FROM moved_ref m WHERE m.left_from = s.stage) END AS moved_here
    FROM stages s;
CREATE TEMP TABLE summaries AS SELECT p, funnel.funnel(j, amount) AS s FROM j GROUP BY p;

SELECT cmp_ok((SELECT count(*) FROM moved_ref), '>=', 15::bigint, 'the workload moved deals out of pipelines');
SELECT cmp_ok((SELECT count(DISTINCT left_from) FROM moved_ref), '>=', 6::bigint,
              'from many stages of the three pipelines');
SELECT is((SELECT count(*) FROM j WHERE funnel.outcome(j) = 'moved'), (SELECT count(*) FROM moved_ref),
          'the moved journeys are the moved deals of plain SQL');

SELECT set_eq($$SELECT s.p, r.stage, r.moved, r.moved_here FROM summaries s, funnel.report(s.s) r$$,
              $$SELECT p, stage, moved, moved_here FROM expected$$,
              'report(): moved and moved_here per stage = plain SQL over the history');

-- every other column is that of the deals that stayed
SELECT set_eq($$SELECT s.p, r.stage, r.deals, r.amount, r.conversion_from_previous, r.conversion_from_first,
                       r.drop_off, r.won, r.lost, r.open, r.lost_here, r.open_here, r.win_rate, r.bar,
                       r.position, r.kind, r.average_amount, r.open_amount
                  FROM summaries s, funnel.report(s.s) r$$,
              $$SELECT x.p, r.stage, r.deals, r.amount, r.conversion_from_previous, r.conversion_from_first,
                       r.drop_off, r.won, r.lost, r.open, r.lost_here, r.open_here, r.win_rate, r.bar,
                       r.position, r.kind, r.average_amount, r.open_amount
                  FROM (SELECT p, funnel.funnel(j, amount) AS s FROM j WHERE funnel.outcome(j) <> 'moved' GROUP BY p) x,
                       funnel.report(x.s) r$$,
              'report(): deals, conversions, drop-off, outcomes and win rates leave the moved deals out');
SELECT set_eq($$SELECT s.p, r.won, r.lost, r.open, r.moved FROM summaries s, funnel.report(s.s) r
                 WHERE funnel.position(r.stage) = 1$$,
              $$SELECT p, count(*) FILTER (WHERE funnel.outcome(j) = 'won') AS won,
                       count(*) FILTER (WHERE funnel.outcome(j) = 'lost') AS lost,
                       count(*) FILTER (WHERE funnel.outcome(j) = 'open') AS open,
                       count(*) FILTER (WHERE funnel.outcome(j) = 'moved') AS moved
                  FROM j GROUP BY p$$,
              'report(): the first stage splits the journeys into won, lost, open and moved');

-- merges: per owner, then the summary of summaries
SELECT set_eq($$SELECT s.p, r.* FROM summaries s, funnel.report(s.s) r$$,
              $$SELECT x.p, r.* FROM (SELECT p, funnel.funnel(s) AS s
                                        FROM (SELECT p, owner, funnel.funnel(j, amount) AS s FROM j GROUP BY p, owner) o
                                       GROUP BY p) x, funnel.report(x.s) r$$,
              'the merge of per-owner summaries reports as the whole');
SELECT set_eq($$SELECT p, s::text FROM summaries$$,
              $$SELECT p, funnel.funnel(s)::text FROM (SELECT p, owner, funnel.funnel(j, amount) AS s FROM j GROUP BY p, owner) o GROUP BY p$$,
              'and prints as the whole');

-- text and binary forms: version 3 only with moved deals
SELECT ok((SELECT bool_and(s::text LIKE '%"moved": %, "moved_here": %') FROM summaries),
          'the text form of a summary with moved deals has moved and moved_here');
SELECT is((SELECT array_agg(s::text::funnel.funnel_summary::text = s::text) FROM summaries),
          ARRAY[true, true, true], 'text round trip');
SELECT is((SELECT array_agg(get_byte(funnel_internal.funnel_summary_send(s), 0) ORDER BY p) FROM summaries),
          ARRAY[3, 3, 3], 'binary form: version 3');
CREATE FUNCTION pg_temp.copy_back() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    path text := current_setting('data_directory') || '/funnel_summary_moved.bin';
BEGIN
    EXECUTE format('COPY pg_temp.summaries TO %L (FORMAT binary)', path);
    CREATE TEMP TABLE summaries_back (LIKE pg_temp.summaries);
    EXECUTE format('COPY pg_temp.summaries_back FROM %L (FORMAT binary)', path);
END
$$;
SELECT pg_temp.copy_back();
SELECT set_eq($$SELECT p, s::text FROM summaries_back$$, $$SELECT p, s::text FROM summaries$$,
              'binary round trip (COPY binary)');
SELECT is((SELECT get_byte(funnel_internal.funnel_summary_send(funnel.funnel(j)), 0)
             FROM j WHERE funnel.outcome(j) <> 'moved' AND p = 'b2b'),
          2, 'a summary without moved deals: binary version 2, as before');
SELECT is((SELECT funnel.funnel(j)::text FROM j WHERE funnel.outcome(j) <> 'moved' AND p = 'b2b') LIKE '%moved%',
          false, 'and its text form has no moved counters');

-- a version 3 binary form written independently of the C code: one open
-- deal in lead (amount 5), one that reached qualified and left from there
CREATE FUNCTION pg_temp.cstr(t text) RETURNS bytea LANGUAGE sql
    AS $$ SELECT convert_to(t, 'UTF8') || '\x00'::bytea $$;
CREATE FUNCTION pg_temp.v3entry(stage text, deals bigint, amount bigint, open bigint, current bigint,
                                moved bigint, moved_here bigint) RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_temp.cstr(stage) || int8send(deals) || int8send(CASE WHEN amount > 0 THEN 1 ELSE 0 END)
        || int8send(0) || int8send(amount)                       -- int128 amount, high then low
        || int8send(open) || int8send(0) || int8send(current)    -- open, lost_here, current
        || int8send(CASE WHEN amount > 0 AND current > 0 THEN 1 ELSE 0 END)
        || int8send(0) || int8send(CASE WHEN current > 0 THEN amount ELSE 0 END)
        || int8send(moved) || int8send(moved_here)
$$;
CREATE TEMP TABLE v3 AS
  SELECT '\x03'::bytea || pg_temp.cstr('partner') || int2send(0::int2) || int4send(4)
         || pg_temp.v3entry('lead', 1, 5, 1, 1, 0, 0) || pg_temp.v3entry('qualified', 0, 0, 0, 0, 1, 1)
         || pg_temp.v3entry('won', 0, 0, 0, 0, 0, 0) || pg_temp.v3entry('lost', 0, 0, 0, 0, 0, 0) AS b;
CREATE TEMP TABLE recv_summary (v funnel.funnel_summary);
CREATE FUNCTION pg_temp.recv(b bytea) RETURNS funnel.funnel_summary LANGUAGE plpgsql AS $$
DECLARE
    path text := current_setting('data_directory') || '/funnel_summary_moved_recv.bin';
    result funnel.funnel_summary;
BEGIN
    EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
    DELETE FROM pg_temp.recv_summary;
    EXECUTE format('COPY pg_temp.recv_summary FROM %L (FORMAT binary)', path);
    SELECT v INTO result FROM pg_temp.recv_summary;
    RETURN result;
END
$$;
SELECT is((SELECT pg_temp.recv(b)::text FROM v3),
          '{"pipeline": "partner", "stages": [{"stage": "lead", "deals": 1, "amount_count": 1, "amount": 5, "open": 1, "lost_here": 0, "current": 1, "current_amount_count": 1, "current_amount": 5, "moved": 0, "moved_here": 0}, {"stage": "qualified", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 1, "moved_here": 1}, {"stage": "won", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}, {"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}]}',
          'binary version 3 input reads the moved counters');
SELECT is((SELECT funnel_internal.funnel_summary_send(pg_temp.recv(b)) = b FROM v3), true,
          'and sends the same bytes back');
SELECT results_eq($$SELECT funnel.stage_name(r.stage), r.deals, r.moved, r.moved_here
                     FROM v3, funnel.report(pg_temp.recv(b)) r$$,
                  $$VALUES ('lead', 1::bigint, 1::bigint, 0::bigint), ('qualified', 0, 1, 1), ('won', 0, 0, NULL), ('lost', 0, 0, NULL)$$,
                  'its report: the moved deal reached lead and qualified, left from qualified, in no deals count');
SELECT throws_ok($$SELECT pg_temp.recv('\x03'::bytea || pg_temp.cstr('partner') || int2send(0::int2) || int4send(1)
                                       || pg_temp.cstr('lead') || int8send(0) || int8send(0) || int8send(0) || int8send(0)
                                       || int8send(0) || int8send(0) || int8send(0) || int8send(0) || int8send(0) || int8send(0))$$,
                 '22P03', NULL, 'a version 3 stage without its moved counters is refused');

-- a version 2 text form (as 0.2 printed it before moved deals were counted)
SELECT set_eq($$SELECT funnel.stage_name(stage), deals, won, lost, open, moved, moved_here
                  FROM funnel.report('{"pipeline": "partner", "stages": [{"stage": "lead", "deals": 2, "amount_count": 2, "amount": 30, "open": 1, "lost_here": 1, "current": 1, "current_amount_count": 1, "current_amount": 10}, {"stage": "qualified", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0}, {"stage": "won", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0}, {"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 1, "current_amount_count": 1, "current_amount": 20}]}')$$,
              $$VALUES ('lead', 2::bigint, 0::bigint, 1::bigint, 1::bigint, 0::bigint, 0::bigint),
                       ('qualified', 0, 0, 0, 0, 0, 0), ('won', 0, 0, 0, 0, 0, NULL), ('lost', 1, 0, 1, 0, 0, NULL)$$,
              'a version 2 text form reads, with no moved deal');

-- bad version 3 input
SELECT throws_ok($$SELECT '{"pipeline": "partner", "stages": [{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 1, "moved_here": 0}, {"stage": "qualified", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}, {"stage": "won", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}, {"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}]}'::funnel.funnel_summary$$,
                 '22P02', 'invalid funnel summary: from stage "lead" on, 0 deals moved out but 1 moved deals reached it',
                 'a moved deal that moved out from no stage is refused');
SELECT throws_ok($$SELECT '{"pipeline": "partner", "stages": [{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}, {"stage": "qualified", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}, {"stage": "won", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 1, "moved_here": 1}, {"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 0}]}'::funnel.funnel_summary$$,
                 '22P02', 'invalid funnel summary: won stage "won" has moved 1 and moved_here 1',
                 'moved deals on a won stage are refused');
SELECT throws_ok($$SELECT '{"pipeline": "partner", "stages": [{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 1, "moved_here": 0}, {"stage": "qualified", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 0, "moved_here": 1}]}'::funnel.funnel_summary$$,
                 '22P02', 'invalid funnel summary: from stage "qualified" on, 1 deals moved out but 0 moved deals reached it',
                 'a deal moved out from a stage it did not reach is refused');
SELECT throws_ok($$SELECT '{"pipeline": "partner", "stages": [{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": -1, "moved_here": 0}]}'::funnel.funnel_summary$$,
                 '22P02', NULL, 'a negative moved count is refused');
SELECT throws_ok($$SELECT '{"pipeline": "partner", "stages": [{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0, "moved": 1, "moved_here": 1}, {"stage": "qualified", "deals": 0, "amount_count": 0, "amount": 0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0}]}'::funnel.funnel_summary$$,
                 '22P02', NULL, 'moved counters on some stages only are refused');

-- a forced parallel plan (partial summaries combined) gives the same report
CREATE TABLE par_j AS SELECT p, owner, amount, j FROM j;
ANALYZE par_j;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', true) IS NOT NULL AS forced \gset
CREATE FUNCTION pg_temp.plan(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    l text;
    r text := '';
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        r := r || l || E'\n';
    END LOOP;
    RETURN r;
END
$$;
SELECT matches(pg_temp.plan('SELECT p, funnel.funnel(j, amount) FROM par_j GROUP BY p'), 'Partial',
               'the plan aggregates in parallel workers and combines');
SELECT set_eq($$SELECT p, s::text FROM (SELECT p, funnel.funnel(j, amount) AS s FROM par_j GROUP BY p) x$$,
              $$SELECT p, s::text FROM summaries$$,
              'a forced parallel plan gives the same summaries');
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'off', true) IS NOT NULL AS unforced \gset

-- the subtraction of the live readers: the whole minus the moved deals is
-- the summary of the others, the moved deals alone are a summary (not NULL)
SELECT set_eq($$SELECT p, funnel_internal.live_summary_minus(s,
                         (SELECT funnel.funnel(j, amount) FROM j WHERE j.p = x.p AND funnel.outcome(j) = 'moved'))::text
                  FROM summaries x$$,
              $$SELECT p, funnel.funnel(j, amount)::text FROM j WHERE funnel.outcome(j) <> 'moved' GROUP BY p$$,
              'live_summary_minus(): all minus the moved deals = the summary of the others');
SELECT set_eq($$SELECT p, funnel_internal.live_summary_minus(s,
                         (SELECT funnel.funnel(j, amount) FROM j WHERE j.p = x.p AND funnel.outcome(j) <> 'moved'))::text
                  FROM summaries x$$,
              $$SELECT p, funnel.funnel(j, amount)::text FROM j WHERE funnel.outcome(j) = 'moved' GROUP BY p$$,
              'live_summary_minus(): all minus the others = the summary of the moved deals, not NULL');

-- the live summaries of the same table: backfilled, then written by moves
SELECT funnel.enable_live('deals', '{owner}', 'amount') IS NOT NULL AS live \gset
SELECT pg_temp.moves(0.5, 1000, 200);
SELECT set_eq($$SELECT p, r.stage, r.moved, r.moved_here
                  FROM unnest(ARRAY['b2b','retail','partner']) p,
                       funnel.live_report('deals', filter => jsonb_build_object('pipeline', p)) r$$,
              $$SELECT p, stage, moved, moved_here FROM expected$$,
              'live_report(): moved and moved_here = plain SQL over the history, after more moves');
SELECT set_eq($$SELECT p, r.* FROM unnest(ARRAY['b2b','retail','partner']) p,
                       funnel.live_report('deals', filter => jsonb_build_object('pipeline', p)) r$$,
              $$SELECT x.p, r.* FROM (SELECT p, funnel.funnel(j, amount) AS s FROM j GROUP BY p) x, funnel.report(x.s) r$$,
              'live_report() = report() over the history, every column');
SELECT is_empty($$SELECT * FROM funnel.live_check('deals')$$, 'live_check() finds nothing');

SELECT * FROM finish();
ROLLBACK;
