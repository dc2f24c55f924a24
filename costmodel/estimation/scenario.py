"""A scenario: call volume, call-length distribution, turn timing, prompt, cache, and stacks.

Scenario files are YAML validated with pydantic; errors name the file, line and key. The keys
below are a contract (extensions are marked)::

    name: support-line
    volume: {calls_per_month: 60000}        # or {calls_per_day: 2000, days_per_month: 30}
    duration_min: {fixed: 6}                # or {lognormal: {mean: 6, p95: 18}}
                                            # or {empirical: durations.csv} (minutes per line)
    turns: {seconds_per_turn: 15, user_speech_s: 5, agent_speech_s: 7,
            agent_text_tokens_per_s: 3.5}
    prompt: {system_tokens: 3000, tool_tokens: 0}    # or system_file: prompt.txt
    cache: {hit_ratio: 0.0}                  # extension: hits: per-response
    policies: {max_call_minutes: 20,          # extension: what the guard does to calls
               ladder: [{at_usd: 0.50, max_output_tokens: 300}]}
    stacks:
      - openai/gpt-realtime-1.5
      - {stt: deepgram/nova-3, llm: openai/gpt-5.4-mini, tts: cartesia/sonic-3,
         telephony: twilio/us-inbound}

>>> s = Scenario.model_validate({"name": "x", "volume": {"calls_per_month": 10},
...     "duration_min": {"fixed": 6}, "stacks": ["openai/gpt-realtime-1.5"]})
>>> s.responses_per_call(360)
24
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .._files import SCENARIO_LIMIT, TEXT_LIMIT, read_text
from .._yamlmarks import line_of, load_with_marks
from ..errors import CatalogError, ScenarioError
from .stacks import ChainedStack, Platform
from .stacks import stack_id as stack_id  # (re-exported: the scenario's stacks' ids)
from .stacks import stack_platforms as stack_platforms


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_CALL_MINUTES = 24 * 60  # a longer "call" is a data error, and would make tables huge
MAX_CALLS_PER_MONTH = 1e10  # more calls a month than people on Earth: a typo, not a volume
MAX_PROMPT_TOKENS = 10_000_000  # five times the largest context window on the market

# Numbers are strict: YAML reads `true` as a boolean, and lax validation would take it as 1.
# Floats are finite: YAML's `.inf` (and 1.0e+400, which overflows to it) would otherwise
# reach the tables as Infinity.
class _FloatField(TypedDict):
    strict: bool
    allow_inf_nan: bool


class _IntField(TypedDict):
    strict: bool


_FLOAT: _FloatField = {"strict": True, "allow_inf_nan": False}
_INT: _IntField = {"strict": True}


class Volume(_Strict):
    calls_per_month: float | None = Field(default=None, gt=0, le=MAX_CALLS_PER_MONTH,
                                          **_FLOAT)
    calls_per_day: float | None = Field(default=None, gt=0, le=MAX_CALLS_PER_MONTH, **_FLOAT)
    days_per_month: float = Field(default=30, gt=0, le=31, **_FLOAT)
    # Extensions (capacity, `costmodel.estimation.traffic`): the day's shape and its peak.
    hourly_profile: Literal["business-hours", "flat", "evening-peak"] | list[float] = Field(
        default="business-hours", description="24 weights (hour 0 = midnight, local), or a "
        "named profile: business-hours, flat, evening-peak")
    peak_factor: float = Field(default=1.0, ge=1, le=100, **_FLOAT, description="the busy "
                               "day's calls over an average day's")

    @model_validator(mode="after")
    def _one(self) -> Volume:
        if (self.calls_per_month is None) == (self.calls_per_day is None):
            raise ValueError("give calls_per_month, or calls_per_day (with days_per_month)")
        profile = self.hourly_profile
        if not isinstance(profile, str) and (
                len(profile) != 24 or not all(math.isfinite(w) and w >= 0 for w in profile)
                or sum(profile) <= 0):
            raise ValueError("hourly_profile: give 24 weights >= 0 (not all 0), or one of "
                             "business-hours, flat, evening-peak")
        if self.monthly_calls > MAX_CALLS_PER_MONTH:
            raise ValueError(f"calls_per_day x days_per_month must be at most "
                             f"{MAX_CALLS_PER_MONTH:.0e} calls a month")
        return self

    @property
    def monthly_calls(self) -> float:
        if self.calls_per_month is not None:
            return self.calls_per_month
        assert self.calls_per_day is not None  # `_one`: exactly one of the two is given
        return self.calls_per_day * self.days_per_month


class Lognormal(_Strict):
    """Call length by its mean and 95th percentile (minutes), the way people quote it."""

    mean: float = Field(gt=0, le=MAX_CALL_MINUTES, **_FLOAT)
    p95: float = Field(gt=0, **_FLOAT)

    @model_validator(mode="after")
    def _shape(self) -> Lognormal:
        if self.p95 <= self.mean:
            raise ValueError("p95 must be greater than mean for a lognormal call length")
        self.sigma  # noqa: B018 - raises when no lognormal has this mean and p95
        return self

    @property
    def sigma(self) -> float:
        # mean = exp(mu + s^2/2), p95 = exp(mu + z s)  =>  s^2/2 - z s + ln(p95/mean) = 0
        z = 1.6448536269514722
        disc = z * z - 2 * math.log(self.p95 / self.mean)
        if disc < 0:
            raise ValueError(f"no lognormal has mean {self.mean} and p95 {self.p95}: "
                             f"p95/mean must be at most {math.exp(z * z / 2):.2f}")
        return z - math.sqrt(disc)

    @property
    def mu(self) -> float:
        return math.log(self.mean) - self.sigma ** 2 / 2


class Duration(_Strict):
    """Exactly one of fixed / lognormal / empirical, in minutes."""

    fixed: float | None = Field(default=None, gt=0, le=MAX_CALL_MINUTES, **_FLOAT)
    lognormal: Lognormal | None = None
    empirical: str | None = Field(default=None, description="CSV file: one length in minutes "
                                  "per line, relative to the scenario file")

    @model_validator(mode="after")
    def _one(self) -> Duration:
        given = [k for k in ("fixed", "lognormal", "empirical") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of fixed, lognormal, empirical (got "
                             f"{', '.join(given) or 'none'})")
        return self


class Turns(_Strict):
    seconds_per_turn: float = Field(default=15, ge=1, le=3600, **_FLOAT,
                                    description="one user + one agent turn")
    user_speech_s: float = Field(default=5, ge=0, le=3600, **_FLOAT)
    agent_speech_s: float = Field(default=7, ge=0, le=3600, **_FLOAT)
    agent_text_tokens_per_s: float = Field(default=3.5, ge=0, le=1000, **_FLOAT)
    # Extensions:
    user_text_tokens_per_s: float | None = Field(
        default=None, ge=0, le=1000, **_FLOAT, description="transcript tokens per second of "
        "user speech (chained LLM input); default: agent_text_tokens_per_s")
    characters_per_s: float = Field(default=15, ge=0, le=1000, **_FLOAT,
                                    description="TTS characters per second of agent speech "
                                    "(~150 words/min)")
    first_response_s: float | None = Field(
        default=None, ge=0, le=3600, **_FLOAT, description="seconds from the call's start to "
        "the agent's first answer (the user's first utterance + the model's latency); later "
        "answers come every seconds_per_turn. Default: seconds_per_turn")

    @model_validator(mode="after")
    def _fits(self) -> Turns:
        if self.user_speech_s + self.agent_speech_s > self.seconds_per_turn:
            raise ValueError("user_speech_s + agent_speech_s must fit in seconds_per_turn")
        return self

    @property
    def first_s(self) -> float:
        """When the first answer comes, in seconds from the call's start."""
        return self.seconds_per_turn if self.first_response_s is None else self.first_response_s

    def responses(self, call_seconds: np.ndarray) -> np.ndarray:
        """`Scenario.responses_per_call` over an array of call lengths (int64)."""
        t = self.seconds_per_turn
        if self.first_response_s is None:  # (the historical rule, to the same float rounding)
            n = call_seconds // t
        else:
            n = (call_seconds - self.first_response_s) // t + 1
        return np.maximum(1, n).astype(np.int64)

    def response_at_s(self, k: int) -> float:
        """When answer k (1, 2, ...) comes, in seconds from the call's start."""
        return self.first_s + (k - 1) * self.seconds_per_turn

    @property
    def user_tokens_per_s(self) -> float:
        if self.user_text_tokens_per_s is not None:
            return self.user_text_tokens_per_s
        return self.agent_text_tokens_per_s


