"""`costmodel prices diff`: rendering `costmodel.core.pricediff` reports."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..money import plain
from ._common import escape, load_catalog, new_table, out, print_json

if TYPE_CHECKING:
    from ..core.pricediff import DiffReport, RateDiff, Unpriced


def fig(value: Decimal | None) -> str:
    """A figure to 6 significant digits: maps store per-second and per-token rates rounded
    from per-minute and per-1M prices (0.07999999999998/min is $0.08)."""
    return "-" if value is None else plain(Decimal(f"{value:.6g}"))


def _label(rate: str, unit: str) -> str:
    name = f"{rate} time" if rate in ("audio", "connection") else rate
    return f"{name} $/{unit}"


def run(against: str, pricing: list[Path] | None, json_: bool) -> int:
    """Print the diff; the exit code: 1 with an unexplained difference, else 0."""
    from datetime import date

    from ..core.pricediff import diff, load_map

    catalog = load_catalog(pricing, quiet=json_)
    today = date.today()
    report = diff(catalog, load_map(against, today), today)
    if json_:
        print_json(as_json(report))
    else:
        _print(report)
    return 1 if report.unexplained else 0


def _diff_json(d: RateDiff) -> dict[str, Any]:
    alt = d.explained_by
    return {"model": d.model, "rate": d.rate, "unit": d.unit, "ours": plain(d.ours),
            "theirs": plain(d.theirs), "ratio": fig(d.ratio), "their_ids": list(d.their_ids),
            "source": d.source, "checked": d.checked.isoformat(),
            "explained_by": None if alt is None else alt.model_dump()}


def _unpriced_json(u: Unpriced) -> dict[str, Any]:
    return {"model": u.model, "rate": u.rate, "unit": u.unit, "theirs": plain(u.theirs),
            "their_ids": list(u.their_ids)}


def as_json(report: DiffReport) -> dict[str, Any]:
    """Figures are exact decimal strings (theirs converted from the map's floats exactly)."""
    return {"against": report.against, "path": report.path, "on": report.day.isoformat(),
            "models": report.models, "agreeing_rates": report.agreeing,
            "differences": [_diff_json(d) for d in report.differences],
            "unexplained": len(report.unexplained),
            "unpriced": [_unpriced_json(u) for u in report.unpriced]}


def ratio(value: Decimal | None) -> str:
    return "-" if value is None else f"{plain(Decimal(f'{value:.4g}'))}x"


def _print(report: DiffReport) -> None:
    if report.differences:
        table = new_table("model", "rate", "ours", "theirs", "ratio", "checked", "",
                          title=f"rates that differ from {report.against}")
        for d in report.differences:
            flag = "[red]unexplained[/]" if d.explained_by is None else "alternative"
            table.add_row(d.model, _label(d.rate, d.unit), fig(d.ours), fig(d.theirs),
                          ratio(d.ratio), d.checked.isoformat(), flag)
        out.print(table)
        for d in report.differences:
            alt = d.explained_by
            out.print(escape(f"{d.model} {d.rate}: theirs from {', '.join(d.their_ids)}; "
                             f"ours from {d.source}"))
            if alt is not None:
                out.print(escape(f"  recorded: {alt.figure} ({alt.source})"))
    if report.unpriced:
        table = new_table("model", "rate", "theirs", "their ids",
                          title=f"priced by {report.against}, unpriced in the catalog")
        for u in report.unpriced:
            table.add_row(u.model, _label(u.rate, u.unit), fig(u.theirs),
                          escape(", ".join(u.their_ids)))
        out.print(table)
    bad = len(report.unexplained)
    out.print(escape(f"{report.against} ({report.path}): {len(report.models)} models, "
                     f"{report.agreeing} rates agree, {len(report.differences)} differ "
                     f"({bad} unexplained), {len(report.unpriced)} unpriced in the catalog"))
