-- sql/install/analysis/pipeline_as_of.sql: the pipeline at past instants and stale deals
-- C: src/analysis/pipeline_as_of.c, src/analysis/history_read.c, src/analysis/history_query.c.  Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- The pipeline at past instants and stale deals (issue 10.2, 10.3)
--
-- pipeline_as_of() and pipeline_trend() read a stage history in one
-- sequential scan (C, src/analysis/pipeline_as_of.c, after the checks of
-- src/analysis/history_read.c), or, for a view or another layout named by the
-- *_column arguments, the rows of a query run as the caller
-- (src/analysis/history_query.c); stale_deals() composes SQL over the history of a
-- tracked table, or over the rows funnel_internal.history_visits() reads
-- from any history as pipeline_as_of() does (issue 21.2).  All run with the caller's privileges (SECURITY INVOKER).
-- A visit is open at instant t when entered_at <= t < left_at (left_at NULL:
-- still open).  See doc/metrics.md.
--------------------------------------------------------------------------

CREATE FUNCTION funnel.pipeline_as_of(history regclass, as_of timestamptz,
                                      deal_column name DEFAULT 'deal_id',
                                      stage_column name DEFAULT 'stage',
                                      entered_at_column name DEFAULT 'entered_at',
                                      left_at_column name DEFAULT 'left_at')
    RETURNS TABLE (deal_id text, stage funnel.deal_stage, entered_at timestamptz)
    AS 'MODULE_PATHNAME', 'funnel_pipeline_as_of'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION funnel.pipeline_as_of(regclass, timestamptz, name, name, name, name) IS
  'the visit of each deal open at as_of (entered_at <= as_of < left_at) in a stage history, won and lost deals included; deal_id as text; one scan of the history; any table, view or materialized view whose columns are named by the *_column arguments (stage as funnel.deal_stage or text, times as timestamptz, timestamp or date), read by a query as the caller unless it has the layout of funnel.track()''s histories';

CREATE FUNCTION funnel.pipeline_trend(history regclass, instants timestamptz[],
                                      deals_table regclass DEFAULT NULL,
                                      amount_column name DEFAULT NULL,
                                      deal_column name DEFAULT 'deal_id',
                                      stage_column name DEFAULT 'stage',
                                      entered_at_column name DEFAULT 'entered_at',
                                      left_at_column name DEFAULT 'left_at')
    RETURNS TABLE (instant timestamptz, stage funnel.deal_stage, deals bigint,
                   amount numeric, weighted_amount numeric)
    AS 'MODULE_PATHNAME', 'funnel_pipeline_trend'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION funnel.pipeline_trend(regclass, timestamptz[], regclass, name, name, name, name, name) IS
  'per instant (sorted, distinct, NULLs ignored) and stage of the history''s pipeline, in funnel order: the deals whose visit was open there, and with deals_table their current amount total and amount x current probability (amount from the numeric column amount_column, by default amount); one scan of the history, which may be any table, view or materialized view with its columns named by the *_column arguments, as for pipeline_as_of()';

CREATE FUNCTION funnel_internal.amount_column(deals regclass) RETURNS name
    AS 'MODULE_PATHNAME', 'funnel_amount_column'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION funnel_internal.amount_column(regclass) IS
  'funnel internal: the amount column of a deals table (a column named amount of type numeric or a domain over numeric), or NULL';

CREATE FUNCTION funnel_internal.history_visits(history regclass, as_of timestamptz,
                                               with_closed boolean, deals regclass,
                                               amount_column name, deal_column name,
                                               stage_column name, entered_at_column name,
                                               left_at_column name)
    RETURNS TABLE (deal_id text, stage funnel.deal_stage, entered_at timestamptz,
                   left_at timestamptz, amount numeric)
    AS 'MODULE_PATHNAME', 'funnel_history_visits'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION funnel_internal.history_visits(regclass, timestamptz, boolean, regclass, name, name, name, name, name) IS
  'funnel internal: the visits of any history (read as by pipeline_as_of(), columns named by the *_column arguments), with as_of only those open at as_of and, with with_closed, those closed by as_of; deal_id as text; with deals, the deal''s current amount (amount_column, by default amount)';

