-- sql/install/import/import.sql: importing a CRM change log into a stage history
-- C: src/import/import.c, src/import/import_write.c.  Part of the install script (see sql/install/README.md).

--------------------------------------------------------------------------
-- funnel.import_history() builds the history of a tracked deals table (and
-- its deals), or fills a plain stage history table, from a change log given
-- as a relation or a query, in one pass written like COPY.  It runs as the
-- caller: the source is read with the caller's privileges, and the target
-- needs the caller's INSERT privilege.  It returns the rows of the log it
-- did not take as moves, each with its reason.  See doc/tracking.md.
--------------------------------------------------------------------------

CREATE FUNCTION funnel.import_history(
    target            regclass,
    source            text,
    key_column        text DEFAULT 'deal_id',
    stage_column      text DEFAULT 'stage',
    changed_at_column text DEFAULT 'changed_at',
    amount_column     text DEFAULT NULL,
    pipeline          text DEFAULT NULL,
    apply_rules       boolean DEFAULT false,
    order_by_time     boolean DEFAULT true)
RETURNS TABLE (source_row bigint, deal_id text, stage text, changed_at timestamptz,
               action text, detail text)
    AS 'MODULE_PATHNAME', 'funnel_import_history'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION funnel.import_history(regclass, text, text, text, text, text, text, boolean, boolean) IS
  'imports a change log (a relation name or a query: deal key, stage as text or deal_stage, changed-at as timestamptz, timestamp or date, optional amount) into an empty tracked deals table (deals at their last stage, whole history) or an empty stage history table; returns every source row not taken as a move with its action (skipped_null, skipped_unknown_stage, skipped_duplicate, skipped_repeat, skipped_time_backwards, skipped_after_close, refused_by_rule) and the reason';
