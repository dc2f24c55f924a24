"""The spend ledger: reserve budget before spending, then commit what was actually spent.

A caller *reserves* the projected cost of a response against a scope's limit (atomically: the
check and the hold are one step, so concurrent sessions cannot both pass a nearly-full budget),
then *commits* the actual spend, which drops the reservation. Reservations expire, so a crashed
worker leaks none. Amounts are exact `Decimal` USD throughout; floats are refused.

Backends, one module each: `MemoryLedger` (``memory``: the default, one process),
`SQLiteLedger` (``sqlite``: a WAL-mode file shared by threads and processes; a crash after
`commit()` returns loses nothing) and `RedisLedger` (``redis``: budgets shared by every worker
of a fleet, Lua-scripted; ``pip install 'costmodel[redis]'``). ``base`` holds the contract they
share; `open_ledger` picks one from a URL. `Spool` keeps, on local disk, the spend a ledger
could not take while it was down, until it can be committed.

>>> from decimal import Decimal
>>> from costmodel.ledger import SpendRecord, open_ledger
>>> with open_ledger("memory") as ledger:
...     hold = ledger.reserve("acme", "call-1", Decimal("0.10"), limit_usd=Decimal("1.00"))
...     record = SpendRecord(session_id="call-1", scope="acme",
...                          model="openai/gpt-realtime-1.5", usd=Decimal("0.0832"))
...     ledger.commit(hold, record), ledger.commit(hold, record)   # stored, then a no-op retry
...     ledger.spent(scope="acme"), ledger.reserved(scope="acme")
(True, False)
(Decimal('0.0832'), Decimal('0'))
"""

from ..errors import BudgetExceeded, LedgerError
from .base import DEFAULT_SCOPE, DaySpend, Ledger, Reservation, SpendRecord, period_start
from .memory import MemoryLedger
from .spool import SPOOL_ENV, FlushReport, Spool, SpoolSummary, default_spool_dir
from .sqlite import SQLiteLedger
from .url import ledger_key, open_ledger

__all__ = ["DEFAULT_SCOPE", "SPOOL_ENV", "BudgetExceeded", "DaySpend", "FlushReport", "Ledger",
           "LedgerError", "MemoryLedger", "Reservation", "SQLiteLedger", "SpendRecord", "Spool",
           "SpoolSummary", "default_spool_dir", "ledger_key", "open_ledger", "period_start"]
