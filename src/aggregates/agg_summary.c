/*-------------------------------------------------------------------------
 *
 * agg_summary.c
 *	  The aggregates funnel.funnel(stage [, amount]), funnel.funnel(stage,
 *	  amount, lost_at), funnel.funnel(journey [, amount]) and
 *	  funnel.funnel(summary) over the type funnel.funnel_summary.  The
 *	  type's text and binary I/O is in funnel_summary_io.c, report() in
 *	  agg_report.c.
 *
 * A summary is a small mergeable sketch of one pipeline: for each stage the
 * number of deals whose "reached" stage is exactly that stage, how many of
 * them had an amount, and the exact total of those amounts.  The
 * implied-passage counts of the report (a deal in "proposal" also passed
 * "qualified") are derived at report time, so merging two summaries is a
 * plain element-wise addition and summaries can be stored, merged per group
 * or across Citus nodes without losing exactness.
 *
 * Summaries built from journeys (or from current stages with the lost_at
 * argument) also know each deal's outcome and carry, per stage, the deals
 * still open among those that reached it, the lost deals whose last open
 * stage it was, and the deals (and amounts) whose current stage it is; the
 * flag SUMMARY_OUTCOMES says so.  They also count, apart from all those,
 * the deals whose journey ended 'moved' (they left an open stage for
 * another pipeline): per stage the moved deals whose reached stage it is
 * and those whose last open stage it is, so report() shows them and every
 * other count and rate stays that of the deals that did not move.  A
 * summary fed by stages alone (funnel.furthest() output) cannot tell a lost
 * deal from an open one and has no such counters; merging it into an
 * outcome summary drops them.
 *
 * In memory (and on disk) a summary refers to its pipeline and stages by
 * OID; its text and binary forms use the pipeline and stage NAMES, so a
 * summary moves between databases whose OIDs differ.  The text form is JSON.
 *
 * The summary is also the transition state of the funnel() aggregates: it
 * is created in the per-tuple context on the first row (the executor copies
 * it into the aggregate context) and then updated in place.
 *
 * src/aggregates/agg_summary.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "funnel_summary.h"
#include "journey.h"

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
				 s->version != FUNNEL_SUMMARY_VERSION ||
				 (s->flags & ~SUMMARY_OUTCOMES) != 0 ||
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

/* What a stage without an entry in a summary counts: nothing */
static const SummaryEntry SummaryZeroEntry;

/*
 * The entries of a summary in the pipeline's current stage order: [i] is
 * the entry of pipeline->stages[i], or an all-zero entry where the summary
 * has none (a stage added after the summary was made).  A summary stores
 * its entries in the stage order of the pipeline when it was made, with
 * the entries of later stages appended as rows or merges bring them; every
 * reader that walks the stages (text and binary output, the outcome
 * checks, report()) goes through this one mapping, so none depends on the
 * stored order or on which zero entries happen to be stored.  An entry of
 * a stage the pipeline does not have is an error.  The result is palloc'd.
 */
const SummaryEntry **
SummaryEntriesByStage(const FunnelSummary *s, const FunnelPipeline *pipeline)
{
	const SummaryEntry **by_stage;
	int			found = 0;
	int			i;

	by_stage = palloc(Max(pipeline->nstages, 1) * sizeof(SummaryEntry *));
	for (i = 0; i < pipeline->nstages; i++)
	{
		int			j = SummaryFindEntry(s, pipeline->stages[i].label, i);

		if (j < 0)
			by_stage[i] = &SummaryZeroEntry;
		else
		{
			by_stage[i] = &s->entries[j];
			found++;
		}
	}
	if (unlikely(found != s->nentries))
	{
		/* name the entry whose stage is not in the pipeline */
		for (i = 0; i < s->nentries; i++)
		{
			int			k;

			for (k = 0; k < pipeline->nstages; k++)
				if (pipeline->stages[k].label == s->entries[i].label)
					break;
			if (k == pipeline->nstages)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("funnel summary refers to a stage that does not exist"),
						 errdetail("Stage OID %u of pipeline \"%s\".",
								   s->entries[i].label, NameStr(pipeline->name))));
		}
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt funnel summary of pipeline \"%s\": a stage has two entries",
						NameStr(pipeline->name))));
	}
	return by_stage;
}

/*
 * The deals that reached each open stage of the pipeline (by_stage from
 * SummaryEntriesByStage()), by the implied-passage rule: [i] for open
 * stage i, and [nopen] for the won deals, which passed every open stage.
 * Amounts are added only when asked for (they may pass 128 bits: 22003).
 * The result is palloc'd.
 */
