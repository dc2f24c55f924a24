"""The day x model table: which pairs are compared, when a row is over a limit, totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from costmodel.reconcile import Export, ExportLine, Recorded, RecordedDay, reconcile
from costmodel.reconcile.plan import PlanCost
from costmodel.reconcile.table import gap
from costmodel.reconcile.window import Window, parse_window

DAY1, DAY2 = date(2026, 11, 24), date(2026, 11, 25)
RT, PHONE = "openai/gpt-realtime-1.5", "twilio/us-inbound"


def recorded(*days: tuple[date, str, str, int]) -> Recorded:
    return Recorded("ledger", [RecordedDay(d, m, D(usd), 1, calls) for d, m, usd, calls in days])


def bill(*lines: tuple[date, str, str | None], basis="billed", covers=None) -> Export:
    out = Export("bill", "generic-csv" if basis == "billed" else "openai-usage", "", "openai")
    out.lines = [ExportLine(d, m, None if u is None else D(u), basis, f"bill:{i}")
                 for i, (d, m, u) in enumerate(lines, 2)]
    out.covers = covers if covers is not None else {(d, m.partition("/")[0]) for d, m, _ in lines}
    return out


class FixedPlan:
    """A plan whose calls cost $0.50 each with a coefficient of variation of 1."""

    name = "plan.yaml"
    notes: tuple[str, ...] = ()

    def cost(self, model, day):
        return PlanCost(model, model, D("0.5"), 1.0) if model == RT else None

    def stack_for(self, model):
        return model if model == RT else None


def test_gap_is_other_less_recorded_in_percent_of_recorded():
    assert gap(D("10"), D("9.5")) == gap(D("10"), D("9.50"))
    assert (gap(D("10"), D("9.5")).usd, gap(D("10"), D("9.5")).pct) == (D("-0.5"), D("-5"))
    assert gap(D("0"), D("0")).pct == 0 and gap(D("0"), D("1")).pct is None   # nothing recorded
    assert gap(D("3"), D("4")).pct == D("33.33333333333333333333333333")


def test_limits_are_strictly_over_and_ignore_sub_cent_differences():
    rec = recorded((DAY1, RT, "10", 20), (DAY2, RT, "0.10", 1))
    # +5% exactly is not over 5%; +0.5 cents on a dime is 5% but under the $0.01 floor
    result = reconcile(rec, [bill((DAY1, RT, "10.50"), (DAY2, RT, "0.105"))])
    assert [(r.flagged, r.failed) for r in result.rows] == [((), ()), ((), ())]
    result = reconcile(rec, [bill((DAY1, RT, "10.51"))], threshold_pct=D(3),
                       tolerance_pct=D(6))
    assert (result.rows[0].flagged, result.rows[0].failed) == (("billed",), ())


def test_a_covered_day_without_a_line_is_billed_zero_and_an_unpriced_line_is_unknown():
    rec = recorded((DAY1, RT, "2", 4), (DAY1, PHONE, "1", 4), (DAY2, RT, "3", 6))
    usage = bill((DAY1, RT, None), covers={(DAY1, "openai"), (DAY2, "openai")}, basis="priced")
    rows = {(r.day, r.model): r for r in reconcile(rec, [usage]).rows}
    assert rows[(DAY1, RT)].billed_usd is None               # could not be priced: not $0
    assert rows[(DAY2, RT)].billed_usd == 0 and rows[(DAY2, RT)].failed == ("billed",)
    assert rows[(DAY1, PHONE)].billed_usd is None            # twilio: nobody billed it here


def test_the_estimate_is_compared_only_outside_the_plans_range():
    # 100 calls x $0.50 = $50; 95% range 50 +- 1.96 x 10 x 0.5 = [40.2, 59.8]
    inside = reconcile(recorded((DAY1, RT, "41", 100)), plan=FixedPlan())
    row = inside.rows[0]
    assert row.estimated_usd == D("50.0") and row.vs_estimate.pct > 5 and row.failed == ()
    outside = reconcile(recorded((DAY1, RT, "40", 100)), plan=FixedPlan()).rows[0]
    assert outside.failed == ("estimate",) and outside.vs_estimate.usd == D("10")
    unplanned = reconcile(recorded((DAY1, PHONE, "1", 3)), plan=FixedPlan())
    assert unplanned.rows[0].estimated_usd is None
    assert "no stack of plan.yaml uses twilio/us-inbound" in unplanned.notes[-1]


def test_the_window_limits_every_side():
    rec = recorded((DAY1, RT, "1", 1), (DAY2, RT, "2", 1))
    result = reconcile(rec, [bill((DAY1, RT, "1"), (DAY2, RT, "2"))], window=Window(DAY2, DAY2))
    assert [r.day for r in result.rows] == [DAY2]
    assert parse_window("1d", None, today=DAY2) == Window(DAY2, None)


money = st.decimals(min_value=0, max_value=10_000, places=6)


@given(st.lists(st.tuples(st.sampled_from([DAY1, DAY2]), st.sampled_from([RT, PHONE]), money,
                          money), max_size=8, unique_by=lambda t: (t[0], t[1])))
def test_totals_are_the_sums_of_the_rows(items):
    rec = Recorded("ledger", [RecordedDay(d, m, r, 1) for d, m, r, _ in items])
    ex = bill(*[(d, m, str(b)) for d, m, _, b in items])
    result = reconcile(rec, [ex])
    t = result.totals
    assert t.recorded_usd == sum((r for *_, r, _ in items), D(0)) or not items
    if items:
        assert t.vs_billed.usd == sum(b for *_, b in items) - sum(r for *_, r, _ in items)
    # a row is over the tolerance exactly when its difference passes 5% of the recorded spend
    for row in result.rows:
        diff = row.billed_usd - row.recorded_usd
        expected = abs(diff) >= D("0.01") and (row.recorded_usd == 0
                                                or abs(diff) * 100 > 5 * row.recorded_usd)
        assert bool(row.failed) == expected
