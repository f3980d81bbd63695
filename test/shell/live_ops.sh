#!/bin/sh
# test/shell/live_ops.sh: the live summaries of a table (issue 23) through
# the DDL around them, as a NOSUPERUSER table owner: funnel.untrack() drops
# them with a NOTICE naming the enable_live() call that brings them back
# (and track() + that call give summaries equal to the history again);
# DROP TABLE of the summary table, DROP FUNCTION ... CASCADE of its trigger
# function and DROP TRIGGER of one of its triggers drop the rest, so the
# deals table stays writable and enable_live() works again; DROP TABLE of
# the deals table leaves no funnel.live_table row, summary table or trigger
# function behind; disable_live() then enable_live() gives summaries equal
# to the history.
set -eu
DB=funnel_live_ops
fail() { echo "live_ops: FAIL: $*"; exit 1; }

SU_PASSWORD=${PGPASSWORD:-}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS live_ops_owner" \
     -c "CREATE DATABASE $DB" -c "CREATE ROLE live_ops_owner LOGIN NOSUPERUSER PASSWORD 'live'"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
GRANT CREATE ON SCHEMA public TO live_ops_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass),
    funnel.enable_live(regclass, name[], name), funnel.disable_live(regclass) TO live_ops_owner;
SQL
export PGPASSWORD=live
P="psql -X -q -At -v ON_ERROR_STOP=1 -U live_ops_owner -d $DB"

# the state: live_table rows, summary tables, trigger functions and live
# triggers there are, and the differences live_check() finds
state() {
    $P -c "SELECT (SELECT count(*) FROM funnel.live_table) || ' rows, '
               || (SELECT count(*) FROM pg_class WHERE relname LIKE '%\_stage\_live') || ' tables, '
               || (SELECT count(*) FROM pg_proc WHERE proname LIKE '%\_stage\_live') || ' functions, '
               || (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'funnel\_track\_live\_%') || ' triggers'"
}
expect_state() {
    got=$(state)
    [ "$got" = "$1" ] || fail "$2: $got, not $1"
}
# live_report() equal to the report computed from the history and deals
equal() {
    got=$($P <<'SQL'
SELECT (SELECT count(*) FROM (
 (SELECT * FROM funnel.live_report('deals')
  EXCEPT ALL
  SELECT r.* FROM funnel.report((SELECT funnel.funnel(h.j, d.amount) FROM deals d
        JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM deals_stage_history GROUP BY deal_id) h
          ON h.deal_id = d.id)) r)
 UNION ALL
 (SELECT r.* FROM funnel.report((SELECT funnel.funnel(h.j, d.amount) FROM deals d
        JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM deals_stage_history GROUP BY deal_id) h
          ON h.deal_id = d.id)) r
  EXCEPT ALL
  SELECT * FROM funnel.live_report('deals'))) x)
 + (SELECT count(*) FROM funnel.live_check('deals'));
SQL
)
    [ "$got" = "0" ] || fail "$1: live summaries differ from the history ($got rows)"
}

$P <<'SQL'
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL, owner text, amount numeric);
INSERT INTO deals SELECT g, 'lead', 'o' || g % 2, g FROM generate_series(1, 10) g;
SELECT funnel.track('deals', 'b2b') IS NOT NULL;
SELECT funnel.enable_live('deals', '{owner}', 'amount') IS NOT NULL;
UPDATE deals SET stage = 'qualified' WHERE id <= 4;
SQL
expect_state "1 rows, 1 tables, 1 functions, 4 triggers" "after enable_live"
equal "after enable_live"

# (1) untrack() drops the live summaries, with a NOTICE saying how to get
# them back; moves while untracked write nothing; track() and that call
out=$($P -c "SELECT funnel.untrack('deals')" 2>&1)
echo "$out" | grep -q "NOTICE:  live summaries of public.deals dropped" || fail "untrack: no NOTICE: $out"
echo "$out" | grep -qF "HINT:  After funnel.track() again, SELECT funnel.enable_live('public.deals', '{owner}', 'amount') rebuilds them" \
    || fail "untrack: no HINT naming the enable_live() call: $out"
expect_state "0 rows, 0 tables, 0 functions, 0 triggers" "after untrack"
$P -c "UPDATE deals SET stage = 'proposal' WHERE id = 1" -c "DELETE FROM deals WHERE id = 10" >/dev/null
out=$($P -c "SELECT funnel.live_report('deals')" 2>&1 || true)
echo "$out" | grep -q "table public.deals has no live summaries" || fail "live_report after untrack: $out"
$P -c "SELECT funnel.track('deals', 'b2b')" -c "SELECT funnel.enable_live('deals', '{owner}', 'amount')" >/dev/null 2>&1
$P -c "UPDATE deals SET stage = 'proposal' WHERE id = 2" >/dev/null
expect_state "1 rows, 1 tables, 1 functions, 4 triggers" "after track and enable_live again"
equal "after untrack, track and enable_live again"
echo "ok: untrack drops the live summaries with a NOTICE; track and enable_live bring them back equal"

