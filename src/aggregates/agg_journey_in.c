/*-------------------------------------------------------------------------
 *
 * agg_journey_in.c
 *	  funnel.journey(stage, entered_at, left_at, pipeline): the journey of a
 *	  deal in one pipeline of a tracked table that holds several, over all
 *	  the deal's visits.
 *
 * A deal that left the pipeline from an open stage to a stage of another
 * pipeline (and is not back) has outcome 'moved', its current stage the
 * stage of its latest visit (JourneyMoved(), journey.h).  The visits of the
 * pipeline itself make the journey as funnel.journey(stage, entered_at)
 * does (JourneyAddVisit(), JourneyMerge(), agg_journey.c).
 *
 * src/aggregates/agg_journey_in.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "journey.h"

/*
 * funnel.journey(stage, entered_at, left_at, pipeline): the journey of a
 * deal in pipeline, over all its visits in a tracked table of several
 * pipelines.  The visits of the pipeline make the journey as
 * funnel.journey(stage, entered_at) does; of the others, only the latest
 * counts: when the deal's current visit in the pipeline is open and was
 * left (left_at) no later than the deal entered that latest visit, the deal
 * moved out and is not back, and the journey's current stage is that
 * visit's (outcome 'moved').  A deal that left a won or lost stage keeps
 * that outcome.  NULL for a deal never in the pipeline.
 */
typedef struct JourneyInState
{
	Journey		j;				/* the visits of the pipeline */
	bool		has_own;		/* j has one */
	bool		current_open_ended;	/* j's current visit has no left_at */
	TimestampTz current_left;	/* else its left_at */
	Oid			pipeline;		/* enum type OID */
	NameData	pipeline_name;
	DealStage	other;			/* latest visit of another pipeline, or 0 */
	TimestampTz other_at;
} JourneyInState;

PG_FUNCTION_INFO_V1(journey_in_trans);
Datum
journey_in_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	MemoryContext aggcxt;
	JourneyInState *st = PG_ARGISNULL(0) ? NULL : (JourneyInState *) PG_GETARG_POINTER(0);
	DealStage	stage;
	TimestampTz at;
	const AggStageInfo *info;
	char	   *name;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("funnel_internal.journey_in_trans() can only be called as an aggregate")));
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline of funnel.journey() must not be null"),
				 errhint("Pass the pipeline whose journey to build, such as funnel.pipeline_of(stage) of the group.")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	name = text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (st == NULL)
	{
		FunnelPipeline *p = FunnelLookupPipelineByName(name);

		if (p == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("pipeline \"%s\" does not exist", name),
					 FunnelPipelineCount() > 0 ? errhint(FUNNEL_PIPELINES_HINT) : 0));
		st = MemoryContextAllocZero(aggcxt, sizeof(JourneyInState));
		st->pipeline = p->typoid;
		namestrcpy(&st->pipeline_name, name);
	}
	else if (strcmp(name, NameStr(st->pipeline_name)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel.journey() got pipelines \"%s\" and \"%s\" for one deal",
						NameStr(st->pipeline_name), name),
				 errhint("Pass one pipeline per group, such as GROUP BY deal_id, p with the pipeline p joined to every visit of the deal.")));
	stage = PG_GETARG_DEAL_STAGE(1);
	at = PG_GETARG_TIMESTAMPTZ(2);
	if (unlikely(TIMESTAMP_NOT_FINITE(at) ||
				 (!PG_ARGISNULL(3) && TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(3)))))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("entered_at and left_at must be finite"),
				 errdetail("funnel.journey() orders a deal's visits by entered_at.")));
	info = AggLookupStageIn(cache, stage);
	if (info->pipeline == st->pipeline)
	{
		if (JourneyAddVisit(cache, &st->j, !st->has_own, stage, at, info))
		{
			st->current_open_ended = PG_ARGISNULL(3);
			st->current_left = PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3);
		}
		st->has_own = true;
	}
	else if (st->other == 0 || at > st->other_at)
	{
		st->other = stage;
		st->other_at = at;
	}
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(journey_in_final);
Datum
journey_in_final(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	JourneyInState *st = PG_ARGISNULL(0) ? NULL : (JourneyInState *) PG_GETARG_POINTER(0);
	Journey    *j;

	if (st == NULL || !st->has_own)
		PG_RETURN_NULL();
	j = palloc(sizeof(Journey));
	*j = st->j;
	if (st->other != 0 && !st->current_open_ended &&
		st->other_at >= st->current_left && st->other_at >= j->current_at &&
		AggLookupStageIn(cache, j->current)->kind == STAGE_OPEN)
	{
		j->current = st->other;
		j->current_at = st->other_at;
	}
	PG_RETURN_POINTER(j);
}

/* Combine two partial states of funnel.journey(stage, entered_at, left_at, pipeline) */
PG_FUNCTION_INFO_V1(journey_in_combine);
Datum
journey_in_combine(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	MemoryContext aggcxt;
	JourneyInState *a = PG_ARGISNULL(0) ? NULL : (JourneyInState *) PG_GETARG_POINTER(0);
	JourneyInState *b = PG_ARGISNULL(1) ? NULL : (JourneyInState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("funnel_internal.journey_in_combine() can only be called as an aggregate")));
	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
	{
		a = MemoryContextAlloc(aggcxt, sizeof(JourneyInState));
		memcpy(a, b, sizeof(JourneyInState));
		PG_RETURN_POINTER(a);
	}
	if (a->pipeline != b->pipeline)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel.journey() got pipelines \"%s\" and \"%s\" for one deal",
						NameStr(a->pipeline_name), NameStr(b->pipeline_name))));
	if (b->has_own)
	{
		if (!a->has_own)
		{
			a->j = b->j;
			a->has_own = true;
			a->current_open_ended = b->current_open_ended;
			a->current_left = b->current_left;
		}
		else if (JourneyMerge(cache, &a->j, &b->j))
		{
			a->current_open_ended = b->current_open_ended;
			a->current_left = b->current_left;
		}
	}
	if (b->other != 0 && (a->other == 0 || b->other_at > a->other_at))
	{
		a->other = b->other;
		a->other_at = b->other_at;
	}
	PG_RETURN_POINTER(a);
}

/*
 * The state between parallel workers: its bytes (OIDs of this database's
 * catalogs, never stored).
 */
PG_FUNCTION_INFO_V1(journey_in_serialize);
Datum
journey_in_serialize(PG_FUNCTION_ARGS)
{
	JourneyInState *st = (JourneyInState *) PG_GETARG_POINTER(0);
	bytea	   *result = palloc(VARHDRSZ + sizeof(JourneyInState));

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("funnel_internal.journey_in_serialize() can only be called as an aggregate")));
	SET_VARSIZE(result, VARHDRSZ + sizeof(JourneyInState));
	memcpy(VARDATA(result), st, sizeof(JourneyInState));
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(journey_in_deserialize);
Datum
journey_in_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	JourneyInState *st;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("funnel_internal.journey_in_deserialize() can only be called as an aggregate")));
	if (VARSIZE_ANY_EXHDR(data) != sizeof(JourneyInState))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid journey state of %zu bytes", VARSIZE_ANY_EXHDR(data))));
	st = palloc(sizeof(JourneyInState));
	memcpy(st, VARDATA_ANY(data), sizeof(JourneyInState));
	PG_RETURN_POINTER(st);
}
