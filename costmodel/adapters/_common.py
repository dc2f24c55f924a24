"""Helpers shared by the adapters: reading counts out of payloads, strictly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._files import clip
from ..errors import UsageError

MAX_COUNT = 10 ** 12  # more tokens than any session could use: a corrupt payload


#: The bucket of a prompt-cache write, by the catalog provider of the model (the part of its id
#: before "/"). Anthropic's default TTL is 5 minutes (both Pipecat's and LiveKit's Anthropic
#: plugins mark breakpoints ``{"type": "ephemeral"}`` with no TTL); Bedrock's ``cachePoint``
#: ``{"type": "default"}`` is 5 minutes too; OpenAI (GPT-5.6+) writes 30-minute caches.
CACHE_WRITE_BUCKET: dict[str, str] = {
    "anthropic": "text.cache_write_5m",
    "amazon": "text.cache_write_5m",
    "openai": "text.cache_write_30m",
}


def count(payload: Mapping[str, Any] | None, key: str, where: str) -> int:
    """A non-negative integer count at ``payload[key]``; missing or null is 0."""
    if payload is None:
        return 0
    value = payload.get(key)
    if value is None:
        return 0
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= MAX_COUNT:
        return int(value)
    raise UsageError(f"{where}.{key} must be a whole number from 0 to 1e12, "
                     f"got {clip(repr(value))}")


def require_counts(payload: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    """Refuse a usage object that reports none of its counts (``"usage": {}``).

    It is not a usage of zero tokens: it says nothing, so pricing it at $0 would understate
    the session. (An explicit ``"input_tokens": 0`` is a real zero and is priced.)
    """
    if all(payload.get(k) is None for k in keys):
        raise UsageError(f"{where} reports none of {', '.join(keys)}; it cannot be priced")


def mapping(payload: Mapping[str, Any] | None, key: str, where: str) -> Mapping[str, Any] | None:
    """The object at ``payload[key]``, or None when absent; a non-object is an error."""
    if payload is None:
        return None
    value = payload.get(key)
    # `type is dict` first: the abstract-class isinstance check costs ~0.3 us per call.
    if value is None or type(value) is dict or isinstance(value, Mapping):
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


def needs_modalities(model: str) -> bool:
    """True when `model` is a speech model whose audio and text tokens have different rates.

    Frameworks that report only token totals (Pipecat, some LiveKit plugins) cannot be priced
    for such models: all-text buckets would under-price the audio several times over.
    """
    from ..core.catalog import default_catalog
    from ..errors import CostModelError

    try:
        entry = default_catalog().get(model)
    except CostModelError:
        return False  # pricing will report the unknown model itself
    return entry.kind == "realtime" and any("audio" in p.tokens for p in entry.prices)


def refuse_totals_for_speech(model: str, where: str) -> None:
    if needs_modalities(model):
        raise UsageError(
            f"{where} gives only token totals, but {model} bills audio and text tokens at "
            "different rates; price this model from the provider's own events instead "
            "(costmodel.adapters.openai_realtime / gemini_live / nova_sonic)")
