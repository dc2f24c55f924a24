"""Monte Carlo estimates: per-call cost distribution, cost per minute, monthly totals, curves.

How it stays fast *and* on one pricing path: a call's cost depends only on its length. So for
each stack we simulate the `Usage` of response k = 1..N_max once and price it with `price`
(cumulative cost by number of responses), and price each distinct call length's per-call usage
(connection time, telephony, rounded per call) once. Sampled calls are counted per whole
second (`Lengths`), and every statistic is taken over (length, count) pairs: no per-call Python
loop, no per-call cost array, and no second implementation of the rates.

Amounts in the tables are exact `Decimal` sums converted to float64 once; statistics are
float64; what is shown to users is rounded once, at display.

>>> from costmodel.estimation import Scenario
>>> sc = Scenario.model_validate({"name": "x", "volume": {"calls_per_month": 1000},
...     "duration_min": {"fixed": 2}, "stacks": ["xai/grok-voice-agent"]})
>>> round(estimate(sc).results[0].per_call_usd["mean"], 4)       # 2 min x $0.05
0.1
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from .._files import CSV_LIMIT, clip, read_text
from ..core.catalog import Catalog, default_catalog
from ..core.imported import imported_note
from ..errors import NoPriceInForceError, UnknownModelError
from . import policies
from .lengths import Lengths, percentiles, weighted_mean_std
from .scenario import MAX_CALL_MINUTES, MAX_CALLS_PER_MONTH, Scenario, ScenarioError, stack_id
from .simulate import StackModel, build_stack
from .tables import CostTables, TableCache

_Z95 = 1.6448536269514722
# Facts the simulation's result depends on; an unconfirmed one is worth a note.
_COST_SHAPING_FACTS = frozenset({"audio_tokens_per_second_in", "audio_tokens_per_second_out",
                                 "truncation_threshold_tokens", "rebills_context",
                                 "bills_silence"})
_BOOTSTRAP_MONTHS = 400
PLATFORM_FEE = "platform fee"   # the line item of `Scenario.platform` (no model)
FLEET_ITEM, AUTOSCALED_ITEM = "GPUs always on", "GPUs autoscaled"  # '<selfhost id> ...'


@dataclass
class StackEstimate:
    """What one stack costs under a scenario."""

    stack: str
    calls_simulated: int
    per_call_usd: dict[str, float]          # mean, p50, p95, p99
    per_minute_usd: float                   # total cost / total call minutes
    monthly_usd: float                      # calls per month x mean per-call cost
    monthly_band_usd: tuple[float, float]   # P5, P95 of the monthly total
    line_items: list[tuple[str, float]]     # (model item, USD per month), sums to monthly_usd
    mean_minutes: float
    notes: list[str] = field(default_factory=list)
    # Per-call costs of the simulated calls (USD, one per sampled call), only when
    # `estimate(..., keep_samples=True)`; None otherwise (the arrays are large).
    samples_usd: np.ndarray | None = field(default=None, repr=False, compare=False)
    # The part of monthly_usd that is not per call: platform plan and phone-number fees, less
    # included minutes (line items '<id> monthly fee', '<id> phone numbers', '<id> included
    # minutes'). Per-call figures exclude it; monthly_usd and per_minute_usd include it.
    fixed_monthly_usd: float = 0.0
    # A self-hosted stack: how its fleet was priced ("always on: 5 GPUs ... for P99 35
    # concurrent, $10,184/month (730 h)"); its line item '<id> GPUs always on' (or
    # '<id> GPUs autoscaled') replaces the GPU-minute share. None for API stacks.
    selfhost_basis: str | None = None
    # With the scenario's policies (`costmodel.estimation.policies`): what they save a month
    # against the same stack without them (None: the scenario sets none).
    policy_saving_monthly_usd: float | None = None


@dataclass
class Estimate:
    scenario: str
    calls_per_month: float
    seed: int
    on: date
    results: list[StackEstimate]

    def ranked(self) -> list[StackEstimate]:
        return sorted(self.results, key=lambda r: r.monthly_usd)


# ---- call lengths ------------------------------------------------------------------------------

def sample_seconds(sc: Scenario, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` call lengths in whole seconds (rounded up; at least 1 s, at most 24 h)."""
    d = sc.duration_min
    if d.fixed is not None:
        minutes = np.full(n, d.fixed, dtype=np.float64)
    elif d.lognormal is not None:
        minutes = rng.lognormal(d.lognormal.mu, d.lognormal.sigma, n)
    else:
        minutes = rng.choice(empirical_minutes(sc), size=n, replace=True)
    # A lognormal's far tail can draw a "call" of days; no call is longer than a day, nor
    # than the policies' longest call (the guard ends it there: `policies`).
    # In place: at 10M calls every temporary is another 80 MB to fault in.
    minutes = np.minimum(minutes, sc.policies.max_call_minutes or MAX_CALL_MINUTES,
                         out=minutes)
    minutes *= 60
    minutes -= 1e-9
    np.ceil(minutes, out=minutes)
    return np.maximum(minutes, 1, out=minutes).astype(np.int64)


