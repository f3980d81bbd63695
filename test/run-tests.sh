#!/bin/sh
# test/run-tests.sh: run every test of funnel in a throw-away cluster.
#   pg_regress (make installcheck), pgTAP files (test/pgtap/*.sql, pg_prove)
#   and shell tests (test/shell/*.sh, each exits non-zero on failure).
# Expects the extension to be installed (make install).  Fails loudly.
set -eu
PG_MAJOR=${1:-15}
export PG_MAJOR
cd "$(dirname "$0")/.."
exec pg_virtualenv -v "$PG_MAJOR" -o 'max_worker_processes=16' \
    -o 'max_parallel_workers=8' -o 'max_locks_per_transaction=256' \
    test/run-in-cluster.sh
