"""Pipecat MetricsFrame usage -> Usage; prompt_tokens is net for Anthropic, gross for OpenAI."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costmodel import Catalog, UsageError, price
from costmodel.adapters.pipecat import (
    PROMPT_TOKENS_INCLUDE_CACHE,
    usage_from_pipecat_llm,
    usage_from_pipecat_metrics,
    usage_from_pipecat_stt,
    usage_from_pipecat_tts,
)

DAY = date(2026, 11, 25)


# Shapes: LLMUsageMetricsData / LLMTokenUsage / TTSUsageMetricsData from pipecat-ai/pipecat
# src/pipecat/metrics/metrics.py, model_dump()'d. The Anthropic one is filled the way
# services/anthropic/llm.py does (prompt_tokens = sum of Anthropic input_tokens, net of cache);
# the OpenAI one the way services/openai/base_llm.py does (prompt_tokens = usage.prompt_tokens,
# gross; cache_read_input_tokens = prompt_tokens_details.cached_tokens).
ANTHROPIC_METRIC = {
    "processor": "AnthropicLLMService#0",
    "model": "claude-haiku-4-5-20251001",
    "value": {"prompt_tokens": 37, "completion_tokens": 96, "total_tokens": 133,
              "cache_read_input_tokens": 4310, "cache_creation_input_tokens": 212,
              "reasoning_tokens": None},
}
OPENAI_METRIC = {
    "processor": "OpenAILLMService#0",
    "model": "gpt-5.4-mini",
    "value": {"prompt_tokens": 3200, "completion_tokens": 150, "total_tokens": 3350,
              "cache_read_input_tokens": 2944, "cache_creation_input_tokens": None,
              "reasoning_tokens": 64},
}


def test_anthropic_prompt_tokens_are_net(pipeline: Catalog) -> None:
    u = usage_from_pipecat_metrics(ANTHROPIC_METRIC, "anthropic/claude-haiku-4.5")
    assert dict(u.tokens) == {"text.input": 37, "text.cached": 4310,
                              "text.cache_write_5m": 212, "text.output": 96}
    # 37 x 1 + 4310 x 0.10 + 212 x 1.25 + 96 x 5 = 37 + 431 + 265 + 480 = 1213 / 1M
    assert price(u, pipeline, on=DAY).total_usd == Decimal("0.001213")


def test_openai_prompt_tokens_are_gross(openai_catalog: Catalog) -> None:
    u = usage_from_pipecat_metrics(OPENAI_METRIC, "openai/gpt-5.4-mini")
    # 3200 gross - 2944 cached = 256 uncached; reasoning (64) is inside the 150 output.
    assert dict(u.tokens) == {"text.input": 256, "text.cached": 2944, "text.output": 150}
    # 256 x 0.75 + 2944 x 0.075 + 150 x 4.50 = 192 + 220.8 + 675 = 1087.8 / 1M
    assert price(u, openai_catalog, on=DAY).total_usd == Decimal("0.0010878")


def test_same_request_same_buckets_either_semantics() -> None:
    # One request: 200 uncached + 2000 cache-read input tokens, 50 output. Anthropic's service
    # reports prompt_tokens=200 (net), OpenAI's prompt_tokens=2200 (gross).
    net = {"prompt_tokens": 200, "completion_tokens": 50, "total_tokens": 250,
           "cache_read_input_tokens": 2000}
    gross = {"prompt_tokens": 2200, "completion_tokens": 50, "total_tokens": 2250,
             "cache_read_input_tokens": 2000}
    a = usage_from_pipecat_llm(net, "anthropic/claude-haiku-4.5")
    o = usage_from_pipecat_llm(gross, "openai/gpt-5.4-mini")
    expected = {"text.input": 200, "text.cached": 2000, "text.output": 50}
    assert dict(a.tokens) == dict(o.tokens) == expected
    # The override argument wins over the table: the gross payload under an Anthropic id.
    forced = usage_from_pipecat_llm(gross, "anthropic/claude-haiku-4.5",
                                    prompt_tokens_include_cache=True)
    assert dict(forced.tokens) == expected
    # Not subtracted twice: the net payload with the (wrong) gross flag would go negative.
    with pytest.raises(UsageError, match="exceed prompt_tokens"):
        usage_from_pipecat_llm(net, "openai/gpt-5.4-mini")


def test_table_is_data() -> None:
    assert PROMPT_TOKENS_INCLUDE_CACHE == {"anthropic": False, "openai": True}


def test_unknown_provider_needs_the_argument() -> None:
    payload = {"prompt_tokens": 900, "completion_tokens": 10, "total_tokens": 910,
               "cache_read_input_tokens": 512}
    with pytest.raises(UsageError, match="prompt_tokens_include_cache"):
        usage_from_pipecat_llm(payload, "groq/llama-4-scout")
    u = usage_from_pipecat_llm(payload, "groq/llama-4-scout", prompt_tokens_include_cache=True)
    assert dict(u.tokens) == {"text.input": 388, "text.cached": 512, "text.output": 10}
    # Without cache tokens there is nothing to guess: no argument needed.
    plain = usage_from_pipecat_llm({"prompt_tokens": 9, "completion_tokens": 1,
                                    "total_tokens": 10}, "groq/llama-4-scout")
    assert dict(plain.tokens) == {"text.input": 9, "text.output": 1}


def test_cache_write_bucket() -> None:
    payload = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11,
               "cache_creation_input_tokens": 300}
    u = usage_from_pipecat_llm(payload, "anthropic/claude-haiku-4.5",
                               cache_write_bucket="text.cache_write_1h")
    assert dict(u.tokens) == {"text.input": 10, "text.cache_write_1h": 300, "text.output": 1}
    with pytest.raises(UsageError, match="cache_write_bucket"):
        usage_from_pipecat_llm(payload, "anthropic/claude-haiku-4.5",
                               cache_write_bucket="text.output")
    with pytest.raises(UsageError, match="cache_write_bucket"):
        usage_from_pipecat_llm(payload, "mistral/x", prompt_tokens_include_cache=False)


def test_stt_and_tts(pipeline: Catalog) -> None:
    # STTUsageMetricsData{value: STTUsage{audio_seconds}} (newer Pipecat releases).
    stt = usage_from_pipecat_metrics({"processor": "DeepgramSTTService#0", "model": "nova-3",
                                      "value": {"audio_seconds": 12.34}}, "deepgram/nova-3")
    assert stt.audio_seconds == Decimal("12.34") and not stt.tokens
    # 13 billed seconds x 0.0060 / 60 = 0.0013
    assert price(stt, pipeline, on=DAY).total_usd == Decimal("0.0013")

    tts = usage_from_pipecat_metrics({"processor": "CartesiaTTSService#0", "model": "sonic-3",
                                      "value": 271}, "cartesia/sonic-3")
    assert tts.characters == 271
    # 271 x 50 / 1M
    assert price(tts, pipeline, on=DAY).total_usd == Decimal("0.01355")

    assert usage_from_pipecat_tts(5, "cartesia/sonic-3").characters == 5
    assert usage_from_pipecat_stt({"audio_seconds": 1}, "deepgram/nova-3").audio_seconds == 1


@pytest.mark.parametrize("call, field", [
    (lambda: usage_from_pipecat_llm({"completion_tokens": 1}, "openai/x"), "prompt_tokens"),
    (lambda: usage_from_pipecat_llm({"prompt_tokens": 1}, "openai/x"), "completion_tokens"),
    (lambda: usage_from_pipecat_llm({"prompt_tokens": -3, "completion_tokens": 1}, "openai/x"),
     "prompt_tokens"),
    (lambda: usage_from_pipecat_llm({"prompt_tokens": 3, "completion_tokens": 1,
                                     "cache_read_input_tokens": "2"}, "openai/x"),
     "cache_read_input_tokens"),
    (lambda: usage_from_pipecat_llm({"prompt_tokens": 3, "completion_tokens": 1,
                                     "reasoning_tokens": 2}, "openai/x"), "reasoning_tokens"),
    (lambda: usage_from_pipecat_llm({"prompt_tokens": 3, "completion_tokens": 1,
                                     "cache_read_input_tokens": 4}, "openai/x"),
     "cache_read_input_tokens"),
    (lambda: usage_from_pipecat_stt({}, "deepgram/nova-3"), "audio_seconds"),
    (lambda: usage_from_pipecat_stt({"audio_seconds": -1}, "deepgram/nova-3"), "audio_seconds"),
    (lambda: usage_from_pipecat_stt(3.0, "deepgram/nova-3"), "STTUsage"),  # type: ignore[arg-type]
    (lambda: usage_from_pipecat_tts(-4, "cartesia/sonic-3"), "value"),
    (lambda: usage_from_pipecat_tts({"processor": "x", "value": None}, "c/s"), "value"),
    (lambda: usage_from_pipecat_metrics({"processor": "x", "value": 0.21}, "m/x"), "TTFB"),
])
def test_malformed(call, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        call()


def test_totals_only_usage_of_a_speech_model_is_refused() -> None:
    # Pipecat's realtime services report response.done totals only: all-text buckets would
    # price the audio at text rates (several times too low).
    with pytest.raises(UsageError, match="audio and text tokens at different rates"):
        usage_from_pipecat_llm({"prompt_tokens": 1000, "completion_tokens": 200,
                                "cache_read_input_tokens": 512}, "openai/gpt-realtime-1.5")


def test_openai_prompts_may_be_all_cached_and_completions_all_reasoning() -> None:
    # gross prompt_tokens (OpenAI): 2048 = 0 uncached + 2048 read
    u = usage_from_pipecat_llm({"prompt_tokens": 2048, "completion_tokens": 60,
                                "total_tokens": 2108, "cache_read_input_tokens": 2048,
                                "reasoning_tokens": 60}, "openai/gpt-5.4-mini")
    assert dict(u.tokens) == {"text.cached": 2048, "text.output": 60}
    with pytest.raises(UsageError, match="exceed prompt_tokens"):
        usage_from_pipecat_llm({"prompt_tokens": 2048, "completion_tokens": 1,
                                "cache_read_input_tokens": 2000,
                                "cache_creation_input_tokens": 49}, "openai/gpt-5.4-mini",
                               cache_write_bucket="text.cache_write_30m")
    # net (Anthropic): the cache tokens are on top of prompt_tokens
    net = usage_from_pipecat_llm({"prompt_tokens": 10, "completion_tokens": 5,
                                  "cache_read_input_tokens": 100,
                                  "cache_creation_input_tokens": 50},
                                 "anthropic/claude-haiku-4.5")
    assert dict(net.tokens) == {"text.input": 10, "text.cached": 100,
                                "text.cache_write_5m": 50, "text.output": 5}


def test_a_total_that_is_not_a_count_is_refused() -> None:
    with pytest.raises(UsageError, match="LLMTokenUsage.total_tokens"):
        usage_from_pipecat_llm({"prompt_tokens": 3, "completion_tokens": 1,
                                "total_tokens": "4"}, "openai/x")
