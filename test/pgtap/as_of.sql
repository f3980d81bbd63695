-- test/pgtap/as_of.sql: funnel.pipeline_as_of, funnel.pipeline_trend,
-- funnel.stale_after and funnel.stale_deals (issue 10.2, 10.3) against
-- independent plain SQL on the data under data/: the Pipedrive change log
-- replayed through a tracked table (as demo/demo.sql does; bigint keys) and
-- the Maven CRM opportunities replayed from their engage and close dates
-- (text keys); then edge instants, bad relation arguments and privileges,
-- checked as a NOSUPERUSER role.
BEGIN;
SELECT plan(66);
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SET TimeZone = 'UTC';
CREATE SCHEMA crm;

-- Pipedrive: the replay of demo/demo.sql
CREATE TEMP TABLE pd_stages (id int, name text);
\copy pd_stages FROM 'data/pipedrive_deal_changes/stages.csv' (FORMAT csv, HEADER)
SELECT funnel.create_pipeline('pipedrive', array_agg(name ORDER BY id)) FROM pd_stages \gset
CREATE TEMP TABLE pd_changes (deal_id bigint, change_time timestamp, field text, value text);
\copy pd_changes FROM 'data/pipedrive_deal_changes/deal_changes.csv' (FORMAT csv, HEADER)
CREATE TEMP TABLE events AS
SELECT c.deal_id, c.change_time AT TIME ZONE 'UTC' AS at,
       CASE c.field WHEN 'stage_id' THEN 'pipedrive:' || s.name ELSE 'pipedrive:lost' END AS stage,
       row_number() OVER (PARTITION BY c.deal_id ORDER BY c.change_time, c.field DESC) AS n
  FROM pd_changes c LEFT JOIN pd_stages s ON c.field = 'stage_id' AND s.id = c.value::int
 WHERE c.field IN ('stage_id', 'lost_reason');
CREATE TABLE crm.deals (id bigint PRIMARY KEY, amount numeric(12,2), changed_at timestamptz,
                        stage funnel.deal_stage(pipedrive) NOT NULL);
SELECT funnel.track('crm.deals', pipeline => 'pipedrive', changed_at_column => 'changed_at', rule => 'any') \gset
INSERT INTO crm.deals (id, amount, changed_at, stage)
SELECT e.deal_id, CASE WHEN e.deal_id % 10 = 3 THEN NULL ELSE 1000 + (e.deal_id * 7919) % 49000 + 0.25 END, e.at, e.stage
  FROM events e WHERE e.n = 1;
DO $$
DECLARE k int;
BEGIN
    FOR k IN 2 .. (SELECT max(n) FROM events) LOOP
        UPDATE crm.deals d SET stage = e.stage, changed_at = e.at
          FROM events e WHERE e.deal_id = d.id AND e.n = k;
    END LOOP;
END
$$;

-- Maven CRM: Engaging from engage_date, then Won or Lost at close_date
SELECT funnel.create_pipeline('hardware', ARRAY['Prospecting', 'Engaging'], ARRAY[0.10, 0.40],
                              won => ARRAY['Won'], lost => ARRAY['Lost']) \gset
CREATE TEMP TABLE maven (opportunity_id text, sales_agent text, product text, account text,
                         deal_stage text, engage_date date, close_date date, close_value numeric);
\copy maven FROM 'data/maven_crm/sales_pipeline.csv' (FORMAT csv, HEADER)
CREATE TABLE crm.opportunities (id text PRIMARY KEY, amount numeric(12,2), changed_at timestamptz,
                                stage funnel.deal_stage(hardware) NOT NULL);
SELECT funnel.track('crm.opportunities', pipeline => 'hardware', changed_at_column => 'changed_at') \gset
INSERT INTO crm.opportunities
SELECT opportunity_id, close_value, engage_date, 'Engaging' FROM maven WHERE engage_date IS NOT NULL;
UPDATE crm.opportunities o SET stage = m.deal_stage, changed_at = m.close_date
  FROM maven m WHERE m.opportunity_id = o.id AND m.deal_stage IN ('Won', 'Lost');

