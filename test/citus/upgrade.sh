#!/bin/sh
# test/citus/upgrade.sh: the update from 0.1 to this tree's version on a
# Citus cluster (coordinator + 2 workers, issue 18's leftover).  Run by
# test/citus/run.sh with CITUS_HOST, COORD_PORT, WORKER1_PORT and
# WORKER2_PORT set, with this tree installed; the three servers share the
# host's install directory, as the nodes of a cluster upgraded package by
# package do once every node has the new package.
#   1. builds v0.1 as test/upgrade/run.sh does and installs it over the
#      shared install; a database funnel_citus_upgrade with Citus on every
#      node, the workers added;
#   2. with 0.1: CREATE EXTENSION funnel VERSION '0.1' on the coordinator
#      (Citus creates it on the workers), pipelines with an allowed move and
#      required fields, a distributed deals table owned and tracked by a
#      NOSUPERUSER role with moves, and the Maven history (the data of
#      test/citus/aggregates.sql) in a distributed table; the aggregates'
#      answers and the history are printed;
#   3. installs this tree and runs ALTER EXTENSION funnel UPDATE on the
#      coordinator only, as README's "Upgrading from 0.1" says;
#   4. checks every node's extension version, the workers' catalogs against
#      the coordinator's (funnel.check_pipeline_nodes()), moves on the
#      distributed table by its owner (history written on the workers'
#      shards), the aggregates' answers against 0.1's and against a local
#      copy, and pipeline changes after the update on every node.
# Always reinstalls this tree at the end, even on failure.  Exits non-zero
# on the first failure.  Holds no lock itself: the caller holds
# /tmp/funnel-pgNN.lock (the installs go to the shared install directory).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"
sharedir=$($PG_CONFIG --sharedir)/extension
db=funnel_citus_upgrade
owner=funnel_cu_owner
work=$(mktemp -d)
[ "$(id -u)" = 0 ] && chmod 755 "$work"

