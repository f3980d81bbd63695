/*-------------------------------------------------------------------------
 *
 * funnel.h
 *	  Shared declarations of the funnel extension: the deal_stage value
 *	  layout and the pipeline catalog cache that every other file uses.
 *
 * A deal_stage is a pass-by-value 64-bit Datum.  The high 32 bits hold the
 * OID of the pipeline's enum type (schema funnel_pipeline), the low 32 bits
 * the OID of the stage's pg_enum row.  Both OIDs survive pg_upgrade (pg_dump
 * --binary-upgrade preserves them), and text dump/restore goes through the
 * qualified 'pipeline:stage' text form.  See doc/design.md.
 *
 * src/funnel.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_H
#define FUNNEL_H

#include "fmgr.h"
#include "datatype/timestamp.h"

#include "pg_compat.h"

/* Schema that holds one enum type per pipeline, and the extension schema */
#define FUNNEL_PIPELINE_SCHEMA	"funnel_pipeline"
#define FUNNEL_SCHEMA			"funnel"
/* internals: aggregate support, type I/O, triggers, API bodies */
#define FUNNEL_INTERNAL_SCHEMA	"funnel_internal"

/*
 * Where to look up pipelines when a name is wrong: errors name no other
 * pipeline, since those may belong to other tenants (doc/security.md)
 */
#define FUNNEL_PIPELINES_HINT	"SELECT DISTINCT pipeline FROM funnel.stages lists the pipelines."

/* Longest pipeline or stage name, in bytes (same as an identifier) */
#define FUNNEL_NAME_MAX			(NAMEDATALEN - 1)

/* Separator between pipeline and stage in the text form */
#define FUNNEL_SEPARATOR		':'

typedef uint64 DealStage;

#define DealStagePipelineOid(s)	((Oid) ((s) >> 32))
#define DealStageLabelOid(s)	((Oid) ((s) & UINT64CONST(0xFFFFFFFF)))
#define MakeDealStage(p, l)		((((uint64) (p)) << 32) | (uint64) (l))

/*
 * A bare stage name that exists in several pipelines, read where no pipeline
 * was known (typmod -1), is kept "unresolved" (pipeline OID 0 and the label
 * of one candidate) only where unresolved.c guarantees that the typmod
 * coercion of a bound column or the tracking trigger resolves it before it
 * can be stored; every other use raises the ambiguity error.
 */
#define DealStageIsUnresolved(s)	(DealStagePipelineOid(s) == InvalidOid)

#define DatumGetDealStage(d)	((DealStage) DatumGetInt64(d))
#define DealStageGetDatum(s)	Int64GetDatum((int64) (s))
#define PG_GETARG_DEAL_STAGE(n) DatumGetDealStage(PG_GETARG_DATUM(n))
#define PG_RETURN_DEAL_STAGE(s) return DealStageGetDatum(s)

/* The typmod that binds a column to a pipeline */
#define PipelineTypmod(typoid)	((int32) ((typoid) & 0x7FFFFFFF))

typedef enum StageKind
{
	STAGE_OPEN = 0,
	STAGE_WON = 1,
	STAGE_LOST = 2
} StageKind;

/*
 * The implied-passage rule of the product brief, defined here once for
 * every aggregate, report, summary check and the tracking trigger's
 * required fields: a deal whose reached stage is r passed stage s if r is
 * s, or s is open and r is a won stage or an open stage at or after s.  A
 * lost r passed only itself.  Both stages are of one pipeline; positions
 * are ranks (or indexes) in it, so equal positions are the same stage.
 */
static inline bool
StagePassed(StageKind s_kind, int s_position, StageKind r_kind, int r_position)
{
	if (r_position == s_position)
		return true;
	if (s_kind != STAGE_OPEN)
		return false;
	return r_kind == STAGE_WON ||
		(r_kind == STAGE_OPEN && r_position >= s_position);
}

struct FunnelPipeline;

