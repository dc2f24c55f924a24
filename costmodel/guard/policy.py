"""The budget policy: from what was spent and what the next response will cost, a `Decision`.

Pure: no events, no ledger, no protocol. `Policy.decide` compares spend + the projected cost of
the responses already asked for + the next one against the limit and says ``ok``, ``warn``
(past `warn_at` of the limit), ``wrap_up`` (room for about one more response) or ``cut`` (the
next response would pass the limit, or the session cannot be metered). Decisions only
escalate: once cut, a session stays cut.

>>> from decimal import Decimal
>>> policy = Policy("1.00")
>>> policy.decide(Decimal("0.50"), Decimal("0.20"), pending=0, responses=3).action
'ok'
>>> policy.decide(Decimal("0.70"), Decimal("0.20"), pending=0, responses=4).action
'wrap_up'
>>> policy.decide(Decimal("0.90"), Decimal("0.20"), pending=0, responses=5).reason
'spent $0.900000; the next response (~$0.200000) would pass the $1.00 limit'
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, NamedTuple

from ..errors import AmountError, UsageError
from ..money import format_usd, to_decimal, to_usd

Action = Literal["ok", "warn", "wrap_up", "cut"]
_RANK: dict[Action, int] = {"ok": 0, "warn": 1, "wrap_up": 2, "cut": 3}

MAX_LIMIT_USD = Decimal(1_000_000)        # for one voice session: anything larger is a typo
MAX_SCOPE_LIMIT_USD = Decimal(10) ** 12   # a tenant's budget for a day or a month


def usd_limit(value: Decimal | str | float, what: str,
              maximum: Decimal = MAX_LIMIT_USD) -> Decimal:
    """A limit: finite, > 0 and at most `maximum` (text and floats read as `costmodel.money`
    reads them), else `AmountError` saying what it must be.

    >>> usd_limit("0.50", "the limit")
    Decimal('0.50')
    >>> usd_limit("1e999999999", "the limit")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    costmodel.errors.AmountError: the limit must be a positive amount in USD, at most 1000000, ...
    """
    return to_usd(value, what, allow_text=True, positive=True, maximum=maximum)


def share(value: Decimal | str | float, what: str) -> Decimal:
    """A share in (0, 1] (`warn_at`), else `UsageError`."""
    try:
        amount = to_decimal(value, what, allow_text=True)
    except AmountError:
        amount = Decimal(0)
    if not 0 < amount <= 1:
        raise UsageError(f"{what} must be in (0, 1], got {str(value)[:40]!r}")
    return amount


class Decision(NamedTuple):
    """What the guard thinks after an event (immutable; a NamedTuple because one is made
    for every metered response)."""

    action: Action
    spent_usd: Decimal
    projected_next_usd: Decimal
    limit_usd: Decimal
    responses: int              # responses priced so far
    reason: str = ""
    estimated: bool = False     # some spend was estimated (a response without usage)
    pending: int = 0            # responses requested or in flight, not yet priced

    @property
    def remaining_usd(self) -> Decimal:
        return self.limit_usd - self.spent_usd


class Policy:
    """The limit, the warning threshold, and the last decision (decisions only escalate).

    `stop` is a reason the session must be cut whatever its spend (it cannot be metered, the
    ledger failed under fail-closed, a tenant budget refused it); the caller says it.
    """

    __slots__ = ("limit_usd", "warn_at", "last", "_warn_usd", "_warn_reason")

    def __init__(self, limit_usd: Decimal | str | float, warn_at: Decimal | str | float = "0.8"
                 ) -> None:
        self.limit_usd = usd_limit(limit_usd, "the limit")
        self.warn_at = share(warn_at, "warn_at")
        self._warn_usd = self.warn_at * self.limit_usd
        self._warn_reason = f"{self.warn_at:.0%} of the ${self.limit_usd} limit spent"
        self.last = Decision("ok", Decimal(0), Decimal(0), self.limit_usd, 0)

    def decide(self, spent: Decimal, projected: Decimal, pending: int, responses: int,
               estimated: bool = False, stop: str | None = None) -> Decision:
        """The decision now; `pending`: responses asked for or in flight, each about a
        `projected` response."""
        limit = self.limit_usd
        after_next = spent + projected * (pending + 1) if pending else spent + projected
        action: Action
        reason: str
        if stop is None and after_next + projected <= limit:  # the common case: room left
            action = "warn" if spent >= self._warn_usd else "ok"
            last = self.last
            if action == last.action or last.action == "ok":
                decision = Decision(action, spent, projected, limit, responses,
                                    self._warn_reason if action == "warn" else "", estimated,
                                    pending)
                self.last = decision
                return decision
        if stop is not None:
            action, reason = "cut", stop
        elif after_next > limit:
            action = "cut"
            reason = (f"spent {format_usd(spent)}; the next response (~{format_usd(projected)}) "
                      f"would pass the ${limit} limit"
                      + (f" with {pending} response(s) in flight" if pending else ""))
        elif after_next + projected > limit:
            action, reason = "wrap_up", "room for about one more response: time to close"
        elif spent >= self._warn_usd:
            action, reason = "warn", self._warn_reason
        else:
            action, reason = "ok", ""
        last = self.last
        if _RANK[action] < _RANK[last.action]:
            action, reason = last.action, last.reason
        decision = Decision(action, spent, projected, limit, responses, reason, estimated,
                            pending)
        self.last = decision
        return decision
