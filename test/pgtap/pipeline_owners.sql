-- test/pgtap/pipeline_owners.sql: pipelines belong to roles (issue 19.3)
--   - two NOSUPERUSER tenants granted EXECUTE on every pipeline function:
--     neither can change, re-rule, hand over or drop the other's pipeline
--     (42501, and the catalog rows are unchanged); each can its own
--   - a member of the owning role can; a superuser can
--   - alter_pipeline_owner() works like ALTER ... OWNER TO (refused for a
--     role the caller is not a member of)
--   - errors list only the stages of the pipeline at hand, and a missing
--     pipeline's error names no other pipeline
--   - the SECURITY DEFINER bodies cannot be called with a forged caller
BEGIN;
SELECT plan(78);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

CREATE ROLE tenant_a NOSUPERUSER;
CREATE ROLE tenant_b NOSUPERUSER;
CREATE ROLE a_member NOSUPERUSER IN ROLE tenant_a;
CREATE ROLE a_team NOSUPERUSER;
GRANT a_team TO tenant_a;
CREATE ROLE gone NOSUPERUSER;
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'funnel.create_pipeline(text, text[], double precision[], text[], text[])',
        'funnel.add_stage(text, text, double precision, text, text, text)',
        'funnel.rename_stage(text, text, text)',
        'funnel.set_probability(text, text, double precision)',
        'funnel.set_stale_after(text, text, interval)',
        'funnel.retire_stage(text, text, boolean)',
        'funnel.drop_pipeline(text)',
        'funnel.allow_transition(text, text, text)',
        'funnel.disallow_transition(text, text, text)',
        'funnel.require_fields(text, text, text[])',
        'funnel.alter_pipeline_owner(text, regrole)'] LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO tenant_a, tenant_b, a_member', f);
    END LOOP;
END
$$;

