"""The pricing core: normalised usage, the sourced price catalog, and one exact price function.

Everything else in costmodel (adapters, the estimator, the guard) turns what it sees into
`Usage` and prices it with `price`, over a `Catalog`.
"""

from .catalog import Catalog, Override, default_catalog
from .pricing import Cost, LineItem, Rates, price, price_all, rates_for, summarize
from .rates import KINDS, ModelEntry, PricePeriod
from .usage import MODALITIES, TOKEN_KEYS, TOKEN_STATES, Usage, combine

__all__ = ["KINDS", "MODALITIES", "TOKEN_KEYS", "TOKEN_STATES", "Catalog", "Cost", "LineItem",
           "ModelEntry", "Override", "PricePeriod", "Rates", "Usage", "combine",
           "default_catalog", "price", "price_all", "rates_for", "summarize"]
