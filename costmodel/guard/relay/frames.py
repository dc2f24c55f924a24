"""What the relay reads of a frame: the event type without parsing, and strict client parsing."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

CLIENT_AUDIO = frozenset({"input_audio_buffer.append"})
SERVER_AUDIO = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TYPE_RE = re.compile(r'"type"\s*:\s*"([^"\\]{1,80})"')
# Parsing runs on the event loop that carries every session, and costs per JSON value (~60 ns
# with json.loads, ~300 ns per object through the duplicate check): a 4 MiB `[{},{},...]` held
# every session for ~0.5 s. Real events have at most a few thousand values (a session.update
# with many tools); their bulk is long strings (audio, images), which cost little.
MAX_CLIENT_VALUES = 50_000     # commas and brackets in a client event, counted before parsing
MAX_CHECKED_OBJECTS = 5_000    # objects in one that must go through the duplicate check


class RefusedFrame(ValueError):
    """A client frame the relay does not pass on; `reason` is its metrics label
    (``duplicate_type``, ``too_complex``, ``not_json``), `message` what the client is told."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def _too_complex(limit: int, what: str) -> RefusedFrame:
    return RefusedFrame("too_complex", f"an event may hold at most {limit} {what}")


def _no_duplicate_type(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if keys.count("type") > 1:
        raise RefusedFrame("duplicate_type", "an event may have only one 'type' key")
    return dict(pairs)


def is_client_audio(text: str) -> bool:
    """Whether a client text frame is an audio append, known without parsing it (by its
    `fast_type`, which no escaped or nested key can disguise).

    >>> is_client_audio('{"type":"input_audio_buffer.append","audio":"AAAA"}')
    True
    >>> is_client_audio('{"type":"input_audio_buffer.append","\\u0074ype":"response.create"}')
    False
    """
    return fast_type(text) in CLIENT_AUDIO


def parse_client_frame(text: str) -> dict[str, Any]:
    """Parse a client text frame as a JSON object, refusing a "type" key given twice at any
    level (parsers disagree on which one wins), frames too costly to parse on the event loop,
    and text that is not one JSON object: a provider whose parser took a valid prefix
    (``{"type":"response.create"} junk``) would act on what the guard never saw.

    Raises `RefusedFrame` for all of those.

    >>> parse_client_frame('{"type":"response.create"}')
    {'type': 'response.create'}
    >>> parse_client_frame('{"type":"a","\\u0074ype":"b"}')
    Traceback (most recent call last):
    costmodel.guard.relay.frames.RefusedFrame: an event may have only one 'type' key
    """
    # Each count needs at least that many characters: short texts skip the scans.
    if len(text) > MAX_CLIENT_VALUES and \
            text.count(",") + text.count("{") + text.count("[") > MAX_CLIENT_VALUES:
        raise _too_complex(MAX_CLIENT_VALUES, "JSON values")
    try:
        if "\\u" not in text and text.count('"type"') < 2:
            # A "type" key can only be spelled out (no escape) and there is one at most: no
            # duplicate to find, so the C parser alone will do.
            event = json.loads(text)
        else:
            if len(text) > MAX_CHECKED_OBJECTS and text.count("{") > MAX_CHECKED_OBJECTS:
                raise _too_complex(MAX_CHECKED_OBJECTS, "objects when it has several 'type' "
                                   "keys or \\u escapes")
            event = json.loads(text, object_pairs_hook=_no_duplicate_type)
    except RefusedFrame:
        raise
    except (ValueError, RecursionError):
        raise RefusedFrame("not_json", "an event must be one JSON object") from None
    if not isinstance(event, dict):
        raise RefusedFrame("not_json", "an event must be one JSON object")
    return event


def parse_json_object(msg: str | bytes) -> dict[str, Any] | None:
    """A provider's frame (text, or UTF-8 bytes) as a JSON object, or None when it is not
    one (binary audio, a malformed frame): the relay forwards it as it came either way."""
    try:
        event = json.loads(msg)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        return None
    return event if isinstance(event, dict) else None


def client_error(code: str, message: str) -> dict:
    """An OpenAI-shaped ``error`` server event from the relay itself, for its client."""
    return {"type": "error", "event_id": f"relay_{uuid.uuid4().hex[:12]}",
            "error": {"type": "invalid_request_error", "code": code, "message": message,
                      "param": None}}


def fast_type(text: str) -> str | None:
    """The event type of a JSON text when it can be read safely without parsing, else None.

    Only a top-level ``"type"`` within the first 256 characters counts: no ``{`` or ``[`` may
    come before it, ``"type"`` must occur once, and the text may hold no backslash (an escaped
    key, ``"\\u0074ype"``, is a "type" key that cannot be counted). So a nested, duplicated or
    escaped key can never disguise an event: those texts take the slow path, a full parse.
    (Base64 audio, the bulk of the traffic, never holds a backslash.)

    >>> fast_type('{"type":"input_audio_buffer.append","audio":"AAAA"}')
    'input_audio_buffer.append'
    >>> fast_type('{"item":{"type":"message"},"type":"response.create"}') is None
    True
    """
    m = _TYPE_RE.search(text, 0, 256)
    if m is None or "\\" in text or text.find("{", 1, m.start()) != -1 \
            or text.find("[", 0, m.start()) != -1:
        return None
    return m.group(1) if text.count('"type"') == 1 else None
