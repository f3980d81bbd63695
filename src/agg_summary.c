/*-------------------------------------------------------------------------
 *
 * agg_summary.c
 *	  The type funnel.funnel_summary, the aggregates funnel.funnel(stage
 *	  [, amount]) and funnel.funnel(summary), and the set-returning function
 *	  funnel.report(summary).
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
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/tuplestore.h"

#include "agg.h"

#define FUNNEL_SUMMARY_VERSION 1

typedef struct SummaryEntry
{
	Oid			label;			/* stage (pg_enum OID) */
	int32		pad;
	int64		deals;			/* deals whose input is this stage */
	int64		amount_count;	/* of those, the ones with an amount */
	int128		amount;			/* their total, scaled by 10^scale */
} SummaryEntry;

typedef struct FunnelSummary
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		version;
	uint8		flags;			/* reserved, 0 */
	int16		scale;			/* decimal scale of every amount */
	Oid			pipeline;		/* pipeline enum type OID */
	int32		nentries;
	int32		pad;
	SummaryEntry entries[FLEXIBLE_ARRAY_MEMBER];
} FunnelSummary;

#define SUMMARY_SIZE(n) (offsetof(FunnelSummary, entries) + (n) * sizeof(SummaryEntry))
#define DatumGetSummary(d) ((FunnelSummary *) PG_DETOAST_DATUM(d))
#define PG_GETARG_SUMMARY(n) DatumGetSummary(PG_GETARG_DATUM(n))

/* A zeroed summary with one entry per stage of the pipeline, in order */
static FunnelSummary *
NewSummary(FunnelPipeline *pipeline)
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
static const char *
PipelineName(Oid typoid)
{
	FunnelPipeline *p = FunnelLookupPipeline(typoid);

	return p ? NameStr(p->name) : "?";
}

/* Refuse to put stages of two pipelines in one summary */
static void
CheckSummaryPipeline(FunnelSummary *s, Oid pipeline)
{
	if (s->pipeline != pipeline)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot mix pipelines \"%s\" and \"%s\" in one funnel summary",
						PipelineName(s->pipeline), PipelineName(pipeline)),
				 errdetail("A funnel summary counts the stages of one pipeline."),
				 errhint("Group by funnel.pipeline_of(stage), or filter on one pipeline.")));
}

/* Raise every amount of s to a larger scale, in place */
static void
RescaleSummary(FunnelSummary *s, int scale)
{
	int			i;

	if (scale <= s->scale)
		return;
	for (i = 0; i < s->nentries; i++)
		s->entries[i].amount = DecRescale(s->entries[i].amount, s->scale, scale);
	s->scale = scale;
}

/*
 * The entry of a stage; "guess" is its likely index.  Returns -1 if the
 * summary has no entry for it (a stage added after the summary was made).
 */
static inline int
FindEntry(const FunnelSummary *s, Oid label, int guess)
{
	int			i;

	if (guess >= 0 && guess < s->nentries && s->entries[guess].label == label)
		return guess;
	for (i = 0; i < s->nentries; i++)
		if (s->entries[i].label == label)
			return i;
	return -1;
}

/* A copy of s with one more (zeroed) entry, in the current context */
static FunnelSummary *
AddEntry(FunnelSummary *s, Oid label)
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
		s = NewSummary(FunnelLookupPipeline(info->pipeline));	/* copied by nodeAgg */
	else
		s = (FunnelSummary *) PG_GETARG_POINTER(0);
	if (unlikely(s->pipeline != info->pipeline))
		CheckSummaryPipeline(s, info->pipeline);

	i = FindEntry(s, info->label, info->position - 1);
	if (unlikely(i < 0))
	{
		s = AddEntry(s, info->label);
		i = s->nentries - 1;
	}
	e = &s->entries[i];
	e->deals++;

	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		int128		value;
		int			scale;

		value = DecFromNumeric(PG_GETARG_DATUM(2), &scale, "amount");
		if (unlikely(scale > s->scale))
			RescaleSummary(s, scale);
		else if (scale < s->scale)
			value = DecRescale(value, scale, s->scale);
		e->amount = DecAdd(e->amount, value);
		e->amount_count++;
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

	CheckSummaryPipeline(s1, s2->pipeline);
	if (s2->scale > s1->scale)
		RescaleSummary(s1, s2->scale);
	for (i = 0; i < s2->nentries; i++)
	{
		const SummaryEntry *e2 = &s2->entries[i];
		SummaryEntry *e1;
		int			j = FindEntry(s1, e2->label, i);

		if (j < 0)
		{
			s1 = AddEntry(s1, e2->label);
			j = s1->nentries - 1;
		}
		e1 = &s1->entries[j];
		e1->deals += e2->deals;
		e1->amount_count += e2->amount_count;
		e1->amount = DecAdd(e1->amount,
							DecRescale(e2->amount, s2->scale, s1->scale));
	}
	PG_RETURN_POINTER(s1);
}

