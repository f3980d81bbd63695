-- test/pgtap/move_deals.sql: funnel.move_deals(), a batch of moves applied
-- each as if alone, as a NOSUPERUSER app role with only SELECT and UPDATE
-- (some columns) on a table owned by a NOSUPERUSER owner, under row-level
-- security.
--   - 10,000 moves, about 10% refused for each reason (rule, retired stage,
--     required fields, changed_at, a CHECK constraint of the table, an
--     invalid value) and 10% not found: every status and reason is the one
--     the move's construction implies; the table and its history equal those
--     of the same moves applied by a per-row loop with savepoints to a copy;
--     refused rows are unchanged; the history has exactly the accepted
--     moves; check_history() is empty
--   - a malformed batch, an unknown column, a column the role may not
--     update, an untracked table: refused as a whole, nothing written; the
--     internal loop refuses a statement that is not an UPDATE of one deal
--     returning two stages (and rolls it back)
BEGIN;
SELECT plan(27);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']);
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']);
SELECT funnel.require_fields('b2b', 'won', ARRAY['close_date']);
SELECT funnel.retire_stage('b2b', 'negotiation');

CREATE ROLE mv_own NOSUPERUSER;
CREATE ROLE mv_app NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO mv_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO mv_own;

SET ROLE mv_own;
CREATE TABLE deals (id bigint PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                    amount numeric CHECK (amount >= 0), close_date date,
                    changed_at timestamptz, note text);
CREATE TABLE deals_loop (LIKE deals INCLUDING ALL);
SELECT funnel.track('deals', 'b2b', changed_at_column => 'changed_at');
SELECT funnel.track('deals_loop', 'b2b', changed_at_column => 'changed_at');
INSERT INTO deals (id, stage, amount)
SELECT id, (ARRAY['lead','qualified','proposal','lost'])[id % 4 + 1]::funnel.deal_stage,
       CASE WHEN id % 4 = 2 THEN 100 END
  FROM generate_series(1, 10000) AS id;
INSERT INTO deals_loop SELECT * FROM deals;
-- the app sees every deal but those with id % 997 = 0
ALTER TABLE deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE deals_loop ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON deals TO mv_app USING (id % 997 <> 0);
CREATE POLICY app_rows ON deals_loop TO mv_app USING (id % 997 <> 0);
GRANT SELECT, UPDATE (stage, amount, close_date, changed_at) ON deals, deals_loop TO mv_app;
RESET ROLE;
CREATE TABLE before_moves AS SELECT * FROM deals;

-- The moves, in a shuffled order; c = (id / 4) % 10 chooses the move, s =
-- id % 4 the stage it starts from (lead, qualified, proposal with an amount,
-- lost).  expect_* is what the rules, the table and the policy imply.
CREATE TABLE moves AS
SELECT ord, id, c, s,
       CASE c
         WHEN 0 THEN jsonb_build_object('id', id, 'stage', 'negotiation')
         WHEN 1 THEN jsonb_build_object('id', id, 'stage', 'won')
         WHEN 2 THEN jsonb_build_object('id', id, 'stage', 'won', 'amount', 5, 'close_date', '2026-01-31')
         WHEN 3 THEN jsonb_build_object('id', id, 'stage', 'lead')
         WHEN 4 THEN jsonb_build_object('id', id, 'stage', 'proposal', 'amount', 1)
         WHEN 5 THEN jsonb_build_object('id', id, 'stage', 'lost', 'changed_at', '2000-01-01T00:00:00Z')
         WHEN 6 THEN jsonb_build_object('id', id, 'stage', 'b2b:lost')
         WHEN 7 THEN jsonb_build_object('id', id, 'stage', 'proposal', 'amount', -1)
         WHEN 8 THEN jsonb_build_object('id', id, 'stage', 'qualified', 'amount', 'abc')
         WHEN 9 THEN jsonb_build_object('id', id + 20000, 'stage', 'qualified')
       END AS body,
       CASE
         WHEN c = 8 THEN 'refused/22P02/'      -- even for a deal not found
         WHEN c = 9 OR id % 997 = 0 THEN 'not_found//'
         WHEN c = 0 THEN 'refused/23514/retired_stage'
         WHEN c = 7 THEN 'refused/23514/deals_amount_check'
         WHEN c = 1 AND s < 3 THEN 'refused/23514/required_fields_missing'
         WHEN c IN (1, 2, 4) AND s = 3 THEN 'refused/23514/transition_not_allowed'
         WHEN c = 2 THEN 'moved//'
         WHEN c = 3 AND s = 0 THEN 'unchanged//'
         WHEN c = 3 THEN 'refused/23514/transition_not_allowed'
         WHEN c = 4 AND s = 2 THEN 'unchanged//'
         WHEN c = 4 THEN 'moved//'
         WHEN c IN (5, 6) AND s = 3 THEN 'unchanged//'
         WHEN c = 5 THEN 'refused/23514/changed_at_before_entry'
         WHEN c = 6 THEN 'moved//'
       END AS expect,
       CASE WHEN c = 1 AND s < 2 AND id % 997 <> 0 THEN '{amount,close_date}'
            WHEN c = 1 AND s = 2 AND id % 997 <> 0 THEN '{close_date}' END::text[] AS expect_missing
  FROM (SELECT ord, (ord * 7919) % 10000 + 1 AS id FROM generate_series(0, 9999) AS ord) AS o,
       LATERAL (SELECT ((o.id / 4) % 10)::int AS c, (o.id % 4)::int AS s) AS cs;
