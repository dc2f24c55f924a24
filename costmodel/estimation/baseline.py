"""Cost baselines: what a scenario's stacks cost, written to a small JSON file a repository
commits, so a later run (`costmodel.estimation.check`) can say whether calls got dearer and
what moved.

A baseline holds, per stack, the mean and P95 cost per call, the cost per minute and the
monthly total (exact decimal strings, rounded once: per call and per minute to 1e-8 USD, the
month to 1e-4 USD), and the stamp of each catalog entry the stack is priced with (the date
its rates took effect, when they were checked, and a hash of what shapes the cost: the rates
and the model's facts, not their notes or sources). The scenario is identified by a hash of
its validated content and of the files it reads (``prompt.system_file``, an ``empirical``
call-length CSV), with the figures a person reads in a diff: system prompt tokens, calls per
month, mean call minutes, the seed and the number of simulated calls. The rates' date and
the costmodel version complete it.

The file is deterministic: the same scenario, catalog and costmodel write the same bytes
(keys sorted, no timestamp), so a committed baseline changes only when a figure does.

>>> from costmodel.estimation import Scenario, estimate
>>> sc = Scenario.model_validate({"name": "x", "volume": {"calls_per_month": 1000},
...     "duration_min": {"fixed": 2}, "stacks": ["xai/grok-voice-agent"]})
>>> b = baseline_of(sc, estimate(sc))
>>> str(b.stacks[0].per_call_mean_usd), str(b.stacks[0].monthly_usd)   # 2 min x $0.05/min
('0.10000000', '100.0000')
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .._files import SCENARIO_LIMIT, TEXT_LIMIT, clip, read_bytes, read_text
from ..core.catalog import Catalog, default_catalog
from ..core.rates import ModelEntry
from ..errors import InputError
from .monthly import Estimate
from .scenario import ChainedStack, Scenario, stack_id
from .simulate import build_stack

FORMAT = 1
PER_CALL_PLACES = Decimal("1e-8")   # a hundred-millionth of a dollar: 0.01% of a $0.0001 call
MONTHLY_PLACES = Decimal("1e-4")
#: The figures a baseline keeps per stack, in the order they are reported.
METRICS = ("per_call_mean_usd", "per_call_p95_usd", "per_minute_usd", "monthly_usd")
BASELINE_LIMIT = SCENARIO_LIMIT     # ~300 bytes a stack: a 1 MB baseline is the wrong file
# What does not shape a cost (a change to it is not a change of rates), as pydantic's
# `exclude` takes it; `prices` is replaced by the one period in force.
_DOC_FIELDS: dict[str, Any] = {
    **dict.fromkeys(("name", "description", "aliases", "lifecycle_source", "limits", "legacy",
                     "successor", "deprecated", "prices"), True),
    "facts": {"unconfirmed": True},
    "selfhost": {"checked": True, "source": True, "confidence": True, "notes": True}}
_PERIOD_DOC_FIELDS = frozenset({"checked", "source", "confidence", "notes", "sources",
                                "alternatives"})


@dataclass(frozen=True, slots=True)
class RatesStamp:
    """Which rates a catalog entry priced with: the period in force (`effective_date`), when
    it was checked, and a hash of what shapes the cost (`rates_sha256`, 16 hex digits)."""

    effective_date: date | None
    checked_date: date | None
    rates_sha256: str


@dataclass(frozen=True, slots=True)
class StackBaseline:
    """One stack's figures (USD, rounded once) and the stamps of the entries it is priced
    with, by catalog id."""

    stack: str
    per_call_mean_usd: Decimal
    per_call_p95_usd: Decimal
    per_minute_usd: Decimal
    monthly_usd: Decimal
    rates: Mapping[str, RatesStamp] = field(default_factory=dict)

    def figure(self, metric: str) -> Decimal:
        """One of `METRICS`."""
        value: Decimal = getattr(self, metric)
        return value


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a scenario's stacks cost, and what that depended on (see the module docstring)."""

    scenario: str
    scenario_sha256: str
    system_tokens: int
    calls_per_month: Decimal
    mean_call_minutes: Decimal
    seed: int
    calls_simulated: int
    rates_date: date
    costmodel_version: str
    stacks: tuple[StackBaseline, ...]

    def stack(self, stack_id: str) -> StackBaseline | None:
        return next((s for s in self.stacks if s.stack == stack_id), None)


