#!/bin/sh
# test/shell/dump_restore.sh: pg_dump -> restore round trips of funnel data.
#
# Tables live in schema crm, which sorts before funnel, so pg_dump loads their
# data before funnel's own config tables; pg_restore -j 4 loads data in no
# order at all.  Pipelines b2b and retail share the stage names lead, won and
# lost.  Stages added between others (odd OIDs) and renamed stages are in the
# data.  Checked for a plain SQL dump, pg_restore of a custom dump and
# pg_restore -j 4 of a directory dump: the restored rows compare equal, ORDER
# BY stage gives the same sequence, pipeline attributes survive, every index
# passes amcheck's bt_index_check, and binary COPY moves rows between the
# databases although their OIDs differ.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "dump_restore: FAIL: $*" >&2; exit 1; }
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$@"; }

for db in src plain custom parallel; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS fr_$db" -c "CREATE DATABASE fr_$db"
done

q fr_src <<'SQL'
CREATE EXTENSION funnel;
CREATE EXTENSION amcheck;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit','basket'],
                              lost => ARRAY['lost', 'abandoned']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'], ARRAY[0.1,0.3,0.6],
                              won => ARRAY['成交'], lost => ARRAY['流失','无预算']);
SELECT funnel.add_stage('b2b', 'demo', probability => 0.4, after => 'qualified');
SELECT funnel.add_stage('retail', 'checkout', before => 'won');
SELECT funnel.rename_stage('b2b', 'negotiation', 'negotiating');
SELECT funnel.set_stale_after('b2b', 'proposal', interval '14 days');
SELECT funnel.retire_stage('retail', 'visit');

CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, owner text, amount numeric(12,2),
                        stage funnel.deal_stage(b2b) NOT NULL);
CREATE TABLE crm.orders (id bigint PRIMARY KEY, stage funnel.deal_stage(retail));
CREATE TABLE crm.mixed (id bigint PRIMARY KEY, stage funnel.deal_stage NOT NULL,
                        path funnel.deal_stage[]);
INSERT INTO crm.deals
SELECT g, 'owner' || g % 7, g * 10.5,
       (ARRAY['lead','qualified','demo','proposal','negotiating','won','lost'])[1 + g % 7]
FROM generate_series(1, 20000) g;
INSERT INTO crm.orders
SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE
       (ARRAY['lead','visit','basket','checkout','won','lost','abandoned'])[1 + g % 7]::funnel.deal_stage(retail) END
FROM generate_series(1, 5000) g;
INSERT INTO crm.mixed
SELECT g, (SELECT (pipeline || ':' || stage)::funnel.deal_stage FROM funnel.stages
            ORDER BY pipeline, position OFFSET g % 20 LIMIT 1),
       ARRAY['b2b:lead', 'retail:won', '零售:商机']::funnel.deal_stage[]
FROM generate_series(1, 3000) g;
CREATE INDEX deals_stage ON crm.deals (stage);
CREATE INDEX orders_stage ON crm.orders (stage);
CREATE INDEX mixed_stage ON crm.mixed (stage, id);
CREATE INDEX deals_stage_hash ON crm.deals USING hash (stage);
SQL

pg_dump -Fp -f "$work/plain.sql" fr_src
pg_dump -Fc -f "$work/custom.dump" fr_src
pg_dump -Fd -j 4 -f "$work/dir.dump" fr_src
q fr_plain -f "$work/plain.sql" >/dev/null 2>"$work/plain.err" || { cat "$work/plain.err"; fail "plain restore"; }
grep -q ERROR "$work/plain.err" && { cat "$work/plain.err"; fail "plain restore printed errors"; }
pg_restore --exit-on-error -d fr_custom "$work/custom.dump" || fail "pg_restore"
pg_restore --exit-on-error -j 4 -d fr_parallel "$work/dir.dump" || fail "pg_restore -j 4"

checks="
SELECT md5(string_agg(d::text, ';' ORDER BY id)) FROM crm.deals d;
SELECT md5(string_agg(o::text, ';' ORDER BY id)) FROM crm.orders o;
SELECT md5(string_agg(m::text, ';' ORDER BY id)) FROM crm.mixed m;
SELECT md5(string_agg(id::text, ',' ORDER BY stage, id)) FROM crm.deals;
SELECT md5(string_agg(id::text, ',' ORDER BY stage, id)) FROM crm.mixed;
SELECT md5(string_agg(s::text, ';')) FROM funnel.stages s;
SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attrelid::regclass::text, attnum)
  FROM pg_attribute WHERE attrelid IN ('crm.deals'::regclass, 'crm.orders'::regclass, 'crm.mixed'::regclass) AND attnum > 0;
SELECT count(*) FROM crm.deals WHERE stage OPERATOR(pg_catalog.=) 'b2b:negotiating';
SELECT sum(funnel.position(stage)) || '/' || sum(funnel.probability(stage)) FROM crm.deals;
"
echo "$checks" | q fr_src > "$work/src.out"
[ "$(sed -n 8p "$work/src.out")" -gt 0 ] || fail "source data not as expected"
for db in plain custom parallel; do
    echo "$checks" | q fr_$db > "$work/$db.out"
    diff "$work/src.out" "$work/$db.out" || fail "restored database fr_$db differs from the source"
    for idx in crm.deals_stage crm.orders_stage crm.mixed_stage crm.deals_pkey; do
        q fr_$db -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS amcheck" -c "SELECT bt_index_check('$idx', true)" >/dev/null \
            || fail "bt_index_check($idx) in fr_$db"
    done
    # the restored database keeps working: new rows, new stages, bare names
    q fr_$db -c "INSERT INTO crm.deals VALUES (-1, 'x', 1, 'won')" \
             -c "SELECT funnel.add_stage('b2b', 'pilot', after => 'demo')" \
             -c "INSERT INTO crm.deals VALUES (-2, 'x', 1, 'pilot')" \
             -c "SELECT bt_index_check('crm.deals_stage', true)" >/dev/null \
        || fail "writing to the restored database fr_$db"
    echo "dump_restore: fr_$db matches the source"
done

# binary COPY between databases whose OIDs differ
q fr_src -c "CREATE TABLE public.pipeline_oids AS SELECT oid FROM pg_type WHERE typnamespace = 'funnel_pipeline'::regnamespace"
q fr_plain -c "CREATE TABLE crm.mixed_copy (LIKE crm.mixed)"
q fr_src -c "\\copy crm.mixed TO '$work/mixed.bin' (FORMAT binary)"
q fr_plain -c "\\copy crm.mixed_copy FROM '$work/mixed.bin' (FORMAT binary)"
a=$(q fr_src -c "SELECT md5(string_agg(m::text, ';' ORDER BY id)) FROM crm.mixed m")
b=$(q fr_plain -c "SELECT md5(string_agg(m::text, ';' ORDER BY id)) FROM crm.mixed_copy m")
[ "$a" = "$b" ] || fail "binary COPY round trip differs"
echo "dump_restore: binary COPY round trip matches"

for db in src plain custom parallel; do
    psql -X -q -d postgres -c "DROP DATABASE fr_$db"
done
echo "dump_restore: ok"
