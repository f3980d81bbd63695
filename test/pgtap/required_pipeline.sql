-- test/pgtap/required_pipeline.sql: funnel.required_pipeline, the reverse
-- funnel (issue 10.1), against independent plain SQL over the Maven CRM
-- opportunities replayed as history (as demo/demo.sql does: Prospecting
-- without an engage date, Engaging from it, Won or Lost at the close date;
-- amount = close value, or list price while open), then a hand-made
-- pipeline for exact rounding, NULL amounts, several won stages and a stage
-- no closed deal reached, and the refused arguments with their SQLSTATEs.
-- Everything after the data load runs as a NOSUPERUSER role.
BEGIN;
SELECT plan(28);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT funnel.create_pipeline('hardware', ARRAY['Prospecting', 'Engaging'], ARRAY[0.10, 0.40],
                              won => ARRAY['Won'], lost => ARRAY['Lost']) \gset
CREATE SCHEMA rp;
CREATE TABLE rp.maven (opportunity_id text, sales_agent text, product text, account text,
                       deal_stage text, engage_date date, close_date date, close_value numeric);
\copy rp.maven FROM 'data/maven_crm/sales_pipeline.csv' (FORMAT csv, HEADER)
CREATE TABLE rp.products (product text, series text, sales_price numeric);
\copy rp.products FROM 'data/maven_crm/products.csv' (FORMAT csv, HEADER)
CREATE TABLE rp.deals AS
SELECT m.opportunity_id AS id, m.deal_stage, m.engage_date IS NOT NULL AS engaged,
       coalesce(m.close_value, p.sales_price) AS amount
  FROM rp.maven m LEFT JOIN rp.products p ON replace(p.product, ' ', '') = replace(m.product, ' ', '');
CREATE TABLE rp.history AS
SELECT id AS deal_id, 'hardware:Prospecting'::funnel.deal_stage AS stage, timestamptz '2016-10-01' AS entered_at
  FROM rp.deals d JOIN rp.maven m ON m.opportunity_id = d.id WHERE NOT d.engaged
UNION ALL
SELECT id, 'hardware:Engaging', m.engage_date FROM rp.deals d JOIN rp.maven m ON m.opportunity_id = d.id WHERE d.engaged
UNION ALL
SELECT id, ('hardware:' || m.deal_stage)::funnel.deal_stage, m.close_date
  FROM rp.deals d JOIN rp.maven m ON m.opportunity_id = d.id WHERE m.deal_stage IN ('Won', 'Lost');

CREATE ROLE funnel_rp_analyst NOSUPERUSER;
GRANT USAGE ON SCHEMA rp TO funnel_rp_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA rp TO funnel_rp_analyst;
GRANT CREATE ON SCHEMA rp TO funnel_rp_analyst;
SET ROLE funnel_rp_analyst;

CREATE TABLE rp.summaries AS
SELECT funnel.funnel(h.j, d.amount) AS with_outcomes,
       funnel.funnel(funnel.furthest_stage(h.j), d.amount) AS reached_only
  FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM rp.history GROUP BY deal_id) h
  JOIN rp.deals d ON d.id = h.deal_id;

