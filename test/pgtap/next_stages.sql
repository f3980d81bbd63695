-- test/pgtap/next_stages.sql: funnel.next_stages() and
-- funnel.next_stages_for_row() agree with the tracking triggers
--   - exhaustively: for the rules forward, sequential and any, with an
--     allow-list, a retired stage and required fields, for every (from, to)
--     pair and every combination of empty required fields, allowed is true
--     iff the UPDATE succeeds, and a refused move with missing fields
--     succeeds once exactly those fields are filled; the same for INSERT
--   - run as a NOSUPERUSER table owner; the deal is read with the caller's
--     privileges and row-level security
BEGIN;
SELECT plan(30);
CREATE EXTENSION funnel;
SET search_path = public, funnel;

-- pipelines and their configuration, by the superuser
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation','closing']);
SELECT funnel.create_pipeline('retail', ARRAY['visit','cart'], won => ARRAY['paid'], lost => ARRAY['left', 'refunded']);
SELECT funnel.allow_transition('b2b', 'lost', 'qualified');
SELECT funnel.allow_transition('b2b', 'won', 'negotiation');   -- into the stage retired below
SELECT funnel.allow_transition('retail', 'refunded', 'cart');
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']);
SELECT funnel.require_fields('b2b', 'won', ARRAY['close_date', 'amount']);
SELECT funnel.require_fields('retail', 'cart', ARRAY['amount']);
SELECT funnel.require_fields('retail', 'paid', ARRAY['close_date']);

CREATE ROLE ns_own NOSUPERUSER;
CREATE ROLE ns_reader NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO ns_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO ns_own;

SET ROLE ns_own;
CREATE TABLE b2b_forward (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL,
                          amount numeric, close_date date, note text);
CREATE TABLE b2b_sequential (LIKE b2b_forward INCLUDING ALL);
CREATE TABLE b2b_any (LIKE b2b_forward INCLUDING ALL);
CREATE TABLE retail_forward (LIKE b2b_forward INCLUDING ALL);
CREATE TABLE retail_sequential (LIKE b2b_forward INCLUDING ALL);
SELECT funnel.track('b2b_forward', 'b2b');
SELECT funnel.track('b2b_sequential', 'b2b', rule => 'sequential');
SELECT funnel.track('b2b_any', 'b2b', rule => 'any');
SELECT funnel.track('retail_forward', 'retail');
SELECT funnel.track('retail_sequential', 'retail', rule => 'sequential');

