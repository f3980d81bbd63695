/*-------------------------------------------------------------------------
 *
 * agg_velocity.c
 *	  Sales velocity: funnel.sales_velocity(stage, amount, created_at,
 *	  closed_at) and (journey, amount), funnel.sales_velocity_parts() (every
 *	  factor of the velocity), with the fixed-size state type
 *	  funnel.velocity_state and its text and binary I/O.
 *
 * Velocity = open deals x win rate x average won amount / average cycle of
 * won deals in days (doc/metrics.md).  Amounts and cycle totals are exact
 * 128-bit decimals (agg_common.c); the state is a fixed-length
 * pass-by-reference SQL type updated in place in the aggregate context.
 *
 * src/aggregates/agg_velocity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "journey.h"

/* State of sales_velocity */
typedef struct VelocityState
{
	int64		deals;			/* rows with a stage (open = deals - won - lost) */
	int64		won;
	int64		lost;
	int64		won_amount_count;	/* won rows with an amount */
	int128		won_amount;		/* their total, scaled by 10^amount_scale */
	int32		amount_scale;
	int32		pad;
	int64		cycles;			/* won rows with both timestamps */
	int128		cycle_usecs;	/* total of their closed_at - created_at */
} VelocityState;

StaticAssertDecl(sizeof(VelocityState) == 80, "velocity_state is 80 bytes");

/*
 * Count one deal in a velocity state: its kind, its amount (won deals) and
 * its cycle, closed_at - created_at (won deals with both timestamps).
 */
static void
VelocityAdd(VelocityState *state, StageKind kind, bool has_amount, Datum amount,
			bool has_cycle, TimestampTz created_at, TimestampTz closed_at)
{
	AggCountAdd(&state->deals, 1);
	if (kind == STAGE_LOST)
		AggCountAdd(&state->lost, 1);
	if (kind != STAGE_WON)
		return;
	AggCountAdd(&state->won, 1);
	if (has_amount)
	{
		int128		value;
		int			scale;

		value = DecFromNumeric(amount, &scale, "amount");
		DecAddScaled(&state->won_amount, &state->amount_scale, value, scale);
		AggCountAdd(&state->won_amount_count, 1);
	}
	if (has_cycle)
	{
		if (TIMESTAMP_NOT_FINITE(created_at) || TIMESTAMP_NOT_FINITE(closed_at))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("cannot subtract infinite timestamps")));
		state->cycle_usecs = DecAdd(state->cycle_usecs,
									(int128) closed_at - (int128) created_at);
		AggCountAdd(&state->cycles, 1);
	}
}

/*
 * funnel.sales_velocity(stage, amount, created_at, closed_at) transition.
 * Rows with a NULL stage are skipped; a NULL amount or timestamp only
 * leaves the row out of the average it would feed.
 */
PG_FUNCTION_INFO_V1(sales_velocity_trans);
Datum
sales_velocity_trans(PG_FUNCTION_ARGS)
{
	VelocityState *state;
	const AggStageInfo *info;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	state = AggStateForUpdate(fcinfo, sizeof(VelocityState));
	info = AggLookupStage(fcinfo, PG_GETARG_DEAL_STAGE(1));
	VelocityAdd(state, info->kind, !PG_ARGISNULL(2), PG_GETARG_DATUM(2),
				!PG_ARGISNULL(3) && !PG_ARGISNULL(4),
				PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3),
				PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4));
	PG_RETURN_POINTER(state);
}

/*
 * funnel.sales_velocity(journey, amount) transition: the journey gives the
 * kind (its outcome) and the cycle (first entry to close).
 */
PG_FUNCTION_INFO_V1(sales_velocity_journey_trans);
Datum
sales_velocity_journey_trans(PG_FUNCTION_ARGS)
{
	VelocityState *state;
	const Journey *j;
	const AggStageInfo *info;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	state = AggStateForUpdate(fcinfo, sizeof(VelocityState));
	j = PG_GETARG_JOURNEY(1);
	/* a journey read before its pipeline's kinds were (restore) */
	JourneyCheckKinds(j, NULL, ERRCODE_INVALID_PARAMETER_VALUE);
	info = AggLookupStage(fcinfo, j->current);
	VelocityAdd(state, info->kind, !PG_ARGISNULL(2), PG_GETARG_DATUM(2),
				true, j->first_at, j->current_at);
	PG_RETURN_POINTER(state);
}

