/*-------------------------------------------------------------------------
 *
 * deal_stage_ops.c
 *	  Comparison, hashing and accessor functions of funnel.deal_stage, and
 *	  the support functions of its btree and hash operator classes.
 *
 * Order: values of different pipelines sort by pipeline (enum type OID, a
 * stable total order); within a pipeline by funnel position.  As with
 * PostgreSQL's enums, two even stage OIDs of one pipeline compare by OID
 * (pg_enum assigns even OIDs only in sort order), so the common comparison
 * costs two integer tests and no lookup; odd OIDs (stages inserted between
 * others) are ranked by the cached pg_enum sort order.  Stage order never
 * changes after creation, which keeps btree indexes valid forever.
 *
 * src/type/deal_stage_ops.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"
#include "utils/timestamp.h"

#include "funnel.h"

/* Three-way comparison in funnel order */
int
DealStageCompare(DealStage a, DealStage b)
{
	Oid			pa,
				pb,
				la,
				lb;
	FunnelStage *sa,
			   *sb;

	if (unlikely(DealStageIsUnresolved(a)))
		DealStageReportAmbiguous(a);
	if (unlikely(DealStageIsUnresolved(b)))
		DealStageReportAmbiguous(b);
	if (a == b)
		return 0;

	pa = DealStagePipelineOid(a);
	pb = DealStagePipelineOid(b);
	if (pa != pb)
		return pa < pb ? -1 : 1;

	la = DealStageLabelOid(a);
	lb = DealStageLabelOid(b);
	if (((la | lb) & 1) == 0)
		return la < lb ? -1 : 1;

	sa = FunnelGetStage(a);
	sb = FunnelGetStage(b);
	return sa->sortorder < sb->sortorder ? -1 : 1;
}

/* Equality never needs the catalog: the stage OID identifies the value */
static inline bool
DealStageEquals(DealStage a, DealStage b)
{
	if (unlikely(DealStageIsUnresolved(a)))
		DealStageReportAmbiguous(a);
	if (unlikely(DealStageIsUnresolved(b)))
		DealStageReportAmbiguous(b);
	return a == b;
}

PG_FUNCTION_INFO_V1(deal_stage_eq);
Datum
deal_stage_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DealStageEquals(PG_GETARG_DEAL_STAGE(0), PG_GETARG_DEAL_STAGE(1)));
}

PG_FUNCTION_INFO_V1(deal_stage_ne);
Datum
deal_stage_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!DealStageEquals(PG_GETARG_DEAL_STAGE(0), PG_GETARG_DEAL_STAGE(1)));
}

PG_FUNCTION_INFO_V1(deal_stage_lt);
Datum
deal_stage_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DealStageCompare(PG_GETARG_DEAL_STAGE(0), PG_GETARG_DEAL_STAGE(1)) < 0);
}

PG_FUNCTION_INFO_V1(deal_stage_le);
Datum
deal_stage_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DealStageCompare(PG_GETARG_DEAL_STAGE(0), PG_GETARG_DEAL_STAGE(1)) <= 0);
}

PG_FUNCTION_INFO_V1(deal_stage_gt);
Datum
deal_stage_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DealStageCompare(PG_GETARG_DEAL_STAGE(0), PG_GETARG_DEAL_STAGE(1)) > 0);
}

PG_FUNCTION_INFO_V1(deal_stage_ge);
Datum
deal_stage_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DealStageCompare(PG_GETARG_DEAL_STAGE(0), PG_GETARG_DEAL_STAGE(1)) >= 0);
}

PG_FUNCTION_INFO_V1(deal_stage_cmp);
Datum
deal_stage_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DealStageCompare(PG_GETARG_DEAL_STAGE(0), PG_GETARG_DEAL_STAGE(1)));
}

/* Comparator for sorts, called without the fmgr overhead */
static int
DealStageFastCmp(Datum x, Datum y, SortSupport ssup)
{
	return DealStageCompare(DatumGetDealStage(x), DatumGetDealStage(y));
}

