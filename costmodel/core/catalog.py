"""Loading the price catalog: built-in files, user overrides, look-ups by id or alias.

The built-in catalog is ``pricing/*.yaml``. Users add or override entries with their own
directories (``--pricing DIR`` or ``COSTMODEL_PRICING=dir1:dir2``); later directories win.
An entry that redefines an existing id replaces it, inheriting any top-level field it leaves
out (so a file with just ``id`` and ``prices`` sets a negotiated price). Every replacement is
recorded in `Catalog.overrides` and reported by the CLI: overrides are never silent.

>>> cat = Catalog.load()
>>> cat.get("openai/gpt-realtime-1.5").kind
'realtime'
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._files import CATALOG_LIMIT, clip, read_text
from ..errors import CatalogError, UnknownModelError
from . import _parse_cache
from .rates import CatalogFile, ModelEntry

if TYPE_CHECKING:
    import yaml

    from .pricing import Rates
    from .resolve import Resolver

ENV_VAR = "COSTMODEL_PRICING"
_MEMO_LIMIT = 4096


def builtin_dir() -> Path:
    """Where the built-in ``pricing/`` files are (source checkout or installed wheel)."""
    package = Path(__file__).resolve().parents[1]   # costmodel/
    for candidate in (package.parent / "pricing", package / "_pricing"):
        if candidate.is_dir():
            return candidate
    raise CatalogError("built-in pricing directory not found; reinstall costmodel")


@dataclass(frozen=True)
class Override:
    """One entry replaced by a later catalog file."""

    id: str
    replaced: str  # path of the file whose entry was replaced
    by: str        # path of the file that replaced it
    fields: tuple[str, ...]  # top-level fields the later file set


class _Marks:
    """A file's YAML node tree, for the lines of error messages: parsed only when one is
    needed, if the data came from the parse cache."""

    def __init__(self, path: Path, node: yaml.Node | None = None, *,
                 parsed: bool = False) -> None:
        self.path = path
        self._node = node
        self._parsed = parsed

    def node(self) -> yaml.Node | None:
        if not self._parsed:
            from .._yamlmarks import load_with_marks

            try:
                self._node = load_with_marks(_read(self.path), str(self.path))[1]
            except CatalogError:  # changed since it was cached: no lines, still the error
                self._node = None
            self._parsed = True
        return self._node

    def line(self, loc: Sequence[str | int]) -> int | None:
        from .._yamlmarks import line_of

        return line_of(self.node(), loc)


@dataclass(frozen=True)
class _Raw:
    data: dict[str, Any]
    path: str
    index: int  # in the file's `models`
    marks: _Marks

    @property
    def line(self) -> int | None:
        return self.marks.line(("models", self.index))


def _describe(exc: ValidationError) -> Iterator[tuple[tuple[str | int, ...], str]]:
    for err in exc.errors():
        yield tuple(err["loc"]), err["msg"]


def _field_name(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _read(path: Path) -> str:
    return read_text(path, limit=CATALOG_LIMIT, fail=lambda msg: CatalogError(msg, path=str(path)))


def read_yaml(path: Path, cache: Path | None) -> tuple[Any, _Marks]:
    """A catalog-folder YAML file's data (from the parse cache when it has this version) and
    its marks (line numbers for errors). Shared by the catalog, the id rules and the map rules."""
    key = _parse_cache.file_key(path) if cache is not None else None
    if cache is not None and key is not None:
        data = _parse_cache.get(cache, path, key)
        if data is not _parse_cache.MISS:
            return data, _Marks(path)
    # (imported here: with every file in the cache, a run never loads the YAML parser)
    from .._yamlmarks import load_with_marks

    data, node = load_with_marks(_read(path), str(path))
    if cache is not None and key is not None:
        _parse_cache.put(cache, path, key, data)
    return data, _Marks(path, node, parsed=True)


def _read_file(path: Path, cache: Path | None) -> list[_Raw]:
    data, marks = read_yaml(path, cache)
    try:
        top = CatalogFile.model_validate(data)
    except ValidationError as exc:
        loc, msg = next(_describe(exc))
        raise CatalogError(msg, path=str(path), line=marks.line(loc),
                           field=_field_name(loc)) from None
    out = []
    for i, item in enumerate(top.models):
        if not isinstance(item, dict) or "id" not in item:
            raise CatalogError("each model needs an 'id'", path=str(path),
                               line=marks.line(("models", i)), field=f"models[{i}]")
        if not isinstance(item["id"], str):
            raise CatalogError(f"id must be a string like 'provider/model', got "
                               f"{clip(repr(item['id']))}", path=str(path),
                               line=marks.line(("models", i)), field=f"models[{i}].id")
        out.append(_Raw(item, str(path), i, marks))
    return out


def _validate(raw: _Raw) -> ModelEntry:
    try:
        return ModelEntry.model_validate(raw.data)
    except ValidationError as exc:
        loc, msg = next(_describe(exc))
        eid = clip(str(raw.data.get("id", "?")))
        raise CatalogError(msg, path=raw.path, line=raw.marks.line(("models", raw.index, *loc)),
                           field=f"{eid}: {_field_name(loc)}") from None


def catalog_dirs(extra: Iterable[str | Path] = (), *, include_builtin: bool = True) -> list[Path]:
    """Directories in load order: built-in, then ``$COSTMODEL_PRICING``, then `extra`."""
    dirs = [builtin_dir()] if include_builtin else []
    env = os.environ.get(ENV_VAR, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs += [Path(p) for p in extra]
    return dirs


class Catalog:
    """All known entries, after overrides. Look up with `get` (ids or aliases)."""

    def __init__(self, entries: dict[str, ModelEntry], origins: dict[str, str],
                 overrides: Sequence[Override] = (), files: Sequence[str] = ()) -> None:
        self.entries = entries
        self.origins = origins
        self.overrides = tuple(overrides)
        self.files = tuple(files)
        self._aliases: dict[str, str] = {}
        for entry in entries.values():
            for alias in entry.aliases:
                self._aliases.setdefault(alias.lower(), entry.id)
        # Bare model names ("gpt-realtime-1.5") resolve when only one provider has them.
        bare: dict[str, list[str]] = {}
        for eid in entries:
            bare.setdefault(eid.split("/", 1)[1], []).append(eid)
        for name, ids in bare.items():
            if len(ids) == 1:
                self._aliases.setdefault(name, ids[0])
        # compiled rates by (model, day), kept by costmodel.core.pricing
        self._compiled: dict[tuple[str, date], Rates] = {}
        self._resolved: dict[tuple[str, str | None], str] = {}  # memo of `resolve`
        self._resolver: Resolver | None = None

    @classmethod
    def load(cls, dirs: Iterable[str | Path] = (), *, include_builtin: bool = True) -> Catalog:
        """Load the built-in catalog plus `dirs` (and ``$COSTMODEL_PRICING``); later wins.

        Raises `CatalogError` (file, line, field) at the first problem; `check_catalog`
        collects them all instead.
        """
        return _build(catalog_dirs(dirs, include_builtin=include_builtin), errors=None)

    def _check_references(self) -> Iterator[CatalogError]:
        for entry in self.entries.values():
            if entry.selfhost is not None:
                gpu = self.entries.get(entry.selfhost.runs_on)
                if gpu is None or not any(p.gpu for p in gpu.prices):
                    yield CatalogError(
                        f"selfhost.runs_on names {entry.selfhost.runs_on!r}, which is not a GPU "
                        "rental in the catalog", path=self.origins[entry.id],
                        field=f"{entry.id}: selfhost.runs_on")

    # -- look-ups -------------------------------------------------------------------------
    def __contains__(self, model: str) -> bool:
        try:
            self.resolve(model)
        except UnknownModelError:
            return False
        return True

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.id))

    def __len__(self) -> int:
        return len(self.entries)

    def resolve(self, model: str, provider: str | None = None) -> str:
        """The catalog id for an id, alias or unambiguous bare name; failing that, for what
        payloads carry (dated snapshots, ``provider/`` prefixes, Bedrock and Vertex ids), read
        by `costmodel.core.resolve`. `provider` is the provider name as the payload gives it
        ("Vertex AI", "api.x.ai"); the provider table maps it to catalog providers."""
        if provider is None:
            if model in self.entries:
                return model
            key = model.strip().lower()
            if key in self.entries:
                return key
            for candidate in (key, key.removeprefix("models/")):
                if candidate in self._aliases:
                    return self._aliases[candidate]
        hit = self._resolved.get((model, provider))
        if hit is not None:
            return hit
        found = self.resolver().find(model, provider)
        if not isinstance(found, str):
            raise UnknownModelError(model, self.near(model), note=found.note)
        if len(self._resolved) >= _MEMO_LIMIT:  # names come from payloads: stay bounded
            self._resolved.clear()
        self._resolved[(model, provider)] = found
        return found

    def resolver(self) -> Resolver:
        """The id rules (`costmodel.core.resolve`) over this catalog's ids and aliases."""
        if self._resolver is None:
            from .resolve import Resolver, load_rules

            self._resolver = Resolver(((e.id, e.aliases) for e in self.entries.values()),
                                      load_rules())
        return self._resolver

    def get(self, model: str) -> ModelEntry:
        """The entry for an id or alias; `UnknownModelError` naming near matches otherwise."""
        return self.entries[self.resolve(model)]

    def near(self, model: str, n: int = 5) -> list[str]:
        """Known ids closest to `model`, best first."""
        key = model.lower()
        names = list(self.entries) + list(self._aliases)
        close = difflib.get_close_matches(key, names, n=n * 2, cutoff=0.5)
        tail = key.split("/")[-1]
        close += [e for e in self.entries if tail and tail in e and e not in close]
        out: list[str] = []
        for name in close:
            eid = name if name in self.entries else self._aliases[name]
            if eid not in out:
                out.append(eid)
        return out[:n]

    def select(self, *, provider: str | None = None, kind: str | None = None) -> list[ModelEntry]:
        return [e for e in self if (provider is None or e.provider == provider)
                and (kind is None or e.kind == kind)]

    def stale(self, max_age_days: int, today: date | None = None) -> list[tuple[str, date]]:
        """(id, checked date) of entries whose current price was checked too long ago."""
        today = today or date.today()
        out = []
        for e in self:
            period = e.period_on(today) or (e.prices[-1] if e.prices else None)
            checked = e.checked_date(period)
            if (today - checked).days > max_age_days:
                out.append((e.id, checked))
        return out