/* Combine two velocity states */
PG_FUNCTION_INFO_V1(velocity_state_combine);
Datum
velocity_state_combine(PG_FUNCTION_ARGS)
{
	VelocityState *state = AggStateForUpdate(fcinfo, sizeof(VelocityState));
	VelocityState *other = (VelocityState *) PG_GETARG_POINTER(1);

	AggCountAdd(&state->deals, other->deals);
	AggCountAdd(&state->won, other->won);
	AggCountAdd(&state->lost, other->lost);
	AggCountAdd(&state->won_amount_count, other->won_amount_count);
	DecAddScaled(&state->won_amount, &state->amount_scale,
				 other->won_amount, other->amount_scale);
	AggCountAdd(&state->cycles, other->cycles);
	state->cycle_usecs = DecAdd(state->cycle_usecs, other->cycle_usecs);
	PG_RETURN_POINTER(state);
}

/* numeric a * b */
static Datum
NumMul(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_mul, a, b);
}

/* numeric without trailing zeros */
static Datum
NumTrim(Datum v)
{
	return DirectFunctionCall1(numeric_trim_scale, v);
}

/* numeric of a bigint */
static Datum
NumInt(int64 v)
{
	return DirectFunctionCall1(int8_numeric, Int64GetDatum(v));
}

/*
 * The factors of sales velocity: open deals x win rate x average won
 * amount / average won cycle in days.  Each is NULL when undefined (no
 * closed deal, no won amount, no won cycle); velocity is NULL when a
 * factor is, or the average cycle is not positive:
 *   velocity = open won A C 86400e6 / ((won + lost) n_A U)
 * with A the won amount total over n_A won deals with an amount, C the won
 * cycles and U their total in microseconds, computed as one division.
 */
static void
VelocityFactors(const VelocityState *state, Datum *values, bool *nulls)
{
	int64		closed = state->won;
	int64		open;

	AggCountAdd(&closed, state->lost);
	open = state->deals - closed;
	values[0] = Int64GetDatum(open);
	values[1] = Int64GetDatum(state->won);
	values[2] = Int64GetDatum(state->lost);
	nulls[0] = nulls[1] = nulls[2] = false;
	if ((nulls[3] = (closed == 0)) == false)
		values[3] = AggRatio(state->won, closed);
	if ((nulls[4] = (state->won_amount_count == 0)) == false)
		values[4] = NumTrim(DirectFunctionCall2(numeric_div,
												DecToNumeric(state->won_amount, state->amount_scale),
												NumInt(state->won_amount_count)));
	if ((nulls[5] = (state->cycles == 0)) == false)
		values[5] = AggDays(state->cycle_usecs, state->cycles);
	nulls[6] = nulls[3] || nulls[4] || nulls[5] || state->cycle_usecs <= 0;
	if (!nulls[6])
	{
		Datum		num;
		Datum		den;

		num = NumMul(NumInt(open), NumInt(state->won));
		num = NumMul(num, DecToNumeric(state->won_amount, state->amount_scale));
		num = NumMul(num, NumInt(state->cycles));
		num = NumMul(num, NumInt(USECS_PER_DAY));
		den = NumMul(NumInt(closed), NumInt(state->won_amount_count));
		den = NumMul(den, DecToNumeric(state->cycle_usecs, 0));
		values[6] = NumTrim(DirectFunctionCall2(numeric_div, num, den));
	}
}

/* Final of sales_velocity: the velocity, amount per day */
PG_FUNCTION_INFO_V1(velocity_state_final);
Datum
velocity_state_final(PG_FUNCTION_ARGS)
{
	Datum		values[7];
	bool		nulls[7];

	VelocityFactors((VelocityState *) PG_GETARG_POINTER(0), values, nulls);
	if (nulls[6])
		PG_RETURN_NULL();
	PG_RETURN_DATUM(values[6]);
}

