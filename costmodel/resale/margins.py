"""Revenue, cost and margin per tenant and UTC day, and per month: what the rate cards bill
for the usage the ledger (and spend logs) recorded.

A day's revenue under its card (`RateCards.card_for`):

- **per minute**: each call that started that day, in order, billed in whole
  ``increment_seconds`` steps (rounded up) when the card says so; the month's
  ``included_minutes_per_month`` are used up first, from the month's first call; the rest is
  ``seconds x per_minute_usd / 60`` (the one division: 28 significant digits, as the pricing
  core prices time); a call with minutes left to pay is billed at least ``minimum_per_call_usd``
  (a call wholly within the included minutes is free). Unknown minutes: no revenue (None).
- **per call**: ``calls x per_call_usd``;
- **markup**: the day's exact cost x ``markup``.

A month adds its days in the window and, when its card has a ``minimum_per_month_usd`` and
the window holds the month from its first day, a top-up to that minimum: billed once the month
is over, shown as *to date* while it runs (the month's revenue is then at least that). A
tenant with no card, or a per-minute card without minutes, has no revenue (None, "unbilled"),
never $0. Money stays exact (`Decimal`); the table rounds it once, to cents.

``failed`` (the command's exit 1): some month loses money, or some usage cannot be billed.

>>> from costmodel.resale.cards import parse_cards
>>> from costmodel.resale.usage import MeteredUsage, TenantDay
>>> cards = parse_cards("plans: {starter: {per_minute_usd: 0.12, "
...                     "included_minutes_per_month: 100}}\\ntenants: {acme: {plan: starter}}")
>>> day = TenantDay("acme", date(2026, 11, 2), Decimal("1.50"), 40, 2, "spend log",
...                 seconds=Decimal(7200), call_seconds=(Decimal(3000), Decimal(4200)))
>>> m = margins(MeteredUsage([day]), cards, today=date(2026, 11, 30))
>>> r = m.days[0]   # 120 min, 100 included: 20 x $0.12 = $2.40 against $1.50 spent
>>> r.revenue_usd, r.margin_usd, r.margin_pct, r.flags
(Decimal('2.40'), Decimal('0.90'), Decimal('37.5'), ())
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import groupby

from ..money import exact_sum
from ..reconcile.window import Window
from .cards import Card, RateCards, month_end, month_start
from .usage import MeteredUsage, TenantDay

_ZERO = Decimal(0)
_SIXTY = Decimal(60)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class DayMargin:
    """One tenant's day: its ``card`` (id), usage, exact ``cost_usd`` and ``revenue_usd``
    (None: cannot be billed, ``problem`` says why), the margin in $ and % of revenue (None
    without revenue), and ``flags`` among ``thin``, ``negative`` and ``unbilled``."""

    tenant: str
    day: date
    card: str | None
    calls: int
    minutes: Decimal | None
    cost_usd: Decimal
    revenue_usd: Decimal | None
    margin_usd: Decimal | None
    margin_pct: Decimal | None
    included_minutes_used: Decimal = _ZERO
    flags: tuple[str, ...] = ()
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class MonthMargin:
    """One tenant's month: its days in the window added up, and the card's monthly minimum
    (``top_up_usd``: what is billed to reach it; None without a minimum, or when the window
    starts after the month's first day and the month's usage is not all there). ``over``:
    the month has ended within the window (else its figures are to date)."""

    tenant: str
    month: date
    first_day: date
    last_day: date
    card: str | None
    days: int
    calls: int
    minutes: Decimal | None
    cost_usd: Decimal
    usage_revenue_usd: Decimal | None
    minimum_usd: Decimal | None
    top_up_usd: Decimal | None
    revenue_usd: Decimal | None
    margin_usd: Decimal | None
    margin_pct: Decimal | None
    over: bool
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MarginTotals:
    """Every tenant's months added: ``revenue_usd`` and the margin of what could be billed;
    ``unbilled_cost_usd``, the cost of the days that could not be."""

    cost_usd: Decimal
    revenue_usd: Decimal
    unbilled_cost_usd: Decimal
    margin_usd: Decimal
    margin_pct: Decimal | None


@dataclass
class Margins:
    """`margins`' answer: day and month rows (sorted by tenant), totals, and notes."""

    days: list[DayMargin]
    months: list[MonthMargin]
    totals: MarginTotals
    window: Window
    thin_pct: Decimal
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unbilled(self) -> list[DayMargin]:
        return [d for d in self.days if d.revenue_usd is None]

    @property
    def negative(self) -> list[MonthMargin]:
        return [m for m in self.months if "negative" in m.flags]

    @property
    def failed(self) -> bool:
        """A month loses money, or some usage cannot be billed (the command exits 1)."""
        return bool(self.negative or self.unbilled)


