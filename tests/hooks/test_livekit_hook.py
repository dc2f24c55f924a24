"""The LiveKit Agents hook, against the real livekit-agents when it is installed.

Real (livekit-agents installed): ``AgentSession`` and ``Agent`` running in LiveKit's text mode
(``session.run(user_input=...)``: no room, no server, no network), the framework's own
metrics -> ``ModelUsageCollector`` -> ``session_usage_updated`` path, the event and
``LLMModelUsage`` / ``STTModelUsage`` / ``TTSModelUsage`` / ``EOTModelUsage`` classes, and
``AgentSession.shutdown()``. Faked: the LLM plugin (``ScriptedLLM``, a real ``llm.LLM``
subclass that streams a canned reply with a canned ``CompletionUsage`` instead of calling a
provider). The tests at the top need no LiveKit: recorded-shape dicts and a small fake
session exposing the same ``on`` / ``off`` / ``shutdown`` API.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from costmodel.adapters.livekit import usages_from_session
from costmodel.core.pricing import price
from costmodel.guard import SessionGuard
from costmodel.guard.spendlog import read_spend_log
from costmodel.hooks.livekit import LiveKitBudget


def event(*items: dict) -> dict:
    return {"type": "session_usage_updated", "usage": {"model_usage": list(items)}}


def llm(inp: int, out: int, cached: int = 0) -> dict:
    return {"type": "llm_usage", "provider": "api.openai.com", "model": "gpt-4o-mini",
            "input_tokens": inp, "input_cached_tokens": cached, "output_tokens": out}


def stt(seconds: float) -> dict:
    return {"type": "stt_usage", "provider": "deepgram", "model": "nova-3",
            "audio_duration": seconds}


def tts(chars: int, seconds: float) -> dict:
    return {"type": "tts_usage", "provider": "cartesia", "model": "sonic-3",
            "characters_count": chars, "audio_duration": seconds}


def total_usd(usages) -> Decimal:
    return sum((price(u).total_usd for u in usages), Decimal(0))


class FakeSession:
    """Stands in for AgentSession: the same on/off/shutdown/say API, recording calls."""

    def __init__(self):
        self.handlers: dict[str, list] = {}
        self.shutdowns: list[bool] = []
        self.said: list[str] = []

    def on(self, name, callback):
        self.handlers.setdefault(name, []).append(callback)
        return callback

    def off(self, name, callback):
        self.handlers[name].remove(callback)

    def emit(self, name, *args):
        for cb in list(self.handlers.get(name, [])):
            cb(*args)

    def shutdown(self, *, drain=True):
        self.shutdowns.append(drain)

    def say(self, text):
        self.said.append(text)


# -- no LiveKit needed -----------------------------------------------------------------------------
def test_cumulative_updates_are_priced_as_deltas_never_twice():
    budget = LiveKitBudget(limit_usd="10", llm_model="openai/gpt-4o-mini")
    updates = [event(stt(2.3)),
               event(stt(2.3), llm(1500, 40)),
               event(stt(2.3), llm(1500, 40), tts(80, 4.1)),
               event(stt(4.6), llm(1500, 40), tts(80, 4.1)),
               event(stt(4.6), llm(3600, 95, cached=1024), tts(80, 4.1)),
               event(stt(4.6), llm(3600, 95, cached=1024), tts(170, 8.9)),
               event(stt(4.6), llm(3600, 95, cached=1024), tts(170, 8.9))]  # a repeat
    priced = [budget.deltas(u) for u in updates]
    assert priced[-1] == []  # the repeat adds nothing
    assert [len(p) for p in priced] == [1, 1, 1, 1, 1, 1, 0]
    # the sum of the deltas is the price of the final totals, to the last digit, with
    # Deepgram's 1-second increment applied to the running total (4.6 s -> 5 s), not per
    # update (3 s + 3 s)
    final = usages_from_session(updates[-1])
    assert total_usd([u for p in priced for u in p]) == total_usd(final)
    stt_seconds = sum(u.audio_seconds for p in priced for u in p if u.model == "deepgram/nova-3")
    assert stt_seconds == 5


def test_the_guard_sees_each_response_once():
    guard = SessionGuard("10", model="openai/gpt-4o-mini")
    budget = LiveKitBudget(guard)
    session = FakeSession()
    budget.attach(session)
    session.emit("session_usage_updated", event(llm(1000, 50)))
    session.emit("session_usage_updated", event(llm(1000, 50), stt(3.0)))
    session.emit("session_usage_updated", event(llm(2500, 110), stt(3.0)))
    assert guard.responses == 2
    assert guard.spent_usd == total_usd(usages_from_session(event(llm(2500, 110), stt(3.0))))
    budget.detach()
    session.emit("session_usage_updated", event(llm(9000, 500), stt(3.0)))
    assert guard.responses == 2


def test_cut_shuts_the_session_down_once_and_wrap_up_runs_once():
    calls = []
    session = FakeSession()
    budget = LiveKitBudget(limit_usd="0.003", llm_model="openai/gpt-4o-mini",
                           on_wrap_up=lambda s, d: calls.append(d.action) or s.say("Bye!"))
    budget.attach(session)
    # Each turn adds 2000 + 400 x turn LLM tokens in ($0.15/1M) and 80 out ($0.60/1M), and
    # 3 s of Deepgram nova-3 ($0.0077/min since its promotion ended 2026-09-12: $0.000385).
    inp = out = 0
    for turn in range(40):
        inp += 2000 + 400 * turn
        out += 80
        session.emit("session_usage_updated", event(llm(inp, out), stt(3.0 * (turn + 1))))
        if session.shutdowns:
            break
    # Turn t (from 0) costs 0.0003 + 0.00006 t (LLM in) + 0.000048 (out) + 0.000385 (STT):
    # $0.000733, $0.000793, $0.000853. After 2 turns: $0.001526 spent, the next projected at
    # $0.00082 (its LLM call, $0.000435, and an STT turn like the last): one more fits
    # ($0.002346), two do not ($0.003166): wrap up, once. After 3 turns: $0.002379 + $0.00088
    # = $0.003259 would pass $0.003: cut.
    assert turn + 1 == 3
    assert [(d.action, d.responses) for d in budget.guard.history] == [("wrap_up", 2),
                                                                       ("cut", 3)]
    assert session.shutdowns == [True]  # drain: the speech in progress finishes
    assert budget.ended and budget.last.action == "cut"
    # more updates after the cut: still priced, never a second shutdown
    session.emit("session_usage_updated", event(llm(inp + 5000, out + 50), stt(99.0)))
    assert session.shutdowns == [True]
    assert budget.guard.spent_usd == total_usd(
        usages_from_session(event(llm(inp + 5000, out + 50), stt(99.0))))
    # the wrap-up callback ran once, at the wrap-up, and said its goodbye once
    assert calls == ["wrap_up"]
    assert session.said == ["Bye!"]


def test_async_callbacks_and_custom_cut():
    async def main():
        session = FakeSession()
        closed = []

        async def close(s, decision):
            await asyncio.sleep(0)
            closed.append(decision.reason)

        budget = LiveKitBudget(limit_usd="0.0001", llm_model="openai/gpt-4o-mini",
                               on_cut=close).attach(session)
        session.emit("session_usage_updated", event(llm(5000, 200)))
        await asyncio.sleep(0.01)
        assert closed and session.shutdowns == []
        assert budget.ended

    asyncio.run(main())


def test_unknown_model_fails_closed_or_open(caplog):
    session = FakeSession()
    budget = LiveKitBudget(limit_usd="1").attach(session)
    acme = {"type": "llm_usage", "provider": "acme", "model": "acme-9", "input_tokens": 10,
            "output_tokens": 2}
    with caplog.at_level(logging.ERROR, "costmodel.hooks.livekit"):
        session.emit("session_usage_updated", event(acme))
    assert session.shutdowns == [True] and "CANNOT METER" in caplog.text
    assert budget.ended and budget.last.action == "cut" and "acme" in budget.last.reason

    session2 = FakeSession()
    LiveKitBudget(limit_usd="1", on_unpriced="fail_open").attach(session2)
    session2.emit("session_usage_updated", event(acme))
    assert session2.shutdowns == []


def test_models_override_and_reset(caplog):
    budget = LiveKitBudget(limit_usd="1", models={"Acme/acme-stt": "deepgram/nova-3"})
    first = budget.deltas(event({"type": "stt_usage", "provider": "Acme",
                                 "model": "acme-stt", "audio_duration": 10.0}))
    assert first[0].model == "deepgram/nova-3" and first[0].audio_seconds == 10
    with caplog.at_level(logging.WARNING, "costmodel.hooks.livekit"):
        again = budget.deltas(event({"type": "stt_usage", "provider": "Acme",
                                     "model": "acme-stt", "audio_duration": 4.0}))
    assert again[0].audio_seconds == 4 and "went down" in caplog.text


def grok(session_seconds: float) -> dict:
    """xAI's realtime plugin: billed by connection time, which it reports itself."""
    return {"type": "llm_usage", "provider": "api.x.ai", "model": "grok-voice-think-fast-1.0",
            "input_tokens": 0, "output_tokens": 0, "session_duration": session_seconds}


