#!/bin/sh
# test/drivers/run.sh: the driver tests, run by test/run-in-cluster.sh with
# PGHOST etc. set.  Each driver -- psycopg2, psycopg 3 (Debian python3-psycopg2
# and python3-psycopg, run with /usr/bin/python3, not a pyenv python),
# SQLAlchemy 1.4 (Debian python3-sqlalchemy, over psycopg2: the ORM, and
# reflection of the BI views),
# node-postgres and the Drizzle ORM (npm packages pg and drizzle-orm, installed
# here from package-lock.json into test/drivers/node/node_modules) and the JDBC driver (Debian
# libpostgresql-jdbc-java, compiled with javac) -- runs against a fresh
# database made from setup.sql and prints TAP lines; the caller counts each
# "ok" and "not ok" line as one test.  A driver that stops early counts as a
# failure.  The drivers are installed on the host only, so on a server other
# than PostgreSQL 15 (the PG 17/18 chroots) the driver tests are skipped.
set -u
cd "$(dirname "$0")"
major=$(psql -X -At -d postgres -c 'SHOW server_version_num' | cut -c1-2)
if [ "$major" != 15 ]; then
    echo "# driver tests skipped: they run on the host's PostgreSQL 15 only (server is $major)"
    exit 0
fi
export PYTHONDONTWRITEBYTECODE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# run NAME COMMAND...: a fresh fixture database, then the driver's TAP
run() {
    name=$1
    shift
    echo "# $name"
    if ! { psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS funnel_drivers' \
                -c 'CREATE DATABASE funnel_drivers' &&
           PGDATABASE=funnel_drivers psql -X -q -v ON_ERROR_STOP=1 -f setup.sql >/dev/null; }; then
        echo "not ok - $name: could not create the fixture database"
        status=1
        return
    fi
    PGDATABASE=funnel_drivers "$@" >"$work/out" 2>&1
    rc=$?
    cat "$work/out"
    if [ $rc -ne 0 ]; then
        status=1
        grep -q '^not ok ' "$work/out" || echo "not ok - $name: exited with status $rc"
    fi
}

run psycopg2 /usr/bin/python3 python/psycopg2_test.py
run psycopg3 /usr/bin/python3 python/psycopg3_test.py
run sqlalchemy /usr/bin/python3 python/sqlalchemy_test.py
run sqlalchemy-views /usr/bin/python3 python/sqlalchemy_views_test.py

# node-postgres: installed from the committed package-lock.json on first use
if [ ! -f node/node_modules/pg/package.json ] || [ ! -f node/node_modules/drizzle-orm/package.json ]; then
    (cd node && npm ci --no-audit --no-fund --loglevel=error) || echo "# npm ci failed"
fi
run node-postgres sh -c 'cd node && exec node test.js'
run drizzle sh -c 'cd node && exec node drizzle_test.js'

# JDBC: binary transfer of funnel's own types is enabled by OID
jar=/usr/share/java/postgresql.jar
if javac -cp "$jar" -d "$work" java/FunnelJdbcTest.java; then
    run jdbc sh -c "exec java -cp '$jar:$work' FunnelJdbcTest \
        \$(psql -X -At -c \"SELECT 'funnel.deal_stage'::regtype::oid\") \
        \$(psql -X -At -c \"SELECT 'funnel.funnel_summary'::regtype::oid\")"
else
    echo "not ok - jdbc: FunnelJdbcTest.java does not compile"
    status=1
fi
# JDBC metadata of the report columns and the BI views
if javac -cp "$jar" -d "$work" java/FunnelBiJdbcTest.java; then
    run jdbc-bi sh -c "exec java -cp '$jar:$work' FunnelBiJdbcTest"
else
    echo "not ok - jdbc-bi: FunnelBiJdbcTest.java does not compile"
    status=1
fi
exit $status
