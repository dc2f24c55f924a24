"""`costmodel fit` on small hand-made speech-to-speech sessions: every number checkable by hand.

OpenAI gpt-realtime-1.5: 10 input / 20 output audio tokens a second, a 1,024-token cache
minimum in 128-token steps, truncation past 28,224 tokens. Gemini 3.8 Live: 25 tokens a
second both ways, bills the silence of its continuous input stream, no cache.
"""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from pathlib import Path

import pytest

from costmodel.errors import InputError, UnknownModelError
from costmodel.estimation import estimate, load_scenario
from costmodel.fit import fit_sessions, observe_file
from costmodel.fit.events import read_event_file, wanted_lines
from costmodel.fit.observation import SessionUnusable


def write_jsonl(path: Path, events: list[dict | str]) -> str:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n"
                            for e in events))
    return str(path)


def session_created(model: str = "gpt-realtime-1.5") -> dict:
    return {"type": "session.created", "session": {"model": model, "audio": {"input": {
        "turn_detection": {"type": "server_vad", "prefix_padding_ms": 300,
                           "silence_duration_ms": 500}}}}}


def speech(start_ms: int, end_ms: int) -> list[dict]:
    return [{"type": "input_audio_buffer.speech_started", "audio_start_ms": start_ms},
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms}]


def done(text_in: int, audio_in: int, *, cached_text: int = 0, cached_audio: int = 0,
         text_out: int = 0, audio_out: int = 0) -> dict:
    """A response.done as OpenAI reports it (cached tokens are part of the input)."""
    return {"type": "response.done", "response": {"status": "completed", "usage": {
        "input_tokens": text_in + audio_in, "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
            "cached_tokens": cached_text + cached_audio,
            "cached_tokens_details": {"text_tokens": cached_text,
                                      "audio_tokens": cached_audio, "image_tokens": 0}},
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out}}}}


DELTA = {"type": "response.output_audio.delta", "delta": "AAAA"}


def openai_session(path: Path) -> str:
    """Three turns. The user adds 50, 60 and 40 audio tokens (5, 6, 4 s); the agent answers
    100, 120 and 80 (5, 6, 4 s) with 20, 24 and 16 text tokens. Response 2 hits the cache
    (1,050 tokens before it -> 1,024 cached), response 3 misses."""
    return write_jsonl(path, [
        session_created(),
        *speech(1000, 6000),
        done(1000, 50, text_out=20, audio_out=100), DELTA,
        # Never decoded (nothing it holds can be usage or timing): not even an error.
        "this line is not JSON",
        *speech(16000, 22000),
        done(1000, 50 + 100 + 60, cached_text=1000, cached_audio=24, text_out=24,
             audio_out=120), DELTA,
        *speech(31000, 35000),
        done(1000, 210 + 120 + 40, text_out=16, audio_out=80), DELTA,
    ])


def test_an_openai_session_is_read_off_its_usages_and_its_stream_clock(tmp_path):
    r = fit_sessions([openai_session(tmp_path / "a.jsonl")])
    v = {k: p.value for k, p in r.parameters.items()}
    assert r.stack == (("realtime", "openai/gpt-realtime-1.5"),)
    assert v["turns.user_speech_s"] == 5.0            # (50 + 60 + 40) / 3 tokens / 10 per s
    assert v["turns.agent_speech_s"] == 5.0           # (100 + 120 + 80) / 3 / 20 per s
    assert v["turns.agent_text_tokens_per_s"] == 4.0  # 60 text tokens / 15 s of audio
    assert v["prompt.system_tokens"] == 1000
    assert v["cache.hit_ratio"] == 0.5                # 1 hit of 2 eligible responses
    assert r.cache_mode == "per-response"
    assert "covered 100.0%" in r.parameters["cache.hit_ratio"].note    # 1,024 of 1,024
    # The stream's clock: the last speech ended at 35 s, then 80 tokens of answer at 20 a
    # second: 39 s. The first answer came when the first speech stopped, 6 s in; three
    # answers in 39 s: (39 - 6) // turn + 1 = 3 for any turn in (11, 16.5], and the plain
    # ratio 13 s is in it.
    assert r.duration.minutes == (39 / 60,)
    assert r.lengths_from == {"input audio position at the last speech event + the output "
                              "audio after it at 20 tokens/s": 1}
    assert v["turns.first_response_s"] == 6.0
    assert v["turns.seconds_per_turn"] == pytest.approx(13.0, abs=1e-6)
    assert r.scenario.responses_per_call(39) == 3
    # The VAD's own timing, said beside the billed speech: (5 + 6 + 4) / 3 s, 0.8 s padding.
    assert "5.00 s of speech per turn" in r.parameters["turns.user_speech_s"].note
    assert "4.20 s without its 0.80 s" in r.parameters["turns.user_speech_s"].note
    # Priced as price-events prices it, by hand ($/1M: text 4 in, 0.4 cached, 16 out;
    # audio 32 in, 0.4 cached, 64 out): 0.01232 + 0.0144256 + 0.021216.
    assert r.observed_usd_per_call == Decimal("0.0479616")


