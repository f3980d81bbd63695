/*-------------------------------------------------------------------------
 *
 * deal_stage_io.c
 *	  Text and binary I/O of funnel.deal_stage, its type modifier (which
 *	  binds a column to one pipeline) and the coercion that applies it.
 *
 * The text form is 'pipeline:stage'.  Input also takes a bare 'stage' when
 * exactly one pipeline has it, or when the type modifier names the pipeline.
 * A bare name shared by several pipelines, read where no type modifier is
 * known (SQL literals are always read with typmod -1), raises the ambiguity
 * error, except where unresolved.c knows the value will be resolved (the
 * typmod coercion of a bound column, a tracked table's trigger) before it
 * can be stored; there it becomes an unresolved value (pipeline OID 0).  Output is always qualified, so it round-trips
 * through input in every context, including pg_dump and pg_restore.
 *
 * src/type/deal_stage_io.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "funnel.h"

#define DEAL_STAGE_SEND_VERSION 1

static const char *const deal_stage_syntax =
"A stage is written as 'pipeline:stage', or as 'stage' where only one pipeline has that name.";

/* Raise the standard 22P02 error for a literal, with a detail */
static void
ReportBadLiteral(const char *str, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input value for type deal_stage: \"%s\"", str),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/* Hint for names that differ from a valid one only by invisible characters */
static const char *
WhitespaceHint(const char *str)
{
	size_t		len = strlen(str);
	char	   *invisible;

	if (len > 0 && (isspace((unsigned char) str[0]) ||
					isspace((unsigned char) str[len - 1])))
		return "Names are matched exactly: remove the leading or trailing white space.";
	invisible = FunnelNameInvisibleChar(str);
	if (invisible != NULL)
		return psprintf("Names are matched exactly, and no name contains the invisible or white-space character %s found in the value.",
						invisible);
	return NULL;
}

/* The stage of a pipeline by name, or the 22P02 error listing valid stages */
static FunnelStage *
StageOrError(FunnelPipeline *pipeline, const char *name, const char *str)
{
	FunnelStage *stage = FunnelLookupStageByName(pipeline, name);

	if (stage == NULL)
		ReportBadLiteral(str,
						 psprintf("Pipeline \"%s\" has no stage \"%s\". Its stages are: %s.",
								  NameStr(pipeline->name), name,
								  FunnelStageList(pipeline)),
						 WhitespaceHint(name));
	return stage;
}

/*
 * Refuse a stage added to an existing pipeline by the current transaction,
 * as PostgreSQL does for enum values (see pipeline_cache.c).
 */
void
DealStageCheckUsable(FunnelStage *stage)
{
	if (!stage->usable)
		ereport(ERROR,
				(errcode(ERRCODE_UNSAFE_NEW_ENUM_VALUE_USAGE),
				 errmsg("unsafe use of new stage \"%s:%s\"",
						NameStr(stage->pipeline->name), NameStr(stage->name)),
				 errdetail("The stage was added by the current transaction."),
				 errhint("New stages must be committed before they can be used.")));
}

/* The pipeline bound by a type modifier, or an error */
static FunnelPipeline *
PipelineOfTypmod(int32 typmod)
{
	FunnelPipeline *pipeline = FunnelLookupPipelineByTypmod(typmod);

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type modifier %d of deal_stage names no existing pipeline",
						typmod)));
	return pipeline;
}

/*
 * Resolve a bare name where no pipeline is known.  A name several pipelines
 * have stays unresolved only where unresolved.c allows it (the caller is the
 * type's input function, reading a literal whose query is checked, or a
 * COPY into a tracked stage column); elsewhere it is an error.
 */
static DealStage
ResolveBareName(const char *str, bool may_stay_unresolved)
{
	FunnelStage *found = NULL;
	int			nfound = 0;
	int			i;

	for (i = 0; i < FunnelPipelineCount(); i++)
	{
		FunnelStage *stage = FunnelLookupStageByName(FunnelPipelineByIndex(i), str);

		if (stage != NULL)
		{
			if (found == NULL)
				found = stage;
			nfound++;
		}
	}

	if (nfound == 0)
	{
		StringInfoData detail;

		initStringInfo(&detail);
		if (FunnelPipelineCount() == 0)
			ReportBadLiteral(str, "No pipeline exists yet.",
							 "Create one with funnel.create_pipeline().");
		/* no pipeline at hand: list none (other tenants' stages) */
		appendStringInfo(&detail, "No pipeline has a stage \"%s\".", str);
		ReportBadLiteral(str, detail.data,
						 WhitespaceHint(str) ? WhitespaceHint(str) :
						 psprintf("%s SELECT * FROM funnel.stages lists the stages of every pipeline.",
								  deal_stage_syntax));
	}

	if (nfound > 1)
	{
		if (!may_stay_unresolved ||
			!DealStageMayStayUnresolved(str, found->label))
			FunnelReportAmbiguousName(str);
		return MakeDealStage(InvalidOid, found->label);
	}
	DealStageCheckUsable(found);
	return MakeDealStage(found->pipeline->typoid, found->label);
}

