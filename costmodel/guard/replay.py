"""Replaying a recorded session through the guard: when would it have warned, wrapped up and
cut, and what would that have saved?

>>> from pathlib import Path
>>> lines = Path("examples/sessions/openai-realtime-support.jsonl").read_text().splitlines()
>>> r = replay(lines, limit_usd="0.05")
>>> r.cut_at_response, r.spent_usd < r.limit_usd
(3, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from ..adapters.recorded import parse_line, price_events
from ..core.catalog import Catalog, default_catalog
from ..errors import UsageError
from .policy import Decision
from .session import SessionGuard


@dataclass
class ReplayResult:
    limit_usd: Decimal
    spent_usd: Decimal                 # what the guarded session would have cost
    unguarded_usd: Decimal             # what the recorded session did cost: price-events' total
    warned_at_response: int | None     # 1-based; None when it never happened
    wrap_up_at_response: int | None
    cut_at_response: int | None        # the response the guard would not have requested
    decisions: list[Decision] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)  # as price-events skips them
    skipped_reason: str = ""           # why the first skipped line was skipped
    skipped_count: int = 0             # (skipped_lines keeps the first 1,000)
    estimated: bool = False            # some responses had no usage: estimated from audio
    # Usage events price-events rejected (among skipped_lines): unguarded_usd is then the
    # priced part, a lower bound, as the skipped-lines warning says.
    rejected_count: int = 0

    @property
    def saved_usd(self) -> Decimal:
        return self.unguarded_usd - self.spent_usd

    def to_json(self) -> dict:
        return {
            "limit_usd": float(self.limit_usd),
            "spent_usd": float(self.spent_usd),
            "unguarded_usd": float(self.unguarded_usd),
            "saved_usd": float(self.saved_usd),
            "spent_usd_exact": _exact(self.spent_usd),
            "unguarded_usd_exact": _exact(self.unguarded_usd),
            "saved_usd_exact": _exact(self.saved_usd),
            "estimated": self.estimated,
            "warned_at_response": self.warned_at_response,
            "wrap_up_at_response": self.wrap_up_at_response,
            "cut_at_response": self.cut_at_response,
            "decisions": [{"action": d.action, "after_responses": d.responses,
                           "spent_usd": float(d.spent_usd),
                           "projected_next_usd": float(d.projected_next_usd),
                           "reason": d.reason} for d in self.decisions],
            "skipped_lines": self.skipped_lines,
            "skipped_count": self.skipped_count,
            "rejected_count": self.rejected_count,
        }


def _exact(d: Decimal) -> str:
    return format(d.normalize(), "f")


def replay(lines: Iterable[str] | Callable[[], Iterable[str]], *,
           limit_usd: Decimal | str | float,
           warn_at: float | str = "0.8", model: str | None = None, fmt: str = "auto",
           transcription_model: str | None = None,
           catalog: Catalog | None = None) -> ReplayResult:
    """Feed a recorded session (JSON lines) to a `SessionGuard` and report what it did.

    The recorded cost is exactly what `price_events` makes of the same lines, so the two
    commands never disagree; a session it cannot price raises `UsageError`. The lines are
    read twice (priced, then guarded): pass a function that reads them afresh to keep a large
    file out of memory, else they are held in a list.
    """
    catalog = catalog or default_catalog()
    if callable(lines):
        read = lines
    else:
        held = list(lines)

        def read() -> Iterable[str]:
            return held
    unguarded = price_events(read(), model=model, fmt=fmt, catalog=catalog, keep_priced=False,
                             transcription_model=transcription_model)
    recorded = unguarded.total_usd
    if recorded is None and unguarded.rejected_count and unguarded.priced_count \
            and not unguarded.unpriced_count:
        recorded = unguarded.priced_usd  # a lower bound (issue 11): the warning says so
    if recorded is None:
        raise UsageError(f"the recorded session cannot be priced: {unguarded.unknown_reason}")
    guard = SessionGuard(limit_usd, model=model, transcription_model=transcription_model,
                         warn_at=warn_at, catalog=catalog, fmt=fmt)
    for text in read():
        try:
            event = parse_line(text)
        except UsageError:
            continue  # price_events has reported it (skipped_lines)
        if event is None:
            continue
        if guard.observe(event).action == "cut":
            break  # the guard closes the session here: nothing later is requested
    guard.finalize()
    # Only what the guard actually did counts (a jump from ok to cut asked no wrap-up).
    # warned: the first budget signal of any level, after response n had been spent;
    # wrap_up and cut: the response that would be requested next (the goodbye, or the one
    # never requested).
    firsts: dict[str, int] = {}
    for d in guard.history:
        firsts.setdefault(d.action, d.responses + (0 if d.action == "warn" else 1))
        if d.action != "ok":
            firsts.setdefault("warned", d.responses)
    cut = "cut" in firsts
    # Uncut, the guarded session is the recorded one. The guard's own figure may differ: it
    # estimates a response.done whose usage is missing or malformed (live, it must not let
    # such a response through unmetered), where the recorded cost counts only usage the
    # file reports. Reporting that estimate as "recorded" made replay disagree with
    # price-events on the same file.
    return ReplayResult(
        limit_usd=guard.limit_usd,
        spent_usd=guard.spent_usd if cut else recorded,
        unguarded_usd=recorded,
        warned_at_response=firsts.get("warned"),
        wrap_up_at_response=firsts.get("wrap_up"),
        cut_at_response=firsts.get("cut"),
        decisions=list(guard.history),
        skipped_lines=[p.line for p in unguarded.skipped],
        skipped_reason=unguarded.skipped[0].reason if unguarded.skipped else "",
        skipped_count=unguarded.skipped_count,
        estimated=cut and guard.estimated,
        rejected_count=unguarded.rejected_count,
    )