SELECT is((SELECT format('%s deals, %s visits; %s deals, %s visits',
                         (SELECT count(*) FROM crm.deals), (SELECT count(*) FROM crm.deals_stage_history),
                         (SELECT count(*) FROM crm.opportunities), (SELECT count(*) FROM crm.opportunities_stage_history))),
          '1995 deals, 10903 visits; 8300 deals, 15011 visits', 'both data sets replayed through tracked tables');

-- independent plain SQL: the visits open at t
CREATE FUNCTION pg_temp.open_at(history regclass, t timestamptz)
RETURNS TABLE (deal_id text, stage funnel.deal_stage, entered_at timestamptz) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('SELECT deal_id::text, stage::funnel.deal_stage, entered_at FROM %s
                                  WHERE entered_at <= $1 AND (left_at IS NULL OR left_at > $1)', history) USING t;
END $$;

-- a visit that closed, and the instant it closed (= the next visit's entered_at)
SELECT deal_id AS b_deal, entered_at AS b_entered, left_at AS b_left
  FROM crm.deals_stage_history WHERE left_at > entered_at ORDER BY entered_at, deal_id OFFSET 2000 LIMIT 1 \gset
SELECT min(entered_at) AS first_at, max(coalesce(left_at, entered_at)) AS last_at FROM crm.deals_stage_history \gset

SELECT set_eq($$ SELECT * FROM funnel.pipeline_as_of('crm.deals_stage_history', '2024-06-01') $$,
              $$ SELECT * FROM pg_temp.open_at('crm.deals_stage_history', '2024-06-01') $$,
              'Pipedrive as of 2024-06-01 = plain SQL');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_as_of('crm.deals_stage_history', '2024-06-01')), 901,
          'Pipedrive as of 2024-06-01: 901 deals have a visit open');
SELECT set_eq(format($$ SELECT * FROM funnel.pipeline_as_of('crm.deals_stage_history', %L) $$, :'b_left'),
              format($$ SELECT * FROM pg_temp.open_at('crm.deals_stage_history', %L) $$, :'b_left'),
              'as of exactly a move = plain SQL');
SELECT ok(EXISTS (SELECT 1 FROM funnel.pipeline_as_of('crm.deals_stage_history', :'b_left') a
                   WHERE a.deal_id = :'b_deal' AND a.entered_at = :'b_left'),
          'at the instant of a move the deal is in its new stage (entered_at <= as_of)');
SELECT ok(NOT EXISTS (SELECT 1 FROM funnel.pipeline_as_of('crm.deals_stage_history', :'b_left') a
                       WHERE a.deal_id = :'b_deal' AND a.entered_at = :'b_entered'),
          'at the instant of a move the old visit is closed (left_at > as_of)');
SELECT ok(EXISTS (SELECT 1 FROM funnel.pipeline_as_of('crm.deals_stage_history', :'b_entered') a
                   WHERE a.deal_id = :'b_deal' AND a.entered_at = :'b_entered'),
          'a visit is open at its own entered_at');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_as_of('crm.deals_stage_history', :'first_at'::timestamptz - interval '1 microsecond')), 0,
          'before any visit: no deal');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_as_of('crm.deals_stage_history', :'first_at')),
          (SELECT count(*)::int FROM crm.deals_stage_history WHERE entered_at = :'first_at' AND left_at IS DISTINCT FROM entered_at),
          'at the first entered_at: the deals that entered then');
SELECT set_eq($$ SELECT * FROM funnel.pipeline_as_of('crm.deals_stage_history', 'infinity') $$,
              $$ SELECT deal_id::text, stage, entered_at FROM crm.deals_stage_history WHERE left_at IS NULL $$,
              'after every visit: the open visits (left_at NULL)');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_as_of('crm.deals_stage_history', NULL)), 0, 'NULL as_of: no rows');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_as_of(NULL, now())), 0, 'NULL history: no rows');
