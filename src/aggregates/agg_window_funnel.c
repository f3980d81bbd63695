/*-------------------------------------------------------------------------
 *
 * agg_window_funnel.c
 *	  Event funnels: funnel.window_funnel(window, [mode,] ts, VARIADIC steps),
 *	  the semantics of ClickHouse's windowFunnel.
 *
 * The result is the length of the longest chain of steps 1..k matched in
 * order, where the chain starts with an event matching step 1 and every
 * later step's event lies within the window of that first event
 * (ts_k - ts_1 <= window, compared as interval spans: a day is 24 hours, a
 * month 30 days, as interval comparison does).  Modes: strict_deduplication
 * (a repeated step ends the search), strict_order (no other event between
 * the steps of a chain), strict_increase (timestamps strictly increasing
 * along a chain).
 *
 * The steps are declared VARIADIC "any", so that the executor passes each
 * condition as its own argument instead of building a boolean[] per row:
 * the transition function checks their types once per call site (each must
 * be boolean, or a single boolean[] passed with VARIADIC) and then reads
 * them straight from its arguments.
 *
 * The state is the list of (timestamp, step bitmask) events of the group:
 * rows that match no step are dropped unless strict_order needs them, rows
 * with a NULL timestamp are skipped.  The final function sorts the events
 * by timestamp once (not at all when they arrived in order, the common
 * case of an event log; a radix sort for large states) and walks them once
 * with ClickHouse's greedy scan.  Events with equal timestamps are taken as
 * ClickHouse orders them after its sort of (timestamp, step) pairs: the
 * rows matching no step first, then step by step in ascending order; the
 * order of rows in the input never matters.
 *
 * The state is internal (it grows with the input): parallel workers ship
 * it through serialize/deserialize (12 bytes per event) and the combine
 * function merges two sorted lists in one pass.  The sort and the scan of
 * the final function are in agg_window_funnel_scan.c.
 *
 * src/aggregates/agg_window_funnel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "agg.h"
#include "window_funnel.h"

/*
 * Per call site cache (fn_extra): the shape of the arguments, checked on the
 * first row, and the parsed window and mode of the last row
 */
typedef struct WindowFunnelCallCache
{
	int			ts_arg;			/* argument number of the timestamp */
	int			nsteps;			/* step arguments, or -1: one boolean[] */
	uint32		unknown_steps;	/* bit i: step i + 1 is an untyped literal */
	bool		has_mode;
	bool		have_window;
	Interval	window;			/* as given */
	uint64		window_span;
	bool		have_mode;
	uint8		modes;
	int			mode_len;
	char		mode[64];		/* as given, when it fits */
} WindowFunnelCallCache;

/* The span of a window in microseconds, refusing negative windows */
static uint64
WindowSpan(const Interval *window)
{
	int128		span = (int128) window->time +
		((int128) window->day + (int128) window->month * DAYS_PER_MONTH) * USECS_PER_DAY;

	if (span < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel window must not be negative"),
				 errhint("Pass a window such as interval '7 days'.")));
	/* infinite intervals (PostgreSQL 17) and spans past any timestamp */
	if (span > (int128) PG_UINT64_MAX)
		return PG_UINT64_MAX;
	return (uint64) span;
}

/* Parse a mode: one mode or a comma-separated list of them, '' for none */
static uint8
ParseModes(const char *text, int len)
{
	uint8		modes = 0;
	int			i = 0;

	while (i < len)
	{
		int			start;
		int			end;
		int			wlen;
		const char *word;

		while (i < len && (text[i] == ' ' || text[i] == ','))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && text[i] != ',' && text[i] != ' ')
			i++;
		end = i;
		word = text + start;
		wlen = end - start;
		if (wlen == 20 && strncmp(word, "strict_deduplication", 20) == 0)
			modes |= WF_DEDUPLICATION;
		else if (wlen == 12 && strncmp(word, "strict_order", 12) == 0)
			modes |= WF_ORDER;
		else if (wlen == 15 && strncmp(word, "strict_increase", 15) == 0)
			modes |= WF_INCREASE;
		else if (wlen == 7 && strncmp(word, "default", 7) == 0)
			;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown window_funnel mode \"%.*s\"", wlen, word),
					 (wlen == 6 && strncmp(word, "strict", 6) == 0) ?
					 errdetail("ClickHouse renamed mode \"strict\" to \"strict_deduplication\".") : 0,
					 errhint("Valid modes are strict_deduplication, strict_order and strict_increase, alone or as a comma-separated list such as 'strict_order, strict_increase'; '' is the default.")));
	}
	return modes;
}

