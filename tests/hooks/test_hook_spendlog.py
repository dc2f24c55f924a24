"""The Pipecat and LiveKit hooks leave the relay's spend-log line when a session ends: its
length on the guard's clock and every usage priced, so re-pricing the line gives the spend.

Replays feed recorded-shape metrics with a clock that reads their timestamps, as a replay of
a real session would; the last tests run the real frameworks (skipped when not installed)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from costmodel.core.pricing import price
from costmodel.errors import UsageError
from costmodel.guard import SessionGuard
from costmodel.guard.spendlog import read_spend_log
from costmodel.hooks.livekit import LiveKitBudget
from costmodel.hooks.pipecat import PipecatBudget

from .test_livekit_hook import FakeSession, _livekit, _scripted_llm, event, llm, stt
from .test_pipecat_hook import (
    MODELS,
    _pipecat,
    _run,
    _scripted_service,
    _worker_and_runner,
    llm_dict,
)


def repriced(usages) -> Decimal:
    return sum((price(u).total_usd for u in usages), Decimal(0))


def stt_dict(seconds: float) -> dict:
    return {"processor": "DeepgramSTTService#0", "model": "nova-3",
            "value": {"audio_seconds": seconds}}


def tts_dict(characters: int) -> dict:
    return {"processor": "CartesiaTTSService#0", "model": "sonic-3", "value": characters}


# -- Pipecat ------------------------------------------------------------------------------------
def test_a_replayed_pipecat_session_leaves_its_real_length_and_its_usage(tmp_path):
    path = tmp_path / "spend.jsonl"
    now = [7200.0]   # a monotonic clock reads anything at the start
    budget = PipecatBudget(limit_usd="1", models=MODELS, spend_log=path, clock=lambda: now[0])
    # three turns, 12 s apart: the user speaks (STT), the LLM answers, the TTS speaks it
    for k in range(1, 4):
        now[0] += 12.0
        budget.observe([stt_dict(3.5), llm_dict(2000 + 500 * k, 80), tts_dict(60)])
    now[0] += 4.5    # the goodbye plays out, then the pipeline ends
    budget.finalize()
    budget.finalize()   # an EndFrame and a CancelFrame both end it: one line
    log = read_spend_log(path)
    assert log.problems == []
    [rec] = log.records
    assert rec.seconds == 40.5              # 3 x 12 s + 4.5 s, on the replay's clock
    assert (rec.ended_at - rec.started_at).total_seconds() == pytest.approx(40.5, abs=1e-3)
    assert [u.model for u in rec.usage] == ["deepgram/nova-3", "openai/gpt-4o-mini",
                                            "cartesia/sonic-3"] * 3
    assert rec.usage[4].tokens == {"text.input": 3000, "text.output": 80}   # turn 2's LLM
    assert repriced(rec.usage) == rec.spent_usd == budget.guard.spent_usd > 0
    assert rec.responses == 3 and rec.end == "ended" and rec.model == "openai/gpt-4o-mini"
    assert rec.session_id == budget.guard.session_id and rec.limit_usd == 1


def test_pipecat_with_its_own_guard_uses_the_guard_s_clock(tmp_path):
    now = [0.0]
    guard = SessionGuard("1", model="openai/gpt-4o-mini", clock=lambda: now[0])
    budget = PipecatBudget(guard, models=MODELS, spend_log=tmp_path / "s.jsonl")
    budget.observe([llm_dict(1000, 10)])
    now[0] = 61.25
    budget.finalize(end="user_hung_up")
    [rec] = read_spend_log(tmp_path / "s.jsonl").records
    assert rec.seconds == 61.25 and rec.end == "user_hung_up"
    with pytest.raises(UsageError, match="not both"):   # the clock is the guard's
        PipecatBudget(guard, clock=lambda: 0.0)


def test_without_a_spend_log_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    budget = PipecatBudget(limit_usd="1", models=MODELS)
    budget.observe([llm_dict(1000, 10)])
    budget.finalize()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("hook_kind", ["processor", "observer"])
def test_a_real_pipeline_ended_by_the_budget_writes_a_cut_line(hook_kind, tmp_path):
    path = tmp_path / "spend.jsonl"
    budget, service, *_ = asyncio.run(_run(hook_kind, "0.005", spend_log=path))
    [rec] = read_spend_log(path).records
    # 2 turns of STT + LLM + TTS were metered (test_pipecat_hook has the figures), then cut
    assert rec.end == "cut" and service.turns == 2 and len(rec.usage) == 6
    assert repriced(rec.usage) == rec.spent_usd == Decimal("0.004043333333333333333333333333")
    assert [d["action"] for d in json.loads(path.read_text())["decisions"]] == ["wrap_up", "cut"]
    assert 0 <= rec.seconds < 30


@pytest.mark.parametrize("with_task", [True, False])
def test_the_observer_writes_the_line_once_the_pipeline_has_finished(tmp_path, with_task):
    # Three turns and the app's EndFrame are queued at once: the worker's source pushes the
    # EndFrame (its first push) before the service has answered the first turn, so a line
    # written then would be empty. It is written once the EndFrame has reached the end of the
    # pipeline: the task's sink (with the task), or the pipeline's sink (without one).
    _pipecat()
    from pipecat.frames.frames import EndFrame, TextFrame
    from pipecat.pipeline.pipeline import Pipeline

    from costmodel.hooks import pipecat as hook

    path = tmp_path / "spend.jsonl"
    PipelineWorker, Runner = _worker_and_runner()
    service = _scripted_service()()
    budget = hook.BudgetObserver(limit_usd="10", models=MODELS, spend_log=path)
    task = PipelineWorker(Pipeline([service]), observers=[budget], idle_timeout_secs=None)
    if with_task:
        budget.task = task

    async def main():
        for i in range(3):
            await task.queue_frame(TextFrame(text=f"turn {i}: hello there"))
        await task.queue_frame(EndFrame())
        runner = Runner(handle_sigint=False)
        await runner.add_workers(task)
        await asyncio.wait_for(runner.run(), timeout=30)

    asyncio.run(main())
    [rec] = read_spend_log(path).records
    # per turn: STT 3.5 s, the LLM (3000 + 500k tokens in, 100 out), TTS 19 characters
    assert service.turns == 3 and len(budget.guard.costs) == 9
    assert [u.model for u in rec.usage] == ["deepgram/nova-3", "openai/gpt-4o-mini",
                                            "cartesia/sonic-3"] * 3
    assert rec.spent_usd == budget.guard.spent_usd == repriced(rec.usage) > 0
    assert rec.responses == 3 and rec.end == "ended"


# -- LiveKit ------------------------------------------------------------------------------------
def test_a_replayed_livekit_session_leaves_its_real_length_and_its_usage(tmp_path):
    path = tmp_path / "spend.jsonl"
    now = [50.0]
    session = FakeSession()
    budget = LiveKitBudget(limit_usd="10", llm_model="openai/gpt-4o-mini", spend_log=path,
                           clock=lambda: now[0]).attach(session)   # the session starts here
    inp = out = 0
    for turn in range(1, 4):   # running totals, one update per turn, 20 s apart
        now[0] += 20.0
        inp, out = inp + 1500 * turn, out + 60
        session.emit("session_usage_updated", event(llm(inp, out), stt(3.0 * turn)))
    now[0] += 15.25
    session.emit("close", {"type": "close", "reason": "participant_disconnected"})
    budget.finalize()   # (the app may call it too: still one line)
    [rec] = read_spend_log(path).records
    assert rec.seconds == 75.25 and rec.end == "participant_disconnected"
    # the trail holds what each update added: turn 2's LLM call is 3000 tokens in, 60 out
    llm_calls = [u for u in rec.usage if u.model == "openai/gpt-4o-mini"]
    assert [u.tokens for u in llm_calls][1] == {"text.input": 3000, "text.output": 60}
    assert repriced(rec.usage) == rec.spent_usd == budget.guard.spent_usd
    assert rec.responses == 3


def test_a_livekit_session_cut_by_the_budget_says_so(tmp_path):
    session = FakeSession()
    budget = LiveKitBudget(limit_usd="0.0001", llm_model="openai/gpt-4o-mini",
                           spend_log=tmp_path / "s.jsonl").attach(session)
    session.emit("session_usage_updated", event(llm(5000, 200)))
    assert session.shutdowns == [True]
    session.emit("close", {"reason": "user_initiated"})   # our shutdown closed it
    [rec] = read_spend_log(tmp_path / "s.jsonl").records
    assert rec.end == "cut" and repriced(rec.usage) == rec.spent_usd > Decimal("0.0001")
    budget.detach()
    assert session.handlers == {"session_usage_updated": [], "close": []}


def test_a_real_agent_session_closing_writes_the_line(tmp_path):
    _livekit()
    from livekit.agents import Agent, AgentSession

    path = tmp_path / "spend.jsonl"

    async def main():
        scripted = _scripted_llm(prompt_step=1500, completion=60)
        session = AgentSession(llm=scripted)
        closed = asyncio.Event()
        session.on("close", lambda ev: closed.set())
        budget = LiveKitBudget(limit_usd="10", spend_log=path).attach(session)
        await session.start(Agent(instructions="Be brief."))
        for turn in range(3):
            await session.run(user_input=f"question {turn}")
        await session.aclose()
        await asyncio.wait_for(closed.wait(), timeout=10)
        return budget, scripted

    budget, scripted = asyncio.run(main())
    [rec] = read_spend_log(path).records
    assert rec.end == "user_initiated" and rec.model == "openai/gpt-4o-mini"
    assert rec.responses == scripted.calls == 3 == len(rec.usage)
    assert repriced(rec.usage) == rec.spent_usd == budget.guard.spent_usd > 0
    assert 0 <= rec.seconds < 10
