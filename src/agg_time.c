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
 * This is the one aggregate family with an `internal` state (it grows with
 * the input): parallel workers ship it through serialize/deserialize, and
 * on Citus the rows are gathered to the coordinator.
 *
 * src/agg_time.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "agg.h"

#define TIME_STATE_INITIAL	1024

typedef struct TimeState
{
	MemoryContext context;		/* where the state and its values live */
	int64		n;				/* durations held */
	int64		capacity;
	bool		has_fraction;
	double		fraction;		/* from the first row that gave one */
	int64	   *values;			/* microseconds */
} TimeState;

/* Refuse a fraction outside [0,1] */
static void
CheckFraction(double fraction)
{
	if (isnan(fraction) || fraction < 0 || fraction > 1)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("percentile fraction %g is not between 0 and 1", fraction),
				 errhint("Pass a fraction such as 0.5 for the median or 0.9 for the 90th percentile.")));
}

/* A new empty state in the aggregate context */
static TimeState *
NewTimeState(MemoryContext context, int64 capacity)
{
	TimeState  *state = MemoryContextAllocZero(context, sizeof(TimeState));

	state->context = context;
	state->capacity = Max(capacity, TIME_STATE_INITIAL);
	state->values = MemoryContextAllocHuge(context,
										   state->capacity * sizeof(int64));
	return state;
}

/* Make room for at least "more" further values */
static void
Reserve(TimeState *state, int64 more)
{
	int64		needed = state->n + more;

	if (needed <= state->capacity)
		return;
	while (state->capacity < needed)
		state->capacity *= 2;
	state->values = repalloc_huge(state->values,
								  state->capacity * sizeof(int64));
}

/* The fraction of the state, or of this row, checked */
static void
SetFraction(TimeState *state, double fraction)
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
	CheckFraction(fraction);
	state->fraction = fraction;
	state->has_fraction = true;
}

/*
 * Transition of both aggregates: (state, entered_at, left_at [, fraction]).
 * Rows whose entered_at or left_at is NULL (open visits) are skipped.
 */
PG_FUNCTION_INFO_V1(time_in_stage_trans);
Datum
time_in_stage_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	TimeState  *state;
	TimestampTz entered_at;
	TimestampTz left_at;

	if (unlikely(PG_ARGISNULL(0)))
	{
		/* an internal state only ever comes from here, inside an aggregate */
		if (!AggCheckCallContext(fcinfo, &aggcontext))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("time_in_stage_trans called in non-aggregate context")));
		state = NewTimeState(aggcontext, TIME_STATE_INITIAL);
		if (PG_NARGS() == 3)
		{
			state->fraction = 0.5;
			state->has_fraction = true;
		}
	}
	else
		state = (TimeState *) PG_GETARG_POINTER(0);

	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		double		fraction = PG_GETARG_FLOAT8(3);

		if (unlikely(!state->has_fraction || fraction != state->fraction))
			SetFraction(state, fraction);
	}

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	entered_at = PG_GETARG_TIMESTAMPTZ(1);
	left_at = PG_GETARG_TIMESTAMPTZ(2);
	if (unlikely(TIMESTAMP_NOT_FINITE(entered_at) || TIMESTAMP_NOT_FINITE(left_at)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps")));

	if (unlikely(state->n == state->capacity))
		Reserve(state, 1);
	state->values[state->n++] = left_at - entered_at;
	PG_RETURN_POINTER(state);
}

/* Combine: append the second state's durations to the first */
PG_FUNCTION_INFO_V1(time_in_stage_combine);
Datum
time_in_stage_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	TimeState  *state1;
	TimeState  *state2;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("time_in_stage_combine called in non-aggregate context")));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	state2 = (TimeState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
	{
		/* deserialized into the aggregate context: adopt it, no copy */
		if (state2->context == aggcontext)
			PG_RETURN_POINTER(state2);
		state1 = NewTimeState(aggcontext, state2->n);
		state1->has_fraction = state2->has_fraction;
		state1->fraction = state2->fraction;
	}
	else
		state1 = (TimeState *) PG_GETARG_POINTER(0);

	if (state2->has_fraction)
		SetFraction(state1, state2->fraction);
	Reserve(state1, state2->n);
	memcpy(state1->values + state1->n, state2->values, state2->n * sizeof(int64));
	state1->n += state2->n;
	PG_RETURN_POINTER(state1);
}

