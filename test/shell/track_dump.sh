#!/bin/sh
# test/shell/track_dump.sh: pg_dump / pg_restore of a database with a tracked
# table in a schema that sorts before funnel (crm), plain and pg_restore -j 4.  pg_dump creates triggers
# in post-data, after the data, so restoring the deals does not fire funnel's
# triggers: the history must come back exactly once, the
# configuration (tracked table, allow-list, required fields) must come back,
# and tracking must work in the restored database.
set -eu
DB=funnel_track_dump
WORK=$(mktemp -d /tmp/funnel-dump.XXXXXX)
chmod 777 "$WORK"
trap 'rm -rf "$WORK"' EXIT
export PGOPTIONS='-c search_path=public,funnel'
fail() { echo "FAIL: $*"; exit 1; }

for d in $DB ${DB}_plain ${DB}_dir; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d"
done
psql -X -q -d postgres -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1"
$P -d $DB <<'SQL' >/dev/null
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, amount numeric, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('crm.deals', 'b2b');
SELECT funnel.allow_transition('b2b', 'lost', 'lead');
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']);
INSERT INTO crm.deals SELECT g, g, 'lead' FROM generate_series(1, 1000) g;
UPDATE crm.deals SET stage = 'proposal' WHERE id % 2 = 0;
UPDATE crm.deals SET stage = 'lost' WHERE id % 3 = 0;
UPDATE crm.deals SET stage = 'lead' WHERE id % 6 = 0;
SQL
fingerprint()
{
    $P -d "$1" -c "SELECT count(*), count(*) FILTER (WHERE left_at IS NULL),
                          string_agg(format('%s/%s/%s/%s', deal_id, stage, entered_at, left_at), ',' ORDER BY deal_id, entered_at, left_at NULLS LAST)
                     FROM crm.deals_stage_history" | md5sum
}
config()
{
    $P -d "$1" -c "SELECT (SELECT string_agg(format('%s %s %s %s %s', deals, pipeline, stage_column, rule, history), ';') FROM funnel.tracked_table),
                          (SELECT string_agg(format('%s %s %s', pipeline, from_stage, to_stage), ';') FROM funnel.allowed_transition),
                          (SELECT string_agg(format('%s %s %s', pipeline, stage, fields), ';') FROM funnel.required_field)"
}
visits=$($P -d $DB -c "SELECT count(*) FROM crm.deals_stage_history")
[ "$visits" -eq $((1000 + 500 + 333 + 166)) ] || fail "source has $visits visits"
want=$(fingerprint $DB)
want_config=$(config $DB)

# plain format through psql
pg_dump -d $DB -f "$WORK/plain.sql"
psql -X -q -d postgres -c "CREATE DATABASE ${DB}_plain"
$P -d ${DB}_plain -f "$WORK/plain.sql" >/dev/null 2>"$WORK/plain.err" || { cat "$WORK/plain.err"; fail "plain restore failed"; }
[ "$(fingerprint ${DB}_plain)" = "$want" ] || fail "plain restore: history differs ($($P -d ${DB}_plain -c 'SELECT count(*) FROM crm.deals_stage_history') visits, expected $visits)"
[ "$(config ${DB}_plain)" = "$want_config" ] || fail "plain restore: configuration differs: $(config ${DB}_plain)"

# directory format, parallel dump and restore (data loaded in no order)
pg_dump -d $DB -Fd -j 4 -f "$WORK/dir"
psql -X -q -d postgres -c "CREATE DATABASE ${DB}_dir"
pg_restore --exit-on-error -j 4 -d ${DB}_dir "$WORK/dir" 2>"$WORK/dir.err" || { cat "$WORK/dir.err"; fail "pg_restore -j 4 failed"; }
[ "$(fingerprint ${DB}_dir)" = "$want" ] || fail "pg_restore: history differs"
[ "$(config ${DB}_dir)" = "$want_config" ] || fail "pg_restore: configuration differs"

# tracking works in the restored database: rules, allow-list, required fields, history
for d in ${DB}_plain ${DB}_dir; do
    $P -d $d -c "UPDATE crm.deals SET stage = 'negotiation' WHERE id = 2" >/dev/null
    err=$(psql -X -q -d $d -c "UPDATE crm.deals SET stage = 'lead' WHERE id = 2" 2>&1 || true)
    echo "$err" | grep -q 'invalid stage transition from "negotiation" to "lead" in pipeline "b2b"' ||
        fail "$d: backward move not refused: $err"
    $P -d $d -c "UPDATE crm.deals SET stage = 'lead' WHERE id = 3" >/dev/null  # lost -> lead: allow-listed
    err=$(psql -X -q -d $d -c "UPDATE crm.deals SET stage = 'proposal', amount = NULL WHERE id = 1" 2>&1 || true)
    echo "$err" | grep -q 'requires a value in "amount"' || fail "$d: required field not checked: $err"
    n=$($P -d $d -c "SELECT count(*) FROM crm.deals_stage_history")
    [ "$n" -eq $((visits + 2)) ] || fail "$d: $n visits after two moves, expected $((visits + 2))"
    p=$($P -d $d -c "SELECT count(*) FROM funnel.check_history('crm.deals')")
    [ "$p" -eq 0 ] || fail "$d: $p invariant violations"
done

for d in $DB ${DB}_plain ${DB}_dir; do
    psql -X -q -d postgres -c "DROP DATABASE $d"
done
echo "ok: dump and restore of a tracked table"
