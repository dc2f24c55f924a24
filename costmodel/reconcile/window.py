"""The days a reconciliation covers: whole UTC days, from ``--since`` to ``--until``.

Spend is lined up by UTC day because that is how the sources cut it: the ledger stores UTC
instants, OpenAI's usage and costs buckets start at UTC midnights (``bucket_width=1d``), and
Twilio's daily usage records are dated in GMT.

>>> w = parse_window("7d", "2026-11-29", today=date(2026, 11, 30))
>>> w.since.isoformat(), w.until.isoformat(), date(2026, 11, 30) in w
('2026-11-24', '2026-11-29', False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .._files import clip
from ..errors import InputError

_RELATIVE = re.compile(r"^(\d{1,5})\s*d(ays?)?$")


@dataclass(frozen=True, slots=True)
class Window:
    """The UTC days ``since`` to ``until``, both included; None is open-ended."""

    since: date | None = None
    until: date | None = None

    def __contains__(self, day: object) -> bool:
        return (isinstance(day, date) and (self.since is None or day >= self.since)
                and (self.until is None or day <= self.until))

    def start(self) -> datetime | None:
        """Midnight UTC starting ``since`` (inclusive), for ledger queries."""
        return None if self.since is None else datetime.combine(self.since, time(), UTC)

    def end(self) -> datetime | None:
        """Midnight UTC after ``until`` (exclusive), for ledger queries."""
        return (None if self.until is None
                else datetime.combine(self.until + timedelta(days=1), time(), UTC))

    def describe(self) -> str:
        if self.since is None and self.until is None:
            return "every day"
        first = self.since.isoformat() if self.since else "the start"
        last = self.until.isoformat() if self.until else "today"
        return f"{first} to {last} (UTC days)"


EVERY_DAY = Window()


def parse_day(text: str, what: str, today: date) -> date:
    """``YYYY-MM-DD``, or ``Nd`` (the last N days, today included: ``1d`` is today)."""
    value = text.strip()
    relative = _RELATIVE.match(value.lower())
    if relative:
        days = int(relative.group(1))
        if days < 1:
            raise InputError(f"{what}: {value!r}: give at least 1 day (1d is today)")
        return today - timedelta(days=days - 1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what}: expected a date (YYYY-MM-DD) or a number of days (7d), "
                         f"got {clip(repr(text))}") from None


def parse_window(since: str | None, until: str | None, *, today: date | None = None) -> Window:
    """The window of ``--since 7d|DATE`` and ``--until DATE`` (both UTC days, included)."""
    today = today or datetime.now(UTC).date()
    window = Window(None if since is None else parse_day(since, "--since", today),
                    None if until is None else parse_day(until, "--until", today))
    if window.since and window.until and window.since > window.until:
        raise InputError(f"--since {window.since} is after --until {window.until}")
    return window
