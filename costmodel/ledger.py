"""The spend ledger: reserve budget before spending, then commit what was actually spent.

A caller *reserves* the projected cost of a response against a scope's limit (atomically: the
check and the hold are one step, so concurrent sessions cannot both pass a nearly-full budget),
then *commits* the actual spend, which drops the reservation. Reservations expire, so a crashed
worker leaks none. (The per-session guard records its spend with `record`; shared budgets
across sessions, issue 6, reserve before each response.) Amounts are exact `Decimal` USD throughout; floats are refused.

Backends: `MemoryLedger` (the default, one process), `SQLiteLedger` (a WAL-mode file shared
by threads and processes; a crash after `commit()` returns loses nothing) and `RedisLedger`
(`costmodel.ledger_redis`: budgets shared by every worker of a fleet, Lua-scripted).

>>> from decimal import Decimal
>>> from costmodel.ledger import SpendRecord, open_ledger
>>> with open_ledger("memory") as ledger:
...     hold = ledger.reserve("acme", "call-1", Decimal("0.10"), limit_usd=Decimal("1.00"))
...     ledger.commit(hold, SpendRecord(session_id="call-1", scope="acme",
...                                     model="openai/gpt-realtime-1.5", usd=Decimal("0.0832")))
...     ledger.spent(scope="acme"), ledger.reserved(scope="acme")
(Decimal('0.0832'), Decimal('0'))
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal, Inexact
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

from .errors import BudgetExceeded, LedgerError

__all__ = ["DEFAULT_SCOPE", "Ledger", "MemoryLedger", "Reservation", "SQLiteLedger",
           "SpendRecord", "open_ledger"]

DEFAULT_SCOPE = "default"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
# Sums are computed in a context wide enough never to round; Inexact would be a bug, so trap it.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _money(value: Any, what: str) -> Decimal:
    """A finite, non-negative exact amount. Floats are refused: they are not exact."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{what} must be a Decimal (or int), not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a finite amount >= 0, not {amount}")
    return amount


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {value!r}")
    return value.astimezone(UTC)


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = _EXACT.add(total, value)
    return _tidy(total)


def _tidy(amount: Decimal) -> Decimal:
    """The same value without trailing fractional zeros, so every backend prints alike."""
    if amount == amount.to_integral_value():
        return amount.quantize(Decimal(1), context=_EXACT)
    return amount.normalize(_EXACT)


def _nano(amount: Decimal) -> tuple[int | None, int]:
    """(nano-dollars rounded half-even, 1 if that rounding was exact else 0)."""
    if amount.adjusted() >= 9:         # >= $10^9 a row: keep clear of int64 nano-dollars
        return None, 0
    scaled = amount.scaleb(9, _EXACT)
    nano = int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))
    return nano, int(nano == scaled)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendRecord:
    """Money actually spent: one response, transcription, connection charge or estimate.

    ``at`` is normalised to UTC (naive datetimes are refused); ``detail`` holds JSON-serialisable
    extras and is stored read-only.
    """

    session_id: str
    scope: str = DEFAULT_SCOPE
    model: str
    usd: Decimal
    at: datetime = field(default_factory=_utcnow)
    kind: str = "response"   # "response", "transcription", "connection", "estimate", ...
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scope or not isinstance(self.scope, str):
            raise ValueError(f"scope must be a non-empty string, not {self.scope!r}")
        object.__setattr__(self, "usd", _money(self.usd, "usd"))
        object.__setattr__(self, "at", _utc(self.at, "at"))
        detail = dict(self.detail)
        try:
            json.dumps(detail)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"detail must be JSON-serialisable: {exc}") from None
        object.__setattr__(self, "detail", MappingProxyType(detail))


