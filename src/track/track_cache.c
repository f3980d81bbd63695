/*-------------------------------------------------------------------------
 *
 * track_cache.c
 *	  Backend-local cache of what the tracking triggers need per deals
 *	  table: pipeline, rule, column numbers, the history table and its
 *	  (deal_id, entered_at) index, the pipeline's allow-list and required
 *	  fields.
 *
 * An entry is built from funnel.tracked_table, funnel.allowed_transition and
 * funnel.required_field (whose statement trigger funnel_internal.catalog_changed()
 * sends a relcache invalidation on every write) and from the catalogs.  It
 * is rebuilt on the first use after a relcache invalidation of one of those
 * tables, of the deals table or of its history table (ALTER TABLE, index
 * changes), or after the pipeline cache was rebuilt (stage renamed, added or
 * retired).  While nothing changes, a trigger call reads no catalog.
 * Entries follow the idiom of funnel_cache.h; the configuration tables are
 * read by column name.  The entries of dropped tables are removed when
 * a new entry is made.  The allow-lists and required fields of an entry
 * are read by track_cache_rules.c.
 *
 * src/track/track_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "funnel_cache.h"
#include "track.h"

/*
 * The columns of the configuration tables the cache reads, found by name
 * once per build (funnel_cache.h).  The names are also the keys of the
 * Citus triggers' name=value arguments (see LoadTrackedArgs).
 */
enum
{
	TT_DEALS,
	TT_PIPELINE,
	TT_STAGE_COLUMN,
	TT_CHANGED_AT_COLUMN,
	TT_RULE,
	TT_HISTORY,
	TT_KEY_COLUMN,
	TT_PIPELINES,
	TT_NCOLUMNS
};
static const char *const tracked_table_columns[TT_NCOLUMNS] = {
	"deals", "pipeline", "stage_column", "changed_at_column", "rule",
	"history", "key_column", "pipelines"
};

/* Column numbers as indexes into heap_deform_tuple's arrays */
void
TrackConfigColumns(Relation rel, int ncolumns, const char *const *names, int *index)
{
	AttrNumber	attnums[TT_NCOLUMNS];
	int			i;

	Assert(ncolumns <= TT_NCOLUMNS);
	FunnelColumnNumbers(rel, ncolumns, names, attnums);
	for (i = 0; i < ncolumns; i++)
		index[i] = attnums[i] - 1;
}

static HTAB *tracked_tables = NULL;

/* OIDs of the three configuration tables, looked up on each build */
static Oid	config_relids[3];

/* Mark entries invalid when a table they depend on changes */
static void
TrackRelcacheCallback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TrackedTable *entry;
	bool		all = !OidIsValid(relid);
	int			i;

	if (tracked_tables == NULL)
		return;
	for (i = 0; i < (int) lengthof(config_relids); i++)
		if (relid == config_relids[i])
			all = true;

	hash_seq_init(&status, tracked_tables);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (all || entry->relid == relid || entry->history_relid == relid)
			FunnelCacheInvalidate(&entry->state);
	}
}

/* Create the hash table and register the callback, once per backend */
static void
TrackCacheInit(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TrackedTable);
	ctl.hcxt = CacheMemoryContext;
	tracked_tables = hash_create("funnel tracked tables", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(TrackRelcacheCallback, (Datum) 0);
}

/* OID of a funnel configuration table, or an error if it is missing */
static Oid
ConfigRelid(const char *name)
{
	Oid			nspoid = get_namespace_oid(FUNNEL_SCHEMA, false);
	Oid			relid = get_relname_relid(name, nspoid);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("funnel configuration table \"%s.%s\" does not exist",
						FUNNEL_SCHEMA, name),
				 errhint("Update the funnel extension with ALTER EXTENSION funnel UPDATE.")));
	return relid;
}

/* Raise the error for a Citus trigger whose arguments cannot be read */
pg_noreturn static void
ReportTriggerArgs(Relation deals, Trigger *trigger, const char *detail,
				  const char *arg)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("funnel trigger \"%s\" of table \"%s\" has unexpected arguments",
					trigger->tgname, RelationGetRelationName(deals)),
			 errdetail(detail, arg),
			 errhint("Drop the funnel_track_* triggers, or call funnel.track() again.")));
}

/*
 * The pipelines of a pipelines= trigger argument: the text form of a text[]
 * array, as array_out() writes it ('{b2b,"re,tail"}'): an element is bare,
 * or double-quoted with a backslash before each '"' and '\\' it holds, so
 * any pipeline name survives (names have no control characters and no ':',
 * but may hold commas, quotes, braces and spaces).  Nothing else is
 * accepted: no NULL element, no empty array, no name twice.
 */
