"""test/drivers/python/sqlalchemy_test.py: funnel through SQLAlchemy (Debian
python3-sqlalchemy, 1.4, over psycopg2), with the stage type registered as
README's "Drivers" section shows: reflection, the ORM, a refused move.
Starts from test/drivers/setup.sql; connection from the PG* environment.
Prints TAP."""
import warnings

from sqlalchemy import (Column, BigInteger, MetaData, Numeric, Table, Text,
                        create_engine, exc, select, text, update)
from sqlalchemy.dialects.postgresql import base as pg_base
from sqlalchemy.orm import Session, declarative_base
from sqlalchemy.types import UserDefinedType

from common import TAP

tap = TAP("sqlalchemy")


def check(desc, have, want):
    tap.is_(have, want, desc)


# README "Drivers": funnel.deal_stage for SQLAlchemy; values are the text
# form 'pipeline:stage' both ways
class DealStage(UserDefinedType):
    cache_ok = True

    def __init__(self, pipeline=None):
        self.pipeline = pipeline  # funnel.deal_stage(b2b): reflection passes 'b2b'

    def get_col_spec(self, **kw):
        return "funnel.deal_stage(%s)" % self.pipeline if self.pipeline else "funnel.deal_stage"


# reflection: the name PostgreSQL reports (format_type without the modifier)
pg_base.ischema_names["funnel.deal_stage"] = DealStage

Base = declarative_base()


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = {"schema": "crm"}
    id = Column(BigInteger, primary_key=True)
    owner = Column(Text)
    amount = Column(Numeric(12, 2))
    stage = Column(DealStage, nullable=False)


engine = create_engine("postgresql+psycopg2://", future=True)

# reflection knows the stage columns, with no "Did not recognize type" warning
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    md = MetaData()
    deals = Table("deals", md, schema="crm", autoload_with=engine)
    hist = Table("deals_stage_history", md, schema="crm", autoload_with=engine)
check("reflected crm.deals.stage is DealStage bound to b2b",
      (type(deals.c.stage.type).__name__, deals.c.stage.type.pipeline), ("DealStage", "b2b"))
check("reflected history columns",
          [(c.name, type(c.type).__name__) for c in hist.columns][:4],
          [("deal_id", "BIGINT"), ("stage", "DealStage"),
           ("entered_at", "TIMESTAMP"), ("left_at", "TIMESTAMP")])
check("reflection raised no unrecognized-type warning",
          [str(w.message) for w in caught if "recognize" in str(w.message)], [])

with Session(engine) as s:
    check("ORM query ordered by stage: funnel order",
              [(d.id, d.stage) for d in s.scalars(select(Deal).order_by(Deal.stage, Deal.id))],
              [(1, "b2b:lead"), (2, "b2b:qualified"), (3, "b2b:proposal"),
               (6, "b2b:proposal"), (4, "b2b:won"), (5, "b2b:lost")])
    check("filter with a qualified stage",
              s.scalars(select(Deal.id).where(Deal.stage == "b2b:proposal").order_by(Deal.id)).all(),
              [3, 6])
    check("filter with IN on reflected table",
              s.execute(select(deals.c.id).where(deals.c.stage.in_(["b2b:won", "b2b:lost"]))
                        .order_by(deals.c.id)).scalars().all(),
              [4, 5])

    # add a deal and move it through the ORM: the history follows
    s.add(Deal(id=7, owner="cy", amount=70, stage="b2b:lead"))
    s.commit()
    d = s.get(Deal, 7)
    d.stage = "b2b:proposal"
    s.commit()
    check("ORM insert and update write the history",
              s.execute(select(hist.c.stage, hist.c.left_at.is_(None))
                        .where(hist.c.deal_id == 7)
                        .order_by(hist.c.entered_at, hist.c.stage)).all(),
              [("b2b:lead", False), ("b2b:proposal", True)])

    # a refused move: IntegrityError over psycopg2's CheckViolation
    try:
        s.execute(update(Deal).where(Deal.id == 7).values(stage="b2b:lead"))
        s.commit()
        tap.ok(False, "a backward move is refused", "no error")
    except exc.IntegrityError as e:
        s.rollback()
        check("a backward move is refused: IntegrityError, SQLSTATE 23514",
                  e.orig.pgcode, "23514")
        tap.ok('Allowed targets from "proposal"' in (e.orig.diag.message_detail or ""),
               "its DETAIL reaches SQLAlchemy (e.orig.diag.message_detail)",
               repr(e.orig.diag.message_detail))
    check("the refused move changed nothing", s.get(Deal, 7).stage, "b2b:proposal")

    check("a report through text()",
              [tuple(r) for r in s.execute(text(
                  "SELECT r.stage::text, r.deals FROM funnel.report("
                  "(SELECT funnel.funnel(stage, amount) FROM crm.deals)) AS r LIMIT 2"))],
              [("b2b:lead", 6), ("b2b:qualified", 5)])

tap.done()
