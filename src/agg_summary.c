/*-------------------------------------------------------------------------
 *
 * agg_summary.c
 *	  The aggregates funnel.funnel(stage [, amount]) and
 *	  funnel.funnel(summary) over the type funnel.funnel_summary, and the
 *	  set-returning function funnel.report(summary).  The type's text and
 *	  binary I/O is in funnel_summary_io.c.
 *
 * A summary is a small mergeable sketch of one pipeline: for each stage the
 * number of deals whose input ("reached") stage is exactly that stage, how
 * many of them had an amount, and the exact total of those amounts.  The
 * implied-passage counts of the report (a deal in "proposal" also passed
 * "qualified") are derived at report time, so merging two summaries is a
 * plain element-wise addition and summaries can be stored, merged per group
 * or across Citus nodes without losing exactness.
 *
 * In memory (and on disk) a summary refers to its pipeline and stages by
 * OID; its text and binary forms use the pipeline and stage NAMES, so a
 * summary moves between databases whose OIDs differ.  The text form is JSON.
 *
 * The summary is also the transition state of both funnel() aggregates: it
 * is created in the per-tuple context on the first row (the executor copies
 * it into the aggregate context) and then updated in place.
 *
 * src/agg_summary.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "funnel_summary.h"

/*
 * Refuse a summary whose header does not match its size.  Every summary is
 * made by funnel_summary_in/recv or the aggregates, which keep it right;
 * this is the cheap guard, once per call, that no reader walks past the end
 * of a value whatever its bytes.
 */
void
SummaryCheck(const FunnelSummary *s)
{
	if (unlikely(VARSIZE(s) < offsetof(FunnelSummary, entries) ||
				 s->version != FUNNEL_SUMMARY_VERSION || s->flags != 0 ||
				 s->nentries < 0 || s->scale < 0 || s->scale > DEC_MAX_SCALE ||
				 VARSIZE(s) != SUMMARY_SIZE(s->nentries)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt funnel summary of %u bytes", (unsigned) VARSIZE(s))));
}

/* The pipeline of a summary, or an error if it was dropped */
FunnelPipeline *
SummaryPipelineOrError(FunnelSummary *s)
{
	FunnelPipeline *pipeline;

	SummaryCheck(s);
	pipeline = FunnelLookupPipeline(s->pipeline);

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("funnel summary refers to a pipeline that does not exist"),
				 errdetail("Pipeline type OID %u.", s->pipeline)));
	return pipeline;
}

/* A zeroed summary with one entry per stage of the pipeline, in order */
FunnelSummary *
SummaryNew(FunnelPipeline *pipeline)
{
	FunnelSummary *s = palloc0(SUMMARY_SIZE(pipeline->nstages));
	int			i;

	SET_VARSIZE(s, SUMMARY_SIZE(pipeline->nstages));
	s->version = FUNNEL_SUMMARY_VERSION;
	s->pipeline = pipeline->typoid;
	s->nentries = pipeline->nstages;
	for (i = 0; i < pipeline->nstages; i++)
		s->entries[i].label = pipeline->stages[i].label;
	return s;
}

/* Name of a pipeline for messages */
const char *
SummaryPipelineName(Oid typoid)
{
	FunnelPipeline *p = FunnelLookupPipeline(typoid);

	return p ? NameStr(p->name) : "?";
}

/* Refuse to put stages of two pipelines in one summary */
void
SummaryCheckPipeline(FunnelSummary *s, Oid pipeline)
{
	if (s->pipeline != pipeline)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot mix pipelines \"%s\" and \"%s\" in one funnel summary",
						SummaryPipelineName(s->pipeline), SummaryPipelineName(pipeline)),
				 errdetail("A funnel summary counts the stages of one pipeline."),
				 errhint("Group by funnel.pipeline_of(stage), or filter on one pipeline.")));
}

/* Raise every amount of s to a larger scale, in place */
void
SummaryRescale(FunnelSummary *s, int scale)
{
	int			i;

	if (scale <= s->scale)
		return;
	for (i = 0; i < s->nentries; i++)
		s->entries[i].amount = DecRescale(s->entries[i].amount, s->scale, scale);
	s->scale = scale;
}