def _build(dirs: Sequence[Path], errors: list[CatalogError] | None) -> Catalog:
    """Read `dirs` in order into a Catalog. With `errors`, collect problems and go on."""

    def fail(exc: CatalogError) -> None:
        if errors is None:
            raise exc
        errors.append(exc)

    cache = _parse_cache.cache_dir()
    raws: dict[str, _Raw] = {}
    origins: dict[str, str] = {}
    overrides: list[Override] = []
    files: list[str] = []
    for d in dirs:
        for path in _catalog_files(d, fail):
            files.append(str(path))
            try:
                file_raws = _read_file(path, cache)
            except CatalogError as exc:
                fail(exc)
                continue
            for raw in _unique_ids(file_raws, fail):
                eid = raw.data["id"]
                if eid in raws:
                    old = raws[eid]
                    overrides.append(Override(eid, old.path, raw.path,
                                              tuple(k for k in raw.data if k != "id")))
                    raw = _Raw({**old.data, **raw.data}, raw.path, raw.index, raw.marks)
                raws[eid] = raw
                origins[eid] = raw.path
    entries: dict[str, ModelEntry] = {}
    for eid, raw in raws.items():
        try:
            entries[eid] = _validate(raw)
        except CatalogError as exc:
            fail(exc)
    cat = Catalog(entries, origins, overrides, files)
    for problem in cat._check_references():
        fail(problem)
    return cat


