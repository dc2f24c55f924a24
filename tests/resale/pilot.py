"""A month of resale, small enough to check by hand: a real SQLite ledger written through the
ledger API (`SpendRecord` commits), the spend log the relay would have written beside it, and
the rate cards (`CARDS`). October 2026, UTC:

    tenant    card                                   day     calls (minutes)     cost
    acme      starter: $0.12/min, 100 min included   Oct 1   2 (50 + 70 = 120)   $1.50
                                                     Oct 2   1 (10)              $1.10
    globex    its own: cost x 1.4                    Oct 1   1                   $10.00
                                                     Oct 2   1                   $5.00
    initech   calls: $0.25/call, $20/month minimum   Oct 1   4                   $1.20
    umbrella  no card                                Oct 1   1                   $3.00

So acme's Oct 1 bills 20 of its 120 minutes (100 included): 20 x $0.12 = $2.40 (margin $0.90,
37.5%); Oct 2 bills all 10: $1.20 (margin $0.10, 8.3%: thin). globex: $14.00 and $7.00.
initech: 4 x $0.25 = $1.00 against $1.20 (-$0.20), topped up to its $20 minimum: $20 for the
month, margin $18.80. umbrella cannot be billed: reported, never $0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from costmodel.guard.spendlog import append_record
from costmodel.ledger import SpendRecord, SQLiteLedger

CARDS = """\
currency: USD
meters: {minutes: voice_minutes, calls: voice_calls, cost_usd: voice_cost_usd}
event_source: acme-voice
plans:
  starter:
    per_minute_usd: 0.12
    included_minutes_per_month: 100
  calls:
    per_call_usd: 0.25
    minimum_per_month_usd: 20
tenants:
  acme:
    plan: starter
    stripe_customer_id: cus_acme
    openmeter_subject: customer-acme
    lago_external_subscription_id: sub_acme
  globex:
    card: {markup: 1.4}
    stripe_customer_id: cus_globex
    lago_external_subscription_id: sub_globex
    lago_external_customer_id: globex
  initech:
    plan: calls
    stripe_customer_id: cus_initech
    lago_external_subscription_id: sub_initech
"""

# (tenant, day of October, the call's records in $, its seconds)
CALLS: list[tuple[str, int, list[str], float]] = [
    ("acme", 1, ["0.25", "0.25", "0.25"], 3000.0),
    ("acme", 1, ["0.25", "0.25", "0.25"], 4200.0),
    ("acme", 2, ["0.55", "0.55"], 600.0),
    ("globex", 1, ["4", "6"], 900.0),
    ("globex", 2, ["5"], 300.0),
    *[("initech", 1, ["0.10", "0.20"], 120.0)] * 4,
    ("umbrella", 1, ["3"], 400.0),
]
MODEL = "openai/gpt-realtime-1.5"


def write_pilot(where: Path, month: datetime = datetime(2026, 10, 1, tzinfo=UTC),
                calls: list[tuple[str, int, list[str], float]] = CALLS,
                log_tenants: tuple[str, ...] | None = None) -> tuple[Path, Path, Path]:
    """(ledger, spend log, cards) in ``where``: each call a session starting at 09:00 + 10
    minutes per call that day, its records committed a second apart; the spend log holds the
    sessions of ``log_tenants`` (default: every tenant)."""
    ledger, log, cards = where / "spend.db", where / "spend.jsonl", where / "cards.yaml"
    cards.write_text(CARDS)
    n_day: dict[int, int] = {}
    with SQLiteLedger(ledger) as store:
        for i, (tenant, day, amounts, seconds) in enumerate(calls):
            k = n_day[day] = n_day.get(day, -1) + 1
            start = month + timedelta(days=day - 1, hours=9, minutes=10 * k)
            session = f"{tenant}-{i}"
            for j, usd in enumerate(amounts):
                store.commit(None, SpendRecord(id=f"{session}-{j}", session_id=session,
                                               scope=tenant, model=MODEL, usd=D(usd),
                                               at=start + timedelta(seconds=j + 1)))
            if log_tenants is None or tenant in log_tenants:
                append_record(log, {
                    "session_id": session, "scope": tenant, "model": MODEL,
                    "spent_usd": str(sum((D(a) for a in amounts), D(0))),
                    "responses": len(amounts), "started_at": start.isoformat(),
                    "ended_at": (start + timedelta(seconds=seconds)).isoformat(),
                    "seconds": seconds, "end": "closed", "usage": []})
    if not log.exists():
        log.write_text("")
    return ledger, log, cards
