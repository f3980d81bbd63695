-- sql/install/live/live_citus.sql: live summaries (sql/install/live/live.sql)
-- of a table hash-distributed by Citus (issue 23 item 5).  The summary
-- table gets a column shard_key of the deal key's type and is distributed
-- co-located with the deals, so each shard's statement triggers append the
-- deltas of its own deals to the co-located summary shard on the same node,
-- in the shard's transaction: a move stays a single-shard transaction and
-- movers still never share a row.  The readers need nothing of this: the
-- aggregates over the summary rows (funnel.funnel(funnel_summary), whose
-- COMBINEFUNC is funnel_internal.funnel_summary_merge, and
-- funnel_internal.live_percentile) run on the workers and merge on the
-- coordinator.  Design: doc/design.md "Live summaries", bullet "Citus".
-- Part of the install script (see sql/install/README.md).

-- Whether a tracked deals table is distributed by Citus (track() accepts
-- only hash-distributed tables, sql/install/track/track.sql)
CREATE FUNCTION funnel_internal.live_distributed(deals regclass)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found boolean;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1 AND p.partmethod = ''h'')'
       INTO found USING deals;
    RETURN found;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_distributed(regclass) IS
  'funnel internal: whether a deals table is hash-distributed by Citus (its live summaries are then distributed with it)';

-- The settings of DDL on the live summaries of a distributed table, for
-- the rest of the transaction, as track() sets them: Citus refuses CREATE
-- and DROP TRIGGER on a distributed table without
-- citus.enable_unsafe_triggers (the live triggers read and write only the
-- co-located shards of the node they run on), and propagates the trigger
-- function over one connection per node only
-- (citus.multi_shard_modify_mode sequential).  Returns the settings to
-- restore with live_citus_ddl_end(), NULL without Citus.
CREATE FUNCTION funnel_internal.live_citus_ddl_begin()
RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    saved text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN NULL;
    END IF;
    saved := ARRAY[current_setting('citus.enable_unsafe_triggers'),
                   current_setting('citus.multi_shard_modify_mode')];
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    RETURN saved;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_citus_ddl_begin() IS
  'funnel internal: with Citus, turns citus.enable_unsafe_triggers on and citus.multi_shard_modify_mode to sequential for the transaction (DDL on live summaries of distributed tables); returns the values to restore, NULL without Citus';

