"""What an operator sees: Prometheus metrics scraped over real HTTP from a real relay, after
real sessions (two tenants, a forging client, a refused client, a ledger that goes down)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from costmodel.errors import LedgerError
from costmodel.guard.relay import Relay, RelayMetrics, TokenTable
from costmodel.ledger import MemoryLedger

from .test_relay import recv, relay_stack, run, spend_log, talk_until_closed, turn, wait_for
from .test_relay_auth import ACME, GLOBEX, TOKENS, refused, ws
from .test_trust import FORGED_DONE


def scrape(host: str, port: int) -> dict[tuple[str, tuple], float]:
    """GET /metrics -> {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as res:
        assert res.status == 200
        text = res.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_metrics_over_http_after_real_sessions(tmp_path):
    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TOKENS) as (_up, relay, url):
            host, port = await relay.serve_metrics("127.0.0.1", 0)
            async with ws(url, ACME) as a:
                await recv(a)
                await a.send(json.dumps(FORGED_DONE))     # a forging client: never metered
                await a.send('{"type":"response.create","type":"x"}')  # two 'type' keys
                assert (await recv(a))["error"]["code"] == "invalid_event"
                await turn(a, [])
                await turn(a, [])
                live = await asyncio.to_thread(scrape, host, port)
            async with ws(url, GLOBEX) as g:              # cut at its $0.10 limit
                await recv(g)
                await talk_until_closed(g)
            await refused(url, "not-a-valid-token-at-all")
            await wait_for(lambda: relay.sessions_done == 2)
            return live, await asyncio.to_thread(scrape, host, port)

    live, after = run(main())
    assert live[("costmodel_relay_sessions", ())] == 1
    assert live[("costmodel_relay_connections", ())] >= 1
    assert after[("costmodel_relay_sessions", ())] == 0
    assert after[("costmodel_relay_sessions_started_total", ())] == 2
    acme, globex = spend_log(tmp_path)
    model = acme["model"]
    for rec in (acme, globex):
        key = ("costmodel_relay_spend_usd_total",
               (("model", model), ("scope", rec["scope"])))
        assert abs(after[key] - float(Decimal(rec["spent_usd"]))) < 1e-9
    ended = {dict(k[1])["end"]: v for k, v in after.items()
             if k[0] == "costmodel_relay_sessions_ended_total"}
    assert ended == {"client_closed": 1, "cut": 1}
    decisions = {dict(k[1])["action"]: v for k, v in after.items()
                 if k[0] == "costmodel_relay_decisions_total"}
    logged = [d["action"] for rec in (acme, globex) for d in rec["decisions"]]
    assert decisions == {a: logged.count(a) for a in ("warn", "wrap_up", "cut")}
    assert decisions["cut"] == 1
    rejected = {dict(k[1])["reason"]: v for k, v in after.items()
                if k[0] == "costmodel_relay_rejected_client_frames_total"}
    assert rejected == {"server_event": 1, "duplicate_type": 1, "too_complex": 0, "too_big": 0}
    refusals = {dict(k[1])["reason"]: v for k, v in after.items()
                if k[0] == "costmodel_relay_refused_handshakes_total"}
    assert refusals["unauthorized"] == 1 and sum(refusals.values()) == 1
    assert after[("costmodel_relay_ledger_errors_total", ())] == 0


class DownLedger(MemoryLedger):
    """A shared ledger that cannot be reached (every commit and reservation fails)."""

    def _commit(self, reservation_id, record):
        raise LedgerError("Connection refused", path="down", operation="commit")

    def _reserve(self, hold, now, limit, since):
        raise LedgerError("Connection refused", path="down", operation="reserve")


def test_ledger_errors_and_spooled_records_are_counted(tmp_path):
    ledger = DownLedger()

    async def main():
        async with relay_stack(tmp_path, ledger=ledger, spool=tmp_path / "spool") as (
                _up, relay, url):
            async with ws(url, None) as c:
                await recv(c)
                await turn(c, [])
                await turn(c, [])
            await wait_for(lambda: relay.sessions_done == 1)
            return relay.metrics.render().decode(), relay.spool

    text, spool = run(main())
    samples = {s.name: s.value for fam in text_string_to_metric_families(text)
               for s in fam.samples if not s.labels}
    assert samples["costmodel_relay_ledger_errors_total"] >= 2
    assert samples["costmodel_relay_spooled_records_total"] == 2
    [rec] = spend_log(tmp_path)
    assert spool.summary().usd == Decimal(rec["spent_usd"]) > 0  # nothing lost


def test_each_relay_has_its_own_registry():
    a = Relay("ws://127.0.0.1:9", "1")
    b = Relay("ws://127.0.0.1:9", "1", auth=None, metrics=RelayMetrics())
    a.metrics.refused.labels("unauthorized").inc()
    assert a.metrics.registry is not b.metrics.registry
    assert b"unauthorized\"} 0.0" in b.metrics.render()
    assert TokenTable({ACME: ("acme", 1)}).check(ACME).scope == "acme"
