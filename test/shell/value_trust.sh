#!/bin/sh
# test/shell/value_trust.sh: every attempt of a NOSUPERUSER table owner to
# store a value that does not read back fails, and the database it leaves
# behind survives ANALYZE, VACUUM, REINDEX and pg_dump | restore.
#   - an ambiguous bare name ('won' of p1 and p2) through COPY (text, csv and
#     binary) into an unbound column, a column default, CHECK, view, LIST
#     partition bound, rule and INSERT ... SELECT; COPY into a bound column
#     and into a tracked table's stage column still resolves bare names;
#   - a stage added in a transaction that rolls back, after funnel.report()
#     put its value into an indexed table;
#   - drop_pipeline() while a matview, a domain, a composite or a summary
#     column holds its stages.
# Before the fix: the unbound column, view and partition bound stored
# unresolved values (SELECT, ANALYZE and pg_dump failed), the index held a
# key of a stage that no longer existed, and drop_pipeline() left values
# behind (or failed for every pipeline because of a matview).
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "value_trust: FAIL: $*" >&2; exit 1; }
DB=funnel_value_trust
for db in $DB ${DB}_restored; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
super() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
# as the owner; errors expected, so no ON_ERROR_STOP
owner() { PGOPTIONS='-c role=funnel_vt_owner' psql -X -q -At -d $DB "$@"; }

super <<'SQL'
CREATE EXTENSION funnel;
CREATE EXTENSION amcheck;
SELECT funnel.create_pipeline('p1', ARRAY['lead', 'demo']);
SELECT funnel.create_pipeline('p2', ARRAY['lead', 'visit']);
SELECT funnel.create_pipeline('p3', ARRAY['x']);
DROP ROLE IF EXISTS funnel_vt_owner;
CREATE ROLE funnel_vt_owner NOSUPERUSER;
CREATE SCHEMA crm AUTHORIZATION funnel_vt_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO funnel_vt_owner;
SQL

owner > "$work/owner.out" 2>&1 <<'SQL'
SET search_path = crm, public;
CREATE TABLE u (id int, s funnel.deal_stage);
CREATE TABLE b (id int, s funnel.deal_stage(p2));
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage NOT NULL);
SELECT funnel.track('crm.deals', 'p1');
CREATE INDEX ON u (s);
INSERT INTO u VALUES (1, 'p1:lead'), (2, 'p2:won');
-- COPY text, csv and binary of a bare shared name
COPY u FROM stdin;
3	won
\.
COPY u FROM stdin WITH (FORMAT csv);
3,lost
\.
COPY b FROM stdin;
3	won
\.
COPY deals FROM stdin;
1	won
\.
\copy (SELECT 4, 'won'::text) TO '/tmp/funnel_vt_bare.txt'
\copy u FROM '/tmp/funnel_vt_bare.txt'
-- defaults, constraints, views, partitions, rules, INSERT ... SELECT
CREATE TABLE d (s funnel.deal_stage DEFAULT 'won');
CREATE TABLE c (s funnel.deal_stage CHECK (s OPERATOR(pg_catalog.<>) 'won'));
CREATE VIEW v AS SELECT 'won'::funnel.deal_stage AS s;
CREATE TABLE pt (s funnel.deal_stage) PARTITION BY LIST (s);
CREATE TABLE pt1 PARTITION OF pt FOR VALUES IN ('won');
CREATE TABLE pt2 PARTITION OF pt FOR VALUES IN ('p1:won');
CREATE RULE r AS ON INSERT TO b DO ALSO INSERT INTO u VALUES (9, 'won');
INSERT INTO u SELECT 5, 'won';
-- matview, domain, composite, summary holding p3
CREATE MATERIALIZED VIEW mv AS SELECT 'p1:lead'::funnel.deal_stage AS s WITH NO DATA;
CREATE DOMAIN ds AS funnel.deal_stage;
CREATE TYPE comp AS (a int, s ds);
CREATE TABLE holders (c comp, f funnel.funnel_summary);
INSERT INTO holders VALUES (ROW(1, 'p3:x')::comp, NULL), (NULL, (SELECT funnel.funnel('p3:won'::funnel.deal_stage)));
CREATE MATERIALIZED VIEW mv3 AS SELECT 'p3:x'::funnel.deal_stage AS s;
SQL
cat "$work/owner.out"
n=$(grep -c 'stage name "[a-z]*" is ambiguous' "$work/owner.out")
[ "$n" -eq 9 ] || fail "expected 9 ambiguity errors, got $n"
[ "$(super -c "SELECT string_agg(s::text, ',' ORDER BY id) FROM crm.u")" = "p1:lead,p2:won" ] ||
    fail "an unbound column took a bare shared name"
