#!/bin/sh
# test/shell/track_reinsert_race.sh: a deal key deleted and inserted again by
# a transaction that started before the deal's last move (issue 23: the
# concurrent phase of live_equality.sh).  Two sessions of a NOSUPERUSER
# table owner: A begins; B moves deal 5 to negotiation and commits; A deletes
# deal 5, inserts it again at qualified and commits.  A's new visit must not
# be entered before B's (else the deal's latest visit is not its open one:
# the next move finds no open visit and leaves two open, and the live
# summaries, which take the open visits as the ones a move inserted, drift
# from the history).  Then a move to lost closes it; one open visit per deal;
# the live report equals the scan-based one and live_check() finds nothing.
set -eu
DB=funnel_reinsert_race
WORK=$(mktemp -d /tmp/funnel-reinsert.XXXXXX)
chmod 755 "$WORK"
trap 'exec 3>&- 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

SU_PASSWORD=${PGPASSWORD:-}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS reinsert_owner" \
     -c "CREATE DATABASE $DB" -c "CREATE ROLE reinsert_owner LOGIN NOSUPERUSER PASSWORD 'reinsert'"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
GRANT CREATE ON SCHEMA public TO reinsert_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text),
    funnel.enable_live(regclass, name[], name) TO reinsert_owner;
SQL
export PGPASSWORD=reinsert
P="psql -X -q -At -v ON_ERROR_STOP=1 -U reinsert_owner -d $DB"
$P <<'SQL'
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                    owner text, amount numeric);
SELECT funnel.track('deals', 'b2b', rule => 'any') IS NOT NULL;
SELECT funnel.enable_live('deals', '{owner}', 'amount') IS NOT NULL;
INSERT INTO deals VALUES (5, 'lead', 'o1', 10), (6, 'lead', 'o1', 20);
SQL

# session A: its transaction starts first, so its now() is the earliest
mkfifo "$WORK/a"
$P < "$WORK/a" > "$WORK/a.out" 2>&1 &
A=$!
exec 3>"$WORK/a"
echo "BEGIN; SELECT 'A began'; SELECT pg_sleep(0.5);" >&3
sleep 1
# session B: a later transaction moves the deal and commits
$P -c "UPDATE deals SET stage = 'negotiation' WHERE id = 5"
echo "DELETE FROM deals WHERE id = 5; INSERT INTO deals VALUES (5, 'qualified', 'o2', 42); COMMIT;" >&3
exec 3>&-
wait $A || { cat "$WORK/a.out"; fail "session A failed"; }
grep -q 'A began' "$WORK/a.out" || { cat "$WORK/a.out"; fail "session A did not run"; }

got=$($P -c "SELECT (SELECT entered_at FROM deals_stage_history WHERE deal_id = 5 AND stage = 'qualified')
                  >= (SELECT entered_at FROM deals_stage_history WHERE deal_id = 5 AND stage = 'negotiation')")
[ "$got" = t ] || fail "the re-inserted deal's visit was entered before its last move"
echo "ok: the re-inserted deal's first visit is not entered before its last move"

$P -c "UPDATE deals SET stage = 'lost' WHERE id = 5"
got=$($P -c "SELECT string_agg(deal_id || ':' || stage::text, ',' ORDER BY deal_id) FROM deals_stage_history WHERE left_at IS NULL")
[ "$got" = "5:b2b:lost,6:b2b:lead" ] || fail "open visits: $got"
echo "ok: one open visit per deal, at its stage"
got=$($P -c "SELECT left_at IS NOT NULL FROM deals_stage_history WHERE deal_id = 5 AND stage = 'qualified'")
[ "$got" = t ] || fail "the move to lost did not close the qualified visit"
echo "ok: the move after the re-insert closed the re-inserted visit"

got=$($P <<'SQL'
WITH ref AS (SELECT r.* FROM funnel.report((SELECT funnel.funnel(h.j, d.amount) FROM deals d
               JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j FROM deals_stage_history
                      GROUP BY deal_id) h ON h.deal_id = d.id)) r),
     live AS (SELECT * FROM funnel.live_report('deals'))
SELECT count(*) FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                      UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
SQL
)
[ "$got" = 0 ] || fail "live report differs from the scan-based one in $got rows"
got=$($P -c "SELECT count(*) FROM funnel.live_check('deals')")
[ "$got" = 0 ] || fail "live_check found $got differences"
echo "ok: live report equals the scan-based report"

PGPASSWORD=$SU_PASSWORD psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE reinsert_owner"
echo "track_reinsert_race: all ok"
