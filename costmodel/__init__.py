"""costmodel: what voice agents cost, and a guard that stops a call before it overspends.

The public API, one import away (``from costmodel import ...``)::

    # pricing core: normalised usage, the sourced catalog, one exact price function
    Usage, price, price_all, summarize, Catalog, default_catalog, rates_for, Cost, LineItem
    # recorded sessions: provider events (JSONL) -> priced report
    price_events, SessionReport
    # estimation: a month of calls from a scenario
    Scenario, load_scenario, estimate, curve, break_even, sweep
    # the runtime guard and the spend ledger
    SessionGuard, Decision, replay, open_ledger, SpendRecord, Spool
    # money: exact USD in, exact sums, rounded once on the way out
    to_usd, exact_sum, format_usd
    # errors: CostModelError and its subclasses (the tree is in costmodel.errors)

>>> from costmodel import Usage, price
>>> price(Usage("openai/gpt-realtime-1.5", {"audio.input": 1000})).total_usd  # x $32 / 1M
Decimal('0.032000000000')

Every part loads on first use (the pricing core needs pydantic, the estimator numpy, the
guard the adapters), so ``import costmodel`` and the CLI's ``--help`` stay fast; the errors
are plain classes, always loaded.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AmountError,
    BudgetExceeded,
    CatalogError,
    CostModelError,
    EncodingUnavailableError,
    InputError,
    LedgerConflictError,
    LedgerError,
    MissingModelError,
    ModelShutDownWarning,
    NoPriceInForceError,
    ScenarioError,
    SimulationError,
    UnknownModelError,
    UnknownRateError,
    UsageError,
)
from .money import exact_sum, format_usd, to_usd

__version__ = "0.1.0"

# name -> the module that defines it, imported when the name is first used.
_LAZY = {
    **dict.fromkeys(("KINDS", "MODALITIES", "TOKEN_KEYS", "TOKEN_STATES", "Catalog", "Cost",
                     "LineItem", "ModelEntry", "Override", "PricePeriod", "Rates", "Usage",
                     "combine", "default_catalog", "price", "price_all", "rates_for",
                     "summarize"), "costmodel.core"),
    **dict.fromkeys(("price_events", "SessionReport", "detect_format", "FORMATS"),
                    "costmodel.adapters.recorded"),
    **dict.fromkeys(("Scenario", "load_scenario",
                     "default_scenario", "estimate", "curve", "Estimate", "StackEstimate",
                     "break_even", "BreakEven", "sweep", "truncation_onset"),
                    "costmodel.estimation"),
    **dict.fromkeys(("SessionGuard", "Decision", "replay", "ReplayResult"), "costmodel.guard"),
    **dict.fromkeys(("open_ledger", "Ledger", "MemoryLedger", "SQLiteLedger", "SpendRecord",
                     "Reservation", "Spool", "ledger_key"), "costmodel.ledger"),
    "count_tokens": "costmodel.core.tokens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'costmodel' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from .adapters.recorded import FORMATS, SessionReport, detect_format, price_events
    from .core import (
        KINDS,
        MODALITIES,
        TOKEN_KEYS,
        TOKEN_STATES,
        Catalog,
        Cost,
        LineItem,
        ModelEntry,
        Override,
        PricePeriod,
        Rates,
        Usage,
        combine,
        default_catalog,
        price,
        price_all,
        rates_for,
        summarize,
    )
    from .core.tokens import count_tokens
    from .estimation import (
        BreakEven,
        Estimate,
        Scenario,
        StackEstimate,
        break_even,
        curve,
        default_scenario,
        estimate,
        load_scenario,
        sweep,
        truncation_onset,
    )
    from .guard import Decision, ReplayResult, SessionGuard, replay
    from .ledger import (
        Ledger,
        MemoryLedger,
        Reservation,
        SpendRecord,
        Spool,
        SQLiteLedger,
        ledger_key,
        open_ledger,
    )

__all__ = [
    "KINDS", "MODALITIES", "TOKEN_KEYS", "TOKEN_STATES",
    "AmountError", "BudgetExceeded", "Catalog", "CatalogError", "Cost", "CostModelError",
    "EncodingUnavailableError", "InputError", "LedgerConflictError", "LedgerError", "LineItem",
    "MissingModelError", "ModelEntry", "ModelShutDownWarning", "NoPriceInForceError",
    "Override", "PricePeriod", "Rates", "ScenarioError", "SimulationError", "UnknownModelError",
    "UnknownRateError",
    "Usage", "UsageError", "combine", "default_catalog", "exact_sum", "format_usd", "price",
    "price_all", "rates_for", "summarize", "to_usd",
    # loaded on first use (_LAZY)
    "BreakEven", "Decision", "Estimate", "FORMATS", "Ledger", "MemoryLedger", "ReplayResult",
    "Reservation", "SQLiteLedger", "Scenario", "SessionGuard", "SessionReport",
    "SpendRecord", "Spool", "StackEstimate", "break_even", "count_tokens",
    "curve", "default_scenario", "detect_format", "estimate", "ledger_key", "load_scenario",
    "open_ledger", "price_events", "replay", "sweep", "truncation_onset",
]