StageReached *
SummaryReached(const FunnelPipeline *pipeline, const SummaryEntry **by_stage,
			   bool amounts)
{
	StageReached *reached = palloc0((pipeline->nopen + 1) * sizeof(StageReached));
	int			i;
	int			j;

	for (j = 0; j < pipeline->nstages; j++)
	{
		const FunnelStage *r = &pipeline->stages[j];
		const SummaryEntry *e = by_stage[j];

		for (i = 0; i <= pipeline->nopen; i++)
		{
			StageReached *to = &reached[i];

			/* [nopen]: past the last open stage, where only won deals are */
			if (i < pipeline->nopen ?
				!StagePassed(STAGE_OPEN, i, r->kind, j) :
				r->kind != STAGE_WON)
				continue;
			to->deals += e->deals;
			to->amount_count += e->amount_count;
			if (amounts)
				to->amount = DecAdd(to->amount, e->amount);
			if (r->kind == STAGE_OPEN)
			{
				to->open += e->open;
				to->lost += e->deals - e->open;
				to->moved += e->moved;
			}
		}
	}
	return reached;
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
	{
		s->entries[i].amount = DecRescale(s->entries[i].amount, s->scale, scale);
		s->entries[i].current_amount =
			DecRescale(s->entries[i].current_amount, s->scale, scale);
	}
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

/* A copy of a summary in the current context */
static FunnelSummary *
SummaryCopy(const FunnelSummary *s)
{
	FunnelSummary *n = palloc(VARSIZE(s));

	memcpy(n, s, VARSIZE(s));
	return n;
}

/* Forget the outcome counters: the summary now has deals of unknown outcome */
static void
SummaryDropOutcomes(FunnelSummary *s)
{
	int			i;

	for (i = 0; i < s->nentries; i++)
	{
		SummaryEntry *e = &s->entries[i];

		e->open = e->lost_here = e->current = e->current_amount_count = 0;
		e->current_amount = 0;
		e->moved = e->moved_here = 0;
	}
	s->flags &= ~SUMMARY_OUTCOMES;
}

/*
 * The transition state of a funnel() aggregate for a row of the pipeline
 * of info: the state, or a new summary on the first row, checked to be of
 * that pipeline.
 */
static inline FunnelSummary *
SummaryState(FunctionCallInfo fcinfo, AggCallCache *cache,
			 const AggStageInfo *info, uint8 flags)
{
	FunnelSummary *s;

	if (unlikely(!cache->in_aggregate))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("funnel_summary_trans called in non-aggregate context")));
	if (PG_ARGISNULL(0))
	{
		s = SummaryNew(FunnelLookupPipeline(info->pipeline));	/* copied by nodeAgg */
		s->flags = flags;
	}
	else
		s = (FunnelSummary *) PG_GETARG_POINTER(0);
	if (unlikely(s->pipeline != info->pipeline))
		SummaryCheckPipeline(s, info->pipeline);
	return s;
}

/*
 * The index of the entry of a stage, adding one (and possibly moving the
 * summary: *s is updated) for a stage added after the summary was made
 */
static inline int
SummaryEntryIndex(FunnelSummary **s, const AggStageInfo *info)
{
	int			i = SummaryFindEntry(*s, info->label, info->position - 1);

	if (unlikely(i < 0))
	{
		*s = SummaryAddEntry(*s, info->label);
		i = (*s)->nentries - 1;
	}
	return i;
}

/* Decode an amount argument at the summary's scale, rescaling the summary */
static inline int128
SummaryAmount(FunnelSummary *s, Datum amount)
{
	int128		value;
	int			scale;

	value = DecFromNumeric(amount, &scale, "amount");
	if (unlikely(scale > s->scale))
		SummaryRescale(s, scale);
	else if (scale < s->scale)
		value = DecRescale(value, scale, s->scale);
	return value;
}

/*
 * Count one deal of known outcome: reach is the stage it reached (its
 * furthest open stage, or its won stage, or its lost stage if it never
 * was in an open stage), current its current stage, last_open (lost
 * deals) the open stage it was lost from, or NULL.
 */
