"""One relayed session: a client connection, its upstream connection and its guard."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ...errors import CostModelError, UsageError
from ..actions import END_CLOSES
from ..policy import Decision
from ..session import SessionGuard, Source
from ..spendlog import decision_json, now_iso, session_record
from .frames import RefusedFrame
from .steps import SessionSteps
from .upstream import close_code

if TYPE_CHECKING:
    from .server import Relay

log = logging.getLogger("costmodel.relay")

_TICK_SECONDS = 1.0     # how often a time-billed session is re-checked
_DRAIN_SECONDS = 3.0    # how long to wait for cancelled responses' final usage
CLOSE_CODE_IDLE = 4008  # private-use code (4000-4999): closed for sending nothing
CLOSE_REASON_IDLE = "idle timeout"


class Session:
    """One client connection, its upstream connection and its guard (made by `Relay` for
    each admitted client; `run` it, then `shutdown`, then read its spend-log `record`)."""

    def __init__(self, relay: Relay, client: ServerConnection, up: ClientConnection, *,
                 scope: str = "default", limit_usd: Decimal | None = None) -> None:
        self.relay, self.client, self.up = relay, client, up
        self.id = uuid.uuid4().hex
        self.path = client.request.path.split("?")[0] if client.request else ""
        self.scope = scope
        self.started_at = now_iso()
        self.decisions: list[dict] = []
        self.metrics = relay.metrics
        self.protocol = relay.protocol
        limit = limit_usd if limit_usd is not None else relay.limit_usd
        if limit is None:
            raise UsageError("a session needs a limit: the relay has none (each token sets "
                             "one), so pass the token's limit_usd")
        self.guard = SessionGuard(limit,
                                  model=relay.model, warn_at=relay.warn_at,
                                  catalog=relay.catalog, ledger=relay.ledger, session_id=self.id,
                                  scope=scope,
                                  on_ledger_error=relay.on_ledger_error,
                                  spool=relay.spool, callbacks=[self._on_decision],
                                  fmt=self.protocol.name)
        # What the metrics have seen of the guard's counters (compared after parsed frames).
        self._costs_seen = 0
        self._ledger_errors_seen = 0
        self._spooled_seen = 0
        self._ignored_seen = 0
        self.frames = 0             # frames either way, for the idle timeout
        self.client_frames = 0      # client frames, for the hold timer (audio streaming)
        self._refused: set[str] = set()  # reasons client frames were refused for (logged once)
        self.end: str | None = None
        self.upstream_session_id: str | None = None
        self.wrap_pending = False
        self.wrap_sent = False
        self.wrap_event_id: str | None = None
        # The ladder and the hang-up timers, when the relay has any (else None: no cost).
        self.steps = SessionSteps(self, relay.ladder, relay.hangup) \
            if relay.ladder is not None or relay.hangup is not None else None

    def _on_decision(self, d: Decision) -> None:
        self.metrics.decisions.labels(d.action).inc()
        self.decisions.append(decision_json(d, now_iso()))

    async def run(self) -> None:
        pumps = [asyncio.create_task(self._client_to_upstream()),
                 asyncio.create_task(self._upstream_to_client()),
                 asyncio.create_task(self._tick())]
        idle = self.relay.limits.idle_timeout
        if idle:
            pumps.append(asyncio.create_task(self._watch_idle(idle)))
        if self.steps is not None and self.steps.quiet is not None:
            pumps.append(asyncio.create_task(self.steps.watch()))
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            results = await asyncio.gather(*pumps, return_exceptions=True)
            try:
                await self._drain()
            finally:
                self.guard.finalize()
                self._publish()
        for res in results:
            if isinstance(res, Exception):
                raise res

    async def _tick(self) -> None:
        """Time-billed sessions cost money in silence too: re-check them every second."""
        while not self.end:
            await asyncio.sleep(_TICK_SECONDS)
            decision = self.guard.tick()
            if decision.action == "cut" and not self.end:
                await self._cut(decision)
                return
            if self.steps is not None:
                await self.steps.after(decision)
                await self.steps.settle()

    async def _watch_idle(self, timeout: float) -> None:
        """Close a session with no frame either way for `timeout` seconds. A frame counter
        checked a few times per timeout keeps the per-frame cost at one increment."""
        step = timeout / 4
        seen, quiet = self.frames, 0.0
        while not self.end:
            await asyncio.sleep(step)
            if self.frames != seen:
                seen, quiet = self.frames, 0.0
                continue
            quiet += step
            if quiet >= timeout and not self.end:
                self.end = "idle"
                log.info("session %s: idle for %.0f s: closing", self.id, quiet)
                with contextlib.suppress(ConnectionClosed):
                    await self.client.close(CLOSE_CODE_IDLE, CLOSE_REASON_IDLE)
                return

    def _publish(self) -> None:
        """Count what the guard did since the last look into the metrics: new priced costs
        (spend by scope and model), ledger errors, spooled records, refused client events."""
        g, m = self.guard, self.metrics
        costs = g.costs
        if len(costs) != self._costs_seen:
            for cost in costs[self._costs_seen:]:
                m.spend.labels(self.scope, cost.model).inc(float(cost.total_usd))
            self._costs_seen = len(costs)
        n = g.ledger_errors
        if n != self._ledger_errors_seen:
            m.ledger_errors.inc(n - self._ledger_errors_seen)
            self._ledger_errors_seen = n
        n = g.spooled_records
        if n != self._spooled_seen:
            m.spooled.inc(n - self._spooled_seen)
            self._spooled_seen = n
        n = g.ignored_client_events
        if n != self._ignored_seen:
            m.rejected_frames.labels("server_event").inc(n - self._ignored_seen)
            self._ignored_seen = n

    async def _drain(self) -> None:
        """Responses still in flight when the session ends (cut, or the client left) are
        billed: cancel them and meter their final response.done, for a few seconds at most."""
        if not self.guard.awaiting or self.up.state is not State.OPEN:
            return
        if self.end != "cut":  # _cut already cancelled
            for ev in self.protocol.cut():
                await self._send_up(json.dumps(ev))
        try:
            async with asyncio.timeout(_DRAIN_SECONDS):
                while self.guard.awaiting:   # (a request just sent is answered first)
                    self._meter(await self.up.recv())
        except (TimeoutError, ConnectionClosed):
            pass  # what is still in flight is estimated by guard.finalize()

    def _meter(self, msg: str | bytes) -> tuple[dict, Decision] | None:
        """Feed an upstream frame to the guard: audio by a cheap stand-in when the protocol
        has one (the hot path), anything else parsed. Returns the event and the decision, or
        None for audio and for frames that are not JSON objects."""
        stand_in = self.protocol.server_audio(msg)
        if stand_in is not None:
            self.guard.observe(stand_in)
            return None
        event = self.protocol.parse_server(msg)
        if event is None:
            return None
        decision = self._observe(event, "server")
        self._publish()
        return event, decision

    def _observe(self, event: dict, source: Source) -> Decision:
        try:
            return self.guard.observe(event, source)
        except CostModelError as exc:  # the guard itself fails closed on unpriced usage
            log.error("session %s: cannot meter %s: %s", self.id, event.get("type"), exc)
            return self.guard.last
        except Exception:  # a bug must not take the session down unmetered: log it loudly
            log.exception("session %s: guard error on a %r event", self.id,
                          str(event.get("type"))[:80])
            return self.guard.last

    async def _client_to_upstream(self) -> None:
        client, up = self.client, self.up
        while True:
            try:
                msg = await client.recv()
            except ConnectionClosed as exc:
                if exc.sent is not None and exc.sent.code == 1009 and not self.end:
                    self.end = "frame_too_big"  # websockets closed it with 1009 already
                    self.metrics.rejected_frames.labels("too_big").inc()
                    log.warning("session %s: closed: a client message over %d bytes",
                                self.id, self.relay.limits.max_frame_bytes)
                self.end = self.end or "client_closed"
                return
            self.frames += 1
            self.client_frames += 1
            if self.end:
                return
            decision = None
            # Audio (the bulk of the traffic) is known without parsing; every other event is
            # parsed, so a client cannot disguise a request as audio.
            if isinstance(msg, str) and not self.protocol.client_audio(msg):
                try:
                    event = self.protocol.parse_client(msg)
                except RefusedFrame as exc:
                    await self._refuse(exc)
                    continue
                decision = self._observe(event, "client")
                self._publish()
                if decision.action == "cut":
                    if not self.protocol.is_request(event):
                        await self._send_up(msg)
                    await self._cut(decision)
                    return
            try:
                await up.send(msg)
            except ConnectionClosed:
                self.end = self.end or "upstream_closed"
                return
            if decision is not None:
                await self._act(decision)

    async def _refuse(self, exc: RefusedFrame) -> None:
        """A client frame not passed on: counted each time, logged once a session (a client
        can send thousands), answered with an error event."""
        self.metrics.rejected_frames.labels(exc.reason).inc()
        if exc.reason not in self._refused:
            self._refused.add(exc.reason)
            log.warning("session %s: refused a client frame (%s): %s; further ones in this "
                        "session are only counted (rejected_client_frames_total)", self.id,
                        exc.reason, exc.message)
        answer = self.protocol.refusal(exc.message)
        if answer is not None:
            await self._send_client(answer)

    async def _upstream_to_client(self) -> None:
        client, up = self.client, self.up
        while True:
            try:
                msg = await up.recv()
            except ConnectionClosed:
                self.end = self.end or "upstream_closed"
                return
            self.frames += 1
            metered = self._meter(msg)
            if self.end:  # ending: still meter what a cancelled response reports
                if not self.guard.awaiting:
                    return
                continue
            if metered is not None:
                event, decision = metered
                self._track(event)
                if decision.action == "cut":
                    await self._cut(decision, forward=msg)
                    return
                # Wrap-up (and the ladder's steps) go upstream before the client can answer.
                await self._act(decision)
                if self.steps is not None:
                    self.steps.server_event(event)
                    await self.steps.after(decision)
            try:
                await client.send(msg)
            except ConnectionClosed:
                self.end = self.end or "client_closed"
                return
            if self.steps is not None and self.steps.end_pending:
                await self.steps.settle()

    def _track(self, event: dict) -> None:
        protocol = self.protocol
        if self.wrap_event_id is not None and \
                protocol.refused_request(event) == self.wrap_event_id:
            self.wrap_sent, self.wrap_pending = False, True  # refused (busy): retry later
        sid = protocol.session_id(event)
        if sid is not None:
            self.upstream_session_id = sid

    async def _act(self, decision: Decision) -> None:
        """Wrap-up: once, when no response is asked for or in flight (else after it)."""
        if decision.action == "wrap_up" and not self.wrap_sent:
            self.wrap_pending = True
        if self.wrap_pending and not self.guard.awaiting and not self.end:
            self.wrap_pending, self.wrap_sent = False, True
            log.info("session %s: wrap-up at $%s", self.id, decision.spent_usd)
            for ev in self.protocol.wrap_up():
                self.wrap_event_id = ev.get("event_id")
                self._observe(ev, "client")   # the goodbye is a response too: it counts
                await self._send_up(json.dumps(ev))

    async def ask_wrap_up(self) -> None:
        """Ask the agent to close the call (once): now, or when no response is in flight."""
        if not self.wrap_sent:
            self.wrap_pending = True
        await self._act(self.guard.last)

    async def send_upstream(self, events: list[dict], observe: bool = False) -> None:
        """Send the relay's own client events upstream (`observe`: the guard hears of them
        as of the client's: a request counts, an edit busts the cache)."""
        for ev in events:
            if observe:
                self._observe(ev, "client")
            await self._send_up(json.dumps(ev))

    async def _send_client(self, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.client.send(text)

    async def _send_up(self, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.up.send(text)

    async def _cut(self, decision: Decision, forward: str | bytes | None = None) -> None:
        """Cancel upstream, tell the client why, close it with 4002."""
        self.end = "cut"
        log.info("session %s: cut at $%s: %s", self.id, decision.spent_usd, decision.reason)
        for ev in self.protocol.cut():
            await self._send_up(json.dumps(ev))
        try:
            if forward is not None:
                await self.client.send(forward)
            farewell = self.protocol.budget_error(decision)
            if farewell is not None:
                await self.client.send(farewell)
            await self.client.close(*END_CLOSES["cut"])
        except ConnectionClosed:
            pass

    async def shutdown(self) -> None:
        """Close whichever side is still open, passing the other side's close code on."""
        client, up = self.client, self.up
        ended = END_CLOSES.get(self.end or "")
        if ended is not None:   # the guard ended it: the budget, the ladder, the timers
            up_code, up_reason = 1000, ended[1]
            cl_code, cl_reason = ended
        elif self.end == "idle":
            up_code, up_reason = 1000, "client idle"
            cl_code, cl_reason = CLOSE_CODE_IDLE, CLOSE_REASON_IDLE
        elif self.end == "frame_too_big":
            up_code, up_reason = 1000, "client message too big"
            cl_code, cl_reason = 1009, "message too big"
        else:
            up_code = close_code(client.close_code, 1001)
            up_reason = client.close_reason or "client went away"
            cl_code = close_code(up.close_code, 1014)
            cl_reason = up.close_reason or "upstream connection lost"
        try:
            async with asyncio.timeout(self.relay.close_timeout + 1):
                await asyncio.gather(client.close(cl_code, cl_reason[:120]),
                                     up.close(up_code, up_reason[:120]),
                                     return_exceptions=True)
        except TimeoutError:
            log.warning("session %s: close timed out", self.id)

    def record(self) -> dict:
        """The session's spend-log line (`costmodel.guard.spendlog`), once it has ended."""
        rec = session_record(self.guard, end=self.end or "error", started_at=self.started_at,
                             upstream_session_id=self.upstream_session_id, path=self.path,
                             decisions=self.decisions)
        if self.steps is not None and self.steps.taken:
            rec["ladder"] = self.steps.taken
        return rec
