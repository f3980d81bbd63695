/*-------------------------------------------------------------------------
 *
 * funnel_cache.h
 *	  The one idiom every backend-local cache of funnel follows.
 *
 * funnel keeps five caches (README.md, "How the code is organised"):
 * the pipeline cache (pipeline_cache.c), the tracked-table cache
 * (track_cache.c), the aggregates' stage slots (agg_common.c and the
 * fn_extra call caches), the entered_by user name (track_history.c), and
 * the live summaries' write statements (live_write.c).
 * Each follows these rules:
 *
 * 1. Validity is a FunnelCacheState.  Invalidation callbacks only ever set
 *	  it to FUNNEL_CACHE_STALE (they may run inside any catalog access,
 *	  also in the middle of a build, and must not free or read anything).
 *
 * 2. A build first marks the state FUNNEL_CACHE_BUILDING, then takes its
 *	  locks and reads, into a new memory context that is a child of the
 *	  caller's (so an error, a cancel or out of memory frees it), and only
 *	  when everything is read installs the result (reparents it under
 *	  CacheMemoryContext) and calls FunnelCacheBuilt(), which marks the
 *	  cache valid unless an invalidation arrived meanwhile.  An error
 *	  anywhere leaves the state BUILDING or STALE, never VALID: the next use
 *	  rebuilds.  This is PostgreSQL's evtcache.c "rebuild started" scheme;
 *	  no PG_TRY is needed.
 *
 * 3. A cache derived from the pipeline cache (the tracked-table cache, the
 *	  aggregates' stage slots) records FunnelCacheGeneration() read before
 *	  its own build started and is stale when the generation moved: the
 *	  pipeline cache is the only one that listens to pg_enum, pg_type and
 *	  funnel.pipeline_stage.
 *
 * 4. Pointers into a cache are handed out for the rest of the current
 *	  call only: the memory of a replaced build is freed when the build
 *	  after it is installed (the pipeline cache keeps exactly one previous
 *	  generation alive, so a pointer obtained just before a rebuild stays
 *	  readable until the call that obtained it returns).  Keep OIDs, never
 *	  pointers, across calls.
 *
 * 5. The columns of funnel's own tables are found by name, once per build
 *	  (FunnelColumnNumbers in pipeline_cache.c), never by position: an
 *	  upgrade script that adds a column gives fresh and upgraded installs
 *	  different column orders.
 *
 * src/funnel_cache.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_CACHE_H
#define FUNNEL_CACHE_H

#include "access/attnum.h"
#include "utils/relcache.h"

typedef enum FunnelCacheState
{
	FUNNEL_CACHE_STALE = 0,		/* never built, invalidated, or build failed */
	FUNNEL_CACHE_BUILDING,		/* a build started; not yet complete */
	FUNNEL_CACHE_VALID			/* complete and no invalidation since */
} FunnelCacheState;

/* From an invalidation callback */
static inline void
FunnelCacheInvalidate(FunnelCacheState *state)
{
	*state = FUNNEL_CACHE_STALE;
}

/* Before a build takes its first lock */
static inline void
FunnelCacheBuildStarted(FunnelCacheState *state)
{
	*state = FUNNEL_CACHE_BUILDING;
}

/* After a build is complete and installed */
static inline void
FunnelCacheBuilt(FunnelCacheState *state)
{
	if (*state == FUNNEL_CACHE_BUILDING)
		*state = FUNNEL_CACHE_VALID;
}

static inline bool
FunnelCacheIsValid(FunnelCacheState state)
{
	return state == FUNNEL_CACHE_VALID;
}

/*
 * Column numbers of named columns of one of funnel's tables, looked up in
 * its tuple descriptor (pipeline_cache.c).  Raises an error naming the
 * table and the column if one is missing (an extension whose tables and
 * library do not match).
 */
extern void FunnelColumnNumbers(Relation rel, int ncolumns,
								const char *const *names,
								AttrNumber *attnums);

#endif							/* FUNNEL_CACHE_H */
