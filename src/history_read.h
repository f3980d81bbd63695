/*-------------------------------------------------------------------------
 *
 * history_read.h
 *	  Validated, privilege-checked reading of a stage history table and of
 *	  a deals table given as regclass arguments (history_read.c), used by
 *	  the as-of and trend functions (pipeline_as_of.c).
 *
 * src/history_read.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HISTORY_READ_H
#define HISTORY_READ_H

#include "access/attnum.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"

#include "funnel.h"

/* A history table opened for one sequential scan */
typedef struct HistoryReader
{
	Relation	rel;
	AttrNumber	deal_id;		/* column numbers, validated */
	AttrNumber	stage;
	AttrNumber	entered_at;
	AttrNumber	left_at;
	AttrNumber	maxatt;			/* largest of the four */
	Oid			key_type;		/* type of deal_id */
	Oid			key_collation;
	int32		stage_typmod;	/* pipeline binding of stage, or -1 */
	TableScanDesc scan;
	TupleTableSlot *slot;		/* NULL when reading heap tuples directly */
	Datum		values[4];		/* the current visit, in HIST_* order */
	bool		isnull[4];
} HistoryReader;

/* Indexes of HistoryReader.values */
#define HIST_DEAL_ID	0
#define HIST_STAGE		1
#define HIST_ENTERED_AT 2
#define HIST_LEFT_AT	3

/* The columns of a deals table that the trend reads */
typedef struct DealsColumns
{
	AttrNumber	key;			/* single-column primary key */
	Oid			key_type;
	Oid			key_collation;
	AttrNumber	amount;			/* InvalidAttrNumber: no numeric amount */
} DealsColumns;

extern void HistoryOpen(HistoryReader *reader, Oid relid);
extern bool HistoryNext(HistoryReader *reader);
extern void HistoryClose(HistoryReader *reader);
extern AttrNumber DealsAmountColumn(Oid relid);
extern Relation DealsOpen(Oid relid, DealsColumns *cols);

#endif							/* HISTORY_READ_H */
