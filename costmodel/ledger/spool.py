"""A durable local spool for spend the ledger could not take, so none of it is lost.

When the ledger is down (Redis restarting, a locked SQLite file on a full disk), a guard still
knows what the session spent. It appends each record it could not commit to a spool file, one
JSON line per record with its idempotency key (`SpendRecord.id`) and the reservation it was to
pay, and fsyncs before `append` returns. `flush` commits the spooled records once the ledger
answers again and removes them from the spool; the ledger stores an id once, so a record whose
first commit did arrive, or a spool replayed twice, is counted once.

Layout: ``<directory>/<ledger>/spool-<host>-<pid>-<random>.jsonl``, where ``<ledger>`` is
derived from `Ledger.key` (a spool for a Redis ledger is never flushed into a SQLite one),
with a ``LEDGER`` file naming the store. Writers and flushers take an exclusive ``flock`` on a
file; a writer that finds its file replaced or removed by a flush reopens it.

The directory: the one given, else ``$COSTMODEL_SPOOL_DIR``, else the user cache directory
(``$XDG_CACHE_HOME/costmodel/spool``, ``~/.cache/costmodel/spool``).

>>> import tempfile
>>> from decimal import Decimal
>>> from costmodel.ledger import MemoryLedger, SpendRecord
>>> ledger = MemoryLedger()
>>> spool = Spool(ledger, tempfile.mkdtemp())
>>> spool.append(SpendRecord(session_id="call-1", model="openai/gpt-realtime-1.5",
...                          usd=Decimal("0.0832")))
>>> spool.summary().usd
Decimal('0.0832')
>>> spool.flush().committed, ledger.spent(), spool.summary().records
(1, Decimal('0.0832'), 0)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .._files import user_cache_dir
from ..errors import LedgerConflictError, LedgerError, UsageError
from ..money import exact_sum
from .base import Ledger, Reservation, SpendRecord, record_from_json, record_to_json

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool directory
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("costmodel.ledger")

__all__ = ["SPOOL_ENV", "FlushReport", "Spool", "SpoolSummary", "default_spool_dir"]

SPOOL_ENV = "COSTMODEL_SPOOL_DIR"
_VERSION = 1


def default_spool_dir() -> Path:
    """``$COSTMODEL_SPOOL_DIR``, else the user cache directory's ``costmodel/spool``."""
    env = os.environ.get(SPOOL_ENV)
    if env:
        return Path(env).expanduser()
    return user_cache_dir() / "spool"


@dataclass(frozen=True)
class SpoolSummary:
    """What a spool holds: records not yet in the ledger, by scope."""

    directory: Path
    records: int = 0
    usd: Decimal = Decimal(0)
    by_scope: dict[str, Decimal] = field(default_factory=dict)
    unreadable: int = 0      # lines that are not records (a crash mid-write): kept, reported


@dataclass(frozen=True)
class FlushReport:
    """What a `Spool.flush` did."""

    committed: int = 0          # records the ledger did not hold yet
    committed_usd: Decimal = Decimal(0)
    already: int = 0            # records it held already (their first commit had arrived)
    remaining: int = 0          # records still spooled (the ledger failed, or a conflict)
    remaining_usd: Decimal = Decimal(0)
    conflicts: int = 0          # ids the ledger holds with a different record: kept, reported
    unreadable: int = 0
    error: str | None = None    # why the ledger stopped taking records, if it did


@dataclass
class _Tally:
    """What one flush has done so far."""

    max_records: int | None
    committed: list[Decimal] = field(default_factory=list)
    already: int = 0
    remaining: list[Decimal] = field(default_factory=list)
    conflicts: int = 0
    unreadable: int = 0
    error: str | None = None

    @property
    def stopped(self) -> bool:
        full = self.max_records is not None and \
            len(self.committed) + self.already >= self.max_records
        return self.error is not None or full

    def done(self, record: SpendRecord, stored: bool) -> None:
        if stored:
            self.committed.append(record.usd)
        else:
            self.already += 1

    def report(self) -> FlushReport:
        return FlushReport(len(self.committed), exact_sum(self.committed), self.already,
                           len(self.remaining), exact_sum(self.remaining), self.conflicts,
                           self.unreadable, self.error)


@contextmanager
def _locked(path: Path, flags: int) -> Iterator[int | None]:
    """An fd on `path` under an exclusive lock, or None when `path` is gone. Retries when the
    file was replaced between open and lock (a flush rewrote or removed it)."""
    while True:
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            yield None
            return
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                yield fd
                return
        finally:
            os.close(fd)
        if not flags & os.O_CREAT:
            yield None
            return


