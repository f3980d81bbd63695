"""test/drivers/python/sqlalchemy_views_test.py: what SQLAlchemy (Debian
python3-sqlalchemy, the reflection Superset uses) sees of funnel's BI views
(issue 21.5) and of report()'s columns (issue 21.4): the views listed by
the inspector, their rate columns reflected as NUMERIC(7, 6) and day
columns as NUMERIC(12, 2) (the views cast report()'s funnel.rate to
numeric(7,6): SQLAlchemy 1.4 reflects a domain column without its typmod), and a Table reflected from a view queried through Core.
Prints TAP; run by test/drivers/run.sh with /usr/bin/python3."""
import sys
import warnings
from decimal import Decimal

import sqlalchemy as sa

sys.path.insert(0, sys.path[0])
from common import TAP

tap = TAP("sqlalchemy-views")
# funnel.deal_stage is unknown to SQLAlchemy: it reflects as NullType with a
# warning, which a BI tool shows as a text column
warnings.simplefilter("ignore", sa.exc.SAWarning)
engine = sa.create_engine("postgresql+psycopg2://", future=True)

with engine.begin() as conn:
    tap.check("create_views() with group_by owner",
              ["crm.deals_pipeline", "crm.deals_conversion", "crm.deals_time_in_stage", "crm.deals_trend"],
              lambda: [r[0] for r in conn.execute(sa.text(
                  "SELECT v::text FROM funnel.create_views('crm.deals', group_by => ARRAY['owner']) v"))])

insp = sa.inspect(engine)
tap.check("the inspector lists the views of schema crm",
          ["deals_conversion", "deals_pipeline", "deals_time_in_stage", "deals_trend"],
          lambda: sorted(insp.get_view_names(schema="crm")))


def columns(view):
    return {c["name"]: c["type"] for c in insp.get_columns(view, schema="crm")}


def numeric(t):
    return (type(t).__name__, getattr(t, "precision", None), getattr(t, "scale", None))


conv = tap.check("conversion view: owner first, then the report's columns",
                 ["owner", "stage", "position", "kind", "deals", "amount", "average_amount", "open_amount",
                  "conversion_from_previous", "conversion_from_first", "drop_off", "won", "lost", "open",
                  "lost_here", "open_here", "win_rate", "moved", "moved_here"],
                 lambda: [c["name"] for c in insp.get_columns("deals_conversion", schema="crm")])
tap.check("conversion view: rates reflect as NUMERIC(7, 6), position as INTEGER",
          [("NUMERIC", 7, 6), ("NUMERIC", 7, 6), ("NUMERIC", 7, 6), ("INTEGER", None, None)],
          lambda: [numeric(columns("deals_conversion")[c]) for c in
                   ("conversion_from_previous", "conversion_from_first", "win_rate", "position")])
tap.check("time_in_stage view: days reflect as NUMERIC(12, 2)",
          [("NUMERIC", 12, 2)] * 3,
          lambda: [numeric(columns("deals_time_in_stage")[c]) for c in ("median_days", "avg_days", "p90_days")])
tap.check("pipeline view columns",
          ["owner", "stage", "position", "kind", "deals", "amount", "weighted_amount"],
          lambda: [c["name"] for c in insp.get_columns("deals_pipeline", schema="crm")])
tap.check("trend view columns",
          ["instant", "stage", "position", "kind", "deals", "amount", "weighted_amount"],
          lambda: [c["name"] for c in insp.get_columns("deals_trend", schema="crm")])

# a Table reflected from the view, queried through Core as a BI tool would
meta = sa.MetaData()
with engine.connect() as conn:
    def core_query():
        v = sa.Table("deals_conversion", meta, schema="crm", autoload_with=conn)
        q = (sa.select(v.c.owner, sa.cast(v.c.stage, sa.Text), v.c.deals, v.c.win_rate)
             .where(v.c.kind == "open").order_by(v.c.owner, v.c.position))
        return [tuple(r) for r in conn.execute(q)]
    # ann: deals 1 (lead), 3 (proposal), 5 (lost); bob: 2 (qualified), 4 (won),
    # 6 (proposal).  The fixture's history starts at track(): one visit each,
    # so deal 5 visited no open stage and reached none (no win rate for ann)
    tap.check("Core select on the reflected view, by position (worked out by hand)",
              [("ann", "b2b:lead", 2, None), ("ann", "b2b:qualified", 1, None),
               ("ann", "b2b:proposal", 1, None), ("ann", "b2b:negotiation", 0, None),
               ("bob", "b2b:lead", 3, Decimal("1")), ("bob", "b2b:qualified", 3, Decimal("1")),
               ("bob", "b2b:proposal", 2, Decimal("1")), ("bob", "b2b:negotiation", 1, Decimal("1"))],
              core_query)
    tap.check("report() through Core: rate types as described by the server",
              [("conversion_from_previous", 1700), ("win_rate", 1700), ("position", 23)],
              lambda: [(d[0], d[1]) for d in conn.exec_driver_sql(
                  "SELECT conversion_from_previous, win_rate, position FROM funnel.report("
                  "(SELECT funnel.funnel(stage, amount) FROM crm.deals))").cursor.description])
    tap.check("psycopg2 cursor.description: rates of precision 7, scale 6",
              [(7, 6), (7, 6), (7, 6)],
              lambda: [(d.precision, d.scale) for d in conn.exec_driver_sql(
                  "SELECT conversion_from_previous, conversion_from_first, win_rate FROM funnel.report("
                  "(SELECT funnel.funnel(stage, amount) FROM crm.deals))").cursor.description])
tap.done()
