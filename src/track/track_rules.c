/*-------------------------------------------------------------------------
 *
 * track_rules.c
 *	  Which stage moves a tracked table allows: the rule (forward,
 *	  sequential, any) and its names, the pipeline's allow-list, retired
 *	  stages and required fields.  The triggers (track_trigger.c) enforce
 *	  these decisions; funnel.next_stages() asks the same functions ahead of
 *	  a move, so a stage picker and the trigger cannot disagree.
 *
 * src/track/track_rules.c
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
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "track.h"
/*
 * Is the move in the allow-list?  An entry whose from is InvalidOid ('*')
 * allows the move from any stage of its pipeline.
 */
static bool
AllowListed(TrackedTable *t, FunnelStage *from, Oid to)
{
	int			i;

	for (i = 0; i < t->ntransitions; i++)
		if (t->to_labels[i] == to &&
			(t->from_labels[i] == from->label ||
			 (!OidIsValid(t->from_labels[i]) &&
			  t->from_pipelines[i] == from->pipeline->typoid)))
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
bool
TrackMoveAllowed(TrackedTable *t, FunnelPipeline *p, int f, int to)
{
	FunnelStage *from = &p->stages[f];
	FunnelStage *target = &p->stages[to];

	if (f == to || target->retired || !target->usable)
		return false;
	if (AllowListed(t, from, target->label))
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
		if (TrackMoveAllowed(t, p, f, i))
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 NameStr(p->stages[i].name));
	return buf.data;
}

/*
 * Raise the 23514 error for a refused move of the deal in slot; its
 * constraint name says whether the target is retired or the rule refuses.
 */
void
TrackReportInvalidTransition(TrackedTable *t, FunnelPipeline *p, int f, int to,
							 Relation rel, TupleTableSlot *slot)
{
	FunnelStage *from = &p->stages[f];
	FunnelStage *target = &p->stages[to];
	char	   *allowed = AllowedTargets(t, p, f);
	StringInfoData detail;

	initStringInfo(&detail);
	appendStringInfo(&detail, "Deal %s: ", TrackDealKey(t, slot));
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
			 errtablecol(rel, t->stage_attnum),
			 errtableconstraint(rel, target->retired ? TRACK_REFUSED_RETIRED :
						   TRACK_REFUSED_TRANSITION)));
}

/*
 * A move to a stage of another pipeline of the table: only where the
 * allow-list of the deal's pipeline names the target, qualified
 * (funnel.allow_transition('b2b', 'proposal', 'retail:lead'), or from '*');
 * the table's rule, which orders the stages of one pipeline, never does.
 * Retired stages are never entered.
 */
bool
TrackCrossMoveAllowed(TrackedTable *t, FunnelStage *from, FunnelStage *to)
{
	if (to->retired || !to->usable)
		return false;
	return AllowListed(t, from, to->label);
}

/* Raise the 23514 error for a refused move to another pipeline */
void
TrackReportInvalidCrossMove(TrackedTable *t, FunnelStage *from,
							FunnelStage *to, Relation rel, TupleTableSlot *slot)
{
	const char *fp = NameStr(from->pipeline->name);
	const char *tp = NameStr(to->pipeline->name);

	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid move of a deal from \"%s%c%s\" in pipeline \"%s\" to \"%s%c%s\" in pipeline \"%s\"",
					fp, FUNNEL_SEPARATOR, NameStr(from->name), fp,
					tp, FUNNEL_SEPARATOR, NameStr(to->name), tp),
			 to->retired ?
			 errdetail("Deal %s: Stage \"%s%c%s\" is retired.",
					   TrackDealKey(t, slot), tp, FUNNEL_SEPARATOR,
					   NameStr(to->name)) :
			 errdetail("Deal %s: A deal moves to another pipeline only where the allow-list of pipeline \"%s\" names the target.",
					   TrackDealKey(t, slot), fp),
			 to->retired ? 0 :
			 errhint("Allow the move with funnel.allow_transition('%s', '%s', '%s%c%s').",
					 fp, NameStr(from->name), tp, FUNNEL_SEPARATOR,
					 NameStr(to->name)),
			 errtablecol(rel, t->stage_attnum),
			 errtableconstraint(rel, to->retired ? TRACK_REFUSED_RETIRED :
								TRACK_REFUSED_TRANSITION)));
}

/*
 * Required fields on entering another pipeline at stage to: those of to and
 * of every open stage of its pipeline that to passes, as for a new deal
 * starting there.  With missing not NULL, collect the empty fields.
 */
