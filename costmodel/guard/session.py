"""The runtime budget guard: meter a live session and stop it *before* it overspends.

`SessionGuard.observe(event)` takes the provider's own events (OpenAI Realtime server events,
Gemini Live messages, Nova Sonic usage events) or a `Usage`, and returns a `Decision`: ``ok``,
``warn``, ``wrap_up`` or ``cut``, with the spend so far, the projected cost of the next
response and the budget left. The app's client events go in as
``observe(event, source="client")``: they announce requests and cache busts, and can never name
the model, report usage or record spend (a client is untrusted input).

Spend goes to the `ledger` when there is one; what the ledger cannot take (it is down) goes to
a local `Spool` and is committed when the ledger answers again, so none is lost.

Peers check a budget only before a call, so the request that crosses the cap still goes
through. The guard instead projects the next response's cost from the context it has seen
(the next input is the last input + the last output + the new user audio, capped at the
model's truncation threshold) and cuts when spend + projection would pass the limit, so the
response that would cross the cap is never requested. A session can then exceed its limit
by at most the error of one response's projection.

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

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from ..adapters.recorded import READERS, detect_format
from ..core.catalog import Catalog, default_catalog
from ..core.pricing import Cost, Rates, price, rates_for, token_cost
from ..core.usage import MODALITIES, TOKEN_KEYS, Usage
from ..errors import BudgetExceeded, CostModelError, MissingModelError, UsageError
from ..ledger import Ledger, LedgerError, Reservation, SpendRecord, Spool, period_start
from ..ledger.base import record_to_json

log = logging.getLogger("costmodel.guard")

Action = Literal["ok", "warn", "wrap_up", "cut"]
_RANK = {"ok": 0, "warn": 1, "wrap_up": 2, "cut": 3}

# OpenAI events after which a response is about to be requested: the moments to project.
_PRE_RESPONSE = frozenset({"input_audio_buffer.speech_started", "input_audio_buffer.committed",
                           "response.create", "response.created"})
# Client events after which the cached prefix cannot be trusted any more.
_CACHE_BUSTERS = frozenset({"session.update", "conversation.item.delete",
                            "conversation.item.truncate"})
_AUDIO_DELTA = frozenset({"response.output_audio.delta", "response.audio.delta"})
_OPENAI_USAGE = frozenset({"response.done",
                           "conversation.item.input_audio_transcription.completed",
                           "session.created", "session.updated",
                           "transcription_session.created", "transcription_session.updated"})
# What a client (untrusted) may tell the guard: it asks for responses and edits the context;
# it can never name the model, report usage or record spend (only the provider's frames can).
_CLIENT_REQUEST = "response.create"
_CLIENT_SIGNALS = frozenset({"input_audio_buffer.append", "input_audio_buffer.commit",
                             "input_audio_buffer.clear", "conversation.item.create",
                             "conversation.item.retrieve", "response.cancel",
                             "output_audio_buffer.clear", "transcription_session.update"})
Source = Literal["server", "client"]
_DEFAULT_USER_SECONDS = Decimal(10)   # user speech assumed before any turn was measured
_DEFAULT_AGENT_SECONDS = Decimal(15)  # agent speech assumed before any response was seen
_DEFAULT_TEXT_OUT = 60
_LOOKAHEAD_SECONDS = Decimal(15)
_RESERVATION_TTL = 120.0  # s: a crashed worker's hold on the scope budget lapses
_FLUSH_BATCH = 200        # spooled records committed per flush from a live session


MAX_LIMIT_USD = Decimal(1_000_000)        # for one voice session: anything larger is a typo
MAX_SCOPE_LIMIT_USD = Decimal(10) ** 12   # a tenant's budget for a day or a month


def usd_limit(value: Decimal | str | float, what: str,
              maximum: Decimal = MAX_LIMIT_USD) -> Decimal:
    """A limit: finite, > 0 and at most `maximum`, else `UsageError` saying what it must be.

    >>> usd_limit("0.50", "the limit")
    Decimal('0.50')
    >>> usd_limit("1e999999999", "the limit")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    costmodel.errors.UsageError: the limit must be a positive amount in USD, at most 1000000, ...
    """
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        amount = Decimal("NaN")
    if not amount.is_finite() or not 0 < amount <= maximum:
        raise UsageError(f"{what} must be a positive amount in USD, at most {maximum}, "
                         f"got {str(value)[:40]!r}")
    return amount


class Decision(NamedTuple):
    """What the guard thinks after an event (immutable; a NamedTuple because one is made
    for every metered response)."""

    action: Action
    spent_usd: Decimal
    projected_next_usd: Decimal
    limit_usd: Decimal
    responses: int              # responses priced so far
    reason: str = ""
    estimated: bool = False     # some spend was estimated (a response without usage)
    pending: int = 0            # responses requested or in flight, not yet priced

    @property
    def remaining_usd(self) -> Decimal:
        return self.limit_usd - self.spent_usd


@dataclass(frozen=True, slots=True)
class _ModelInfo:
    name: str       # as the session named it
    model_id: str   # the catalog id
    tps_in: Decimal
    tps_out: Decimal
    rebills: bool
    limit: int | None
    cacheable: frozenset[str]
    time_billed: bool
    rates: Rates
    speech_in: bool    # has an audio input rate (else the user's turn arrives as text)
    speech_out: bool


# Each bucket's counter in `_learn`: input text/audio/image 0-2 (cache writes are input),
# cached 3-5, output 6-8.
_SLOT = {key: (6 if key.endswith(".output") else 3 if key.endswith(".cached") else 0)
         + MODALITIES.index(key.partition(".")[0]) for key in TOKEN_KEYS}
_IN_KEY = {m: f"{m}.input" for m in MODALITIES}
_CACHED_KEY = {m: f"{m}.cached" for m in MODALITIES}
_OUT_KEY = {m: f"{m}.output" for m in MODALITIES}


@dataclass
class _Context:
    """What the last response looked like, to project the next one."""

    max_output: dict[str, int] = field(default_factory=dict)   # modality -> tokens
    user_tokens: int | None = None        # the coming user turn's audio tokens, when measured
    max_user_tokens: int = 0
    last_input_total: int = 0
    cache_share: float = 0.0
    base_text: int = 0     # what the next response re-sends: last input + last output
    base_audio: int = 0
    base_image: int = 0


class SessionGuard:
    """Meters one session against a USD limit; see the module docstring.

    Args:
        limit_usd: the per-session limit.
        model: catalog id; default: taken from the session's own events.
        warn_at: share of the limit spent at which to warn (default 0.8).
        on_ledger_error: ``"fail_open"`` (keep going, log loudly) or ``"fail_closed"`` (cut).
            Either way, spend the ledger could not take goes to the spool.
        ledger: where committed spend is recorded (optional).
        spool: with a ledger, where spend goes that the ledger could not take (a `Spool` or a
            directory; default ``$COSTMODEL_SPOOL_DIR``, else the user cache directory). It is
            committed at the next successful commit, at `finalize`, or by
            ``costmodel ledger flush``.
        callbacks: called with each `Decision` whose action changed (warn, wrap_up, cut).
        clock: seconds, for time-billed models (default `time.monotonic`).
    """

    def __init__(self, limit_usd: Decimal | str | float, *, model: str | None = None,
                 transcription_model: str | None = None, warn_at: float | str = "0.8",
                 catalog: Catalog | None = None, ledger: Ledger | None = None,
                 spool: Spool | str | os.PathLike[str] | None = None,
                 session_id: str | None = None, scope: str = "default",
                 on_ledger_error: Literal["fail_open", "fail_closed"] = "fail_open",
                 on_unpriced: Literal["fail_open", "fail_closed"] = "fail_closed",
                 scope_limit_usd: Decimal | str | float | None = None,
                 period: Literal["day", "month", "all"] = "day",
                 callbacks: list[Callable[[Decision], None]] | None = None,
                 clock: Callable[[], float] = time.monotonic, fmt: str = "auto") -> None:
        self.limit_usd = usd_limit(limit_usd, "the limit")
        try:
            self.warn_at = Decimal(str(warn_at))
        except ArithmeticError:
            self.warn_at = Decimal("NaN")
        if not self.warn_at.is_finite() or not 0 < self.warn_at <= 1:
            raise UsageError(f"warn_at must be in (0, 1], got {str(warn_at)[:40]!r}")
        self.catalog = catalog or default_catalog()
        if model is not None:
            self.catalog.resolve(model)
        self.ledger = ledger
        self.spool = self._spool_for(ledger, spool)
        self._unsaved: list[tuple[SpendRecord, Reservation | None]] = []  # not even spooled
        self.ledger_errors = 0
        self.spooled_records = 0
        self.session_id = session_id or uuid.uuid4().hex
        self.scope = scope
        self.on_ledger_error = on_ledger_error
        self.on_unpriced = on_unpriced
        # A budget shared by every session of the scope (tenant) for the period, held in the
        # ledger: each response reserves its projection there before it is requested.
        self.scope_limit_usd = None if scope_limit_usd is None else \
            usd_limit(scope_limit_usd, "the scope limit", MAX_SCOPE_LIMIT_USD)
        if self.scope_limit_usd is not None and ledger is None:
            raise UsageError("a scope budget needs a ledger shared by the sessions")
        if period not in ("day", "month", "all"):
            raise UsageError("period must be day, month or all")
        self.period = period
        self._reservation: Reservation | None = None
        self._scope_refused: str | None = None
        self.callbacks = list(callbacks or [])
        self.clock = clock
        self._model_arg, self._tmodel_arg, self._fmt = model, transcription_model, fmt
        self._reader: Any = None
        self._ctx = _Context()
        self._token_spent = Decimal(0)
        self.responses = 0
        self._requested = 0      # client response.create not yet confirmed by the server
        self._in_flight = 0      # responses created and not yet done
        self._speech_start_ms: float | None = None
        self._audio_bytes_per_s = 48000   # pcm16 at 24 kHz, the realtime default
        self._transcription_usd = Decimal(0)  # the last transcription's cost
        self._max_response_usd = Decimal(0)
        self._unpriced: str | None = None
        self._bad_model: str | None = None
        self._finalized = False
        self.estimated = False
        self.history: list[Decision] = []   # decisions whose action changed
        self.costs: list[Cost] = []
        self._audio_bytes = 0                # output audio of the response in flight
        self._started = clock()
        self._time_spent = Decimal(0)
        self._ledger_failed = False
        self.ignored_client_events = 0   # server-shaped events a client sent (never metered)
        self._last = Decision("ok", Decimal(0), Decimal(0), self.limit_usd, 0)
        self._info: _ModelInfo | None = None
        self._warn_reason = f"{self.warn_at:.0%} of the ${self.limit_usd} limit spent"
        self._warn_usd = self.warn_at * self.limit_usd

    @staticmethod
    def _spool_for(ledger: Ledger | None, spool: Spool | str | os.PathLike[str] | None
                   ) -> Spool | None:
        if ledger is None:
            return None  # nothing to keep: the guard's own total is the record
        if not isinstance(spool, Spool):
            return Spool(ledger, spool)
        if spool.key != ledger.key:
            raise UsageError(f"the spool {spool} belongs to another ledger ({spool.key})")
        return spool

    @property
    def spent_usd(self) -> Decimal:
        """Everything spent so far: priced usage plus connection time (time-billed models)."""
        return self._token_spent + self._time_spent

    # -- the model ------------------------------------------------------------------------
    @property
    def model(self) -> str | None:
        return self._reader.model if self._reader is not None else self._model_arg

    def _model_id(self) -> str | None:
        info = self._model_info()
        return info.model_id if info is not None else None

    def _entry(self):
        info = self._model_info()
        return self.catalog.entries[info.model_id] if info is not None else None

    def _time_billed(self) -> bool:
        info = self._model_info()
        return info is not None and info.time_billed

    # -- observe ----------------------------------------------------------------------------
    def observe(self, event: Mapping[str, Any] | Usage, source: Source = "server") -> Decision:
        """Take one event (or a `Usage`) and return the guard's decision.

        ``source`` says who sent the event. ``"server"`` (the default): the provider, trusted
        to name the model and report usage. ``"client"``: the app's own client, untrusted; its
        events only signal requests (``response.create``) and cache busts (``session.update``,
        item edits). A client event shaped like a server event (``response.done``,
        ``session.updated``...) is never metered: it is counted in `ignored_client_events`.
        """
        if source != "server":
            return self._observe_client(event, source)
        if type(event) is not dict and isinstance(event, Usage):
            self._account(event)
            return self._decide(project=True)
        t = event.get("type")
        if not isinstance(t, str):
            if t is not None:
                return self._last  # not an event of any provider: passes through
            # (Gemini Live and Nova Sonic messages have no "type" at all)
        if t in _AUDIO_DELTA:  # hot path: audio frames, counted for responses without usage
            delta = event.get("delta")
            if isinstance(delta, str):
                self._audio_bytes += len(delta) * 3 // 4
            return self._last
        if t == "response.done" and self._reader is not None:  # hot path: one per response
            if self._in_flight:
                self._in_flight -= 1
            elif self._requested:  # done without a created we saw: it answers a request
                self._requested -= 1
            try:
                usages = self._reader.feed(event)
            except UsageError as exc:
                usages = self._estimate_missing_usage(exc)
            return self._after_usage(usages)
        if t == "error":
            if self._requested:
                self._requested -= 1  # most likely the request the server just refused
            return self._last
        if self._reader is None:
            name = self._fmt if self._fmt != "auto" else detect_format(event)
            if name is None:
                return self._last  # unknown event: passes through untouched
            self._reader = READERS[name](model=self._model_arg,
                                         transcription_model=self._tmodel_arg)
        if t in _PRE_RESPONSE:
            return self._pre_response(t, event)
        if t == "input_audio_buffer.speech_stopped":
            self._measure_user_turn(event)
            return self._decide(project=True)
        if t in _CACHE_BUSTERS:
            # New instructions or tools, or edited history: the cached prefix is gone.
            self._ctx.cache_share = 0.0
            return self._decide(project=True)
        if t is not None and t not in _OPENAI_USAGE:
            return self._last if not self._time_billed() else self._decide(project=True)
        if t in ("session.created", "session.updated"):
            self._read_audio_format(event)
        try:
            usages = self._reader.feed(event)
        except UsageError as exc:
            if t == "response.done":  # (the first one, before the reader existed)
                usages = self._estimate_missing_usage(exc)
            else:
                log.warning("guard %s: unusable event %s: %s", self.session_id, t, exc)
                return self._fail_unpriced(str(exc)) if isinstance(exc, MissingModelError) \
                    else self._last
        return self._after_usage(usages)

    def _observe_client(self, event: Mapping[str, Any] | Usage, source: str) -> Decision:
        if source != "client":
            raise UsageError(f"source must be 'server' or 'client', not {source!r}")
        if not isinstance(event, Mapping):
            raise UsageError("usage comes from the provider, never from a client")
        t = event.get("type")
        if t == _CLIENT_REQUEST:
            return self._pre_response(t, event)
        if not isinstance(t, str):
            return self._last  # not an OpenAI client event (e.g. Gemini's setup): no signal
        if t in _CACHE_BUSTERS:
            self._ctx.cache_share = 0.0
            return self._decide(project=True)
        if t not in _CLIENT_SIGNALS:
            self.ignored_client_events += 1
            if self.ignored_client_events == 1:  # once a session: a client can send many
                log.warning("guard %s: ignored a client event of type %.80r: only the "
                            "provider's events are metered", self.session_id, t)
        return self._last

    def _after_usage(self, usages: list[Usage]) -> Decision:
        if not usages:
            return self._decide(project=True) if self._time_billed() else self._last
        for usage in usages:
            try:
                self._account(usage)
            except CostModelError as exc:
                return self._fail_unpriced(str(exc))
        return self._decide(project=True)

    def _pre_response(self, t: str, event: Mapping[str, Any]) -> Decision:
        """A response is about to be requested (or was just created): count it in flight."""
        if t == "input_audio_buffer.speech_started":
            start = event.get("audio_start_ms")
            self._speech_start_ms = start if isinstance(start, int | float) else None
            return self._decide(project=True)
        projected = None
        if self.scope_limit_usd is not None and self._reservation is None:
            projected = self._reserve_in_scope()
        decision = self._decide(project=True, projected=projected)
        if t == "response.create":
            if decision.action != "cut":
                self._requested += 1  # it will be forwarded
        elif t == "response.created":
            if self._requested:
                self._requested -= 1
            self._in_flight += 1
        return decision

    def _fail_unpriced(self, reason: str) -> Decision:
        """Usage the catalog cannot price: the budget cannot be enforced (loudly)."""
        log.error("guard %s: CANNOT METER (%s): %s", self.session_id, self.on_unpriced, reason)
        if self.on_unpriced == "fail_closed":
            self._unpriced = reason
        return self._decide(project=False)

    def _read_audio_format(self, event: Mapping[str, Any]) -> None:
        """Output audio bytes per second, to estimate responses that come without usage."""
        session = event.get("session")
        fmt = None
        if isinstance(session, dict):
            audio = session.get("audio")
            if isinstance(audio, dict) and isinstance(audio.get("output"), dict):
                fmt = audio["output"].get("format")  # GA: {"type": "audio/pcm", "rate": 24000}
            if fmt is None:
                fmt = session.get("output_audio_format")  # beta: "pcm16" | "g711_ulaw" | ...
        if isinstance(fmt, dict):
            kind, rate = fmt.get("type"), fmt.get("rate")
            if kind in ("audio/pcmu", "audio/pcma"):
                self._audio_bytes_per_s = 8000
            elif isinstance(rate, int) and rate > 0:
                self._audio_bytes_per_s = 2 * rate
        elif fmt in ("g711_ulaw", "g711_alaw"):
            self._audio_bytes_per_s = 8000
        elif fmt == "pcm16":
            self._audio_bytes_per_s = 48000

    @property
    def in_flight(self) -> int:
        """Responses the server has created and not yet finished (their usage is due)."""
        return self._in_flight

    @property
    def awaiting(self) -> int:
        """Responses asked for or in flight whose usage has not arrived: what a relay waits
        for (a little) before ending a session, so that it is metered, not estimated."""
        return self._in_flight + self._requested

    def tick(self) -> Decision:
        """Re-check a time-billed session against the clock (a relay calls this every second:
        silence is billed too, and may bring no events)."""
        return self._decide(project=True) if self._time_billed() else self._last

    def finalize(self) -> Decision:
        """End the session's accounting, once: responses still in flight (cut or dropped
        mid-response; their input is billed) are estimated from the audio they streamed, and
        responses requested but never confirmed (the session ended first) from the context,
        all flagged as estimated; a time-billed session's connection time is committed as a
        usage."""
        if self._finalized:
            return self._last
        self._finalized = True
        if self._reservation is not None and self.ledger is not None:
            try:
                self.ledger.release(self._reservation)
            except LedgerError as exc:  # it expires anyway
                log.error("guard %s: LEDGER ERROR releasing a reservation: %s",
                          self.session_id, exc)
            self._reservation = None
        info = self._model_info()
        try:
            if info is not None:
                self._account_the_rest(info)
        except CostModelError as exc:
            return self._fail_unpriced(str(exc))
        finally:
            if self.spool is not None and (self._unsaved or self.spool.may_have_records()):
                self._flush_spool()
        return self._last if info is None else self._decide(project=False)

    def _account_the_rest(self, info: _ModelInfo) -> None:
        for _ in range(self._in_flight):
            seconds = self._output_seconds()
            usage = self._projected_usage(output_seconds=seconds)
            log.warning("guard %s: a response was in flight at the end; estimated from %s s "
                        "of audio", self.session_id, seconds)
            self._account(usage.with_(estimated=True, label="estimated (in flight)"))
        # Asked for but never confirmed: the provider may have started it (its input is then
        # billed) without our hearing of it. Counted, conservatively, with no audio out.
        for _ in range(self._requested):
            log.warning("guard %s: a requested response was never confirmed; estimated",
                        self.session_id)
            usage = self._projected_usage(output_seconds=Decimal(0))
            self._account(usage.with_(estimated=True, label="estimated (requested)"))
        self._in_flight = self._requested = 0
        if info.time_billed:
            elapsed = Decimal(repr(self.clock() - self._started))
            self._time_spent = Decimal(0)
            self._account(Usage(info.model_id, connection_seconds=elapsed, label="connection"))

    # -- accounting -------------------------------------------------------------------------
    def _account(self, usage: Usage) -> None:
        try:
            cost = price(usage, self.catalog)
        except CostModelError as exc:
            log.error("guard %s: cannot price %s: %s", self.session_id, usage.model, exc)
            raise
        self.costs.append(cost)
        self._token_spent += cost.total_usd
        if usage.estimated:
            self.estimated = True
        # Only the session model's own responses shape the next one (not transcription).
        info = self._model_info()
        if usage.tokens and (info is None or cost.rates.model == info.model_id):
            self.responses += 1
            if cost.total_usd > self._max_response_usd:
                self._max_response_usd = cost.total_usd
            self._learn(usage)
        elif info is not None and usage.tokens or usage.audio_seconds:
            self._transcription_usd = cost.total_usd  # the next turn likely has one too
        self._audio_bytes = 0
        if self.ledger is not None:
            self._commit(usage, cost)

    def _commit(self, usage: Usage, cost: Cost) -> None:
        record = SpendRecord(session_id=self.session_id, scope=self.scope, model=cost.model,
                             usd=cost.total_usd, at=datetime.now(UTC),
                             kind="estimate" if usage.estimated else "response",
                             detail={"label": usage.label})
        info = self._info
        if info is not None and cost.model == info.model_id:  # a response: pays its hold
            held, self._reservation = self._reservation, None
        else:
            held = None
        try:
            self.ledger.commit(held, record)  # type: ignore[union-attr]
        except LedgerError as exc:
            self._ledger_error(exc, f"spooling ${record.usd}")
            self._to_spool(record, held)
            return
        if self._unsaved or self.spool.may_have_records():  # type: ignore[union-attr]
            self._flush_spool()  # the ledger answers again

    def _ledger_error(self, exc: LedgerError, doing: str) -> None:
        self._ledger_failed = True
        self.ledger_errors += 1
        log.error("guard %s: LEDGER ERROR (%s, %s): %s", self.session_id,
                  self.on_ledger_error, doing, exc)

    def _to_spool(self, record: SpendRecord, held: Reservation | None,
                  retry: bool = False) -> None:
        try:
            self.spool.append(record, held)  # type: ignore[union-attr]
        except LedgerError as exc:
            self._unsaved.append((record, held))
            if not retry:  # the record itself is logged once, so it can be recovered by hand
                log.critical("guard %s: SPEND NOT SAVED: the ledger and the spool both failed "
                             "(%s); kept in memory, retried at each commit: %s",
                             self.session_id, exc, json.dumps(record_to_json(record)))
        else:
            self.spooled_records += 1

    @property
    def unsaved_usd(self) -> Decimal:
        """Spend that neither the ledger nor the spool could take (both failing): it is only
        in this guard's total, in the log, and in whatever the caller records (the relay's
        spend log); retried at each commit and at `finalize`."""
        return sum((record.usd for record, _ in self._unsaved), Decimal(0))

    def _flush_spool(self) -> None:
        """Commit what the spool (and memory) kept while the ledger was down, a batch at a
        time: a guard on an event loop must not stall every session on a long backlog."""
        unsaved, self._unsaved = self._unsaved, []
        for record, held in unsaved:
            try:
                self.ledger.commit(held, record)  # type: ignore[union-attr]
            except LedgerError:
                self._to_spool(record, held, retry=True)
        try:
            report = self.spool.flush(max_records=_FLUSH_BATCH)  # type: ignore[union-attr]
        except LedgerError as exc:   # the spool itself is unusable (not private, unreadable)
            log.error("guard %s: cannot flush the spool: %s", self.session_id, exc)
            return
        if report.committed:
            log.warning("guard %s: the ledger answers again: committed %d spooled record(s), "
                        "$%s", self.session_id, report.committed, report.committed_usd)
        if report.error is not None:
            log.error("guard %s: %d spooled record(s) ($%s) still wait for the ledger: %s",
                      self.session_id, report.remaining, report.remaining_usd, report.error)

    def period_start(self) -> datetime | None:
        """Start of the scope budget's current period (UTC), or None for all time."""
        return period_start(self.period)

    def _reserve_in_scope(self) -> Decimal:
        """Hold the next response's projected cost in the scope's shared budget, atomically
        (so concurrent sessions cannot all pass a nearly-spent budget)."""
        projected = self.projected_next_usd()
        if self._unsaved or self.spool.may_have_records():  # type: ignore[union-attr]
            self._flush_spool()  # the budget check must count what the outage spooled
        try:
            self._reservation = self.ledger.reserve(  # type: ignore[union-attr]
                self.scope, self.session_id, projected, ttl_seconds=_RESERVATION_TTL,
                limit_usd=self.scope_limit_usd, since=self.period_start())
        except BudgetExceeded as exc:
            self._scope_refused = f"the {self.scope!r} {self.period} budget: {exc}"
        except LedgerError as exc:
            self._ledger_error(exc, "no scope reservation")
        return projected

    def _learn(self, usage: Usage) -> None:
        # One pass over the buckets into nine counters (this runs for every response):
        # input (cached included) text/audio/image, cached text/audio/image, output t/a/i.
        acc = [0, 0, 0, 0, 0, 0, 0, 0, 0]
        for key, n in usage.tokens.items():
            i = _SLOT[key]
            acc[i] += n
            if 3 <= i <= 5:
                acc[i - 3] += n  # cached tokens are input too
        ctx = self._ctx
        total_in = acc[0] + acc[1] + acc[2]
        # Share of the previous input that this response read from cache: the next response
        # will likely read the same share of this one's input.
        if ctx.last_input_total:
            share = (acc[3] + acc[4] + acc[5]) / ctx.last_input_total
            ctx.cache_share = share if share < 1.0 else 1.0
        else:
            ctx.cache_share = 0.0
        ctx.last_input_total = total_in
        # What the next response re-sends (re-billing models): this input plus this reply.
        ctx.base_text, ctx.base_audio, ctx.base_image = acc[0] + acc[6], acc[1] + acc[7], \
            acc[2] + acc[8]
        mo = ctx.max_output
        if acc[6] > mo.get("text", 0):
            mo["text"] = acc[6]
        if acc[7] > mo.get("audio", 0):
            mo["audio"] = acc[7]
        if ctx.user_tokens is not None:
            ctx.max_user_tokens = max(ctx.max_user_tokens, ctx.user_tokens)
            ctx.user_tokens = None

    def _measure_user_turn(self, event: Mapping[str, Any]) -> None:
        # The real speech_stopped carries only audio_end_ms; the start came on speech_started.
        start = event.get("audio_start_ms", self._speech_start_ms)
        end = event.get("audio_end_ms")
        entry = self._entry()
        if entry is None or entry.facts.audio_tokens_per_second_in is None:
            return
        if isinstance(end, int | float) and isinstance(start, int | float) and end >= start:
            seconds = Decimal(str(end - start)) / 1000
            self._ctx.user_tokens = int(seconds * entry.facts.audio_tokens_per_second_in) + 1

    def _estimate_missing_usage(self, exc: UsageError) -> list[Usage]:
        """A response.done without usage: estimate it from the audio it streamed; flag it."""
        if self.model is None:
            raise exc
        projected = self._projected_usage(output_seconds=self._output_seconds())
        log.warning("guard %s: response.done without usage; estimated from %s s of audio",
                    self.session_id, self._output_seconds())
        return [projected.with_(estimated=True, label="estimated response")]

    def _output_seconds(self) -> Decimal:
        return Decimal(self._audio_bytes) / self._audio_bytes_per_s

    # -- projection -------------------------------------------------------------------------
    def _model_info(self) -> _ModelInfo | None:
        """Per-model constants, computed once per model (None until the model is known)."""
        model = self._reader.model if self._reader is not None else self._model_arg
        info = self._info
        if info is not None and info.name == model:
            return info
        if model is None:
            return None
        try:
            model_id = self.catalog.resolve(model)
        except CostModelError as exc:
            if self._bad_model != model:  # say it once, loudly
                self._bad_model = model
                log.error("guard %s: CANNOT METER (%s): %s", self.session_id,
                          self.on_unpriced, exc)
                if self.on_unpriced == "fail_closed":
                    self._unpriced = str(exc)
            return None
        facts = self.catalog.entries[model_id].facts
        rates = rates_for(model_id, None, self.catalog)
        per_token = rates.per_token
        info = self._info = _ModelInfo(
            name=model, model_id=model_id,
            tps_in=facts.audio_tokens_per_second_in or Decimal(10),
            tps_out=facts.audio_tokens_per_second_out or Decimal(20),
            rebills=facts.rebills_context is not False,
            limit=facts.truncation_threshold_tokens,
            cacheable=frozenset(m for m in ("text", "audio", "image")
                                if f"{m}.cached" in per_token),
            time_billed=facts.bills_tokens is False, rates=rates,
            speech_in="audio.input" in per_token, speech_out="audio.output" in per_token)
        return info

    def _projected_usage(self, output_seconds: Decimal | None = None) -> Usage:
        """The next response as a `Usage`: last input + last output + new user audio."""
        info = self._model_info()
        assert info is not None
        return Usage._unchecked(info.model_id, self._projected_tokens(output_seconds),
                                "projected")

    def _projected_tokens(self, output_seconds: Decimal | None = None,
                          info: _ModelInfo | None = None) -> dict[str, int]:
        info = info or self._model_info()
        assert info is not None
        ctx = self._ctx
        user = ctx.user_tokens
        if user is None:
            user = max(ctx.max_user_tokens, int(_DEFAULT_USER_SECONDS * info.tps_in))
        if output_seconds is not None:
            out = {"audio": int(output_seconds * info.tps_out),
                   "text": ctx.max_output.get("text", 0)}
        elif ctx.max_output:
            out = ctx.max_output
        elif info.speech_out:
            out = {"audio": int(_DEFAULT_AGENT_SECONDS * info.tps_out), "text": _DEFAULT_TEXT_OUT}
        else:
            out = {"text": _DEFAULT_TEXT_OUT}  # a text LLM (the LLM of a chained pipeline)
        # Input: what the context re-sends (re-billing models), plus the new user turn: audio
        # for a speech model, its transcript for a text LLM.
        user_audio, user_text = (user, 0) if info.speech_in else (0, user)
        if info.rebills:
            text, audio, image = (ctx.base_text + user_text, ctx.base_audio + user_audio,
                                  ctx.base_image)
            total = text + audio + image
        else:
            text, audio, image = user_text, user_audio, 0
            total = user
        truncated = info.limit is not None and total > info.limit
        if truncated:
            audio = max(0, audio - (total - info.limit))  # the server drops the oldest audio
        # The cached prefix: the share seen last time, of the context as it was, text first
        # (the instructions lead the context). Truncation busts the cache past the start.
        cacheable = info.cacheable
        left = int(ctx.cache_share * ctx.last_input_total) if cacheable else 0
        if truncated:
            left = min(left, text)
        tokens: dict[str, int] = {}
        for m, n in (("text", text), ("audio", audio), ("image", image)):
            if not n:
                continue
            cached = (n if left > n else left) if m in cacheable else 0
            left -= cached
            if n - cached:
                tokens[_IN_KEY[m]] = n - cached
            if cached:
                tokens[_CACHED_KEY[m]] = cached
        for m, n in out.items():
            if n:
                tokens[_OUT_KEY[m]] = n
        return tokens

    def projected_next_usd(self) -> Decimal:
        """What the next response is expected to cost (0 before the model is known)."""
        info = self._model_info()
        if info is None:
            return Decimal(0)
        if info.time_billed:
            elapsed = Decimal(str(self.clock() - self._started))
            model_id = info.model_id
            now = price(Usage(model_id, connection_seconds=elapsed), self.catalog).total_usd
            later = price(Usage(model_id, connection_seconds=elapsed + _LOOKAHEAD_SECONDS),
                          self.catalog).total_usd
            self._time_spent = now
            return later - now
        try:
            # The token part of `price` on the compiled rates: no Usage or Cost to build,
            # since a projection is never billed.
            cost = token_cost(self._projected_tokens(info=info), info.rates)
            if not info.rebills and self._max_response_usd > cost:
                cost = self._max_response_usd  # usage events split a turn: bound by the largest
            return cost + self._transcription_usd if self._transcription_usd else cost
        except KeyError as exc:
            log.warning("guard %s: cannot project the next response: no rate for %s",
                        self.session_id, exc)
            return Decimal(0)
        except CostModelError as exc:
            log.warning("guard %s: cannot project the next response: %s", self.session_id, exc)
            return Decimal(0)

    # -- decisions --------------------------------------------------------------------------
    def _decide(self, project: bool, projected: Decimal | None = None) -> Decision:
        if projected is None:  # (a caller that already projected passes it in)
            projected = self.projected_next_usd() if project else self._last.projected_next_usd
        spent = self._token_spent + self._time_spent if self._time_spent else self._token_spent
        limit = self.limit_usd
        # Responses already requested but not done will cost about a projection each.
        pending = self._in_flight + self._requested
        after_next = spent + projected * (pending + 1) if pending else spent + projected
        if self._ledger_failed and self.on_ledger_error == "fail_closed":
            action, reason = "cut", "the spend ledger failed and the policy is fail-closed"
        elif self._unpriced is not None:
            action, reason = "cut", f"cannot meter this session: {self._unpriced}"
        elif self._scope_refused is not None:
            action, reason = "cut", f"the next response would pass {self._scope_refused}"
        elif after_next > limit:
            action = "cut"
            reason = (f"spent ${spent:.6f}; the next response (~${projected:.6f}) would pass "
                      f"the ${limit} limit"
                      + (f" with {pending} response(s) in flight" if pending else ""))
        elif after_next + projected > limit:
            action, reason = "wrap_up", "room for about one more response: time to close"
        elif spent >= self._warn_usd:
            action, reason = "warn", self._warn_reason
        else:
            action, reason = "ok", ""
        # Decisions only escalate: once cut, a session stays cut.
        if _RANK[action] < _RANK[self._last.action]:
            action, reason = self._last.action, self._last.reason
        decision = Decision(action, spent, projected, limit, self.responses, reason,
                            self.estimated, pending)
        changed = decision.action != self._last.action
        self._last = decision
        if changed:
            self.history.append(decision)
            for cb in self.callbacks:
                cb(decision)
        return decision

    @property
    def last(self) -> Decision:
        return self._last

