/*-------------------------------------------------------------------------
 *
 * import.c
 *	  funnel.import_history(): build the stage history of a tracked deals
 *	  table, or a plain history table, from a CRM change log in one call.
 *
 * The change log is any relation or query the caller can read: one row per
 * change, with a deal key, a stage (text, qualified 'pipeline:stage' or
 * bare, or funnel.deal_stage) and a change time (timestamptz, timestamp or
 * date), optionally an amount.  The log is read once, sorted by deal and
 * time (or in the log's own order), through an SPI cursor running as the
 * caller; each deal's visits are formed in memory and written straight into
 * the history with table_multi_insert, as COPY writes (track_history.c's
 * writer: index entries, the DEFAULT of columns a user added, NOT NULL and
 * CHECK constraints).  Every row not taken as a move is returned with its
 * reason; none is dropped silently.
 *
 * Into a tracked table, the deals rows are inserted by one INSERT with each
 * deal's last stage and time: the tracking trigger checks them as for any
 * other new deal and opens their last visit, and the import writes the
 * earlier, closed visits.  So the invariants of check_history() hold after
 * an import, and no trigger of the deals table is bypassed.
 *
 * This file checks the target and the arguments and reads and sorts the
 * source; import_write.c takes its rows and writes the visits and the
 * deals, import.h holds what the two share.
 *
 * src/import/import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "import.h"

/* A text argument that must not be null */
static char *
TextArg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * The source as a FROM item: a query in parentheses, or a relation name
 * (which must exist; reading it is checked by the executor, as the caller)
 */
static char *
SourceFromItem(const char *source)
{
	const char *p = source;
	static const char *const keywords[] = {"select", "with", "values", "table"};
	int			i;
	List	   *names;
	Oid			relid;

	while (*p && isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be empty"),
				 errhint("Give a relation name, such as 'crm.deal_changes', or a query.")));
	if (*p == '(')
		return psprintf("(%s)", source);
	for (i = 0; i < (int) lengthof(keywords); i++)
	{
		size_t		len = strlen(keywords[i]);

		if (pg_strncasecmp(p, keywords[i], len) == 0 &&
			(p[len] == '\0' || isspace((unsigned char) p[len]) || p[len] == '('))
			return psprintf("(%s)", source);
	}
	names = compat_stringToQualifiedNameList(source);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, false);
	return QuotedRelName(relid);
}

/* A column of the source by name, or the 42703 error naming it */
static int
SourceColumn(TupleDesc desc, const char *name, const char *role)
{
	int			i;
	StringInfoData names;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	initStringInfo(&names);
	for (i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(desc, i)->attname)));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("%s column \"%s\" does not exist in the source", role, name),
			 errdetail("The source has the columns %s.", names.data),
			 errhint("Name the source's columns in key_column, stage_column, changed_at_column and amount_column.")));
	return -1;					/* keep the compiler quiet */
}

/* The 42804 error for a source column of a type the import cannot take */
static void
ReportColumnType(Form_pg_attribute att, const char *role, const char *types)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("%s column \"%s\" of the source is of type %s",
					role, NameStr(att->attname), format_type_be(att->atttypid)),
			 errdetail("The %s column must be of type %s.", role, types),
			 errhint("Cast it in a query given as the source.")));
}

/* Is the relation empty, as seen now (the caller holds a lock on it) */
static bool
RelationIsEmpty(Relation rel)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		empty = !table_scan_getnextslot(scan, ForwardScanDirection, slot);

	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return empty;
}

