/*-------------------------------------------------------------------------
 *
 * track_citus.c
 *	  Tracking of a table hash-distributed by Citus: map the shard a
 *	  trigger fires on to its co-located history shard on the same node.
 *
 * funnel.track() on a distributed table creates the history table as a
 * distributed table co-located with the deals (both distributed by the deal
 * key) and creates the triggers on the distributed table; Citus copies them
 * to every shard, arguments included.  funnel.tracked_table exists only on
 * the coordinator, so those triggers carry their tracking in their
 * arguments: 'citus', then name=value pairs named like the columns of
 * funnel.tracked_table, in any order (read by track_cache.c):
 *
 *	  deals=, history=, pipeline=, stage_column=, rule=, key_column=,
 *	  and changed_at_column= when the table has an effective-time column
 *
 * (a table of several pipelines has pipelines={b2b,retail} instead of
 * pipeline=, the text form of a text[] array).
 *
 * A shard is named <table>_<shardid> (Citus's shard_name()).  From the
 * shard id, pg_dist_shard gives the shard of the history table covering the
 * same hash range (co-located shards are placed on the same node), and
 * pg_dist_partition that both tables are hash-distributed, co-located, by
 * the key and by deal_id.  Nothing of the arguments is trusted: the shard
 * must be a shard of the table they name, and the history shard found is
 * then validated like a local history table (owner, columns, index) by
 * track_cache.c and track_validate.c.  The triggers never write a shell
 * table (the empty distributed table itself): on it only TRUNCATE fires,
 * and closes the open visits through a distributed UPDATE.
 *
 * Runs once per cache build (after a relcache invalidation), not per row.
 *
 * src/citus/track_citus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"

#include "track.h"

/*
 * The names of the shard of the deals table and of its history shard, and
 * both tables' set-up.  The shard names are resolved by the caller through
 * the syscache: Citus hides shards from queries on pg_class in a backend
 * that is not its own (a client connected to a worker whose write Citus
 * executes locally), so a query could not find them there.
 */
static const char *const shard_query =
"SELECT (SELECT n[pg_catalog.array_upper(n, 1)]"
"          FROM pg_catalog.parse_ident(pg_catalog.shard_name(pd.logicalrelid, s.shardid)) n),"
"       (SELECT n[pg_catalog.array_upper(n, 1)]"
"          FROM pg_catalog.parse_ident(pg_catalog.shard_name(ph.logicalrelid, h.shardid)) n),"
"       pd.partmethod OPERATOR(pg_catalog.=) 'h' AND ph.partmethod OPERATOR(pg_catalog.=) 'h'"
"         AND pd.colocationid OPERATOR(pg_catalog.=) ph.colocationid,"
"       pg_catalog.column_to_column_name(pd.logicalrelid, pd.partkey),"
"       pg_catalog.column_to_column_name(ph.logicalrelid, ph.partkey)"
"  FROM pg_catalog.pg_dist_partition pd"
"  JOIN pg_catalog.pg_dist_partition ph ON ph.logicalrelid OPERATOR(pg_catalog.=) $3"
"  LEFT JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) pd.logicalrelid"
"        AND s.shardid OPERATOR(pg_catalog.=) $1"
"  LEFT JOIN pg_catalog.pg_dist_shard h ON h.logicalrelid OPERATOR(pg_catalog.=) ph.logicalrelid"
"        AND h.shardminvalue OPERATOR(pg_catalog.=) s.shardminvalue"
"        AND h.shardmaxvalue OPERATOR(pg_catalog.=) s.shardmaxvalue"
" WHERE pd.logicalrelid OPERATOR(pg_catalog.=) $2";

/* The hint of every mismatch: track again */
static int
RetrackHint(const char *deals_name)
{
	return errhint("Call funnel.untrack('%s') and funnel.track() again on the distributed table.",
				   deals_name);
}

/* A relation named by a trigger argument, or an error */
static Oid
ArgRelation(Relation rel, const char *name)
{
	List	   *names;
	Oid			relid;

	names = compat_stringToQualifiedNameList(name);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s\" named by a funnel trigger of \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errdetail("A table distributed, or tracked, in a transaction is known to the other connections of the workers only after the transaction commits."),
				 errhint("Commit create_distributed_table() and funnel.track() before writing the table.")));
	return relid;
}

