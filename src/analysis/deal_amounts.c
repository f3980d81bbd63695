/*-------------------------------------------------------------------------
 *
 * deal_amounts.c
 *	  The deals' current amounts, read once from the deals table into a
 *	  hash table keyed by the primary key (the history keeps no amounts):
 *	  for funnel.pipeline_trend() and funnel_internal.history_visits()
 *	  (pipeline_as_of.c).  Amounts are exact 128-bit fixed-point decimals
 *	  (agg.h); a bigint key is hashed and compared inline.
 *
 * src/analysis/deal_amounts.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "agg.h"
#include "deal_amounts.h"

static inline uint32 KeyHash(KeyOps *ops, Datum key);
static inline bool KeyEqual(KeyOps *ops, Datum a, Datum b);

#define SH_PREFIX		amounts
#define SH_ELEMENT_TYPE AmountEntry
#define SH_KEY_TYPE		Datum
#define SH_KEY			key
#define SH_HASH_KEY(tb, key) KeyHash((KeyOps *) (tb)->private_data, key)
#define SH_EQUAL(tb, a, b) KeyEqual((KeyOps *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) a->hash
#define SH_SCOPE		extern
#define SH_DEFINE
#include "lib/simplehash.h"

/* Hash of a deal key */
static inline uint32
KeyHash(KeyOps *ops, Datum key)
{
	if (ops->int8key)
	{
		uint64		k = (uint64) DatumGetInt64(key);

		return murmurhash32((uint32) (k ^ (k >> 32)));
	}
	return DatumGetUInt32(FunctionCall1Coll(&ops->hash, ops->collation, key));
}

/* Equality of two deal keys */
static inline bool
KeyEqual(KeyOps *ops, Datum a, Datum b)
{
	if (ops->int8key)
		return DatumGetInt64(a) == DatumGetInt64(b);
	return DatumGetBool(FunctionCall2Coll(&ops->eq, ops->collation, a, b));
}

/* The hash and equality functions of a key type, or an error */
static void
KeyOpsInit(KeyOps *ops, Oid type, Oid collation)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_HASH_PROC_FINFO |
										   TYPECACHE_EQ_OPR_FINFO);

	memset(ops, 0, sizeof(KeyOps));
	ops->int8key = (type == INT8OID);
	get_typlenbyval(type, &ops->typlen, &ops->byval);
	ops->collation = collation;
	if (!OidIsValid(tc->hash_proc_finfo.fn_oid) || !OidIsValid(tc->eq_opr_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("deal keys of type %s cannot be hashed", format_type_be(type)),
				 errhint("pipeline_trend() matches visits to deals by a hashable primary key.")));
	fmgr_info_copy(&ops->hash, &tc->hash_proc_finfo, CurrentMemoryContext);
	fmgr_info_copy(&ops->eq, &tc->eq_opr_finfo, CurrentMemoryContext);
}

/* Read the current amount of every deal into a hash table */
amounts_hash *
LoadAmounts(Oid deals_relid, const char *amount_column, HistoryReader *history,
			KeyOps *ops)
{
	TableReader deals;
	amounts_hash *hash;

	DealsOpenAmount(&deals, deals_relid, amount_column);
	if (deals.ncols < 2)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("deals table \"%s\" has no numeric column \"amount\"",
						RelationGetRelationName(deals.rels[0])),
				 errhint("Name the amount column with amount_column => 'amount_usd', or omit the deals argument to count deals only.")));
	if (deals.key_type != history->key_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("primary key of deals table \"%s\" is of type %s, but deal_id of the history is of type %s",
						RelationGetRelationName(deals.rels[0]), format_type_be(deals.key_type),
						format_type_be(history->key_type)),
				 errhint("Pass the deals table whose history this is.")));
	KeyOpsInit(ops, deals.key_type, deals.key_collation);
	/* sized by the planner's estimate of the rows, grown as needed */
	hash = amounts_create(CurrentMemoryContext,
						  (uint32) Min(Max(deals.reltuples, 1024), 1 << 26),
						  ops);
	while (TableReaderNext(&deals))
	{
		AmountEntry *entry;
		bool		found;
		Datum		key;
		int			scale;

		CHECK_FOR_INTERRUPTS();
		if (deals.isnull[DEALS_KEY])
			continue;
		key = deals.values[DEALS_KEY];
		entry = amounts_insert(hash, key, &found);
		if (!found)
			entry->key = ops->byval ? key : datumCopy(key, false, ops->typlen);
		entry->has_amount = !deals.isnull[DEALS_AMOUNT];
		if (entry->has_amount)
		{
			entry->amount = DecFromNumeric(deals.values[DEALS_AMOUNT],
										   &scale, "amount");
			if (scale > DEC_MAX_SCALE)
				DecReportOverflow();
			entry->scale = (int16) scale;
		}
	}
	TableReaderClose(&deals);
	return hash;
}
