"""End-to-end tests of the metering relay: real websockets on loopback, no mocks.

client (websockets) <-> costmodel.guard.relay.Relay <-> tests.guard.fake_upstream.FakeUpstream
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from costmodel.errors import InputError
from costmodel.guard import SessionGuard
from costmodel.guard.actions import WRAP_UP_INSTRUCTIONS
from costmodel.guard.relay import Relay, fast_type, parse_listen
from costmodel.ledger import open_ledger

from .fake_upstream import MODEL, FakeUpstream, Turns

PATH = f"/v1/realtime?model={MODEL}"
HEADERS = {"Authorization": "Bearer sk-test-123", "OpenAI-Beta": "realtime=v1",
           "OpenAI-Organization": "org-test", "X-Trace-Id": "trace-42"}
SUBPROTOCOLS = ["realtime", "openai-insecure-api-key.sk-test-123"]


def run(coro, timeout: float = 10):
    """Run one test's coroutine in its own loop, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@contextlib.asynccontextmanager
async def relay_stack(tmp_path: Path, limit="1.00", upstream: dict | None = None, **relay_kw):
    async with FakeUpstream(**(upstream or {})) as up:
        relay = Relay(up.url, limit, spend_log=tmp_path / "spend.jsonl", proxy=None,
                      **relay_kw)
        _, port = await relay.start("127.0.0.1:0")
        try:
            yield up, relay, f"ws://127.0.0.1:{port}"
        finally:
            await asyncio.wait_for(relay.close(), 5)


def client(url: str, **kw):
    return connect(url + PATH, additional_headers=HEADERS, subprotocols=SUBPROTOCOLS,
                   open_timeout=3, proxy=None, **kw)


def spend_log(tmp_path: Path) -> list[dict]:
    path = tmp_path / "spend.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def audio_frame(i: int) -> str:
    """20 ms of pcm16 24 kHz mono (960 bytes), base64, as a client append event."""
    pcm = os.urandom(960)
    return json.dumps({"type": "input_audio_buffer.append", "event_id": f"evt_{i}",
                       "audio": base64.b64encode(pcm).decode()})


async def recv(ws, timeout: float = 2.0):
    msg = await asyncio.wait_for(ws.recv(), timeout)
    return json.loads(msg) if isinstance(msg, str) else msg


async def turn(ws, seen: list[dict], frames: int = 3) -> None:
    """One user turn: a little audio, response.create, then read up to a response.done."""
    for i in range(frames):
        await ws.send(audio_frame(i))
    await ws.send(json.dumps({"type": "response.create", "event_id": "evt_rc"}))
    while True:
        event = await recv(ws)
        seen.append(event)
        if event.get("type") == "response.done":
            return


async def talk_until_closed(ws, max_turns: int = 60) -> list[dict]:
    seen: list[dict] = []
    with contextlib.suppress(ConnectionClosed):
        for _ in range(max_turns):
            await turn(ws, seen)
    with contextlib.suppress(ConnectionClosed):
        while True:  # what arrived before the close is still readable
            seen.append(await recv(ws))
    return seen


