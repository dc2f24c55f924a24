"""Reading the public price maps: LiteLLM's and pydantic's genai-prices, as rows in our units.

Neither package is a dependency. An installed package is found with
`importlib.util.find_spec` (never imported: importing litellm takes seconds), and its data file
read (`read_package`): LiteLLM ships ``model_prices_and_context_window_backup.json``;
genai-prices ships its data as Python (``genai_prices/data.py``), which is read as a syntax
tree, never run, and so does its voice fork voice-prices (``voice_prices/data.py``, read for
`costmodel.core.priceimport`). A JSON file the user downloaded works too: LiteLLM's map (an
object keyed by model) or genai-prices' ``prices/data.json`` (a list of providers).

Every rate becomes a `Decimal` in the unit the catalog quotes: USD per 1M tokens, per minute,
per 1M characters. LiteLLM's floats (USD per token, second, character) are read through their
shortest repr, so ``4e-07`` per token is exactly $0.4 per 1M.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..._files import MB, read_text
from ...errors import InputError

MAP_LIMIT = 256 * MB  # LiteLLM's map is ~4 MB, genai-prices' data.py ~2 MB
MAPS_FILE = Path("ids") / "maps.yaml"  # under the built-in catalog directory
MILLION = Decimal(1_000_000)

# Their rate key -> (our rate key, multiplier, divisor) into our unit. "time" is a per-minute
# rate of audio or connection time, compared with whichever of the two the entry prices.
LITELLM_RATES: Mapping[str, tuple[str, Decimal, int]] = {
    "input_cost_per_token": ("text.input", MILLION, 1),
    "cache_read_input_token_cost": ("text.cached", MILLION, 1),
    "cache_creation_input_token_cost": ("text.cache_write_5m", MILLION, 1),
    "cache_creation_input_token_cost_above_1hr": ("text.cache_write_1h", MILLION, 1),
    "output_cost_per_token": ("text.output", MILLION, 1),
    "input_cost_per_audio_token": ("audio.input", MILLION, 1),
    "cache_read_input_audio_token_cost": ("audio.cached", MILLION, 1),
    "output_cost_per_audio_token": ("audio.output", MILLION, 1),
    "input_cost_per_image_token": ("image.input", MILLION, 1),
    "cache_read_input_image_token_cost": ("image.cached", MILLION, 1),
    "output_cost_per_image_token": ("image.output", MILLION, 1),
    "input_cost_per_second": ("time", Decimal(60), 1),
    "input_cost_per_audio_per_second": ("time", Decimal(60), 1),
    "input_cost_per_character": ("characters", MILLION, 1),
    # Not compared: cache_creation_input_audio_token_cost (OpenAI bills no cache writes; the
    # map repeats the read rate), batch/flex/priority tiers and long-context surcharges.
}
GENAI_RATES: Mapping[str, tuple[str, Decimal, int]] = {
    "input_mtok": ("text.input", Decimal(1), 1),
    "cache_read_mtok": ("text.cached", Decimal(1), 1),
    "cache_write_mtok": ("text.cache_write_5m", Decimal(1), 1),
    "cache_write_1h_mtok": ("text.cache_write_1h", Decimal(1), 1),
    "output_mtok": ("text.output", Decimal(1), 1),
    "input_audio_mtok": ("audio.input", Decimal(1), 1),
    "cache_audio_read_mtok": ("audio.cached", Decimal(1), 1),
    "output_audio_mtok": ("audio.output", Decimal(1), 1),
    "input_image_mtok": ("image.input", Decimal(1), 1),
    "cache_image_read_mtok": ("image.cached", Decimal(1), 1),
    "output_image_mtok": ("image.output", Decimal(1), 1),
    "audio_hours": ("time", Decimal(1), 60),
    "input_audio_hours": ("time", Decimal(1), 60),
    "input_mchars": ("characters", Decimal(1), 1),
}


@dataclass(frozen=True)
class TheirRow:
    """One priced model of a map, as a provider's own list price."""

    key: str                       # the map's id for it
    provider: str                  # the catalog provider whose list price it is
    names: tuple[str, ...]         # ids to resolve against the catalog
    rates: Mapping[str, Decimal]   # our rate key -> USD per our unit
    # the same model's rates at other times of day (genai-prices' DeepSeek peak hours): ours
    # agrees when it is one of them
    variants: tuple[Mapping[str, Decimal], ...] = ()


@dataclass(frozen=True)
class MapSource:
    """An installed package's price map as read: the package, its version, the data file."""

    package: str   # the distribution's name: "litellm", "genai-prices", "voice-prices"
    version: str   # "?" when the installed metadata does not say
    path: Path
    data: Any      # LiteLLM: an object keyed by model; the others: a list of providers