def _pct(margin: Decimal | None, revenue: Decimal | None) -> Decimal | None:
    if margin is None or not revenue:
        return None
    return margin * _HUNDRED / revenue


def _flags(margin: Decimal | None, pct: Decimal | None, thin: Decimal) -> tuple[str, ...]:
    if margin is None:
        return ("unbilled",)
    if margin < 0:
        return ("negative",)
    if pct is not None and pct < thin:
        return ("thin",)
    return ()


def _per_minute(card: Card, day: TenantDay, included_s: Decimal
                ) -> tuple[Decimal, Decimal]:
    """(revenue, included seconds used) of a per-minute day (see the module doc)."""
    t = card.terms
    assert t.per_minute_usd is not None and day.call_seconds is not None
    left = included_s
    payable: list[Decimal] = []
    for each in day.call_seconds:
        seconds = t.billed_seconds(each)
        covered = min(seconds, left)
        left -= covered
        payable.append(seconds - covered)
    if t.minimum_per_call_usd is None:   # one division for the day
        revenue = exact_sum(payable) * t.per_minute_usd / _SIXTY
    else:
        floor = t.minimum_per_call_usd
        revenue = exact_sum(max(s * t.per_minute_usd / _SIXTY, floor) for s in payable if s)
    return revenue, included_s - left


def _day_margin(day: TenantDay, card: Card | None, month_card: Card | None,
                included_s: Decimal, thin: Decimal) -> tuple[DayMargin, Decimal]:
    """The day's row, and the included seconds it used."""
    revenue: Decimal | None = None
    used = _ZERO
    problem = None
    if card is None:
        problem = "no rate card: not billed"
    elif card.kind == "per_call":
        assert card.terms.per_call_usd is not None
        revenue = day.calls * card.terms.per_call_usd
    elif card.kind == "markup":
        assert card.terms.markup is not None
        revenue = day.cost_usd * card.terms.markup
    elif day.call_seconds is None:
        problem = f"a per-minute card: {day.minutes_note or 'no call minutes'}"
    else:
        # (the month's allowance is only the per-minute month card's)
        allowance = included_s if month_card is not None and month_card.kind == "per_minute" \
            else _ZERO
        revenue, used = _per_minute(card, day, allowance)
    margin = None if revenue is None else revenue - day.cost_usd
    pct = _pct(margin, revenue)
    return DayMargin(day.tenant, day.day, card.id if card else None, day.calls, day.minutes,
                     day.cost_usd, revenue, margin, pct, used / _SIXTY,
                     _flags(margin, pct, thin), problem), used


def _months(days: Iterable[TenantDay]) -> Iterator[tuple[date, list[TenantDay]]]:
    for month, group in groupby(days, key=lambda d: month_start(d.day)):
        yield month, list(group)


def _month(tenant: str, month: date, rows: list[DayMargin], card: Card | None,
           window: Window, today: date, thin: Decimal) -> MonthMargin:
    last_of_month = month_end(month)
    first = max(month, window.since) if window.since else month
    last = min(last_of_month, window.until) if window.until else last_of_month
    over = last == last_of_month and last_of_month < today
    cost = exact_sum(r.cost_usd for r in rows)
    billed = [r.revenue_usd for r in rows]
    usage = None if any(b is None for b in billed) else exact_sum(
        b for b in billed if b is not None)
    minimum = card.terms.minimum_per_month_usd if card else None
    top_up = None
    notes: list[str] = []
    if minimum is not None:
        if first != month:
            notes.append(f"the ${minimum} monthly minimum is not applied: the window starts "
                         f"on {first}, after the month's first day")
        elif usage is not None:
            top_up = max(minimum - usage, _ZERO)
            if not over and top_up:
                notes.append(f"to date: the month is not over (a ${minimum} minimum)")
    revenue = None if usage is None else usage + (top_up or _ZERO)
    margin = None if revenue is None else revenue - cost
    pct = _pct(margin, revenue)
    minutes = [r.minutes for r in rows]
    return MonthMargin(
        tenant, month, first, last, card.id if card else None, len(rows),
        sum(r.calls for r in rows),
        None if any(m is None for m in minutes) else sum((m for m in minutes if m is not None),
                                                         _ZERO),
        cost, usage, minimum, top_up, revenue, margin, pct, over, _flags(margin, pct, thin),
        tuple(notes))


