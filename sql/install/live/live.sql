-- sql/install/live/live.sql: live summaries of a tracked table (issue 23):
-- append-only delta rows written in the mover's transaction by statement
-- triggers, read by live_report() and the other live_* readers, merged by
-- live_compact(), rebuilt from the history by live_rebuild(), compared with
-- it by live_check().  Design: doc/design.md "Live summaries"; C: src/live/live.c.
-- Part of the install script (see sql/install/README.md).

CREATE FUNCTION funnel_internal.live_summary_minus(plus funnel.funnel_summary, minus funnel.funnel_summary)
RETURNS funnel.funnel_summary
    AS 'MODULE_PATHNAME', 'live_summary_minus'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.live_summary_minus(funnel.funnel_summary, funnel.funnel_summary) IS
  'funnel internal: plus - minus entry by entry (the net of live delta rows); NULL when no deal is left; error XX001 if a counter would go below zero';

CREATE FUNCTION funnel_internal.live_runs_trans(internal, bigint[], bigint[], float8)
RETURNS internal
    AS 'MODULE_PATHNAME', 'live_runs_trans'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.live_runs_trans(internal, bigint[], bigint[], float8) IS
  'funnel internal: transition of live_percentile: collects the sorted runs of durations added and removed';
CREATE FUNCTION funnel_internal.live_runs_final(internal)
RETURNS interval
    AS 'MODULE_PATHNAME', 'live_runs_final'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.live_runs_final(internal) IS
  'funnel internal: final of live_percentile: percentile_cont over the net durations by binary searches per run';
CREATE FUNCTION funnel_internal.live_runs_combine(internal, internal)
RETURNS internal
    AS 'MODULE_PATHNAME', 'live_runs_combine'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.live_runs_combine(internal, internal) IS
  'funnel internal: combine function of live_percentile: the runs of both states (parallel plans; Citus merges the workers'' runs on the coordinator)';
CREATE FUNCTION funnel_internal.live_runs_serialize(internal)
RETURNS bytea
    AS 'MODULE_PATHNAME', 'live_runs_serialize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.live_runs_serialize(internal) IS
  'funnel internal: serial function of live_percentile: the fraction and the runs';
CREATE FUNCTION funnel_internal.live_runs_deserialize(bytea, internal)
RETURNS internal
    AS 'MODULE_PATHNAME', 'live_runs_deserialize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.live_runs_deserialize(bytea, internal) IS
  'funnel internal: deserial function of live_percentile; 22P03 for a malformed state';
