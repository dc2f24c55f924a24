"""OpenAI Realtime: counts past the bound on the fast path, and which events the reader claims
(what mutation testing found untested, issue 10 item 7)."""

from __future__ import annotations

import pytest

from costmodel import UsageError
from costmodel.adapters.openai_realtime import OpenAIRealtimeReader, tokens_from_realtime_usage


@pytest.mark.parametrize("side, modality", [("input", "text"), ("input", "audio"),
                                            ("input", "image"), ("output", "text"),
                                            ("output", "audio")])
def test_one_count_past_10_to_the_12_is_refused_whichever_it_is(side, modality):
    n = 10**12 + 1
    usage = {"input_tokens": 0, "output_tokens": 0,
             "input_token_details": {"cached_tokens_details": {}}, "output_token_details": {}}
    usage[f"{side}_tokens"] = n
    usage[f"{side}_token_details"][f"{modality}_tokens"] = n
    with pytest.raises(UsageError, match="must be a whole number from 0 to 1e12"):
        tokens_from_realtime_usage(usage)


@pytest.mark.parametrize("event, claimed", [
    ({"type": "error", "error": {"type": "invalid_request_error"}}, True),
    ({"type": "response.done"}, True),
    ({"type": "input_audio_buffer.speech_started"}, True),
    ({"type": "usage"}, False),                  # another protocol's event
    ({"type": "errors"}, False),
    ({"serverContent": {}}, False),
])
def test_the_reader_claims_its_own_events_and_errors_only(event, claimed):
    assert OpenAIRealtimeReader.claims(event) is claimed
