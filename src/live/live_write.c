/*-------------------------------------------------------------------------
 *
 * live_write.c
 *	  The fast write path of the live summaries (issue 23 item 3): the AFTER
 *	  UPDATE statement trigger funnel_internal.live_update_trigger().
 *
 * The common move updates one row.  For it the generated trigger function
 * of funnel.enable_live() (sql/install/live/live.sql) sets up and tears
 * down a plan of some thirty nodes per statement, which cost most of a
 * move.  This trigger does the same arithmetic for one updated row here:
 * it reads the two transition rows, returns at once when neither stage,
 * amount nor a dimension changed, reads the deal's visits with one small
 * prepared statement (the history's (deal_id, entered_at) index), builds
 * the journeys after and before the move with funnel.journey()'s own
 * transition function and their summaries with funnel.funnel(journey,
 * amount)'s step, and writes the rows of the generated SQL's GROUP BY
 * (key, stage) with heap_insert when the summary table is a plain heap
 * table (no index, trigger, policy or constraint), else with a second
 * prepared statement that is the last step of the generated SQL over the
 * items as parameters.  Any other statement (several rows, a table of
 * several pipelines, a case the generated SQL decides by SQL's three-valued
 * logic) goes to the generated function unchanged: both write the same
 * rows (test/shell/live_equality.sh, test/pgtap/live_write.sql).
 *
 * The statements are prepared once per backend and trigger
 * (live_write_cache.c) and run as the deals table's owner, as the
 * generated function (SECURITY DEFINER) does, with search_path
 * pg_catalog, pg_temp.
 *
 * src/live/live_write.c
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
#include "utils/acl.h"
#include "utils/array.h"
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
#include "pg_compat.h"

/* funnel.journey(stage, entered_at)'s transition (agg_journey.c) */
extern PGDLLEXPORT Datum journey_trans(PG_FUNCTION_ARGS);

/* The SPI connection and search_path of a call, made when first needed */
typedef struct LiveSpi
{
	bool		connected;
	int			nestlevel;
} LiveSpi;

static void
LiveSpiConnect(LiveSpi *spi)
{
	if (spi->connected)
		return;
	spi->nestlevel = LiveWriteSearchPath();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi->connected = true;
}

/* The amount of a transition row as numeric (NULL: *isnull) */
static Datum
LiveAmount(LiveWriteEntry *e, TupleTableSlot *slot, bool *isnull)
{
	Datum		d;

	if (e->amount_att == 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	d = slot_getattr(slot, e->amount_att, isnull);
	if (*isnull)
		return (Datum) 0;
	switch (e->amount_type)
	{
		case INT2OID:
			return DirectFunctionCall1(int2_numeric, d);
		case INT4OID:
			return DirectFunctionCall1(int4_numeric, d);
		case INT8OID:
			return DirectFunctionCall1(int8_numeric, d);
		default:
			return d;
	}
}

/* a IS DISTINCT FROM b, as the generated SQL compares (o.x::text, n.x::text) */
static bool
LiveDimChanged(LiveWriteEntry *e, int i, TupleTableSlot *o, TupleTableSlot *n)
{
	bool		onull;
	bool		nnull;
	Datum		od = slot_getattr(o, e->dim_att[i], &onull);
	Datum		nd = slot_getattr(n, e->dim_att[i], &nnull);

	if (onull || nnull)
		return onull != nnull;
	return strcmp(OutputFunctionCall(&e->dim_out[i], od),
				  OutputFunctionCall(&e->dim_out[i], nd)) != 0;
}

/* The journey of visits (all, or those not inserted by the move); NULL if none */
static Journey *
LiveJourney(LiveVisit *v, int nv, bool skip_inserted, bool moved)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, 3);
	Datum		state = (Datum) 0;
	bool		have = false;
	int			i;

	memset(&flinfo, 0, sizeof(flinfo));
	flinfo.fn_addr = journey_trans;
	flinfo.fn_oid = InvalidOid;
	flinfo.fn_nargs = 3;
	flinfo.fn_strict = false;
	flinfo.fn_mcxt = CurrentMemoryContext;
	InitFunctionCallInfoData(*fcinfo, &flinfo, 3, InvalidOid, NULL, NULL);
	for (i = 0; i < nv; i++)
	{
		if (skip_inserted && moved && v[i].open)
			continue;
		fcinfo->args[0].value = state;
		fcinfo->args[0].isnull = !have;
		fcinfo->args[1].value = DealStageGetDatum(v[i].stage);
		fcinfo->args[1].isnull = false;
		fcinfo->args[2].value = TimestampTzGetDatum(v[i].entered_at);
		fcinfo->args[2].isnull = false;
		fcinfo->isnull = false;
		state = FunctionCallInvoke(fcinfo);
		have = !fcinfo->isnull;
	}
	return have ? (Journey *) DatumGetPointer(state) : NULL;
}

