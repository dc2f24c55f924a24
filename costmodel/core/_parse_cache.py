"""A per-user cache of parsed catalog files, so a run does not parse YAML it parsed before.

Each entry is one file's parsed YAML as JSON (plain data: never pickle), keyed by the file's
path, size, inode and modification and change times: any edit, even one that puts the old
mtime back, makes a new key. The data is validated afresh on every load (pydantic is fast;
parsing was the slow part), and the marks needed for error lines are recomputed only when
there is an error to report.

The cache is an optimisation only: any problem with it (missing, unwritable, corrupt) means
the file is parsed, as without it. Entries are read only from a directory and files the
current user owns and nobody else can write, so no one else can change what is priced.
``COSTMODEL_CACHE_DIR`` moves it; set it empty to turn it off.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from .._files import user_cache_dir

ENV_VAR = "COSTMODEL_CACHE_DIR"
# Bumped whenever the loader's output for the same text may change (its rules, its types).
_FORMAT = 1
_MAX_ENTRY = 16 << 20  # bytes; catalog files are at most 4 MB of YAML
_MAX_VALUES = 1_000_000  # an alias-heavy file can expand past this: not worth caching
# A file changed less than this long ago is not cached: a second change within the same
# timestamp tick (2 s on some filesystems) would keep its key.
_SETTLE_SECONDS = 2.0

MISS = object()


def cache_dir() -> Path | None:
    """Where entries live, or None when the cache is off."""
    if not hasattr(os, "geteuid"):  # no owner to check entries against
        return None
    configured = os.environ.get(ENV_VAR)
    if configured is not None:
        return Path(configured).expanduser() if configured else None
    return user_cache_dir() / "catalog"


def file_key(path: Path) -> tuple[int, ...] | None:
    """What identifies this version of the file; None when it cannot be cached."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def _entry(directory: Path, path: str) -> Path:
    digest = hashlib.sha256(f"{_FORMAT}\0{path}".encode("utf-8", "surrogatepass"))
    return directory / f"{digest.hexdigest()[:40]}.json"


def _ours(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & 0o022


def get(directory: Path, path: Path, key: tuple[int, ...]) -> Any:
    """The cached data of `path` at `key`, or `MISS`."""
    name = os.path.abspath(path)
    try:
        if not (stat.S_ISDIR((d := os.lstat(directory)).st_mode) and _ours(d)):
            return MISS
        fd = os.open(_entry(directory, name),
                     os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not (stat.S_ISREG(info.st_mode) and _ours(info)
                    and info.st_size <= _MAX_ENTRY):
                return MISS
            entry = json.loads(fh.read())
    except (OSError, ValueError, RecursionError):
        return MISS
    if (type(entry) is not dict or entry.get("format") != _FORMAT
            or entry.get("path") != name or entry.get("key") != list(key)
            or "data" not in entry):
        return MISS
    return entry["data"]


def put(directory: Path, path: Path, key: tuple[int, ...], data: Any) -> None:
    """Cache `data` as what `path` holds at `key`, if it is plain data and settled."""
    if time.time() - key[1] / 1e9 < _SETTLE_SECONDS or not _plain(data):
        return
    name = os.path.abspath(path)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _ours(os.lstat(directory)):
            return
        text = json.dumps({"format": _FORMAT, "path": name, "key": list(key),
                           "data": data}, allow_nan=False)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, _entry(directory, name))
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError):
        pass


def _plain(data: Any) -> bool:
    """Whether JSON gives back exactly `data`: str-keyed dicts, lists, str, int, finite
    float, bool, None (YAML can also make dates, bytes, sets and cycles)."""
    stack = [data]
    seen = 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > _MAX_VALUES:
            return False
        kind = type(value)
        if kind is dict:
            if not all(type(k) is str for k in value):
                return False
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif kind not in (str, int, bool, type(None)):
            return False
    return True