/* The window of this row, parsed once per distinct value */
static uint64
RowWindow(WindowFunnelCallCache *cache, FunctionCallInfo fcinfo)
{
	Interval   *window;

	if (unlikely(PG_ARGISNULL(1)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window_funnel window must not be NULL"),
				 errhint("Pass a window such as interval '7 days'.")));
	window = PG_GETARG_INTERVAL_P(1);
	if (likely(cache->have_window &&
			   memcmp(&cache->window, window, sizeof(Interval)) == 0))
		return cache->window_span;
	cache->window_span = WindowSpan(window);
	cache->window = *window;
	cache->have_window = true;
	return cache->window_span;
}

/* The modes of this row (argument 2 when there is one) */
static uint8
RowModes(WindowFunnelCallCache *cache, FunctionCallInfo fcinfo)
{
	text	   *mode;
	int			len;

	if (!cache->has_mode)
		return 0;
	if (unlikely(PG_ARGISNULL(2)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window_funnel mode must not be NULL"),
				 errhint("Pass '' for the default mode.")));
	mode = PG_GETARG_TEXT_PP(2);
	len = VARSIZE_ANY_EXHDR(mode);
	if (likely(cache->have_mode && cache->mode_len == len &&
			   memcmp(cache->mode, VARDATA_ANY(mode), len) == 0))
		return cache->modes;
	cache->modes = ParseModes(VARDATA_ANY(mode), len);
	if (len <= (int) sizeof(cache->mode))
	{
		memcpy(cache->mode, VARDATA_ANY(mode), len);
		cache->mode_len = len;
		cache->have_mode = true;
	}
	else
		cache->have_mode = false;
	return cache->modes;
}

/* Refuse a second value of the window, mode or step count */
static void
CheckSameParameters(const WindowFunnelState *state, uint64 window, uint8 modes,
					int32 nsteps)
{
	if (window != state->window)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel window must be the same for every row"),
				 errdetail("Got a window of " UINT64_FORMAT " microseconds after one of " UINT64_FORMAT ".",
						   window, state->window)));
	if (modes != state->modes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel mode must be the same for every row")));
	if (nsteps != state->nsteps)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel got %d steps after %d", nsteps, state->nsteps),
				 errdetail("Every row must pass the same number of steps."),
				 errhint("Pass every step on every row, as false when the row does not match it.")));
}

/* A new empty state in the aggregate context */
static WindowFunnelState *
NewState(MemoryContext context, uint64 window, uint8 modes, int32 nsteps)
{
	WindowFunnelState *state = MemoryContextAlloc(context, sizeof(WindowFunnelState));

	state->context = context;
	state->n = 0;
	state->capacity = WF_INLINE_EVENTS;
	state->events = state->inline_events;
	state->window = window;
	state->nsteps = nsteps;
	state->modes = modes;
	state->sorted = true;
	return state;
}

/* Make room for at least "more" further events */
static void
Reserve(WindowFunnelState *state, int64 more)
{
	int64		needed = state->n + more;
	int64		capacity = state->capacity;

	if (needed <= capacity)
		return;
	while (capacity < needed)
		capacity *= 2;
	if ((Size) capacity * sizeof(FunnelEvent) > MaxAllocHugeSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many events for window_funnel")));
	if (state->events == state->inline_events)
	{
		FunnelEvent *events = MemoryContextAllocExtended(state->context,
														 capacity * sizeof(FunnelEvent),
														 MCXT_ALLOC_HUGE);

		memcpy(events, state->inline_events, state->n * sizeof(FunnelEvent));
		state->events = events;
	}
	else
		state->events = repalloc_huge(state->events, capacity * sizeof(FunnelEvent));
	state->capacity = capacity;
}

/* Report a step argument of a type other than boolean */
static void
BadStepType(int argno, int step, Oid type, bool variadic)
{
	if (variadic)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("window_funnel steps passed with VARIADIC must be a boolean array, not %s",
						format_type_be(type)),
				 errdetail("Argument %d is the array of steps.", argno),
				 errhint("Pass the steps as boolean arguments: window_funnel(window, ts, step1, step2, ...), or VARIADIC followed by a boolean[].")));
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("window_funnel argument %d (step %d) must be boolean, not %s",
					argno, step, format_type_be(type)),
			 errhint("Pass each step as a condition on the row, such as event = 'signup'.")));
}