static List *
ParsePipelines(Relation deals, Trigger *trigger, const char *value)
{
	const char *p = value;
	List	   *names = NIL;
	StringInfoData name;

	if (*p++ != '{' || *p == '}')
		ReportTriggerArgs(deals, trigger,
						  "Setting \"pipelines\" is \"%s\", not a non-empty array of pipeline names such as {b2b,retail}.",
						  value);
	initStringInfo(&name);
	for (;;)
	{
		ListCell   *lc;

		resetStringInfo(&name);
		if (*p == '"')
		{
			for (p++; *p != '"'; p++)
			{
				if (*p == '\\')
					p++;
				if (*p == '\0')
					ReportTriggerArgs(deals, trigger,
									  "Setting \"pipelines\" is \"%s\": a quoted name is not closed.",
									  value);
				appendStringInfoChar(&name, *p);
			}
			p++;
		}
		else
		{
			for (; *p != ',' && *p != '}' && *p != '\0'; p++)
			{
				if (*p == '"' || *p == '\\' || *p == '{' || isspace((unsigned char) *p))
					ReportTriggerArgs(deals, trigger,
									  "Setting \"pipelines\" is \"%s\": a name holding quotes, backslashes, braces or spaces must be double-quoted.",
									  value);
				appendStringInfoChar(&name, *p);
			}
			if (name.len == 0 || pg_strcasecmp(name.data, "NULL") == 0)
				ReportTriggerArgs(deals, trigger,
								  "Setting \"pipelines\" is \"%s\": an element is empty or NULL.",
								  value);
		}
		foreach(lc, names)
			if (strcmp((char *) lfirst(lc), name.data) == 0)
				ReportTriggerArgs(deals, trigger,
								  "Setting \"pipelines\" names pipeline \"%s\" twice.",
								  name.data);
		names = lappend(names, pstrdup(name.data));
		if (*p == '}' && p[1] == '\0')
			break;
		if (*p != ',')
			ReportTriggerArgs(deals, trigger,
							  "Setting \"pipelines\" is \"%s\", not a non-empty array of pipeline names such as {b2b,retail}.",
							  value);
		p++;
	}
	pfree(name.data);
	return names;
}

/*
 * Read the tracking of a Citus shard (or of the distributed table itself)
 * from its trigger's arguments (see track_citus.c), and find the history
 * relation to write.  The arguments are 'citus' followed by name=value
 * pairs named like the columns of funnel.tracked_table (deals, history,
 * pipeline, stage_column, rule, key_column, and changed_at_column when
 * there is one), in any order: a release that adds a setting adds a pair,
 * and the triggers of older releases stay readable.  A table of several
 * pipelines has a pipelines= pair instead of pipeline= (ParsePipelines).
 */
static void
LoadTrackedArgs(TrackedTable *t, Relation deals, Trigger *trigger,
				char **pipeline_name, List **pipeline_names, char **key_column)
{
	char	  **args = trigger->tgargs;
	const char *value[TT_NCOLUMNS] = {0};
	int			i,
				k;

	if (trigger->tgnargs < 1 || strcmp(args[0], "citus") != 0)
		ReportTriggerArgs(deals, trigger,
						  "The first argument is not \"citus\".%s", "");
	for (i = 1; i < trigger->tgnargs; i++)
	{
		const char *eq = strchr(args[i], '=');

		for (k = 0; eq != NULL && k < TT_NCOLUMNS; k++)
			if (strlen(tracked_table_columns[k]) == (size_t) (eq - args[i]) &&
				strncmp(args[i], tracked_table_columns[k], eq - args[i]) == 0)
				break;
		if (eq == NULL || k == TT_NCOLUMNS)
			ReportTriggerArgs(deals, trigger,
							  "Argument \"%s\" is not a setting=value pair funnel knows.",
							  args[i]);
		if (value[k] != NULL)
			ReportTriggerArgs(deals, trigger,
							  "Setting \"%s\" is given twice.", tracked_table_columns[k]);
		value[k] = eq + 1;
	}
	for (k = 0; k < TT_NCOLUMNS; k++)
		if (value[k] == NULL && k != TT_CHANGED_AT_COLUMN &&
			k != TT_PIPELINE && k != TT_PIPELINES)
			ReportTriggerArgs(deals, trigger, "Setting \"%s\" is missing.",
							  tracked_table_columns[k]);
	if ((value[TT_PIPELINE] == NULL) == (value[TT_PIPELINES] == NULL))
		ReportTriggerArgs(deals, trigger,
						  "Settings \"pipeline\" and \"pipelines\" are both %s; exactly one is needed.",
						  value[TT_PIPELINE] == NULL ? "missing" : "given");
	if (TrackRuleByName(value[TT_RULE]) < 0)
		ReportTriggerArgs(deals, trigger, "Rule \"%s\" is none of forward, sequential, any.",
						  value[TT_RULE]);
	t->rule = TrackRuleByName(value[TT_RULE]);

	if (value[TT_PIPELINES] != NULL)
	{
		*pipeline_name = NULL;
		*pipeline_names = ParsePipelines(deals, trigger, value[TT_PIPELINES]);
	}
	else
		*pipeline_name = pstrdup(value[TT_PIPELINE]);
	*key_column = pstrdup(value[TT_KEY_COLUMN]);
	t->stage_attnum = TrackDealsColumn(deals, value[TT_STAGE_COLUMN], "stage column", true);
	t->changed_at_attnum = value[TT_CHANGED_AT_COLUMN] == NULL ? InvalidAttrNumber :
		TrackDealsColumn(deals, value[TT_CHANGED_AT_COLUMN], "effective-time column", true);
	t->history_relid = TrackCitusHistory(deals, value[TT_DEALS],
										 value[TT_HISTORY],
										 value[TT_KEY_COLUMN], &t->shell);
	t->nargs = trigger->tgnargs;
	t->args = MemoryContextAlloc(t->context, t->nargs * sizeof(char *));
	for (i = 0; i < t->nargs; i++)
		t->args[i] = MemoryContextStrdup(t->context, args[i]);
}

