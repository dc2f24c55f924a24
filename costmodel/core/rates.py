"""The schema of a price catalog entry: rates, their provenance, and model facts.

A catalog file (``pricing/<provider>.yaml``) is a list of `ModelEntry`. Each entry has a price
history (`PricePeriod` list, oldest first); each period names its source URL, the date it was
checked and the date it took effect. Token rates are USD per 1M tokens by modality and state::

    tokens:
      audio: {input: 32, cached: 0.40, output: 64}

Time rates (connection or audio time) carry their billing increment and minimum charge.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._files import clip
from ..money import format_rate
from .usage import MODALITIES, TOKEN_STATES

KINDS = ("realtime", "stt", "llm", "tts", "telephony", "selfhost", "platform")
Kind = Literal["realtime", "stt", "llm", "tts", "telephony", "selfhost", "platform"]
Confidence = Literal["vendor", "secondary", "assumption"]

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._:-]*$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
_MILLION = Decimal(1_000_000)
_RATE_KEYS = frozenset({f"{m}.{st}" for m in MODALITIES for st in TOKEN_STATES}
                       | {"connection", "audio", "characters", "gpu", "fees"})

# Sanity bounds. A rate is USD per the unit it is quoted in (1M tokens, a second, minute or
# hour, 1M characters, a GPU-hour); no real price comes near a million, and a figure like
# "1e100000" validated once but then broke every table and total.
MAX_RATE_USD = Decimal(1_000_000)
MAX_BILLING_SECONDS = Decimal(86_400)  # an increment or minimum charge of more than a day
MAX_FACT = 10 ** 9  # token counts, seconds: a billion is beyond any model's limits
Rate = Annotated[Decimal, Field(ge=0, le=MAX_RATE_USD)]
# Strict: YAML reads `true` as a boolean, which lax validation would take as 1.
Count = Annotated[int, Field(strict=True, ge=1, le=MAX_FACT)]


def _source_url(cls: type, v: str) -> str:
    """A `source` field's check, shared by every sourced block: an http(s) URL."""
    if not _URL.match(v):
        raise ValueError(f"source must be an http(s) URL, got {clip(v)!r}")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeRate(_Strict):
    """A price per unit of time with its billing granularity.

    Give exactly one of ``usd_per_second``, ``usd_per_minute`` or ``usd_per_hour``.
    ``increment_seconds`` is the rounding step (60 = rounded up to whole minutes);
    ``minimum_seconds`` the least that is billed once anything is.
    """

    usd_per_second: Rate | None = None
    usd_per_minute: Rate | None = None
    usd_per_hour: Rate | None = None
    increment_seconds: Decimal = Field(default=Decimal(1), gt=0, le=MAX_BILLING_SECONDS)
    minimum_seconds: Decimal = Field(default=Decimal(0), ge=0, le=MAX_BILLING_SECONDS)

    @model_validator(mode="after")
    def _one_rate(self) -> TimeRate:
        given = [r for r in (self.usd_per_second, self.usd_per_minute, self.usd_per_hour)
                 if r is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of usd_per_second, usd_per_minute, usd_per_hour")
        return self

    def rate_and_unit_seconds(self) -> tuple[Decimal, int]:
        """(USD, seconds) as given, e.g. (0.0085, 60): price = seconds x USD / unit.

        Pricing multiplies before it divides, so $0.0085/min for 120 s is exactly $0.017
        (dividing the rate by 60 first would leave a 28-digit remainder).
        """
        if self.usd_per_second is not None:
            return self.usd_per_second, 1
        if self.usd_per_minute is not None:
            return self.usd_per_minute, 60
        assert self.usd_per_hour is not None  # the validator let exactly one rate through
        return self.usd_per_hour, 3600

    @property
    def per_minute(self) -> Decimal:
        """USD per minute, for display."""
        rate, unit = self.rate_and_unit_seconds()
        return rate * 60 / unit


class CharacterRate(_Strict):
    usd_per_mchar: Rate = Field(description="USD per 1M characters")


class GpuRate(_Strict):
    usd_per_hour: Rate = Field(description="rental price of one GPU for one hour")


class FixedFees(_Strict):
    """A platform's (or a carrier's) fees that are not per call, per month of use.

    ``usd_per_month``: the plan's fee; ``usd_per_number``: each rented phone number's monthly
    fee (times the scenario's ``platform.phone_numbers``); ``included_minutes``: minutes a
    month of the entry's per-minute (``connection``) fee that the plan includes. The
    estimator adds the fees to the monthly total as their own line items, never per call, and
    credits min(included minutes, the month's billed minutes) x the per-minute rate.
    """

    usd_per_month: Rate | None = None
    usd_per_number: Rate | None = Field(default=None, description="USD per phone number per "
                                        "month")
    included_minutes: int | None = Field(default=None, strict=True, ge=0, le=MAX_FACT,
                                         description="minutes of the per-minute fee included "
                                         "each month")

    @model_validator(mode="after")
    def _some(self) -> FixedFees:
        if self.usd_per_month is None and self.usd_per_number is None \
                and self.included_minutes is None:
            raise ValueError("give at least one of usd_per_month, usd_per_number, "
                             "included_minutes")
        return self


class AltFigure(_Strict):
    """A figure another source gives, kept so disagreements are visible, not silent."""

    source: str
    figure: str
    note: str = ""


class PricePeriod(_Strict):
    """The rates in force from `effective` on, with where they come from."""

    effective: date
    checked: date
    source: str
    confidence: Confidence = "vendor"
    notes: str = ""
    sources: dict[str, str] = Field(default_factory=dict,
                                    description="per-rate source URL where it differs")
    alternatives: list[AltFigure] = Field(default_factory=list)
    promotional: bool = Field(default=False, description="a promotion: the regular price "
                              "is the period that follows")
    ends: date | None = Field(default=None, description="last day these rates apply; the "
                              "next period must take effect the day after")
    tokens: dict[str, dict[str, Rate]] = Field(default_factory=dict,
                                               description="USD per 1M tokens")
    connection: TimeRate | None = None
    audio: TimeRate | None = None
    characters: CharacterRate | None = None
    gpu: GpuRate | None = None
    fees: FixedFees | None = Field(default=None, description="monthly fees not charged per "
                                   "call (a platform's plan, phone numbers, included minutes)")

    _url = field_validator("source")(_source_url)

    @field_validator("sources")
    @classmethod
    def _urls(cls, v: dict[str, str]) -> dict[str, str]:
        for key, url in v.items():
            if key not in _RATE_KEYS:
                raise ValueError(f"sources key {clip(key)!r} names no rate; expected a token "
                                 "bucket like 'audio.output' or one of connection, audio, "
                                 "characters, gpu")
            if not _URL.match(url):
                raise ValueError(f"sources[{key}] must be an http(s) URL, got {clip(url)!r}")
        return v

    @field_validator("tokens")
    @classmethod
    def _token_keys(cls, v: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        for modality, states in v.items():
            if modality not in MODALITIES:
                raise ValueError(f"unknown modality {clip(modality)!r}; expected one of "
                                 f"{MODALITIES}")
            for state, rate in states.items():
                if state not in TOKEN_STATES:
                    raise ValueError(f"unknown token state {modality}.{clip(state)}; expected "
                                     f"one of {TOKEN_STATES}")
                if rate < 0:
                    raise ValueError(f"{modality}.{state} must be >= 0")
        return v

    @model_validator(mode="after")
    def _dates(self) -> PricePeriod:
        # A price checked before it took effect is an announced future price: allowed, but
        # only with a note saying so.
        if (self.checked < self.effective and self.confidence != "assumption"
                and "announced" not in self.notes.lower()):
            raise ValueError("checked is before effective: say 'announced' in notes for a "
                             "future price")
        if self.ends is not None and self.ends < self.effective:
            raise ValueError("ends is before effective")
        return self

    def headline(self) -> str:
        """The period's rates in one short line, e.g. 'audio $0.0077/min' or
        'text $0.75/$4.5, audio $3/$12 per 1M tokens (in/out)'."""
        parts = []
        for modality, states in self.tokens.items():
            shown = [f"${format_rate(states[s])}" for s in ("input", "output") if s in states]
            if shown:
                parts.append(f"{modality} {'/'.join(shown)}")
        if parts:
            parts = [", ".join(parts) + " per 1M tokens (in/out)"]
        for name in ("connection", "audio"):
            tr: TimeRate | None = getattr(self, name)
            if tr is not None:
                parts.append(f"{name} ${format_rate(tr.per_minute)}/min")
        if self.characters is not None:
            parts.append(f"${format_rate(self.characters.usd_per_mchar)} per 1M characters")
        if self.gpu is not None:
            parts.append(f"${format_rate(self.gpu.usd_per_hour)} per GPU-hour")
        fees = self.fees
        if fees is not None:
            if fees.usd_per_month is not None:
                parts.append(f"${format_rate(fees.usd_per_month)}/month")
            if fees.usd_per_number is not None:
                parts.append(f"${format_rate(fees.usd_per_number)} per number per month")
            if fees.included_minutes:
                parts.append(f"{fees.included_minutes:,} minutes included")
        return "; ".join(parts)

    def token_rates_per_mtok(self) -> dict[str, Decimal]:
        """Flat ``{"audio.cached": Decimal("0.40"), ...}`` in USD per 1M tokens."""
        return {f"{m}.{s}": r for m, states in self.tokens.items() for s, r in states.items()}

    def token_rates_per_token(self) -> dict[str, Decimal]:
        return {k: r / _MILLION for k, r in self.token_rates_per_mtok().items()}


class CacheRules(_Strict):
    """How a model's prompt cache behaves (used by the estimator)."""

    automatic: bool = True
    min_prefix_tokens: int | None = Field(default=None, strict=True, ge=0, le=MAX_FACT)
    increment_tokens: Count | None = None
    ttl_seconds: int | None = Field(default=None, strict=True, ge=0, le=MAX_FACT)
    write_multiplier: Decimal | None = Field(default=None, ge=0, le=100)
    notes: str = ""


class ModelFacts(_Strict):
    """Facts that shape cost, beyond the rates. `None` means not known."""

    audio_tokens_per_second_in: Decimal | None = Field(default=None, ge=0, le=10_000)
    audio_tokens_per_second_out: Decimal | None = Field(default=None, ge=0, le=10_000)
    context_window_tokens: Count | None = None
    max_output_tokens: Count | None = None
    truncation_threshold_tokens: Count | None = Field(
        default=None, description="input size at which the server starts truncating")
    rebills_context: bool | None = None
    bills_silence: bool | None = None
    bills_tokens: bool | None = Field(
        default=None, description="false: token counts a session reports are informational "
        "(the model is billed by time); pricing ignores them")
    max_session_seconds: Count | None = None
    compression_lifts_session_limit: bool | None = Field(
        default=None, description="true: max_session_seconds holds only without context "
        "compression (the truncation_threshold_tokens mechanism), which lets a session go on")
    cache: CacheRules | None = None
    unconfirmed: list[str] = Field(default_factory=list,
                                   description="names of facts above that are not confirmed")

    @model_validator(mode="after")
    def _known_names(self) -> ModelFacts:
        names = set(type(self).model_fields) - {"unconfirmed"}
        bad = [n for n in self.unconfirmed if n not in names]
        if bad:
            raise ValueError(f"unconfirmed names unknown facts {bad}")
        return self


class SelfHost(_Strict):
    """An open model run on rented GPUs: cost = GPU $/h x gpus / (sessions x utilisation)."""

    runs_on: str = Field(description="catalog id of the GPU rental, e.g. selfhost/h100")
    gpus: Decimal = Field(gt=0, le=10_000)
    # Divisors of the per-session price: a tiny one (1e-30) made it astronomically large.
    concurrent_sessions: Decimal = Field(ge=1, le=MAX_FACT,
                                         description="sessions one deployment serves")
    utilization: Decimal = Field(ge=Decimal("0.01"), le=1,
                                 description="average share of capacity in use")
    source: str
    checked: date
    confidence: Confidence = "assumption"
    notes: str = ""

    _url = field_validator("source")(_source_url)

    @field_validator("runs_on")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"runs_on must be a catalog id 'provider/model', got {clip(v)!r}")
        return v


LIMIT_METRICS = ("rpm", "tpm", "rpd", "concurrent_sessions", "cps")


class RateLimits(_Strict):
    """A provider's limits for one usage tier, with where they come from. A limit left out is
    not known (never unlimited). ``tpm`` counts input tokens (cached ones too); ``cps`` is new
    calls per second (a carrier's outbound default)."""

    rpm: Count | None = Field(default=None, description="requests per minute")
    tpm: Count | None = Field(default=None, description="input tokens per minute")
    rpd: Count | None = Field(default=None, description="requests per day")
    concurrent_sessions: Count | None = None
    cps: Decimal | None = Field(default=None, gt=0, le=MAX_FACT,
                                description="new calls per second")
    source: str
    checked: date
    confidence: Confidence = "vendor"
    notes: str = ""

    _url = field_validator("source")(_source_url)

    @model_validator(mode="after")
    def _some(self) -> RateLimits:
        if all(getattr(self, m) is None for m in LIMIT_METRICS) and not self.notes:
            raise ValueError(f"give at least one of {', '.join(LIMIT_METRICS)}, or notes "
                             "saying why the tier has none")
        return self


class ModelEntry(_Strict):
    """One priced thing: a model, a telephony product, a GPU rental or a platform's fees."""

    id: str
    kind: Kind
    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    facts: ModelFacts = Field(default_factory=ModelFacts)
    selfhost: SelfHost | None = None
    deprecated: date | None = Field(default=None, description="shutdown date, if announced")
    successor: str | None = Field(default=None, description="catalog id of the model the "
                                  "vendor names as the replacement")
    legacy: bool = Field(default=False, description="superseded: still callable (until "
                         "`deprecated`, if set), no longer the vendor's current model")
    lifecycle_source: str | None = Field(default=None, description="URL of the shutdown date "
                                         "or legacy status")
    prices: list[PricePeriod] = Field(default_factory=list)
    limits: dict[str, RateLimits] = Field(default_factory=dict, description="rate limits by "
                                          "usage tier (e.g. tier-1, vertex-paygo), sourced")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id must look like 'provider/model' (lowercase), got {clip(v)!r}")
        return v

    @field_validator("successor")
    @classmethod
    def _successor_id(cls, v: str | None) -> str | None:
        if v is not None and not _ID.match(v):
            raise ValueError(f"successor must be a catalog id 'provider/model', got {clip(v)!r}")
        return v

    @field_validator("lifecycle_source")
    @classmethod
    def _lifecycle_url(cls, v: str | None) -> str | None:
        if v is not None and not _URL.match(v):
            raise ValueError(f"lifecycle_source must be an http(s) URL, got {clip(v)!r}")
        return v

    @model_validator(mode="after")
    def _history(self) -> ModelEntry:
        if not self.prices and self.selfhost is None:
            raise ValueError("an entry needs prices (or a selfhost block)")
        dates = [p.effective for p in self.prices]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("prices must be ordered by effective date, oldest first, "
                             "with no two on the same date")
        self._check_ends()
        if self.kind != "platform" and any(p.fees is not None for p in self.prices):
            raise ValueError("fees (monthly, per number, included minutes) belong to platform "
                             "entries; give a carrier's number rental its own platform entry")
        if self.successor == self.id:
            raise ValueError("an entry cannot be its own successor")
        return self

    def _check_ends(self) -> None:
        """A period that ends hands over to the next one the day after: what is charged once
        a promotion ends is always known, never a gap."""
        for i, period in enumerate(self.prices):
            if period.ends is None:
                continue
            after = self.prices[i + 1] if i + 1 < len(self.prices) else None
            next_day = period.ends + timedelta(days=1)
            if after is None:
                raise ValueError(f"the period from {period.effective} ends {period.ends} but "
                                 "no period follows it: add the price that applies after")
            if after.effective != next_day:
                raise ValueError(f"the period from {period.effective} ends {period.ends}, so "
                                 f"the next must take effect {next_day}, not {after.effective}")

    @property
    def provider(self) -> str:
        return self.id.split("/", 1)[0]

    def period_on(self, day: date) -> PricePeriod | None:
        """The price period in force on `day` (the last one that took effect by then)."""
        found = None
        for p in self.prices:
            if p.effective <= day:
                found = p
            else:
                break
        return found

    def period_after(self, period: PricePeriod) -> PricePeriod | None:
        """The period that follows `period` (one of `prices`), if any."""
        later = [p for p in self.prices if p.effective > period.effective]
        return later[0] if later else None

    def promotion_note(self, day: date) -> str | None:
        """'promotional until 2026-09-12; after: audio $0.0077/min' when the price in force
        on `day` is a promotion; None otherwise."""
        period = self.period_on(day)
        return None if period is None else self.promotion_text(period)

    def promotion_text(self, period: PricePeriod) -> str | None:
        """`promotion_note` for one of `prices`."""
        if not period.promotional:
            return None
        after = self.period_after(period)
        if period.ends is None or after is None:
            return "promotional (end not announced)"
        return f"promotional until {period.ends.isoformat()}; after: {after.headline()}"

    def lifecycle_note(self, day: date) -> str | None:
        """What `day` means for the model's availability: shut down, shutdown announced, or
        legacy; None for a current model with no shutdown date."""
        then = f" (successor: {self.successor})" if self.successor else ""
        if self.deprecated is not None:
            when = self.deprecated.isoformat()
            if day >= self.deprecated:
                return f"shut down on {when}{then}; priced at its last list price"
            return f"shutdown announced for {when}{then}"
        if self.legacy:
            return f"legacy model{then}"
        return None

    def checked_date(self, period: PricePeriod | None) -> date:
        """When `period` (one of `prices`) was checked; with none, the selfhost block's date
        (an entry without prices has that block)."""
        if period is not None:
            return period.checked
        assert self.selfhost is not None  # `_history` refuses an entry with neither
        return self.selfhost.checked


class CatalogFile(_Strict):
    """The top level of one ``pricing/*.yaml`` file."""

    provider: str
    description: str = ""
    models: list[dict[str, Any]] = Field(description="entries; validated one by one as ModelEntry")
