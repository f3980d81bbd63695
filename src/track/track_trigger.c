/*-------------------------------------------------------------------------
 *
 * track_trigger.c
 *	  The triggers funnel.track() installs on a deals table: they validate
 *	  stage changes and write the stage history in the same transaction.
 *
 *	  funnel_track_resolve  BEFORE INSERT OR UPDATE OF stage, FOR EACH ROW,
 *	                        only when the stage column is not bound to the
 *	                        pipeline: resolves bare names shared by several
 *	                        pipelines ('won') in the tracked pipeline.
 *	  funnel_track_insert   AFTER INSERT, FOR EACH STATEMENT, transition
 *	                        table: checks each new deal's stage and opens its
 *	                        first visit; one batch per statement, so COPY
 *	                        keeps its multi-insert path.
 *	  funnel_track_update   AFTER UPDATE, FOR EACH ROW, WHEN the stage
 *	                        changed: validates the move, closes the open
 *	                        visit and opens the next.
 *	  funnel_track_key      AFTER UPDATE OF the key, FOR EACH ROW, the same
 *	                        function: refuses a change of the key.
 *	  funnel_track_delete   AFTER DELETE, FOR EACH ROW: closes the open visit.
 *	  funnel_track_truncate AFTER TRUNCATE: closes every open visit.
 *
 * The decisions themselves (rules, allow-lists, retired stages, required
 * fields) are made in track_rules.c, which funnel.next_stages() asks too.
 *
 * Validation happens in the AFTER triggers, on the row as finally written
 * (after every BEFORE trigger, including ones that change the stage without
 * it being in the UPDATE's SET list); an error aborts the statement, so a
 * refused move writes nothing.
 *
 * src/track/track_trigger.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "track.h"

/* Raise the error for a misuse of a trigger function */
static void
CheckTriggerCall(FunctionCallInfo fcinfo, const char *name)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as a trigger", name),
				 errhint("funnel.track() installs it.")));
}

/*
 * Refuse a row write on the shell of a Citus distributed table: its rows
 * live in its shards, whose triggers write the history shards.
 */
static void
CheckNotShell(TrackedTable *t, Relation rel)
{
	if (unlikely(t->shell))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rows written into the shell of distributed table \"%s\" are not tracked",
						RelationGetRelationName(rel)),
				 errdetail("The rows of a distributed table live in its shards; funnel writes the history of the shards only."),
				 errhint("Write the table through Citus, not with citus.enable_manual_changes_to_shards or similar.")));
}

/* The pipeline of a tracked table */
FunnelPipeline *
TrackPipelineOf(TrackedTable *t)
{
	FunnelPipeline *p = FunnelLookupPipeline(t->pipeline);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline of a tracked table no longer exists")));
	FunnelCheckConfigured(p);
	return p;
}

/*
 * The pipeline of a stage value in a table that holds several pipelines
 * (the pipeline of the value, which must be one of the table's); in a table
 * of one pipeline, that pipeline.
 */
FunnelPipeline *
TrackPipelineOfStage(TrackedTable *t, DealStage s, Relation rel)
{
	FunnelPipeline *p;
	int			i;

	if (t->npipelines == 0)
		return TrackPipelineOf(t);
	if (DealStageIsUnresolved(s))
		DealStageReportAmbiguous(s);
	p = FunnelLookupPipeline(DealStagePipelineOid(s));
	for (i = 0; p != NULL && i < t->npipelines; i++)
		if (t->pipelines[i] == p->typoid)
		{
			FunnelCheckConfigured(p);
			return p;
		}
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("stage \"%s\" is not of a pipeline of tracked table \"%s\"",
					DealStageToText(s), RelationGetRelationName(rel)),
			 errdetail("The table holds the deals of pipelines %s.",
					   TrackPipelineNames(t)),
			 errhint("Call funnel.untrack() and funnel.track() with the pipeline added to track it in this table."),
			 errtablecol(rel, t->stage_attnum)));
	pg_unreachable();
}

