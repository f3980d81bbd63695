/*-------------------------------------------------------------------------
 *
 * track_history.c
 *	  Direct reads and writes of a tracked table's history table.
 *
 * The triggers do not go through SPI: a stage change costs one index probe
 * of (deal_id, entered_at) for the open visit, one heap update that sets its
 * left_at, and one heap insert of the next visit with its index entries.
 * left_at is in no index and the table has free space (fillfactor), so
 * closing a visit is normally a HOT update that writes no index entry.  The
 * inserts of a multi-row INSERT or COPY are buffered and written with
 * table_multi_insert, like COPY does.
 *
 * The open visit is found with SnapshotSelf: the UPDATE that fired the
 * trigger holds the deal's row lock, so every earlier move of the deal has
 * committed (or rolled back) and SnapshotSelf sees its final state even when
 * our statement's MVCC snapshot is older (READ COMMITTED).  The row lock is
 * also what keeps one open visit per deal: two moves of one deal never write
 * its history at the same time.
 *
 * History rows are written like logical replication applies changes: index
 * entries are maintained (including indexes users add), the DEFAULT of
 * every column a user added is evaluated for each new visit (as an INSERT
 * that names only funnel's columns would), and NOT NULL and CHECK
 * constraints are checked, but triggers and rules of the history
 * table are not run (track_validate.c refuses a history table with
 * constraint triggers: foreign keys, deferrable constraints).  The shape of
 * the table is checked again each time it is opened here.
 *
 * src/track/track_history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "funnel_cache.h"
#include "track.h"

/* Visits buffered before a table_multi_insert */
#define HISTORY_BATCH_SIZE 1000

struct HistoryWriter
{
	TrackedTable *table;
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	CommandId	cid;

	/* the open visit found by HistoryFindOpen */
	TupleTableSlot *scanslot;
	TupleTableSlot *openslot;
	ItemPointerData opentid;
	bool		found;

	/*
	 * DEFAULTs of the columns a user added (NULL: no default), by column
	 * number - 1; NULL when there is none at all
	 */
	ExprState **defaults;

	/*
	 * HistoryFindNewestOfNew: how many deals it was asked about, and from
	 * the second on, the largest deal_id of the history in the index's
	 * order (bound_state: 0 not read yet, 1 bound valid, 2 empty history,
	 * 3 every deal is looked up)
	 */
	int64		new_deals;
	int			bound_state;
	Datum		bound;
	FmgrInfo	bound_cmp;
	Oid			bound_collation;

	/* visits to insert */
	bool		batch;
	int			nslots;
	int			maxslots;
	TupleTableSlot **slots;
	BulkInsertState bistate;
};

static void HistoryFlush(HistoryWriter *w);

/*
 * The history being bulk loaded by an import (import.c), or InvalidOid:
 * its writers write no index entries (the import rebuilds the indexes),
 * so nothing may look a visit up through them meanwhile.
 */
static Oid	history_bulk_relid = InvalidOid;

void
HistoryBulkLoad(Oid history_relid)
{
	history_bulk_relid = history_relid;
}

/*
 * funnel.actor: who the application says is acting (its own user), set by
 * the app per transaction (SET LOCAL) or per request.  entered_by stays the
 * role, which cannot be forged; funnel.actor() gives the actor to the
 * DEFAULT of a history column the app adds.  The value is checked where it
 * is used, not when it is set: a SET before this library is loaded in the
 * session makes a placeholder that no check hook sees.
 */
static char *funnel_actor = NULL;

void
TrackActorInit(void)
{
	DefineCustomStringVariable("funnel.actor",
							   "Application user recorded by funnel.actor() in the stage history.",
							   "Set it per transaction (SET LOCAL) in a pooled connection; empty means none. "
							   "At most " CppAsString2(FUNNEL_ACTOR_MAXLEN) " bytes, no control characters.",
							   &funnel_actor,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
}

/*
 * funnel.actor(): the application user of funnel.actor, NULL when it is
 * empty or unset; refuses a value too long or with control characters
 * (an audit column must not carry a forged line break or be unbounded).
 */
PG_FUNCTION_INFO_V1(funnel_actor_get);
Datum
funnel_actor_get(PG_FUNCTION_ARGS)
{
	const char *actor = GetConfigOption("funnel.actor", true, false);
	size_t		len;
	const unsigned char *p;

	if (actor == NULL || actor[0] == '\0')
		PG_RETURN_NULL();
	len = strlen(actor);
	if (len > FUNNEL_ACTOR_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel.actor is too long: %zu bytes", len),
				 errdetail("The value starts with \"%.32s\".", actor),
				 errhint("An actor is at most %d bytes: an application user name or id.",
						 FUNNEL_ACTOR_MAXLEN)));
	for (p = (const unsigned char *) actor; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("funnel.actor contains a control character"),
					 errdetail("Byte 0x%02x at offset %d, after \"%.*s\".", *p,
							   (int) (p - (const unsigned char *) actor),
							   (int) Min(p - (const unsigned char *) actor, 64),
							   actor),
					 errhint("An actor is an application user name or id, without control characters.")));
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(actor, len));
}

