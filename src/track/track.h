/*-------------------------------------------------------------------------
 *
 * track.h
 *	  Declarations shared by the tracking files: the per-table cache of what
 *	  the triggers need (track_cache.c, with track_citus.c for the shards of
 *	  a Citus distributed table) and the direct writer of the history table
 *	  (track_history.c), used by the triggers (track_trigger.c).
 *
 * src/track/track.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRACK_H
#define TRACK_H

#include "access/attnum.h"
#include "access/htup.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "storage/lockdefs.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "funnel.h"
#include "funnel_cache.h"
#include "history_layout.h"

typedef enum TrackRule
{
	TRACK_RULE_FORWARD,
	TRACK_RULE_SEQUENTIAL,
	TRACK_RULE_ANY
} TrackRule;

/* track_rules.c: the names of the rules */
extern int	TrackRuleByName(const char *name);
extern TrackRule TrackRuleFromName(const char *name);

/* Columns that must be non-null on entering (or skipping past) a stage */
typedef struct TrackRequired
{
	Oid			label;			/* stage (pg_enum OID) */
	int			nfields;
	AttrNumber *attnums;		/* in the deals table */
	char	  **names;
} TrackRequired;

/* Everything the triggers of one tracked table need, built once */
typedef struct TrackedTable
{
	Oid			relid;			/* hash key: the deals table */
	FunnelCacheState state;		/* see funnel_cache.h */
	uint64		generation;		/* FunnelCacheGeneration() when built */
	MemoryContext context;		/* holds everything below */

	Oid			pipeline;		/* enum type OID of the pipeline; InvalidOid
								 * when the table holds several (below) */
	int			npipelines;		/* several pipelines: their enum type OIDs */
	Oid		   *pipelines;
	TrackRule	rule;
	AttrNumber	stage_attnum;
	AttrNumber	changed_at_attnum;	/* InvalidAttrNumber: use now() */
	AttrNumber	pk_attnum;		/* the key, checked to be the primary key */
	Oid			pk_type;
	int32		pk_typmod;
	Oid			pk_collation;
	Oid			stage_type;		/* funnel.deal_stage */

	Oid			history_relid;	/* on Citus: the co-located history shard */
	bool		shell;			/* a Citus distributed table itself, whose
								 * rows live in its shards */
	int			nargs;			/* trigger arguments it was built from */
	char	  **args;
	Oid			history_index;	/* btree on (deal_id, entered_at) */
	FmgrInfo	index_eq;		/* = of the index's first column */
	Oid			index_collation;

	int			ntransitions;	/* allow-list of the pipeline(s) */
	Oid		   *from_labels;	/* InvalidOid: any stage of from_pipelines[i] */
	Oid		   *from_pipelines;
	Oid		   *to_labels;

	int			nrequired;
	TrackRequired *required;
} TrackedTable;

/* track_api.c: the entry points' ownership check and call of a body */
extern void RequireOwner(Oid relid, LOCKMODE lockmode);
extern Datum CallBody(FunctionCallInfo fcinfo, const char *name, int nargs,
					  const Oid *argtypes);

/* track_migrate.c: re-attaching an existing history at track() */
extern bool TrackHistoryExists(Oid deals);
extern void TrackReconcile(Oid deals);

/* track_cache.c */
extern TrackedTable *TrackLookup(Relation deals, Trigger *trigger);
extern void TrackConfigColumns(Relation rel, int ncolumns,
							   const char *const *names, int *index);

/* track_cache_rules.c: parts of a track_cache.c entry's build */
extern void TrackLoadTransitions(TrackedTable *t, Oid relid,
								 FunnelPipeline **pipelines, int npipelines);
extern void TrackLoadRequired(TrackedTable *t, Oid relid,
							  FunnelPipeline **pipelines, int npipelines,
							  Relation deals);

/* track_citus.c */
extern Oid	TrackCitusHistory(Relation rel, const char *deals_name,
							  const char *history_name, const char *key_column,
							  bool *shell);

