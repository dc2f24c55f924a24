"""What the relay reads of a frame: the event type without parsing, and strict client parsing."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

CLIENT_AUDIO = frozenset({"input_audio_buffer.append"})
SERVER_AUDIO = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TYPE_RE = re.compile(r'"type"\s*:\s*"([^"\\]{1,80})"')


class DuplicateTypeKey(ValueError):
    """A JSON object with the key "type" twice (parsers disagree on which one wins)."""


def _no_duplicate_type(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if keys.count("type") > 1:
        raise DuplicateTypeKey
    return dict(pairs)


def parse_client_frame(text: str) -> Any:
    """Parse a client text frame as JSON, refusing a "type" key given twice at any level.

    Raises `DuplicateTypeKey` for that, ValueError or RecursionError for text that is not JSON.

    >>> parse_client_frame('{"type":"response.create"}')
    {'type': 'response.create'}
    """
    return json.loads(text, object_pairs_hook=_no_duplicate_type)


def client_error(code: str, message: str) -> dict:
    """An OpenAI-shaped ``error`` server event from the relay itself, for its client."""
    return {"type": "error", "event_id": f"relay_{uuid.uuid4().hex[:12]}",
            "error": {"type": "invalid_request_error", "code": code, "message": message,
                      "param": None}}


def fast_type(text: str) -> str | None:
    """The event type of a JSON text when it can be read safely without parsing, else None.

    Only a top-level ``"type"`` within the first 256 characters counts: no ``{`` or ``[`` may
    come before it and ``"type"`` must occur once, so a nested or duplicated key can never
    disguise an event (those texts take the slow path: a full parse).

    >>> fast_type('{"type":"input_audio_buffer.append","audio":"AAAA"}')
    'input_audio_buffer.append'
    >>> fast_type('{"item":{"type":"message"},"type":"response.create"}') is None
    True
    """
    m = _TYPE_RE.search(text, 0, 256)
    if m is None or text.find("{", 1, m.start()) != -1 or text.find("[", 0, m.start()) != -1:
        return None
    return m.group(1) if text.count('"type"') == 1 else None
