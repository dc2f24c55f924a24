"""Rate cards: what each tenant (a ledger scope) is charged, read from a YAML file.

A card prices a tenant's usage one way: **per minute** of call (``per_minute_usd``, with
``included_minutes_per_month`` free, an optional billing ``increment_seconds`` per call and a
``minimum_per_call_usd``), **per call** (``per_call_usd``) or **cost x markup** (``markup``:
1.4 bills the ledger's cost + 40%). Any card may carry a ``minimum_per_month_usd``. A card
belongs to a plan that tenants are assigned to, or to one tenant; either may change over
time: a list of versions, each in force from its ``from:`` UTC day (the first may omit it)::

    currency: USD
    meters: {minutes: voice_minutes, calls: voice_calls, cost_usd: voice_cost_usd}
    plans:
      starter:
        per_minute_usd: 0.12
        included_minutes_per_month: 100
      growth:
        - {per_minute_usd: 0.10, minimum_per_month_usd: 50}
        - {from: 2026-11-15, per_minute_usd: 0.09, minimum_per_month_usd: 50}
    tenants:
      acme:
        plan: starter              # or [{plan: starter}, {plan: growth, from: 2026-11-01}]
        stripe_customer_id: cus_NciAYcXfLnqBoz
        lago_external_subscription_id: sub_acme
      globex:
        card: {markup: 1.4, minimum_per_month_usd: 200}
        until: 2026-12-31          # the last day it is billed

Errors name the file, line and key (`RateCardError`). A tenant without a card on a day is
never billed $0: `RateCards.card_for` answers None and the margins report it.

>>> cards = parse_cards("plans: {starter: {per_minute_usd: 0.12}}\\n"
...                     "tenants: {acme: {plan: starter}}")
>>> card = cards.card_for("acme", date(2026, 11, 25))
>>> card.id, card.kind, card.terms.per_minute_usd, cards.card_for("globex", date(2026, 11, 25))
('plan:starter', 'per_minute', Decimal('0.12'), None)
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .._files import MB, clip, read_text
from ..errors import AmountError, CatalogError, RateCardError
from ..money import to_decimal, to_usd

CARDS_LIMIT = 16 * MB      # ~100,000 tenants of five lines each
_MAX_USD = Decimal(10) ** 9   # a price past $10^9 is a typo (and past the ledger's range)
Kind = Literal["per_minute", "per_call", "markup"]
Metric = Literal["minutes", "calls", "cost_usd"]
METRIC_OF: dict[Kind, Metric] = {"per_minute": "minutes", "per_call": "calls",
                                 "markup": "cost_usd"}


def _usd(value: object) -> Decimal:
    try:   # a YAML float is taken at the digits written (0.12, never 0.11999...)
        return to_usd(value, "amount", allow_text=True, maximum=_MAX_USD)
    except AmountError:
        raise ValueError(f"expected an amount in USD from 0 to {_MAX_USD:,}, got "
                         f"{clip(repr(value))}") from None


def _quantity(value: object) -> Decimal:
    try:
        amount = to_decimal(value, "quantity", allow_text=True)
    except AmountError:
        amount = Decimal(-1)
    if not 0 <= amount <= _MAX_USD:
        raise ValueError(f"expected a number from 0 to {_MAX_USD:,}, got {clip(repr(value))}")
    return amount


def _versions(value: object) -> object:
    """One mapping is a card (or plan assignment) in force from the start: a list of one."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, str):   # `plan: starter`
        return [{"plan": value}]
    if not isinstance(value, list) or not value:
        raise ValueError("expected a mapping, or a non-empty list of its versions (each with "
                         "from: YYYY-MM-DD)")
    return value


