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
 *	  funnel_next_stages    not a trigger: the same decisions, asked ahead
 *	                        for every stage (funnel.next_stages()).
 *
 * Validation happens in the AFTER triggers, on the row as finally written
 * (after every BEFORE trigger, including ones that change the stage without
 * it being in the UPDATE's SET list); an error aborts the statement, so a
 * refused move writes nothing.
 *
 * src/track_trigger.c
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
static FunnelPipeline *
TrackedPipeline(TrackedTable *t)
{
	FunnelPipeline *p = FunnelLookupPipeline(t->pipeline);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline of a tracked table no longer exists")));
	FunnelCheckConfigured(p);
	return p;
}

/* The stage column of a row, resolved in the tracked pipeline */
static DealStage
RowStage(TrackedTable *t, FunnelPipeline *pipeline, TupleTableSlot *slot,
		 Relation rel)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->stage_attnum, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("stage of a deal in tracked table \"%s\" is null",
						RelationGetRelationName(rel)),
				 errtablecol(rel, t->stage_attnum)));
	return DealStageResolve(DatumGetDealStage(d), pipeline);
}

/* Is the move in the pipeline's allow-list? */
static bool
AllowListed(TrackedTable *t, Oid from, Oid to)
{
	int			i;

	for (i = 0; i < t->ntransitions; i++)
		if (t->from_labels[i] == from && t->to_labels[i] == to)
			return true;
	return false;
}

/*
 * The names of the rules, by TrackRule: their one spelling, which
 * funnel.track() and the CHECK of funnel.tracked_table read through
 * funnel_internal.check_rule() and the trigger cache through TrackRuleByName().
 */
static const char *const TrackRuleNames[] = {
	[TRACK_RULE_FORWARD] = "forward",
	[TRACK_RULE_SEQUENTIAL] = "sequential",
	[TRACK_RULE_ANY] = "any"
};

StaticAssertDecl(lengthof(TrackRuleNames) == TRACK_RULE_ANY + 1,
				 "one name per rule");

/* The rule of a name, or -1 if it is none */
int
TrackRuleByName(const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(TrackRuleNames); i++)
		if (strcmp(name, TrackRuleNames[i]) == 0)
			return i;
	return -1;
}

/* The rule of a name, or the 22023 error naming it (NULL: no name) */
TrackRule
TrackRuleFromName(const char *name)
{
	int			rule = name ? TrackRuleByName(name) : -1;

	if (rule < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid transition rule \"%s\"", name ? name : "<NULL>"),
				 errhint("A rule is '%s' (the default), '%s' or '%s'.",
						 TrackRuleNames[TRACK_RULE_FORWARD],
						 TrackRuleNames[TRACK_RULE_SEQUENTIAL],
						 TrackRuleNames[TRACK_RULE_ANY])));
	return (TrackRule) rule;
}

/* funnel_internal.check_rule(rule): true, or the error of an unknown rule */
PG_FUNCTION_INFO_V1(funnel_check_rule);
Datum
funnel_check_rule(PG_FUNCTION_ARGS)
{
	(void) TrackRuleFromName(PG_ARGISNULL(0) ? NULL :
							 text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_BOOL(true);
}

/* Index of the next non-retired open stage after stages[i], or -1 */
static int
NextOpen(FunnelPipeline *p, int i)
{
	for (i = i + 1; i < p->nopen; i++)
		if (!p->stages[i].retired)
			return i;
	return -1;
}

/*
 * Does the table's rule (or the allow-list) permit moving from stages[f]
 * to stages[to]?  Retired stages are never entered.
 */
static bool
MoveAllowed(TrackedTable *t, FunnelPipeline *p, int f, int to)
{
	FunnelStage *from = &p->stages[f];
	FunnelStage *target = &p->stages[to];

	if (f == to || target->retired || !target->usable)
		return false;
	if (AllowListed(t, from->label, target->label))
		return true;
	switch (t->rule)
	{
		case TRACK_RULE_ANY:
			return true;
		case TRACK_RULE_FORWARD:
			if (from->kind != STAGE_OPEN)
				return false;
			return target->kind != STAGE_OPEN || to > f;
		case TRACK_RULE_SEQUENTIAL:
			if (from->kind != STAGE_OPEN)
				return false;
			if (target->kind == STAGE_LOST)
				return true;
			if (target->kind == STAGE_WON)
				return NextOpen(p, f) < 0;
			return to == NextOpen(p, f);
	}
	return false;
}

/* "negotiation, won, lost": the stages a deal may move to from stages[f] */
static char *
AllowedTargets(TrackedTable *t, FunnelPipeline *p, int f)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < p->nstages; i++)
		if (MoveAllowed(t, p, f, i))
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 NameStr(p->stages[i].name));
	return buf.data;
}

