"""Payloads users send, from outside sources: vendor docs, forum threads, framework tests.

Each case is one payload as its source shows it (shape and numbers), the adapter that reads
it, the catalog id it is priced under, and the exact total at the catalog's rates of `ON`,
with the hand arithmetic beside it (tokens x USD per 1M tokens). Where a source gives no
model, the case says which one it is priced as. `test_field.py` prices them all.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal as D
from typing import Any, NamedTuple

ON = date(2026, 11, 25)  # the catalog's rates of that day


class Case(NamedTuple):
    name: str
    source: str
    adapter: str      # see test_field.ADAPTERS
    model: str | None  # the catalog id; None: the payload names it (LiveKit)
    payload: Any
    usd: D


class MediaModality(str, enum.Enum):  # noqa: UP042 (google-genai's: str() is not the value)
    """google-genai ``types.MediaModality`` (a ``CaseInSensitiveEnum``), as model_dump() keeps
    it: https://github.com/googleapis/python-genai/blob/main/google/genai/types.py"""

    TEXT = "TEXT"
    AUDIO = "AUDIO"


_ILSEOKOH = ("https://github.com/ilseokoh/gemini-live-load-test/blob/"
             "65db85c8a810d8e6f1c7ba3d9ee22e1034ca947c/README.md")
_PIPECAT_5050 = ("https://github.com/pipecat-ai/pipecat/blob/main/tests/"
                 "test_openai_realtime_usage_metrics.py (pipecat #5050)")
_LK_USAGE = ("https://github.com/livekit/agents/blob/main/livekit-agents/livekit/agents/"
             "metrics/usage.py")

