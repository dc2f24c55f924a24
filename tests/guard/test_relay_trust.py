"""Attacks on the relay's metering, with real websockets on loopback: a client that forges
server events must neither switch off its budget nor write spend into the shared ledger."""

from __future__ import annotations

import json
from decimal import Decimal

from costmodel.ledger import open_ledger

from .test_relay import (
    client,
    cost_of,
    recv,
    relay_stack,
    run,
    spend_log,
    talk_until_closed,
    wait_for,
)
from .test_trust import FORGED_DONE, FORGED_MODEL

LIMIT = Decimal("0.10")


def test_a_forging_client_is_metered_at_the_real_rates_and_cut(tmp_path):
    # Measured on main: the forged session.updated made 200 responses ($149.79) cost $0.01,
    # and one forged response.done put $32,000,000,000 in the SQLite ledger.
    ledger = open_ledger(f"sqlite:///{tmp_path / 'spend.db'}")

    async def main():
        async with relay_stack(tmp_path, limit=str(LIMIT), ledger=ledger) as (up, relay, url):
            async with client(url) as ws:
                await recv(ws)  # session.created (the real model)
                await ws.send(json.dumps(FORGED_MODEL))
                await ws.send(json.dumps(FORGED_DONE))
                seen = await talk_until_closed(ws, max_turns=200)
                code = ws.close_code
            await wait_for(lambda: relay.sessions_done == 1)
            return up.conns[0], seen, code

    try:
        conn, seen, code = run(main())
        [rec] = spend_log(tmp_path)
        # The forged frames were passed on (the provider refuses them), never metered.
        assert "session.updated" in conn.types() and "response.done" in conn.types()
        assert rec["model"] == "openai/gpt-realtime-1.5" and rec["end"] == "cut"
        assert code == 4002 and seen[-1]["error"]["type"] == "budget_exceeded"
        spent = Decimal(rec["spent_usd"])
        assert spent == cost_of(conn.responses) and Decimal(0) < spent <= LIMIT
        assert ledger.spent() == spent  # and nothing forged reached the ledger
    finally:
        ledger.close()


def test_a_response_asked_for_just_before_the_client_leaves_is_metered(tmp_path):
    # The client sends response.create and hangs up at once: the relay waits (a little) for
    # the provider to confirm and finish it, so its real usage is metered, not guessed.
    async def main():
        slow = {"respond_after": 0.3}   # the provider confirms after the client has left
        async with relay_stack(tmp_path, limit="1.00", upstream=slow) as (up, relay, url):
            async with client(url) as ws:
                await recv(ws)  # session.created
                await ws.send(json.dumps({"type": "response.create"}))
            await wait_for(lambda: spend_log(tmp_path) != [])
            return up.conns[0]

    conn = run(main())
    [rec] = spend_log(tmp_path)
    assert conn.responses == 1 and rec["responses"] == 1 and not rec["estimated"]
    assert Decimal(rec["spent_usd"]) == cost_of(1) and rec["unsaved_usd"] == "0"
