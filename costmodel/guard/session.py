"""The runtime budget guard: meter a live session and stop it *before* it overspends.

`SessionGuard.observe(event)` takes the provider's own events (OpenAI Realtime server events,
Gemini Live messages, Nova Sonic usage events) or a `Usage`, and returns a `Decision`: ``ok``,
``warn``, ``wrap_up`` or ``cut``, with the spend so far, the projected cost of the next
response and the budget left. The app's client events go in as
``observe(event, source="client")``: they announce requests and cache busts, and can never name
the model, report usage or record spend (a client is untrusted input).

Peers check a budget only before a call, so the request that crosses the cap still goes
through. The guard instead projects the next response's cost from the context it has seen
(`costmodel.guard.projector`) and cuts when spend + projection would pass the limit
(`costmodel.guard.policy`), so the response that would cross the cap is never requested. A
session can then exceed its limit by at most the error of one response's projection.

Three parts, one job each: a protocol *tracker* (`costmodel.guard.trackers`) reads events of
one provider into calls on the guard; the *projector* prices the next response; the *policy*
decides. Spend goes to the `ledger` when there is one; what the ledger cannot take (it is down)
goes to a local `Spool` and is committed when the ledger answers again, so none is lost
(`costmodel.guard.ledger_link`).

>>> guard = SessionGuard("0.12", model="openai/gpt-realtime-1.5")
>>> def done(audio_in, audio_out):
...     return {"type": "response.done", "response": {"usage": {
...         "input_tokens": audio_in, "output_tokens": audio_out,
...         "input_token_details": {"audio_tokens": audio_in},
...         "output_token_details": {"audio_tokens": audio_out}}}}
>>> d = guard.observe(done(1000, 200))   # 1000 x $32/1M + 200 x $64/1M = $0.0448
>>> d.action, float(d.spent_usd), float(d.projected_next_usd)
('wrap_up', 0.0448, 0.0544)
>>> guard.observe(done(1500, 200)).action  # $0.1056 spent; the next ~$0.07 would pass $0.12
'cut'
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

from ..adapters.recorded import detect_format
from ..core.catalog import Catalog, default_catalog
from ..core.pricing import Cost, price
from ..core.usage import Usage
from ..errors import CostModelError, MissingModelError, UsageError
from ..ledger import Ledger, Spool
from ..money import to_decimal
from .ledger_link import LedgerLink
from .policy import MAX_SCOPE_LIMIT_USD, Decision, Policy, usd_limit
from .projector import ModelFacts, Projector, Truncation
from .trackers import TRACKERS, Tracker

log = logging.getLogger("costmodel.guard")

Source = Literal["server", "client"]
_LOOKAHEAD_SECONDS = Decimal(15)   # time-billed models: what one more turn costs
_ZERO = Decimal(0)


class SessionGuard:
    """Meters one session against a USD limit; see the module docstring.

    Args:
        limit_usd: the per-session limit (at most `MAX_LIMIT_USD`).
        model: catalog id; default: taken from the session's own events.
        warn_at: share of the limit spent at which to warn (default 0.8).
        on_ledger_error: ``"fail_open"`` (keep going, log loudly) or ``"fail_closed"`` (cut).
            Either way, spend the ledger could not take goes to the spool.
        on_unpriced: what to do with usage the catalog cannot price (default fail_closed).
        ledger: where committed spend is recorded (optional).
        spool: with a ledger, where spend goes that the ledger could not take (a `Spool` or a
            directory; default ``$COSTMODEL_SPOOL_DIR``, else the user cache directory). It is
            committed at the next successful commit, at `finalize`, or by
            ``costmodel ledger flush``.
        scope, scope_limit_usd, period: a budget shared by every session of the scope
            (tenant) for the UTC day or month, held in the ledger.
        callbacks: called with each `Decision` whose action changed (warn, wrap_up, cut).
        clock: seconds, for time-billed models and `seconds` (default `time.monotonic`).
        fmt: the event format (``auto``: from the first provider event).
    """

    def __init__(self, limit_usd: Decimal | str | float, *, model: str | None = None,
                 transcription_model: str | None = None, warn_at: Decimal | str | float = "0.8",
                 catalog: Catalog | None = None, ledger: Ledger | None = None,
                 spool: Spool | str | os.PathLike[str] | None = None,
                 session_id: str | None = None, scope: str = "default",
                 on_ledger_error: Literal["fail_open", "fail_closed"] = "fail_open",
                 on_unpriced: Literal["fail_open", "fail_closed"] = "fail_closed",
                 scope_limit_usd: Decimal | str | float | None = None,
                 period: Literal["day", "month", "all"] = "day",
                 callbacks: list[Callable[[Decision], None]] | None = None,
                 clock: Callable[[], float] = time.monotonic, fmt: str = "auto") -> None:
        self.policy = Policy(limit_usd, warn_at)
        self.limit_usd, self.warn_at = self.policy.limit_usd, self.policy.warn_at
        self.catalog = catalog or default_catalog()
        if model is not None:
            self.catalog.resolve(model)
        if fmt != "auto" and fmt not in TRACKERS:
            raise UsageError(f"unknown format {fmt!r}; expected auto or one of "
                             f"{', '.join(TRACKERS)}")
        if period not in ("day", "month", "all"):
            raise UsageError("period must be day, month or all")
        scope_limit = None if scope_limit_usd is None else \
            usd_limit(scope_limit_usd, "the scope limit", MAX_SCOPE_LIMIT_USD)
        if scope_limit is not None and ledger is None:
            raise UsageError("a scope budget needs a ledger shared by the sessions")
        self.session_id = session_id or uuid.uuid4().hex
        self.scope, self.period, self.scope_limit_usd = scope, period, scope_limit
        self.ledger = ledger
        self.on_ledger_error, self.on_unpriced = on_ledger_error, on_unpriced
        self._link = None if ledger is None else LedgerLink(
            ledger, spool, session_id=self.session_id, scope=scope,
            scope_limit_usd=scope_limit, period=period, on_error=on_ledger_error)
        self.callbacks = list(callbacks or [])
        self.clock = clock
        self._model_arg, self._tmodel_arg, self._fmt = model, transcription_model, fmt
        self._tracker: Tracker | None = None
        self._facts: ModelFacts | None = None
        self.projector = Projector()   # the next responses' cost (public: the ladder's)
        self._token_spent = self._time_spent = _ZERO
        self._started = clock()
        self._ended: float | None = None
        self._reported_at: float | None = None   # the provider's last report of its time
        self.responses = 0
        self._requested = 0      # responses asked for, not yet confirmed by the provider
        self._in_flight = 0      # responses the provider started, not yet done
        self._audio_bytes_per_s = 48000   # pcm16 at 24 kHz, the realtime default
        self._unpriced: str | None = None
        self._bad_model: str | None = None
        self._finalized = False
        self.estimated = False
        self.ignored_client_events = 0   # server-shaped events a client sent (never metered)
        self.history: list[Decision] = []   # decisions whose action changed
        self.last: Decision = self.policy.last   # the latest decision
        self.costs: list[Cost] = []
        if fmt != "auto":
            self._tracker = self._new_tracker(fmt)

    # -- what it has seen -------------------------------------------------------------------
    @property
    def spent_usd(self) -> Decimal:
        """Everything spent so far: priced usage plus connection time (time-billed models)."""
        return self._token_spent + self._time_spent

    @property
    def model(self) -> str | None:
        """The model, as the provider's events named it (or as given)."""
        return self._tracker.model if self._tracker is not None else self._model_arg

    @property
    def format(self) -> str | None:
        """The protocol being read (``openai-realtime``, ``gemini-live``...), once known."""
        return self._tracker.format if self._tracker is not None else None

    @property
    def in_flight(self) -> int:
        """Responses the provider has started and not yet finished (their usage is due)."""
        return self._in_flight

    @property
    def awaiting(self) -> int:
        """Responses asked for or in flight whose usage has not arrived: what a relay waits
        for (a little) before ending a session, so that it is metered, not estimated."""
        return self._in_flight + self._requested

    @property
    def seconds(self) -> float:
        """The session's length: the guard's clock from its start to `finalize` (or now)."""
        return (self._ended if self._ended is not None else self.clock()) - self._started

    @property
    def spool(self) -> Spool | None:
        return self._link.spool if self._link is not None else None

    @property
    def ledger_errors(self) -> int:
        return self._link.errors if self._link is not None else 0

    @property
    def spooled_records(self) -> int:
        return self._link.spooled if self._link is not None else 0

    @property
    def unsaved_usd(self) -> Decimal:
        """Spend that neither the ledger nor the spool could take (both failing): it is only
        in this guard's total, in the log, and in whatever the caller records (the relay's
        spend log); retried at each commit and at `finalize`."""
        return self._link.unsaved_usd if self._link is not None else _ZERO

    # -- observe ----------------------------------------------------------------------------
    def observe(self, event: Mapping[str, Any] | Usage, source: Source = "server") -> Decision:
        """Take one event (or a `Usage`) and return the guard's decision.

        ``source`` says who sent the event. ``"server"`` (the default): the provider, trusted
        to name the model and report usage. ``"client"``: the app's own client, untrusted; its
        events only signal requests (``response.create``) and cache busts (``session.update``,
        item edits). A client event shaped like a server event (``response.done``,
        ``session.updated``...) is never metered: it is counted in `ignored_client_events`.
        """
        tracker = self._tracker
        if source == "server":
            if tracker is not None and type(event) is dict:
                return tracker.server(event)  # the hot path
            if isinstance(event, Usage):
                return self.metered([event])
            tracker = self._tracker_for(event)
            return tracker.server(event) if tracker is not None else self.last
        if source != "client":
            raise UsageError(f"source must be 'server' or 'client', not {source!r}")
        if not isinstance(event, Mapping):
            raise UsageError("usage comes from the provider, never from a client")
        if tracker is None:  # (a client event never picks the format)
            return self._client_before_format(event)
        return tracker.client(event)

    def _new_tracker(self, fmt: str) -> Tracker:
        return TRACKERS[fmt](self, model=self._model_arg, transcription_model=self._tmodel_arg)

    def _tracker_for(self, event: Mapping[str, Any]) -> Tracker | None:
        name = detect_format(event)
        if name is None:
            return None  # unknown event: passes through untouched
        self._tracker = self._new_tracker(name)
        return self._tracker

    def _client_before_format(self, event: Mapping[str, Any]) -> Decision:
        # The only client signal that matters before the provider has spoken: a request.
        return self.requested() if event.get("type") == "response.create" else self.last

    # -- what trackers report (the `Meter` protocol) ----------------------------------------
    def requested(self) -> Decision:
        decision = self.before_response()
        if decision.action != "cut":
            self._requested += 1  # it will be forwarded
        return decision

    def started(self) -> Decision:
        decision = self.before_response()
        if self._requested:
            self._requested -= 1
        self._in_flight += 1
        return decision

    def refused(self) -> Decision:
        if self._requested:
            self._requested -= 1  # most likely the request the provider just refused
        return self.last

    def before_response(self) -> Decision:
        """A response is about to be requested: hold its cost in the tenant's budget."""
        projected = self.projected_next_usd()
        link = self._link
        if link is not None and link.scope_limit_usd is not None:
            link.reserve(projected)
        return self._decide(projected)

    def completed(self, usages: list[Usage]) -> Decision:
        if self._in_flight:
            self._in_flight -= 1
        elif self._requested:  # done without a start we saw: it answers a request
            self._requested -= 1
        if len(usages) == 1:  # the common case, without the loop
            try:
                self._account(usages[0])
            except CostModelError as exc:
                return self._fail_unpriced(str(exc))
            return self._decide()
        return self.metered(usages) if usages else self.other()

    def completed_unreported(self, why: UsageError) -> Decision:
        """A response finished without usage: estimated from the audio it streamed."""
        if self._in_flight:
            self._in_flight -= 1
        elif self._requested:
            self._requested -= 1
        facts = self._model_facts()
        if facts is None:
            return self._fail_unpriced(str(why))
        seconds = self._output_seconds()
        log.warning("guard %s: a response without usage (%s); estimated from %s s of audio",
                    self.session_id, why, seconds)
        return self.metered([self.projector.usage(seconds, "estimated response")
                             .with_(estimated=True)])

    def metered(self, usages: list[Usage]) -> Decision:
        for usage in usages:
            try:
                self._account(usage)
            except CostModelError as exc:
                return self._fail_unpriced(str(exc))
            facts = self._model_facts()
            if usage.connection_seconds and facts is not None and facts.time_billed and \
                    self.catalog.resolve(usage.model) == facts.model_id:
                # The provider reports its own connection time (LiveKit's session_duration):
                # that is what it bills; the clock covers only the time since.
                self._reported_at = self.clock()
        return self._decide()

    def unmeterable(self, why: MissingModelError) -> Decision:
        return self._fail_unpriced(str(why))

    def user_speech(self, seconds: Decimal | None) -> Decision:
        facts = self._model_facts()
        if seconds is not None and facts is not None and facts.speech_measured:
            self.projector.user_turn(seconds)
        return self._decide()

    def audio_rate(self, bytes_per_second: int) -> None:
        self._audio_bytes_per_s = bytes_per_second

    def configured(self, max_output_tokens: int | None, truncation: Truncation | None) -> None:
        self.projector.configure(max_output_tokens=max_output_tokens, truncation=truncation)

    def busted(self) -> Decision:
        self.projector.bust()
        return self._decide()

    def forged(self, kind: str) -> Decision:
        self.ignored_client_events += 1
        if self.ignored_client_events == 1:  # once a session: a client can send many
            log.warning("guard %s: ignored a client event of type %.80r: only the provider's "
                        "events are metered", self.session_id, kind)
        return self.last

    def other(self) -> Decision:
        facts = self._model_facts()
        return self._decide() if facts is not None and facts.time_billed else self.last

    # -- the end, and the clock ---------------------------------------------------------------
    def tick(self) -> Decision:
        """Re-check a time-billed session against the clock (a relay calls this every second:
        silence is billed too, and may bring no events)."""
        return self.other()

    def finalize(self) -> Decision:
        """End the session's accounting, once: responses still in flight (cut or dropped
        mid-response; their input is billed) are estimated from the audio they streamed, and
        responses requested but never confirmed (the session ended first) from the context,
        all flagged as estimated; a time-billed session's connection time is committed as a
        usage."""
        if self._finalized:
            return self.last
        self._finalized = True
        self._ended = self.clock()
        link = self._link
        if link is not None:
            link.release()
        facts = self._model_facts()
        try:
            if facts is not None:
                self._account_the_rest(facts)
        except CostModelError as exc:
            return self._fail_unpriced(str(exc))
        finally:
            if link is not None:
                link.drain()
        return self.last if facts is None else self._decide(self.last.projected_next_usd)

    def _account_the_rest(self, facts: ModelFacts) -> None:
        for _ in range(self._in_flight):
            seconds = self._output_seconds()
            log.warning("guard %s: a response was in flight at the end; estimated from %s s "
                        "of audio", self.session_id, seconds)
            self._account(self.projector.usage(seconds, "estimated (in flight)")
                          .with_(estimated=True))
        # Asked for but never confirmed: the provider may have started it (its input is then
        # billed) without our hearing of it. Counted, conservatively, with no audio out.
        for _ in range(self._requested):
            log.warning("guard %s: a requested response was never confirmed; estimated",
                        self.session_id)
            self._account(self.projector.usage(_ZERO, "estimated (requested)")
                          .with_(estimated=True))
        self._in_flight = self._requested = 0
        self._time_spent = _ZERO
        if facts.time_billed and self._reported_at is None:
            elapsed = to_decimal(self.seconds, "elapsed seconds")
            self._account(Usage(facts.model_id, connection_seconds=elapsed, label="connection"))

    # -- accounting -------------------------------------------------------------------------
    def _account(self, usage: Usage) -> None:
        try:
            cost = price(usage, self.catalog)
        except CostModelError as exc:
            log.error("guard %s: cannot price %s: %s", self.session_id, usage.model, exc)
            raise
        self.costs.append(cost)
        total = cost.total_usd
        self._token_spent += total
        if usage.estimated:
            self.estimated = True
        # Only the session model's own responses shape the next one (not transcription).
        facts = self._model_facts()
        own = facts is not None and cost.rates.model == facts.model_id
        if usage.tokens and (own or facts is None):
            self.responses += 1
            self.projector.learn(usage.tokens, total)
        elif facts is not None and usage.tokens or usage.audio_seconds:
            self.projector.transcription(total)  # the next turn likely has one too
        if self._tracker is not None:
            self._tracker.audio_bytes = 0   # what streamed belonged to this usage
        if self._link is not None:
            self._link.commit(cost.model, total, estimated=usage.estimated, label=usage.label,
                              response=own)

    def _output_seconds(self) -> Decimal:
        streamed = self._tracker.audio_bytes if self._tracker is not None else 0
        return Decimal(streamed) / self._audio_bytes_per_s

    def _fail_unpriced(self, reason: str) -> Decision:
        """Usage the catalog cannot price: the budget cannot be enforced (loudly)."""
        log.error("guard %s: CANNOT METER (%s): %s", self.session_id, self.on_unpriced, reason)
        if self.on_unpriced == "fail_closed":
            self._unpriced = reason
        return self._decide(self.last.projected_next_usd)

    # -- the model and its projection -------------------------------------------------------
    def _model_facts(self) -> ModelFacts | None:
        """Per-model constants, computed once per model (None until the model is known)."""
        model = self._tracker.model if self._tracker is not None else self._model_arg
        facts = self._facts
        if facts is not None and facts.name == model:
            return facts
        if model is None:
            return None
        try:
            facts = ModelFacts.of(model, self.catalog)
        except CostModelError as exc:
            if self._bad_model != model:  # say it once, loudly
                self._bad_model = model
                log.error("guard %s: CANNOT METER (%s): %s", self.session_id,
                          self.on_unpriced, exc)
                if self.on_unpriced == "fail_closed":
                    self._unpriced = str(exc)
            return None
        self._facts = facts
        self.projector.use(facts)
        return facts

    def projected_next_usd(self) -> Decimal:
        """What the next response is expected to cost (0 before the model is known)."""
        facts = self._model_facts()
        if facts is None:
            return _ZERO
        if not facts.time_billed:
            try:
                return self.projector.next_usd()
            except KeyError as exc:
                log.warning("guard %s: cannot project the next response: no rate for %s",
                            self.session_id, exc)
            except CostModelError as exc:
                log.warning("guard %s: cannot project the next response: %s",
                            self.session_id, exc)
            return _ZERO
        # Time-billed: what the connection has cost so far, and what one more turn adds.
        since = self._started if self._reported_at is None else self._reported_at
        elapsed = to_decimal(self.clock() - since, "elapsed seconds")
        model_id = facts.model_id
        now = price(Usage(model_id, connection_seconds=elapsed), self.catalog).total_usd
        later = price(Usage(model_id, connection_seconds=elapsed + _LOOKAHEAD_SECONDS),
                      self.catalog).total_usd
        self._time_spent = now
        return later - now

    # -- decisions --------------------------------------------------------------------------
    def _stop_reason(self) -> str | None:
        link = self._link
        if link is not None and link.failed and self.on_ledger_error == "fail_closed":
            return "the spend ledger failed and the policy is fail-closed"
        if self._unpriced is not None:
            return f"cannot meter this session: {self._unpriced}"
        if link is not None and link.refused is not None:
            return f"the next response would pass {link.refused}"
        return None

    def _decide(self, projected: Decimal | None = None) -> Decision:
        if projected is None:
            projected = self.projected_next_usd()
        before = self.policy.last.action
        spent = self._token_spent + self._time_spent if self._time_spent else self._token_spent
        link = self._link
        stop = self._stop_reason() if (self._unpriced is not None or link is not None) else None
        decision = self.policy.decide(spent, projected, self._in_flight + self._requested,
                                      self.responses, self.estimated, stop)
        self.last = decision
        if decision.action != before:
            self.history.append(decision)
            for cb in self.callbacks:
                cb(decision)
        return decision