/*
 * Text form (JSON):
 * {"pipeline": "b2b", "stages": [{"stage": "lead", "deals": 3,
 *   "amount_count": 2, "amount": 150.00}, ...]}
 */

/* Append a JSON string */
static void
AppendJsonString(StringInfo buf, const char *str)
{
	escape_json(buf, str);
}

PG_FUNCTION_INFO_V1(funnel_summary_out);
Datum
funnel_summary_out(PG_FUNCTION_ARGS)
{
	FunnelSummary *s = PG_GETARG_SUMMARY(0);
	FunnelPipeline *pipeline = FunnelLookupPipeline(s->pipeline);
	StringInfoData buf;
	int			i;

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("funnel summary refers to a pipeline that does not exist"),
				 errdetail("Pipeline type OID %u.", s->pipeline)));
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"pipeline\": ");
	AppendJsonString(&buf, NameStr(pipeline->name));
	appendStringInfoString(&buf, ", \"stages\": [");
	for (i = 0; i < s->nentries; i++)
	{
		const SummaryEntry *e = &s->entries[i];
		FunnelStage *stage = FunnelLookupStageByLabel(e->label);

		if (stage == NULL || stage->pipeline->typoid != s->pipeline)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("funnel summary refers to a stage that does not exist"),
					 errdetail("Stage OID %u of pipeline \"%s\".", e->label,
							   NameStr(pipeline->name))));
		appendStringInfoString(&buf, i > 0 ? ", {\"stage\": " : "{\"stage\": ");
		AppendJsonString(&buf, NameStr(stage->name));
		appendStringInfo(&buf, ", \"deals\": " INT64_FORMAT
						 ", \"amount_count\": " INT64_FORMAT ", \"amount\": ",
						 e->deals, e->amount_count);
		DecAppend(&buf, e->amount, s->scale);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_CSTRING(buf.data);
}

/* A tiny reader for exactly the JSON shape funnel_summary_out writes */
typedef struct SummaryReader
{
	const char *input;
	const char *p;
} SummaryReader;

static void
SummarySyntaxError(SummaryReader *r, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type funnel_summary: \"%s\"", r->input),
			 errdetail("Expected %s at character %d.", expected,
					   (int) (r->p - r->input) + 1),
			 errhint("A summary is written as {\"pipeline\": \"b2b\", \"stages\": [{\"stage\": \"lead\", \"deals\": 3, \"amount_count\": 2, \"amount\": 150.00}]}.")));
}