def test_the_fitted_scenario_loads_and_estimates(tmp_path):
    r = fit_sessions([openai_session(tmp_path / "a.jsonl")], name="support")
    (path,) = r.write(tmp_path / "support.yaml")
    sc = load_scenario(path)
    assert sc.name == "support" and sc.stacks == ["openai/gpt-realtime-1.5"]
    assert sc.cache.hits == "per-response" and sc.cache.hit_ratio == 0.5
    assert sc.duration_min.fixed == pytest.approx(0.65)          # 39 s
    assert "prompt.system_tokens = 1,000 (1 session)" in sc.assumptions
    result = estimate(sc, calls=1000).results[0]
    assert result.per_call_usd["mean"] > 0


def truncating_session(path: Path) -> str:
    """No speech events: its length cannot be derived. Response 3's input (22,579) is less
    than response 2's (27,000) plus the 2,000 audio tokens answered since: a truncation, to
    22,579 / 28,224 = 0.8 of the threshold."""
    return write_jsonl(path, [
        session_created(),
        done(1000, 20000, audio_out=5000),
        done(1000, 26000, audio_out=2000),
        done(1000, 21579, audio_out=1000),
    ])


def test_a_session_without_a_length_counts_for_turns_not_for_lengths(tmp_path):
    r = fit_sessions([openai_session(tmp_path / "a.jsonl"),
                      truncating_session(tmp_path / "t.jsonl")])
    assert r.sessions == 2 and r.lengths_unknown == 1 and r.duration.sessions == 1
    retention = r.parameters["truncation.retention_ratio"]
    assert retention.value == pytest.approx(0.8, abs=1e-4) and retention.sessions == 1
    assert "1 truncation in 1 session" in retention.source
    assert r.data()["truncation"] == {"retention_ratio": 0.8}
    # The system prompt is both sessions' first text input.
    assert r.parameters["prompt.system_tokens"].value == 1000
    assert "had no derivable length" in r.to_yaml()


def test_text_input_that_grows_is_reported_not_folded_in(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", [
        session_created(), *speech(0, 5000), done(1000, 50, audio_out=100),
        *speech(10000, 15000), done(1100, 200, audio_out=100),
        *speech(20000, 25000), done(1200, 350, audio_out=100)])
    r = fit_sessions([path])
    assert r.parameters["prompt.system_tokens"].value == 1000
    (problem,) = r.problems
    assert problem.startswith("text input grows by 100.0 tokens per response")
    assert "Not expressible in the scenario: text input grows" in r.to_yaml()


def gemini_session(path: Path) -> str:
    """Three turns of a continuous 25-token/s stream: 250, 300 and 250 tokens heard before
    each answer (10, 12, 10 s), answers of 125, 150 and 100 tokens (5, 6, 4 s)."""
    def meta(audio_in: int, audio_out: int) -> dict:
        return {"usageMetadata": {
            "promptTokenCount": 500 + audio_in, "responseTokenCount": audio_out,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 500},
                                    {"modality": "AUDIO", "tokenCount": audio_in}],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": audio_out}]}}
    return write_jsonl(path, [
        {"setup": {"model": "models/gemini-3.8-live"}}, {"setupComplete": {}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "AAAA"}}]}}},
        meta(250, 125), meta(250 + 125 + 300, 150), meta(675 + 150 + 250, 100)])


