"""The normalised usage record that every part of costmodel prices.

Adapters turn provider payloads into `Usage`; the estimator simulates calls as `Usage`; the
guard meters `Usage`. One shape, one pricing function (`costmodel.core.pricing.price`).

Token counts are kept in **disjoint buckets** keyed ``"<modality>.<state>"``, so pricing is a
plain sum and nothing can be subtracted twice: ``"audio.input"`` holds only the *uncached*
audio input tokens, ``"audio.cached"`` the ones read from cache. Providers that report cached
tokens as a subset of input (OpenAI) are split by their adapter, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .._files import clip
from ..errors import UsageError
from ..money import to_decimal

MODALITIES = ("text", "audio", "image")
TOKEN_STATES = (
    "input",            # uncached input
    "cached",           # input read from a prompt cache
    "cache_write_5m",   # input written to a cache with a 5-minute TTL (Anthropic default)
    "cache_write_30m",  # OpenAI GPT-5.6+ minimum TTL
    "cache_write_1h",   # Anthropic / OpenAI extended TTL
    "output",
)
TOKEN_KEYS = frozenset(f"{m}.{s}" for m in MODALITIES for s in TOKEN_STATES)
INPUT_STATES = frozenset(s for s in TOKEN_STATES if s != "output")
_KEYS_SUPERSET = TOKEN_KEYS.issuperset

_ZERO = Decimal(0)


def token_key(modality: str, state: str) -> str:
    """The bucket name for a modality and state, validated: ``token_key("audio", "cached")``."""
    key = f"{modality}.{state}"
    if key not in TOKEN_KEYS:
        raise UsageError(f"unknown token bucket {key!r}; expected one of {sorted(TOKEN_KEYS)}")
    return key


# Not `frozen=True`: a frozen dataclass's __init__ costs ~0.8 us more, and a Usage is built for
# every response the guard meters. Treat it as immutable all the same; `with_` makes copies.
@dataclass(slots=True)
class Usage:
    """What one response, turn, call or request consumed, in billable units.

    - ``tokens``: disjoint token buckets, e.g. ``{"text.input": 55, "text.cached": 64}``.
    - ``connection_seconds``: wall-clock connection/session time (flat time billing, GPU share,
      telephony). Rounded by the rate's billing increment **as one unit**: a `Usage` carrying
      connection time stands for one connection or call.
    - ``audio_seconds``: audio processed (STT streaming, transcription duration, TTS per minute).
    - ``characters``: text characters synthesised (TTS).
    - ``at``: the date the usage happened; pricing uses the rate in force that day.
    - ``estimated``: the numbers were estimated rather than reported by the provider.

    >>> u = Usage("openai/gpt-realtime-1.5", {"text.input": 55, "text.cached": 64})
    >>> u.input_tokens
    119
    """

    model: str
    tokens: Mapping[str, int] = field(default_factory=dict)
    connection_seconds: Decimal = _ZERO
    audio_seconds: Decimal = _ZERO
    characters: int = 0
    at: date | None = None
    label: str = ""
    estimated: bool = False

    def __post_init__(self) -> None:
        # Cheap checks first: this runs for every priced response.
        tokens = self.tokens
        # sum() of ints is an int: one pass catches floats and strings (bools pass as ints).
        try:
            bad = bool(tokens) and (not _KEYS_SUPERSET(tokens)
                                    or type(sum(tokens.values())) is not int
                                    or min(tokens.values()) < 0
                                    or max(tokens.values()) > MAX_TOKENS)
        except TypeError:  # a string or None among the counts
            bad = True
        if bad:
            self._explain_tokens()
        # A Decimal is checked too: Decimal("Infinity") seconds once priced as $Infinity.
        self.connection_seconds = quantity(self.connection_seconds, "connection_seconds")
        self.audio_seconds = quantity(self.audio_seconds, "audio_seconds")
        chars = self.characters
        if type(chars) is not int or not 0 <= chars <= MAX_TOKENS:
            raise UsageError(f"characters must be a whole number from 0 to 1e12, got "
                             f"{clip(repr(chars))}")

    def _explain_tokens(self) -> None:
        bad = sorted(self.tokens.keys() - TOKEN_KEYS)
        if bad:
            raise UsageError(
                f"unknown token bucket(s) {bad}; expected '<modality>.<state>' with "
                f"modality in {MODALITIES} and state in {TOKEN_STATES}")
        for key, n in self.tokens.items():
            if type(n) is not int or not 0 <= n <= MAX_TOKENS:
                raise UsageError(f"{key} must be a whole number of tokens from 0 to 1e12, "
                                 f"got {clip(repr(n))}")
        raise UsageError("token counts must be whole numbers >= 0")  # pragma: no cover

    @classmethod
    def _unchecked(cls, model: str, tokens: dict[str, int], label: str = "",
                   estimated: bool = False) -> Usage:
        """A token-only Usage from buckets the caller has already validated (known keys,
        ints >= 0). Skips `__post_init__`: for the per-response hot paths only."""
        u = object.__new__(cls)
        u.model, u.tokens, u.label, u.estimated = model, tokens, label, estimated
        u.connection_seconds = u.audio_seconds = _ZERO
        u.characters, u.at = 0, None
        return u

    @property
    def input_tokens(self) -> int:
        """All input tokens, cached or not (the context size this usage was billed for)."""
        return sum(n for k, n in self.tokens.items() if k.partition(".")[2] in INPUT_STATES)

    @property
    def output_tokens(self) -> int:
        return sum(n for k, n in self.tokens.items() if k.endswith(".output"))

    def with_(self, **changes: object) -> Usage:
        """A copy with some fields changed (``Usage`` is immutable)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def is_empty(self) -> bool:
        return (not any(self.tokens.values()) and not self.connection_seconds
                and not self.audio_seconds and not self.characters)


