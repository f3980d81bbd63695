/*-------------------------------------------------------------------------
 *
 * duration_sample.h
 *	  The type funnel.duration_sample, state of the exact time-in-stage
 *	  percentiles: its flat (on-disk) layout and its expanded in-memory
 *	  form, shared by the type's I/O (duration_sample.c) and the
 *	  aggregates (agg_time.c).
 *
 * src/aggregates/duration_sample.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURATION_SAMPLE_H
#define DURATION_SAMPLE_H

#include "utils/expandeddatum.h"

#include "agg.h"

#define DURATION_SAMPLE_VERSION 1

/* flags */
#define DURATION_SAMPLE_HAS_FRACTION	0x01

/*
 * Flat form: a 16-byte header, then one int64 (microseconds) per closed
 * visit, in input order.  The count is implied by the length.  The type is
 * double-aligned, so the durations are read in place.
 */
typedef struct DurationSample
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		version;		/* DURATION_SAMPLE_VERSION */
	uint8		flags;			/* DURATION_SAMPLE_HAS_FRACTION or 0 */
	uint16		pad;			/* zero */
	float8		fraction;		/* 0 unless DURATION_SAMPLE_HAS_FRACTION */
	int64		values[FLEXIBLE_ARRAY_MEMBER];
} DurationSample;

#define DURATION_SAMPLE_HEADER	offsetof(DurationSample, values)

/* Most durations a flat sample can hold (a varlena is at most 1 GB) */
#define DURATION_SAMPLE_MAX \
	((int64) ((MaxAllocSize - DURATION_SAMPLE_HEADER) / sizeof(int64)))

/* Expanded form: the aggregates' working state, grown in place */
typedef struct ExpandedDurationSample
{
	ExpandedObjectHeader hdr;
	bool		has_fraction;
	double		fraction;
	int64		n;				/* durations held */
	int64		capacity;
	int64	   *values;			/* in hdr.eoh_context */
} ExpandedDurationSample;

/* A read-only view of either form */
typedef struct DurationView
{
	bool		has_fraction;
	double		fraction;
	int64		n;
	const int64 *values;
} DurationView;

extern const ExpandedObjectMethods DurationSampleMethods;

extern ExpandedDurationSample *DurationSampleNew(MemoryContext parent,
												 int64 capacity);
extern ExpandedDurationSample *DurationSampleGetExpanded(Datum d);
extern void DurationSampleView(Datum d, DurationView *view);
extern void DurationSampleReserve(ExpandedDurationSample *s, int64 more);
extern void DurationCheckFraction(double fraction);
extern Datum DurationPercentileInterval(double fraction, int64 n,
										int64 first_row, int64 second_row,
										int64 first_value, int64 second_value);

/*
 * The expanded sample a read-write pointer refers to, or NULL if d is not
 * one (inline: the transition function asks on every row)
 */
static inline ExpandedDurationSample *
DurationSampleGetRW(Datum d)
{
	varatt_expanded ptr;

	if (!VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)))
		return NULL;
	memcpy(&ptr, VARDATA_EXTERNAL(DatumGetPointer(d)), sizeof(ptr));
	if (unlikely(ptr.eohptr->eoh_methods != &DurationSampleMethods))
		elog(ERROR, "expanded object is not a duration sample");
	return (ExpandedDurationSample *) ptr.eohptr;
}

#endif							/* DURATION_SAMPLE_H */
