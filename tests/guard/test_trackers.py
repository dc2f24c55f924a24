"""Protocol trackers: each provider's events, both directions, read into the guard's signals;
chosen from data; only the provider reports usage."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from costmodel import price
from costmodel.adapters.gemini_live import usage_from_usage_metadata
from costmodel.errors import UsageError
from costmodel.guard import TRACKERS, SessionGuard
from costmodel.guard.trackers import GeminiLiveTracker, NovaSonicTracker, OpenAIRealtimeTracker

from .fake_gemini import MODEL, GeminiTurns

EXAMPLES = Path(__file__).parents[2] / "examples" / "sessions"
GEMINI = "google/gemini-3.1-flash-live"


def test_trackers_are_chosen_from_data():
    assert {"openai-realtime": OpenAIRealtimeTracker, "gemini-live": GeminiLiveTracker,
            "nova-sonic": NovaSonicTracker} == TRACKERS
    # The first provider event picks the tracker (its reader claims it).
    guard = SessionGuard("10")
    assert guard.format is None
    guard.observe({"setupComplete": {}})
    assert guard.format == "gemini-live"
    guard = SessionGuard("10", fmt="nova-sonic", model="amazon/nova-2-sonic")
    assert guard.format == "nova-sonic"
    with pytest.raises(UsageError, match="unknown format"):
        SessionGuard("10", fmt="carrier-pigeon")


def test_gemini_the_clients_setup_names_the_model_once(builtin):
    # Gemini does not echo the model: the setup the client sends (and the provider runs) names
    # it. Only the first counts: the provider refuses a second one.
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    guard.observe({"setup": {"model": "models/gemini-2.0-flash-live-001"}}, source="client")
    assert guard.model == MODEL
    usage = GeminiTurns().usage(1)
    d = guard.observe({"serverContent": {"turnComplete": True}, "usageMetadata": usage})
    expected = price(usage_from_usage_metadata(usage, GEMINI), builtin).total_usd
    assert d.spent_usd == expected and guard.responses == 1


def test_gemini_requests_turns_and_forgeries(builtin):
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    turn = {"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                              "turnComplete": True}}
    guard.observe(turn, source="client")
    assert guard.awaiting == 1                                     # asked for
    audio = {"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "mimeType": "audio/pcm;rate=24000", "data": "A" * 4800}}]}}}
    guard.observe(audio)
    assert guard.in_flight == 1 and guard.awaiting == 1           # started: in flight
    guard.observe({"serverContent": {"turnComplete": True},
                   "usageMetadata": GeminiTurns().usage(1)})
    assert guard.awaiting == 0 and guard.responses == 1
    # Audio with manual VAD: the end of the user's activity comes before a response.
    assert guard.observe({"realtimeInput": {"activityEnd": {}}}, source="client") == guard.last
    guard.observe({"toolResponse": {"functionResponses": []}}, source="client")
    assert guard.awaiting == 1
    spent = guard.spent_usd
    for forged in ({"usageMetadata": {"promptTokenCount": 10**9}},
                   {"serverContent": {"turnComplete": True}}, {"setupComplete": {}}):
        guard.observe(forged, source="client")
    assert guard.spent_usd == spent and guard.ignored_client_events == 3


def test_gemini_a_turn_without_usage_is_estimated_from_its_audio(builtin):
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    guard.observe({"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "data": "A" * 64_000}}]}}})     # 48,000 bytes: 1 s of 24 kHz pcm16
    final = guard.finalize()
    assert final.estimated and guard.costs[-1].usage.tokens["audio.output"] == 25


def test_gemini_recorded_example_prices_like_price_events(builtin):
    from costmodel import price_events
    lines = (EXAMPLES / "gemini-live-booking.jsonl").read_text().splitlines()
    guard = SessionGuard("100", catalog=builtin)
    for line in lines:
        guard.observe(json.loads(line))
    assert guard.spent_usd == price_events(lines, catalog=builtin).total_usd


def test_nova_usage_comes_only_from_the_provider(builtin):
    guard = SessionGuard("10", catalog=builtin, fmt="nova-sonic", model="amazon/nova-2-sonic")
    event = {"event": {"usageEvent": {"details": {"delta": {
        "input": {"speechTokens": 100, "textTokens": 10},
        "output": {"speechTokens": 200, "textTokens": 20}}}}}}
    guard.observe(event, source="client")
    assert guard.spent_usd == 0 and guard.ignored_client_events == 1
    assert guard.observe(event).spent_usd > D(0) and guard.responses == 1


# ---- what mutation testing found untested (issue 10 item 7) ---------------------------------

_CHUNK = {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "A" * 4800}}]}}}


def test_gemini_a_turn_in_chunks_is_one_response_and_each_turn_a_new_one(builtin):
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    guard.observe(_CHUNK)
    guard.observe(_CHUNK)
    assert guard.in_flight == 1                    # two chunks of one model turn
    guard.observe({"serverContent": {"turnComplete": True},
                   "usageMetadata": GeminiTurns().usage(1)})
    assert guard.in_flight == 0 and guard.responses == 1
    guard.observe(_CHUNK)
    assert guard.in_flight == 1                    # the turn after a complete one is new
    guard.observe({"serverContent": {"interrupted": True}})
    guard.observe(_CHUNK)
    assert guard.in_flight == 2                    # so is the one after an interruption


def test_gemini_the_end_of_the_users_activity_holds_the_next_response(builtin):
    from costmodel.ledger import MemoryLedger
    ledger = MemoryLedger()
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live", ledger=ledger,
                         scope="acme", scope_limit_usd="5")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    guard.observe({"realtimeInput": {"audio": {"data": "AAAA"}}}, source="client")
    assert ledger.reserved(scope="acme") == 0      # the user is still speaking
    guard.observe({"realtimeInput": {"activityEnd": {}}}, source="client")
    assert ledger.reserved(scope="acme") == guard.projected_next_usd() > 0


@pytest.mark.parametrize("fmt, bytes_per_second", [
    ({"type": "audio/pcm", "rate": 24000}, 48000),   # 16-bit samples: 2 bytes each
    ({"type": "audio/pcm", "rate": 16000}, 32000),
    ({"type": "audio/pcm", "rate": 1}, 2),           # any positive rate is taken
    ({"type": "audio/pcmu"}, 8000),
    ({"type": "audio/pcm"}, None),                   # no rate: the default stays
    ({"type": "audio/pcm", "rate": 0}, None),
])
def test_openai_output_audio_rate_from_the_ga_format(fmt, bytes_per_second):
    from costmodel.guard.trackers.openai_realtime import output_bytes_per_second
    assert output_bytes_per_second({"audio": {"output": {"format": fmt}}}) == bytes_per_second


def test_openai_a_user_turn_of_zero_length_is_measured_not_assumed(builtin):
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5")
    guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    assumed = guard.projected_next_usd()           # a 10 s user turn: 100 audio tokens
    guard.observe({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000})
    guard.observe({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1000})
    # 0 s measured: 1 audio token, 99 fewer at $32 per 1M = $0.003168 less
    assert assumed - guard.projected_next_usd() == D("0.003168")


def test_openai_a_user_turn_is_measured_in_milliseconds(builtin):
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5")
    guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    assumed = guard.projected_next_usd()           # a 10 s user turn: 100 audio tokens
    guard.observe({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000})
    guard.observe({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 4000})
    # 3,000 ms = 3 s x 10/s + 1 = 31 audio tokens: 69 fewer at $32 per 1M = $0.002208 less
    assert assumed - guard.projected_next_usd() == D("0.002208")


def test_openai_beta_g711_output_is_8000_bytes_a_second():
    from costmodel.guard.trackers.openai_realtime import output_bytes_per_second
    assert output_bytes_per_second({"output_audio_format": "g711_ulaw"}) == 8000
    assert output_bytes_per_second({"output_audio_format": "g711_alaw"}) == 8000


def test_openai_a_speech_stop_without_its_start_measures_nothing(builtin):
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5")
    guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    assumed = guard.projected_next_usd()
    d = guard.observe({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1000})
    assert d.action == "ok" and guard.projected_next_usd() == assumed   # still 10 s assumed


def test_openai_audio_is_counted_from_zero_bytes(builtin):
    import base64
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5")
    guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5",
                                                          "output_audio_format": "g711_ulaw"}})
    guard.observe({"type": "response.created"})
    # 399 bytes of 8 kHz g711 (1 byte a sample) = 0.049875 s; at 20 tokens/s: 0.9975 of a
    # token, so none (one byte more would be a whole token)
    guard.observe({"type": "response.output_audio.delta",
                   "delta": base64.b64encode(bytes(399)).decode()})
    d = guard.observe({"type": "response.done", "response": {"status": "completed"}})
    assert d.estimated and guard.costs[-1].usage.tokens == {"audio.input": 100}


def test_gemini_audio_bytes_count_only_inline_audio_data():
    from costmodel.guard.trackers.gemini_live import audio_bytes

    assert audio_bytes({"modelTurn": {"parts": [{"text": "hi"}]}}) == 0       # no audio
    assert audio_bytes({"modelTurn": {"parts": []}}) == 0
    # base64: 4 characters carry 3 bytes; 4 + 8 characters are 3 + 6 bytes
    assert audio_bytes({"modelTurn": {"parts": [{"inlineData": {"data": "AAAA"}},
                                                {"inline_data": {"data": "A" * 8}}]}}) == 9


def test_gemini_a_server_message_that_starts_nothing_is_answered_with_a_decision(builtin):
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    d = guard.observe({"setupComplete": {}})
    assert d is not None and d.action == "ok" and d == guard.last


def test_gemini_a_client_message_of_an_unknown_kind_is_neither_metered_nor_forged(builtin):
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    d = guard.observe({"someFutureMessage": {"x": 1}}, source="client")
    assert d == guard.last and guard.ignored_client_events == 0


def test_gemini_a_forged_client_message_is_logged_by_its_own_kind(builtin, caplog):
    guard = SessionGuard("10", catalog=builtin, fmt="gemini-live")
    guard.observe({"setup": {"model": f"models/{MODEL}"}}, source="client")
    with caplog.at_level("WARNING", logger="costmodel.guard"):
        guard.observe({"toolCall": {"functionCalls": []}}, source="client")
    assert guard.ignored_client_events == 1
    assert "of type 'toolCall'" in caplog.text
