/*-------------------------------------------------------------------------
 *
 * import_write.c
 *	  The rows of funnel.import_history()'s sorted source, taken one by one
 *	  into each deal's visits (or reported with the reason they were not
 *	  taken), and written: the closed visits into the history through
 *	  track_history.c's writer, and for a tracked table the deals at their
 *	  last stage by one INSERT, whose tracking trigger opens the last visit.
 *
 * src/import/import_write.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "import.h"

/* The pipeline of the target, looked up again (never kept across calls) */
FunnelPipeline *
ImportPipeline(ImportState *st)
{
	FunnelPipeline *p = FunnelLookupPipeline(st->pipeline);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline of the import target no longer exists")));
	return p;
}

/* A report row: a row of the source not taken as a move, and why */
static void
Report(ImportState *st, Datum row, bool key_null, Datum key,
	   const char *stage, bool at_null, TimestampTz at,
	   const char *action, const char *detail)
{
	Datum		values[IMPORT_REPORT_COLS];
	bool		nulls[IMPORT_REPORT_COLS] = {false, false, false, false, false, false};

	values[0] = row;
	if (key_null)
		nulls[1] = true;
	else
		values[1] = CStringGetTextDatum(OidOutputFunctionCall(st->key_output, key));
	if (stage == NULL)
		nulls[2] = true;
	else
		values[2] = CStringGetTextDatum(stage);
	if (at_null)
		nulls[3] = true;
	else
		values[3] = TimestampTzGetDatum(at);
	values[4] = CStringGetTextDatum(action);
	values[5] = CStringGetTextDatum(detail);
	tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc,
						 values, nulls);
	st->reported++;
}

/*
 * Resolve a stage given as text in the target's pipeline: 'pipeline:stage'
 * or a bare name (in the pipeline argument, else the target's).  Returns 0
 * and sets *reason when it names no stage of the target's pipeline.
 */
static DealStage
ResolveText(ImportState *st, const char *text, const char **reason)
{
	FunnelPipeline *target = ImportPipeline(st);
	FunnelPipeline *p = NULL;
	FunnelStage *stage = NULL;
	const char *sep = strchr(text, FUNNEL_SEPARATOR);

	if (sep != NULL)
	{
		char	   *name = pnstrdup(text, sep - text);

		p = FunnelLookupPipelineByName(name);
		if (p != NULL)
			stage = FunnelLookupStageByName(p, sep + 1);
	}
	if (stage == NULL)
	{
		/* a bare name (stage names may contain the separator too) */
		p = FunnelLookupPipeline(st->bare_pipeline);
		if (p == NULL)
			p = target;
		stage = FunnelLookupStageByName(p, text);
	}
	if (stage == NULL)
	{
		*reason = psprintf("\"%s\" is no stage of pipeline \"%s\"",
						   text, NameStr(p->name));
		return 0;
	}
	if (p->typoid != target->typoid)
	{
		*reason = psprintf("stage \"%s\" belongs to pipeline \"%s\", the target's pipeline is \"%s\"",
						   NameStr(stage->name), NameStr(p->name),
						   NameStr(target->name));
		return 0;
	}
	if (!stage->usable)
	{
		*reason = psprintf("stage \"%s\" was added by this uncommitted transaction",
						   NameStr(stage->name));
		return 0;
	}
	return MakeDealStage(target->typoid, stage->label);
}

/* The same for a funnel.deal_stage value */
static DealStage
ResolveValue(ImportState *st, DealStage s, const char **reason)
{
	FunnelPipeline *target = ImportPipeline(st);
	FunnelStage *stage = FunnelLookupStageByLabel(DealStageLabelOid(s));

	if (stage == NULL)
	{
		*reason = "the value names a stage that no longer exists";
		return 0;
	}
	if (DealStageIsUnresolved(s))
		return ResolveText(st, NameStr(stage->name), reason);
	if (DealStagePipelineOid(s) != target->typoid)
	{
		*reason = psprintf("stage \"%s\" belongs to pipeline \"%s\", the target's pipeline is \"%s\"",
						   NameStr(stage->name), NameStr(stage->pipeline->name),
						   NameStr(target->name));
		return 0;
	}
	if (!stage->usable)
	{
		*reason = psprintf("stage \"%s\" was added by this uncommitted transaction",
						   NameStr(stage->name));
		return 0;
	}
	return s;
}

