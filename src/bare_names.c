/*-------------------------------------------------------------------------
 *
 * bare_names.c
 *	  A bare stage name ('won') resolves wherever the query fixes what it is
 *	  compared with: comparisons, IN / = ANY, BETWEEN, CASE, IS DISTINCT
 *	  FROM and funnel functions' arguments beside a stage column, whether the
 *	  name is an SQL literal, a text or varchar value (parameter, PL/pgSQL
 *	  variable, text column) or an untyped parameter of the extended protocol.
 *
 * After parse analysis (unresolved.c's hook calls FunnelRewriteBareNames)
 * each such comparison is rewritten according to its other side, the
 * "stage side":
 *
 *	- a column bound to one pipeline (funnel.deal_stage(b2b), or any
 *	  expression of that typmod), or the stage column of a table tracked in
 *	  one pipeline by an unbound column: the name is read in that pipeline.
 *	  A literal becomes the resolved constant; a text value is read by
 *	  funnel_internal.stage_in_pipeline(text, typmod).
 *	- anything else (an unbound column, which may hold several pipelines):
 *	  = and IN mean the stage of that name in any pipeline, <> and NOT IN
 *	  the negation: "stage = 'won'" becomes
 *	  "stage = ANY (funnel_internal.stages_named('{won}'))", which reads the
 *	  pipelines when it runs (STABLE), so a cached plan stays right when
 *	  pipelines are added, and a btree index on the column is still used.
 *	  IS DISTINCT FROM becomes funnel_internal.stage_distinct_named(); a
 *	  simple CASE on such a column becomes a searched CASE.  An order
 *	  comparison (<, <=, >, >=, BETWEEN) needs one pipeline: a shared bare
 *	  literal is refused at once with the candidates, a shared text value
 *	  when it is read.
 *
 * The rewritten tree holds names as text, never an unresolved deal_stage
 * value, so views and rules store nothing that could not be read back.
 *
 * Untyped parameters: the protocol's Parse with parameter type 0 (node-
 * postgres, psycopg 3 in text mode, JDBC setObject with Types.OTHER) lets
 * the parser infer funnel.deal_stage for $1 in "stage = $1", and Bind would
 * then read the value with the type's input function, with no column in
 * sight.  In a parse with variable parameters such a parameter is retyped
 * to text in the statement's parameter-type array (so ParameterDescription
 * says text and Bind reads text) and every use of it is wrapped in the cast
 * from text, which the rules above then resolve in context.  A parameter
 * declared funnel.deal_stage (PREPARE q(funnel.deal_stage), or the type's
 * OID in Parse) is indistinguishable after parse analysis and is retyped
 * too; the client then sends the text form, as for any text parameter.
 *
 * A query with no bare name, no text-to-stage cast and no untyped stage
 * parameter is walked once, read-only, and left as it was.
 *
 * src/bare_names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_cast.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parse_node.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "funnel.h"

/*
 * ResolveIn() for an order comparison with a side of several pipelines:
 * a shared bare name is refused with the candidates
 * (funnel_internal.stage_ordered()).
 */
#define ORDER_TYPMOD	(-2)

/* How a comparison operator treats a name */
typedef enum CompareKind
{
	COMPARE_OTHER,
	COMPARE_EQ,
	COMPARE_NE,
	COMPARE_ORDER
} CompareKind;

typedef struct RewriteContext
{
	ParseState *pstate;
	Oid			stage_type;		/* funnel.deal_stage */
	Oid			stage_array_type;	/* funnel.deal_stage[] */
	Oid			text_cast_fn;	/* funnel_internal.deal_stage(text, int, bool) */
	Oid			coerce_fn;		/* its typmod coercion */
	Oid			in_pipeline_fn; /* funnel_internal.stage_in_pipeline */
	Oid			ordered_fn;		/* funnel_internal.stage_ordered */
	Oid			named_fn;		/* funnel_internal.stages_named */
	Oid			distinct_fn;	/* funnel_internal.stage_distinct_named */
	Oid			funnel_nsp;
	List	   *queries;		/* the enclosing queries, innermost first */
	Node	   *case_arg;		/* the stage side of CaseTestExprs */
	Oid		  **param_types;	/* variable parameters, or NULL */
	int		   *num_params;
} RewriteContext;

/* Functions of funnel_internal looked up by name and argument types */
static Oid
InternalFunction(const char *name, int nargs, const Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString(FUNNEL_INTERNAL_SCHEMA),
									 makeString(pstrdup(name))),
						  nargs, argtypes, true);
}

