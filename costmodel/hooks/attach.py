"""Measure first: record what a LiveKit or Pipecat session spends, without enforcing anything.

One line, on a LiveKit ``AgentSession`` or a Pipecat ``PipelineWorker`` (``PipelineTask``)::

    from costmodel.hooks.attach import attach

    meter = attach(session, ledger="sqlite:///spend.db", scope="acme", spend_log="spend.jsonl")

Every usage the framework reports is priced exactly as the budget hooks price it
(`costmodel.hooks.livekit`, `costmodel.hooks.pipecat`) and recorded: one ledger record per
priced usage (session id, scope, model, exact USD) as it happens, and the spend-log line
(`costmodel.guard.spendlog`, with ``limit_usd: null``) when the session ends. Nothing else:

- **no limit**: the meter never cuts, never asks the agent to wrap up, never pushes a frame or
  calls the session; decisions are not even logged. (A `SessionGuard` needs a limit: the
  meter's is the largest allowed, `MAX_LIMIT_USD`, and nothing acts on it.)
- **no reservations**: no scope budget is held in the ledger, so a tenant's budget kept by
  guarded sessions elsewhere never refuses a measured one; measured spend does count in the
  tenant's totals those guards see.
- **fail open**: usage the catalog cannot price is logged (``CANNOT PRICE``, or the guard's
  ``CANNOT METER``), counted in `unpriced` and in the spend-log line (``unpriced``: its
  ``spent_usd`` is then a lower bound), and never priced as $0; a ledger that goes down
  mid-call sends the spend to the local spool (`costmodel.ledger.Spool`, flushed by
  ``costmodel ledger flush``), and one that cannot be opened at the start is logged
  (``LEDGER UNREACHABLE``, ``ledger_error`` in the spend-log line) and the session measured
  to the spend log only. The call goes on either way. (A ledger URL of no known form raises:
  that is a typo to fix, not an outage.)

LiveKit: what ``session_usage_updated`` reports is what is recorded; the guard is given no
session model, so no time is added from the clock (the realtime plugins that bill by time
report ``session_duration`` themselves), while the spend-log line still names the session's
LLM (from ``session.llm``, or ``llm_model=``) for `costmodel fit` and `costmodel reconcile`.
A usage item that cannot be priced does not hold up the others of the same update.

Pipecat: the usage metrics services push (``PipelineParams(enable_usage_metrics=True)``, which
`attach` warns about when it is off), seen by an observer (`PipecatMeter`) added to the task;
a time-billed session model (``llm_model=`` or the one LLM among ``models``) is billed its
connection time at the end, as Pipecat reports none. The session ends when the task says the
pipeline finished (``on_pipeline_finished``; not at the ``EndFrame``'s first push, which comes
before the last services' metrics), or at `finalize`.

``ledger`` is a URL (opened by the meter and closed when the session ends) or a `Ledger`
(shared by many sessions; left open); ``None`` records to the spend log only.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..adapters.livekit import catalog_id
from ..core.catalog import Catalog, default_catalog
from ..core.usage import Usage
from ..errors import CostModelError, LedgerError, UsageError
from ..guard.policy import MAX_LIMIT_USD, Decision
from ..guard.session import SessionGuard
from ..guard.spendlog import append_record, session_record
from ..ledger import Ledger, Spool, ledger_key, open_ledger
from ._common import session_model
from .livekit import LiveKitBudget

__all__ = ["LiveKitMeter", "PipecatMeter", "attach", "measuring_guard"]

log = logging.getLogger("costmodel.hooks.attach")

# Built from Pipecat's classes on first access (module __getattr__): imports without pipecat.
PipecatMeter: type

LedgerArg = Ledger | str | os.PathLike[str] | None


def measuring_guard(*, ledger: Ledger | None = None, scope: str = "default",
                    model: str | None = None, catalog: Catalog | None = None,
                    spool: Spool | str | os.PathLike[str] | None = None,
                    session_id: str | None = None,
                    clock: Callable[[], float] = time.monotonic) -> SessionGuard:
    """A `SessionGuard` that only records: the largest limit, no scope budget (so no
    reservations), fail-open on unpriced usage and on ledger errors.

    >>> from costmodel.core.usage import Usage
    >>> guard = measuring_guard()
    >>> guard.observe(Usage("openai/gpt-4o-mini", {"text.input": 10**9})).action  # $150
    'ok'
    """
    return SessionGuard(MAX_LIMIT_USD, model=model, catalog=catalog, ledger=ledger,
                        spool=spool, session_id=session_id, scope=scope,
                        on_ledger_error="fail_open", on_unpriced="fail_open", clock=clock)


class _Recording:
    """What both meters share: the ledger they may own, unpriced counts, the spend-log line."""

    name: str
    spend_log: str | os.PathLike[str] | None
    unpriced: int
    ledger_error: str | None
    _owned: Ledger | None
    _written: bool
    if TYPE_CHECKING:  # an attribute in one meter's base, a property in the other's
        @property
        def guard(self) -> SessionGuard: ...

    def _open(self, ledger: LedgerArg, name: str) -> Ledger | None:
        """`ledger`, or the one its URL names, opened here (and closed at the end). One that
        cannot be reached is logged, and the session measured without it: measuring never
        stops a call. A URL of no known form is a mistake to fix, and raises."""
        self._owned, self.ledger_error = None, None
        if ledger is None or isinstance(ledger, Ledger):
            return ledger
        ledger_key(ledger)   # (parses the URL without opening anything)
        try:
            self._owned = open_ledger(ledger)
        except LedgerError as exc:
            self.ledger_error = str(exc)
            log.error("%s: LEDGER UNREACHABLE, measuring this session without it (its "
                      "spend-log line keeps it): %s", name, exc)
        return self._owned

    def _unpriceable(self, reason: str) -> None:
        self.unpriced += 1
        log.error("%s: CANNOT PRICE (measuring goes on; not recorded): %s", self.name, reason)

    def _measure(self, usage: Usage) -> Decision:
        before = len(self.guard.costs)
        decision = self.guard.observe(usage)
        if len(self.guard.costs) == before:   # the guard logged why (fail-open)
            self.unpriced += 1
        return decision

    def _record(self, end: str, model: str | None) -> Decision:
        decision = self.guard.finalize()
        if not self._written:
            self._written = True
            if self.spend_log is not None:
                record = session_record(self.guard, end=end, decisions=[])
                record["limit_usd"] = None     # measured, not guarded
                if record["model"] is None and model is not None:
                    record["model"] = model
                if self.unpriced:
                    record["unpriced"] = self.unpriced
                if self.ledger_error is not None:
                    record["ledger_error"] = self.ledger_error
                append_record(self.spend_log, record)
            if self._owned is not None:
                with suppress(CostModelError):   # what it could not take is in the spool
                    self._owned.close()
        return decision

    @property
    def spent_usd(self) -> Decimal:
        """Everything recorded so far (exact)."""
        return self.guard.spent_usd


# -- LiveKit -------------------------------------------------------------------------------------
def _split(event: Any) -> list[Any]:
    """A ``session_usage_updated`` event as one event per model usage, so that one item that
    cannot be priced does not hold up the others (the shape is checked by `deltas`)."""
    usage = event.get("usage") if isinstance(event, Mapping) else getattr(event, "usage", None)
    items = usage.get("model_usage") if isinstance(usage, Mapping) else \
        getattr(usage, "model_usage", None)
    if not isinstance(items, list | tuple):
        return [event]
    return [{"usage": {"model_usage": [item]}} for item in items]


class LiveKitMeter(LiveKitBudget, _Recording):
    """Records a LiveKit ``AgentSession``'s spend and never acts on it; see the module
    docstring. ``attach(session)`` starts it; the session's ``close`` event ends it."""

    def __init__(self, *, ledger: LedgerArg = None, scope: str = "default",
                 spend_log: str | os.PathLike[str] | None = None,
                 models: Mapping[str, str] | None = None, llm_model: str | None = None,
                 catalog: Catalog | None = None,
                 spool: Spool | str | os.PathLike[str] | None = None,
                 session_id: str | None = None, clock: Callable[[], float] = time.monotonic,
                 name: str = "livekit-meter") -> None:
        self.unpriced, self._written = 0, False
        self._catalog = catalog or default_catalog()
        self.llm_model = None if llm_model is None else self._catalog.resolve(llm_model)
        guard = measuring_guard(ledger=self._open(ledger, name), scope=scope,
                                catalog=self._catalog, spool=spool, session_id=session_id,
                                clock=clock)
        super().__init__(guard, models=models, name=name, spend_log=spend_log)

    def attach(self, session: Any) -> LiveKitMeter:
        """Listen to `session` (an ``AgentSession``); its LLM names the spend-log's model."""
        super().attach(session)
        if self.llm_model is None:
            self.llm_model = self._session_llm(session)
        return self

    def _session_llm(self, session: Any) -> str | None:
        llm = getattr(session, "llm", None)
        provider, model = getattr(llm, "provider", None), getattr(llm, "model", None)
        if not isinstance(model, str) or not model or model == "unknown":
            return None
        candidate = self.models.get(f"{provider}/{model}")
        if candidate is None:
            try:
                candidate = catalog_id(provider if isinstance(provider, str) else "", model,
                                       self._catalog)
            except UsageError:
                return None
        return session_model([candidate], self._catalog)

    def on_usage_updated(self, event: Any) -> Decision | None:
        """The ``session_usage_updated`` handler: record what each model added; never act."""
        decision = None
        for part in _split(event):
            try:
                usages = self.deltas(part)
            except CostModelError as exc:
                self._unpriceable(str(exc))
                continue
            except Exception:   # a raising handler would only be logged by LiveKit
                log.exception("%s: measuring failed", self.name)
                self.unpriced += 1
                continue
            for usage in usages:
                decision = self._measure(usage)
        return decision

    def finalize(self, end: str | None = None) -> Decision:
        """The session is over: the spend-log line is written once (``end``: how it ended,
        default ``ended``) and a ledger the meter opened is closed."""
        return self._record(end or "ended", self.llm_model)


