/*-------------------------------------------------------------------------
 *
 * stage_dimension.c
 *	  The join key of the funnel.stages view, the stage dimension of BI
 *	  tools: a stage's pg_enum row as a funnel.deal_stage value.
 *
 * The view builds one value per stage of every pipeline.  A stage added by
 * the still-open transaction of the caller must not escape as a value (an
 * index could keep it after a rollback, see DealStageCheckUsable()), and
 * the view must not fail in that transaction either: such a stage gets a
 * NULL key, as report() leaves it out.
 *
 * src/pipeline/stage_dimension.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "funnel.h"

PG_FUNCTION_INFO_V1(funnel_stage_key);

/*
 * funnel_internal.stage_key(label oid) RETURNS funnel.deal_stage
 *
 * The stage whose pg_enum row has this OID, or NULL when it is no stage of
 * a pipeline or was added by the current, uncommitted transaction.
 */
Datum
funnel_stage_key(PG_FUNCTION_ARGS)
{
	Oid			label = PG_GETARG_OID(0);
	FunnelStage *stage = FunnelLookupStageByLabel(label);

	if (stage == NULL || !stage->usable)
		PG_RETURN_NULL();
	PG_RETURN_DEAL_STAGE(MakeDealStage(stage->pipeline->typoid, label));
}