/* track_validate.c */
extern AttrNumber TrackDealsColumn(Relation deals, const char *name,
								   const char *what, bool tracked);
extern AttrNumber TrackValidateDeals(TrackedTable *t, Relation deals,
									 const char *key_column);
extern void TrackCheckHistoryColumns(TrackedTable *t, Relation history);
extern void TrackCheckHistoryOwner(Oid history_relid, Relation deals);
extern void TrackValidateHistory(TrackedTable *t, Relation deals,
								 Relation history);

/* track_history.c */
typedef struct HistoryWriter HistoryWriter;

extern HistoryWriter *HistoryBegin(TrackedTable *t, bool batch);
extern void HistoryWithoutIndexes(HistoryWriter *w);
extern void HistoryBulkLoad(Oid history_relid);
extern bool HistoryFindOpen(HistoryWriter *w, Datum deal_id,
							TimestampTz *entered_at);
extern bool HistoryFindNewest(HistoryWriter *w, Datum deal_id,
							  TimestampTz *entered_at);
extern bool HistoryFindNewestOfNew(HistoryWriter *w, Datum deal_id,
								   TimestampTz *entered_at);
extern void HistoryCloseOpen(HistoryWriter *w, TimestampTz left_at);
extern void HistoryAddVisit(HistoryWriter *w, Datum deal_id, DealStage stage,
							TimestampTz entered_at);
extern void HistoryAddClosedVisit(HistoryWriter *w, Datum deal_id,
								  DealStage stage, TimestampTz entered_at,
								  bool closed, TimestampTz left_at);
extern void HistoryEnd(HistoryWriter *w);

/* track_history.c: the funnel.actor setting */
#define FUNNEL_ACTOR_MAXLEN 256
extern void TrackActorInit(void);

/* track_rules.c: the decisions the triggers enforce */
extern bool TrackMoveAllowed(TrackedTable *t, FunnelPipeline *p, int f, int to);
extern void TrackReportInvalidTransition(TrackedTable *t, FunnelPipeline *p,
										 int f, int to, Relation rel,
										 TupleTableSlot *slot);
extern void TrackCheckRequired(TrackedTable *t, FunnelPipeline *p, int f, int to,
							   TupleTableSlot *slot, Relation rel, List **missing);
extern bool TrackCrossMoveAllowed(TrackedTable *t, FunnelStage *from,
								  FunnelStage *to);
extern void TrackReportInvalidCrossMove(TrackedTable *t, FunnelStage *from,
										FunnelStage *to, Relation rel,
										TupleTableSlot *slot);
extern void TrackCheckRequiredEntering(TrackedTable *t, FunnelStage *from,
									   FunnelStage *to, TupleTableSlot *slot,
									   Relation rel, List **missing);

/* track_trigger.c */
extern FunnelPipeline *TrackPipelineOf(TrackedTable *t);
extern FunnelPipeline *TrackPipelineOfStage(TrackedTable *t, DealStage s,
											Relation rel);
extern char *TrackPipelineNames(TrackedTable *t);

/*
 * track_errors.c: the deal's key for DETAIL, and the constraint names of
 * refused moves (a stable contract: README "Error fields")
 */
#define TRACK_REFUSED_TRANSITION	"funnel_transition_not_allowed"
#define TRACK_REFUSED_RETIRED		"funnel_retired_stage"
#define TRACK_REFUSED_REQUIRED		"funnel_required_fields_missing"
#define TRACK_REFUSED_NULL_STAGE	"funnel_stage_null"
#define TRACK_REFUSED_TIME			"funnel_changed_at_before_entry"
#define TRACK_REFUSED_KEY_CHANGE	"funnel_key_changed"
extern char *TrackDealKey(TrackedTable *t, TupleTableSlot *slot);

/* track_api.c: the API's entry points that run a SECURITY DEFINER body */
extern void RequireOwner(Oid relid, LOCKMODE lockmode);
extern Datum CallBody(FunctionCallInfo fcinfo, const char *name, int nargs,
					  const Oid *argtypes);

#endif							/* TRACK_H */