/*
 * Check the arguments of this call site once, on its first row: whether
 * there is a mode, and that every step is a boolean (an untyped literal
 * such as NULL is read as one) or that the steps are one boolean array.
 * The window aggregate executor does not tell a VARIADIC call apart, so a
 * single boolean[] step is taken as the array of steps either way.
 */
static void
CheckStepArgs(WindowFunnelCallCache *cache, FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	int			nargs = PG_NARGS();
	int			first;
	int			i;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("window_funnel_trans called in non-aggregate context")));
	if (!OidIsValid(get_fn_expr_argtype(flinfo, 2)))
		elog(ERROR, "could not determine the argument types of window_funnel");
	/* (state, window, [mode text,] ts timestamptz, steps...) */
	cache->has_mode = get_fn_expr_argtype(flinfo, 2) == TEXTOID;
	cache->ts_arg = cache->has_mode ? 3 : 2;
	first = cache->ts_arg + 1;
	cache->unknown_steps = 0;
	if (nargs <= first)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel needs at least one step"),
				 errhint("Pass the steps as boolean arguments: window_funnel(window, ts, step1, step2, ...).")));
	if (nargs == first + 1)
	{
		Oid			type = getBaseType(get_fn_expr_argtype(flinfo, first));
		Oid			element = get_element_type(type);

		if (get_fn_expr_variadic(flinfo) || element == BOOLOID)
		{
			if (element != BOOLOID)
				BadStepType(first, 1, type, true);
			cache->nsteps = -1;
			return;
		}
	}
	if (nargs - first > WF_MAX_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ARGUMENTS),
				 errmsg("window_funnel accepts at most %d steps, got %d",
						WF_MAX_STEPS, nargs - first)));
	for (i = first; i < nargs; i++)
	{
		Oid			type = getBaseType(get_fn_expr_argtype(flinfo, i));

		if (type == UNKNOWNOID)
			cache->unknown_steps |= (uint32) 1 << (i - first);
		else if (type != BOOLOID)
			BadStepType(i, i - first + 1, type, false);
	}
	cache->nsteps = nargs - first;
}

/* The step bitmask of the step arguments; NULL steps count as false */
static uint32
ArgStepMask(const WindowFunnelCallCache *cache, FunctionCallInfo fcinfo)
{
	NullableDatum *args = fcinfo->args + cache->ts_arg + 1;
	uint32		mask = 0;
	int			i;

	for (i = 0; i < cache->nsteps; i++)
		mask |= (uint32) (!args[i].isnull && DatumGetBool(args[i].value)) << i;
	if (unlikely(cache->unknown_steps != 0))
	{
		/* untyped literals: 'true', 'f', ... as boolean input reads them */
		for (i = 0; i < cache->nsteps; i++)
		{
			bool		value;

			if (!(cache->unknown_steps & ((uint32) 1 << i)))
				continue;
			mask &= ~((uint32) 1 << i);
			if (args[i].isnull)
				continue;
			if (!parse_bool(DatumGetCString(args[i].value), &value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("invalid input syntax for type %s: \"%s\"",
								"boolean", DatumGetCString(args[i].value)),
						 errdetail("Step %d of window_funnel is an untyped literal.", i + 1)));
			mask |= (uint32) value << i;
		}
	}
	return mask;
}

/* The step bitmask of a boolean array; NULL elements count as false */
static uint32
StepMask(ArrayType *steps, int32 *nsteps)
{
	int			n;
	const char *p;
	uint32		mask = 0;
	int			i;

	if (ARR_NDIM(steps) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel needs at least one step"),
				 ARR_NDIM(steps) > 1 ?
				 errdetail("The steps array has %d dimensions.", ARR_NDIM(steps)) : 0,
				 errhint("Pass the steps as boolean arguments: window_funnel(window, ts, step1, step2, ...).")));
	n = ARR_DIMS(steps)[0];
	if (n > WF_MAX_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ARGUMENTS),
				 errmsg("window_funnel accepts at most %d steps, got %d", WF_MAX_STEPS, n)));
	*nsteps = n;
	/* ARR_DATA_PTR, without its signedness warning */
	if (likely(!ARR_HASNULL(steps)))
	{
		p = (const char *) steps + ARR_OVERHEAD_NONULLS(1);
		for (i = 0; i < n; i++)
			mask |= (uint32) (p[i] != 0) << i;
	}
	else
	{
		bits8	   *nulls = ARR_NULLBITMAP(steps);

		p = (const char *) steps + steps->dataoffset;

		/* NULL elements take no space in the data */
		for (i = 0; i < n; i++)
			if (nulls[i / 8] & (1 << (i % 8)))
				mask |= (uint32) (*p++ != 0) << i;
	}
	return mask;
}

