-- sql/install/funnel.sql: the schemas.  CREATE EXTENSION makes schema funnel
-- (funnel.control), which holds the documented API alone; the functions
-- behind it (aggregate support, type I/O, trigger functions, the bodies of
-- SECURITY DEFINER entry points) live in funnel_internal, on nobody's
-- search_path.  Its USAGE is granted to PUBLIC because the API functions that
-- run as the caller call into it; EXECUTE on what no caller needs is revoked
-- at the end (sql/install/grants.sql).
-- C: src/funnel.c.  Part of the install script (see sql/install/README.md).

CREATE SCHEMA funnel_internal;
COMMENT ON SCHEMA funnel_internal IS
  'funnel internals: aggregate support, type I/O, trigger functions and the bodies behind funnel''s API; not an API, may change in any release';
GRANT USAGE ON SCHEMA funnel_internal TO PUBLIC;
