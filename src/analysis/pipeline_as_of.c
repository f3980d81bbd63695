/*-------------------------------------------------------------------------
 *
 * pipeline_as_of.c
 *	  The pipeline at past instants, from a stage history alone:
 *	  funnel.pipeline_as_of(history, as_of), the visit of each deal open at
 *	  one instant, and funnel.pipeline_trend(history, instants [, deals]),
 *	  deals, amount and weighted amount per instant and stage, both in one
 *	  sequential scan of the history.
 *
 * A visit is open at instant t when entered_at <= t < left_at (left_at NULL
 * counts as +infinity): at the instant of a move the deal is in its new
 * stage, and a zero-length visit is never open.  On a history that keeps
 * funnel's invariants every deal has at most one visit open at any instant.
 *
 * The trend sorts the instants once, then per visit finds by binary search
 * the range of instants [lo, hi) at which the visit is open and adds +1 at
 * lo and -1 at hi of its stage's difference array (amounts alike, as exact
 * 128-bit fixed-point decimals, see agg.h); prefix sums at the end give the
 * counts.  A visit costs O(log instants), whatever the number of instants
 * it spans.  Amounts are the deals' CURRENT amounts (the history keeps no
 * amounts), read once from the deals table into a hash table keyed by the
 * primary key (deal_amounts.c); the weighted amount uses each stage's
 * CURRENT probability.
 *
 * src/analysis/pipeline_as_of.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "agg.h"
#include "deal_amounts.h"
#include "history_read.h"

/* One stage of the trend grid, with its difference arrays */
typedef struct TrendStage
{
	Oid			pipeline;		/* enum type OID */
	int			position;		/* 1-based */
	DealStage	value;
	double		probability;
	int64	   *count_diff;		/* ninstants + 1 */
	int128	   *amount_diff;	/* ninstants + 1, scaled by 10^Trend.scale */
} TrendStage;

#define TREND_MEMO_SLOTS 64

/* State of one pipeline_trend call */
typedef struct Trend
{
	TimestampTz *instants;		/* sorted, distinct */
	int			ninstants;
	bool		with_amounts;
	int			scale;			/* of every amount_diff */
	int			nstages;
	int			maxstages;
	TrendStage *stages;
	HTAB	   *by_label;		/* stage OID -> index in stages */
	Oid			memo_label[TREND_MEMO_SLOTS];	/* direct-mapped cache */
	int			memo_index[TREND_MEMO_SLOTS];
} Trend;

typedef struct LabelIndex
{
	Oid			label;
	int			index;
} LabelIndex;

/*
 * Open the history of argument relarg, its columns named by the arguments
 * from colarg on (NULL: the default name; issue 21.2): funnel's own layout
 * by a direct scan, anything else (a view, other names or types) by a query
 * run as the caller (history_query.c).
 */
static void
HistoryOpenMapped(HistoryReader *reader, FunctionCallInfo fcinfo, int relarg, int colarg)
{
	const char *columns[4] = {NULL, NULL, NULL, NULL};
	Oid			relid = PG_GETARG_OID(relarg);
	int			i;

	for (i = 0; i < 4 && colarg + i < PG_NARGS(); i++)
		if (!PG_ARGISNULL(colarg + i))
			columns[i] = NameStr(*PG_GETARG_NAME(colarg + i));
	if (HistoryIsPlain(relid, columns))
		HistoryOpen(reader, relid);
	else
		HistoryOpenQuery(reader, relid, columns);
}

/* A history row's deal id as text (NULL stays NULL) for the readers' rows */
static void
DealIdText(FmgrInfo *keyout, Datum *v, bool *n, Datum *value, bool *isnull)
{
	*isnull = n[HIST_DEAL_ID];
	if (!*isnull)
		*value = PointerGetDatum(cstring_to_text(OutputFunctionCall(keyout,
																	 v[HIST_DEAL_ID])));
}

/* The output function of the history's deal id, for DealIdText() */
static void
DealIdOutputInit(HistoryReader *reader, FmgrInfo *keyout)
{
	Oid			outfunc;
	bool		isvarlena;

	getTypeOutputInfo(reader->key_type, &outfunc, &isvarlena);
	fmgr_info(outfunc, keyout);
}

PG_FUNCTION_INFO_V1(funnel_pipeline_as_of);

/*
 * funnel.pipeline_as_of(history regclass, as_of timestamptz,
 *						  deal_column, stage_column, entered_at_column,
 *						  left_at_column name)
 *		RETURNS TABLE (deal_id text, stage deal_stage, entered_at timestamptz)
 */
