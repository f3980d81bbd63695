#!/bin/sh
# demo/run-demo.sh: load sample data into a throw-away cluster and print a
# funnel report (run by make demo, after the extension is installed).
set -eu
PG_MAJOR=${1:-15}
cd "$(dirname "$0")/.."
exec pg_virtualenv -v "$PG_MAJOR" sh -c '
    createdb funnel_demo &&
    psql -X -q -v ON_ERROR_STOP=1 -d funnel_demo -f demo/demo.sql'
