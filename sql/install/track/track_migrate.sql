-- sql/install/track/track_migrate.sql: schema migrations of a tracked table: set_rule(), re-attaching an existing history, the SELECT grants of the history, the DDL event trigger that follows renamed columns and refuses key changes
-- C: src/track/track_migrate.c.  Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- Migrations that keep a tracked table working (issue 20 item 4).  Each
-- migration either works or is refused before anything is kept, with a
-- HINT giving the steps that work:
--   - a renamed column that funnel names (stage, effective time, key, a
--     required field) is followed in funnel.tracked_table and
--     funnel.required_field (event trigger below);
--   - a change of the key's type or column is refused; the HINT gives the
--     steps: untrack, change both tables, track() again, which re-attaches
--     the history;
--   - funnel.set_rule() changes the rule in place;
--   - funnel.track() re-attaches <table>_stage_history when it exists
--     (after untrack(), or a restore of the schema without funnel's
--     configuration rows), checked and made consistent with the deals;
--   - the history gets the SELECT grants of the deals table at track().
--------------------------------------------------------------------------

-- set_rule ------------------------------------------------------------------

CREATE FUNCTION funnel_internal.set_rule(deals regclass, rule text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_rule text;
BEGIN
    SELECT t.rule INTO old_rule FROM funnel.tracked_table t WHERE t.deals = set_rule.deals FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'undefined_object',
                  HINT = format('Track it with funnel.track(%L, pipeline => ''...'', rule => %L).', deals, rule);
    END IF;
    PERFORM funnel_internal.check_rule(rule);
    IF funnel_internal.track_citus_method(deals) IS NOT NULL THEN
        -- the shards' triggers carry the rule in their arguments
        RAISE EXCEPTION 'cannot change the rule of distributed table % in place', deals
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The triggers on the shards of a distributed table carry its rule.',
                  HINT = format('Rename its history table, then call funnel.untrack(%L) and funnel.track(%L, pipeline => ''...'', rule => %L).',
                                deals, deals, rule);
    END IF;
    -- the statement trigger of funnel.tracked_table invalidates every
    -- backend's cache of the table
    UPDATE funnel.tracked_table t SET rule = set_rule.rule WHERE t.deals = set_rule.deals;
    RETURN old_rule;
END
$$;
COMMENT ON FUNCTION funnel_internal.set_rule(regclass, text) IS
  'funnel internal: body of funnel.set_rule(), run as the extension owner after funnel.set_rule() checked that the caller owns the table; returns the previous rule';
REVOKE ALL ON FUNCTION funnel_internal.set_rule(regclass, text) FROM PUBLIC;

CREATE FUNCTION funnel.set_rule(deals regclass, rule text)
RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_set_rule'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.set_rule(regclass, text) IS
  'changes the transition rule (forward, sequential, any) of a tracked table the caller owns, in place (history and triggers kept); returns the previous rule';
REVOKE ALL ON FUNCTION funnel.set_rule(regclass, text) FROM PUBLIC;

-- re-attaching an existing history (steps of track()) ------------------------

CREATE FUNCTION funnel_internal.check_history_layout(deals regclass, history regclass,
                                                     ptype regtype, key_column name)
RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_check_history_layout'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel_internal.check_history_layout(regclass, regclass, regtype, name) IS
  'funnel internal: the checks the triggers make of a history before writing it (layout of src/analysis/history_layout.h for the key column''s type and the pipeline with enum type ptype, owner of the deals table, no constraint funnel cannot enforce); for track() re-attaching a history';
REVOKE ALL ON FUNCTION funnel_internal.check_history_layout(regclass, regclass, regtype, name) FROM PUBLIC;

-- track(), step "existing history": checks the history named like the one
-- track() would create and returns it; drops funnel_track_* triggers left
-- without configuration (a schema restored by pg_dump -n); the visits are
-- made consistent with the deals afterwards, as the caller
-- (track_reconcile, called by the C entry point of track())
CREATE FUNCTION funnel_internal.track_reattach(deals regclass, history regclass, pipeline text,
                                               key_column name, dist_method text)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    other regclass;
    dup text;
BEGIN
    -- (track() refused a tracked table already; a direct call must not
    -- drop the triggers of one)
    IF EXISTS (SELECT 1 FROM funnel.tracked_table tt WHERE tt.deals = track_reattach.deals) THEN
        RAISE EXCEPTION 'table % is already tracked', deals
            USING ERRCODE = 'duplicate_object';
    END IF;
    SELECT tt.deals INTO other FROM funnel.tracked_table tt WHERE tt.history = track_reattach.history;
    IF FOUND THEN
        RAISE EXCEPTION 'relation % already exists', history
            USING ERRCODE = 'duplicate_table',
                  DETAIL = format('It is the history of tracked table %s.', other),
                  HINT = 'Drop or rename it.';
    END IF;
    IF dist_method IS NOT NULL THEN
        RAISE EXCEPTION 'relation % already exists', history
            USING ERRCODE = 'duplicate_table',
                  DETAIL = 'funnel re-attaches the history of a local table only.',
                  HINT = 'Drop or rename it: the history of a distributed table is created by funnel.track().';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = history AND c.relkind = 'r') THEN
        RAISE EXCEPTION 'relation % already exists and is not a table', history
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Drop or rename it.';
    END IF;
    -- the layout and owner the triggers check before writing
    PERFORM funnel_internal.check_history_layout(deals, history,
                                                 funnel_internal.pipeline_type(pipeline), key_column);
    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                     JOIN pg_am am ON am.oid = ic.relam
                    WHERE i.indrelid = history AND am.amname = 'btree' AND i.indpred IS NULL
                      AND i.indnkeyatts >= 2 AND i.indkey[0] = 1 AND i.indkey[1] = 3) THEN
        RAISE EXCEPTION 'history table % has no btree index on (deal_id, entered_at)', history
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The triggers find the open visit of a deal with it.',
                  HINT = format('CREATE INDEX ON %s (deal_id, entered_at)', history);
    END IF;
    SELECT h.deal_id::text INTO dup
      FROM funnel_internal.open_visit_counts(history) h WHERE h.n > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'history table % has several open visits of deal %', history, dup
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A deal has one open visit (left_at NULL), in its current stage.',
                  HINT = format('Set left_at of all but the last open visit of each deal in %s, then call funnel.track() again.', history);
    END IF;
    -- triggers restored without their configuration row (pg_dump -n)
    PERFORM funnel_internal.track_drop_triggers(deals);
    RETURN history;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_reattach(regclass, regclass, text, name, text) IS
  'funnel internal: step of track(): checks an existing history table before it is re-attached (not another table''s history, local, the layout and owner the triggers check, its (deal_id, entered_at) index, at most one open visit per deal) and drops funnel_track_* triggers left without configuration';