Datum
funnel_pipeline_as_of(PG_FUNCTION_ARGS)
{
	TimestampTz as_of;
	ReturnSetInfo *rsinfo;
	HistoryReader reader;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	FmgrInfo	keyout;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	as_of = PG_GETARG_TIMESTAMPTZ(1);
	HistoryOpenMapped(&reader, fcinfo, 0, 2);
	DealIdOutputInit(&reader, &keyout);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_as_of row",
								   ALLOCSET_SMALL_SIZES);

	while (TableReaderNext(&reader))
	{
		Datum	   *v = reader.values;
		bool	   *n = reader.isnull;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		CHECK_FOR_INTERRUPTS();
		if (n[HIST_ENTERED_AT] || n[HIST_STAGE])
			continue;
		if (DatumGetTimestampTz(v[HIST_ENTERED_AT]) > as_of)
			continue;
		if (!n[HIST_LEFT_AT] &&
			DatumGetTimestampTz(v[HIST_LEFT_AT]) <= as_of)
			continue;

		oldcxt = MemoryContextSwitchTo(rowcxt);
		DealIdText(&keyout, v, n, &values[0], &nulls[0]);
		values[1] = v[HIST_STAGE];
		values[2] = v[HIST_ENTERED_AT];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	TableReaderClose(&reader);
	return (Datum) 0;
}