/* "b2b, retail, partner": the pipelines of a table of several */
char *
TrackPipelineNames(TrackedTable *t)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < t->npipelines; i++)
	{
		FunnelPipeline *p = FunnelLookupPipeline(t->pipelines[i]);

		appendStringInfo(&buf, "%s\"%s\"", i > 0 ? ", " : "",
						 p ? NameStr(p->name) : "?");
	}
	return buf.data;
}

/*
 * The stage column of a row, resolved in the tracked pipeline; in a table
 * of several pipelines, *pipeline is set to the pipeline of the value.
 */
static DealStage
RowStage(TrackedTable *t, FunnelPipeline **pipeline, TupleTableSlot *slot,
		 Relation rel)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->stage_attnum, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("stage of a deal in tracked table \"%s\" is null",
						RelationGetRelationName(rel)),
				 errdetail("Deal %s has no stage.", TrackDealKey(t, slot)),
				 errtablecol(rel, t->stage_attnum),
				 errtableconstraint(rel, TRACK_REFUSED_NULL_STAGE)));
	if (t->npipelines > 0)
	{
		*pipeline = TrackPipelineOfStage(t, DatumGetDealStage(d), rel);
		return DatumGetDealStage(d);
	}
	return DealStageResolve(DatumGetDealStage(d), *pipeline);
}

/* Effective time of a change: the changed_at column, or NULL for now() */
static bool
RowChangedAt(TrackedTable *t, TupleTableSlot *slot, TimestampTz *at)
{
	bool		isnull;
	Datum		d;

	if (t->changed_at_attnum == InvalidAttrNumber)
		return false;
	d = slot_getattr(slot, t->changed_at_attnum, &isnull);
	if (isnull)
		return false;
	*at = DatumGetTimestampTz(d);
	return true;
}

/*
 * A bare name shared by several pipelines, in a table of several: an
 * UPDATE means the stage of the deal's current pipeline (the OLD row's), an
 * INSERT the one pipeline of the table that has the name, else the error
 * naming the candidates.
 */
static DealStage
TrackResolveSeveral(TrackedTable *t, DealStage s, TriggerData *trigdata)
{
	Relation	rel = trigdata->tg_relation;
	FunnelStage *candidate = FunnelLookupStageByLabel(DealStageLabelOid(s));
	const char *name;
	FunnelPipeline *found = NULL;
	StringInfoData candidates;
	int			n = 0;
	int			total = 0;
	int			i;

	if (candidate == NULL)
		DealStageReportAmbiguous(s);
	name = pstrdup(NameStr(candidate->name));
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		bool		isnull;
		Datum		d = heap_getattr(trigdata->tg_trigtuple, t->stage_attnum,
									 RelationGetDescr(rel), &isnull);

		if (!isnull && !DealStageIsUnresolved(DatumGetDealStage(d)))
			return DealStageResolve(s, TrackPipelineOfStage(t, DatumGetDealStage(d), rel));
	}
	for (i = 0; i < t->npipelines; i++)
	{
		FunnelPipeline *p = FunnelLookupPipeline(t->pipelines[i]);

		if (p != NULL && FunnelLookupStageByName(p, name) != NULL)
			total++;
	}
	initStringInfo(&candidates);
	for (i = 0; i < t->npipelines; i++)
	{
		FunnelPipeline *p = FunnelLookupPipeline(t->pipelines[i]);

		if (p == NULL || FunnelLookupStageByName(p, name) == NULL)
			continue;
		n++;
		appendStringInfo(&candidates, "%s'%s%c%s'",
						 n == 1 ? "" : (n == total ? " or " : ", "),
						 NameStr(p->name), FUNNEL_SEPARATOR, name);
		if (found == NULL)
			found = p;
	}
	if (n == 1)
		return DealStageResolve(s, found);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("stage name \"%s\" is ambiguous in tracked table \"%s\"",
					name, RelationGetRelationName(rel)),
			 n > 0 ? errdetail("The table holds several pipelines; it could be %s.",
							   candidates.data) :
			 errdetail("No pipeline of the table (%s) has that stage.",
					   TrackPipelineNames(t)),
			 errhint("Qualify it, as in '%s%c%s': a new deal's pipeline is the pipeline of its stage.",
					 found ? NameStr(found->name) : "b2b", FUNNEL_SEPARATOR, name),
			 errtablecol(rel, t->stage_attnum)));
	pg_unreachable();
}