static void
SkipSpace(SummaryReader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

/* Consume one punctuation character, or fail */
static void
Expect(SummaryReader *r, char c)
{
	char		what[4] = {'"', c, '"', '\0'};

	SkipSpace(r);
	if (*r->p != c)
		SummarySyntaxError(r, what);
	r->p++;
}

/* Consume c if it comes next */
static bool
Accept(SummaryReader *r, char c)
{
	SkipSpace(r);
	if (*r->p != c)
		return false;
	r->p++;
	return true;
}

/* A JSON string (escapes \" \\ \/ \b \f \n \r \t \uXXXX) */
static char *
ReadString(SummaryReader *r)
{
	StringInfoData buf;

	SkipSpace(r);
	if (*r->p != '"')
		SummarySyntaxError(r, "a double-quoted string");
	r->p++;
	initStringInfo(&buf);
	while (*r->p != '"')
	{
		if (*r->p == '\0')
			SummarySyntaxError(r, "a closing double quote");
		if (*r->p != '\\')
		{
			appendStringInfoChar(&buf, *r->p++);
			continue;
		}
		r->p++;
		switch (*r->p)
		{
			case '"':
			case '\\':
			case '/':
				appendStringInfoChar(&buf, *r->p);
				break;
			case 'b':
				appendStringInfoChar(&buf, '\b');
				break;
			case 'f':
				appendStringInfoChar(&buf, '\f');
				break;
			case 'n':
				appendStringInfoChar(&buf, '\n');
				break;
			case 'r':
				appendStringInfoChar(&buf, '\r');
				break;
			case 't':
				appendStringInfoChar(&buf, '\t');
				break;
			case 'u':
				{
					unsigned int code = 0;
					int			k;
					unsigned char utf8[8];

					for (k = 1; k <= 4; k++)
					{
						char		h = r->p[k];

						code <<= 4;
						if (h >= '0' && h <= '9')
							code |= h - '0';
						else if (h >= 'a' && h <= 'f')
							code |= h - 'a' + 10;
						else if (h >= 'A' && h <= 'F')
							code |= h - 'A' + 10;
						else
							SummarySyntaxError(r, "four hexadecimal digits after \\u");
					}
					if (code == 0 || (code >= 0xD800 && code <= 0xDFFF))
						SummarySyntaxError(r, "a non-zero, non-surrogate \\u escape");
					unicode_to_utf8(code, utf8);
					appendBinaryStringInfo(&buf, (char *) utf8, pg_utf_mblen(utf8));
					r->p += 4;
				}
				break;
			default:
				SummarySyntaxError(r, "a valid escape after \\");
		}
		r->p++;
	}
	r->p++;
	return buf.data;
}

/* "key": */
static void
ExpectKey(SummaryReader *r, const char *key)
{
	const char *start = r->p;
	char	   *found = ReadString(r);

	if (strcmp(found, key) != 0)
	{
		r->p = start;
		SkipSpace(r);
		SummarySyntaxError(r, psprintf("key \"%s\"", key));
	}
	Expect(r, ':');
}

static int128
ReadDecimal(SummaryReader *r, int *scale)
{
	int128		value;
	const char *end;

	SkipSpace(r);
	end = DecParse(r->p, &value, scale);
	if (end == NULL)
		SummarySyntaxError(r, "a number");
	r->p = end;
	return value;
}

static int64
ReadCount(SummaryReader *r)
{
	int			scale;
	int128		value = ReadDecimal(r, &scale);

	if (scale != 0 || value < 0 || value > PG_INT64_MAX)
		SummarySyntaxError(r, "a non-negative integer count");
	return (int64) value;
}

/* The summary of a pipeline name and stage names (text and binary input) */
static FunnelSummary *
SummaryFromNames(const char *pipeline_name, int n, char **stage_names,
				 int64 *deals, int64 *amount_counts, int128 *amounts,
				 int scale, int sqlstate)
{
	FunnelPipeline *pipeline = FunnelLookupPipelineByName(pipeline_name);
	FunnelSummary *s;
	int			i;

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid funnel summary: pipeline \"%s\" does not exist",
						pipeline_name),
				 FunnelPipelineCount() > 0 ?
				 errdetail("Existing pipelines: %s.", FunnelPipelineList()) : 0));
	s = NewSummary(pipeline);
	s->scale = scale;
	for (i = 0; i < n; i++)
	{
		FunnelStage *stage = FunnelLookupStageByName(pipeline, stage_names[i]);
		SummaryEntry *e;
		int			j;

		if (stage == NULL)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: pipeline \"%s\" has no stage \"%s\"",
							pipeline_name, stage_names[i]),
					 errdetail("Its stages are: %s.", FunnelStageList(pipeline))));
		j = FindEntry(s, stage->label, stage->position - 1);
		e = &s->entries[j];
		if (deals[i] < 0 || amount_counts[i] < 0 || amount_counts[i] > deals[i])
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: inconsistent counts for stage \"%s\"",
							stage_names[i]),
					 errdetail("Counts are non-negative and amount_count is at most deals.")));
		e->deals += deals[i];
		e->amount_count += amount_counts[i];
		e->amount = DecAdd(e->amount, amounts[i]);
	}
	return s;
}

PG_FUNCTION_INFO_V1(funnel_summary_in);
Datum
funnel_summary_in(PG_FUNCTION_ARGS)
{
	SummaryReader r;
	char	   *pipeline_name;
	int			allocated = 16;
	int			n = 0;
	int			scale = 0;
	char	  **names = palloc(allocated * sizeof(char *));
	int64	   *deals = palloc(allocated * sizeof(int64));
	int64	   *counts = palloc(allocated * sizeof(int64));
	int128	   *amounts = palloc(allocated * sizeof(int128));
	int		   *scales = palloc(allocated * sizeof(int));
	int			i;

	r.input = r.p = PG_GETARG_CSTRING(0);
	Expect(&r, '{');
	ExpectKey(&r, "pipeline");
	pipeline_name = ReadString(&r);
	Expect(&r, ',');
	ExpectKey(&r, "stages");
	Expect(&r, '[');
	if (!Accept(&r, ']'))
	{
		do
		{
			if (n == allocated)
			{
				allocated *= 2;
				names = repalloc(names, allocated * sizeof(char *));
				deals = repalloc(deals, allocated * sizeof(int64));
				counts = repalloc(counts, allocated * sizeof(int64));
				amounts = repalloc(amounts, allocated * sizeof(int128));
				scales = repalloc(scales, allocated * sizeof(int));
			}
			Expect(&r, '{');
			ExpectKey(&r, "stage");
			names[n] = ReadString(&r);
			Expect(&r, ',');
			ExpectKey(&r, "deals");
			deals[n] = ReadCount(&r);
			Expect(&r, ',');
			ExpectKey(&r, "amount_count");
			counts[n] = ReadCount(&r);
			Expect(&r, ',');
			ExpectKey(&r, "amount");
			amounts[n] = ReadDecimal(&r, &scales[n]);
			scale = Max(scale, scales[n]);
			Expect(&r, '}');
			n++;
		} while (Accept(&r, ','));
		Expect(&r, ']');
	}
	Expect(&r, '}');
	SkipSpace(&r);
	if (*r.p != '\0')
		SummarySyntaxError(&r, "the end of the input");

	for (i = 0; i < n; i++)
		amounts[i] = DecRescale(amounts[i], scales[i], scale);
	PG_RETURN_POINTER(SummaryFromNames(pipeline_name, n, names, deals, counts,
									   amounts, scale,
									   ERRCODE_INVALID_TEXT_REPRESENTATION));
}

