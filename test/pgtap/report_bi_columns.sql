-- test/pgtap/report_bi_columns.sql: the columns of funnel.report() that BI
-- tools need (issue 21.4) -- position, kind, average_amount, open_amount,
-- added at the end -- and its rates typed funnel.rate (numeric(7,6),
-- 6 decimals), each checked against plain SQL over the same deals.
BEGIN;
SELECT plan(12);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT funnel.create_pipeline('rb', ARRAY['lead', 'qualified', 'proposal'], ARRAY[0.1, 0.3, 0.6]);
-- 13 deals, amounts with 2 decimals, some NULL; three thirds for 1/3 rates
CREATE TEMP TABLE d (id int, stage funnel.deal_stage, amount numeric(12,2));
INSERT INTO d VALUES
  (1, 'rb:lead', 100.00), (2, 'rb:lead', NULL), (3, 'rb:lead', 33.33),
  (4, 'rb:qualified', 250.50), (5, 'rb:qualified', 10.01), (6, 'rb:qualified', NULL),
  (7, 'rb:proposal', 999.99), (8, 'rb:proposal', 0.01),
  (9, 'rb:won', 1000.00), (10, 'rb:won', 2000.00),
  (11, 'rb:lost', 5.00), (12, 'rb:lost', NULL), (13, 'rb:lost', 7.77);

-- plain SQL: the rows of a summary of current stages (implied passage)
CREATE TEMP VIEW expected AS
WITH s AS (SELECT ('rb:' || st.stage)::funnel.deal_stage AS stage, st.position, st.kind FROM funnel.stages st WHERE st.pipeline = 'rb'),
     rows AS (
  SELECT s.stage, s.position, s.kind,
         count(*) FILTER (WHERE x.hit) AS deals,
         sum(d.amount) FILTER (WHERE x.hit) AS amount,
         count(d.amount) FILTER (WHERE x.hit) AS with_amount,
         sum(d.amount) FILTER (WHERE s.kind = 'open' AND d.stage = s.stage) AS open_amount
    FROM s CROSS JOIN d
   CROSS JOIN LATERAL (SELECT CASE WHEN s.kind = 'open'
                                   THEN (funnel.kind(d.stage) = 'open' AND funnel.position(d.stage) >= s.position)
                                        OR funnel.kind(d.stage) = 'won'
                                   ELSE d.stage = s.stage END AS hit) x
   GROUP BY s.stage, s.position, s.kind)
SELECT stage, position, kind, deals, amount,
       round(amount / nullif(with_amount, 0), 2) AS average_amount, open_amount,
       CASE WHEN kind = 'open' AND position > 1 OR kind = 'won'
            THEN round(deals::numeric / nullif(lag(deals) OVER (ORDER BY position), 0), 6) END AS conv_prev,
       CASE WHEN kind <> 'lost' THEN round(deals::numeric / first_value(deals) OVER (ORDER BY position), 6) END AS conv_first
  FROM rows;

CREATE TEMP TABLE r AS SELECT * FROM funnel.report((SELECT funnel.funnel(stage, amount) FROM d));

SELECT results_eq(
    $$SELECT stage, position, kind, deals, amount, average_amount, open_amount FROM r$$,
    $$SELECT stage, position, kind, deals, amount, average_amount, open_amount FROM expected ORDER BY position$$,
    'position, kind, average_amount and open_amount equal plain SQL, in funnel order');
SELECT results_eq(
    $$SELECT stage, conversion_from_previous::numeric, conversion_from_first::numeric FROM r$$,
    $$SELECT stage, conv_prev, conv_first FROM expected ORDER BY position$$,
    'conversions are the exact ratios rounded to 6 decimals');
SELECT is((SELECT conversion_from_first::text FROM r WHERE stage = 'rb:won'), '0.2',
          'won / lead = 2/10: trailing zeros trimmed');
SELECT is((SELECT conversion_from_previous::text FROM r WHERE stage = 'rb:qualified'), '0.7',
          'qualified / lead = 7/10');
SELECT is((SELECT conversion_from_previous::text FROM r WHERE stage = 'rb:won'), '0.5',
          'won / proposal = 2/4');
SELECT is((SELECT max(scale(x)) FROM r, LATERAL (VALUES (conversion_from_previous), (conversion_from_first), (win_rate)) v(x)),
          6, 'no rate has more than 6 decimals');
SELECT is(ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                  FROM pg_attribute a WHERE a.attrelid = 'r'::regclass AND a.attnum > 13 ORDER BY a.attnum),
          ARRAY['position integer', 'kind text', 'average_amount numeric', 'open_amount numeric', 'moved bigint', 'moved_here bigint'],
          'the new columns come after bar, so SELECT * and positional readers keep the 13 first');
SELECT is((SELECT format_type(typbasetype, typtypmod) FROM pg_type WHERE oid = 'funnel.rate'::regtype),
          'numeric(7,6)', 'funnel.rate is numeric(7,6)');

-- with outcomes: open_amount is the amount of the deals in the stage now
CREATE TEMP TABLE ro AS
SELECT * FROM funnel.report((SELECT funnel.funnel(stage, amount, CASE WHEN funnel.kind(stage) = 'lost' THEN 'rb:qualified' END) FROM d));
SELECT results_eq(
    $$SELECT stage, open_amount, open_here FROM ro WHERE kind = 'open'$$,
    $$SELECT ('rb:' || st.stage)::funnel.deal_stage, (SELECT sum(amount) FROM d WHERE d.stage = ('rb:' || st.stage)::funnel.deal_stage),
             (SELECT count(*) FROM d WHERE d.stage = ('rb:' || st.stage)::funnel.deal_stage)
        FROM funnel.stages st WHERE st.pipeline = 'rb' AND st.kind = 'open' ORDER BY st.position$$,
    'with outcomes: open_amount sums the deals whose current stage it is');
SELECT results_eq(
    $$SELECT stage, win_rate::numeric FROM ro WHERE kind = 'open'$$,
    -- lost deals were lost from qualified: they reached lead and qualified
    $$VALUES ('rb:lead'::funnel.deal_stage, round(2 / 5.0, 6)), ('rb:qualified', round(2 / 5.0, 6)),
             ('rb:proposal', 1.0)$$,
    'win rates among closed deals, rounded to 6 decimals');
SELECT is((SELECT average_amount FROM ro WHERE stage = 'rb:lost'), round((5.00 + 7.77) / 2, 2),
          'average amount of a lost row: NULL amounts skipped');
-- 2/3 and 1/3: 6 decimals, the last one rounded half away from zero
SELECT is((SELECT string_agg(conversion_from_previous::text, ' ' ORDER BY position)
             FROM funnel.report((SELECT funnel.funnel(s::funnel.deal_stage)
                                   FROM (VALUES ('rb:lead'), ('rb:qualified'), ('rb:proposal')) v(s)))
            WHERE stage IN ('rb:qualified', 'rb:proposal')), '0.666667 0.5',
          'qualified / lead = 2/3 = 0.666667, proposal / qualified = 1/2');

SELECT * FROM finish();
ROLLBACK;
