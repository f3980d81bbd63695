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
 * StageHoldingTypes below is the one list of funnel's types whose values
 * hold stage or pipeline OIDs; funnel_internal.stage_holding_types() hands it to the
 * SQL (funnel_internal.pipeline_value_types() builds every type over them), so
 * drop_pipeline's checks, the statistics clean-up and the DDL lock all use
 * it.
 *
 * The lock (doc/design.md §8): drop_pipeline() reads the catalogs, so a
 * table or column created by a transaction that has not committed yet is
 * invisible to it.  Every command that can create a column (CREATE TABLE,
 * ALTER TABLE, CREATE TYPE ...) takes, at ddl_command_start, a SHARE lock
 * that drop_pipeline() needs in EXCLUSIVE mode: drop_pipeline() refuses
 * while such a transaction is open, and such a command waits while
 * drop_pipeline() runs, then sees the pipeline gone.
 *
 * src/pipeline/pipeline_uses.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "commands/event_trigger.h"
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
#include "storage/lmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "funnel.h"
#include "funnel_summary.h"
#include "journey.h"

/*
 * funnel's types whose values hold stage (or pipeline) OIDs: the one list.
 * A new such type goes here, with its case in PipelineOfValue.
 */
typedef enum StageHoldingType
{
	HOLDS_DEAL_STAGE,
	HOLDS_SUMMARY,
	HOLDS_JOURNEY,
	NUM_STAGE_HOLDING_TYPES
} StageHoldingType;

static const char *const StageHoldingTypes[NUM_STAGE_HOLDING_TYPES] = {
	"deal_stage",				/* pipeline OID in the high 32 bits */
	"funnel_summary",			/* pipeline OID in the header */
	"journey",					/* deal_stage values */
};

/* The OIDs of the types whose values carry a pipeline OID */
typedef struct PipelineTypes
{
	Oid			pipeline;		/* the pipeline looked for */
	Oid			types[NUM_STAGE_HOLDING_TYPES];
} PipelineTypes;

static bool DatumHoldsPipeline(Datum value, Oid type, PipelineTypes *types);

/* The OID of one of funnel's types */
static Oid
FunnelTypeOid(const char *name)
{
	Oid			nsp = get_namespace_oid(FUNNEL_SCHEMA, false);

	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum(name), ObjectIdGetDatum(nsp));
}

/* Look up funnel's types */
static void
InitTypes(PipelineTypes *types, Oid pipeline)
{
	int			i;

	types->pipeline = pipeline;
	for (i = 0; i < NUM_STAGE_HOLDING_TYPES; i++)
		types->types[i] = FunnelTypeOid(StageHoldingTypes[i]);
}

/* Which of the stage-holding types a type is, or -1 */
static int
StageHoldingIndex(Oid type, PipelineTypes *types)
{
	int			i;

	for (i = 0; i < NUM_STAGE_HOLDING_TYPES; i++)
		if (type == types->types[i])
			return i;
	return -1;
}