def test_a_time_billed_model_is_billed_the_time_livekit_reports_not_the_clock_too(tmp_path):
    # xai/grok-voice-agent: $0.05 a minute of connection, per second. The session is attached
    # at t = 100 s on the guard's clock; one update reports 60 s of connection at t = 160 s,
    # and the session closes at t = 165 s: billed what the plugin reported, $0.05, once (not
    # $0.05 more from the clock while it runs, nor the clock's 65 s again at the end).
    now = [100.0]
    session = FakeSession()
    budget = LiveKitBudget(limit_usd="10", llm_model="xai/grok-voice-agent", clock=lambda: now[0],
                           spend_log=tmp_path / "s.jsonl").attach(session)
    now[0] = 160.0
    session.emit("session_usage_updated", event(grok(60.0)))
    assert budget.guard.spent_usd == Decimal("0.05")
    now[0] = 165.0
    session.emit("close", {"reason": "participant_disconnected"})
    assert budget.guard.spent_usd == Decimal("0.05")
    [rec] = read_spend_log(tmp_path / "s.jsonl").records
    assert rec.spent_usd == Decimal("0.05") and rec.seconds == 65
    assert [u.connection_seconds for u in rec.usage] == [60]


def test_a_time_billed_model_whose_plugin_reports_no_time_is_billed_the_clock():
    # The same model, its plugin reporting no session_duration: the guard's clock is the
    # session's billed time, 90 s = $0.075 (and nothing else).
    now = [0.0]
    session = FakeSession()
    budget = LiveKitBudget(limit_usd="10", llm_model="xai/grok-voice-agent",
                           clock=lambda: now[0]).attach(session)
    now[0] = 90.0
    session.emit("session_usage_updated", event(grok(0.0)))
    budget.finalize()
    assert budget.guard.spent_usd == Decimal("0.075")
    assert [c.usage.connection_seconds for c in budget.guard.costs] == [90]