def test_a_silence_billing_session_is_as_long_as_its_stream(tmp_path):
    r = fit_sessions([gemini_session(tmp_path / "g.jsonl")])
    v = {k: p.value for k, p in r.parameters.items()}
    assert r.stack == (("realtime", "google/gemini-3.8-live"),)
    # 800 streamed tokens / 25 = 32 s, then the last answer's 100 tokens: 4 s. The first
    # answer came after 250 tokens: 10 s in; (36 - 10) // 12 + 1 = 3.
    assert r.duration.minutes == (36 / 60,)
    assert v["turns.first_response_s"] == 10.0
    assert v["turns.seconds_per_turn"] == pytest.approx(12.0, abs=1e-6)
    assert v["turns.agent_speech_s"] == 5.0                               # 375 / 3 / 25
    assert v["prompt.system_tokens"] == 500
    # Speech cannot be told from silence in the stream: assumed, and said so.
    user = r.parameters["turns.user_speech_s"]
    assert user.sessions == 0 and user.source.startswith("not observable")
    # No cached rate: nothing is cached, whatever the sessions say.
    assert v["cache.hit_ratio"] == 0 and r.parameters["cache.hit_ratio"].sessions == 0


def test_mixed_models_fit_the_most_common_and_name_the_rest(tmp_path):
    paths = [openai_session(tmp_path / "a1.jsonl"), openai_session(tmp_path / "a2.jsonl"),
             gemini_session(tmp_path / "g.jsonl")]
    r = fit_sessions(paths)
    assert r.sessions == 2 and r.stack == (("realtime", "openai/gpt-realtime-1.5"),)
    assert r.other_stacks == {"google/gemini-3.8-live": 1}
    assert "google/gemini-3.8-live (1)" in r.assumptions()


def test_a_directory_is_searched_recursively(tmp_path):
    (tmp_path / "day1").mkdir()
    openai_session(tmp_path / "day1" / "a.jsonl")
    openai_session(tmp_path / "b.json")
    (tmp_path / "notes.txt").write_text("not a session")
    assert fit_sessions([tmp_path]).sessions == 2


def test_an_unknown_model_stops_the_fit_naming_the_file_and_near_ids(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [session_created("gpt-realtime-1.6"),
                                              done(100, 10, audio_out=10)])
    with pytest.raises(UnknownModelError) as exc:
        fit_sessions([path])
    assert str(exc.value).startswith(f"{path}: unknown model 'gpt-realtime-1.6'")
    assert "openai/gpt-realtime-1.5" in exc.value.suggestions


def test_unusable_sessions_are_left_out_and_listed(tmp_path):
    good = openai_session(tmp_path / "a.jsonl")
    broken = write_jsonl(tmp_path / "b.jsonl", [session_created(), '{"type": "response.done", '
                                                '"response": {"usage": '])
    refused = write_jsonl(tmp_path / "c.jsonl", [session_created(), {
        "type": "response.done", "response": {"usage": {"input_tokens": 5}}}])
    r = fit_sessions([good, broken, refused])
    assert r.sessions == 1 and r.left_out_count == 2
    assert r.left_out[0].startswith(f"{broken}:2: not a JSON event")
    assert r.left_out[1].startswith(f"{refused}:2: ")


def test_no_session_is_an_input_error(tmp_path):
    empty = write_jsonl(tmp_path / "e.jsonl", [{"hello": "world"}])
    with pytest.raises(InputError, match="no session to fit found"):
        fit_sessions([empty])
    with pytest.raises(InputError, match="no such file"):
        fit_sessions([tmp_path / "missing.jsonl"])


def test_nova_sonic_needs_its_model_and_has_no_clock():
    nova = "examples/sessions/nova-sonic-turn.jsonl"
    with pytest.raises(InputError, match="no session to fit found.*do not name their model"):
        fit_sessions([nova])
    with pytest.raises(InputError, match="no session's length could be derived"):
        fit_sessions([nova], model="amazon/nova-2-sonic")