/* Write the visits of the current deal: all closed but the last */
static void
FlushDeal(ImportState *st)
{
	int			i;
	MemoryContext old;

	if (!st->in_deal)
		return;
	/* the writer makes its slots on first use: they must outlive a batch */
	old = MemoryContextSwitchTo(st->writer_context);
	for (i = 0; i + 1 < st->nvisits; i++)
		HistoryAddClosedVisit(st->writer, st->key, st->visits[i].stage,
							  st->visits[i].at, true, st->visits[i + 1].at);
	if (st->nvisits > 0)
	{
		ImportVisit *last = &st->visits[st->nvisits - 1];

		if (st->tracked)
		{
			/* the deals INSERT opens it, through the tracking trigger */
			st->keys = accumArrayResult(st->keys, st->key, false,
										st->table->pk_type, st->deals_context);
			st->stages = accumArrayResult(st->stages, DealStageGetDatum(last->stage),
										  false, st->table->stage_type,
										  st->deals_context);
			st->times = accumArrayResult(st->times, TimestampTzGetDatum(last->at),
										 false, TIMESTAMPTZOID, st->deals_context);
			if (st->has_amount)
				st->amounts = accumArrayResult(st->amounts, st->amount,
											   !st->amount_given, NUMERICOID,
											   st->deals_context);
		}
		else
			HistoryAddClosedVisit(st->writer, st->key, last->stage, last->at,
								  false, 0);
	}
	MemoryContextSwitchTo(old);
	st->in_deal = false;
	st->nvisits = 0;
	st->amount_given = false;
	MemoryContextReset(st->deal_context);
}

/* Take one row of the source, sorted by deal (and time) */
static void
ImportRow(ImportState *st, HeapTuple tuple, TupleDesc desc)
{
	bool		key_null,
				stage_null,
				at_null,
				isnull;
	Datum		key = SPI_getbinval(tuple, desc, SRC_KEY + 1, &key_null);
	Datum		sd = SPI_getbinval(tuple, desc, SRC_STAGE + 1, &stage_null);
	Datum		atd = SPI_getbinval(tuple, desc, SRC_AT + 1, &at_null);
	Datum		row = SPI_getbinval(tuple, desc, SRC_ROW + 1, &isnull);
	TimestampTz at = at_null ? 0 : DatumGetTimestampTz(atd);
	const char *stage_text = NULL;
	const char *reason = NULL;
	DealStage	s = 0;
	FunnelPipeline *p;
	ImportVisit *cur;
	int			to;

	/* the stage's text, for the report */
	if (!stage_null)
	{
		if (st->stage_is_text)
			stage_text = TextDatumGetCString(sd);
		else
			stage_text = DealStageToText(DatumGetDealStage(sd));
	}

	if (key_null)
	{
		Report(st, row, true, 0, stage_text, at_null, at, "skipped_null",
			   "the deal key is null");
		return;
	}

	/* a new deal: write the previous one */
	if (st->in_deal &&
		!DatumGetBool(FunctionCall2Coll(&st->key_eq, st->key_collation,
										st->key, key)))
		FlushDeal(st);
	if (!st->in_deal)
	{
		MemoryContext old = MemoryContextSwitchTo(st->deal_context);

		st->key = datumCopy(key, st->key_byval, st->key_len);
		MemoryContextSwitchTo(old);
		st->in_deal = true;
	}

	if (st->has_amount)
	{
		bool		amount_null;
		Datum		amount = SPI_getbinval(tuple, desc, SRC_AMOUNT + 1, &amount_null);

		/* the last amount given wins, whatever happens to the row's stage */
		if (!amount_null)
		{
			MemoryContext old = MemoryContextSwitchTo(st->deal_context);

			st->amount = datumCopy(amount, false, -1);
			st->amount_given = true;
			MemoryContextSwitchTo(old);
		}
	}

	if (stage_null)
	{
		Report(st, row, false, key, NULL, at_null, at, "skipped_null",
			   "the stage is null");
		return;
	}
	if (at_null)
	{
		Report(st, row, false, key, stage_text, true, 0, "skipped_null",
			   "the change time is null");
		return;
	}

	/* the stage, in the target's pipeline */
	if (st->stage_is_text)
	{
		if (!st->last_valid || strcmp(st->last_text.data, stage_text) != 0)
		{
			MemoryContext old;

			resetStringInfo(&st->last_text);
			appendStringInfoString(&st->last_text, stage_text);
			/* the reason, kept with the text past the rows' memory */
			MemoryContextReset(st->last_context);
			old = MemoryContextSwitchTo(st->last_context);
			st->last_stage = ResolveText(st, stage_text, &st->last_reason);
			MemoryContextSwitchTo(old);
			st->last_valid = true;
		}
		s = st->last_stage;
		reason = st->last_reason;
	}
	else
		s = ResolveValue(st, DatumGetDealStage(sd), &reason);
	if (s == 0)
	{
		Report(st, row, false, key, stage_text, false, at,
			   "skipped_unknown_stage", reason);
		return;
	}

	p = ImportPipeline(st);
	to = FunnelGetStage(s)->position - 1;
	cur = st->nvisits > 0 ? &st->visits[st->nvisits - 1] : NULL;
	if (cur != NULL)
	{
		FunnelStage *from = FunnelGetStage(cur->stage);

		if (cur->stage == s && cur->at == at)
		{
			Report(st, row, false, key, stage_text, false, at,
				   "skipped_duplicate",
				   "the same stage at the same time as the move before");
			return;
		}
		if (at < cur->at)
		{
			Report(st, row, false, key, stage_text, false, at,
				   "skipped_time_backwards",
				   psprintf("earlier than the move before, to \"%s\" at %s",
							NameStr(from->name),
							timestamptz_to_str(cur->at)));
			return;
		}
		if (cur->stage == s)
		{
			Report(st, row, false, key, stage_text, false, at,
				   "skipped_repeat",
				   psprintf("the deal is in \"%s\" since %s",
							NameStr(from->name),
							timestamptz_to_str(cur->at)));
			return;
		}
		if (st->apply_rules &&
			!TrackMoveAllowed(st->table, p, from->position - 1, to))
		{
			bool		closed = from->kind != STAGE_OPEN;

			Report(st, row, false, key, stage_text, false, at,
				   closed ? "skipped_after_close" : "refused_by_rule",
				   closed ?
				   psprintf("the deal closed in \"%s\" at %s; leaving it needs funnel.allow_transition('%s', '%s', '%s')",
							NameStr(from->name), timestamptz_to_str(cur->at),
							NameStr(p->name), NameStr(from->name),
							NameStr(p->stages[to].name)) :
				   psprintf("rule does not allow the move from \"%s\" to \"%s\"",
							NameStr(from->name), NameStr(p->stages[to].name)));
			return;
		}
	}
	else if (st->apply_rules && p->stages[to].retired)
	{
		Report(st, row, false, key, stage_text, false, at, "refused_by_rule",
			   psprintf("stage \"%s\" is retired", NameStr(p->stages[to].name)));
		return;
	}

	/* taken: a move */
	if (st->nvisits == st->maxvisits)
	{
		st->maxvisits *= 2;
		st->visits = repalloc(st->visits, st->maxvisits * sizeof(ImportVisit));
	}
	st->visits[st->nvisits].stage = s;
	st->visits[st->nvisits].at = at;
	st->nvisits++;
	st->taken++;
}

