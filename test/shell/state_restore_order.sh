#!/bin/sh
# test/shell/state_restore_order.sh: pg_dump / pg_restore of journey and
# funnel_summary columns in schemas that sort before "funnel" (analytics,
# crm).  pg_dump loads table data in schema-name order, and pg_restore -j in
# no order, so these tables are loaded before (or while) funnel.pipeline_stage
# gets its rows: their input functions must not depend on the stage kinds
# (doc/design.md §1).  Every row must come back, with the same text; the
# values must still be checked at use once the configuration is back.
set -eu
DB=funnel_state_restore
WORK=$(mktemp -d /tmp/funnel-state-dump.XXXXXX)
chmod 777 "$WORK"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for d in $DB ${DB}_plain ${DB}_dir ${DB}_one; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d"
done
psql -X -q -d postgres -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1"
$P -d $DB <<'SQL' >/dev/null
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
CREATE SCHEMA analytics;
CREATE SCHEMA crm;
CREATE TABLE crm.visits (deal bigint, stage funnel.deal_stage, at timestamptz);
-- deal g: lead, then qualified (g % 2 = 0), proposal (g % 4 = 0), and
-- won (g % 8 = 0) or lost (g % 3 = 0, not won)
INSERT INTO crm.visits SELECT g, 'b2b:lead', timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 200) g;
INSERT INTO crm.visits SELECT g, 'b2b:qualified', timestamptz '2024-02-01' + g * interval '1 minute' FROM generate_series(1, 200) g WHERE g % 2 = 0;
INSERT INTO crm.visits SELECT g, 'b2b:proposal', timestamptz '2024-03-01' + g * interval '1 minute' FROM generate_series(1, 200) g WHERE g % 4 = 0;
INSERT INTO crm.visits SELECT g, 'b2b:won', timestamptz '2024-04-01' + g * interval '1 minute' FROM generate_series(1, 200) g WHERE g % 8 = 0;
INSERT INTO crm.visits SELECT g, 'b2b:lost', timestamptz '2024-04-01' + g * interval '1 minute' FROM generate_series(1, 200) g WHERE g % 3 = 0 AND g % 8 <> 0;
CREATE TABLE crm.journeys (deal bigint PRIMARY KEY, j funnel.journey NOT NULL);
INSERT INTO crm.journeys SELECT deal, funnel.journey(stage, at) FROM crm.visits GROUP BY deal;
CREATE TABLE analytics.summaries (month int PRIMARY KEY, s funnel.funnel_summary NOT NULL);
INSERT INTO analytics.summaries SELECT deal % 3, funnel.funnel(j) FROM crm.journeys GROUP BY deal % 3;
CREATE TABLE analytics.journeys (deal bigint PRIMARY KEY, j funnel.journey NOT NULL);
INSERT INTO analytics.journeys SELECT * FROM crm.journeys;
SQL
fingerprint()
{
    $P -d "$1" -c "SELECT (SELECT count(*) || ' ' || md5(string_agg(j::text, ',' ORDER BY deal)) FROM crm.journeys),
                          (SELECT count(*) || ' ' || md5(string_agg(j::text, ',' ORDER BY deal)) FROM analytics.journeys),
                          (SELECT count(*) || ' ' || md5(string_agg(s::text, ',' ORDER BY month)) FROM analytics.summaries),
                          (SELECT string_agg(format('%s %s', o, n), ',' ORDER BY o) FROM (SELECT funnel.outcome(j) o, count(*) n FROM crm.journeys GROUP BY 1) x)"
}
want=$(fingerprint $DB)
# deals: 200; won: g % 8 = 0 (25); lost: g % 3 = 0 and g % 8 <> 0 (66 - 8 = 58)
outcomes=$($P -d $DB -c "SELECT string_agg(format('%s %s', o, n), ',' ORDER BY o) FROM (SELECT funnel.outcome(j) o, count(*) n FROM crm.journeys GROUP BY 1) x")
[ "$outcomes" = "lost 58,open 117,won 25" ] || fail "source outcomes: $outcomes"

