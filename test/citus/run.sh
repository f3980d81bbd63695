#!/bin/sh
# test/citus/run.sh: funnel on a Citus cluster (coordinator + 2 workers on
# loopback, test/citus/cluster.sh).  Skips, saying so, when Citus is not
# installed for this PostgreSQL.  Every test/citus/*.sql is a pgTAP file run
# on the coordinator (database funnel_citus, funnel and pgtap created after
# the workers joined, so Citus created them on every node); every
# test/citus/*.sh is run with CITUS_HOST, COORD_PORT, WORKER1_PORT,
# WORKER2_PORT and CITUS_DIR (the cluster, for test/citus/cluster.sh add)
# set and counts as one test.  Output is TAP-like: the caller counts
# "ok"/"not ok" lines.
set -u
cd "$(dirname "$0")/../.."
if ! test/citus/cluster.sh available; then
    echo "# citus: skipped, Citus is not installed for $(${PG_CONFIG:-pg_config} --version)"
    exit 0
fi
dir=$(mktemp -d /tmp/funnel-citus.XXXXXX)
trap 'test/citus/cluster.sh stop "$dir"' EXIT INT TERM
test/citus/cluster.sh start "$dir" >/dev/null || { echo "not ok - citus cluster did not start"; cat "$dir"/*.log; exit 1; }
. "$dir/env"
CITUS_DIR=$dir
export CITUS_HOST COORD_PORT WORKER1_PORT WORKER2_PORT CITUS_DIR
unset PGHOST PGPORT PGDATABASE PGPASSWORD PGOPTIONS
export PGUSER=postgres

# psql on one node: node_psql PORT [psql args]
node_psql() { port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$port" "$@"; }

for port in "$COORD_PORT" "$WORKER1_PORT" "$WORKER2_PORT"; do
    node_psql "$port" -d postgres -c 'CREATE DATABASE funnel_citus' &&
        node_psql "$port" -d funnel_citus -c 'CREATE EXTENSION citus' ||
        { echo "not ok - citus set-up on port $port"; exit 1; }
done
node_psql "$COORD_PORT" -d funnel_citus >/dev/null <<SQL || { echo "not ok - citus cluster set-up"; exit 1; }
SELECT citus_set_coordinator_host('$CITUS_HOST', $COORD_PORT);
SELECT citus_add_node('$CITUS_HOST', $WORKER1_PORT);
SELECT citus_add_node('$CITUS_HOST', $WORKER2_PORT);
CREATE EXTENSION pgtap;
CREATE EXTENSION funnel;
SQL

status=0
for t in test/citus/*.sql; do
    [ -e "$t" ] || continue
    echo "# $t"
    if ! PGHOST=$CITUS_HOST PGPORT=$COORD_PORT pg_prove -d funnel_citus --verbose "$t" >"$dir/prove.log" 2>&1; then
        status=1
        grep -q '^not ok' "$dir/prove.log" || echo "not ok - $t (died, see below)"
    fi
    cat "$dir/prove.log"
done
for t in test/citus/*.sh; do
    case "$t" in */cluster.sh|*/run.sh) continue ;; esac
    [ -e "$t" ] || continue
    if sh "$t"; then echo "ok - $t"; else echo "not ok - $t"; status=1; fi
done
exit $status
