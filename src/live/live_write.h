/*-------------------------------------------------------------------------
 *
 * live_write.h
 *	  The fast write path of the live summaries: what the UPDATE trigger
 *	  (live_write.c) keeps of a table per trigger (live_write_cache.c).
 *
 * src/live/live_write.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LIVE_WRITE_H
#define LIVE_WRITE_H

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/rel.h"

#include "funnel_cache.h"

/* What the trigger needs of one table, per trigger OID */
typedef struct LiveWriteEntry
{
	Oid			tgoid;			/* hash key */
	FunnelCacheState state;
	Oid			relid;			/* the deals table */
	MemoryContext mcxt;			/* everything below, or NULL */
	bool		fast;			/* the fast path applies */
	FmgrInfo	fallback;		/* the generated trigger function */
	SPIPlanPtr	visits_plan;
	SPIPlanPtr	insert_plan;
	AttrNumber	key_att;
	int16		key_len;
	bool		key_byval;
	Oid			stage_type;		/* funnel.deal_stage */
	int16		stage_len;
	bool		stage_byval;
	char		stage_align;
	AttrNumber	stage_att;
	AttrNumber	amount_att;		/* 0 if none */
	Oid			amount_type;
	int			ndims;
	AttrNumber *dim_att;
	FmgrInfo   *dim_out;		/* output functions: text comparison */
	FmgrInfo   *dim_eq;			/* equality of GROUP BY */
	Oid		   *dim_coll;
	Oid			live_relid;		/* the summary table */
	Oid			summary_type;	/* funnel.funnel_summary: its plus and minus */
	Oid		   *dim_type;		/* the dimensions' types in the deals table */
	AttrNumber *live_dim_att;	/* its columns */
	AttrNumber	live_day_att;
	AttrNumber	live_stage_att;
	AttrNumber	live_plus_att;
	AttrNumber	live_minus_att;
	AttrNumber	live_plus_runs_att;
	AttrNumber	live_minus_runs_att;
} LiveWriteEntry;

extern LiveWriteEntry *LiveWriteLookup(Relation rel, Trigger *trigger);
extern int	LiveWriteEnter(Relation rel, Oid *save_userid, int *save_sec_context);
extern void LiveWriteLeave(int nestlevel, Oid save_userid, int save_sec_context);

#endif							/* LIVE_WRITE_H */