# -- Pipecat -------------------------------------------------------------------------------------
def _measuring_budget_class() -> type:
    from .pipecat import PipecatBudget

    class MeasuringBudget(PipecatBudget, _Recording):
        """A `PipecatBudget` that prices item by item and never acts."""

        def __init__(self, *, ledger: LedgerArg, scope: str, spend_log: Any, models: Any,
                     llm_model: str | None, catalog: Catalog | None, spool: Any,
                     session_id: str | None, clock: Callable[[], float], name: str) -> None:
            self.unpriced, self._written = 0, False
            catalog = catalog or default_catalog()
            if llm_model is None and isinstance(models, Mapping):
                llm_model = session_model(models.values(), catalog)
            guard = measuring_guard(ledger=self._open(ledger, name), scope=scope,
                                    model=llm_model, catalog=catalog, spool=spool,
                                    session_id=session_id, clock=clock)
            super().__init__(guard, models=models, name=name, spend_log=spend_log)

        def observe(self, frame: Any) -> Decision | None:
            items = getattr(frame, "data", frame)
            if isinstance(items, Mapping) or not isinstance(items, Iterable):
                items = [items]
            decision = None
            for data in items:
                try:
                    usages = self.usages([data])
                except CostModelError as exc:
                    self._unpriceable(str(exc))
                    continue
                for usage in usages:
                    decision = self._measure(usage)
            return decision

        async def act(self, decision: Decision | None, push: Callable[[Any, Any], Any]
                      ) -> None:
            """Measuring never ends or steers the pipeline."""

        def finalize(self, end: str | None = None) -> Decision:
            return self._record(end or "ended", None)

    return MeasuringBudget