_HEADER = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ()]*$")


def empirical_minutes(sc: Scenario) -> np.ndarray:
    """The call lengths of an ``empirical:`` CSV: one length in minutes per line.

    An optional header line (a column name such as ``minutes``) and ``#`` comments are
    allowed; anything else that is not one positive number is an error naming the line.
    """
    name = sc.duration_min.empirical
    if name is None:
        raise ScenarioError("the scenario gives no empirical call lengths", path=sc.file,
                            key="duration_min.empirical")
    path = sc.resolve_path(name)
    lines = read_text(path, limit=CSV_LIMIT, fail=lambda msg: ScenarioError(
        f"{str(path)!r}: {msg}", path=sc.file, key="duration_min.empirical")).splitlines()
    values: list[float] = []
    for i, line in enumerate(lines, 1):
        cell = line.strip()
        if not cell or cell.startswith("#"):
            continue
        # Quote at most CLIP bytes of a bad cell: the file may not be a CSV at all.
        if "," in cell or ";" in cell or "\t" in cell:
            raise ScenarioError(f"expected one call length (minutes) per line, got "
                                f"{clip(cell)!r}", path=str(path), line=i)
        try:
            v = float(cell)
        except ValueError:
            if not values and _HEADER.match(cell):
                continue  # a header line
            raise ScenarioError(f"expected a call length in minutes, got {clip(cell)!r}",
                                path=str(path), line=i) from None
        if not 0 < v <= MAX_CALL_MINUTES:  # (NaN fails this too)
            raise ScenarioError(f"a call length must be > 0 and at most {MAX_CALL_MINUTES} "
                                f"minutes, got {clip(cell)}", path=str(path), line=i)
        values.append(v)
    if not values:
        raise ScenarioError("no call lengths in the file", path=str(path))
    return np.asarray(values)


# ---- cost tables: costmodel.estimation.tables ---------------------------------------------

def cost_tables(model: StackModel, max_responses: int, seconds: np.ndarray, catalog: Catalog,
                day: date, cache: TableCache | None = None) -> CostTables:
    """Price responses 1..max_responses and each distinct call length, with `price`."""
    return (cache or TableCache()).tables(model, max_responses, seconds, catalog, day)


def sampled_lengths(sc: Scenario, n: int, seed: int, cache: TableCache | None = None
                    ) -> Lengths:
    """`n` call lengths of the scenario's distribution drawn with `seed` (cached)."""
    d = sc.duration_min
    key: tuple[Any, ...] = (d.fixed, d.lognormal and (d.lognormal.mean, d.lognormal.p95), n, seed,
                            sc.policies.max_call_minutes)
    if d.empirical is not None:
        path = sc.resolve_path(d.empirical)
        try:
            st = path.stat()
            key += (str(path.resolve()), st.st_size, st.st_mtime_ns)
        except OSError:
            key += (str(path), None)  # read (and refused) by empirical_minutes

    def sample() -> Lengths:
        return Lengths.of(sample_seconds(sc, n, np.random.default_rng(seed)))
    return (cache or TableCache()).lengths(key, sample)


# ---- the estimate ------------------------------------------------------------------------------

