#!/bin/sh
# test/citus/live.sh: live summaries (issue 23 item 5) of a table
# hash-distributed by Citus.  Run by test/citus/run.sh with CITUS_HOST,
# COORD_PORT, WORKER1_PORT and WORKER2_PORT set, in database funnel_citus.
# A NOSUPERUSER table owner distributes, tracks and enables live summaries
# with a dimension (owner) and an amount; the summary table must be
# distributed co-located with the deals.  Every live reader (report,
# weighted forecast, win rate, median, 0.9 and 0 percentiles, for all
# deals, per owner and per entry-day range) must equal the scan-based
# aggregates over copies of the history and the deals (never the live
# tables), and funnel.live_check() find nothing: after enable_live, single
# and bulk moves, owner and amount changes, deletes, re-inserts, rollbacks
# (statement and savepoint), compaction, rebuild, TRUNCATE, and while and
# after four concurrent movers run (pgbench).  A single move runs on one
# shard (no PREPARE TRANSACTION, two-phase commit, which a multi-shard move
# shows); the readers' aggregation runs on the workers (EXPLAIN); untrack()
# drops the distributed summary table; a DROP of a part by the owner is
# refused whole (55006, HINT disable_live()).  Exits non-zero on the first
# failure.
set -u
db=funnel_citus
WORK=$(mktemp -d /tmp/funnel-citus-live.XXXXXX)
chmod 755 "$WORK"
fail() { echo "not ok - $1"; echo "#   have: $2"; echo "#   want: $3"; exit 1; }
# as USER: the output, errors with their SQLSTATE
# (psql's exit status kept)
as() {
    user=$1; shift
    psql -X -q -At -v VERBOSITY=verbose -h "$CITUS_HOST" -p "$COORD_PORT" -U "$user" -d $db "$@" >"$WORK/as.out" 2>&1
    st=$?
    sed "/^$/d; /^LOCATION:/d; /^CONTEXT:/d" "$WORK/as.out"
    return $st
}
su() { as postgres -v ON_ERROR_STOP=1 "$@"; }
own() { as lcl_owner -v ON_ERROR_STOP=1 "$@"; }
is() { [ "$2" = "$3" ] || fail "$1" "$2" "$3"; echo "# ok: $1"; }
like() { case "$2" in $3) echo "# ok: $1" ;; *) fail "$1" "$2" "$3" ;; esac; }

cleanup() {
    as postgres -c "DROP TABLE IF EXISTS lcl_deals, lcl_deals_stage_history, lcl_deals_stage_live CASCADE" \
        -c "DROP FUNCTION IF EXISTS lcl_mismatches(date, date, text, jsonb), lcl_all_mismatches()" \
        -c "SELECT funnel.drop_pipeline('lcl_b2b')" \
        -c "REVOKE ALL ON SCHEMA public FROM lcl_owner" \
        -c "REVOKE EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass), funnel.enable_live(regclass, name[], name), funnel.disable_live(regclass) FROM lcl_owner" \
        -c "DROP ROLE IF EXISTS lcl_owner" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
cleanup
WORK=$(mktemp -d /tmp/funnel-citus-live.XXXXXX)
chmod 755 "$WORK"

su >"$WORK/step.out" <<'SQL' || fail "set-up" "$(cat "$WORK/step.out")" "no error"
CREATE ROLE lcl_owner LOGIN NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO lcl_owner;
GRANT EXECUTE ON FUNCTION funnel.track(regclass, text, name, name, text), funnel.untrack(regclass),
    funnel.enable_live(regclass, name[], name), funnel.disable_live(regclass) TO lcl_owner;
SELECT funnel.create_pipeline('lcl_b2b', ARRAY['lead','qualified','proposal','negotiation'],
                              ARRAY[0.10, 0.25, 0.50, 0.75]);
SQL

out=$(own <<'SQL'
CREATE TABLE lcl_deals (id int PRIMARY KEY, stage funnel.deal_stage(lcl_b2b) NOT NULL,
                        owner text, amount numeric);
SELECT create_distributed_table('lcl_deals', 'id', shard_count => 4);
INSERT INTO lcl_deals SELECT g, 'lead', 'o' || (g % 3), g * 10 FROM generate_series(1, 40) g;
SELECT funnel.track('lcl_deals', 'lcl_b2b', rule => 'any');
INSERT INTO lcl_deals SELECT g, 'qualified', 'o' || (g % 3), NULL FROM generate_series(41, 60) g;
SQL
# entry days spread over four days (as an import would), on each shard
# (Citus runs no UPDATE calling a STABLE function on a column)
su -c "SELECT bool_and(success) FROM run_command_on_shards('lcl_deals_stage_history',
         \$\$UPDATE %s SET entered_at = entered_at - (deal_id %% 4) * interval '1 day' - interval '1 hour'\$\$)" >/dev/null
own -c "SELECT funnel.enable_live('lcl_deals', '{owner}', 'amount')"
)
is "a NOSUPERUSER owner enables live summaries of a distributed table" "$(echo "$out" | tail -1)" "lcl_deals_stage_live"
is "the summary table is distributed by shard_key, co-located with the deals" \
   "$(su -c "SELECT p.partmethod::text || ' ' || column_to_column_name(p.logicalrelid, p.partkey) || ' ' || (p.colocationid = d.colocationid)
               FROM pg_dist_partition p, pg_dist_partition d
              WHERE p.logicalrelid = 'lcl_deals_stage_live'::regclass AND d.logicalrelid = 'lcl_deals'::regclass")" \
   "h shard_key true"
