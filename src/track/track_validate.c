/*-------------------------------------------------------------------------
 *
 * track_validate.c
 *	  Checks that a tracked deals table and its history table still have
 *	  the shapes the tracking triggers read and write.
 *
 * The triggers copy datums from the deals row into the history row without
 * going through the executor's type checks, so a table owner's DDL after
 * funnel.track() (a primary key moved to a column of another type, a
 * history column of another type, dropped or renamed, a history table
 * turned into a partition, ...) must never reach them: the datum would be
 * written as the wrong type.  The full checks run when the cache entry of
 * a tracked table is built (track_cache.c), that is after every relcache
 * invalidation of either table; the column checks of the history table run
 * again, a few comparisons, each time it is opened for writing.  Any
 * mismatch is an error naming the table and the column, with a hint how to
 * repair it; nothing is written.
 *
 * src/track/track_validate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "track.h"

/*
 * The layout of a stage history (history_layout.h): the one definition of
 * its columns, from which funnel.track() creates a history and against
 * which the triggers check it.
 */
const HistoryColumnDef history_layout[Natts_history] = {
	{"deal_id", HISTORY_TYPE_KEY, InvalidOid, NULL, true, NULL},
	{"stage", HISTORY_TYPE_STAGE, InvalidOid, NULL, true, NULL},
	{"entered_at", HISTORY_TYPE_FIXED, TIMESTAMPTZOID, "timestamptz", true, NULL},
	{"left_at", HISTORY_TYPE_FIXED, TIMESTAMPTZOID, "timestamptz", false, NULL},
	{"entered_by", HISTORY_TYPE_FIXED, NAMEOID, "name", true, "CURRENT_USER"}
};

/* The names of the first ncolumns history columns, comma-separated */
char *
HistoryColumnNames(int ncolumns)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < ncolumns && i < Natts_history; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", history_layout[i].name);
	return buf.data;
}

/*
 * funnel_internal.history_columns(key_type text, pipeline text) returns text
 *
 * The column list of CREATE TABLE for a new history, from history_layout:
 * key_type is the deal key's type as format_type() spells it (with its
 * COLLATE clause, if any), pipeline the pipeline the stage is bound to.
 */
PG_FUNCTION_INFO_V1(funnel_history_columns);
Datum
funnel_history_columns(PG_FUNCTION_ARGS)
{
	char	   *key_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	/* no pipeline: a table of several, its history's stage unbound */
	char	   *pipeline = PG_NARGS() > 1 ? text_to_cstring(PG_GETARG_TEXT_PP(1)) : NULL;
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < Natts_history; i++)
	{
		const HistoryColumnDef *col = &history_layout[i];

		appendStringInfo(&buf, "%s%s ", i > 0 ? ", " : "", quote_identifier(col->name));
		switch (col->kind)
		{
			case HISTORY_TYPE_KEY:
				appendStringInfoString(&buf, key_type);
				break;
			case HISTORY_TYPE_STAGE:
				if (pipeline == NULL)
					appendStringInfo(&buf, "%s.deal_stage", FUNNEL_SCHEMA);
				else
					appendStringInfo(&buf, "%s.deal_stage(%s)", FUNNEL_SCHEMA,
									 quote_identifier(pipeline));
				break;
			case HISTORY_TYPE_FIXED:
				appendStringInfo(&buf, "pg_catalog.%s", col->sql_type);
				break;
		}
		if (col->not_null)
			appendStringInfoString(&buf, " NOT NULL");
		if (col->sql_default)
			appendStringInfo(&buf, " DEFAULT %s", col->sql_default);
	}
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}

/* schema.table, quoted, for hints */
static char *
QualifiedName(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

/* The hint that fits every broken tracking: start a new history */
static int
RetrackHint(Relation deals)
{
	return errhint("Undo the change, or call funnel.untrack('%s') and funnel.track() again (after renaming the old history table).",
				   QualifiedName(deals));
}

/*
 * A column of the deals table by name, or the error: at track time the
 * caller named it, once tracked funnel.tracked_table (or the trigger's
 * arguments) does.  what is "stage column", "effective-time column" or
 * "key column".
 */
AttrNumber
TrackDealsColumn(Relation deals, const char *name, const char *what,
				 bool tracked)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(deals), name);

	if (attnum != InvalidAttrNumber)
		return attnum;
	if (tracked)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of tracked table \"%s\" does not exist",
						name, QualifiedName(deals)),
				 errdetail("It is the %s of the table's tracking.", what),
				 errhint("Call funnel.untrack() and funnel.track() again after renaming or dropping a tracked column.")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" of table \"%s\" does not exist",
					name, QualifiedName(deals)),
			 strcmp(what, "stage column") == 0 ?
			 errhint("Name the stage column with stage_column => '...'.") : 0));
	pg_unreachable();
}

