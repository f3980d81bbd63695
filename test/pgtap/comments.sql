-- test/pgtap/comments.sql: every object the extension installs has a comment
-- (\df+, \dT+, \do+ and \d+ are documentation for analysts)
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
RESET client_min_messages;
CREATE EXTENSION funnel;
SELECT plan(2);

CREATE TEMP VIEW member_objects AS
SELECT d.classid::regclass AS catalog, d.objid, d.objsubid,
       pg_describe_object(d.classid, d.objid, d.objsubid) AS object
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'funnel')
   AND d.deptype = 'e'
UNION ALL
-- triggers and constraints of member tables are not members themselves
SELECT 'pg_trigger'::regclass, t.oid, 0, pg_describe_object('pg_trigger'::regclass, t.oid, 0)
  FROM pg_trigger t JOIN pg_depend d ON d.objid = t.tgrelid AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'funnel')
 WHERE NOT t.tgisinternal;

SELECT cmp_ok((SELECT count(*)::int FROM member_objects), '>', 50,
              'the extension has its objects registered as members');
SELECT is_empty($$
    SELECT object FROM member_objects m
     WHERE obj_description(m.objid, m.catalog::text) IS NULL
       -- array types and the implicit row types of tables and views
       AND NOT (m.catalog = 'pg_type'::regclass AND EXISTS (
                SELECT 1 FROM pg_type t WHERE t.oid = m.objid
                   AND (t.typelem <> 0 AND t.typsubscript <> 0 OR t.typrelid <> 0)))
     ORDER BY 1 $$,
    'every function, type, table, view, operator, operator class, cast, schema and trigger has a COMMENT');

SELECT * FROM finish();
ROLLBACK;
