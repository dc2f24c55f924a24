"""Changes to a realtime model's replies from some answer on: what the scenario's policies
(`costmodel.estimation.policies`) make the simulator (`costmodel.estimation.simulate`) do.

>>> in_force = replies_in_force((ReplyChange(3, max_output_tokens=90),), 30, 150, 1.0)
>>> in_force(2), in_force(3)          # (text out, audio out, retention) of answers 2 and 3
((30, 150, 1.0), (15, 75, 1.0))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyChange:
    """From answer `first` on, a realtime model's replies are cut at `max_output_tokens`, or
    its truncation keeps `retention_ratio` (of the model's threshold, as the scenario's
    ``truncation`` does)."""

    first: int
    max_output_tokens: int | None = None
    retention_ratio: float | None = None


def capped_reply(text: int, audio: int, cap: int) -> tuple[int, int]:
    """A reply of `text` + `audio` tokens cut at `cap` output tokens, each part in
    proportion, audio rounded down: the rule the guard's projector cuts replies by
    (`costmodel.guard.projector.capped_output`), so an estimate and a guarded call agree.

    >>> capped_reply(30, 150, 90)
    (15, 75)
    """
    if text + audio <= cap:
        return text, audio
    kept = audio * cap // (text + audio)
    return cap - kept, kept


def replies_in_force(changes: tuple[ReplyChange, ...], text_out: int, audio_out: int,
                     keep: float) -> Callable[[int], tuple[int, int, float]]:
    """(text out, audio out, retention) of answer k, each change applied from its answer on
    (a later change of the same setting replaces an earlier one)."""
    if not changes:
        return lambda k: (text_out, audio_out, keep)

    def at(k: int) -> tuple[int, int, float]:
        out_t, out_a, kept = text_out, audio_out, keep
        for c in changes:
            if c.first <= k:
                if c.max_output_tokens is not None:
                    out_t, out_a = capped_reply(text_out, audio_out, c.max_output_tokens)
                if c.retention_ratio is not None:
                    kept = c.retention_ratio
        return out_t, out_a, kept
    return at
