"""The one pricing function: `Usage` in, itemised exact `Cost` out.

Everything that costs money goes through `price`: adapters' events, the estimator's simulated
calls and the guard's metered sessions. Amounts are exact `Decimal` USD; nothing is rounded
here (display rounds once). A quantity the catalog has no rate for raises `UnknownRateError`:
it is never priced as zero.

>>> from decimal import Decimal
>>> from costmodel import Usage, price
>>> cost = price(Usage("openai/gpt-realtime-1.5", {"audio.input": 1000}))
>>> cost.total_usd == Decimal("0.032")     # 1000 tokens x $32 / 1M
True
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

from ..errors import ModelShutDownWarning, NoPriceInForceError, UnknownRateError
from .catalog import Catalog, default_catalog
from .rates import ModelEntry, PricePeriod, TimeRate
from .usage import MODALITIES, TOKEN_STATES, Usage

_ZERO = Decimal(0)
_HOUR = Decimal(3600)


@dataclass(frozen=True, slots=True)
class LineItem:
    """One priced quantity: ``quantity`` ``unit`` at ``rate_usd`` per unit = ``usd``."""

    model: str
    item: str          # "audio.cached", "connection", "audio_time", "characters", "gpu_share"
    quantity: Decimal  # billed quantity (after rounding, for time)
    unit: str          # "tokens", "seconds", "characters", "session-seconds"
    rate_usd: Decimal | None  # USD per one unit; None in a `summarize` over mixed rates
    usd: Decimal


@dataclass(frozen=True, slots=True)
class _TimePlan:
    rate: Decimal         # USD per `unit_seconds`, as the catalog gives it
    unit_seconds: int     # 1, 60 or 3600
    increment: Decimal
    minimum: Decimal

    @property
    def per_second(self) -> Decimal:
        """For display only (may be a rounded quotient); amounts use `usd`."""
        return self.rate / self.unit_seconds

    def billed_seconds(self, seconds: Decimal) -> Decimal:
        if not seconds:
            return _ZERO
        steps = (seconds / self.increment).to_integral_value(rounding=ROUND_CEILING)
        return max(self.minimum, steps * self.increment)

    def usd(self, billed_seconds: Decimal) -> Decimal:
        return billed_seconds * self.rate / self.unit_seconds


def _time_plan(rate: TimeRate | None) -> _TimePlan | None:
    if rate is None:
        return None
    usd, unit = rate.rate_and_unit_seconds()
    return _TimePlan(usd, unit, rate.increment_seconds, rate.minimum_seconds)


@dataclass(frozen=True, slots=True)
class _SelfHostPlan:
    """A session's share of a GPU deployment: seconds x gpu_usd_per_hour x gpus / divisor."""

    gpu_usd_per_hour_x_gpus: Decimal
    divisor: Decimal  # concurrent sessions x utilisation x 3600

    @property
    def per_second(self) -> Decimal:
        return self.gpu_usd_per_hour_x_gpus / self.divisor

    def usd(self, seconds: Decimal) -> Decimal:
        return seconds * self.gpu_usd_per_hour_x_gpus / self.divisor


@dataclass(frozen=True, slots=True)
class Rates:
    """A price period compiled for fast pricing: USD per single unit."""

    model: str
    period: PricePeriod
    per_token: dict[str, Decimal]
    # The same rates as integer pico-dollars (1e-12 USD) per token, when every rate is an
    # exact multiple of that (true of published prices): integer sums are exact and ~4x
    # faster than Decimal ones. None when some rate is finer.
    per_token_pico: dict[str, int] | None
    connection: _TimePlan | None
    audio: _TimePlan | None
    per_character: Decimal | None
    selfhost: _SelfHostPlan | None  # GPU share per session-second
    bills_tokens: bool = True  # False: reported tokens are informational (time-billed model)

    def known(self) -> list[str]:
        out = sorted(self.per_token)
        out += [n for n, v in (("connection time", self.connection), ("audio time", self.audio),
                               ("characters", self.per_character),
                               ("session time (self-hosted)", self.selfhost))
                if v is not None]
        return out