# -- the real livekit-agents -----------------------------------------------------------------------
def _livekit():
    return pytest.importorskip(
        "livekit.agents", reason="livekit-agents is not installed (pip install costmodel[livekit])")


def test_real_event_objects():
    _livekit()
    from livekit.agents.metrics.usage import (
        AgentSessionUsage,
        EOTModelUsage,
        LLMModelUsage,
        STTModelUsage,
        TTSModelUsage,
    )
    from livekit.agents.voice.events import SessionUsageUpdatedEvent

    def ev(inp, out, seconds, chars):
        return SessionUsageUpdatedEvent(usage=AgentSessionUsage(model_usage=[
            LLMModelUsage(provider="api.openai.com", model="gpt-4o-mini", input_tokens=inp,
                          input_cached_tokens=0, output_tokens=out),
            TTSModelUsage(provider="cartesia", model="sonic-3", characters_count=chars,
                          audio_duration=chars / 15),
            STTModelUsage(provider="deepgram", model="nova-3", audio_duration=seconds),
            EOTModelUsage(provider="livekit", model="multilingual", total_requests=3)]))

    session = FakeSession()
    budget = LiveKitBudget(limit_usd="1", llm_model="openai/gpt-4o-mini").attach(session)
    session.emit("session_usage_updated", ev(1200, 40, 2.5, 60))
    session.emit("session_usage_updated", ev(2900, 90, 5.25, 140))
    last = ev(2900, 90, 5.25, 140)
    assert budget.guard.spent_usd == total_usd(usages_from_session(last.model_dump()))
    assert budget.guard.responses == 2