static DateADT
LiveDay(const Journey *j)
{
	/* (started_at(j) AT TIME ZONE 'UTC')::date */
	return DatumGetDateADT(DirectFunctionCall1(timestamp_date,
											   TimestampGetDatum(j->first_at)));
}

static int
LiveCompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * One row of the summary table: at the new or old key, the journey's
 * summaries (stage 0) or the sorted runs of one stage's durations
 */
static void
LiveInsertRow(LiveWriteEntry *e, Relation live, Datum *values, bool *nulls,
			  DateADT day, TupleTableSlot *keyslot,
			  DealStage stage, Datum plus, Datum minus,
			  int64 *plus_runs, int nplus, int64 *minus_runs, int nminus)
{
	int			natts = RelationGetDescr(live)->natts;
	int			i;
	HeapTuple	tup;

	for (i = 0; i < natts; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	values[e->live_day_att - 1] = DateADTGetDatum(day);
	nulls[e->live_day_att - 1] = false;
	for (i = 0; i < e->ndims; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(keyslot, e->dim_att[i], &isnull);

		values[e->live_dim_att[i] - 1] = d;
		nulls[e->live_dim_att[i] - 1] = isnull;
	}
	if (stage != 0)
	{
		values[e->live_stage_att - 1] = DealStageGetDatum(stage);
		nulls[e->live_stage_att - 1] = false;
	}
	if (plus != (Datum) 0)
	{
		values[e->live_plus_att - 1] = LiveCompress(live, e->live_plus_att, plus);
		nulls[e->live_plus_att - 1] = false;
	}
	if (minus != (Datum) 0)
	{
		values[e->live_minus_att - 1] = LiveCompress(live, e->live_minus_att, minus);
		nulls[e->live_minus_att - 1] = false;
	}
	if (nplus > 0)
	{
		qsort(plus_runs, nplus, sizeof(int64), LiveCompareInt64);
		values[e->live_plus_runs_att - 1] =
			PointerGetDatum(construct_array((Datum *) plus_runs, nplus, INT8OID,
											sizeof(int64), true, TYPALIGN_DOUBLE));
		nulls[e->live_plus_runs_att - 1] = false;
	}
	if (nminus > 0)
	{
		qsort(minus_runs, nminus, sizeof(int64), LiveCompareInt64);
		values[e->live_minus_runs_att - 1] =
			PointerGetDatum(construct_array((Datum *) minus_runs, nminus, INT8OID,
											sizeof(int64), true, TYPALIGN_DOUBLE));
		nulls[e->live_minus_runs_att - 1] = false;
	}
	tup = heap_form_tuple(RelationGetDescr(live), values, nulls);
	simple_heap_insert(live, tup);
	heap_freetuple(tup);
}

/*
 * The rows of the generated SQL's GROUP BY day, dimensions, stage, written
 * directly; false (nothing written) when its grouping could merge keys this
 * does not (a dimension whose text changed but whose value is equal)
 */
static bool
LiveWriteDirect(LiveWriteEntry *e, Relation live, TupleTableSlot *o, TupleTableSlot *n,
				AggCallCache *cache, LiveVisit *v, int nv, int closed_now,
				Journey *new_j, Journey *old_j, DateADT new_day, DateADT old_day,
				bool key_changed, bool moved_key,
				bool new_amount_null, Datum new_amount,
				bool old_amount_null, Datum old_amount)
{
	int			natts = RelationGetDescr(live)->natts;
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	int64	   *plus = palloc(sizeof(int64) * nv);
	int64	   *minus = palloc(sizeof(int64) * nv);
	bool	   *done = palloc0(sizeof(bool) * nv);
	Datum		splus;
	Datum		sminus = (Datum) 0;
	int			i;
	int			k;

	if (moved_key && old_j && key_changed && new_day == old_day)
	{
		bool		all_equal = true;

		for (i = 0; i < e->ndims && all_equal; i++)
		{
			bool		onull;
			bool		nnull;
			Datum		od = slot_getattr(o, e->dim_att[i], &onull);
			Datum		nd = slot_getattr(n, e->dim_att[i], &nnull);

			if (onull || nnull)
				all_equal = onull && nnull;
			else
				all_equal = DatumGetBool(FunctionCall2Coll(&e->dim_eq[i], e->dim_coll[i], od, nd));
		}
		if (all_equal)
			return false;
	}

	JourneyCheckKinds(new_j, NULL, ERRCODE_INVALID_PARAMETER_VALUE);
	splus = PointerGetDatum(SummaryAddJourney(cache, NULL, new_j, !new_amount_null, new_amount));
	if (old_j)
	{
		JourneyCheckKinds(old_j, NULL, ERRCODE_INVALID_PARAMETER_VALUE);
		sminus = PointerGetDatum(SummaryAddJourney(cache, NULL, old_j, !old_amount_null, old_amount));
	}

	if (!moved_key)
	{
		/* one key: the summaries, and the duration of the visit closed */
		LiveInsertRow(e, live, values, nulls, new_day, n, 0, splus, sminus,
					  NULL, 0, NULL, 0);
		if (closed_now >= 0)
		{
			plus[0] = v[closed_now].left_at - v[closed_now].entered_at;
			LiveInsertRow(e, live, values, nulls, new_day, n, v[closed_now].stage,
						  (Datum) 0, (Datum) 0, plus, 1, NULL, 0);
		}
		return true;
	}

	/* the new key: the new journey and every closed visit */
	LiveInsertRow(e, live, values, nulls, new_day, n, 0, splus, (Datum) 0,
				  NULL, 0, NULL, 0);
	for (i = 0; i < nv; i++)
	{
		if (v[i].open || done[i])
			continue;
		k = 0;
		for (int m = i; m < nv; m++)
			if (!v[m].open && !done[m] && v[m].stage == v[i].stage)
			{
				plus[k++] = v[m].left_at - v[m].entered_at;
				done[m] = true;
			}
		LiveInsertRow(e, live, values, nulls, new_day, n, v[i].stage,
					  (Datum) 0, (Datum) 0, plus, k, NULL, 0);
	}
	if (!old_j)
		return true;
	/* the old key: the old journey and its closed visits but the one closed now */
	LiveInsertRow(e, live, values, nulls, old_day, o, 0, (Datum) 0, sminus,
				  NULL, 0, NULL, 0);
	memset(done, 0, sizeof(bool) * nv);
	for (i = 0; i < nv; i++)
	{
		if (v[i].open || done[i] || i == closed_now)
			continue;
		k = 0;
		for (int m = i; m < nv; m++)
			if (!v[m].open && !done[m] && m != closed_now && v[m].stage == v[i].stage)
			{
				minus[k++] = v[m].left_at - v[m].entered_at;
				done[m] = true;
			}
		LiveInsertRow(e, live, values, nulls, old_day, o, v[i].stage,
					  (Datum) 0, (Datum) 0, NULL, 0, minus, k);
	}
	return true;
}

/*
 * The deltas of one updated row; false if the generated SQL must decide
 * (its three-valued logic on a case tracking does not produce).
 */
static bool
LiveWriteOne(LiveWriteEntry *e, Relation rel, LiveSpi *spi,
			 TupleTableSlot *o, TupleTableSlot *n)
{
	bool		onull;
	bool		nnull;
	Datum		ostage;
	Datum		nstage;
	Datum		key;
	Datum		old_amount;
	Datum		new_amount;
	bool		old_amount_null;
	bool		new_amount_null;
	bool		moved;
	bool		amount_changed;
	bool		key_changed = false;
	int			i;
	LiveVisit  *v;
	int			nv;
	TimestampTz last_open = 0;
	bool		have_open = false;
	int			closed_now = -1;
	Journey    *new_j;
	Journey    *old_j;
	DateADT		new_day;
	DateADT		old_day = 0;
	bool		moved_key;
	int			nitems;
	Datum	   *nw;
	Datum	   *stages;
	Datum	   *durs;
	bool	   *stage_nulls;
	bool	   *dur_nulls;
	int			dims[1];
	int			lbs[1] = {1};
	Datum	   *values;
	char	   *nulls;

	ostage = slot_getattr(o, e->stage_att, &onull);
	nstage = slot_getattr(n, e->stage_att, &nnull);
	if (onull || nnull)
		return false;
	moved = DatumGetDealStage(ostage) != DatumGetDealStage(nstage);
	old_amount = LiveAmount(e, o, &old_amount_null);
	new_amount = LiveAmount(e, n, &new_amount_null);
	if (old_amount_null || new_amount_null)
		amount_changed = old_amount_null != new_amount_null;
	else
		amount_changed = !DatumGetBool(DirectFunctionCall2(numeric_eq, old_amount, new_amount));
	for (i = 0; i < e->ndims && !key_changed; i++)
		key_changed = LiveDimChanged(e, i, o, n);
	if (!moved && !amount_changed && !key_changed)
		return true;			/* the row of c is filtered out: no delta */
	key = slot_getattr(n, e->key_att, &nnull);
	if (nnull)
		return false;
	{
		/* a changed key: the generated SQL joins old and new rows by key */
		Datum		okey = slot_getattr(o, e->key_att, &onull);

		if (onull || !datumIsEqual(okey, key, e->key_byval, e->key_len))
			return false;
	}

	/*
	 * the deal's visits now, with the rows the tracking trigger wrote: by
	 * the history's index (live_visits.c), else by the prepared statement
	 */
	if (!LiveVisitsRead(e, rel, key, &v, &nv))
	{
		LiveSpiConnect(spi);
		if (SPI_execute_plan(e->visits_plan, &key, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the visits of a deal");
		nv = (int) SPI_processed;
		v = palloc(sizeof(LiveVisit) * Max(nv, 1));
		for (i = 0; i < nv; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		snull;
			bool		enull;
			bool		lnull;

			v[i].stage = DatumGetDealStage(SPI_getbinval(tup, desc, 1, &snull));
			v[i].entered_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &enull));
			v[i].left_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &lnull));
			v[i].open = lnull;
			v[i].bad = snull || enull;
		}
	}
	if (nv == 0)
		return true;			/* no journey: the join leaves nothing */
	for (i = 0; i < nv; i++)
	{
		if (v[i].bad || TIMESTAMP_NOT_FINITE(v[i].entered_at) ||
			(!v[i].open && TIMESTAMP_NOT_FINITE(v[i].left_at)))
			return false;
		if (v[i].open && (!have_open || v[i].entered_at > last_open))
		{
			last_open = v[i].entered_at;
			have_open = true;
		}
	}
	if (moved)
	{
		/* the visit the move closed: the latest candidate (ties are equal) */
		if (!have_open)
			return false;
		for (i = 0; i < nv; i++)
			if (!v[i].open && v[i].stage == DatumGetDealStage(ostage) &&
				v[i].left_at == last_open &&
				(closed_now < 0 || v[i].entered_at > v[closed_now].entered_at))
				closed_now = i;
	}

	new_j = LiveJourney(v, nv, false, moved);
	old_j = LiveJourney(v, nv, true, moved);
	new_day = LiveDay(new_j);
	if (old_j)
		old_day = LiveDay(old_j);
	moved_key = key_changed || old_j == NULL || new_day != old_day;

	/* the items: the journeys, then the durations added and removed */
	nw = palloc(sizeof(Datum) * (2 + 2 * nv));
	stages = palloc(sizeof(Datum) * (2 + 2 * nv));
	durs = palloc(sizeof(Datum) * (2 + 2 * nv));
	stage_nulls = palloc(sizeof(bool) * (2 + 2 * nv));
	dur_nulls = palloc(sizeof(bool) * (2 + 2 * nv));
	nitems = 0;