CASES: list[Case] = [
    # -- OpenAI Realtime response.done ----------------------------------------------------
    # text in 119-64=55 x $4 = 220; text cached 64 x $0.4 = 25.6; audio in 13 x $32 = 416;
    # text out 30 x $16 = 480; audio out 91 x $64 = 5824; sum 6965.6 / 1M = $0.0069656
    Case("openai-realtime-costs-guide", "https://platform.openai.com/docs/guides/realtime-costs",
         "openai_realtime", "openai/gpt-realtime-1.5",
         {"total_tokens": 253, "input_tokens": 132, "output_tokens": 121,
          "input_token_details": {"text_tokens": 119, "audio_tokens": 13, "image_tokens": 0,
                                  "cached_tokens": 64,
                                  "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0,
                                                            "image_tokens": 0}},
          "output_token_details": {"text_tokens": 30, "audio_tokens": 91}},
         D("0.0069656")),
    # text in 698-384=314 x $4 = 1256; cached 384 x $0.4 = 153.6; audio in 1213 x $32 = 38816;
    # text out 160 x $16 = 2560; audio out 551 x $64 = 35264; sum 78049.6 / 1M = $0.0780496
    Case("openai-community-1009129", "https://community.openai.com/t/1009129",
         "openai_realtime", "openai/gpt-realtime-1.5",
         {"total_tokens": 2622, "input_tokens": 1911, "output_tokens": 711,
          "input_token_details": {"text_tokens": 698, "audio_tokens": 1213, "cached_tokens": 384,
                                  "cached_tokens_details": {"text_tokens": 384,
                                                            "audio_tokens": 0}},
          "output_token_details": {"text_tokens": 160, "audio_tokens": 551}},
         D("0.0780496")),
    # the same payload on gpt-realtime-mini: 314 x $0.6 = 188.4; 384 x $0.06 = 23.04;
    # 1213 x $10 = 12130; 160 x $2.4 = 384; 551 x $20 = 11020; sum 23745.44 / 1M
    Case("openai-community-1009129-mini", "https://community.openai.com/t/1009129",
         "openai_realtime", "openai/gpt-realtime-mini",
         {"total_tokens": 2622, "input_tokens": 1911, "output_tokens": 711,
          "input_token_details": {"text_tokens": 698, "audio_tokens": 1213, "cached_tokens": 384,
                                  "cached_tokens_details": {"text_tokens": 384,
                                                            "audio_tokens": 0}},
          "output_token_details": {"text_tokens": 160, "audio_tokens": 551}},
         D("0.02374544")),
    # Pipecat's fixture as the response.done it is: text in 20-10=10 x $4 = 40; text cached
    # 10 x $0.4 = 4; audio in 40-20=20 x $32 = 640; audio cached 20 x $0.4 = 8;
    # text out 15 x $16 = 240; audio out 25 x $64 = 1600; sum 2532 / 1M = $0.002532
    Case("pipecat-5050-response-done", _PIPECAT_5050, "openai_realtime",
         "openai/gpt-realtime-1.5",
         {"total_tokens": 100, "input_tokens": 60, "output_tokens": 40,
          "input_token_details": {"cached_tokens": 30, "text_tokens": 20, "audio_tokens": 40,
                                  "cached_tokens_details": {"text_tokens": 10,
                                                            "audio_tokens": 20}},
          "output_token_details": {"text_tokens": 15, "audio_tokens": 25}},
         D("0.002532")),
    # -- OpenAI input transcription ----------------------------------------------------------
    # audio in 13 x $3 = 39; text out 9 x $5 = 45; sum 84 / 1M = $0.000084
    Case("openai-transcription-completed",
         "https://platform.openai.com/docs/api-reference/realtime-server-events/"
         "conversation/item/input_audio_transcription/completed",
         "openai_transcription", "openai/gpt-4o-mini-transcribe",
         {"type": "conversation.item.input_audio_transcription.completed",
          "item_id": "item_CCXGQ4e1ht4cOraEYcuR2", "content_index": 0,
          "transcript": "Hey, can you hear me?",
          "usage": {"type": "tokens", "total_tokens": 22, "input_tokens": 13,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": 13},
                    "output_tokens": 9}},
         D("0.000084")),
    # -- Gemini Live usageMetadata -----------------------------------------------------------
    # text in 410 x $0.75 = 307.5; audio in 131 x $3 = 393; audio out 156 x $12 = 1872;
    # sum 2572.5 / 1M = $0.0025725
    Case("gemini-forum-81303", "https://discuss.ai.google.dev/t/81303", "gemini",
         "google/gemini-3.1-flash-live",
         {"promptTokenCount": 541, "responseTokenCount": 156, "totalTokenCount": 697,
          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 410},
                                  {"modality": "AUDIO", "tokenCount": 131}],
          "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 156}]},
         D("0.0025725")),
    # model_dump() with enum modalities. audio in 58 x $3 = 174; text in 11 x $0.5 = 5.5;
    # text out 26 x $2 = 52; audio out 150 x $12 = 1800; sum 2031.5 / 1M = $0.0020315
    Case("gemini-live-2.5-flash-model-dump", _ILSEOKOH, "gemini",
         "google/gemini-2.5-flash-native-audio",
         {"prompt_token_count": 69, "cached_content_token_count": None,
          "response_token_count": 176, "tool_use_prompt_token_count": None,
          "thoughts_token_count": None, "total_token_count": 245,
          "prompt_tokens_details": [{"modality": MediaModality.AUDIO, "token_count": 58},
                                    {"modality": MediaModality.TEXT, "token_count": 11}],
          "cache_tokens_details": None,
          "response_tokens_details": [{"modality": MediaModality.TEXT, "token_count": 26},
                                      {"modality": MediaModality.AUDIO, "token_count": 150}],
          "tool_use_prompt_tokens_details": None, "traffic_type": None},
         D("0.0020315")),
    # audio in 59 x $3 = 177; text in 11 x $0.5 = 5.5; audio out 440 x $12 = 5280;
    # sum 5462.5 / 1M = $0.0054625
    Case("gemini-live-2.5-flash-preview-native-audio-model-dump", _ILSEOKOH, "gemini",
         "google/gemini-2.5-flash-native-audio",
         {"prompt_token_count": 70, "cached_content_token_count": None,
          "response_token_count": 440, "tool_use_prompt_token_count": None,
          "thoughts_token_count": None, "total_token_count": 510,
          "prompt_tokens_details": [{"modality": MediaModality.AUDIO, "token_count": 59},
                                    {"modality": MediaModality.TEXT, "token_count": 11}],
          "cache_tokens_details": None,
          "response_tokens_details": [{"modality": MediaModality.AUDIO, "token_count": 440}],
          "tool_use_prompt_tokens_details": None, "traffic_type": None},
         D("0.0054625")),
    # Vertex's candidates* names. text in 76662 x $0.3 = 22998.6; text out 2047 x $2.5 =
    # 5117.5; sum 28116.1 / 1M = $0.0281161 (the source ran gemini-2.5-pro, which the catalog
    # does not carry: priced as gemini-2.5-flash)
    Case("vertex-generate-content-candidates",
         "https://github.com/oforisml/TerraTitan/blob/main/data/scripts/openai-cli/responses/"
         "gemini-0326103856/summary.md", "gemini", "google/gemini-2.5-flash",
         {"promptTokenCount": 76662, "candidatesTokenCount": 2047, "totalTokenCount": 78709,
          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 76662}]},
         D("0.0281161")),
    # A total without the thoughts, as the Live UsageMetadata reference defines it ("Total
    # token count for prompt, response candidates, and tool-use prompts"): thoughts are output.
    # text in 1210 x $0.75 = 907.5; audio in 270 x $3 = 810; audio out 212 x $12 = 2544;
    # thoughts 1090 x $4.5 = 4905; sum 9166.5 / 1M = $0.0091665
    Case("gemini-live-thoughts-outside-total",
         "https://googleapis.github.io/js-genai/release_docs/interfaces/types.UsageMetadata.html",
         "gemini", "google/gemini-3.1-flash-live",
         {"promptTokenCount": 1480, "responseTokenCount": 212, "thoughtsTokenCount": 1090,
          "totalTokenCount": 1692,
          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1210},
                                  {"modality": "AUDIO", "tokenCount": 270}],
          "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 212}]},
         D("0.0091665")),
    # -- Pipecat LLMTokenUsage -----------------------------------------------------------------
    # as pipecat-5050-response-done: $0.002532
    Case("pipecat-5050-llm-token-usage", _PIPECAT_5050, "pipecat_llm", "openai/gpt-realtime-1.5",
         {"processor": "OpenAIRealtimeLLMService#0", "model": "gpt-realtime",
          "value": {"prompt_tokens": 60, "completion_tokens": 40, "total_tokens": 100,
                    "cache_read_input_tokens": 30, "cache_creation_input_tokens": None,
                    "reasoning_tokens": None, "input_audio_tokens": 40,
                    "output_audio_tokens": 25, "cache_read_input_audio_tokens": 20}},
         D("0.002532")),
    # text in 6 x $4 = 24; text out 4 x $16 = 64; sum 88 / 1M = $0.000088
    Case("pipecat-5050-no-cached-details", _PIPECAT_5050, "pipecat_llm",
         "openai/gpt-realtime-1.5",
         {"prompt_tokens": 6, "completion_tokens": 4, "total_tokens": 10,
          "cache_read_input_tokens": 0, "input_audio_tokens": 0, "output_audio_tokens": 0,
          "cache_read_input_audio_tokens": None},
         D("0.000088")),
    # The ilseokoh usage_metadata as pipecat #5052's GeminiLiveLLMService reports it:
    # text in 69-58=11 x $0.5 = 5.5; audio in 58 x $3 = 174; text out 176-150=26 x $2 = 52;
    # audio out 150 x $12 = 1800; sum 2031.5 / 1M = $0.0020315
    Case("pipecat-5052-gemini-live", _ILSEOKOH + " via https://github.com/pipecat-ai/pipecat/"
         "blob/main/src/pipecat/services/google/gemini_live/llm.py", "pipecat_llm",
         "google/gemini-2.5-flash-native-audio",
         {"prompt_tokens": 69, "completion_tokens": 176, "total_tokens": 245,
          "cache_read_input_tokens": None, "cache_creation_input_tokens": None,
          "reasoning_tokens": None, "input_audio_tokens": 58, "output_audio_tokens": 150,
          "cache_read_input_audio_tokens": None},
         D("0.0020315")),
    # Anthropic service (prompt_tokens net of the cache): text in 37 x $1 = 37; cached 4310 x
    # $0.1 = 431; 5m write 212 x $1.25 = 265; out 96 x $5 = 480; sum 1213 / 1M = $0.001213
    Case("pipecat-anthropic-service",
         "https://github.com/pipecat-ai/pipecat/blob/main/src/pipecat/services/anthropic/llm.py",
         "pipecat_llm", "anthropic/claude-haiku-4.5",
         {"processor": "AnthropicLLMService#0", "model": "claude-haiku-4-5-20251001",
          "value": {"prompt_tokens": 37, "completion_tokens": 96, "total_tokens": 133,
                    "cache_read_input_tokens": 4310, "cache_creation_input_tokens": 212,
                    "reasoning_tokens": None}},
         D("0.001213")),
    # OpenAI service (gross): text in 3200-2944=256 x $0.75 = 192; cached 2944 x $0.075 =
    # 220.8; out 150 x $4.5 = 675 (reasoning inside); sum 1087.8 / 1M = $0.0010878
    Case("pipecat-openai-service",
         "https://github.com/pipecat-ai/pipecat/blob/main/src/pipecat/services/openai/base_llm.py",
         "pipecat_llm", "openai/gpt-5.4-mini",
         {"processor": "OpenAILLMService#0", "model": "gpt-5.4-mini",
          "value": {"prompt_tokens": 3200, "completion_tokens": 150, "total_tokens": 3350,
                    "cache_read_input_tokens": 2944, "cache_creation_input_tokens": None,
                    "reasoning_tokens": 64}},
         D("0.0010878")),
    # TTSUsageMetricsData: 142 characters x $50 / 1M characters = $0.0071
    Case("pipecat-tts-characters",
         "https://github.com/pipecat-ai/pipecat/blob/main/src/pipecat/metrics/metrics.py",
         "pipecat_tts", "cartesia/sonic-3",
         {"processor": "CartesiaTTSService#0", "model": "sonic-3", "value": 142},
         D("0.0071")),
    # -- Anthropic and OpenAI chat usage -------------------------------------------------------
    # text in 337 x $1 = 337; 5m write 46209 x $1.25 = 57761.25; out 342 x $5 = 1710;
    # sum 59808.25 / 1M = $0.05980825 (the post names no model: priced as Claude Haiku 4.5)
    Case("anthropic-usage-convex-191", "https://github.com/get-convex/agent/issues/191",
         "anthropic", "anthropic/claude-haiku-4.5",
         {"cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 46209},
          "cache_creation_input_tokens": 46209, "cache_read_input_tokens": 0,
          "input_tokens": 337, "output_tokens": 342, "service_tier": "standard"},
         D("0.05980825")),
    # text in 2006-1920=86 x $0.75 = 64.5; cached 1920 x $0.075 = 144; out 300 x $4.5 = 1350;
    # sum 1558.5 / 1M = $0.0015585 (the guide names no model: priced as gpt-5.4-mini)
    Case("openai-prompt-caching-guide", "https://platform.openai.com/docs/guides/prompt-caching",
         "openai_chat", "openai/gpt-5.4-mini",
         {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
          "prompt_tokens_details": {"cached_tokens": 1920}},
         D("0.0015585")),
    # -- LiveKit session_usage_updated ----------------------------------------------------------
    # The OpenAI realtime guide's response accumulated by ModelUsageCollector: $0.0069656 as
    # above; the chained LLM: text in 5400-4096=1304 x $0.75 = 978; cached 4096 x $0.075 =
    # 307.2; out 220 x $4.5 = 990; sum 2275.2 / 1M = $0.0022752
    Case("livekit-openai-plugins", _LK_USAGE, "livekit", None,
         {"type": "session_usage_updated", "usage": {"model_usage": [
             {"type": "llm_usage", "provider": "api.openai.com", "model": "gpt-realtime-1.5",
              "input_tokens": 132, "input_cached_tokens": 64, "input_audio_tokens": 13,
              "input_cached_audio_tokens": 0, "input_text_tokens": 119,
              "input_cached_text_tokens": 64, "input_image_tokens": 0,
              "input_cached_image_tokens": 0, "output_tokens": 121, "output_audio_tokens": 91,
              "output_text_tokens": 30, "session_duration": 0.0}]}},
         D("0.0069656")),
    Case("livekit-openai-chained-llm", _LK_USAGE, "livekit", None,
         [{"type": "llm_usage", "provider": "api.openai.com", "model": "gpt-5.4-mini",
           "input_tokens": 5400, "input_cached_tokens": 4096, "output_tokens": 220}],
         D("0.0022752")),
    # livekit/agents #6655's own test: two LLMMetrics (prompt 100, cached 20, completion 10,
    # cache_creation 42 and 8) collected: input 200, cached 40, written 50, out 20.
    # text in 200-40-50=110 x $3 = 330; cached 40 x $0.3 = 12; 5m write 50 x $3.75 = 187.5;
    # out 20 x $15 = 300; sum 829.5 / 1M = $0.0008295 (claude-sonnet-4 is not in the catalog:
    # priced as Sonnet 4.5, the same list price)
    Case("livekit-6655-cache-creation",
         "https://github.com/livekit/agents/blob/main/tests/test_metrics_usage.py", "livekit",
         "anthropic/claude-sonnet-4.5",
         [{"type": "llm_usage", "provider": "anthropic", "model": "claude-sonnet-4",
           "input_tokens": 200, "input_cached_tokens": 40, "input_cache_creation_tokens": 50,
           "output_tokens": 20, "output_reasoning_tokens": 0}],
         D("0.0008295")),
    # Issue 11's case: 3000 written x $1.25 = 3750; out 70 x $5 = 350; sum 4100 / 1M = $0.0041
    Case("livekit-anthropic-cache-writes", "https://github.com/livekit/agents/pull/6655",
         "livekit", None,
         [{"type": "llm_usage", "provider": "api.anthropic.com",
           "model": "claude-haiku-4-5-20251001", "input_tokens": 3000, "input_cached_tokens": 0,
           "input_cache_creation_tokens": 3000, "output_tokens": 70}],
         D("0.0041")),
    # The AWS realtime plugin's RealtimeModelMetrics (input = speech + text tokens, no cache)
    # accumulated; provider "Amazon", model "amazon.nova-2-sonic-v1:0" (its default):
    # text in 360 x $0.33 = 118.8; audio in 3850 x $3 = 11550; text out 290 x $2.75 = 797.5;
    # audio out 2700 x $12 = 32400; sum 44866.3 / 1M = $0.0448663
    Case("livekit-amazon-nova-sonic",
         "https://github.com/livekit/agents/blob/main/livekit-plugins/livekit-plugins-aws/"
         "livekit/plugins/aws/experimental/realtime/realtime_model.py", "livekit", None,
         [{"type": "llm_usage", "provider": "Amazon", "model": "amazon.nova-2-sonic-v1:0",
           "input_tokens": 4210, "input_cached_tokens": 0, "input_audio_tokens": 3850,
           "input_text_tokens": 360, "output_tokens": 2990, "output_audio_tokens": 2700,
           "output_text_tokens": 290}],
         D("0.0448663")),
    # The Gemini plugin: input_tokens = promptTokenCount (675) over the AUDIO/TEXT/IMAGE
    # counts (648): the 27 are text. text in 412+27=439 x $0.75 = 329.25; audio in 236 x $3 =
    # 708; audio out 310 x $12 = 3720; sum 4757.25 / 1M = $0.00475725
    Case("livekit-gemini-prompt-past-modalities",
         "https://github.com/livekit/agents/blob/main/livekit-plugins/livekit-plugins-google/"
         "livekit/plugins/google/realtime/realtime_api.py", "livekit", None,
         [{"type": "llm_usage", "provider": "Gemini", "model": "gemini-3.1-flash-live-preview",
           "input_tokens": 675, "input_text_tokens": 412, "input_audio_tokens": 236,
           "output_tokens": 310, "output_audio_tokens": 310}],
         D("0.00475725")),
    # STTModelUsage with input_audio_tokens: audio in 420 x $3 = 1260; text in 30 x $1.25 =
    # 37.5; text out 35 x $5 = 175; sum 1472.5 / 1M = $0.0014725
    Case("livekit-stt-input-audio-tokens", _LK_USAGE, "livekit", None,
         [{"type": "stt_usage", "provider": "api.openai.com", "model": "gpt-4o-mini-transcribe",
           "input_tokens": 450, "input_audio_tokens": 420, "output_tokens": 35,
           "audio_duration": 42.0}],
         D("0.0014725")),
]
