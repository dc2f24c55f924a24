"""Pipecat: the usage metrics a pipeline emits in ``MetricsFrame.data``.

Shapes from pipecat-ai/pipecat ``src/pipecat/metrics/metrics.py``::

    LLMUsageMetricsData{processor, model, value: LLMTokenUsage}
    LLMTokenUsage{prompt_tokens, completion_tokens, total_tokens,
                  cache_read_input_tokens?, cache_creation_input_tokens?, reasoning_tokens?}
    TTSUsageMetricsData{processor, model, value: int}          # characters synthesised
    STTUsageMetricsData{processor, model, value: STTUsage{audio_seconds}}   # newer releases

**``prompt_tokens`` means different things per service.** Verified in pipecat:

- ``services/anthropic/llm.py`` sums Anthropic's ``input_tokens`` into ``prompt_tokens`` and
  reports ``cache_read_input_tokens`` / ``cache_creation_input_tokens`` beside it: prompt_tokens
  is **net** of the cache (``total_input = prompt + creation + read`` in the same file).
- ``services/openai/base_llm.py`` copies ``usage.prompt_tokens`` (gross) and sets
  ``cache_read_input_tokens = prompt_tokens_details.cached_tokens`` and ``reasoning_tokens =
  completion_tokens_details.reasoning_tokens``: prompt_tokens **includes** the cache reads, and
  reasoning is inside ``completion_tokens``. It does not report cache writes.

That is the table `PROMPT_TOKENS_INCLUDE_CACHE`, keyed by the provider part of the catalog id
("anthropic/claude-haiku-4.5" -> "anthropic"). A provider not in it raises `UsageError` asking
for ``prompt_tokens_include_cache=`` whenever cache tokens are present (never guessed).

Cache writes: Pipecat's Anthropic service marks breakpoints ``{"type": "ephemeral"}`` with no
TTL, i.e. the 5-minute default, so its writes are ``text.cache_write_5m``; OpenAI (GPT-5.6+)
writes are ``text.cache_write_30m`` (`CACHE_WRITE_BUCKET`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ..core.usage import TOKEN_KEYS, Usage, quantity
from ..errors import UsageError
from ._common import CACHE_WRITE_BUCKET, count, put, refuse_totals_for_speech

__all__ = [
    "CACHE_WRITE_BUCKET", "PROMPT_TOKENS_INCLUDE_CACHE", "REASONING_IN_COMPLETION",
    "usage_from_pipecat_llm",
    "usage_from_pipecat_metrics", "usage_from_pipecat_stt", "usage_from_pipecat_tts",
]

#: Does ``LLMTokenUsage.prompt_tokens`` include the cache reads/writes, by provider?
PROMPT_TOKENS_INCLUDE_CACHE: dict[str, bool] = {
    "anthropic": False,  # services/anthropic/llm.py: prompt_tokens += usage.input_tokens
    "openai": True,      # services/openai/base_llm.py: prompt_tokens = usage.prompt_tokens
    "google": True,      # services/google/gemini_live/llm.py: prompt_token_count (with cache)
}

#: Are ``reasoning_tokens`` inside ``completion_tokens``, by provider? (Not in the table: yes.)
REASONING_IN_COMPLETION: dict[str, bool] = {
    "openai": True,   # completion_tokens_details.reasoning_tokens, part of completion_tokens
    "google": False,  # gemini_live/llm.py: thoughts_token_count beside response_token_count
}

def _provider(model: str) -> str:
    return model.split("/", 1)[0].strip().lower() if "/" in model else ""


def _value(data: object) -> object:
    """The ``value`` of a ``*MetricsData`` dict, or `data` itself when it is the bare value."""
    if isinstance(data, Mapping) and "value" in data and "processor" in data:
        return data["value"]
    return data


def usage_from_pipecat_llm(usage: Mapping[str, Any], model: str, *,
                           prompt_tokens_include_cache: bool | None = None,
                           cache_write_bucket: str | None = None,
                           at: date | None = None, label: str = "") -> Usage:
    """A `Usage` from a Pipecat ``LLMTokenUsage`` dict (or ``LLMUsageMetricsData`` dict).

    ``prompt_tokens_include_cache`` overrides `PROMPT_TOKENS_INCLUDE_CACHE`;
    ``cache_write_bucket`` overrides `CACHE_WRITE_BUCKET` (e.g. ``"text.cache_write_1h"``).
    Realtime services (pipecat #5050/#5052) add ``input_audio_tokens``,
    ``output_audio_tokens`` and ``cache_read_input_audio_tokens``: see `_modalities`.

    >>> u = usage_from_pipecat_llm({"prompt_tokens": 2200, "completion_tokens": 60,
    ...                             "total_tokens": 2260, "cache_read_input_tokens": 2048},
    ...                            "openai/gpt-5.4-mini")
    >>> dict(u.tokens)
    {'text.input': 152, 'text.cached': 2048, 'text.output': 60}
    """
    where = "LLMTokenUsage"
    value = _value(usage)
    if not isinstance(value, Mapping):
        raise UsageError(f"{where} must be an object, got {type(value).__name__}")
    usage = value
    for key in ("prompt_tokens", "completion_tokens"):
        if usage.get(key) is None:
            raise UsageError(f"{where}.{key} is missing: it is required")
    prompt = count(usage, "prompt_tokens", where)
    completion = count(usage, "completion_tokens", where)
    count(usage, "total_tokens", where)  # type-checked only
    read = count(usage, "cache_read_input_tokens", where)
    created = count(usage, "cache_creation_input_tokens", where)
    reasoning = count(usage, "reasoning_tokens", where)
    provider = _provider(model)
    inside = REASONING_IN_COMPLETION.get(provider, True)
    if inside and reasoning > completion:
        raise UsageError(f"{where}.reasoning_tokens ({reasoning}) exceeds completion_tokens "
                         f"({completion}), which includes them")
    audio_keys = ("input_audio_tokens", "output_audio_tokens")
    if all(usage.get(k) is None for k in audio_keys):
        refuse_totals_for_speech(model, where)

    uncached = _uncached(prompt, read, created, model, prompt_tokens_include_cache, where)
    tokens, flagged = _modalities(usage, where, uncached, read, completion)
    if created:
        put(tokens, _write_bucket(cache_write_bucket, provider, where), created)
    if not inside:
        put(tokens, "text.output", reasoning)  # Gemini's thoughts: beside the response
    return Usage(model, tokens, at=at, label=label, estimated=flagged)


def _uncached(prompt: int, read: int, created: int, model: str, include: bool | None,
              where: str) -> int:
    """The uncached input: ``prompt_tokens`` less the cache tokens when it includes them."""
    if not (read or created):
        return prompt
    provider = _provider(model)
    if include is None:
        include = PROMPT_TOKENS_INCLUDE_CACHE.get(provider)
    if include is None:
        raise UsageError(
            f"{where}: whether prompt_tokens includes the cache tokens is not known for "
            f"provider {provider or '(none)'!r} of model {model!r}; pass "
            "prompt_tokens_include_cache=True (gross, OpenAI-style) or False (net, "
            "Anthropic-style)")
    uncached = prompt - read - created if include else prompt
    if uncached < 0:
        raise UsageError(
            f"{where}.cache_read_input_tokens ({read}) + cache_creation_input_tokens "
            f"({created}) exceed prompt_tokens ({prompt}), which includes them for "
            f"{provider or model!r}")
    return uncached


def _write_bucket(given: str | None, provider: str, where: str) -> str:
    bucket = given or CACHE_WRITE_BUCKET.get(provider)
    if bucket is None:
        raise UsageError(
            f"{where}.cache_creation_input_tokens: the cache TTL is not known for "
            f"provider {provider or '(none)'!r}; pass cache_write_bucket=, e.g. "
            "'text.cache_write_5m'")
    if bucket not in TOKEN_KEYS or ".cache_write_" not in bucket:
        raise UsageError(f"cache_write_bucket {bucket!r} is not a cache-write bucket")
    return bucket


def _modalities(usage: Mapping[str, Any], where: str, uncached: int, read: int,
                completion: int) -> tuple[dict[str, int], bool]:
    """(token buckets but the cache writes, flagged?) from the uncached input, the cache
    reads and the completion, split by the audio counts when reported.

    ``input_audio_tokens`` is the prompt's audio, cached or not (OpenAI Realtime's
    ``input_token_details.audio_tokens``, Gemini Live's AUDIO prompt details);
    ``cache_read_input_audio_tokens`` the cached part of it (absent: the cache holds the
    oldest, text, context first); ``output_audio_tokens`` the completion's audio. The rest of
    each side is text (image tokens, which Pipecat does not report apart, included). Audio
    counts past their total are priced as reported, flagged.
    """
    audio_in = count(usage, "input_audio_tokens", where)
    audio_out = count(usage, "output_audio_tokens", where)
    text_in = uncached + read - audio_in  # (cache writes are text, taken out by the caller)
    flagged = text_in < 0 or audio_out > completion
    text_in = max(text_in, 0)
    if usage.get("cache_read_input_audio_tokens") is None:
        audio_cached = max(read - text_in, 0)
    else:
        audio_cached = count(usage, "cache_read_input_audio_tokens", where)
    if audio_cached > audio_in or audio_cached > read:
        raise UsageError(f"{where}.cache_read_input_audio_tokens ({audio_cached}) exceeds the "
                         f"audio input ({audio_in}) or the cache reads ({read}) it is part of")
    tokens: dict[str, int] = {}
    put(tokens, "text.input", text_in - (read - audio_cached))
    put(tokens, "text.cached", read - audio_cached)
    put(tokens, "audio.input", audio_in - audio_cached)
    put(tokens, "audio.cached", audio_cached)
    put(tokens, "text.output", max(completion - audio_out, 0))
    put(tokens, "audio.output", audio_out)
    return tokens, flagged


def usage_from_pipecat_stt(usage: Mapping[str, Any], model: str, *, at: date | None = None,
                           label: str = "") -> Usage:
    """A `Usage` from a Pipecat ``STTUsage`` dict (or ``STTUsageMetricsData`` dict).

    One report, exactly as reported. A streaming service's reports are "incremental deltas
    since the previous usage report" of one stream (pipecat ``metrics/metrics.py``), which its
    provider rounds to the billing increment once: pricing each such `Usage` on its own
    rounds each delta up. `costmodel.hooks.streams.Streams` turns them into the stream's bill.

    >>> usage_from_pipecat_stt({"audio_seconds": 4.25}, "deepgram/nova-3").audio_seconds
    Decimal('4.25')
    """
    where = "STTUsage"
    value = _value(usage)
    if not isinstance(value, Mapping):
        raise UsageError(f"{where} must be an object with audio_seconds, "
                         f"got {type(value).__name__}")
    usage = value
    if usage.get("audio_seconds") is None:
        raise UsageError(f"{where}.audio_seconds is missing: it is required")
    seconds: Decimal = quantity(usage["audio_seconds"], f"{where}.audio_seconds")
    return Usage(model, audio_seconds=seconds, at=at, label=label)


def usage_from_pipecat_tts(value: int | Mapping[str, Any], model: str, *, at: date | None = None,
                           label: str = "") -> Usage:
    """A `Usage` from a ``TTSUsageMetricsData`` dict or its ``value`` (characters).

    >>> usage_from_pipecat_tts({"processor": "CartesiaTTSService#0", "model": "sonic-3",
    ...                         "value": 142}, "cartesia/sonic-3").characters
    142
    """
    where = "TTSUsageMetricsData"
    raw = _value(value)
    if raw is None:
        raise UsageError(f"{where}.value is missing: it is required")
    chars = count({"value": raw}, "value", where)
    return Usage(model, characters=chars, at=at, label=label)


def usage_from_pipecat_metrics(data: Mapping[str, Any], model: str, **kwargs: Any) -> Usage:
    """A `Usage` from one usage ``MetricsData`` dict of a ``MetricsFrame``, by its ``value``.

    LLM usage (``value`` has ``prompt_tokens``), STT usage (``value`` has ``audio_seconds``) or
    TTS usage (``value`` is an int). ``kwargs`` go to the specific adapter. Pipecat's ``model``
    field is a bare provider model name, so the catalog id is always given.

    >>> usage_from_pipecat_metrics({"processor": "DeepgramSTTService#0", "model": "nova-3",
    ...                             "value": {"audio_seconds": 3}}, "deepgram/nova-3").audio_seconds
    Decimal('3')
    """
    if not isinstance(data, Mapping) or "value" not in data:
        raise UsageError("MetricsData must be an object with a 'value'")
    value = data["value"]
    if isinstance(value, Mapping) and "prompt_tokens" in value:
        return usage_from_pipecat_llm(value, model, **kwargs)
    if isinstance(value, Mapping) and "audio_seconds" in value:
        return usage_from_pipecat_stt(value, model, **kwargs)
    if type(value) is int:
        return usage_from_pipecat_tts(value, model, **kwargs)
    raise UsageError(f"MetricsData.value {value!r} is not LLM, STT or TTS usage (timing metrics "
                     "such as TTFB are not priced)")
