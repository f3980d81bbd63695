#!/bin/sh
# test/fuzz/fuzz-in-cluster.sh: the body of test/fuzz/run-fuzz.sh, run by
# pg_virtualenv with PGHOST, PGPORT, PGUSER and PGPASSWORD set.
# Loads test/fuzz/fixture.sql and exclude.sql into database funnel_fuzz,
# runs sqlsmith as the superuser, then as role fuzz_owner, and after each
# run checks that no backend crashed (server log) and the server answers.
set -u
cd "$(dirname "$0")/../.."
QUERIES=${FUZZ_QUERIES:-20000}
SEED=${FUZZ_SEED:-1}
DB=funnel_fuzz
work=$(mktemp -d)
# FUZZ_KEEP=1 keeps the generated queries, sqlsmith's output and the log
if [ -n "${FUZZ_KEEP:-}" ]; then
    echo "fuzz: keeping queries and logs in $work"
else
    trap 'rm -rf "$work"' EXIT
fi
P="psql -X -q -v ON_ERROR_STOP=1 -d $DB"

# the cluster's server log, as pg_lsclusters reports it for our port
serverlog=$(pg_lsclusters -h | awk -v port="$PGPORT" '$3 == port { print $7 }')
[ -r "$serverlog" ] || { echo "fuzz: cannot read the server log ($serverlog)"; echo "0 passed, 1 failed"; exit 1; }

psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null
$P -f test/fuzz/fixture.sql >/dev/null && $P -f test/fuzz/exclude.sql >/dev/null || {
    echo "fuzz: fixture failed"; echo "0 passed, 1 failed"; exit 1; }
password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
$P -c "ALTER ROLE fuzz_owner PASSWORD '$password'"
funcs=$($P -At -c "SELECT count(*) FILTER (WHERE pronamespace = 'funnel'::regnamespace) || ' funnel, ' || count(*) || ' in all' FROM fuzz_catalog.pg_proc")
echo "fuzz: PostgreSQL $(psql -X -At -d $DB -c 'SHOW server_version'), $QUERIES queries, seed $SEED; superuser may call $funcs functions"

crashes=0
total=0
elapsed=0
# fuzz NAME SEED N CONNSTR: one sqlsmith run, then the crash checks
fuzz()
{
    name=$1 seed=$2 n=$3 target=$4
    before=$(wc -l <"$serverlog")
    start=$(date +%s)
    sqlsmith --target="$target" --seed="$seed" --max-queries="$n" --verbose \
        --dump-all-queries >"$work/$name.sql" 2>"$work/$name.err"
    status=$?
    secs=$(($(date +%s) - start))
    [ "$secs" -gt 0 ] || secs=1
    tail -n +"$((before + 1))" "$serverlog" >"$work/$name.log"
    total=$((total + n))
    elapsed=$((elapsed + secs))
    errors=$(grep -c 'ERROR:' "$work/$name.log")
    echo "fuzz: $name: $n queries in $secs s ($((n / secs)) queries/s, $errors ended in an error), sqlsmith exit $status"
    if grep -qE 'terminated by signal|terminated by exception|server process \(PID [0-9]+\) exited with exit code|PANIC:|TRAP:|terminating any other active server processes' "$work/$name.log"; then
        crashes=$((crashes + 1))
        echo "fuzz: $name: BACKEND CRASH; server log:"
        grep -E -A3 'terminated by signal|terminated by exception|exited with exit code|PANIC:|TRAP:' "$work/$name.log"
        echo "fuzz: $name: last queries sqlsmith sent (seed $seed):"
        tail -n 40 "$work/$name.sql"
    fi
    if ! psql -X -q -At -d $DB -c 'SELECT 1' >/dev/null 2>&1; then
        crashes=$((crashes + 1))
        echo "fuzz: $name: the server does not answer after the run"
    fi
    if [ $status -ne 0 ]; then
        crashes=$((crashes + 1))
        echo "fuzz: $name: sqlsmith failed:"
        tail -n 20 "$work/$name.err"
    fi
}

half=$((QUERIES / 2))
fuzz superuser "$SEED" "$half" "dbname=$DB"
fuzz fuzz_owner "$((SEED + 1))" "$((QUERIES - half))" "dbname=$DB user=fuzz_owner password=$password"

[ "$elapsed" -gt 0 ] || elapsed=1
echo "fuzz: $total queries in $elapsed s ($((total / elapsed)) queries/s), $crashes failure(s)"
if [ $crashes -eq 0 ]; then
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed"
    exit 1
fi
