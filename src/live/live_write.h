/*-------------------------------------------------------------------------
 *
 * live_write.h
 *	  The fast write path of the live summaries: what the UPDATE trigger
 *	  (live_write.c) keeps of a table per trigger (live_write_cache.c), and
 *	  the direct read of a deal's visits (live_visits.c) and the direct
 *	  writes into its summary table (live_summary_table.c).
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
#include "utils/timestamp.h"

#include "funnel.h"

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
	Oid			history_relid;	/* the history table */
	Oid			history_index;	/* its (deal_id, entered_at) btree, or
								 * InvalidOid: the prepared statement reads */
	FmgrInfo	history_eq;		/* = of the index's first column */
	Oid			history_key_type;
	Oid			history_key_coll;
} LiveWriteEntry;

/* One visit of the moved deal */
typedef struct LiveVisit
{
	DealStage	stage;
	TimestampTz entered_at;
	TimestampTz left_at;
	bool		open;			/* left_at IS NULL */
	bool		bad;			/* stage or entered_at NULL */
} LiveVisit;

/* live_write_cache.c */
extern LiveWriteEntry *LiveWriteLookup(Relation rel, Trigger *trigger);
extern void LiveWriteEnter(Relation rel, Oid *save_userid, int *save_sec_context);
extern void LiveWriteLeave(Oid save_userid, int save_sec_context);
extern int	LiveWriteSearchPath(void);

/* live_summary_table.c */
extern bool LiveSimpleTable(LiveWriteEntry *e, Relation live);
extern Datum LiveCompress(Relation live, AttrNumber att, Datum summary);

/* live_visits.c */
extern void LiveVisitsFindIndex(LiveWriteEntry *e, Oid key_type,
								MemoryContext mcxt);
extern bool LiveVisitsRead(LiveWriteEntry *e, Relation deals, Datum key,
						   LiveVisit **visits, int *nvisits);

#endif							/* LIVE_WRITE_H */