class _Meter:
    """The `PipecatMeter`'s own behaviour, mixed in before Pipecat's `BudgetObserver`."""

    budget: Any
    _task: Any = None
    _terminal: tuple[type, ...] = ()      # EndFrame, CancelFrame (set by `_meter_class`)
    _cancel: type = type(None)

    @property
    def task(self) -> Any:
        return self._task

    @task.setter
    def task(self, task: Any) -> None:
        if task is not None and task is not self._task:
            task.add_event_handler("on_pipeline_finished", self._finished)
        self._task = task

    @property
    def observe_every_push(self) -> bool:
        # Only without the task: its end is then seen as a terminal frame reaches a sink
        # (the metrics are still priced once, at their first push).
        return self._task is None

    def _end(self, frame: Any) -> str:
        return "cancelled" if isinstance(frame, self._cancel) else "ended"

    async def _finished(self, task: Any, frame: Any) -> None:
        self.finalize(self._end(frame))

    async def on_push_frame(self, data: Any) -> None:
        if not isinstance(data.frame, self._terminal):
            await super().on_push_frame(data)  # type: ignore[misc]
        elif self._task is None and type(data.destination).__name__ == "PipelineSink":
            self.finalize(self._end(data.frame))

    @property
    def unpriced(self) -> int:
        return int(self.budget.unpriced)

    @property
    def spent_usd(self) -> Decimal:
        return Decimal(self.budget.guard.spent_usd)

    def finalize(self, end: str | None = None) -> Decision:
        """End the session (once; the task's end does it): the spend-log line is written and
        a ledger the meter opened is closed."""
        decision: Decision = self.budget.finalize(end)
        return decision


