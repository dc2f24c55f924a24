"""The catalog against a public price map: every rate that differs, and what they price that
we leave unpriced. Pure: `diff` takes a `Catalog`, a `PriceMap` and a day.

A map's row is compared with the catalog entry its id resolves to (`Catalog.resolve`, scoped
to the row's provider), and only when that entry belongs to the provider whose list price the
row is. Rates are compared in the catalog's units (USD per 1M tokens, per minute, per 1M
characters) and agree within `TOLERANCE` (maps store per-second or per-token figures rounded
from per-minute or per-1M prices: $0.0077/min is 0.00012833/s). A map that prices a model by
time of day (genai-prices' DeepSeek peak hours) agrees when ours is one of its prices.

A difference is **explained** when our price period keeps an `alternatives` entry for it: one
whose figure states their number (any number in its text, in our unit), or whose source or
note names the map ("LiteLLM 1.110.2 ..."). The rest are unexplained: the catalog or the map
is wrong, or the disagreement is not yet recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ..catalog import Catalog
from ..rates import AltFigure, ModelEntry, PricePeriod
from .maps import PriceMap, TheirRow

TOLERANCE = Decimal("0.0001")  # relative
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_NAMES = {"litellm": ("litellm",), "genai-prices": ("genai-prices", "genai_prices",
                                                    "pydantic/genai")}


def unit_of(rate: str) -> str:
    if rate in ("audio", "connection"):
        return "min"
    if rate == "characters":
        return "1M chars"
    return "1M tok"


@dataclass(frozen=True)
class RateDiff:
    """One rate on which the map and the catalog disagree."""

    model: str
    rate: str             # "audio.input", "connection", "audio" (time), "characters"
    unit: str
    ours: Decimal
    theirs: Decimal
    their_ids: tuple[str, ...]
    source: str           # our source URL for this rate
    checked: date
    explained_by: AltFigure | None = None

    @property
    def ratio(self) -> Decimal | None:
        """theirs / ours (None when ours is 0)."""
        return self.theirs / self.ours if self.ours else None


@dataclass(frozen=True)
class Unpriced:
    """A rate the map gives and the catalog entry leaves out."""

    model: str
    rate: str
    unit: str
    theirs: Decimal
    their_ids: tuple[str, ...]


@dataclass
class DiffReport:
    against: str
    path: str
    day: date
    models: list[str] = field(default_factory=list)   # catalog ids compared
    agreeing: int = 0                                  # rates that agree
    differences: list[RateDiff] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)

    @property
    def unexplained(self) -> list[RateDiff]:
        return [d for d in self.differences if d.explained_by is None]


def diff(catalog: Catalog, their: PriceMap, day: date) -> DiffReport:
    """Compare every row of `their` that resolves to a catalog entry of its provider."""
    report = DiffReport(their.label, their.path, day)
    matched: dict[str, list[TheirRow]] = {}
    for row in their.rows:
        eid = _match(catalog, row)
        if eid is not None:
            matched.setdefault(eid, []).append(row)
    for eid in sorted(matched):
        entry = catalog.entries[eid]
        period = entry.period_on(day)
        if period is None:
            continue
        report.models.append(eid)
        _compare(report, entry, period, matched[eid], their.name)
    return report


def _match(catalog: Catalog, row: TheirRow) -> str | None:
    resolver = catalog.resolver()   # (not `resolve`: no near matches for a miss)
    for name in row.names:
        eid = resolver.find(name, row.provider)
        if isinstance(eid, str) and eid.split("/", 1)[0] == row.provider:
            return eid
    return None


def _ours(period: PricePeriod) -> dict[str, Decimal]:
    """Our rates in force, in the units `unit_of` names."""
    rates = dict(period.token_rates_per_mtok())
    for name in ("connection", "audio"):
        time = getattr(period, name)
        if time is not None:
            rates[name] = time.per_minute
    if period.characters is not None:
        rates["characters"] = period.characters.usd_per_mchar
    return rates


def _compare(report: DiffReport, entry: ModelEntry, period: PricePeriod,
             rows: list[TheirRow], map_name: str) -> None:
    ours = _ours(period)
    seen: dict[tuple[str, Decimal], list[str]] = {}   # (our rate, their figure) -> their ids
    for row in rows:
        for rate, theirs in _their_rates(row, ours):
            key = "time" if rate in ("connection", "audio") else rate
            if rate in ours and any(_agree(ours[rate], v[key]) for v in row.variants
                                    if key in v):
                theirs = ours[rate]   # ours is their price at some time of day
            seen.setdefault((rate, theirs), []).append(row.key)   # (equal Decimals: one key)
    for (rate, theirs), ids in seen.items():
        unit = unit_of(rate)
        if rate not in ours:
            if theirs:
                report.unpriced.append(Unpriced(entry.id, rate, unit, theirs, tuple(ids)))
            continue
        if _agree(ours[rate], theirs):
            report.agreeing += 1
            continue
        report.differences.append(RateDiff(
            entry.id, rate, unit, ours[rate], theirs, tuple(ids),
            period.sources.get(rate, period.source), period.checked,
            _explanation(period.alternatives, theirs, map_name)))


def _their_rates(row: TheirRow, ours: dict[str, Decimal]) -> Iterator[tuple[str, Decimal]]:
    """A row's rates under our keys: a time rate is compared with our connection or audio
    rate, whichever the entry has; a model we price by tokens has no time rate to miss."""
    tokens_only = not any(k in ours for k in ("connection", "audio")) and any(
        "." in k for k in ours)
    for rate, value in row.rates.items():
        if rate != "time":
            yield rate, value
        elif "connection" in ours:
            yield "connection", value
        elif "audio" in ours or not tokens_only:
            yield "audio", value


def _agree(ours: Decimal, theirs: Decimal) -> bool:
    if ours == theirs:
        return True
    if not ours:
        return False
    return abs(theirs / ours - 1) <= TOLERANCE


def _explanation(alternatives: Iterable[AltFigure], theirs: Decimal, map_name: str
                 ) -> AltFigure | None:
    names = _NAMES.get(map_name, (map_name,))
    for alt in alternatives:
        figures = (Decimal(n.replace(",", "")) for n in _NUMBER.findall(alt.figure))
        if any(_agree(f, theirs) for f in figures if f):
            return alt
        said = f"{alt.source} {alt.note}".lower()
        if any(n in said for n in names):
            return alt
    return None