-- one deal per (stage, empty fields): amount and close_date each set or not
CREATE FUNCTION load(tbl text, pipeline text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s text;
    k int := 0;
    a boolean;
    c boolean;
BEGIN
    FOR s IN SELECT st.pipeline || ':' || st.stage FROM funnel.stages st WHERE st.pipeline = load.pipeline ORDER BY st.position LOOP
        FOREACH a IN ARRAY ARRAY[true, false] LOOP
            FOREACH c IN ARRAY ARRAY[true, false] LOOP
                k := k + 1;
                EXECUTE format('INSERT INTO %I (id, stage, amount, close_date) VALUES ($1, $2::funnel.deal_stage, 100, DATE ''2026-01-31'')', tbl)
                    USING k, s;
                EXECUTE format('UPDATE %I SET amount = CASE WHEN $2 THEN amount END, close_date = CASE WHEN $3 THEN close_date END WHERE id = $1', tbl)
                    USING k, a, c;
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;
SELECT load('b2b_forward', 'b2b'), load('b2b_sequential', 'b2b'), load('b2b_any', 'b2b'),
       load('retail_forward', 'retail'), load('retail_sequential', 'retail');
RESET ROLE;
-- retired after the deals entered it: moved out of, never into
SELECT funnel.retire_stage('b2b', 'negotiation');
SELECT funnel.retire_stage('retail', 'left');
SET ROLE ns_own;

-- Try every answer of next_stages() for every deal of tbl with a real
-- UPDATE that is rolled back; a row per disagreement.
CREATE FUNCTION disagreements(tbl text, OUT deal int, OUT target text, OUT problem text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    d record;
    n record;
    state text;
    detail text;
    fill text;
BEGIN
    FOR d IN EXECUTE format('SELECT id FROM %I ORDER BY id', tbl) LOOP
        FOR n IN SELECT * FROM funnel.next_stages(tbl::regclass, d.id) LOOP
            deal := d.id;
            target := n.stage::text;
            -- the move as it is
            BEGIN
                EXECUTE format('UPDATE %I SET stage = $1 WHERE id = $2', tbl) USING n.stage, d.id;
                RAISE EXCEPTION 'rolled back' USING ERRCODE = 'ZZ001';
            EXCEPTION WHEN others THEN
                state := SQLSTATE;
                GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            END;
            IF n.reason = 'same_stage' THEN
                IF n.allowed OR n.missing_fields <> '{}' THEN
                    problem := 'same stage answered ' || n.reason; RETURN NEXT;
                END IF;
                CONTINUE;
            END IF;
            IF n.allowed <> (state = 'ZZ001') THEN
                problem := format('allowed %s, UPDATE gave %s (%s)', n.allowed, state, detail); RETURN NEXT;
            END IF;
            IF n.allowed <> (n.reason = 'allowed') OR n.allowed <> (n.missing_fields = '{}' AND n.reason = 'allowed') THEN
                problem := format('allowed %s with reason %s, missing %s', n.allowed, n.reason, n.missing_fields); RETURN NEXT;
            END IF;
            -- the trigger names the deal and every empty field, in the same order
            IF n.reason = 'required_fields_missing'
               AND (detail NOT LIKE format('Deal %s: Stage "%%', d.id)
                    OR ARRAY(SELECT m[1] FROM regexp_matches(detail, '"([^"]*)"[,.]', 'g') AS m)
                       IS DISTINCT FROM n.missing_fields) THEN
                problem := format('missing %s, trigger said %s', n.missing_fields, detail); RETURN NEXT;
            END IF;
            IF n.reason = 'transition_not_allowed' AND (state <> '23514' OR detail LIKE '%requires a value%') THEN
                problem := format('not allowed, but UPDATE gave %s (%s)', state, detail); RETURN NEXT;
            END IF;
            IF n.reason = 'retired_stage' AND detail NOT LIKE format('Deal %s: Stage "%s" is retired.%%', d.id, split_part(n.stage::text, ':', 2)) THEN
                problem := format('retired, but UPDATE gave %s (%s)', state, detail); RETURN NEXT;
            END IF;
            -- the move with exactly the missing fields filled
            fill := (SELECT string_agg(format(', %I = %s', f,
                                              CASE f WHEN 'amount' THEN '1' ELSE 'DATE ''2026-02-01''' END), '')
                       FROM unnest(n.missing_fields) AS f);
            BEGIN
                EXECUTE format('UPDATE %I SET stage = $1%s WHERE id = $2', tbl, coalesce(fill, '')) USING n.stage, d.id;
                RAISE EXCEPTION 'rolled back' USING ERRCODE = 'ZZ001';
            EXCEPTION WHEN others THEN
                state := SQLSTATE;
                GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            END;
            IF (n.reason IN ('allowed', 'required_fields_missing')) <> (state = 'ZZ001') THEN
                problem := format('%s; filling %s gave %s (%s)', n.reason, n.missing_fields, state, detail); RETURN NEXT;
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- The same for a deal not inserted yet: every stage, every empty fields.
CREATE FUNCTION insert_disagreements(tbl text, OUT target text, OUT problem text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    n record;
    form jsonb;
    state text;
    detail text;
BEGIN
    FOREACH form IN ARRAY ARRAY['{"id": 9999}', '{"id": 9999, "amount": 5}', '{"id": 9999, "close_date": "2026-03-01"}',
                                '{"id": 9999, "amount": 5, "close_date": "2026-03-01"}']::jsonb[] LOOP
        FOR n IN EXECUTE format('SELECT * FROM funnel.next_stages_for_row(%L, jsonb_populate_record(NULL::%I, $1))', tbl, tbl)
                 USING form LOOP
            target := n.stage::text;
            BEGIN
                EXECUTE format('INSERT INTO %I SELECT * FROM jsonb_populate_record(NULL::%I, $1)', tbl, tbl)
                    USING form || jsonb_build_object('stage', n.stage::text);
                RAISE EXCEPTION 'rolled back' USING ERRCODE = 'ZZ001';
            EXCEPTION WHEN others THEN
                state := SQLSTATE;
                GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            END;
            IF n.allowed <> (state = 'ZZ001') OR n.reason = 'same_stage' OR n.reason = 'transition_not_allowed'
               OR (n.reason = 'required_fields_missing'
                   AND (detail NOT LIKE 'Deal 9999: Stage "%'
                        OR ARRAY(SELECT m[1] FROM regexp_matches(detail, '"([^"]*)"[,.]', 'g') AS m)
                           IS DISTINCT FROM n.missing_fields)) THEN
                problem := format('%s: %s %s %s, INSERT gave %s (%s)', form, n.allowed, n.reason, n.missing_fields, state, detail);
                RETURN NEXT;
            END IF;
        END LOOP;
    END LOOP;
END
$$;

SELECT is((SELECT count(*)::int FROM funnel.next_stages('b2b_forward', 1)), 7, 'one row per stage of the pipeline');
-- b2b: 7 stages x 28 deals, 3 tables; retail: 5 stages x 20 deals, 2 tables
SELECT is((SELECT count(*)::int
             FROM (VALUES ('b2b_forward', 28), ('b2b_sequential', 28), ('b2b_any', 28),
                          ('retail_forward', 20), ('retail_sequential', 20)) AS v(tbl, n),
                  generate_series(1, v.n) AS id,
                  funnel.next_stages(v.tbl::regclass, id) AS ns),
          788, 'the (deal, target) pairs compared below');
SELECT is(array_agg(d.deal || ' ' || d.target || ': ' || d.problem) FILTER (WHERE d.problem IS NOT NULL), NULL, tbl || ': every (from, to, empty fields) agrees with the trigger')
  FROM unnest(ARRAY['b2b_forward', 'b2b_sequential', 'b2b_any', 'retail_forward', 'retail_sequential']) AS tbl
  LEFT JOIN LATERAL disagreements(tbl) d ON true
 GROUP BY tbl ORDER BY tbl;
SELECT is(array_agg(d.target || ': ' || d.problem) FILTER (WHERE d.problem IS NOT NULL), NULL, tbl || ': every INSERT agrees with the trigger')
  FROM unnest(ARRAY['b2b_forward', 'b2b_sequential', 'b2b_any', 'retail_forward', 'retail_sequential']) AS tbl
  LEFT JOIN LATERAL insert_disagreements(tbl) d ON true
 GROUP BY tbl ORDER BY tbl;

-- the answers themselves, written out: deal 2 is in lead with amount set,
-- close_date empty (k = 2: a true, c false)
SELECT is(array_agg(format('%s %s %s %s', n.stage, n.allowed, n.reason, n.missing_fields) ORDER BY n.stage),
          ARRAY['b2b:lead f same_stage {}',
                'b2b:qualified t allowed {}',
                'b2b:proposal t allowed {}',
                'b2b:negotiation f retired_stage {}',
                'b2b:closing t allowed {}',
                'b2b:won f required_fields_missing {close_date}',
                'b2b:lost t allowed {}'],
          'forward from lead, close_date empty')
  FROM funnel.next_stages('b2b_forward', 2) n;
-- deal 4: lead, both empty; sequential
SELECT is(array_agg(format('%s %s %s %s', n.stage, n.allowed, n.reason, n.missing_fields) ORDER BY n.stage),
          ARRAY['b2b:lead f same_stage {}',
                'b2b:qualified t allowed {}',
                'b2b:proposal f transition_not_allowed {amount}',
                'b2b:negotiation f retired_stage {amount}',
                'b2b:closing f transition_not_allowed {amount}',
                'b2b:won f transition_not_allowed {amount,close_date}',
                'b2b:lost t allowed {}'],
          'sequential from lead, both empty: skipping proposal needs amount')
  FROM funnel.next_stages('b2b_sequential', 4) n;
-- deal 24: won (stage 6), both empty; the allow-list entry into a retired stage does not count
SELECT is(array_agg(format('%s %s %s', n.stage, n.allowed, n.reason) ORDER BY n.stage),
          ARRAY['b2b:lead f transition_not_allowed', 'b2b:qualified f transition_not_allowed',
                'b2b:proposal f transition_not_allowed', 'b2b:negotiation f retired_stage',
                'b2b:closing f transition_not_allowed', 'b2b:won f same_stage', 'b2b:lost f transition_not_allowed'],
          'forward out of won: nothing, the allow-listed target is retired')
  FROM funnel.next_stages('b2b_forward', 24) n;
-- deal 25: lost, both set: the allow-list opens lost -> qualified
SELECT is((SELECT array_agg(n.stage::text ORDER BY n.stage) FROM funnel.next_stages('b2b_forward', 25) n WHERE n.allowed),
          ARRAY['b2b:qualified'], 'forward out of lost: the allow-listed move only');
-- deal 16: negotiation (retired), both empty; any rule
SELECT is((SELECT array_agg(n.stage::text ORDER BY n.stage) FROM funnel.next_stages('b2b_any', 16) n WHERE n.allowed),
          ARRAY['b2b:lead', 'b2b:qualified', 'b2b:closing', 'b2b:lost'], 'any: out of a retired stage, where no field is needed');
-- a new deal with no field set
SELECT is(array_agg(format('%s %s %s', n.stage, n.reason, n.missing_fields) ORDER BY n.stage),
          ARRAY['b2b:lead allowed {}', 'b2b:qualified allowed {}', 'b2b:proposal required_fields_missing {amount}',
                'b2b:negotiation retired_stage {amount}', 'b2b:closing required_fields_missing {amount}',
                'b2b:won required_fields_missing {amount,close_date}', 'b2b:lost allowed {}'],
          'a new deal: every stage not retired, with the fields of the stages it passes')
  FROM funnel.next_stages_for_row('b2b_forward', jsonb_populate_record(NULL::b2b_forward, '{"id": 1}')) n;
-- the row of an existing deal gives the answer by key
SELECT is((SELECT count(*)::int FROM b2b_sequential d, funnel.next_stages('b2b_sequential', d.id) k
             LEFT JOIN LATERAL funnel.next_stages_for_row('b2b_sequential', d) r ON r.stage = k.stage
            WHERE (r.allowed, r.reason, r.missing_fields) IS DISTINCT FROM (k.allowed, k.reason, k.missing_fields)),
          0, 'next_stages_for_row(deal row) = next_stages(key)');
SELECT is((SELECT count(*)::int FROM funnel.next_stages('b2b_forward', '3'::text)), 7, 'the key given as text');

-- errors
SELECT throws_ok($$SELECT * FROM funnel.next_stages('b2b_forward', 12345)$$, 'P0002',
                 'deal 12345 not found in table public.b2b_forward', 'a key with no deal');
SELECT throws_ok($$SELECT * FROM funnel.next_stages('b2b_forward', NULL::int)$$, '22004',
                 'deal key must not be null', 'a null key');
CREATE TABLE untracked (id int PRIMARY KEY, stage funnel.deal_stage);
SELECT throws_ok($$SELECT * FROM funnel.next_stages('untracked', 1)$$, '42704',
                 'table public.untracked is not tracked', 'an untracked table');
SELECT throws_ok($$SELECT * FROM funnel.next_stages_for_row('b2b_forward', ROW(1, 'b2b:lead'::funnel.deal_stage))$$, '42804',
                 'deal row of type record is not a row of table "b2b_forward"', 'an anonymous row');
SELECT throws_ok($$SELECT * FROM funnel.next_stages_for_row('b2b_forward', (SELECT r FROM b2b_any r LIMIT 1))$$, '42804',
                 'deal row of type public.b2b_any is not a row of table "b2b_forward"', 'a row of another table');
SELECT throws_ok($$SELECT * FROM funnel.next_stages_for_row('b2b_forward', NULL::b2b_forward)$$, '22004',
                 'deal row must not be null', 'a null row');

-- the caller's privileges and row-level security
SET ROLE ns_reader;
SELECT throws_ok($$SELECT * FROM funnel.next_stages('b2b_forward', 1)$$, '42501',
                 'permission denied for table b2b_forward', 'no SELECT: no answer by key');
SELECT throws_ok($$SELECT * FROM funnel.next_stages_for_row('b2b_forward', jsonb_populate_record(NULL::b2b_forward, '{}'))$$, '42501',
                 'permission denied for table b2b_forward', 'no SELECT: no answer for a row');
SET ROLE ns_own;
GRANT SELECT ON b2b_forward TO ns_reader;
ALTER TABLE b2b_forward ENABLE ROW LEVEL SECURITY;
CREATE POLICY low ON b2b_forward FOR SELECT TO ns_reader USING (id <= 2);
SET ROLE ns_reader;
SELECT is((SELECT count(*)::int FROM funnel.next_stages('b2b_forward', 2)), 7, 'a visible deal');
SELECT throws_ok($$SELECT * FROM funnel.next_stages('b2b_forward', 3)$$, 'P0002',
                 'deal 3 not found in table public.b2b_forward', 'a deal hidden by row-level security');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
