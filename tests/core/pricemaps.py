"""Small price maps in both public formats, and a test catalog to hold them against.

Rows are copied from the real maps (values unchanged):
- LiteLLM 1.110.2, ``litellm/model_prices_and_context_window_backup.json`` in the wheel
  (https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json);
- genai-prices 0.2.3, ``genai_prices/data.py`` in the wheel, in the JSON shape of its
  ``prices/data.json`` (https://github.com/pydantic/genai-prices/blob/main/prices/data.json).

The catalog is a test copy with fixed figures, so these tests do not move when list prices do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LITELLM: dict[str, Any] = {
    "sample_spec": {"input_cost_per_token": 0.0, "litellm_provider": "one of ..."},
    "gpt-realtime-mini-2025-12-15": {
        "cache_creation_input_audio_token_cost": 3e-07, "cache_read_input_audio_token_cost": 3e-07,
        "cache_read_input_image_token_cost": 8e-08, "cache_read_input_token_cost": 6e-08,
        "input_cost_per_audio_token": 1e-05, "input_cost_per_image_token": 8e-07,
        "input_cost_per_token": 6e-07, "litellm_provider": "openai", "mode": "realtime",
        "output_cost_per_audio_token": 2e-05, "output_cost_per_token": 2.4e-06},
    # Azure's copy of the same model: a cloud's price, never compared with OpenAI's.
    "azure/gpt-realtime-mini": {
        "input_cost_per_audio_token": 9e-06, "litellm_provider": "azure", "mode": "realtime"},
    "gpt-4o-transcribe": {
        "input_cost_per_audio_token": 2.5e-06, "input_cost_per_token": 2.5e-06,
        "litellm_provider": "openai", "mode": "audio_transcription",
        "output_cost_per_token": 1e-05, "input_cost_per_second": 0.0001},
    "xai/grok-voice-latest": {
        "input_cost_per_second": 0.001333333333333, "input_cost_per_text_message": 0.004,
        "litellm_provider": "xai", "mode": "realtime"},
    # Deepgram: batch rates under deepgram/<model>, streaming under deepgram/streaming/<model>.
    "deepgram/nova-3": {
        "input_cost_per_second": 7.167e-05, "litellm_provider": "deepgram",
        "mode": "audio_transcription", "output_cost_per_second": 0.0},
    "deepgram/streaming/nova-3": {
        "input_cost_per_second": 0.00012833, "litellm_provider": "deepgram",
        "mode": "audio_transcription", "output_cost_per_second": 0.0},
    "elevenlabs/eleven_flash_v2_5": {
        "input_cost_per_character": 4e-05, "litellm_provider": "elevenlabs",
        "mode": "audio_speech"},
    "claude-haiku-4-5": {
        "cache_creation_input_token_cost": 1.25e-06,
        "cache_creation_input_token_cost_above_1hr": 2e-06,
        "cache_creation_input_token_cost_batches": 6.25e-07, "cache_read_input_token_cost": 1e-07,
        "input_cost_per_token": 1e-06, "input_cost_per_token_batches": 5e-07,
        "litellm_provider": "anthropic", "mode": "chat", "output_cost_per_token": 5e-06},
    # Bedrock's US profile bills 10% more: a cloud's price, never compared with Anthropic's.
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": {
        "cache_read_input_token_cost": 1.1e-07, "input_cost_per_token": 1.1e-06,
        "litellm_provider": "bedrock_converse", "mode": "chat", "output_cost_per_token": 5.5e-06},
}

GENAI: list[Any] = [
    {"id": "openai", "name": "OpenAI", "models": [
        {"id": "gpt-realtime-mini",
         "match": {"or": [{"equals": "gpt-realtime-mini"}, {"equals": "gpt-realtime-2.1-mini"},
                          {"equals": "gpt-realtime-mini-2025-12-15"},
                          {"equals": "gpt-realtime-mini-2025-10-06"}]},
         "prices": {"input_mtok": 0.6, "cache_read_mtok": 0.06, "output_mtok": 2.4,
                    "input_audio_mtok": 10, "cache_audio_read_mtok": 0.3,
                    "output_audio_mtok": 20, "input_image_mtok": 0.8,
                    "cache_image_read_mtok": 0.08}}]},
    {"id": "x-ai", "name": "xAI", "models": [
        {"id": "grok-voice-latest",
         "match": {"or": [{"equals": "grok-voice-latest"}, {"equals": "grok-voice-3.0"}]},
         "prices": [
             {"prices": {"audio_hours": 3, "input_text_messages_kcount": 4}},
             {"constraint": {"start_date": "2026-08-05"},
              "prices": {"audio_hours": 4.8, "input_text_messages_kcount": 4}}]}]},
    {"id": "anthropic", "name": "Anthropic", "models": [
        {"id": "claude-haiku-4-5",
         "match": {"or": [{"starts_with": "claude-haiku-4-5"},
                          {"starts_with": "claude-haiku-4.5"}]},
         "prices": {"input_mtok": 1, "cache_write_mtok": 1.25, "cache_read_mtok": 0.1,
                    "output_mtok": 5, "cache_write_1h_mtok": 2, "web_searches_kcount": 10}}]},
    # DeepSeek: off-peak by default, peak hours as time-of-day prices
    {"id": "deepseek", "name": "DeepSeek", "models": [
        {"id": "deepseek-v4-flash",
         "match": {"or": [{"starts_with": "deepseek-v4-flash"}]},
         "prices": [
             {"prices": {"input_mtok": 0.14, "cache_read_mtok": 0.0028, "output_mtok": 0.28}},
             {"constraint": {"start_date": "2026-08-17"},
              "prices": {"input_mtok": 0.22, "cache_read_mtok": 0.007, "output_mtok": 0.66}},
             {"constraint": {"start_date": "2026-09-10"},
              "prices": {"input_mtok": 0.15, "cache_read_mtok": 0.003, "output_mtok": 0.6}},
             {"constraint": {"start_time": "01:00:00Z", "end_time": "04:00:00Z"},
              "prices": {"input_mtok": 0.3, "cache_read_mtok": 0.006, "output_mtok": 1.2}},
             {"constraint": {"start_time": "06:00:00Z", "end_time": "10:00:00Z"},
              "prices": {"input_mtok": 0.3, "cache_read_mtok": 0.006, "output_mtok": 1.2}}]}]},
    {"id": "openrouter", "name": "OpenRouter", "models": [
        {"id": "anthropic/claude-haiku-4.5", "match": {"equals": "anthropic/claude-haiku-4.5"},
         "prices": {"input_mtok": 9, "output_mtok": 9}}]},
]

# genai-prices 0.2.3 ships its data as Python (genai_prices/data.py); an excerpt, verbatim
# but for the models left out (a text file: its long lines are the package's).
GENAI_PY = (Path(__file__).parent / "genai_prices_data_excerpt.py.txt").read_text()

CATALOG = """
provider: test
models:
  - id: openai/gpt-realtime-mini
    kind: realtime
    name: GPT Realtime mini (test copy)
    prices:
      - effective: 2025-10-06
        checked: 2026-11-25
        source: https://developers.openai.com/api/docs/models/gpt-realtime-mini
        tokens:
          text: {input: 0.60, cached: 0.06, output: 2.40}
          audio: {input: 10.00, cached: 0.30, output: 20.00}
  - id: openai/gpt-4o-transcribe
    kind: stt
    name: GPT-4o Transcribe (test copy)
    prices:
      - effective: 2025-03-20
        checked: 2026-11-24
        source: https://developers.openai.com/api/docs/pricing
        alternatives:
          - source: https://developers.openai.com/api/docs/models/gpt-4o-transcribe
            figure: audio input $2.50 / 1M tokens
            note: the model page; the pricing page says $6
        tokens:
          text: {input: 2.50, output: 10.00}
          audio: {input: 6.00}
  - id: xai/grok-voice-latest
    kind: realtime
    name: Grok Voice, latest alias (test copy at the stale rate issue 11 found)
    prices:
      - effective: 2025-12-17
        checked: 2026-11-25
        source: https://docs.x.ai/docs/models
        connection: {usd_per_minute: 0.05}
  - id: deepgram/nova-3
    kind: stt
    name: Nova-3 (test copy)
    prices:
      - effective: 2025-01-01
        checked: 2026-11-25
        source: https://deepgram.com/pricing
        alternatives:
          - source: LiteLLM 1.110.2 model_prices_and_context_window_backup.json
            figure: streaming, older launch pricing
        audio: {usd_per_minute: 0.0048}
  - id: elevenlabs/flash-v2.5
    kind: tts
    name: Flash v2.5 (test copy)
    aliases: [eleven_flash_v2_5]
    prices:
      - effective: 2025-01-01
        checked: 2026-11-25
        source: https://elevenlabs.io/pricing/api
        characters: {usd_per_mchar: 40}
  - id: deepseek/deepseek-v4-flash
    kind: llm
    name: DeepSeek V4 Flash, peak-hour list price (test copy)
    prices:
      - effective: 2026-09-10
        checked: 2026-11-25
        source: https://api-docs.deepseek.com/quick_start/pricing
        tokens:
          text: {input: 0.30, cached: 0.006, output: 1.20}
  - id: anthropic/claude-haiku-4.5
    kind: llm
    name: Claude Haiku 4.5 (test copy)
    aliases: [claude-haiku-4-5]
    prices:
      - effective: 2025-10-15
        checked: 2026-11-25
        source: https://platform.claude.com/docs/en/about-claude/pricing
        tokens:
          text: {input: 1.00, cached: 0.10, cache_write_5m: 1.25, cache_write_1h: 2.00,
                 output: 5.00}
"""
