"""test/drivers/python/common.py: TAP output, the expected values of the
fixture in test/drivers/setup.sql (worked out by hand, see the comments), and
decoders of funnel's binary forms as README's "Drivers" section describes
them, shared by the psycopg2 and psycopg 3 tests."""
import json
import struct
from decimal import Decimal

# ORDER BY stage, id: funnel order, not alphabetical
EXPECTED_STAGES = [(1, "b2b:lead"), (2, "b2b:qualified"), (3, "b2b:proposal"),
                   (6, "b2b:proposal"), (4, "b2b:won"), (5, "b2b:lost")]


def EXPECTED_REPORT():
    """report() of funnel(stage, amount) over deals 1-6, its first six columns
    (REPORT_COLUMNS): open stages count the deals that reached them (lead:
    1,2,3,4,6; qualified: 2,3,4,6; proposal: 3,4,6; negotiation: 4, the won
    deal), amounts are their sums, conversions are numeric, rounded to 6
    decimals (funnel.rate)."""
    return [("b2b:lead", 5, Decimal("1600.75"), None, Decimal("1"), 1),
            ("b2b:qualified", 4, Decimal("1500.75"), Decimal("0.8"), Decimal("0.8"), 1),
            ("b2b:proposal", 3, Decimal("1300.25"), Decimal("0.75"), Decimal("0.6"), 2),
            ("b2b:negotiation", 1, Decimal("400.25"), Decimal("0.333333"), Decimal("0.2"), 0),
            ("b2b:won", 1, Decimal("400.25"), Decimal("1"), Decimal("0.2"), None),
            ("b2b:lost", 1, Decimal("500.00"), None, None, None)]


# the columns of report() the drivers check (the others are NULL for furthest-style input)
REPORT_COLUMNS = "stage, deals, amount, conversion_from_previous, conversion_from_first, drop_off"


def decode_deal_stage(data):
    """Binary deal_stage: version byte 1, then the text form (no terminator)."""
    data = bytes(data)
    assert data[0] == 1, "unknown deal_stage binary version %d" % data[0]
    return data[1:].decode("utf-8")


def decode_summary(data):
    """funnel_summary, binary or text form, as (pipeline, [(stage, deals,
    amount_count, amount Decimal)])."""
    if isinstance(data, str):
        j = json.loads(data, parse_float=Decimal)
        return (j["pipeline"], [(s["stage"], s["deals"], s["amount_count"], Decimal(str(s["amount"])))
                                for s in j["stages"]])
    data = bytes(data)
    assert data[0] == 1, "unknown funnel_summary binary version %d" % data[0]
    pos = 1

    def cstring():
        nonlocal pos
        end = data.index(b"\0", pos)
        s = data[pos:end].decode("utf-8")
        pos = end + 1
        return s

    pipeline = cstring()
    scale, n = struct.unpack_from(">hi", data, pos)
    pos += 6
    stages = []
    for _ in range(n):
        name = cstring()
        deals, count, high, low = struct.unpack_from(">qqqQ", data, pos)
        pos += 32
        amount = Decimal((high << 64) | low).scaleb(-scale)
        stages.append((name, deals, count, amount))
    assert pos == len(data)
    return (pipeline, stages)


class TAP:
    """Minimal TAP producer: one line per check, a plan at the end."""

    def __init__(self, name):
        self.name = name
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print("%s %d - %s: %s" % ("ok" if cond else "not ok", self.n, self.name, desc))
        if not cond:
            self.failed += 1
            if diag:
                print("# " + diag.replace("\n", "\n# "))

    def is_(self, have, want, desc):
        self.ok(have == want, desc, "have: %r\nwant: %r" % (have, want))

    def check(self, desc, want, fn):
        """is_(fn(), want, desc), an exception being a failure, not a crash"""
        try:
            have = fn()
        except Exception as e:  # noqa: BLE001 - any error fails this check only
            self.ok(False, desc, "raised %s: %s" % (type(e).__name__, e))
            return None
        self.is_(have, want, desc)
        return have

    def done(self):
        print("1..%d" % self.n)
        raise SystemExit(1 if self.failed else 0)
