"""Capacity: traffic, busy-hour concurrency, requests and tokens per minute, limits, GPUs."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from costmodel.estimation import Scenario
from costmodel.estimation.capacity import capacity, selfhost_fleet
from costmodel.estimation.erlang import erlang_c
from costmodel.estimation.monthly import sample_seconds
from costmodel.estimation.traffic import PROFILES, profile_weights

ON = date(2026, 11, 25)
CHAINED = {"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini", "tts": "cartesia/sonic-3"}


def _sc(volume: dict[str, Any], duration: dict[str, Any], stacks: list[Any],
        **extra: Any) -> Scenario:
    return Scenario.model_validate({"name": "t", "volume": volume, "duration_min": duration,
                                    "stacks": stacks, **extra})


def test_named_profiles_have_24_hours_and_a_busy_hour_share() -> None:
    for name, weights in PROFILES.items():
        assert len(weights) == 24, name
    shares = {name: float(profile_weights(name).max()) for name in PROFILES}
    assert shares["flat"] == pytest.approx(1 / 24)
    assert 0.10 <= shares["business-hours"] <= 0.15   # issue 13: 10-15 % in the busy hour
    assert 0.10 <= shares["evening-peak"] <= 0.15


def test_scenario_defaults_and_bad_profiles() -> None:
    sc = _sc({"calls_per_month": 10}, {"fixed": 6}, ["xai/grok-voice-agent"])
    assert sc.volume.hourly_profile == "business-hours"
    assert sc.volume.peak_factor == 1.0 and sc.volume.days_per_month == 30
    for bad in ([1.0] * 23, [0.0] * 24, [-1.0] + [1.0] * 23, "weekends"):
        with pytest.raises(ValueError):
            _sc({"calls_per_month": 10, "hourly_profile": bad}, {"fixed": 6}, ["a/b"])


def test_flat_profile_concurrency_is_calls_per_hour_times_mean_length() -> None:
    # 72,000 calls a month over 30 days = 2,400 a day; flat: 100 calls an hour. Fixed 6-minute
    # calls: 100 x 6 / 60 = 10 calls in progress, in every hour.
    sc = _sc({"calls_per_month": 72_000, "hourly_profile": "flat"}, {"fixed": 6},
             ["xai/grok-voice-agent"])
    rep = capacity(sc, on=ON, calls=1000)
    assert rep.concurrency_by_hour == pytest.approx([10.0] * 24, rel=1e-9)
    busy = rep.results[0].busy_hour
    assert busy.calls == pytest.approx(100.0)
    assert busy.mean_concurrent == pytest.approx(10.0)
    assert busy.p99_concurrent == 18            # Poisson(10): P(X <= 18) = 0.9928
    assert busy.connection_minutes == pytest.approx(600.0)
    # peak_factor scales the busy day: 1.5 x 10 = 15 in progress
    sc15 = _sc({"calls_per_month": 72_000, "hourly_profile": "flat", "peak_factor": 1.5},
               {"fixed": 6}, ["xai/grok-voice-agent"])
    assert capacity(sc15, on=ON, calls=1000).results[0].busy_hour.mean_concurrent == \
        pytest.approx(15.0)


def test_tpm_at_a_fixed_call_shape_turn_by_turn() -> None:
    # 1-minute calls, one a minute (43,200 a month over 30 days = 1,440 a day, flat), so one
    # call in progress on average. Turns of 15 s: 60 // 15 = 4 responses per call, at ages
    # 0, 15, 30 and 45 s. System prompt S = 1,000 tokens, no cache; the user says
    # U = 5 s x 2 tokens/s = 10 tokens and the agent O = 7 s x 2 tokens/s = 14 tokens a turn.
    # The LLM's request k sends the whole history, S + (k - 1)(U + O) + U:
    #   k=1: 1000 + 0 + 10  = 1,010
    #   k=2: 1000 + 24 + 10 = 1,034
    #   k=3: 1000 + 48 + 10 = 1,058
    #   k=4: 1000 + 72 + 10 = 1,082      per call: 4,184 input tokens in 4 requests
    # One call a minute: a mean of 4 requests and 4,184 input tokens a minute. The P99 minute
    # scales by P99 / mean concurrency = 4 / 1 (Poisson(1): P(X <= 4) = 0.9963): 16 requests
    # and 16,736 tokens a minute.
    sc = _sc({"calls_per_month": 43_200, "hourly_profile": "flat"}, {"fixed": 1}, [CHAINED],
             turns={"seconds_per_turn": 15, "user_speech_s": 5, "agent_speech_s": 7,
                    "agent_text_tokens_per_s": 2},
             prompt={"system_tokens": 1000}, cache={"hit_ratio": 0})
    r = capacity(sc, on=ON, calls=1000).results[0]
    llm = next(c for c in r.components if c.role == "llm")
    assert llm.requests_per_min_mean == pytest.approx(4.0)
    assert llm.input_tokens_per_min_mean == pytest.approx(4184.0)
    assert r.busy_hour.p99_concurrent == 4
    assert llm.requests_per_min == pytest.approx(16.0)
    assert llm.input_tokens_per_min == pytest.approx(16_736.0)
    assert llm.requests_per_day == pytest.approx(1440 * 4)
    # STT billed by session time: one request per call, at its start
    stt = next(c for c in r.components if c.role == "stt")
    assert stt.requests_per_min_mean == pytest.approx(1.0) and not stt.bills_tokens


def test_concurrency_matches_a_seeded_discrete_event_simulation() -> None:
    # Poisson arrivals hour by hour (business-hours), lognormal lengths from the scenario's
    # own sampler, 150 days after a warm-up day; calls in progress at every second of the
    # busy hour, pooled over the days (seconds of one day are correlated: fewer days leave
    # the pooled 99th percentile a couple of calls off either way).
    sc = _sc({"calls_per_month": 60_000}, {"lognormal": {"mean": 6, "p95": 18}},
             ["xai/grok-voice-agent"])
    rep = capacity(sc, on=ON)
    busy = rep.results[0].busy_hour
    rng = np.random.default_rng(7)
    days, per_day, day_s = 151, 2000.0, 86_400
    w = profile_weights("business-hours")
    counts = rng.poisson(per_day * np.tile(w, days))              # arrivals per hour
    starts = np.repeat(np.arange(days * 24) * 3600, counts) + rng.integers(
        0, 3600, size=int(counts.sum()))
    lengths = sample_seconds(sc, len(starts), rng)
    delta = np.zeros(days * day_s + 1, dtype=np.int32)
    np.add.at(delta, starts, 1)
    np.add.at(delta, np.minimum(starts + lengths, days * day_s), -1)
    in_progress = np.cumsum(delta)[:-1].reshape(days, day_s)[1:]  # drop the warm-up day
    hour = in_progress[:, busy.hour * 3600:(busy.hour + 1) * 3600].ravel()
    assert busy.hour == int(np.argmax(in_progress.reshape(days - 1, 24, 3600)
                                      .mean(axis=(0, 2))))
    assert hour.mean() == pytest.approx(busy.mean_concurrent, rel=0.03)
    assert abs(np.percentile(hour, 99, method="inverted_cdf") - busy.p99_concurrent) <= 1


def test_gpus_from_p99_with_erlang_c_and_the_autoscaled_alternative() -> None:
    # Flat, 10 in progress, P99 18 (as above). Moshi: 8 sessions per 1-H100 deployment:
    # ceil(18 / 8) = 3 deployments, 3 GPUs, 24 session slots at 10 Erlangs.
    # Always on: 3 x $2.79/h x 730 h = $6,110.10. Autoscaled at 50 %: each hour
    # ceil(10 / (8 x 0.5)) = 3 deployments, 24 h x 30 days = 2,160 GPU-hours = $6,026.40.
    sc = _sc({"calls_per_month": 72_000, "hourly_profile": "flat"}, {"fixed": 6},
             ["selfhost/moshi", "xai/grok-voice-agent"])
    rep = capacity(sc, on=ON, calls=1000, utilisation=0.5)
    moshi, api = rep.results
    assert api.gpus is None and api.fleet is None
    f = moshi.fleet
    assert f is not None and moshi.gpus == 3 and f.deployments == 3
    assert f.wait_probability == pytest.approx(erlang_c(24, 10.0))
    assert f.wait_probability < 0.01
    assert f.always_on_usd_per_month == pytest.approx(6110.10)
    assert f.autoscaled_gpu_hours_per_month == pytest.approx(2160)
    assert f.autoscaled_usd_per_month == pytest.approx(6026.40)
    assert moshi.limits == []          # a self-hosted model has no provider limits
    same = selfhost_fleet(sc, "selfhost/moshi", on=ON, utilisation=0.5)
    assert same is not None and same.gpus == 3
    assert selfhost_fleet(sc, "xai/grok-voice-agent", on=ON) is None


def test_the_scenarios_own_utilisation_is_the_default_as_in_the_estimate() -> None:
    # The same flat 72,000 calls with `selfhost: {utilisation: 0.5}` in the scenario and no
    # argument: the autoscaled alternative is the 2,160 GPU-hours ($6,026.40) above.
    sc = _sc({"calls_per_month": 72_000, "hourly_profile": "flat"}, {"fixed": 6},
             ["selfhost/moshi"], selfhost={"utilisation": 0.5})
    f = capacity(sc, on=ON, calls=1000).results[0].fleet
    assert f is not None and f.utilisation == 0.5
    assert f.autoscaled_usd_per_month == pytest.approx(6026.40)


def test_limits_unknown_never_unlimited_and_the_binding_one() -> None:
    sc = _sc({"calls_per_month": 72_000, "hourly_profile": "flat"}, {"fixed": 6},
             ["xai/grok-voice-agent", "google/gemini-3.1-flash-live",
              {"realtime": "xai/grok-voice-agent", "telephony": "twilio/us-outbound"}])
    grok, gemini, phone = capacity(sc, on=ON, calls=1000).results
    assert grok.binding_limit is None
    assert grok.limits and all(c.limit is None and c.headroom is None for c in grok.limits)
    conc = next(c for c in gemini.limits if c.metric == "concurrent_sessions")
    assert (conc.tier, conc.limit, conc.peak) == ("vertex-paygo", 1000.0, 18)
    assert conc.headroom == pytest.approx(1000 / 18 - 1)
    assert gemini.binding_limit == "google/gemini-3.1-flash-live concurrent_sessions"
    # Twilio's default 1 call per second against 100 calls an hour (0.0278/s)
    cps = next(c for c in phone.limits if c.metric == "cps")
    assert cps.limit == 1.0 and cps.peak == pytest.approx(100 / 3600)
    # --tier: models that list it use it; the others keep their first tier, with a note
    trial = capacity(sc, on=ON, calls=1000, tier="trial").results[2]
    tw = next(c for c in trial.limits if c.model == "twilio/us-outbound"
              and c.metric == "concurrent_sessions")
    assert (tw.tier, tw.limit) == ("trial", 5.0)
    assert trial.binding_limit == "twilio/us-outbound concurrent_sessions"   # 5 < P99 18
    assert tw.headroom is not None and tw.headroom < 0
