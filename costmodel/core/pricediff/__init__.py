"""`costmodel prices diff`: the catalog against LiteLLM's or genai-prices' price map.

>>> from datetime import date
>>> from costmodel.core.catalog import default_catalog
>>> from costmodel.core.pricediff import PriceMap, TheirRow, diff
>>> row = TheirRow("gpt-realtime-mini-2025-10-06", "openai", ("gpt-realtime-mini-2025-10-06",),
...                {"audio.output": Decimal("20")})
>>> report = diff(default_catalog(), PriceMap("litellm", "a map", "-", (row,)), date(2026, 11, 25))
>>> report.models, report.agreeing, report.differences
(['openai/gpt-realtime-mini'], 1, [])
"""

from decimal import Decimal

from .compare import TOLERANCE, DiffReport, RateDiff, Unpriced, diff, unit_of
from .maps import PriceMap, TheirRow, load_map

__all__ = ["TOLERANCE", "Decimal", "DiffReport", "PriceMap", "RateDiff", "TheirRow", "Unpriced",
           "diff", "load_map", "unit_of"]
