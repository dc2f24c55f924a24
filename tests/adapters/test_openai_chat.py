"""OpenAI Chat Completions / Responses usage -> disjoint buckets -> exact cost."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costmodel import Catalog, UsageError, price
from costmodel.adapters.openai_chat import usage_from_chat_completion, usage_from_responses

DAY = date(2026, 11, 25)


@pytest.fixture
def cache_write_catalog(tmp_path: Path) -> Catalog:
    # A test-only model with a GPT-5.6-style cache-write rate (1.25x input); not real prices.
    (tmp_path / "t.yaml").write_text(textwrap.dedent("""
        provider: test
        models:
          - id: test/gpt-like
            kind: llm
            name: Test model with cache writes
            prices:
              - effective: 2026-01-01
                checked: 2026-11-25
                source: https://example.com/test
                confidence: assumption
                tokens:
                  text: {input: 1.00, cached: 0.10, cache_write_30m: 1.25, output: 8.00}
        """).lstrip(), encoding="utf-8")
    return Catalog.load([tmp_path], include_builtin=False)


# Shape: Chat Completions usage as documented in the OpenAI prompt-caching guide ("reused 1,920
# of its 2,006 prompt tokens", quoted in mindroom-ai/mindroom#2134), with the detail objects of
# openai/openai-python src/openai/types/completion_usage.py.
CHAT = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0,
                                  "accepted_prediction_tokens": 0,
                                  "rejected_prediction_tokens": 0},
}

# Shape: a recorded Responses API body (coder/aibridge fixture
# openai/responses/blocking/cached_input_tokens.txtar, model gpt-4.1-2025-04-14).
RESPONSES = {
    "input_tokens": 12033,
    "input_tokens_details": {"cached_tokens": 11904},
    "output_tokens": 44,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 12077,
}


def test_chat_completion_buckets_and_cost(openai_catalog: Catalog) -> None:
    u = usage_from_chat_completion(CHAT, "openai/gpt-5.4-mini")
    # 2006 gross prompt = 86 uncached + 1920 cached; reasoning (128) stays inside the 300 output.
    assert dict(u.tokens) == {"text.input": 86, "text.cached": 1920, "text.output": 300}
    assert u.model == "openai/gpt-5.4-mini"
    cost = price(u, openai_catalog, on=DAY)
    # 86 x 0.75/1M + 1920 x 0.075/1M + 300 x 4.50/1M = 0.0000645 + 0.000144 + 0.00135
    assert cost.total_usd == Decimal("0.0015585")


def test_responses_recorded_payload(openai_catalog: Catalog) -> None:
    u = usage_from_responses(RESPONSES, "openai/gpt-5.4-mini")
    assert dict(u.tokens) == {"text.input": 129, "text.cached": 11904, "text.output": 44}
    assert u.input_tokens == 12033  # cached split out once, not subtracted twice
    cost = price(u, openai_catalog, on=DAY)
    # 129 x 0.75/1M + 11904 x 0.075/1M + 44 x 4.50/1M = 0.00009675 + 0.0008928 + 0.000198
    assert cost.total_usd == Decimal("0.00118755")


def test_reasoning_tokens_not_added_twice() -> None:
    payload = {"input_tokens": 100, "output_tokens": 500,
               "output_tokens_details": {"reasoning_tokens": 450}}
    u = usage_from_responses(payload, "openai/gpt-5.4-mini")
    assert u.tokens["text.output"] == 500
    assert u.output_tokens == 500


def test_cache_write_tokens_responses(cache_write_catalog: Catalog) -> None:
    # OpenAI guide example: 2,000 read + 400 written + 200 neither = 2,600 input.
    payload = {"input_tokens": 2600,
               "input_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 400},
               "output_tokens": 100, "output_tokens_details": {"reasoning_tokens": 0}}
    u = usage_from_responses(payload, "test/gpt-like")
    assert dict(u.tokens) == {"text.input": 200, "text.cached": 2000,
                              "text.cache_write_30m": 400, "text.output": 100}
    # 200 x 1.00 + 2000 x 0.10 + 400 x 1.25 + 100 x 8.00 = 200 + 200 + 500 + 800 = 1700 / 1M
    assert price(u, cache_write_catalog, on=DAY).total_usd == Decimal("0.0017")


def test_cache_write_tokens_chat() -> None:
    payload = {"prompt_tokens": 2600, "completion_tokens": 10,
               "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 400}}
    u = usage_from_chat_completion(payload, "test/gpt-like")
    assert dict(u.tokens) == {"text.input": 200, "text.cached": 2000,
                              "text.cache_write_30m": 400, "text.output": 10}


def test_audio_tokens_go_to_audio_buckets() -> None:
    # gpt-audio style Chat Completions usage: audio inside prompt and completion totals.
    payload = {"prompt_tokens": 150, "completion_tokens": 400, "total_tokens": 550,
               "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 100},
               "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 340}}
    u = usage_from_chat_completion(payload, "openai/gpt-audio")
    assert dict(u.tokens) == {"text.input": 50, "audio.input": 100,
                              "text.output": 60, "audio.output": 340}


def test_null_details_are_zero() -> None:
    payload = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": None,
               "completion_tokens_details": None}
    assert dict(usage_from_chat_completion(payload, "m/x").tokens) == {
        "text.input": 10, "text.output": 2}


def test_zero_buckets_omitted() -> None:
    u = usage_from_responses({"input_tokens": 0, "output_tokens": 0}, "m/x")
    assert dict(u.tokens) == {}


@pytest.mark.parametrize("payload, field", [
    ({"completion_tokens": 1}, "usage.prompt_tokens"),
    ({"prompt_tokens": 1}, "usage.completion_tokens"),
    ({"prompt_tokens": -1, "completion_tokens": 1}, "usage.prompt_tokens"),
    ({"prompt_tokens": "12", "completion_tokens": 1}, "usage.prompt_tokens"),
    ({"prompt_tokens": True, "completion_tokens": 1}, "usage.prompt_tokens"),
    ({"prompt_tokens": 10, "completion_tokens": 1,
      "prompt_tokens_details": {"cached_tokens": 11}}, "cached_tokens"),
    ({"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": [1]},
     "usage.prompt_tokens_details"),
    ({"prompt_tokens": 10, "completion_tokens": 5,
      "completion_tokens_details": {"reasoning_tokens": 6}}, "reasoning_tokens"),
    ({"prompt_tokens": 10, "completion_tokens": 5,
      "completion_tokens_details": {"audio_tokens": 6}}, "audio_tokens"),
])
def test_chat_malformed(payload: dict, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        usage_from_chat_completion(payload, "openai/gpt-5.4-mini")


@pytest.mark.parametrize("payload, field", [
    ({"output_tokens": 1}, "usage.input_tokens"),
    ({"input_tokens": 1}, "usage.output_tokens"),
    ({"input_tokens": 5, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 6}},
     "cached_tokens"),
    ({"input_tokens": 5, "output_tokens": 1,
      "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 3}},
     "cache_write_tokens"),
    ({"input_tokens": 5.5, "output_tokens": 1}, "usage.input_tokens"),
    ({"input_tokens": 5, "output_tokens": 1, "output_tokens_details": {"reasoning_tokens": 2}},
     "reasoning_tokens"),
])
def test_responses_malformed(payload: dict, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        usage_from_responses(payload, "openai/gpt-5.4-mini")


def test_cached_with_audio_is_ambiguous() -> None:
    payload = {"prompt_tokens": 2000, "completion_tokens": 10,
               "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 300}}
    with pytest.raises(UsageError, match="which modality"):
        usage_from_chat_completion(payload, "openai/gpt-audio")


def test_payload_not_an_object() -> None:
    with pytest.raises(UsageError, match="usage must be an object"):
        usage_from_chat_completion([1, 2], "m/x")  # type: ignore[arg-type]


# ---- the prompt's parts at their limits (mutation testing, issue 10 item 7) ----------------

def _chat(prompt: int, completion: int, pd: dict | None = None, cd: dict | None = None):
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    if pd is not None:
        usage["prompt_tokens_details"] = pd
    if cd is not None:
        usage["completion_tokens_details"] = cd
    return usage_from_chat_completion(usage, "openai/gpt-4o").tokens


def test_text_input_is_the_prompt_less_every_other_part():
    # 1000 = 500 text + 400 cached + 100 written
    assert _chat(1000, 0, {"cached_tokens": 400, "cache_write_tokens": 100}) == {
        "text.input": 500, "text.cached": 400, "text.cache_write_30m": 100}
    # 1000 = 500 text + 300 audio + 200 image
    assert _chat(1000, 0, {"audio_tokens": 300, "image_tokens": 200}) == {
        "text.input": 500, "audio.input": 300, "image.input": 200}


def test_a_prompt_may_be_all_cached_or_all_audio_and_image_but_not_more():
    assert _chat(2048, 10, {"cached_tokens": 2048}) == {"text.cached": 2048,
                                                        "text.output": 10}
    assert _chat(500, 0, {"audio_tokens": 300, "image_tokens": 200}) == {
        "audio.input": 300, "image.input": 200}
    with pytest.raises(UsageError, match="exceed"):
        _chat(2048, 10, {"cached_tokens": 2000, "cache_write_tokens": 49})
    with pytest.raises(UsageError, match="exceed"):
        _chat(500, 0, {"audio_tokens": 300, "image_tokens": 201})


def test_a_completion_may_be_all_reasoning_or_all_audio_but_not_more():
    assert _chat(10, 100, cd={"reasoning_tokens": 100}) == {"text.input": 10,
                                                            "text.output": 100}
    assert _chat(10, 50, cd={"audio_tokens": 50}) == {"text.input": 10, "audio.output": 50}
    with pytest.raises(UsageError, match="reasoning_tokens \\(101\\) exceeds"):
        _chat(10, 100, cd={"reasoning_tokens": 101})
    with pytest.raises(UsageError, match="audio_tokens \\(51\\) exceeds"):
        _chat(10, 50, cd={"audio_tokens": 51})


@pytest.mark.parametrize("total", ["15", -1, 1.5])
def test_total_tokens_is_checked_though_not_priced(total) -> None:
    with pytest.raises(UsageError, match="usage.total_tokens"):
        usage_from_chat_completion({"prompt_tokens": 10, "completion_tokens": 5,
                                    "total_tokens": total}, "openai/gpt-5.4-mini")
    with pytest.raises(UsageError, match="usage.total_tokens"):
        usage_from_responses({"input_tokens": 10, "output_tokens": 5, "total_tokens": total},
                             "openai/gpt-5.4-mini")


def test_cached_plus_written_past_the_prompt_is_refused_naming_only_those_two():
    # 50 cached + 60 written = 110 > 100 prompt tokens (no audio or image to name)
    with pytest.raises(UsageError, match=r"details\.cached_tokens \(50\) \+ cache_write_tokens "
                                         r"\(60\) exceed usage\.prompt_tokens \(100\), which"):
        _chat(100, 0, {"cached_tokens": 50, "cache_write_tokens": 60})
