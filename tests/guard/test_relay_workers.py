"""`costmodel guard serve --workers N`: several relay processes on one port, state in the
shared ledger. Run as a subprocess in front of the fake upstream, on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal

from costmodel.ledger import open_ledger

from .fake_upstream import FakeUpstream
from .test_relay import PATH, cost_of, recv, run, turn

SESSIONS = 24


def test_two_workers_share_one_port_and_one_ledger(tmp_path):
    db = tmp_path / "spend.db"
    log = tmp_path / "spend.jsonl"

    async def main():
        async with FakeUpstream() as up:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "costmodel", "guard", "serve", "--upstream", up.url,
                "--listen", "127.0.0.1:0", "--limit-usd", "1", "--workers", "2",
                "--ledger", f"sqlite:///{db}", "--spend-log", str(log),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "COLUMNS": "300"})
            try:
                ready = 0
                url = None
                while ready < 2:   # the parent's line, then each worker's banner
                    line = (await asyncio.wait_for(proc.stderr.readline(), 15)).decode()
                    assert line, "the relay exited"
                    if line.startswith("costmodel guard worker"):
                        ready += 1
                        url = line.split()[4]

                async def one_session():
                    from websockets.asyncio.client import connect
                    async with connect(url + PATH, open_timeout=5, proxy=None) as c:
                        await recv(c)
                        await turn(c, [])

                await asyncio.gather(*(one_session() for _ in range(SESSIONS)))
                for _ in range(200):   # every session has written its line
                    if log.exists() and len(log.read_text().splitlines()) == SESSIONS:
                        break
                    await asyncio.sleep(0.05)
            finally:
                proc.send_signal(signal.SIGINT)
                await asyncio.wait_for(proc.communicate(), 20)
            return proc.returncode

    code = run(main(), timeout=60)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert code == 0 and len(records) == SESSIONS
    assert len({r["worker"] for r in records}) == 2          # both processes served sessions
    assert all(Decimal(r["spent_usd"]) == cost_of(1) for r in records)
    with open_ledger(f"sqlite:///{db}") as ledger:            # one ledger for both
        assert ledger.spent() == cost_of(1) * SESSIONS
