/*-------------------------------------------------------------------------
 *
 * funnel_summary_io.c
 *	  Text (JSON) and binary I/O of funnel.funnel_summary, and the rules a
 *	  summary read from outside must keep.
 *
 * In memory a summary refers to its pipeline and stages by OID; its text and
 * binary forms use the pipeline and stage NAMES, so a summary moves between
 * databases (and Citus nodes) whose OIDs differ.  Both forms list every
 * stage of the pipeline in its current order (zeros for a stage the summary
 * has no entry for), whatever order and set of entries the value stores:
 * a summary stored before add_stage, or merged with one made after it,
 * prints as input(output(x)) does (issue 17, item 6).
 *
 * A summary without outcomes (fed by stages) prints and sends exactly as
 * funnel 0.1 did (binary format version 1); a summary with outcomes (fed
 * by journeys) adds five counters per stage (binary format version 2); a
 * summary that counts deals that moved to another pipeline adds two more,
 * moved and moved_here (binary format version 3), and only then, so every
 * summary without a moved deal prints and sends as before.  All three
 * forms are read.  A value stored on disk in version 1 or 2 is converted
 * to the in-memory layout (version 3) when read (SummaryFromDatum()).
 *
 * src/aggregates/funnel_summary_io.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "funnel_summary.h"

/* ---- stored versions --------------------------------------------------- */

StaticAssertDecl(sizeof(SummaryEntry) == 104, "summary entries are 104 bytes");
StaticAssertDecl(sizeof(SummaryEntryV2) == 88, "version 2 summary entries are 88 bytes");
StaticAssertDecl(offsetof(SummaryEntry, moved) == sizeof(SummaryEntryV2),
				 "a version 2 entry is the start of a version 3 entry");
StaticAssertDecl(sizeof(SummaryEntryV1) == 40, "0.1 summary entries are 40 bytes");

/*
 * A summary argument, detoasted; a summary stored by funnel 0.1 (format
 * version 1, entries without outcome counters) or by an earlier 0.2 build
 * (version 2, entries without moved counters) is converted to the current
 * layout, without outcomes or without moved deals.
 */
FunnelSummary *
SummaryFromDatum(Datum d)
{
	FunnelSummary *s = (FunnelSummary *) PG_DETOAST_DATUM(d);
	FunnelSummary *n;
	const char *old;
	int			i;

	if (likely(VARSIZE(s) < offsetof(FunnelSummary, entries) ||
			   (s->version != FUNNEL_SUMMARY_VERSION_1 &&
				s->version != FUNNEL_SUMMARY_VERSION_2)))
		return s;
	if (s->nentries < 0 ||
		(s->version == FUNNEL_SUMMARY_VERSION_1 ?
		 (s->flags != 0 || VARSIZE(s) != SUMMARY_SIZE_V1(s->nentries)) :
		 ((s->flags & ~SUMMARY_OUTCOMES) != 0 ||
		  VARSIZE(s) != SUMMARY_SIZE_V2(s->nentries))))
		SummaryCheck(s);		/* reports the corruption */
	n = palloc0(SUMMARY_SIZE(s->nentries));
	memcpy(n, s, offsetof(FunnelSummary, entries));
	SET_VARSIZE(n, SUMMARY_SIZE(s->nentries));
	n->version = FUNNEL_SUMMARY_VERSION;
	old = (const char *) s + offsetof(FunnelSummary, entries);
	for (i = 0; i < s->nentries; i++)
	{
		if (s->version == FUNNEL_SUMMARY_VERSION_1)
		{
			const SummaryEntryV1 *e = &((const SummaryEntryV1 *) old)[i];

			n->entries[i].label = e->label;
			n->entries[i].deals = e->deals;
			n->entries[i].amount_count = e->amount_count;
			n->entries[i].amount = e->amount;
		}
		else
			memcpy(&n->entries[i], &((const SummaryEntryV2 *) old)[i],
				   sizeof(SummaryEntryV2));
	}
	return n;
}