/*
 * Transition of both forms: (state, window, [mode,] ts, steps...).  Rows
 * with a NULL timestamp are skipped; rows matching no step are kept only
 * for strict_order.
 */
PG_FUNCTION_INFO_V1(window_funnel_trans);
Datum
window_funnel_trans(PG_FUNCTION_ARGS)
{
	WindowFunnelCallCache *cache = (WindowFunnelCallCache *) fcinfo->flinfo->fn_extra;
	WindowFunnelState *state;
	int			ts_arg;
	uint64		window;
	uint8		modes;
	int32		nsteps;
	uint32		mask;
	TimestampTz ts;

	if (unlikely(cache == NULL))
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									   sizeof(WindowFunnelCallCache));
		CheckStepArgs(cache, fcinfo);
		fcinfo->flinfo->fn_extra = cache;
	}
	ts_arg = cache->ts_arg;
	window = RowWindow(cache, fcinfo);
	modes = RowModes(cache, fcinfo);
	if (likely(cache->nsteps > 0))
	{
		nsteps = cache->nsteps;
		mask = ArgStepMask(cache, fcinfo);
	}
	else
	{
		if (unlikely(PG_ARGISNULL(ts_arg + 1)))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("window_funnel steps must not be NULL"),
					 errhint("Pass the steps as boolean arguments; a NULL step counts as false.")));
		mask = StepMask(PG_GETARG_ARRAYTYPE_P(ts_arg + 1), &nsteps);
	}

	if (unlikely(PG_ARGISNULL(0)))
	{
		MemoryContext aggcontext;

		/* an internal state only ever comes from here, inside an aggregate */
		if (!AggCheckCallContext(fcinfo, &aggcontext))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("window_funnel_trans called in non-aggregate context")));
		state = NewState(aggcontext, window, modes, nsteps);
	}
	else
	{
		state = (WindowFunnelState *) PG_GETARG_POINTER(0);
		if (unlikely(window != state->window || modes != state->modes ||
					 nsteps != state->nsteps))
			CheckSameParameters(state, window, modes, nsteps);
	}

	if (PG_ARGISNULL(ts_arg) || (mask == 0 && !(modes & WF_ORDER)))
		PG_RETURN_POINTER(state);
	ts = PG_GETARG_TIMESTAMPTZ(ts_arg);
	if (unlikely(TIMESTAMP_NOT_FINITE(ts)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("window_funnel timestamp must be finite, not %s",
						TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity")));

	if (unlikely(state->n == state->capacity))
		Reserve(state, 1);
	if (state->n > 0 && ts < state->events[state->n - 1].ts)
		state->sorted = false;
	state->events[state->n].ts = ts;
	state->events[state->n].mask = mask;
	state->events[state->n].pad = 0;
	state->n++;
	PG_RETURN_POINTER(state);
}

/* Append (or merge, when both are in order) state2's events to state1 */
static void
AddEvents(WindowFunnelState *state1, const WindowFunnelState *state2)
{
	int64		n1 = state1->n;
	int64		n2 = state2->n;

	if (n2 == 0)
		return;
	if (n1 > 0 && state1->sorted && state2->sorted &&
		state1->events[n1 - 1].ts > state2->events[0].ts)
	{
		/* two sorted runs: one merge pass into a new array */
		FunnelEvent *a = state1->events;
		const FunnelEvent *b = state2->events;
		FunnelEvent *out = MemoryContextAllocExtended(state1->context,
													  (n1 + n2) * sizeof(FunnelEvent),
													  MCXT_ALLOC_HUGE);
		int64		i = 0,
					j = 0,
					k = 0;

		while (i < n1 && j < n2)
			out[k++] = (b[j].ts < a[i].ts) ? b[j++] : a[i++];
		while (i < n1)
			out[k++] = a[i++];
		while (j < n2)
			out[k++] = b[j++];
		if (a != state1->inline_events)
			pfree(a);
		state1->events = out;
		state1->capacity = n1 + n2;
		state1->n = n1 + n2;
		return;
	}
	if (n1 > 0 && state1->events[n1 - 1].ts > state2->events[0].ts)
		state1->sorted = false;
	state1->sorted = state1->sorted && state2->sorted;
	Reserve(state1, n2);
	memcpy(state1->events + n1, state2->events, n2 * sizeof(FunnelEvent));
	state1->n = n1 + n2;
}

/* Combine: the events of both states (parameters must agree) */
PG_FUNCTION_INFO_V1(window_funnel_combine);
Datum
window_funnel_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	WindowFunnelState *state1;
	WindowFunnelState *state2;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("window_funnel_combine called in non-aggregate context")));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	state2 = (WindowFunnelState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
	{
		/* deserialized into the aggregate context: adopt it, no copy */
		if (state2->context == aggcontext)
			PG_RETURN_POINTER(state2);
		state1 = NewState(aggcontext, state2->window, state2->modes, state2->nsteps);
	}
	else
	{
		state1 = (WindowFunnelState *) PG_GETARG_POINTER(0);
		CheckSameParameters(state1, state2->window, state2->modes, state2->nsteps);
	}
	AddEvents(state1, state2);
	PG_RETURN_POINTER(state1);
}

