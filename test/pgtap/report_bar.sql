-- test/pgtap/report_bar.sql: the bar column of funnel.report() (issue 10.5),
-- checked against an independent computation in plain SQL: 30 characters
-- for the largest row, eighth-block resolution (U+258F one eighth ..
-- U+2588 full block), at least one eighth for a row with deals, empty for
-- none; '#' per whole character when the client encoding is not UTF-8.
BEGIN;
SELECT plan(10);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SET client_encoding = 'UTF8';

-- the expected bar of n deals when the largest row has m, in eighths
CREATE FUNCTION pg_temp.bar(n bigint, m bigint) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN n = 0 THEN ''
                ELSE repeat(chr(x'2588'::int), e / 8)
                     || CASE WHEN e % 8 > 0 THEN chr(x'2590'::int - e % 8) ELSE '' END END
      FROM (SELECT greatest(round(n * 240.0 / m), 1)::int AS e) x
$$;
CREATE FUNCTION pg_temp.ascii_bar(n bigint, m bigint) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN n = 0 THEN '' ELSE repeat('#', greatest(round(n * 30.0 / m), 1)::int) END
$$;

-- Maven CRM replayed as history (as demo/demo.sql does)
SELECT funnel.create_pipeline('hardware', ARRAY['Prospecting', 'Engaging'], ARRAY[0.10, 0.40],
                              won => ARRAY['Won'], lost => ARRAY['Lost']) \gset
CREATE TEMP TABLE maven (opportunity_id text, sales_agent text, product text, account text,
                         deal_stage text, engage_date date, close_date date, close_value numeric);
\copy maven FROM 'data/maven_crm/sales_pipeline.csv' (FORMAT csv, HEADER)
CREATE TEMP TABLE maven_summary AS
SELECT funnel.funnel(j, amount) AS s
  FROM (SELECT h.deal_id, max(m.close_value) AS amount, funnel.journey(h.stage, h.entered_at) AS j
          FROM (SELECT opportunity_id AS deal_id, 'hardware:Prospecting'::funnel.deal_stage AS stage,
                       timestamptz '2016-10-01' AS entered_at FROM maven WHERE engage_date IS NULL
                UNION ALL
                SELECT opportunity_id, 'hardware:Engaging', engage_date FROM maven WHERE engage_date IS NOT NULL
                UNION ALL
                SELECT opportunity_id, ('hardware:' || deal_stage)::funnel.deal_stage, close_date
                  FROM maven WHERE deal_stage IN ('Won', 'Lost')) h
          JOIN maven m ON m.opportunity_id = h.deal_id GROUP BY h.deal_id) x;

-- the deals per row, independently: 8800 reached Prospecting, the engaged or won reached Engaging
SELECT results_eq(
    $$SELECT stage::text, deals, bar FROM funnel.report((SELECT s FROM maven_summary))$$,
    $$SELECT stage, n, pg_temp.bar(n, (SELECT count(*) FROM maven))
        FROM (VALUES (1, 'hardware:Prospecting', (SELECT count(*) FROM maven)),
                     (2, 'hardware:Engaging', (SELECT count(*) FROM maven WHERE engage_date IS NOT NULL OR deal_stage = 'Won')),
                     (3, 'hardware:Won', (SELECT count(*) FROM maven WHERE deal_stage = 'Won')),
                     (4, 'hardware:Lost', (SELECT count(*) FROM maven WHERE deal_stage = 'Lost'))) v(pos, stage, n)
       ORDER BY pos$$,
    'Maven: each bar is deals / 8800 of 30 characters, to the eighth');
SELECT is((SELECT string_agg(char_length(bar) || ':' || ascii(right(bar, 1)), ',') FROM funnel.report((SELECT s FROM maven_summary))),
          '30:9608,29:9614,15:9612,9:9613',
          'Maven: 240, 226, 116 and 67 eighths: 30 full blocks, 28 + 2/8, 14 + 4/8, 8 + 3/8');
