/*-------------------------------------------------------------------------
 *
 * history_read.c
 *	  Opening a stage history table (and a deals table) named by a regclass
 *	  argument, with its inheritance children, for one sequential scan each
 *	  through the table AM, after checking everything a regclass argument
 *	  can get wrong; and validating a tracked table and its history for the
 *	  SQL that funnel.stale_deals() and funnel.check_history() compose.
 *
 * A regclass is just an OID the caller chose: it may name a view, an
 * index, another session's temporary table, a table with row-level
 * security, or a table whose columns have other names or types.  Before a
 * single tuple is read this file checks: the relation exists and is an
 * ordinary table, and the caller holds SELECT on it (both before the lock,
 * to refuse early, so that a role that cannot read a table cannot lock
 * it); then on the relation opened under AccessShareLock, since it may
 * have changed while this backend waited for the lock (on PostgreSQL 15
 * its owner can turn an empty table into a view): again the kind, the
 * columns exist, are not dropped and have the expected types, SELECT on the
 * columns read, not another session's temporary table, no row-level
 * security applying to the caller (the scan would bypass the policies, so
 * it is refused instead).  The inheritance children, which a query of the
 * table reads, are locked and checked the same way and read too, their
 * columns found by name.  The locks are kept until the end of the
 * transaction, so the validated layout cannot change under the scan.
 *
 * A stage history is any table with columns deal_id (any type), stage
 * funnel.deal_stage, entered_at timestamptz and left_at timestamptz, such
 * as the <table>_stage_history that funnel.track() creates; it need not be
 * tracked any more (untrack() keeps it), which is why the layout, not the
 * funnel.tracked_table catalog, decides.
 *
 * src/analysis/history_read.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
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
#include "track.h"

#define HISTORY_LAYOUT_HINT \
	"A stage history is a table with columns deal_id, stage funnel.deal_stage, entered_at timestamp with time zone and left_at timestamp with time zone, such as the one funnel.track() creates."

/* The relation's name as regclass prints it (qualified when not visible) */
char *
ReaderRelName(Oid relid)
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
bool
ReaderIsCitusTable(Oid relid)
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

/* What a relation kind is, for messages */
static const char *
RelKindWord(char relkind)
{
	switch (relkind)
	{
		case RELKIND_RELATION:
			return "an ordinary table";
		case RELKIND_VIEW:
			return "a view";
		case RELKIND_MATVIEW:
			return "a materialized view";
		case RELKIND_PARTITIONED_TABLE:
			return "a partitioned table";
		case RELKIND_FOREIGN_TABLE:
			return "a foreign table";
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			return "an index";
		case RELKIND_SEQUENCE:
			return "a sequence";
		default:
			return "not a table";
	}
}

/*
 * Refuse anything but an ordinary table that holds its rows here (a Citus
 * table too when allow_citus: SQL over it is planned by Citus).  relkind
 * is '\0' for a relation that does not exist.  Called with the kind from
 * the catalog before the lock (to refuse early) and with the kind of the
 * opened relation after it: only the second one counts, because the owner
 * of a table may turn it into a view (CREATE RULE "_RETURN" on PostgreSQL
 * 15) while this backend waits for the lock.  parent is the table named by
 * the argument when relid is one of its inheritance children.
 */
void
ReaderCheckKind(Oid relid, char relkind, Oid parent, bool allow_citus,
		  const char *what, const char *hint)
{
	if (relkind == RELKIND_RELATION)
	{
		if (!allow_citus && ReaderIsCitusTable(relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("\"%s\" is a Citus table", ReaderRelName(relid)),
					 errdetail("Its rows are in shards, which this function does not read; on this node the table is empty."),
					 errhint("Use funnel's aggregates, which Citus runs on the shards, or call this function on a local copy of the table.")));
		return;
	}
	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (OidIsValid(parent))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\", an inheritance child of \"%s\", is not an ordinary table",
						ReaderRelName(relid), ReaderRelName(parent)),
				 errdetail("It is %s; only ordinary tables can be read, and a query of \"%s\" reads its children.",
						   RelKindWord(relkind), ReaderRelName(parent)),
				 errhint("Detach it with ALTER TABLE ... NO INHERIT.")));
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("\"%s\" is not %s", ReaderRelName(relid), what),
			 errdetail("It is %s; only ordinary tables can be read.", RelKindWord(relkind)),
			 errhint("%s", hint)));
}

/* The same check on the catalog, before any lock */
static void
CheckIsTable(Oid relid, const char *what, const char *hint)
{
	ReaderCheckKind(relid, get_rel_relkind(relid), InvalidOid, false, what, hint);
}

/*
 * Before any lock: the caller must hold SELECT on the table or on at least
 * one of its columns, so that a role that cannot read the table cannot
 * make this function lock it either.
 */