/* BEFORE INSERT OR UPDATE OF stage: resolve bare stage names */
PG_FUNCTION_INFO_V1(funnel_track_resolve);
Datum
funnel_track_resolve(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TrackedTable *t;
	HeapTuple	tuple;
	bool		isnull;
	Datum		d;
	DealStage	s,
				resolved;
	int			attnum;

	CheckTriggerCall(fcinfo, "funnel_internal.track_resolve()");
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.track_resolve() must be a BEFORE ROW trigger")));
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	t = TrackLookup(trigdata->tg_relation, trigdata->tg_trigger);
	d = heap_getattr(tuple, t->stage_attnum,
					 RelationGetDescr(trigdata->tg_relation), &isnull);
	if (isnull || !DealStageIsUnresolved(DatumGetDealStage(d)))
		return PointerGetDatum(tuple);

	s = DatumGetDealStage(d);
	if (t->npipelines > 0)
		resolved = TrackResolveSeveral(t, s, trigdata);
	else
		resolved = DealStageResolve(s, TrackPipelineOf(t));
	d = DealStageGetDatum(resolved);
	isnull = false;
	attnum = t->stage_attnum;
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple,
													 RelationGetDescr(trigdata->tg_relation),
													 1, &attnum, &d, &isnull));
}

/*
 * CONTEXT of an error about one new row: its place among the rows the
 * statement inserted, in their order (for COPY FROM, the order of the
 * input, without skipped lines: the check runs after the last line).
 */
static void
InsertRowContext(void *arg)
{
	errcontext("row " INT64_FORMAT " of the rows inserted by the statement",
			   *(int64 *) arg);
}

/* AFTER INSERT statement trigger: open the first visit of each new deal */
PG_FUNCTION_INFO_V1(funnel_track_insert);
Datum
funnel_track_insert(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TrackedTable *t;
	FunnelPipeline *p;
	TupleTableSlot *slot;
	HistoryWriter *w = NULL;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	ErrorContextCallback errcallback;
	int64		row = 0;

	CheckTriggerCall(fcinfo, "funnel_internal.track_insert()");
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.track_insert() must be an AFTER INSERT trigger with a NEW TABLE")));
	rel = trigdata->tg_relation;
	t = TrackLookup(rel, trigdata->tg_trigger);
	CheckNotShell(t, rel);
	p = t->npipelines > 0 ? NULL : TrackPipelineOf(t);

	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	errcallback.callback = InsertRowContext;
	errcallback.arg = &row;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	tuplestore_rescan(trigdata->tg_newtable);
	while (tuplestore_gettupleslot(trigdata->tg_newtable, true, false, slot))
	{
		DealStage	s;
		FunnelStage *stage;
		int			to;
		TimestampTz at;
		TimestampTz newest;
		bool		given;
		bool		isnull;
		Datum		deal_id;

		row++;
		s = RowStage(t, &p, slot, rel);
		stage = FunnelGetStage(s);
		to = stage->position - 1;

		if (stage->retired)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("invalid initial stage \"%s\" in pipeline \"%s\"",
							NameStr(stage->name), NameStr(p->name)),
					 errdetail("Deal %s: Stage \"%s\" is retired.",
							   TrackDealKey(t, slot), NameStr(stage->name)),
					 errtablecol(rel, t->stage_attnum),
					 errtableconstraint(rel, TRACK_REFUSED_RETIRED)));
		TrackCheckRequired(t, p, -1, to, slot, rel, NULL);
		given = RowChangedAt(t, slot, &at);
		if (!given)
			at = now;
		deal_id = slot_getattr(slot, t->pk_attnum, &isnull);

		if (w == NULL)
			w = HistoryBegin(t, true);

		/*
		 * A key deleted and inserted again keeps its old visits: a
		 * transaction that started before the last of them enters the new
		 * visit at that time, not before it, as a move does (so the new
		 * visit is among the deal's latest: the open visit the next move
		 * finds)
		 */
		if (!given && HistoryFindNewestOfNew(w, deal_id, &newest) &&
			at < newest)
			at = newest;
		HistoryAddVisit(w, deal_id, s, at);
	}
	error_context_stack = errcallback.previous;
	if (w != NULL)
		HistoryEnd(w);
	ExecDropSingleTupleTableSlot(slot);
	return PointerGetDatum(NULL);
}

