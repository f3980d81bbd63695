/*-------------------------------------------------------------------------
 *
 * track_cache_rules.c
 *	  The allow-lists (funnel.allowed_transition) and required fields
 *	  (funnel.required_field) of a tracked table's pipelines, read into its
 *	  tracked-table cache entry (track_cache.c) as stage OIDs and column
 *	  numbers.
 *
 * Called by the entry's build only (the idiom of funnel_cache.h): memory
 * goes to the new entry's context, and the rows of pipelines the table does
 * not use, or of stages those pipelines do not have, are skipped.
 *
 * src/track/track_cache_rules.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "funnel_cache.h"
#include "track.h"

/*
 * The columns of the configuration tables read here, found by name once
 * per build (funnel_cache.h).
 */
enum
{
	AT_PIPELINE,
	AT_FROM_STAGE,
	AT_TO_STAGE,
	AT_NCOLUMNS
};
static const char *const allowed_transition_columns[AT_NCOLUMNS] = {
	"pipeline", "from_stage", "to_stage"
};

enum
{
	RF_PIPELINE,
	RF_STAGE,
	RF_FIELDS,
	RF_NCOLUMNS
};
static const char *const required_field_columns[RF_NCOLUMNS] = {
	"pipeline", "stage", "fields"
};

/* The stage of a pipeline by name, or NULL (rows of other pipelines) */
static Oid
StageLabel(FunnelPipeline *pipeline, const char *name)
{
	FunnelStage *stage = FunnelLookupStageByName(pipeline, name);

	return stage ? stage->label : InvalidOid;
}

/* The pipeline of that name among the table's, or NULL */
static FunnelPipeline *
PipelineNamed(FunnelPipeline **pipelines, int npipelines, const char *name)
{
	int			i;

	for (i = 0; i < npipelines; i++)
		if (strcmp(NameStr(pipelines[i]->name), name) == 0)
			return pipelines[i];
	return NULL;
}

/*
 * The target of an allow-list entry of pipeline: a stage of the pipeline by
 * name, or a qualified 'retail:lead' in another pipeline of the table (a
 * move between pipelines); InvalidOid for entries this table never uses.
 */
static Oid
TransitionTarget(FunnelPipeline **pipelines, int npipelines,
				 FunnelPipeline *pipeline, const char *name)
{
	const char *sep = strchr(name, FUNNEL_SEPARATOR);
	FunnelPipeline *target;

	if (sep == NULL)
		return StageLabel(pipeline, name);
	target = PipelineNamed(pipelines, npipelines, pnstrdup(name, sep - name));
	if (target == NULL)
		return InvalidOid;
	return StageLabel(target, sep + 1);
}

/* The allow-lists of the table's pipelines, as pairs of stage OIDs */
void
TrackLoadTransitions(TrackedTable *t, Oid relid, FunnelPipeline **pipelines,
					 int npipelines)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 8;
	Datum	   *values = palloc(tupdesc->natts * sizeof(Datum));
	bool	   *nulls = palloc(tupdesc->natts * sizeof(bool));
	int			col[AT_NCOLUMNS];

	TrackConfigColumns(rel, AT_NCOLUMNS, allowed_transition_columns, col);
	t->from_labels = MemoryContextAlloc(t->context, allocated * sizeof(Oid));
	t->from_pipelines = MemoryContextAlloc(t->context, allocated * sizeof(Oid));
	t->to_labels = MemoryContextAlloc(t->context, allocated * sizeof(Oid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Oid			from,
					to;
		char	   *from_name;
		FunnelPipeline *pipeline;

		heap_deform_tuple(tuple, tupdesc, values, nulls);
		if (nulls[col[AT_PIPELINE]] || nulls[col[AT_FROM_STAGE]] ||
			nulls[col[AT_TO_STAGE]])
			continue;
		pipeline = PipelineNamed(pipelines, npipelines,
								 TextDatumGetCString(values[col[AT_PIPELINE]]));
		if (pipeline == NULL)
			continue;
		from_name = TextDatumGetCString(values[col[AT_FROM_STAGE]]);
		/* '*': from any stage of the pipeline (cross-pipeline entries only) */
		from = strcmp(from_name, "*") == 0 ? InvalidOid :
			StageLabel(pipeline, from_name);
		to = TransitionTarget(pipelines, npipelines, pipeline,
							  TextDatumGetCString(values[col[AT_TO_STAGE]]));
		if ((!OidIsValid(from) && strcmp(from_name, "*") != 0) ||
			!OidIsValid(to))
			continue;
		if (t->ntransitions == allocated)
		{
			allocated *= 2;
			t->from_labels = repalloc(t->from_labels, allocated * sizeof(Oid));
			t->from_pipelines = repalloc(t->from_pipelines, allocated * sizeof(Oid));
			t->to_labels = repalloc(t->to_labels, allocated * sizeof(Oid));
		}
		t->from_labels[t->ntransitions] = from;
		t->from_pipelines[t->ntransitions] = pipeline->typoid;
		t->to_labels[t->ntransitions] = to;
		t->ntransitions++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* The required fields of the table's pipelines, as column numbers */
void
TrackLoadRequired(TrackedTable *t, Oid relid, FunnelPipeline **pipelines,
				  int npipelines, Relation deals)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 4;
	Datum	   *values = palloc(tupdesc->natts * sizeof(Datum));
	bool	   *nulls = palloc(tupdesc->natts * sizeof(bool));
	int			col[RF_NCOLUMNS];

	TrackConfigColumns(rel, RF_NCOLUMNS, required_field_columns, col);
	t->required = MemoryContextAllocZero(t->context, allocated * sizeof(TrackRequired));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Oid			label;
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems,
					i;
		TrackRequired *req;
		MemoryContext old;
		FunnelPipeline *pipeline;

		heap_deform_tuple(tuple, tupdesc, values, nulls);
		if (nulls[col[RF_PIPELINE]] || nulls[col[RF_STAGE]])
			continue;
		pipeline = PipelineNamed(pipelines, npipelines,
								 TextDatumGetCString(values[col[RF_PIPELINE]]));
		if (pipeline == NULL)
			continue;
		label = StageLabel(pipeline, TextDatumGetCString(values[col[RF_STAGE]]));
		if (!OidIsValid(label) || nulls[col[RF_FIELDS]])
			continue;
		deconstruct_array(DatumGetArrayTypeP(values[col[RF_FIELDS]]),
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
			req->attnums[req->nfields] = TrackDealsColumn(deals, req->names[req->nfields],
														  "required field", true);
			req->nfields++;
		}
		MemoryContextSwitchTo(old);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}
