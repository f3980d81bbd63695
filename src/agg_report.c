/*-------------------------------------------------------------------------
 *
 * agg_report.c
 *	  funnel.report(summary): the funnel report of a funnel.funnel_summary,
 *	  one row per stage of the pipeline in funnel order.
 *
 * Open stages count the deals that reached them (implied passage: a deal
 * whose reached stage is a later open stage, or a won stage, passed this
 * one), their amount, conversions and drop-off; won and lost stages count
 * the deals that ended there.  A summary with outcomes (built from
 * journeys, or from current stages with lost_at) also splits the deals
 * that reached each open stage into won, lost and open, and gives the
 * deals lost from the stage, the deals in it now and the stage's win rate
 * (its learned probability).  The last column draws each row's deals as a
 * text bar for psql.  See doc/metrics.md for every column.
 *
 * src/agg_report.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"

#include "funnel_summary.h"

/* report() columns */
enum
{
	COL_STAGE,
	COL_DEALS,
	COL_AMOUNT,
	COL_CONV_PREVIOUS,
	COL_CONV_FIRST,
	COL_DROP_OFF,
	COL_WON,
	COL_LOST,
	COL_OPEN,
	COL_LOST_HERE,
	COL_OPEN_HERE,
	COL_WIN_RATE,
	COL_BAR,
	REPORT_COLUMNS
};

/* A ratio, NULL when the base is zero */
static inline void
SetRatio(Datum *value, bool *isnull, int64 num, int64 den)
{
	if (den <= 0)
		*isnull = true;
	else
	{
		*value = AggRatio(num, den);
		*isnull = false;
	}
}

/* A count column */
static inline void
SetCount(Datum *value, bool *isnull, int64 n)
{
	*value = Int64GetDatum(n);
	*isnull = false;
}

/* the bar of the widest row: this many characters */
#define BAR_WIDTH	30

/* bar_eighths[k]: a block k eighths of a character wide, U+258F to U+2588 */
static const char *const bar_eighths[9] = {
	"", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d", "\xe2\x96\x8c",
	"\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89", "\xe2\x96\x88"
};

/*
 * The bar of a row with n deals when the widest row has max: n / max of
 * BAR_WIDTH characters, rounded to the nearest eighth of one (at least one
 * eighth when n > 0), in Unicode block characters when both the database
 * and the client encoding are UTF-8; else '#' per whole character (rounded,
 * at least one), which every encoding can carry.
 */
static text *
ReportBar(int64 n, int64 max, bool unicode)
{
	StringInfoData buf;
	int			steps = unicode ? BAR_WIDTH * 8 : BAR_WIDTH;
	int64		units;
	int64		i;

	initStringInfo(&buf);
	if (n > 0 && max > 0)
	{
		/* round(n * steps / max), in 128 bits: n * steps can pass int64 */
		units = (int64) (((int128) n * steps * 2 + max) / ((int128) max * 2));
		units = Max(units, 1);
		if (unicode)
		{
			for (i = 0; i < units / 8; i++)
				appendStringInfoString(&buf, bar_eighths[8]);
			appendStringInfoString(&buf, bar_eighths[units % 8]);
		}
		else
			for (i = 0; i < units; i++)
				appendStringInfoChar(&buf, '#');
	}
	return cstring_to_text_with_len(buf.data, buf.len);
}

/*
 * Whether bars may use block characters: the database is UTF-8 and so is the
 * client.  The client_encoding setting is read rather than the connection's
 * encoding, which a parallel worker sets to the database's: a worker draws
 * the leader's bars.
 */
static bool
ReportBarUnicode(void)
{
	const char *client = GetConfigOption("client_encoding", true, false);

	return GetDatabaseEncoding() == PG_UTF8 && client != NULL &&
		pg_char_to_encoding(client) == PG_UTF8;
}

/* Per stage of the pipeline (current order): the summary's counters */
typedef struct StageCounts
{
	int64		deals;			/* reached stage is this one */
	int64		amount_count;
	int128		amount;
	int64		open;
	int64		lost_here;
	int64		current;
	int64		current_amount_count;
	int128		current_amount;
} StageCounts;

/* Per open stage: deals that reached it (this open stage or later, or won) */
typedef struct Reached
{
	int64		deals;
	int64		amount_count;
	int128		amount;
	int64		open;			/* of those, open now */
	int64		lost;			/* of those, lost now */
} Reached;