def _monthly_band(cost_at: np.ndarray, calls: Lengths, mean: float, std: float,
                  n_month: float, rng: np.random.Generator) -> tuple[float, float]:
    """P5-P95 of a month's total: bootstrap months when small, else the normal approximation."""
    if n_month <= 2000 and n_month == int(n_month):
        idx = rng.integers(0, calls.n, size=(_BOOTSTRAP_MONTHS, int(n_month)))
        totals = _per_second(cost_at, calls)[calls.sampled[idx]].sum(axis=1)
        lo, hi = np.percentile(totals, [5, 95])
        return float(lo), float(hi)
    half = _Z95 * std * float(np.sqrt(n_month))
    return max(0.0, mean * n_month - half), mean * n_month + half


def _per_second(cost_at: np.ndarray, calls: Lengths) -> np.ndarray:
    """A cost for every whole second up to the longest call: per-call costs by indexing."""
    table = np.zeros(int(calls.seconds[-1]) + 1)
    table[calls.seconds] = cost_at
    return table


def estimate_stack(model: StackModel, calls: Lengths, sc: Scenario, catalog: Catalog,
                   day: date, calls_per_month: float, rng: np.random.Generator, *,
                   keep_samples: bool = False, cache: TableCache | None = None
                   ) -> StackEstimate:
    """One stack's estimate over sampled call lengths."""
    seconds, counts, n = calls.seconds, calls.counts, calls.n
    responses = sc.turns.responses(seconds)
    tables = cost_tables(model, int(responses[-1]), seconds, catalog, day, cache)
    if not model.has_responses:
        responses = np.zeros_like(responses)  # row 0 of the (empty) response table
    cost_at = tables.turn_cum[responses] + tables.call_cost   # per distinct length
    counts_n = np.bincount(responses, weights=counts, minlength=len(tables.turn_cum))
    per_call_items = (counts_n @ tables.turn_items + counts @ tables.call_items) / n
    items = list(tables.items)
    hosted = _selfhost(model, sc, catalog, day, calls, calls_per_month, cache)
    if hosted is not None:  # the fleet a month, not a GPU-minute share: one self-host price
        entry_id, fleet_usd, basis = hosted
        cols = [i for i, name in enumerate(items) if name.startswith(f"{entry_id} ")]
        share = tables.turn_items[responses][:, cols].sum(axis=1) \
            + tables.call_items[:, cols].sum(axis=1)
        cost_at = cost_at - share  # the fleet is added below, as a month's amount
        per_call_items = per_call_items.copy()
        per_call_items[cols] = 0.0
    fee = float(sc.platform.usd_per_minute)
    if fee:  # a platform's fee per minute of call, on top of every stack
        cost_at = cost_at + fee * seconds / 60
        per_call_items = np.append(per_call_items, fee * calls.total_seconds() / 60 / n)
        items.append(PLATFORM_FEE)
    mean, std = weighted_mean_std(cost_at, counts, n)
    p50, p95, p99 = percentiles(cost_at, counts, [50, 95, 99])
    total_minutes = calls.total_seconds() / 60
    line_items = [(name, float(v) * calls_per_month)
                  for name, v in zip(items, per_call_items, strict=False) if v]
    fixed_items = fixed_fees(model, sc, catalog, day, dict(line_items))
    fixed = sum(usd for _, usd in fixed_items)
    lo, hi = _monthly_band(cost_at, calls, mean, std, calls_per_month, rng)
    monthly = mean * calls_per_month + fixed
    if hosted is not None:  # the fleet: a month's amount, the same in every call's share
        fleet, auto = hosted[1], sc.selfhost.utilisation is not None
        line_items.append((f"{hosted[0]} {AUTOSCALED_ITEM if auto else FLEET_ITEM}", fleet))
        monthly, lo, hi = monthly + fleet, lo + fleet, hi + fleet
        mean, p50, p95, p99 = (x + fleet / calls_per_month for x in (mean, p50, p95, p99))
        cost_at = cost_at + fleet / calls_per_month
    notes = [] if hosted is None else [f"{hosted[0]}: {hosted[2]}"]
    longest = int(seconds[-1])
    for comp in model.components:
        entry = catalog.get(comp.model)
        facts = entry.facts
        notes += [f"{comp.model}: {note}" for note in
                  (entry.promotion_note(day), entry.lifecycle_note(day),
                   imported_note(entry, day)) if note]
        shaky = [f for f in facts.unconfirmed if f in _COST_SHAPING_FACTS]
        if shaky:
            notes.append(f"{comp.model}: depends on unconfirmed catalog facts: "
                         f"{', '.join(shaky)}")
        cap = facts.max_session_seconds
        if cap is not None and longest > cap:
            share = int(counts[seconds > cap].sum()) / n
            how = ("priced as reconnects, each session a fresh context" if comp.reconnects
                   else "context compression lets it go on" if facts.
                   compression_lifts_session_limit else "billed as one connection")
            notes.append(f"{comp.model}: {share:.2%} of calls run past its "
                         f"{cap // 60}-minute session limit ({how})")
    return StackEstimate(
        stack=model.id,
        calls_simulated=n,
        per_call_usd={"mean": mean, "p50": p50, "p95": p95, "p99": p99},
        # With fixed fees, a minute costs the month's total over the month's minutes.
        per_minute_usd=(mean * n / total_minutes if not fixed_items and hosted is None
                        else monthly / (calls_per_month * total_minutes / n)),
        monthly_usd=monthly,
        monthly_band_usd=(lo + fixed, hi + fixed),
        line_items=line_items + fixed_items,
        mean_minutes=total_minutes / n,
        notes=notes,
        samples_usd=_per_second(cost_at, calls)[calls.sampled] if keep_samples else None,
        fixed_monthly_usd=fixed,
        selfhost_basis=None if hosted is None else hosted[2],
    )


