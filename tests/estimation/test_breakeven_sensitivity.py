"""Library pieces added for the dashboard: per-call samples, break-even, sweeps, truncation."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from costmodel import CostModelError
from costmodel.estimation.breakeven import break_even
from costmodel.estimation.monthly import StackEstimate, estimate
from costmodel.estimation.scenario import Scenario
from costmodel.estimation.sensitivity import (
    sweep,
    truncation_onset,
    with_hit_ratio,
    with_prompt_tokens,
)

DAY = date(2026, 11, 25)
RT, FLAT = "openai/gpt-realtime-1.5", "xai/grok-voice-agent"


def scenario(**over) -> Scenario:
    data = {"name": "t", "volume": {"calls_per_month": 60000},
            "duration_min": {"lognormal": {"mean": 6, "p95": 18}},
            "prompt": {"system_tokens": 3000, "tool_tokens": 1000}, "cache": {"hit_ratio": 0.5},
            "stacks": [RT, FLAT], "simulation": {"calls": 5000, "seed": 3}}
    data.update(over)
    return Scenario.model_validate(data)


def api(mean_usd: float, minutes: float = 6.0) -> StackEstimate:
    return StackEstimate("api/x", 1, {"mean": mean_usd}, mean_usd / minutes, 0.0, (0.0, 0.0),
                         [], mean_minutes=minutes)


# ---- estimate(keep_samples=True) ---------------------------------------------------------------

def test_samples_are_kept_only_when_asked(builtin):
    plain = estimate(scenario(), builtin, on=DAY)
    kept = estimate(scenario(), builtin, on=DAY, keep_samples=True)
    assert all(r.samples_usd is None for r in plain.results)
    for p, k in zip(plain.results, kept.results, strict=True):
        assert k.samples_usd.shape == (5000,)
        assert k.per_call_usd == p.per_call_usd  # keeping them changes nothing else
        assert float(k.samples_usd.mean()) == pytest.approx(k.per_call_usd["mean"], rel=1e-12)
        assert float(np.percentile(k.samples_usd, 95)) == pytest.approx(k.per_call_usd["p95"])


# ---- break-even --------------------------------------------------------------------------------

def flat(calls: float = 72_000, stacks=("toy/open-model",), **over) -> Scenario:
    """Flat traffic, 6-minute calls: calls / 720 an hour x 6 / 60 in progress (10 at 72,000)."""
    data = {"name": "flat", "volume": {"calls_per_month": calls, "hourly_profile": "flat"},
            "duration_min": {"fixed": 6}, "stacks": list(stacks),
            "simulation": {"calls": 1000, "seed": 3}}
    data.update(over)
    return Scenario.model_validate(data)


def test_break_even_by_hand(toy):
    # toy/open-model: 2 x toy/gpu at $2.40/h, 8 sessions per deployment: $3,504 a month
    # always on. 72,000 calls of 6 min, flat: 10 in progress, P99 18 (Poisson(10)), so
    # ceil(18 / 8) = 3 deployments = $10,512 at the scenario's volume. At low volume one
    # deployment serves (P99 <= 8), so at $0.60 a call self-hosting is first no dearer at
    # $3,504 / $0.60 = 5,840 calls (P99 at 0.81 in progress is 4).
    be = break_even(flat(), "toy/open-model", api(0.60), toy, on=DAY)
    assert be.deployment_usd_per_month == pytest.approx(2 * 2.40 * 730)     # $3,504
    assert be.selfhost_fleet_usd == pytest.approx(3 * 3504)                 # $10,512
    assert "3 x 2 toy/gpu" in be.basis and "P99 18 concurrent" in be.basis
    assert be.deployments(72_000) == 3 and be.deployments(1) == 1
    assert be.selfhost_monthly_usd(1) == pytest.approx(3504)  # always on: never below one
    assert be.first_calls_per_month == pytest.approx(3504 / 0.60, rel=1e-6)  # 5,840


@pytest.mark.parametrize("mean_usd", [0.065, 0.08, 0.13, 0.2, 0.6, 3.0])
def test_break_even_is_where_self_hosting_stays_cheaper(toy, mean_usd):
    be = break_even(flat(), "toy/open-model", api(mean_usd), toy, on=DAY)
    assert be.calls_per_month is not None
    grid = np.geomspace(1, 50 * be.calls_per_month, 4000)
    dearer = [v for v in grid if be.selfhost_monthly_usd(v) > be.api_monthly_usd(v) + 1e-9]
    assert not dearer or max(dearer) < be.calls_per_month  # never dearer from it on ...
    just_before = be.calls_per_month * (1 - 1e-7)
    assert be.selfhost_monthly_usd(just_before) > be.api_monthly_usd(just_before)  # ... the least
    assert be.first_calls_per_month <= be.calls_per_month


def test_break_even_never_when_the_api_is_cheaper(toy):
    # However large, a deployment serves at most 8 x 730 h x 60 / 6 min = 58,400 calls a
    # month: at least $3,504 / 58,400 = $0.06 a call, above the API's $0.01.
    be = break_even(flat(), "toy/open-model", api(0.01), toy, on=DAY)
    assert be.first_calls_per_month is None and be.calls_per_month is None


def test_break_even_needs_a_self_host_model(toy):
    with pytest.raises(CostModelError, match="not a self-hosted model"):
        break_even(flat(), "toy/gpu", api(1.0), toy, on=DAY)


def test_break_even_prices_self_hosting_as_the_estimate_does(builtin):
    sc = flat(stacks=["selfhost/moshi", FLAT])
    moshi, xai = estimate(sc, builtin, on=DAY).results
    be = break_even(sc, "selfhost/moshi", xai, builtin, on=DAY)
    assert be.api_usd_per_call == pytest.approx(xai.per_call_usd["mean"])
    assert be.selfhost_fleet_usd == pytest.approx(moshi.monthly_usd)  # one price
    assert be.selfhost_monthly_usd(72_000) == pytest.approx(moshi.monthly_usd)
    assert be.basis == moshi.selfhost_basis


# ---- sweeps ------------------------------------------------------------------------------------

def test_sweep_moves_the_right_stacks(builtin):
    pts = sweep(scenario(), builtin, hit_ratios=(0, 0.5, 1), prompt_tokens=(1000, 8000),
                calls=2000, on=DAY)
    by = {(p.parameter, p.value, p.stack): p.monthly_usd for p in pts}
    assert by[("cache.hit_ratio", 0, RT)] > by[("cache.hit_ratio", 0.5, RT)] > \
        by[("cache.hit_ratio", 1, RT)]
    assert by[("cache.hit_ratio", 0, FLAT)] == by[("cache.hit_ratio", 1, FLAT)]
    assert by[("prompt_tokens", 8000, RT)] > by[("prompt_tokens", 1000, RT)]
    assert by[("prompt_tokens", 8000, FLAT)] == by[("prompt_tokens", 1000, FLAT)]


def test_scenario_copies(tmp_path):
    (tmp_path / "p.txt").write_text("hello " * 50, encoding="utf-8")
    sc = scenario(prompt={"system_file": "p.txt", "tool_tokens": 10})
    sc._base_dir = str(tmp_path)
    assert sc.system_tokens() > 10
    assert with_prompt_tokens(sc, 777).system_tokens() == 777
    assert with_hit_ratio(sc, 0.25).cache.hit_ratio == 0.25
    assert with_hit_ratio(sc, 0.25).resolve_path("p.txt") == tmp_path / "p.txt"
    with pytest.raises(ValueError):
        with_hit_ratio(sc, 1.5)


# ---- truncation onset --------------------------------------------------------------------------

def test_truncation_onset_by_hand(builtin):
    sc = scenario()
    facts = builtin.get(RT).facts
    u = 5 * facts.audio_tokens_per_second_in    # user audio per turn
    a = 7 * facts.audio_tokens_per_second_out   # agent audio per turn
    # Response k sends 4,000 + (k-1)(u + a) + u tokens; the first one past the threshold
    # is truncated.
    k = next(k for k in range(1, 10_000)
             if 4000 + (k - 1) * (u + a) + u > facts.truncation_threshold_tokens)
    assert truncation_onset(RT, sc, builtin, on=DAY) == pytest.approx(k * 15 / 60)
    assert truncation_onset(RT, sc, builtin, max_minutes=10, on=DAY) is None
    assert truncation_onset(FLAT, sc, builtin, on=DAY) is None


def test_truncation_onset_of_a_chained_llm_window(builtin):
    llm = next(e for e in builtin.select(kind="llm") if e.facts.context_window_tokens)
    stack = {"stt": "deepgram/nova-3", "llm": llm.id, "tts": "cartesia/sonic-3"}
    sc = scenario(stacks=[stack])
    onset = truncation_onset(f"deepgram/nova-3+{llm.id}+cartesia/sonic-3", sc, builtin,
                             on=DAY)
    # 4,000 system tokens plus (5 + 7) s x 3.5 tokens/s of history a turn fill the window.
    turns = (llm.facts.context_window_tokens - 4000) / (12 * 3.5)
    assert onset is None or math.isclose(onset, round(turns) * 15 / 60, rel_tol=0.05)
