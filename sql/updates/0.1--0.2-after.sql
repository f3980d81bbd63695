-- sql/updates/0.1--0.2-after.sql: the part of sql/funnel--0.1--0.2.sql that
-- needs 0.2's functions (run after the definitions; see 0.1--0.2.sql)

-- the rule names' one list (sql/install/track/track.sql)
ALTER TABLE funnel.tracked_table DROP CONSTRAINT tracked_table_rule_check;
ALTER TABLE funnel.tracked_table
    ADD CONSTRAINT tracked_table_rule_check CHECK (funnel_internal.check_rule(rule));

-- LIKE on stages (sql/install/type/deal_stage.sql)
CREATE OPERATOR pg_catalog.~~ (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_like,
    NEGATOR = OPERATOR(pg_catalog.!~~),
    RESTRICT = likesel, JOIN = likejoinsel
);
CREATE OPERATOR pg_catalog.!~~ (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_nlike,
    NEGATOR = OPERATOR(pg_catalog.~~),
    RESTRICT = nlikesel, JOIN = nlikejoinsel
);
CREATE OPERATOR pg_catalog.~~* (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_ilike,
    NEGATOR = OPERATOR(pg_catalog.!~~*),
    RESTRICT = iclikesel, JOIN = iclikejoinsel
);
CREATE OPERATOR pg_catalog.!~~* (
    LEFTARG = funnel.deal_stage, RIGHTARG = text,
    FUNCTION = funnel_internal.deal_stage_nilike,
    NEGATOR = OPERATOR(pg_catalog.~~*),
    RESTRICT = icnlikesel, JOIN = icnlikejoinsel
);

-- (sql/install/pipeline/pipeline.sql)
CREATE EVENT TRIGGER funnel_stage_columns_ddl_start ON ddl_command_start
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
                 'CREATE MATERIALIZED VIEW', 'CREATE TYPE', 'ALTER TYPE',
                 'CREATE DOMAIN', 'ALTER DOMAIN')
    EXECUTE FUNCTION funnel_internal.stage_columns_ddl_start();
-- (sql/install/citus/citus.sql)
CREATE EVENT TRIGGER funnel_citus_depend_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE TABLE AS', 'SELECT INTO')
    EXECUTE FUNCTION funnel_internal.citus_depend_ddl_end();
-- (sql/install/citus/citus.sql)
CREATE EVENT TRIGGER funnel_citus_rebind_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.citus_rebind_sql_drop();
-- (sql/install/citus/citus.sql)
CREATE EVENT TRIGGER funnel_citus_trigger_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION funnel_internal.citus_trigger_ddl_end();
-- (sql/install/track/track_migrate.sql)
CREATE EVENT TRIGGER funnel_track_migrate ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.track_migrate_ddl_end();
-- (sql/install/track/track_migrate.sql)
CREATE EVENT TRIGGER funnel_track_migrate_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.track_migrate_ddl_start();
-- (sql/install/live/live_ops.sql)
CREATE EVENT TRIGGER funnel_live_sql_drop ON sql_drop
    EXECUTE FUNCTION funnel_internal.live_sql_drop();
CREATE EVENT TRIGGER funnel_track_migrate_live ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION funnel_internal.live_ddl_end();
