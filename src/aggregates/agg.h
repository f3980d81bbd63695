/*-------------------------------------------------------------------------
 *
 * agg.h
 *	  Declarations shared by the funnel aggregate families (agg_*.c): a tiny
 *	  per-call stage cache kept in fn_extra, and exact decimal totals kept
 *	  as 128-bit fixed-point integers.
 *
 * Aggregate states never hold pointers into the pipeline cache (it may be
 * rebuilt between rows); they hold OIDs and counters.  The per-call cache
 * below copies what a transition function needs about a stage (pipeline,
 * position, kind, probability) for the rest of the query execution, so the
 * common row costs one array probe and no catalog or cache lookup.
 *
 * Exact amounts: numeric inputs are read straight from their on-disk form
 * (no palloc, no detoast copy for short headers) into an int128 scaled by
 * 10^scale; totals rescale to the largest input scale seen.  This keeps
 * numeric exactness for up to 38 significant digits per total and raises
 * 22003 beyond that (see doc/aggregates.md).
 *
 * src/aggregates/agg.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUNNEL_AGG_H
#define FUNNEL_AGG_H

#include "common/int.h"
#include "lib/stringinfo.h"
#include "utils/fmgrprotos.h"

#include "funnel.h"

#ifndef HAVE_INT128
#error "funnel aggregates need a 128-bit integer type"
#endif

/* Largest decimal scale a total may take */
#define DEC_MAX_SCALE	36

/*
 * Most digits after the decimal point of a stage probability's numeric form
 * (float8_numeric, 15 significant digits); funnel_internal.check_probability()
 * refuses probabilities beyond it, so amount x probability stays exact.
 */
#define FUNNEL_PROB_MAX_SCALE	18

/* What a transition function needs to know about one stage */
typedef struct AggStageInfo
{
	Oid			label;			/* pg_enum OID, InvalidOid = empty slot */
	Oid			pipeline;		/* pipeline enum type OID */
	int32		position;		/* 1-based rank in the pipeline */
	int32		nstages;		/* stages in the pipeline */
	StageKind	kind;
	int32		prob_scale;		/* probability as a decimal ..., -1 if it has
								 * more than FUNNEL_PROB_MAX_SCALE decimals */
	int128		prob;			/* ... prob / 10^prob_scale */
} AggStageInfo;

/*
 * funnel.forecast_state: a row count and an exact sum.  The state of
 * weighted_forecast (sum of amount x probability) and of avg_time_in_stage
 * (sum of microseconds, scale 0).
 */
typedef struct ForecastState
{
	int128		sum;			/* scaled by 10^scale */
	int64		n;				/* rows added */
	int32		scale;
	int32		pad;
} ForecastState;

#define AGG_STAGE_SLOTS 64

/* Per call site (fn_extra) cache of a transition function */
typedef struct AggCallCache
{
	bool		in_aggregate;	/* AggCheckCallContext() said yes */
	DealStage	memo_from;		/* conversion_rate: last from/to stages ... */
	DealStage	memo_to;
	AggStageInfo memo_from_info;	/* ... and their facts */
	AggStageInfo memo_to_info;
	bool		memo_float8_valid;	/* weighted_forecast(amount, float8): */
	float8		memo_float8;	/* last probability ... */
	int32		memo_float8_scale;	/* ... as a decimal */
	int128		memo_float8_dec;
	uint64		filled;			/* bit i set: slots[i] holds a stage */
	AggStageInfo slots[AGG_STAGE_SLOTS];	/* not zeroed: see filled */
} AggCallCache;

StaticAssertDecl(AGG_STAGE_SLOTS == 64, "one bit of AggCallCache.filled per slot");

/* Longest input quoted in a state type's syntax error (AggQuoteInput) */
#define AGG_QUOTE_MAX	80

extern AggCallCache *AggNewCallCache(FunctionCallInfo fcinfo);
extern const char *AggQuoteInput(const char *str);
extern const AggStageInfo *AggFillStage(AggCallCache *cache, DealStage s);
pg_noreturn extern void AggReportProbability(const AggStageInfo *info);
pg_noreturn extern void AggReportCountOverflow(void);
extern Datum AggRatio(int64 num, int64 den);
extern Datum AggDays(int128 usecs, int64 n);