/* Raise the 23514 error for a refused move */
static void
ReportInvalidTransition(TrackedTable *t, FunnelPipeline *p, int f, int to,
						Relation rel)
{
	FunnelStage *from = &p->stages[f];
	FunnelStage *target = &p->stages[to];
	char	   *allowed = AllowedTargets(t, p, f);
	StringInfoData detail;

	initStringInfo(&detail);
	if (target->retired)
		appendStringInfo(&detail, "Stage \"%s\" is retired. ", NameStr(target->name));
	if (allowed[0] != '\0')
		appendStringInfo(&detail, "Allowed targets from \"%s\": %s.",
						 NameStr(from->name), allowed);
	else
		appendStringInfo(&detail, "No move from \"%s\" is allowed.",
						 NameStr(from->name));
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid stage transition from \"%s\" to \"%s\" in pipeline \"%s\"",
					NameStr(from->name), NameStr(target->name), NameStr(p->name)),
			 errdetail_internal("%s", detail.data),
			 allowed[0] == '\0' && target->kind != STAGE_OPEN ?
			 errhint("Allow the move with funnel.allow_transition('%s', '%s', '%s').",
					 NameStr(p->name), NameStr(from->name), NameStr(target->name)) : 0,
			 errtable(rel)));
}

/*
 * Check the required fields of one stage on the new row.  With missing not
 * NULL, append the names of the empty fields to *missing (once each) instead
 * of raising the error: funnel.next_stages() asks the same question.
 */
static void
CheckRequiredOf(TrackedTable *t, FunnelPipeline *p, int f, int s, int to,
				TupleTableSlot *slot, Relation rel, List **missing)
{
	Oid			label = p->stages[s].label;
	int			i,
				j;

	for (i = 0; i < t->nrequired; i++)
	{
		TrackRequired *req = &t->required[i];

		if (req->label != label)
			continue;
		for (j = 0; j < req->nfields; j++)
		{
			bool		isnull;

			(void) slot_getattr(slot, req->attnums[j], &isnull);
			if (!isnull)
				continue;
			if (missing != NULL)
			{
				ListCell   *lc;
				bool		seen = false;

				foreach(lc, *missing)
					if (strcmp((char *) lfirst(lc), req->names[j]) == 0)
						seen = true;
				if (!seen)
					*missing = lappend(*missing, req->names[j]);
				continue;
			}
			if (f < 0)
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("invalid initial stage \"%s\" in pipeline \"%s\"",
								NameStr(p->stages[to].name), NameStr(p->name)),
						 errdetail("Stage \"%s\" requires a value in \"%s\".",
								   NameStr(p->stages[s].name), req->names[j]),
						 s != to ? errhint("A deal that starts in \"%s\" has passed \"%s\".",
										   NameStr(p->stages[to].name),
										   NameStr(p->stages[s].name)) : 0,
						 errtablecol(rel, req->attnums[j])));
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("invalid stage transition from \"%s\" to \"%s\" in pipeline \"%s\"",
							NameStr(p->stages[f].name), NameStr(p->stages[to].name),
							NameStr(p->name)),
					 errdetail("Stage \"%s\" requires a value in \"%s\".",
							   NameStr(p->stages[s].name), req->names[j]),
					 s != to ? errhint("The move skips past \"%s\"; set %s in the same statement.",
									   NameStr(p->stages[s].name), req->names[j]) :
					 errhint("Set %s in the same statement.", req->names[j]),
					 errtablecol(rel, req->attnums[j])));
		}
	}
}

