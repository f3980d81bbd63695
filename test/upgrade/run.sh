#!/bin/sh
# test/upgrade/run.sh: the update from 0.1 to this tree's version, as users
# run it.  Runs in the suite's cluster (PGHOST, PGPORT, ... set by
# pg_virtualenv) with the current tree built (make).
#   1. builds v0.1 (git archive of tag v0.1, else of commit c59dc72, else
#      test/upgrade/v0.1.tar that test/chroot/run.sh leaves for a copy
#      without .git) and installs it over the shared install;
#   2. with 0.1's code: pipelines, a tracked table with history (fixture.sql),
#      every state type in columns (states.sql), their values printed
#      (values.sql);
#   3. installs this tree (its funnel.so replaces 0.1's, as a package upgrade
#      does) and runs ALTER EXTENSION funnel UPDATE;
#   4. checks (a) the schema of an updated database equals a fresh install's
#      (pg_dump -s --binary-upgrade, one block per object, sorted;
#      normalise.pl), printing the difference; (b) the stored values read
#      back as 0.1 printed them, and tracking goes on; (c) the table 0.1
#      tracked has the triggers a fresh track() makes; (d) the pg_regress
#      suite passes when each test's CREATE EXTENSION funnel makes 0.1 and
#      updates it (regress.sh).
# Always reinstalls this tree at the end; exits non-zero on any failure.
# Needs root or passwordless sudo (make install); holds no lock itself (the
# suite's caller holds /tmp/funnel-pgNN.lock).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"
work=$(mktemp -d)
sharedir=$($PG_CONFIG --sharedir)/extension
failed=0
fail() { echo "not ok - $*"; failed=1; }
reinstall()
{
    $sudo make -s -C "$top" install PG_CONFIG="$PG_CONFIG" >/dev/null
}
cleanup()
{
    reinstall || echo "upgrade: could not reinstall $top" >&2
    $sudo rm -f "$sharedir/funnel--0.1.sql"
    rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chmod 755 "$work"
q() { db=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }

# 1. v0.1
mkdir "$work/v0.1"
if git -C "$top" rev-parse -q --verify 'v0.1^{commit}' >/dev/null 2>&1; then
    git -C "$top" archive v0.1 | tar -C "$work/v0.1" -xf -
elif git -C "$top" rev-parse -q --verify 'c59dc72^{commit}' >/dev/null 2>&1; then
    git -C "$top" archive c59dc72 | tar -C "$work/v0.1" -xf -
elif [ -f "$here/v0.1.tar" ]; then
    tar -C "$work/v0.1" -xf "$here/v0.1.tar"
else
    echo "upgrade: FAIL: neither tag v0.1 nor commit c59dc72 is in this clone (git fetch --tags), and no test/upgrade/v0.1.tar" >&2
    exit 1
fi
# 0.1 as released: built without this run's warning flags
env -u PG_CFLAGS make -s -C "$work/v0.1" PG_CONFIG="$PG_CONFIG" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log"; echo "upgrade: FAIL: v0.1 does not build" >&2; exit 1; }
$sudo env -u PG_CFLAGS make -s -C "$work/v0.1" install PG_CONFIG="$PG_CONFIG" >/dev/null

# 2. 0.1's objects and values
for db in funnel_upgrade funnel_upgrade_bare funnel_fresh; do
    q postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
q funnel_upgrade -c "CREATE EXTENSION funnel VERSION '0.1'" -f "$here/fixture.sql" -f "$here/states.sql" >/dev/null
q funnel_upgrade_bare -c "CREATE EXTENSION funnel VERSION '0.1'"
q funnel_upgrade -f "$here/values.sql" >"$work/values-0.1"
# 0.1 on Citus made schema funnel_citus on first use, outside the extension:
# the update takes it in
q funnel_upgrade -c 'CREATE SCHEMA funnel_citus'
# and as the send functions write them (COPY BINARY), hashed
binvalues()
{
    for c in 'id, stage, other, path FROM crm.deals ORDER BY id' \
             'k, summary, journey, sample, forecast, velocity FROM crm.states ORDER BY k'; do
        psql -X -q -v ON_ERROR_STOP=1 -d funnel_upgrade -c "COPY (SELECT $c) TO STDOUT (FORMAT binary)" | md5sum
    done
}
binvalues >>"$work/values-0.1"

# 3. the package upgrade, then the update; funnel--0.1.sql stays installed
# for regress.sh, removed at the end
reinstall
# between the package upgrade and ALTER EXTENSION UPDATE, 0.1's triggers
# call into the new funnel.so: a move either works or fails with an error,
# never takes the backend down
status=0
between=$(q funnel_upgrade -c "BEGIN" -c "UPDATE crm.deals SET stage = 'demo' WHERE id = 3" \
    -c "SELECT count(*) FROM crm.deals_stage_history WHERE deal_id = 3" -c "ROLLBACK" 2>&1) || status=$?
if [ $status -le 1 ] || [ $status -eq 3 ]; then
    echo "ok - a move on 0.1's catalog with the new funnel.so, before the update: $(echo "$between" | tr '\n' ' ')"
else
    echo "not ok - a move before ALTER EXTENSION UPDATE lost the connection (psql status $status): $between"
    failed=1
fi
for db in funnel_upgrade funnel_upgrade_bare; do
    q "$db" -c 'ALTER EXTENSION funnel UPDATE' \
        || { echo "upgrade: FAIL: ALTER EXTENSION funnel UPDATE in $db" >&2; exit 1; }
done
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$top/funnel.control")
got=$(q funnel_upgrade -c "SELECT extversion FROM pg_extension WHERE extname = 'funnel'")
[ "$got" = "$version" ] || fail "updated to $got, expected $version"
got=$(q funnel_upgrade -c "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
                            WHERE e.extname = 'funnel' AND d.deptype = 'e'
                              AND d.classid = 'pg_namespace'::regclass AND d.objid = 'funnel_citus'::regnamespace")
[ "$got" = 1 ] || fail "schema funnel_citus made by 0.1 is not a member of the extension after the update"
q funnel_fresh -c 'CREATE EXTENSION funnel'

# (a) the schema
for db in funnel_upgrade_bare funnel_fresh; do
    pg_dump -s --binary-upgrade -O -d "$db" | perl "$here/normalise.pl" >"$work/$db.schema"
done
if [ "$(grep -c '^==== ' "$work/funnel_fresh.schema")" -lt 100 ]; then
    fail "pg_dump of a fresh install gave $(grep -c '^==== ' "$work/funnel_fresh.schema") objects"
elif diff -u "$work/funnel_fresh.schema" "$work/funnel_upgrade_bare.schema" >"$work/schema.diff"; then
    echo "ok - schema after ALTER EXTENSION UPDATE equals a fresh $version install ($(grep -c '^==== ' "$work/funnel_fresh.schema") objects)"
else
    echo "not ok - schema after ALTER EXTENSION UPDATE differs from a fresh $version install"
    echo "# objects only in a fresh install (add them to sql/updates/0.1--0.2*.sql):"
    grep '^-==== ' "$work/schema.diff" | sed 's/^-==== /#   /' || :
    echo "# objects only in the updated database (drop them in the update):"
    grep '^+==== ' "$work/schema.diff" | sed 's/^+==== /#   /' || :
    echo "# the difference (- fresh, + updated):"
    sed 's/^/# /' "$work/schema.diff"
    failed=1
fi

# (b) the values 0.1 stored, and tracking on the updated table
q funnel_upgrade -f "$here/values.sql" >"$work/values-$version" 2>&1 || :
binvalues >>"$work/values-$version" || :
if diff -u "$work/values-0.1" "$work/values-$version" >"$work/values.diff"; then
    echo "ok - $(wc -l <"$work/values-0.1") rows of values stored by 0.1 read back equal under $version"
else
    echo "not ok - values stored by 0.1 read back differently under $version (- 0.1, + $version):"
    sed 's/^/# /' "$work/values.diff"
    failed=1
fi
moved=$(q funnel_upgrade -c "UPDATE crm.deals SET stage = 'proposal' WHERE id = 1" \
    -c "SELECT string_agg(stage::text || ':' || (left_at IS NULL)::text, ',' ORDER BY entered_at, stage)
          FROM crm.deals_stage_history WHERE deal_id = 1" 2>&1) || :
if [ "$moved" = "b2b:lead:false,b2b:proposal:true" ]; then
    echo "ok - tracking records a move on a table tracked by 0.1"
else
    echo "not ok - tracking after the update: history of deal 1 is $moved, expected b2b:lead:false,b2b:proposal:true"
    failed=1
fi

# (c) the table 0.1 tracked has the triggers, history table and indexes
# that 0.2's track() makes
q funnel_fresh -f "$here/fixture.sql" >/dev/null || fail "fixture.sql on a fresh install"
for db in funnel_upgrade funnel_fresh; do
    pg_dump -s -O -n crm -T crm.states -d "$db" | grep -v '^--\|^\\\(un\)\?restrict \|^$' >"$work/$db.crm"
done
if ! grep -q 'CREATE TRIGGER funnel_track_update' "$work/funnel_fresh.crm"; then
    fail "pg_dump of the fresh tracked table has no tracking trigger"
elif diff -u "$work/funnel_fresh.crm" "$work/funnel_upgrade.crm" >"$work/crm.diff"; then
    echo "ok - the table tracked by 0.1 has the triggers and history table $version's track() makes"
else
    echo "not ok - the table tracked by 0.1 differs from one $version's track() makes (- fresh, + updated):"
    sed 's/^/# /' "$work/crm.diff"
    failed=1
fi

# (d) the regression suite from updated installs
if "$here/regress.sh" "$work/regress"; then
    echo "ok - pg_regress suite passes on installs updated from 0.1"
else
    echo "not ok - pg_regress suite on installs updated from 0.1"
    failed=1
fi

for db in funnel_upgrade funnel_upgrade_bare funnel_fresh; do
    q postgres -c "DROP DATABASE $db"
done
echo "1..6"
exit $failed
