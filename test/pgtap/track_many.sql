-- test/pgtap/track_many.sql: one deals table, three pipelines that share
-- every stage name (issue 19.2), tracked by a NOSUPERUSER table owner:
--   - track(pipelines => ...) and what it refuses
--   - the table's rule inside each pipeline, each pipeline's allow-list and
--     required fields on its own deals only
--   - a move to another pipeline refused (23514, both pipelines named, the
--     allow_transition call in the HINT), then allowed by an allow-list
--     entry with a qualified target ('*': from any stage), required fields
--     of the pipeline entered
--   - bare names: an UPDATE's in the deal's current pipeline, an INSERT's
--     refused with the candidates
--   - history rows, check_history(), pipeline_as_of() and stale_deals()
--     against plain SQL over the same rows; next_stages() across pipelines
BEGIN;
SELECT plan(50);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT funnel.create_pipeline(p, ARRAY['lead','qualified','proposal']) FROM unnest(ARRAY['b2b','retail','partner']) p;
CREATE ROLE tm_owner NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO tm_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text[], name, name, text), funnel.untrack(regclass) TO tm_owner;

SET ROLE tm_owner;
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL, amount numeric,
                    contact text, changed_at timestamptz);
CREATE TABLE bound (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO deals VALUES (1, 'b2b:lead', 100, NULL, '2024-01-01'), (2, 'retail:lead', 20, NULL, '2024-01-01'),
                         (3, 'partner:lead', 30, NULL, '2024-01-01'), (9, 'partner:won', 5, NULL, '2024-01-01');

-- what track() refuses -------------------------------------------------------
SELECT throws_ok($$SELECT funnel.track('bound', pipelines => ARRAY['b2b','retail'])$$, '42804',
                 'stage column "stage" of table public.bound is bound to one pipeline',
                 'a column bound to one pipeline cannot hold several');
SELECT throws_ok($$SELECT funnel.track('deals', pipelines => ARRAY['b2b','b2b'])$$, '22023', NULL,
                 'a pipeline named twice is refused');
SELECT throws_ok($$SELECT funnel.track('deals', pipelines => ARRAY[]::text[])$$, '22004', NULL,
                 'no pipeline is refused');
SELECT throws_ok($$SELECT funnel.track('deals', pipelines => ARRAY['b2b','nope'])$$, '42704', NULL,
                 'an unknown pipeline is refused');
SELECT throws_ok($$SELECT funnel.track('deals', pipelines => ARRAY['b2b','retail'])$$, '23514',
                 'deal 3 of table public.deals is in stage partner:lead, of none of the pipelines {b2b,retail}',
                 'a deal of another pipeline is named');
SELECT hasnt_table('public', 'deals_stage_history', 'the refused track() created no history');

SELECT is(funnel.track('deals', pipelines => ARRAY['b2b','retail','partner'],
                       changed_at_column => 'changed_at')::text,
          'deals_stage_history', 'the owner tracks a table of three pipelines');
SELECT is((SELECT format('%s %s %s', pipeline IS NULL, pipelines, rule) FROM funnel.tracked_table),
          't {b2b,retail,partner} forward', 'tracked_table: pipelines, no single pipeline');
SELECT is((SELECT format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = 'deals_stage_history'::regclass AND attname = 'stage'),
          'deal_stage', 'the history''s stage column is unbound');
SELECT is((SELECT string_agg(format('%s %s', deal_id, stage), ', ' ORDER BY deal_id) FROM deals_stage_history),
          '1 b2b:lead, 2 retail:lead, 3 partner:lead, 9 partner:won', 'backfilled: one open visit per deal');

-- the rule and allow-lists, per pipeline ---------------------------------------
UPDATE deals SET stage = 'b2b:proposal', changed_at = '2024-01-03' WHERE id = 1;
SELECT throws_ok($$UPDATE deals SET stage = 'b2b:qualified' WHERE id = 1$$, '23514',
                 'invalid stage transition from "proposal" to "qualified" in pipeline "b2b"',
                 'forward rule inside b2b');
UPDATE deals SET stage = 'retail:lost', changed_at = '2024-01-02' WHERE id = 2;
SELECT throws_ok($$UPDATE deals SET stage = 'retail:lead' WHERE id = 2$$, '23514', NULL,
                 'reopening a lost retail deal is refused before the allow-list says so');
RESET ROLE;
SELECT funnel.allow_transition('retail', 'lost', 'lead');
SET ROLE tm_owner;
SELECT lives_ok($$UPDATE deals SET stage = 'retail:lead', changed_at = '2024-01-04' WHERE id = 2$$,
                'retail''s allow-list applies to retail''s deals');
INSERT INTO deals VALUES (4, 'b2b:lost', 1, NULL, '2024-01-02');
SELECT throws_ok($$UPDATE deals SET stage = 'b2b:lead' WHERE id = 4$$, '23514', NULL,
                 'retail''s allow-list does not apply to b2b''s deals');

-- required fields, per pipeline ----------------------------------------------
RESET ROLE;
SELECT funnel.require_fields('partner', 'qualified', ARRAY['contact']);
SET ROLE tm_owner;
SELECT throws_ok($$UPDATE deals SET stage = 'partner:proposal' WHERE id = 3$$, '23514',
                 'invalid stage transition from "lead" to "proposal" in pipeline "partner"',
                 'partner requires contact when a deal passes qualified');
INSERT INTO deals VALUES (5, 'b2b:lead', 50, NULL, '2024-01-02');
SELECT lives_ok($$UPDATE deals SET stage = 'b2b:proposal', changed_at = '2024-01-06' WHERE id = 5$$,
                'partner''s required fields do not apply to b2b''s deals');
SELECT lives_ok($$UPDATE deals SET stage = 'partner:proposal', contact = 'ann', changed_at = '2024-01-06' WHERE id = 3$$,
                'with the contact, the partner deal moves');

-- moves between pipelines --------------------------------------------------------
SELECT throws_ok($$UPDATE deals SET stage = 'retail:qualified' WHERE id = 1$$, '23514',
                 'invalid move of a deal from "b2b:proposal" in pipeline "b2b" to "retail:qualified" in pipeline "retail"',
                 'a move to another pipeline is refused without an allow-list entry');
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; h text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN d || ' | ' || h;
END $$;
SELECT is(pg_temp.error_of($$UPDATE deals SET stage = 'retail:qualified' WHERE id = 1$$),
          'Deal 1: A deal moves to another pipeline only where the allow-list of pipeline "b2b" names the target. | Allow the move with funnel.allow_transition(''b2b'', ''proposal'', ''retail:qualified'').',
          'DETAIL names the pipeline whose allow-list decides, HINT the call that allows the move');
SELECT throws_ok($$UPDATE deals SET stage = 'retail:qualified' WHERE id = 1$$, '23514', NULL,
                 'the rule any would not allow it either: a refused move writes nothing');
RESET ROLE;
SELECT throws_ok($$SELECT funnel.allow_transition('b2b', 'proposal', 'b2b:lead')$$, '22023', NULL,
                 'a qualified target in the pipeline itself is refused');
SELECT throws_ok($$SELECT funnel.allow_transition('b2b', 'proposal', 'retail:nope')$$, '42704',
                 'stage "nope" does not exist in pipeline "retail"',
                 'an unknown target stage is refused');
SELECT funnel.allow_transition('b2b', 'proposal', 'retail:qualified');
SELECT funnel.allow_transition('retail', '*', 'partner:lead');
SET ROLE tm_owner;
SELECT lives_ok($$UPDATE deals SET stage = 'retail:qualified', changed_at = '2024-01-07' WHERE id = 1$$,
                'the allow-list entry permits the move b2b:proposal -> retail:qualified');
SELECT throws_ok($$UPDATE deals SET stage = 'b2b:proposal' WHERE id = 1$$, '23514', NULL,
                 'the way back is not allowed');
SELECT lives_ok($$UPDATE deals SET stage = 'qualified', changed_at = '2024-01-08' WHERE id = 2$$,
                'a bare shared name in an UPDATE means the deal''s current pipeline (retail)');
SELECT is((SELECT stage::text FROM deals WHERE id = 2), 'retail:qualified', 'resolved in retail');
SELECT lives_ok($$UPDATE deals SET stage = 'partner:lead', changed_at = '2024-01-09' WHERE id = 2$$,
                '''*'' allows the move from any retail stage');
SELECT throws_ok($$UPDATE deals SET stage = 'partner:proposal' WHERE id = 1$$, '23514', NULL,
                 '''*'' names its target stage only');
RESET ROLE;
SELECT funnel.allow_transition('retail', '*', 'partner:qualified');
SET ROLE tm_owner;
SELECT throws_ok($$UPDATE deals SET stage = 'partner:qualified' WHERE id = 1$$, '23514',
                 'invalid move of a deal from "retail:qualified" to "partner:qualified"',
                 'entering partner at qualified requires its contact');
SELECT lives_ok($$UPDATE deals SET stage = 'partner:qualified', contact = 'bob', changed_at = '2024-01-10' WHERE id = 1$$,
                'with the contact set in the same statement');

-- bare names and other pipelines' values on INSERT ---------------------------------
SELECT throws_ok($$INSERT INTO deals VALUES (6, 'lead', 1)$$, '22P02',
                 'stage name "lead" is ambiguous in tracked table "deals"',
                 'an INSERT''s bare shared name is refused');
SELECT is(pg_temp.error_of($$INSERT INTO deals VALUES (6, 'lead', 1)$$),
          'The table holds several pipelines; it could be ''b2b:lead'', ''retail:lead'' or ''partner:lead''. | Qualify it, as in ''b2b:lead'': a new deal''s pipeline is the pipeline of its stage.',
          'the candidates are named');
RESET ROLE;
SELECT funnel.create_pipeline('other', ARRAY['start']);
SET ROLE tm_owner;
SELECT throws_ok($$INSERT INTO deals VALUES (6, 'other:start', 1)$$, '23514',
                 'stage "other:start" is not of a pipeline of tracked table "deals"',
                 'a stage of a pipeline the table does not track is refused');

-- the history ----------------------------------------------------------------------
SELECT results_eq($$SELECT deal_id, stage::text, entered_at, left_at FROM deals_stage_history ORDER BY deal_id, entered_at$$,
  $$VALUES (1, 'b2b:lead', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz),
           (1, 'b2b:proposal', '2024-01-03', '2024-01-07'),
           (1, 'retail:qualified', '2024-01-07', '2024-01-10'),
           (1, 'partner:qualified', '2024-01-10', NULL),
           (2, 'retail:lead', '2024-01-01', '2024-01-02'),
           (2, 'retail:lost', '2024-01-02', '2024-01-04'),
           (2, 'retail:lead', '2024-01-04', '2024-01-08'),
           (2, 'retail:qualified', '2024-01-08', '2024-01-09'),
           (2, 'partner:lead', '2024-01-09', NULL),
           (3, 'partner:lead', '2024-01-01', '2024-01-06'),
           (3, 'partner:proposal', '2024-01-06', NULL),
           (4, 'b2b:lost', '2024-01-02', NULL),
           (5, 'b2b:lead', '2024-01-02', '2024-01-06'),
           (5, 'b2b:proposal', '2024-01-06', NULL),
           (9, 'partner:won', '2024-01-01', NULL)$$,
  'one history: every visit, moves between pipelines included');
SELECT is_empty($$SELECT * FROM funnel.check_history('deals')$$, 'check_history finds nothing');
SELECT is((SELECT count(*)::int FROM deals d JOIN deals_stage_history h ON h.deal_id = d.id AND h.left_at IS NULL
            WHERE h.stage = d.stage), 6, 'plain SQL: each deal''s one open visit is in its current stage');

-- readers against plain SQL -----------------------------------------------------------
SELECT set_eq($$SELECT deal_id, stage::text, entered_at FROM funnel.pipeline_as_of('deals_stage_history', '2024-01-07 12:00')$$,
              $$SELECT deal_id::text, stage::text, entered_at FROM deals_stage_history
                 WHERE entered_at <= '2024-01-07 12:00' AND (left_at IS NULL OR left_at > '2024-01-07 12:00')$$,
              'pipeline_as_of over three pipelines = plain SQL');
SELECT is((SELECT string_agg(format('%s %s', deal_id, stage), ', ' ORDER BY deal_id)
             FROM funnel.pipeline_as_of('deals_stage_history', '2024-01-07 12:00')),
          '1 retail:qualified, 2 retail:lead, 3 partner:proposal, 4 b2b:lost, 5 b2b:proposal, 9 partner:won',
          'pipeline_as_of: deal 1 in retail after its move');
SELECT set_eq($$SELECT funnel.pipeline_of(stage), count(*) FROM funnel.pipeline_as_of('deals_stage_history', '2024-01-05') GROUP BY 1$$,
              $$VALUES ('b2b', 3::bigint), ('retail', 1), ('partner', 2)$$,
              'pipeline_as_of per pipeline at 2024-01-05');
RESET ROLE;
SELECT funnel.set_stale_after(p, 'qualified', interval '3 days') FROM unnest(ARRAY['retail','partner']) p;
SELECT funnel.set_stale_after('partner', 'lead', interval '1 day');
SET ROLE tm_owner;
SELECT results_eq($$SELECT deal_id, stage::text, entered_at, amount FROM funnel.stale_deals('deals', '2024-01-12')$$,
                  $$SELECT h.deal_id::text, h.stage::text, h.entered_at, d.amount
                      FROM deals_stage_history h JOIN deals d ON d.id = h.deal_id
                     WHERE h.entered_at <= '2024-01-12' AND (h.left_at IS NULL OR h.left_at > '2024-01-12')
                       AND funnel.kind(h.stage) = 'open'
                       AND '2024-01-12'::timestamptz - h.entered_at > funnel.stale_after(h.stage)
                     ORDER BY h.stage, h.entered_at, h.deal_id$$,
                  'stale_deals over three pipelines = plain SQL');
SELECT is((SELECT string_agg(deal_id || ' ' || stage, ', ' ORDER BY deal_id) FROM funnel.stale_deals('deals', '2024-01-12')),
          '2 partner:lead', 'stale at 2024-01-12: only deal 2, moved into partner:lead three days ago');
SELECT is((SELECT string_agg(deal_id || ' ' || stage, ', ' ORDER BY deal_id) FROM funnel.stale_deals('deals', '2024-01-09 12:00')),
          NULL, 'at 2024-01-09 noon nothing is stale: deal 1 has been 2.5 days in retail:qualified (stale after 3)');

-- next_stages across pipelines ------------------------------------------------------
SELECT is((SELECT string_agg(stage || ' ' || reason, ', ' ORDER BY stage) FROM funnel.next_stages('deals', 5)
            WHERE allowed OR funnel.pipeline_of(stage) <> 'b2b'),
          'b2b:won allowed, b2b:lost allowed, retail:lead transition_not_allowed, retail:qualified allowed, retail:proposal transition_not_allowed, retail:won transition_not_allowed, retail:lost transition_not_allowed, partner:lead transition_not_allowed, partner:qualified transition_not_allowed, partner:proposal transition_not_allowed, partner:won transition_not_allowed, partner:lost transition_not_allowed',
          'next_stages: b2b''s moves, and the one move to another pipeline the allow-list permits');
SELECT is((SELECT string_agg(stage || ' ' || reason || ' ' || missing_fields::text, ', ' ORDER BY stage) FROM funnel.next_stages('deals', 2)
            WHERE funnel.pipeline_of(stage) <> 'partner'),
          'b2b:lead transition_not_allowed {}, b2b:qualified transition_not_allowed {}, b2b:proposal transition_not_allowed {}, b2b:won transition_not_allowed {}, b2b:lost transition_not_allowed {}, retail:lead transition_not_allowed {}, retail:qualified transition_not_allowed {}, retail:proposal transition_not_allowed {}, retail:won transition_not_allowed {}, retail:lost transition_not_allowed {}',
          'next_stages of a partner deal: no move out of partner is allowed');

-- a move into another pipeline needs its owner too --------------------------------
RESET ROLE;
GRANT EXECUTE ON FUNCTION funnel.create_pipeline(text, text[], double precision[], text[], text[]),
                          funnel.allow_transition(text, text, text) TO tm_owner;
SET ROLE tm_owner;
SELECT funnel.create_pipeline('mine', ARRAY['lead']);
SELECT throws_ok($$SELECT funnel.allow_transition('mine', 'lead', 'b2b:lead')$$, '42501', NULL,
                 'a NOSUPERUSER owner of one pipeline cannot open a way into another role''s pipeline');
SELECT throws_like($$SELECT funnel.allow_transition('mine', 'lead', 'b2b:lead')$$,
                   'permission denied for pipeline "b2b" owned by role %',
                   'the error names the target pipeline');
SELECT lives_ok($$SELECT funnel.allow_transition('mine', 'lead', 'won')$$, 'but changes its own pipeline''s allow-list');
RESET ROLE;
SELECT funnel.drop_pipeline('mine');

-- renames follow qualified targets; untrack ----------------------------------------
RESET ROLE;
SELECT funnel.rename_stage('partner', 'lead', 'intro');
SELECT is((SELECT string_agg(format('%s %s %s', pipeline, from_stage, to_stage), ', ' ORDER BY pipeline, from_stage, to_stage)
             FROM funnel.allowed_transition),
          'b2b proposal retail:qualified, retail * partner:intro, retail * partner:qualified, retail lost lead',
          'renaming a stage renames it in qualified targets');
SELECT funnel.drop_pipeline('other');
SET ROLE tm_owner;
SELECT lives_ok($$SELECT funnel.untrack('deals')$$, 'untrack');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM funnel.tracked_table), 0, 'untracked');

SELECT * FROM finish();
ROLLBACK;