#define LIVE_ITEM(added, stage, dur, isjourney) \
	do { \
		nw[nitems] = BoolGetDatum(added); \
		stages[nitems] = DealStageGetDatum(stage); \
		stage_nulls[nitems] = (isjourney); \
		durs[nitems] = Int64GetDatum(dur); \
		dur_nulls[nitems] = (isjourney); \
		nitems++; \
	} while (0)
	LIVE_ITEM(true, 0, 0, true);
	if (old_j)
		LIVE_ITEM(false, 0, 0, true);
	for (i = 0; i < nv; i++)
	{
		if (v[i].open)
			continue;
		if (i == closed_now || moved_key)
			LIVE_ITEM(true, v[i].stage, v[i].left_at - v[i].entered_at, false);
		if (old_j && i != closed_now && moved_key)
			LIVE_ITEM(false, v[i].stage, v[i].left_at - v[i].entered_at, false);
	}
#undef LIVE_ITEM

	{
		Relation	live = try_table_open(e->live_relid, RowExclusiveLock);
		bool		written = false;

		if (live == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the live summary table of \"%s\" does not exist",
							get_rel_name(e->relid)),
					 errhint("Call funnel.disable_live() and funnel.enable_live() on it again.")));
		if (LiveSimpleTable(e, live))
		{
			FmgrInfo	flinfo;
			LOCAL_FCINFO(fcinfo, 0);

			memset(&flinfo, 0, sizeof(flinfo));
			flinfo.fn_addr = journey_trans;
			flinfo.fn_oid = InvalidOid;
			flinfo.fn_mcxt = CurrentMemoryContext;
			InitFunctionCallInfoData(*fcinfo, &flinfo, 0, InvalidOid, NULL, NULL);
			written = LiveWriteDirect(e, live, o, n, AggGetCallCache(fcinfo), v, nv, closed_now,
									  new_j, old_j, new_day, old_day, key_changed, moved_key,
									  new_amount_null, new_amount, old_amount_null, old_amount);
		}
		table_close(live, NoLock);
		if (written)
		{
			CommandCounterIncrement();
			return true;
		}
	}

	values = palloc(sizeof(Datum) * (9 + 2 * e->ndims));
	nulls = palloc(9 + 2 * e->ndims);
	memset(nulls, ' ', 9 + 2 * e->ndims);
	dims[0] = nitems;
	values[0] = PointerGetDatum(construct_md_array(nw, NULL, 1, dims, lbs,
												   BOOLOID, 1, true, TYPALIGN_CHAR));
	values[1] = PointerGetDatum(construct_md_array(stages, stage_nulls, 1, dims, lbs,
												   e->stage_type, e->stage_len, e->stage_byval, e->stage_align));
	values[2] = PointerGetDatum(construct_md_array(durs, dur_nulls, 1, dims, lbs,
												   INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = DateADTGetDatum(new_day);
	values[4] = DateADTGetDatum(old_day);
	nulls[4] = old_j ? ' ' : 'n';
	values[5] = PointerGetDatum(new_j);
	values[6] = PointerGetDatum(old_j);
	nulls[6] = old_j ? ' ' : 'n';
	values[7] = new_amount;
	nulls[7] = new_amount_null ? 'n' : ' ';
	values[8] = old_amount;
	nulls[8] = old_amount_null ? 'n' : ' ';
	for (i = 0; i < e->ndims; i++)
	{
		bool		isnull;

		values[9 + i] = slot_getattr(n, e->dim_att[i], &isnull);
		nulls[9 + i] = isnull ? 'n' : ' ';
		values[9 + e->ndims + i] = slot_getattr(o, e->dim_att[i], &isnull);
		nulls[9 + e->ndims + i] = isnull ? 'n' : ' ';
	}
	LiveSpiConnect(spi);
	if (SPI_execute_plan(e->insert_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert the live summary deltas");
	return true;
}

/*
 * AFTER UPDATE FOR EACH STATEMENT trigger with transition tables
 * funnel_live_old and funnel_live_new (funnel.enable_live())
 */
PG_FUNCTION_INFO_V1(funnel_live_update_trigger);
Datum
funnel_live_update_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	LiveWriteEntry *e;
	Oid			save_userid;
	int			save_sec_context;
	LiveSpi		spi = {false, 0};
	bool		done = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.live_update_trigger() must be called as a trigger"),
				 errhint("funnel.enable_live() installs it.")));
	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		trigdata->tg_oldtable == NULL || trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("funnel_internal.live_update_trigger() must be an AFTER UPDATE statement trigger with transition tables"),
				 errhint("funnel.enable_live() installs it.")));
	rel = trigdata->tg_relation;

	LiveWriteEnter(rel, &save_userid, &save_sec_context);
	e = LiveWriteLookup(rel, trigdata->tg_trigger);
	if (e->fast &&
		tuplestore_tuple_count(trigdata->tg_oldtable) == 1 &&
		tuplestore_tuple_count(trigdata->tg_newtable) == 1)
	{
		TupleTableSlot *o = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
		TupleTableSlot *n = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);

		tuplestore_rescan(trigdata->tg_oldtable);
		tuplestore_rescan(trigdata->tg_newtable);
		if (tuplestore_gettupleslot(trigdata->tg_oldtable, true, false, o) &&
			tuplestore_gettupleslot(trigdata->tg_newtable, true, false, n))
			done = LiveWriteOne(e, rel, &spi, o, n);
		ExecDropSingleTupleTableSlot(o);
		ExecDropSingleTupleTableSlot(n);
		tuplestore_rescan(trigdata->tg_oldtable);
		tuplestore_rescan(trigdata->tg_newtable);
	}
	if (spi.connected)
	{
		SPI_finish();
		AtEOXact_GUC(true, spi.nestlevel);
	}
	LiveWriteLeave(save_userid, save_sec_context);

	if (!done)
	{
		/* the generated function, as the trigger it was before */
		LOCAL_FCINFO(fallback, 0);

		InitFunctionCallInfoData(*fallback, &e->fallback, 0, InvalidOid,
								 (Node *) trigdata, NULL);
		(void) FunctionCallInvoke(fallback);
	}
	return PointerGetDatum(NULL);
}
