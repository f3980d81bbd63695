/*-------------------------------------------------------------------------
 *
 * history_read.c
 *	  Opening a stage history table (and a deals table) named by a regclass
 *	  argument for one sequential scan through the table AM, after checking
 *	  everything a regclass argument can get wrong.
 *
 * A regclass is just an OID the caller chose: it may name a view, an
 * index, another session's temporary table, a table with row-level
 * security, or a table whose columns have other names or types.  Before a
 * single tuple is read this file checks, in order: the relation exists and
 * is an ordinary table; the caller holds SELECT on it (table-level, or on
 * every column read, as the executor would require); after taking
 * AccessShareLock, the columns exist, are not dropped and have the expected
 * types; the table is not another session's temporary table; row-level
 * security does not apply to the caller (the scan would bypass the
 * policies, so it is refused instead).  The lock is kept until the end of
 * the transaction, so the validated layout cannot change under the scan.
 *
 * A stage history is any table with columns deal_id (any type), stage
 * funnel.deal_stage, entered_at timestamptz and left_at timestamptz, such
 * as the <table>_stage_history that funnel.track() creates; it need not be
 * tracked any more (untrack() keeps it), which is why the layout, not the
 * funnel.tracked_table catalog, decides.
 *
 * src/history_read.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "history_read.h"

#define HISTORY_LAYOUT_HINT \
	"A stage history is a table with columns deal_id, stage funnel.deal_stage, entered_at timestamp with time zone and left_at timestamp with time zone, such as the one funnel.track() creates."

/* The relation's name as regclass prints it (qualified when not visible) */
static char *
RelName(Oid relid)
{
	return DatumGetCString(DirectFunctionCall1(regclassout,
											   ObjectIdGetDatum(relid)));
}

/*
 * Whether Citus manages the relation (a row in pg_dist_partition): on this
 * node it is then an empty shell whose rows live in shards, so a scan of it
 * would see no rows and report an empty pipeline instead of failing.  Citus
 * is optional, so its catalog is looked up by name.
 */
static bool
IsCitusTable(Oid relid)
{
	Oid			dist_partition = get_relname_relid("pg_dist_partition",
												   PG_CATALOG_NAMESPACE);
	AttrNumber	attnum;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(dist_partition))
		return false;
	attnum = get_attnum(dist_partition, "logicalrelid");
	if (attnum == InvalidAttrNumber)
		return false;
	rel = table_open(dist_partition, AccessShareLock);
	ScanKeyInit(&key, attnum, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* Refuse anything but an existing ordinary table that holds its rows here */
static void
CheckIsTable(Oid relid, const char *what, const char *hint)
{
	char		relkind = get_rel_relkind(relid);
	const char *kind;

	if (relkind == RELKIND_RELATION)
	{
		if (IsCitusTable(relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("\"%s\" is a Citus table", RelName(relid)),
					 errdetail("Its rows are in shards, which this function does not read; on this node the table is empty."),
					 errhint("Use funnel's aggregates, which Citus runs on the shards, or call this function on a local copy of the table.")));
		return;
	}
	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	switch (relkind)
	{
		case RELKIND_VIEW:
			kind = "a view";
			break;
		case RELKIND_MATVIEW:
			kind = "a materialized view";
			break;
		case RELKIND_PARTITIONED_TABLE:
			kind = "a partitioned table";
			break;
		case RELKIND_FOREIGN_TABLE:
			kind = "a foreign table";
			break;
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			kind = "an index";
			break;
		case RELKIND_SEQUENCE:
			kind = "a sequence";
			break;
		default:
			kind = "not a table";
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("\"%s\" is not %s", RelName(relid), what),
			 errdetail("It is %s; only ordinary tables can be read.", kind),
			 errhint("%s", hint)));
}

/*
 * Before any lock: the caller must hold SELECT on the table or on at least
 * one of its columns, so that a role that cannot read the table cannot
 * make this function lock it either.
 */
static void
CheckAnySelect(Oid relid)
{
	Oid			userid = GetUserId();

	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return;
	if (pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ANY) == ACLCHECK_OK)
		return;
	aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
}

