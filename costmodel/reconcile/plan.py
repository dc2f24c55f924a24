"""What the plan says the recorded calls should have cost: the estimate side.

For a model recorded on a day, the plan is the scenario's first stack that uses the model
(the stack itself, or one component of a chained stack), estimated with the prices in force
that day (`costmodel.estimation.estimate`, one Monte Carlo per stack and set of prices, not
per day). The estimate for the day is the calls recorded that day x the mean cost per call
of that model's part of the stack. Calls vary in length, so a day of few calls strays from
the mean by chance: `PlanCost.band` is the 95% range for a number of calls, from the spread
of that model's cost over call lengths drawn from the scenario (each priced with the
estimator's own usages: a telephony leg's cost grows with the minutes, a re-billing model's
much faster, so each part has its own spread).

The estimator works in float64; its per-call mean is taken at its shortest repr, and every
figure derived from it is an estimate, shown rounded once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from ..core.catalog import Catalog, default_catalog
from ..core.pricing import price
from ..errors import NoPriceInForceError, UnknownModelError
from ..estimation import Scenario, estimate, stack_id
from ..estimation.monthly import sample_seconds
from ..estimation.scenario import ChainedStack
from ..estimation.simulate import build_stack

_Z95 = Decimal("1.959963984540054")
#: Call lengths drawn for each part's spread (its standard error: ~1% of it for most parts).
SPREAD_CALLS = 20_000


@dataclass(frozen=True, slots=True)
class PlanCost:
    """One model's part of a planned stack: the mean cost of a call, and the coefficient of
    variation of that part's cost of a call (std / mean over call lengths of the scenario)."""

    model: str
    stack: str
    per_call_usd: Decimal
    cv: float

    def usd(self, calls: int) -> Decimal:
        """The planned cost of `calls` calls."""
        return calls * self.per_call_usd

    def band(self, calls: int) -> tuple[Decimal, Decimal]:
        """The 95% range of the cost of `calls` calls (normal approximation of their sum).

        >>> p = PlanCost("m", "m", Decimal("0.5"), 1.0)   # sd of one call = its mean
        >>> [round(x, 2) for x in p.band(100)]            # 50 +- 1.96 x 10 x 0.5
        [Decimal('40.20'), Decimal('59.80')]
        """
        mean = self.usd(calls)
        half = _Z95 * Decimal(repr(self.cv)) * self.per_call_usd * Decimal(calls).sqrt()
        return max(Decimal(0), mean - half), mean + half


def _components(stack: str | ChainedStack) -> list[str]:
    if isinstance(stack, str):
        return [stack]
    return [m for m in (stack.realtime, stack.transcription, stack.stt, stack.llm, stack.tts,
                        stack.telephony) if m]


class Plan:
    """A scenario's per-call costs by model and day, estimated on first use, memoised."""

    def __init__(self, scenario: Scenario, catalog: Catalog | None = None) -> None:
        self.scenario = scenario
        self.catalog = catalog or default_catalog()
        self._stack_of: dict[str, str | ChainedStack] = {}
        for stack in scenario.stacks:
            for model in _components(stack):
                try:
                    self._stack_of.setdefault(self.catalog.resolve(model), stack)
                except UnknownModelError:
                    continue   # the estimate of that stack names it, if it is ever needed
        self._memo: dict[tuple[str, tuple[date | None, ...]], dict[str, PlanCost]] = {}
        self.notes: list[str] = []

    @property
    def name(self) -> str:
        return self.scenario.file or self.scenario.name

    def stack_for(self, model: str) -> str | None:
        """The id of the stack that plans for `model` (None: no stack uses it)."""
        stack = self._stack_of.get(model)
        return None if stack is None else stack_id(stack)

    def cost(self, model: str, day: date) -> PlanCost | None:
        """`model`'s planned cost per call on `day`; None when no stack of the plan uses it,
        or its prices that day are not known (a note says so)."""
        stack = self._stack_of.get(model)
        if stack is None:
            return None
        models = [self.catalog.resolve(m) for m in _components(stack)]
        # Prices change rarely: estimate once per set of price periods, not once per day.
        periods = tuple(getattr(self.catalog.get(m).period_on(day), "effective", None)
                        for m in models)
        key = (stack_id(stack), periods)
        if key not in self._memo:
            self._memo[key] = self._estimate(stack, models, day)
        return self._memo[key].get(model)

    def _estimate(self, stack: str | ChainedStack, models: list[str],
                  day: date) -> dict[str, PlanCost]:
        try:
            est = estimate(self.scenario, self.catalog, stacks=[stack_id(stack)], on=day)
            cvs = self._spreads(stack, day)
        except NoPriceInForceError as exc:
            self.notes.append(f"no estimate for {stack_id(stack)} on {day}: {exc}")
            return {}
        [result] = est.results
        per_model: dict[str, float] = {}
        for item, usd in result.line_items:
            owner = item.split(" ", 1)[0]
            if owner in models:
                per_model[owner] = per_model.get(owner, 0.0) + usd
        calls = est.calls_per_month
        return {m: PlanCost(m, result.stack, Decimal(repr(v / calls)), cvs.get(m, 0.0))
                for m, v in per_model.items()}

    def _spreads(self, stack: str | ChainedStack, day: date) -> dict[str, float]:
        """Each model's coefficient of variation of its cost of a call: call lengths drawn
        from the scenario (its seed), each call priced part by part from the stack's usages
        (responses priced once each and summed cumulatively, per-call usage per length)."""
        sc = self.scenario
        model = build_stack(stack, sc, self.catalog, day)
        rng = np.random.default_rng(sc.simulation.seed)
        seconds = sample_seconds(sc, min(sc.simulation.calls, SPREAD_CALLS), rng)
        lengths, counts = np.unique(seconds, return_counts=True)
        answers = np.array([sc.responses_per_call(int(s)) for s in lengths])
        names = [c.model for c in model.components]
        per_response = {m: np.zeros(int(answers.max()) + 1) for m in names}
        if model.has_responses:
            for k in range(1, int(answers.max()) + 1):
                for u in model.response_usages(k):
                    per_response[u.model][k] += float(price(u, self.catalog, on=day).total_usd)
        per_call = {m: np.cumsum(v)[answers] if model.has_responses else np.zeros(len(lengths))
                    for m, v in per_response.items()}
        for i, s in enumerate(lengths):
            for u in model.call_usages(int(s)):
                per_call[u.model][i] += float(price(u, self.catalog, on=day).total_usd)
        out = {}
        for m, cost in per_call.items():
            mean = float(np.average(cost, weights=counts))
            var = float(np.average((cost - mean) ** 2, weights=counts))
            out[m] = math.sqrt(var) / mean if mean > 0 and math.isfinite(var) else 0.0
        return out
