"""Helpers shared by the adapters: reading counts out of payloads, strictly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UsageError


def count(payload: Mapping[str, Any] | None, key: str, where: str) -> int:
    """A non-negative integer count at ``payload[key]``; missing or null is 0."""
    if payload is None:
        return 0
    value = payload.get(key)
    if value is None:
        return 0
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    raise UsageError(f"{where}.{key} must be a non-negative integer, got {value!r}")


def mapping(payload: Mapping[str, Any] | None, key: str, where: str) -> Mapping[str, Any] | None:
    """The object at ``payload[key]``, or None when absent; a non-object is an error."""
    if payload is None:
        return None
    value = payload.get(key)
    if value is None or isinstance(value, Mapping):
        return value
    raise UsageError(f"{where}.{key} must be an object, got {type(value).__name__}")


def put(tokens: dict[str, int], key: str, n: int) -> None:
    if n:
        tokens[key] = tokens.get(key, 0) + n


def split_cached(tokens: dict[str, int], modality: str, total: int, cached: int,
                 where: str) -> None:
    """Record `total` input tokens of which `cached` were cache reads (a subset), once."""
    if cached > total:
        raise UsageError(f"{where}: {cached} cached {modality} tokens exceed the {total} "
                         f"{modality} input tokens they are part of")
    put(tokens, f"{modality}.input", total - cached)
    put(tokens, f"{modality}.cached", cached)