-- deals may be omitted when history is given (issue 21.2): then the visits
-- come from history (any table, view or materialized view, its columns
-- named by the *_column arguments), read by history_visits() as the caller
CREATE FUNCTION funnel.stale_deals(deals regclass DEFAULT NULL,
                                   as_of timestamptz DEFAULT pg_catalog.now(),
                                   percentile double precision DEFAULT NULL,
                                   amount_column name DEFAULT NULL,
                                   history regclass DEFAULT NULL,
                                   deal_column name DEFAULT 'deal_id',
                                   stage_column name DEFAULT 'stage',
                                   entered_at_column name DEFAULT 'entered_at',
                                   left_at_column name DEFAULT 'left_at')
RETURNS TABLE (deal_id text, stage funnel.deal_stage, entered_at timestamptz,
               days_in_stage numeric, threshold interval, amount numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t funnel.tracked_table;
    src record;
    pk name;
    amount_col name;
    amount_type text;
    amount_ok boolean;
    eq text;
BEGIN
    IF (deals IS NULL AND history IS NULL) OR as_of IS NULL THEN
        RETURN;
    END IF;
    IF percentile IS NOT NULL AND (percentile = 'NaN'::float8 OR percentile < 0 OR percentile > 1) THEN
        RAISE EXCEPTION 'percentile % is not between 0 and 1', percentile
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a fraction, such as 0.9 for the 90th percentile of the time deals spent in the stage.';
    END IF;
    IF history IS NOT NULL THEN
        -- any history (issue 21.2): read once, as the caller, by C that
        -- quotes every mapped name; deals (optional) only gives amounts
        RETURN QUERY
        WITH h AS MATERIALIZED (
            SELECT * FROM funnel_internal.history_visits(stale_deals.history, stale_deals.as_of,
                              stale_deals.percentile IS NOT NULL, stale_deals.deals,
                              stale_deals.amount_column, stale_deals.deal_column,
                              stale_deals.stage_column, stale_deals.entered_at_column,
                              stale_deals.left_at_column)
        ), open_visits AS (
            SELECT h.deal_id, h.stage, h.entered_at, h.amount
              FROM h
             WHERE h.entered_at <= stale_deals.as_of
               AND (h.left_at IS NULL OR h.left_at > stale_deals.as_of)
               AND funnel.kind(h.stage) = 'open'
        ), learned AS (
            SELECT h.stage, funnel.time_in_stage_percentile(h.entered_at, h.left_at, stale_deals.percentile) AS p
              FROM h
             WHERE stale_deals.percentile IS NOT NULL AND h.left_at <= stale_deals.as_of
             GROUP BY h.stage
        )
        SELECT v.deal_id, v.stage, v.entered_at,
               round(EXTRACT(epoch FROM stale_deals.as_of - v.entered_at) / 86400, 2),
               x.threshold, v.amount
          FROM open_visits v
          LEFT JOIN learned l ON l.stage OPERATOR(pg_catalog.=) v.stage
         CROSS JOIN LATERAL (SELECT coalesce(funnel.stale_after(v.stage), l.p) AS threshold) x
         WHERE stale_deals.as_of - v.entered_at > x.threshold
         ORDER BY v.stage, v.entered_at, v.deal_id;
        RETURN;
    END IF;
    SELECT * INTO t FROM funnel.tracked_table tt WHERE tt.deals = stale_deals.deals;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Track it with funnel.track(); stale deals are found from its stage history.';
    END IF;
    SELECT a.attname INTO pk
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indrelid = deals AND i.indisprimary;
    IF pk IS NULL THEN
        RAISE EXCEPTION 'tracked table % has no primary key', deals
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The stage history refers to deals by their primary key; add it back.';
    END IF;
    -- both tables locked and validated: the query runs none of the owner's code
    src := funnel_internal.tracked_sources(t.deals, t.history, pk, t.stage_column);
    IF amount_column IS NULL THEN
        amount_col := funnel_internal.amount_column(deals);
    ELSE
        -- named (issue 21.2): checked under the lock tracked_sources() took,
        -- an error rather than NULL amounts when it is missing or not numeric
        SELECT pg_catalog.format_type(a.atttypid, NULL),
               ty.typbasetype IS NOT DISTINCT FROM 'pg_catalog.numeric'::pg_catalog.regtype
               OR a.atttypid = 'pg_catalog.numeric'::pg_catalog.regtype
          INTO amount_type, amount_ok
          FROM pg_attribute a LEFT JOIN pg_type ty ON ty.oid = a.atttypid AND ty.typtype = 'd'
         WHERE a.attrelid = deals AND a.attname = amount_column AND a.attnum > 0 AND NOT a.attisdropped;
        IF amount_type IS NULL THEN
            RAISE EXCEPTION 'column "%" of tracked table % does not exist', amount_column, deals
                USING ERRCODE = 'undefined_column',
                      HINT = 'amount_column names the deals'' amount column.';
        ELSIF NOT amount_ok THEN
            RAISE EXCEPTION 'amount column "%" of tracked table % is of type %, not numeric', amount_column, deals, amount_type
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Amounts are numeric (or a domain over numeric).';
        END IF;
        amount_col := amount_column;
    END IF;
    SELECT funnel_internal.equality_operator(a.atttypid) INTO eq
      FROM pg_attribute a
     WHERE a.attrelid = deals AND a.attname = pk AND NOT a.attisdropped;
    RETURN QUERY EXECUTE format($q$
        WITH open_visits AS (
            SELECT h.deal_id, h.stage, h.entered_at
              FROM %2$s h
             WHERE h.entered_at <= $1 AND (h.left_at IS NULL OR h.left_at > $1)
               AND funnel.kind(h.stage) = 'open'
        ), learned AS (
            SELECT h.stage, funnel.time_in_stage_percentile(h.entered_at, h.left_at, $2) AS p
              FROM %2$s h
             WHERE $2 IS NOT NULL AND h.left_at <= $1
             GROUP BY h.stage
        )
        SELECT funnel_internal.key_text(v.deal_id), v.stage, v.entered_at,
               round(EXTRACT(epoch FROM $1 - v.entered_at) / 86400, 2),
               x.threshold, %4$s
          FROM open_visits v
          LEFT JOIN learned l ON l.stage OPERATOR(pg_catalog.=) v.stage
          LEFT JOIN %1$s d ON d.%3$I %5$s v.deal_id
         CROSS JOIN LATERAL (SELECT coalesce(funnel.stale_after(v.stage), l.p) AS threshold) x
         WHERE $1 - v.entered_at > x.threshold
         ORDER BY v.stage, v.entered_at, v.deal_id
        $q$, src.deals_from, src.history_from, pk,
        CASE WHEN amount_col IS NULL THEN 'NULL::numeric' ELSE format('d.%I::numeric', amount_col) END,
        eq)
    USING as_of, percentile;
END
$$;
COMMENT ON FUNCTION funnel.stale_deals(regclass, timestamptz, double precision, name, regclass, name, name, name, name) IS
  'open deals of a tracked table (or, with history, of any history table, view or materialized view whose columns are named by the *_column arguments, with amounts from the optional deals table) whose visit open at as_of is older than the stage''s stale_after or, when none is set and percentile is given, than that percentile of the stage''s closed visits (left by as_of); with days in stage, the threshold applied and the deal''s current amount (from amount_column, by default the numeric column amount if any) or NULL';
