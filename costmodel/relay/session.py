"""One relayed session: a client connection, its upstream connection and its guard."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ..errors import CostModelError
from ..guard import Decision, SessionGuard, Source
from ..guard_actions import (
    CLOSE_CODE_BUDGET,
    CLOSE_REASON_BUDGET,
    client_budget_error,
    openai_cut_events,
    openai_wrap_up_events,
)
from .frames import (
    CLIENT_AUDIO,
    SERVER_AUDIO,
    DuplicateTypeKey,
    client_error,
    fast_type,
    parse_client_frame,
)
from .upstream import close_code

if TYPE_CHECKING:
    from .server import Relay

log = logging.getLogger("costmodel.relay")

_TICK_SECONDS = 1.0     # how often a time-billed session is re-checked
_DRAIN_SECONDS = 3.0    # how long to wait for cancelled responses' final usage


def now_iso() -> str:
    """The current UTC time, ISO 8601, as the spend log writes it."""
    return datetime.now(UTC).isoformat()


class Session:
    """One client connection, its upstream connection and its guard."""

    def __init__(self, relay: Relay, client: ServerConnection, up: ClientConnection) -> None:
        self.relay, self.client, self.up = relay, client, up
        self.id = uuid.uuid4().hex
        self.path = client.request.path.split("?")[0] if client.request else ""
        self.started_at = now_iso()
        self.decisions: list[dict] = []
        self.guard = SessionGuard(relay.limit_usd, model=relay.model, warn_at=relay.warn_at,
                                  catalog=relay.catalog, ledger=relay.ledger, session_id=self.id,
                                  on_ledger_error=relay.on_ledger_error,  # type: ignore[arg-type]
                                  callbacks=[self._on_decision])
        self.end: str | None = None
        self.upstream_session_id: str | None = None
        self.in_flight = False      # a response is being generated upstream
        self.wrap_pending = False
        self.wrap_sent = False
        self.wrap_event_id: str | None = None

    def _on_decision(self, d: Decision) -> None:
        self.decisions.append({"action": d.action, "spent_usd": str(d.spent_usd),
                               "projected_next_usd": str(d.projected_next_usd),
                               "pending_responses": d.pending,
                               "reason": d.reason, "at": now_iso()})

    async def run(self) -> None:
        pumps = [asyncio.create_task(self._client_to_upstream()),
                 asyncio.create_task(self._upstream_to_client()),
                 asyncio.create_task(self._tick())]
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

    async def _drain(self) -> None:
        """Responses still in flight when the session ends (cut, or the client left) are
        billed: cancel them and meter their final response.done, for a few seconds at most."""
        if not self.guard.in_flight or self.up.state is not State.OPEN:
            return
        if self.end != "cut":  # _cut already cancelled
            for ev in openai_cut_events():
                await self._send_up(json.dumps(ev))
        try:
            async with asyncio.timeout(_DRAIN_SECONDS):
                while self.guard.in_flight:
                    self._meter(await self.up.recv())
        except (TimeoutError, ConnectionClosed):
            pass  # what is still in flight is estimated by guard.finalize()

    def _meter(self, msg: str | bytes) -> tuple[dict | None, Decision | None]:
        """Feed an upstream frame to the guard: an audio delta by its length only (the hot
        path, never parsed), anything else parsed. Returns the event and the decision, or
        (None, None) for audio, binary and unparseable frames."""
        if not isinstance(msg, str):
            return None, None
        t = fast_type(msg)
        if t in SERVER_AUDIO:
            i = msg.rfind('"delta"')
            self.guard.observe({"type": t, "delta": msg[i + 7:] if i >= 0 else ""})
            return None, None
        try:
            event = json.loads(msg)
        except (ValueError, RecursionError):
            return None, None
        if not isinstance(event, dict):
            return None, None
        return event, self._observe(event, "server")

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
            except ConnectionClosed:
                self.end = self.end or "client_closed"
                return
            if self.end:
                return
            decision = None
            if isinstance(msg, str):
                # Every client frame is parsed (they are small): a client must not be able to
                # disguise a response.create as an audio append. A frame with the "type" key
                # twice is refused outright, since parsers disagree on which one wins.
                try:
                    event = parse_client_frame(msg)
                except DuplicateTypeKey:
                    log.warning("session %s: refused a client frame with two 'type' keys",
                                self.id)
                    await self._send_client(json.dumps(client_error(
                        "invalid_event", "an event may have only one 'type' key")))
                    continue
                except (ValueError, RecursionError):
                    event = None  # not JSON: the upstream will say so
                kind = event.get("type") if isinstance(event, dict) else None
                if isinstance(event, dict) and not (isinstance(kind, str)
                                                    and kind in CLIENT_AUDIO):
                    decision = self._observe(event, "client")
                    if decision.action == "cut":
                        if event.get("type") != "response.create":
                            await self._send_up(msg)
                        await self._cut(decision)
                        return
                    if event.get("type") == "response.create":
                        self.in_flight = True
            try:
                await up.send(msg)
            except ConnectionClosed:
                self.end = self.end or "upstream_closed"
                return
            if decision is not None:
                await self._act(decision)

    async def _upstream_to_client(self) -> None:
        client, up = self.client, self.up
        while True:
            try:
                msg = await up.recv()
            except ConnectionClosed:
                self.end = self.end or "upstream_closed"
                return
            event, decision = self._meter(msg)
            if self.end:  # ending: still meter what a cancelled response reports
                if not self.guard.in_flight:
                    return
                continue
            if event is not None:
                self._track(event)
                if decision.action == "cut":
                    await self._cut(decision, forward=msg)
                    return
                # Wrap-up goes upstream before the client can answer this event.
                await self._act(decision)
            try:
                await client.send(msg)
            except ConnectionClosed:
                self.end = self.end or "client_closed"
                return

    def _track(self, event: dict) -> None:
        t = event.get("type")
        if t == "response.created":
            self.in_flight = True
        elif t == "response.done":
            self.in_flight = False
        elif t == "error":  # (a refused response.create leaves in_flight to response.done)
            err = event.get("error")
            if isinstance(err, dict) and err.get("event_id") == self.wrap_event_id:
                self.wrap_sent, self.wrap_pending = False, True  # refused (busy): retry later
        elif t == "session.created" and isinstance(event.get("session"), dict):
            sid = event["session"].get("id")
            self.upstream_session_id = sid if isinstance(sid, str) else None

    async def _act(self, decision: Decision) -> None:
        """Wrap-up: once, when no response is in flight (else after it is done)."""
        if decision.action == "wrap_up" and not self.wrap_sent:
            self.wrap_pending = True
        if self.wrap_pending and not self.in_flight and not self.end:
            self.wrap_pending, self.wrap_sent, self.in_flight = False, True, True
            log.info("session %s: wrap-up at $%s", self.id, decision.spent_usd)
            for ev in openai_wrap_up_events():
                self.wrap_event_id = ev.get("event_id")
                await self._send_up(json.dumps(ev))

    async def _send_client(self, text: str) -> None:
        try:
            await self.client.send(text)
        except ConnectionClosed:
            pass

    async def _send_up(self, text: str) -> None:
        try:
            await self.up.send(text)
        except ConnectionClosed:
            pass

    async def _cut(self, decision: Decision, forward: str | None = None) -> None:
        """Cancel upstream, tell the client why, close it with 4002."""
        self.end = "cut"
        log.info("session %s: cut at $%s: %s", self.id, decision.spent_usd, decision.reason)
        for ev in openai_cut_events():
            await self._send_up(json.dumps(ev))
        try:
            if forward is not None:
                await self.client.send(forward)
            await self.client.send(json.dumps(client_budget_error(decision)))
            await self.client.close(CLOSE_CODE_BUDGET, CLOSE_REASON_BUDGET)
        except ConnectionClosed:
            pass

    async def shutdown(self) -> None:
        """Close whichever side is still open, passing the other side's close code on."""
        client, up = self.client, self.up
        if self.end == "cut":
            up_code, up_reason = 1000, CLOSE_REASON_BUDGET
            cl_code, cl_reason = CLOSE_CODE_BUDGET, CLOSE_REASON_BUDGET
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
        g, model = self.guard, self.guard.model
        try:  # the catalog id, as in the ledger's records
            model = self.relay.catalog.resolve(model) if model else None
        except CostModelError:
            pass
        return {"session_id": self.id, "upstream_session_id": self.upstream_session_id,
                "path": self.path, "model": model, "limit_usd": str(g.limit_usd),
                "spent_usd": str(g.spent_usd), "responses": g.responses,
                "estimated": g.estimated, "decisions": self.decisions,
                "started_at": self.started_at, "ended_at": now_iso(), "end": self.end or "error"}
