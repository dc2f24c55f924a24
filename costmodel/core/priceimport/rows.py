"""A public price map's models as catalog rates: each one's kind, its rates in the catalog's
units and schema, or why it cannot be imported (a `Skip` with a countable reason).

The maps are read by `costmodel.core.pricediff.maps` (`read_package`, `convert_rates`,
`in_force`); this module decides what each row is in the catalog's terms:

- the **kind**: LiteLLM says it (``mode``: chat, completion and responses are ``llm``,
  realtime ``realtime``, audio_transcription ``stt``, audio_speech ``tts``; anything else,
  embeddings or images, is not imported). genai-prices and voice-prices do not, so it is read
  off the fields: a carrier minute is ``telephony``, a bundled agent minute ``realtime``,
  characters or generated audio seconds ``tts``, input audio seconds ``stt``; token-priced
  audio models by their name (``realtime``/``live``, ``transcribe``/``whisper``).
- **one meter per model**: a model with token rates is priced by its tokens; a per-second or
  per-character figure the map gives beside them (OpenAI's "estimated cost" per minute for a
  token-billed transcriber) is noted, not imported, since a usage carrying both would be
  billed twice.
- **rates the schema cannot hold** skip the model: a fee on every request, reasoning tokens
  priced apart from output tokens, or no rate the catalog has a unit for. Fields that price
  something optional (batch and priority tiers, web search, images, video, long prompts) are
  left out and named in the entry's notes.
- a rate of **0 everywhere** is not imported (free, or not known: never priced as zero).

Units are converted exactly: LiteLLM's floats through their shortest repr (2.5e-06 per token is
$2.5 per 1M), per-thousand figures by a power of ten, per-second and per-hour figures kept in
their own unit (``usd_per_second``, ``usd_per_hour``), never divided.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from ..pricediff.maps import (
    GENAI_RATES,
    LITELLM_RATES,
    MapRules,
    by_time,
    convert_rates,
    exact,
    in_force,
)

LITELLM_KINDS: Mapping[str, str] = {
    "chat": "llm", "completion": "llm", "responses": "llm", "realtime": "realtime",
    "audio_transcription": "stt", "audio_speech": "tts"}
IMPORT_KINDS = ("realtime", "stt", "tts", "llm", "telephony")

_THOUSAND = Decimal(1000)
_STT_NAME = re.compile(r"transcri|whisper|stt|asr|scribe|speech-to-text")
_REALTIME_NAME = re.compile(r"realtime|live|sonic|voice|native-audio|agent")


@dataclass(frozen=True)
class TimeFigure:
    """A price per unit of time as the map gives it (never divided into another unit)."""

    usd: Decimal
    per: Literal["second", "minute", "hour"]


@dataclass(frozen=True)
class Row:
    """One model of a map, in the catalog's terms (before ids and the catalog are looked at)."""

    key: str                          # the map's id for it
    raw_provider: str                 # the map's provider name
    provider: str                     # the catalog provider id it is filed under
    name: str                         # its model name, provider prefix and all, rewritten
    title: str                        # a display name
    kind: str
    tokens: Mapping[str, Decimal]     # "audio.input" -> USD per 1M tokens
    time: TimeFigure | None           # audio time (stt, tts) or connection time (the rest)
    characters: Decimal | None        # USD per 1M characters
    notes: tuple[str, ...] = ()
    vendor_url: str | None = None     # the vendor page the map cites for it


@dataclass(frozen=True)
class Skip:
    key: str
    reason: str


def provider_id(raw: str, rules: MapRules) -> str:
    """The catalog provider id for a map's provider name: `rules` (maps.yaml), else the name
    in lowercase with anything but letters, digits, '.', '-' made '-'.

    >>> provider_id("fireworks_ai", MapRules())
    'fireworks-ai'
    """
    named = rules.providers.get(raw) or rules.names.get(raw)
    if named:
        return named
    return re.sub(r"[^a-z0-9.-]+", "-", raw.lower()).strip("-.") or "unknown"


