#!/bin/sh
# test/shell/move_deals_race.sh: funnel.move_deals() against a concurrent
# writer, two sessions.  Session A moves deals 1 and 3 and holds its locks;
# session B (a NOSUPERUSER app role with SELECT and UPDATE only) calls
# move_deals() on them and waits; A commits.  B decides on the rows A
# committed, not on its snapshot:
#   - deal 1: A moved it to lost; B's move to qualified is refused
#     (transition_not_allowed), reported in lost
#   - deal 3: A moved it to qualified; B's move there is unchanged, and the
#     history has one visit to qualified
#   - deal 2, not touched by A: moved
# and the example of README "Moving in batches", compared in full.
set -eu
DB=funnel_move_deals_race
export PGOPTIONS='-c search_path=public,funnel'
WORK=$(mktemp -d /tmp/funnel-race.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL' >/dev/null
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal']);
DROP ROLE IF EXISTS mr_owner;
DROP ROLE IF EXISTS mr_app;
CREATE ROLE mr_owner NOSUPERUSER;
CREATE ROLE mr_app NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO mr_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO mr_owner;
SET ROLE mr_owner;
CREATE TABLE deals (id bigint PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                    amount numeric, close_date date);
SELECT funnel.track('deals', 'b2b');
INSERT INTO deals VALUES (1, 'lead'), (2, 'lead'), (3, 'lead');
RESET ROLE;
SELECT funnel.require_fields('b2b', 'won', ARRAY['amount', 'close_date']);
SET ROLE mr_owner;
INSERT INTO deals VALUES (11, 'lead'), (12, 'lead'), (13, 'proposal'), (14, 'proposal');
GRANT SELECT, UPDATE ON deals TO mr_app;
SQL

# A: move deals 1 and 3, keep the locks until told
mkfifo "$WORK/a"
psql -X -q -v ON_ERROR_STOP=1 -d $DB < "$WORK/a" > "$WORK/a.out" 2>&1 &
apid=$!
exec 3> "$WORK/a"
printf '%s\n' 'BEGIN;' "UPDATE deals SET stage = 'lost' WHERE id = 1;" \
    "UPDATE deals SET stage = 'qualified' WHERE id = 3;" "SELECT 'a-ready';" >&3
i=0
until grep -q a-ready "$WORK/a.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "session A did not start"; sleep 0.1
done

# B: the batch, as the app role; it waits for A's locks
PGOPTIONS="$PGOPTIONS -c role=mr_app" PGAPPNAME=funnel_race_b psql -X -At -v ON_ERROR_STOP=1 -d $DB \
    -c "SELECT deal_id, stage, status, coalesce(reason, '-') FROM funnel.move_deals('deals',
          '[{\"id\": 1, \"stage\": \"qualified\"}, {\"id\": 2, \"stage\": \"qualified\"}, {\"id\": 3, \"stage\": \"qualified\"}]')" \
    > "$WORK/b.out" 2>&1 &
bpid=$!
i=0
until [ "$(psql -X -At -d $DB -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'funnel_race_b' AND wait_event_type = 'Lock'")" = 1 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "session B did not wait for A"; sleep 0.1
done
printf '%s\n' 'COMMIT;' >&3
exec 3>&-
wait $apid || fail "session A failed: $(cat "$WORK/a.out")"
wait $bpid || fail "session B failed: $(cat "$WORK/b.out")"

expected='1|b2b:lost|refused|transition_not_allowed
2|b2b:qualified|moved|-
3|b2b:qualified|unchanged|-'
[ "$(cat "$WORK/b.out")" = "$expected" ] || fail "move_deals after the concurrent moves gave:
$(cat "$WORK/b.out")"
n=$(psql -X -At -d $DB -c "SELECT string_agg(deal_id || ' ' || stage, ', ' ORDER BY deal_id, entered_at, stage) FROM deals_stage_history WHERE deal_id < 10")
[ "$n" = "1 b2b:lead, 1 b2b:lost, 2 b2b:lead, 2 b2b:qualified, 3 b2b:lead, 3 b2b:qualified" ] || fail "history: $n"
n=$(psql -X -At -d $DB -c "SELECT count(*) FROM funnel.check_history('deals')")
[ "$n" = 0 ] || fail "check_history found $n problems"
# the example of README "Moving in batches", as the app role
PGOPTIONS="$PGOPTIONS -c role=mr_app" psql -X -v ON_ERROR_STOP=1 -d $DB > "$WORK/example.out" <<'SQL'
SELECT ordinality, deal_id, stage, status, reason, missing_fields
  FROM funnel.move_deals('deals', '[
         {"id": 11, "stage": "won", "amount": 5000, "close_date": "2026-12-31"},
         {"id": 12, "stage": "won"},
         {"id": 13, "stage": "lead"},
         {"id": 14, "stage": "proposal"},
         {"id": 99, "stage": "won"}]');
SQL
cat > "$WORK/example.expected" <<'EOF2'
 ordinality | deal_id |    stage     |  status   |         reason          |   missing_fields    
------------+---------+--------------+-----------+-------------------------+---------------------
          1 | 11      | b2b:won      | moved     |                         | 
          2 | 12      | b2b:lead     | refused   | required_fields_missing | {amount,close_date}
          3 | 13      | b2b:proposal | refused   | transition_not_allowed  | 
          4 | 14      | b2b:proposal | unchanged |                         | 
          5 | 99      |              | not_found |                         | 
(5 rows)

EOF2
diff -u "$WORK/example.expected" "$WORK/example.out" || fail "the README example differs"
n=$(psql -X -At -d $DB -c "SELECT string_agg(deal_id || ' ' || stage || ' ' || (left_at IS NULL), ', ' ORDER BY deal_id, entered_at, stage) FROM deals_stage_history WHERE deal_id > 10")
[ "$n" = "11 b2b:lead false, 11 b2b:won true, 12 b2b:lead true, 13 b2b:proposal true, 14 b2b:proposal true" ] || fail "example history: $n"
echo "ok: move_deals decides on the rows a concurrent writer committed"
