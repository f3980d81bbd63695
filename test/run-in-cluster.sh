#!/bin/sh
# test/run-in-cluster.sh: the body of test/run-tests.sh, run by pg_virtualenv
# with PGHOST, PGPORT, PGUSER and PGPASSWORD set for a fresh cluster.
# Counts individual tests: pg_regress files, pgTAP assertions, shell scripts.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0
failures=""

add() { passed=$((passed + $1)); failed=$((failed + $2)); [ "$2" -eq 0 ] || failures="$failures $3"; }

# pg_regress: one test per file in REGRESS
make -s installcheck PG_CONFIG="${PG_CONFIG:-pg_config}" >"$log" 2>&1
status=$?
cat "$log"
[ $status -ne 0 ] && [ -f regression.diffs ] && cat regression.diffs
ok=$(grep -cE '^(ok|test) .* \.\.\. ok|^ok [0-9]+ ' "$log")
bad=$(grep -cE '\.\.\. FAILED|^not ok ' "$log")
[ $status -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
add "$ok" "$bad" "pg_regress"

# pgTAP: one test per assertion
psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS funnel_tap' -c 'CREATE DATABASE funnel_tap' >/dev/null
psql -X -q -d funnel_tap -c 'CREATE EXTENSION pgtap' >/dev/null
if ls test/pgtap/*.sql >/dev/null 2>&1; then
    pg_prove -d funnel_tap --failures test/pgtap/*.sql >"$log" 2>&1
    status=$?
    cat "$log"
    total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log")
    bad=$(sed -n 's/.*Failed: \([0-9]*\)).*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
    [ $status -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
    add $(( ${total:-0} - bad )) "$bad" "pgTAP"
fi

# driver tests (test/drivers/run.sh): one test per TAP line
test/drivers/run.sh >"$log" 2>&1
status=$?
cat "$log"
ok=$(grep -c '^ok ' "$log")
bad=$(grep -c '^not ok ' "$log")
[ $status -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
add "$ok" "$bad" "drivers"

# the Debian package: test/run-tests.sh ran test/deb/run.sh before this
# cluster existed (its installcheck makes a cluster of its own); one test per
# TAP line of its log
if [ -n "${FUNNEL_DEB_LOG:-}" ]; then
    cat "$FUNNEL_DEB_LOG"
    ok=$(grep -c '^ok ' "$FUNNEL_DEB_LOG")
    bad=$(grep -c '^not ok ' "$FUNNEL_DEB_LOG")
    grep -q '^1\.\.[0-9]' "$FUNNEL_DEB_LOG" || bad=$((bad + 1))
    add "$ok" "$bad" "deb"
    rm -f "$FUNNEL_DEB_LOG"
fi

# Citus (test/citus/run.sh, its own 3-node cluster; skipped without Citus):
# one test per TAP line
# ("not ok ... # TODO" lines are expected failures: pg_prove passes them)
test/citus/run.sh >"$log" 2>&1
status=$?
cat "$log"
ok=$(grep -c '^ok ' "$log")
bad=$(grep '^not ok ' "$log" | grep -vc '# TODO')
[ $status -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
add "$ok" "$bad" "citus"

# the update from 0.1 (test/upgrade/run.sh: installs v0.1 over the shared
# install, updates, compares, reinstalls this tree): one test per TAP line
test/upgrade/run.sh >"$log" 2>&1
status=$?
cat "$log"
ok=$(grep -c '^ok ' "$log")
bad=$(grep -c '^not ok ' "$log")
[ $status -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
add "$ok" "$bad" "upgrade"

# shell tests: one test per script
for t in test/shell/*.sh; do
    [ -e "$t" ] || continue
    echo "--- $t"
    if sh "$t"; then add 1 0 ""; else add 0 1 "$t"; fi
done

echo
[ $failed -ne 0 ] && echo "failed in:$failures"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
