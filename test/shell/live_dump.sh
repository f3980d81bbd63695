#!/bin/sh
# test/shell/live_dump.sh: live summaries (issue 23) survive pg_dump and
# restore.  A NOSUPERUSER owner's tracked table crm.live_deals has live
# summaries (test/shell/live/setup.sql: compacted rows and deltas, an owner
# dimension, amounts, backdated visits); after a plain dump restored with
# psql, a custom dump with pg_restore and a directory dump with
# pg_restore -j 4, the live readers give the scan-based answers and
# funnel.live_check() finds nothing (crm.live_mismatches(),
# test/shell/live/compare.sql), the live triggers are there, and writes keep
# the summaries equal to the history.  pg_upgrade: test/shell/pg_upgrade.sh.
set -eu
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
fail() { echo "live_dump: FAIL: $*" >&2; exit 1; }
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$@"; }
here=$(cd "$(dirname "$0")" && pwd)

for db in src plain custom parallel; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS lv_$db" -c "CREATE DATABASE lv_$db"
done
psql -X -q -d postgres -c "DROP ROLE IF EXISTS live_dump_owner" \
     -c "CREATE ROLE live_dump_owner LOGIN NOSUPERUSER PASSWORD 'live'"
q lv_src <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('sales', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]) IS NOT NULL;
CREATE SCHEMA crm AUTHORIZATION live_dump_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
    funnel.enable_live(regclass, name[], name) TO live_dump_owner;
SQL
PGPASSWORD=live q lv_src -U live_dump_owner -f "$here/live/setup.sql" >/dev/null
q lv_src -f "$here/live/compare.sql" >/dev/null
[ "$(q lv_src -c 'SELECT crm.live_mismatches()')" = 0 ] || fail "the source differs before the dump"
[ "$(q lv_src -c 'SELECT count(*) FROM crm.live_deals_stage_live WHERE minus IS NOT NULL')" -gt 0 ] \
    || fail "the source has no delta rows"

pg_dump -Fp -f "$work/plain.sql" lv_src
pg_dump -Fc -f "$work/custom.dump" lv_src
pg_dump -Fd -j 4 -f "$work/dir.dump" lv_src
q lv_plain -f "$work/plain.sql" >/dev/null 2>"$work/plain.err" || { cat "$work/plain.err"; fail "plain restore"; }
grep -q ERROR "$work/plain.err" && { cat "$work/plain.err"; fail "plain restore printed errors"; }
pg_restore --exit-on-error -d lv_custom "$work/custom.dump" || fail "pg_restore"
pg_restore --exit-on-error -j 4 -d lv_parallel "$work/dir.dump" || fail "pg_restore -j 4"

src=$(q lv_src -c "SELECT md5(string_agg(r::text, ';' ORDER BY r::text)) FROM funnel.live_report('crm.live_deals') r")
for db in plain custom parallel; do
    got=$(q lv_$db -c "SELECT md5(string_agg(r::text, ';' ORDER BY r::text)) FROM funnel.live_report('crm.live_deals') r")
    [ "$got" = "$src" ] || fail "lv_$db: live_report differs from the source's"
    [ "$(q lv_$db -c 'SELECT crm.live_mismatches()')" = 0 ] || fail "lv_$db: live answers differ after the restore"
    [ "$(q lv_$db -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'crm.live_deals'::regclass AND tgname LIKE 'funnel\_track\_live\_%'")" = 4 ] \
        || fail "lv_$db: the live triggers are missing"
    [ "$(q lv_$db -c "SELECT live::text FROM funnel.live_table WHERE deals = 'crm.live_deals'::regclass")" = crm.live_deals_stage_live ] \
        || fail "lv_$db: funnel.live_table not restored"
    # the owner writes; the summaries follow
    PGPASSWORD=live q lv_$db -U live_dump_owner -c "CALL crm.live_writes()" || fail "lv_$db: writes after the restore"
    [ "$(q lv_$db -c 'SELECT crm.live_mismatches()')" = 0 ] || fail "lv_$db: live answers differ after writes"
    [ "$(q lv_$db -c "SELECT count(*) FROM crm.live_deals_stage_live WHERE day IS NOT NULL")" -gt \
      "$(q lv_src -c "SELECT count(*) FROM crm.live_deals_stage_live WHERE day IS NOT NULL")" ] \
        || fail "lv_$db: writes appended no delta rows"
    PGPASSWORD=live q lv_$db -U live_dump_owner -c "SELECT funnel.live_compact('crm.live_deals')" >/dev/null
    [ "$(q lv_$db -c 'SELECT crm.live_mismatches()')" = 0 ] || fail "lv_$db: live answers differ after compaction"
    echo "live_dump: lv_$db: live answers equal the scan-based ones after restore, writes and compaction"
done

for db in src plain custom parallel; do
    psql -X -q -d postgres -c "DROP DATABASE lv_$db"
done
psql -X -q -d postgres -c "DROP ROLE live_dump_owner"
echo "live_dump: ok"
