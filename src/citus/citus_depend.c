/*-------------------------------------------------------------------------
 *
 * citus_depend.c
 *	  Record that a table with funnel.deal_stage(pipeline) columns depends
 *	  on the pipelines' enum types, so that Citus creates those types on a
 *	  node before the table.
 *
 * A column's pipeline is only its typmod: PostgreSQL records a dependency
 * on funnel.deal_stage (which belongs to the extension) and none on the
 * pipeline.  When citus_add_node() activates a node it creates, in
 * dependency order, every distributed object and their dependencies found
 * in pg_depend, then the shell tables; the CREATE TABLE of a shell table
 * reads funnel.deal_stage(b2b) and fails when pipeline "b2b" does not exist
 * on the new node yet (issue 22.1).  A table-level (objsubid 0) normal
 * dependency of the table on each enum type makes Citus create the type
 * first (CREATE TYPE ... AS ENUM, with the stages in order and the owner),
 * and mark it distributed when the table is distributed.  The stages'
 * attributes (funnel.pipeline_stage) then reach the node through the
 * pipeline log, from funnel.sync_pipeline_nodes(), which accepts an enum
 * type Citus already created if its stages are the coordinator's.
 *
 * The dependency is table-level, not on the column: ALTER COLUMN ... TYPE
 * refuses to run with any column dependency but its type and collation.
 * It is recomputed at the end of every CREATE TABLE and ALTER TABLE (event
 * trigger funnel_citus_depend_ddl_end, only when Citus is installed), so a
 * dropped or retyped column leaves none behind; DROP TABLE drops it.
 * funnel.drop_pipeline() refuses a pipeline that a column uses before it
 * drops the type, so the dependency never blocks it in a way it would not.
 *
 * src/citus/citus_depend.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "funnel.h"

/*
 * The enum types of the pipelines that the columns of a relation are bound
 * to (deal_stage(p) and deal_stage(p)[] columns)
 */
static List *
BoundPipelineTypes(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			nspoid = get_namespace_oid(FUNNEL_SCHEMA, true);
	Oid			stage_type;
	Oid			stage_array;
	List	   *types = NIL;
	int			i;

	/* none yet while CREATE EXTENSION funnel runs its script */
	stage_type = OidIsValid(nspoid) ?
		GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						CStringGetDatum("deal_stage"), ObjectIdGetDatum(nspoid)) :
		InvalidOid;
	if (!OidIsValid(stage_type))
		return NIL;
	stage_array = get_array_type(stage_type);

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		FunnelPipeline *pipeline;

		if (att->attisdropped || att->atttypmod < 0)
			continue;
		if (att->atttypid != stage_type && att->atttypid != stage_array)
			continue;
		pipeline = FunnelLookupPipelineByTypmod(att->atttypmod);
		if (pipeline != NULL)
			types = list_append_unique_oid(types, pipeline->typoid);
	}
	return types;
}

/*
 * funnel_internal.citus_pipeline_depend(rel regclass): make the
 * table-level dependencies of rel on enum types of schema funnel_pipeline
 * those of its bound columns: delete the others, add the missing ones.
 * Returns the number of pipelines the table depends on.
 */
PG_FUNCTION_INFO_V1(funnel_citus_pipeline_depend);
Datum
funnel_citus_pipeline_depend(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			pipeline_nsp = get_namespace_oid(FUNNEL_PIPELINE_SCHEMA, true);
	Relation	rel;
	List	   *wanted;
	List	   *have = NIL;
	Relation	depRel;
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tup;
	ListCell   *lc;
	int			count;
	char		relkind = get_rel_relkind(relid);

	if ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) ||
		!OidIsValid(pipeline_nsp))
		PG_RETURN_INT32(0);

	rel = table_open(relid, AccessShareLock);
	wanted = BoundPipelineTypes(rel);
	table_close(rel, AccessShareLock);

	/* the table's current dependencies on pipelines: keep or delete */
	depRel = table_open(DependRelationId, RowExclusiveLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&key[2], Anum_pg_depend_objsubid, BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum(0));
	scan = systable_beginscan(depRel, DependDependerIndexId, true, NULL, 3, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (dep->refclassid != TypeRelationId || dep->deptype != DEPENDENCY_NORMAL ||
			get_typ_typrelid(dep->refobjid) != InvalidOid ||
			get_typtype(dep->refobjid) != TYPTYPE_ENUM)
			continue;
		{
			HeapTuple	typtup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(dep->refobjid));
			bool		ours = false;

			if (HeapTupleIsValid(typtup))
			{
				ours = ((Form_pg_type) GETSTRUCT(typtup))->typnamespace == pipeline_nsp;
				ReleaseSysCache(typtup);
			}
			if (!ours)
				continue;
		}
		if (list_member_oid(wanted, dep->refobjid) && !list_member_oid(have, dep->refobjid))
			have = lappend_oid(have, dep->refobjid);
		else
			CatalogTupleDelete(depRel, &tup->t_self);
	}
	systable_endscan(scan);
	table_close(depRel, RowExclusiveLock);

	count = 0;
	foreach(lc, wanted)
	{
		ObjectAddress table;
		ObjectAddress type;

		count++;
		if (list_member_oid(have, lfirst_oid(lc)))
			continue;
		ObjectAddressSet(table, RelationRelationId, relid);
		ObjectAddressSet(type, TypeRelationId, lfirst_oid(lc));
		recordDependencyOn(&table, &type, DEPENDENCY_NORMAL);
	}
	PG_RETURN_INT32(count);
}
