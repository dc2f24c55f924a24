"""How estimates move: sweeps over cache hit ratio and prompt size, and where truncation starts.

`sweep` re-runs `estimate` with one input changed at a time (the cache hit ratio, then the
prompt size), so a dashboard or a notebook can chart how each stack responds. Every point is
a full estimate on the same sampled calls (same seed), so differences between points are the
input's effect, not sampling noise.

`truncation_onset` says at which call length a stack's context stops growing: a re-billing
realtime model truncates its context past its truncation threshold, and a chained LLM's
history slides once it fills the context window. From there on every response costs about
the same, so cost per minute stops climbing with call length.

>>> from costmodel.estimation import Scenario
>>> sc = Scenario.model_validate({"name": "x", "volume": {"calls_per_month": 1000},
...     "duration_min": {"fixed": 10}, "prompt": {"system_tokens": 3000},
...     "stacks": ["openai/gpt-realtime-1.5", "xai/grok-voice-agent"]})
>>> pts = sweep(sc, hit_ratios=(0, 1), prompt_tokens=(), calls=100)
>>> [(p.stack, p.value) for p in pts]  # doctest: +NORMALIZE_WHITESPACE
[('openai/gpt-realtime-1.5', 0.0), ('xai/grok-voice-agent', 0.0),
 ('openai/gpt-realtime-1.5', 1.0), ('xai/grok-voice-agent', 1.0)]
>>> pts[2].monthly_usd < pts[0].monthly_usd, pts[3].monthly_usd == pts[1].monthly_usd
(True, True)
>>> truncation_onset("xai/grok-voice-agent", sc) is None      # billed by time: no context
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ..core.catalog import Catalog, default_catalog
from .monthly import estimate
from .scenario import MAX_CALL_MINUTES, Cache, Prompt, Scenario, ScenarioError, stack_id
from .simulate import build_stack
from .tables import TableCache


@dataclass(frozen=True)
class SweepPoint:
    """One stack's estimate with one input changed."""

    parameter: str       # "cache.hit_ratio" or "prompt_tokens"
    value: float
    stack: str
    monthly_usd: float
    per_minute_usd: float
    per_call_mean_usd: float


def with_hit_ratio(sc: Scenario, hit_ratio: float) -> Scenario:
    """A copy of `sc` with another cache hit ratio (validated: 0 to 1)."""
    cache = Cache.model_validate({**sc.cache.model_dump(), "hit_ratio": hit_ratio})
    return sc.model_copy(update={"cache": cache})


def with_prompt_tokens(sc: Scenario, tokens: int) -> Scenario:
    """A copy of `sc` whose system prompt + tools are `tokens` tokens (no system_file)."""
    prompt = Prompt.model_validate({**sc.prompt.model_dump(), "system_tokens": int(tokens),
                                    "system_file": None, "tool_tokens": 0})
    return sc.model_copy(update={"prompt": prompt})


def sweep(sc: Scenario, catalog: Catalog | None = None, *,
          hit_ratios: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
          prompt_tokens: Sequence[int] = (0, 1000, 2000, 4000, 8000),
          stacks: Sequence[str] | None = None, calls: int | None = None,
          on: date | None = None, cache: TableCache | None = None) -> list[SweepPoint]:
    """Estimate every stack at each hit ratio (prompt as in `sc`), then at each prompt size
    (hit ratio as in `sc`). `calls` overrides the number of simulated calls (fewer is faster;
    every point uses the same seed). Points share one `TableCache` (`cache`, or a fresh one):
    what does not read the changed input (a time-billed model, telephony, TTS) is priced once.
    """
    catalog = catalog or default_catalog()
    cache = cache or TableCache()
    day = on or date.today()
    variants = [("cache.hit_ratio", float(h), with_hit_ratio(sc, h)) for h in hit_ratios]
    variants += [("prompt_tokens", float(t), with_prompt_tokens(sc, t)) for t in prompt_tokens]
    return [SweepPoint(parameter, value, r.stack, r.monthly_usd, r.per_minute_usd,
                       r.per_call_usd["mean"])
            for parameter, value, variant in variants
            for r in estimate(variant, catalog, stacks=stacks, calls=calls, on=day,
                              cache=cache).results]


def _input_tokens(usage) -> int:
    return usage.input_tokens if usage is not None else 0


def truncation_onset(stack: str, sc: Scenario, catalog: Catalog | None = None, *,
                     max_minutes: float = MAX_CALL_MINUTES, on: date | None = None
                     ) -> float | None:
    """The call length (minutes) at which `stack`'s context first stops growing, or None.

    Looks at the components billed per response with a growing context (a re-billing
    realtime model, a chained LLM): the first response whose input grows less than the
    previous one's did marks truncation (or a sliding window). None when no component's
    context grows, or when it does not stop within `max_minutes`.
    """
    catalog = catalog or default_catalog()
    day = on or date.today()
    if not 0 < max_minutes <= MAX_CALL_MINUTES:
        raise ScenarioError(f"max minutes must be in (0, {MAX_CALL_MINUTES}]")
    wanted = next((s for s in sc.stacks if stack_id(s) == stack), stack)
    model = build_stack(wanted, sc, catalog, day)
    growing = [c for c in model.components
               if c.role == "llm" or (c.role == "realtime"
                                      and catalog.get(c.model).facts.rebills_context)]
    last = sc.responses_per_call(max_minutes * 60)
    onset = None
    for comp in growing:
        # Until truncation the context grows by the same amount every response (the last
        # turn's speech or text); the first smaller step marks where it stops growing.
        prev, step = _input_tokens(comp.response_usage(1)), None
        for k in range(2, last + 1):
            cur = _input_tokens(comp.response_usage(k))
            if cur <= prev or (step is not None and cur - prev < step):
                minutes = sc.turns.response_at_s(k) / 60
                onset = minutes if onset is None else min(onset, minutes)
                break
            prev, step = cur, cur - prev
    return onset
