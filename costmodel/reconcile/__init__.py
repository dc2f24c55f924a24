"""Reconciliation: what the guard recorded, what providers billed, and what the plan said,
per UTC day and model (issue 14).

- `recorded_from_ledger` / `recorded_from_spend_logs` (`recorded`): the recorded side.
- `read_export` (`exports`, `openai_export`, `twilio_export`): OpenAI usage and costs JSON,
  Twilio usage-records CSV, generic ``date,model,usd`` CSV.
- `Plan` (`plan`): the scenario's cost for the calls recorded.
- `reconcile` (`table`): the day x model table, its differences and limits.

>>> from datetime import date
>>> from decimal import Decimal
>>> from costmodel.ledger import MemoryLedger, SpendRecord
>>> with MemoryLedger() as ledger:
...     _ = ledger.record(SpendRecord(session_id="s1", model="openai/gpt-realtime-1.5",
...                                   usd=Decimal("2.00")))
...     result = reconcile(recorded_from_ledger(ledger))
>>> [(r.model, r.recorded_usd, r.billed_usd) for r in result.rows]   # nothing billed to compare
[('openai/gpt-realtime-1.5', Decimal('2'), None)]
"""

from typing import TYPE_CHECKING, Any

from .exports import EXPORT_LIMIT, Export, ExportLine, read_export
from .recorded import Recorded, RecordedDay, recorded_from_ledger, recorded_from_spend_logs
from .table import Gap, Reconciliation, Row, Totals, default_window, reconcile, to_json
from .window import Window, parse_window

__all__ = ["EXPORT_LIMIT", "Export", "ExportLine", "Gap", "Plan", "PlanCost", "Reconciliation",
           "Recorded", "RecordedDay", "Row", "Totals", "Window", "parse_window", "read_export",
           "default_window", "recorded_from_ledger", "recorded_from_spend_logs", "reconcile",
           "to_json"]

if TYPE_CHECKING:
    from .plan import Plan, PlanCost


def __getattr__(name: str) -> Any:
    """`Plan` and `PlanCost` on first use: they load numpy and the estimator, which
    reconciling without a scenario does not need."""
    if name in ("Plan", "PlanCost"):
        from . import plan

        return getattr(plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
