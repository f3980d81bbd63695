/*-------------------------------------------------------------------------
 *
 * unresolved.c
 *	  Where a bare stage name shared by several pipelines may be read, and
 *	  the checks that keep such an "unresolved" value out of storage.
 *
 * PostgreSQL reads an SQL literal with typmod -1 and applies a column's type
 * modifier afterwards, so INSERT INTO deals VALUES (1, 'won') cannot resolve
 * 'won' at input time even when the column is funnel.deal_stage(b2b).  The
 * input function therefore returns an unresolved value (pipeline OID 0) for
 * such a name, but only where something is guaranteed to resolve or refuse
 * it before it can be stored anywhere:
 *
 *	- a plain literal being parsed inside a query ('won', E'won'): the
 *	  post-parse-analysis hook below then resolves every such constant that
 *	  is the argument of a bound column's typmod coercion, accepts those that
 *	  are assigned to the stage column of a tracked table whose resolving
 *	  trigger fires first, and refuses every other one (22P02, with the
 *	  literal's position).  Literals parsed where no such hook runs (DDL: a
 *	  DEFAULT, CHECK, partition bound, index, policy; CREATE RULE and
 *	  BEGIN ATOMIC bodies; inlined SQL functions) are refused at once or, at
 *	  the latest, when the utility statement or the transaction ends;
 *	- COPY FROM into the stage column of such a tracked table.
 *
 * Everywhere else (casts evaluated at run time, parameters of the extended
 * protocol, literals inside array, record or range literals, COPY into any
 * other column) an ambiguous bare name raises 22P02 at input.
 *
 * src/type/unresolved.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_cast.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/trigger.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "parser/parse_node.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "funnel.h"
#include "pg_compat.h"

/* A literal read unresolved whose query has not been checked yet */
typedef struct PendingLiteral
{
	ParseState *root;			/* top-level parse state of its query */
	const char *sourcetext;		/* and its source text, to tell reuse */
	SubTransactionId subid;
	Oid			label;			/* a candidate stage, for the message */
} PendingLiteral;

static List *pending = NIL;		/* in TopMemoryContext */

/* Parameters a running PREPARE declared the types of (bare_names.c) */
int			FunnelDeclaredParams = 0;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility_hook = NULL;

/* Parse contexts whose expressions end up in a query the hook checks */
static bool
CheckedExprKind(ParseExprKind kind)
{
	switch (kind)
	{
		case EXPR_KIND_JOIN_ON:
		case EXPR_KIND_JOIN_USING:
		case EXPR_KIND_FROM_SUBSELECT:
		case EXPR_KIND_FROM_FUNCTION:
		case EXPR_KIND_WHERE:
		case EXPR_KIND_HAVING:
		case EXPR_KIND_FILTER:
		case EXPR_KIND_WINDOW_PARTITION:
		case EXPR_KIND_WINDOW_ORDER:
		case EXPR_KIND_WINDOW_FRAME_RANGE:
		case EXPR_KIND_WINDOW_FRAME_ROWS:
		case EXPR_KIND_WINDOW_FRAME_GROUPS:
		case EXPR_KIND_SELECT_TARGET:
		case EXPR_KIND_INSERT_TARGET:
		case EXPR_KIND_UPDATE_SOURCE:
		case EXPR_KIND_UPDATE_TARGET:
		case EXPR_KIND_MERGE_WHEN:
		case EXPR_KIND_GROUP_BY:
		case EXPR_KIND_ORDER_BY:
		case EXPR_KIND_DISTINCT_ON:
		case EXPR_KIND_RETURNING:
		case EXPR_KIND_VALUES:
		case EXPR_KIND_VALUES_SINGLE:
		case EXPR_KIND_CALL_ARGUMENT:
			return true;
		default:
			return false;
	}
}

/*
 * True if the source text at "location" is exactly the literal 'str' (or
 * E'str'): the input function is then called for the literal itself, not
 * for an element of an array, record or range literal.
 */
