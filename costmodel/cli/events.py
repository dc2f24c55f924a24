"""`costmodel price-events FILE.jsonl`: what a recorded session cost."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _str  # (json.dumps' own, in C)
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import CostModelError
from ..money import format_rate, format_usd, to_decimal
from ._bounds import FORMATS, MAX_CALL_MINUTES
from ._common import (
    JsonOpt,
    JsonRows,
    PricingOpt,
    err,
    escape,
    event_lines,
    finite,
    handle_errors,
    load_catalog,
    new_table,
    num,
    out,
    print_json,
)

if TYPE_CHECKING:
    from rich.console import JustifyMethod
    from rich.table import Table

    from ..adapters.recorded import LineProblem, PricedUsage, SessionReport
    from ..core.pricing import LineItem

_SHOWN_PROBLEMS = 10
# A table longer than this shows its first and last rows only (`--all` shows every row):
# drawing costs ~1 ms a row, and 30,000 rows help no one at a terminal.
_TABLE_HEAD, _TABLE_TAIL = 80, 20


class _JsonRows:
    """The `responses` and `transcriptions` of `--json`, formatted as each usage is priced
    and spooled (to disk past a few MB), so memory does not grow with the session."""

    def __init__(self) -> None:
        self.responses = JsonRows(_row_json)
        self.transcriptions = JsonRows(_row_json)

    def __call__(self, p: PricedUsage) -> None:
        rows = (self.transcriptions if p.cost.usage.label.startswith("transcription")
                else self.responses)
        rows.append(p)


def _row_json(n: int, p: PricedUsage) -> str:
    """One row as ``json.dumps(row, indent=2)`` prints it inside the document (a test holds
    the two equal); by hand because the indenting encoder is pure Python, ~10x slower."""
    cost = p.cost
    u = cost.usage
    tokens = u.tokens
    keys = tuple(tokens)
    template = _TOKENS_TEXT.get(keys)
    if template is None:
        template = _tokens_template(keys)
    text = _ROW % (n, p.line, _str(u.label), _str(cost.model), template % tuple(tokens.values()),
                   _finite(cost.total_usd), "true" if u.estimated else "false")
    if u.audio_seconds:
        text += f',\n      "audio_seconds": {_finite(u.audio_seconds)!r}'
    return text + "\n    }"


_ROW = ('    {\n      "n": %d,\n      "line": %d,\n      "label": %s,\n      "model": %s,\n'
        '      "tokens": %s,\n      "usd": %r,\n      "estimated": %s')
# The `tokens` object for each set of buckets, as a %-template of the counts (a handful of
# sets occur; the cache is bounded all the same).
_TOKENS_TEXT: dict[tuple[str, ...], str] = {}


def _tokens_template(keys: tuple[str, ...]) -> str:
    text = ("{\n        " + ",\n        ".join(_str(k).replace("%", "%%") + ": %d" for k in keys)
            + "\n      }") if keys else "{}"
    if len(_TOKENS_TEXT) < 1024:
        _TOKENS_TEXT[keys] = text
    return text


def _finite(value: Decimal) -> float:
    x = float(value)
    if not math.isfinite(x):  # validated inputs cannot get here; never print it
        raise CostModelError(f"refusing to print a row of {value}: it is not a finite number "
                             "(inputs are validated, so this is a bug: please report it)")
    return x


class _TableRows:
    """The rows a table will show: the first and the last ones, or every one (`--all`)."""

    def __init__(self, every: bool) -> None:
        self.count = 0
        self.head: list[PricedUsage] = []
        self.tail: deque[PricedUsage] = deque(maxlen=None if every else _TABLE_TAIL)
        self.head_max = 0 if every else _TABLE_HEAD

    def __call__(self, p: PricedUsage) -> None:
        self.count += 1
        (self.head if len(self.head) < self.head_max else self.tail).append(p)

    def numbered(self) -> Iterator[tuple[int | None, PricedUsage | None]]:
        """(row number, usage), with (None, None) where rows are left out."""
        yield from enumerate(self.head, 1)
        first_tail = self.count - len(self.tail) + 1
        if first_tail > len(self.head) + 1:
            yield None, None
        yield from enumerate(self.tail, first_tail)


def _as_json(report: SessionReport) -> dict:
    """The document `--json` prints, but `responses` and `transcriptions` (streamed)."""
    total = report.total_usd
    return {
        "model": report.model,
        "format": report.format,
        "currency": "USD",
        "total_usd": num(total),
        "total_usd_exact": None if total is None else format(total.normalize(), "f"),
        "total_unknown_reason": report.unknown_reason,
        "priced_usd": num(report.priced_usd) if report.priced_count else None,
        "priced_usd_exact": (format(report.priced_usd.normalize(), "f")
                             if report.priced_count else None),
        "responses": [],
        "transcriptions": [],
        "line_items": [{"model": li.model, "item": li.item, "quantity": num(li.quantity),
                        "unit": li.unit, "rate_usd": num(li.rate_usd), "usd": num(li.usd)}
                       for li in report.line_items],
        "lines": report.lines,
        "skipped": [{"line": s.line, "reason": s.reason} for s in report.skipped],
        "skipped_count": report.skipped_count,     # (the lists keep the first 1,000)
        "unpriced": [{"line": s.line, "reason": s.reason} for s in report.unpriced],
        "unpriced_count": report.unpriced_count,
        "rejected_count": report.rejected_count,   # usage events refused (among `skipped`)
        "estimated_count": report.estimated,       # priced, but from disagreeing counts
    }


def unit_rate(li: LineItem) -> str:
    """A line item's rate in the unit people quote: per 1M tokens, per minute, ..."""
    if li.rate_usd is None:
        return "mixed"
    scale, unit = _RATE_UNITS.get(li.unit, (1, li.unit))
    return f"${format_rate(li.rate_usd * scale)}/{unit}"


