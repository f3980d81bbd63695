#!/bin/sh
# bench/run-bench.sh: every benchmark, in one throw-away cluster, so the
# figures of a run are measured side by side on the same machine.
# bench/citus_bench.sh starts its own Citus cluster and is run by hand.
set -eu
PG_MAJOR=${1:-15}
cd "$(dirname "$0")/.."
exec pg_virtualenv -v "$PG_MAJOR" -o 'shared_buffers=1GB' -o 'max_wal_size=4GB' \
    -o 'max_worker_processes=16' -o 'max_parallel_workers=8' \
    sh -c 'for b in bench/*_bench.sh; do [ "$b" = bench/citus_bench.sh ] && continue; echo "=== $b"; sh "$b" || exit 1; done'
