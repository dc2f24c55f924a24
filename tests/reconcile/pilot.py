"""The pilot of examples/exports/README.md as a real SQLite ledger, written through the ledger
API: what the guard recorded on 2026-11-24..26 (UTC), per model.

    openai/gpt-realtime-mini  40 calls a day x 4 records:  $15.204   $15.41    $14.60
    twilio/us-outbound        one record a call:            $2.10     $2.184    $2.072
                              (50 x $0.042; 50 x 0.042 + one 6-minute call 0.084;
                               48 x 0.042 + two 2-minute calls 0.028)
    xai/grok-voice-agent      10 calls a day:               $1.26     $1.19     $1.305

The exports bill realtime mini $15.204, $16.285 and $14.623: Nov 25 is +$0.875 = +5.678%
over the recorded $15.41 (over 5%), Nov 26 +$0.023 = +0.158%. Twilio bills what was recorded;
xAI's bill says $1.31 on Nov 26 (+$0.005: under the one-cent floor).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from costmodel.ledger import SpendRecord, SQLiteLedger

EXPORTS = Path(__file__).parents[2] / "examples" / "exports"
COSTS = EXPORTS / "openai-costs.json"
USAGE = EXPORTS / "openai-usage-completions.json"
TWILIO = EXPORTS / "twilio-usage-records-daily.csv"
XAI = EXPORTS / "xai-billing.csv"
SCENARIO = Path(__file__).parents[2] / "examples" / "outbound-sales.yaml"

# day -> model -> the amount of each call's records, per call
CALLS: dict[str, dict[str, list[list[str]]]] = {
    "2026-11-24": {"openai/gpt-realtime-mini": [["0.095025"] * 4] * 40,
                   "twilio/us-outbound": [["0.042"]] * 50,
                   "xai/grok-voice-agent": [["0.126"]] * 10},
    "2026-11-25": {"openai/gpt-realtime-mini": [["0.0963125"] * 4] * 40,
                   "twilio/us-outbound": [["0.042"]] * 50 + [["0.084"]],
                   "xai/grok-voice-agent": [["0.119"]] * 10},
    "2026-11-26": {"openai/gpt-realtime-mini": [["0.09125"] * 4] * 40,
                   "twilio/us-outbound": [["0.042"]] * 48 + [["0.028"]] * 2,
                   "xai/grok-voice-agent": [["0.1305"]] * 10},
}


def write_pilot_ledger(path: Path, scope: str = "acme") -> Path:
    """The ledger above, one session per call (a realtime call and its Twilio leg are two
    sessions here: the ledger does not need them joined)."""
    with SQLiteLedger(path) as ledger:
        for day, models in CALLS.items():
            nine = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=9)
            for model, calls in models.items():
                for c, amounts in enumerate(calls):
                    for k, usd in enumerate(amounts):
                        ledger.record(SpendRecord(
                            session_id=f"{day}/{model}/{c}", scope=scope, model=model,
                            usd=D(usd), at=nine + timedelta(minutes=10 * c, seconds=15 * k)))
    return path
