"""Recorded sessions: failing fast, and the bound on events held before the format is known
(what mutation testing found untested, issue 10 item 7)."""

from __future__ import annotations

import json

import pytest

from costmodel import UnknownModelError
from costmodel.adapters.recorded import price_events


def test_an_unknown_model_is_refused_before_any_line_is_read(builtin):
    read = []

    def lines():
        read.append(1)
        yield '{"type": "session.created", "session": {"model": "gpt-realtime-1.5"}}'

    with pytest.raises(UnknownModelError):
        price_events(lines(), model="nope/nope", catalog=builtin)
    assert read == []
    with pytest.raises(UnknownModelError):
        price_events([], model="nope/nope", catalog=builtin)     # nothing to read at all


def test_ten_thousand_events_are_held_until_the_format_shows_and_no_more(builtin):
    # 10,001 events no reader claims, then an OpenAI Realtime one: the first 10,000 wait for
    # the format to show; the 10,001st is skipped
    lines = ['{"x": 1}'] * 10_001 + [json.dumps(
        {"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})]
    report = price_events(lines, catalog=builtin)
    assert report.format == "openai-realtime"
    assert report.skipped_count == 1 and report.skipped[0].line == 10_001


def test_a_time_billed_session_with_its_length_has_nothing_unpriced(builtin):
    lines = ['{"type": "session.created", "session": {"model": "grok-voice-latest"}}',
             json.dumps({"type": "response.done", "response": {"usage": {
                 "input_tokens": 500, "output_tokens": 800,
                 "input_token_details": {"text_tokens": 500},
                 "output_token_details": {"audio_tokens": 800}}}})]
    assert price_events(lines, catalog=builtin).unpriced_count == 1   # its length is missing
    report = price_events(lines, catalog=builtin, connection_seconds=90)
    # the note is withdrawn, from the list and from the count
    assert (report.unpriced, report.unpriced_count) == ([], 0)


def test_a_reader_s_arithmetic_trouble_skips_the_line_saying_so(builtin, monkeypatch):
    # no payload we know of gets past the readers' own checks this way: this is the guard
    # for one that does (absurd numbers deep in a payload), which must not end the file
    from decimal import Overflow

    from costmodel.adapters.openai_realtime import OpenAIRealtimeReader
    real = OpenAIRealtimeReader.feed

    def feed(self, event):
        if event.get("absurd"):
            raise Overflow("exponent too large")
        return real(self, event)

    monkeypatch.setattr(OpenAIRealtimeReader, "feed", feed)
    lines = ['{"type": "session.created", "session": {"model": "gpt-realtime-1.5"}}',
             '{"type": "response.done", "absurd": true}']
    report = price_events(lines, catalog=builtin)
    assert report.skipped_count == 1
    assert (report.skipped[0].line, report.skipped[0].reason) == (2, "unusable numbers (Overflow)")