PG_FUNCTION_INFO_V1(deal_stage_sortsupport);
Datum
deal_stage_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = DealStageFastCmp;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(deal_stage_larger);
Datum
deal_stage_larger(PG_FUNCTION_ARGS)
{
	DealStage	a = PG_GETARG_DEAL_STAGE(0);
	DealStage	b = PG_GETARG_DEAL_STAGE(1);

	PG_RETURN_DEAL_STAGE(DealStageCompare(a, b) >= 0 ? a : b);
}

PG_FUNCTION_INFO_V1(deal_stage_smaller);
Datum
deal_stage_smaller(PG_FUNCTION_ARGS)
{
	DealStage	a = PG_GETARG_DEAL_STAGE(0);
	DealStage	b = PG_GETARG_DEAL_STAGE(1);

	PG_RETURN_DEAL_STAGE(DealStageCompare(a, b) <= 0 ? a : b);
}

/* Hash of the stage OID, like hashenum */
PG_FUNCTION_INFO_V1(deal_stage_hash);
Datum
deal_stage_hash(PG_FUNCTION_ARGS)
{
	DealStage	s = PG_GETARG_DEAL_STAGE(0);

	if (DealStageIsUnresolved(s))
		DealStageReportAmbiguous(s);
	return hash_uint32(DealStageLabelOid(s));
}

PG_FUNCTION_INFO_V1(deal_stage_hash_extended);
Datum
deal_stage_hash_extended(PG_FUNCTION_ARGS)
{
	DealStage	s = PG_GETARG_DEAL_STAGE(0);

	if (DealStageIsUnresolved(s))
		DealStageReportAmbiguous(s);
	return hash_uint32_extended(DealStageLabelOid(s), PG_GETARG_INT64(1));
}

PG_FUNCTION_INFO_V1(deal_stage_pipeline_of);
Datum
deal_stage_pipeline_of(PG_FUNCTION_ARGS)
{
	FunnelStage *stage = FunnelGetStage(PG_GETARG_DEAL_STAGE(0));

	PG_RETURN_TEXT_P(cstring_to_text(NameStr(stage->pipeline->name)));
}

PG_FUNCTION_INFO_V1(deal_stage_stage_name);
Datum
deal_stage_stage_name(PG_FUNCTION_ARGS)
{
	FunnelStage *stage = FunnelGetStage(PG_GETARG_DEAL_STAGE(0));

	PG_RETURN_TEXT_P(cstring_to_text(NameStr(stage->name)));
}

PG_FUNCTION_INFO_V1(deal_stage_position);
Datum
deal_stage_position(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(FunnelGetStage(PG_GETARG_DEAL_STAGE(0))->position);
}

PG_FUNCTION_INFO_V1(deal_stage_probability);
Datum
deal_stage_probability(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(FunnelGetConfiguredStage(PG_GETARG_DEAL_STAGE(0))->probability);
}

/* 'open', 'won' or 'lost' */
const char *
StageKindName(StageKind kind)
{
	switch (kind)
	{
		case STAGE_WON:
			return "won";
		case STAGE_LOST:
			return "lost";
		default:
			return "open";
	}
}

PG_FUNCTION_INFO_V1(deal_stage_kind);
Datum
deal_stage_kind(PG_FUNCTION_ARGS)
{
	FunnelStage *stage = FunnelGetConfiguredStage(PG_GETARG_DEAL_STAGE(0));

	PG_RETURN_TEXT_P(cstring_to_text(StageKindName(stage->kind)));
}

/* The stage's stale_after interval, or NULL when none is set */
PG_FUNCTION_INFO_V1(deal_stage_stale_after);
Datum
deal_stage_stale_after(PG_FUNCTION_ARGS)
{
	FunnelStage *stage = FunnelGetConfiguredStage(PG_GETARG_DEAL_STAGE(0));
	Interval   *result;

	if (!stage->has_stale_after)
		PG_RETURN_NULL();
	result = palloc(sizeof(Interval));
	*result = stage->stale_after;
	PG_RETURN_INTERVAL_P(result);
}

/*
 * funnel_internal.pipeline_typmod(typoid): the type modifier that binds a column to
 * the pipeline with this enum type, PipelineTypmod() for the SQL functions
 * (create_pipeline's check that no two pipelines share one, track()).
 */
PG_FUNCTION_INFO_V1(funnel_pipeline_typmod);
Datum
funnel_pipeline_typmod(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PipelineTypmod(PG_GETARG_OID(0)));
}