/* The shard id of a shard relation <table>_<shardid>, or 0 */
static int64
ShardIdOfName(const char *relname)
{
	const char *underscore = strrchr(relname, '_');
	const char *p;
	int64		shardid = 0;

	if (underscore == NULL || underscore[1] == '\0')
		return 0;
	for (p = underscore + 1; *p; p++)
	{
		if (*p < '0' || *p > '9' || shardid > PG_INT64_MAX / 10 - 10)
			return 0;
		shardid = shardid * 10 + (*p - '0');
	}
	return shardid;
}

/*
 * The history relation the triggers of rel write, from the names in their
 * arguments: the co-located history shard when rel is a shard of the
 * distributed deals table, the distributed history table when rel is that
 * table itself (*shell set).  Errors unless Citus's metadata says the deals
 * table and the history table are hash-distributed, co-located, by the key
 * column and by deal_id, and rel is one of the deals table's shards.
 */
Oid
TrackCitusHistory(Relation rel, const char *deals_name,
				  const char *history_name, const char *key_column,
				  bool *shell)
{
	Oid			argtypes[3] = {INT8OID, OIDOID, OIDOID};
	Datum		values[3];
	Oid			deals;
	Oid			history;
	Oid			deals_shard = InvalidOid;
	Oid			history_shard = InvalidOid;
	bool		colocated = false;
	char	   *deals_column = NULL;
	char	   *history_column = NULL;
	int64		shardid;
	bool		found;
	MemoryContext caller = CurrentMemoryContext;

	if (!OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("funnel trigger of table \"%s\" names distributed table \"%s\", but Citus is not installed",
						RelationGetRelationName(rel), deals_name),
				 errdetail("Triggers with arguments track the shards of a table distributed by Citus."),
				 errhint("Drop the funnel_track_* triggers, or call funnel.track() again.")));
	deals = ArgRelation(rel, deals_name);
	history = ArgRelation(rel, history_name);
	*shell = (deals == RelationGetRelid(rel));
	shardid = *shell ? 0 : ShardIdOfName(RelationGetRelationName(rel));

	values[0] = Int64GetDatum(shardid);
	values[1] = ObjectIdGetDatum(deals);
	values[2] = ObjectIdGetDatum(history);
	SPI_connect();
	if (SPI_execute_with_args(shard_query, 3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata of \"%s\"", deals_name);
	found = SPI_processed == 1;
	if (found)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		char	   *name;

		/* a shard is in the schema of its distributed table */
		name = SPI_getvalue(tuple, desc, 1);
		if (name != NULL)
			deals_shard = get_relname_relid(name, get_rel_namespace(deals));
		name = SPI_getvalue(tuple, desc, 2);
		if (name != NULL)
			history_shard = get_relname_relid(name, get_rel_namespace(history));
		d = SPI_getbinval(tuple, desc, 3, &isnull);
		colocated = !isnull && DatumGetBool(d);
		/* copied out of SPI's memory */
		deals_column = SPI_getvalue(tuple, desc, 4);
		if (deals_column != NULL)
			deals_column = MemoryContextStrdup(caller, deals_column);
		history_column = SPI_getvalue(tuple, desc, 5);
		if (history_column != NULL)
			history_column = MemoryContextStrdup(caller, history_column);
	}
	SPI_finish();

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tables \"%s\" and \"%s\" of a funnel trigger of \"%s\" are not both distributed",
						deals_name, history_name, RelationGetRelationName(rel)),
				 errdetail("The triggers write the history only into the co-located shard of a distributed history table."),
				 RetrackHint(deals_name)));
	if (!colocated || deals_column == NULL || history_column == NULL ||
		strcmp(deals_column, key_column) != 0 ||
		strcmp(history_column, "deal_id") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tracked table \"%s\" and its history table \"%s\" are not co-located by the deal key",
						deals_name, history_name),
				 errdetail("Both must be hash-distributed and co-located, \"%s\" by column \"%s\" and \"%s\" by column \"deal_id\".",
						   deals_name, key_column, history_name),
				 RetrackHint(deals_name)));
	if (*shell)
		return history;
	if (deals_shard != RelationGetRelid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not a shard of tracked table \"%s\"",
						RelationGetRelationName(rel), deals_name),
				 errdetail("funnel's triggers with arguments write only the history of the shards of the table they name."),
				 errhint("Drop the funnel_track_* triggers of \"%s\".",
						 RelationGetRelationName(rel))));
	if (!OidIsValid(history_shard))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the history shard of shard \"%s\" of tracked table \"%s\" is not on this node",
						RelationGetRelationName(rel), deals_name),
				 errdetail("The shard of \"%s\" covering the same hash range must be placed with the deals shard.",
						   history_name),
				 RetrackHint(deals_name)));
	return history_shard;
}
