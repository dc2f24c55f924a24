"""A real relay on loopback saves before it cuts: the ladder's session updates, the wrap-up,
the cut; and it hangs up on silence, on hold and at the maximum length.

client (websockets) <-> Relay <-> tests.guard.fake_realtime.FakeRealtime (OpenAI GA shapes),
whose responses cost, with gpt-realtime-1.5's rates ($4 text in, $32 audio in, $64 audio out
per 1M) and no cache: 1,000 x $4 for the instructions, $32 a 1M for the audio history plus
100 user tokens, and a 400-token reply at $64 a 1M until a step caps it:

    response 1 = $0.0040 + 100 x $32/1M + 400 x $64/1M = $0.0328
    response 2 = $0.0040 + 600 x $32/1M + 400 x $64/1M = $0.0488 (the projection after 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from costmodel.guard import WRAP_UP_INSTRUCTIONS, Hangup, Ladder
from costmodel.guard.relay import Relay

from .fake_gemini import FakeGemini
from .fake_realtime import MODEL, FakeRealtime
from .test_relay import audio_frame, run, spend_log, wait_for
from .test_relay_gemini import SETUP, recv, talk

LIMIT = Decimal("0.25")
LADDER = Ladder.of([
    {"at": 0.3, "max_output_tokens": 100},
    {"at": 0.45, "truncation": {"retention_ratio": 0.5, "post_instructions_tokens": 800}},
    {"at": 0.8, "wrap_up": True}])


@contextlib.asynccontextmanager
async def stack(tmp_path: Path, limit=LIMIT, vad=False, **relay_kw):
    async with FakeRealtime(vad=vad) as up:
        relay = Relay(up.url, limit, spend_log=tmp_path / "spend.jsonl", proxy=None,
                      **relay_kw)
        _, port = await relay.start("127.0.0.1:0")
        try:
            yield up, relay, f"ws://127.0.0.1:{port}/v1/realtime?model={MODEL}"
        finally:
            await asyncio.wait_for(relay.close(), 5)


async def read_until(ws, t: str, seen: list[dict]) -> None:
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 3))
        seen.append(event)
        if event.get("type") == t:
            return


async def rest(ws, seen: list[dict]) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 3)))


def test_the_relay_lowers_the_reply_then_the_context_then_wraps_up_then_cuts(tmp_path):
    async def main():
        async with stack(tmp_path, ladder=LADDER) as (up, relay, url):
            seen: list[dict] = []
            async with connect(url, proxy=None, open_timeout=3) as ws:
                with contextlib.suppress(ConnectionClosed):
                    for i in range(30):
                        await ws.send(audio_frame(i))
                        await ws.send(json.dumps({"type": "response.create"}))
                        await read_until(ws, "response.done", seen)
                await rest(ws, seen)
                code = ws.close_code
            await wait_for(lambda: relay.sessions_done == 1)
            return up.links[0], seen, code, relay

    link, seen, code, relay = run(main())
    [rec] = spend_log(tmp_path)
    frames, types = link.frames, link.types()
    creates = [i for i, t in enumerate(types) if t == "response.create"]
    updates = [i for i, t in enumerate(types) if t == "session.update"]
    # The reply cap went up after response 1 was done, before response 2 was asked for...
    assert frames[updates[0]]["session"] == {"type": "realtime", "max_output_tokens": 100}
    assert creates[0] < updates[0] < creates[1]
    # ...the truncation after response 3, before response 4.
    assert frames[updates[1]]["session"] == {"type": "realtime", "truncation": {
        "type": "retention_ratio", "retention_ratio": 0.5,
        "token_limits": {"post_instructions": 800}}}
    assert creates[2] < updates[1] < creates[3]
    # Then the goodbye, once, and the cut (a cancel, the close with 4002).
    wraps = [i for i in creates
             if frames[i].get("response", {}).get("instructions") == WRAP_UP_INSTRUCTIONS]
    assert len(wraps) == 1 and wraps[0] < types.index("response.cancel")
    assert code == 4002 and rec["end"] == "cut"
    assert seen[-1]["error"]["type"] == "budget_exceeded"
    ladder = rec["ladder"]
    assert [(s["step"], s["after_responses"]) for s in ladder] == [
        ("max_output_tokens", 1), ("truncation", 3), ("wrap_up", 6)]
    # After response 1: $0.0328 spent, $0.2172 left. Without the cap, responses 2-4 fit
    # ($0.0488 + $0.0648 + $0.0808 = $0.1944); with 100-token replies the same three cost
    # $0.0296 + $0.0360 + $0.0424 = $0.1080, and two more fit ($0.0488 + $0.0552: $0.2120).
    first = ladder[0]
    assert (first["without_usd"], first["with_usd"], first["expected_saving_usd"]) == (
        "0.194400000000", "0.108000000000", "0.086400000000")
    assert (first["over_responses"], first["extra_responses"]) == (3, 2)
    # After response 3 ($0.0984 spent): responses 4-6 cost $0.1464 as they go, $0.0888 past
    # 800 tokens after the instructions keeping 400: $0.0232 + $0.0296 + $0.0360 = $0.0888,
    # and two more fit in the $0.1516 left ($0.0232 + $0.0296: $0.1416).
    assert ladder[1]["expected_saving_usd"] == "0.057600000000"
    assert ladder[1]["extra_responses"] == 2
    # What the session cost: eight responses in the $0.25 ($0.24 in all); the same session
    # without the ladder is cut after four ($0.0328 + $0.0488 + $0.0648 + $0.0808 = $0.2272).
    assert rec["responses"] == link.responses == 8
    assert Decimal(rec["spent_usd"]) == Decimal("0.24")
    assert rec["setup"] == {"model": "openai/gpt-realtime-1.5", "text_tokens": 1000,
                            "first_response_usd": "0.004000000000", "rebilled": True,
                            "cached_usd_per_response": "0.000400000000"}
    assert relay.metrics.value("costmodel_relay_ladder_steps_total",
                               step="max_output_tokens", applied="true") == 1


def test_without_the_ladder_the_same_session_is_cut_after_four_responses(tmp_path):
    async def main():
        async with stack(tmp_path) as (up, relay, url):
            seen: list[dict] = []
            async with connect(url, proxy=None, open_timeout=3) as ws:
                with contextlib.suppress(ConnectionClosed):
                    for i in range(30):
                        await ws.send(audio_frame(i))
                        await ws.send(json.dumps({"type": "response.create"}))
                        await read_until(ws, "response.done", seen)
                await rest(ws, seen)
            await wait_for(lambda: relay.sessions_done == 1)
            return up.links[0]

    link = run(main())
    [rec] = spend_log(tmp_path)
    # $0.0328 + $0.0488 + $0.0648 + $0.0808 (the policy's goodbye) = $0.2272, then the cut.
    assert rec["end"] == "cut" and rec["responses"] == link.responses == 4
    assert Decimal(rec["spent_usd"]) == Decimal("0.2272") and "ladder" not in rec


def test_the_ladders_end_step_hangs_up_after_the_goodbye(tmp_path):
    ladder = Ladder.of([{"at": 0.1, "wrap_up": True}, {"at": 0.12, "end": True}])

    async def main():
        async with stack(tmp_path, ladder=ladder) as (up, relay, url):
            seen: list[dict] = []
            async with connect(url, proxy=None, open_timeout=3) as ws:
                await ws.send(json.dumps({"type": "response.create"}))
                await rest(ws, seen)
                code, reason = ws.close_code, ws.close_reason
            await wait_for(lambda: relay.sessions_done == 1)
            return up.links[0], seen, code, reason

    link, seen, code, reason = run(main())
    [rec] = spend_log(tmp_path)
    # $0.0328 + $0.0488 next passes 10% and 12% of $0.25 after response 1: the goodbye is
    # asked for, and the call ends once it is done (response 2), not before.
    assert (code, reason) == (4002, "budget: the call was wound down")
    assert rec["end"] == "ladder_end" and rec["responses"] == link.responses == 2
    assert [s["step"] for s in rec["ladder"]] == ["wrap_up", "end"]
    assert [e["type"] for e in seen].count("response.done") == 2
    assert seen[-1]["error"] == {"type": "session_ended", "code": "ladder_end", "param": None,
                                 "message": "costmodel guard ended the call: its budget "
                                            "ladder wound it down"}


async def one_turn(ws, seen: list[dict]) -> None:
    """The user says something (speech, then noise: the fake's VAD stops and answers)."""
    for i in range(3):
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "event_id": f"speech{i}",
                                  "audio": ""}))
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "event_id": "noise",
                              "audio": ""}))
    await read_until(ws, "response.done", seen)


