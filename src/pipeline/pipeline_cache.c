/*-------------------------------------------------------------------------
 *
 * pipeline_cache.c
 *	  Backend-local cache of every pipeline and its stages.
 *
 * The cache is built from three sources: the enum types in schema
 * funnel_pipeline (one per pipeline), their pg_enum rows (stage names, order
 * and OIDs), and the extension's table funnel.pipeline_stage (probability,
 * kind, stale_after, retired).  It is rebuilt lazily, on the first lookup
 * after a syscache invalidation of pg_enum, pg_type or pg_namespace, or a
 * relcache invalidation of funnel.pipeline_stage (which a statement trigger
 * on that table sends on every write).  While nothing changes, no lookup
 * touches a catalog.
 *
 * The cache follows the idiom of funnel_cache.h: it is marked valid only
 * once a build is complete, and the previous generation's memory is kept
 * until the next rebuild, so a pointer handed out just before an
 * invalidation stays readable for the rest of the call that obtained it.
 * It also owns the errors of stage resolution that need the list of
 * pipelines (the ambiguity error), which the type's I/O calls.
 *
 * src/pipeline/pipeline_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "funnel.h"
#include "funnel_cache.h"

/* The columns of funnel.pipeline_stage the cache reads, found by name */
enum
{
	PS_PIPELINE,
	PS_STAGE,
	PS_PROBABILITY,
	PS_KIND,
	PS_STALE_AFTER,
	PS_RETIRED,
	PS_NCOLUMNS
};
static const char *const pipeline_stage_columns[PS_NCOLUMNS] = {
	"pipeline", "stage", "probability", "kind", "stale_after", "retired"
};

typedef struct LabelIndexEntry
{
	Oid			label;
	FunnelStage *stage;
} LabelIndexEntry;

typedef struct FunnelCache
{
	MemoryContext context;
	int			npipelines;
	FunnelPipeline *pipelines;	/* sorted by typoid */
	int			nlabels;
	LabelIndexEntry *labels;	/* sorted by label OID */
} FunnelCache;

static FunnelCache *funnel_cache = NULL;
static MemoryContext previous_generation = NULL;
static FunnelCacheState funnel_cache_state = FUNNEL_CACHE_STALE;
static uint64 funnel_cache_generation = 0;
static Oid	metadata_relid = InvalidOid;

/* Invalidate on any change of pg_enum, pg_type or pg_namespace */
static void
FunnelSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	FunnelCacheInvalidate(&funnel_cache_state);
}

/* Invalidate when funnel.pipeline_stage changes (or on a full reset) */
static void
FunnelRelcacheCallback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == metadata_relid)
		FunnelCacheInvalidate(&funnel_cache_state);
}

/* Called once from _PG_init */
void
FunnelCacheRegisterCallbacks(void)
{
	CacheRegisterSyscacheCallback(ENUMOID, FunnelSyscacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, FunnelSyscacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, FunnelSyscacheCallback, (Datum) 0);
	CacheRegisterRelcacheCallback(FunnelRelcacheCallback, (Datum) 0);
}

/* True if this catalog tuple was inserted (not updated) by our transaction */
static bool
TupleInsertedByThisTransaction(HeapTuple tuple)
{
	HeapTupleHeader header = tuple->t_data;

	if (HeapTupleHeaderXminCommitted(header))
		return false;
	if ((header->t_infomask & HEAP_UPDATED) != 0)
		return false;
	return TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(header));
}

static int
PipelineOidCmp(const void *a, const void *b)
{
	Oid			x = ((const FunnelPipeline *) a)->typoid;
	Oid			y = ((const FunnelPipeline *) b)->typoid;

	return (x > y) - (x < y);
}

static int
LabelIndexCmp(const void *a, const void *b)
{
	Oid			x = ((const LabelIndexEntry *) a)->label;
	Oid			y = ((const LabelIndexEntry *) b)->label;

	return (x > y) - (x < y);
}

