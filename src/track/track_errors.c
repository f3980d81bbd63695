/*-------------------------------------------------------------------------
 *
 * track_errors.c
 *	  The parts of a refused move's error that an application reads: the
 *	  deal's key for DETAIL, and the fixed constraint names (the
 *	  constraint_name field of the error, errconstraint()) that say why.
 *
 * The names are a stable contract (README "Error fields"): funnel.move_deals()
 * returns the same words without the funnel_ prefix, and they are the
 * reasons of funnel.next_stages().
 *
 * src/track/track_errors.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"

#include "track.h"

/* Longest key written into a DETAIL, in bytes */
#define DEAL_KEY_MAXLEN 200

/*
 * 42, or "ABC-1" for a key that is not a number (quotes doubled, as in an
 * identifier): the primary key of
 * the deal in slot, through its type's output function (as
 * funnel_internal.key_text()), cut after DEAL_KEY_MAXLEN bytes.
 */
char *
TrackDealKey(TrackedTable *t, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->pk_attnum, &isnull);
	Oid			outfunc;
	bool		isvarlena;
	char	   *s;
	int			len;
	int			i;
	StringInfoData buf;

	if (isnull)
		return pstrdup("with a null key");
	getTypeOutputInfo(t->pk_type, &outfunc, &isvarlena);
	s = OidOutputFunctionCall(outfunc, d);
	len = strlen(s);
	if (len > DEAL_KEY_MAXLEN)
		len = pg_mbcliplen(s, len, DEAL_KEY_MAXLEN);
	initStringInfo(&buf);
	switch (t->pk_type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			appendBinaryStringInfo(&buf, s, len);
			break;
		default:
			/* as an identifier: embedded quotes doubled */
			appendStringInfoChar(&buf, '"');
			for (i = 0; i < len; i++)
			{
				if (s[i] == '"')
					appendStringInfoChar(&buf, '"');
				appendStringInfoChar(&buf, s[i]);
			}
			if (len < (int) strlen(s))
				appendStringInfoString(&buf, "...");
			appendStringInfoChar(&buf, '"');
			break;
	}
	return buf.data;
}