class Prompt(_Strict):
    system_tokens: int | None = Field(default=None, ge=0, le=MAX_PROMPT_TOKENS, **_INT)
    system_file: str | None = None
    tool_tokens: int = Field(default=0, ge=0, le=MAX_PROMPT_TOKENS, **_INT)
    encoding: str = "o200k_base"

    @model_validator(mode="after")
    def _one(self) -> Prompt:
        if self.system_tokens is not None and self.system_file is not None:
            raise ValueError("give system_tokens or system_file, not both")
        return self


class Cache(_Strict):
    """How much of each response's reusable prefix is billed at the cached rate.

    ``hits: share`` (default): every eligible prefix is ``hit_ratio`` cached, the system
    prompt first. ``hits: per-response``: each response after the first either hits (its
    whole eligible prefix is cached) with probability ``hit_ratio`` or misses (nothing is),
    which is how provider caches behave and what recorded sessions show; the two price
    differently because the prefix starts with the system text, which may be cheaper than the
    rest (`costmodel.estimation.simulate`).
    """

    hit_ratio: float = Field(default=0.0, ge=0, le=1, **_FLOAT)
    hits: Literal["share", "per-response"] = Field(
        default="share", description="share: each prefix is hit_ratio cached; per-response: "
        "hit_ratio of the responses hit their whole prefix, the rest miss")
    # Extension: which TTL a chained LLM's explicit cache writes use (Anthropic 5m or 1h).
    write_ttl: Literal["5m", "1h"] = "5m"


