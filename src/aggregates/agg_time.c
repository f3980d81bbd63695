/*-------------------------------------------------------------------------
 *
 * agg_time.c
 *	  Exact time-in-stage percentiles: funnel.median_time_in_stage() and
 *	  funnel.time_in_stage_percentile(), as justified intervals (days and
 *	  time, never months, never 24 hours or more), and their numeric-days
 *	  forms median_time_in_stage_days() and time_in_stage_percentile_days().
 *
 * The result must equal percentile_cont(f) WITHIN GROUP (ORDER BY left_at -
 * entered_at) to the microsecond, so the state keeps every closed visit's
 * duration: one int64 (microseconds) per row in an array that doubles as it
 * grows (no palloc per row).  The final function selects the one or two
 * order statistics percentile_cont interpolates between (radix select, O(n),
 * instead of sorting) and interpolates them with the same interval
 * arithmetic as PostgreSQL's percentile_cont, so the results are identical.
 *
 * left_at - entered_at is timestamptz_mi: a plain microsecond difference
 * with whole days split off by justify_hours.  Interval order is the order
 * of the total microseconds, so sorting the microseconds sorts the
 * intervals; the final function rebuilds the same justified intervals.
 *
 * The state is the SQL type funnel.duration_sample (duration_sample.c):
 * an expanded object appended to in place while aggregating, flattened
 * (8 bytes per visit) only when it leaves the aggregate, so parallel
 * workers and Citus workers ship partial samples and the leader or the
 * coordinator combines them.
 *
 * src/aggregates/agg_time.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "common/int.h"

#include "duration_sample.h"

/* The fraction of the state, or of this row, checked */
static void
SetFraction(ExpandedDurationSample *state, double fraction)
{
	if (state->has_fraction)
	{
		if (fraction != state->fraction)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("percentile fraction must be the same for every row"),
					 errdetail("Got %g after %g.", fraction, state->fraction),
					 errhint("Call time_in_stage_percentile once per fraction.")));
		return;
	}
	DurationCheckFraction(fraction);
	state->fraction = fraction;
	state->has_fraction = true;
}

/*
 * A writable expanded copy of a sample (flat, or an expanded one we may not
 * change), with room for "more" further durations
 */
static ExpandedDurationSample *
CopySample(Datum d, MemoryContext parent, int64 more)
{
	DurationView v;
	ExpandedDurationSample *s;

	DurationSampleView(d, &v);
	s = DurationSampleNew(parent, v.n + more);
	s->has_fraction = v.has_fraction;
	s->fraction = v.fraction;
	memcpy(s->values, v.values, v.n * sizeof(int64));
	s->n = v.n;
	return s;
}

/*
 * The sample argument to update: inside an aggregate, the read-write
 * expanded state the executor hands back is ours to change in place;
 * anything else (a flat value, a call outside an aggregate) is copied.
 */
static inline ExpandedDurationSample *
SampleForUpdate(FunctionCallInfo fcinfo, int64 more)
{
	MemoryContext aggcontext;
	MemoryContext parent;

	/* the common row: AggCheckCallContext's test, without the call */
	if (likely(!PG_ARGISNULL(0) && fcinfo->context != NULL &&
			   (IsA(fcinfo->context, AggState) ||
				IsA(fcinfo->context, WindowAggState))))
	{
		ExpandedDurationSample *s = DurationSampleGetRW(PG_GETARG_DATUM(0));

		if (likely(s != NULL))
			return s;
	}
	parent = AggCheckCallContext(fcinfo, &aggcontext) ? aggcontext : CurrentMemoryContext;
	if (PG_ARGISNULL(0))
		return DurationSampleNew(parent, more);
	return CopySample(PG_GETARG_DATUM(0), parent, more);
}

/*
 * Transition of both aggregates: (state, entered_at, left_at [, fraction]).
 * Rows whose entered_at or left_at is NULL (open visits) are skipped.
 */
