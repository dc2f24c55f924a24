"""Gemini Live API: ``usageMetadata`` snapshots, one per turn, every one priced.

Shape (google-genai ``UsageMetadata``; camelCase on the wire, snake_case from the Python SDK)::

    usageMetadata: {promptTokenCount, cachedContentTokenCount, responseTokenCount,
                    toolUsePromptTokenCount, thoughtsTokenCount, totalTokenCount,
                    promptTokensDetails / cacheTokensDetails / responseTokensDetails /
                    toolUsePromptTokensDetails: [{modality: TEXT|AUDIO|IMAGE|VIDEO, tokenCount}]}

Google staff confirm the Live API re-bills the whole context on every turn, and a user found
that the **sum of every per-turn snapshot** matched the bill within ~3% while the last snapshot
alone was ~8.6x too low (discuss.ai.google.dev threads 140340, 173248). So each snapshot is a
`Usage` of its own.

Mapping: prompt details -> ``<modality>.input`` (cached ones -> ``.cached``, a subset of the
prompt), tool-use prompt -> input, response details -> ``.output``, thoughts -> text output.
IMAGE and VIDEO are priced as image. Counts the modality lists leave unexplained (forum posts
saw details 25-51 tokens short of ``promptTokenCount``) are priced as text and the usage is
flagged ``estimated``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._files import clip
from ..core.usage import Usage
from ..errors import MissingModelError, UsageError
from ._common import count, put, require_counts

_MODALITY = {"TEXT": "text", "AUDIO": "audio", "IMAGE": "image", "VIDEO": "image",
             "DOCUMENT": "text"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# What a usageMetadata must report at least one of (camelCase on the wire, or snake_case).
_COUNTS = tuple(k for camel in ("promptTokenCount", "responseTokenCount", "candidatesTokenCount",
                                "totalTokenCount", "promptTokensDetails",
                                "responseTokensDetails", "candidatesTokensDetails")
                for k in (camel, _snake(camel)))


def _get(meta: Mapping[str, Any], camel: str) -> Any:
    value = meta.get(camel)
    return meta.get(_snake(camel)) if value is None else value


def _details(meta: Mapping[str, Any], camel: str) -> dict[str, int] | None:
    items = _get(meta, camel)
    if items is None:
        return None
    if not isinstance(items, list):
        raise UsageError(f"usageMetadata.{camel} must be a list, got {type(items).__name__}")
    out: dict[str, int] = {}
    for i, item in enumerate(items):
        where = f"usageMetadata.{camel}[{i}]"
        if not isinstance(item, Mapping):
            raise UsageError(f"{where} must be an object")
        raw = str(item.get("modality", "")).upper().removeprefix("MODALITY_")
        modality = _MODALITY.get(raw)
        if modality is None:
            raise UsageError(f"{where}.modality {clip(repr(item.get('modality')))} is not one of "
                             f"{sorted(_MODALITY)}")
        n = count(item, "tokenCount", where) or count(item, "token_count", where)
        out[modality] = out.get(modality, 0) + n
    return out


def _total(meta: Mapping[str, Any], camel: str) -> int:
    return count(meta, camel, "usageMetadata") or count(meta, _snake(camel), "usageMetadata")


def usage_from_usage_metadata(meta: Mapping[str, Any], model: str, *,
                              label: str = "") -> Usage:
    """One per-turn ``usageMetadata`` snapshot as a `Usage`.

    Every count is accounted for: when ``totalTokenCount`` is present it must equal prompt +
    response + tool-use prompt + thoughts, so an output field we do not know cannot be
    dropped silently. (Vertex names the response ``candidatesTokenCount``; both are read.)

    >>> usage_from_usage_metadata({"promptTokenCount": 541, "responseTokenCount": 156,
    ...   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 410},
    ...                           {"modality": "AUDIO", "tokenCount": 131}],
    ...   "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 156}]},
    ...   "google/gemini-3.1-flash-live").tokens
    {'text.input': 410, 'audio.input': 131, 'audio.output': 156}
    """
    require_counts(meta, _COUNTS, "usageMetadata")
    tokens: dict[str, int] = {}

    prompt_total, prompt, prompt_estimated = _prompt(meta)
    cached = _cached(meta, prompt, prompt_total)
    for modality, n in prompt.items():
        c = cached.get(modality, 0)
        put(tokens, f"{modality}.input", n - c)
        put(tokens, f"{modality}.cached", c)

    tool = _tool_use(meta)
    for modality, n in tool.items():
        put(tokens, f"{modality}.input", n)

    response_total, response, response_estimated = _response(meta)
    for modality, n in response.items():
        put(tokens, f"{modality}.output", n)
    thoughts = _total(meta, "thoughtsTokenCount")
    put(tokens, "text.output", thoughts)

    total = _total(meta, "totalTokenCount")
    counted = prompt_total + sum(tool.values()) + response_total + thoughts
    if total and total != counted:
        raise UsageError(f"usageMetadata: totalTokenCount {total} is not prompt + tool-use "
                         f"prompt + response + thoughts ({counted}); a count we do not "
                         "understand would go unpriced")
    return Usage(model, tokens, label=label,
                 estimated=prompt_estimated or response_estimated)


def _prompt(meta: Mapping[str, Any]) -> tuple[int, dict[str, int], bool]:
    """(promptTokenCount, the prompt by modality, estimated?): a count the details leave
    unexplained is taken as text, and marks the usage estimated."""
    prompt_total = _total(meta, "promptTokenCount")
    prompt = _details(meta, "promptTokensDetails") or {}
    unexplained = prompt_total - sum(prompt.values())
    if unexplained < 0:
        raise UsageError(f"usageMetadata: promptTokensDetails add up to {sum(prompt.values())}, "
                         f"more than promptTokenCount {prompt_total}")
    if unexplained:
        prompt["text"] = prompt.get("text", 0) + unexplained
    return prompt_total, prompt, bool(unexplained)


def _cached(meta: Mapping[str, Any], prompt: dict[str, int], prompt_total: int,
            ) -> dict[str, int]:
    """The cached part of the prompt by modality, checked against the prompt."""
    cached_total = _total(meta, "cachedContentTokenCount")
    cached = _details(meta, "cacheTokensDetails")
    if cached is None:
        # No per-modality split of the cache: the cached prefix is the oldest context, which
        # starts with the (text) system instruction; fill text first.
        cached, rest = {}, cached_total
        for modality in ("text", "audio", "image"):
            cached[modality] = min(rest, prompt.get(modality, 0))
            rest -= cached[modality]
    elif sum(cached.values()) != cached_total:
        raise UsageError(f"usageMetadata: cacheTokensDetails add up to {sum(cached.values())}, "
                         f"not cachedContentTokenCount {cached_total}")
    if sum(cached.values()) > prompt_total or cached_total > prompt_total:
        raise UsageError("usageMetadata: cachedContentTokenCount exceeds promptTokenCount")
    for modality, c in cached.items():
        n = prompt.get(modality, 0)
        if c > n:
            raise UsageError(f"usageMetadata: {c} cached {modality} tokens exceed the {n} "
                             f"{modality} prompt tokens they are part of")
    return cached


def _tool_use(meta: Mapping[str, Any]) -> dict[str, int]:
    """The tool-use prompt by modality (a total past the details is text)."""
    tool_total = _total(meta, "toolUsePromptTokenCount")
    tool = _details(meta, "toolUsePromptTokensDetails") or {}
    if tool_total > sum(tool.values()):
        tool["text"] = tool.get("text", 0) + tool_total - sum(tool.values())
    return tool


def _response(meta: Mapping[str, Any]) -> tuple[int, dict[str, int], bool]:
    """(the response total, the response by modality, estimated?), as `_prompt`. Vertex says
    ``candidates`` for ``response``."""
    response_total = _total(meta, "responseTokenCount") or _total(meta, "candidatesTokenCount")
    response = (_details(meta, "responseTokensDetails")
                or _details(meta, "candidatesTokensDetails") or {})
    rest = response_total - sum(response.values())
    if rest < 0:
        raise UsageError("usageMetadata: responseTokensDetails exceed responseTokenCount")
    if rest:
        response["text"] = response.get("text", 0) + rest
    return response_total, response, bool(rest)


class GeminiLiveReader:
    """Prices every ``usageMetadata`` a Live session sends (server messages, one per line).

    The model comes from a recorded client ``setup`` message (``{"setup": {"model":
    "models/gemini-..."}}``) unless given.
    """

    format = "gemini-live"

    def __init__(self, model: str | None = None, transcription_model: str | None = None) -> None:
        self.model = model
        self._fixed_model = model is not None
        self.responses = 0

    @staticmethod
    def claims(event: Mapping[str, Any]) -> bool:
        keys = ("usageMetadata", "usage_metadata", "serverContent", "server_content",
                "setupComplete", "setup_complete", "setup", "toolCall", "tool_call", "goAway")
        return any(k in event for k in keys)

    def feed(self, event: Mapping[str, Any]) -> list[Usage]:
        setup = event.get("setup")
        if isinstance(setup, Mapping) and isinstance(setup.get("model"), str):
            if not self._fixed_model:
                self.model = setup["model"].removeprefix("models/")
            return []
        meta = event.get("usageMetadata")
        if meta is None:
            meta = event.get("usage_metadata")
        if meta is None:
            return []
        if not isinstance(meta, Mapping):
            raise UsageError("usageMetadata must be an object")
        if self.model is None:
            raise MissingModelError("usageMetadata before any setup message named the model; "
                                    "pass the model explicitly (--model)")
        usage = usage_from_usage_metadata(meta, self.model, label=f"turn {self.responses + 1}")
        self.responses += 1
        return [usage]