/* SELECT on the table, or on each column read (as the executor checks) */
static void
CheckSelect(Oid relid, int ncols, const AttrNumber *attnums)
{
	Oid			userid = GetUserId();
	int			i;

	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return;
	for (i = 0; i < ncols; i++)
		if (attnums[i] != InvalidAttrNumber &&
			pg_attribute_aclcheck(relid, attnums[i], userid, ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
}

/* Refuse a table this backend cannot, or must not, read through the AM */
static void
CheckReadable(Relation rel)
{
	if (RELATION_IS_OTHER_TEMP(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read temporary table \"%s\" of another session",
						RelationGetRelationName(rel))));
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read \"%s\": row-level security applies to it",
						RelName(RelationGetRelid(rel))),
				 errdetail("funnel reads the table directly and would bypass its policies."),
				 errhint("Query the table with plain SQL, or use a role that bypasses row-level security.")));
}

/* Column number of a live column, or InvalidAttrNumber */
static AttrNumber
FindColumn(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/* A history column: present, of the expected type (InvalidOid: any) */
static AttrNumber
HistoryColumn(Relation rel, const char *name, Oid type)
{
	AttrNumber	attnum = FindColumn(rel, name);
	Form_pg_attribute att;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("\"%s\" is not a stage history", RelName(RelationGetRelid(rel))),
				 errdetail("It has no column \"%s\".", name),
				 errhint(HISTORY_LAYOUT_HINT)));
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	if (OidIsValid(type) && att->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("\"%s\" is not a stage history", RelName(RelationGetRelid(rel))),
				 errdetail("Column \"%s\" is of type %s, not %s.", name,
						   format_type_be(att->atttypid), format_type_be(type)),
				 errhint(HISTORY_LAYOUT_HINT)));
	return attnum;
}

/* OID of the type funnel.deal_stage */
static Oid
DealStageTypeOid(void)
{
	Oid			nspoid = get_namespace_oid(FUNNEL_SCHEMA, false);
	Oid			typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										 CStringGetDatum("deal_stage"),
										 ObjectIdGetDatum(nspoid));

	if (!OidIsValid(typoid))
		elog(ERROR, "type funnel.deal_stage does not exist");
	return typoid;
}

/*
 * Open a stage history for one sequential scan under the active snapshot,
 * or raise the error that says what is wrong with the relation.
 */
void
HistoryOpen(HistoryReader *reader, Oid relid)
{
	Relation	rel;
	AttrNumber	attnums[4];
	Form_pg_attribute key;

	memset(reader, 0, sizeof(HistoryReader));
	CheckIsTable(relid, "a stage history", HISTORY_LAYOUT_HINT);
	CheckAnySelect(relid);

	rel = table_open(relid, AccessShareLock);
	reader->rel = rel;
	reader->deal_id = HistoryColumn(rel, "deal_id", InvalidOid);
	reader->stage = HistoryColumn(rel, "stage", DealStageTypeOid());
	reader->entered_at = HistoryColumn(rel, "entered_at", TIMESTAMPTZOID);
	reader->left_at = HistoryColumn(rel, "left_at", TIMESTAMPTZOID);
	attnums[0] = reader->deal_id;
	attnums[1] = reader->stage;
	attnums[2] = reader->entered_at;
	attnums[3] = reader->left_at;
	CheckSelect(relid, 4, attnums);
	CheckReadable(rel);

	reader->maxatt = Max(Max(attnums[0], attnums[1]), Max(attnums[2], attnums[3]));
	key = TupleDescAttr(RelationGetDescr(rel), reader->deal_id - 1);
	reader->key_type = key->atttypid;
	reader->key_collation = key->attcollation;
	reader->stage_typmod = TupleDescAttr(RelationGetDescr(rel), reader->stage - 1)->atttypmod;

	/* heap tables are read tuple by tuple, others through a slot */
	if (rel->rd_tableam != GetHeapamTableAmRoutine())
		reader->slot = table_slot_create(rel, NULL);
	reader->scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
}

/*
 * Next visit of the scan into reader->values and isnull.  For a heap, the
 * four columns are read from the tuple in the buffer (heap_getattr uses the
 * cached offsets of the fixed-width columns), which saves the slot's
 * bookkeeping on every row.
 */
