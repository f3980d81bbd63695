-- test/pgtap/live_write_compress.sql: the summaries of a delta row written
-- by the live summaries' C UPDATE trigger (src/live/live_write.c) are
-- stored compressed, as TOAST would compress a long value, and read back
-- unchanged; a column whose storage forbids compression keeps them plain.
-- As a NOSUPERUSER table owner.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(6);

CREATE ROLE lc_own NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO lc_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
                          funnel.enable_live(regclass, name[], name) TO lc_own;
SELECT funnel.create_pipeline('lc', ARRAY['lead', 'qualified', 'proposal']) IS NULL AS created \gset

SET ROLE lc_own;
CREATE TABLE lc_deals (id int PRIMARY KEY, owner text, amount numeric(10,2),
                       stage funnel.deal_stage(lc) NOT NULL);
INSERT INTO lc_deals VALUES (1, 'a', 100, 'lead'), (2, 'a', 250.5, 'lead');
SELECT funnel.track('lc_deals', 'lc', rule => 'any') IS NOT NULL AS tracked \gset
SELECT funnel.enable_live('lc_deals', '{owner}', 'amount') IS NOT NULL AS live \gset

UPDATE lc_deals SET stage = 'qualified' WHERE id = 1;
-- the journey's row of that move: the newest row without a stage
SELECT is((SELECT pg_column_compression(plus) || ',' || pg_column_compression(minus)
             FROM lc_deals_stage_live WHERE stage IS NULL ORDER BY ctid DESC LIMIT 1),
          'pglz,pglz', 'a one-row move''s journey summaries are stored compressed (default_toast_compression)');
SELECT cmp_ok((SELECT pg_column_size(plus) FROM lc_deals_stage_live WHERE stage IS NULL ORDER BY ctid DESC LIMIT 1),
              '<', (SELECT pg_column_size(plus::text::funnel.funnel_summary) FROM lc_deals_stage_live
                     WHERE stage IS NULL ORDER BY ctid DESC LIMIT 1),
              'smaller than the summary it holds');

UPDATE lc_deals SET stage = 'won', amount = 120 WHERE id = 1;
UPDATE lc_deals SET stage = 'proposal' WHERE id = 2;
SELECT is((SELECT count(*) FROM funnel.live_check('lc_deals')), 0::bigint,
          'compressed delta rows: the summaries equal the history');
-- by hand: lead 2 deals (120 + 250.50), qualified 2, proposal 2 (deal 1
-- won past it), won 1
SELECT is((SELECT array_agg(ROW(deals, won, amount)::text ORDER BY "position")
             FROM funnel.live_report('lc_deals') WHERE kind = 'open'),
          ARRAY['(2,1,370.50)', '(2,1,370.50)', '(2,1,370.50)'],
          'deals, won and amount reached per stage read from compressed rows');

-- a column whose storage is PLAIN: not compressed
ALTER TABLE lc_deals_stage_live ALTER plus SET STORAGE PLAIN;
UPDATE lc_deals SET stage = 'lost' WHERE id = 2;
SELECT is((SELECT coalesce(pg_column_compression(plus), 'none') || ',' || pg_column_compression(minus)
             FROM lc_deals_stage_live WHERE stage IS NULL ORDER BY ctid DESC LIMIT 1),
          'none,pglz', 'plus with storage PLAIN is written plain, minus still compressed');
RESET ROLE;
SELECT is((SELECT count(*) FROM funnel.live_check('lc_deals')), 0::bigint,
          'after it, the summaries equal the history');

SELECT * FROM finish();
ROLLBACK;