SELECT set_eq($$ SELECT * FROM funnel.pipeline_as_of('crm.opportunities_stage_history', '2017-06-30') $$,
              $$ SELECT * FROM pg_temp.open_at('crm.opportunities_stage_history', '2017-06-30') $$,
              'Maven as of 2017-06-30 = plain SQL (text keys)');
SELECT is((SELECT string_agg(format('%s=%s', funnel.stage_name(stage), n), ', ' ORDER BY stage)
             FROM (SELECT stage, count(*) AS n FROM funnel.pipeline_as_of('crm.opportunities_stage_history', '2017-06-30') GROUP BY stage) s),
          'Engaging=1686, Won=1785, Lost=894', 'Maven on 2017-06-30: 1686 engaging, 1785 won, 894 lost');

-- trend: one scan, equal to generate_series + join + GROUP BY
CREATE FUNCTION pg_temp.trend_sql(history regclass, deals_rel regclass, pipeline text, instants timestamptz[])
RETURNS TABLE (instant timestamptz, stage funnel.deal_stage, deals bigint, amount numeric, weighted_amount numeric)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT i.t, s.stage, count(h.stage), coalesce(sum(d.amount), 0)::numeric,
               coalesce(sum(d.amount * s.probability::numeric), 0)::numeric
          FROM (SELECT DISTINCT t FROM unnest($1) t WHERE t IS NOT NULL) i
         CROSS JOIN (SELECT (pipeline || ':' || stage)::funnel.deal_stage AS stage, position, probability
                       FROM funnel.stages WHERE pipeline = $2) s
          LEFT JOIN %s h ON h.stage = s.stage AND h.entered_at <= i.t AND (h.left_at IS NULL OR h.left_at > i.t)
          LEFT JOIN %s d ON d.id = h.deal_id
         GROUP BY i.t, s.stage, s.position
         ORDER BY i.t, s.position $q$, history, deals_rel) USING instants, pipeline;
END $$;
CREATE TEMP TABLE weeks AS
SELECT array_agg(t ORDER BY t) AS w
  FROM generate_series(timestamptz '2024-01-01', timestamptz '2024-12-23', interval '1 week') t;
SELECT is((SELECT cardinality(w) FROM weeks), 52, '52 weekly instants');
SELECT results_eq($$ SELECT * FROM funnel.pipeline_trend('crm.deals_stage_history', (SELECT w FROM weeks), 'crm.deals') $$,
                  $$ SELECT * FROM pg_temp.trend_sql('crm.deals_stage_history', 'crm.deals', 'pipedrive', (SELECT w FROM weeks)) $$,
                  'Pipedrive trend over 52 weeks: deals, amount, weighted amount = plain SQL');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_trend('crm.deals_stage_history', (SELECT w FROM weeks))), 52 * 11,
          'trend: one row per instant and stage of the pipeline, zeros included');
SELECT results_eq($$ SELECT instant, stage, deals FROM funnel.pipeline_trend('crm.deals_stage_history', (SELECT w FROM weeks)) $$,
                  $$ SELECT instant, stage, deals FROM pg_temp.trend_sql('crm.deals_stage_history', 'crm.deals', 'pipedrive', (SELECT w FROM weeks)) $$,
                  'trend without deals_table: the same counts');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_trend('crm.deals_stage_history', (SELECT w FROM weeks)) WHERE amount IS NOT NULL OR weighted_amount IS NOT NULL), 0,
          'trend without deals_table: amounts NULL');
SELECT results_eq(format($$ SELECT * FROM funnel.pipeline_trend('crm.deals_stage_history', ARRAY['2024-06-01', NULL, '2024-03-01', '2024-06-01', %L]::timestamptz[], 'crm.deals') $$, :'b_left'),
                  format($$ SELECT * FROM pg_temp.trend_sql('crm.deals_stage_history', 'crm.deals', 'pipedrive', ARRAY['2024-03-01', '2024-06-01', %L]::timestamptz[]) $$, :'b_left'),
                  'trend: instants sorted, duplicates and NULLs dropped, a move instant counted in the new stage');
