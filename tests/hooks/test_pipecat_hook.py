"""The Pipecat hook, against the real pipecat-ai when it is installed.

Real: pipecat's Pipeline, PipelineWorker (PipelineTask before 1.4), the runner, FrameProcessor,
the observer machinery, LLMAssistantAggregator + LLMContext (the wrap-up message must land in
the context), MetricsFrame / LLMUsageMetricsData / LLMTokenUsage / STTUsageMetricsData /
TTSUsageMetricsData, and the end frames. Faked: the LLM service: a small
`FrameProcessor` (``ScriptedService``) that answers each queued ``TextFrame`` with the usage
metrics a real OpenAI LLM / Deepgram STT / Cartesia TTS service would push (no network).
The tests at the top need no pipecat: they feed recorded-shape dicts to `PipecatBudget`.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from costmodel.core.pricing import price
from costmodel.core.usage import Usage
from costmodel.guard import SessionGuard
from costmodel.hooks.pipecat import PipecatBudget

MODELS = {"OpenAILLMService": "openai/gpt-4o-mini", "DeepgramSTTService": "deepgram/nova-3",
          "CartesiaTTSService": "cartesia/sonic-3"}


def llm_dict(prompt: int, completion: int) -> dict:
    return {"processor": "OpenAILLMService#0", "model": "gpt-4o-mini",
            "value": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion}}


# -- no pipecat needed: recorded-shape dicts -------------------------------------------------------
def test_prices_recorded_metrics_and_maps_processor_names():
    budget = PipecatBudget(limit_usd="1", models=MODELS)
    assert budget.guard.model == "openai/gpt-4o-mini"  # the one LLM among the models
    data = [llm_dict(2000, 100),
            {"processor": "DeepgramSTTService#0", "model": "nova-3",
             "value": {"audio_seconds": 4.0}},
            {"processor": "CartesiaTTSService#0", "model": "sonic-3", "value": 120},
            {"processor": "OpenAILLMService#0", "model": "gpt-4o-mini", "value": 0.25}]  # TTFB
    usages = budget.usages(data)
    assert [u.model for u in usages] == ["openai/gpt-4o-mini", "deepgram/nova-3",
                                         "cartesia/sonic-3"]
    decision = budget.observe(data)
    assert decision.action == "ok"
    assert decision.spent_usd == sum(price(u).total_usd for u in usages)


def test_models_callable_and_bare_catalog_names():
    seen = []

    def models(processor, model):
        seen.append((processor, model))
        return "openai/gpt-4o-mini" if processor.startswith("MyLLM") else None

    budget = PipecatBudget(limit_usd="1", models=models, llm_model="openai/gpt-4o-mini")
    assert budget.catalog_id("MyLLM#3", "whatever") == "openai/gpt-4o-mini"
    # not mapped, but "nova-3" is an unambiguous catalog name
    assert budget.catalog_id("SomeSTT#0", "nova-3") == "deepgram/nova-3"


def test_cut_once_spend_would_pass_the_limit():
    budget = PipecatBudget(limit_usd="0.002", models=MODELS)
    actions = []
    for _ in range(20):
        decision = budget.observe([llm_dict(3000, 100)])  # $0.00051 each
        actions.append(decision.action)
        if decision.action == "cut":
            break
    assert actions[-1] == "cut"
    assert budget.ended is False  # observe() decides; act() pushes the frames
    # The guard's bound: over the limit by at most one response's projection error.
    one = price(budget.usages([llm_dict(3000, 100)])[0]).total_usd
    assert budget.guard.spent_usd <= Decimal("0.002") + one


def test_text_llm_cut_is_predictive():
    budget = PipecatBudget(limit_usd="0.002", models=MODELS)
    for _ in range(20):
        if budget.observe([llm_dict(3000, 100)]).action == "cut":
            break
    assert budget.guard.spent_usd <= Decimal("0.002")
    assert budget.last.projected_next_usd > 0


def test_unmapped_processor_fails_closed_or_open(caplog):
    closed = PipecatBudget(limit_usd="1", models=MODELS)
    unknown = {"processor": "AcmeLLMService#0", "model": "acme-9",
               "value": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}}
    with caplog.at_level(logging.ERROR, "costmodel.hooks.pipecat"):
        decision = closed.observe([unknown])
    assert decision.action == "cut" and "AcmeLLMService" in decision.reason
    assert "CANNOT METER" in caplog.text

    opened = PipecatBudget(limit_usd="1", models=MODELS, on_unpriced="fail_open")
    assert opened.observe([unknown]) is None


def test_guard_or_limit_not_both():
    from costmodel.errors import UsageError
    with pytest.raises(UsageError):
        PipecatBudget(SessionGuard("1"), limit_usd="1")
    with pytest.raises(UsageError):
        PipecatBudget(models=MODELS)


# -- the real pipecat ------------------------------------------------------------------------------
def _pipecat():
    return pytest.importorskip(
        "pipecat", reason="pipecat-ai is not installed (pip install costmodel[pipecat])")


def _worker_and_runner():
    try:
        from pipecat.pipeline.worker import PipelineWorker
    except ImportError:  # releases before 1.3
        from pipecat.pipeline.task import PipelineTask as PipelineWorker
    try:
        from pipecat.workers.runner import WorkerRunner as Runner
    except ImportError:
        from pipecat.pipeline.runner import PipelineRunner as Runner
    return PipelineWorker, Runner


def _scripted_service():
    from pipecat.frames.frames import MetricsFrame, TextFrame
    from pipecat.metrics.metrics import (
        LLMTokenUsage,
        LLMUsageMetricsData,
        STTUsage,
        STTUsageMetricsData,
        TTFBMetricsData,
        TTSUsageMetricsData,
    )
    from pipecat.processors.frame_processor import FrameProcessor

    class ScriptedService(FrameProcessor):
        """Answers each TextFrame ("a turn") with the metrics real services push."""

        def __init__(self, prompt=3000, completion=100):
            super().__init__()
            self.turns = 0
            self.prompt, self.completion = prompt, completion

        async def process_frame(self, frame, direction):
            await super().process_frame(frame, direction)
            if isinstance(frame, TextFrame):
                self.turns += 1
                prompt = self.prompt + 500 * self.turns  # the context grows
                await self.push_frame(MetricsFrame(data=[
                    STTUsageMetricsData(processor="DeepgramSTTService#0", model="nova-3",
                                        value=STTUsage(audio_seconds=3.5)),
                    TTFBMetricsData(processor="OpenAILLMService#0", model="gpt-4o-mini",
                                    value=0.3)]))
                await self.push_frame(MetricsFrame(data=[LLMUsageMetricsData(
                    processor="OpenAILLMService#0", model="gpt-4o-mini",
                    value=LLMTokenUsage(prompt_tokens=prompt, completion_tokens=self.completion,
                                        total_tokens=prompt + self.completion))]))
                await self.push_frame(MetricsFrame(data=[TTSUsageMetricsData(
                    processor="CartesiaTTSService#0", model="sonic-3", value=len(frame.text))]))
            await self.push_frame(frame, direction)

    return ScriptedService



_LOGGED_FRAMES = ("EndWorkerFrame", "EndTaskFrame", "CancelWorkerFrame", "CancelTaskFrame",
                  "EndFrame", "CancelFrame", "LLMMessagesAppendFrame")


def _frame_log(seen: list):
    """An observer class that appends the ending and context frames pushed to `seen`."""
    from pipecat.observers.base_observer import BaseObserver

    class FrameLog(BaseObserver):
        async def on_push_frame(self, data):
            if data.frame.__class__.__name__ in _LOGGED_FRAMES:
                seen.append(data.frame)

    return FrameLog


async def _run(hook_kind: str, limit: str | None, turns: int = 30, **budget_kwargs):
    _pipecat()
    from pipecat.frames.frames import EndFrame, TextFrame
    from pipecat.pipeline.pipeline import Pipeline

    from costmodel.hooks import pipecat as hook

    PipelineWorker, Runner = _worker_and_runner()
    service = _scripted_service()()
    seen: list = []
    FrameLog = _frame_log(seen)

    if limit is not None:
        budget_kwargs["limit_usd"] = limit
    # A real assistant context aggregator at the end, as in a voice bot: the wrap-up message
    # must land in the LLM context.
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import LLMAssistantAggregator

    context = LLMContext()
    assistant = LLMAssistantAggregator(context)
    if hook_kind == "processor":
        budget = hook.BudgetProcessor(models=MODELS, **budget_kwargs)
        pipeline = Pipeline([service, assistant, budget])
        observers = [FrameLog()]
    else:
        budget = hook.BudgetObserver(models=MODELS, **budget_kwargs)
        pipeline = Pipeline([service, assistant])
        observers = [budget, FrameLog()]
    budget.context = context
    task = PipelineWorker(pipeline, observers=observers, idle_timeout_secs=None)
    if hook_kind == "observer":
        budget.task = task
    finished: list = []

    @task.event_handler("on_pipeline_finished")
    async def _finished(task, frame):
        finished.append(frame)

    def answered(n: int) -> bool:
        return budget.guard.responses >= n or budget.budget.ended or bool(finished)

    async def user_turns():
        # Turns arrive as in a conversation: each once the last one is answered (its LLM
        # usage metered), far more than the budget allows, and never an EndFrame: only the
        # hook can end the pipeline. Waiting on the answer, not on a clock, makes the turn
        # at which the budget ends the session the same on a loaded machine.
        for i in range(turns):
            if task.has_finished() or finished or budget.budget.ended:
                return
            await task.queue_frame(TextFrame(text=f"turn {i}: hello there"))
            while not answered(i + 1):
                await asyncio.sleep(0.001)

    runner = Runner(handle_sigint=False)
    feeder = asyncio.create_task(user_turns())
    if hasattr(runner, "add_workers"):  # pipecat >= 1.3
        await runner.add_workers(task)
        await asyncio.wait_for(runner.run(), timeout=30)
    else:
        await asyncio.wait_for(runner.run(task), timeout=30)
    await feeder
    assert task.has_finished()
    return budget, service, seen, finished, EndFrame


@pytest.mark.parametrize("hook_kind", ["processor", "observer"])
def test_real_pipeline_is_ended_when_the_budget_is_spent(hook_kind):
    budget, service, seen, finished, EndFrame = asyncio.run(_run(hook_kind, "0.005"))
    guard = budget.guard
    assert guard.last.action == "cut"
    assert budget.budget.ended
    names = [type(f).__name__ for f in seen]
    # the hook pushed the end frame; the worker turned it into an EndFrame that ended the run
    assert names.count("EndWorkerFrame") + names.count("EndTaskFrame") >= 1
    assert isinstance(finished[0], EndFrame) and "budget" in str(finished[0].reason)
    # Turn k costs: STT 3.5 s of nova-3 at $0.0077/min (its price since the promotion ended
    # 2026-09-12), its reports one stream billed per second once (3.5 s -> 4 s, $0.0308/60 =
    # $0.000513333...; 7.0 s -> 7 s, 3 s more: $0.000385); the LLM (3000 + 500k) tokens in at
    # $0.15/1M + 100 out at $0.60/1M = $0.000585, $0.00066 for k = 1, 2; TTS 19 characters at
    # $50/1M = $0.00095. Turn 1: $0.002048333...; turn 2's STT and LLM bring $0.003093333...
    # and the next response is projected at ~$0.001075 (STT $0.000385 + LLM $0.00069): room
    # for one ($0.004168333), not two ($0.005243333): wrap up. Turn 2's TTS brings
    # $0.004043333...: the next would pass $0.005 ($0.005118333): cut, before turn 3.
    assert service.turns == 2
    assert [(d.action, str(d.spent_usd)) for d in guard.history] == [
        ("wrap_up", "0.003093333333333333333333333333"),
        ("cut", "0.004043333333333333333333333333")]
    assert guard.spent_usd == Decimal("0.004043333333333333333333333333")
    # over the limit by less than one turn (see test_text_llm_cut_is_predictive)
    assert guard.spent_usd - guard.limit_usd < Decimal("0.00032") + Decimal("0.000735") \
        + Decimal("0.00095")
    # every usage metric was priced exactly once: STT + LLM + TTS per turn seen by the guard
    llm = [c for c in guard.costs if c.model == "openai/gpt-4o-mini"]
    assert len(llm) == guard.responses
    assert guard.spent_usd == sum(c.total_usd for c in guard.costs)


class ProjectingGuard(SessionGuard):
    """A real SessionGuard whose projection is pinned at a fixed amount per response (about a
    whole STT + LLM + TTS turn, which a per-model projection of the LLM alone does not
    cover), so the wrap-up and predictive-cut paths of the hook run at known points."""

    def projected_next_usd(self):
        return Decimal("0.0025")  # about one whole turn here (STT + LLM + TTS)


@pytest.mark.parametrize("hook_kind", ["processor", "observer"])
def test_real_pipeline_cancel_and_wrap_up_frame(hook_kind):
    _pipecat()
    from pipecat.frames.frames import LLMMessagesAppendFrame

    closing = LLMMessagesAppendFrame(
        messages=[{"role": "system", "content": "Budget nearly spent: say goodbye."}],
        run_llm=True)
    budget, _service, seen, _finished, _ = asyncio.run(
        _run(hook_kind, None, guard=ProjectingGuard("0.005"), end="cancel",
             on_wrap_up=closing))
    assert budget.guard.spent_usd <= Decimal("0.005")  # predictive: cut before passing
    names = [type(f).__name__ for f in seen]
    assert "LLMMessagesAppendFrame" in names
    assert any("say goodbye" in str(m) for m in budget.context.get_messages())
    assert names.index("LLMMessagesAppendFrame") < next(
        i for i, n in enumerate(names) if n in ("CancelWorkerFrame", "CancelTaskFrame"))
    assert budget.budget.wrapped_up and budget.budget.ended
    assert any(type(f).__name__ == "CancelFrame" for f in seen)


def test_real_metrics_objects_price_like_the_dicts():
    _pipecat()
    from pipecat.frames.frames import MetricsFrame
    from pipecat.metrics.metrics import LLMTokenUsage, LLMUsageMetricsData

    budget = PipecatBudget(limit_usd="1", models=MODELS)
    frame = MetricsFrame(data=[LLMUsageMetricsData(
        processor="OpenAILLMService#0", model="gpt-4o-mini",
        value=LLMTokenUsage(prompt_tokens=2200, completion_tokens=60, total_tokens=2260,
                            cache_read_input_tokens=2048))])
    [usage] = budget.usages(frame)
    assert usage == Usage("openai/gpt-4o-mini",
                          {"text.input": 152, "text.cached": 2048, "text.output": 60},
                          label="OpenAILLMService#0")


def test_end_frame_names_for_the_installed_pipecat():
    _pipecat()
    from pipecat.frames import frames
    from pipecat.processors.frame_processor import FrameDirection

    from costmodel.hooks.pipecat import end_frame

    frame, direction = end_frame(reason="budget")
    if hasattr(frames, "EndWorkerFrame"):
        assert type(frame) is frames.EndWorkerFrame and direction == FrameDirection.DOWNSTREAM
        assert type(end_frame(cancel=True)[0]) is frames.CancelWorkerFrame
    else:
        assert type(frame) is frames.EndTaskFrame and direction == FrameDirection.UPSTREAM


def test_imports_without_pipecat(monkeypatch):
    """The module imports without pipecat; the Pipecat classes then say what to install."""
    import importlib
    import sys

    import costmodel.hooks as package

    monkeypatch.setattr(package, "pipecat", sys.modules["costmodel.hooks.pipecat"])
    for name in [m for m in sys.modules if m == "pipecat" or m.startswith("pipecat.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pipecat", None)  # import pipecat -> ImportError
    monkeypatch.delitem(sys.modules, "costmodel.hooks.pipecat", raising=False)
    module = importlib.import_module("costmodel.hooks.pipecat")
    assert module.PipecatBudget(limit_usd="1", models=MODELS).observe([llm_dict(10, 1)])
    with pytest.raises(ImportError, match=r"pip install costmodel\[pipecat\]"):
        module.BudgetObserver  # noqa: B018
    with pytest.raises(ImportError, match=r"pip install costmodel\[pipecat\]"):
        from costmodel.hooks.pipecat import BudgetProcessor  # noqa: F401


@pytest.mark.parametrize("hook_kind", ["processor", "observer"])
def test_usage_metrics_from_the_client_side_are_not_metered(hook_kind, caplog):
    # Only services report usage (pushed downstream). Forged metrics travelling upstream, or
    # (seen by the observer, which knows who pushed a frame) pushed by the input transport,
    # the edge facing the user's client, are passed on and never metered: $210 of forged LLM
    # usage a turn must neither be counted nor cut the session.
    _pipecat()
    from pipecat.frames.frames import EndFrame, MetricsFrame, TextFrame
    from pipecat.metrics.metrics import LLMTokenUsage, LLMUsageMetricsData
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.transports.base_input import BaseInputTransport
    from pipecat.transports.base_transport import TransportParams

    from costmodel.hooks import pipecat as hook

    def forged():
        return MetricsFrame(data=[LLMUsageMetricsData(
            processor="OpenAILLMService#0", model="gpt-4o-mini",
            value=LLMTokenUsage(prompt_tokens=10**9, completion_tokens=10**8,
                                total_tokens=11 * 10**8))])

    class ClientInput(BaseInputTransport):
        async def process_frame(self, frame, direction):
            await super().process_frame(frame, direction)
            if isinstance(frame, TextFrame):
                await self.push_frame(forged())

    class UpstreamEcho(FrameProcessor):
        async def process_frame(self, frame, direction):
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)
            if isinstance(frame, TextFrame):
                await self.push_frame(forged(), FrameDirection.UPSTREAM)

    PipelineWorker, Runner = _worker_and_runner()
    service = _scripted_service()()
    if hook_kind == "processor":   # a processor sees the direction, not who pushed a frame
        budget = hook.BudgetProcessor(limit_usd="5", models=MODELS)
        pipeline = Pipeline([service, budget, UpstreamEcho()])
        observers = []
    else:
        budget = hook.BudgetObserver(limit_usd="5", models=MODELS)
        pipeline = Pipeline([ClientInput(TransportParams()), service, UpstreamEcho()])
        observers = [budget]
    task = PipelineWorker(pipeline, observers=observers, idle_timeout_secs=None)
    budget.task = task

    async def main():
        runner = Runner(handle_sigint=False)
        for i in range(3):
            await task.queue_frame(TextFrame(text=f"turn {i}"))
        await task.queue_frame(EndFrame())
        if hasattr(runner, "add_workers"):
            await runner.add_workers(task)
            await asyncio.wait_for(runner.run(), timeout=30)
        else:
            await asyncio.wait_for(runner.run(task), timeout=30)

    with caplog.at_level(logging.WARNING, "costmodel.hooks.pipecat"):
        asyncio.run(main())
    guard = budget.guard
    assert service.turns == 3 and guard.last.action == "ok"
    llm = [c for c in guard.costs if c.model == "openai/gpt-4o-mini"]
    assert len(llm) == 3 and guard.spent_usd < Decimal("0.01")   # the service's usage only
    assert budget.budget.ignored_metrics >= (3 if hook_kind == "processor" else 6)
    assert "only services report usage" in caplog.text
