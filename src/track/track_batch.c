/*-------------------------------------------------------------------------
 *
 * track_batch.c
 *	  The loop of funnel.move_deals(): each move of a batch in its own
 *	  subtransaction, so that a refused move rolls back alone, with plans
 *	  prepared once per statement rather than once per move.
 *
 * funnel.move_deals() (sql/install/track/track_batch.sql) checks the batch, builds
 * the UPDATE of each move (one per set of columns) and turns the outcome
 * into statuses and reasons; this file only runs the statements.  It runs
 * them as the caller, with the caller's privileges and row-level security,
 * as PL/pgSQL's EXECUTE would: it adds no privilege.
 *
 * src/track/track_batch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"

#include "funnel.h"

/* A statement of the batch and its plan */
typedef struct BatchStatement
{
	char	   *sql;
	SPIPlanPtr	plan;
} BatchStatement;

/* Free the plans of a batch (none of them is in use) */
static void
FreePlans(List *statements)
{
	ListCell   *lc;

	foreach(lc, statements)
		SPI_freeplan(((BatchStatement *) lfirst(lc))->plan);
}

/*
 * funnel_internal.try_moves(statements text[], moves jsonb[])
 * returns setof (found boolean, old_stage deal_stage, new_stage deal_stage,
 *                sqlstate text, constraint_name text, message text,
 *                detail text)
 *
 * For each i, in order, runs statements[i] with $1 = moves[i] in a
 * subtransaction.  A statement returns no row (the deal is not found) or
 * one row (its stage before and after, of type funnel.deal_stage; any
 * other result is an error that aborts the batch).  An error of class 22 (data
 * exception) or 23 (integrity constraint violation) rolls the
 * subtransaction back and is returned; any other error aborts the batch.
 */
PG_FUNCTION_INFO_V1(funnel_try_moves);
Datum
funnel_try_moves(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *sql_array;
	ArrayType  *move_array;
	Datum	   *sqls;
	Datum	   *moves;
	bool	   *sql_nulls;
	bool	   *move_nulls;
	int			nsqls;
	int			nmoves;
	List	   *volatile statements = NIL;
	MemoryContext callcontext;
	ResourceOwner callowner;
	Oid			argtypes[1] = {JSONBOID};
	Oid			stage_type;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statements and moves must not be null")));
	sql_array = PG_GETARG_ARRAYTYPE_P(0);
	move_array = PG_GETARG_ARRAYTYPE_P(1);
	deconstruct_array(sql_array, TEXTOID, -1, false, TYPALIGN_INT,
					  &sqls, &sql_nulls, &nsqls);
	deconstruct_array(move_array, JSONBOID, -1, false, TYPALIGN_INT,
					  &moves, &move_nulls, &nmoves);
	if (nsqls != nmoves)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%d statements for %d moves", nsqls, nmoves)));

	InitMaterializedSRF(fcinfo, 0);
	stage_type = TupleDescAttr(rsinfo->setDesc, 1)->atttypid;
	SPI_connect();
	callcontext = CurrentMemoryContext;
	callowner = CurrentResourceOwner;

	for (i = 0; i < nmoves; i++)
	{
		char	   *sql;
		BatchStatement *volatile st = NULL;
		ListCell   *lc;
		Datum		values[7];
		bool		nulls[7] = {false, true, true, true, true, true, true};
		Datum		arg[1];

		CHECK_FOR_INTERRUPTS();
		if (sql_nulls[i] || move_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("statement or move %d is null", i + 1)));
		sql = TextDatumGetCString(sqls[i]);
		foreach(lc, statements)
			if (strcmp(((BatchStatement *) lfirst(lc))->sql, sql) == 0)
				st = (BatchStatement *) lfirst(lc);
		if (st == NULL)
		{
			/* prepared outside any subtransaction: an error here is a bug */
			st = palloc(sizeof(BatchStatement));
			st->sql = sql;
			st->plan = SPI_prepare(sql, 1, argtypes);
			if (st->plan == NULL)
				elog(ERROR, "could not prepare a move: %s",
					 SPI_result_code_string(SPI_result));
			if (SPI_keepplan(st->plan) != 0)
				elog(ERROR, "could not keep the plan of a move");
			statements = lappend(statements, st);
		}
		arg[0] = moves[i];

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(callcontext);
		PG_TRY();
		{
			int			ret = SPI_execute_plan(st->plan, arg, NULL, false, 2);

			/* (not class 22 or 23, which would be returned as a refusal) */
			if (ret != SPI_OK_UPDATE_RETURNING ||
				SPI_tuptable->tupdesc->natts != 2 ||
				SPI_gettypeid(SPI_tuptable->tupdesc, 1) != stage_type ||
				SPI_gettypeid(SPI_tuptable->tupdesc, 2) != stage_type)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("statement %d is not an UPDATE returning a deal's stage before and after",
								i + 1)));
			if (SPI_processed > 1)
				ereport(ERROR,
						(errcode(ERRCODE_CARDINALITY_VIOLATION),
						 errmsg("statement %d updated " UINT64_FORMAT " deals", i + 1,
								SPI_processed),
						 errdetail("Each move updates one deal.")));
			values[0] = BoolGetDatum(SPI_processed == 1);
			if (SPI_processed == 1)
			{
				HeapTuple	tuple = SPI_tuptable->vals[0];
				TupleDesc	desc = SPI_tuptable->tupdesc;
				int			k;

				for (k = 0; k < 2; k++)
				{
					Form_pg_attribute att = TupleDescAttr(desc, k);
					Datum		d = SPI_getbinval(tuple, desc, k + 1, &nulls[1 + k]);

					values[1 + k] = nulls[1 + k] ? (Datum) 0 :
						datumCopy(d, att->attbyval, att->attlen);
				}
			}
			SPI_freetuptable(SPI_tuptable);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(callcontext);
			CurrentResourceOwner = callowner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;
			int			category;

			MemoryContextSwitchTo(callcontext);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(callcontext);
			CurrentResourceOwner = callowner;

			category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
			if (category != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION &&
				category != ERRCODE_DATA_EXCEPTION)
			{
				FreePlans(statements);
				ReThrowError(edata);
			}
			values[0] = BoolGetDatum(true);
			nulls[1] = nulls[2] = true;
			values[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
			nulls[3] = false;
			if (edata->constraint_name)
			{
				values[4] = CStringGetTextDatum(edata->constraint_name);
				nulls[4] = false;
			}
			if (edata->message)
			{
				values[5] = CStringGetTextDatum(edata->message);
				nulls[5] = false;
			}
			if (edata->detail)
			{
				values[6] = CStringGetTextDatum(edata->detail);
				nulls[6] = false;
			}
			FreeErrorData(edata);
		}
		PG_END_TRY();

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	FreePlans(statements);
	SPI_finish();
	PG_RETURN_NULL();
}
