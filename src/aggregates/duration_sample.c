/*-------------------------------------------------------------------------
 *
 * duration_sample.c
 *	  The type funnel.duration_sample: every closed visit's duration, the
 *	  transition state of the exact time-in-stage percentiles
 *	  (median_time_in_stage, time_in_stage_percentile and their *_days
 *	  forms), with strict text and binary I/O.
 *
 * The state is a real SQL type, not `internal`, so that Citus pushes the
 * partial aggregation down to the workers (it ships a state through the
 * type's text output and input) and parallel workers hand it to the leader
 * through the tuple queue with no serialize functions.
 *
 * A sample grows with its input, so a plain varlena state would be copied
 * whole by every transition (O(n^2)).  Like PostgreSQL's expanded arrays
 * (array_agg's accumulators, plpgsql's array_append), the transition works
 * on an expanded object (utils/expandeddatum.h): the first row creates one
 * in its own memory context under the aggregate context and returns its
 * read-write pointer; nodeAgg, WindowAgg and Citus's worker_partial_agg
 * adopt such an object without copying it and pass the same pointer back
 * on the next row, which appends in place (amortized O(1), a doubling
 * array of int64).  The object is flattened only when it leaves the
 * aggregate: into a tuple (parallel workers, a stored value) or through
 * the send and output functions.  The final functions read either form in
 * place (DurationSampleView).
 *
 * Byte cost per closed visit: 8 bytes in memory, in the flat (stored)
 * form and in the binary form (int64 microseconds, input order); in the
 * text form, which Citus ships, the decimal microseconds and a comma:
 * 12 bytes for a visit of a few days.  A variable-length encoding of the
 * flat form (zigzag varints: 5-6 bytes for durations of hours to weeks)
 * was considered and not taken: it saves a quarter at most, and costs a
 * decode of every value in each combine and final function, which now
 * read the values in place.
 *
 * src/aggregates/duration_sample.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "duration_sample.h"

#define DURATION_SAMPLE_INITIAL 256

#define DURATION_SAMPLE_HINT "A duration sample is written as {\"fraction\": 0.5, \"durations_us\": [3600000000,86400000000]} (microseconds; fraction null or between 0 and 1)."

/* Size of the flat form of an expanded sample */
static Size
DurationSampleFlatSize(ExpandedObjectHeader *eohptr)
{
	ExpandedDurationSample *s = (ExpandedDurationSample *) eohptr;

	if (s->n > DURATION_SAMPLE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("duration sample of " INT64_FORMAT " visits is too large to store or ship", s->n),
				 errdetail("A stored duration sample holds at most " INT64_FORMAT " durations (8 bytes each).",
						   DURATION_SAMPLE_MAX),
				 errhint("Aggregate fewer visits per group, or disable parallel aggregation for this query: SET max_parallel_workers_per_gather = 0.")));
	return DURATION_SAMPLE_HEADER + s->n * sizeof(int64);
}

/* Write the flat form of an expanded sample */
static void
DurationSampleFlatten(ExpandedObjectHeader *eohptr, void *result,
					  Size allocated_size)
{
	ExpandedDurationSample *s = (ExpandedDurationSample *) eohptr;
	DurationSample *flat = (DurationSample *) result;

	Assert(allocated_size == DURATION_SAMPLE_HEADER + s->n * sizeof(int64));
	memset(flat, 0, DURATION_SAMPLE_HEADER);
	SET_VARSIZE(flat, allocated_size);
	flat->version = DURATION_SAMPLE_VERSION;
	flat->flags = s->has_fraction ? DURATION_SAMPLE_HAS_FRACTION : 0;
	flat->fraction = s->has_fraction ? s->fraction : 0;
	memcpy(flat->values, s->values, s->n * sizeof(int64));
}

const ExpandedObjectMethods DurationSampleMethods = {
	DurationSampleFlatSize,
	DurationSampleFlatten
};

/* Refuse a fraction outside [0,1] */
void
DurationCheckFraction(double fraction)
{
	if (isnan(fraction) || fraction < 0 || fraction > 1)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("percentile fraction %g is not between 0 and 1", fraction),
				 errhint("Pass a fraction such as 0.5 for the median or 0.9 for the 90th percentile.")));
}

/* A new empty expanded sample in its own context under parent */
ExpandedDurationSample *
DurationSampleNew(MemoryContext parent, int64 capacity)
{
	MemoryContext context = AllocSetContextCreate(parent, "duration_sample",
												  ALLOCSET_START_SMALL_SIZES);
	ExpandedDurationSample *s = MemoryContextAllocZero(context,
													   sizeof(ExpandedDurationSample));

	EOH_init_header(&s->hdr, &DurationSampleMethods, context);
	s->capacity = Max(capacity, DURATION_SAMPLE_INITIAL);
	s->values = MemoryContextAllocHuge(context, s->capacity * sizeof(int64));
	return s;
}

