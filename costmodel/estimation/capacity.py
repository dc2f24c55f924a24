"""Capacity: the busy hour's load per stack against provider limits, and GPUs for self-hosting.

Traffic (`costmodel.estimation.traffic`): the busy day's calls (calls per month /
``days_per_month`` x ``peak_factor``) arrive as a Poisson process shaped by the hourly profile;
call lengths are the estimator's sampled calls (the same seed, the same `Lengths`).

- **Concurrency**: the mean number of calls in progress at each second of the day is the
  arrival rate convolved with ``P(length > age)``; the number in progress is Poisson with that
  mean (M_t/G/infinity). The busy hour is the hour with the highest mean; its P99 is the 99th
  percentile of the number in progress at a random moment of that hour (a mixture of the
  Poisson distributions of its 5-minute slices).
- **Requests and tokens**: each component's usage of response k is the estimator's own
  (`StackModel` components, the `Usage` the guard meters, context re-billing, caching and
  truncation included), placed at the start of turn k (age ``(k - 1) x seconds_per_turn``),
  weighted by the share of calls that reach response k. A component billed per call (time,
  telephony) makes one request per call, at its start. The busy hour's mean rate is scaled to
  its P99 by P99 / mean concurrency (the minute-to-minute spread comes from the number of
  calls in progress): that is the "peak" compared with limits. Input tokens count cached ones
  (a cache read is still input a limit counts).
- **Limits**: each component's catalog ``limits:`` for the chosen tier (``--tier``; a model
  without that tier shows its first-listed one); a limit the catalog does not give is unknown,
  never unlimited. Headroom = limit / peak - 1; the binding limit is the known one with the
  least headroom.
- **GPUs** (self-host entries): deployments = ceil(P99 / sessions per deployment), with the
  Erlang C probability that a caller waits (and Erlang B that one is refused) at the busy
  hour's mean load on that many session slots; priced always on (730 h a month) with `price`.
  The autoscaled alternative runs ceil(hourly mean / (sessions x utilisation)) deployments
  each hour of an average day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from ..core.catalog import Catalog, default_catalog
from ..core.pricing import price
from ..core.rates import ModelEntry, RateLimits
from ..core.usage import Usage
from ..errors import CostModelError, UnknownModelError
from .breakeven import HOURS_PER_MONTH
from .erlang import erlang_b, erlang_c, mixture_quantile
from .lengths import Lengths
from .monthly import sampled_lengths
from .scenario import ChainedStack, Scenario, stack_id
from .simulate import Component, StackModel, _none_response, build_stack
from .tables import TableCache
from .traffic import (
    DAY_S,
    HOUR_S,
    DayConvolver,
    arrivals_per_second,
    hourly_means,
    interval_means,
    profile_weights,
    survival,
)

P99 = 0.99


@dataclass(frozen=True)
class LimitCheck:
    """One provider limit against the busy hour's peak (limit None: not known)."""

    name: str                  # "openai/gpt-realtime-1.5 tpm"
    model: str
    metric: str                # rpm, tpm, rpd, concurrent_sessions, cps
    tier: str | None
    limit: float | None
    peak: float
    headroom: float | None     # limit / peak - 1 (negative: over the limit)
    source: str | None = None


@dataclass(frozen=True)
class ComponentLoad:
    """One component's busy-hour load (per minute: P99 and mean) and its busy-day total."""

    role: str
    model: str
    requests_per_min: float
    requests_per_min_mean: float
    input_tokens_per_min: float
    input_tokens_per_min_mean: float
    cached_tokens_per_min: float
    requests_per_day: float
    bills_tokens: bool


@dataclass(frozen=True)
class BusyHour:
    hour: int
    calls: float                 # expected arrivals in the hour
    mean_concurrent: float
    p99_concurrent: int
    requests_per_min: float      # P99, all components billed per request
    input_tokens_per_min: float  # P99, input (cached included)
    cached_tokens_per_min: float
    requests_per_min_mean: float
    input_tokens_per_min_mean: float
    connection_minutes: float    # call-minutes in progress during the hour
    calls_per_second: float      # mean new calls per second


@dataclass(frozen=True)
class Fleet:
    """An always-on self-hosted fleet sized from the busy hour's P99, and its autoscaled
    alternative."""

    model: str
    runs_on: str
    gpus_per_deployment: float
    sessions_per_deployment: int
    deployments: int
    gpus: int
    wait_probability: float      # Erlang C at the busy hour's mean load
    block_probability: float     # Erlang B (no queue)
    always_on_usd_per_month: float
    utilisation: float
    autoscaled_gpu_hours_per_month: float
    autoscaled_usd_per_month: float


