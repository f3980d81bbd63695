/*-------------------------------------------------------------------------
 *
 * deal_amounts.h
 *	  The deals' current amounts, read once into a hash table keyed by the
 *	  deal key, for pipeline_trend() and history_visits() (deal_amounts.c).
 *
 * src/analysis/deal_amounts.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DEAL_AMOUNTS_H
#define DEAL_AMOUNTS_H

#include "fmgr.h"

#include "history_read.h"

/* How deal keys are hashed and compared */
typedef struct KeyOps
{
	bool		int8key;		/* bigint: hash and compare inline */
	bool		byval;
	int16		typlen;
	Oid			collation;
	FmgrInfo	hash;
	FmgrInfo	eq;
} KeyOps;

/* One deal's current amount */
typedef struct AmountEntry
{
	Datum		key;
	int128		amount;			/* scaled by 10^scale */
	int16		scale;
	bool		has_amount;
	char		status;
	uint32		hash;
} AmountEntry;

#define SH_PREFIX		amounts
#define SH_ELEMENT_TYPE AmountEntry
#define SH_KEY_TYPE		Datum
#define SH_SCOPE		extern
#define SH_DECLARE
#include "lib/simplehash.h"

extern amounts_hash *LoadAmounts(Oid deals_relid, const char *amount_column,
								 HistoryReader *history, KeyOps *ops);

#endif							/* DEAL_AMOUNTS_H */
