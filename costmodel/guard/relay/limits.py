"""Bounded resources: how many sessions and connections a relay takes, for how long, and how
much one session may spend; `ConnectionGate` holds the client sockets to those limits.

A relayed session holds two sockets (client and upstream), so the file-descriptor limit
(``RLIMIT_NOFILE``) decides how many sessions a process can carry. `Limits.resolve` derives the
defaults from it, leaving room for connections still in their handshake:

>>> lim = Limits().resolve(nofile=1024, open_fds=10)
>>> lim.max_sessions, lim.max_connections, lim.idle_timeout, lim.handshake_timeout
(201, 605, 120.0, 5.0)
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import cast

from websockets.asyncio.server import ServerConnection

from ...errors import InputError, UsageError
from ..policy import usd_limit

log = logging.getLogger("costmodel.relay")

DEFAULT_IDLE_TIMEOUT = 120.0        # s with no frame either way
DEFAULT_HANDSHAKE_TIMEOUT = 5.0     # s from TCP accept to a complete upgrade request
DEFAULT_MAX_FRAME_BYTES = 4 * 2**20  # client messages; ~45 s of base64 pcm16 24 kHz audio
SESSION_CAP = 1000                  # default ceiling, whatever the fd limit allows
_FD_RESERVE = 16   # spend log appends, SQLite, DNS lookups, metrics scrapes


def fd_limit() -> int | None:
    """The soft ``RLIMIT_NOFILE`` of this process (None where unknown or unlimited).

    >>> fd_limit() is None or fd_limit() > 0
    True
    """
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raise_fd_limit() -> int | None:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit, as Go programs do at start (many
    systems set 1024 soft, 500k+ hard); returns the soft limit now in force."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 2**20
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (OSError, ValueError):  # (macOS caps it below the hard limit)
            pass
    return None if soft == resource.RLIM_INFINITY else soft


def count_open_fds() -> int:
    """File descriptors this process has open now (an estimate where /proc is missing)."""
    for d in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(d)) - 1  # (listdir's own descriptor)
        except OSError:
            continue
    return 16


@dataclass(frozen=True)
class Limits:
    """What a relay accepts. None for `max_sessions` / `max_connections`: derived from the fd
    limit (`resolve`); 0 or None for `idle_timeout`: no idle timeout.

    Args:
        max_sessions: sessions relayed at once (handshakes being admitted included); over it
            a client gets HTTP 503 at the handshake.
        idle_timeout: seconds without a frame either way after which a session is closed
            (code 4008); a live call streams audio, so only a dead or parked client idles.
        handshake_timeout: seconds a new connection has to send its complete upgrade request.
        max_frame_bytes: the largest client message; a bigger one closes the session (1009).
        max_connections: client sockets open at once, handshakes included; a connection over
            it is closed as soon as it is accepted.
        backlog: the listen backlog, which is also how many connections asyncio accepts in one
            go before the relay can count them (so the fd budget keeps room for a few of those
            bursts).
    """

    max_sessions: int | None = None
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_connections: int | None = None
    backlog: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_sessions", "max_connections", "backlog"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise InputError(f"{_flag(name)} must be a whole number >= 1, got {v!r}")
        idle = self.idle_timeout
        if idle is not None and not (math.isfinite(idle) and idle >= 0):
            raise InputError(f"{_flag('idle_timeout')} must be a number of seconds >= 0 "
                             f"(0: none), got {idle!r}")
        hs = self.handshake_timeout
        if not (math.isfinite(hs) and hs > 0):
            raise InputError(f"{_flag('handshake_timeout')} must be a number of seconds > 0, "
                             f"got {hs!r}")
        if not isinstance(self.max_frame_bytes, int) or self.max_frame_bytes < 1024:
            raise InputError(f"{_flag('max_frame_bytes')} must be at least 1024 bytes, got "
                             f"{self.max_frame_bytes!r}")

    def resolve(self, nofile: int | None = None, open_fds: int | None = None) -> Limits:
        """Fill in what was left to the fd limit (the current process's, by default)."""
        nofile = fd_limit() if nofile is None else nofile
        backlog = self.backlog or (100 if nofile is None else min(100, max(16, nofile // 16)))
        if nofile is None:
            budget = 4 * SESSION_CAP + 64
        else:
            # asyncio accepts up to `backlog` sockets per wake-up, and the relay sees them (and
            # closes the surplus) only on a later turn of the loop: keep room for 3 bursts.
            budget = max(8, nofile - (count_open_fds() if open_fds is None else open_fds)
                         - _FD_RESERVE - 3 * backlog)
        # Half the descriptors for sessions (2 each), the other half for connections still
        # in their handshake or being refused: a flood of those never starves the sessions.
        sessions = self.max_sessions or max(1, min(SESSION_CAP, budget // 4))
        if self.max_sessions is not None and 2 * sessions > budget:
            log.warning("max sessions %d needs %d file descriptors; the fd limit (%s) leaves "
                        "%d: raise it (ulimit -n) or the relay may fail to accept", sessions,
                        2 * sessions, nofile, budget)
        connections = self.max_connections or max(
            sessions, min(budget - sessions, 4 * sessions + 64))
        idle = self.idle_timeout or None
        return replace(self, max_sessions=sessions, max_connections=connections,
                       idle_timeout=idle, backlog=backlog)


def session_limit(value: Decimal | str | float, what: str) -> Decimal:
    """A per-session limit in USD: finite, > 0 and at most `MAX_LIMIT_USD` (the guard's
    bound); else InputError saying ``{what} must be ...``.

    >>> session_limit("0.50", "--limit-usd")
    Decimal('0.50')
    >>> session_limit("1e999999999", "--limit-usd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    costmodel.errors.InputError: --limit-usd must be a positive amount in USD, at most 1000000...
    """
    try:
        return usd_limit(value, what)
    except UsageError as exc:
        raise InputError(str(exc)) from None


def _flag(name: str) -> str:
    """``max_sessions`` -> ``max_sessions (--max-sessions)``: the name in both APIs."""
    return f"{name} (--{name.replace('_', '-')})"


_SIZE_RE = re.compile(r"\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``4194304``, ``512KiB``, ``4MiB`` -> bytes (binary units; InputError otherwise).

    >>> parse_size("4MiB"), parse_size("512k"), parse_size("1024")
    (4194304, 524288, 1024)
    """
    m = _SIZE_RE.fullmatch(text)
    if m is None:
        raise InputError(f"not a size: {text!r}; expected bytes, e.g. 4194304, 512KiB or 4MiB")
    unit = m.group(2).lower()[:1]
    return int(m.group(1)) * {"": 1, "b": 1, "k": 2**10, "m": 2**20}[unit]


class ConnectionGate:
    """Counts the client sockets a server holds, closes the ones over `max_connections` as
    soon as they are accepted and the ones that do not send a complete upgrade request within
    `handshake_timeout` seconds. `connection_class()` is the server's ``create_connection``.

    `on_refuse(reason)` is called for each connection closed that way ("connection_limit" or
    "handshake_timeout"); `on_lost(connection)` once each connection has gone.

    ``gate = ConnectionGate(500, 5.0, on_refuse=print, on_lost=lambda c: None)``, then
    ``websockets.asyncio.server.serve(..., create_connection=gate.connection_class())``;
    `open` is the number of client sockets held.
    """

    def __init__(self, max_connections: int, handshake_timeout: float,
                 on_refuse: Callable[[str], None],
                 on_lost: Callable[[ServerConnection], None]) -> None:
        self.max_connections, self.handshake_timeout = max_connections, handshake_timeout
        self.on_refuse, self.on_lost = on_refuse, on_lost
        self.open = 0

    def connection_class(self) -> type[ServerConnection]:
        gate = self

        class GatedConnection(ServerConnection):
            _timer: asyncio.TimerHandle | None = None

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                gate.open += 1
                if gate.open > gate.max_connections:
                    gate.on_refuse("connection_limit")
                    # (before reading a byte: the cheapest refusal)
                    cast(asyncio.Transport, transport).abort()
                    return
                self._timer = asyncio.get_running_loop().call_later(
                    gate.handshake_timeout, self._handshake_expired)

            def _handshake_expired(self) -> None:
                if self.request is None:
                    gate.on_refuse("handshake_timeout")
                    self.transport.abort()

            def connection_lost(self, exc: Exception | None) -> None:
                gate.open -= 1
                if self._timer is not None:
                    self._timer.cancel()
                try:
                    super().connection_lost(exc)
                finally:
                    gate.on_lost(self)

        return GatedConnection