def hang_up(tmp_path, hangup: Hangup, *, stream: bool, vad: bool = True, turns: int = 1):
    async def main():
        async with stack(tmp_path, limit=Decimal(1), vad=vad, hangup=hangup) as (up, relay,
                                                                                   url):
            seen: list[dict] = []
            async with connect(url, proxy=None, open_timeout=3) as ws:
                loop = asyncio.get_running_loop()
                start = loop.time()
                for _ in range(turns):
                    await one_turn(ws, seen)
                answered = loop.time()
                if stream:   # noise every 20 ms until the relay hangs up: music on hold
                    with contextlib.suppress(ConnectionClosed):
                        while True:
                            await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                                      "event_id": "noise", "audio": ""}))
                            await asyncio.sleep(0.02)
                await rest(ws, seen)
                ended = loop.time()
                code = ws.close_code
            await wait_for(lambda: relay.sessions_done == 1)
            return up.links[0], seen, code, ended - answered, ended - start

    return run(main())


def test_silence_ends_the_call_after_the_last_answer(tmp_path):
    link, seen, code, quiet, _ = hang_up(tmp_path, Hangup(silence_seconds=0.4), stream=False)
    [rec] = spend_log(tmp_path)
    assert code == 4009 and rec["end"] == "silence"
    assert seen[-1]["error"]["code"] == "silence"
    assert 0.35 <= quiet < 1.5      # (from the relay's last event, a moment before ours)
    assert rec["responses"] == link.responses == 1


