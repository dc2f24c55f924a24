"""Pipecat MetricsFrame usage -> Usage; prompt_tokens is net for Anthropic, gross for OpenAI."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costmodel import Catalog, UsageError, price
from costmodel.adapters.pipecat import (
    PROMPT_TOKENS_INCLUDE_CACHE,
    REASONING_IN_COMPLETION,
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
    assert PROMPT_TOKENS_INCLUDE_CACHE == {"anthropic": False, "openai": True, "google": True}
    assert REASONING_IN_COMPLETION == {"openai": True, "google": False}


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


# ---- realtime usage with audio counts (pipecat #5050 / #5052, issue 11) --------------------

def test_openai_realtime_usage_with_audio_counts_is_priced(builtin) -> None:
    # pipecat #5050 (https://github.com/pipecat-ai/pipecat/pull/5050), its own test
    # tests/test_openai_realtime_usage_metrics.py: response.done usage {input 60 = text 20 +
    # audio 40, cached 30 = text 10 + audio 20; output 40 = text 15 + audio 25} becomes this
    # LLMTokenUsage. main refused it as "totals only".
    metric = {"processor": "OpenAIRealtimeLLMService#0", "model": "gpt-realtime",
              "value": {"prompt_tokens": 60, "completion_tokens": 40, "total_tokens": 100,
                        "cache_read_input_tokens": 30, "cache_creation_input_tokens": None,
                        "reasoning_tokens": None, "input_audio_tokens": 40,
                        "output_audio_tokens": 25, "cache_read_input_audio_tokens": 20}}
    u = usage_from_pipecat_metrics(metric, "openai/gpt-realtime-1.5")
    # the buckets of the response.done it came from, split once
    assert dict(u.tokens) == {"text.input": 10, "text.cached": 10, "audio.input": 20,
                              "audio.cached": 20, "text.output": 15, "audio.output": 25}
    assert not u.estimated
    # 10 x $4 + 10 x $0.4 + 20 x $32 + 20 x $0.4 + 15 x $16 + 25 x $64 per 1M
    # = 40 + 4 + 640 + 8 + 240 + 1600 = $0.002532
    assert price(u, builtin, on=DAY).total_usd == Decimal("0.002532")
    # without cached details (the same test's second case: cached_tokens_details None)
    bare = usage_from_pipecat_llm({"prompt_tokens": 6, "completion_tokens": 4,
                                   "total_tokens": 10, "cache_read_input_tokens": 0,
                                   "input_audio_tokens": 0, "output_audio_tokens": 0,
                                   "cache_read_input_audio_tokens": None},
                                  "openai/gpt-realtime-1.5")
    assert dict(bare.tokens) == {"text.input": 6, "text.output": 4}


def test_gemini_live_usage_with_audio_counts_is_priced(builtin) -> None:
    # pipecat #5052 (https://github.com/pipecat-ai/pipecat/pull/5052): GeminiLiveLLMService
    # fills LLMTokenUsage from usage_metadata (services/google/gemini_live/llm.py:
    # prompt_token_count, response_token_count, cached_content_token_count,
    # thoughts_token_count as reasoning_tokens, the AUDIO entries of the details). The
    # usage_metadata is gemini-live-2.5-flash's, printed in
    # https://github.com/ilseokoh/gemini-live-load-test/blob/65db85c8a810d8e6f1c7ba3d9ee22e1034ca947c/README.md
    value = {"prompt_tokens": 69, "completion_tokens": 176, "total_tokens": 245,
             "cache_read_input_tokens": None, "cache_creation_input_tokens": None,
             "reasoning_tokens": None, "input_audio_tokens": 58, "output_audio_tokens": 150,
             "cache_read_input_audio_tokens": None}
    u = usage_from_pipecat_llm(value, "google/gemini-2.5-flash-native-audio")
    assert dict(u.tokens) == {"text.input": 11, "audio.input": 58, "text.output": 26,
                              "audio.output": 150}
    # 11 x $0.5 + 58 x $3 + 26 x $2 + 150 x $12 per 1M = 5.5 + 174 + 52 + 1800 = $0.0020315
    assert price(u, builtin, on=DAY).total_usd == Decimal("0.0020315")
    # thoughts (reasoning_tokens) are beside Gemini's response: output, added
    thinking = usage_from_pipecat_llm({**value, "reasoning_tokens": 40},
                                      "google/gemini-2.5-flash-native-audio")
    assert thinking.tokens["text.output"] == 66


def test_audio_counts_past_their_totals_are_priced_as_reported_and_flagged() -> None:
    u = usage_from_pipecat_llm({"prompt_tokens": 50, "completion_tokens": 20,
                                "input_audio_tokens": 60, "output_audio_tokens": 25},
                               "openai/gpt-realtime-1.5")
    assert dict(u.tokens) == {"audio.input": 60, "audio.output": 25} and u.estimated


@pytest.mark.parametrize("data", [{}, {"processor": "X#0", "model": "m"}, [1], None])
def test_metrics_data_without_a_value_is_refused(data) -> None:
    with pytest.raises(UsageError, match="MetricsData must be an object with a 'value'"):
        usage_from_pipecat_metrics(data, "openai/gpt-4o")
