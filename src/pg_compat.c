/*-------------------------------------------------------------------------
 *
 * pg_compat.c
 *	  The functions of pg_compat.h: version differences that need a body,
 *	  and the only uses of PostgreSQL's internal headers and private
 *	  symbols.  See pg_compat.h for the rule.
 *
 * src/pg_compat.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/copy.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_param.h"
#include "parser/parse_relation.h"
#include "utils/rel.h"

/*
 * Internal header: CopyFromStateData (the table and the column COPY FROM
 * is reading) is not part of the extension API.  Its fields rel and
 * cur_attname exist unchanged in 15 to 18.
 */
#include "commands/copyfrom_internal.h"

/*
 * Internal header: toast_compress_datum(value, cmethod), the same in 15 to
 * 18 (PG 14 added cmethod).
 */
#include "access/toast_internals.h"

#include "pg_compat.h"

/* parse_node.c's pcb_error_callback, which is static there */
static void (*parser_callback) (void *arg) = NULL;

void
compat_InitSingleRangeTable(EState *estate, RangeTblEntry *rte,
							Bitmapset *inserted, Bitmapset *updated)
{
#if PG_VERSION_NUM >= 160000
	List	   *perminfos = NIL;
	RTEPermissionInfo *perminfo;

	/* since 16 the columns live in an RTEPermissionInfo (as in worker.c) */
	perminfo = addRTEPermissionInfo(&perminfos, rte);
	perminfo->insertedCols = inserted;
	perminfo->updatedCols = updated;
#else
	rte->insertedCols = inserted;
	rte->updatedCols = updated;
#endif
#if PG_VERSION_NUM >= 180000
	ExecInitRangeTable(estate, list_make1(rte), perminfos,
					   bms_make_singleton(1));
#elif PG_VERSION_NUM >= 160000
	ExecInitRangeTable(estate, list_make1(rte), perminfos);
#else
	ExecInitRangeTable(estate, list_make1(rte));
#endif
}

void
compat_ExecInsertIndexTuples(ResultRelInfo *rri, TupleTableSlot *slot,
							 EState *estate, bool update,
							 bool only_summarizing)
{
#if PG_VERSION_NUM >= 160000
	ExecInsertIndexTuples(rri, slot, estate, update, false, NULL, NIL,
						  only_summarizing);
#else
	Assert(!only_summarizing);
	ExecInsertIndexTuples(rri, slot, estate, update, false, NULL, NIL);
#endif
}

/*
 * Find the parser's errposition callback: set one up on a dummy parse
 * state and read back the function it installed.  Called once from
 * _PG_init (through FunnelUnresolvedInit).
 */
void
compat_FindParserCallback(void)
{
	ParseState	dummy;
	ParseCallbackState pcb;

	memset(&dummy, 0, sizeof(dummy));
	setup_parser_errposition_callback(&pcb, &dummy, -1);
	parser_callback = pcb.errcallback.callback;
	cancel_parser_errposition_callback(&pcb);
}

bool
compat_IsParserCallback(ErrorContextCallback *cb, ParseState **pstate,
						int *location)
{
	ParseCallbackState *pcb;

	if (parser_callback == NULL || cb->callback != parser_callback)
		return false;
	/* the callback's argument is the ParseCallbackState it was set up with */
	pcb = (ParseCallbackState *) cb->arg;
	*pstate = pcb->pstate;
	*location = pcb->location;
	return true;
}

bool
compat_IsCopyFromCallback(ErrorContextCallback *cb, Relation *rel,
						  const char **attname)
{
	CopyFromState cstate;

	if (cb->callback != CopyFromErrorCallback)
		return false;
	cstate = (CopyFromState) cb->arg;
	if (cstate == NULL)
		return false;
	*rel = cstate->rel;
	*attname = cstate->cur_attname;
	return true;
}

/* parse_param.c's private state of a parse with variable parameters */
typedef struct compat_VarParamState
{
	Oid		  **paramTypes;
	int		   *numParams;
} compat_VarParamState;

static void *var_paramref_hook = NULL;

void
compat_FindVarParamHook(void)
{
	ParseState	dummy;
	Oid		   *types = NULL;
	int			n = 0;

	memset(&dummy, 0, sizeof(dummy));
	setup_parse_variable_parameters(&dummy, &types, &n);
	var_paramref_hook = (void *) dummy.p_paramref_hook;
	if (dummy.p_ref_hook_state != NULL)
		pfree(dummy.p_ref_hook_state);
}

bool
compat_VariableParams(ParseState *pstate, Oid ***paramTypes, int **numParams)
{
	compat_VarParamState *state;

	if (var_paramref_hook == NULL || pstate == NULL ||
		(void *) pstate->p_paramref_hook != var_paramref_hook ||
		pstate->p_ref_hook_state == NULL)
		return false;
	state = (compat_VarParamState *) pstate->p_ref_hook_state;
	*paramTypes = state->paramTypes;
	*numParams = state->numParams;
	return true;
}

Datum
compat_compress_datum(Datum value, char cmethod)
{
	return toast_compress_datum(value, cmethod);
}