/*
 * Parse the text form.  typmod >= 0 binds the value to one pipeline.
 * from_input: called by the type's input or receive function (see
 * ResolveBareName).
 */
DealStage
DealStageFromText(const char *str, int32 typmod, bool from_input)
{
	const char *separator = strchr(str, FUNNEL_SEPARATOR);
	FunnelPipeline *pipeline;
	FunnelStage *stage;

	if (*str == '\0')
		ReportBadLiteral(str, "The value is empty.", deal_stage_syntax);

	if (separator == NULL)
	{
		if (strlen(str) > FUNNEL_NAME_MAX)
			ReportBadLiteral(str, psprintf("Stage names are at most %d bytes.",
										   FUNNEL_NAME_MAX), NULL);
		if (typmod < 0)
			return ResolveBareName(str, from_input);
		pipeline = PipelineOfTypmod(typmod);
		stage = StageOrError(pipeline, str, str);
	}
	else
	{
		int			pipeline_len = separator - str;
		char	   *pipeline_name = pnstrdup(str, pipeline_len);
		const char *stage_name = separator + 1;

		if (pipeline_len == 0 || *stage_name == '\0')
			ReportBadLiteral(str, pipeline_len == 0 ?
							 "The pipeline name before \":\" is empty." :
							 "The stage name after \":\" is empty.",
							 deal_stage_syntax);
		if (pipeline_len > FUNNEL_NAME_MAX || strlen(stage_name) > FUNNEL_NAME_MAX)
			ReportBadLiteral(str, psprintf("Pipeline and stage names are at most %d bytes.",
										   FUNNEL_NAME_MAX), NULL);
		pipeline = FunnelLookupPipelineByName(pipeline_name);
		if (pipeline == NULL)
			ReportBadLiteral(str,
							 FunnelPipelineCount() == 0 ?
							 psprintf("Pipeline \"%s\" does not exist; no pipeline exists yet.",
									  pipeline_name) :
							 psprintf("Pipeline \"%s\" does not exist.", pipeline_name),
							 WhitespaceHint(pipeline_name) ?
							 WhitespaceHint(pipeline_name) : FUNNEL_PIPELINES_HINT);
		if (typmod >= 0 && PipelineTypmod(pipeline->typoid) != typmod)
			ReportBadLiteral(str,
							 psprintf("The column is bound to pipeline \"%s\".",
									  NameStr(PipelineOfTypmod(typmod)->name)),
							 NULL);
		stage = StageOrError(pipeline, stage_name, str);
	}

	DealStageCheckUsable(stage);
	return MakeDealStage(pipeline->typoid, stage->label);
}

/* The qualified text form */
char *
DealStageToText(DealStage s)
{
	FunnelStage *stage = FunnelGetStage(s);

	return psprintf("%s%c%s", NameStr(stage->pipeline->name),
					FUNNEL_SEPARATOR, NameStr(stage->name));
}

/*
 * Resolve an unresolved value in a pipeline, or check that a resolved value
 * belongs to it.
 */
DealStage
DealStageResolve(DealStage s, FunnelPipeline *pipeline)
{
	FunnelStage *stage;

	if (!DealStageIsUnresolved(s))
	{
		if (DealStagePipelineOid(s) != pipeline->typoid)
		{
			char	   *text = DealStageToText(s);

			ReportBadLiteral(text,
							 psprintf("The value belongs to pipeline \"%s\"; the column is bound to pipeline \"%s\".",
									  NameStr(FunnelGetStage(s)->pipeline->name),
									  NameStr(pipeline->name)),
							 NULL);
		}
		return s;
	}

	stage = FunnelLookupStageByLabel(DealStageLabelOid(s));
	if (stage == NULL)
		DealStageReportAmbiguous(s);
	stage = StageOrError(pipeline, NameStr(stage->name), NameStr(stage->name));
	DealStageCheckUsable(stage);
	return MakeDealStage(pipeline->typoid, stage->label);
}

/* Resolve an unresolved value in the pipeline a type modifier binds */
DealStage
DealStageResolveTypmod(DealStage s, int32 typmod)
{
	return DealStageResolve(s, PipelineOfTypmod(typmod));
}

