-- test/citus/track_many.sql: one Citus distributed deals table holding the
-- deals of three pipelines (funnel.track(deals, pipelines => ...)), tracked
-- by a NOSUPERUSER table owner.  The shards' triggers carry the pipelines in
-- a pipelines= argument (one of the names holds a space, a comma and a
-- quote); each deal follows its own pipeline's rule, allow-list and required
-- fields on the shards exactly as on a single node.  Every statement runs
-- on the distributed table and on a tracked local copy; the histories, the
-- journeys per (deal, pipeline) and report() must be equal, and equal to
-- plain SQL over the same rows.  Effective times are given in changed_at
-- (the workers' transactions start at other instants than the
-- coordinator's).  No enclosing transaction: pipeline changes and writes
-- commit one by one, as the workers see a distributed table, and the rules
-- the pipeline log gives them, only once committed.

SELECT funnel.create_pipeline(p, ARRAY['lead', 'qualified', 'proposal'])
  FROM unnest(ARRAY['cm_b2b', 'cm_retail', 'cm re,"tail"']) p;
SELECT funnel.create_pipeline('cm_other', ARRAY['lead']);
SELECT funnel.require_fields('cm_retail', 'qualified', ARRAY['contact']);
CREATE ROLE cm_owner NOSUPERUSER LOGIN;
GRANT CREATE ON SCHEMA public TO cm_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text[], name, name, text), funnel.untrack(regclass) TO cm_owner;

