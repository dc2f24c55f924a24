"""`costmodel fit SESSIONS...`: a scenario fitted to recorded sessions and spend logs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._bounds import MAX_CALLS_PER_MONTH
from ._common import (
    JsonOpt,
    PricingOpt,
    err,
    escape,
    finite,
    handle_errors,
    load_catalog,
    new_table,
    out,
    print_json,
)

if TYPE_CHECKING:
    from rich.table import Table

    from ..fit import FitCheck, FitResult

_LISTED = 10  # sessions left out that are named one by one (all are counted)
_WIDE = 140   # columns from which the sources fit in the table (else listed below it)


@handle_errors
def fit_cmd(
    sessions: Annotated[list[Path], typer.Argument(
        help="Recorded event files (JSONL, as price-events reads), spend logs, or "
        "directories of either (searched recursively for *.jsonl and *.json).",
        show_default=False)],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the scenario YAML here (and, for empirical call "
        "lengths, NAME-lengths.csv beside it). Without it the YAML goes to stdout and the "
        "table to stderr.", show_default=False)] = None,
    name: Annotated[str, typer.Option(help="The scenario's name.")] = "fitted",
    calls_per_month: Annotated[float | None, typer.Option(
        "--calls-per-month", parser=finite(1, MAX_CALLS_PER_MONTH),
        help="The volume to write (default: a spend log's sessions per day x 30, else the "
        "number of sessions).", show_default=False)] = None,
    model: Annotated[str | None, typer.Option(
        help="The model of event files that do not name it (Nova Sonic).",
        show_default=False)] = None,
    on: Annotated[datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"], help="Price the sessions at the rates in force on "
        "this date (default today).", show_default=False)] = None,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Estimate the fitted scenario and compare its mean per "
        "call with what the sessions cost.")] = True,
    workers: Annotated[int | None, typer.Option(
        min=1, max=256, help="Processes reading files (default: one per CPU for 64 files "
        "or more).", show_default=False)] = None,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Fit a scenario to recorded sessions: turn timing, speech, prompt, cache hits,
    truncation and call lengths, each with its spread and the sessions behind it."""
    from ..fit import check_fit, fit_sessions

    catalog = load_catalog(pricing, quiet=json_)
    result = fit_sessions([str(s) for s in sessions], catalog=catalog, name=name,
                          calls_per_month=calls_per_month, model=model,
                          on=on.date() if on else None, workers=workers)
    checked = check_fit(result, catalog) if check else None
    written: list[Path] = []
    text = result.to_yaml()
    if output is not None:
        written = result.write(output)
    elif result.duration.chosen == "empirical":
        written = _write_lengths(result)
    if json_:
        print_json({**result.as_json(), "check": checked.as_json() if checked else None,
                    "written": [str(p) for p in written], "yaml": text})
        return
    console = out if output is not None else err
    _report(console, result, checked)
    if output is None:
        typer.echo(text, nl=False)
    for p in written:
        console.print(f"wrote {escape(str(p))}")


def _write_lengths(result: FitResult) -> list[Path]:
    """Empirical lengths without -o: the CSV the printed YAML names, in the working
    directory."""
    from ..fit.scenario_out import write_lengths_csv

    path = Path(result.lengths_file)
    write_lengths_csv(path, result.duration.minutes)
    return [path]


def count_of(n: float, word: str) -> str:
    """'1 session', '2,000 sessions' (`costmodel.fit.facts.count_of`, not imported: the
    command line loads the library only when a command runs)."""
    return f"{n:,.0f} {word}{'' if n == 1 else 's'}"


def _source(v: object) -> str:
    source, note = getattr(v, "source", ""), getattr(v, "note", "")
    return f"{source}; {note}" if note else source


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _report(console: Any, result: FitResult, checked: FitCheck | None) -> None:
    wide = console.width >= _WIDE
    console.print(_table(result, wide))
    if not wide:
        for key, v in result.parameters.items():
            console.print(f"[dim]{escape(key)}:[/] {escape(_source(v))}")
    d = result.duration
    console.print(f"[dim]duration_min:[/] {escape(_shape(result))}; {escape(d.why)}")
    for how, n in result.lengths_from.items():
        console.print(f"lengths: {count_of(n, 'session')} from {escape(how)}")
    _notes(console, result)
    if checked is not None:
        console.print(escape(_check_line(checked, result)))


def _shape(result: FitResult) -> str:
    d = result.duration
    if d.chosen == "empirical":
        return f"{d.sessions:,} lengths, mean {d.mean_min:.2f}, p95 {d.p95_min:.2f} min"
    return f"mean {d.mean_min:.2f}, p95 {d.p95_min:.2f} min"


def _table(result: FitResult, wide: bool) -> Table:
    stack = "+".join(m for _, m in result.stack)
    table = new_table(title=escape(f"{result.name}: fitted to "
                                   f"{count_of(result.sessions, 'session')} of {stack}"),
                      title_justify="left")
    table.add_column("parameter", no_wrap=True)
    for col in ("value", "spread", "sessions"):
        table.add_column(col, justify="right", no_wrap=True)
    if wide:
        table.add_column("source", overflow="fold", ratio=1)
    for key, v in result.parameters.items():
        row = [escape(key), _fmt(v.value), _fmt(v.spread),
               f"{v.sessions:,}" if v.sessions else "assumed"]
        table.add_row(*row, *([escape(_source(v))] if wide else []))
    table.add_row("duration_min", result.duration.chosen, "", f"{result.duration.sessions:,}",
                  *([escape(_shape(result))] if wide else []))
    table.add_row("cache.hits", result.cache_mode, "", "", *([""] if wide else []))
    return table


def _notes(console: Any, result: FitResult) -> None:
    if result.lengths_unknown:
        unknown = count_of(result.lengths_unknown, "session")
        console.print(f"[yellow]note:[/] {unknown} had no derivable length: counted for turn "
                      "parameters, not for the call-length distribution")
    console.print(f"volume: {result.calls_per_month:,.0f} calls/month "
                  f"({escape(result.volume_source)})")
    for p in result.problems:
        console.print(f"[yellow]not expressible in the scenario:[/] {escape(p)}")
    for note in result.notes:
        console.print(f"note: {escape(note)}")
    if result.other_stacks:
        console.print("[yellow]note:[/] other stacks not fitted (one stack per fit, the most "
                      "common): " + escape(", ".join(f"{k} ({count_of(n, 'session')})" for k, n
                                                     in result.other_stacks.items())))
    if result.left_out_count:
        console.print(f"[yellow]note:[/] {count_of(result.left_out_count, 'session')} left out:")
        for why in result.left_out[:_LISTED]:
            console.print(f"  {escape(why)}")
        if result.left_out_count > _LISTED:
            console.print(f"  ... and {result.left_out_count - _LISTED:,} more (--json lists "
                          f"{len(result.left_out):,})")


def _check_line(c: FitCheck, result: FitResult) -> str:
    est = f"the fitted scenario estimates ${c.estimated_usd_per_call:.4f} per call"
    if c.observed_usd_per_call is None or c.difference is None:
        line = f"check: {est}; the sessions could not be priced"
    else:
        line = (f"check: the {count_of(result.priced_sessions, 'session')} cost "
                f"${c.observed_usd_per_call:.4f} per call on average; {est} "
                f"({c.difference:+.1%})")
    return line