/* The function of the cast from source to target, or InvalidOid */
static Oid
CastFunction(Oid source, Oid target)
{
	HeapTuple	tuple;
	Oid			fn = InvalidOid;

	tuple = SearchSysCache2(CASTSOURCETARGET, ObjectIdGetDatum(source),
							ObjectIdGetDatum(target));
	if (HeapTupleIsValid(tuple))
	{
		fn = ((Form_pg_cast) GETSTRUCT(tuple))->castfunc;
		ReleaseSysCache(tuple);
	}
	return fn;
}

/* True for a Const holding an unresolved deal_stage */
static bool
IsUnresolved(Node *node, RewriteContext *cxt)
{
	Const	   *c = (Const *) node;

	return node != NULL && IsA(node, Const) && c->consttype == cxt->stage_type &&
		!c->constisnull && DealStageIsUnresolved(DatumGetDealStage(c->constvalue));
}

/* A call of the cast from text with no pipeline (typmod -1) */
static bool
IsTextCast(Node *node, RewriteContext *cxt)
{
	FuncExpr   *f = (FuncExpr *) node;
	Const	   *typmod;

	if (node == NULL || !IsA(node, FuncExpr) || f->funcid != cxt->text_cast_fn ||
		list_length(f->args) < 2)
		return false;
	typmod = (Const *) lsecond(f->args);
	return IsA(typmod, Const) && !typmod->constisnull &&
		DatumGetInt32(typmod->constvalue) < 0;
}

/* Is this an untyped (retyped) stage parameter of a variable-param parse? */
static bool
IsStageParam(Node *node, RewriteContext *cxt)
{
	Param	   *p = (Param *) node;

	Oid			declared;

	if (cxt->param_types == NULL || node == NULL || !IsA(node, Param) ||
		p->paramkind != PARAM_EXTERN || p->paramtype != cxt->stage_type ||
		p->paramid <= 0 || p->paramid > *cxt->num_params)
		return false;
	if (p->paramid <= FunnelDeclaredParams)
		return false;			/* PREPARE q(funnel.deal_stage) declared it */
	/* TEXTOID: retyped at another use of the same parameter */
	declared = (*cxt->param_types)[p->paramid - 1];
	return declared == cxt->stage_type || declared == TEXTOID;
}

/* A bare name in waiting: an unresolved literal or a text value to read */
static bool
IsName(Node *node, RewriteContext *cxt)
{
	return IsUnresolved(node, cxt) || IsTextCast(node, cxt);
}

/* Read-only pass: is there anything to rewrite at all? */
static bool
NeedsRewrite(Node *node, RewriteContext *cxt)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;

		if (query_tree_walker(q, NeedsRewrite, cxt, 0))
			return true;
		if (q->utilityStmt != NULL)
		{
			Node	   *stmt = q->utilityStmt;

			if (IsA(stmt, ExplainStmt))
				return NeedsRewrite(((ExplainStmt *) stmt)->query, cxt);
			if (IsA(stmt, CreateTableAsStmt))
				return NeedsRewrite(((CreateTableAsStmt *) stmt)->query, cxt);
			if (IsA(stmt, DeclareCursorStmt))
				return NeedsRewrite(((DeclareCursorStmt *) stmt)->query, cxt);
		}
		return false;
	}
	if (IsName(node, cxt) || IsStageParam(node, cxt))
		return true;
	return expression_tree_walker(node, NeedsRewrite, (void *) cxt);
}

/*
 * The pipeline a table tracked by an unbound stage column follows, as a
 * typmod, or -1 (not such a column, or its tracking names no one pipeline).
 */
static int32
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
static int32
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
static Node *
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
static Node *
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
static Node *
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
static Node *
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

/* What a deal_stage operator does with a name */
static CompareKind
OperatorKind(Oid opno, RewriteContext *cxt)
{
	HeapTuple	tuple;
	Form_pg_operator op;
	CompareKind kind = COMPARE_OTHER;

	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(tuple))
		return COMPARE_OTHER;
	op = (Form_pg_operator) GETSTRUCT(tuple);
	if (op->oprleft == cxt->stage_type && op->oprright == cxt->stage_type &&
		op->oprresult == BOOLOID)
	{
		const char *name = NameStr(op->oprname);

		if (strcmp(name, "=") == 0)
			kind = COMPARE_EQ;
		else if (strcmp(name, "<>") == 0)
			kind = COMPARE_NE;
		else if (strcmp(name, "<") == 0 || strcmp(name, "<=") == 0 ||
				 strcmp(name, ">") == 0 || strcmp(name, ">=") == 0)
			kind = COMPARE_ORDER;
	}
	ReleaseSysCache(tuple);
	return kind;
}

