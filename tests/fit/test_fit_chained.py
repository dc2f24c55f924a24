"""`costmodel fit` on a hand-made spend log of a chained stack (Deepgram Nova-3 STT, which
bills the whole stream; GPT-5.4 mini, a 1,024-token automatic cache in 128-token steps;
Cartesia Sonic-3, billed per character).

Two sessions, each request's prompt the whole history: system 2,000 + user turns + replies.

- C1, 60 s on 2026-11-01: prompts 2,010 / 2,042 / 2,068 (user 10, 12, 8; replies 20, 18, 22);
  request 2 reads 1,920 cached tokens (2,010 rounded down to 128s), request 3 none.
- C2, 90 s on 2026-11-10: prompts 2,010 / 2,040 / 2,070 / 2,100 (user 10 a turn, replies 20),
  every later request a hit (1,920, 1,920, 2,048 cached).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costmodel.core.usage import Usage, usage_to_json
from costmodel.estimation import estimate, load_scenario
from costmodel.fit import fit_sessions
from costmodel.guard.spendlog import read_spend_log

STT, LLM, TTS = "deepgram/nova-3", "openai/gpt-5.4-mini", "cartesia/sonic-3"


def llm(prompt: int, out: int, cached: int = 0) -> Usage:
    tokens = {"text.input": prompt - cached, "text.output": out}
    if cached:
        tokens["text.cached"] = cached
    return Usage(LLM, tokens)


def record(sid: str, day: str, seconds: float, usages: list[Usage]) -> dict:
    return {"session_id": sid, "scope": "default", "model": LLM, "spent_usd": "0",
            "started_at": f"{day}T10:00:00+00:00", "ended_at": f"{day}T10:05:00+00:00",
            "seconds": seconds, "usage": [usage_to_json(u) for u in usages], "end": "closed"}


def turns(*requests: Usage, stt_seconds: int) -> list[Usage]:
    out: list[Usage] = [Usage(STT, audio_seconds=Decimal(stt_seconds))]
    for r in requests:
        out += [r, Usage(TTS, characters=90)]
    return out


def spend_log(path: Path, *extra: dict) -> Path:
    lines = [
        record("c1", "2026-11-01", 60.0, turns(llm(2010, 20), llm(2042, 18, 1920),
                                               llm(2068, 22), stt_seconds=60)),
        record("c2", "2026-11-10", 90.0, turns(llm(2010, 20), llm(2040, 20, 1920),
                                               llm(2070, 20, 1920), llm(2100, 20, 2048),
                                               stt_seconds=90)),
        *extra]
    path.write_text("".join(json.dumps(rec) + "\n" for rec in lines))
    return path


def test_a_chained_spend_log_gives_the_chained_parameters(tmp_path):
    r = fit_sessions([spend_log(tmp_path / "spend.jsonl")])
    v = {k: p.value for k, p in r.parameters.items()}
    assert r.stack == (("stt", STT), ("llm", LLM), ("tts", TTS)) and r.sessions == 2
    # User text: (12 + 8 + 10 + 10 + 10) / 5 = 10 tokens a turn; the system prompt is the
    # first request less one of them: 2,010 - 10.
    assert v["observed.user_text_tokens_per_turn"] == 10
    assert v["prompt.system_tokens"] == 2000
    # Replies: 140 tokens / 7 requests = 20; 630 characters / 7 = 90, spoken at the assumed
    # 15 characters a second = 6 s; so 20 / 6 tokens a second.
    assert v["observed.llm_output_tokens_per_turn"] == 20
    assert v["turns.agent_speech_s"] == 6.0
    assert v["turns.agent_text_tokens_per_s"] == pytest.approx(20 / 6)
    assert "assumed speaking rate" in r.parameters["turns.agent_speech_s"].source
    # Nova-3 bills the whole stream: speech is not observable, assumed 5 s, and the user's
    # tokens per second are fitted against it (10 / 5), so the LLM input is reproduced.
    assert r.parameters["turns.user_speech_s"].sessions == 0
    assert v["turns.user_text_tokens_per_s"] == 2.0
    assert v["observed.stt_seconds_per_call"] == 75.0
    # Hits: 4 of 5 eligible requests, each covering its whole (rounded) previous prompt.
    assert v["cache.hit_ratio"] == 0.8 and r.cache_mode == "per-response"
    # 60 s for 3 requests and 90 s for 4: any turn in (18, 20] gives them back; 150 / 7 =
    # 21.4 s (the plain ratio) would give 2 + 4.
    assert v["turns.seconds_per_turn"] == pytest.approx(20.0, abs=1e-6)
    # Two sessions 9 days apart: 2 sessions over 10 days, x 30.
    assert r.calls_per_month == 6.0
    assert r.duration.chosen == "lognormal" and r.duration.mean_min == 1.25


def test_the_fitted_chained_scenario_loads_and_estimates(tmp_path):
    r = fit_sessions([spend_log(tmp_path / "spend.jsonl")])
    path, *_ = r.write(tmp_path / "chained.yaml")
    sc = load_scenario(path)
    assert sc.stacks[0].stt == STT and sc.stacks[0].llm == LLM and sc.stacks[0].tts == TTS
    assert sc.turns.user_text_tokens_per_s == 2.0 and sc.prompt.system_tokens == 2000
    assert estimate(sc, calls=2000).results[0].per_call_usd["mean"] > 0


def test_a_chained_session_without_tts_is_left_out(tmp_path):
    no_tts = record("c3", "2026-11-11", 30.0, [Usage(STT, audio_seconds=Decimal(30)),
                                               llm(2010, 20)])
    r = fit_sessions([spend_log(tmp_path / "spend.jsonl", no_tts)])
    assert r.sessions == 2 and r.left_out_count == 1
    assert r.left_out[0].endswith("a chained session with no tts usage: the scenario's "
                                  "chained stack needs stt, llm and tts")


def test_records_in_memory_fit_like_the_file(tmp_path):
    log = spend_log(tmp_path / "spend.jsonl")
    from_file = fit_sessions([log])
    from_records = fit_sessions(read_spend_log(log).records)
    assert from_records.parameters == from_file.parameters
    assert from_records.left_out == [] and from_records.sessions == 2


def test_a_spend_log_whose_first_line_was_cut_short_is_still_one(tmp_path):
    log = spend_log(tmp_path / "spend.jsonl")
    log.write_text('{"session_id": "c0", "spent_usd": "0.1", "sta\n' + log.read_text())
    r = fit_sessions([log])
    assert r.sessions == 2 and r.left_out_count == 1
    assert r.left_out[0].startswith(f"{log}:1: not JSON")