def test_only_lines_that_can_carry_usage_or_timing_are_read(tmp_path, monkeypatch):
    monkeypatch.setattr("costmodel.fit.events._BLOCK", 64)   # lines across many blocks
    path = openai_session(tmp_path / "a.jsonl")
    lines = list(wanted_lines(path))
    assert [n for n, _, _ in lines] == [1, 2, 3, 4, 7, 8, 9, 11, 12, 13]  # no deltas, no 6
    assert all(b"delta" not in line for _, line, _ in lines)
    assert [key for _, _, key in lines[:4]] == [b"session.", b"speech_st", b"speech_st",
                                                 b"response.done"]
    obs = read_event_file(path)
    assert obs.model == "gpt-realtime-1.5" and len(obs.usages) == 3
    assert obs.timing is not None and obs.timing.input_seconds == 35.0
    assert obs.timing.tail_output_audio_tokens == 80 and obs.timing.segments == 3


def test_a_file_with_no_known_events_is_unusable(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"usage": 1}])
    with pytest.raises(SessionUnusable, match="no event of a known format"):
        read_event_file(path)
    assert observe_file(path).unusable


def test_a_time_billed_model_needs_only_its_lengths(tmp_path):
    # xAI's voice agent is billed by the connection minute; the catalog gives it no tokens
    # per second, and its speech does not change its cost.
    from costmodel.core.usage import Usage, usage_to_json

    line = {"session_id": "s1", "spent_usd": "0.1", "started_at": "2026-11-02T10:00:00+00:00",
            "ended_at": "2026-11-02T10:02:00+00:00", "seconds": 120.0,
            "model": "xai/grok-voice-agent",
            "usage": [usage_to_json(Usage("xai/grok-voice-agent",
                                          connection_seconds=Decimal(120)))]}
    log = tmp_path / "spend.jsonl"
    log.write_text(json.dumps(line) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit_sessions([log])
    assert r.duration.chosen == "fixed" and r.duration.minutes == (2.0,)
    assert r.parameters["turns.agent_speech_s"].source.startswith(
        "xai/grok-voice-agent is billed by connection time")
    assert r.observed_usd_per_call == Decimal("0.1")   # 2 minutes at $0.05


def test_a_call_that_ended_before_its_first_answer_counts_and_cost_nothing(tmp_path):
    # The user started speaking 2 s in and hung up: no response, nothing billed.
    short = write_jsonl(tmp_path / "s.jsonl", [
        session_created(), {"type": "input_audio_buffer.speech_started", "audio_start_ms": 2000}])
    r = fit_sessions([openai_session(tmp_path / "a.jsonl"), short])
    assert r.sessions == 2 and r.left_out_count == 0
    assert sorted(r.duration.minutes) == [2 / 60, 39 / 60]
    assert r.observed_usd_per_call == Decimal("0.0479616") / 2
    # It says nothing about turns: the turn parameters are the other session's.
    assert r.parameters["turns.agent_speech_s"].sessions == 1
    assert r.parameters["prompt.system_tokens"].sessions == 1


def long_gemini_session(path: Path, *, reconnect: bool) -> str:
    """Gemini 3.8 Live sessions end after 900 s unless the context is compressed. Three
    turns hear 10,000, 10,000 and 3,000 tokens (400, 400, 120 s): 920 s, and the context
    kept. With `reconnect`, a fourth answer comes from a fresh session: the instructions
    and 300 tokens of audio, nothing else."""
    def meta(audio_in: int, audio_out: int) -> dict:
        return {"usageMetadata": {
            "promptTokenCount": 500 + audio_in, "responseTokenCount": audio_out,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 500},
                                    {"modality": "AUDIO", "tokenCount": audio_in}],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": audio_out}]}}
    events = [{"setup": {"model": "models/gemini-3.8-live"}},
              meta(10_000, 100), meta(20_100, 100), meta(23_200, 100)]
    if reconnect:
        events.append(meta(300, 100))
    return write_jsonl(path, events)


def test_a_context_kept_past_the_session_limit_is_reported(tmp_path):
    r = fit_sessions([long_gemini_session(tmp_path / "g.jsonl", reconnect=False)])
    (problem,) = r.problems
    assert problem.startswith("1 session ran past google/gemini-3.8-live's 900-second "
                              "session limit keeping their context")


def test_a_fresh_context_is_a_reconnect_not_a_truncation(tmp_path):
    r = fit_sessions([long_gemini_session(tmp_path / "g.jsonl", reconnect=True)])
    assert r.problems == [] and r.parameters["truncation.retention_ratio"].sessions == 0
    assert r.notes == ["1 response started a fresh context (the call reconnected); the "
                       "estimator reconnects at the model's session limit"]
