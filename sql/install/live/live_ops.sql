-- sql/install/live/live_ops.sql: the live summaries of a table (sql/install/live/live.sql)
-- through the DDL around them: funnel.untrack() drops them (they are kept
-- from the history, which untrack() stops writing), and dropping any of
-- their parts (the deals table, the summary table, its trigger function or
-- one of its triggers) drops the rest, so no deals table is left with
-- triggers writing to a table that is gone and no funnel.live_table row
-- names a dropped table.  Design: doc/design.md "Live summaries".
-- Part of the install script (see sql/install/README.md).

-- Drops what is left of the live summaries of one funnel.live_table row
-- (whose tables may be gone) and the row; by OID, as the regclass values of
-- a dropped table print as numbers.
CREATE FUNCTION funnel_internal.live_teardown(deals oid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt record;
    t name;
    rel text;
    saved text[];
BEGIN
    DELETE FROM funnel.live_table l WHERE l.deals::oid = live_teardown.deals
    RETURNING l.live::oid AS live, l.delta_function INTO lt;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- the row is gone first: the drops below fire funnel_live_sql_drop again
    SELECT format('%I.%I', n.nspname, c.relname) INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = live_teardown.deals;
    -- Citus: the settings of DDL on distributed tables (sql/install/live/live_citus.sql)
    saved := funnel_internal.live_citus_ddl_begin();
    IF rel IS NOT NULL THEN
        FOR t IN SELECT tg.tgname FROM pg_trigger tg
                  WHERE tg.tgrelid = live_teardown.deals AND NOT tg.tgisinternal
                    AND tg.tgname LIKE 'funnel\_track\_live\_%' LOOP
            EXECUTE format('DROP TRIGGER %I ON %s', t, rel);
        END LOOP;
    END IF;
    IF lt.delta_function IS NOT NULL AND to_regprocedure(lt.delta_function) IS NOT NULL THEN
        EXECUTE format('DROP FUNCTION %s', to_regprocedure(lt.delta_function));
    END IF;
    SELECT format('%I.%I', n.nspname, c.relname) INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = lt.live;
    IF rel IS NOT NULL THEN
        EXECUTE format('DROP TABLE %s', rel);
    END IF;
    PERFORM funnel_internal.live_citus_ddl_end(saved);
END
$$;
COMMENT ON FUNCTION funnel_internal.live_teardown(oid) IS
  'funnel internal: drops the remaining triggers, trigger function and summary table of the live summaries of a deals table (by OID, also once the table is dropped) and its funnel.live_table row';

-- funnel_internal.untrack(): the live summaries go with the tracking
CREATE FUNCTION funnel_internal.live_untrack(deals regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table;
    live_name text;
BEGIN
    SELECT * INTO lt FROM funnel.live_table l WHERE l.deals = live_untrack.deals;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    live_name := lt.live::text;     -- before it is dropped
    PERFORM funnel_internal.live_teardown(deals::oid);
    RAISE NOTICE 'live summaries of % dropped', deals
        USING DETAIL = format('They are kept from the history, which funnel.untrack() stops writing; %s is dropped.', live_name),
              HINT = format('After funnel.track() again, SELECT funnel.enable_live(%L, %L, %L) rebuilds them from the history.',
                            deals::text, lt.dimensions, lt.amount_column);
END
$$;
COMMENT ON FUNCTION funnel_internal.live_untrack(regclass) IS
  'funnel internal: called by funnel_internal.untrack(): drops the live summaries of the table, with a NOTICE saying how to enable them again';

-- DROP of a part of the live summaries of a table drops the rest
CREATE FUNCTION funnel_internal.live_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    l record;
    col record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM funnel.live_table) THEN
        RETURN;
    END IF;
    -- ALTER TABLE ... DROP of a dimension or the amount column, also when
    -- the statement adds one of that name again: the summaries are kept per
    -- values that are gone
    SELECT lt.deals, o.address_names[3] AS name, o.address_names[3] = lt.amount_column AS is_amount
      INTO col
      FROM pg_event_trigger_dropped_objects() o
      JOIN funnel.live_table lt ON lt.deals::oid = o.objid
     WHERE o.object_type = 'table column' AND o.objsubid > 0
       AND (o.address_names[3] = ANY (lt.dimensions) OR o.address_names[3] = lt.amount_column)
       AND NOT EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() t
                        WHERE t.object_type = 'table' AND t.objid = lt.deals::oid)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'column "%" of table % is % of its live summaries', col.name, col.deals,
                        CASE WHEN col.is_amount THEN 'the amount' ELSE 'a dimension' END
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'They are kept per value of the dimensions, with the amounts as they are.',
                  HINT = format('Call funnel.disable_live(%L) first, and funnel.enable_live() with the columns there are after the change.',
                                col.deals);
    END IF;
    FOR l IN
        SELECT lt.deals::oid AS deals, lt.deals::oid::text AS deals_oid, lt.live::oid AS live,
               d.oid IS NULL AS deals_gone, c.oid IS NULL AS live_gone,
               (lt.delta_function IS NOT NULL AND to_regprocedure(lt.delta_function) IS NULL) AS function_gone,
               CASE WHEN d.oid IS NOT NULL THEN format('%I.%I', dn.nspname, d.relname) END AS deals_name,
               CASE WHEN c.oid IS NOT NULL THEN format('%I.%I', ln.nspname, c.relname) END AS live_name,
               (SELECT min(o.address_names[3]) FROM pg_event_trigger_dropped_objects() o
                 WHERE o.object_type = 'trigger' AND o.address_names[3] LIKE 'funnel\_track\_live\_%'
                   AND o.address_names[1] = dn.nspname AND o.address_names[2] = d.relname) AS trigger_gone,
               lt.delta_function
          FROM funnel.live_table lt
          LEFT JOIN pg_class d ON d.oid = lt.deals::oid
          LEFT JOIN pg_namespace dn ON dn.oid = d.relnamespace
          LEFT JOIN pg_class c ON c.oid = lt.live::oid
          LEFT JOIN pg_namespace ln ON ln.oid = c.relnamespace
    LOOP
        CONTINUE WHEN NOT (l.deals_gone OR l.live_gone OR l.function_gone OR l.trigger_gone IS NOT NULL);
        IF (NOT l.live_gone AND funnel_internal.live_distributed(l.live::regclass))
           OR (NOT l.deals_gone AND funnel_internal.live_distributed(l.deals::regclass)) THEN
            -- Citus: the rest lives on shards the dropping role changed in
            -- this transaction, which this function (as the extension
            -- owner) may not change after it (Citus refuses, or waits for
            -- a distributed deadlock); refused as a whole
            RAISE EXCEPTION 'cannot drop a part of the live summaries of distributed table %',
                            coalesce(l.deals_name, l.deals_oid)
                USING ERRCODE = 'object_in_use',
                      DETAIL = 'Citus refuses to drop the rest of them in the same transaction as another role.',
                      HINT = format('Call funnel.disable_live(%L) first.', coalesce(l.deals_name, l.deals_oid));
        END IF;
        PERFORM funnel_internal.live_teardown(l.deals);
        IF l.deals_gone THEN
            RAISE NOTICE 'live summaries of dropped table % dropped', l.deals_oid
                USING DETAIL = CASE WHEN l.live_gone THEN 'Its summary table was dropped with it.'
                                    ELSE format('Its summary table %s is dropped.', l.live_name) END;
        ELSE
            RAISE NOTICE 'live summaries of % dropped', l.deals_name
                USING DETAIL = CASE WHEN l.live_gone THEN 'Their summary table was dropped; the triggers that wrote it are dropped.'
                                    WHEN l.function_gone THEN format('Their trigger function %s was dropped; %s is dropped.', l.delta_function, l.live_name)
                                    ELSE format('Their trigger %s was dropped; %s is dropped.', l.trigger_gone, l.live_name) END,
                      HINT = 'funnel.enable_live() enables them again, rebuilt from the history.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_sql_drop() IS
  'funnel internal: refuses to drop a dimension or the amount column of a deals table with live summaries; when a deals table with live summaries, its summary table, trigger function or one of its live triggers is dropped, drops the rest and the funnel.live_table row, with a NOTICE';
