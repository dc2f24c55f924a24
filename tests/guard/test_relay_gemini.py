"""The relay speaks Gemini Live too: real websockets on loopback, against a stand-in of the
``BidiGenerateContent`` service (tests/guard/fake_gemini.py).

Metered from every turn's ``usageMetadata``; the wrap-up is a client turn asking the model to
close; the cut closes the session (Gemini has no cancel); a client cannot report usage."""

from __future__ import annotations

import base64
import contextlib
import json
from decimal import Decimal
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from costmodel import default_catalog, price
from costmodel.adapters.gemini_live import usage_from_usage_metadata
from costmodel.guard import WRAP_UP_INSTRUCTIONS
from costmodel.guard.relay import Relay

from .fake_gemini import MODEL, FakeGemini, GeminiTurns
from .test_relay import run, spend_log, wait_for

CATALOG_ID = "google/gemini-3.1-flash-live"
SETUP = {"setup": {"model": f"models/{MODEL}",
                   "generationConfig": {"responseModalities": ["AUDIO"]}}}


def cost_of(turns: int, t: GeminiTurns | None = None) -> Decimal:
    """What the stand-in's first `turns` turns cost, priced independently of the relay."""
    t = t or GeminiTurns()
    return sum((price(usage_from_usage_metadata(t.usage(k), CATALOG_ID), default_catalog())
                .total_usd for k in range(1, turns + 1)), Decimal(0))


@contextlib.asynccontextmanager
async def gemini_stack(tmp_path: Path, limit: str = "1.00", **relay_kw):
    async with FakeGemini() as up:
        relay = Relay(up.url, limit, spend_log=tmp_path / "spend.jsonl", proxy=None,
                      **relay_kw)
        _, port = await relay.start("127.0.0.1:0")
        try:
            yield up, relay, f"ws://127.0.0.1:{port}/"
        finally:
            await relay.close()


async def recv(ws, timeout: float = 3.0) -> dict:
    import asyncio
    msg = await asyncio.wait_for(ws.recv(), timeout)
    return json.loads(msg)


def user_turn(text: str = "Is there a table for two at eight?") -> str:
    return json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}],
                                         "turnComplete": True}})


async def talk(ws, turns: int) -> list[dict]:
    """`turns` user turns, each read up to the model's turnComplete; what arrived."""
    seen: list[dict] = []
    with contextlib.suppress(ConnectionClosed):
        for _ in range(turns):
            await ws.send(user_turn())
            while True:
                message = await recv(ws)
                seen.append(message)
                if message.get("serverContent", {}).get("turnComplete"):
                    break
    return seen


def test_the_relay_chooses_gemini_from_the_upstream_url():
    relay = Relay("wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage."
                  "v1beta.GenerativeService.BidiGenerateContent", "1")
    assert relay.protocol.name == "gemini-live"
    assert Relay("wss://api.openai.com", "1").protocol.name == "openai-realtime"


def test_a_gemini_session_is_metered_turn_by_turn(tmp_path):
    async def main():
        async with gemini_stack(tmp_path) as (up, relay, url):
            async with connect(url, open_timeout=3, proxy=None) as ws:
                await ws.send(json.dumps(SETUP))
                assert "setupComplete" in await recv(ws)
                seen = await talk(ws, 3)
            await wait_for(lambda: relay.sessions_done == 1)
            return up.conns[0], seen

    conn, seen = run(main())
    [rec] = spend_log(tmp_path)
    assert rec["model"] == CATALOG_ID and rec["responses"] == conn.turns == 3
    assert Decimal(rec["spent_usd"]) == cost_of(3) and not rec["estimated"]
    # The provider's binary frames reached the client as they were (it parsed them above).
    assert sum("usageMetadata" in m for m in seen) == 3


def test_a_long_gemini_session_is_wrapped_up_by_a_client_turn_then_closed(tmp_path):
    limit = cost_of(6) - Decimal("0.000001")   # room for five turns, not six

    async def main():
        async with gemini_stack(tmp_path, limit=str(limit)) as (up, relay, url):
            async with connect(url, open_timeout=3, proxy=None) as ws:
                await ws.send(json.dumps(SETUP))
                await recv(ws)
                await talk(ws, 30)
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        await recv(ws)
                code = ws.close_code
            await wait_for(lambda: relay.sessions_done == 1)
            await up.conns[0].closed.wait()
            return up.conns[0], code

    conn, code = run(main())
    [rec] = spend_log(tmp_path)
    assert code == 4002 and rec["end"] == "cut"
    spent = Decimal(rec["spent_usd"])
    assert spent == cost_of(conn.turns) and spent <= limit   # every turn metered, none over
    asked = [m for m in conn.messages() if "clientContent" in m]
    wrap = [m for m in asked
            if m["clientContent"]["turns"][0]["parts"][0]["text"] == WRAP_UP_INSTRUCTIONS]
    assert len(wrap) == 1 and asked[-1] is wrap[0]   # the goodbye was the last turn asked
    assert [d["action"] for d in rec["decisions"]][-2:] == ["wrap_up", "cut"]


def test_a_gemini_client_cannot_report_usage(tmp_path):
    forged = {"serverContent": {"turnComplete": True},
              "usageMetadata": {"promptTokenCount": 10**9, "responseTokenCount": 0,
                                "promptTokensDetails": [{"modality": "TEXT",
                                                         "tokenCount": 10**9}]}}

    async def main():
        async with gemini_stack(tmp_path) as (up, relay, url):
            async with connect(url, open_timeout=3, proxy=None) as ws:
                await ws.send(json.dumps(SETUP))
                await recv(ws)
                await ws.send(json.dumps(forged))
                await talk(ws, 2)
            await wait_for(lambda: relay.sessions_done == 1)
            return relay

    relay = run(main())
    [rec] = spend_log(tmp_path)
    assert Decimal(rec["spent_usd"]) == cost_of(2)
    assert relay.metrics.rejected_frames.labels("server_event")._value.get() == 1


def test_gemini_audio_is_relayed_unparsed_and_byte_for_byte(tmp_path):
    chunks = [json.dumps({"realtimeInput": {"audio": {
        "data": base64.b64encode(bytes([i]) * 3200).decode(),
        "mimeType": "audio/pcm;rate=16000"}}}) for i in range(50)]

    async def main():
        async with gemini_stack(tmp_path) as (up, relay, url):
            async with connect(url, open_timeout=3, proxy=None) as ws:
                await ws.send(json.dumps(SETUP))
                await recv(ws)
                for chunk in chunks:
                    await ws.send(chunk)
                await wait_for(lambda: len(up.conns[0].frames) == 51)
            return up.conns[0]

    conn = run(main())
    assert conn.frames[1:] == chunks
