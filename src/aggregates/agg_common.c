/*-------------------------------------------------------------------------
 *
 * agg_common.c
 *	  Helpers shared by the funnel aggregate families: the per-call stage
 *	  cache (fn_extra) and exact decimal totals as 128-bit fixed point.
 *
 * Transition functions run once per input row, so neither helper touches a
 * catalog, allocates memory or copies a datum on the common path.  Numeric
 * values are decoded from their stored form (PostgreSQL's numeric on-disk
 * layout, which is stable across releases because tables keep it) without
 * detoasting short-header values into a palloc'd copy.
 *
 * src/aggregates/agg_common.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "agg.h"

/* numeric on-disk header bits (see utils/adt/numeric.c) */
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_NAN					0xC000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_DSCALE_MASK	0x1F80
#define NUM_SHORT_DSCALE_SHIFT	7
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_DSCALE_MASK			0x3FFF
#define NUM_NBASE				10000

const int64 DecPow10[19] = {
	INT64CONST(1), INT64CONST(10), INT64CONST(100), INT64CONST(1000),
	INT64CONST(10000), INT64CONST(100000), INT64CONST(1000000),
	INT64CONST(10000000), INT64CONST(100000000), INT64CONST(1000000000),
	INT64CONST(10000000000), INT64CONST(100000000000),
	INT64CONST(1000000000000), INT64CONST(10000000000000),
	INT64CONST(100000000000000), INT64CONST(1000000000000000),
	INT64CONST(10000000000000000), INT64CONST(100000000000000000),
	INT64CONST(1000000000000000000)
};

/*
 * The call cache shared by the transition calls made through a wrapper
 * aggregate in one aggregate context (see AggWrappedCallCache)
 */
static MemoryContext wrapped_context = NULL;
static AggCallCache *wrapped_cache = NULL;

/* The wrapped aggregate's context is reset or deleted: forget its cache */
static void
AggWrappedContextGone(void *arg)
{
	if (wrapped_context == (MemoryContext) arg)
	{
		wrapped_context = NULL;
		wrapped_cache = NULL;
	}
}

/*
 * The call cache of a transition function called by another aggregate's
 * transition function, as Citus's worker_partial_agg(aggregate, args) does
 * on the workers: it builds a new FmgrInfo (fmgr_info(), no expression,
 * fn_mcxt the per-row memory) for every row, so fn_extra is empty on every
 * row and a cache made in fn_mcxt would be made and filled again per row
 * (issue 22.4).  Such calls share one cache, made in the aggregate context
 * of the wrapper (where its transition state lives too) and forgotten by a
 * reset callback when that context is reset or deleted.  Sharing is sound:
 * every field of AggCallCache is a memo keyed by the values it was made
 * from (stage slots by label and pipeline, the conversion_rate and float8
 * probability memos by their inputs), and the slots live no longer than
 * the wrapper's aggregate context, within one execution of the query, as
 * a call site's cache does.  One context at a time holds the shared cache:
 * calls under another context (sorted grouping sets switch contexts row by
 * row) get a per-call cache as before, and NULL is returned for them.
 */
static AggCallCache *
AggWrappedCallCache(MemoryContext aggcontext)
{
	MemoryContextCallback *cb;
	AggCallCache *cache;

	if (wrapped_context == aggcontext)
		return wrapped_cache;
	if (wrapped_context != NULL)
		return NULL;

	cache = MemoryContextAlloc(aggcontext, sizeof(AggCallCache));
	memset(cache, 0, offsetof(AggCallCache, slots));
	cache->in_aggregate = true;
	cb = MemoryContextAlloc(aggcontext, sizeof(MemoryContextCallback));
	cb->func = AggWrappedContextGone;
	cb->arg = aggcontext;
	MemoryContextRegisterResetCallback(aggcontext, cb);
	wrapped_context = aggcontext;
	wrapped_cache = cache;
	return cache;
}