/* The name of a column of a relation */
static const char *
ColumnName(Relation rel, AttrNumber attnum)
{
	return NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
}

/*
 * Read the sorted source, write the visits, and for a tracked table insert
 * the deals; the history's indexes are rebuilt by the caller
 */
static void
ImportWrite(ImportState *st, Portal portal, Relation deals,
			const char *amount_column, MemoryContext import_context)
{
	st->writer_context = CurrentMemoryContext;
	st->writer = HistoryBegin(st->table, true);
	for (;;)
	{
		MemoryContext rows_context;
		MemoryContext old;
		uint64		i;

		SPI_cursor_fetch(portal, true, IMPORT_FETCH_SIZE);
		if (SPI_processed == 0)
			break;
		rows_context = AllocSetContextCreate(import_context, "funnel import rows",
											 ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(rows_context);
		for (i = 0; i < SPI_processed; i++)
		{
			ImportRow(st, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
			CHECK_FOR_INTERRUPTS();
		}
		MemoryContextSwitchTo(old);
		/* the current deal's key lives in deal_context, not here */
		MemoryContextDelete(rows_context);
		SPI_freetuptable(SPI_tuptable);
	}
	FlushDeal(st);
	HistoryEnd(st->writer);
	SPI_cursor_close(portal);

	/*
	 * Tracked: insert the deals at their last stage and time; the tracking
	 * trigger checks them (retired stages, required fields) and opens their
	 * last visit, the one the import has not written
	 */
	if (st->tracked && st->keys != NULL)
	{
		Oid			argtypes[4];
		Datum		args[4];
		int			nargs = 3;
		StringInfoData ins;

		argtypes[0] = get_array_type(st->table->pk_type);
		argtypes[1] = get_array_type(st->table->stage_type);
		argtypes[2] = TIMESTAMPTZARRAYOID;
		args[0] = makeArrayResult(st->keys, CurrentMemoryContext);
		args[1] = makeArrayResult(st->stages, CurrentMemoryContext);
		args[2] = makeArrayResult(st->times, CurrentMemoryContext);
		initStringInfo(&ins);
		appendStringInfo(&ins, "INSERT INTO %s (%s, %s, %s",
						 QuotedRelName(st->target),
						 quote_identifier(ColumnName(deals, st->table->pk_attnum)),
						 quote_identifier(ColumnName(deals, st->table->stage_attnum)),
						 quote_identifier(ColumnName(deals, st->table->changed_at_attnum)));
		if (st->has_amount)
		{
			argtypes[3] = NUMERICARRAYOID;
			args[3] = makeArrayResult(st->amounts, CurrentMemoryContext);
			nargs = 4;
			appendStringInfo(&ins, ", %s", quote_identifier(amount_column));
		}
		appendStringInfo(&ins, ") SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)%s)",
						 st->has_amount ? ", pg_catalog.unnest($4)" : "");
		if (SPI_execute_with_args(ins.data, nargs, argtypes, args, NULL,
								  false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not insert the imported deals");
	}
}

/* ImportWrite() with the history's writers told to write no index entry */
void
ImportBulk(ImportState *st, Portal portal, Relation deals,
		   const char *amount_column, MemoryContext import_context)
{
	HistoryBulkLoad(st->table->history_relid);
	PG_TRY();
	{
		ImportWrite(st, portal, deals, amount_column, import_context);
	}
	PG_FINALLY();
	{
		HistoryBulkLoad(InvalidOid);
	}
	PG_END_TRY();
}
