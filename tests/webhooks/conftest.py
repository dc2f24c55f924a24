"""The webhook app served for real: uvicorn on a loopback port in a thread, a SQLite ledger
file, and an HTTP client speaking to it over the socket.

The scenario is hand-checkable: every call lasts 2 minutes on xai/grok-voice-agent ($0.05 a
minute) with Vapi's fee ($0.05 a minute), so a call's P95, the amount held, is
2 x (0.05 + 0.05) = $0.20. Tenant acme has $0.50 a month: two calls are held ($0.40), a
third would pass the budget ($0.60).
"""

from __future__ import annotations

import functools
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from costmodel.estimation import Scenario
from costmodel.ledger import SQLiteLedger
from costmodel.webhooks import (
    Admission,
    Forecast,
    Ingestor,
    create_app,
    forecasts,
    parse_budgets,
)
from costmodel.webhooks.retell import sign

PAYLOADS = Path(__file__).parent / "payloads"
VAPI_SECRET = "vapi-s3cret-for-tests"
RETELL_KEY = "key_retell_webhook_badge_for_tests"
STACK = "xai/grok-voice-agent"
SCENARIO = {"name": "webhooks", "volume": {"calls_per_month": 1000},
            "duration_min": {"fixed": 2}, "stacks": [STACK],
            "platform": {"id": "vapi/platform"}, "simulation": {"calls": 1000}}
BUDGETS = """
period: month
reject_message: Sorry, Acme cannot take your call right now.
tenants:
  acme:
    budget_usd: 0.50
    numbers: ["+15551230001", "+12137771235"]
    agents: [agent_12345]
    vapi_assistant_id: 2ccabf54-ccd8-4dff-ae93-e830159c8004
    retell_agent_id: agent_acme
"""


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Served:
    """An app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def request(self, method: str, path: str, raw: bytes = b"",
                headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=raw, headers={
                "content-type": "application/json", **(headers or {})})
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                         json.loads(data) if data else None)
        finally:
            conn.close()

    def vapi(self, body: dict[str, Any] | bytes, secret: str = VAPI_SECRET) -> Reply:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", "/vapi", raw, {"x-vapi-secret": secret} if secret else {})

    def retell(self, body: dict[str, Any] | bytes, key: str = RETELL_KEY) -> Reply:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", "/retell", raw, {"x-retell-signature": sign(raw, key)})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Setup:
    ledger: SQLiteLedger
    admission: Admission
    served: Served
    db: Path
    spool: Path


@functools.cache
def held() -> dict[str, Forecast]:
    """The scenario's forecast, estimated once for every test (as the app does at start)."""
    out = forecasts(Scenario.model_validate(SCENARIO), [STACK])
    assert out[STACK].p95_usd == Decimal("0.2")           # 2 min x ($0.05 + $0.05)
    return out


def build(tmp_path: Path, *, on_ledger_error: str = "fail_open") -> Setup:
    db, spool = tmp_path / "spend.db", tmp_path / "spool"
    ledger = SQLiteLedger(db)
    admission = Admission(ledger, parse_budgets(BUDGETS, "budgets.yaml"), held(),
                          default_stack=STACK, spool=spool,
                          on_ledger_error=on_ledger_error)  # type: ignore[arg-type]
    app = create_app(admission, Ingestor(admission), vapi_secret=VAPI_SECRET,
                     retell_api_key=RETELL_KEY)
    return Setup(ledger, admission, Served(app), db, spool)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = build(tmp_path)
    try:
        yield s
    finally:
        s.served.stop()
        s.ledger.close()
