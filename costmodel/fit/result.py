"""`FitResult`: the fitted parameters, the scenario they make, and what the fit saw."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from ..estimation.scenario import Scenario, load_scenario
from .durations import DurationFit
from .facts import FittedValue, StackKey, count_of
from .scenario_out import (
    assumptions_text,
    dump_yaml,
    scenario_data,
    stack_value,
    write_lengths_csv,
)

#: Sessions a result lists by name among those left out (all are counted).
KEPT = 1000


@dataclass
class FitResult:
    """A scenario fitted to recorded sessions.

    ``parameters`` are keyed by scenario path (``turns.seconds_per_turn``, ``cache.hit_ratio``,
    ...) plus ``observed.*`` figures behind them; ``sessions`` is how many sessions were fitted
    (those of ``stack``, the most common stack); ``left_out`` lists (the first `KEPT`) sessions
    that could not be used, and why; ``lengths_unknown`` counts fitted sessions whose length
    could not be derived (used for turn parameters, not for the call-length distribution);
    ``observed_usd_per_call`` is the mean priced cost of the fitted sessions (of the
    ``priced_sessions`` that could be priced), what the scenario's estimate should come back to.

    >>> from costmodel.fit import fit_sessions
    >>> r = fit_sessions(["examples/sessions/openai-realtime-support.jsonl"])
    >>> r.stack
    (('realtime', 'openai/gpt-realtime-1.5'), ('transcription', 'openai/gpt-4o-transcribe'))
    >>> r.sessions, r.duration.chosen
    (1, 'fixed')
    """

    name: str
    stack: StackKey
    mechanic: str
    parameters: dict[str, FittedValue]
    cache_mode: str
    duration: DurationFit
    sessions: int
    calls_per_month: float
    volume_source: str
    day: date
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    left_out_count: int = 0
    lengths_unknown: int = 0
    lengths_from: dict[str, int] = field(default_factory=dict)
    other_stacks: dict[str, int] = field(default_factory=dict)
    observed_usd_per_call: Decimal | None = None
    priced_sessions: int = 0

    @property
    def lengths_file(self) -> str:
        """The empirical CSV's name, beside the scenario file."""
        return f"{self.name}-lengths.csv"

    def _facts(self) -> Any:
        from .facts import MechanicFit

        return MechanicFit(self.stack, self.parameters, self.cache_mode, self.problems,
                           self.notes)

    def assumptions(self) -> str:
        other = []
        if self.lengths_unknown:
            unknown = count_of(self.lengths_unknown, "fitted session")
            other.append(f"{unknown} had no derivable length: counted for turn parameters, "
                         "not for the call-length distribution.")
        if self.other_stacks:
            other.append("Sessions of other stacks, not fitted (one stack per fit, the most "
                         "common): " + ", ".join(f"{k} ({n:,})"
                                                 for k, n in self.other_stacks.items()) + ".")
        if self.left_out_count:
            other.append(f"{count_of(self.left_out_count, 'session')} left out (unreadable or "
                         "incomplete): " + "; ".join(self.left_out[:3])
                         + (" ..." if self.left_out_count > 3 else "") + ".")
        if self.observed_usd_per_call is not None:
            other.append(f"The {count_of(self.priced_sessions, 'priced session')} cost "
                         f"${self.observed_usd_per_call:.6f} per call on average at the rates "
                         f"of {self.day.isoformat()}.")
        lengths_from = [f"{count_of(n, 'session')}: {how}" for how, n in self.lengths_from.items()]
        return assumptions_text(self._facts(), self.duration, sessions=self.sessions,
                                lengths_from=lengths_from, volume_source=self.volume_source,
                                other=other, day=self.day.isoformat())

    def data(self, lengths_file: str | None = None) -> dict[str, Any]:
        """The scenario as the mapping its YAML holds."""
        return scenario_data(self.name, self._facts(), self.duration, self.calls_per_month,
                             lengths_file or self.lengths_file, self.assumptions())

    def to_yaml(self, lengths_file: str | None = None) -> str:
        """The scenario file's text (`assumptions:` says where each number came from)."""
        return ("# Fitted by `costmodel fit`: every number's source is under assumptions.\n"
                + dump_yaml(self.data(lengths_file)))

    @cached_property
    def scenario(self) -> Scenario:
        """The fitted scenario, ready to estimate. An empirical call-length distribution
        reads its CSV, which is written to a temporary directory kept while this result
        lives (`write` puts it beside the scenario file instead)."""
        sc = Scenario.model_validate(self.data())
        if self.duration.chosen == "empirical":
            tmp = Path(tempfile.mkdtemp(prefix="costmodel-fit-"))
            weakref.finalize(self, shutil.rmtree, tmp, True)
            write_lengths_csv(tmp / self.lengths_file, self.duration.minutes)
            sc._base_dir = str(tmp)
        return sc

    def write(self, path: str | Path) -> list[Path]:
        """Write the scenario YAML (and, for empirical lengths, its CSV beside it); return
        the paths written. The file is read back with `load_scenario` before returning."""
        path = Path(path)
        written = []
        if self.duration.chosen == "empirical":
            csv = path.with_name(f"{path.stem}-lengths.csv")
            write_lengths_csv(csv, self.duration.minutes)
            written.append(csv)
            text = self.to_yaml(csv.name)
        else:
            text = self.to_yaml()
        path.write_text(text, encoding="utf-8")
        written.insert(0, path)
        load_scenario(path)  # what was written loads as a scenario (raises if not)
        return written

    def as_json(self) -> dict[str, Any]:
        """Everything but the YAML text, JSON-ready (no NaN or Infinity)."""
        return {
            "name": self.name, "stack": stack_value(self.stack), "mechanic": self.mechanic,
            "sessions": self.sessions,
            "parameters": {k: v.as_json() for k, v in self.parameters.items()},
            "cache_hits": self.cache_mode, "duration": self.duration.as_json(),
            "calls_per_month": self.calls_per_month, "volume_source": self.volume_source,
            "lengths_from": self.lengths_from, "lengths_unknown": self.lengths_unknown,
            "not_expressible": self.problems, "notes": self.notes,
            "other_stacks": self.other_stacks, "left_out": self.left_out,
            "left_out_count": self.left_out_count,
            "observed_usd_per_call": (None if self.observed_usd_per_call is None
                                      else format(self.observed_usd_per_call, "f")),
            "priced_sessions": self.priced_sessions, "rates_on": self.day.isoformat(),
        }