/* One stage of a pipeline, as cached */
typedef struct FunnelStage
{
	Oid			label;			/* pg_enum OID */
	float4		sortorder;		/* pg_enum.enumsortorder */
	int			position;		/* 1-based rank within the pipeline */
	NameData	name;
	StageKind	kind;
	double		probability;	/* in [0,1] */
	bool		retired;
	bool		has_stale_after;
	Interval	stale_after;
	bool		usable;			/* false: added by this uncommitted xact */
	bool		configured;		/* has its row in funnel.pipeline_stage */
	struct FunnelPipeline *pipeline;
} FunnelStage;

/* One pipeline, its stages in funnel order */
typedef struct FunnelPipeline
{
	Oid			typoid;			/* enum type in FUNNEL_PIPELINE_SCHEMA */
	NameData	name;
	int			nstages;
	int			nopen;			/* stages[0 .. nopen-1] are open */
	bool		created_here;	/* created by the current transaction */
	bool		configured;		/* every stage has its attributes */
	FunnelStage *stages;
} FunnelPipeline;

/*
 * pipeline_cache.c
 *
 * Pointers returned stay valid until the cache is rebuilt after a catalog
 * change, which can happen at the next lookup: keep OIDs, not pointers,
 * across calls (e.g. in aggregate states).
 */
extern void FunnelCacheRegisterCallbacks(void);
extern int	FunnelPipelineCount(void);
extern FunnelPipeline *FunnelPipelineByIndex(int i);
extern FunnelPipeline *FunnelLookupPipeline(Oid typoid);
extern FunnelPipeline *FunnelLookupPipelineByName(const char *name);
extern FunnelPipeline *FunnelLookupPipelineByTypmod(int32 typmod);
extern FunnelStage *FunnelLookupStageByLabel(Oid label);
extern FunnelStage *FunnelLookupStageByName(FunnelPipeline *pipeline,
											const char *name);
extern FunnelStage *FunnelGetStage(DealStage s);
extern void FunnelCheckConfigured(FunnelPipeline *pipeline);
extern FunnelStage *FunnelGetConfiguredStage(DealStage s);
pg_noreturn extern void FunnelReportAmbiguousName(const char *name);
pg_noreturn extern void FunnelReportAmbiguousNameFor(const char *name,
													 bool order);
pg_noreturn extern void DealStageReportAmbiguous(DealStage s);
extern uint64 FunnelCacheGeneration(void);
extern char *FunnelStageList(FunnelPipeline *pipeline);

/* names.c */
extern char *FunnelNameInvisibleChar(const char *name);

/* deal_stage_io.c */
extern DealStage DealStageFromText(const char *str, int32 typmod,
									bool from_input);
extern char *DealStageToText(DealStage s);
extern DealStage DealStageResolve(DealStage s, FunnelPipeline *pipeline);
extern DealStage DealStageResolveTypmod(DealStage s, int32 typmod);
extern void DealStageCheckUsable(FunnelStage *stage);

/* unresolved.c */
extern void FunnelUnresolvedInit(void);
extern bool DealStageMayStayUnresolved(const char *str, Oid candidate_label);
struct RelationData;
extern AttrNumber DealStageResolvedColumn(struct RelationData *rel);
extern int	FunnelDeclaredParams;

/*
 * The text of a stage given as text (the casts from text, the functions of
 * bare_names.c).  A leading byte 1, which no name may contain, is the
 * version byte of the binary form: a client that declared a parameter
 * funnel.deal_stage and sent it binary, where bare_names.c reads the
 * parameter as text.
 */
extern char *DealStageTextArg(struct varlena *t);

/* bare_names.c */
struct ParseState;
struct Query;
extern void FunnelRewriteBareNames(struct ParseState *pstate,
								   struct Query *query);

/* deal_stage_ops.c */
extern int	DealStageCompare(DealStage a, DealStage b);
extern const char *StageKindName(StageKind kind);

#endif							/* FUNNEL_H */
