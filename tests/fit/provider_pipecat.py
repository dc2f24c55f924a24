"""A `Call` through a chained Pipecat pipeline (Deepgram Nova-3 -> OpenAI GPT-5.4 mini ->
Cartesia Sonic-3), as the ``MetricsFrame``\\ s its services push, fed to a real `PipecatBudget`.

Provider and framework behaviour (not costmodel's estimator):

- Deepgram streaming STT is sent the whole microphone stream, silence included; Pipecat's
  ``STTService`` reports "incremental deltas since the previous usage report" of
  "client-measured seconds of audio submitted", so "their summed audio_seconds approximates
  the stream duration", once per final transcript and once more when the pipeline stops
  (pipecat ``metrics/metrics.py`` ``STTUsage``; ``services/deepgram/stt.py``).
- The OpenAI LLM is sent the whole text history every turn. Chat messages cost their content
  + 3 tokens each, and every reply is primed with 3 more (OpenAI cookbook, "How to count
  tokens with tiktoken",
  https://developers.openai.com/cookbook/examples/how_to_count_tokens_with_tiktoken).
  Automatic prompt caching, as for Realtime: 1024 tokens minimum, hits in increments of 128
  (cookbook, Prompt Caching 201); a request hits (the previous prompt, rounded down to 128,
  is read from cache) or misses. Pipecat copies ``prompt_tokens`` (gross) and
  ``cached_tokens`` into ``cache_read_input_tokens`` (``services/openai/base_llm.py``).
- Cartesia TTS reports the characters of each sentence it is sent (``TTSUsageMetricsData``,
  ``services/cartesia/tts.py``: ``start_tts_usage_metrics(text)`` per ``run_tts``).
- Hanging up ends the pipeline: what was not yet synthesised is never billed; the STT's
  trailing audio is flushed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .timeline import Call

MODELS = {"DeepgramSTTService": "deepgram/nova-3", "OpenAILLMService": "openai/gpt-5.4-mini",
          "CartesiaTTSService": "cartesia/sonic-3"}
PER_MESSAGE = 3
REPLY_PRIMING = 3
CACHE_MIN_PREFIX = 1024
CACHE_INCREMENT = 128
SENTENCE_CHARACTERS = 70  # Pipecat's TTS takes the LLM's text a sentence at a time


@dataclass(frozen=True)
class SessionTruth:
    responses: int            # LLM completions
    hits: int
    prompt_tokens: int
    characters: int
    stt_seconds: float


class ReplayClock:
    """A monotonic clock that reads the simulated time (``clock=`` of the hooks)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _sentences(characters: int) -> list[int]:
    n = max(1, round(characters / SENTENCE_CHARACTERS))
    base, extra = divmod(characters, n)
    return [base + (i < extra) for i in range(n)]


def metrics(call: Call) -> Iterator[tuple[float, str, dict[str, Any]]]:
    """(time, kind, fields) of every usage metric the pipeline pushes, in time order; kind is
    ``stt``, ``llm`` or ``tts`` and fields the ``*MetricsData``'s ``value``."""
    p = call.params
    history = p.system_tokens + PER_MESSAGE  # the system message
    previous_prompt = 0
    reported = 0.0
    for k, turn in enumerate(call.turns):
        yield turn.commit_s, "stt", {"audio_seconds": round(turn.commit_s - reported, 3)}
        reported = round(turn.commit_s, 3)
        history += turn.user_text_tokens + PER_MESSAGE
        prompt = history + REPLY_PRIMING
        cached = 0
        if k and turn.hit and previous_prompt >= CACHE_MIN_PREFIX:
            cached = previous_prompt // CACHE_INCREMENT * CACHE_INCREMENT
        # The completion (and its usage) is in before the first sentence is spoken.
        done = turn.commit_s + 0.6 * (turn.agent_start_s - turn.commit_s)
        if done >= call.seconds:
            break  # the caller hung up before the answer came back
        completion = turn.agent_text_tokens
        yield done, "llm", {"prompt_tokens": prompt, "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                            "cache_read_input_tokens": cached, "reasoning_tokens": 0}
        previous_prompt = prompt
        history += completion + PER_MESSAGE
        sentences = _sentences(turn.characters)
        for i, chars in enumerate(sentences):
            at = turn.agent_start_s + turn.agent_s * i / len(sentences)
            if at >= call.seconds:
                break
            yield at, "tts", {"characters": chars}
    yield call.seconds, "stt", {"audio_seconds": round(call.seconds - reported, 3)}


def metrics_frame(kind: str, fields: dict[str, Any]) -> Any:
    """The real Pipecat ``MetricsFrame`` a service pushes for one usage metric."""
    from pipecat.frames.frames import MetricsFrame
    from pipecat.metrics.metrics import (
        LLMTokenUsage,
        LLMUsageMetricsData,
        STTUsage,
        STTUsageMetricsData,
        TTSUsageMetricsData,
    )

    data: Any
    if kind == "stt":
        data = STTUsageMetricsData(processor="DeepgramSTTService#0", model="nova-3",
                                   value=STTUsage(**fields))
    elif kind == "llm":
        data = LLMUsageMetricsData(processor="OpenAILLMService#0", model="gpt-5.4-mini",
                                   value=LLMTokenUsage(**fields))
    else:
        data = TTSUsageMetricsData(processor="CartesiaTTSService#0", model="sonic-3",
                                   value=fields["characters"])
    return MetricsFrame(data=[data])


def run_session(call: Call, budget_of: Callable[[ReplayClock], Any]) -> tuple[Any, SessionTruth]:
    """Feed `call`'s metrics to the `PipecatBudget` that ``budget_of(clock)`` builds (when the
    call connects, clock at 0), advancing the clock to each metric's time, and finalize it
    when the call ends. Returns the budget and what the providers did."""
    clock = ReplayClock()
    budget = budget_of(clock)
    hits = prompts = chars = responses = 0
    stt = 0.0
    for at, kind, fields in metrics(call):
        clock.now = at
        budget.observe(metrics_frame(kind, fields))
        if kind == "llm":
            responses += 1
            prompts += fields["prompt_tokens"]
            hits += fields["cache_read_input_tokens"] > 0
        elif kind == "tts":
            chars += fields["characters"]
        else:
            stt += fields["audio_seconds"]
    clock.now = call.seconds
    budget.finalize()
    return budget, SessionTruth(responses, hits, prompts, chars, stt)
