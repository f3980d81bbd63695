-- sql/install/track/track.sql: tracking a deals table: configuration, track()/untrack(), rules, trigger functions, DDL guards, check_history()
-- C: src/track_*.c, src/type/unresolved.c.  Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- Tracking a deals table (issue 3): configuration, API, trigger functions
--
-- funnel.track() installs C triggers on a deals table and creates its
-- history table <table>_stage_history; the triggers validate every stage
-- change against the table's rule, the pipeline's allow-list, retired stages
-- and required fields, and write one history row per visit in the same
-- transaction.  See doc/tracking.md.
--------------------------------------------------------------------------

-- Like the pipeline tables, these have no foreign keys (pg_restore -j loads
-- config tables in no order); the API functions validate what they write and
-- the trigger below follows stage renames and dropped pipelines.
CREATE FUNCTION funnel_internal.check_rule(rule text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'funnel_check_rule'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.check_rule(text) IS
  'funnel internal: true for a transition rule name (forward, sequential, any), else the 22023 error naming it; the one list of rule names (src/track/track_trigger.c)';

CREATE TABLE funnel.tracked_table (
    deals             regclass PRIMARY KEY,
    pipeline          text,
    stage_column      name NOT NULL,
    changed_at_column name,
    rule              text NOT NULL CHECK (funnel_internal.check_rule(rule)),
    history           regclass NOT NULL,
    tracked_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    key_column        name NOT NULL,
    -- a table that holds the deals of several pipelines: their names, and
    -- pipeline NULL (sql/install/track/track_many.sql)
    pipelines         text[],
    CHECK ((pipeline IS NULL) <> (pipelines IS NULL))
);
COMMENT ON TABLE funnel.tracked_table IS
  'funnel: one row per deals table tracked by funnel.track(): its pipeline (or pipelines, for a table that holds several), stage column, optional effective-time column, transition rule, history table and key column (the primary key when tracked)';

CREATE TABLE funnel.allowed_transition (
    pipeline    text NOT NULL,
    from_stage  text NOT NULL,
    to_stage    text NOT NULL,
    PRIMARY KEY (pipeline, from_stage, to_stage)
);
COMMENT ON TABLE funnel.allowed_transition IS
  'funnel: extra stage moves allowed in a pipeline on top of the rule of each tracked table (see funnel.allow_transition)';

CREATE TABLE funnel.required_field (
    pipeline    text NOT NULL,
    stage       text NOT NULL,
    fields      name[] NOT NULL,
    PRIMARY KEY (pipeline, stage)
);
COMMENT ON TABLE funnel.required_field IS
  'funnel: columns that must be non-null when a deal enters a stage or skips past it (see funnel.require_fields)';

SELECT pg_catalog.pg_extension_config_dump('funnel.tracked_table', '');
SELECT pg_catalog.pg_extension_config_dump('funnel.allowed_transition', '');
SELECT pg_catalog.pg_extension_config_dump('funnel.required_field', '');

CREATE TRIGGER tracked_table_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.tracked_table
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.catalog_changed();
CREATE TRIGGER allowed_transition_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.allowed_transition
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.catalog_changed();
CREATE TRIGGER required_field_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funnel.required_field
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.catalog_changed();
COMMENT ON TRIGGER tracked_table_changed ON funnel.tracked_table IS
  'tells every backend''s tracking cache that a tracked table was added or removed';
COMMENT ON TRIGGER allowed_transition_changed ON funnel.allowed_transition IS
  'tells every backend''s tracking cache that an allow-list changed';
COMMENT ON TRIGGER required_field_changed ON funnel.required_field IS
  'tells every backend''s tracking cache that required fields changed';

CREATE FUNCTION funnel_internal.track_stage_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.stage <> NEW.stage OR OLD.pipeline <> NEW.pipeline THEN
            UPDATE funnel.allowed_transition t SET pipeline = NEW.pipeline, from_stage = NEW.stage
             WHERE t.pipeline = OLD.pipeline AND t.from_stage = OLD.stage;
            UPDATE funnel.allowed_transition t SET pipeline = NEW.pipeline, to_stage = NEW.stage
             WHERE t.pipeline = OLD.pipeline AND t.to_stage = OLD.stage;
            -- moves between pipelines name the target qualified
            UPDATE funnel.allowed_transition t SET to_stage = NEW.pipeline || ':' || NEW.stage
             WHERE t.to_stage = OLD.pipeline || ':' || OLD.stage;
            UPDATE funnel.required_field r SET pipeline = NEW.pipeline, stage = NEW.stage
             WHERE r.pipeline = OLD.pipeline AND r.stage = OLD.stage;
        END IF;
    ELSE
        DELETE FROM funnel.allowed_transition t
         WHERE (t.pipeline = OLD.pipeline AND OLD.stage IN (t.from_stage, t.to_stage))
            OR t.to_stage = OLD.pipeline || ':' || OLD.stage;
        DELETE FROM funnel.required_field r
         WHERE r.pipeline = OLD.pipeline AND r.stage = OLD.stage;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_stage_changed() IS
  'funnel internal: keeps allow-lists and required fields in step with renamed stages and dropped pipelines';
CREATE TRIGGER track_stage_changed
    AFTER UPDATE OR DELETE ON funnel.pipeline_stage
    FOR EACH ROW EXECUTE FUNCTION funnel_internal.track_stage_changed();
COMMENT ON TRIGGER track_stage_changed ON funnel.pipeline_stage IS
  'renames or removes the stage in funnel.allowed_transition and funnel.required_field';

GRANT SELECT ON funnel.tracked_table, funnel.allowed_transition, funnel.required_field TO PUBLIC;

-- trigger functions (C, src/track/track_trigger.c)

CREATE FUNCTION funnel_internal.track_resolve() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_resolve'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.track_resolve() IS
  'funnel internal: BEFORE INSERT OR UPDATE row trigger of a tracked table whose stage column is not bound to a pipeline; resolves bare stage names in the tracked pipeline';

CREATE FUNCTION funnel_internal.track_insert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_insert'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.track_insert() IS
  'funnel internal: AFTER INSERT statement trigger (transition table) of a tracked table; checks the initial stages and opens the first visit of every new deal in one batch';

CREATE FUNCTION funnel_internal.track_update() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_update'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.track_update() IS
  'funnel internal: AFTER UPDATE row trigger of a tracked table; validates a stage change, closes the open visit and opens the next';

CREATE FUNCTION funnel_internal.track_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_delete'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.track_delete() IS
  'funnel internal: AFTER DELETE row trigger of a tracked table; closes the open visit of the deleted deal (history is kept)';

CREATE FUNCTION funnel_internal.track_truncate() RETURNS trigger
    AS 'MODULE_PATHNAME', 'funnel_track_truncate'
    LANGUAGE C;
COMMENT ON FUNCTION funnel_internal.track_truncate() IS
  'funnel internal: AFTER TRUNCATE statement trigger of a tracked table; closes every open visit (history is kept)';

CREATE FUNCTION funnel_internal.check_deals(deals regclass, ptype regtype,
                                           stage_column name, changed_at_column name)
RETURNS name
    AS 'MODULE_PATHNAME', 'funnel_check_deals'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.check_deals(regclass, regtype, name, name) IS
  'funnel internal: the checks funnel.track() makes of a deals table to track in the pipeline with enum type ptype (an ordinary table, not a partition, a one-column primary key, the stage column a NOT NULL funnel.deal_stage of the pipeline or unbound, the effective-time column a timestamptz), the same the triggers make later (src/track/track_validate.c); returns the primary key column';
REVOKE ALL ON FUNCTION funnel_internal.check_deals(regclass, regtype, name, name) FROM PUBLIC;

CREATE FUNCTION funnel_internal.history_columns(key_type text, pipeline text) RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_history_columns'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.history_columns(text, text) IS
  'funnel internal: the column list of CREATE TABLE for a stage history whose deal_id is of type key_type and whose stage is bound to the pipeline; the one layout of a history (src/analysis/history_layout.h), which the triggers check';
CREATE FUNCTION funnel_internal.history_columns(key_type text) RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_history_columns'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.history_columns(text) IS
  'funnel internal: the column list of CREATE TABLE for the stage history of a table of several pipelines: deal_id of type key_type, stage an unbound funnel.deal_stage; the one layout of a history (src/analysis/history_layout.h)';

-- API
--
-- funnel.track() and funnel.untrack() are C functions running as the caller
-- (src/track/track_api.c): they require ownership of the deals table, as CREATE
-- TRIGGER does, then call the bodies funnel_internal.track() / funnel_internal.untrack(),
-- which run as the extension owner to write the configuration tables and
-- create the history table owned by the deals table's owner.  EXECUTE on
-- the bodies is revoked from PUBLIC: only the entry points reach them.

-- track(), step "Citus": NULL for a local table, 'h' for a table
-- hash-distributed by its one-column primary key; anything else Citus
-- manages is refused with a HINT that leads somewhere
CREATE FUNCTION funnel_internal.track_citus_method(deals regclass) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dist_method text;
    dist_repmodel text;
    dist_column text;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE $q$SELECT p.partmethod::text, p.repmodel::text,
                      pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
                 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1$q$
       INTO dist_method, dist_repmodel, dist_column USING deals;
    IF dist_method = 'n' AND dist_repmodel = 't' THEN
        RAISE EXCEPTION 'table % is a Citus reference table', deals
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'funnel tracks local tables and tables hash-distributed by their primary key; the triggers of a reference table would write a history on every node.',
                  HINT = format('Distribute it by its primary key with create_distributed_table(%L, ''<key column>''), or make it local again with undistribute_table(%L).', deals, deals);
    ELSIF dist_method = 'n' THEN
        RAISE EXCEPTION 'table % is a Citus local or single-shard table', deals
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'funnel tracks local tables and tables hash-distributed by their primary key.',
                  HINT = format('Distribute it by its primary key with create_distributed_table(%L, ''<key column>''), or make it local again with undistribute_table(%L).', deals, deals);
    ELSIF dist_method IS NOT NULL AND dist_method <> 'h' THEN
        RAISE EXCEPTION 'table % is not hash-distributed', deals
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'funnel tracks local tables and tables hash-distributed by their primary key.';
    ELSIF dist_method = 'h' AND NOT EXISTS (
            SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = deals AND i.indisprimary AND i.indnkeyatts = 1
               AND a.attname = dist_column) THEN
        RAISE EXCEPTION 'table % is distributed by column "%", not by its primary key', deals, dist_column
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The history of a deal is written on the node of the deal: the table must be distributed by its one-column primary key, the key of the history.',
                  HINT = format('Give the table a primary key on "%s" alone, or redistribute it with alter_distributed_table(%L, distribution_column := ''<primary key column>'').',
                                dist_column, deals);
    END IF;
    RETURN dist_method;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_citus_method(regclass) IS
  'funnel internal: step of track(): NULL for a local table, h for a Citus table hash-distributed by its primary key; refuses reference, local, single-shard and otherwise distributed tables (0A000)';

-- track(), step "required fields": every field the pipeline requires is a
-- column of the table
CREATE FUNCTION funnel_internal.track_check_required_fields(deals regclass, pipeline text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing record;
BEGIN
    SELECT r.stage, f.field INTO missing
      FROM funnel.required_field r, unnest(r.fields) AS f(field)
     WHERE r.pipeline = track_check_required_fields.pipeline
       AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = deals AND a.attname = f.field
                          AND a.attnum > 0 AND NOT a.attisdropped)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % has no column "%"', deals, missing.field
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('Stage "%s" of pipeline "%s" requires it.', missing.stage, pipeline);
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_check_required_fields(regclass, text) IS
  'funnel internal: step of track(): 42703 unless every field the pipeline requires is a column of the table';

-- track(), step "triggers": the tracking triggers of a deals table (the
-- BEFORE one only for a stage column not bound to the pipeline); args are
-- the Citus shard triggers' arguments, empty for a local table
CREATE FUNCTION funnel_internal.track_create_triggers(deals regclass, stage_column name, key_column name,
                                                      bound boolean, trigger_args text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT bound THEN
        EXECUTE format('CREATE TRIGGER funnel_track_resolve BEFORE INSERT OR UPDATE OF %I ON %s FOR EACH ROW EXECUTE FUNCTION funnel_internal.track_resolve(%s)',
                       stage_column, deals, trigger_args);
    END IF;
    EXECUTE format('CREATE TRIGGER funnel_track_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS funnel_new_deals FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.track_insert(%s)',
                   deals, trigger_args);
    -- the WHEN clause is compiled for every statement: keep it to one test;
    -- a change of the key is caught by the column trigger funnel_track_key
    EXECUTE format('CREATE TRIGGER funnel_track_update AFTER UPDATE ON %s FOR EACH ROW WHEN (NOT (OLD.%I OPERATOR(pg_catalog.=) NEW.%I)) EXECUTE FUNCTION funnel_internal.track_update(%s)',
                   deals, stage_column, stage_column, trigger_args);
    EXECUTE format('CREATE TRIGGER funnel_track_key AFTER UPDATE OF %I ON %s FOR EACH ROW EXECUTE FUNCTION funnel_internal.track_update(%s)',
                   key_column, deals, trigger_args);
    EXECUTE format('CREATE TRIGGER funnel_track_delete AFTER DELETE ON %s FOR EACH ROW EXECUTE FUNCTION funnel_internal.track_delete(%s)',
                   deals, trigger_args);
    EXECUTE format('CREATE TRIGGER funnel_track_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.track_truncate(%s)',
                   deals, trigger_args);
END
$$;
COMMENT ON FUNCTION funnel_internal.track_create_triggers(regclass, name, name, boolean, text) IS
  'funnel internal: step of track(): creates the funnel_track_* triggers of a deals table';
-- The steps both forms of track() take (funnel_internal.track() below and
-- funnel_internal.track_many(), sql/install/track/track_many.sql), in the order
-- each calls them; the caller owns the table and holds its lock
-- (RequireOwner(), src/track/track_api.c).

-- track(), step "table": the deals table's name, schema and owner; refuses
-- a table that is already tracked
CREATE FUNCTION funnel_internal.track_table(deals regclass,
                                           OUT relname name, OUT nspname name, OUT owner regrole)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT c.relname, n.nspname, c.relowner::regrole
      INTO relname, nspname, owner
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = deals;
    IF EXISTS (SELECT 1 FROM funnel.tracked_table t WHERE t.deals = track_table.deals) THEN
        RAISE EXCEPTION 'table % is already tracked', deals
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Call funnel.untrack() first to change how it is tracked.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_table(regclass) IS
  'funnel internal: step of track(): the deals table''s name, schema and owner; 42710 if it is already tracked';

-- track(), step "key": the key column (checked by check_deals()) with the
-- type and collation the history's deal_id gets
CREATE FUNCTION funnel_internal.track_key(deals regclass, key_column name,
                                         OUT attname name, OUT typ text, OUT coll text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT a.attname, format_type(a.atttypid, a.atttypmod),
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> 'pg_catalog.default'::regcollation
                THEN format(' COLLATE %s', a.attcollation::regcollation) ELSE '' END
      INTO attname, typ, coll
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = key_column
       AND a.attnum > 0 AND NOT a.attisdropped;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_key(regclass, name) IS
  'funnel internal: step of track(): the key column of a deals table, its type and its COLLATE clause for the history''s deal_id';

-- track(), step "history name": <table>_stage_history, or the error when
-- that is longer than a name
CREATE FUNCTION funnel_internal.track_history_name(relname name) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hist_name text := relname || '_stage_history';
BEGIN
    IF octet_length(hist_name) > 63 THEN
        RAISE EXCEPTION 'history table name "%" is too long', hist_name
            USING ERRCODE = 'name_too_long',
                  HINT = 'Rename the table to at most 49 bytes.';
    END IF;
    RETURN hist_name;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_history_name(name) IS
  'funnel internal: step of track(): the name of a deals table''s history table; 42622 if it would be longer than 63 bytes';

-- track(), step "history": a new, empty history table with its two
-- indexes (the triggers find a deal's open visit by (deal_id, entered_at))
CREATE FUNCTION funnel_internal.track_create_history(nspname name, hist_name text,
                                                    columns text, description text) RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hist regclass;
BEGIN
    EXECUTE format('CREATE TABLE %I.%I (%s) WITH (fillfactor = 80)',
                   nspname, hist_name, columns);
    hist := format('%I.%I', nspname, hist_name)::regclass;
    EXECUTE format('CREATE INDEX ON %s (deal_id, entered_at)', hist);
    EXECUTE format('CREATE INDEX ON %s (stage, entered_at)', hist);
    EXECUTE format('COMMENT ON TABLE %s IS %L', hist, description);
    RETURN hist;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_create_history(name, text, text, text) IS
  'funnel internal: step of track(): creates a history table (columns from funnel_internal.history_columns()), its (deal_id, entered_at) and (stage, entered_at) indexes and its comment';

-- track(), step "backfill": one open visit for every existing deal, then
-- the history handed to the table's owner.  Of the table itself (ONLY),
-- whose triggers track it, never of its inheritance children, whose rows
-- are not tracked and which may be foreign tables this query, run as the
-- extension owner, must not read (Citus: no children, and its planner is
-- given the table's plain name).  pipeline: the pipeline a bound stage
-- column's values are read in, NULL for an unbound column
CREATE FUNCTION funnel_internal.track_backfill(hist regclass, deals regclass, key_column name,
                                              stage_column name, pipeline text,
                                              changed_at_column name, distributed boolean,
                                              owner regrole) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('INSERT INTO %s (deal_id, stage, entered_at) SELECT %I, %s, %s FROM %s%s',
                   hist, key_column,
                   CASE WHEN pipeline IS NULL THEN format('%I', stage_column)
                        ELSE format('%I::funnel.deal_stage(%I)', stage_column, pipeline) END,
                   CASE WHEN changed_at_column IS NULL THEN 'pg_catalog.now()'
                        ELSE format('coalesce(%I, pg_catalog.now())', changed_at_column) END,
                   CASE WHEN distributed THEN '' ELSE 'ONLY ' END, deals);
    EXECUTE format('ALTER TABLE %s OWNER TO %I', hist, owner);
END
$$;
COMMENT ON FUNCTION funnel_internal.track_backfill(regclass, regclass, name, name, text, name, boolean, regrole) IS
  'funnel internal: step of track(): one open visit per existing deal of the table itself (ONLY), at its effective time or now, then ALTER TABLE ... OWNER TO the table''s owner';

-- untrack() and the re-attach step of track(): drops the funnel_track_*
-- triggers of a deals table (the caller allows it on Citus)
CREATE FUNCTION funnel_internal.track_drop_triggers(deals regclass) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT tg.tgname FROM pg_trigger tg
              WHERE tg.tgrelid = deals AND NOT tg.tgisinternal
                AND tg.tgname IN ('funnel_track_resolve', 'funnel_track_insert', 'funnel_track_update',
                                  'funnel_track_key', 'funnel_track_delete', 'funnel_track_truncate') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, deals);
    END LOOP;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_drop_triggers(regclass) IS
  'funnel internal: step of untrack() and of re-attaching a history at track(): drops the funnel_track_* triggers of a deals table';
REVOKE ALL ON FUNCTION funnel_internal.track_citus_method(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_check_required_fields(regclass, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_create_triggers(regclass, name, name, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_table(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_key(regclass, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_history_name(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_create_history(name, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_backfill(regclass, regclass, name, name, text, name, boolean, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track_drop_triggers(regclass) FROM PUBLIC;

CREATE FUNCTION funnel_internal.track(
    deals regclass,
    pipeline text,
    stage_column name,
    changed_at_column name,
    rule text)
RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ptype regtype := funnel_internal.pipeline_type(pipeline);
    typmod integer := funnel_internal.pipeline_typmod(ptype);
    rel record;
    stage_att record;
    pk record;
    pk_column name;
    hist_name text;
    hist regclass;
    dist_method text;
    trigger_args text := '';
    saved_triggers text;
BEGIN
    SELECT * INTO rel FROM funnel_internal.track_table(deals);
    PERFORM funnel_internal.check_rule(rule);

    SELECT a.atttypmod INTO stage_att
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = stage_column
       AND a.attnum > 0 AND NOT a.attisdropped;

    -- on Citus: hash-distributed by the deal key, or a plain local table
    -- (src/citus/track_citus.c maps each shard to its co-located history shard)
    dist_method := funnel_internal.track_citus_method(deals);

    -- the checks of the deals table, the same the triggers make later
    -- (src/track/track_validate.c): returns the one-column primary key (after
    -- the Citus checks, whose message says more for a distributed table)
    pk_column := funnel_internal.check_deals(deals, ptype, stage_column, changed_at_column);

    -- the key's type for the history's deal_id
    SELECT * INTO pk FROM funnel_internal.track_key(deals, pk_column);
    -- required fields of the pipeline must be columns of the table
    PERFORM funnel_internal.track_check_required_fields(deals, pipeline);

    -- the history table
    hist_name := funnel_internal.track_history_name(rel.relname);
    -- an existing history (kept by funnel.untrack(), or restored by
    -- pg_dump -n) is re-attached once checked (sql/install/track/track_migrate.sql);
    -- the C entry point then makes its open visits consistent, as the caller
    hist := to_regclass(format('%I.%I', rel.nspname, hist_name));
    IF hist IS NOT NULL THEN
        hist := funnel_internal.track_reattach(deals, hist, pipeline, pk.attname, dist_method);
    END IF;

    IF dist_method = 'h' THEN
        -- Citus: the triggers on the shards do what track() does on a
        -- local table (citus.enable_unsafe_triggers: they write only the
        -- co-located history shard, on the same node, in the same
        -- transaction)
        saved_triggers := pg_catalog.current_setting('citus.enable_unsafe_triggers');
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;

    IF hist IS NULL THEN
    -- the columns: the one layout of a history (src/analysis/history_layout.h)
    hist := funnel_internal.track_create_history(rel.nspname, hist_name,
                funnel_internal.history_columns(pk.typ || pk.coll, pipeline),
                format('funnel: stage history of %s (one row per visit; left_at NULL while the deal is there); written by funnel''s triggers', deals));
    IF dist_method = 'h' THEN
        -- what Citus's online shard moves (logical replication) need to
        -- replay the UPDATE that closes a visit: a visit has no key (moves
        -- in one transaction give identical zero-length visits), so the
        -- whole old row identifies it; costs WAL only with wal_level = logical
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', hist);
        -- co-located with the deals: a deal's visits live on its node
        EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''deal_id'', colocate_with => $2)'
            USING hist, deals::text;
        -- what a shard's triggers know of their tracking (src/citus/track_citus.c),
        -- as name=value pairs named like the columns of funnel.tracked_table
        trigger_args := format('%L, %L, %L, %L, %L, %L, %L', 'citus',
                               'deals=' || deals::text, 'history=' || hist::text,
                               'pipeline=' || pipeline, 'stage_column=' || stage_column,
                               'rule=' || rule, 'key_column=' || pk.attname)
                        || CASE WHEN changed_at_column IS NULL THEN ''
                                ELSE format(', %L', 'changed_at_column=' || changed_at_column) END;
    END IF;

    -- one open visit for every existing deal, of the table itself (ONLY)
    PERFORM funnel_internal.track_backfill(hist, deals, pk.attname, stage_column, pipeline,
                                           changed_at_column, dist_method IS NOT NULL, rel.owner);
    END IF;
    -- who may read the deals may read their history
    PERFORM funnel_internal.track_copy_grants(deals, hist);

    INSERT INTO funnel.tracked_table (deals, pipeline, stage_column, changed_at_column, rule, history, key_column)
    VALUES (deals, pipeline, stage_column, changed_at_column, rule, hist, pk.attname);

    -- the triggers; the BEFORE one only for a column not bound to the pipeline
    PERFORM funnel_internal.track_create_triggers(deals, stage_column, pk.attname,
                                                  stage_att.atttypmod >= 0, trigger_args);
    IF dist_method = 'h' THEN
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', saved_triggers, true);
    END IF;
    RETURN hist;
END
$$;
COMMENT ON FUNCTION funnel_internal.track(regclass, text, name, name, text) IS
  'funnel internal: body of funnel.track(), run as the extension owner after funnel.track() checked that the caller owns the table';

CREATE FUNCTION funnel.track(
    deals regclass,
    pipeline text,
    stage_column name DEFAULT 'stage',
    changed_at_column name DEFAULT NULL,
    rule text DEFAULT 'forward')
RETURNS regclass
    AS 'MODULE_PATHNAME', 'funnel_track'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.track(regclass, text, name, name, text) IS
  'tracks a deals table the caller owns: validates every stage change (rule forward, sequential or any, allow-list, retired stages, required fields) and records each visit in <table>_stage_history, which it creates and backfills; returns the history table';

CREATE FUNCTION funnel_internal.untrack(deals regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    saved_triggers text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM funnel.tracked_table tt WHERE tt.deals = untrack.deals) THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        -- Citus refuses DROP TRIGGER on a distributed table as it refuses
        -- CREATE TRIGGER (see track())
        saved_triggers := pg_catalog.current_setting('citus.enable_unsafe_triggers');
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
    -- live summaries are kept from the history: dropped, with a NOTICE
    -- (sql/install/live/live_ops.sql)
    PERFORM funnel_internal.live_untrack(deals);
    PERFORM funnel_internal.track_drop_triggers(deals);
    IF saved_triggers IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', saved_triggers, true);
    END IF;
    DELETE FROM funnel.tracked_table tt WHERE tt.deals = untrack.deals;
END
$$;
COMMENT ON FUNCTION funnel_internal.untrack(regclass) IS
  'funnel internal: body of funnel.untrack(), run as the extension owner after funnel.untrack() checked that the caller owns the table';

CREATE FUNCTION funnel.untrack(deals regclass)
RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_untrack'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION funnel.untrack(regclass) IS
  'stops tracking a deals table the caller owns: drops funnel''s triggers and its live summaries (with a NOTICE); the history table is kept';

-- The allow-list and the required fields live in tables of each node, and
-- the triggers on the shards of a distributed table read those of their
-- worker.  As for the pipeline functions, each function below is a body
-- (funnel_internal.allow_transition ...) run on this node and, on a Citus
-- coordinator, a wrapper that also logs the call in funnel_citus.pipeline_log
-- so that every node applies it in the same transaction (doc/design.md §11).
-- The target of an allow-list entry: NULL for a stage of the pipeline
-- itself, {pipeline, stage} for a qualified 'retail:lead' of another
-- pipeline (a move between the pipelines of one deals table, see
-- sql/install/track/track_many.sql); the error for a qualified name of the same
-- pipeline, which is ambiguous to read back
CREATE FUNCTION funnel_internal.transition_target(pipeline text, to_stage text)
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text[];
BEGIN
    IF to_stage IS NULL OR strpos(to_stage, ':') = 0 THEN
        RETURN NULL;
    END IF;
    target := ARRAY[split_part(to_stage, ':', 1), substr(to_stage, strpos(to_stage, ':') + 1)];
    IF target[1] = pipeline THEN
        RAISE EXCEPTION 'target stage "%" is in pipeline "%" itself', to_stage, pipeline
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name a stage of the pipeline without its pipeline, as in %L; qualify only a stage of another pipeline.', target[2]);
    END IF;
    RETURN target;
END
$$;
COMMENT ON FUNCTION funnel_internal.transition_target(text, text) IS
  'funnel internal: NULL for an allow-list target in the pipeline itself, {pipeline, stage} for a qualified target in another pipeline (a move between pipelines)';
REVOKE ALL ON FUNCTION funnel_internal.transition_target(text, text) FROM PUBLIC;

CREATE FUNCTION funnel_internal.allow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text[] := funnel_internal.transition_target(pipeline, to_stage);
BEGIN
    -- '*': from any stage, for a move to another pipeline only
    IF from_stage IS DISTINCT FROM '*' OR target IS NULL THEN
        PERFORM funnel_internal.stage_row(pipeline, from_stage);
    END IF;
    IF target IS NULL THEN
        PERFORM funnel_internal.stage_row(pipeline, to_stage);
    ELSE
        PERFORM funnel_internal.stage_row(target[1], target[2]);
    END IF;
    IF from_stage = to_stage THEN
        RAISE EXCEPTION 'a transition needs two different stages'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO funnel.allowed_transition (pipeline, from_stage, to_stage)
    VALUES (pipeline, from_stage, to_stage)
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION funnel_internal.allow_transition(text, text, text) IS
  'funnel internal: the body of funnel.allow_transition() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.disallow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM funnel.allowed_transition t
     WHERE t.pipeline = disallow_transition.pipeline
       AND t.from_stage = disallow_transition.from_stage
       AND t.to_stage = disallow_transition.to_stage;
END
$$;
COMMENT ON FUNCTION funnel_internal.disallow_transition(text, text, text) IS
  'funnel internal: the body of funnel.disallow_transition() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.require_fields(pipeline text, stage text, fields text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing record;
BEGIN
    PERFORM funnel_internal.stage_row(pipeline, stage);
    IF coalesce(cardinality(fields), 0) = 0 THEN
        DELETE FROM funnel.required_field r
         WHERE r.pipeline = require_fields.pipeline AND r.stage = require_fields.stage;
        RETURN;
    END IF;
    IF array_position(fields, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'required field names must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- (on a Citus worker funnel.tracked_table is empty: the coordinator,
    -- which has the rows, checked the columns of the distributed tables)
    SELECT t.deals, f.field INTO missing
      FROM funnel.tracked_table t, unnest(fields) AS f(field)
     WHERE (t.pipeline = require_fields.pipeline OR require_fields.pipeline = ANY (t.pipelines))
       AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = t.deals AND a.attname = f.field
                          AND a.attnum > 0 AND NOT a.attisdropped)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % has no column "%"', missing.deals, missing.field
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('The table is tracked in pipeline "%s".', pipeline);
    END IF;
    INSERT INTO funnel.required_field (pipeline, stage, fields)
    VALUES (pipeline, stage, fields::name[])
    ON CONFLICT ON CONSTRAINT required_field_pkey DO UPDATE SET fields = excluded.fields;
END
$$;
COMMENT ON FUNCTION funnel_internal.require_fields(text, text, text[]) IS
  'funnel internal: the body of funnel.require_fields() on one node (the wrapper adds the Citus coordination)';

CREATE FUNCTION funnel_internal.allow_transition_as(caller oid, pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('allow_transition');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'allow_transition');
    -- a move into another pipeline changes that pipeline too
    IF funnel_internal.transition_target(pipeline, to_stage) IS NOT NULL THEN
        PERFORM funnel_internal.check_pipeline_owner(
            (funnel_internal.transition_target(pipeline, to_stage))[1], caller, 'allow_transition');
    END IF;
    PERFORM funnel_internal.allow_transition(pipeline, from_stage, to_stage);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'allow_transition', pipeline,
            jsonb_build_array(pipeline, from_stage, to_stage));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.allow_transition_as(oid, text, text, text) IS
  'funnel internal: funnel.allow_transition() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.allow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.allow_transition(text, text, text) IS
  'allows a stage move in a pipeline in every tracked table, whatever its rule (e.g. reopening lost deals); a qualified to_stage such as ''retail:lead'' (from_stage ''*'': any stage) allows moving a deal to another pipeline of a table that holds several; retired stages still cannot be entered';

CREATE FUNCTION funnel_internal.disallow_transition_as(caller oid, pipeline text, from_stage text, to_stage text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('disallow_transition');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'disallow_transition');
    PERFORM funnel_internal.disallow_transition(pipeline, from_stage, to_stage);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'disallow_transition', pipeline,
            jsonb_build_array(pipeline, from_stage, to_stage));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.disallow_transition_as(oid, text, text, text) IS
  'funnel internal: funnel.disallow_transition() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.disallow_transition(pipeline text, from_stage text, to_stage text)
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.disallow_transition(text, text, text) IS
  'removes a move added by funnel.allow_transition (moves the rule allows stay allowed)';

CREATE FUNCTION funnel_internal.require_fields_as(caller oid, pipeline text, stage text, fields text[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    citus text := funnel_internal.pipeline_change_begin('require_fields');
BEGIN
    PERFORM funnel_internal.check_pipeline_owner(pipeline, caller, 'require_fields');
    PERFORM funnel_internal.require_fields(pipeline, stage, fields);
    IF citus IS NOT NULL THEN
        PERFORM funnel_internal.pipeline_change_end(citus, 'require_fields', pipeline,
            jsonb_build_array(pipeline, stage, fields));
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.require_fields_as(oid, text, text, text[]) IS
  'funnel internal: funnel.require_fields() for the calling role given by the entry point (owner check, body, Citus coordination)';

CREATE FUNCTION funnel.require_fields(pipeline text, stage text, fields text[])
RETURNS void
AS 'MODULE_PATHNAME', 'funnel_pipeline_entry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.require_fields(text, text, text[]) IS
  'sets the columns that must be non-null when a deal enters the stage or skips past it (NULL or an empty array clears them)';

REVOKE ALL ON FUNCTION funnel.track(regclass, text, name, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.untrack(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.track(regclass, text, name, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.untrack(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.allow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.allow_transition_as(oid, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.disallow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.disallow_transition_as(oid, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.require_fields(text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.require_fields_as(oid, text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.allow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.disallow_transition(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.require_fields(text, text, text[]) FROM PUBLIC;

CREATE FUNCTION funnel_internal.track_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM funnel.tracked_table t
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid = 0 AND d.objid = t.deals::pg_catalog.oid;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_sql_drop() IS
  'funnel internal: forgets the tracking of a dropped deals table (its history table stays)';
CREATE EVENT TRIGGER funnel_track_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.track_sql_drop();
COMMENT ON EVENT TRIGGER funnel_track_sql_drop IS
  'removes funnel.tracked_table rows of dropped tables';

-- A tracked table attached as a partition would lose the history of rows
-- inserted through its parent (a partition's statement triggers do not
-- fire then); a history table attached as a partition would be written
-- past its partition constraint.  Refused here, up front, and again by the
-- triggers (src/track/track_validate.c) where event triggers are bypassed.
CREATE FUNCTION funnel_internal.track_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    -- the tables the command made partitions of the table it altered
    SELECT t.deals, t.history, i.inhrelid = t.deals::pg_catalog.oid AS is_deals INTO bad
      FROM pg_catalog.pg_event_trigger_ddl_commands() c
      JOIN pg_catalog.pg_inherits i ON i.inhparent = c.objid
      JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid AND p.relispartition
      JOIN funnel.tracked_table t
        ON i.inhrelid IN (t.deals::pg_catalog.oid, t.history::pg_catalog.oid)
     WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND c.command_tag = 'ALTER TABLE'
     LIMIT 1;
    IF FOUND THEN
        IF bad.is_deals THEN
            RAISE EXCEPTION 'tracked table % cannot be a partition', bad.deals
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Rows inserted through the partitioned table would not fire its statement triggers, so their history would be lost.',
                      HINT = format('Call funnel.untrack(%L) first.', bad.deals);
        END IF;
        RAISE EXCEPTION 'history table % of tracked table % cannot be a partition', bad.history, bad.deals
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'funnel writes the history directly, past partition routing and partition constraints.',
                  HINT = format('Call funnel.untrack(%L) first.', bad.deals);
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_ddl_end() IS
  'funnel internal: refuses ALTER TABLE ... ATTACH PARTITION of a tracked table or of its history table';
CREATE EVENT TRIGGER funnel_track_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.track_ddl_end();
COMMENT ON EVENT TRIGGER funnel_track_ddl_end IS
  'refuses to make a tracked table or its history table a partition';

CREATE FUNCTION funnel_internal.equality_operator(regtype) RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_equality_operator'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.equality_operator(regtype) IS
  'funnel internal: OPERATOR(schema.=) of the equality operator of a type''s default btree operator class, for dynamic SQL';

CREATE FUNCTION funnel_internal.tracked_sources(deals regclass, history regclass,
                                        key_column name, stage_column name,
                                        OUT deals_from text, OUT history_from text)
    AS 'MODULE_PATHNAME', 'funnel_tracked_sources'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION funnel_internal.tracked_sources(regclass, regclass, name, name) IS
  'funnel internal: locks a tracked table and its history (and their inheritance children), validates them under the lock (ordinary tables of one owner, the expected columns and types, no row-level security applying to the caller) and returns what a query must name to read each (ONLY each relation)';

CREATE FUNCTION funnel_internal.key_text(anyelement) RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_key_text'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.key_text(anyelement) IS
  'funnel internal: a deal key as text through its type''s output function, never through a cast the key type''s owner may have created';

CREATE FUNCTION funnel.check_history(deals regclass)
RETURNS TABLE (deal_id text, problem text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    src record;
    eq text;
BEGIN
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = check_history.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'undefined_object';
    END IF;
    -- both tables locked and validated: the query runs none of the owner's code
    src := funnel_internal.tracked_sources(t.deals, t.history, t.key_column, t.stage_column);
    -- the key type's own = (ltree's and citext's live outside pg_catalog)
    SELECT funnel_internal.equality_operator(a.atttypid) INTO eq
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = t.key_column AND NOT a.attisdropped;
    -- anti-joins, not NOT EXISTS: Citus plans no correlated subquery over a CTE
    RETURN QUERY EXECUTE format($q$
        WITH h AS (
            SELECT h.deal_id, h.stage, h.entered_at, h.left_at,
                   lag(h.left_at) OVER w AS prev_left,
                   row_number() OVER w AS n
              FROM %2$s h
            WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.entered_at, h.left_at NULLS LAST)
        ), open AS (
            SELECT h.deal_id, count(*) AS n, funnel.min(h.stage) AS stage
              FROM h WHERE h.left_at IS NULL GROUP BY h.deal_id
        )
        SELECT funnel_internal.key_text(d.%3$I), 'no open visit'
          FROM %1$s d LEFT JOIN open o ON o.deal_id %5$s d.%3$I WHERE o.deal_id IS NULL
        UNION ALL
        SELECT funnel_internal.key_text(o.deal_id), format('%%s open visits', o.n)
          FROM open o WHERE o.n > 1
        UNION ALL
        SELECT funnel_internal.key_text(o.deal_id), 'open visit of a deal that does not exist'
          FROM open o LEFT JOIN %1$s d ON d.%3$I %5$s o.deal_id WHERE d.%3$I IS NULL
        UNION ALL
        SELECT funnel_internal.key_text(o.deal_id), format('open visit in %%s but the deal is in %%s', o.stage, d.%4$I)
          FROM open o JOIN %1$s d ON d.%3$I %5$s o.deal_id
         WHERE o.n = 1 AND NOT (o.stage OPERATOR(pg_catalog.=) d.%4$I)
        UNION ALL
        SELECT funnel_internal.key_text(h.deal_id), format('visit entered at %%s left at %%s', h.entered_at, h.left_at)
          FROM h WHERE h.left_at OPERATOR(pg_catalog.<) h.entered_at
        UNION ALL
        SELECT funnel_internal.key_text(h.deal_id), format('gap: a visit left at %%s, the next entered at %%s', h.prev_left, h.entered_at)
          FROM h WHERE h.n > 1 AND h.prev_left IS NOT NULL AND h.prev_left OPERATOR(pg_catalog.<>) h.entered_at
        $q$, src.deals_from, src.history_from, t.key_column, t.stage_column, eq);
END
$$;
COMMENT ON FUNCTION funnel.check_history(regclass) IS
  'lists violations of the history invariants of a tracked table (one open visit per live deal, in its current stage; contiguous visits; left_at >= entered_at); no rows when all hold';

-- Who moved a deal: entered_by is the role (it cannot be forged); the
-- application user, which the app says per transaction in funnel.actor, is
-- kept by a history column the app adds with DEFAULT funnel.actor() (funnel
-- evaluates the DEFAULT of every column a user adds to a history table).
CREATE FUNCTION funnel.actor()
RETURNS text
    AS 'MODULE_PATHNAME', 'funnel_actor_get'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel.actor() IS
  'the application user set in funnel.actor (SET LOCAL per transaction), NULL when empty; for the DEFAULT of a history column; refuses (22023) a value over 256 bytes or with control characters';

-- Ask before moving: the triggers' decision for every stage, asked ahead
-- (src/track/track_trigger.c, funnel_next_stages)
CREATE FUNCTION funnel_internal.next_stages(deals regclass, deal record,
    OUT stage funnel.deal_stage, OUT allowed boolean, OUT reason text, OUT missing_fields text[])
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'funnel_next_stages'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION funnel_internal.next_stages(regclass, record) IS
  'funnel internal: body of funnel.next_stages() and funnel.next_stages_for_row(): for every stage of the pipeline of tracked table deals, the decision of its triggers on the row deal (its stage the stage moved from, NULL for an INSERT), with the same C code; needs SELECT on deals';

CREATE FUNCTION funnel_internal.check_tracked_for_next_stages(deals regclass)
RETURNS funnel.tracked_table
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
BEGIN
    IF deals IS NULL THEN
        RAISE EXCEPTION 'deals table must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = check_tracked_for_next_stages.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'undefined_object',
                  HINT = 'Track it with funnel.track().';
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION funnel_internal.check_tracked_for_next_stages(regclass) IS
  'funnel internal: the funnel.tracked_table row of deals, or the 42704 error of a table that is not tracked; for funnel.next_stages()';

CREATE FUNCTION funnel.next_stages_for_row(deals regclass, deal record)
RETURNS TABLE (stage funnel.deal_stage, allowed boolean, reason text, missing_fields text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel_internal.check_tracked_for_next_stages(deals);
    RETURN QUERY SELECT * FROM funnel_internal.next_stages(deals, deal);
END
$$;
COMMENT ON FUNCTION funnel.next_stages_for_row(regclass, record) IS
  'for a row of tracked table deals that need not exist (such as jsonb_populate_record(NULL::deals, form)): one row per stage of the pipeline, allowed iff the tracking triggers would accept the row moved there (its stage the stage moved from; NULL stage: the deal inserted there), reason (allowed, same_stage, retired_stage, transition_not_allowed, required_fields_missing) and the required fields the row leaves empty; needs SELECT on deals';

CREATE FUNCTION funnel.next_stages(deals regclass, deal_key anyelement)
RETURNS TABLE (stage funnel.deal_stage, allowed boolean, reason text, missing_fields text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    key_type text;
    n bigint;
BEGIN
    t := funnel_internal.check_tracked_for_next_stages(deals);
    IF deal_key IS NULL THEN
        RAISE EXCEPTION 'deal key must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For a deal not inserted yet, call funnel.next_stages_for_row().';
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = t.key_column AND NOT a.attisdropped;
    -- read with the caller's privileges and row-level security
    RETURN QUERY EXECUTE format(
        'SELECT n.* FROM %s AS d, funnel_internal.next_stages($1, d) AS n WHERE d.%I = $2::%s',
        deals, t.key_column, key_type)
        USING deals, deal_key;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RAISE EXCEPTION 'deal % not found in table %', deal_key, deals
            USING ERRCODE = 'no_data_found',
                  DETAIL = format('No row of %s with %I = %L is visible to role %s.',
                                  deals, t.key_column, deal_key, current_user),
                  HINT = 'Row-level security of the table applies.';
    END IF;
END
$$;
COMMENT ON FUNCTION funnel.next_stages(regclass, anyelement) IS
  'for the deal of tracked table deals with primary key deal_key, read with the caller''s privileges and row-level security (P0002 when not visible): one row per stage of its pipeline, allowed iff the tracking triggers would accept moving it there now, reason (allowed, same_stage, retired_stage, transition_not_allowed, required_fields_missing) and the required fields still empty';
