/*-------------------------------------------------------------------------
 *
 * funnel_summary.h
 *	  The in-memory layout of funnel.funnel_summary, shared by the aggregates
 *	  and report (agg_summary.c) and the type's text and binary I/O
 *	  (funnel_summary_io.c).
 *
 * src/aggregates/funnel_summary.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_SUMMARY_H
#define FUNNEL_SUMMARY_H

#include "agg.h"

/*
 * Format versions.  Version 3 is the in-memory and on-disk layout below.
 * Version 1 (funnel 0.1) had entries without the outcome counters, version
 * 2 entries without the moved counters; both are still read from disk
 * (SummaryFromDatum converts them).  The text and binary forms are those of
 * the lowest version that holds the summary: version 1 for a summary
 * without outcomes, byte for byte as 0.1 wrote it, version 2 for one with
 * outcomes and no moved deal, version 3 only when a moved counter is not
 * zero.
 */
#define FUNNEL_SUMMARY_VERSION 3
#define FUNNEL_SUMMARY_VERSION_1 1
#define FUNNEL_SUMMARY_VERSION_2 2

/* flags: every deal of the summary came with its outcome (journey input) */
#define SUMMARY_OUTCOMES	0x01

typedef struct SummaryEntry
{
	Oid			label;			/* stage (pg_enum OID) */
	int32		pad;
	int64		deals;			/* deals whose reached stage is this */
	int64		amount_count;	/* of those, the ones with an amount */
	int128		amount;			/* their total, scaled by 10^scale */
	/* outcome counters: zero unless flags has SUMMARY_OUTCOMES */
	int64		open;			/* of deals, the ones still open */
	int64		lost_here;		/* lost deals whose last open stage is this */
	int64		current;		/* deals whose current stage is this */
	int64		current_amount_count;	/* of those, the ones with an amount */
	int128		current_amount; /* their total, scaled by 10^scale */

	/*
	 * Deals whose journey here ended 'moved' (they left an open stage for
	 * another pipeline): counted in neither deals, open, lost nor current,
	 * so every rate above is that of the deals that stayed.  Zero unless
	 * flags has SUMMARY_OUTCOMES; only open stages have them.
	 */
	int64		moved;			/* moved deals whose reached stage is this */
	int64		moved_here;		/* moved deals whose last open stage is this */
} SummaryEntry;

/* An entry of a version 2 summary, as stored on disk */
typedef struct SummaryEntryV2
{
	Oid			label;
	int32		pad;
	int64		deals;
	int64		amount_count;
	int128		amount;
	int64		open;
	int64		lost_here;
	int64		current;
	int64		current_amount_count;
	int128		current_amount;
} SummaryEntryV2;

/* An entry of a version 1 (funnel 0.1) summary, as stored on disk */
typedef struct SummaryEntryV1
{
	Oid			label;
	int32		pad;
	int64		deals;
	int64		amount_count;
	int128		amount;
} SummaryEntryV1;

typedef struct FunnelSummary
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		version;
	uint8		flags;			/* SUMMARY_OUTCOMES or 0 */
	int16		scale;			/* decimal scale of every amount */
	Oid			pipeline;		/* pipeline enum type OID */
	int32		nentries;
	int32		pad;
	SummaryEntry entries[FLEXIBLE_ARRAY_MEMBER];
} FunnelSummary;

/*
 * The deals of a summary that reached one open stage by the implied-passage
 * rule (StagePassed() in funnel.h): the entries of that stage, of the later
 * open stages and of the won stages.  Sums are kept in 128 bits so that
 * adding 64-bit counters never wraps: report() raises 22003 for a total
 * past a bigint, the input checks compare them as they are.
 */
typedef struct StageReached
{
	int128		deals;
	int128		amount_count;	/* of those, the ones with an amount ... */
	int128		amount;			/* ... and their total (when asked for) */
	int128		open;			/* of those, open now (outcomes) */
	int128		lost;			/* of those, lost now (outcomes) */
	int128		moved;			/* moved deals that reached it (outcomes) */
} StageReached;

#define SUMMARY_SIZE(n) (offsetof(FunnelSummary, entries) + (n) * sizeof(SummaryEntry))
#define SUMMARY_SIZE_V1(n) (offsetof(FunnelSummary, entries) + (n) * sizeof(SummaryEntryV1))
#define SUMMARY_SIZE_V2(n) (offsetof(FunnelSummary, entries) + (n) * sizeof(SummaryEntryV2))
#define PG_GETARG_SUMMARY(n) SummaryFromDatum(PG_GETARG_DATUM(n))

extern FunnelSummary *SummaryFromDatum(Datum d);
extern void SummaryCheck(const FunnelSummary *s);
extern FunnelSummary *SummaryNew(FunnelPipeline *pipeline);
extern FunnelPipeline *SummaryPipelineOrError(FunnelSummary *s);
extern const char *SummaryPipelineName(Oid typoid);
extern void SummaryCheckPipeline(FunnelSummary *s, Oid pipeline);
extern void SummaryRescale(FunnelSummary *s, int scale);
extern FunnelSummary *SummaryAddEntry(FunnelSummary *s, Oid label);
extern const SummaryEntry **SummaryEntriesByStage(const FunnelSummary *s,
												   const FunnelPipeline *pipeline);
extern StageReached *SummaryReached(const FunnelPipeline *pipeline,
									const SummaryEntry **by_stage,
									bool amounts);
extern bool SummaryHasMoved(const FunnelSummary *s);
extern void SummaryCheckOutcomes(FunnelPipeline *pipeline, FunnelSummary *s,
								 int sqlstate);

/* agg_summary.c: one journey's deal (the journey's layout: journey.h) */
struct Journey;
extern FunnelSummary *SummaryAddJourney(AggCallCache *cache, FunnelSummary *s,
										const struct Journey *j,
										bool has_amount, Datum amount);

/*
 * The entry of a stage; "guess" is its likely index.  Returns -1 if the
 * summary has no entry for it (a stage added after the summary was made).
 */
static inline int
SummaryFindEntry(const FunnelSummary *s, Oid label, int guess)
{
	int			i;

	if (guess >= 0 && guess < s->nentries && s->entries[guess].label == label)
		return guess;
	for (i = 0; i < s->nentries; i++)
		if (s->entries[i].label == label)
			return i;
	return -1;
}

#endif							/* FUNNEL_SUMMARY_H */
