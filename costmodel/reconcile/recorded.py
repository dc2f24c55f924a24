"""What the guard recorded as spent, per UTC day and model: the ledger, or the spend logs.

The ledger answers with `Ledger.spent_by_day` (one aggregate query; every scope summed
unless one is asked for). A spend log has one line per session: a session's spend is put
on the UTC day it started, split between the models it used by re-pricing its usage trail
(what re-pricing does not account for stays with the session's own model, so each session
adds exactly its ``spent_usd``). Calls are counted the same way both ways: one per session
per model it spent on (in the ledger, per day with spend: a session running past midnight
counts on both days).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from .._redact import mask_url
from ..core.catalog import Catalog, default_catalog
from ..core.pricing import price
from ..errors import CostModelError
from ..money import exact_sum
from .exports import ModelNames, Problems
from .window import EVERY_DAY, Window

if TYPE_CHECKING:
    from ..guard.spendlog import SessionRecord
    from ..ledger import Ledger


@dataclass(frozen=True, slots=True)
class RecordedDay:
    """Recorded spend of one UTC day and model: exact ``usd``, the ``records`` (ledger
    records or spend-log sessions) behind it, and ``calls`` (None when not counted)."""

    day: date
    model: str
    usd: Decimal
    records: int
    calls: int | None = None


@dataclass
class Recorded:
    """The recorded side of a reconciliation, and where it came from."""

    source: str
    days: list[RecordedDay]
    sessions: list[SessionRecord] = field(default_factory=list)  # spend logs only
    notes: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> Decimal:
        return exact_sum(d.usd for d in self.days)


def _merge(rows: Iterable[tuple[date, str, Decimal, int, int | None]]) -> list[RecordedDay]:
    acc: dict[tuple[date, str], list[Decimal]] = {}
    counts: dict[tuple[date, str], list[int | None]] = {}
    for day, model, usd, records, calls in rows:
        acc.setdefault((day, model), []).append(usd)
        c = counts.setdefault((day, model), [0, 0])
        c[0] = (c[0] or 0) + records
        c[1] = None if calls is None or c[1] is None else c[1] + calls
    return [RecordedDay(day, model, exact_sum(acc[(day, model)]), counts[(day, model)][0] or 0,
                        counts[(day, model)][1])
            for day, model in sorted(acc)]


def recorded_from_ledger(ledger: Ledger, *, window: Window = EVERY_DAY, scope: str | None = None,
                         catalog: Catalog | None = None, calls: bool = False,
                         name: str | None = None) -> Recorded:
    """Committed spend per UTC day and model from a ledger (every scope, or ``scope``);
    with ``calls``, the sessions that spent each day too.

    >>> from costmodel.ledger import MemoryLedger, SpendRecord
    >>> with MemoryLedger() as ledger:
    ...     _ = ledger.record(SpendRecord(session_id="s1", model="gpt-realtime-1.5",
    ...                                   usd=Decimal("0.25")))
    ...     [(d.model, d.usd, d.calls) for d in recorded_from_ledger(ledger, calls=True).days]
    [('openai/gpt-realtime-1.5', Decimal('0.25'), 1)]
    """
    names = ModelNames(catalog or default_catalog())
    rows = ledger.spent_by_day(scope=scope, since=window.start(), until=window.end(),
                               sessions=calls)
    days = _merge((r.day, names.resolve(r.model) or r.model, r.usd, r.records, r.sessions)
                  for r in rows)
    where = f" (scope {scope})" if scope else ""
    return Recorded(f"ledger {mask_url(name or ledger.key)}{where}", days)


def recorded_from_spend_logs(paths: Sequence[str | os.PathLike[str]], *,
                             window: Window = EVERY_DAY, scope: str | None = None,
                             catalog: Catalog | None = None) -> Recorded:
    """Session spend per UTC day (of the session's start) and model, from spend logs.

    A line that is not a valid record is an `InputError` naming the file and line: a
    skipped session would quietly lower the recorded spend. A session found in two logs
    counts once.
    """
    catalog = catalog or default_catalog()
    names = ModelNames(catalog)
    sessions: list[SessionRecord] = []
    seen: set[str] = set()
    twice = 0
    for rec in read_spend_logs_strictly(paths):
        if (scope is not None and rec.scope != scope) or rec.started_at.date() not in window:
            continue
        if rec.session_id in seen:
            twice += 1
            continue
        seen.add(rec.session_id)
        sessions.append(rec)
    rows = [row for rec in sessions for row in _session_rows(rec, names)]
    out = Recorded("spend log " + ", ".join(os.fspath(p) for p in paths)
                   + (f" (scope {scope})" if scope else ""), _merge(rows), sessions)
    if twice:
        out.notes.append(f"{twice} session(s) appear in more than one spend log: counted once")
    return out


def read_spend_logs_strictly(paths: Sequence[str | os.PathLike[str]]
                             ) -> Iterator[SessionRecord]:
    """Every record of the spend logs, in order; any line that is not a valid record is an
    `InputError` naming the file and line (for money read off the logs, a skipped session
    would quietly lower a total)."""
    from ..guard.spendlog import read_spend_log  # (the guard: loaded for spend logs only)

    for path in paths:
        log = read_spend_log(path)
        problems = Problems(log.path)
        for line, message in log.problems:
            problems.add(line, message)
        problems.count = log.skipped
        problems.check()
        yield from log.records


def _session_rows(rec: SessionRecord, names: ModelNames
                  ) -> list[tuple[date, str, Decimal, int, int | None]]:
    """One session's spend per model it used (see the module doc)."""
    day = rec.started_at.date()
    own = (names.resolve(rec.model) or rec.model) if rec.model else None
    by_model: dict[str, list[Decimal]] = {}
    if not rec.usage_truncated:
        for usage in rec.usage:
            model = names.resolve(usage.model) or usage.model
            try:
                usd = price(usage, names.catalog, on=day).total_usd
            except CostModelError:   # the rest of the spend stays with the session's model
                continue
            by_model.setdefault(model, []).append(usd)
    main = own or next(iter(by_model), "unknown model")
    split = {m: exact_sum(v) for m, v in by_model.items()}
    repriced = exact_sum(split.values())
    rest = rec.spent_usd - repriced
    if len(split) <= 1 or repriced <= 0:
        split = {main: rec.spent_usd}
    elif split.get(main, Decimal(0)) + rest >= 0:   # (the guard's sums round at 28 digits)
        split[main] = split.get(main, Decimal(0)) + rest
    else:   # re-pricing says more than was spent: the spend shared in the same proportions
        models = list(split)
        shares = {m: rec.spent_usd * split[m] / repriced for m in models[:-1]}
        shares[models[-1]] = rec.spent_usd - exact_sum(shares.values())
        split = shares
    return [(day, model, usd, 1, 1) for model, usd in split.items()]
