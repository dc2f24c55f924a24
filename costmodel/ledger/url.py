"""`open_ledger`: the ledger a URL names."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import LedgerError
from .base import Ledger
from .memory import MemoryLedger
from .sqlite import SQLiteLedger

_FORMS = ("'memory', 'sqlite:///relative/file.db', 'sqlite:////absolute/file.db', a path "
          "ending in .db, .sqlite or .sqlite3, or 'redis://host:port/db'")




def open_ledger(url: str | os.PathLike[str] | None) -> Ledger:
    """The ledger a URL names: ``None``/``"memory"`` -> `MemoryLedger`; ``"sqlite:///x.db"``
    (relative, as in SQLAlchemy; ``sqlite:////abs/x.db`` is absolute) or a path ending in
    ``.db``/``.sqlite``/``.sqlite3`` -> `SQLiteLedger`; ``"redis://host:port/db"`` (or
    ``rediss://``) -> `RedisLedger` (``pip install 'costmodel[redis]'``). Anything else raises
    `LedgerError`.
    """
    if url is None:
        return MemoryLedger()
    text = os.fspath(url).strip()
    lower, shown = text.lower(), re.sub(r"//[^/@]*@", "//***@", text)   # hide credentials
    if lower in ("memory", "memory://"):
        return MemoryLedger()
    if lower.startswith("sqlite:///") and len(text) > len("sqlite:///"):
        return SQLiteLedger(Path(text[len("sqlite:///"):]).expanduser())
    if lower.startswith(("redis://", "rediss://")):
        try:
            from .redis import RedisLedger
        except ImportError as exc:
            raise LedgerError(f"the Redis backend needs the redis package ({exc}); "
                              "pip install 'costmodel[redis]'", path=shown) from None
        return RedisLedger(text)
    if "://" not in text and lower.endswith((".db", ".sqlite", ".sqlite3")):
        return SQLiteLedger(Path(text).expanduser())
    raise LedgerError(f"unsupported ledger URL; use {_FORMS}", path=shown)
