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