/*
 * Create the fn_extra cache of a call site (AggGetCallCache).  It lives as
 * long as the executor node (one execution of the query), so the stage
 * facts a query uses are read once per execution, as of its first row: a
 * concurrent set_probability() or add_stage() is seen by the next query,
 * never half-way through this one (a stage the cache has not seen yet is
 * still looked up, through the rebuilt pipeline cache).  The slots copy
 * values, never pointers into the pipeline cache.  A new cache is cheap to
 * fill: its slots are copied from the backend-level table below.  Only the
 * fields before the slots are zeroed (the filled bitmap says which slots
 * hold a stage).  A transition call without an expression inside an
 * aggregate (fn_expr is set by nodeAgg and nodeWindowAgg for their own
 * calls) is made by a wrapper such as Citus's worker_partial_agg with a new
 * FmgrInfo per row: it gets the wrapper's shared cache instead.
 */
AggCallCache *
AggNewCallCache(FunctionCallInfo fcinfo)
{
	AggCallCache *cache;
	MemoryContext aggcontext;
	int			kind = AggCheckCallContext(fcinfo, &aggcontext);

	if (fcinfo->flinfo->fn_expr == NULL && kind == AGG_CONTEXT_AGGREGATE)
		cache = AggWrappedCallCache(aggcontext);
	else
		cache = NULL;
	if (cache == NULL)
	{
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
								   sizeof(AggCallCache));
		memset(cache, 0, offsetof(AggCallCache, slots));
		cache->in_aggregate = kind != 0;
	}
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * The input of a state literal as quoted in an error message: at most
 * AGG_QUOTE_MAX bytes (whole characters) and "...", so a syntax error in a
 * megabyte-long sample does not put the megabyte into the server log and
 * the client's message.
 */
const char *
AggQuoteInput(const char *str)
{
	size_t		len = strlen(str);
	int			keep;

	if (len <= AGG_QUOTE_MAX)
		return str;
	keep = pg_mbcliplen(str, (int) len, AGG_QUOTE_MAX);
	return psprintf("%.*s...", keep, str);
}

/*
 * A stage probability as the decimal prob / 10^scale that
 * probability::numeric gives (float8_numeric: 15 significant digits), or
 * scale -1 if that has more than FUNNEL_PROB_MAX_SCALE decimals (1e-40, a
 * denormal): such a probability is refused by funnel_internal.check_probability()
 * and only weighted_forecast(amount, stage) needs it, so only that
 * aggregate reports it (AggReportProbability), never the others.
 */
static int128
ProbabilityDecimal(double probability, int32 *scale)
{
	Datum		num;
	int			dscale;

	if (isnan(probability) || probability < 0 || probability > 1)
	{
		*scale = -1;
		return 0;
	}
	num = DirectFunctionCall1(float8_numeric, Float8GetDatum(probability));
	dscale = DatumGetInt32(DirectFunctionCall1(numeric_scale, num));
	if (dscale > FUNNEL_PROB_MAX_SCALE)
	{
		*scale = -1;
		return 0;
	}
	return DecFromNumeric(num, scale, "probability");
}

/*
 * Backend-level table of filled stage slots (open addressing on the label
 * OID), valid for one generation of the pipeline cache and emptied when
 * it is rebuilt, i.e. after the same invalidations (funnel_cache.h, rule
 * 3: a cache derived from the pipeline cache compares its generation).
 * A call site whose
 * fn_extra cache is new (every query, and every row under Citus's
 * worker_partial_agg, which calls fmgr_info per row) fills its slots from
 * here with a copy: no catalog access, no numeric conversion.
 */
static AggStageInfo *known_stages = NULL;
static int	known_size = 0;			/* power of 2 */
static int	known_used = 0;
static uint64 known_generation = 0;

/* The table entry of a label: its own, or the empty one it would take */
static AggStageInfo *
KnownStageEntry(Oid label)
{
	uint32		i = (label * 0x9E3779B1u) & (known_size - 1);

	while (known_stages[i].label != label && known_stages[i].label != InvalidOid)
		i = (i + 1) & (known_size - 1);
	return &known_stages[i];
}