/* The expanded sample a read-write or read-only pointer refers to */
ExpandedDurationSample *
DurationSampleGetExpanded(Datum d)
{
	ExpandedObjectHeader *eoh = DatumGetEOHP(d);

	if (eoh->eoh_methods != &DurationSampleMethods)
		elog(ERROR, "expanded object is not a duration sample");
	return (ExpandedDurationSample *) eoh;
}

/* Make room for at least "more" further durations */
void
DurationSampleReserve(ExpandedDurationSample *s, int64 more)
{
	int64		needed;

	if (pg_add_s64_overflow(s->n, more, &needed) ||
		needed > (int64) (MaxAllocHugeSize / sizeof(int64)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many visits for an exact time-in-stage percentile")));
	if (needed <= s->capacity)
		return;
	while (s->capacity < needed)
		s->capacity *= 2;
	s->values = repalloc_huge(s->values, s->capacity * sizeof(int64));
}

/* Refuse a flat sample whose header or length is not one we write */
static void
CheckFlat(const DurationSample *flat)
{
	Size		size = VARSIZE(flat);

	if (size < DURATION_SAMPLE_HEADER ||
		(size - DURATION_SAMPLE_HEADER) % sizeof(int64) != 0 ||
		flat->version != DURATION_SAMPLE_VERSION ||
		(flat->flags & ~DURATION_SAMPLE_HAS_FRACTION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid duration sample: version %d, flags %d, %zu bytes",
						flat->version, flat->flags, size)));
}

/* Read either form of a sample in place */
void
DurationSampleView(Datum d, DurationView *view)
{
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedDurationSample *s = DurationSampleGetExpanded(d);

		view->has_fraction = s->has_fraction;
		view->fraction = s->fraction;
		view->n = s->n;
		view->values = s->values;
	}
	else
	{
		DurationSample *flat = (DurationSample *) PG_DETOAST_DATUM(d);

		CheckFlat(flat);
		view->has_fraction = (flat->flags & DURATION_SAMPLE_HAS_FRACTION) != 0;
		view->fraction = flat->fraction;
		view->n = (VARSIZE(flat) - DURATION_SAMPLE_HEADER) / sizeof(int64);
		view->values = flat->values;
	}
}

/* A flat sample of n durations, values and fraction filled in by the caller */
static DurationSample *
NewFlat(int64 n, bool has_fraction, double fraction)
{
	Size		size = DURATION_SAMPLE_HEADER + n * sizeof(int64);
	DurationSample *flat = palloc0(size);

	SET_VARSIZE(flat, size);
	flat->version = DURATION_SAMPLE_VERSION;
	flat->flags = has_fraction ? DURATION_SAMPLE_HAS_FRACTION : 0;
	flat->fraction = has_fraction ? fraction : 0;
	return flat;
}

/* Read the fraction of the text form: a JSON number */
static double
ReadFraction(JsonReader *r)
{
	const char *start;
	char	   *token;
	double		fraction;

	JsonSkipSpace(r);
	start = r->p;
	while ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == '-' ||
		   *r->p == '+' || *r->p == 'e' || *r->p == 'E')
		r->p++;
	if (r->p == start)
		JsonSyntaxError(r, "a fraction or null");
	token = pnstrdup(start, r->p - start);
	fraction = DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(token)));
	DurationCheckFraction(fraction);
	return fraction;
}

/*
 * Text input: {"fraction": 0.5, "durations_us": [3600000000, ...]}, keys in
 * that order, fraction null or in [0,1], durations whole microseconds
 * within bigint.
 */
