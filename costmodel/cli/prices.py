"""`costmodel prices ...`: browse and check the price catalog."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..money import format_rate
from ._bounds import KINDS
from ._common import (
    JsonOpt,
    PricingOpt,
    err,
    escape,
    handle_errors,
    load_catalog,
    new_table,
    out,
    print_json,
)

if TYPE_CHECKING:
    from ..core.rates import ModelEntry, PricePeriod

app = typer.Typer(help="Browse and check the price catalog.", no_args_is_help=True,
                  rich_markup_mode=None)


def rates_of(period: PricePeriod) -> list[dict]:
    """Every rate of a period as rows: item, rate, unit, source."""
    rows = []
    for key, r in period.token_rates_per_mtok().items():
        rows.append({"item": key, "rate": r, "unit": "USD per 1M tokens",
                     "source": period.sources.get(key, period.source)})
    for name in ("connection", "audio"):
        tr = getattr(period, name)
        if tr is not None:
            unit = "USD per minute"
            gran = f"billed per {format_rate(tr.increment_seconds)} s"
            if tr.minimum_seconds:
                gran += f", minimum {format_rate(tr.minimum_seconds)} s"
            rows.append({"item": f"{name} time", "rate": tr.per_minute, "unit": unit,
                         "billing": gran, "increment_seconds": tr.increment_seconds,
                         "minimum_seconds": tr.minimum_seconds,
                         "source": period.sources.get(name, period.source)})
    if period.characters is not None:
        rows.append({"item": "characters", "rate": period.characters.usd_per_mchar,
                     "unit": "USD per 1M characters",
                     "source": period.sources.get("characters", period.source)})
    if period.gpu is not None:
        rows.append({"item": "gpu", "rate": period.gpu.usd_per_hour, "unit": "USD per GPU-hour",
                     "source": period.sources.get("gpu", period.source)})
    return rows


def _token_cell(period: PricePeriod | None, modality: str) -> str:
    """'in · cached · out' USD per 1M tokens of one modality, '-' where not priced."""
    rates = period.tokens.get(modality) if period else None
    if not rates:
        return ""
    return " · ".join(format_rate(rates[s]) if s in rates else "-"
                      for s in ("input", "cached", "output"))


def _other_cell(entry: ModelEntry, period: PricePeriod | None) -> str:
    if entry.selfhost is not None:
        sh = entry.selfhost
        return (f"{format_rate(sh.gpus)} x {sh.runs_on} / {format_rate(sh.concurrent_sessions)} "
                f"sessions @ {format_rate(sh.utilization * 100)}%")
    parts = []
    for name in ("connection", "audio"):
        tr = getattr(period, name, None)
        if tr is not None:
            step = ("" if tr.increment_seconds == 1
                    else f" per {format_rate(tr.increment_seconds)} s")
            parts.append(f"{name} ${format_rate(tr.per_minute)}/min{step}")
    if period is not None and period.characters:
        parts.append(f"${format_rate(period.characters.usd_per_mchar)}/1M chars")
    if period is not None and period.gpu:
        parts.append(f"${format_rate(period.gpu.usd_per_hour)}/GPU-h")
    return "; ".join(parts)


def _summary(entry: ModelEntry, today: date) -> str:
    period = entry.period_on(today) or (entry.prices[-1] if entry.prices else None)
    parts = [f"{m} $/1M (in·cached·out) {c}" for m in ("text", "audio")
             if (c := _token_cell(period, m))]
    other = _other_cell(entry, period)
    return "; ".join(parts + ([other] if other else []))


@app.command("list")
@handle_errors
def list_(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    kind: Annotated[str | None, typer.Option(
        help=f"Only this kind: {'|'.join(KINDS)}.")] = None,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List catalog entries with their headline rates."""
    if kind is not None and kind not in KINDS:
        err.print(f"[bold red]error:[/] --kind must be one of {', '.join(KINDS)}, got "
                  f"{escape(repr(kind))}")
        raise typer.Exit(2)
    catalog = load_catalog(pricing, quiet=json_)
    entries = catalog.select(provider=provider, kind=kind)
    today = date.today()
    if json_:
        print_json([{"id": e.id, "kind": e.kind, "name": e.name, "provider": e.provider,
                     "summary": _summary(e, today),
                     "effective": (e.period_on(today) or e.prices[-1]).effective
                     if e.prices else None,
                     "checked": e.checked_date(e.prices[-1] if e.prices else None),
                     "file": catalog.origins[e.id]} for e in entries])
        return
    table = new_table(title=f"{len(entries)} catalog entries (token rates in USD per 1M: "
                      "in · cached · out)", title_justify="left")
    for col in ("id", "kind", "text", "audio", "time / characters / GPU", "checked"):
        table.add_column(col, overflow="fold")
    for e in entries:
        period = e.period_on(today) or (e.prices[-1] if e.prices else None)
        checked = e.checked_date(period)
        table.add_row(e.id, e.kind, _token_cell(period, "text"), _token_cell(period, "audio"),
                      _other_cell(e, period), checked.isoformat())
    out.print(table)


