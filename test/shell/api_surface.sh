#!/bin/sh
# test/shell/api_surface.sh: schema funnel holds the documented API alone.
# Every function, aggregate, type, table and view in it must have a COMMENT
# and be named in README.md or doc/*.md; internals belong in funnel_internal
# (sql/install/funnel.sql).  Also: funnel_internal is on nobody's
# search_path by default, and PUBLIC cannot call the aggregate support and
# type I/O functions there (sql/install/grants.sql).
set -eu
cd "$(dirname "$0")/../.."
db=funnel_api_surface
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
psql -X -q -d $db -c 'CREATE EXTENSION funnel' >/dev/null
objects=$(psql -X -qAt -F'|' -d $db <<'SQL'
SELECT 'function', p.proname, coalesce(obj_description(p.oid, 'pg_proc'), '')
  FROM pg_proc p WHERE p.pronamespace = 'funnel'::regnamespace
UNION ALL
SELECT 'relation', c.relname, coalesce(obj_description(c.oid, 'pg_class'), '')
  FROM pg_class c WHERE c.relnamespace = 'funnel'::regnamespace AND c.relkind IN ('r', 'v', 'm')
UNION ALL
SELECT 'type', t.typname, coalesce(obj_description(t.oid, 'pg_type'), '')
  FROM pg_type t WHERE t.typnamespace = 'funnel'::regnamespace AND t.typtype IN ('b', 'd', 'e')
   AND t.typelem = 0
ORDER BY 1, 2;
SQL
)
bad=0
count=0
docs=$(cat README.md doc/*.md)
echo "$objects" | while IFS='|' read -r kind name comment; do
    [ -n "$name" ] || continue
    if [ -z "$comment" ]; then
        echo "api_surface: FAIL: $kind funnel.$name has no COMMENT"
        echo x
    fi
    case "$comment" in
    "funnel internal"*)
        echo "api_surface: FAIL: $kind funnel.$name is commented as internal: move it to funnel_internal"
        echo x ;;
    esac
    if ! printf '%s' "$docs" | grep -Eq "(funnel\\.|\`)$name\\b"; then
        echo "api_surface: FAIL: $kind funnel.$name is named neither in README.md nor in doc/*.md"
        echo x
    fi
done >/tmp/api_surface.$$
failures=$(grep -c '^x$' /tmp/api_surface.$$ || true)
grep -v '^x$' /tmp/api_surface.$$ || true
rm -f /tmp/api_surface.$$
count=$(echo "$objects" | grep -c . || true)

# funnel_internal: not on the default search_path, aggregate support and
# type I/O not executable by PUBLIC, operator functions still are
checks=$(psql -X -qAt -d $db <<'SQL'
SELECT 'search_path: ' || current_setting('search_path')
 WHERE current_setting('search_path') ~ 'funnel_internal';
SELECT 'PUBLIC may call ' || p.oid::regprocedure
  FROM pg_proc p
 WHERE p.pronamespace = 'funnel_internal'::regnamespace
   AND p.proname ~ '(_trans|_combine|_final|_serialize|_deserialize|_in|_out|_recv|_send)$'
   AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT 'PUBLIC may not call ' || p.oid::regprocedure
  FROM pg_proc p
 WHERE p.pronamespace = 'funnel_internal'::regnamespace
   AND p.proname IN ('deal_stage_eq', 'deal_stage_lt', 'track_insert', 'track_update')
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE');
SELECT 'no internal functions' WHERE NOT EXISTS
  (SELECT 1 FROM pg_proc WHERE pronamespace = 'funnel_internal'::regnamespace);
SQL
)
if [ -n "$checks" ]; then
    echo "$checks" | sed 's/^/api_surface: FAIL: /'
    failures=$((failures + 1))
fi
if [ "$failures" -ne 0 ]; then
    exit 1
fi
echo "ok: the $count objects of schema funnel are commented and documented; internals are in funnel_internal"
