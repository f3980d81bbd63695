/*-------------------------------------------------------------------------
 *
 * funnel_summary.h
 *	  The in-memory layout of funnel.funnel_summary, shared by the aggregates
 *	  and report (agg_summary.c) and the type's text and binary I/O
 *	  (funnel_summary_io.c).
 *
 * src/funnel_summary.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_SUMMARY_H
#define FUNNEL_SUMMARY_H

#include "agg.h"

#define FUNNEL_SUMMARY_VERSION 1

typedef struct SummaryEntry
{
	Oid			label;			/* stage (pg_enum OID) */
	int32		pad;
	int64		deals;			/* deals whose input is this stage */
	int64		amount_count;	/* of those, the ones with an amount */
	int128		amount;			/* their total, scaled by 10^scale */
} SummaryEntry;

typedef struct FunnelSummary
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		version;
	uint8		flags;			/* reserved, 0 */
	int16		scale;			/* decimal scale of every amount */
	Oid			pipeline;		/* pipeline enum type OID */
	int32		nentries;
	int32		pad;
	SummaryEntry entries[FLEXIBLE_ARRAY_MEMBER];
} FunnelSummary;

#define SUMMARY_SIZE(n) (offsetof(FunnelSummary, entries) + (n) * sizeof(SummaryEntry))
#define DatumGetSummary(d) ((FunnelSummary *) PG_DETOAST_DATUM(d))
#define PG_GETARG_SUMMARY(n) DatumGetSummary(PG_GETARG_DATUM(n))

extern void SummaryCheck(const FunnelSummary *s);
extern FunnelSummary *SummaryNew(FunnelPipeline *pipeline);
extern FunnelPipeline *SummaryPipelineOrError(FunnelSummary *s);
extern const char *SummaryPipelineName(Oid typoid);
extern void SummaryCheckPipeline(FunnelSummary *s, Oid pipeline);
extern void SummaryRescale(FunnelSummary *s, int scale);
extern FunnelSummary *SummaryAddEntry(FunnelSummary *s, Oid label);

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
