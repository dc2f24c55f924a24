"""Self-hosting break-even: the monthly call volume at which rented GPUs beat an API stack.

The catalog prices a self-host entry per session-second as its *share* of a deployment
(GPU $/h x gpus / (concurrent sessions x utilisation)). That is the marginal cost once the
GPUs are busy; a team that self-hosts rents the deployment **always on**, and pays for it
whether calls come or not. The break-even compares the two ways of paying:

- **self-host**: ``deployments x D`` per month, where one deployment costs
  ``D = gpus x GPU $/h x hours_per_month`` and serves ``C`` calls a month at the catalog's
  concurrency and utilisation (``C = concurrent_sessions x utilisation x hours x 60 /
  mean call minutes``); ``deployments = ceil(calls / C)``, at least one;
- **API**: ``calls x a``, with ``a`` the API stack's mean cost per call (`estimate`).

Like for like: when the API stack pays a phone line (its telephony line items, ``t`` per
call), the self-hosted deployment pays the same line (``+ calls x t``), so the break-even
compares ``D`` with ``a - t``.

``first_calls_per_month`` is the lowest volume at which self-hosting is no dearer
(``D / a``, when one deployment's worth of API calls costs at least ``D``);
``calls_per_month`` is the volume from which it stays no dearer at every higher volume (each
extra deployment is a step up in cost, so just past a step the API can briefly win again).
Both are ``None`` when the API is cheaper at any volume. ``D`` itself is priced with `price`
(a deployment-month of session-seconds at the entry's concurrency and utilisation), so the
GPU rate comes from the catalog on one pricing path.

>>> from datetime import date
>>> from costmodel.estimation import StackEstimate
>>> api = StackEstimate("xai/grok-voice-agent", 1, {"mean": 0.30}, 0.05, 18000.0,
...                     (17900.0, 18100.0), [], mean_minutes=6.0)
>>> be = break_even("selfhost/moshi", api, on=date(2026, 11, 25))
>>> round(be.deployment_usd_per_month, 2)         # 1 H100 x $2.79/h x 730 h
2036.7
>>> round(be.calls_per_deployment)                # 8 sessions x 60% x 730 h x 60 / 6 min
35040
>>> round(be.first_calls_per_month)               # $2,036.70 / $0.30 per call
6789
>>> be.selfhost_monthly_usd(40_000), be.api_monthly_usd(40_000)   # two deployments
(4073.4, 12000.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ..core.catalog import Catalog, default_catalog
from ..core.pricing import price
from ..core.usage import Usage
from ..errors import CostModelError
from ..money import to_decimal
from .monthly import StackEstimate

HOURS_PER_MONTH = 730  # 8,760 h / 12


@dataclass(frozen=True)
class BreakEven:
    """Always-on self-hosting against an API stack; amounts in USD per month."""

    selfhost: str
    api_stack: str
    hours_per_month: float
    deployment_usd_per_month: float     # D: one deployment rented all month
    calls_per_deployment: float         # C: calls a month one deployment serves
    api_usd_per_call: float             # a: the API stack's mean cost per call
    mean_call_minutes: float
    first_calls_per_month: float | None  # lowest volume where self-hosting is no dearer
    calls_per_month: float | None        # from here on self-hosting is never dearer
    # The API stack's phone line per call, put on the self-host side too (like for like).
    telephony_usd_per_call: float = 0.0

    def deployments(self, calls_per_month: float) -> int:
        """Deployments needed for a volume (at least one: the GPUs are always on)."""
        return max(1, math.ceil(calls_per_month / self.calls_per_deployment - 1e-12))

    def selfhost_monthly_usd(self, calls_per_month: float) -> float:
        """Always-on deployments plus the same telephony as the API stack."""
        return (self.deployments(calls_per_month) * self.deployment_usd_per_month
                + calls_per_month * self.telephony_usd_per_call)

    def api_monthly_usd(self, calls_per_month: float) -> float:
        return calls_per_month * self.api_usd_per_call

    def table(self, volumes: Sequence[float]) -> list[dict[str, float]]:
        """Rows ``{calls_per_month, deployments, selfhost_usd, api_usd}`` for a chart."""
        return [{"calls_per_month": float(v), "deployments": self.deployments(v),
                 "selfhost_usd": self.selfhost_monthly_usd(v), "api_usd": self.api_monthly_usd(v)}
                for v in volumes]


def break_even(selfhost: str, api: StackEstimate, catalog: Catalog | None = None, *,
               hours_per_month: float = HOURS_PER_MONTH, on: date | None = None) -> BreakEven:
    """Where always-on self-hosting of `selfhost` beats `api` (an estimated stack).

    `api` comes from `estimate` on the scenario being compared: its mean cost per call and
    mean call length are used. Raises `CostModelError` if `selfhost` is not a self-host
    model entry (a GPU rental alone serves no calls).
    """
    catalog = catalog or default_catalog()
    entry = catalog.get(selfhost)
    sh = entry.selfhost
    if sh is None:
        raise CostModelError(f"{entry.id} is not a self-hosted model (it has no selfhost: block)")
    if not hours_per_month > 0:
        raise CostModelError("hours_per_month must be > 0")
    # A deployment-month of session-seconds at its concurrency and utilisation is exactly
    # gpus x GPU $/h x hours: price it, so the GPU rate is read on the one pricing path.
    session_seconds = (to_decimal(hours_per_month, "hours_per_month") * 3600
                       * sh.concurrent_sessions * sh.utilization)
    d = float(price(Usage(entry.id, connection_seconds=session_seconds), catalog,
                    on=on or date.today()).total_usd)
    a = float(api.per_call_usd["mean"])
    # Like for like: a phone line the API stack pays is paid by the self-hosted one too, so
    # it cancels out of the break-even (compared on the rest of the API's cost per call).
    tel = _telephony_per_call(api, catalog)
    a_all, a = a, a - tel
    minutes = float(api.mean_minutes)
    c = float(session_seconds) / (minutes * 60)
    first = always = None
    if a > 0 and a * c >= d:
        first = d / a
        if a * c > d:
            # Step k (calls in ((k-1)C, kC]) is cheaper throughout once a(k-1)C >= kD, i.e.
            # k >= aC / (aC - D); the step before that is cheaper from (k-1)D/a on.
            ratio = a * c / (a * c - d)
            k = max(2, math.ceil(ratio * (1 - 1e-9)))  # equal costs count as not dearer
            always = (k - 1) * d / a
    return BreakEven(entry.id, api.stack, float(hours_per_month), d, c, a_all, minutes, first,
                     always, tel)


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
