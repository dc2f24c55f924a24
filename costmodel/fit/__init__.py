"""Fitting scenarios to recorded sessions (issue 14): ``costmodel fit``.

Sessions come as recorded provider events (the JSONL files `costmodel price-events` reads:
OpenAI Realtime, Gemini Live, Nova Sonic) or as spend logs (one session record a line, with
its usage trail: `costmodel.guard.spendlog`), or directories of either. The fit reads each
session's usages in order, per billing mechanic, and returns a `FitResult` whose scenario
loads and estimates like any other; every parameter is a `FittedValue` with its spread, the
number of sessions behind it and where it came from::

    from costmodel.fit import fit_sessions

    result = fit_sessions(["recordings/"], calls_per_month=60_000)
    result.parameters["cache.hit_ratio"]    # FittedValue(value=0.71, spread=..., sessions=...)
    result.duration.chosen                  # "lognormal" | "empirical" | "fixed", and .why
    result.write("fitted.yaml")             # + fitted-lengths.csv for empirical lengths

Modules: `observe` / `events` (files -> `SessionObservation`), `realtime` / `chained`
(per-mechanic parameters), `cache`, `turns`, `durations`, `scenario_out` (the YAML),
`check` (the fitted estimate against what the sessions cost).
"""

from .check import FitCheck, check_fit
from .durations import DurationFit, fit_duration
from .facts import FittedValue, SessionFacts
from .fitting import fit_sessions, session_facts
from .observation import SessionObservation, SessionUnusable, StreamTiming
from .observe import observe_file
from .result import FitResult

__all__ = ["DurationFit", "FitCheck", "FitResult", "FittedValue", "SessionFacts",
           "SessionObservation", "SessionUnusable", "StreamTiming", "check_fit",
           "fit_duration", "fit_sessions", "observe_file", "session_facts"]
