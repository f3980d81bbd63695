#!/bin/sh
# test/run-tests.sh: run every test of funnel in a throw-away cluster.
#   pg_regress (make installcheck), pgTAP files (test/pgtap/*.sql, pg_prove)
#   and shell tests (test/shell/*.sh, each exits non-zero on failure).
# Expects the extension to be installed (make install).  Fails loudly.
set -eu
PG_MAJOR=${1:-15}
export PG_MAJOR
cd "$(dirname "$0")/.."

# the Debian package (test/deb/run.sh: build, lintian, install, pg_regress
# against the installed package in a cluster of its own, remove), first and
# outside the suite's cluster; needs root or passwordless sudo
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"
if [ -z "$sudo" ] || sudo -n true 2>/dev/null; then
    FUNNEL_DEB_LOG=$(mktemp)
    export FUNNEL_DEB_LOG
    $sudo test/deb/run.sh "$PG_MAJOR" >"$FUNNEL_DEB_LOG" 2>&1 || :   # counted by run-in-cluster.sh
else
    echo "test/deb/run.sh skipped: building and installing the package needs root or sudo"
fi

exec pg_virtualenv -v "$PG_MAJOR" -o 'max_worker_processes=16' \
    -o 'max_parallel_workers=8' -o 'max_locks_per_transaction=256' \
    test/run-in-cluster.sh
