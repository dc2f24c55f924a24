"""OpenAI Realtime: response.done and transcription usage, session models, a whole trace."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import UsageError
from costmodel.adapters.openai_realtime import (
    OpenAIRealtimeReader,
    session_models,
    tokens_from_realtime_usage,
    usage_from_response_done,
    usage_from_transcription,
)
from costmodel.adapters.recorded import price_events

EXAMPLE = Path(__file__).parents[2] / "examples" / "sessions" / "openai-realtime-support.jsonl"


def test_real_payload_from_the_community_thread():
    # community.openai.com thread 1009129: input 1911 (text 698, audio 1213), cached 384 text.
    usage = {"total_tokens": 2622, "input_tokens": 1911, "output_tokens": 711,
             "input_token_details": {"text_tokens": 698, "audio_tokens": 1213,
                                     "cached_tokens": 384,
                                     "cached_tokens_details": {"text_tokens": 384,
                                                               "audio_tokens": 0}},
             "output_token_details": {"text_tokens": 160, "audio_tokens": 551}}
    assert tokens_from_realtime_usage(usage) == {
        "text.input": 314, "text.cached": 384, "audio.input": 1213,
        "text.output": 160, "audio.output": 551}


def test_cached_audio_is_split_from_audio_input_not_text():
    usage = {"input_tokens": 300, "output_tokens": 0,
             "input_token_details": {"text_tokens": 100, "audio_tokens": 200, "cached_tokens": 250,
                                     "cached_tokens_details": {"text_tokens": 100,
                                                               "audio_tokens": 150}},
             "output_token_details": {"text_tokens": 0, "audio_tokens": 0}}
    t = tokens_from_realtime_usage(usage)
    assert t == {"text.cached": 100, "audio.input": 50, "audio.cached": 150}
    assert sum(t.values()) == 300  # nothing counted twice, nothing lost


def test_cached_total_without_details_fills_text_first():
    usage = {"input_tokens": 300, "input_token_details": {"text_tokens": 100, "audio_tokens": 200,
                                                          "cached_tokens": 128}}
    assert tokens_from_realtime_usage(usage) == {
        "text.cached": 100, "audio.input": 172, "audio.cached": 28}


@pytest.mark.parametrize("usage, message", [
    ({"input_tokens": 10}, "no input_token_details"),
    ({"input_tokens": 10, "input_token_details": {"text_tokens": 4, "audio_tokens": 5}},
     "not the sum of its modalities"),
    ({"input_token_details": {"text_tokens": 4, "cached_tokens": 8,
                              "cached_tokens_details": {"text_tokens": 8}}},
     "exceed the 4 text input"),
    ({"input_token_details": {"text_tokens": -1}}, "whole number from 0 to 1e12"),
    ({"output_tokens": 9, "output_token_details": {"text_tokens": 4, "audio_tokens": 4}},
     "not text \\+ audio"),
])
def test_inconsistent_usage_is_rejected_with_the_field(usage, message):
    with pytest.raises(UsageError, match=message):
        tokens_from_realtime_usage(usage)


def test_response_done_without_usage_is_none():
    assert usage_from_response_done({"type": "response.done", "response": {"usage": None}},
                                    "openai/gpt-realtime") is None


def test_transcription_tokens_and_duration():
    tokens_ev = {"type": "conversation.item.input_audio_transcription.completed",
                 "usage": {"type": "tokens", "total_tokens": 26, "input_tokens": 17,
                           "input_token_details": {"text_tokens": 0, "audio_tokens": 17},
                           "output_tokens": 9}}
    u = usage_from_transcription(tokens_ev, "openai/gpt-4o-transcribe")
    assert u.tokens == {"audio.input": 17, "text.output": 9}
    dur = usage_from_transcription({"usage": {"type": "duration", "seconds": 2.3}},
                                   "openai/whisper-1")
    assert dur.audio_seconds == D("2.3") and not dur.tokens
    with pytest.raises(UsageError, match="'tokens' or 'duration'"):
        usage_from_transcription({"usage": {"type": "minutes"}}, "openai/whisper-1")


def test_session_models_ga_and_beta_shapes():
    ga = {"type": "session.created", "session": {"model": "gpt-realtime", "audio": {
        "input": {"transcription": {"model": "gpt-4o-transcribe"}}}}}
    beta = {"type": "session.updated", "session": {"model": "gpt-4o-realtime-preview",
                                                   "input_audio_transcription": {
                                                       "model": "whisper-1"}}}
    assert session_models(ga) == ("gpt-realtime", "gpt-4o-transcribe")
    assert session_models(beta) == ("gpt-4o-realtime-preview", "whisper-1")
    assert session_models({"type": "session.created", "session": {
        "audio": {"input": {"transcription": None}}}}) == (None, None)


def test_reader_takes_models_from_session_events_unless_given():
    r = OpenAIRealtimeReader()
    r.feed({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    assert r.model == "gpt-realtime-1.5"
    forced = OpenAIRealtimeReader(model="openai/gpt-realtime-mini")
    forced.feed({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    assert forced.model == "openai/gpt-realtime-mini"


def test_reader_needs_a_model_before_pricing():
    with pytest.raises(UsageError, match="--model"):
        OpenAIRealtimeReader().feed({"type": "response.done", "response": {"usage": {}}})


def test_recorded_trace_prices_every_response_and_transcription(builtin):
    report = price_events(EXAMPLE.read_text().splitlines(), catalog=builtin)
    assert report.format == "openai-realtime"
    assert report.model == "gpt-realtime-1.5"
    labels = [p.usage.label for p in report.priced]
    assert labels.count("response 6") == 1 and labels.count("transcription 6") == 1
    assert len(report.priced) == 12 and not report.skipped and not report.unpriced
    # Recompute the total independently from the raw events.
    expected = D(0)
    rates = {"text.input": D(4), "text.cached": D("0.4"), "audio.input": D(32),
             "audio.cached": D("0.4"), "text.output": D(16), "audio.output": D(64)}
    tr_rates = {"audio.input": D(6), "text.output": D(10)}  # gpt-4o-transcribe
    for line in EXAMPLE.read_text().splitlines():
        ev = json.loads(line)
        if ev["type"] == "response.done":
            u = ev["response"]["usage"]
            itd, otd = u["input_token_details"], u["output_token_details"]
            c = itd["cached_tokens_details"]
            expected += ((itd["text_tokens"] - c["text_tokens"]) * rates["text.input"]
                         + c["text_tokens"] * rates["text.cached"]
                         + (itd["audio_tokens"] - c["audio_tokens"]) * rates["audio.input"]
                         + c["audio_tokens"] * rates["audio.cached"]
                         + otd["text_tokens"] * rates["text.output"]
                         + otd["audio_tokens"] * rates["audio.output"]) / 1_000_000
        elif ev["type"].endswith("input_audio_transcription.completed"):
            u = ev["usage"]
            expected += (u["input_token_details"]["audio_tokens"] * tr_rates["audio.input"]
                         + u["output_tokens"] * tr_rates["text.output"]) / 1_000_000
    assert report.total_usd == expected
    # The transcription part is in the total, not dropped.
    assert any(li.model == "openai/gpt-4o-transcribe" for li in report.line_items)


# ---- a missing count is zero, on the fast path too (mutation testing, issue 10 item 7) -----

FULL = {"input_token_details": {"text_tokens": 100, "audio_tokens": 50, "image_tokens": 20,
                                "cached_tokens_details": {"text_tokens": 60, "audio_tokens": 10,
                                                          "image_tokens": 5}},
        "output_token_details": {"text_tokens": 30, "audio_tokens": 70}}


@pytest.mark.parametrize("part, key", [("input_token_details", "text_tokens"),
                                       ("input_token_details", "audio_tokens"),
                                       ("input_token_details", "image_tokens"),
                                       ("cached_tokens_details", "text_tokens"),
                                       ("cached_tokens_details", "audio_tokens"),
                                       ("cached_tokens_details", "image_tokens"),
                                       ("output_token_details", "text_tokens"),
                                       ("output_token_details", "audio_tokens")])
def test_a_count_left_out_is_the_same_as_zero(part, key):
    def with_(value):
        usage = json.loads(json.dumps(FULL))
        details = (usage["input_token_details"]["cached_tokens_details"]
                   if part == "cached_tokens_details" else usage[part])
        if value is None:
            del details[key]
        else:
            details[key] = value
        if part == "input_token_details":  # keep the cached part within the input
            usage["input_token_details"]["cached_tokens_details"].pop(key, None)
        return usage

    assert tokens_from_realtime_usage(with_(None)) == tokens_from_realtime_usage(with_(0))
    # e.g. no text input at all: none of it is billed
    left = tokens_from_realtime_usage(with_(None))
    modality, _, _ = key.partition("_")
    bucket = {"input_token_details": "input", "cached_tokens_details": "cached",
              "output_token_details": "output"}[part]
    assert f"{modality}.{bucket}" not in left


# ---- the fast path is the careful path, faster --------------------------------------------

_COUNT = st.one_of(st.integers(0, 40), st.sampled_from([-1, 10**12, 10**12 + 1, 2 * 10**12]),
                   st.sampled_from([None, 3.0, 2.5, "4", True]))


@st.composite
def _usages(draw):
    def part(keys):
        return {k: v for k in keys if (v := draw(_COUNT)) is not None or draw(st.booleans())}

    itd = part(("text_tokens", "audio_tokens", "image_tokens"))
    ctd = part(("text_tokens", "audio_tokens", "image_tokens"))
    # mostly consistent payloads, cached within the input, with the right totals
    if draw(st.booleans()):
        for m in ("text_tokens", "audio_tokens", "image_tokens"):
            if isinstance(ctd.get(m), int) and isinstance(itd.get(m), int):
                ctd[m] = min(ctd[m], itd[m])
    itd["cached_tokens_details"] = ctd
    otd = part(("text_tokens", "audio_tokens"))
    usage = {"input_token_details": itd, "output_token_details": otd}
    ints = [v for v in itd.values() if type(v) is int]
    for key, total in (("input_tokens", sum(ints)),
                       ("output_tokens", sum(v for v in otd.values() if type(v) is int))):
        choice = draw(st.sampled_from(["right", "off", "absent"]))
        if choice != "absent":
            usage[key] = total + (choice == "off")
    if draw(st.booleans()):
        itd["cached_tokens"] = sum(v for v in ctd.values() if type(v) is int) + draw(
            st.sampled_from([0, 0, 1]))
    return usage


def _outcome(fn, usage):
    try:
        return fn(usage)
    except UsageError:
        return "refused"


@settings(max_examples=400, deadline=None)
@given(_usages())
def test_every_payload_gets_the_careful_paths_answer(usage):
    from costmodel.adapters.openai_realtime import _tokens_careful
    assert (_outcome(tokens_from_realtime_usage, usage)
            == _outcome(lambda u: _tokens_careful(u, "response.usage"), usage))


@pytest.mark.parametrize("usage", [
    FULL,                                                                  # every bucket
    {"input_tokens": 0, "output_tokens": 0,                                # nothing at all
     "input_token_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0,
                             "cached_tokens": 0, "cached_tokens_details": {}},
     "output_token_details": {"text_tokens": 0, "audio_tokens": 0}},
    {"input_tokens": 30, "output_tokens": 5,                               # all cached
     "input_token_details": {"text_tokens": 10, "audio_tokens": 15, "image_tokens": 5,
                             "cached_tokens": 30, "cached_tokens_details": {
                                 "text_tokens": 10, "audio_tokens": 15, "image_tokens": 5}},
     "output_token_details": {"text_tokens": 5, "audio_tokens": 0}},
    {"input_tokens": 10**12 - 1, "output_tokens": 1,                       # at the bound
     "input_token_details": {"text_tokens": 10**12 - 1, "cached_tokens_details": {}},
     "output_token_details": {"audio_tokens": 1}},
])
def test_well_formed_payloads_take_the_fast_path(usage, monkeypatch):
    # the guard prices every response.done: the API's own shapes never need the careful path
    from costmodel.adapters import openai_realtime

    expected = openai_realtime._tokens_careful(usage, "response.usage")
    monkeypatch.setattr(openai_realtime, "_tokens_careful", None)   # called: a TypeError
    assert tokens_from_realtime_usage(usage) == expected


def test_a_usage_that_reports_nothing_is_refused():
    with pytest.raises(UsageError, match="reports none of"):
        tokens_from_realtime_usage({})


def test_without_cached_details_output_text_and_audio_are_both_counted():
    usage = {"input_tokens": 12, "output_tokens": 30,
             "input_token_details": {"text_tokens": 12, "cached_tokens": 0},
             "output_token_details": {"text_tokens": 20, "audio_tokens": 10}}
    assert tokens_from_realtime_usage(usage) == {"text.input": 12, "text.output": 20,
                                                 "audio.output": 10}


def test_a_dated_response_keeps_its_date():
    from datetime import date
    ev = {"type": "response.done", "response": {"usage": {
        "input_tokens": 10, "output_tokens": 0, "input_token_details": {"audio_tokens": 10},
        "output_token_details": {}}}}
    day = date(2026, 3, 1)
    u = usage_from_response_done(ev, "openai/gpt-realtime-1.5", at=day, label="r")
    assert (u.at, u.label, u.tokens) == (day, "r", {"audio.input": 10})
    assert usage_from_response_done(ev, "openai/gpt-realtime-1.5").at is None


def test_transcription_tokens_without_details_are_all_audio_and_nothing_is_refused():
    ev = {"usage": {"type": "tokens", "input_tokens": 17, "output_tokens": 9}}
    assert usage_from_transcription(ev, "openai/gpt-4o-transcribe").tokens == {
        "audio.input": 17, "text.output": 9}
    with pytest.raises(UsageError, match="reports none of"):
        usage_from_transcription({"usage": {"type": "tokens"}}, "openai/gpt-4o-transcribe")


def test_a_given_transcription_model_prices_transcriptions():
    r = OpenAIRealtimeReader(model="openai/gpt-realtime-1.5",
                             transcription_model="openai/whisper-1")
    (u,) = r.feed({"type": "conversation.item.input_audio_transcription.completed",
                   "usage": {"type": "duration", "seconds": 3}})
    assert (u.model, u.audio_seconds, u.label) == ("openai/whisper-1", 3, "transcription 1")
    # a session event naming another one does not replace it
    r.feed({"type": "session.updated", "session": {"input_audio_transcription": {
        "model": "gpt-4o-transcribe"}}})
    assert r.transcription_model == "openai/whisper-1"


def test_a_transcription_model_named_only_in_the_clients_session_update_is_priced(builtin):
    # issue 11: recordings interleave client events; some name the input transcription model
    # only in the client's session.update (GA shape: session.audio.input.transcription,
    # https://platform.openai.com/docs/api-reference/realtime-client-events/session/update),
    # while the server's session.created carries none. main left the transcription unpriced.
    from datetime import date

    from costmodel.adapters.recorded import price_events

    lines = [json.dumps(e) for e in (
        {"type": "session.created", "session": {"type": "realtime", "object": "realtime.session",
                                                "model": "gpt-realtime-1.5",
                                                "audio": {"input": {"transcription": None}}}},
        {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "transcription": {"model": "gpt-4o-mini-transcribe"}}}}},
        {"type": "conversation.item.input_audio_transcription.completed",
         "item_id": "item_CCXGQ4e1ht4cOraEYcuR2", "content_index": 0,
         "transcript": "Hey, can you hear me?",
         "usage": {"type": "tokens", "total_tokens": 22, "input_tokens": 13,
                   "input_token_details": {"text_tokens": 0, "audio_tokens": 13},
                   "output_tokens": 9}},
    )]
    report = price_events(lines, catalog=builtin, on=date(2026, 11, 25))
    assert report.unknown_reason is None
    (p,) = report.priced
    assert p.cost.model == "openai/gpt-4o-mini-transcribe"
    # 13 audio x $3 + 9 text out x $5 per 1M = 39 + 45 = $0.000084
    assert report.total_usd == D("0.000084")


def test_the_servers_session_event_wins_over_the_clients_request():
    from costmodel.adapters.openai_realtime import OpenAIRealtimeReader

    r = OpenAIRealtimeReader()
    r.feed({"type": "session.updated", "session": {
        "model": "gpt-realtime-1.5", "input_audio_transcription": {"model": "whisper-1"}}})
    r.feed({"type": "session.update", "session": {
        "model": "gpt-realtime-mini", "input_audio_transcription": {"model": "gpt-4o-transcribe"}}})
    assert (r.model, r.transcription_model) == ("gpt-realtime-1.5", "whisper-1")


# ---- a response.done's shape, transcription prompts, counting (mutation testing, item 7) ----

def test_a_response_done_without_a_response_has_no_usage():
    assert usage_from_response_done({"type": "response.done"}, "openai/gpt-realtime-1.5") \
        is None
    assert usage_from_response_done({"type": "response.done", "response": {"id": "r"}},
                                     "openai/gpt-realtime-1.5") is None


@pytest.mark.parametrize("response", [{"usage": [1, 2]}, {"usage": "none"}, [1]])
def test_a_response_or_usage_that_is_not_an_object_is_refused(response):
    with pytest.raises(UsageError, match="must be an object"):
        usage_from_response_done({"type": "response.done", "response": response},
                                 "openai/gpt-realtime-1.5")


def test_a_transcription_prompt_is_billed_as_text_input():
    # 100 in = 10 prompt (text) + 90 audio; 25 out
    u = usage_from_transcription(
        {"usage": {"type": "tokens", "input_tokens": 100, "output_tokens": 25,
                   "input_token_details": {"text_tokens": 10, "audio_tokens": 90}}},
        "openai/gpt-4o-transcribe")
    assert dict(u.tokens) == {"text.input": 10, "audio.input": 90, "text.output": 25}


def test_responses_are_counted_and_labelled_from_one():
    r = OpenAIRealtimeReader(model="openai/gpt-realtime-1.5")
    assert r.responses == 0
    done = {"type": "response.done", "response": {"usage": {
        "input_tokens": 10, "output_tokens": 0, "input_token_details": {"text_tokens": 10}}}}
    (a,) = r.feed(done)
    (b,) = r.feed(done)
    assert (a.label, b.label, r.responses) == ("response 1", "response 2", 2)
