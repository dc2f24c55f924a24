"""Reading a webhook body: bounded JSON with exact numbers, and fields named by their path.

Both platforms send JSON. Numbers are read as `Decimal` (``parse_float=Decimal``), so a cost
of ``0.0123`` is the amount the platform wrote, never its binary neighbour; ``NaN`` and
``Infinity`` are refused. A field that is missing or of the wrong type raises `UsageError`
naming its path (``message.call.id: missing``): the app answers it with HTTP 400.

>>> body = parse_json(b'{"message": {"cost": 0.0123, "call": {"id": "c-1"}}}', "vapi")
>>> text(body, "message.call.id"), amount(body, "message.cost")
('c-1', Decimal('0.0123'))
>>> text(body, "message.phoneNumber.number")
Traceback (most recent call last):
costmodel.errors.UsageError: message.phoneNumber: missing
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .._files import clip
from ..errors import AmountError, UsageError
from ..money import to_usd

MAX_BODY_BYTES = 16 << 20   # an end-of-call report carries the transcript: ~1 MB an hour


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object in `raw` (UTF-8), numbers with a fraction as `Decimal`. Raises
    `UsageError` saying where the text stops being JSON."""
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what}: the body is not JSON ({exc.msg} at line {exc.lineno} "
                         f"column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what}: the body is not UTF-8 (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:   # NaN/Infinity, or nested past the stack
        raise UsageError(f"{what}: the body is not usable JSON ({clip(str(exc), 80)})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what}: the body is a JSON {type(data).__name__}, not an object")
    return data


def _walk(obj: Mapping[str, Any], path: str) -> tuple[Any, str]:
    """(the value at dotted `path`, "") or (None, the path of its first missing part). JSON
    null counts as missing; a parent that is not an object raises `UsageError`."""
    parts = path.split(".")
    node: Any = obj
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping):
            raise UsageError(f"{'.'.join(parts[:i])}: expected an object, got "
                             f"{clip(repr(node))}")
        node = node.get(part)
        if node is None:
            return None, ".".join(parts[:i + 1])
    return node, ""


def value(obj: Mapping[str, Any], path: str, *, required: bool = True) -> Any:
    """The value at `path` (None when absent and not `required`)."""
    found, missing = _walk(obj, path)
    if missing and required:
        raise UsageError(f"{missing}: missing")
    return found


def text(obj: Mapping[str, Any], path: str, *, required: bool = True) -> str | None:
    """A non-empty string at `path` (at most 512 characters: ids, numbers, names)."""
    found = value(obj, path, required=required)
    if found is None:
        return None
    if not isinstance(found, str) or not found or len(found) > 512:
        raise UsageError(f"{path}: expected a non-empty string of at most 512 characters, "
                         f"got {clip(repr(found))}")
    return found


def mapping(obj: Mapping[str, Any], path: str, *, required: bool = True
            ) -> Mapping[str, Any] | None:
    """An object at `path`."""
    found = value(obj, path, required=required)
    if found is not None and not isinstance(found, Mapping):
        raise UsageError(f"{path}: expected an object, got {clip(repr(found))}")
    return found


def amount(obj: Mapping[str, Any], path: str, *, required: bool = True,
           scale: int = 0) -> Decimal | None:
    """A non-negative amount at `path`, exact, times 10**`scale` (-2: cents to USD)."""
    found = value(obj, path, required=required)
    if found is None:
        return None
    try:
        usd = to_usd(found, path, allow_float=False)
    except AmountError as exc:
        raise UsageError(str(exc)) from None
    return usd.scaleb(scale) if scale else usd


def quantity(obj: Mapping[str, Any], path: str) -> Decimal | None:
    """An optional non-negative number at `path` (minutes, characters, tokens), exact."""
    found = value(obj, path, required=False)
    if found is None:
        return None
    if type(found) not in (int, Decimal) or not Decimal(found).is_finite() or found < 0:
        raise UsageError(f"{path}: expected a number >= 0, got {clip(repr(found))}")
    return Decimal(found)


def instant(obj: Mapping[str, Any], path: str) -> datetime | None:
    """An optional ISO 8601 time at `path` (``2026-11-30T10:00:05.250Z``), in UTC."""
    found = value(obj, path, required=False)
    if found is None:
        return None
    try:
        at = datetime.fromisoformat(found) if isinstance(found, str) else None
    except ValueError:
        at = None
    if at is None or at.utcoffset() is None:
        raise UsageError(f"{path}: expected an ISO 8601 time with its zone, got "
                         f"{clip(repr(found))}")
    return at.astimezone(UTC)


def epoch_ms(obj: Mapping[str, Any], path: str) -> datetime | None:
    """An optional time at `path` in milliseconds since the Unix epoch, in UTC."""
    found = value(obj, path, required=False)
    if found is None:
        return None
    if type(found) is not int or not 0 <= found < 10**14:
        raise UsageError(f"{path}: expected milliseconds since 1970 (an integer), got "
                         f"{clip(repr(found))}")
    return datetime.fromtimestamp(found / 1000, UTC)
