#!/bin/sh
# test/shell/value_lifetimes.sh: no value outlives its stage or its pipeline
# (issue 17.4).  A NOSUPERUSER table owner works next to a pipeline manager:
#   - a stage added by a still-open transaction cannot become a value
#     through journey or funnel_summary input, nor through pipeline_trend()
#     (which put it into an index that kept it after ROLLBACK);
#   - drop_pipeline() refuses while a journey column holds the pipeline's
#     stages (the list of stage-holding types lacked journey);
#   - two sessions: drop_pipeline() refuses while another transaction that
#     created a table holding the pipeline's journeys is open, and a
#     CREATE TABLE AS that waited for a drop_pipeline() fails; no dangling
#     stage is left either way;
#   - drop_pipeline() refuses at REPEATABLE READ.
# Before the fix: the inputs and pipeline_trend() handed the new stage out,
# and drop_pipeline() succeeded in every case, leaving values whose
# pipeline no longer existed.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "value_lifetimes: FAIL: $*" >&2; exit 1; }
DB=funnel_value_lifetimes
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
super() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
owner() { PGOPTIONS='-c role=funnel_lt_owner' psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
J='{"pipeline": "%s", "outcome": "open", "current": "%s", "current_entered_at": "2024-01-01T00:00:00+00:00", "furthest": "%s", "last_open": "%s", "last_open_entered_at": "2024-01-01T00:00:00+00:00", "first_entered_at": "2024-01-01T00:00:00+00:00"}'
journey() { printf "$J" "$1" "$2" "$2" "$2"; }

super <<'SQL'
CREATE EXTENSION funnel;
CREATE EXTENSION amcheck;
SELECT funnel.create_pipeline('p1', ARRAY['lead', 'demo']);
SELECT funnel.create_pipeline('p3', ARRAY['x']);
SELECT funnel.create_pipeline('p4', ARRAY['x']);
SELECT funnel.create_pipeline('p5', ARRAY['x']);
DROP ROLE IF EXISTS funnel_lt_owner;
CREATE ROLE funnel_lt_owner NOSUPERUSER;
CREATE SCHEMA crm AUTHORIZATION funnel_lt_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO funnel_lt_owner;
SQL
owner <<'SQL' >/dev/null
CREATE TABLE crm.u (id int, s funnel.deal_stage);
CREATE INDEX ON crm.u (s);
CREATE TABLE crm.deals (id int PRIMARY KEY, stage funnel.deal_stage(p1) NOT NULL);
SELECT funnel.track('crm.deals', 'p1');
INSERT INTO crm.deals VALUES (1, 'lead'), (2, 'demo');
SQL

# 1. a stage added by the open transaction: refused by journey and summary
#    input, left out by pipeline_trend()
out=$(super 2>&1 <<SQL || true
BEGIN;
SELECT funnel.add_stage('p1', 'pilot', after => 'lead');
SELECT '$(journey p1 pilot)'::funnel.journey;
SQL
)
echo "$out" | grep -q 'unsafe use of new stage "p1:pilot"' || fail "journey input took a new stage: $out"
out=$(super 2>&1 <<'SQL' || true
BEGIN;
SELECT funnel.add_stage('p1', 'pilot', after => 'lead');
SELECT '{"pipeline": "p1", "stages": [{"stage": "pilot", "deals": 1, "amount_count": 0, "amount": 0}]}'::funnel.funnel_summary;
SQL
)
echo "$out" | grep -q 'unsafe use of new stage "p1:pilot"' || fail "summary input took a new stage: $out"
n=$(super 2>&1 <<'SQL'
BEGIN;
SELECT funnel.add_stage('p1', 'pilot', after => 'lead') \g /dev/null
INSERT INTO crm.u SELECT 8, stage FROM funnel.pipeline_trend('crm.deals_stage_history', ARRAY[now()]);
SELECT count(*) FROM crm.u WHERE funnel.stage_name(s) = 'pilot';
ROLLBACK;
SQL
)
[ "$n" = 0 ] || fail "pipeline_trend() handed out the new stage: $n"
super -c "SELECT bt_index_check('crm.u_s_idx', true)" -c "VACUUM crm.u" -c "REINDEX TABLE crm.u" >/dev/null ||
    fail "index of crm.u after the rollback"

# 2. drop_pipeline() sees journeys (and every other stage-holding type)
owner <<SQL >/dev/null
CREATE TABLE crm.holders (id int, j funnel.journey);
INSERT INTO crm.holders VALUES (1, '$(journey p3 x)');
SQL
out=$(super -c "SELECT funnel.drop_pipeline('p3')" 2>&1 || true)
echo "$out" | grep -q 'Column crm.holders.j holds stages of it' || fail "drop_pipeline(p3) with a journey: $out"
[ "$(super -c "SELECT count(*) FROM unnest(funnel_internal.stage_holding_types()) t WHERE t IN ('funnel.deal_stage'::regtype, 'funnel.funnel_summary'::regtype, 'funnel.journey'::regtype)")" = 3 ] ||
    fail "the list of stage-holding types"

# 3a. two sessions: the owner's open transaction created a table holding p4
owner >"$work/a.out" 2>&1 <<SQL &
BEGIN;
CREATE TABLE crm.j (id int, j funnel.journey);
INSERT INTO crm.j VALUES (1, '$(journey p4 x)');
SELECT pg_sleep(4);
COMMIT;
SQL
a=$!
i=0
until [ "$(super -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid()")" = 1 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "session A did not start"; sleep 0.1
done
out=$(super -c "SELECT funnel.drop_pipeline('p4')" 2>&1 || true)
wait $a || { cat "$work/a.out"; fail "session A failed"; }
echo "$out" | grep -q 'cannot drop pipeline "p4" while another transaction may be creating columns' ||
    fail "drop_pipeline(p4) did not refuse during the open transaction: $out"
[ "$(super -c "SELECT funnel.outcome(j) FROM crm.j")" = open ] || fail "crm.j lost its pipeline"
out=$(super -c "SELECT funnel.drop_pipeline('p4')" 2>&1 || true)
echo "$out" | grep -q 'Column crm.j.j holds stages of it' || fail "drop_pipeline(p4) after the commit: $out"

# 3b. a CREATE TABLE AS that waits for a drop_pipeline() that commits fails
super >"$work/b.out" 2>&1 <<'SQL' &
BEGIN;
SELECT funnel.drop_pipeline('p5');
SELECT pg_sleep(3);
COMMIT;
SQL
b=$!
i=0
until [ "$(super -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()")" = 1 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "session B did not start"; sleep 0.1
done
out=$(owner -c "CREATE TABLE crm.k AS SELECT 'p5:x'::funnel.deal_stage AS s" 2>&1 || true)
wait $b || { cat "$work/b.out"; fail "drop_pipeline(p5) failed"; }
echo "$out" | grep -q 'a pipeline was dropped while it waited' || fail "CREATE TABLE AS kept a stage of a dropped pipeline: $out"
[ "$(super -c "SELECT count(*) FROM pg_class WHERE relname = 'k'")" = 0 ] || fail "crm.k exists"

# 4. REPEATABLE READ would not see a table committed after its snapshot
out=$(super -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT funnel.drop_pipeline('p3')" 2>&1 || true)
echo "$out" | grep -q 'cannot drop pipeline "p3" at isolation level REPEATABLE READ' || fail "drop_pipeline at REPEATABLE READ: $out"

# nothing dangles: every value prints, the database dumps
super -c "SELECT count(*) FROM (SELECT j::text FROM crm.holders UNION ALL SELECT j::text FROM crm.j UNION ALL SELECT s::text FROM crm.u) x" >/dev/null ||
    fail "a stored value does not print"
pg_dump -f "$work/dump.sql" $DB || fail "pg_dump"
psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE funnel_lt_owner"
echo "ok: no value outlives its stage or its pipeline"
