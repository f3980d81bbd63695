#!/bin/sh
# test/shell/search_path_dump.sh: a database whose views, constraints, partial
# indexes and SQL functions use deal_stage operators (comparisons, LIKE),
# min/max, lower() and text parameters, written on the default search_path ("$user", public), survives
# pg_dump -> restore (plain SQL and pg_restore -j 4): the dump holds none of
# the objects the extension puts in pg_catalog (CREATE EXTENSION makes them),
# the restored objects give the same answers, and their definitions read back
# with plain operators (no OPERATOR(schema.op) qualification).
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "search_path_dump: FAIL: $*" >&2; exit 1; }
export PGOPTIONS='-c search_path="$user",public'
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$@"; }

for db in src plain parallel; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS sp_$db" -c "CREATE DATABASE sp_$db"
done

q sp_src <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id int PRIMARY KEY, amount numeric(12,2),
                        stage funnel.deal_stage(b2b) NOT NULL,
                        CHECK (stage <> 'b2b:lost' OR amount IS NULL OR amount >= 0));
INSERT INTO crm.deals
SELECT g, g * 10, (ARRAY['lead','qualified','proposal','negotiation','won','lost'])[1 + g % 6]
  FROM generate_series(1, 3000) g;
CREATE INDEX deals_late ON crm.deals (stage) WHERE stage >= 'b2b:proposal';
CREATE VIEW crm.open_deals AS
SELECT id, stage FROM crm.deals WHERE stage < 'b2b:won' AND stage IS DISTINCT FROM 'b2b:lead';
CREATE VIEW crm.by_stage AS
SELECT stage, count(*) AS n, min(stage) OVER () AS first_stage, max(stage) OVER () AS last_stage,
       CASE stage WHEN 'b2b:won' THEN 'won' ELSE 'other' END AS label
  FROM crm.deals GROUP BY stage;
CREATE TABLE crm.targets (stage funnel.deal_stage, label text);
INSERT INTO crm.targets VALUES ('b2b:won', 'w'), ('b2b:proposal', 'p');
CREATE VIEW crm.joined AS
SELECT d.id, t.label FROM crm.deals d JOIN crm.targets t ON t.stage = d.stage;
CREATE FUNCTION crm.deals_in(s text) RETURNS SETOF int LANGUAGE sql STABLE
    AS 'SELECT id FROM crm.deals WHERE stage = s ORDER BY id';
CREATE FUNCTION crm.count_in(a varchar, b varchar) RETURNS bigint LANGUAGE sql STABLE
BEGIN ATOMIC SELECT count(*) FROM crm.deals WHERE stage IN (a, b); END;
CREATE VIEW crm.won_like AS
SELECT id FROM crm.deals WHERE stage LIKE '%won' AND lower(stage) NOT ILIKE 'x%';
SQL

pg_dump -Fp -f "$work/plain.sql" sp_src
pg_dump -Fd -j 4 -f "$work/dir.dump" sp_src
if grep -E 'CREATE (OPERATOR|AGGREGATE|CAST)|OPERATOR\(' "$work/plain.sql"; then
    fail "the dump holds objects the extension creates, or qualified operators"
fi
q sp_plain -f "$work/plain.sql" >/dev/null 2>"$work/plain.err" || { cat "$work/plain.err"; fail "plain restore"; }
grep -q ERROR "$work/plain.err" && { cat "$work/plain.err" >&2; fail "plain restore printed errors"; }
pg_restore --exit-on-error -j 4 -d sp_parallel "$work/dir.dump" || fail "pg_restore -j 4"

checks="
SHOW search_path;
SELECT count(*) || '/' || md5(string_agg(id::text, ',' ORDER BY id)) FROM crm.open_deals;
SELECT string_agg(format('%s %s %s %s %s', stage, n, first_stage, last_stage, label), ';' ORDER BY stage) FROM crm.by_stage;
SELECT count(*) || '/' || sum(id) FROM crm.joined;
SELECT count(*) || '/' || sum(x) FROM crm.deals_in('b2b:won') x;
SELECT crm.count_in('b2b:won', 'qualified');
SELECT count(*) FROM crm.deals WHERE stage >= 'b2b:proposal';
SELECT pg_get_viewdef('crm.open_deals');
SELECT pg_get_functiondef('crm.count_in'::regproc);
SELECT pg_get_indexdef('crm.deals_late'::regclass);
SELECT count(*) || '/' || sum(id) FROM crm.won_like;
SELECT pg_get_viewdef('crm.won_like');
"
echo "$checks" | q sp_src > "$work/src.out"
grep -q 'OPERATOR' "$work/src.out" && fail "definitions read back with qualified operators"
# stage won is every sixth id from 4: computed without funnel
want=$(q sp_src -c "SELECT count(*) || '/' || sum(g) FROM generate_series(1, 3000) g WHERE g % 6 = 4")
[ "$(sed -n 5p "$work/src.out")" = "$want" ] || { cat "$work/src.out" >&2; fail "source data not as expected"; }
# the LIKE view (stage LIKE, lower(stage) NOT ILIKE) finds the won deals too
[ "$(q sp_src -c "SELECT count(*) || '/' || sum(id) FROM crm.won_like")" = "$want" ] || fail "LIKE view not as expected"
for db in plain parallel; do
    echo "$checks" | q sp_$db > "$work/$db.out"
    diff "$work/src.out" "$work/$db.out" || fail "restored database sp_$db differs from the source"
    # the refused CHECK and the partial index still work after the restore
    if q sp_$db -c "INSERT INTO crm.deals VALUES (-1, -5, 'lost')" 2>/dev/null; then
        fail "CHECK constraint on stage lost in sp_$db"
    fi
    q sp_$db -c "SET enable_seqscan = off" \
             -c "EXPLAIN (COSTS OFF) SELECT id FROM crm.deals WHERE stage >= 'b2b:proposal' AND stage = 'b2b:won'" \
        | grep -q 'deals_late' || fail "partial index not used in sp_$db"
    echo "search_path_dump: sp_$db matches the source"
done

for db in src plain parallel; do
    psql -X -q -d postgres -c "DROP DATABASE sp_$db"
done
echo "search_path_dump: ok"
