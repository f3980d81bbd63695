# bench/lib.sh: helpers shared by the benchmark scripts (sourced, not run).

# median_ms DB REPS SQL: run SQL (one statement) REPS times in one session,
# print the median wall time in milliseconds (psql's \timing).  Settings go
# in PGOPTIONS, so that only the measured statement is timed.
median_ms()
{
    db=$1 reps=$2 sql=$3
    {
        printf '%s\n' '\timing on'
        i=0
        while [ $i -lt "$reps" ]; do
            printf '%s\n' "$sql"
            i=$((i + 1))
        done
    } | psql -X -d "$db" 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
        sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "NaN"; else print a[int((NR + 1) / 2)] }'
}

# ratio A B: A / B with two decimals
ratio()
{
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "NaN"; else printf "%.2f", a / b }'
}

# bench_db DB: a fresh database DB (dropped first if left by a previous
# run) and a work directory WORK, removed on exit; sets P to a psql command
# on DB that stops at the first error.
bench_db()
{
    DB=$1
    WORK=$(mktemp -d /tmp/funnel-bench.XXXXXX)
    chmod 755 "$WORK"
    trap 'rm -rf "$WORK"' EXIT
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
    P="psql -X -q -v ON_ERROR_STOP=1 -d $DB"
}

# bench_tps TABLE SCRIPT...: VACUUM TABLE and CHECKPOINT, then pgbench
# -M prepared with 2 clients for SECONDS_PER_RUN seconds, each transaction
# one of the pgbench SCRIPTs at random; prints the tps
bench_tps()
{
    table=$1
    shift
    args=""
    for f in "$@"; do args="$args -f $f"; done
    $P -c "VACUUM $table" -c "CHECKPOINT"
    pgbench -n -M prepared -c 2 -j 2 -T "$SECONDS_PER_RUN" $args "$DB" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

# move_script VARIANT PIPELINE STAGE: writes WORK/move_VARIANT_PIPELINE_STAGE.sql,
# a pgbench script that moves a random deal of DEALS in table deals_VARIANT
# to PIPELINE:STAGE (E'b2b\072stage': pgbench would take a colon in a
# literal for a variable)
move_script()
{
    printf '\\set id random(1, %s)\nUPDATE deals_%s SET stage = E'\''%s\\072%s'\'' WHERE id = :id;\n' \
        "$DEALS" "$1" "$2" "$3" > "$WORK/move_${1}_${2}_$3.sql"
}

# variant_tps VARIANT: bench_tps of table deals_VARIANT with every move script of
# VARIANT
variant_tps()
{
    bench_tps "deals_$1" "$WORK"/move_$1_*.sql
}

# plpgsql_tracking_sql TABLE: the SQL of the hand-written comparison: a
# history TABLE_history laid out the usual way (partial unique index on the
# open visit) with one open visit per deal of TABLE (id, stage), and a
# PL/pgSQL AFTER UPDATE trigger that closes the open visit and inserts the
# next, checking nothing
plpgsql_tracking_sql()
{
    cat <<SQL
CREATE TABLE $1_history (deal_id bigint NOT NULL, stage funnel.deal_stage NOT NULL,
    entered_at timestamptz NOT NULL, left_at timestamptz, entered_by name NOT NULL DEFAULT current_user);
CREATE INDEX ON $1_history (deal_id, entered_at);
CREATE INDEX ON $1_history (stage, entered_at);
CREATE UNIQUE INDEX ON $1_history (deal_id) WHERE left_at IS NULL;
INSERT INTO $1_history (deal_id, stage, entered_at) SELECT id, stage, now() FROM $1;
CREATE FUNCTION plpgsql_track_$1() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    UPDATE $1_history SET left_at = greatest(now(), entered_at)
     WHERE deal_id = NEW.id AND left_at IS NULL;
    INSERT INTO $1_history (deal_id, stage, entered_at) VALUES (NEW.id, NEW.stage, now());
    RETURN NULL;
END
\$\$;
CREATE TRIGGER track AFTER UPDATE ON $1 FOR EACH ROW
    WHEN (OLD.stage IS DISTINCT FROM NEW.stage) EXECUTE FUNCTION plpgsql_track_$1();
SQL
}

# the median of the values v[1..n], as an awk function (awk "$AWK_MEDIAN ...")
AWK_MEDIAN='
function median(v, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}'
