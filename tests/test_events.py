"""Pricing recorded sessions: bad lines are reported and skipped; unknown rates are unknown."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D

import pytest

from costmodel import UnknownModelError, UsageError
from costmodel.events import detect_format, price_events


def _done(audio_in: int, audio_out: int) -> str:
    return json.dumps({"type": "response.done", "response": {"usage": {
        "input_tokens": audio_in, "output_tokens": audio_out,
        "input_token_details": {"audio_tokens": audio_in},
        "output_token_details": {"audio_tokens": audio_out}}}})


def test_malformed_lines_are_skipped_with_their_line_numbers(toy):
    lines = [
        '{"type": "session.created", "session": {"model": "toy-rt"}}',
        _done(1000, 0),
        "{not json",
        '["an", "array"]',
        json.dumps({"type": "response.done", "response": {"usage": {
            "input_tokens": 5, "input_token_details": {"audio_tokens": 4}}}}),
        "",
        _done(0, 1000),
    ]
    report = price_events(lines, catalog=toy)
    assert [s.line for s in report.skipped] == [3, 4, 5]
    reasons = [s.reason for s in report.skipped]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1] == "expected a JSON object, got list"
    assert reasons[2] == "response.usage: input_tokens (5) is not the sum of its modalities (4)"
    assert [p.line for p in report.priced] == [2, 7]
    # toy/realtime today: audio in $20/1M, out $40/1M -> 0.02 + 0.04
    assert report.total_usd == D("0.06")
    assert report.lines == 7


def test_usage_without_a_known_rate_makes_the_total_unknown(toy):
    lines = ['{"type": "session.created", "session": {"model": "toy/phone"}}', _done(10, 0)]
    report = price_events(lines, catalog=toy)
    assert report.total_usd is None
    assert report.unpriced[0].line == 2
    assert "no known rate for audio.input" in report.unpriced[0].reason


def test_unknown_model_fails_fast(toy):
    with pytest.raises(UnknownModelError):
        price_events([_done(1, 1)], model="toy/nope", catalog=toy)


def test_format_is_detected_from_the_first_recognisable_event():
    assert detect_format({"type": "response.done"}) == "openai-realtime"
    assert detect_format({"usageMetadata": {}}) == "gemini-live"
    assert detect_format({"event": {"usageEvent": {}}}) == "nova-sonic"
    assert detect_format({"hello": 1}) is None


def test_lines_before_the_format_is_known_are_kept(toy):
    lines = ['{"hello": 1}', '{"type": "session.created", "session": {"model": "toy-rt"}}',
             _done(1000, 0)]
    report = price_events(lines, catalog=toy)
    assert len(report.priced) == 1 and report.skipped == []


def test_explicit_format_and_unknown_format(toy):
    with pytest.raises(UsageError, match="unknown format"):
        price_events([], fmt="carrier-pigeon", catalog=toy)
    report = price_events([_done(1000, 0)], fmt="openai-realtime", model="toy-rt", catalog=toy)
    assert report.total_usd == D("0.02")


def test_usage_date_defaults_to_today(toy):
    report = price_events([_done(1_000_000, 0)], model="toy-rt", catalog=toy)
    assert report.priced[0].cost.rates.period.effective <= date.today()
