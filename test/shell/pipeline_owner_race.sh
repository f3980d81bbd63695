#!/bin/sh
# test/shell/pipeline_owner_race.sh: an owner change racing a change by the
# old owner (issue 19.3), with two sessions.
#   Session 1 (a superuser) gives tenant_a's pipeline to tenant_b and keeps
#   its transaction open; session 2, as tenant_a, calls set_probability()
#   on the pipeline.  The owner check locks the pipeline's row, so session 2
#   waits (asserted in pg_stat_activity) until session 1 commits, then sees
#   the new owner and is refused (42501) and the probability is unchanged.
#   Without the lock, session 2 read the old owner and changed a pipeline
#   that tenant_b had just been given.
set -eu
DB=funnel_owner_race
fail() { echo "pipeline_owner_race: FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" \
     -c "DROP ROLE IF EXISTS race_tenant_a" -c "DROP ROLE IF EXISTS race_tenant_b" \
     -c "CREATE DATABASE $DB"
cleanup() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" \
         -c "DROP ROLE IF EXISTS race_tenant_a" -c "DROP ROLE IF EXISTS race_tenant_b" >/dev/null 2>&1 || true
}
trap cleanup EXIT
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
$P <<'SQL'
CREATE EXTENSION funnel;
CREATE EXTENSION dblink;
CREATE ROLE race_tenant_a NOSUPERUSER;
CREATE ROLE race_tenant_b NOSUPERUSER;
GRANT EXECUTE ON FUNCTION funnel.create_pipeline(text, text[], double precision[], text[], text[]),
                          funnel.set_probability(text, text, double precision)
   TO race_tenant_a, race_tenant_b;
SET ROLE race_tenant_a;
SELECT funnel.create_pipeline('raced', ARRAY['lead', 'demo'], ARRAY[0.25, 0.5]);
SQL

out=$($P <<'SQL'
SELECT dblink_connect('owner_change', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))) \gset
SELECT dblink_connect('tenant', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1))) \gset
SELECT dblink_exec('owner_change', 'BEGIN') \gset
SELECT dblink_exec('owner_change', $q$DO $d$ BEGIN PERFORM funnel.alter_pipeline_owner('raced', 'race_tenant_b'); END $d$$q$) \gset
SELECT set_config('race.tenant_pid', pid::text, false)
  FROM dblink('tenant', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_exec('tenant', 'SET ROLE race_tenant_a') \gset
SELECT dblink_send_query('tenant', $q$SELECT funnel.set_probability('raced', 'lead', 0.375)$q$) \gset
-- wait (up to 30 s) until the tenant's call waits for a lock
DO $$
BEGIN
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity
                           WHERE pid = current_setting('race.tenant_pid')::int AND wait_event_type = 'Lock');
        EXIT WHEN dblink_is_busy('tenant') = 0;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT 'waited=' || (dblink_is_busy('tenant') = 1);
SELECT dblink_exec('owner_change', 'COMMIT') \gset
SELECT 'result=' || coalesce((SELECT x FROM dblink_get_result('tenant', false) AS t(x text)), 'error');
SELECT 'error=' || dblink_error_message('tenant');
SELECT 'owner=' || owner FROM funnel.pipeline WHERE name = 'raced';
SELECT 'probability=' || probability FROM funnel.pipeline_stage WHERE pipeline = 'raced' AND stage = 'lead';
SQL
)
echo "$out" | sed 's/^/  /'
echo "$out" | grep -qx 'waited=true' || fail "the tenant's change did not wait for the uncommitted owner change"
echo "$out" | grep -q '^error=.*permission denied for pipeline "raced" owned by role race_tenant_b' ||
    fail "the tenant's change was not refused once the new owner committed"
echo "$out" | grep -qx 'owner=race_tenant_b' || fail "the owner change was lost"
echo "$out" | grep -qx 'probability=0.25' || fail "the refused change changed the probability"
echo "pipeline_owner_race: ok"