_RATE_UNITS = {"tokens": (1_000_000, "1M tok"), "characters": (1_000_000, "1M chars"),
               "seconds": (60, "min"), "session-seconds": (3600, "session-h")}


def _print(report: SessionReport, rows: _TableRows) -> None:
    out.print(_usage_table(report, rows))
    out.print(_line_items_table(report.line_items))
    for kind, problems in (("skipped", report.skipped), ("unpriced", report.unpriced)):
        _print_problems(kind, problems)
    out.print(_summary(report))


def _usage_table(report: SessionReport, rows: _TableRows) -> Table:
    """One row per priced usage (past the cap, the rows left out are one row)."""
    session_model = report.catalog_ids.get(report.model) if report.model else None
    table = new_table(title=escape(f"{report.model or '?'} ({report.format})"),
                      title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"), ("line", "right"), ("what", "left"), ("in tok", "right"),
        ("cached", "right"), ("out tok", "right"), ("USD", "right"))
    for col, just in columns:
        table.add_column(col, justify=just)
    for i, p in rows.numbered():
        if p is None:
            left_out = rows.count - len(rows.head) - len(rows.tail)
            table.add_row("…", "", f"[dim]{left_out:,} more rows (--all shows every row)[/]")
            continue
        u = p.usage
        cached = sum(n for k, n in u.tokens.items() if k.endswith(".cached"))
        extra = f" ({format_rate(u.audio_seconds)} s)" if u.audio_seconds else ""
        if p.cost.model != session_model:
            extra += f" [dim]{p.cost.model}[/]"
        table.add_row(str(i), str(p.line), u.label + extra + (" *" if u.estimated else ""),
                      f"{u.input_tokens:,}", f"{cached:,}",
                      f"{u.output_tokens:,}", format_usd(p.cost.total_usd))
    return table


def _line_items_table(line_items: list[LineItem]) -> Table:
    items = new_table(title="line items", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("model", "left"), ("item", "left"), ("quantity", "right"), ("unit", "left"),
        ("rate", "right"), ("USD", "right"))
    for col, just in columns:
        items.add_column(col, justify=just)
    for li in line_items:
        items.add_row(li.model, li.item, f"{li.quantity:,}", li.unit, unit_rate(li),
                      format_usd(li.usd))
    return items


