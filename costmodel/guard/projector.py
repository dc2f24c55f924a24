"""The projector: what the next response of a session will cost, from what the last ones did.

Protocol-free: it learns from priced response `Usage` (the session model's) and from measured
user turns, and projects the next response as re-billing providers bill it (billing model of
OpenAI Realtime / Gemini Live): the next input is the last input + the last reply + the new
user turn, capped at the model's truncation threshold, with the share of it the cache served
last time (text first: instructions lead the context); the reply is the largest seen so far.
Models that do not re-bill are bounded by their largest response.

What the provider says the session is set to also shapes the projection (`configure`): a cap on
the reply (``max_output_tokens``) and a truncation setting (a lower threshold, and the share a
truncation keeps). `rest_of_call` prices the responses after the next one too, on a copy:
the budget guard's ladder (`costmodel.guard.ladder`) compares the rest of a call with and
without a step that way, each response a `Usage` priced by `costmodel.core.pricing.price`.

The projection is computed when something it depends on changes, not on every event, and
priced on the compiled integer pico-dollar rates without building a `Usage` or `Cost`.

>>> from costmodel import default_catalog
>>> p = Projector(ModelFacts.of("openai/gpt-realtime-1.5", default_catalog()))
>>> p.learn({"audio.input": 1000, "audio.output": 200})   # a response: $0.0448
>>> p.next_usd()      # 1000 + 200 re-sent + 100 new user audio tokens in, 200 out: $0.0544
Decimal('0.054400000000')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..core.catalog import Catalog
from ..core.pricing import Rates, price, rates_for, token_cost
from ..core.usage import MODALITIES, TOKEN_KEYS, Usage

_DEFAULT_USER_SECONDS = Decimal(10)   # user speech assumed before any turn was measured
_DEFAULT_AGENT_SECONDS = Decimal(15)  # agent speech assumed before any response was seen
_DEFAULT_TEXT_OUT = 60

# Each bucket's counter in `learn`: input text/audio/image 0-2 (cache writes are input),
# cached 3-5, output 6-8.
_SLOT = {key: (6 if key.endswith(".output") else 3 if key.endswith(".cached") else 0)
         + MODALITIES.index(key.partition(".")[0]) for key in TOKEN_KEYS}
# The buckets of a projected response, in the order `_counts` gives them.
_BUCKETS = tuple(f"{m}.{state}" for state in ("input", "cached", "output") for m in MODALITIES)


@dataclass(frozen=True, slots=True)
class Truncation:
    """How a session truncates its context, as OpenAI Realtime's ``truncation`` sets it:
    ``"disabled"`` (never: the provider refuses a context past the window), or
    ``{"type": "retention_ratio", "retention_ratio": r, "token_limits": {"post_instructions":
    n}}``: past n tokens after the instructions (default: the model's threshold), keep r of
    them (https://platform.openai.com/docs/api-reference/realtime-client-events/session/update).
    """

    retention_ratio: Decimal | None = None
    post_instructions_tokens: int | None = None
    disabled: bool = False


def capped_output(text: int, audio: int, cap: int) -> tuple[int, int]:
    """A reply of `text` + `audio` tokens cut at `cap` output tokens (``max_output_tokens``
    counts both): each part in proportion, audio rounded down (the estimator's policies cut
    replies by the same rule: `costmodel.estimation.replies.capped_reply`).

    >>> capped_output(30, 150, 90)   # 180 tokens cut in half
    (15, 75)
    """
    if text + audio <= cap:
        return text, audio
    audio_kept = audio * cap // (text + audio)
    return cap - audio_kept, audio_kept


@dataclass(frozen=True, slots=True)
class Outlook:
    """The responses after now, projected: `usd` for the first `responses` of them, and how
    many in a row fit in the budget asked about (`fit`, at most the cap asked for)."""

    responses: int
    usd: Decimal
    fit: int


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What projecting a model's responses needs, resolved once per model."""

    name: str        # as the session named it
    model_id: str    # the catalog id
    tps_in: Decimal  # audio tokens per second of user speech
    speech_measured: bool  # the catalog knows tps_in: a measured user turn can be counted
    tps_out: Decimal
    rebills: bool    # each response re-bills the whole context
    limit: int | None  # truncation threshold (tokens)
    cacheable: frozenset[str]
    time_billed: bool
    rates: Rates
    speech_in: bool  # has an audio input rate (else the user's turn arrives as text)
    speech_out: bool
    # Integer pico-dollar rates of `_BUCKETS` (0 where the model has none: `unpriced` lists
    # those), or None when some rate is finer than a pico-dollar.
    pico: tuple[int, ...] | None
    unpriced: tuple[int, ...]

    @classmethod
    def of(cls, name: str, catalog: Catalog) -> ModelFacts:
        """Raises `CostModelError` for a model the catalog cannot price."""
        model_id = catalog.resolve(name)
        facts = catalog.entries[model_id].facts
        rates = rates_for(model_id, None, catalog)
        per_token = rates.per_token
        return cls(name=name, model_id=model_id,
                   tps_in=facts.audio_tokens_per_second_in or Decimal(10),
                   speech_measured=facts.audio_tokens_per_second_in is not None,
                   tps_out=facts.audio_tokens_per_second_out or Decimal(20),
                   rebills=facts.rebills_context is not False,
                   limit=facts.truncation_threshold_tokens,
                   cacheable=frozenset(m for m in MODALITIES if f"{m}.cached" in per_token),
                   time_billed=facts.bills_tokens is False, rates=rates,
                   speech_in="audio.input" in per_token,
                   speech_out="audio.output" in per_token,
                   pico=None if rates.per_token_pico is None or not rates.bills_tokens else
                   tuple(rates.per_token_pico.get(key, 0) for key in _BUCKETS),
                   unpriced=tuple(i for i, key in enumerate(_BUCKETS) if key not in per_token))


class Projector:
    """One session's context, learnt from its responses, and the next response's cost."""

    __slots__ = ("facts", "_max_output_text", "_max_output_audio", "_user_tokens",
                 "_max_user_tokens", "_last_input_total", "_cache_share", "_base_text",
                 "_base_audio", "_base_image", "_max_response_usd", "_transcription_usd",
                 "_memo", "_setup_text", "_out_cap", "_limit", "_keep", "_truncation")

    def __init__(self, facts: ModelFacts | None = None) -> None:
        self.facts = facts
        self._max_output_text = self._max_output_audio = 0
        self._user_tokens: int | None = None  # the coming user turn's audio, when measured
        self._max_user_tokens = 0
        self._last_input_total = 0
        self._cache_share = 0.0
        # What the next response re-sends (re-billing models): last input + last output.
        self._base_text = self._base_audio = self._base_image = 0
        self._max_response_usd = Decimal(0)
        self._transcription_usd = Decimal(0)  # the last transcription's cost: one per turn
        self._memo: Decimal | None = None
        # Text input of the first response: the instructions and tools (`setup_tokens`).
        self._setup_text = 0
        # As the provider set the session: a cap on the reply, the input past which the
        # context is truncated and what a truncation keeps (None: the catalog's threshold).
        self._out_cap: int | None = None
        self._truncation: Truncation | None = None
        self._limit = self._keep = facts.limit if facts is not None else None

    def use(self, facts: ModelFacts) -> None:
        """The session's model (it may change mid-session; what was learnt stays)."""
        self.facts = facts
        self._settle()

    @property
    def setup_tokens(self) -> int:
        """Text tokens of the first response's input: the instructions and tools the session
        was set up with (0 before the first response)."""
        return self._setup_text

    def configure(self, *, max_output_tokens: int | None = None,
                  truncation: Truncation | None = None) -> None:
        """The session as the provider now says it is set: replies capped at
        `max_output_tokens` (None: no cap), and `truncation` (None: the model's own)."""
        self._out_cap = max_output_tokens
        self._truncation = truncation
        self._settle()

    def _settle(self) -> None:
        """The truncation threshold and what a truncation keeps, in input tokens. OpenAI
        counts both past the instructions (``token_limits.post_instructions``,
        ``retention_ratio``: https://platform.openai.com/docs/api-reference/realtime-client-events/session/update),
        so the first response's text input (the instructions) is added back."""
        f, t = self.facts, self._truncation
        limit = f.limit if f is not None else None
        keep = limit
        if t is not None:
            if t.disabled:
                limit = keep = None
            else:
                setup = self._setup_text
                if t.post_instructions_tokens is not None:
                    own = setup + t.post_instructions_tokens
                    limit = own if limit is None else min(limit, own)
                keep = limit
                if limit is not None and t.retention_ratio is not None:
                    keep = setup + int(t.retention_ratio * max(0, limit - setup))
        self._limit, self._keep = limit, keep
        self._memo = None

    # -- what it learns from ----------------------------------------------------------------
    def learn(self, tokens: Mapping[str, int], cost_usd: Decimal | None = None) -> None:
        """A response of the session model, as priced buckets (and its cost)."""
        # One pass over the buckets into nine counters (this runs for every response).
        acc = [0, 0, 0, 0, 0, 0, 0, 0, 0]
        for key, n in tokens.items():
            i = _SLOT[key]
            acc[i] += n
            if 3 <= i <= 5:
                acc[i - 3] += n  # cached tokens are input too
        total_in = acc[0] + acc[1] + acc[2]
        # Share of the previous input that this response read from cache: the next response
        # will likely read the same share of this one's input.
        if self._last_input_total:
            share = (acc[3] + acc[4] + acc[5]) / self._last_input_total
            self._cache_share = share if share < 1.0 else 1.0
        else:
            self._cache_share = 0.0
            if not self._setup_text:  # the first response: its text input is the set-up
                self._setup_text = acc[0]
                if self._truncation is not None:
                    self._settle()
        self._last_input_total = total_in
        self._base_text, self._base_audio, self._base_image = (
            acc[0] + acc[6], acc[1] + acc[7], acc[2] + acc[8])
        if acc[6] > self._max_output_text:
            self._max_output_text = acc[6]
        if acc[7] > self._max_output_audio:
            self._max_output_audio = acc[7]
        if self._user_tokens is not None:
            if self._user_tokens > self._max_user_tokens:
                self._max_user_tokens = self._user_tokens
            self._user_tokens = None
        if cost_usd is not None and cost_usd > self._max_response_usd:
            self._max_response_usd = cost_usd
        self._memo = None

    def user_turn(self, seconds: Decimal) -> None:
        """The coming user turn lasted `seconds` (measured from the provider's VAD)."""
        assert self.facts is not None
        self._user_tokens = int(seconds * self.facts.tps_in) + 1
        self._memo = None

    def transcription(self, cost_usd: Decimal) -> None:
        """A transcription of the user's turn cost this: the next turn likely has one too."""
        self._transcription_usd = cost_usd
        self._memo = None

    def bust(self) -> None:
        """New instructions, tools or edited history: the cached prefix is gone."""
        self._cache_share = 0.0
        self._memo = None

    def forget(self, share: float) -> None:
        """`share` of the history after the set-up was dropped (old turns deleted): the next
        input re-sends only the rest, uncached past the set-up."""
        keep = 1.0 - min(max(share, 0.0), 1.0)
        history_text = max(0, self._base_text - self._setup_text)
        self._base_text = min(self._base_text, self._setup_text) + int(history_text * keep)
        self._base_audio = int(self._base_audio * keep)
        self._base_image = int(self._base_image * keep)
        self._last_input_total = min(self._last_input_total, self._setup_text)
        self._memo = None

    def copy(self) -> Projector:
        """An independent copy (what `rest_of_call` projects on)."""
        twin = Projector.__new__(Projector)
        for name in Projector.__slots__:
            setattr(twin, name, getattr(self, name))
        return twin

    def rest_of_call(self, catalog: Catalog, *, budget_usd: Decimal,
                     responses: int | None = None, most: int = 500,
                     max_output_tokens: int | None = None,
                     truncation: Truncation | None = None, forget: float = 0.0) -> Outlook:
        """The responses after now as the session goes on (each the next projection, then
        learnt as if it happened), priced one by one with `price`: the cost of the first
        `responses` of them (default: as many as fit), and how many fit in `budget_usd` (at
        most `most`). With a change (a lower `max_output_tokens`, another `truncation`, a
        share of the history to `forget`), as they would go with it from now on. Raises
        `CostModelError` for tokens the catalog cannot price.

        >>> from costmodel import default_catalog
        >>> p = Projector(ModelFacts.of("openai/gpt-realtime-1.5", default_catalog()))
        >>> p.learn({"audio.input": 1000, "audio.output": 200})
        >>> p.rest_of_call(default_catalog(), budget_usd=Decimal("0.12"))  # $0.0544 + $0.064
        Outlook(responses=2, usd=Decimal('0.118400000000'), fit=2)
        >>> p.rest_of_call(default_catalog(), budget_usd=Decimal("0.12"), responses=3).usd
        Decimal('0.192000000000')
        """
        facts = self.facts
        assert facts is not None, "the model is not known yet"
        twin = self.copy()
        if max_output_tokens is not None:
            cap = twin._out_cap
            twin._out_cap = max_output_tokens if cap is None else min(cap, max_output_tokens)
        if truncation is not None:
            twin._truncation = truncation
            twin._settle()
        if forget:
            twin.forget(forget)
            twin.bust()
        want = most if responses is None else min(responses, most)
        fit, fit_usd, n, usd = 0, Decimal(0), 0, Decimal(0)
        fitting = True
        for _ in range(max(want, most)):
            if not fitting and (responses is None or n >= want):
                break
            tokens = twin.tokens()
            cost = price(Usage._unchecked(facts.model_id, tokens, "projected"),
                         catalog).total_usd
            if not facts.rebills and twin._max_response_usd > cost:
                cost = twin._max_response_usd  # (as `next_usd` bounds it)
            cost += twin._transcription_usd
            if fitting and fit_usd + cost <= budget_usd:
                fit, fit_usd = fit + 1, fit_usd + cost
            else:
                fitting = False
            if responses is not None and n < want:
                n, usd = n + 1, usd + cost
            twin.learn(tokens)
        return Outlook(fit, fit_usd, fit) if responses is None else Outlook(n, usd, fit)

    # -- what it says -----------------------------------------------------------------------
    def _counts(self, output_seconds: Decimal | None = None) -> tuple[int, ...]:
        """The next response's tokens: input text/audio/image, cached text/audio/image, output
        text/audio/image (see `tokens`)."""
        f = self.facts
        assert f is not None, "the model is not known yet"
        user = self._user_tokens
        if user is None:
            user = max(self._max_user_tokens, int(_DEFAULT_USER_SECONDS * f.tps_in))
        if output_seconds is not None:
            out_text, out_audio = self._max_output_text, int(output_seconds * f.tps_out)
        elif self._max_output_text or self._max_output_audio:
            out_text, out_audio = self._max_output_text, self._max_output_audio
        elif f.speech_out:
            out_text, out_audio = _DEFAULT_TEXT_OUT, int(_DEFAULT_AGENT_SECONDS * f.tps_out)
        else:
            out_text, out_audio = _DEFAULT_TEXT_OUT, 0  # a text LLM (a chained pipeline's)
        cap = self._out_cap
        if cap is not None and out_text + out_audio > cap:
            out_text, out_audio = capped_output(out_text, out_audio, cap)
        # Input: what the context re-sends (re-billing models), plus the new user turn: audio
        # for a speech model, its transcript for a text LLM.
        user_audio, user_text = (user, 0) if f.speech_in else (0, user)
        if f.rebills:
            text, audio, image = (self._base_text + user_text, self._base_audio + user_audio,
                                  self._base_image)
            total = text + audio + image
        else:
            text, audio, image = user_text, user_audio, 0
            total = user
        truncated = False
        limit = self._limit
        if limit is not None and total > limit:
            truncated = True
            keep = self._keep if self._keep is not None else limit
            audio = max(0, audio - (total - keep))
        # The cached prefix: the share seen last time, of the context as it was, text first
        # (the instructions lead the context). Truncation busts the cache past the start.
        left = int(self._cache_share * self._last_input_total) if f.cacheable else 0
        if truncated:
            left = min(left, text)
        cacheable = f.cacheable
        cached_text = min(left, text) if "text" in cacheable else 0
        left -= cached_text
        cached_audio = min(left, audio) if "audio" in cacheable else 0
        left -= cached_audio
        cached_image = min(left, image) if "image" in cacheable else 0
        return (text - cached_text, audio - cached_audio, image - cached_image,
                cached_text, cached_audio, cached_image, out_text, out_audio, 0)

    def tokens(self, output_seconds: Decimal | None = None) -> dict[str, int]:
        """The next response as token buckets; with `output_seconds`, the reply is that much
        audio (an estimate of a response that streamed it without reporting its usage)."""
        return {key: n for key, n in zip(_BUCKETS, self._counts(output_seconds), strict=True)
                if n}

    def usage(self, output_seconds: Decimal | None = None, label: str = "projected") -> Usage:
        """The next response as a `Usage` (see `tokens`)."""
        tokens = self.tokens(output_seconds)  # (asserts that the model is known)
        assert self.facts is not None
        return Usage._unchecked(self.facts.model_id, tokens, label)

    def next_usd(self) -> Decimal:
        """The next response's cost (tokens; time-billed models are the caller's). Raises
        KeyError for a bucket the model has no rate for."""
        memo = self._memo
        if memo is not None:
            return memo
        facts = self.facts
        assert facts is not None, "the model is not known yet"
        pico = facts.pico
        if pico is None:  # a rate finer than a pico-dollar: exact Decimal sums instead
            cost = token_cost(self.tokens(), facts.rates)
        else:
            c = self._counts()
            for i in facts.unpriced:
                if c[i]:
                    raise KeyError(_BUCKETS[i])   # the model has no rate for these tokens
            cost = Decimal(c[0] * pico[0] + c[1] * pico[1] + c[2] * pico[2] + c[3] * pico[3]
                           + c[4] * pico[4] + c[5] * pico[5] + c[6] * pico[6]
                           + c[7] * pico[7] + c[8] * pico[8]).scaleb(-12)
        if not facts.rebills and self._max_response_usd > cost:
            cost = self._max_response_usd  # usage events split a turn: bound by the largest
        if self._transcription_usd:
            cost += self._transcription_usd
        self._memo = cost
        return cost