is "enable_live restores citus.enable_unsafe_triggers" \
   "$(own -c "SELECT funnel.disable_live('lcl_deals')" -c "SELECT funnel.enable_live('lcl_deals', '{owner}', 'amount') IS NOT NULL" -c "SHOW citus.enable_unsafe_triggers")" \
   "$(printf '\nt\noff' | sed 1d)"

# the reference: copies of the history and the deals (read in the caller's
# snapshot), never the live tables; mismatches per day range and owner
own >"$WORK/step.out" <<'SQL' || fail "reference functions" "$(cat "$WORK/step.out")" "no error"
CREATE FUNCTION lcl_mismatches(f date, t date, own text, filter jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    m bigint;
    diff text;
BEGIN
    WITH ref AS (SELECT r.* FROM funnel.report((SELECT funnel.funnel(j, amount) FROM ref_deals
                   WHERE (f IS NULL OR day >= f) AND (t IS NULL OR day <= t)
                     AND (filter IS NULL OR owner IS NOT DISTINCT FROM own))) r),
         live AS (SELECT * FROM funnel.live_report('lcl_deals', f, t, filter))
    SELECT count(*), string_agg(x::text, E'\n') INTO m, diff
      FROM ((SELECT 'history' AS side, * FROM (SELECT * FROM ref EXCEPT ALL SELECT * FROM live) a)
            UNION ALL (SELECT 'live', * FROM (SELECT * FROM live EXCEPT ALL SELECT * FROM ref) b)) x;
    IF m > 0 THEN RAISE WARNING 'report differs (% rows) for % % %: %', m, f, t, filter, diff; END IF;
    n := n + m;
    FOR fr IN 1 .. 3 LOOP
        WITH ref AS (SELECT h.stage, count(*) AS c,
                            justify_hours(percentile_cont(CASE fr WHEN 1 THEN 0.5 WHEN 2 THEN 0.9 ELSE 0.0 END)
                                          WITHIN GROUP (ORDER BY h.left_at - h.entered_at)) AS p
                       FROM ref_history h JOIN ref_deals r ON r.id = h.deal_id
                      WHERE h.left_at IS NOT NULL
                        AND (f IS NULL OR r.day >= f) AND (t IS NULL OR r.day <= t)
                        AND (filter IS NULL OR r.owner IS NOT DISTINCT FROM own)
                      GROUP BY h.stage),
             live AS (SELECT * FROM funnel.live_time_in_stage_percentile('lcl_deals',
                               CASE fr WHEN 1 THEN 0.5 WHEN 2 THEN 0.9 ELSE 0.0 END, f, t, filter))
        SELECT count(*) INTO m FROM ((SELECT * FROM ref EXCEPT ALL SELECT * FROM live)
                                     UNION ALL (SELECT * FROM live EXCEPT ALL SELECT * FROM ref)) x;
        IF m > 0 THEN RAISE WARNING 'percentile % differs (% rows) for % % %', fr, m, f, t, filter; END IF;
        n := n + m;
    END LOOP;
    SELECT count(*) INTO m
      FROM (SELECT (SELECT CASE WHEN count(*) FILTER (WHERE o <> 'open') > 0
                                THEN count(*) FILTER (WHERE o = 'won')::numeric
                                     / count(*) FILTER (WHERE o <> 'open') END
                      FROM (SELECT funnel.outcome(j) AS o FROM ref_deals
                             WHERE (f IS NULL OR day >= f) AND (t IS NULL OR day <= t)
                               AND (filter IS NULL OR owner IS NOT DISTINCT FROM own)) x) AS a,
                   funnel.live_win_rate('lcl_deals', f, t, filter) AS b) y
     WHERE a IS DISTINCT FROM b;
    IF m > 0 THEN RAISE WARNING 'win rate differs for % % %', f, t, filter; END IF;
    n := n + m;
    -- the weighted forecast: the deals' current stages (their journeys') and amounts
    SELECT count(*) INTO m
      FROM (SELECT (SELECT funnel.weighted_forecast(r.amount, funnel.current_stage(r.j))
                      FROM ref_deals r
                     WHERE (f IS NULL OR r.day >= f) AND (t IS NULL OR r.day <= t)
                       AND (filter IS NULL OR r.owner IS NOT DISTINCT FROM own)) AS a,
                   funnel.live_weighted_forecast('lcl_deals', f, t, filter) AS b) y
     WHERE a IS DISTINCT FROM b;
    IF m > 0 THEN RAISE WARNING 'weighted forecast differs for % % %', f, t, filter; END IF;
    RETURN n + m;