SELECT results_eq($$ SELECT instant, stage, deals FROM funnel.pipeline_trend('crm.deals_stage_history', ARRAY['2024-06-01']::timestamptz[]) WHERE deals > 0 $$,
                  $$ SELECT '2024-06-01'::timestamptz, stage, count(*) FROM funnel.pipeline_as_of('crm.deals_stage_history', '2024-06-01') GROUP BY stage ORDER BY stage $$,
                  'a one-instant trend counts what pipeline_as_of lists');
SELECT results_eq($$ SELECT * FROM funnel.pipeline_trend('crm.opportunities_stage_history',
                        ARRAY(SELECT generate_series(timestamptz '2016-10-01', '2018-01-01', interval '1 month')), 'crm.opportunities') $$,
                  $$ SELECT * FROM pg_temp.trend_sql('crm.opportunities_stage_history', 'crm.opportunities', 'hardware',
                        ARRAY(SELECT generate_series(timestamptz '2016-10-01', '2018-01-01', interval '1 month'))) $$,
                  'Maven monthly trend with close values = plain SQL (text keys)');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_trend('crm.deals_stage_history', '{}')), 0, 'empty instants: no rows');
SELECT is((SELECT count(*)::int FROM funnel.pipeline_trend('crm.deals_stage_history', NULL)), 0, 'NULL instants: no rows');
SELECT is((SELECT sum(deals)::int FROM funnel.pipeline_trend('crm.deals_stage_history', ARRAY[:'first_at'::timestamptz - interval '1 day'])), 0,
          'trend before any visit: zeros');

-- empty histories
CREATE TABLE crm.empty_deals (id int PRIMARY KEY, amount numeric, stage funnel.deal_stage(pipedrive) NOT NULL);
SELECT funnel.track('crm.empty_deals', pipeline => 'pipedrive') \gset
SELECT is((SELECT count(*)::int FROM funnel.pipeline_as_of('crm.empty_deals_stage_history', now())), 0, 'empty history: as_of has no rows');
SELECT is((SELECT format('%s rows, %s deals, amount %s', count(*), sum(deals), sum(amount)) FROM funnel.pipeline_trend('crm.empty_deals_stage_history', ARRAY[now()], 'crm.empty_deals')),
          '11 rows, 0 deals, amount 0', 'empty history bound to a pipeline: a grid of zeros');
CREATE TEMP TABLE loose_history (deal_id int, stage funnel.deal_stage, entered_at timestamptz, left_at timestamptz);
SELECT is((SELECT count(*)::int FROM funnel.pipeline_trend('loose_history', ARRAY[now()])), 0, 'empty unbound history: no rows');

-- stale_after and stale_deals
SELECT is(funnel.stale_after('pipedrive:Negotiation'), NULL::interval, 'stale_after: NULL when none is set');
SELECT funnel.set_stale_after('pipedrive', 'Negotiation', interval '20 days');
SELECT funnel.set_stale_after('pipedrive', 'Closing', interval '2 weeks');
SELECT is(funnel.stale_after('pipedrive:Negotiation'), interval '20 days', 'stale_after: the configured interval');
SELECT is(funnel.stale_after(NULL), NULL::interval, 'stale_after is strict');
SELECT is((SELECT count(*)::int FROM funnel.stages WHERE stale_after IS DISTINCT FROM
             funnel.stale_after((pipeline || ':' || stage)::funnel.deal_stage)), 0, 'stale_after agrees with funnel.stages');