/*
 * Binary form: version byte, pipeline name, int16 scale, int32 count, then
 * per stage: name, int64 deals, int64 amount_count, int128 amount.
 */
PG_FUNCTION_INFO_V1(funnel_summary_send);
Datum
funnel_summary_send(PG_FUNCTION_ARGS)
{
	FunnelSummary *s = PG_GETARG_SUMMARY(0);
	FunnelPipeline *pipeline = FunnelLookupPipeline(s->pipeline);
	StringInfoData buf;
	int			i;

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("funnel summary refers to a pipeline that does not exist")));
	pq_begintypsend(&buf);
	pq_sendint8(&buf, FUNNEL_SUMMARY_VERSION);
	pq_sendstring(&buf, NameStr(pipeline->name));
	pq_sendint16(&buf, s->scale);
	pq_sendint32(&buf, s->nentries);
	for (i = 0; i < s->nentries; i++)
	{
		FunnelStage *stage = FunnelLookupStageByLabel(s->entries[i].label);

		if (stage == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("funnel summary refers to a stage that does not exist")));
		pq_sendstring(&buf, NameStr(stage->name));
		pq_sendint64(&buf, s->entries[i].deals);
		pq_sendint64(&buf, s->entries[i].amount_count);
		DecSend(&buf, s->entries[i].amount);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(funnel_summary_recv);
Datum
funnel_summary_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgint(buf, 1);
	const char *pipeline_name;
	int			scale;
	int			n;
	char	  **names;
	int64	   *deals;
	int64	   *counts;
	int128	   *amounts;
	int			i;

	if (version != FUNNEL_SUMMARY_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported binary format version %d of type funnel_summary",
						version),
				 errhint("This server reads version %d.", FUNNEL_SUMMARY_VERSION)));
	pipeline_name = pq_getmsgstring(buf);
	scale = pq_getmsgint(buf, 2);
	n = pq_getmsgint(buf, 4);
	if (scale < 0 || scale > DEC_MAX_SCALE || n < 0 || n > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid funnel summary: scale %d, %d stages", scale, n)));
	names = palloc(Max(n, 1) * sizeof(char *));
	deals = palloc(Max(n, 1) * sizeof(int64));
	counts = palloc(Max(n, 1) * sizeof(int64));
	amounts = palloc(Max(n, 1) * sizeof(int128));
	for (i = 0; i < n; i++)
	{
		names[i] = pstrdup(pq_getmsgstring(buf));
		deals[i] = pq_getmsgint64(buf);
		counts[i] = pq_getmsgint64(buf);
		amounts[i] = DecRecv(buf);
	}
	PG_RETURN_POINTER(SummaryFromNames(pipeline_name, n, names, deals, counts,
									   amounts, scale,
									   ERRCODE_INVALID_BINARY_REPRESENTATION));
}

/* A conversion ratio, NULL when the base is zero */
static inline void
SetRatio(Datum *value, bool *isnull, int64 num, int64 den)
{
	if (den <= 0)
		*isnull = true;
	else
	{
		*value = Float8GetDatum((double) num / (double) den);
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

	pipeline = FunnelLookupPipeline(s->pipeline);
	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("funnel summary refers to a pipeline that does not exist"),
				 errdetail("Pipeline type OID %u.", s->pipeline)));
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
		int			j = FindEntry(s, stage->label, i);

		if (j < 0)
			continue;
		deals[i] = s->entries[j].deals;
		counts[i] = s->entries[j].amount_count;
		amounts[i] = s->entries[j].amount;
		if (stage->kind == STAGE_WON)
		{
			won_deals += deals[i];
			won_counts += counts[i];
			won_amount = DecAdd(won_amount, amounts[i]);
		}
	}

	/* reached[i]: input is open stage i or later, or won */
	reached[nopen] = won_deals;
	reached_counts[nopen] = won_counts;
	reached_amounts[nopen] = won_amount;
	for (i = nopen - 1; i >= 0; i--)
	{
		reached[i] = reached[i + 1] + deals[i];
		reached_counts[i] = reached_counts[i + 1] + counts[i];
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
