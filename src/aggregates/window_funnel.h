/*-------------------------------------------------------------------------
 *
 * window_funnel.h
 *	  The state of funnel.window_funnel(), shared by its aggregate support
 *	  functions (agg_window_funnel.c) and its sort and scan
 *	  (agg_window_funnel_scan.c).
 *
 * src/aggregates/window_funnel.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_WINDOW_FUNNEL_H
#define FUNNEL_WINDOW_FUNNEL_H

/* ClickHouse's limit, and the width of the step bitmask */
#define WF_MAX_STEPS		32

/* Modes (bits) */
#define WF_DEDUPLICATION	0x01
#define WF_ORDER			0x02
#define WF_INCREASE			0x04
#define WF_ALL_MODES		0x07

#define WF_INLINE_EVENTS	4
#define WF_SERIAL_VERSION	1
#define WF_SERIAL_HEADER	(1 + 1 + 4 + 8 + 8)
#define WF_SERIAL_EVENT		(8 + 4)

/* One row of the group: when, and which steps it matched */
typedef struct FunnelEvent
{
	int64		ts;
	uint32		mask;			/* bit i = step i + 1 */
	uint32		pad;
} FunnelEvent;

/* One group: its events and the parameters every row must repeat */
typedef struct WindowFunnelState
{
	MemoryContext context;		/* where the state and its events live */
	int64		n;				/* events held */
	int64		capacity;
	FunnelEvent *events;		/* inline_events until it grows */
	uint64		window;			/* window span in microseconds */
	int32		nsteps;
	uint8		modes;
	bool		sorted;			/* events in timestamp order */
	FunnelEvent inline_events[WF_INLINE_EVENTS];
} WindowFunnelState;

extern int32 WindowFunnelLevel(WindowFunnelState *state);

#endif							/* FUNNEL_WINDOW_FUNNEL_H */
