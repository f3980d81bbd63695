#!/bin/sh
# test/upgrade/regress.sh DIR: the pg_regress suite (REGRESS of the Makefile)
# against installs updated from 0.1: copies each test and its expected output
# into DIR with "CREATE EXTENSION funnel;" made
#   CREATE EXTENSION funnel VERSION '0.1'; ALTER EXTENSION funnel UPDATE;
# in both (psql echoes the line, so the expected output changes by that line
# alone), then runs pg_regress there.  Every test thus starts from 0.1's
# objects, made with the installed (current) funnel.so as after a package
# upgrade, and updated.  Needs funnel--0.1.sql installed (run.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dir=$1
PG_CONFIG=${PG_CONFIG:-pg_config}
tests=$(sed -n 's/^REGRESS *= *//p' "$top/Makefile")
mkdir -p "$dir/sql" "$dir/expected"
from="CREATE EXTENSION funnel;"
to="CREATE EXTENSION funnel VERSION '0.1'; ALTER EXTENSION funnel UPDATE;"
for t in $tests; do
    grep -qx "$from" "$top/sql/$t.sql" \
        || { echo "regress.sh: sql/$t.sql has no line \"$from\"" >&2; exit 1; }
    sed "s/^$from\$/$to/" "$top/sql/$t.sql" >"$dir/sql/$t.sql"
    sed "s/^$from\$/$to/" "$top/expected/$t.out" >"$dir/expected/$t.out"
done
pgxs=$(dirname "$($PG_CONFIG --pgxs)")/..
status=0
# from DIR, as make installcheck runs them from the top of the tree: tests
# read data/ and write and read files under results/ (aggregates.sql)
ln -s "$top/data" "$dir/data"
cd "$dir"
"$pgxs/test/regress/pg_regress" --inputdir="$dir" --outputdir="$dir" \
    --bindir="$($PG_CONFIG --bindir)" --dbname=funnel_upgrade_regress $tests || status=$?
[ $status -eq 0 ] || cat "$dir/regression.diffs" 2>/dev/null || :
exit $status
