/*-------------------------------------------------------------------------
 *
 * history_layout.h
 *	  The layout of a stage history table, defined once: the names, types
 *	  and constraints of its columns, in order.
 *
 * funnel.track() creates the history from this table (through
 * funnel_internal.history_columns(), track_validate.c), the tracking
 * triggers check it before writing (TrackCheckHistoryColumns) and the
 * readers find their columns by these names (history_read.c).
 *
 * src/analysis/history_layout.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HISTORY_LAYOUT_H
#define HISTORY_LAYOUT_H

/* Column numbers of a history table, in the order of history_layout[] */
#define Anum_history_deal_id	1
#define Anum_history_stage		2
#define Anum_history_entered_at 3
#define Anum_history_left_at	4
#define Anum_history_entered_by 5
#define Natts_history			5

/* What the type of a history column is */
typedef enum HistoryColumnType
{
	HISTORY_TYPE_KEY,			/* the deals table's primary key type */
	HISTORY_TYPE_STAGE,			/* funnel.deal_stage bound to the pipeline */
	HISTORY_TYPE_FIXED			/* type_oid / sql_type below */
} HistoryColumnType;

typedef struct HistoryColumnDef
{
	const char *name;
	HistoryColumnType kind;
	Oid			type_oid;		/* HISTORY_TYPE_FIXED only */
	const char *sql_type;		/* HISTORY_TYPE_FIXED only */
	bool		not_null;
	const char *sql_default;	/* NULL: none */
} HistoryColumnDef;

/* track_validate.c: indexed by Anum_history_* - 1 */
extern const HistoryColumnDef history_layout[Natts_history];

/* "deal_id, stage, entered_at, left_at, entered_by" */
extern char *HistoryColumnNames(int ncolumns);

#endif							/* HISTORY_LAYOUT_H */