/* Whether a summary counts a moved deal (its forms are then version 3) */
bool
SummaryHasMoved(const FunnelSummary *s)
{
	int			i;

	if (!(s->flags & SUMMARY_OUTCOMES))
		return false;
	for (i = 0; i < s->nentries; i++)
		if (s->entries[i].moved != 0 || s->entries[i].moved_here != 0)
			return true;
	return false;
}


/*
 * Text form (JSON):
 * {"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 3,
 *   "amount_count": 2, "amount": 150.00}, ...]}
 * with outcomes, each stage also has
 *   "open": 1, "lost_here": 1, "current": 1, "current_amount_count": 1,
 *   "current_amount": 50.00
 * and, when a deal moved to another pipeline, each stage then also has
 *   "moved": 1, "moved_here": 0
 */
#define SUMMARY_HINT "A summary is written as {\"pipeline\": \"b2b\", \"stages\": [{\"stage\": \"lead\", \"deals\": 3, \"amount_count\": 2, \"amount\": 150.00}]}."

/* One stage of a summary as read: its name, not yet resolved, and counters */
typedef struct SummaryInput
{
	char	   *name;
	SummaryEntry c;				/* c.label unset */
} SummaryInput;

PG_FUNCTION_INFO_V1(funnel_summary_out);
Datum
funnel_summary_out(PG_FUNCTION_ARGS)
{
	FunnelSummary *s = PG_GETARG_SUMMARY(0);
	FunnelPipeline *pipeline = SummaryPipelineOrError(s);
	const SummaryEntry **by_stage = SummaryEntriesByStage(s, pipeline);
	bool		moved = SummaryHasMoved(s);
	StringInfoData buf;
	int			i;

	/* every stage, in the current order: the text of x is that of in(out(x)) */
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"pipeline\": ");
	escape_json(&buf, NameStr(pipeline->name));
	appendStringInfoString(&buf, ", \"stages\": [");
	for (i = 0; i < pipeline->nstages; i++)
	{
		const SummaryEntry *e = by_stage[i];
		FunnelStage *stage = &pipeline->stages[i];

		appendStringInfoString(&buf, i > 0 ? ", {\"stage\": " : "{\"stage\": ");
		escape_json(&buf, NameStr(stage->name));
		appendStringInfo(&buf, ", \"deals\": " INT64_FORMAT
						 ", \"amount_count\": " INT64_FORMAT ", \"amount\": ",
						 e->deals, e->amount_count);
		DecAppend(&buf, e->amount, s->scale);
		if (s->flags & SUMMARY_OUTCOMES)
		{
			appendStringInfo(&buf, ", \"open\": " INT64_FORMAT
							 ", \"lost_here\": " INT64_FORMAT
							 ", \"current\": " INT64_FORMAT
							 ", \"current_amount_count\": " INT64_FORMAT
							 ", \"current_amount\": ",
							 e->open, e->lost_here, e->current,
							 e->current_amount_count);
			DecAppend(&buf, e->current_amount, s->scale);
		}
		if (moved)
			appendStringInfo(&buf, ", \"moved\": " INT64_FORMAT
							 ", \"moved_here\": " INT64_FORMAT,
							 e->moved, e->moved_here);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_CSTRING(buf.data);
}

/* A count for messages */
static char *
CountText(int128 v)
{
	StringInfoData buf;

	initStringInfo(&buf);
	DecAppend(&buf, v, 0);
	return buf.data;
}

/*
 * Refuse the outcome counters of a summary that no journeys can make:
 * per stage, open <= deals, current_amount_count <= current, no
 * current_amount without a count; on won and lost stages no open or
 * lost_here deals; on won stages the current deals are the deals (and
 * amounts); and across stages (from the last open stage back to each
 * one), the lost deals last open there or later are at most the lost
 * deals that reached it, the open deals now there or later at most the
 * open deals that reached it, with equality over all open stages, and the
 * deals ending in lost stages are the lost deals.  Moved deals likewise:
 * only on open stages, and from the last open stage back the deals that
 * moved from there or later at most the moved deals that reached it, with
 * equality over all open stages.
 */