/* *count += n, or the 22003 error: counters never wrap */
static inline void
AggCountAdd(int64 *count, int64 n)
{
	if (unlikely(pg_add_s64_overflow(*count, n, count)))
		AggReportCountOverflow();
}

/* The fn_extra cache of this call site (see agg_common.c) */
static inline AggCallCache *
AggGetCallCache(FunctionCallInfo fcinfo)
{
	AggCallCache *cache = (AggCallCache *) fcinfo->flinfo->fn_extra;

	if (likely(cache != NULL))
		return cache;
	return AggNewCallCache(fcinfo);
}

/* Slot of a label in the per-call cache */
static inline int
AggStageSlot(Oid label)
{
	return (int) ((label ^ (label >> 6)) & (AGG_STAGE_SLOTS - 1));
}

/*
 * The cached facts of a stage for this call site: one probe on the common
 * path.  Raises the usual errors for an ambiguous or unknown value.
 */
static inline const AggStageInfo *
AggLookupStageIn(AggCallCache *cache, DealStage s)
{
	int			i = AggStageSlot(DealStageLabelOid(s));
	const AggStageInfo *slot = &cache->slots[i];

	if (likely(((cache->filled >> i) & 1) &&
			   slot->label == DealStageLabelOid(s) &&
			   slot->pipeline == DealStagePipelineOid(s)))
		return slot;
	return AggFillStage(cache, s);
}

static inline const AggStageInfo *
AggLookupStage(FunctionCallInfo fcinfo, DealStage s)
{
	return AggLookupStageIn(AggGetCallCache(fcinfo), s);
}

/* agg_common.c: exact decimals */
extern int128 DecFromNumericSlow(Datum num, int *scale, const char *what);
extern Datum DecToNumeric(int128 value, int scale);
extern void DecAppend(StringInfo buf, int128 value, int scale);
extern const char *DecParse(const char *str, int128 *value, int *scale);
extern int128 DecRescaleSlow(int128 value, int from, int to);
pg_noreturn extern void DecReportOverflow(void);

/*
 * agg_json.c: a strict reader of the JSON text forms of the state types.
 * type names the type in syntax errors, noun the value in range errors,
 * hint shows a valid value.
 */
typedef struct JsonReader
{
	const char *input;
	const char *p;
	const char *type;			/* e.g. "funnel_summary" */
	const char *noun;			/* e.g. "funnel summary" */
	const char *hint;			/* what a valid value looks like */
} JsonReader;

pg_noreturn extern void JsonSyntaxError(JsonReader *r, const char *expected);
extern void JsonSkipSpace(JsonReader *r);
extern void JsonExpect(JsonReader *r, char c);
extern bool JsonAccept(JsonReader *r, char c);
extern bool JsonAcceptNull(JsonReader *r);
extern char *JsonReadString(JsonReader *r);
extern void JsonExpectKey(JsonReader *r, const char *key);
extern int128 JsonReadDecimal(JsonReader *r, int *scale);
extern int64 JsonReadCount(JsonReader *r);
extern void JsonExpectEnd(JsonReader *r);

/* Two int64 halves of an int128 for the binary protocol */
extern void DecSend(StringInfo buf, int128 value);
extern int128 DecRecv(StringInfo buf);

extern const int64 DecPow10[19];

/* a * b, or the overflow error */
static inline int128
DecMul(int128 a, int128 b)
{
	int128		r;

	/* two int64 factors cannot overflow an int128 */
	if (likely(a == (int64) a && b == (int64) b))
		return a * b;
	if (unlikely(__builtin_mul_overflow(a, b, &r)))
		DecReportOverflow();
	return r;
}

/* a + b, or the overflow error */
static inline int128
DecAdd(int128 a, int128 b)
{
	int128		r;

	if (unlikely(__builtin_add_overflow(a, b, &r)))
		DecReportOverflow();
	return r;
}

