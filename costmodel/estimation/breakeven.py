"""Self-hosting break-even: the monthly call volume from which self-hosting beats an API stack.

Self-hosting has one price in every view (`costmodel.estimation.selfhost`): the fleet a month
that the scenario's traffic needs at that volume, always on and sized for the busy hour's P99
concurrency (or autoscaled at ``selfhost.utilisation``), the figure `estimate` shows for a
self-hosted stack. The break-even compares, at each monthly volume ``V``:

- **self-host**: ``S(V)``, that fleet's cost a month (a step up each time the P99 needs
  another deployment; never below one deployment, which is always on);
- **API**: ``V x a``, with ``a`` the API stack's mean cost per call (`estimate`).

Like for like: when the API stack pays a phone line (its telephony line items, ``t`` per
call), the self-hosted side pays the same line (``+ V x t``), so ``S(V)`` is compared with
``V x (a - t)``.

``first_calls_per_month`` is the lowest volume at which self-hosting is no dearer;
``calls_per_month`` the volume from which it stays no dearer at every higher volume (just past
a step the API can briefly win again). Both are ``None`` when the API is cheaper at every
volume up to ``MAX_SEARCH`` calls a month. They are found on a grid of volumes (60 a decade)
and refined by bisection to a relative 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ..core.catalog import Catalog, default_catalog
from ..errors import CostModelError
from .monthly import StackEstimate
from .scenario import MAX_CALLS_PER_MONTH, ChainedStack, Scenario
from .tables import TableCache

HOURS_PER_MONTH = 730  # 8,760 h / 12
MAX_SEARCH = 1e9        # calls a month searched for a break-even


@dataclass(frozen=True)
class BreakEven:
    """Self-hosting (the fleet `estimate` prices) against an API stack; USD per month."""

    selfhost: str
    api_stack: str
    calls_at_scenario: float             # the scenario's volume
    selfhost_fleet_usd: float            # the fleet at that volume: the Monthly cost figure
    basis: str                           # "always on: 5 GPUs ... for P99 35 concurrent ..."
    deployment_usd_per_month: float      # one deployment rented all month
    api_usd_per_call: float              # a: the API stack's mean cost per call
    mean_call_minutes: float
    first_calls_per_month: float | None  # lowest volume where self-hosting is no dearer
    calls_per_month: float | None        # from here on self-hosting is never dearer
    # The API stack's phone line per call, put on the self-host side too (like for like).
    telephony_usd_per_call: float = 0.0
    fleet_usd: Callable[[float], float] = field(default=lambda v: 0.0, repr=False,
                                                compare=False)
    deployments_at: Callable[[float], int] = field(default=lambda v: 1, repr=False,
                                                   compare=False)

    def deployments(self, calls_per_month: float) -> int:
        """Deployments the fleet runs at a volume (always on: for its busy hour's P99)."""
        return self.deployments_at(calls_per_month)

    def selfhost_monthly_usd(self, calls_per_month: float) -> float:
        """The fleet plus the same telephony as the API stack."""
        return self.fleet_usd(calls_per_month) + calls_per_month * self.telephony_usd_per_call

    def api_monthly_usd(self, calls_per_month: float) -> float:
        return calls_per_month * self.api_usd_per_call

    def table(self, volumes: Sequence[float]) -> list[dict[str, float]]:
        """Rows ``{calls_per_month, deployments, selfhost_usd, api_usd}`` for a chart."""
        return [{"calls_per_month": float(v), "deployments": self.deployments(v),
                 "selfhost_usd": self.selfhost_monthly_usd(v), "api_usd": self.api_monthly_usd(v)}
                for v in volumes]


def break_even(sc: Scenario, selfhost: str | ChainedStack, api: StackEstimate,
               catalog: Catalog | None = None, *, on: date | None = None,
               cache: TableCache | None = None) -> BreakEven:
    """Where self-hosting `selfhost` (a self-hosted model or stack) beats `api` (an estimated
    stack of the same scenario `sc`), self-hosting priced as `estimate` prices it.

    Raises `CostModelError` if `selfhost` has no self-hosted model (a GPU rental alone
    serves no calls)."""
    from .selfhost import fleet_pricer  # selfhost -> capacity -> breakeven

    catalog = catalog or default_catalog()
    day = on or date.today()
    hosted = isinstance(selfhost, str) and selfhost in catalog \
        and catalog.get(selfhost).selfhost is not None
    pricer = fleet_pricer(sc, selfhost, catalog, on=day, cache=cache) \
        if hosted or not isinstance(selfhost, str) else None
    if pricer is None:
        raise CostModelError(f"{selfhost} is not a self-hosted model (it has no selfhost: "
                             "block)")
    tel = _telephony_per_call(api, catalog)
    a_all = float(api.per_call_usd["mean"])
    a = a_all - tel

    def dearer(v: float) -> bool:
        return pricer.monthly_usd(v) > a * v * (1 + 1e-12)

    one = pricer.fleet(1.0)  # at one call a month: one deployment, always on
    d = one.always_on_usd_per_month / one.deployments
    if a <= 0:
        first = always = None
    elif pricer.utilisation is None:
        first, always = _always_on_edges(pricer.deployments, a, d, pricer.calls_per_deployment)
    else:
        first, always = _grid_edges(dearer)
    return BreakEven(pricer.entry.id, api.stack, pricer.base_calls, pricer.monthly_usd(),
                     pricer.basis(), d, a_all,
                     float(api.mean_minutes), first, always, tel, pricer.monthly_usd,
                     pricer.deployments)


def _always_on_edges(deployments: Callable[[float], int], a: float, d: float,
                     per_deployment: float) -> tuple[float | None, float | None]:
    """Exact edges of an always-on fleet: k deployments cost k x d on the volumes
    (V(k-1), V(k)] they serve (V(k) found by bisection; V(k) <= k x `per_deployment`, the
    volume whose busy-hour mean fills one deployment's sessions, since P99 >= mean). Step k
    is dearer throughout while k d > a V(k), dearer somewhere while k d > a V(k-1); both turn
    false from some k on (V(k) / k grows with k: larger fleets pool better)."""
    memo: dict[int, float] = {0: 0.0}

    def v(k: int) -> float:
        if k not in memo:
            lo, hi = 0.0, (k + 1) * per_deployment
            while hi - lo > 1e-10 * hi:
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if deployments(mid) <= k else (lo, mid)
            memo[k] = lo
        return memo[k]

    top = max(2, int(MAX_SEARCH / per_deployment) + 2)

    def least(cond: Callable[[int], bool]) -> int | None:
        hi = 1  # doubling first: most break-evens are a few deployments in
        while not cond(hi):
            if hi >= top:
                return None
            hi = min(2 * hi, top)
        lo = hi // 2 + 1 if hi > 1 else 1
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if cond(mid) else (mid + 1, hi)
        return lo

    k1 = least(lambda k: a * v(k) >= k * d)        # the first step with a no-dearer part
    k2 = least(lambda k: a * v(k - 1) >= k * d)    # the first step no dearer throughout
    first = None if k1 is None else max(v(k1 - 1), k1 * d / a)
    always = None if k2 is None else (k2 * d / a if k2 == 1 else
                                      min(v(k2 - 1), (k2 - 1) * d / a))
    return first, always


def _grid_edges(dearer: Callable[[float], bool]) -> tuple[float | None, float | None]:
    """Edges on a grid of volumes (60 a decade) refined by bisection (an autoscaled fleet,
    whose cost steps hour by hour)."""
    first = always = None
    grid = np.geomspace(1.0, min(MAX_SEARCH, MAX_CALLS_PER_MONTH), 541).tolist()
    flags = [dearer(v) for v in grid]
    if not all(flags):
        i = flags.index(False)
        first = grid[0] if i == 0 else _edge(dearer, grid[i - 1], grid[i])
        j = len(flags) - 1 - flags[::-1].index(True) if any(flags) else -1
        if j < len(flags) - 1:
            always = grid[0] if j < 0 else _edge(dearer, grid[j], grid[j + 1])
    return first, always


def _edge(dearer: Callable[[float], bool], lo: float, hi: float) -> float:
    """A volume in (lo, hi] where self-hosting turns no dearer (dearer at lo, not at hi)."""
    for _ in range(80):
        if hi - lo <= 1e-9 * hi:
            break
        mid = (lo + hi) / 2
        if dearer(mid):
            lo = mid
        else:
            hi = mid
    return hi


def _telephony_per_call(api: StackEstimate, catalog: Catalog) -> float:
    """The API stack's telephony line items, per call (its line items are per month)."""
    if api.monthly_usd <= 0:
        return 0.0
    calls = api.monthly_usd / api.per_call_usd["mean"]
    monthly = 0.0
    for item, usd in api.line_items:
        model = item.partition(" ")[0]
        if model in catalog and catalog.get(model).kind == "telephony":
            monthly += usd
    return monthly / calls
