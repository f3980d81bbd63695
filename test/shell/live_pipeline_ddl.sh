#!/bin/sh
# test/shell/live_pipeline_ddl.sh: pipeline DDL while a table has live
# summaries (issue 23).  The summaries store stages, not positions, names or
# probabilities: report() reads those from the pipeline at read time.  After
# add_stage() (between stages, and deals moved into the new stage),
# rename_stage(), set_probability() and retire_stage(), each followed by
# moves, and after a compaction of rows written before and after the DDL,
# the live readers equal the scan-based answers and live_check() finds
# nothing (test/shell/live/compare.sql), the live report names the stages
# by their new names in the new order, and the weighted forecast read from
# the live report (open amount x probability per open stage, plus the won
# amount) equals funnel.weighted_forecast() over the deals.  The table
# belongs to a NOSUPERUSER owner; the pipeline to the superuser.
set -eu
DB=funnel_live_pipeline_ddl
fail() { echo "live_pipeline_ddl: FAIL: $*"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
SU_PASSWORD=${PGPASSWORD:-}
q() { PGPASSWORD=$SU_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -At -d $DB "$@"; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS live_ddl_owner" \
     -c "CREATE DATABASE $DB" -c "CREATE ROLE live_ddl_owner LOGIN NOSUPERUSER PASSWORD 'live'"
q <<'SQL' >/dev/null
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('sales', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
CREATE SCHEMA crm AUTHORIZATION live_ddl_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
    funnel.enable_live(regclass, name[], name) TO live_ddl_owner;
SQL
PGPASSWORD=live psql -X -q -v ON_ERROR_STOP=1 -At -d $DB -U live_ddl_owner -f "$here/live/setup.sql" >/dev/null
q -f "$here/live/compare.sql" >/dev/null
q <<'SQL' >/dev/null
-- Σ open_amount x probability over open stages + the won amount, from the
-- live report, minus funnel.weighted_forecast() over the deals
CREATE FUNCTION crm.forecast_gap() RETURNS numeric LANGUAGE sql AS $$
SELECT (SELECT coalesce(sum(r.open_amount * funnel.probability(r.stage)::numeric)
                        FILTER (WHERE r.kind = 'open'), 0)
             + coalesce(sum(r.amount) FILTER (WHERE r.kind = 'won'), 0)
          FROM funnel.live_report('crm.live_deals') r)
     - (SELECT funnel.weighted_forecast(d.amount, d.stage) FROM crm.live_deals d
         WHERE EXISTS (SELECT 1 FROM crm.live_deals_stage_history h WHERE h.deal_id = d.id))
$$;
SQL
O="env PGPASSWORD=live psql -X -q -At -v ON_ERROR_STOP=1 -U live_ddl_owner -d $DB"

check() {
    got=$(q -c "SELECT crm.live_mismatches()")
    [ "$got" = 0 ] || fail "$1: $got mismatches"
    gap=$(q -c "SELECT CASE WHEN crm.forecast_gap() = 0 THEN 'equal' ELSE crm.forecast_gap()::text END")
    [ "$gap" = equal ] || fail "$1: the live weighted forecast differs by $gap"
    echo "ok: $1"
}
stages() { q -c "SELECT string_agg(stage::text || '@' || position, ',' ORDER BY position) FROM funnel.live_report('crm.live_deals')"; }

check "before pipeline DDL"
before=$(stages)
[ "$before" = "sales:lead@1,sales:qualified@2,sales:proposal@3,sales:won@4,sales:lost@5" ] || fail "stages before: $before"

q -c "SELECT funnel.add_stage('sales', 'demo', probability => 0.45, after => 'qualified')" >/dev/null
check "add_stage between stages"
$O -c "UPDATE crm.live_deals SET stage = 'demo' WHERE id % 4 = 1 AND stage IN ('lead', 'qualified')" \
   -c "UPDATE crm.live_deals SET stage = 'proposal' WHERE id = 5" >/dev/null
check "deals moved into and out of the new stage"
got=$(stages)
[ "$got" = "sales:lead@1,sales:qualified@2,sales:demo@3,sales:proposal@4,sales:won@5,sales:lost@6" ] \
    || fail "stages after add_stage: $got"

q -c "SELECT funnel.rename_stage('sales', 'proposal', 'offer')" >/dev/null
check "rename_stage"
$O -c "UPDATE crm.live_deals SET stage = 'offer' WHERE id % 7 = 3" >/dev/null
check "moves to the renamed stage"
got=$(stages)
[ "$got" = "sales:lead@1,sales:qualified@2,sales:demo@3,sales:offer@4,sales:won@5,sales:lost@6" ] \
    || fail "stages after rename_stage: $got"

q -c "SELECT funnel.set_probability('sales', 'qualified', 0.35)" \
  -c "SELECT funnel.set_probability('sales', 'offer', 0.7)" >/dev/null
check "set_probability"
[ "$(q -c "SELECT funnel.probability('sales:offer'::funnel.deal_stage)")" = 0.7 ] || fail "probability not changed"

q -c "SELECT funnel.retire_stage('sales', 'lead')" >/dev/null
$O -c "UPDATE crm.live_deals SET stage = 'won' WHERE stage = 'lead' AND id % 2 = 1" >/dev/null
check "retire_stage and moves out of it"

$O -c "SELECT funnel.live_compact('crm.live_deals')" >/dev/null
check "compaction of rows written before and after the DDL"
$O -c "SELECT funnel.live_rebuild('crm.live_deals')" >/dev/null
check "rebuild"

PGPASSWORD=$SU_PASSWORD psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE live_ddl_owner"
echo "live_pipeline_ddl: all ok"
