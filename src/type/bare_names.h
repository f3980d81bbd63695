/*-------------------------------------------------------------------------
 *
 * bare_names.h
 *	  Shared by bare_names.c (the walk that rewrites a query's bare stage
 *	  names) and bare_names_resolve.c (reading a name in its context): the
 *	  rewrite's context, what a bare name in waiting looks like in a parsed
 *	  query, and how a name is resolved.
 *
 * src/type/bare_names.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BARE_NAMES_H
#define BARE_NAMES_H

#include "nodes/parsenodes.h"
#include "parser/parse_node.h"

#include "funnel.h"

/*
 * ResolveIn() for an order comparison with a side of several pipelines:
 * a shared bare name is refused with the candidates
 * (funnel_internal.stage_ordered()).
 */
#define ORDER_TYPMOD	(-2)

/* One rewrite: the objects the rewritten query calls, and where the walk is */
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

/* True for a Const holding an unresolved deal_stage */
static inline bool
IsUnresolved(Node *node, RewriteContext *cxt)
{
	Const	   *c = (Const *) node;

	return node != NULL && IsA(node, Const) && c->consttype == cxt->stage_type &&
		!c->constisnull && DealStageIsUnresolved(DatumGetDealStage(c->constvalue));
}

/* A call of the cast from text with no pipeline (typmod -1) */
static inline bool
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
static inline bool
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
static inline bool
IsName(Node *node, RewriteContext *cxt)
{
	return IsUnresolved(node, cxt) || IsTextCast(node, cxt);
}

/* bare_names_resolve.c */
extern int32 TrackedColumnTypmod(Oid relid, AttrNumber attnum);
extern int32 StageSideTypmod(Node *side, RewriteContext *cxt);
extern Node *NameText(Node *name, RewriteContext *cxt);
extern Node *StageAsText(Node *node, RewriteContext *cxt);
extern Node *ResolveIn(Node *name, int32 typmod, RewriteContext *cxt);
extern Node *StagesNamed(List *texts, int location, RewriteContext *cxt);
extern Node *RefuseName(Node *name, RewriteContext *cxt);

#endif							/* BARE_NAMES_H */