# plain format through psql: crm and analytics data come before funnel's
pg_dump -d $DB -f "$WORK/plain.sql"
psql -X -q -d postgres -c "CREATE DATABASE ${DB}_plain"
$P -d ${DB}_plain -f "$WORK/plain.sql" >/dev/null 2>"$WORK/plain.err" || { cat "$WORK/plain.err"; fail "plain restore failed"; }
[ "$(fingerprint ${DB}_plain)" = "$want" ] || fail "plain restore: rows differ: $(fingerprint ${DB}_plain)"

# single transaction (--single-transaction: every row in one transaction)
psql -X -q -d postgres -c "CREATE DATABASE ${DB}_one"
$P -1 -d ${DB}_one -f "$WORK/plain.sql" >/dev/null 2>"$WORK/one.err" || { cat "$WORK/one.err"; fail "single-transaction restore failed"; }
[ "$(fingerprint ${DB}_one)" = "$want" ] || fail "single-transaction restore: rows differ"

# directory format, pg_restore -j 2 (data loaded in no order)
pg_dump -d $DB -Fd -f "$WORK/dir"
psql -X -q -d postgres -c "CREATE DATABASE ${DB}_dir"
pg_restore --exit-on-error -j 2 -d ${DB}_dir "$WORK/dir" 2>"$WORK/dir.err" || { cat "$WORK/dir.err"; fail "pg_restore -j 2 failed"; }
[ "$(fingerprint ${DB}_dir)" = "$want" ] || fail "pg_restore -j 2: rows differ"

# the restored values work, and input still checks kinds once they are known
for d in ${DB}_plain ${DB}_one ${DB}_dir; do
    r=$($P -d $d -c "SELECT deals FROM funnel.report((SELECT funnel.funnel(s) FROM analytics.summaries)) WHERE funnel.stage_name(stage) = 'won'")
    [ "$r" = 25 ] || fail "$d: report shows $r won deals, expected 25"
    err=$(psql -X -q -d $d -c "SELECT '{\"pipeline\": \"b2b\", \"outcome\": \"won\", \"current\": \"lead\", \"current_entered_at\": \"2024-01-01T00:00:00+00:00\", \"furthest\": \"lead\", \"last_open\": \"lead\", \"last_open_entered_at\": \"2024-01-01T00:00:00+00:00\", \"first_entered_at\": \"2024-01-01T00:00:00+00:00\"}'::funnel.journey" 2>&1 || true)
    echo "$err" | grep -q 'outcome "won" but current stage "lead" is open' || fail "$d: kind check gone from input: $err"
done

# a journey read while the kinds are missing (as in a restore) is checked at
# its first use: an open current stage needs last_open
$P -d ${DB}_dir >/dev/null <<'SQL'
BEGIN;
CREATE TEMP TABLE saved AS SELECT * FROM funnel.pipeline_stage;
DELETE FROM funnel.pipeline_stage;
INSERT INTO crm.journeys VALUES (1000, '{"pipeline": "b2b", "outcome": "open", "current": "lead", "current_entered_at": "2024-01-02T00:00:00+00:00", "furthest": null, "last_open": null, "last_open_entered_at": null, "first_entered_at": "2024-01-01T00:00:00+00:00"}');
INSERT INTO funnel.pipeline_stage SELECT * FROM saved;
COMMIT;
SQL
err=$(psql -X -q -d ${DB}_dir -c "SELECT funnel.outcome(j) FROM crm.journeys WHERE deal = 1000" 2>&1 || true)
echo "$err" | grep -q 'invalid journey: open current stage "lead" but last_open "null"' || fail "outcome() does not check the journey: $err"
err=$(psql -X -q -d ${DB}_dir -c "SELECT funnel.funnel(j) FROM crm.journeys" 2>&1 || true)
echo "$err" | grep -q 'invalid journey: open current stage "lead"' || fail "funnel(journey) does not check the journey: $err"
for d in $DB ${DB}_plain ${DB}_dir ${DB}_one; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d"
done
echo "ok: journey and funnel_summary columns in analytics and crm survive pg_dump/psql, psql -1 and pg_restore -j 2"