void
TrackCheckRequiredEntering(TrackedTable *t, FunnelStage *from, FunnelStage *to,
						   TupleTableSlot *slot, Relation rel, List **missing)
{
	List	   *empty = NIL;
	StringInfoData quoted;
	StringInfoData plain;
	ListCell   *lc;

	TrackCheckRequired(t, to->pipeline, -1, to->position - 1, slot, rel, &empty);
	if (missing != NULL)
	{
		*missing = list_concat(*missing, empty);
		return;
	}
	if (empty == NIL)
		return;
	initStringInfo(&quoted);
	initStringInfo(&plain);
	foreach(lc, empty)
	{
		appendStringInfo(&quoted, "%s\"%s\"", quoted.len > 0 ? ", " : "",
						 (char *) lfirst(lc));
		appendStringInfo(&plain, "%s%s", plain.len > 0 ? ", " : "",
						 (char *) lfirst(lc));
	}
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid move of a deal from \"%s%c%s\" to \"%s%c%s\"",
					NameStr(from->pipeline->name), FUNNEL_SEPARATOR,
					NameStr(from->name), NameStr(to->pipeline->name),
					FUNNEL_SEPARATOR, NameStr(to->name)),
			 errdetail("Deal %s: Entering pipeline \"%s\" at \"%s\" requires a value in %s.",
					   TrackDealKey(t, slot), NameStr(to->pipeline->name),
					   NameStr(to->name), quoted.data),
			 errhint("Set %s in the same statement.", plain.data),
			 errtablecol(rel, attnameAttNum(rel, (char *) linitial(empty), false)),
			 errtableconstraint(rel, TRACK_REFUSED_REQUIRED)));
}

/* An empty required field: its column and the stage that requires it */
typedef struct MissingField
{
	int			stage;			/* index in p->stages */
	AttrNumber	attnum;
	const char *name;
} MissingField;

/* Append the empty required fields of stages[s] to *missing, once each */
static void
CollectRequiredOf(TrackedTable *t, FunnelPipeline *p, int s,
				  TupleTableSlot *slot, List **missing)
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
			ListCell   *lc;
			bool		seen = false;
			MissingField *m;

			(void) slot_getattr(slot, req->attnums[j], &isnull);
			if (!isnull)
				continue;
			foreach(lc, *missing)
				if (strcmp(((MissingField *) lfirst(lc))->name, req->names[j]) == 0)
					seen = true;
			if (seen)
				continue;
			m = palloc(sizeof(MissingField));
			m->stage = s;
			m->attnum = req->attnums[j];
			m->name = req->names[j];
			*missing = lappend(*missing, m);
		}
	}
}

/*
 * Raise one error for all the empty required fields of a move (f < 0: an
 * insert): DETAIL names the deal and every field, by the stage requiring
 * it; the column field is the first of them.
 */
static void
ReportRequired(TrackedTable *t, FunnelPipeline *p, int f, int to,
			   TupleTableSlot *slot, Relation rel, List *missing)
{
	StringInfoData detail;
	StringInfoData fields;
	ListCell   *lc;
	MissingField *first = (MissingField *) linitial(missing);
	int			stage = -1;
	int			skipped = -1;

	initStringInfo(&detail);
	initStringInfo(&fields);
	appendStringInfo(&detail, "Deal %s:", TrackDealKey(t, slot));
	foreach(lc, missing)
	{
		MissingField *m = (MissingField *) lfirst(lc);

		if (m->stage != stage)
		{
			appendStringInfo(&detail, "%s Stage \"%s\" requires a value in",
							 stage >= 0 ? "." : "", NameStr(p->stages[m->stage].name));
			stage = m->stage;
		}
		else
			appendStringInfoChar(&detail, ',');
		appendStringInfo(&detail, " \"%s\"", m->name);
		appendStringInfo(&fields, "%s%s", fields.len > 0 ? ", " : "", m->name);
		if (m->stage != to && skipped < 0)
			skipped = m->stage;
	}
	appendStringInfoChar(&detail, '.');

	if (f < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid initial stage \"%s\" in pipeline \"%s\"",
						NameStr(p->stages[to].name), NameStr(p->name)),
				 errdetail_internal("%s", detail.data),
				 skipped >= 0 ? errhint("A deal that starts in \"%s\" has passed \"%s\".",
										NameStr(p->stages[to].name),
										NameStr(p->stages[skipped].name)) : 0,
				 errtablecol(rel, first->attnum),
				 errtableconstraint(rel, TRACK_REFUSED_REQUIRED)));
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("invalid stage transition from \"%s\" to \"%s\" in pipeline \"%s\"",
					NameStr(p->stages[f].name), NameStr(p->stages[to].name),
					NameStr(p->name)),
			 errdetail_internal("%s", detail.data),
			 skipped >= 0 ? errhint("The move skips past \"%s\"; set %s in the same statement.",
									NameStr(p->stages[skipped].name), fields.data) :
			 errhint("Set %s in the same statement.", fields.data),
			 errtablecol(rel, first->attnum),
			 errtableconstraint(rel, TRACK_REFUSED_REQUIRED)));
}

