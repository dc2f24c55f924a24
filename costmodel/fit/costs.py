"""What a session cost, priced the way `costmodel price-events` prices it.

The fitted scenario is checked against this: its estimate per call should come back to the
mean priced session (`costmodel.fit.check`). A session with a usage that cannot be priced has
no total (never a partial one passed off as whole).

>>> from costmodel.core.usage import Usage
>>> from costmodel.fit.models import ModelBook
>>> book = ModelBook()
>>> usd, why = session_usd([Usage("gpt-realtime-1.5", {"audio.input": 1000})], book, None)
>>> usd, why                                          # 1,000 x $32 / 1M
(Decimal('0.032'), '')
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ..core.pricing import price
from ..core.usage import Usage
from ..errors import CostModelError
from ..money import exact_sum
from .models import ModelBook, ModelFacts


def session_usd(usages: Sequence[Usage], book: ModelBook, seconds: float | None,
                time_billed: ModelFacts | None = None) -> tuple[Decimal | None, str]:
    """(the session's exact total, '') or (None, why not). `time_billed`: the session's
    model when its price is connection time, which its usages do not carry (recorded events
    never do): priced here from the session's length."""
    catalog, day = book.catalog, book.day
    amounts: list[Decimal] = []
    try:
        amounts.extend(price(u, catalog, on=day).total_usd for u in usages)
        if time_billed is not None and "connection" in time_billed.rates and not any(
                u.connection_seconds for u in usages
                if book.model(u.model).id == time_billed.id):
            if seconds is None:
                return None, (f"{time_billed.id} is billed by connection time and the "
                              "session's length is not known")
            connection = Usage(time_billed.id, connection_seconds=Decimal(f"{seconds:.3f}"))
            amounts.append(price(connection, catalog, on=day).total_usd)
    except CostModelError as exc:
        return None, str(exc)
    return exact_sum(amounts), ""
