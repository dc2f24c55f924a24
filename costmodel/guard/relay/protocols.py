"""What the relay must know of each provider's wire protocol, and nothing else does.

A `WireProtocol` says which client frames are audio (relayed without parsing), how to read the
others safely, how to meter upstream frames cheaply, what to send upstream to ask the agent to
wrap up or to stop spending, and what to tell the client when the budget closes its session.
The guard's tracker for the same protocol does the metering (`costmodel.guard.trackers`).

Protocols are chosen from data: `PROTOCOLS` maps a name to its instance, and `protocol_for`
picks one from the upstream URL (``BidiGenerateContent`` is Gemini Live) unless one is given.

>>> protocol_for("wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage."
...              "v1beta.GenerativeService.BidiGenerateContent").name
'gemini-live'
>>> protocol_for("wss://api.openai.com/v1/realtime").name
'openai-realtime'
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import InputError
from ..actions import (
    WRAP_UP_INSTRUCTIONS,
    client_budget_error,
    client_end_notice,
    openai_cut_events,
    openai_delete_events,
    openai_session_update_events,
    openai_wrap_up_events,
)
from ..ladder import LadderStep
from ..policy import Decision
from .frames import (
    SERVER_AUDIO,
    RefusedFrame,
    client_error,
    fast_type,
    is_client_audio,
    parse_client_frame,
    parse_json_object,
)


class WireProtocol:
    """One provider's websocket protocol, as the relay handles it (see the module doc)."""

    name: str

    def client_audio(self, text: str) -> bool:
        """A client frame known, without parsing, to be audio (the bulk of the traffic)."""
        raise NotImplementedError

    def parse_client(self, text: str) -> dict[str, Any]:
        """A client frame as an event; `RefusedFrame` for one the relay will not pass on."""
        raise NotImplementedError

    def server_audio(self, msg: str | bytes) -> dict[str, Any] | None:
        """A cheap stand-in for an upstream audio frame (its type and audio only), else None
        (the frame is parsed)."""
        return None

    def parse_server(self, msg: str | bytes) -> dict[str, Any] | None:
        """An upstream frame as an event, or None for one that is not a JSON object."""
        return parse_json_object(msg)

    def is_request(self, event: dict[str, Any]) -> bool:
        """A client event that asks for a response (dropped rather than sent at a cut)."""
        raise NotImplementedError

    def wrap_up(self) -> list[dict[str, Any]]:
        """Client events asking the agent to close politely, in one or two sentences."""
        raise NotImplementedError

    def cut(self) -> list[dict[str, Any]]:
        """Client events that stop spending now (before the relay closes the session)."""
        return []

    def budget_error(self, decision: Decision) -> str | None:
        """The last message to the client before the budget closes its session, if the
        protocol has one (the close code 4002 says it in every protocol)."""
        return None

    def refusal(self, message: str) -> str | None:
        """What to answer a refused client frame with, if the protocol can say it."""
        return None

    def session_id(self, event: dict[str, Any]) -> str | None:
        """The provider's id for the session, if this event carries it."""
        return None

    def refused_request(self, event: dict[str, Any]) -> str | None:
        """The client event id an upstream error refers to (a refused request), if any."""
        return None

    # -- the ladder and the hang-up timers (`costmodel.guard.relay.steps`) ---------------
    def speech(self, event: dict[str, Any]) -> bool | None:
        """The provider's voice activity: the user's speech started (True) or stopped
        (False); None for any other event."""
        return None

    def detects_speech(self, event: dict[str, Any]) -> bool | None:
        """Whether the session, as this provider event shows it, detects the user's turns
        (its speech events will come); None when the event does not say."""
        return None

    def items(self, event: dict[str, Any]) -> tuple[str | None, str | None]:
        """(id of a conversation item added, id of one deleted), as this event reports."""
        return None, None

    def beta(self, event: dict[str, Any]) -> bool | None:
        """Whether the session speaks the provider's older (beta) protocol, if this event
        shows it."""
        return None

    def cannot(self, step: LadderStep, beta: bool) -> str | None:
        """Why this provider cannot take a ladder step mid-session (None: it can)."""
        if step.kind in ("wrap_up", "end"):
            return None
        return f"{self.name} cannot change {step.kind} mid-session"

    def step(self, step: LadderStep, *, beta: bool, drop: list[str]) -> list[dict[str, Any]]:
        """The client events that take a step the provider can take (`cannot` is None):
        ``max_output_tokens`` and ``truncation`` as a session update, ``drop_turns`` deleting
        the items in `drop`."""
        return []

    def end_notice(self, end: str, message: str) -> str | None:
        """The last message to the client before the guard ends its call for `end`
        (``silence``, ``hold``, ``max_length``, ``ladder_end``), if the protocol has one."""
        return None