static FunnelSummary *
SummaryAddOutcome(FunnelSummary *s, const AggStageInfo *reach,
				  const AggStageInfo *current, const AggStageInfo *last_open,
				  bool has_amount, Datum amount)
{
	SummaryEntry *e;
	int			ir = SummaryEntryIndex(&s, reach);
	int			ic = SummaryEntryIndex(&s, current);
	int			il = last_open ? SummaryEntryIndex(&s, last_open) : -1;
	int128		value = 0;

	if (has_amount)
		value = SummaryAmount(s, amount);

	e = &s->entries[ir];
	AggCountAdd(&e->deals, 1);
	if (current->kind == STAGE_OPEN)
		AggCountAdd(&e->open, 1);
	if (has_amount)
	{
		e->amount = DecAdd(e->amount, value);
		AggCountAdd(&e->amount_count, 1);
	}
	e = &s->entries[ic];
	AggCountAdd(&e->current, 1);
	if (has_amount)
	{
		e->current_amount = DecAdd(e->current_amount, value);
		AggCountAdd(&e->current_amount_count, 1);
	}
	if (il >= 0)
		AggCountAdd(&s->entries[il].lost_here, 1);
	return s;
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

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	info = AggLookupStageIn(cache, PG_GETARG_DEAL_STAGE(1));
	s = SummaryState(fcinfo, cache, info, 0);
	i = SummaryEntryIndex(&s, info);
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		int128		value = SummaryAmount(s, PG_GETARG_DATUM(2));

		e = &s->entries[i];
		e->amount = DecAdd(e->amount, value);
		AggCountAdd(&e->amount_count, 1);
	}
	e = &s->entries[i];
	AggCountAdd(&e->deals, 1);
	PG_RETURN_POINTER(s);
}

/*
 * funnel.funnel(stage deal_stage, amount numeric, lost_at deal_stage)
 * transition: one row per deal, its current stage (no history).  An open
 * deal reached its stage and is open there; a won deal reached every open
 * stage; a lost deal reached lost_at (the open stage it was lost from) and
 * was lost there, or, when lost_at is NULL, the first open stage.  lost_at
 * is ignored on rows that are not lost, and must be an open stage of the
 * same pipeline.
 */
PG_FUNCTION_INFO_V1(funnel_summary_current_trans);
Datum
funnel_summary_current_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	FunnelSummary *s;
	AggStageInfo current;
	const AggStageInfo *reach = &current;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	/* copy: the next lookup may reuse the slot */
	current = *AggLookupStageIn(cache, PG_GETARG_DEAL_STAGE(1));
	s = SummaryState(fcinfo, cache, &current, SUMMARY_OUTCOMES);
	if (current.kind == STAGE_LOST)
	{
		if (!PG_ARGISNULL(3))
		{
			reach = AggLookupStageIn(cache, PG_GETARG_DEAL_STAGE(3));
			if (unlikely(reach->pipeline != current.pipeline ||
						 reach->kind != STAGE_OPEN))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("lost_at stage \"%s\" is not an open stage of pipeline \"%s\"",
								DealStageToText(PG_GETARG_DEAL_STAGE(3)),
								SummaryPipelineName(current.pipeline)),
						 errdetail("lost_at is the open stage a lost deal was lost from."),
						 errhint("Pass NULL when it is unknown: the deal then counts as lost at the first open stage.")));
		}
		else
		{
			FunnelPipeline *pipeline = FunnelLookupPipeline(current.pipeline);

			if (pipeline->nopen > 0)
				reach = AggLookupStageIn(cache,
										 MakeDealStage(pipeline->typoid,
													   pipeline->stages[0].label));
		}
	}
	s = SummaryAddOutcome(s, reach, &current,
						  current.kind == STAGE_LOST && reach != &current ? reach : NULL,
						  PG_NARGS() > 2 && !PG_ARGISNULL(2),
						  PG_NARGS() > 2 ? PG_GETARG_DATUM(2) : (Datum) 0);
	PG_RETURN_POINTER(s);
}

/*
 * Count a deal whose journey in the summary's pipeline ended 'moved': reach
 * is its furthest open stage there, last_open the open stage it left the
 * pipeline from.  It counts in the moved counters only (not in deals nor
 * amounts: its amount is counted in the pipeline it moved to).
 */
static FunnelSummary *
SummaryAddMoved(FunnelSummary *s, const AggStageInfo *reach,
				const AggStageInfo *last_open)
{
	int			ir = SummaryEntryIndex(&s, reach);
	int			il = SummaryEntryIndex(&s, last_open);

	AggCountAdd(&s->entries[ir].moved, 1);
	AggCountAdd(&s->entries[il].moved_here, 1);
	return s;
}

/*
 * Count the deal of journey j, of current stage current (a copy), in s:
 * its reached stage, outcome and, if lost, the open stage it was lost from;
 * for a journey that moved to another pipeline (current is then its last
 * open stage here), its moved counters
 */