def _same(a: SpendRecord, b: SpendRecord) -> bool:
    def key(r: SpendRecord) -> tuple[Any, ...]:
        return (r.session_id, r.scope, r.model, r.usd, r.at, r.kind,
                json.dumps(dict(r.detail), sort_keys=True))
    return key(a) == key(b)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Budget held for spending that is about to happen; live until ``expires_at`` (unix s)."""

    id: str
    scope: str
    session_id: str
    usd: Decimal
    expires_at: float


def _refuse(scope: str, usd: Decimal, limit: Decimal, committed: Decimal,
            held: Decimal) -> None:
    """Raise `BudgetExceeded` if committed + held + usd would pass limit."""
    total = _EXACT.add(_EXACT.add(committed, held), usd)
    if total <= limit:
        return
    err = BudgetExceeded(
        f"scope {scope!r}: reserving ${usd} would pass the ${limit} limit (committed "
        f"${_tidy(committed)} + reserved ${_tidy(held)} + ${usd} = ${_tidy(total)})")
    err.scope, err.limit_usd, err.requested_usd = scope, limit, usd  # type: ignore[attr-defined]
    err.spent_usd, err.reserved_usd = _tidy(committed), _tidy(held)  # type: ignore[attr-defined]
    raise err


class Ledger(ABC):
    """Where spend is reserved and recorded; every method is atomic and thread-safe.

    Storage failures raise `LedgerError`; a refused reservation raises `BudgetExceeded`.
    The public methods validate their arguments once, for every backend; a backend implements
    the underscored primitives, each as one atomic step (a lock, a transaction, a Lua script).
    """

    def reserve(self, scope: str, session_id: str, usd: Decimal, *, ttl_seconds: float = 120.0,
                limit_usd: Decimal | None = None, since: datetime | None = None,
                now: float | None = None) -> Reservation:
        """Hold ``usd`` in ``scope`` for ``ttl_seconds`` (``now``: unix seconds, default now).

        With ``limit_usd``: if committed spend in the scope (at or after ``since``, when given,
        for period budgets) + live reservations in the scope + ``usd`` > ``limit_usd``, raise
        `BudgetExceeded` and hold nothing. Check and hold are one atomic step. Expired
        reservations never count; they are purged lazily.
        """
        if not scope or not isinstance(scope, str):
            raise ValueError(f"scope must be a non-empty string, not {scope!r}")
        if not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be > 0, not {ttl_seconds}")
        t = time.time() if now is None else float(now)
        hold = Reservation(uuid.uuid4().hex, scope, session_id, _money(usd, "usd"),
                           t + ttl_seconds)
        self._reserve(hold, t, None if limit_usd is None else _money(limit_usd, "limit_usd"),
                      None if since is None else _utc(since, "since"))
        return hold

    def commit(self, reservation: Reservation | None, record: SpendRecord) -> None:
        """Append ``record`` and drop ``reservation`` (if any), atomically.

        The spend is recorded even if the reservation expired or is unknown. Committing the
        same reservation again with an equal record is a no-op (a safe retry); with a different
        record it raises `LedgerError` (each reservation pays for one spend).
        """
        if not isinstance(record, SpendRecord):
            raise TypeError(f"record must be a SpendRecord, not {type(record).__name__}")
        self._commit(None if reservation is None else reservation.id, record)

    def record(self, record: SpendRecord) -> None:
        """Append spend that had no reservation: ``commit(None, record)``."""
        self.commit(None, record)

    def release(self, reservation: Reservation | None) -> None:
        """Drop a reservation without spending (idempotent; ``None`` is ignored)."""
        if reservation is not None:
            self._release(reservation.id)

    def spent(self, *, scope: str | None = None, session_id: str | None = None,
              since: datetime | None = None, until: datetime | None = None) -> Decimal:
        """Exact sum of committed spend; ``since`` inclusive, ``until`` exclusive."""
        return self._spent(scope, session_id, None if since is None else _utc(since, "since"),
                           None if until is None else _utc(until, "until"))

    def reserved(self, *, scope: str | None = None, now: float | None = None) -> Decimal:
        """Exact sum of the live reservations (unexpired at ``now``, unix seconds)."""
        return self._reserved(scope, time.time() if now is None else float(now))

    def records(self, *, scope: str | None = None, session_id: str | None = None,
                limit: int | None = None) -> list[SpendRecord]:
        """Committed records in commit order; with ``limit``, the most recent ``limit`` ones."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        return [] if limit == 0 else self._records(scope, session_id, limit)

    def scopes(self) -> list[str]:
        """Sorted scopes that have committed spend or live reservations."""
        return self._scopes(time.time())

    @abstractmethod
    def close(self) -> None:
        """Release resources (idempotent). Later calls raise `LedgerError`."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a backend implements; arguments arrive validated, datetimes in UTC ------------
    @abstractmethod
    def _reserve(self, hold: Reservation, now: float, limit: Decimal | None,
                 since: datetime | None) -> None:
        """Atomically: purge reservations expired at ``now``; with ``limit``, call `_refuse`
        on the scope's committed spend (since ``since``) and live reservations; store ``hold``."""

    @abstractmethod
    def _commit(self, reservation_id: str | None, record: SpendRecord) -> None:
        """Atomically: if ``reservation_id`` already paid for a record, return when it is
        `_same` as ``record`` and raise `LedgerError` otherwise; else drop that reservation and
        append ``record``."""

    @abstractmethod
    def _release(self, reservation_id: str) -> None: ...

    @abstractmethod
    def _spent(self, scope: str | None, session_id: str | None, since: datetime | None,
               until: datetime | None) -> Decimal: ...

    @abstractmethod
    def _reserved(self, scope: str | None, now: float) -> Decimal: ...

    @abstractmethod
    def _records(self, scope: str | None, session_id: str | None,
                 limit: int | None) -> list[SpendRecord]: ...

    @abstractmethod
    def _scopes(self, now: float) -> list[str]: ...


