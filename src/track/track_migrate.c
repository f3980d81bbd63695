/*-------------------------------------------------------------------------
 *
 * track_migrate.c
 *	  Schema migrations of a tracked table: the entry point of
 *	  funnel.set_rule(), and the layout check of an existing history that
 *	  funnel.track() re-attaches (after funnel.untrack(), or after a
 *	  pg_dump -n of the table's schema restored without funnel's
 *	  configuration rows).
 *
 * The SQL side (sql/install/track/track_migrate.sql) holds the bodies and the
 * event trigger that follows renamed columns and refuses key changes.
 *
 * src/track/track_migrate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "track.h"

/* funnel.set_rule(): ownership check, then funnel_internal.set_rule() */
PG_FUNCTION_INFO_V1(funnel_set_rule);
Datum
funnel_set_rule(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[2] = {REGCLASSOID, TEXTOID};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the tracked table must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the rule must not be null"),
				 errhint("The rules are forward, sequential and any.")));
	/* the lock track() takes: no move is checked while the rule changes */
	RequireOwner(PG_GETARG_OID(0), ShareRowExclusiveLock);
	return CallBody(fcinfo, "set_rule", 2, argtypes);
}

PG_FUNCTION_INFO_V1(funnel_check_history_layout);

/*
 * funnel_internal.check_history_layout(deals regclass, history regclass,
 *										ptype regtype, key_column name)
 *
 * The checks the triggers make of a history before writing it
 * (TrackValidateHistory: the layout of history_layout.h with deal_id of
 * the key's type and stage of the pipeline with enum type ptype, the owner
 * of the deals table, no constraint funnel cannot enforce), made by
 * funnel.track() before it re-attaches an existing history.  The history
 * is locked as the triggers' writes lock it, until the end of the
 * transaction.
 */
Datum
funnel_check_history_layout(PG_FUNCTION_ARGS)
{
	Relation	deals;
	Relation	history;
	TrackedTable t;
	AttrNumber	key;
	Form_pg_attribute att;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of check_history_layout must not be null")));
	deals = relation_open(PG_GETARG_OID(0), AccessShareLock);
	/* the owner first, from the catalog, before locking another's table */
	TrackCheckHistoryOwner(PG_GETARG_OID(1), deals);
	history = relation_open(PG_GETARG_OID(1), RowExclusiveLock);

	memset(&t, 0, sizeof(t));
	t.relid = RelationGetRelid(deals);
	t.pipeline = PG_GETARG_OID(2);
	t.stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								   CStringGetDatum("deal_stage"),
								   ObjectIdGetDatum(get_namespace_oid(FUNNEL_SCHEMA, false)));
	key = TrackDealsColumn(deals, NameStr(*PG_GETARG_NAME(3)), "key column", false);
	att = TupleDescAttr(RelationGetDescr(deals), key - 1);
	t.pk_type = att->atttypid;
	t.pk_typmod = att->atttypmod;
	t.pk_collation = att->attcollation;
	TrackValidateHistory(&t, deals, history);

	relation_close(history, NoLock);
	relation_close(deals, NoLock);
	PG_RETURN_VOID();
}

/*
 * Does the history funnel.track() would create for the deals table exist
 * already (<table>_stage_history in the table's schema)?  Then track()
 * re-attaches it.
 */
bool
TrackHistoryExists(Oid deals)
{
	char	   *relname = get_rel_name(deals);
	char	   *name;

	if (relname == NULL)
		return false;
	name = psprintf("%s_stage_history", relname);
	if (strlen(name) >= NAMEDATALEN)
		return false;			/* track() reports the name too long */
	return OidIsValid(get_relname_relid(name, get_rel_namespace(deals)));
}

/*
 * After funnel.track() re-attached a history: make its open visits
 * consistent with the deals (funnel_internal.track_reconcile()), as the
 * caller, the owner of both tables, so that the history's DEFAULTs,
 * triggers and index expressions run with the owner's privileges.  EXECUTE
 * on the function is revoked from PUBLIC; a call from C checks none.
 */