fail() { echo "not ok - $1"; echo "#   have: $2"; echo "#   want: $3"; exit 1; }
is() { [ "$2" = "$3" ] || fail "$1" "$2" "$3"; echo "# ok: $1"; }
# like NAME ACTUAL PATTERN (shell glob)
like() { case "$2" in $3) echo "# ok: $1" ;; *) fail "$1" "$2" "$3" ;; esac; }
node() { port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$port" -U postgres -d $db "$@"; }
# statements on the coordinator, each in its own transaction (the workers'
# connections see a table distributed, a pipeline changed, once committed)
coord() { printf '%s\n' "$1" | node "$COORD_PORT" 2>&1 | sed "/^$/d"; }
# as the NOSUPERUSER owner of the deals table, on the coordinator
owner_sql() { printf '%s\n' "$1" | psql -X -q -At -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$COORD_PORT" -U $owner -d $db 2>&1 | sed "/^$/d"; }

dropall() {
    for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
        psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $owner" >/dev/null 2>&1
    done
}
cleanup() {
    $sudo make -s -C "$top" install PG_CONFIG="$PG_CONFIG" >/dev/null ||
        echo "not ok - citus upgrade: could not reinstall $top"
    $sudo rm -f "$sharedir/funnel--0.1.sql"
    dropall
    rm -rf "$work"
}
trap cleanup EXIT
dropall

# 1. v0.1 (as test/upgrade/run.sh finds it), built without this run's flags
mkdir "$work/v0.1"
if git -C "$top" rev-parse -q --verify 'v0.1^{commit}' >/dev/null 2>&1; then
    git -C "$top" archive v0.1 | tar -C "$work/v0.1" -xf -
elif git -C "$top" rev-parse -q --verify 'c59dc72^{commit}' >/dev/null 2>&1; then
    git -C "$top" archive c59dc72 | tar -C "$work/v0.1" -xf -
elif [ -f "$top/test/upgrade/v0.1.tar" ]; then
    tar -C "$work/v0.1" -xf "$top/test/upgrade/v0.1.tar"
else
    fail "v0.1 source" "neither tag v0.1 nor commit c59dc72 nor test/upgrade/v0.1.tar" "one of them"
fi
env -u PG_CFLAGS make -s -C "$work/v0.1" PG_CONFIG="$PG_CONFIG" >"$work/build.log" 2>&1 ||
    fail "v0.1 builds" "$(tail -5 "$work/build.log")" "a build"
$sudo env -u PG_CFLAGS make -s -C "$work/v0.1" install PG_CONFIG="$PG_CONFIG" >/dev/null ||
    fail "v0.1 installs" "make install failed" "an install"

for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    psql -X -q -h "$CITUS_HOST" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null &&
        node "$port" -c 'CREATE EXTENSION citus' ||
        fail "set-up on port $port" "error" "database with citus"
done
coord "SELECT citus_set_coordinator_host('$CITUS_HOST', $COORD_PORT);
       SELECT citus_add_node('$CITUS_HOST', $WORKER1_PORT);
       SELECT citus_add_node('$CITUS_HOST', $WORKER2_PORT)" >/dev/null
out=$(coord "CREATE EXTENSION funnel VERSION '0.1'")
is "CREATE EXTENSION funnel VERSION '0.1'" "$out" ""
out=$(for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
          node "$port" -c "SELECT extversion FROM pg_extension WHERE extname = 'funnel'" 2>&1
      done | tr '\n' ',')
is "0.1 created on every node" "$out" "0.1,0.1,0.1,"

# 2. 0.1's pipelines and rules (as superuser: 0.1 had no pipeline owners),
# the NOSUPERUSER table owner's tracked distributed table, the Maven history
out=$(coord "SET client_min_messages = warning;
    SELECT funnel.create_pipeline('cu_sales', ARRAY['lead', 'qualified', 'proposal'], ARRAY[0.1, 0.3, 0.6]);
    SELECT funnel.set_stale_after('cu_sales', 'qualified', '14 days');
    SELECT funnel.allow_transition('cu_sales', 'lost', 'lead');
    SELECT funnel.require_fields('cu_sales', 'won', ARRAY['amount']);
    SELECT funnel.create_pipeline('maven_citus', ARRAY['Prospecting', 'Engaging'], ARRAY[0.1, 0.4],
                                  won => ARRAY['Won'], lost => ARRAY['Lost']);
    CREATE ROLE $owner NOSUPERUSER LOGIN;
    GRANT CREATE ON SCHEMA public TO $owner;
    GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text) TO $owner")
is "0.1: pipelines, rules and the owner role" "$out" ""
is "0.1: pipelines on every node" "$(coord 'SELECT count(*) FROM funnel.check_pipeline_nodes()')" "0"
out=$(owner_sql "CREATE TABLE cu_deals (id bigint PRIMARY KEY, stage funnel.deal_stage(cu_sales) NOT NULL,
                                        changed timestamptz, amount numeric);
    SELECT create_distributed_table('cu_deals', 'id', shard_count => 4);
    INSERT INTO cu_deals SELECT g, 'lead', '2024-01-01', g * 10 FROM generate_series(1, 20) g;
    SELECT funnel.track('cu_deals', 'cu_sales', changed_at_column => 'changed')" | tail -1)
is "0.1: the NOSUPERUSER owner tracks its distributed table" "$out" "cu_deals_stage_history"
out=$(owner_sql "UPDATE cu_deals SET stage = 'qualified', changed = '2024-01-02' WHERE id <= 12;
    UPDATE cu_deals SET stage = 'proposal', changed = '2024-01-03' WHERE id <= 8;
    UPDATE cu_deals SET stage = 'won', changed = '2024-01-04' WHERE id <= 3;
    UPDATE cu_deals SET stage = 'lost', changed = '2024-01-04' WHERE id = 20;
    UPDATE cu_deals SET stage = 'lead', changed = '2024-01-05' WHERE id = 20;
    SELECT count(*) FROM cu_deals_stage_history")
# 20 entries, 12 to qualified, 8 to proposal, 3 won, 20 lost then lead again
is "0.1: moves write the history" "$out" "45"
# and one without an effective-time column (0.1 gave its triggers '' there)
out=$(owner_sql "CREATE TABLE cu_plain (id bigint PRIMARY KEY, stage funnel.deal_stage(cu_sales) NOT NULL, amount numeric);
    SELECT create_distributed_table('cu_plain', 'id', shard_count => 4);
    INSERT INTO cu_plain SELECT g, 'lead', g FROM generate_series(1, 4) g;
    SELECT funnel.track('cu_plain', 'cu_sales');
    UPDATE cu_plain SET stage = 'qualified' WHERE id = 1;
    SELECT string_agg(deal_id || ':' || stage::text, ' ' ORDER BY deal_id, entered_at) FROM cu_plain_stage_history")
is "0.1: a table tracked without an effective-time column" "$out" \
   "$(printf '%s\n%s' cu_plain_stage_history '1:cu_sales:lead 1:cu_sales:qualified 2:cu_sales:lead 3:cu_sales:lead 4:cu_sales:lead')"

# the history the moves above make, computed here: after=1 adds the moves
# made after the update (deals 9, 10, 11 to proposal on 2024-02-01, 9 won on
# 2024-02-02); "deal:stage:entered:left", as $history prints it
expected_history() {
    after=$1 out=""
    for g in $(seq 1 20); do
        v="$g:cu_sales:lead:2024-01-01:"
        if [ $g -le 12 ]; then
            v="${v}2024-01-02 $g:cu_sales:qualified:2024-01-02:"
            if [ $g -le 8 ]; then
                v="${v}2024-01-03 $g:cu_sales:proposal:2024-01-03:"
                [ $g -le 3 ] && v="${v}2024-01-04 $g:cu_sales:won:2024-01-04:"
            elif [ "$after" = 1 ] && [ $g -le 11 ]; then
                v="${v}2024-02-01 $g:cu_sales:proposal:2024-02-01:"
                [ $g = 9 ] && v="${v}2024-02-02 $g:cu_sales:won:2024-02-02:"
            fi
        fi
        [ $g = 20 ] && v="${v}2024-01-04 $g:cu_sales:lost:2024-01-04:2024-01-05 $g:cu_sales:lead:2024-01-05:"
        out="$out${out:+ }$v"
    done
    echo "$out"
}
# the history, read through the coordinator (every shard)
history="SELECT string_agg(format('%s:%s:%s:%s', deal_id, stage::text, entered_at::date, left_at::date), ' '
                           ORDER BY deal_id, entered_at, funnel.position(stage))
           FROM cu_deals_stage_history"
is "0.1: the history of the moves" "$(owner_sql "$history")" "$(expected_history 0)"

# the Maven history in a distributed table and a local copy
(cd "$top" && node "$COORD_PORT" >/dev/null 2>"$work/maven.log" <<'SQL') || fail "0.1: the Maven history" "$(cat "$work/maven.log")" "loaded"
SET client_min_messages = warning;
\i test/citus/fixtures/maven_visits.sql
CREATE TABLE cu_visits (deal_id text NOT NULL, owner text NOT NULL, product text NOT NULL,
                        stage funnel.deal_stage(maven_citus) NOT NULL,
                        entered_at timestamptz NOT NULL, left_at timestamptz, amount numeric(12,2));
SELECT create_distributed_table('cu_visits', 'deal_id', shard_count => 8);
INSERT INTO cu_visits SELECT * FROM maven_visits;
CREATE TABLE cu_visits_local AS SELECT * FROM cu_visits;
SQL

# the aggregates, one line each, on table T (partial aggregation on the
# workers where the state has a SQL type, test/citus/aggregates.sql)
aggregates() {
    t=$1
    cat <<SQL
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';
SELECT 'win_rate ' || funnel.win_rate(stage) FROM $t WHERE left_at IS NULL;
SELECT 'summary ' || funnel.funnel(stage, amount, NULL::funnel.deal_stage)::text FROM $t WHERE left_at IS NULL;
SELECT 'by owner ' || string_agg(owner || '=' || s::text, ' ' ORDER BY owner)
  FROM (SELECT owner, funnel.funnel(stage) AS s FROM $t GROUP BY owner) x;
SELECT 'conversion ' || funnel.conversion_rate(stage, 'maven_citus:Prospecting', 'maven_citus:Won') FROM $t;
SELECT 'forecast ' || funnel.weighted_forecast(amount, stage) FROM $t WHERE left_at IS NULL;
SELECT 'furthest ' || string_agg(product || '=' || f::text, ' ' ORDER BY product)
  FROM (SELECT product, funnel.furthest(stage) AS f FROM $t GROUP BY product) x;
SELECT 'time ' || funnel.avg_time_in_stage(entered_at, left_at)::text || ' '
       || funnel.median_time_in_stage(entered_at, left_at)::text || ' '
       || funnel.time_in_stage_percentile_days(entered_at, left_at, 0.9)::text
  FROM $t WHERE left_at IS NOT NULL;
SELECT 'journeys ' || funnel.funnel(j)::text || ' ' || funnel.sales_velocity(j, a)::text
  FROM (SELECT deal_id, funnel.journey(stage, entered_at) AS j, max(amount) AS a FROM $t GROUP BY deal_id) x;
SELECT 'window ' || string_agg(n || '=' || c, ' ' ORDER BY n)
  FROM (SELECT n, count(*) AS c
          FROM (SELECT deal_id, funnel.window_funnel('60 days', entered_at,
                                                     stage = 'maven_citus:Engaging', stage = 'maven_citus:Won') AS n
                  FROM $t GROUP BY deal_id) y GROUP BY n) x;
SELECT 'min max ' || min(stage)::text || ' ' || max(stage)::text FROM $t;
SQL
}
aggregates cu_visits | node "$COORD_PORT" >"$work/aggregates-0.1" 2>&1 ||
    fail "0.1: the aggregates" "$(cat "$work/aggregates-0.1")" "answers"
is "0.1: ten aggregate answers" "$(grep -c . "$work/aggregates-0.1")" "10"
is "0.1: distributed win_rate = 4238 / 6711 from the CSV" "$(sed -n 1p "$work/aggregates-0.1")" \
   "win_rate $(node "$COORD_PORT" -c 'SELECT 4238::numeric / 6711')"

# 3. the package upgrade on every node (the shared install), then the
# update on the coordinator
$sudo make -s -C "$top" install PG_CONFIG="$PG_CONFIG" >/dev/null || fail "install this tree" "error" "installed"
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$top/funnel.control")
# all nodes or none: an update that fails on worker 2 (a schema of the
# name 0.2 creates is already there) leaves every node at 0.1
versions() {
    for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
        node "$port" -c "SELECT extversion FROM pg_extension WHERE extname = 'funnel'" 2>&1
    done | tr '\n' ','
}
node "$WORKER2_PORT" -c 'SET citus.enable_ddl_propagation = off' -c 'CREATE SCHEMA funnel_internal' >/dev/null
out=$(coord "ALTER EXTENSION funnel UPDATE")
like "the update failing on worker 2 fails on the coordinator" "$out" '*ERROR:*funnel_internal*already exists*'
is "... and leaves every node at 0.1" "$(versions)" "0.1,0.1,0.1,"
node "$WORKER2_PORT" -c 'SET citus.enable_ddl_propagation = off' -c 'DROP SCHEMA funnel_internal' >/dev/null
out=$(coord "ALTER EXTENSION funnel UPDATE")
is "ALTER EXTENSION funnel UPDATE on the coordinator" "$out" ""

# 4. every node's version
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "extension version on port $port" \
       "$(node "$port" -c "SELECT extversion FROM pg_extension WHERE extname = 'funnel'" 2>&1)" "$version"
done
out=$(coord "SELECT string_agg(format('%s %s %s %s', node, pipeline, stage, difference), '; ')
               FROM funnel.check_pipeline_nodes()")
is "check_pipeline_nodes() finds no difference after the update" "$out" ""

# the tracking triggers 0.1 made on the distributed table, its shards and
# the workers' copies of it: as 0.2's track() makes them (a table tracked
# now, its name put in place of the other's), none left in 0.1's form
triggers="SELECT string_agg(replace(replace(pg_get_triggerdef(t.oid), h, 'H'), c.relname, 'T'), ' | '
                          ORDER BY t.tgname)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid, (VALUES ('%s')) v(h)
           WHERE c.relname = '%s' AND NOT t.tgisinternal"
out=$(owner_sql "CREATE TABLE cu_fresh (id bigint PRIMARY KEY, stage funnel.deal_stage(cu_sales) NOT NULL,
                                        changed timestamptz, amount numeric);
    SELECT create_distributed_table('cu_fresh', 'id', shard_count => 4);
    SELECT funnel.track('cu_fresh', 'cu_sales', changed_at_column => 'changed')")
is "a table tracked after the update" "$out" "cu_fresh_stage_history"
fresh=$(coord "$(printf "$triggers" cu_fresh_stage_history cu_fresh)")
like "its triggers carry name=value arguments" "$fresh" "*'deals=public.T', 'history=public.H'*"
is "the triggers 0.1 made are as 0.2's track() makes them" \
   "$(coord "$(printf "$triggers" cu_deals_stage_history cu_deals)")" "$fresh"
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "no trigger left with 0.1's arguments on port $port" \
       "$(node "$port" -c "SELECT count(*) FROM pg_trigger WHERE tgnargs = 8 AND position('\\x3d'::bytea IN tgargs) = 0
                              AND tgfoid::regproc::text LIKE 'funnel_internal.track_%'" 2>&1)" "0"
done

# the histories 0.1 made: REPLICA IDENTITY FULL as 0.2's track() makes
# them (Citus's online shard moves replay the UPDATE that closes a visit),
# the distributed table and every shard of it on every node
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "replica identity of the histories and their shards on port $port" \
       "$(node "$port" -c "SET citus.override_table_visibility = off;
            SELECT string_agg(DISTINCT regexp_replace(relname, '_[0-9]+\$', '_N') || ' ' || relreplident::text, ', ')
              FROM pg_class WHERE relname ~ '^cu_(deals|fresh)_stage_history' AND relkind = 'r'" 2>&1)" \
       "$(node "$port" -c "SET citus.override_table_visibility = off;
            SELECT string_agg(DISTINCT regexp_replace(relname, '_[0-9]+\$', '_N') || ' f', ', ')
              FROM pg_class WHERE relname ~ '^cu_(deals|fresh)_stage_history' AND relkind = 'r'" 2>&1)"
done

# moves by the NOSUPERUSER owner: validated and recorded on the workers' shards
out=$(owner_sql "UPDATE cu_deals SET stage = 'proposal', changed = '2024-02-01' WHERE id IN (9, 10, 11);
                 UPDATE cu_deals SET stage = 'won', changed = '2024-02-02' WHERE id = 9")
is "moves after the update" "$out" ""
out=$(owner_sql "UPDATE cu_deals SET stage = 'won', amount = NULL, changed = '2024-02-03' WHERE id = 10")
case "$out" in
    *'"amount"'*) echo "# ok: required fields still refused on the shards after the update" ;;
    *) fail "a move to won without amount after the update" "$out" "an error naming amount" ;;
esac
out=$(owner_sql "UPDATE cu_deals SET stage = 'lead', changed = '2024-02-03' WHERE id = 4")
case "$out" in
    *ERROR*) echo "# ok: a backward move still refused after the update" ;;
    *) fail "a backward move after the update" "$out" "an error" ;;