/*
 * The name of the current user, for entered_by: a cache (funnel_cache.h)
 * of one role's name, made stale by any change of pg_authid (ALTER ROLE
 * ... RENAME in any session) and by a change of the current user.
 */
static FunnelCacheState user_name_state = FUNNEL_CACHE_STALE;
static bool user_name_callback_registered = false;
static Oid	user_name_role = InvalidOid;
static NameData user_name;

static void
UserNameSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	FunnelCacheInvalidate(&user_name_state);
}

static Datum
CurrentUserName(void)
{
	Oid			user = GetUserId();

	if (unlikely(!FunnelCacheIsValid(user_name_state) || user != user_name_role))
	{
		char	   *name;

		if (!user_name_callback_registered)
		{
			CacheRegisterSyscacheCallback(AUTHOID, UserNameSyscacheCallback,
										  (Datum) 0);
			user_name_callback_registered = true;
		}
		FunnelCacheBuildStarted(&user_name_state);
		name = GetUserNameFromId(user, false);
		namestrcpy(&user_name, name);
		pfree(name);
		user_name_role = user;
		FunnelCacheBuilt(&user_name_state);
	}
	return NameGetDatum(&user_name);
}

/*
 * Prepare the DEFAULT expressions of the columns a user added to the
 * history table (an app's own audit columns, such as the application user
 * of funnel.actor), evaluated for every visit written.  Their functions run
 * as the user whose write fired the trigger, as the defaults of an INSERT
 * do; identity columns get their next value the same way.
 */
static void
HistoryPrepareDefaults(HistoryWriter *w)
{
	TupleDesc	desc = RelationGetDescr(w->rel);
	int			i;

	for (i = Natts_history; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Node	   *expr;

		if (att->attisdropped || att->attgenerated)
			continue;
		expr = build_column_default(w->rel, i + 1);
		if (expr == NULL)
			continue;
		if (w->defaults == NULL)
			w->defaults = palloc0(desc->natts * sizeof(ExprState *));
		w->defaults[i] = ExecPrepareExpr((Expr *) expr, w->estate);
	}
}

/* Open the history table and its indexes for writing */
HistoryWriter *
HistoryBegin(TrackedTable *t, bool batch)
{
	HistoryWriter *w = palloc0(sizeof(HistoryWriter));
	RangeTblEntry *rte;
	Bitmapset  *inserted = NULL;
	Bitmapset  *updated;
	int			i;

	w->table = t;
	w->rel = table_open(t->history_relid, RowExclusiveLock);
	/* never write a datum into a column of another type */
	TrackCheckHistoryColumns(t, w->rel);
	w->estate = CreateExecutorState();

	/*
	 * The range table the executor helpers consult: the columns a visit
	 * inserts, and left_at as the only column an update changes (index AMs
	 * use it as a hint; ExecConstraints to describe a failing row).  Nothing
	 * checks permissions here: the history is written whatever the
	 * privileges of the writer, as foreign-key actions are.
	 */
	for (i = 1; i <= Natts_history; i++)
		inserted = bms_add_member(inserted, i - FirstLowInvalidHeapAttributeNumber);
	updated = bms_make_singleton(Anum_history_left_at - FirstLowInvalidHeapAttributeNumber);
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = t->history_relid;
	rte->relkind = w->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	compat_InitSingleRangeTable(w->estate, rte, inserted, updated);

	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 1, NULL, 0);
	ExecOpenIndices(w->rri, false);
	w->cid = GetCurrentCommandId(true);
	w->estate->es_output_cid = w->cid;
	HistoryPrepareDefaults(w);

	w->batch = batch;
	w->maxslots = batch ? HISTORY_BATCH_SIZE : 1;
	w->slots = palloc0(w->maxslots * sizeof(TupleTableSlot *));
	if (batch)
		w->bistate = GetBulkInsertState();
	if (unlikely(t->history_relid == history_bulk_relid))
		HistoryWithoutIndexes(w);
	return w;
}