/* Is relid tracked: its row of funnel.tracked_table, by deals or history */
static bool
TrackedRow(Oid relid, const char *column, Oid *other)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	const char *other_column = strcmp(column, "deals") == 0 ? "history" : "deals";

	if (SPI_execute_with_args(psprintf("SELECT t.%s FROM funnel.tracked_table t WHERE t.%s OPERATOR(pg_catalog.=) $1",
									   other_column, column),
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read funnel.tracked_table");
	if (SPI_processed == 0)
		return false;
	*other = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	return true;
}

/*
 * A stand-in for the tracking cache entry of a plain history table: what
 * the history writer needs (track_history.c), taken from the table itself
 */
static TrackedTable *
PlainHistoryTable(Relation history)
{
	TupleDesc	desc = RelationGetDescr(history);
	TrackedTable *t = palloc0(sizeof(TrackedTable));
	Form_pg_attribute key;
	Form_pg_attribute stage;
	FunnelPipeline *p;

	bool		layout = desc->natts >= Natts_history;
	int			i;

	for (i = 0; layout && i < Natts_history; i++)
		layout = strcmp(NameStr(TupleDescAttr(desc, i)->attname),
						history_layout[i].name) == 0;
	if (!layout)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is neither a tracked deals table nor a stage history",
						RelationGetRelationName(history)),
				 errdetail("A stage history has the columns %s.", HistoryColumnNames(Natts_history)),
				 errhint("Create the deals table, call funnel.track() on it and import into it.")));
	key = TupleDescAttr(desc, Anum_history_deal_id - 1);
	stage = TupleDescAttr(desc, Anum_history_stage - 1);
	t->relid = RelationGetRelid(history);
	t->history_relid = RelationGetRelid(history);
	t->pk_type = key->atttypid;
	t->pk_typmod = key->atttypmod;
	t->pk_collation = key->attcollation;
	t->stage_type = stage->atttypid;
	t->rule = TRACK_RULE_ANY;
	p = FunnelLookupPipelineByTypmod(stage->atttypmod);
	if (stage->atttypmod < 0 || p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"stage\" of history table \"%s\" is not bound to a pipeline",
						RelationGetRelationName(history)),
				 errdetail("A stage history's stage column is of type funnel.deal_stage(pipeline)."),
				 errhint("Create the history as funnel.track() does: stage funnel.deal_stage(<pipeline>) NOT NULL.")));
	t->pipeline = p->typoid;
	/* names, types and constraints of the columns (errors name them) */
	TrackCheckHistoryColumns(t, history);
	return t;
}

/*
 * funnel.import_history(target, source, key_column, stage_column,
 * changed_at_column, amount_column, pipeline, apply_rules, order_by_time)
 */