/* qsort comparator of timestamps */
static int
TimestampCmp(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* The non-null instants of the array, sorted and distinct */
static void
TrendInstants(Trend *trend, ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i,
				n = 0;

	deconstruct_array(array, TIMESTAMPTZOID, sizeof(TimestampTz), true,
					  TYPALIGN_DOUBLE, &elems, &nulls, &nelems);
	trend->instants = palloc(Max(nelems, 1) * sizeof(TimestampTz));
	for (i = 0; i < nelems; i++)
		if (!nulls[i])
			trend->instants[n++] = DatumGetTimestampTz(elems[i]);
	if (n > 1)
	{
		int			k = 1;

		qsort(trend->instants, n, sizeof(TimestampTz), TimestampCmp);
		for (i = 1; i < n; i++)
			if (trend->instants[i] != trend->instants[k - 1])
				trend->instants[k++] = trend->instants[i];
		n = k;
	}
	trend->ninstants = n;
}

/* Index of the first instant >= t (ninstants if none) */
static inline int
FirstInstantAtOrAfter(const Trend *trend, TimestampTz t)
{
	int			lo = 0,
				hi = trend->ninstants;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (trend->instants[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add every stage of a pipeline to the grid (once per pipeline) */
static void
TrendAddPipeline(Trend *trend, FunnelPipeline *pipeline)
{
	int			i;

	if (trend->with_amounts)
		FunnelCheckConfigured(pipeline);
	for (i = 0; i < pipeline->nstages; i++)
	{
		FunnelStage *stage = &pipeline->stages[i];
		TrendStage *ts;
		LabelIndex *entry;
		bool		found;

		/*
		 * A stage added by this still-open transaction must not escape as a
		 * value (an index could keep it after a rollback): the trend shows
		 * the pipeline as other sessions see it, as report() does.
		 */
		if (!stage->usable)
			continue;
		entry = hash_search(trend->by_label, &stage->label, HASH_ENTER, &found);
		if (found)
			continue;
		if (trend->nstages == trend->maxstages)
		{
			trend->maxstages *= 2;
			trend->stages = repalloc(trend->stages, trend->maxstages * sizeof(TrendStage));
		}
		entry->index = trend->nstages;
		ts = &trend->stages[trend->nstages++];
		ts->pipeline = pipeline->typoid;
		ts->position = i + 1;
		ts->value = MakeDealStage(pipeline->typoid, stage->label);
		ts->probability = stage->probability;
		ts->count_diff = palloc0((trend->ninstants + 1) * sizeof(int64));
		ts->amount_diff = trend->with_amounts ?
			palloc0((trend->ninstants + 1) * sizeof(int128)) : NULL;
	}
}

/* Index in the grid of a stage value, adding its pipeline when new */
static int
TrendStageIndex(Trend *trend, DealStage s)
{
	Oid			label = DealStageLabelOid(s);
	int			slot = (int) ((label ^ (label >> 6)) & (TREND_MEMO_SLOTS - 1));
	LabelIndex *entry;
	FunnelStage *stage;

	if (likely(trend->memo_label[slot] == label && label != InvalidOid &&
			   trend->stages[trend->memo_index[slot]].value == s))
		return trend->memo_index[slot];

	/* validates the value: ambiguous or unknown stages raise errors */
	stage = FunnelGetStage(s);
	entry = hash_search(trend->by_label, &label, HASH_FIND, NULL);
	if (entry == NULL)
	{
		TrendAddPipeline(trend, stage->pipeline);
		entry = hash_search(trend->by_label, &label, HASH_FIND, NULL);
		if (entry == NULL)
			DealStageCheckUsable(stage);
		if (entry == NULL)
			elog(ERROR, "stage %u missing from its pipeline", label);
	}
	trend->memo_label[slot] = label;
	trend->memo_index[slot] = entry->index;
	return entry->index;
}

/* Raise every amount difference to a larger scale */
static void
TrendRescale(Trend *trend, int scale)
{
	int			i,
				j;

	for (i = 0; i < trend->nstages; i++)
		for (j = 0; j <= trend->ninstants; j++)
			trend->stages[i].amount_diff[j] =
				DecRescale(trend->stages[i].amount_diff[j], trend->scale, scale);
	trend->scale = scale;
}

/* Emit the grid: per instant, every stage in funnel order */
static void
TrendEmit(Trend *trend, ReturnSetInfo *rsinfo)
{
	int		   *order = palloc(Max(trend->nstages, 1) * sizeof(int));
	Datum	   *probs = palloc(Max(trend->nstages, 1) * sizeof(Datum));
	int			i,
				j;

	/* prefix sums; stage order = pipeline OID, then position */
	for (i = 0; i < trend->nstages; i++)
	{
		TrendStage *ts = &trend->stages[i];
		int			k;

		for (j = 1; j < trend->ninstants; j++)
		{
			ts->count_diff[j] += ts->count_diff[j - 1];
			if (trend->with_amounts)
				ts->amount_diff[j] = DecAdd(ts->amount_diff[j], ts->amount_diff[j - 1]);
		}
		for (k = i; k > 0; k--)
		{
			TrendStage *prev = &trend->stages[order[k - 1]];

			if (prev->pipeline < ts->pipeline ||
				(prev->pipeline == ts->pipeline && prev->position < ts->position))
				break;
			order[k] = order[k - 1];
		}
		order[k] = i;
		if (trend->with_amounts)
			probs[i] = DirectFunctionCall1(float8_numeric, Float8GetDatum(ts->probability));
	}

	for (j = 0; j < trend->ninstants; j++)
	{
		for (i = 0; i < trend->nstages; i++)
		{
			TrendStage *ts = &trend->stages[order[i]];
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};

			values[0] = TimestampTzGetDatum(trend->instants[j]);
			values[1] = DealStageGetDatum(ts->value);
			values[2] = Int64GetDatum(ts->count_diff[j]);
			if (trend->with_amounts)
			{
				values[3] = DecToNumeric(ts->amount_diff[j], trend->scale);
				values[4] = DirectFunctionCall2(numeric_mul, values[3], probs[order[i]]);
			}
			else
				nulls[3] = nulls[4] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
}

PG_FUNCTION_INFO_V1(funnel_pipeline_trend);

/*
 * funnel.pipeline_trend(history regclass, instants timestamptz[],
 *						 deals regclass DEFAULT NULL, amount_column name,
 *						 deal_column, stage_column, entered_at_column,
 *						 left_at_column name)
 *		RETURNS TABLE (instant timestamptz, stage deal_stage, deals bigint,
 *					   amount numeric, weighted_amount numeric)
 */
Datum
funnel_pipeline_trend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	HistoryReader reader;
	Trend		trend;
	HASHCTL		ctl;
	KeyOps		ops;
	amounts_hash *amounts = NULL;
	const char *amount_column = NULL;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;

	memset(&trend, 0, sizeof(Trend));
	TrendInstants(&trend, PG_GETARG_ARRAYTYPE_P(1));
	trend.with_amounts = !PG_ARGISNULL(2);
	trend.maxstages = 16;
	trend.stages = palloc(trend.maxstages * sizeof(TrendStage));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LabelIndex);
	ctl.hcxt = CurrentMemoryContext;
	trend.by_label = hash_create("pipeline_trend stages", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* amount_column (4th argument, issue 21.2): needs the deals table */
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		amount_column = NameStr(*PG_GETARG_NAME(3));
		if (!trend.with_amounts)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("amount_column \"%s\" given without deals_table", amount_column),
					 errhint("Amounts are read from the deals table: pass deals_table too.")));
	}

	HistoryOpenMapped(&reader, fcinfo, 0, 4);
	if (trend.with_amounts)
		amounts = LoadAmounts(PG_GETARG_OID(2), amount_column, &reader, &ops);
	if (reader.stage_typmod >= 0)
	{
		FunnelPipeline *bound = FunnelLookupPipelineByTypmod(reader.stage_typmod);

		if (bound != NULL)
			TrendAddPipeline(&trend, bound);
	}

	while (trend.ninstants > 0 && TableReaderNext(&reader))
	{
		Datum	   *v = reader.values;
		bool	   *n = reader.isnull;
		TrendStage *ts;
		int			lo,
					hi;

		CHECK_FOR_INTERRUPTS();
		if (n[HIST_ENTERED_AT] || n[HIST_STAGE])
			continue;
		lo = FirstInstantAtOrAfter(&trend, DatumGetTimestampTz(v[HIST_ENTERED_AT]));
		hi = n[HIST_LEFT_AT] ? trend.ninstants :
			FirstInstantAtOrAfter(&trend, DatumGetTimestampTz(v[HIST_LEFT_AT]));
		if (lo >= hi)
			continue;			/* open at none of the instants */
		ts = &trend.stages[TrendStageIndex(&trend, DatumGetDealStage(v[HIST_STAGE]))];
		ts->count_diff[lo]++;
		ts->count_diff[hi]--;
		if (amounts != NULL && !n[HIST_DEAL_ID])
		{
			AmountEntry *entry = amounts_lookup(amounts, v[HIST_DEAL_ID]);

			if (entry != NULL && entry->has_amount)
			{
				int128		a = entry->amount;

				if (entry->scale > trend.scale)
					TrendRescale(&trend, entry->scale);
				else
					a = DecRescale(a, entry->scale, trend.scale);
				ts->amount_diff[lo] = DecAdd(ts->amount_diff[lo], a);
				ts->amount_diff[hi] = DecAdd(ts->amount_diff[hi], -a);
			}
		}
	}
	TableReaderClose(&reader);
	TrendEmit(&trend, rsinfo);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(funnel_history_visits);

/*
 * funnel_internal.history_visits(history regclass, as_of timestamptz,
 *								  with_closed boolean, deals regclass,
 *								  amount_column name, deal_column,
 *								  stage_column, entered_at_column,
 *								  left_at_column name)
 *		RETURNS TABLE (deal_id text, stage deal_stage, entered_at timestamptz,
 *					   left_at timestamptz, amount numeric)
 *
 * The visits of any history (a table of funnel's layout by a direct scan,
 * anything else by a query run as the caller, as pipeline_as_of()), for
 * funnel.stale_deals() and funnel.check_visits() (issue 21.2, 21.3): with
 * as_of, only the visits open at as_of and, with with_closed, those closed
 * by as_of; without it, every row.  With deals, each visit carries its
 * deal's current amount (the deals table read and checked as by
 * pipeline_trend()).
 */
Datum
funnel_history_visits(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	HistoryReader reader;
	KeyOps		ops;
	amounts_hash *amounts = NULL;
	const char *amount_column = NULL;
	bool		all_rows = PG_ARGISNULL(1);
	TimestampTz as_of = all_rows ? 0 : PG_GETARG_TIMESTAMPTZ(1);
	bool		with_closed = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	FmgrInfo	keyout;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	if (!PG_ARGISNULL(4))
	{
		amount_column = NameStr(*PG_GETARG_NAME(4));
		if (PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("amount_column \"%s\" given without a deals table", amount_column),
					 errhint("Amounts are read from the deals table: pass deals too.")));
	}

	HistoryOpenMapped(&reader, fcinfo, 0, 5);
	if (!PG_ARGISNULL(3))
		amounts = LoadAmounts(PG_GETARG_OID(3), amount_column, &reader, &ops);
	DealIdOutputInit(&reader, &keyout);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "history_visits row",
								   ALLOCSET_SMALL_SIZES);

	while (TableReaderNext(&reader))
	{
		Datum	   *v = reader.values;
		bool	   *n = reader.isnull;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		CHECK_FOR_INTERRUPTS();
		if (!all_rows)
		{
			bool		open_then = !n[HIST_ENTERED_AT] &&
				DatumGetTimestampTz(v[HIST_ENTERED_AT]) <= as_of &&
				(n[HIST_LEFT_AT] || DatumGetTimestampTz(v[HIST_LEFT_AT]) > as_of);
			bool		closed_by = with_closed && !n[HIST_LEFT_AT] &&
				DatumGetTimestampTz(v[HIST_LEFT_AT]) <= as_of;

			if (!open_then && !closed_by)
				continue;
		}

		oldcxt = MemoryContextSwitchTo(rowcxt);
		DealIdText(&keyout, v, n, &values[0], &nulls[0]);
		values[1] = v[HIST_STAGE];
		nulls[1] = n[HIST_STAGE];
		values[2] = v[HIST_ENTERED_AT];
		nulls[2] = n[HIST_ENTERED_AT];
		values[3] = v[HIST_LEFT_AT];
		nulls[3] = n[HIST_LEFT_AT];
		nulls[4] = true;
		if (amounts != NULL && !n[HIST_DEAL_ID])
		{
			AmountEntry *entry = amounts_lookup(amounts, v[HIST_DEAL_ID]);

			if (entry != NULL && entry->has_amount)
			{
				values[4] = DecToNumeric(entry->amount, entry->scale);
				nulls[4] = false;
			}
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	TableReaderClose(&reader);
	return (Datum) 0;
}