static bool
IsPlainLiteral(ParseState *pstate, int location, const char *str)
{
	const char *src = pstate->p_sourcetext;
	size_t		len = strlen(str);

	if (src == NULL || location < 0 || (size_t) location >= strlen(src))
		return false;
	src += location;
	if (*src == 'E' || *src == 'e')
		src++;
	return src[0] == '\'' && strncmp(src + 1, str, len) == 0 &&
		src[len + 1] == '\'' && strchr(str, '\'') == NULL &&
		strchr(str, '\\') == NULL;
}

/* The OID of funnel_internal.track_resolve(), or InvalidOid */
static Oid
TrackResolveFunction(void)
{
	return LookupFuncName(list_make2(makeString(FUNNEL_INTERNAL_SCHEMA),
									 makeString("track_resolve")),
						  0, NULL, true);
}

/* Does this trigger fire in the current session_replication_role? */
static bool
TriggerFires(const Trigger *trigger)
{
	if (trigger->tgenabled == TRIGGER_DISABLED)
		return false;
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return trigger->tgenabled != TRIGGER_FIRES_ON_ORIGIN;
	return trigger->tgenabled != TRIGGER_FIRES_ON_REPLICA;
}

/*
 * The stage column that funnel_internal.track_resolve() resolves in every row this
 * command writes to rel, before any other code can see the row; or
 * InvalidAttrNumber.  That needs a plain table without rules whose first
 * BEFORE ROW trigger (in firing order) is funnel's resolving trigger.
 */
static AttrNumber
ResolvedStageColumn(Relation rel, CmdType command)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	Oid			resolve_fn;
	int			i;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rules != NULL ||
		trigdesc == NULL)
		return InvalidAttrNumber;
	resolve_fn = TrackResolveFunction();
	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		const Trigger *trigger = &trigdesc->triggers[i];

		if (!TriggerFires(trigger) || !TRIGGER_FOR_ROW(trigger->tgtype) ||
			!TRIGGER_FOR_BEFORE(trigger->tgtype))
			continue;
		if (command == CMD_INSERT ? !TRIGGER_FOR_INSERT(trigger->tgtype) :
			!TRIGGER_FOR_UPDATE(trigger->tgtype))
			continue;
		if (trigger->tgfoid == resolve_fn && OidIsValid(resolve_fn) &&
			trigger->tgnattr == 1)
			return trigger->tgattr[0];
		return InvalidAttrNumber;
	}
	return InvalidAttrNumber;
}

/*
 * The stage column a tracked table's resolving trigger resolves on INSERT
 * and UPDATE alike, or InvalidAttrNumber (bare_names.c).
 */
AttrNumber
DealStageResolvedColumn(Relation rel)
{
	AttrNumber	attnum = ResolvedStageColumn(rel, CMD_INSERT);

	if (attnum != ResolvedStageColumn(rel, CMD_UPDATE))
		return InvalidAttrNumber;
	return attnum;
}

/*
 * May the input function return an unresolved value for the bare name str
 * here?  Decided by what called it, read from the error context stack.
 */
bool
DealStageMayStayUnresolved(const char *str, Oid candidate_label)
{
	ErrorContextCallback *cb = error_context_stack;
	ParseState *pstate;
	int			location;
	Relation	rel;
	const char *attname;

	if (cb == NULL)
		return false;

	if (compat_IsParserCallback(cb, &pstate, &location))
	{
		ParseState *root;
		PendingLiteral *p;
		MemoryContext oldcontext;

		if (pstate == NULL || !CheckedExprKind(pstate->p_expr_kind) ||
			!IsPlainLiteral(pstate, location, str))
			return false;
		for (root = pstate; root->parentParseState != NULL;)
			root = root->parentParseState;
		oldcontext = MemoryContextSwitchTo(TopMemoryContext);
		p = palloc(sizeof(PendingLiteral));
		p->root = root;
		p->sourcetext = root->p_sourcetext;
		p->subid = GetCurrentSubTransactionId();
		p->label = candidate_label;
		pending = lappend(pending, p);
		MemoryContextSwitchTo(oldcontext);
		return true;
	}

	if (compat_IsCopyFromCallback(cb, &rel, &attname))
	{
		AttrNumber	attnum;

		if (rel == NULL || attname == NULL)
			return false;
		attnum = ResolvedStageColumn(rel, CMD_INSERT);
		return attnum != InvalidAttrNumber &&
			strcmp(NameStr(TupleDescAttr(RelationGetDescr(rel),
										 attnum - 1)->attname),
				   attname) == 0;
	}
	return false;
}

