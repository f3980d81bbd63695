-- sql/install/grants.sql: EXECUTE on the internals that no caller needs.
-- Aggregate support functions are checked against the aggregate's owner and
-- type I/O functions are not checked at all, so PUBLIC needs neither; the
-- operator and cast functions, the trigger functions (CREATE TRIGGER checks
-- them, also when pg_restore re-creates a tracked table's triggers) and the
-- internals that SECURITY INVOKER API functions call keep their EXECUTE.
-- Part of the install script (see sql/install/README.md).

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'funnel_internal'::regnamespace
           AND p.proname ~ '(_trans|_combine|_final|_final_days|_serialize|_deserialize|_merge|_ratio|_in|_out|_recv|_send|_typmod_in|_typmod_out|_cmp|_sortsupport|_hash|_hash_extended|_larger|_smaller)$'
           AND p.proname !~ '^deal_stage_(eq|ne|lt|le|gt|ge)$'
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
