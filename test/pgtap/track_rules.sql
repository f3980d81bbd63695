-- test/pgtap/track_rules.sql: the transition rules of funnel.track(), move by move
BEGIN;
SELECT plan(131);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);

CREATE TABLE deals_forward (id serial PRIMARY KEY, stage funnel.deal_stage NOT NULL,
                            amount numeric, close_date date, changed_at timestamptz);
CREATE TABLE deals_sequential (LIKE deals_forward INCLUDING ALL);
CREATE TABLE deals_any (LIKE deals_forward INCLUDING ALL);
SELECT is(funnel.track('deals_forward', 'b2b')::text, 'deals_forward_stage_history', 'track returns the history table');
SELECT is(funnel.track('deals_sequential', 'b2b', rule => 'sequential')::text, 'deals_sequential_stage_history', 'track sequential');
SELECT is(funnel.track('deals_any', 'b2b', rule => 'any', changed_at_column => 'changed_at')::text,
          'deals_any_stage_history', 'track any with changed_at');

-- move a new deal from one stage to another; 'ok' or the SQLSTATE
CREATE FUNCTION try_move(tbl text, from_stage text, to_stage text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    deal int;
BEGIN
    EXECUTE format('INSERT INTO %I (stage) VALUES (%L) RETURNING id', tbl, 'b2b:' || from_stage) INTO deal;
    BEGIN
        EXECUTE format('UPDATE %I SET stage = %L WHERE id = %s', tbl, 'b2b:' || to_stage, deal);
    EXCEPTION WHEN others THEN
        RETURN SQLSTATE;
    END;
    RETURN 'ok';
END
$$;

CREATE TEMP TABLE allowed (rule text, from_stage text, to_stage text);
INSERT INTO allowed VALUES
  -- forward: any later open stage, any won/lost stage; nothing out of won/lost
  ('forward', 'lead', 'qualified'), ('forward', 'lead', 'proposal'), ('forward', 'lead', 'negotiation'),
  ('forward', 'lead', 'won'), ('forward', 'lead', 'lost'),
  ('forward', 'qualified', 'proposal'), ('forward', 'qualified', 'negotiation'),
  ('forward', 'qualified', 'won'), ('forward', 'qualified', 'lost'),
  ('forward', 'proposal', 'negotiation'), ('forward', 'proposal', 'won'), ('forward', 'proposal', 'lost'),
  ('forward', 'negotiation', 'won'), ('forward', 'negotiation', 'lost'),
  -- sequential: the next open stage, lost from any open stage, won from the last open stage
  ('sequential', 'lead', 'qualified'), ('sequential', 'lead', 'lost'),
  ('sequential', 'qualified', 'proposal'), ('sequential', 'qualified', 'lost'),
  ('sequential', 'proposal', 'negotiation'), ('sequential', 'proposal', 'lost'),
  ('sequential', 'negotiation', 'won'), ('sequential', 'negotiation', 'lost');

-- every (rule, from, to) pair of the 6 stages: 3 x 30 tests
SELECT is(try_move('deals_' || r.rule, f.s, t.s),
          CASE WHEN r.rule = 'any' OR EXISTS (SELECT 1 FROM allowed a WHERE a.rule = r.rule
                                                 AND a.from_stage = f.s AND a.to_stage = t.s)
               THEN 'ok' ELSE '23514' END,
          format('%s: %s -> %s', r.rule, f.s, t.s))
  FROM unnest(ARRAY['forward', 'sequential', 'any']) AS r(rule),
       unnest(ARRAY['lead','qualified','proposal','negotiation','won','lost']) WITH ORDINALITY AS f(s, i),
       unnest(ARRAY['lead','qualified','proposal','negotiation','won','lost']) WITH ORDINALITY AS t(s, j)
 WHERE f.s <> t.s
 ORDER BY r.rule, f.i, t.j;

-- refused moves wrote nothing; every allowed move wrote one visit
SELECT is((SELECT count(*) FROM deals_forward_stage_history),
          (SELECT count(*) FROM deals_forward) + 14, 'forward: one visit per deal + one per allowed move');
SELECT is((SELECT count(*) FROM deals_sequential_stage_history),
          (SELECT count(*) FROM deals_sequential) + 8, 'sequential: one visit per deal + one per allowed move');
SELECT is((SELECT count(*) FROM deals_any_stage_history),
          (SELECT count(*) FROM deals_any) * 2, 'any: every move wrote a visit');

-- the message and its detail
INSERT INTO deals_forward (id, stage) VALUES (1000, 'b2b:proposal');
SELECT throws_ok($$UPDATE deals_forward SET stage = 'lead' WHERE id = 1000$$, '23514',
                 'invalid stage transition from "proposal" to "lead" in pipeline "b2b"',
                 'message names both stages and the pipeline');
CREATE FUNCTION error_detail(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END
$$;
SELECT is(error_detail($$UPDATE deals_forward SET stage = 'lead' WHERE id = 1000$$),
          'Deal 1000: Allowed targets from "proposal": negotiation, won, lost.', 'detail names the deal and lists the allowed targets');

-- allow-list on top of each rule
SELECT funnel.allow_transition('b2b', 'lost', 'lead');
SELECT is(try_move('deals_forward', 'lost', 'lead'), 'ok', 'allow-listed reopen under forward');
SELECT is(try_move('deals_sequential', 'lost', 'lead'), 'ok', 'allow-listed reopen under sequential');
SELECT is(try_move('deals_forward', 'lost', 'qualified'), '23514', 'other moves out of lost stay refused');
SELECT is(error_detail($$UPDATE deals_forward SET stage = 'won' WHERE id = (SELECT max(id) FROM deals_forward WHERE stage = 'b2b:lost')$$),
          format('Deal %s: Allowed targets from "lost": lead.', (SELECT max(id) FROM deals_forward WHERE stage = 'b2b:lost')),
          'detail includes allow-listed targets');
SELECT funnel.disallow_transition('b2b', 'lost', 'lead');
SELECT is(try_move('deals_forward', 'lost', 'lead'), '23514', 'disallow_transition takes effect in the same transaction');

-- retired stages: not entered under any rule, even allow-listed; history stays
SELECT funnel.allow_transition('b2b', 'lost', 'qualified');
SELECT funnel.retire_stage('b2b', 'qualified');
SELECT is(try_move('deals_any', 'lead', 'qualified'), '23514', 'retired stage refused under any');
SELECT is(try_move('deals_forward', 'lost', 'qualified'), '23514', 'retired stage refused even allow-listed');
SELECT is(try_move('deals_sequential', 'lead', 'proposal'), 'ok', 'sequential: the next stage is the next one not retired');
SELECT throws_ok($$INSERT INTO deals_any (stage) VALUES ('b2b:qualified')$$, '23514',
                 'invalid initial stage "qualified" in pipeline "b2b"', 'a new deal cannot start in a retired stage');
SELECT funnel.retire_stage('b2b', 'qualified', false);
SELECT is(try_move('deals_any', 'lead', 'qualified'), 'ok', 'un-retired stage can be entered again');

-- required fields: entering, skipping past, won passes every open stage, lost passes none
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount', 'close_date']);
SELECT is(try_move('deals_any', 'qualified', 'proposal'), '23514', 'entering needs the fields');
SELECT is(try_move('deals_any', 'lead', 'negotiation'), '23514', 'skipping past needs the fields');
SELECT is(try_move('deals_any', 'lead', 'won'), '23514', 'won passes every open stage');
SELECT is(try_move('deals_any', 'lead', 'lost'), 'ok', 'lost passes nothing');
INSERT INTO deals_any (id, stage, amount, close_date) VALUES (2100, 'b2b:negotiation', 1, '2030-01-01'),
                                                          (2101, 'b2b:negotiation', 1, '2030-01-01');
SELECT lives_ok($$UPDATE deals_any SET stage = 'qualified', amount = NULL WHERE id = 2100$$, 'a backward move passes nothing');
SELECT lives_ok($$UPDATE deals_any SET stage = 'won', amount = NULL WHERE id = 2101$$, 'from after the stage: not passed again');
INSERT INTO deals_any (id, stage, amount) VALUES (2000, 'b2b:qualified', 5);
SELECT throws_ok($$UPDATE deals_any SET stage = 'proposal' WHERE id = 2000$$, '23514',
                 'invalid stage transition from "qualified" to "proposal" in pipeline "b2b"', 'required field message');
SELECT is(error_detail($$UPDATE deals_any SET stage = 'proposal' WHERE id = 2000$$),
          'Deal 2000: Stage "proposal" requires a value in "close_date".', 'detail names the deal and the missing field');
SELECT lives_ok($$UPDATE deals_any SET stage = 'proposal', close_date = '2030-01-01' WHERE id = 2000$$,
                'fields set in the same UPDATE');
SELECT throws_ok($$INSERT INTO deals_any (stage) VALUES ('b2b:negotiation')$$, '23514',
                 'invalid initial stage "negotiation" in pipeline "b2b"', 'a new deal past the stage needs the fields');
SELECT lives_ok($$INSERT INTO deals_any (stage) VALUES ('b2b:lead')$$, 'a new deal before the stage does not');
SELECT funnel.require_fields('b2b', 'proposal', '{}');

-- other refusals
SELECT throws_ok($$UPDATE deals_any SET stage = 'retail:visit' WHERE id = 2000$$, '22P02', NULL,
                 'a stage of another pipeline');
SELECT throws_ok($$UPDATE deals_any SET id = 2001 WHERE id = 2000$$, '0A000', NULL, 'a changed primary key');
SELECT throws_ok($$INSERT INTO deals_any (stage) VALUES ('won'), ('retail:lead')$$, '22P02', NULL,
                 'COPY/INSERT of a stage of another pipeline');

-- bare names shared by pipelines resolve to the tracked pipeline
INSERT INTO deals_any (id, stage) VALUES (3000, 'lead');
SELECT is((SELECT stage::text FROM deals_any WHERE id = 3000), 'b2b:lead', 'bare shared name resolved on INSERT');
UPDATE deals_any SET stage = 'won' WHERE id = 3000;
SELECT is((SELECT stage::text FROM deals_any WHERE id = 3000), 'b2b:won', 'bare shared name resolved on UPDATE');
SELECT results_eq($$SELECT stage::text, left_at IS NULL FROM deals_any_stage_history WHERE deal_id = 3000 ORDER BY entered_at, left_at NULLS LAST$$,
                  $$VALUES ('b2b:lead', false), ('b2b:won', true)$$, 'history of the resolved moves');

-- effective time: changed_at; now() raised to the open visit's entered_at
INSERT INTO deals_any (id, stage, changed_at) VALUES (4000, 'b2b:lead', now() + interval '1 hour');
UPDATE deals_any SET stage = 'qualified', changed_at = NULL WHERE id = 4000;
SELECT results_eq($$SELECT entered_at - now(), left_at - now() FROM deals_any_stage_history WHERE deal_id = 4000 ORDER BY entered_at, left_at NULLS LAST$$,
                  $$VALUES (interval '1 hour', interval '1 hour'), (interval '1 hour', NULL)$$,
                  'now() earlier than the open visit is raised to its entered_at');
SELECT throws_ok($$UPDATE deals_any SET stage = 'proposal', changed_at = now() WHERE id = 4000$$, '23514', NULL,
                 'a changed_at earlier than the open visit is refused');
UPDATE deals_any SET stage = 'proposal', changed_at = now() + interval '2 hours' WHERE id = 4000;
SELECT is((SELECT entered_at - now() FROM deals_any_stage_history WHERE deal_id = 4000 AND left_at IS NULL),
          interval '2 hours', 'changed_at is the time of the move');

-- the cache follows stage renames and new stages
SELECT funnel.allow_transition('b2b', 'proposal', 'lead');
SELECT funnel.rename_stage('b2b', 'proposal', 'offer');
SELECT is((SELECT string_agg(from_stage || '>' || to_stage, ',' ORDER BY 1) FROM funnel.allowed_transition),
          'lost>qualified,offer>lead', 'rename_stage renames the stage in the allow-list');
SELECT funnel.disallow_transition('b2b', 'offer', 'lead');
SELECT throws_ok($$UPDATE deals_forward SET stage = 'lead' WHERE id = 1000$$, '23514',
                 'invalid stage transition from "offer" to "lead" in pipeline "b2b"', 'renamed stage in messages');

SELECT is((SELECT count(*)::int FROM funnel.check_history('deals_forward')) +
          (SELECT count(*)::int FROM funnel.check_history('deals_sequential')) +
          (SELECT count(*)::int FROM funnel.check_history('deals_any')), 0, 'every invariant holds');

SELECT * FROM finish();
ROLLBACK;
