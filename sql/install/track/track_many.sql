-- sql/install/track/track_many.sql: one deals table, many pipelines: funnel.track(deals, pipelines => ARRAY[...])
-- C: src/track/track_trigger.c, src/track/track_rules.c, src/track/track_cache.c (a table of several pipelines), src/track/track_api.c.
-- Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- A deals table whose unbound stage column holds the stages of several
-- pipelines (issue 19.2).  A deal's pipeline is the pipeline of its stage
-- value; each pipeline's allow-list and required fields apply to its own
-- deals, the table's rule to the moves inside each pipeline, and a move to
-- another pipeline only where an allow-list entry names the target
-- qualified (funnel.allow_transition('b2b', 'proposal', 'retail:lead')).
-- One history, its stage column unbound.  On Citus, a table hash-distributed
-- by its key gets a co-located distributed history, and its shards'
-- triggers carry the pipelines in a pipelines= argument
-- (src/citus/track_citus.c).  See doc/tracking.md.
--------------------------------------------------------------------------

CREATE FUNCTION funnel_internal.track_many(
    deals regclass,
    pipelines text[],
    stage_column name,
    changed_at_column name,
    rule text)
RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
    stage_att record;
    pk record;
    pk_column name;
    hist_name text;
    hist regclass;
    p text;
    stray record;
    dist_method text;
    trigger_args text := '';
    saved_triggers text;
BEGIN
    SELECT * INTO rel FROM funnel_internal.track_table(deals);
    IF pipelines IS NULL OR cardinality(pipelines) = 0 OR array_position(pipelines, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'pipelines of table % must be a non-empty array of pipeline names', deals
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass pipelines => ARRAY[''b2b'', ''retail''], or pipeline => ''b2b'' for a table of one pipeline.';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(pipelines) x) <> cardinality(pipelines) THEN
        RAISE EXCEPTION 'pipelines % of table % name a pipeline twice', pipelines, deals
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH p IN ARRAY pipelines LOOP
        PERFORM funnel_internal.pipeline_type(p);
    END LOOP;
    PERFORM funnel_internal.check_rule(rule);

    SELECT a.atttypmod INTO stage_att
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = stage_column
       AND a.attnum > 0 AND NOT a.attisdropped;
    IF FOUND AND stage_att.atttypmod >= 0 THEN
        RAISE EXCEPTION 'stage column "%" of table % is bound to one pipeline', stage_column, deals
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = format('Its type is %s; a table of several pipelines holds their stages in an unbound funnel.deal_stage column.',
                                  (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                                    WHERE a.attrelid = deals AND a.attname = stage_column)),
                  HINT = format('ALTER TABLE %s ALTER COLUMN %I TYPE funnel.deal_stage', deals, stage_column);
    END IF;
    -- on Citus: hash-distributed by the deal key, or a plain local table
    dist_method := funnel_internal.track_citus_method(deals);

    -- the checks of the deals table the triggers make later (the stage
    -- column unbound: no pipeline type)
    pk_column := funnel_internal.check_deals(deals, 0::regtype, stage_column, changed_at_column);
    SELECT * INTO pk FROM funnel_internal.track_key(deals, pk_column);
    FOREACH p IN ARRAY pipelines LOOP
        PERFORM funnel_internal.track_check_required_fields(deals, p);
    END LOOP;

    -- every existing deal in one of the pipelines (read as the table's
    -- owner would: ONLY the table, no code of the owner runs)
    EXECUTE format('SELECT %I AS key, %I::text AS stage FROM %s%s WHERE NOT (funnel.pipeline_of(%I) = ANY ($1)) LIMIT 1',
                   pk.attname, stage_column, CASE WHEN dist_method IS NULL THEN 'ONLY ' ELSE '' END,
                   deals, stage_column)
       INTO stray USING pipelines;
    IF stray.key IS NOT NULL THEN
        RAISE EXCEPTION 'deal % of table % is in stage %, of none of the pipelines %', stray.key, deals, stray.stage, pipelines
            USING ERRCODE = 'check_violation',
                  HINT = 'Add its pipeline to pipelines, or move the deal first.';
    END IF;

    hist_name := funnel_internal.track_history_name(rel.relname);
    IF to_regclass(format('%I.%I', rel.nspname, hist_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%.%" already exists', rel.nspname, hist_name
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Drop or rename it (a history table is kept by funnel.untrack()).';
    END IF;
    IF dist_method = 'h' THEN
        -- Citus: as funnel_internal.track() (sql/install/track/track.sql)
        saved_triggers := pg_catalog.current_setting('citus.enable_unsafe_triggers');
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
    hist := funnel_internal.track_create_history(rel.nspname, hist_name,
                funnel_internal.history_columns(pk.typ || pk.coll),
                format('funnel: stage history of %s, pipelines %s (one row per visit; left_at NULL while the deal is there); written by funnel''s triggers',
                       deals, array_to_string(pipelines, ', ')));
    IF dist_method = 'h' THEN
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', hist);
        EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''deal_id'', colocate_with => $2)'
            USING hist, deals::text;
        -- the shards' triggers carry their tracking (src/citus/track_citus.c):
        -- the pipelines as one pair, the text form of a one-dimensional
        -- text[] (array_out() quotes a name holding a comma, a quote, a
        -- brace or a space; read by ParsePipelines(), src/track/track_cache.c)
        trigger_args := format('%L, %L, %L, %L, %L, %L, %L', 'citus',
                               'deals=' || deals::text, 'history=' || hist::text,
                               'pipelines=' || ARRAY(SELECT unnest(pipelines))::text,
                               'stage_column=' || stage_column,
                               'rule=' || rule, 'key_column=' || pk.attname)
                        || CASE WHEN changed_at_column IS NULL THEN ''
                                ELSE format(', %L', 'changed_at_column=' || changed_at_column) END;
    END IF;
    PERFORM funnel_internal.track_backfill(hist, deals, pk.attname, stage_column, NULL,
                                           changed_at_column, dist_method IS NOT NULL, rel.owner);

    INSERT INTO funnel.tracked_table (deals, pipeline, pipelines, stage_column, changed_at_column, rule, history, key_column)
    VALUES (deals, NULL, pipelines, stage_column, changed_at_column, rule, hist, pk.attname);
    -- an unbound column: the BEFORE trigger resolves bare names
    PERFORM funnel_internal.track_create_triggers(deals, stage_column, pk.attname, false, trigger_args);
    IF dist_method = 'h' THEN
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', saved_triggers, true);
    END IF;
    RETURN hist;
END
$$;
COMMENT ON FUNCTION funnel_internal.track_many(regclass, text[], name, name, text) IS
  'funnel internal: body of funnel.track(deals, pipelines => ...), run as the extension owner after the entry point checked that the caller owns the table';
REVOKE ALL ON FUNCTION funnel_internal.track_many(regclass, text[], name, name, text) FROM PUBLIC;

CREATE FUNCTION funnel.track(
    deals regclass,
    pipelines text[],
    stage_column name DEFAULT 'stage',
    changed_at_column name DEFAULT NULL,
    rule text DEFAULT 'forward')
RETURNS regclass
    AS 'MODULE_PATHNAME', 'funnel_track_many'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.track(regclass, text[], name, name, text) IS
  'tracks a deals table the caller owns whose unbound stage column holds the deals of several pipelines: each deal follows the rule within its pipeline and its pipeline''s allow-list and required fields; a move to another pipeline only where funnel.allow_transition(pipeline, from, ''other:stage'') allows it; one history; returns the history table';
REVOKE ALL ON FUNCTION funnel.track(regclass, text[], name, name, text) FROM PUBLIC;