/* What the query checker needs */
typedef struct CheckContext
{
	ParseState *pstate;
	Oid			stage_type;
	Oid			coerce_fn;		/* the typmod coercion of funnel.deal_stage */
	List	   *allowed;		/* Consts that a resolving trigger resolves */
} CheckContext;

/* True for a Const holding an unresolved deal_stage */
static bool
IsUnresolvedConst(Node *node, CheckContext *cxt)
{
	Const	   *c = (Const *) node;

	return node != NULL && IsA(node, Const) && c->consttype == cxt->stage_type &&
		!c->constisnull && DealStageIsUnresolved(DatumGetDealStage(c->constvalue));
}

/* Add to cxt->allowed the constant a target entry assigns, if unresolved */
static void
AllowTarget(Query *q, Expr *expr, CheckContext *cxt)
{
	if (IsUnresolvedConst((Node *) expr, cxt))
		cxt->allowed = lappend(cxt->allowed, expr);
	else if (expr != NULL && IsA(expr, Var) && ((Var *) expr)->varlevelsup == 0)
	{
		/* INSERT ... VALUES (...), (...): the cells of that column */
		Var		   *var = (Var *) expr;
		RangeTblEntry *rte = rt_fetch(var->varno, q->rtable);
		ListCell   *lc;

		if (rte->rtekind != RTE_VALUES)
			return;
		foreach(lc, rte->values_lists)
		{
			List	   *row = (List *) lfirst(lc);
			Node	   *cell = list_nth(row, var->varattno - 1);

			if (IsUnresolvedConst(cell, cxt))
				cxt->allowed = lappend(cxt->allowed, cell);
		}
	}
}

/* Add the constants a list of target entries assigns to column attnum */
static void
AllowTargetList(Query *q, List *targetlist, AttrNumber attnum,
				CheckContext *cxt)
{
	ListCell   *lc;

	foreach(lc, targetlist)
	{
		TargetEntry *tle = (TargetEntry *) lfirst(lc);

		if (tle->resno == attnum && !tle->resjunk)
			AllowTarget(q, tle->expr, cxt);
	}
}

/*
 * Constants of an INSERT, UPDATE or MERGE that go to the stage column of a
 * tracked table whose resolving trigger fires first: the trigger resolves
 * them in the tracked pipeline before the row is stored.
 */
static void
AllowResolvedByTrigger(Query *q, CheckContext *cxt)
{
	RangeTblEntry *rte;
	Relation	rel;
	AttrNumber	insert_col;
	AttrNumber	update_col;

	if ((q->commandType != CMD_INSERT && q->commandType != CMD_UPDATE &&
		 q->commandType != CMD_MERGE) || q->resultRelation <= 0)
		return;
	rte = rt_fetch(q->resultRelation, q->rtable);
	if (rte->rtekind != RTE_RELATION)
		return;
	rel = table_open(rte->relid, NoLock);
	insert_col = ResolvedStageColumn(rel, CMD_INSERT);
	update_col = ResolvedStageColumn(rel, CMD_UPDATE);
	table_close(rel, NoLock);

	if (q->commandType == CMD_INSERT && insert_col != InvalidAttrNumber)
		AllowTargetList(q, q->targetList, insert_col, cxt);
	if (q->commandType == CMD_UPDATE && update_col != InvalidAttrNumber)
		AllowTargetList(q, q->targetList, update_col, cxt);
	if (q->commandType == CMD_INSERT && q->onConflict != NULL &&
		update_col != InvalidAttrNumber)
		AllowTargetList(q, q->onConflict->onConflictSet, update_col, cxt);
	if (q->commandType == CMD_MERGE)
	{
		ListCell   *lc;

		foreach(lc, q->mergeActionList)
		{
			MergeAction *action = (MergeAction *) lfirst(lc);
			AttrNumber	col = action->commandType == CMD_INSERT ? insert_col :
				update_col;

			if (col != InvalidAttrNumber)
				AllowTargetList(q, action->targetList, col, cxt);
		}
	}
}