/* Remember a filled slot for the rest of this pipeline cache generation */
static void
RememberStage(const AggStageInfo *info)
{
	AggStageInfo *entry;

	if ((known_used + 1) * 2 > known_size)
	{
		AggStageInfo *old = known_stages;
		int			old_size = known_size;
		int			i;

		known_size = Max(known_size * 2, 64);
		known_stages = MemoryContextAllocZero(TopMemoryContext,
											  known_size * sizeof(AggStageInfo));
		for (i = 0; i < old_size; i++)
			if (old[i].label != InvalidOid)
				*KnownStageEntry(old[i].label) = old[i];
		if (old != NULL)
			pfree(old);
	}
	entry = KnownStageEntry(info->label);
	if (entry->label == InvalidOid)
		known_used++;
	*entry = *info;
}

/*
 * Fill the slot of a stage (the slow path): from the backend-level table,
 * or from the pipeline cache, converting its probability once per
 * generation.  The generation is read first: facts read after a rebuild
 * that happens in between are kept under the old generation, which the
 * next call finds stale.
 */
const AggStageInfo *
AggFillStage(AggCallCache *cache, DealStage s)
{
	uint64		generation = FunnelCacheGeneration();
	int			i = AggStageSlot(DealStageLabelOid(s));
	AggStageInfo *slot = &cache->slots[i];
	FunnelStage *stage;
	int32		prob_scale;

	if (generation != known_generation)
	{
		if (known_stages != NULL)
			memset(known_stages, 0, known_size * sizeof(AggStageInfo));
		known_used = 0;
		known_generation = generation;
	}
	else if (known_stages != NULL && !DealStageIsUnresolved(s))
	{
		const AggStageInfo *known = KnownStageEntry(DealStageLabelOid(s));

		if (known->label == DealStageLabelOid(s) &&
			known->pipeline == DealStagePipelineOid(s))
		{
			*slot = *known;
			cache->filled |= UINT64CONST(1) << i;
			return slot;
		}
	}

	stage = FunnelGetConfiguredStage(s);
	slot->label = stage->label;
	slot->pipeline = stage->pipeline->typoid;
	slot->position = stage->position;
	slot->nstages = stage->pipeline->nstages;
	slot->kind = stage->kind;
	slot->prob = ProbabilityDecimal(stage->probability, &prob_scale);
	slot->prob_scale = prob_scale;
	RememberStage(slot);
	cache->filled |= UINT64CONST(1) << i;
	return slot;
}

/*
 * Refuse the probability of a stage that has more decimals than an exact
 * forecast can carry (stored before funnel_internal.check_probability() refused it,
 * or written into funnel.pipeline_stage directly).
 */
void
AggReportProbability(const AggStageInfo *info)
{
	FunnelStage *stage = FunnelLookupStageByLabel(info->label);
	double		p = stage ? stage->probability : get_float8_nan();

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("probability %s of stage \"%s:%s\" has more than %d decimal places",
					DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(p))),
					stage ? NameStr(stage->pipeline->name) : "?",
					stage ? NameStr(stage->name) : "?",
					FUNNEL_PROB_MAX_SCALE),
			 errdetail("weighted_forecast multiplies amounts by probability::numeric exactly."),
			 errhint("Set a rounded probability with funnel.set_probability(), e.g. round(p::numeric, %d).",
					 FUNNEL_PROB_MAX_SCALE)));
}

/*
 * num / den as numeric: the value num::numeric / den gives in SQL (so
 * round(rate, 3) works without a cast), trailing zeros trimmed (1, 0.5,
 * 0.66666666666666666667); den > 0
 */
