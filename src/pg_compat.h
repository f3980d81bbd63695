/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *	  Every difference between the PostgreSQL major versions funnel builds
 *	  on (15 to 18), and every use of a PostgreSQL header or symbol that is
 *	  not a stable extension API, in one place.
 *
 * Rule: no other file tests PG_VERSION_NUM or includes an *_internal.h
 * header.  Each entry below says what changed, in which major, and which
 * funnel code depends on it, so that supporting a new major is one audited
 * file (this one and pg_compat.c).  Functions that need internal headers
 * live in pg_compat.c, so those headers reach no other file.
 *
 * src/pg_compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_PG_COMPAT_H
#define FUNNEL_PG_COMPAT_H

#include "access/genam.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "utils/relcache.h"

/*
 * PG 16 moved the varlena macros (VARDATA_ANY, ...) out of postgres.h into
 * varatt.h.  Used by the aggregates (agg.h).
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * PG 18 spells the no-return attribute pg_noreturn, placed before the
 * declaration; before 18 it was pg_attribute_noreturn() after it.  Used by
 * DealStageReportAmbiguous (funnel.h).
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * PG 16 replaced pg_class_ownercheck() by object_ownercheck().  Used by
 * track_api.c and import.c to require the owner of a deals table.
 */
#if PG_VERSION_NUM >= 160000
#define compat_relation_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define compat_relation_ownercheck(relid, roleid) \
	pg_class_ownercheck((relid), (roleid))
#endif

/*
 * PG 17 added the REINDEX statement (for event triggers; NULL: none) to
 * reindex_relation().  Used by import.c to build a history's indexes after
 * a bulk load.
 */
#if PG_VERSION_NUM >= 170000
#define compat_reindex_relation(relid, flags, params) \
	reindex_relation(NULL, (relid), (flags), (params))
#else
#define compat_reindex_relation(relid, flags, params) \
	reindex_relation((relid), (flags), (params))
#endif

/*
 * PG 16 added an escontext argument to stringToQualifiedNameList() (NULL:
 * raise errors).  Used by track_citus.c to read a table name from a
 * trigger argument, and by import.c to read a source relation's name.
 */
#if PG_VERSION_NUM >= 160000
#define compat_stringToQualifiedNameList(str) \
	stringToQualifiedNameList((str), NULL)
#else
#define compat_stringToQualifiedNameList(str) \
	stringToQualifiedNameList(str)
#endif

/*
 * PG 18 added deferrable_ok to RelationGetPrimaryKeyIndex(); false keeps
 * the meaning of earlier majors (a deferrable primary key does not identify
 * a row).  Used by track_cache.c and history_read.c.
 */
#if PG_VERSION_NUM >= 180000
#define compat_RelationGetPrimaryKeyIndex(rel) \
	RelationGetPrimaryKeyIndex((rel), false)
#else
#define compat_RelationGetPrimaryKeyIndex(rel) \
	RelationGetPrimaryKeyIndex(rel)
#endif

/*
 * PG 18 added an IndexScanInstrumentation argument to index_beginscan()
 * (NULL: none).  Used by track_history.c to find a deal's open visit.
 */
#if PG_VERSION_NUM >= 180000
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/*
 * PG 16 made the "update indexes" result of table_tuple_update() an enum
 * (TU_None, TU_All, TU_Summarizing) instead of a bool.  Used by
 * track_history.c when it closes a visit.
 */
#if PG_VERSION_NUM >= 160000
typedef TU_UpdateIndexes compat_update_indexes;
#define compat_update_needs_indexes(u)		((u) != TU_None)
#define compat_update_only_summarizing(u)	((u) == TU_Summarizing)
#else
typedef bool compat_update_indexes;
#define compat_update_needs_indexes(u)		(u)
#define compat_update_only_summarizing(u)	false
#endif

/* pg_compat.c */

/*
 * Set up the executor range table of a single-relation write done without
 * a plan (the history writer, like logical replication's worker.c): PG 16
 * moved the column sets into RTEPermissionInfo, PG 18 added the set of
 * unpruned relations to ExecInitRangeTable().
 */
extern void compat_InitSingleRangeTable(EState *estate, RangeTblEntry *rte,
										Bitmapset *inserted,
										Bitmapset *updated);

/*
 * ExecInsertIndexTuples(); PG 16 added onlySummarizing (index only the
 * summarizing indexes after a HOT update that changed one of their
 * columns).
 */
extern void compat_ExecInsertIndexTuples(ResultRelInfo *rri,
										 TupleTableSlot *slot,
										 EState *estate, bool update,
										 bool only_summarizing);

/*
 * Internal: is this error context callback the parser's errposition
 * callback (parse_node.c's static pcb_error_callback, found once at load
 * time)?  If so, *pstate and *location are those it reports.  Used by
 * unresolved.c to know that a type input call reads an SQL literal.
 */
extern void compat_FindParserCallback(void);
extern bool compat_IsParserCallback(ErrorContextCallback *cb,
									struct ParseState **pstate,
									int *location);

/*
 * Internal: is this error context callback COPY FROM's
 * (CopyFromErrorCallback)?  If so, *rel and *attname are the table and
 * the column being read (from CopyFromStateData, declared only in the
 * internal header commands/copyfrom_internal.h).  Used by unresolved.c.
 */
extern bool compat_IsCopyFromCallback(ErrorContextCallback *cb,
									  Relation *rel, const char **attname);

/*
 * Internal: the parameter-type array of a parse with variable parameters
 * (the extended protocol's Parse, PREPARE), or false if pstate parses with
 * other parameters.  parse_param.c keeps it in its private VarParamState
 * {Oid **paramTypes; int *numParams;}, the same in PG 15 to 18; the hooks
 * setup_parse_variable_parameters() installs are found once at load time.
 * Used by bare_names.c to read untyped stage parameters as text.
 */
extern void compat_FindVarParamHook(void);
extern bool compat_VariableParams(struct ParseState *pstate,
								  Oid ***paramTypes, int **numParams);

/*
 * Internal: a varlena compressed inline with a column's method (or the
 * default_toast_compression setting when cmethod is not a valid method),
 * as TOAST compresses a long value; (Datum) 0 when that does not make it
 * smaller.  toast_compress_datum() is declared only in the internal header
 * access/toast_internals.h.  Used by live_write.c for the summaries of a
 * delta row.
 */
extern Datum compat_compress_datum(Datum value, char cmethod);

#endif							/* FUNNEL_PG_COMPAT_H */