-- everything funnel stores about a pipeline, as text (read as superuser)
CREATE FUNCTION owners_snap(p text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(funnel_internal.pipeline_definition(p)::text, 'none') || ' ' || funnel_internal.pipeline_rules(p)::text
$$;
-- the error of a statement as 'SQLSTATE: message | detail | hint', run as the caller
CREATE FUNCTION owners_err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg || ' | ' || det || ' | ' || hnt;
END
$$;

-- each tenant creates a pipeline -------------------------------------------
SET ROLE tenant_a;
SELECT lives_ok($$SELECT funnel.create_pipeline('pipe_a', ARRAY['lead','demo','deal'])$$,
                'tenant_a creates pipe_a');
SET ROLE tenant_b;
SELECT lives_ok($$SELECT funnel.create_pipeline('pipe_b', ARRAY['prospect','trial'])$$,
                'tenant_b creates pipe_b');
RESET ROLE;
SELECT is((SELECT owner::text FROM funnel.pipeline WHERE name = 'pipe_a'), 'tenant_a', 'pipe_a belongs to tenant_a');
SELECT is((SELECT owner::text FROM funnel.pipeline WHERE name = 'pipe_b'), 'tenant_b', 'pipe_b belongs to tenant_b');
SELECT is((SELECT array_agg(DISTINCT owner::text) FROM funnel.stages WHERE pipeline = 'pipe_a'), ARRAY['tenant_a'],
          'funnel.stages shows the owner');
-- SET ROLE counts (current_user, not session_user)
SET ROLE a_member;
SET ROLE tenant_b;
SELECT lives_ok($$SELECT funnel.create_pipeline('pipe_b2', ARRAY['x'])$$, 'create_pipeline after SET ROLE');
RESET ROLE;
SELECT is((SELECT owner::text FROM funnel.pipeline WHERE name = 'pipe_b2'), 'tenant_b',
          'the owner is the current role, not the session user');
SELECT lives_ok($$SELECT funnel.drop_pipeline('pipe_b2')$$, 'superuser drops pipe_b2');

CREATE TEMP TABLE snap_before AS SELECT owners_snap('pipe_a') AS a, owners_snap('pipe_b') AS b;
GRANT SELECT ON snap_before TO PUBLIC;

-- tenant_b cannot change pipe_a --------------------------------------------
SET ROLE tenant_b;
SELECT throws_ok($$SELECT funnel.add_stage('pipe_a', 'x')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: add_stage on pipe_a refused');
SELECT throws_ok($$SELECT funnel.rename_stage('pipe_a', 'lead', 'x')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: rename_stage on pipe_a refused');
SELECT throws_ok($$SELECT funnel.set_probability('pipe_a', 'lead', 0.5)$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: set_probability on pipe_a refused');
SELECT throws_ok($$SELECT funnel.set_stale_after('pipe_a', 'lead', '1 day')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: set_stale_after on pipe_a refused');
SELECT throws_ok($$SELECT funnel.retire_stage('pipe_a', 'lead')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: retire_stage on pipe_a refused');
SELECT throws_ok($$SELECT funnel.allow_transition('pipe_a', 'lost', 'lead')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: allow_transition on pipe_a refused');
SELECT throws_ok($$SELECT funnel.disallow_transition('pipe_a', 'lost', 'lead')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: disallow_transition on pipe_a refused');
SELECT throws_ok($$SELECT funnel.require_fields('pipe_a', 'deal', ARRAY['amount'])$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: require_fields on pipe_a refused');
SELECT throws_ok($$SELECT funnel.alter_pipeline_owner('pipe_a', 'tenant_b')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: alter_pipeline_owner on pipe_a refused');
SELECT throws_ok($$SELECT funnel.drop_pipeline('pipe_a')$$, '42501',
                 'permission denied for pipeline "pipe_a" owned by role tenant_a', 'b: drop_pipeline on pipe_a refused');
SELECT is(owners_err($$SELECT funnel.set_probability('pipe_a', 'lead', 0.5)$$),
          '42501: permission denied for pipeline "pipe_a" owned by role tenant_a | Role tenant_b does not have the privileges of role tenant_a. | Only the owner, its members and superusers can call funnel.set_probability() on this pipeline; the owner can hand it over with funnel.alter_pipeline_owner().',
          'the refusal names the caller and the owner, and says who can');
-- nor forge the caller by calling the SECURITY DEFINER bodies
SELECT throws_ok(format($$SELECT funnel_internal.set_probability_as(%s, 'pipe_a', 'lead', 0.5)$$, 'tenant_a'::regrole::oid),
                 '42501', NULL, 'b cannot call _set_probability_as() with tenant_a as caller');
SELECT throws_ok($$SELECT funnel_internal.set_probability('pipe_a', 'lead', 0.5)$$, '42501', NULL,
                 'b cannot call the body _set_probability() directly');
SELECT throws_ok($$SELECT funnel_internal.alter_pipeline_owner('pipe_a', 'tenant_b')$$, '42501', NULL,
                 'b cannot call the body _alter_pipeline_owner() directly');
SELECT throws_ok($$UPDATE funnel.pipeline SET owner = 'tenant_b' WHERE name = 'pipe_a'$$, '42501', NULL,
                 'b cannot write funnel.pipeline');
RESET ROLE;
SELECT is(owners_snap('pipe_a'), (SELECT a FROM snap_before), 'pipe_a unchanged by all of tenant_b''s attempts');

-- tenant_a cannot change pipe_b --------------------------------------------
SET ROLE tenant_a;
SELECT throws_ok($$SELECT funnel.add_stage('pipe_b', 'x')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: add_stage on pipe_b refused');
SELECT throws_ok($$SELECT funnel.rename_stage('pipe_b', 'trial', 'x')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: rename_stage on pipe_b refused');
SELECT throws_ok($$SELECT funnel.set_probability('pipe_b', 'trial', 0.5)$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: set_probability on pipe_b refused');
SELECT throws_ok($$SELECT funnel.set_stale_after('pipe_b', 'trial', '1 day')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: set_stale_after on pipe_b refused');
SELECT throws_ok($$SELECT funnel.retire_stage('pipe_b', 'trial')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: retire_stage on pipe_b refused');
SELECT throws_ok($$SELECT funnel.allow_transition('pipe_b', 'lost', 'trial')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: allow_transition on pipe_b refused');
SELECT throws_ok($$SELECT funnel.disallow_transition('pipe_b', 'lost', 'trial')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: disallow_transition on pipe_b refused');
SELECT throws_ok($$SELECT funnel.require_fields('pipe_b', 'won', ARRAY['amount'])$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: require_fields on pipe_b refused');
SELECT throws_ok($$SELECT funnel.alter_pipeline_owner('pipe_b', 'tenant_a')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: alter_pipeline_owner on pipe_b refused');
SELECT throws_ok($$SELECT funnel.drop_pipeline('pipe_b')$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a: drop_pipeline on pipe_b refused');
RESET ROLE;
SELECT is(owners_snap('pipe_b'), (SELECT b FROM snap_before), 'pipe_b unchanged by all of tenant_a''s attempts');

-- each can change its own --------------------------------------------------
SET ROLE tenant_a;
SELECT lives_ok($$SELECT funnel.add_stage('pipe_a', 'trial', 0.4, after => 'lead')$$, 'a: add_stage on pipe_a');
SELECT lives_ok($$SELECT funnel.rename_stage('pipe_a', 'demo', 'demo given')$$, 'a: rename_stage on pipe_a');
SELECT lives_ok($$SELECT funnel.set_probability('pipe_a', 'deal', 0.875)$$, 'a: set_probability on pipe_a');
SELECT lives_ok($$SELECT funnel.set_stale_after('pipe_a', 'lead', '9 days')$$, 'a: set_stale_after on pipe_a');
SELECT lives_ok($$SELECT funnel.retire_stage('pipe_a', 'trial')$$, 'a: retire_stage on pipe_a');
SELECT lives_ok($$SELECT funnel.allow_transition('pipe_a', 'lost', 'lead')$$, 'a: allow_transition on pipe_a');
SELECT lives_ok($$SELECT funnel.allow_transition('pipe_a', 'lost', 'deal')$$, 'a: a second allow_transition on pipe_a');
SELECT lives_ok($$SELECT funnel.disallow_transition('pipe_a', 'lost', 'deal')$$, 'a: disallow_transition on pipe_a');
SELECT lives_ok($$SELECT funnel.require_fields('pipe_a', 'deal', ARRAY['amount'])$$, 'a: require_fields on pipe_a');
RESET ROLE;
SELECT is((SELECT string_agg(format('%s/%s/%s/%s/%s', stage, probability, kind, coalesce(stale_after::text, '-'), retired), ' ' ORDER BY position)
             FROM funnel.stages WHERE pipeline = 'pipe_a'),
          'lead/0.25/open/9 days/f trial/0.4/open/-/t demo given/0.5/open/-/f deal/0.875/open/-/f won/1/won/-/f lost/0/lost/-/f',
          'pipe_a holds exactly tenant_a''s changes');
SELECT is((SELECT string_agg(from_stage || '>' || to_stage, ' ') FROM funnel.allowed_transition WHERE pipeline = 'pipe_a'),
          'lost>lead', 'pipe_a''s allow-list holds tenant_a''s move');
SELECT is((SELECT fields::text[] FROM funnel.required_field WHERE pipeline = 'pipe_a' AND stage = 'deal'), ARRAY['amount'],
          'pipe_a''s required fields are tenant_a''s');
SET ROLE tenant_b;
SELECT lives_ok($$SELECT funnel.set_probability('pipe_b', 'trial', 0.75)$$, 'b: set_probability on pipe_b');
RESET ROLE;
SELECT is((SELECT probability FROM funnel.pipeline_stage WHERE pipeline = 'pipe_b' AND stage = 'trial'), 0.75::float8,
          'pipe_b''s probability set by tenant_b');

-- errors list only the stages of the pipeline at hand ----------------------
SET ROLE tenant_b;
SELECT is(owners_err($$SELECT funnel.set_probability('pipe_b', 'lead', 0.5)$$),
          '42704: stage "lead" does not exist in pipeline "pipe_b" | Its stages are: prospect, trial, won, lost. | ',
          'a missing stage''s DETAIL lists only pipe_b''s stages (no stage of pipe_a)');
SELECT is(owners_err($$SELECT funnel.add_stage('pipe_c', 'x')$$),
          '42704: pipeline "pipe_c" does not exist |  | SELECT DISTINCT pipeline FROM funnel.stages lists the pipelines; funnel.create_pipeline() creates one.',
          'a missing pipeline''s error names no other pipeline');
SELECT is(owners_err($$SELECT funnel.drop_pipeline('pipe_c')$$),
          '42704: pipeline "pipe_c" does not exist |  | SELECT DISTINCT pipeline FROM funnel.stages lists the pipelines; funnel.create_pipeline() creates one.',
          'drop_pipeline of a missing pipeline names no other pipeline');
RESET ROLE;

-- a member of the owning role can; a superuser can -------------------------
SET ROLE a_member;
SELECT lives_ok($$SELECT funnel.set_probability('pipe_a', 'lead', 0.125)$$, 'a member of tenant_a changes pipe_a');
SELECT throws_ok($$SELECT funnel.set_probability('pipe_b', 'trial', 0.5)$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_b', 'a member of tenant_a cannot change pipe_b');
RESET ROLE;
SELECT is((SELECT probability FROM funnel.pipeline_stage WHERE pipeline = 'pipe_a' AND stage = 'lead'), 0.125::float8,
          'the member''s change is stored');
SELECT lives_ok($$SELECT funnel.set_probability('pipe_b', 'prospect', 0.0625)$$, 'a superuser changes pipe_b');
SELECT is((SELECT probability FROM funnel.pipeline_stage WHERE pipeline = 'pipe_b' AND stage = 'prospect'), 0.0625::float8,
          'the superuser''s change is stored');

-- owner transfer -----------------------------------------------------------
SET ROLE tenant_a;
SELECT throws_ok($$SELECT funnel.alter_pipeline_owner('pipe_a', 'tenant_b')$$, '42501',
                 'must be able to SET ROLE tenant_b to give it pipeline "pipe_a"',
                 'tenant_a cannot give pipe_a to a role it is not a member of');
SELECT throws_ok($$SELECT funnel.alter_pipeline_owner('pipe_a', 'no_such_role')$$, '42704', NULL,
                 'a new owner that does not exist is refused');
SELECT throws_ok($$SELECT funnel.alter_pipeline_owner('pipe_a', NULL)$$, '22004',
                 'the new owner of pipeline "pipe_a" must be an existing role', 'a null new owner is refused');
SELECT throws_ok($$SELECT funnel.add_stage(NULL, 'x')$$, '42704', NULL, 'a null pipeline is refused as missing');
RESET ROLE;
SELECT is((SELECT owner::text FROM funnel.pipeline WHERE name = 'pipe_a'), 'tenant_a', 'the refused transfers changed nothing');
SET ROLE tenant_a;
SELECT lives_ok($$SELECT funnel.alter_pipeline_owner('pipe_a', 'a_team')$$, 'tenant_a gives pipe_a to a_team, of which it is a member');
RESET ROLE;
SELECT is((SELECT owner::text FROM funnel.pipeline WHERE name = 'pipe_a'), 'a_team', 'pipe_a now belongs to a_team');
SET ROLE a_member;
SELECT lives_ok($$SELECT funnel.set_probability('pipe_a', 'lead', 0.1875)$$,
                'a member of tenant_a is, through tenant_a, a member of a_team: it still can (membership is transitive)');
SET ROLE tenant_a;
SELECT lives_ok($$SELECT funnel.set_stale_after('pipe_a', 'lead', NULL)$$, 'tenant_a, a member of a_team, still can');
RESET ROLE;
SELECT lives_ok($$SELECT funnel.alter_pipeline_owner('pipe_b', 'tenant_a')$$, 'a superuser gives pipe_b to tenant_a');
SET ROLE tenant_b;
SELECT throws_ok($$SELECT funnel.set_probability('pipe_b', 'trial', 0.5)$$, '42501',
                 'permission denied for pipeline "pipe_b" owned by role tenant_a', 'tenant_b lost pipe_b');
SET ROLE tenant_a;
SELECT lives_ok($$SELECT funnel.set_probability('pipe_b', 'trial', 0.5)$$, 'tenant_a now changes pipe_b');
RESET ROLE;

-- pipelines of the extension owner and of a role that no longer exists -----
SELECT funnel.create_pipeline('shared', ARRAY['a']);
SELECT is((SELECT owner FROM funnel.pipeline WHERE name = 'shared'), current_user, 'a superuser''s pipeline is its own');
SET ROLE tenant_a;
SELECT throws_ok($$SELECT funnel.add_stage('shared', 'b')$$, '42501', NULL,
                 'a tenant cannot change a superuser''s pipeline');
RESET ROLE;
SELECT funnel.alter_pipeline_owner('shared', 'gone');
DROP ROLE gone;
SET ROLE tenant_a;
SELECT is(owners_err($$SELECT funnel.add_stage('shared', 'b')$$),
          '42501: permission denied for pipeline "shared" owned by role gone | Role tenant_a does not have the privileges of role gone, which no longer exists. | Only the owner, its members and superusers can call funnel.add_stage() on this pipeline; the owner can hand it over with funnel.alter_pipeline_owner().',
          'a pipeline of a dropped role is refused, saying so');
RESET ROLE;
SELECT lives_ok($$SELECT funnel.alter_pipeline_owner('shared', 'tenant_b')$$, 'a superuser re-homes it');
SELECT is((SELECT owner::text FROM funnel.pipeline WHERE name = 'shared'), 'tenant_b', 'now tenant_b''s');

-- drop ---------------------------------------------------------------------
SET ROLE tenant_b;
SELECT throws_ok($$SELECT funnel.drop_pipeline('pipe_a')$$, '42501', NULL, 'tenant_b still cannot drop pipe_a');
SELECT lives_ok($$SELECT funnel.drop_pipeline('shared')$$, 'tenant_b drops its own pipeline');
SET ROLE tenant_a;
SELECT lives_ok($$SELECT funnel.drop_pipeline('pipe_a')$$, 'tenant_a drops pipe_a (owned by a_team, of which it is a member)');
RESET ROLE;
SELECT is((SELECT array_agg(name ORDER BY name) FROM funnel.pipeline), ARRAY['pipe_b'], 'only pipe_b is left');

SELECT * FROM finish();
ROLLBACK;
