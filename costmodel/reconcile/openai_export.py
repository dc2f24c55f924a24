"""OpenAI organization Usage and Costs API pages, as downloaded: the billed side for OpenAI.

Shapes (the API reference, https://platform.openai.com/docs/api-reference/usage, and the
official SDKs' models of it, e.g. openai-ruby ``OrganizationUsageCompletionsResult``): a page
``{"object": "page", "data": [bucket, ...], "has_more": ..., "next_page": ...}``; a bucket
``{"object": "bucket", "start_time": unix s, "end_time": unix s, "results": [...]}``; results:

- ``organization.usage.completions.result``
  (``GET /v1/organization/usage/completions?group_by=model``): ``model``, ``input_tokens``
  (all input, cached and cache-write included), ``output_tokens``, ``num_model_requests``,
  and the per-modality breakdown ``input_text_tokens`` / ``input_audio_tokens`` /
  ``input_image_tokens`` (uncached), ``input_cached_text_tokens`` /
  ``input_cached_audio_tokens`` / ``input_cached_image_tokens``,
  ``input_cache_write_tokens``, ``output_text_tokens`` / ``output_audio_tokens`` /
  ``output_image_tokens``. Priced here with the catalog (``basis: priced``).
- ``organization.usage.audio_speeches.result`` (``characters``) and
  ``organization.usage.audio_transcriptions.result`` (``seconds``), per ``model``: priced.
- ``organization.costs.result`` (``GET /v1/organization/costs?group_by=line_item``,
  https://platform.openai.com/docs/api-reference/usage/costs): ``amount: {value,
  currency}`` per ``line_item`` (``"gpt-4o-2024-08-06, input"``): billed dollars.

A file holds one page, a JSON array of pages (or of buckets), or one page per line (JSON
Lines, as a script paging through ``next_page`` writes them). Amounts are read from the
digits in the file, never through a binary float.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from .._files import clip
from .._yamlmarks import line_of, load_with_marks
from ..core.pricing import price, rates_for
from ..core.usage import Usage
from ..errors import CatalogError, CostModelError, InputError, UnknownRateError
from .exports import Export, ExportLine, ModelNames, Problems

USAGE_URL = "https://platform.openai.com/docs/api-reference/usage/completions"
COSTS_URL = "https://platform.openai.com/docs/api-reference/usage/costs"
COMPLETIONS = "organization.usage.completions.result"
SPEECHES = "organization.usage.audio_speeches.result"
TRANSCRIPTIONS = "organization.usage.audio_transcriptions.result"
COSTS = "organization.costs.result"
_DAY = 86_400
# The per-modality breakdown -> costmodel's disjoint token buckets.
_BREAKDOWN = {"input_text_tokens": "text.input", "input_cached_text_tokens": "text.cached",
              "input_audio_tokens": "audio.input", "input_cached_audio_tokens": "audio.cached",
              "input_image_tokens": "image.input", "input_cached_image_tokens": "image.cached",
              "output_text_tokens": "text.output", "output_audio_tokens": "audio.output",
              "output_image_tokens": "image.output"}
_DETAIL = frozenset({"input_text_tokens", "input_cached_text_tokens", "input_uncached_tokens",
                     "input_cached_audio_tokens"})

Path_ = tuple[str | int, ...]


class _Lines:
    """JSON paths -> file lines, for error messages: JSON Lines know each page's line; a
    single document is parsed again with marks, only once an error needs a line."""

    def __init__(self, text: str, page_lines: list[int] | None) -> None:
        self.text, self.page_lines = text, page_lines
        self._node: Any = None
        self._parsed = False

    def where(self, name: str, path: Path_) -> str:
        """How a line of the export is named: ``file:line`` for JSON Lines, else
        ``file: data[0].results[2]`` (finding a line in one document costs a second parse,
        paid only for errors)."""
        if self.page_lines is not None:
            return f"{name}:{self.page_lines[int(path[0])]}"
        return f"{name}: " + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                     for p in path).lstrip(".")

    def line(self, path: Path_) -> int | None:
        if self.page_lines is not None:
            return self.page_lines[int(path[0])]
        if not self._parsed:
            self._parsed = True
            try:
                self._node = load_with_marks(self.text, "")[1]
            except (CatalogError, RecursionError, ValueError):
                self._node = None
        return line_of(self._node, path) if self._node is not None else None


def _pages(name: str, text: str) -> tuple[list[tuple[Path_, Any]], _Lines]:
    """(path, page or bucket) of every page in the file, and where their lines are."""
    try:
        doc = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        if not exc.msg.startswith("Extra data"):
            raise _bad_json(name, exc) from None
        pages, lines = [], []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    pages.append(json.loads(line, parse_float=Decimal))
                except json.JSONDecodeError as err:
                    raise _bad_json(name, err, lineno) from None
                lines.append(lineno)
        return [((i,), p) for i, p in enumerate(pages)], _Lines(text, lines)
    except RecursionError:
        raise InputError(f"{name}: nested too deeply to be an OpenAI export") from None
    if isinstance(doc, list):
        return [((i,), p) for i, p in enumerate(doc)], _Lines(text, None)
    return [((), doc)], _Lines(text, None)


def _bad_json(name: str, exc: json.JSONDecodeError, line: int | None = None) -> InputError:
    return InputError(f"{name}:{line or exc.lineno}: not JSON: {exc.msg}")


def _buckets(pages: list[tuple[Path_, Any]], problems: Problems, lines: _Lines,
             out: Export) -> Iterator[tuple[Path_, Mapping[str, Any]]]:
    for path, page in pages:
        if isinstance(page, Mapping) and "results" in page:  # a bucket given on its own
            yield path, page
            continue
        data = page.get("data") if isinstance(page, Mapping) else None
        if not isinstance(data, list):
            problems.add(lines.line(path), "expected a page of the OpenAI usage or costs API "
                         '({"object": "page", "data": [buckets]})')
            continue
        for i, bucket in enumerate(data):
            yield (*path, "data", i), bucket
        if page.get("has_more") is True and (path == () or path[0] == len(pages) - 1):
            out.notes.append(f"{out.path}: the last page says has_more: the days after it "
                             "are not in this file (page on with next_page)")


def read_openai_json(name: str, text: str, names: ModelNames) -> Export:
    """Read OpenAI usage and/or costs pages (see the module doc)."""
    out = Export(name, "openai", USAGE_URL, "openai")
    problems = Problems(name)
    pages, lines = _pages(name, text)
    kinds: set[str] = set()
    skipped: dict[str, int] = {}
    for path, bucket in _buckets(pages, problems, lines, out):
        day = _bucket_day(bucket, path, problems, lines)
        if day is None:
            continue
        out.covers.add((day, "openai"))
        results = bucket.get("results")
        if not isinstance(results, list):
            problems.add(lines.line(path), "results: expected a list")
            continue
        for i, result in enumerate(results):
            where = (*path, "results", i)
            obj = result.get("object") if isinstance(result, Mapping) else None
            try:
                if obj == COSTS or (obj is None and isinstance(result, Mapping)
                                    and "amount" in result):
                    out.lines.append(_cost_line(result, day, names, lines.where(name, where)))
                    kinds.add("costs")
                elif obj in (COMPLETIONS, SPEECHES, TRANSCRIPTIONS):
                    out.lines.append(_usage_line(result, obj, day, names,
                                                 lines.where(name, where)))
                    kinds.add("usage")
                else:
                    skipped[str(obj)] = skipped.get(str(obj), 0) + 1
            except ValueError as exc:
                problems.add(lines.line(where), str(exc))
    problems.check()
    out.kind = "openai-" + "+".join(sorted(kinds)) if kinds else "openai-usage"
    out.source_url = COSTS_URL if kinds == {"costs"} else USAGE_URL
    if skipped:
        out.notes.append(f"{name}: not voice usage, left out: " + ", ".join(
            f"{n} {kind.removeprefix('organization.usage.').removesuffix('.result')}"
            for kind, n in sorted(skipped.items())))
    unpriced = [ln for ln in out.lines if ln.usd is None]
    if unpriced:
        out.notes.append(f"{name}: {len(unpriced)} usage line(s) could not be priced (their "
                         f"days' amounts are unknown, not zero): {unpriced[0].where}: "
                         f"{unpriced[0].note}")
    return out


def _bucket_day(bucket: object, path: Path_, problems: Problems, lines: _Lines) -> date | None:
    if not isinstance(bucket, Mapping):
        problems.add(lines.line(path), "expected a bucket object")
        return None
    start, end = bucket.get("start_time"), bucket.get("end_time")
    if type(start) is not int or start < 0:
        problems.add(lines.line((*path, "start_time")),
                     f"start_time: expected unix seconds, got {clip(repr(start))}")
        return None
    midnight = start - start % _DAY
    if end is not None and (type(end) is not int or not start < end <= midnight + _DAY):
        problems.add(lines.line((*path, "end_time")),
                     f"end_time: {clip(repr(end))}: a bucket must end by the next UTC midnight "
                     "after it starts (download with bucket_width=1d, 1h or 1m)")
        return None
    return datetime.fromtimestamp(start, UTC).date()


def _count(result: Mapping[str, Any], key: str) -> int:
    value = result.get(key, 0)
    if value is None:
        return 0
    if type(value) is not int or value < 0:
        raise ValueError(f"{key}: expected a whole number >= 0, got {clip(repr(value))}")
    return value


def _model(result: Mapping[str, Any]) -> str:
    model = result.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model: missing (download the usage with group_by=model, so each "
                         "result names its model)")
    return model.strip()


def _usage_line(result: Mapping[str, Any], obj: str, day: date, names: ModelNames,
                where: str) -> ExportLine:
    raw = _model(result)
    model = names.resolve(raw, "openai")
    if obj == SPEECHES:
        counts = {"characters": _count(result, "characters")}
    elif obj == TRANSCRIPTIONS:
        counts = {"seconds": _count(result, "seconds")}
    else:
        counts = _tokens(result)
    if model is None:
        return ExportLine(day, raw, None, "priced", where, resolved=False,
                          note=f"{raw!r} is not in the catalog")
    try:
        if obj == SPEECHES:
            usage = Usage(model, characters=counts["characters"], at=day)
        elif obj == TRANSCRIPTIONS:
            # Seconds of a whole bucket, rounded here as one unit (per-request rounding,
            # if the model has any, is not in the export).
            usage = Usage(model, audio_seconds=Decimal(counts["seconds"]), at=day)
        else:
            usage = Usage(model, _cache_writes(counts, model, names, day), at=day)
        return ExportLine(day, model, price(usage, names.catalog).total_usd, "priced", where)
    except CostModelError as exc:  # a rate or price the catalog lacks: unknown, not zero
        return ExportLine(day, model, None, "priced", where, note=str(exc))


def _tokens(result: Mapping[str, Any]) -> dict[str, int]:
    """Disjoint buckets from a completions result (plus ``cache_write`` without modality)."""
    if _DETAIL & result.keys():
        tokens = {bucket: _count(result, key) for key, bucket in _BREAKDOWN.items()}
        tokens["cache_write"] = _count(result, "input_cache_write_tokens")
        return {k: n for k, n in tokens.items() if n}
    # Results from before the per-modality breakdown: text only can be split exactly.
    audio = _count(result, "input_audio_tokens") + _count(result, "output_audio_tokens")
    if audio:
        raise ValueError("audio tokens without the per-modality breakdown "
                         "(input_cached_audio_tokens ...): download the usage again, the API "
                         "gives it now")
    total, cached = _count(result, "input_tokens"), _count(result, "input_cached_tokens")
    if cached > total:
        raise ValueError(f"input_cached_tokens {cached} > input_tokens {total}")
    tokens = {"text.input": total - cached, "text.cached": cached,
              "text.output": _count(result, "output_tokens")}
    return {k: n for k, n in tokens.items() if n}


def _cache_writes(tokens: dict[str, int], model: str, names: ModelNames,
                  day: date) -> dict[str, int]:
    """Cache-write tokens (the export gives no modality or TTL) go to the model's one text
    cache-write rate; a model with none or several raises: priced as unknown."""
    writes = tokens.pop("cache_write", 0)
    if writes:
        rates = rates_for(model, day, names.catalog)
        keys = sorted(k for k in rates.per_token if k.startswith("text.cache_write"))
        if len(keys) != 1:
            raise UnknownRateError(model, f"{writes} cache-write tokens (the export does not "
                                   "say which cache)", rates.known())
        tokens[keys[0]] = writes
    return tokens


def _cost_line(result: Mapping[str, Any], day: date, names: ModelNames,
               where: str) -> ExportLine:
    amount = result.get("amount")
    if not isinstance(amount, Mapping):
        raise ValueError(f"amount: expected {{value, currency}}, got {clip(repr(amount))}")
    raw, currency = amount.get("value"), amount.get("currency", "usd")
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal) or not Decimal(raw).is_finite():
        raise ValueError(f"amount.value: expected a number, got {clip(repr(raw))}")
    value = Decimal(raw)
    if not isinstance(currency, str) or currency.lower() != "usd":
        raise ValueError(f"amount.currency: {clip(repr(currency))}: only USD bills are "
                         "compared")
    item = result.get("line_item")
    if item is None:
        return ExportLine(day, "openai (all line items)", value, "billed", where,
                          resolved=False, note="group the costs by line_item to compare models")
    if not isinstance(item, str) or not item.strip():
        raise ValueError(f"line_item: expected text, got {clip(repr(item))}")
    head = item.split(",", 1)[0].strip()
    model = names.resolve(head, "openai") or names.resolve(item.strip(), "openai")
    return ExportLine(day, model or head, value, "billed", where,
                      resolved=model is not None)

