"""A map's rows (`costmodel.core.priceimport.rows`) as catalog entries, every rate marked
``confidence: secondary`` with the package and version as its source, and none that would
shadow what the catalog already prices.

**The catalog wins.** A row is skipped, and counted, when any name its entry would answer to
(its id, its bare model name, the map's own key) already resolves in the catalog it is held
against (`Catalog.resolver`: ids, aliases, snapshots, ``provider/`` prefixes). So loading the
imported directory beside the catalog changes what no existing name prices: ``azure/gpt-4o``
stays the curated ``openai/gpt-4o``, and a reseller's ``deepseek-v3.2`` does not make the
curated one's bare name ambiguous.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ...errors import InputError
from ..catalog import Catalog
from ..imported import PYPI
from ..pricediff.maps import MapRules, MapSource, NotInstalledError, map_rules, read_package
from ..rates import ModelEntry
from ..resolve import Resolver, load_rules
from .rows import IMPORT_KINDS, Row, Skip, genai_rows, litellm_rows, provider_id

SOURCES = ("litellm", "genai-prices", "voice-prices")
_MODEL_CHARS = re.compile(r"[^a-z0-9._:-]+")
SHADOWED = "the catalog prices it (the built-in catalog wins)"
_NO_RULES = MapRules()


@dataclass
class ImportReport:
    """What `import_prices` made of one map: the entries to write and what was left out."""

    source: str                  # "litellm"
    version: str                 # "1.110.2"
    data_file: str               # the package's data file, by name
    path: str                    # where it was read
    day: date                    # `checked`, and the prices in force then
    effective: date
    effective_known: bool        # False: the package's release date is unknown, so `day`
    kinds: tuple[str, ...]
    entries: list[dict[str, Any]] = field(default_factory=list)   # catalog entries, as data
    skipped: Counter[str] = field(default_factory=Counter)         # reason -> rows
    shadowed: list[tuple[str, str]] = field(default_factory=list)  # (their key, catalog id)

    @property
    def label(self) -> str:
        """``pypi:litellm==1.110.2 (model_prices_and_context_window_backup.json)``"""
        return f"pypi:{self.source}=={self.version} ({self.data_file})"

    def by_kind(self) -> Counter[str]:
        return Counter(e["kind"] for e in self.entries)

    def by_provider(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for e in self.entries:
            out.setdefault(e["id"].split("/", 1)[0], []).append(e)
        return dict(sorted(out.items()))


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """``"stt,tts"`` -> ("stt", "tts"); None -> every kind an import can make.

    >>> parse_kinds("tts, stt")
    ('stt', 'tts')
    """
    if text is None:
        return IMPORT_KINDS
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    bad = sorted(kinds - set(IMPORT_KINDS))
    if bad or not kinds:
        raise InputError(f"--only takes a comma-separated list of {', '.join(IMPORT_KINDS)}; "
                         f"got {text!r}")
    return tuple(k for k in IMPORT_KINDS if k in kinds)


def read_source(source: str) -> MapSource:
    """The installed package's map; `NotInstalledError` naming the pip command otherwise."""
    if source not in SOURCES:
        raise InputError(f"--from takes one of {', '.join(SOURCES)}; got {source!r}")
    try:
        return read_package(source)
    except NotInstalledError:
        raise NotInstalledError(f"{source} is not installed: pip install {source} (costmodel "
                                "reads its price map, never imports it)") from None


def import_prices(source: str | MapSource, catalog: Catalog, *, kinds: Iterable[str] | None
                  = None, day: date | None = None, effective: date | None = None,
                  exclude: Path | None = None) -> ImportReport:
    """The entries of `source`'s price map ("litellm", "genai-prices", "voice-prices": the
    installed package, or a `MapSource` already read) that `catalog` does not price.

    `day`: the prices in force then, and `checked` (default today). `effective`: the day the
    rates took effect, default `day` (an installed package does not record its release date).
    `exclude`: a directory whose entries in `catalog` are not held against (a previous import
    being replaced).

    >>> from costmodel.core.catalog import default_catalog
    >>> r = import_prices("litellm", default_catalog(), kinds=["tts"])   # doctest: +SKIP
    >>> r.by_kind()["tts"], r.skipped[SHADOWED]                            # doctest: +SKIP
    (21, 15)
    """
    src = read_source(source) if isinstance(source, str) else source
    day = day or date.today()
    kinds = tuple(kinds) if kinds is not None else IMPORT_KINDS
    report = ImportReport(src.package, src.version, src.path.name, str(src.path), day,
                          effective or day, effective is not None, kinds)
    rules = map_rules(src.package)
    if src.package == "litellm":
        if not isinstance(src.data, dict):
            raise InputError(f"{src.path}: not LiteLLM's map (an object keyed by model)")
        rows: Iterator[Row | Skip] = litellm_rows(src.data, rules)
    else:
        if not isinstance(src.data, list):
            raise InputError(f"{src.path}: not a providers list")
        rows = genai_rows(src.data, day, rules, src.package)
    _Builder(report, catalog, exclude).add_all(rows)
    report.entries.sort(key=lambda e: e["id"])
    return report


