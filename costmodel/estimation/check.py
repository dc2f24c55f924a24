"""Cost checks for CI: fail when a prompt or configuration change makes calls dearer.

`check` estimates a scenario (deterministically: the scenario's seed and number of simulated
calls), then compares each stack's figures with absolute `Limits` and/or a `Baseline` written
by an earlier run (`costmodel.estimation.baseline`), allowing the baseline a `tolerance`. Each
figure past its limit or its baseline is a `Breach` naming the stack, the figure, both amounts
and the change in %. Against a baseline, `CheckResult.moved` says what moved since: the
scenario (its hash, and the figures that changed: system prompt tokens, calls per month, mean
call minutes, seed), the rates of each catalog entry priced (their period and hash), the
rates' date, the costmodel version. Only what the baseline recorded can be named: the old
scenario itself is not kept, so when both the scenario and the rates moved the check says both
and cannot split the change between them.

>>> from costmodel.estimation import Scenario
>>> sc = Scenario.model_validate({"name": "x", "volume": {"calls_per_month": 1000},
...     "duration_min": {"fixed": 2}, "stacks": ["xai/grok-voice-agent"]})
>>> result = check(sc, limits=Limits(per_minute_usd=Decimal("0.04")))   # it costs $0.05/min
>>> result.ok, result.breaches[0].message
(False, 'xai/grok-voice-agent: per minute $0.050000 is over the limit $0.040000 (+25.0%)')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

from .._files import clip
from ..core.catalog import Catalog, default_catalog
from ..errors import InputError
from ..money import format_usd
from .baseline import METRICS, Baseline, StackBaseline, baseline_of
from .monthly import estimate
from .scenario import Scenario

#: How each figure is named in messages.
LABELS = {"per_call_mean_usd": "mean per call", "per_call_p95_usd": "P95 per call",
          "per_minute_usd": "per minute", "monthly_usd": "monthly"}
DEFAULT_TOLERANCE = Decimal("0.01")
MAX_TOLERANCE = Decimal(10)   # +1000%: anything looser checks nothing


@dataclass(frozen=True, slots=True)
class Limits:
    """Absolute limits on every checked stack's figures (USD; None: no limit)."""

    per_minute_usd: Decimal | None = None
    per_call_p95_usd: Decimal | None = None
    monthly_usd: Decimal | None = None

    def of(self, metric: str) -> Decimal | None:
        return {"per_minute_usd": self.per_minute_usd,
                "per_call_p95_usd": self.per_call_p95_usd,
                "monthly_usd": self.monthly_usd}.get(metric)

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.per_minute_usd, self.per_call_p95_usd,
                                           self.monthly_usd))


def _usd(metric: str, value: Decimal) -> str:
    return format_usd(value, 2 if metric == "monthly_usd" else 6)


def _pct(change: Decimal | None) -> str:
    return "new" if change is None else f"{change:+.1%}"


def change_of(current: Decimal, before: Decimal) -> Decimal | None:
    """(current - before) / before; None when before is 0 and current is not (no ratio)."""
    if before == 0:
        return Decimal(0) if current == 0 else None
    return (current - before) / before


