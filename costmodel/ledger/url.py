"""`open_ledger`: the ledger a URL names."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from .._redact import mask_url
from ..errors import LedgerError
from .base import Ledger
from .memory import MemoryLedger
from .sqlite import SQLiteLedger

_FORMS = ("'memory', 'sqlite:///relative/file.db', 'sqlite:////absolute/file.db', a path "
          "ending in .db, .sqlite or .sqlite3, or 'redis://host:port/db'")


def _parse(url: str | os.PathLike[str]) -> tuple[str, str, str]:
    """(kind, target, shown): ``memory``, ``sqlite`` with a path, or ``redis`` with the URL;
    `shown` hides credentials. Raises `LedgerError` for anything else."""
    text = os.fspath(url).strip()
    lower, shown = text.lower(), mask_url(text)
    if lower in ("memory", "memory://"):
        return "memory", "", shown
    if lower.startswith("sqlite:///") and len(text) > len("sqlite:///"):
        return "sqlite", text[len("sqlite:///"):], shown
    if lower.startswith(("redis://", "rediss://", "unix://")):
        return "redis", text, shown
    if "://" not in text and lower.endswith((".db", ".sqlite", ".sqlite3")):
        return "sqlite", text, shown
    raise LedgerError(f"unsupported ledger URL; use {_FORMS}", path=shown)


def _redis_module(shown: str) -> ModuleType:
    try:
        from . import redis
    except ImportError as exc:
        raise LedgerError(f"the Redis backend needs the redis package ({exc}); "
                          "pip install 'costmodel[redis]'", path=shown) from None
    return redis


def ledger_key(url: str | os.PathLike[str]) -> str | None:
    """`Ledger.key` of the store a URL names, without opening it (None for ``memory``: each
    in-process ledger is its own), so the spool of a ledger that is down can be shown."""
    kind, target, shown = _parse(url)
    if kind == "sqlite":
        return SQLiteLedger.key_for(Path(target).expanduser())
    if kind == "redis":
        try:
            return _redis_module(shown).ledger_key(target)
        except ValueError as exc:
            raise LedgerError(f"not a Redis URL: {exc}", path=shown) from None
    return None


def open_ledger(url: str | os.PathLike[str] | None) -> Ledger:
    """The ledger a URL names: ``None``/``"memory"`` -> `MemoryLedger`; ``"sqlite:///x.db"``
    (relative, as in SQLAlchemy; ``sqlite:////abs/x.db`` is absolute) or a path ending in
    ``.db``/``.sqlite``/``.sqlite3`` -> `SQLiteLedger`; ``"redis://host:port/db"`` (or
    ``rediss://``) -> `RedisLedger` (``pip install 'costmodel[redis]'``). Anything else raises
    `LedgerError`.
    """
    if url is None:
        return MemoryLedger()
    kind, target, shown = _parse(url)
    if kind == "sqlite":
        return SQLiteLedger(Path(target).expanduser())
    if kind == "redis":
        return _redis_module(shown).RedisLedger(target)
    return MemoryLedger()
