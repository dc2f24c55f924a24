"""Pipecat STT usage is billed the way the provider bills it: a streaming service's reports are
deltas of ONE stream (pipecat ``metrics/metrics.py`` ``STTUsage``: "incremental deltas since
the previous usage report; consumers sum them across a session"), rounded to the billing
increment once per stream, not once per report; a segmented service's reports are requests of
their own (``SegmentedSTTService`` reports each VAD segment it uploads), each rounded alone.

Deepgram bills streaming audio per second, per request, "without rounding up to a minute"
(deepgram.com/pricing as captured 2026-11-04 in
https://docs.flexprice.io/cookbooks/pricing-teardowns/deepgram-pricing), a connection at
least one second (https://community.deepgram.com/answers/en/billing-zero-transmitted-data-
1317275304300908664): the catalog's nova-3 is $0.0077/min in 1-second increments. Groq's
Whisper is $0.111/h with a 10-second minimum per request (pricing/groq.yaml).

The real pipelines run real ``STTService`` / ``SegmentedSTTService`` subclasses: pipecat's own
code measures the audio and emits the usage; only the transcription is left out.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.core.pricing import price
from costmodel.core.usage import Usage
from costmodel.hooks.pipecat import PipecatBudget

from .test_pipecat_hook import MODELS, _pipecat, _worker_and_runner

NOVA = "deepgram/nova-3"


def nova(seconds: int) -> Decimal:
    """nova-3's price of `seconds` billed seconds ($0.0077/min)."""
    return price(Usage(NOVA, audio_seconds=Decimal(seconds))).total_usd


def whisper(seconds: int) -> Decimal:
    """Groq Whisper's price of one request of `seconds` (at least 10 s billed, $0.111/h)."""
    return price(Usage("groq/whisper-large-v3", audio_seconds=Decimal(seconds))).total_usd


def stt(seconds: float, processor: str = "DeepgramSTTService#0") -> dict:
    return {"processor": processor, "model": "nova-3", "value": {"audio_seconds": seconds}}


def stt_usd(budget: PipecatBudget, model: str = NOVA) -> Decimal:
    return sum((c.total_usd for c in budget.guard.costs if c.model == model), Decimal(0))


def stt_seconds(budget: PipecatBudget, model: str = NOVA) -> Decimal:
    """The seconds billed for `model`: what the spend-log trail holds."""
    return sum((c.usage.audio_seconds for c in budget.guard.costs if c.model == model),
               Decimal(0))


def same_usd(a: Decimal, b: Decimal) -> bool:
    """Equal but for the 28th significant digit: $0.0077/60 a second does not end, and a sum
    of parts is rounded at each addition."""
    return abs(a - b) <= Decimal("1e-24")


# -- recorded-shape reports ----------------------------------------------------------------------
def test_a_stream_is_rounded_once_not_per_report():
    budget = PipecatBudget(limit_usd="1", models=MODELS)
    for seconds in (3.5, 3.5, 3.5, 0.25):   # three final transcripts, then the flush at stop
        budget.observe([stt(seconds)])
    # 10.75 s of one stream: 11 billed seconds, $0.0077 x 11/60 = $0.00141166... Rounding each
    # report would bill 4 + 4 + 4 + 1 = 13 s ($0.00166833...).
    assert stt_seconds(budget) == 11 and same_usd(stt_usd(budget), nova(11))
    # each report adds what the stream's bill grew by: 3.5 -> 4 s, 7 -> 7, 10.5 -> 11,
    # 10.75 -> 11 (nothing to add); re-pricing the trail gives the spend
    assert [c.usage.audio_seconds for c in budget.guard.costs] == [4, 3, 4]
    assert sum(price(c.usage).total_usd for c in budget.guard.costs) == budget.guard.spent_usd


def test_each_service_instance_is_a_stream_of_its_own():
    budget = PipecatBudget(limit_usd="1", models=MODELS)
    budget.observe([stt(2.5), stt(2.5, "DeepgramSTTService#1")])
    budget.observe([stt(2.5), stt(2.5, "DeepgramSTTService#1")])
    # two streams of 5.0 s: 5 s each (not 3 + 3 + 3 + 3 = 12 s report by report)
    assert stt_seconds(budget) == 10 and same_usd(stt_usd(budget), 2 * nova(5))
    assert [c.usage.audio_seconds for c in budget.guard.costs] == [3, 3, 2, 2]


