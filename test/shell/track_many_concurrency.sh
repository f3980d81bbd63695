#!/bin/sh
# test/shell/track_many_concurrency.sh: one deals table, three pipelines that
# share every stage name (issue 19, "Done when"), tracked by a NOSUPERUSER
# table owner.  4 pgbench clients x TRACK_MANY_MOVES (default 2000)
# transactions, READ COMMITTED, on 60 deals: moves inside a deal's pipeline
# by bare name (resolved in its current pipeline), moves to another
# pipeline (allowed by allow-list entries from '*'), a move out and back in
# one transaction (zero-length visits), rolled-back moves.  The scripts count
# every change in the deals row itself (moves, and cross for moves between
# pipelines), independently of funnel's triggers; a sequence column the
# owner adds to the history orders each deal's visits.  Afterwards
# check_history() and plain-SQL invariants must find nothing: one open visit
# per deal, in its current stage; contiguous visits; no time going
# backwards; visits = inserts + counted changes; changes of pipeline in the
# history = counted moves between pipelines, each one the allow-list permits.
set -eu
DB=funnel_track_many_concurrency
MOVES=${TRACK_MANY_MOVES:-2000}
WORK=$(mktemp -d /tmp/funnel-many.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
export PGOPTIONS='-c search_path=public,funnel'
fail() { echo "FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
O() { PGOPTIONS="$PGOPTIONS -c role=tmc_owner" psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
$P <<'SQL'
CREATE EXTENSION funnel;
DROP ROLE IF EXISTS tmc_owner;
CREATE ROLE tmc_owner NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO tmc_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text[], name, name, text) TO tmc_owner;
SELECT funnel.create_pipeline(p, ARRAY['lead','qualified','proposal','negotiation'])
  FROM unnest(ARRAY['b2b','retail','partner']) p;
-- into another pipeline: from any stage, at lead or qualified
SELECT funnel.allow_transition(f, '*', t || ':' || s)
  FROM unnest(ARRAY['b2b','retail','partner']) f, unnest(ARRAY['b2b','retail','partner']) t,
       unnest(ARRAY['lead','qualified']) s
 WHERE f <> t;
SQL
O <<'SQL'
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL,
                    moves int NOT NULL DEFAULT 0, cross_moves int NOT NULL DEFAULT 0, home text);
INSERT INTO deals SELECT g, (ARRAY['b2b','retail','partner'])[1 + g % 3] || ':lead'
  FROM generate_series(1, 30) g;
SELECT funnel.track('deals', pipelines => ARRAY['b2b','retail','partner'], rule => 'any');
-- the order visits were made in: a deal's visits are made under its row
-- lock, so their sequence numbers follow each other (funnel evaluates the
-- DEFAULT of a column the owner adds to the history)
CREATE SEQUENCE visit_seq;
ALTER TABLE deals_stage_history ADD COLUMN seq bigint NOT NULL DEFAULT nextval('visit_seq');
INSERT INTO deals SELECT g, (ARRAY['b2b','retail','partner'])[1 + g % 3] || ':qualified'
  FROM generate_series(31, 60) g;
SQL

# E'b2b\072lead' is 'b2b:lead': pgbench takes a colon in a literal for a variable
for s in lead qualified proposal negotiation won lost; do
    cat > "$WORK/inside_$s.sql" <<EOF
\\set id random(1, 60)
UPDATE deals SET stage = '$s', moves = moves + 1
 WHERE id = :id AND funnel.stage_name(stage) <> '$s';
EOF
done
for p in b2b retail partner; do
    for s in lead qualified; do
        cat > "$WORK/into_${p}_$s.sql" <<EOF
\\set id random(1, 60)
UPDATE deals SET stage = E'$p\\072$s', moves = moves + 1, cross_moves = cross_moves + 1
 WHERE id = :id AND funnel.pipeline_of(stage) <> '$p';
EOF
    done
done
# out to retail and back to its own pipeline in one transaction
cat > "$WORK/out_and_back.sql" <<'EOF'
\set id random(1, 60)
BEGIN;
UPDATE deals SET stage = CASE WHEN funnel.pipeline_of(stage) = 'retail' THEN E'b2b\072lead'
                              ELSE E'retail\072lead' END::funnel.deal_stage,
                 home = funnel.pipeline_of(stage),
                 moves = moves + 1, cross_moves = cross_moves + 1 WHERE id = :id;
UPDATE deals SET stage = (home || E'\072qualified')::funnel.deal_stage,
                 moves = moves + 1, cross_moves = cross_moves + 1 WHERE id = :id;
COMMIT;
EOF
cat > "$WORK/rolled_back.sql" <<'EOF'
\set id random(1, 60)
BEGIN;
UPDATE deals SET stage = E'partner\072qualified', moves = moves + 1, cross_moves = cross_moves + 1
 WHERE id = :id AND funnel.pipeline_of(stage) <> 'partner';
ROLLBACK;
EOF

args=""
for f in "$WORK"/inside_*.sql; do args="$args -f $f@2"; done
for f in "$WORK"/into_*.sql; do args="$args -f $f@2"; done
PGOPTIONS="$PGOPTIONS -c role=tmc_owner" pgbench -n -c 4 -j 2 -t "$MOVES" $args \
    -f "$WORK/out_and_back.sql@2" -f "$WORK/rolled_back.sql@1" "$DB" > "$WORK/pgbench.out" 2>&1 ||
    { cat "$WORK/pgbench.out"; fail "pgbench reported errors"; }
grep -E "^(number of (transactions|failed)|tps)" "$WORK/pgbench.out"

q() { O -c "$1"; }
moves=$(q "SELECT sum(moves) FROM deals")
cross=$(q "SELECT sum(cross_moves) FROM deals")
visits=$(q "SELECT count(*) FROM deals_stage_history")
problems=$(q "SELECT count(*) FROM funnel.check_history('deals')")
# plain SQL, independent of check_history()
not_one_open=$(q "SELECT count(*) FROM deals d
                   WHERE (SELECT count(*) FROM deals_stage_history h WHERE h.deal_id = d.id AND h.left_at IS NULL) <> 1")
wrong_stage=$(q "SELECT count(*) FROM deals d JOIN deals_stage_history h ON h.deal_id = d.id AND h.left_at IS NULL
                  WHERE h.stage::text <> d.stage::text")
gaps=$(q "SELECT count(*) FROM (SELECT h.entered_at, lag(h.left_at) OVER w AS prev_left, row_number() OVER w AS n
                                 FROM deals_stage_history h
                               WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.seq)) v
           WHERE v.n > 1 AND v.prev_left IS DISTINCT FROM v.entered_at")
backwards=$(q "SELECT count(*) FROM deals_stage_history WHERE left_at < entered_at")
history_cross=$(q "SELECT count(*) FROM (SELECT funnel.pipeline_of(h.stage) AS p, lag(funnel.pipeline_of(h.stage)) OVER w AS prev
                                          FROM deals_stage_history h
                                        WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.seq)) v
                    WHERE v.prev IS NOT NULL AND v.p <> v.prev")
disallowed=$(q "SELECT count(*) FROM (SELECT funnel.pipeline_of(h.stage) AS p, funnel.stage_name(h.stage) AS s,
                                             lag(funnel.pipeline_of(h.stage)) OVER w AS prev
                                        FROM deals_stage_history h
                                      WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.seq)) v
                 WHERE v.prev IS NOT NULL AND v.p <> v.prev AND v.s NOT IN ('lead', 'qualified')")