/* Read the stages of one pipeline from pg_enum, in sort order */
static void
LoadStages(FunnelPipeline *pipeline, Relation rel, Snapshot snapshot)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 8;

	pipeline->stages = palloc0(allocated * sizeof(FunnelStage));
	pipeline->nstages = 0;

	ScanKeyInit(&key, Anum_pg_enum_enumtypid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(pipeline->typoid));
	scan = systable_beginscan(rel, EnumTypIdSortOrderIndexId, true,
							  snapshot, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_enum en = (Form_pg_enum) GETSTRUCT(tuple);
		FunnelStage *stage;

		if (pipeline->nstages == allocated)
		{
			allocated *= 2;
			pipeline->stages = repalloc(pipeline->stages,
										allocated * sizeof(FunnelStage));
		}
		stage = &pipeline->stages[pipeline->nstages++];
		memset(stage, 0, sizeof(FunnelStage));
		stage->label = en->oid;
		stage->sortorder = en->enumsortorder;
		stage->position = pipeline->nstages;
		namestrcpy(&stage->name, NameStr(en->enumlabel));
		stage->kind = STAGE_OPEN;
		stage->probability = 0.0;
		stage->pipeline = pipeline;

		/*
		 * Like PostgreSQL's enums, a stage added to an existing pipeline by
		 * this (uncommitted) transaction must not reach an index: if the
		 * transaction aborts, its OID would be left in index pages with no
		 * sort position.  Stages of a pipeline created by this transaction
		 * are safe when their OID is even (then OID order is sort order).
		 */
		stage->usable = !TupleInsertedByThisTransaction(tuple) ||
			(pipeline->created_here && (en->oid & 1) == 0);
	}
	systable_endscan(scan);
}

/* Read every enum type of schema funnel_pipeline */
static void
LoadPipelines(FunnelCache *cache, Oid nspoid, Relation typrel,
			  Relation enumrel, Snapshot snapshot)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 8;
	int			i;

	cache->pipelines = palloc0(allocated * sizeof(FunnelPipeline));

	ScanKeyInit(&key, Anum_pg_type_typnamespace, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(nspoid));
	scan = systable_beginscan(typrel, InvalidOid, false, snapshot, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_type typ = (Form_pg_type) GETSTRUCT(tuple);

		if (typ->typtype != TYPTYPE_ENUM)
			continue;
		if (cache->npipelines == allocated)
		{
			allocated *= 2;
			cache->pipelines = repalloc(cache->pipelines,
										allocated * sizeof(FunnelPipeline));
		}
		cache->pipelines[cache->npipelines].typoid = typ->oid;
		namestrcpy(&cache->pipelines[cache->npipelines].name,
				   NameStr(typ->typname));
		cache->pipelines[cache->npipelines].created_here =
			TupleInsertedByThisTransaction(tuple);
		cache->npipelines++;
	}
	systable_endscan(scan);

	/* sort first: stages point back at their pipeline */
	qsort(cache->pipelines, cache->npipelines, sizeof(FunnelPipeline),
		  PipelineOidCmp);
	for (i = 0; i < cache->npipelines; i++)
		LoadStages(&cache->pipelines[i], enumrel, snapshot);
}

/* Find a stage by pipeline and stage name while loading metadata */
static FunnelStage *
FindStageForMetadata(FunnelCache *cache, const char *pipeline,
					 const char *stage)
{
	int			i,
				j;

	for (i = 0; i < cache->npipelines; i++)
	{
		FunnelPipeline *p = &cache->pipelines[i];

		if (strcmp(NameStr(p->name), pipeline) != 0)
			continue;
		for (j = 0; j < p->nstages; j++)
			if (strcmp(NameStr(p->stages[j].name), stage) == 0)
				return &p->stages[j];
	}
	return NULL;
}

/*
 * Column numbers of named columns of one of funnel's tables (see
 * funnel_cache.h): never by position, which differs between a fresh
 * install and one upgraded by a script that added a column.
 */
void
FunnelColumnNumbers(Relation rel, int ncolumns, const char *const *names,
					AttrNumber *attnums)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i,
				j;

	for (i = 0; i < ncolumns; i++)
	{
		attnums[i] = InvalidAttrNumber;
		for (j = 0; j < tupdesc->natts; j++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, j);

			if (!att->attisdropped &&
				strcmp(NameStr(att->attname), names[i]) == 0)
			{
				attnums[i] = att->attnum;
				break;
			}
		}
		if (attnums[i] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of funnel table \"%s.%s\" does not exist",
							names[i],
							get_namespace_name(RelationGetNamespace(rel)),
							RelationGetRelationName(rel)),
					 errdetail("The funnel library expects it; the extension's tables do not match its library."),
					 errhint("Update the funnel extension with ALTER EXTENSION funnel UPDATE.")));
	}
}

static StageKind
StageKindFromText(const char *kind)
{
	if (strcmp(kind, "won") == 0)
		return STAGE_WON;
	if (strcmp(kind, "lost") == 0)
		return STAGE_LOST;
	return STAGE_OPEN;
}

