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

#include "access/sysattr.h"
#include "commands/trigger.h"
#include "nodes/bitmapset.h"
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
 * Can the statement that fired the trigger on funnel.pipeline_stage have
 * changed a name a bare stage name is read against?  Names are the
 * pipeline and stage columns (and the enum labels they mirror): an UPDATE
 * of other columns only (set_probability(), set_stale_after(),
 * retire_stage()) cannot; an INSERT, DELETE or TRUNCATE, or an UPDATE
 * that sets pipeline or stage (rename_stage(), an admin's UPDATE), can.
 */
static bool
StageNamesMayChange(TriggerData *trigdata)
{
	static const char *const name_columns[] = {"pipeline", "stage"};
	AttrNumber	attnums[lengthof(name_columns)];
	int			i;

	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		trigdata->tg_updatedcols == NULL)
		return true;
	FunnelColumnNumbers(trigdata->tg_relation, lengthof(name_columns),
						name_columns, attnums);
	for (i = 0; i < (int) lengthof(name_columns); i++)
		if (bms_is_member(attnums[i] - FirstLowInvalidHeapAttributeNumber,
						  trigdata->tg_updatedcols))
			return true;
	return false;
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
	 * 'won' then also finds the won deals of a pipeline created since.  It
	 * is sent from here, not at commit, so that the rest of the
	 * transaction parses its plans again too.  A change of probabilities,
	 * stale_after or retired changes no name, and resets no plan.
	 */
	if (strcmp(RelationGetRelationName(trigdata->tg_relation), "pipeline_stage") == 0 &&
		StageNamesMayChange(trigdata))
		CacheInvalidateRelcacheAll();
	return PointerGetDatum(NULL);
}
