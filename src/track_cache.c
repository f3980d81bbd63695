/*-------------------------------------------------------------------------
 *
 * track_cache.c
 *	  Backend-local cache of what the tracking triggers need per deals
 *	  table: pipeline, rule, column numbers, the history table and its
 *	  (deal_id, entered_at) index, the pipeline's allow-list and required
 *	  fields.
 *
 * An entry is built from funnel.tracked_table, funnel.allowed_transition and
 * funnel.required_field (whose statement trigger funnel.catalog_changed()
 * sends a relcache invalidation on every write) and from the catalogs.  It
 * is rebuilt on the first use after a relcache invalidation of one of those
 * tables, of the deals table or of its history table (ALTER TABLE, index
 * changes), or after the pipeline cache was rebuilt (stage renamed, added or
 * retired).  While nothing changes, a trigger call reads no catalog.
 *
 * src/track_cache.c
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
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "track.h"

/* Column numbers of the configuration tables (see sql/funnel.sql) */
#define Anum_tracked_deals				1
#define Anum_tracked_pipeline			2
#define Anum_tracked_stage_column		3
#define Anum_tracked_changed_at_column	4
#define Anum_tracked_rule				5
#define Anum_tracked_history			6
#define Anum_tracked_key_column			8
#define Natts_tracked					8

#define Anum_allowed_pipeline			1
#define Anum_allowed_from				2
#define Anum_allowed_to					3
#define Natts_allowed					3

#define Anum_required_pipeline			1
#define Anum_required_stage				2
#define Anum_required_fields			3
#define Natts_required					3

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
			entry->valid = false;
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

/* Column number of a column of the deals table, or an error */
static AttrNumber
DealsColumn(Relation deals, const char *name, const char *what)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(deals), name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of tracked table \"%s\" does not exist",
						name, RelationGetRelationName(deals)),
				 errdetail("It is the %s of the table's tracking.", what),
				 errhint("Call funnel.untrack() and funnel.track() again after renaming or dropping a tracked column.")));
	return attnum;
}

/* The stage of a pipeline by name, or NULL (rows of other pipelines) */
static Oid
StageLabel(FunnelPipeline *pipeline, const char *name)
{
	FunnelStage *stage = FunnelLookupStageByName(pipeline, name);

	return stage ? stage->label : InvalidOid;
}

/* The rule of a tracking by name; false if it is none of the three */
static bool
ParseRule(const char *rule, TrackRule *result)
{
	if (strcmp(rule, "any") == 0)
		*result = TRACK_RULE_ANY;
	else if (strcmp(rule, "sequential") == 0)
		*result = TRACK_RULE_SEQUENTIAL;
	else if (strcmp(rule, "forward") == 0)
		*result = TRACK_RULE_FORWARD;
	else
		return false;
	return true;
}

/*
 * Read the tracking of a Citus shard (or of the distributed table itself)
 * from its trigger's arguments (see track_citus.c), and find the history
 * relation to write.
 */