class OpenAIRealtime(WireProtocol):
    """OpenAI Realtime: typed JSON events; ``input_audio_buffer.append`` is the audio."""

    name = "openai-realtime"

    def client_audio(self, text: str) -> bool:
        return is_client_audio(text)

    def parse_client(self, text: str) -> dict[str, Any]:
        return parse_client_frame(text)

    def server_audio(self, msg: str | bytes) -> dict[str, Any] | None:
        if not isinstance(msg, str):
            return None
        t = fast_type(msg)
        if t not in SERVER_AUDIO:
            return None
        i = msg.rfind('"delta"')   # (base64 holds no quote: the delta runs to the end)
        return {"type": t, "delta": msg[i + 7:] if i >= 0 else ""}

    def is_request(self, event: dict[str, Any]) -> bool:
        return event.get("type") == "response.create"

    def wrap_up(self) -> list[dict[str, Any]]:
        return openai_wrap_up_events()

    def cut(self) -> list[dict[str, Any]]:
        return openai_cut_events()

    def budget_error(self, decision: Decision) -> str | None:
        return json.dumps(client_budget_error(decision))

    def refusal(self, message: str) -> str | None:
        return json.dumps(client_error("invalid_event", message))

    def session_id(self, event: dict[str, Any]) -> str | None:
        session = event.get("session")
        if event.get("type") == "session.created" and isinstance(session, dict):
            sid = session.get("id")
            return sid if isinstance(sid, str) else None
        return None

    def refused_request(self, event: dict[str, Any]) -> str | None:
        err = event.get("error")
        if event.get("type") == "error" and isinstance(err, dict):
            ref = err.get("event_id")
            return ref if isinstance(ref, str) else None
        return None

    def speech(self, event: dict[str, Any]) -> bool | None:
        t = event.get("type")
        return _OPENAI_SPEECH.get(t) if isinstance(t, str) else None

    def detects_speech(self, event: dict[str, Any]) -> bool | None:
        session = event.get("session")
        if event.get("type") not in _OPENAI_SESSION or not isinstance(session, dict):
            return None
        audio = session.get("audio")   # GA: audio.input.turn_detection; beta: turn_detection
        where = audio.get("input") if isinstance(audio, dict) else session
        if not isinstance(where, dict) or "turn_detection" not in where:
            return None
        return where["turn_detection"] is not None

    def items(self, event: dict[str, Any]) -> tuple[str | None, str | None]:
        t = event.get("type")
        if t in _OPENAI_ITEM_ADDED:
            item = event.get("item")
            iid = item.get("id") if isinstance(item, dict) else None
            return (iid if isinstance(iid, str) else None), None
        if t == "conversation.item.deleted":
            iid = event.get("item_id")
            return None, iid if isinstance(iid, str) else None
        return None, None

    def beta(self, event: dict[str, Any]) -> bool | None:
        session = event.get("session")   # a GA session says its type; a beta one does not
        if event.get("type") != "session.created" or not isinstance(session, dict):
            return None
        return "type" not in session

    def cannot(self, step: LadderStep, beta: bool) -> str | None:
        if step.kind == "truncation" and beta:
            return "the beta Realtime API has no truncation setting"
        return None

    def step(self, step: LadderStep, *, beta: bool, drop: list[str]) -> list[dict[str, Any]]:
        if step.kind == "drop_turns":
            return openai_delete_events(drop)
        if step.kind in ("max_output_tokens", "truncation"):
            return openai_session_update_events(max_output_tokens=step.max_output_tokens,
                                                truncation=step.truncation, beta=beta)
        return []

    def end_notice(self, end: str, message: str) -> str | None:
        return json.dumps(client_end_notice(end, message))


