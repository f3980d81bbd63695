/*-------------------------------------------------------------------------
 *
 * agg_forecast.c
 *	  Money aggregates: funnel.weighted_forecast(amount, stage),
 *	  funnel.weighted_forecast(amount, probability numeric or float8),
 *	  with the fixed-size state type funnel.forecast_state (which
 *	  avg_time_in_stage also uses), and the text-form helpers the velocity
 *	  state (agg_velocity.c) shares.
 *
 * Totals are exact: each amount (and probability) is read as a scaled
 * 128-bit integer (see agg_common.c), products are exact, and the sum
 * rescales to the largest scale seen, so the result equals numeric
 * sum(amount * probability) digit for digit.  A stage's probability is its
 * configured float8 converted to numeric (15 significant digits, as
 * probability::numeric does), once per stage and call site.
 *
 * The states are fixed-length pass-by-reference SQL types with text and
 * binary I/O (no `internal`), created in the per-tuple context on the first
 * row, copied by the executor into the aggregate context, then updated in
 * place.
 *
 * src/aggregates/agg_forecast.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "journey.h"

StaticAssertDecl(sizeof(ForecastState) == 32, "forecast_state is 32 bytes");

/* The state argument, writable in place inside an aggregate */
void *
AggStateForUpdate(FunctionCallInfo fcinfo, Size size)
{
	void	   *state;

	if (PG_ARGISNULL(0))
		return palloc0(size);	/* copied into the aggregate context by nodeAgg */
	state = PG_GETARG_POINTER(0);
	if (!AggGetCallCache(fcinfo)->in_aggregate)
	{
		void	   *copy = palloc(size);

		memcpy(copy, state, size);
		state = copy;
	}
	return state;
}

/* Add amount * probability to a forecast */
static inline void
ForecastAdd(ForecastState *state, int128 amount, int amount_scale,
			int128 prob, int prob_scale)
{
	DecAddScaled(&state->sum, &state->scale, DecMul(amount, prob),
				 amount_scale + prob_scale);
	AggCountAdd(&state->n, 1);
}

/* funnel.weighted_forecast(amount, stage) transition */
PG_FUNCTION_INFO_V1(weighted_forecast_stage_trans);
Datum
weighted_forecast_stage_trans(PG_FUNCTION_ARGS)
{
	ForecastState *state;
	const AggStageInfo *info;
	int128		amount;
	int			scale;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	state = AggStateForUpdate(fcinfo, sizeof(ForecastState));
	amount = DecFromNumeric(PG_GETARG_DATUM(1), &scale, "amount");
	info = AggLookupStage(fcinfo, PG_GETARG_DEAL_STAGE(2));
	if (unlikely(info->prob_scale < 0))
		AggReportProbability(info);
	ForecastAdd(state, amount, scale, info->prob, info->prob_scale);
	PG_RETURN_POINTER(state);
}

/* funnel.weighted_forecast(amount, probability) transition */
PG_FUNCTION_INFO_V1(weighted_forecast_numeric_trans);
Datum
weighted_forecast_numeric_trans(PG_FUNCTION_ARGS)
{
	ForecastState *state;
	int128		amount,
				prob;
	int			amount_scale,
				prob_scale;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	prob = DecFromNumeric(PG_GETARG_DATUM(2), &prob_scale, "probability");
	if (unlikely(prob < 0 || prob > DecRescale(1, 0, prob_scale)))
	{
		StringInfoData buf;

		initStringInfo(&buf);
		DecAppend(&buf, prob, prob_scale);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("probability %s is not between 0 and 1", buf.data),
				 errhint("Pass a probability such as 0.25 for 25%%.")));
	}
	amount = DecFromNumeric(PG_GETARG_DATUM(1), &amount_scale, "amount");
	state = AggStateForUpdate(fcinfo, sizeof(ForecastState));
	ForecastAdd(state, amount, amount_scale, prob, prob_scale);
	PG_RETURN_POINTER(state);
}

/*
 * funnel.weighted_forecast(amount, probability float8) transition: the
 * probability becomes numeric as probability::numeric does (15 significant
 * digits), which is also how the (amount, stage) form reads a stage's
 * configured probability, so weighted_forecast(amount, probability(stage))
 * equals weighted_forecast(amount, stage).  The last conversion is memoized.
 */
PG_FUNCTION_INFO_V1(weighted_forecast_float8_trans);
Datum
weighted_forecast_float8_trans(PG_FUNCTION_ARGS)
{
	ForecastState *state;
	AggCallCache *cache;
	float8		p;
	int128		amount;
	int			amount_scale;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	p = PG_GETARG_FLOAT8(2);
	/* NaN and infinities get numeric's 22023 error from DecFromNumeric */
	if (unlikely(isfinite(p) && (p < 0.0 || p > 1.0)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("probability %s is not between 0 and 1",
						DatumGetCString(DirectFunctionCall1(float8out,
															Float8GetDatum(p)))),
				 errhint("Pass a probability such as 0.25 for 25%%.")));
	cache = AggGetCallCache(fcinfo);
	if (!cache->memo_float8_valid || cache->memo_float8 != p)
	{
		cache->memo_float8_dec =
			DecFromNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(p)),
						   &cache->memo_float8_scale, "probability");
		cache->memo_float8 = p;
		cache->memo_float8_valid = true;
	}
	amount = DecFromNumeric(PG_GETARG_DATUM(1), &amount_scale, "amount");
	state = AggStateForUpdate(fcinfo, sizeof(ForecastState));
	ForecastAdd(state, amount, amount_scale, cache->memo_float8_dec,
				cache->memo_float8_scale);
	PG_RETURN_POINTER(state);
}