/*
 * Required fields of the stage entered and of every open stage skipped past
 * on the way (f < 0: a new deal, which has passed every open stage before
 * its first one): the open stages after the current one that the target
 * passes by the implied-passage rule (StagePassed() in funnel.h).  A move
 * to a won stage passes every open stage after the current one; a move to
 * a lost stage, backwards or out of a won or lost stage passes none.
 */
static void
CheckRequired(TrackedTable *t, FunnelPipeline *p, int f, int to,
			  TupleTableSlot *slot, Relation rel, List **missing)
{
	int			s;

	if (t->nrequired == 0)
		return;
	for (s = f + 1; s < p->nopen; s++)
		if (s != to && StagePassed(p->stages[s].kind, s, p->stages[to].kind, to))
			CheckRequiredOf(t, p, f, s, to, slot, rel, missing);
	CheckRequiredOf(t, p, f, to, to, slot, rel, missing);
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
	resolved = DealStageResolve(s, TrackedPipeline(t));
	d = DealStageGetDatum(resolved);
	isnull = false;
	attnum = t->stage_attnum;
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple,
													 RelationGetDescr(trigdata->tg_relation),
													 1, &attnum, &d, &isnull));
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
	p = TrackedPipeline(t);

	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	tuplestore_rescan(trigdata->tg_newtable);
	while (tuplestore_gettupleslot(trigdata->tg_newtable, true, false, slot))
	{
		DealStage	s = RowStage(t, p, slot, rel);
		FunnelStage *stage = FunnelGetStage(s);
		int			to = stage->position - 1;
		TimestampTz at;
		bool		isnull;
		Datum		deal_id;

		if (stage->retired)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("invalid initial stage \"%s\" in pipeline \"%s\"",
							NameStr(stage->name), NameStr(p->name)),
					 errdetail("Stage \"%s\" is retired.", NameStr(stage->name)),
					 errtable(rel)));
		CheckRequired(t, p, -1, to, slot, rel, NULL);
		if (!RowChangedAt(t, slot, &at))
			at = now;
		deal_id = slot_getattr(slot, t->pk_attnum, &isnull);

		if (w == NULL)
			w = HistoryBegin(t, true);
		HistoryAddVisit(w, deal_id, s, at);
	}
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
				 errdetail("The stage history refers to deals by their primary key."),
				 errhint("Insert a new deal instead, or call funnel.untrack() and move the history yourself."),
				 errtable(rel)));
}

/* AFTER UPDATE row trigger: validate a move and record it */
PG_FUNCTION_INFO_V1(funnel_track_update);
Datum
funnel_track_update(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TrackedTable *t;
	FunnelPipeline *p;
	TupleTableSlot *oldslot,
			   *newslot;
	DealStage	olds,
				news;
	int			f,
				to;
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
	p = TrackedPipeline(t);

	CheckKeyUnchanged(t, oldslot, newslot, rel);
	olds = RowStage(t, p, oldslot, rel);
	news = RowStage(t, p, newslot, rel);
	if (olds == news)
		return PointerGetDatum(NULL);

	f = FunnelGetStage(olds)->position - 1;
	to = FunnelGetStage(news)->position - 1;
	if (!MoveAllowed(t, p, f, to))
		ReportInvalidTransition(t, p, f, to, rel);
	CheckRequired(t, p, f, to, newslot, rel, NULL);

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
								NameStr(p->stages[f].name), NameStr(p->stages[to].name),
								NameStr(p->name)),
						 errdetail("The change time %s is earlier than the time the deal entered \"%s\", %s.",
								   pstrdup(timestamptz_to_str(at)),
								   NameStr(p->stages[f].name),
								   pstrdup(timestamptz_to_str(entered))),
						 errtablecol(rel, t->changed_at_attnum)));
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

