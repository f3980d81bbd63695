/*-------------------------------------------------------------------------
 *
 * names.c
 *	  Validation of pipeline and stage names.
 *
 * A name is what users read in reports and type in literals, so two names
 * must never print alike: names are refused when they are empty, longer
 * than 63 bytes, contain the separator ':', contain control characters
 * (C0, C1, line and paragraph separators), zero-width or bidirectional
 * control characters anywhere, or white space (any Unicode white space,
 * NBSP and U+3000 included) at either end; in a UTF-8 database they must
 * also be in Unicode normalization form NFC, so that canonically equivalent
 * spellings cannot become two names.  Characters are examined as Unicode
 * code points whatever the server encoding; NFC applies only where the
 * server encoding is UTF-8 (PostgreSQL normalizes nothing else).  Messages
 * show invisible characters as <U+200B>.
 *
 * src/type/names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/unicode_norm.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "funnel.h"

typedef enum NameCharClass
{
	NAME_CHAR_OK,
	NAME_CHAR_SPACE,			/* white space: refused at either end */
	NAME_CHAR_CONTROL,			/* refused anywhere */
	NAME_CHAR_INVISIBLE			/* zero-width or bidi control: anywhere */
} NameCharClass;

/* The class of one code point */
static NameCharClass
ClassifyCodePoint(pg_wchar c)
{
	if (c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) ||
		c == 0x2028 || c == 0x2029)
		return NAME_CHAR_CONTROL;
	if (c == 0x00AD || c == 0x034F || c == 0x061C || c == 0x180E ||
		(c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
		(c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) ||
		c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB))
		return NAME_CHAR_INVISIBLE;
	if (c == 0x20 || c == 0xA0 || c == 0x1680 ||
		(c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F ||
		c == 0x3000)
		return NAME_CHAR_SPACE;
	return NAME_CHAR_OK;
}

/*
 * The code points of a name in the server encoding, or NULL when they
 * cannot be known: in a SQL_ASCII database, bytes above 127 are read as
 * UTF-8 when they are valid UTF-8, and have no defined meaning otherwise.
 */
static pg_wchar *
NameCodePoints(const char *name, int *n)
{
	const unsigned char *utf8;
	const unsigned char *p;
	pg_wchar   *cps;
	int			len = strlen(name);
	int			i = 0;

	if (GetDatabaseEncoding() == PG_SQL_ASCII)
	{
		if (pg_encoding_verifymbstr(PG_UTF8, name, len) != len)
			return NULL;
		utf8 = (const unsigned char *) name;
	}
	else
		utf8 = (const unsigned char *) pg_server_to_any(name, len, PG_UTF8);

	cps = palloc((strlen((const char *) utf8) + 1) * sizeof(pg_wchar));
	for (p = utf8; *p; p += pg_utf_mblen(p))
		cps[i++] = utf8_to_unicode(p);
	cps[i] = 0;
	*n = i;
	return cps;
}

/* The name with every character other than plain text shown as <U+XXXX> */
static char *
VisibleName(const pg_wchar *cps, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		if (ClassifyCodePoint(cps[i]) == NAME_CHAR_OK || cps[i] == 0x20)
		{
			unsigned char utf8[8];
			int			len;

			unicode_to_utf8(cps[i], utf8);
			len = pg_utf_mblen(utf8);
			utf8[len] = '\0';
			appendStringInfoString(&buf, pg_any_to_server((char *) utf8, len, PG_UTF8));
		}
		else
			appendStringInfo(&buf, "<U+%04X>", (unsigned int) cps[i]);
	}
	return buf.data;
}

/*
 * A description of the first character that makes a name unusable, such as
 * "the zero-width or bidirectional control character U+200B", or NULL.
 * Used by the hints of deal_stage input, so that a literal that differs from
 * a stage name only by an invisible character says so.
 */
char *
FunnelNameInvisibleChar(const char *name)
{
	int			n;
	int			i;
	pg_wchar   *cps = NameCodePoints(name, &n);

	if (cps == NULL)
		return NULL;
	for (i = 0; i < n; i++)
	{
		NameCharClass class = ClassifyCodePoint(cps[i]);

		if (class == NAME_CHAR_CONTROL || class == NAME_CHAR_INVISIBLE ||
			(class == NAME_CHAR_SPACE && (i == 0 || i == n - 1)))
			return psprintf("U+%04X", (unsigned int) cps[i]);
	}
	return NULL;
}

/* Refuse a name in a form other than NFC (UTF-8 databases only) */
static void
CheckNormalized(const char *what, const pg_wchar *cps, int n)
{
	pg_wchar   *nfc;
	int			i;

	if (GetDatabaseEncoding() != PG_UTF8)
		return;
	if (unicode_is_normalized_quickcheck(UNICODE_NFC, cps) == UNICODE_NORM_QC_YES)
		return;
	nfc = unicode_normalize(UNICODE_NFC, cps);
	for (i = 0; i <= n; i++)
		if (nfc[i] != cps[i])
			break;
	if (i <= n)
	{
		int			nnfc = 0;

		while (nfc[nnfc] != 0)
			nnfc++;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name \"%s\" is not in Unicode normalization form NFC",
						what, VisibleName(cps, n)),
				 errdetail("Its NFC form is \"%s\". Names that print alike must be the same name.",
						   VisibleName(nfc, nnfc)),
				 errhint("Pass normalize(name, NFC).")));
	}
	pfree(nfc);
}

/*
 * funnel_internal.check_name(what, name): raise 22023 unless name is a valid
 * pipeline or stage name; "what" is "pipeline" or "stage".
 */
PG_FUNCTION_INFO_V1(funnel_check_name);
Datum
funnel_check_name(PG_FUNCTION_ARGS)
{
	char	   *what = PG_ARGISNULL(0) ? "pipeline or stage" :
		text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			len = strlen(name);
	pg_wchar   *cps;
	int			n;
	int			i;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name must not be empty", what),
				 errhint("Names are non-empty UTF-8 text of at most %d bytes.",
						 FUNNEL_NAME_MAX)));
	if (len > FUNNEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name \"%s\" is too long", what, name),
				 errdetail("It has %d bytes; the limit is %d.", len, FUNNEL_NAME_MAX)));
	if (strchr(name, FUNNEL_SEPARATOR) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name \"%s\" contains \":\"", what, name),
				 errdetail("The colon separates pipeline and stage in the text form 'pipeline:stage'.")));

	cps = NameCodePoints(name, &n);
	if (cps == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name \"%s\" is not valid UTF-8", what, name),
				 errdetail("The database encoding is SQL_ASCII; names are read as UTF-8 there, so that names that print alike can be told apart."),
				 errhint("Use a database with encoding UTF8.")));
	for (i = 0; i < n; i++)
	{
		NameCharClass class = ClassifyCodePoint(cps[i]);

		if (class == NAME_CHAR_CONTROL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s name \"%s\" contains a control character", what,
							VisibleName(cps, n)),
					 errdetail("Character U+%04X is a control character.",
							   (unsigned int) cps[i])));
		if (class == NAME_CHAR_INVISIBLE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s name \"%s\" contains the invisible character U+%04X", what,
							VisibleName(cps, n), (unsigned int) cps[i]),
					 errdetail("Names must not contain zero-width or bidirectional control characters: two names would print alike.")));
	}
	if (ClassifyCodePoint(cps[0]) == NAME_CHAR_SPACE ||
		ClassifyCodePoint(cps[n - 1]) == NAME_CHAR_SPACE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name \"%s\" has leading or trailing white space", what,
						VisibleName(cps, n))));
	CheckNormalized(what, cps, n);
	PG_RETURN_VOID();
}