PG_FUNCTION_INFO_V1(funnel_report);
Datum
funnel_report(PG_FUNCTION_ARGS)
{
	FunnelSummary *s = PG_GETARG_SUMMARY(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FunnelPipeline *pipeline;
	bool		outcomes;
	int			nstages;
	int			nopen;
	StageCounts *c;
	Reached    *reached;
	int			prev_open = -1;
	int64		max_deals = 0;
	bool		unicode = ReportBarUnicode();
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	pipeline = SummaryPipelineOrError(s);
	FunnelCheckConfigured(pipeline);
	outcomes = (s->flags & SUMMARY_OUTCOMES) != 0;
	/* a summary read before its pipeline's kinds were (during a restore) */
	if (outcomes)
		SummaryCheckOutcomes(pipeline, s, ERRCODE_INVALID_PARAMETER_VALUE);
	nstages = pipeline->nstages;
	nopen = pipeline->nopen;
	c = palloc0(Max(nstages, 1) * sizeof(StageCounts));
	reached = palloc0((nopen + 1) * sizeof(Reached));

	/* the summary's counters, by the pipeline's current stage order */
	for (i = 0; i < nstages; i++)
	{
		FunnelStage *stage = &pipeline->stages[i];
		int			j = SummaryFindEntry(s, stage->label, i);
		const SummaryEntry *e;

		if (j < 0)
			continue;
		e = &s->entries[j];
		c[i].deals = e->deals;
		c[i].amount_count = e->amount_count;
		c[i].amount = e->amount;
		c[i].open = e->open;
		c[i].lost_here = e->lost_here;
		c[i].current = e->current;
		c[i].current_amount_count = e->current_amount_count;
		c[i].current_amount = e->current_amount;
		if (stage->kind == STAGE_WON)
		{
			/* reached[nopen]: the won deals, which passed every open stage */
			AggCountAdd(&reached[nopen].deals, e->deals);
			AggCountAdd(&reached[nopen].amount_count, e->amount_count);
			reached[nopen].amount = DecAdd(reached[nopen].amount, e->amount);
		}
	}

	/* reached[i]: reached stage is open stage i or later, or won */
	for (i = nopen - 1; i >= 0; i--)
	{
		reached[i] = reached[i + 1];
		AggCountAdd(&reached[i].deals, c[i].deals);
		AggCountAdd(&reached[i].amount_count, c[i].amount_count);
		reached[i].amount = DecAdd(reached[i].amount, c[i].amount);
		AggCountAdd(&reached[i].open, c[i].open);
		AggCountAdd(&reached[i].lost, c[i].deals - c[i].open);
	}

	/* the widest bar: the largest row, normally the first open stage */
	for (i = 0; i < nstages; i++)
	{
		int64		n;

		if (!pipeline->stages[i].usable)
			continue;
		if (i < nopen)
			n = reached[i].deals;
		else
			n = outcomes ? c[i].current : c[i].deals;
		max_deals = Max(max_deals, n);
	}

	for (i = 0; i < nstages; i++)
	{
		FunnelStage *stage = &pipeline->stages[i];
		Datum		values[REPORT_COLUMNS];
		bool		nulls[REPORT_COLUMNS];
		int64		n;
		int64		namount;
		int128		amount;

		/*
		 * A stage added by this uncommitted transaction has no deals (no
		 * value of it can exist) and must not escape as a value: if the
		 * transaction rolls back, an index could keep it with no sort
		 * position.  Report the pipeline as other sessions see it.
		 */
		if (!stage->usable)
			continue;
		memset(nulls, true, sizeof(nulls));
		values[COL_STAGE] = DealStageGetDatum(MakeDealStage(pipeline->typoid, stage->label));
		nulls[COL_STAGE] = false;
		if (i < nopen)
		{
			const Reached *r = &reached[i];
			int64		closed;

			n = r->deals;
			namount = r->amount_count;
			amount = r->amount;
			if (prev_open >= 0)
				SetRatio(&values[COL_CONV_PREVIOUS], &nulls[COL_CONV_PREVIOUS],
						 n, reached[prev_open].deals);
			prev_open = i;
			SetRatio(&values[COL_CONV_FIRST], &nulls[COL_CONV_FIRST], n, reached[0].deals);
			/* every won deal passed every open stage */
			SetCount(&values[COL_WON], &nulls[COL_WON], reached[nopen].deals);
			if (outcomes)
			{
				int64		drop_off = c[i].lost_here;

				AggCountAdd(&drop_off, c[i].current);
				SetCount(&values[COL_DROP_OFF], &nulls[COL_DROP_OFF], drop_off);
				SetCount(&values[COL_LOST], &nulls[COL_LOST], r->lost);
				SetCount(&values[COL_OPEN], &nulls[COL_OPEN], r->open);
				SetCount(&values[COL_LOST_HERE], &nulls[COL_LOST_HERE], c[i].lost_here);
				SetCount(&values[COL_OPEN_HERE], &nulls[COL_OPEN_HERE], c[i].current);
				closed = reached[nopen].deals;
				AggCountAdd(&closed, r->lost);
				SetRatio(&values[COL_WIN_RATE], &nulls[COL_WIN_RATE],
						 reached[nopen].deals, closed);
			}
			else
				SetCount(&values[COL_DROP_OFF], &nulls[COL_DROP_OFF],
						 n - reached[i + 1].deals);
		}
		else
		{
			/* won and lost stages: the deals that ended there */
			if (outcomes)
			{
				n = c[i].current;
				namount = c[i].current_amount_count;
				amount = c[i].current_amount;
			}
			else
			{
				n = c[i].deals;
				namount = c[i].amount_count;
				amount = c[i].amount;
			}
			if (stage->kind == STAGE_WON && prev_open >= 0)
			{
				SetRatio(&values[COL_CONV_PREVIOUS], &nulls[COL_CONV_PREVIOUS],
						 n, reached[prev_open].deals);
				SetRatio(&values[COL_CONV_FIRST], &nulls[COL_CONV_FIRST], n, reached[0].deals);
			}
			SetCount(&values[COL_WON], &nulls[COL_WON], stage->kind == STAGE_WON ? n : 0);
			SetCount(&values[COL_LOST], &nulls[COL_LOST], stage->kind == STAGE_LOST ? n : 0);
			SetCount(&values[COL_OPEN], &nulls[COL_OPEN], 0);
			SetRatio(&values[COL_WIN_RATE], &nulls[COL_WIN_RATE],
					 stage->kind == STAGE_WON ? n : 0, n);
		}
		SetCount(&values[COL_DEALS], &nulls[COL_DEALS], n);
		values[COL_BAR] = PointerGetDatum(ReportBar(n, max_deals, unicode));
		nulls[COL_BAR] = false;
		if (namount > 0)
		{
			values[COL_AMOUNT] = DecToNumeric(amount, s->scale);
			nulls[COL_AMOUNT] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