Datum
AggRatio(int64 num, int64 den)
{
	Datum		ratio;

	ratio = DirectFunctionCall2(numeric_div,
								DirectFunctionCall1(int8_numeric, Int64GetDatum(num)),
								DirectFunctionCall1(int8_numeric, Int64GetDatum(den)));
	return DirectFunctionCall1(numeric_trim_scale, ratio);
}

/*
 * usecs / (n days) as numeric, trailing zeros trimmed: a duration total of
 * n durations as an average number of days; n > 0
 */
Datum
AggDays(int128 usecs, int64 n)
{
	Datum		ratio;

	ratio = DirectFunctionCall2(numeric_div, DecToNumeric(usecs, 0),
								DecToNumeric((int128) n * USECS_PER_DAY, 0));
	return DirectFunctionCall1(numeric_trim_scale, ratio);
}

/* Raise the out-of-range error of a counter */
void
AggReportCountOverflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("funnel aggregate count out of range"),
			 errdetail("Counts are bigint: at most %s.", "9223372036854775807")));
}

/* Raise the out-of-range error of an exact total */
void
DecReportOverflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("funnel aggregate total out of range"),
			 errdetail("Totals are exact 128-bit fixed-point decimals: at most 38 significant digits and %d digits after the decimal point.",
					   DEC_MAX_SCALE),
			 errhint("Round the input, e.g. round(amount, 2).")));
}

/* value at scale from, expressed at the larger scale to (any distance) */
int128
DecRescaleSlow(int128 value, int from, int to)
{
	Assert(to >= from);
	if (to > DEC_MAX_SCALE)
		DecReportOverflow();
	while (from < to)
	{
		int			step = Min(to - from, 18);
		int64		factor = 1;
		int			i;

		for (i = 0; i < step; i++)
			factor *= 10;
		value = DecMul(value, factor);
		from += step;
	}
	return value;
}

/*
 * Decode any numeric datum into value / 10^scale, scale being the
 * numeric's display scale (the general path of DecFromNumeric).  NaN and infinities are refused: a funnel total of them
 * has no meaning.  "what" names the argument in the error.
 */
int128
DecFromNumericSlow(Datum num, int *scale, const char *what)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(num));
	const char *p = VARDATA_ANY(v);
	int			len = VARSIZE_ANY_EXHDR(v);
	uint16		header;
	bool		negative;
	int			dscale;
	int			weight;
	int			ndigits;
	int			digits_scale;
	int128		acc = 0;
	int			i;

	memcpy(&header, p, sizeof(uint16));
	if (unlikely((header & NUM_SIGN_MASK) == NUM_SPECIAL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number, not %s", what,
						header == NUM_NAN ? "NaN" : "infinity"),
				 errhint("Filter such rows out, e.g. WHERE %s <> 'NaN'.", what)));
	if (header & NUM_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN_MASK) != 0;
		dscale = (header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = ((header & NUM_SHORT_WEIGHT_SIGN) ? ~NUM_SHORT_WEIGHT_MASK : 0) |
			(header & NUM_SHORT_WEIGHT_MASK);
		p += sizeof(uint16);
		len -= sizeof(uint16);
	}
	else
	{
		int16		w;

		negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		dscale = header & NUM_DSCALE_MASK;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		p += sizeof(uint16) + sizeof(int16);
		len -= sizeof(uint16) + sizeof(int16);
	}
	ndigits = len / (int) sizeof(int16);

	if (ndigits == 0)
	{
		*scale = Min(dscale, DEC_MAX_SCALE);
		return 0;
	}
	if (dscale > DEC_MAX_SCALE)
		DecReportOverflow();

	/* the digits make the value at scale 4 * (ndigits - 1 - weight) ... */
	digits_scale = 4 * (ndigits - 1 - weight);
	for (i = 0; i < ndigits; i++)
	{
		int16		digit;

		memcpy(&digit, p + i * sizeof(int16), sizeof(int16));
		if (i == ndigits - 1 && digits_scale > dscale && digits_scale - dscale < 4)
		{
			/*
			 * ... but the last base-10000 digit is padded below the display
			 * scale: drop the padding first, so that 38 significant digits
			 * never overflow on the way
			 */
			int			drop = digits_scale - dscale;

			acc = DecAdd(DecMul(acc, DecPow10[4 - drop]), digit / DecPow10[drop]);
			digits_scale = dscale;
		}
		else
			acc = DecAdd(DecMul(acc, NUM_NBASE), digit);
	}
	if (digits_scale < dscale)
	{
		if (digits_scale < 0)
		{
			acc = DecRescale(acc, 0, -digits_scale);
			digits_scale = 0;
		}
		acc = DecRescale(acc, digits_scale, dscale);
	}
	else
	{
		/* the digits below the display scale are zero */
		while (digits_scale > dscale)
		{
			acc /= 10;
			digits_scale--;
		}
	}
	*scale = dscale;
	return negative ? -acc : acc;
}

