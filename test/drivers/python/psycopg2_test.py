"""test/drivers/python/psycopg2_test.py: funnel through psycopg2 (Debian
python3-psycopg2).  psycopg2 speaks the text protocol only and merges
parameters into the query on the client, so a bound str reaches the server as
an unknown-typed literal; text and varchar parameters are written as casts of
it.  Prints TAP; run by test/drivers/run.sh with /usr/bin/python3."""
import sys
from decimal import Decimal

import psycopg2

sys.path.insert(0, sys.path[0])
from common import TAP, EXPECTED_STAGES, EXPECTED_REPORT, REPORT_COLUMNS, decode_summary

tap = TAP("psycopg2")
conn = psycopg2.connect("")
conn.autocommit = True
SUMMARY = "SELECT funnel.funnel(stage, amount) FROM crm.deals WHERE id <= 6"
# %s, %s::text and %s::varchar: the forms a psycopg2 application can send
PARAM = {"unknown": "%s", "text": "%s::text", "varchar": "%s::varchar"}


def q(sql, params=None, one=False):
    cur = conn.cursor()
    cur.execute(sql, params)
    return cur.fetchone()[0] if one else cur.fetchall()


tap.check("stages, text protocol", EXPECTED_STAGES,
          lambda: q("SELECT id, stage FROM crm.deals ORDER BY stage, id"))
tap.check("report rows, text protocol", EXPECTED_REPORT(),
          lambda: q("SELECT " + REPORT_COLUMNS + " FROM funnel.report((%s))" % SUMMARY))

for n, kind in enumerate(["text", "varchar", "unknown"]):
    tap.check("bare 'won' bound as %s into a funnel.deal_stage(b2b) column" % kind, "b2b:won",
              lambda: q("INSERT INTO crm.deals (id, owner, amount, stage) VALUES (%%s, 'drv', 1, %s) "
                        "RETURNING stage::text" % PARAM[kind], [101 + n, "won"], one=True))
for kind in ["text", "varchar", "unknown"]:
    p = PARAM[kind]
    tap.check("WHERE stage = %%s OR stage IN (%%s, %%s), %s parameters" % kind, [1, 3, 5, 6],
              lambda: q("SELECT array_agg(id ORDER BY id) FROM crm.deals WHERE stage = %s OR stage IN (%s, %s)"
                        % (p, p, p), ["b2b:lead", "b2b:lost", "proposal"], one=True))
for kind in ["text", "varchar"]:
    p = PARAM[kind]
    tap.check("conversion_rate(stage, %%s, %%s), %s parameters" % kind, Decimal("0.6"),
              lambda: q("SELECT funnel.conversion_rate(stage, %s, %s) FROM crm.deals WHERE id <= 6" % (p, p),
                        ["b2b:lead", "b2b:proposal"], one=True))


def refused_move():
    try:
        q("UPDATE crm.deals SET stage = %s::varchar WHERE id = 3 RETURNING id", ["lead"])
    except psycopg2.Error as e:
        return (e.pgcode, e.diag.message_primary, e.diag.message_detail)
    return "no error"


history = q("SELECT count(*) FROM crm.deals_stage_history", one=True)
tap.check("refused move: SQLSTATE 23514, message and detail",
          ("23514", 'invalid stage transition from "proposal" to "lead" in pipeline "b2b"',
           'Deal 3: Allowed targets from "proposal": negotiation, won, lost.'), refused_move)
tap.check("refused move wrote nothing", [(history, "b2b:proposal")],
          lambda: q("SELECT count(*), (SELECT stage::text FROM crm.deals WHERE id = 3) FROM crm.deals_stage_history"))

summary = q(SUMMARY, one=True)
tap.ok(isinstance(summary, str) and summary.startswith('{"pipeline": "b2b"'), "summary read in text form")
for kind in ["text", "varchar", "unknown"]:
    tap.check("report(%%s) of the summary sent back as %s" % kind, EXPECTED_REPORT(),
              lambda: q("SELECT " + REPORT_COLUMNS + " FROM funnel.report(%s)" % PARAM[kind], [summary]))
tap.check("summary text form round-trips unchanged", summary,
          lambda: q("SELECT %s::funnel.funnel_summary::text", [summary], one=True))
# psycopg2 has no binary protocol: the binary form, fetched as bytea, still decodes
tap.check("binary summary (funnel_summary_send as bytea) decodes to the text form's values",
          decode_summary(summary),
          lambda: decode_summary(q("SELECT funnel_internal.funnel_summary_send(f) FROM (%s) s(f)" % SUMMARY, one=True)))
tap.done()
