"""`costmodel guard replay FILE.jsonl --limit-usd X`: what the guard would have done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import typer

from ..money import format_usd
from ._bounds import FORMATS, MAX_LIMIT_USD
from ._common import (
    JsonOpt,
    PricingOpt,
    err,
    escape,
    event_lines,
    finite,
    handle_errors,
    load_catalog,
    new_table,
    out,
    print_json,
)


@handle_errors
def replay_cmd(
    file: Annotated[str, typer.Argument(help="Recorded session (JSONL); - for stdin.")],
    limit_usd: Annotated[float, typer.Option(
        "--limit-usd", parser=finite(1e-6, float(MAX_LIMIT_USD)),
        help="Per-session limit in USD.")],
    warn_at: Annotated[float, typer.Option(parser=finite(0.01, 1.0),
                                           help="Warn at this share of the limit.")] = 0.8,
    model: Annotated[str | None, typer.Option(help="Model id (default: from the events).")]
    = None,
    format: Annotated[str, typer.Option("--format", help="|".join(FORMATS))] = "auto",
    transcription_model: Annotated[str | None, typer.Option(
        help="Input-transcription model (OpenAI); default: from session events.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any line was skipped.")] = False,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """When the guard would have warned, asked to wrap up and cut a recorded session, and
    what it would have saved. Response numbers are 1-based."""
    from ..guard.replay import replay

    catalog = load_catalog(pricing, quiet=json_)
    if file == "-":
        with event_lines(file) as stream:
            lines: list[str] | Callable[[], Iterator[str]] = list(stream)
    else:  # read twice rather than held in memory

        def lines() -> Iterator[str]:
            with event_lines(file) as stream:
                yield from stream
    result = replay(lines, limit_usd=repr(limit_usd), warn_at=repr(warn_at), model=model,
                    fmt=format, transcription_model=transcription_model, catalog=catalog)
    if json_:
        print_json(result.to_json())
    else:
        _print(result, limit_usd)
    if result.skipped_lines:
        err.print(f"[yellow]skipped {result.skipped_count} lines (first, line "
                  f"{result.skipped_lines[0]}: {escape(result.skipped_reason)}); the recorded "
                  "cost counts only the usage the file reports"
                  + (f", and {result.rejected_count} usage events were rejected: it is a "
                     "lower bound" if result.rejected_count else "") + "[/]")
        if strict:
            raise typer.Exit(1)


def _print(result, limit_usd: float) -> None:
    table = new_table(title=f"guard replay at a ${limit_usd} limit", title_justify="left",
                      show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")

    def at(n: int | None) -> str:
        return "never" if n is None else f"response {n}"

    table.add_row("recorded session cost", format_usd(result.unguarded_usd))
    table.add_row("warned at", at(result.warned_at_response))
    table.add_row("wrap-up asked at", at(result.wrap_up_at_response))
    table.add_row("cut before", at(result.cut_at_response))
    table.add_row("guarded session cost", format_usd(result.spent_usd)
                  + (" (some estimated)" if result.estimated else ""))
    table.add_row("saved", format_usd(result.saved_usd))
    out.print(table)
    for d in result.decisions:
        out.print(escape(f"  {d.action:8} after {d.responses} responses: spent "
                         f"{format_usd(d.spent_usd)}, next ~{format_usd(d.projected_next_usd)}"
                         f"  {d.reason}"))
