#!/bin/sh
# test/run-in-cluster.sh: the body of test/run-tests.sh, run by pg_virtualenv
# with PGHOST, PGPORT, PGUSER and PGPASSWORD set for a fresh cluster.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
failures=""

record()
{
    if [ "$1" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok: $2"
    else
        failed=$((failed + 1))
        failures="$failures $2"
        echo "FAILED: $2"
    fi
}

# pg_regress
make -s installcheck PG_CONFIG="${PG_CONFIG:-pg_config}"
status=$?
if [ $status -ne 0 ] && [ -f regression.diffs ]; then
    cat regression.diffs
fi
record $status "pg_regress"

# pgTAP
psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS funnel_tap' -c 'CREATE DATABASE funnel_tap' >/dev/null
psql -X -q -d funnel_tap -c 'CREATE EXTENSION pgtap' >/dev/null
if ls test/pgtap/*.sql >/dev/null 2>&1; then
    pg_prove -d funnel_tap --failures test/pgtap/*.sql
    record $? "pgTAP (pg_prove)"
fi

# shell tests
for t in test/shell/*.sh; do
    [ -e "$t" ] || continue
    echo "--- $t"
    sh "$t"
    record $? "$t"
done

echo
if [ $failed -ne 0 ]; then
    echo "failed:$failures"
fi
echo "funnel test suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
