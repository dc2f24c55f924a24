"""A fit as a scenario: the data `Scenario` validates, its YAML, and its ``assumptions:``.

Numbers are rounded for reading (4 decimals, whole system tokens): far below what moves an
estimate. The YAML says in ``assumptions:`` where each number came from (source, sessions,
spread), how call lengths were derived, what was left out, and what the sessions show that
the scenario cannot say.

>>> print(dump_yaml({"name": "x", "turns": {"seconds_per_turn": 12.5}, "assumptions": "a\\nb"}))
name: x
turns: {seconds_per_turn: 12.5}
assumptions: |-
  a
  b
<BLANKLINE>
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..estimation.scenario import Cache, Turns
from .durations import DurationFit
from .facts import FittedValue, MechanicFit, StackKey, count_of

_TURN_KEYS = tuple(k for k in (
    "seconds_per_turn", "user_speech_s", "agent_speech_s", "agent_text_tokens_per_s",
    "user_text_tokens_per_s", "characters_per_s", "first_response_s")
    if k in Turns.model_fields)


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def stack_value(stack: StackKey) -> str | dict[str, str]:
    """A stack key as the scenario writes it: a bare id, or a mapping of roles."""
    if len(stack) == 1 and stack[0][0] == "realtime":
        return stack[0][1]
    return dict(stack)


def duration_value(d: DurationFit, lengths_file: str) -> dict[str, Any]:
    if d.chosen == "empirical":
        return {"empirical": lengths_file}
    if d.chosen == "lognormal":
        mean, p95 = _r(d.mean_min), _r(d.p95_min)
        if p95 > mean:
            return {"lognormal": {"mean": mean, "p95": p95}}
    return {"fixed": _r(max(d.mean_min, 1e-4))}


def scenario_data(name: str, fit: MechanicFit, duration: DurationFit, calls_per_month: float,
                  lengths_file: str, assumptions: str) -> dict[str, Any]:
    """What the scenario file holds (validated by `Scenario.model_validate`)."""
    p = fit.parameters
    turns = {k: _r(p[f"turns.{k}"].value) for k in _TURN_KEYS if f"turns.{k}" in p}
    # Rounding may leave the speech a hair past the turn, which the scenario refuses.
    excess = turns["user_speech_s"] + turns["agent_speech_s"] - turns["seconds_per_turn"]
    if excess > 0:
        turns["user_speech_s"] = max(0.0, round(turns["user_speech_s"] - excess, 6))
    cache: dict[str, Any] = {"hit_ratio": _r(min(1.0, max(0.0, p["cache.hit_ratio"].value)))}
    if "hits" in Cache.model_fields:
        cache["hits"] = fit.cache_mode
    data: dict[str, Any] = {
        "name": name,
        "description": f"fitted by costmodel fit from {count_of(duration.sessions, 'session')}",
        "volume": {"calls_per_month": _r(calls_per_month, 2)},
        "duration_min": duration_value(duration, lengths_file),
        "turns": turns,
        "prompt": {"system_tokens": int(round(p["prompt.system_tokens"].value))},
        "cache": cache,
    }
    retention = p.get("truncation.retention_ratio")
    if retention is not None and retention.sessions and retention.value < 1:
        data["truncation"] = {"retention_ratio": max(_r(retention.value), 1e-4)}
    data["stacks"] = [stack_value(fit.stack)]
    data["assumptions"] = assumptions
    return data


def _number(v: FittedValue) -> str:
    return f"{v.value:,.4g}" if math.isfinite(v.value) else "n/a"


def describe(key: str, v: FittedValue) -> str:
    """One parameter, as an assumptions line."""
    spread = f", spread {v.spread:.4g}" if v.spread is not None else ""
    basis = f"{count_of(v.sessions, 'session')}{spread}" if v.sessions else "assumed"
    text = f"{key} = {_number(v)} ({basis}): {v.source}"
    return text + (f"; {v.note}" if v.note else "")


def assumptions_text(fit: MechanicFit, duration: DurationFit, *, sessions: int,
                     lengths_from: Sequence[str], volume_source: str,
                     other: Sequence[str], day: str) -> str:
    """The ``assumptions:`` block: where each number came from, one line each."""
    lines = [f"Fitted by costmodel fit on {day} from {count_of(sessions, 'recorded session')} of "
             f"{'+'.join(m for _, m in fit.stack)}."]
    lines.append(f"duration_min: {duration.why}; {count_of(duration.sessions, 'length')}, "
                 f"mean {duration.sample_mean_min:.2f} min, p95 "
                 f"{duration.sample_p95_min:.2f} min; lengths from "
                 + "; ".join(lengths_from) + ".")
    lines.append(f"volume: {volume_source}.")
    lines += [describe(k, v) for k, v in fit.parameters.items()]
    lines.append(f"cache.hits = {fit.cache_mode}: " + (
        "each response after the first hits its whole previous input or misses"
        if fit.cache_mode == "per-response" else "every response hit part of its prefix"))
    lines += [f"Not expressible in the scenario: {p}" for p in fit.problems]
    lines += list(fit.notes) + list(other)
    return "\n".join(lines)


class _Dumper(yaml.SafeDumper):
    """Leaf mappings in flow style, multi-line text as a literal block."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_Dumper.add_representer(str, _str)


def dump_yaml(data: dict[str, Any]) -> str:
    # Lines of a literal block keep their trailing spaces out: YAML would quote instead.
    if isinstance(data.get("assumptions"), str):
        data = {**data, "assumptions": "\n".join(
            line.rstrip() for line in data["assumptions"].splitlines())}
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=None,
                     allow_unicode=True, width=200)


def write_lengths_csv(path: Path, minutes: Sequence[float]) -> None:
    """The call lengths, one a line in minutes, as ``duration_min: {empirical: ...}`` reads
    them (a header line is allowed)."""
    text = "minutes\n" + "".join(f"{m:.6f}\n" for m in minutes)
    path.write_text(text, encoding="utf-8")
