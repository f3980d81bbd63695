/*-------------------------------------------------------------------------
 *
 * bare_names_resolve.c
 *	  Reading a bare stage name in its context, for bare_names.c's rewrite:
 *	  the pipeline the other side of a comparison fixes (a bound column, or
 *	  the stage column of a table tracked in one pipeline), a name read in
 *	  that pipeline or refused with its candidates, and the functions of
 *	  funnel_internal the rewritten queries call when they run.
 *
 * src/type/bare_names_resolve.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "bare_names.h"

/*
 * The pipeline a table tracked by an unbound stage column follows, as a
 * typmod, or -1 (not such a column, or its tracking names no one pipeline).
 */
int32
TrackedColumnTypmod(Oid relid, AttrNumber attnum)
{
	Relation	rel;
	Relation	config;
	Oid			config_relid;
	AttrNumber	deals_col = InvalidAttrNumber;
	AttrNumber	pipeline_col = InvalidAttrNumber;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	int32		typmod = -1;
	int			i;

	rel = table_open(relid, NoLock);
	i = DealStageResolvedColumn(rel);
	table_close(rel, NoLock);
	if (i != attnum)
		return -1;

	config_relid = get_relname_relid("tracked_table",
									 get_namespace_oid(FUNNEL_SCHEMA, false));
	if (!OidIsValid(config_relid))
		return -1;
	config = table_open(config_relid, AccessShareLock);
	for (i = 0; i < RelationGetDescr(config)->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(config), i);

		if (att->attisdropped)
			continue;
		if (strcmp(NameStr(att->attname), "deals") == 0)
			deals_col = att->attnum;
		else if (strcmp(NameStr(att->attname), "pipeline") == 0 &&
				 att->atttypid == TEXTOID)
			pipeline_col = att->attnum;
	}
	if (deals_col == InvalidAttrNumber || pipeline_col == InvalidAttrNumber)
	{
		table_close(config, AccessShareLock);
		return -1;
	}
	snapshot = RegisterSnapshot(GetCatalogSnapshot(config_relid));
	scan = table_beginscan(config, snapshot, 0, NULL);
	slot = table_slot_create(config, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, deals_col, &isnull);

		if (isnull || DatumGetObjectId(d) != relid)
			continue;
		d = slot_getattr(slot, pipeline_col, &isnull);
		if (!isnull)
		{
			FunnelPipeline *p = FunnelLookupPipelineByName(TextDatumGetCString(d));

			if (p != NULL)
				typmod = PipelineTypmod(p->typoid);
		}
		break;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(config, AccessShareLock);
	return typmod;
}

/*
 * The pipeline the stage side fixes, as a typmod, or -1: the side may hold
 * stages of several pipelines.
 */
int32
StageSideTypmod(Node *side, RewriteContext *cxt)
{
	int32		typmod;

	if (side != NULL && IsA(side, CaseTestExpr))
		side = cxt->case_arg;
	while (side != NULL && IsA(side, RelabelType))
		side = (Node *) ((RelabelType *) side)->arg;
	if (side == NULL || exprType(side) != cxt->stage_type)
		return -1;
	typmod = exprTypmod(side);
	if (typmod >= 0)
		return typmod;
	if (IsA(side, Var))
	{
		Var		   *var = (Var *) side;
		Query	   *q;
		RangeTblEntry *rte;

		if (var->varlevelsup >= (Index) list_length(cxt->queries) ||
			var->varattno <= 0)
			return -1;
		q = (Query *) list_nth(cxt->queries, var->varlevelsup);
		if (var->varno <= 0 || var->varno > (int) list_length(q->rtable))
			return -1;
		rte = rt_fetch(var->varno, q->rtable);
		if (rte->rtekind == RTE_RELATION)
			return TrackedColumnTypmod(rte->relid, var->varattno);
		if (rte->rtekind == RTE_JOIN &&
			var->varattno <= list_length(rte->joinaliasvars))
		{
			Node	   *alias = list_nth(rte->joinaliasvars, var->varattno - 1);

			if (alias != NULL && IsA(alias, Var) &&
				((Var *) alias)->varlevelsup == 0)
			{
				Var		   *inner = (Var *) copyObject(alias);

				inner->varlevelsup = var->varlevelsup;
				return StageSideTypmod((Node *) inner, cxt);
			}
		}
	}
	return -1;
}