esac
# the history: 0.1's rows kept (deals 9, 10 and 11 left qualified on
# 2024-02-01), the visits entered since, written on the workers' shards
is "the history: 0.1's rows kept, the moves after the update recorded" \
   "$(owner_sql "$history")" "$(expected_history 1)"
shard_rows=0
for port in "$WORKER1_PORT" "$WORKER2_PORT"; do
    n=$(node "$port" 2>&1 <<'SQL'
SET citus.override_table_visibility = off;
SELECT format('SELECT count(*) FROM %s WHERE entered_at >= ''2024-02-01''', c.oid::regclass)
  FROM pg_class c WHERE c.relname ~ '^cu_deals_stage_history_[0-9]+$' AND c.relkind = 'r' \gexec
SQL
    ) || fail "the history shards on port $port" "$n" "counts"
    echo "# history shards on port $port, visits since the update per shard: $(echo $n)"
    [ "$(echo "$n" | grep -c .)" -ge 1 ] || fail "history shards on port $port" "none" "at least one"
    shard_rows=$((shard_rows + $(echo "$n" | awk '{ s += $1 } END { print s + 0 }')))
done
is "the workers' history shards hold the 4 visits entered after the update" "$shard_rows" "4"

# the aggregates: as 0.1 answered, and as on a local table
aggregates cu_visits | node "$COORD_PORT" >"$work/aggregates-$version" 2>&1
is "the distributed aggregates answer as under 0.1" "$(cat "$work/aggregates-$version")" "$(cat "$work/aggregates-0.1")"
aggregates cu_visits_local | node "$COORD_PORT" >"$work/aggregates-local" 2>&1
is "the distributed aggregates answer as on a local table" "$(cat "$work/aggregates-$version")" "$(cat "$work/aggregates-local")"

