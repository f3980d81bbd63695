-- sql/install/analysis/check_visits.sql: contradictions in a stage history
-- C: none (reads through funnel_internal.history_visits(), src/analysis/pipeline_as_of.c).
-- Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- A wrong input gives a warning, not a wrong answer (issue 21.3)
--
-- The aggregates (journey(), funnel(), report()) take each row as given and
-- cannot see that a deal's rows contradict each other without sorting every
-- deal's visits.  check_visits() does that sort once, over any history
-- (a tracked table's, a view, a CRM export with other column names, read as
-- pipeline_as_of() reads it, as the caller), and lists each visit that
-- contradicts an earlier one of its deal:
--   time_backwards  left_at before entered_at
--   two_open        a second visit without left_at
--   overlap         a visit entered before an earlier visit of the deal left
--   reopened        an open stage entered from a won or lost stage of the
--                   same pipeline without funnel.allow_transition()
-- Definitions and what each function makes of them: doc/metrics.md.
--------------------------------------------------------------------------

CREATE FUNCTION funnel.check_visits(history regclass,
                                    deal_column name DEFAULT 'deal_id',
                                    stage_column name DEFAULT 'stage',
                                    entered_at_column name DEFAULT 'entered_at',
                                    left_at_column name DEFAULT 'left_at')
RETURNS TABLE (deal_id text, contradiction text, stage funnel.deal_stage,
               entered_at timestamptz, left_at timestamptz,
               previous_stage funnel.deal_stage)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH v AS (
        SELECT h.deal_id, h.stage, h.entered_at, h.left_at,
               coalesce(h.left_at < h.entered_at, false) AS backwards,
               -- the end of a visit; a backwards one has none
               CASE WHEN h.left_at < h.entered_at THEN NULL
                    ELSE coalesce(h.left_at, 'infinity'::timestamptz) END AS ends
          FROM funnel_internal.history_visits($1, NULL, false, NULL, NULL, $2, $3, $4, $5) h
         WHERE h.deal_id IS NOT NULL AND h.stage IS NOT NULL AND h.entered_at IS NOT NULL
    ), o AS (
        SELECT v.*,
               lag(v.stage) OVER w AS previous,
               max(v.ends) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_end,
               count(*) FILTER (WHERE v.left_at IS NULL)
                   OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_open
          FROM v
        WINDOW w AS (PARTITION BY v.deal_id
                     ORDER BY v.entered_at, v.ends NULLS FIRST, funnel.position(v.stage))
    ), c AS (
        SELECT o.*, x.contradiction
          FROM o
         CROSS JOIN LATERAL (VALUES
                ('time_backwards', o.backwards),
                ('two_open', o.left_at IS NULL AND o.prior_open > 0),
                ('overlap', NOT o.backwards AND o.prior_end > o.entered_at
                            AND NOT (o.left_at IS NULL AND o.prior_open > 0)),
                ('reopened', funnel.kind(o.previous) <> 'open' AND funnel.kind(o.stage) = 'open'
                             AND funnel.pipeline_of(o.previous) = funnel.pipeline_of(o.stage)
                             AND NOT EXISTS (
                                 SELECT FROM funnel.allowed_transition a
                                  WHERE a.pipeline = funnel.pipeline_of(o.stage)
                                    AND a.from_stage = funnel.stage_name(o.previous)
                                    AND a.to_stage = funnel.stage_name(o.stage)))
             ) x(contradiction, found)
         WHERE x.found
    )
    SELECT c.deal_id, c.contradiction, c.stage, c.entered_at, c.left_at, c.previous
      FROM c
     ORDER BY c.deal_id, c.entered_at, c.contradiction
$$;
COMMENT ON FUNCTION funnel.check_visits(regclass, name, name, name, name) IS
  'the visits of a stage history (any table, view or materialized view, its columns named by the *_column arguments, read as the caller as by pipeline_as_of()) that contradict an earlier visit of their deal: time_backwards (left_at before entered_at), two_open (a second visit without left_at), overlap (entered before an earlier visit left), reopened (an open stage entered from a won or lost stage of the same pipeline without an allowed transition); with the previous visit''s stage; no rows when the history is consistent';