/* Was the entry built from these trigger arguments (or from none)? */
static bool
SameArgs(TrackedTable *t, Trigger *trigger)
{
	int			nargs = trigger ? trigger->tgnargs : 0;
	int			i;

	if (t->nargs != nargs)
		return false;
	for (i = 0; i < nargs; i++)
		if (strcmp(t->args[i], trigger->tgargs[i]) != 0)
			return false;
	return true;
}

/* Read the row of funnel.tracked_table for this table into the entry */
static bool
LoadTrackedRow(TrackedTable *t, Relation deals, char **pipeline_name,
			   List **pipeline_names, char **key_column)
{
	Relation	rel = table_open(config_relids[0], AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;
	Datum	   *values = palloc(tupdesc->natts * sizeof(Datum));
	bool	   *nulls = palloc(tupdesc->natts * sizeof(bool));
	int			col[TT_NCOLUMNS];

	AttrNumber	pipelines_attnum;

	TrackConfigColumns(rel, TT_NCOLUMNS, tracked_table_columns, col);
	/* the pipelines of a table that holds several (NULL otherwise) */
	{
		static const char *const pipelines_column[1] = {"pipelines"};

		FunnelColumnNumbers(rel, 1, pipelines_column, &pipelines_attnum);
	}
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		char	   *rule;
		bool		several;

		heap_deform_tuple(tuple, tupdesc, values, nulls);
		several = !nulls[pipelines_attnum - 1];
		if (nulls[col[TT_DEALS]] || (nulls[col[TT_PIPELINE]] && !several) ||
			nulls[col[TT_STAGE_COLUMN]] || nulls[col[TT_RULE]] ||
			nulls[col[TT_HISTORY]] || nulls[col[TT_KEY_COLUMN]])
			continue;
		if (DatumGetObjectId(values[col[TT_DEALS]]) != t->relid)
			continue;

		found = true;
		if (several)
		{
			Datum	   *elems;
			bool	   *elemnulls;
			int			nelems,
						i;

			deconstruct_array(DatumGetArrayTypeP(values[pipelines_attnum - 1]),
							  TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &elemnulls, &nelems);
			*pipeline_name = NULL;
			for (i = 0; i < nelems; i++)
				if (!elemnulls[i])
					*pipeline_names = lappend(*pipeline_names,
											  TextDatumGetCString(elems[i]));
		}
		else
			*pipeline_name = TextDatumGetCString(values[col[TT_PIPELINE]]);
		*key_column = pstrdup(NameStr(*DatumGetName(values[col[TT_KEY_COLUMN]])));
		t->stage_attnum = TrackDealsColumn(deals,
										   NameStr(*DatumGetName(values[col[TT_STAGE_COLUMN]])),
										   "stage column", true);
		t->changed_at_attnum = nulls[col[TT_CHANGED_AT_COLUMN]] ?
			InvalidAttrNumber :
			TrackDealsColumn(deals,
							 NameStr(*DatumGetName(values[col[TT_CHANGED_AT_COLUMN]])),
							 "effective-time column", true);
		rule = TextDatumGetCString(values[col[TT_RULE]]);
		t->rule = TrackRuleFromName(rule);
		t->history_relid = DatumGetObjectId(values[col[TT_HISTORY]]);
		break;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The key column of the deals table, the one track() saw as its primary
 * key; an error (TrackValidateDeals) when it no longer is the primary key.
 */
static void
LoadPrimaryKey(TrackedTable *t, Relation deals, const char *key_column)
{
	AttrNumber	key = TrackDealsColumn(deals, key_column, "key column", true);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(deals), key - 1);

	t->pk_type = att->atttypid;
	t->pk_typmod = att->atttypmod;
	t->pk_collation = att->attcollation;
	t->pk_attnum = TrackValidateDeals(t, deals, key_column);
}

/*
 * Check the history table and find its btree index whose keys start
 * (deal_id, entered_at).  The table stays locked for writing until the end
 * of the transaction, so its shape cannot change before the trigger writes.
 */
static void
LoadHistoryIndex(TrackedTable *t, Relation deals)
{
	Relation	history;
	List	   *indexes;
	ListCell   *lc;

	TrackCheckHistoryOwner(t->history_relid, deals);
	history = try_table_open(t->history_relid, RowExclusiveLock);
	if (history == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the history table of a tracked table was dropped"),
				 errhint("Call funnel.untrack() on the deals table, then funnel.track() to start a new history.")));
	TrackValidateHistory(t, deals, history);
	indexes = RelationGetIndexList(history);

	t->history_index = InvalidOid;
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		Relation	index = index_open(indexoid, AccessShareLock);
		Form_pg_index form = index->rd_index;

		if (index->rd_rel->relam == BTREE_AM_OID &&
			form->indnkeyatts >= 2 &&
			form->indkey.values[0] == Anum_history_deal_id &&
			form->indkey.values[1] == Anum_history_entered_at &&
			form->indisvalid && form->indisready &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
		{
			Oid			opno = get_opfamily_member(index->rd_opfamily[0],
												   index->rd_opcintype[0],
												   index->rd_opcintype[0],
												   BTEqualStrategyNumber);

			if (OidIsValid(opno))
			{
				t->history_index = indexoid;
				fmgr_info_cxt(get_opcode(opno), &t->index_eq, t->context);
				t->index_collation = index->rd_indcollation[0];
			}
		}
		index_close(index, AccessShareLock);
		if (OidIsValid(t->history_index))
			break;
	}
	list_free(indexes);
	if (!OidIsValid(t->history_index))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("history table \"%s\" has no btree index on (deal_id, entered_at)",
						RelationGetRelationName(history)),
				 errhint("CREATE INDEX ON %s (deal_id, entered_at)",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(history)),
													RelationGetRelationName(history)))));
	table_close(history, NoLock);
}