def _scripted_llm(prompt_step: int, completion: int):
    from livekit.agents import llm
    from livekit.agents.llm import ChatChunk, ChoiceDelta, CompletionUsage
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

    class ScriptedStream(llm.LLMStream):
        async def _run(self):
            owner = self._llm
            owner.calls += 1
            owner.prompts.append(repr(self._chat_ctx.items))
            prompt = prompt_step * owner.calls  # the context grows each turn
            self._event_ch.send_nowait(ChatChunk(
                id=f"r{owner.calls}", delta=ChoiceDelta(role="assistant", content="Sure.")))
            self._event_ch.send_nowait(ChatChunk(id=f"r{owner.calls}", usage=CompletionUsage(
                prompt_tokens=prompt, completion_tokens=completion,
                total_tokens=prompt + completion)))

    class ScriptedLLM(llm.LLM):
        """A real llm.LLM that answers without a provider (the only faked part)."""

        def __init__(self):
            super().__init__()
            self.calls = 0
            self.prompts: list[str] = []

        @property
        def model(self):
            return "gpt-4o-mini"

        @property
        def provider(self):
            return "api.openai.com"

        def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS,
                 **kwargs):
            return ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [],
                                  conn_options=conn_options)

    return ScriptedLLM()


def test_real_agent_session_is_shut_down_when_the_budget_is_spent():
    _livekit()
    from livekit.agents import Agent, AgentSession

    async def main():
        scripted = _scripted_llm(prompt_step=1500, completion=60)
        session = AgentSession(llm=scripted)
        closed = asyncio.Event()
        reasons = []
        session.on("close", lambda ev: (reasons.append(ev.reason), closed.set()))
        budget = LiveKitBudget(limit_usd="0.004").attach(session)
        await session.start(Agent(instructions="Be brief."))
        for turn in range(40):
            if closed.is_set() or budget.ended:
                break
            await session.run(user_input=f"question {turn}")
        await asyncio.wait_for(closed.wait(), timeout=10)
        return session, scripted, budget, reasons

    session, scripted, budget, reasons = asyncio.run(main())
    from livekit.agents.voice.events import CloseReason
    assert reasons == [CloseReason.USER_INITIATED]  # our shutdown(), not an error
    guard = budget.guard
    assert guard.model == "openai/gpt-4o-mini"  # taken from session.llm
    assert budget.ended and guard.last.action == "cut"
    assert 1 < scripted.calls < 40
    # exactly what LiveKit's own running totals cost: nothing missed, nothing counted twice
    assert guard.responses == scripted.calls
    assert guard.spent_usd == total_usd(usages_from_session(
        [u.model_dump() for u in session.usage.model_usage]))
    # within one projection error of the limit
    assert guard.spent_usd - guard.limit_usd <= max(c.total_usd for c in guard.costs)


class ProjectingGuard(SessionGuard):
    """A real SessionGuard with its projection pinned (faked) at one response's cost, standing
    in for the text-LLM projection the guard lacks, to drive the wrap-up path end to end."""

    def projected_next_usd(self):
        return Decimal("0.0015")


def test_real_agent_session_wraps_up_with_a_goodbye_then_is_cut():
    _livekit()
    from livekit.agents import Agent, AgentSession
    from livekit.agents.voice.events import CloseReason

    async def main():
        scripted = _scripted_llm(prompt_step=1500, completion=60)
        session = AgentSession(llm=scripted)
        reasons = []
        closed = asyncio.Event()
        session.on("close", lambda ev: (reasons.append(ev.reason), closed.set()))
        goodbyes = []

        def wrap_up(s, decision):
            goodbyes.append(scripted.calls)
            return s.generate_reply(instructions="Thank the user and say goodbye.")

        budget = LiveKitBudget(ProjectingGuard("0.004"), on_wrap_up=wrap_up).attach(session)
        await session.start(Agent(instructions="Be brief."))
        for turn in range(40):
            if closed.is_set() or budget.ended:
                break  # the user keeps talking after the goodbye: the next turn is cut
            await session.run(user_input=f"question {turn}")
        await asyncio.wait_for(closed.wait(), timeout=10)
        return scripted, budget, goodbyes, reasons

    scripted, budget, goodbyes, reasons = asyncio.run(main())
    assert len(goodbyes) == 1
    # the goodbye was generated by the real session, with our instructions, right after
    assert "say goodbye" in scripted.prompts[goodbyes[0]]
    assert not any("say goodbye" in p for p in scripted.prompts[:goodbyes[0]])
    assert budget.ended and budget.guard.last.action == "cut"
    assert reasons == [CloseReason.USER_INITIATED]
    assert budget.guard.spent_usd <= Decimal("0.004")  # predictive: never passed the limit
