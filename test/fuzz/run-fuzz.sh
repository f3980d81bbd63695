#!/bin/sh
# test/fuzz/run-fuzz.sh: sqlsmith against funnel in a throw-away cluster
# (make fuzz).  Expects the extension installed (make install) and sqlsmith.
#   FUZZ_QUERIES  queries in all (default 20000), half as the superuser,
#                 half as a NOSUPERUSER owner of the tracked tables
#   FUZZ_SEED     sqlsmith's random seed (default 1; the owner phase uses +1)
#   FUZZ_KEEP=1   keep the generated queries and the server log
# Fails on any backend crash, printing the query the server was running.
set -eu
PG_MAJOR=${1:-15}
cd "$(dirname "$0")/../.."
exec pg_virtualenv -v "$PG_MAJOR" test/fuzz/fuzz-in-cluster.sh