/* Refuse a change of the primary key of a tracked deal */
static void
CheckKeyUnchanged(TrackedTable *t, TupleTableSlot *oldslot,
				  TupleTableSlot *newslot, Relation rel)
{
	TypeCacheEntry *tce = lookup_type_cache(t->pk_type, TYPECACHE_EQ_OPR_FINFO);
	bool		isnull;
	Datum		a = slot_getattr(oldslot, t->pk_attnum, &isnull);
	Datum		b = slot_getattr(newslot, t->pk_attnum, &isnull);
	bool		same;

	if (OidIsValid(tce->eq_opr_finfo.fn_oid))
		same = DatumGetBool(FunctionCall2Coll(&tce->eq_opr_finfo,
											  t->pk_collation, a, b));
	else
		same = datumIsEqual(a, b, tce->typbyval, tce->typlen);
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the primary key of a deal in tracked table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Deal %s: The stage history refers to deals by their primary key.",
						   TrackDealKey(t, oldslot)),
				 errhint("Insert a new deal instead, or call funnel.untrack() and move the history yourself."),
				 errtablecol(rel, t->pk_attnum),
				 errtableconstraint(rel, TRACK_REFUSED_KEY_CHANGE)));
}

/* AFTER UPDATE row trigger: validate a move and record it */
PG_FUNCTION_INFO_V1(funnel_track_update);
Datum
funnel_track_update(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TrackedTable *t;
	FunnelPipeline *p,
			   *oldp;
	TupleTableSlot *oldslot,
			   *newslot;
	DealStage	olds,
				news;
	int			f,
				to;
	FunnelStage *from_stage,
			   *to_stage;
	HistoryWriter *w;
	TimestampTz at = 0;
	TimestampTz entered = 0;
	bool		given;
	bool		isnull;
	Datum		deal_id;

	CheckTriggerCall(fcinfo, "funnel_internal.track_update()");
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.track_update() must be an AFTER UPDATE row trigger")));
	rel = trigdata->tg_relation;
	oldslot = trigdata->tg_trigslot;
	newslot = trigdata->tg_newslot;
	t = TrackLookup(rel, trigdata->tg_trigger);
	CheckNotShell(t, rel);
	p = oldp = t->npipelines > 0 ? NULL : TrackPipelineOf(t);

	CheckKeyUnchanged(t, oldslot, newslot, rel);
	olds = RowStage(t, &oldp, oldslot, rel);
	news = RowStage(t, &p, newslot, rel);
	if (olds == news)
		return PointerGetDatum(NULL);

	from_stage = FunnelGetStage(olds);
	to_stage = FunnelGetStage(news);
	f = from_stage->position - 1;
	to = to_stage->position - 1;
	if (oldp == p)
	{
		if (!TrackMoveAllowed(t, p, f, to))
			TrackReportInvalidTransition(t, p, f, to, rel, newslot);
		TrackCheckRequired(t, p, f, to, newslot, rel, NULL);
	}
	else
	{
		/* a move to another pipeline of the table */
		if (!TrackCrossMoveAllowed(t, from_stage, to_stage))
			TrackReportInvalidCrossMove(t, from_stage, to_stage, rel, newslot);
		TrackCheckRequiredEntering(t, from_stage, to_stage, newslot, rel, NULL);
	}

	given = RowChangedAt(t, newslot, &at);
	if (!given)
		at = GetCurrentTransactionStartTimestamp();
	deal_id = slot_getattr(newslot, t->pk_attnum, &isnull);

	w = HistoryBegin(t, false);
	if (HistoryFindOpen(w, deal_id, &entered))
	{
		if (at < entered)
		{
			if (given)
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("invalid stage transition from \"%s\" to \"%s\" in pipeline \"%s\"",
								NameStr(from_stage->name), NameStr(to_stage->name),
								NameStr(p->name)),
						 errdetail("Deal %s: The change time %s is earlier than the time the deal entered \"%s\", %s.",
								   TrackDealKey(t, newslot),
								   pstrdup(timestamptz_to_str(at)),
								   NameStr(from_stage->name),
								   pstrdup(timestamptz_to_str(entered))),
						 errtablecol(rel, t->changed_at_attnum),
						 errtableconstraint(rel, TRACK_REFUSED_TIME)));
			/* a transaction that started earlier moves after a later one */
			at = entered;
		}
		HistoryCloseOpen(w, at);
	}
	HistoryAddVisit(w, deal_id, news, at);
	HistoryEnd(w);
	return PointerGetDatum(NULL);
}

