"""What providers say was spent, from the files users download: the billed side of a
reconciliation.

`read_export` reads one file and says which shape it is (`Export.kind`):

- ``openai-usage``/``openai-costs``: pages of the OpenAI organization Usage API (tokens,
  characters, seconds per model per bucket: priced here, with the catalog) and Costs API
  (dollars per line item per bucket: billed); `costmodel.reconcile.openai_export`.
- ``twilio-usage-records``: the Twilio Usage Records resource as CSV (billed dollars per
  category per day); `costmodel.reconcile.twilio_export`.
- ``generic-csv``: any bill as ``date,model,usd`` (a header row, then one amount per line;
  other columns are ignored).

Every amount is an exact `Decimal` taken from the digits in the file. A line that cannot be
read is an `InputError` naming the file and line (all of them, in one message); an amount
that cannot be *priced* (a model or rate the catalog lacks) is kept as unknown with why,
never as zero.

>>> import tempfile, os
>>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
...     _ = fh.write("date,model,usd\\n2026-11-29,gpt-realtime-1.5,12.5\\n")
>>> ex = read_export(fh.name)
>>> ex.kind, [(str(l.day), l.model, l.usd, l.basis) for l in ex.lines]
('generic-csv', [('2026-11-29', 'openai/gpt-realtime-1.5', Decimal('12.5'), 'billed')])
>>> os.unlink(fh.name)
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from .._files import MB, clip, read_text
from ..core.catalog import Catalog, default_catalog
from ..errors import InputError, UnknownModelError

#: A downloaded export: a month of OpenAI usage in 1-minute buckets is ~40 MB.
EXPORT_LIMIT = 64 * MB
#: Bad lines an error lists one by one; the rest are counted.
MAX_LISTED = 20

Basis = Literal["billed", "priced"]


@dataclass(frozen=True, slots=True)
class ExportLine:
    """One amount an export gives for a UTC day and model.

    ``basis`` is ``billed`` for dollars the provider charged, ``priced`` for usage the
    provider reported and costmodel priced with the catalog. ``model`` is the catalog id, or
    the provider's own name when no catalog id matches (``resolved`` False). ``usd`` is None
    when the usage could not be priced; ``note`` says why.
    """

    day: date
    model: str
    usd: Decimal | None
    basis: Basis
    where: str                # "file:line"
    resolved: bool = True
    note: str = ""

    @property
    def provider(self) -> str:
        return self.model.partition("/")[0] if self.resolved else ""


@dataclass
class Export:
    """One export file read: its lines, the (UTC day, provider) pairs it speaks for (a day
    it covers with no line for a model means that model was not billed that day), and notes
    (what was skipped, and why)."""

    path: str
    kind: str
    source_url: str
    provider: str
    lines: list[ExportLine] = field(default_factory=list)
    covers: set[tuple[date, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


class Problems:
    """The bad lines of one file, gathered so that one `InputError` names them all."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[str] = []
        self.count = 0

    def add(self, line: int | None, message: str) -> None:
        self.count += 1
        if len(self.found) < MAX_LISTED:
            where = f"{self.path}:{line}" if line is not None else self.path
            self.found.append(f"{where}: {message}")

    def check(self) -> None:
        """Raise the `InputError` listing the problems, if there are any."""
        if not self.count:
            return
        if self.count == 1:
            raise InputError(self.found[0])
        more = self.count - len(self.found)
        raise InputError(f"{self.path}: {self.count} bad lines\n  " + "\n  ".join(self.found)
                         + (f"\n  (and {more} more)" if more else ""))


class ModelNames:
    """Provider model names -> catalog ids (`Catalog.resolve`), memoised; a name the catalog
    does not know maps to None."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._memo: dict[tuple[str, str | None], str | None] = {}

    def resolve(self, name: str, provider: str | None = None) -> str | None:
        key = (name, provider)
        if key not in self._memo:
            found: str | None
            try:
                found = self.catalog.resolve(name, provider)
            except UnknownModelError:
                found = None
            if len(self._memo) < 10_000:
                self._memo[key] = found
            return found
        return self._memo[key]


def decimal(text: str, what: str) -> Decimal:
    """An exact, finite amount from a file's text; ValueError names what it is."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{what}: expected a number, got {clip(repr(text))}") from None
    if not value.is_finite():
        raise ValueError(f"{what}: expected a finite number, got {clip(repr(text))}")
    return value


def csv_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with a header, the header's names normalised
    (lowercase, without spaces, underscores or dashes: ``StartDate`` = ``start_date``)."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        if header is None:
            header = [normal(f) for f in fields]
            continue
        yield reader.line_num, dict(zip(header, fields, strict=False))


def normal(name: str) -> str:
    return "".join(c for c in name.strip().lower() if c not in " _-")


def csv_header(text: str) -> set[str]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return {normal(f) for f in next(csv.reader([first]), [])}


def read_export(path: str | os.PathLike[str], catalog: Catalog | None = None) -> Export:
    """Read one provider export, whichever supported shape it has (see the module doc).

    Raises `InputError` for a file that is not one of them, or that has bad lines (each named
    by file and line).
    """
    from . import openai_export, twilio_export

    catalog = catalog or default_catalog()
    name = os.fspath(path)
    text = read_text(Path(name), limit=EXPORT_LIMIT, fail=lambda msg: InputError(f"{name}: {msg}"))
    names = ModelNames(catalog)
    if text.lstrip().startswith(("{", "[")):
        return openai_export.read_openai_json(name, text, names)
    header = csv_header(text)
    if {"date", "model", "usd"} <= header:
        return read_generic_csv(name, text, names)
    if {"category", "startdate", "enddate", "price"} <= header:
        return twilio_export.read_twilio_csv(name, text, names)
    raise InputError(f"{name}: not an export costmodel reads: expected OpenAI usage or costs "
                     "JSON, a Twilio usage-records CSV (category, start_date, end_date, "
                     "price...) or a CSV with the columns date, model, usd")


def read_generic_csv(name: str, text: str, names: ModelNames) -> Export:
    """``date,model,usd`` lines: billed dollars per UTC day and model, from any bill. The file
    covers every date it lists for every provider it names."""
    out = Export(name, "generic-csv", "", "")
    problems = Problems(name)
    days: set[date] = set()
    providers: set[str] = set()
    for lineno, row in csv_rows(text):
        try:
            day = date.fromisoformat(row.get("date", "").strip())
        except ValueError:
            problems.add(lineno, f"date: expected YYYY-MM-DD, got {clip(repr(row.get('date')))}")
            continue
        raw = (row.get("model") or "").strip()
        if not raw:
            problems.add(lineno, "model: missing")
            continue
        try:
            usd = decimal(row.get("usd") or "", "usd")
        except ValueError as exc:
            problems.add(lineno, str(exc))
            continue
        model = names.resolve(raw)
        line = ExportLine(day, model or raw, usd, "billed", f"{name}:{lineno}",
                          resolved=model is not None)
        out.lines.append(line)
        days.add(day)
        providers.add(line.provider)
    problems.check()
    providers.discard("")   # (a name no catalog entry has speaks for no provider's other models)
    out.covers = {(d, p) for d in days for p in providers}
    unknown = sorted({ln.model for ln in out.lines if not ln.resolved})
    if unknown:
        out.notes.append(f"{name}: not catalog models, compared as named: "
                         f"{', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}")
    return out