/* Final of sales_velocity_parts: every factor and the velocity */
PG_FUNCTION_INFO_V1(velocity_state_parts);
Datum
velocity_state_parts(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
		tupdesc->natts != 7)
		elog(ERROR, "sales_velocity_parts must return funnel.velocity");
	VelocityFactors((VelocityState *) PG_GETARG_POINTER(0), values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/* Text form: (deals,won,lost,won_amount_count,won_amount,cycles,cycle_usecs) */
PG_FUNCTION_INFO_V1(velocity_state_out);
Datum
velocity_state_out(PG_FUNCTION_ARGS)
{
	VelocityState *state = (VelocityState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "(" INT64_FORMAT "," INT64_FORMAT "," INT64_FORMAT
					 "," INT64_FORMAT ",",
					 state->deals, state->won, state->lost, state->won_amount_count);
	DecAppend(&buf, state->won_amount, state->amount_scale);
	appendStringInfo(&buf, "," INT64_FORMAT ",", state->cycles);
	DecAppend(&buf, state->cycle_usecs, 0);
	appendStringInfoChar(&buf, ')');
	PG_RETURN_CSTRING(buf.data);
}

/*
 * Refuse a velocity_state the aggregate cannot make (text and binary
 * input): negative counts, won + lost above deals, more won amounts than
 * won deals, more cycles than won deals, totals without their count.
 */
static void
VelocityCheck(const VelocityState *state, int sqlstate)
{
	int64		closed;

	if (state->deals < 0 || state->won < 0 || state->lost < 0 ||
		state->won_amount_count < 0 || state->cycles < 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid velocity_state: negative count in deals " INT64_FORMAT
						", won " INT64_FORMAT ", lost " INT64_FORMAT
						", won_amount_count " INT64_FORMAT ", cycles " INT64_FORMAT,
						state->deals, state->won, state->lost,
						state->won_amount_count, state->cycles)));
	if (state->amount_scale < 0 || state->amount_scale > DEC_MAX_SCALE)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid velocity_state: scale %d", state->amount_scale),
				 errdetail("The scale of the won amount is between 0 and %d.",
						   DEC_MAX_SCALE)));
	if (pg_add_s64_overflow(state->won, state->lost, &closed) ||
		closed > state->deals)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid velocity_state: won " INT64_FORMAT " + lost " INT64_FORMAT
						" exceeds deals " INT64_FORMAT,
						state->won, state->lost, state->deals)));
	if (state->won_amount_count > state->won)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid velocity_state: won_amount_count " INT64_FORMAT
						" exceeds won " INT64_FORMAT,
						state->won_amount_count, state->won)));
	if (state->cycles > state->won)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid velocity_state: cycles " INT64_FORMAT
						" exceeds won " INT64_FORMAT,
						state->cycles, state->won),
				 errdetail("Cycles are those of won deals.")));
	if (state->won_amount_count == 0 && state->won_amount != 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid velocity_state: won_amount %s with won_amount_count 0",
						AggDecText(state->won_amount, state->amount_scale))));
	if (state->cycles == 0 && state->cycle_usecs != 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid velocity_state: cycle_microseconds %s with cycles 0",
						AggDecText(state->cycle_usecs, 0))));
}

PG_FUNCTION_INFO_V1(velocity_state_in);
Datum
velocity_state_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	VelocityState *state = palloc0(sizeof(VelocityState));
	int128		v[7];
	int			s[7];

	if (!AggParseTuple(str, 7, v, s) ||
		!AggIsCount(v[0], s[0], "velocity_state") ||
		!AggIsCount(v[1], s[1], "velocity_state") ||
		!AggIsCount(v[2], s[2], "velocity_state") ||
		!AggIsCount(v[3], s[3], "velocity_state") ||
		!AggIsCount(v[5], s[5], "velocity_state") || s[6] != 0)
		AggStateSyntaxError("velocity_state", str,
						 "(deals,won,lost,won_amount_count,won_amount,cycles,cycle_microseconds), e.g. (10,3,2,3,4500.00,5,864000000000)");
	state->deals = (int64) v[0];
	state->won = (int64) v[1];
	state->lost = (int64) v[2];
	state->won_amount_count = (int64) v[3];
	state->won_amount = v[4];
	state->amount_scale = s[4];
	state->cycles = (int64) v[5];
	state->cycle_usecs = v[6];
	VelocityCheck(state, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(velocity_state_send);
Datum
velocity_state_send(PG_FUNCTION_ARGS)
{
	VelocityState *state = (VelocityState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, state->deals);
	pq_sendint64(&buf, state->won);
	pq_sendint64(&buf, state->lost);
	pq_sendint64(&buf, state->won_amount_count);
	pq_sendint32(&buf, state->amount_scale);
	DecSend(&buf, state->won_amount);
	pq_sendint64(&buf, state->cycles);
	DecSend(&buf, state->cycle_usecs);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(velocity_state_recv);
Datum
velocity_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	VelocityState *state = palloc0(sizeof(VelocityState));

	state->deals = pq_getmsgint64(buf);
	state->won = pq_getmsgint64(buf);
	state->lost = pq_getmsgint64(buf);
	state->won_amount_count = pq_getmsgint64(buf);
	state->amount_scale = (int32) pq_getmsgint(buf, 4);
	state->won_amount = DecRecv(buf);
	state->cycles = pq_getmsgint64(buf);
	state->cycle_usecs = DecRecv(buf);
	VelocityCheck(state, ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(state);
}
