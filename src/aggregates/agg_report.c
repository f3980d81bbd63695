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
 * (its learned probability).  The bar column draws each row's deals as a
 * text bar for psql.  The columns past it (added at the end, so positional
 * readers keep working) are what a BI tool needs to sort and label rows:
 * the stage's position and kind, the average amount of the row's deals and
 * the amount of the deals open in the stage now; then, with outcomes, the
 * deals that reached an open stage and moved to another pipeline (moved)
 * and those that left from this stage (moved_here): counted in no other
 * column, so conversions, drop-off and win rates are those of the deals
 * that stayed in the pipeline.  Rates are rounded to
 * REPORT_RATE_SCALE decimals and typed funnel.rate, a domain over
 * numeric(7,6): a domain keeps its type modifier in a function's result,
 * so drivers report precision 7 and scale 6 (a numeric(p,s) result column
 * loses it).  See doc/metrics.md for every column.
 *
 * src/aggregates/agg_report.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/numeric.h"
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
	COL_POSITION,
	COL_KIND,
	COL_AVERAGE_AMOUNT,
	COL_OPEN_AMOUNT,
	COL_MOVED,
	COL_MOVED_HERE,
	REPORT_COLUMNS
};

/* decimals of every rate: the scale of the funnel.rate domain */
#define REPORT_RATE_SCALE	6

/* decimals of an average amount at least (more when its total has more) */
#define REPORT_AVERAGE_SCALE	2

/*
 * A ratio rounded to REPORT_RATE_SCALE decimals, trailing zeros trimmed,
 * NULL when the base is zero
 */
static inline void
SetRatio(Datum *value, bool *isnull, int64 num, int64 den)
{
	if (den <= 0)
		*isnull = true;
	else
	{
		Datum		ratio = DirectFunctionCall2(numeric_round, AggRatio(num, den),
												Int32GetDatum(REPORT_RATE_SCALE));

		*value = DirectFunctionCall1(numeric_trim_scale, ratio);
		*isnull = false;
	}
}

/*
 * total / n (n > 0) as numeric, rounded to the decimals of the total
 * without its trailing zeros, at least REPORT_AVERAGE_SCALE.  Not to the
 * summary's scale: that is the largest scale of every amount added, and a
 * live summary (src/live/live.c) keeps the scale of amounts since removed,
 * so the same deals would round differently there and in a scan.
 */