void
ReaderCheckAnySelect(Oid relid)
{
	Oid			userid = GetUserId();

	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return;
	if (pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ANY) == ACLCHECK_OK)
		return;
	/* "permission denied for view" for a view (history_query.c reads them) */
	aclcheck_error(ACLCHECK_NO_PRIV,
				   get_rel_relkind(relid) == RELKIND_VIEW ? OBJECT_VIEW :
				   get_rel_relkind(relid) == RELKIND_MATVIEW ? OBJECT_MATVIEW : OBJECT_TABLE,
				   get_rel_name(relid));
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

/*
 * Refuse a table this backend cannot, or must not, read: another session's
 * temporary table, or one whose row-level security applies to the caller.
 * A scan through the AM (by_sql false) would bypass the policies; a query
 * (by_sql true) would run them, expressions of the table's owner, with the
 * caller's privileges.  Either way it is refused rather than filtered.
 */
void
ReaderCheckReadable(Relation rel, bool by_sql)
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
						ReaderRelName(RelationGetRelid(rel))),
				 by_sql ?
				 errdetail("Its policies are expressions of the table's owner, which funnel does not run on behalf of another role.") :
				 errdetail("funnel reads the table directly and would bypass its policies."),
				 errhint("Query the table with plain SQL, or use a role that bypasses row-level security.")));
}

/* Column number of a live column, or InvalidAttrNumber */
AttrNumber
ReaderFindColumn(Relation rel, const char *name)
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

/*
 * A column read through the table AM must hold its values: a virtual
 * generated column (PostgreSQL 18) is computed by the executor and reads
 * as NULL here.
 */
static void
CheckStored(Relation rel, Form_pg_attribute att)
{
#ifdef ATTRIBUTE_GENERATED_VIRTUAL
	if (att->attgenerated == ATTRIBUTE_GENERATED_VIRTUAL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"%s\" of \"%s\" is a virtual generated column",
						NameStr(att->attname), ReaderRelName(RelationGetRelid(rel))),
				 errdetail("funnel reads stored values directly; a virtual column has none.")));
#endif
}

/* A history column: present, of the expected type (InvalidOid: any) */
AttrNumber
HistoryColumn(Relation rel, const char *name, Oid type)
{
	AttrNumber	attnum = ReaderFindColumn(rel, name);
	Form_pg_attribute att;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("\"%s\" is not a stage history", ReaderRelName(RelationGetRelid(rel))),
				 errdetail("It has no column \"%s\".", name),
				 errhint(HISTORY_LAYOUT_HINT)));
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	CheckStored(rel, att);
	if (OidIsValid(type) && att->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("\"%s\" is not a stage history", ReaderRelName(RelationGetRelid(rel))),
				 errdetail("Column \"%s\" is of type %s, not %s.", name,
						   format_type_be(att->atttypid), format_type_be(type)),
				 errhint(HISTORY_LAYOUT_HINT)));
	return attnum;
}

/* OID of the type funnel.deal_stage */
Oid
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
 * Open a table named by an argument and lock it, validated under the lock:
 * the checks before the lock only refuse early (and keep a role that cannot
 * read the table from locking it); what was opened is checked again, since
 * it may have changed while this backend waited for the lock.
 */
static Relation
OpenTable(Oid relid, const char *what, const char *hint)
{
	Relation	rel;

	CheckIsTable(relid, what, hint);
	ReaderCheckAnySelect(relid);
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	ReaderCheckKind(relid, rel->rd_rel->relkind, InvalidOid, false, what, hint);
	ReaderCheckReadable(rel, false);
	return rel;
}

/*
 * The inheritance children of a locked table, each locked and validated
 * like the table itself (by_sql: for a query, see ReaderCheckReadable): a query
 * of the table reads them, so funnel does too.  As the planner does, another session's temporary children are
 * skipped (their rows are in that session's buffers).  No privilege is
 * checked on a child: a query of the parent checks the parent's only.
 */
List *
ReaderOpenChildren(Relation parent, bool by_sql)
{
	Oid			parentid = RelationGetRelid(parent);
	List	   *oids = find_all_inheritors(parentid, AccessShareLock, NULL);
	List	   *children = NIL;
	ListCell   *lc;

	foreach(lc, oids)
	{
		Oid			childid = lfirst_oid(lc);
		Relation	child;

		if (childid == parentid)
			continue;
		/* locked by find_all_inheritors, which skipped dropped ones */
		child = relation_open(childid, NoLock);
		if (RELATION_IS_OTHER_TEMP(child))
		{
			relation_close(child, NoLock);
			continue;
		}
		ReaderCheckKind(childid, child->rd_rel->relkind, parentid, false, NULL, NULL);
		ReaderCheckReadable(child, by_sql);
		children = lappend(children, child);
	}
	return children;
}