/*
 * Required fields of the stage entered and of every open stage skipped past
 * on the way (f < 0: a new deal, which has passed every open stage before
 * its first one): the open stages after the current one that the target
 * passes by the implied-passage rule (StagePassed() in funnel.h).  A move
 * to a won stage passes every open stage after the current one; a move to
 * a lost stage, backwards or out of a won or lost stage passes none.
 *
 * With missing NULL, raise one error naming every empty field; otherwise
 * append their names to *missing (funnel.next_stages() asks the same
 * question), in the order the error lists them.
 */
void
TrackCheckRequired(TrackedTable *t, FunnelPipeline *p, int f, int to,
				   TupleTableSlot *slot, Relation rel, List **missing)
{
	List	   *empty = NIL;
	ListCell   *lc;
	int			s;

	if (t->nrequired == 0)
		return;
	for (s = f + 1; s < p->nopen; s++)
		if (s != to && StagePassed(p->stages[s].kind, s, p->stages[to].kind, to))
			CollectRequiredOf(t, p, s, slot, &empty);
	CollectRequiredOf(t, p, to, slot, &empty);
	if (empty == NIL)
		return;
	if (missing == NULL)
		ReportRequired(t, p, f, to, slot, rel, empty);
	foreach(lc, empty)
		*missing = lappend(*missing, (char *) ((MissingField *) lfirst(lc))->name);
	list_free_deep(empty);
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
		permitted = TrackMoveAllowed(t, p, f, to);
	TrackCheckRequired(t, p, f, to, slot, rel, missing);
	if (!permitted)
		return p->stages[to].retired ? "retired_stage" : "transition_not_allowed";
	if (*missing != NIL)
		return "required_fields_missing";
	return "allowed";
}

/*
 * The rows of funnel.next_stages() for the stages of pipeline p: from
 * stages[f] of p (f < 0: a new deal), or, with from not NULL, from a stage
 * of another pipeline of the table (a move between pipelines).
 */
static void
NextStagesOf(TrackedTable *t, FunnelPipeline *p, FunnelStage *from, int f,
			 TupleTableSlot *slot, Relation rel, ReturnSetInfo *rsinfo)
{
	int			i;

	for (i = 0; i < p->nstages; i++)
	{
		FunnelStage *stage = &p->stages[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		List	   *missing = NIL;
		const char *reason;
		Datum	   *fields;
		ListCell   *lc;
		int			n = 0;

		/* a stage added by this uncommitted transaction: no value yet */
		if (!stage->usable)
			continue;
		if (from == NULL)
			reason = NextStageReason(t, p, f, i, slot, rel, &missing);
		else
		{
			/* the decisions of funnel_track_update() between pipelines */
			TrackCheckRequiredEntering(t, from, stage, slot, rel, &missing);
			if (!TrackCrossMoveAllowed(t, from, stage))
				reason = stage->retired ? "retired_stage" : "transition_not_allowed";
			else
				reason = missing != NIL ? "required_fields_missing" : "allowed";
		}
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
	p = t->npipelines > 0 ? NULL : TrackPipelineOf(t);

	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = relid;
	tuple.t_data = th;
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(&tuple, slot, false);

	d = slot_getattr(slot, t->stage_attnum, &isnull);
	InitMaterializedSRF(fcinfo, 0);
	if (t->npipelines == 0)
	{
		if (!isnull)
			f = FunnelGetStage(DealStageResolve(DatumGetDealStage(d), p))->position - 1;
		NextStagesOf(t, p, NULL, f, slot, rel, rsinfo);
	}
	else
	{
		/*
		 * A table of several pipelines: the stages of the deal's pipeline,
		 * then those of the others it may move to; a new deal may start
		 * in any of them.
		 */
		FunnelPipeline *own = NULL;
		FunnelStage *from = NULL;

		if (!isnull)
		{
			own = TrackPipelineOfStage(t, DatumGetDealStage(d), rel);
			from = FunnelGetStage(DatumGetDealStage(d));
			f = from->position - 1;
			NextStagesOf(t, own, NULL, f, slot, rel, rsinfo);
		}
		for (i = 0; i < t->npipelines; i++)
		{
			FunnelPipeline *q = FunnelLookupPipeline(t->pipelines[i]);

			if (q == NULL || q == own)
				continue;
			FunnelCheckConfigured(q);
			NextStagesOf(t, q, from, -1, slot, rel, rsinfo);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	PG_RETURN_NULL();
}