CREATE FUNCTION pg_temp.stale_sql(t timestamptz, pct float8)
RETURNS TABLE (deal_id text, stage funnel.deal_stage, entered_at timestamptz, days_in_stage numeric, threshold interval, amount numeric)
LANGUAGE sql AS $$
    WITH s AS (SELECT (pipeline || ':' || stage)::funnel.deal_stage AS stage, kind, stale_after FROM funnel.stages WHERE pipeline = 'pipedrive'),
    p AS (SELECT stage, percentile_cont(pct) WITHIN GROUP (ORDER BY left_at - entered_at) AS p
            FROM crm.deals_stage_history WHERE left_at <= t GROUP BY stage)
    SELECT h.deal_id::text, h.stage::funnel.deal_stage, h.entered_at, round(EXTRACT(epoch FROM t - h.entered_at) / 86400, 2),
           coalesce(s.stale_after, p.p), d.amount::numeric
      FROM crm.deals_stage_history h JOIN s ON s.stage = h.stage
      LEFT JOIN p ON p.stage = h.stage AND pct IS NOT NULL
      LEFT JOIN crm.deals d ON d.id = h.deal_id
     WHERE h.entered_at <= t AND (h.left_at IS NULL OR h.left_at > t) AND s.kind = 'open'
       AND t - h.entered_at > coalesce(s.stale_after, p.p)
     ORDER BY h.stage, h.entered_at, h.deal_id
$$;
SELECT results_eq($$ SELECT * FROM funnel.stale_deals('crm.deals', '2024-06-01') $$,
                  $$ SELECT * FROM pg_temp.stale_sql('2024-06-01', NULL) $$,
                  'stale deals on 2024-06-01 by stale_after = plain SQL');
SELECT is((SELECT string_agg(format('%s:%s', funnel.stage_name(stage), n), ', ')
             FROM (SELECT stage, count(*) AS n FROM funnel.stale_deals('crm.deals', '2024-06-01') GROUP BY stage ORDER BY stage) s),
          'Negotiation:9, Closing:14', 'stale by stale_after: 9 in Negotiation (20 days), 14 in Closing (2 weeks)');
SELECT results_eq($$ SELECT * FROM funnel.stale_deals('crm.deals', '2024-06-01', 0.9) $$,
                  $$ SELECT * FROM pg_temp.stale_sql('2024-06-01', 0.9) $$,
                  'stale deals with the 90th percentile where no stale_after is set = plain SQL');
SELECT cmp_ok((SELECT count(DISTINCT stage)::int FROM funnel.stale_deals('crm.deals', '2024-06-01', 0.9)
                 WHERE funnel.stale_after(stage) IS NULL), '>', 1,
              'the percentile applies to stages without stale_after');
SELECT results_eq($$ SELECT * FROM funnel.stale_deals('crm.deals', '2024-09-15', 0.5) $$,
                  $$ SELECT * FROM pg_temp.stale_sql('2024-09-15', 0.5) $$,
                  'stale deals on 2024-09-15 with the median = plain SQL');
SELECT results_eq($$ SELECT * FROM funnel.stale_deals('crm.deals') $$,
                  $$ SELECT * FROM pg_temp.stale_sql(now(), NULL) $$,
                  'as_of defaults to now(): the open visits (left_at NULL)');
SELECT ok((SELECT bool_and(amount IS NULL) AND count(*) > 0 FROM funnel.stale_deals('crm.deals', '2024-09-15', 0.5) WHERE deal_id::bigint % 10 = 3),
          'a deal with a NULL amount is listed with a NULL amount');
SELECT is((SELECT count(*)::int FROM funnel.stale_deals('crm.deals', NULL)), 0, 'NULL as_of: no rows');
SELECT is((SELECT count(*)::int FROM funnel.stale_deals('crm.deals', '2024-01-01', 0.9)), 0, 'before any closed visit: no percentile, nothing stale');
SELECT throws_ok($$ SELECT * FROM funnel.stale_deals('crm.deals', now(), 1.5) $$, '22023', 'percentile 1.5 is not between 0 and 1',
                 'stale_deals refuses a percentile outside [0, 1]');
