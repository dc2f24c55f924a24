"""Pricing a recorded session: provider events, one JSON object per line, in, report out.

Malformed lines are reported with their line numbers and skipped; the rest is still priced.
Usage the catalog cannot price (unknown rate) is reported as *unpriced* and makes the total
unknown (``total_usd is None``): never zero.

>>> report = price_events(['{"type": "session.created", "session": {"model": "gpt-realtime-1.5"}}',
...   '{"type": "response.done", "response": {"usage": {"input_tokens": 10, "output_tokens": 0,'
...   ' "input_token_details": {"audio_tokens": 10}, "output_token_details": {}}}}'])
>>> str(report.total_usd)               # 10 audio tokens x $32 / 1M
'0.000320'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from .adapters.gemini_live import GeminiLiveReader
from .adapters.nova_sonic import NovaSonicReader
from .adapters.openai_realtime import OpenAIRealtimeReader
from .catalog import Catalog, default_catalog
from .errors import CostModelError, UnknownModelError, UsageError
from .pricing import Cost, LineItem, price, summarize
from .usage import Usage


class EventReader(Protocol):
    """A stateful reader of one provider's session events (see `costmodel.adapters`)."""

    format: str
    model: str | None

    @staticmethod
    def claims(event: Mapping[str, Any]) -> bool: ...

    def feed(self, event: Mapping[str, Any]) -> list[Usage]: ...


READERS: dict[str, type] = {
    OpenAIRealtimeReader.format: OpenAIRealtimeReader,
    GeminiLiveReader.format: GeminiLiveReader,
    NovaSonicReader.format: NovaSonicReader,
}
FORMATS = ("auto", *READERS)


@dataclass(frozen=True)
class PricedUsage:
    line: int
    cost: Cost

    @property
    def usage(self) -> Usage:
        return self.cost.usage


@dataclass(frozen=True)
class LineProblem:
    line: int
    reason: str


@dataclass
class SessionReport:
    """What a recorded session cost, line by line."""

    format: str
    model: str | None
    priced: list[PricedUsage] = field(default_factory=list)
    skipped: list[LineProblem] = field(default_factory=list)   # malformed lines
    unpriced: list[LineProblem] = field(default_factory=list)  # valid usage, no known rate
    lines: int = 0

    @property
    def total_usd(self) -> Decimal | None:
        """Exact total, or None when some usage could not be priced."""
        if self.unpriced:
            return None
        return sum((p.cost.total_usd for p in self.priced), Decimal(0))

    @property
    def priced_usd(self) -> Decimal:
        return sum((p.cost.total_usd for p in self.priced), Decimal(0))

    @property
    def line_items(self) -> list[LineItem]:
        return summarize([p.cost for p in self.priced])

    @property
    def estimated(self) -> int:
        return sum(1 for p in self.priced if p.usage.estimated)


def detect_format(event: Mapping[str, Any]) -> str | None:
    """The format whose reader claims this event, or None."""
    for name, reader in READERS.items():
        if reader.claims(event):
            return name
    return None


def _parse(text: str, lineno: int) -> dict | None:
    text = text.strip()
    if not text:
        return None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(event, dict):
        raise UsageError(f"expected a JSON object, got {type(event).__name__}")
    return event


def price_events(lines: Iterable[str], *, model: str | None = None, fmt: str = "auto",
                 transcription_model: str | None = None,
                 catalog: Catalog | None = None, on: date | None = None) -> SessionReport:
    """Price a recorded session given as JSON lines (as the provider sent them).

    `model` overrides the model named in the session's own events. Rates are those in force
    on `on` (default today; recorded events carry no reliable date). An unknown model raises
    `UnknownModelError` (the caller decides; the CLI exits 2).
    """
    catalog = catalog or default_catalog()
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if model is not None:
        catalog.resolve(model)  # fail fast, before reading anything
    if transcription_model is not None:
        catalog.resolve(transcription_model)
    reader: EventReader | None = None
    report = SessionReport(format=fmt, model=model)
    pending: list[tuple[int, dict]] = []  # lines seen before the format is known
    for lineno, text in enumerate(lines, start=1):
        report.lines = lineno
        try:
            event = _parse(text, lineno)
        except UsageError as exc:
            report.skipped.append(LineProblem(lineno, str(exc)))
            continue
        if event is None:
            continue
        if reader is None:
            name = fmt if fmt != "auto" else detect_format(event)
            if name is None:
                pending.append((lineno, event))
                continue
            reader = READERS[name](model=model, transcription_model=transcription_model)
            report.format = name
            for pline, pevent in pending:
                _feed(reader, pevent, pline, report, catalog, on)
            pending.clear()
        _feed(reader, event, lineno, report, catalog, on)
    if reader is None:
        if pending:
            report.skipped.extend(LineProblem(n, "not an event of any known format")
                                  for n, _ in pending)
        return report
    report.model = reader.model
    return report


def _feed(reader: EventReader, event: dict, lineno: int, report: SessionReport,
          catalog: Catalog, on: date | None) -> None:
    try:
        usages = reader.feed(event)
    except UsageError as exc:
        report.skipped.append(LineProblem(lineno, str(exc)))
        return
    for usage in usages:
        try:
            report.priced.append(PricedUsage(lineno, price(usage, catalog, on=on)))
        except UnknownModelError:
            raise
        except CostModelError as exc:
            report.unpriced.append(LineProblem(lineno, str(exc)))