/*
 * (Re)build an entry (funnel_cache.h): everything is read into a new
 * entry whose memory is a child of the caller's context, and installed
 * only when complete.  An error leaves the entry stale, and its memory is
 * freed with the caller's.
 */
static void
TrackBuild(TrackedTable *t, Relation deals, Trigger *trigger)
{
	TrackedTable nt;
	MemoryContext old_context = t->context;
	char	   *pipeline_name = NULL;
	List	   *pipeline_names = NIL;
	char	   *key_column = NULL;
	FunnelPipeline *pipeline;
	FunnelPipeline **pipelines;
	ListCell   *lc;

	FunnelCacheBuildStarted(&t->state);
	/* read first: a rebuild of the pipeline cache meanwhile makes it stale */
	memset(&nt, 0, sizeof(nt));
	nt.relid = t->relid;
	nt.generation = FunnelCacheGeneration();
	nt.context = AllocSetContextCreate(CurrentMemoryContext,
									   "funnel tracked table",
									   ALLOCSET_SMALL_SIZES);

	config_relids[0] = ConfigRelid("tracked_table");
	config_relids[1] = ConfigRelid("allowed_transition");
	config_relids[2] = ConfigRelid("required_field");

	if (trigger != NULL && trigger->tgnargs > 0)
		LoadTrackedArgs(&nt, deals, trigger, &pipeline_name, &pipeline_names,
						&key_column);
	else if (!LoadTrackedRow(&nt, deals, &pipeline_name, &pipeline_names,
							 &key_column))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not tracked by funnel",
						RelationGetRelationName(deals)),
				 errdetail("A funnel tracking trigger fired on a table that has no row in funnel.tracked_table (a schema restored without funnel's configuration, such as pg_dump -n, leaves it so)."),
				 errhint("Call funnel.track('%s', pipeline => '...') as before (same stage column, effective-time column and rule): it re-attaches the existing history; or drop the funnel_track_* triggers.",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(deals)),
													RelationGetRelationName(deals)))));
	if (pipeline_name != NULL)
		pipeline_names = list_make1(pipeline_name);
	nt.npipelines = pipeline_name != NULL ? 0 : list_length(pipeline_names);
	nt.pipelines = MemoryContextAlloc(nt.context,
									  Max(nt.npipelines, 1) * sizeof(Oid));
	pipelines = palloc(Max(list_length(pipeline_names), 1) * sizeof(FunnelPipeline *));
	foreach(lc, pipeline_names)
	{
		pipeline = FunnelLookupPipelineByName((char *) lfirst(lc));
		pipelines[foreach_current_index(lc)] = pipeline;
		if (pipeline == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("pipeline \"%s\" of tracked table \"%s\" does not exist",
							(char *) lfirst(lc), RelationGetRelationName(deals)),
					 nt.nargs > 0 ?
					 errhint("Create it on the coordinator (funnel.sync_pipeline_nodes() gives a worker the pipelines it lacks), or drop the funnel_track_* triggers and call funnel.track() again.") : 0));
		if (nt.npipelines > 0)
			nt.pipelines[foreach_current_index(lc)] = pipeline->typoid;
		else
			nt.pipeline = pipeline->typoid;
	}
	nt.stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									CStringGetDatum("deal_stage"),
									ObjectIdGetDatum(get_namespace_oid(FUNNEL_SCHEMA, false)));
	LoadPrimaryKey(&nt, deals, key_column);
	LoadHistoryIndex(&nt, deals);
	/* (no pipeline lookup since: the pointers are still valid) */
	TrackLoadTransitions(&nt, config_relids[1], pipelines,
						 list_length(pipeline_names));
	TrackLoadRequired(&nt, config_relids[2], pipelines,
					  list_length(pipeline_names), deals);

	/* complete: install it, valid unless invalidated meanwhile */
	MemoryContextSetParent(nt.context, CacheMemoryContext);
	nt.state = t->state;
	*t = nt;
	FunnelCacheBuilt(&t->state);
	if (old_context != NULL)
		MemoryContextDelete(old_context);
}

