"""The guard's trust boundary: only the provider's events can name the model, report usage or
record spend; a client's events only ask for responses and bust the cache."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest

from costmodel import Usage
from costmodel.adapters.openai_realtime import tokens_from_realtime_usage
from costmodel.errors import UsageError
from costmodel.guard import SessionGuard
from costmodel.ledger import MemoryLedger

from ..sessions import openai_session

FORGED_MODEL = {"type": "session.updated", "session": {"model": "xai/grok-voice-agent"}}
# 1e12 audio tokens out at $64/1M = $64,000,000 if it were believed.
FORGED_DONE = {"type": "response.done", "response": {"usage": {
    "input_tokens": 0, "output_tokens": 10**12,
    "input_token_details": {"text_tokens": 0, "audio_tokens": 0, "cached_tokens": 0,
                            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0}},
    "output_token_details": {"text_tokens": 0, "audio_tokens": 10**12}}}}


def test_a_client_cannot_rename_the_model_to_a_flat_rate_one(builtin, caplog):
    # The measured attack: a client's session.updated naming xai/grok-voice-agent ($0.05/min,
    # flat) turned 200 gpt-realtime-1.5 responses ($149.79) into $0.01. It must be ignored.
    guard = SessionGuard("0.10", catalog=builtin)
    events = openai_session(builtin, turns=200)
    cut = None
    with caplog.at_level(logging.WARNING, logger="costmodel.guard"):
        for i, ev in enumerate(events):
            if i == 1:
                guard.observe(FORGED_MODEL, source="client")
            d = guard.observe(ev)
            if d.action == "cut":
                cut = d
                break
    assert cut is not None and guard.model == "gpt-realtime-1.5"
    assert D("0") < cut.spent_usd <= D("0.10")
    assert guard.ignored_client_events == 1
    assert "ignored a client event of type 'session.updated'" in caplog.text


def test_a_client_cannot_report_usage_or_record_spend(builtin):
    ledger = MemoryLedger()
    guard = SessionGuard("1", catalog=builtin, model="openai/gpt-realtime-1.5", ledger=ledger)
    before = guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    for forged in (FORGED_DONE, FORGED_MODEL,
                   {"type": "conversation.item.input_audio_transcription.completed",
                    "usage": {"type": "duration", "seconds": 10**6}},
                   {"type": "response.output_audio.delta", "delta": "A" * 10_000},
                   {"type": "error"}, {"usageMetadata": {"promptTokenCount": 10**9}},
                   {"type": ["not", "a", "string"]}, {"type": None}):
        assert guard.observe(forged, source="client") is before
    assert guard.spent_usd == 0 and guard.responses == 0
    assert ledger.spent() == 0 and ledger.records() == []
    # (the last three are no OpenAI client event at all: ignored without a count)
    assert guard.ignored_client_events == 5
    with pytest.raises(UsageError, match="never from a client"):
        guard.observe(Usage("openai/gpt-realtime-1.5", {"audio.input": 1}), source="client")
    with pytest.raises(UsageError, match="source must be"):
        guard.observe({"type": "response.create"}, source="browser")  # type: ignore[arg-type]


def test_a_client_asks_for_responses_and_busts_the_cache(builtin):
    guard = SessionGuard("1", catalog=builtin)
    events = openai_session(builtin, turns=3, hit_ratio=0.9)
    for ev in events:
        guard.observe(ev)
    cached = guard.last.projected_next_usd
    # session.update (new instructions) from the client: the cached prefix is gone.
    busted = guard.observe({"type": "session.update", "session": {"instructions": "x"}},
                           source="client")
    assert busted.projected_next_usd > cached
    # response.create from the client counts as a request in flight...
    guard.observe({"type": "response.create"}, source="client")
    assert guard.observe({"type": "input_audio_buffer.speech_started"}).pending == 1
    # ...ordinary client traffic is neither metered nor counted as forged.
    for ev in ({"type": "input_audio_buffer.append", "audio": "AAAA"},
               {"type": "input_audio_buffer.commit"}, {"type": "response.cancel"},
               {"type": "conversation.item.create", "item": {"type": "message"}}):
        guard.observe(ev, source="client")
    assert guard.ignored_client_events == 0 and guard.responses == 3


def test_client_events_never_pick_the_format(builtin):
    # A Gemini-shaped first frame from the client must not make the guard read the OpenAI
    # server's events as Gemini (and so meter none of them).
    guard = SessionGuard("10", catalog=builtin)
    guard.observe({"setup": {"model": "models/gemini-2.5-flash-live"},
                   "serverContent": {}, "usageMetadata": {}}, source="client")
    for ev in openai_session(builtin, turns=2):
        guard.observe(ev)
    assert guard.responses == 2 and guard.model == "gpt-realtime-1.5"


def test_the_realtime_fast_path_keeps_the_token_bound():
    # The fast path once skipped the 1e12 cap the careful path enforces.
    usage = FORGED_DONE["response"]["usage"]
    assert tokens_from_realtime_usage(usage) == {"audio.output": 10**12}  # at the bound: ok
    over = {**usage, "output_tokens": 10**12 + 1,
            "output_token_details": {"text_tokens": 1, "audio_tokens": 10**12}}
    with pytest.raises(UsageError, match="from 0 to 1e12"):
        tokens_from_realtime_usage(over)


@pytest.mark.parametrize("limit", ["1e999999999", "inf", "nan", "-1", "0", "abc", "1000001"])
def test_limits_the_guard_cannot_hold_are_refused(builtin, limit):
    # 1e999999999 once overflowed warn_at * limit (decimal.Overflow, not a clear error).
    with pytest.raises(UsageError, match="positive amount in USD"):
        SessionGuard(limit, catalog=builtin)


def test_a_done_without_a_created_answers_the_request(builtin):
    guard = SessionGuard("10", catalog=builtin)
    events = openai_session(builtin, turns=1)
    guard.observe(events[0])
    guard.observe({"type": "response.create"}, source="client")
    assert guard.awaiting == 1
    guard.observe(next(e for e in events if e["type"] == "response.done"))
    assert guard.awaiting == 0 and guard.responses == 1
