"""Margins per tenant and day from a real SQLite ledger and spend log (tests/resale/pilot.py),
numbers checked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.ledger import MemoryLedger, SpendRecord, SQLiteLedger
from costmodel.reconcile.window import EVERY_DAY, Window
from costmodel.resale import MeteredUsage, TenantDay, margins, parse_cards, read_usage, to_json
from costmodel.resale.cards import load_cards

from .pilot import CALLS, write_pilot

TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    return write_pilot(tmp_path_factory.mktemp("pilot"))


def run(pilot, *, logs=True, window=EVERY_DAY, scope=None, today=TODAY, thin=D(20)):
    ledger, log, cards = pilot
    with SQLiteLedger(ledger) as store:
        usage = read_usage(store, window=window, spend_logs=[log] if logs else [], scope=scope)
    return margins(usage, load_cards(cards), thin_pct=thin, today=today)


def day(m, tenant, d):
    return next(r for r in m.days if r.tenant == tenant and r.day == date(2026, 10, d))


def month(m, tenant):
    return next(r for r in m.months if r.tenant == tenant)


def test_120_minutes_with_100_included_at_12_cents_bill_2_40(pilot):
    m = run(pilot)
    oct1 = day(m, "acme", 1)
    # 50 + 70 = 120 minutes, 100 included: 20 x $0.12 = $2.40 against $1.50 spent
    assert (oct1.calls, oct1.minutes, oct1.included_minutes_used) == (2, 120, 100)
    assert (oct1.cost_usd, oct1.revenue_usd, oct1.margin_usd) == (D("1.5"), D("2.4"), D("0.9"))
    assert oct1.margin_pct == D("37.5") and oct1.flags == ()


def test_the_included_minutes_are_used_up_from_the_months_first_call(pilot):
    m = run(pilot)
    oct2 = day(m, "acme", 2)
    # nothing included is left on Oct 2: its 10 minutes bill 10 x $0.12 = $1.20; $0.10 margin
    # is 8.3% of revenue: thin (under 20%)
    assert (oct2.included_minutes_used, oct2.revenue_usd, oct2.margin_usd) == (0, D("1.2"),
                                                                              D("0.1"))
    assert oct2.flags == ("thin",)
    acme = month(m, "acme")   # $3.60 - $2.60 = $1.00, 27.8%: not thin as a month
    assert (acme.revenue_usd, acme.cost_usd, acme.margin_usd) == (D("3.6"), D("2.6"), D("1"))
    assert acme.flags == () and acme.over and acme.minutes == 130


def test_a_window_starting_mid_month_still_counts_the_minutes_used_before_it(pilot):
    m = run(pilot, window=Window(date(2026, 10, 2), date(2026, 10, 31)))
    assert [(r.tenant, r.day.day) for r in m.days if r.tenant == "acme"] == [("acme", 2)]
    assert day(m, "acme", 2).revenue_usd == D("1.2")   # Oct 1 used the 100 minutes
    # initech's $20 minimum is not applied to a month the window cuts
    assert not [r for r in m.months if r.tenant == "initech"]


def test_a_markup_card_bills_the_cost_times_its_markup(pilot):
    m = run(pilot, logs=False)   # (a markup card needs no minutes)
    assert (day(m, "globex", 1).revenue_usd, day(m, "globex", 2).revenue_usd) == (D("14.0"),
                                                                                 D("7.0"))
    assert month(m, "globex").margin_usd == D("6")


def test_a_per_call_card_is_topped_up_to_its_monthly_minimum_once_the_month_is_over(pilot):
    m = run(pilot)
    oct1 = day(m, "initech", 1)   # 4 calls x $0.25 = $1.00 against $1.20: -$0.20
    assert (oct1.revenue_usd, oct1.margin_usd, oct1.flags) == (D("1"), D("-0.2"),
                                                               ("negative",))
    initech = month(m, "initech")   # topped up by $19.00 to the $20 minimum
    assert (initech.usage_revenue_usd, initech.top_up_usd, initech.revenue_usd) == (
        D("1"), D("19"), D("20"))
    assert initech.margin_usd == D("18.8") and initech.flags == () and initech.over


def test_a_month_still_running_counts_its_minimum_to_date(pilot):
    m = run(pilot, today=date(2026, 10, 15))
    initech = month(m, "initech")
    assert not initech.over and initech.revenue_usd == D("20")
    assert initech.notes == ("to date: the month is not over (a $20 minimum)",)


def test_a_tenant_without_a_card_is_reported_and_never_billed_zero(pilot):
    m = run(pilot)
    umbrella = day(m, "umbrella", 1)
    assert umbrella.card is None and umbrella.revenue_usd is None
    assert umbrella.flags == ("unbilled",) and "no rate card" in umbrella.problem
    assert month(m, "umbrella").revenue_usd is None
    assert m.failed and [d.tenant for d in m.unbilled] == ["umbrella"]
    # totals: $3.60 + $21.00 + $20.00 billed; $3.00 of umbrella's cost is not
    assert (m.totals.revenue_usd, m.totals.cost_usd, m.totals.unbilled_cost_usd) == (
        D("44.6"), D("21.8"), D("3"))
    assert m.totals.margin_usd == D("25.8")   # 44.60 - (21.80 - 3.00)


def test_without_spend_logs_a_per_minute_card_cannot_bill(pilot):
    m = run(pilot, logs=False)
    oct1 = day(m, "acme", 1)
    assert oct1.revenue_usd is None and oct1.minutes is None
    assert "the ledger records dollars, not seconds" in oct1.problem
    assert oct1.calls == 2   # the ledger's sessions


def test_one_tenant_alone_passes(pilot):
    m = run(pilot, scope="acme")
    assert not m.failed and {r.tenant for r in m.days} == {"acme"}


def test_a_spend_log_missing_sessions_leaves_those_days_unknown(tmp_path):
    # the spend log lost one of acme's two Oct 1 calls: 50 minutes cannot be the day's
    calls = [c for c in CALLS if c[0] == "acme"]
    ledger, log, cards = write_pilot(tmp_path, calls=calls)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[1:]) + "\n")
    with SQLiteLedger(ledger) as store:
        usage = read_usage(store, spend_logs=[log])
    m = margins(usage, load_cards(cards), today=TODAY)
    oct1 = day(m, "acme", 1)
    assert oct1.revenue_usd is None
    assert "the spend logs hold 1 of the 2 sessions" in oct1.problem
    assert day(m, "acme", 2).revenue_usd is not None


def test_a_call_past_midnight_counts_on_the_day_it_started(tmp_path):
    # one 20-minute call from 23:50 on Oct 1, spending before and after midnight
    cards = parse_cards("tenants: {acme: {card: {per_minute_usd: 0.10}}}")
    start = datetime(2026, 10, 1, 23, 50, tzinfo=UTC)
    path = tmp_path / "spend.db"
    with SQLiteLedger(path) as store:
        for k, usd in enumerate(("0.30", "0.40")):
            store.record(SpendRecord(session_id="c1", scope="acme", model="m", usd=D(usd),
                                     at=start + timedelta(minutes=5 + 10 * k)))
    log = tmp_path / "spend.jsonl"
    log.write_text('{"session_id": "c1", "scope": "acme", "spent_usd": "0.70", '
                   f'"started_at": "{start.isoformat()}", '
                   f'"ended_at": "{(start + timedelta(minutes=20)).isoformat()}", '
                   '"seconds": 1200}\n')
    with SQLiteLedger(path) as store:
        m = margins(read_usage(store, spend_logs=[log]), cards, today=TODAY)
    oct1, oct2 = m.days
    # 20 minutes x $0.10 = $2.00 on Oct 1, its start; Oct 2 has its $0.40 and no call
    assert (oct1.calls, oct1.revenue_usd, oct1.cost_usd) == (1, D("2"), D("0.3"))
    assert (oct2.calls, oct2.revenue_usd, oct2.cost_usd) == (0, 0, D("0.4"))


def usage_of(*days: TenantDay, window=EVERY_DAY) -> MeteredUsage:
    return MeteredUsage(list(days), window)


def test_a_billing_increment_and_a_per_call_minimum_apply_per_call():
    cards = parse_cards("tenants: {acme: {card: {per_minute_usd: 0.03, increment_seconds: 6, "
                        "minimum_per_call_usd: 0.02}}}")
    d = TenantDay("acme", date(2026, 10, 1), D("0.01"), 2, 2, "spend log", D(120),
                  (D(20), D(100)))
    r = margins(usage_of(d), cards, today=TODAY).days[0]
    # 20 s -> 24 s billed: $0.012, raised to the $0.02 minimum; 100 s -> 102 s: $0.051
    assert r.revenue_usd == D("0.071")


def test_a_call_wholly_within_the_included_minutes_is_free_even_with_a_minimum():
    cards = parse_cards("tenants: {acme: {card: {per_minute_usd: 0.10, "
                        "included_minutes_per_month: 1, minimum_per_call_usd: 0.05}}}")
    d = TenantDay("acme", date(2026, 10, 1), D(0), 2, 2, "spend log", D(90), (D(45), D(45)))
    r = margins(usage_of(d), cards, today=TODAY).days[0]
    # 45 s free; the second: 15 s free, 30 s paid = $0.05 (its minimum, too)
    assert r.revenue_usd == D("0.05") and r.included_minutes_used == 1


def test_a_tenant_with_a_minimum_and_no_usage_is_billed_its_minimum():
    cards = parse_cards("tenants:\n  acme: {card: {markup: 2}}\n"
                        "  quiet: {card: {markup: 2, minimum_per_month_usd: 50}}")
    d = TenantDay("acme", date(2026, 10, 3), D(1), 1, 1, "ledger")
    m = margins(usage_of(d, window=Window(date(2026, 10, 1), date(2026, 10, 31))), cards,
                today=TODAY)
    quiet = month(m, "quiet")
    assert (quiet.days, quiet.cost_usd, quiet.revenue_usd, quiet.margin_usd) == (
        0, 0, D(50), D(50))


def test_a_month_that_loses_money_fails():
    cards = parse_cards("tenants: {acme: {card: {markup: 0.9}}}")
    d = TenantDay("acme", date(2026, 10, 3), D(10), 1, 1, "ledger")
    m = margins(usage_of(d), cards, today=TODAY)
    assert month(m, "acme").flags == ("negative",) and m.failed and m.negative


def test_the_json_keeps_money_exact(pilot):
    data = to_json(run(pilot))
    acme = next(r for r in data["days"] if r["tenant"] == "acme" and r["day"] == "2026-10-01")
    assert (acme["revenue_usd"], acme["cost_usd"], acme["margin_pct"]) == ("2.40", "1.5", 37.5)
    assert data["totals"]["revenue_usd"] == "44.6" and data["failed"] is True
    assert data["unbilled_days"] == 1 and data["negative_months"] == 0


@settings(max_examples=60, deadline=None)
@given(seconds=st.lists(st.integers(0, 4 * 3600), min_size=1, max_size=12),
       included=st.integers(0, 300), days=st.integers(1, 5))
def test_a_months_per_minute_revenue_is_its_minutes_past_the_allowance(seconds, included, days):
    """However the calls fall on the month's days, the month bills (minutes - included)+ x
    the rate (to 20 places: each day divides once): the allowance is neither lost nor
    counted twice."""
    cards = parse_cards("tenants: {acme: {card: {per_minute_usd: 0.07, "
                        f"included_minutes_per_month: {included}}}}}}}")
    rows = []
    for k in range(days):
        mine = tuple(D(s) for i, s in enumerate(seconds) if i % days == k)
        rows.append(TenantDay("acme", date(2026, 10, k + 1), D(0), 0, len(mine), "spend log",
                              sum(mine, D(0)), mine))
    m = margins(usage_of(*rows), cards, today=TODAY)
    paid = max(D(sum(seconds)) - included * 60, D(0))
    assert month(m, "acme").revenue_usd == pytest.approx(paid * D("0.07") / 60, abs=D("1e-20"))
    used = sum(r.included_minutes_used for r in m.days)
    assert used == pytest.approx(min(D(sum(seconds)) / 60, included), abs=D("1e-20"))


def test_the_ledger_alone_counts_calls_as_the_most_sessions_on_one_model():
    # a call that spent on the realtime model and on transcription is one call
    with MemoryLedger() as ledger:
        at = datetime(2026, 10, 1, 9, tzinfo=UTC)
        for session, model in (("c1", "rt"), ("c1", "stt"), ("c2", "rt")):
            ledger.record(SpendRecord(session_id=session, scope="acme", model=model,
                                      usd=D("0.1"), at=at))
        usage = read_usage(ledger)
    assert [(d.calls, d.calls_from, d.cost_usd) for d in usage.days] == [(2, "ledger",
                                                                          D("0.3"))]