# (2) DROP TABLE of the summary table drops the rest: the deals table stays
# writable, disable_live() says there is nothing, enable_live() works
out=$($P -c "DROP TABLE deals_stage_live" 2>&1)
echo "$out" | grep -q "NOTICE:  live summaries of public.deals dropped" || fail "DROP TABLE of the live table: $out"
expect_state "0 rows, 0 tables, 0 functions, 0 triggers" "after DROP TABLE of the live table"
$P -c "UPDATE deals SET stage = 'won' WHERE id = 3" >/dev/null || fail "moves after DROP TABLE of the live table"
out=$($P -c "SELECT funnel.disable_live('deals')" 2>&1 || true)
echo "$out" | grep -q "table public.deals has no live summaries" || fail "disable_live after DROP TABLE of the live table: $out"
$P -c "SELECT funnel.enable_live('deals', '{owner}', 'amount')" >/dev/null
equal "enable_live after DROP TABLE of the live table"
echo "ok: DROP TABLE of the live table drops the rest; moves go on; enable_live again"

# (3) DROP FUNCTION ... CASCADE of the trigger function, DROP TRIGGER of
# one live trigger: the same
out=$($P -c "DROP FUNCTION deals_stage_live() CASCADE" 2>&1)
echo "$out" | grep -q "NOTICE:  live summaries of public.deals dropped" || fail "DROP FUNCTION CASCADE: $out"
expect_state "0 rows, 0 tables, 0 functions, 0 triggers" "after DROP FUNCTION CASCADE"
$P -c "SELECT funnel.enable_live('deals', '{owner}', 'amount')" >/dev/null
out=$($P -c "DROP TRIGGER funnel_track_live_delete ON deals" 2>&1)
echo "$out" | grep -q "DETAIL:  Their trigger funnel_track_live_delete was dropped" || fail "DROP TRIGGER: $out"
expect_state "0 rows, 0 tables, 0 functions, 0 triggers" "after DROP TRIGGER"
echo "ok: DROP FUNCTION CASCADE and DROP TRIGGER of a live part drop the rest"

# (4) disable_live() then enable_live(), with moves in between
$P -c "SELECT funnel.enable_live('deals', '{owner}', 'amount')" -c "UPDATE deals SET stage = 'lost' WHERE id = 4" \
   -c "SELECT funnel.disable_live('deals')" -c "UPDATE deals SET stage = 'proposal' WHERE id = 5" \
   -c "DELETE FROM deals WHERE id = 6" >/dev/null
expect_state "0 rows, 0 tables, 0 functions, 0 triggers" "after disable_live"
$P -c "SELECT funnel.enable_live('deals', '{owner}', 'amount')" -c "UPDATE deals SET stage = 'won' WHERE id = 5" >/dev/null
expect_state "1 rows, 1 tables, 1 functions, 4 triggers" "after enable_live again"
equal "after disable_live and enable_live"
echo "ok: disable_live then enable_live"

# (5) DROP TABLE of the deals table: nothing left behind; a new table of
# that name gets live summaries again; the history table stays
out=$($P -c "DROP TABLE deals" 2>&1)
echo "$out" | grep -q "NOTICE:  live summaries of dropped table [0-9]* dropped" || fail "DROP TABLE deals: $out"
expect_state "0 rows, 0 tables, 0 functions, 0 triggers" "after DROP TABLE deals"
$P -c "SELECT count(*) > 0 FROM deals_stage_history" | grep -q t || fail "the history table is gone"
$P <<'SQL' >/dev/null
ALTER TABLE deals_stage_history RENAME TO old_history;
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL, owner text, amount numeric);
INSERT INTO deals SELECT g, 'lead', 'x', g FROM generate_series(1, 3) g;
SELECT funnel.track('deals', 'b2b');
SELECT funnel.enable_live('deals', '{owner}', 'amount');
UPDATE deals SET stage = 'won' WHERE id = 1;
SQL
equal "a new deals table"
# the deals table and its summary table dropped in one statement
$P -c "DROP TABLE deals, deals_stage_live" >/dev/null 2>&1
expect_state "0 rows, 0 tables, 0 functions, 0 triggers" "after DROP TABLE deals, deals_stage_live"
echo "ok: DROP TABLE of the deals table leaves nothing behind"

PGPASSWORD=$SU_PASSWORD psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE live_ops_owner"
echo "live_ops: all ok"
