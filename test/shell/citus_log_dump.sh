#!/bin/sh
# test/shell/citus_log_dump.sh: pg_dump -> restore of a coordinator's pipeline
# log, without Citus (issue 17.3; doc/design.md section 11).  Schema
# funnel_citus belongs to the extension, the log in it does not: pg_dump
# leaves the schema to CREATE EXTENSION and dumps the table, its rows, its
# privileges and its trigger.  The log is made here as
# funnel_internal.pipeline_log_ensure() makes it on a coordinator (minus
# create_reference_table), its rows loaded before the trigger exists (the
# trigger needs Citus).  Checked for a plain and a custom dump: no CREATE
# SCHEMA funnel_citus in the dump, the restored rows equal the source's, the
# restored log passes funnel's checks (owner, privileges, trigger), the
# schema is again the extension member and PUBLIC still cannot create in it.
set -eu
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "citus_log_dump: FAIL: $*" >&2; exit 1; }
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$@"; }

for db in src plain custom; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS fcl_$db" -c "CREATE DATABASE fcl_$db"
done
psql -X -q -d postgres -c "DROP ROLE IF EXISTS fcl_nobody" -c "CREATE ROLE fcl_nobody NOSUPERUSER"

q fcl_src >/dev/null <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead', 'qualified']);
CREATE TABLE funnel_citus.pipeline_log (
    id          bigint PRIMARY KEY,
    op          text NOT NULL,
    pipeline    text,
    args        jsonb,
    result      jsonb,
    logged_at   timestamptz NOT NULL,
    logged_by   text NOT NULL,
    rules       jsonb
);
REVOKE ALL ON funnel_citus.pipeline_log FROM PUBLIC;
GRANT SELECT ON funnel_citus.pipeline_log TO PUBLIC;
INSERT INTO funnel_citus.pipeline_log
SELECT g, CASE WHEN g = 1 THEN 'define' ELSE 'set_probability' END, 'b2b',
       jsonb_build_array('b2b', 'lead', g / 100.0), funnel_internal.pipeline_definition('b2b'),
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', 'postgres', funnel_internal.pipeline_rules('b2b')
  FROM generate_series(1, 50) g;
CREATE TRIGGER pipeline_log_apply AFTER INSERT ON funnel_citus.pipeline_log
    FOR EACH STATEMENT EXECUTE FUNCTION funnel_internal.pipeline_log_apply();
SELECT funnel_internal.citus_table('pipeline_log', 'log');
SQL

digest="SELECT count(*) || ' ' || md5(string_agg(l::text, ';' ORDER BY id)) FROM funnel_citus.pipeline_log l"
want=$(q fcl_src -c "$digest")
pg_dump -d fcl_src -f "$work/plain.sql"
pg_dump -d fcl_src -Fc -f "$work/custom.dump"
grep -q '^CREATE SCHEMA funnel_citus' "$work/plain.sql" && fail "the dump creates schema funnel_citus (it belongs to the extension)"
grep -q '^CREATE TABLE funnel_citus.pipeline_log ' "$work/plain.sql" || fail "the dump lacks the pipeline log"
psql -X -q -v ON_ERROR_STOP=1 -d fcl_plain -f "$work/plain.sql" >/dev/null || fail "restoring the plain dump"
pg_restore --exit-on-error -d fcl_custom "$work/custom.dump" || fail "restoring the custom dump"

for db in plain custom; do
    [ "$(q fcl_$db -c "$digest")" = "$want" ] || fail "fcl_$db: the log's rows differ from the source's"
    [ "$(q fcl_$db -c "SELECT funnel_internal.citus_table('pipeline_log', 'log')")" = "funnel_citus.pipeline_log" ] ||
        fail "fcl_$db: the restored log does not pass funnel's checks"
    [ "$(q fcl_$db -c "SELECT count(*) FROM pg_depend d JOIN pg_namespace n ON n.oid = d.objid
                        WHERE d.classid = 'pg_namespace'::regclass AND n.nspname = 'funnel_citus' AND d.deptype = 'e'")" = 1 ] ||
        fail "fcl_$db: schema funnel_citus is not an extension member after restore"
    [ "$(q fcl_$db -c "SELECT has_schema_privilege('fcl_nobody', 'funnel_citus', 'CREATE')::text
                             || has_table_privilege('fcl_nobody', 'funnel_citus.pipeline_log', 'SELECT')::text
                             || has_table_privilege('fcl_nobody', 'funnel_citus.pipeline_log', 'INSERT')::text")" = "falsetruefalse" ] ||
        fail "fcl_$db: privileges on funnel_citus or its log changed by the round trip"
    echo "citus_log_dump: fcl_$db matches the source"
done

for db in src plain custom; do
    psql -X -q -d postgres -c "DROP DATABASE fcl_$db"
done
psql -X -q -d postgres -c "DROP ROLE fcl_nobody"
echo "citus_log_dump: ok"
