#!/bin/sh
# test/shell/bi_views_dump.sh: the views of funnel.create_views() survive a
# plain pg_dump -> psql restore (search_path = '' while restoring: every
# name in the views' queries must be schema-qualified) and give the same
# rows after it, with their comments and security_invoker option.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "bi_views_dump: FAIL: $*" >&2; exit 1; }
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$@"; }

for db in src dst; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS bvd_$db" -c "CREATE DATABASE bvd_$db"
done
q bvd_src <<'SQL' >/dev/null
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'], ARRAY[0.1, 0.3, 0.6]);
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id bigint PRIMARY KEY, owner text, amount_usd numeric(12,2),
                        stage funnel.deal_stage(b2b) NOT NULL, changed_at timestamptz);
SELECT funnel.track('crm.deals', 'b2b', changed_at_column => 'changed_at', rule => 'any');
INSERT INTO crm.deals VALUES (1, 'ann', 100, 'lead', '2026-01-01'), (2, 'bob', 200, 'lead', '2026-01-01'),
                             (3, 'ann', 300, 'lead', '2026-01-02');
UPDATE crm.deals SET stage = 'qualified', changed_at = '2026-01-03' WHERE id IN (1, 2);
UPDATE crm.deals SET stage = 'won', changed_at = '2026-01-05' WHERE id = 1;
CREATE SCHEMA bi;
SELECT funnel.create_views('crm.deals', schema => 'bi', group_by => ARRAY['owner'], amount_column => 'amount_usd');
SQL

snapshot() {
    q "$1" <<'SQL'
SELECT string_agg(format('%s=%s', c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL
                         AND c.reloptions @> ARRAY['security_invoker=true']), ' ' ORDER BY c.relname)
  FROM pg_class c WHERE c.relnamespace = 'bi'::regnamespace;
SELECT * FROM bi.deals_pipeline ORDER BY owner, position;
SELECT * FROM bi.deals_conversion ORDER BY owner, position;
SELECT * FROM bi.deals_time_in_stage ORDER BY owner, position;
SELECT count(*), sum(deals) FROM bi.deals_trend;
SQL
}
snapshot bvd_src >"$work/before"
grep -q 'deals_conversion=t deals_pipeline=t deals_time_in_stage=t deals_trend=t' "$work/before" ||
    fail "views, comments or options missing before the dump: $(head -1 "$work/before")"
[ "$(wc -l <"$work/before")" -gt 10 ] || fail "views returned too few rows: $(cat "$work/before")"

pg_dump -d bvd_src >"$work/dump.sql"
psql -X -q -v ON_ERROR_STOP=1 -d bvd_dst -f "$work/dump.sql" >"$work/restore.log" 2>&1 ||
    fail "restore failed: $(grep -m3 ERROR "$work/restore.log")"
snapshot bvd_dst >"$work/after"
cmp -s "$work/before" "$work/after" || fail "rows differ after restore: $(diff "$work/before" "$work/after" | head -20)"

for db in src dst; do
    psql -X -q -d postgres -c "DROP DATABASE bvd_$db"
done
echo "bi_views_dump: ok"