# name -> (import name, data file inside the package)
PACKAGES: Mapping[str, tuple[str, str]] = {
    "litellm": ("litellm", "model_prices_and_context_window_backup.json"),
    "genai-prices": ("genai_prices", "data.py"),
    "voice-prices": ("voice_prices", "data.py"),
}


@dataclass(frozen=True)
class PriceMap:
    """A map read into rows: which map, from where."""

    name: str          # "litellm" or "genai-prices"
    label: str         # e.g. "litellm 1.110.2"
    path: str
    rows: tuple[TheirRow, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rewrite(_Strict):
    pattern: str
    to: str


class MapRules(_Strict):
    providers: dict[str, str] = Field(default_factory=dict)
    # the provider id rows of other providers are imported under, where the map's own name
    # is not one (`costmodel prices import`)
    names: dict[str, str] = Field(default_factory=dict)
    skip: list[str] = Field(default_factory=list)
    rewrite: list[_Rewrite] = Field(default_factory=list)


@cache
def map_rules(name: str) -> MapRules:
    """The rules of ``pricing/ids/maps.yaml`` for map `name`."""
    from .. import _parse_cache
    from ..catalog import builtin_dir, read_yaml

    path = builtin_dir() / MAPS_FILE
    data, _ = read_yaml(path, _parse_cache.cache_dir())
    try:
        return MapRules.model_validate(data.get(name) or {})
    except ValidationError as exc:
        raise InputError(f"{path}: {name}: {exc.errors()[0]['msg']}") from None


# -- locating and reading -------------------------------------------------------------------
def _fail(msg: str) -> InputError:
    return InputError(msg)


class NotInstalledError(InputError):
    """A price map's package is not installed (the message names the pip command)."""


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise NotInstalledError(
            f"{package} is not installed: install it (pip install {package.replace('_', '-')})"
            " or pass the path of a map you downloaded")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise InputError(f"{package} is installed but has no {relative} ({path})")
    return path


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def read_package(name: str) -> MapSource:
    """The price map of installed package `name` (a key of `PACKAGES`), read and parsed;
    `NotInstalledError` when it is not installed, `InputError` when it cannot be read.

    >>> read_package("litellm").data["gpt-4o"]["input_cost_per_token"]   # doctest: +SKIP
    2.5e-06
    """
    if name not in PACKAGES:
        raise InputError(f"no price map named {name!r}: expected one of {', '.join(PACKAGES)}")
    module, relative = PACKAGES[name]
    path = _package_file(module, relative)
    if path.suffix == ".json":
        data = _json(path)
    else:
        data = genai_from_python(read_text(path, limit=MAP_LIMIT, fail=_fail))
    return MapSource(name, _version(name), path, data)


def load_map(against: str, day: date) -> PriceMap:
    """`against`: "litellm", "genai-prices" (the installed package) or a JSON file's path.
    Raises `InputError` when it cannot be found or read."""
    if against == "litellm":
        src = read_package("litellm")
        return litellm_map(src.data, f"litellm {src.version}", str(src.path))
    if against in ("genai-prices", "genai_prices"):
        src = read_package("genai-prices")
        return genai_map(src.data, day, f"genai-prices {src.version}", str(src.path))
    data = _json(Path(against))
    if isinstance(data, dict):
        return litellm_map(data, f"litellm map {Path(against).name}", against)
    if isinstance(data, list):
        return genai_map(data, day, f"genai-prices map {Path(against).name}", against)
    raise InputError(f"{against}: neither a LiteLLM map (an object keyed by model) nor "
                     "genai-prices data (a list of providers)")


def _json(path: Path) -> Any:
    text = read_text(path, limit=MAP_LIMIT, fail=lambda m: InputError(f"{path}: {m}"))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON: {exc}") from None


def exact(value: Any) -> Decimal | None:
    """A map's number as an exact Decimal (a float through its shortest repr); None if it
    is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        out = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except ArithmeticError:
        return None
    return out if out.is_finite() else None


def convert_rates(prices: Mapping[str, Any], table: Mapping[str, tuple[str, Decimal, int]]
                  ) -> dict[str, Decimal]:
    """A map's prices under our rate keys, in our units (`LITELLM_RATES`, `GENAI_RATES`);
    a tiered genai-prices price by its base."""
    rates: dict[str, Decimal] = {}
    for their_key, (ours, mult, div) in table.items():
        value = prices.get(their_key)
        if isinstance(value, Mapping):  # genai-prices tiers: {"base": ..., "tiers": [...]}
            value = value.get("base")
        number = exact(value)
        if number is not None and ours not in rates:
            rates[ours] = number * mult / div
    return rates


# -- LiteLLM ---------------------------------------------------------------------------------
def litellm_map(data: Mapping[str, Any], label: str, path: str) -> PriceMap:
    """Rows of LiteLLM's model map whose ``litellm_provider`` is a first-party provider."""
    rules = map_rules("litellm")
    skip = [re.compile(p) for p in rules.skip]
    rewrite = [(re.compile(r.pattern), r.to) for r in rules.rewrite]
    rows = []
    for key, spec in data.items():
        if not isinstance(spec, Mapping):
            continue
        provider = rules.providers.get(str(spec.get("litellm_provider")))
        if provider is None or any(p.search(key) for p in skip):
            continue
        rates = convert_rates(spec, LITELLM_RATES)
        if not rates:
            continue
        name = key
        for pattern, to in rewrite:
            name = pattern.sub(to, name)
        rows.append(TheirRow(key, provider, (name,), rates))
    return PriceMap("litellm", label, path, tuple(rows))


# -- genai-prices ----------------------------------------------------------------------------
def genai_map(providers: list[Any], day: date, label: str, path: str) -> PriceMap:
    """Rows of genai-prices' providers list (the JSON shape), prices in force on `day`."""
    rules = map_rules("genai-prices")
    rows = []
    for prov in providers:
        if not isinstance(prov, Mapping):
            continue
        provider = rules.providers.get(str(prov.get("id")))
        if provider is None:
            continue
        for model in prov.get("models") or ():
            prices = in_force(model.get("prices"), day)
            rates = convert_rates(prices, GENAI_RATES) if prices else {}
            if rates:
                key = str(model.get("id"))
                names = dict.fromkeys([key, *_literals(model.get("match"))])
                variants = tuple(convert_rates(p, GENAI_RATES)
                                 for p in by_time(model.get("prices")))
                rows.append(TheirRow(key, provider, tuple(names), rates, variants))
    return PriceMap("genai-prices", label, path, tuple(rows))


def in_force(prices: Any, day: date) -> Mapping[str, Any] | None:
    """A model's prices, or of a list of conditional prices the last to start by `day`
    (time-of-day prices are left out; a price starting at an instant, as voice-prices'
    ``start_timestamp``, counts from that instant's day)."""
    if isinstance(prices, Mapping):
        return prices
    found: Mapping[str, Any] | None = None
    for item in prices or ():
        constraint = item.get("constraint") or {}
        start = constraint.get("start_date", constraint.get("start_timestamp"))
        if "start_time" in constraint:
            continue
        if isinstance(start, datetime):
            start = start.date()
        if start is None or date.fromisoformat(str(start)) <= day:
            found = item.get("prices")
    return found


def by_time(prices: Any) -> Iterator[Mapping[str, Any]]:
    """The time-of-day prices of a list of conditional prices."""
    if isinstance(prices, list):
        for item in prices:
            if isinstance(item, Mapping) and "start_time" in (item.get("constraint") or {}):
                yield item.get("prices") or {}


def _literals(match: Any) -> Iterator[str]:
    """The model names a genai-prices match clause spells out (equals and starts_with)."""
    if not isinstance(match, Mapping):
        return
    for key in ("equals", "starts_with"):
        if isinstance(match.get(key), str):
            yield match[key]
    for key in ("or", "and"):
        for clause in match.get(key) or ():
            yield from _literals(clause)


def genai_from_python(source: str) -> list[Any]:
    """genai-prices' ``data.py`` (``providers = [Provider(id=..., models=[ModelInfo(...)])]``)
    as the JSON shape of its ``data.json``: calls become dicts of their keyword arguments,
    ``Decimal('3')`` a Decimal, ``datetime.date(...)`` a date. Nothing in it is run."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InputError(f"genai-prices data is not Python: {exc}") from None
    for node in tree.body:
        target: ast.expr
        value: ast.expr | None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign):
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "providers" and value is not None:
            out = _literal(value)
            if isinstance(out, list):
                return out
    raise InputError("genai-prices data has no 'providers' list")


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(n) for n in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)
                if k is not None}
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else (
            node.func.id if isinstance(node.func, ast.Name) else "")
        if name == "Decimal" and node.args:
            return Decimal(str(_literal(node.args[0])))
        if name == "date" and node.args:
            return date(*(int(_literal(a)) for a in node.args))
        if name == "datetime" and len(node.args) >= 3:   # voice-prices' start_timestamp (UTC)
            y, mo, d, h, mi, sec = ([int(_literal(a)) for a in node.args[:6]] + [0, 0, 0])[:6]
            return datetime(y, mo, d, h, mi, sec)
        # dataclass fields that clash with keywords carry a trailing "_" (or_, and_)
        return {(k.arg or "").rstrip("_"): _literal(k.value) for k in node.keywords}
    return None