/*
 * An order comparison with a side of several pipelines: refuse a shared
 * bare literal now, and have a text value refused when it is read if it is
 * a shared bare name (ORDER_TYPMOD), both with the candidates.
 */
static Node *
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

/* stage_side = name (or <>, <, ..., IS DISTINCT FROM, NULLIF) */
static Node *
RewriteComparison(OpExpr *op, RewriteContext *cxt)
{
	Node	   *left,
			   *right,
			   *side,
			   *name;
	bool		name_right;
	int32		typmod;
	CompareKind kind;

	if (list_length(op->args) != 2)
		return (Node *) op;
	left = linitial(op->args);
	right = lsecond(op->args);
	if (IsName(left, cxt) == IsName(right, cxt))
		return (Node *) op;		/* no name, or two: nothing fixes a pipeline */
	name_right = IsName(right, cxt);
	name = name_right ? right : left;
	side = name_right ? left : right;
	if (exprType(side) != cxt->stage_type &&
		!(IsA(side, CaseTestExpr) && cxt->case_arg != NULL))
		return (Node *) op;

	typmod = StageSideTypmod(side, cxt);
	if (typmod >= 0)
	{
		name = ResolveIn(name, typmod, cxt);
		op->args = name_right ? list_make2(side, name) : list_make2(name, side);
		return (Node *) op;
	}

	kind = OperatorKind(op->opno, cxt);
	if (IsA(op, OpExpr) && (kind == COMPARE_EQ || kind == COMPARE_NE) &&
		!IsA(side, CaseTestExpr))
	{
		ScalarArrayOpExpr *saop = makeNode(ScalarArrayOpExpr);

		saop->opno = op->opno;
		saop->opfuncid = op->opfuncid;
		saop->useOr = (kind == COMPARE_EQ);
		saop->inputcollid = op->inputcollid;
		saop->args = list_make2(side,
								StagesNamed(list_make1(NameText(name, cxt)),
											op->location, cxt));
		saop->location = op->location;
		return (Node *) saop;
	}
	if (IsA(op, DistinctExpr) && kind == COMPARE_EQ &&
		!IsA(side, CaseTestExpr))
	{
		FuncExpr   *f;

		f = makeFuncExpr(cxt->distinct_fn, BOOLOID,
						 list_make2(side, NameText(name, cxt)),
						 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		f->location = op->location;
		return (Node *) f;
	}
	/* an order comparison: a shared name needs its pipeline */
	if (kind == COMPARE_ORDER)
	{
		name = RefuseName(name, cxt);
		op->args = name_right ? list_make2(side, name) : list_make2(name, side);
	}
	else if (IsUnresolved(name, cxt))
	{
		ParseCallbackState pcb;

		setup_parser_errposition_callback(&pcb, cxt->pstate,
										  ((Const *) name)->location);
		DealStageReportAmbiguous(DatumGetDealStage(((Const *) name)->constvalue));
	}
	return (Node *) op;
}

/*
 * stage_side = ANY (texts), where texts is a text or varchar array (ARRAY
 * of untyped literals, which the parser types text[]; an array parameter)
 * coerced element by element through the cast from text.
 */
static Node *
RewriteArrayCoerce(ScalarArrayOpExpr *saop, RewriteContext *cxt)
{
	Node	   *side = linitial(saop->args);
	ArrayCoerceExpr *ac = (ArrayCoerceExpr *) lsecond(saop->args);
	Oid			source = exprType((Node *) ac->arg);
	int32		typmod;
	CompareKind kind;

	if (exprType(side) != cxt->stage_type || !IsTextCast((Node *) ac->elemexpr, cxt) ||
		(source != TEXTARRAYOID && get_element_type(source) != VARCHAROID))
		return (Node *) saop;
	typmod = StageSideTypmod(side, cxt);
	if (typmod >= 0)
	{
		ac->elemexpr = (Expr *) ResolveIn((Node *) ac->elemexpr, typmod, cxt);
		return (Node *) saop;
	}
	kind = OperatorKind(saop->opno, cxt);
	if ((kind == COMPARE_EQ && saop->useOr) || (kind == COMPARE_NE && !saop->useOr))
	{
		Node	   *texts = (Node *) ac->arg;
		FuncExpr   *f;

		if (source != TEXTARRAYOID)
			texts = (Node *) makeRelabelType((Expr *) texts, TEXTARRAYOID, -1,
											 DEFAULT_COLLATION_OID,
											 COERCE_IMPLICIT_CAST);
		f = makeFuncExpr(cxt->named_fn, cxt->stage_array_type, list_make1(texts),
						 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		f->location = ac->location;
		saop->args = list_make2(side, f);
		return (Node *) saop;
	}
	if (kind == COMPARE_ORDER)
		ac->elemexpr = (Expr *) ResolveIn((Node *) ac->elemexpr, ORDER_TYPMOD, cxt);
	return (Node *) saop;
}

/* stage_side = ANY (ARRAY[...]), IN (...), NOT IN, <> ALL */
static Node *
RewriteArrayComparison(ScalarArrayOpExpr *saop, RewriteContext *cxt)
{
	Node	   *side;
	ArrayExpr  *array;
	ListCell   *lc;
	bool		any_name = false;
	int32		typmod;
	CompareKind kind;
	List	   *elements = NIL;

	if (list_length(saop->args) == 2 && IsA(lsecond(saop->args), ArrayCoerceExpr))
		return RewriteArrayCoerce(saop, cxt);
	if (list_length(saop->args) != 2 || !IsA(lsecond(saop->args), ArrayExpr))
		return (Node *) saop;
	side = linitial(saop->args);
	array = (ArrayExpr *) lsecond(saop->args);
	if (exprType(side) != cxt->stage_type || array->multidims)
		return (Node *) saop;
	foreach(lc, array->elements)
		if (IsName(lfirst(lc), cxt))
			any_name = true;
	if (!any_name)
		return (Node *) saop;

	typmod = StageSideTypmod(side, cxt);
	if (typmod >= 0)
	{
		foreach(lc, array->elements)
			elements = lappend(elements, ResolveIn(lfirst(lc), typmod, cxt));
		array->elements = elements;
		return (Node *) saop;
	}
	kind = OperatorKind(saop->opno, cxt);
	if ((kind == COMPARE_EQ && saop->useOr) || (kind == COMPARE_NE && !saop->useOr))
	{
		foreach(lc, array->elements)
			elements = lappend(elements, StageAsText(lfirst(lc), cxt));
		saop->args = list_make2(side, StagesNamed(elements, array->location, cxt));
		return (Node *) saop;
	}
	if (kind == COMPARE_ORDER)
	{
		foreach(lc, array->elements)
			elements = lappend(elements, RefuseName(lfirst(lc), cxt));
		array->elements = elements;
	}
	return (Node *) saop;
}

/*
 * Arguments of a funnel function or aggregate: names beside a stage
 * argument that fixes a pipeline (funnel.conversion_rate(stage, 'lead',
 * 'won') over a bound column) are read in it.
 */
static List *
RewriteArguments(Oid fn, List *args, bool target_entries, RewriteContext *cxt)
{
	ListCell   *lc;
	int32		typmod = -1;
	bool		any_name = false;

	if (get_func_namespace(fn) != cxt->funnel_nsp)
		return args;
	foreach(lc, args)
	{
		Node	   *arg = lfirst(lc);

		if (target_entries)
			arg = (Node *) ((TargetEntry *) arg)->expr;
		if (IsName(arg, cxt))
			any_name = true;
		else if (typmod < 0 && exprType(arg) == cxt->stage_type)
			typmod = StageSideTypmod(arg, cxt);
	}
	if (!any_name || typmod < 0)
		return args;
	foreach(lc, args)
	{
		if (target_entries)
		{
			TargetEntry *tle = (TargetEntry *) lfirst(lc);

			tle->expr = (Expr *) ResolveIn((Node *) tle->expr, typmod, cxt);
		}
		else
			lfirst(lc) = ResolveIn(lfirst(lc), typmod, cxt);
	}
	return args;
}

/* A simple CASE over a stage side of several pipelines, as a searched CASE */
static void
SearchedCase(CaseExpr *c, RewriteContext *cxt)
{
	ListCell   *lc;
	bool		any_name = false;

	foreach(lc, c->args)
	{
		CaseWhen   *w = (CaseWhen *) lfirst(lc);
		OpExpr	   *op = (OpExpr *) w->expr;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2 ||
			!IsA(linitial(op->args), CaseTestExpr))
			return;
		if (IsName(lsecond(op->args), cxt) || IsStageParam(lsecond(op->args), cxt))
			any_name = true;
	}
	if (!any_name || contain_volatile_functions((Node *) c->arg))
		return;
	foreach(lc, c->args)
	{
		CaseWhen   *w = (CaseWhen *) lfirst(lc);
		OpExpr	   *op = (OpExpr *) w->expr;

		op->args = list_make2(copyObject(c->arg), lsecond(op->args));
	}
	c->arg = NULL;
}

static Node *RewriteMutator(Node *node, RewriteContext *cxt);

/* Values an INSERT or UPDATE writes to a tracked table's stage column */
static void
RewriteTrackedTargets(Query *q, RewriteContext *cxt)
{
	RangeTblEntry *rte;
	AttrNumber	attnum;
	int32		typmod;
	ListCell   *lc;
	Relation	rel;

	if ((q->commandType != CMD_INSERT && q->commandType != CMD_UPDATE) ||
		q->resultRelation <= 0)
		return;
	rte = rt_fetch(q->resultRelation, q->rtable);
	if (rte->rtekind != RTE_RELATION)
		return;
	rel = table_open(rte->relid, NoLock);
	attnum = DealStageResolvedColumn(rel);
	table_close(rel, NoLock);
	if (attnum == InvalidAttrNumber)
		return;
	typmod = TrackedColumnTypmod(rte->relid, attnum);
	if (typmod < 0)
		return;
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = (TargetEntry *) lfirst(lc);

		if (tle->resno != attnum || tle->resjunk)
			continue;
		if (IsTextCast((Node *) tle->expr, cxt))
			tle->expr = (Expr *) ResolveIn((Node *) tle->expr, typmod, cxt);
		else if (IsA(tle->expr, Var) && ((Var *) tle->expr)->varlevelsup == 0)
		{
			RangeTblEntry *values = rt_fetch(((Var *) tle->expr)->varno, q->rtable);
			ListCell   *row;

			if (values->rtekind != RTE_VALUES)
				continue;
			foreach(row, values->values_lists)
			{
				ListCell   *cell = list_nth_cell((List *) lfirst(row),
												 ((Var *) tle->expr)->varattno - 1);

				if (IsTextCast(lfirst(cell), cxt))
					lfirst(cell) = ResolveIn(lfirst(cell), typmod, cxt);
			}
		}
	}
}

