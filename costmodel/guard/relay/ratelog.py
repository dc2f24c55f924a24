"""Log lines a flood cannot multiply: refusals, and the event loop's accept errors, logged at
most once per interval with a count of the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .limits import fd_limit

log = logging.getLogger("costmodel.relay")

_ACCEPT_MESSAGE = "socket.accept() out of system resource"


class RateLimitedLog:
    """Log a message at most once per `interval` seconds per key, with the number of
    occurrences left out since the last one (a flood of refusals must not flood the log).

    >>> rl = RateLimitedLog(logging.getLogger("doc"), interval=60)
    >>> [rl.warning("refused", "refused a client: %s", "no token") for _ in range(3)]
    [True, False, False]
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.interval, self.clock = logger, interval, clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def log(self, level: int, key: str, msg: str, *args: Any) -> bool:
        """Log now if this key has been quiet for `interval`; returns whether it logged."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False
        skipped = self._skipped.pop(key, 0)
        self._last[key] = now
        if skipped and last is not None:  # (a skip means the key logged before)
            msg += f" ({skipped} more in the last {now - last:.0f} s)"
        self.logger.log(level, msg, *args)
        return True

    def warning(self, key: str, msg: str, *args: Any) -> bool:
        return self.log(logging.WARNING, key, msg, *args)


class AcceptErrorHandler:
    """An event-loop exception handler that reports "socket.accept() out of system resource"
    once per interval with a count, and passes everything else to the previous handler.

    Why: on EMFILE, CPython's selector loop calls the exception handler once per pending
    connection (up to the listen backlog) and re-arms the listening socket as many times, so
    the default handler logs the same line hundreds of thousands of times a minute.

    ``handler = AcceptErrorHandler(); handler.install(asyncio.get_running_loop())``, and
    ``handler.uninstall()`` when the server closes; `count` is how many it saw.
    """

    def __init__(self, interval: float = 10.0,
                 on_error: Callable[[], None] | None = None) -> None:
        self._log = RateLimitedLog(log, interval)
        self.on_error = on_error
        self.count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._previous = loop, loop.get_exception_handler()
        loop.set_exception_handler(self)

    def uninstall(self) -> None:
        if self._loop is not None and self._loop.get_exception_handler() is self:
            self._loop.set_exception_handler(self._previous)
        # (Another handler may have been installed on top: this one then only passes on.)
        self._loop = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if self._loop is None or context.get("message") != _ACCEPT_MESSAGE:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.count += 1
        if self.on_error is not None:
            self.on_error()
        exc = context.get("exception")
        self._log.log(logging.ERROR, "accept", "cannot accept connections: %s (the fd limit "
                      "is %s; lower --max-sessions or raise ulimit -n)", exc, fd_limit())