def _catalog_files(d: Path, fail: Callable[[CatalogError], None]) -> list[Path]:
    """The catalog files of one `dirs` item: a directory's YAML files, or the item itself."""
    if d.is_dir():
        return sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml"))
    if d.exists():  # a file, or a device or pipe: read within the size limit
        return [d]
    fail(CatalogError("pricing directory does not exist", path=str(d)))
    return []


def _unique_ids(raws: list[_Raw], fail: Callable[[CatalogError], None]) -> Iterator[_Raw]:
    """One file's entries, failing each that repeats an id defined earlier in the file."""
    seen: set[str] = set()
    for raw in raws:
        eid = raw.data["id"]
        if eid in seen:
            fail(CatalogError(f"id {clip(eid)!r} is defined twice in one file",
                              path=raw.path, line=raw.line, field="id"))
            continue
        seen.add(eid)
        yield raw


@dataclass
class CheckResult:
    """Everything `check_catalog` found: all errors, not just the first."""

    files: list[str]
    entries: int
    errors: list[CatalogError]
    stale: list[tuple[str, date]]
    overrides: tuple[Override, ...]


def check_catalog(dirs: Iterable[str | Path] = (), *, max_age_days: int = 90,
                  today: date | None = None) -> CheckResult:
    """Validate every catalog file (built-in and user) and list entries checked too long ago."""
    errors: list[CatalogError] = []
    cat = _build(catalog_dirs(dirs), errors)
    return CheckResult(list(cat.files), len(cat), errors, cat.stale(max_age_days, today),
                       cat.overrides)


_DEFAULT: Catalog | None = None


def default_catalog() -> Catalog:
    """The built-in catalog plus ``$COSTMODEL_PRICING``, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Catalog.load()
    return _DEFAULT
