/*-------------------------------------------------------------------------
 *
 * funnel_summary_io.c
 *	  Text (JSON) and binary I/O of funnel.funnel_summary.
 *
 * In memory a summary refers to its pipeline and stages by OID; its text and
 * binary forms use the pipeline and stage NAMES, so a summary moves between
 * databases (and Citus nodes) whose OIDs differ.
 *
 * src/funnel_summary_io.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "funnel_summary.h"

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
	FunnelPipeline *pipeline = SummaryPipelineOrError(s);
	StringInfoData buf;
	int			i;

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
					unsigned char utf8[MAX_UNICODE_EQUIVALENT_STRING + 1];

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
					/* in the server encoding, whatever it is */
					pg_unicode_to_server(code, utf8);
					appendStringInfoString(&buf, (char *) utf8);
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
	const char *start;
	int			scale;
	int128		value;

	SkipSpace(r);
	start = r->p;
	value = ReadDecimal(r, &scale);
	if (scale != 0 || value < 0)
	{
		r->p = start;
		SummarySyntaxError(r, "a non-negative integer count");
	}
	if (value > PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("funnel summary count %.*s is out of range",
						(int) (r->p - start), start),
				 errdetail("Counts are bigint: at most %s.", "9223372036854775807")));
	return (int64) value;
}

/*
 * The summary of a pipeline name and stage names (text and binary input).
 * Each stage appears at most once, with 0 <= amount_count <= deals and a
 * zero amount when amount_count is 0: exactly the values the aggregates
 * make, so every summary that reads in also prints, reports and merges.
 */
static FunnelSummary *
SummaryFromNames(const char *pipeline_name, int n, char **stage_names,
				 int64 *deals, int64 *amount_counts, int128 *amounts,
				 int scale, int sqlstate)
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
				 FunnelPipelineCount() > 0 ?
				 errdetail("Existing pipelines: %s.", FunnelPipelineList()) : 0));
	s = SummaryNew(pipeline);
	s->scale = scale;
	seen = palloc0(Max(s->nentries, 1) * sizeof(bool));
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
		j = SummaryFindEntry(s, stage->label, stage->position - 1);
		if (j < 0)
			elog(ERROR, "stage %u missing from a new funnel summary", stage->label);
		if (seen[j])
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" appears more than once",
							stage_names[i]),
					 errdetail("A summary has one entry per stage.")));
		seen[j] = true;
		if (deals[i] < 0 || amount_counts[i] < 0 || amount_counts[i] > deals[i])
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" has deals " INT64_FORMAT " and amount_count " INT64_FORMAT,
							stage_names[i], deals[i], amount_counts[i]),
					 errdetail("Counts are non-negative and amount_count is at most deals.")));
		if (amount_counts[i] == 0 && amounts[i] != 0)
		{
			StringInfoData amount;

			initStringInfo(&amount);
			DecAppend(&amount, amounts[i], scale);
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid funnel summary: stage \"%s\" has amount %s but amount_count 0",
							stage_names[i], amount.data),
					 errdetail("The amount is the total of amount_count amounts.")));
		}
		e = &s->entries[j];
		e->deals = deals[i];
		e->amount_count = amount_counts[i];
		e->amount = amounts[i];
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
	FunnelPipeline *pipeline = SummaryPipelineOrError(s);
	StringInfoData buf;
	int			i;

	pq_begintypsend(&buf);
	pq_sendint8(&buf, FUNNEL_SUMMARY_VERSION);
	pq_sendstring(&buf, NameStr(pipeline->name));
	pq_sendint16(&buf, s->scale);
	pq_sendint32(&buf, s->nentries);
	for (i = 0; i < s->nentries; i++)
	{
		FunnelStage *stage = FunnelLookupStageByLabel(s->entries[i].label);

		if (stage == NULL || stage->pipeline->typoid != s->pipeline)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("funnel summary refers to a stage that does not exist"),
					 errdetail("Stage OID %u of pipeline \"%s\".", s->entries[i].label,
							   NameStr(pipeline->name))));
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
	scale = (int16) pq_getmsgint(buf, 2);
	n = (int32) pq_getmsgint(buf, 4);
	if (scale < 0 || scale > DEC_MAX_SCALE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid funnel summary: scale %d", scale),
				 errdetail("The scale of amounts is between 0 and %d.", DEC_MAX_SCALE)));
	/* each stage takes at least 33 bytes: refuse a count the data cannot hold */
	if (n < 0 || n > (buf->len - buf->cursor) / 33)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid funnel summary: stage count %d does not fit in the remaining %d bytes",
						n, buf->len - buf->cursor)));
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