-- the error of a statement, the shard's number in a name made constant
CREATE FUNCTION cm_error(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; m text; d text; h text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN regexp_replace(concat_ws(' | ', s, m, nullif(d, ''), nullif(h, '')), '(cm_[a-z_]+)_[0-9]{4,}', '\1_N', 'g');
END $$;

SET SESSION AUTHORIZATION cm_owner;
CREATE TABLE cm_deals (id bigint PRIMARY KEY, stage funnel.deal_stage NOT NULL, amount numeric,
                       contact text, changed_at timestamptz);
SELECT create_distributed_table('cm_deals', 'id', shard_count => 4);
CREATE TABLE cm_local (LIKE cm_deals INCLUDING ALL);
INSERT INTO cm_deals VALUES (1, 'cm_b2b:lead', 10, NULL, '2024-01-01'), (2, 'cm_retail:lead', 20, NULL, '2024-01-01'),
                            (3, 'cm re,"tail":lead', 30, NULL, '2024-01-01'), (4, 'cm_b2b:qualified', 40, NULL, '2024-01-01');
INSERT INTO cm_local SELECT * FROM cm_deals;
SELECT funnel.track('cm_deals', pipelines => ARRAY['cm_b2b', 'cm_retail', 'cm re,"tail"'],
                    changed_at_column => 'changed_at') AS cm_history \gset
SELECT funnel.track('cm_local', pipelines => ARRAY['cm_b2b', 'cm_retail', 'cm re,"tail"'],
                    changed_at_column => 'changed_at');
RESET SESSION AUTHORIZATION;

SELECT plan(34);

SELECT is(:'cm_history'::text, 'cm_deals_stage_history', 'track(pipelines => ...) on a hash-distributed table');
SELECT is((SELECT p.partmethod::text || ' ' || (p.colocationid = d.colocationid)::text
             FROM pg_dist_partition p, pg_dist_partition d
            WHERE p.logicalrelid = 'cm_deals_stage_history'::regclass AND d.logicalrelid = 'cm_deals'::regclass),
          'h true', 'the history is hash-distributed, co-located with the deals');
SELECT is((SELECT encode(tgargs, 'escape') FROM pg_trigger
            WHERE tgrelid = 'cm_deals'::regclass AND tgname = 'funnel_track_insert'),
          E'citus\\000deals=public.cm_deals\\000history=public.cm_deals_stage_history\\000pipelines={cm_b2b,cm_retail,"cm re,\\\\"tail\\\\""}\\000stage_column=stage\\000rule=forward\\000key_column=id\\000changed_at_column=changed_at\\000',
          'the shards'' triggers carry the pipelines as the text form of a text[], names quoted');
SELECT is(current_setting('citus.enable_unsafe_triggers'), 'off', 'track() restores citus.enable_unsafe_triggers');
SELECT results_eq($$SELECT deal_id, stage::text, left_at IS NULL FROM cm_deals_stage_history ORDER BY 1$$,
                  $$VALUES (1::bigint, 'cm_b2b:lead', true), (2, 'cm_retail:lead', true),
                           (3, 'cm re,"tail":lead', true), (4, 'cm_b2b:qualified', true)$$,
                  'backfilled: one open visit per deal, in its own pipeline');

SET SESSION AUTHORIZATION cm_owner;
-- moves inside each pipeline, one shard and all shards, on both tables
INSERT INTO cm_deals SELECT g, 'cm_b2b:lead', g, NULL, '2024-01-02' FROM generate_series(6, 24, 3) g;
INSERT INTO cm_deals SELECT g, 'cm_retail:lead', g, NULL, '2024-01-02' FROM generate_series(7, 24, 3) g;
INSERT INTO cm_deals SELECT g, 'cm re,"tail":lead', g, NULL, '2024-01-02' FROM generate_series(5, 24, 3) g;
INSERT INTO cm_local SELECT * FROM cm_deals WHERE id >= 5;
UPDATE cm_deals SET stage = 'cm_b2b:proposal', changed_at = '2024-01-03' WHERE id = 1;
UPDATE cm_local SET stage = 'cm_b2b:proposal', changed_at = '2024-01-03' WHERE id = 1;
-- a bare name the pipelines share: Citus sends the statement to the
-- shards as text, so the coordinator must print the value (doc/tracking.md)
SELECT throws_ok($$UPDATE cm_deals SET stage = 'proposal', changed_at = '2024-01-04' WHERE id IN (6, 9, 12)$$,
                   '22P02', 'stage name "proposal" is ambiguous',
                   'a bare shared name in an UPDATE of a distributed table is refused, not guessed');
UPDATE cm_deals SET stage = 'cm_b2b:proposal', changed_at = '2024-01-04' WHERE id IN (6, 9, 12);
UPDATE cm_local SET stage = 'cm_b2b:proposal', changed_at = '2024-01-04' WHERE id IN (6, 9, 12);
UPDATE cm_deals SET stage = 'cm re,"tail":proposal', changed_at = '2024-01-04' WHERE id IN (3, 8, 11);
UPDATE cm_local SET stage = 'cm re,"tail":proposal', changed_at = '2024-01-04' WHERE id IN (3, 8, 11);
SELECT is((SELECT string_agg(format('%s %s', id, stage), ', ' ORDER BY id) FROM cm_deals WHERE id IN (3, 6, 8, 9, 11, 12)),
          '3 cm re,"tail":proposal, 6 cm_b2b:proposal, 8 cm re,"tail":proposal, 9 cm_b2b:proposal, 11 cm re,"tail":proposal, 12 cm_b2b:proposal',
          'multi-shard UPDATEs inside each pipeline');
UPDATE cm_deals SET stage = 'cm_b2b:won', changed_at = '2024-01-05' WHERE id = 9;
UPDATE cm_local SET stage = 'cm_b2b:won', changed_at = '2024-01-05' WHERE id = 9;
UPDATE cm_deals SET stage = 'cm re,"tail":won', changed_at = '2024-01-05' WHERE id = 11;
UPDATE cm_local SET stage = 'cm re,"tail":won', changed_at = '2024-01-05' WHERE id = 11;

-- refusals: the rule, moves between pipelines, required fields; nothing written
CREATE TEMP TABLE cm_before AS SELECT * FROM cm_deals_stage_history;
SELECT throws_ok($$UPDATE cm_deals SET stage = 'cm_b2b:qualified', changed_at = '2024-01-06' WHERE id = 1$$, '23514',
                 'invalid stage transition from "proposal" to "qualified" in pipeline "cm_b2b"',
                 'the forward rule inside cm_b2b, on the shard');
SELECT is(cm_error($$UPDATE cm_deals SET stage = 'cm_retail:qualified', contact = 'ann', changed_at = '2024-01-06' WHERE id = 1$$),
          '23514 | invalid move of a deal from "cm_b2b:proposal" in pipeline "cm_b2b" to "cm_retail:qualified" in pipeline "cm_retail" | Deal 1: A deal moves to another pipeline only where the allow-list of pipeline "cm_b2b" names the target. | Allow the move with funnel.allow_transition(''cm_b2b'', ''proposal'', ''cm_retail:qualified'').',
          'a move to another pipeline without an allow-list entry is refused, both pipelines named');
SELECT is(cm_error($$INSERT INTO cm_deals VALUES (99, 'cm_other:lead', 1, NULL, '2024-01-06')$$),
          '23514 | stage "cm_other:lead" is not of a pipeline of tracked table "cm_deals_N" | The table holds the deals of pipelines "cm_b2b", "cm_retail", "cm re,"tail"". | Call funnel.untrack() and funnel.track() with the pipeline added to track it in this table.',
          'a deal of a pipeline the table does not hold is refused on the shard');
SELECT is(cm_error($$UPDATE cm_deals SET stage = 'cm_retail:lead', changed_at = '2024-01-06' WHERE id = 11$$),
          '23514 | invalid move of a deal from "cm re,"tail":won" in pipeline "cm re,"tail"" to "cm_retail:lead" in pipeline "cm_retail" | Deal 11: A deal moves to another pipeline only where the allow-list of pipeline "cm re,"tail"" names the target. | Allow the move with funnel.allow_transition(''cm re,"tail"'', ''won'', ''cm_retail:lead'').',
          'the pipeline with a comma and a quote in its name is read from the trigger argument');
SELECT set_eq($$SELECT * FROM cm_deals_stage_history$$, $$SELECT * FROM cm_before$$,
              'the refused statements wrote nothing into the history');
SELECT results_eq($$SELECT stage::text FROM cm_deals WHERE id = 1$$, $$VALUES ('cm_b2b:proposal')$$,
                  'the refused deal kept its stage');

-- pipeline changes after track(): the workers' caches see them
RESET SESSION AUTHORIZATION;
SELECT funnel.allow_transition('cm_b2b', 'proposal', 'cm_retail:qualified');
SELECT funnel.add_stage('cm_retail', 'negotiation', after => 'qualified');
SET SESSION AUTHORIZATION cm_owner;
SELECT is(cm_error($$UPDATE cm_deals SET stage = 'cm_retail:qualified', changed_at = '2024-01-07' WHERE id = 1$$),
          '23514 | invalid move of a deal from "cm_b2b:proposal" to "cm_retail:qualified" | Deal 1: Entering pipeline "cm_retail" at "qualified" requires a value in "contact". | Set contact in the same statement.',
          'allowed by the new allow-list entry, the move still needs the fields cm_retail requires');
SELECT lives_ok($$UPDATE cm_deals SET stage = 'cm_retail:qualified', contact = 'ann', changed_at = '2024-01-07' WHERE id = 1$$,
                'with the contact, the deal moves to cm_retail as the new entry allows');
UPDATE cm_local SET stage = 'cm_retail:qualified', contact = 'ann', changed_at = '2024-01-07' WHERE id = 1;
SELECT lives_ok($$UPDATE cm_deals SET stage = 'cm_retail:negotiation', changed_at = '2024-01-08' WHERE id = 1$$,
                'a stage added after track() is known on the shard');
UPDATE cm_local SET stage = 'cm_retail:negotiation', changed_at = '2024-01-08' WHERE id = 1;
SELECT is(cm_error($$UPDATE cm_deals SET stage = 'cm_retail:qualified', changed_at = '2024-01-09' WHERE id = 4$$),
          '23514 | invalid move of a deal from "cm_b2b:qualified" in pipeline "cm_b2b" to "cm_retail:qualified" in pipeline "cm_retail" | Deal 4: A deal moves to another pipeline only where the allow-list of pipeline "cm_b2b" names the target. | Allow the move with funnel.allow_transition(''cm_b2b'', ''qualified'', ''cm_retail:qualified'').',
          'the entry allows the move from proposal only');
-- more moves between pipelines, and a deal deleted
RESET SESSION AUTHORIZATION;
SELECT funnel.allow_transition('cm_retail', '*', 'cm_b2b:lead');
SET SESSION AUTHORIZATION cm_owner;
UPDATE cm_deals SET stage = 'cm_b2b:lead', changed_at = '2024-01-10' WHERE id IN (2, 7, 10);
UPDATE cm_local SET stage = 'cm_b2b:lead', changed_at = '2024-01-10' WHERE id IN (2, 7, 10);
UPDATE cm_deals SET stage = 'cm_b2b:won', changed_at = '2024-01-11' WHERE id = 7;
UPDATE cm_local SET stage = 'cm_b2b:won', changed_at = '2024-01-11' WHERE id = 7;
DELETE FROM cm_deals WHERE id = 13;
DELETE FROM cm_local WHERE id = 13;

-- the history: the local copy's, and plain SQL
-- (deal 13's visit was closed at the DELETE's now(), on each side its own)
SELECT set_eq($$SELECT deal_id, stage::text, entered_at, CASE WHEN deal_id <> 13 THEN left_at END, left_at IS NULL FROM cm_deals_stage_history$$,
              $$SELECT deal_id, stage::text, entered_at, CASE WHEN deal_id <> 13 THEN left_at END, left_at IS NULL FROM cm_local_stage_history$$,
              'the distributed history equals the local copy''s');
SELECT set_eq($$SELECT deal_id, stage::text FROM cm_deals_stage_history WHERE left_at IS NULL$$,
              $$SELECT id, stage::text FROM cm_deals$$,
              'one open visit per deal, in its current stage');
SELECT results_eq($$SELECT stage::text, entered_at, left_at FROM cm_deals_stage_history WHERE deal_id = 1 ORDER BY entered_at$$,
                  $$VALUES ('cm_b2b:lead', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz),
                           ('cm_b2b:proposal', '2024-01-03', '2024-01-07'),
                           ('cm_retail:qualified', '2024-01-07', '2024-01-08'),
                           ('cm_retail:negotiation', '2024-01-08', NULL)$$,
                  'deal 1: its visits in cm_b2b, then in cm_retail');
SELECT is((SELECT count(*)::int FROM cm_deals_stage_history h JOIN cm_deals_stage_history n
             ON n.deal_id = h.deal_id AND n.entered_at = h.left_at
            WHERE funnel.pipeline_of(n.stage) <> funnel.pipeline_of(h.stage)),
          4, 'four moves between pipelines (deals 1, 2, 7 and 10), none of the refused ones');
SELECT results_eq($$SELECT stage::text, left_at IS NOT NULL FROM cm_deals_stage_history WHERE deal_id = 13$$,
                  $$VALUES ('cm_retail:lead', true)$$,
                  'the deleted deal''s visit is closed on its shard');

-- journeys and reports of the distributed history
CREATE TEMP VIEW cm_j AS
  SELECT 'dist' AS src, p.deal_id, p.p, funnel.journey(h.stage, h.entered_at, h.left_at, p.p) AS j
    FROM (SELECT DISTINCT deal_id, funnel.pipeline_of(stage) AS p FROM cm_deals_stage_history) p
    JOIN cm_deals_stage_history h USING (deal_id)
   GROUP BY 1, 2, 3;
SELECT set_eq($$SELECT deal_id, p, j::text FROM cm_j WHERE deal_id <> 13$$,
              $$SELECT p.deal_id, p.p, funnel.journey(h.stage, h.entered_at, h.left_at, p.p)::text
                  FROM (SELECT DISTINCT deal_id, funnel.pipeline_of(stage) AS p FROM cm_local_stage_history) p
                  JOIN cm_local_stage_history h USING (deal_id) WHERE p.deal_id <> 13 GROUP BY 1, 2$$,
              'journey(stage, entered_at, left_at, pipeline) per deal: the same over the distributed history as over the local copy');
SELECT set_eq($$SELECT deal_id, p, funnel.outcome(j) FROM cm_j$$,
  $$WITH own AS (
      SELECT DISTINCT ON (h.deal_id, funnel.pipeline_of(h.stage)) h.deal_id, funnel.pipeline_of(h.stage) AS p, h.stage, h.left_at
        FROM cm_local_stage_history h
       ORDER BY h.deal_id, funnel.pipeline_of(h.stage), h.entered_at DESC)
    SELECT o.deal_id, o.p,
           CASE WHEN funnel.kind(o.stage) = 'open' AND o.left_at IS NOT NULL
                     AND EXISTS (SELECT 1 FROM cm_local_stage_history x
                                  WHERE x.deal_id = o.deal_id AND funnel.pipeline_of(x.stage) <> o.p
                                    AND x.entered_at >= o.left_at)
                THEN 'moved' ELSE funnel.kind(o.stage) END
      FROM own o$$,
  'each deal''s outcome in each pipeline = plain SQL over the same rows');
-- funnel(journey) over journeys of several nodes: Citus's partial
-- aggregation (worker_partial_agg) calls the transition function itself,
-- and checks EXECUTE on it, which sql/install/grants.sql revokes from
-- PUBLIC: as the superuser (the owner gets 42501 on a worker)
RESET SESSION AUTHORIZATION;
SELECT results_eq(
  $$SELECT r.* FROM funnel.report((SELECT funnel.funnel(j) FROM cm_j WHERE p = 'cm_b2b')) r$$,
  $$SELECT r.* FROM funnel.report((SELECT funnel.funnel(x.j)
                                     FROM (SELECT funnel.journey(h.stage, h.entered_at, h.left_at, 'cm_b2b') AS j
                                             FROM cm_local_stage_history h
                                            WHERE h.deal_id IN (SELECT deal_id FROM cm_local_stage_history
                                                                 WHERE funnel.pipeline_of(stage) = 'cm_b2b')
                                            GROUP BY h.deal_id) x)) r$$,
  'report() of cm_b2b over the distributed history equals the local copy''s');
SELECT is((SELECT format('%s moved, %s won', sum(moved_here), sum(deals) FILTER (WHERE kind = 'won')) FROM funnel.report((SELECT funnel.funnel(j) FROM cm_j WHERE p = 'cm_b2b'))),
          (SELECT format('%s moved, %s won', count(*) FILTER (WHERE funnel.outcome(j) = 'moved'), count(*) FILTER (WHERE funnel.outcome(j) = 'won'))
             FROM cm_j WHERE p = 'cm_b2b'),
          'report(): the moved and won deals of cm_b2b as counted per journey');
DROP VIEW cm_j;
SET SESSION AUTHORIZATION cm_owner;

-- forged trigger arguments: an unknown pipeline, an unreadable list
SET citus.enable_unsafe_triggers = on;
CREATE TRIGGER cm_bad AFTER DELETE ON cm_deals FOR EACH ROW EXECUTE FUNCTION funnel_internal.track_delete(
    'citus', 'deals=cm_deals', 'history=cm_deals_stage_history', 'pipelines={cm_b2b,cm_nope}',
    'stage_column=stage', 'rule=forward', 'key_column=id');
SELECT is(cm_error($$DELETE FROM cm_deals WHERE id = 5$$),
          '42704 | pipeline "cm_nope" of tracked table "cm_deals_N" does not exist | Create it on the coordinator (funnel.sync_pipeline_nodes() gives a worker the pipelines it lacks), or drop the funnel_track_* triggers and call funnel.track() again.',
          'a pipelines= argument naming an unknown pipeline is refused');
DROP TRIGGER cm_bad ON cm_deals;
CREATE TRIGGER cm_bad AFTER DELETE ON cm_deals FOR EACH ROW EXECUTE FUNCTION funnel_internal.track_delete(
    'citus', 'deals=cm_deals', 'history=cm_deals_stage_history', 'pipelines={cm_b2b,"cm_retail}',
    'stage_column=stage', 'rule=forward', 'key_column=id');
SELECT is(cm_error($$DELETE FROM cm_deals WHERE id = 5$$),
          '39P01 | funnel trigger "cm_bad_N" of table "cm_deals_N" has unexpected arguments | Setting "pipelines" is "{cm_b2b,"cm_retail}": a quoted name is not closed. | Drop the funnel_track_* triggers, or call funnel.track() again.',
          'an unreadable pipelines= argument is refused, naming it');
DROP TRIGGER cm_bad ON cm_deals;
RESET citus.enable_unsafe_triggers;
SELECT results_eq($$SELECT count(*)::int FROM cm_deals WHERE id = 5$$, $$VALUES (1)$$, 'the refused DELETE deleted nothing');

-- untrack() and track() again
SELECT funnel.untrack('cm_deals');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'cm_deals'::regclass AND tgname LIKE 'funnel_track_%'), 0,
          'untrack() dropped the triggers');
