"""LiveKit Agents hook: meter an ``AgentSession`` and shut it down before it overspends.

LiveKit emits ``session_usage_updated`` after every metrics event with the session's usage so
far, one ``LLMModelUsage`` / ``STTModelUsage`` / ``TTSModelUsage`` per (provider, model):
**running totals**. The hook keeps the previous totals per (type, provider, model), turns each
update into the usage added since the last one, prices it with `costmodel.adapters.livekit`
and feeds it to a `SessionGuard` as `Usage`. When the guard says

- ``wrap_up``: ``on_wrap_up(session, decision)`` is called once (e.g.
  ``lambda s, d: s.generate_reply(instructions="Thank the caller and say goodbye.")`` or
  ``s.say(...)``); it may be async;
- ``cut``: ``on_cut(session, decision)`` if given, else ``session.shutdown(drain=True)``
  (livekit-agents 1.x; the speech in progress finishes, nothing new is generated), or
  ``session.aclose()`` where there is no ``shutdown``.

::

    from costmodel.hooks.livekit import LiveKitBudget

    session = AgentSession(stt=..., llm=..., tts=...)
    budget = LiveKitBudget(limit_usd="0.50").attach(session)
    await session.start(agent, room=ctx.room)

The sum of the priced updates equals the price of the final totals: time units (STT/TTS
audio seconds, realtime session seconds) are rounded to the rate's billing increment on the
running total, never once per update. (A rate with a *minimum* billed duration is applied to
each update; no model LiveKit reports usage for has one.) Totals that go down (a reset) are
taken as new usage and logged.

Model ids: the catalog id `costmodel.adapters.livekit.catalog_id` resolves from LiveKit's
(provider, model) pair ("Amazon", "amazon.nova-2-sonic-v1:0" -> amazon/nova-2-sonic), or
``models={"<provider>/<model>": "<catalog id>"}`` as LiveKit reports them. The guard's session
model (the LLM whose next response is projected) is ``llm_model=``, else taken from
``session.llm`` when the hook is attached. Or pass your own ``guard=SessionGuard(...)``.

The session's end: the hook finalizes the guard on the session's ``close`` event
(https://docs.livekit.io/agents/build/events/; `CloseEvent.reason`, e.g.
``participant_disconnected``), or when `LiveKitBudget.finalize` is called. With
``spend_log=PATH`` it then appends the session's spend-log line (`costmodel.guard.spendlog`:
spend, every priced usage, ``seconds`` on the guard's ``clock=``, default ``time.monotonic``,
from `attach`; a replay of recorded updates passes a clock that reads their timestamps).

Trust: ``session_usage_updated`` is emitted by the agent's own ``AgentSession`` from its model
plugins' metrics, never relayed from a room participant, so every update is the provider's
report; the hook listens to nothing a client can send.

The hook needs no LiveKit import: it reads the events' ``model_dump()`` (or plain dicts, as
recorded), so it is tested against the real ``SessionUsageUpdatedEvent`` and on recordings.
``pip install costmodel[livekit]`` installs livekit-agents.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..adapters.livekit import catalog_id, usage_from_livekit
from ..core.pricing import rates_for
from ..core.usage import Usage
from ..errors import CostModelError, UsageError
from ..guard.policy import Decision
from ..guard.session import SessionGuard
from ._common import MeteredHook, build_guard, session_model

__all__ = ["LiveKitBudget"]

log = logging.getLogger("costmodel.hooks.livekit")

_EVENT = "session_usage_updated"
_CLOSE = "close"
_NOT_PRICED = frozenset({"interruption_usage", "eot_usage"})


def _items(event: Any) -> list[Mapping[str, Any]]:
    """The model usages of a ``SessionUsageUpdatedEvent`` / ``AgentSessionUsage`` (objects
    or dicts), or of a list of them, as dicts."""
    usage = getattr(event, "usage", None)
    if usage is None and isinstance(event, Mapping):
        usage = event.get("usage", event)
    if usage is None:
        usage = event
    items = usage.get("model_usage") if isinstance(usage, Mapping) else \
        getattr(usage, "model_usage", usage)
    if items is None or isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise UsageError("not a session_usage_updated event: no usage.model_usage list")
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            dump = getattr(item, "model_dump", None)
            if dump is None:
                raise UsageError(f"not a LiveKit model usage: {item!r}")
            item = dump()
        out.append(item)
    return out


class LiveKitBudget(MeteredHook):
    """Meters a LiveKit ``AgentSession`` from its ``session_usage_updated`` events; see the
    module docstring."""

    _stop_words = "shutting down"
    _log = log

    def __init__(self, guard: SessionGuard | None = None, *,
                 limit_usd: Decimal | str | float | None = None,
                 models: Mapping[str, str] | None = None, llm_model: str | None = None,
                 on_wrap_up: Callable[[Any, Decision], Any] | None = None,
                 on_cut: Callable[[Any, Decision], Any] | None = None, drain: bool = True,
                 name: str = "livekit", spend_log: str | os.PathLike[str] | None = None,
                 **guard_kwargs: Any) -> None:
        self.models = dict(models or {})
        self.on_wrap_up = on_wrap_up
        self.on_cut = on_cut
        self.drain = drain
        self.name, self.spend_log = name, spend_log
        self.session: Any = None
        self.ended = False
        self.wrapped_up = False
        self._guard = guard
        self._guard_args = (limit_usd, llm_model, guard_kwargs)
        if guard is not None or llm_model is not None:
            self._guard = build_guard(guard, limit_usd, llm_model, guard_kwargs, log)
        elif limit_usd is None:
            raise UsageError("pass guard= (a SessionGuard) or limit_usd=")
        self._totals: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        self._billed: dict[tuple[str, str, str], tuple[Decimal, Decimal]] = {}
        self._last: Decision | None = None
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- the guard ---------------------------------------------------------------------------
    @property
    def guard(self) -> SessionGuard:
        """The guard (built on first use when the session model comes from the session)."""
        if self._guard is None:
            self._guard = self._build_guard()
        return self._guard

    def _build_guard(self) -> SessionGuard:
        limit_usd, llm_model, guard_kwargs = self._guard_args
        llm = getattr(self.session, "llm", None)
        if llm_model is None and llm is not None:
            provider, model = getattr(llm, "provider", ""), getattr(llm, "model", "")
            if isinstance(model, str) and model and model != "unknown":
                reported = f"{provider}/{model}"
                candidate = self.models.get(reported)
                if candidate is None:
                    try:
                        candidate = catalog_id(provider if isinstance(provider, str) else "",
                                               model)
                    except UsageError:
                        candidate = None
                catalog = guard_kwargs.get("catalog")
                if candidate is not None:
                    if catalog is None:
                        from ..core.catalog import default_catalog
                        catalog = default_catalog()
                    llm_model = session_model([candidate], catalog)
        return build_guard(None, limit_usd, llm_model, guard_kwargs, log)

    # -- wiring --------------------------------------------------------------------------------
    def attach(self, session: Any) -> LiveKitBudget:
        """Listen to ``session_usage_updated`` on `session` (an ``AgentSession``)."""
        if self.session is not None:
            raise UsageError("this LiveKitBudget is already attached to a session")
        self.session = session
        try:  # the guard is built now, from session.llm: its clock starts with the session
            self._guard = self.guard
        except BaseException:
            self.session = None
            raise
        session.on(_EVENT, self.on_usage_updated)
        session.on(_CLOSE, self.on_close)
        return self

    def detach(self) -> None:
        if self.session is not None:
            self.session.off(_EVENT, self.on_usage_updated)
            self.session.off(_CLOSE, self.on_close)
            self.session = None

    def on_close(self, event: Any) -> None:
        """The ``close`` handler: the session is over (`finalize`, ending as its reason)."""
        reason = getattr(event, "reason", None)
        if isinstance(event, Mapping):
            reason = event.get("reason")
        try:
            self.finalize(None if reason is None else str(getattr(reason, "value", reason)))
        except Exception:  # a raising handler would only be logged by LiveKit
            log.exception("%s: finalizing the budget failed", self.name)

    # -- metering ------------------------------------------------------------------------------
    def _key(self, item: Mapping[str, Any]) -> tuple[str, str, str]:
        return (str(item.get("type") or ""), str(item.get("provider") or ""),
                str(item.get("model") or ""))

    def _override(self, item: Mapping[str, Any]) -> str | None:
        return self.models.get(f"{item.get('provider') or ''}/{item.get('model') or ''}")

    def _billed_seconds(self, model_id: str, connection: Decimal,
                        audio: Decimal) -> tuple[Decimal, Decimal]:
        """Running seconds as billed (rounded up to the rate's increment)."""
        try:
            rates = rates_for(model_id, None, self.guard.catalog)
        except CostModelError:
            return connection, audio  # the guard reports the unknown model
        if connection and rates.connection is not None:
            connection = rates.connection.billed_seconds(connection)
        if audio and rates.audio is not None:
            audio = rates.audio.billed_seconds(audio)
        return connection, audio

    def deltas(self, event: Any) -> list[Usage]:
        """The usage added since the previous update, one `Usage` per model that changed.

        Advances the running totals: call it once per event (`on_usage_updated` does)."""
        out = []
        for item in _items(event):
            if item.get("type") in _NOT_PRICED:
                continue
            key = self._key(item)
            prev = self._totals.get(key)
            if prev is not None and self._went_down(prev, item):
                log.warning("%s: usage totals of %s went down (a reset?): counting the new "
                            "totals as new usage", self.name, "/".join(key[1:]))
                prev = None
                self._billed.pop(key, None)
            total = usage_from_livekit(item, self._override(item), label="/".join(key[1:]))
            before = (usage_from_livekit(prev, total.model) if prev is not None
                      else Usage(total.model))
            self._totals[key] = dict(item)
            billed = self._billed_seconds(total.model, total.connection_seconds,
                                          total.audio_seconds)
            was = self._billed.get(key, (Decimal(0), Decimal(0)))
            self._billed[key] = billed
            tokens = {k: n - before.tokens.get(k, 0) for k, n in total.tokens.items()
                      if n != before.tokens.get(k, 0)}
            if any(n < 0 for n in tokens.values()) or set(before.tokens) - set(total.tokens):
                raise UsageError(f"{'/'.join(key[1:])}: the token buckets changed between "
                                 f"updates ({dict(before.tokens)} -> {dict(total.tokens)})")
            delta = Usage(total.model, tokens, connection_seconds=billed[0] - was[0],
                          audio_seconds=billed[1] - was[1],
                          characters=total.characters - before.characters,
                          label=total.label, estimated=total.estimated)
            if delta.tokens or delta.connection_seconds or delta.audio_seconds or \
                    delta.characters:
                out.append(delta)
        return out

    @staticmethod
    def _went_down(prev: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
        for k, v in item.items():
            p = prev.get(k)
            if isinstance(v, int | float) and isinstance(p, int | float) and v < p:
                return True
        return False

    def on_usage_updated(self, event: Any) -> Decision | None:
        """The ``session_usage_updated`` handler: price the new usage, act on the decision."""
        try:
            decision = self._observe(event)
        except Exception as exc:  # a raising handler would only be logged by LiveKit
            log.exception("%s: the budget hook failed", self.name)
            decision = self._unpriced(f"the budget hook failed: {exc!r}")
        if decision is not None:
            self._act(decision)
        return decision

    def _observe(self, event: Any) -> Decision | None:
        try:
            usages = self.deltas(event)
        except CostModelError as exc:
            return self._unpriced(str(exc))
        return self._feed(usages)

    # -- acting ----------------------------------------------------------------------------------
    def _run(self, result: Any) -> None:
        """Schedule `result` when it is awaitable (the handlers run in LiveKit's sync emit)."""
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _act(self, decision: Decision) -> None:
        if self.ended or self.session is None:
            return
        session = self.session
        if decision.action == "cut":
            self.ended = True
            log.error("%s: shutting the session down: %s", self.name, decision.reason)
            if self.on_cut is not None:
                self._run(self.on_cut(session, decision))
            elif hasattr(session, "shutdown"):
                self._run(session.shutdown(drain=self.drain))
            else:
                self._run(session.aclose())
        elif decision.action == "wrap_up" and not self.wrapped_up:
            self.wrapped_up = True
            if self.on_wrap_up is not None:
                log.warning("%s: wrap-up: %s", self.name, decision.reason)
                self._run(self.on_wrap_up(session, decision))

    def finalize(self, end: str | None = None) -> Decision:
        """The session is over: the guard's last decision; the spend-log line is written
        (``end``: how it ended; default ``cut`` when the budget ended it, else ``ended``)."""
        return self._finalize(end)