GRANT SELECT ON moves TO mv_app;

SELECT is((SELECT count(DISTINCT id)::int FROM moves), 10000, 'the batch moves 10,000 distinct deals');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'funnel.move_deals(regclass, jsonb)'::regprocedure), false,
          'move_deals runs as the caller');

-- the batch, as the app role
SET ROLE mv_app;
CREATE TEMP TABLE result AS
SELECT * FROM funnel.move_deals('deals', (SELECT jsonb_agg(body ORDER BY ord) FROM moves));
RESET ROLE;

-- the same moves, one UPDATE each under a savepoint, as the app role
SET ROLE mv_app;
CREATE TEMP TABLE loop_result (ord int, status text, sqlstate text, constraint_name text);
DO $$
DECLARE
    m record;
    n bigint;
    st text;
    con text;
    v_stage funnel.deal_stage(b2b);
    v_amount numeric;
    v_close date;
    v_changed timestamptz;
BEGIN
    FOR m IN SELECT ord, body FROM moves ORDER BY ord LOOP
        BEGIN
            -- the move's values, typed (an invalid one refuses the move)
            v_stage := m.body ->> 'stage';
            v_amount := m.body ->> 'amount';
            v_close := m.body ->> 'close_date';
            v_changed := m.body ->> 'changed_at';
            UPDATE deals_loop d
               SET stage = v_stage,
                   amount = CASE WHEN m.body ? 'amount' THEN v_amount ELSE d.amount END,
                   close_date = CASE WHEN m.body ? 'close_date' THEN v_close ELSE d.close_date END,
                   changed_at = CASE WHEN m.body ? 'changed_at' THEN v_changed ELSE d.changed_at END
             WHERE d.id = (m.body ->> 'id')::bigint;
            GET DIAGNOSTICS n = ROW_COUNT;
            INSERT INTO loop_result VALUES (m.ord, CASE WHEN n = 0 THEN 'not_found' ELSE 'applied' END, NULL, NULL);
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, con = CONSTRAINT_NAME;
            INSERT INTO loop_result VALUES (m.ord, 'refused', st, con);
        END;
    END LOOP;
END
$$;
RESET ROLE;

SELECT is((SELECT count(*)::int FROM result), 10000, 'one result row per move');
SELECT set_eq($$SELECT ordinality FROM result$$, $$SELECT generate_series(1, 10000)::bigint$$,
              'one result per position in the batch');
SELECT is((SELECT count(*)::int FROM result r JOIN moves m ON m.ord + 1 = r.ordinality
            WHERE r.deal_id <> m.body ->> 'id'), 0, 'each result names its deal');
SELECT is((SELECT array_agg(DISTINCT format('%s %s: %s, expected %s', m.c, m.s,
                                             concat_ws('/', r.status, r.sqlstate, r.reason), m.expect))
             FROM result r JOIN moves m ON m.ord + 1 = r.ordinality
            WHERE concat_ws('/', r.status, coalesce(r.sqlstate, ''), coalesce(r.reason, '')) <> m.expect),
          NULL, 'every status, SQLSTATE and reason is the one the move implies');
SELECT results_eq($$SELECT status, count(*)::int FROM result GROUP BY status ORDER BY status$$,
                  $$VALUES ('moved', 1997), ('not_found', 1008), ('refused', 5995), ('unchanged', 1000)$$,
                  'counts by status');
SELECT results_eq($$SELECT coalesce(reason, sqlstate), count(*)::int FROM result WHERE status = 'refused' GROUP BY 1 ORDER BY 1$$,
                  $$VALUES ('22P02', 1000), ('changed_at_before_entry', 749), ('deals_amount_check', 998),
                           ('required_fields_missing', 750), ('retired_stage', 1000), ('transition_not_allowed', 1498)$$,
                  'about 10% refused for each reason');
SELECT is((SELECT count(*)::int FROM result r JOIN moves m ON m.ord + 1 = r.ordinality
            WHERE r.missing_fields IS DISTINCT FROM m.expect_missing), 0,
          'missing_fields lists every empty required field of a refused move');
SELECT is((SELECT count(*)::int FROM result r JOIN moves m ON m.ord + 1 = r.ordinality
            WHERE r.status IN ('moved', 'unchanged')
              AND r.stage IS DISTINCT FROM (m.body ->> 'stage')::funnel.deal_stage(b2b)), 0,
          'a moved or unchanged deal is in the target stage');