static Datum
ReportAverage(int128 total, int scale, int64 n)
{
	Datum		avg;
	int128		t = total;
	int			decimals = scale;

	while (decimals > 0 && t % 10 == 0)
	{
		t /= 10;
		decimals--;
	}
	avg = DirectFunctionCall2(numeric_div, DecToNumeric(total, scale),
							  DirectFunctionCall1(int8_numeric, Int64GetDatum(n)));
	return DirectFunctionCall2(numeric_round, avg,
							   Int32GetDatum(Max(decimals, REPORT_AVERAGE_SCALE)));
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

/*
 * One call of report(): the summary's counters by the pipeline's current
 * stage order, the deals that reached each open stage, and the bar scale.
 */
typedef struct Report
{
	FunnelPipeline *pipeline;
	int			scale;			/* of every amount */
	bool		outcomes;		/* the summary has SUMMARY_OUTCOMES */
	const SummaryEntry **by_stage;	/* [i]: counters of stages[i] */
	StageReached *reached;		/* [i]: open stage i; [nopen]: won */
	int64		max_deals;		/* deals of the widest row */
	bool		unicode;		/* bars in block characters */
} Report;

/* A count of the report: a reached total past a bigint is the 22003 error */
static inline int64
ReportCount(int128 n)
{
	if (unlikely(n > PG_INT64_MAX))
		AggReportCountOverflow();
	return (int64) n;
}

/* Step 1: the deals that reached each open stage, each total a bigint */
static void
ReportReached(Report *rep)
{
	int			i;

	rep->reached = SummaryReached(rep->pipeline, rep->by_stage, true);
	for (i = 0; i <= rep->pipeline->nopen; i++)
	{
		StageReached *r = &rep->reached[i];

		r->deals = ReportCount(r->deals);
		r->amount_count = ReportCount(r->amount_count);
		r->open = ReportCount(r->open);
		r->lost = ReportCount(r->lost);
		r->moved = ReportCount(r->moved);
	}
}

/*
 * The deals of the row of stages[i]: for an open stage the deals that
 * reached it; for a won or lost stage the deals that ended there (with
 * outcomes: the deals there now), and their amounts.
 */
static int64
ReportRowDeals(const Report *rep, int i, int64 *namount, int128 *amount)
{
	const SummaryEntry *e = rep->by_stage[i];

	if (i < rep->pipeline->nopen)
	{
		const StageReached *r = &rep->reached[i];

		*namount = (int64) r->amount_count;
		*amount = r->amount;
		return (int64) r->deals;
	}
	if (rep->outcomes)
	{
		*namount = e->current_amount_count;
		*amount = e->current_amount;
		return e->current;
	}
	*namount = e->amount_count;
	*amount = e->amount;
	return e->deals;
}

/* Step 2: the widest bar, the largest row (normally the first open stage) */
static void
ReportMaxDeals(Report *rep)
{
	int			i;

	rep->max_deals = 0;
	for (i = 0; i < rep->pipeline->nstages; i++)
	{
		int64		namount;
		int128		amount;

		if (rep->pipeline->stages[i].usable)
			rep->max_deals = Max(rep->max_deals,
								 ReportRowDeals(rep, i, &namount, &amount));
	}
}

/*
 * Step 3a: the columns of an open stage's row past deals and amount.
 * prev_open is the previous open stage shown, or -1.
 */
static void
ReportOpenRow(const Report *rep, int i, int prev_open, Datum *values, bool *nulls)
{
	const StageReached *reached = rep->reached;
	const StageReached *r = &reached[i];
	const SummaryEntry *e = rep->by_stage[i];
	int64		won = (int64) reached[rep->pipeline->nopen].deals;

	if (prev_open >= 0)
		SetRatio(&values[COL_CONV_PREVIOUS], &nulls[COL_CONV_PREVIOUS],
				 (int64) r->deals, (int64) reached[prev_open].deals);
	SetRatio(&values[COL_CONV_FIRST], &nulls[COL_CONV_FIRST],
			 (int64) r->deals, (int64) reached[0].deals);
	/* every won deal passed every open stage */
	SetCount(&values[COL_WON], &nulls[COL_WON], won);
	if (rep->outcomes)
	{
		int64		drop_off = e->lost_here;
		int64		closed = won;

		AggCountAdd(&drop_off, e->current);
		SetCount(&values[COL_DROP_OFF], &nulls[COL_DROP_OFF], drop_off);
		SetCount(&values[COL_LOST], &nulls[COL_LOST], (int64) r->lost);
		SetCount(&values[COL_OPEN], &nulls[COL_OPEN], (int64) r->open);
		SetCount(&values[COL_LOST_HERE], &nulls[COL_LOST_HERE], e->lost_here);
		SetCount(&values[COL_OPEN_HERE], &nulls[COL_OPEN_HERE], e->current);
		SetCount(&values[COL_MOVED], &nulls[COL_MOVED], (int64) r->moved);
		SetCount(&values[COL_MOVED_HERE], &nulls[COL_MOVED_HERE], e->moved_here);
		AggCountAdd(&closed, (int64) r->lost);
		SetRatio(&values[COL_WIN_RATE], &nulls[COL_WIN_RATE], won, closed);
	}
	else
		SetCount(&values[COL_DROP_OFF], &nulls[COL_DROP_OFF],
				 (int64) (r->deals - reached[i + 1].deals));
}

/* Step 3b: the columns of a won or lost stage's row past deals and amount */
static void
ReportClosedRow(const Report *rep, int i, int prev_open, int64 n,
				Datum *values, bool *nulls)
{
	StageKind	kind = rep->pipeline->stages[i].kind;

	if (kind == STAGE_WON && prev_open >= 0)
	{
		SetRatio(&values[COL_CONV_PREVIOUS], &nulls[COL_CONV_PREVIOUS],
				 n, (int64) rep->reached[prev_open].deals);
		SetRatio(&values[COL_CONV_FIRST], &nulls[COL_CONV_FIRST],
				 n, (int64) rep->reached[0].deals);
	}
	SetCount(&values[COL_WON], &nulls[COL_WON], kind == STAGE_WON ? n : 0);
	SetCount(&values[COL_LOST], &nulls[COL_LOST], kind == STAGE_LOST ? n : 0);
	SetCount(&values[COL_OPEN], &nulls[COL_OPEN], 0);
	/* no deal leaves a pipeline from a won or lost stage */
	if (rep->outcomes)
		SetCount(&values[COL_MOVED], &nulls[COL_MOVED], 0);
	SetRatio(&values[COL_WIN_RATE], &nulls[COL_WIN_RATE],
			 kind == STAGE_WON ? n : 0, n);
}

/*
 * The amount of the deals open in an open stage now: with outcomes the
 * deals whose current stage it is; without, the deals whose reached stage
 * it is (a summary of current stages: the deals there now).  NULL when
 * none of them has an amount.
 */
static void
ReportOpenAmount(const Report *rep, int i, Datum *values, bool *nulls)
{
	const SummaryEntry *e = rep->by_stage[i];
	int64		n = rep->outcomes ? e->current_amount_count : e->amount_count;

	if (n > 0)
	{
		values[COL_OPEN_AMOUNT] = DecToNumeric(rep->outcomes ? e->current_amount : e->amount,
											   rep->scale);
		nulls[COL_OPEN_AMOUNT] = false;
	}
}

PG_FUNCTION_INFO_V1(funnel_report);
Datum
funnel_report(PG_FUNCTION_ARGS)
{
	FunnelSummary *s = PG_GETARG_SUMMARY(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Report		rep;
	int			prev_open = -1;
	int			i;

	rep.unicode = ReportBarUnicode();
	InitMaterializedSRF(fcinfo, 0);

	rep.pipeline = SummaryPipelineOrError(s);
	FunnelCheckConfigured(rep.pipeline);
	rep.scale = s->scale;
	rep.outcomes = (s->flags & SUMMARY_OUTCOMES) != 0;
	/* a summary read before its pipeline's kinds were (during a restore) */
	if (rep.outcomes)
		SummaryCheckOutcomes(rep.pipeline, s, ERRCODE_INVALID_PARAMETER_VALUE);
	rep.by_stage = SummaryEntriesByStage(s, rep.pipeline);
	ReportReached(&rep);
	ReportMaxDeals(&rep);

	/* Step 3: one row per stage, in funnel order */
	for (i = 0; i < rep.pipeline->nstages; i++)
	{
		FunnelStage *stage = &rep.pipeline->stages[i];
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
		values[COL_STAGE] = DealStageGetDatum(MakeDealStage(rep.pipeline->typoid, stage->label));
		nulls[COL_STAGE] = false;
		n = ReportRowDeals(&rep, i, &namount, &amount);
		if (i < rep.pipeline->nopen)
		{
			ReportOpenRow(&rep, i, prev_open, values, nulls);
			prev_open = i;
		}
		else
			ReportClosedRow(&rep, i, prev_open, n, values, nulls);
		SetCount(&values[COL_DEALS], &nulls[COL_DEALS], n);
		values[COL_BAR] = PointerGetDatum(ReportBar(n, rep.max_deals, rep.unicode));
		nulls[COL_BAR] = false;
		if (namount > 0)
		{
			values[COL_AMOUNT] = DecToNumeric(amount, rep.scale);
			nulls[COL_AMOUNT] = false;
			values[COL_AVERAGE_AMOUNT] = ReportAverage(amount, rep.scale, namount);
			nulls[COL_AVERAGE_AMOUNT] = false;
		}
		values[COL_POSITION] = Int32GetDatum(i + 1);
		nulls[COL_POSITION] = false;
		values[COL_KIND] = CStringGetTextDatum(StageKindName(stage->kind));
		nulls[COL_KIND] = false;
		if (i < rep.pipeline->nopen)
			ReportOpenAmount(&rep, i, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
