"""The ledger's contract: spend records, reservations, exact money, and the `Ledger` base.

Backends implement the underscored primitives of `Ledger` (see its docstring); the helpers
here (exact sums, the refusal check, record equality) are shared by every backend.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Self

from ..errors import BudgetExceeded, LedgerConflictError, UsageError
from ..money import EXACT, exact_sum, plain, tidy, to_usd

DEFAULT_SCOPE = "default"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
DAY_US = 86_400_000_000   # microseconds in a UTC day


def _utcnow() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime, what: str) -> datetime:
    if type(value) is datetime and value.tzinfo is UTC:   # already what is asked: no copy
        return value
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise UsageError(f"{what} must be a timezone-aware datetime, not {value!r}")
    return value.astimezone(UTC)


_NO_DETAIL: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendRecord:
    """Money actually spent: one response, transcription, connection charge or estimate.

    ``at`` is normalised to UTC (naive datetimes are refused); ``detail`` holds JSON-serialisable
    extras and is stored read-only. ``id`` is the record's idempotency key: a ledger stores a
    record once however many times it is committed (a retry, a spool replayed twice).
    """

    session_id: str
    scope: str = DEFAULT_SCOPE
    model: str
    usd: Decimal
    at: datetime = field(default_factory=_utcnow)
    kind: str = "response"   # "response", "transcription", "connection", "estimate", ...
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: os.urandom(16).hex())  # (uuid4 costs 5x more)

    def __post_init__(self) -> None:
        if not self.scope or not isinstance(self.scope, str):
            raise UsageError(f"scope must be a non-empty string, not {self.scope!r}")
        if not isinstance(self.id, str) or not 0 < len(self.id) <= 128:
            raise UsageError(f"id must be a string of 1 to 128 characters, not {self.id!r}")
        # Floats are refused here: a float amount means money was computed in binary somewhere.
        object.__setattr__(self, "usd", to_usd(self.usd, "usd", allow_float=False))
        object.__setattr__(self, "at", utc(self.at, "at"))
        if type(self.detail) is dict and not self.detail:   # most records: nothing to check
            object.__setattr__(self, "detail", _NO_DETAIL)
            return
        detail = dict(self.detail)
        try:
            json.dumps(detail)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"detail must be JSON-serialisable: {exc}") from None
        object.__setattr__(self, "detail", MappingProxyType(detail))


def same_record(a: SpendRecord, b: SpendRecord) -> bool:
    """Equal spend (the ids aside): a retry of a commit, not a second spend."""
    def key(r: SpendRecord) -> tuple[Any, ...]:
        return (r.session_id, r.scope, r.model, r.usd, r.at, r.kind,
                json.dumps(dict(r.detail), sort_keys=True))
    return key(a) == key(b)


def conflict(what: str, path: str, earlier: SpendRecord | None = None) -> LedgerConflictError:
    """The error for a second, different record under an id or reservation already paid."""
    return LedgerConflictError(f"{what} was already committed with a different record"
                               + (f" ({earlier.id})" if earlier is not None else ""),
                               path=path, operation="commit")


def record_to_json(record: SpendRecord) -> dict[str, Any]:
    """A record as a JSON object, money as an exact decimal string, time in unix microseconds.

    >>> r = SpendRecord(id="r1", session_id="s", model="m", usd=Decimal("0.0125"),
    ...                 at=datetime(2026, 11, 29, tzinfo=UTC))
    >>> record_from_json(record_to_json(r)) == r
    True
    """
    return {"id": record.id, "session_id": record.session_id, "scope": record.scope,
            "model": record.model, "kind": record.kind, "usd": plain(record.usd),
            "at_us": (record.at - EPOCH) // MICRO, "detail": dict(record.detail)}


def record_from_json(d: Mapping[str, Any], default_id: str | None = None) -> SpendRecord:
    """The inverse of `record_to_json`; ``default_id`` for records stored before ids existed.
    Raises `UsageError` (a ValueError; or KeyError/TypeError) on a malformed object."""
    at_us = d["at_us"]
    if type(at_us) is not int:
        raise UsageError(f"at_us must be an integer, not {at_us!r}")
    return SpendRecord(id=d.get("id") or default_id or uuid.uuid4().hex,
                       session_id=d["session_id"], scope=d["scope"], model=d["model"],
                       kind=d["kind"], usd=Decimal(d["usd"]), at=EPOCH + at_us * MICRO,
                       detail=d["detail"])


@dataclass(frozen=True, slots=True)
class DaySpend:
    """Committed spend of one UTC day, scope and model (`Ledger.spent_by_day`): the exact sum,
    how many records it adds up, and (when asked for) how many distinct sessions spent."""

    day: date
    scope: str
    model: str
    usd: Decimal
    records: int
    sessions: int | None = None


def day_totals(records: Iterable[SpendRecord], sessions: bool = False) -> list[DaySpend]:
    """`DaySpend` rows of some records, sorted by day, scope and model: what a backend
    without an aggregate of its own returns from one pass over its records.

    >>> at = datetime(2026, 11, 29, 23, 59, tzinfo=UTC)
    >>> rs = [SpendRecord(session_id="s", model="m", usd=Decimal(u), at=at + n * MICRO * 6e7)
    ...       for n, u in enumerate(["0.1", "0.2", "0.3"])]     # 23:59, 00:00, 00:01
    >>> [(d.day.isoformat(), d.usd, d.records) for d in day_totals(rs)]
    [('2026-11-29', Decimal('0.1'), 1), ('2026-11-30', Decimal('0.5'), 2)]
    """
    sums: dict[tuple[date, str, str], list[Decimal]] = {}
    seen: dict[tuple[date, str, str], set[str]] = {}
    for r in records:
        key = (r.at.date(), r.scope, r.model)
        sums.setdefault(key, []).append(r.usd)
        if sessions:
            seen.setdefault(key, set()).add(r.session_id)
    return [DaySpend(day, scope, model, exact_sum(amounts), len(amounts),
                     len(seen[(day, scope, model)]) if sessions else None)
            for (day, scope, model), amounts in sorted(sums.items())]


@dataclass(frozen=True, slots=True)
class Reservation:
    """Budget held for spending that is about to happen; live until ``expires_at`` (unix s)."""

    id: str
    scope: str
    session_id: str
    usd: Decimal
    expires_at: float


def refuse(scope: str, usd: Decimal, limit: Decimal, committed: Decimal,
            held: Decimal) -> None:
    """Raise `BudgetExceeded` if committed + held + usd would pass limit."""
    total = EXACT.add(EXACT.add(committed, held), usd)
    if total <= limit:
        return
    raise BudgetExceeded(
        f"scope {scope!r}: reserving ${usd} would pass the ${limit} limit (committed "
        f"${tidy(committed)} + reserved ${tidy(held)} + ${usd} = ${tidy(total)})",
        scope=scope, limit_usd=limit, requested_usd=usd, spent_usd=tidy(committed),
        reserved_usd=tidy(held))


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
            raise UsageError(f"scope must be a non-empty string, not {scope!r}")
        if not ttl_seconds > 0:
            raise UsageError(f"ttl_seconds must be > 0, not {ttl_seconds}")
        t = time.time() if now is None else float(now)
        amount = to_usd(usd, "usd", allow_float=False)
        limit = None if limit_usd is None else to_usd(limit_usd, "limit_usd", allow_float=False)
        hold = Reservation(os.urandom(16).hex(), scope, session_id, amount, t + ttl_seconds)
        self._reserve(hold, t, limit, None if since is None else utc(since, "since"))
        return hold

    def commit(self, reservation: Reservation | None, record: SpendRecord) -> bool:
        """Append ``record`` and drop ``reservation`` (if any), atomically; True if the record
        was stored, False if the ledger held it already.

        The spend is recorded even if the reservation expired or is unknown. Committing a
        record whose ``id`` is already stored, or the same reservation again, with an equal
        record is a no-op (a safe retry: False); with a different record it raises
        `LedgerConflictError` (each id, and each reservation, pays for one spend).
        """
        if not isinstance(record, SpendRecord):
            raise UsageError(f"record must be a SpendRecord, not {type(record).__name__}")
        return self._commit(None if reservation is None else reservation.id, record)

    def record(self, record: SpendRecord) -> bool:
        """Append spend that had no reservation: ``commit(None, record)``."""
        return self.commit(None, record)

    def release(self, reservation: Reservation | None) -> None:
        """Drop a reservation without spending (idempotent; ``None`` is ignored)."""
        if reservation is not None:
            self._release(reservation.id)

    def spent(self, *, scope: str | None = None, session_id: str | None = None,
              since: datetime | None = None, until: datetime | None = None) -> Decimal:
        """Exact sum of committed spend; ``since`` inclusive, ``until`` exclusive."""
        return self._spent(scope, session_id, None if since is None else utc(since, "since"),
                           None if until is None else utc(until, "until"))

    def spent_by_day(self, *, scope: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, sessions: bool = False) -> list[DaySpend]:
        """Exact committed spend per UTC day, scope and model (`DaySpend` rows sorted by day,
        scope, model); ``since`` inclusive, ``until`` exclusive. With ``sessions``, each row
        also counts the distinct sessions that spent that day (a session running past
        midnight counts on both days). What `costmodel reconcile` lines up with the bills.
        """
        return self._spent_by_day(scope, None if since is None else utc(since, "since"),
                                  None if until is None else utc(until, "until"), sessions)

    def reserved(self, *, scope: str | None = None, now: float | None = None) -> Decimal:
        """Exact sum of the live reservations (unexpired at ``now``, unix seconds)."""
        return self._reserved(scope, time.time() if now is None else float(now))

    def records(self, *, scope: str | None = None, session_id: str | None = None,
                limit: int | None = None) -> list[SpendRecord]:
        """Committed records in commit order; with ``limit``, the most recent ``limit`` ones."""
        if limit is not None and limit < 0:
            raise UsageError(f"limit must be >= 0, not {limit}")
        return [] if limit == 0 else self._records(scope, session_id, limit)

    def scopes(self) -> list[str]:
        """Sorted scopes that have committed spend or live reservations."""
        return self._scopes(time.time())

    @property
    @abstractmethod
    def key(self) -> str:
        """What names this store across processes (no credentials): spend spooled for it
        while it was down is kept under this key and flushed back into it only."""

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
    def _commit(self, reservation_id: str | None, record: SpendRecord) -> bool:
        """Atomically: if ``record.id`` is stored, or ``reservation_id`` already paid for a
        record, return False when that record is `same_record` as ``record`` and raise
        `conflict` otherwise; else drop that reservation, append ``record``, return True."""

    @abstractmethod
    def _release(self, reservation_id: str) -> None: ...

    @abstractmethod
    def _spent(self, scope: str | None, session_id: str | None, since: datetime | None,
               until: datetime | None) -> Decimal: ...

    def _spent_by_day(self, scope: str | None, since: datetime | None,
                      until: datetime | None, sessions: bool) -> list[DaySpend]:
        """One pass over the records; a backend with an aggregate of its own overrides it."""
        return day_totals((r for r in self._records(scope, None, None)
                           if (since is None or r.at >= since) and (until is None or r.at < until)),
                          sessions)

    @abstractmethod
    def _reserved(self, scope: str | None, now: float) -> Decimal: ...

    @abstractmethod
    def _records(self, scope: str | None, session_id: str | None,
                 limit: int | None) -> list[SpendRecord]: ...

    @abstractmethod
    def _scopes(self, now: float) -> list[str]: ...




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
    raise UsageError(f"period must be day, month or all, got {period!r}")