/* Read probability, kind, stale_after and retired from funnel.pipeline_stage */
static void
LoadMetadata(FunnelCache *cache, Relation rel, Snapshot snapshot)
{
	SysScanDesc scan;
	HeapTuple	tuple;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Datum	   *values = palloc(tupdesc->natts * sizeof(Datum));
	bool	   *nulls = palloc(tupdesc->natts * sizeof(bool));
	AttrNumber	col[PS_NCOLUMNS];
	int			i;

	FunnelColumnNumbers(rel, PS_NCOLUMNS, pipeline_stage_columns, col);
	for (i = 0; i < PS_NCOLUMNS; i++)
		col[i]--;				/* indexes into values and nulls */

	scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		FunnelStage *stage;
		char	   *pipeline_name;
		char	   *stage_name;

		heap_deform_tuple(tuple, tupdesc, values, nulls);
		if (nulls[col[PS_PIPELINE]] ||
			nulls[col[PS_STAGE]])
			continue;
		pipeline_name = TextDatumGetCString(values[col[PS_PIPELINE]]);
		stage_name = TextDatumGetCString(values[col[PS_STAGE]]);
		stage = FindStageForMetadata(cache, pipeline_name, stage_name);
		if (stage == NULL)
			continue;
		stage->configured = true;
		if (!nulls[col[PS_PROBABILITY]])
			stage->probability = DatumGetFloat8(values[col[PS_PROBABILITY]]);
		if (!nulls[col[PS_KIND]])
			stage->kind = StageKindFromText(TextDatumGetCString(values[col[PS_KIND]]));
		if (!nulls[col[PS_STALE_AFTER]])
		{
			stage->has_stale_after = true;
			stage->stale_after = *DatumGetIntervalP(values[col[PS_STALE_AFTER]]);
		}
		if (!nulls[col[PS_RETIRED]])
			stage->retired = DatumGetBool(values[col[PS_RETIRED]]);
	}
	systable_endscan(scan);
	pfree(values);
	pfree(nulls);
}

/* Build the label index and count the leading open stages of each pipeline */
static void
IndexLabels(FunnelCache *cache)
{
	int			i,
				j,
				n = 0;

	for (i = 0; i < cache->npipelines; i++)
		n += cache->pipelines[i].nstages;
	cache->labels = palloc(Max(n, 1) * sizeof(LabelIndexEntry));
	for (i = 0; i < cache->npipelines; i++)
	{
		FunnelPipeline *p = &cache->pipelines[i];

		p->nopen = 0;
		p->configured = true;
		for (j = 0; j < p->nstages; j++)
		{
			p->configured &= p->stages[j].configured;
			cache->labels[cache->nlabels].label = p->stages[j].label;
			cache->labels[cache->nlabels].stage = &p->stages[j];
			cache->nlabels++;
			if (p->stages[j].kind == STAGE_OPEN && p->nopen == j)
				p->nopen++;
		}
	}
	qsort(cache->labels, cache->nlabels, sizeof(LabelIndexEntry), LabelIndexCmp);
}

/*
 * Rebuild the cache from the catalogs.
 *
 * pg_type, pg_enum and funnel.pipeline_stage are read with one MVCC snapshot
 * taken after all three are locked (locking processes pending
 * invalidations).  The API functions change an enum type and its rows in
 * pipeline_stage in one transaction, so the snapshot sees both or neither:
 * a stage is never seen without its attributes, nor under its old name in
 * pg_enum and its new name in pipeline_stage.  (Scanning each table with its
 * own catalog snapshot did exactly that while other sessions committed
 * pipeline changes: pipeline_stage has no syscache, so its scan always took
 * a newer snapshot than the pg_enum scan.)
 */