def test_segmented_services_bill_each_report_as_its_own_request():
    # Groq Whisper: $0.111/h, at least 10 s a request: three 4-second segments are billed
    # 3 x 10 s = 30 s ($0.000925), not one 12-second stream ($0.00037).
    models = {**MODELS, "GroqSTTService": "groq/whisper-large-v3"}
    budget = PipecatBudget(limit_usd="1", models=models, segmented_stt={"GroqSTTService"})
    for _ in range(3):
        budget.observe([stt(4.0, "GroqSTTService#0")])
    assert stt_usd(budget, "groq/whisper-large-v3") == 3 * whisper(4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=0, max_value=30, places=3), min_size=1, max_size=40))
def test_the_stream_s_spend_never_lags_its_audio_and_ends_rounded_once(reports):
    budget = PipecatBudget(limit_usd="1000", models=MODELS)
    exact = Decimal(0)
    for seconds in reports:
        budget.observe([stt(float(seconds))])    # Pipecat reports floats
        exact += seconds
        # at every report, exactly what the stream would be billed if it closed now: its
        # audio so far rounded up once, to the second (never less than the audio itself)
        assert stt_seconds(budget) == math.ceil(exact) >= exact
    closed = price(Usage(NOVA, audio_seconds=exact)).total_usd if exact else Decimal(0)
    assert same_usd(stt_usd(budget), closed)


def test_generated_sessions_bill_deepgram_what_deepgram_bills():
    # Sessions from the provider-behaviour generator (tests/fit/provider_pipecat.py): the
    # microphone stream reported at each final transcript and when the pipeline stops.
    from tests.fit import provider_pipecat
    from tests.fit.timeline import TrueParams, simulate_calls

    hook = billed = per_report = Decimal(0)
    for call in simulate_calls(TrueParams(seed=4), 40):
        budget, truth = provider_pipecat.run_session(call, lambda clock: PipecatBudget(
            limit_usd="100", models=provider_pipecat.MODELS, clock=clock))
        reports = [Decimal(str(f["audio_seconds"])) for _, kind, f in
                   provider_pipecat.metrics(call) if kind == "stt"]
        # the session's stream, rounded once to the second
        assert stt_seconds(budget) == math.ceil(sum(reports))
        session = price(Usage(NOVA, audio_seconds=sum(reports))).total_usd
        assert same_usd(stt_usd(budget), session)
        hook, billed = hook + stt_usd(budget), billed + session
        per_report += sum(price(Usage(NOVA, audio_seconds=r)).total_usd for r in reports if r)
    assert same_usd(hook, billed)
    # what rounding each report on its own came to: 3.9% over these 40 streams' bill
    assert round((per_report / billed - 1) * 100, 1) == Decimal("3.9")


# -- real pipecat services ----------------------------------------------------------------------
def _stt_classes():
    from pipecat.frames.frames import InputAudioRawFrame, TextFrame
    from pipecat.services.settings import STTSettings
    from pipecat.services.stt_service import SegmentedSTTService, STTService

    class StreamingSTT(STTService):
        """A streaming service (Deepgram's shape): all the microphone audio goes to the
        provider; at each final transcript (here: a TextFrame naming the turn's audio) the
        audio since the last report is reported, and the rest when the pipeline stops."""

        def __init__(self, **kwargs):
            super().__init__(settings=STTSettings(model="nova-3", language=None), **kwargs)

        def can_generate_metrics(self):
            return True

        async def run_stt(self, audio):
            return
            yield

        async def process_frame(self, frame, direction):
            if not isinstance(frame, TextFrame):
                await super().process_frame(frame, direction)
                return
            await super(STTService, self).process_frame(frame, direction)
            seconds, final = frame.text.split()
            audio = b"\0" * int(float(seconds) * 32000)   # 16-bit mono at 16 kHz
            await self.process_audio_frame(InputAudioRawFrame(
                audio=audio, sample_rate=16000, num_channels=1), direction)
            if final == "final":
                await self.emit_stt_usage_metrics()

    class SegmentedSTT(SegmentedSTTService):
        """A segmented service (Whisper's shape): each VAD segment is uploaded, and reported,
        alone (pipecat pads it with 0.5 s of silence)."""

        def __init__(self, **kwargs):
            super().__init__(settings=STTSettings(model="whisper-large-v3", language=None),
                             **kwargs)

        def can_generate_metrics(self):
            return True

        async def run_stt(self, audio):
            return
            yield

    return StreamingSTT, SegmentedSTT