/*
 * Write no index entries from now on: for a bulk load into an empty
 * history, whose indexes the caller rebuilds afterwards (import.c)
 */
void
HistoryWithoutIndexes(HistoryWriter *w)
{
	HistoryFlush(w);
	ExecCloseIndices(w->rri);
	w->rri->ri_NumIndices = 0;
}

/*
 * Find the open visit (left_at NULL) of a deal: the newest entries of the
 * deal in the (deal_id, entered_at) index, read backwards.  Returns false
 * if the deal has none.
 */
bool
HistoryFindOpen(HistoryWriter *w, Datum deal_id, TimestampTz *entered_at)
{
	TrackedTable *t = w->table;
	Relation	index = index_open(t->history_index, AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData key;
	bool		first = true;
	TimestampTz newest = 0;

	if (unlikely(t->history_relid == history_bulk_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot move or delete a deal while its history is being imported"),
				 errdetail("funnel.import_history() is writing history table \"%s\".",
						   RelationGetRelationName(w->rel)),
				 errhint("Move deals after the import, not from a trigger it fires.")));

	if (w->scanslot == NULL)
	{
		w->scanslot = table_slot_create(w->rel, &w->estate->es_tupleTable);
		w->openslot = MakeSingleTupleTableSlot(RelationGetDescr(w->rel),
											   &TTSOpsVirtual);
		w->estate->es_tupleTable = lappend(w->estate->es_tupleTable, w->openslot);
	}
	w->found = false;

	ScanKeyEntryInitializeWithInfo(&key, 0, 1, BTEqualStrategyNumber,
								   InvalidOid, t->index_collation,
								   &t->index_eq, deal_id);
	scan = compat_index_beginscan(w->rel, index, SnapshotSelf, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while (index_getnext_slot(scan, BackwardScanDirection, w->scanslot))
	{
		bool		isnull;
		TimestampTz entered;

		entered = DatumGetTimestampTz(slot_getattr(w->scanslot,
												   Anum_history_entered_at,
												   &isnull));
		if (first)
		{
			newest = entered;
			first = false;
		}
		else if (entered < newest)
			break;				/* the open visit is among the newest */
		(void) slot_getattr(w->scanslot, Anum_history_left_at, &isnull);
		if (isnull)
		{
			ExecCopySlot(w->openslot, w->scanslot);
			w->opentid = w->scanslot->tts_tid;
			*entered_at = entered;
			w->found = true;
			break;
		}
	}
	index_endscan(scan);
	index_close(index, AccessShareLock);
	ExecClearTuple(w->scanslot);
	return w->found;
}

/*
 * The latest entered_at of a deal's visits, open or closed (the first entry
 * of the deal in the (deal_id, entered_at) index, read backwards).  Returns
 * false if the deal has no visit.  For the first visit of a deal whose key
 * was deleted and inserted again: its old visits stay in the history, and a
 * transaction that started before the last of them must not enter the new
 * visit before it (funnel_track_insert).
 */
bool
HistoryFindNewest(HistoryWriter *w, Datum deal_id, TimestampTz *entered_at)
{
	TrackedTable *t = w->table;
	Relation	index;
	IndexScanDesc scan;
	ScanKeyData key;
	bool		found = false;

	/* an import writes no index entries: nothing to read there */
	if (unlikely(t->history_relid == history_bulk_relid))
		return false;
	if (w->scanslot == NULL)
	{
		w->scanslot = table_slot_create(w->rel, &w->estate->es_tupleTable);
		w->openslot = MakeSingleTupleTableSlot(RelationGetDescr(w->rel),
											   &TTSOpsVirtual);
		w->estate->es_tupleTable = lappend(w->estate->es_tupleTable, w->openslot);
	}
	index = index_open(t->history_index, AccessShareLock);
	ScanKeyEntryInitializeWithInfo(&key, 0, 1, BTEqualStrategyNumber,
								   InvalidOid, t->index_collation,
								   &t->index_eq, deal_id);
	scan = compat_index_beginscan(w->rel, index, SnapshotSelf, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	if (index_getnext_slot(scan, BackwardScanDirection, w->scanslot))
	{
		bool		isnull;

		*entered_at = DatumGetTimestampTz(slot_getattr(w->scanslot,
													   Anum_history_entered_at,
													   &isnull));
		found = !isnull;
	}
	index_endscan(scan);
	index_close(index, AccessShareLock);
	ExecClearTuple(w->scanslot);
	return found;
}

/*
 * Read the largest deal_id of the history, in the order of the
 * (deal_id, entered_at) index, with SnapshotSelf (as HistoryFindNewest
 * reads).  An index with a non-default order (DESC, NULLS FIRST) or a key
 * read as NULL leaves every deal looked up.
 */
static void
HistoryReadBound(HistoryWriter *w)
{
	TrackedTable *t = w->table;
	Relation	index;
	IndexScanDesc scan;

	Assert(w->scanslot != NULL);	/* made by the first deal's lookup */
	w->bound_state = 3;
	index = index_open(t->history_index, AccessShareLock);
	if (index->rd_indoption[0] == 0)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(w->rel),
											  Anum_history_deal_id - 1);

		fmgr_info_copy(&w->bound_cmp, index_getprocinfo(index, 1, BTORDER_PROC),
					   CurrentMemoryContext);
		w->bound_collation = index->rd_indcollation[0];
		scan = compat_index_beginscan(w->rel, index, SnapshotSelf, 0, 0);
		index_rescan(scan, NULL, 0, NULL, 0);
		if (index_getnext_slot(scan, BackwardScanDirection, w->scanslot))
		{
			bool		isnull;
			Datum		key = slot_getattr(w->scanslot, Anum_history_deal_id,
										   &isnull);

			if (!isnull)
			{
				w->bound = datumCopy(key, att->attbyval, att->attlen);
				w->bound_state = 1;
			}
		}
		else
			w->bound_state = 2;
		index_endscan(scan);
		ExecClearTuple(w->scanslot);
	}
	index_close(index, AccessShareLock);
}

/*
 * HistoryFindNewest for the deals one INSERT or COPY statement inserted,
 * each key once, asked in turn by funnel_track_insert.  Most new deals have
 * no visit at all, and a statement of many rows would otherwise probe the
 * index once per row: from the second deal on, the largest deal_id of the
 * history is read once, and a deal whose key sorts after it has no visit,
 * without a probe.
 *
 * That bound stays good for the rest of the statement: the keys asked about
 * are in the deals table, inserted by this statement and not committed, so
 * no other transaction can write a visit of one of them from now on (its
 * INSERT of the key waits for ours, its UPDATE or DELETE does not see our
 * row), and every transaction that wrote one before (a deal deleted and
 * inserted again) committed before our INSERT could insert the key, so its
 * visits are in the index now, at or below the bound.
 */
bool
HistoryFindNewestOfNew(HistoryWriter *w, Datum deal_id, TimestampTz *entered_at)
{
	/* an import writes no index entries: nothing to read there */
	if (unlikely(w->table->history_relid == history_bulk_relid))
		return false;
	if (++w->new_deals > 1)
	{
		if (w->bound_state == 0)
			HistoryReadBound(w);
		if (w->bound_state == 2)
			return false;
		if (w->bound_state == 1 &&
			DatumGetInt32(FunctionCall2Coll(&w->bound_cmp, w->bound_collation,
											deal_id, w->bound)) > 0)
			return false;
	}
	return HistoryFindNewest(w, deal_id, entered_at);
}

/* Set left_at of the visit found by HistoryFindOpen */
void
HistoryCloseOpen(HistoryWriter *w, TimestampTz left_at)
{
	TupleTableSlot *slot = w->openslot;
	compat_update_indexes update_indexes;

	Assert(w->found);
	slot_getallattrs(slot);
	slot->tts_values[Anum_history_left_at - 1] = TimestampTzGetDatum(left_at);
	slot->tts_isnull[Anum_history_left_at - 1] = false;
	/* NOT NULL and CHECK constraints users add (a dump must restore) */
	if (w->rel->rd_att->constr)
		ExecConstraints(w->rri, slot, w->estate);

	simple_table_tuple_update(w->rel, &w->opentid, slot, SnapshotSelf,
							  &update_indexes);
	/* a HOT update (the usual case: left_at is in no index) adds no entry */
	if (compat_update_needs_indexes(update_indexes) &&
		w->rri->ri_NumIndices > 0)
	{
		compat_ExecInsertIndexTuples(w->rri, slot, w->estate, true,
									 compat_update_only_summarizing(update_indexes));
		ResetPerTupleExprContext(w->estate);
	}
	w->found = false;
}

/* Write the buffered visits */
static void
HistoryFlush(HistoryWriter *w)
{
	int			i;

	if (w->nslots == 0)
		return;
	if (w->batch)
		table_multi_insert(w->rel, w->slots, w->nslots, w->cid, 0, w->bistate);
	else
		table_tuple_insert(w->rel, w->slots[0], w->cid, 0, NULL);

	if (w->rri->ri_NumIndices > 0)
	{
		for (i = 0; i < w->nslots; i++)
		{
			compat_ExecInsertIndexTuples(w->rri, w->slots[i], w->estate,
										 false, false);
			ResetPerTupleExprContext(w->estate);
		}
	}
	for (i = 0; i < w->nslots; i++)
		ExecClearTuple(w->slots[i]);
	w->nslots = 0;
}

/* Add a visit (written at once, or at the next batch flush) */
void
HistoryAddVisit(HistoryWriter *w, Datum deal_id, DealStage stage,
				TimestampTz entered_at)
{
	HistoryAddClosedVisit(w, deal_id, stage, entered_at, false, 0);
}

/*
 * Add a visit whose left_at is known (closed true), as an import writes
 * the past visits of a deal; with closed false, the open visit
 */
void
HistoryAddClosedVisit(HistoryWriter *w, Datum deal_id, DealStage stage,
					  TimestampTz entered_at, bool closed, TimestampTz left_at)
{
	TupleTableSlot *slot;

	if (w->slots[w->nslots] == NULL)
		w->slots[w->nslots] = table_slot_create(w->rel, &w->estate->es_tupleTable);
	slot = w->slots[w->nslots];

	ExecClearTuple(slot);
	slot->tts_values[Anum_history_deal_id - 1] = deal_id;
	slot->tts_isnull[Anum_history_deal_id - 1] = false;
	slot->tts_values[Anum_history_stage - 1] = DealStageGetDatum(stage);
	slot->tts_isnull[Anum_history_stage - 1] = false;
	slot->tts_values[Anum_history_entered_at - 1] = TimestampTzGetDatum(entered_at);
	slot->tts_isnull[Anum_history_entered_at - 1] = false;
	slot->tts_values[Anum_history_left_at - 1] = TimestampTzGetDatum(left_at);
	slot->tts_isnull[Anum_history_left_at - 1] = !closed;
	slot->tts_values[Anum_history_entered_by - 1] = CurrentUserName();
	slot->tts_isnull[Anum_history_entered_by - 1] = false;
	/* columns a user added to the history table: their DEFAULT, or NULL */
	if (slot->tts_tupleDescriptor->natts > Natts_history)
	{
		int			natts = slot->tts_tupleDescriptor->natts;
		int			i;

		memset(slot->tts_isnull + Natts_history, true, natts - Natts_history);
		if (w->defaults)
		{
			ExprContext *econtext = GetPerTupleExprContext(w->estate);

			for (i = Natts_history; i < natts; i++)
			{
				if (w->defaults[i] == NULL)
					continue;
				slot->tts_values[i] = ExecEvalExpr(w->defaults[i], econtext,
												   &slot->tts_isnull[i]);
			}
		}
	}
	ExecStoreVirtualTuple(slot);
	if (w->rel->rd_att->constr)
		ExecConstraints(w->rri, slot, w->estate);
	/* copy a by-reference deal_id and defaults out of their memory */
	ExecMaterializeSlot(slot);
	ResetPerTupleExprContext(w->estate);

	w->nslots++;
	if (w->nslots == w->maxslots)
		HistoryFlush(w);
}

/* Write what is buffered and close everything */
void
HistoryEnd(HistoryWriter *w)
{
	HistoryFlush(w);
	if (w->bistate)
		FreeBulkInsertState(w->bistate);
	ExecCloseIndices(w->rri);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
}
