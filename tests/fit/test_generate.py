"""The session generator itself: its sessions are what the providers document, they price
without a problem, and their statistics are the parameters they were drawn with.

The fidelity tests (`test_fidelity.py`) rest on this: a fit can only be judged against
sessions whose truth is known.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.adapters.recorded import price_events
from costmodel.core.pricing import price
from costmodel.hooks.pipecat import PipecatBudget
from tests.fit import provider_gemini, provider_openai, provider_pipecat
from tests.fit.generate import main, write_sessions
from tests.fit.timeline import Call, TrueParams, Truth, Turn, simulate_call, simulate_calls


def turn(start: float, speech: float, agent: float, text: int = 20, hit: bool = True,
         chars: int = 90, user_text: int = 12) -> Turn:
    """A turn whose VAD commits 0.5 s after the speech and whose agent starts 0.7 s later."""
    commit = start + speech + 0.5
    return Turn(start, start + speech, commit, commit + 0.7, agent, user_text, text, chars, hit)


def usages(events: list[dict]) -> list[dict]:
    return [e["response"]["usage"] for e in events if e.get("type") == "response.done"]


# -- OpenAI Realtime ------------------------------------------------------------------------------
def test_openai_three_turns_by_hand():
    # Instructions 2,000 tokens; VAD adds 300 ms before and 500 ms after the speech.
    # user audio: 5 s + 0.8 -> 58 tokens, 4 s -> 48, 3 s -> 38 (10/s);
    # agent audio: 6 s -> 120, 5 s -> 100, 4 s -> 80 (20/s).
    p = TrueParams(system_tokens=2000)
    call = Call(0, 40.0, (turn(1, 5, 6, text=21), turn(15, 4, 5, text=18),
                          turn(27, 3, 4, text=14, hit=False)), None, p)
    events, truth = provider_openai.realtime_events(call)
    u = usages(events)
    # response 1: 2,000 text + 58 audio, nothing cached (no earlier request)
    assert (u[0]["input_token_details"]["audio_tokens"], u[0]["input_tokens"]) == (58, 2058)
    assert u[0]["input_token_details"]["cached_tokens"] == 0
    # response 2: audio 58 + 120 + 48 = 226; a hit caches response 1's input, 2,058 rounded
    # down to 128s: 2,048 = all 2,000 text (the prefix starts with the instructions) + 48 audio
    d = u[1]["input_token_details"]
    assert (d["audio_tokens"], d["cached_tokens"]) == (226, 2048)
    assert d["cached_tokens_details"] == {"text_tokens": 2000, "audio_tokens": 48,
                                          "image_tokens": 0}
    # response 3 misses: nothing cached; audio 226 + 100 + 38 = 364
    d = u[2]["input_token_details"]
    assert (d["audio_tokens"], d["cached_tokens"]) == (364, 0)
    assert u[2]["output_token_details"] == {"text_tokens": 14, "audio_tokens": 80}
    assert (truth.responses, truth.hits, truth.truncations) == (3, 1, 0)
    # Priced: r1 2000x$4 + 58x$32 + 21x$16 + 120x$64 = $0.017872;
    # r2 178x$32 + 2048x$0.4 + 18x$16 + 100x$64 = $0.0132032; r3 2000x$4 + 364x$32 + 14x$16
    # + 80x$64 = $0.024992 (per 1M tokens); total $0.0560672.
    report = price_events([json.dumps(e) for e in events])
    assert report.total_usd == Decimal("0.0560672")
    starts = [e["audio_start_ms"] for e in events if e["type"].endswith("speech_started")]
    assert starts == [700, 14700, 26700]  # speech onsets less the 300 ms prefix padding


def test_openai_truncation_keeps_the_retention_ratio_and_busts_the_cache():
    # 10 s user turns (9.2 s speech + 0.8 VAD: 100 tokens) and 20 s answers (400 tokens):
    # 500 a turn. Instructions 2,224: the context overflows 28,224 when the conversation
    # passes 26,000, at response 53 (52 x 500 + 100 = 26,100). Retention 0.8 keeps at most
    # 20,800: whole items go, oldest first, down to 20,600 (21 items + 1 more answer).
    p = TrueParams(system_tokens=2224, retention_ratio=0.8)
    turns = tuple(turn(1 + 40.0 * k, 9.2, 20) for k in range(60))
    events, truth = provider_openai.realtime_events(Call(0, 2400.0, turns, None, p))
    u = usages(events)
    assert u[51]["input_tokens"] == 2224 + 51 * 500 + 100  # response 52: 27,824 fits
    assert u[52]["input_tokens"] == 2224 + 20_600
    # After a truncation only the instructions are a shared prefix: 2,224 -> 2,176 cached.
    assert u[52]["input_token_details"]["cached_tokens"] == 2176
    # The next response shares the whole truncated request again: 22,824 -> 22,784.
    assert u[53]["input_token_details"]["cached_tokens"] == 22_784
    assert truth.truncations == 1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), system=st.integers(0, 6000),
       hit=st.floats(0, 1), retention=st.floats(0.3, 1))
def test_openai_sessions_obey_the_providers_rules(seed, system, hit, retention):
    p = TrueParams(seed=seed, system_tokens=system, cache_hit=hit, retention_ratio=retention,
                   duration_mean_min=20, duration_p95_min=50)
    call = simulate_call(p, 0)
    events, truth = provider_openai.realtime_events(call)
    previous = 0
    for k, u in enumerate(usages(events)):
        d = u["input_token_details"]
        cached = d["cached_tokens"]
        assert u["input_tokens"] <= provider_openai.TRUNCATION_THRESHOLD
        assert d["text_tokens"] == system
        assert cached == 0 or (cached >= 1024 and cached % 128 == 0 and cached <= previous)
        assert d["cached_tokens_details"]["text_tokens"] == min(cached, system)
        assert k or cached == 0
        previous = u["input_tokens"]
    assert truth.responses == len(call.turns)
    ms = [e.get("audio_start_ms", e.get("audio_end_ms")) for e in events
          if e["type"].startswith("input_audio_buffer.speech")]
    assert ms == sorted(ms) and (not ms or ms[-1] <= call.seconds * 1000 + p.vad_silence_ms)


def session_usd(path) -> Decimal:
    """A recorded session's priced total; a call that ended before its first response
    (a few seconds long) has no usage at all, which price_events reports as unknown, and which
    the provider bills as nothing."""
    report = price_events(path.read_text().splitlines())
    assert (report.skipped_count, report.rejected_count, report.unpriced_count) == (0, 0, 0)
    if report.priced_count == 0:
        return Decimal(0)
    assert report.total_usd is not None
    return report.total_usd


def test_generated_sessions_price_without_problems(tmp_path):
    for stack in ("openai", "gemini"):
        for path, truth in write_sessions(stack, TrueParams(seed=5), 20, tmp_path):
            report = price_events(path.read_text().splitlines())
            assert report.total_usd is not None and report.total_usd > 0
            assert (report.skipped_count, report.rejected_count, report.unpriced_count) == (
                0, 0, 0)
            assert report.priced_count == truth.responses


def test_plausible_cost_per_minute(tmp_path):
    # The README's market check: gpt-realtime-1.5 is ~$0.32/min at 5 minutes without caching;
    # with 70% of responses hitting the cache it must be cheaper, and not absurdly so.
    # Gemini Live at $3/$12 per 1M audio (3.1 Flash Live's rates, which 3.8 Live kept): $0.085
    # a minute at 5 minutes, $0.42 at 30; the minutes of a lognormal mix lie in between.
    for stack, low, high in (("openai", 0.08, 0.32), ("gemini", 0.05, 0.3)):
        written = write_sessions(stack, TrueParams(seed=9), 60, tmp_path / stack)
        calls = simulate_calls(TrueParams(seed=9), 60)
        usd = sum(session_usd(p) for p, _ in written)
        minutes = sum(c.seconds for c in calls) / 60
        assert low < float(usd) / minutes < high, (stack, float(usd) / minutes)


# -- Gemini Live ---------------------------------------------------------------------------------
def test_gemini_rebills_the_whole_stream_silence_included():
    # The microphone streams from 0 s: response 1 hears 6.5 s (162.5 -> 162 tokens at 25/s,
    # to the nearest even), response 2 19.5 s (488) plus response 1's 6 s answer (150); system
    # 1,000 text.
    p = TrueParams(system_tokens=1000)
    call = Call(0, 40.0, (turn(1, 5, 6), turn(15, 4, 5)), None, p)
    events, _ = provider_gemini.live_events(call)
    metas = [e["usageMetadata"] for e in events if "usageMetadata" in e]
    assert [m["promptTokensDetails"][1]["tokenCount"] for m in metas] == [162, 488 + 150]
    assert [m["promptTokenCount"] for m in metas] == [1162, 1638]
    assert [m["responseTokenCount"] for m in metas] == [150, 125]
    report = price_events([json.dumps(e) for e in events])
    # 2,000 text x $0.75 + 800 audio x $3 + 275 audio out x $12 per 1M = $0.0072
    assert report.total_usd == Decimal("0.0072")


def test_gemini_sliding_window_keeps_half_the_trigger():
    # 1 h of 30 s turns (20 s answers): ~1,250 tokens a turn, the trigger (104,857) passes
    # after ~80 turns; the window then keeps at most 52,428 tokens, cut at a user turn.
    p = TrueParams(system_tokens=1000)
    turns = tuple(turn(30.0 * k, 4, 20) for k in range(120))
    events, truth = provider_gemini.live_events(Call(0, 3600.0, turns, None, p))
    prompts = [e["usageMetadata"]["promptTokenCount"] for e in events if "usageMetadata" in e]
    assert max(prompts) <= provider_gemini.TRIGGER
    assert truth.compressions == 1
    drop = next(k for k in range(1, len(prompts)) if prompts[k] < prompts[k - 1])
    # the system prompt + the newest ~41 turns: under the target, within a turn of it
    assert provider_gemini.TARGET - 1250 < prompts[drop] <= provider_gemini.TARGET
    assert prompts[drop - 1] + 1250 > provider_gemini.TRIGGER


# -- the chained stack ---------------------------------------------------------------------------
def test_chained_metrics_by_hand():
    # System 1,500 + 3 (its message); user turns of 12 text tokens, answers of 20.
    # Request 1: 1,503 + 12 + 3 + 3 (priming) = 1,521; request 2: 1,521 + 20 + 3 + 12 + 3 =
    # 1,559, a hit caching request 1 rounded down to 128s: 1,408.
    p = TrueParams(system_tokens=1500)
    call = Call(0, 30.0, (turn(1, 5, 6, chars=150), turn(15, 4, 5, chars=60)), None, p)
    m = list(provider_pipecat.metrics(call))
    llm = [f for _, k, f in m if k == "llm"]
    assert [f["prompt_tokens"] for f in llm] == [1521, 1559]
    assert [f["cache_read_input_tokens"] for f in llm] == [0, 1408]
    # STT: the stream up to each final transcript, then the rest when the pipeline stops
    assert [f["audio_seconds"] for _, k, f in m if k == "stt"] == [6.5, 13.0, 10.5]
    # TTS a sentence at a time (~70 characters): 150 -> 75 + 75, 60 -> 60
    assert [f["characters"] for _, k, f in m if k == "tts"] == [75, 75, 60]
    assert [at for at, _, _ in m] == sorted(at for at, _, _ in m)


def test_chained_session_through_a_real_budget():
    call = simulate_call(TrueParams(seed=4), 0)
    budget, truth = provider_pipecat.run_session(
        call, lambda clock: PipecatBudget(limit_usd="100", models=provider_pipecat.MODELS))
    assert truth.stt_seconds == pytest.approx(call.seconds, abs=0.01)
    assert truth.responses == len(call.turns) or truth.responses == len(call.turns) - 1
    # The guard's spend is the sum of the metrics priced: each LLM and TTS metric on its own,
    # the STT reports as the deltas of one stream they are, billed per second once (Deepgram).
    frames = [provider_pipecat.metrics_frame(k, f) for _, k, f in provider_pipecat.metrics(call)]
    again = PipecatBudget(limit_usd="100", models=provider_pipecat.MODELS)
    usages = [u for fr in frames for u in again.usages(fr)]
    assert {u.model for u in usages} == {"deepgram/nova-3", "openai/gpt-5.4-mini",
                                         "cartesia/sonic-3"}
    assert budget.guard.spent_usd == sum(price(u).total_usd for u in usages)
    stt = [Decimal(str(f["audio_seconds"])) for _, k, f in provider_pipecat.metrics(call)
           if k == "stt"]
    assert sum(u.audio_seconds for u in usages if u.audio_seconds) == math.ceil(sum(stt))
    assert budget.last.action == "ok"


# -- the calls themselves ------------------------------------------------------------------------
def test_calls_are_drawn_with_their_parameters():
    p = TrueParams(seed=11)
    truth = Truth.of(simulate_calls(p, 3000))
    assert truth.mean_seconds / 60 == pytest.approx(p.duration_mean_min, rel=0.05)
    assert truth.p95_seconds / 60 == pytest.approx(p.duration_p95_min, rel=0.08)
    assert truth.user_speech_s == pytest.approx(p.user_speech_s, rel=0.02)
    assert truth.agent_speech_s == pytest.approx(p.agent_speech_s, rel=0.02)
    assert truth.seconds_per_turn == pytest.approx(p.seconds_per_turn, rel=0.02)
    assert truth.agent_text_tokens_per_s == pytest.approx(p.agent_text_tokens_per_s, rel=0.02)
    assert truth.hit_ratio == pytest.approx(p.cache_hit, abs=0.01)


def test_a_representative_sample():
    # One length per 1/400 stratum: the sample's quantiles are the lognormal's (the median of
    # mean 5 / p95 15 minutes is exp(mu) = 3.24 min); each call's hits are exactly its share
    # of its responses after the first, in a random order.
    p = TrueParams(seed=8)
    calls = simulate_calls(p, 400, stratified=True)
    lengths = sorted(c.seconds for c in calls)
    assert (lengths[199] + lengths[200]) / 120 == pytest.approx(math.exp(p.mu), rel=0.01)
    for c in calls:
        later = [t.hit for t in c.turns[1:]]
        assert sum(later) == round(0.7 * len(later))
    # the draws of each call are its own: the same turns as drawn alone, but for the hits
    alone = simulate_call(p, 5, calls[5].seconds)
    assert [t.agent_s for t in alone.turns] == [t.agent_s for t in calls[5].turns]


def test_a_call_is_the_same_whoever_draws_it():
    p = TrueParams(seed=3)
    assert simulate_calls(p, 5)[4] == simulate_call(p, 4)
    assert simulate_calls(p, 2, first=7)[0] == simulate_call(p, 7)
    assert not math.isclose(simulate_call(p, 1).seconds, simulate_call(p, 2).seconds)


def test_bench_maker_writes_about_140_events_a_session(tmp_path, capsys):
    # 10,000 sessions of ~140 events: issue 14's fit bench (1.4M events). 3-minute calls at
    # 12.7 s a turn are ~14 responses of 10 events each (VAD x3, item, response.created, rate
    # limits, transcript delta, audio delta, response.done) + 2 session events.
    assert main(["--stack", "openai", "--sessions", "300", "--out", str(tmp_path)]) == 0
    lines = sum(len(p.read_text().splitlines()) for p in tmp_path.glob("openai-*.jsonl"))
    assert 120 < lines / 300 < 165
    assert "300 sessions" in capsys.readouterr().out