/* Serialize: n, has_fraction, fraction, then the durations */
PG_FUNCTION_INFO_V1(time_in_stage_serialize);
Datum
time_in_stage_serialize(PG_FUNCTION_ARGS)
{
	TimeState  *state = (TimeState *) PG_GETARG_POINTER(0);
	Size		size = VARHDRSZ + sizeof(int64) + sizeof(double) + 1 +
		state->n * sizeof(int64);
	bytea	   *result;
	char	   *p;

	if (!AllocSizeIsValid(size))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many visits for a parallel time-in-stage percentile"),
				 errdetail("A worker's state holds " INT64_FORMAT " durations; the limit is about 134 million.",
						   state->n),
				 errhint("Disable parallel aggregation for this query: SET max_parallel_workers_per_gather = 0.")));
	result = palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	memcpy(p, &state->n, sizeof(int64));
	p += sizeof(int64);
	memcpy(p, &state->fraction, sizeof(double));
	p += sizeof(double);
	*p++ = state->has_fraction ? 1 : 0;
	memcpy(p, state->values, state->n * sizeof(int64));
	PG_RETURN_BYTEA_P(result);
}

/* Deserialize (into the aggregate context when called by one) */
PG_FUNCTION_INFO_V1(time_in_stage_deserialize);
Datum
time_in_stage_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	MemoryContext context;
	TimeState  *state;

	/* straight into the aggregate context, so the combine can adopt it */
	if (!AggCheckCallContext(fcinfo, &context))
		context = CurrentMemoryContext;
	state = MemoryContextAllocZero(context, sizeof(TimeState));
	state->context = context;

	if (len < sizeof(int64) + sizeof(double) + 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid time-in-stage state")));
	memcpy(&state->n, p, sizeof(int64));
	p += sizeof(int64);
	memcpy(&state->fraction, p, sizeof(double));
	p += sizeof(double);
	state->has_fraction = (*p++ != 0);
	len -= sizeof(int64) + sizeof(double) + 1;
	/* compare without multiplying: a huge n must not wrap the product */
	if (state->n < 0 || len % sizeof(int64) != 0 ||
		(uint64) state->n != len / sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid time-in-stage state")));
	if (state->has_fraction)
		CheckFraction(state->fraction);
	state->capacity = Max(state->n, 1);
	state->values = MemoryContextAllocHuge(context, state->capacity * sizeof(int64));
	memcpy(state->values, p, state->n * sizeof(int64));
	PG_RETURN_POINTER(state);
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

/* percentile_cont over the durations of a non-empty state */
static Datum
TimePercentile(TimeState *state)
{
	double		fraction;
	int64		first_row;
	int64		second_row;
	int64		first_value;
	int64		second_value = 0;
	double		proportion;
	Datum		lo;
	Datum		hi;
	Datum		diff;

	fraction = state->fraction;

	/* as percentile_cont_final_common */
	first_row = (int64) floor(fraction * (state->n - 1));
	second_row = (int64) ceil(fraction * (state->n - 1));

	/* the state is left as it is: the final function may run again */
	SelectRanks(state->values, state->n, first_row, &first_value,
				second_row == first_row ? NULL : &second_value);
	lo = DurationInterval(first_value);
	if (second_row == first_row)
		return lo;
	hi = DurationInterval(second_value);

	proportion = (fraction * (state->n - 1)) - first_row;
	diff = DirectFunctionCall2(interval_mi, hi, lo);
	diff = DirectFunctionCall2(interval_mul, diff, Float8GetDatum(proportion));
	/* interpolation can leave 26:00:00 or "1 day -02:00:00": justify */
	return DirectFunctionCall1(interval_justify_hours,
							   DirectFunctionCall2(interval_pl, diff, lo));
}

/* Final of the interval forms: percentile_cont, as a justified interval */
PG_FUNCTION_INFO_V1(time_in_stage_final);
Datum
time_in_stage_final(PG_FUNCTION_ARGS)
{
	TimeState  *state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (TimeState *) PG_GETARG_POINTER(0);
	if (state->n == 0 || !state->has_fraction)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(TimePercentile(state));
}

/* Final of the *_days forms: the same percentile in days, as numeric */
PG_FUNCTION_INFO_V1(time_in_stage_final_days);
Datum
time_in_stage_final_days(PG_FUNCTION_ARGS)
{
	TimeState  *state;
	Interval   *iv;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (TimeState *) PG_GETARG_POINTER(0);
	if (state->n == 0 || !state->has_fraction)
		PG_RETURN_NULL();
	iv = DatumGetIntervalP(TimePercentile(state));
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
