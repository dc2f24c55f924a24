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
IMAGE and VIDEO are priced as image; DOCUMENT and MODALITY_UNSPECIFIED ("treated as TEXT",
google-genai ``MediaModality``) as text. Modalities may be strings or the SDK's enum members
(``UsageMetadata.model_dump()`` keeps ``MediaModality.AUDIO``).

Totals that disagree with their details are never rejected whole (issue 11): the details are
priced as reported and the unexplained remainder at the base rate of its side, and the usage
is flagged ``estimated``:

- ``promptTokenCount`` past its details (forum posts saw 25-51 tokens short): the rest is
  uncached text input; details past the count: the details are priced.
- ``responseTokenCount`` past its details: the rest is text output.
- ``cacheTokensDetails`` that do not add up to ``cachedContentTokenCount``: the details.
- ``totalTokenCount`` past prompt + tool-use prompt + response + thoughts: the rest is text
  output (the side a new, unknown count would be on: the prompt side has its own total);
  a smaller total: the parts are priced.

``thoughtsTokenCount`` is output whatever the total says: Gemini's docs put it inside
``totalTokenCount``, but thinking Live models send totals without it (prompt + response
only); that shape is recognised and not flagged.
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
             "DOCUMENT": "text", "UNSPECIFIED": "text"}


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
        value = item.get("modality", "")
        value = getattr(value, "value", value)  # an SDK enum member (model_dump())
        raw = str(value).upper().removeprefix("MODALITY_")
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

    Every count is accounted for: a ``totalTokenCount`` past prompt + response + tool-use
    prompt + thoughts is priced too (as text output, flagged), so an output field we do not
    know cannot be dropped silently. (Vertex names the response ``candidatesTokenCount``; both
    are read.)

    >>> usage_from_usage_metadata({"promptTokenCount": 541, "responseTokenCount": 156,
    ...   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 410},
    ...                           {"modality": "AUDIO", "tokenCount": 131}],
    ...   "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 156}]},
    ...   "google/gemini-3.1-flash-live").tokens
    {'text.input': 410, 'audio.input': 131, 'audio.output': 156}
    """
    require_counts(meta, _COUNTS, "usageMetadata")
    tokens: dict[str, int] = {}

    prompt_total, prompt, prompt_flagged = _prompt(meta)
    cached, cached_flagged = _cached(meta, prompt, prompt_total)
    for modality, n in prompt.items():
        c = cached.get(modality, 0)
        put(tokens, f"{modality}.input", n - c)
        put(tokens, f"{modality}.cached", c)

    tool = _tool_use(meta)
    for modality, n in tool.items():
        put(tokens, f"{modality}.input", n)

    response_total, response, response_flagged = _response(meta)
    for modality, n in response.items():
        put(tokens, f"{modality}.output", n)
    thoughts = _total(meta, "thoughtsTokenCount")
    put(tokens, "text.output", thoughts)  # thoughts are output, inside the total or not

    total = _total(meta, "totalTokenCount")
    counted = prompt_total + sum(tool.values()) + response_total + thoughts
    # A total without the thoughts is a known shape (thinking Live models), not a mismatch.
    total_flagged = bool(total) and total not in (counted, counted - thoughts)
    if total > counted:
        put(tokens, "text.output", total - counted)  # a count we do not know: priced, flagged
    return Usage(model, tokens, label=label,
                 estimated=prompt_flagged or cached_flagged or response_flagged
                 or total_flagged)


def _prompt(meta: Mapping[str, Any]) -> tuple[int, dict[str, int], bool]:
    """(the prompt's size, the prompt by modality, flagged?): a count the details leave
    unexplained is uncached text; details past the count are priced as reported. Either
    disagreement flags the usage."""
    reported = _total(meta, "promptTokenCount")
    prompt = _details(meta, "promptTokensDetails") or {}
    unexplained = reported - sum(prompt.values())
    if unexplained > 0:
        prompt["text"] = prompt.get("text", 0) + unexplained
    return max(reported, sum(prompt.values())), prompt, unexplained != 0


def _cached(meta: Mapping[str, Any], prompt: dict[str, int], prompt_total: int,
            ) -> tuple[dict[str, int], bool]:
    """The cached part of the prompt by modality, checked against the prompt; flagged when
    the details and their total disagree (the details are priced)."""
    cached_total = _total(meta, "cachedContentTokenCount")
    cached = _details(meta, "cacheTokensDetails")
    flagged = False
    if cached is None:
        # No per-modality split of the cache: the cached prefix is the oldest context, which
        # starts with the (text) system instruction; fill text first.
        cached, rest = {}, cached_total
        for modality in ("text", "audio", "image"):
            cached[modality] = min(rest, prompt.get(modality, 0))
            rest -= cached[modality]
        if rest:
            raise UsageError("usageMetadata: cachedContentTokenCount exceeds promptTokenCount")
    elif sum(cached.values()) != cached_total:
        flagged = True
    if sum(cached.values()) > prompt_total:
        raise UsageError("usageMetadata: cacheTokensDetails exceed promptTokenCount")
    for modality, c in cached.items():
        n = prompt.get(modality, 0)
        if c > n:
            raise UsageError(f"usageMetadata: {c} cached {modality} tokens exceed the {n} "
                             f"{modality} prompt tokens they are part of")
    return cached, flagged


def _tool_use(meta: Mapping[str, Any]) -> dict[str, int]:
    """The tool-use prompt by modality (a total past the details is text)."""
    tool_total = _total(meta, "toolUsePromptTokenCount")
    tool = _details(meta, "toolUsePromptTokensDetails") or {}
    if tool_total > sum(tool.values()):
        tool["text"] = tool.get("text", 0) + tool_total - sum(tool.values())
    return tool


def _response(meta: Mapping[str, Any]) -> tuple[int, dict[str, int], bool]:
    """(the response's size, the response by modality, flagged?), as `_prompt`: the rest is
    text output. Vertex says ``candidates`` for ``response``."""
    reported = _total(meta, "responseTokenCount") or _total(meta, "candidatesTokenCount")
    response = (_details(meta, "responseTokensDetails")
                or _details(meta, "candidatesTokensDetails") or {})
    rest = reported - sum(response.values())
    if rest > 0:
        response["text"] = response.get("text", 0) + rest
    return max(reported, sum(response.values())), response, rest != 0


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
