/*-------------------------------------------------------------------------
 *
 * tracked_sources.c
 *	  Locking and validating a tracked table and its history before
 *	  funnel.stale_deals() and funnel.check_history() run SQL over them, and
 *	  deal keys as text through their type's output function.
 *
 * The checks themselves are those of history_read.c (one definition); this
 * file composes them for readers that query with SQL rather than scan.
 *
 * src/analysis/tracked_sources.c
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

/*
 * Reading a tracked table with SQL (funnel.stale_deals, funnel.check_history)
 *
 * Those functions compose a query over the deals table and its history and
 * run it with the caller's privileges, typically an administrator's.  The
 * tables are the owner's, and a query runs whatever their owner made of
 * them: a view's query, a policy's expressions, a foreign table's wrapper,
 * a cast or operator of the owner's type.  So before the query is built,
 * both tables are locked and validated under the lock, with their
 * inheritance children; the query then names each relation with ONLY, so
 * that a child attached after the checks (which needs no lock that
 * conflicts with AccessShareLock) is never read.
 */

/* schema.table, quoted */
static char *
QuotedName(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

/* A live column of a tracked table by name, of the given type, or an error */
static Form_pg_attribute
TrackedColumn(Relation rel, const char *name, Oid type, const char *role)
{
	AttrNumber	attnum = ReaderFindColumn(rel, name);
	Form_pg_attribute att;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of tracked table \"%s\" does not exist",
						name, ReaderRelName(RelationGetRelid(rel))),
				 errhint("It is the %s column of the table's tracking.", role)));
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	if (OidIsValid(type) && att->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of tracked table \"%s\" is of type %s, not %s",
						role, name, ReaderRelName(RelationGetRelid(rel)),
						format_type_be(att->atttypid), format_type_be(type))));
	return att;
}

/* Children of a tracked table or history: the owner of the deals table's */
static void
CheckChildOwners(List *children, Relation parent, Relation deals)
{
	ListCell   *lc;

	foreach(lc, children)
	{
		Relation	child = (Relation) lfirst(lc);

		if (child->rd_rel->relowner != deals->rd_rel->relowner)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("\"%s\", an inheritance child of \"%s\", is not owned by the owner of tracked table \"%s\"",
							ReaderRelName(RelationGetRelid(child)),
							ReaderRelName(RelationGetRelid(parent)),
							ReaderRelName(RelationGetRelid(deals))),
					 errdetail("funnel reads the tables of a tracking only when they all have the same owner."),
					 errhint("ALTER TABLE %s OWNER TO %s, or detach it with ALTER TABLE ... NO INHERIT.",
							 QuotedName(child),
							 quote_identifier(GetUserNameFromId(deals->rd_rel->relowner, false)))));
	}
}

/*
 * What a query names to read rel: ONLY rel, or with children the UNION ALL
 * of ONLY each one's columns (by name: a child's column order may differ).
 * A Citus table is named plainly: Citus plans the query over its shards,
 * and a distributed table has no inheritance children.
 */
