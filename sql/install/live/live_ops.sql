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
BEGIN
    IF NOT EXISTS (SELECT 1 FROM funnel.live_table) THEN
        RETURN;
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
  'funnel internal: when a deals table with live summaries, its summary table, trigger function or one of its live triggers is dropped, drops the rest and the funnel.live_table row, with a NOTICE';
CREATE EVENT TRIGGER funnel_live_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.live_sql_drop();
COMMENT ON EVENT TRIGGER funnel_live_sql_drop IS
  'drops what is left of the live summaries of a table when one of their parts (or the deals table) is dropped';

REVOKE ALL ON FUNCTION funnel_internal.live_teardown(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.live_untrack(regclass) FROM PUBLIC;