/* value at scale from, expressed at the scale to >= from */
static inline int128
DecRescale(int128 value, int from, int to)
{
	if (likely(from == to))
		return value;
	if (likely(to - from <= 18 && to <= DEC_MAX_SCALE))
		return DecMul(value, DecPow10[to - from]);
	return DecRescaleSlow(value, from, to);
}

/* *total += value, both scaled; the total takes the larger scale */
static inline void
DecAddScaled(int128 *total, int *total_scale, int128 value, int scale)
{
	if (unlikely(scale > *total_scale))
	{
		*total = DecRescale(*total, *total_scale, scale);
		*total_scale = scale;
	}
	else if (scale < *total_scale)
		value = DecRescale(value, scale, *total_scale);
	*total = DecAdd(*total, value);
}

/*
 * Decode a numeric datum: returns value with the datum = value / 10^scale
 * (scale = its display scale), reading the stored form in place.  The common case (an inline,
 * uncompressed value of at most 16 significant digits) takes no function
 * call; everything else, NaN and infinities included, goes to
 * DecFromNumericSlow.
 */
static pg_attribute_always_inline int128
DecFromNumeric(Datum num, int *scale, const char *what)
{
	const char *ptr = DatumGetPointer(num);
	const char *p;
	int			len;
	uint16		header;
	int			dscale,
				weight,
				ndigits,
				digits_scale,
				i;
	int64		acc = 0;
	int16		digit;

	if (VARATT_IS_EXTERNAL(ptr) || VARATT_IS_COMPRESSED(ptr))
		goto slow;
	p = VARDATA_ANY(ptr);
	len = VARSIZE_ANY_EXHDR(ptr);
	memcpy(&header, p, sizeof(uint16));
	/* only the short format (flag bits 10): positive or negative, small weight */
	if ((header & 0xC000) != 0x8000)
		goto slow;
	dscale = (header & 0x1F80) >> 7;
	weight = ((header & 0x0040) ? ~0x003F : 0) | (header & 0x003F);
	ndigits = (len - (int) sizeof(uint16)) / (int) sizeof(int16);
	p += sizeof(uint16);
	if (ndigits == 0)
	{
		*scale = dscale;
		return 0;
	}
	if (ndigits > 4 || dscale > 18)
		goto slow;
	digits_scale = 4 * (ndigits - 1 - weight);
	for (i = 0; i < ndigits - 1; i++)
	{
		memcpy(&digit, p + i * sizeof(int16), sizeof(int16));
		acc = acc * 10000 + digit;
	}
	memcpy(&digit, p + i * sizeof(int16), sizeof(int16));
	if (digits_scale > dscale)
	{
		/* the last base-10000 digit ends below the display scale */
		int			drop = digits_scale - dscale;	/* 1..3 */

		/* constant divisors: no hardware division on the hot path */
		switch (drop)
		{
			case 1:
				acc = acc * 1000 + digit / 10;
				break;
			case 2:
				acc = acc * 100 + digit / 100;
				break;
			case 3:
				acc = acc * 10 + digit / 1000;
				break;
			default:
				goto slow;
		}
	}
	else
	{
		int			extra = dscale - digits_scale;

		acc = acc * 10000 + digit;
		if (extra > 0)
		{
			if (extra > 18 || __builtin_mul_overflow(acc, DecPow10[extra], &acc))
				goto slow;
		}
	}
	*scale = dscale;
	return (header & 0x2000) ? -(int128) acc : (int128) acc;

slow:
	return DecFromNumericSlow(num, scale, what);
}

/* agg_forecast.c: helpers of the fixed-size states (also agg_velocity.c) */
extern void *AggStateForUpdate(FunctionCallInfo fcinfo, Size size);
pg_noreturn extern void AggStateSyntaxError(const char *type, const char *str,
											const char *example);
extern bool AggParseTuple(const char *str, int n, int128 *values, int *scales);
extern bool AggIsCount(int128 value, int scale, const char *type);
extern char *AggDecText(int128 value, int scale);

#endif							/* FUNNEL_AGG_H */