def combine(usages: Iterable[Usage], *, model: str | None = None, label: str = "") -> Usage:
    """Add usages of one model together (e.g. every turn of a call).

    Connection and audio seconds add up, so the result is rounded as one unit when priced.
    """
    tokens: dict[str, int] = {}
    conn = audio = _ZERO
    chars = 0
    first: Usage | None = None
    estimated = False
    for u in usages:
        if first is None:
            first = u
        elif u.model != first.model:
            raise UsageError(f"cannot combine usage of {first.model} and {u.model}")
        for k, n in u.tokens.items():
            tokens[k] = tokens.get(k, 0) + n
        conn += u.connection_seconds
        audio += u.audio_seconds
        chars += u.characters
        estimated = estimated or u.estimated
    if first is None:
        if model is None:
            raise UsageError("combine() of no usages needs a model")
        return Usage(model, label=label)
    return Usage(first.model, tokens, conn, audio, chars, first.at, label, estimated)


MAX_QUANTITY = Decimal(10) ** 12  # a trillion seconds or tokens: nothing real is larger
MAX_TOKENS = 10 ** 12  # per bucket of one usage (and characters): the same bound, as an int


def quantity(value: object, what: str) -> Decimal:
    """A quantity from a payload (seconds): exact (`costmodel.money.to_decimal`: a float at
    its shortest repr), finite, from 0 to 1e12, else `UsageError`.

    Strings are refused (as token counts are): a payload with quoted numbers is malformed.

    >>> quantity(1.1, "seconds")
    Decimal('1.1')
    """
    d = value if type(value) is Decimal else to_decimal(value, what)
    if not d.is_finite() or d < 0 or d > MAX_QUANTITY:
        raise UsageError(f"{what} must be a finite number from 0 to 1e12, got {clip(repr(value))}")
    return d


# -- JSON ---------------------------------------------------------------------------------------
_JSON_FIELDS = frozenset({"model", "label", "tokens", "connection_seconds", "audio_seconds",
                          "characters", "at", "estimated"})
_FAST_FIELDS = frozenset({"model", "label", "tokens", "estimated"})
_INT_ONLY = {int}