SELECT is((SELECT (array_agg(ordinality ORDER BY char_length(bar) DESC, ordinality))[1]
             FROM funnel.report((SELECT s FROM maven_summary)) WITH ORDINALITY),
          1::bigint, 'the first stage has the widest bar');
SELECT is((SELECT bar FROM funnel.report((SELECT s FROM maven_summary)) LIMIT 1), repeat('█', 30),
          'the largest row: 30 full blocks');

-- hand-made: a row of 1 deal in 10,000 still shows, a row of none is empty,
-- and a lost row larger than the first stage is the widest
SELECT funnel.create_pipeline('bars', ARRAY['a', 'b', 'c'], ARRAY[0.2, 0.5, 0.8]) \gset
SELECT results_eq(
    $$SELECT stage::text, bar FROM funnel.report('{"pipeline": "bars", "stages": [{"stage": "a", "deals": 9998, "amount_count": 0, "amount": 0}, {"stage": "b", "deals": 0, "amount_count": 0, "amount": 0}, {"stage": "c", "deals": 1, "amount_count": 0, "amount": 0}, {"stage": "won", "deals": 1, "amount_count": 0, "amount": 0}, {"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0}]}')$$,
    $$VALUES ('bars:a', pg_temp.bar(10000, 10000)), ('bars:b', pg_temp.bar(2, 10000)),
             ('bars:c', pg_temp.bar(2, 10000)), ('bars:won', pg_temp.bar(1, 10000)), ('bars:lost', '')$$,
    'a row of 2 or 1 deals in 10,000 gets one eighth; a row of none is empty');
SELECT is((SELECT bar FROM funnel.report('{"pipeline": "bars", "stages": [{"stage": "won", "deals": 1, "amount_count": 0, "amount": 0}]}') WHERE stage = 'bars:won'),
          repeat('█', 30), 'only won deals: the won row is the widest too (30 full blocks)');
SELECT results_eq(
    $$SELECT stage::text, bar FROM funnel.report('{"pipeline": "bars", "stages": [{"stage": "a", "deals": 3, "amount_count": 0, "amount": 0}, {"stage": "lost", "deals": 9, "amount_count": 0, "amount": 0}]}')$$,
    $$VALUES ('bars:a', pg_temp.bar(3, 9)), ('bars:b', ''), ('bars:c', ''), ('bars:won', ''), ('bars:lost', pg_temp.bar(9, 9))$$,
    'a lost row larger than the first stage (furthest input) is the widest');
SELECT is((SELECT string_agg(bar, ',') FROM funnel.report('{"pipeline": "bars", "stages": []}')), ',,,,',
          'a summary with no deals: every bar empty');
SELECT is((SELECT string_agg(bar, ',') FROM funnel.report(('{"pipeline": "bars", "stages": [{"stage": "a", "deals": 9223372036854775806, "amount_count": 0, "amount": 0}, {"stage": "won", "deals": 1, "amount_count": 0, "amount": 0}]}')) WHERE stage <= 'bars:b'),
          repeat('█', 30) || ',' || chr(x'258F'::int), 'deals near the bigint limit: 30 blocks and one eighth, no overflow in the scaling');

-- a client that is not UTF-8 gets bars it can receive: '#' per character
SET LOCAL client_encoding = 'LATIN1';
SELECT results_eq(
    $$SELECT stage::text, bar FROM funnel.report((SELECT s FROM maven_summary))$$,
    $$SELECT stage, pg_temp.ascii_bar(n, 8800)
        FROM (VALUES (1, 'hardware:Prospecting', 8800), (2, 'hardware:Engaging', 8300),
                     (3, 'hardware:Won', 4238), (4, 'hardware:Lost', 2473)) v(pos, stage, n)
       ORDER BY pos$$,
    'client_encoding LATIN1: 30, 28, 14 and 8 hashes');
RESET client_encoding;

SELECT * FROM finish();
ROLLBACK;