void
TrackReconcile(Oid deals)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Oid			fn;

	fn = LookupFuncName(list_make2(makeString(FUNNEL_INTERNAL_SCHEMA),
								   makeString("track_reconcile")),
						1, argtypes, false);
	(void) OidFunctionCall1(fn, ObjectIdGetDatum(deals));
}

/*
 * Refuse, before it runs, ALTER TABLE ... ALTER ... TYPE of the key column
 * of a tracked table: PostgreSQL would refuse it too (the key is in the
 * column list of the trigger funnel_track_key), but with no way out; the
 * history's deal_id must change with it, while the table is not tracked.
 */
static void
CheckKeyTypeChange(Oid relid, const char *column)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2];
	int			ret;

	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetTextDatum(column);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the tables' names schema-qualified, whatever the search_path */
	ret = SPI_execute_with_args("SELECT pg_catalog.format('%I.%I', dn.nspname, dc.relname),"
								" pg_catalog.format('%I.%I', hn.nspname, hc.relname), t.pipeline,"
								" pg_catalog.format_type(a.atttypid, a.atttypmod)"
								" FROM funnel.tracked_table t"
								" JOIN pg_catalog.pg_class dc ON dc.oid = t.deals"
								" JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace"
								" JOIN pg_catalog.pg_class hc ON hc.oid = t.history"
								" JOIN pg_catalog.pg_namespace hn ON hn.oid = hc.relnamespace"
								" JOIN pg_catalog.pg_attribute a ON a.attrelid = t.history AND a.attnum = 1"
								" WHERE t.deals OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
								" AND t.key_column OPERATOR(pg_catalog.=) $2::pg_catalog.name",
								2, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %d", ret);
	if (SPI_processed == 1)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *deals = SPI_getvalue(tuple, desc, 1);
		char	   *history = SPI_getvalue(tuple, desc, 2);
		char	   *pipeline = SPI_getvalue(tuple, desc, 3);
		char	   *hist_type = SPI_getvalue(tuple, desc, 4);

		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the type of key column \"%s\" of tracked table %s",
						column, deals),
				 errdetail("Its history %s refers to deals by deal_id of type %s; both change together, while the table is not tracked.",
						   history, hist_type),
				 errhint("In one transaction: SELECT funnel.untrack(%s); change the key of %s; change deal_id of %s to match (ALTER TABLE ... ALTER deal_id TYPE ... USING ...); SELECT funnel.track(%s, %s), which re-attaches the history (README \"Schema migrations\").",
						 quote_literal_cstr(deals), deals, history,
						 quote_literal_cstr(deals), quote_literal_cstr(pipeline))));
	}
	SPI_finish();
}

PG_FUNCTION_INFO_V1(funnel_track_migrate_ddl_start);

/*
 * funnel_internal.track_migrate_ddl_start(): ddl_command_start event
 * trigger on ALTER TABLE; refuses a change of the type of a tracked key
 * (CheckKeyTypeChange).  The other migrations are checked at
 * ddl_command_end, by funnel_internal.track_migrate_ddl_end().
 */
Datum
funnel_track_migrate_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	AlterTableStmt *stmt;
	Oid			relid;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("track_migrate_ddl_start() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree == NULL || !IsA(trigdata->parsetree, AlterTableStmt))
		PG_RETURN_VOID();
	stmt = (AlterTableStmt *) trigdata->parsetree;
	if (stmt->relation == NULL)
		PG_RETURN_VOID();
	/* a lookup only: ALTER TABLE locks and looks the table up again */
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		PG_RETURN_VOID();
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

		if (IsA(cmd, AlterTableCmd) && cmd->subtype == AT_AlterColumnType &&
			cmd->name != NULL)
			CheckKeyTypeChange(relid, cmd->name);
	}
	PG_RETURN_VOID();
}
