-- sql/install/analysis/bi_views.sql: ready-made views of a tracked table for BI tools
-- C: none (SQL only; the stage dimension's key is src/pipeline/stage_dimension.c).
-- Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- BI views (issue 21.5)
--
-- funnel.create_views(deals) creates, as the caller and owned by the
-- caller, four views over a tracked table and its history that a BI tool
-- (Metabase, Superset, Grafana) lists as tables: the current pipeline by
-- stage, the conversion report, time in stage and the weekly trend, each
-- optionally per group of deal columns (owner, product, region).  The
-- views are security_invoker: whoever queries them needs SELECT on the
-- deals table and its history, as for querying them directly; nothing
-- runs with the privileges of the role that created them.  Every name in
-- a view's query is schema-qualified when it is stored, so a dump and
-- restore (search_path = '') recreates them unchanged.  See README.md
-- "BI tools".
--------------------------------------------------------------------------

CREATE FUNCTION funnel.create_views(deals regclass,
                                    schema name DEFAULT NULL,
                                    prefix text DEFAULT NULL,
                                    group_by name[] DEFAULT '{}',
                                    amount_column name DEFAULT NULL,
                                    replace boolean DEFAULT false)
RETURNS SETOF regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    nsp name;
    pre text;
    amount_col name;
    g text := '';          -- the group columns, each followed by ', '
    dg text := '';         -- the same, qualified by d.
    hg text := '';         -- the same, qualified by g.
    col name;
    seen name[] := '{}';
    kind text;
    names text[] := ARRAY['pipeline', 'conversion', 'time_in_stage', 'trend'];
    reserved text[] := ARRAY['stage', 'position', 'kind', 'deals', 'amount', 'weighted_amount',
                             'summary', 'journey', 'deal_id'];
    v text;
    create_cmd text;
    eq text;
    keytype oid;
    journeys text;
    body text;
BEGIN
    IF deals IS NULL THEN
        RAISE EXCEPTION 'deals must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the tracked table, e.g. funnel.create_views(''crm.deals'').';
    END IF;
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = create_views.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Track it with funnel.track(); the views read its stage history.';
    END IF;
    nsp := coalesce(schema, (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE c.oid = deals));
    IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = nsp) THEN
        RAISE EXCEPTION 'schema "%" does not exist', nsp
            USING ERRCODE = 'invalid_schema_name';
    END IF;
    pre := coalesce(prefix, (SELECT c.relname::text FROM pg_class c WHERE c.oid = deals) || '_');
    IF octet_length(pre) + octet_length('time_in_stage') > 63 THEN
        RAISE EXCEPTION 'prefix "%" is too long', pre
            USING ERRCODE = 'name_too_long',
                  DETAIL = 'The longest view name, the prefix followed by time_in_stage, must fit in 63 bytes.',
                  HINT = 'Pass a shorter prefix.';
    END IF;

    -- the amount column: given, or the table's numeric column "amount"
    IF amount_column IS NOT NULL THEN
        SELECT format_type(a.atttypid, NULL) INTO kind
          FROM pg_attribute a
         WHERE a.attrelid = deals AND a.attname = amount_column AND a.attnum > 0 AND NOT a.attisdropped;
        IF kind IS NULL THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', amount_column, deals
                USING ERRCODE = 'undefined_column',
                      HINT = 'amount_column names the deals'' amount column.';
        END IF;
        IF NOT EXISTS (SELECT FROM pg_attribute a
                        WHERE a.attrelid = deals AND a.attname = amount_column
                          AND (a.atttypid = 'numeric'::regtype OR
                               pg_catalog.format_type(a.atttypid, NULL) IN ('integer', 'bigint', 'smallint',
                                                                           'real', 'double precision', 'money')
                               OR EXISTS (SELECT FROM pg_type ty WHERE ty.oid = a.atttypid
                                           AND ty.typtype = 'd' AND ty.typbasetype = 'numeric'::regtype))) THEN
            RAISE EXCEPTION 'amount column "%" of table % is of type %, not a number', amount_column, deals, kind
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'The amount column must be numeric, an integer, a float or a domain over numeric.';
        END IF;
        amount_col := amount_column;
    ELSE
        amount_col := funnel_internal.amount_column(deals);
    END IF;

    -- the group columns: columns of the deals table, not named as a view column
    IF group_by IS NOT NULL THEN
        FOREACH col IN ARRAY group_by LOOP
            IF col IS NULL OR NOT EXISTS (SELECT FROM pg_attribute a
                                           WHERE a.attrelid = deals AND a.attname = col
                                             AND a.attnum > 0 AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'column "%" of table % does not exist', col, deals
                    USING ERRCODE = 'undefined_column',
                          HINT = 'group_by names columns of the deals table, e.g. ARRAY[''owner''].';
            END IF;
            IF col = ANY (reserved) OR col = ANY (seen) THEN
                RAISE EXCEPTION 'group column "%" clashes with a column of the views', col
                    USING ERRCODE = 'duplicate_column',
                          DETAIL = pg_catalog.format('The views have columns %s, and each group column once.',
                                                     pg_catalog.array_to_string(reserved, ', ')),
                          HINT = 'Group by a view over the table that renames the column.';
            END IF;
            seen := seen || col;
            g := g || format('%I, ', col);
            dg := dg || format('d.%I, ', col);
            hg := hg || format('g.%I, ', col);
        END LOOP;
    END IF;

    -- refuse before creating anything: nothing half-made
    IF NOT replace THEN
        FOREACH v IN ARRAY names LOOP
            IF EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = nsp AND c.relname = pre || v) THEN
                RAISE EXCEPTION 'relation "%" already exists', format('%I.%I', nsp, pre || v)
                    USING ERRCODE = 'duplicate_table',
                          HINT = 'Pass replace => true to replace the views, or another prefix or schema.';
            END IF;
        END LOOP;
    END IF;
    create_cmd := CASE WHEN replace THEN 'CREATE OR REPLACE VIEW' ELSE 'CREATE VIEW' END;

    SELECT a.atttypid INTO keytype FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = t.key_column AND NOT a.attisdropped;
    eq := funnel_internal.equality_operator(keytype);
    IF t.pipelines IS NULL THEN
        journeys := format($q$(SELECT h.deal_id, funnel.journey(h.stage, h.entered_at) AS journey
                                 FROM %s h GROUP BY h.deal_id) j
                         JOIN %s d ON d.%I %s j.deal_id$q$,
                           t.history, t.deals, t.key_column, eq);
    ELSE
        -- a table of several pipelines: a journey per deal and pipeline it
        -- visited (ending "moved" where it left for another), one report
        -- per pipeline
        journeys := format($q$(SELECT h.deal_id, p.pipeline,
                                      funnel.journey(h.stage, h.entered_at, h.left_at, p.pipeline) AS journey
                                 FROM %s h
                                 JOIN (SELECT DISTINCT v.deal_id, funnel.pipeline_of(v.stage) AS pipeline
                                         FROM %s v) p ON p.deal_id %s h.deal_id
                                GROUP BY h.deal_id, p.pipeline) j
                         JOIN %s d ON d.%I %s j.deal_id$q$,
                           t.history, t.history, eq, t.deals, t.key_column, eq);
    END IF;

    -- the current pipeline by stage
    v := format('%I.%I', nsp, pre || 'pipeline');
    EXECUTE format($q$%s %s WITH (security_invoker = true) AS
        SELECT %s d.%I AS stage, funnel.position(d.%I) AS position, funnel.kind(d.%I) AS kind,
               count(*) AS deals, %s AS amount,
               %s AS weighted_amount
          FROM %s d
         GROUP BY %s d.%I$q$,
        create_cmd, v, dg, t.stage_column, t.stage_column, t.stage_column,
        CASE WHEN amount_col IS NULL THEN 'NULL::numeric' ELSE format('sum(d.%I)::numeric', amount_col) END,
        CASE WHEN amount_col IS NULL THEN 'NULL::numeric'
             ELSE format('sum(d.%I::numeric * funnel.probability(d.%I)::numeric)', amount_col, t.stage_column) END,
        t.deals, dg, t.stage_column);
    EXECUTE format('COMMENT ON VIEW %s IS %L', v,
        format('funnel: the deals of %s in each stage now%s, with their amount and weighted amount (amount x the stage''s probability)',
               t.deals, CASE WHEN g = '' THEN '' ELSE ' per ' || rtrim(g, ', ') END));
    RETURN NEXT v::regclass;

    -- the conversion report, from the journeys of the history; the rates
    -- cast from funnel.rate to its base type numeric(7,6), which catalog
    -- readers (SQLAlchemy, JDBC getColumns) report with its typmod
    v := format('%I.%I', nsp, pre || 'conversion');
    EXECUTE format($q$%s %s WITH (security_invoker = true) AS
        SELECT %s r.stage, r.position, r.kind, r.deals, r.amount, r.average_amount, r.open_amount,
               r.conversion_from_previous::numeric(7,6) AS conversion_from_previous,
               r.conversion_from_first::numeric(7,6) AS conversion_from_first, r.drop_off,
               r.won, r.lost, r.open, r.lost_here, r.open_here, r.win_rate::numeric(7,6) AS win_rate,
               r.moved, r.moved_here
          FROM (SELECT %s funnel.funnel(j.journey%s) AS summary
                  FROM %s
                 %s) g
         CROSS JOIN LATERAL funnel.report(g.summary) r$q$,
        create_cmd, v, hg, dg,
        CASE WHEN amount_col IS NULL THEN '' ELSE format(', d.%I::numeric', amount_col) END,
        journeys,
        CASE WHEN g = '' AND t.pipelines IS NULL THEN ''
             ELSE 'GROUP BY ' || rtrim(dg || CASE WHEN t.pipelines IS NULL THEN '' ELSE 'j.pipeline, ' END, ', ') END);
    EXECUTE format('COMMENT ON VIEW %s IS %L', v,
        format('funnel: funnel.report() of the journeys in the history of %s%s: one row per stage with position, kind, deals, amounts, conversions, win rate and the deals moved to another pipeline',
               t.deals, CASE WHEN g = '' AND t.pipelines IS NULL THEN ''
                             ELSE ' per ' || rtrim(g || CASE WHEN t.pipelines IS NULL THEN '' ELSE 'pipeline, ' END, ', ') END));
    RETURN NEXT v::regclass;

    -- time in stage, from the visits of the history
    v := format('%I.%I', nsp, pre || 'time_in_stage');
    EXECUTE format($q$%s %s WITH (security_invoker = true) AS
        SELECT %s h.stage, funnel.position(h.stage) AS position, funnel.kind(h.stage) AS kind,
               count(*) AS visits, count(h.left_at) AS left_visits,
               round(funnel.median_time_in_stage_days(h.entered_at, h.left_at), 2)::numeric(12,2) AS median_days,
               round(funnel.avg_time_in_stage_days(h.entered_at, h.left_at), 2)::numeric(12,2) AS avg_days,
               round(funnel.time_in_stage_percentile_days(h.entered_at, h.left_at, 0.9), 2)::numeric(12,2) AS p90_days
          FROM %s h
          %s
         GROUP BY %s h.stage$q$,
        create_cmd, v, dg, t.history,
        CASE WHEN g = '' THEN '' ELSE format('JOIN %s d ON d.%I %s h.deal_id', t.deals, t.key_column, eq) END,
        dg);
    EXECUTE format('COMMENT ON VIEW %s IS %L', v,
        format('funnel: per stage%s of the history of %s, the visits, those that left the stage, and the median, average and 90th percentile of the days spent in it (left visits only, 2 decimals)',
               CASE WHEN g = '' THEN '' ELSE ' and ' || rtrim(g, ', ') END, t.deals));
    RETURN NEXT v::regclass;

    -- the weekly trend of the last 52 weeks (instants: Mondays 00:00)
    v := format('%I.%I', nsp, pre || 'trend');
    EXECUTE format($q$%s %s WITH (security_invoker = true) AS
        SELECT t.instant, t.stage, funnel.position(t.stage) AS position, funnel.kind(t.stage) AS kind,
               t.deals, t.amount, t.weighted_amount
          FROM funnel.pipeline_trend(%L::regclass,
                   ARRAY(SELECT generate_series(date_trunc('week', now()) - interval '52 weeks',
                                                date_trunc('week', now()), interval '1 week')),
                   %s) t$q$,
        create_cmd, v, t.history,
        CASE WHEN amount_col IS NULL THEN 'NULL' ELSE format('%L::regclass, %L', t.deals, amount_col) END);
    EXECUTE format('COMMENT ON VIEW %s IS %L', v,
        format('funnel: the pipeline of %s at the start of each of the last 52 weeks and this one: per instant and stage the deals open there, their current amount and weighted amount (funnel.pipeline_trend)',
               t.deals));
    RETURN NEXT v::regclass;
END
$$;
COMMENT ON FUNCTION funnel.create_views(regclass, name, text, name[], name, boolean) IS
  'creates, owned by the caller, the views <prefix>pipeline, <prefix>conversion, <prefix>time_in_stage and <prefix>trend over a tracked table and its history for BI tools (prefix: the table''s name and _; schema: the table''s), optionally per group_by columns; security_invoker views; 42P07 if one exists unless replace; returns the views';
