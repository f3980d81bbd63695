/*-------------------------------------------------------------------------
 *
 * live.c
 *	  The readers' arithmetic of the live summaries (sql/install/live/live.sql):
 *	  a funnel summary minus another, and the exact percentile of time in
 *	  stage over sorted runs of durations added and removed.
 *
 * A live summary table holds append-only delta rows: per key (entry day,
 * dimension values) a summary of the deals' contributions added (plus)
 * and one of the contributions they replaced (minus); per key and stage a
 * sorted run of the closed visits' durations added and one of those
 * removed.  The net of a key is plus - minus, never negative: every
 * contribution removed was added before (doc/design.md "Live summaries").
 *
 * The percentile is an order statistic of the net multiset: the k-th
 * smallest value is the smallest x with count(<= x) > k, and count(<= x)
 * is a binary search per run (added runs counted, removed runs
 * subtracted), so a reader binary-searches x over the 64-bit range with
 * about 64 x runs x log(run length) comparisons and never reads every
 * value.
 *
 * The runs state has a combine function and a serial form (the runs
 * concatenated), so the percentile aggregates in parallel plans and, on
 * Citus, on the workers, the binary searches staying in the final step.
 *
 * src/live/live.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "storage/lockdefs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "duration_sample.h"
#include "funnel_summary.h"
#include "track.h"

/* ---- the API's entry points -------------------------------------------- */

/*
 * funnel.enable_live(deals, dimensions, amount_column): ownership check,
 * then funnel_internal.enable_live() as the extension owner (as track())
 */
PG_FUNCTION_INFO_V1(funnel_enable_live);
Datum
funnel_enable_live(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[3] = {REGCLASSOID, NAMEARRAYOID, NAMEOID};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the deals table must not be null")));
	/* the lock CREATE TRIGGER takes: no move while the summary is built */
	RequireOwner(PG_GETARG_OID(0), ShareRowExclusiveLock);
	return CallBody(fcinfo, "enable_live", 3, argtypes);
}

/* funnel.disable_live(deals): ownership check, then the body */
PG_FUNCTION_INFO_V1(funnel_disable_live);
Datum
funnel_disable_live(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[1] = {REGCLASSOID};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the deals table must not be null")));
	/* the lock DROP TRIGGER takes */
	RequireOwner(PG_GETARG_OID(0), AccessExclusiveLock);
	return CallBody(fcinfo, "disable_live", 1, argtypes);
}

/* ---- summaries -------------------------------------------------------- */

static void
LiveInconsistent(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("live summary removes more deals than it added"),
			 errdetail("The delta rows of a live summary table were edited or lost."),
			 errhint("Call funnel.live_rebuild() on the deals table.")));
}

static inline int64
LiveSub(int64 a, int64 b)
{
	int64		r;

	if (pg_sub_s64_overflow(a, b, &r) || r < 0)
		LiveInconsistent();
	return r;
}

/*
 * funnel_internal.live_summary_minus(plus, minus): plus - minus, entry by
 * entry (moved deals too); NULL when no deal is left (as funnel() over no
 * rows).  Errors if
 * a counter would go below zero.
 */
