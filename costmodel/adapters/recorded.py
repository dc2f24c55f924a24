"""Pricing a recorded session: provider events, one JSON object per line, in, report out.

Malformed lines are reported with their line numbers and skipped; the rest is still priced.
Usage the catalog cannot price (unknown rate) is reported as *unpriced* and makes the total
unknown (``total_usd is None``): never zero. So does a usage event the reader recognised but
refused (issue 11): it is listed with the skipped lines and counted in `rejected_count`, and
the total is unknown, with the priced part (`priced_usd`) a lower bound; a session whose
usage was rejected is never summarised as a complete total. (A line that is not a readable
event at all, not JSON or of no known format, is skipped and listed but does not make the
total unknown: nothing shows it was usage. ``--strict`` fails on those too.)

>>> from decimal import Decimal
>>> report = price_events(['{"type": "session.created", "session": {"model": "gpt-realtime-1.5"}}',
...   '{"type": "response.done", "response": {"usage": {"input_tokens": 10, "output_tokens": 0,'
...   ' "input_token_details": {"audio_tokens": 10}, "output_token_details": {}}}}'])
>>> report.total_usd == Decimal("0.00032")     # 10 audio tokens x $32 / 1M
True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from ..core.catalog import Catalog, default_catalog
from ..core.pricing import price
from ..core.usage import Usage
from ..errors import CostModelError, InputError, MissingModelError, UnknownModelError, UsageError
from ._session_report import KEPT_PROBLEMS, LineProblem, PricedUsage, SessionReport
from .gemini_live import GeminiLiveReader
from .nova_sonic import NovaSonicReader
from .openai_realtime import OpenAIRealtimeReader

__all__ = ["FORMATS", "KEPT_PROBLEMS", "READERS", "EventReader", "LineProblem", "PricedUsage",
           "SessionReport", "detect_format", "parse_line", "price_events"]


class EventReader(Protocol):
    """A stateful reader of one provider's session events (see `costmodel.adapters`)."""

    format: str
    model: str | None

    def __init__(self, model: str | None = None,
                 transcription_model: str | None = None) -> None: ...

    @staticmethod
    def claims(event: Mapping[str, Any]) -> bool: ...

    def feed(self, event: Mapping[str, Any]) -> list[Usage]: ...


READERS: dict[str, type[EventReader]] = {
    OpenAIRealtimeReader.format: OpenAIRealtimeReader,
    GeminiLiveReader.format: GeminiLiveReader,
    NovaSonicReader.format: NovaSonicReader,
}
FORMATS = ("auto", *READERS)


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
                 connection_seconds: Decimal | None = None,
                 on_priced: Callable[[PricedUsage], object] | None = None,
                 keep_priced: bool = True) -> SessionReport:
    """Price a recorded session given as JSON lines (as the provider sent them).

    `model` overrides the model named in the session's own events. Rates are those in force
    on `on` (default today; recorded events carry no reliable date). `connection_seconds` is
    the session's length, needed for models billed by connection time (their events' token
    counts are informational). An unknown model raises `UnknownModelError` (the caller
    decides; the CLI exits 2); a forced `fmt` that matches none of the events raises
    `InputError`.

    Each priced usage is passed to `on_priced` as it is priced; with ``keep_priced=False``
    the report does not keep them (`priced` stays empty; totals, counts and line items are
    all there), so memory does not grow with the session.
    """
    catalog = _checked_catalog(catalog, fmt, model, transcription_model)
    report = SessionReport(format=fmt, model=model)
    feed = _Feeder(report, catalog, on, on_priced, keep_priced)
    read: Callable[[dict], list[Usage]] | None = None  # the reader's `feed`, once known
    pending: list[tuple[int, dict]] = []  # lines seen before the format is known
    claimed = fmt == "auto"  # has the forced format's reader recognised an event?
    sample: list[dict] = []  # a few events, to say what a mismatched file looks like
    decode = _DECODER.raw_decode
    lineno = 0
    for lineno, text in enumerate(lines, start=1):
        # The common case, a line holding one JSON object, costs one C call; anything else
        # goes through `parse_line`, which says what is wrong with it.
        try:
            event, end = decode(text)
            if type(event) is not dict or (end != len(text) and not text[end:].isspace()):
                raise ValueError
        except (ValueError, TypeError, RecursionError):
            event = _parse_or_skip(text, lineno, report)
            if event is None:
                continue
        if read is None:
            read = feed.start(fmt, event, lineno, pending, model, transcription_model)
            if read is None:
                continue
        if not claimed:
            claimed = feed.claims(event, sample)
        # (`feed`, inlined: this runs for every line)
        try:
            usages = read(event)
        except (UsageError, ArithmeticError, RecursionError) as exc:
            feed.refused(exc, lineno)
            continue
        if usages:
            feed.price(usages, lineno)
    report.lines = lineno
    _finish(feed, fmt, pending, claimed, sample, connection_seconds)
    return report


