"""Pricing a recorded session: provider events, one JSON object per line, in, report out.

Malformed lines are reported with their line numbers and skipped; the rest is still priced.
Usage the catalog cannot price (unknown rate) is reported as *unpriced* and makes the total
unknown (``total_usd is None``): never zero.

>>> from decimal import Decimal
>>> report = price_events(['{"type": "session.created", "session": {"model": "gpt-realtime-1.5"}}',
...   '{"type": "response.done", "response": {"usage": {"input_tokens": 10, "output_tokens": 0,'
...   ' "input_token_details": {"audio_tokens": 10}, "output_token_details": {}}}}'])
>>> report.total_usd == Decimal("0.00032")     # 10 audio tokens x $32 / 1M
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from ..core.catalog import Catalog, default_catalog
from ..core.pricing import Cost, LineItem, price, summarize
from ..core.usage import Usage
from ..errors import CostModelError, InputError, MissingModelError, UnknownModelError, UsageError
from .gemini_live import GeminiLiveReader
from .nova_sonic import NovaSonicReader
from .openai_realtime import OpenAIRealtimeReader


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
    # How many of each there were; the lists keep the first `KEPT_PROBLEMS` (a file of
    # garbage must not fill memory with the reasons).
    skipped_count: int = 0
    unpriced_count: int = 0

    def skip(self, line: int, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < KEPT_PROBLEMS:
            self.skipped.append(LineProblem(line, reason))

    def unprice(self, line: int, reason: str) -> None:
        self.unpriced_count += 1
        if len(self.unpriced) < KEPT_PROBLEMS:
            self.unpriced.append(LineProblem(line, reason))

    @property
    def total_usd(self) -> Decimal | None:
        """Exact total, or None when it is not known (`unknown_reason` says why)."""
        if self.unknown_reason is not None:
            return None
        return sum((p.cost.total_usd for p in self.priced), Decimal(0))

    @property
    def unknown_reason(self) -> str | None:
        """Why the total is unknown, or None when it is known.

        It is unknown when some usage has no known rate, and when nothing at all was priced:
        a session whose every usage line was rejected did not cost $0, we just cannot tell.
        """
        if self.unpriced:
            n = self.unpriced_count
            return (f"{n} {'usage has' if n == 1 else 'usages have'} no known rate "
                    f"(first, line {self.unpriced[0].line}: {self.unpriced[0].reason})")
        if self.priced:
            return None
        if self.skipped:
            first = self.skipped[0]
            return (f"no usage could be priced: {self.skipped_count} of {self.lines} lines "
                    f"were rejected (first, line {first.line}: {first.reason})")
        return "no usage found in this file"

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


def _no_constant(name: str) -> Any:
    raise UsageError(f"{name} is not a JSON number")


def parse_line(text: str) -> dict | None:
    """One recorded event line as a JSON object; None for a blank line.

    Raises `UsageError` saying what is wrong (never with the line's content), for the caller
    to report the line as skipped.
    """
    text = text.strip()
    if not text:
        return None
    try:
        event = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise UsageError("JSON nested too deeply") from None
    except UsageError:
        raise
    except ValueError:  # Python refuses int() of more than 4,300 digits
        raise UsageError("a JSON number with too many digits") from None
    if not isinstance(event, dict):
        raise UsageError(f"expected a JSON object, got {type(event).__name__}")
    return event


def price_events(lines: Iterable[str], *, model: str | None = None, fmt: str = "auto",
                 transcription_model: str | None = None,
                 catalog: Catalog | None = None, on: date | None = None,
                 connection_seconds: Decimal | None = None) -> SessionReport:
    """Price a recorded session given as JSON lines (as the provider sent them).

    `model` overrides the model named in the session's own events. Rates are those in force
    on `on` (default today; recorded events carry no reliable date). `connection_seconds` is
    the session's length, needed for models billed by connection time (their events' token
    counts are informational). An unknown model raises `UnknownModelError` (the caller
    decides; the CLI exits 2); a forced `fmt` that matches none of the events raises
    `InputError`.
    """
    catalog = catalog or default_catalog()
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if model is not None:
        catalog.resolve(model)  # fail fast, before reading anything
    if transcription_model is not None:
        catalog.resolve(transcription_model)
    reader: EventReader | None = None
    report = SessionReport(format=fmt, model=model)
    pending: list[tuple[int, dict]] = []  # lines seen before the format is known
    claimed = 0  # events the forced format's reader recognises
    sample: list[dict] = []  # a few events, to say what a mismatched file looks like
    for lineno, text in enumerate(lines, start=1):
        report.lines = lineno
        try:
            event = parse_line(text)
        except UsageError as exc:
            report.skip(lineno, str(exc))
            continue
        if event is None:
            continue
        if len(sample) < 20:
            sample.append(event)
        if reader is None:
            name = fmt if fmt != "auto" else detect_format(event)
            if name is None:
                if len(pending) < _PENDING_MAX:
                    pending.append((lineno, event))
                else:
                    report.skip(lineno, _NO_FORMAT)
                continue
            reader = READERS[name](model=model, transcription_model=transcription_model)
            report.format = name
            for pline, pevent in pending:
                _feed(reader, pevent, pline, report, catalog, on)
            pending.clear()
        claimed += reader.claims(event)
        _feed(reader, event, lineno, report, catalog, on)
    if reader is None:
        for n, _ in pending:
            report.skip(n, _NO_FORMAT)
        return report
    if fmt != "auto" and not claimed and report.lines:
        found = sorted({f for f in map(detect_format, sample) if f})
        raise InputError(f"no event in this file looks like {fmt}"
                         + (f" (it looks like {', '.join(found)})" if found else ""))
    report.model = reader.model
    if connection_seconds is not None and reader.model is not None:
        session = Usage(catalog.resolve(reader.model), connection_seconds=connection_seconds,
                        label="connection")
        try:
            report.priced.append(PricedUsage(report.lines, price(session, catalog, on=on)))
        except CostModelError as exc:
            report.unprice(report.lines, str(exc))
        time_billed = [p for p in report.unpriced if p.reason == _TIME_BILLED]
        if time_billed:  # priced now: the session's length was given
            report.unpriced = [p for p in report.unpriced if p.reason != _TIME_BILLED]
            report.unpriced_count -= len(time_billed)
    return report


KEPT_PROBLEMS = 1000
_PENDING_MAX = 10_000   # events held back until one of them shows the file's format
_NO_FORMAT = "not an event of any known format"
_TIME_BILLED = ("billed by connection time, and recorded events carry none: give the "
                "session's length (--connection-seconds) to price it")


def _feed(reader: EventReader, event: dict, lineno: int, report: SessionReport,
          catalog: Catalog, on: date | None) -> None:
    try:
        usages = reader.feed(event)
    except MissingModelError as exc:
        report.unprice(lineno, str(exc))  # the total becomes unknown
        return
    except UsageError as exc:
        report.skip(lineno, str(exc))
        return
    except (ArithmeticError, RecursionError) as exc:  # absurd numbers deep in a payload
        report.skip(lineno, f"unusable numbers ({type(exc).__name__})")
        return
    for usage in usages:
        try:
            cost = price(usage, catalog, on=on)
        except UnknownModelError:
            raise
        except CostModelError as exc:
            report.unprice(lineno, str(exc))
            continue
        # A time-billed model's events report tokens that are not billed; its cost is the
        # connection time, which the caller must give.
        if (not cost.rates.bills_tokens and not usage.connection_seconds
                and not any(p.reason == _TIME_BILLED for p in report.unpriced)):
            report.unprice(lineno, _TIME_BILLED)
        report.priced.append(PricedUsage(lineno, cost))

