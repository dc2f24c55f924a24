"""`MemoryLedger`: an in-process ledger, the default."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from ..errors import LedgerError
from ..money import EXACT, exact_sum
from .base import (
    DaySpend,
    Ledger,
    Reservation,
    SpendRecord,
    conflict,
    day_totals,
    refuse,
    same_record,
)


class MemoryLedger(Ledger):
    """An in-process ledger (the default): one lock, per-scope running totals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records_: list[SpendRecord] = []
        self._totals: dict[str, Decimal] = {}
        self._held: dict[str, Reservation] = {}
        self._paid: dict[str, SpendRecord] = {}   # reservation id -> the record it paid for
        self._ids: dict[str, SpendRecord] = {}    # record id -> the record
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
                             exact_sum(r.usd for r in self._select(hold.scope, None, since)))
                held = exact_sum(r.usd for r in self._held.values() if r.scope == hold.scope)
                refuse(hold.scope, hold.usd, limit, committed, held)
            self._held[hold.id] = hold

    def _commit(self, reservation_id: str | None, record: SpendRecord) -> bool:
        with self._locked():
            earlier = self._ids.get(record.id)
            if earlier is None and reservation_id is not None:
                earlier = self._paid.get(reservation_id)
            if earlier is not None:
                if same_record(earlier, record):
                    return False
                raise conflict(f"record {record.id} / reservation {reservation_id}", "memory",
                               earlier)
            if reservation_id is not None:
                self._held.pop(reservation_id, None)
                self._paid[reservation_id] = record
            self._ids[record.id] = record
            self._records_.append(record)
            self._totals[record.scope] = EXACT.add(self._totals.get(record.scope, 0), record.usd)
            return True

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
            return exact_sum(r.usd for r in self._select(scope, session_id, since, until))

    def _spent_by_day(self, scope: str | None, since: datetime | None,
                      until: datetime | None, sessions: bool) -> list[DaySpend]:
        with self._locked():
            return day_totals(self._select(scope, None, since, until), sessions)

    def _reserved(self, scope: str | None, now: float) -> Decimal:
        with self._locked():
            return exact_sum(r.usd for r in self._held.values()
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

    @property
    def key(self) -> str:
        return f"memory-{os.getpid()}-{id(self):x}"   # private to this object

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def __repr__(self) -> str:
        return "MemoryLedger()"