static void
RewriteQuery(Query *q, RewriteContext *cxt)
{
	cxt->queries = lcons(q, cxt->queries);
	query_tree_mutator(q, RewriteMutator, (void *) cxt, QTW_DONT_COPY_QUERY);
	if (q->utilityStmt != NULL)
	{
		Node	   *stmt = q->utilityStmt;

		if (IsA(stmt, ExplainStmt))
			RewriteQuery((Query *) ((ExplainStmt *) stmt)->query, cxt);
		else if (IsA(stmt, CreateTableAsStmt))
			RewriteQuery((Query *) ((CreateTableAsStmt *) stmt)->query, cxt);
		else if (IsA(stmt, DeclareCursorStmt))
			RewriteQuery((Query *) ((DeclareCursorStmt *) stmt)->query, cxt);
	}
	RewriteTrackedTargets(q, cxt);
	cxt->queries = list_delete_first(cxt->queries);
}

static Node *
RewriteMutator(Node *node, RewriteContext *cxt)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
	{
		RewriteQuery((Query *) node, cxt);
		return node;
	}
	if (IsStageParam(node, cxt))
	{
		/* an untyped parameter: Bind reads text, the cast reads the stage */
		Param	   *p = (Param *) copyObject(node);

		(*cxt->param_types)[p->paramid - 1] = TEXTOID;
		p->paramtype = TEXTOID;
		p->paramtypmod = -1;
		p->paramcollid = DEFAULT_COLLATION_OID;
		return (Node *) makeFuncExpr(cxt->text_cast_fn, cxt->stage_type,
									 list_make3(p,
												makeConst(INT4OID, -1, InvalidOid,
														  sizeof(int32),
														  Int32GetDatum(-1),
														  false, true),
												makeBoolConst(false, false)),
									 InvalidOid, InvalidOid,
									 COERCE_IMPLICIT_CAST);
	}
	if (IsA(node, CaseExpr) && ((CaseExpr *) node)->arg != NULL &&
		exprType((Node *) ((CaseExpr *) node)->arg) == cxt->stage_type)
	{
		CaseExpr   *c = (CaseExpr *) copyObject(node);
		Node	   *saved = cxt->case_arg;
		ListCell   *lc;

		c->arg = (Expr *) RewriteMutator((Node *) c->arg, cxt);
		if (StageSideTypmod((Node *) c->arg, cxt) < 0)
			SearchedCase(c, cxt);
		foreach(lc, c->args)
		{
			CaseWhen   *w = (CaseWhen *) lfirst(lc);

			cxt->case_arg = (Node *) c->arg;
			w->expr = (Expr *) RewriteMutator((Node *) w->expr, cxt);
			cxt->case_arg = saved;
			w->result = (Expr *) RewriteMutator((Node *) w->result, cxt);
		}
		c->defresult = (Expr *) RewriteMutator((Node *) c->defresult, cxt);
		return (Node *) c;
	}

	node = expression_tree_mutator(node, RewriteMutator, (void *) cxt);

	if (IsA(node, OpExpr) || IsA(node, DistinctExpr) || IsA(node, NullIfExpr))
		return RewriteComparison((OpExpr *) node, cxt);
	if (IsA(node, ScalarArrayOpExpr))
		return RewriteArrayComparison((ScalarArrayOpExpr *) node, cxt);
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *f = (FuncExpr *) node;

		/* the typmod coercion of a bound column: read the name in it */
		if (f->funcid == cxt->coerce_fn && list_length(f->args) >= 2 &&
			IsTextCast(linitial(f->args), cxt) && IsA(lsecond(f->args), Const) &&
			!((Const *) lsecond(f->args))->constisnull &&
			DatumGetInt32(((Const *) lsecond(f->args))->constvalue) >= 0)
		{
			linitial(f->args) =
				ResolveIn(linitial(f->args),
						  DatumGetInt32(((Const *) lsecond(f->args))->constvalue),
						  cxt);
			return node;
		}
		if (f->funcid != cxt->text_cast_fn)
			f->args = RewriteArguments(f->funcid, f->args, false, cxt);
		return node;
	}
	if (IsA(node, Aggref))
	{
		Aggref	   *a = (Aggref *) node;

		a->args = RewriteArguments(a->aggfnoid, a->args, true, cxt);
		return node;
	}
	return node;
}