def _drop(kept: str, what: str, label: str) -> str:
    return (f"{label} also gives {what}, not imported: the catalog prices a model by one "
            f"meter, its {kept}")


def _assemble(base: Row, tokens: dict[str, Decimal], time: TimeFigure | None,
              characters: Decimal | None, label: str) -> Row | Skip:
    """The rates `base.kind` is priced by, one meter (see the module doc)."""
    notes = list(base.notes)
    kind = base.kind
    if tokens and (time is not None or characters is not None):
        dropped = " and ".join(w for w, v in (("a time rate", time),
                                                ("a per-character rate", characters)) if v)
        notes.append(_drop("token rates", dropped, label))
        time = characters = None
    if kind in ("llm", "realtime", "stt", "telephony") and characters is not None:
        notes.append(f"{label} also gives a per-character rate, not imported for a {kind}")
        characters = None
    if kind == "tts" and characters is not None and time is not None:
        notes.append(_drop("per-character rate", "a per-second rate", label))
        time = None
    if kind == "llm" and time is not None:
        notes.append(f"{label} also gives a time rate (audio input), not imported for an llm")
        time = None
    if kind == "telephony" and tokens:
        return Skip(base.key, "a carrier priced by tokens")
    if not tokens and time is None and characters is None:
        return Skip(base.key, f"no rate the catalog can hold for kind {kind}")
    figures = [*tokens.values(), *(x.usd for x in (time,) if x), *(c for c in (characters,) if c)]
    if not any(figures):
        return Skip(base.key, "every rate is 0 (free, or not known: never priced as zero)")
    return Row(base.key, base.raw_provider, base.provider, base.name, base.title, kind,
               {k: tokens[k] for k in sorted(tokens)}, time, characters, tuple(notes),
               base.vendor_url)


def _listed(fields: list[str], label: str) -> str:
    shown = ", ".join(fields[:6]) + (f" and {len(fields) - 6} more" if len(fields) > 6 else "")
    return (f"{label} also lists {shown}: other service tiers, long prompts, tools or media, "
            "not imported")


# -- LiteLLM ---------------------------------------------------------------------------------
_LITELLM_TIME = ("input_cost_per_second", "input_cost_per_audio_per_second")
_LITELLM_USED = frozenset({*LITELLM_RATES, "output_cost_per_second", "input_cost_per_character",
                           "output_cost_per_reasoning_token", "input_cost_per_request"})


def litellm_rows(data: Mapping[str, Any], rules: MapRules) -> Iterator[Row | Skip]:
    """LiteLLM's model map (``model_prices_and_context_window.json``), row by row."""
    skip = [re.compile(p) for p in rules.skip]
    rewrite = [(re.compile(r.pattern), r.to) for r in rules.rewrite]
    for key, spec in data.items():
        if not isinstance(spec, Mapping) or key == "sample_spec":
            continue      # (the map's own template of a row)
        raw = spec.get("litellm_provider")
        if not isinstance(raw, str) or not raw or " " in raw:
            yield Skip(key, "no litellm_provider")
            continue
        mode = spec.get("mode")
        kind = LITELLM_KINDS.get(str(mode))
        if kind is None:
            yield Skip(key, f"mode {mode!r}: not realtime, stt, tts or llm")
            continue
        if any(p.search(key) for p in skip):
            yield Skip(key, "left out by a rule of pricing/ids/maps.yaml")
            continue
        yield _litellm_row(key, spec, raw, kind, rules, rewrite)


