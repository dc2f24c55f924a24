"""Vapi and Retell webhooks: admit a call only when its tenant's budget covers its likely
cost, and record what the platform says it cost.

`create_app` is a Starlette application (`costmodel serve-webhooks` runs it with uvicorn):
it answers Vapi's ``assistant-request`` and Retell's inbound call webhook from an `Admission`
(the scenario's P95 cost per call, computed once at start, held in the tenant's budget in the
ledger), and records Vapi's ``end-of-call-report`` and Retell's ``call_cost`` with an
`Ingestor` (one ledger record per cost line, exactly once, the platform fee also priced from
the catalog). One module per concept: `payload` (bounded JSON, exact numbers), `vapi` and
`retell` (the platforms' shapes, signatures and answers), `report` (a call's cost, either
platform), `budgets` (tenants), `admission`, `ingest`, `app`.

>>> from decimal import Decimal
>>> from costmodel.ledger import MemoryLedger
>>> f = Forecast("xai/grok-voice-agent", Decimal("0.90"), Decimal("0.30"), 1000, "demo")
>>> gate = Admission(MemoryLedger(), Budgets.uniform(Decimal(50)), {f.stack: f})
>>> app = create_app(gate, vapi_secret="s3cret")   # uvicorn.run(app, port=8088)
"""

from .admission import Admission, Decision, Forecast, Hold, forecasts
from .app import create_app
from .budgets import Budgets, Tenant, load_budgets, parse_budgets
from .ingest import Ingestor, IngestResult, PlatformFee, platform_fee, records_for
from .report import CallReport, CostLine, HoldNote

__all__ = ["Admission", "Budgets", "CallReport", "CostLine", "Decision", "Forecast", "Hold",
           "HoldNote", "IngestResult", "Ingestor", "PlatformFee", "Tenant", "create_app",
           "forecasts", "load_budgets", "parse_budgets", "platform_fee", "records_for"]