void
SummaryCheckOutcomes(FunnelPipeline *pipeline, FunnelSummary *s, int sqlstate)
{
	int128		lost_here = 0;	/* from the last open stage back */
	int128		open_here = 0;
	int128		lost_current = 0;
	int128		lost_deals = 0;
	int128		moved_here = 0;
	const SummaryEntry **by_stage = SummaryEntriesByStage(s, pipeline);
	StageReached *reached = SummaryReached(pipeline, by_stage, false);
	int128		lost_reached = pipeline->nopen > 0 ? reached[0].lost : 0;
	int			i;

	for (i = 0; i < pipeline->nstages; i++)
	{
		const SummaryEntry *e = by_stage[i];
		FunnelStage *stage = &pipeline->stages[i];
		const char *name = NameStr(stage->name);

		if (e->open < 0 || e->lost_here < 0 || e->current < 0 ||
			e->current_amount_count < 0 || e->open > e->deals ||
			e->current_amount_count > e->current)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" has deals " INT64_FORMAT
							", open " INT64_FORMAT ", lost_here " INT64_FORMAT
							", current " INT64_FORMAT " and current_amount_count " INT64_FORMAT,
							name, e->deals, e->open, e->lost_here, e->current,
							e->current_amount_count),
					 errdetail("Counts are non-negative, open is at most deals and current_amount_count at most current.")));
		if (e->current_amount_count == 0 && e->current_amount != 0)
		{
			StringInfoData amount;

			initStringInfo(&amount);
			DecAppend(&amount, e->current_amount, s->scale);
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" has current_amount %s but current_amount_count 0",
							name, amount.data)));
		}
		if (e->moved < 0 || e->moved_here < 0 ||
			(stage->kind != STAGE_OPEN && (e->moved != 0 || e->moved_here != 0)))
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: %s stage \"%s\" has moved " INT64_FORMAT
							" and moved_here " INT64_FORMAT,
							StageKindName(stage->kind), name, e->moved, e->moved_here),
					 errdetail("Moved counts are non-negative, and only open stages have them: a deal leaves a pipeline for another from an open stage.")));
		if (stage->kind != STAGE_OPEN && (e->open != 0 || e->lost_here != 0))
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: %s stage \"%s\" has open " INT64_FORMAT
							" and lost_here " INT64_FORMAT,
							StageKindName(stage->kind), name, e->open, e->lost_here),
					 errdetail("Only open stages have open deals and deals lost from them.")));
		if (stage->kind == STAGE_WON &&
			(e->current != e->deals || e->current_amount_count != e->amount_count ||
			 e->current_amount != e->amount))
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: won stage \"%s\" has deals " INT64_FORMAT
							" but current " INT64_FORMAT, name, e->deals, e->current),
					 errdetail("A won deal reached its won stage and is there now: current, current_amount_count and current_amount equal deals, amount_count and amount.")));
		if (stage->kind == STAGE_LOST)
		{
			lost_current += e->current;
			lost_deals += e->deals;
		}
	}

	/* open stages, from the last one back */
	for (i = pipeline->nopen - 1; i >= 0; i--)
	{
		const SummaryEntry *e = by_stage[i];
		const StageReached *r = &reached[i];

		lost_here += e->lost_here;
		open_here += e->current;
		if (lost_here > r->lost || open_here > r->open ||
			(i == 0 && (lost_here != r->lost || open_here != r->open)))
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: from stage \"%s\" on, %s lost deals were lost there but %s reached it, %s open deals are there but %s reached it",
							NameStr(pipeline->stages[i].name),
							CountText(lost_here), CountText(r->lost),
							CountText(open_here), CountText(r->open)),
					 errdetail("A deal is lost from, or now in, an open stage it reached: over all open stages the counts are equal.")));
		moved_here += e->moved_here;
		if (moved_here > r->moved || (i == 0 && moved_here != r->moved))
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: from stage \"%s\" on, %s deals moved out but %s moved deals reached it",
							NameStr(pipeline->stages[i].name),
							CountText(moved_here), CountText(r->moved)),
					 errdetail("A deal moves to another pipeline from an open stage it reached: over all open stages moved_here and moved add up to the same count.")));
	}
	if (lost_current != lost_deals + lost_reached)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid funnel summary: %s deals ended in lost stages but %s are lost",
						CountText(lost_current), CountText(lost_deals + lost_reached)),
				 errdetail("Every lost deal is in one lost stage.")));
}

