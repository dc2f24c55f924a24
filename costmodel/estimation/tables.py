"""Per-call cost tables, priced once and reused: per (component, call shape, rates).

A stack's cost tables (cumulative cost of responses 1..N, cost of each call length) depend
only on its components, the parts of the scenario each component reads (turn timing, prompt
size, cache, truncation: `Component.reads`) and the rates (catalog and day). They do not
depend on the call volume, on the call-length distribution (tables grow to the longest call
asked for) or on the other stacks. A `TableCache` keeps them, so

- a new calls-per-month re-prices nothing (the monthly total is calls x mean per call);
- adding a stack prices only that stack's components (a telephony line shared by several
  stacks is priced once);
- a sweep over the cache hit ratio re-prices only what reads the cache (a re-billing
  realtime model, a chained LLM), never the time-billed parts.

Pass one to `estimate`, `curve` and `sweep` (``cache=``) to share it across calls; without
one each call uses a fresh cache. Sampled call lengths are cached too (per distribution,
number of calls and seed). A cache is safe to share between threads.

>>> from costmodel.estimation import Scenario, estimate
>>> sc = Scenario.model_validate({"name": "x", "volume": {"calls_per_month": 1000},
...     "duration_min": {"fixed": 2}, "stacks": ["xai/grok-voice-agent"]})
>>> cache = TableCache()
>>> a = estimate(sc, cache=cache, calls_per_month=1000).results[0]
>>> b = estimate(sc, cache=cache, calls_per_month=5000).results[0]
>>> cache.stats()["priced_components"], round(b.monthly_usd / a.monthly_usd, 9)
(1, 5.0)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from ..core.catalog import Catalog
from ..core.pricing import Rates, price, rates_for
from ..core.usage import Usage
from .lengths import Lengths
from .scenario import Scenario
from .simulate import Component, StackModel

_ZERO = Decimal(0)
_MISSING = object()
_EXACT = 2 ** 53   # integers below this convert to float exactly


def priced_once(usage: Usage) -> None:
    """Called once for each distinct usage a table prices, by `price` or from the compiled
    rates (tests count the calls: what is cached must not be priced again)."""


class _Priced:
    """Each distinct usage priced once with `price`, as (column, USD) pairs; columns name
    'model item' in first-seen order. Responses repeat (a truncated context, a fixed TTS or
    STT turn) and per-call usages repeat across lengths with the same number of turns."""

    def __init__(self, catalog: Catalog, day: date) -> None:
        self.catalog, self.day = catalog, day
        self.columns: dict[str, int] = {}
        self._seen: dict[tuple[Any, ...], list[tuple[int, Decimal]]] = {}
        self._rates: dict[tuple[str, date | None], Rates] = {}
        self._token_cols: dict[str, dict[str, int]] = {}   # model -> item -> column
        self._pico: dict[tuple[Any, ...], list[tuple[int, int]] | None] = {}

    def __call__(self, usage: Usage) -> list[tuple[int, Decimal]]:
        key = (usage.model, tuple(usage.tokens.items()), usage.connection_seconds,
               usage.audio_seconds, usage.characters, usage.at)
        items = self._seen.get(key)
        if items is None:
            priced_once(usage)
            items = self._tokens_only(usage)
            if items is None:
                cols = self.columns
                items = [(cols.setdefault(f"{li.model} {li.item}", len(cols)), li.usd)
                         for li in price(usage, self.catalog, on=self.day).line_items]
            self._seen[key] = items
        return items

    def pico(self, usage: Usage) -> list[tuple[int, int]] | None:
        """The same items in integer picodollars (1e-12 USD), or None when some amount is
        not a whole number of them (or `price` would raise: the caller prices it then)."""
        key = (usage.model, tuple(usage.tokens.items()), usage.connection_seconds,
               usage.audio_seconds, usage.characters, usage.at)
        found = self._pico.get(key, _MISSING)
        if found is _MISSING:
            found = self._pico[key] = self._pico_items(usage)
        return found  # type: ignore[return-value]

    def _pico_items(self, usage: Usage) -> list[tuple[int, int]] | None:
        if not (usage.connection_seconds or usage.audio_seconds or usage.characters):
            rates = self._rates_of(usage)
            pico = rates.per_token_pico
            if not rates.bills_tokens:
                return []
            if pico is not None:
                out = []
                cols = self._token_cols.setdefault(rates.model, {})
                for k, n in usage.tokens.items():
                    if n:
                        rate = pico.get(k)
                        if rate is None:
                            return None
                        c = cols.get(k)
                        out.append((self._token_col(rates.model, k) if c is None else c,
                                    n * rate))
                priced_once(usage)
                return out
        items = []
        for c, usd in self(usage):
            q = usd.scaleb(12)
            if q != q.to_integral_value():
                return None
            items.append((c, int(q)))
        return items

    def _rates_of(self, usage: Usage) -> Rates:
        rkey = (usage.model, usage.at)
        rates = self._rates.get(rkey)
        if rates is None:
            rates = self._rates[rkey] = rates_for(usage.model, usage.at or self.day,
                                                  self.catalog)
        return rates

    def _token_col(self, model: str, item: str) -> int:
        known = self._token_cols.setdefault(model, {})
        col = known.get(item)
        if col is None:
            cols = self.columns
            col = known[item] = cols.setdefault(f"{model} {item}", len(cols))
        return col

    def _tokens_only(self, usage: Usage) -> list[tuple[int, Decimal]] | None:
        """A usage of tokens only, priced as `price` does (tokens x rate per token, one line
        item per non-zero count) without building its `Cost`; None for anything else (time,
        characters, a count without a rate): `price` prices it or says what is wrong."""
        if usage.connection_seconds or usage.audio_seconds or usage.characters:
            return None
        rates = self._rates_of(usage)
        if not rates.bills_tokens:
            return []
        per_token, out = rates.per_token, []
        for k, n in usage.tokens.items():
            if n:
                rate = per_token.get(k)
                if rate is None:
                    return None
                out.append((self._token_col(rates.model, k), n * rate))
        return out


def _matrix(rows: list[dict[int, Decimal]], height: int, width: int, first: int) -> np.ndarray:
    out = np.zeros((height, width))
    if rows and width:
        flat = [0.0] * (len(rows) * width)
        for r, row in enumerate(rows):
            base = r * width
            for c, usd in row.items():
                flat[base + c] = float(usd)
        out[first:first + len(rows)] = np.array(flat).reshape(len(rows), width)
    return out


class ComponentTable:
    """One component's priced responses (cumulative, exact) and per-call-length costs, grown
    on demand: responses up to the most asked for, call lengths as they are asked for."""

    def __init__(self, comp: Component, sc: Scenario, catalog: Catalog, day: date) -> None:
        self.comp, self.scenario, self.catalog = comp, sc, catalog
        self.priced = _Priced(catalog, day)
        self._turn_rows: list[dict[int, Decimal]] = []
        self._running: dict[int, Decimal] = {}
        self._call_rows: dict[int, dict[int, Decimal]] = {}
        self._turn_np: np.ndarray | None = None
        # Responses' items in integer picodollars while all are whole (else None: Decimal rows)
        self._inc: list[list[tuple[int, int]]] | None = []
        self._call_np: tuple[bytes, int, np.ndarray] | None = None   # the last lengths asked

    @property
    def items(self) -> list[str]:
        return list(self.priced.columns)

    def turns(self, n: int) -> np.ndarray:
        """[n + 1, items]: cost of responses 1..k by item (row 0 is zero)."""
        if self._inc is not None:
            return self._pico_turns(n)
        rows = self._turn_rows
        if len(rows) < n:
            for k in range(len(rows) + 1, n + 1):
                usage = self.comp.response_usage(k)
                if usage is not None:
                    for c, usd in self.priced(usage):
                        self._running[c] = self._running.get(c, _ZERO) + usd
                rows.append(dict(self._running))
            self._turn_np = None
        width = len(self.priced.columns)
        if self._turn_np is None or self._turn_np.shape[1] != width:
            self._turn_np = _matrix(rows, len(rows) + 1, width, first=1)
        return self._turn_np[:n + 1]

    def _pico_turns(self, n: int) -> np.ndarray:
        """`turns` while every response's cost is a whole number of picodollars: responses
        are kept as integer items and summed exactly (numpy int64), then divided by 1e12 once,
        which gives the same floats as the exact Decimal sums (both below 2**53)."""
        inc = self._inc
        assert inc is not None
        if len(inc) < n:
            response, pico = self.comp.response_usage, self.priced.pico
            for k in range(len(inc) + 1, n + 1):
                usage = response(k)
                items = pico(usage) if usage is not None else []
                if items is None:
                    return self._to_decimal().turns(n)
                inc.append(items)
            self._turn_np = None
        width = len(self.priced.columns)
        if self._turn_np is None or self._turn_np.shape[1] != width:
            flat = [0] * ((len(inc) + 1) * width)
            for r, items in enumerate(inc, start=1):
                base = r * width
                for c, p in items:
                    flat[base + c] += p
            try:
                steps = np.array(flat, dtype=np.int64).reshape(len(inc) + 1, width)
            except OverflowError:   # an amount beyond int64: exact Decimals instead
                return self._to_decimal().turns(n)
            # every partial sum is below this bound: exact in int64 and in float64
            if np.abs(steps).sum(dtype=np.float64) >= _EXACT / 2:
                return self._to_decimal().turns(n)
            self._turn_np = np.cumsum(steps, axis=0) / 1e12
        return self._turn_np[:n + 1]

    def _to_decimal(self) -> ComponentTable:
        """Leave integer picodollars for exact Decimals (a rate finer than a picodollar, or
        sums too large for exact floats): the responses kept so far become Decimal rows."""
        inc, self._inc, self._turn_np = self._inc, None, None
        scale = Decimal(10) ** -12
        for items in inc or []:
            for c, p in items:
                self._running[c] = self._running.get(c, _ZERO) + p * scale
            self._turn_rows.append(dict(self._running))
        return self

    def calls(self, seconds: np.ndarray) -> np.ndarray:
        """[len(seconds), items]: the per-call usage's cost of each call length."""
        key = seconds.tobytes()
        last = self._call_np
        if last is not None and last[0] == key and last[1] == len(self.priced.columns):
            return last[2]
        rows = self._call_rows
        for s in seconds.tolist():
            if s not in rows:
                row: dict[int, Decimal] = {}
                usage = self.comp.call_usage(s, self.scenario.responses_per_call(s))
                if usage is not None:
                    for c, usd in self.priced(usage):
                        row[c] = row.get(c, _ZERO) + usd
                rows[s] = row
        width = len(self.priced.columns)
        out = _matrix([rows[s] for s in seconds.tolist()], len(seconds), width, first=0)
        self._call_np = (key, width, out)
        return out


