#!/bin/sh
# test/chroot/run.sh: build and test the current checkout against a
# PostgreSQL major that the host's Debian does not ship, inside a Debian
# chroot made (or reused) by test/chroot/setup.sh.  Run as root.
#   test/chroot/run.sh MAJOR
# Copies the working tree (with uncommitted changes, without .git and
# ignored build products) to a per-run directory inside the chroot, then
# runs there what `make test` runs on the host: make, make install,
# test/run-tests.sh.  PG_CFLAGS from the environment reaches the build.
# Mounts live in a private mount namespace (gone when the run ends, also
# if it is killed); the chroot's install is shared by every checkout, so
# set-up, install and tests hold /tmp/funnel-pg<MAJOR>.lock as on the host.
set -eu
PG_MAJOR=${1:?usage: run.sh MAJOR}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/suites.sh"
suite=$(suite_for "$PG_MAJOR")
dir=${FUNNEL_CHROOTS:-/var/lib/funnel/chroots}/$suite

# one run at a time per major (set-up, install and tests)
if [ -z "${FUNNEL_PG_LOCKED:-}" ]; then
    FUNNEL_PG_LOCKED=1 exec flock -o "/tmp/funnel-pg$PG_MAJOR.lock" "$0" "$@"
fi

"$here/setup.sh" "$PG_MAJOR" "$dir"

mkdir -p "$dir/build"
run=$(mktemp -d "$dir/build/run.XXXXXX")
chmod 755 "$run"
trap 'rm -rf "$run"' EXIT INT TERM
tar -C "$top" --exclude-vcs --exclude-vcs-ignores -cf - . | tar -C "$run" -xf -
# the copy has no .git: the upgrade test builds 0.1 from this archive
git -C "$top" archive v0.1 >"$run/test/upgrade/v0.1.tar" 2>/dev/null \
    || git -C "$top" archive c59dc72 >"$run/test/upgrade/v0.1.tar" 2>/dev/null \
    || rm -f "$run/test/upgrade/v0.1.tar"

# /proc, a minimal /dev and /dev/shm (PostgreSQL's dynamic shared memory)
unshare --mount --propagation private sh -eu -c '
    dir=$1 run=$2 major=$3
    cleanup() { umount -R "$dir/dev" 2>/dev/null || true; umount "$dir/proc" 2>/dev/null || true; }
    trap cleanup EXIT
    mount -t proc proc "$dir/proc"
    mount -t tmpfs -o mode=755,size=64k devtmp "$dir/dev"
    for n in null zero full random urandom tty; do
        touch "$dir/dev/$n"
        mount --bind "/dev/$n" "$dir/dev/$n"
    done
    mkdir "$dir/dev/shm" "$dir/dev/pts"
    mount -t tmpfs -o mode=1777 shm "$dir/dev/shm"
    ln -s /proc/self/fd "$dir/dev/fd"
    ln -s /proc/self/fd/0 "$dir/dev/stdin"
    ln -s /proc/self/fd/1 "$dir/dev/stdout"
    ln -s /proc/self/fd/2 "$dir/dev/stderr"
    chroot "$dir" env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        HOME=/root LANG=C.UTF-8 PG_CFLAGS="${PG_CFLAGS:-}" \
        sh "/build/${run##*/}/test/chroot/in-chroot.sh" "$major"
' sh "$dir" "$run" "$PG_MAJOR"
