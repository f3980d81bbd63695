#!/bin/sh
# test/shell/track_copy.sh: bulk writes into a tracked table.
#   - COPY of the Pipedrive-style deals (data/pipedrive_deal_changes):
#     one visit per row, entered at the row's changed_at
#   - replay of the change log with multi-row UPDATE ... FROM, in time order:
#     visits = first stages + real stage changes, counted from the log itself
#   - a backdated change is refused; COPY rolled back leaves no history;
#     a 50k-row COPY writes 50k visits; INSERT ... ON CONFLICT writes history
#     only for rows it inserts or moves
set -eu
cd "$(dirname "$0")/../.."
DATA=data/pipedrive_deal_changes
DB=funnel_track_copy
export PGOPTIONS='-c search_path=public,funnel'
WORK=$(mktemp -d /tmp/funnel-copy.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cp "$DATA/deal_changes.csv" "$DATA/stages.csv" "$WORK/"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"

$P <<SQL
CREATE EXTENSION funnel;
CREATE TEMP TABLE stages (id int, name text);
\\copy stages FROM '$WORK/stages.csv' WITH (FORMAT csv, HEADER)
SELECT funnel.create_pipeline('pipedrive', array_agg(name ORDER BY id)) FROM stages;
CREATE TABLE raw (deal_id bigint, change_time timestamp, field text, value text);
\\copy raw FROM '$WORK/deal_changes.csv' WITH (FORMAT csv, HEADER)
-- stage events in time order: stage_id changes, and lost_reason = moved to lost
CREATE TABLE events AS
SELECT r.deal_id, r.change_time::timestamptz AS at,
       CASE r.field WHEN 'stage_id' THEN format('pipedrive:%s', s.name)
                    ELSE 'pipedrive:lost' END::funnel.deal_stage AS stage,
       row_number() OVER (PARTITION BY r.deal_id ORDER BY r.change_time, r.field DESC) AS n
  FROM raw r LEFT JOIN stages s ON r.field = 'stage_id' AND s.id = r.value::int
 WHERE r.field IN ('stage_id', 'lost_reason');
CREATE TABLE deals (id bigint PRIMARY KEY, owner text, stage funnel.deal_stage NOT NULL,
                    changed_at timestamptz);
SELECT funnel.track('deals', 'pipedrive', changed_at_column => 'changed_at', rule => 'any');
\\copy (SELECT deal_id, 'owner', stage, at FROM events WHERE n = 1) TO '$WORK/first.csv' WITH (FORMAT csv)
\\copy deals FROM '$WORK/first.csv' WITH (FORMAT csv)
SQL

n=$($P -c "SELECT count(*) FROM deals_stage_history")
ndeals=$($P -c "SELECT count(DISTINCT deal_id) FROM events")
at=$($P -c "SELECT count(*) FROM deals_stage_history h JOIN events e ON e.deal_id = h.deal_id AND e.n = 1 AND e.at = h.entered_at AND e.stage = h.stage WHERE h.left_at IS NULL")
echo "COPY of $($P -c "SELECT count(*) FROM deals") deals: $n visits, $at open at the row's changed_at"
[ "$ndeals" -gt 1900 ] || fail "only $ndeals deals in the change log"
[ "$n" -eq "$ndeals" ] || fail "COPY of $ndeals deals wrote $n visits"
[ "$at" -eq "$ndeals" ] || fail "$at of $ndeals first visits have the deal's stage and changed_at"

# replay: round k applies every deal's k-th event with one UPDATE ... FROM
$P <<'SQL'
DO $$
DECLARE k int;
BEGIN
    FOR k IN 2 .. (SELECT max(n) FROM events) LOOP
        UPDATE deals d SET stage = e.stage, changed_at = e.at
          FROM events e WHERE e.deal_id = d.id AND e.n = k;
    END LOOP;
END
$$;
SQL
expected=$($P -c "SELECT count(*) FROM (SELECT stage, lag(stage) OVER (PARTITION BY deal_id ORDER BY n) AS prev FROM events) x WHERE prev IS NULL OR NOT (prev OPERATOR(pg_catalog.=) stage)")
n=$($P -c "SELECT count(*) FROM deals_stage_history")
problems=$($P -c "SELECT count(*) FROM funnel.check_history('deals')")
lost=$($P -c "SELECT count(*) FROM deals WHERE funnel.kind(stage) = 'lost'")
lost_log=$($P -c "SELECT count(*) FROM events e WHERE funnel.kind(e.stage) = 'lost' AND e.n = (SELECT max(n) FROM events x WHERE x.deal_id = e.deal_id)")
echo "replayed $($P -c "SELECT count(*) FROM events") events: $n visits (expected $expected), $lost deals lost, $problems invariant violations"
[ "$n" -eq "$expected" ] || fail "history has $n visits, the change log $expected"
[ "$problems" -eq 0 ] || fail "$problems invariant violations"
[ "$lost" -eq "$lost_log" ] || fail "$lost deals end lost, the log says $lost_log"
# the visit times are the log's
off=$($P -c "SELECT count(*) FROM deals_stage_history h WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.deal_id = h.deal_id AND e.at = h.entered_at)")
[ "$off" -eq 0 ] || fail "$off visits entered at a time that is not in the log"

# a backdated change (before the open visit was entered) is refused
err=$(psql -X -q -d $DB -c "UPDATE deals SET stage = 'pipedrive:Closing', changed_at = '2000-01-01' WHERE id = (SELECT min(id) FROM deals WHERE stage <> 'pipedrive:Closing')" 2>&1 || true)
echo "$err" | grep -q 'invalid stage transition from .* in pipeline "pipedrive"' || fail "backdated change not refused: $err"

# COPY rolled back: no history
$P -c "\\copy (SELECT g, 'bulk', 'pipedrive:Negotiation', now() FROM generate_series(100000001, 100050000) g) TO '$WORK/bulk.csv' WITH (FORMAT csv)"
before=$($P -c "SELECT count(*) FROM deals_stage_history")
$P <<SQL
BEGIN;
\\copy deals FROM '$WORK/bulk.csv' WITH (FORMAT csv)
ROLLBACK;
SQL
after=$($P -c "SELECT count(*) FROM deals_stage_history")
[ "$before" -eq "$after" ] || fail "a rolled-back COPY left $((after - before)) visits"

# COPY of 50k rows: 50k open visits
$P -c "\\copy deals FROM '$WORK/bulk.csv' WITH (FORMAT csv)"
n=$($P -c "SELECT count(*) FROM deals_stage_history WHERE deal_id > 100000000 AND left_at IS NULL AND stage OPERATOR(pg_catalog.=) 'pipedrive:Negotiation'")
[ "$n" -eq 50000 ] || fail "COPY of 50000 deals wrote $n open visits"

# INSERT ... ON CONFLICT: history only for rows inserted or moved
before=$($P -c "SELECT count(*) FROM deals_stage_history")
$P -c "INSERT INTO deals SELECT g, 'x', 'pipedrive:Closing', NULL FROM generate_series(100049991, 100050010) g ON CONFLICT DO NOTHING"
after=$($P -c "SELECT count(*) FROM deals_stage_history")
[ $((after - before)) -eq 10 ] || fail "ON CONFLICT DO NOTHING of 10 new rows wrote $((after - before)) visits"
$P -c "INSERT INTO deals SELECT g, 'x', 'pipedrive:Closing', NULL FROM generate_series(100049981, 100050020) g ON CONFLICT (id) DO UPDATE SET stage = excluded.stage"
after2=$($P -c "SELECT count(*) FROM deals_stage_history")
# 10 new rows, 20 rows moved from Negotiation to Closing, 10 already in Closing
[ $((after2 - after)) -eq 30 ] || fail "ON CONFLICT DO UPDATE wrote $((after2 - after)) visits, expected 30"
problems=$($P -c "SELECT count(*) FROM funnel.check_history('deals')")
[ "$problems" -eq 0 ] || fail "$problems invariant violations after bulk writes"

psql -X -q -d postgres -c "DROP DATABASE $DB"
echo "ok: COPY and bulk writes"