CREATE AGGREGATE funnel_internal.live_percentile(added bigint[], removed bigint[], fraction float8) (
    SFUNC = funnel_internal.live_runs_trans,
    STYPE = internal,
    FINALFUNC = funnel_internal.live_runs_final,
    COMBINEFUNC = funnel_internal.live_runs_combine,
    SERIALFUNC = funnel_internal.live_runs_serialize,
    DESERIALFUNC = funnel_internal.live_runs_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE funnel_internal.live_percentile(bigint[], bigint[], float8) IS
  'funnel internal: the exact percentile (as funnel.time_in_stage_percentile) of the durations of the added runs minus those of the removed runs, all sorted microseconds';

CREATE TABLE funnel.live_table (
    deals         regclass PRIMARY KEY,
    live          regclass NOT NULL,
    dimensions    name[] NOT NULL,
    amount_column name,
    -- text, not regprocedure: pg_upgrade refuses regprocedure columns
    -- (function OIDs are not kept); the schema-qualified signature
    delta_function text NOT NULL,
    enabled_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE funnel.live_table IS
  'funnel: one row per tracked deals table with live summaries (funnel.enable_live()): its summary table, dimension columns, amount column and the trigger function that appends the deltas';
SELECT pg_catalog.pg_extension_config_dump('funnel.live_table', '');
GRANT SELECT ON funnel.live_table TO PUBLIC;

-- The SQL of the deltas of one statement: the changed deals (c: deal_id,
-- in_old, in_new, moved = a visit was inserted, closing = a visit was
-- closed, old_stage, amounts, key_changed, o<i>/n<i> the old and new value
-- of dimension i), their visits now (v), each deal's journey after and
-- before the statement (j), and per key the summary added and removed and
-- the sorted runs of durations added and removed.  op is INSERT, UPDATE,
-- DELETE (transition tables funnel_live_old/new) or REBUILD (every deal).
-- history, source and target name other relations than the history, the
-- deals table (REBUILD) and the summary table (sql/install/live/live_citus.sql:
-- a shard's, or copies).  On a distributed table every row gets a shard_key,
-- a key of its deals, so it is stored with them; REBUILD groups by their
-- shard too.
CREATE FUNCTION funnel_internal.live_delta_sql(deals regclass, op text,
                                               history text DEFAULT NULL, source text DEFAULT NULL,
                                               target text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    lt record;
    eq text;
    key_type regtype;
    i int;
    n int;
    o_cols text := '';
    n_cols text := '';
    changed text := 'false';
    c_sql text;
    amount_o text;
    amount_n text;
    dims_new text := '';
    dims_old text := '';
    dims_plain text := '';
    nulls_ins text := '';
    -- a table of several pipelines: one journey per deal and pipeline it
    -- visited, keyed by the pipeline too (column pipeline)
    multi boolean;
    citus boolean;
    shard_col text := '';
    shard_val text := '';
    shard_grp text := '';
    pl_v text := '';
    j_sql text;
    pl_join text := '';
BEGIN
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = live_delta_sql.deals;
    multi := t.pipelines IS NOT NULL;
    IF multi THEN
        pl_v := ', funnel.pipeline_of(h.stage) AS pl';
        pl_join := ' AND jc.pl = v2.pl';
        dims_new := ', jc.pl AS pl';
        dims_old := ', jc.pl';
        dims_plain := ', pipeline';
    END IF;
    SELECT * INTO lt FROM funnel.live_table l WHERE l.deals = live_delta_sql.deals;
    history := coalesce(history, t.history::text);
    source := coalesce(source, 'ONLY ' || deals::text);
    target := coalesce(target, lt.live::text);
    citus := funnel_internal.live_distributed(deals);
    IF citus THEN
        shard_col := ', shard_key';
        shard_val := ', (array_agg(k))[1]';
        IF op = 'REBUILD' THEN
            shard_grp := format(', pg_catalog.get_shard_id_for_distribution_column(%L::regclass, k)', deals);
        END IF;
    END IF;
    SELECT a.atttypid::regtype INTO key_type FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = t.key_column AND NOT a.attisdropped;
    eq := funnel_internal.equality_operator(key_type);
    n := coalesce(array_length(lt.dimensions, 1), 0);
    FOR i IN 1 .. n LOOP
        o_cols := o_cols || format(', o.%I AS o%s', lt.dimensions[i], i);
        n_cols := n_cols || format(', n.%I AS n%s', lt.dimensions[i], i);
        changed := changed || format(' OR o.%1$I::text IS DISTINCT FROM n.%1$I::text', lt.dimensions[i]);
        dims_new := dims_new || format(', jc.n%s AS d%s', i, i);
        dims_old := dims_old || format(', jc.o%s', i);
        dims_plain := dims_plain || format(', %I', lt.dimensions[i]);
    END LOOP;
    amount_o := CASE WHEN lt.amount_column IS NULL THEN 'NULL::numeric'
                     ELSE format('o.%I::numeric', lt.amount_column) END;
    amount_n := CASE WHEN lt.amount_column IS NULL THEN 'NULL::numeric'
                     ELSE format('n.%I::numeric', lt.amount_column) END;

    IF op = 'UPDATE' THEN
        c_sql := format('SELECT n.%1$I AS deal_id, true AS in_old, true AS in_new,
                    (o.%2$I::funnel.deal_stage IS DISTINCT FROM n.%2$I::funnel.deal_stage) AS moved,
                    (o.%2$I::funnel.deal_stage IS DISTINCT FROM n.%2$I::funnel.deal_stage) AS closing,
                    o.%2$I::funnel.deal_stage AS old_stage,
                    %3$s AS old_amount, %4$s AS new_amount, (%5$s) AS key_changed%6$s%7$s
               FROM funnel_live_old o JOIN funnel_live_new n ON o.%1$I %8$s n.%1$I
              WHERE o.%2$I::funnel.deal_stage IS DISTINCT FROM n.%2$I::funnel.deal_stage
                 OR %3$s IS DISTINCT FROM %4$s OR %5$s',
                 t.key_column, t.stage_column, amount_o, amount_n, changed,
                 o_cols, n_cols, eq);
    ELSIF op = 'DELETE' THEN
        c_sql := format('SELECT o.%1$I AS deal_id, true AS in_old, false AS in_new,
                    false AS moved, true AS closing, o.%2$I::funnel.deal_stage AS old_stage,
                    %3$s AS old_amount, NULL::numeric AS new_amount, false AS key_changed%4$s%5$s
               FROM funnel_live_old o',
                 t.key_column, t.stage_column, amount_o, o_cols,
                 replace(o_cols, ' AS o', ' AS n'));
    ELSIF op IN ('INSERT', 'REBUILD') THEN
        c_sql := format('SELECT n.%1$I AS deal_id, false AS in_old, true AS in_new,
                    false AS moved, false AS closing, NULL::funnel.deal_stage AS old_stage,
                    NULL::numeric AS old_amount, %3$s AS new_amount, false AS key_changed%4$s%5$s
               FROM %6$s n',
                 t.key_column, t.stage_column, amount_n,
                 replace(n_cols, ' AS n', ' AS o'), n_cols,
                 CASE WHEN op = 'INSERT' THEN 'funnel_live_new' ELSE source END);
    ELSE
        RAISE EXCEPTION 'unknown live delta operation "%"', op USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF multi THEN
        j_sql := format('SELECT v2.deal_id, p.pl,
           funnel.journey(v2.stage, v2.entered_at, v2.left_at, p.pl) AS new_j,
           funnel.journey(v2.stage, v2.entered_at, CASE WHEN v2.closed_now THEN NULL ELSE v2.left_at END, p.pl)
               FILTER (WHERE NOT v2.ins) AS old_j
      FROM v2 JOIN (SELECT DISTINCT deal_id, pl FROM v2) p ON p.deal_id %s v2.deal_id
     GROUP BY v2.deal_id, p.pl', eq);
    ELSE
        j_sql := 'SELECT v2.deal_id, funnel.journey(v2.stage, v2.entered_at) AS new_j,
           funnel.journey(v2.stage, v2.entered_at) FILTER (WHERE NOT v2.ins) AS old_j
      FROM v2 GROUP BY v2.deal_id';
    END IF;

    RETURN format($q$
WITH c AS (%1$s),
v AS (
    SELECT c.deal_id, h.stage, h.entered_at, h.left_at%9$s,
           (c.moved AND h.left_at IS NULL) AS ins,
           (c.closing AND h.left_at IS NOT NULL AND h.stage = c.old_stage AND
            h.left_at = CASE WHEN c.in_new
                             THEN max(h.entered_at) FILTER (WHERE h.left_at IS NULL) OVER w
                             ELSE greatest(now(), h.entered_at) END) AS cand
      FROM c JOIN %2$s h ON h.deal_id %3$s c.deal_id
    WINDOW w AS (PARTITION BY c.deal_id)
),
v2 AS (
    SELECT v.*, (v.cand AND row_number() OVER (PARTITION BY v.deal_id, v.cand ORDER BY v.entered_at DESC) = 1) AS closed_now
      FROM v
),
j AS (%10$s),
jc AS (
    SELECT c.*%12$s, j.new_j, j.old_j, d.new_day, d.old_day,
           (c.key_changed OR d.new_day IS DISTINCT FROM d.old_day) AS moved_key
      FROM c JOIN j ON j.deal_id %3$s c.deal_id,
           LATERAL (SELECT (funnel.started_at(j.new_j) AT TIME ZONE 'UTC')::date AS new_day,
                           (funnel.started_at(j.old_j) AT TIME ZONE 'UTC')::date AS old_day) d
),
items AS (
    SELECT jc.new_day AS day%4$s, NULL::funnel.deal_stage AS stage, 1 AS sign,
           jc.new_j AS jr, jc.new_amount AS amount, NULL::bigint AS dur, jc.deal_id AS k
      FROM jc WHERE jc.in_new
    UNION ALL
    SELECT jc.old_day%5$s, NULL, -1, jc.old_j, jc.old_amount, NULL, jc.deal_id
      FROM jc WHERE jc.in_old AND jc.old_j IS NOT NULL
    UNION ALL
    SELECT jc.new_day%4$s, v2.stage, 1, NULL, NULL,
           ((extract(epoch FROM v2.left_at) - extract(epoch FROM v2.entered_at)) * 1000000)::bigint,
           jc.deal_id
      FROM v2 JOIN jc ON jc.deal_id %3$s v2.deal_id%11$s
     WHERE jc.in_new AND v2.left_at IS NOT NULL
       AND (v2.closed_now OR jc.moved_key OR NOT jc.in_old)
    UNION ALL
    SELECT jc.old_day%5$s, v2.stage, -1, NULL, NULL,
           ((extract(epoch FROM v2.left_at) - extract(epoch FROM v2.entered_at)) * 1000000)::bigint,
           jc.deal_id
      FROM v2 JOIN jc ON jc.deal_id %3$s v2.deal_id%11$s
     WHERE jc.in_old AND jc.old_j IS NOT NULL AND v2.left_at IS NOT NULL AND NOT v2.closed_now
       AND (jc.moved_key OR NOT jc.in_new)
)
INSERT INTO %6$s (day%7$s, stage, plus, minus, plus_runs, minus_runs%13$s)
SELECT day%8$s, stage,
       funnel.funnel(jr, amount) FILTER (WHERE sign > 0 AND jr IS NOT NULL),
       funnel.funnel(jr, amount) FILTER (WHERE sign < 0 AND jr IS NOT NULL),
       array_agg(dur ORDER BY dur) FILTER (WHERE sign > 0 AND dur IS NOT NULL),
       array_agg(dur ORDER BY dur) FILTER (WHERE sign < 0 AND dur IS NOT NULL)%14$s
  FROM items
 GROUP BY day%8$s, stage%15$s
$q$, c_sql, history, eq, dims_new, dims_old, target, dims_plain,
      CASE WHEN multi THEN ', pl' ELSE '' END
      || (SELECT coalesce(string_agg(format(', d%s', k), ''), '') FROM generate_series(1, n) k),
      pl_v, j_sql, pl_join, CASE WHEN multi THEN ', j.pl' ELSE '' END,
      shard_col, shard_val, shard_grp);
END
$$;
COMMENT ON FUNCTION funnel_internal.live_delta_sql(regclass, text, text, text, text) IS
  'funnel internal: the INSERT of the live delta rows of one statement (INSERT, UPDATE, DELETE: transition tables funnel_live_old/funnel_live_new) or of every deal (REBUILD), from and into the given relations (default: the history, the deals table, the summary table)';

-- Whether a deals table holds several pipelines: its live summaries are
-- then kept per pipeline too (column pipeline, filter key "pipeline")
CREATE FUNCTION funnel_internal.live_multi(deals regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT tt.pipelines IS NOT NULL FROM funnel.tracked_table tt WHERE tt.deals = live_multi.deals), false)
$$;
COMMENT ON FUNCTION funnel_internal.live_multi(regclass) IS
  'funnel internal: whether a tracked deals table holds several pipelines (its live summaries have a pipeline column)';

-- The WHERE clause of a reader: entry days from..to and dimension values
-- ($1 from, $2 to, $3 the filter, as jsonb: {"owner": "alice"})
CREATE FUNCTION funnel_internal.live_where(deals regclass, filter jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dims name[];
    k text;
    w text := '($1 IS NULL OR day >= $1) AND ($2 IS NULL OR day <= $2)';
BEGIN
    SELECT l.dimensions INTO dims FROM funnel.live_table l WHERE l.deals = live_where.deals;
    IF funnel_internal.live_multi(deals) THEN
        dims := dims || 'pipeline'::name;
    END IF;
    IF filter IS NULL THEN
        RETURN w;
    END IF;
    IF jsonb_typeof(filter) <> 'object' THEN
        RAISE EXCEPTION 'dimension filter must be a JSON object, not %', filter
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass {"column": value, ...} naming dimension columns of funnel.enable_live().';
    END IF;
    FOR k IN SELECT jsonb_object_keys(filter) LOOP
        IF NOT k = ANY (dims) THEN
            RAISE EXCEPTION 'column "%" is not a dimension of the live summaries of %', k, deals
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Dimensions: %s.', CASE WHEN cardinality(dims) = 0 THEN 'none'
                                                          ELSE array_to_string(dims, ', ') END),
                      HINT = 'Call funnel.enable_live() again with that column to filter by it.';
        END IF;
        IF jsonb_typeof(filter -> k) = 'null' THEN
            w := w || format(' AND %I IS NULL', k);
        ELSE
            w := w || format(' AND %I::text = ($3 ->> %L)', k, k);
        END IF;
    END LOOP;
    RETURN w;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_where(regclass, jsonb) IS
  'funnel internal: the WHERE clause of a live reader for a range of entry days ($1, $2) and a dimension filter ($3); 22023 naming a key that is not a dimension';

-- The live table of a deals table, or the 55000 error saying how to enable it
CREATE FUNCTION funnel_internal.live_of(deals regclass)
RETURNS funnel.live_table
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table;
BEGIN
    IF deals IS NULL THEN
        RAISE EXCEPTION 'the deals table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO lt FROM funnel.live_table l WHERE l.deals = live_of.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % has no live summaries', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call funnel.enable_live() on it first.';
    END IF;
    RETURN lt;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_of(regclass) IS
  'funnel internal: the funnel.live_table row of a deals table; 55000 if it has no live summaries';

-- The body of the trigger function of a deals table's live summaries, from
-- its funnel.live_table and funnel.tracked_table rows and the names its
-- tables and columns have now (funnel_internal.live_ddl_end() writes it
-- again after a rename)
CREATE FUNCTION funnel_internal.live_function_body(deals regclass)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    live regclass;
BEGIN
    SELECT l.live INTO live FROM funnel.live_table l WHERE l.deals = live_function_body.deals;
    -- a distributed table's shards fill in their own shards' names
    -- (sql/install/live/live_citus.sql)
    IF funnel_internal.live_distributed(deals) THEN
        RETURN funnel_internal.live_citus_trigger_body(deals, live);
    END IF;
    RETURN format(E'-- written by funnel.enable_live(%s): appends the live summary deltas of a statement\nBEGIN\n'
                  'IF TG_OP = ''INSERT'' THEN %s;\nELSIF TG_OP = ''UPDATE'' THEN %s;\n'
                  'ELSIF TG_OP = ''DELETE'' THEN %s;\nELSE TRUNCATE %s;\nEND IF;\nRETURN NULL;\nEND',
                  deals, funnel_internal.live_delta_sql(deals, 'INSERT'),
                  funnel_internal.live_delta_sql(deals, 'UPDATE'),
                  funnel_internal.live_delta_sql(deals, 'DELETE'), live);
END
$$;
COMMENT ON FUNCTION funnel_internal.live_function_body(regclass) IS
  'funnel internal: the body of the generated trigger function that appends the live summary deltas of each statement on a deals table';

-- A dimension is grouped by its type's default equality (the type cache's:
-- varchar's is text's, an enum's anyenum's, a domain's its base type's);
-- 42883 naming the column and type when there is none (enable_live() and
-- the ALTER TABLE event trigger, sql/install/live/live_ops.sql)
CREATE FUNCTION funnel_internal.live_check_dimension_type(d name, typ oid, type_name text, hint text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM funnel_internal.equality_operator(typ);
EXCEPTION WHEN undefined_function THEN
    RAISE EXCEPTION 'column "%" of type % cannot be a dimension', d, type_name
        USING ERRCODE = 'undefined_function',
              DETAIL = 'Its type has no default equality operator to group by.',
              HINT = hint;
END
$$;
COMMENT ON FUNCTION funnel_internal.live_check_dimension_type(name, oid, text, text) IS
  'funnel internal: refuses (42883) a dimension column whose type has no default equality operator';

CREATE FUNCTION funnel_internal.enable_live(deals regclass, dimensions name[], amount_column name)
RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    rel record;
    d name;
    att record;
    cols text := '';
    live_name text;
    live regclass;
    fn text;
    -- a table distributed by Citus: its summaries are distributed with it
    -- (sql/install/live/live_citus.sql)
    citus boolean := funnel_internal.live_distributed(deals);
    saved text[];
BEGIN
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = enable_live.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call funnel.track() first: live summaries are kept from its history.';
    END IF;
    IF EXISTS (SELECT 1 FROM funnel.live_table l WHERE l.deals = enable_live.deals) THEN
        RAISE EXCEPTION 'table % already has live summaries', deals
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Call funnel.disable_live() first to change its dimensions.';
    END IF;
    SELECT c.relname, n.nspname, c.relowner::regrole AS owner INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = deals;

    dimensions := coalesce(dimensions, '{}');
    IF array_position(dimensions, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'dimension names must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH d IN ARRAY dimensions LOOP
        IF d IN ('day', 'stage', 'plus', 'minus', 'plus_runs', 'minus_runs') OR (citus AND d = 'shard_key') THEN
            RAISE EXCEPTION 'dimension "%" has the name of a column of the live summary table', d
                USING ERRCODE = 'duplicate_column',
                      HINT = 'Rename the column of the deals table, or leave it out.';
        END IF;
        IF array_position(dimensions, d) <> array_position(dimensions, d, array_position(dimensions, d) + 1) THEN
            RAISE EXCEPTION 'dimension "%" is named twice', d USING ERRCODE = 'duplicate_column';
        END IF;
        SELECT format_type(a.atttypid, a.atttypmod) AS typ, a.atttypid INTO att
          FROM pg_attribute a
         WHERE a.attrelid = deals AND a.attname = d AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', d, deals
                USING ERRCODE = 'undefined_column',
                      HINT = 'Name columns of the deals table as dimensions.';
        END IF;
        IF d = 'pipeline' AND t.pipelines IS NOT NULL THEN
            RAISE EXCEPTION 'column "pipeline" cannot be a dimension of table %, which holds several pipelines', deals
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Its live summaries are kept per pipeline in a column of that name.';
        END IF;
        IF d IN (t.stage_column, t.key_column) THEN
            RAISE EXCEPTION 'column "%" cannot be a dimension', d
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'The stage and the key of a deal are not dimensions.';
        END IF;
        PERFORM funnel_internal.live_check_dimension_type(
            d, att.atttypid, att.typ, 'Give the type a default btree or hash operator class, or leave the column out.');
        cols := cols || format('%I %s, ', d, att.typ);
    END LOOP;
    IF t.pipelines IS NOT NULL THEN
        cols := 'pipeline text, ' || cols;
    END IF;
    IF citus THEN
        -- a key of the deals of each row: the row lives on their shard
        cols := cols || (SELECT format('shard_key %s, ', format_type(a.atttypid, a.atttypmod))
                           FROM pg_attribute a
                          WHERE a.attrelid = deals AND a.attname = t.key_column AND NOT a.attisdropped);
    END IF;
    IF amount_column IS NOT NULL THEN
        SELECT a.atttypid::regtype AS typ INTO att FROM pg_attribute a
         WHERE a.attrelid = deals AND a.attname = amount_column AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', amount_column, deals
                USING ERRCODE = 'undefined_column';
        END IF;
        IF att.typ NOT IN ('numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
            RAISE EXCEPTION 'amount column "%" is of type %, not a number', amount_column, att.typ
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Use a numeric, smallint, integer or bigint column.';
        END IF;
    END IF;

    live_name := rel.relname || '_stage_live';
    IF octet_length(live_name) > 63 THEN
        RAISE EXCEPTION 'live summary table name "%" is too long', live_name
            USING ERRCODE = 'name_too_long', HINT = 'Rename the table to at most 52 bytes.';
    END IF;
    IF to_regclass(format('%I.%I', rel.nspname, live_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%.%" already exists', rel.nspname, live_name
            USING ERRCODE = 'duplicate_table', HINT = 'Drop or rename it.';
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (day date, %sstage funnel.deal_stage, plus funnel.funnel_summary, minus funnel.funnel_summary, plus_runs bigint[], minus_runs bigint[])',
                   rel.nspname, live_name, cols);
    live := format('%I.%I', rel.nspname, live_name)::regclass;
    IF citus THEN
        -- one connection per node: Citus propagates the trigger function,
        -- which it refuses after a parallel operation; unsafe triggers on
        -- for the live triggers (sql/install/live/live_citus.sql)
        saved := funnel_internal.live_citus_ddl_begin();
        PERFORM funnel_internal.live_citus_distribute(deals, live);
    END IF;
    EXECUTE format('COMMENT ON TABLE %s IS %L', live,
                   format('funnel: live summaries of %s: append-only delta rows per entry day (UTC) and dimension values, written by its triggers; read with funnel.live_report()', deals));

    -- the trigger function, beside the history and owned like it
    IF to_regprocedure(format('%I.%I()', rel.nspname, live_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'function "%.%()" already exists', rel.nspname, live_name
            USING ERRCODE = 'duplicate_function', HINT = 'Drop or rename it.';
    END IF;
    INSERT INTO funnel.live_table (deals, live, dimensions, amount_column, delta_function)
    VALUES (deals, live, dimensions, amount_column, format('%I.%I()', rel.nspname, live_name));
    EXECUTE format($f$CREATE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS %L$f$, rel.nspname, live_name,
        funnel_internal.live_function_body(deals));
    fn := format('%I.%I()', rel.nspname, live_name);
    EXECUTE format('COMMENT ON FUNCTION %s IS %L', fn,
                   format('funnel: appends the live summary deltas of each statement on %s (written by funnel.enable_live())', deals));
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);

    -- the summary of the deals there are now
    IF citus THEN
        PERFORM funnel_internal.live_citus_fill(deals);
    ELSE
        EXECUTE funnel_internal.live_delta_sql(deals, 'REBUILD');
    END IF;

    EXECUTE format('ALTER TABLE %s OWNER TO %I', live, rel.owner);
    EXECUTE format('ALTER FUNCTION %s OWNER TO %I', fn, rel.owner);

    -- after funnel's own triggers of the same kind (triggers fire by name)
    EXECUTE format('CREATE TRIGGER funnel_track_live_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS funnel_live_new FOR EACH STATEMENT EXECUTE FUNCTION %s',
                   deals, fn);
    -- the common move in C (sql/install/live/live_write.sql), which falls
    -- back to fn for any other statement; on the shards of a distributed
    -- table, fn (the C trigger knows no shard)
    EXECUTE format('CREATE TRIGGER funnel_track_live_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS funnel_live_old NEW TABLE AS funnel_live_new FOR EACH STATEMENT EXECUTE FUNCTION %s',
                   deals, CASE WHEN citus THEN fn ELSE 'funnel_internal.live_update_trigger()' END);
    EXECUTE format('CREATE TRIGGER funnel_track_live_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS funnel_live_old FOR EACH STATEMENT EXECUTE FUNCTION %s',
                   deals, fn);
    EXECUTE format('CREATE TRIGGER funnel_track_live_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s',
                   deals, fn);
    PERFORM funnel_internal.live_citus_ddl_end(saved);
    RETURN live;
END
$$;
COMMENT ON FUNCTION funnel_internal.enable_live(regclass, name[], name) IS
  'funnel internal: body of funnel.enable_live(), run as the extension owner after funnel.enable_live() checked that the caller owns the table';

CREATE FUNCTION funnel.enable_live(deals regclass, dimensions name[] DEFAULT '{}', amount_column name DEFAULT NULL)
RETURNS regclass
    AS 'MODULE_PATHNAME', 'funnel_enable_live'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.enable_live(regclass, name[], name) IS
  'keeps live summaries of a tracked deals table the caller owns, per entry day and dimension values, in <table>_stage_live (created, filled from the history and kept by statement triggers in each mover''s transaction); returns that table';

CREATE FUNCTION funnel_internal.disable_live(deals regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table := funnel_internal.live_of(deals);
    saved text[] := funnel_internal.live_citus_ddl_begin();
BEGIN
    -- first: funnel_live_sql_drop (sql/install/live/live_ops.sql) drops the rest
    -- of the live summaries of a row still there when one part is dropped
    DELETE FROM funnel.live_table l WHERE l.deals = disable_live.deals;
    EXECUTE format('DROP TRIGGER IF EXISTS funnel_track_live_insert ON %s', deals);
    EXECUTE format('DROP TRIGGER IF EXISTS funnel_track_live_update ON %s', deals);
    EXECUTE format('DROP TRIGGER IF EXISTS funnel_track_live_delete ON %s', deals);
    EXECUTE format('DROP TRIGGER IF EXISTS funnel_track_live_truncate ON %s', deals);
    EXECUTE format('DROP FUNCTION IF EXISTS %s', lt.delta_function);
    EXECUTE format('DROP TABLE IF EXISTS %s', lt.live);
    PERFORM funnel_internal.live_citus_ddl_end(saved);
END
$$;
COMMENT ON FUNCTION funnel_internal.disable_live(regclass) IS
  'funnel internal: body of funnel.disable_live(), run as the extension owner after funnel.disable_live() checked that the caller owns the table';

CREATE FUNCTION funnel.disable_live(deals regclass)
RETURNS void
    AS 'MODULE_PATHNAME', 'funnel_disable_live'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.disable_live(regclass) IS
  'stops the live summaries of a deals table the caller owns: drops its triggers, trigger function and <table>_stage_live';

-- ---- readers -------------------------------------------------------------

CREATE FUNCTION funnel.live_summary(deals regclass, "from" date DEFAULT NULL, "to" date DEFAULT NULL,
                                    filter jsonb DEFAULT NULL)
RETURNS funnel.funnel_summary
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table := funnel_internal.live_of(deals);
    s funnel.funnel_summary;
BEGIN
    IF funnel_internal.live_multi(deals) AND (filter IS NULL OR jsonb_typeof(filter) <> 'object'
                                              OR NOT filter ? 'pipeline') THEN
        RAISE EXCEPTION 'the live summaries of % hold several pipelines', deals
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A funnel summary counts the stages of one pipeline.',
                  HINT = format('Name one in the filter, as in {"pipeline": "%s"}.',
                                (SELECT tt.pipelines[1] FROM funnel.tracked_table tt WHERE tt.deals = live_summary.deals));
    END IF;
    IF funnel_internal.live_distributed(deals) THEN
        -- Citus (sql/install/live/live_citus.sql): each shard merges its
        -- rows per shard_key as the caller, the coordinator merges those
        -- (funnel.funnel(funnel_summary): funnel_summary_merge) and
        -- subtracts once; MATERIALIZED: a subplan of its own, else Citus
        -- would split the outer aggregate with its worker_partial_agg(),
        -- which calls the support functions PUBLIC may not execute
        EXECUTE format('WITH w AS MATERIALIZED (SELECT shard_key, funnel.funnel(plus) AS plus, funnel.funnel(minus) AS minus
                                                   FROM %s WHERE stage IS NULL AND %s GROUP BY shard_key)
                        SELECT funnel_internal.live_summary_minus(funnel.funnel(plus), funnel.funnel(minus)) FROM w',
                       lt.live, funnel_internal.live_where(deals, filter))
           INTO s USING "from", "to", filter;
        RETURN s;
    END IF;
    EXECUTE format('SELECT funnel_internal.live_summary_minus(funnel.funnel(plus), funnel.funnel(minus)) FROM %s WHERE stage IS NULL AND %s',
                   lt.live, funnel_internal.live_where(deals, filter))
       INTO s USING "from", "to", filter;
    RETURN s;
END
$$;
COMMENT ON FUNCTION funnel.live_summary(regclass, date, date, jsonb) IS
  'the funnel summary (funnel.funnel(journey, amount)) of the deals of a table with live summaries that entered the funnel (first visit, UTC day) from..to and match the dimension filter ({"column": value}), read from the summary table; NULL if none';

CREATE FUNCTION funnel.live_report(deals regclass, "from" date DEFAULT NULL, "to" date DEFAULT NULL,
                                   filter jsonb DEFAULT NULL)
    -- the columns of funnel.report() (sql/install/aggregates/agg_report.sql)
    RETURNS TABLE (stage funnel.deal_stage, deals bigint, amount numeric,
                   conversion_from_previous funnel.rate,
                   conversion_from_first funnel.rate, drop_off bigint,
                   won bigint, lost bigint, open bigint,
                   lost_here bigint, open_here bigint, win_rate funnel.rate,
                   bar text,
                   "position" integer, kind text, average_amount numeric,
                   open_amount numeric, moved bigint, moved_here bigint)
LANGUAGE sql STABLE
AS $$
    SELECT r.* FROM funnel.report(funnel.live_summary(deals, "from", "to", filter)) r
$$;
COMMENT ON FUNCTION funnel.live_report(regclass, date, date, jsonb) IS
  'funnel.report() of the live summary of a deals table (funnel.live_summary()): the same rows as report(funnel(journey, amount)) over its history and deals, read from the summary table';

CREATE FUNCTION funnel.live_win_rate(deals regclass, "from" date DEFAULT NULL, "to" date DEFAULT NULL,
                                     filter jsonb DEFAULT NULL)
RETURNS numeric
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN sum(r.won + r.lost) > 0
                THEN trim_scale(sum(r.won)::numeric / sum(r.won + r.lost)) END
      FROM funnel.live_report(deals, "from", "to", filter) r
     WHERE r.lost_here IS NULL
$$;
COMMENT ON FUNCTION funnel.live_win_rate(regclass, date, date, jsonb) IS
  'won / (won + lost) over the current stages of the deals of funnel.live_summary(), as funnel.win_rate(current stage); NULL if none is closed';

CREATE FUNCTION funnel.live_time_in_stage_percentile(deals regclass, fraction float8,
                                                     "from" date DEFAULT NULL, "to" date DEFAULT NULL,
                                                     filter jsonb DEFAULT NULL)
RETURNS TABLE (stage funnel.deal_stage, closed_visits bigint, percentile interval)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table := funnel_internal.live_of(deals);
BEGIN
    IF fraction IS NULL THEN
        RAISE EXCEPTION 'percentile fraction must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Citus: the shards filter, the coordinator searches the runs (a
    -- MATERIALIZED subplan, as in funnel.live_summary())
    RETURN QUERY EXECUTE format(
        '%sSELECT stage, sum(coalesce(cardinality(plus_runs), 0) - coalesce(cardinality(minus_runs), 0))::bigint,
                funnel_internal.live_percentile(plus_runs, minus_runs, $4)
           FROM %s
          GROUP BY stage
         HAVING sum(coalesce(cardinality(plus_runs), 0) - coalesce(cardinality(minus_runs), 0)) > 0
          ORDER BY stage',
        CASE WHEN funnel_internal.live_distributed(deals)
             THEN format('WITH w AS MATERIALIZED (SELECT stage, plus_runs, minus_runs FROM %s WHERE stage IS NOT NULL AND %s) ',
                         lt.live, funnel_internal.live_where(deals, filter)) ELSE '' END,
        CASE WHEN funnel_internal.live_distributed(deals) THEN 'w'
             ELSE format('%s WHERE stage IS NOT NULL AND %s', lt.live, funnel_internal.live_where(deals, filter)) END)
        USING "from", "to", filter, fraction;
END
$$;
COMMENT ON FUNCTION funnel.live_time_in_stage_percentile(regclass, float8, date, date, jsonb) IS
  'per stage, the closed visits and funnel.time_in_stage_percentile(entered_at, left_at, fraction) over the visits of the deals of funnel.live_summary(), read from sorted runs of durations by binary searches';

CREATE FUNCTION funnel.live_median_time_in_stage(deals regclass, "from" date DEFAULT NULL, "to" date DEFAULT NULL,
                                                 filter jsonb DEFAULT NULL)
RETURNS TABLE (stage funnel.deal_stage, closed_visits bigint, median interval)
LANGUAGE sql STABLE
AS $$
    SELECT * FROM funnel.live_time_in_stage_percentile(deals, 0.5, "from", "to", filter)
$$;
COMMENT ON FUNCTION funnel.live_median_time_in_stage(regclass, date, date, jsonb) IS
  'per stage, the closed visits and funnel.median_time_in_stage(entered_at, left_at) over the visits of the deals of funnel.live_summary()';

-- ---- maintenance ---------------------------------------------------------

CREATE FUNCTION funnel.live_compact(deals regclass)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table := funnel_internal.live_of(deals);
    dims text := '';
    d name;
    n bigint;
    citus boolean := funnel_internal.live_distributed(deals);
    stmt text;
BEGIN
    FOREACH d IN ARRAY lt.dimensions LOOP
        dims := dims || format('%I, ', d);
    END LOOP;
    IF funnel_internal.live_multi(deals) THEN
        dims := 'pipeline, ' || dims;
    END IF;
    -- rows appended meanwhile are not in the snapshot and stay; a second
    -- compaction waits for the first and skips the rows it deleted; a
    -- distributed table is compacted shard by shard (each row keeps a key
    -- of the shard's deals, sql/install/live/live_citus.sql)
    stmt := format($q$
WITH d AS (DELETE FROM %1$s RETURNING *),
s AS (SELECT day, %2$s NULL::funnel.deal_stage AS stage,
             funnel_internal.live_summary_minus(funnel.funnel(plus), funnel.funnel(minus)) AS plus,
             NULL::bigint[] AS plus_runs
        FROM d WHERE stage IS NULL GROUP BY day, %2$s stage),
p AS (SELECT day, %2$s stage, unnest(plus_runs) AS v FROM d WHERE stage IS NOT NULL),
m AS (SELECT day, %2$s stage, unnest(minus_runs) AS v FROM d WHERE stage IS NOT NULL),
r AS (SELECT day, %2$s stage, NULL::funnel.funnel_summary AS plus, array_agg(v ORDER BY v) AS plus_runs
        FROM (SELECT * FROM p EXCEPT ALL SELECT * FROM m) net
       GROUP BY day, %2$s stage),
ins AS (INSERT INTO %1$s (day, %2$s stage, plus, plus_runs%3$s)
        SELECT *%4$s FROM (SELECT * FROM s WHERE plus IS NOT NULL UNION ALL SELECT * FROM r) net RETURNING 1)
SELECT count(*) FROM ins$q$, CASE WHEN citus THEN '%1$s' ELSE lt.live::text END, dims,
                  CASE WHEN citus THEN ', shard_key' ELSE '' END,
                  CASE WHEN citus THEN ', (SELECT d.shard_key FROM d LIMIT 1)' ELSE '' END);
    IF citus THEN
        RETURN funnel_internal.live_citus_compact(lt.live, stmt);
    END IF;
    EXECUTE stmt INTO n;
    RETURN n;
END
$$;
COMMENT ON FUNCTION funnel.live_compact(regclass) IS
  'merges the delta rows of the live summaries of a deals table into one row per entry day, dimension values (and stage, for the durations); returns the rows left; concurrent movers are not blocked';

CREATE FUNCTION funnel.live_rebuild(deals regclass)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table := funnel_internal.live_of(deals);
    n bigint;
BEGIN
    -- no move while the summary is rebuilt from the history
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', deals);
    EXECUTE format('DELETE FROM %s', lt.live);
    IF funnel_internal.live_distributed(deals) THEN
        RETURN funnel_internal.live_citus_fill(deals);
    END IF;
    EXECUTE funnel_internal.live_delta_sql(deals, 'REBUILD');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION funnel.live_rebuild(regclass) IS
  'rebuilds the live summaries of a deals table from its history and its deals (under a SHARE lock: moves wait); returns the rows written';

CREATE FUNCTION funnel.live_check(deals regclass)
RETURNS TABLE (side text, day date, dimension_values text, stage funnel.deal_stage, value text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lt funnel.live_table := funnel_internal.live_of(deals);
    dims text := '';
    dimrow text := 'NULL::text';
    d name;
    live text := lt.live::text;
BEGIN
    FOREACH d IN ARRAY lt.dimensions LOOP
        dims := dims || format('%I, ', d);
    END LOOP;
    IF funnel_internal.live_multi(deals) THEN
        dims := 'pipeline, ' || dims;
    END IF;
    IF dims <> '' THEN
        dimrow := format('ROW(%s)::text', rtrim(dims, ', '));
    END IF;
    -- what a rebuild would write, into a temporary table shaped like the live one
    EXECUTE format('CREATE TEMPORARY TABLE funnel_live_check_truth (LIKE %s) ON COMMIT DROP', lt.live);
    IF funnel_internal.live_distributed(deals) THEN
        -- computed on the coordinator (sql/install/live/live_citus.sql),
        -- compared with a copy of the distributed summary rows
        PERFORM funnel_internal.live_citus_fill(deals, 'pg_temp.funnel_live_check_truth');
        EXECUTE format('CREATE TEMPORARY TABLE funnel_live_check_live ON COMMIT DROP AS SELECT * FROM %s', lt.live);
        live := 'pg_temp.funnel_live_check_live';
    ELSE
        EXECUTE funnel_internal.live_delta_sql(deals, 'REBUILD', target => 'pg_temp.funnel_live_check_truth');
    END IF;
    RETURN QUERY EXECUTE format($q$
WITH ls AS (SELECT day, %1$s %3$s AS dv,
                   funnel_internal.live_summary_minus(funnel.funnel(plus), funnel.funnel(minus)) AS s
              FROM %2$s WHERE stage IS NULL GROUP BY day, %1$s dv),
hs AS (SELECT day, %1$s %3$s AS dv, funnel.funnel(plus) AS s
         FROM pg_temp.funnel_live_check_truth WHERE stage IS NULL GROUP BY day, %1$s dv),
lr AS (SELECT ls.day, ls.dv, r.stage, ROW(r.deals, trim_scale(r.amount), r.won, r.lost, r.open, r.lost_here, r.open_here,
                                                 trim_scale(r.average_amount), trim_scale(r.open_amount), r.moved, r.moved_here)::text AS value
         FROM ls, funnel.report(ls.s) r),
hr AS (SELECT hs.day, hs.dv, r.stage, ROW(r.deals, trim_scale(r.amount), r.won, r.lost, r.open, r.lost_here, r.open_here,
                                                 trim_scale(r.average_amount), trim_scale(r.open_amount), r.moved, r.moved_here)::text AS value
         FROM hs, funnel.report(hs.s) r),
ld AS (SELECT day, %3$s AS dv, stage, unnest(plus_runs)::text AS value FROM %2$s WHERE stage IS NOT NULL
       EXCEPT ALL
       SELECT day, %3$s, stage, unnest(minus_runs)::text FROM %2$s WHERE stage IS NOT NULL),
hd AS (SELECT day, %3$s AS dv, stage, unnest(plus_runs)::text AS value FROM pg_temp.funnel_live_check_truth WHERE stage IS NOT NULL)
(SELECT 'summary only', * FROM (SELECT * FROM lr EXCEPT ALL SELECT * FROM hr) a
 UNION ALL
 SELECT 'history only', * FROM (SELECT * FROM hr EXCEPT ALL SELECT * FROM lr) b
 UNION ALL
 SELECT 'summary only', * FROM (SELECT * FROM ld EXCEPT ALL SELECT * FROM hd) c
 UNION ALL
 SELECT 'history only', * FROM (SELECT * FROM hd EXCEPT ALL SELECT * FROM ld) e)
ORDER BY 2, 3, 4, 1, 5$q$, dims, live, dimrow);
    DROP TABLE pg_temp.funnel_live_check_truth;
    DROP TABLE IF EXISTS pg_temp.funnel_live_check_live;
END
$$;
COMMENT ON FUNCTION funnel.live_check(regclass) IS
  'compares the live summaries of a deals table with its history and deals: one row per report value or duration found on one side only (summary only, history only); no rows when they agree';

-- as track(): an administrator grants these to the owners of deals tables
REVOKE ALL ON FUNCTION funnel.enable_live(regclass, name[], name) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel.disable_live(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.enable_live(regclass, name[], name) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.live_check_dimension_type(name, oid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION funnel_internal.disable_live(regclass) FROM PUBLIC;
