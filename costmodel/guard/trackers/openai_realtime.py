"""OpenAI Realtime: server events price responses and transcriptions and time the user's
turns; client events ask for responses and edit the context.

Event names: OpenAI's realtime server and client events (GA and beta). A response is asked
for by the client (``response.create``), or by the server's VAD committing the user's audio
(``input_audio_buffer.committed``); ``response.created`` puts it in flight, ``response.done``
reports its usage, an ``error`` refuses the request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...adapters.openai_realtime import OpenAIRealtimeReader
from ...money import to_decimal
from ..policy import Decision
from ..projector import Truncation
from .base import Tracker

_AUDIO_DELTA = frozenset({"response.output_audio.delta", "response.audio.delta"})
_SESSION = frozenset({"session.created", "session.updated", "transcription_session.created",
                      "transcription_session.updated"})
# Client events that edit what the cached prefix holds.
_CACHE_BUSTERS = frozenset({"session.update", "conversation.item.delete",
                            "conversation.item.truncate"})
# What else a client may send: no money moves until the provider answers.
_CLIENT_SIGNALS = frozenset({"input_audio_buffer.append", "input_audio_buffer.commit",
                             "input_audio_buffer.clear", "conversation.item.create",
                             "conversation.item.retrieve", "response.cancel",
                             "output_audio_buffer.clear", "transcription_session.update"})
# Output audio formats whose byte rate is fixed (G.711: 8 kHz, a byte a sample).
_G711 = frozenset({"audio/pcmu", "audio/pcma", "g711_ulaw", "g711_alaw"})


def output_bytes_per_second(session: Mapping[str, Any]) -> int | None:
    """The output audio byte rate a session config sets (GA or beta shape), if it sets one.

    >>> output_bytes_per_second({"audio": {"output": {"format": {"type": "audio/pcmu"}}}})
    8000
    >>> output_bytes_per_second({"output_audio_format": "pcm16"})
    48000
    """
    fmt = None
    audio = session.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("output"), dict):
        fmt = audio["output"].get("format")  # GA: {"type": "audio/pcm", "rate": 24000}
    if fmt is None:
        fmt = session.get("output_audio_format")  # beta: "pcm16" | "g711_ulaw" | ...
    if isinstance(fmt, dict):
        kind, rate = fmt.get("type"), fmt.get("rate")
        if kind in _G711:
            return 8000
        if isinstance(rate, int) and rate > 0:
            return 2 * rate
    elif fmt in _G711:
        return 8000
    elif fmt == "pcm16":
        return 48000
    return None


def session_limits(session: Mapping[str, Any]) -> tuple[int | None, Truncation | None]:
    """The reply cap and the truncation a session config sets (GA ``max_output_tokens``, beta
    ``max_response_output_tokens``: a number of tokens or ``"inf"``; GA ``truncation``:
    ``"auto"``, ``"disabled"`` or a retention ratio, see `Truncation`). A session event shows
    the whole effective config, so what it leaves out is the default: no cap, ``"auto"``
    (https://platform.openai.com/docs/api-reference/realtime-server-events/session/updated).

    >>> session_limits({"max_output_tokens": 300, "truncation": {"type": "retention_ratio",
    ...     "retention_ratio": 0.5, "token_limits": {"post_instructions": 8000}}})
    (300, Truncation(retention_ratio=Decimal('0.5'), post_instructions_tokens=8000, disabled=False))
    >>> session_limits({"max_response_output_tokens": "inf", "truncation": "auto"})
    (None, None)
    """
    cap = session.get("max_output_tokens", session.get("max_response_output_tokens"))
    cap = cap if type(cap) is int and cap > 0 else None
    t = session.get("truncation")
    if t == "disabled":
        return cap, Truncation(disabled=True)
    if not isinstance(t, dict) or t.get("type") != "retention_ratio":
        return cap, None
    ratio = t.get("retention_ratio")
    keep = None
    if isinstance(ratio, int | float) and not isinstance(ratio, bool) and 0 < ratio <= 1:
        keep = to_decimal(ratio, "retention_ratio")
    limits = t.get("token_limits")
    post = limits.get("post_instructions") if isinstance(limits, dict) else None
    return cap, Truncation(retention_ratio=keep,
                           post_instructions_tokens=post if type(post) is int and post > 0
                           else None)


class OpenAIRealtimeTracker(Tracker):
    """See the module docstring."""

    format = "openai-realtime"
    reader_class = OpenAIRealtimeReader

    def __init__(self, meter: Any, **kwargs: Any) -> None:
        super().__init__(meter, **kwargs)
        self._speech_start_ms: float | None = None
        m = meter
        # One dict look-up per event; the handlers that only pass are left out.
        self._server: dict[str, Callable[[Mapping[str, Any]], Decision]] = {
            "response.done": self._completed,
            "response.created": lambda e: m.started(),
            "error": lambda e: m.refused(),
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": lambda e: m.before_response(),
            "conversation.item.input_audio_transcription.completed": self._metered,
            # Recordings interleave client events; a replay feeds them as the provider's.
            "response.create": lambda e: m.requested(),
            **dict.fromkeys(_CACHE_BUSTERS, lambda e: m.busted()),
            **dict.fromkeys(_SESSION, self._session),
        }

    def server(self, event: Mapping[str, Any]) -> Decision:
        t = event.get("type")
        if type(t) is not str:
            return self.meter.last  # not an event of this protocol: passes through
        if t in _AUDIO_DELTA:  # the hot path: many a second, each counted by its length only
            delta = event.get("delta")
            if isinstance(delta, str):
                self.audio_bytes += len(delta) * 3 // 4
            return self.meter.last
        handler = self._server.get(t)
        return handler(event) if handler is not None else self.meter.other()

    def _session(self, event: Mapping[str, Any]) -> Decision:
        session = event.get("session")
        if isinstance(session, dict):
            rate = output_bytes_per_second(session)
            if rate is not None:
                self.meter.audio_rate(rate)
            self.meter.configured(*session_limits(session))
        return self._metered(event)  # names the model(s)

    def _speech_started(self, event: Mapping[str, Any]) -> Decision:
        start = event.get("audio_start_ms")
        self._speech_start_ms = start if isinstance(start, int | float) else None
        return self.meter.user_speech(None)

    def _speech_stopped(self, event: Mapping[str, Any]) -> Decision:
        # The real speech_stopped carries only audio_end_ms; the start came on speech_started.
        start = event.get("audio_start_ms", self._speech_start_ms)
        end = event.get("audio_end_ms")
        seconds = None
        if isinstance(end, int | float) and isinstance(start, int | float) and end >= start:
            seconds = to_decimal(end - start, "audio_end_ms - audio_start_ms") / 1000
        return self.meter.user_speech(seconds)

    def client(self, event: Mapping[str, Any]) -> Decision:
        t = event.get("type")
        meter = self.meter
        if t == "response.create":
            return meter.requested()
        if not isinstance(t, str):
            return meter.last  # not an OpenAI client event at all: no signal
        if t in _CACHE_BUSTERS:
            return meter.busted()
        if t in _CLIENT_SIGNALS:
            return meter.last
        return meter.forged(t)
