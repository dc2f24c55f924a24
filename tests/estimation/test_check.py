"""Cost checks for CI (`costmodel.estimation.check`, `costmodel.estimation.baseline`): a
deterministic estimate, a baseline file a repository commits, breaches named with their
figures, and what moved since the baseline (the scenario, its prompt file, the rates).

Hand-checkable figures: xai/grok-voice-agent is billed $0.05 a minute of connection, per
second, so a fixed 2-minute call costs exactly $0.10 ($0.05/min) and 1,000 of them $100 a
month; openai/gpt-realtime-1.5 bills text input at $4/1M tokens, so every system prompt token
costs $0.000004 in each of a call's responses (no cache).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodel.core.catalog import Catalog
from costmodel.core.tokens import count_tokens
from costmodel.errors import InputError
from costmodel.estimation import load_scenario
from costmodel.estimation.baseline import (
    METRICS,
    Baseline,
    StackBaseline,
    read_baseline,
    write_baseline,
)
from costmodel.estimation.check import Limits, check, compare, parse_tolerance

ON = date(2026, 11, 30)   # rates in force that day (tests never depend on today's)
FLAT = "xai/grok-voice-agent"
REALTIME = "openai/gpt-realtime-1.5"


def scenario(tmp_path, minutes: float = 2, stacks=(FLAT,), calls: int = 1000, extra: str = ""):
    path = tmp_path / "scenario.yaml"
    path.write_text(f"name: flat\nvolume: {{calls_per_month: {calls}}}\n"
                    f"duration_min: {{fixed: {minutes}}}\nstacks: {json.dumps(list(stacks))}\n"
                    f"simulation: {{calls: 500}}\n{extra}")
    return load_scenario(path)


def figures(result, stack=FLAT):
    s = result.current.stack(stack)
    return {m: s.figure(m) for m in METRICS}


# -- the figures ---------------------------------------------------------------------------------
def test_a_fixed_call_on_a_flat_rate_model_costs_its_minutes(tmp_path):
    result = check(scenario(tmp_path), on=ON)
    # 2 min x $0.05 = $0.10 a call, every call (so P95 too); 1,000 calls = $100 a month
    assert figures(result) == {"per_call_mean_usd": Decimal("0.10000000"),
                               "per_call_p95_usd": Decimal("0.10000000"),
                               "per_minute_usd": Decimal("0.05000000"),
                               "monthly_usd": Decimal("100.0000")}
    assert result.ok and result.breaches == () and result.baseline is None
    stamp = result.current.stack(FLAT).rates[FLAT]
    assert stamp.effective_date == date(2025, 12, 17) and len(stamp.rates_sha256) == 16
    assert result.current.rates_date == ON and result.current.seed == 42


def test_the_baseline_file_is_deterministic_and_reads_back(tmp_path):
    sc = scenario(tmp_path, stacks=(FLAT, REALTIME))
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_baseline(first, check(sc, on=ON).current)
    write_baseline(second, check(sc, on=ON).current)   # the scenario's seed: same figures
    assert first.read_bytes() == second.read_bytes()   # no timestamp: a diff shows a change
    back = read_baseline(first)
    assert back == check(sc, on=ON).current
    data = json.loads(first.read_text())
    assert [s["stack"] for s in data["stacks"]] == [FLAT, REALTIME]   # the scenario's order
    assert data["stacks"][0]["per_call_p95_usd"] == "0.10000000"   # exact decimal text
    assert data["scenario"]["system_tokens"] == 0 and data["catalog"]["rates_date"] == \
        "2026-11-30"


# -- limits --------------------------------------------------------------------------------------
def test_every_figure_over_a_limit_is_named_with_both_amounts(tmp_path):
    limits = Limits(per_minute_usd=Decimal("0.04"), per_call_p95_usd=Decimal("0.09"),
                    monthly_usd=Decimal("150"))
    result = check(scenario(tmp_path), limits=limits, on=ON)
    assert not result.ok
    # $0.05/min over $0.04 is +25%; $0.10 over $0.09 is +11.1%; $100 is within $150
    assert [(b.metric, b.kind, b.change.quantize(Decimal("0.001"))) for b in result.breaches] \
        == [("per_call_p95_usd", "limit", Decimal("0.111")),
            ("per_minute_usd", "limit", Decimal("0.250"))]
    assert result.breaches[1].message == (
        "xai/grok-voice-agent: per minute $0.050000 is over the limit $0.040000 (+25.0%)")


def test_a_figure_at_its_limit_is_within(tmp_path):
    limits = Limits(per_minute_usd=Decimal("0.05"), per_call_p95_usd=Decimal("0.10"),
                    monthly_usd=Decimal("100"))
    assert check(scenario(tmp_path), limits=limits, on=ON).ok


# -- against a baseline --------------------------------------------------------------------------
def test_a_longer_call_passes_within_the_tolerance_and_fails_past_it(tmp_path):
    before = check(scenario(tmp_path, minutes=2), on=ON).current
    longer = scenario(tmp_path, minutes=2.1)   # 126 s x $0.05/60 = $0.105 a call: +5%
    within = check(longer, baseline=before, tolerance=Decimal("0.05"), on=ON)
    assert within.ok
    past = check(longer, baseline=before, tolerance=Decimal("0.049"), on=ON)
    # per minute stays $0.05: the three other figures rose 5%
    assert [(b.metric, b.kind) for b in past.breaches] == [
        ("per_call_mean_usd", "baseline"), ("per_call_p95_usd", "baseline"),
        ("monthly_usd", "baseline")]
    assert past.breaches[0].message == (
        "xai/grok-voice-agent: mean per call $0.105000 is over the baseline's $0.100000 by "
        "+5.0% (tolerance 4.9%)")
    assert past.moved[0].startswith("the scenario changed (sha256 ")
    assert "mean call minutes 2 -> 2.1 (+5.0%)" in past.moved[0]
    assert past.moved[1] == "the catalog rates priced are unchanged (rates of 2026-11-30)"


def test_a_longer_system_prompt_file_is_caught_though_the_yaml_did_not_change(tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You are the support agent for Acme. Be brief.\n")
    sc = scenario(tmp_path, stacks=(REALTIME,), extra="prompt: {system_file: prompt.txt}\n")
    before = check(sc, on=ON).current
    prompt.write_text("You are the support agent for Acme. Be brief.\n"
                      + "Never promise a refund; offer a callback instead.\n" * 100)
    after = check(sc, baseline=before, tolerance=Decimal("0.05"), on=ON)
    # o200k_base: the first line is 12 tokens, each added line 10: 1,000 tokens added
    assert (before.system_tokens, after.current.system_tokens) == (12, 1012)
    assert count_tokens(prompt.read_text(), "o200k_base") == 1012
    # A 2-minute call holds 120 // 15 = 8 responses, each re-billing the system prompt as
    # text input at $4/1M: 1,000 tokens x 8 x $0.000004 = $0.032 more a call.
    was, now = before.stack(REALTIME), after.current.stack(REALTIME)
    assert now.per_call_mean_usd - was.per_call_mean_usd == Decimal("0.032")
    assert not after.ok and {b.metric for b in after.breaches} == set(METRICS)
    assert after.current.scenario_sha256 != before.scenario_sha256
    assert f"system prompt tokens {before.system_tokens:,} -> " \
           f"{after.current.system_tokens:,}" in after.moved[0]


def negotiated(tmp_path, usd_per_minute: str, effective: str = "2025-12-17") -> Catalog:
    prices = tmp_path / "prices"
    prices.mkdir(exist_ok=True)
    (prices / "contract.yaml").write_text(f"""
