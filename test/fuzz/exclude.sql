-- test/fuzz/exclude.sql: what sqlsmith may call (make fuzz).
-- sqlsmith reads the functions and aggregates it generates calls to from an
-- unqualified "pg_proc"; with fuzz_catalog first on the fuzzing roles'
-- search_path it reads this view instead.  Left out, by rule, not by name
-- of what crashed:
--   * functions the role may not execute (a NOSUPERUSER role would only get
--     "permission denied");
--   * pg_catalog functions PUBLIC may not execute: server administration
--     (files, WAL, backups, signals, configuration, statistics resets);
--   * pg_catalog functions that wait by design: sleeps and advisory locks;
--   * pg_catalog functions whose effect outlives the statement outside the
--     database's data: session settings (set_config could lift the
--     statement_timeout), cancelling or terminating backends (the fuzzing
--     session itself), replication slots;
--   * functions taking or returning the polymorphic range and "compatible"
--     pseudo-types, which sqlsmith 1.4 cannot instantiate (half of its
--     queries otherwise fail with "argument declared anymultirange is not
--     a multirange type").
-- funnel's own functions all stay in, including the pipeline and tracking
-- administration (the superuser phase calls them).
CREATE SCHEMA fuzz_catalog;
CREATE VIEW fuzz_catalog.pg_proc AS
SELECT p.*
FROM pg_catalog.pg_proc p
WHERE pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
  AND NOT (p.pronamespace = 'pg_catalog'::regnamespace
           AND (NOT pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
                OR p.proname ~ '^(pg_sleep|pg_sleep_for|pg_sleep_until|pg_(try_)?advisory_.*)$'
                OR p.proname ~ '^(set_config|pg_cancel_backend|pg_terminate_backend)$'
                OR p.proname ~ 'replication_slot'))
  AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proargtypes::pg_catalog.oid[] || p.prorettype) t(oid)
                  WHERE t.oid::pg_catalog.regtype::pg_catalog.text ~ '^any(range|multirange|compatible.*)$');
GRANT USAGE ON SCHEMA fuzz_catalog TO PUBLIC;
GRANT SELECT ON fuzz_catalog.pg_proc TO PUBLIC;
SELECT pg_catalog.format('ALTER DATABASE %I SET search_path = fuzz_catalog, pg_catalog, funnel, public',
                         pg_catalog.current_database()) \gexec
SELECT pg_catalog.format('ALTER DATABASE %I SET statement_timeout = %L',
                         pg_catalog.current_database(), '1s') \gexec
