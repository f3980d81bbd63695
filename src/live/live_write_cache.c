/*-------------------------------------------------------------------------
 *
 * live_write_cache.c
 *	  What the live summaries' UPDATE trigger (live_write.c) keeps of a
 *	  table, per trigger OID: column numbers, the generated trigger function
 *	  it falls back to, and its prepared statements; and the owner and
 *	  search_path it runs with.
 *
 * A trigger is created anew by every funnel.enable_live(), so its OID names
 * one configuration.  Entries follow src/funnel_cache.h's idiom and are
 * made stale by a relcache invalidation of the deals table, of its
 * summary table or of its history, which any ALTER TABLE, CREATE or DROP
 * INDEX sends (column numbers and the index are cached).
 *
 * src/live/live_write_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "access/table.h"
#include "access/heapam.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class_d.h"
#include "utils/tuplestore.h"

#include "funnel.h"
#include "funnel_cache.h"
#include "journey.h"
#include "funnel_summary.h"
#include "live_write.h"

static HTAB *live_write_entries = NULL;

/* Relcache invalidation: only marks entries stale (funnel_cache.h rule 1) */
static void
LiveWriteInvalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	LiveWriteEntry *e;

	if (live_write_entries == NULL)
		return;
	hash_seq_init(&status, live_write_entries);
	while ((e = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || e->relid == relid || e->live_relid == relid ||
			e->history_relid == relid)
			FunnelCacheInvalidate(&e->state);
}

/* Run as the table's owner (search_path: LiveWriteSearchPath) */
void
LiveWriteEnter(Relation rel, Oid *save_userid, int *save_sec_context)
{
	GetUserIdAndSecContext(save_userid, save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   *save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
LiveWriteLeave(Oid save_userid, int save_sec_context)
{
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * A safe search_path for SQL run as the owner (the generated SECURITY
 * DEFINER function's); returns the GUC level to end with AtEOXact_GUC
 */
int
LiveWriteSearchPath(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

static AttrNumber
LiveAttnum(Relation rel, const char *name)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), name);

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errhint("Call funnel.disable_live() and funnel.enable_live() again with the columns there are now.")));
	return att;
}

/*
 * The entry of a trigger, built on its first use in the backend (in an SPI
 * connection of its own, with LiveWriteSearchPath()).  Called as the
 * table's owner.
 */
