"""What one session shows (`SessionFacts`) and what many show together (`FittedValue`).

A mechanic module (`costmodel.fit.realtime`, `costmodel.fit.chained`) reads each session's
usages into a few per-session sums (`SessionFacts.sums`: counts of responses, tokens, hits).
Pooling then divides summed numerators by summed denominators, so every response weighs the
same whatever session it is in (a per-response cost is what the estimator multiplies), and
the spread is the sample standard deviation of the per-session ratios: how much sessions
differ, not how precisely the mean is known.

>>> fs = [SessionFacts("a", (("realtime", "m"),), 60.0, "", {"n": 4, "x": 8}),
...       SessionFacts("b", (("realtime", "m"),), 30.0, "", {"n": 2, "x": 6})]
>>> v = ratio(fs, "x", "n", source="x per n")       # (8 + 6) / (4 + 2); per session 2 and 3
>>> round(v.value, 4), round(v.spread, 4), v.sessions
(2.3333, 0.7071, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

#: A stack as (role, catalog id) pairs: ``(("realtime", "openai/gpt-realtime-1.5"),)``,
#: ``(("stt", ...), ("llm", ...), ("tts", ...))``; roles as the scenario names them.
StackKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class FittedValue:
    """One fitted scenario parameter.

    ``value`` is what the scenario gets; ``spread`` the sample standard deviation of the
    per-session values (None with fewer than two sessions, or for a value that is not
    observed); ``sessions`` how many sessions show it (0: not observable, the value is an
    assumption ``source`` names); ``note`` anything a reader should know (a cross-check, a
    limit of the scenario model).

    >>> FittedValue(15.0, 2.5, 40, "call seconds / responses").sessions
    40
    """

    value: float
    spread: float | None
    sessions: int
    source: str
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return {"value": _finite(self.value), "spread": _finite(self.spread),
                "sessions": self.sessions, "source": self.source, "note": self.note}


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """One session, read: its stack, its length (None when it cannot be derived, with
    `seconds_source` saying why) and the sums its mechanic module pools.

    ``usd`` is the session's own priced total (None when some usage could not be priced),
    for comparing the fitted scenario's estimate with what the sessions cost.
    """

    source: str
    stack: StackKey
    seconds: float | None
    seconds_source: str
    sums: dict[str, float]
    mechanic: str = "realtime"
    usd: Decimal | None = None
    usd_note: str = ""
    notes: tuple[str, ...] = field(default=())
    day: str | None = None  # the session's start (ISO date), when a spend log says it

    def get(self, key: str) -> float:
        return self.sums.get(key, 0.0)


def nonzero(sums: dict[str, float]) -> dict[str, float]:
    """The sums worth keeping (a missing one reads as 0): a fit keeps every session's."""
    return {k: v for k, v in sums.items() if v}


def count_of(n: float, word: str) -> str:
    """``count_of(1, "session")`` -> '1 session'; ``count_of(2_000, "session")`` ->
    '2,000 sessions'."""
    return f"{n:,.0f} {word}{'' if n == 1 else 's'}"


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1), None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def ratio(facts: Sequence[SessionFacts], num: str, den: str, *, source: str,
          scale: float = 1.0, note: str = "",
          per_session: Callable[[SessionFacts], bool] | None = None) -> FittedValue:
    """sum(num) / sum(den) x `scale` over the sessions with den > 0 (and `per_session`);
    the spread is over the per-session ratios. A value no session shows is NaN with 0
    sessions: the caller replaces it by an assumption and says so."""
    used = [f for f in facts if f.get(den) > 0 and (per_session is None or per_session(f))]
    if not used:
        return FittedValue(math.nan, None, 0, source, note)
    total_num = math.fsum(f.get(num) for f in used)
    total_den = math.fsum(f.get(den) for f in used)
    spread = sample_std([f.get(num) / f.get(den) * scale for f in used])
    return FittedValue(total_num / total_den * scale, spread, len(used), source, note)


def mean_of(facts: Sequence[SessionFacts], key: str, *, source: str, note: str = "",
            having: str | None = None) -> FittedValue:
    """The mean over sessions of a per-session value (sessions where `having` > 0, if
    given)."""
    used = [f.get(key) for f in facts if having is None or f.get(having) > 0]
    if not used:
        return FittedValue(math.nan, None, 0, source, note)
    return FittedValue(math.fsum(used) / len(used), sample_std(used), len(used), source, note)


def assumed(value: float, why: str, note: str = "") -> FittedValue:
    """A value no session shows: an assumption, saying why."""
    return FittedValue(value, None, 0, why, note)


@dataclass
class MechanicFit:
    """What a mechanic module fitted for one stack: the parameters (keyed by scenario path,
    plus ``observed.*`` figures behind them), the cache mode, what the scenario cannot say
    (``problems``) and anything else worth saying (``notes``)."""

    stack: StackKey
    parameters: dict[str, FittedValue]
    cache_mode: str = "per-response"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