/* Serialize: header, then (ts, mask) per event, 12 bytes each */
PG_FUNCTION_INFO_V1(window_funnel_serialize);
Datum
window_funnel_serialize(PG_FUNCTION_ARGS)
{
	WindowFunnelState *state = (WindowFunnelState *) PG_GETARG_POINTER(0);
	Size		size = VARHDRSZ + WF_SERIAL_HEADER + (Size) state->n * WF_SERIAL_EVENT;
	bytea	   *result;
	char	   *p;
	int64		i;

	if (!AllocSizeIsValid(size))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many events for a parallel window_funnel"),
				 errdetail("A worker's state holds " INT64_FORMAT " events; the limit is about 89 million.",
						   state->n),
				 errhint("Disable parallel aggregation for this query: SET max_parallel_workers_per_gather = 0.")));
	result = palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	*p++ = WF_SERIAL_VERSION;
	*p++ = (char) state->modes;
	memcpy(p, &state->nsteps, 4);
	p += 4;
	memcpy(p, &state->window, 8);
	p += 8;
	memcpy(p, &state->n, 8);
	p += 8;
	for (i = 0; i < state->n; i++)
	{
		memcpy(p, &state->events[i].ts, 8);
		memcpy(p + 8, &state->events[i].mask, 4);
		p += WF_SERIAL_EVENT;
	}
	PG_RETURN_BYTEA_P(result);
}

/* Report a malformed serialized state */
static void
BadState(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid window_funnel state")));
}

/* Deserialize (into the aggregate context when called by one), checked */
PG_FUNCTION_INFO_V1(window_funnel_deserialize);
Datum
window_funnel_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	MemoryContext context;
	WindowFunnelState *state;
	uint64		window;
	int32		nsteps;
	int64		n;
	uint8		modes;
	uint32		allowed;
	int64		i;

	if (len < WF_SERIAL_HEADER || p[0] != WF_SERIAL_VERSION)
		BadState();
	modes = (uint8) p[1];
	memcpy(&nsteps, p + 2, 4);
	memcpy(&window, p + 6, 8);
	memcpy(&n, p + 14, 8);
	p += WF_SERIAL_HEADER;
	if ((modes & ~WF_ALL_MODES) != 0 || nsteps < 1 || nsteps > WF_MAX_STEPS ||
		n < 0 || (uint64) n > (len - WF_SERIAL_HEADER) / WF_SERIAL_EVENT ||
		len != WF_SERIAL_HEADER + (Size) n * WF_SERIAL_EVENT)
		BadState();
	allowed = (nsteps == 32) ? PG_UINT32_MAX : ((uint32) 1 << nsteps) - 1;

	/* straight into the aggregate context, so the combine can adopt it */
	if (!AggCheckCallContext(fcinfo, &context))
		context = CurrentMemoryContext;
	state = NewState(context, window, modes, nsteps);
	Reserve(state, n);
	for (i = 0; i < n; i++)
	{
		FunnelEvent *e = &state->events[i];

		memcpy(&e->ts, p, 8);
		memcpy(&e->mask, p + 8, 4);
		e->pad = 0;
		p += WF_SERIAL_EVENT;
		if (TIMESTAMP_NOT_FINITE(e->ts) || (e->mask & ~allowed) != 0 ||
			(e->mask == 0 && !(modes & WF_ORDER)))
			BadState();
		if (i > 0 && e->ts < e[-1].ts)
			state->sorted = false;
	}
	state->n = n;
	PG_RETURN_POINTER(state);
}

/* Final: the length of the longest chain, 0 without any event */
PG_FUNCTION_INFO_V1(window_funnel_final);
Datum
window_funnel_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	/* sorting keeps the state equivalent, so the final function may rerun */
	PG_RETURN_INT32(WindowFunnelLevel((WindowFunnelState *) PG_GETARG_POINTER(0)));
}
