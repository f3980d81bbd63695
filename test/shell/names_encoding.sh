#!/bin/sh
# test/shell/names_encoding.sh: name checks in databases that are not UTF-8.
#   LATIN1: NBSP (0xA0) at either end and C1 controls are refused, names with
#   accented letters are accepted (no NFC check: PostgreSQL normalizes only
#   UTF-8); SQL_ASCII: names are read as UTF-8 (an NBSP at the end is
#   refused, Chinese names are accepted), bytes that are not UTF-8 refused.
set -eu
fail() { echo "names_encoding: FAIL: $*"; exit 1; }
for enc in LATIN1 SQL_ASCII; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS funnel_names_$(echo $enc | tr A-Z a-z)" \
        -c "CREATE DATABASE funnel_names_$(echo $enc | tr A-Z a-z) TEMPLATE template0 ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C'"
done
P="psql -X -q -At -v ON_ERROR_STOP=1 -d funnel_names_latin1"
$P -c "CREATE EXTENSION funnel"
# the client speaks UTF-8; the server converts to LATIN1
out=$(PGCLIENTENCODING=UTF8 psql -X -q -At -d funnel_names_latin1 2>&1 <<'SQL' || true
SELECT funnel.create_pipeline(U&'\00A0b2b', ARRAY['a']);
SELECT funnel.create_pipeline('b2b', ARRAY[U&'a\0085b']);
SELECT funnel.create_pipeline('b2b', ARRAY['café', 'ölförsäljning']);
SELECT count(*) FROM funnel.stages;
SELECT 'b2b:café'::funnel.deal_stage;
SQL
)
echo "$out"
echo "$out" | grep -aq 'pipeline name "<U+00A0>b2b" has leading or trailing white space' || fail "LATIN1: NBSP accepted"
echo "$out" | grep -aq 'stage name "a<U+0085>b" contains a control character' || fail "LATIN1: C1 control accepted"
echo "$out" | grep -aqx '4' || fail "LATIN1: accented names refused"
echo "$out" | grep -aqx 'b2b:café' || fail "LATIN1: accented literal did not read back"

P="psql -X -q -At -v ON_ERROR_STOP=1 -d funnel_names_sql_ascii"
$P -c "CREATE EXTENSION funnel"
out=$(psql -X -q -At -d funnel_names_sql_ascii 2>&1 <<'SQL' || true
SELECT funnel.create_pipeline('b2b', ARRAY[convert_from('\x636166e9', 'SQL_ASCII')]);
SELECT funnel.create_pipeline('b2b', ARRAY[E'a\tb']);
SELECT funnel.create_pipeline('b2b', ARRAY[E'lead\xc2\xa0']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户', 'café']);
SELECT count(*) FROM funnel.stages;
SQL
)
echo "$out"
echo "$out" | grep -aq 'is not valid UTF-8' || fail "SQL_ASCII: a name that is not UTF-8 was accepted"
echo "$out" | grep -aq 'contains a control character' || fail "SQL_ASCII: tab accepted"
echo "$out" | grep -aq 'lead<U+00A0>" has leading or trailing white space' || fail "SQL_ASCII: NBSP accepted"
echo "$out" | grep -aqx '4' || fail "SQL_ASCII: Chinese pipeline not created"
for enc in LATIN1 SQL_ASCII; do
    psql -X -q -d postgres -c "DROP DATABASE funnel_names_$(echo $enc | tr A-Z a-z)"
done
echo "ok: names in LATIN1 and SQL_ASCII databases"
