-- test/pgtap/any_history.sql: pipeline_as_of() and pipeline_trend() over any
-- relation (issue 21.2): a view of a history (a dbt model), a table with
-- other column names, a text stage column, date columns, each against
-- plain SQL; a view the caller cannot read (42501); bad mappings (42703,
-- 42804) naming the column.  As a NOSUPERUSER caller.
BEGIN;
SELECT plan(12);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('ah', ARRAY['lead', 'demo'], ARRAY[0.2, 0.5]);
CREATE ROLE ah_owner NOSUPERUSER;
CREATE ROLE ah_reader NOSUPERUSER;
CREATE SCHEMA ah AUTHORIZATION ah_owner;
GRANT USAGE ON SCHEMA ah TO ah_reader;
SET ROLE ah_owner;
-- a CRM export: other names, text stages, dates
CREATE TABLE ah.export (opp_id int, step text, since date, until date, kind text);
INSERT INTO ah.export VALUES
    (1, 'ah:lead', '2026-01-01', '2026-01-03', 'x'), (1, 'ah:demo', '2026-01-03', '2026-01-08', 'x'),
    (1, 'ah:won', '2026-01-08', NULL, 'x'),
    (2, 'ah:lead', '2026-01-02', NULL, 'y'),
    (3, 'lead', '2026-01-01', '2026-01-02', 'z'), (3, 'ah:lost', '2026-01-02', NULL, 'z');
CREATE TABLE ah.moves (opp_id int, step funnel.deal_stage, started timestamptz, ended timestamptz);
INSERT INTO ah.moves SELECT opp_id, step::funnel.deal_stage, since, until FROM ah.export;
CREATE VIEW ah.model AS
    SELECT opp_id AS deal_id, step::funnel.deal_stage AS stage, since::timestamptz AS entered_at,
           until::timestamptz AS left_at FROM ah.export;
CREATE VIEW ah.secret_model AS SELECT * FROM ah.model;
CREATE TABLE ah.deals (id int PRIMARY KEY, amount numeric);
INSERT INTO ah.deals VALUES (1, 100), (2, 50), (3, 7);
GRANT SELECT ON ah.export, ah.moves, ah.model, ah.deals TO ah_reader;
RESET ROLE;

-- plain SQL: the visits open at 2026-01-05 (entered_at <= t < left_at)
CREATE FUNCTION pg_temp.open_at(t timestamptz) RETURNS TABLE (deal_id text, stage text, entered_at timestamptz)
LANGUAGE sql AS $$
    SELECT opp_id::text, step::funnel.deal_stage::text, since::timestamptz FROM ah.export
     WHERE since::timestamptz <= t AND (until IS NULL OR until::timestamptz > t) ORDER BY 1, 2 $$;
SET ROLE ah_reader;

SELECT results_eq($$SELECT deal_id, stage::text, entered_at FROM funnel.pipeline_as_of('ah.model', '2026-01-05') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.open_at('2026-01-05')$$, 'a view of a history (a dbt model) = plain SQL');
SELECT results_eq($$SELECT deal_id, stage::text, entered_at FROM funnel.pipeline_as_of('ah.moves', '2026-01-05',
                        deal_column => 'opp_id', stage_column => 'step', entered_at_column => 'started', left_at_column => 'ended') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.open_at('2026-01-05')$$, 'a table with other column names = plain SQL');
SELECT results_eq($$SELECT deal_id, stage::text, entered_at FROM funnel.pipeline_as_of('ah.export', '2026-01-05',
                        'opp_id', 'step', 'since', 'until') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.open_at('2026-01-05')$$, 'text stages (''ah:won'', a bare ''lead'') and date columns = plain SQL');
SELECT results_eq($$SELECT deal_id, stage::text FROM funnel.pipeline_as_of('ah.export', '2026-01-01', 'opp_id', 'step', 'since', 'until') ORDER BY 1$$,
                  $$VALUES ('1', 'ah:lead'), ('3', 'ah:lead')$$, 'the bare text stage ''lead'' is read as ah:lead');
SELECT results_eq(
    $$SELECT instant, stage::text, deals, amount FROM funnel.pipeline_trend('ah.export', ARRAY['2026-01-02', '2026-01-05', '2026-01-09']::timestamptz[],
           'ah.deals', deal_column => 'opp_id', stage_column => 'step', entered_at_column => 'since', left_at_column => 'until')
       ORDER BY instant, funnel.position(stage)$$,
    $$SELECT i.t, s.st, count(e.opp_id), coalesce(sum(d.amount), 0)
        FROM unnest(ARRAY['2026-01-02', '2026-01-05', '2026-01-09']::timestamptz[]) i(t)
       CROSS JOIN (VALUES ('ah:lead', 1), ('ah:demo', 2), ('ah:won', 3), ('ah:lost', 4)) s(st, pos)
        LEFT JOIN ah.export e ON e.step::funnel.deal_stage = s.st::funnel.deal_stage
             AND e.since::timestamptz <= i.t AND (e.until IS NULL OR e.until::timestamptz > i.t)
        LEFT JOIN ah.deals d ON d.id = e.opp_id
       GROUP BY i.t, s.st, s.pos ORDER BY i.t, s.pos$$,
    'pipeline_trend over text stages and dates, with amounts = plain SQL');
SELECT results_eq($$SELECT count(*) FROM funnel.pipeline_trend('ah.model', ARRAY['2026-01-05']::timestamptz[]) WHERE deals > 0$$,
                  $$VALUES (3::bigint)$$, 'pipeline_trend over a view: three stages hold a deal on 2026-01-05');

SELECT throws_ok($$SELECT * FROM funnel.pipeline_as_of('ah.secret_model', now())$$,
                 '42501', 'permission denied for view secret_model', 'a view the caller cannot read: 42501');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_as_of('ah.export', now(), 'opp_id', 'nope', 'since', 'until')$$,
                 '42703', 'column "nope" of "ah.export" does not exist', 'a missing stage column: 42703 naming it');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_trend('ah.moves', ARRAY[now()], deal_column => 'deal_id')$$,
                 '42703', '"ah.moves" is not a stage history', 'a default name the table lacks: 42703, as before (DETAIL names the column)');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_as_of('ah.export', now(), 'opp_id', 'opp_id', 'since', 'until')$$,
                 '42804', 'column "opp_id" of "ah.export" is of type integer', 'an integer stage column: 42804 naming it');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_as_of('ah.export', now(), 'opp_id', 'step', 'kind', 'until')$$,
                 '42804', 'column "kind" of "ah.export" is of type text', 'a text entered_at column: 42804 naming it');
SELECT throws_ok($$SELECT * FROM funnel.pipeline_as_of('ah.export', now(), 'opp_id', 'kind', 'since', 'until')$$,
                 '22P02', NULL, 'a text stage that names no stage: the deal_stage input error');

SELECT * FROM finish();
ROLLBACK;
