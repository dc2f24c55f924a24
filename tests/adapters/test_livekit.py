"""LiveKit Agents session_usage_updated -> one Usage per model -> exact cost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costmodel import Catalog, UsageError, price
from costmodel.adapters.livekit import catalog_id, usage_from_livekit, usages_from_session

DAY = date(2026, 11, 25)


# Shape: SessionUsageUpdatedEvent / AgentSessionUsage / LLMModelUsage / STTModelUsage /
# TTSModelUsage / EOTModelUsage as model_dump() of livekit/agents
# livekit-agents/livekit/agents/metrics/usage.py and voice/events.py. The realtime numbers are
# the OpenAI realtime guide's example (input 132 = text 119 + audio 13, cached 64 text; output
# 121 = text 30 + audio 91), accumulated the way ModelUsageCollector.collect does.
EVENT = {
    "type": "session_usage_updated",
    "usage": {"model_usage": [
        {"type": "llm_usage", "provider": "openai", "model": "gpt-realtime-1.5",
         "input_tokens": 132, "input_cached_tokens": 64,
         "input_audio_tokens": 13, "input_cached_audio_tokens": 0,
         "input_text_tokens": 119, "input_cached_text_tokens": 64,
         "input_image_tokens": 0, "input_cached_image_tokens": 0,
         "output_tokens": 121, "output_audio_tokens": 91, "output_text_tokens": 30,
         "session_duration": 0.0},
        {"type": "llm_usage", "provider": "api.openai.com", "model": "gpt-5.4-mini",
         "input_tokens": 5400, "input_cached_tokens": 4096,
         "input_audio_tokens": 0, "input_cached_audio_tokens": 0,
         "input_text_tokens": 0, "input_cached_text_tokens": 0,
         "input_image_tokens": 0, "input_cached_image_tokens": 0,
         "output_tokens": 220, "output_audio_tokens": 0, "output_text_tokens": 0,
         "session_duration": 0.0},
        {"type": "tts_usage", "provider": "Cartesia", "model": "sonic-3", "input_tokens": 0,
         "output_tokens": 0, "characters_count": 1843, "audio_duration": 121.3},
        {"type": "stt_usage", "provider": "deepgram", "model": "nova-3", "input_tokens": 0,
         "output_tokens": 0, "audio_duration": 95.25},
        {"type": "eot_usage", "provider": "livekit", "model": "multilingual",
         "total_requests": 14},
        {"type": "interruption_usage", "provider": "livekit", "model": "adaptive",
         "total_requests": 3},
    ]},
    "created_at": 1764081234.5,
}


def test_session_event(openai_catalog: Catalog, pipeline: Catalog) -> None:
    rt, llm, tts, stt = usages_from_session(EVENT)  # eot/interruption counts are skipped

    assert rt.model == "openai/gpt-realtime-1.5"
    # Split once per modality: text 119 - 64 cached = 55; audio 13, none cached.
    assert dict(rt.tokens) == {"text.input": 55, "text.cached": 64, "audio.input": 13,
                               "text.output": 30, "audio.output": 91}
    assert rt.connection_seconds == 0
    # 55 x 4 + 64 x 0.40 + 13 x 32 + 30 x 16 + 91 x 64 = 220 + 25.6 + 416 + 480 + 5824
    # = 6965.6 / 1M
    assert price(rt, openai_catalog, on=DAY).total_usd == Decimal("0.0069656")

    assert llm.model == "openai/gpt-5.4-mini"  # host "api.openai.com" -> "openai"
    assert dict(llm.tokens) == {"text.input": 1304, "text.cached": 4096, "text.output": 220}
    # 1304 x 0.75 + 4096 x 0.075 + 220 x 4.50 = 978 + 307.2 + 990 = 2275.2 / 1M
    assert price(llm, openai_catalog, on=DAY).total_usd == Decimal("0.0022752")

    assert tts.model == "cartesia/sonic-3"
    assert tts.characters == 1843 and tts.audio_seconds == 0 and not tts.tokens
    # 1843 x 50 / 1M
    assert price(tts, pipeline, on=DAY).total_usd == Decimal("0.09215")

    assert stt.model == "deepgram/nova-3"
    assert stt.audio_seconds == Decimal("95.25")
    # 96 billed seconds (1 s increment) x 0.0060 / 60 = 0.0096
    assert price(stt, pipeline, on=DAY).total_usd == Decimal("0.0096")


def test_accepts_agent_session_usage_and_list() -> None:
    items = EVENT["usage"]["model_usage"]  # type: ignore[index]
    assert len(usages_from_session({"model_usage": items})) == 4
    assert len(usages_from_session(items)) == 4


def test_model_override_and_map() -> None:
    stt_item = EVENT["usage"]["model_usage"][3]  # type: ignore[index]
    u = usage_from_livekit(stt_item, "deepgram/nova-3-general")
    assert u.model == "deepgram/nova-3-general"
    out = usages_from_session(EVENT, models={"deepgram/nova-3": "deepgram/nova-3-general"})
    assert out[3].model == "deepgram/nova-3-general"


def test_catalog_id_join() -> None:
    assert catalog_id("openai", "gpt-4o-mini") == "openai/gpt-4o-mini"
    assert catalog_id("api.anthropic.com", "claude-haiku-4-5") == "anthropic/claude-haiku-4-5"
    assert catalog_id("livekit", "openai/gpt-4.1-mini") == "openai/gpt-4.1-mini"
    with pytest.raises(UsageError, match="model="):
        catalog_id("", "nova-3")


def test_first_release_type_names_and_no_type() -> None:
    # metrics/model_usage.py (first release) used type "llm" / "stt" / "tts".
    u = usage_from_livekit({"type": "llm", "provider": "openai", "model": "gpt-4o-mini",
                            "input_tokens": 10, "input_cached_tokens": 0, "output_tokens": 3})
    assert dict(u.tokens) == {"text.input": 10, "text.output": 3}
    # Without "type" (e.g. a hand-built dict) the fields decide.
    tts = usage_from_livekit({"provider": "cartesia", "model": "sonic-3",
                              "characters_count": 12, "audio_duration": 1.0})
    assert tts.characters == 12
    stt = usage_from_livekit({"provider": "deepgram", "model": "nova-3", "audio_duration": 2})
    assert stt.audio_seconds == 2
    with pytest.raises(UsageError, match="type"):
        usage_from_livekit({"provider": "x", "model": "y", "input_tokens": 1})


def test_token_billed_stt_and_tts_use_tokens() -> None:
    stt = usage_from_livekit({"type": "stt_usage", "provider": "openai",
                              "model": "gpt-4o-mini-transcribe", "input_tokens": 420,
                              "output_tokens": 35, "audio_duration": 42.0})
    assert dict(stt.tokens) == {"audio.input": 420, "text.output": 35}
    assert stt.audio_seconds == 0
    tts = usage_from_livekit({"type": "tts_usage", "provider": "openai",
                              "model": "gpt-4o-mini-tts", "input_tokens": 40,
                              "output_tokens": 900, "characters_count": 180,
                              "audio_duration": 11.2})
    assert dict(tts.tokens) == {"text.input": 40, "audio.output": 900}
    assert tts.characters == 0


def test_session_duration_is_connection_time() -> None:
    # Only xAI's realtime plugin sets session_duration (at session close).
    u = usage_from_livekit({"type": "llm_usage", "provider": "xai", "model": "grok-voice",
                            "session_duration": 312.4})
    assert u.connection_seconds == Decimal("312.4") and not u.tokens


@pytest.mark.parametrize("item, field", [
    ({"type": "llm_usage", "provider": "openai", "model": "m", "input_tokens": 10,
      "input_cached_tokens": 11}, "input_cached_tokens"),
    ({"type": "llm_usage", "provider": "openai", "model": "m", "input_tokens": 10,
      "input_text_tokens": 4, "input_audio_tokens": 5}, "input_tokens"),
    ({"type": "llm_usage", "provider": "openai", "model": "m", "input_tokens": 10,
      "input_text_tokens": 10, "input_cached_tokens": 3}, "input_cached_tokens"),
    ({"type": "llm_usage", "provider": "openai", "model": "m", "input_tokens": 10,
      "input_text_tokens": 4, "input_audio_tokens": 6, "input_cached_tokens": 5,
      "input_cached_audio_tokens": 0, "input_cached_text_tokens": 5},
     "input_cached_text_tokens"),
    ({"type": "llm_usage", "provider": "openai", "model": "m", "output_tokens": 10,
      "output_text_tokens": 3, "output_audio_tokens": 3}, "output_tokens"),
    ({"type": "llm_usage", "provider": "openai", "model": "m", "input_tokens": -1},
     "model_usage.input_tokens"),
    ({"type": "stt_usage", "provider": "d", "model": "n", "audio_duration": "long"},
     "audio_duration"),
    ({"type": "tts_usage", "provider": "c", "model": "s", "characters_count": 1.5},
     "characters_count"),
    ({"type": "llm_usage", "provider": "openai", "input_tokens": 1}, "model_usage.model"),
    ({"type": "vad_usage", "provider": "x", "model": "y"}, "model_usage.type"),
    ({"type": "eot_usage", "provider": "livekit", "model": "y"}, "model_usage.type"),
])
def test_malformed(item: dict, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        usage_from_livekit(item)


def test_session_errors_name_the_item() -> None:
    with pytest.raises(UsageError, match=r"model_usage\[1\]"):
        usages_from_session([{"type": "stt_usage", "provider": "d", "model": "n"},
                             {"type": "stt_usage", "provider": "d", "model": "n",
                              "audio_duration": -1}])
    with pytest.raises(UsageError, match="model_usage"):
        usages_from_session({"type": "session_usage_updated", "usage": {}})


def test_realtime_totals_without_modalities_are_refused() -> None:
    with pytest.raises(UsageError, match="different rates"):
        usage_from_livekit({"type": "llm_usage", "provider": "openai",
                            "model": "gpt-realtime-1.5", "input_tokens": 500,
                            "output_tokens": 100})


def test_xai_session_duration_is_priced_by_time_not_tokens(builtin) -> None:
    u = usage_from_livekit({"type": "llm_usage", "provider": "xai", "model": "grok-voice-agent",
                            "input_tokens": 900, "input_audio_tokens": 900,
                            "output_tokens": 1500, "output_audio_tokens": 1500,
                            "session_duration": 120.0})
    assert price(u, builtin).total_usd == Decimal("0.1")  # 2 min x $0.05


@pytest.mark.parametrize("payload", ["llm_usage", b"llm_usage", 42])
def test_model_usage_must_be_a_list_not_a_string(payload):
    with pytest.raises(UsageError, match="usage.model_usage must be a list, got"):
        usages_from_session(payload)
