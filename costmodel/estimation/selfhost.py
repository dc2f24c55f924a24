"""The one price of a self-hosted stack, used by `estimate`, `break_even` and the dashboard.

A team that self-hosts rents GPUs, and pays for them whether calls come or not. So a
self-hosted stack is priced as a **fleet per month**, never as a GPU-minute share:

- **always on** (the default): deployments = ceil(busy hour's P99 concurrent calls /
  sessions per deployment), at least one, each rented 730 h a month
  (`capacity.selfhost_fleet`, Erlang C wait probability alongside);
- **autoscaled** at a utilisation the scenario sets (``selfhost: {utilisation: 0.6}``):
  each hour of an average day, ceil(mean calls in progress / (sessions x utilisation))
  deployments, at least one.

The per-call figure is the month's fleet cost / calls a month, and the basis is stated
("always on: 5 GPUs (5 x 1 selfhost/h100, 8 sessions each) for P99 35 concurrent").
Concurrency is linear in volume (M_t/G/inf), so `FleetPricer` convolves the day once and
sizes the fleet for any volume by scaling it (the break-even curve asks for hundreds).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np

from ..core.catalog import Catalog, default_catalog
from ..core.rates import ModelEntry
from ..money import format_usd_short
from .breakeven import HOURS_PER_MONTH
from .capacity import Fleet, _Day, _day, _fleet
from .erlang import _poisson_cdf, mixture_quantile
from .lengths import Lengths
from .monthly import sampled_lengths
from .scenario import ChainedStack, Scenario, stack_id
from .simulate import StackModel, build_stack
from .tables import TableCache
from .traffic import hourly_means, interval_means

P99 = 0.99


def hosted_entry(model: StackModel, catalog: Catalog) -> ModelEntry | None:
    """The stack's self-hosted component's catalog entry, or None."""
    for comp in model.components:
        entry = catalog.get(comp.model)
        if entry.selfhost is not None:
            return entry
    return None


class FleetPricer:
    """The fleet a self-hosted model needs under a scenario's traffic, at any monthly volume.

    `monthly_usd(calls)` is the price every view shows: the always-on fleet, or the
    autoscaled one when the scenario sets ``selfhost.utilisation``."""

    def __init__(self, sc: Scenario, entry: ModelEntry, catalog: Catalog, on: date,
                 lengths: Lengths) -> None:
        self.sc, self.entry, self.catalog, self.on = sc, entry, catalog, on
        self.utilisation = sc.selfhost.utilisation
        self.base_calls = sc.volume.monthly_calls
        self._day = _day(sc, lengths)
        self._slices = interval_means(self._day.concurrency, self._day.hour)
        self._fleets: dict[float, Fleet] = {}
        one = self.fleet(self.base_calls)
        self._hour_usd = one.always_on_usd_per_month / one.deployments / HOURS_PER_MONTH
        # an average day's mean calls in progress by hour (the autoscaled fleet's basis)
        self._hourly = hourly_means(self._day.concurrency) / sc.volume.peak_factor

    def _scaled(self, calls_per_month: float) -> _Day:
        f = calls_per_month / self.base_calls
        d = self._day
        if f == 1:
            return d
        return replace(d, rate=d.rate * f, concurrency=d.concurrency * f, window=d.window * f,
                       mean=d.mean * f,
                       p99=mixture_quantile([float(m) * f for m in self._slices], P99))

    def fleet(self, calls_per_month: float | None = None) -> Fleet:
        calls = self.base_calls if calls_per_month is None else float(calls_per_month)
        got = self._fleets.get(calls)
        if got is None:
            v = self.sc.volume
            got = self._fleets[calls] = _fleet(self.entry, self.catalog, self.on,
                                               self._scaled(calls), v.days_per_month,
                                               v.peak_factor, self.utilisation)
        return got

    def monthly_usd(self, calls_per_month: float | None = None) -> float:
        """The self-hosted fleet's cost a month at this volume (USD): `fleet`'s always-on or
        autoscaled figure, computed without the Erlang probabilities (the break-even asks
        for hundreds of volumes)."""
        calls = self.base_calls if calls_per_month is None else float(calls_per_month)
        if calls in self._fleets or calls == self.base_calls:
            got = self.fleet(calls)
            return got.always_on_usd_per_month if self.utilisation is None else \
                got.autoscaled_usd_per_month
        sh = self.entry.selfhost
        assert sh is not None
        sessions = int(sh.concurrent_sessions)
        f = calls / self.base_calls
        if self.utilisation is None:
            p99 = p99_of([m * f for m in self._slices])
            return max(1, math.ceil(p99 / sessions)) * self._hour_usd * HOURS_PER_MONTH
        v = self.sc.volume
        per_hour = np.maximum(1, np.ceil(self._hourly * f / (sessions * self.utilisation)
                                         - 1e-9))
        return float(per_hour.sum()) * v.days_per_month * self._hour_usd

    @property
    def calls_per_deployment(self) -> float:
        """The monthly volume whose busy-hour mean load fills one deployment's sessions."""
        sh = self.entry.selfhost
        assert sh is not None
        return self.base_calls * float(sh.concurrent_sessions) / max(self._day.mean, 1e-12)

    def deployments(self, calls_per_month: float) -> int:
        """Always-on deployments at a volume (for the busy hour's P99)."""
        sh = self.entry.selfhost
        assert sh is not None
        p99 = p99_of([m * calls_per_month / self.base_calls for m in self._slices])
        return max(1, math.ceil(p99 / int(sh.concurrent_sessions)))

    def basis(self, calls_per_month: float | None = None) -> str:
        """How the price was reached, in words."""
        return basis(self.fleet(calls_per_month), self.utilisation, self.monthly_usd(
            calls_per_month), p99=self._scaled(self.base_calls if calls_per_month is None
                                               else calls_per_month).p99)


