#!/bin/sh
# test/shell/track_app_backend.sh: an application backend behind a pooled
# role (README "Application backends").
#   - funnel.actor: the app says per transaction (SET LOCAL) who acts; a
#     history column with DEFAULT funnel.actor() keeps it, entered_by keeps
#     the pooled role; RESET and the next transaction give NULL; a value too
#     long or with a control character is refused (22023) and writes nothing
#   - any column a user adds to the history gets its DEFAULT on UPDATE,
#     INSERT and COPY (also a multi-row COPY)
#   - the notification recipe: one session LISTENs, another moves deals:
#     one NOTIFY per move with the key, from and to stage; a rolled-back
#     move sends nothing
# The tables belong to a NOSUPERUSER owner; the app role only writes.
set -eu
DB=funnel_track_app_backend
export PGOPTIONS='-c search_path=public,funnel'
fail() { echo "FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
$P <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal']);
DROP ROLE IF EXISTS ab_owner;
DROP ROLE IF EXISTS ab_app;
CREATE ROLE ab_owner NOSUPERUSER;
CREATE ROLE ab_app NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO ab_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO ab_owner;
SQL
O() { PGOPTIONS="$PGOPTIONS -c role=ab_owner" psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
A() { PGOPTIONS="$PGOPTIONS -c role=ab_app" psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

O <<'SQL'
CREATE TABLE deals (id bigint PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('deals', 'b2b') \gset
ALTER TABLE deals_stage_history
  ADD COLUMN actor text DEFAULT funnel.actor(),
  ADD COLUMN request text DEFAULT nullif(current_setting('app.request', true), ''),
  ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
  ADD COLUMN note text;
GRANT SELECT, INSERT, UPDATE, DELETE ON deals TO ab_app;
GRANT SELECT ON deals_stage_history TO ab_app;
SQL

# the app: one request per transaction, SET LOCAL says who
A <<'SQL'
BEGIN;
SET LOCAL funnel.actor = 'alice@example.com';
SET LOCAL app.request = 'r1';
INSERT INTO deals VALUES (1, 'lead'), (2, 'lead');
UPDATE deals SET stage = 'qualified' WHERE id = 1;
COMMIT;
BEGIN;
SET LOCAL funnel.actor = 'bob';
UPDATE deals SET stage = 'proposal' WHERE id = 1;
COMMIT;
UPDATE deals SET stage = 'qualified' WHERE id = 2;
SET funnel.actor = 'carol';
UPDATE deals SET stage = 'proposal' WHERE id = 2;
RESET funnel.actor;
DELETE FROM deals WHERE id = 2;
INSERT INTO deals VALUES (3, 'lead');
SET funnel.actor = 'dave';
COPY deals FROM STDIN;
4	lead
5	qualified
\.
SQL
got=$(O -c "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', deal_id, stage, entered_by, coalesce(actor, '-'),
                                     coalesce(request, '-'), coalesce(note, '-')), ' ' ORDER BY seq)
              FROM deals_stage_history")
want="1|b2b:lead|ab_app|alice@example.com|r1|- 2|b2b:lead|ab_app|alice@example.com|r1|- 1|b2b:qualified|ab_app|alice@example.com|r1|- 1|b2b:proposal|ab_app|bob|-|- 2|b2b:qualified|ab_app|-|-|- 2|b2b:proposal|ab_app|carol|-|- 3|b2b:lead|ab_app|-|-|- 4|b2b:lead|ab_app|dave|-|- 5|b2b:qualified|ab_app|dave|-|-"
[ "$got" = "$want" ] || fail "history: got
$got
want
$want"
# identity values are consecutive, one per visit
got=$(O -c "SELECT count(DISTINCT seq), max(seq) - min(seq) + 1 FROM deals_stage_history")
[ "$got" = "9|9" ] || fail "identity: $got"
[ "$(O -c "SELECT count(*) FROM funnel.check_history('deals')")" = 0 ] || fail "check_history"

# refused actors: the move fails with 22023 and writes nothing
before=$(O -c "SELECT md5(string_agg(h::text, ';' ORDER BY h::text)) FROM deals_stage_history h")
long=$(printf 'x%.0s' $(seq 1 257))
for case in "long|$long|too long: 257 bytes" "ctl|a$(printf '\t')b|control character"; do
    name=${case%%|*} rest=${case#*|} value=${rest%%|*} msg=${rest#*|}
    out=$(A -v VERBOSITY=verbose -v "actor=$value" 2>&1 <<'SQL'
SET funnel.actor = :'actor';
UPDATE deals SET stage = 'qualified' WHERE id = 3;
SQL
    ) && fail "$name: the move was accepted"
    echo "$out" | grep -q "^ERROR:  22023: funnel.actor .*$msg" || fail "$name: $out"
done
# 256 bytes are accepted
ok=$(printf 'y%.0s' $(seq 1 256))
got=$(echo "SET funnel.actor = :'actor'; SELECT length(funnel.actor());" | A -v "actor=$ok")
[ "$got" = 256 ] || fail "256 bytes: $got"
after=$(O -c "SELECT md5(string_agg(h::text, ';' ORDER BY h::text)) FROM deals_stage_history h")
[ "$before" = "$after" ] || fail "a refused actor changed the history"
# set before the library is loaded in the session: checked where it is used
out=$(PGOPTIONS="$PGOPTIONS -c role=ab_app -c funnel.actor=a$(printf '\001')b" \
    psql -X -q -At -v VERBOSITY=verbose -d $DB -c "UPDATE deals SET stage = 'proposal' WHERE id = 3" 2>&1) &&
    fail "placeholder: the move was accepted"
echo "$out" | grep -q '^ERROR:  22023: funnel.actor contains a control character' || fail "placeholder: $out"

# the notification recipe of the README, as the owner
O <<'SQL'
CREATE FUNCTION deals_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('deal_moves', json_build_object(
        'table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
        'deal', NEW.id,
        'from', CASE TG_OP WHEN 'UPDATE' THEN OLD.stage::text END,
        'to', NEW.stage::text,
        'at', clock_timestamp())::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER deals_notify_insert AFTER INSERT ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_notify();
CREATE TRIGGER deals_notify_update AFTER UPDATE OF stage ON deals
    FOR EACH ROW WHEN (OLD.stage IS DISTINCT FROM NEW.stage) EXECUTE FUNCTION deals_notify();
SQL
OUT=$(mktemp /tmp/funnel-notify.XXXXXX)
trap 'rm -f "$OUT"' EXIT
# listener: a session that LISTENs, then waits; psql prints what arrived
A -c "LISTEN deal_moves" -c "SELECT pg_sleep(4) /* listener */" -c "SELECT 1" >"$OUT" 2>&1 &
listener=$!
n=0
until [ "$(psql -X -At -d $DB -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4) /* listener */%' AND pid <> pg_backend_pid()")" = 1 ]; do
    n=$((n + 1)); [ $n -lt 40 ] || fail "listener did not start"; sleep 0.1
done
A <<'SQL'
BEGIN;
UPDATE deals SET stage = 'proposal' WHERE id IN (4, 5);
ROLLBACK;
UPDATE deals SET stage = 'qualified' WHERE id IN (3, 4, 5);
UPDATE deals SET stage = 'qualified' WHERE id = 5;
COPY deals FROM STDIN;
6	lead
7	proposal
\.
SQL
wait $listener
got=$(sed -n 's/^Asynchronous notification "deal_moves" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' "$OUT" |
      $P -c "CREATE TEMP TABLE n (j json)" -c "COPY n FROM STDIN" \
         -c "SELECT string_agg(format('%s:%s:%s:%s', j->>'table', j->>'deal', coalesce(j->>'from', '-'), j->>'to'), ' ' ORDER BY j->>'at') FROM n")
want="public.deals:3:b2b:lead:b2b:qualified public.deals:4:b2b:lead:b2b:qualified public.deals:6:-:b2b:lead public.deals:7:-:b2b:proposal"
[ "$got" = "$want" ] || fail "notifications: got
$got
want
$want
listener output:
$(cat "$OUT")"
echo "ok"
