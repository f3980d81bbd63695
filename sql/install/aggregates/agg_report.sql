-- sql/install/aggregates/agg_report.sql: reports over a summary: report(), learned probabilities, the reverse funnel
-- C: src/aggregates/agg_report.c.  Part of the install script (see sql/install/README.md).

-- Rates of report() (issue 21.4): a domain keeps its type modifier in a
-- function's result columns (a numeric(p,s) result column loses it), so
-- drivers and BI tools see precision 7, scale 6 (JDBC ResultSetMetaData,
-- SQLAlchemy reflection of a view over report()).
CREATE DOMAIN funnel.rate AS numeric(7,6);
COMMENT ON DOMAIN funnel.rate IS
  'a rate of funnel.report() (conversion, win rate): numeric(7,6), rounded to 6 decimals, so clients see its precision and scale';

CREATE FUNCTION funnel.report(summary funnel.funnel_summary)
    RETURNS TABLE (stage funnel.deal_stage, deals bigint, amount numeric,
                   conversion_from_previous funnel.rate,
                   conversion_from_first funnel.rate, drop_off bigint,
                   won bigint, lost bigint, open bigint,
                   lost_here bigint, open_here bigint, win_rate funnel.rate,
                   bar text,
                   "position" integer, kind text, average_amount numeric,
                   open_amount numeric, moved bigint, moved_here bigint)
    AS 'MODULE_PATHNAME', 'funnel_report'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 12;
COMMENT ON FUNCTION funnel.report(funnel.funnel_summary) IS
  'one row per stage in funnel order: open stages count the deals that reached them (implied passage), with amount, conversion from the previous and the first stage (funnel.rate, 6 decimals), and drop-off; with journeys also won/lost/open among them, lost_here, open_here and win_rate; won and lost rows count the deals that ended there; bar: the deals as a text bar, 30 characters for the largest row; then for BI tools the stage''s position and kind, the average amount of the row''s deals and, for open stages, the amount of the deals in the stage now; with journeys last the deals that reached the stage and moved to another pipeline (moved) and those that left from it (moved_here), counted in no other column (doc/metrics.md)';

-- learned vs configured probabilities (issue 9.3)

CREATE FUNCTION funnel.learned_probabilities(summary funnel.funnel_summary)
    RETURNS TABLE (stage funnel.deal_stage, configured numeric, learned numeric,
                   closed bigint, lower numeric, upper numeric)
LANGUAGE sql STABLE STRICT PARALLEL SAFE ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
    -- Wilson score interval, 95% (z = 1.959963984540054), from the closed
    -- deals (won + lost) among those that reached each open stage
    SELECT r.stage, funnel.probability(r.stage)::numeric, r.win_rate, r.won + r.lost,
           CASE WHEN w.half IS NOT NULL THEN round(greatest(w.center - w.half, 0), 6) END,
           CASE WHEN w.half IS NOT NULL THEN round(least(w.center + w.half, 1), 6) END
      FROM funnel.report(summary) r
      LEFT JOIN LATERAL (
            SELECT (p + z2 / (2 * n)) / (1 + z2 / n) AS center,
                   z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n) AS half
              FROM (SELECT r.won / nullif(r.won + r.lost, 0)::numeric AS p,
                           nullif(r.won + r.lost, 0)::numeric AS n,
                           1.959963984540054 AS z, 1.959963984540054 ^ 2 AS z2) c
             WHERE n > 0) w ON true
     WHERE funnel.kind(r.stage) = 'open'
$$;
COMMENT ON FUNCTION funnel.learned_probabilities(funnel.funnel_summary) IS
  'per open stage: the configured probability, the learned one (win rate of the closed deals that reached it), the closed deals it rests on and its 95% Wilson score interval; NULL where the summary has no outcomes or no closed deal. Apply with funnel.set_probability()';

-- the reverse funnel (issue 10.1): the deals each stage needs now for a revenue target

