"""Seconds per turn: the one length that turns a call's length into its responses.

The estimator gives a call of ``s`` whole seconds ``max(1, (s - first) // turn + 1)``
answers when the scenario says when the first answer comes (``turns.first_response_s``),
else ``max(1, s // turn)`` (`Scenario.responses_per_call`). Real sessions end some time after
their last answer (the user says goodbye, a turn is cut), so the plain ratio total seconds /
total responses is a little long, and flooring each simulated call loses about half an
answer more: on a re-billing model whose cost grows with the square of the answers, ~5% of a
5-minute call. So the value written is the one for which the rule, applied to the observed
lengths, gives back the answers observed (solved by bisection: the count falls as the turn
grows). The plain ratio is kept in the note.

>>> v = seconds_per_turn([(62.0, 4), (31.5, 2), (95.0, 6)])   # plain ratio 188.5 / 12
>>> round(v.value, 2), v.sessions   # 62 // 15.49 + 32 // 15.49 + 95 // 15.49 = 4 + 2 + 6
(15.5, 3)
>>> v = seconds_per_turn([(62.0, 4), (31.5, 2), (95.0, 6)], first=5.0)
>>> round(v.value, 2)               # (62 - 5) // 15.71 + 1 = 4, (32 - 5) // 15.71 + 1 = 2, ...
15.71
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .facts import FittedValue, sample_std

MIN_SECONDS_PER_TURN = 1.0      # the scenario's bounds on turns.seconds_per_turn
MAX_SECONDS_PER_TURN = 3600.0


def answers(seconds: np.ndarray, spt: float, first: float | None) -> int:
    """The answers the estimator gives calls of these whole seconds, summed."""
    if first is None:
        return int(np.maximum(1, seconds // spt).sum())
    return int(np.maximum(1, (seconds - first) // spt + 1).sum())


def _least(count: Callable[[float], int], ok: Callable[[int], bool]) -> float:
    """The smallest spt in the scenario's bounds whose answer count is `ok` (the count
    falls as spt grows), by bisection to ~1e-12 s."""
    lo, hi = MIN_SECONDS_PER_TURN, MAX_SECONDS_PER_TURN
    for _ in range(60):
        mid = (lo + hi) / 2
        if ok(count(mid)):
            hi = mid
        else:
            lo = mid
    return hi


def seconds_per_turn(sessions: Sequence[tuple[float, int]], *,
                     first: float | None = None) -> FittedValue:
    """Fit ``turns.seconds_per_turn`` to (call seconds, responses) pairs, the first answer
    coming at `first` seconds (None: the rule without it). Sessions with no response are
    left out: they say nothing about turns."""
    pairs = [(s, n) for s, n in sessions if n > 0 and s > 0]
    rule = "max(1, seconds // value)" if first is None else \
        "max(1, (seconds - first_response_s) // value + 1)"
    source = f"call seconds / responses, solved so that {rule} gives back the responses seen"
    if not pairs:
        return FittedValue(math.nan, None, 0, source)
    seconds = np.maximum(1, np.ceil(np.array([s for s, _ in pairs]) - 1e-9))
    target = sum(n for _, n in pairs)
    plain = math.fsum(s for s, _ in pairs) / target

    def count(spt: float) -> int:
        return answers(seconds, spt, first)

    if count(MIN_SECONDS_PER_TURN) <= target:
        value = MIN_SECONDS_PER_TURN
    elif count(MAX_SECONDS_PER_TURN) > target:
        value = MAX_SECONDS_PER_TURN
    else:
        low = _least(count, lambda c: c <= target)   # the count reaches the target here
        if count(low) == target:
            # Every spt in [low, past) gives the target: take the one nearest the plain
            # ratio (with many sessions the interval is a hair wide).
            past = _least(count, lambda c: c < target)
            value = min(max(plain, low), past * (1 - 1e-9))
        else:  # the count steps over the target: the nearer side of the step
            below = low * (1 - 1e-9)
            value = low if target - count(low) <= count(below) - target else below
    note = (f"plain ratio {plain:.2f} s; the rule gives {count(value):,} responses for the "
            f"{target:,} seen")
    spread = sample_std([s / n for s, n in pairs])
    return FittedValue(value, spread, len(pairs), source, note)


#: The scenario's defaults, for what no session shows (`Turns`, `Prompt`, `Cache`).
DEFAULTS = {"turns.seconds_per_turn": 15.0, "turns.user_speech_s": 5.0,
            "turns.agent_speech_s": 7.0, "turns.agent_text_tokens_per_s": 3.5,
            "prompt.system_tokens": 0.0, "cache.hit_ratio": 0.0}


def complete(parameters: dict[str, FittedValue], problems: list[str]) -> None:
    """Fill what no session showed with the scenario's default (saying so), and make the
    turn hold its speech (the scenario requires user + agent speech <= seconds_per_turn):
    an assumed user speech gives way first; two observed ones that do not fit are scaled
    down together, and that is reported as something the scenario cannot say."""
    for key, default in DEFAULTS.items():
        v = parameters.get(key)
        if v is None or math.isnan(v.value):
            how = f" ({v.source})" if v is not None and v.source else ""
            parameters[key] = FittedValue(default, None, 0, f"no session showed it{how}: "
                                          "the scenario's default")
    spt = parameters["turns.seconds_per_turn"].value
    user, agent = parameters["turns.user_speech_s"], parameters["turns.agent_speech_s"]
    if user.value + agent.value <= spt + 1e-6:  # (spt may sit a hair under a step)
        return
    if not user.sessions:
        parameters["turns.user_speech_s"] = FittedValue(
            max(0.0, spt - agent.value), None, 0, user.source,
            "lowered so that the turn holds the agent's speech")
        agent = parameters["turns.agent_speech_s"]
        if agent.value <= spt:
            return
    scale = spt / (user.value + agent.value)
    problems.append(f"speech per turn ({user.value:.2f} s user + {agent.value:.2f} s agent) "
                    f"is longer than the {spt:.2f} s turn (overlapping speech or barge-in); "
                    f"the scenario needs it to fit, so both are scaled by {scale:.3f}, which "
                    "understates their tokens")
    for key in ("turns.user_speech_s", "turns.agent_speech_s"):
        v = parameters[key]
        parameters[key] = FittedValue(v.value * scale, v.spread, v.sessions, v.source,
                                      (v.note + "; " if v.note else "") +
                                      f"scaled by {scale:.3f} to fit the turn")