SELECT is((SELECT count(*)::int FROM result r JOIN before_moves b ON b.id::text = r.deal_id
            WHERE r.status = 'refused' AND r.sqlstate LIKE '23%' AND r.stage IS DISTINCT FROM b.stage), 0,
          'a refused deal is reported in the stage it stays in');
SELECT is((SELECT count(*)::int FROM result r JOIN loop_result l ON l.ord + 1 = r.ordinality
            WHERE (r.status = 'refused') <> (l.status = 'refused')
               OR r.sqlstate IS DISTINCT FROM l.sqlstate
               OR (r.status = 'refused' AND r.reason IS DISTINCT FROM
                   CASE WHEN l.constraint_name LIKE 'funnel\_%' THEN substr(l.constraint_name, 8)
                        ELSE nullif(l.constraint_name, '') END)
               OR (r.status = 'not_found') <> (l.status = 'not_found')), 0,
          'every move is refused, found or not as in the per-row loop, for the same reason');

-- the tables and histories: as the per-row loop left its copy
SELECT set_eq($$SELECT * FROM deals$$, $$SELECT * FROM deals_loop$$, 'the deals equal the per-row loop''s');
SELECT set_eq($$SELECT deal_id, stage, left_at IS NULL, entered_by FROM deals_stage_history$$,
              $$SELECT deal_id, stage, left_at IS NULL, entered_by FROM deals_loop_stage_history$$,
              'the history equals the per-row loop''s');
SELECT set_eq($$SELECT d.* FROM deals d JOIN result r ON r.deal_id = d.id::text WHERE r.status IN ('refused', 'not_found')$$,
              $$SELECT b.* FROM before_moves b JOIN result r ON r.deal_id = b.id::text WHERE r.status IN ('refused', 'not_found')$$,
              'refused and hidden deals are unchanged');
SELECT set_eq($$SELECT deal_id, stage FROM deals_stage_history WHERE entered_at = now()
                 EXCEPT ALL SELECT id, stage FROM before_moves$$,
              $$SELECT deal_id::bigint, stage FROM result WHERE status = 'moved'$$,
              'the history has one visit per accepted move, and no other');
SELECT is((SELECT count(*)::int FROM deals_stage_history), 10000 + 1997, 'no other visit');
SELECT is_empty($$SELECT * FROM funnel.check_history('deals')$$, 'check_history finds nothing');

-- refused as a whole
SET ROLE mv_app;
SELECT throws_ok($$SELECT * FROM funnel.move_deals('deals', '{"id": 1}')$$, '22023',
                 'moves must be a JSON array, not object', 'moves not an array');
SELECT throws_ok($$SELECT * FROM funnel.move_deals('deals', '[{"id": 2, "stage": "won"}, {"id": 1}]')$$, '22023',
                 'move 2 of the batch is not an object with members "id" and "stage"', 'a move without stage');
SELECT throws_ok($$SELECT * FROM funnel.move_deals('deals', '[{"id": 2, "stage": "qualified"}, {"id": 1, "stage": "lost", "colour": 1}]')$$,
                 '42703', 'column "colour" of move 2 does not exist in table public.deals', 'an unknown column');
SELECT throws_ok($$SELECT * FROM funnel.move_deals('deals', '[{"id": 4, "stage": "qualified"}, {"id": 8, "stage": "lost", "note": "x"}]')$$,
                 '42501', 'permission denied for table deals', 'a column the role may not update');
SELECT throws_ok($$SELECT * FROM funnel.move_deals('before_moves', '[]')$$, '42704',
                 'table public.before_moves is not tracked', 'an untracked table');
-- the internal loop runs only UPDATEs of one deal returning two stages
SELECT throws_ok($$SELECT * FROM funnel_internal.try_moves(ARRAY['UPDATE deals SET amount = 7 WHERE id = 4 RETURNING id, stage'], ARRAY['{}'::jsonb])$$,
                 '42804', 'statement 1 is not an UPDATE returning a deal''s stage before and after',
                 'try_moves: a statement returning other types');
SELECT throws_ok($$SELECT * FROM funnel_internal.try_moves(ARRAY['UPDATE deals SET amount = 7 WHERE id IN (4, 8) RETURNING stage, stage'], ARRAY['{}'::jsonb])$$,
                 '21000', 'statement 1 updated 2 deals', 'try_moves: a statement moving two deals');
SELECT throws_ok($$SELECT * FROM funnel_internal.try_moves(ARRAY['SELECT 1', 'x'], ARRAY['{}'::jsonb])$$,
                 '2202E', '2 statements for 1 moves', 'try_moves: one statement per move');
RESET ROLE;
SELECT set_eq($$SELECT * FROM deals$$, $$SELECT * FROM deals_loop$$, 'the refused batches wrote nothing');

SELECT * FROM finish();
ROLLBACK;
