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
 * src/track_validate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "track.h"

/* Name and expected type of each history column (see funnel.track) */
static const char *const history_columns[Natts_history] = {
	"deal_id", "stage", "entered_at", "left_at", "entered_by"
};

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

/* Refuse a deals table that is now a partition */
static void
CheckNotPartition(Relation deals)
{
	Oid			parent;

	if (!deals->rd_rel->relispartition)
		return;
	parent = get_partition_parent(RelationGetRelid(deals), true);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("tracked table \"%s\" is a partition of \"%s\"",
					RelationGetRelationName(deals),
					OidIsValid(parent) ? get_rel_name(parent) : "?"),
			 errdetail("Rows inserted through the partitioned table do not fire the tracked table's statement triggers, so their history would be lost."),
			 errhint("Detach the partition, or call funnel.untrack('%s').",
					 QualifiedName(deals))));
}

/*
 * Check the deals table: not a partition, the tracked key is still its
 * one-column primary key, the stage column is a deal_stage of the pipeline,
 * the effective-time column a timestamptz.
 */
void
TrackValidateDeals(TrackedTable *t, Relation deals, Oid pkindex,
				   const char *key_column)
{
	TupleDesc	desc = RelationGetDescr(deals);
	Form_pg_attribute att;
	int32		bound = PipelineTypmod(t->pipeline);

	if (deals->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("tracked table \"%s\" is not an ordinary table",
						RelationGetRelationName(deals)),
				 RetrackHint(deals)));
	CheckNotPartition(deals);

	/* the key: the primary key's only column, the one track() saw */
	if (!OidIsValid(pkindex))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tracked table \"%s\" has no primary key",
						RelationGetRelationName(deals)),
				 errdetail("The stage history refers to deals by column \"%s\", the primary key when the table was tracked.",
						   key_column),
				 errhint("Add the primary key on \"%s\" back, or call funnel.untrack('%s').",
						 key_column, QualifiedName(deals))));
	if (t->pk_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("primary key of tracked table \"%s\" is no longer column \"%s\"",
						RelationGetRelationName(deals), key_column),
				 errdetail("The stage history refers to deals by column \"%s\", the primary key when the table was tracked.",
						   key_column),
				 RetrackHint(deals)));

	att = TupleDescAttr(desc, t->stage_attnum - 1);
	if (att->atttypid != t->stage_type ||
		(att->atttypmod >= 0 && att->atttypmod != bound))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("stage column \"%s\" of tracked table \"%s\" is of type %s, not %s",
						NameStr(att->attname), RelationGetRelationName(deals),
						format_type_with_typemod(att->atttypid, att->atttypmod),
						format_type_with_typemod(t->stage_type, bound)),
				 RetrackHint(deals)));

	if (t->changed_at_attnum != InvalidAttrNumber)
	{
		att = TupleDescAttr(desc, t->changed_at_attnum - 1);
		if (att->atttypid != TIMESTAMPTZOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("effective-time column \"%s\" of tracked table \"%s\" is of type %s, not timestamp with time zone",
							NameStr(att->attname), RelationGetRelationName(deals),
							format_type_with_typemod(att->atttypid, att->atttypmod)),
					 RetrackHint(deals)));
	}
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

		switch (i + 1)
		{
			case Anum_history_deal_id:
				typid = t->pk_type;
				typmod = t->pk_typmod;
				break;
			case Anum_history_stage:
				typid = t->stage_type;
				typmod = PipelineTypmod(t->pipeline);
				break;
			case Anum_history_entered_by:
				typid = NAMEOID;
				typmod = -1;
				break;
			default:
				typid = TIMESTAMPTZOID;
				typmod = -1;
				break;
		}
		if (i >= desc->natts ||
			(att = TupleDescAttr(desc, i))->attisdropped ||
			strcmp(NameStr(att->attname), history_columns[i]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("history table \"%s\" has no column \"%s\" at position %d",
							RelationGetRelationName(history), history_columns[i], i + 1),
					 errdetail("funnel writes the columns deal_id, stage, entered_at, left_at, entered_by, in this order, as funnel.track() created them."),
					 errhint("Call funnel.untrack() and funnel.track() again (after renaming the old history table).")));
		/* deal_id may drop the key's typmod; the stage may be unbound */
		if (att->atttypid != typid ||
			(att->atttypmod >= 0 && att->atttypmod != typmod))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of history table \"%s\" is of type %s, not %s",
							history_columns[i], RelationGetRelationName(history),
							format_type_with_typemod(att->atttypid, att->atttypmod),
							format_type_with_typemod(typid, typmod)),
					 errhint("ALTER TABLE %s ALTER COLUMN %s TYPE %s",
							 QualifiedName(history), history_columns[i],
							 format_type_with_typemod(typid, typmod))));
		if (i + 1 == Anum_history_left_at && att->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"left_at\" of history table \"%s\" is NOT NULL",
							RelationGetRelationName(history)),
					 errdetail("left_at is NULL while the deal is in the stage."),
					 errhint("ALTER TABLE %s ALTER COLUMN left_at DROP NOT NULL",
							 QualifiedName(history))));
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
