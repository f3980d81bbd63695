/*-------------------------------------------------------------------------
 *
 * funnel.c
 *	  Module entry point of the funnel extension, and the trigger that tells
 *	  every backend's pipeline cache that funnel's own tables changed.
 *
 * src/funnel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "funnel.h"
#include "track.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Register the cache invalidation callbacks, the literal checks and the
 * funnel.actor setting
 */
void
_PG_init(void)
{
	FunnelCacheRegisterCallbacks();
	FunnelUnresolvedInit();
	TrackActorInit();
}

/*
 * funnel_internal.catalog_changed(): statement trigger on funnel's configuration
 * tables.  A relcache invalidation of the table reaches every backend at
 * commit (and this one at the next command), so caches that read the table
 * rebuild; whoever writes it (API function, COPY from pg_restore, an admin).
 */
PG_FUNCTION_INFO_V1(funnel_catalog_changed);
Datum
funnel_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.catalog_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));

	/*
	 * Stages were added, renamed or dropped: a bare name may now be shared
	 * by several pipelines, or by one only.  Every backend's cached plans are
	 * parsed again (a relcache invalidation of all relations resets them),
	 * so that bare names in saved queries are read as a fresh parse reads
	 * them (bare_names.c): "stage = 'won'" planned while one pipeline had
	 * 'won' then also finds the won deals of a pipeline created since.
	 */
	if (strcmp(RelationGetRelationName(trigdata->tg_relation), "pipeline_stage") == 0)
		CacheInvalidateRelcacheAll();
	return PointerGetDatum(NULL);
}