static char *
SourceText(Relation rel, List *children, int ncols, const char *const *cols, bool citus)
{
	StringInfoData buf;
	StringInfoData collist;
	ListCell   *lc;
	int			i;

	if (citus)
		return QuotedName(rel);
	if (children == NIL)
		return psprintf("ONLY %s", QuotedName(rel));
	initStringInfo(&collist);
	for (i = 0; i < ncols; i++)
		appendStringInfo(&collist, "%s%s", i > 0 ? ", " : "", quote_identifier(cols[i]));
	initStringInfo(&buf);
	appendStringInfo(&buf, "(SELECT %s FROM ONLY %s", collist.data, QuotedName(rel));
	foreach(lc, children)
		appendStringInfo(&buf, " UNION ALL SELECT %s FROM ONLY %s",
						 collist.data, QuotedName((Relation) lfirst(lc)));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

PG_FUNCTION_INFO_V1(funnel_tracked_sources);

/*
 * funnel_internal.tracked_sources(deals regclass, history regclass, key_column name,
 *						   stage_column name, OUT deals_from text,
 *						   OUT history_from text)
 *
 * Lock and validate a tracked table and its history (the funnel.tracked_table
 * row's) for a query with the caller's privileges: both ordinary tables
 * (Citus ones too), the caller may read them, the history and every child
 * of either has the deals table's owner (track()'s rule), the key and
 * stage columns exist with the history's deal_id of the key's type and
 * stage of type funnel.deal_stage, entered_at and left_at timestamptz, no
 * row-level security applies to the caller.  Returns what the query must
 * name to read each (see SourceText).
 */
Datum
funnel_tracked_sources(PG_FUNCTION_ARGS)
{
	Oid			deals_relid = PG_GETARG_OID(0);
	Oid			history_relid = PG_GETARG_OID(1);
	char	   *key_column = NameStr(*PG_GETARG_NAME(2));
	char	   *stage_column = NameStr(*PG_GETARG_NAME(3));
	const char *hint = "funnel.track() tracks an ordinary table and creates its history as one.";
	Oid			stage_type = DealStageTypeOid();
	Relation	deals;
	Relation	history;
	List	   *deals_children;
	List	   *history_children;
	Form_pg_attribute key;
	AttrNumber	amount;
	const char *deals_cols[3];
	const char *const history_cols[4] = {
		history_layout[HIST_DEAL_ID].name, history_layout[HIST_STAGE].name,
		history_layout[HIST_ENTERED_AT].name, history_layout[HIST_LEFT_AT].name
	};
	bool		citus;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	ListCell   *lc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* the deals table: early checks, then the same on what was locked */
	ReaderCheckKind(deals_relid, get_rel_relkind(deals_relid), InvalidOid, true,
			  "an ordinary table", hint);
	ReaderCheckAnySelect(deals_relid);
	deals = try_relation_open(deals_relid, AccessShareLock);
	if (deals == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", deals_relid)));
	ReaderCheckKind(deals_relid, deals->rd_rel->relkind, InvalidOid, true,
			  "an ordinary table", hint);
	ReaderCheckReadable(deals, true);
	citus = ReaderIsCitusTable(deals_relid);

	/* the history: of the same owner, checked before it is locked too */
	TrackCheckHistoryOwner(history_relid, deals);
	ReaderCheckKind(history_relid, get_rel_relkind(history_relid), InvalidOid, true,
			  "an ordinary table", hint);
	ReaderCheckAnySelect(history_relid);
	history = try_relation_open(history_relid, AccessShareLock);
	if (history == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", history_relid)));
	ReaderCheckKind(history_relid, history->rd_rel->relkind, InvalidOid, true,
			  "an ordinary table", hint);
	TrackCheckHistoryOwner(history_relid, deals);
	ReaderCheckReadable(history, true);

	/* the columns the queries read, with the types they assume */
	key = TrackedColumn(deals, key_column, InvalidOid, "key");
	TrackedColumn(deals, stage_column, stage_type, "stage");
	HistoryColumn(history, history_layout[HIST_DEAL_ID].name, key->atttypid);
	HistoryColumn(history, history_layout[HIST_STAGE].name, stage_type);
	HistoryColumn(history, history_layout[HIST_ENTERED_AT].name, TIMESTAMPTZOID);
	HistoryColumn(history, history_layout[HIST_LEFT_AT].name, TIMESTAMPTZOID);
	amount = DealsAmountColumn(deals_relid);

	/* inheritance children, read by a query of either: the same checks */
	deals_children = ReaderOpenChildren(deals, true);
	CheckChildOwners(deals_children, deals, deals);
	history_children = ReaderOpenChildren(history, true);
	CheckChildOwners(history_children, history, deals);

	deals_cols[0] = key_column;
	deals_cols[1] = stage_column;
	deals_cols[2] = amount != InvalidAttrNumber ?
		get_attname(deals_relid, amount, false) : NULL;
	values[0] = CStringGetTextDatum(SourceText(deals, deals_children,
											   deals_cols[2] ? 3 : 2, deals_cols, citus));
	values[1] = CStringGetTextDatum(SourceText(history, history_children,
											   4, history_cols, ReaderIsCitusTable(history_relid)));
	/* the locks stay until the end of the transaction */
	foreach(lc, deals_children)
		relation_close((Relation) lfirst(lc), NoLock);
	foreach(lc, history_children)
		relation_close((Relation) lfirst(lc), NoLock);
	relation_close(history, NoLock);
	relation_close(deals, NoLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(funnel_key_text);

/*
 * funnel_internal.key_text(anyelement) -> text: a deal key as text through its
 * type's output function.  A cast (key::text) would run the CREATE CAST
 * function that the owner of a composite, enum or range key type may have
 * defined; output functions of such types are the system's, and only a
 * superuser can create a base type.
 */
Datum
funnel_key_text(PG_FUNCTION_ARGS)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid			outfunc;
	bool		isvarlena;

	if (!OidIsValid(type))
		elog(ERROR, "could not determine the type of the key");
	getTypeOutputInfo(type, &outfunc, &isvarlena);
	PG_RETURN_TEXT_P(cstring_to_text(OidOutputFunctionCall(outfunc, PG_GETARG_DATUM(0))));
}
