/*-------------------------------------------------------------------------
 *
 * agg_json.c
 *	  A tiny strict reader for the JSON text forms of the aggregate state
 *	  types (funnel.funnel_summary, funnel.journey).
 *
 * The text forms are JSON so BI tools can parse them, but the input
 * functions accept exactly the shape the output functions write (keys in
 * their order, no extra keys), so every accepted text is one the type can
 * print.  The reader works on the NUL-terminated input string and reports
 * errors as 22P02 naming the type, the position and an example.
 *
 * src/aggregates/agg_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "agg.h"

/* Report a syntax error at the reader's position */
void
JsonSyntaxError(JsonReader *r, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", r->type,
					AggQuoteInput(r->input)),
			 errdetail("Expected %s at character %d.", expected,
					   (int) (r->p - r->input) + 1),
			 errhint("%s", r->hint)));
}

/* Skip JSON white space */
void
JsonSkipSpace(JsonReader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

/* Consume one punctuation character, or fail */
void
JsonExpect(JsonReader *r, char c)
{
	char		what[4] = {'"', c, '"', '\0'};

	JsonSkipSpace(r);
	if (*r->p != c)
		JsonSyntaxError(r, what);
	r->p++;
}

/* Consume c if it comes next */
bool
JsonAccept(JsonReader *r, char c)
{
	JsonSkipSpace(r);
	if (*r->p != c)
		return false;
	r->p++;
	return true;
}

/* Consume the literal null if it comes next */
bool
JsonAcceptNull(JsonReader *r)
{
	JsonSkipSpace(r);
	if (strncmp(r->p, "null", 4) != 0)
		return false;
	r->p += 4;
	return true;
}

/* A JSON string (escapes \" \\ \/ \b \f \n \r \t \uXXXX) */
char *
JsonReadString(JsonReader *r)
{
	StringInfoData buf;

	JsonSkipSpace(r);
	if (*r->p != '"')
		JsonSyntaxError(r, "a double-quoted string");
	r->p++;
	initStringInfo(&buf);
	while (*r->p != '"')
	{
		if (*r->p == '\0')
			JsonSyntaxError(r, "a closing double quote");
		if (*r->p != '\\')
		{
			appendStringInfoChar(&buf, *r->p++);
			continue;
		}
		r->p++;
		switch (*r->p)
		{
			case '"':
			case '\\':
			case '/':
				appendStringInfoChar(&buf, *r->p);
				break;
			case 'b':
				appendStringInfoChar(&buf, '\b');
				break;
			case 'f':
				appendStringInfoChar(&buf, '\f');
				break;
			case 'n':
				appendStringInfoChar(&buf, '\n');
				break;
			case 'r':
				appendStringInfoChar(&buf, '\r');
				break;
			case 't':
				appendStringInfoChar(&buf, '\t');
				break;
			case 'u':
				{
					unsigned int code = 0;
					int			k;
					unsigned char utf8[MAX_UNICODE_EQUIVALENT_STRING + 1];

					for (k = 1; k <= 4; k++)
					{
						char		h = r->p[k];

						code <<= 4;
						if (h >= '0' && h <= '9')
							code |= h - '0';
						else if (h >= 'a' && h <= 'f')
							code |= h - 'a' + 10;
						else if (h >= 'A' && h <= 'F')
							code |= h - 'A' + 10;
						else
							JsonSyntaxError(r, "four hexadecimal digits after \\u");
					}
					if (code == 0 || (code >= 0xD800 && code <= 0xDFFF))
						JsonSyntaxError(r, "a non-zero, non-surrogate \\u escape");
					/* in the server encoding, whatever it is */
					pg_unicode_to_server(code, utf8);
					appendStringInfoString(&buf, (char *) utf8);
					r->p += 4;
				}
				break;
			default:
				JsonSyntaxError(r, "a valid escape after \\");
		}
		r->p++;
	}
	r->p++;
	return buf.data;
}

/* "key": */
void
JsonExpectKey(JsonReader *r, const char *key)
{
	const char *start = r->p;
	char	   *found = JsonReadString(r);

	if (strcmp(found, key) != 0)
	{
		r->p = start;
		JsonSkipSpace(r);
		JsonSyntaxError(r, psprintf("key \"%s\"", key));
	}
	JsonExpect(r, ':');
}

/* A decimal number: value / 10^scale */
int128
JsonReadDecimal(JsonReader *r, int *scale)
{
	int128		value;
	const char *end;

	JsonSkipSpace(r);
	end = DecParse(r->p, &value, scale);
	if (end == NULL)
		JsonSyntaxError(r, "a number");
	r->p = end;
	return value;
}

/* A non-negative bigint count; beyond bigint is 22003, as int8in says */
int64
JsonReadCount(JsonReader *r)
{
	const char *start;
	int			scale;
	int128		value;

	JsonSkipSpace(r);
	start = r->p;
	value = JsonReadDecimal(r, &scale);
	if (scale != 0 || value < 0)
	{
		r->p = start;
		JsonSyntaxError(r, "a non-negative integer count");
	}
	if (value > PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s count %.*s%s is out of range", r->noun,
						(int) Min(r->p - start, AGG_QUOTE_MAX), start,
						r->p - start > AGG_QUOTE_MAX ? "..." : ""),
				 errdetail("Counts are bigint: at most %s.", "9223372036854775807")));
	return (int64) value;
}

/* The end of the input (white space allowed) */
void
JsonExpectEnd(JsonReader *r)
{
	JsonSkipSpace(r);
	if (*r->p != '\0')
		JsonSyntaxError(r, "the end of the input");
}
