#!/bin/sh
# bench/names_bench.sh: what reading bare stage names in context
# (src/type/bare_names.c) costs the queries that do not use them (run by make
# bench inside a throw-away cluster).  Every query parsed in a backend that
# has loaded funnel passes through the post-parse-analysis hook, which walks
# the query once to find bare names.  Side by side, simple protocol (so
# every transaction is parsed), one client, BENCH_SECONDS per run, the
# median of BENCH_ROUNDS interleaved rounds:
#   - a query on a native enum column without funnel loaded in the backend
#     (no hook) and with it loaded (session_preload_libraries: the hook
#     walks the query and finds nothing): the hook's whole cost;
#   - a qualified-name query on a bound deal_stage column, a bare-name query
#     on it (resolved to the same constant), and a bare-name query on an
#     unbound column of two pipelines (= ANY (stages_named(...))).
set -eu
. "$(dirname "$0")/lib.sh"
db=funnel_bench_names
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d $db <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']);
SELECT funnel.create_pipeline('retail', ARRAY['lead','visit']);
CREATE TYPE stage_enum AS ENUM ('lead','qualified','proposal','negotiation','won','lost');
CREATE TABLE deals (id int PRIMARY KEY, owner text, amount numeric,
                    stage funnel.deal_stage(b2b) NOT NULL, loose funnel.deal_stage NOT NULL,
                    e stage_enum NOT NULL);
INSERT INTO deals
  SELECT i, 'o' || i % 10, i, st, st, funnel.stage_name(st)::stage_enum
    FROM (SELECT i, ('b2b:' || (ARRAY['lead','qualified','proposal','negotiation','won','lost'])[1 + i % 6])::funnel.deal_stage AS st
            FROM generate_series(1, 10000) i) s;
CREATE INDEX ON deals (stage);
CREATE INDEX ON deals (loose);
CREATE INDEX ON deals (e);
ANALYZE deals;
SQL
echo "SELECT count(*), sum(amount) FROM deals WHERE e = 'won' AND owner <> 'x' AND id > 0;" >"$work/enum.sql"
echo "SELECT count(*), sum(amount) FROM deals WHERE stage = 'b2b:won' AND owner <> 'x' AND id > 0;" >"$work/qualified.sql"
echo "SELECT count(*), sum(amount) FROM deals WHERE stage = 'won' AND owner <> 'x' AND id > 0;" >"$work/bare_bound.sql"
echo "SELECT count(*), sum(amount) FROM deals WHERE loose = 'won' AND owner <> 'x' AND id > 0;" >"$work/bare_loose.sql"

# tps NAME FILE [PGOPTIONS]: one pgbench run, its tps
tps()
{
    PGOPTIONS=${3:-} pgbench -n -M simple -c 1 -T "$seconds" -f "$2" "$db" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
median()
{
    sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
r=0
while [ $r -lt "$rounds" ]; do
    tps enum "$work/enum.sql" >>"$work/enum_nohook"
    tps enum "$work/enum.sql" "-c session_preload_libraries=funnel" >>"$work/enum_hook"
    tps qualified "$work/qualified.sql" >>"$work/qualified"
    tps bare_bound "$work/bare_bound.sql" >>"$work/bare_bound"
    tps bare_loose "$work/bare_loose.sql" >>"$work/bare_loose"
    r=$((r + 1))
done
a=$(median <"$work/enum_nohook")
b=$(median <"$work/enum_hook")
q=$(median <"$work/qualified")
bb=$(median <"$work/bare_bound")
bl=$(median <"$work/bare_loose")
echo "enum column, funnel not loaded (no hook):   $a tps"
echo "enum column, funnel loaded (hook walks):    $b tps  ($(ratio "$b" "$a")x)"
echo "bound column, qualified 'b2b:won':          $q tps"
echo "bound column, bare 'won' (shared):          $bb tps  ($(ratio "$bb" "$q")x of qualified)"
echo "two-pipeline column, bare 'won' (= ANY):    $bl tps  ($(ratio "$bl" "$q")x of qualified)"
psql -X -q -d postgres -c "DROP DATABASE $db"