@dataclass(frozen=True, slots=True)
class Breach:
    """One figure of one stack past its limit (``kind="limit"``) or past its baseline by more
    than the tolerance (``kind="baseline"``). `threshold_usd` is the limit, or the baseline's
    figure; `change` the relative change from it (None from $0)."""

    stack: str
    metric: str
    kind: Literal["limit", "baseline"]
    current_usd: Decimal
    threshold_usd: Decimal
    tolerance: Decimal = Decimal(0)

    @property
    def change(self) -> Decimal | None:
        return change_of(self.current_usd, self.threshold_usd)

    @property
    def message(self) -> str:
        what = f"{self.stack}: {LABELS[self.metric]} {_usd(self.metric, self.current_usd)}"
        if self.kind == "limit":
            return (f"{what} is over the limit {_usd(self.metric, self.threshold_usd)} "
                    f"({_pct(self.change)})")
        return (f"{what} is over the baseline's {_usd(self.metric, self.threshold_usd)} by "
                f"{_pct(self.change)} (tolerance {self.tolerance:.1%})")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `check` found: the current figures (a `Baseline` a later run can compare with),
    the baseline compared with (if any), every breach, what moved since the baseline, and
    notes (stacks without a baseline, the estimator's notes)."""

    current: Baseline
    baseline: Baseline | None
    limits: Limits
    tolerance: Decimal
    breaches: tuple[Breach, ...]
    moved: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    estimate_notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.breaches


def parse_tolerance(text: str) -> Decimal:
    """A tolerance as a share: ``"5%"`` or ``"5"`` (a number is read as percent) -> 0.05.

    >>> parse_tolerance("5%"), parse_tolerance("0.5")
    (Decimal('0.05'), Decimal('0.005'))
    """
    raw = text.strip().removesuffix("%").strip()
    try:
        value = Decimal(raw) / 100
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 <= value <= MAX_TOLERANCE:
        raise InputError(f"--tolerance: expected a percentage from 0% to "
                         f"{MAX_TOLERANCE:.0%}, like 5%, got {clip(repr(text))}")
    return value


# -- comparing -----------------------------------------------------------------------------------
def _against_limits(s: StackBaseline, limits: Limits) -> list[Breach]:
    out = []
    for metric in METRICS:
        limit = limits.of(metric)
        if limit is not None and s.figure(metric) > limit:
            out.append(Breach(s.stack, metric, "limit", s.figure(metric), limit))
    return out


def _against_baseline(s: StackBaseline, before: StackBaseline, tolerance: Decimal
                      ) -> list[Breach]:
    out = []
    for metric in METRICS:
        now, then = s.figure(metric), before.figure(metric)
        if now > then * (1 + tolerance):
            out.append(Breach(s.stack, metric, "baseline", now, then, tolerance))
    return out


def _was(label: str, now: object, then: object, change: Decimal | None = None) -> str:
    more = f" ({_pct(change)})" if change is not None else ""
    return f"{label} {then} -> {now}{more}"


def what_moved(current: Baseline, before: Baseline) -> list[str]:
    """What differs between two baselines, as sentences: the scenario, the rates, costmodel.

    The scenario is compared by hash (its content and the files it reads), then by the
    figures both record; the rates entry by entry, over the stacks both hold."""
    out = []
    if current.scenario_sha256 == before.scenario_sha256:
        out.append(f"the scenario is unchanged (sha256 {current.scenario_sha256})")
    else:
        details = []
        if current.scenario != before.scenario:
            details.append(_was("name", repr(current.scenario), repr(before.scenario)))
        if current.system_tokens != before.system_tokens:
            details.append(_was("system prompt tokens", f"{current.system_tokens:,}",
                                f"{before.system_tokens:,}",
                                change_of(Decimal(current.system_tokens),
                                          Decimal(before.system_tokens))))
        for label, now, then in (
                ("calls per month", current.calls_per_month, before.calls_per_month),
                ("mean call minutes", current.mean_call_minutes, before.mean_call_minutes)):
            if now != then:
                details.append(_was(label, f"{now.normalize():,f}", f"{then.normalize():,f}",
                                    change_of(now, then)))
        if current.seed != before.seed or current.calls_simulated != before.calls_simulated:
            details.append(f"simulated {before.calls_simulated:,} calls (seed {before.seed}) "
                           f"-> {current.calls_simulated:,} (seed {current.seed}): part of "
                           "the change is sampling noise")
        out.append(f"the scenario changed (sha256 {before.scenario_sha256} -> "
                   f"{current.scenario_sha256})" + (": " + "; ".join(details) if details
                                                    else ""))
    out += _rates_moved(current, before)
    if current.costmodel_version != before.costmodel_version:
        out.append(f"costmodel {before.costmodel_version} -> {current.costmodel_version} "
                   "(the estimator itself may price differently)")
    return out


def _rates_moved(current: Baseline, before: Baseline) -> list[str]:
    changed: dict[str, str] = {}
    for s in current.stacks:
        old = before.stack(s.stack)
        if old is None:
            continue
        for model, stamp in s.rates.items():
            was = old.rates.get(model)
            if was is None or was.rates_sha256 == stamp.rates_sha256 or model in changed:
                continue
            if was.effective_date != stamp.effective_date:
                changed[model] = (f"the rates of {model} changed: in force from "
                                  f"{stamp.effective_date} (were from {was.effective_date})")
            else:
                changed[model] = (f"the rates of {model} changed within the period from "
                                  f"{stamp.effective_date} (a catalog correction, or a user "
                                  "catalog overriding it)")
    dates = (f"rates of {current.rates_date} (baseline: {before.rates_date})"
             if current.rates_date != before.rates_date else f"rates of {current.rates_date}")
    if not changed:
        return [f"the catalog rates priced are unchanged ({dates})"]
    return [*changed.values(), f"priced at the {dates}"]


def compare(current: Baseline, baseline: Baseline | None = None, *,
            limits: Limits | None = None, tolerance: Decimal = DEFAULT_TOLERANCE
            ) -> CheckResult:
    """Check `current` figures against `limits` and `baseline` (pure: no estimate is run).

    A stack with no baseline is checked against the limits only (and noted); a baseline stack
    not checked now is noted."""
    limits = limits or Limits()
    breaches: list[Breach] = []
    notes: list[str] = []
    for s in current.stacks:
        breaches += _against_limits(s, limits)
        if baseline is None:
            continue
        before = baseline.stack(s.stack)
        if before is None:
            notes.append(f"{s.stack}: not in the baseline (write it again to include it)")
        else:
            breaches += _against_baseline(s, before, tolerance)
    moved: list[str] = []
    if baseline is not None:
        now = {s.stack for s in current.stacks}
        notes += [f"{s.stack}: in the baseline, not checked now" for s in baseline.stacks
                  if s.stack not in now]
        moved = what_moved(current, baseline)
    return CheckResult(current, baseline, limits, tolerance, tuple(breaches), tuple(moved),
                       tuple(notes))


def check(sc: Scenario, catalog: Catalog | None = None, *, baseline: Baseline | None = None,
          limits: Limits | None = None, tolerance: Decimal = DEFAULT_TOLERANCE,
          stacks: Sequence[str] | None = None, on: date | None = None) -> CheckResult:
    """Estimate `sc` (its own seed and simulated calls: the same inputs give the same
    figures) and `compare` each stack (or only `stacks`) with `limits` and `baseline`.

    >>> from costmodel.estimation import Scenario
    >>> sc = Scenario.model_validate({"name": "x", "volume": {"calls_per_month": 1000},
    ...     "duration_min": {"fixed": 2}, "stacks": ["xai/grok-voice-agent"]})
    >>> check(sc, baseline=check(sc).current).ok    # the same scenario: +0.0% everywhere
    True
    """
    catalog = catalog or default_catalog()
    est = estimate(sc, catalog, stacks=stacks, on=on)
    result = compare(baseline_of(sc, est, catalog), baseline, limits=limits,
                     tolerance=tolerance)
    return replace(result, estimate_notes={r.stack: list(r.notes) for r in est.results})