def usage_to_json(u: Usage) -> dict[str, Any]:
    """`u` as a compact JSON-ready dict: fields at their default are left out, seconds are
    Decimal strings (exact), the date is ISO. `usage_from_json` reads it back equal.

    >>> usage_to_json(Usage("openai/gpt-realtime-1.5", {"audio.input": 120},
    ...                     audio_seconds=Decimal("3.2"), label="response"))
    {'model': 'openai/gpt-realtime-1.5', 'label': 'response', 'tokens': {'audio.input': 120}, \
'audio_seconds': '3.2'}
    """
    d: dict[str, Any] = {"model": u.model}
    if u.label:
        d["label"] = u.label
    if u.tokens:
        d["tokens"] = {k: int(n) for k, n in u.tokens.items()}  # (a bool count as a number)
    if u.connection_seconds:
        d["connection_seconds"] = str(u.connection_seconds)
    if u.audio_seconds:
        d["audio_seconds"] = str(u.audio_seconds)
    if u.characters:
        d["characters"] = u.characters
    if u.at is not None:
        d["at"] = u.at.isoformat()
    if u.estimated:
        d["estimated"] = True
    return d


def usage_from_json(d: object, what: str = "usage") -> Usage:
    """The `Usage` that `usage_to_json` wrote, validated: anything else raises `UsageError`
    naming the field (``what`` is how the message names the object, e.g. ``usage[3]``).

    Seconds may be Decimal strings (as written) or JSON numbers; counts must be whole numbers.

    >>> usage_from_json({"model": "openai/gpt-realtime-1.5", "audio_seconds": "3.2"})
    ... # doctest: +ELLIPSIS
    Usage(model='openai/gpt-realtime-1.5', tokens={}, connection_seconds=Decimal('0'), \
audio_seconds=Decimal('3.2'), ...)
    >>> usage_from_json({"model": "x", "seconds": 1})
    Traceback (most recent call last):
    costmodel.errors.UsageError: usage: unknown field(s) ['seconds']; expected some of ...
    """
    if type(d) is not dict:
        raise UsageError(f"{what}: expected a JSON object, got {clip(repr(d))}")
    if not _JSON_FIELDS.issuperset(d):
        raise UsageError(f"{what}: unknown field(s) {sorted(map(str, d.keys() - _JSON_FIELDS))}"
                         f"; expected some of {sorted(_JSON_FIELDS)}")
    model, label = d.get("model"), d.get("label", "")
    tokens, estimated = d.get("tokens", {}), d.get("estimated", False)
    if type(model) is not str or not model:
        raise UsageError(f"{what}.model: expected a model id, got {clip(repr(model))}")
    if type(label) is not str:
        raise UsageError(f"{what}.label: expected a string, got {clip(repr(label))}")
    if type(tokens) is not dict:
        raise UsageError(f"{what}.tokens: expected an object of token counts, got "
                         f"{clip(repr(tokens))}")
    if type(estimated) is not bool:
        raise UsageError(f"{what}.estimated: expected true or false, got {clip(repr(estimated))}")
    counts = tokens.values()
    if _FAST_FIELDS.issuperset(d) and _KEYS_SUPERSET(tokens) and (
            not tokens or set(map(type, counts)) == _INT_ONLY and min(counts) >= 0
            and max(counts) <= MAX_TOKENS):
        # What the guard meters (token counts only), checked as Usage would: a spend log
        # holds hundreds of thousands of these.
        return Usage._unchecked(model, tokens, label, estimated)
    # JSON true is a Python bool, which Usage would take as a count of 1.
    if any(type(n) is bool for n in counts):
        bad = next(k for k, n in tokens.items() if type(n) is bool)
        raise UsageError(f"{what}.tokens: {clip(str(bad))} must be a whole number of tokens")
    try:
        if _FAST_FIELDS.issuperset(d):
            return Usage(model, tokens, label=label, estimated=estimated)
        at = d.get("at")
        return Usage(model, tokens, _seconds(d, "connection_seconds"),
                     _seconds(d, "audio_seconds"), d.get("characters", 0),
                     None if at is None else _date(at), label, estimated)
    except UsageError as exc:
        raise UsageError(f"{what}: {exc}") from None


def _seconds(d: dict[str, Any], name: str) -> Decimal:
    """Seconds as written (a Decimal string), or a JSON number; Usage checks the range."""
    value = d.get(name, _ZERO)
    if type(value) is str:
        try:
            return Decimal(value)
        except InvalidOperation:
            raise UsageError(f"{name} must be a number, got {clip(repr(value))}") from None
    return value  # type: ignore[no-any-return]  # (Usage refuses what is not a number)


def _date(value: object) -> date:
    try:
        if type(value) is not str:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"at must be a date (YYYY-MM-DD), got {clip(repr(value))}") from None
