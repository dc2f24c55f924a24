"""Counts read out of provider payloads: whole numbers from 0 to 10^12, nothing else."""

from __future__ import annotations

import pytest

from costmodel import UsageError
from costmodel.adapters._common import MAX_COUNT, count


@pytest.mark.parametrize("value, n", [(0, 0), (7, 7), (10**12, 10**12), (0.0, 0), (3.0, 3),
                                      (1e12, 10**12), (None, 0)])
def test_whole_numbers_up_to_a_trillion_are_counts(value, n):
    assert MAX_COUNT == 10**12
    assert count({"k": value}, "k", "usage") == n


@pytest.mark.parametrize("value", [-1, 10**12 + 1, -1.0, 1e12 + 1, 2.5, float("nan"),
                                   float("inf"), "3", True])
def test_anything_else_is_refused_naming_the_field(value):
    with pytest.raises(UsageError, match="usage.k must be a whole number from 0 to 1e12"):
        count({"k": value}, "k", "usage")


def test_a_missing_payload_or_key_is_zero():
    assert count(None, "k", "usage") == 0
    assert count({}, "k", "usage") == 0


def test_only_a_realtime_model_with_audio_rates_needs_the_modality_split():
    from costmodel.adapters._common import needs_modalities

    assert needs_modalities("openai/gpt-realtime-1.5")       # realtime, audio tokens
    # a chained pipeline's text LLM that also has an audio input rate is given text
    assert not needs_modalities("google/gemini-2.5-flash")
    assert not needs_modalities("elevenlabs/agents")         # realtime, billed by time
    assert not needs_modalities("no/such-model")             # pricing reports it itself
