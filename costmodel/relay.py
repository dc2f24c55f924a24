"""A metering websocket relay: client <-> relay <-> provider, cut before the budget is spent.

Each client connection gets its own upstream connection and its own `SessionGuard`. Frames go
through unchanged (the exact text or bytes). The relay parses JSON only where it must:

* client ``input_audio_buffer.append`` frames (the bulk of the traffic) are recognised from
  the start of their text and forwarded without parsing;
* server audio deltas are fed to the guard as a cheap stand-in ``{"type", "delta"}``;
* every other event is parsed and observed; unknown events pass through untouched.

Only the provider's frames are trusted: client frames reach the guard as
``source="client"``, so they can ask for a response or bust the cache, but a client frame shaped
like a server event (``session.updated`` naming a cheaper model, a forged ``response.done``) is
passed on to the provider, which refuses it, and never metered.

On ``wrap_up`` the relay asks the agent to close politely (once, when no response is in
flight); on ``cut`` it cancels the response upstream, drops a client ``response.create`` that
would cross the cap, sends the client a final ``budget_exceeded`` error event and closes it
with code 4002 ("budget exceeded"). Every finished session appends one JSON line to the spend
log, however it ended.

**Upstream URL.** The client's request path and query are joined onto ``upstream``: the path
is appended to the upstream's own path (``wss://host/prefix`` + ``/v1/realtime`` ->
``wss://host/prefix/v1/realtime``; a bare ``/`` from the client keeps the upstream path as is)
and the upstream's query, if any, comes before the client's:

>>> upstream_url("wss://api.openai.com", "/v1/realtime?model=gpt-realtime")
'wss://api.openai.com/v1/realtime?model=gpt-realtime'
>>> upstream_url("wss://gw.example/openai?region=eu", "/v1/realtime?model=m")
'wss://gw.example/openai/v1/realtime?region=eu&model=m'
>>> upstream_url("wss://api.openai.com/v1/realtime", "/?model=m")
'wss://api.openai.com/v1/realtime?model=m'

**Headers.** Every end-to-end request header (``Authorization``, ``api-key``, ``OpenAI-Beta``,
``OpenAI-Organization``, ``X-*``, ``Origin``, ``User-Agent``, cookies...) is passed upstream;
hop-by-hop and handshake headers are not (the relay negotiates its own). The client's
subprotocols are offered upstream as they are (browsers authenticate with
``openai-insecure-api-key.<key>``) and the one the upstream selects is returned to the client.
The upstream is connected during the client's handshake, so an upstream refusal (401, 404...)
reaches the client as the same HTTP status; an unreachable upstream is a 502.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import EXTERNAL_CLOSE_CODES
from websockets.http11 import Request, Response
from websockets.protocol import State

from .errors import CostModelError, InputError
from .guard import Decision, SessionGuard, Source
from .guard_actions import (
    CLOSE_CODE_BUDGET,
    CLOSE_REASON_BUDGET,
    client_budget_error,
    openai_cut_events,
    openai_wrap_up_events,
)

log = logging.getLogger("costmodel.relay")

# Not forwarded: hop-by-hop headers and the ones the relay's own handshake sets.
_HOP_HEADERS = frozenset(h.lower() for h in (
    "Host", "Connection", "Upgrade", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
    "Proxy-Authenticate", "TE", "Trailer", "Transfer-Encoding", "Content-Length",
    "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol", "Sec-WebSocket-Accept"))
_CLIENT_AUDIO = frozenset({"input_audio_buffer.append"})
_SERVER_AUDIO = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TYPE_RE = re.compile(r'"type"\s*:\s*"([^"\\]{1,80})"')
_TICK_SECONDS = 1.0     # how often a time-billed session is re-checked
_DRAIN_SECONDS = 3.0    # how long to wait for cancelled responses' final usage
_MAX_SIZE = 16 * 2**20   # OpenAI accepts audio appends up to 15 MiB


class _DuplicateType(ValueError):
    pass


def _no_duplicate_type(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if keys.count("type") > 1:
        raise _DuplicateType
    return dict(pairs)


def _client_error(code: str, message: str) -> dict:
    return {"type": "error", "event_id": f"relay_{uuid.uuid4().hex[:12]}",
            "error": {"type": "invalid_request_error", "code": code, "message": message,
                      "param": None}}


def fast_type(text: str) -> str | None:
    """The event type of a JSON text when it can be read safely without parsing, else None.

    Only a top-level ``"type"`` within the first 256 characters counts: no ``{`` or ``[`` may
    come before it and ``"type"`` must occur once, so a nested or duplicated key can never
    disguise an event (those texts take the slow path: a full parse).

    >>> fast_type('{"type":"input_audio_buffer.append","audio":"AAAA"}')
    'input_audio_buffer.append'
    >>> fast_type('{"item":{"type":"message"},"type":"response.create"}') is None
    True
    """
    m = _TYPE_RE.search(text, 0, 256)
    if m is None or text.find("{", 1, m.start()) != -1 or text.find("[", 0, m.start()) != -1:
        return None
    return m.group(1) if text.count('"type"') == 1 else None


def upstream_url(base: str, request_path: str) -> str:
    """Join the client's request path and query onto the upstream URL (see the module doc)."""
    b, r = urlsplit(base), urlsplit(request_path)
    path = b.path.rstrip("/") + r.path if r.path not in ("", "/") else (b.path or "/")
    query = "&".join(q for q in (b.query, r.query) if q)
    return urlunsplit((b.scheme, b.netloc, path or "/", query, ""))


def forward_headers(headers: Headers) -> list[tuple[str, str]]:
    """The client's end-to-end request headers, in order (hop-by-hop ones dropped)."""
    listed = {t.strip().lower() for v in headers.get_all("Connection") for t in v.split(",")}
    return [(k, v) for k, v in headers.raw_items()
            if k.lower() not in _HOP_HEADERS and k.lower() not in listed]


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8765``, ``:8765`` = 127.0.0.1) -> (host, port); InputError else."""
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]") or "127.0.0.1", int(port)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _close_code(code: int | None, abnormal: int) -> int:
    """A close code that may be sent on: the peer's own, else `abnormal`."""
    return code if code is not None and (code in EXTERNAL_CLOSE_CODES
                                         or 3000 <= code < 5000) else abnormal


class Relay:
    """Configuration and live state of a metering relay; `start` it, then `close` it.

    `on_session_end` is called with each finished session's spend-log record (a dict).
    `compression`: negotiate permessage-deflate (on each leg, only when the client offers it);
    off by default: base64 audio barely compresses, and deflating every frame on both legs
    adds latency and CPU (p99 +3 to +6 ms with 50 sessions on 2 cores: bench/bench_relay.py).
    `ledger` is shared by every session's guard; `on_ledger_error` is the guard's policy.
    """

    def __init__(self, upstream: str, limit_usd: Decimal | str | float, *,
                 warn_at: float | str = "0.8", spend_log: Path | str | None = None,
                 ledger: Any = None, model: str | None = None,
                 on_ledger_error: str = "fail_open",
                 on_session_end: Callable[[dict], None] | None = None,
                 open_timeout: float = 10, close_timeout: float = 5,
                 compression: bool = False, proxy: Any = True) -> None:
        scheme = urlsplit(upstream).scheme
        if scheme in ("http", "https"):
            upstream = upstream.replace(scheme, "ws" if scheme == "http" else "wss", 1)
        elif scheme not in ("ws", "wss"):
            raise InputError(f"--upstream {upstream!r}: expected a ws:// or wss:// URL")
        self.upstream = upstream
        # Fail fast on a bad limit, warn_at or model; the catalog is then shared by sessions.
        try:
            probe = SessionGuard(limit_usd, model=model, warn_at=warn_at)
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            raise InputError(f"not a number: limit {limit_usd!r} / warn_at {warn_at!r}") from None
        self.catalog, self.limit_usd, self.warn_at = probe.catalog, probe.limit_usd, warn_at
        self.model, self.ledger, self.on_ledger_error = model, ledger, on_ledger_error
        self.spend_log = Path(spend_log) if spend_log is not None else None
        self.on_session_end = on_session_end
        self.open_timeout, self.close_timeout, self.proxy = open_timeout, close_timeout, proxy
        self.compression = compression
        self.sessions_started = 0
        self.sessions_done = 0
        self._server: Server | None = None
        self._pending: dict[ServerConnection, ClientConnection] = {}
        self._reapers: set[asyncio.Task] = set()

    # -- server lifecycle ---------------------------------------------------------------
    async def start(self, listen: str) -> tuple[str, int]:
        """Listen on ``host:port`` (port 0 picks one); returns the bound (host, port)."""
        host, port = parse_listen(listen)
        self._server = await ws_serve(
            self._handle, host, port, process_request=self._connect_upstream,
            select_subprotocol=self._select_subprotocol, max_size=_MAX_SIZE,
            compression="deflate" if self.compression else None,
            open_timeout=self.open_timeout + 5, close_timeout=self.close_timeout,
            server_header=None)
        sock = next(iter(self._server.sockets))
        return sock.getsockname()[0], sock.getsockname()[1]

    async def close(self) -> None:
        """Stop listening, close every session (each writes its spend-log line) and wait."""
        if self._server is not None:
            self._server.close()  # closes client connections with 1001 "going away"
            await self._server.wait_closed()
        for task in self._reapers:
            task.cancel()
        for up in list(self._pending.values()):
            await up.close()
        self._pending.clear()

    # -- handshake: connect upstream first ------------------------------------------------
    async def _connect_upstream(self, conn: ServerConnection, request: Request) -> Response | None:
        url = upstream_url(self.upstream, request.path)
        h = request.headers
        offered = [p.strip() for v in h.get_all("Sec-WebSocket-Protocol") for p in v.split(",")
                   if p.strip()]
        deflate = self.compression and "permessage-deflate" in h.get("Sec-WebSocket-Extensions",
                                                                     "")
        # `proxy` (websockets >= 15) only when set: the default uses the system's proxy.
        extra = {} if self.proxy is True else {"proxy": self.proxy}
        try:
            up = await connect(url, additional_headers=forward_headers(h),
                               user_agent_header=None, subprotocols=offered or None,
                               compression="deflate" if deflate else None,
                               max_size=_MAX_SIZE, open_timeout=self.open_timeout,
                               close_timeout=self.close_timeout, **extra)
        except InvalidStatus as exc:  # the upstream refused: the client gets the same status
            res = exc.response
            log.warning("upstream refused %s: HTTP %s", url.split("?")[0], res.status_code)
            body = res.body.decode("utf-8", "replace") if res.body else f"{res.reason_phrase}\n"
            try:
                return conn.respond(res.status_code, body)
            except ValueError:  # a status code http.HTTPStatus does not know
                return conn.respond(502, f"upstream answered HTTP {res.status_code}\n{body}")
        except Exception as exc:  # noqa: BLE001 - unreachable, TLS, timeout, bad handshake
            log.warning("cannot connect upstream %s: %s", url.split("?")[0], exc or type(exc))
            return conn.respond(502, f"costmodel relay: cannot connect upstream: {exc}\n")
        self._pending[conn] = up
        reaper = asyncio.create_task(self._reap(conn))
        self._reapers.add(reaper)
        reaper.add_done_callback(self._reapers.discard)
        return None

    def _select_subprotocol(self, conn: ServerConnection, offered: Any) -> Any:
        up = self._pending.get(conn)
        chosen = up.subprotocol if up is not None else None
        return chosen if chosen in offered else None

    async def _reap(self, conn: ServerConnection) -> None:
        """Close an upstream whose client never completed its handshake."""
        await asyncio.sleep(self.open_timeout + 6)
        up = self._pending.pop(conn, None)
        if up is not None:
            await up.close()

    # -- sessions -------------------------------------------------------------------------
    async def _handle(self, client: ServerConnection) -> None:
        up = self._pending.pop(client, None)
        if up is None:
            await client.close(1011, "upstream not connected")
            return
        self.sessions_started += 1
        session = _Session(self, client, up)
        try:
            await session.run()
        except Exception:  # a bug: keep serving, keep the spend
            session.end = session.end or "error"
            log.warning("session %s: relay error", session.id, exc_info=True)
        finally:
            await session.shutdown()
            record = session.record()
            self._write_log(record)
            self.sessions_done += 1
            log.info("session %s ended (%s): $%s in %d responses", session.id, record["end"],
                     record["spent_usd"], record["responses"])
            if self.on_session_end is not None:
                try:
                    self.on_session_end(record)
                except Exception:
                    log.warning("on_session_end callback failed", exc_info=True)

    def _write_log(self, record: dict) -> None:
        if self.spend_log is None:
            return
        line = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            with open(self.spend_log, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.error("SPEND LOG ERROR: cannot append to %s: %s; record: %s",
                      self.spend_log, exc, line.strip())


class _Session:
    """One client connection, its upstream connection and its guard."""

    def __init__(self, relay: Relay, client: ServerConnection, up: ClientConnection) -> None:
        self.relay, self.client, self.up = relay, client, up
        self.id = uuid.uuid4().hex
        self.path = client.request.path.split("?")[0] if client.request else ""
        self.started_at = _now()
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
                               "reason": d.reason, "at": _now()})

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
        if t in _SERVER_AUDIO:
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
                    event = json.loads(msg, object_pairs_hook=_no_duplicate_type)
                except _DuplicateType:
                    log.warning("session %s: refused a client frame with two 'type' keys",
                                self.id)
                    await self._send_client(json.dumps(_client_error(
                        "invalid_event", "an event may have only one 'type' key")))
                    continue
                except (ValueError, RecursionError):
                    event = None  # not JSON: the upstream will say so
                kind = event.get("type") if isinstance(event, dict) else None
                if isinstance(event, dict) and not (isinstance(kind, str)
                                                    and kind in _CLIENT_AUDIO):
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
            up_code = _close_code(client.close_code, 1001)
            up_reason = client.close_reason or "client went away"
            cl_code = _close_code(up.close_code, 1014)
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
                "started_at": self.started_at, "ended_at": _now(), "end": self.end or "error"}


async def serve(listen: str, upstream: str, limit_usd: Decimal | str | float, *,
                warn_at: float | str = "0.8", spend_log: Path | None = None,
                ledger: Any = None, model: str | None = None,
                stop: asyncio.Event | None = None,
                on_session_end: Callable[[dict], None] | None = None,
                on_ready: Callable[[str, int], None] | None = None,
                on_ledger_error: str = "fail_open") -> None:
    """Run a relay on `listen` until `stop` is set (or the task is cancelled).

    `on_ready(host, port)` is called once listening; `on_session_end(record)` per session.
    """
    relay = Relay(upstream, limit_usd, warn_at=warn_at, spend_log=spend_log, ledger=ledger,
                  model=model, on_session_end=on_session_end, on_ledger_error=on_ledger_error)
    host, port = await relay.start(listen)
    log.info("relay listening on %s:%s -> %s", host, port, relay.upstream)
    if on_ready is not None:
        on_ready(host, port)
    try:
        await (stop.wait() if stop is not None else asyncio.get_running_loop().create_future())
    finally:
        await relay.close()
