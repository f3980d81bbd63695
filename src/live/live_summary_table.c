/*-------------------------------------------------------------------------
 *
 * live_summary_table.c
 *	  How the live summaries' UPDATE trigger (live_write.c) may write into a
 *	  summary table directly: whether heap_insert does what INSERT would,
 *	  and the summaries of a delta row as the row stores them.
 *
 * src/live/live_summary_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/rel.h"

#include "live_write.h"
#include "pg_compat.h"

/* Whether column att of the summary table is still of type typid */
static bool
LiveColumnIs(Relation live, AttrNumber att, Oid typid)
{
	Form_pg_attribute a = TupleDescAttr(RelationGetDescr(live), att - 1);

	return !a->attisdropped && a->atttypid == typid;
}

/*
 * Whether rows can go into the summary table with heap_insert (as INSERT
 * would): a plain heap table, into which the owner may INSERT, whose
 * columns are still of the types the datums are.  Its owner may have altered a column's type since
 * enable_live(); then the prepared INSERT writes, with SQL's coercions (or
 * its errors), never a datum of another type.
 */
bool
LiveSimpleTable(LiveWriteEntry *e, Relation live)
{
	int			i;

	if (live->rd_rel->relkind != RELKIND_RELATION ||
		live->rd_rel->relam != HEAP_TABLE_AM_OID ||
		live->rd_rel->relhasindex ||
		live->rd_rel->relrowsecurity ||
		live->trigdesc != NULL ||
		RelationGetDescr(live)->constr != NULL)
		return false;
	/* INSERT would check the owner's privilege (we run as the owner) */
	if (pg_class_aclcheck(RelationGetRelid(live), GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		return false;
	if (!LiveColumnIs(live, e->live_day_att, DATEOID) ||
		!LiveColumnIs(live, e->live_stage_att, e->stage_type) ||
		!LiveColumnIs(live, e->live_plus_att, e->summary_type) ||
		!LiveColumnIs(live, e->live_minus_att, e->summary_type) ||
		!LiveColumnIs(live, e->live_plus_runs_att, INT8ARRAYOID) ||
		!LiveColumnIs(live, e->live_minus_runs_att, INT8ARRAYOID))
		return false;
	for (i = 0; i < e->ndims; i++)
		if (!LiveColumnIs(live, e->live_dim_att[i], e->dim_type[i]))
			return false;
	return true;
}

/*
 * A summary as the row stores it: compressed inline when its column's
 * storage allows compression and that makes it smaller.  A delta's summary
 * has an entry per stage of the pipeline, mostly zeros: some 550 bytes for
 * four open stages, which TOAST would leave alone (a row under 2 kB), but
 * which made a move's deltas write more than twice the WAL and heap of
 * the move itself.  Readers detoast it (SummaryFromDatum()).
 */
Datum
LiveCompress(Relation live, AttrNumber att, Datum summary)
{
	Form_pg_attribute a = TupleDescAttr(RelationGetDescr(live), att - 1);
	Datum		c;

	if (a->attstorage != TYPSTORAGE_EXTENDED && a->attstorage != TYPSTORAGE_MAIN)
		return summary;
	c = compat_compress_datum(summary, a->attcompression);
	return c != (Datum) 0 ? c : summary;
}
