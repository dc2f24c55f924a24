"""The usage record: its buckets, its bounds, and adding usages together."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import Usage, UsageError
from costmodel.core.usage import (
    MAX_QUANTITY,
    MAX_TOKENS,
    TOKEN_KEYS,
    combine,
    quantity,
    token_key,
    usage_from_json,
    usage_to_json,
)

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


# -- JSON: the spend log's usage trail ----------------------------------------------------------

_decimals = st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False)
_usages = st.builds(
    Usage,
    model=st.text(min_size=1, max_size=30),
    tokens=st.dictionaries(st.sampled_from(sorted(TOKEN_KEYS)), st.integers(0, 10**12)),
    connection_seconds=_decimals, audio_seconds=_decimals,
    characters=st.integers(0, 10**12),
    at=st.none() | st.dates(),
    label=st.text(max_size=20), estimated=st.booleans())


@given(_usages)
@settings(max_examples=300)
def test_a_usage_survives_json_exactly(u):
    text = json.dumps(usage_to_json(u))
    back = usage_from_json(json.loads(text))
    assert back == u
    # exact: the same digits, not a float's neighbour
    assert str(back.connection_seconds) == str(u.connection_seconds) or not u.connection_seconds
    assert str(back.audio_seconds) == str(u.audio_seconds) or not u.audio_seconds


def test_json_leaves_out_what_is_at_its_default():
    assert usage_to_json(Usage(M)) == {"model": M}
    u = Usage(M, {"audio.input": 120, "text.output": 9}, connection_seconds=D("12"),
              audio_seconds=D("3.20"), characters=120, at=date(2026, 11, 30),
              label="response", estimated=True)
    # seconds are strings: "3.20" keeps its digits (a float would not promise to)
    assert usage_to_json(u) == {
        "model": M, "label": "response", "tokens": {"audio.input": 120, "text.output": 9},
        "connection_seconds": "12", "audio_seconds": "3.20", "characters": 120,
        "at": "2026-11-30", "estimated": True}


def test_json_seconds_may_be_numbers_too():
    # a hand-written trail: 1.5 s as a JSON number reads as exactly 1.5
    u = usage_from_json({"model": M, "audio_seconds": 1.5, "connection_seconds": 60})
    assert (u.audio_seconds, u.connection_seconds) == (D("1.5"), D(60))


@pytest.mark.parametrize("payload, message", [
    ([], r"usage: expected a JSON object"),
    ({"model": M, "tokenz": {}}, r"usage: unknown field\(s\) \['tokenz'\]"),
    ({}, r"usage.model: expected a model id, got None"),
    ({"model": ""}, r"usage.model: expected a model id"),
    ({"model": M, "label": 3}, r"usage.label: expected a string"),
    ({"model": M, "tokens": [1]}, r"usage.tokens: expected an object of token counts"),
    ({"model": M, "tokens": {"text.input": "1"}}, r"usage: text.input must be a whole number"),
    ({"model": M, "tokens": {"text.input": 1.0}}, r"usage: text.input must be a whole number"),
    ({"model": M, "tokens": {"text.input": True}}, r"usage.tokens: text.input must be a whole"),
    ({"model": M, "tokens": {"video.input": 1}}, r"usage: unknown token bucket"),
    ({"model": M, "estimated": "yes"}, r"usage.estimated: expected true or false"),
    ({"model": M, "audio_seconds": "3,2"}, r"usage: audio_seconds must be a number"),
    ({"model": M, "audio_seconds": "-1"}, r"usage: audio_seconds must be a finite number from 0"),
    ({"model": M, "audio_seconds": "NaN"}, r"usage: audio_seconds must be a finite number"),
    ({"model": M, "connection_seconds": True}, r"usage: connection_seconds must be a number"),
    ({"model": M, "connection_seconds": None}, r"usage: connection_seconds must be a"),
    ({"model": M, "characters": -1}, r"usage: characters must be a whole number"),
    ({"model": M, "at": "30/11/2026"}, r"usage: at must be a date \(YYYY-MM-DD\)"),
    ({"model": M, "at": 20261130}, r"usage: at must be a date"),
])
def test_json_that_is_not_a_usage_is_refused_naming_the_field(payload, message):
    with pytest.raises(UsageError, match=message):
        usage_from_json(payload)


def test_the_caller_names_where_the_usage_was():
    with pytest.raises(UsageError, match=r"^usage\[3\].model: expected a model id"):
        usage_from_json({"model": 7}, "usage[3]")
