"""The catalog facts a fit reads, looked up once per model name.

Sessions name their models as payloads do (``gpt-realtime-1.5``, ``models/gemini-...``); each
name is resolved once (`Catalog.resolve`: an unknown one raises `UnknownModelError` naming the
nearest ids) and its entry's billing facts kept.

>>> book = ModelBook()
>>> m = book.model("gpt-realtime-1.5")
>>> m.id, m.kind, m.tps_in, m.tps_out, m.rebills
('openai/gpt-realtime-1.5', 'realtime', 10.0, 20.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..core.catalog import Catalog, default_catalog
from ..core.rates import ModelEntry, PricePeriod


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What fitting needs to know about one model (None: the catalog does not say)."""

    id: str
    kind: str
    tps_in: float | None          # audio tokens per second of input
    tps_out: float | None         # audio tokens per second of output
    rebills: bool                 # re-bills the whole context on every response
    bills_silence: bool           # streams (and bills) all input audio, silence included
    truncation_tokens: int | None  # input size past which the server truncates
    max_session_seconds: int | None  # a session's longest life (the estimator reconnects)
    min_prefix: int               # the shortest prompt a cache serves
    increment: int                # caches serve whole multiples of this
    can_cache: bool               # has a cached-input rate
    cache_automatic: bool         # no explicit cache writes
    rates: frozenset[str]         # what the price in force bills: token keys, "audio", ...


def _facts(entry: ModelEntry, period: PricePeriod | None) -> ModelFacts:
    f = entry.facts
    rules = f.cache
    tokens = period.token_rates_per_mtok() if period is not None else {}
    billed = set(tokens)
    if period is not None:
        for kind in ("connection", "audio", "characters"):
            if getattr(period, kind) is not None:
                billed.add(kind)
    return ModelFacts(
        id=entry.id, kind=entry.kind,
        tps_in=float(f.audio_tokens_per_second_in) if f.audio_tokens_per_second_in else None,
        tps_out=float(f.audio_tokens_per_second_out) if f.audio_tokens_per_second_out else None,
        rebills=bool(f.rebills_context), bills_silence=bool(f.bills_silence),
        truncation_tokens=f.truncation_threshold_tokens,
        max_session_seconds=f.max_session_seconds,
        min_prefix=(rules.min_prefix_tokens or 0) if rules else 0,
        increment=(rules.increment_tokens or 1) if rules else 1,
        can_cache=any(k.endswith(".cached") for k in tokens),
        cache_automatic=rules.automatic if rules else True,
        rates=frozenset(billed))


class ModelBook:
    """Model names resolved against a catalog, and their facts, memoised (bounded by the
    distinct names the sessions carry)."""

    def __init__(self, catalog: Catalog | None = None, day: date | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self.day = day or date.today()
        self._by_name: dict[str, ModelFacts] = {}

    def model(self, name: str) -> ModelFacts:
        found = self._by_name.get(name)
        if found is None:
            entry = self.catalog.get(name)
            period = entry.period_on(self.day) or (entry.prices[-1] if entry.prices else None)
            found = _facts(entry, period)
            if len(self._by_name) < 10_000:
                self._by_name[name] = found
        return found