PG_FUNCTION_INFO_V1(duration_sample_in);
Datum
duration_sample_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	JsonReader	r = {str, str, "duration_sample", "duration sample", DURATION_SAMPLE_HINT};
	bool		has_fraction = false;
	double		fraction = 0;
	int64		n = 0;
	int64		capacity = 64;
	int64	   *values = palloc(capacity * sizeof(int64));
	DurationSample *flat;

	JsonExpect(&r, '{');
	JsonExpectKey(&r, "fraction");
	if (!JsonAcceptNull(&r))
	{
		fraction = ReadFraction(&r);
		has_fraction = true;
	}
	JsonExpect(&r, ',');
	JsonExpectKey(&r, "durations_us");
	JsonExpect(&r, '[');
	if (!JsonAccept(&r, ']'))
	{
		do
		{
			const char *start;
			int			scale;
			int128		value;

			JsonSkipSpace(&r);
			start = r.p;
			value = JsonReadDecimal(&r, &scale);
			if (scale != 0)
			{
				r.p = start;
				JsonSyntaxError(&r, "a whole number of microseconds");
			}
			if (value < PG_INT64_MIN || value > PG_INT64_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("duration %.*s microseconds is out of range",
								(int) (r.p - start), start),
						 errdetail("Durations are bigint microseconds.")));
			if (n == DURATION_SAMPLE_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("duration sample has more than " INT64_FORMAT " durations",
								DURATION_SAMPLE_MAX)));
			if (n == capacity)
			{
				capacity = Min(capacity * 2, DURATION_SAMPLE_MAX);
				values = repalloc(values, capacity * sizeof(int64));
			}
			values[n++] = (int64) value;
		} while (JsonAccept(&r, ','));
		JsonExpect(&r, ']');
	}
	JsonExpect(&r, '}');
	JsonExpectEnd(&r);

	flat = NewFlat(n, has_fraction, fraction);
	memcpy(flat->values, values, n * sizeof(int64));
	pfree(values);
	PG_RETURN_POINTER(flat);
}

/* Text output (see duration_sample_in); the fraction prints exactly */
PG_FUNCTION_INFO_V1(duration_sample_out);
Datum
duration_sample_out(PG_FUNCTION_ARGS)
{
	DurationView v;
	StringInfoData buf;
	int64		i;

	DurationSampleView(PG_GETARG_DATUM(0), &v);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"fraction\": ");
	if (v.has_fraction)
	{
		char		num[DOUBLE_SHORTEST_DECIMAL_LEN];

		double_to_shortest_decimal_buf(v.fraction, num);
		appendStringInfoString(&buf, num);
	}
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ", \"durations_us\": [");
	for (i = 0; i < v.n; i++)
	{
		char		num[MAXINT8LEN + 1];
		int			len = pg_lltoa(v.values[i], num);

		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendBinaryStringInfo(&buf, num, len);
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_CSTRING(buf.data);
}

/* Binary output: version, flags, fraction, count, then the durations */
PG_FUNCTION_INFO_V1(duration_sample_send);
Datum
duration_sample_send(PG_FUNCTION_ARGS)
{
	DurationView v;
	StringInfoData buf;
	int64		i;

	DurationSampleView(PG_GETARG_DATUM(0), &v);
	pq_begintypsend(&buf);
	enlargeStringInfo(&buf, 18 + v.n * sizeof(int64));
	pq_sendbyte(&buf, DURATION_SAMPLE_VERSION);
	pq_sendbyte(&buf, v.has_fraction ? DURATION_SAMPLE_HAS_FRACTION : 0);
	pq_sendfloat8(&buf, v.has_fraction ? v.fraction : 0);
	pq_sendint64(&buf, v.n);
	for (i = 0; i < v.n; i++)
		pq_sendint64(&buf, v.values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Refuse a binary duration sample */
static void
BadBinary(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary duration_sample"),
			 errdetail("%s", detail)));
}

/* Binary input: the send form, every field checked */
PG_FUNCTION_INFO_V1(duration_sample_recv);
Datum
duration_sample_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgbyte(buf);
	int			flags = pq_getmsgbyte(buf);
	double		fraction = pq_getmsgfloat8(buf);
	int64		n = pq_getmsgint64(buf);
	bool		has_fraction = (flags & DURATION_SAMPLE_HAS_FRACTION) != 0;
	DurationSample *flat;
	int64		i;

	if (version != DURATION_SAMPLE_VERSION)
		BadBinary("Unknown format version.");
	if ((flags & ~DURATION_SAMPLE_HAS_FRACTION) != 0)
		BadBinary("Unknown flags.");
	if (!has_fraction && fraction != 0)
		BadBinary("A sample without a fraction has fraction 0.");
	if (has_fraction)
		DurationCheckFraction(fraction);
	/* compare without multiplying: a huge n must not wrap the product */
	if (n < 0 || n > DURATION_SAMPLE_MAX ||
		(buf->len - buf->cursor) % sizeof(int64) != 0 ||
		(uint64) n != (uint64) (buf->len - buf->cursor) / sizeof(int64))
		BadBinary("The count does not match the durations that follow.");

	flat = NewFlat(n, has_fraction, fraction);
	for (i = 0; i < n; i++)
		flat->values[i] = pq_getmsgint64(buf);
	PG_RETURN_POINTER(flat);
}
