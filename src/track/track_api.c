/*-------------------------------------------------------------------------
 *
 * track_api.c
 *	  The entry points of funnel.track() and funnel.untrack(), which check
 *	  that the caller owns the deals table, and the equality operator
 *	  funnel.check_history() compares keys with.
 *
 * funnel.track() and funnel.untrack() are SECURITY INVOKER C functions, so
 * they see the real caller: they require ownership of the deals table, as
 * CREATE TRIGGER does, then call funnel_internal.track() / funnel_internal.untrack(), the
 * plpgsql bodies that run as the extension owner (SECURITY DEFINER) because
 * they write funnel's configuration tables.  EXECUTE on the bodies is
 * revoked from PUBLIC; a direct call from C checks no EXECUTE privilege, so
 * the bodies are reachable only through these entry points.
 *
 * src/track/track_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "track.h"

/* Does the current user own the relation (or is a member of its owner)? */
static bool
OwnsRelation(Oid relid)
{
	return compat_relation_ownercheck(relid, GetUserId());
}

/*
 * Require ownership of a table, then lock it in the given mode; checked
 * again once locked (the owner cannot change while we hold the lock).
 * Also used by live.c.
 */
void
RequireOwner(Oid relid, LOCKMODE lockmode)
{
	char		relkind;
	char	   *relname;

	relname = get_rel_name(relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	relkind = get_rel_relkind(relid);
	if (!OwnsRelation(relid))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), relname);
	LockRelationOid(relid, lockmode);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s\" was dropped", relname)));
	if (!OwnsRelation(relid))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), relname);
}

/*
 * Call funnel_internal.<name>(args of fcinfo), bypassing its EXECUTE
 * privilege; also used by live.c
 */
Datum
CallBody(FunctionCallInfo fcinfo, const char *name, int nargs,
		 const Oid *argtypes)
{
	LOCAL_FCINFO(call, 5);
	FmgrInfo	flinfo;
	Oid			fn;
	Datum		result;
	int			i;

	Assert(nargs <= 5);
	fn = LookupFuncName(list_make2(makeString(FUNNEL_INTERNAL_SCHEMA), makeString(pstrdup(name))),
						nargs, argtypes, false);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, fcinfo->fncollation,
							 NULL, NULL);
	for (i = 0; i < nargs; i++)
		call->args[i] = fcinfo->args[i];
	result = FunctionCallInvoke(call);
	fcinfo->isnull = call->isnull;
	return result;
}

/* funnel.track(): ownership check, then funnel_internal.track() */
PG_FUNCTION_INFO_V1(funnel_track);
Datum
funnel_track(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[5] = {REGCLASSOID, TEXTOID, NAMEOID, NAMEOID, TEXTOID};
	bool		reattach;
	Datum		result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table to track must not be null")));
	/* the lock CREATE TRIGGER takes */
	RequireOwner(PG_GETARG_OID(0), ShareRowExclusiveLock);
	/* an existing history is re-attached (track_migrate.c) */
	reattach = TrackHistoryExists(PG_GETARG_OID(0));
	result = CallBody(fcinfo, "track", 5, argtypes);
	if (reattach)
		TrackReconcile(PG_GETARG_OID(0));
	return result;
}

/*
 * funnel.track(deals, pipelines text[], ...), a table that holds the deals
 * of several pipelines: ownership check, then funnel_internal.track_many()
 */
PG_FUNCTION_INFO_V1(funnel_track_many);
Datum
funnel_track_many(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[5] = {REGCLASSOID, TEXTARRAYOID, NAMEOID, NAMEOID, TEXTOID};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table to track must not be null")));
	RequireOwner(PG_GETARG_OID(0), ShareRowExclusiveLock);
	return CallBody(fcinfo, "track_many", 5, argtypes);
}

/* funnel.untrack(): ownership check, then funnel_internal.untrack() */
PG_FUNCTION_INFO_V1(funnel_untrack);
Datum
funnel_untrack(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[1] = {REGCLASSOID};

	/* the lock DROP TRIGGER takes */
	RequireOwner(PG_GETARG_OID(0), AccessExclusiveLock);
	return CallBody(fcinfo, "untrack", 1, argtypes);
}

/*
 * OPERATOR(schema.name) of the equality operator of a type's default btree
 * (or hash) operator class: the = of ltree or citext lives in the schema of
 * their extension, which no fixed search_path names.
 */
PG_FUNCTION_INFO_V1(funnel_equality_operator);
Datum
funnel_equality_operator(PG_FUNCTION_ARGS)
{
	Oid			typid = PG_GETARG_OID(0);
	TypeCacheEntry *tce = lookup_type_cache(typid, TYPECACHE_EQ_OPR);
	HeapTuple	tuple;
	Form_pg_operator op;
	char	   *result;

	if (!OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("type %s has no default equality operator",
						format_type_be(typid)),
				 errhint("Give the type a default btree operator class.")));
	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(tce->eq_opr));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", tce->eq_opr);
	op = (Form_pg_operator) GETSTRUCT(tuple);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tuple);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
