"""costmodel: what voice agents cost, and a guard that stops a call before it overspends.

The public API::

    from costmodel import Catalog, Usage, price
    cost = price(Usage("openai/gpt-realtime-1.5", {"audio.input": 600, "audio.output": 1200}))
    cost.total_usd, cost.line_items
"""

from .catalog import Catalog, Override, default_catalog
from .errors import (
    BudgetExceeded,
    CatalogError,
    CostModelError,
    EncodingUnavailableError,
    NoPriceInForceError,
    UnknownModelError,
    UnknownRateError,
    UsageError,
)
from .pricing import Cost, LineItem, Rates, price, price_all, rates_for, summarize
from .rates import KINDS, ModelEntry, PricePeriod
from .usage import MODALITIES, TOKEN_KEYS, TOKEN_STATES, Usage, combine

__version__ = "0.1.0"

__all__ = [
    "KINDS", "MODALITIES", "TOKEN_KEYS", "TOKEN_STATES",
    "BudgetExceeded", "Catalog", "CatalogError", "Cost", "CostModelError",
    "EncodingUnavailableError", "LineItem", "ModelEntry", "NoPriceInForceError", "Override",
    "PricePeriod", "Rates", "UnknownModelError", "UnknownRateError", "Usage", "UsageError",
    "combine", "default_catalog", "price", "price_all", "rates_for", "summarize",
]