class MemoryLedger(Ledger):
    """An in-process ledger (the default): one lock, per-scope running totals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records_: list[SpendRecord] = []
        self._totals: dict[str, Decimal] = {}
        self._held: dict[str, Reservation] = {}
        self._paid: dict[str, SpendRecord] = {}   # reservation id -> the record it paid for
        self._closed = False

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise LedgerError("the ledger is closed", path="memory")
            yield

    def _reserve(self, hold: Reservation, now: float, limit: Decimal | None,
                 since: datetime | None) -> None:
        with self._locked():
            for rid in [rid for rid, r in self._held.items() if r.expires_at <= now]:
                del self._held[rid]
            if limit is not None:
                committed = (self._totals.get(hold.scope, Decimal(0)) if since is None else
                             _exact_sum(r.usd for r in self._select(hold.scope, None, since)))
                held = _exact_sum(r.usd for r in self._held.values() if r.scope == hold.scope)
                _refuse(hold.scope, hold.usd, limit, committed, held)
            self._held[hold.id] = hold

    def _commit(self, reservation_id: str | None, record: SpendRecord) -> None:
        with self._locked():
            if reservation_id is not None:
                if reservation_id in self._paid:
                    if _same(self._paid[reservation_id], record):
                        return
                    raise LedgerError(f"reservation {reservation_id} was already committed "
                                      "with a different record", path="memory", operation="commit")
                self._held.pop(reservation_id, None)
                self._paid[reservation_id] = record
            self._records_.append(record)
            self._totals[record.scope] = _EXACT.add(self._totals.get(record.scope, 0), record.usd)

    def _release(self, reservation_id: str) -> None:
        with self._locked():
            self._held.pop(reservation_id, None)

    def _select(self, scope: str | None, session_id: str | None, since: datetime | None = None,
                until: datetime | None = None) -> Iterator[SpendRecord]:
        return (r for r in self._records_ if (scope is None or r.scope == scope)
                and (session_id is None or r.session_id == session_id)
                and (since is None or r.at >= since) and (until is None or r.at < until))

    def _spent(self, scope: str | None, session_id: str | None, since: datetime | None,
               until: datetime | None) -> Decimal:
        with self._locked():
            return _exact_sum(r.usd for r in self._select(scope, session_id, since, until))

    def _reserved(self, scope: str | None, now: float) -> Decimal:
        with self._locked():
            return _exact_sum(r.usd for r in self._held.values()
                              if r.expires_at > now and (scope is None or r.scope == scope))

    def _records(self, scope: str | None, session_id: str | None,
                 limit: int | None) -> list[SpendRecord]:
        with self._locked():
            found = list(self._select(scope, session_id))
        return found if limit is None else found[-limit:]

    def _scopes(self, now: float) -> list[str]:
        with self._locked():
            return sorted(set(self._totals)
                          | {r.scope for r in self._held.values() if r.expires_at > now})

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def __repr__(self) -> str:
        return "MemoryLedger()"


_SCHEMA = (
    """CREATE TABLE records (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order
        reservation_id TEXT UNIQUE,                        -- NULL for record() without one
        session_id     TEXT NOT NULL,
        scope          TEXT NOT NULL,
        model          TEXT NOT NULL,
        kind           TEXT NOT NULL,
        usd            TEXT NOT NULL,     -- exact decimal, plain notation
        usd_nano       INTEGER,           -- usd x 1e9 rounded half-even (NULL from $10^9)
        nano_exact     INTEGER NOT NULL,  -- 1 if usd_nano is exactly usd x 1e9
        at_us          INTEGER NOT NULL,  -- unix microseconds, UTC
        detail         TEXT NOT NULL      -- JSON object
    )""",
    "CREATE INDEX records_scope_at ON records (scope, at_us, nano_exact, usd_nano)",
    "CREATE INDEX records_session ON records (session_id)",
    """CREATE TABLE reservations (
        id         TEXT PRIMARY KEY,
        scope      TEXT NOT NULL,
        session_id TEXT NOT NULL,
        usd        TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX reservations_scope ON reservations (scope, expires_at)",
)
_COLUMNS = "session_id, scope, model, kind, usd, at_us, detail"