/*
 * The checks of a deals table, one definition for funnel.track() (through
 * funnel_internal.check_deals, tracked false) and for the triggers, each
 * time their cache entry is built (TrackValidateDeals, tracked true): an
 * ordinary table, not a partition, a primary key of one column that is not
 * the stage column (once tracked: still key_column), the stage column a
 * funnel.deal_stage of the pipeline or unbound (and NOT NULL when it is
 * tracked), the effective-time column a timestamptz.  The SQLSTATEs differ:
 * at track time the table's definition is wrong, later DDL broke the
 * tracking (with the hint how to repair it).  Returns the key column.
 */
static AttrNumber
CheckDeals(Relation deals, Oid pipeline, Oid stage_type,
		   AttrNumber stage_attnum, AttrNumber changed_at_attnum,
		   const char *key_column, bool tracked)
{
	TupleDesc	desc = RelationGetDescr(deals);
	const char *table = tracked ? "tracked table" : "table";
	char	   *name = QualifiedName(deals);
	Form_pg_attribute att;
	int32		bound = PipelineTypmod(pipeline);
	Oid			pkindex;
	int			nkeys = 0;
	AttrNumber	pk_attnum = InvalidAttrNumber;

	if (deals->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s \"%s\" is not an ordinary table", table, name),
				 deals->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
				 errdetail("Partitioned tables cannot be tracked: a statement trigger of a partition does not fire for rows inserted through its parent.") :
				 errdetail("Only ordinary tables can be tracked."),
				 tracked ? RetrackHint(deals) : 0));
	if (deals->rd_rel->relispartition)
	{
		Oid			parent = get_partition_parent(RelationGetRelid(deals), true);

		ereport(ERROR,
				(errcode(tracked ? ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE :
						 ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s \"%s\" is a partition of \"%s\"", table, name,
						OidIsValid(parent) ?
						quote_qualified_identifier(get_namespace_name(get_rel_namespace(parent)),
												   get_rel_name(parent)) : "?"),
				 errdetail("Rows inserted through the partitioned table do not fire the partition's statement triggers, so their history would be lost."),
				 tracked ?
				 errhint("Detach the partition, or call funnel.untrack('%s').", name) :
				 errhint("Detach the partition first, or keep the deals in an ordinary table.")));
	}

	/* the key: a primary key of one column (once tracked, the one track() saw) */
	pkindex = compat_RelationGetPrimaryKeyIndex(deals);
	if (OidIsValid(pkindex))
	{
		Relation	index = index_open(pkindex, AccessShareLock);

		nkeys = index->rd_index->indnkeyatts;
		if (nkeys == 1)
			pk_attnum = index->rd_index->indkey.values[0];
		index_close(index, AccessShareLock);
	}
	if (!OidIsValid(pkindex))
		ereport(ERROR,
				(errcode(tracked ? ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE :
						 ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("%s \"%s\" has no primary key", table, name),
				 tracked ?
				 errdetail("The stage history refers to deals by column \"%s\", the primary key when the table was tracked.",
						   key_column) :
				 errdetail("The stage history refers to a deal by a primary key of one column (not deferrable)."),
				 tracked ?
				 errhint("Add the primary key on \"%s\" back, or call funnel.untrack('%s').",
						 key_column, name) : 0));
	if (tracked &&
		(pk_attnum == InvalidAttrNumber ||
		 strcmp(NameStr(TupleDescAttr(desc, pk_attnum - 1)->attname), key_column) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("primary key of tracked table \"%s\" is no longer column \"%s\"",
						name, key_column),
				 errdetail("The stage history refers to deals by column \"%s\", the primary key when the table was tracked.",
						   key_column),
				 RetrackHint(deals)));
	if (pk_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("primary key of table \"%s\" has %d columns", name, nkeys),
				 errdetail("The stage history refers to a deal by a primary key of one column.")));
	if (pk_attnum == stage_attnum)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("stage column \"%s\" of %s \"%s\" is its primary key",
						NameStr(TupleDescAttr(desc, stage_attnum - 1)->attname),
						table, name),
				 errdetail("A deal's stage changes; the key the history refers to it by must not.")));

	att = TupleDescAttr(desc, stage_attnum - 1);
	if (att->atttypid != stage_type ||
		(att->atttypmod >= 0 && att->atttypmod != bound))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("stage column \"%s\" of %s \"%s\" is of type %s, not %s",
						NameStr(att->attname), table, name,
						format_type_with_typemod(att->atttypid, att->atttypmod),
						format_type_with_typemod(stage_type,
												 att->atttypid == stage_type ? bound : -1)),
				 tracked ? RetrackHint(deals) : 0));
	if (!tracked && !att->attnotnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("stage column \"%s\" of table \"%s\" must be NOT NULL",
						NameStr(att->attname), name),
				 errhint("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL",
						 name, quote_identifier(NameStr(att->attname)))));

	if (changed_at_attnum != InvalidAttrNumber)
	{
		att = TupleDescAttr(desc, changed_at_attnum - 1);
		if (att->atttypid != TIMESTAMPTZOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("effective-time column \"%s\" of %s \"%s\" is of type %s, not timestamp with time zone",
							NameStr(att->attname), table, name,
							format_type_with_typemod(att->atttypid, att->atttypmod)),
					 tracked ? RetrackHint(deals) : 0));
	}
	return pk_attnum;
}

