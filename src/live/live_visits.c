/*-------------------------------------------------------------------------
 *
 * live_visits.c
 *	  The visits of one moved deal for the live summaries' UPDATE trigger
 *	  (live_write.c), read by a direct scan of the history's (deal_id,
 *	  entered_at) index instead of a prepared statement.
 *
 * The prepared statement (funnel_internal.live_update_plan()'s visits_sql)
 * cost half of the trigger: executor start and end around one index scan,
 * and the search_path switch SPI needs.  This scan sees exactly what that
 * statement saw: like SPI_execute_plan() in its default (not read-only)
 * mode it takes a new transaction snapshot, advances the command counter
 * (so the visits the tracking trigger closed and opened in this statement
 * are seen) and scans with that snapshot.  It runs as the deals table's
 * owner, as the statement did, and only where the statement would have
 * read the same rows without a check the executor makes: the history is a
 * plain table without inheritance children (the statement reads them too),
 * owned by the deals table's owner, who may SELECT it, without row level
 * security, whose funnel columns still have their names and
 * types, with a valid btree index on (deal_id, entered_at) whose first
 * column compares as the key's type and collation do.  The table and the
 * index are opened by OID and re-checked on every call (DDL may have
 * happened since the trigger's entry was built); when a check fails, the
 * caller reads with the prepared statement, which then sees, or refuses,
 * what it always did.
 *
 * src/live/live_visits.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "funnel.h"
#include "history_layout.h"
#include "live_write.h"
#include "pg_compat.h"

/* Column att of the history: still named name, of type typid */
static bool
LiveHistoryColumn(Relation history, AttrNumber att, const char *name, Oid typid)
{
	Form_pg_attribute a;

	if (att > RelationGetDescr(history)->natts)
		return false;
	a = TupleDescAttr(RelationGetDescr(history), att - 1);
	return !a->attisdropped && a->atttypid == typid &&
		strcmp(NameStr(a->attname), name) == 0;
}

/*
 * Find the history's btree index on (deal_id, entered_at) whose first
 * column's equality is that of the key type (the statement's =), at an
 * entry's build: its OID, equality function and collation in the entry
 * (InvalidOid: none; the prepared statement reads).
 */
void
LiveVisitsFindIndex(LiveWriteEntry *e, Oid key_type, MemoryContext mcxt)
{
	Relation	history;
	List	   *indexes;
	ListCell   *lc;

	e->history_index = InvalidOid;
	if (!OidIsValid(e->history_relid))
		return;
	history = try_table_open(e->history_relid, AccessShareLock);
	if (history == NULL)
		return;
	e->history_key_type = key_type;
	e->history_key_coll =
		TupleDescAttr(RelationGetDescr(history), Anum_history_deal_id - 1)->attcollation;
	indexes = RelationGetIndexList(history);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Oid			opno = InvalidOid;

		if (index->rd_rel->relam == BTREE_AM_OID &&
			index->rd_index->indnkeyatts >= 2 &&
			index->rd_index->indkey.values[0] == Anum_history_deal_id &&
			index->rd_index->indkey.values[1] == Anum_history_entered_at &&
			index->rd_opcintype[0] == key_type &&
			index->rd_indcollation[0] == e->history_key_coll &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
			opno = get_opfamily_member(index->rd_opfamily[0], key_type, key_type,
									   BTEqualStrategyNumber);
		/* the statement's = is that of the type's default btree class */
		if (OidIsValid(opno) &&
			opno == lookup_type_cache(key_type, TYPECACHE_EQ_OPR)->eq_opr)
		{
			e->history_index = RelationGetRelid(index);
			fmgr_info_cxt(get_opcode(opno), &e->history_eq, mcxt);
		}
		index_close(index, AccessShareLock);
		if (OidIsValid(e->history_index))
			break;
	}
	list_free(indexes);
	table_close(history, NoLock);
}

