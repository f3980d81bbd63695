/*-------------------------------------------------------------------------
 *
 * agg_window_funnel_scan.c
 *	  The final computation of funnel.window_funnel(): sort the events of a
 *	  group by timestamp once, then ClickHouse's greedy scan.
 *
 * Sorting: nothing to do when the events arrived in order (an event log
 * read in time order, or merged sorted runs); sort_template's quicksort
 * for small groups; for large ones a merge of their sorted runs when there
 * are few (a log in time order read by a synchronized scan, which starts
 * where another scan of the table is, or by parallel workers), else an LSD
 * radix sort on ts - min.  The scan
 * keeps, per step, the chain that reached it with the latest start, as
 * ClickHouse's getEventLevel does; events of one instant are taken in
 * ClickHouse's (timestamp, step) order, so row order never matters.
 *
 * src/aggregates/agg_window_funnel_scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/pg_bitutils.h"
#include "utils/memutils.h"

#include "window_funnel.h"

#define WF_RADIX_MIN		4096
#define WF_RADIX_BITS		11
#define WF_RADIX_BUCKETS	(1 << WF_RADIX_BITS)
#define WF_MERGE_RUNS		32	/* merge up to this many sorted runs */

/* Sort by timestamp, small arrays */
#define ST_SORT sort_funnel_events
#define ST_ELEMENT_TYPE FunnelEvent
#define ST_COMPARE(a, b) (((a)->ts > (b)->ts) - ((a)->ts < (b)->ts))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The starts of the sorted runs of events (starts[0] = 0, then each event
 * earlier than the one before it), at most WF_MERGE_RUNS of them; returns
 * their number, or WF_MERGE_RUNS + 1 when there are more.
 */
static int
FindRuns(const FunnelEvent *events, int64 n, int64 *starts)
{
	int			runs = 1;
	int64		i;

	starts[0] = 0;
	for (i = 1; i < n; i++)
	{
		if (likely(events[i].ts >= events[i - 1].ts))
			continue;
		if (runs == WF_MERGE_RUNS)
			return WF_MERGE_RUNS + 1;
		starts[runs++] = i;
	}
	return runs;
}

/* Merge two sorted runs a[0..na) and b[0..nb) into out */
static void
MergeTwo(const FunnelEvent *a, int64 na, const FunnelEvent *b, int64 nb,
		 FunnelEvent *out)
{
	int64		i = 0,
				j = 0;

	/* a run that follows the other entirely (a rotated log) is one copy */
	if (na > 0 && nb > 0 && b[nb - 1].ts <= a[0].ts)
	{
		memcpy(out, b, nb * sizeof(FunnelEvent));
		memcpy(out + nb, a, na * sizeof(FunnelEvent));
		return;
	}
	while (i < na && j < nb)
		*out++ = (b[j].ts < a[i].ts) ? b[j++] : a[i++];
	memcpy(out, a + i, (na - i) * sizeof(FunnelEvent));
	memcpy(out + (na - i), b + j, (nb - j) * sizeof(FunnelEvent));
}

/*
 * Sort events made of "runs" sorted runs starting at starts[]: merge them
 * pairwise, pass after pass, between the events and a buffer of the same
 * size; returns the one that holds the result.
 */
static FunnelEvent *
MergeRuns(FunnelEvent *events, FunnelEvent *buffer, int64 n, int64 *starts,
		  int runs)
{
	FunnelEvent *from = events;
	FunnelEvent *to = buffer;

	while (runs > 1)
	{
		int			merged = 0;
		int			r;

		for (r = 0; r < runs; r += 2)
		{
			int64		start = starts[r];
			int64		mid = (r + 1 < runs) ? starts[r + 1] : n;
			int64		end = (r + 2 < runs) ? starts[r + 2] : n;

			MergeTwo(from + start, mid - start, from + mid, end - mid, to + start);
			starts[merged++] = start;
		}
		runs = merged;
		{
			FunnelEvent *swap = from;

			from = to;
			to = swap;
		}
	}
	return from;
}

/*
 * LSD radix sort of events on ts - min in 11-bit digits (digits every
 * event shares are skipped, so a year of microseconds takes 5 passes),
 * between the events and a buffer of the same size; returns the one that
 * holds the result.
 */
static FunnelEvent *
RadixSort(FunnelEvent *events, FunnelEvent *buffer, int64 n)
{
	int64		min,
				max;
	uint64		range;
	int			passes;
	int64	  (*counts)[WF_RADIX_BUCKETS];
	FunnelEvent *from;
	FunnelEvent *to;
	int64		i;
	int			pass;

	min = max = events[0].ts;
	for (i = 1; i < n; i++)
	{
		if (events[i].ts < min)
			min = events[i].ts;
		if (events[i].ts > max)
			max = events[i].ts;
	}
	range = (uint64) max - (uint64) min;
	if (range == 0)
		return events;
	passes = (pg_leftmost_one_pos64(range) + WF_RADIX_BITS) / WF_RADIX_BITS;

	/* all digit histograms in one pass */
	counts = palloc0(sizeof(int64) * WF_RADIX_BUCKETS * passes);
	for (i = 0; i < n; i++)
	{
		uint64		key = (uint64) events[i].ts - (uint64) min;

		for (pass = 0; pass < passes; pass++)
			counts[pass][(key >> (pass * WF_RADIX_BITS)) & (WF_RADIX_BUCKETS - 1)]++;
	}

	from = events;
	to = buffer;
	for (pass = 0; pass < passes; pass++)
	{
		int64	   *c = counts[pass];
		int64		sum = 0;
		int			shift = pass * WF_RADIX_BITS;
		int			b;
		bool		trivial = false;

		for (b = 0; b < WF_RADIX_BUCKETS; b++)
		{
			int64		k = c[b];

			if (k == n)
				trivial = true;
			c[b] = sum;
			sum += k;
		}
		if (trivial)
			continue;			/* every event has this digit */
		for (i = 0; i < n; i++)
		{
			uint64		key = (uint64) from[i].ts - (uint64) min;

			to[c[(key >> shift) & (WF_RADIX_BUCKETS - 1)]++] = from[i];
		}
		{
			FunnelEvent *swap = from;

			from = to;
			to = swap;
		}
	}
	pfree(counts);
	return from;
}

