"""Every payload of the field corpus (`cases.py`) is priced, to the exact Decimal."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from costmodel import Usage, price
from costmodel.adapters.anthropic import usage_from_anthropic
from costmodel.adapters.gemini_live import usage_from_usage_metadata
from costmodel.adapters.livekit import usages_from_session
from costmodel.adapters.openai_chat import usage_from_chat_completion
from costmodel.adapters.openai_realtime import usage_from_response_done, usage_from_transcription
from costmodel.adapters.pipecat import usage_from_pipecat_llm, usage_from_pipecat_tts

from .cases import CASES, ON, Case


def _one(usage: Usage | None) -> list[Usage]:
    assert usage is not None
    return [usage]


ADAPTERS: dict[str, Callable[[Any, Any], list[Usage]]] = {
    "openai_realtime": lambda p, m: _one(usage_from_response_done(
        {"type": "response.done", "response": {"usage": p}}, m)),
    "openai_transcription": lambda p, m: _one(usage_from_transcription(p, m)),
    "gemini": lambda p, m: [usage_from_usage_metadata(p, m)],
    "pipecat_llm": lambda p, m: [usage_from_pipecat_llm(p, m)],
    "pipecat_tts": lambda p, m: [usage_from_pipecat_tts(p, m)],
    "anthropic": lambda p, m: [usage_from_anthropic(p, m)],
    "openai_chat": lambda p, m: [usage_from_chat_completion(p, m)],
    # a fixed model overrides every item's (provider, model) pair
    "livekit": lambda p, m: usages_from_session(
        p, models=None if m is None else {f"{i['provider']}/{i['model']}": m
                                          for i in (p if isinstance(p, list) else
                                                    p["usage"]["model_usage"])}),
}


def test_the_corpus_is_large_and_every_case_cites_its_source():
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)
    assert all(c.source.startswith("https://") and c.adapter in ADAPTERS for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_field_payload_is_priced_exactly(builtin, case: Case):
    usages = ADAPTERS[case.adapter](case.payload, case.model)
    total = sum((price(u, builtin, on=ON).total_usd for u in usages), Decimal(0))
    assert total == case.usd
