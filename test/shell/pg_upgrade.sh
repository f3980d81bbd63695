#!/bin/sh
# test/shell/pg_upgrade.sh: stored deal_stage values survive pg_upgrade.
#
# pg_upgrade copies table files as they are and recreates the schema with
# pg_dump --binary-upgrade, which must preserve the OIDs a deal_stage stores
# (pipeline enum type and pg_enum label).  Upgrades a cluster to a new cluster
# of the same major version (the same binary-upgrade path a major upgrade
# takes) and checks that rows, order, indexes and pipeline attributes are
# unchanged and writable, and that live summaries (test/shell/live/) give
# the scan-based answers and follow writes.  Runs its own two clusters (not
# the test cluster).
set -eu
bindir=$(pg_config --bindir)
work=$(mktemp -d)
port_old=$((55000 + $$ % 400))
port_new=$((port_old + 400))
as_pg()
{
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup()
{
    as_pg "$bindir/pg_ctl" -D "$work/old" -m immediate stop >/dev/null 2>&1 || true
    as_pg "$bindir/pg_ctl" -D "$work/new" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$work"
fail() { echo "pg_upgrade: FAIL: $*" >&2; exit 1; }
q() { as_pg psql -X -q -v ON_ERROR_STOP=1 -At -h "$work" -d funnel_up "$@"; }

as_pg "$bindir/initdb" -D "$work/old" -U postgres -A trust >/dev/null
as_pg "$bindir/initdb" -D "$work/new" -U postgres -A trust >/dev/null
as_pg "$bindir/pg_ctl" -D "$work/old" -l "$work/old.log" -w \
    -o "-p $port_old -k $work -c listen_addresses=''" start >/dev/null
export PGPORT=$port_old PGUSER=postgres
as_pg psql -X -q -h "$work" -d postgres -c 'CREATE DATABASE funnel_up'
q <<'SQL'
CREATE EXTENSION funnel;
CREATE EXTENSION amcheck;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
SELECT funnel.add_stage('b2b', 'demo', after => 'qualified');
SELECT funnel.rename_stage('b2b', 'proposal', 'offer');
SELECT funnel.set_stale_after('b2b', 'offer', interval '14 days');
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                        other funnel.deal_stage, path funnel.deal_stage[]);
INSERT INTO crm.deals
SELECT g, (ARRAY['lead','qualified','demo','offer','won','lost'])[1 + g % 6],
       (ARRAY['retail:lead','retail:visit','b2b:demo','retail:won'])[1 + g % 4],
       ARRAY['b2b:lead','b2b:demo','retail:visit']::funnel.deal_stage[]
FROM generate_series(1, 10000) g;
CREATE INDEX deals_stage ON crm.deals (stage);
CREATE INDEX deals_other ON crm.deals (other);
-- live summaries (issue 23) of a NOSUPERUSER owner's table: test/shell/live/
SELECT funnel.create_pipeline('sales', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
CREATE ROLE live_up_owner LOGIN NOSUPERUSER;
GRANT CREATE, USAGE ON SCHEMA crm TO live_up_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
    funnel.enable_live(regclass, name[], name) TO live_up_owner;
SQL
q -U live_up_owner -f "$(dirname "$0")/live/setup.sql" >/dev/null
q -f "$(dirname "$0")/live/compare.sql" >/dev/null
[ "$(q -c 'SELECT crm.live_mismatches()')" = 0 ] || fail "live summaries differ before pg_upgrade"
checks="
SELECT md5(string_agg(d::text, ';' ORDER BY id)) FROM crm.deals d;
SELECT md5(string_agg(id::text, ',' ORDER BY stage, id)) FROM crm.deals;
SELECT md5(string_agg(id::text, ',' ORDER BY other, id)) FROM crm.deals;
SELECT md5(string_agg(s::text, ';')) FROM funnel.stages s;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'crm.deals'::regclass AND attname = 'stage';
SELECT sum(funnel.position(stage)) FROM crm.deals;
SELECT md5(string_agg(r::text, ';' ORDER BY r::text)) FROM funnel.live_report('crm.live_deals') r;
SELECT md5(string_agg(l::text, ';' ORDER BY l::text)) FROM crm.live_deals_stage_live l;
"
echo "$checks" | q > "$work/before.out"
as_pg "$bindir/pg_ctl" -D "$work/old" -w stop >/dev/null

(cd "$work" && as_pg "$bindir/pg_upgrade" -b "$bindir" -B "$bindir" -d "$work/old" -D "$work/new" \
    -p "$port_old" -P "$port_new" -U postgres >"$work/upgrade.out" 2>&1) \
    || { cat "$work/upgrade.out"; fail "pg_upgrade"; }

as_pg "$bindir/pg_ctl" -D "$work/new" -l "$work/new.log" -w \
    -o "-p $port_new -k $work -c listen_addresses=''" start >/dev/null
export PGPORT=$port_new
echo "$checks" | q > "$work/after.out"
diff "$work/before.out" "$work/after.out" || fail "data differ after pg_upgrade"
q -c "SELECT bt_index_check('crm.deals_stage', true)" -c "SELECT bt_index_check('crm.deals_other', true)" >/dev/null \
    || fail "bt_index_check after pg_upgrade"
q -c "INSERT INTO crm.deals VALUES (-1, 'demo', 'retail:visit')" \
  -c "SELECT funnel.add_stage('b2b', 'pilot', before => 'offer')" \
  -c "INSERT INTO crm.deals VALUES (-2, 'pilot', 'b2b:pilot')" \
  -c "SELECT bt_index_check('crm.deals_stage', true)" >/dev/null \
    || fail "writing after pg_upgrade"
# the live summaries: scan-based answers, the triggers there, writes followed
[ "$(q -c 'SELECT crm.live_mismatches()')" = 0 ] || fail "live summaries differ after pg_upgrade"
[ "$(q -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'crm.live_deals'::regclass AND tgname LIKE 'funnel\_track\_live\_%'")" = 4 ] \
    || fail "the live triggers are missing after pg_upgrade"
q -U live_up_owner -c "CALL crm.live_writes()" || fail "writes to crm.live_deals after pg_upgrade"
[ "$(q -c 'SELECT crm.live_mismatches()')" = 0 ] || fail "live summaries differ after writes after pg_upgrade"
echo "pg_upgrade: rows, order, typmods, attributes, indexes and live summaries unchanged"
