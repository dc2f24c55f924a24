"""Gemini Live usageMetadata: the parts a payload may leave out (what mutation testing found
untested, issue 10 item 7)."""

from __future__ import annotations

from costmodel.adapters.gemini_live import usage_from_usage_metadata


def test_a_cache_split_that_names_only_text_leaves_the_audio_uncached():
    meta = {"promptTokenCount": 500, "cachedContentTokenCount": 300,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 400},
                                    {"modality": "AUDIO", "tokenCount": 100}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 300}]}
    assert usage_from_usage_metadata(meta, "m/x").tokens == {
        "text.input": 100, "text.cached": 300, "audio.input": 100}


def test_a_tool_use_total_past_its_details_is_text():
    # 50 tool-use prompt tokens, 30 of them audio: the other 20 are text
    meta = {"promptTokenCount": 0, "toolUsePromptTokenCount": 50,
            "toolUsePromptTokensDetails": [{"modality": "AUDIO", "tokenCount": 30}]}
    assert usage_from_usage_metadata(meta, "m/x").tokens == {"audio.input": 30,
                                                             "text.input": 20}