PG_FUNCTION_INFO_V1(live_summary_minus);
Datum
live_summary_minus(PG_FUNCTION_ARGS)
{
	FunnelSummary *p;
	FunnelSummary *m;
	int			i;
	bool		any = false;

	if (PG_ARGISNULL(0))
	{
		if (!PG_ARGISNULL(1))
		{
			m = PG_GETARG_SUMMARY(1);
			SummaryCheck(m);
			for (i = 0; i < m->nentries; i++)
				if (m->entries[i].deals != 0 || m->entries[i].moved != 0)
					LiveInconsistent();
		}
		PG_RETURN_NULL();
	}
	p = PG_GETARG_SUMMARY(0);
	SummaryCheck(p);
	/* a copy we may change */
	{
		FunnelSummary *c = palloc(VARSIZE(p));

		memcpy(c, p, VARSIZE(p));
		p = c;
	}
	if (!PG_ARGISNULL(1))
	{
		m = PG_GETARG_SUMMARY(1);
		SummaryCheck(m);
		SummaryCheckPipeline(p, m->pipeline);
		if ((p->flags & SUMMARY_OUTCOMES) != (m->flags & SUMMARY_OUTCOMES))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot subtract a funnel summary without outcomes from one with outcomes")));
		if (m->scale > p->scale)
			SummaryRescale(p, m->scale);
		else if (p->scale > m->scale)
		{
			FunnelSummary *c = palloc(VARSIZE(m));

			memcpy(c, m, VARSIZE(m));
			m = c;
			SummaryRescale(m, p->scale);
		}
		for (i = 0; i < m->nentries; i++)
		{
			const SummaryEntry *e2 = &m->entries[i];
			SummaryEntry *e1;
			int			j = SummaryFindEntry(p, e2->label, i);

			if (j < 0)
			{
				p = SummaryAddEntry(p, e2->label);
				j = p->nentries - 1;
			}
			e1 = &p->entries[j];
			e1->deals = LiveSub(e1->deals, e2->deals);
			e1->amount_count = LiveSub(e1->amount_count, e2->amount_count);
			e1->amount -= e2->amount;
			e1->open = LiveSub(e1->open, e2->open);
			e1->lost_here = LiveSub(e1->lost_here, e2->lost_here);
			e1->current = LiveSub(e1->current, e2->current);
			e1->current_amount_count = LiveSub(e1->current_amount_count,
											   e2->current_amount_count);
			e1->current_amount -= e2->current_amount;
			e1->moved = LiveSub(e1->moved, e2->moved);
			e1->moved_here = LiveSub(e1->moved_here, e2->moved_here);
		}
	}
	for (i = 0; i < p->nentries; i++)
	{
		SummaryEntry *e = &p->entries[i];

		/* an amount total without an amount left: the deltas disagree */
		if ((e->amount_count == 0 && e->amount != 0) ||
			(e->current_amount_count == 0 && e->current_amount != 0))
			LiveInconsistent();
		if (e->deals != 0 || e->moved != 0)
			any = true;
	}
	if (!any)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(p);
}

/* ---- sorted runs of durations ------------------------------------------ */

typedef struct LiveRun
{
	const int64 *values;
	int			n;
	bool		removed;		/* a run of durations taken away */
} LiveRun;

typedef struct LiveRunsState
{
	MemoryContext cxt;
	LiveRun    *runs;
	int			nruns;
	int			capacity;
	bool		has_fraction;
	double		fraction;
} LiveRunsState;

/* The values of a sorted run (int8[] without NULLs, one dimension) */
static void
LiveAddRun(LiveRunsState *state, Datum d, bool removed)
{
	ArrayType  *a;
	MemoryContext old = MemoryContextSwitchTo(state->cxt);
	int			n;
	int			i;
	const int64 *v;

	a = DatumGetArrayTypePCopy(d);
	MemoryContextSwitchTo(old);
	if (ARR_ELEMTYPE(a) != INT8OID || ARR_HASNULL(a) || ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a run of durations must be a one-dimensional bigint[] without NULLs")));
	n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	if (n == 0)
		return;
	/* no NULLs: the values follow the dimensions (ARR_DATA_PTR without its sign-mixing ?:) */
	v = (const int64 *) ((const char *) a + ARR_OVERHEAD_NONULLS(ARR_NDIM(a)));
	for (i = 1; i < n; i++)
		if (v[i - 1] > v[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a run of durations must be sorted"),
					 errdetail("%lld comes before %lld.",
							   (long long) v[i - 1], (long long) v[i]),
					 errhint("Call funnel.live_rebuild() on the deals table.")));
	if (state->nruns == state->capacity)
	{
		state->capacity *= 2;
		state->runs = repalloc(state->runs, state->capacity * sizeof(LiveRun));
	}
	state->runs[state->nruns].values = v;
	state->runs[state->nruns].n = n;
	state->runs[state->nruns].removed = removed;
	state->nruns++;
}

/*
 * funnel_internal.live_runs_trans(state, added int8[], removed int8[],
 * fraction float8): collects the runs of the live rows read
 */
PG_FUNCTION_INFO_V1(live_runs_trans);
Datum
live_runs_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	LiveRunsState *state;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "live_runs_trans called in non-aggregate context");
	if (PG_ARGISNULL(0))
	{
		state = MemoryContextAllocZero(aggcxt, sizeof(LiveRunsState));
		state->cxt = aggcxt;
		state->capacity = 16;
		state->runs = MemoryContextAlloc(aggcxt, state->capacity * sizeof(LiveRun));
	}
	else
		state = (LiveRunsState *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(3))
	{
		double		f = PG_GETARG_FLOAT8(3);

		DurationCheckFraction(f);
		if (state->has_fraction && f != state->fraction)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("percentile fraction must be the same for every row"),
					 errdetail("Got %g after %g.", f, state->fraction)));
		state->has_fraction = true;
		state->fraction = f;
	}
	if (!PG_ARGISNULL(1))
		LiveAddRun(state, PG_GETARG_DATUM(1), false);
	if (!PG_ARGISNULL(2))
		LiveAddRun(state, PG_GETARG_DATUM(2), true);
	PG_RETURN_POINTER(state);
}