def p99_of(means: list[float]) -> int:
    """`erlang.mixture_quantile(means, 0.99)`, the same number, from one pass over the range
    of counts instead of a bisection (the break-even sizes hundreds of volumes)."""
    ms = [float(m) for m in means if m > 0]
    if not ms:
        return 0
    lo = max(0, int(math.floor(min(ms) - 12 * math.sqrt(min(ms)) - 10)))
    hi = int(math.ceil(max(ms) + 12 * math.sqrt(max(ms)) + 30))
    ks = np.arange(lo, hi + 1, dtype=np.float64)
    n = len(means)
    f = sum(_poisson_cdf(ks, m) for m in ms) / n + (n - len(ms)) / n
    at = np.flatnonzero(f >= P99)
    return lo + int(at[0]) if len(at) else hi


def basis(f: Fleet, utilisation: float | None, monthly_usd: float, *, p99: int) -> str:
    gpus = (f"{f.gpus} GPU{'s' if f.gpus != 1 else ''} ({f.deployments} x "
            f"{f.gpus_per_deployment:g} {f.runs_on}, {f.sessions_per_deployment} sessions each)")
    if utilisation is None:
        return (f"always on: {gpus} for P99 {p99} concurrent, "
                f"{format_usd_short(monthly_usd)}/month (730 h)")
    return (f"autoscaled at {utilisation:.0%} utilisation: "
            f"{f.autoscaled_gpu_hours_per_month:,.0f} GPU-hours, "
            f"{format_usd_short(monthly_usd)}/month (always on would be {gpus} for P99 {p99})")


def fleet_pricer(sc: Scenario, stack: str | ChainedStack, catalog: Catalog | None = None, *,
                 on: date | None = None, cache: TableCache | None = None,
                 lengths: Lengths | None = None) -> FleetPricer | None:
    """The `FleetPricer` of a stack (a scenario's stack id or any catalog id); None when it
    has no self-hosted component."""
    catalog = catalog or default_catalog()
    day_on = on or date.today()
    wanted = next((s for s in sc.stacks if stack_id(s) == stack), stack)
    entry = hosted_entry(build_stack(wanted, sc, catalog, day_on), catalog)
    if entry is None:
        return None
    if lengths is None:
        lengths = sampled_lengths(sc, sc.simulation.calls, sc.simulation.seed, cache)
    return FleetPricer(sc, entry, catalog, day_on, lengths)