out=$(owner_sql "UPDATE cu_plain SET stage = 'proposal' WHERE id IN (1, 2);
                 SELECT string_agg(deal_id || ':' || stage::text || ':' || (left_at IS NULL)::text, ' ' ORDER BY deal_id, entered_at)
                   FROM cu_plain_stage_history WHERE deal_id <= 2")
is "moves after the update on the table tracked without an effective-time column" "$out" \
   "1:cu_sales:lead:false 1:cu_sales:qualified:false 1:cu_sales:proposal:true 2:cu_sales:lead:false 2:cu_sales:proposal:true"

# pipeline changes after the update reach every node
out=$(coord "SET client_min_messages = warning;
    SELECT funnel.add_stage('cu_sales', 'demo', 0.45, after => 'qualified');
    SELECT funnel.set_probability('cu_sales', 'proposal', 0.7);
    SELECT funnel.create_pipeline('cu_new', ARRAY['a', 'b'], ARRAY[0.25, 0.5]);
    SELECT funnel.allow_transition('cu_new', 'b', 'a');
    SELECT funnel.require_fields('cu_sales', 'demo', ARRAY['amount'])" 2>&1 | grep -v '^$' | tr '\n' ' ')
is "pipeline changes after the update" "$out" ""
is "pipeline changes after the update: check_pipeline_nodes() empty" \
   "$(coord 'SELECT count(*) FROM funnel.check_pipeline_nodes()')" "0"
probe="SELECT string_agg(format('%s|%s|%s|%s', s, funnel.position(s), funnel.probability(s), funnel.kind(s)), ','
                         ORDER BY funnel.pipeline_of(s), funnel.position(s))
       || ' / ' || (SELECT string_agg(format('%s:%s>%s', pipeline, from_stage, to_stage), ',' ORDER BY pipeline, from_stage)
                      FROM funnel.allowed_transition)
       || ' / ' || (SELECT string_agg(format('%s:%s=%s', pipeline, stage, fields), ',' ORDER BY pipeline, stage)
                      FROM funnel.required_field)
  FROM (SELECT (pipeline || ':' || stage)::funnel.deal_stage AS s FROM funnel.stages WHERE pipeline LIKE 'cu_%') x"
want="cu_new:a|1|0.25|open,cu_new:b|2|0.5|open,cu_new:won|3|1|won,cu_new:lost|4|0|lost,cu_sales:lead|1|0.1|open,cu_sales:qualified|2|0.3|open,cu_sales:demo|3|0.45|open,cu_sales:proposal|4|0.7|open,cu_sales:won|5|1|won,cu_sales:lost|6|0|lost / cu_new:b>a,cu_sales:lost>lead / cu_sales:demo={amount},cu_sales:won={amount}"
for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    is "pipelines, moves and required fields on port $port after the changes" "$(node "$port" -c "$probe" 2>&1)" "$want"
done
out=$(owner_sql "UPDATE cu_deals SET stage = 'demo', changed = '2024-03-01' WHERE id = 12")
case "$out" in
    *'"amount"'*) fail "a move to the stage added after the update" "$out" "accepted (deal 12 has an amount)" ;;
    '') echo "# ok: a move into the stage added after the update" ;;
    *) fail "a move to the stage added after the update" "$out" "accepted" ;;
