#!/bin/sh
# test/shell/track_migrate_dump.sh: restore of one schema (pg_dump -n crm)
# by its NOSUPERUSER owner (README "Schema migrations").  pg_dump -n does
# not carry funnel's configuration (funnel.tracked_table rows belong to the
# extension, in schema funnel), only the table, its history and funnel's
# triggers:
#   - into a database without the pipeline, the restore stops at the table
#     and names the pipeline;
#   - into a database with the pipeline, the restore works; a write fails
#     with SQLSTATE 55000 and a HINT to call funnel.track(), which
#     re-attaches the restored history: then the history is the source's,
#     writes record their visits and check_history() is empty.
set -eu
SRC=funnel_migrate_dump_src
DST=funnel_migrate_dump_dst
NOPIPE=funnel_migrate_dump_nopipe
WORK=$(mktemp -d /tmp/funnel-migrate-dump.XXXXXX)
chmod 777 "$WORK"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for d in $SRC $DST $NOPIPE; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d"
    psql -X -q -d postgres -c "CREATE DATABASE $d"
done
psql -X -q -d postgres <<'SQL' >/dev/null
DROP ROLE IF EXISTS md_own;
CREATE ROLE md_own NOSUPERUSER;
SQL
for d in $SRC $DST $NOPIPE; do
    psql -X -q -v ON_ERROR_STOP=1 -d $d <<SQL >/dev/null
GRANT CREATE ON DATABASE $d TO md_own;
CREATE EXTENSION funnel;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO md_own;
SQL
done
for d in $SRC $DST; do
    psql -X -q -v ON_ERROR_STOP=1 -d $d \
        -c "SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'])" >/dev/null
done
# as the owner
O() { db=$1; shift; PGOPTIONS="-c role=md_own" psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

O $SRC <<'SQL' >/dev/null
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, amount numeric, stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO crm.deals SELECT g, g, 'lead' FROM generate_series(1, 100) g;
SELECT funnel.track('crm.deals', 'b2b');
UPDATE crm.deals SET stage = 'qualified' WHERE id % 2 = 0;
UPDATE crm.deals SET stage = 'proposal' WHERE id % 4 = 0;
DELETE FROM crm.deals WHERE id = 100;
SQL
fingerprint()
{
    O "$1" -c "SELECT count(*), count(*) FILTER (WHERE left_at IS NULL),
                      string_agg(format('%s/%s/%s/%s', deal_id, stage, entered_at, left_at), ',' ORDER BY deal_id, entered_at, left_at NULLS LAST)
                 FROM crm.deals_stage_history" | md5sum
}
want=$(fingerprint $SRC)
pg_dump --role=md_own -n crm -d $SRC -f "$WORK/crm.sql" || fail "pg_dump -n crm as the owner"

# without the pipeline: the restore says which is missing
if O $NOPIPE -f "$WORK/crm.sql" >"$WORK/nopipe.out" 2>&1; then
    fail "restore into a database without the pipeline succeeded"
fi
grep -q 'pipeline "b2b" does not exist' "$WORK/nopipe.out" ||
    { cat "$WORK/nopipe.out"; fail "the failed restore does not name the missing pipeline"; }

# with the pipeline: restored, not tracked yet
O $DST -f "$WORK/crm.sql" >/dev/null 2>"$WORK/restore.err" || { cat "$WORK/restore.err"; fail "restore as the owner"; }
[ "$(fingerprint $DST)" = "$want" ] || fail "the restored history differs"
if O $DST -v VERBOSITY=verbose -c "UPDATE crm.deals SET stage = 'qualified' WHERE id = 1" >"$WORK/write.out" 2>&1; then
    fail "a write to the restored table succeeded before track()"
fi
grep -q 'ERROR:  55000: table "deals" is not tracked by funnel' "$WORK/write.out" ||
    { cat "$WORK/write.out"; fail "the refused write has not SQLSTATE 55000"; }
grep -q "HINT:  Call funnel.track('crm.deals', pipeline => '...') as before" "$WORK/write.out" ||
    { cat "$WORK/write.out"; fail "the refused write does not say how to re-attach"; }
[ "$(fingerprint $DST)" = "$want" ] || fail "the refused write changed the history"

# the HINT: track() re-attaches the restored history
O $DST -c "SELECT funnel.track('crm.deals', 'b2b')" >/dev/null || fail "track() after the restore"
[ "$(fingerprint $DST)" = "$want" ] || fail "re-attaching changed the restored history"
O $DST -c "UPDATE crm.deals SET stage = 'qualified' WHERE id = 1" || fail "a write after track()"
n=$(O $DST -c "SELECT count(*) FROM crm.deals_stage_history WHERE deal_id = 1")
[ "$n" -eq 2 ] || fail "the write after track() wrote $n visits of deal 1, want 2"
bad=$(O $DST -c "SELECT count(*) FROM funnel.check_history('crm.deals')")
[ "$bad" -eq 0 ] || fail "check_history lists $bad problems after the restore"
n=$(O $DST -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'crm.deals'::regclass AND tgname LIKE 'funnel_track_%'")
[ "$n" -eq 5 ] || fail "$n funnel_track_* triggers after track(), want 5"

for d in $SRC $DST $NOPIPE; do
    psql -X -q -d postgres -c "DROP DATABASE $d"
done
psql -X -q -d postgres -c "DROP ROLE md_own"
echo "ok: pg_dump -n crm restored by its owner: missing pipeline named, writes refused with a HINT, track() re-attaches the history"