[ "$(super -c "SELECT string_agg(s::text, ',') FROM crm.b")" = "p2:won" ] || fail "COPY into a bound column"
[ "$(super -c "SELECT string_agg(stage::text, ',') FROM crm.deals")" = "p1:won" ] || fail "COPY into a tracked table"

# COPY binary of an unbound value: the send format carries the qualified name;
# a bare name sent by a client is refused the same way
super -c "\\copy (SELECT 7, 'p1:won'::funnel.deal_stage) TO '$work/bin' WITH (FORMAT binary)"
PGOPTIONS='-c role=funnel_vt_owner' psql -X -q -d $DB -c "\\copy crm.u FROM '$work/bin' WITH (FORMAT binary)" ||
    fail "binary COPY of a qualified value"
python3 - "$work/bin" "$work/bin_bare" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(data.replace(b'p1:won', b'won   ').replace(b'\x00\x00\x00\x07\x01won   ', b'\x00\x00\x00\x04\x01won'))
PY
if PGOPTIONS='-c role=funnel_vt_owner' psql -X -q -d $DB -c "\\copy crm.u FROM '$work/bin_bare' WITH (FORMAT binary)" 2>"$work/bin.err"; then
    fail "binary COPY of a bare shared name was accepted"
fi
grep -q 'is ambiguous' "$work/bin.err" || { cat "$work/bin.err"; fail "binary COPY: wrong error"; }

# a stage added in a transaction that rolls back, its value put into an index by report()
super <<'SQL'
BEGIN;
SELECT funnel.add_stage('p1', 'pilot', after => 'lead');
CREATE TEMP TABLE s AS SELECT funnel.funnel('p1:lead'::funnel.deal_stage) AS f;
INSERT INTO crm.u SELECT 8, stage FROM s, funnel.report(s.f);
ROLLBACK;
SQL

# drop_pipeline: p3 is held by a composite, a summary and a matview; p2 by u
out=$(super -c "SELECT funnel.drop_pipeline('p3')" 2>&1 || true)
echo "$out" | grep -q 'Column crm.holders.c holds stages of it' || fail "drop_pipeline(p3): $out"
super -c "DELETE FROM crm.holders WHERE c IS NOT NULL"
out=$(super -c "SELECT funnel.drop_pipeline('p3')" 2>&1 || true)
echo "$out" | grep -q 'Column crm.holders.f holds stages of it' || fail "drop_pipeline(p3): $out"
super -c "DELETE FROM crm.holders"
out=$(super -c "SELECT funnel.drop_pipeline('p3')" 2>&1 || true)
echo "$out" | grep -q 'Column crm.mv3.s holds stages of it' || fail "drop_pipeline(p3): $out"
super -c "DROP MATERIALIZED VIEW crm.mv3"
super -c "SELECT funnel.drop_pipeline('p3')" >/dev/null || fail "drop_pipeline(p3) once unused"

# the database survives every maintenance and dump path
super -c "ANALYZE" -c "VACUUM" -c "REINDEX DATABASE $DB" -c "VACUUM FULL" -c "ANALYZE" >/dev/null ||
    fail "ANALYZE, VACUUM or REINDEX"
super -c "SET enable_seqscan = off" -c "SELECT count(*) FROM crm.u WHERE s OPERATOR(pg_catalog.>=) 'p1:lead'" >/dev/null ||
    fail "index scan"
super -c "SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND c.relnamespace = 'crm'::regnamespace" >/dev/null ||
    fail "bt_index_check"
super -c "SELECT * FROM pg_stats WHERE schemaname = 'crm'" >/dev/null || fail "pg_stats"
pg_dump -f "$work/dump.sql" $DB || fail "pg_dump"
psql -X -q -v ON_ERROR_STOP=1 -d ${DB}_restored -f "$work/dump.sql" >/dev/null 2>"$work/restore.err" ||
    { cat "$work/restore.err"; fail "restore"; }
for q in "SELECT string_agg(s::text, ',' ORDER BY id) FROM crm.u" "SELECT string_agg(stage::text, ',') FROM crm.deals" \
         "SELECT string_agg(pipeline || ':' || stage, ',') FROM funnel.stages"; do
    [ "$(super -c "$q")" = "$(psql -X -At -d ${DB}_restored -c "$q")" ] || fail "restored data differs: $q"
done
psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP DATABASE ${DB}_restored"
psql -X -q -d postgres -c "DROP ROLE funnel_vt_owner"
rm -f /tmp/funnel_vt_bare.txt
echo "ok: no stored value that does not read back"