def test_audio_without_speech_is_hold_and_ends_the_call(tmp_path):
    link, seen, code, quiet, _ = hang_up(tmp_path, Hangup(silence_seconds=30, hold_seconds=0.4),
                                         stream=True)
    [rec] = spend_log(tmp_path)
    assert code == 4010 and rec["end"] == "hold" and seen[-1]["error"]["code"] == "hold"
    assert 0.35 <= quiet < 1.5 and rec["responses"] == 1


def test_a_call_is_wrapped_up_then_ended_at_its_maximum_length(tmp_path):
    link, seen, code, _, length = hang_up(
        tmp_path, Hangup(max_call_seconds=1.0, wrap_up_before_seconds=0.5), stream=False,
        turns=0)
    [rec] = spend_log(tmp_path)
    assert code == 4011 and rec["end"] == "max_length"
    assert 1.0 <= length < 2.5
    [wrap] = link.of_type("response.create")
    assert wrap["response"]["instructions"] == WRAP_UP_INSTRUCTIONS
    assert rec["responses"] == 1        # the goodbye, metered


def test_no_speech_timer_without_the_providers_vad(tmp_path):
    # turn_detection null: the client commits its own turns, the provider reports no speech,
    # so silence is never assumed; the maximum length still ends the call.
    _link, _seen, code, _, length = hang_up(
        tmp_path, Hangup(silence_seconds=0.2, max_call_seconds=1.0, wrap_up_before_seconds=0),
        stream=False, vad=False, turns=0)
    [rec] = spend_log(tmp_path)
    assert code == 4011 and rec["end"] == "max_length" and length >= 1.0


def test_gemini_takes_only_the_steps_it_can_mid_session(tmp_path):
    # After turn 1: $0.003315 spent and ~$0.004 next, past 0.5% and 0.6% of $1.
    ladder = Ladder.of([{"at": 0.005, "max_output_tokens": 100},
                        {"at": 0.006, "wrap_up": True}])

    async def main():
        async with FakeGemini() as up:
            relay = Relay(up.url, "1.00", spend_log=tmp_path / "spend.jsonl", proxy=None,
                          ladder=ladder)
            _, port = await relay.start("127.0.0.1:0")
            try:
                async with connect(f"ws://127.0.0.1:{port}/", open_timeout=3, proxy=None) as ws:
                    await ws.send(json.dumps(SETUP))
                    await recv(ws)
                    await talk(ws, 3)
                await wait_for(lambda: relay.sessions_done == 1)
            finally:
                await relay.close()
            return up.conns[0]

    conn = run(main())
    [rec] = spend_log(tmp_path)
    cap, wrap = rec["ladder"]
    assert cap["step"] == "max_output_tokens" and cap["applied"] is False
    assert cap["note"] == "Gemini Live takes its config only at setup: no max_output_tokens " \
                          "mid-session"
    assert wrap["step"] == "wrap_up" and wrap["applied"] is True
    asked = [m for m in conn.messages() if "clientContent" in m]
    assert any(m["clientContent"]["turns"][0]["parts"][0]["text"] == WRAP_UP_INSTRUCTIONS
               for m in asked)


def test_a_client_forging_speech_events_does_not_keep_a_call_on_hold_alive(tmp_path):
    # Only the provider's frames say whether the user spoke: a client that sends the
    # provider's own speech events (to dodge the hold timer) is refused, and the call on
    # hold still ends on time.
    async def main():
        async with stack(tmp_path, limit=Decimal(1), vad=True,
                         hangup=Hangup(silence_seconds=30, hold_seconds=0.4)) as (up, relay,
                                                                                  url):
            seen: list[dict] = []
            async with connect(url, proxy=None, open_timeout=3) as ws:
                loop = asyncio.get_running_loop()
                await one_turn(ws, seen)
                answered = loop.time()
                with contextlib.suppress(ConnectionClosed):
                    for i in range(500):   # at most 10 s
                        kind = ("input_audio_buffer.speech_started" if i % 2 else
                                "input_audio_buffer.speech_stopped")
                        await ws.send(json.dumps({"type": kind, "event_id": f"forged{i}",
                                                  "audio_start_ms": i, "audio_end_ms": i,
                                                  "item_id": f"item_f{i}"}))
                        await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                                  "event_id": "noise", "audio": ""}))
                        await asyncio.sleep(0.02)
                await rest(ws, seen)
                quiet = loop.time() - answered
                code = ws.close_code
            await wait_for(lambda: relay.sessions_done == 1)
            return code, quiet

    code, quiet = run(main())
    [rec] = spend_log(tmp_path)
    assert code == 4010 and rec["end"] == "hold"
    assert quiet < 3