esac
is "its history row, on the shard" \
   "$(owner_sql "SELECT string_agg(stage::text, ',' ORDER BY entered_at) FROM cu_deals_stage_history WHERE deal_id = 12")" \
   "cu_sales:lead,cu_sales:qualified,cu_sales:demo"

# an online shard move (logical replication: the histories need their
# replica identity) of the shard holding deal 5 and its history, then a move
# of deal 5 there: Citus made the new shard's triggers from the updated ones
from=$(coord "SELECT nodeport FROM pg_dist_shard_placement
               WHERE shardid = get_shard_id_for_distribution_column('cu_deals', 5)")
to=$WORKER1_PORT
[ "$from" = "$WORKER1_PORT" ] && to=$WORKER2_PORT
out=$(coord "SELECT citus_move_shard_placement(get_shard_id_for_distribution_column('cu_deals', 5),
                                               '$CITUS_HOST', $from, '$CITUS_HOST', $to)")
is "an online move of deal 5's shard from port $from to port $to" "$out" ""
out=$(owner_sql "UPDATE cu_deals SET stage = 'won', changed = '2024-04-01' WHERE id = 5;
                 SELECT string_agg(stage::text || ':' || entered_at::date || ':' || coalesce(left_at::date::text, ''), ' '
                                   ORDER BY entered_at)
                   FROM cu_deals_stage_history WHERE deal_id = 5")
is "a move on the moved shard, recorded in its history" "$out" \
   "cu_sales:lead:2024-01-01:2024-01-02 cu_sales:qualified:2024-01-02:2024-01-03 cu_sales:proposal:2024-01-03:2024-04-01 cu_sales:won:2024-04-01:"
exit 0