def _append(fd: int, line: bytes, directory: Path) -> None:
    """Write one whole line at the end of the locked file `fd`, durably. A write that fails
    half-way is cut off again, so the next record does not run on from a broken line."""
    size = os.fstat(fd).st_size
    if size:
        os.lseek(fd, size - 1, os.SEEK_SET)
        if os.read(fd, 1) != b"\n":   # a crash mid-write before: start on a line of our own
            line = b"\n" + line
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise
    if not size:   # a new file: make its directory entry durable too
        _fsync_dir(directory)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(record: SpendRecord, reservation: Reservation | None) -> bytes:
    hold = None if reservation is None else {
        "id": reservation.id, "scope": reservation.scope, "session_id": reservation.session_id,
        "usd": f"{reservation.usd:f}", "expires_at": reservation.expires_at}
    line = json.dumps({"v": _VERSION, "record": record_to_json(record), "reservation": hold},
                      separators=(",", ":"), allow_nan=False)
    return (line + "\n").encode()


def _decode(raw: bytes) -> tuple[SpendRecord, Reservation | None]:
    """A spooled line; ValueError when it is not one."""
    try:
        d = json.loads(raw)
        if not isinstance(d, dict) or d.get("v") != _VERSION:
            raise ValueError("not a spool line of this version")
        record = record_from_json(d["record"])
        h = d.get("reservation")
        hold = None if h is None else Reservation(h["id"], h["scope"], h["session_id"],
                                                  Decimal(h["usd"]), float(h["expires_at"]))
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"not a spooled record: {exc!r}") from None
    return record, hold