PG_FUNCTION_INFO_V1(time_in_stage_trans);
Datum
time_in_stage_trans(PG_FUNCTION_ARGS)
{
	ExpandedDurationSample *state;
	TimestampTz entered_at;
	TimestampTz left_at;
	bool		created = PG_ARGISNULL(0);

	state = SampleForUpdate(fcinfo, 0);
	if (unlikely(created) && PG_NARGS() == 3)
	{
		state->fraction = 0.5;
		state->has_fraction = true;
	}

	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		double		fraction = PG_GETARG_FLOAT8(3);

		if (unlikely(!state->has_fraction || fraction != state->fraction))
			SetFraction(state, fraction);
	}

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_DATUM(EOHPGetRWDatum(&state->hdr));
	entered_at = PG_GETARG_TIMESTAMPTZ(1);
	left_at = PG_GETARG_TIMESTAMPTZ(2);
	if (unlikely(TIMESTAMP_NOT_FINITE(entered_at) || TIMESTAMP_NOT_FINITE(left_at)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps")));

	if (unlikely(state->n == state->capacity))
		DurationSampleReserve(state, 1);
	if (unlikely(pg_sub_s64_overflow(left_at, entered_at, &state->values[state->n])))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range"),
				 errdetail("left_at - entered_at of a visit does not fit in an interval.")));
	state->n++;
	PG_RETURN_DATUM(EOHPGetRWDatum(&state->hdr));
}

/* Combine: append the second sample's durations to the first */
PG_FUNCTION_INFO_V1(time_in_stage_combine);
Datum
time_in_stage_combine(PG_FUNCTION_ARGS)
{
	ExpandedDurationSample *state;
	DurationView v;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	DurationSampleView(PG_GETARG_DATUM(1), &v);
	state = SampleForUpdate(fcinfo, v.n);
	/* the same object twice: append from a copy (Reserve may move it) */
	if (v.values == state->values)
		v.values = memcpy(palloc_extended(v.n * sizeof(int64) + 1, MCXT_ALLOC_HUGE),
						  v.values, v.n * sizeof(int64));
	if (v.has_fraction)
		SetFraction(state, v.fraction);
	DurationSampleReserve(state, v.n);
	memcpy(state->values + state->n, v.values, v.n * sizeof(int64));
	state->n += v.n;
	PG_RETURN_DATUM(EOHPGetRWDatum(&state->hdr));
}

/*
 * Rearrange v[0..n-1] so that v[k] holds the k-th smallest value, smaller
 * or equal values before it and larger or equal after it (quickselect with
 * a median-of-three pivot and three-way partitioning, so runs of equal
 * durations cost nothing).
 */
static void
SelectKth(int64 *v, int64 n, int64 k)
{
	int64		lo = 0;
	int64		hi = n - 1;

	while (hi > lo)
	{
		int64		mid = lo + (hi - lo) / 2;
		int64		a = v[lo],
					b = v[mid],
					c = v[hi];
		int64		pivot = (a < b) ? ((b < c) ? b : (a < c ? c : a))
			: ((a < c) ? a : (b < c ? c : b));
		int64		lt = lo,
					i = lo,
					gt = hi;

		/* v[lo..lt-1] < pivot, v[lt..i-1] = pivot, v[gt+1..hi] > pivot */
		while (i <= gt)
		{
			int64		x = v[i];

			if (x < pivot)
			{
				v[i++] = v[lt];
				v[lt++] = x;
			}
			else if (x > pivot)
			{
				v[i] = v[gt];
				v[gt--] = x;
			}
			else
				i++;
		}
		if (k < lt)
			hi = lt - 1;
		else if (k > gt)
			lo = gt + 1;
		else
			return;
	}
}

#define RADIX_BITS		16
#define RADIX_BUCKETS	(1 << RADIX_BITS)

/*
 * The k-th and (k+1)-th smallest values of v[0..n-1] (k+1 < n, or just the
 * k-th when second is NULL), without reordering v: a radix select on the
 * top 16 significant bits of (v - min) finds the one or two buckets that
 * hold those ranks in three sequential passes (min/max, histogram, gather),
 * then a quickselect on the few values gathered.  Sequential and branch-
 * light, so a few milliseconds for millions of durations where a
 * quickselect over all of them mispredicts a branch per element.
 */
