"""`fit_sessions`: recorded sessions in, a fitted scenario out.

Each file (or spend-log record) is read into per-session facts (`costmodel.fit.realtime`,
`costmodel.fit.chained`), in worker processes when there are many files
(`costmodel.fit.parallel`). Sessions are grouped by stack and the most common stack is
fitted: one scenario per fit, its parameters from its own sessions only (a mix of models
would blend turn shapes that price differently); the others are counted and named.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from ..core.catalog import Catalog
from ..errors import InputError, UnknownModelError
from ..guard.spendlog import SessionRecord
from .chained import chained_facts, fit_chained, is_chained
from .durations import fit_duration
from .facts import SessionFacts, StackKey
from .models import ModelBook
from .observation import SessionObservation, SessionUnusable
from .observe import observe_file, record_observation, session_files
from .parallel import map_files
from .realtime import fit_realtime, realtime_facts
from .result import KEPT, FitResult
from .scenario_out import stack_value
from .turns import complete


def session_facts(obs: SessionObservation, book: ModelBook) -> SessionFacts:
    """One session's facts, by its mechanic (an LLM among its usages: chained). A session
    of a named model that ended before its first response is a call all the same: its length
    counts, and it cost nothing."""
    if not obs.usages and obs.model is None:
        raise SessionUnusable(f"{obs.source}: no usage, and no model named")
    if is_chained(obs, book):
        return chained_facts(obs, book)
    return realtime_facts(obs, book)


def file_facts(path: str, book: ModelBook, model: str | None = None
               ) -> tuple[list[SessionFacts], list[str]]:
    """The facts of every session in one file, and why any could not be used. An unknown
    model stops the fit (`UnknownModelError`, naming the file)."""
    observed = observe_file(path, model=model)
    facts, unusable = [], observed.unusable
    for obs in observed.observations:
        try:
            facts.append(session_facts(obs, book))
        except SessionUnusable as exc:
            unusable.append(str(exc))
        except UnknownModelError as exc:
            exc.args = (f"{obs.source}: {exc}",)
            raise
    return facts, unusable


def fit_sessions(sources: Iterable[str | Path | SessionRecord], *,
                 catalog: Catalog | None = None, name: str = "fitted",
                 calls_per_month: float | None = None, model: str | None = None,
                 on: date | None = None, workers: int | None = None) -> FitResult:
    """Fit a scenario to recorded sessions: event files, spend logs, directories of either
    (recursive ``*.jsonl`` / ``*.json``), or `SessionRecord`\\ s.

    `model` names the model of event files that do not (Nova Sonic); `on` is the day whose
    rates price the sessions (default today); `workers` the processes reading files (default:
    one per CPU when there are many files; 1 reads them here). Raises `InputError` when no
    session can be fitted, `UnknownModelError` for a model the catalog does not know.

    >>> r = fit_sessions(["examples/sessions/gemini-live-booking.jsonl"])
    >>> r.parameters["turns.seconds_per_turn"].source.startswith("call seconds")
    True
    """
    book = ModelBook(catalog, on)
    if model is not None:
        book.model(model)  # fail fast on an unknown one
    facts: list[SessionFacts] = []
    unusable: list[str] = []
    records: list[SessionRecord] = []
    files: list[str] = []
    for item in session_files(sources):
        (records if isinstance(item, SessionRecord) else files).append(item)  # type: ignore[arg-type]
    for i, rec in enumerate(records):
        try:
            facts.append(session_facts(record_observation(rec, f"record {i + 1} "
                                                          f"({rec.session_id})"), book))
        except SessionUnusable as exc:
            unusable.append(str(exc))
    for got, bad in map_files(files, book, model, workers):
        facts += got
        unusable += bad
    if not facts:
        why = f"; e.g. {unusable[0]}" if unusable else ""
        raise InputError(f"no session to fit found in what was given ({len(files):,} files, "
                         f"{len(records):,} records){why}")
    return _fit(facts, unusable, book, name, calls_per_month)


def _fit(facts: list[SessionFacts], unusable: list[str], book: ModelBook, name: str,
         calls_per_month: float | None) -> FitResult:
    stacks = Counter(f.stack for f in facts)
    stack, _ = stacks.most_common(1)[0]
    group = [f for f in facts if f.stack == stack]
    fit = fit_chained(group, book) if group[0].mechanic == "chained" \
        else fit_realtime(group, book)
    complete(fit.parameters, fit.problems)
    known = [f for f in group if f.seconds is not None]
    duration = fit_duration([f.seconds for f in known if f.seconds is not None])
    volume, volume_source = _volume(group, calls_per_month)
    priced = [f.usd for f in group if f.usd is not None]
    notes = fit.notes
    unpriced = [f for f in group if f.usd is None]
    if unpriced:
        notes.append(f"{len(unpriced):,} sessions could not be priced (e.g. "
                     f"{unpriced[0].usd_note}); the observed cost is over the others")
    return FitResult(
        name=name, stack=stack, mechanic=group[0].mechanic, parameters=fit.parameters,
        cache_mode=fit.cache_mode, duration=duration, sessions=len(group),
        calls_per_month=volume, volume_source=volume_source, day=book.day,
        problems=fit.problems, notes=notes, left_out=unusable[:KEPT],
        left_out_count=len(unusable), lengths_unknown=len(group) - len(known),
        lengths_from=dict(Counter(f.seconds_source for f in known).most_common()),
        other_stacks={_label(s): n for s, n in stacks.most_common() if s != stack},
        observed_usd_per_call=(sum(priced, Decimal(0)) / len(priced)) if priced else None,
        priced_sessions=len(priced))


def _label(stack: StackKey) -> str:
    value = stack_value(stack)
    return value if isinstance(value, str) else "+".join(value.values())


def _volume(group: Sequence[SessionFacts], given: float | None) -> tuple[float, str]:
    """Calls a month: given; else the spend logs' sessions per day over the days they span
    (x 30); else the sessions themselves, taken as a month's."""
    if given is not None:
        if not (math.isfinite(given) and 0 < given <= 1e10):
            raise InputError(f"calls per month must be > 0 and at most 1e10, got {given}")
        return given, "calls per month as given"
    days = sorted({f.day for f in group if f.day})
    if len(days) >= 2:
        span = (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days + 1
        dated = sum(1 for f in group if f.day)
        return dated / span * 30, (f"{dated:,} sessions over the {span} days the spend log "
                                   "spans, x 30 days")
    return float(len(group)), (f"the {len(group):,} sessions fitted, taken as a month's calls "
                               "(give calls per month for the real volume)")