@dataclass
class StackCapacity:
    stack: str
    busy_hour: BusyHour
    components: list[ComponentLoad]
    limits: list[LimitCheck]
    binding_limit: str | None
    fleet: Fleet | None
    notes: list[str] = field(default_factory=list)

    @property
    def gpus(self) -> int | None:
        return None if self.fleet is None else self.fleet.gpus


@dataclass
class CapacityReport:
    scenario: str
    on: date
    calls_per_day: float             # the busy day's (peak_factor included)
    profile: str                     # a named profile, or "custom"
    peak_factor: float
    tier: str | None
    concurrency_by_hour: list[float]  # mean calls in progress, hour 0..23 of the busy day
    results: list[StackCapacity]


# ---- traffic shared by every stack -------------------------------------------------------

@dataclass(frozen=True)
class _Day:
    rate: np.ndarray          # arrivals per second, 86,400
    concurrency: np.ndarray   # mean calls in progress per second, 86,400
    hour: int
    window: np.ndarray        # W(s): arrivals at age s that fall in the busy hour, summed
    mean: float
    p99: int


def _day(sc: Scenario, lengths: Lengths) -> _Day:
    v = sc.volume
    per_day = v.monthly_calls / v.days_per_month * v.peak_factor
    rate = arrivals_per_second(per_day, profile_weights(v.hourly_profile))
    conc = DayConvolver(rate).load(survival(lengths.seconds, lengths.counts))
    by_hour = hourly_means(conc)
    hour = int(np.argmax(by_hour))
    # W(s) = sum over t in the busy hour of rate(t - s): the busy hour's mean load of any
    # kernel k(s) is then sum_s k(s) W(s) / 3600, with no convolution per kernel.
    cs = np.concatenate(([0.0], np.cumsum(np.concatenate((rate, rate)))))
    start = (hour * HOUR_S - np.arange(DAY_S)) % DAY_S
    window = cs[start + HOUR_S] - cs[start]
    p99 = mixture_quantile(interval_means(conc, hour), P99)
    return _Day(rate, conc, hour, window, float(by_hour[hour]), p99)


