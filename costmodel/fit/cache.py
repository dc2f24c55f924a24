"""Prompt caching as sessions show it: per response, a hit or a miss.

A provider's prefix cache serves a request's prefix when it has seen it recently, in whole
increments (OpenAI: 128 tokens past the first 1,024): a hit covers nearly all of the previous
request's input, a miss none. So each response after the first is counted as *eligible* when
its reusable prefix (the previous input; after a truncation only the system prompt, as the
estimator has it) is at least the model's minimum, and as a *hit* when it reports any cached
tokens. The hit ratio is hits / eligible responses over all sessions; the *coverage* of a hit
is its cached tokens / the previous input rounded down to the increment.

That is the scenario's ``cache: {hits: per-response}``. When every response hits but covers
only part of its prefix (coverage under 0.9), what the sessions show is a share of each
prefix, ``hits: share`` with the mean coverage, and that is written instead.

>>> from collections import defaultdict
>>> from costmodel.fit.models import ModelBook
>>> m = ModelBook().model("openai/gpt-realtime-1.5")     # 1,024-token minimum, 128 increment
>>> sums = defaultdict(float)
>>> count_response(sums, m, prefix=2000, cached=1920)     # a hit: 1920 / 1920
>>> count_response(sums, m, prefix=2500, cached=0)        # a miss
>>> count_response(sums, m, prefix=900, cached=0)         # below the minimum: not eligible
>>> dict(sums)
{'eligible': 2.0, 'hits': 1.0, 'cover_sum': 1.0, 'cover_n': 1.0}
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence

from .facts import FittedValue, SessionFacts, assumed, ratio
from .models import ModelFacts

#: Mean coverage below which a hit is "part of the prefix", not "the prefix".
WHOLE_PREFIX = 0.9
#: Share of eligible responses that hit, from which "every response hits" is said.
EVERY_RESPONSE = 0.95


def count_response(sums: MutableMapping[str, float], model: ModelFacts, *, prefix: int,
                   cached: int, measure: bool = True) -> None:
    """Count one response after a session's first (`measure`: whether its coverage is a
    fair measure, i.e. the prefix is the previous input, not a truncated one)."""
    if not model.can_cache or prefix < max(model.min_prefix, 1):
        return
    sums["eligible"] += 1
    if cached > 0:
        sums["hits"] += 1
        base = prefix // model.increment * model.increment
        if measure and base > 0:
            sums["cover_sum"] += cached / base
            sums["cover_n"] += 1


def fit_cache(facts: Sequence[SessionFacts], model: ModelFacts
              ) -> tuple[FittedValue, str, list[str]]:
    """(``cache.hit_ratio``, ``cache.hits`` mode, what the scenario cannot say)."""
    if not model.can_cache:
        return assumed(0.0, f"{model.id} has no cached-input rate: nothing is billed as "
                       "cached"), "per-response", []
    hit = ratio(facts, "hits", "eligible", source="responses after the first with any "
                "cached tokens / those whose prefix the cache could serve")
    if not hit.sessions:
        return assumed(0.0, f"no response was eligible (every prefix under the "
                       f"{model.min_prefix}-token minimum)"), "per-response", []
    cover = ratio(facts, "cover_sum", "cover_n", source="")
    if not cover.sessions:
        return hit, "per-response", []
    said = (f"a hit covered {cover.value:.1%} of the previous input on average "
            f"(rounded down to {model.increment} tokens; spread {cover.spread or 0:.3f})")
    if cover.value >= WHOLE_PREFIX:
        return FittedValue(hit.value, hit.spread, hit.sessions, hit.source, said), \
            "per-response", []
    if hit.value >= EVERY_RESPONSE:
        share = FittedValue(hit.value * cover.value, cover.spread, hit.sessions,
                            "mean share of each eligible prefix served from cache "
                            "(every response hit, each covering part of its prefix)", said)
        return share, "share", []
    problem = (f"cache hits covered only {cover.value:.0%} of their prefix while "
               f"{1 - hit.value:.0%} of responses missed; the scenario has either whole-prefix "
               "hits (per-response) or a share of every prefix, not both: written as "
               "per-response, which overstates the cached tokens of a hit")
    return FittedValue(hit.value, hit.spread, hit.sessions, hit.source, said), \
        "per-response", [problem]