CREATE EVENT TRIGGER funnel_live_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.live_sql_drop();
COMMENT ON EVENT TRIGGER funnel_live_sql_drop IS
  'drops what is left of the live summaries of a table when one of their parts (or the deals table) is dropped';

REVOKE ALL ON FUNCTION funnel_internal.live_teardown(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.live_untrack(regclass) FROM PUBLIC;

-- ALTER TABLE of a deals table with live summaries, of its history or of
-- its summary table: the generated trigger function names their columns
-- and the tables themselves, so a rename would make every write of the
-- deals table fail.  A renamed dimension or amount column is followed (the
-- summary table's column is renamed with a dimension), a dimension's new
-- type is given to the summary table's column too, and the trigger
-- function is written again with the names there are now.  A dropped
-- dimension or amount column, or an amount column no longer a number, is
-- refused with the steps that change the dimensions in the HINT, and so is
-- a summary table left without a column the trigger function writes.  Runs
-- after funnel_track_migrate (event triggers fire in name order), which
-- follows the renamed stage, key and effective-time columns first.
CREATE FUNCTION funnel_internal.live_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table;
    t funnel.tracked_table;
    renamed name;
    dims name[];
    amount name;
    d name;
    i int;
    deals_type text;
    live_type text;
    recipe text;
    deals_altered boolean;
    distributed boolean;
    fn regprocedure;
    body text;
BEGIN
    FOR lt IN SELECT l.* FROM funnel.live_table l
               WHERE EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                              WHERE c.classid = 'pg_catalog.pg_class'::regclass
                                AND (c.objid IN (l.deals::oid, l.live::oid)
                                     OR c.objid IN (SELECT tt.history::oid FROM funnel.tracked_table tt
                                                     WHERE tt.deals = l.deals))) LOOP
        SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = lt.deals;
        CONTINUE WHEN NOT FOUND;    -- untrack() is dropping them
        deals_altered := EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                                  WHERE c.classid = 'pg_catalog.pg_class'::regclass AND c.objid = lt.deals::oid);
        recipe := format('Call funnel.disable_live(%L) first, and funnel.enable_live() with the columns there are after the change.',
                         lt.deals);
        -- the new name of a column of the deals table renamed by the command
        SELECT a.attname INTO renamed
          FROM pg_event_trigger_ddl_commands() c
          JOIN pg_attribute a ON a.attrelid = c.objid AND a.attnum = c.objsubid
         WHERE c.objid = lt.deals::oid AND c.object_type = 'table column' AND c.objsubid > 0
         LIMIT 1;
        dims := lt.dimensions;
        amount := lt.amount_column;
        FOR i IN 1 .. coalesce(array_length(dims, 1), 0) LOOP
            CONTINUE WHEN EXISTS (SELECT 1 FROM pg_attribute a
                                   WHERE a.attrelid = lt.deals AND a.attname = dims[i]
                                     AND a.attnum > 0 AND NOT a.attisdropped);
            IF renamed IS NULL OR renamed = ANY (dims) THEN
                RAISE EXCEPTION 'column "%" of table % is a dimension of its live summaries', dims[i], lt.deals
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = format('%s is kept per value of that column.', lt.live),
                          HINT = recipe;
            END IF;
            IF renamed IN ('day', 'stage', 'plus', 'minus', 'plus_runs', 'minus_runs')
               OR (renamed = 'pipeline' AND t.pipelines IS NOT NULL) THEN
                RAISE EXCEPTION 'dimension "%" cannot be renamed to "%"', dims[i], renamed
                    USING ERRCODE = 'duplicate_column',
                          DETAIL = format('"%s" is a column of the live summary table %s.', renamed, lt.live),
                          HINT = 'Choose another name.';
            END IF;
            dims[i] := renamed;
        END LOOP;
        IF amount IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                               WHERE a.attrelid = lt.deals AND a.attname = amount
                                                 AND a.attnum > 0 AND NOT a.attisdropped) THEN
            IF renamed IS NULL OR renamed = ANY (dims) THEN
                RAISE EXCEPTION 'column "%" of table % is the amount of its live summaries', amount, lt.deals
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = format('%s totals it per stage.', lt.live),
                          HINT = recipe;
            END IF;
            amount := renamed;
        END IF;
        IF amount IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                               WHERE a.attrelid = lt.deals AND a.attname = amount
                                                 AND a.atttypid IN ('numeric'::regtype, 'int2'::regtype,
                                                                    'int4'::regtype, 'int8'::regtype)) THEN
            RAISE EXCEPTION 'amount column "%" of table % must stay a number', amount, lt.deals
                USING ERRCODE = 'datatype_mismatch',
                      DETAIL = 'Its live summaries total it as numeric.',
                      HINT = 'Use a numeric, smallint, integer or bigint column, or ' || lower(left(recipe, 1)) || substr(recipe, 2);
        END IF;
        -- a distributed table (sql/install/live/live_citus.sql): its
        -- shards' trigger function is not written again here, so nothing it
        -- names may change
        distributed := funnel_internal.live_distributed(lt.deals);
        IF distributed AND (dims IS DISTINCT FROM lt.dimensions OR amount IS DISTINCT FROM lt.amount_column) THEN
            RAISE EXCEPTION 'cannot rename column "%" of distributed table %, which has live summaries',
                            renamed, lt.deals
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Its live summaries name the column in the trigger function of every shard.',
                      HINT = recipe;
        END IF;
        -- the row first: the ALTERs of the summary table below fire this
        -- trigger again, which then finds everything in step
        IF dims IS DISTINCT FROM lt.dimensions OR amount IS DISTINCT FROM lt.amount_column THEN
            UPDATE funnel.live_table l SET dimensions = dims, amount_column = amount
             WHERE l.deals = lt.deals;
        END IF;
        FOR i IN 1 .. coalesce(array_length(dims, 1), 0) LOOP
            IF dims[i] IS DISTINCT FROM lt.dimensions[i]
               AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                WHERE a.attrelid = lt.live AND a.attname = dims[i] AND NOT a.attisdropped) THEN
                EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', lt.live, lt.dimensions[i], dims[i]);
            END IF;
            SELECT format_type(a.atttypid, a.atttypmod) INTO deals_type FROM pg_attribute a
             WHERE a.attrelid = lt.deals AND a.attname = dims[i] AND NOT a.attisdropped;
            SELECT format_type(a.atttypid, a.atttypmod) INTO live_type FROM pg_attribute a
             WHERE a.attrelid = lt.live AND a.attname = dims[i] AND a.attnum > 0 AND NOT a.attisdropped;
            IF live_type IS NULL THEN
                RAISE EXCEPTION 'live summary table % has no column "%"', lt.live, dims[i]
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = format('It is the dimension "%s" of the live summaries of %s.', dims[i], lt.deals),
                          HINT = format('Leave the columns funnel.enable_live() made, or call funnel.disable_live(%L) first.', lt.deals);
            END IF;
            IF deals_altered AND deals_type IS DISTINCT FROM live_type THEN
                IF distributed THEN
                    RAISE EXCEPTION 'cannot change the type of dimension "%" of distributed table %, which has live summaries',
                                    dims[i], lt.deals
                        USING ERRCODE = 'feature_not_supported', HINT = recipe;
                END IF;
                -- the dimension's new type, as enable_live() checks it
                PERFORM funnel_internal.live_check_dimension_type(
                    dims[i], (SELECT a.atttypid FROM pg_attribute a
                               WHERE a.attrelid = lt.deals AND a.attname = dims[i] AND NOT a.attisdropped),
                    deals_type, recipe);
                EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s',
                               lt.live, dims[i], deals_type, dims[i], deals_type);
            END IF;
        END LOOP;
        -- the summary table's own columns, which the trigger function names
        FOREACH d IN ARRAY ARRAY['day', 'stage', 'plus', 'minus', 'plus_runs', 'minus_runs']::name[]
                           || CASE WHEN t.pipelines IS NOT NULL THEN ARRAY['pipeline']::name[] END LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = lt.live AND a.attname = d AND a.attnum > 0 AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'live summary table % has no column "%"', lt.live, d
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = format('The triggers of %s write it.', lt.deals),
                          HINT = format('Leave the columns funnel.enable_live() made, or call funnel.disable_live(%L) first.', lt.deals);
            END IF;
        END LOOP;
        -- the trigger function, with the names there are now; written only
        -- when they changed (an unrelated ALTER TABLE leaves every backend's
        -- compiled copy alone)
        fn := to_regprocedure(lt.delta_function);
        body := funnel_internal.live_function_body(lt.deals);
        CONTINUE WHEN fn IS NULL
                   OR (SELECT p.prosrc FROM pg_proc p WHERE p.oid = fn) IS NOT DISTINCT FROM body;
        IF distributed THEN
            RAISE EXCEPTION 'cannot rename a table of the live summaries of distributed table %', lt.deals
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'The trigger function of every shard names the deals, history and summary tables.',
                      HINT = recipe;
        END IF;
        EXECUTE format($f$CREATE OR REPLACE FUNCTION %s RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS %L$f$, fn, body);
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_ddl_end() IS
  'funnel internal: after ALTER TABLE of a deals table with live summaries, its history or summary table, follows a renamed dimension or amount column and a dimension''s new type into the summary table, writes the trigger function again with the current names, and refuses a dropped dimension or amount column with a HINT';
-- named to fire after funnel_track_migrate (event triggers fire by name)
CREATE EVENT TRIGGER funnel_track_migrate_live ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.live_ddl_end();
COMMENT ON EVENT TRIGGER funnel_track_migrate_live IS
  'follows renamed and retyped dimension and amount columns of tables with live summaries into the summary table and its trigger function';

REVOKE ALL ON FUNCTION funnel_internal.live_ddl_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.live_function_body(regclass) FROM PUBLIC;