REVOKE ALL ON FUNCTION funnel_internal.track_reattach(regclass, regclass, text, name, text) FROM PUBLIC;

-- deal keys with their number of open visits (as text: the key type varies)
CREATE FUNCTION funnel_internal.open_visit_counts(history regclass)
RETURNS TABLE (deal_id text, n bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT funnel_internal.key_text(h.deal_id), count(*) FROM ONLY %s h WHERE h.left_at IS NULL GROUP BY h.deal_id',
        history);
END
$$;
COMMENT ON FUNCTION funnel_internal.open_visit_counts(regclass) IS
  'funnel internal: the number of open visits of each deal in a history table';
REVOKE ALL ON FUNCTION funnel_internal.open_visit_counts(regclass) FROM PUBLIC;

-- After a history was re-attached: its open visits made consistent with
-- the deals as they are now.  SECURITY INVOKER, called by the C entry
-- point of track() as the caller, the owner of both tables: the writes
-- run the DEFAULTs, triggers and index expressions of the owner's history
-- with the owner's privileges, never the extension owner's.  Moves, new
-- and deleted deals of the time the table was not tracked are recorded
-- now (or at the deal's effective time for a new deal), as track() does.
CREATE FUNCTION funnel_internal.track_reconcile(deals regclass)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    eq text;
    n_moved bigint;
    n_closed bigint;
    n_opened bigint;
BEGIN
    SELECT * INTO STRICT t FROM funnel.tracked_table tt WHERE tt.deals = track_reconcile.deals;
    IF EXISTS (SELECT 1 FROM pg_class c
                WHERE c.oid IN (t.deals, t.history) AND c.relrowsecurity AND c.relforcerowsecurity) THEN
        RAISE EXCEPTION 'cannot re-attach history % while row-level security is forced on it or on %', t.history, t.deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'track() compares every deal with its open visit, as the owner.',
                  HINT = 'ALTER TABLE ... NO FORCE ROW LEVEL SECURITY in the transaction of funnel.track(), and FORCE again after it.';
    END IF;
    SELECT funnel_internal.equality_operator(a.atttypid) INTO eq
      FROM pg_attribute a
     WHERE a.attrelid = t.deals AND a.attname = t.key_column AND NOT a.attisdropped;
    -- deals moved while untracked: close the open visit, open the stage
    EXECUTE format($q$
        WITH moved AS (
            UPDATE ONLY %2$s h SET left_at = GREATEST(pg_catalog.now(), h.entered_at)
              FROM ONLY %1$s d
             WHERE h.left_at IS NULL AND h.deal_id %5$s d.%3$I
               AND NOT (h.stage OPERATOR(pg_catalog.=) d.%4$I::funnel.deal_stage)
            RETURNING d.%3$I AS deal_id, d.%4$I AS stage, h.left_at
        )
        INSERT INTO %2$s (deal_id, stage, entered_at)
        SELECT m.deal_id, m.stage::funnel.deal_stage(%6$I), m.left_at FROM moved m$q$,
        t.deals, t.history, t.key_column, t.stage_column, eq, t.pipeline);
    GET DIAGNOSTICS n_moved = ROW_COUNT;
    -- deals deleted while untracked
    EXECUTE format($q$
        UPDATE ONLY %2$s h SET left_at = GREATEST(pg_catalog.now(), h.entered_at)
         WHERE h.left_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM ONLY %1$s d WHERE d.%3$I %4$s h.deal_id)$q$,
        t.deals, t.history, t.key_column, eq);
    GET DIAGNOSTICS n_closed = ROW_COUNT;
    -- deals inserted while untracked: their first visit, as track() opens it
    EXECUTE format($q$
        INSERT INTO %2$s (deal_id, stage, entered_at)
        SELECT d.%3$I, d.%4$I::funnel.deal_stage(%6$I), %7$s
          FROM ONLY %1$s d
         WHERE NOT EXISTS (SELECT 1 FROM ONLY %2$s h WHERE h.left_at IS NULL AND h.deal_id %5$s d.%3$I)$q$,
        t.deals, t.history, t.key_column, t.stage_column, eq, t.pipeline,
        CASE WHEN t.changed_at_column IS NULL THEN 'pg_catalog.now()'
             ELSE format('coalesce(d.%I, pg_catalog.now())', t.changed_at_column) END);
    GET DIAGNOSTICS n_opened = ROW_COUNT;
    IF n_moved + n_closed + n_opened > 0 THEN
        RAISE NOTICE 'history % re-attached: % deals moved, % deleted and % inserted while untracked recorded now',
                     t.history, n_moved, n_closed, n_opened;
    END IF;
    RETURN (n_moved + n_closed + n_opened)::integer;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_reconcile(regclass) IS
  'funnel internal: after track() re-attached an existing history, run as the caller: closes open visits of deals moved or deleted while untracked and opens visits of the current stages; returns the number of deals changed';