# -- building ------------------------------------------------------------------------------------
def _usd(value: float, places: Decimal) -> Decimal:
    # Decimal(float) is the float's exact binary value; quantizing it is the one rounding.
    return Decimal(value).quantize(places, rounding=ROUND_HALF_EVEN)


def _sha(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rates_stamp(entry: ModelEntry, day: date) -> RatesStamp:
    """The stamp of `entry`'s rates in force on `day` (its last period when none is yet: what
    the estimator prices with too)."""
    period = entry.period_on(day) or (entry.prices[-1] if entry.prices else None)
    shape = entry.model_dump(mode="json", exclude=_DOC_FIELDS)
    if period is not None:
        shape["period"] = period.model_dump(mode="json", exclude=set(_PERIOD_DOC_FIELDS))
    checked = period.checked if period is not None else (
        entry.selfhost.checked if entry.selfhost is not None else None)
    return RatesStamp(period.effective if period is not None else None, checked,
                      _sha(shape)[:16])


def stack_rates(stack: str | ChainedStack, sc: Scenario, catalog: Catalog,
                day: date) -> dict[str, RatesStamp]:
    """The stamps of every catalog entry `stack` is priced with (a self-hosted model's GPU
    rental too), by id."""
    ids = [c.model for c in build_stack(stack, sc, catalog, day).components]
    for model in list(ids):
        hosted = catalog.get(model).selfhost
        if hosted is not None:
            ids.append(hosted.runs_on)
    return {model: rates_stamp(catalog.get(model), day) for model in sorted(set(ids))}


def scenario_sha256(sc: Scenario) -> str:
    """A hash of the scenario's validated content and of the files it reads (its system
    prompt file, its call-length CSV): reformatting the YAML changes nothing, editing the
    prompt file does. 16 hex digits."""
    parts: dict[str, Any] = {"scenario": sc.model_dump(mode="json")}

    def fail(what: str) -> Any:
        return lambda msg: InputError(f"{sc.file or '<scenario>'}: {what}: {msg}")

    if sc.prompt.system_file is not None:
        path = sc.resolve_path(sc.prompt.system_file)
        parts["system_file"] = _sha(read_text(path, limit=TEXT_LIMIT,
                                              fail=fail("prompt.system_file")))
    if sc.duration_min.empirical is not None:
        path = sc.resolve_path(sc.duration_min.empirical)
        parts["empirical"] = hashlib.sha256(read_bytes(
            path, limit=TEXT_LIMIT, fail=fail("duration_min.empirical"))).hexdigest()
    return _sha(parts)[:16]


def baseline_of(sc: Scenario, est: Estimate, catalog: Catalog | None = None) -> Baseline:
    """The baseline of an estimate of `sc` (`costmodel.estimation.estimate`)."""
    from .. import __version__

    catalog = catalog or default_catalog()
    specs = {stack_id(s): s for s in sc.stacks}
    stacks = []
    for r in est.results:
        pc = r.per_call_usd
        stacks.append(StackBaseline(
            r.stack, _usd(pc["mean"], PER_CALL_PLACES), _usd(pc["p95"], PER_CALL_PLACES),
            _usd(r.per_minute_usd, PER_CALL_PLACES), _usd(r.monthly_usd, MONTHLY_PLACES),
            stack_rates(specs.get(r.stack, r.stack), sc, catalog, est.on)))
    first = est.results[0] if est.results else None
    return Baseline(
        sc.name, scenario_sha256(sc), sc.system_tokens(),
        _usd(est.calls_per_month, MONTHLY_PLACES),
        _usd(first.mean_minutes if first else 0.0, Decimal("1e-4")), est.seed,
        first.calls_simulated if first else 0, est.on, __version__, tuple(stacks))


# -- the file ------------------------------------------------------------------------------------
def baseline_to_json(b: Baseline) -> dict[str, Any]:
    """The file's content (money as exact decimal strings)."""
    return {
        "format": FORMAT, "costmodel_version": b.costmodel_version,
        "scenario": {"name": b.scenario, "sha256": b.scenario_sha256,
                     "system_tokens": b.system_tokens, "calls_per_month": str(b.calls_per_month),
                     "mean_call_minutes": str(b.mean_call_minutes), "seed": b.seed,
                     "calls_simulated": b.calls_simulated},
        "catalog": {"rates_date": b.rates_date.isoformat()},
        "stacks": [{
            "stack": s.stack, **{m: str(s.figure(m)) for m in METRICS},
            "rates": {model: {"effective": _iso(st.effective_date),
                              "checked": _iso(st.checked_date), "sha256": st.rates_sha256}
                      for model, st in s.rates.items()}} for s in b.stacks],
    }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def write_baseline(path: str | os.PathLike[str], b: Baseline) -> None:
    """Write `b` to `path` (replacing it whole: a reader never sees half a file)."""
    text = json.dumps(baseline_to_json(b), indent=2, sort_keys=True) + "\n"
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the baseline: {exc.strerror or exc}") from None


class _Reader:
    """Reads fields of a parsed baseline, each error naming the file and the field."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> InputError:
        return InputError(f"{self.path}: {where}: {message}")

    def get(self, obj: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]
            ) -> Any:
        if not isinstance(obj, Mapping) or key not in obj:
            raise self.fail(f"{where}.{key}".lstrip("."), "missing")
        value = obj[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise self.fail(f"{where}.{key}".lstrip("."), f"unexpected {clip(repr(value))}")
        return value

    def usd(self, obj: Mapping[str, Any], key: str, where: str) -> Decimal:
        text = self.get(obj, key, where, str)
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            raise self.fail(f"{where}.{key}", f"not an amount: {clip(repr(text))}")
        return value

    def day(self, obj: Mapping[str, Any], key: str, where: str) -> date:
        text = self.get(obj, key, where, str)
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise self.fail(f"{where}.{key}", f"not a date: {clip(repr(text))}") from None

    def maybe_day(self, obj: Mapping[str, Any], key: str, where: str) -> date | None:
        if isinstance(obj, Mapping) and obj.get(key, "") is None:
            return None
        return self.day(obj, key, where)


def read_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read a baseline file (at most 1 MB); `InputError` naming the file and the field."""
    name = os.fspath(path)
    if not Path(name).exists():
        raise InputError(f"{name}: no such baseline file (a first run writes it: "
                         f"costmodel check SCENARIO --write-baseline {name})")
    text = read_text(name, limit=BASELINE_LIMIT, fail=lambda msg: InputError(f"{name}: {msg}"))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}: not JSON: {exc.msg}") from None
    r = _Reader(name)
    if not isinstance(data, dict):
        raise r.fail("the file", "a baseline is a JSON object")
    fmt = r.get(data, "format", "", int)
    if fmt != FORMAT:
        raise r.fail("format", f"{fmt} is not a baseline format this costmodel reads "
                     f"({FORMAT}); write the baseline again")
    sc = r.get(data, "scenario", "", dict)
    stacks = []
    for i, s in enumerate(r.get(data, "stacks", "", list)):
        sid = r.get(s, "stack", f"stacks[{i}]", str)
        where = f"stacks[{i}]"
        rates_obj = r.get(s, "rates", where, dict)
        rates = {}
        for model, st in rates_obj.items():
            at = f"{where}.rates[{clip(repr(model))}]"
            rates[str(model)] = RatesStamp(r.maybe_day(st, "effective", at),
                                           r.maybe_day(st, "checked", at),
                                           r.get(st, "sha256", at, str))
        mean, p95, per_minute, monthly = (r.usd(s, m, where) for m in METRICS)
        stacks.append(StackBaseline(sid, mean, p95, per_minute, monthly, rates))
    return Baseline(
        r.get(sc, "name", "scenario", str), r.get(sc, "sha256", "scenario", str),
        r.get(sc, "system_tokens", "scenario", int),
        r.usd(sc, "calls_per_month", "scenario"), r.usd(sc, "mean_call_minutes", "scenario"),
        r.get(sc, "seed", "scenario", int), r.get(sc, "calls_simulated", "scenario", int),
        r.day(r.get(data, "catalog", "", dict), "rates_date", "catalog"),
        r.get(data, "costmodel_version", "", str), tuple(stacks))