def margins(usage: MeteredUsage, cards: RateCards, *, thin_pct: Decimal = Decimal(20),
            today: date | None = None) -> Margins:
    """Revenue, cost and margin per tenant and day of ``usage.window``, and per month (see
    the module doc); ``thin_pct``: a margin under this % of revenue is flagged thin."""
    today = today or datetime.now(UTC).date()
    thin = Decimal(thin_pct)
    window = usage.window
    day_rows: list[DayMargin] = []
    month_rows: list[MonthMargin] = []
    by_tenant = {t: list(g) for t, g in groupby(usage.days, key=lambda d: d.tenant)}
    first_day = window.since or min((d.day for d in usage.days), default=None)
    for tenant in sorted(set(by_tenant) | set(cards.tenants)):
        seen: set[date] = set()
        for month, days in _months(by_tenant.get(tenant, [])):
            seen.add(month)
            month_card = cards.month_card(tenant, month)
            included_s = (month_card.terms.included_minutes_per_month * _SIXTY
                          if month_card else _ZERO)
            rows = []
            for day in days:
                row, used = _day_margin(day, cards.card_for(tenant, day.day), month_card,
                                        included_s, thin)
                included_s -= used
                if day.in_window:
                    rows.append(row)
            day_rows += rows
            if rows:
                month_rows.append(_month(tenant, month, rows, month_card, window, today, thin))
        month_rows += _idle_months(tenant, cards, seen, window, first_day, today, thin)
    month_rows.sort(key=lambda m: (m.tenant, m.month))
    return Margins(day_rows, month_rows, _totals(month_rows), window, thin,
                   list(usage.sources), list(usage.notes))


def _idle_months(tenant: str, cards: RateCards, seen: set[date], window: Window,
                 since: date | None, today: date, thin: Decimal) -> list[MonthMargin]:
    """The ended months of the window (from ``since``, its first day or the first with
    usage) in which a tenant with a monthly minimum used nothing: it is billed its minimum
    all the same."""
    until = window.until or today
    if since is None:
        return []
    out = []
    month = month_start(since)
    while month <= until:
        card = cards.month_card(tenant, month)
        if month not in seen and card is not None and card.terms.minimum_per_month_usd \
                and (window.since is None or month >= window.since) \
                and month_end(month) <= until and month_end(month) < today:
            out.append(_month(tenant, month, [], card, window, today, thin))
        month = month_end(month) + timedelta(days=1)
    return out


def _totals(months: list[MonthMargin]) -> MarginTotals:
    cost = exact_sum(m.cost_usd for m in months)
    billed = [m for m in months if m.revenue_usd is not None]
    revenue = exact_sum(m.revenue_usd for m in billed if m.revenue_usd is not None)
    unbilled = exact_sum(m.cost_usd for m in months if m.revenue_usd is None)
    margin = revenue - (cost - unbilled)
    return MarginTotals(cost, revenue, unbilled, margin, _pct(margin, revenue))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _num(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 6)


def to_json(m: Margins) -> dict[str, object]:
    """The margins as JSON-ready data: money as exact decimal strings, minutes and
    percentages (of revenue) as numbers; None where a figure is unknown."""
    def day(r: DayMargin) -> dict[str, object]:
        return {"tenant": r.tenant, "day": r.day.isoformat(), "card": r.card, "calls": r.calls,
                "minutes": _num(r.minutes), "cost_usd": _money(r.cost_usd),
                "revenue_usd": _money(r.revenue_usd), "margin_usd": _money(r.margin_usd),
                "margin_pct": _num(r.margin_pct),
                "included_minutes_used": _num(r.included_minutes_used),
                "flags": list(r.flags), "problem": r.problem}

    def month(r: MonthMargin) -> dict[str, object]:
        return {"tenant": r.tenant, "month": r.month.strftime("%Y-%m"),
                "first_day": r.first_day.isoformat(), "last_day": r.last_day.isoformat(),
                "over": r.over, "card": r.card, "days": r.days, "calls": r.calls,
                "minutes": _num(r.minutes), "cost_usd": _money(r.cost_usd),
                "usage_revenue_usd": _money(r.usage_revenue_usd),
                "minimum_usd": _money(r.minimum_usd), "top_up_usd": _money(r.top_up_usd),
                "revenue_usd": _money(r.revenue_usd), "margin_usd": _money(r.margin_usd),
                "margin_pct": _num(r.margin_pct), "flags": list(r.flags),
                "notes": list(r.notes)}

    t = m.totals
    return {
        "since": m.window.since.isoformat() if m.window.since else None,
        "until": m.window.until.isoformat() if m.window.until else None,
        "currency": "USD", "thin_pct": float(m.thin_pct), "sources": m.sources,
        "days": [day(r) for r in m.days], "months": [month(r) for r in m.months],
        "totals": {"cost_usd": _money(t.cost_usd), "revenue_usd": _money(t.revenue_usd),
                   "unbilled_cost_usd": _money(t.unbilled_cost_usd),
                   "margin_usd": _money(t.margin_usd), "margin_pct": _num(t.margin_pct)},
        "negative_months": len(m.negative), "unbilled_days": len(m.unbilled),
        "failed": m.failed, "notes": m.notes,
    }
