"""Turn-level simulation: the known answers of billing-model.md, as Usage records."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from costmodel import price
from costmodel.errors import SimulationError
from costmodel.estimation.monthly import curve
from costmodel.estimation.scenario import Scenario
from costmodel.estimation.simulate import build_stack

DAY = date(2026, 11, 25)


def scenario(**over) -> Scenario:
    data = {"name": "t", "volume": {"calls_per_month": 1000}, "duration_min": {"fixed": 6},
            "prompt": {"system_tokens": 3000}, "stacks": ["openai/gpt-realtime-1.5"]}
    data.update(over)
    return Scenario.model_validate(data)


def total(model, seconds, catalog) -> D:
    return sum((price(u, catalog, on=DAY).total_usd for u in model.usages(seconds)), D(0))


def test_rebilled_audio_input_is_quadratic_in_responses(builtin):
    # OpenAI: user audio U = 5 s x 10 tok/s = 50, assistant audio A = 7 s x 20 tok/s = 140.
    # With no caching and no truncation, audio input over N responses is
    # U*N(N+1)/2 + A*N(N-1)/2  (billing-model.md section 1).
    model = build_stack("openai/gpt-realtime-1.5", scenario(), builtin, DAY)
    for n in (1, 2, 10, 40):
        audio_in = sum(model.response_usages(k)[0].tokens.get("audio.input", 0)
                       for k in range(1, n + 1))
        assert audio_in == 50 * n * (n + 1) // 2 + 140 * n * (n - 1) // 2
    # and the system prompt is re-billed as text on every response
    assert all(model.response_usages(k)[0].tokens["text.input"] == 3000 for k in (1, 7, 40))


def test_a_stream_that_bills_silence_bills_the_whole_turn_as_user_audio(builtin):
    # Gemini Live bills the input stream, silence included (bills_silence: true), at 25 tokens
    # a second: a 15 s turn is 15 x 25 = 375 input audio tokens, though the user spoke for
    # only 5 s (5 x 25 = 125 if only speech were billed). The agent's 7 s: 7 x 25 = 175 out.
    gemini = builtin.get("google/gemini-3.1-flash-live")
    assert gemini.facts.bills_silence is True and gemini.facts.audio_tokens_per_second_in == 25
    model = build_stack(gemini.id, scenario(), builtin, DAY)
    first, second = model.response_usages(1)[0], model.response_usages(2)[0]
    assert first.tokens["audio.input"] == 375
    assert first.tokens["audio.output"] == 175
    # re-billed: response 2 re-sends turn 1 (375 + 175) and adds its own 375
    assert second.tokens["audio.input"] == 375 + 175 + 375
    # OpenAI bills only what was spoken: 5 s x 10 tokens/s = 50
    openai = build_stack("openai/gpt-realtime-1.5", scenario(), builtin, DAY)
    assert builtin.get("openai/gpt-realtime-1.5").facts.bills_silence is not True
    assert openai.response_usages(1)[0].tokens["audio.input"] == 50


def test_cache_hits_read_the_previous_input_in_128_token_steps(builtin):
    model = build_stack("openai/gpt-realtime-1.5", scenario(cache={"hit_ratio": 1.0}),
                        builtin, DAY)
    first, second = model.response_usages(1)[0], model.response_usages(2)[0]
    assert "text.cached" not in first.tokens
    # previous input = 3000 + 50 = 3050 -> 3050 // 128 * 128 = 2944 cached, text first
    assert second.tokens["text.cached"] == 2944
    assert second.tokens["text.input"] == 3000 - 2944
    assert second.input_tokens == 3000 + 50 + 140 + 50


def test_truncation_caps_the_context_and_resets_the_cache(builtin):
    sc = scenario(cache={"hit_ratio": 1.0}, truncation={"retention_ratio": 0.8})
    model = build_stack("openai/gpt-realtime-1.5", sc, builtin, DAY)
    inputs = [model.response_usages(k)[0].input_tokens for k in range(1, 400)]
    limit = builtin.get("openai/gpt-realtime-1.5").facts.truncation_threshold_tokens
    assert max(inputs) <= limit
    k = next(i for i in range(1, len(inputs)) if inputs[i] < inputs[i - 1]) + 1
    assert inputs[k - 1] == int(0.8 * limit)     # dropped to retention x limit
    after = model.response_usages(k)[0]
    assert after.tokens.get("audio.cached", 0) == 0  # only the system prompt stays cached


def test_flat_rate_stacks_cost_the_same_per_minute_at_any_length(builtin):
    for stack in ("xai/grok-voice-agent", "ultravox/ultravox-v0.7"):
        points = curve(stack, scenario(), builtin, max_minutes=30, step_minutes=1, on=DAY)
        assert {round(p.per_minute_usd, 12) for p in points} == {0.05}


def test_openai_cost_per_minute_rises_then_flattens_under_truncation(builtin):
    # Up to the 60-minute session limit (past it the call reconnects: the next test).
    points = curve("openai/gpt-realtime-1.5", scenario(), builtin, max_minutes=60, on=DAY)
    per_min = [p.per_minute_usd for p in points]
    assert all(b > a for a, b in zip(per_min, per_min[1:], strict=False))  # always rising...
    marginal = [b.per_call_usd - a.per_call_usd for a, b in zip(points, points[1:],
                                                                 strict=False)]
    # ...but once truncation caps the context (~32 min here) each extra minute costs the same
    assert marginal[5] < marginal[20] < marginal[30]
    assert max(marginal[40:]) - min(marginal[40:]) < 1e-9


def test_past_the_session_limit_the_call_reconnects_with_a_fresh_context(builtin):
    # gpt-realtime-1.5 closes a session at 60 minutes (facts.max_session_seconds 3600): with
    # 15 s turns a session holds 240 answers, and answer 241 is the first of a new session,
    # billed like answer 1 (system prompt, no history), not a 60-minute context.
    model = build_stack("openai/gpt-realtime-1.5", scenario(), builtin, DAY)
    assert model.response_usages(241) == model.response_usages(1)
    assert model.response_usages(300) == model.response_usages(60)
    points = curve("openai/gpt-realtime-1.5", scenario(), builtin, max_minutes=90, on=DAY)
    # so the 61st minute costs what the 1st did, and the 90-minute call is a 60-minute
    # call plus a 30-minute one
    assert points[60].per_call_usd - points[59].per_call_usd == pytest.approx(
        points[0].per_call_usd, rel=1e-9)
    assert points[89].per_call_usd == pytest.approx(
        points[59].per_call_usd + points[29].per_call_usd, rel=1e-9)


def test_seed_claims_for_openai_realtime_hold_under_these_assumptions(builtin):
    # Seed: "$0.30/min for a 5-minute exchange ... $1.50+/min in a 30-minute session".
    # Assumptions: 15 s turns (5 s user, 7 s agent speech), 3,000-token prompt, no caching.
    points = {p.minutes: p for p in curve("openai/gpt-realtime-1.5", scenario(), builtin,
                                          max_minutes=30, on=DAY)}
    assert 0.28 <= points[5].per_minute_usd <= 0.36
    assert points[30].per_minute_usd > 1.50


def test_chained_stack_components(builtin):
    sc = scenario(stacks=[{"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini",
                           "tts": "cartesia/sonic-3", "telephony": "twilio/us-inbound"}])
    model = build_stack(sc.stacks[0], sc, builtin, DAY)
    assert [c.role for c in model.components] == ["stt", "llm", "tts", "telephony"]
    usages = model.usages(61)  # 61 s: 4 responses; telephony rounds up to 2 minutes
    tel = [u for u in usages if u.model == "twilio/us-inbound"]
    assert len(tel) == 1 and tel[0].connection_seconds == 61
    llm = [u for u in usages if u.model == "openai/gpt-5.4-mini"]
    # prompt k = 3000 + (k-1)(user 18 + agent 25) + user 18; user 5 s x 3.5 = 17.5 -> 18
    assert [u.tokens["text.input"] for u in llm] == [3018, 3061, 3104, 3147]
    tts = [u for u in usages if u.model == "cartesia/sonic-3"]
    assert [u.characters for u in tts] == [105] * 4  # 7 s x 15 chars/s


def test_anthropic_writes_then_reads_its_cache(builtin):
    sc = scenario(cache={"hit_ratio": 1.0}, prompt={"system_tokens": 5000},
                  stacks=[{"stt": "deepgram/nova-3", "llm": "anthropic/claude-haiku-4.5",
                           "tts": "cartesia/sonic-3"}])
    model = build_stack(sc.stacks[0], sc, builtin, DAY)
    llm = [u for u in model.usages(45) if u.model == "anthropic/claude-haiku-4.5"]
    assert llm[0].tokens == {"text.output": 25, "text.cache_write_5m": 5018}
    # turn 2 reads turn 1's prompt and writes only what is new
    assert llm[1].tokens["text.cached"] == 5018
    assert llm[1].tokens["text.cache_write_5m"] == 25 + 18


def test_cache_ttl_shorter_than_the_turn_gap_means_no_reads(builtin):
    sc = scenario(cache={"hit_ratio": 1.0}, prompt={"system_tokens": 5000},
                  turns={"seconds_per_turn": 400, "user_speech_s": 5, "agent_speech_s": 7},
                  stacks=[{"stt": "deepgram/nova-3", "llm": "anthropic/claude-haiku-4.5",
                           "tts": "cartesia/sonic-3"}])
    model = build_stack(sc.stacks[0], sc, builtin, DAY)
    llm = [u for u in model.usages(1200) if u.model == "anthropic/claude-haiku-4.5"]
    assert all("text.cached" not in u.tokens for u in llm)  # 5-minute TTL < 400 s gap


def test_a_stack_the_catalog_cannot_simulate_says_what_is_missing(builtin, tmp_path):
    from costmodel import Catalog

    from ..conftest import write
    write(tmp_path / "c", "x.yaml", """
        provider: x
        models:
          - id: x/speech
            kind: realtime
            name: speech model without token rates per second
            prices:
              - effective: 2025-01-01
                checked: 2025-01-02
                source: https://example.com/x
                tokens: {audio: {input: 3, output: 12}}
        """)
    cat = Catalog.load([tmp_path / "c"], include_builtin=False)
    with pytest.raises(SimulationError, match="audio_tokens_per_second_in"):
        build_stack("x/speech", scenario(), cat, DAY)
    with pytest.raises(SimulationError, match="chained pipeline"):
        build_stack("openai/gpt-5.4-mini", scenario(), builtin, DAY)


def test_explicit_cache_is_off_at_hit_ratio_zero_and_never_reads_unwritten_prefixes(builtin):
    chained = [{"stt": "deepgram/nova-3", "llm": "anthropic/claude-haiku-4.5",
                "tts": "cartesia/sonic-3"}]
    sc0 = scenario(stacks=chained, cache={"hit_ratio": 0.0}, prompt={"system_tokens": 5000})
    off = build_stack(sc0.stacks[0], sc0, builtin, DAY)
    assert all("text.cache_write_5m" not in u.tokens for u in off.usages(60))
    # Haiku 4.5 caches prompts of 4,096+ tokens: turns 1-2 (4,018 / 4,061) are plain input,
    # turn 3 (4,104) is the first written, and only turn 4 can read it.
    sc = scenario(stacks=chained, cache={"hit_ratio": 1.0}, prompt={"system_tokens": 4000})
    llm = [u for u in build_stack(sc.stacks[0], sc, builtin, DAY).usages(60)
           if u.model == "anthropic/claude-haiku-4.5"]
    assert [u.tokens.get("text.input") for u in llm[:2]] == [4018, 4061]
    assert llm[2].tokens == {"text.output": 25, "text.cache_write_5m": 4104}
    assert llm[3].tokens["text.cached"] == 4104


def test_minimum_prefix_applies_to_the_prefix_not_to_the_hit(builtin):
    # S = 3000, hit 0.30: the 3,050-token prefix is eligible; 0.3 x 3050 = 915 -> 896 (x128)
    model = build_stack("openai/gpt-realtime-1.5", scenario(cache={"hit_ratio": 0.3}),
                        builtin, DAY)
    assert model.response_usages(2)[0].tokens["text.cached"] == 896