def _selfhost(model: StackModel, sc: Scenario, catalog: Catalog, day: date, calls: Lengths,
              calls_per_month: float, cache: TableCache | None
              ) -> tuple[str, float, str] | None:
    """(self-hosted model id, its fleet's USD a month, the basis in words) for a stack with a
    self-hosted component (`costmodel.estimation.selfhost`), else None."""
    from .selfhost import FleetPricer, hosted_entry  # selfhost -> capacity -> monthly

    entry = hosted_entry(model, catalog)
    if entry is None:
        return None
    at = sc.model_copy(update={"volume": sc.volume.model_copy(
        update={"calls_per_month": calls_per_month, "calls_per_day": None})})
    pricer = FleetPricer(at, entry, catalog, day, calls)
    return entry.id, pricer.monthly_usd(), pricer.basis()


def fixed_fees(model: StackModel, sc: Scenario, catalog: Catalog, day: date,
               monthly_items: dict[str, float]) -> list[tuple[str, float]]:
    """The month's fees of the stack's platform entries that are not per call, as line items
    (USD per month): '<id> monthly fee' (the plan), '<id> phone numbers' (per-number fee x
    ``platform.phone_numbers``) and '<id> included minutes', a credit of min(included
    minutes, the month's billed minutes) x the per-minute rate: the month's billed minutes
    are calls x the mean billed (rounded) minutes per call, i.e. the '<id> connection' line
    item over the rate. `monthly_items` are the stack's per-call line items per month."""
    out: list[tuple[str, float]] = []
    for comp in model.components:
        entry = catalog.get(comp.model)
        if entry.kind != "platform":
            continue
        period = entry.period_on(day)
        if period is None:
            raise NoPriceInForceError(f"{entry.id} has no price in force on {day.isoformat()}")
        fees = period.fees
        if fees is None:
            continue
        if fees.usd_per_month:
            out.append((f"{entry.id} monthly fee", float(fees.usd_per_month)))
        if fees.usd_per_number and sc.platform.phone_numbers:
            out.append((f"{entry.id} phone numbers",
                        float(fees.usd_per_number * sc.platform.phone_numbers)))
        if fees.included_minutes and period.connection is not None:
            billed = monthly_items.get(f"{entry.id} connection", 0.0)
            credit = min(float(fees.included_minutes * period.connection.per_minute), billed)
            if credit:
                out.append((f"{entry.id} included minutes", -credit))
    return out