def _response_kernel(comp: Component, sc: Scenario, lengths: Lengths
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(ages in seconds, share of calls reaching response k, input tokens, cached tokens) for
    k = 1 .. the longest sampled call's responses; None for a component billed per call."""
    if comp.response_usage is _none_response:
        return None
    t = sc.turns.seconds_per_turn
    n = sc.turns.responses(lengths.seconds)
    reach = np.bincount(n, weights=lengths.counts)[::-1].cumsum()[::-1] / lengths.n
    kmax = int(n.max())
    ks = np.arange(1, kmax + 1)
    requests, tokens, cached = np.zeros(kmax), np.zeros(kmax), np.zeros(kmax)
    for k in range(1, kmax + 1):
        u = comp.response_usage(k)
        if u is not None:
            requests[k - 1] = 1
            tokens[k - 1] = u.input_tokens
            cached[k - 1] = sum(v for key, v in u.tokens.items() if key.endswith(".cached"))
    # (k - 1) turns in, shifted by how much sooner (or later) than a turn the first answer
    # comes: the same ages as before when the scenario gives no first_response_s.
    ages = np.clip(np.rint((ks - 1) * t + (sc.turns.first_s - t)), 0, DAY_S - 1
                   ).astype(np.int64)
    share = reach[1:kmax + 1] * requests
    return ages, share, tokens, cached


def _component_load(comp: Component, sc: Scenario, lengths: Lengths, day: _Day,
                    scale: float) -> ComponentLoad:
    per_day = float(day.rate.sum())
    kern = _response_kernel(comp, sc, lengths)
    if kern is None:  # one request per call, at its start
        req_mean = float(day.window[0]) / HOUR_S * 60
        return ComponentLoad(comp.role, comp.model, req_mean * scale, req_mean, 0.0, 0.0, 0.0,
                             per_day, False)
    ages, share, tokens, cached = kern
    w = day.window[ages]
    req_mean = float(share @ w) / HOUR_S * 60
    tok_mean = float((share * tokens) @ w) / HOUR_S * 60
    cached_mean = float((share * cached) @ w) / HOUR_S * 60
    return ComponentLoad(comp.role, comp.model, req_mean * scale, req_mean, tok_mean * scale,
                         tok_mean, cached_mean * scale, per_day * float(share.sum()),
                         bool(tokens.any()))


# ---- limits ------------------------------------------------------------------------------

def pick_tier(entry: ModelEntry, tier: str | None) -> tuple[str, RateLimits] | None:
    """The entry's limits for `tier`, else its first-listed tier; None without limits."""
    if not entry.limits:
        return None
    if tier is not None and tier in entry.limits:
        return tier, entry.limits[tier]
    name = next(iter(entry.limits))
    return name, entry.limits[name]


def _check(model: str, metric: str, chosen: tuple[str, RateLimits] | None,
           peak: float) -> LimitCheck:
    tier, lim = chosen if chosen else (None, None)
    value = getattr(lim, metric) if lim is not None else None
    limit = None if value is None else float(value)
    headroom = limit / peak - 1 if limit is not None and peak > 0 else None
    return LimitCheck(f"{model} {metric}", model, metric, tier, limit, peak, headroom,
                      lim.source if lim is not None else None)


def _limits(model: StackModel, loads: list[ComponentLoad], catalog: Catalog, day: _Day,
            tier: str | None) -> list[LimitCheck]:
    checks: list[LimitCheck] = []
    cps = day.window[0] / HOUR_S  # mean new calls per second in the busy hour
    for comp, load in zip(model.components, loads, strict=True):
        entry = catalog.get(comp.model)
        if entry.selfhost is not None:
            continue  # sized as a GPU fleet, not against a provider's limits
        chosen = pick_tier(entry, tier)
        checks.append(_check(entry.id, "concurrent_sessions", chosen, day.p99))
        if entry.kind == "telephony":
            checks.append(_check(entry.id, "cps", chosen, float(cps)))
            continue
        if entry.kind == "platform":
            continue  # a platform bills time, not requests: its limit is concurrency
        checks.append(_check(entry.id, "rpm", chosen, load.requests_per_min))
        if load.bills_tokens:
            checks.append(_check(entry.id, "tpm", chosen, load.input_tokens_per_min))
        checks.append(_check(entry.id, "rpd", chosen, load.requests_per_day))
    return checks


def binding(checks: Sequence[LimitCheck]) -> str | None:
    """The known limit with the least headroom (the first to bind as volume grows)."""
    known = [c for c in checks if c.headroom is not None]
    return min(known, key=lambda c: c.headroom or 0.0).name if known else None


# ---- self-hosting ------------------------------------------------------------------------

def _fleet(entry: ModelEntry, catalog: Catalog, on: date, day: _Day, days_per_month: float,
           peak_factor: float, utilisation: float | None) -> Fleet:
    sh = entry.selfhost
    assert sh is not None
    sessions = int(sh.concurrent_sessions)
    deployments = max(1, math.ceil(day.p99 / sessions))
    slots = deployments * sessions
    # One deployment-hour as session-seconds at the catalog's concurrency and utilisation is
    # exactly gpus x GPU $/h: priced with `price`, the one pricing path (as break_even does).
    hour_usd = float(price(Usage(entry.id, connection_seconds=Decimal(3600)
                                 * sh.concurrent_sessions * sh.utilization),
                           catalog, on=on).total_usd)
    util = float(sh.utilization) if utilisation is None else utilisation
    if not 0 < util <= 1:
        raise CostModelError(f"utilisation must be in (0, 1], got {util}")
    average = hourly_means(day.concurrency) / peak_factor  # an average day, not the busy one
    per_hour = np.maximum(1, np.ceil(average / (sessions * util) - 1e-9))
    deployment_hours = float(per_hour.sum()) * days_per_month
    gpus = float(sh.gpus)
    return Fleet(entry.id, sh.runs_on, gpus, sessions, deployments,
                 math.ceil(deployments * gpus - 1e-9), erlang_c(slots, day.mean),
                 erlang_b(slots, day.mean), deployments * hour_usd * HOURS_PER_MONTH, util,
                 deployment_hours * gpus, deployment_hours * hour_usd)


# ---- the report --------------------------------------------------------------------------

def _stack(model: StackModel, sc: Scenario, catalog: Catalog, on: date, lengths: Lengths,
           day: _Day, tier: str | None, utilisation: float | None) -> StackCapacity:
    scale = day.p99 / day.mean if day.mean > 0 else 1.0
    loads = [_component_load(c, sc, lengths, day, scale) for c in model.components]
    billed = [ld for ld in loads if catalog.get(ld.model).kind not in ("telephony", "platform")
              and catalog.get(ld.model).selfhost is None]
    busy = BusyHour(
        hour=day.hour, calls=float(day.window[0]), mean_concurrent=day.mean,
        p99_concurrent=day.p99,
        requests_per_min=sum(ld.requests_per_min for ld in billed),
        input_tokens_per_min=sum(ld.input_tokens_per_min for ld in billed),
        cached_tokens_per_min=sum(ld.cached_tokens_per_min for ld in billed),
        requests_per_min_mean=sum(ld.requests_per_min_mean for ld in billed),
        input_tokens_per_min_mean=sum(ld.input_tokens_per_min_mean for ld in billed),
        connection_minutes=day.mean * 60, calls_per_second=float(day.window[0]) / HOUR_S)
    checks = _limits(model, loads, catalog, day, tier)
    fleet = None
    notes = []
    for comp in model.components:
        entry = catalog.get(comp.model)
        if entry.selfhost is not None and fleet is None:
            fleet = _fleet(entry, catalog, on, day, sc.volume.days_per_month,
                           sc.volume.peak_factor, utilisation)
        if tier is not None and entry.limits and tier not in entry.limits:
            notes.append(f"{entry.id}: no tier {tier!r} in the catalog (it lists "
                         f"{', '.join(entry.limits)}); shown: {next(iter(entry.limits))}")
    return StackCapacity(model.id, busy, loads, checks, binding(checks), fleet, notes)


def capacity(sc: Scenario, catalog: Catalog | None = None, *, stacks: Sequence[str] | None = None,
             tier: str | None = None, utilisation: float | None = None, on: date | None = None,
             calls: int | None = None, seed: int | None = None,
             cache: TableCache | None = None) -> CapacityReport:
    """The busy hour of every stack of a scenario (or only `stacks`), against its limits.
    `utilisation` (autoscaled self-hosting) defaults to the scenario's `selfhost.utilisation`,
    else the catalog entry's, as the estimate prices it."""
    catalog = catalog or default_catalog()
    if utilisation is None:
        utilisation = sc.selfhost.utilisation
    day_on = on or date.today()
    n = calls or sc.simulation.calls
    lengths = sampled_lengths(sc, n, sc.simulation.seed if seed is None else seed, cache)
    day = _day(sc, lengths)
    chosen: list[str | ChainedStack] = list(sc.stacks)
    if stacks:
        ids = {stack_id(s): s for s in chosen}
        chosen = [ids.get(wanted, wanted) for wanted in stacks]
    results = []
    for i, stack in enumerate(chosen):
        try:
            model = build_stack(stack, sc, catalog, day_on)
        except UnknownModelError as exc:
            where = (f"stack {stack_id(stack)!r}" if stacks
                     else f"{sc.file or '<scenario>'}: stacks[{i}]")
            exc.args = (f"{where}: {exc}",)
            raise
        results.append(_stack(model, sc, catalog, day_on, lengths, day, tier, utilisation))
    v = sc.volume
    profile = v.hourly_profile if isinstance(v.hourly_profile, str) else "custom"
    return CapacityReport(sc.name, day_on, float(day.rate.sum()), profile, v.peak_factor, tier,
                          hourly_means(day.concurrency).tolist(), results)


def selfhost_fleet(sc: Scenario, stack: str | ChainedStack, catalog: Catalog | None = None, *,
                   on: date | None = None, utilisation: float | None = None,
                   cache: TableCache | None = None) -> Fleet | None:
    """The always-on fleet a self-hosted stack needs for the scenario's busy hour (P99), with
    its monthly cost (``always_on_usd_per_month``) and the autoscaled alternative; None for a
    stack with no self-host component. The price the estimate and the dashboard show for
    self-hosting, so every view has one figure."""
    catalog = catalog or default_catalog()
    wanted = next((s for s in sc.stacks if stack_id(s) == stack), stack)
    day_on = on or date.today()
    model = build_stack(wanted, sc, catalog, day_on)
    entries = [catalog.get(c.model) for c in model.components]
    hosted = next((e for e in entries if e.selfhost is not None), None)
    if hosted is None:
        return None
    lengths = sampled_lengths(sc, sc.simulation.calls, sc.simulation.seed, cache)
    return _fleet(hosted, catalog, day_on, _day(sc, lengths), sc.volume.days_per_month,
                  sc.volume.peak_factor, utilisation)