_OPENAI_SPEECH = {"input_audio_buffer.speech_started": True,
                  "input_audio_buffer.speech_stopped": False}
_OPENAI_SESSION = frozenset({"session.created", "session.updated"})
# GA reports an item on `conversation.item.added` (and again at `.done`); beta on `.created`.
_OPENAI_ITEM_ADDED = frozenset({"conversation.item.added", "conversation.item.created",
                                "conversation.item.done"})


# A Gemini client message is one of these (a protobuf oneof): a frame naming two would be
# read differently by different parsers, and the relay must read what the provider reads.
_GEMINI_CLIENT_KINDS = ("setup", "clientContent", "client_content", "realtimeInput",
                        "realtime_input", "toolResponse", "tool_response")
_GEMINI_SPEECH = {"ACTIVITY_START": True, "ACTIVITY_END": False}
_GEMINI_AUDIO_PREFIXES = ('{"realtimeInput":', '{"realtime_input":')
# What an audio chunk must not hold to be relayed unparsed: another message kind, or the end
# of the user's activity (a request for a response, with manual VAD).
_GEMINI_NOT_AUDIO = ('"setup"', '"clientContent"', '"client_content"', '"toolResponse"',
                     '"tool_response"', '"activityEnd"', '"activity_end"', "\\")


class GeminiLive(WireProtocol):
    """Gemini Live (``BidiGenerateContent``): messages keyed by kind, no ``type``; the
    provider's messages may arrive as binary frames (UTF-8 JSON). Wrap-up is a client turn;
    there is no cancel: a cut closes the session."""

    name = "gemini-live"

    def client_audio(self, text: str) -> bool:
        # Audio streams as realtimeInput; unparsed only when no other message kind, no end of
        # activity, and no escaped key can hide in the text.
        return (text.startswith(_GEMINI_AUDIO_PREFIXES)
                and not any(marker in text for marker in _GEMINI_NOT_AUDIO))

    def parse_client(self, text: str) -> dict[str, Any]:
        event = parse_client_frame(text)
        kinds = [k for k in _GEMINI_CLIENT_KINDS if k in event]
        if len(kinds) > 1:
            raise RefusedFrame("duplicate_type", "a message may be only one of setup, "
                               "clientContent, realtimeInput, toolResponse")
        return event

    def is_request(self, event: dict[str, Any]) -> bool:
        content = event.get("clientContent") or event.get("client_content")
        return isinstance(content, dict) and bool(content.get("turnComplete")
                                                  or content.get("turn_complete"))

    def wrap_up(self) -> list[dict[str, Any]]:
        return [{"clientContent": {"turns": [{"role": "user",
                                              "parts": [{"text": WRAP_UP_INSTRUCTIONS}]}],
                                   "turnComplete": True}}]

    def speech(self, event: dict[str, Any]) -> bool | None:
        # voiceActivity {voiceActivityType: ACTIVITY_START | ACTIVITY_END}:
        # https://googleapis.github.io/js-genai/release_docs/enums/types.VoiceActivityType.html
        va = event.get("voiceActivity", event.get("voice_activity"))
        if not isinstance(va, dict):
            return None
        kind = va.get("voiceActivityType", va.get("voice_activity_type"))
        return _GEMINI_SPEECH.get(kind) if isinstance(kind, str) else None

    def cannot(self, step: LadderStep, beta: bool) -> str | None:
        if step.kind in ("wrap_up", "end"):
            return None
        # https://ai.google.dev/api/live: the config cannot be updated while connected.
        return f"Gemini Live takes its config only at setup: no {step.kind} mid-session"


PROTOCOLS: dict[str, WireProtocol] = {p.name: p for p in (OpenAIRealtime(), GeminiLive())}


def protocol_for(upstream: str, name: str | None = None) -> WireProtocol:
    """The protocol named, or the one the upstream URL speaks (InputError for an unknown
    name)."""
    if name is not None and name != "auto":
        try:
            return PROTOCOLS[name]
        except KeyError:
            raise InputError(f"unknown protocol {name!r}; expected auto or one of "
                             f"{', '.join(PROTOCOLS)}") from None
    return PROTOCOLS["gemini-live" if "BidiGenerateContent" in upstream else "openai-realtime"]
