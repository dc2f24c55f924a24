"""Protocol trackers: one provider's session events, in both directions, read for the guard.

A tracker knows one protocol (OpenAI Realtime, Gemini Live, Nova Sonic); the guard knows
none. The tracker turns each event into calls on the `Meter` the guard implements: a response
was requested, started, refused or completed (with its usage), the user spoke for so long, the
cache was busted, a client sent what only the provider may. Only the provider's events can
name the model or report usage: each tracker has separate `server` and `client` entry points.

Trackers are chosen from data: `TRACKERS` maps a format name to its class, and a session's
format is the one whose reader claims its first provider event (`costmodel.adapters`).
"""

from __future__ import annotations

from .base import Meter, Tracker
from .gemini_live import GeminiLiveTracker
from .nova_sonic import NovaSonicTracker
from .openai_realtime import OpenAIRealtimeTracker

TRACKERS: dict[str, type[Tracker]] = {
    cls.format: cls for cls in (OpenAIRealtimeTracker, GeminiLiveTracker, NovaSonicTracker)}

__all__ = ["TRACKERS", "GeminiLiveTracker", "Meter", "NovaSonicTracker", "OpenAIRealtimeTracker",
           "Tracker"]