/* Combine two forecasts */
PG_FUNCTION_INFO_V1(forecast_state_combine);
Datum
forecast_state_combine(PG_FUNCTION_ARGS)
{
	ForecastState *state = AggStateForUpdate(fcinfo, sizeof(ForecastState));
	ForecastState *other = (ForecastState *) PG_GETARG_POINTER(1);

	DecAddScaled(&state->sum, &state->scale, other->sum, other->scale);
	AggCountAdd(&state->n, other->n);
	PG_RETURN_POINTER(state);
}

/* The forecast, NULL when no row had an amount */
PG_FUNCTION_INFO_V1(forecast_state_final);
Datum
forecast_state_final(PG_FUNCTION_ARGS)
{
	ForecastState *state = (ForecastState *) PG_GETARG_POINTER(0);

	if (state->n == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(DecToNumeric(state->sum, state->scale));
}

/* Text form: (rows,sum) */
PG_FUNCTION_INFO_V1(forecast_state_out);
Datum
forecast_state_out(PG_FUNCTION_ARGS)
{
	ForecastState *state = (ForecastState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "(" INT64_FORMAT ",", state->n);
	DecAppend(&buf, state->sum, state->scale);
	appendStringInfoChar(&buf, ')');
	PG_RETURN_CSTRING(buf.data);
}

/* Report a malformed state literal */
void
AggStateSyntaxError(const char *type, const char *str, const char *example)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", type,
					AggQuoteInput(str)),
			 errhint("A %s is written as %s.", type, example)));
}

/* Parse a list "(a,b,...)" of decimals into values/scales */
bool
AggParseTuple(const char *str, int n, int128 *values, int *scales)
{
	const char *p = str;
	int			i;

	if (*p++ != '(')
		return false;
	for (i = 0; i < n; i++)
	{
		p = DecParse(p, &values[i], &scales[i]);
		if (p == NULL)
			return false;
		if (*p++ != (i == n - 1 ? ')' : ','))
			return false;
	}
	return *p == '\0';
}

/*
 * A count from a parsed tuple: false if it is not a non-negative integer;
 * 22003 if it is beyond bigint
 */
bool
AggIsCount(int128 value, int scale, const char *type)
{
	if (scale != 0 || value < 0)
		return false;
	if (value > PG_INT64_MAX)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		DecAppend(&buf, value, 0);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s count %s is out of range", type, buf.data),
				 errdetail("Counts are bigint: at most %s.", "9223372036854775807")));
	}
	return true;
}

/* A decimal for messages */
char *
AggDecText(int128 value, int scale)
{
	StringInfoData buf;

	initStringInfo(&buf);
	DecAppend(&buf, value, scale);
	return buf.data;
}

/*
 * Refuse a forecast_state the aggregate cannot make (text and binary
 * input): a negative row count, a scale out of range, a sum without rows.
 */
static void
ForecastCheck(const ForecastState *state, int sqlstate)
{
	if (state->n < 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid forecast_state: row count " INT64_FORMAT " is negative",
						state->n)));
	if (state->scale < 0 || state->scale > DEC_MAX_SCALE)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid forecast_state: scale %d", state->scale),
				 errdetail("The scale of the sum is between 0 and %d.", DEC_MAX_SCALE)));
	if (state->n == 0 && state->sum != 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid forecast_state: sum %s over 0 rows",
						AggDecText(state->sum, state->scale)),
				 errdetail("A state of 0 rows has the sum 0.")));
}

PG_FUNCTION_INFO_V1(forecast_state_in);
Datum
forecast_state_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	ForecastState *state = palloc0(sizeof(ForecastState));
	int128		values[2];
	int			scales[2];

	if (!AggParseTuple(str, 2, values, scales) ||
		!AggIsCount(values[0], scales[0], "forecast_state"))
		AggStateSyntaxError("forecast_state", str, "(rows,sum), e.g. (3,1250.50)");
	state->n = (int64) values[0];
	state->sum = values[1];
	state->scale = scales[1];
	ForecastCheck(state, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(forecast_state_send);
Datum
forecast_state_send(PG_FUNCTION_ARGS)
{
	ForecastState *state = (ForecastState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, state->n);
	pq_sendint32(&buf, state->scale);
	DecSend(&buf, state->sum);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(forecast_state_recv);
Datum
forecast_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	ForecastState *state = palloc0(sizeof(ForecastState));

	state->n = pq_getmsgint64(buf);
	state->scale = (int32) pq_getmsgint(buf, 4);
	state->sum = DecRecv(buf);
	ForecastCheck(state, ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(state);
}
