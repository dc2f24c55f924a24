"""OpenAI text APIs: the ``usage`` object of Chat Completions and of the Responses API.

Both report **gross** input: the cache reads (and, from GPT-5.6 on, the cache writes) are a
*subset* of the input count, not an addition to it. The adapter splits them out once, so the
`Usage` buckets are disjoint:

- Chat Completions (``chat.completion.usage``; OpenAI API reference, mirrored in
  openai/openai-python ``src/openai/types/completion_usage.py``)::

      prompt_tokens                       gross: includes cached, cache-written and audio tokens
      prompt_tokens_details.cached_tokens     cache reads (subset of prompt_tokens)
      prompt_tokens_details.audio_tokens      audio input (subset of prompt_tokens)
      prompt_tokens_details.cache_write_tokens  GPT-5.6+: tokens written to the cache
      completion_tokens                   includes reasoning, audio and prediction tokens
      completion_tokens_details.{reasoning_tokens, audio_tokens,
                                 accepted_prediction_tokens, rejected_prediction_tokens}

- Responses API (``response.usage``; openai-python ``types/responses/response_usage.py``)::

      input_tokens, input_tokens_details.{cached_tokens, cache_write_tokens}
      output_tokens, output_tokens_details.reasoning_tokens

Reasoning tokens are already inside ``completion_tokens`` / ``output_tokens`` and are billed as
output, so they are never added again. Rejected prediction tokens are likewise counted in
``completion_tokens`` (OpenAI: "still counted in the total completion tokens for purposes of
billing").

GPT-5.6 and later bill cache writes at 1.25x input with a 30-minute minimum TTL; they are
reported as ``cache_write_tokens`` under ``input_tokens_details`` (Responses) and
``prompt_tokens_details`` (Chat). The OpenAI prompt-caching guide's example (2,000 read + 400
written + 200 neither) shows writes are disjoint from reads and inside the input total. Source:
the guide as quoted in mindroom-ai/mindroom#2134, agno-agi/agno#10314 and
openai/openai-agents-python#3773 on GitHub (older openai-python releases do not model the
field). Those tokens go to ``text.cache_write_30m``.

Chat Completions reports the cached count without a modality. When a payload has both cached
(or cache-written) tokens *and* audio/image input, which modality was cached is unknown and the
adapter raises `UsageError` rather than guess (cached audio and cached text have different
rates).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ..core.usage import Usage
from ..errors import UsageError
from ._common import count, mapping, put

__all__ = ["usage_from_chat_completion", "usage_from_responses"]


def _required(payload: Mapping[str, Any], key: str, where: str) -> int:
    if payload.get(key) is None:
        raise UsageError(f"{where}.{key} is missing: it is required")
    return count(payload, key, where)


def _top(usage: object, where: str) -> Mapping[str, Any]:
    if not isinstance(usage, Mapping):
        raise UsageError(f"{where} must be an object, got {type(usage).__name__}")
    return usage


def usage_from_chat_completion(usage: Mapping[str, Any], model: str, *, at: date | None = None,
                               label: str = "") -> Usage:
    """A `Usage` from a Chat Completions ``usage`` object (cached tokens split out once).

    >>> u = usage_from_chat_completion(
    ...     {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
    ...      "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    ...      "completion_tokens_details": {"reasoning_tokens": 64}},
    ...     "openai/gpt-5.4-mini")
    >>> dict(u.tokens)
    {'text.input': 86, 'text.cached': 1920, 'text.output': 300}
    """
    where = "usage"
    usage = _top(usage, where)
    prompt = _required(usage, "prompt_tokens", where)
    completion = _required(usage, "completion_tokens", where)
    count(usage, "total_tokens", where)  # type-checked only

    pwhere = f"{where}.prompt_tokens_details"
    pd = mapping(usage, "prompt_tokens_details", where)
    cached = count(pd, "cached_tokens", pwhere)
    written = count(pd, "cache_write_tokens", pwhere)
    audio_in = count(pd, "audio_tokens", pwhere)
    image_in = count(pd, "image_tokens", pwhere)
    if cached + written > prompt:
        raise UsageError(
            f"{pwhere}.cached_tokens ({cached}) + cache_write_tokens ({written}) exceed "
            f"{where}.prompt_tokens ({prompt}), which includes them")
    if (cached or written) and (audio_in or image_in):
        raise UsageError(
            f"{pwhere} has cached/cache-written tokens and audio or image input, but Chat "
            "Completions does not say which modality was cached; price this call from a "
            "payload with a per-modality cache breakdown")
    text_in = prompt - cached - written - audio_in - image_in
    if text_in < 0:
        raise UsageError(
            f"{pwhere}: audio_tokens ({audio_in}) + image_tokens ({image_in}) + cached_tokens "
            f"({cached}) + cache_write_tokens ({written}) exceed {where}.prompt_tokens ({prompt})")

    cwhere = f"{where}.completion_tokens_details"
    cd = mapping(usage, "completion_tokens_details", where)
    audio_out = count(cd, "audio_tokens", cwhere)
    for key in ("reasoning_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens"):
        n = count(cd, key, cwhere)
        if n > completion:
            raise UsageError(f"{cwhere}.{key} ({n}) exceeds {where}.completion_tokens "
                             f"({completion}), which includes it")
    if audio_out > completion:
        raise UsageError(f"{cwhere}.audio_tokens ({audio_out}) exceeds {where}.completion_tokens "
                         f"({completion}), which includes it")

    tokens: dict[str, int] = {}
    put(tokens, "text.input", text_in)
    put(tokens, "text.cached", cached)
    put(tokens, "text.cache_write_30m", written)
    put(tokens, "audio.input", audio_in)
    put(tokens, "image.input", image_in)
    put(tokens, "text.output", completion - audio_out)
    put(tokens, "audio.output", audio_out)
    return Usage(model, tokens, at=at, label=label)


def usage_from_responses(usage: Mapping[str, Any], model: str, *, at: date | None = None,
                         label: str = "") -> Usage:
    """A `Usage` from a Responses API ``usage`` object (cached tokens split out once).

    >>> u = usage_from_responses(
    ...     {"input_tokens": 12033, "input_tokens_details": {"cached_tokens": 11904},
    ...      "output_tokens": 44, "output_tokens_details": {"reasoning_tokens": 0},
    ...      "total_tokens": 12077},
    ...     "openai/gpt-5.4-mini")
    >>> dict(u.tokens)
    {'text.input': 129, 'text.cached': 11904, 'text.output': 44}
    """
    where = "usage"
    usage = _top(usage, where)
    total_in = _required(usage, "input_tokens", where)
    output = _required(usage, "output_tokens", where)
    count(usage, "total_tokens", where)  # type-checked only

    iwhere = f"{where}.input_tokens_details"
    idet = mapping(usage, "input_tokens_details", where)
    cached = count(idet, "cached_tokens", iwhere)
    written = count(idet, "cache_write_tokens", iwhere)
    if cached + written > total_in:
        raise UsageError(
            f"{iwhere}.cached_tokens ({cached}) + cache_write_tokens ({written}) exceed "
            f"{where}.input_tokens ({total_in}), which includes them")

    owhere = f"{where}.output_tokens_details"
    reasoning = count(mapping(usage, "output_tokens_details", where), "reasoning_tokens", owhere)
    if reasoning > output:
        raise UsageError(f"{owhere}.reasoning_tokens ({reasoning}) exceeds {where}.output_tokens "
                         f"({output}), which includes them")

    tokens: dict[str, int] = {}
    put(tokens, "text.input", total_in - cached - written)
    put(tokens, "text.cached", cached)
    put(tokens, "text.cache_write_30m", written)
    put(tokens, "text.output", output)
    return Usage(model, tokens, at=at, label=label)