@app.command("show")
@handle_errors
def show(
    model: Annotated[str, typer.Argument(help="Catalog id or alias.")],
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Every rate of one entry, with its source and dates."""
    catalog = load_catalog(pricing, quiet=json_)
    entry = catalog.get(model)
    if json_:
        data = entry.model_dump(mode="json")
        data["file"] = catalog.origins[entry.id]
        data["overrides"] = [o.__dict__ for o in catalog.overrides if o.id == entry.id]
        print_json(data)
        return
    # Names, notes and sources come from catalog files, users' own too: never markup.
    _print_header(entry, catalog.origins[entry.id])
    _print_facts(entry)
    current = entry.period_on(date.today())
    for period in entry.prices:
        _print_period(period, period is current, entry.promotion_text(period))


def _print_header(entry: ModelEntry, origin: str) -> None:
    out.print(f"[bold]{entry.id}[/]  {escape(entry.name)}  ({entry.kind})")
    out.print(escape(f"file: {origin}"))
    if entry.aliases:
        out.print(escape(f"aliases: {', '.join(entry.aliases)}"))
    if entry.description:
        out.print(escape(entry.description))
    lifecycle = entry.lifecycle_note(date.today())
    if lifecycle:
        out.print(f"[yellow]{escape(lifecycle)}[/]")
    if entry.lifecycle_source:
        out.print(escape(f"lifecycle source: {entry.lifecycle_source}"))


def _print_facts(entry: ModelEntry) -> None:
    """The model facts, the cache rules and the self-hosting block."""
    facts = entry.facts.model_dump(exclude_none=True, exclude={"unconfirmed", "cache"})
    if facts:
        out.print("facts: " + ", ".join(
            f"{k}={v}{' (unconfirmed)' if k in entry.facts.unconfirmed else ''}"
            for k, v in facts.items()))
    if entry.facts.cache:
        c = entry.facts.cache.model_dump(exclude_none=True)
        out.print(escape("cache: " + ", ".join(f"{k}={v}" for k, v in c.items())))
    if entry.selfhost:
        sh = entry.selfhost
        out.print(escape(f"self-hosted on {format_rate(sh.gpus)} x {sh.runs_on}, "
                         f"{format_rate(sh.concurrent_sessions)} concurrent sessions at "
                         f"{format_rate(sh.utilization * 100)}% utilisation ({sh.confidence}; "
                         f"checked {sh.checked}; {sh.source})"))
        if sh.notes:
            out.print(escape(f"  {sh.notes}"))


def _print_period(period: PricePeriod, in_force: bool, promotion: str | None) -> None:
    """One price period: its dates and source, a table of its rates, notes, other figures."""
    tag = " [green](in force)[/]" if in_force else ""
    out.print(f"\n[bold]effective {period.effective}[/]{tag}  checked {period.checked}  "
              f"confidence {period.confidence}")
    if promotion:
        out.print(f"[yellow]{escape(promotion)}[/]")
    out.print(escape(f"source: {period.source}"))
    table = new_table(show_header=True)
    for col in ("item", "rate", "unit", "billing", "source"):
        table.add_column(col, overflow="fold")
    for row in rates_of(period):
        src = row["source"] if row["source"] != period.source else "(above)"
        table.add_row(row["item"], format_rate(row["rate"]), row["unit"],
                      row.get("billing", ""), escape(src))
    out.print(table)
    if period.notes:
        out.print(escape(f"notes: {period.notes}"))
    for alt in period.alternatives:
        out.print(escape(f"other figure: {alt.figure} ({alt.source})"
                         f"{': ' + alt.note if alt.note else ''}"))


@app.command("check")
@handle_errors
def check(
    max_age_days: Annotated[int, typer.Option(min=0, help="A rate checked longer ago is "
                                              "stale.")] = 90,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Validate every catalog file (user directories too) and list stale rates.

    Exit 1 when anything is invalid; stale rates alone are listed, not failed.
    """
    from ..core.catalog import check_catalog

    result = check_catalog(pricing or (), max_age_days=max_age_days)
    if json_:
        print_json({"files": result.files, "entries": result.entries,
                    "errors": [str(e) for e in result.errors],
                    "stale": [{"id": i, "checked": d} for i, d in result.stale],
                    "overrides": [o.__dict__ for o in result.overrides],
                    "ok": not result.errors})
    else:
        for e in result.errors:
            err.print(f"[bold red]invalid:[/] {escape(str(e))}")
        for o in result.overrides:
            out.print(escape(f"override: {o.id} from {o.by} replaces {o.replaced}"))
        if result.stale:
            out.print(f"[yellow]{len(result.stale)} stale (checked more than {max_age_days} "
                      "days ago):[/]")
            for i, d in result.stale:
                out.print(f"  {i}  checked {d}")
        status = "[green]ok[/]" if not result.errors else f"[red]{len(result.errors)} invalid[/]"
        out.print(f"{len(result.files)} files, {result.entries} entries: {status}")
    if result.errors:
        raise typer.Exit(1)


@app.command("diff")
@handle_errors
def diff_(
    against: Annotated[str, typer.Option(
        "--against", help="litellm or genai-prices (the installed package's data), or the "
        "path of a JSON map you downloaded (either format).")],
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Every rate that differs from LiteLLM's or genai-prices' map, and what they price that
    the catalog leaves unpriced.

    Exit 1 when a difference is unexplained: no `alternatives` entry on our price period
    gives their figure or names their map.
    """
    from .pricediff import run

    raise typer.Exit(run(against, pricing, json_))


@app.command("import")
@handle_errors
def import_(
    source: Annotated[str, typer.Option(
        "--from", help="litellm, genai-prices or voice-prices: the installed package's price "
        "map (read as data, never imported).")],
    only: Annotated[str | None, typer.Option(
        help="Only these kinds, comma-separated: realtime,stt,tts,llm,telephony (default: "
        "all).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The catalog directory to write (default: prices-<package>).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        help="Replace a previous import in a non-empty --output.")] = False,
    effective: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="The day the rates took effect (default: today; an "
        "installed package does not record its release date).")] = None,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Write a user catalog directory from a public price map: the long tail of LLM, STT and
    TTS models, every rate `confidence: secondary` with the package and version as source.

    Models the catalog already prices are skipped (the built-in catalog wins), and so are
    those whose rates it cannot hold; the reasons are counted. Exit 2 when the package is not
    installed or --output is not empty (without --force).
    """
    from .priceimport import run

    raise typer.Exit(run(source, only, output, force, effective.date() if effective else None,
                         pricing, json_))


@app.command("schema")
@handle_errors
def schema(
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the schema to this file (default: print it).",
        show_default=False)] = None,
) -> None:
    """The JSON schema of a catalog file, from the catalog's own models (for editors).

    The built-in files name ``pricing/catalog.schema.json`` on their first line
    (``# yaml-language-server: $schema=./catalog.schema.json``); regenerate it with
    ``costmodel prices schema -o pricing/catalog.schema.json`` after changing the models.
    """
    from ..core.schema import catalog_json_schema

    text = json.dumps(catalog_json_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
