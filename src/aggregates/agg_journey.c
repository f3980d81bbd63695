/*-------------------------------------------------------------------------
 *
 * agg_journey.c
 *	  The per-deal aggregate funnel.journey(stage, entered_at) over a deal's
 *	  visits, its type funnel.journey (text and binary I/O) and accessors.
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
 * funnel.journey(stage, entered_at, left_at, pipeline) is the journey of a
 * deal in one pipeline of a tracked table that holds several, over all the
 * deal's visits: a deal that left the pipeline from an open stage to a
 * stage of another pipeline (and is not back) has outcome 'moved', its
 * current stage the stage of its latest visit (JourneyMoved(), journey.h).
 *
 * The state is the journey itself: 48 bytes, pass by reference, created in
 * the per-tuple context on the first row (nodeAgg copies it into the
 * aggregate context) and updated in place; combine merges two partial
 * journeys of one deal.  Stages are deal_stage values (OIDs); the text form
 * (JSON) and binary form carry names.
 *
 * src/aggregates/agg_journey.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "journey.h"

StaticAssertDecl(sizeof(Journey) == JOURNEY_SIZE, "journey is 48 bytes");

#define JOURNEY_BINARY_VERSION 1
/* the same layout, for a moved journey: its current stage qualified */
#define JOURNEY_BINARY_VERSION_MOVED 2

#define JOURNEY_HINT "A journey is written as {\"pipeline\": \"b2b\", \"outcome\": \"lost\", \"current\": \"lost\", \"current_entered_at\": \"2024-01-11T00:00:00+00:00\", \"furthest\": \"proposal\", \"last_open\": \"proposal\", \"last_open_entered_at\": \"2024-01-05T00:00:00+00:00\", \"first_entered_at\": \"2024-01-01T00:00:00+00:00\"}."

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
static bool
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
static bool
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

/* The configured stage of a journey's deal_stage, or an error */
static FunnelStage *
JourneyStage(DealStage s)
{
	return FunnelGetConfiguredStage(s);
}

/* Append a timestamp as a JSON string (ISO 8601, as to_json() writes it) */
static void
AppendTimestamp(StringInfo buf, TimestampTz t)
{
	char		iso[MAXDATELEN + 1];

	appendStringInfoChar(buf, '"');
	appendStringInfoString(buf, JsonEncodeDateTime(iso, TimestampTzGetDatum(t),
												   TIMESTAMPTZOID, NULL));
	appendStringInfoChar(buf, '"');
}

/* Append "key": "stage name" or null */
static void
AppendStage(StringInfo buf, const char *key, DealStage s)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (s == 0)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, NameStr(JourneyStage(s)->name));
}

/*
 * Text form (JSON), keys in this order:
 * {"pipeline", "outcome", "current", "current_entered_at", "furthest",
 *  "last_open", "last_open_entered_at", "first_entered_at"}
 */
PG_FUNCTION_INFO_V1(journey_out);
Datum
journey_out(PG_FUNCTION_ARGS)
{
	Journey    *j = PG_GETARG_JOURNEY(0);
	FunnelStage *current = JourneyStage(j->current);
	StringInfoData buf;
	bool		moved = JourneyMoved(j);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"pipeline\": ");
	escape_json(&buf, NameStr(moved ? JourneyStage(j->last_open)->pipeline->name :
							  current->pipeline->name));
	appendStringInfo(&buf, ", \"outcome\": \"%s\"",
					 moved ? JOURNEY_MOVED : StageKindName(current->kind));
	if (moved)
	{
		/* the stage of another pipeline, qualified */
		appendStringInfoString(&buf, ", \"current\": ");
		escape_json(&buf, DealStageToText(j->current));
	}
	else
		AppendStage(&buf, "current", j->current);
	appendStringInfoString(&buf, ", \"current_entered_at\": ");
	AppendTimestamp(&buf, j->current_at);
	AppendStage(&buf, "furthest", j->furthest);
	AppendStage(&buf, "last_open", j->last_open);
	appendStringInfoString(&buf, ", \"last_open_entered_at\": ");
	if (j->last_open == 0)
		appendStringInfoString(&buf, "null");
	else
		AppendTimestamp(&buf, j->last_open_at);
	appendStringInfoString(&buf, ", \"first_entered_at\": ");
	AppendTimestamp(&buf, j->first_at);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