def _where(clauses: list[str], args: list[Any], scope: str | None = None,
           session_id: str | None = None, since: datetime | None = None,
           until: datetime | None = None) -> tuple[str, list[Any]]:
    for column, op, value in (("scope", "=", scope), ("session_id", "=", session_id),
                              ("at_us", ">=", since), ("at_us", "<", until)):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            args.append((_utc(value, column) - _EPOCH) // _MICRO
                        if isinstance(value, datetime) else value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class SQLiteLedger(Ledger):
    """A ledger in one SQLite file, shared safely by threads and processes.

    WAL journal with ``synchronous=FULL``: once `commit` returns, the spend survives a crash of
    the process (or, with a disk that honours fsync, of the machine). `reserve` runs in a
    ``BEGIN IMMEDIATE`` transaction, so its check and insert are atomic across processes.
    Amounts are stored twice: ``usd`` as exact decimal text and ``usd_nano`` as integer
    nano-dollars rounded half-even, with ``nano_exact`` marking rows where that rounding lost
    nothing. `spent` sums ``usd_nano`` in SQL for exact rows and adds the decimal text of the
    others in Python, so it returns exactly the sum of the committed amounts.
    """

    SCHEMA_VERSION = 1

    def __init__(self, path: str | os.PathLike[str], *, timeout_seconds: float = 10.0) -> None:
        self.path = os.fspath(path)
        self._timeout = timeout_seconds
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._closed = False
        with self._lock:
            self._conn = self._open()

    def _error(self, exc: BaseException, operation: str) -> LedgerError:
        return LedgerError(f"{type(exc).__name__}: {exc}", path=self.path, operation=operation)

    def _open(self) -> sqlite3.Connection:
        # Switching a new file to WAL takes a lock the busy timeout does not wait for, so
        # several processes opening one new file at once retry briefly instead of failing.
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return self._open_once()
            except LedgerError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() > deadline:
                    raise
                time.sleep(0.01 + 0.04 * (uuid.uuid4().int % 100) / 100)

    def _open_once(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LedgerError(f"could not enable WAL (journal_mode is {mode})",
                                  path=self.path, operation="open")
            conn.execute("PRAGMA synchronous = FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != self.SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")   # one process creates the schema
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {self.SCHEMA_VERSION}")
                conn.execute("COMMIT")
                if version not in (0, self.SCHEMA_VERSION):
                    raise LedgerError(f"schema version {version} is not the one this costmodel "
                                      f"uses ({self.SCHEMA_VERSION})",
                                      path=self.path, operation="open")
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, "open") from exc
            raise
        return conn

    def _db(self, operation: str) -> sqlite3.Connection:
        if self._closed:
            raise LedgerError("the ledger is closed", path=self.path, operation=operation)
        if self._pid != os.getpid():      # forked: never use the parent's connection
            self._conn, self._pid = self._open(), os.getpid()
        assert self._conn is not None
        return self._conn

    @contextmanager
    def _transaction(self, operation: str, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._db(operation)
            try:
                conn.execute(begin)
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise self._error(exc, operation) from exc

    @staticmethod
    def _sum(conn: sqlite3.Connection, table: str, where: str, args: list[Any]) -> Decimal:
        if table == "records":
            exact_where = where + (" AND" if where else " WHERE") + " nano_exact = 1"
            nano = conn.execute(f"SELECT COALESCE(SUM(usd_nano), 0) FROM records{exact_where}",
                                args).fetchone()[0]
            rest = where + (" AND" if where else " WHERE") + " nano_exact = 0"
            texts = conn.execute(f"SELECT usd FROM records{rest}", args).fetchall()
            return _exact_sum([Decimal(nano).scaleb(-9, _EXACT), *(Decimal(t) for t, in texts)])
        return _exact_sum(Decimal(t) for t, in conn.execute(f"SELECT usd FROM {table}{where}",
                                                             args))

    def _reserve(self, hold: Reservation, now: float, limit: Decimal | None,
                 since: datetime | None) -> None:
        with self._transaction("reserve", "BEGIN IMMEDIATE") as conn:
            conn.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
            if limit is not None:
                committed = self._sum(conn, "records", *_where([], [], hold.scope, since=since))
                held = self._sum(conn, "reservations", " WHERE scope = ?", [hold.scope])
                _refuse(hold.scope, hold.usd, limit, committed, held)
            conn.execute("INSERT INTO reservations VALUES (?, ?, ?, ?, ?)", (
                hold.id, hold.scope, hold.session_id, f"{hold.usd:f}", hold.expires_at))

    def _commit(self, reservation_id: str | None, record: SpendRecord) -> None:
        nano, exact = _nano(record.usd)
        row = (reservation_id, nano, exact, record.session_id, record.scope, record.model,
               record.kind, f"{record.usd:f}", (record.at - _EPOCH) // _MICRO,
               json.dumps(dict(record.detail)))
        with self._transaction("commit", "BEGIN IMMEDIATE") as conn:
            if reservation_id is not None:
                earlier = conn.execute(f"SELECT {_COLUMNS} FROM records WHERE reservation_id = ?",
                                       (reservation_id,)).fetchone()
                if earlier is not None:
                    if _same(self._record(earlier), record):
                        return
                    raise LedgerError(f"reservation {reservation_id} was already committed with "
                                      "a different record", path=self.path, operation="commit")
                conn.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
            conn.execute(f"INSERT INTO records (reservation_id, usd_nano, nano_exact, {_COLUMNS})"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def _release(self, reservation_id: str) -> None:
        with self._transaction("release", "BEGIN IMMEDIATE") as conn:
            conn.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))

    def _spent(self, scope: str | None, session_id: str | None, since: datetime | None,
               until: datetime | None) -> Decimal:
        with self._transaction("spent") as conn:
            return self._sum(conn, "records", *_where([], [], scope, session_id, since, until))

    def _reserved(self, scope: str | None, now: float) -> Decimal:
        with self._transaction("reserved") as conn:
            return self._sum(conn, "reservations", *_where(["expires_at > ?"], [now], scope))

    @staticmethod
    def _record(row: tuple[Any, ...]) -> SpendRecord:
        session_id, scope, model, kind, usd, at_us, detail = row
        return SpendRecord(session_id=session_id, scope=scope, model=model, kind=kind,
                           usd=Decimal(usd), at=_EPOCH + at_us * _MICRO,
                           detail=json.loads(detail))

    def _records(self, scope: str | None, session_id: str | None,
                 limit: int | None) -> list[SpendRecord]:
        where, args = _where([], [], scope, session_id)
        sql = f"SELECT {_COLUMNS} FROM records{where} ORDER BY seq DESC LIMIT ?"
        with self._transaction("records") as conn:
            rows = conn.execute(sql, [*args, -1 if limit is None else limit]).fetchall()
        return [self._record(row) for row in reversed(rows)]

    def _scopes(self, now: float) -> list[str]:
        with self._transaction("scopes") as conn:
            rows = conn.execute("SELECT DISTINCT scope FROM records UNION SELECT scope FROM "
                                "reservations WHERE expires_at > ? ORDER BY scope", (now,))
            return [scope for scope, in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn, self._closed = None, True

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"


_FORMS = ("'memory', 'sqlite:///relative/file.db', 'sqlite:////absolute/file.db', a path "
          "ending in .db, .sqlite or .sqlite3, or 'redis://host:port/db'")



def period_start(period: str, now: datetime | None = None) -> datetime | None:
    """Start of the current UTC ``day`` or ``month`` (budget periods), or None for ``all``.

    >>> period_start("month", datetime(2026, 11, 25, 17, 3, tzinfo=UTC)).isoformat()
    '2026-11-01T00:00:00+00:00'
    """
    now = now or datetime.now(UTC)
    if period == "day":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if period == "all":
        return None
    raise ValueError(f"period must be day, month or all, got {period!r}")


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
            from .ledger_redis import RedisLedger
        except ImportError as exc:
            raise LedgerError(f"the Redis backend needs the redis package ({exc}); "
                              "pip install 'costmodel[redis]'", path=shown) from None
        return RedisLedger(text)
    if "://" not in text and lower.endswith((".db", ".sqlite", ".sqlite3")):
        return SQLiteLedger(Path(text).expanduser())
    raise LedgerError(f"unsupported ledger URL; use {_FORMS}", path=shown)
