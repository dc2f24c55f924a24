"""What each tenant used, per UTC day: cost from the ledger, calls and minutes from spend logs.

The ledger knows what was spent (`Ledger.spent_by_day`: exact, per day, scope and model, and
the distinct sessions that spent) but not how long calls lasted: its records carry dollars,
not seconds. Minutes come from spend logs (`costmodel.guard.spendlog`), whose line per
session says its ``seconds``; a call's minutes and the call itself count on the UTC day it
started. Without a spend log the minutes are unknown (None), never 0, and calls are the
ledger's sessions: per day, the most that spent on any one model (a call spends on its
stack's main model), so a call spending on both sides of midnight counts on both days.

With spend logs, a day's minutes are known only when the logs hold every session the ledger
saw spend that day (at least as many sessions started or still running that day): a spend
log of one worker out of two would otherwise halve the minutes billed, silently.

Days are read from the first day of the window's first month: included minutes are used up
from the month's first call (`MeteredUsage.days` says which days are in the window).

>>> from costmodel.ledger import MemoryLedger, SpendRecord
>>> from costmodel.reconcile.window import Window
>>> at = datetime(2026, 11, 25, 9, tzinfo=UTC)
>>> with MemoryLedger() as ledger:
...     _ = ledger.record(SpendRecord(session_id="c1", scope="acme", model="m",
...                                   usd=Decimal("0.20"), at=at))
...     usage = read_usage(ledger, window=Window(date(2026, 11, 25), date(2026, 11, 25)))
>>> d = usage.days[0]
>>> (d.tenant, d.day.isoformat(), d.cost_usd, d.calls, d.seconds)   # no spend log: no minutes
('acme', '2026-11-25', Decimal('0.2'), 1, None)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from .._redact import mask_url
from ..money import exact_sum, to_decimal
from ..reconcile.window import EVERY_DAY, Window
from .cards import month_start

if TYPE_CHECKING:
    from ..ledger import Ledger

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TenantDay:
    """One tenant's UTC day: the exact ``cost_usd`` the ledger recorded (from ``records``),
    its ``calls`` and, when known, the ``seconds`` of the calls that started that day and
    each call's (``call_seconds``, in the order they started); ``minutes_note`` says why
    they are unknown."""

    tenant: str
    day: date
    cost_usd: Decimal
    records: int
    calls: int
    calls_from: Literal["spend log", "ledger"]
    seconds: Decimal | None = None
    call_seconds: tuple[Decimal, ...] | None = None
    minutes_note: str | None = None
    in_window: bool = True

    @property
    def minutes(self) -> Decimal | None:
        """The call minutes (seconds / 60: for display; charges use the seconds)."""
        return None if self.seconds is None else self.seconds / 60


@dataclass
class MeteredUsage:
    """Every tenant's days (sorted by tenant and day), the window asked for, and where the
    figures came from."""

    days: list[TenantDay]
    window: Window = EVERY_DAY
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    spend_logs: bool = False

    @property
    def tenants(self) -> list[str]:
        return sorted({d.tenant for d in self.days})


@dataclass
class _Session:
    started: datetime
    ended: datetime
    seconds: Decimal | None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is UTC else at.astimezone(UTC)


def _spend_log_sessions(paths: Sequence[str | os.PathLike[str]], first: date | None,
                        last: date | None, scope: str | None,
                        notes: list[str]) -> dict[str, dict[str, _Session]]:
    """tenant -> session id -> its times and seconds, for sessions that ran in the days.
    A bad line is an `InputError` naming file and line (a session skipped would lower the
    minutes billed); a session in two logs counts once."""
    from ..reconcile.recorded import read_spend_logs_strictly

    out: dict[str, dict[str, _Session]] = {}
    twice = 0
    for rec in read_spend_logs_strictly(paths):
        if scope is not None and rec.scope != scope:
            continue
        started, ended = _utc(rec.started_at), _utc(rec.ended_at)
        ended = max(ended, started)
        if (first is not None and ended.date() < first) or \
                (last is not None and started.date() > last):
            continue
        sessions = out.setdefault(rec.scope, {})
        if rec.session_id in sessions:
            twice += 1
            continue
        seconds = None if rec.seconds is None else to_decimal(rec.seconds, "seconds")
        sessions[rec.session_id] = _Session(started, ended, seconds)
    if twice:
        notes.append(f"{twice} session(s) appear in more than one spend log: counted once")
    return out


def read_usage(ledger: Ledger, *, window: Window = EVERY_DAY,
               spend_logs: Sequence[str | os.PathLike[str]] = (), scope: str | None = None,
               name: str | None = None) -> MeteredUsage:
    """Each tenant's cost, calls and (with ``spend_logs``) minutes per UTC day of
    ``window``, read from the first day of its first month (see the module doc)."""
    first = None if window.since is None else month_start(window.since)
    since = None if first is None else datetime.combine(first, time(), UTC)
    rows = ledger.spent_by_day(scope=scope, since=since, until=window.end(), sessions=True)
    cost: dict[tuple[str, date], list[Decimal]] = {}
    records: dict[tuple[str, date], int] = {}
    sessions: dict[tuple[str, date], int] = {}
    for r in rows:
        key = (r.scope, r.day)
        cost.setdefault(key, []).append(r.usd)
        records[key] = records.get(key, 0) + r.records
        # (the ledger counts sessions per model: the most on one model is the calls)
        sessions[key] = max(sessions.get(key, 0), r.sessions or 0)
    where = f" (scope {scope})" if scope else ""
    usage = MeteredUsage([], window, [f"ledger {mask_url(name or ledger.key)}{where}"],
                         spend_logs=bool(spend_logs))
    logged = _spend_log_sessions(spend_logs, first, window.until, scope, usage.notes) \
        if spend_logs else {}
    if spend_logs:
        usage.sources.append("spend log " + ", ".join(os.fspath(p) for p in spend_logs))
    started: dict[tuple[str, date], list[_Session]] = {}
    running: dict[tuple[str, date], int] = {}
    for tenant, by_id in logged.items():
        for s in by_id.values():
            day = s.started.date()
            if (first is None or day >= first) and (window.until is None
                                                    or day <= window.until):
                started.setdefault((tenant, day), []).append(s)
            while day <= s.ended.date():
                running[(tenant, day)] = running.get((tenant, day), 0) + 1
                day += timedelta(days=1)
    for key in sorted(set(cost) | set(started)):
        usage.days.append(_day(key, cost.get(key), records.get(key, 0), sessions.get(key, 0),
                               started.get(key, []), running.get(key, 0), bool(spend_logs),
                               window))
    return usage


def _day(key: tuple[str, date], amounts: list[Decimal] | None, records: int, ledger_calls: int,
         started: list[_Session], running: int, logs: bool, window: Window) -> TenantDay:
    tenant, day = key
    calls, each, note = ledger_calls, None, None
    calls_from: Literal["spend log", "ledger"] = "ledger"
    if not logs:
        note = ("no call minutes: the ledger records dollars, not seconds (give the spend "
                "logs, --spend-log)")
    elif running < ledger_calls:
        note = (f"the spend logs hold {running} of the {ledger_calls} sessions the ledger saw "
                "spend this day: its minutes are unknown")
    else:
        started.sort(key=lambda s: s.started)
        calls, calls_from = len(started), "spend log"
        if any(s.seconds is None for s in started):
            note = "a spend-log line gives no length for its session"
        else:
            each = tuple(s.seconds for s in started if s.seconds is not None)
    return TenantDay(tenant, day, exact_sum(amounts) if amounts else _ZERO, records, calls,
                     calls_from, None if each is None else exact_sum(each), each,
                     note, day in window)
