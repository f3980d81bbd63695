-- sql/install/track_batch.sql: moving deals in batches without one refused
-- row aborting the rest: funnel.move_deals() applies each move as if alone
-- (one subtransaction each) and returns per deal what was done or why not,
-- with the reasons of the triggers' errors (src/track_errors.c) and the
-- missing fields of funnel.next_stages().
-- Part of the install script (see sql/install/README.md).

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
    m jsonb;
    i bigint;
    cols text[];
    prev_cols text[];
    bad text;
    sql text;
    info_sql text;
    old_stage funnel.deal_stage;
    new_stage funnel.deal_stage;
    n bigint;
    con text;
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
    FOR m, i IN SELECT e, o FROM jsonb_array_elements(moves) WITH ORDINALITY AS a(e, o) LOOP
        IF jsonb_typeof(m) <> 'object' OR NOT m ? t.key_column OR NOT m ? t.stage_column THEN
            RAISE EXCEPTION 'move % of the batch is not an object with members "%" and "%"',
                            i, t.key_column, t.stage_column
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Move %s is %s.', i, left(m::text, 200)),
                      HINT = 'Each move names the deal by its primary key, the stage to move it to, and any other column to set with the move.';
        END IF;
        SELECT k INTO bad
          FROM jsonb_object_keys(m) AS k
         WHERE NOT EXISTS (SELECT FROM pg_attribute a
                            WHERE a.attrelid = deals AND a.attname = k
                              AND a.attnum > 0 AND NOT a.attisdropped)
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'column "%" of move % does not exist in table %', bad, i, deals
                USING ERRCODE = 'undefined_column';
        END IF;
    END LOOP;

    rel := deals::text;
    -- the caller's row, seen with its privileges and row-level security,
    -- as the stage it is in now and the required fields a move leaves empty
    info_sql := format(
        'SELECT d.%2$I, (SELECT n.missing_fields FROM funnel_internal.next_stages($2, jsonb_populate_record(d, $1 - %3$L)) AS n'
        '                 WHERE n.stage = r.%2$I)'
        '  FROM %1$s AS d, jsonb_populate_record(NULL::%1$s, $1) AS r WHERE d.%4$I = r.%4$I',
        rel, t.stage_column, t.stage_column, t.key_column);

    FOR m, i IN SELECT e, o FROM jsonb_array_elements(moves) WITH ORDINALITY AS a(e, o) LOOP
        ordinality := i;
        deal_id := m ->> t.key_column;
        stage := NULL;
        reason := NULL;
        sqlstate := NULL;
        message := NULL;
        detail := NULL;
        missing_fields := NULL;
        cols := ARRAY(SELECT k FROM jsonb_object_keys(m) AS k WHERE k <> t.key_column ORDER BY k);
        IF cols IS DISTINCT FROM prev_cols THEN
            -- lock the deal, then move it: the row moved is the row decided on
            sql := format(
                'WITH r AS (SELECT * FROM jsonb_populate_record(NULL::%1$s, $1)),'
                '     old AS (SELECT d.%2$I AS k, d.%3$I AS s FROM %1$s AS d, r WHERE d.%2$I = r.%2$I FOR UPDATE OF d)'
                ' UPDATE %1$s AS d SET (%4$s) = (SELECT %5$s FROM r) FROM old'
                ' WHERE d.%2$I = old.k RETURNING old.s, d.%3$I',
                rel, t.key_column, t.stage_column,
                (SELECT string_agg(format('%I', c), ', ') FROM unnest(cols) AS c),
                (SELECT string_agg(format('r.%I', c), ', ') FROM unnest(cols) AS c));
            prev_cols := cols;
        END IF;
        BEGIN
            EXECUTE sql INTO old_stage, new_stage USING m;
            GET DIAGNOSTICS n = ROW_COUNT;
            IF n = 0 THEN
                status := 'not_found';
            ELSE
                stage := new_stage;
                status := CASE WHEN old_stage = new_stage THEN 'unchanged' ELSE 'moved' END;
            END IF;
        EXCEPTION WHEN integrity_constraint_violation OR data_exception THEN
            -- (SQLSTATE here is the handler's own variable: qualify the column)
            GET STACKED DIAGNOSTICS move_deals.sqlstate = RETURNED_SQLSTATE,
                                    message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                                    con = CONSTRAINT_NAME;
            status := 'refused';
            reason := CASE WHEN con IN ('funnel_transition_not_allowed', 'funnel_retired_stage',
                                        'funnel_required_fields_missing', 'funnel_changed_at_before_entry',
                                        'funnel_stage_null')
                                THEN substr(con, 8)
                           ELSE nullif(con, '') END;
            IF move_deals.sqlstate LIKE '23%' THEN
                EXECUTE info_sql INTO stage, missing_fields USING m, deals;
                IF reason IS DISTINCT FROM 'required_fields_missing' THEN
                    missing_fields := NULL;
                END IF;
            END IF;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel.move_deals(regclass, jsonb) IS
  'applies a batch of moves to tracked table deals, each as if alone (one subtransaction each, with the caller''s privileges and row-level security): moves is a JSON array of objects naming the deal by its primary key column, the stage column''s target and any other columns to set with the move; returns one row per move, in order: status moved, unchanged, refused or not_found, reason (transition_not_allowed, retired_stage, required_fields_missing, changed_at_before_entry, or the name of another violated constraint), SQLSTATE, message, DETAIL and, for required_fields_missing, every required field left empty; errors other than integrity violations (class 23) and invalid values (class 22) abort the batch';