/*
 * Check a tracked deals table (see CheckDeals); the key column, still its
 * primary key, is returned.
 */
AttrNumber
TrackValidateDeals(TrackedTable *t, Relation deals, const char *key_column)
{
	return CheckDeals(deals, t->pipeline, t->stage_type, t->stage_attnum,
					  t->changed_at_attnum, key_column, true);
}

/*
 * funnel_internal.check_deals(deals regclass, ptype regtype,
 *							   stage_column name, changed_at_column name)
 * returns name
 *
 * The checks of CheckDeals when funnel.track() tracks a table, with the
 * pipeline's enum type ptype; returns the primary key's column.
 */
PG_FUNCTION_INFO_V1(funnel_check_deals);
Datum
funnel_check_deals(PG_FUNCTION_ARGS)
{
	Relation	deals;
	AttrNumber	stage_attnum;
	AttrNumber	changed_at_attnum = InvalidAttrNumber;
	AttrNumber	key;
	Oid			stage_type;
	Name		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								 CStringGetDatum("deal_stage"),
								 ObjectIdGetDatum(get_namespace_oid(FUNNEL_SCHEMA, false)));
	deals = relation_open(PG_GETARG_OID(0), AccessShareLock);
	stage_attnum = TrackDealsColumn(deals, NameStr(*PG_GETARG_NAME(2)),
									"stage column", false);
	if (!PG_ARGISNULL(3))
		changed_at_attnum = TrackDealsColumn(deals, NameStr(*PG_GETARG_NAME(3)),
											 "effective-time column", false);
	key = CheckDeals(deals, PG_GETARG_OID(1), stage_type, stage_attnum,
					 changed_at_attnum, NULL, false);
	result = (Name) palloc0(NAMEDATALEN);
	namestrcpy(result, NameStr(TupleDescAttr(RelationGetDescr(deals), key - 1)->attname));
	relation_close(deals, NoLock);
	PG_RETURN_NAME(result);
}

/*
 * Check the columns of the history table: the five columns funnel.track()
 * created, at their positions, with their types (deal_id of the key's
 * type), left_at nullable.  Cheap: called on every open for writing.
 */
void
TrackCheckHistoryColumns(TrackedTable *t, Relation history)
{
	TupleDesc	desc = RelationGetDescr(history);
	int			i;

	if (history->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("history table \"%s\" is not an ordinary table",
						RelationGetRelationName(history)),
				 errhint("Call funnel.untrack() and funnel.track() again (after renaming the old history table).")));
	if (history->rd_rel->relispartition)
	{
		Oid			parent = get_partition_parent(RelationGetRelid(history), true);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("history table \"%s\" is a partition of \"%s\"",
						RelationGetRelationName(history),
						OidIsValid(parent) ? get_rel_name(parent) : "?"),
				 errdetail("funnel writes the history directly, past partition routing and partition constraints."),
				 errhint("Detach the partition.")));
	}

	for (i = 0; i < Natts_history; i++)
	{
		Form_pg_attribute att;
		Oid			typid;
		int32		typmod;

		switch (history_layout[i].kind)
		{
			case HISTORY_TYPE_KEY:
				typid = t->pk_type;
				typmod = t->pk_typmod;
				break;
			case HISTORY_TYPE_STAGE:
				typid = t->stage_type;
				typmod = PipelineTypmod(t->pipeline);
				break;
			default:
				typid = history_layout[i].type_oid;
				typmod = -1;
				break;
		}
		if (i >= desc->natts ||
			(att = TupleDescAttr(desc, i))->attisdropped ||
			strcmp(NameStr(att->attname), history_layout[i].name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("history table \"%s\" has no column \"%s\" at position %d",
							RelationGetRelationName(history), history_layout[i].name, i + 1),
					 errdetail("funnel writes the columns %s, in this order, as funnel.track() created them.",
							   HistoryColumnNames(Natts_history)),
					 errhint("Call funnel.untrack() and funnel.track() again (after renaming the old history table).")));
		/* deal_id may drop the key's typmod; the stage may be unbound */
		if (att->atttypid != typid ||
			(att->atttypmod >= 0 && att->atttypmod != typmod))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of history table \"%s\" is of type %s, not %s",
							history_layout[i].name, RelationGetRelationName(history),
							format_type_with_typemod(att->atttypid, att->atttypmod),
							format_type_with_typemod(typid, typmod)),
					 errhint("ALTER TABLE %s ALTER COLUMN %s TYPE %s",
							 QualifiedName(history), history_layout[i].name,
							 format_type_with_typemod(typid, typmod))));
		if (!history_layout[i].not_null && att->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"%s\" of history table \"%s\" is NOT NULL",
							history_layout[i].name, RelationGetRelationName(history)),
					 errdetail("%s is NULL while the deal is in the stage.",
							   history_layout[i].name),
					 errhint("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL",
							 QualifiedName(history), history_layout[i].name)));
	}
}