/*
 * The visits of the deal whose key is key, into *visits (palloc'd) and
 * *nvisits.  Returns false, having read nothing, when the direct scan does
 * not apply (see the file's comment): the caller reads with the prepared
 * statement.  The caller runs as the deals table's owner.
 */
bool
LiveVisitsRead(LiveWriteEntry *e, Relation deals, Datum key,
			   LiveVisit **visits, int *nvisits)
{
	Relation	history;
	Relation	index;
	Form_pg_index ix;
	Oid			owner = deals->rd_rel->relowner;
	IndexScanDesc scan;
	ScanKeyData skey;
	TupleTableSlot *slot;
	LiveVisit  *v;
	int			nv = 0;
	int			maxv = 8;

	if (!OidIsValid(e->history_index))
		return false;
	history = try_table_open(e->history_relid, AccessShareLock);
	if (history == NULL)
		return false;
	if (history->rd_rel->relkind != RELKIND_RELATION ||
		history->rd_rel->relowner != owner ||
		history->rd_rel->relrowsecurity ||
		history->rd_rel->relhassubclass ||
		!LiveHistoryColumn(history, Anum_history_deal_id, "deal_id", e->history_key_type) ||
		!LiveHistoryColumn(history, Anum_history_stage, "stage", e->stage_type) ||
		!LiveHistoryColumn(history, Anum_history_entered_at, "entered_at", TIMESTAMPTZOID) ||
		!LiveHistoryColumn(history, Anum_history_left_at, "left_at", TIMESTAMPTZOID) ||
		TupleDescAttr(RelationGetDescr(history), Anum_history_deal_id - 1)->attcollation != e->history_key_coll ||
		pg_class_aclcheck(RelationGetRelid(history), owner, ACL_SELECT) != ACLCHECK_OK)
	{
		table_close(history, NoLock);
		return false;
	}
	index = try_relation_open(e->history_index, AccessShareLock);
	if (index == NULL)
	{
		table_close(history, NoLock);
		return false;
	}
	ix = index->rd_index;
	if (index->rd_rel->relkind != RELKIND_INDEX || ix == NULL ||
		ix->indrelid != RelationGetRelid(history) ||
		index->rd_rel->relam != BTREE_AM_OID ||
		!ix->indisvalid || !ix->indisready || !ix->indislive ||
		ix->indnkeyatts < 2 ||
		ix->indkey.values[0] != Anum_history_deal_id ||
		ix->indkey.values[1] != Anum_history_entered_at ||
		index->rd_opcintype[0] != e->history_key_type ||
		index->rd_indcollation[0] != e->history_key_coll)
	{
		relation_close(index, NoLock);
		table_close(history, NoLock);
		return false;
	}

	/* SPI_execute_plan()'s snapshot and command id (see above) */
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();

	v = palloc(sizeof(LiveVisit) * maxv);
	slot = table_slot_create(history, NULL);
	ScanKeyEntryInitializeWithInfo(&skey, 0, 1, BTEqualStrategyNumber,
								   InvalidOid, e->history_key_coll,
								   &e->history_eq, key);
	scan = compat_index_beginscan(history, index, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		snull;
		bool		enull;
		bool		lnull;
		Datum		s = slot_getattr(slot, Anum_history_stage, &snull);
		Datum		en = slot_getattr(slot, Anum_history_entered_at, &enull);
		Datum		l = slot_getattr(slot, Anum_history_left_at, &lnull);

		if (nv == maxv)
		{
			maxv *= 2;
			v = repalloc(v, sizeof(LiveVisit) * maxv);
		}
		v[nv].stage = snull ? 0 : DatumGetDealStage(s);
		v[nv].entered_at = enull ? 0 : DatumGetTimestampTz(en);
		v[nv].bad = snull || enull;
		v[nv].left_at = lnull ? 0 : DatumGetTimestampTz(l);
		v[nv].open = lnull;
		nv++;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	PopActiveSnapshot();
	/* the locks stay until the end of the transaction, as the executor's */
	relation_close(index, NoLock);
	table_close(history, NoLock);
	*visits = v;
	*nvisits = nv;
	return true;
}