/* A journey as read, before its names are resolved */
typedef struct JourneyInput
{
	char	   *pipeline;
	char	   *outcome;		/* NULL in the binary form */
	char	   *current;
	char	   *furthest;		/* NULL: none */
	char	   *last_open;		/* NULL: none */
	TimestampTz current_at;
	TimestampTz last_open_at;
	bool		has_last_open_at;
	TimestampTz first_at;
} JourneyInput;

/*
 * A stage of the journey's pipeline by name, or the input error.  A stage
 * added by the still-open transaction is refused like deal_stage input
 * refuses it (55P04): an index on an expression of the journey could keep
 * it after a rollback.
 */
static FunnelStage *
InputStage(FunnelPipeline *pipeline, const char *what, const char *name,
		   int sqlstate)
{
	FunnelStage *stage = FunnelLookupStageByName(pipeline, name);

	if (stage == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: pipeline \"%s\" has no stage \"%s\" (%s)",
						NameStr(pipeline->name), name, what),
				 errdetail("Its stages are: %s.", FunnelStageList(pipeline))));
	DealStageCheckUsable(stage);
	return stage;
}

/* A timestamp for messages */
static char *
TimestampText(TimestampTz t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(t)));
}

/*
 * Check what a journey says about stage kinds, which live in the
 * configuration table funnel.pipeline_stage: the outcome (text input only;
 * NULL otherwise) is the kind of the current stage; furthest and last_open
 * are open stages; a deal whose current stage is open was last open there,
 * at the same time.  Input runs it only once the pipeline's configuration
 * is there (a restore may load the journey first, doc/design.md §1); the
 * functions that read kinds run it on every value (sqlstate 22023), so a
 * journey read before the configuration was loaded is checked at its first
 * use.  Kinds never change once a stage exists, so a dumped journey passes
 * both checks after any restore order.
 */
void
JourneyCheckKinds(const Journey *j, const char *outcome, int sqlstate)
{
	FunnelStage *current = FunnelGetConfiguredStage(j->current);
	FunnelStage *furthest = j->furthest ? FunnelGetStage(j->furthest) : NULL;
	FunnelStage *last_open = j->last_open ? FunnelGetStage(j->last_open) : NULL;
	const char *hint = sqlstate == ERRCODE_INVALID_PARAMETER_VALUE ?
		"The journey was stored before the pipeline's stage kinds were loaded (during a restore): correct or delete it." :
		NULL;

	if (JourneyMoved(j))
	{
		if (outcome && strcmp(outcome, JOURNEY_MOVED) != 0)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid journey: outcome \"%s\" but current stage \"%s\" is of another pipeline",
							outcome, DealStageToText(j->current)),
					 errdetail("A deal that moved to another pipeline has outcome \"%s\" in the pipeline it left.",
							   JOURNEY_MOVED)));
		if (last_open->kind != STAGE_OPEN ||
			(furthest && furthest->kind != STAGE_OPEN))
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid journey: furthest \"%s\" and last_open \"%s\"",
							furthest ? NameStr(furthest->name) : "null",
							NameStr(last_open->name)),
					 errdetail("Both are open stages; a deal moves out of a pipeline from an open stage."),
					 hint ? errhint("%s", hint) : 0));
		return;
	}
	if (outcome && strcmp(outcome, StageKindName(current->kind)) != 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: outcome \"%s\" but current stage \"%s\" is %s",
						outcome, NameStr(current->name), StageKindName(current->kind)),
				 errdetail("The outcome is the kind of the current stage.")));
	if ((furthest && furthest->kind != STAGE_OPEN) ||
		(last_open && last_open->kind != STAGE_OPEN))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: furthest \"%s\" and last_open \"%s\"",
						furthest ? NameStr(furthest->name) : "null",
						last_open ? NameStr(last_open->name) : "null"),
				 errdetail("Both are open stages, or both null; last_open is not beyond furthest."),
				 hint ? errhint("%s", hint) : 0));
	if (current->kind == STAGE_OPEN &&
		(last_open != current || j->last_open_at != j->current_at))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: open current stage \"%s\" but last_open \"%s\"",
						NameStr(current->name),
						last_open ? NameStr(last_open->name) : "null"),
				 errdetail("A deal in an open stage was last open there, since it entered it."),
				 hint ? errhint("%s", hint) : 0));
}

