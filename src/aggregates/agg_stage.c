/*-------------------------------------------------------------------------
 *
 * agg_stage.c
 *	  Stage aggregates with fixed-size states: funnel.furthest(),
 *	  funnel.conversion_rate() and funnel.win_rate().
 *
 * furthest keeps a deal_stage (pass by value; its send/recv carry names,
 * so partial states travel between databases); conversion_rate and
 * win_rate keep two counters in an int8[2], updated in place in the
 * aggregate context as float8_accum does, so every state is a real SQL
 * type with binary I/O and Citus can push the partial aggregation down.
 *
 * "Reached" follows the implied-passage rule of the product brief,
 * StagePassed() in funnel.h.
 *
 * src/aggregates/agg_stage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "agg.h"

/* Refuse two stages of different pipelines in one aggregate */
static void
CheckSamePipeline(const AggStageInfo *a, const AggStageInfo *b,
				  const char *aggname)
{
	if (a->pipeline != b->pipeline)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot mix stages of pipelines \"%s\" and \"%s\"",
						aggname,
						NameStr(FunnelLookupPipeline(a->pipeline)->name),
						NameStr(FunnelLookupPipeline(b->pipeline)->name)),
				 errhint("Group by funnel.pipeline_of(stage), or filter on one pipeline.")));
}

/* Rank for furthest(): lost < open (by position) < won */
static inline int64
FurthestRank(const AggStageInfo *info)
{
	int64		kind_rank = info->kind == STAGE_WON ? 2 :
		info->kind == STAGE_OPEN ? 1 : 0;

	return kind_rank * 1000000 + info->position;
}

/* funnel.furthest() transition and combine: the further of two stages */
PG_FUNCTION_INFO_V1(furthest_trans);
Datum
furthest_trans(PG_FUNCTION_ARGS)
{
	DealStage	a = PG_GETARG_DEAL_STAGE(0);
	DealStage	b = PG_GETARG_DEAL_STAGE(1);
	AggCallCache *cache;
	AggStageInfo ia;
	const AggStageInfo *ib;

	if (a == b)
		PG_RETURN_DEAL_STAGE(a);
	/* copy: the second lookup may reuse the slot of the first */
	cache = AggGetCallCache(fcinfo);
	ia = *AggLookupStageIn(cache, a);
	ib = AggLookupStageIn(cache, b);
	if (unlikely(ia.pipeline != ib->pipeline))
		CheckSamePipeline(&ia, ib, "funnel.furthest()");
	PG_RETURN_DEAL_STAGE(FurthestRank(ib) > FurthestRank(&ia) ? b : a);
}

/* Refuse a state that is not a bigint[2] without NULLs */
static inline void
CheckCounters(ArrayType *array)
{
	if (unlikely(ARR_NDIM(array) != 1 || ARR_DIMS(array)[0] != 2 ||
				 ARR_HASNULL(array) || ARR_ELEMTYPE(array) != INT8OID))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid funnel aggregate state"),
				 errdetail("The state is a bigint array of two counters without NULLs.")));
}

/*
 * The int8[2] counters of a state (checked 1-D, no NULLs: the data follows
 * the header), updated in place inside an aggregate, where the state lives
 * in the aggregate context and is never toasted; copied otherwise.
 */
static inline int64 *
CountersForUpdate(FunctionCallInfo fcinfo, AggCallCache *cache, int argno,
				  ArrayType **result)
{
	ArrayType  *array;

	if (likely(cache->in_aggregate))
		array = (ArrayType *) PG_GETARG_POINTER(argno);
	else
		array = PG_GETARG_ARRAYTYPE_P_COPY(argno);
	CheckCounters(array);
	*result = array;
	return (int64 *) ((char *) array + ARR_OVERHEAD_NONULLS(1));
}

/*
 * Read-only counters of a state, checked non-negative (a state made by the
 * transition functions is; one written by hand as an INITCOND or passed to
 * a direct call may not be)
 */
static const int64 *
Counters(ArrayType *array)
{
	const int64 *c;

	CheckCounters(array);
	c = (const int64 *) ((char *) array + ARR_OVERHEAD_NONULLS(1));
	if (unlikely(c[0] < 0 || c[1] < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid funnel aggregate state {" INT64_FORMAT "," INT64_FORMAT "}",
						c[0], c[1]),
				 errdetail("Counters are never negative.")));
	return c;
}

