"""Hanging up on calls that cost without talking: silence, hold, and calls that run too long.

A `Hangup` says when a call is ended whatever its budget: no user speech for
`silence_seconds`; `hold_seconds` of audio that the provider does not hear as speech (hold
music, a voicemail tone, a line left open); or `max_call_seconds` from its start (with a
wrap-up asked `wrap_up_before_seconds` earlier, so the agent says goodbye). `Quiet` keeps one
call's clock: it is told what the *provider* reports (its voice activity detection: speech
started and stopped, whether it detects turns at all) and whether the agent is answering, and
says when to end. Clients are untrusted and never move its clock; the only thing taken from
the client is whether audio is streaming at all.

The silence and hold timers count from the last speech either way (the user's, as the
provider's VAD reports it, or the end of the agent's last response) and only once the provider
has shown that it detects speech (a session with turn detection on, or a speech event): a
session whose client commits turns itself reports no speech, and is never hung up on for it.
While audio streams, `hold_seconds` decides (else `silence_seconds`); while none does,
`silence_seconds` does. A phone line streams all the time, so there the hold timer is the one
that counts.

>>> q = Quiet(Hangup(silence_seconds=30, hold_seconds=60), now=0.0)
>>> q.speech(True, now=1.0); q.speech(False, now=4.0)       # the user spoke, 1 s to 4 s
>>> q.check(now=30.0, streaming=False, answering=False) is None   # 26 s of silence
True
>>> q.check(now=34.0, streaming=False, answering=False)           # 30 s
'silence'
>>> q.check(now=34.0, streaming=True, answering=False) is None    # audio: the hold timer
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..errors import UsageError

End = Literal["silence", "hold", "max_length"]
Verdict = Literal["silence", "hold", "max_length", "wrap_up"]


@dataclass(frozen=True)
class Hangup:
    """When to end a call that costs without talking (None: never for that cause).

    Args:
        silence_seconds: no user speech (and no agent answer) for this long: end ``silence``.
        hold_seconds: the same while the client streams audio (only non-speech audio, as on
            hold): end ``hold``. Default: `silence_seconds` decides then too.
        max_call_seconds: the call's longest length: end ``max_length``.
        wrap_up_before_seconds: ask the agent to wrap up this long before `max_call_seconds`
            (0: never).

    >>> Hangup(max_call_seconds=1800).tick_seconds
    1.0
    >>> Hangup(silence_seconds=-1)
    Traceback (most recent call last):
    costmodel.errors.UsageError: silence_seconds must be a number of seconds > 0, got -1
    """

    silence_seconds: float | None = None
    hold_seconds: float | None = None
    max_call_seconds: float | None = None
    wrap_up_before_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("silence_seconds", "hold_seconds", "max_call_seconds"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)
                                  or not math.isfinite(v) or v <= 0):
                raise UsageError(f"{name} must be a number of seconds > 0, got {v!r}")
        w = self.wrap_up_before_seconds
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) \
                or w < 0:
            raise UsageError(f"wrap_up_before_seconds must be a number of seconds >= 0, got "
                             f"{w!r}")

    @property
    def any(self) -> bool:
        """Whether any timer is set."""
        return any(v is not None for v in (self.silence_seconds, self.hold_seconds,
                                           self.max_call_seconds))

    @property
    def tick_seconds(self) -> float:
        """How often to check: a quarter of the shortest timer, at most a second."""
        timers = [v for v in (self.silence_seconds, self.hold_seconds, self.max_call_seconds)
                  if v is not None]
        return min([1.0, *(t / 4 for t in timers)])

    def json(self) -> dict[str, float | None]:
        return {"silence_seconds": self.silence_seconds, "hold_seconds": self.hold_seconds,
                "max_call_seconds": self.max_call_seconds,
                "wrap_up_before_seconds": self.wrap_up_before_seconds}


class Quiet:
    """One call's hang-up clock (see the module docstring); times are the caller's clock, in
    seconds."""

    __slots__ = ("hangup", "started", "last_activity", "speaking", "armed", "wrap_asked")

    def __init__(self, hangup: Hangup, now: float) -> None:
        self.hangup = hangup
        self.started = self.last_activity = now
        self.speaking = False
        self.armed = False        # the provider has shown it detects speech
        self.wrap_asked = False

    def detects_speech(self, on: bool) -> None:
        """The provider's session config: turn detection on (its speech events will come) or
        off (the client commits turns: no speech is ever reported)."""
        self.armed = on

    def speech(self, started: bool, now: float) -> None:
        """The provider reports the user's speech started (True) or stopped (False)."""
        self.speaking, self.last_activity, self.armed = started, now, True

    def answered(self, now: float) -> None:
        """The agent is answering (or has just finished): the quiet counts from now."""
        self.last_activity = now

    def check(self, now: float, *, streaming: bool, answering: bool) -> Verdict | None:
        """What to do now: end the call (``silence``, ``hold``, ``max_length``), ask the agent
        to wrap up (``wrap_up``, once, before the maximum length), or nothing (None).
        `streaming`: client audio arrived since the last check; `answering`: a response is
        asked for or in flight."""
        h = self.hangup
        longest = h.max_call_seconds
        if longest is not None:
            age = now - self.started
            if age >= longest:
                return "max_length"
            lead = h.wrap_up_before_seconds
            if lead and not self.wrap_asked and age >= longest - lead:
                self.wrap_asked = True
                return "wrap_up"
        if answering or self.speaking:
            self.last_activity = now
            return None
        if not self.armed:
            return None
        quiet = now - self.last_activity
        if streaming and h.hold_seconds is not None:
            return "hold" if quiet >= h.hold_seconds else None
        if h.silence_seconds is not None and quiet >= h.silence_seconds:
            return "silence"
        return None