def _litellm_row(key: str, spec: Mapping[str, Any], raw: str, kind: str, rules: MapRules,
                 rewrite: list[tuple[re.Pattern[str], str]]) -> Row | Skip:
    if exact(spec.get("input_cost_per_request")):
        return Skip(key, "a fee on every request, which the catalog cannot hold")
    reasoning = exact(spec.get("output_cost_per_reasoning_token"))
    if reasoning is not None and reasoning != exact(spec.get("output_cost_per_token")):
        return Skip(key, "reasoning tokens priced apart from output tokens")
    tokens = {k: v for k, v in convert_rates(spec, LITELLM_RATES).items() if "." in k}
    seconds = next((v for f in _LITELLM_TIME if (v := exact(spec.get(f))) is not None), None)
    if kind == "tts":
        seconds = exact(spec.get("output_cost_per_second"))   # of generated speech
    per_char = exact(spec.get("input_cost_per_character"))
    left = sorted(f for f, v in spec.items() if "cost" in f and f not in _LITELLM_USED
                  and v not in (None, 0, 0.0) and not (kind != "tts" and
                                                      f == "output_cost_per_second"))
    name = key
    for pattern, to in rewrite:
        name = pattern.sub(to, name)
    notes = [f"LiteLLM mode {spec.get('mode')}"]
    if left:
        notes.append(_listed(left, "LiteLLM"))
    base = Row(key, raw, provider_id(raw, rules), name, key, kind, {}, None, None,
               tuple(notes))
    return _assemble(base, tokens, None if seconds is None else TimeFigure(seconds, "second"),
                     None if per_char is None else per_char * 1_000_000, "LiteLLM")


# -- genai-prices and voice-prices -----------------------------------------------------------
# Their per-thousand and per-hour fields -> (catalog place, unit, divisor into that unit)
_GENAI_TIME: Mapping[str, tuple[Literal["second", "minute", "hour"], Decimal]] = {
    "input_audio_kseconds": ("second", _THOUSAND),
    "output_audio_kseconds": ("second", _THOUSAND),
    "input_audio_hours": ("hour", Decimal(1)),
    "audio_hours": ("hour", Decimal(1)),
    "telephony_kminutes": ("minute", _THOUSAND),
    "agent_kminutes": ("minute", _THOUSAND),
}
_GENAI_USED = frozenset({*GENAI_RATES, *_GENAI_TIME, "input_kchars", "input_mchars",
                         "voice_multipliers", "requests_kcount", "output_reasoning_mtok"})


def genai_kind(fields: Mapping[str, Any], model_id: str) -> str | None:
    """The kind of a genai-prices or voice-prices model, read off its priced fields (and,
    for token-priced audio, its name); None when they do not tell.

    >>> genai_kind({"input_audio_kseconds": 1}, "nova-3"), genai_kind({"input_mtok": 1}, "x")
    ('stt', 'llm')
    """
    has = {k for k, v in fields.items() if v is not None}
    name = model_id.lower()
    if "telephony_kminutes" in has:
        return "telephony"
    if "agent_kminutes" in has:
        return "realtime"
    if has & {"input_kchars", "input_mchars", "output_audio_kseconds"}:
        return "tts"
    if has & {"input_audio_kseconds", "input_audio_hours"}:
        return "stt"
    if "audio_hours" in has and not has & {"input_audio_mtok", "output_audio_mtok"}:
        if _STT_NAME.search(name):
            return "stt"
        return "realtime" if _REALTIME_NAME.search(name) else None
    audio_in, audio_out = "input_audio_mtok" in has, "output_audio_mtok" in has
    if audio_in and audio_out:
        return "realtime" if _REALTIME_NAME.search(name) else "llm"
    if audio_out:
        return "tts"
    if audio_in and _STT_NAME.search(name):
        return "stt"
    return "llm"


def genai_rows(providers: list[Any], day: date, rules: MapRules, label: str
               ) -> Iterator[Row | Skip]:
    """genai-prices' or voice-prices' providers list, model by model, at the prices in force
    on `day`."""
    for prov in providers:
        if not isinstance(prov, Mapping) or not isinstance(prov.get("id"), str):
            continue
        raw = prov["id"]
        for model in prov.get("models") or ():
            if isinstance(model, Mapping) and isinstance(model.get("id"), str):
                yield _genai_row(raw, model, day, rules, label)


