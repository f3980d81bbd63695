-- test/drivers/setup.sql: the fixture every driver test starts from (a fresh
-- database): pipelines b2b and retail sharing the stage names lead, won and
-- lost, and a tracked table crm.deals bound to b2b.
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                        stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO crm.deals VALUES (1, 'ann', 100.00, 'lead'), (2, 'bob', 200.50, 'qualified'),
                             (3, 'ann', 300.00, 'proposal'), (4, 'bob', 400.25, 'won'),
                             (5, 'ann', 500.00, 'lost'), (6, 'bob', 600.00, 'proposal');
SELECT funnel.track('crm.deals', pipeline => 'b2b');

-- Saved queries with bare stage names (issue 19.1), the same for every
-- driver: each runs them with its default parameter style (node-postgres
-- untyped, JDBC setString, psycopg 3 untyped), then calls
-- names.add_pipelines(), which creates two pipelines sharing every stage
-- name of dx, runs them again and compares.  Placeholders are $1, $2 in
-- order, each used once (JDBC writes ?, psycopg %s).
SELECT funnel.create_pipeline('dx', ARRAY['prospect','trial'], won => ARRAY['closed'], lost => ARRAY['churned']);
CREATE SCHEMA names;
CREATE TABLE names.bound (id int PRIMARY KEY, stage funnel.deal_stage(dx) NOT NULL);
CREATE TABLE names.tracked (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
CREATE TABLE names.multi (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
INSERT INTO names.bound VALUES (1, 'prospect'), (2, 'trial'), (3, 'closed'), (4, 'churned'), (5, 'closed');
INSERT INTO names.tracked SELECT * FROM names.bound;
INSERT INTO names.multi SELECT * FROM names.bound;
INSERT INTO names.multi VALUES (11, 'b2b:lead'), (12, 'b2b:won'), (13, 'retail:visit');
SELECT funnel.track('names.tracked', 'dx');
CREATE TABLE names.saved (n int PRIMARY KEY, sql text NOT NULL, params text[] NOT NULL);
INSERT INTO names.saved VALUES
  (1, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.bound WHERE stage = $1$$, '{closed}'),
  (2, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.bound WHERE stage IN ($1, $2)$$, '{closed,churned}'),
  (3, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.bound WHERE stage >= $1$$, '{trial}'),
  (4, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.bound WHERE stage BETWEEN $1 AND $2$$, '{prospect,trial}'),
  (5, $$SELECT string_agg(id::text || CASE stage WHEN $1 THEN 'W' ELSE '' END, ',' ORDER BY id) FROM names.bound$$, '{closed}'),
  (6, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.bound WHERE stage IS DISTINCT FROM $1$$, '{closed}'),
  (7, $$SELECT funnel.conversion_rate(stage, $1, $2)::text FROM names.bound$$, '{prospect,closed}'),
  (8, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.bound WHERE stage = 'closed'$$, '{}'),
  (9, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.tracked WHERE stage = $1$$, '{closed}'),
  (10, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.tracked WHERE stage < $1$$, '{closed}'),
  (11, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.tracked WHERE stage <> $1$$, '{closed}'),
  (12, $$UPDATE names.tracked SET stage = $1 WHERE id = 3 RETURNING stage::text$$, '{closed}'),
  (13, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.multi WHERE stage = $1$$, '{closed}'),
  (14, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.multi WHERE stage IN ($1, $2)$$, '{closed,b2b:lead}'),
  (15, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.multi WHERE stage NOT IN ($1, $2)$$, '{closed,churned}'),
  (16, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.multi WHERE stage = ANY (ARRAY[$1, $2])$$, '{trial,prospect}'),
  (17, $$SELECT string_agg(id::text, ',' ORDER BY id) FROM names.multi WHERE stage IN ('closed', 'trial')$$, '{}');
CREATE FUNCTION names.add_pipelines() RETURNS void LANGUAGE sql AS $$
SELECT funnel.create_pipeline('dx2', ARRAY['prospect','trial'], won => ARRAY['closed'], lost => ARRAY['churned']);
SELECT funnel.create_pipeline('dx3', ARRAY['trial','prospect'], won => ARRAY['closed'], lost => ARRAY['churned']);
$$;