class _Builder:
    def __init__(self, report: ImportReport, catalog: Catalog, exclude: Path | None) -> None:
        self.report = report
        kept = [e for e in catalog.entries.values()
                if exclude is None or not _under(catalog.origins[e.id], exclude)]
        self.resolver = Resolver(((e.id, e.aliases) for e in kept), load_rules())
        self.ids: set[str] = set()
        self.source = f"{PYPI}{report.source}/{report.version}/".replace("/?/", "/")

    def add_all(self, rows: Iterable[Row | Skip]) -> None:
        for row in rows:
            if isinstance(row, Skip):
                self.report.skipped[row.reason] += 1
            elif row.kind not in self.report.kinds:
                self.report.skipped[f"kind {row.kind}, not in --only"] += 1
            else:
                self._add(row)

    def _add(self, row: Row) -> None:
        model = _model_name(row)
        if not model:
            self.report.skipped["no model name left for an id"] += 1
            return
        eid = f"{row.provider}/{model}"
        key = row.key.lower()
        aliases = [key] if "/" in key and key != eid else []
        for name in (eid, model, *aliases):
            found = self.resolver.find(name)
            if isinstance(found, str):
                self.report.skipped[SHADOWED] += 1
                self.report.shadowed.append((row.key, found))
                return
        if eid in self.ids:
            self.report.skipped["the same id as a row before it"] += 1
            return
        data = self._entry(row, eid, aliases)
        try:
            ModelEntry.model_validate(data)
        except ValidationError as exc:
            self.report.skipped[f"not valid in the catalog: {exc.errors()[0]['msg']}"] += 1
            return
        self.ids.add(eid)
        self.report.entries.append(data)

    def _entry(self, row: Row, eid: str, aliases: list[str]) -> dict[str, Any]:
        r = self.report
        notes = [f"Imported from {r.label}, key {row.key!r}, by costmodel prices import: a "
                 "public map's figure, not checked against the vendor"]
        if row.vendor_url:
            notes.append(f"{r.source} cites {row.vendor_url}")
        notes += row.notes
        period: dict[str, Any] = {
            "effective": r.effective, "checked": r.day, "source": self.source,
            "confidence": "secondary", "notes": "; ".join(notes) + "."}
        if r.effective > r.day:
            period["notes"] += " Announced: effective after it was checked."
        tokens: dict[str, dict[str, Decimal]] = {}
        for bucket, rate in row.tokens.items():
            modality, state = bucket.split(".", 1)
            tokens.setdefault(modality, {})[state] = _tidy(rate)
        if tokens:
            period["tokens"] = tokens
        if row.time is not None:
            place = "audio" if row.kind in ("stt", "tts") else "connection"
            period[place] = {f"usd_per_{row.time.per}": _tidy(row.time.usd)}
        if row.characters is not None:
            period["characters"] = {"usd_per_mchar": _tidy(row.characters)}
        entry: dict[str, Any] = {"id": eid, "kind": row.kind, "name": row.title[:200]}
        if aliases:
            entry["aliases"] = aliases
        entry["prices"] = [period]
        return entry


def _tidy(rate: Decimal) -> Decimal:
    """2.500000 -> 2.5, 15.000000 -> 15 (the same number, as a person would write it)."""
    out = rate.normalize()
    return out.quantize(Decimal(1)) if out.as_tuple().exponent > 0 else out  # type: ignore[operator]


def _under(origin: str, directory: Path) -> bool:
    try:
        return Path(origin).resolve().is_relative_to(directory.resolve())
    except OSError:
        return False


def _model_name(row: Row) -> str:
    """The model part of an imported id: the row's name without a leading segment naming
    its own provider (``gemini/``, ``vertex_ai/``), in the id's alphabet ('/' and anything
    else outside it made '-': OpenRouter's ``anthropic/claude-2`` is ``anthropic-claude-2``).
    """
    low = row.name.lower()
    head, sep, rest = low.partition("/")
    if sep and (head == row.raw_provider.lower()
                or row.provider in (head, provider_id(head, _NO_RULES))):
        low = rest
    return _MODEL_CHARS.sub("-", low).strip("-._:")