/* The text a name reads: the literal's name, or the cast's argument */
Node *
NameText(Node *name, RewriteContext *cxt)
{
	if (IsUnresolved(name, cxt))
	{
		Const	   *c = (Const *) name;
		FunnelStage *stage = FunnelLookupStageByLabel(DealStageLabelOid(DatumGetDealStage(c->constvalue)));

		if (stage == NULL)
			DealStageReportAmbiguous(DatumGetDealStage(c->constvalue));
		return (Node *) makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
								  CStringGetTextDatum(NameStr(stage->name)),
								  false, false);
	}
	return (Node *) linitial(((FuncExpr *) name)->args);
}

/* Any stage expression as text: a name's text, a value's text form */
Node *
StageAsText(Node *node, RewriteContext *cxt)
{
	CoerceViaIO *io;

	if (IsName(node, cxt))
		return NameText(node, cxt);
	if (IsA(node, Const))
	{
		Const	   *c = (Const *) node;

		return (Node *) makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
								  c->constisnull ? (Datum) 0 :
								  CStringGetTextDatum(DealStageToText(DatumGetDealStage(c->constvalue))),
								  c->constisnull, false);
	}
	io = makeNode(CoerceViaIO);
	io->arg = (Expr *) node;
	io->resulttype = TEXTOID;
	io->resultcollid = DEFAULT_COLLATION_OID;
	io->coerceformat = COERCE_EXPLICIT_CAST;
	io->location = -1;
	return (Node *) io;
}

/* Read a name in one pipeline */
Node *
ResolveIn(Node *name, int32 typmod, RewriteContext *cxt)
{
	if (IsUnresolved(name, cxt))
	{
		Const	   *c = (Const *) copyObject(name);
		ParseCallbackState pcb;
		DealStage	resolved;

		setup_parser_errposition_callback(&pcb, cxt->pstate, c->location);
		resolved = DealStageResolveTypmod(DatumGetDealStage(c->constvalue), typmod);
		cancel_parser_errposition_callback(&pcb);
		c->constvalue = DealStageGetDatum(resolved);
		return (Node *) c;
	}
	if (IsTextCast(name, cxt))
	{
		FuncExpr   *f = (FuncExpr *) name;
		FunnelPipeline *pipeline;

		if (typmod == ORDER_TYPMOD)
			return (Node *) makeFuncExpr(cxt->ordered_fn, cxt->stage_type,
										 list_make1(linitial(f->args)),
										 InvalidOid, InvalidOid,
										 COERCE_EXPLICIT_CALL);

		/*
		 * The pipeline goes in as its enum type (regtype), which a view
		 * stores by OID, dumps by name and depends on, as a bound column's
		 * type modifier
		 */
		pipeline = FunnelLookupPipelineByTypmod(typmod);
		if (pipeline == NULL)
			return name;
		return (Node *) makeFuncExpr(cxt->in_pipeline_fn, cxt->stage_type,
									 list_make2(linitial(f->args),
												makeConst(REGTYPEOID, -1, InvalidOid,
														  sizeof(Oid),
														  ObjectIdGetDatum(pipeline->typoid),
														  false, true)),
									 InvalidOid, InvalidOid,
									 COERCE_EXPLICIT_CALL);
	}
	return name;
}

/* funnel_internal.stages_named(ARRAY[texts]) */
Node *
StagesNamed(List *texts, int location, RewriteContext *cxt)
{
	ArrayExpr  *array = makeNode(ArrayExpr);
	FuncExpr   *f;

	array->array_typeid = TEXTARRAYOID;
	array->array_collid = DEFAULT_COLLATION_OID;
	array->element_typeid = TEXTOID;
	array->elements = texts;
	array->multidims = false;
	array->location = -1;
	f = makeFuncExpr(cxt->named_fn, cxt->stage_array_type,
					 list_make1(array), InvalidOid, InvalidOid,
					 COERCE_EXPLICIT_CALL);
	f->location = location;
	return (Node *) f;
}

/*
 * An order comparison with a side of several pipelines: refuse a shared
 * bare literal now, and have a text value refused when it is read if it is
 * a shared bare name (ORDER_TYPMOD), both with the candidates.
 */
Node *
RefuseName(Node *name, RewriteContext *cxt)
{
	if (IsUnresolved(name, cxt))
	{
		Const	   *c = (Const *) name;
		ParseCallbackState pcb;
		FunnelStage *stage;

		stage = FunnelLookupStageByLabel(DealStageLabelOid(DatumGetDealStage(c->constvalue)));
		setup_parser_errposition_callback(&pcb, cxt->pstate, c->location);
		if (stage == NULL)
			DealStageReportAmbiguous(DatumGetDealStage(c->constvalue));
		FunnelReportAmbiguousNameFor(NameStr(stage->name), true);
	}
	if (IsTextCast(name, cxt))
		return ResolveIn(name, ORDER_TYPMOD, cxt);
	return name;
}

/* ---- the functions the rewritten queries call ---- */