/*
 * The text of a stage given as text (see funnel.h).  A leading byte 1,
 * which no name may contain, is the binary form's version byte.
 */
char *
DealStageTextArg(struct varlena *t)
{
	char	   *str = text_to_cstring((text *) t);

	return str[0] == DEAL_STAGE_SEND_VERSION ? str + 1 : str;
}

PG_FUNCTION_INFO_V1(deal_stage_in);
Datum
deal_stage_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);

	PG_RETURN_DEAL_STAGE(DealStageFromText(str, typmod, true));
}

/*
 * funnel.deal_stage(text, typmod, explicit): the cast from text and varchar.
 * Unlike an I/O conversion cast it receives the target's type modifier, so
 * a bare name is resolved in the pipeline of a bound column; an ambiguous
 * bare name cast to an unbound type is an error.
 */
PG_FUNCTION_INFO_V1(deal_stage_from_text);
Datum
deal_stage_from_text(PG_FUNCTION_ARGS)
{
	char	   *str = DealStageTextArg(PG_GETARG_TEXT_PP(0));
	int32		typmod = PG_GETARG_INT32(1);

	PG_RETURN_DEAL_STAGE(DealStageFromText(str, typmod, false));
}

PG_FUNCTION_INFO_V1(deal_stage_out);
Datum
deal_stage_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(DealStageToText(PG_GETARG_DEAL_STAGE(0)));
}

/*
 * Binary form: a version byte, then the qualified text form, so that values
 * move between databases whose OIDs differ (as enum_send sends the label).
 */
PG_FUNCTION_INFO_V1(deal_stage_send);
Datum
deal_stage_send(PG_FUNCTION_ARGS)
{
	char	   *text = DealStageToText(PG_GETARG_DEAL_STAGE(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint8(&buf, DEAL_STAGE_SEND_VERSION);
	pq_sendtext(&buf, text, strlen(text));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(deal_stage_recv);
Datum
deal_stage_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			version = pq_getmsgint(buf, 1);
	char	   *text;
	int			nbytes;

	if (version != DEAL_STAGE_SEND_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported binary format version %d of type deal_stage",
						version),
				 errhint("This server reads version %d.", DEAL_STAGE_SEND_VERSION)));
	text = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);
	if (strlen(text) != (size_t) nbytes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("binary deal_stage value contains a zero byte")));
	PG_RETURN_DEAL_STAGE(DealStageFromText(text, typmod, true));
}

/* funnel.deal_stage(pipeline): the modifier is the pipeline's typmod */
PG_FUNCTION_INFO_V1(deal_stage_typmod_in);
Datum
deal_stage_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	int			nelems;
	char	   *name;
	FunnelPipeline *pipeline;

	deconstruct_array(array, CSTRINGOID, -2, false, TYPALIGN_CHAR,
					  &elems, NULL, &nelems);
	if (nelems != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("type deal_stage takes one modifier, the pipeline name"),
				 errhint("Write funnel.deal_stage(b2b) to bind a column to pipeline \"b2b\".")));
	name = DatumGetCString(elems[0]);
	pipeline = FunnelLookupPipelineByName(name);
	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", name),
				 FunnelPipelineCount() > 0 ?
				 errhint(FUNNEL_PIPELINES_HINT) :
				 errhint("Create one with funnel.create_pipeline().")));
	PG_RETURN_INT32(PipelineTypmod(pipeline->typoid));
}

PG_FUNCTION_INFO_V1(deal_stage_typmod_out);
Datum
deal_stage_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);
	FunnelPipeline *pipeline;

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	pipeline = FunnelLookupPipelineByTypmod(typmod);
	if (pipeline == NULL)
		PG_RETURN_CSTRING(psprintf("(%d)", typmod));
	PG_RETURN_CSTRING(psprintf("(%s)", quote_identifier(NameStr(pipeline->name))));
}

/*
 * funnel.deal_stage(deal_stage, typmod, explicit): the length-coercion cast
 * applied on assignment to a bound column.
 */
PG_FUNCTION_INFO_V1(deal_stage_enforce_typmod);
Datum
deal_stage_enforce_typmod(PG_FUNCTION_ARGS)
{
	DealStage	s = PG_GETARG_DEAL_STAGE(0);
	int32		typmod = PG_GETARG_INT32(1);

	if (typmod < 0)
		PG_RETURN_DEAL_STAGE(s);
	PG_RETURN_DEAL_STAGE(DealStageResolve(s, PipelineOfTypmod(typmod)));
}