bool
HistoryNext(HistoryReader *reader)
{
	const AttrNumber cols[4] = {reader->deal_id, reader->stage,
	reader->entered_at, reader->left_at};
	int			i;

	if (reader->slot == NULL)
	{
		HeapTuple	tuple = heap_getnext(reader->scan, ForwardScanDirection);
		TupleDesc	desc = RelationGetDescr(reader->rel);

		if (tuple == NULL)
			return false;
		for (i = 0; i < 4; i++)
			reader->values[i] = heap_getattr(tuple, cols[i], desc, &reader->isnull[i]);
		return true;
	}
	if (!table_scan_getnextslot(reader->scan, ForwardScanDirection, reader->slot))
		return false;
	slot_getsomeattrs(reader->slot, reader->maxatt);
	for (i = 0; i < 4; i++)
	{
		reader->values[i] = reader->slot->tts_values[cols[i] - 1];
		reader->isnull[i] = reader->slot->tts_isnull[cols[i] - 1];
	}
	return true;
}

/* End the scan; the lock is kept until the end of the transaction */
void
HistoryClose(HistoryReader *reader)
{
	table_endscan(reader->scan);
	if (reader->slot != NULL)
		ExecDropSingleTupleTableSlot(reader->slot);
	table_close(reader->rel, NoLock);
	reader->rel = NULL;
}

/*
 * The amount column of a deals table: a live column named "amount" whose
 * type is numeric or a domain over numeric; InvalidAttrNumber otherwise.
 */
AttrNumber
DealsAmountColumn(Oid relid)
{
	AttrNumber	attnum = get_attnum(relid, "amount");

	if (attnum == InvalidAttrNumber)
		return InvalidAttrNumber;
	if (getBaseType(get_atttype(relid, attnum)) != NUMERICOID)
		return InvalidAttrNumber;
	return attnum;
}

/*
 * Open a deals table whose primary key and amount the trend reads, with
 * the same checks as a history; the caller scans it with table_beginscan.
 */
Relation
DealsOpen(Oid relid, DealsColumns *cols)
{
	Relation	rel;
	Relation	index;
	Oid			pkoid;
	AttrNumber	attnums[2];
	Form_pg_attribute att;

	CheckIsTable(relid, "a deals table",
				 "Pass the deals table whose primary key the history's deal_id refers to.");
	CheckAnySelect(relid);
	rel = table_open(relid, AccessShareLock);
#if PG_VERSION_NUM >= 180000
	pkoid = RelationGetPrimaryKeyIndex(rel, false);
#else
	pkoid = RelationGetPrimaryKeyIndex(rel);
#endif
	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("deals table \"%s\" has no primary key", RelName(relid)),
				 errhint("The history's deal_id refers to deals by their primary key.")));
	index = index_open(pkoid, AccessShareLock);
	if (index->rd_index->indnkeyatts != 1 || index->rd_index->indkey.values[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("the primary key of deals table \"%s\" is not a single column",
						RelName(relid)),
				 errhint("The history's deal_id refers to deals by a one-column primary key.")));
	cols->key = index->rd_index->indkey.values[0];
	index_close(index, AccessShareLock);

	att = TupleDescAttr(RelationGetDescr(rel), cols->key - 1);
	cols->key_type = att->atttypid;
	cols->key_collation = att->attcollation;
	cols->amount = DealsAmountColumn(relid);
	attnums[0] = cols->key;
	attnums[1] = cols->amount;
	CheckSelect(relid, 2, attnums);
	CheckReadable(rel);
	return rel;
}

PG_FUNCTION_INFO_V1(funnel_amount_column);

/* funnel._amount_column(deals regclass) -> name: the rule above, for SQL */
Datum
funnel_amount_column(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	AttrNumber	attnum = DealsAmountColumn(relid);
	Name		result;

	if (attnum == InvalidAttrNumber)
		PG_RETURN_NULL();
	result = (Name) palloc0(NAMEDATALEN);
	namestrcpy(result, get_attname(relid, attnum, false));
	PG_RETURN_NAME(result);
}
