"""Drift: are real sessions still the calls the plan priced, and which difference costs most?

The recent sessions (spend logs, or recorded session files) are fitted (`costmodel.fit`) and
each fitted parameter is set beside the plan's: call length (mean minutes), seconds per turn,
user and agent speech per turn, agent text tokens per second, system prompt tokens, cache hit
ratio, truncation retention. A parameter **drifts** when it moved by more than the threshold
(% of the plan's value) and by more than sampling noise (1.96 standard errors of the
sessions' mean, when more than one session shows it).

What each change costs: the plan is estimated (its volume, the fitted sessions' stack) with
that one fitted parameter swapped in, all else as planned, and the difference from the plan's
own estimate is its monthly $ impact; parameters are ranked by it. Every variant samples the
same calls (one seed, one `TableCache`), so differences are the parameter's, not noise.
With every fitted parameter swapped in at once, the plan's estimate becomes the sessions':
its change is the drift's total (the reconciliation fails when that passes the tolerance).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.catalog import Catalog, default_catalog
from ..errors import ScenarioError
from ..estimation import Scenario, estimate, stack_id
from ..estimation.monthly import empirical_minutes
from ..estimation.tables import TableCache
from ..fit import FitResult, fit_sessions
from ..guard.spendlog import SessionRecord

# How each parameter reads when it grows / shrinks.
_WORDS = {
    "duration_min": ("calls are longer", "calls are shorter", "min mean call"),
    "turns.seconds_per_turn": ("turns are slower", "turns are quicker", "s per turn"),
    "turns.user_speech_s": ("callers speak more", "callers speak less", "s user speech a turn"),
    "turns.agent_speech_s": ("the agent speaks more", "the agent speaks less",
                             "s agent speech a turn"),
    "turns.agent_text_tokens_per_s": ("more agent text", "less agent text", "text tokens/s"),
    "prompt.system_tokens": ("the prompt is larger", "the prompt is smaller", "prompt tokens"),
    "cache.hit_ratio": ("cache hits are higher", "cache hits are lower", "cache hit ratio"),
    "truncation.retention_ratio": ("truncation keeps more", "truncation keeps less",
                                   "truncation retention"),
}


@dataclass(frozen=True)
class ParameterDrift:
    """One parameter, planned against fitted. ``change_pct`` is of the planned value (None
    when it is 0); ``impact_usd`` the plan's monthly estimate with only this parameter
    swapped in, less the plan's own (None when it cannot be swapped alone: ``note`` says
    why)."""

    parameter: str
    planned: float
    fitted: float
    spread: float | None
    sessions: int
    change_pct: float | None
    drifting: bool
    impact_usd: float | None
    note: str = ""

    def describe(self) -> str:
        """``calls are longer (7.9 vs 6 min mean call, +32%)``."""
        up, down, unit = _WORDS.get(self.parameter, ("is higher", "is lower", ""))
        words = up if self.fitted > self.planned else down
        pct = "" if self.change_pct is None else f", {self.change_pct:+.0f}%"
        return f"{words} ({_num(self.fitted)} vs {_num(self.planned)} {unit}{pct})"


@dataclass
class Drift:
    """The fitted sessions against the plan (see the module doc). ``parameters`` are ranked
    by the size of their monthly impact; ``total_usd`` is the plan's monthly estimate with
    every fitted parameter in, less ``plan_usd``, the plan's own."""

    plan: str
    stack: str
    sessions: int
    threshold_pct: float
    plan_usd: float
    fitted_usd: float
    parameters: list[ParameterDrift]
    notes: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return self.fitted_usd - self.plan_usd

    @property
    def total_pct(self) -> float | None:
        return None if self.plan_usd == 0 else 100 * self.total_usd / self.plan_usd

    @property
    def drifting(self) -> list[ParameterDrift]:
        return [p for p in self.parameters if p.drifting]

    @property
    def moved_most(self) -> ParameterDrift | None:
        """The parameter whose change alone moves the monthly cost most."""
        known = [p for p in self.parameters if p.impact_usd is not None]
        return max(known, key=lambda p: abs(p.impact_usd or 0.0)) if known else None

    def verdict(self) -> str:
        """One sentence: drifting or not, how, and what moved the cost most."""
        most = self.moved_most
        moved = "" if most is None or not most.impact_usd else (
            f"; {most.parameter} moved the cost most: {most.impact_usd:+,.0f} $/month alone")
        total = "" if self.total_pct is None else (
            f"; all together {self.total_usd:+,.0f} $/month ({self.total_pct:+.1f}%)")
        if not self.drifting:
            return (f"{self.sessions} sessions are not drifting from {self.plan} (no parameter "
                    f"moved more than {self.threshold_pct:g}% and beyond noise){total}{moved}")
        return (f"{self.sessions} sessions are drifting from {self.plan}: "
                + "; ".join(p.describe() for p in self.drifting) + f"{total}{moved}")


