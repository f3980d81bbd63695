/*-------------------------------------------------------------------------
 *
 * pipeline_uses.c
 *	  Find values of a pipeline wherever PostgreSQL stores them, for
 *	  funnel.drop_pipeline().
 *
 * Dropping a pipeline's enum type makes every stored value that refers to
 * it unreadable (SELECT, ANALYZE, pg_dump and index scans fail), so
 * drop_pipeline() refuses while any remains.  Values hide in more places
 * than deal_stage columns: arrays, domains, composite types and ranges over
 * deal_stage, funnel_summary states (which carry the pipeline OID), and the
 * constants of stored expressions (column defaults, constraints, views and
 * rules, index expressions, partition bounds, policies, trigger conditions,
 * SQL function bodies), plus the "missing value" of a column added with a
 * default and the statistics ANALYZE keeps.  The two functions here look
 * into a value of any type and into a stored expression tree; the SQL of
 * drop_pipeline() decides where to look.
 *
 * src/pipeline_uses.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_range.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/multirangetypes.h"
#include "utils/rangetypes.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "funnel.h"
#include "funnel_summary.h"

/* The OIDs of the types whose values carry a pipeline OID */
typedef struct PipelineTypes
{
	Oid			pipeline;		/* the pipeline looked for */
	Oid			stage_type;		/* funnel.deal_stage */
	Oid			summary_type;	/* funnel.funnel_summary */
} PipelineTypes;

static bool DatumHoldsPipeline(Datum value, Oid type, PipelineTypes *types);

/* Look up funnel's types */
static void
InitTypes(PipelineTypes *types, Oid pipeline)
{
	Oid			nsp = get_namespace_oid(FUNNEL_SCHEMA, false);

	types->pipeline = pipeline;
	types->stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum("deal_stage"),
										ObjectIdGetDatum(nsp));
	types->summary_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										  CStringGetDatum("funnel_summary"),
										  ObjectIdGetDatum(nsp));
}

/* Does an array hold a value of the pipeline? */
static bool
ArrayHoldsPipeline(ArrayType *array, PipelineTypes *types)
{
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i] && DatumHoldsPipeline(elems[i], elemtype, types))
			return true;
	return false;
}

/* Does a composite value hold a value of the pipeline? */
static bool
RecordHoldsPipeline(HeapTupleHeader rec, PipelineTypes *types)
{
	TupleDesc	tupdesc;
	HeapTupleData tuple;
	Datum	   *values;
	bool	   *nulls;
	bool		found = false;
	int			i;

	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec),
									 HeapTupleHeaderGetTypMod(rec));
	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	values = palloc(tupdesc->natts * sizeof(Datum));
	nulls = palloc(tupdesc->natts * sizeof(bool));
	heap_deform_tuple(&tuple, tupdesc, values, nulls);
	for (i = 0; i < tupdesc->natts && !found; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && !nulls[i])
			found = DatumHoldsPipeline(values[i], att->atttypid, types);
	}
	ReleaseTupleDesc(tupdesc);
	return found;
}

/* Does a range value hold a value of the pipeline? */
static bool
RangeHoldsPipeline(RangeType *range, PipelineTypes *types)
{
	TypeCacheEntry *typcache = lookup_type_cache(RangeTypeGetOid(range),
												 TYPECACHE_RANGE_INFO);
	RangeBound	lower;
	RangeBound	upper;
	bool		empty;
	Oid			subtype = typcache->rngelemtype->type_id;

	range_deserialize(typcache, range, &lower, &upper, &empty);
	if (empty)
		return false;
	return (!lower.infinite && DatumHoldsPipeline(lower.val, subtype, types)) ||
		(!upper.infinite && DatumHoldsPipeline(upper.val, subtype, types));
}

