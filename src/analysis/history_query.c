/*-------------------------------------------------------------------------
 *
 * history_query.c
 *	  Reading a stage history that is not one of funnel's own layout (a
 *	  view such as a dbt model, a table whose columns have other names, a
 *	  text stage column, date or timestamp columns) through a query run with
 *	  the caller's privileges (SPI), for funnel.pipeline_as_of() and
 *	  funnel.pipeline_trend() (issue 21.2).
 *
 * A history of funnel's layout (an ordinary table with deal_id, stage
 * funnel.deal_stage, entered_at and left_at timestamptz) keeps the direct
 * scan of history_read.c.  Anything else named by the caller goes here: the
 * relation is checked before the lock (kind, SELECT on some column) and
 * again on what was opened under AccessShareLock (kept to the end of the
 * transaction); the mapped columns are found by name among the live ones
 * (42703) and must be of a usable type (42804).  The query names the
 * relation and its columns quoted; stages given as text are read with the
 * type's input function (a bare name is accepted where unambiguous), date
 * and timestamp columns are converted to timestamptz in the session's time
 * zone.  An ordinary or partitioned table is read as ONLY itself plus ONLY
 * each of its inheritance children validated under the lock (no row-level
 * security applying to the caller: its policies are the owner's
 * expressions, refused as for stale_deals()).  A view is read as the
 * caller's SELECT of it would read it: its query runs with the caller's
 * privileges and the tables under it are checked as PostgreSQL checks them
 * for a view (row-level security of those tables applies as in that
 * SELECT).  See doc/security.md.
 *
 * src/analysis/history_query.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "history_read.h"

#define HISTORY_QUERY_BATCH 1000

#define HISTORY_MAPPING_HINT \
	"Name the history's columns with deal_column, stage_column (funnel.deal_stage or text), entered_at_column and left_at_column (timestamp with time zone, timestamp or date)."

/* State of a history read by a query */
typedef struct HistoryQuery
{
	Portal		portal;
	SPITupleTable *batch;		/* current batch, or NULL */
	uint64		next;			/* next row of the batch */
	bool		done;
} HistoryQuery;

/* The mapped column names, defaults where NULL */
static const char *
MappedName(const char *const *columns, int i)
{
	return columns != NULL && columns[i] != NULL ? columns[i] :
		history_layout[i].name;
}

/* Whether a history is read by the direct scan (HistoryOpen) */
bool
HistoryIsPlain(Oid relid, const char *const *columns)
{
	Oid			stage_type = DealStageTypeOid();
	int			i;

	if (get_rel_relkind(relid) != RELKIND_RELATION)
		return false;
	for (i = 0; i < 4; i++)
	{
		const char *name = MappedName(columns, i);
		AttrNumber	attnum = get_attnum(relid, name);
		Oid			type;

		if (strcmp(name, history_layout[i].name) != 0)
			return false;
		if (attnum == InvalidAttrNumber)
			return true;		/* HistoryOpen() names the missing column */
		type = get_atttype(relid, attnum);
		if ((i == HIST_STAGE && type != stage_type) ||
			((i == HIST_ENTERED_AT || i == HIST_LEFT_AT) &&
			 (type == TIMESTAMPOID || type == DATEOID)) ||
			(i == HIST_STAGE && (type == TEXTOID || type == VARCHAROID)))
			return false;
	}
	return true;
}

/* The SQL expression reading one mapped column, or an error for its type */
static void
AppendColumn(StringInfo sql, Relation rel, int i, const char *name,
			 Oid stage_type, Oid *type, int32 *typmod, Oid *collation)
{
	AttrNumber	attnum = ReaderFindColumn(rel, name);
	Form_pg_attribute att;
	const char *qname = quote_identifier(name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of \"%s\" does not exist",
						name, ReaderRelName(RelationGetRelid(rel))),
				 errdetail("It was named as the history's %s column.",
						   history_layout[i].name),
				 errhint(HISTORY_MAPPING_HINT)));
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	if (type != NULL)
		*type = att->atttypid;
	if (typmod != NULL)
		*typmod = att->atttypmod;
	if (collation != NULL)
		*collation = att->attcollation;
	switch (i)
	{
		case HIST_DEAL_ID:
			appendStringInfoString(sql, qname);
			return;
		case HIST_STAGE:
			if (att->atttypid == stage_type)
				appendStringInfoString(sql, qname);
			else if (att->atttypid == TEXTOID || att->atttypid == VARCHAROID)
				appendStringInfo(sql, "%s::pg_catalog.text::funnel.deal_stage", qname);
			else
				break;
			return;
		default:
			if (att->atttypid == TIMESTAMPTZOID)
				appendStringInfoString(sql, qname);
			else if (att->atttypid == TIMESTAMPOID || att->atttypid == DATEOID)
				appendStringInfo(sql, "%s::pg_catalog.timestamptz", qname);
			else
				break;
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of \"%s\" is of type %s",
					name, ReaderRelName(RelationGetRelid(rel)),
					format_type_be(att->atttypid)),
			 errdetail("The history's %s column must be of type %s.",
					   history_layout[i].name,
					   i == HIST_STAGE ? "funnel.deal_stage or text" :
					   "timestamp with time zone, timestamp or date"),
			 errhint(HISTORY_MAPPING_HINT)));
}

