"""The relay server: the handshake (upstream first), the sessions, the spend log."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response

from ..errors import InputError
from ..guard import SessionGuard
from .session import Session
from .upstream import forward_headers, upstream_url, websocket_url

log = logging.getLogger("costmodel.relay")

_MAX_SIZE = 16 * 2**20   # OpenAI accepts audio appends up to 15 MiB


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8765``, ``:8765`` = 127.0.0.1) -> (host, port); InputError else."""
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]") or "127.0.0.1", int(port)


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
        self.upstream = websocket_url(upstream)
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
        session = Session(self, client, up)
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