static inline FunnelSummary *
SummaryJourneyOutcome(AggCallCache *cache, FunnelSummary *s, const Journey *j,
					  const AggStageInfo *current, bool has_amount, Datum amount)
{
	AggStageInfo reach;
	AggStageInfo last_open;

	if (JourneyMoved(j))
	{
		last_open = *current;
		reach = j->furthest != 0 ? *AggLookupStageIn(cache, j->furthest) : last_open;
		return SummaryAddMoved(s, &reach, &last_open);
	}

	/* copies: a later lookup may reuse the slot of an earlier one */
	if (current->kind == STAGE_WON || j->furthest == 0)
		reach = *current;
	else
		reach = *AggLookupStageIn(cache, j->furthest);
	if (current->kind == STAGE_LOST && j->last_open != 0)
		last_open = *AggLookupStageIn(cache, j->last_open);
	return SummaryAddOutcome(s, &reach, current,
							 current->kind == STAGE_LOST && j->last_open != 0 ? &last_open : NULL,
							 has_amount, amount);
}

/*
 * funnel.funnel(journey [, amount]) transition: one row per deal, its
 * journey (funnel.journey() over its visits).  The deal reached its
 * furthest open stage (a won deal: its won stage, which passes every open
 * stage; a lost deal that never was in an open stage: its lost stage).
 * A journey with outcome 'moved' counts in the moved counters of the
 * pipeline it left.
 */
PG_FUNCTION_INFO_V1(funnel_summary_journey_trans);
Datum
funnel_summary_journey_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	FunnelSummary *s;
	const Journey *j;
	AggStageInfo current;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	j = PG_GETARG_JOURNEY(1);
	/* a journey read before its pipeline's kinds were (restore) */
	JourneyCheckKinds(j, NULL, ERRCODE_INVALID_PARAMETER_VALUE);
	/*
	 * copies: a later lookup may reuse the slot of an earlier one.  A deal
	 * that moved to another pipeline counts in the pipeline it left, by its
	 * last open stage there.
	 */
	current = *AggLookupStageIn(cache, JourneyMoved(j) ? j->last_open : j->current);
	s = SummaryState(fcinfo, cache, &current, SUMMARY_OUTCOMES);
	s = SummaryJourneyOutcome(cache, s, j, &current,
							  PG_NARGS() > 2 && !PG_ARGISNULL(2),
							  PG_NARGS() > 2 ? PG_GETARG_DATUM(2) : (Datum) 0);
	PG_RETURN_POINTER(s);
}

/*
 * Count the deal of a journey in s, a summary of its pipeline with
 * outcomes (or a new one, s NULL): the step
 * of funnel.funnel(journey, amount), also used by the live summaries'
 * write path (src/live/live_write.c).  Returns s, which may have moved.
 */
FunnelSummary *
SummaryAddJourney(AggCallCache *cache, FunnelSummary *s, const Journey *j,
				  bool has_amount, Datum amount)
{
	AggStageInfo current;

	/* a copy: a later lookup may reuse the slot */
	current = *AggLookupStageIn(cache, JourneyMoved(j) ? j->last_open : j->current);
	if (s == NULL)
	{
		s = SummaryNew(FunnelLookupPipeline(current.pipeline));
		s->flags = SUMMARY_OUTCOMES;
	}
	else if (unlikely(s->pipeline != current.pipeline))
		SummaryCheckPipeline(s, current.pipeline);
	return SummaryJourneyOutcome(cache, s, j, &current, has_amount, amount);
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
		PG_RETURN_POINTER(SummaryCopy(s2));
	}
	if (AggCheckCallContext(fcinfo, NULL))
		s1 = (FunnelSummary *) PG_GETARG_POINTER(0);
	else
		s1 = SummaryCopy(PG_GETARG_SUMMARY(0));
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
		if (s1->flags & s2->flags & SUMMARY_OUTCOMES)
		{
			AggCountAdd(&e1->open, e2->open);
			AggCountAdd(&e1->lost_here, e2->lost_here);
			AggCountAdd(&e1->current, e2->current);
			AggCountAdd(&e1->current_amount_count, e2->current_amount_count);
			e1->current_amount = DecAdd(e1->current_amount,
										DecRescale(e2->current_amount, s2->scale, s1->scale));
			AggCountAdd(&e1->moved, e2->moved);
			AggCountAdd(&e1->moved_here, e2->moved_here);
		}
	}
	if ((s1->flags & SUMMARY_OUTCOMES) && !(s2->flags & SUMMARY_OUTCOMES))
		SummaryDropOutcomes(s1);
	PG_RETURN_POINTER(s1);
}