/* One SELECT of the mapped columns of rel (ONLY rel for a table) */
static void
AppendSelect(StringInfo sql, Relation rel, const char *const *columns,
			 Oid stage_type, HistoryReader *reader)
{
	bool		first = reader->nrels == 0;
	int			i;

	appendStringInfoString(sql, first ? "SELECT " : " UNION ALL SELECT ");
	for (i = 0; i < 4; i++)
	{
		if (i > 0)
			appendStringInfoString(sql, ", ");
		AppendColumn(sql, rel, i, MappedName(columns, i), stage_type,
					 first && i == HIST_DEAL_ID ? &reader->key_type : NULL,
					 first && i == HIST_STAGE ? &reader->stage_typmod : NULL,
					 first && i == HIST_DEAL_ID ? &reader->key_collation : NULL);
	}
	appendStringInfo(sql, " FROM %s%s",
					 rel->rd_rel->relkind == RELKIND_VIEW ||
					 rel->rd_rel->relkind == RELKIND_MATVIEW ? "" : "ONLY ",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	reader->rels[reader->nrels++] = rel;
}

/* Refuse a relation kind a query cannot read as a history */
static void
CheckQueryKind(Oid relid, char relkind)
{
	if (relkind == RELKIND_VIEW || relkind == RELKIND_MATVIEW ||
		relkind == RELKIND_PARTITIONED_TABLE)
		return;
	/* tables (not Citus) pass; the rest get history_read.c's message */
	ReaderCheckKind(relid, relkind, InvalidOid, false,
					"a stage history",
					"A stage history is a table, a view or a materialized view with a deal key, a stage, and entered_at and left_at times; name its columns with deal_column, stage_column, entered_at_column and left_at_column.");
}

/*
 * Open a history that HistoryIsPlain() refused for reading by a query:
 * checked, locked, validated, and the query's cursor opened.  columns holds
 * the four mapped names (NULL entries: the default names).
 */
void
HistoryOpenQuery(HistoryReader *reader, Oid relid, const char *const *columns)
{
	Oid			stage_type = DealStageTypeOid();
	MemoryContext cxt = CurrentMemoryContext;
	Relation	rel;
	List	   *children = NIL;
	ListCell   *lc;
	StringInfoData sql;
	HistoryQuery *query;
	SPIPlanPtr	plan;
	char		relkind;

	CheckQueryKind(relid, get_rel_relkind(relid));
	ReaderCheckAnySelect(relid);
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	relkind = rel->rd_rel->relkind;
	CheckQueryKind(relid, relkind);
	ReaderCheckReadable(rel, true);
	if (relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE)
		children = ReaderOpenChildren(rel, true);

	memset(reader, 0, sizeof(HistoryReader));
	reader->stage_typmod = -1;
	reader->ncols = 4;
	reader->rels = palloc((1 + list_length(children)) * sizeof(Relation));
	initStringInfo(&sql);
	AppendSelect(&sql, rel, columns, stage_type, reader);
	foreach(lc, children)
		AppendSelect(&sql, (Relation) lfirst(lc), columns, stage_type, reader);
	if (reader->stage_typmod >= 0 &&
		TupleDescAttr(RelationGetDescr(rel),
					  ReaderFindColumn(rel, MappedName(columns, HIST_STAGE)) - 1)->atttypid != stage_type)
		reader->stage_typmod = -1;

	query = palloc0(sizeof(HistoryQuery));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the callers' memory outlives the SPI connection */
	MemoryContextSwitchTo(cxt);
	plan = SPI_prepare(sql.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql.data,
			 SPI_result_code_string(SPI_result));
	query->portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	MemoryContextSwitchTo(cxt);
	reader->query = query;
}

/* Next row of a history read by a query */
bool
HistoryQueryNext(HistoryReader *reader)
{
	HistoryQuery *query = (HistoryQuery *) reader->query;
	int			i;

	for (;;)
	{
		if (query->batch != NULL && query->next < query->batch->numvals)
		{
			HeapTuple	tuple = query->batch->vals[query->next++];

			for (i = 0; i < 4; i++)
				reader->values[i] = SPI_getbinval(tuple, query->batch->tupdesc,
												  i + 1, &reader->isnull[i]);
			return true;
		}
		if (query->batch != NULL)
		{
			SPI_freetuptable(query->batch);
			query->batch = NULL;
		}
		if (query->done)
			return false;
		SPI_cursor_fetch(query->portal, true, HISTORY_QUERY_BATCH);
		query->batch = SPI_tuptable;
		query->next = 0;
		if (SPI_processed < HISTORY_QUERY_BATCH)
			query->done = true;
	}
}

/* Close the cursor and the SPI connection; the locks are kept */
void
HistoryQueryClose(HistoryReader *reader)
{
	HistoryQuery *query = (HistoryQuery *) reader->query;
	int			i;

	if (query->batch != NULL)
		SPI_freetuptable(query->batch);
	SPI_cursor_close(query->portal);
	SPI_finish();
	for (i = 0; i < reader->nrels; i++)
		relation_close(reader->rels[i], NoLock);
	reader->nrels = 0;
	reader->query = NULL;
}