-- independent plain SQL: per open stage (position 1, 2) the deals that reached it
-- (visited it or Engaging later, or won), their outcomes and the open amounts
CREATE TABLE rp.expected_maven AS
WITH stages(pos, name, p) AS (VALUES (1, 'Prospecting', 0.10), (2, 'Engaging', 0.40)),
     deal AS (SELECT id, deal_stage, amount,
                     CASE WHEN deal_stage IN ('Prospecting', 'Engaging') THEN
                          CASE deal_stage WHEN 'Prospecting' THEN 1 ELSE 2 END END AS open_pos,
                     CASE WHEN deal_stage = 'Won' THEN 2 WHEN engaged THEN 2 ELSE 1 END AS reached_pos
                FROM rp.deals),
     won AS (SELECT count(*) AS n, sum(amount) AS total FROM deal WHERE deal_stage = 'Won'),
     target AS (SELECT 3000000::numeric AS t),
     won_needed AS (SELECT ceil(t * n / total) AS w FROM won, target),
     per_stage AS (
       SELECT s.pos, s.name,
              count(*) FILTER (WHERE d.reached_pos >= s.pos AND d.deal_stage = 'Won') AS won,
              count(*) FILTER (WHERE d.reached_pos >= s.pos AND d.deal_stage IN ('Won', 'Lost')) AS closed,
              count(*) FILTER (WHERE d.open_pos = s.pos) AS open_here,
              count(*) FILTER (WHERE d.open_pos >= s.pos) AS open,
              sum(d.amount) FILTER (WHERE d.open_pos >= s.pos) AS open_amount,
              sum(d.amount * (SELECT s2.p FROM stages s2 WHERE s2.pos = d.open_pos))
                  FILTER (WHERE d.open_pos >= s.pos) AS weighted
         FROM stages s CROSS JOIN deal d GROUP BY s.pos, s.name)
SELECT pos, ('hardware:' || name)::funnel.deal_stage AS stage,
       round(won::numeric / closed, 6) AS win_rate,   -- report()'s funnel.rate: 6 decimals
       ceil(w * closed / won)::bigint AS needed, open_here, open,
       greatest(ceil(w * closed / won) - open, 0)::bigint AS gap,
       open_amount, round(weighted / t, 12) AS coverage, round(closed::numeric / won, 12) AS required_coverage
  FROM per_stage, won_needed, target
UNION ALL
SELECT 3, 'hardware:Won', 1, w::bigint, NULL, NULL, NULL, NULL, NULL, 1 FROM won_needed;

SELECT is((SELECT needed FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 3000000)
            WHERE stage = 'hardware:Won'),
          1271::bigint, 'Maven, target 3,000,000: 1271 won deals needed');
SELECT is((SELECT needed FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 3000000)
            WHERE stage = 'hardware:Engaging'),
          2013::bigint, 'Maven, target 3,000,000: 2013 deals needed at Engaging');
SELECT is((SELECT format('%s/%s/%s', needed, open, gap) FROM rp.expected_maven WHERE pos = 2),
          '2013/1589/424', 'the independent computation agrees: 2013 needed at Engaging, 1589 open there, 424 short');
SELECT results_eq(
    $$SELECT stage, round(win_rate, 12), needed, open_here, open, gap, open_amount,
             round(coverage, 12), round(required_coverage, 12)
        FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 3000000)$$,
    $$SELECT stage, win_rate, needed, open_here, open, gap, open_amount, coverage, required_coverage
        FROM rp.expected_maven ORDER BY pos$$,
    'Maven, target 3,000,000: every column equals the plain SQL computation, in funnel order');
SELECT results_eq(
    $$SELECT r.stage, r.win_rate FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 3000000) r
       WHERE funnel.kind(r.stage) = 'open'$$,
    $$SELECT stage, learned FROM funnel.learned_probabilities((SELECT with_outcomes FROM rp.summaries))$$,
    'the win rates are the learned probabilities');
SELECT is((SELECT needed FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 3000000, 2000)
            WHERE stage = 'hardware:Engaging'),
          (SELECT ceil(1500 * 6711 / 4238.0)::bigint),
          'average_won 2000: 1500 won needed, ceil(1500 × 6711 / 4238) at Engaging');
SELECT is((SELECT needed FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 3000000, 2000)
            WHERE stage = 'hardware:Won'),
          1500::bigint, 'average_won 2000: ceil(3,000,000 / 2000) = 1500 won needed');

-- a hand-made pipeline: two won stages, a stage no closed deal reached
RESET ROLE;
SELECT funnel.create_pipeline('rp_small', ARRAY['a', 'b', 'c'], ARRAY[0.2, 0.5, 0.9],
                              won => ARRAY['won', 'won_big'], lost => ARRAY['lost']) \gset