/*
 * The journey of the input, or an error: every value journey() can make
 * and nothing else.  Input checks only what pg_dump restores before any
 * table data (the pipeline's enum type and labels): the pipeline and stages
 * exist and are committed; furthest and last_open are both given or
 * neither, with last_open_entered_at exactly when last_open; the last open
 * stage is not beyond the furthest; timestamps are finite and
 * first_entered_at <= last_open_entered_at <= current_entered_at.  The
 * checks of stage kinds (JourneyCheckKinds) run here only when the
 * pipeline's configuration is loaded.
 */
static Journey *
JourneyFromInput(JourneyInput *in, int sqlstate)
{
	FunnelPipeline *pipeline = FunnelLookupPipelineByName(in->pipeline);
	FunnelStage *current;
	FunnelStage *furthest = NULL;
	FunnelStage *last_open = NULL;
	FunnelPipeline *moved_to = NULL;
	Journey    *j = palloc0(sizeof(Journey));

	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: pipeline \"%s\" does not exist", in->pipeline),
				 FunnelPipelineCount() > 0 ? errhint(FUNNEL_PIPELINES_HINT) : 0));
	if (strchr(in->current, FUNNEL_SEPARATOR) != NULL)
	{
		/* moved: the current stage is of another pipeline, qualified */
		const char *sep = strchr(in->current, FUNNEL_SEPARATOR);
		char	   *other_name = pnstrdup(in->current, sep - in->current);
		FunnelPipeline *other = FunnelLookupPipelineByName(other_name);

		if (other == NULL || other == pipeline)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid journey: current stage \"%s\" is not of another pipeline",
							in->current),
					 errdetail("Only a deal that moved to another pipeline has a qualified current stage.")));
		current = InputStage(other, "current", sep + 1, sqlstate);
		if (in->last_open == NULL)
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid journey: moved to \"%s\" without last_open", in->current),
					 errdetail("A deal moves out of a pipeline from an open stage, its last_open.")));
		moved_to = other;
	}
	else
		current = InputStage(pipeline, "current", in->current, sqlstate);
	if (in->furthest)
		furthest = InputStage(pipeline, "furthest", in->furthest, sqlstate);
	if (in->last_open)
		last_open = InputStage(pipeline, "last_open", in->last_open, sqlstate);
	if ((furthest == NULL) != (last_open == NULL) ||
		(last_open && last_open->position > furthest->position))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: furthest \"%s\" and last_open \"%s\"",
						in->furthest ? in->furthest : "null",
						in->last_open ? in->last_open : "null"),
				 errdetail("Both are open stages, or both null; last_open is not beyond furthest.")));
	if (last_open != NULL && !in->has_last_open_at)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: last_open \"%s\" without last_open_entered_at",
						in->last_open)));
	if (last_open == NULL && in->has_last_open_at)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: last_open_entered_at without last_open")));
	if (!IS_VALID_TIMESTAMP(in->current_at) || !IS_VALID_TIMESTAMP(in->first_at) ||
		(last_open && !IS_VALID_TIMESTAMP(in->last_open_at)))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: timestamps must be finite and in range")));
	if (in->first_at > in->current_at ||
		(last_open && (in->last_open_at < in->first_at ||
					   in->last_open_at > in->current_at)))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid journey: first_entered_at %s, last_open_entered_at %s, current_entered_at %s are out of order",
						TimestampText(in->first_at),
						last_open ? TimestampText(in->last_open_at) : "null",
						TimestampText(in->current_at)),
				 errdetail("A deal enters its first stage first and its current stage last.")));
	j->current = MakeDealStage(moved_to ? moved_to->typoid : pipeline->typoid,
							   current->label);
	j->current_at = in->current_at;
	j->first_at = in->first_at;
	if (last_open)
	{
		j->furthest = MakeDealStage(pipeline->typoid, furthest->label);
		j->last_open = MakeDealStage(pipeline->typoid, last_open->label);
		j->last_open_at = in->last_open_at;
	}
	if (pipeline->configured && (moved_to == NULL || moved_to->configured))
		JourneyCheckKinds(j, in->outcome, sqlstate);
	return j;
}

