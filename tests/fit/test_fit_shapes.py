"""The fit's building blocks: seconds per turn, the call-length choice, the cache mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.errors import InputError
from costmodel.estimation.scenario import Duration
from costmodel.fit.cache import fit_cache
from costmodel.fit.durations import fit_duration, ks_threshold
from costmodel.fit.facts import SessionFacts
from costmodel.fit.models import ModelBook
from costmodel.fit.scenario_out import duration_value
from costmodel.fit.turns import MAX_SECONDS_PER_TURN, MIN_SECONDS_PER_TURN, seconds_per_turn


def responses(pairs: list[tuple[float, int]], spt: float, first: float | None = None) -> int:
    """The estimator's rule, as `Scenario.responses_per_call` applies it."""
    def one(seconds: int) -> int:
        if first is None:
            return max(1, int(seconds // spt))
        return max(1, int((seconds - first) // spt) + 1)
    return sum(one(math.ceil(s - 1e-9)) for s, _ in pairs)


def test_seconds_per_turn_gives_back_the_responses_seen():
    # 60 s with 3 responses, 90 s with 4: any turn in (18, 20] gives 3 + 4; the plain ratio
    # 150 / 7 = 21.4 s would give 2 + 4.
    v = seconds_per_turn([(60.0, 3), (90.0, 4)])
    assert v.value == pytest.approx(20.0, abs=1e-6) and v.sessions == 2
    assert responses([(60.0, 3), (90.0, 4)], v.value) == 7
    assert v.note.startswith("plain ratio 21.43 s; the rule gives 7 responses for the 7")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 20_000), st.integers(1, 400)), min_size=1,
                max_size=30), st.none() | st.floats(0, 60))
def test_seconds_per_turn_sits_on_the_step_nearest_the_responses_seen(pairs, first):
    v = seconds_per_turn(pairs, first=first).value
    assert MIN_SECONDS_PER_TURN <= v <= MAX_SECONDS_PER_TURN
    if MIN_SECONDS_PER_TURN < v < MAX_SECONDS_PER_TURN:
        target = sum(n for _, n in pairs)
        # Just below the value the rule gives at least the responses seen, just above at
        # most: no turn length comes closer.
        assert responses(pairs, v * (1 - 1e-6), first) >= target \
            >= responses(pairs, v * (1 + 1e-6), first)


def test_one_length_is_fixed_and_none_is_an_error():
    assert fit_duration([90.0]).chosen == "fixed"
    assert fit_duration([90.0, 90.0]).why == "all 2 lengths are equal"
    with pytest.raises(InputError, match="no session's length could be derived"):
        fit_duration([])


def test_few_lengths_keep_the_lognormal_of_their_mean_and_p95():
    d = fit_duration([300.0, 240.0, 420.0, 360.0, 180.0, 600.0])
    # Mean 35 min / 6; p95 between the two longest: 7 + 0.75 x (10 - 7) = 9.25 min.
    assert d.chosen == "lognormal"
    assert d.mean_min == pytest.approx(35 / 6) and d.p95_min == pytest.approx(9.25)
    assert "under 30 lengths the parametric form is kept" in d.why


def test_lognormal_lengths_stay_lognormal():
    lengths = np.random.default_rng(4).lognormal(math.log(240), 0.8, 3000)
    d = fit_duration(lengths.tolist())
    assert d.chosen == "lognormal", d.why
    assert d.ks_distance is not None and d.ks_threshold is not None
    assert d.ks_distance <= d.ks_threshold
    assert d.mean_min == pytest.approx(float(lengths.mean()) / 60)


def test_two_kinds_of_call_are_kept_as_they_are():
    # 150 one-minute calls and 150 of ten minutes: no lognormal looks like that.
    d = fit_duration([60.0] * 150 + [600.0] * 150)
    assert d.chosen == "empirical" and "past the 5% critical distance" in d.why
    assert d.minutes[:2] == (1.0, 1.0) and len(d.minutes) == 300


def test_lengths_too_spread_for_a_lognormal_by_mean_and_p95_are_empirical():
    # 90 one-minute calls and 10 of 100 minutes: mean 10.9, p95 100, p95 / mean 9.2 > 3.87.
    d = fit_duration([60.0] * 90 + [6000.0] * 10)
    assert d.chosen == "empirical" and d.why.startswith("empirical: no lognormal has")


def test_the_critical_distance_is_the_estimators_own():
    # 2,000 lognormal samples of 1,000 (sigma 0.93) fitted by mean and p95 put the 95th
    # percentile of their KS distance at 0.0723: far past Lilliefors' 0.886 / sqrt(1000)
    # = 0.028, which assumes the maximum-likelihood fit.
    assert ks_threshold(1000, 0.0, 0.93) == pytest.approx(0.0723, rel=0.15)
    # Past BOOTSTRAP_SIZE lengths it is scaled by sqrt(size / n), as the distance is.
    assert ks_threshold(8000, 0.0, 0.93) == pytest.approx(ks_threshold(2000, 0.0, 0.93) / 2)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(1, 86_400), min_size=1, max_size=60))
def test_whatever_the_lengths_the_scenario_takes_the_distribution(seconds):
    d = fit_duration(seconds)
    assert Duration.model_validate(duration_value(d, "lengths.csv"))
    assert len(d.minutes) == len(seconds)


def facts(**sums: float) -> list[SessionFacts]:
    return [SessionFacts("s", (("realtime", "openai/gpt-realtime-1.5"),), 60.0, "", sums)]


REALTIME = ModelBook().model("openai/gpt-realtime-1.5")


def test_every_response_hitting_part_of_its_prefix_is_a_share():
    # 10 of 10 eligible responses hit, each covering 60% of its previous input.
    hit, mode, problems = fit_cache(facts(eligible=10, hits=10, cover_sum=6, cover_n=10),
                                    REALTIME)
    assert (hit.value, mode, problems) == (pytest.approx(0.6), "share", [])


def test_partial_hits_among_misses_cannot_be_said_and_it_is_reported():
    hit, mode, problems = fit_cache(facts(eligible=10, hits=5, cover_sum=3, cover_n=5),
                                    REALTIME)
    assert (hit.value, mode) == (0.5, "per-response")
    (problem,) = problems
    assert problem.startswith("cache hits covered only 60% of their prefix")


def test_a_model_without_a_cached_rate_caches_nothing():
    gemini = ModelBook().model("google/gemini-3.8-live")
    hit, mode, _ = fit_cache(facts(eligible=5, hits=5, cover_sum=5, cover_n=5), gemini)
    assert hit.value == 0 and hit.sessions == 0 and "no cached-input rate" in hit.source
