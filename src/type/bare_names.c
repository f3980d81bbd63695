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
 * This file walks the query and rewrites each construct; reading a name in
 * its context (the stage side's pipeline, the name resolved in it or
 * refused) and the functions of funnel_internal that the rewritten queries
 * call are in bare_names_resolve.c, the shared declarations in bare_names.h.
 *
 * src/type/bare_names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "bare_names.h"

/* How a comparison operator treats a name */
typedef enum CompareKind
{
	BARE_CMP_OTHER,
	BARE_CMP_EQ,
	BARE_CMP_NE,
	BARE_CMP_ORDER
} CompareKind;

/* Functions of funnel_internal looked up by name and argument types */
static Oid
InternalFunction(const char *name, int nargs, const Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString(FUNNEL_INTERNAL_SCHEMA),
									 makeString(pstrdup(name))),
						  nargs, argtypes, true);
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

/* What a deal_stage operator does with a name */
static CompareKind
OperatorKind(Oid opno, RewriteContext *cxt)
{
	HeapTuple	tuple;
	Form_pg_operator op;
	CompareKind kind = BARE_CMP_OTHER;

	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(tuple))
		return BARE_CMP_OTHER;
	op = (Form_pg_operator) GETSTRUCT(tuple);
	if (op->oprleft == cxt->stage_type && op->oprright == cxt->stage_type &&
		op->oprresult == BOOLOID)
	{
		const char *name = NameStr(op->oprname);

		if (strcmp(name, "=") == 0)
			kind = BARE_CMP_EQ;
		else if (strcmp(name, "<>") == 0)
			kind = BARE_CMP_NE;
		else if (strcmp(name, "<") == 0 || strcmp(name, "<=") == 0 ||
				 strcmp(name, ">") == 0 || strcmp(name, ">=") == 0)
			kind = BARE_CMP_ORDER;
	}
	ReleaseSysCache(tuple);
	return kind;
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
	if (IsA(op, OpExpr) && (kind == BARE_CMP_EQ || kind == BARE_CMP_NE) &&
		!IsA(side, CaseTestExpr))
	{
		ScalarArrayOpExpr *saop = makeNode(ScalarArrayOpExpr);

		saop->opno = op->opno;
		saop->opfuncid = op->opfuncid;
		saop->useOr = (kind == BARE_CMP_EQ);
		saop->inputcollid = op->inputcollid;
		saop->args = list_make2(side,
								StagesNamed(list_make1(NameText(name, cxt)),
											op->location, cxt));
		saop->location = op->location;
		return (Node *) saop;
	}
	if (IsA(op, DistinctExpr) && kind == BARE_CMP_EQ &&
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
	if (kind == BARE_CMP_ORDER)
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
	if ((kind == BARE_CMP_EQ && saop->useOr) || (kind == BARE_CMP_NE && !saop->useOr))
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
	if (kind == BARE_CMP_ORDER)
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
	if ((kind == BARE_CMP_EQ && saop->useOr) || (kind == BARE_CMP_NE && !saop->useOr))
	{
		foreach(lc, array->elements)
			elements = lappend(elements, StageAsText(lfirst(lc), cxt));
		saop->args = list_make2(side, StagesNamed(elements, array->location, cxt));
		return (Node *) saop;
	}
	if (kind == BARE_CMP_ORDER)
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

/* Resolve the values a target list assigns to column attnum in typmod */
static void
RewriteTargetList(Query *q, List *targetlist, AttrNumber attnum, int32 typmod,
				  RewriteContext *cxt)
{
	ListCell   *lc;

	foreach(lc, targetlist)
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

/*
 * Values an INSERT, UPDATE or MERGE writes to a tracked table's stage
 * column, including INSERT ... ON CONFLICT DO UPDATE SET and the actions of
 * a MERGE: each is read in the pipeline the table tracks.
 */
static void
RewriteTrackedTargets(Query *q, RewriteContext *cxt)
{
	RangeTblEntry *rte;
	AttrNumber	attnum;
	int32		typmod;
	Relation	rel;

	if ((q->commandType != CMD_INSERT && q->commandType != CMD_UPDATE &&
		 q->commandType != CMD_MERGE) || q->resultRelation <= 0)
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
	if (q->commandType == CMD_MERGE)
	{
		ListCell   *lc;

		foreach(lc, q->mergeActionList)
		{
			MergeAction *action = (MergeAction *) lfirst(lc);

			RewriteTargetList(q, action->targetList, attnum, typmod, cxt);
		}
		return;
	}
	RewriteTargetList(q, q->targetList, attnum, typmod, cxt);
	if (q->onConflict != NULL)
		RewriteTargetList(q, q->onConflict->onConflictSet, attnum, typmod, cxt);
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
	cxt.text_cast_fn = FunnelCastFunction(TEXTOID, cxt.stage_type);
	if (!compat_VariableParams(pstate, &cxt.param_types, &cxt.num_params))
		cxt.param_types = NULL;
	cxt.pstate = pstate;
	if (!NeedsRewrite((Node *) query, &cxt))
		return;

	cxt.stage_array_type = get_array_type(cxt.stage_type);
	cxt.coerce_fn = FunnelCastFunction(cxt.stage_type, cxt.stage_type);
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