/*
 * funnel_internal.stage_in_pipeline(name text, pipeline regtype): a bare
 * name in that pipeline; a qualified name as written (so that comparing a
 * bound column with another pipeline's stage is false, as for a literal).
 */
PG_FUNCTION_INFO_V1(funnel_stage_in_pipeline);
Datum
funnel_stage_in_pipeline(PG_FUNCTION_ARGS)
{
	char	   *str = DealStageTextArg(PG_GETARG_TEXT_PP(0));
	Oid			typoid = PG_GETARG_OID(1);

	if (strchr(str, FUNNEL_SEPARATOR) != NULL)
		PG_RETURN_DEAL_STAGE(DealStageFromText(str, -1, false));
	if (FunnelLookupPipeline(typoid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type %s is not a pipeline", format_type_be(typoid))));
	PG_RETURN_DEAL_STAGE(DealStageFromText(str, PipelineTypmod(typoid), false));
}

/*
 * funnel_internal.stage_ordered(name text): a stage compared in order with
 * a column that may hold several pipelines; a bare name several pipelines
 * share is refused with the candidates.
 */
PG_FUNCTION_INFO_V1(funnel_stage_ordered);
Datum
funnel_stage_ordered(PG_FUNCTION_ARGS)
{
	char	   *str = DealStageTextArg(PG_GETARG_TEXT_PP(0));
	int			n = 0;
	int			i;

	if (strchr(str, FUNNEL_SEPARATOR) == NULL)
	{
		for (i = 0; i < FunnelPipelineCount(); i++)
			if (FunnelLookupStageByName(FunnelPipelineByIndex(i), str) != NULL)
				n++;
		if (n > 1)
			FunnelReportAmbiguousNameFor(str, true);
	}
	PG_RETURN_DEAL_STAGE(DealStageFromText(str, -1, false));
}

/* The stages a text names: itself if qualified, else that name in any pipeline */
static int
StagesOfName(const char *str, Datum *out)
{
	int			n = 0;
	int			i;

	if (strchr(str, FUNNEL_SEPARATOR) == NULL)
	{
		for (i = 0; i < FunnelPipelineCount(); i++)
		{
			FunnelStage *stage = FunnelLookupStageByName(FunnelPipelineByIndex(i), str);

			if (stage != NULL && stage->usable)
				out[n++] = DealStageGetDatum(MakeDealStage(stage->pipeline->typoid,
														   stage->label));
		}
	}
	if (n == 0)					/* qualified, or no pipeline has it: the usual errors */
		out[n++] = DealStageGetDatum(DealStageFromText(str, -1, false));
	return n;
}

/*
 * funnel_internal.stages_named(names text[]): every stage the names mean,
 * each bare name in every pipeline that has it; NULL elements stay NULL.
 */
PG_FUNCTION_INFO_V1(funnel_stages_named);
Datum
funnel_stages_named(PG_FUNCTION_ARGS)
{
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(0);
	Oid			stage_type = get_fn_expr_rettype(fcinfo->flinfo);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	Datum	   *out;
	bool	   *outnulls;
	int			n = 0;
	int			i;
	int			dims[1];
	int			lbs[1] = {1};

	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	out = palloc(sizeof(Datum) * (nelems * Max(FunnelPipelineCount(), 1) + 1));
	outnulls = palloc0(sizeof(bool) * (nelems * Max(FunnelPipelineCount(), 1) + 1));
	for (i = 0; i < nelems; i++)
	{
		if (nulls[i])
			outnulls[n++] = true;
		else
			n += StagesOfName(DealStageTextArg(DatumGetTextPP(elems[i])), out + n);
	}
	stage_type = get_element_type(stage_type);
	dims[0] = n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, outnulls, 1, dims, lbs,
											 stage_type, sizeof(int64),
											 true, TYPALIGN_DOUBLE));
}

/*
 * funnel_internal.stage_distinct_named(stage, name text): stage IS DISTINCT
 * FROM name, where a bare name means that stage of any pipeline.
 */
PG_FUNCTION_INFO_V1(funnel_stage_distinct_named);
Datum
funnel_stage_distinct_named(PG_FUNCTION_ARGS)
{
	Datum	   *stages;
	int			n;
	int			i;
	DealStage	s;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(PG_ARGISNULL(0) != PG_ARGISNULL(1));
	s = PG_GETARG_DEAL_STAGE(0);
	stages = palloc(sizeof(Datum) * (FunnelPipelineCount() + 1));
	n = StagesOfName(DealStageTextArg(PG_GETARG_TEXT_PP(1)), stages);
	for (i = 0; i < n; i++)
		if (DatumGetDealStage(stages[i]) == s)
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