def _meter_class() -> type:
    from pipecat.frames.frames import CancelFrame, EndFrame

    from . import pipecat

    measuring = _measuring_budget_class()

    class PipecatMeter(_Meter, pipecat.BudgetObserver):
        """A Pipecat observer that records every usage metric once and never acts. `attach`
        adds it to a task; or pass it in ``observers=[...]`` and set ``meter.task = task``.

        The session ends when the task reports ``on_pipeline_finished`` ("called after the
        pipeline has reached any terminal state": pipecat/pipeline/worker.py,
        https://github.com/pipecat-ai/pipecat/blob/main/src/pipecat/pipeline/worker.py): an
        ``EndFrame`` is first pushed while the services ahead of it are still pushing their
        last usage metrics. Without a task, the end is the terminal frame's first push into a
        pipeline's sink (exact for a flat pipeline)."""

        _terminal, _cancel = (EndFrame, CancelFrame), CancelFrame

        def __init__(self, *, ledger: LedgerArg = None, scope: str = "default",
                     spend_log: str | os.PathLike[str] | None = None,
                     models: pipecat.Models = None, llm_model: str | None = None,
                     catalog: Catalog | None = None,
                     spool: Spool | str | os.PathLike[str] | None = None,
                     session_id: str | None = None,
                     clock: Callable[[], float] = time.monotonic,
                     name: str = "pipecat-meter", task: Any = None) -> None:
            super().__init__(measuring(
                ledger=ledger, scope=scope, spend_log=spend_log, models=models,
                llm_model=llm_model, catalog=catalog, spool=spool, session_id=session_id,
                clock=clock, name=name), task=task)

    return PipecatMeter


# -- attach --------------------------------------------------------------------------------------
def attach(target: Any, *, ledger: LedgerArg = None, scope: str = "default",
           spend_log: str | os.PathLike[str] | None = None, **options: Any) -> Any:
    """Measure `target` (a LiveKit ``AgentSession``, or a Pipecat ``PipelineWorker`` /
    ``PipelineTask``): a `LiveKitMeter` listening to it, or a `PipecatMeter` added to its
    observers. ``options``: ``models``, ``llm_model``, ``catalog``, ``spool``,
    ``session_id``, ``clock``, ``name``, as the meters take them."""
    if hasattr(target, "add_observer"):       # a Pipecat task
        meter = __getattr__("PipecatMeter")(ledger=ledger, scope=scope, spend_log=spend_log,
                                            **options)
        params = getattr(target, "params", None)
        if params is not None and getattr(params, "enable_usage_metrics", True) is False:
            log.warning("%s: usage metrics are off, so nothing will be measured: build the "
                        "task with PipelineParams(enable_usage_metrics=True)", meter.budget.name)
        meter.task = target       # (first: the meter then observes first pushes only)
        target.add_observer(meter)
        return meter
    if hasattr(target, "on") and hasattr(target, "off"):   # a LiveKit AgentSession
        return LiveKitMeter(ledger=ledger, scope=scope, spend_log=spend_log,
                            **options).attach(target)
    raise UsageError(f"cannot attach to {type(target).__name__}: expected a LiveKit "
                     "AgentSession or a Pipecat PipelineWorker / PipelineTask")


def __getattr__(name: str) -> Any:
    if name == "PipecatMeter":
        cls = _meter_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