SET ROLE funnel_rp_analyst;
CREATE TABLE rp.small_history (deal_id int, stage funnel.deal_stage, entered_at timestamptz);
CREATE TABLE rp.small_amounts (deal_id int, amount numeric);
INSERT INTO rp.small_history VALUES
    (1, 'rp_small:a', '2024-01-01'), (1, 'rp_small:b', '2024-01-02'), (1, 'rp_small:won', '2024-01-03'),
    (2, 'rp_small:a', '2024-01-01'), (2, 'rp_small:won_big', '2024-01-05'),
    (3, 'rp_small:a', '2024-01-01'), (3, 'rp_small:won', '2024-01-04'),
    (4, 'rp_small:a', '2024-01-01'), (4, 'rp_small:lost', '2024-01-02'),
    (5, 'rp_small:a', '2024-01-01'), (5, 'rp_small:b', '2024-01-02'), (5, 'rp_small:lost', '2024-01-06'),
    (6, 'rp_small:b', '2024-01-01'),
    (7, 'rp_small:c', '2024-01-01');
INSERT INTO rp.small_amounts VALUES (1, 100), (2, 200), (3, NULL), (4, 50), (5, 70), (6, 40), (7, NULL);
CREATE TABLE rp.small AS
SELECT funnel.funnel(h.j, a.amount) AS s
  FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM rp.small_history GROUP BY deal_id) h
  JOIN rp.small_amounts a USING (deal_id);
-- won: 1, 2, 3 (amounts 100, 200, NULL: average 150); lost from a: 4, from b: 5;
-- open: 6 in b, 7 in c.  closed that reached a: 5 (3 won), b: 4, c: 3 (won only)
SELECT results_eq(
    $$SELECT stage::text, win_rate, needed, open_here, open, gap, open_amount, coverage, required_coverage
        FROM funnel.required_pipeline((SELECT s FROM rp.small), 300)$$,
    $$VALUES ('rp_small:a', 3 / 5.0, 4::bigint, 0::bigint, 2::bigint, 2::bigint, 40::numeric, trim_scale(40 * 0.5 / 300.0), trim_scale(5 / 3.0)),
             ('rp_small:b', 3 / 4.0, 3::bigint, 1::bigint, 2::bigint, 1::bigint, 40::numeric, trim_scale(40 * 0.5 / 300.0), trim_scale(4 / 3.0)),
             ('rp_small:c', 1, 2::bigint, 1::bigint, 1::bigint, 1::bigint, NULL, NULL, 1),
             ('rp_small:won', 1, 2::bigint, NULL, NULL, NULL, NULL, NULL, 1)$$,
    'target 300 at an average of 150 (a NULL amount skipped): exactly 2 won, ceil(2 × 5/3) = 4 at a, ceil(2 × 4/3) = 3 at b; one won row');
SELECT is((SELECT needed FROM funnel.required_pipeline((SELECT s FROM rp.small), 301) WHERE stage = 'rp_small:won'),
          3::bigint, 'target 301 at an average of 150: ceil(301 / 150) = 3 won');
SELECT is((SELECT needed FROM funnel.required_pipeline((SELECT s FROM rp.small), 300.0000000000000000000001)
            WHERE stage = 'rp_small:won'),
          3::bigint, 'a target a hair over 2 × 150 needs 3 won deals (exact ceiling, no rounding)');
SELECT is((SELECT needed FROM funnel.required_pipeline((SELECT s FROM rp.small), 1, 0.0000001)
            WHERE stage = 'rp_small:a'),
          16666667::bigint, 'average_won 0.0000001, target 1: 10,000,000 won, ceil(10^7 × 5/3) at a');

-- a stage no closed deal reached: no win rate, nothing needed can be said
CREATE TABLE rp.small_open AS
SELECT funnel.funnel(h.j, a.amount) AS s
  FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM rp.small_history
         WHERE deal_id IN (4, 6, 7) GROUP BY deal_id) h
  JOIN rp.small_amounts a USING (deal_id);