class Spool:
    """The spool of one ledger (see the module docstring). Thread-safe; processes coordinate
    through file locks. Nothing touches the disk until the first `append` or read."""

    def __init__(self, ledger: Ledger | None, directory: str | os.PathLike[str] | None = None,
                 *, key: str | None = None) -> None:
        """The spool of `ledger` under `directory`; or, with ``ledger=None`` and the
        ledger's `key` (`costmodel.ledger.url.ledger_key`), a spool that can be read but not
        flushed: what a ledger that cannot be opened has waiting."""
        if ledger is not None:
            key = ledger.key
        elif key is None:
            raise UsageError("a spool needs its ledger, or the ledger's key")
        self.ledger = ledger
        self.key: str = key
        self.root = Path(directory).expanduser() if directory is not None \
            else default_spool_dir()
        slug = re.sub(r"[^A-Za-z0-9]+", "-", key.split("://")[0].split(":")[0])[:16]
        self.directory = self.root / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        self._file = self.directory / (f"spool-{socket.gethostname()[:40]}-{os.getpid()}-"
                                       f"{uuid.uuid4().hex[:8]}.jsonl")
        self._lock = threading.Lock()
        self._pending: bool | None = None   # None: not looked yet

    def __repr__(self) -> str:
        return f"Spool({self.directory})"

    # -- writing ------------------------------------------------------------------------------
    def append(self, record: SpendRecord, reservation: Reservation | None = None) -> None:
        """Add `record` (and the reservation it pays) to the spool; durable when this returns.
        Raises `LedgerError` when the spool cannot be written either."""
        line = _encode(record, reservation)
        with self._lock:
            try:
                self._ensure_directory()
                with _locked(self._file, os.O_RDWR | os.O_APPEND | os.O_CREAT) as fd:
                    assert fd is not None
                    _append(fd, line, self.directory)
            except OSError as exc:
                raise LedgerError(f"cannot write the spool: {exc}", path=str(self._file),
                                  operation="spool") from exc
            self._pending = True

    def _ensure_directory(self) -> None:
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.directory / "LEDGER").write_text(self.key + "\n", encoding="utf-8")
            _fsync_dir(self.directory.parent)
        self._check_directory()

    def _check_directory(self) -> None:
        """Refuse a spool directory someone else could have written: its records are
        committed as spend, so a planted line would be money in the ledger."""
        if not hasattr(os, "geteuid"):  # pragma: no cover - Windows: no owners to check
            return
        try:
            info = self.directory.stat()
        except (FileNotFoundError, NotADirectoryError):
            return   # nothing spooled there
        except OSError as exc:
            raise LedgerError(f"cannot read the spool: {exc}", path=str(self.directory),
                              operation="spool") from exc
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise LedgerError("the spool directory is not private to this user (owner uid "
                              f"{info.st_uid}, mode {info.st_mode & 0o777:o}); refusing to use "
                              "it", path=str(self.directory), operation="spool")

    @staticmethod
    def _private(path: Path) -> bool:
        if not hasattr(os, "geteuid"):  # pragma: no cover
            return True
        try:
            info = path.stat()
        except OSError:
            return False
        return info.st_uid == os.geteuid() and not info.st_mode & 0o022

    # -- reading ------------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        """The spool files; raises `LedgerError` for a directory others could write, and
        leaves out files others could have written (with a warning)."""
        self._check_directory()
        try:
            found = sorted(self.directory.glob("spool-*.jsonl"))
        except OSError:
            return []
        mine = [p for p in found if self._private(p)]
        for path in set(found) - set(mine):
            log.warning("spool: ignoring %s: not private to this user", path)
        return mine

    def may_have_records(self) -> bool:
        """Whether a flush could find anything: after an append here, or (looked up once per
        object) when the directory holds spool files, e.g. left by a process that crashed."""
        if self._pending is None:
            self._pending = bool(self._files())
        return self._pending

    def entries(self) -> Iterator[tuple[Path, SpendRecord | None, Reservation | None]]:
        """Every spooled line as (file, record, reservation); record None: unreadable."""
        for path in self._files():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for raw in data.splitlines():
                if not raw.strip():
                    continue
                try:
                    record, hold = _decode(raw)
                except ValueError:
                    yield path, None, None
                    continue
                yield path, record, hold

    def summary(self) -> SpoolSummary:
        """How much spend is spooled, by scope (a record in two files counts once)."""
        seen: dict[str, SpendRecord] = {}
        unreadable = 0
        for _, record, _ in self.entries():
            if record is None:
                unreadable += 1
            else:
                seen.setdefault(record.id, record)
        by_scope: dict[str, list[Decimal]] = {}
        for record in seen.values():
            by_scope.setdefault(record.scope, []).append(record.usd)
        return SpoolSummary(self.directory, len(seen), exact_sum(r.usd for r in seen.values()),
                            {s: exact_sum(v) for s, v in sorted(by_scope.items())}, unreadable)

    # -- flushing -----------------------------------------------------------------------------
    def flush(self, max_records: int | None = None) -> FlushReport:
        """Commit spooled records to the ledger and remove what the ledger now holds.

        Stops at the first ledger error (it is down again), and after `max_records` commits
        when given (a guard on an event loop flushes in batches); what is left stays spooled.
        Records the ledger holds under their id with different content, and lines that are
        not records, stay in the spool and are reported.
        """
        if self.ledger is None:
            raise UsageError(f"{self} was opened without its ledger: it can only be read")
        tally = _Tally(max_records)
        with self._lock:
            for path in self._files():
                try:
                    self._flush_file(path, tally)
                except OSError as exc:  # the spool's own disk: say so, keep the file
                    tally.error = tally.error or f"cannot rewrite {path}: {exc}"
            # Conflicts and unreadable lines wait for a person (`costmodel ledger show`); only
            # a ledger that failed again, or a batch cut short, leaves work for the next flush.
            self._pending = tally.stopped
        return tally.report()

    def _flush_file(self, path: Path, tally: _Tally) -> None:
        assert self.ledger is not None
        with _locked(path, os.O_RDWR) as fd:
            if fd is None:
                return   # flushed and removed by another process meanwhile
            keep: list[bytes] = []
            done = 0
            for raw in _read_all(fd).splitlines():
                if not raw.strip():
                    continue
                try:
                    record, hold = _decode(raw)
                except ValueError:
                    tally.unreadable += 1
                    keep.append(raw)
                    continue
                if not tally.stopped:
                    try:
                        stored = self.ledger.commit(hold, record)
                    except LedgerConflictError:
                        tally.conflicts += 1
                    except LedgerError as exc:
                        tally.error = str(exc)
                    else:
                        tally.done(record, stored)
                        done += 1
                        continue
                tally.remaining.append(record.usd)
                keep.append(raw)
            if done:
                self._rewrite(path, keep)

    @staticmethod
    def _rewrite(path: Path, keep: list[bytes]) -> None:
        """Replace `path` (locked by the caller) by the lines to keep, atomically."""
        if not keep:
            path.unlink()
        else:
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(b"".join(line + b"\n" for line in keep))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        _fsync_dir(path.parent)