/* A JSON string holding a timestamp */
static TimestampTz
ReadTimestamp(JsonReader *r)
{
	char	   *text = JsonReadString(r);

	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(text),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
}

/* A JSON string, or null (NULL) */
static char *
ReadStringOrNull(JsonReader *r)
{
	if (JsonAcceptNull(r))
		return NULL;
	return JsonReadString(r);
}

PG_FUNCTION_INFO_V1(journey_in);
Datum
journey_in(PG_FUNCTION_ARGS)
{
	JsonReader	r;
	JourneyInput in;

	memset(&in, 0, sizeof(in));
	r.input = r.p = PG_GETARG_CSTRING(0);
	r.type = "journey";
	r.noun = "journey";
	r.hint = JOURNEY_HINT;
	JsonExpect(&r, '{');
	JsonExpectKey(&r, "pipeline");
	in.pipeline = JsonReadString(&r);
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "outcome");
	in.outcome = JsonReadString(&r);
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "current");
	in.current = JsonReadString(&r);
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "current_entered_at");
	in.current_at = ReadTimestamp(&r);
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "furthest");
	in.furthest = ReadStringOrNull(&r);
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "last_open");
	in.last_open = ReadStringOrNull(&r);
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "last_open_entered_at");
	if (!JsonAcceptNull(&r))
	{
		in.last_open_at = ReadTimestamp(&r);
		in.has_last_open_at = true;
	}
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "first_entered_at");
	in.first_at = ReadTimestamp(&r);
	JsonExpect(&r, '}');
	JsonExpectEnd(&r);
	PG_RETURN_POINTER(JourneyFromInput(&in, ERRCODE_INVALID_TEXT_REPRESENTATION));
}

/*
 * Binary form: version byte, pipeline name, current stage name, furthest
 * and last_open names ("" for none), int64 current_entered_at,
 * last_open_entered_at (0 when there is no last open stage) and
 * first_entered_at (microseconds since 2000-01-01, as timestamptz_send).
 */
PG_FUNCTION_INFO_V1(journey_send);
Datum
journey_send(PG_FUNCTION_ARGS)
{
	Journey    *j = PG_GETARG_JOURNEY(0);
	FunnelStage *current = JourneyStage(j->current);
	StringInfoData buf;

	pq_begintypsend(&buf);
	if (JourneyMoved(j))
	{
		/* version 2: current qualified, of another pipeline */
		pq_sendint8(&buf, JOURNEY_BINARY_VERSION_MOVED);
		pq_sendstring(&buf, NameStr(JourneyStage(j->last_open)->pipeline->name));
		pq_sendstring(&buf, DealStageToText(j->current));
	}
	else
	{
		pq_sendint8(&buf, JOURNEY_BINARY_VERSION);
		pq_sendstring(&buf, NameStr(current->pipeline->name));
		pq_sendstring(&buf, NameStr(current->name));
	}
	pq_sendstring(&buf, j->furthest ? NameStr(JourneyStage(j->furthest)->name) : "");
	pq_sendstring(&buf, j->last_open ? NameStr(JourneyStage(j->last_open)->name) : "");
	pq_sendint64(&buf, j->current_at);
	pq_sendint64(&buf, j->last_open ? j->last_open_at : 0);
	pq_sendint64(&buf, j->first_at);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(journey_recv);
Datum
journey_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgint(buf, 1);
	JourneyInput in;

	if (version != JOURNEY_BINARY_VERSION && version != JOURNEY_BINARY_VERSION_MOVED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported binary format version %d of type journey", version),
				 errhint("This server reads versions %d and %d.", JOURNEY_BINARY_VERSION,
						 JOURNEY_BINARY_VERSION_MOVED)));
	memset(&in, 0, sizeof(in));
	in.pipeline = pstrdup(pq_getmsgstring(buf));
	in.current = pstrdup(pq_getmsgstring(buf));
	if ((version == JOURNEY_BINARY_VERSION_MOVED) !=
		(strchr(in.current, FUNNEL_SEPARATOR) != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid journey: version %d with current stage \"%s\"",
						version, in.current),
				 errdetail("Version %d is the form of a deal that moved to another pipeline, its current stage qualified.",
						   JOURNEY_BINARY_VERSION_MOVED)));
	in.furthest = pstrdup(pq_getmsgstring(buf));
	in.last_open = pstrdup(pq_getmsgstring(buf));
	in.current_at = pq_getmsgint64(buf);
	in.last_open_at = pq_getmsgint64(buf);
	in.first_at = pq_getmsgint64(buf);
	if (in.furthest[0] == '\0')
		in.furthest = NULL;
	if (in.last_open[0] == '\0')
		in.last_open = NULL;
	else
		in.has_last_open_at = true;
	if (in.last_open == NULL && in.last_open_at != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid journey: last_open_entered_at without last_open")));
	PG_RETURN_POINTER(JourneyFromInput(&in, ERRCODE_INVALID_BINARY_REPRESENTATION));
}

