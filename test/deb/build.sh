#!/bin/sh
# test/deb/build.sh: build the Debian packages postgresql-NN-funnel (one per
# installed PostgreSQL major, debian/pgversions) from the working tree, with
# postgresql-common's pg_buildext, then lintian them.  What `make deb` runs.
# Output: build/deb/*.deb, *.changes, *.buildinfo, lintian.log.  Run as root
# or with sudo for the package installs of test/install-deps.sh.
#   DEB_BUILD_OPTIONS=nocheck skips the build-time pg_regress run.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/deb
rm -rf "$out"
mkdir -p "$out/src"
# a clean copy: uncommitted changes included, build products and .git not
tar -C "$top" --exclude-vcs --exclude-vcs-ignores --exclude=./build -cf - . |
    tar -C "$out/src" -xf -
cd "$out/src"
# the package's version is the extension's
extversion=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" funnel.control)
debversion=$(dpkg-parsechangelog -S Version)
[ "${debversion%%-*}" = "$extversion" ] || {
    echo "build.sh: debian/changelog is at $debversion, funnel.control at $extversion; add a changelog entry (dch -v $extversion)" >&2
    exit 1
}
# debian/control names the majors of the machine it was made on: make it
# for this one's (the committed copy is for Debian 12's PostgreSQL 15)
pg_buildext updatecontrol
dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2
    echo "build.sh: dpkg-buildpackage failed; log in $out/build.log" >&2
    exit 1
}
cd "$out"
# lintian exits non-zero on an error-level tag; warnings are shown
lintian --fail-on error --display-info *.changes | tee lintian.log
ls -1 "$out"/*.deb