async def _run(stt_service, frames, **budget_kwargs):
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams

    from costmodel.hooks import pipecat as hook

    PipelineWorker, Runner = _worker_and_runner()
    budget = hook.BudgetObserver(limit_usd="1", **budget_kwargs)
    task = PipelineWorker(Pipeline([stt_service]), observers=[budget], idle_timeout_secs=None,
                          params=PipelineParams(enable_usage_metrics=True))
    budget.task = task
    for frame in frames:
        await task.queue_frame(frame)
    runner = Runner(handle_sigint=False)
    await runner.add_workers(task)
    await asyncio.wait_for(runner.run(), timeout=30)
    return budget


def test_a_real_streaming_service_is_billed_once_for_its_stream(tmp_path):
    _pipecat()
    from pipecat.frames.frames import EndFrame, TextFrame

    from costmodel.guard.spendlog import read_spend_log

    streaming, _ = _stt_classes()
    # three turns of 3.5 s, each reported at its final transcript, then 0.25 s more of
    # microphone audio, flushed by the service as it stops (after the EndFrame's first push)
    frames = [TextFrame(text="3.5 final") for _ in range(3)]
    frames += [TextFrame(text="0.25 trailing"), EndFrame()]
    budget = asyncio.run(_run(streaming(name="DeepgramSTTService#0"), frames, models=MODELS,
                              spend_log=tmp_path / "s.jsonl"))
    # 10.75 s of one stream: 11 billed seconds ($0.00141166...), not 4 + 4 + 4 + 1 = 13
    assert stt_seconds(budget.budget) == 11 and same_usd(stt_usd(budget.budget), nova(11))
    [rec] = read_spend_log(tmp_path / "s.jsonl").records    # with the flush at the stop
    assert sum(u.audio_seconds for u in rec.usage) == 11
    assert rec.spent_usd == budget.guard.spent_usd


def test_a_real_segmented_service_is_billed_per_segment():
    _pipecat()
    from pipecat.frames.frames import (
        EndFrame,
        InputAudioRawFrame,
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )

    _, segmented = _stt_classes()
    frames = []
    for _ in range(3):   # three segments of 3.5 s of speech (+ 0.5 s of padding each)
        frames += [VADUserStartedSpeakingFrame(),
                   InputAudioRawFrame(audio=b"\0" * 112000, sample_rate=16000, num_channels=1),
                   VADUserStoppedSpeakingFrame()]
    frames.append(EndFrame())
    # the observer sees a SegmentedSTTService push the metrics: no segmented_stt= needed
    budget = asyncio.run(_run(segmented(name="GroqSTTService#0"), frames,
                              models={"GroqSTTService": "groq/whisper-large-v3"}))
    # each 4-second upload is a request billed at least 10 s: 30 s at $0.111/h = $0.000925
    assert [c.usage.audio_seconds for c in budget.guard.costs] == [4, 4, 4]
    assert stt_usd(budget.budget, "groq/whisper-large-v3") == 3 * whisper(4)


def test_a_report_inside_the_billed_second_adds_nothing():
    budget = PipecatBudget(limit_usd="1", models=MODELS)
    budget.observe([stt(0.6)])                     # 1 s billed
    assert budget.observe([stt(0.4)]) is None      # 1.0 s: still 1 s, nothing to price
    budget.observe([stt(59.6)])                    # 60.6 s: 61 s
    assert [c.usage.audio_seconds for c in budget.guard.costs] == [1, 60]
    assert stt_usd(budget) == nova(61)
