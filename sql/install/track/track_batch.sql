-- sql/install/track/track_batch.sql: moving deals in batches without one refused
-- row aborting the rest: funnel.move_deals() applies each move as if alone
-- (one subtransaction each, src/track/track_batch.c) and returns per deal what was
-- done or why not, with the reasons of the triggers' errors
-- (src/track/track_errors.c) and the missing fields of funnel.next_stages().
-- Part of the install script (see sql/install/README.md).

CREATE FUNCTION funnel_internal.try_moves(statements text[], moves jsonb[],
    OUT found boolean, OUT old_stage funnel.deal_stage, OUT new_stage funnel.deal_stage,
    OUT sqlstate text, OUT constraint_name text, OUT message text, OUT detail text)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'funnel_try_moves'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION funnel_internal.try_moves(text[], jsonb[]) IS
  'funnel internal: the loop of funnel.move_deals(): runs statements[i] with $1 = moves[i], each in a subtransaction, as the caller; returns per move whether a row was found, its stage before and after, or the error of class 22 or 23 that rolled the move back';

CREATE FUNCTION funnel.move_deals(deals regclass, moves jsonb)
RETURNS TABLE (ordinality bigint, deal_id text, stage funnel.deal_stage, status text,
               reason text, sqlstate text, message text, detail text,
               missing_fields text[])
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    rel text;
    bad record;
    statements text[];
    bodies jsonb[];
    info_sql text;
    r record;
BEGIN
    t := funnel_internal.check_tracked_for_next_stages(deals);
    IF moves IS NULL OR jsonb_typeof(moves) <> 'array' THEN
        RAISE EXCEPTION 'moves must be a JSON array, not %', coalesce(jsonb_typeof(moves), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Pass [{"%s": <key>, "%s": <stage>, <other column>: <value>, ...}, ...].',
                                t.key_column, t.stage_column);
    END IF;
    -- every move is checked before the first is applied: a malformed batch
    -- is a mistake of the caller, refused as a whole
    SELECT a.o, a.m INTO bad
      FROM jsonb_array_elements(moves) WITH ORDINALITY AS a(m, o)
     WHERE jsonb_typeof(a.m) <> 'object' OR NOT a.m ? t.key_column OR NOT a.m ? t.stage_column
     ORDER BY a.o LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'move % of the batch is not an object with members "%" and "%"',
                        bad.o, t.key_column, t.stage_column
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Move %s is %s.', bad.o, left(bad.m::text, 200)),
                  HINT = 'Each move names the deal by its primary key, the stage to move it to, and any other column to set with the move.';
    END IF;
    SELECT a.o, k INTO bad
      FROM jsonb_array_elements(moves) WITH ORDINALITY AS a(m, o), jsonb_object_keys(a.m) AS k
     WHERE NOT EXISTS (SELECT FROM pg_attribute att
                        WHERE att.attrelid = deals AND att.attname = k
                          AND att.attnum > 0 AND NOT att.attisdropped)
     ORDER BY a.o LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'column "%" of move % does not exist in table %', bad.k, bad.o, deals
            USING ERRCODE = 'undefined_column';
    END IF;

    -- one UPDATE per set of columns: lock the deal, then move it, so that
    -- the row moved is the row decided on
    rel := deals::text;
    WITH e AS (
        SELECT a.o, a.m,
               ARRAY(SELECT k FROM jsonb_object_keys(a.m) AS k WHERE k <> t.key_column ORDER BY k) AS cols
          FROM jsonb_array_elements(moves) WITH ORDINALITY AS a(m, o)),
    s AS (
        SELECT c.cols, format(
            'WITH r AS (SELECT * FROM jsonb_populate_record(NULL::%1$s, $1)),'
            '     old AS (SELECT d.%2$I AS k, d.%3$I AS s FROM %1$s AS d, r WHERE d.%2$I = r.%2$I FOR UPDATE OF d)'
            ' UPDATE %1$s AS d SET (%4$s) = (SELECT %5$s FROM r) FROM old'
            ' WHERE d.%2$I = old.k RETURNING old.s, d.%3$I',
            rel, t.key_column, t.stage_column,
            (SELECT string_agg(format('%I', x), ', ') FROM unnest(c.cols) AS x),
            (SELECT string_agg(format('r.%I', x), ', ') FROM unnest(c.cols) AS x)) AS sql
          FROM (SELECT DISTINCT e.cols FROM e) AS c)
    SELECT array_agg(s.sql ORDER BY e.o), array_agg(e.m ORDER BY e.o)
      INTO statements, bodies
      FROM e JOIN s ON s.cols = e.cols;

    -- for a refused move: the stage the deal stays in, and the required
    -- fields the move leaves empty as funnel.next_stages() sees them (the
    -- caller's row, with its privileges and row-level security)
    info_sql := format(
        'SELECT d.%2$I, (SELECT n.missing_fields FROM funnel_internal.next_stages($2, jsonb_populate_record(d, $1 - %2$L)) AS n'
        '                 WHERE n.stage = r.%2$I)'
        '  FROM %1$s AS d, jsonb_populate_record(NULL::%1$s, $1) AS r WHERE d.%3$I = r.%3$I',
        rel, t.stage_column, t.key_column);

    FOR r IN
        SELECT x.*, a.m
          FROM funnel_internal.try_moves(coalesce(statements, '{}'), coalesce(bodies, '{}'))
               WITH ORDINALITY AS x(found, old_stage, new_stage, sqlstate, constraint_name, message, detail, ord)
          JOIN jsonb_array_elements(moves) WITH ORDINALITY AS a(m, o) ON a.o = x.ord
         ORDER BY x.ord
    LOOP
        ordinality := r.ord;
        deal_id := r.m ->> t.key_column;
        stage := r.new_stage;
        sqlstate := r.sqlstate;
        message := r.message;
        detail := r.detail;
        reason := NULL;
        missing_fields := NULL;
        IF r.sqlstate IS NOT NULL THEN
            status := 'refused';
            reason := CASE WHEN r.constraint_name IN ('funnel_transition_not_allowed', 'funnel_retired_stage',
                                                      'funnel_required_fields_missing',
                                                      'funnel_changed_at_before_entry', 'funnel_stage_null')
                                THEN substr(r.constraint_name, 8)
                           ELSE nullif(r.constraint_name, '') END;
            IF r.sqlstate LIKE '23%' THEN
                EXECUTE info_sql INTO stage, missing_fields USING r.m, deals;
                IF reason IS DISTINCT FROM 'required_fields_missing' THEN
                    missing_fields := NULL;
                END IF;
            END IF;
        ELSIF NOT r.found THEN
            status := 'not_found';
        ELSE
            status := CASE WHEN r.old_stage = r.new_stage THEN 'unchanged' ELSE 'moved' END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel.move_deals(regclass, jsonb) IS
  'applies a batch of moves to tracked table deals, each as if alone (one subtransaction each, with the caller''s privileges and row-level security): moves is a JSON array of objects naming the deal by its primary key column, the stage column''s target and any other columns to set with the move; returns one row per move, in order: status moved, unchanged, refused or not_found, reason (transition_not_allowed, retired_stage, required_fields_missing, changed_at_before_entry, or the name of another violated constraint), SQLSTATE, message, DETAIL and, for required_fields_missing, every required field left empty; errors other than integrity violations (class 23) and invalid values (class 22) abort the batch';
