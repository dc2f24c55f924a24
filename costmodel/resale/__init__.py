"""Resale: rate cards per tenant, margins per tenant and day, usage exported for billing.

- `load_cards` (`cards`): per-minute, per-call or cost x markup cards, per plan or tenant,
  with included minutes, minimums and effective dates, from YAML.
- `read_usage` (`usage`): each tenant's cost (the ledger), calls and minutes (spend logs)
  per UTC day.
- `margins` (`margins`): revenue, cost and margin per tenant and day, and per month.
- `export_usage` (`export`): the usage as Stripe meter events, OpenMeter CloudEvents or Lago
  events, each with a deterministic idempotency key.

>>> from datetime import date
>>> from decimal import Decimal
>>> from costmodel.ledger import MemoryLedger, SpendRecord
>>> cards = parse_cards("tenants: {acme: {card: {markup: 1.5}}}")
>>> with MemoryLedger() as ledger:
...     _ = ledger.record(SpendRecord(session_id="c1", scope="acme", model="m",
...                                   usd=Decimal("2.00")))
...     usage = read_usage(ledger)
>>> m = margins(usage, cards)
>>> m.totals.revenue_usd, m.totals.margin_usd, m.failed     # $2 x 1.5 = $3.00, $1 margin
(Decimal('3'), Decimal('1'), False)
"""

from .cards import Card, RateCards, Terms, load_cards, parse_cards
from .export import TARGETS, UsageEvent, UsageExport, export_usage, usage_key
from .margins import DayMargin, Margins, MarginTotals, MonthMargin, margins, to_json
from .usage import MeteredUsage, TenantDay, read_usage

__all__ = ["TARGETS", "Card", "DayMargin", "MarginTotals", "Margins", "MeteredUsage",
           "MonthMargin", "RateCards", "TenantDay", "Terms", "UsageEvent", "UsageExport",
           "export_usage", "load_cards", "margins", "parse_cards", "read_usage", "to_json",
           "usage_key"]
