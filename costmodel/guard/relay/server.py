"""The relay server: the handshake (who may connect, is there room, upstream first), the
sessions, the spend log."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ...errors import InputError
from ...ledger import Spool
from ..idle import Hangup
from ..ladder import Ladder
from ..session import SessionGuard
from ..spendlog import append_record
from .auth import TOKEN_SUBPROTOCOL, Grant, TokenTable
from .limits import ConnectionGate, Limits, session_limit
from .metrics import RelayMetrics
from .protocols import protocol_for
from .ratelog import AcceptErrorHandler, RateLimitedLog
from .session import Session
from .upstream import (
    Redactor,
    forward_headers,
    mask_url,
    path_problem,
    upstream_url,
    url_secrets,
    websocket_url,
)

log = logging.getLogger("costmodel.relay")

_UPSTREAM_MAX_SIZE = 16 * 2**20   # the provider is trusted; OpenAI's own limit is 15 MiB
# Client credentials for the provider, dropped when the relay brings its own.
_PROVIDER_AUTH_HEADERS = ("Authorization", "api-key", "x-goog-api-key")
_PROVIDER_KEY_SUBPROTOCOL = "openai-insecure-api-key."


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8765``, ``:8765`` = 127.0.0.1) -> (host, port); InputError else."""
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (``localhost``, 127.0.0.0/8, ``::1``).

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("::")
    (True, False, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


@dataclass
class _Admission:
    """A handshake that passed auth and capacity: its grant and, once connected, upstream."""

    grant: Grant
    subprotocol: str | None = None   # the token subprotocol the client authenticated with
    up: ClientConnection | None = None
    running: bool = False            # a session owns `up`; it frees the place when done


class Relay:
    """Configuration and live state of a metering relay; `start` it, then `close` it.

    >>> relay = Relay("wss://api.openai.com", "0.50", max_sessions=100, idle_timeout=60)
    >>> relay.limits.max_sessions, relay.upstream_display
    (100, 'wss://api.openai.com')

    Then ``await relay.start("127.0.0.1:8765")`` ... ``await relay.close()``.

    Args:
        upstream: the provider's websocket URL (``https://`` is taken as ``wss://``).
            Credentials in it (userinfo, ``key=``/``token=``... query values) are masked in
            everything the relay prints.
        limit_usd: the per-session limit; None when `auth` is given (each token has its own).
        auth: a `TokenTable`: clients must present one of its tokens (``Authorization:
            Bearer`` or the ``costmodel-token.<token>`` subprotocol), which picks the session's
            scope and limit; others get HTTP 401. The token is never sent upstream.
        upstream_auth: the credential the relay sends upstream in `upstream_auth_header`
            (``Authorization: Bearer sk-...``; Gemini API keys go in ``x-goog-api-key``).
            Clients then need no provider key: theirs (``Authorization``, ``api-key``,
            ``x-goog-api-key``, the ``openai-insecure-api-key.`` subprotocol) are dropped.
        protocol: the provider's wire protocol, ``openai-realtime`` or ``gemini-live``
            (default ``auto``: Gemini Live when the upstream URL is a ``BidiGenerateContent``
            endpoint); see `costmodel.guard.relay.protocols`.
        max_sessions, idle_timeout, handshake_timeout, max_frame_bytes, max_connections:
            see `Limits` (defaults derived from the fd limit, 120 s, 5 s, 4 MiB).
        metrics: a `RelayMetrics` to count into (a new one, in its own registry, by default).
        spool: where spend goes that the ledger could not take (a `Spool` or a directory;
            default ``$COSTMODEL_SPOOL_DIR``, else the user cache directory), shared by every
            session's guard; committed when the ledger answers again or by
            ``costmodel ledger flush``.
        on_session_end: called with each finished session's spend-log record (a dict).
        compression: negotiate permessage-deflate (on each leg, only when the client offers
            it); off by default: base64 audio barely compresses, and deflating every frame on
            both legs adds latency and CPU (p99 +3 to +6 ms with 50 sessions on 2 cores).
        ledger, on_ledger_error: shared by every session's guard; the guard's policy.
        ladder: steps between warn and cut (`costmodel.guard.ladder.Ladder`; default none).
        hangup: silence, hold and maximum-length timers (`costmodel.guard.idle.Hangup`).
    """

    def __init__(self, upstream: str, limit_usd: Decimal | str | float | None = None, *,
                 warn_at: Decimal | str | float = "0.8", spend_log: Path | str | None = None,
                 ledger: Any = None, model: str | None = None,
                 on_ledger_error: Literal["fail_open", "fail_closed"] = "fail_open",
                 on_session_end: Callable[[dict], None] | None = None,
                 open_timeout: float = 10, close_timeout: float = 5,
                 compression: bool = False, proxy: Any = True,
                 auth: TokenTable | None = None, upstream_auth: str | None = None,
                 max_sessions: int | None = None,
                 idle_timeout: float | None = Limits.idle_timeout,
                 handshake_timeout: float = Limits.handshake_timeout,
                 max_frame_bytes: int = Limits.max_frame_bytes,
                 max_connections: int | None = None,
                 metrics: RelayMetrics | None = None, spool: Any = None,
                 protocol: str = "auto", upstream_auth_header: str = "Authorization",
                 ladder: Ladder | None = None, hangup: Hangup | None = None) -> None:
        secrets = [*url_secrets(upstream), *_auth_secrets(upstream_auth)]
        self.redactor = Redactor(secrets)
        # The relay brings the provider credential (in the URL or as upstream_auth): an upstream
        # 401/403 is then about the relay's key, and its answer may quote part of it.
        self._own_credentials = bool(secrets)
        self.upstream = websocket_url(upstream)
        self.upstream_display = mask_url(self.upstream)
        self.protocol = protocol_for(self.upstream, protocol)
        self.upstream_auth_header = upstream_auth_header
        if auth is not None and limit_usd is not None:
            raise InputError("with auth tokens, each token sets its own session limit: "
                             "give no limit_usd (--limit-usd)")
        if auth is None and limit_usd is None:
            raise InputError("a session limit is needed: limit_usd (--limit-usd), or auth "
                             "tokens that each carry one")
        # Fail fast on a bad limit, warn_at or model; the catalog is then shared by sessions.
        # (Token limits are bounded the same way when the token file is read.)
        limit = None if limit_usd is None else session_limit(limit_usd, "limit_usd (--limit-usd)")
        try:
            probe = SessionGuard(limit if limit is not None else 1, model=model, warn_at=warn_at)
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            raise InputError(f"warn_at (--warn-at): not a number: {warn_at!r}") from None
        self.catalog, self.warn_at = probe.catalog, warn_at
        self.limit_usd = limit
        self.auth, self.upstream_auth = auth, upstream_auth
        # What every session gets without auth: the default scope, the relay's limit.
        self._open_grant = Grant("default", probe.limit_usd)
        self.model, self.ledger, self.on_ledger_error = model, ledger, on_ledger_error
        self.ladder, self.hangup = ladder, hangup if hangup is not None and hangup.any else None
        # One spool for every session (one file per process), for the ledger it serves.
        if ledger is not None and isinstance(spool, Spool):
            # Caught here, not by each session's guard (after its handshake, once per client).
            if spool.key != ledger.key:
                raise InputError(f"the spool {spool.directory} is for the ledger {spool.key}, "
                                 f"not this relay's ({ledger.key}): give Spool(ledger) or a "
                                 "directory")
            if spool.ledger is None:
                raise InputError(f"the spool {spool.directory} was opened without its ledger "
                                 "and could never be flushed: give Spool(ledger)")
        self.spool = None if ledger is None else spool if isinstance(spool, Spool) \
            else Spool(ledger, spool)
        self.spend_log = Path(spend_log) if spend_log is not None else None
        self.on_session_end = on_session_end
        self.open_timeout, self.close_timeout, self.proxy = open_timeout, close_timeout, proxy
        self.compression = compression
        self.limits = Limits(max_sessions=max_sessions, idle_timeout=idle_timeout,
                             handshake_timeout=handshake_timeout,
                             max_frame_bytes=max_frame_bytes,
                             max_connections=max_connections).resolve()
        self.metrics = metrics if metrics is not None else RelayMetrics()
        self.sessions_done = 0
        self._live = 0
        self._server: Server | None = None
        # Handshakes admitted (auth and capacity passed) and sessions running: the capacity.
        self._admitted: dict[ServerConnection, _Admission] = {}
        self._closers: set[asyncio.Task] = set()
        self._refusals = RateLimitedLog(log)
        self._accept_errors = AcceptErrorHandler(on_error=self.metrics.accept_errors.inc)
        self._gate = ConnectionGate(self.limits.max_connections or 1,
                                    self.limits.handshake_timeout,
                                    on_refuse=self._refused_connection, on_lost=self._release)
        self.metrics.connections.set_function(lambda: self._gate.open)

    @property
    def sessions_live(self) -> int:
        """Sessions being relayed now."""
        return self._live

    @property
    def connections_open(self) -> int:
        """Client connections open now, those still in their handshake included."""
        return self._gate.open

    def log_filter(self) -> Redactor:
        """A `logging.Filter` that masks this relay's upstream credentials in any record (for
        handlers that also print other libraries' messages)."""
        return self.redactor

    # -- server lifecycle ---------------------------------------------------------------
    async def start(self, listen: str, *, reuse_port: bool = False) -> tuple[str, int]:
        """Listen on ``host:port`` (port 0 picks one); returns the bound (host, port).
        `reuse_port`: share the port with other processes (``SO_REUSEPORT``: the kernel
        spreads new connections over them), as ``guard serve --workers`` does."""
        host, port = parse_listen(listen)
        lim = self.limits
        self._accept_errors.install(asyncio.get_running_loop())
        try:
            self._server = await ws_serve(
                self._handle, host, port, process_request=self._admit,
                select_subprotocol=self._select_subprotocol, max_size=lim.max_frame_bytes,
                compression="deflate" if self.compression else None,
                # A backstop: the gate times the request itself, the upstream connect has
                # `open_timeout`.
                open_timeout=lim.handshake_timeout + self.open_timeout + 2,
                close_timeout=self.close_timeout, server_header=None,
                create_connection=self._gate.connection_class(), backlog=lim.backlog,
                reuse_port=reuse_port or None)
        except BaseException:
            self._accept_errors.uninstall()
            raise
        if self.auth is None and not is_loopback(host):
            log.warning("NO CLIENT AUTHENTICATION on %s, which is not a loopback address: "
                        "anyone who can reach it is relayed on the upstream credentials. "
                        "Give --auth-tokens (Relay(auth=...)) or listen on 127.0.0.1.", host)
        sock = next(iter(self._server.sockets))
        return sock.getsockname()[0], sock.getsockname()[1]

    async def close(self) -> None:
        """Stop listening, close every session (each writes its spend-log line) and wait."""
        if self._server is not None:
            self._server.close()  # closes client connections with 1001 "going away"
            await self._server.wait_closed()
        for adm in list(self._admitted.values()):
            if adm.up is not None:
                await adm.up.close()
        self._admitted.clear()
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)
        self._accept_errors.uninstall()
        await asyncio.to_thread(self.metrics.close)  # (waits out the HTTP server's poll)

    async def serve_metrics(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve Prometheus metrics at ``http://host:port/metrics``; returns (host, port).
        Stopped by `close`."""
        return await asyncio.to_thread(self.metrics.serve, host, port)

    # -- handshake: who, is there room, then connect upstream -----------------------------
    def _refuse(self, conn: ServerConnection, request: Request, status: int, reason: str,
                body: str, detail: str = "") -> Response:
        self.metrics.refused.labels(reason).inc()
        peer = conn.remote_address
        self._refusals.warning(reason, "refused %s %s (HTTP %d, %s)%s",
                               peer[0] if peer else "?", mask_url(request.path), status, reason,
                               f": {self.redactor.redact(detail)}" if detail else "")
        return conn.respond(status, body)

    def _refused_connection(self, reason: str) -> None:
        self.metrics.refused.labels(reason).inc()
        self._refusals.warning(reason, "closed a client connection: %s (%d open; limit %d)",
                               reason.replace("_", " "), self._gate.open,
                               self._gate.max_connections)

    async def _admit(self, conn: ServerConnection, request: Request) -> Response | None:
        h = request.headers
        offered = [p.strip() for v in h.get_all("Sec-WebSocket-Protocol") for p in v.split(",")
                   if p.strip()]
        bearer = False  # the Authorization header holds a relay token: never sent upstream
        if self.auth is not None:
            checked = self.auth.authenticate(h)
            if checked.grant is None:
                res = self._refuse(conn, request, 401, "unauthorized",
                                   "costmodel relay: a valid token is required\n",
                                   checked.refusal)
                res.headers["WWW-Authenticate"] = 'Bearer realm="costmodel relay"'
                return res
            grant, via, bearer = checked.grant, checked.subprotocol, checked.bearer
        else:
            grant, via = self._open_grant, None
        problem = path_problem(request.path)
        if problem is not None:  # it could reach another endpoint than the upstream's path
            return self._refuse(conn, request, 400, "bad_path",
                                "costmodel relay: the request path may not hold dot segments, "
                                "encoded slashes or backslashes\n", problem)
        if len(self._admitted) >= (self.limits.max_sessions or 1):
            res = self._refuse(conn, request, 503, "over_capacity",
                               "costmodel relay: at capacity, retry later\n",
                               f"{len(self._admitted)} sessions")
            res.headers["Retry-After"] = "5"
            return res
        adm = self._admitted[conn] = _Admission(grant, via)
        # Never upstream: the relay's own token, and the client's provider key when the relay
        # brings one.
        drop: list[str] = ["Authorization"] if bearer else []
        if self.upstream_auth is not None:
            drop += _PROVIDER_AUTH_HEADERS
            offered = [p for p in offered if not p.startswith(_PROVIDER_KEY_SUBPROTOCOL)]
        offered = [p for p in offered if not p.startswith(TOKEN_SUBPROTOCOL)]
        headers = forward_headers(h, drop)
        if self.upstream_auth is not None:
            headers.append((self.upstream_auth_header, self.upstream_auth))
        url = upstream_url(self.upstream, request.path)
        deflate = self.compression and any("permessage-deflate" in v for v in
                                           h.get_all("Sec-WebSocket-Extensions"))
        # `proxy` (websockets >= 15) only when set: the default uses the system's proxy.
        extra = {} if self.proxy is True else {"proxy": self.proxy}
        try:
            up = await connect(url, additional_headers=headers,
                               user_agent_header=None,
                               subprotocols=[Subprotocol(p) for p in offered] or None,
                               compression="deflate" if deflate else None,
                               max_size=_UPSTREAM_MAX_SIZE, open_timeout=self.open_timeout,
                               close_timeout=self.close_timeout, **extra)
        except InvalidStatus as exc:  # the upstream refused: the client gets the same status
            self._admitted.pop(conn, None)
            res = exc.response
            if self._own_credentials and res.status_code in (401, 403):
                # The relay's own key was refused: the operator's problem, and the provider's
                # answer may quote part of that key; the client learns only that it failed.
                self._refusals.log(logging.ERROR, "relay_credentials", "the upstream refused "
                                   "the relay's credentials (--upstream-auth-env, or those in "
                                   "--upstream): HTTP %d", res.status_code)
                return self._refuse(conn, request, 502, "upstream_refused",
                                    "costmodel relay: the upstream refused the relay\n",
                                    f"the upstream answered HTTP {res.status_code}")
            body = res.body.decode("utf-8", "replace") if res.body else f"{res.reason_phrase}\n"
            body = self.redactor.redact(body)
            try:
                return self._refuse(conn, request, res.status_code, "upstream_refused", body,
                                    f"the upstream answered HTTP {res.status_code}")
            except ValueError:  # a status code http.HTTPStatus does not know
                return conn.respond(502, f"upstream answered HTTP {res.status_code}\n{body}")
        except Exception as exc:  # unreachable, TLS, timeout, bad handshake
            self._admitted.pop(conn, None)
            # The client learns nothing of the upstream (host, network); the log says it all.
            return self._refuse(conn, request, 502, "upstream_unreachable",
                                "costmodel relay: cannot connect upstream\n",
                                f"{self.upstream_display}: {exc or type(exc).__name__}")
        if self._admitted.get(conn) is adm:
            adm.up = up
        else:  # the client left while we connected
            self._close_later(up)
        return None

    def _select_subprotocol(self, conn: ServerConnection, offered: Any) -> Any:
        adm = self._admitted.get(conn)
        if adm is None or adm.up is None:
            return None
        chosen = adm.up.subprotocol
        if chosen in offered:
            return chosen
        # A browser that offered subprotocols fails the handshake if none is selected: give
        # it back the one it authenticated with.
        return adm.subprotocol

    def _release(self, conn: ServerConnection) -> None:
        """A client connection has gone: free its place, close an upstream no session took."""
        adm = self._admitted.get(conn)
        if adm is None or adm.running:
            return
        del self._admitted[conn]
        if adm.up is not None:
            self._close_later(adm.up)

    def _close_later(self, up: ClientConnection) -> None:
        task = asyncio.get_running_loop().create_task(up.close())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    # -- sessions -------------------------------------------------------------------------
    async def _handle(self, client: ServerConnection) -> None:
        adm = self._admitted.get(client)
        up = adm.up if adm is not None else None
        if adm is None or up is None:
            await client.close(1011, "upstream not connected")
            return
        adm.up, adm.running = None, True
        try:
            try:
                session = Session(self, client, up, scope=adm.grant.scope,
                                  limit_usd=adm.grant.limit_usd)
            except Exception:  # a bug (the relay checks its configuration up front)
                log.exception("cannot start a session for scope %s", adm.grant.scope)
                await asyncio.gather(client.close(1011, "relay error"), up.close(),
                                     return_exceptions=True)
                return
            where = f" (token {adm.grant.where})" if adm.grant.where else ""
            log.info("session %s started: scope %s%s, limit $%s", session.id, session.scope,
                     where, session.guard.limit_usd)
            await self._relay(session)
        finally:  # whatever happened, the place is free again
            self._admitted.pop(client, None)

    async def _relay(self, session: Session) -> None:
        self._live += 1
        m = self.metrics
        m.sessions_started.inc()
        m.sessions.set(self._live)
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
            self._live -= 1
            m.sessions.set(self._live)
            m.sessions_ended.labels(record["end"]).inc()
            log.info("session %s ended (%s): $%s in %d responses", session.id, record["end"],
                     record["spent_usd"], record["responses"])
            if self.on_session_end is not None:
                try:
                    self.on_session_end(record)
                except Exception:
                    log.warning("on_session_end callback failed", exc_info=True)

    def _write_log(self, record: dict) -> None:
        if self.spend_log is not None:
            append_record(self.spend_log, record)


def _auth_secrets(value: str | None) -> list[str]:
    if not value:
        return []
    _scheme, _, credential = value.partition(" ")
    return [value, credential.strip()] if credential.strip() else [value]


async def serve(listen: str, upstream: str, limit_usd: Decimal | str | float | None = None, *,
                stop: asyncio.Event | None = None,
                on_ready: Callable[[str, int], None] | None = None,
                metrics_listen: str | None = None, **options: Any) -> None:
    """Run a relay on `listen` until `stop` is set (or the task is cancelled).

    `on_ready(host, port)` is called once listening; `options` are `Relay`'s (``auth``,
    ``spend_log``, ``on_session_end``, ``max_sessions``...). `metrics_listen` (``host:port``)
    also serves Prometheus metrics.

        asyncio.run(serve("127.0.0.1:8765", "wss://api.openai.com", "0.50"))
    """
    relay = Relay(upstream, limit_usd, **options)
    host, port = await relay.start(listen)
    log.info("relay listening on %s:%s -> %s", host, port, relay.upstream_display)
    try:
        if metrics_listen is not None:
            await relay.serve_metrics(*parse_listen(metrics_listen))
        if on_ready is not None:
            on_ready(host, port)
        await (stop.wait() if stop is not None else asyncio.get_running_loop().create_future())
    finally:
        await relay.close()