CREATE FUNCTION funnel.required_pipeline(summary funnel.funnel_summary, target numeric,
                                         average_won numeric DEFAULT NULL)
    RETURNS TABLE (stage funnel.deal_stage, win_rate numeric, needed bigint,
                   open_here bigint, open bigint, gap bigint, open_amount numeric,
                   coverage numeric, required_coverage numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 6
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    outcomes boolean;
    won_count numeric;
    won_total numeric;
    p numeric;
    q numeric;
    won_needed numeric;
    worst_stage funnel.deal_stage;
    worst_needed numeric;
    worst_rate float8;
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'target must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Give the revenue still to win, e.g. 3000000.';
    END IF;
    IF target <= 0 OR target IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION 'target % is not a positive finite amount', target
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the revenue still to win, e.g. 3000000.';
    END IF;
    IF average_won <= 0 OR average_won IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION 'average_won % is not a positive finite amount', average_won
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the expected amount of one won deal, or NULL for the summary''s average.';
    END IF;
    IF summary IS NULL THEN
        RETURN;     -- funnel() over no rows: no report, no rows
    END IF;

    -- the stage win rates need outcomes: a summary fed by furthest() has none
    SELECT pg_catalog.bool_and(r.open_here IS NOT NULL) INTO outcomes
      FROM funnel.report(summary) r
     WHERE funnel.kind(r.stage) OPERATOR(pg_catalog.=) 'open';
    IF NOT outcomes THEN
        RAISE EXCEPTION 'funnel summary of pipeline "%" has no outcomes',
                        (SELECT pg_catalog.min(funnel.pipeline_of(r.stage)) FROM funnel.report(summary) r)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The reverse funnel needs each stage''s win rate among closed deals, which a summary of reached stages (funnel.furthest) cannot tell.',
                  HINT = 'Build the summary from journeys: funnel.funnel(funnel.journey(stage, entered_at), amount).';
    END IF;

    -- won needed = ceil(target / average won amount), exactly: ceil(p / q)
    IF average_won IS NOT NULL THEN
        p := target;
        q := average_won;
    ELSE
        SELECT pg_catalog.sum((e ->> 'current_amount_count')::numeric),
               pg_catalog.sum((e ->> 'current_amount')::numeric)
          INTO won_count, won_total
          FROM funnel.report(summary) r
          JOIN pg_catalog.jsonb_array_elements(summary::text::jsonb -> 'stages') e
            ON e ->> 'stage' OPERATOR(pg_catalog.=) funnel.stage_name(r.stage)
         WHERE funnel.kind(r.stage) OPERATOR(pg_catalog.=) 'won';
        IF coalesce(won_count, 0) OPERATOR(pg_catalog.=) 0 THEN
            RAISE EXCEPTION 'funnel summary has no won deal with an amount'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'The deals needed are the target divided by the average won amount.',
                      HINT = 'Give average_won, the expected amount of one won deal.';
        END IF;
        IF won_total OPERATOR(pg_catalog.<=) 0 THEN
            RAISE EXCEPTION 'average won amount % is not positive', won_total OPERATOR(pg_catalog./) won_count
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give average_won, the expected amount of one won deal.';
        END IF;
        p := target OPERATOR(pg_catalog.*) won_count;
        q := won_total;
    END IF;
    won_needed := pg_catalog.div(p, q)
                  OPERATOR(pg_catalog.+) CASE WHEN pg_catalog.mod(p, q) OPERATOR(pg_catalog.<>) 0 THEN 1 ELSE 0 END;

    -- counts are bigint: refuse a target that needs more deals, naming the
    -- inputs, before the query below would fail on a cast deep inside it
    IF won_needed OPERATOR(pg_catalog.>) 9223372036854775807 THEN
        RAISE EXCEPTION 'target % needs % won deals, more than a bigint can count', target, won_needed
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = pg_catalog.format('The won deals needed are the target divided by the average won amount, %s%s.',
                                             CASE WHEN average_won IS NULL THEN 'the summary''s ' ELSE 'average_won ' END,
                                             coalesce(average_won, pg_catalog.trim_scale(won_total OPERATOR(pg_catalog./) won_count))),
                  HINT = 'Give a smaller target or a larger average_won.';
    END IF;
    -- the stage with the lowest win rate needs the most deals
    SELECT r.stage, r.win_rate,
           pg_catalog.div(won_needed OPERATOR(pg_catalog.*) (r.won OPERATOR(pg_catalog.+) r.lost), r.won)
           OPERATOR(pg_catalog.+)
           CASE WHEN pg_catalog.mod(won_needed OPERATOR(pg_catalog.*) (r.won OPERATOR(pg_catalog.+) r.lost), r.won)
                     OPERATOR(pg_catalog.<>) 0 THEN 1 ELSE 0 END
      INTO worst_stage, worst_rate, worst_needed
      FROM funnel.report(summary) r
     WHERE funnel.kind(r.stage) OPERATOR(pg_catalog.=) 'open' AND r.won OPERATOR(pg_catalog.>) 0
     ORDER BY 3 DESC LIMIT 1;
    IF worst_needed OPERATOR(pg_catalog.>) 9223372036854775807 THEN
        RAISE EXCEPTION 'target % needs % deals at stage "%", more than a bigint can count',
                        target, worst_needed, funnel.stage_name(worst_stage)
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = pg_catalog.format('It needs %s won deals, and the win rate of the closed deals that reached the stage is %s.',
                                             won_needed, worst_rate),
                  HINT = 'Give a smaller target or a larger average_won.';
    END IF;

    RETURN QUERY
    WITH rows AS (
        SELECT r.ordinality AS n, r.stage, funnel.kind(r.stage) AS kind, r.win_rate,
               r.won, r.lost, r.open_here, r.open,
               coalesce((e ->> 'current_amount_count')::numeric, 0) AS amount_count,
               coalesce((e ->> 'current_amount')::numeric, 0) AS amount
          FROM funnel.report(summary) WITH ORDINALITY r
          LEFT JOIN pg_catalog.jsonb_array_elements(summary::text::jsonb -> 'stages') e
            ON e ->> 'stage' OPERATOR(pg_catalog.=) funnel.stage_name(r.stage)
    ), open_stages AS (
        -- the open deals at this stage or a later one: amount, weighted amount
        SELECT o.*,
               pg_catalog.sum(o.amount_count) OVER later AS later_count,
               pg_catalog.sum(o.amount) OVER later AS later_amount,
               pg_catalog.sum(o.amount OPERATOR(pg_catalog.*) funnel.probability(o.stage)::numeric) OVER later AS later_weighted,
               CASE WHEN o.won OPERATOR(pg_catalog.>) 0 THEN
                   pg_catalog.div(won_needed OPERATOR(pg_catalog.*) (o.won OPERATOR(pg_catalog.+) o.lost), o.won)
                   OPERATOR(pg_catalog.+)
                   CASE WHEN pg_catalog.mod(won_needed OPERATOR(pg_catalog.*) (o.won OPERATOR(pg_catalog.+) o.lost), o.won)
                             OPERATOR(pg_catalog.<>) 0 THEN 1 ELSE 0 END
               END AS needed
          FROM rows o
         WHERE o.kind OPERATOR(pg_catalog.=) 'open'
        WINDOW later AS (ORDER BY o.n DESC)
    )
    SELECT o.stage, o.win_rate, o.needed::bigint, o.open_here, o.open,
           CASE WHEN o.needed IS NOT NULL THEN
               GREATEST(o.needed OPERATOR(pg_catalog.-) o.open, 0)::bigint END,
           CASE WHEN o.later_count OPERATOR(pg_catalog.>) 0 THEN o.later_amount END,
           CASE WHEN o.later_count OPERATOR(pg_catalog.>) 0 THEN
               pg_catalog.trim_scale(o.later_weighted OPERATOR(pg_catalog./) target) END,
           CASE WHEN o.won OPERATOR(pg_catalog.>) 0 THEN
               pg_catalog.trim_scale((o.won OPERATOR(pg_catalog.+) o.lost)::numeric OPERATOR(pg_catalog./) o.won) END
      FROM open_stages o
    UNION ALL
    (SELECT w.stage, 1::numeric, won_needed::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::numeric, NULL::numeric, 1::numeric
       FROM rows w
      WHERE w.kind OPERATOR(pg_catalog.=) 'won'
      ORDER BY w.n LIMIT 1)
    ORDER BY 1;
END
$$;
COMMENT ON FUNCTION funnel.required_pipeline(funnel.funnel_summary, numeric, numeric) IS
  'reverse funnel for a revenue target: won deals needed = ceil(target / average won amount, the summary''s or average_won), then per open stage the deals needed there = ceil(won needed / the stage''s win rate among closed deals), the open deals there (in the stage now, and at it or later), the gap, the open amount from the stage on, coverage (weighted open pipeline from the stage on / target) and required coverage (1 / win rate); needs a summary with outcomes (journeys) (doc/metrics.md)';
