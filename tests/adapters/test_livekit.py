"""LiveKit Agents session_usage_updated -> one Usage per model -> exact cost."""

from __future__ import annotations

import inspect
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


def test_catalog_id_resolves_the_pair() -> None:
    assert catalog_id("openai", "gpt-4o-mini") == "openai/gpt-4o-mini"
    assert catalog_id("api.anthropic.com", "claude-haiku-4-5") == "anthropic/claude-haiku-4.5"
    assert catalog_id("livekit", "openai/gpt-4.1-mini") == "openai/gpt-4.1-mini"
    # a pair nothing resolves is joined, for pricing to name the nearest ids
    assert catalog_id("Acme Voice", "Zeta-1") == "acme voice/zeta-1"
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
      "input_cached_tokens": 4, "input_cache_creation_tokens": 7},
     "input_cache_creation_tokens"),
    ({"type": "llm_usage", "provider": "openai", "model": "m", "input_tokens": 10,
      "input_text_tokens": 4, "input_audio_tokens": 6, "input_cached_tokens": 5,
      "input_cached_audio_tokens": 0, "input_cached_text_tokens": 5},
     "input_cached_text_tokens"),
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


# ---- totals that disagree with their details are priced, flagged (issue 11) ----------------

@pytest.mark.parametrize("item, tokens", [
    # input 10 = text 4 + audio 5 + 1 unexplained: the 1 is uncached text input
    ({"input_tokens": 10, "input_text_tokens": 4, "input_audio_tokens": 5},
     {"text.input": 5, "audio.input": 5}),
    # a cached total the per-modality cached counts do not explain: the details are priced
    ({"input_tokens": 10, "input_text_tokens": 10, "input_cached_tokens": 3},
     {"text.input": 10}),
    # output 10 = text 3 + audio 3 + 4 unexplained: the 4 are text output
    ({"output_tokens": 10, "output_text_tokens": 3, "output_audio_tokens": 3},
     {"text.output": 7, "audio.output": 3}),
    # details past their total: the details
    ({"input_tokens": 5, "input_text_tokens": 4, "input_audio_tokens": 5},
     {"text.input": 4, "audio.input": 5}),
])
def test_totals_that_disagree_with_their_details_are_priced_and_flagged(item, tokens) -> None:
    u = usage_from_livekit({"type": "llm_usage", "provider": "openai", "model": "m", **item})
    assert dict(u.tokens) == tokens and u.estimated


def test_a_gemini_summary_whose_prompt_exceeds_its_modalities_is_priced(builtin) -> None:
    # LiveKit's Gemini realtime plugin sets input_tokens = promptTokenCount but fills the
    # modality counts from promptTokensDetails' AUDIO/TEXT/IMAGE entries only (VIDEO and the
    # tool-use prompt are left out): _token_details_map in
    # https://github.com/livekit/agents/blob/main/livekit-plugins/livekit-plugins-google/livekit/plugins/google/realtime/realtime_api.py
    # The figures of issue 11: input_tokens 675, modalities 648. The whole cumulative
    # summary was rejected on main.
    item = {"type": "llm_usage", "provider": "Gemini",
            "model": "gemini-3.1-flash-live-preview",
            "input_tokens": 675, "input_cached_tokens": 0,
            "input_text_tokens": 412, "input_audio_tokens": 236, "input_image_tokens": 0,
            "input_cached_text_tokens": 0, "input_cached_audio_tokens": 0,
            "input_cached_image_tokens": 0,
            "output_tokens": 310, "output_text_tokens": 0, "output_audio_tokens": 310,
            "output_reasoning_tokens": 0, "session_duration": 0.0}
    u = usage_from_livekit(item, "google/gemini-3.1-flash-live")
    assert dict(u.tokens) == {"text.input": 439, "audio.input": 236, "audio.output": 310}
    assert u.estimated
    # 439 x $0.75 + 236 x $3 + 310 x $12 per 1M = 329.25 + 708 + 3720 = $0.00475725
    assert price(u, builtin, on=DAY).total_usd == Decimal("0.00475725")


def test_cache_writes_are_priced_as_cache_writes(builtin) -> None:
    # input_cache_creation_tokens (livekit/agents #6655, https://github.com/livekit/agents/pull/6655):
    # the Anthropic plugin's prompt_tokens = input + cache_creation + cache_read (llm.py,
    # "tracking-cache-performance"), so the writes are part of input_tokens. Issue 11's case:
    # Claude Haiku 4.5, 3,000 input tokens all written to the cache, 70 output.
    item = {"type": "llm_usage", "provider": "api.anthropic.com",
            "model": "claude-haiku-4-5-20251001", "input_tokens": 3000,
            "input_cached_tokens": 0, "input_cache_creation_tokens": 3000,
            "input_audio_tokens": 0, "input_cached_audio_tokens": 0, "input_text_tokens": 0,
            "input_cached_text_tokens": 0, "input_image_tokens": 0,
            "input_cached_image_tokens": 0, "output_tokens": 70, "output_audio_tokens": 0,
            "output_text_tokens": 0, "output_reasoning_tokens": 0, "session_duration": 0.0}
    u = usage_from_livekit(item)
    assert u.model == "anthropic/claude-haiku-4.5"
    assert dict(u.tokens) == {"text.cache_write_5m": 3000, "text.output": 70}
    # 3000 x $1.25 + 70 x $5 per 1M = 3750 + 350 = $0.0041 (main priced $0.00335: 1x input)
    assert price(u, builtin, on=DAY).total_usd == Decimal("0.0041")
    # with reads beside the writes: 5,000 in = 1,000 read + 3,000 written + 1,000 plain
    mixed = usage_from_livekit({**item, "input_tokens": 5000, "input_cached_tokens": 1000})
    assert dict(mixed.tokens) == {"text.input": 1000, "text.cached": 1000,
                                  "text.cache_write_5m": 3000, "text.output": 70}


