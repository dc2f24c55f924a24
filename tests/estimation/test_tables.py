"""The cost-table cache (issue 12 item 2): tables are per (component, call shape, rates), so a
new volume prices nothing, one more stack prices only its own components, and a sweep over the
cache hit ratio re-prices only what reads the cache; figures equal those of a fresh estimate."""

from __future__ import annotations

from datetime import date

import pytest

from costmodel.estimation import Scenario, TableCache, curve, estimate, sweep, tables

DAY = date(2026, 11, 25)
CHAINED = {"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini", "tts": "cartesia/sonic-3",
           "telephony": "twilio/us-inbound"}


def scenario(**extra) -> Scenario:
    data = {"name": "t", "volume": {"calls_per_month": 10_000},
            "duration_min": {"lognormal": {"mean": 4, "p95": 12}},
            "prompt": {"system_tokens": 2000}, "cache": {"hit_ratio": 0.5},
            "stacks": ["openai/gpt-realtime-1.5", "xai/grok-voice-agent", CHAINED],
            "simulation": {"calls": 5000, "seed": 3}} | extra
    return Scenario.model_validate(data)


@pytest.fixture
def priced(monkeypatch):
    """Every usage the cost tables price (with `price`, or token usages from the compiled
    rates: both report each distinct usage to `tables.priced_once`)."""
    seen = []
    monkeypatch.setattr(tables, "priced_once", lambda usage: seen.append(usage.model))
    return seen


def test_cached_results_equal_a_fresh_estimate(builtin):
    cache = TableCache()
    estimate(scenario(), builtin, on=DAY, cache=cache, calls_per_month=1)
    for volume in (500, 60_000):
        fresh = estimate(scenario(), builtin, on=DAY, calls_per_month=volume).results
        again = estimate(scenario(), builtin, on=DAY, cache=cache, calls_per_month=volume)
        assert again.results == fresh


def test_a_new_volume_prices_nothing(builtin, priced):
    cache = TableCache()
    estimate(scenario(), builtin, on=DAY, cache=cache)
    assert priced
    priced.clear()
    r = estimate(scenario(volume={"calls_per_month": 123_456}), builtin, on=DAY, cache=cache)
    assert priced == [] and r.calls_per_month == 123_456


def test_adding_a_stack_prices_only_its_own_components(builtin, priced):
    cache = TableCache()
    estimate(scenario(), builtin, on=DAY, cache=cache)
    priced.clear()
    extra = {**CHAINED, "tts": "deepgram/aura-2"}   # shares STT, LLM and telephony
    estimate(scenario(stacks=["openai/gpt-realtime-1.5", "xai/grok-voice-agent", CHAINED,
                              extra]), builtin, on=DAY, cache=cache)
    assert set(priced) == {"deepgram/aura-2"}


def test_a_hit_ratio_sweep_prices_time_billed_parts_once(builtin, priced):
    sweep(scenario(), builtin, hit_ratios=(0.0, 0.5, 1.0), prompt_tokens=(0, 4000), on=DAY)
    grok = priced.count("xai/grok-voice-agent")
    fresh = []
    for h in (0.0, 0.5, 1.0):
        priced.clear()
        estimate(scenario(cache={"hit_ratio": h}), builtin, on=DAY)
        fresh.append(priced.count("xai/grok-voice-agent"))
    assert grok == fresh[0]    # once in the whole sweep, not once per point


def test_a_curve_grows_the_tables_it_shares(builtin, priced):
    cache = TableCache()
    sc = scenario()
    short = curve("openai/gpt-realtime-1.5", sc, builtin, max_minutes=10, on=DAY, cache=cache)
    long = curve("openai/gpt-realtime-1.5", sc, builtin, max_minutes=20, on=DAY, cache=cache)
    assert [p.per_call_usd for p in long[:10]] == [p.per_call_usd for p in short]
    assert long == curve("openai/gpt-realtime-1.5", sc, builtin, max_minutes=20, on=DAY)


@pytest.mark.parametrize("stack", ["openai/gpt-realtime-1.5", CHAINED])
def test_picodollar_sums_equal_exact_decimal_sums(builtin, stack):
    """Responses are summed in integer picodollars while every amount is whole: the tables
    equal those summed as exact Decimals, also after switching to Decimals part way."""
    from costmodel.estimation.simulate import build_stack

    sc = scenario(stacks=[stack], truncation={"retention_ratio": 0.8})
    model = build_stack(sc.stacks[0], sc, builtin, DAY)
    for comp in model.components:
        pico = tables.ComponentTable(comp, sc, builtin, DAY)
        exact = tables.ComponentTable(comp, sc, builtin, DAY)
        exact._to_decimal()                       # Decimal rows from the start
        switched = tables.ComponentTable(comp, sc, builtin, DAY)
        switched.turns(40)
        switched._to_decimal()                    # Decimal rows from response 41
        want = exact.turns(400)
        assert pico._inc is not None or not comp.role.startswith(("llm", "realtime"))
        assert (pico.turns(400) == want).all() and (switched.turns(400) == want).all()
        assert pico.items == exact.items == switched.items


def test_sums_too_large_for_exact_floats_are_summed_as_decimals(builtin, monkeypatch):
    from costmodel.estimation.simulate import build_stack

    sc = scenario(stacks=[CHAINED])
    llm = next(c for c in build_stack(sc.stacks[0], sc, builtin, DAY).components
               if c.role == "llm")
    exact = tables.ComponentTable(llm, sc, builtin, DAY)._to_decimal().turns(300)
    monkeypatch.setattr(tables, "_EXACT", 2 ** 20)   # 1e-6 USD: exceeded at once
    table = tables.ComponentTable(llm, sc, builtin, DAY)
    assert (table.turns(300) == exact).all() and table._inc is None
