/*-------------------------------------------------------------------------
 *
 * history_read.h
 *	  Validated, privilege-checked reading of a stage history table and of
 *	  a deals table given as regclass arguments, inheritance children
 *	  included (history_read.c), used by the as-of and trend functions
 *	  (pipeline_as_of.c).
 *
 * src/analysis/history_read.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HISTORY_READ_H
#define HISTORY_READ_H

#include "access/attnum.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "funnel.h"
#include "history_layout.h"

#define TABLE_READER_MAXCOLS 4

/*
 * A table and its inheritance children, each validated under
 * AccessShareLock, read one after the other in one sequential scan each.
 * The columns are found by name in each relation (a child's column numbers
 * may differ from its parent's).
 */
typedef struct TableReader
{
	int			nrels;
	Relation   *rels;			/* the named table first, then its children */
	AttrNumber *attnums;		/* nrels x ncols, validated */
	int			ncols;
	int			current;		/* relation being scanned */
	AttrNumber	maxatt;			/* largest column read in it */
	const AttrNumber *cols;		/* its column numbers */
	TupleDesc	desc;			/* its tuple descriptor */
	TableScanDesc scan;			/* NULL between relations */
	TupleTableSlot *slot;		/* NULL when reading heap tuples directly */
	Datum		values[TABLE_READER_MAXCOLS];	/* the current row */
	bool		isnull[TABLE_READER_MAXCOLS];
	double		reltuples;		/* planner's estimate, all relations */
	Oid			key_type;		/* deal_id (history) or primary key (deals) */
	Oid			key_collation;
	int32		stage_typmod;	/* history: pipeline binding of stage, or -1 */
	void	   *query;			/* history read by a query (history_query.c) */
} TableReader;

typedef TableReader HistoryReader;

/* Columns of a history reader, indexes of values (history_layout.h) */
#define HIST_DEAL_ID	(Anum_history_deal_id - 1)
#define HIST_STAGE		(Anum_history_stage - 1)
#define HIST_ENTERED_AT (Anum_history_entered_at - 1)
#define HIST_LEFT_AT	(Anum_history_left_at - 1)

/* Columns of a deals reader; DEALS_AMOUNT only when ncols is 2 */
#define DEALS_KEY		0
#define DEALS_AMOUNT	1

extern void HistoryOpen(HistoryReader *reader, Oid relid);
extern void DealsOpen(TableReader *reader, Oid relid);
extern void DealsOpenAmount(TableReader *reader, Oid relid, const char *amount_column);
extern bool TableReaderNext(TableReader *reader);
extern void TableReaderClose(TableReader *reader);
extern AttrNumber DealsAmountColumn(Oid relid);

/* Histories of other layouts, read by a query as the caller (history_query.c) */
extern bool HistoryIsPlain(Oid relid, const char *const *columns);
extern void HistoryOpenQuery(HistoryReader *reader, Oid relid, const char *const *columns);
extern bool HistoryQueryNext(HistoryReader *reader);
extern void HistoryQueryClose(HistoryReader *reader);

/*
 * The checks of a table named by an argument, shared with the readers that
 * query with SQL (tracked_sources.c); see history_read.c.
 */
extern char *ReaderRelName(Oid relid);
extern bool ReaderIsCitusTable(Oid relid);
extern void ReaderCheckKind(Oid relid, char relkind, Oid parent, bool allow_citus,
							const char *what, const char *hint);
extern void ReaderCheckAnySelect(Oid relid);
extern void ReaderCheckReadable(Relation rel, bool by_sql);
extern AttrNumber ReaderFindColumn(Relation rel, const char *name);
extern List *ReaderOpenChildren(Relation parent, bool by_sql);
extern AttrNumber HistoryColumn(Relation rel, const char *name, Oid type);
extern Oid	DealStageTypeOid(void);

#endif							/* HISTORY_READ_H */
