#!/bin/sh
# test/citus/cluster.sh: a throw-away Citus cluster on loopback for the
# funnel Citus tests: a coordinator and two workers, each a PostgreSQL
# instance with shared_preload_libraries = citus, trust authentication on
# 127.0.0.1 only, sockets and data in one directory, wal_level = logical
# (Citus moves shards online by logical replication).
#
#   test/citus/cluster.sh start DIR [BASEPORT]   create and start; prints
#       the ports as "coordinator=P worker1=P worker2=P" and writes DIR/env
#       (COORD_PORT, WORKER1_PORT, WORKER2_PORT, CITUS_HOST) for sourcing
#   test/citus/cluster.sh add DIR NAME            create and start one more
#       node NAME (not added to Citus) in a started cluster; prints its port
#   test/citus/cluster.sh stop DIR                stop all nodes, remove DIR
#   test/citus/cluster.sh available               exit 0 if Citus is installed
#
# Runs initdb and pg_ctl as the postgres OS user when called as root
# (PostgreSQL refuses to run as root).  Needs PG_CONFIG or pg_config on PATH
# of the major under test.  funnel itself is created by the caller, on the
# coordinator after the workers are added, so Citus propagates it.
set -eu
PG_CONFIG=${PG_CONFIG:-pg_config}
BINDIR=$($PG_CONFIG --bindir)
PKGLIBDIR=$($PG_CONFIG --pkglibdir)

as_owner()
{
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# first free TCP port at or after $1
free_port()
{
    p=$1
    while ss -Hltn "sport = :$p" | grep -q .; do
        p=$((p + 1))
    done
    echo $p
}

start()
{
    dir=$1
    base=${2:-$((20000 + $$ % 20000))}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    ports=""
    port=$base
    for node in coordinator worker1 worker2; do
        port=$(free_port "$port")
        node_start "$dir" "$node" "$port"
        ports="$ports $node=$port"
        eval "$(echo "$node" | tr a-z A-Z)_PORT=$port"
        port=$((port + 1))
    done
    cat >"$dir/env" <<EOF
CITUS_HOST=127.0.0.1
COORD_PORT=$COORDINATOR_PORT
WORKER1_PORT=$WORKER1_PORT
WORKER2_PORT=$WORKER2_PORT
EOF
    echo $ports
}

# initdb and start one node: node_start DIR NAME PORT
node_start()
{
    dir=$1 node=$2 port=$3
    as_owner "$BINDIR/initdb" -D "$dir/$node" -A trust -U postgres \
        --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/$node.initdb.log" 2>&1
    cat >>"$dir/$node/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
max_connections = 100
max_worker_processes = 16
max_locks_per_transaction = 256
fsync = off
wal_level = logical
citus.enable_statistics_collection = off
EOF
    as_owner "$BINDIR/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null
}

add()
{
    dir=$1 name=$2
    . "$dir/env"
    port=$(free_port $((WORKER2_PORT + 1)))
    node_start "$dir" "$name" "$port"
    echo "$port"
}

stop()
{
    dir=$1
    [ -d "$dir" ] || return 0
    for conf in "$dir"/*/postgresql.conf; do
        node=$(basename "$(dirname "$conf")")
        [ -d "$dir/$node" ] && as_owner "$BINDIR/pg_ctl" -D "$dir/$node" -m immediate -w stop >/dev/null 2>&1 || true
    done
    rm -rf "$dir"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    add) shift; add "$@" ;;
    stop) shift; stop "$@" ;;
    available) [ -f "$PKGLIBDIR/citus.so" ] ;;
    *) echo "usage: $0 start DIR [BASEPORT] | add DIR NAME | stop DIR | available" >&2; exit 2 ;;
esac