/* Raise the ambiguity error for a constant, pointing at the literal */
static void
ReportConst(Const *c, CheckContext *cxt)
{
	ParseCallbackState pcb;

	setup_parser_errposition_callback(&pcb, cxt->pstate, c->location);
	DealStageReportAmbiguous(DatumGetDealStage(c->constvalue));
}

static bool CheckWalker(Node *node, CheckContext *cxt);

/* Check one query and the queries nested in it */
static void
CheckQuery(Query *q, CheckContext *cxt)
{
	List	   *saved = cxt->allowed;

	cxt->allowed = NIL;
	AllowResolvedByTrigger(q, cxt);
	query_tree_walker(q, CheckWalker, cxt, 0);
	if (q->commandType == CMD_UTILITY && q->utilityStmt != NULL)
	{
		Node	   *stmt = q->utilityStmt;

		if (IsA(stmt, ExplainStmt))
			CheckWalker(((ExplainStmt *) stmt)->query, cxt);
		else if (IsA(stmt, CreateTableAsStmt))
			CheckWalker(((CreateTableAsStmt *) stmt)->query, cxt);
		else if (IsA(stmt, DeclareCursorStmt))
			CheckWalker(((DeclareCursorStmt *) stmt)->query, cxt);
		else if (IsA(stmt, CallStmt))
			CheckWalker((Node *) ((CallStmt *) stmt)->funcexpr, cxt);
	}
	cxt->allowed = saved;
}

/*
 * Resolve unresolved constants under a bound typmod coercion; refuse the
 * others unless allowed.
 */
static bool
CheckWalker(Node *node, CheckContext *cxt)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		CheckQuery((Query *) node, cxt);
		return false;
	}
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == cxt->coerce_fn &&
		list_length(((FuncExpr *) node)->args) >= 2)
	{
		FuncExpr   *f = (FuncExpr *) node;
		Node	   *arg = linitial(f->args);
		Const	   *typmod = (Const *) lsecond(f->args);

		if (IsUnresolvedConst(arg, cxt) && IsA(typmod, Const) &&
			!typmod->constisnull && DatumGetInt32(typmod->constvalue) >= 0)
		{
			Const	   *c = (Const *) arg;
			ParseCallbackState pcb;
			DealStage	resolved;

			setup_parser_errposition_callback(&pcb, cxt->pstate, c->location);
			resolved = DealStageResolveTypmod(DatumGetDealStage(c->constvalue),
											  DatumGetInt32(typmod->constvalue));
			cancel_parser_errposition_callback(&pcb);
			c->constvalue = DealStageGetDatum(resolved);
		}
	}
	if (IsUnresolvedConst(node, cxt))
	{
		if (!list_member_ptr(cxt->allowed, node))
			ReportConst((Const *) node, cxt);
		return false;
	}
	return expression_tree_walker(node, CheckWalker, (void *) cxt);
}

/*
 * The function of the cast from source to target, or InvalidOid; from
 * funnel.deal_stage to itself, its typmod coercion (also bare_names.c)
 */
Oid
FunnelCastFunction(Oid source, Oid target)
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

