/*-------------------------------------------------------------------------
 *
 * agg_journey.c
 *	  The per-deal aggregate funnel.journey(stage, entered_at) over a deal's
 *	  visits: its transition and combine functions.
 *
 * A journey says where a deal went: the furthest open stage it visited,
 * its current stage (the stage of its latest visit) and so its outcome
 * (won, lost or open), the open stage it was in last (for a lost deal: the
 * stage it was lost from), when it first entered the pipeline and when it
 * entered its current stage (for a closed deal: when it closed).
 * funnel.funnel(journey [, amount]) turns journeys into a summary that
 * knows outcomes.
 *
 * Visits are compared by entered_at; visits with the same entered_at (moves
 * in one transaction) by funnel order, the later stage counting as the
 * later visit (open stages by position, then won, then lost stages), so
 * the result does not depend on the order of the rows.
 *
 * The state is the journey itself: 48 bytes, pass by reference, created in
 * the per-tuple context on the first row (nodeAgg copies it into the
 * aggregate context) and updated in place; combine merges two partial
 * journeys of one deal.  Stages are deal_stage values (OIDs).
 *
 * The type's text and binary forms and its accessors are in journey_io.c;
 * the journey of a deal in one pipeline of a tracked table that holds
 * several (outcome 'moved') in agg_journey_in.c.
 *
 * src/aggregates/agg_journey.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "journey.h"

StaticAssertDecl(sizeof(Journey) == JOURNEY_SIZE, "journey is 48 bytes");


/* Is the visit (a_at, a) later than (b_at, b)?  Ties: the later stage */
static inline bool
LaterVisit(TimestampTz a_at, const AggStageInfo *a,
		   TimestampTz b_at, const AggStageInfo *b)
{
	return a_at > b_at || (a_at == b_at && a->position > b->position);
}

/* Refuse visits of two pipelines in one journey */
static void
CheckJourneyPipeline(Oid have, Oid got)
{
	if (have != got)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel.journey() cannot mix stages of pipelines \"%s\" and \"%s\"",
						NameStr(FunnelLookupPipeline(have)->name),
						NameStr(FunnelLookupPipeline(got)->name)),
				 errhint("Group by the deal: a deal's visits are in one pipeline; for a deal that moved between the pipelines of a tracked table, use funnel.journey(stage, entered_at, left_at, pipeline).")));
}

/* The state argument, writable in place inside an aggregate */
static Journey *
JourneyForUpdate(FunctionCallInfo fcinfo, AggCallCache *cache)
{
	Journey    *j = PG_GETARG_JOURNEY(0);

	if (!cache->in_aggregate)
	{
		Journey    *copy = palloc(sizeof(Journey));

		memcpy(copy, j, sizeof(Journey));
		j = copy;
	}
	return j;
}

/*
 * Add one visit of the journey's pipeline: the first (j zeroed) or a later
 * one.  Returns whether it became the current visit.
 */
bool
JourneyAddVisit(AggCallCache *cache, Journey *j, bool first, DealStage stage,
				TimestampTz at, const AggStageInfo *info)
{
	/* copies: a later lookup may reuse the slot */
	int32		position = info->position;
	bool		open = (info->kind == STAGE_OPEN);
	bool		current = false;

	if (first)
	{
		j->current = stage;
		j->current_at = j->first_at = at;
		if (open)
		{
			j->furthest = j->last_open = stage;
			j->last_open_at = at;
		}
		return true;
	}
	if (at < j->first_at)
		j->first_at = at;
	/* a later visit, or one at the same time in a later stage */
	if (at > j->current_at ||
		(at == j->current_at && stage != j->current &&
		 position > AggLookupStageIn(cache, j->current)->position))
	{
		j->current = stage;
		j->current_at = at;
		current = true;
	}
	if (open)
	{
		if (j->furthest == 0 ||
			(stage != j->furthest &&
			 position > AggLookupStageIn(cache, j->furthest)->position))
			j->furthest = stage;
		if (j->last_open == 0 || at > j->last_open_at ||
			(at == j->last_open_at && stage != j->last_open &&
			 position > AggLookupStageIn(cache, j->last_open)->position))
		{
			j->last_open = stage;
			j->last_open_at = at;
		}
	}
	return current;
}

/*
 * funnel.journey(stage, entered_at) transition.  Rows with a NULL stage or
 * entered_at are skipped; infinite timestamps are refused.
 */
PG_FUNCTION_INFO_V1(journey_trans);
Datum
journey_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	DealStage	stage;
	TimestampTz at;
	const AggStageInfo *info;
	Journey    *j;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	stage = PG_GETARG_DEAL_STAGE(1);
	at = PG_GETARG_TIMESTAMPTZ(2);
	if (unlikely(TIMESTAMP_NOT_FINITE(at)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("entered_at must be finite, not %s",
						DatumGetCString(DirectFunctionCall1(timestamptz_out,
															TimestampTzGetDatum(at)))),
				 errdetail("funnel.journey() orders a deal's visits by entered_at.")));
	info = AggLookupStageIn(cache, stage);
	if (PG_ARGISNULL(0))
	{
		/* nodeAgg copies the state into its context */
		j = palloc0(sizeof(Journey));
		(void) JourneyAddVisit(cache, j, true, stage, at, info);
		PG_RETURN_POINTER(j);
	}
	j = JourneyForUpdate(fcinfo, cache);
	if (unlikely(DealStagePipelineOid(j->current) != info->pipeline))
		CheckJourneyPipeline(DealStagePipelineOid(j->current), info->pipeline);
	(void) JourneyAddVisit(cache, j, false, stage, at, info);
	PG_RETURN_POINTER(j);
}

/*
 * Merge partial journey k of one deal into j (one pipeline); returns
 * whether k's current visit is the later one.
 */
bool
JourneyMerge(AggCallCache *cache, Journey *j, const Journey *k)
{
	AggStageInfo a;
	bool		later = false;

	if (k->first_at < j->first_at)
		j->first_at = k->first_at;
	a = *AggLookupStageIn(cache, k->current);
	if (LaterVisit(k->current_at, &a, j->current_at,
				   AggLookupStageIn(cache, j->current)))
	{
		j->current = k->current;
		j->current_at = k->current_at;
		later = true;
	}
	if (k->furthest != 0)
	{
		a = *AggLookupStageIn(cache, k->furthest);
		if (j->furthest == 0 ||
			a.position > AggLookupStageIn(cache, j->furthest)->position)
			j->furthest = k->furthest;
	}
	if (k->last_open != 0)
	{
		a = *AggLookupStageIn(cache, k->last_open);
		if (j->last_open == 0 ||
			LaterVisit(k->last_open_at, &a, j->last_open_at,
					   AggLookupStageIn(cache, j->last_open)))
		{
			j->last_open = k->last_open;
			j->last_open_at = k->last_open_at;
		}
	}
	return later;
}

/* Combine two partial journeys of one deal */
PG_FUNCTION_INFO_V1(journey_combine);
Datum
journey_combine(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	Journey    *j = JourneyForUpdate(fcinfo, cache);
	const Journey *k = PG_GETARG_JOURNEY(1);

	CheckJourneyPipeline(DealStagePipelineOid(j->current),
						 DealStagePipelineOid(k->current));
	(void) JourneyMerge(cache, j, k);
	PG_RETURN_POINTER(j);
}
