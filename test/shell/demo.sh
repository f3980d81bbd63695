#!/bin/sh
# test/shell/demo.sh: the tour that `make demo` prints runs from start to end
# without a single error line (a psql meta-command error does not stop
# ON_ERROR_STOP, so the output is searched too), and writes its SVG chart.
# Runs in a scratch directory so that doc/funnel.svg of the checkout stays.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
db=funnel_demo_test
trap 'rm -rf "$work"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
ln -s "$top/data" "$work/data"
mkdir "$work/doc"
chmod -R a+rX "$work"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
status=0
(cd "$work" && psql -X -q -v ON_ERROR_STOP=1 -d $db -f "$top/demo/demo.sql") >"$work/out" 2>&1 || status=$?
if [ $status -ne 0 ] || grep -nE '^psql:|ERROR:|FATAL:|PANIC:' "$work/out"; then
    echo "demo: FAIL: exit status $status, or error lines above"
    tail -20 "$work/out"
    exit 1
fi
if ! grep -q '</svg>' "$work/doc/funnel.svg"; then
    echo "demo: FAIL: doc/funnel.svg was not written"
    exit 1
fi
echo "ok: the demo runs without an error line ($(wc -l <"$work/out") lines of output) and writes doc/funnel.svg"