zero=$(q "SELECT count(*) FROM deals_stage_history WHERE left_at = entered_at")
echo "counted changes: $moves (between pipelines: $cross), visits: $visits (expected 60 + $moves), pipeline changes in the history: $history_cross, zero-length visits: $zero"
echo "check_history: $problems; plain SQL: not one open visit $not_one_open, open visit not in the current stage $wrong_stage, gaps $gaps, time backwards $backwards, disallowed moves between pipelines $disallowed"
[ "$moves" -gt 2000 ] || fail "too few moves ($moves): the test did not exercise concurrency"
[ "$cross" -gt 500 ] || fail "too few moves between pipelines ($cross)"
[ "$visits" -eq $((60 + moves)) ] || fail "visits $visits <> 60 inserts + $moves changes"
[ "$history_cross" -eq "$cross" ] || fail "$history_cross changes of pipeline in the history <> $cross counted"
[ "$problems" -eq 0 ] || { q "SELECT * FROM funnel.check_history('deals') LIMIT 20"; fail "$problems invariant violations"; }
[ "$not_one_open" -eq 0 ] || fail "$not_one_open deals without exactly one open visit"
[ "$wrong_stage" -eq 0 ] || fail "$wrong_stage open visits not in the deal's stage"
[ "$gaps" -eq 0 ] || fail "$gaps gaps between visits"
[ "$backwards" -eq 0 ] || fail "$backwards visits left before they were entered"
[ "$disallowed" -eq 0 ] || fail "$disallowed moves between pipelines the allow-list does not permit"
[ "$zero" -gt 0 ] || fail "no zero-length visit although transactions moved deals twice"

psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE tmc_owner"
echo "ok: three pipelines in one table, concurrent moves inside and between them"