/* Combine for the int8[2] states: add the counters, which never wrap */
PG_FUNCTION_INFO_V1(funnel_counters_combine);
Datum
funnel_counters_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *result;
	int64	   *c1 = CountersForUpdate(fcinfo, AggGetCallCache(fcinfo), 0, &result);
	const int64 *c2 = Counters(PG_GETARG_ARRAYTYPE_P(1));

	(void) Counters(result);
	AggCountAdd(&c1[0], c2[0]);
	AggCountAdd(&c1[1], c2[1]);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* True if a deal whose furthest stage is r reached stage s (funnel.h) */
static inline bool
StageReachedBy(const AggStageInfo *s, const AggStageInfo *r)
{
	return StagePassed(s->kind, s->position, r->kind, r->position);
}

/*
 * funnel.conversion_rate(reached, from_stage, to_stage) transition:
 * counters {deals that reached from_stage, of those the ones that reached
 * to_stage}.
 */
PG_FUNCTION_INFO_V1(conversion_rate_trans);
Datum
conversion_rate_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	ArrayType  *result;
	int64	   *counters = CountersForUpdate(fcinfo, cache, 0, &result);
	DealStage	reached = PG_GETARG_DEAL_STAGE(1);
	DealStage	from_stage = PG_GETARG_DEAL_STAGE(2);
	DealStage	to_stage = PG_GETARG_DEAL_STAGE(3);
	const AggStageInfo *r;
	const AggStageInfo *from = &cache->memo_from_info;
	const AggStageInfo *to = &cache->memo_to_info;

	/* from_stage and to_stage are nearly always constants: keep copies */
	if (unlikely(from_stage != cache->memo_from || to_stage != cache->memo_to ||
				 from->label == InvalidOid))
	{
		cache->memo_from_info = *AggLookupStageIn(cache, from_stage);
		cache->memo_to_info = *AggLookupStageIn(cache, to_stage);
		cache->memo_from = from_stage;
		cache->memo_to = to_stage;
	}
	r = AggLookupStageIn(cache, reached);
	if (unlikely(r->pipeline != from->pipeline))
		CheckSamePipeline(r, from, "funnel.conversion_rate()");
	if (unlikely(r->pipeline != to->pipeline))
		CheckSamePipeline(r, to, "funnel.conversion_rate()");

	if (StageReachedBy(from, r))
	{
		AggCountAdd(&counters[0], 1);
		if (StageReachedBy(to, r))
			AggCountAdd(&counters[1], 1);
	}
	PG_RETURN_ARRAYTYPE_P(result);
}

/* counters[1] / counters[0], NULL when no deal is counted */
PG_FUNCTION_INFO_V1(funnel_counters_ratio);
Datum
funnel_counters_ratio(PG_FUNCTION_ARGS)
{
	const int64 *c = Counters(PG_GETARG_ARRAYTYPE_P(0));

	if (unlikely(c[1] > c[0]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid conversion_rate state {" INT64_FORMAT "," INT64_FORMAT "}",
						c[0], c[1]),
				 errdetail("The deals that reached to_stage are among those that reached from_stage.")));
	if (c[0] == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(AggRatio(c[1], c[0]));
}

/* funnel.win_rate(stage) transition: counters {won, lost} */
PG_FUNCTION_INFO_V1(win_rate_trans);
Datum
win_rate_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	ArrayType  *result;
	int64	   *counters = CountersForUpdate(fcinfo, cache, 0, &result);
	const AggStageInfo *info = AggLookupStageIn(cache, PG_GETARG_DEAL_STAGE(1));

	if (info->kind == STAGE_WON)
		AggCountAdd(&counters[0], 1);
	else if (info->kind == STAGE_LOST)
		AggCountAdd(&counters[1], 1);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* won / (won + lost), NULL when no deal is closed */
PG_FUNCTION_INFO_V1(win_rate_final);
Datum
win_rate_final(PG_FUNCTION_ARGS)
{
	const int64 *c = Counters(PG_GETARG_ARRAYTYPE_P(0));
	int64		closed = c[0];

	AggCountAdd(&closed, c[1]);
	if (closed == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(AggRatio(c[0], closed));
}
