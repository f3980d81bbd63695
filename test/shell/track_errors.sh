#!/bin/sh
# test/shell/track_errors.sh: the fields of a refused move's error, as psql
# shows them with \set VERBOSITY verbose (README "Error fields"), as a
# NOSUPERUSER table owner:
#   - SQLSTATE 23514, the fixed constraint name (funnel_transition_not_allowed,
#     funnel_retired_stage, funnel_required_fields_missing,
#     funnel_changed_at_before_entry), schema, table, column
#   - DETAIL names the deal's key (a number bare, a text key quoted) and
#     every empty required field at once, by the stage requiring it
#   - INSERT and COPY: the same fields, and CONTEXT gives the row's place
#     among the rows the statement inserted; COPY FROM's "COPY deals, line N"
#     context does not appear: PostgreSQL pops it before AFTER triggers run
#     (the check runs once per statement, after the last line: see README)
#   - nothing of a refused statement is written
# Every error is compared in full (LOCATION lines, which carry C line
# numbers, are left out).
set -eu
DB=funnel_track_errors
export PGOPTIONS='-c search_path=public,funnel -c TimeZone=UTC'
WORK=$(mktemp -d /tmp/funnel-errors.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']) \gset
SELECT funnel.require_fields('b2b', 'proposal', ARRAY['amount', 'close_date']) \gset
SELECT funnel.require_fields('b2b', 'negotiation', ARRAY['owner_name']) \gset
SELECT funnel.require_fields('b2b', 'won', ARRAY['amount', 'signed_at']) \gset
SELECT funnel.retire_stage('b2b', 'qualified') \gset
SELECT funnel.create_pipeline('svc', ARRAY['open','review','done']) \gset
DROP ROLE IF EXISTS er_owner;
CREATE ROLE er_owner NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO er_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO er_owner;
SQL
O() { PGOPTIONS="$PGOPTIONS -c role=er_owner" psql -X -q -d $DB "$@"; }

O -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE deals (id bigint PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL,
                    amount numeric, close_date date, owner_name text, signed_at date,
                    changed_at timestamptz);
SELECT funnel.track('deals', 'b2b', changed_at_column => 'changed_at');
INSERT INTO deals (id, stage, changed_at)
    VALUES (42, 'lead', '2026-01-05 10:00+00'), (43, 'lead', '2026-01-05 10:00+00');
UPDATE deals SET stage = 'lost', changed_at = NULL WHERE id = 43;
CREATE TABLE accounts (code text PRIMARY KEY, stage funnel.deal_stage(svc) NOT NULL);
SELECT funnel.track('accounts', 'svc', rule => 'sequential');
INSERT INTO accounts VALUES ('ACME "1"', 'open');
SQL

printf '%s\n' 'id,stage,amount' '100,lead,' '101,proposal,5' '102,lead,' > "$WORK/deals.csv"
chmod 644 "$WORK/deals.csv"

O > "$WORK/out" 2>&1 <<SQL
\\set VERBOSITY verbose
-- every required field of the target and of the stages skipped past, at once
UPDATE deals SET stage = 'won' WHERE id = 42;
UPDATE deals SET stage = 'proposal', amount = 10 WHERE id = 42;
-- the rule
UPDATE deals SET stage = 'lead' WHERE id = 43;
-- a retired stage
UPDATE deals SET stage = 'qualified' WHERE id = 42;
-- a text key, quoted; the sequential rule
UPDATE accounts SET stage = 'done' WHERE code = 'ACME "1"';
-- the time of a move
UPDATE deals SET stage = 'lost', changed_at = '2000-01-01 00:00:00+00' WHERE id = 42;
-- a new deal: retired, required fields
INSERT INTO deals (id, stage) VALUES (50, 'qualified');
INSERT INTO deals (id, stage, amount) VALUES (51, 'negotiation', 1);
-- COPY: the refused line's deal
\\copy deals (id, stage, amount) FROM '$WORK/deals.csv' WITH (FORMAT csv, HEADER)
SQL
sed -i '/^LOCATION:/d' "$WORK/out"

cat > "$WORK/expected" <<'EOF2'
ERROR:  23514: invalid stage transition from "lead" to "won" in pipeline "b2b"
DETAIL:  Deal 42: Stage "proposal" requires a value in "amount", "close_date". Stage "negotiation" requires a value in "owner_name". Stage "won" requires a value in "signed_at".
HINT:  The move skips past "proposal"; set amount, close_date, owner_name, signed_at in the same statement.
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  amount
CONSTRAINT NAME:  funnel_required_fields_missing
ERROR:  23514: invalid stage transition from "lead" to "proposal" in pipeline "b2b"
DETAIL:  Deal 42: Stage "proposal" requires a value in "close_date".
HINT:  Set close_date in the same statement.
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  close_date
CONSTRAINT NAME:  funnel_required_fields_missing
ERROR:  23514: invalid stage transition from "lost" to "lead" in pipeline "b2b"
DETAIL:  Deal 43: No move from "lost" is allowed.
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  stage
CONSTRAINT NAME:  funnel_transition_not_allowed
ERROR:  23514: invalid stage transition from "lead" to "qualified" in pipeline "b2b"
DETAIL:  Deal 42: Stage "qualified" is retired. Allowed targets from "lead": proposal, negotiation, won, lost.
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  stage
CONSTRAINT NAME:  funnel_retired_stage
ERROR:  23514: invalid stage transition from "open" to "done" in pipeline "svc"
DETAIL:  Deal "ACME ""1""": Allowed targets from "open": review, lost.
SCHEMA NAME:  public
TABLE NAME:  accounts
COLUMN NAME:  stage
CONSTRAINT NAME:  funnel_transition_not_allowed
ERROR:  23514: invalid stage transition from "lead" to "lost" in pipeline "b2b"
DETAIL:  Deal 42: The change time 2000-01-01 00:00:00+00 is earlier than the time the deal entered "lead", 2026-01-05 10:00:00+00.
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  changed_at
CONSTRAINT NAME:  funnel_changed_at_before_entry
ERROR:  23514: invalid initial stage "qualified" in pipeline "b2b"
DETAIL:  Deal 50: Stage "qualified" is retired.
CONTEXT:  row 1 of the rows inserted by the statement
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  stage
CONSTRAINT NAME:  funnel_retired_stage
ERROR:  23514: invalid initial stage "negotiation" in pipeline "b2b"
DETAIL:  Deal 51: Stage "proposal" requires a value in "close_date". Stage "negotiation" requires a value in "owner_name".
HINT:  A deal that starts in "negotiation" has passed "proposal".
CONTEXT:  row 1 of the rows inserted by the statement
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  close_date
CONSTRAINT NAME:  funnel_required_fields_missing
ERROR:  23514: invalid initial stage "proposal" in pipeline "b2b"
DETAIL:  Deal 101: Stage "proposal" requires a value in "close_date".
CONTEXT:  row 2 of the rows inserted by the statement
SCHEMA NAME:  public
TABLE NAME:  deals
COLUMN NAME:  close_date
CONSTRAINT NAME:  funnel_required_fields_missing
EOF2
diff -u "$WORK/expected" "$WORK/out" || fail "error fields differ"
n=$(psql -X -At -d $DB -c "SELECT count(*) FROM deals_stage_history WHERE deal_id NOT IN (42, 43)")
[ "$n" = 0 ] || fail "refused inserts wrote $n visits"
n=$(psql -X -At -d $DB -c "SELECT string_agg(stage::text, ',' ORDER BY id) FROM deals")
[ "$n" = "b2b:lead,b2b:lost" ] || fail "refused moves changed the deals: $n"
echo "ok"