/* Whether an input entry counts nothing */
static bool
SummaryInputIsZero(const SummaryEntry *c)
{
	return c->deals == 0 && c->amount_count == 0 && c->amount == 0 &&
		c->open == 0 && c->lost_here == 0 && c->current == 0 &&
		c->current_amount_count == 0 && c->current_amount == 0 &&
		c->moved == 0 && c->moved_here == 0;
}

/*
 * The summary of a pipeline name and stage names (text and binary input).
 * Each stage appears at most once, with 0 <= amount_count <= deals and a
 * zero amount when amount_count is 0, and outcome counters that journeys
 * can make: exactly the values the aggregates make, so every summary that
 * reads in also prints, reports and merges.
 */
static FunnelSummary *
SummaryFromInput(const char *pipeline_name, int n, SummaryInput *in,
				 bool outcomes, int scale, int sqlstate)
{
	FunnelPipeline *pipeline = FunnelLookupPipelineByName(pipeline_name);
	FunnelSummary *s;
	bool	   *seen;
	int			i;

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid funnel summary: pipeline \"%s\" does not exist",
						pipeline_name),
				 FunnelPipelineCount() > 0 ? errhint(FUNNEL_PIPELINES_HINT) : 0));
	s = SummaryNew(pipeline);
	s->scale = scale;
	s->flags = outcomes ? SUMMARY_OUTCOMES : 0;
	seen = palloc0(Max(s->nentries, 1) * sizeof(bool));
	for (i = 0; i < n; i++)
	{
		FunnelStage *stage = FunnelLookupStageByName(pipeline, in[i].name);
		SummaryEntry *e;
		int			j;

		if (stage == NULL)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: pipeline \"%s\" has no stage \"%s\"",
							pipeline_name, in[i].name),
					 errdetail("Its stages are: %s.", FunnelStageList(pipeline))));
		/*
		 * A stage added by this still-open transaction may not be counted in
		 * a value (it could outlive a rollback); an all-zero entry says
		 * nothing and is what every summary holds for such a stage, so the
		 * text of a summary made in that transaction reads back.
		 */
		if (!SummaryInputIsZero(&in[i].c))
			DealStageCheckUsable(stage);
		j = SummaryFindEntry(s, stage->label, stage->position - 1);
		if (j < 0)
			elog(ERROR, "stage %u missing from a new funnel summary", stage->label);
		if (seen[j])
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" appears more than once",
							in[i].name),
					 errdetail("A summary has one entry per stage.")));
		seen[j] = true;
		if (in[i].c.deals < 0 || in[i].c.amount_count < 0 ||
			in[i].c.amount_count > in[i].c.deals)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" has deals " INT64_FORMAT " and amount_count " INT64_FORMAT,
							in[i].name, in[i].c.deals, in[i].c.amount_count),
					 errdetail("Counts are non-negative and amount_count is at most deals.")));
		if (in[i].c.amount_count == 0 && in[i].c.amount != 0)
		{
			StringInfoData amount;

			initStringInfo(&amount);
			DecAppend(&amount, in[i].c.amount, scale);
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" has amount %s but amount_count 0",
							in[i].name, amount.data),
					 errdetail("The amount is the total of amount_count amounts.")));
		}
		e = &s->entries[j];
		in[i].c.label = e->label;
		*e = in[i].c;
	}
	/*
	 * The outcome checks read stage kinds, which live in the configuration
	 * table funnel.pipeline_stage: a restore may load this summary before
	 * them (doc/design.md §1).  Without them, report() checks the summary
	 * at its first use; kinds never change once a stage exists, so a dumped
	 * summary passes after any restore order.
	 */
	if (outcomes && pipeline->configured)
		SummaryCheckOutcomes(pipeline, s, sqlstate);
	return s;
}

