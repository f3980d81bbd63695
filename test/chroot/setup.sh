#!/bin/sh
# test/chroot/setup.sh: make (or reuse) a Debian chroot holding PostgreSQL
# PG_MAJOR and everything the test suite needs, for majors the host's Debian
# release does not ship.  Run as root.
#   test/chroot/setup.sh MAJOR [DIR]
# DIR defaults to $FUNNEL_CHROOTS/<suite> (FUNNEL_CHROOTS defaults to
# /var/lib/funnel/chroots), shared by every checkout on the machine.
# A chroot is complete only once DIR/.funnel-ready exists; it holds the
# package list, so a changed list re-runs apt-get and a half-made chroot
# (no .funnel-base: debootstrap did not finish) is removed and made again.
set -eu
PG_MAJOR=${1:?usage: setup.sh MAJOR [DIR]}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/suites.sh"
suite=$(suite_for "$PG_MAJOR")
dir=${2:-${FUNNEL_CHROOTS:-/var/lib/funnel/chroots}/$suite}
mirror=${FUNNEL_MIRROR:-$(host_mirror)}

PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-common
postgresql-$PG_MAJOR-pgtap libtap-parser-sourcehandler-pgtap-perl
postgresql-contrib build-essential ca-certificates librsvg2-bin libxml2-utils
debhelper lintian postgresql-server-dev-all"
want=$(printf '%s\n' "mirror $mirror" $PACKAGES)

mkdir -p "$(dirname "$dir")"
# one set-up at a time per chroot; runs from other checkouts wait here
exec 9>"$dir.lock"
flock 9

if [ -f "$dir/.funnel-ready" ] && [ "$(cat "$dir/.funnel-ready")" = "$want" ]; then
    exit 0
fi

if grep -q " $dir/" /proc/mounts; then
    echo "setup.sh: something is mounted under $dir; refusing to touch it" >&2
    exit 1
fi

if [ ! -f "$dir/.funnel-base" ]; then
    # the host tools that make a chroot: not on a fresh Debian machine
    if ! command -v debootstrap >/dev/null 2>&1; then
        echo "setup.sh: installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
            debootstrap >/dev/null
    fi
    rm -rf "$dir"
    echo "setup.sh: debootstrap $suite into $dir from $mirror"
    debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 || {
        tail -20 "$dir.debootstrap.log" >&2
        exit 1
    }
    touch "$dir/.funnel-base"
fi
rm -f "$dir/.funnel-ready"

# apt inside: the host's mirror; sid's Release may be past Valid-Until
echo "deb $mirror $suite main" >"$dir/etc/apt/sources.list"
echo 'Acquire::Check-Valid-Until "false";' >"$dir/etc/apt/apt.conf.d/99funnel"
# no daemons started by package scripts, no "main" cluster created
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
chmod 755 "$dir/usr/sbin/policy-rc.d"
mkdir -p "$dir/etc/postgresql-common/createcluster.d"
echo 'create_main_cluster = false' >"$dir/etc/postgresql-common/createcluster.d/funnel.conf"
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true

# package scripts want /proc; a private mount namespace drops it on exit
echo "setup.sh: installing PostgreSQL $PG_MAJOR and test tools in $dir"
unshare --mount --propagation private sh -eu -c '
    dir=$1; shift
    mount -t proc proc "$dir/proc"
    trap "umount \"$dir/proc\"" EXIT
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
        apt-get update
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
        apt-get install -y --no-install-recommends "$@"
    chroot "$dir" apt-get clean
' sh "$dir" $PACKAGES >"$dir.setup.log" 2>&1 || {
    tail -20 "$dir.setup.log" >&2
    exit 1
}

printf '%s\n' "$want" >"$dir/.funnel-ready"
echo "setup.sh: $dir ready (PostgreSQL $PG_MAJOR, Debian $suite)"
