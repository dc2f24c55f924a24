"""Monte Carlo estimates: same numbers as pricing every usage directly, seeded, sensible."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal as D

import numpy as np
import pytest

from costmodel import price
from costmodel.errors import ScenarioError
from costmodel.estimation.monthly import estimate, sample_seconds
from costmodel.estimation.scenario import Scenario, load_scenario
from costmodel.estimation.simulate import build_stack

from ..conftest import write

DAY = date(2026, 11, 25)
STACKS = ["openai/gpt-realtime-1.5", "xai/grok-voice-agent",
          {"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini", "tts": "cartesia/sonic-3",
           "telephony": "twilio/us-inbound"}]


def scenario(**over) -> Scenario:
    data = {"name": "t", "volume": {"calls_per_month": 60000},
            "duration_min": {"lognormal": {"mean": 6, "p95": 18}},
            "prompt": {"system_tokens": 3000}, "cache": {"hit_ratio": 0.5},
            "stacks": STACKS, "simulation": {"calls": 20000, "seed": 7}}
    data.update(over)
    return Scenario.model_validate(data)


@pytest.mark.parametrize("minutes", [0.5, 3.25, 7.0, 12.1, 41.0])
def test_tables_agree_with_pricing_every_usage_directly(builtin, minutes):
    """One pricing path: the vectorised estimate equals summing price() over the usages."""
    sc = scenario(duration_min={"fixed": minutes})
    est = estimate(sc, builtin, calls=3, on=DAY)
    seconds = math.ceil(minutes * 60 - 1e-9)
    for stack, r in zip(sc.stacks, est.results, strict=True):
        model = build_stack(stack, sc, builtin, DAY)
        direct = sum((price(u, builtin, on=DAY).total_usd for u in model.usages(seconds)),
                     D(0))
        assert r.per_call_usd["mean"] == pytest.approx(float(direct), rel=1e-12)
        assert sum(usd for _, usd in r.line_items) == pytest.approx(r.monthly_usd, rel=1e-9)


def test_results_are_reproducible_by_seed(builtin):
    a = estimate(scenario(), builtin, on=DAY)
    b = estimate(scenario(), builtin, on=DAY)
    c = estimate(scenario(), builtin, on=DAY, seed=8)
    assert a.results[0].per_call_usd == b.results[0].per_call_usd
    assert a.results[0].per_call_usd != c.results[0].per_call_usd


def test_statistics_are_consistent(builtin):
    est = estimate(scenario(), builtin, on=DAY)
    for r in est.results:
        pc = r.per_call_usd
        assert 0 < pc["p50"] <= pc["p95"] <= pc["p99"]
        assert r.monthly_usd == pytest.approx(pc["mean"] * 60000)
        lo, hi = r.monthly_band_usd
        assert lo < r.monthly_usd < hi
    xai = est.results[1]
    assert xai.per_minute_usd == pytest.approx(0.05, rel=1e-6)  # flat rate, whole seconds


def test_lognormal_samples_match_the_requested_mean_and_p95():
    sc = scenario()
    s = sample_seconds(sc, 400_000, np.random.default_rng(1)) / 60
    assert s.mean() == pytest.approx(6, rel=0.01)
    assert np.percentile(s, 95) == pytest.approx(18, rel=0.02)


def test_calls_per_day_and_overrides(builtin):
    sc = scenario(volume={"calls_per_day": 1000, "days_per_month": 30})
    est = estimate(sc, builtin, on=DAY, stacks=["xai/grok-voice-agent"])
    assert est.calls_per_month == 30000 and [r.stack for r in est.results] == [
        "xai/grok-voice-agent"]
    est = estimate(sc, builtin, on=DAY, stacks=["xai/grok-voice-agent"], calls_per_month=10)
    assert est.results[0].monthly_usd == pytest.approx(10 * est.results[0].per_call_usd["mean"])


def test_empirical_lengths_from_csv(tmp_path, builtin):
    write(tmp_path, "lengths.csv", "minutes\n1\n2\n3\n")
    write(tmp_path, "s.yaml", """
        name: csv
        volume: {calls_per_month: 100}
        duration_min: {empirical: lengths.csv}
        stacks: [xai/grok-voice-agent]
        simulation: {calls: 30000}
        """)
    est = estimate(load_scenario(tmp_path / "s.yaml"), builtin, on=DAY)
    assert est.results[0].per_call_usd["mean"] == pytest.approx(0.10, rel=0.02)  # 2 min avg


@pytest.mark.parametrize("text, key, line", [
    ("name: x\nvolume: {calls_per_month: -5}\nduration_min: {fixed: 6}\nstacks: [a/b]\n",
     "volume.calls_per_month", 2),
    ("name: x\nvolume: {calls_per_month: 5}\nduration_min: {fixed: 6, lognormal: "
     "{mean: 6, p95: 18}}\nstacks: [a/b]\n", "duration_min", 3),
    ("name: x\nvolume: {calls_per_month: 5}\nduration_min: {fixed: 6}\nstacks: [a/b]\n"
     "turns: {seconds_per_turn: 10, user_speech_s: 6, agent_speech_s: 7}\n", "turns", 5),
    ("name: x\nvolume: {calls_per_month: 5}\nduration_min: {fixed: 6}\nstacks: [a/b]\n"
     "cache: {hit_ratio: 1.5}\n", "cache.hit_ratio", 5),
    ("name: x\nvolume: {calls_per_month: 5}\nduration_min: {fixed: 6}\nstacks: [a/b]\n"
     "colour: blue\n", "colour", 5),
])
def test_scenario_errors_name_the_key_and_line(tmp_path, text, key, line):
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.yaml")
    assert info.value.key is not None and info.value.key.startswith(key)
    assert info.value.line == line
    assert "s.yaml" in str(info.value)


def test_unknown_stack_model_is_an_unknown_model_error(builtin):
    from costmodel import UnknownModelError
    with pytest.raises(UnknownModelError):
        estimate(scenario(stacks=["openai/gpt-realtime-9"]), builtin, on=DAY)


# ---- regressions from the review of issue #3 -------------------------------------------------

def test_call_lengths_are_capped_at_a_day(tmp_path, builtin):
    write(tmp_path, "long.csv", "10000000\n")
    write(tmp_path, "s.yaml", "name: x\nvolume: {calls_per_month: 1}\n"
          "duration_min: {empirical: long.csv}\nstacks: [xai/grok-voice-agent]\n")
    with pytest.raises(ScenarioError, match="at most 1440 minutes"):
        estimate(load_scenario(tmp_path / "s.yaml"), builtin, on=DAY)
    with pytest.raises(Exception, match="less than or equal to 1440"):
        scenario(duration_min={"fixed": 100000})
    # a lognormal's far tail is clipped, not simulated for days
    sc = scenario(duration_min={"lognormal": {"mean": 60, "p95": 232}})
    assert sample_seconds(sc, 1_000_000, np.random.default_rng(0)).max() <= 1440 * 60


@pytest.mark.parametrize("content, message", [
    ("id,minutes\n1,5\n2,6\n", "one call length"),
    ("1;2\n", "one call length"),
    ("5\nabc\n", "expected a call length"),
    ("-3\n", "must be > 0"),
])
def test_empirical_csv_is_read_strictly(tmp_path, builtin, content, message):
    write(tmp_path, "c.csv", content)
    write(tmp_path, "s.yaml", "name: x\nvolume: {calls_per_month: 1}\n"
          "duration_min: {empirical: c.csv}\nstacks: [xai/grok-voice-agent]\n")
    with pytest.raises(ScenarioError, match=message) as info:
        estimate(load_scenario(tmp_path / "s.yaml"), builtin, on=DAY)
    assert info.value.path.endswith("c.csv") and info.value.line is not None


def test_binary_system_file_and_bad_encoding_are_scenario_errors(tmp_path, builtin):
    (tmp_path / "p.bin").write_bytes(b"\xff\xfe\x00")
    write(tmp_path, "s.yaml", "name: x\nvolume: {calls_per_month: 1}\n"
          "duration_min: {fixed: 1}\nprompt: {system_file: p.bin}\n"
          "stacks: [openai/gpt-realtime-1.5]\n")
    with pytest.raises(ScenarioError, match="not UTF-8") as info:
        estimate(load_scenario(tmp_path / "s.yaml"), builtin, on=DAY)
    assert info.value.key == "prompt.system_file" and info.value.path.endswith("s.yaml")
    write(tmp_path, "p.txt", "You are helpful.")
    write(tmp_path, "t.yaml", "name: x\nvolume: {calls_per_month: 1}\n"
          "duration_min: {fixed: 1}\nprompt: {system_file: p.txt, encoding: nope}\n"
          "stacks: [openai/gpt-realtime-1.5]\n")
    with pytest.raises(ScenarioError) as info:
        estimate(load_scenario(tmp_path / "t.yaml"), builtin, on=DAY)
    assert info.value.key == "prompt.encoding"


def test_a_broken_chained_stack_says_what_it_needs(tmp_path):
    write(tmp_path, "s.yaml", "name: x\nvolume: {calls_per_month: 1}\nduration_min: {fixed: 1}\n"
          "stacks:\n  - {stt: deepgram/nova-3, llm: openai/gpt-5.4-mini}\n")
    with pytest.raises(ScenarioError, match="needs stt, llm and tts") as info:
        load_scenario(tmp_path / "s.yaml")
    assert info.value.line == 5


def test_negative_seed_and_infinite_volume_are_rejected():
    with pytest.raises(Exception, match="greater than or equal to 0"):
        scenario(simulation={"seed": -1})
    with pytest.raises(Exception, match="finite"):
        scenario(volume={"calls_per_month": float("inf")})


def test_stack_roles_must_match_entry_kinds(builtin):
    from costmodel.errors import SimulationError
    bad = scenario(stacks=[{"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini",
                            "tts": "deepgram/nova-3"}])
    with pytest.raises(SimulationError, match="tts of a stack must be a tts entry"):
        estimate(bad, builtin, on=DAY)


def test_flat_rate_stacks_skip_the_response_table(builtin):
    import time
    sc = scenario(duration_min={"fixed": 1440}, turns={"seconds_per_turn": 1,
                                                       "user_speech_s": 0.3,
                                                       "agent_speech_s": 0.5},
                  stacks=["xai/grok-voice-agent"])
    t = time.perf_counter()
    est = estimate(sc, builtin, on=DAY, calls=10)
    assert time.perf_counter() - t < 2  # a day-long call at 1 s turns: 86,400 responses
    assert est.results[0].per_call_usd["mean"] == pytest.approx(1440 * 0.05)