/* funnel.outcome(journey): 'won', 'lost', 'open' or 'moved' */
PG_FUNCTION_INFO_V1(journey_outcome);
Datum
journey_outcome(PG_FUNCTION_ARGS)
{
	Journey    *j = PG_GETARG_JOURNEY(0);

	JourneyCheckKinds(j, NULL, ERRCODE_INVALID_PARAMETER_VALUE);
	if (JourneyMoved(j))
		PG_RETURN_TEXT_P(cstring_to_text(JOURNEY_MOVED));
	PG_RETURN_TEXT_P(cstring_to_text(StageKindName(JourneyStage(j->current)->kind)));
}

/* funnel.current_stage(journey) */
PG_FUNCTION_INFO_V1(journey_current_stage);
Datum
journey_current_stage(PG_FUNCTION_ARGS)
{
	PG_RETURN_DEAL_STAGE(PG_GETARG_JOURNEY(0)->current);
}

/* funnel.furthest_stage(journey): NULL if no open stage was visited */
PG_FUNCTION_INFO_V1(journey_furthest_stage);
Datum
journey_furthest_stage(PG_FUNCTION_ARGS)
{
	Journey    *j = PG_GETARG_JOURNEY(0);

	if (j->furthest == 0)
		PG_RETURN_NULL();
	PG_RETURN_DEAL_STAGE(j->furthest);
}

/* funnel.last_open_stage(journey): NULL if no open stage was visited */
PG_FUNCTION_INFO_V1(journey_last_open_stage);
Datum
journey_last_open_stage(PG_FUNCTION_ARGS)
{
	Journey    *j = PG_GETARG_JOURNEY(0);

	if (j->last_open == 0)
		PG_RETURN_NULL();
	PG_RETURN_DEAL_STAGE(j->last_open);
}

/* funnel.started_at(journey): the first entered_at */
PG_FUNCTION_INFO_V1(journey_started_at);
Datum
journey_started_at(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(PG_GETARG_JOURNEY(0)->first_at);
}

/* funnel.closed_at(journey): entered_at of the won or lost stage, else NULL */
PG_FUNCTION_INFO_V1(journey_closed_at);
Datum
journey_closed_at(PG_FUNCTION_ARGS)
{
	Journey    *j = PG_GETARG_JOURNEY(0);

	JourneyCheckKinds(j, NULL, ERRCODE_INVALID_PARAMETER_VALUE);
	/* a moved deal was not closed in the pipeline it left */
	if (JourneyMoved(j) || JourneyStage(j->current)->kind == STAGE_OPEN)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(j->current_at);
}

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
