"""test/drivers/python/psycopg3_test.py: funnel through psycopg 3 (Debian
python3-psycopg), text and binary protocol, parameters bound as text,
varchar and unknown.  Prints TAP; run by test/drivers/run.sh with
/usr/bin/python3 against a database made from test/drivers/setup.sql."""
import sys
from decimal import Decimal

import psycopg
from psycopg.types.string import StrDumper, StrDumperUnknown, StrDumperVarchar

sys.path.insert(0, sys.path[0])
from common import TAP, EXPECTED_STAGES, EXPECTED_REPORT, REPORT_COLUMNS, decode_deal_stage, decode_summary

tap = TAP("psycopg3")
conn = psycopg.connect(autocommit=True)
SUMMARY = "SELECT funnel.funnel(stage, amount) FROM crm.deals WHERE id <= 6"
# str parameters go out typed text, varchar or unknown (OID 0, psycopg's default in text format)
DUMPERS = {"text": StrDumper, "varchar": StrDumperVarchar, "unknown": StrDumperUnknown}


def q(sql, params=None, kind="unknown", binary=False, one=False):
    cur = conn.cursor()
    cur.adapters.register_dumper(str, DUMPERS[kind])
    cur.execute(sql, params, binary=binary)
    return cur.fetchone()[0] if one else [tuple(r) for r in cur.fetchall()]


# stages: the text form in text protocol, version byte 1 + text form in binary
tap.check("stages, text protocol", EXPECTED_STAGES,
          lambda: q("SELECT id, stage FROM crm.deals ORDER BY stage, id"))
tap.check("stages, binary protocol (version byte 1, then the text form)", EXPECTED_STAGES,
          lambda: [(i, decode_deal_stage(s)) for i, s in
                   q("SELECT id, stage FROM crm.deals ORDER BY stage, id", binary=True)])
# report rows: numeric as Decimal, float8 as float, bigint as int
tap.check("report rows, text protocol", EXPECTED_REPORT(),
          lambda: q("SELECT " + REPORT_COLUMNS + " FROM funnel.report((%s))" % SUMMARY))
tap.check("report rows, binary protocol", EXPECTED_REPORT(),
          lambda: [(decode_deal_stage(r[0]),) + r[1:]
                   for r in q("SELECT " + REPORT_COLUMNS + " FROM funnel.report((%s))" % SUMMARY, binary=True)])

# a bare stage name into the column bound to b2b: text, varchar and unknown
# parameters alike are read in the column's pipeline, even a name other
# pipelines share ('won')
INSERT = "INSERT INTO crm.deals (id, owner, amount, stage) VALUES (%s, 'drv', 1, %s) RETURNING stage::text"
for n, (kind, name) in enumerate([("text", "won"), ("varchar", "won"), ("unknown", "negotiation")]):
    tap.check("bare '%s' bound as %s into a funnel.deal_stage(b2b) column" % (name, kind), "b2b:" + name,
              lambda: q(INSERT, [101 + n, name], kind, one=True))
tap.check("bare shared 'won' bound as unknown (psycopg 3's default) into a funnel.deal_stage(b2b) column",
          "b2b:won", lambda: q(INSERT, [104, "won"], "unknown", one=True))
for kind in ["text", "varchar", "unknown"]:
    tap.check("WHERE stage = %%s OR stage IN (%%s, %%s), %s parameters" % kind, [1, 3, 5, 6],
              lambda: q("SELECT array_agg(id ORDER BY id) FROM crm.deals WHERE stage = %s OR stage IN (%s, %s)",
                        ["b2b:lead", "b2b:lost", "proposal"], kind, one=True))
for kind in ["text", "varchar"]:
    tap.check("conversion_rate(stage, %%s, %%s), %s parameters" % kind, Decimal("0.6"),
              lambda: q("SELECT funnel.conversion_rate(stage, %s, %s) FROM crm.deals WHERE id <= 6",
                        ["b2b:lead", "b2b:proposal"], kind, one=True))


# a refused move: SQLSTATE 23514, message and detail; nothing written
def refused_move():
    try:
        q("UPDATE crm.deals SET stage = %s WHERE id = 3 RETURNING id", ["lead"], "varchar")
    except psycopg.Error as e:
        return (e.sqlstate, e.diag.message_primary, e.diag.message_detail,
                e.diag.constraint_name, e.diag.schema_name, e.diag.table_name, e.diag.column_name)
    return "no error"


history = q("SELECT count(*) FROM crm.deals_stage_history", one=True)
tap.check("refused move: SQLSTATE 23514, message, detail naming the deal, constraint, table, column",
          ("23514", 'invalid stage transition from "proposal" to "lead" in pipeline "b2b"',
           'Deal 3: Allowed targets from "proposal": negotiation, won, lost.',
           "funnel_transition_not_allowed", "crm", "deals", "stage"), refused_move)
tap.check("refused move wrote nothing", [(history, "b2b:proposal")],
          lambda: q("SELECT count(*), (SELECT stage::text FROM crm.deals WHERE id = 3) FROM crm.deals_stage_history"))

# a funnel_summary read in text form goes back as a text, varchar or unknown parameter
summary = q(SUMMARY, one=True)
tap.ok(isinstance(summary, str) and summary.startswith('{"pipeline": "b2b"'), "summary read in text form")
for kind in ["text", "varchar", "unknown"]:
    tap.check("report(%%s) of the summary sent back as %s" % kind, EXPECTED_REPORT(),
              lambda: q("SELECT " + REPORT_COLUMNS + " FROM funnel.report(%s)", [summary], kind))
tap.check("summary text form round-trips unchanged", summary,
          lambda: q("SELECT %s::funnel.funnel_summary::text", [summary], "text", one=True))
tap.check("binary summary decodes (as README describes) to the text form's values",
          decode_summary(summary), lambda: decode_summary(q(SUMMARY, binary=True, one=True)))


# saved queries with bare stage names (setup.sql, names.saved), psycopg 3's
# default (untyped) parameters: the same answers after two more pipelines
# share every name
def run_saved():
    out = []
    for num, sql, params in q("SELECT n, sql, params FROM names.saved ORDER BY n"):
        sql = sql.replace("%", "%%")
        for i in range(len(params), 0, -1):
            sql = sql.replace("$%d" % i, "%s")
        try:
            out.append((num, q(sql, params, one=True)))
        except psycopg.Error as e:
            out.append((num, "ERROR %s %s" % (e.sqlstate, e.diag.message_primary)))
    return out


before = run_saved()
tap.check("saved queries with bare names answer with one pipeline per name", [],
          lambda: [r for r in before if str(r[1]).startswith("ERROR")])
q("SELECT names.add_pipelines()::text")
after = run_saved()
for (num, result), again in zip(before, after):
    tap.check("saved query %d, default parameters: same answer after two more pipelines share its names" % num,
              result, lambda: again[1])
tap.done()
