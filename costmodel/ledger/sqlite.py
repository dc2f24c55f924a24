"""`SQLiteLedger`: a ledger in one SQLite file (WAL), shared by threads and processes."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..errors import LedgerError
from ..money import EXACT, exact_sum
from .base import (
    DAY_US,
    EPOCH,
    MICRO,
    DaySpend,
    Ledger,
    Reservation,
    SpendRecord,
    conflict,
    day_totals,
    refuse,
    same_record,
    utc,
)
from .sqlite_totals import FINE_INDEX, committed, ensure_totals


def _nano(amount: Decimal) -> tuple[int | None, int]:
    """(nano-dollars rounded half-even, 1 if that rounding was exact else 0)."""
    if amount.adjusted() >= 9:         # >= $10^9 a row: keep clear of int64 nano-dollars
        return None, 0
    scaled = amount.scaleb(9, EXACT)
    nano = int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))
    return nano, int(nano == scaled)




_EPOCH_DAY = EPOCH.date()

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
# Schema version -> the statements that bring a file at that version to the next one. A new
# file gets _SCHEMA (version 1) and then every migration, so the migrations are always run.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE records ADD COLUMN record_id TEXT",  # the idempotency key
        "CREATE UNIQUE INDEX records_record_id ON records (record_id)"),
}
# Indexes that only make reads faster: added at open to a file that lacks one, without a new
# schema version (a costmodel that does not know an index still reads and writes the file).
_DERIVED = {
    # spent_by_day: its GROUP BY per UTC day, scope and model walks this index in order and
    # reads nothing else (3M records: 0.6 s, against 3.3 s to sort them from the table).
    "records_day": f"CREATE INDEX IF NOT EXISTS records_day ON records (at_us / {DAY_US}, "
                   "scope, model, session_id, nano_exact, usd_nano, at_us)",
    # ... and the exact text of the amounts finer than a nano-dollar, only theirs.
    "records_day_fine": f"CREATE INDEX IF NOT EXISTS records_day_fine ON records (at_us / "
                        f"{DAY_US}, scope, model, nano_exact, usd, at_us) WHERE nano_exact = 0",
    # the amounts finer than a nano-dollar of a scope's period, when its totals count some
    "records_scope_fine": FINE_INDEX,
    # purging expired holds reads only those (it read the whole table at every reservation)
    "reservations_expiry": "CREATE INDEX IF NOT EXISTS reservations_expiry ON reservations "
                           "(expires_at)",
}
_COLUMNS = "session_id, scope, model, kind, usd, at_us, detail, record_id"
# Rows from before version 2 have no id: name them by their row number.
_SELECT = ("session_id, scope, model, kind, usd, at_us, detail, "
           "COALESCE(record_id, 'sqlite-row-' || seq)")


def _where(clauses: list[str], args: list[Any], scope: str | None = None,
           session_id: str | None = None, since: datetime | None = None,
           until: datetime | None = None) -> tuple[str, list[Any]]:
    for column, op, value in (("scope", "=", scope), ("session_id", "=", session_id),
                              ("at_us", ">=", since), ("at_us", "<", until)):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            args.append((utc(value, column) - EPOCH) // MICRO
                        if isinstance(value, datetime) else value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _day_where(scope: str | None, since: datetime | None,
               until: datetime | None) -> tuple[str, list[Any]]:
    """`_where` for `SQLiteLedger._spent_by_day`: the time bounds also on the day, so the
    ``records_day`` index serves them."""
    clauses: list[str] = []
    args: list[Any] = []
    if scope is not None:
        clauses.append("scope = ?")
        args.append(scope)
    for bound, day_op, op in ((since, ">=", ">="), (until, "<=", "<")):
        if bound is not None:
            us = (bound - EPOCH) // MICRO
            clauses += [f"at_us / {DAY_US} {day_op} ?", f"at_us {op} ?"]
            args += [us // DAY_US, us]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class SQLiteLedger(Ledger):
    """A ledger in one SQLite file, shared safely by threads and processes.

    WAL journal with ``synchronous=FULL`` for spend: once `commit` returns, the spend survives a
    crash of the process (or, with a disk that honours fsync, of the machine). Holds are not
    fsynced (`reserve` and `release` run with ``synchronous=NORMAL``, a per-connection setting):
    a power loss may forget the last holds, which would lapse anyway; the next durable commit's
    fsync of the write-ahead log covers them too. `reserve` runs in a ``BEGIN IMMEDIATE``
    transaction, so its check and insert are atomic across processes; it reads the scope's
    committed spend from running totals per scope and UTC day (`sqlite_totals`).
    Amounts are stored twice: ``usd`` as exact decimal text and ``usd_nano`` as integer
    nano-dollars rounded half-even, with ``nano_exact`` marking rows where that rounding lost
    nothing. `spent` sums ``usd_nano`` in SQL for exact rows and adds the decimal text of the
    others in Python, so it returns exactly the sum of the committed amounts.
    """

    SCHEMA_VERSION = 2

    def __init__(self, path: str | os.PathLike[str], *, timeout_seconds: float = 10.0) -> None:
        self.path = os.fspath(path)
        self._timeout = timeout_seconds
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._closed = False
        self._durable = True   # the connection's synchronous setting is FULL
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
                    version = 1
                while version in _MIGRATIONS:
                    for statement in _MIGRATIONS[version]:
                        conn.execute(statement)
                    version += 1
                    conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
                if version != self.SCHEMA_VERSION:
                    raise LedgerError(f"schema version {version} is not the one this costmodel "
                                      f"uses ({self.SCHEMA_VERSION})",
                                      path=self.path, operation="open")
            self._add_derived(conn)
            ensure_totals(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, "open") from exc
            raise
        return conn

    @staticmethod
    def _add_derived(conn: sqlite3.Connection) -> None:
        """Create the `_DERIVED` indexes the file lacks: once per file (a large one takes
        seconds, ~2 s per million records), by whichever process opens it first."""
        present = {name for name, in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        missing = [sql for name, sql in _DERIVED.items() if name not in present]
        if missing:
            conn.execute("BEGIN IMMEDIATE")
            for statement in missing:   # (IF NOT EXISTS: another process may have been first)
                conn.execute(statement)
            conn.execute("COMMIT")

    def _db(self, operation: str) -> sqlite3.Connection:
        if self._closed:
            raise LedgerError("the ledger is closed", path=self.path, operation=operation)
        if self._pid != os.getpid():      # forked: never use the parent's connection
            self._conn, self._pid, self._durable = self._open(), os.getpid(), True
        assert self._conn is not None
        return self._conn

    @contextmanager
    def _transaction(self, operation: str, begin: str = "BEGIN",
                     durable: bool | None = None) -> Iterator[sqlite3.Connection]:
        """``durable``: True for a write that must reach the disk before it returns (spend), False
        for one that need not (holds), None for a read."""
        with self._lock:
            conn = self._db(operation)
            try:
                if durable is not None and durable != self._durable:
                    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                    self._durable = durable
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
            return exact_sum([Decimal(nano).scaleb(-9, EXACT), *(Decimal(t) for t, in texts)])
        return exact_sum(Decimal(t) for t, in conn.execute(f"SELECT usd FROM {table}{where}",
                                                             args))

    def _reserve(self, hold: Reservation, now: float, limit: Decimal | None,
                 since: datetime | None) -> None:
        with self._transaction("reserve", "BEGIN IMMEDIATE", durable=False) as conn:
            conn.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
            if limit is not None:
                spent = self._committed(conn, hold.scope, since, None)
                held = self._sum(conn, "reservations", " WHERE scope = ?", [hold.scope])
                refuse(hold.scope, hold.usd, limit, spent, held)
            conn.execute("INSERT INTO reservations VALUES (?, ?, ?, ?, ?)", (
                hold.id, hold.scope, hold.session_id, f"{hold.usd:f}", hold.expires_at))

    def _commit(self, reservation_id: str | None, record: SpendRecord) -> bool:
        nano, exact = _nano(record.usd)
        row = (reservation_id, nano, exact, record.session_id, record.scope, record.model,
               record.kind, f"{record.usd:f}", (record.at - EPOCH) // MICRO,
               json.dumps(dict(record.detail)), record.id)
        with self._transaction("commit", "BEGIN IMMEDIATE", durable=True) as conn:
            earlier = conn.execute(f"SELECT {_SELECT} FROM records WHERE record_id = ? OR "
                                   "reservation_id = ?", (record.id, reservation_id)).fetchone()
            if earlier is not None:
                if same_record(self._record(earlier), record):
                    return False
                raise conflict(f"record {record.id} / reservation {reservation_id}", self.path,
                               self._record(earlier))
            if reservation_id is not None:
                conn.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
            conn.execute(f"INSERT INTO records (reservation_id, usd_nano, nano_exact, {_COLUMNS})"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return True

    def _release(self, reservation_id: str) -> None:
        with self._transaction("release", "BEGIN IMMEDIATE", durable=False) as conn:
            conn.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))

    def _spent(self, scope: str | None, session_id: str | None, since: datetime | None,
               until: datetime | None) -> Decimal:
        with self._transaction("spent") as conn:
            if session_id is None:
                return self._committed(conn, scope, since, until)
            return self._sum(conn, "records", *_where([], [], scope, session_id, since, until))

    def _committed(self, conn: sqlite3.Connection, scope: str | None, since: datetime | None,
                   until: datetime | None) -> Decimal:
        """A scope's committed spend from the running totals, or from its records where the
        totals cannot say."""
        total = committed(conn, scope, since, until)
        if total is None:
            total = self._sum(conn, "records", *_where([], [], scope, since=since, until=until))
        return total

    def _spent_by_day(self, scope: str | None, since: datetime | None,
                      until: datetime | None, sessions: bool) -> list[DaySpend]:
        """One GROUP BY over the ``records_day`` index: the exact rows' nano-dollars summed
        in SQL; the others' decimal text (from ``records_day_fine``) added in Python, only
        when a group has such rows."""
        where, args = _day_where(scope, since, until)
        distinct = ", COUNT(DISTINCT session_id)" if sessions else ""
        # (integer division truncates: a time before 1970 would be put on the wrong day)
        sql = (f"SELECT at_us / {DAY_US}, scope, model, SUM(usd_nano * nano_exact), "
               f"SUM(1 - nano_exact), COUNT(*){distinct} FROM records{where} GROUP BY 1, 2, 3 "
               "ORDER BY 1, 2, 3")
        with self._transaction("spent_by_day") as conn:
            try:
                groups = conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if "overflow" not in str(exc):
                    raise
                # Past 2**63 nano-dollars in one group: every amount as its exact text.
                rows = conn.execute(f"SELECT {_SELECT} FROM records{where}", args)
                return day_totals((self._record(row) for row in rows), sessions)
            fine: dict[tuple[int, str, str], str] = {}
            if any(g[4] for g in groups):   # (the amounts travel as one text a group)
                rest = where + (" AND" if where else " WHERE") + " nano_exact = 0"
                fine = {(day, s, m): texts for day, s, m, texts in conn.execute(
                    f"SELECT at_us / {DAY_US}, scope, model, group_concat(usd, ' ') FROM "
                    f"records{rest} GROUP BY 1, 2, 3", args)}
        out = []
        for day, s, m, nano, _, n, *distinct_sessions in groups:
            texts = fine.get((day, s, m))
            usd = exact_sum([Decimal(nano or 0).scaleb(-9, EXACT),
                             *(map(Decimal, texts.split(" ")) if texts else ())])
            out.append(DaySpend(_EPOCH_DAY + timedelta(days=day), s, m, usd, n,
                                distinct_sessions[0] if sessions else None))
        return out

    def _reserved(self, scope: str | None, now: float) -> Decimal:
        with self._transaction("reserved") as conn:
            return self._sum(conn, "reservations", *_where(["expires_at > ?"], [now], scope))

    @staticmethod
    def _record(row: tuple[Any, ...]) -> SpendRecord:
        session_id, scope, model, kind, usd, at_us, detail, record_id = row
        return SpendRecord(id=record_id, session_id=session_id, scope=scope, model=model,
                           kind=kind, usd=Decimal(usd), at=EPOCH + at_us * MICRO,
                           detail=json.loads(detail))

    def _records(self, scope: str | None, session_id: str | None,
                 limit: int | None) -> list[SpendRecord]:
        where, args = _where([], [], scope, session_id)
        sql = f"SELECT {_SELECT} FROM records{where} ORDER BY seq DESC LIMIT ?"
        with self._transaction("records") as conn:
            rows = conn.execute(sql, [*args, -1 if limit is None else limit]).fetchall()
        return [self._record(row) for row in reversed(rows)]

    def _scopes(self, now: float) -> list[str]:
        with self._transaction("scopes") as conn:
            rows = conn.execute("SELECT DISTINCT scope FROM records UNION SELECT scope FROM "
                                "reservations WHERE expires_at > ? ORDER BY scope", (now,))
            return [scope for scope, in rows]

    @property
    def key(self) -> str:
        return self.key_for(self.path)

    @staticmethod
    def key_for(path: str | os.PathLike[str]) -> str:
        """The key of the file at `path`, however it is spelled (its real path)."""
        return f"sqlite:{os.path.realpath(path)}"

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn, self._closed = None, True

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"
