/*-------------------------------------------------------------------------
 *
 * agg.h
 *	  Declarations shared by the funnel aggregate families (agg_*.c): a tiny
 *	  per-call stage cache kept in fn_extra, and exact decimal totals kept
 *	  as 128-bit fixed-point integers.
 *
 * Aggregate states never hold pointers into the pipeline cache (it may be
 * rebuilt between rows); they hold OIDs and counters.  The per-call cache
 * below copies what a transition function needs about a stage (pipeline,
 * position, kind, probability) and is dropped whenever the pipeline cache
 * generation changes, so the common row costs one array probe and no
 * catalog or cache lookup.
 *
 * Exact amounts: numeric inputs are read straight from their on-disk form
 * (no palloc, no detoast copy for short headers) into an int128 scaled by
 * 10^scale; totals rescale to the largest input scale seen.  This keeps
 * numeric exactness for up to 38 significant digits per total and raises
 * 22003 beyond that (see doc/aggregates.md).
 *
 * src/agg.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_AGG_H
#define FUNNEL_AGG_H

#include "lib/stringinfo.h"

#include "funnel.h"

#ifndef HAVE_INT128
#error "funnel aggregates need a 128-bit integer type"
#endif

/* Largest decimal scale a total may take */
#define DEC_MAX_SCALE	36

/* What a transition function needs to know about one stage */
typedef struct AggStageInfo
{
	Oid			label;			/* pg_enum OID, InvalidOid = empty slot */
	Oid			pipeline;		/* pipeline enum type OID */
	int32		position;		/* 1-based rank in the pipeline */
	int32		nstages;		/* stages in the pipeline */
	StageKind	kind;
	int32		prob_scale;		/* probability as a decimal ... */
	int128		prob;			/* ... prob / 10^prob_scale */
} AggStageInfo;

#define AGG_STAGE_SLOTS 64

typedef struct AggStageCache
{
	uint64		generation;
	AggStageInfo slots[AGG_STAGE_SLOTS];
} AggStageCache;

extern const AggStageInfo *AggLookupStage(FunctionCallInfo fcinfo, DealStage s);

/* agg_common.c: exact decimals */
extern void DecFromNumeric(Datum num, int128 *value, int *scale,
						   const char *what);
extern Datum DecToNumeric(int128 value, int scale);
extern void DecAppend(StringInfo buf, int128 value, int scale);
extern const char *DecParse(const char *str, int128 *value, int *scale);
extern int128 DecRescale(int128 value, int from, int to);
extern int128 DecAdd(int128 a, int128 b);
extern int128 DecMul(int128 a, int128 b);
extern void DecAddScaled(int128 *total, int *total_scale,
						 int128 value, int scale);
extern void DecReportOverflow(void) pg_attribute_noreturn();

/* Two int64 halves of an int128 for the binary protocol */
extern void DecSend(StringInfo buf, int128 value);
extern int128 DecRecv(StringInfo buf);

#endif							/* FUNNEL_AGG_H */