/*
 * Called by the post-parse-analysis hook for every query: rewrite bare
 * names by their context.  Returns quickly when there is nothing to do.
 */
void
FunnelRewriteBareNames(ParseState *pstate, Query *query)
{
	RewriteContext cxt;
	Oid			argtypes[3];

	memset(&cxt, 0, sizeof(cxt));
	cxt.funnel_nsp = get_namespace_oid(FUNNEL_SCHEMA, true);
	if (!OidIsValid(cxt.funnel_nsp))
		return;
	cxt.stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									 CStringGetDatum("deal_stage"),
									 ObjectIdGetDatum(cxt.funnel_nsp));
	if (!OidIsValid(cxt.stage_type))
		return;
	cxt.text_cast_fn = CastFunction(TEXTOID, cxt.stage_type);
	if (!compat_VariableParams(pstate, &cxt.param_types, &cxt.num_params))
		cxt.param_types = NULL;
	cxt.pstate = pstate;
	if (!NeedsRewrite((Node *) query, &cxt))
		return;

	cxt.stage_array_type = get_array_type(cxt.stage_type);
	cxt.coerce_fn = CastFunction(cxt.stage_type, cxt.stage_type);
	argtypes[0] = TEXTOID;
	argtypes[1] = REGTYPEOID;
	cxt.in_pipeline_fn = InternalFunction("stage_in_pipeline", 2, argtypes);
	cxt.ordered_fn = InternalFunction("stage_ordered", 1, argtypes);
	argtypes[0] = TEXTARRAYOID;
	cxt.named_fn = InternalFunction("stages_named", 1, argtypes);
	argtypes[0] = cxt.stage_type;
	argtypes[1] = TEXTOID;
	cxt.distinct_fn = InternalFunction("stage_distinct_named", 2, argtypes);
	if (!OidIsValid(cxt.in_pipeline_fn) || !OidIsValid(cxt.named_fn) ||
		!OidIsValid(cxt.ordered_fn) ||
		!OidIsValid(cxt.distinct_fn) || !OidIsValid(cxt.text_cast_fn))
		return;					/* an older install script: nothing to call */
	RewriteQuery(query, &cxt);
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
