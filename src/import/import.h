/*-------------------------------------------------------------------------
 *
 * import.h
 *	  Shared by import.c (funnel.import_history(): the target, the
 *	  arguments, the sorted source) and import_write.c (the source's rows
 *	  into visits and deals): the state of one import and the layout of the
 *	  query over the source.
 *
 * src/import/import.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IMPORT_H
#define IMPORT_H

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"

#include "track.h"

/* Rows fetched from the source per SPI_cursor_fetch */
#define IMPORT_FETCH_SIZE 10000

/* Columns of the report, funnel.import_history()'s result */
#define IMPORT_REPORT_COLS 6

/* Columns of the query over the source, in this order */
#define SRC_KEY		0
#define SRC_STAGE	1
#define SRC_AT		2
#define SRC_AMOUNT	3
#define SRC_ROW		4


/* One visit being formed */
typedef struct ImportVisit
{
	DealStage	stage;
	TimestampTz at;
} ImportVisit;

/* Everything one import needs */
typedef struct ImportState
{
	/* the target */
	Oid			target;			/* the deals table or the history table */
	bool		tracked;		/* target is a tracked deals table */
	Oid			deals_relid;
	TrackedTable *table;		/* tracked: the cache entry; else a stand-in */
	Oid			pipeline;		/* enum type OID of the target's pipeline */
	Oid			bare_pipeline;	/* pipeline of bare stage names */
	bool		apply_rules;
	bool		by_time;		/* each deal's rows in changed_at order */
	HistoryWriter *writer;
	MemoryContext writer_context;	/* where the writer's slots live */

	/* the source */
	bool		stage_is_text;
	bool		has_amount;

	/* the key type */
	FmgrInfo	key_eq;
	Oid			key_collation;
	Oid			key_output;
	int16		key_len;
	bool		key_byval;

	/* the current deal */
	MemoryContext deal_context;
	bool		in_deal;
	Datum		key;
	int			nvisits;
	int			maxvisits;
	ImportVisit *visits;
	bool		amount_given;
	Datum		amount;

	/* the last text stage resolved, and what it resolved to */
	StringInfoData last_text;
	bool		last_valid;
	DealStage	last_stage;
	const char *last_reason;
	MemoryContext last_context; /* where last_reason lives */

	/* tracked: each deal's last stage and time, for the deals INSERT */
	MemoryContext deals_context;
	ArrayBuildState *keys;
	ArrayBuildState *stages;
	ArrayBuildState *times;
	ArrayBuildState *amounts;

	/* the report */
	ReturnSetInfo *rsinfo;
	int64		taken;
	int64		reported;
} ImportState;

/* schema.table, quoted */
static inline char *
QuotedRelName(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* import_write.c */
extern FunnelPipeline *ImportPipeline(ImportState *st);
extern void ImportBulk(ImportState *st, Portal portal, Relation deals,
					   const char *amount_column, MemoryContext import_context);

#endif							/* IMPORT_H */
