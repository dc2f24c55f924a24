"""Gemini Live: every per-turn usageMetadata snapshot is priced, and summed."""

from __future__ import annotations

import enum
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costmodel import Usage, UsageError, price
from costmodel.adapters.gemini_live import GeminiLiveReader, usage_from_usage_metadata
from costmodel.adapters.recorded import price_events

ON = date(2026, 11, 25)  # the catalog's rates of that day
EXAMPLE = Path(__file__).parents[2] / "examples" / "sessions" / "gemini-live-booking.jsonl"


def test_real_payload_from_the_forum():
    # discuss.ai.google.dev thread 81303
    meta = {"promptTokenCount": 541, "responseTokenCount": 156, "totalTokenCount": 697,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 410},
                                    {"modality": "AUDIO", "tokenCount": 131}],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 156}]}
    u = usage_from_usage_metadata(meta, "google/gemini-3.1-flash-live")
    assert u.tokens == {"text.input": 410, "audio.input": 131, "audio.output": 156}
    assert not u.estimated


def test_snake_case_from_the_python_sdk_is_read_too():
    meta = {"prompt_token_count": 20, "response_token_count": 5,
            "prompt_tokens_details": [{"modality": "AUDIO", "token_count": 20}],
            "response_tokens_details": [{"modality": "MODALITY_AUDIO", "token_count": 5}]}
    assert usage_from_usage_metadata(meta, "m/x").tokens == {"audio.input": 20,
                                                             "audio.output": 5}


def test_cached_thoughts_and_tool_use_prompt():
    meta = {"promptTokenCount": 1000, "cachedContentTokenCount": 600,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 400},
                                    {"modality": "AUDIO", "tokenCount": 600}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 400},
                                   {"modality": "AUDIO", "tokenCount": 200}],
            "toolUsePromptTokenCount": 50, "thoughtsTokenCount": 30,
            "responseTokenCount": 100,
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}]}
    assert usage_from_usage_metadata(meta, "m/x").tokens == {
        "text.cached": 400, "audio.input": 400, "audio.cached": 200, "text.input": 50,
        "audio.output": 100, "text.output": 30}


def test_unexplained_prompt_tokens_are_priced_as_text_and_flagged():
    # Forum posts saw modality details 25-51 tokens short of promptTokenCount.
    meta = {"promptTokenCount": 200, "promptTokensDetails": [
        {"modality": "AUDIO", "tokenCount": 170}]}
    u = usage_from_usage_metadata(meta, "m/x")
    assert u.tokens == {"audio.input": 170, "text.input": 30}
    assert u.estimated


def test_details_larger_than_the_total_are_priced_as_reported_and_flagged():
    # issue 11: a total that disagrees with its details is never rejected whole
    u = usage_from_usage_metadata({"promptTokenCount": 10, "promptTokensDetails": [
        {"modality": "AUDIO", "tokenCount": 20}]}, "m/x")
    assert u.tokens == {"audio.input": 20} and u.estimated


def test_an_unknown_modality_is_refused():
    with pytest.raises(UsageError, match="modality"):
        usage_from_usage_metadata({"promptTokensDetails": [{"modality": "SMELL",
                                                            "tokenCount": 1}]}, "m/x")


def test_reader_reads_model_from_setup():
    r = GeminiLiveReader()
    r.feed({"setup": {"model": "models/gemini-3.1-flash-live-preview"}})
    assert r.model == "gemini-3.1-flash-live-preview"


def test_trace_sums_every_snapshot_not_just_the_last(builtin):
    report = price_events(EXAMPLE.read_text().splitlines(), catalog=builtin)
    assert report.format == "gemini-live" and len(report.priced) == 5
    last_only = report.priced[-1].cost.total_usd
    assert report.total_usd > 3 * last_only  # the mistake peers made is far too low
    # The per-turn prompt grows: context is re-billed every turn.
    inputs = [p.usage.input_tokens for p in report.priced]
    assert inputs == sorted(inputs) and inputs[0] < inputs[-1]
    assert report.total_usd == sum(price(p.usage, builtin).total_usd for p in report.priced)


def test_model_alias_for_the_preview_name(builtin):
    cost = price(Usage("gemini-3.1-flash-live-preview", {"audio.input": 1_000_000}), builtin)
    assert cost.model == "google/gemini-3.1-flash-live"


def test_vertex_candidates_fields_are_read():
    meta = {"promptTokenCount": 100, "candidatesTokenCount": 500, "totalTokenCount": 600,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}],
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 500}]}
    assert usage_from_usage_metadata(meta, "m/x").tokens == {"audio.input": 100,
                                                             "audio.output": 500}