def _num(x: float) -> str:
    """2,500 tokens, 12.8 s, 0.7: three figures, thousands grouped."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _plan_mean_minutes(sc: Scenario) -> float:
    d = sc.duration_min
    if d.fixed is not None:
        return d.fixed
    if d.lognormal is not None:
        return d.lognormal.mean
    return float(empirical_minutes(sc).mean())


def _planned(sc: Scenario, name: str) -> float | None:
    if name == "duration_min":
        return _plan_mean_minutes(sc)
    if name == "prompt.system_tokens":
        return float(sc.system_tokens())
    section, _, key = name.partition(".")
    value = getattr(getattr(sc, section, None), key, None)
    return None if value is None else float(value)


def _swap(plan: Scenario, fitted: Scenario, name: str) -> Scenario:
    """The plan with the fitted value of one parameter (raises ValidationError when the
    result is not a valid scenario, e.g. speech that no longer fits in the planned turn)."""
    if name == "duration_min":
        duration = fitted.duration_min
        if duration.empirical is not None:   # the fitted CSV, wherever it was written
            duration = duration.model_copy(update={
                "empirical": str(fitted.resolve_path(duration.empirical).resolve())})
        return plan.model_copy(update={"duration_min": duration})
    if name == "cache.hit_ratio":   # with its mode: per-response hits are what sessions show
        return plan.model_copy(update={"cache": fitted.cache})
    if name == "prompt.system_tokens":
        prompt = type(plan.prompt).model_validate({
            **plan.prompt.model_dump(), "system_tokens": fitted.system_tokens(),
            "system_file": None, "tool_tokens": 0})
        return plan.model_copy(update={"prompt": prompt})
    section, _, key = name.partition(".")
    part = getattr(plan, section)
    new = type(part).model_validate({**part.model_dump(), key: getattr(getattr(fitted, section),
                                                                        key)})
    return plan.model_copy(update={section: new})


def _with_stack(sc: Scenario, stack: Any) -> Scenario:
    return sc.model_copy(update={"stacks": [stack]})


def drift(plan: Scenario, sessions: Iterable[str | Path | SessionRecord], *,
          catalog: Catalog | None = None, threshold_pct: float = 5.0, on: date | None = None,
          calls: int | None = None, fitted: FitResult | None = None) -> Drift:
    """Fit `sessions` and compare them with `plan` (module doc). `calls` overrides the
    simulated calls of each estimate (default: the plan's); `fitted` skips the fit.

    Raises `InputError` when no session can be fitted.
    """
    catalog = catalog or default_catalog()
    result = fitted or fit_sessions(sessions, catalog=catalog, on=on)
    fitted_sc = result.scenario
    fitted_stack = fitted_sc.stacks[0]
    wanted = stack_id(fitted_stack)
    notes: list[str] = []
    if wanted not in {stack_id(s) for s in plan.stacks}:
        notes.append(f"the sessions' stack {wanted} is not one of the plan's: the plan's "
                     "parameters are estimated on it")
    base = _with_stack(plan, fitted_stack)
    cache = TableCache()
    day = on or result.day

    def monthly(sc: Scenario) -> float:
        return estimate(sc, catalog, on=day, calls=calls, cache=cache).results[0].monthly_usd

    plan_usd = monthly(base)
    all_in = base
    for name in ("duration_min", "cache.hit_ratio", "prompt.system_tokens"):
        all_in = _swap(all_in, fitted_sc, name)
    all_in = all_in.model_copy(update={"turns": fitted_sc.turns,
                                       "truncation": fitted_sc.truncation})
    rows = [r for name in _names(result)
            if (r := _compare(name, plan, fitted_sc, result, base, plan_usd, monthly,
                              threshold_pct)) is not None]
    rows.sort(key=lambda r: -abs(r.impact_usd or 0.0))
    return Drift(plan.file or plan.name, wanted, result.sessions, threshold_pct, plan_usd,
                 monthly(all_in), rows, notes + list(result.problems))


def _names(result: FitResult) -> list[str]:
    names = ["duration_min"]
    names += [k for k in _WORDS if k in result.parameters and result.parameters[k].sessions]
    return names


def _compare(name: str, plan: Scenario, fitted_sc: Scenario, result: FitResult,
             base: Scenario, plan_usd: float, monthly: Callable[[Scenario], float],
             threshold_pct: float) -> ParameterDrift | None:
    planned = _planned(plan, name)
    if name == "duration_min":
        value = result.duration.mean_min
        minutes = result.duration.minutes
        spread = _std(minutes)
        sessions = len(minutes)
    else:
        fv = result.parameters[name]
        value, spread, sessions = fv.value, fv.spread, fv.sessions
    fitted = _planned(fitted_sc, name) if name != "duration_min" else value
    if planned is None or fitted is None or not math.isfinite(fitted):
        return None
    change = None if planned == 0 else 100 * (fitted - planned) / planned
    noise = None if spread is None or sessions < 2 else 1.959964 * spread / math.sqrt(sessions)
    drifting = (change is None and fitted != planned) or (
        change is not None and abs(change) > threshold_pct
        and (noise is None or abs(fitted - planned) > noise))
    note = "one session: no noise estimate" if sessions < 2 else ""
    try:
        impact: float | None = monthly(_swap(base, fitted_sc, name)) - plan_usd
    except (ValidationError, ScenarioError) as exc:
        impact = None
        note = f"cannot be swapped in alone: {_reason(exc)}"
    if name == "cache.hit_ratio" and plan.cache.hits != fitted_sc.cache.hits:
        note = (note + "; " if note else "") + (f"the plan counts hits as {plan.cache.hits}, "
                                                f"the sessions as {fitted_sc.cache.hits}")
    return ParameterDrift(name, planned, fitted, spread, sessions, change, drifting, impact, note)


def _std(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return exc.errors()[0]["msg"]
    return str(exc)


def drift_json(d: Drift) -> dict[str, object]:
    """The drift as JSON-ready data (monthly dollars as numbers: they are estimates)."""
    def num(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else round(x, 6)

    most = d.moved_most
    return {
        "plan": d.plan, "stack": d.stack, "sessions": d.sessions,
        "threshold_pct": d.threshold_pct, "drifting": bool(d.drifting),
        "verdict": d.verdict(), "moved_most": None if most is None else most.parameter,
        "plan_monthly_usd": num(d.plan_usd), "fitted_monthly_usd": num(d.fitted_usd),
        "total_usd": num(d.total_usd), "total_pct": num(d.total_pct),
        "parameters": [{"parameter": p.parameter, "planned": num(p.planned),
                        "fitted": num(p.fitted), "spread": num(p.spread),
                        "sessions": p.sessions, "change_pct": num(p.change_pct),
                        "drifting": p.drifting, "impact_monthly_usd": num(p.impact_usd),
                        "note": p.note} for p in d.parameters],
        "notes": d.notes,
    }
