#!/bin/sh
# test/shell/track_concurrency.sh: 8 pgbench clients move the same 50 deals
# at random for 20 s under rule 'any' (READ COMMITTED): single moves, two
# moves in one transaction (zero-length visits) and rolled-back moves.  The
# scripts count every stage change in the deals row itself (column moves, in
# the same UPDATE), independently of funnel's triggers.  Afterwards: visits =
# inserts + counted changes, and every history invariant holds.  First, a
# quick check that rule changes made by one session reach another session
# that has the table's rules cached.
set -eu
DB=funnel_track_concurrency
SECONDS_RUN=${TRACK_CONCURRENCY_SECONDS:-20}
WORK=$(mktemp -d /tmp/funnel-conc.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export PGOPTIONS='-c search_path=public,funnel'
fail() { echo "FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
$P <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL,
                    moves int NOT NULL DEFAULT 0);
INSERT INTO deals SELECT g, 'b2b:lead' FROM generate_series(1, 25) g;
SELECT funnel.track('deals', 'b2b', rule => 'any');
INSERT INTO deals SELECT g, 'b2b:qualified' FROM generate_series(26, 50) g;
SQL

# rules changed by another session reach a backend that has cached them
$P -c "CREATE TABLE other (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL)" \
   -c "SELECT funnel.track('other', 'b2b')" \
   -c "INSERT INTO other VALUES (1, 'lost'), (2, 'lead'), (3, 'lead')" >/dev/null
psql -X -q -At -d $DB > "$WORK/cache.out" 2>&1 <<'SQL' &
UPDATE other SET stage = 'proposal' WHERE id = 2;   -- builds this backend's cache
SELECT pg_sleep(3);
UPDATE other SET stage = 'lead' WHERE id = 1;       -- allowed meanwhile by another session
SELECT 'reopened: ' || stage FROM other WHERE id = 1;
UPDATE other SET stage = 'won' WHERE id = 3;        -- retired meanwhile
SQL
sleep 1
$P -c "SELECT funnel.allow_transition('b2b', 'lost', 'lead')" -c "SELECT funnel.retire_stage('b2b', 'won')" >/dev/null
wait
grep -q '^reopened: b2b:lead$' "$WORK/cache.out" || { cat "$WORK/cache.out"; fail "an allow-list change did not reach a running session"; }
grep -q 'Stage "won" is retired' "$WORK/cache.out" || { cat "$WORK/cache.out"; fail "a retired stage did not reach a running session"; }
$P -c "SELECT funnel.retire_stage('b2b', 'won', false)" -c "SELECT funnel.disallow_transition('b2b', 'lost', 'lead')" \
   -c "SELECT funnel.untrack('other')" -c "DROP TABLE other, other_stage_history" >/dev/null
echo "cache invalidation across sessions: ok"

# E'b2b\072stage' is 'b2b:stage': pgbench takes a colon in a literal for a variable
stages="lead qualified proposal negotiation won lost"
i=0
for s in $stages; do
    i=$((i + 1))
    cat > "$WORK/move_$s.sql" <<EOF2
\\set id random(1, 50)
UPDATE deals SET stage = E'b2b\\072$s', moves = moves + 1
 WHERE id = :id AND stage <> E'b2b\\072$s';
EOF2
done
# two moves of two deals (or the same deal twice) in one transaction, in id order
cat > "$WORK/two_moves.sql" <<'EOF2'
\set a random(1, 50)
\set b random(1, 50)
\set lo least(:a, :b)
\set hi greatest(:a, :b)
BEGIN;
UPDATE deals SET stage = CASE WHEN stage = E'b2b\072proposal' THEN E'b2b\072won'::funnel.deal_stage
                              ELSE E'b2b\072proposal'::funnel.deal_stage END,
                 moves = moves + 1 WHERE id = :lo;
UPDATE deals SET stage = CASE WHEN stage = E'b2b\072lost' THEN E'b2b\072lead'::funnel.deal_stage
                              ELSE E'b2b\072lost'::funnel.deal_stage END,
                 moves = moves + 1 WHERE id = :hi;
COMMIT;
EOF2
# a move that rolls back: neither the counter nor the history keeps it
cat > "$WORK/rolled_back.sql" <<'EOF2'
\set id random(1, 50)
BEGIN;
UPDATE deals SET stage = E'b2b\072negotiation', moves = moves + 1
 WHERE id = :id AND stage <> E'b2b\072negotiation';
ROLLBACK;
EOF2

args=""
for s in $stages; do args="$args -f $WORK/move_$s.sql@2"; done
pgbench -n -c 8 -j 2 -T "$SECONDS_RUN" $args -f "$WORK/two_moves.sql@2" \
    -f "$WORK/rolled_back.sql@1" "$DB" > "$WORK/pgbench.out" 2>&1 ||
    { cat "$WORK/pgbench.out"; fail "pgbench reported errors"; }
grep -E "^(number of (transactions|failed)|tps)" "$WORK/pgbench.out"

moves=$($P -c "SELECT sum(moves) FROM deals")
visits=$($P -c "SELECT count(*) FROM deals_stage_history")
open=$($P -c "SELECT count(*) FROM deals_stage_history WHERE left_at IS NULL")
problems=$($P -c "SELECT count(*) FROM funnel.check_history('deals')")
zero=$($P -c "SELECT count(*) FROM deals_stage_history WHERE left_at = entered_at")
echo "counted stage changes: $moves, visits: $visits (expected 50 + $moves), open visits: $open, zero-length visits: $zero, invariant violations: $problems"
[ "$moves" -gt 1000 ] || fail "too few moves ($moves): the test did not exercise concurrency"
[ "$visits" -eq $((50 + moves)) ] || fail "visits $visits <> 50 inserts + $moves changes"
[ "$open" -eq 50 ] || fail "$open open visits for 50 deals"
[ "$problems" -eq 0 ] || { $P -c "SELECT * FROM funnel.check_history('deals') LIMIT 20"; fail "$problems invariant violations"; }
[ "$zero" -gt 0 ] || fail "no zero-length visit although transactions moved deals twice"

psql -X -q -d postgres -c "DROP DATABASE $DB"
echo "ok: concurrency"
