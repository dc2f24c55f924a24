"""Admission: take a call only when its tenant's budget can cover what it will likely cost.

The forecast is the scenario's P95 cost per call for the tenant's stack (`Forecast`),
computed once when the app starts (`forecasts`): a request never runs the estimator. To admit
a call, that amount is held in the tenant's budget for the period (`Ledger.reserve`: the check
and the hold are one atomic step, so concurrent calls cannot all pass a nearly spent budget);
the end-of-call report pays the hold with what the call cost (`costmodel.webhooks.ingest`),
or the hold lapses after ``hold_seconds``. A call is refused when committed spend + live
holds + its forecast would pass the budget.

When the ledger cannot be reached, ``on_ledger_error`` decides, as it does for the guard:
``fail_open`` admits the call without a hold (logged loudly: the tenant can overspend by what
such calls cost), ``fail_closed`` refuses it.

>>> from costmodel.ledger import MemoryLedger
>>> from costmodel.webhooks.budgets import Budgets
>>> f = Forecast("xai/grok-voice-agent", Decimal("0.30"), Decimal("0.20"), 1000, "demo")
>>> gate = Admission(MemoryLedger(), Budgets.uniform(Decimal("0.50")), {f.stack: f},
...                  default_stack=f.stack)
>>> tenant = gate.budgets.tenant_for("+15551230001")
>>> gate.decide(tenant, call_key="call-1").admit       # $0.30 held of $0.50
True
>>> d = gate.decide(tenant, call_key="call-2")          # 0.30 + 0.30 > 0.50
>>> d.admit, d.remaining_usd
(False, Decimal('0.2'))
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Literal

from ..errors import BudgetExceeded, LedgerError, UsageError
from ..ledger import Ledger, Reservation, Spool, period_start
from ..money import EXACT, tidy
from .budgets import Budgets, Tenant
from .report import HoldNote

if TYPE_CHECKING:
    from ..core.catalog import Catalog
    from ..estimation import Scenario

log = logging.getLogger("costmodel.webhooks")

Policy = Literal["fail_open", "fail_closed"]
# The longest calls by default: Retell's max_call_duration_ms is 3,600,000 (its API reference,
# create-agent), Vapi's maxDurationSeconds 600 (CreateAssistantDTO in its OpenAPI document).
DEFAULT_HOLD_SECONDS = 3600.0
_MICRO = Decimal("0.000001")
_FLUSH_BATCH = 200


@dataclass(frozen=True, slots=True)
class Forecast:
    """What a call on `stack` is held at: the scenario's P95 cost per call (rounded up to
    the micro-dollar), with its mean and how many calls the estimate simulated."""

    stack: str
    p95_usd: Decimal
    mean_usd: Decimal
    calls_simulated: int
    scenario: str


def forecasts(scenario: Scenario, stacks: Iterable[str], catalog: Catalog | None = None, *,
              on: date | None = None) -> dict[str, Forecast]:
    """The `Forecast` of each stack (ids as the scenario names them), from one estimate
    (`costmodel.estimation.estimate`; every stack sees the same sampled calls)."""
    from ..estimation import estimate

    wanted = list(dict.fromkeys(stacks))
    result = estimate(scenario, catalog, stacks=wanted, on=on)
    out = {}
    for stack, r in zip(wanted, result.results, strict=True):
        p95 = Decimal(repr(r.per_call_usd["p95"])).quantize(_MICRO, rounding=ROUND_CEILING)
        mean = Decimal(repr(r.per_call_usd["mean"])).quantize(_MICRO, rounding=ROUND_CEILING)
        out[stack] = Forecast(stack, tidy(p95), tidy(mean), r.calls_simulated, scenario.name)
    return out


@dataclass(frozen=True, slots=True)
class Hold:
    """An admitted call's claim on its tenant's budget (``reservation`` None: admitted while
    the ledger was down, nothing held)."""

    tenant: str
    reservation: Reservation | None


@dataclass(frozen=True, slots=True)
class Decision:
    """Admit or refuse one call, and why (``reason`` is for logs and headers, never spoken
    to the caller). ``remaining_usd``: what the budget had left for this call, on a refusal."""

    admit: bool
    reason: str
    tenant: Tenant | None = None
    forecast: Forecast | None = None
    reservation: Reservation | None = None
    remaining_usd: Decimal | None = None
    ledger_error: str | None = None

    @property
    def note(self) -> HoldNote | None:
        """The hold as it can travel with the call (`HoldNote`), when there is one."""
        r = self.reservation
        if r is None or self.tenant is None:
            return None
        return HoldNote(self.tenant.name, r.id, r.usd, r.expires_at)


class Admission:
    """Admits calls against tenant budgets (see the module docstring). Thread-safe."""

    def __init__(self, ledger: Ledger, budgets: Budgets, forecasts: Mapping[str, Forecast], *,
                 default_stack: str | None = None,
                 spool: Spool | str | os.PathLike[str] | None = None,
                 on_ledger_error: Policy = "fail_open",
                 hold_seconds: float = DEFAULT_HOLD_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        if on_ledger_error not in ("fail_open", "fail_closed"):
            raise UsageError(f"on_ledger_error must be fail_open or fail_closed, not "
                             f"{on_ledger_error!r}")
        if not hold_seconds > 0:
            raise UsageError(f"hold_seconds must be > 0, not {hold_seconds}")
        self.ledger, self.budgets = ledger, budgets
        self.forecasts = dict(forecasts)
        if default_stack is None and len(self.forecasts) == 1:
            default_stack = next(iter(self.forecasts))
        for stack in (default_stack, *budgets.stacks.values()):
            if stack is not None and stack not in self.forecasts:
                raise UsageError(f"no forecast for stack {stack!r} (forecasts: "
                                 f"{', '.join(self.forecasts) or 'none'})")
        self.default_stack = default_stack
        self.spool = spool if isinstance(spool, Spool) else Spool(ledger, spool)
        self.on_ledger_error: Policy = on_ledger_error
        self.hold_seconds = hold_seconds
        self.clock = clock
        self._lock = threading.Lock()
        # call key -> (its hold, when it lapses): insertion order is expiry order
        self._holds: OrderedDict[str, tuple[Hold, Decision, float]] = OrderedDict()

    def forecast_for(self, tenant: Tenant) -> Forecast | None:
        stack = tenant.stack or self.default_stack
        return self.forecasts.get(stack) if stack is not None else None

    # -- deciding -----------------------------------------------------------------------------
    def decide(self, tenant: Tenant | None, *, call_key: str | None = None,
               session_id: str | None = None) -> Decision:
        """Admit or refuse a call of `tenant` (None: no tenant is known for it, refused).

        ``call_key`` (the platform's call id, when it gives one at admission) makes a
        repeated request for the same call get the first answer without a second hold, and
        lets `settle` find the hold when the report arrives.
        """
        if tenant is None:
            return Decision(False, "no tenant for this call: its number is in no budget")
        if call_key is not None:
            with self._lock:
                known = self._holds.get(call_key)
            if known is not None:
                return known[1]
        forecast = self.forecast_for(tenant)
        if forecast is None:
            return Decision(False, f"no forecast for tenant {tenant.name!r}: name a stack",
                            tenant)
        decision = self._reserve(tenant, forecast, session_id or call_key or "inbound")
        if decision.admit and call_key is not None:
            self._remember(call_key, Hold(tenant.name, decision.reservation), decision)
        return decision

    def _reserve(self, tenant: Tenant, forecast: Forecast, session_id: str) -> Decision:
        if self.spool.may_have_records():
            self.flush_spool()   # the budget must count what an outage spooled
        try:
            hold = self.ledger.reserve(
                tenant.name, session_id, forecast.p95_usd, ttl_seconds=self.hold_seconds,
                limit_usd=tenant.budget_usd, since=period_start(self.budgets.period),
                now=self.clock())
        except BudgetExceeded as exc:
            left = EXACT.subtract(tenant.budget_usd, EXACT.add(exc.spent_usd or 0,
                                                               exc.reserved_usd or 0))
            return Decision(False, f"tenant {tenant.name!r}: ${tidy(left)} left of its "
                            f"{self.budgets.period} budget of ${tenant.budget_usd}, the call's "
                            f"P95 is ${forecast.p95_usd}", tenant, forecast,
                            remaining_usd=tidy(left))
        except LedgerError as exc:
            log.error("admission %s: LEDGER ERROR (%s): %s", tenant.name, self.on_ledger_error,
                      exc)
            admit = self.on_ledger_error == "fail_open"
            why = ("admitted without a hold" if admit else "refused") + \
                f" ({self.on_ledger_error}): the ledger is down"
            return Decision(admit, why, tenant, forecast, ledger_error=str(exc))
        return Decision(True, f"tenant {tenant.name!r}: ${forecast.p95_usd} held (P95 of "
                        f"{forecast.stack})", tenant, forecast, hold)

    def flush_spool(self) -> None:
        """Commit a batch of what the spool kept while the ledger was down (logged)."""
        try:
            report = self.spool.flush(max_records=_FLUSH_BATCH)
        except LedgerError as exc:
            log.error("admission: cannot flush the spool: %s", exc)
            return
        if report.committed:
            log.warning("the ledger answers again: committed %d spooled record(s), $%s",
                        report.committed, report.committed_usd)

    # -- the holds of admitted calls ----------------------------------------------------------
    def _remember(self, key: str, hold: Hold, decision: Decision) -> None:
        now = self.clock()
        with self._lock:
            while self._holds:   # (lapsed holds go first: they were made first)
                oldest = next(iter(self._holds.values()))
                if oldest[2] > now:
                    break
                self._holds.popitem(last=False)
            self._holds[key] = (hold, decision, now + self.hold_seconds)

    def settle(self, call_key: str) -> Hold | None:
        """The hold made for the call `call_key` (forgotten here: the report pays it), or
        None when there is none in this process (another worker's, lapsed, or never made)."""
        with self._lock:
            found = self._holds.pop(call_key, None)
        return None if found is None else found[0]

    @staticmethod
    def hold_of(note: HoldNote, session_id: str) -> Hold:
        """The hold a `HoldNote` describes (the ledger needs only its id to pay it)."""
        return Hold(note.tenant, Reservation(note.reservation_id, note.tenant, session_id,
                                             note.usd, note.expires_at))

    @property
    def live_holds(self) -> int:
        """Holds this process made that no report has settled yet (lapsed ones included
        until the next admission clears them)."""
        with self._lock:
            return len(self._holds)