Usd = Annotated[Decimal, BeforeValidator(_usd)]
Quantity = Annotated[Decimal, BeforeValidator(_quantity)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Terms(_Strict):
    """One version of a card: how it prices, from which UTC day (``from``, or always)."""

    from_: date | None = Field(default=None, alias="from")
    per_minute_usd: Usd | None = None
    per_call_usd: Usd | None = None
    markup: Quantity | None = None
    included_minutes_per_month: Quantity = Decimal(0)
    increment_seconds: int | None = Field(default=None, ge=1, le=3600, strict=True)
    minimum_per_call_usd: Usd | None = None
    minimum_per_month_usd: Usd | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Terms:
        ways = [n for n in ("per_minute_usd", "per_call_usd", "markup")
                if getattr(self, n) is not None]
        if len(ways) != 1:
            raise ValueError("give exactly one of per_minute_usd, per_call_usd or markup (cost "
                             f"x markup){'; got ' + ', '.join(ways) if ways else ''}")
        if self.markup is not None and self.markup <= 0:
            raise ValueError("markup must be > 0 (1.4 bills the cost + 40%)")
        if self.per_minute_usd is None:
            minute_only = [n for n in ("increment_seconds", "minimum_per_call_usd")
                           if getattr(self, n) is not None]
            if self.included_minutes_per_month:
                minute_only.insert(0, "included_minutes_per_month")
            if minute_only:
                # A markup card's calls have no cost of their own in the ledger's day totals,
                # and a per-call card's price is already its minimum.
                raise ValueError(f"{', '.join(minute_only)}: only a per-minute card "
                                 "(per_minute_usd) has these")
        return self

    @property
    def kind(self) -> Kind:
        return ("per_minute" if self.per_minute_usd is not None else
                "per_call" if self.per_call_usd is not None else "markup")

    def billed_seconds(self, seconds: Decimal) -> Decimal:
        """A call's seconds as the card counts them: whole ``increment_seconds`` steps,
        rounded up (60: per started minute), or as they are."""
        step = self.increment_seconds
        if not step:
            return seconds
        return (seconds / step).to_integral_value(rounding=ROUND_CEILING) * step


class PlanAssignment(_Strict):
    """A tenant on a plan from a UTC day (``from``, or always)."""

    plan: str = Field(min_length=1)
    from_: date | None = Field(default=None, alias="from")


_V = TypeVar("_V", Terms, PlanAssignment)


def _in_order(items: list[_V]) -> list[_V]:
    for i, item in enumerate(items):
        if i and item.from_ is None:
            raise ValueError(f"version {i + 1} needs from: YYYY-MM-DD (only the first may "
                             "omit it: in force from the start)")
        if i and items[i - 1].from_ is not None and item.from_ is not None \
                and item.from_ <= items[i - 1].from_:  # type: ignore[operator]
            raise ValueError(f"versions must be in order of from: {item.from_} does not come "
                             f"after {items[i - 1].from_}")
    return items


Versions = Annotated[list[Terms], BeforeValidator(_versions), AfterValidator(_in_order)]
Assignments = Annotated[list[PlanAssignment], BeforeValidator(_versions),
                        AfterValidator(_in_order)]


class Tenant(_Strict):
    """A tenant's plan (or its own card), its last billed day, and its billing ids."""

    plan: Assignments | None = None
    card: Versions | None = None
    until: date | None = None
    stripe_customer_id: str | None = Field(default=None, min_length=1, max_length=5000)
    openmeter_subject: str | None = Field(default=None, min_length=1)
    lago_external_subscription_id: str | None = Field(default=None, min_length=1)
    lago_external_customer_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _plan_or_card(self) -> Tenant:
        if (self.plan is None) == (self.card is None):
            raise ValueError("give plan: NAME or card: {...} (one of them)")
        return self


class Meters(_Strict):
    """The event name (Stripe), type (OpenMeter) or code (Lago) of each exported metric."""

    minutes: str = Field(default="voice_minutes", min_length=1, max_length=100)
    calls: str = Field(default="voice_calls", min_length=1, max_length=100)
    cost_usd: str = Field(default="voice_cost_usd", min_length=1, max_length=100)


class CardsFile(_Strict):
    currency: str = "USD"
    meters: Meters = Meters()
    event_source: str = Field(default="costmodel", min_length=1)
    plans: dict[str, Versions] = {}
    tenants: dict[str, Tenant] = {}

    @field_validator("currency")
    @classmethod
    def _usd_only(cls, value: str) -> str:
        if value.upper() != "USD":
            raise ValueError(f"the ledger's money is USD: a card in {clip(value)} cannot be "
                             "compared with it")
        return "USD"


@dataclass(frozen=True, slots=True)
class Card:
    """The card pricing a tenant's day: its ``terms`` and ``id``, what names it in
    idempotency keys (``plan:starter``, ``plan:growth@2026-11-15``, ``tenant:acme``)."""

    id: str
    terms: Terms
    plan: str | None = None

    @property
    def kind(self) -> Kind:
        return self.terms.kind

    @property
    def metric(self) -> Metric:
        return METRIC_OF[self.terms.kind]


def _card_id(owner: str, terms: Terms) -> str:
    return owner + (f"@{terms.from_.isoformat()}" if terms.from_ is not None else "")


_START = date.min


class RateCards:
    """The cards of a file: which card prices a tenant on a UTC day, and its billing ids."""

    def __init__(self, data: CardsFile, path: str | None = None) -> None:
        self.path = path
        self.data = data
        self.meters = data.meters
        self.event_source = data.event_source
        self._timelines = {name: self._timeline(name, tenant)
                           for name, tenant in data.tenants.items()}

    def _timeline(self, name: str, tenant: Tenant) -> tuple[list[date], list[Card | None]]:
        """(first days, cards): the card in force from each day on, until the next; None
        where the tenant's plan has no version yet."""
        starts: list[date] = []
        cards: list[Card | None] = []
        if tenant.card is not None:
            for terms in tenant.card:
                starts.append(terms.from_ or _START)
                cards.append(Card(_card_id(f"tenant:{name}", terms), terms))
            return starts, cards
        assigned = tenant.plan or []
        for i, a in enumerate(assigned):
            begin = a.from_ or _START
            end = assigned[i + 1].from_ or _START if i + 1 < len(assigned) else date.max
            versions = self.data.plans[a.plan]
            froms = [v.from_ or _START for v in versions]
            k = bisect.bisect_right(froms, begin) - 1   # the version in force at the start
            starts.append(begin)
            cards.append(Card(_card_id(f"plan:{a.plan}", versions[k]), versions[k], a.plan)
                         if k >= 0 else None)
            for terms, first in zip(versions[k + 1:], froms[k + 1:], strict=True):
                if first >= end:
                    break
                starts.append(first)
                cards.append(Card(_card_id(f"plan:{a.plan}", terms), terms, a.plan))
        return starts, cards

    @property
    def tenants(self) -> list[str]:
        """The tenants the file names, sorted."""
        return sorted(self.data.tenants)

    def tenant(self, name: str) -> Tenant | None:
        """A tenant's entry (its billing ids), or None when the file does not name it."""
        return self.data.tenants.get(name)

    def card_for(self, tenant: str, day: date) -> Card | None:
        """The card pricing ``tenant`` on ``day``, or None (not named, not yet or no longer
        billed)."""
        timeline = self._timelines.get(tenant)
        if timeline is None:
            return None
        entry = self.data.tenants[tenant]
        if entry.until is not None and day > entry.until:
            return None
        starts, cards = timeline
        i = bisect.bisect_right(starts, day) - 1
        return cards[i] if i >= 0 else None

    def month_card(self, tenant: str, month: date) -> Card | None:
        """The card whose monthly terms (included minutes, minimum) hold for the month of
        ``month``: the one in force on its first day, else the first to start within it
        (a tenant billed from mid-month); a change of card within a month changes prices
        at once and allowances from the next month."""
        first = month.replace(day=1)
        card = self.card_for(tenant, first)
        if card is not None:
            return card
        timeline = self._timelines.get(tenant)
        if timeline is None:
            return None
        last = month_end(first)
        return next((self.card_for(tenant, s) for s, c in zip(*timeline, strict=True)
                     if c is not None and first < s <= last), None)


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The last day of ``day``'s month.

    >>> month_end(date(2028, 2, 10)).isoformat()
    '2028-02-29'
    """
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _line(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of the value at a pydantic error location (or its nearest parent);
    a list index on a single mapping (a card given without versions) stays on the mapping."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            if isinstance(part, int):
                continue
            nxt = next((v for k, v in node.value if k.value == str(part)), None)
            if nxt is None:   # an extra key: its own line
                nxt = next((k for k, _ in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _key(node: yaml.Node | None, loc: Sequence[str | int]) -> str:
    """The dotted key of a location, without list indexes the file did not write."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, yaml.SequenceNode) and part < len(node.value):
                parts[-1:] = [f"{parts[-1]}[{part}]" if parts else f"[{part}]"]
                node = node.value[part]
            continue
        if parts and not isinstance(node, yaml.MappingNode):   # (a scalar for a list: stop)
            break
        parts.append(str(part))
        if not isinstance(node, yaml.MappingNode):
            break
        node = next((v for k, v in node.value if k.value == str(part)), None)
    return ".".join(parts)


def parse_cards(text: str, path: str | os.PathLike[str] | None = None) -> RateCards:
    """Rate cards from YAML text (``path`` names it in errors). Raises `RateCardError`."""
    from .._yamlmarks import load_with_marks

    name = os.fspath(path) if path is not None else "<rate cards>"
    try:
        data, node = load_with_marks(text, name)
    except CatalogError as exc:   # the YAML loader's error: keep its line and key
        where = f"{exc.path or '<catalog>'}" + (f":{exc.line}" if exc.line else "") + ": " + (
            f"{exc.field}: " if exc.field else "")
        raise RateCardError(str(exc).removeprefix(where), path=name, line=exc.line,
                            key=exc.field) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RateCardError("a rate-card file is a YAML mapping (plans:, tenants:)", path=name,
                            line=1)
    try:
        parsed = CardsFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc: tuple[str | int, ...] = tuple(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        raise RateCardError(message, path=name, line=_line(node, loc),
                            key=_key(node, loc) or None) from None
    for tenant, entry in parsed.tenants.items():
        for i, a in enumerate(entry.plan or []):
            if a.plan not in parsed.plans:
                loc = ("tenants", tenant, "plan", i, "plan")
                known = ", ".join(sorted(parsed.plans)) or "none: add plans:"
                raise RateCardError(f"no plan named {clip(repr(a.plan))} (plans: {known})",
                                    path=name, line=_line(node, loc), key=_key(node, loc))
    return RateCards(parsed, name)


def load_cards(path: str | os.PathLike[str]) -> RateCards:
    """Read and validate a rate-card file (at most `CARDS_LIMIT` bytes).

    >>> load_cards("/nonexistent/cards.yaml")
    Traceback (most recent call last):
    costmodel.errors.RateCardError: /nonexistent/cards.yaml: cannot read: No such file or directory
    """
    name = os.fspath(path)
    text = read_text(Path(path), limit=CARDS_LIMIT,
                     fail=lambda msg: RateCardError(msg, path=name))
    return parse_cards(text, name)


def describe(card: Card) -> str:
    """A card in a few words: ``$0.12/min, 100 min included, min $20/month``."""
    t = card.terms
    parts = [f"${t.per_minute_usd}/min" if t.per_minute_usd is not None else
             f"${t.per_call_usd}/call" if t.per_call_usd is not None else f"cost x {t.markup}"]
    if t.included_minutes_per_month:
        parts.append(f"{t.included_minutes_per_month} min included")
    if t.increment_seconds:
        parts.append(f"per {t.increment_seconds} s started")
    if t.minimum_per_call_usd is not None:
        parts.append(f"min ${t.minimum_per_call_usd}/call")
    if t.minimum_per_month_usd is not None:
        parts.append(f"min ${t.minimum_per_month_usd}/month")
    return ", ".join(parts)

