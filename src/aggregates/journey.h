/*-------------------------------------------------------------------------
 *
 * journey.h
 *	  The layout of funnel.journey, one deal's path through its pipeline,
 *	  shared by the journey aggregates (agg_journey.c, agg_journey_in.c),
 *	  the type's I/O (journey_io.c) and the funnel summaries built from
 *	  journeys (agg_summary.c).
 *
 * src/aggregates/journey.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_JOURNEY_H
#define FUNNEL_JOURNEY_H

#include "agg.h"

/*
 * A fixed-size, pass-by-reference value.  Stages are deal_stage values
 * (pipeline and label OIDs; 0 = none), so the value names its pipeline.
 * Its text and binary forms carry names, not OIDs.
 */
typedef struct Journey
{
	DealStage	current;		/* stage of the latest visit */
	DealStage	furthest;		/* furthest open stage visited, 0 if none */
	DealStage	last_open;		/* open stage of the latest open visit, 0 if
								 * none */
	TimestampTz current_at;		/* entered_at of the current visit */
	TimestampTz last_open_at;	/* entered_at of the last open visit, 0 if
								 * none */
	TimestampTz first_at;		/* earliest entered_at */
} Journey;

#define JOURNEY_SIZE 48

#define PG_GETARG_JOURNEY(n) ((Journey *) PG_GETARG_POINTER(n))

/*
 * A deal's journey in a pipeline it moved out of, to another pipeline of
 * its tracked table (funnel.journey(stage, entered_at, left_at, pipeline)):
 * current is the stage of its latest visit, in the other pipeline;
 * furthest and last_open (the stage it left from) are of the journey's own
 * pipeline.  Its outcome is 'moved': neither open nor lost there.
 */
static inline bool
JourneyMoved(const Journey *j)
{
	return j->last_open != 0 &&
		DealStagePipelineOid(j->current) != DealStagePipelineOid(j->last_open);
}

/* The pipeline a journey is the journey in */
static inline Oid
JourneyPipeline(const Journey *j)
{
	return DealStagePipelineOid(JourneyMoved(j) ? j->last_open : j->current);
}

#define JOURNEY_MOVED "moved"

/* journey_io.c */
extern void JourneyCheckKinds(const Journey *j, const char *outcome,
							  int sqlstate);

/* agg_journey.c: the visits of one pipeline, for agg_journey_in.c */
extern bool JourneyAddVisit(AggCallCache *cache, Journey *j, bool first,
							DealStage stage, TimestampTz at,
							const AggStageInfo *info);
extern bool JourneyMerge(AggCallCache *cache, Journey *j, const Journey *k);

#endif							/* FUNNEL_JOURNEY_H */