LiveWriteEntry *
LiveWriteLookup(Relation rel, Trigger *trigger)
{
	LiveWriteEntry *e;
	bool		found;
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	MemoryContext old;
	MemoryContext mcxt;
	FmgrInfo	fallback;
	SPIPlanPtr	visits_plan = NULL;
	SPIPlanPtr	insert_plan = NULL;
	int			nestlevel;

	if (live_write_entries == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(LiveWriteEntry);
		ctl.hcxt = CacheMemoryContext;
		live_write_entries = hash_create("funnel live write triggers", 16, &ctl,
										 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(LiveWriteInvalidate, (Datum) 0);
	}
	e = hash_search(live_write_entries, &trigger->tgoid, HASH_ENTER, &found);
	if (!found)
	{
		e->state = FUNNEL_CACHE_STALE;
		e->mcxt = NULL;
		e->visits_plan = e->insert_plan = NULL;
		e->history_relid = InvalidOid;
	}
	if (FunnelCacheIsValid(e->state))
		return e;
	nestlevel = LiveWriteSearchPath();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * A build: the previous one's plans and memory go first (an error in
	 * this build leaves the state BUILDING or STALE and the entry empty:
	 * the next statement builds again)
	 */
	FunnelCacheBuildStarted(&e->state);
	e->relid = RelationGetRelid(rel);
	e->history_relid = InvalidOid;
	e->history_index = InvalidOid;
	if (e->visits_plan)
		SPI_freeplan(e->visits_plan);
	if (e->insert_plan)
		SPI_freeplan(e->insert_plan);
	e->visits_plan = e->insert_plan = NULL;
	if (e->mcxt)
		MemoryContextDelete(e->mcxt);
	e->mcxt = NULL;
	mcxt = AllocSetContextCreate(CurrentMemoryContext, "funnel live write trigger",
								 ALLOCSET_SMALL_SIZES);

	args[0] = ObjectIdGetDatum(RelationGetRelid(rel));
	if (SPI_execute_with_args("SELECT * FROM funnel_internal.live_update_plan($1)",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the live summaries of \"%s\"", RelationGetRelationName(rel));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	e->fast = DatumGetBool(SPI_getbinval(tup, desc, SPI_fnumber(desc, "fast"), &isnull)) && !isnull;
	{
		Datum		fn = SPI_getbinval(tup, desc, SPI_fnumber(desc, "delta_function"), &isnull);

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the live summary trigger function of table \"%s\" is missing",
							RelationGetRelationName(rel)),
					 errhint("Call funnel.live_rebuild() after funnel.disable_live() and funnel.enable_live().")));
		fmgr_info_cxt(DatumGetObjectId(fn), &fallback, mcxt);
	}
	if (e->fast)
	{
		Datum		d;
		ArrayType  *dims;
		ArrayType  *dim_types;
		Datum	   *dimv;
		Datum	   *typev;
		int			n;
		int			i;
		Oid			key_type;
		Oid			stage_array;
		Oid			journey_type;
		Oid		   *ptypes;
		SPIPlanPtr	plan;
		char	   *visits_sql;
		char	   *insert_sql;

		e->key_att = LiveAttnum(rel, NameStr(*DatumGetName(SPI_getbinval(tup, desc, SPI_fnumber(desc, "key_column"), &isnull))));
		e->stage_att = LiveAttnum(rel, NameStr(*DatumGetName(SPI_getbinval(tup, desc, SPI_fnumber(desc, "stage_column"), &isnull))));
		e->key_len = TupleDescAttr(RelationGetDescr(rel), e->key_att - 1)->attlen;
		e->key_byval = TupleDescAttr(RelationGetDescr(rel), e->key_att - 1)->attbyval;
		d = SPI_getbinval(tup, desc, SPI_fnumber(desc, "amount_column"), &isnull);
		e->amount_att = isnull ? 0 : LiveAttnum(rel, NameStr(*DatumGetName(d)));
		e->amount_type = e->amount_att ? TupleDescAttr(RelationGetDescr(rel), e->amount_att - 1)->atttypid : InvalidOid;
		key_type = DatumGetObjectId(SPI_getbinval(tup, desc, SPI_fnumber(desc, "key_type"), &isnull));
		stage_array = DatumGetObjectId(SPI_getbinval(tup, desc, SPI_fnumber(desc, "stage_array_type"), &isnull));
		journey_type = DatumGetObjectId(SPI_getbinval(tup, desc, SPI_fnumber(desc, "journey_type"), &isnull));
		e->stage_type = get_element_type(stage_array);
		e->summary_type = DatumGetObjectId(SPI_getbinval(tup, desc, SPI_fnumber(desc, "summary_type"), &isnull));
		get_typlenbyvalalign(e->stage_type, &e->stage_len, &e->stage_byval, &e->stage_align);
		dims = DatumGetArrayTypeP(SPI_getbinval(tup, desc, SPI_fnumber(desc, "dimensions"), &isnull));
		deconstruct_array(dims, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &dimv, NULL, &n);
		d = SPI_getbinval(tup, desc, SPI_fnumber(desc, "dimension_types"), &isnull);
		if (n > 0 && !isnull)
		{
			dim_types = DatumGetArrayTypeP(d);
			deconstruct_array(dim_types, REGTYPEOID, sizeof(Oid), true, TYPALIGN_INT, &typev, NULL, &i);
		}
		else
		{
			typev = NULL;
			i = 0;
		}
		if (i != n)
		{
			StringInfoData names;
			int			k;

			initStringInfo(&names);
			for (k = 0; k < n; k++)
				appendStringInfo(&names, "%s\"%s\"", k > 0 ? ", " : "",
								 NameStr(*DatumGetName(dimv[k])));
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("a dimension column of the live summaries of \"%s\" does not exist",
							RelationGetRelationName(rel)),
					 errdetail("funnel.live_table names the dimensions %s.", names.data),
					 errhint("Call funnel.disable_live() and funnel.enable_live() again with the columns there are now.")));
		}
		visits_sql = TextDatumGetCString(SPI_getbinval(tup, desc, SPI_fnumber(desc, "visits_sql"), &isnull));
		insert_sql = TextDatumGetCString(SPI_getbinval(tup, desc, SPI_fnumber(desc, "insert_sql"), &isnull));

		old = MemoryContextSwitchTo(mcxt);
		e->ndims = n;
		e->dim_att = palloc0(sizeof(AttrNumber) * Max(n, 1));
		e->dim_out = palloc0(sizeof(FmgrInfo) * Max(n, 1));
		e->dim_eq = palloc0(sizeof(FmgrInfo) * Max(n, 1));
		e->dim_coll = palloc0(sizeof(Oid) * Max(n, 1));
		e->dim_type = palloc0(sizeof(Oid) * Max(n, 1));
		e->live_dim_att = palloc0(sizeof(AttrNumber) * Max(n, 1));
		MemoryContextSwitchTo(old);
		e->live_relid = DatumGetObjectId(SPI_getbinval(tup, desc, SPI_fnumber(desc, "live"), &isnull));
		d = SPI_getbinval(tup, desc, SPI_fnumber(desc, "history"), &isnull);
		e->history_relid = isnull ? InvalidOid : DatumGetObjectId(d);
		LiveVisitsFindIndex(e, key_type, mcxt);
		{
			Relation	live = try_table_open(e->live_relid, AccessShareLock);

			if (live == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_TABLE),
						 errmsg("the live summary table of \"%s\" does not exist",
								RelationGetRelationName(rel)),
						 errhint("Call funnel.disable_live() and funnel.enable_live() on it again.")));

			for (i = 0; i < n; i++)
				e->live_dim_att[i] = LiveAttnum(live, NameStr(*DatumGetName(dimv[i])));
			e->live_day_att = LiveAttnum(live, "day");
			e->live_stage_att = LiveAttnum(live, "stage");
			e->live_plus_att = LiveAttnum(live, "plus");
			e->live_minus_att = LiveAttnum(live, "minus");
			e->live_plus_runs_att = LiveAttnum(live, "plus_runs");
			e->live_minus_runs_att = LiveAttnum(live, "minus_runs");
			table_close(live, NoLock);
		}
		for (i = 0; i < n; i++)
		{
			Oid			outfn;
			bool		varlena;

			e->dim_att[i] = LiveAttnum(rel, NameStr(*DatumGetName(dimv[i])));
			e->dim_type[i] = TupleDescAttr(RelationGetDescr(rel), e->dim_att[i] - 1)->atttypid;
			getTypeOutputInfo(e->dim_type[i], &outfn, &varlena);
			fmgr_info_cxt(outfn, &e->dim_out[i], mcxt);
			{
				Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), e->dim_att[i] - 1);
				TypeCacheEntry *tc = lookup_type_cache(att->atttypid, TYPECACHE_EQ_OPR_FINFO);

				if (!OidIsValid(tc->eq_opr_finfo.fn_oid))
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_FUNCTION),
							 errmsg("column \"%s\" of type %s cannot be a dimension",
									NameStr(att->attname), format_type_be(att->atttypid)),
							 errdetail("Its type has no default btree operator class to group by.")));
				fmgr_info_copy(&e->dim_eq[i], &tc->eq_opr_finfo, mcxt);
				e->dim_coll[i] = att->attcollation;
			}
		}

		plan = SPI_prepare(visits_sql, 1, &key_type);
		if (plan == NULL)
			elog(ERROR, "could not prepare the visits statement of \"%s\": %s",
				 RelationGetRelationName(rel), SPI_result_code_string(SPI_result));
		visits_plan = plan;

		ptypes = palloc(sizeof(Oid) * (9 + 2 * n));
		ptypes[0] = BOOLARRAYOID;
		ptypes[1] = stage_array;
		ptypes[2] = INT8ARRAYOID;
		ptypes[3] = DATEOID;
		ptypes[4] = DATEOID;
		ptypes[5] = journey_type;
		ptypes[6] = journey_type;
		ptypes[7] = NUMERICOID;
		ptypes[8] = NUMERICOID;
		for (i = 0; i < n; i++)
			ptypes[9 + i] = ptypes[9 + n + i] = DatumGetObjectId(typev[i]);
		plan = SPI_prepare(insert_sql, 9 + 2 * n, ptypes);
		if (plan == NULL)
			elog(ERROR, "could not prepare the live delta statement of \"%s\": %s",
				 RelationGetRelationName(rel), SPI_result_code_string(SPI_result));
		insert_plan = plan;
	}

	/* install: nothing below can fail */
	if (visits_plan)
		SPI_keepplan(visits_plan);
	if (insert_plan)
		SPI_keepplan(insert_plan);
	e->visits_plan = visits_plan;
	e->insert_plan = insert_plan;
	e->fallback = fallback;
	MemoryContextSetParent(mcxt, CacheMemoryContext);
	e->mcxt = mcxt;
	FunnelCacheBuilt(&e->state);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	return e;
}
