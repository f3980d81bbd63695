#!/bin/sh
# test/chroot/in-chroot.sh: run by test/chroot/run.sh inside the chroot, in
# the per-run copy of the tree: build, install and run the whole suite,
# exactly as `make test` does on the host.
set -eu
PG_MAJOR=${1:?usage: in-chroot.sh MAJOR}
cd "$(dirname "$0")/../.."
echo "pg$PG_MAJOR: $(pg_config --version) on Debian $(cat /etc/debian_version)"
make -s all PG_CFLAGS="${PG_CFLAGS:-}"
make -s install
exec test/run-tests.sh "$PG_MAJOR"