/* Set up a reader of rel and its children, ncols columns each */
static void
ReaderInit(TableReader *reader, Relation rel, List *children, int ncols)
{
	ListCell   *lc;
	int			i = 1;

	memset(reader, 0, sizeof(TableReader));
	reader->nrels = 1 + list_length(children);
	reader->rels = palloc(reader->nrels * sizeof(Relation));
	reader->attnums = palloc0(reader->nrels * ncols * sizeof(AttrNumber));
	reader->ncols = ncols;
	reader->stage_typmod = -1;
	reader->rels[0] = rel;
	foreach(lc, children)
		reader->rels[i++] = (Relation) lfirst(lc);
	for (i = 0; i < reader->nrels; i++)
		reader->reltuples += Max(reader->rels[i]->rd_rel->reltuples, 0);
}

/*
 * Open a stage history and its inheritance children for one sequential
 * scan each under the active snapshot, or raise the error that says what
 * is wrong with one of them.
 */
void
HistoryOpen(HistoryReader *reader, Oid relid)
{
	Relation	rel;
	Form_pg_attribute key;
	Oid			stage_type = DealStageTypeOid();
	int			i;

	rel = OpenTable(relid, "a stage history", HISTORY_LAYOUT_HINT);
	ReaderInit(reader, rel, ReaderOpenChildren(rel, false), 4);
	for (i = 0; i < reader->nrels; i++)
	{
		Relation	r = reader->rels[i];
		AttrNumber *attnums = &reader->attnums[i * 4];

		/* children have the parent's column types: checked all the same */
		attnums[HIST_DEAL_ID] = HistoryColumn(r, history_layout[HIST_DEAL_ID].name, InvalidOid);
		attnums[HIST_STAGE] = HistoryColumn(r, history_layout[HIST_STAGE].name, stage_type);
		attnums[HIST_ENTERED_AT] = HistoryColumn(r, history_layout[HIST_ENTERED_AT].name, TIMESTAMPTZOID);
		attnums[HIST_LEFT_AT] = HistoryColumn(r, history_layout[HIST_LEFT_AT].name, TIMESTAMPTZOID);
		if (i == 0)
			CheckSelect(relid, 4, attnums);
	}

	key = TupleDescAttr(RelationGetDescr(rel), reader->attnums[HIST_DEAL_ID] - 1);
	reader->key_type = key->atttypid;
	reader->key_collation = key->attcollation;
	reader->stage_typmod =
		TupleDescAttr(RelationGetDescr(rel), reader->attnums[HIST_STAGE] - 1)->atttypmod;
}

/*
 * Next row of the reader into reader->values and isnull, moving on to the
 * next relation when one is exhausted.  For a heap, the columns are read
 * from the tuple in the buffer (heap_getattr uses the cached offsets of
 * the fixed-width columns), which saves the slot's bookkeeping on every
 * row.
 */
bool
TableReaderNext(TableReader *reader)
{
	if (reader->query != NULL)
		return HistoryQueryNext(reader);
	for (;;)
	{
		const AttrNumber *cols;
		int			i;

		if (reader->scan == NULL)
		{
			Relation	rel;

			if (reader->current >= reader->nrels)
				return false;
			rel = reader->rels[reader->current];
			reader->cols = &reader->attnums[reader->current * reader->ncols];
			reader->desc = RelationGetDescr(rel);
			reader->maxatt = 0;
			for (i = 0; i < reader->ncols; i++)
				reader->maxatt = Max(reader->maxatt, reader->cols[i]);
			/* heap tables are read tuple by tuple, others through a slot */
			if (rel->rd_tableam != GetHeapamTableAmRoutine())
				reader->slot = table_slot_create(rel, NULL);
			reader->scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
		}
		cols = reader->cols;

		if (reader->slot == NULL)
		{
			HeapTuple	tuple = heap_getnext(reader->scan, ForwardScanDirection);

			if (tuple != NULL)
			{
				for (i = 0; i < reader->ncols; i++)
					reader->values[i] = heap_getattr(tuple, cols[i], reader->desc,
													 &reader->isnull[i]);
				return true;
			}
		}
		else if (table_scan_getnextslot(reader->scan, ForwardScanDirection, reader->slot))
		{
			slot_getsomeattrs(reader->slot, reader->maxatt);
			for (i = 0; i < reader->ncols; i++)
			{
				reader->values[i] = reader->slot->tts_values[cols[i] - 1];
				reader->isnull[i] = reader->slot->tts_isnull[cols[i] - 1];
			}
			return true;
		}

		/* this relation is done: on to the next one */
		table_endscan(reader->scan);
		reader->scan = NULL;
		if (reader->slot != NULL)
			ExecDropSingleTupleTableSlot(reader->slot);
		reader->slot = NULL;
		reader->current++;
	}
}