/*
 * The history table must be owned by the owner of the deals table.  Called
 * before the history is locked (from the catalog cache, so that a trigger
 * whose arguments name another role's history cannot even lock it) and
 * again once it is locked.
 */
void
TrackCheckHistoryOwner(Oid history_relid, Relation deals)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(history_relid));
	Oid			owner;
	char	   *name;
	Oid			nspid;

	if (!HeapTupleIsValid(tuple))
		return;					/* dropped: the caller reports it */
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	name = pstrdup(NameStr(((Form_pg_class) GETSTRUCT(tuple))->relname));
	nspid = ((Form_pg_class) GETSTRUCT(tuple))->relnamespace;
	ReleaseSysCache(tuple);
	if (owner != deals->rd_rel->relowner)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("history table \"%s\" is not owned by the owner of tracked table \"%s\"",
						name, RelationGetRelationName(deals)),
				 errdetail("funnel writes the history of a table only into a table of the same owner."),
				 errhint("If it is this table's own history, ALTER TABLE %s OWNER TO %s; if not, the tracking trigger names another table's history: call funnel.untrack() and funnel.track() again.",
						 quote_qualified_identifier(get_namespace_name(nspid), name),
						 quote_identifier(GetUserNameFromId(deals->rd_rel->relowner, false)))));
}

/*
 * Check the history table as a whole: its columns, owned by the owner of
 * the deals table, no constraint that funnel's direct writes would bypass
 * (foreign keys, deferrable unique constraints and other constraint
 * triggers), no stored generated column (funnel would leave it NULL).
 */
void
TrackValidateHistory(TrackedTable *t, Relation deals, Relation history)
{
	TupleDesc	desc = RelationGetDescr(history);
	int			i;

	TrackCheckHistoryColumns(t, history);
	TrackCheckHistoryOwner(RelationGetRelid(history), deals);

	if (history->trigdesc != NULL)
	{
		for (i = 0; i < history->trigdesc->numtriggers; i++)
		{
			Trigger    *trig = &history->trigdesc->triggers[i];
			char	   *conname;

			if (!trig->tgisinternal && !OidIsValid(trig->tgconstraint))
				continue;		/* a user trigger: not fired, documented */
			if (TRIGGER_FOR_TRUNCATE(trig->tgtype) && !OidIsValid(trig->tgconstraint))
				continue;		/* Citus's truncate trigger: no row check */
			conname = OidIsValid(trig->tgconstraint) ?
				get_constraint_name(trig->tgconstraint) : NULL;
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("history table \"%s\" has constraint \"%s\", which funnel cannot enforce",
							RelationGetRelationName(history),
							conname ? conname : trig->tgname),
					 errdetail("funnel writes the history directly, without firing triggers: foreign keys, deferrable constraints and constraint triggers of a history table would not be checked."),
					 errhint("Drop the constraint.")));
		}
	}

	for (i = Natts_history; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && att->attgenerated == ATTRIBUTE_GENERATED_STORED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("history table \"%s\" has generated column \"%s\"",
							RelationGetRelationName(history), NameStr(att->attname)),
					 errdetail("funnel writes the history directly: it evaluates the DEFAULT of a column it does not know, but computes no generated column."),
					 errhint("Drop the column, or compute it in a view.")));
	}
}