def _genai_refusal(key: str, prices: Mapping[str, Any] | None, mid: str) -> Skip | str:
    """Why the model cannot be imported, or its kind."""
    if prices is None:
        return Skip(key, "no price in force today")
    if not prices:
        return Skip(key, "no rates given (free, or not known: never priced as zero)")
    kind = genai_kind(prices, mid)
    if kind is None:
        return Skip(key, "a rate per hour of audio for a model whose kind the map does not say")
    if exact(prices.get("requests_kcount")):
        return Skip(key, "a fee on every request, which the catalog cannot hold")
    reasoning = exact(prices.get("output_reasoning_mtok"))
    if reasoning is not None and reasoning != exact(prices.get("output_mtok")):
        return Skip(key, "reasoning tokens priced apart from output tokens")
    return kind


def _genai_row(raw: str, model: Mapping[str, Any], day: date, rules: MapRules, label: str
               ) -> Row | Skip:
    mid = model["id"]
    key = f"{raw}/{mid}"
    prices = in_force(model.get("prices"), day)
    kind = _genai_refusal(key, prices, mid)
    if isinstance(kind, Skip):
        return kind
    assert prices is not None   # (refused above)
    provenance = model.get("provenance") or {}
    estimated = [f for f in provenance.get("estimated_fields") or () if f in prices]
    fields = {k: v for k, v in prices.items() if k not in estimated}
    if estimated and not any(v for k, v in fields.items() if k != "voice_multipliers"):
        return Skip(key, "its only rates are ones the map marks as the vendor's estimates")
    notes = []
    if estimated:
        notes.append(f"{label} marks {', '.join(estimated)} as the vendor's estimate, not the "
                     "billed meter: not imported")
    tokens = {k: v for k, v in convert_rates(fields, GENAI_RATES).items() if "." in k}
    time = _genai_time(fields)
    characters = _genai_characters(fields)
    multipliers = fields.get("voice_multipliers")
    if isinstance(multipliers, Mapping) and (m := exact(multipliers.get("default"))) is not None:
        # (voice-prices scales characters and generated audio seconds by the voice's class)
        characters = None if characters is None else characters * m
        if time is not None and "output_audio_kseconds" in fields:
            time = TimeFigure(time.usd * m, time.per)
        others = sorted(k for k in multipliers if k != "default")
        notes.append(f"{label}'s default voice class (x{m}); other classes not imported: "
                     f"{', '.join(others)}")
    notes += _genai_notes(model, fields, provenance, label)
    url = model.get("pricing_source_url")
    base = Row(key, raw, provider_id(raw, rules), mid, str(model.get("name") or mid), kind,
               {}, None, None, tuple(notes),
               url if isinstance(url, str) and url.startswith(("https://", "http://")) else None)
    return _assemble(base, tokens, time, characters, label)


def _genai_notes(model: Mapping[str, Any], fields: Mapping[str, Any],
                 provenance: Mapping[str, Any], label: str) -> list[str]:
    """What of the model's prices was not imported, and when the map last verified them."""
    notes = []
    tiered = sorted(k for k, v in fields.items() if isinstance(v, Mapping) and "tiers" in v)
    if tiered:
        notes.append(f"{label} gives higher rates for long prompts ({', '.join(tiered)}): "
                     "the base rate is imported")
    if any(True for _ in by_time(model.get("prices"))):
        notes.append(f"{label}'s time-of-day prices not imported")
    left = sorted(k for k, v in fields.items() if k not in _GENAI_USED and v)
    if left:
        notes.append(_listed(left, label))
    verified = provenance.get("last_verified")
    if verified:
        notes.append(f"{label} last verified it {verified}")
    return notes


def _genai_time(fields: Mapping[str, Any]) -> TimeFigure | None:
    for field, (per, divisor) in _GENAI_TIME.items():
        value = exact(fields.get(field))
        if value is not None:
            return TimeFigure(value / divisor, per)   # (by 1 or 1000: exact)
    return None


def _genai_characters(fields: Mapping[str, Any]) -> Decimal | None:
    per_k = exact(fields.get("input_kchars"))
    if per_k is not None:
        return per_k * _THOUSAND
    return exact(fields.get("input_mchars"))