provider: contract
models:
  - id: {FLAT}
    prices:
      - effective: 2025-12-17
        checked: 2026-11-29
        source: https://contracts.example.com/xai
        connection: {{usd_per_minute: 0.05, increment_seconds: 1}}
      - effective: {effective}
        checked: 2026-11-29
        source: https://contracts.example.com/xai-2
        connection: {{usd_per_minute: {usd_per_minute}, increment_seconds: 1}}
""" if effective != "2025-12-17" else f"""
provider: contract
models:
  - id: {FLAT}
    prices:
      - effective: 2025-12-17
        checked: 2026-11-29
        source: https://contracts.example.com/xai
        connection: {{usd_per_minute: {usd_per_minute}, increment_seconds: 1}}
""")
    return Catalog.load([prices])


def test_a_new_price_period_is_named_and_the_scenario_is_unchanged(tmp_path):
    sc = scenario(tmp_path)
    before = check(sc, on=ON).current
    after = check(sc, negotiated(tmp_path, "0.06", effective="2026-11-01"), baseline=before,
                  on=ON)
    # $0.06/min from 2026-11-01: $0.12 a call, +20% on every figure
    assert {(b.metric, b.change) for b in after.breaches} == {
        (m, Decimal("0.2")) for m in METRICS}
    assert after.moved == (
        f"the scenario is unchanged (sha256 {before.scenario_sha256})",
        "the rates of xai/grok-voice-agent changed: in force from 2026-11-01 (were from "
        "2025-12-17)",
        "priced at the rates of 2026-11-30")


def test_a_rate_changed_within_its_period_says_so(tmp_path):
    sc = scenario(tmp_path)
    before = check(sc, on=ON).current
    after = check(sc, negotiated(tmp_path, "0.045"), baseline=before, on=ON)
    assert after.ok   # cheaper: -10%, never a breach
    assert after.moved[1] == (
        "the rates of xai/grok-voice-agent changed within the period from 2025-12-17 (a "
        "catalog correction, or a user catalog overriding it)")


def test_stacks_without_a_baseline_are_noted_not_failed(tmp_path):
    before = check(scenario(tmp_path, stacks=(REALTIME,)), on=ON).current
    result = check(scenario(tmp_path, stacks=(FLAT,)), baseline=before, on=ON)
    assert result.ok
    assert result.notes == (
        "xai/grok-voice-agent: not in the baseline (write it again to include it)",
        "openai/gpt-realtime-1.5: in the baseline, not checked now")


# -- invariants ----------------------------------------------------------------------------------
amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)


@given(figures=st.tuples(amounts, amounts, amounts, amounts),
       factors=st.tuples(*[st.decimals(min_value=Decimal("0.5"), max_value=Decimal("2"),
                                        places=3)] * 4),
       tolerance=st.decimals(min_value=Decimal(0), max_value=Decimal("0.5"), places=3))
def test_a_figure_breaches_its_baseline_exactly_when_it_rose_past_the_tolerance(
        figures, factors, tolerance):
    then = StackBaseline("s", *figures)
    now = StackBaseline("s", *(f * k for f, k in zip(figures, factors, strict=True)))

    def baseline(stack):
        return Baseline("x", "0" * 16, 0, Decimal(1), Decimal(1), 42, 1, ON, "0", (stack,))

    result = compare(baseline(now), baseline(then), tolerance=tolerance)
    assert {b.metric for b in result.breaches} == {
        m for m, k in zip(METRICS, factors, strict=True) if k > 1 + tolerance}
    assert compare(baseline(then), baseline(then), tolerance=Decimal(0)).ok


# -- bad input -----------------------------------------------------------------------------------
def test_tolerances_read_as_percent():
    assert parse_tolerance("5%") == parse_tolerance(" 5 ") == Decimal("0.05")
    for bad in ("5x", "-1%", "nan", "2000%", ""):
        with pytest.raises(InputError, match="--tolerance"):
            parse_tolerance(bad)


def test_a_bad_baseline_file_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "base.json"
    write_baseline(path, check(scenario(tmp_path), on=ON).current)
    good = json.loads(path.read_text())

    def fails(data_or_text, match):
        path.write_text(data_or_text if isinstance(data_or_text, str)
                        else json.dumps(data_or_text))
        with pytest.raises(InputError, match=match):
            read_baseline(path)

    fails("{\n  oops", r"base\.json:2: not JSON")
    fails({**good, "format": 2}, r"base\.json: format: 2 is not a baseline format")
    broken = json.loads(json.dumps(good))
    broken["stacks"][0]["per_minute_usd"] = "cheap"
    fails(broken, r"base\.json: stacks\[0\]\.per_minute_usd: not an amount")
    del broken["scenario"]["sha256"]
    broken["stacks"][0]["per_minute_usd"] = "0.05"
    fails(broken, r"base\.json: scenario\.sha256: missing")
    fails("[1, 2]", "a baseline is a JSON object")
    with pytest.raises(InputError, match="no such baseline file"):
        read_baseline(tmp_path / "absent.json")


def test_figures_are_not_floats_anywhere_in_the_file(tmp_path):
    path = tmp_path / "base.json"
    write_baseline(path, check(scenario(tmp_path), on=ON).current)
    [stack] = json.loads(path.read_text())["stacks"]
    assert all(isinstance(stack[m], str) for m in METRICS)
    assert replace(read_baseline(path).stack(FLAT), rates={}).monthly_usd == Decimal("100")