CREATE TABLE crm.untracked (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT throws_ok($$ SELECT * FROM funnel.stale_deals('crm.untracked') $$, '55000', 'table crm.untracked is not tracked',
                 'stale_deals on an untracked table: 55000');
-- a tracked table without an amount column: amount NULL
CREATE TABLE crm.leads (id bigint PRIMARY KEY, amount text, changed_at timestamptz, stage funnel.deal_stage(pipedrive) NOT NULL);
SELECT funnel.track('crm.leads', pipeline => 'pipedrive', changed_at_column => 'changed_at', rule => 'any') \gset
INSERT INTO crm.leads SELECT id, '1', now() - interval '30 days', 'Closing' FROM generate_series(1, 3) id;
SELECT is((SELECT format('%s %s', count(*), count(amount)) FROM funnel.stale_deals('crm.leads')), '3 0',
          'an amount column that is not numeric gives NULL amounts');

SAVEPOINT before_drop;
ALTER TABLE crm.leads DROP CONSTRAINT leads_pkey;
SELECT throws_ok($$ SELECT * FROM funnel.stale_deals('crm.leads') $$, '55000', 'tracked table crm.leads has no primary key',
                 'stale_deals on a tracked table whose primary key was dropped: 55000');
ROLLBACK TO SAVEPOINT before_drop;

-- bad relation arguments, privileges: as a NOSUPERUSER role
CREATE ROLE funnel_asof_analyst NOSUPERUSER;
GRANT USAGE ON SCHEMA crm TO funnel_asof_analyst;
GRANT SELECT ON crm.deals, crm.deals_stage_history, crm.opportunities TO funnel_asof_analyst;
CREATE TABLE crm.not_history (deal_id int, stage funnel.deal_stage, entered_at text, left_at timestamptz);
CREATE TABLE crm.no_left (deal_id int, stage funnel.deal_stage, entered_at timestamptz);
CREATE TABLE crm.shifted (junk int, deal_id bigint, stage funnel.deal_stage, entered_at timestamptz, left_at timestamptz);
INSERT INTO crm.shifted SELECT 0, deal_id, stage, entered_at, left_at FROM crm.deals_stage_history;
ALTER TABLE crm.shifted DROP COLUMN junk;
CREATE TABLE crm.dropped_left (deal_id int, stage funnel.deal_stage, entered_at timestamptz, left_at timestamptz);
ALTER TABLE crm.dropped_left DROP COLUMN left_at;
ALTER TABLE crm.dropped_left ADD COLUMN left_at text;
CREATE VIEW crm.history_view AS SELECT * FROM crm.deals_stage_history;
CREATE TABLE crm.rls_history AS SELECT * FROM crm.deals_stage_history;
ALTER TABLE crm.rls_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_lost ON crm.rls_history USING (funnel.kind(stage) = 'lost');
GRANT SELECT ON crm.not_history, crm.no_left, crm.shifted, crm.dropped_left, crm.history_view, crm.rls_history TO funnel_asof_analyst;
CREATE TABLE crm.hidden_history AS SELECT * FROM crm.deals_stage_history;
CREATE TABLE crm.partly_visible (deal_id int, stage funnel.deal_stage, entered_at timestamptz, left_at timestamptz, secret text);
GRANT SELECT (deal_id, stage, entered_at, left_at) ON crm.partly_visible TO funnel_asof_analyst;
CREATE TABLE crm.keyless (id bigint, amount numeric);
CREATE TABLE crm.text_keys (id text PRIMARY KEY, amount numeric);
GRANT SELECT ON crm.keyless, crm.text_keys, crm.leads_stage_history TO funnel_asof_analyst;

-- runs a query as the analyst; an error rolls the role back with throws_ok's subtransaction
CREATE FUNCTION pg_temp.as_analyst(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    PERFORM set_config('role', 'funnel_asof_analyst', true);
    EXECUTE format('SELECT count(*) FROM (%s) q', q) INTO n;
    PERFORM set_config('role', 'none', true);
    RETURN n;
END $$;

SELECT is(pg_temp.as_analyst($$ SELECT * FROM funnel.pipeline_as_of('crm.deals_stage_history', '2024-06-01') $$), 901::bigint,
          'a NOSUPERUSER role with SELECT reads the history');
SELECT is(current_user::text, session_user::text, 'the helper gives the role back');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_as_of(''crm.deals'', now())') $$,
                 '42703', '"crm.deals" is not a stage history', 'a deals table is not a history: 42703');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_as_of(''crm.no_left'', now())') $$,
                 '42703', '"crm.no_left" is not a stage history', 'a table without left_at: 42703');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_as_of(''crm.not_history'', now())') $$,
                 '42804', '"crm.not_history" is not a stage history', 'entered_at of type text: 42804');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_trend(''crm.dropped_left'', ARRAY[now()])') $$,
                 '42804', '"crm.dropped_left" is not a stage history', 'a dropped left_at re-added as text: 42804');