/* Does a multirange value hold a value of the pipeline? */
static bool
MultirangeHoldsPipeline(MultirangeType *mr, PipelineTypes *types)
{
	TypeCacheEntry *typcache = lookup_type_cache(MultirangeTypeGetOid(mr),
												 TYPECACHE_MULTIRANGE_INFO);
	int32		n;
	RangeType **ranges;
	int			i;

	multirange_deserialize(typcache->rngtype, mr, &n, &ranges);
	for (i = 0; i < n; i++)
		if (RangeHoldsPipeline(ranges[i], types))
			return true;
	return false;
}

/*
 * Does a (non-null) value of any type refer to the pipeline?  Follows
 * domains, arrays, composites, ranges and multiranges down to deal_stage
 * and funnel_summary values; other types hold none.
 */
static bool
DatumHoldsPipeline(Datum value, Oid type, PipelineTypes *types)
{
	char		typtype;

	check_stack_depth();
	if (type == types->stage_type)
		return DealStagePipelineOid(DatumGetDealStage(value)) == types->pipeline;
	if (type == types->summary_type)
		return SummaryFromDatum(value)->pipeline == types->pipeline;
	if (type == ANYARRAYOID)
		return ArrayHoldsPipeline(DatumGetArrayTypeP(value), types);

	type = getBaseType(type);
	if (type == types->stage_type || type == types->summary_type)
		return DatumHoldsPipeline(value, type, types);
	if (OidIsValid(get_element_type(type)))
		return ArrayHoldsPipeline(DatumGetArrayTypeP(value), types);
	typtype = get_typtype(type);
	if (typtype == TYPTYPE_COMPOSITE || type == RECORDOID)
		return RecordHoldsPipeline(DatumGetHeapTupleHeader(value), types);
	if (typtype == TYPTYPE_RANGE)
		return RangeHoldsPipeline(DatumGetRangeTypeP(value), types);
	if (typtype == TYPTYPE_MULTIRANGE)
		return MultirangeHoldsPipeline(DatumGetMultirangeTypeP(value), types);
	return false;
}

/*
 * funnel._value_holds_pipeline(value "any", pipeline oid): does a value of
 * any type (anyarray included) refer to the pipeline?
 */
PG_FUNCTION_INFO_V1(funnel_value_holds_pipeline);
Datum
funnel_value_holds_pipeline(PG_FUNCTION_ARGS)
{
	PipelineTypes types;
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	if (!OidIsValid(type))
		elog(ERROR, "could not determine the type of the value");
	InitTypes(&types, PG_GETARG_OID(1));
	PG_RETURN_BOOL(DatumHoldsPipeline(PG_GETARG_DATUM(0), type, &types));
}

/* Walker: a Const of the expression tree that refers to the pipeline */
static bool
ConstWalker(Node *node, PipelineTypes *types)
{
	if (node == NULL)
		return false;
	if (IsA(node, Const))
	{
		Const	   *c = (Const *) node;

		return !c->constisnull && DatumHoldsPipeline(c->constvalue,
													 c->consttype, types);
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, ConstWalker, (void *) types, 0);
	if (IsA(node, PartitionBoundSpec))
	{
		PartitionBoundSpec *spec = (PartitionBoundSpec *) node;

		return ConstWalker((Node *) spec->listdatums, types) ||
			ConstWalker((Node *) spec->lowerdatums, types) ||
			ConstWalker((Node *) spec->upperdatums, types);
	}
	if (IsA(node, PartitionRangeDatum))
		return ConstWalker(((PartitionRangeDatum *) node)->value, types);
	return expression_tree_walker(node, ConstWalker, (void *) types);
}

/*
 * funnel._expr_holds_pipeline(expr pg_node_tree, pipeline oid): does a
 * stored expression (or list of queries) hold a constant of the pipeline?
 */
PG_FUNCTION_INFO_V1(funnel_expr_holds_pipeline);
Datum
funnel_expr_holds_pipeline(PG_FUNCTION_ARGS)
{
	PipelineTypes types;
	Node	   *tree;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	InitTypes(&types, PG_GETARG_OID(1));
	tree = stringToNode(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_BOOL(ConstWalker(tree, &types));
}