PG_FUNCTION_INFO_V1(funnel_summary_in);
Datum
funnel_summary_in(PG_FUNCTION_ARGS)
{
	JsonReader	r;
	char	   *pipeline_name;
	int			allocated = 16;
	int			n = 0;
	int			scale = 0;
	bool		outcomes = false;
	bool		moved = false;
	SummaryInput *in = palloc0(allocated * sizeof(SummaryInput));
	int		   *scales = palloc(allocated * 2 * sizeof(int));
	int			i;

	r.input = r.p = PG_GETARG_CSTRING(0);
	r.type = "funnel_summary";
	r.noun = "funnel summary";
	r.hint = SUMMARY_HINT;
	JsonExpect(&r, '{');
	JsonExpectKey(&r, "pipeline");
	pipeline_name = JsonReadString(&r);
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "stages");
	JsonExpect(&r, '[');
	if (!JsonAccept(&r, ']'))
	{
		do
		{
			if (n == allocated)
			{
				allocated *= 2;
				in = repalloc(in, allocated * sizeof(SummaryInput));
				scales = repalloc(scales, allocated * 2 * sizeof(int));
			}
			memset(&in[n], 0, sizeof(SummaryInput));
			scales[2 * n + 1] = 0;
			JsonExpect(&r, '{');
			JsonExpectKey(&r, "stage");
			in[n].name = JsonReadString(&r);
			JsonExpect(&r, ',');
			JsonExpectKey(&r, "deals");
			in[n].c.deals = JsonReadCount(&r);
			JsonExpect(&r, ',');
			JsonExpectKey(&r, "amount_count");
			in[n].c.amount_count = JsonReadCount(&r);
			JsonExpect(&r, ',');
			JsonExpectKey(&r, "amount");
			in[n].c.amount = JsonReadDecimal(&r, &scales[2 * n]);
			scale = Max(scale, scales[2 * n]);
			/* the outcome counters: on every stage, or on none */
			if (n == 0)
				outcomes = JsonAccept(&r, ',');
			else if (outcomes)
				JsonExpect(&r, ',');
			if (outcomes)
			{
				JsonExpectKey(&r, "open");
				in[n].c.open = JsonReadCount(&r);
				JsonExpect(&r, ',');
				JsonExpectKey(&r, "lost_here");
				in[n].c.lost_here = JsonReadCount(&r);
				JsonExpect(&r, ',');
				JsonExpectKey(&r, "current");
				in[n].c.current = JsonReadCount(&r);
				JsonExpect(&r, ',');
				JsonExpectKey(&r, "current_amount_count");
				in[n].c.current_amount_count = JsonReadCount(&r);
				JsonExpect(&r, ',');
				JsonExpectKey(&r, "current_amount");
				in[n].c.current_amount = JsonReadDecimal(&r, &scales[2 * n + 1]);
				scale = Max(scale, scales[2 * n + 1]);
				/* the moved counters (version 3): on every stage, or on none */
				if (n == 0)
					moved = JsonAccept(&r, ',');
				else if (moved)
					JsonExpect(&r, ',');
				if (moved)
				{
					JsonExpectKey(&r, "moved");
					in[n].c.moved = JsonReadCount(&r);
					JsonExpect(&r, ',');
					JsonExpectKey(&r, "moved_here");
					in[n].c.moved_here = JsonReadCount(&r);
				}
			}
			JsonExpect(&r, '}');
			n++;
		} while (JsonAccept(&r, ','));
		JsonExpect(&r, ']');
	}
	JsonExpect(&r, '}');
	JsonExpectEnd(&r);

	for (i = 0; i < n; i++)
	{
		in[i].c.amount = DecRescale(in[i].c.amount, scales[2 * i], scale);
		in[i].c.current_amount = DecRescale(in[i].c.current_amount, scales[2 * i + 1], scale);
	}
	PG_RETURN_POINTER(SummaryFromInput(pipeline_name, n, in, outcomes, scale,
									   ERRCODE_INVALID_TEXT_REPRESENTATION));
}

/*
 * Binary form: version byte, pipeline name, int16 scale, int32 count, then
 * per stage: name, int64 deals, int64 amount_count, int128 amount; with
 * version 2 (outcomes) also int64 open, lost_here, current,
 * current_amount_count and int128 current_amount; with version 3 (outcomes
 * and moved deals) then also int64 moved and moved_here.
 */
