"""What a platform says a finished call cost, read into one shape for both platforms.

A Vapi ``end-of-call-report`` and a Retell ``call_ended`` / ``call_analyzed`` event both end
up as a `CallReport`: the call's id, when it ran, the platform's cost lines (`CostLine`, USD,
exact) and the total it reported. `costmodel.webhooks.ingest` turns one into ledger records.

>>> from decimal import Decimal
>>> report = CallReport(platform="vapi", event="end-of-call-report", call_id="c-1",
...     lines=(CostLine("vapi", "vapi/platform", Decimal("0.05")),
...            CostLine("transport", "vapi/transport:twilio", Decimal("0.0085"))),
...     total_usd=Decimal("0.0585"), duration_seconds=Decimal(60))
>>> report.lines_usd, report.unitemized_usd
(Decimal('0.0585'), Decimal('0'))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..money import EXACT, exact_sum


@dataclass(frozen=True, slots=True)
class CostLine:
    """One line of a platform's cost breakdown: ``key`` as the platform names it (Vapi's
    cost ``type``, Retell's ``product``), the ledger ``model`` it is recorded under, the
    amount in USD and what the platform said about its quantity (``detail``: minutes,
    characters, tokens, provider)."""

    key: str
    model: str
    usd: Decimal
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HoldNote:
    """The admission's hold, as it travels with a call the platform gives no id to at
    admission (Retell's inbound webhook): written into the call's metadata, read back from
    the end-of-call event, so the hold is settled by any worker, after a restart too."""

    tenant: str
    reservation_id: str
    usd: Decimal
    expires_at: float     # unix seconds


@dataclass(frozen=True, slots=True)
class CallReport:
    """A finished call's cost as a platform reported it (see the module docstring).

    ``numbers`` are the keys that can name its tenant (the called number first, then the
    platform's id for that number); ``agent_id`` the assistant or agent that took it;
    ``platform_fee_id`` the catalog entry of the platform's own per-minute fee and
    ``platform_line`` the key of the line that is that fee (None when the platform does not
    say which line it is).
    """

    platform: str
    event: str
    call_id: str
    lines: tuple[CostLine, ...] = ()
    total_usd: Decimal | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: Decimal | None = None
    numbers: tuple[str, ...] = ()
    agent_id: str | None = None
    caller: str | None = None
    hold: HoldNote | None = None
    platform_fee_id: str | None = None
    platform_line: str | None = None

    @property
    def lines_usd(self) -> Decimal:
        """The lines' exact sum."""
        return exact_sum(line.usd for line in self.lines)

    @property
    def unitemized_usd(self) -> Decimal:
        """What the reported total has beyond its lines (0 when no total was reported or
        the lines cover it): recorded as a line of its own, so the ledger holds the bill."""
        if self.total_usd is None:
            return Decimal(0)
        beyond = EXACT.subtract(self.total_usd, self.lines_usd)
        return beyond if beyond > 0 else Decimal(0)

    @property
    def cost_known(self) -> bool:
        """Whether the report says what the call cost at all (lines or a total)."""
        return bool(self.lines) or self.total_usd is not None