static void
FunnelCacheBuild(void)
{
	MemoryContext context;
	MemoryContext oldcontext;
	FunnelCache *cache;
	Oid			nspoid;
	Oid			funnel_nspoid;
	Relation	typrel;
	Relation	enumrel;
	Relation	metarel = NULL;
	Snapshot	snapshot;

	/*
	 * Mark the build started before taking any lock: an invalidation
	 * arriving from here on, and an error or cancel before the end, leave
	 * the cache stale (funnel_cache.h).
	 */
	FunnelCacheBuildStarted(&funnel_cache_state);

	/* Build under the caller's context, so an error frees everything */
	context = AllocSetContextCreate(CurrentMemoryContext,
									"funnel pipeline cache",
									ALLOCSET_SMALL_SIZES);
	oldcontext = MemoryContextSwitchTo(context);
	cache = palloc0(sizeof(FunnelCache));
	cache->context = context;

	typrel = table_open(TypeRelationId, AccessShareLock);
	enumrel = table_open(EnumRelationId, AccessShareLock);
	funnel_nspoid = get_namespace_oid(FUNNEL_SCHEMA, true);
	metadata_relid = OidIsValid(funnel_nspoid) ?
		get_relname_relid("pipeline_stage", funnel_nspoid) : InvalidOid;
	if (OidIsValid(metadata_relid))
		metarel = table_open(metadata_relid, AccessShareLock);
	nspoid = get_namespace_oid(FUNNEL_PIPELINE_SCHEMA, true);

	InvalidateCatalogSnapshot();
	snapshot = RegisterSnapshot(GetCatalogSnapshot(EnumRelationId));
	if (OidIsValid(nspoid))
		LoadPipelines(cache, nspoid, typrel, enumrel, snapshot);
	if (metarel != NULL)
		LoadMetadata(cache, metarel, snapshot);
	UnregisterSnapshot(snapshot);

	if (metarel != NULL)
		table_close(metarel, AccessShareLock);
	table_close(enumrel, AccessShareLock);
	table_close(typrel, AccessShareLock);

	IndexLabels(cache);
	MemoryContextSwitchTo(oldcontext);

	MemoryContextSetParent(context, CacheMemoryContext);
	if (previous_generation != NULL)
		MemoryContextDelete(previous_generation);
	previous_generation = funnel_cache ? funnel_cache->context : NULL;
	funnel_cache = cache;
	funnel_cache_generation++;

	/* complete and installed: valid unless invalidated meanwhile */
	FunnelCacheBuilt(&funnel_cache_state);
}

static inline FunnelCache *
FunnelCacheGet(void)
{
	if (unlikely(!FunnelCacheIsValid(funnel_cache_state)))
		FunnelCacheBuild();
	return funnel_cache;
}

/* A counter that changes whenever the cache is rebuilt */
uint64
FunnelCacheGeneration(void)
{
	(void) FunnelCacheGet();
	return funnel_cache_generation;
}

/* Number of pipelines */
int
FunnelPipelineCount(void)
{
	return FunnelCacheGet()->npipelines;
}

/* The i-th pipeline in pipeline order (0-based) */
FunnelPipeline *
FunnelPipelineByIndex(int i)
{
	FunnelCache *cache = FunnelCacheGet();

	Assert(i >= 0 && i < cache->npipelines);
	return &cache->pipelines[i];
}

/* Pipeline by its enum type OID, or NULL */
FunnelPipeline *
FunnelLookupPipeline(Oid typoid)
{
	FunnelCache *cache = FunnelCacheGet();
	FunnelPipeline key;

	key.typoid = typoid;
	return bsearch(&key, cache->pipelines, cache->npipelines,
				   sizeof(FunnelPipeline), PipelineOidCmp);
}

/* Pipeline by name, or NULL */
FunnelPipeline *
FunnelLookupPipelineByName(const char *name)
{
	FunnelCache *cache = FunnelCacheGet();
	int			i;

	for (i = 0; i < cache->npipelines; i++)
		if (strcmp(NameStr(cache->pipelines[i].name), name) == 0)
			return &cache->pipelines[i];
	return NULL;
}

/* Pipeline bound by a deal_stage type modifier, or NULL */
FunnelPipeline *
FunnelLookupPipelineByTypmod(int32 typmod)
{
	FunnelCache *cache = FunnelCacheGet();
	int			i;

	for (i = 0; i < cache->npipelines; i++)
		if (PipelineTypmod(cache->pipelines[i].typoid) == typmod)
			return &cache->pipelines[i];
	return NULL;
}

/* Stage by its pg_enum OID, or NULL */
FunnelStage *
FunnelLookupStageByLabel(Oid label)
{
	FunnelCache *cache = FunnelCacheGet();
	LabelIndexEntry key;
	LabelIndexEntry *found;

	key.label = label;
	found = bsearch(&key, cache->labels, cache->nlabels,
					sizeof(LabelIndexEntry), LabelIndexCmp);
	return found ? found->stage : NULL;
}

/* Stage of a pipeline by name, or NULL */
FunnelStage *
FunnelLookupStageByName(FunnelPipeline *pipeline, const char *name)
{
	int			i;

	for (i = 0; i < pipeline->nstages; i++)
		if (strcmp(NameStr(pipeline->stages[i].name), name) == 0)
			return &pipeline->stages[i];
	return NULL;
}