PG_FUNCTION_INFO_V1(funnel_summary_send);
Datum
funnel_summary_send(PG_FUNCTION_ARGS)
{
	FunnelSummary *s = PG_GETARG_SUMMARY(0);
	FunnelPipeline *pipeline = SummaryPipelineOrError(s);
	const SummaryEntry **by_stage = SummaryEntriesByStage(s, pipeline);
	bool		outcomes = (s->flags & SUMMARY_OUTCOMES) != 0;
	bool		moved = SummaryHasMoved(s);
	StringInfoData buf;
	int			i;

	/* every stage, in the current order, as the text form */
	pq_begintypsend(&buf);
	pq_sendint8(&buf, moved ? FUNNEL_SUMMARY_VERSION :
				outcomes ? FUNNEL_SUMMARY_VERSION_2 : FUNNEL_SUMMARY_VERSION_1);
	pq_sendstring(&buf, NameStr(pipeline->name));
	pq_sendint16(&buf, s->scale);
	pq_sendint32(&buf, pipeline->nstages);
	for (i = 0; i < pipeline->nstages; i++)
	{
		const SummaryEntry *e = by_stage[i];
		FunnelStage *stage = &pipeline->stages[i];

		pq_sendstring(&buf, NameStr(stage->name));
		pq_sendint64(&buf, e->deals);
		pq_sendint64(&buf, e->amount_count);
		DecSend(&buf, e->amount);
		if (outcomes)
		{
			pq_sendint64(&buf, e->open);
			pq_sendint64(&buf, e->lost_here);
			pq_sendint64(&buf, e->current);
			pq_sendint64(&buf, e->current_amount_count);
			DecSend(&buf, e->current_amount);
		}
		if (moved)
		{
			pq_sendint64(&buf, e->moved);
			pq_sendint64(&buf, e->moved_here);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(funnel_summary_recv);
Datum
funnel_summary_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgint(buf, 1);
	bool		outcomes = (version >= FUNNEL_SUMMARY_VERSION_2);
	bool		moved = (version == FUNNEL_SUMMARY_VERSION);
	const char *pipeline_name;
	int			scale;
	int			n;
	int			min_size;
	SummaryInput *in;
	int			i;

	if (version < FUNNEL_SUMMARY_VERSION_1 || version > FUNNEL_SUMMARY_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported binary format version %d of type funnel_summary",
						version),
				 errhint("This server reads versions %d to %d.",
						 FUNNEL_SUMMARY_VERSION_1, FUNNEL_SUMMARY_VERSION)));
	pipeline_name = pq_getmsgstring(buf);
	scale = (int16) pq_getmsgint(buf, 2);
	n = (int32) pq_getmsgint(buf, 4);
	if (scale < 0 || scale > DEC_MAX_SCALE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid funnel summary: scale %d", scale),
				 errdetail("The scale of amounts is between 0 and %d.", DEC_MAX_SCALE)));
	/* each stage takes at least 33 (81, 97) bytes: refuse a count the data cannot hold */
	min_size = moved ? 97 : outcomes ? 81 : 33;
	if (n < 0 || n > (buf->len - buf->cursor) / min_size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid funnel summary: stage count %d does not fit in the remaining %d bytes",
						n, buf->len - buf->cursor)));
	in = palloc0(Max(n, 1) * sizeof(SummaryInput));
	for (i = 0; i < n; i++)
	{
		in[i].name = pstrdup(pq_getmsgstring(buf));
		in[i].c.deals = pq_getmsgint64(buf);
		in[i].c.amount_count = pq_getmsgint64(buf);
		in[i].c.amount = DecRecv(buf);
		if (outcomes)
		{
			in[i].c.open = pq_getmsgint64(buf);
			in[i].c.lost_here = pq_getmsgint64(buf);
			in[i].c.current = pq_getmsgint64(buf);
			in[i].c.current_amount_count = pq_getmsgint64(buf);
			in[i].c.current_amount = DecRecv(buf);
		}
		if (moved)
		{
			in[i].c.moved = pq_getmsgint64(buf);
			in[i].c.moved_here = pq_getmsgint64(buf);
		}
	}
	PG_RETURN_POINTER(SummaryFromInput(pipeline_name, n, in, outcomes, scale,
									   ERRCODE_INVALID_BINARY_REPRESENTATION));
}