SELECT results_eq(
    $$SELECT stage::text, win_rate, needed, open, gap, required_coverage
        FROM funnel.required_pipeline((SELECT s FROM rp.small_open), 1000, 100)$$,
    $$VALUES ('rp_small:a', 0::numeric, NULL::bigint, 2::bigint, NULL::bigint, NULL::numeric),
             ('rp_small:b', NULL, NULL, 2, NULL, NULL),
             ('rp_small:c', NULL, NULL, 1, NULL, NULL),
             ('rp_small:won', 1, 10, NULL, NULL, 1)$$,
    'no won deal: needed, gap and required coverage NULL where the win rate is 0 or unknown');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT s FROM rp.small_open), 1000)$$,
                 '22023', 'funnel summary has no won deal with an amount',
                 'no won deal and no average_won: 22023');

-- refused arguments
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT reached_only FROM rp.summaries), 3000000)$$,
                 '22023', 'funnel summary of pipeline "hardware" has no outcomes',
                 'a summary of reached stages (furthest) has no win rates: 22023');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), NULL)$$,
                 '22004', 'target must not be NULL', 'target NULL: 22004');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 0)$$,
                 '22023', 'target 0 is not a positive finite amount', 'target 0: 22023');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), -5)$$,
                 '22023', 'target -5 is not a positive finite amount', 'negative target: 22023');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 'NaN')$$,
                 '22023', 'target NaN is not a positive finite amount', 'target NaN: 22023');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 'Infinity')$$,
                 '22023', 'target Infinity is not a positive finite amount', 'target Infinity: 22023');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 100, 0)$$,
                 '22023', 'average_won 0 is not a positive finite amount', 'average_won 0: 22023');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 100, 'NaN')$$,
                 '22023', 'average_won NaN is not a positive finite amount', 'average_won NaN: 22023');
SELECT is_empty($$SELECT * FROM funnel.required_pipeline(NULL, 3000000)$$,
                'a NULL summary (funnel() over no rows): no rows');
-- more deals than a bigint counts: 22003 naming the target, not a failed cast
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT s FROM rp.small), 1e19, 1)$$,
                 '22003', 'target 10000000000000000000 needs 10000000000000000000 won deals, more than a bigint can count',
                 'target 10^19 at average_won 1: 22003 naming the target and the won deals');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT s FROM rp.small), 1500000000000000000000)$$,
                 '22003', 'target 1500000000000000000000 needs 10000000000000000000 won deals, more than a bigint can count',
                 'target 1.5 × 10^21 at the summary''s average 150: 22003');
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT with_outcomes FROM rp.summaries), 1e30, 1e-30)$$,
                 '22003', 'target 1000000000000000000000000000000 needs ' || (1e60)::numeric(61, 0) || ' won deals, more than a bigint can count',
                 'target 10^30 at average_won 10^-30: 22003');
-- the won deals fit, the deals at the stage with the lowest win rate do not:
-- stage a, 3 of 5 closed deals won: ceil(6 × 10^18 × 5 / 3) = 10^19
SELECT throws_ok($$SELECT * FROM funnel.required_pipeline((SELECT s FROM rp.small), 6e18, 1)$$,
                 '22003', 'target 6000000000000000000 needs 10000000000000000000 deals at stage "a", more than a bigint can count',
                 'won deals that fit, deals at a stage that do not: 22003 naming the stage');
CREATE FUNCTION pg_temp.error_fields(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    d text;
    h text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN numeric_value_out_of_range THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN d || ' / ' || h;
END
$f$;
SELECT is(pg_temp.error_fields($$SELECT * FROM funnel.required_pipeline((SELECT s FROM rp.small), 6e18, 1)$$),
          'It needs 6000000000000000000 won deals, and the win rate of the closed deals that reached the stage is 0.6. / '
          'Give a smaller target or a larger average_won.',
          'the overflow at a stage: DETAIL with the won deals and the win rate, HINT with the way out');
SELECT is(pg_temp.error_fields($$SELECT * FROM funnel.required_pipeline((SELECT s FROM rp.small), 1500000000000000000000)$$),
          'The won deals needed are the target divided by the average won amount, the summary''s 150. / '
          'Give a smaller target or a larger average_won.',
          'the overflow of the won deals: DETAIL with the average used, HINT with the way out');

SELECT * FROM finish();
ROLLBACK;
