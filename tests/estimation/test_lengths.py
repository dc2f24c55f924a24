"""Statistics over a histogram of call lengths equal those over every sampled call."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from costmodel.estimation import monthly, tables
from costmodel.estimation.lengths import Lengths, percentiles, weighted_mean_std
from costmodel.estimation.monthly import estimate
from costmodel.estimation.scenario import Scenario

DAY = date(2026, 11, 25)
QS = [0, 1, 5, 25, 50, 75, 95, 99, 99.9, 100]


def histogram_of(sampled: np.ndarray, cost_per_second: np.ndarray):
    lengths = Lengths.of(sampled)
    return lengths, cost_per_second[lengths.seconds]


@pytest.mark.parametrize("n", [1, 2, 3, 10, 999, 100_000])
def test_percentiles_equal_numpy_on_the_repeated_costs_exactly(n):
    rng = np.random.default_rng(n)
    sampled = rng.integers(1, 400, size=n)
    # Costs not monotonic in length, with ties between lengths: no shortcut through order.
    cost_per_second = np.round(rng.random(400) * 3, 2)
    lengths, costs = histogram_of(sampled, cost_per_second)
    assert percentiles(costs, lengths.counts, QS) == np.percentile(
        cost_per_second[sampled], QS).tolist()


def test_mean_and_std_equal_numpy_to_rounding():
    rng = np.random.default_rng(5)
    sampled = rng.integers(1, 86_401, size=200_000)
    cost_per_second = rng.lognormal(0, 1, 86_401)
    lengths, costs = histogram_of(sampled, cost_per_second)
    mean, std = weighted_mean_std(costs, lengths.counts, lengths.n)
    per_call = cost_per_second[sampled]
    assert mean == pytest.approx(per_call.mean(), rel=1e-13)
    assert std == pytest.approx(per_call.std(), rel=1e-12)


def test_lengths_count_every_sampled_call_once():
    lengths = Lengths.of(np.array([5, 1, 5, 86_400, 5]))
    assert lengths.seconds.tolist() == [1, 5, 86_400]
    assert lengths.counts.tolist() == [1, 3, 1]
    assert lengths.n == 5 and lengths.total_seconds() == 86_416


def scenario(calls: int, volume: float) -> Scenario:
    return Scenario.model_validate({
        "name": "t", "volume": {"calls_per_month": volume},
        "duration_min": {"lognormal": {"mean": 6, "p95": 18}},
        "prompt": {"system_tokens": 3000}, "cache": {"hit_ratio": 0.5},
        "stacks": ["openai/gpt-realtime-1.5", "xai/grok-voice-agent",
                   {"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini",
                    "tts": "cartesia/sonic-3", "telephony": "twilio/us-inbound"}],
        "simulation": {"calls": calls, "seed": 11}})


@pytest.mark.parametrize("volume", [700, 60_000])  # bootstrap months, normal approximation
def test_an_estimate_reports_the_statistics_of_its_per_call_costs(builtin, volume):
    est = estimate(scenario(20_000, volume), builtin, on=DAY, keep_samples=True)
    for r in est.results:
        costs = r.samples_usd
        p50, p95, p99 = np.percentile(costs, [50, 95, 99])
        assert (r.per_call_usd["p50"], r.per_call_usd["p95"], r.per_call_usd["p99"]) == (
            p50, p95, p99)
        assert r.per_call_usd["mean"] == pytest.approx(costs.mean(), rel=1e-13)
        seconds = monthly.sample_seconds(scenario(20_000, volume), 20_000,
                                         np.random.default_rng(11))
        assert r.per_minute_usd == pytest.approx(costs.sum() / (seconds / 60).sum(), rel=1e-13)
        assert r.mean_minutes == pytest.approx((seconds / 60).mean(), rel=1e-13)
        lo, hi = r.monthly_band_usd
        if volume > 2000:
            half = 1.6448536269514722 * costs.std() * np.sqrt(volume)
            assert (lo, hi) == pytest.approx((costs.mean() * volume - half,
                                              costs.mean() * volume + half), rel=1e-12)
        else:  # 400 bootstrap months of `volume` calls drawn from the samples
            idx = np.random.default_rng(12).integers(0, 20_000, size=(400, volume))
            assert (lo, hi) == tuple(np.percentile(costs[idx].sum(axis=1), [5, 95]))


def test_each_distinct_usage_is_priced_once(builtin, monkeypatch):
    """Responses past a truncation repeat, and so do per-call usages of calls with the same
    number of turns: pricing each once is what keeps the tables cheap."""
    priced = []

    def counting(usage):  # the cost tables report each usage they price here
        priced.append((usage.model, tuple(usage.tokens.items()), usage.connection_seconds,
                       usage.audio_seconds, usage.characters))

    monkeypatch.setattr(tables, "priced_once", counting)
    estimate(scenario(20_000, 60_000), builtin, on=DAY)
    assert len(priced) == len(set(priced))