/*
 * Sort the events of a state by timestamp: sort_template's quicksort for
 * small states; for large ones a merge of their sorted runs when there are
 * few, else a radix sort.  Both work between the events and a buffer, and
 * the state keeps whichever holds the result.
 */
static void
SortEvents(WindowFunnelState *state)
{
	int64		n = state->n;
	int64		starts[WF_MERGE_RUNS];
	int			runs;
	FunnelEvent *buffer;
	FunnelEvent *sorted;

	if (n < WF_RADIX_MIN)
	{
		sort_funnel_events(state->events, n);
		return;
	}
	buffer = MemoryContextAllocExtended(state->context, n * sizeof(FunnelEvent),
										MCXT_ALLOC_HUGE);
	runs = FindRuns(state->events, n, starts);
	if (runs <= WF_MERGE_RUNS)
		sorted = MergeRuns(state->events, buffer, n, starts, runs);
	else
		sorted = RadixSort(state->events, buffer, n);
	if (sorted == buffer)
	{
		/* large, so never the inline events */
		pfree(state->events);
		state->events = buffer;
		state->capacity = n;
	}
	else
		pfree(buffer);
}

/* The scan of the final function: per level, the chain that reached it */
typedef struct FunnelScan
{
	uint64		window;
	int32		nsteps;
	uint8		modes;
	uint32		reached;		/* bit i: some chain reached step i + 1 */
	int64		first[WF_MAX_STEPS];	/* that chain's step-1 timestamp */
	int64		last[WF_MAX_STEPS]; /* and its step-(i+1) timestamp */
} FunnelScan;

/* The longest chain found: the highest step reached */
static inline int32
MaxLevel(uint32 reached)
{
	return reached == 0 ? 0 : pg_leftmost_one_pos32(reached) + 1;
}

/*
 * One event (timestamp ts, step idx + 1), ClickHouse's scan step: returns
 * the result when the scan ends here, -1 to go on.
 */
static inline int32
ScanStep(FunnelScan *sc, int64 ts, int idx)
{
	uint32		bit = (uint32) 1 << idx;
	uint32		prev = bit >> 1;

	if (idx == 0)
	{
		/* a new chain starts; longer chains found so far stay found */
		sc->first[0] = ts;
		sc->last[0] = ts;
		sc->reached |= 1;
		return sc->nsteps == 1 ? 1 : -1;
	}
	if ((sc->modes & WF_DEDUPLICATION) && (sc->reached & bit))
		return MaxLevel(sc->reached);
	if ((sc->modes & WF_ORDER) && (sc->reached & 1) && !(sc->reached & prev))
		return pg_rightmost_one_pos32(~sc->reached);
	if (sc->reached & prev)
	{
		int64		first = sc->first[idx - 1];
		bool		matched = (uint64) ts - (uint64) first <= sc->window;

		if (sc->modes & WF_INCREASE)
			matched = matched && sc->last[idx - 1] < ts;
		if (matched)
		{
			sc->first[idx] = first;
			sc->last[idx] = ts;
			sc->reached |= bit;
			if (idx + 1 == sc->nsteps)
				return sc->nsteps;
		}
	}
	return -1;
}

/*
 * Walk the sorted events.  A run of equal timestamps is taken as ClickHouse
 * takes it after sorting (timestamp, step) pairs: rows matching no step
 * first, then each step in ascending order, once per row that matched it
 * (only strict_deduplication can tell once from twice).
 */
static int32
ScanEvents(FunnelScan *sc, const FunnelEvent *events, int64 n)
{
	int64		i = 0;

	while (i < n)
	{
		int64		ts = events[i].ts;
		uint32		steps = events[i].mask;
		uint32		repeated = 0;
		bool		none = (steps == 0);
		int64		j = i + 1;

		while (j < n && events[j].ts == ts)
		{
			uint32		mask = events[j].mask;

			repeated |= steps & mask;
			steps |= mask;
			none = none || mask == 0;
			j++;
		}
		/* strict_order only: an event outside the steps ends a started chain */
		if (none && (sc->reached & 1))
			break;
		while (steps != 0)
		{
			int			idx = pg_rightmost_one_pos32(steps);
			int32		result = ScanStep(sc, ts, idx);

			if (result >= 0)
				return result;
			if (repeated & ((uint32) 1 << idx))
			{
				result = ScanStep(sc, ts, idx);
				if (result >= 0)
					return result;
			}
			steps &= steps - 1;
		}
		i = j;
	}
	return MaxLevel(sc->reached);
}

/* The result of a state: sorts it (an equivalent state) and scans it */
int32
WindowFunnelLevel(WindowFunnelState *state)
{
	FunnelScan	sc;

	if (state->n == 0)
		return 0;
	if (!state->sorted)
	{
		SortEvents(state);
		state->sorted = true;
	}
	sc.window = state->window;
	sc.nsteps = state->nsteps;
	sc.modes = state->modes;
	sc.reached = 0;
	return ScanEvents(&sc, state->events, state->n);
}
