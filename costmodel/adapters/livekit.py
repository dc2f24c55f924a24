"""LiveKit Agents: the per-model usage summaries of ``session_usage_updated``.

Shapes verified in livekit/agents ``livekit-agents/livekit/agents/metrics/usage.py`` (older
releases: ``metrics/model_usage.py``) and ``voice/events.py``::

    SessionUsageUpdatedEvent{type: "session_usage_updated",
                             usage: AgentSessionUsage{model_usage: [ModelUsage, ...]},
                             created_at}

    LLMModelUsage  type "llm_usage" ("llm" in the first release), provider, model,
                   input_tokens, input_cached_tokens,
                   input_text_tokens, input_cached_text_tokens,
                   input_audio_tokens, input_cached_audio_tokens,
                   input_image_tokens, input_cached_image_tokens,
                   output_tokens, output_text_tokens, output_audio_tokens,
                   session_duration (seconds; only xAI's realtime plugin sets it)
    STTModelUsage  type "stt_usage" ("stt"), provider, model, input_tokens, output_tokens,
                   audio_duration (seconds)
    TTSModelUsage  type "tts_usage" ("tts"), provider, model, input_tokens, output_tokens,
                   characters_count, audio_duration (seconds)
    InterruptionModelUsage / EOTModelUsage  type "interruption_usage" / "eot_usage",
                   total_requests: request counts of LiveKit's own turn models; no tokens,
                   no unit costmodel prices, skipped by `usages_from_session`.

Semantics (from ``ModelUsageCollector.collect`` in the same file):

- The counts are **cumulative per (provider, model) for the whole session**; every
  ``session_usage_updated`` carries the running totals, so price the *latest* event only; do not
  add events together.
- Cached counts are **subsets**: ``input_tokens`` sums ``prompt_tokens`` (LLMMetrics) or
  realtime ``input_tokens``, both of which include cached tokens; ``input_<m>_tokens`` includes
  ``input_cached_<m>_tokens`` (OpenAI realtime semantics). Each modality is split once.
- Chained LLMs (``LLMMetrics``) fill only ``input_tokens``, ``input_cached_tokens`` and
  ``output_tokens``: all text. Realtime models also fill the per-modality counts, which must then
  add up to the totals (otherwise `UsageError`: tokens would be left unpriced).
- LiveKit's Anthropic plugin sets ``prompt_tokens = input + cache_creation + cache_read`` and
  ``prompt_cached_tokens = cache_read``; the cache-write count is not carried into
  ``LLMModelUsage``, so Anthropic cache writes are priced here as uncached input (1x instead of
  1.25x). Use `costmodel.adapters.anthropic` on the raw response for exact write costs.
- STT/TTS report a billing unit and informational ones side by side (the framework counts
  ``characters_count`` and ``audio_duration`` for every TTS; token-billed plugins add tokens).
  The adapter keeps the most specific unit reported: tokens, else characters (TTS), else audio
  duration. STT/TTS tokens map to ``audio.input``/``text.output`` (STT) and
  ``text.input``/``audio.output`` (TTS), as the LiveKit field docs describe them.

The ``provider`` LiveKit reports is the plugin's name ("deepgram", "Cartesia") or, for the
OpenAI-client plugins (OpenAI, Anthropic and OpenAI-compatible), the API host
("api.openai.com"). The catalog id is ``<provider>/<model>`` lowercased, with hosts mapped
through `PROVIDER_ALIASES`; a model name that already contains "/" (LiveKit Inference,
"openai/gpt-4.1-mini") is used as it is. Pass ``model`` to override.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ..core.catalog import Catalog, default_catalog
from ..core.usage import MODALITIES, Usage, quantity
from ..errors import UnknownModelError, UsageError
from ._common import CACHE_WRITE_BUCKET, count, put, refuse_totals_for_speech

__all__ = ["PROVIDER_ALIASES", "catalog_id", "usage_from_livekit", "usages_from_session"]

#: API hosts reported as ``provider`` by LiveKit's OpenAI-client plugins -> catalog provider.
#: Verified: ``provider`` returns ``self._client._base_url.netloc`` in livekit-plugins-openai and
#: livekit-plugins-anthropic ``llm.py``. Extend it for other OpenAI-compatible hosts.
PROVIDER_ALIASES: dict[str, str] = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
}

_LLM = frozenset({"llm_usage", "llm"})
_STT = frozenset({"stt_usage", "stt"})
_TTS = frozenset({"tts_usage", "tts"})
_NOT_PRICED = frozenset({"interruption_usage", "eot_usage"})
_LLM_ONLY_KEYS = frozenset(
    {"input_cached_tokens", "output_text_tokens", "output_audio_tokens", "session_duration"}
    | {f"input_{m}_tokens" for m in MODALITIES}
    | {f"input_cached_{m}_tokens" for m in MODALITIES})


def catalog_id(provider: str, model: str, catalog: Catalog | None = None) -> str:
    """The catalog id for a LiveKit ``provider`` and ``model``, as `Catalog.resolve` finds it
    from the pair (its provider table maps "Amazon", "Gemini", "Vertex AI", "api.x.ai", ...
    and its id rules read dated snapshots and Bedrock/Vertex ids). A pair it cannot resolve
    becomes the lowercase join, which pricing then reports as unknown with the nearest ids.

    >>> catalog_id("api.openai.com", "gpt-4o-mini")
    'openai/gpt-4o-mini'
    >>> catalog_id("Amazon", "amazon.nova-2-sonic-v1:0")
    'amazon/nova-2-sonic'
    """
    name = model.strip()
    prov = provider.strip()
    if not prov and "/" not in name:
        raise UsageError(f"no provider reported for model {model!r}: pass model= (a catalog id)")
    try:
        return (catalog or default_catalog()).resolve(name, provider=prov or None)
    except UnknownModelError:
        if "/" in name:
            return name.lower()
        low = prov.lower()
        return f"{PROVIDER_ALIASES.get(low, low)}/{name.lower()}"


def _kind(item: Mapping[str, Any], where: str) -> str:
    kind = item.get("type")
    if kind is not None:
        if kind in _LLM:
            return "llm"
        if kind in _STT:
            return "stt"
        if kind in _TTS:
            return "tts"
        if kind in _NOT_PRICED:
            raise UsageError(f"{where}.type {kind!r} is a LiveKit turn-model request count, "
                             "which has no priced unit")
        raise UsageError(f"{where}.type {kind!r} is not a LiveKit model usage type")
    keys = {k for k, v in item.items() if v is not None}
    if "characters_count" in keys:
        return "tts"
    if keys & _LLM_ONLY_KEYS:
        return "llm"
    if "audio_duration" in keys:
        return "stt"
    raise UsageError(f"{where} has no 'type' and its fields do not say whether it is LLM, STT or "
                     "TTS usage: include the 'type' field")


def _resolve_model(item: Mapping[str, Any], model: str | None, where: str,
                   catalog: Catalog | None) -> str:
    if model is not None:
        return model
    name = item.get("model")
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{where}.model is missing or empty: pass model= (a catalog id)")
    provider = item.get("provider") or ""
    if not isinstance(provider, str):
        raise UsageError(f"{where}.provider must be a string, got {provider!r}")
    return catalog_id(provider, name, catalog)


def _seconds(item: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = item.get(key)
    return Decimal(0) if value is None else quantity(value, f"{where}.{key}")


def _llm_tokens(item: Mapping[str, Any], where: str, model: str,
                cache_write_bucket: str) -> tuple[dict[str, int], bool]:
    """(token buckets, flagged?) of an ``LLMModelUsage``. Totals that disagree with their
    per-modality details are priced from the details plus the remainder at the base rate
    (uncached text input, text output) and flag the usage; counts that cannot be (a cached
    count past what it is part of) are refused."""
    total_in = count(item, "input_tokens", where)
    total_cached = count(item, "input_cached_tokens", where)
    written = count(item, "input_cache_creation_tokens", where)
    per_in = {m: count(item, f"input_{m}_tokens", where) for m in MODALITIES}
    per_cached = {m: count(item, f"input_cached_{m}_tokens", where) for m in MODALITIES}
    tokens: dict[str, int] = {}
    flagged = False
    if any(per_in.values()) or any(per_cached.values()):
        rest = total_in - sum(per_in.values())
        if rest > 0:
            per_in["text"] += rest  # e.g. Gemini's VIDEO or tool-use prompt tokens
        flagged = rest != 0 or sum(per_cached.values()) != total_cached
        for m in MODALITIES:
            if per_cached[m] > per_in[m]:
                raise UsageError(
                    f"{where}.input_cached_{m}_tokens ({per_cached[m]}) exceeds "
                    f"input_{m}_tokens ({per_in[m]}), which includes them")
    else:
        if total_in:
            refuse_totals_for_speech(model, where)
        if total_cached + written > total_in:
            raise UsageError(f"{where}.input_cached_tokens ({total_cached}) + "
                             f"input_cache_creation_tokens ({written}) exceed input_tokens "
                             f"({total_in}), which includes them")
        per_in["text"], per_cached["text"] = total_in, total_cached
    # Cache writes are text (system prompt, tools, history) and part of input_tokens.
    if written > per_in["text"] - per_cached["text"]:
        raise UsageError(f"{where}.input_cache_creation_tokens ({written}) exceeds the uncached "
                         f"text input ({per_in['text'] - per_cached['text']}) it is part of")
    for m in MODALITIES:
        put(tokens, f"{m}.input", per_in[m] - per_cached[m] - (written if m == "text" else 0))
        put(tokens, f"{m}.cached", per_cached[m])
    put(tokens, cache_write_bucket, written)

    total_out = count(item, "output_tokens", where)
    out_text = count(item, "output_text_tokens", where)
    out_audio = count(item, "output_audio_tokens", where)
    if out_text or out_audio:
        rest = total_out - out_text - out_audio
        flagged = flagged or rest != 0
        put(tokens, "text.output", out_text + max(rest, 0))
        put(tokens, "audio.output", out_audio)
    else:  # (output_reasoning_tokens are inside output_tokens)
        put(tokens, "text.output", total_out)
    return tokens, flagged


def usage_from_livekit(item: Mapping[str, Any], model: str | None = None, *,
                       at: date | None = None, label: str = "",
                       catalog: Catalog | None = None) -> Usage:
    """A `Usage` from one LiveKit ``LLMModelUsage`` / ``STTModelUsage`` / ``TTSModelUsage`` dict.

    Dispatches on ``type`` (or, without it, on the fields present). ``model`` overrides the
    catalog id resolved from the item's ``provider`` and ``model`` (in ``catalog``, default
    the built-in one). A usage whose totals disagree with their details is priced from the
    details plus the remainder and comes back ``estimated``.

    >>> u = usage_from_livekit({"type": "llm_usage", "provider": "api.openai.com",
    ...                         "model": "gpt-4o-mini", "input_tokens": 2000,
    ...                         "input_cached_tokens": 1024, "output_tokens": 80})
    >>> u.model, dict(u.tokens)
    ('openai/gpt-4o-mini', {'text.input': 976, 'text.cached': 1024, 'text.output': 80})
    """
    where = "model_usage"
    if not isinstance(item, Mapping):
        raise UsageError(f"{where} must be an object, got {type(item).__name__}")
    kind = _kind(item, where)
    model_id = _resolve_model(item, model, where, catalog)

    if kind == "llm":
        bucket = CACHE_WRITE_BUCKET.get(model_id.partition("/")[0], "text.cache_write_5m")
        llm_tokens, flagged = _llm_tokens(item, where, model_id, bucket)
        return Usage(model_id, llm_tokens,
                     connection_seconds=_seconds(item, "session_duration", where),
                     at=at, label=label, estimated=flagged)

    tokens: dict[str, int] = {}
    n_in = count(item, "input_tokens", where)
    n_out = count(item, "output_tokens", where)
    audio = _seconds(item, "audio_duration", where)
    if kind == "stt":
        if n_in or n_out:  # token-billed STT: audio_duration is informational
            # input_audio_tokens, when reported, is the audio part; the rest is the (text)
            # prompt. Without it, the input of a transcription is audio.
            n_audio = count(item, "input_audio_tokens", where) or n_in
            put(tokens, "audio.input", min(n_audio, n_in))
            put(tokens, "text.input", n_in - min(n_audio, n_in))
            put(tokens, "text.output", n_out)
            return Usage(model_id, tokens, at=at, label=label, estimated=n_audio > n_in)
        return Usage(model_id, audio_seconds=audio, at=at, label=label)

    chars = count(item, "characters_count", where)
    if n_in or n_out:  # token-billed TTS (e.g. OpenAI): characters are informational
        put(tokens, "text.input", n_in)
        put(tokens, "audio.output", n_out)
        return Usage(model_id, tokens, at=at, label=label)
    if chars:
        return Usage(model_id, characters=chars, at=at, label=label)
    return Usage(model_id, audio_seconds=audio, at=at, label=label)


def _model_usage_list(payload: object) -> list[Any]:
    if isinstance(payload, Mapping):
        inner = payload.get("usage", payload)
        if not isinstance(inner, Mapping):
            raise UsageError(f"usage must be an object, got {type(inner).__name__}")
        items = inner.get("model_usage")
        if items is None:
            raise UsageError("usage.model_usage is missing: expected a session_usage_updated "
                             "event, an AgentSessionUsage or a list of model usages")
        payload = items
    if isinstance(payload, (str, bytes)) or not isinstance(payload, Iterable):
        raise UsageError(f"usage.model_usage must be a list, got {type(payload).__name__}")
    return list(payload)


def usages_from_session(payload: Mapping[str, Any] | Iterable[Mapping[str, Any]], *,
                        models: Mapping[str, str] | None = None, at: date | None = None,
                        label: str = "", catalog: Catalog | None = None) -> list[Usage]:
    """One `Usage` per priced model in a ``session_usage_updated`` payload.

    Accepts the event dict (``{"type": "session_usage_updated", "usage": {"model_usage":
    [...]}}``), an ``AgentSessionUsage`` dict (``{"model_usage": [...]}``) or the list itself.
    ``models`` maps a LiveKit ``"<provider>/<model>"`` (as reported, before aliasing) to a
    catalog id where the simple join does not fit. Interruption and end-of-turn request counts
    are skipped. The totals are cumulative: price the latest event of a session, not the sum.

    >>> event = {"type": "session_usage_updated", "usage": {"model_usage": [
    ...     {"type": "stt_usage", "provider": "deepgram", "model": "nova-3",
    ...      "audio_duration": 61.5},
    ...     {"type": "eot_usage", "provider": "livekit", "model": "multilingual",
    ...      "total_requests": 9}]}}
    >>> [(u.model, u.audio_seconds) for u in usages_from_session(event)]
    [('deepgram/nova-3', Decimal('61.5'))]
    """
    out = []
    for i, item in enumerate(_model_usage_list(payload)):
        if not isinstance(item, Mapping):
            raise UsageError(f"usage.model_usage[{i}] must be an object, "
                             f"got {type(item).__name__}")
        if item.get("type") in _NOT_PRICED:
            continue
        override = None
        if models:
            override = models.get(f"{item.get('provider') or ''}/{item.get('model') or ''}")
        try:
            out.append(usage_from_livekit(item, override, at=at, label=label,
                                          catalog=catalog))
        except UsageError as exc:
            raise UsageError(f"usage.model_usage[{i}]: {exc}") from exc
    return out
