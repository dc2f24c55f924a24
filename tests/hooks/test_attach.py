"""Measure first (`costmodel.hooks.attach`): one line on a real LiveKit ``AgentSession`` or a
real Pipecat ``PipelineWorker`` records every priced usage in a real SQLite ledger and the
spend log, exactly, and never acts: a session far past any limit runs to its own end.

As in test_livekit_hook / test_pipecat_hook, only the model services are scripted (a real
``llm.LLM`` subclass answering with a canned ``CompletionUsage``; a ``FrameProcessor`` pushing
the usage metrics real services push). gpt-4o-mini costs $0.15/1M input and $0.60/1M output
tokens; Deepgram nova-3 $0.0077/min billed per started second; Cartesia sonic-3 $50/1M
characters.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from costmodel.adapters.livekit import usages_from_session
from costmodel.core.pricing import price
from costmodel.errors import LedgerError
from costmodel.guard.spendlog import read_spend_log
from costmodel.hooks.attach import LiveKitMeter, attach, measuring_guard
from costmodel.ledger import open_ledger

from .test_livekit_hook import FakeSession, _livekit, _scripted_llm, event, llm, stt
from .test_pipecat_hook import MODELS, _pipecat, _scripted_service, _worker_and_runner, llm_dict


def total_usd(usages) -> Decimal:
    return sum((price(u).total_usd for u in usages), Decimal(0))


def ledger_amounts(path, session_id: str) -> list[Decimal]:
    with open_ledger(f"sqlite:///{path}") as ledger:
        records = ledger.records(session_id=session_id)
    return [r.usd for r in sorted(records, key=lambda r: r.at)]


# -- LiveKit: a real AgentSession ----------------------------------------------------------------
async def _agent_session(turns: int, prompt_step: int, **attach_kwargs):
    from livekit.agents import Agent, AgentSession

    scripted = _scripted_llm(prompt_step=prompt_step, completion=60)
    session = AgentSession(llm=scripted)
    reasons: list = []
    closed = asyncio.Event()
    session.on("close", lambda ev: (reasons.append(ev.reason), closed.set()))
    meter = attach(session, **attach_kwargs)
    await session.start(Agent(instructions="Be brief."))
    for turn in range(turns):
        await session.run(user_input=f"question {turn}")
    await session.aclose()
    await asyncio.wait_for(closed.wait(), timeout=10)
    return session, scripted, meter, reasons


def test_a_livekit_session_is_recorded_exactly_in_the_ledger_and_the_spend_log(tmp_path):
    _livekit()
    from livekit.agents.voice.events import CloseReason

    db, log = tmp_path / "spend.db", tmp_path / "spend.jsonl"
    session, scripted, meter, reasons = asyncio.run(_agent_session(
        3, 1500, ledger=f"sqlite:///{db}", scope="acme", spend_log=log))
    assert isinstance(meter, LiveKitMeter) and scripted.calls == 3
    # Turn k: 1500k tokens in x $0.15/1M + 60 out x $0.60/1M = $0.000225k + $0.000036:
    # $0.000261, $0.000486, $0.000711; $0.001458 in all.
    expected = [Decimal("0.000261"), Decimal("0.000486"), Decimal("0.000711")]
    assert ledger_amounts(db, meter.guard.session_id) == expected
    assert meter.spent_usd == Decimal("0.001458") == total_usd(usages_from_session(
        [u.model_dump() for u in session.usage.model_usage]))   # LiveKit's own totals
    with open_ledger(f"sqlite:///{db}") as ledger:
        assert ledger.spent(scope="acme") == Decimal("0.001458")
        assert ledger.reserved(scope="acme") == 0            # measuring holds nothing
    [rec] = read_spend_log(log).records
    assert rec.limit_usd is None and rec.scope == "acme" and rec.end == "user_initiated"
    assert rec.model == "openai/gpt-4o-mini"                 # named from session.llm
    assert rec.spent_usd == Decimal("0.001458") == total_usd(rec.usage)
    assert reasons == [CloseReason.USER_INITIATED]           # our aclose(), nothing else


def test_a_livekit_session_far_past_any_limit_is_never_cut(tmp_path):
    _livekit()
    db = tmp_path / "spend.db"
    # Priced as openai/gpt-5.4 ($2.50/1M in, $15/1M out). The prompt of call k is 2e10 k
    # tokens (LiveKit's running total, 7.2e11 after 8 calls, stays under the 1e12 a usage may
    # carry): call k costs $50,000 k + 60 x $0.000015 = $50,000 k + $0.0009; 8 calls:
    # $50,000 x 36 = $1,800,000 of input, past the $1,000,000 that is the largest limit a
    # guard takes. Nothing cuts, wraps up or is refused.
    session, scripted, meter, reasons = asyncio.run(_agent_session(
        8, 2 * 10**10, ledger=f"sqlite:///{db}",
        models={"api.openai.com/gpt-4o-mini": "openai/gpt-5.4"}))
    assert scripted.calls == 8 and meter.unpriced == 0
    assert meter.spent_usd == Decimal("1800000") + 8 * Decimal("0.0009")
    assert not meter.ended and not meter.wrapped_up
    amounts = ledger_amounts(db, meter.guard.session_id)
    assert amounts == [Decimal(50000 * k) + Decimal("0.0009") for k in range(1, 9)]


def test_livekit_usage_that_cannot_be_priced_holds_up_nothing(tmp_path, caplog):
    session = FakeSession()
    meter = attach(session, spend_log=tmp_path / "s.jsonl", llm_model="openai/gpt-4o-mini")
    acme = {"type": "llm_usage", "provider": "acme", "model": "acme-9", "input_tokens": 10,
            "output_tokens": 2}
    with caplog.at_level(logging.ERROR, "costmodel"):
        session.emit("session_usage_updated", event(acme, stt(3.0)))
        # acme's running total did not move: no new usage of it, one unpriced in all
        session.emit("session_usage_updated", event(acme, stt(6.0), llm(1000, 10)))
    # nova-3: 3 s then 3 s more at $0.0077/60 a second = $0.000385 each; the LLM $0.000156
    assert [c.total_usd for c in meter.guard.costs] == [
        Decimal("0.000385"), Decimal("0.000385"), Decimal("0.000156")]
    assert meter.unpriced == 1 and "CANNOT METER (fail_open): unknown model 'acme/acme-9'" \
        in caplog.text
    assert session.shutdowns == [] and session.said == []
    session.emit("close", {"reason": "participant_disconnected"})
    [rec] = read_spend_log(tmp_path / "s.jsonl").records
    assert rec.spent_usd == Decimal("0.000926") and rec.end == "participant_disconnected"
    assert '"unpriced":1' in (tmp_path / "s.jsonl").read_text()   # a lower bound, said so


def test_a_ledger_that_cannot_be_opened_does_not_stop_the_call(tmp_path, caplog):
    session = FakeSession()
    with caplog.at_level(logging.ERROR, "costmodel.hooks.attach"):
        meter = attach(session, ledger=f"sqlite:///{tmp_path}/missing/dir/spend.db",
                       spend_log=tmp_path / "s.jsonl", llm_model="openai/gpt-4o-mini")
    assert "LEDGER UNREACHABLE" in caplog.text and meter.ledger_error
    session.emit("session_usage_updated", event(llm(1000, 10)))
    meter.finalize()
    [rec] = read_spend_log(tmp_path / "s.jsonl").records
    assert rec.spent_usd == Decimal("0.000156")
    with pytest.raises(LedgerError, match="unsupported ledger URL"):   # a typo is raised
        attach(FakeSession(), ledger="postgres://nowhere")


def test_attach_refuses_what_it_cannot_measure():
    from costmodel.errors import UsageError

    with pytest.raises(UsageError, match="expected a LiveKit AgentSession or a Pipecat"):
        attach(object())


def test_the_measuring_guard_decides_nothing_that_anyone_acts_on():
    from costmodel.core.usage import Usage

    guard = measuring_guard()
    guard.observe(Usage("openai/gpt-4o-mini", {"text.input": 10**12}))   # $150,000
    assert guard.spent_usd == Decimal("150000") and guard.scope_limit_usd is None
    assert guard.on_unpriced == guard.on_ledger_error == "fail_open"


# -- Pipecat: a real pipeline --------------------------------------------------------------------
async def _pipeline(turns: int, prompt: int, db, log, params: bool = True,
                    how: str = "attach"):
    from pipecat.frames.frames import EndFrame, TextFrame
    from pipecat.observers.base_observer import BaseObserver
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams

    PipelineWorker, Runner = _worker_and_runner()
    service = _scripted_service()(prompt=prompt)
    pushed: list[str] = []

    class Frames(BaseObserver):
        async def on_push_frame(self, data):
            pushed.append(type(data.frame).__name__)

    options = {"ledger": f"sqlite:///{db}", "scope": "acme", "spend_log": log,
               "models": MODELS}
    observers: list = [Frames()]
    if how == "observers":   # no task given: the end is the EndFrame reaching the sink
        from costmodel.hooks.attach import PipecatMeter

        meter = PipecatMeter(**options)
        observers.append(meter)
    task = PipelineWorker(Pipeline([service]), observers=observers, idle_timeout_secs=None,
                          params=PipelineParams(enable_usage_metrics=params))
    if how == "attach":
        meter = attach(task, **options)
    for i in range(turns):
        await task.queue_frame(TextFrame(text=f"turn {i}: hello there"))   # 19 characters
    await task.queue_frame(EndFrame())
    runner = Runner(handle_sigint=False)
    if hasattr(runner, "add_workers"):
        await runner.add_workers(task)
        await asyncio.wait_for(runner.run(), timeout=30)
    else:
        await asyncio.wait_for(runner.run(task), timeout=30)
    return service, meter, pushed


@pytest.mark.parametrize("how", ["attach", "observers"])
def test_a_pipecat_pipeline_is_recorded_exactly_and_never_ended_by_the_meter(tmp_path, how):
    _pipecat()
    db, log = tmp_path / "spend.db", tmp_path / "spend.jsonl"
    # The scripted LLM's prompt is 1e11 + 500k tokens on turn k: $15,000 + $0.000075k a turn
    # at $0.15/1M (+ 100 out at $0.60/1M): 3 turns are $45,000 of LLM alone, past any budget.
    # The app's EndFrame is pushed before the last turn's metrics: the line is written at
    # the pipeline's end, with all nine usages in it and in the ledger.
    service, meter, pushed = asyncio.run(_pipeline(3, 10**11, db, log, how=how))
    assert service.turns == 3
    assert not any(n.startswith(("EndWorker", "CancelWorker", "EndTask", "CancelTask"))
                   for n in pushed)                        # the EndFrame was the app's own
    costs = meter.guard.costs
    # per turn: STT 3.5 s billed 4 s ($0.000513333...), the LLM, TTS 19 chars ($0.00095)
    assert [c.model for c in costs] == ["deepgram/nova-3", "openai/gpt-4o-mini",
                                        "cartesia/sonic-3"] * 3
    llm_costs = [c.total_usd for c in costs if c.model == "openai/gpt-4o-mini"]
    assert llm_costs == [Decimal(15000) + Decimal("0.000075") * k + Decimal("0.00006")
                         for k in (1, 2, 3)]
    assert ledger_amounts(db, meter.guard.session_id) == [c.total_usd for c in costs]
    [rec] = read_spend_log(log).records
    assert rec.limit_usd is None and rec.end == "ended" and rec.scope == "acme"
    assert rec.spent_usd == meter.spent_usd == total_usd(rec.usage) > Decimal(45000)
    assert rec.model == "openai/gpt-4o-mini"


def test_pipecat_without_usage_metrics_is_warned_about(tmp_path, caplog):
    _pipecat()
    with caplog.at_level(logging.WARNING, "costmodel.hooks.attach"):
        asyncio.run(_pipeline(1, 3000, tmp_path / "spend.db", tmp_path / "s.jsonl",
                              params=False))
    assert "usage metrics are off, so nothing will be measured" in caplog.text


def test_pipecat_metrics_that_cannot_be_priced_hold_up_nothing(tmp_path):
    _pipecat()
    from costmodel.hooks.attach import PipecatMeter

    meter = PipecatMeter(models=MODELS, spend_log=tmp_path / "s.jsonl")
    unknown = {"processor": "AcmeLLMService#0", "model": "acme-9",
               "value": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}}
    meter.budget.observe([unknown, llm_dict(1000, 10)])     # one frame, two services
    assert meter.unpriced == 1 and meter.spent_usd == Decimal("0.000156")
    meter.finalize()
    assert read_spend_log(tmp_path / "s.jsonl").records[0].spent_usd == Decimal("0.000156")