/* AFTER DELETE row trigger: close the open visit, keep the history */
PG_FUNCTION_INFO_V1(funnel_track_delete);
Datum
funnel_track_delete(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TrackedTable *t;
	HistoryWriter *w;
	TimestampTz at = GetCurrentTransactionStartTimestamp();
	TimestampTz entered;
	bool		isnull;
	Datum		deal_id;

	CheckTriggerCall(fcinfo, "funnel_internal.track_delete()");
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.track_delete() must be an AFTER DELETE row trigger")));
	t = TrackLookup(trigdata->tg_relation, trigdata->tg_trigger);
	CheckNotShell(t, trigdata->tg_relation);
	deal_id = slot_getattr(trigdata->tg_trigslot, t->pk_attnum, &isnull);

	w = HistoryBegin(t, false);
	if (HistoryFindOpen(w, deal_id, &entered))
		HistoryCloseOpen(w, Max(at, entered));
	HistoryEnd(w);
	return PointerGetDatum(NULL);
}

/* AFTER TRUNCATE statement trigger: close every open visit */
PG_FUNCTION_INFO_V1(funnel_track_truncate);
Datum
funnel_track_truncate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TrackedTable *t;
	Relation	history_rel;
	char	   *history;
	Oid			save_userid;
	int			save_sec_context;

	CheckTriggerCall(fcinfo, "funnel_internal.track_truncate()");
	if (!TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.track_truncate() must be a TRUNCATE trigger")));
	t = TrackLookup(trigdata->tg_relation, trigdata->tg_trigger);
	history_rel = table_open(t->history_relid, RowExclusiveLock);
	history = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(history_rel)),
										 RelationGetRelationName(history_rel));

	/*
	 * Like the other history writes, this one does not depend on the
	 * privileges of whoever truncates: run it as the history table's owner,
	 * as foreign-key actions do.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(history_rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_connect();
	if (SPI_execute(psprintf("UPDATE %s SET left_at = GREATEST(pg_catalog.now(), entered_at) WHERE left_at IS NULL",
							 history), false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not close the open visits in %s", history);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	table_close(history_rel, NoLock);
	return PointerGetDatum(NULL);
}