/* A copy of s with one more (zeroed) entry, in the current context */
FunnelSummary *
SummaryAddEntry(FunnelSummary *s, Oid label)
{
	FunnelSummary *n = palloc0(SUMMARY_SIZE(s->nentries + 1));

	memcpy(n, s, SUMMARY_SIZE(s->nentries));
	SET_VARSIZE(n, SUMMARY_SIZE(s->nentries + 1));
	n->entries[n->nentries++].label = label;
	return n;
}

/*
 * funnel.funnel(reached deal_stage [, amount numeric]) transition.
 * NULL stages are skipped; NULL amounts count the deal but add no amount.
 */
PG_FUNCTION_INFO_V1(funnel_summary_trans);
Datum
funnel_summary_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	FunnelSummary *s;
	const AggStageInfo *info;
	SummaryEntry *e;
	int			i;

	if (unlikely(!cache->in_aggregate))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("funnel_summary_trans called in non-aggregate context")));

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	info = AggLookupStageIn(cache, PG_GETARG_DEAL_STAGE(1));

	if (PG_ARGISNULL(0))
		s = SummaryNew(FunnelLookupPipeline(info->pipeline));	/* copied by nodeAgg */
	else
		s = (FunnelSummary *) PG_GETARG_POINTER(0);
	if (unlikely(s->pipeline != info->pipeline))
		SummaryCheckPipeline(s, info->pipeline);

	i = SummaryFindEntry(s, info->label, info->position - 1);
	if (unlikely(i < 0))
	{
		s = SummaryAddEntry(s, info->label);
		i = s->nentries - 1;
	}
	e = &s->entries[i];
	AggCountAdd(&e->deals, 1);

	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		int128		value;
		int			scale;

		value = DecFromNumeric(PG_GETARG_DATUM(2), &scale, "amount");
		if (unlikely(scale > s->scale))
			SummaryRescale(s, scale);
		else if (scale < s->scale)
			value = DecRescale(value, scale, s->scale);
		e->amount = DecAdd(e->amount, value);
		AggCountAdd(&e->amount_count, 1);
	}
	PG_RETURN_POINTER(s);
}

/*
 * Merge two summaries: the transition and combine function of
 * funnel.funnel(funnel_summary) and the combine function of
 * funnel.funnel(stage [, amount]).  Updates the first in place when called
 * as an aggregate.
 */