def _print_problems(kind: str, problems: list[LineProblem]) -> None:
    """Skipped or unpriced lines, grouped by reason (at most `_SHOWN_PROBLEMS` reasons)."""
    by_reason: dict[str, list[int]] = {}
    for prob in problems:
        by_reason.setdefault(prob.reason, []).append(prob.line)
    for i, (reason, lines) in enumerate(by_reason.items()):
        if i == _SHOWN_PROBLEMS:
            err.print(f"[yellow]... and {len(by_reason) - i} more kinds of {kind} lines[/]")
            break
        shown = ", ".join(map(str, lines[:8])) + (", ..." if len(lines) > 8 else "")
        word = "line" if len(lines) == 1 else f"{len(lines)} lines"
        err.print(f"[yellow]{kind} {word} {shown}:[/] {escape(reason)}")


def _summary(report: SessionReport) -> str:
    summary = (f"[bold]total {format_usd(report.total_usd)}[/] over {report.priced_count} "
               "priced usages")
    if report.skipped:
        summary += f"; {report.skipped_count} of {report.lines} lines skipped"
    if report.rejected_count and report.priced_count:
        summary += (f"; {report.rejected_count} usage events REJECTED, so the total is unknown "
                    f"(priced part {format_usd(report.priced_usd)}, a lower bound)")
    if report.unpriced:
        summary += (f"; {report.unpriced_count} usages UNPRICED (no rate known or in force), "
                    f"so the total is unknown (priced part {format_usd(report.priced_usd)})")
    if report.estimated:
        summary += f"; {report.estimated} estimated (*)"
    return summary


@handle_errors
def price_events_cmd(
    file: Annotated[str, typer.Argument(help="Recorded session, one provider event per line "
                                        "(JSONL); - for stdin.")],
    model: Annotated[str | None, typer.Option(
        help="Model id; default: read from the session's own events.")] = None,
    format: Annotated[str, typer.Option(
        "--format", help=f"Event format: {'|'.join(FORMATS)}.")] = "auto",
    transcription_model: Annotated[str | None, typer.Option(
        help="Input-transcription model (OpenAI); default: from session events.")] = None,
    strict: Annotated[bool, typer.Option(
        help="Exit 1 when any line was skipped.")] = False,
    connection_seconds: Annotated[float | None, typer.Option(
        parser=finite(0, MAX_CALL_MINUTES * 60),
        help="Session length in seconds, for models billed by connection time "
        "(xAI, Ultravox, GPT-Live); at most a day.")] = None,
    on: Annotated[datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"],
        help="Price at the rates in force on this date (default: today).")] = None,
    pricing: PricingOpt = None,
    all_: Annotated[bool, typer.Option(
        "--all", help=f"Show every row of the table (by default a session of more than "
        f"{_TABLE_HEAD + _TABLE_TAIL} priced usages shows its first {_TABLE_HEAD} and last "
        f"{_TABLE_TAIL}).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Price a recorded realtime session, response by response.

    Exit 0 when everything was priced; 1 when the total is unknown (some usage has no known
    rate, a usage event was rejected, or no usage line could be priced at all) or, with
    --strict, when lines were skipped;
    2 for an unknown model or an unreadable file.
    """
    from ..adapters.recorded import price_events
    from ..core.imported import imported_notes

    catalog = load_catalog(pricing, quiet=json_)
    sink = _JsonRows() if json_ else _TableRows(every=all_)
    with event_lines(file) as lines:
        report = price_events(lines, model=model, fmt=format,
                              transcription_model=transcription_model, catalog=catalog,
                              on=on.date() if on else None,
                              connection_seconds=None if connection_seconds is None
                              else to_decimal(connection_seconds, "--seconds"),
                              on_priced=sink, keep_priced=False)
    # models priced at rates `costmodel prices import` wrote (secondary) say so
    notes = imported_notes(catalog, (li.model for li in report.line_items),
                           on.date() if on else date.today())
    if isinstance(sink, _JsonRows):
        data = _as_json(report)
        data["overrides"] = [{"id": o.id, "by": o.by, "replaced": o.replaced}
                             for o in catalog.overrides]
        data["notes"] = notes
        print_json(data, rows={"responses": sink.responses,
                               "transcriptions": sink.transcriptions})
    else:
        _print(report, sink)
        for note in notes:
            err.print(f"[yellow]note:[/] {escape(note)}")
    if report.unknown_reason is not None:
        err.print(f"[bold red]total unknown:[/] {escape(report.unknown_reason)}")
        raise typer.Exit(1)
    if strict and report.skipped:
        raise typer.Exit(1)
