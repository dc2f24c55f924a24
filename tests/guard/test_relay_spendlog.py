"""The relay's spend log: each line carries the session's length and every usage it metered,
so re-pricing the line gives what the session spent. Real relays on loopback, in front of the
recorded-shape stand-ins of OpenAI Realtime and Gemini Live (tests/guard/fake_*.py)."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

from websockets.asyncio.client import connect

from costmodel import default_catalog
from costmodel.adapters.gemini_live import usage_from_usage_metadata
from costmodel.adapters.openai_realtime import usage_from_response_done
from costmodel.core.pricing import price
from costmodel.guard.spendlog import read_spend_log

from .fake_upstream import Turns
from .test_relay import LIMIT, client, long_session, relay_stack, run, turn, wait_for
from .test_relay_gemini import CATALOG_ID, SETUP, gemini_stack, recv, talk

RT = "openai/gpt-realtime-1.5"
PAUSE = 0.25   # s the caller thinks between turns


def repriced(usages) -> Decimal:
    catalog = default_catalog()
    return sum((price(u, catalog).total_usd for u in usages), Decimal(0))


def test_a_relayed_session_s_line_reprices_to_what_it_spent_and_says_how_long(tmp_path):
    async def main():
        async with relay_stack(tmp_path) as (up, relay, url):
            opened = time.monotonic()
            async with client(url) as ws:
                seen: list[dict] = []
                for _ in range(4):
                    await turn(ws, seen)
                    await asyncio.sleep(PAUSE)
            await wait_for(lambda: relay.sessions_done == 1)
            return up.conns[0], time.monotonic() - opened

    conn, outside = run(main())
    log = read_spend_log(tmp_path / "spend.jsonl")
    assert log.problems == []
    [rec] = log.records
    assert conn.responses == rec.responses == len(rec.usage) == 4 and not rec.usage_truncated
    # the trail is the provider's four reports, in order, as the adapter reads them...
    assert [u.tokens for u in rec.usage] == [
        usage_from_response_done({"response": {"usage": Turns().usage(k)}}, RT).tokens
        for k in range(1, 5)]
    # ...and priced again it is the session's spend, to the last digit
    assert repriced(rec.usage) == rec.spent_usd > 0
    # 4 pauses of 0.25 s at least; at most the time the test saw from connect to the line
    assert 4 * PAUSE <= rec.seconds <= outside
    assert rec.seconds <= (rec.ended_at - rec.started_at).total_seconds() + 0.001
    assert rec.end == "client_closed" and rec.model == RT


def test_a_cut_session_s_trail_holds_the_wrap_up_and_the_cancelled_response(tmp_path):
    conn, _seen, code, _ = long_session(tmp_path)
    [rec] = read_spend_log(tmp_path / "spend.jsonl").records
    assert code == 4002 and rec.end == "cut"
    # every response the upstream produced, the goodbye among them, is in the trail
    assert len(rec.usage) == conn.responses == rec.responses
    assert repriced(rec.usage) == rec.spent_usd <= LIMIT
    raw = json.loads((tmp_path / "spend.jsonl").read_text())
    assert raw["usage"][0]["tokens"] == {"text.input": 1180, "audio.input": 80,
                                         "text.output": 30, "audio.output": 150}


def test_a_gemini_session_s_line_reprices_too(tmp_path):
    async def main():
        async with gemini_stack(tmp_path) as (up, relay, url):
            async with connect(url, open_timeout=3, proxy=None) as ws:
                await ws.send(json.dumps(SETUP))
                assert "setupComplete" in await recv(ws)
                await talk(ws, 3)
                await asyncio.sleep(PAUSE)
            await wait_for(lambda: relay.sessions_done == 1)
            return up

    up = run(main())
    [rec] = read_spend_log(tmp_path / "spend.jsonl").records
    assert rec.model == CATALOG_ID and len(rec.usage) == 3
    assert [u.tokens for u in rec.usage] == [
        usage_from_usage_metadata(up.turns.usage(k), CATALOG_ID).tokens for k in (1, 2, 3)]
    assert repriced(rec.usage) == rec.spent_usd > 0
    assert PAUSE <= rec.seconds < 10