END
$$;

CREATE FUNCTION lcl_all_mismatches() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    d0 date;
    d1 date;
BEGIN
    CREATE TEMP TABLE ref_current ON COMMIT DROP AS SELECT * FROM lcl_deals;
    CREATE TEMP TABLE ref_history ON COMMIT DROP AS SELECT * FROM lcl_deals_stage_history;
    CREATE TEMP TABLE ref_deals ON COMMIT DROP AS
    SELECT d.id, d.owner, d.amount, h.j, (funnel.started_at(h.j) AT TIME ZONE 'UTC')::date AS day
      FROM ref_current d
      JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j
              FROM ref_history GROUP BY deal_id) h ON h.deal_id = d.id;
    SELECT min(day), max(day) INTO d0, d1 FROM ref_deals;
    n := lcl_mismatches(NULL, NULL, NULL, NULL)
       + lcl_mismatches(NULL, NULL, 'o1', '{"owner": "o1"}')
       + lcl_mismatches(NULL, NULL, 'o2', '{"owner": "o2"}')
       + lcl_mismatches(NULL, NULL, NULL, '{"owner": null}')
       + lcl_mismatches(d0, d0, NULL, NULL)
       + lcl_mismatches(d0 + 1, d1, 'o0', '{"owner": "o0"}');
    n := n + (SELECT count(*) FROM funnel.live_check('lcl_deals'));
    DROP TABLE ref_current, ref_history, ref_deals;
    RETURN n;
END
$$;
SQL

# one snapshot per node: one connection per node, repeatable read (each
# deal, its visits and its summary rows live on one node)
check() {
    got=$(own -c "SET citus.max_adaptive_executor_pool_size = 1" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
              -c "SELECT lcl_all_mismatches()" -c "COMMIT")
    is "$1: live readers equal the scan-based aggregates" "$got" "0"
}
check "after enable_live"
is "the entry days span four days" "$(own -c "SELECT count(DISTINCT day) FROM lcl_deals_stage_live")" "4"

for step in 1 2 3 4 5 6; do
    own >"$WORK/step.out" <<SQL || fail "random step $step" "$(cat "$WORK/step.out")" "no error"
SELECT setseed(0.$step);
-- the random values first: Citus runs no UPDATE calling a VOLATILE function
SELECT p[1] AS p1, p[2] AS p2, p[3] AS p3, p[4] AS p4, p[5] AS p5, p[6] AS p6, p[7] AS p7, p[8] AS p8,
       (SELECT min(x) FROM unnest(p) x) AS pmin, (SELECT max(x) FROM unnest(p) x) AS pmax
  FROM (SELECT array_agg(id) AS p FROM (SELECT id FROM lcl_deals ORDER BY random() LIMIT 8) r) a \gset
SELECT (ARRAY['lead','qualified','proposal','negotiation','won','lost'])[1 + floor(random() * 6)::int] AS rs,
       'o' || (random() * 3)::int AS ro, round((random() * 1000)::numeric, 3) AS ra \gset