SELECT is(pg_temp.as_analyst($$ SELECT * FROM funnel.pipeline_as_of('crm.shifted', '2024-06-01') $$), 901::bigint,
          'a dropped column before the history columns: columns found by name');
SELECT is(pg_temp.as_analyst($$ SELECT * FROM funnel.pipeline_as_of('crm.history_view', '2024-06-01') $$), 901::bigint,
          'a view of the history is read by a query as the caller (issue 21.2; was 42809)');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_trend(''crm.deals_pkey'', ARRAY[now()])') $$,
                 '42809', '"crm.deals_pkey" is not a stage history', 'an index: 42809');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_as_of(4294967295::oid::regclass, now())') $$,
                 '42P01', 'relation with OID 4294967295 does not exist', 'a dangling OID: 42P01');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_as_of(''crm.hidden_history'', now())') $$,
                 '42501', 'permission denied for table hidden_history', 'no SELECT on the history: 42501');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_trend(''crm.hidden_history'', ARRAY[now()])') $$,
                 '42501', 'permission denied for table hidden_history', 'trend without SELECT on the history: 42501');
SELECT is(pg_temp.as_analyst($$ SELECT * FROM funnel.pipeline_as_of('crm.partly_visible', now()) $$), 0::bigint,
          'SELECT on the four history columns is enough');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_as_of(''crm.rls_history'', now())') $$,
                 '0A000', 'cannot read "crm.rls_history": row-level security applies to it', 'row-level security is not bypassed: 0A000');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_trend(''crm.deals_stage_history'', ARRAY[now()], ''crm.keyless'')') $$,
                 '42P16', 'deals table "crm.keyless" has no primary key', 'trend amounts from a table without a primary key: 42P16');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_trend(''crm.deals_stage_history'', ARRAY[now()], ''crm.text_keys'')') $$,
                 '42804', NULL, 'trend amounts keyed by another type: 42804');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.pipeline_trend(''crm.deals_stage_history'', ARRAY[now()], ''crm.empty_deals'')') $$,
                 '42501', 'permission denied for table empty_deals', 'trend without SELECT on the deals table: 42501');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.stale_deals(''crm.opportunities'')') $$,
                 '42501', 'permission denied for table opportunities_stage_history', 'stale_deals without SELECT on the history: 42501');
SELECT throws_ok($$ SELECT pg_temp.as_analyst('SELECT * FROM funnel.stale_deals(''crm.leads'')') $$,
                 '42501', 'permission denied for table leads', 'stale_deals with SELECT on the history but not on the deals table: 42501');
SELECT is(pg_temp.as_analyst($$ SELECT * FROM funnel.stale_deals('crm.deals', '2024-06-01', 0.9) $$),
          (SELECT count(*) FROM pg_temp.stale_sql('2024-06-01', 0.9)), 'stale_deals as the analyst');
SELECT ok((SELECT bool_and(NOT p.prosecdef) FROM pg_proc p
            WHERE p.oid IN ('funnel.stale_deals(regclass, timestamptz, float8, name, regclass, name, name, name, name)'::regprocedure,
                            'funnel.pipeline_as_of(regclass, timestamptz, name, name, name, name)'::regprocedure,
                            'funnel.pipeline_trend(regclass, timestamptz[], regclass, name, name, name, name, name)'::regprocedure)),
          'all three run with the caller''s privileges (SECURITY INVOKER)');

SELECT * FROM finish();
ROLLBACK;