REVOKE ALL ON FUNCTION funnel_internal.track_reconcile(regclass) FROM PUBLIC;

-- grants of the history (step of track()) ------------------------------------

-- The roles that may SELECT the deals table may SELECT its history (table
-- privileges; column privileges are not copied).  Run as the extension
-- owner: a superuser's GRANT is made as the owner of the table.
CREATE FUNCTION funnel_internal.track_copy_grants(deals regclass, history regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT DISTINCT a.grantee, a.is_grantable
               FROM pg_class c, aclexplode(c.relacl) a
              WHERE c.oid = deals AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner LOOP
        EXECUTE format('GRANT SELECT ON %s TO %s%s', history,
                       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.grantee::regrole::text) END,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_copy_grants(regclass, regclass) IS
  'funnel internal: step of track(): grants SELECT on the history to every role (and PUBLIC) granted SELECT on the deals table';
REVOKE ALL ON FUNCTION funnel_internal.track_copy_grants(regclass, regclass) FROM PUBLIC;

-- the DDL event trigger -------------------------------------------------------

-- After ALTER TABLE of a tracked table or of its history: a renamed column
-- funnel names is followed; a required field that is no longer a column, a
-- primary key on another column, or a key whose type no longer matches the
-- history's deal_id is refused (the error rolls the ALTER back).
CREATE FUNCTION funnel_internal.track_migrate_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    renamed name;
    gone name[];
    missing record;
    others text;
    distributed boolean;
    pk record;
    hist_key record;
    recipe text;
BEGIN
    FOR t IN SELECT tt.* FROM funnel.tracked_table tt
              WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() c
                             WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                               AND c.objid IN (tt.deals::oid, tt.history::oid)) LOOP
        -- the new name of a column of the deals table renamed by the command
        SELECT a.attname INTO renamed
          FROM pg_catalog.pg_event_trigger_ddl_commands() c
          JOIN pg_attribute a ON a.attrelid = c.objid AND a.attnum = c.objsubid
         WHERE c.objid = t.deals::oid AND c.object_type = 'table column' AND c.objsubid > 0
           AND c.command_tag = 'ALTER TABLE'
         LIMIT 1;
        -- distributed or not, without track_citus_method()'s checks: a
        -- table Citus is rebuilding (alter_distributed_table) has no
        -- primary key yet when this runs
        distributed := false;
        IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
            EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)'
               INTO distributed USING t.deals;
        END IF;

        -- the columns funnel.tracked_table names
        SELECT array_agg(x.col) INTO gone
          FROM unnest(ARRAY[t.stage_column, t.changed_at_column, t.key_column]) AS x(col)
         WHERE x.col IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = t.deals AND a.attname = x.col
                              AND a.attnum > 0 AND NOT a.attisdropped);
        IF gone IS NOT NULL THEN
            IF renamed IS NULL OR distributed OR cardinality(gone) > 1 THEN
                RAISE EXCEPTION 'column "%" of tracked table % is gone', gone[1], t.deals
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = 'funnel tracks the table by this column.',
                          HINT = format('Call funnel.untrack(%L) first, and funnel.track() after the change.', t.deals);
            END IF;
            UPDATE funnel.tracked_table tt
               SET stage_column = CASE WHEN tt.stage_column = gone[1] THEN renamed ELSE tt.stage_column END,
                   changed_at_column = CASE WHEN tt.changed_at_column = gone[1] THEN renamed ELSE tt.changed_at_column END,
                   key_column = CASE WHEN tt.key_column = gone[1] THEN renamed ELSE tt.key_column END
             WHERE tt.deals = t.deals
            RETURNING tt.* INTO t;
        END IF;

        -- the required fields of its pipeline
        SELECT r.stage, f.field INTO missing
          FROM funnel.required_field r, unnest(r.fields) AS f(field)
         WHERE r.pipeline = t.pipeline
           AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                            WHERE a.attrelid = t.deals AND a.attname = f.field
                              AND a.attnum > 0 AND NOT a.attisdropped)
         LIMIT 1;
        IF FOUND THEN
            IF renamed IS NULL THEN
                RAISE EXCEPTION 'column "%" of tracked table % is required in stage "%" of pipeline "%"',
                                missing.field, t.deals, missing.stage, t.pipeline
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = 'Every move into or past the stage would fail.',
                          HINT = format('Remove it from the required fields first with funnel.require_fields(%L, %L, ARRAY[...]).',
                                        t.pipeline, missing.stage);
            END IF;
            SELECT string_agg(tt.deals::text, ', ' ORDER BY tt.deals::text) INTO others
              FROM funnel.tracked_table tt
             WHERE tt.pipeline = t.pipeline AND tt.deals <> t.deals;
            IF others IS NOT NULL OR distributed THEN
                RAISE EXCEPTION 'cannot rename column "%" of tracked table %: it is required in stage "%" of pipeline "%"',
                                missing.field, t.deals, missing.stage, t.pipeline
                    USING ERRCODE = 'feature_not_supported',
                          DETAIL = CASE WHEN others IS NOT NULL
                                        THEN format('Required fields belong to the pipeline, and tables %s tracked in it keep the name "%s".', others, missing.field)
                                        ELSE 'The required fields of a distributed table are kept on every node.' END,
                          HINT = format('In one transaction: remove "%s" from the required fields with funnel.require_fields(%L, %L, ARRAY[...]), rename the column in every table tracked in the pipeline, and require "%s" again.',
                                        missing.field, t.pipeline, missing.stage, renamed);
            END IF;
            -- the pipeline's only tracked table: the requirement follows the column
            UPDATE funnel.required_field r
               SET fields = array_replace(r.fields, missing.field, renamed)
             WHERE r.pipeline = t.pipeline AND missing.field = ANY (r.fields);
            RAISE NOTICE 'required field "%" of pipeline "%" renamed to "%"', missing.field, t.pipeline, renamed;
        END IF;

        -- the key: the primary key of the deals table on key_column, of
        -- the type of the history's deal_id
        SELECT a.attname, a.atttypid, a.atttypmod INTO pk
          FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = t.deals AND i.indisprimary AND i.indnkeyatts = 1;
        SELECT a.atttypid, a.atttypmod INTO hist_key
          FROM pg_attribute a WHERE a.attrelid = t.history AND a.attnum = 1 AND NOT a.attisdropped;
        recipe := format('In one transaction: SELECT funnel.untrack(%L); change the key of %s; change deal_id of %s to match (ALTER TABLE ... ALTER deal_id TYPE ... USING ...); SELECT funnel.track(%L, %L), which re-attaches the history (README "Schema migrations").',
                         t.deals, t.deals, t.history, t.deals, t.pipeline);
        IF pk.attname IS NOT NULL AND pk.attname <> t.key_column THEN
            RAISE EXCEPTION 'primary key of tracked table % cannot move from column "%" to "%"', t.deals, t.key_column, pk.attname
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('Its history %s refers to deals by "%s".', t.history, t.key_column),
                      HINT = recipe;
        END IF;
        IF pk.attname IS NOT NULL AND hist_key.atttypid IS NOT NULL
           AND (pk.atttypid <> hist_key.atttypid
                OR (hist_key.atttypmod >= 0 AND hist_key.atttypmod <> pk.atttypmod)) THEN
            RAISE EXCEPTION 'key "%" of tracked table % is of type %, deal_id of its history % of type %',
                            t.key_column, t.deals, format_type(pk.atttypid, pk.atttypmod), t.history,
                            format_type(hist_key.atttypid, hist_key.atttypmod)
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'The type of a tracked key and of its history''s deal_id change together, while the table is not tracked.',
                      HINT = recipe;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_migrate_ddl_end() IS
  'funnel internal: after ALTER TABLE of a tracked table or its history, follows a renamed column that funnel names (stage, effective time, key, required field of a pipeline no other table tracks) and refuses a change that would make every write fail (a dropped required field, the primary key on another column, a key type other than deal_id''s), with a HINT';
CREATE EVENT TRIGGER funnel_track_migrate ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.track_migrate_ddl_end();
COMMENT ON EVENT TRIGGER funnel_track_migrate IS
  'follows renamed columns of tracked tables and refuses key changes and dropped required fields';

CREATE FUNCTION funnel_internal.track_migrate_ddl_start() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'funnel_track_migrate_ddl_start'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.track_migrate_ddl_start() IS
  'funnel internal: before ALTER TABLE, refuses a change of the type of the key of a tracked table, with the steps that keep its history in the HINT (src/track/track_migrate.c)';
CREATE EVENT TRIGGER funnel_track_migrate_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.track_migrate_ddl_start();
COMMENT ON EVENT TRIGGER funnel_track_migrate_start IS
  'refuses changing the type of a tracked table''s key, with a HINT giving the steps that keep the history';