/* End the scans; the locks are kept until the end of the transaction */
void
TableReaderClose(TableReader *reader)
{
	int			i;

	if (reader->query != NULL)
	{
		HistoryQueryClose(reader);
		return;
	}
	if (reader->scan != NULL)
		table_endscan(reader->scan);
	if (reader->slot != NULL)
		ExecDropSingleTupleTableSlot(reader->slot);
	reader->scan = NULL;
	reader->slot = NULL;
	for (i = 0; i < reader->nrels; i++)
		relation_close(reader->rels[i], NoLock);
	reader->nrels = 0;
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

/* The single column of a table's primary key, or an error */
static AttrNumber
PrimaryKeyColumn(Relation rel)
{
	Oid			pkoid;
	Relation	index;
	AttrNumber	attnum;

	pkoid = compat_RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("deals table \"%s\" has no primary key",
						ReaderRelName(RelationGetRelid(rel))),
				 errhint("The history's deal_id refers to deals by their primary key.")));
	index = index_open(pkoid, AccessShareLock);
	if (index->rd_index->indnkeyatts != 1 || index->rd_index->indkey.values[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("the primary key of deals table \"%s\" is not a single column",
						ReaderRelName(RelationGetRelid(rel))),
				 errhint("The history's deal_id refers to deals by a one-column primary key.")));
	attnum = index->rd_index->indkey.values[0];
	index_close(index, AccessShareLock);
	return attnum;
}

/*
 * Open a deals table and its inheritance children, with the same checks as
 * a history, to read its primary key and, when it has one, its amount
 * (ncols is then 2).  A child's key and amount are its columns of the same
 * names (inheritance gives them the same types; a child has no primary key
 * of its own).
 */
void
DealsOpen(TableReader *reader, Oid relid)
{
	DealsOpenAmount(reader, relid, NULL);
}

/*
 * DealsOpen(), reading the amount from the column named amount_column
 * (issue 21.2: amount_usd ...) rather than "amount" when it is not NULL:
 * found under the lock among the live columns (42703 otherwise) and of
 * type numeric or a domain over numeric (42804 otherwise).
 */
void
DealsOpenAmount(TableReader *reader, Oid relid, const char *amount_column)
{
	Relation	rel;
	AttrNumber	key;
	AttrNumber	amount;
	Form_pg_attribute att;
	AttrNumber	attnums[2];
	int			i;

	rel = OpenTable(relid, "a deals table",
					"Pass the deals table whose primary key the history's deal_id refers to.");
	key = PrimaryKeyColumn(rel);
	if (amount_column == NULL)
		amount = DealsAmountColumn(relid);
	else
	{
		amount = ReaderFindColumn(rel, amount_column);
		if (amount == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of deals table \"%s\" does not exist",
							amount_column, ReaderRelName(relid)),
					 errhint("amount_column names the deals' amount column.")));
		att = TupleDescAttr(RelationGetDescr(rel), amount - 1);
		if (getBaseType(att->atttypid) != NUMERICOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("amount column \"%s\" of deals table \"%s\" is of type %s, not numeric",
							amount_column, ReaderRelName(relid), format_type_be(att->atttypid)),
					 errhint("Amounts are numeric (or a domain over numeric); cast the column in a view of the table, or add a numeric column.")));
	}
	attnums[DEALS_KEY] = key;
	attnums[DEALS_AMOUNT] = amount;
	CheckSelect(relid, 2, attnums);
	ReaderInit(reader, rel, ReaderOpenChildren(rel, false),
			   amount == InvalidAttrNumber ? 1 : 2);

	att = TupleDescAttr(RelationGetDescr(rel), key - 1);
	reader->key_type = att->atttypid;
	reader->key_collation = att->attcollation;
	for (i = 0; i < reader->nrels; i++)
	{
		Relation	r = reader->rels[i];
		int			j;

		for (j = 0; j < reader->ncols; j++)
		{
			const char *name = get_attname(relid, attnums[j], false);
			AttrNumber	attnum = i == 0 ? attnums[j] : ReaderFindColumn(r, name);

			if (attnum == InvalidAttrNumber)
				elog(ERROR, "inheritance child \"%s\" has no column \"%s\"",
					 ReaderRelName(RelationGetRelid(r)), name);
			CheckStored(r, TupleDescAttr(RelationGetDescr(r), attnum - 1));
			reader->attnums[i * reader->ncols + j] = attnum;
		}
	}
}

PG_FUNCTION_INFO_V1(funnel_amount_column);

/* funnel_internal.amount_column(deals regclass) -> name: the rule above, for SQL */
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
