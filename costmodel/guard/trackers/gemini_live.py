"""Gemini Live (``BidiGenerateContent``): every ``usageMetadata`` is a priced response; the
model's turns stream audio; the client asks for a response by completing its turn.

Messages have no ``type``: they are objects keyed by what they carry (camelCase on the wire,
snake_case from some SDKs). Server: ``setupComplete``, ``serverContent`` (``modelTurn`` parts
with inline audio, ``turnComplete``, ``interrupted``), ``usageMetadata``, ``toolCall``,
``goAway``. Client: ``setup`` (first, names the model), ``clientContent`` (``turnComplete``
asks for a response), ``realtimeInput`` (audio; ``activityEnd`` with manual VAD),
``toolResponse``.

The model comes from the client's ``setup``: the provider does not echo it, and it runs the
model that message names, so the guard meters exactly what is billed (a relay forwards the
frame it read, byte for byte). Only the first ``setup`` counts; a later one is refused by the
provider and ignored here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...adapters.gemini_live import GeminiLiveReader
from ..policy import Decision
from .base import Tracker

_SERVER_ONLY = ("usageMetadata", "usage_metadata", "serverContent", "server_content",
                "setupComplete", "setup_complete", "toolCall", "tool_call", "goAway", "go_away")


def _get(message: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = message.get(camel)
    return message.get(snake) if value is None else value


def audio_bytes(content: Mapping[str, Any]) -> int:
    """Bytes of inline audio in a ``serverContent.modelTurn``."""
    turn = _get(content, "modelTurn", "model_turn")
    parts = turn.get("parts") if isinstance(turn, Mapping) else None
    total = 0
    for part in parts if isinstance(parts, list) else ():
        blob = _get(part, "inlineData", "inline_data") if isinstance(part, Mapping) else None
        data = blob.get("data") if isinstance(blob, Mapping) else None
        if isinstance(data, str):
            total += len(data) * 3 // 4
    return total


class GeminiLiveTracker(Tracker):
    """See the module docstring."""

    format = "gemini-live"
    reader_class = GeminiLiveReader

    def __init__(self, meter: Any, **kwargs: Any) -> None:
        super().__init__(meter, **kwargs)
        self._set_up = False          # a setup went out: later ones are not the session's
        self._answering = False       # a model turn is streaming

    def server(self, event: Mapping[str, Any]) -> Decision:
        meter = self.meter
        decision = None
        content = _get(event, "serverContent", "server_content")
        if isinstance(content, Mapping):
            if _get(content, "modelTurn", "model_turn") is not None:
                self.audio_bytes += audio_bytes(content)
                if not self._answering:
                    self._answering = True
                    decision = meter.started()
            if _get(content, "turnComplete", "turn_complete") or content.get("interrupted"):
                self._answering = False
        if "setup" in event:  # a recording that interleaves the client's messages
            return self.client(event)
        if _get(event, "usageMetadata", "usage_metadata") is not None:
            return self._completed(event)
        return decision if decision is not None else meter.other()

    def client(self, event: Mapping[str, Any]) -> Decision:
        meter = self.meter
        setup = event.get("setup")
        if setup is not None:
            if self._set_up:
                return meter.last
            self._set_up = True
            return self._metered(event)  # names the model
        content = _get(event, "clientContent", "client_content")
        if isinstance(content, Mapping):
            if _get(content, "turnComplete", "turn_complete"):
                return meter.requested()
            return meter.busted() if content.get("turns") else meter.last
        realtime = _get(event, "realtimeInput", "realtime_input")
        if isinstance(realtime, Mapping):
            if _get(realtime, "activityEnd", "activity_end") is not None:
                return meter.before_response()
            return meter.last
        if _get(event, "toolResponse", "tool_response") is not None:
            return meter.requested()   # the model answers a tool's result
        if any(key in event for key in _SERVER_ONLY):
            return meter.forged(next(k for k in _SERVER_ONLY if k in event))
        return meter.last