-- single moves
UPDATE lcl_deals SET stage = :'rs' WHERE id = :p1;
UPDATE lcl_deals SET stage = 'negotiation' WHERE id = :p2;
-- a bulk move (every shard)
UPDATE lcl_deals SET stage = 'proposal' WHERE id % 7 = $step % 7;
-- two moves of one deal in one transaction
BEGIN;
UPDATE lcl_deals SET stage = 'negotiation' WHERE id = :pmin;
UPDATE lcl_deals SET stage = 'won' WHERE id = :pmin;
COMMIT;
-- a rolled-back move, and a move rolled back to a savepoint
BEGIN;
UPDATE lcl_deals SET stage = 'lost', owner = 'zz' WHERE id IN (:p1, :p2, :p3, :p4, :p5, :p6, :p7, :p8);
ROLLBACK;
BEGIN;
UPDATE lcl_deals SET stage = 'qualified' WHERE id = :p3;
SAVEPOINT s;
UPDATE lcl_deals SET stage = 'lost', owner = 'zz' WHERE id = :p3;
ROLLBACK TO SAVEPOINT s;
COMMIT;
-- owner and amount changes, with and without a move
UPDATE lcl_deals SET owner = :'ro' WHERE id = :pmax;
UPDATE lcl_deals SET owner = NULL, stage = 'qualified' WHERE id = :p4;
UPDATE lcl_deals SET amount = :ra WHERE id IN (:p5, :p6);
-- a delete, and an id deleted before coming back
DELETE FROM lcl_deals WHERE id = :p7;
INSERT INTO lcl_deals VALUES (100 + $step, 'lead', 'o1', 5), ($step * 3 + 1, 'qualified', 'o2', 7)
    ON CONFLICT (id) DO NOTHING;
SQL
    check "random step $step"
    if [ $((step % 3)) -eq 0 ]; then
        before=$(own -c "SELECT count(*) FROM lcl_deals_stage_live")
        left=$(own -c "SELECT funnel.live_compact('lcl_deals')")
        after=$(own -c "SELECT count(*) FROM lcl_deals_stage_live")
        is "compaction after step $step returns the rows left" "$left" "$after"
        like "compaction after step $step merges rows ($before -> $after)" "$([ "$after" -lt "$before" ] && echo fewer)" "fewer"
        check "compaction after step $step"
    fi
done

# a move is one shard's transaction: no two-phase commit (Citus logs the
# PREPARE TRANSACTION of a multi-shard write, which the same log shows)
one=$(own -c "SET citus.log_remote_commands = on" -c "SET client_min_messages = log" \
          -c "UPDATE lcl_deals SET stage = 'proposal' WHERE id = 2")
like "a single move sends its statement to a worker" "$one" "*UPDATE public.lcl_deals_*"
like "a single move commits without two-phase commit" "$(echo "$one" | grep -c 'PREPARE TRANSACTION')" "0"
many=$(own -c "SET citus.log_remote_commands = on" -c "SET client_min_messages = log" \
           -c "UPDATE lcl_deals SET stage = 'negotiation' WHERE id IN (2, 3, 4, 5)")
like "a multi-shard move is prepared on each worker (the log can tell)" "$many" "*PREPARE TRANSACTION*"
check "after the logged moves"

# the readers' aggregation runs on the workers (as the caller), merged on
# the coordinator: the statement funnel.live_summary() runs
plan=$(own -c "EXPLAIN (VERBOSE, COSTS OFF) WITH w AS MATERIALIZED (SELECT shard_key, funnel.funnel(plus) AS plus, funnel.funnel(minus) AS minus FROM lcl_deals_stage_live WHERE stage IS NULL AND owner::text = 'o1' GROUP BY shard_key) SELECT funnel_internal.live_summary_minus(funnel.funnel(plus), funnel.funnel(minus)) FROM w")
like "live_summary merges each shard's summaries on the worker" \
     "$plan" "*Task*Query: SELECT shard_key, funnel.funnel(plus) AS plus, funnel.funnel(minus) AS minus FROM public.lcl_deals_stage_live_* GROUP BY shard_key*"
like "and the workers' summaries on the coordinator" "$plan" "*Aggregate*Output: funnel_internal.live_summary_minus(funnel.funnel(*"

# rebuild and TRUNCATE
rebuilt=$(own -c "SELECT funnel.live_rebuild('lcl_deals')")
is "live_rebuild returns the rows written" "$(own -c "SELECT count(*) FROM lcl_deals_stage_live")" "$rebuilt"
is "live_rebuild writes one row per key and shard" \
   "$(own -c "SELECT count(*) FROM (SELECT DISTINCT day, owner, stage, get_shard_id_for_distribution_column('lcl_deals', shard_key) FROM lcl_deals_stage_live) k")" "$rebuilt"
check "after live_rebuild"
own -c "TRUNCATE lcl_deals" >/dev/null
is "TRUNCATE of the deals empties the summary" "$(own -c "SELECT count(*) FROM lcl_deals_stage_live")" "0"
check "after TRUNCATE"
own -c "INSERT INTO lcl_deals SELECT g, 'lead', 'o' || (g % 3), g FROM generate_series(1, 50) g" >/dev/null
check "after re-inserting truncated ids"