@dataclass
class CostTables:
    """Cumulative per-response costs and per-call-length costs of one stack."""

    stack: StackModel
    turn_cum: np.ndarray          # [N_max + 1]: cost of responses 1..N
    turn_items: np.ndarray        # [N_max + 1, items]
    seconds: np.ndarray           # distinct call lengths priced
    call_cost: np.ndarray         # [len(seconds)]
    call_items: np.ndarray        # [len(seconds), items]
    items: list[str]


def shape_key(comp: Component, sc: Scenario, system_tokens: int) -> tuple[Any, ...]:
    """What a component's usages depend on besides its model: the scenario parts it reads."""
    parts: dict[str, Any] = {
        "turns": sc.turns, "prompt": system_tokens, "cache": sc.cache,
        "truncation": sc.truncation}
    return (comp.role, comp.model, tuple((p, parts[p]) for p in comp.reads), comp.variant)


class TableCache:
    """Cost tables of stack components and sampled call lengths, least recently used first
    out. Keys: (component role and model, the scenario parts it reads, catalog, day)."""

    def __init__(self, max_components: int = 512, max_lengths: int = 8) -> None:
        self._tables: OrderedDict[tuple[Any, ...], ComponentTable] = OrderedDict()
        self._lengths: OrderedDict[tuple[Any, ...], Lengths] = OrderedDict()
        self.max_components, self.max_lengths = max_components, max_lengths
        self._lock = threading.RLock()
        self._priced = 0

    def component(self, comp: Component, sc: Scenario, catalog: Catalog, day: date,
                  system_tokens: int) -> ComponentTable:
        # id(catalog) is safe as a key: each entry holds its catalog, so the id is not reused
        key = (id(catalog), day, shape_key(comp, sc, system_tokens))
        with self._lock:
            found = self._tables.get(key)
            if found is not None and found.catalog is catalog:
                self._tables.move_to_end(key)
                return found
            found = self._tables[key] = ComponentTable(comp, sc, catalog, day)
            self._priced += 1
            while len(self._tables) > self.max_components:
                self._tables.popitem(last=False)
            return found

    def lengths(self, key: tuple[Any, ...], sample: Callable[[], Lengths]) -> Lengths:
        with self._lock:
            found = self._lengths.get(key)
            if found is None:
                found = self._lengths[key] = sample()
                while len(self._lengths) > self.max_lengths:
                    self._lengths.popitem(last=False)
            else:
                self._lengths.move_to_end(key)
            return found

    def tables(self, model: StackModel, max_responses: int, seconds: np.ndarray,
               catalog: Catalog, day: date) -> CostTables:
        """A stack's tables for responses 1..max_responses and these call lengths."""
        sc = model.scenario
        system = sc.system_tokens() if any("prompt" in c.reads for c in model.components) \
            else 0
        if not model.has_responses:
            max_responses = 0  # time-billed stacks: nothing is priced per response
        turn_parts, call_parts, items = [], [], []
        with self._lock:
            for comp in model.components:
                table = self.component(comp, sc, catalog, day, system)
                turn = table.turns(max_responses)
                call = table.calls(seconds) if model.has_calls else np.zeros((len(seconds), 0))
                width = len(table.items)
                turn_parts.append(_pad(turn, width))
                call_parts.append(_pad(call, width))
                items += table.items
        turn_items = np.hstack(turn_parts) if items else np.zeros((max_responses + 1, 1))
        call_items = np.hstack(call_parts) if items else np.zeros((len(seconds), 1))
        return CostTables(model, turn_items.sum(axis=1), turn_items, seconds,
                          call_items.sum(axis=1), call_items, items or [""])

    def stats(self) -> dict[str, int]:
        """How much is cached: `priced_components` counts tables ever created."""
        with self._lock:
            return {"components": len(self._tables), "lengths": len(self._lengths),
                    "priced_components": self._priced}

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()
            self._lengths.clear()


def _pad(m: np.ndarray, width: int) -> np.ndarray:
    """`m` widened with zero columns to `width` (a table grown since it was last read)."""
    if m.shape[1] == width:
        return m
    out = np.zeros((m.shape[0], width))
    out[:, :m.shape[1]] = m
    return out
