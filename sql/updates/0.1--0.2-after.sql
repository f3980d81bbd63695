-- sql/updates/0.1--0.2-after.sql: the part of sql/funnel--0.1--0.2.sql that
-- needs 0.2's functions (run after the definitions; see 0.1--0.2.sql)

-- the rule names' one list (sql/install/track/track.sql)
ALTER TABLE funnel.tracked_table DROP CONSTRAINT tracked_table_rule_check;
ALTER TABLE funnel.tracked_table
    ADD CONSTRAINT tracked_table_rule_check CHECK (funnel_internal.check_rule(rule));

-- LIKE on stages (sql/install/type/deal_stage.sql)
CREATE OPERATOR pg_catalog.~~ (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_like,
    NEGATOR = OPERATOR(pg_catalog.!~~),
    RESTRICT = likesel, JOIN = likejoinsel
);
CREATE OPERATOR pg_catalog.!~~ (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_nlike,
    NEGATOR = OPERATOR(pg_catalog.~~),
    RESTRICT = nlikesel, JOIN = nlikejoinsel
);
CREATE OPERATOR pg_catalog.~~* (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_ilike,
    NEGATOR = OPERATOR(pg_catalog.!~~*),
    RESTRICT = iclikesel, JOIN = iclikejoinsel
);
CREATE OPERATOR pg_catalog.!~~* (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_nilike,
    NEGATOR = OPERATOR(pg_catalog.~~*),
    RESTRICT = icnlikesel, JOIN = icnlikejoinsel
);

-- (sql/install/pipeline/pipeline.sql)
CREATE EVENT TRIGGER funnel_stage_columns_ddl_start ON ddl_command_start
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
                 'CREATE MATERIALIZED VIEW', 'CREATE TYPE', 'ALTER TYPE',
                 'CREATE DOMAIN', 'ALTER DOMAIN')
    EXECUTE FUNCTION funnel_internal.stage_columns_ddl_start();
-- (sql/install/citus/citus.sql)
CREATE EVENT TRIGGER funnel_citus_depend_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE TABLE AS', 'SELECT INTO')
    EXECUTE FUNCTION funnel_internal.citus_depend_ddl_end();
-- (sql/install/citus/citus.sql)
CREATE EVENT TRIGGER funnel_citus_rebind_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.citus_rebind_sql_drop();
-- (sql/install/citus/citus.sql)
CREATE EVENT TRIGGER funnel_citus_trigger_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION funnel_internal.citus_trigger_ddl_end();
-- (sql/install/track/track_migrate.sql)
CREATE EVENT TRIGGER funnel_track_migrate ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.track_migrate_ddl_end();
-- (sql/install/track/track_migrate.sql)
CREATE EVENT TRIGGER funnel_track_migrate_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.track_migrate_ddl_start();
-- (sql/install/live/live_ops.sql)
CREATE EVENT TRIGGER funnel_live_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.live_sql_drop();
CREATE EVENT TRIGGER funnel_track_migrate_live ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.live_ddl_end();

-- the tracking triggers of Citus distributed tables (sql/install/track/track.sql):
-- 0.1 gave them its settings by position ('citus', deals, history,
-- pipeline, stage column, effective-time column or '', rule, key column),
-- 0.2 reads only 'citus' and name=value pairs (src/track/track_cache.c), so
-- each is re-created with the same definition and 0.2's arguments.  On
-- every node for itself (Citus runs this update on each node): the
-- distributed table's triggers, and on a worker its shards' and its copy
-- of the shell table's, with DDL propagation off.  Without Citus there are
-- none.  The histories of those tables get REPLICA IDENTITY FULL, as 0.2's
-- track() gives them (Citus's online shard moves replay the UPDATE that
-- closes a visit): the distributed table and each of its shards this node
-- holds (Citus's metadata, on every node since Citus 11).
DO $$
DECLARE
    t record;
    a text[];
    histories text[] := '{}';
    h text;
    hist regclass;
    shard regclass;
    rest bytea;
    i integer;
    def text;
    old_call text;
    new_args text;
    saved_path text := current_setting('search_path');
    saved_ddl text := current_setting('citus.enable_ddl_propagation', true);
    saved_unsafe text := current_setting('citus.enable_unsafe_triggers', true);
    saved_manual text := current_setting('citus.enable_manual_changes_to_shards', true);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM pg_catalog.set_config('citus.enable_manual_changes_to_shards', 'on', true);
    FOR t IN SELECT tg.oid, tg.tgname, tg.tgrelid, tg.tgargs
               FROM pg_catalog.pg_trigger tg
              WHERE tg.tgfoid IN ('funnel_internal.track_resolve()'::regprocedure,
                                  'funnel_internal.track_insert()'::regprocedure,
                                  'funnel_internal.track_update()'::regprocedure,
                                  'funnel_internal.track_delete()'::regprocedure,
                                  'funnel_internal.track_truncate()'::regprocedure)
                AND tg.tgnargs = 8
              ORDER BY tg.tgrelid, tg.tgname
    LOOP
        -- the arguments, each ended by a zero byte
        a := '{}';
        rest := t.tgargs;
        WHILE length(rest) > 0 LOOP
            i := position(decode('00', 'hex') IN rest);
            a := a || convert_from(substring(rest FROM 1 FOR i - 1), getdatabaseencoding());
            rest := substring(rest FROM i + 1);
        END LOOP;
        -- 0.1's positional form; a trigger already in 0.2's form has '=' in every argument
        CONTINUE WHEN a[1] <> 'citus' OR a[7] NOT IN ('forward', 'sequential', 'any');
        new_args := format('%L, %L, %L, %L, %L, %L, %L', 'citus',
                           'deals=' || a[2], 'history=' || a[3], 'pipeline=' || a[4],
                           'stage_column=' || a[5], 'rule=' || a[7], 'key_column=' || a[8])
                    || CASE WHEN a[6] = '' THEN '' ELSE format(', %L', 'changed_at_column=' || a[6]) END;
        def := pg_get_triggerdef(t.oid);
        old_call := '(' || (SELECT string_agg(quote_literal(x), ', ' ORDER BY n)
                              FROM unnest(a) WITH ORDINALITY u(x, n)) || ')';
        IF right(def, length(old_call)) <> old_call THEN
            RAISE EXCEPTION 'cannot re-create funnel trigger "%" of table %', t.tgname, t.tgrelid::regclass
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('Its definition does not end with the arguments funnel 0.1 gave it: %s', def),
                      HINT = 'Run funnel.untrack() on the distributed table, update, then funnel.track() it again.';
        END IF;
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass);
        EXECUTE left(def, length(def) - length(old_call)) || '(' || new_args || ')';
        IF NOT a[3] = ANY (histories) THEN
            histories := histories || a[3];
        END IF;
    END LOOP;
    FOREACH h IN ARRAY histories LOOP
        hist := to_regclass(h);
        CONTINUE WHEN hist IS NULL;
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', hist);
        -- shard_name() leaves out schema public, which is not on this path
        FOR shard IN EXECUTE $q$SELECT to_regclass(CASE WHEN n.nspname = 'public' THEN 'public.' ELSE '' END
                                                   || shard_name($1, s.shardid))
                                  FROM pg_dist_shard s, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE s.logicalrelid = $1 AND c.oid = $1$q$
                     USING hist
        LOOP
            CONTINUE WHEN shard IS NULL;
            EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', shard);
        END LOOP;
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_manual_changes_to_shards', saved_manual, true);
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', saved_unsafe, true);
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', saved_ddl, true);
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
END
$$;
