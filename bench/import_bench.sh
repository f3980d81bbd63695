#!/bin/sh
# bench/import_bench.sh: what funnel.import_history() costs, side by side.
#
#   (a) COPY of a change log (deal_id, stage, changed_at; 1M rows) from a
#       file into an untracked table without indexes: the floor
#   (a2) the same COPY into a table with two indexes like the history's,
#       (deal_id, changed_at) and (stage, changed_at): what a history costs
#       to load without funnel
#   (b) funnel.import_history() of the same rows (already in a table) into
#       an empty tracked table: deals inserted, whole history written
#   (c) the replay it replaces (the demo's, before the import): the first
#       row of each deal INSERTed, then one UPDATE ... FROM per step, each
#       row moved through the tracking trigger
#
# (a) is the baseline of issue 21: the same rows, with the same column types
# (bigint, text, timestamptz), COPYed from a CSV file written from the table
# the import reads.
#
# The log: BENCH_IMPORT_DEALS deals (default 200000) of 5 rows each: lead,
# qualified, proposal, negotiation, then won or lost, a few hours to days
# apart.  BENCH_ROUNDS (default 3) rounds of (a) and (b), medians reported;
# (c) runs once (BENCH_IMPORT_REPLAY=0 skips it).  Runs in the cluster given
# by PG* variables, or in a throw-away cluster when PGPORT is not set.
set -eu
if [ -z "${PGPORT:-}" ]; then
    exec pg_virtualenv -v "${PG_MAJOR:-15}" -o 'shared_buffers=1GB' -o 'max_wal_size=4GB' "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
DEALS=${BENCH_IMPORT_DEALS:-200000}
ROUNDS=${BENCH_ROUNDS:-3}
REPLAY=${BENCH_IMPORT_REPLAY:-1}
DB=funnel_import_bench
WORK=$(mktemp -d /tmp/funnel-bench.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -v ON_ERROR_STOP=1 -d $DB"
$P <<SQL
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal','negotiation']);
CREATE TABLE log (deal_id bigint, stage text, changed_at timestamptz);
INSERT INTO log
SELECT d, CASE s WHEN 5 THEN CASE WHEN d % 3 = 0 THEN 'won' ELSE 'lost' END
                 ELSE (ARRAY['lead','qualified','proposal','negotiation'])[s] END,
       timestamptz '2024-01-01' + (d % 1000) * interval '1 hour' + s * (1 + d % 7) * interval '1 day'
  FROM generate_series(1, $DEALS) d, generate_series(1, 5) s
 ORDER BY random();
VACUUM ANALYZE log;
CREATE TABLE copied (deal_id bigint, stage text, changed_at timestamptz);
CREATE TABLE copied_idx (deal_id bigint, stage text, changed_at timestamptz);
CREATE INDEX ON copied_idx (deal_id, changed_at);
CREATE INDEX ON copied_idx (stage, changed_at);
SQL
$P -c "\\copy log TO '$WORK/log.csv' (FORMAT csv)"
rows=$($P -At -c "SELECT count(*) FROM log")

# a fresh, empty tracked table for each import
fresh_deals()
{
    $P <<'SQL'
DROP TABLE IF EXISTS deals, deals_stage_history;
CREATE TABLE deals (id bigint PRIMARY KEY, changed_at timestamptz,
                    stage funnel.deal_stage(b2b) NOT NULL);
SELECT funnel.track('deals', 'b2b', changed_at_column => 'changed_at', rule => 'any') \gset
CHECKPOINT;
SQL
}

timed()
{
    printf '%s\n%s\n' '\timing on' "$1" | psql -X -q -v ON_ERROR_STOP=1 -d $DB 2>&1 |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

copy_ms=""
copy_idx_ms=""
import_ms=""
i=0
while [ $i -lt "$ROUNDS" ]; do
    $P -c "TRUNCATE copied" -c "CHECKPOINT"
    copy_ms="$copy_ms $(timed "\\copy copied FROM '$WORK/log.csv' (FORMAT csv)")"
    $P -c "TRUNCATE copied_idx" -c "CHECKPOINT"
    copy_idx_ms="$copy_idx_ms $(timed "\\copy copied_idx FROM '$WORK/log.csv' (FORMAT csv)")"
    fresh_deals
    import_ms="$import_ms $(timed "SELECT count(*) FROM funnel.import_history('deals', 'log')")"
    i=$((i + 1))
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
copy=$(median "$copy_ms")
copy_idx=$(median "$copy_idx_ms")
import=$(median "$import_ms")
visits=$($P -At -c "SELECT count(*) FROM deals_stage_history")
problems=$($P -At -c "SELECT count(*) FROM funnel.check_history('deals')")

echo "change log: $rows rows, $DEALS deals; import wrote $visits visits, check_history: $problems problems"
echo "(a) COPY into an untracked table:        ${copy} ms (median of $ROUNDS:$copy_ms)"
echo "(a2) COPY into a table with 2 indexes:   ${copy_idx} ms (median of $ROUNDS:$copy_idx_ms)  = $(ratio "$copy_idx" "$copy") x COPY"
echo "(b) funnel.import_history():             ${import} ms (median of $ROUNDS:$import_ms)  = $(ratio "$import" "$copy") x COPY"

if [ "$REPLAY" = 1 ]; then
    fresh_deals
    replay=$(timed "DO \$\$
DECLARE k int;
BEGIN
    CREATE TEMP TABLE steps AS
    SELECT deal_id, stage, changed_at,
           row_number() OVER (PARTITION BY deal_id ORDER BY changed_at) AS n FROM log;
    INSERT INTO deals (id, changed_at, stage)
    SELECT deal_id, changed_at, ('b2b:' || stage)::funnel.deal_stage FROM steps WHERE n = 1;
    FOR k IN 2 .. 5 LOOP
        UPDATE deals d SET stage = ('b2b:' || s.stage)::funnel.deal_stage, changed_at = s.changed_at
          FROM steps s WHERE s.deal_id = d.id AND s.n = k;
    END LOOP;
END
\$\$")
    same=$($P -At -c "SELECT count(*) FROM funnel.check_history('deals')")
    echo "(c) replay through the tracking trigger: ${replay} ms (once; check_history: $same problems)  = $(ratio "$replay" "$copy") x COPY, $(ratio "$replay" "$import") x the import"
fi
psql -X -q -d postgres -c "DROP DATABASE $DB"