class Truncation(_Strict):
    """Extension: what a re-billing realtime model keeps when the context overflows."""

    retention_ratio: float = Field(default=1.0, gt=0, le=1, **_FLOAT)


class PolicyStep(_Strict):
    """Extension: a ladder step (`costmodel.estimation.policies`): from the answer at which a
    call's realtime spend reaches ``at_usd``, replies are cut at ``max_output_tokens``, or a
    truncation keeps ``retention_ratio`` of the threshold."""

    at_usd: float = Field(gt=0, le=1_000_000, **_FLOAT)
    max_output_tokens: int | None = Field(default=None, ge=1, le=1_000_000, **_INT)
    retention_ratio: float | None = Field(default=None, gt=0, le=1, **_FLOAT)

    @model_validator(mode="after")
    def _one(self) -> PolicyStep:
        if (self.max_output_tokens is None) == (self.retention_ratio is None):
            raise ValueError("a step sets max_output_tokens or retention_ratio (one)")
        return self


class Policies(_Strict):
    """Extension: what the budget guard does to calls, as the estimate should count it: calls
    ended at ``max_call_minutes``, and ladder steps past a spend."""

    max_call_minutes: float | None = Field(default=None, gt=0, le=MAX_CALL_MINUTES, **_FLOAT)
    ladder: tuple[PolicyStep, ...] = Field(default=(), max_length=20)


class SelfHost(_Strict):
    """Extension: how a self-hosted stack is priced (`costmodel.estimation.selfhost`). Default
    (``utilisation`` unset): the always-on fleet sized for the busy hour's P99 concurrency
    (730 h a month). ``utilisation: U``: the autoscaled fleet, each hour of an average day
    ceil(mean calls in progress / (sessions per deployment x U)) deployments."""

    utilisation: float | None = Field(default=None, gt=0, le=1, **_FLOAT)


MAX_SIMULATED_CALLS = 20_000_000  # ~0.5 GB of float64 per array; more adds no precision


class Simulation(_Strict):
    """Extension: Monte Carlo settings."""

    calls: int = Field(default=100_000, ge=1, le=MAX_SIMULATED_CALLS, **_INT)
    seed: int = Field(default=42, ge=0, le=2**63 - 1, **_INT)