def test_stt_input_audio_tokens_leave_the_prompt_as_text() -> None:
    # STTModelUsage.input_audio_tokens: "a subset of input_tokens when reported"
    # (livekit-agents metrics/usage.py)
    u = usage_from_livekit({"type": "stt_usage", "provider": "api.openai.com",
                            "model": "gpt-4o-mini-transcribe", "input_tokens": 450,
                            "input_audio_tokens": 420, "output_tokens": 35,
                            "audio_duration": 42.0})
    assert dict(u.tokens) == {"audio.input": 420, "text.input": 30, "text.output": 35}
    assert u.model == "openai/gpt-4o-mini-transcribe" and not u.estimated


_PROVIDER_RESOLUTION = "provider" in inspect.signature(Catalog.resolve).parameters


@pytest.mark.skipif(not _PROVIDER_RESOLUTION,
                    reason="pending Catalog.resolve(model, provider) (issue 11, item 2)")
@pytest.mark.parametrize("provider, model, expected", [
    # LiveKit's plugin `provider` properties, https://github.com/livekit/agents/tree/main/livekit-plugins:
    # aws/experimental/realtime/realtime_model.py returns "Amazon" (default model
    # "amazon.nova-2-sonic-v1:0"); google/realtime/realtime_api.py "Gemini" or "Vertex AI";
    # the xAI realtime model is the OpenAI one on https://api.x.ai (provider = the host).
    ("Amazon", "amazon.nova-2-sonic-v1:0", "amazon/nova-2-sonic"),
    ("Gemini", "gemini-2.5-flash-native-audio-preview-09-2025",
     "google/gemini-2.5-flash-native-audio"),
    ("Vertex AI", "gemini-3.1-flash-live-preview", "google/gemini-3.1-flash-live"),
    ("api.x.ai", "grok-voice-agent", "xai/grok-voice-agent"),
])
def test_non_openai_plugins_resolve_through_the_provider_table(provider, model, expected):
    assert catalog_id(provider, model) == expected


@pytest.mark.skipif(not _PROVIDER_RESOLUTION,
                    reason="pending Catalog.resolve(model, provider) (issue 11, item 2)")
def test_a_nova_sonic_summary_is_priced(builtin) -> None:
    # What the AWS realtime plugin's RealtimeModelMetrics accumulate to (input_tokens =
    # speechTokens + textTokens, no cache; realtime_model.py above); main joined it into
    # the unknown id 'amazon/amazon.nova-2-sonic-v1:0'.
    event = {"type": "session_usage_updated", "usage": {"model_usage": [
        {"type": "llm_usage", "provider": "Amazon", "model": "amazon.nova-2-sonic-v1:0",
         "input_tokens": 4210, "input_cached_tokens": 0, "input_cache_creation_tokens": 0,
         "input_audio_tokens": 3850, "input_cached_audio_tokens": 0,
         "input_text_tokens": 360, "input_cached_text_tokens": 0,
         "input_image_tokens": 0, "input_cached_image_tokens": 0,
         "output_tokens": 2990, "output_audio_tokens": 2700, "output_text_tokens": 290,
         "output_reasoning_tokens": 0, "session_duration": 0.0}]}}
    (u,) = usages_from_session(event, catalog=builtin)
    assert u.model == "amazon/nova-2-sonic" and not u.estimated
    # 360 x $0.33 + 3850 x $3 + 290 x $2.75 + 2700 x $12 per 1M
    # = 118.8 + 11550 + 797.5 + 32400 = $0.0448663
    assert price(u, builtin, on=DAY).total_usd == Decimal("0.0448663")


# ---- which count decides the bucket (mutation testing, issue 10 item 7) ----------------------

def test_a_turn_model_count_and_an_unknown_type_are_refused_each_for_its_own_reason() -> None:
    eot = {"type": "eot_usage", "provider": "livekit", "model": "multilingual"}
    with pytest.raises(UsageError, match="turn-model request count"):
        usage_from_livekit(eot)
    with pytest.raises(UsageError, match="is not a LiveKit model usage type"):
        usage_from_livekit({**eot, "type": "vad_usage"})


def test_an_all_audio_reply_is_priced_as_audio_output() -> None:
    # output 100 = 0 text + 100 audio: nothing of it is text
    u = usage_from_livekit({"type": "llm_usage", "provider": "openai",
                            "model": "gpt-realtime-1.5", "input_tokens": 10,
                            "input_text_tokens": 10, "output_tokens": 100,
                            "output_audio_tokens": 100})
    assert dict(u.tokens) == {"text.input": 10, "audio.output": 100}


def test_a_token_billed_transcription_with_no_output_is_billed_by_its_input_tokens() -> None:
    # silence: 500 audio tokens in, nothing transcribed; the 30 s are informational
    u = usage_from_livekit({"type": "stt_usage", "provider": "openai",
                            "model": "gpt-4o-transcribe", "input_tokens": 500,
                            "output_tokens": 0, "audio_duration": 30.0},
                           model="openai/gpt-4o-transcribe")
    assert dict(u.tokens) == {"audio.input": 500}
    assert not u.audio_seconds


def test_a_token_billed_speech_request_with_no_audio_is_billed_by_its_input_tokens() -> None:
    # cut before any audio: 12 text tokens in, 0 out; the 50 characters are informational
    u = usage_from_livekit({"type": "tts_usage", "provider": "openai", "model": "gpt-4o-mini-tts",
                            "input_tokens": 12, "output_tokens": 0, "characters_count": 50},
                           model="openai/gpt-4o-mini-tts")
    assert dict(u.tokens) == {"text.input": 12}
    assert not u.characters