/*
 * The answer of funnel.next_stages() for one target: reason is one of
 * 'allowed', 'same_stage', 'retired_stage', 'transition_not_allowed',
 * 'required_fields_missing'; *missing gets the empty required fields.
 */
static const char *
NextStageReason(TrackedTable *t, FunnelPipeline *p, int f, int to,
				TupleTableSlot *slot, Relation rel, List **missing)
{
	bool		permitted;

	*missing = NIL;
	if (to == f)
		return "same_stage";
	/* the decisions of funnel_track_insert() and funnel_track_update() */
	if (f < 0)
		permitted = !p->stages[to].retired;
	else
		permitted = MoveAllowed(t, p, f, to);
	CheckRequired(t, p, f, to, slot, rel, missing);
	if (!permitted)
		return p->stages[to].retired ? "retired_stage" : "transition_not_allowed";
	if (*missing != NIL)
		return "required_fields_missing";
	return "allowed";
}

/*
 * funnel_internal.next_stages(deals regclass, deal record): for every stage
 * of the pipeline of tracked table deals, whether the triggers would accept
 * the row deal moved there, why not, and the required fields it leaves
 * empty.  The row's stage is the stage moved from; NULL asks about an
 * INSERT.  The row is given, not read: funnel.next_stages() reads it with
 * the caller's privileges.
 */
PG_FUNCTION_INFO_V1(funnel_next_stages);
Datum
funnel_next_stages(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	HeapTupleHeader th;
	HeapTupleData tuple;
	Relation	rel;
	TrackedTable *t;
	FunnelPipeline *p;
	TupleTableSlot *slot;
	AclResult	aclresult;
	bool		isnull;
	Datum		d;
	int			f = -1;
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("deals table must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("deal row must not be null"),
				 errhint("For a new deal, pass a row whose stage is null.")));
	relid = PG_GETARG_OID(0);
	th = PG_GETARG_HEAPTUPLEHEADER(1);

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));
	rel = table_open(relid, AccessShareLock);
	if (HeapTupleHeaderGetTypeId(th) != rel->rd_rel->reltype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("deal row of type %s is not a row of table \"%s\"",
						format_type_be(HeapTupleHeaderGetTypeId(th)),
						RelationGetRelationName(rel)),
				 errhint("Pass a row of the table, such as jsonb_populate_record(NULL::%s, ...).",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)))));
	t = TrackLookup(rel, NULL);
	p = TrackedPipeline(t);

	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = relid;
	tuple.t_data = th;
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(&tuple, slot, false);

	d = slot_getattr(slot, t->stage_attnum, &isnull);
	if (!isnull)
		f = FunnelGetStage(DealStageResolve(DatumGetDealStage(d), p))->position - 1;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < p->nstages; i++)
	{
		FunnelStage *stage = &p->stages[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		List	   *missing;
		const char *reason;
		Datum	   *fields;
		ListCell   *lc;
		int			n = 0;

		/* a stage added by this uncommitted transaction: no value yet */
		if (!stage->usable)
			continue;
		reason = NextStageReason(t, p, f, i, slot, rel, &missing);
		fields = palloc(sizeof(Datum) * (list_length(missing) + 1));
		foreach(lc, missing)
			fields[n++] = CStringGetTextDatum((char *) lfirst(lc));
		values[0] = DealStageGetDatum(MakeDealStage(p->typoid, stage->label));
		values[1] = BoolGetDatum(strcmp(reason, "allowed") == 0);
		values[2] = CStringGetTextDatum(reason);
		values[3] = PointerGetDatum(construct_array(fields, n, TEXTOID, -1,
													false, TYPALIGN_INT));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	PG_RETURN_NULL();
}