# concurrent movers on the coordinator, checked while they run and after
# one script per stage: a distributed UPDATE setting an element of a
# deal_stage(...)[] array cast crashes the coordinator (a bug outside the
# live summaries, reported)
moves=""
for st in lead qualified proposal negotiation won lost; do
    printf '%s\n' '\set id random(1, 50)' "UPDATE lcl_deals SET stage = '$st' WHERE id = :id;" >"$WORK/move_$st.sql"
    moves="$moves -f $WORK/move_$st.sql@1"
done
cat > "$WORK/twice.sql" <<'SQL'
\set id random(1, 50)
\set o random(0, 3)
BEGIN;
UPDATE lcl_deals SET stage = 'negotiation', owner = 'o' || :o WHERE id = :id;
UPDATE lcl_deals SET stage = 'won', amount = :o * 100 WHERE id = :id;
COMMIT;
SQL
cat > "$WORK/rollback.sql" <<'SQL'
\set id random(1, 50)
BEGIN;
UPDATE lcl_deals SET stage = 'lost', owner = 'x' WHERE id = :id;
ROLLBACK;
SQL
cat > "$WORK/churn.sql" <<'SQL'
\set id random(1, 50)
BEGIN;
DELETE FROM lcl_deals WHERE id = :id;
INSERT INTO lcl_deals VALUES (:id, 'qualified', 'o2', 42) ON CONFLICT (id) DO NOTHING;
COMMIT;
SQL
pgbench -n -h "$CITUS_HOST" -p "$COORD_PORT" -U lcl_owner -c 4 -j 2 -T 8 \
        $moves -f "$WORK/twice.sql@2" -f "$WORK/rollback.sql@1" -f "$WORK/churn.sql@1" \
        $db >"$WORK/pgbench.log" 2>&1 &
bench=$!
sleep 3
check "while 4 movers run"
wait $bench || fail "concurrent movers" "$(grep -i error "$WORK/pgbench.log" | head -5)" "pgbench exit 0"
like "the movers moved deals" "$(grep -o 'number of transactions actually processed: [0-9]*' "$WORK/pgbench.log")" \
     "*processed: [1-9]*"
check "after 4 concurrent movers"
own -c "SELECT funnel.live_compact('lcl_deals')" >/dev/null
check "after compaction of the movers' rows"

# the summary table goes with the tracking, and with any of its parts
out=$(own -c "SELECT funnel.untrack('lcl_deals')")
like "untrack() drops the distributed summary table" "$out" "*NOTICE*live summaries of public.lcl_deals dropped*"
is "no summary table left, on any node" \
   "$(su -c "SELECT to_regclass('lcl_deals_stage_live') IS NULL AND NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid::text = 'lcl_deals_stage_live')" \
         -c "SELECT count(*) FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_class WHERE relname LIKE 'lcl_deals_stage_live%'\$\$) WHERE result <> '0'")" \
   "$(printf 't\n0')"
# (track() of a distributed table does not re-attach a history: dropped first)
own -c "DROP TABLE lcl_deals_stage_history" -c "SELECT funnel.track('lcl_deals', 'lcl_b2b', rule => 'any')" -c "SELECT funnel.enable_live('lcl_deals', '{owner}', 'amount')" >"$WORK/step.out" \
    || fail "track and enable_live again" "$(cat "$WORK/step.out")" "no error"
check "after untrack, track and enable_live again"
# a part dropped by the owner: Citus refuses the rest of the drops as the
# extension owner in the same transaction, so the DROP is refused whole
out=$(own -c "DROP TABLE lcl_deals_stage_live")
like "DROP of the summary table by its owner is refused, with a hint" "$out" \
     "*55006*cannot drop a part of the live summaries of distributed table public.lcl_deals*HINT*funnel.disable_live('public.lcl_deals')*"
check "after the refused DROP"
out=$(own -c "DROP TABLE lcl_deals")
like "so is DROP of the deals table" "$out" "*55006*"
own -c "SELECT funnel.disable_live('lcl_deals')" -c "DROP TABLE lcl_deals" >"$WORK/step.out" \
    || fail "disable_live, then DROP of the deals table" "$(cat "$WORK/step.out")" "no error"
is "nothing left of them" "$(own -c "SELECT count(*) FROM funnel.live_table")|$(su -c "SELECT to_regclass('lcl_deals_stage_live') IS NULL")" "0|t"
exit 0