/* Append value / 10^scale in decimal */
void
DecAppend(StringInfo buf, int128 value, int scale)
{
	char		digits[48];
	int			n = 0;
	uint128		magnitude;

	if (value < 0)
	{
		appendStringInfoChar(buf, '-');
		magnitude = (uint128) (-(value + 1)) + 1;
	}
	else
		magnitude = (uint128) value;

	do
	{
		digits[n++] = '0' + (int) (magnitude % 10);
		magnitude /= 10;
	} while (magnitude > 0);
	while (n <= scale)
		digits[n++] = '0';

	while (n > 0)
	{
		if (n == scale)
			appendStringInfoChar(buf, '.');
		appendStringInfoChar(buf, digits[--n]);
	}
}

/* value / 10^scale as a numeric datum */
Datum
DecToNumeric(int128 value, int scale)
{
	StringInfoData buf;

	initStringInfo(&buf);
	DecAppend(&buf, value, scale);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf.data),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * Parse [-+]digits[.digits] into value / 10^scale.  Returns the position
 * after the number, or NULL if there is none (or it has more than
 * DEC_MAX_SCALE decimals).  A number beyond the int128 range raises 22003.
 * The digits are accumulated as a negative number so that the smallest
 * int128, which DecAppend prints, reads back.
 */
const char *
DecParse(const char *str, int128 *value, int *scale)
{
	const char *start = str;
	bool		negative = false;
	bool		any = false;
	bool		point = false;
	bool		overflow = false;
	int128		acc = 0;
	int			s = 0;

	if (*str == '-' || *str == '+')
		negative = (*str++ == '-');
	for (;; str++)
	{
		if (*str >= '0' && *str <= '9')
		{
			if (__builtin_mul_overflow(acc, 10, &acc) ||
				__builtin_sub_overflow(acc, *str - '0', &acc))
				overflow = true;
			any = true;
			if (point)
				s++;
		}
		else if (*str == '.' && !point)
			point = true;
		else
			break;
	}
	if (!any || s > DEC_MAX_SCALE)
		return NULL;
	if (!negative && !overflow && __builtin_sub_overflow((int128) 0, acc, &acc))
		overflow = true;
	if (overflow)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("number \"%.*s%s\" is out of range for a funnel total",
						(int) Min(str - start, AGG_QUOTE_MAX), start,
						str - start > AGG_QUOTE_MAX ? "..." : ""),
				 errdetail("Totals are exact 128-bit fixed-point decimals: at most 38 significant digits and %d digits after the decimal point.",
						   DEC_MAX_SCALE)));
	*value = acc;
	*scale = s;
	return str;
}

/* Binary form of an int128: high then low 64 bits */
void
DecSend(StringInfo buf, int128 value)
{
	pq_sendint64(buf, (int64) (value >> 64));
	pq_sendint64(buf, (int64) (uint64) value);
}

int128
DecRecv(StringInfo buf)
{
	int64		high = pq_getmsgint64(buf);
	uint64		low = (uint64) pq_getmsgint64(buf);

	return (int128) (((uint128) (uint64) high << 64) | low);
}
