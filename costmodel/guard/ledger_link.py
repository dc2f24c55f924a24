"""The guard's link to the spend ledger: commit what was spent, hold what is about to be, and
lose nothing when the ledger is down.

Each priced usage becomes a `SpendRecord` committed to the ledger (a response pays the scope
reservation made for it). What the ledger cannot take goes to the local `Spool`, and is
committed at the next successful commit, before the next reservation, and when the session
ends; what even the spool cannot take is kept in memory, retried, and logged once in full.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from ..errors import BudgetExceeded, LedgerError, UsageError
from ..ledger import Ledger, Reservation, SpendRecord, Spool, period_start
from ..ledger.base import record_to_json

log = logging.getLogger("costmodel.guard")

_RESERVATION_TTL = 120.0  # s: a crashed worker's hold on the scope budget lapses
_FLUSH_BATCH = 200        # spooled records committed per flush from a live session


def spool_for(ledger: Ledger, spool: Spool | str | os.PathLike[str] | None) -> Spool:
    """`spool` itself (if it is `ledger`'s), or the spool of `ledger` in that directory."""
    if not isinstance(spool, Spool):
        return Spool(ledger, spool)
    if spool.key != ledger.key:
        raise UsageError(f"the spool {spool} belongs to another ledger ({spool.key})")
    return spool


class LedgerLink:
    """One session's commits, reservations and spool (see the module docstring)."""

    def __init__(self, ledger: Ledger, spool: Spool | str | os.PathLike[str] | None, *,
                 session_id: str, scope: str, scope_limit_usd: Decimal | None,
                 period: Literal["day", "month", "all"],
                 on_error: Literal["fail_open", "fail_closed"]) -> None:
        self.ledger = ledger
        self.spool = spool_for(ledger, spool)
        self.session_id, self.scope, self.period = session_id, scope, period
        self.scope_limit_usd = scope_limit_usd
        self.on_error = on_error
        self.errors = 0           # ledger errors seen
        self.spooled = 0          # records this session spooled
        self.failed = False       # a ledger error happened (fail_closed cuts on it)
        self.refused: str | None = None   # the scope budget refused the next response
        self._reservation: Reservation | None = None
        self._unsaved: list[tuple[SpendRecord, Reservation | None]] = []  # not even spooled

    @property
    def unsaved_usd(self) -> Decimal:
        """Spend neither the ledger nor the spool could take (see `SessionGuard`)."""
        return sum((record.usd for record, _ in self._unsaved), Decimal(0))

    def _backlog(self) -> bool:
        return bool(self._unsaved) or self.spool.may_have_records()

    # -- spend ------------------------------------------------------------------------------
    def commit(self, model: str, usd: Decimal, *, estimated: bool, label: str,
               response: bool) -> None:
        """Record spend now; a `response` of the session model pays its reservation."""
        record = SpendRecord(session_id=self.session_id, scope=self.scope, model=model,
                             usd=usd, at=datetime.now(UTC),
                             kind="estimate" if estimated else "response",
                             detail={"label": label})
        held = None
        if response:
            held, self._reservation = self._reservation, None
        try:
            self.ledger.commit(held, record)
        except LedgerError as exc:
            self._error(exc, f"spooling ${record.usd}")
            self._to_spool(record, held)
            return
        if self._backlog():
            self.flush()  # the ledger answers again

    def reserve(self, projected: Decimal) -> None:
        """Hold the next response's projected cost in the scope's shared budget, atomically
        (so concurrent sessions cannot all pass a nearly-spent budget); a refusal is kept in
        `refused`."""
        if self.scope_limit_usd is None or self._reservation is not None:
            return
        if self._backlog():
            self.flush()  # the budget check must count what an outage spooled
        try:
            self._reservation = self.ledger.reserve(
                self.scope, self.session_id, projected, ttl_seconds=_RESERVATION_TTL,
                limit_usd=self.scope_limit_usd, since=period_start(self.period))
        except BudgetExceeded as exc:
            self.refused = f"the {self.scope!r} {self.period} budget: {exc}"
        except LedgerError as exc:
            self._error(exc, "no scope reservation")

    def release(self) -> None:
        """The session is over: release its hold on the scope budget."""
        if self._reservation is not None:
            try:
                self.ledger.release(self._reservation)
            except LedgerError as exc:  # it expires anyway
                log.error("guard %s: LEDGER ERROR releasing a reservation: %s",
                          self.session_id, exc)
            self._reservation = None

    def drain(self) -> None:
        """Try once more to commit what is spooled (the session's last chance to)."""
        if self._backlog():
            self.flush()

    # -- when the ledger fails --------------------------------------------------------------
    def _error(self, exc: LedgerError, doing: str) -> None:
        self.failed = True
        self.errors += 1
        log.error("guard %s: LEDGER ERROR (%s, %s): %s", self.session_id, self.on_error, doing,
                  exc)

    def _to_spool(self, record: SpendRecord, held: Reservation | None,
                  retry: bool = False) -> None:
        try:
            self.spool.append(record, held)
        except LedgerError as exc:
            self._unsaved.append((record, held))
            if not retry:  # the record itself is logged once, so it can be recovered by hand
                log.critical("guard %s: SPEND NOT SAVED: the ledger and the spool both failed "
                             "(%s); kept in memory, retried at each commit: %s",
                             self.session_id, exc, json.dumps(record_to_json(record)))
        else:
            self.spooled += 1

    def flush(self) -> None:
        """Commit what the spool (and memory) kept while the ledger was down, a batch at a
        time: a guard on an event loop must not stall every session on a long backlog."""
        unsaved, self._unsaved = self._unsaved, []
        for record, held in unsaved:
            try:
                self.ledger.commit(held, record)
            except LedgerError:
                self._to_spool(record, held, retry=True)
        try:
            report = self.spool.flush(max_records=_FLUSH_BATCH)
        except LedgerError as exc:   # the spool itself is unusable (not private, unreadable)
            log.error("guard %s: cannot flush the spool: %s", self.session_id, exc)
            return
        if report.committed:
            log.warning("guard %s: the ledger answers again: committed %d spooled record(s), "
                        "$%s", self.session_id, report.committed, report.committed_usd)
        if report.error is not None:
            log.error("guard %s: %d spooled record(s) ($%s) still wait for the ledger: %s",
                      self.session_id, report.remaining, report.remaining_usd, report.error)
