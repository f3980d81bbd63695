-- sql/install/live/live_write.sql: the fast write path of the live
-- summaries (issue 23 item 3): the UPDATE statement trigger in C
-- (src/live/live_write.c), which writes the deltas of the common move, one
-- row updated, with two small prepared statements and hands every other
-- statement to the generated trigger function of funnel.enable_live()
-- (sql/install/live/live.sql).  Design: doc/design.md "Live summaries".
-- Part of the install script (see sql/install/README.md).

CREATE FUNCTION funnel_internal.live_update_trigger()
RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_live_update_trigger'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.live_update_trigger() IS
  'funnel internal: AFTER UPDATE statement trigger of a table with live summaries: the deltas of a one-row update in C, any other statement by the table''s generated trigger function';

-- What the C trigger needs of a deals table, read once per backend and
-- trigger: whether the fast path applies (one pipeline, stage column of
-- type funnel.deal_stage), the generated trigger function it falls back
-- to, and the two statements of the fast path.  The visits statement
-- reads one deal's visits ($1 its key) by the history's (deal_id,
-- entered_at) index; the trigger scans that index itself when it can
-- (src/live/live_visits.c), so it also needs the history table.  The insert statement is the last step of the
-- generated UPDATE SQL (funnel_internal.live_delta_sql) over items given
-- as parameters: $1 boolean[] (true: added at the new key, false:
-- removed at the old key), $2 funnel.deal_stage[] (NULL: the deal's
-- journey, else a visit's duration at that stage), $3 bigint[] the
-- durations, $4 and $5 the new and old entry day, $6 and $7 the new and
-- old journey, $8 and $9 the new and old amount, then the new values of
-- the dimensions and their old values.
CREATE FUNCTION funnel_internal.live_update_plan(deals regclass,
    OUT fast boolean, OUT delta_function regprocedure,
    OUT visits_sql text, OUT insert_sql text,
    OUT key_column name, OUT stage_column name, OUT amount_column name,
    OUT dimensions name[], OUT key_type regtype, OUT dimension_types regtype[],
    OUT stage_array_type regtype, OUT journey_type regtype, OUT live regclass,
    OUT summary_type regtype, OUT history regclass)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    lt funnel.live_table;
    n int;
    i int;
    dims text := '';
    sel text := '';
BEGIN
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = live_update_plan.deals;
    SELECT * INTO lt FROM funnel.live_table l WHERE l.deals = live_update_plan.deals;
    IF t.deals IS NULL OR lt.deals IS NULL THEN
        RAISE EXCEPTION 'table % has no live summaries', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call funnel.enable_live() on it first.';
    END IF;
    delta_function := to_regprocedure(lt.delta_function);
    key_column := t.key_column;
    stage_column := t.stage_column;
    amount_column := lt.amount_column;
    dimensions := lt.dimensions;
    stage_array_type := 'funnel.deal_stage[]'::regtype;
    journey_type := 'funnel.journey'::regtype;
    summary_type := 'funnel.funnel_summary'::regtype;
    live := lt.live;
    history := t.history;
    SELECT a.atttypid::regtype INTO key_type FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = t.key_column AND NOT a.attisdropped;
    SELECT array_agg(a.atttypid::regtype ORDER BY k.i) INTO dimension_types
      FROM unnest(lt.dimensions) WITH ORDINALITY k(d, i)
      JOIN pg_attribute a ON a.attrelid = deals AND a.attname = k.d AND NOT a.attisdropped;
    -- a table of several pipelines keeps a journey per pipeline: the
    -- generated SQL only; so does a stage column of another type
    fast := t.pipelines IS NULL AND
            (SELECT a.atttypid = 'funnel.deal_stage'::regtype FROM pg_attribute a
              WHERE a.attrelid = deals AND a.attname = t.stage_column AND NOT a.attisdropped);
    visits_sql := format('SELECT h.stage, h.entered_at, h.left_at FROM %s h WHERE h.deal_id %s $1',
                         t.history, funnel_internal.equality_operator(key_type));
    n := coalesce(array_length(lt.dimensions, 1), 0);
    FOR i IN 1 .. n LOOP
        dims := dims || format('%I, ', lt.dimensions[i]);
        sel := sel || format('CASE WHEN i.nw THEN $%s ELSE $%s END AS d%s, ', 9 + i, 9 + n + i, i);
    END LOOP;
    insert_sql := format($q$
INSERT INTO %1$s (day, %2$sstage, plus, minus, plus_runs, minus_runs)
SELECT day, %3$sstage,
       funnel.funnel(jr, amount) FILTER (WHERE sign > 0 AND jr IS NOT NULL),
       funnel.funnel(jr, amount) FILTER (WHERE sign < 0 AND jr IS NOT NULL),
       array_agg(dur ORDER BY dur) FILTER (WHERE sign > 0 AND dur IS NOT NULL),
       array_agg(dur ORDER BY dur) FILTER (WHERE sign < 0 AND dur IS NOT NULL)
  FROM (SELECT CASE WHEN i.nw THEN $4 ELSE $5 END AS day, %4$s
               i.stage, CASE WHEN i.nw THEN 1 ELSE -1 END AS sign,
               CASE WHEN i.stage IS NULL THEN CASE WHEN i.nw THEN $6 ELSE $7 END END AS jr,
               CASE WHEN i.stage IS NULL THEN CASE WHEN i.nw THEN $8 ELSE $9 END END AS amount,
               i.dur
          FROM unnest($1, $2, $3) AS i(nw, stage, dur)) items
 GROUP BY day, %3$sstage$q$,
        lt.live, dims,
        (SELECT coalesce(string_agg(format('d%s, ', k), ''), '') FROM generate_series(1, n) k),
        sel);
END
$$;
COMMENT ON FUNCTION funnel_internal.live_update_plan(regclass) IS
  'funnel internal: what funnel_internal.live_update_trigger() needs of a deals table with live summaries: whether its fast path applies, the trigger function it falls back to, the statements that read a deal''s visits and insert the deltas, the key, stage, amount and dimension columns, the types of the parameters and the history table';
