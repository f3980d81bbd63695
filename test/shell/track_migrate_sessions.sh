#!/bin/sh
# test/shell/track_migrate_sessions.sh: migrations seen by another session
# whose tracking cache is warm (README "Schema migrations").  Session A
# moves a deal (building its cache), session B (psql \! inside A's script,
# run while A stays connected) migrates as the NOSUPERUSER owner, then A
# moves again:
#   - funnel.set_rule('any'): A's next backward move is accepted
#   - a renamed required field: A's next move checks the new column
#   - untrack() and track() again (re-attach): A's next move writes history
set -eu
DB=funnel_track_migrate_sessions
export PGOPTIONS='-c search_path=public,funnel'
fail() { echo "FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL' >/dev/null
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal']);
DROP ROLE IF EXISTS ms_own;
CREATE ROLE ms_own NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO ms_own;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass),
                          funnel.set_rule(regclass, text) TO ms_own;
SET ROLE ms_own;
CREATE TABLE deals (id bigint PRIMARY KEY, amount numeric, stage funnel.deal_stage(b2b) NOT NULL);
INSERT INTO deals SELECT g, NULL, 'lead' FROM generate_series(1, 3) g;
SELECT funnel.track('deals', 'b2b');
RESET ROLE;
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount']);
SQL
# session B: one statement as the owner, in its own connection
B="PGOPTIONS='-c role=ms_own' psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c"

out=$(PGOPTIONS="$PGOPTIONS -c role=ms_own" psql -X -q -At -v ON_ERROR_STOP=1 -d $DB 2>&1 <<SQL
UPDATE deals SET stage = 'qualified' WHERE id = 1;
\\! $B "SELECT funnel.set_rule('deals', 'any')" >/dev/null
UPDATE deals SET stage = 'lead' WHERE id = 1;
SELECT 'backward:' || count(*) FROM deals_stage_history WHERE deal_id = 1;
\\! $B "ALTER TABLE deals RENAME amount TO amount_eur" >/dev/null 2>&1
UPDATE deals SET stage = 'proposal', amount_eur = 5 WHERE id = 2;
SELECT 'renamed:' || count(*) FROM deals_stage_history WHERE deal_id = 2;
\\! $B "SELECT funnel.untrack('deals')" >/dev/null
UPDATE deals SET stage = 'qualified' WHERE id = 3;
\\! $B "SELECT funnel.track('deals', 'b2b', rule => 'any')" >/dev/null 2>&1
UPDATE deals SET stage = 'proposal', amount_eur = 1 WHERE id = 3;
SELECT 'reattached:' || string_agg(stage::text, ',' ORDER BY entered_at, left_at NULLS LAST) FROM deals_stage_history WHERE deal_id = 3;
SELECT 'problems:' || count(*) FROM funnel.check_history('deals');
SQL
) || { echo "$out"; fail "session A failed after a migration made by session B"; }
echo "$out" | grep -qx 'backward:3' || { echo "$out"; fail "set_rule in session B not seen by session A"; }
echo "$out" | grep -qx 'renamed:2' || { echo "$out"; fail "renamed required field in session B broke session A's move"; }
echo "$out" | grep -qx 'reattached:b2b:lead,b2b:qualified,b2b:proposal' ||
    { echo "$out"; fail "re-attach in session B: session A's history is wrong"; }
echo "$out" | grep -qx 'problems:0' || { echo "$out"; fail "check_history not empty"; }

psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE ms_own"
echo "ok: set_rule, a renamed required field and a re-attach made by another session are seen by a session with a warm cache"
