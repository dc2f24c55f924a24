"""What one recorded session shows, before any catalog fact is applied.

>>> from costmodel.core.usage import Usage
>>> obs = SessionObservation("s.jsonl", "openai-realtime", "gpt-realtime-1.5",
...                          (Usage("gpt-realtime-1.5", {"audio.input": 50}),))
>>> obs.seconds is None and obs.timing is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..core.usage import Usage
from ..errors import UsageError


class SessionUnusable(UsageError):
    """A session that cannot be fitted (its message names the file and line, or the spend
    log's session): it is left out of the fit and listed, and the rest still count."""


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """An OpenAI Realtime session's own clock, from its voice-activity events.

    ``input_seconds``: the input audio stream's position at the last speech event
    (``audio_start_ms`` / ``audio_end_ms``); ``tail_output_audio_tokens``: the output audio of
    the responses done after it; ``speech_seconds`` over ``segments``: speech as the server's
    VAD timed it (start to stop, padding included); ``vad_padding_seconds``: the session's
    ``prefix_padding_ms`` + ``silence_duration_ms`` (None if the events do not say);
    ``first_stop_seconds``: where the first speech stopped (the first turn is committed
    then, and answered right after: when the first answer comes).
    """

    input_seconds: float
    tail_output_audio_tokens: int
    speech_seconds: float
    segments: int
    vad_padding_seconds: float | None = None
    first_stop_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class SessionObservation:
    """One session: its model as named, every usage in order, and its length when recorded
    (a spend log's ``seconds``) or the stream timing it can be derived from.

    ``format`` is the events' format (``openai-realtime``, ``gemini-live``, ``nova-sonic``)
    or ``spend-log``; ``day`` the session's start, when the source says.
    """

    source: str
    format: str
    model: str | None
    usages: tuple[Usage, ...]
    seconds: float | None = None
    timing: StreamTiming | None = None
    day: date | None = None
