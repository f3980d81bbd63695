/*-------------------------------------------------------------------------
 *
 * pipeline_api.c
 *	  The entry points of the pipeline functions (funnel.create_pipeline(),
 *	  funnel.add_stage() ... funnel.alter_pipeline_owner()), which hand the
 *	  calling role to their SECURITY DEFINER bodies.
 *
 * A pipeline belongs to a role; only roles with its privileges (and
 * superusers) change it.  The functions that change pipelines must run as
 * the extension owner, since they alter the enum types in funnel_pipeline
 * and write funnel's configuration tables, and inside a SECURITY DEFINER
 * function current_user is the definer: the caller is lost.  So each
 * funnel.<name>() is this SECURITY INVOKER C function, which sees the
 * caller (current_user, so SET ROLE counts, as for PostgreSQL's own
 * ownership checks) and calls funnel._<name>_as(caller, args...), the
 * SECURITY DEFINER plpgsql function that checks ownership, runs the body
 * and logs the change for Citus.  EXECUTE on funnel._<name>_as() is revoked
 * from PUBLIC; a direct call from C checks no EXECUTE privilege, so a
 * caller cannot name another role as caller.
 *
 * src/pipeline/pipeline_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "funnel.h"

/* the most arguments of a pipeline function, plus the caller */
#define PIPELINE_API_MAX_ARGS 8

/* funnel.<name>(args): funnel_internal.<name>_as(current_user, args) */
PG_FUNCTION_INFO_V1(funnel_pipeline_entry);
Datum
funnel_pipeline_entry(PG_FUNCTION_ARGS)
{
	LOCAL_FCINFO(call, PIPELINE_API_MAX_ARGS);
	Oid			self = fcinfo->flinfo->fn_oid;
	Oid			argtypes[PIPELINE_API_MAX_ARGS];
	Oid		   *selftypes;
	int			nargs;
	char	   *name;
	Oid			body;
	FmgrInfo	flinfo;
	Datum		result;
	int			i;

	name = get_func_name(self);
	if (name == NULL)
		elog(ERROR, "cache lookup failed for function %u", self);
	get_func_signature(self, &selftypes, &nargs);
	if (nargs + 1 > PIPELINE_API_MAX_ARGS || nargs != PG_NARGS())
		elog(ERROR, "funnel.%s() has an unexpected signature", name);
	argtypes[0] = OIDOID;
	for (i = 0; i < nargs; i++)
		argtypes[i + 1] = selftypes[i];

	body = LookupFuncName(list_make2(makeString(FUNNEL_INTERNAL_SCHEMA),
									 makeString(psprintf("%s_as", name))),
						  nargs + 1, argtypes, false);
	fmgr_info(body, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs + 1, fcinfo->fncollation,
							 NULL, NULL);
	call->args[0].value = ObjectIdGetDatum(GetUserId());
	call->args[0].isnull = false;
	for (i = 0; i < nargs; i++)
		call->args[i + 1] = fcinfo->args[i];
	result = FunctionCallInvoke(call);
	fcinfo->isnull = call->isnull;
	return result;
}