/* Forget the pending literals of one query; true if it had any */
static bool
ForgetPending(ParseState *pstate)
{
	bool		found = false;
	ListCell   *lc;

	foreach(lc, pending)
	{
		PendingLiteral *p = (PendingLiteral *) lfirst(lc);

		if (p->root == pstate && p->sourcetext == pstate->p_sourcetext)
		{
			pending = foreach_delete_current(pending, lc);
			pfree(p);
			found = true;
		}
	}
	return found;
}

/* post_parse_analyze_hook: check a query that read unresolved literals */
static void
FunnelPostParseAnalyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	bool		had_pending;

	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	had_pending = pending != NIL && ForgetPending(pstate);

	/*
	 * A ROLLBACK or COMMIT parsed in a failed transaction has nothing to
	 * rewrite, and its transaction may not read catalogs any more
	 * (PostgreSQL 17 and later: "ResourceOwnerEnlarge called after release
	 * started")
	 */
	if (query->commandType == CMD_UTILITY && !IsTransactionState())
		return;
	/* names compared with a stage column are read in its context first */
	FunnelRewriteBareNames(pstate, query);
	if (had_pending)
	{
		CheckContext cxt;
		Oid			nsp = get_namespace_oid(FUNNEL_SCHEMA, false);

		cxt.pstate = pstate;
		cxt.stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										 CStringGetDatum("deal_stage"),
										 ObjectIdGetDatum(nsp));
		cxt.coerce_fn = FunnelCastFunction(cxt.stage_type, cxt.stage_type);
		cxt.allowed = NIL;
		CheckWalker((Node *) query, &cxt);
	}
}

/* Raise the ambiguity error for a literal no check has seen */
static void
ReportPending(int index)
{
	PendingLiteral *p = (PendingLiteral *) list_nth(pending, index);
	Oid			label = p->label;

	pending = list_truncate(pending, index);
	DealStageReportAmbiguous(MakeDealStage(InvalidOid, label));
}

/*
 * ProcessUtility_hook: a literal read unresolved while a utility statement
 * ran, in a parse that no query check saw (CREATE RULE, BEGIN ATOMIC), makes
 * the statement fail.
 */
static void
FunnelProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	int			before = list_length(pending);
	int			declared = FunnelDeclaredParams;

	/* PREPARE q(type, ...): bare_names.c keeps the declared types */
	if (IsA(pstmt->utilityStmt, PrepareStmt))
		FunnelDeclaredParams =
			list_length(((PrepareStmt *) pstmt->utilityStmt)->argtypes);
	PG_TRY();
	{
		if (prev_ProcessUtility_hook)
			prev_ProcessUtility_hook(pstmt, queryString, readOnlyTree, context,
									 params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		FunnelDeclaredParams = declared;
	}
	PG_END_TRY();
	if (list_length(pending) > before)
		ReportPending(before);
}

/* At commit, no literal may be left unchecked; at abort, forget them */
static void
FunnelXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NIL)
				ReportPending(0);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			list_free_deep(pending);
			pending = NIL;
			break;
	}
}

/* Forget the literals of an aborted subtransaction */
static void
FunnelSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, pending)
	{
		PendingLiteral *p = (PendingLiteral *) lfirst(lc);

		if (p->subid == mySubid)
		{
			pending = foreach_delete_current(pending, lc);
			pfree(p);
		}
	}
}

/* Called once from _PG_init */
void
FunnelUnresolvedInit(void)
{
	/* the parser's error callback marks input calls for SQL literals */
	compat_FindParserCallback();
	/* and parses whose untyped parameters bare_names.c reads as text */
	compat_FindVarParamHook();

	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = FunnelPostParseAnalyze;
	prev_ProcessUtility_hook = ProcessUtility_hook;
	ProcessUtility_hook = FunnelProcessUtility;
	RegisterXactCallback(FunnelXactCallback, NULL);
	RegisterSubXactCallback(FunnelSubXactCallback, NULL);
}