def estimate(sc: Scenario, catalog: Catalog | None = None, *, stacks: Sequence[str] | None = None,
             calls_per_month: float | None = None, seed: int | None = None,
             calls: int | None = None, on: date | None = None,
             progress: Callable[[str], None] | None = None,
             keep_samples: bool = False, cache: TableCache | None = None) -> Estimate:
    """Estimate every stack of a scenario (or only `stacks`, by id) by Monte Carlo.

    All stacks see the same sampled call lengths (common random numbers), so differences
    between stacks are not sampling noise. With `keep_samples`, each result also carries
    the per-call cost of every simulated call (`StackEstimate.samples_usd`), for histograms.
    With a `cache` (`TableCache`), call lengths and each stack component's cost tables are
    reused from earlier calls: a new volume, or one more stack, prices nothing already priced.
    """
    catalog = catalog or default_catalog()
    day = on or date.today()
    seed = sc.simulation.seed if seed is None else seed
    n = calls or sc.simulation.calls
    volume = sc.volume.monthly_calls if calls_per_month is None else calls_per_month
    if not 0 < volume <= MAX_CALLS_PER_MONTH:  # (NaN fails this too)
        raise ScenarioError(f"calls per month must be > 0 and at most "
                            f"{MAX_CALLS_PER_MONTH:.0e}, got {volume}")
    chosen = list(sc.stacks)
    if stacks:
        ids = {stack_id(s): s for s in chosen}
        chosen = []
        for wanted in stacks:
            if wanted in ids:
                chosen.append(ids[wanted])
            else:
                chosen.append(wanted)  # any catalog id, not only the scenario's
    cache = cache or TableCache()
    lengths = sampled_lengths(sc, n, seed, cache)
    results = []
    for i, stack in enumerate(chosen):
        try:
            model = build_stack(stack, sc, catalog, day)
        except UnknownModelError as exc:  # say which stack of which file
            where = (f"stack {stack_id(stack)!r}" if stacks
                     else f"{sc.file or '<scenario>'}: stacks[{i}]")
            exc.args = (f"{where}: {exc}",)
            raise
        if progress:
            progress(model.id)
        model, noted = policies.with_ladder(model, sc, catalog, day,
                                            int(sc.turns.responses(lengths.seconds)[-1]))
        results.append(estimate_stack(model, lengths, sc, catalog, day, volume,
                                      np.random.default_rng(seed + 1),
                                      keep_samples=keep_samples, cache=cache))
        results[-1].notes += noted
    if policies.in_force(sc):   # what they save: the same calls' seeds without them
        plain = estimate(policies.without_policies(sc), catalog, stacks=stacks,
                         calls_per_month=calls_per_month, seed=seed, calls=calls, on=day,
                         cache=cache)
        policies.note_savings(results, plain.results, sc)
    return Estimate(sc.name, volume, seed, day, results)


@dataclass
class CurvePoint:
    minutes: float
    responses: int
    per_call_usd: float
    per_minute_usd: float


def curve(stack: str, sc: Scenario, catalog: Catalog | None = None, *, max_minutes: float = 60,
          step_minutes: float = 1, on: date | None = None,
          cache: TableCache | None = None) -> list[CurvePoint]:
    """Cost per call and per minute against call length, for one stack."""
    catalog = catalog or default_catalog()
    day = on or date.today()
    if not (0 < max_minutes <= MAX_CALL_MINUTES and 0 < step_minutes <= max_minutes):
        raise ScenarioError(f"max minutes must be in (0, {MAX_CALL_MINUTES}] and the step "
                            "in (0, max minutes]")
    if max_minutes / step_minutes > 100_000:
        raise ScenarioError("more than 100,000 points: use a larger step")
    wanted = next((s for s in sc.stacks if stack_id(s) == stack), stack)
    model = build_stack(wanted, sc, catalog, day)
    lengths = np.arange(step_minutes, max_minutes + step_minutes / 2, step_minutes)
    seconds = np.maximum(1, np.ceil(lengths * 60 - 1e-9)).astype(np.int64)
    responses = sc.turns.responses(seconds)
    tables = cost_tables(model, int(responses.max()), seconds, catalog, day, cache)
    rows = responses if model.has_responses else np.zeros_like(responses)
    costs = tables.turn_cum[rows] + tables.call_cost
    return [CurvePoint(float(m), int(r), float(c), float(c / m))
            for m, r, c in zip(lengths, responses, costs, strict=True)]