async def wait_for(predicate, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def cost_of(responses: int, turns: Turns | None = None) -> Decimal:
    """What the fake upstream's first `responses` responses cost, priced independently."""
    guard, turns = SessionGuard(1000, model=MODEL), turns or Turns()
    for k in range(1, responses + 1):
        guard.observe({"type": "response.done", "response": {"usage": turns.usage(k)}})
    return guard.spent_usd


def no_loud_logs(caplog) -> None:
    loud = [r for r in caplog.records if r.levelno > logging.WARNING]
    assert not loud, [r.getMessage() for r in loud]
    assert not [r for r in caplog.records if r.exc_info and r.levelno > logging.WARNING]


# -- helpers of the relay ---------------------------------------------------------------

def test_fast_type_and_listen():
    assert fast_type(audio_frame(1)) == "input_audio_buffer.append"
    assert fast_type('{"event_id":"e","type":"response.create"}') == "response.create"
    # A nested or duplicated "type" never takes the fast path.
    assert fast_type('{"response":{"type":"x"},"type":"response.create"}') is None
    assert fast_type('{"type":"input_audio_buffer.append","type":"response.create"}') is None
    assert fast_type('{"type":"input_audio_buffer.append","\\u0074ype":"response.create"}') is None
    assert parse_listen("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("8765", "host:", "host:http", "h:99999"):
        with pytest.raises(InputError):
            parse_listen(bad)


# -- (1) path, query, headers, subprotocol ----------------------------------------------

def test_path_query_headers_and_subprotocol_reach_upstream(tmp_path):
    async def main():
        async with relay_stack(tmp_path) as (up, _relay, url):
            async with client(url, user_agent_header="test-agent/1") as ws:
                assert (await recv(ws))["type"] == "session.created"
                assert ws.subprotocol == "realtime"   # the one the upstream selected
            return up.conns[0]

    conn = run(main())
    assert conn.path == "/v1/realtime"
    assert conn.query == {"model": [MODEL]}
    for name, value in HEADERS.items():
        assert conn.headers[name.lower()] == value
    assert conn.subprotocols == SUBPROTOCOLS
    assert conn.headers["host"].startswith("127.0.0.1:")      # the relay's own handshake
    assert conn.headers["user-agent"] == "test-agent/1"


def test_upstream_refusal_reaches_client_as_http_status(tmp_path):
    async def refuse(conn, request):
        return conn.respond(401, "invalid api key\n")

    async def main():
        async with ws_serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as srv:
            port = next(iter(srv.sockets)).getsockname()[1]
            relay = Relay(f"ws://127.0.0.1:{port}", "1", spend_log=tmp_path / "s.jsonl",
                          proxy=None)
            _, rport = await relay.start("127.0.0.1:0")
            try:
                with pytest.raises(InvalidStatus) as info:
                    async with client(f"ws://127.0.0.1:{rport}"):
                        pass
                return info.value.response.status_code
            finally:
                await relay.close()

    assert run(main()) == 401


def test_paths_that_could_leave_the_upstream_path_are_refused_400(tmp_path):
    """Measured before: with --upstream pinned to wss://host/v1/realtime, a client asking for
    /../../v1/responses (or %2e%2e) reached /v1/realtime/../../v1/responses upstream, which a
    server or proxy normalising dot segments serves as /v1/responses."""
    bad = ["/../../v1/responses", "/%2e%2e/%2E%2e/admin", "/v1/..;/admin", "/..%2fadmin",
           "/%252e%252e/admin", "/a%5c..%5cadmin", "//evil.example/x"]

    async def main():
        async with FakeUpstream() as up:
            relay = Relay(up.url + "/v1/realtime", "1", proxy=None)
            _, port = await relay.start("127.0.0.1:0")
            try:
                statuses = []
                for path in bad:
                    with pytest.raises(InvalidStatus) as info:
                        async with connect(f"ws://127.0.0.1:{port}{path}", proxy=None,
                                           open_timeout=3):
                            pass
                    statuses.append(info.value.response.status_code)
                async with connect(f"ws://127.0.0.1:{port}/?model={MODEL}", proxy=None) as ws:
                    await recv(ws)
            finally:
                await relay.close()
            return statuses, [c.path for c in up.conns], relay.metrics

    statuses, paths, metrics = run(main())
    assert statuses == [400] * len(bad)
    assert paths == ["/v1/realtime"]  # only the good one was connected upstream
    assert metrics.value("costmodel_relay_refused_handshakes_total",
                         reason="bad_path") == len(bad)


def test_repeated_handshake_headers_do_not_fail_the_handshake(tmp_path):
    async def main():
        async with relay_stack(tmp_path, compression=True) as (up, _relay, url):
            # The client sends its own Sec-WebSocket-Extensions line: this makes two.
            async with connect(url + PATH, proxy=None, open_timeout=3, additional_headers=[
                    ("Sec-WebSocket-Extensions", "x-other")]) as ws:
                assert (await recv(ws))["type"] == "session.created"
            return up.conns

    assert len(run(main())) == 1


# -- (2) audio frames byte for byte ------------------------------------------------------

def test_audio_frames_arrive_byte_for_byte(tmp_path):
    frames = [audio_frame(i) for i in range(200)]
    blob = os.urandom(960)

    async def main():
        async with relay_stack(tmp_path) as (up, _relay, url):
            async with client(url) as ws:
                await recv(ws)
                for f in frames:
                    await ws.send(f)
                await ws.send(blob)  # a binary frame, too
                await wait_for(lambda: len(up.conns[0].frames) == 201)
                seen: list[dict] = []
                await turn(ws, seen, frames=0)  # server audio comes back unchanged too
            return up.conns[0], seen, up.delta

    conn, seen, delta = run(main())
    assert conn.frames[:200] == frames          # the exact text of every frame, in order
    assert conn.frames[200] == blob
    deltas = [e["delta"] for e in seen if e["type"] == "response.output_audio.delta"]
    assert deltas == [delta] * 3


# -- (3) + (4) a long session: wrap-up, then cut before the cap ---------------------------

LIMIT = Decimal("0.25")


def long_session(tmp_path, **relay_kw):
    async def main():
        async with relay_stack(tmp_path, limit=str(LIMIT), **relay_kw) as (up, relay, url):
            async with client(url) as ws:
                seen = await talk_until_closed(ws)
                code, reason = ws.close_code, ws.close_reason
            await wait_for(lambda: relay.sessions_done == 1)
            return up.conns[0], seen, code, reason
    return run(main())


def test_long_session_is_cut_before_the_cap(tmp_path, record_property):
    conn, seen, code, reason = long_session(tmp_path)
    assert (code, reason) == (4002, "budget exceeded")
    assert seen[-1]["type"] == "error"
    assert seen[-1]["error"]["type"] == "budget_exceeded"
    types = conn.types()
    assert "response.cancel" in types
    [rec] = spend_log(tmp_path)
    assert rec["end"] == "cut" and rec["model"] == "openai/gpt-realtime-1.5"
    spent = Decimal(rec["spent_usd"])
    # Every response the upstream produced was metered; none crossed the cap.
    assert rec["responses"] == conn.responses
    assert spent == cost_of(conn.responses)
    assert spent <= LIMIT
    # The cut came when the next response was projected to cross the cap, and it was never
    # requested upstream (all the upstream's responses are metered above).
    cut = rec["decisions"][-1]
    assert cut["action"] == "cut"
    # ...counting the responses already requested or in flight (here the wrap-up goodbye)
    pending = cut["pending_responses"]
    assert Decimal(cut["spent_usd"]) + Decimal(cut["projected_next_usd"]) * (1 + pending) > LIMIT
    actual_next = cost_of(conn.responses + 1) - spent
    error = Decimal(cut["projected_next_usd"]) - actual_next
    record_property("projection_error_usd", str(error))
    record_property("projection_error_share", f"{error / actual_next:.3f}")
    # The guard's projection is conservative here (it over-estimates), within one response.
    assert Decimal(0) <= error < actual_next
    assert [d["action"] for d in rec["decisions"]][-2:] == ["wrap_up", "cut"]


def test_wrap_up_is_requested_upstream_before_the_cut(tmp_path):
    conn, _seen, code, _ = long_session(tmp_path)
    events = conn.events()
    wraps = [i for i, e in enumerate(events) if e.get("type") == "response.create"
             and e.get("response", {}).get("instructions") == WRAP_UP_INSTRUCTIONS]
    cancel = [i for i, e in enumerate(events) if e.get("type") == "response.cancel"]
    assert len(wraps) == 1 and cancel and wraps[0] < cancel[0]
    assert code == 4002


def test_response_create_over_the_cap_is_not_forwarded(tmp_path):
    async def main():
        async with relay_stack(tmp_path, limit="0.001") as (up, _relay, url):
            async with client(url) as ws:
                await recv(ws)  # session.created: the guard knows the model
                await ws.send(json.dumps({"type": "response.create", "event_id": "evt_x"}))
                error = await recv(ws)
                with pytest.raises(ConnectionClosed):
                    await recv(ws)
            return up.conns[0], error, ws.close_code
    conn, error, code = run(main())
    assert error["error"]["code"] == "session_budget_exceeded"
    assert code == 4002
    assert "response.create" not in conn.types()
    assert conn.types() == ["response.cancel"] and conn.responses == 0
    assert spend_log(tmp_path)[0]["spent_usd"] == "0"


# -- (5) + (6) drops mid-stream ------------------------------------------------------------

def test_client_drop_keeps_spend_and_relay_keeps_serving(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def main():
        upstream = {"deltas": 10, "delta_pause": 0.05}
        async with relay_stack(tmp_path, upstream=upstream) as (up, relay, url):
            async with client(url) as ws:
                seen: list[dict] = []
                await recv(ws)
                await turn(ws, seen)
                await turn(ws, seen)
                await ws.send(json.dumps({"type": "response.create"}))
                while (await recv(ws))["type"] != "response.output_audio.delta":
                    pass
                ws.transport.abort()  # the client vanishes mid-response
            await wait_for(lambda: relay.sessions_done == 1)
            first = spend_log(tmp_path)
            await wait_for(lambda: up.conns[0].closed.is_set())
            async with client(url) as ws2:  # the relay keeps serving
                await recv(ws2)
                await turn(ws2, [])
            await wait_for(lambda: relay.sessions_done == 2)
            return first

    first = run(main())
    assert len(first) == 1
    assert first[0]["end"] == "client_closed"
    # The response in flight when the client vanished was cancelled upstream and its
    # (billed) usage metered from the cancelled response.done.
    assert first[0]["responses"] == 3
    assert Decimal(first[0]["spent_usd"]) == cost_of(3)
    second = spend_log(tmp_path)[1]
    assert second["responses"] == 1 and second["end"] == "client_closed"
    no_loud_logs(caplog)


def test_upstream_drop_closes_client_and_writes_spend(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def main():
        async with relay_stack(tmp_path, upstream={"drop_after_deltas": 5}) as (_up, relay, url):
            async with client(url) as ws:
                seen = await talk_until_closed(ws)
                code = ws.close_code
            await wait_for(lambda: relay.sessions_done == 1)
            return seen, code

    _seen, code = run(main())
    assert code == 1014  # bad gateway: the upstream went away without a close frame
    [rec] = spend_log(tmp_path)
    assert rec["end"] == "upstream_closed"
    # The response in flight when the upstream dropped is estimated from its audio, flagged.
    assert rec["responses"] == 2 and rec["estimated"] is True
    assert Decimal(rec["spent_usd"]) > cost_of(1)
    no_loud_logs(caplog)


# -- (7) the ledger agrees with the spend log -----------------------------------------------

def test_ledger_total_matches_spend_log(tmp_path):
    ledger = open_ledger(f"sqlite:///{tmp_path / 'spend.db'}")

    async def main():
        async with relay_stack(tmp_path, limit=str(LIMIT), ledger=ledger) as (_up, relay, url):
            async with client(url) as ws:   # a session cut at the limit
                await talk_until_closed(ws)
            async with client(url) as ws:   # and a short one
                await recv(ws)
                await turn(ws, [])
            await wait_for(lambda: relay.sessions_done == 2)

    try:
        run(main())
        records = spend_log(tmp_path)
        assert len(records) == 2
        for rec in records:
            assert ledger.spent(session_id=rec["session_id"]) == Decimal(rec["spent_usd"])
        assert ledger.spent() == sum(Decimal(r["spent_usd"]) for r in records)
    finally:
        ledger.close()


# -- regressions from the review of issue #4 ------------------------------------------------

def test_disguised_and_malformed_client_frames_are_handled(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    disguised = '{"type":"input_audio_buffer.append","\\u0074ype":"response.create"}'

    async def main():
        async with relay_stack(tmp_path, limit="0.001") as (up, _relay, url):
            async with client(url) as ws:
                await recv(ws)                  # session.created
                await ws.send(disguised)        # must not sneak a response past the guard
                refused = await recv(ws)
                # Not one JSON object: refused too (a provider parsing a valid prefix, as in
                # '{"type":"response.create"} junk', would act on what the guard never saw).
                for text in ("{not json", '{"type":"response.create"} junk', "[1, 2]"):
                    await ws.send(text)
                    not_json = await recv(ws)
                    assert not_json["error"]["code"] == "invalid_event", text
                await ws.send('{"type": ["x"]}')  # an object of no known event: passed on
                await ws.send(audio_frame(0))
                await wait_for(lambda: len(up.conns[0].frames) >= 2)
            return up.conns[0], refused

    conn, refused = run(main())
    assert refused["type"] == "error" and refused["error"]["code"] == "invalid_event"
    assert disguised not in conn.frames and "{not json" not in conn.frames
    assert "response.create" not in conn.types()
    assert '{"type": ["x"]}' in conn.frames
    no_loud_logs(caplog)


# -- regressions from the review of the relay ---------------------------------------------

def test_appends_are_relayed_unparsed_and_escapes_never_pass_as_audio(tmp_path, caplog):
    """Audio appends are known from their text and relayed without parsing; a frame with a
    \\u escape never takes that path, and other events too costly to parse are refused."""
    caplog.set_level(logging.INFO)
    padding = "{}," * 60_000  # more JSON values than the relay parses in one client event
    unparsed = audio_frame(1) + " " + padding  # (not JSON: parsed, it would be refused)
    escaped_first = ('{"\\u0074ype":"response.create","type":"input_audio_buffer.append",'
                     '"audio":"AAAA"}')
    costly = '{"type":"conversation.item.create","pad":[' + padding + '{}]}'
    last = audio_frame(2)

    async def main():
        async with relay_stack(tmp_path) as (up, relay, url):
            async with client(url) as ws:
                await recv(ws)
                await ws.send(unparsed)
                await ws.send(escaped_first)
                first = await recv(ws)
                await ws.send(costly)
                second = await recv(ws)
                await ws.send(last)
                await wait_for(lambda: len(up.conns[0].frames) == 2)
            return up.conns[0], first, second, relay.metrics

    conn, first, second, metrics = run(main())
    assert conn.frames == [unparsed, last]  # byte for byte; the refused ones not at all
    assert first["error"]["code"] == second["error"]["code"] == "invalid_event"
    assert "only one 'type' key" in first["error"]["message"]
    assert "at most 50000 JSON values" in second["error"]["message"]
    for reason in ("duplicate_type", "too_complex"):
        assert metrics.value("costmodel_relay_rejected_client_frames_total", reason=reason) == 1
    assert conn.responses == 0
    no_loud_logs(caplog)


def test_a_refused_frame_is_logged_once_a_session_and_counted_each_time(tmp_path, caplog):
    """Measured before: 5000 frames with two "type" keys logged 5000 warnings."""
    caplog.set_level(logging.INFO, "costmodel.relay")

    async def main():
        async with relay_stack(tmp_path) as (up, relay, url):
            async with client(url) as ws:
                await recv(ws)
                for _ in range(300):
                    await ws.send('{"type":"a","type":"b"}')
                errors = [(await recv(ws))["error"]["code"] for _ in range(300)]
                await ws.send(audio_frame(0))
                await wait_for(lambda: len(up.conns[0].frames) == 1)
            return up.conns[0], relay.metrics, errors

    conn, metrics, errors = run(main())
    assert errors == ["invalid_event"] * 300  # each client frame refused is answered
    assert metrics.value("costmodel_relay_rejected_client_frames_total",
                         reason="duplicate_type") == 300
    assert len(conn.frames) == 1
    logged = [r for r in caplog.records if "refused a client frame" in r.getMessage()]
    assert len(logged) == 1 and "duplicate_type" in logged[0].getMessage()


def test_a_costly_client_frame_does_not_stall_other_sessions(tmp_path):
    """Measured before (2 vCPUs): a client streaming 4 MiB frames of ``[[],[],...]`` held the
    event loop ~0.5 s per frame; another session's worst response time went from 0.01 s to
    2.6 s. They are now refused after a count of their brackets, in a few ms."""
    n = 4 * 2**20 // 3 - 10
    frames = ["[" + ",".join(["[]"] * n) + "]",
              '{"type":"x","pad":[' + ",".join(["{}"] * (n - 10)) + "]}"]

    async def victim(url: str) -> float:
        worst = 0.0
        async with client(url) as ws:
            await recv(ws)
            for _ in range(10):
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "response.create"}))
                while (await recv(ws, 10))["type"] != "response.done":
                    pass
                worst = max(worst, time.perf_counter() - t0)
        return worst

    async def attacker(url: str, stop: asyncio.Event) -> int:
        sent = 0
        async with client(url, max_size=None) as ws:
            # Reads what it is sent (its error events), or its close would wait on them.
            drain = asyncio.create_task(ws.recv(decode=False))
            while not stop.is_set():
                await ws.send(frames[sent % 2])
                sent += 1
                if drain.done():
                    drain = asyncio.create_task(ws.recv(decode=False))
            drain.cancel()
        return sent

    async def main():
        async with relay_stack(tmp_path, limit="100") as (_up, relay, url):
            rejected = lambda: relay.metrics.value(  # noqa: E731
                "costmodel_relay_rejected_client_frames_total", reason="too_complex")
            stop = asyncio.Event()
            task = asyncio.create_task(attacker(url, stop))
            await wait_for(lambda: rejected() >= 2, timeout=20)
            before = rejected()
            worst = await victim(url)
            during = rejected() - before
            stop.set()
            await task
            return worst, during

    worst, during = run(main(), timeout=60)
    assert during >= 2  # the attack went on while the other session talked
    assert worst < 0.35, worst  # (a 2-vCPU machine under load: ~0.04 s)