def compile_rates(entry: ModelEntry, day: date, catalog: Catalog) -> Rates:
    """The rates of `entry` in force on `day`, in USD per unit."""
    selfhost = None
    in_force = entry.period_on(day)
    if entry.selfhost is not None:
        sh = entry.selfhost
        gpu_rates = compile_rates(catalog.get(sh.runs_on), day, catalog)
        gpu = gpu_rates.period.gpu
        if gpu is None:  # runs_on names an entry without a GPU rate in force on `day`
            raise UnknownRateError(sh.runs_on, "gpu", gpu_rates.known())
        # One session's share of the deployment: gpus x $/h spread over the sessions it
        # serves at the utilisation achieved.
        selfhost = _SelfHostPlan(gpu.usd_per_hour * sh.gpus,
                                 sh.concurrent_sessions * sh.utilization * _HOUR)
        period = in_force or gpu_rates.period
    elif in_force is None:
        first = entry.prices[0].effective
        raise NoPriceInForceError(
            f"{entry.id} has no price in force on {day.isoformat()} "
            f"(its price history starts {first.isoformat()})")
    else:
        period = in_force
    if entry.deprecated is not None and day >= entry.deprecated:
        # Once per model and day: compiled rates are cached by (model, day).
        warnings.warn(ModelShutDownWarning(f"{entry.id}: {entry.lifecycle_note(day)}"),
                      stacklevel=3)
    own = entry.selfhost is None  # a self-host entry is priced only by its GPU share
    per_token = period.token_rates_per_token() if own else {}
    return Rates(
        model=entry.id,
        period=period,
        per_token=per_token,
        per_token_pico=_as_pico(per_token),
        connection=_time_plan(period.connection) if own else None,
        audio=_time_plan(period.audio) if own else None,
        per_character=(period.characters.usd_per_mchar / 1_000_000
                       if period.characters and own else None),
        selfhost=selfhost,
        bills_tokens=entry.facts.bills_tokens is not False,
    )


_today_read_at = -1.0  # time.monotonic() of the last read
_today_day = date.min


def _today() -> date:
    """date.today(), re-read at most once a second (it costs ~0.4 us; pricing is per event)."""
    global _today_read_at, _today_day
    now = time.monotonic()
    if now - _today_read_at > 1.0:
        _today_read_at, _today_day = now, date.today()
    return _today_day


_PICO = Decimal("1e12")


def _as_pico(per_token: dict[str, Decimal]) -> dict[str, int] | None:
    out = {}
    for key, rate in per_token.items():
        pico = rate * _PICO
        if pico != pico.to_integral_value():
            return None
        out[key] = int(pico)
    return out


def rates_for(model: str, day: date | None = None, catalog: Catalog | None = None) -> Rates:
    """Compiled rates for a model id or alias on a date (default today); cached per catalog."""
    catalog = catalog or default_catalog()
    day = day or _today()
    key = (model, day)
    hit = catalog._compiled.get(key)
    if hit is None:
        hit = compile_rates(catalog.get(model), day, catalog)
        catalog._compiled[key] = hit
    return hit


@dataclass(slots=True)  # not frozen, for speed (built once per priced usage); do not mutate
class Cost:
    """The exact cost of one `Usage`: a total and its line items.

    Line items are built on first access; the total is computed eagerly (the hot path).
    """

    usage: Usage
    rates: Rates
    total_usd: Decimal
    _items: list[LineItem] | None = None  # kept when pricing already built them

    @property
    def model(self) -> str:
        return self.rates.model

    @property
    def line_items(self) -> list[LineItem]:
        if self._items is None:
            self._items = _line_items(self.usage, self.rates)
        return self._items


def _line_items(usage: Usage, rates: Rates) -> list[LineItem]:
    items = []
    model = rates.model
    for key, n in (usage.tokens.items() if rates.bills_tokens else ()):
        if n:
            rate = rates.per_token[key]
            items.append(LineItem(model, key, Decimal(n), "tokens", rate, n * rate))
    for name, seconds, plan in (("connection", usage.connection_seconds, rates.connection),
                                ("audio_time", usage.audio_seconds, rates.audio)):
        if seconds and plan is not None:
            billed = plan.billed_seconds(seconds)
            items.append(LineItem(model, name, billed, "seconds", plan.per_second,
                                  plan.usd(billed)))
    if usage.characters and rates.per_character is not None:
        items.append(LineItem(model, "characters", Decimal(usage.characters), "characters",
                              rates.per_character, usage.characters * rates.per_character))
    if rates.selfhost is not None and usage.connection_seconds:
        s = usage.connection_seconds
        items.append(LineItem(model, "gpu_share", s, "session-seconds",
                              rates.selfhost.per_second, rates.selfhost.usd(s)))
    return items


