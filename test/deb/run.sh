#!/bin/sh
# test/deb/run.sh: build the Debian package of this tree (test/deb/build.sh:
# pg_buildext, lintian without errors), install it with apt-get, check that
# dpkg owns the extension's files, and run the pg_regress suite against the
# installed package in a fresh cluster (debian/tests/installcheck, the
# autopkgtest).  Then removes the package and puts back the `make install`
# the other tests use.  Run as root, holding the PostgreSQL install's lock
# (make test does both).  Prints TAP lines.
set -u
PG_MAJOR=${1:-15}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
n=0
bad=0
check() {
    n=$((n + 1))
    name=$1
    shift
    if "$@" >"$top/build/deb-step.log" 2>&1; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        sed 's/^/#   /' "$top/build/deb-step.log" | tail -40
        bad=$((bad + 1))
    fi
}
mkdir -p build
pkg=postgresql-$PG_MAJOR-funnel

check "make deb builds $pkg and lintian reports no error" \
    env DEB_BUILD_OPTIONS=nocheck test/deb/build.sh
deb=$(ls build/deb/${pkg}_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
    echo "1..$n"
    exit 1
fi
# apt-get, not dpkg -i: it waits for another apt or dpkg run to finish
apt="apt-get -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends"
check "apt-get installs $pkg" env DEBIAN_FRONTEND=noninteractive $apt install "$top/$deb"
check "dpkg owns funnel.so, the control file and the install script" sh -c "
    dpkg -S /usr/lib/postgresql/$PG_MAJOR/lib/funnel.so &&
    dpkg -S /usr/share/postgresql/$PG_MAJOR/extension/funnel.control &&
    dpkg -S /usr/share/postgresql/$PG_MAJOR/extension/funnel--\$(sed -n \"s/^default_version *= *'\\(.*\\)'/\\1/p\" funnel.control).sql"
# the autopkgtest, from the clean copy the package was built from; the
# cluster's server runs as postgres, which must read the test files
chmod -R a+rX build/deb/src
check "installcheck suite passes against the installed package (fresh cluster)" \
    sh -c 'cd build/deb/src && debian/tests/installcheck >../installcheck.log 2>&1;
           s=$?; cat ../installcheck.log; [ $s -eq 0 ] &&
           grep -Eq "All [0-9]+ tests passed" ../installcheck.log'
check "apt-get removes $pkg" env DEBIAN_FRONTEND=noninteractive $apt remove "$pkg"
check "make install restores the working tree's build" make -s install

echo "1..$n"
[ $bad -eq 0 ]