/* Values <= x in a sorted run: one binary search */
static inline int
RunCountLE(const LiveRun *r, int64 x)
{
	int			lo = 0;
	int			hi = r->n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (r->values[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Net values <= x: added runs minus removed runs */
static int64
NetCountLE(const LiveRunsState *s, int64 x)
{
	int64		c = 0;
	int			i;

	for (i = 0; i < s->nruns; i++)
	{
		if (s->runs[i].removed)
			c -= RunCountLE(&s->runs[i], x);
		else
			c += RunCountLE(&s->runs[i], x);
	}
	return c;
}

/* The k-th smallest (from 0) net value: the least x with count(<= x) > k */
static int64
NetSelect(const LiveRunsState *s, int64 k)
{
	int64		lo = PG_INT64_MAX;
	int64		hi = PG_INT64_MIN;
	int			i;

	/* every net value is in some added run */
	for (i = 0; i < s->nruns; i++)
		if (!s->runs[i].removed)
		{
			lo = Min(lo, s->runs[i].values[0]);
			hi = Max(hi, s->runs[i].values[s->runs[i].n - 1]);
		}
	while (lo < hi)
	{
		int64		mid = (int64) (((int128) lo + (int128) hi) >> 1);

		CHECK_FOR_INTERRUPTS();
		if (NetCountLE(s, mid) > k)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Final: percentile_cont over the net durations, as the interval
 * funnel.time_in_stage_percentile() returns; NULL without a duration
 */
PG_FUNCTION_INFO_V1(live_runs_final);
Datum
live_runs_final(PG_FUNCTION_ARGS)
{
	LiveRunsState *s;
	int64		n = 0;
	int			i;
	int64		first_row;
	int64		second_row;
	int64		first_value;
	int64		second_value = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (LiveRunsState *) PG_GETARG_POINTER(0);
	for (i = 0; i < s->nruns; i++)
		n += s->runs[i].removed ? -s->runs[i].n : s->runs[i].n;
	if (n < 0)
		LiveInconsistent();
	if (n == 0 || !s->has_fraction)
		PG_RETURN_NULL();
	first_row = (int64) floor(s->fraction * (n - 1));
	second_row = (int64) ceil(s->fraction * (n - 1));
	first_value = NetSelect(s, first_row);
	if (second_row != first_row)
		second_value = NetSelect(s, second_row);
	PG_RETURN_DATUM(DurationPercentileInterval(s->fraction, n, first_row,
											   second_row, first_value,
											   second_value));
}

/* ---- parallel and distributed aggregation of the runs ------------------ */

/* A new empty state in the aggregate's context */
static LiveRunsState *
LiveRunsNew(MemoryContext aggcxt, int capacity)
{
	LiveRunsState *state = MemoryContextAllocZero(aggcxt, sizeof(LiveRunsState));

	state->cxt = aggcxt;
	state->capacity = Max(capacity, 16);
	state->runs = MemoryContextAlloc(aggcxt, state->capacity * sizeof(LiveRun));
	return state;
}

/* The fraction of another state, which must be the same if both have one */
static void
LiveRunsMergeFraction(LiveRunsState *into, const LiveRunsState *from)
{
	if (!from->has_fraction)
		return;
	if (into->has_fraction && into->fraction != from->fraction)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("percentile fraction must be the same for every row"),
				 errdetail("Got %g after %g.", from->fraction, into->fraction)));
	into->has_fraction = true;
	into->fraction = from->fraction;
}

/*
 * funnel_internal.live_runs_combine(state, state): the runs of both, the
 * second's values copied into the aggregate's context
 */
PG_FUNCTION_INFO_V1(live_runs_combine);
Datum
live_runs_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	LiveRunsState *state;
	LiveRunsState *other;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "live_runs_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	other = (LiveRunsState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		state = LiveRunsNew(aggcxt, other->nruns);
	else
		state = (LiveRunsState *) PG_GETARG_POINTER(0);

	LiveRunsMergeFraction(state, other);
	for (i = 0; i < other->nruns; i++)
	{
		const LiveRun *r = &other->runs[i];
		int64	   *values;

		if (state->nruns == state->capacity)
		{
			state->capacity *= 2;
			state->runs = repalloc(state->runs, state->capacity * sizeof(LiveRun));
		}
		values = MemoryContextAlloc(aggcxt, r->n * sizeof(int64));
		memcpy(values, r->values, r->n * sizeof(int64));
		state->runs[state->nruns].values = values;
		state->runs[state->nruns].n = r->n;
		state->runs[state->nruns].removed = r->removed;
		state->nruns++;
	}
	PG_RETURN_POINTER(state);
}

/*
 * funnel_internal.live_runs_serialize(state) bytea: the fraction (a flag
 * and a float8), the number of runs, then each run: removed flag, length,
 * values (network byte order)
 */
PG_FUNCTION_INFO_V1(live_runs_serialize);
Datum
live_runs_serialize(PG_FUNCTION_ARGS)
{
	LiveRunsState *state;
	StringInfoData buf;
	int			i;
	int			j;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "live_runs_serialize called in non-aggregate context");
	state = (LiveRunsState *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, state->has_fraction ? 1 : 0);
	pq_sendfloat8(&buf, state->fraction);
	pq_sendint32(&buf, state->nruns);
	for (i = 0; i < state->nruns; i++)
	{
		pq_sendbyte(&buf, state->runs[i].removed ? 1 : 0);
		pq_sendint32(&buf, state->runs[i].n);
		for (j = 0; j < state->runs[i].n; j++)
			pq_sendint64(&buf, state->runs[i].values[j]);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * funnel_internal.live_runs_deserialize(bytea, internal): the state of
 * live_runs_serialize(); each run checked sorted as when first read
 */
PG_FUNCTION_INFO_V1(live_runs_deserialize);
Datum
live_runs_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	LiveRunsState *state;
	int			nruns;
	int			i;
	int			j;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "live_runs_deserialize called in non-aggregate context");
	/* read in place (initReadOnlyStringInfo() of PostgreSQL 17) */
	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	state = LiveRunsNew(aggcxt, 16);
	state->has_fraction = pq_getmsgbyte(&buf) != 0;
	state->fraction = pq_getmsgfloat8(&buf);
	if (state->has_fraction)
		DurationCheckFraction(state->fraction);
	nruns = pq_getmsgint(&buf, 4);
	if (nruns < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid number of runs %d in a live percentile state", nruns)));
	for (i = 0; i < nruns; i++)
	{
		bool		removed = pq_getmsgbyte(&buf) != 0;
		int			n = pq_getmsgint(&buf, 4);
		int64	   *values;

		if (n <= 0 || n > (buf.len - buf.cursor) / (int) sizeof(int64))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid run length %d in a live percentile state", n)));
		values = MemoryContextAlloc(aggcxt, n * sizeof(int64));
		for (j = 0; j < n; j++)
		{
			values[j] = pq_getmsgint64(&buf);
			if (j > 0 && values[j - 1] > values[j])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("a run of durations must be sorted"),
						 errdetail("%lld comes before %lld.",
								   (long long) values[j - 1], (long long) values[j])));
		}
		if (state->nruns == state->capacity)
		{
			state->capacity *= 2;
			state->runs = repalloc(state->runs, state->capacity * sizeof(LiveRun));
		}
		state->runs[state->nruns].values = values;
		state->runs[state->nruns].n = n;
		state->runs[state->nruns].removed = removed;
		state->nruns++;
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}
