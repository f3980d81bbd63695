/*-------------------------------------------------------------------------
 *
 * journey_io.c
 *	  The type funnel.journey: its text (JSON) and binary forms, the checks
 *	  every value read must pass, and its accessors (funnel.outcome(),
 *	  funnel.current_stage(), ...).
 *
 * A value holds deal_stage values (OIDs); the text and binary forms carry
 * names, resolved when read.  The aggregate that makes journeys is in
 * agg_journey.c (layout: journey.h).
 *
 * src/aggregates/journey_io.c
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

#define JOURNEY_BINARY_VERSION 1
/* the same layout, for a moved journey: its current stage qualified */
#define JOURNEY_BINARY_VERSION_MOVED 2

#define JOURNEY_HINT "A journey is written as {\"pipeline\": \"b2b\", \"outcome\": \"lost\", \"current\": \"lost\", \"current_entered_at\": \"2024-01-11T00:00:00+00:00\", \"furthest\": \"proposal\", \"last_open\": \"proposal\", \"last_open_entered_at\": \"2024-01-05T00:00:00+00:00\", \"first_entered_at\": \"2024-01-01T00:00:00+00:00\"}."

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
