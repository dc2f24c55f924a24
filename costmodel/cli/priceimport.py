"""`costmodel prices import`: rendering `costmodel.core.priceimport` (what was written, what
was left out and why)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import escape, load_catalog, new_table, out, print_json

if TYPE_CHECKING:
    from ..core.priceimport import ImportReport

_SHOWN_SHADOWED = 5


def run(source: str, only: str | None, output: Path | None, force: bool,
        effective: date | None, pricing: list[Path] | None, json_: bool) -> int:
    """Import, write, report; the exit code (0: written)."""
    from ..core.priceimport import import_prices, parse_kinds, read_source, write_catalog

    kinds = parse_kinds(only)
    src = read_source(source)        # (first: a missing package fails before anything else)
    target = output or Path(f"prices-{src.package}")
    catalog = load_catalog(pricing, quiet=json_)
    report = import_prices(src, catalog, kinds=kinds, effective=effective, exclude=target)
    files = write_catalog(report, target, force=force)
    if json_:
        print_json(as_json(report, target, files))
    else:
        _print(report, target, files)
    return 0


def as_json(report: ImportReport, target: Path, files: list[Path]) -> dict[str, Any]:
    return {"source": report.source, "version": report.version, "label": report.label,
            "path": report.path, "output": str(target), "files": [p.name for p in files],
            "kinds": list(report.kinds), "imported": len(report.entries),
            "by_kind": dict(sorted(report.by_kind().items())),
            "by_provider": {p: len(es) for p, es in report.by_provider().items()},
            "skipped": dict(report.skipped.most_common()),
            "skipped_count": sum(report.skipped.values()),
            "shadowed": [{"key": k, "catalog_id": c} for k, c in report.shadowed],
            "checked": report.day.isoformat(), "effective": report.effective.isoformat(),
            "effective_known": report.effective_known}


def _print(report: ImportReport, target: Path, files: list[Path]) -> None:
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(report.by_kind().items())) or "none"
    out.print(escape(f"imported {len(report.entries):,} models from {report.label} into "
                     f"{target}/ ({len(files)} files, one per provider): {kinds}"))
    if report.skipped:
        table = new_table("models", "skipped because", title=f"{sum(report.skipped.values()):,}"
                          " left out", title_justify="left")
        for reason, n in report.skipped.most_common():
            table.add_row(f"{n:,}", escape(reason))
        out.print(table)
    if report.shadowed:
        shown = ", ".join(f"{k} (as {c})" for k, c in report.shadowed[:_SHOWN_SHADOWED])
        more = len(report.shadowed) - _SHOWN_SHADOWED
        out.print(escape(f"the built-in catalog wins: {len(report.shadowed):,} models it "
                         f"already prices were not imported, e.g. {shown}"
                         + (f" and {more:,} more" if more > 0 else "")))
    when = (f"effective {report.effective}" if report.effective_known else
            f"effective {report.effective} (today: the package's release date is not known; "
            "--effective sets it)")
    out.print(escape(f"every imported rate is confidence: secondary, its source "
                     f"pypi:{report.source}=={report.version}; checked {report.day}, {when}"))
    out.print(escape(f"use them with --pricing {target} (costmodel prices check --pricing "
                     f"{target} validates them)"))