PG_FUNCTION_INFO_V1(funnel_import_history);
Datum
funnel_import_history(PG_FUNCTION_ARGS)
{
	ImportState st;
	char	   *source;
	char	   *key_column,
			   *stage_column,
			   *at_column,
			   *amount_column = NULL;
	Relation	deals = NULL;
	Relation	history;
	Oid			history_relid;
	AclResult	aclresult;
	char	   *from;
	TupleDesc	desc;
	int			stage_i,
				at_i,
				amount_i = -1;
	Form_pg_attribute att;
	StringInfoData q;
	SPIPlanPtr	plan;
	Portal		portal;
	MemoryContext import_context;

	memset(&st, 0, sizeof(st));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be null"),
				 errhint("Give a tracked deals table or a stage history table.")));
	st.target = PG_GETARG_OID(0);
	source = TextArg(fcinfo, 1, "source");
	key_column = TextArg(fcinfo, 2, "key_column");
	stage_column = TextArg(fcinfo, 3, "stage_column");
	at_column = TextArg(fcinfo, 4, "changed_at_column");
	if (!PG_ARGISNULL(5))
		amount_column = text_to_cstring(PG_GETARG_TEXT_PP(5));
	st.apply_rules = PG_ARGISNULL(7) ? false : PG_GETARG_BOOL(7);
	st.by_time = PG_ARGISNULL(8) ? true : PG_GETARG_BOOL(8);

	InitMaterializedSRF(fcinfo, 0);
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	import_context = AllocSetContextCreate(CurrentMemoryContext,
										   "funnel import",
										   ALLOCSET_DEFAULT_SIZES);

	if (!OidIsValid(get_rel_type_id(st.target)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", st.target)));

	SPI_connect();
	st.tracked = TrackedRow(st.target, "deals", &history_relid);

	/*
	 * The privilege before any lock (a role that may not write the table
	 * must not be able to lock it either).  A tracked table: its owner, who
	 * chose its rules, as for funnel.track(); an import writes visits no
	 * trigger checked.  A history table: INSERT on it.
	 */
	if (st.tracked)
	{
		if (!compat_relation_ownercheck(st.target, GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE,
						   get_rel_name(st.target));
	}
	else
	{
		aclresult = pg_class_aclcheck(st.target, GetUserId(), ACL_INSERT);
		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(st.target));
	}
	if (!st.tracked && TrackedRow(st.target, "history", &st.deals_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is the stage history of tracked table \"%s\"",
						get_rel_name(st.target), get_rel_name(st.deals_relid)),
				 errdetail("The deals of a tracked table and their history are imported together."),
				 errhint("Import into %s.", QuotedRelName(st.deals_relid))));

	/*
	 * Lock out every other writer of the history (and of the deals, whose
	 * writes write the history) until commit: ShareRowExclusiveLock, which
	 * readers pass and a second import waits for.
	 */
	if (st.tracked)
	{
		st.deals_relid = st.target;
		deals = table_open(st.target, ShareRowExclusiveLock);
		st.table = TrackLookup(deals, NULL);
		if (st.table->shell)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot import into distributed table \"%s\"",
							RelationGetRelationName(deals)),
					 errhint("Import into a local table, then distribute it with create_distributed_table().")));
		if (st.table->changed_at_attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tracked table \"%s\" has no changed_at column",
							RelationGetRelationName(deals)),
					 errdetail("An import sets each deal's time of its last move, which the tracking takes from its changed_at column."),
					 errhint("Track the table with changed_at_column => 'changed_at' (call funnel.untrack() and funnel.track() again).")));
		history = table_open(st.table->history_relid, ShareRowExclusiveLock);
		/* the entry again, now that its tables are locked */
		st.table = TrackLookup(deals, NULL);
		if (!RelationIsEmpty(deals))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tracked table \"%s\" is not empty",
							RelationGetRelationName(deals)),
					 errdetail("An import creates the deals and their whole history."),
					 errhint("Import into an empty tracked table, or write the moves of existing deals with UPDATE.")));
	}
	if (!st.tracked)
	{
		if (st.apply_rules)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("apply_rules needs a tracked table"),
					 errdetail("Table \"%s\" is a stage history; the rules are those of a tracked table.",
							   get_rel_name(st.target)),
					 errhint("Import into the tracked deals table, or without apply_rules.")));
		history = table_open(st.target, ShareRowExclusiveLock);
		st.table = PlainHistoryTable(history);
		/* the rows are written directly: no policy would be applied */
		if (check_enable_rls(st.target, InvalidOid, false) == RLS_ENABLED)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot import into table \"%s\": row-level security applies to you",
							RelationGetRelationName(history)),
					 errhint("Import as the table's owner, or into a table without row-level security.")));
		if (amount_column != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("amount_column needs a tracked table"),
					 errdetail("The amount is written to the deals table; table \"%s\" is a stage history.",
							   get_rel_name(st.target)),
					 errhint("Import into the tracked deals table, or without amount_column.")));
	}
	if (!RelationIsEmpty(history))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("history table \"%s\" is not empty",
						RelationGetRelationName(history)),
				 errdetail("An import writes a whole history; it does not merge with one."),
				 errhint("Import into an empty table.")));
	st.pipeline = st.table->pipeline;
	st.bare_pipeline = st.pipeline;
	if (!PG_ARGISNULL(6))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(6));
		FunnelPipeline *p = FunnelLookupPipelineByName(name);

		if (p == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("pipeline \"%s\" does not exist", name),
					 errhint(FUNNEL_PIPELINES_HINT)));
		st.bare_pipeline = p->typoid;
	}
	FunnelCheckConfigured(ImportPipeline(&st));

	/* the source's columns and their types */
	from = SourceFromItem(source);
	if (SPI_execute(psprintf("SELECT * FROM %s AS s LIMIT 0", from), false, 0) < 0)
		elog(ERROR, "could not describe the source");
	desc = SPI_tuptable->tupdesc;
	(void) SourceColumn(desc, key_column, "key");
	stage_i = SourceColumn(desc, stage_column, "stage");
	at_i = SourceColumn(desc, at_column, "changed-at");
	att = TupleDescAttr(desc, stage_i);
	if (att->atttypid == st.table->stage_type)
		st.stage_is_text = false;
	else if (TypeCategory(att->atttypid) == TYPCATEGORY_STRING)
		st.stage_is_text = true;
	else
		ReportColumnType(att, "stage", "text or funnel.deal_stage");
	att = TupleDescAttr(desc, at_i);
	if (att->atttypid != TIMESTAMPTZOID && att->atttypid != TIMESTAMPOID &&
		att->atttypid != DATEOID)
		ReportColumnType(att, "changed-at", "timestamptz, timestamp or date");
	if (amount_column != NULL)
	{
		amount_i = SourceColumn(desc, amount_column, "amount");
		att = TupleDescAttr(desc, amount_i);
		if (TypeCategory(att->atttypid) != TYPCATEGORY_NUMERIC)
			ReportColumnType(att, "amount", "numeric, integer or float");
		st.has_amount = true;
		if (get_attnum(st.target, amount_column) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of tracked table \"%s\" does not exist",
							amount_column, RelationGetRelationName(deals)),
					 errdetail("The last amount of each deal is written to the deals table's column named by amount_column."),
					 errhint("Name the source's amount column as the deals table's, in a query given as the source.")));
	}

	/*
	 * The source sorted by deal (and time), each row with its position in
	 * the source, through a cursor: never all of it in memory at once
	 */
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT s.%s::%s, s.%s%s, s.%s::pg_catalog.timestamptz, %s%s, s.\"funnel row\" FROM (SELECT s.*, pg_catalog.row_number() OVER () AS \"funnel row\" FROM %s AS s) AS s ORDER BY 1, %s5",
					 quote_identifier(key_column),
					 format_type_be_qualified(st.table->pk_type),
					 quote_identifier(stage_column),
					 st.stage_is_text ? "::pg_catalog.text" : "",
					 quote_identifier(at_column),
					 st.has_amount ? "s." : "NULL::pg_catalog.numeric",
					 st.has_amount ? quote_identifier(amount_column) : "",
					 from,
					 st.by_time ? "3, " : "");
	plan = SPI_prepare(q.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the import query: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	/* the key type: its equality and output */
	{
		TypeCacheEntry *tce = lookup_type_cache(st.table->pk_type,
												TYPECACHE_EQ_OPR_FINFO);
		bool		varlena;

		if (!OidIsValid(tce->eq_opr_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("key type %s has no equality operator",
							format_type_be(st.table->pk_type))));
		fmgr_info_copy(&st.key_eq, &tce->eq_opr_finfo, import_context);
		st.key_collation = st.table->pk_collation;
		getTypeOutputInfo(st.table->pk_type, &st.key_output, &varlena);
		get_typlenbyval(st.table->pk_type, &st.key_len, &st.key_byval);
	}

	st.deal_context = AllocSetContextCreate(import_context, "funnel import deal",
											ALLOCSET_SMALL_SIZES);
	st.deals_context = AllocSetContextCreate(import_context, "funnel import deals",
											 ALLOCSET_DEFAULT_SIZES);
	st.maxvisits = 16;
	st.visits = MemoryContextAlloc(import_context,
								   st.maxvisits * sizeof(ImportVisit));
	{
		MemoryContext old = MemoryContextSwitchTo(import_context);

		initStringInfo(&st.last_text);
		st.last_context = AllocSetContextCreate(import_context,
												"funnel import stage",
												ALLOCSET_SMALL_SIZES);
		MemoryContextSwitchTo(old);
	}

	/*
	 * The history is empty and locked: its writers (ours, and the tracking
	 * trigger's for the deals' last visits) write no index entries, and its
	 * indexes are built once at the end, by sorting, rather than with one
	 * insertion per visit, the costliest part of writing one
	 */
	ImportBulk(&st, portal, deals, amount_column, import_context);

	/*
	 * The indexes of the history, built from its rows; unique indexes users
	 * added are checked.  Readers of the history wait for the commit.
	 */
	CommandCounterIncrement();
	{
		ReindexParams params = {0};

		compat_reindex_relation(RelationGetRelid(history),
								REINDEX_REL_CHECK_CONSTRAINTS, &params);
	}

	SPI_finish();
	table_close(history, NoLock);
	if (deals != NULL)
		table_close(deals, NoLock);
	MemoryContextDelete(import_context);
	PG_RETURN_NULL();
}