/* The pipeline OID of a value of one of the stage-holding types */
static Oid
PipelineOfValue(Datum value, StageHoldingType which)
{
	switch (which)
	{
		case HOLDS_DEAL_STAGE:
			return DealStagePipelineOid(DatumGetDealStage(value));
		case HOLDS_SUMMARY:
			return SummaryFromDatum(value)->pipeline;
		case HOLDS_JOURNEY:
			/* every stage of a journey is of one pipeline */
			return DealStagePipelineOid(((Journey *) DatumGetPointer(value))->current);
		case NUM_STAGE_HOLDING_TYPES:
			break;
	}
	elog(ERROR, "unknown stage-holding type %d", (int) which);
	return InvalidOid;
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
 * domains, arrays, composites, ranges and multiranges down to values of
 * the stage-holding types; other types hold none.
 */
static bool
DatumHoldsPipeline(Datum value, Oid type, PipelineTypes *types)
{
	char		typtype;

	int			which;

	check_stack_depth();
	which = StageHoldingIndex(type, types);
	if (which >= 0)
		return PipelineOfValue(value, (StageHoldingType) which) == types->pipeline;
	if (type == ANYARRAYOID)
		return ArrayHoldsPipeline(DatumGetArrayTypeP(value), types);

	type = getBaseType(type);
	if (StageHoldingIndex(type, types) >= 0)
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
 * funnel_internal.value_holds_pipeline(value "any", pipeline oid): does a value of
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
 * funnel_internal.expr_holds_pipeline(expr pg_node_tree, pipeline oid): does a
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

/*
 * funnel_internal.stage_holding_types() RETURNS oid[]: the types whose values hold
 * stage OIDs (StageHoldingTypes), for funnel_internal.pipeline_value_types().
 */
PG_FUNCTION_INFO_V1(funnel_stage_holding_types);
Datum
funnel_stage_holding_types(PG_FUNCTION_ARGS)
{
	Datum		oids[NUM_STAGE_HOLDING_TYPES];
	int			i;

	for (i = 0; i < NUM_STAGE_HOLDING_TYPES; i++)
		oids[i] = ObjectIdGetDatum(FunnelTypeOid(StageHoldingTypes[i]));
	PG_RETURN_ARRAYTYPE_P(construct_array(oids, NUM_STAGE_HOLDING_TYPES,
										  OIDOID, sizeof(Oid), true,
										  TYPALIGN_INT));
}

/*
 * The lock that orders drop_pipeline() and the creation of columns: an
 * object lock on funnel.deal_stage with sub-ID 1, a tag no PostgreSQL
 * command uses (they lock types with sub-ID 0), so it conflicts with
 * nothing else.
 */
#define STAGE_COLUMNS_LOCK_SUBID 1

/*
 * funnel_internal.stage_columns_ddl_start(): event trigger at ddl_command_start of
 * every command that can create a column holding stages.  The SHARE lock is
 * held until the transaction ends: drop_pipeline() cannot miss the columns
 * it creates (nor their rows) while they are invisible to it.  A command
 * that had to wait for a drop_pipeline() that then committed fails (40001).
 */
PG_FUNCTION_INFO_V1(funnel_stage_columns_ddl_start);
Datum
funnel_stage_columns_ddl_start(PG_FUNCTION_ARGS)
{
	Oid			stage_type;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.stage_columns_ddl_start() must be called as an event trigger")));
	stage_type = FunnelTypeOid("deal_stage");
	if (!OidIsValid(stage_type))
		PG_RETURN_VOID();
	if (!ConditionalLockDatabaseObject(TypeRelationId, stage_type,
									   STAGE_COLUMNS_LOCK_SUBID, ShareLock))
	{
		int			n = FunnelPipelineCount();
		Oid		   *before = palloc(Max(n, 1) * sizeof(Oid));
		int			i;

		/*
		 * drop_pipeline() runs.  The command was parsed already, so it may
		 * hold values of the pipeline being dropped (CREATE TABLE AS
		 * SELECT 'p:lead'): if the drop commits, refuse the command.
		 */
		for (i = 0; i < n; i++)
			before[i] = FunnelPipelineByIndex(i)->typoid;
		LockDatabaseObject(TypeRelationId, stage_type,
						   STAGE_COLUMNS_LOCK_SUBID, ShareLock);
		for (i = 0; i < n; i++)
			if (FunnelLookupPipeline(before[i]) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not run the command: a pipeline was dropped while it waited"),
						 errdetail("The command may hold stages of the dropped pipeline (type OID %u).",
								   before[i]),
						 errhint("Retry the transaction.")));
	}
	PG_RETURN_VOID();
}

/*
 * funnel_internal.drop_pipeline_lock(pipeline text): the first step of
 * drop_pipeline().  Refuses at REPEATABLE READ and SERIALIZABLE, whose one
 * snapshot would not see a column committed after it was taken, and while
 * a transaction that may have created a column holding stages is open
 * (55P03: waiting would stall every CREATE TABLE queued behind it).
 */
PG_FUNCTION_INFO_V1(funnel_drop_pipeline_lock);
Datum
funnel_drop_pipeline_lock(PG_FUNCTION_ARGS)
{
	const char *pipeline = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot drop pipeline \"%s\" at isolation level %s",
						pipeline, IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("drop_pipeline() must see the tables that transactions committed while it runs, which a transaction snapshot hides."),
				 errhint("Run it in a READ COMMITTED transaction.")));
	if (!ConditionalLockDatabaseObject(TypeRelationId, FunnelTypeOid("deal_stage"),
									   STAGE_COLUMNS_LOCK_SUBID, ExclusiveLock))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("cannot drop pipeline \"%s\" while another transaction may be creating columns that hold stages",
						pipeline),
				 errdetail("A transaction that ran CREATE TABLE, ALTER TABLE, CREATE TYPE or a similar command has not ended yet; its new columns are invisible here."),
				 errhint("Retry when that transaction has ended.")));
	PG_RETURN_VOID();
}
