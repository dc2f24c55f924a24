"""Running spend totals per scope and UTC day in a `SQLiteLedger` file (table ``spend_days``).

A reservation with a month budget used to sum the scope's month of records (300,000 records
for 50 tenants: 0.9 ms a reservation); it now adds at most 31 rows of ``spend_days``, plus the
records of a partial day at either end of the period (none for day and month budgets).

The totals are kept by SQLite triggers on ``records``, not by `SQLiteLedger` itself, so that
every writer keeps them: a costmodel from before the totals, the ``sqlite3`` shell, a bench
that fills the file with plain INSERTs. Like the derived indexes, they are added at open to a
file that lacks them, without a new schema version: an older costmodel reads and writes the
file as before (its inserts fire the triggers), and a file it created gets its totals built,
once, by the first newer costmodel that opens it.

Money stays exact: a day's row holds the integer nano-dollars of its exact records
(``nano_exact = 1``) and only the *count* of the others (amounts finer than a nano-dollar, or
from $10^9); when a range has such records, their decimal text is read from the partial index
``records_scope_fine`` and added in Python. SQLite turns an integer sum that overflows int64
into a REAL: a range with a REAL total is summed from the records instead.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..money import EXACT, exact_sum
from .base import DAY_US, EPOCH, MICRO

_DAY = f"at_us / {DAY_US}"   # the record's UTC day (for at_us >= 0; see `committed`)


def _add(row: str, sign: str) -> str:
    """The statements adding (sign '+') or taking away ('-') record ``row`` (NEW/OLD)."""
    return (f"INSERT OR IGNORE INTO spend_days VALUES ({row}.scope, {row}.{_DAY}, 0, 0); "
            f"UPDATE spend_days SET "
            f"nano = nano {sign} (CASE {row}.nano_exact WHEN 1 THEN {row}.usd_nano ELSE 0 END), "
            f"fine = fine {sign} ({row}.nano_exact = 0) "
            f"WHERE scope = {row}.scope AND day = {row}.{_DAY};")


# (INSERT OR IGNORE + UPDATE rather than an upsert: the SQLite of an older costmodel's Python
# must parse the triggers too.)
TABLE = """CREATE TABLE spend_days (
        scope TEXT NOT NULL,
        day   INTEGER NOT NULL,   -- at_us / 86400000000
        nano  INTEGER NOT NULL,   -- sum of usd_nano of the day's records with nano_exact = 1
        fine  INTEGER NOT NULL,   -- how many of the day's records have nano_exact = 0
        PRIMARY KEY (scope, day)
    ) WITHOUT ROWID"""
TRIGGERS = {
    "spend_days_insert": f"CREATE TRIGGER spend_days_insert AFTER INSERT ON records BEGIN "
                         f"{_add('NEW', '+')} END",
    "spend_days_delete": f"CREATE TRIGGER spend_days_delete AFTER DELETE ON records BEGIN "
                         f"{_add('OLD', '-')} END",
    "spend_days_update": f"CREATE TRIGGER spend_days_update AFTER UPDATE OF scope, at_us, "
                         f"usd_nano, nano_exact ON records BEGIN {_add('OLD', '-')} "
                         f"{_add('NEW', '+')} END",
}
# The records finer than a nano-dollar, by scope and time, with their exact text: what a
# range whose totals count such records reads (only theirs).
FINE_INDEX = ("CREATE INDEX IF NOT EXISTS records_scope_fine ON records (scope, at_us, usd) "
              "WHERE nano_exact = 0")


def ensure_totals(conn: sqlite3.Connection) -> bool:
    """Create ``spend_days`` and its triggers if the file lacks any of them, built from the
    records in the same transaction (so no insert falls between the build and the triggers).
    True if they were built (3M records: about a second, once per file)."""
    def missing() -> bool:
        present = {name for name, in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
        return not {"spend_days", *TRIGGERS} <= present

    if not missing():
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not missing():            # another process was first
            conn.execute("COMMIT")
            return False
        for name in TRIGGERS:        # (some were there: one was dropped, so rebuild all)
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute("DROP TABLE IF EXISTS spend_days")
        conn.execute(TABLE)
        build = (f"INSERT INTO spend_days SELECT scope, {_DAY}, {{}}(CASE nano_exact WHEN 1 "
                 f"THEN usd_nano ELSE 0 END), SUM(nano_exact = 0) FROM records GROUP BY 1, 2")
        try:
            conn.execute(build.format("SUM"))
        except sqlite3.OperationalError as exc:   # past int64 in a day: a REAL, summed later
            if "overflow" not in str(exc):
                raise
            conn.execute("DELETE FROM spend_days")
            conn.execute(build.format("TOTAL"))
        for sql in TRIGGERS.values():
            conn.execute(sql)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


def _us(value: datetime) -> int:
    return (value - EPOCH) // MICRO


def committed(conn: sqlite3.Connection, scope: str | None, since: datetime | None,
              until: datetime | None) -> Decimal | None:
    """Exact committed spend of ``scope`` (every scope if None) in [since, until), from the
    totals: whole days from ``spend_days``, a partial day at either end from the records. None
    when the totals cannot say (a bound before 1970-01-02, where integer division does not
    give the day; a REAL total): the caller sums the records. Call inside a transaction."""
    lo = None if since is None else _us(since)
    hi = None if until is None else _us(until)
    if (lo is not None and lo < DAY_US) or (hi is not None and hi < DAY_US):
        return None
    first = None if lo is None else -(-lo // DAY_US)   # whole days [first, last)
    last = None if hi is None else hi // DAY_US
    if first is not None and last is not None and first >= last:
        return _records_sum(conn, scope, lo, hi)           # within one day
    clauses: list[str] = [] if scope is None else ["scope = ?"]
    args: list[Any] = [] if scope is None else [scope]
    for bound, op in ((first, ">="), (last, "<")):
        if bound is not None:
            clauses.append(f"day {op} ?")
            args.append(bound)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    nano, fine = 0, 0
    for day_nano, day_fine in conn.execute(f"SELECT nano, fine FROM spend_days{where}", args):
        if type(day_nano) is not int:
            return None
        nano += day_nano
        fine += day_fine
    parts = [Decimal(nano).scaleb(-9, EXACT)]
    if fine:
        parts.append(_fine_sum(conn, scope, None if first is None else first * DAY_US,
                               None if last is None else last * DAY_US))
    if first is not None and lo is not None and lo < first * DAY_US:
        parts.append(_records_sum(conn, scope, lo, first * DAY_US))
    if last is not None and hi is not None and last * DAY_US < hi:
        parts.append(_records_sum(conn, scope, last * DAY_US, hi))
    return exact_sum(parts)


def _range(scope: str | None, lo: int | None, hi: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = [] if scope is None else ["scope = ?"]
    args: list[Any] = [] if scope is None else [scope]
    for bound, op in ((lo, ">="), (hi, "<")):
        if bound is not None:
            clauses.append(f"at_us {op} ?")
            args.append(bound)
    return " AND ".join(clauses), args


def _fine_sum(conn: sqlite3.Connection, scope: str | None, lo: int | None,
              hi: int | None) -> Decimal:
    where, args = _range(scope, lo, hi)
    sql = "SELECT usd FROM records WHERE " + (f"{where} AND " if where else "") + \
        "nano_exact = 0"
    return exact_sum(Decimal(text) for text, in conn.execute(sql, args))


def _records_sum(conn: sqlite3.Connection, scope: str | None, lo: int | None,
                 hi: int | None) -> Decimal:
    """The records of part of a day: few, summed as `SQLiteLedger` sums records."""
    where, args = _range(scope, lo, hi)
    where = (f"{where} AND " if where else "")
    nano = conn.execute(f"SELECT COALESCE(SUM(usd_nano), 0) FROM records WHERE {where}"
                        "nano_exact = 1", args).fetchone()[0]
    return exact_sum([Decimal(nano).scaleb(-9, EXACT), _fine_sum(conn, scope, lo, hi)])
