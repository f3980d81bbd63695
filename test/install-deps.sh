#!/bin/sh
# test/install-deps.sh: install the Debian packages funnel needs to build,
# test, demo and benchmark, if any is missing.  Run as root (make uses sudo).
set -eu
PG_MAJOR=${1:-15}
PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-common
postgresql-$PG_MAJOR-pgtap libtap-parser-sourcehandler-pgtap-perl
postgresql-contrib build-essential librsvg2-bin libxml2-utils
debhelper lintian postgresql-server-dev-all"
# driver tests (test/drivers/run.sh, host PostgreSQL 15 only); npm only if no
# npm is on the PATH (nodesource's nodejs bundles one and conflicts with it)
if [ "$PG_MAJOR" = 15 ]; then
    PACKAGES="$PACKAGES python3-psycopg2 python3-psycopg python3-sqlalchemy libpostgresql-jdbc-java default-jdk-headless"
    command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