def test_a_total_we_cannot_explain_is_priced_as_text_output_and_flagged_not_dropped():
    meta = {"promptTokenCount": 100, "someNewOutputCount": 500, "totalTokenCount": 600,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}]}
    u = usage_from_usage_metadata(meta, "m/x")
    assert u.tokens == {"audio.input": 100, "text.output": 500} and u.estimated


def test_cache_details_must_fit_the_prompt():
    base = {"promptTokenCount": 100, "promptTokensDetails": [{"modality": "AUDIO",
                                                               "tokenCount": 100}]}
    with pytest.raises(UsageError, match="cached text tokens exceed"):
        usage_from_usage_metadata({**base, "cachedContentTokenCount": 40, "cacheTokensDetails": [
            {"modality": "TEXT", "tokenCount": 40}]}, "m/x")
    # details without their total: the details are priced, flagged
    u = usage_from_usage_metadata({**base, "cacheTokensDetails": [
        {"modality": "AUDIO", "tokenCount": 40}]}, "m/x")
    assert u.tokens == {"audio.input": 60, "audio.cached": 40} and u.estimated


# ---- edges of the accounting (mutation testing, issue 10 item 7) ----------------------------

def _meta(**over):
    return {"promptTokenCount": 1000, "promptTokensDetails": [
        {"modality": "TEXT", "tokenCount": 300}, {"modality": "AUDIO", "tokenCount": 700}],
        **over}


def test_a_cached_total_without_details_is_the_oldest_context_text_first():
    # 500 cached of 300 text + 700 audio: all 300 text, then 200 audio
    u = usage_from_usage_metadata(_meta(cachedContentTokenCount=500), "m/x")
    assert u.tokens == {"text.cached": 300, "audio.input": 500, "audio.cached": 200}
    # an audio-only prompt: the cached tokens are audio
    audio_only = {"promptTokenCount": 700, "cachedContentTokenCount": 500,
                  "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 700}]}
    assert usage_from_usage_metadata(audio_only, "m/x").tokens == {"audio.input": 200,
                                                                   "audio.cached": 500}


def test_a_prompt_may_be_cached_whole_but_not_more():
    whole = usage_from_usage_metadata(_meta(cachedContentTokenCount=1000), "m/x")
    assert whole.tokens == {"text.cached": 300, "audio.cached": 700}
    with pytest.raises(UsageError, match="cachedContentTokenCount exceeds promptTokenCount"):
        usage_from_usage_metadata(_meta(cachedContentTokenCount=1001), "m/x")


def test_cached_tokens_of_a_modality_the_prompt_lacks_are_refused():
    audio_only = {"promptTokenCount": 100, "cachedContentTokenCount": 1,
                  "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}],
                  "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1}]}
    with pytest.raises(UsageError, match="1 cached text tokens exceed the 0 text prompt"):
        usage_from_usage_metadata(audio_only, "m/x")


def test_response_tokens_the_details_leave_out_are_priced_as_text_and_flagged():
    meta = {"promptTokenCount": 10, "responseTokenCount": 100,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 10}],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 80}]}
    u = usage_from_usage_metadata(meta, "m/x")
    assert u.tokens == {"audio.input": 10, "audio.output": 80, "text.output": 20}
    assert u.estimated


def test_the_total_adds_prompt_tool_use_response_and_thoughts():
    # 1000 prompt + 50 tool-use prompt + 100 response + 30 thoughts = 1180
    meta = _meta(toolUsePromptTokenCount=50, thoughtsTokenCount=30, responseTokenCount=100,
                 responseTokensDetails=[{"modality": "AUDIO", "tokenCount": 100}],
                 totalTokenCount=1180)
    assert usage_from_usage_metadata(meta, "m/x").tokens == {
        "text.input": 350, "audio.input": 700, "audio.output": 100, "text.output": 30}
    assert not usage_from_usage_metadata(meta, "m/x").estimated
    # one token more than the parts: priced as text output, flagged
    one_more = usage_from_usage_metadata({**meta, "totalTokenCount": 1181}, "m/x")
    assert one_more.tokens["text.output"] == 31 and one_more.estimated
    # a total without the thoughts (thinking Live models): thoughts still output, not flagged
    outside = usage_from_usage_metadata({**meta, "totalTokenCount": 1150}, "m/x")
    assert outside.tokens["text.output"] == 30 and not outside.estimated
    # any other smaller total: the parts are priced, flagged
    smaller = usage_from_usage_metadata({**meta, "totalTokenCount": 1100}, "m/x")
    assert smaller.tokens["text.output"] == 30 and smaller.estimated


def test_the_reader_labels_each_snapshot_by_its_turn():
    r = GeminiLiveReader(model="m/x")
    assert r.responses == 0
    labels = [r.feed({"usageMetadata": {"promptTokenCount": n}})[0].label for n in (5, 9)]
    assert labels == ["turn 1", "turn 2"] and r.responses == 2