PG_FUNCTION_INFO_V1(funnel_summary_merge);
Datum
funnel_summary_merge(PG_FUNCTION_ARGS)
{
	FunnelSummary *s1;
	FunnelSummary *s2;
	int			i;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	s2 = PG_GETARG_SUMMARY(1);
	SummaryCheck(s2);
	if (PG_ARGISNULL(0))
	{
		/* a copy in the current context; nodeAgg copies it to its own */
		s1 = palloc(VARSIZE(s2));
		memcpy(s1, s2, VARSIZE(s2));
		PG_RETURN_POINTER(s1);
	}
	if (AggCheckCallContext(fcinfo, NULL))
		s1 = (FunnelSummary *) PG_GETARG_POINTER(0);
	else
		s1 = (FunnelSummary *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	SummaryCheck(s1);

	SummaryCheckPipeline(s1, s2->pipeline);
	if (s2->scale > s1->scale)
		SummaryRescale(s1, s2->scale);
	for (i = 0; i < s2->nentries; i++)
	{
		const SummaryEntry *e2 = &s2->entries[i];
		SummaryEntry *e1;
		int			j = SummaryFindEntry(s1, e2->label, i);

		if (j < 0)
		{
			s1 = SummaryAddEntry(s1, e2->label);
			j = s1->nentries - 1;
		}
		e1 = &s1->entries[j];
		AggCountAdd(&e1->deals, e2->deals);
		AggCountAdd(&e1->amount_count, e2->amount_count);
		e1->amount = DecAdd(e1->amount,
							DecRescale(e2->amount, s2->scale, s1->scale));
	}
	PG_RETURN_POINTER(s1);
}

/* A conversion ratio, NULL when the base is zero */
static inline void
SetRatio(Datum *value, bool *isnull, int64 num, int64 den)
{
	if (den <= 0)
		*isnull = true;
	else
	{
		*value = AggRatio(num, den);
		*isnull = false;
	}
}

/*
 * funnel.report(summary): one row per stage of the pipeline in funnel
 * order.  Open stages: the deals that reached the stage (implied passage:
 * their input is this or a later open stage, or a won stage), their amount,
 * conversions and drop-off; won and lost stages: the deals whose input is
 * that stage.
 */
PG_FUNCTION_INFO_V1(funnel_report);
Datum
funnel_report(PG_FUNCTION_ARGS)
{
	FunnelSummary *s = PG_GETARG_SUMMARY(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FunnelPipeline *pipeline;
	int			nstages;
	int			nopen;
	int64	   *deals;
	int64	   *counts;
	int128	   *amounts;
	int64	   *reached;
	int64	   *reached_counts;
	int128	   *reached_amounts;
	int64		won_deals = 0;
	int64		won_counts = 0;
	int128		won_amount = 0;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	pipeline = SummaryPipelineOrError(s);
	FunnelCheckConfigured(pipeline);
	nstages = pipeline->nstages;
	nopen = pipeline->nopen;
	deals = palloc0(Max(nstages, 1) * sizeof(int64));
	counts = palloc0(Max(nstages, 1) * sizeof(int64));
	amounts = palloc0(Max(nstages, 1) * sizeof(int128));
	reached = palloc0((nopen + 1) * sizeof(int64));
	reached_counts = palloc0((nopen + 1) * sizeof(int64));
	reached_amounts = palloc0((nopen + 1) * sizeof(int128));

	/* the summary's counts, by the pipeline's current stage order */
	for (i = 0; i < nstages; i++)
	{
		FunnelStage *stage = &pipeline->stages[i];
		int			j = SummaryFindEntry(s, stage->label, i);

		if (j < 0)
			continue;
		deals[i] = s->entries[j].deals;
		counts[i] = s->entries[j].amount_count;
		amounts[i] = s->entries[j].amount;
		if (stage->kind == STAGE_WON)
		{
			AggCountAdd(&won_deals, deals[i]);
			AggCountAdd(&won_counts, counts[i]);
			won_amount = DecAdd(won_amount, amounts[i]);
		}
	}

	/* reached[i]: input is open stage i or later, or won */
	reached[nopen] = won_deals;
	reached_counts[nopen] = won_counts;
	reached_amounts[nopen] = won_amount;
	for (i = nopen - 1; i >= 0; i--)
	{
		reached[i] = reached[i + 1];
		AggCountAdd(&reached[i], deals[i]);
		reached_counts[i] = reached_counts[i + 1];
		AggCountAdd(&reached_counts[i], counts[i]);
		reached_amounts[i] = DecAdd(reached_amounts[i + 1], amounts[i]);
	}

	for (i = 0; i < nstages; i++)
	{
		FunnelStage *stage = &pipeline->stages[i];
		Datum		values[6];
		bool		nulls[6];
		int64		n;
		int64		namount;
		int128		amount;

		memset(nulls, false, sizeof(nulls));
		values[0] = DealStageGetDatum(MakeDealStage(pipeline->typoid, stage->label));
		if (i < nopen)
		{
			n = reached[i];
			namount = reached_counts[i];
			amount = reached_amounts[i];
			if (i == 0)
				nulls[3] = true;
			else
				SetRatio(&values[3], &nulls[3], n, reached[i - 1]);
			SetRatio(&values[4], &nulls[4], n, reached[0]);
			values[5] = Int64GetDatum(n - reached[i + 1]);
		}
		else
		{
			n = deals[i];
			namount = counts[i];
			amount = amounts[i];
			if (stage->kind == STAGE_WON && nopen > 0)
			{
				SetRatio(&values[3], &nulls[3], n, reached[nopen - 1]);
				SetRatio(&values[4], &nulls[4], n, reached[0]);
			}
			else
				nulls[3] = nulls[4] = true;
			nulls[5] = true;
		}
		values[1] = Int64GetDatum(n);
		if (namount > 0)
			values[2] = DecToNumeric(amount, s->scale);
		else
			nulls[2] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