UPDATE cm_deals SET stage = 'cm_other:lead' WHERE id = 5;
DROP TABLE cm_deals_stage_history;
SELECT throws_ok($$SELECT funnel.track('cm_deals', pipelines => ARRAY['cm_b2b', 'cm_retail', 'cm re,"tail"'], changed_at_column => 'changed_at')$$,
                 '23514', NULL, 'track() again refuses a deal of none of the pipelines');
UPDATE cm_deals SET stage = 'cm_retail:lead' WHERE id = 5;
SELECT funnel.track('cm_deals', pipelines => ARRAY['cm_b2b', 'cm_retail', 'cm re,"tail"'], changed_at_column => 'changed_at');
SELECT set_eq($$SELECT deal_id, stage::text, entered_at FROM cm_deals_stage_history WHERE left_at IS NULL$$,
              $$SELECT id, stage::text, changed_at FROM cm_deals$$,
              'track() again: a new history, one open visit per deal at its effective time');
UPDATE cm_deals SET stage = 'cm_b2b:lead', changed_at = '2024-02-01' WHERE id = 5;
SELECT results_eq($$SELECT stage::text, entered_at, left_at FROM cm_deals_stage_history WHERE deal_id = 5 ORDER BY entered_at$$,
                  $$VALUES ('cm_retail:lead', '2024-01-02'::timestamptz, '2024-02-01'::timestamptz),
                           ('cm_b2b:lead', '2024-02-01', NULL)$$,
                  'tracked again: a move between pipelines the allow-list permits is written on the shards');
SELECT is(cm_error($$UPDATE cm_deals SET stage = 'cm_retail:lead', changed_at = '2024-02-02' WHERE id = 5$$),
          '23514 | invalid move of a deal from "cm_b2b:lead" in pipeline "cm_b2b" to "cm_retail:lead" in pipeline "cm_retail" | Deal 5: A deal moves to another pipeline only where the allow-list of pipeline "cm_b2b" names the target. | Allow the move with funnel.allow_transition(''cm_b2b'', ''lead'', ''cm_retail:lead'').',
          'tracked again: a move the allow-list does not permit is refused');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();

DROP TABLE cm_before, cm_deals, cm_deals_stage_history, cm_local, cm_local_stage_history;
DROP FUNCTION cm_error(text);
SELECT funnel.drop_pipeline(p) FROM unnest(ARRAY['cm_b2b', 'cm_retail', 'cm re,"tail"', 'cm_other']) p;
REVOKE ALL ON SCHEMA public FROM cm_owner;
REVOKE EXECUTE ON FUNCTION funnel.track(regclass, text[], name, name, text), funnel.untrack(regclass) FROM cm_owner;
DROP ROLE cm_owner;