def _unknown(usage: Usage, rates: Rates) -> None:
    for key, n in (usage.tokens.items() if rates.bills_tokens else ()):
        if n and key not in rates.per_token:
            raise UnknownRateError(rates.model, f"{key} tokens ({n})", rates.known())
    if usage.connection_seconds and rates.connection is None and rates.selfhost is None:
        raise UnknownRateError(rates.model, "connection time", rates.known())
    if usage.audio_seconds and rates.audio is None:
        raise UnknownRateError(rates.model, "audio time", rates.known())
    if usage.characters and rates.per_character is None:
        raise UnknownRateError(rates.model, "characters", rates.known())


def token_cost(tokens: Mapping[str, int], rates: Rates) -> Decimal:
    """The token part of `price`, on compiled `Rates`: exact USD for disjoint buckets.

    For hot paths that price hypothetical usage (the guard's projection of the next
    response); `price` itself uses it. Raises KeyError for a bucket without a rate.
    """
    return _token_total(tokens, rates) if rates.bills_tokens else _ZERO


def _token_total(tokens: Mapping[str, int], rates: Rates) -> Decimal:
    pico = rates.per_token_pico
    if pico is not None:
        picodollars = 0
        for key, n in tokens.items():
            picodollars += n * pico[key]
        return Decimal(picodollars).scaleb(-12)
    per_token = rates.per_token
    total = _ZERO
    for key, n in tokens.items():
        total += n * per_token[key]
    return total


def price(usage: Usage, catalog: Catalog | None = None, *, on: date | None = None) -> Cost:
    """Price one `Usage` exactly, at the rates in force on ``usage.at`` (or `on`, or today).

    Raises `UnknownModelError` for an unknown model and `UnknownRateError` for a quantity the
    model has no rate for.
    """
    if catalog is None:
        catalog = default_catalog()
    rates = catalog._compiled.get((usage.model, usage.at or on or _today()))
    if rates is None:
        rates = rates_for(usage.model, usage.at or on, catalog)
    try:
        total = _token_total(usage.tokens, rates) if rates.bills_tokens and usage.tokens \
            else _ZERO
    except KeyError:
        _unknown(usage, rates)  # raises for a count the model has no rate for
        # only zero counts of unpriced kinds: price the rest
        total = _token_total({k: n for k, n in usage.tokens.items() if n}, rates)
    if usage.connection_seconds or usage.audio_seconds or usage.characters:
        _unknown(usage, rates)
        items = _line_items(usage, rates)
        for item in items:
            if item.unit != "tokens":
                total += item.usd
        return Cost(usage, rates, total, items)
    return Cost(usage, rates, total)


def price_all(usages: list[Usage], catalog: Catalog | None = None, *,
              on: date | None = None) -> list[Cost]:
    """`price` over many usages (the same catalog and date for all)."""
    return [price(u, catalog, on=on) for u in usages]


def summarize(costs: list[Cost]) -> list[LineItem]:
    """Line items summed by (model, item), in first-seen order; time items keep their units."""
    acc: dict[tuple[str, str], LineItem] = {}
    for cost in costs:
        for li in cost.line_items:
            key = (li.model, li.item)
            slot = acc.get(key)
            if slot is None:  # (0 + x, as every sum: 100, not 1E+2)
                acc[key] = LineItem(li.model, li.item, _ZERO + li.quantity, li.unit,
                                    li.rate_usd, _ZERO + li.usd)
                continue
            # mixed rates (a price change mid-way): no single rate
            rate = slot.rate_usd if slot.rate_usd == li.rate_usd else None
            acc[key] = LineItem(slot.model, slot.item, slot.quantity + li.quantity, slot.unit,
                                rate, slot.usd + li.usd)
    items = list(acc.values())
    models = list(dict.fromkeys(m for m, _ in acc))
    return sorted(items, key=lambda li: (models.index(li.model), _ITEM_ORDER.get(li.item, 99)))


# Line items read best in this order: input, cached, writes, output; text, audio, image.
_ITEM_ORDER = {f"{m}.{s}": i * 3 + j for i, s in enumerate(TOKEN_STATES)
               for j, m in enumerate(MODALITIES)}
_ITEM_ORDER.update({"connection": 90, "audio_time": 91, "characters": 92, "gpu_share": 93})