class Scenario(_Strict):
    name: str
    description: str = ""
    assumptions: str = Field(default="", description="where the numbers come from")
    volume: Volume
    duration_min: Duration
    turns: Turns = Field(default_factory=Turns)
    prompt: Prompt = Field(default_factory=Prompt)
    cache: Cache = Field(default_factory=Cache)
    truncation: Truncation = Field(default_factory=Truncation)
    policies: Policies = Field(default_factory=Policies)
    platform: Platform = Field(default_factory=Platform)
    selfhost: SelfHost = Field(default_factory=SelfHost)
    stacks: list[str | ChainedStack] = Field(min_length=1)
    simulation: Simulation = Field(default_factory=Simulation)
    # Where the scenario was read from: relative paths resolve there, errors name it.
    _file: str = PrivateAttr(default="")
    _base_dir: str = PrivateAttr(default=".")

    def responses_per_call(self, call_seconds: float) -> int:
        """Answers in a call: one at ``turns.first_response_s``, then one every
        ``seconds_per_turn`` (floor((T - first) / turn) + 1, at least 1). Without
        ``first_response_s`` the first answer ends the first whole turn: floor(T / turn).

        Sessions show why the first answer matters (issue 14): it comes a few seconds into
        the call, after the user's first utterance, not a whole turn in, so a call holds
        about T / turn + 1/2 - first / turn answers, not T / turn - 1/2."""
        t = self.turns
        if t.first_response_s is None:
            return max(1, int(call_seconds // t.seconds_per_turn))
        return max(1, int((call_seconds - t.first_response_s) // t.seconds_per_turn) + 1)

    def system_tokens(self) -> int:
        """System prompt + tool tokens; a ``system_file`` is counted with tiktoken (offline)."""
        if self.prompt.system_file is None:
            return (self.prompt.system_tokens or 0) + self.prompt.tool_tokens
        path = self.resolve_path(self.prompt.system_file)
        text = read_text(path, limit=TEXT_LIMIT, fail=lambda msg: ScenarioError(
            f"system_file {str(path)!r}: {msg}", path=self.file, key="prompt.system_file"))
        from ..core.tokens import count_tokens
        from ..errors import EncodingUnavailableError

        try:
            return count_tokens(text, self.prompt.encoding) + self.prompt.tool_tokens
        except EncodingUnavailableError as exc:
            raise ScenarioError(str(exc), path=self.file, key="prompt.encoding") from None

    def resolve_path(self, name: str) -> Path:
        p = Path(name)
        return p if p.is_absolute() else Path(self._base_dir) / p

    @property
    def file(self) -> str | None:
        return self._file or None


def default_scenario() -> Scenario:
    """The built-in defaults: 15 s turns (5 s user, 7 s agent speech), 3.5 text tokens/s,
    a 3,000-token system prompt, no caching, 6-minute calls."""
    return Scenario.model_validate({
        "name": "defaults", "volume": {"calls_per_month": 10_000},
        "duration_min": {"fixed": 6}, "prompt": {"system_tokens": 3000},
        "stacks": ["openai/gpt-realtime-1.5"]})


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file. Errors name the file, line and key."""
    path = Path(path)
    text = read_text(path, limit=SCENARIO_LIMIT,
                     fail=lambda msg: ScenarioError(msg, path=str(path)))
    try:
        data, node = load_with_marks(text, str(path))
    except CatalogError as exc:  # the YAML loader's error: keep its line
        raise ScenarioError(str(exc).split(": ", 1)[-1], path=str(path), line=exc.line) from None
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a YAML mapping (name:, volume:, ...)", path=str(path))
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A stack given as a mapping fails both union branches; the str branch's complaint
        # ("should be a valid string") is never the useful one.
        err = next((e for e in errors if any("ChainedStack" in str(p) for p in e["loc"])),
                   errors[0])
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (
            p == "str" or "ChainedStack" in p)))
        key = ".".join(str(p) for p in loc)
        raise ScenarioError(err["msg"], path=str(path), line=line_of(node, loc),
                            key=key or None) from None
    sc._file, sc._base_dir = str(path), str(path.parent)
    return sc