/*
 * Remove the entries of tables that no longer exist (dropped since their
 * entry was built), when a new entry is made.  Safe: no trigger call can
 * be using the entry of a dropped table (a trigger's table is locked
 * while it fires), and a dropped table's entry was made stale by the
 * relcache invalidation of its drop.
 */
static void
ForgetDroppedTables(Oid keep)
{
	HASH_SEQ_STATUS status;
	TrackedTable *entry;

	hash_seq_init(&status, tracked_tables);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->relid == keep || FunnelCacheIsValid(entry->state) ||
			SearchSysCacheExists1(RELOID, ObjectIdGetDatum(entry->relid)))
			continue;
		if (entry->context != NULL)
			MemoryContextDelete(entry->context);
		(void) hash_search(tracked_tables, &entry->relid, HASH_REMOVE, NULL);
	}
}

/*
 * The cache entry of a tracked deals table, built if needed, for a call of
 * the given trigger (whose arguments, on a Citus shard, say how the table
 * is tracked).  The pointer stays valid for the rest of the trigger call.
 */
TrackedTable *
TrackLookup(Relation deals, Trigger *trigger)
{
	Oid			relid = RelationGetRelid(deals);
	TrackedTable *t;
	bool		found;

	if (tracked_tables == NULL)
		TrackCacheInit();
	t = hash_search(tracked_tables, &relid, HASH_ENTER, &found);
	if (!found)
	{
		FunnelCacheInvalidate(&t->state);
		t->context = NULL;
		t->history_relid = InvalidOid;
		t->nargs = 0;
		ForgetDroppedTables(relid);
	}
	if (unlikely(FunnelCacheIsValid(t->state) && !SameArgs(t, trigger)))
		FunnelCacheInvalidate(&t->state);

	/*
	 * Lock the history table before trusting the entry: taking the lock
	 * processes pending invalidations, and holding it keeps the table's
	 * shape until the trigger has written.
	 */
	if (likely(FunnelCacheIsValid(t->state) && OidIsValid(t->history_relid)))
		LockRelationOid(t->history_relid, RowExclusiveLock);
	if (unlikely(!FunnelCacheIsValid(t->state) ||
				 t->generation != FunnelCacheGeneration()))
		TrackBuild(t, deals, trigger);
	return t;
}
