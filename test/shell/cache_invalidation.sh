#!/bin/sh
# test/shell/cache_invalidation.sh: the caches of funnel_cache.h never keep
# a stale result marked valid.
#
# 1. A pipeline cache build that is cancelled (statement_timeout while it
#    waits for the lock on funnel.pipeline_stage that another session holds)
#    leaves the cache stale: once the lock is gone, the session sees the
#    probability another session committed before, not the old one.
# 2. A pooled session of a NOSUPERUSER table owner that already moved a deal
#    records its new name in entered_by after ALTER ROLE ... RENAME in
#    another session.
set -eu
DB=funnel_cache_invalidation
WORK=$(mktemp -d /tmp/funnel-cache.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
$P >/dev/null <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified','proposal'],
                              ARRAY[0.10, 0.25, 0.50]);
DROP ROLE IF EXISTS funnel_ci_app;
DROP ROLE IF EXISTS funnel_ci_app_renamed;
CREATE ROLE funnel_ci_app NOSUPERUSER LOGIN;
CREATE TABLE deals (id int PRIMARY KEY, stage funnel.deal_stage(b2b) NOT NULL);
ALTER TABLE deals OWNER TO funnel_ci_app;
INSERT INTO deals VALUES (1, 'lead');
SELECT funnel.track('deals', 'b2b', rule => 'any');
SQL

# 1. a cancelled build of the pipeline cache
psql -X -q -At -d $DB > "$WORK/build.out" 2>&1 <<SQL
SELECT 'before: ' || funnel.probability('b2b:lead');          -- builds the cache
\! $P -c "SELECT funnel.set_probability('b2b', 'lead', 0.2)" >/dev/null
\! ($P -c "BEGIN" -c "LOCK funnel.pipeline_stage IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(3)" -c "ROLLBACK" >/dev/null &)
-- wait until the other session holds the lock (takes in the invalidation)
DO \$\$BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'funnel.pipeline_stage'::regclass
                         AND mode = 'AccessExclusiveLock' AND granted) LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END\$\$;
SET statement_timeout = '300ms';
SELECT 'cancelled: ' || funnel.probability('b2b:lead');       -- the build waits, is cancelled
RESET statement_timeout;
DO \$\$BEGIN
    WHILE EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'funnel.pipeline_stage'::regclass
                     AND mode = 'AccessExclusiveLock') LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END\$\$;
SELECT 'after: ' || funnel.probability('b2b:lead');
SQL
grep -q '^before: 0.1$' "$WORK/build.out" || { cat "$WORK/build.out"; fail "the cache was not built first"; }
grep -q 'canceling statement due to statement timeout' "$WORK/build.out" || { cat "$WORK/build.out"; fail "the cache build was not cancelled"; }
grep -q '^after: 0.2$' "$WORK/build.out" || { cat "$WORK/build.out"; fail "a cancelled build left a stale pipeline cache marked valid"; }
echo "cancelled pipeline cache build: ok"

# 2. entered_by after ALTER ROLE ... RENAME in another session
PGOPTIONS="${PGOPTIONS:-} -c role=funnel_ci_app" psql -X -q -At -v ON_ERROR_STOP=1 -d $DB > "$WORK/rename.out" 2>&1 <<SQL
UPDATE deals SET stage = 'qualified' WHERE id = 1;
\! PGOPTIONS="${PGOPTIONS:-}" $P -c "ALTER ROLE funnel_ci_app RENAME TO funnel_ci_app_renamed"
UPDATE deals SET stage = 'proposal' WHERE id = 1;
SELECT 'visit: ' || funnel.stage_name(stage) || ' ' || entered_by
  FROM deals_stage_history WHERE deal_id = 1 AND stage <> 'b2b:lead' ORDER BY entered_at;
SQL
printf 'visit: qualified funnel_ci_app\nvisit: proposal funnel_ci_app_renamed\n' > "$WORK/rename.expected"
grep '^visit: ' "$WORK/rename.out" > "$WORK/rename.got" || true
diff "$WORK/rename.expected" "$WORK/rename.got" || { cat "$WORK/rename.out"; fail "entered_by kept a renamed role's old name"; }
echo "entered_by after a role rename: ok"

psql -X -q -d postgres -c "DROP DATABASE $DB" -c "DROP ROLE funnel_ci_app_renamed"
