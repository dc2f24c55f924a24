"""The usage record: its buckets, its bounds, and adding usages together."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from costmodel import Usage, UsageError
from costmodel.core.usage import MAX_QUANTITY, MAX_TOKENS, combine, quantity, token_key

M = "toy/realtime"


def test_token_key_names_known_buckets_and_refuses_others():
    assert token_key("audio", "cached") == "audio.cached"
    assert token_key("text", "cache_write_1h") == "text.cache_write_1h"
    with pytest.raises(UsageError, match="unknown token bucket 'video.input'"):
        token_key("video", "input")


def test_a_new_usage_is_reported_not_estimated_and_empty():
    u = Usage(M)
    assert (u.tokens, u.connection_seconds, u.audio_seconds, u.characters) == ({}, 0, 0, 0)
    assert u.estimated is False and u.at is None and u.label == ""
    assert u.is_empty()


@pytest.mark.parametrize("field, value", [("tokens", {"text.input": 1}),
                                          ("tokens", {"audio.output": 1}),
                                          ("connection_seconds", D("0.001")),
                                          ("audio_seconds", D("0.5")),
                                          ("characters", 1)])
def test_any_one_quantity_makes_a_usage_non_empty(field, value):
    assert not Usage(M, **{field: value}).is_empty()


def test_zero_counts_are_empty():
    assert Usage(M, {"text.input": 0, "audio.output": 0}).is_empty()


def test_bounds_are_inclusive_at_a_trillion():
    # 10^12 tokens (or characters) in one bucket is the most a usage may carry; one more is
    # a corrupt payload
    assert MAX_TOKENS == 10**12 and D(10) ** 12 == MAX_QUANTITY
    assert Usage(M, {"text.input": 10**12}).tokens["text.input"] == 10**12
    assert Usage(M, characters=10**12).characters == 10**12
    assert Usage(M, connection_seconds=D(10) ** 12).connection_seconds == D(10) ** 12
    with pytest.raises(UsageError, match="text.input must be a whole number of tokens from 0"):
        Usage(M, {"text.input": 10**12 + 1})
    with pytest.raises(UsageError, match="characters must be a whole number from 0 to 1e12"):
        Usage(M, characters=10**12 + 1)
    with pytest.raises(UsageError, match="connection_seconds must be a finite number from 0"):
        Usage(M, connection_seconds=D(10) ** 12 + 1)


@pytest.mark.parametrize("good", [0, 10**12])
def test_the_bad_count_is_named_not_a_good_one_beside_it(good):
    # 0 and 10^12 are both in bounds: the error names the -1, not them
    with pytest.raises(UsageError, match="text.output must be a whole number of tokens"):
        Usage(M, {"text.input": good, "text.output": -1})


@pytest.mark.parametrize("chars", [-1, 1.0, "3", True])
def test_characters_must_be_a_whole_number(chars):
    with pytest.raises(UsageError, match="characters must be a whole number"):
        Usage(M, characters=chars)


@pytest.mark.parametrize("field", ["connection_seconds", "audio_seconds"])
def test_seconds_become_exact_decimals_and_bad_ones_are_refused(field):
    # a float keeps its shortest repr: 1.1 s is exactly 1.1, not 1.100000000000000088...
    u = Usage(M, **{field: 1.1})
    assert type(getattr(u, field)) is D and getattr(u, field) == D("1.1")
    assert getattr(Usage(M, **{field: 7}), field) == D(7)
    for bad in (D("Infinity"), D("NaN"), D(-1), -0.5, "3", None):
        with pytest.raises(UsageError, match=f"{field} must be a"):
            Usage(M, **{field: bad})


def test_to_decimal_keeps_a_decimal_and_refuses_strings():
    d = D("0.125")
    assert quantity(d, "x") is d
    assert quantity(0, "x") == 0
    with pytest.raises(UsageError, match="x must be a number, got '1'"):
        quantity("1", "x")


def test_combine_adds_every_quantity_of_one_model():
    day = date(2026, 1, 5)
    a = Usage(M, {"text.input": 100, "audio.output": 20}, connection_seconds=D("1.5"),
              audio_seconds=D(2), characters=10, at=day)
    b = Usage(M, {"text.input": 1, "audio.cached": 7}, connection_seconds=D("0.25"),
              audio_seconds=D("0.5"), characters=5, estimated=True)
    c = combine([a, b], label="call")
    assert c.tokens == {"text.input": 101, "audio.output": 20, "audio.cached": 7}
    assert (c.connection_seconds, c.audio_seconds, c.characters) == (D("1.75"), D("2.5"), 15)
    assert c.model == M and c.at == day and c.label == "call"
    assert c.estimated is True            # one estimated part makes the sum estimated
    assert combine([a, a]).estimated is False
    assert combine([b, a]).estimated is True


def test_combine_of_one_usage_is_that_usage():
    a = Usage(M, {"text.input": 3}, characters=2)
    assert combine([a]) == Usage(M, {"text.input": 3}, characters=2)


def test_combine_refuses_two_models_and_needs_a_model_for_nothing():
    with pytest.raises(UsageError, match="cannot combine usage of toy/realtime and toy/tts"):
        combine([Usage(M), Usage("toy/tts")])
    assert combine([], model="toy/tts", label="none") == Usage("toy/tts", label="none")
    with pytest.raises(UsageError, match="needs a model"):
        combine([])


def test_input_and_output_tokens_count_every_input_state():
    u = Usage(M, {"text.input": 1, "text.cached": 10, "text.cache_write_5m": 100,
                  "audio.cache_write_1h": 1000, "audio.output": 5, "text.output": 50})
    assert u.input_tokens == 1111 and u.output_tokens == 55


def test_with_makes_a_changed_copy():
    u = Usage(M, {"text.input": 3})
    v = u.with_(estimated=True, label="guess")
    assert (v.estimated, v.label, v.tokens) == (True, "guess", {"text.input": 3})
    assert u.estimated is False


def test_the_error_names_the_bucket_that_is_wrong_not_one_at_the_bound():
    with pytest.raises(UsageError, match="audio.input must be a whole number") as info:
        Usage(M, {"text.input": 10**12, "audio.input": "12"})
    assert "text.input" not in str(info.value)
