"""`costmodel price-events FILE.jsonl`: what a recorded session cost."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..adapters.recorded import FORMATS, SessionReport, price_events
from ..core.pricing import LineItem
from ..estimation.scenario import MAX_CALL_MINUTES
from ._common import (
    JsonOpt,
    PricingOpt,
    err,
    event_lines,
    finite,
    handle_errors,
    load_catalog,
    num,
    out,
    print_json,
    rate_str,
    usd,
)

_SHOWN_PROBLEMS = 10


def _as_json(report: SessionReport) -> dict:
    responses = []
    transcriptions = []
    for p in report.priced:
        row = {"n": len(responses if not p.usage.label.startswith("transcription")
                       else transcriptions) + 1,
               "line": p.line, "label": p.usage.label, "model": p.cost.model,
               "tokens": dict(p.usage.tokens), "usd": num(p.cost.total_usd),
               "estimated": p.usage.estimated}
        if p.usage.audio_seconds:
            row["audio_seconds"] = num(p.usage.audio_seconds)
        (transcriptions if p.usage.label.startswith("transcription") else responses).append(row)
    total = report.total_usd
    return {
        "model": report.model,
        "format": report.format,
        "currency": "USD",
        "total_usd": num(total),
        "total_usd_exact": None if total is None else format(total.normalize(), "f"),
        "total_unknown_reason": report.unknown_reason,
        "priced_usd": num(report.priced_usd) if report.priced else None,
        "responses": responses,
        "transcriptions": transcriptions,
        "line_items": [{"model": li.model, "item": li.item, "quantity": num(li.quantity),
                        "unit": li.unit, "rate_usd": num(li.rate_usd), "usd": num(li.usd)}
                       for li in report.line_items],
        "lines": report.lines,
        "skipped": [{"line": s.line, "reason": s.reason} for s in report.skipped],
        "skipped_count": report.skipped_count,     # (the lists keep the first 1,000)
        "unpriced": [{"line": s.line, "reason": s.reason} for s in report.unpriced],
        "unpriced_count": report.unpriced_count,
    }


def unit_rate(li: LineItem) -> str:
    """A line item's rate in the unit people quote: per 1M tokens, per minute, ..."""
    if li.rate_usd is None:
        return "mixed"
    scale, unit = _RATE_UNITS.get(li.unit, (1, li.unit))
    return f"${rate_str(li.rate_usd * scale)}/{unit}"


_RATE_UNITS = {"tokens": (1_000_000, "1M tok"), "characters": (1_000_000, "1M chars"),
               "seconds": (60, "min"), "session-seconds": (3600, "session-h")}


def _print(report: SessionReport) -> None:
    session_model = None
    if report.model is not None and report.priced:
        session_model = next((p.cost.model for p in report.priced
                              if p.usage.model == report.model), None)
    table = Table(title=escape(f"{report.model or '?'} ({report.format})"),
                  title_justify="left")
    for col, just in (("#", "right"), ("line", "right"), ("what", "left"),
                      ("in tok", "right"), ("cached", "right"), ("out tok", "right"),
                      ("USD", "right")):
        table.add_column(col, justify=just)
    for i, p in enumerate(report.priced, 1):
        u = p.usage
        cached = sum(n for k, n in u.tokens.items() if k.endswith(".cached"))
        extra = f" ({rate_str(u.audio_seconds)} s)" if u.audio_seconds else ""
        if p.cost.model != session_model:
            extra += f" [dim]{p.cost.model}[/]"
        table.add_row(str(i), str(p.line), u.label + extra + (" *" if u.estimated else ""),
                      f"{u.input_tokens:,}", f"{cached:,}",
                      f"{u.output_tokens:,}", usd(p.cost.total_usd))
    out.print(table)
    items = Table(title="line items", title_justify="left")
    for col, just in (("model", "left"), ("item", "left"), ("quantity", "right"),
                      ("unit", "left"), ("rate", "right"), ("USD", "right")):
        items.add_column(col, justify=just)
    for li in report.line_items:
        items.add_row(li.model, li.item, f"{li.quantity:,}", li.unit, unit_rate(li),
                      usd(li.usd))
    out.print(items)
    for kind, problems in (("skipped", report.skipped), ("unpriced", report.unpriced)):
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
    summary = f"[bold]total {usd(report.total_usd)}[/] over {len(report.priced)} priced usages"
    if report.skipped:
        summary += f"; {report.skipped_count} of {report.lines} lines skipped"
    if report.unpriced:
        summary += (f"; {report.unpriced_count} usages UNPRICED (no rate known or in force), "
                    f"so the total is unknown (priced part {usd(report.priced_usd)})")
    if report.estimated:
        summary += f"; {report.estimated} estimated (*)"
    out.print(summary)


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
    json_: JsonOpt = False,
) -> None:
    """Price a recorded realtime session, response by response.

    Exit 0 when everything was priced; 1 when the total is unknown (some usage has no known
    rate, or no usage line could be priced at all) or, with --strict, when lines were skipped;
    2 for an unknown model or an unreadable file.
    """
    catalog = load_catalog(pricing, quiet=json_)
    with event_lines(file) as lines:
        report = price_events(lines, model=model, fmt=format,
                              transcription_model=transcription_model, catalog=catalog,
                              on=on.date() if on else None,
                              connection_seconds=None if connection_seconds is None
                              else Decimal(repr(connection_seconds)))
    if json_:
        data = _as_json(report)
        data["overrides"] = [{"id": o.id, "by": o.by, "replaced": o.replaced}
                             for o in catalog.overrides]
        print_json(data)
    else:
        _print(report)
    if report.unknown_reason is not None:
        err.print(f"[bold red]total unknown:[/] {escape(report.unknown_reason)}")
        raise typer.Exit(1)
    if strict and report.skipped:
        raise typer.Exit(1)
