"""Writing an import as a user catalog directory, one file per provider, and telling an
imported rate when it is priced.

Files are the catalog's own format (`costmodel.core.rates.CatalogFile`), loadable with
``--pricing DIR``. Each starts with `MARK`: a later import with ``--force`` replaces the files
that carry it and refuses to overwrite any that do not (a user's own negotiated rates). Rates
are written as YAML numbers when a float reads them back exactly (as the loader reads
numbers), else as quoted decimal strings, so every digit of the map's figure survives.
`costmodel.core.imported` tells such a rate when it is priced.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml

from ..._files import CATALOG_LIMIT
from ...errors import InputError
from .build import ImportReport

MARK = "# costmodel prices import:"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    # (libyaml's emitter when present: 4x faster on LiteLLM's 3,000 models)
    def ignore_aliases(self, data: object) -> bool:
        return True    # every period its own dates, not "&id001" anchors


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value.normalize(), "f")
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    if Decimal(repr(float(text))) == value and "." in text:
        return dumper.represent_scalar("tag:yaml.org,2002:float", text)
    return dumper.represent_str(text)   # more digits than a float keeps: exact as text


_Dumper.add_representer(Decimal, _decimal)


def header(report: ImportReport) -> str:
    """The comment that starts each written file."""
    when = "" if report.effective_known else (
        f"# Effective {report.effective.isoformat()}, the day of the import: the package's "
        "release date is not\n# recorded in its installed files.\n")
    return (f"{MARK} {report.label}, {report.day.isoformat()}\n"
            "# Secondary rates from a public price map, not curated: confirm one against the\n"
            "# vendor's price page before you bill on it. Load with --pricing DIR; the built-in\n"
            f"# catalog wins (models it prices were not imported).\n{when}")


def _writable(out_dir: Path, names: set[str], force: bool) -> list[Path]:
    """The files of `out_dir` a write replaces; refuses a non-empty directory without
    `force`, and with it any file a write would overwrite that no import wrote."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is not a directory")
    present = sorted(out_dir.iterdir()) if out_dir.is_dir() else []
    if present and not force:
        raise InputError(f"{out_dir} is not empty ({len(present)} entries): pass --force to "
                         "replace a previous import there, or choose an empty directory")
    stale = []
    for path in present:
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        ours = _first_line(path).startswith(MARK)
        if not ours and path.name in names:
            raise InputError(f"{path} was not written by costmodel prices import: refusing to "
                             "overwrite it (move it, or import into another directory)")
        if ours:
            stale.append(path)
    return stale


def _first_line(path: Path) -> str:
    with path.open("rb") as f:
        return f.readline(200).decode("utf-8", "replace")


def write_catalog(report: ImportReport, out_dir: Path, *, force: bool = False) -> list[Path]:
    """Write `report`'s entries into `out_dir`, one ``<provider>.yaml`` each; the paths.

    Raises `InputError` for a non-empty directory without `force`, or (with it) a file there
    that no import wrote and this one would overwrite. With `force`, files an earlier import
    wrote are replaced: those of providers this one has no entries for are removed.
    """
    top = header(report)
    texts = {}
    for provider, entries in report.by_provider().items():
        data = {"provider": provider,
                "description": f"{provider} models imported from {report.label}",
                "models": entries}
        text = top + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                               width=100)
        size = len(text.encode())
        if size > CATALOG_LIMIT:   # (the loader would refuse it)
            raise InputError(f"{provider}.yaml would be {size:,} bytes, over a catalog file's "
                             f"limit of {CATALOG_LIMIT:,}: narrow the import with --only")
        texts[f"{provider}.yaml"] = text
    stale = _writable(out_dir, set(texts), force)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in stale:
        if path.name not in texts:
            path.unlink()
    written = []
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