def _finish(feed: _Feeder, fmt: str, pending: list[tuple[int, dict]], claimed: bool,
            sample: list[dict], connection_seconds: Decimal | None) -> None:
    """After the last line: skip events of no known format, refuse a forced format that
    matched nothing, price the connection time."""
    report = feed.report
    if feed.reader is None:
        for n, _ in pending:
            report.skip(n, _NO_FORMAT)
        return
    if not claimed and report.lines:
        found = sorted({f for f in map(detect_format, sample) if f})
        raise InputError(f"no event in this file looks like {fmt}"
                         + (f" (it looks like {', '.join(found)})" if found else ""))
    report.model = feed.reader.model
    if connection_seconds is not None and report.model is not None:
        feed.price_connection(report.model, connection_seconds)


def _checked_catalog(catalog: Catalog | None, fmt: str, model: str | None,
                     transcription_model: str | None) -> Catalog:
    """`price_events`' arguments checked before reading anything; the catalog to use."""
    catalog = catalog or default_catalog()
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if model is not None:
        catalog.resolve(model)  # fail fast, before reading anything
    if transcription_model is not None:
        catalog.resolve(transcription_model)
    return catalog


def _parse_or_skip(text: str, lineno: int, report: SessionReport) -> dict | None:
    """`parse_line`, reporting a line it refuses as skipped (then None, as for a blank one)."""
    try:
        return parse_line(text)
    except UsageError as exc:
        report.skip(lineno, str(exc))
        return None


_PENDING_MAX = 10_000   # events held back until one of them shows the file's format
_NO_FORMAT = "not an event of any known format"
_TIME_BILLED = ("billed by connection time, and recorded events carry none: give the "
                "session's length (--connection-seconds) to price it")
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


class _Feeder:
    """Feeds events to the session's reader and prices what they used, into the report."""

    def __init__(self, report: SessionReport, catalog: Catalog, on: date | None,
                 on_priced: Callable[[PricedUsage], object] | None, keep: bool) -> None:
        self.report = report
        self.catalog = catalog
        self.on = on
        self.on_priced = on_priced
        self.keep = keep
        self.reader: EventReader | None = None
        self.time_billed_noted = False

    def priced(self, priced: PricedUsage) -> None:
        self.report.add(priced, self.keep)
        if self.on_priced is not None:
            self.on_priced(priced)

    def start(self, fmt: str, event: dict, lineno: int, pending: list[tuple[int, dict]],
              model: str | None, transcription_model: str | None,
              ) -> Callable[[dict], list[Usage]] | None:
        """The reader's `feed` once `event` shows the format (the held-back `pending` events
        are fed first); else None, with `event` held back in `pending`."""
        name = fmt if fmt != "auto" else detect_format(event)
        if name is None:
            if len(pending) < _PENDING_MAX:
                pending.append((lineno, event))
            else:
                self.report.skip(lineno, _NO_FORMAT)
            return None
        reader = self.reader = READERS[name](model=model, transcription_model=transcription_model)
        self.report.format = name
        for pline, pevent in pending:
            self.feed(reader, pevent, pline)
        pending.clear()
        return reader.feed

    def claims(self, event: dict, sample: list[dict]) -> bool:
        """Whether the reader recognises `event`; keeps a few events in `sample`."""
        assert self.reader is not None  # (called once `start` has chosen it)
        if len(sample) < 20:
            sample.append(event)
        return self.reader.claims(event)

    def feed(self, reader: EventReader, event: dict, lineno: int) -> None:
        try:
            usages = reader.feed(event)
        except (UsageError, ArithmeticError, RecursionError) as exc:
            self.refused(exc, lineno)
            return
        self.price(usages, lineno)

    def price_connection(self, model: str, seconds: Decimal) -> None:
        """Price the session's connection time (given: recorded events carry none)."""
        report = self.report
        session = Usage(self.catalog.resolve(model), connection_seconds=seconds,
                        label="connection")
        try:
            self.priced(PricedUsage(report.lines, price(session, self.catalog, on=self.on)))
        except CostModelError as exc:
            report.unprice(report.lines, str(exc))
        if self.time_billed_noted:  # priced now: the session's length was given
            report.unpriced = [p for p in report.unpriced if p.reason != _TIME_BILLED]
            report.unpriced_count -= 1

    def refused(self, exc: Exception, lineno: int) -> None:
        """Report why the reader refused an event."""
        if isinstance(exc, MissingModelError):
            self.report.unprice(lineno, str(exc))  # the total becomes unknown
        elif isinstance(exc, UsageError):
            self.report.reject(lineno, str(exc))   # so does it here: this was usage
        else:  # absurd numbers deep in a payload
            self.report.reject(lineno, f"unusable numbers ({type(exc).__name__})")

    def price(self, usages: list[Usage], lineno: int) -> None:
        report, catalog, on, keep, on_priced = (self.report, self.catalog, self.on, self.keep,
                                                self.on_priced)
        for usage in usages:
            try:
                cost = price(usage, catalog, on=on)
            except UnknownModelError:
                raise
            except CostModelError as exc:
                report.unprice(lineno, str(exc))
                continue
            # A time-billed model's events report tokens that are not billed; its cost is
            # the connection time, which the caller must give.
            if (not cost.rates.bills_tokens and not usage.connection_seconds
                    and not self.time_billed_noted):
                report.unprice(lineno, _TIME_BILLED)
                self.time_billed_noted = True
            priced = PricedUsage(lineno, cost)
            report.add(priced, keep)
            if on_priced is not None:
                on_priced(priced)