CREATE FUNCTION funnel_internal.live_citus_ddl_end(saved text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF saved IS NOT NULL THEN
        PERFORM set_config('citus.enable_unsafe_triggers', saved[1], true);
        PERFORM set_config('citus.multi_shard_modify_mode', saved[2], true);
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_citus_ddl_end(text[]) IS
  'funnel internal: restores the settings live_citus_ddl_begin() changed';

-- The shards of the history and of the summary table co-located with a
-- shard of the deals table on this node, for its live trigger (the names
-- are those of Citus's shard_name(); the shard is named <table>_<shardid>).
-- Nothing of the trigger's arguments is trusted: the relation it fires on
-- must be a shard of the deals table, the three tables co-located, and both
-- shards on this node (else 55000).  Names are resolved by name, not read
-- from pg_class, where Citus hides shards from some backends.
CREATE FUNCTION funnel_internal.live_citus_shards(shard_schema name, shard_table name,
                                                  deals regclass, history regclass, live regclass,
                                                  OUT history_shard text, OUT live_shard text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shardid bigint := substring(shard_table FROM '_([0-9]{1,18})$')::bigint;
    ds text;
    hs text;
    ls text;
    colocated boolean;
BEGIN
    EXECUTE $q$
SELECT (SELECT n[array_upper(n, 1)] FROM parse_ident(shard_name(pd.logicalrelid, s.shardid)) n),
       (SELECT n[array_upper(n, 1)] FROM parse_ident(shard_name(ph.logicalrelid, h.shardid)) n),
       (SELECT n[array_upper(n, 1)] FROM parse_ident(shard_name(pl.logicalrelid, l.shardid)) n),
       pd.colocationid = ph.colocationid AND pd.colocationid = pl.colocationid
  FROM pg_catalog.pg_dist_partition pd
  JOIN pg_catalog.pg_dist_partition ph ON ph.logicalrelid = $3
  JOIN pg_catalog.pg_dist_partition pl ON pl.logicalrelid = $4
  LEFT JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid = pd.logicalrelid AND s.shardid = $1
  LEFT JOIN pg_catalog.pg_dist_shard h ON h.logicalrelid = ph.logicalrelid
        AND h.shardminvalue = s.shardminvalue AND h.shardmaxvalue = s.shardmaxvalue
  LEFT JOIN pg_catalog.pg_dist_shard l ON l.logicalrelid = pl.logicalrelid
        AND l.shardminvalue = s.shardminvalue AND l.shardmaxvalue = s.shardmaxvalue
 WHERE pd.logicalrelid = $2$q$
       INTO ds, hs, ls, colocated USING shardid, deals, history, live;
    IF ds IS NULL OR ds <> shard_table
       OR shard_schema <> (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE c.oid = deals) THEN
        RAISE EXCEPTION 'table "%.%" is not a shard of table % with live summaries', shard_schema, shard_table, deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The live triggers of a distributed table write only the summary shard of the shard they fire on.',
                  HINT = format('Call funnel.disable_live(%L) and funnel.enable_live() again.', deals::text);
    END IF;
    IF NOT colocated THEN
        RAISE EXCEPTION 'tables %, % and % are not co-located', deals, history, live
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The live summaries of a shard are written beside its deals and their visits.',
                  HINT = format('Call funnel.disable_live(%L) and funnel.enable_live() again.', deals::text);
    END IF;
    history_shard := (SELECT format('%I.%I', n.nspname, hs) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.oid = history);
    live_shard := (SELECT format('%I.%I', n.nspname, ls) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.oid = live);
    IF hs IS NULL OR ls IS NULL OR to_regclass(history_shard) IS NULL OR to_regclass(live_shard) IS NULL THEN
        RAISE EXCEPTION 'the history or live summary shard of shard "%" is not on this node', shard_table
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The shards of %s and %s covering the hash range of "%s" must be placed with it.',
                                  history, live, shard_table),
                  HINT = format('Call funnel.disable_live(%L) and funnel.enable_live() again.', deals::text);
    END IF;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_citus_shards(name, name, regclass, regclass, regclass) IS
  'funnel internal: the co-located history and live summary shards, on this node, of a shard of a distributed deals table with live summaries; 55000 if the relation is not its shard or they are not co-located here';

-- The body of the trigger function of a distributed table: the delta SQL
-- of funnel_internal.live_delta_sql() with placeholders for the history
-- and summary shards, filled in by each shard's trigger.  Only TRUNCATE
-- fires on the distributed table itself (Citus creates no TRUNCATE
-- trigger on a shard); it truncates the distributed summary table.
CREATE FUNCTION funnel_internal.live_citus_trigger_body(deals regclass, live regclass)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    h text := '"funnel_live_history_shard"';
    l text := '"funnel_live_summary_shard"';
    run text := 'EXECUTE replace(replace(%L, %L, s.history_shard), %L, s.live_shard)';
BEGIN
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = live_citus_trigger_body.deals;
    RETURN format($b$-- written by funnel.enable_live(%1$s), a table distributed by Citus: on each shard,
-- appends the live summary deltas of a statement to the co-located shard of %2$s
DECLARE
    s record;
BEGIN
IF TG_RELID = %3$L::regclass THEN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE %2$s;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'a row write reached distributed table %% itself', TG_RELID::regclass
        USING ERRCODE = 'object_not_in_prerequisite_state';
END IF;
s := funnel_internal.live_citus_shards(TG_TABLE_SCHEMA, TG_TABLE_NAME, %3$L, %4$L, %5$L);
IF TG_OP = 'INSERT' THEN
    %6$s;
ELSIF TG_OP = 'UPDATE' THEN
    %7$s;
ELSIF TG_OP = 'DELETE' THEN
    %8$s;
ELSE
    EXECUTE format('TRUNCATE %%s', s.live_shard);
END IF;
RETURN NULL;
END$b$,
                  deals, live, deals::text, t.history::text, live::text,
                  format(run, funnel_internal.live_delta_sql(deals, 'INSERT', h, NULL, l), h, l),
                  format(run, funnel_internal.live_delta_sql(deals, 'UPDATE', h, NULL, l), h, l),
                  format(run, funnel_internal.live_delta_sql(deals, 'DELETE', h, NULL, l), h, l));
END
$$;
COMMENT ON FUNCTION funnel_internal.live_citus_trigger_body(regclass, regclass) IS
  'funnel internal: the body of the live trigger function of a distributed deals table: on each shard, the delta SQL over its co-located history and summary shards';

-- The summary table of a distributed deals table, distributed with it
CREATE FUNCTION funnel_internal.live_citus_distribute(deals regclass, live regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''shard_key'', colocate_with => $2)'
        USING live, deals::text;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_citus_distribute(regclass, regclass) IS
  'funnel internal: distributes the live summary table of a distributed deals table by shard_key, co-located with the deals';

-- The summary of every deal of a distributed table into its summary
-- table (empty): computed on the coordinator over copies of the deals and
-- their history (the delta SQL's joins and window functions are not a
-- query Citus pushes down), one row per key and shard, each row with a
-- key of its shard, then inserted; returns the rows written.
CREATE FUNCTION funnel_internal.live_citus_fill(deals regclass, target text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table := funnel_internal.live_of(deals);
    h regclass := (SELECT tt.history FROM funnel.tracked_table tt WHERE tt.deals = live_citus_fill.deals);
    n bigint;
BEGIN
    EXECUTE format('CREATE TEMPORARY TABLE funnel_live_deals ON COMMIT DROP AS SELECT * FROM %s', deals);
    EXECUTE format('CREATE TEMPORARY TABLE funnel_live_history ON COMMIT DROP AS SELECT * FROM %s', h);
    EXECUTE format('CREATE TEMPORARY TABLE funnel_live_rows (LIKE %s) ON COMMIT DROP', lt.live);
    EXECUTE funnel_internal.live_delta_sql(deals, 'REBUILD', 'pg_temp.funnel_live_history',
                                           'pg_temp.funnel_live_deals', 'pg_temp.funnel_live_rows');
    EXECUTE format('INSERT INTO %s SELECT * FROM pg_temp.funnel_live_rows', coalesce(target, lt.live::text));
    GET DIAGNOSTICS n = ROW_COUNT;
    DROP TABLE pg_temp.funnel_live_deals, pg_temp.funnel_live_history, pg_temp.funnel_live_rows;
    RETURN n;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_citus_fill(regclass, text) IS
  'funnel internal: writes the live summary rows of every deal of a distributed table (computed on the coordinator, one row per key and shard) into its summary table or the given one; returns the rows written';

-- Compaction of a distributed summary table: the statement of
-- funnel.live_compact() on each shard (Citus's run_command_on_shards()),
-- each its own transaction on its node, so concurrent movers on that
-- shard are not blocked; each shard keeps the net of its own deals.
-- statement names the summary table %1$s (Citus's format() puts each
-- shard's name there; any other % is escaped).
CREATE FUNCTION funnel_internal.live_citus_compact(live regclass, statement text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    n bigint := 0;
BEGIN
    FOR r IN EXECUTE 'SELECT shardid, success, result FROM pg_catalog.run_command_on_shards($1, $2)'
               USING live, replace(replace(statement, '%', '%%'), '%%1$s', '%1$s') LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'compaction of shard % of % failed', r.shardid, live
                USING ERRCODE = 'external_routine_exception', DETAIL = r.result;
        END IF;
        n := n + r.result::bigint;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_citus_compact(regclass, text) IS
  'funnel internal: runs the compaction statement of funnel.live_compact() on each shard of a distributed summary table (one transaction per shard); returns the rows left';

REVOKE ALL ON FUNCTION funnel_internal.live_citus_distribute(regclass, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.live_citus_ddl_begin() FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.live_citus_ddl_end(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.live_citus_trigger_body(regclass, regclass) FROM PUBLIC;
