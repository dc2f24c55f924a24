"""Anthropic Messages API: the ``usage`` object of a message (or the final streaming usage).

Anthropic reports input **net** of the cache, in three disjoint counts (Anthropic's
prompt-caching docs, "Tracking cache performance":
https://platform.claude.com/docs/en/build-with-claude/prompt-caching)::

    input_tokens                  uncached input after the last cache breakpoint
    cache_read_input_tokens       read from the cache (0.1x input)
    cache_creation_input_tokens   written to the cache (5 min: 1.25x, 1 h: 2x)
    cache_creation.ephemeral_5m_input_tokens / ephemeral_1h_input_tokens   the write split by TTL
    output_tokens                 includes extended-thinking tokens

    total input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens

So nothing is subtracted here. When the ``cache_creation`` split is absent (older API versions),
every written token used the default 5-minute TTL. When the split is present it must add up to
``cache_creation_input_tokens``; a disagreement is a malformed payload (`UsageError`).

For a streamed message pass the usage of the last ``message_delta`` merged over the
``message_start`` usage (``message_delta`` carries the cumulative ``output_tokens``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ..core.usage import Usage
from ..errors import UsageError
from ._common import count, mapping, put

__all__ = ["usage_from_anthropic"]


def _required(payload: Mapping[str, Any], key: str, where: str) -> int:
    if payload.get(key) is None:
        raise UsageError(f"{where}.{key} is missing: it is required")
    return count(payload, key, where)


def usage_from_anthropic(usage: Mapping[str, Any], model: str, *, at: date | None = None,
                         label: str = "") -> Usage:
    """A `Usage` from an Anthropic ``usage`` object (all counts already disjoint).

    >>> u = usage_from_anthropic(
    ...     {"input_tokens": 21, "cache_creation_input_tokens": 188086,
    ...      "cache_read_input_tokens": 0, "output_tokens": 393,
    ...      "cache_creation": {"ephemeral_5m_input_tokens": 188086,
    ...                         "ephemeral_1h_input_tokens": 0}},
    ...     "anthropic/claude-haiku-4.5")
    >>> dict(u.tokens)
    {'text.input': 21, 'text.cache_write_5m': 188086, 'text.output': 393}
    """
    where = "usage"
    if not isinstance(usage, Mapping):
        raise UsageError(f"{where} must be an object, got {type(usage).__name__}")
    uncached = _required(usage, "input_tokens", where)
    output = _required(usage, "output_tokens", where)
    read = count(usage, "cache_read_input_tokens", where)
    created = count(usage, "cache_creation_input_tokens", where)

    cwhere = f"{where}.cache_creation"
    split = mapping(usage, "cache_creation", where)
    has_split = split is not None and any(
        split.get(k) is not None
        for k in ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"))
    if has_split:
        five = count(split, "ephemeral_5m_input_tokens", cwhere)
        hour = count(split, "ephemeral_1h_input_tokens", cwhere)
        if usage.get("cache_creation_input_tokens") is not None and five + hour != created:
            raise UsageError(
                f"{cwhere}.ephemeral_5m_input_tokens ({five}) + ephemeral_1h_input_tokens "
                f"({hour}) = {five + hour} disagrees with {where}.cache_creation_input_tokens "
                f"({created})")
    else:
        five, hour = created, 0  # no split: the default TTL, 5 minutes

    tokens: dict[str, int] = {}
    put(tokens, "text.input", uncached)
    put(tokens, "text.cached", read)
    put(tokens, "text.cache_write_5m", five)
    put(tokens, "text.cache_write_1h", hour)
    put(tokens, "text.output", output)
    return Usage(model, tokens, at=at, label=label)