/* Raise the ambiguity error for a bare stage name several pipelines have */
void
FunnelReportAmbiguousName(const char *name)
{
	FunnelReportAmbiguousNameFor(name, false);
}

/*
 * The same, for an order comparison (<, BETWEEN ...) with a column whose
 * stages may belong to several pipelines (bare_names.c): order needs one.
 */
void
FunnelReportAmbiguousNameFor(const char *name, bool order)
{
	StringInfoData candidates;
	const char *example = NULL;
	int			n = 0;
	int			total = 0;
	int			i;

	for (i = 0; i < FunnelPipelineCount(); i++)
		if (FunnelLookupStageByName(FunnelPipelineByIndex(i), name) != NULL)
			total++;
	initStringInfo(&candidates);
	for (i = 0; i < FunnelPipelineCount(); i++)
	{
		FunnelPipeline *p = FunnelPipelineByIndex(i);

		if (FunnelLookupStageByName(p, name) == NULL)
			continue;
		if (example == NULL)
			example = NameStr(p->name);
		n++;
		appendStringInfo(&candidates, "%s'%s%c%s'",
						 n == 1 ? "" : (n == total ? " or " : ", "),
						 NameStr(p->name), FUNNEL_SEPARATOR, name);
	}
	if (example == NULL)
		example = "b2b";
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("stage name \"%s\" is ambiguous", name),
			 errdetail("It could be %s.", candidates.data),
			 order ?
			 errhint("Qualify it, as in '%s%c%s': stages are ordered within one pipeline, and the column compared may hold stages of several.",
					 example, FUNNEL_SEPARATOR, name) :
			 errhint("Qualify it, as in '%s%c%s'.",
					 example, FUNNEL_SEPARATOR, name)));
}

/* Raise the ambiguity error for an unresolved value */
void
DealStageReportAmbiguous(DealStage s)
{
	FunnelStage *candidate = FunnelLookupStageByLabel(DealStageLabelOid(s));

	if (candidate == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("stage name is ambiguous"),
				 errdetail("The value names a stage without its pipeline, and the stage (OID %u) no longer exists.",
						   DealStageLabelOid(s))));
	FunnelReportAmbiguousName(NameStr(candidate->name));
}

/*
 * The cached stage of a deal_stage value.  Raises the ambiguity error for an
 * unresolved value, and an error for a value whose stage no longer exists.
 */
FunnelStage *
FunnelGetStage(DealStage s)
{
	FunnelStage *stage;

	if (DealStageIsUnresolved(s))
		DealStageReportAmbiguous(s);
	stage = FunnelLookupStageByLabel(DealStageLabelOid(s));
	if (stage == NULL || stage->pipeline->typoid != DealStagePipelineOid(s))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("deal_stage value refers to a stage that does not exist"),
				 errdetail("Pipeline type OID %u, stage OID %u.",
						   DealStagePipelineOid(s), DealStageLabelOid(s)),
				 errhint("The pipeline or stage was dropped, or created by a transaction that rolled back.")));
	return stage;
}

/*
 * Refuse to use the kind, probability or retired flag of a pipeline whose
 * stages lack their attributes: the enum type exists but funnel.pipeline_stage
 * has no rows for it on this server (e.g. a Citus worker that received the
 * CREATE TYPE of create_pipeline() but not its rows, or a restore that has not
 * loaded funnel's configuration yet).  Guessing would give wrong results.
 */
void
FunnelCheckConfigured(FunnelPipeline *pipeline)
{
	int			i;

	if (pipeline->configured)
		return;
	for (i = 0; i < pipeline->nstages && pipeline->stages[i].configured; i++)
		;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("stage \"%s:%s\" has no attributes on this server",
					NameStr(pipeline->name), NameStr(pipeline->stages[i].name)),
			 errdetail("Its kind and probability are missing from funnel.pipeline_stage."),
			 errhint("Create pipelines with funnel.create_pipeline() on every server that stores their stages (on Citus, on every worker too), or finish restoring funnel's configuration tables.")));
}

/* FunnelGetStage, for callers that read kind, probability or retired */
FunnelStage *
FunnelGetConfiguredStage(DealStage s)
{
	FunnelStage *stage = FunnelGetStage(s);

	FunnelCheckConfigured(stage->pipeline);
	return stage;
}

/* "lead, qualified, ..." for messages */
char *
FunnelStageList(FunnelPipeline *pipeline)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < pipeline->nstages; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 NameStr(pipeline->stages[i].name));
	return buf.data;
}