# ---- payloads users send (issue 11) ---------------------------------------------------------

class MediaModality(str, enum.Enum):  # noqa: UP042 (as the SDK: str() is not the value)
    """google-genai ``types.MediaModality``: a ``CaseInSensitiveEnum`` (``str, enum.Enum``),
    which ``UsageMetadata.model_dump()`` keeps as members (``str()`` of one is
    ``'MediaModality.AUDIO'``, not ``'AUDIO'``).
    https://github.com/googleapis/python-genai/blob/main/google/genai/types.py"""

    MODALITY_UNSPECIFIED = "MODALITY_UNSPECIFIED"
    TEXT = "TEXT"
    AUDIO = "AUDIO"


def test_google_genai_model_dump_with_enum_modalities_is_priced(builtin):
    # gemini-live-2.5-flash on Vertex, printed by the python SDK in
    # https://github.com/ilseokoh/gemini-live-load-test/blob/65db85c8a810d8e6f1c7ba3d9ee22e1034ca947c/README.md
    # as UsageMetadata(...); this is its model_dump().
    dumped = {"prompt_token_count": 69, "cached_content_token_count": None,
              "response_token_count": 176, "tool_use_prompt_token_count": None,
              "thoughts_token_count": None, "total_token_count": 245,
              "prompt_tokens_details": [{"modality": MediaModality.AUDIO, "token_count": 58},
                                        {"modality": MediaModality.TEXT, "token_count": 11}],
              "cache_tokens_details": None,
              "response_tokens_details": [{"modality": MediaModality.TEXT, "token_count": 26},
                                          {"modality": MediaModality.AUDIO, "token_count": 150}],
              "tool_use_prompt_tokens_details": None, "traffic_type": None}
    u = usage_from_usage_metadata(dumped, "google/gemini-2.5-flash-native-audio")
    assert u.tokens == {"audio.input": 58, "text.input": 11, "text.output": 26,
                        "audio.output": 150}
    assert not u.estimated
    # 58 x $3 + 11 x $0.5 + 26 x $2 + 150 x $12 per 1M = 174 + 5.5 + 52 + 1800 = $0.0020315
    assert price(u, builtin, on=ON).total_usd == Decimal("0.0020315")


def test_an_unspecified_modality_is_text_as_google_documents():
    # MediaModality.MODALITY_UNSPECIFIED: "When a modality is not specified, it is treated as
    # TEXT." (google-genai types.py)
    u = usage_from_usage_metadata({"prompt_token_count": 7, "prompt_tokens_details": [
        {"modality": MediaModality.MODALITY_UNSPECIFIED, "token_count": 7}]}, "m/x")
    assert u.tokens == {"text.input": 7} and not u.estimated


# A thinking Live turn whose totalTokenCount leaves the thoughts out (prompt + response only):
# Google's reference says the total includes thoughtsTokenCount
# (https://ai.google.dev/api/generate-content#UsageMetadata), Pipecat's Gemini Live service
# reads thoughts_token_count beside response_token_count
# (https://github.com/pipecat-ai/pipecat/blob/main/src/pipecat/services/google/gemini_live/llm.py),
# and sessions of such turns were measured ~80% low by costmodel on main (issue 11).
THINKING_TURN = {"promptTokenCount": 1480, "responseTokenCount": 212,
                 "thoughtsTokenCount": 1090, "totalTokenCount": 1692,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1210},
                                         {"modality": "AUDIO", "tokenCount": 270}],
                 "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 212}]}


def test_thoughts_outside_the_total_are_output(builtin):
    u = usage_from_usage_metadata(THINKING_TURN, "google/gemini-3.1-flash-live")
    assert u.tokens == {"text.input": 1210, "audio.input": 270, "audio.output": 212,
                        "text.output": 1090}
    assert not u.estimated  # a known shape, not a disagreement


def test_a_session_of_thinking_turns_is_priced_whole(builtin):
    lines = [json.dumps({"setup": {"model": "models/gemini-3.1-flash-live-preview"}})]
    lines += [json.dumps({"usageMetadata": THINKING_TURN})] * 3
    report = price_events(lines, catalog=builtin, on=ON)
    assert report.priced_count == 3 and report.skipped == [] and report.unknown_reason is None
    one = price(usage_from_usage_metadata(THINKING_TURN, "google/gemini-3.1-flash-live"),
                builtin, on=ON).total_usd
    assert report.total_usd == 3 * one


@pytest.mark.parametrize("meta", [{}, {"cachedContentTokenCount": 10},
                                  {"promptTokenCount": None}])
def test_usage_metadata_with_none_of_its_counts_is_refused_not_priced_at_zero(meta):
    with pytest.raises(UsageError, match="reports none of"):
        usage_from_usage_metadata(meta, "google/gemini-3.1-flash-live")