static void
SelectRanks(const int64 *v, int64 n, int64 k, int64 *first, int64 *second)
{
	int64		min = v[0],
				max = v[0];
	uint64		range;
	int			shift = 0;
	int64	   *counts;
	int64		below = 0;
	int64		b1,
				b2;
	int64		i,
				m = 0;
	int64	   *bucket;

	for (i = 1; i < n; i++)
	{
		if (v[i] < min)
			min = v[i];
		if (v[i] > max)
			max = v[i];
	}
	if (min == max)
	{
		*first = min;
		if (second)
			*second = min;
		return;
	}
	range = (uint64) max - (uint64) min;
	while ((range >> shift) >= RADIX_BUCKETS)
		shift++;

	counts = palloc0(RADIX_BUCKETS * sizeof(int64));
	for (i = 0; i < n; i++)
		counts[((uint64) v[i] - (uint64) min) >> shift]++;

	/* bucket b1 holds rank k; b2 >= b1 holds rank k + 1 */
	for (b1 = 0; below + counts[b1] <= k; b1++)
		below += counts[b1];
	b2 = b1;
	if (second && below + counts[b1] <= k + 1)
		for (b2 = b1 + 1; counts[b2] == 0; b2++)
			;

	bucket = palloc_extended((counts[b1] + (b2 != b1 ? counts[b2] : 0)) * sizeof(int64),
							 MCXT_ALLOC_HUGE);
	for (i = 0; i < n; i++)
	{
		int64		b = (int64) (((uint64) v[i] - (uint64) min) >> shift);

		if (b == b1 || b == b2)
			bucket[m++] = v[i];
	}

	/* within the gathered values, rank k is k - below */
	SelectKth(bucket, m, k - below);
	*first = bucket[k - below];
	if (second)
	{
		int64		next = bucket[k - below + 1];

		for (i = k - below + 2; i < m; i++)
			if (bucket[i] < next)
				next = bucket[i];
		*second = next;
	}
	pfree(bucket);
	pfree(counts);
}

/* The justified interval of a duration, as timestamptz_mi returns it */
static Datum
DurationInterval(int64 usecs)
{
	Interval   *iv = palloc(sizeof(Interval));

	iv->time = usecs;
	iv->day = 0;
	iv->month = 0;
	return DirectFunctionCall1(interval_justify_hours, IntervalPGetDatum(iv));
}

/*
 * percentile_cont's value between the order statistics first_row and
 * second_row of n durations (first_value, second_value), as a justified
 * interval; also used by the live summaries' runs (live.c)
 */
Datum
DurationPercentileInterval(double fraction, int64 n, int64 first_row,
						   int64 second_row, int64 first_value,
						   int64 second_value)
{
	double		proportion;
	Datum		lo;
	Datum		hi;
	Datum		diff;

	lo = DurationInterval(first_value);
	if (second_row == first_row)
		return lo;
	hi = DurationInterval(second_value);

	proportion = (fraction * (n - 1)) - first_row;
	diff = DirectFunctionCall2(interval_mi, hi, lo);
	diff = DirectFunctionCall2(interval_mul, diff, Float8GetDatum(proportion));
	/* interpolation can leave 26:00:00 or "1 day -02:00:00": justify */
	return DirectFunctionCall1(interval_justify_hours,
							   DirectFunctionCall2(interval_pl, diff, lo));
}

/* percentile_cont over the durations of a non-empty state */
static Datum
TimePercentile(const DurationView *state)
{
	double		fraction;
	int64		first_row;
	int64		second_row;
	int64		first_value;
	int64		second_value = 0;

	fraction = state->fraction;

	/* as percentile_cont_final_common */
	first_row = (int64) floor(fraction * (state->n - 1));
	second_row = (int64) ceil(fraction * (state->n - 1));

	/* the state is left as it is: the final function may run again */
	SelectRanks(state->values, state->n, first_row, &first_value,
				second_row == first_row ? NULL : &second_value);
	return DurationPercentileInterval(fraction, state->n, first_row,
									  second_row, first_value, second_value);
}