static void
LoadTrackedArgs(TrackedTable *t, Relation deals, Trigger *trigger,
				char **pipeline_name, char **key_column)
{
	char	  **args = trigger->tgargs;
	int			i;

	if (trigger->tgnargs != 8 || strcmp(args[0], "citus") != 0 ||
		!ParseRule(args[6], &t->rule))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel trigger \"%s\" of table \"%s\" has unexpected arguments",
						trigger->tgname, RelationGetRelationName(deals)),
				 errhint("Drop the funnel_track_* triggers, or call funnel.track() again.")));
	*pipeline_name = pstrdup(args[3]);
	*key_column = pstrdup(args[7]);
	t->stage_attnum = DealsColumn(deals, args[4], "stage column");
	t->changed_at_attnum = args[5][0] == '\0' ? InvalidAttrNumber :
		DealsColumn(deals, args[5], "effective-time column");
	t->history_relid = TrackCitusHistory(deals, args[1], args[2], args[7],
										 &t->shell);
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
			   char **key_column)
{
	Relation	rel = table_open(config_relids[0], AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Datum		values[Natts_tracked];
		bool		nulls[Natts_tracked];
		char	   *rule;

		if (tupdesc->natts < Natts_tracked)
			break;
		heap_deform_tuple(tuple, tupdesc, values, nulls);
		if (DatumGetObjectId(values[Anum_tracked_deals - 1]) != t->relid)
			continue;

		found = true;
		*pipeline_name = TextDatumGetCString(values[Anum_tracked_pipeline - 1]);
		*key_column = pstrdup(NameStr(*DatumGetName(values[Anum_tracked_key_column - 1])));
		t->stage_attnum = DealsColumn(deals,
									  NameStr(*DatumGetName(values[Anum_tracked_stage_column - 1])),
									  "stage column");
		t->changed_at_attnum = nulls[Anum_tracked_changed_at_column - 1] ?
			InvalidAttrNumber :
			DealsColumn(deals,
						NameStr(*DatumGetName(values[Anum_tracked_changed_at_column - 1])),
						"effective-time column");
		rule = TextDatumGetCString(values[Anum_tracked_rule - 1]);
		if (!ParseRule(rule, &t->rule))
			t->rule = TRACK_RULE_FORWARD;
		t->history_relid = DatumGetObjectId(values[Anum_tracked_history - 1]);
		break;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The key column of the deals table, the one track() saw as its primary
 * key; pk_attnum stays invalid when it no longer is the primary key.
 */
static void
LoadPrimaryKey(TrackedTable *t, Relation deals, const char *key_column)
{
	/* a deferrable primary key does not identify a deal */
	Oid			pkoid = compat_RelationGetPrimaryKeyIndex(deals);
	AttrNumber	key = DealsColumn(deals, key_column, "key column");
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(deals), key - 1);

	t->pk_attnum = InvalidAttrNumber;
	if (OidIsValid(pkoid))
	{
		Relation	index = index_open(pkoid, AccessShareLock);

		if (index->rd_index->indnkeyatts == 1 &&
			index->rd_index->indkey.values[0] == key)
			t->pk_attnum = key;
		index_close(index, AccessShareLock);
	}
	t->pk_type = att->atttypid;
	t->pk_typmod = att->atttypmod;
	t->pk_collation = att->attcollation;
	TrackValidateDeals(t, deals, pkoid, key_column);
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

/* The pipeline's allow-list, as pairs of stage OIDs */
static void
LoadTransitions(TrackedTable *t, FunnelPipeline *pipeline)
{
	Relation	rel = table_open(config_relids[1], AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 8;

	t->from_labels = MemoryContextAlloc(t->context, allocated * sizeof(Oid));
	t->to_labels = MemoryContextAlloc(t->context, allocated * sizeof(Oid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Datum		values[Natts_allowed];
		bool		nulls[Natts_allowed];
		Oid			from,
					to;

		heap_deform_tuple(tuple, tupdesc, values, nulls);
		if (strcmp(TextDatumGetCString(values[Anum_allowed_pipeline - 1]),
				   NameStr(pipeline->name)) != 0)
			continue;
		from = StageLabel(pipeline, TextDatumGetCString(values[Anum_allowed_from - 1]));
		to = StageLabel(pipeline, TextDatumGetCString(values[Anum_allowed_to - 1]));
		if (!OidIsValid(from) || !OidIsValid(to))
			continue;
		if (t->ntransitions == allocated)
		{
			allocated *= 2;
			t->from_labels = repalloc(t->from_labels, allocated * sizeof(Oid));
			t->to_labels = repalloc(t->to_labels, allocated * sizeof(Oid));
		}
		t->from_labels[t->ntransitions] = from;
		t->to_labels[t->ntransitions] = to;
		t->ntransitions++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* The pipeline's required fields, as column numbers of the deals table */
static void
LoadRequired(TrackedTable *t, FunnelPipeline *pipeline, Relation deals)
{
	Relation	rel = table_open(config_relids[2], AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 4;

	t->required = MemoryContextAllocZero(t->context, allocated * sizeof(TrackRequired));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Datum		values[Natts_required];
		bool		nulls[Natts_required];
		Oid			label;
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems,
					i;
		TrackRequired *req;
		MemoryContext old;

		heap_deform_tuple(tuple, tupdesc, values, nulls);
		if (strcmp(TextDatumGetCString(values[Anum_required_pipeline - 1]),
				   NameStr(pipeline->name)) != 0)
			continue;
		label = StageLabel(pipeline, TextDatumGetCString(values[Anum_required_stage - 1]));
		if (!OidIsValid(label) || nulls[Anum_required_fields - 1])
			continue;
		deconstruct_array(DatumGetArrayTypeP(values[Anum_required_fields - 1]),
						  NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
						  &elems, &elemnulls, &nelems);
		if (t->nrequired == allocated)
		{
			allocated *= 2;
			t->required = repalloc(t->required, allocated * sizeof(TrackRequired));
		}
		req = &t->required[t->nrequired++];
		req->label = label;
		req->nfields = 0;
		old = MemoryContextSwitchTo(t->context);
		req->attnums = palloc(Max(nelems, 1) * sizeof(AttrNumber));
		req->names = palloc(Max(nelems, 1) * sizeof(char *));
		for (i = 0; i < nelems; i++)
		{
			if (elemnulls[i])
				continue;
			req->names[req->nfields] = pstrdup(NameStr(*DatumGetName(elems[i])));
			req->attnums[req->nfields] = DealsColumn(deals, req->names[req->nfields],
													 "required field");
			req->nfields++;
		}
		MemoryContextSwitchTo(old);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* (Re)build an entry; on error the entry stays invalid */
static void
TrackBuild(TrackedTable *t, Relation deals, Trigger *trigger)
{
	MemoryContext context;
	char	   *pipeline_name = NULL;
	char	   *key_column = NULL;
	FunnelPipeline *pipeline;
	uint64		generation;

	config_relids[0] = ConfigRelid("tracked_table");
	config_relids[1] = ConfigRelid("allowed_transition");
	config_relids[2] = ConfigRelid("required_field");

	if (t->context != NULL)
		MemoryContextDelete(t->context);
	t->context = NULL;
	context = AllocSetContextCreate(CacheMemoryContext, "funnel tracked table",
									ALLOCSET_SMALL_SIZES);
	t->context = context;
	t->ntransitions = 0;
	t->nrequired = 0;
	t->history_relid = InvalidOid;
	t->shell = false;
	t->nargs = 0;
	t->args = NULL;

	/* an invalidation arriving while we build makes the next call rebuild */
	t->valid = true;
	generation = FunnelCacheGeneration();

	PG_TRY();
	{
		if (trigger != NULL && trigger->tgnargs > 0)
			LoadTrackedArgs(t, deals, trigger, &pipeline_name, &key_column);
		else if (!LoadTrackedRow(t, deals, &pipeline_name, &key_column))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" is not tracked by funnel",
							RelationGetRelationName(deals)),
					 errdetail("A funnel tracking trigger fired on a table that has no row in funnel.tracked_table."),
					 errhint("Drop the funnel_track_* triggers, or call funnel.track().")));
		pipeline = FunnelLookupPipelineByName(pipeline_name);
		if (pipeline == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("pipeline \"%s\" of tracked table \"%s\" does not exist",
							pipeline_name, RelationGetRelationName(deals))));
		t->pipeline = pipeline->typoid;
		t->stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum("deal_stage"),
										ObjectIdGetDatum(get_namespace_oid(FUNNEL_SCHEMA, false)));
		LoadPrimaryKey(t, deals, key_column);
		LoadHistoryIndex(t, deals);
		LoadTransitions(t, pipeline);
		LoadRequired(t, pipeline, deals);
	}
	PG_CATCH();
	{
		t->valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	t->generation = generation;
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
		t->valid = false;
		t->context = NULL;
		t->history_relid = InvalidOid;
		t->nargs = 0;
	}
	if (unlikely(t->valid && !SameArgs(t, trigger)))
		t->valid = false;

	/*
	 * Lock the history table before trusting the entry: taking the lock
	 * processes pending invalidations, and holding it keeps the table's
	 * shape until the trigger has written.
	 */
	if (likely(t->valid && OidIsValid(t->history_relid)))
		LockRelationOid(t->history_relid, RowExclusiveLock);
	if (unlikely(!t->valid || t->generation != FunnelCacheGeneration()))
		TrackBuild(t, deals, trigger);
	return t;
}