/* Final of the interval forms: percentile_cont, as a justified interval */
PG_FUNCTION_INFO_V1(time_in_stage_final);
Datum
time_in_stage_final(PG_FUNCTION_ARGS)
{
	DurationView state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	DurationSampleView(PG_GETARG_DATUM(0), &state);
	if (state.n == 0 || !state.has_fraction)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(TimePercentile(&state));
}

/* Final of the *_days forms: the same percentile in days, as numeric */
PG_FUNCTION_INFO_V1(time_in_stage_final_days);
Datum
time_in_stage_final_days(PG_FUNCTION_ARGS)
{
	DurationView state;
	Interval   *iv;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	DurationSampleView(PG_GETARG_DATUM(0), &state);
	if (state.n == 0 || !state.has_fraction)
		PG_RETURN_NULL();
	iv = DatumGetIntervalP(TimePercentile(&state));
	PG_RETURN_DATUM(AggDays((int128) iv->day * USECS_PER_DAY + iv->time, 1));
}

/*
 * funnel.avg_time_in_stage(entered_at, left_at) transition: the state is a
 * funnel.forecast_state holding the closed visits and their total
 * microseconds (an exact 128-bit sum, scale 0).  Open visits and rows with
 * a NULL entered_at are skipped.
 */
PG_FUNCTION_INFO_V1(avg_time_in_stage_trans);
Datum
avg_time_in_stage_trans(PG_FUNCTION_ARGS)
{
	AggCallCache *cache = AggGetCallCache(fcinfo);
	ForecastState *state;
	TimestampTz entered_at;
	TimestampTz left_at;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	entered_at = PG_GETARG_TIMESTAMPTZ(1);
	left_at = PG_GETARG_TIMESTAMPTZ(2);
	if (unlikely(TIMESTAMP_NOT_FINITE(entered_at) || TIMESTAMP_NOT_FINITE(left_at)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps")));
	if (PG_ARGISNULL(0))
		state = palloc0(sizeof(ForecastState));	/* copied by nodeAgg */
	else if (likely(cache->in_aggregate))
		state = (ForecastState *) PG_GETARG_POINTER(0);
	else
	{
		state = palloc(sizeof(ForecastState));
		memcpy(state, PG_GETARG_POINTER(0), sizeof(ForecastState));
	}
	if (unlikely(state->scale != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid avg_time_in_stage state: scale %d", state->scale),
				 errdetail("The state holds whole microseconds (scale 0).")));
	state->sum = DecAdd(state->sum, (int128) left_at - (int128) entered_at);
	AggCountAdd(&state->n, 1);
	PG_RETURN_POINTER(state);
}

/* A state of avg_time_in_stage, checked: scale 0 */
static ForecastState *
AvgState(FunctionCallInfo fcinfo)
{
	ForecastState *state = (ForecastState *) PG_GETARG_POINTER(0);

	if (state->scale != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid avg_time_in_stage state: scale %d", state->scale),
				 errdetail("The state holds whole microseconds (scale 0).")));
	return state;
}

/*
 * Final of avg_time_in_stage: the mean duration, rounded half away from
 * zero to the microsecond, as a justified interval (days and time)
 */
PG_FUNCTION_INFO_V1(avg_time_in_stage_final);
Datum
avg_time_in_stage_final(PG_FUNCTION_ARGS)
{
	ForecastState *state = AvgState(fcinfo);
	int128		q;
	int128		r;

	if (state->n == 0)
		PG_RETURN_NULL();
	q = state->sum / state->n;
	r = state->sum % state->n;
	if (r < 0 ? -2 * r >= state->n : 2 * r >= state->n)
		q += (r < 0) ? -1 : 1;
	if (q > PG_INT64_MAX || q < PG_INT64_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	PG_RETURN_DATUM(DurationInterval((int64) q));
}

/* Final of avg_time_in_stage_days: the mean duration in days, numeric */
PG_FUNCTION_INFO_V1(avg_time_in_stage_final_days);
Datum
avg_time_in_stage_final_days(PG_FUNCTION_ARGS)
{
	ForecastState *state = AvgState(fcinfo);

	if (state->n == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(AggDays(state->sum, state->n));
}
