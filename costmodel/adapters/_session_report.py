"""The report of a recorded session: what was priced, skipped, rejected or left unpriced.

Split from `costmodel.adapters.recorded` (which re-exports these names), so the pricing loop
and the report it fills can each be read alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from ..core.pricing import Cost, LineItem, Rates, summarize
from ..core.usage import Usage
from ..money import plain

KEPT_PROBLEMS = 1000  # the first problems of each kind kept with their reasons (all counted)


class PricedUsage(NamedTuple):  # (a tuple: one is made per priced usage)
    line: int
    cost: Cost

    @property
    def usage(self) -> Usage:
        return self.cost.usage


@dataclass(frozen=True)
class LineProblem:
    line: int
    reason: str


class _Tally:
    """Sums of what `summarize` needs, per compiled rates (one model on one day).

    Token counts are summed as integers and multiplied by their rate once at the end: exact
    (Decimal products and sums of this size are never rounded), and one multiplication per
    bucket instead of one per bucket per usage. Time and character items (rounded per usage)
    are summed from each usage's own line items.
    """

    def __init__(self) -> None:
        # id(rates) -> (rates, token sums, other items by (item, unit, rate): [quantity, usd])
        self._by_rates: dict[int, tuple[Rates, dict[str, int], dict[tuple, list]]] = {}

    def add(self, cost: Cost) -> None:
        rates = cost.rates
        slot = self._by_rates.get(id(rates))
        if slot is None:
            slot = self._by_rates[id(rates)] = (rates, {}, {})
        usage = cost.usage
        if rates.bills_tokens:
            sums = slot[1]
            get = sums.get
            for key, n in usage.tokens.items():
                sums[key] = get(key, 0) + n
        if usage.connection_seconds or usage.audio_seconds or usage.characters:
            for li in cost.line_items:  # (already built by `price` for these)
                if li.unit != "tokens":
                    acc = slot[2].setdefault((li.item, li.unit, li.rate_usd), [_ZERO, _ZERO])
                    acc[0] += li.quantity
                    acc[1] += li.usd

    def line_items(self) -> list[LineItem]:
        costs = []
        for rates, sums, other in self._by_rates.values():
            items = [LineItem(rates.model, key, Decimal(n), "tokens", rates.per_token[key],
                              n * rates.per_token[key]) for key, n in sums.items() if n]
            items += [LineItem(rates.model, item, q, unit, rate, usd)
                      for (item, unit, rate), (q, usd) in other.items()]
            costs.append(Cost(Usage(rates.model), rates, _ZERO, items))
        return summarize(costs)


_ZERO = Decimal(0)


@dataclass
class SessionReport:
    """What a recorded session cost, line by line.

    Totals, counts and line items are kept as each usage is priced, so they do not need
    `priced`: `price_events(..., keep_priced=False)` prices a session of any length in
    bounded memory (its caller sees each usage through ``on_priced``).
    """

    format: str
    model: str | None
    priced: list[PricedUsage] = field(default_factory=list)
    skipped: list[LineProblem] = field(default_factory=list)   # malformed lines
    unpriced: list[LineProblem] = field(default_factory=list)  # valid usage, no known rate
    lines: int = 0
    # How many of each there were; the lists keep the first `KEPT_PROBLEMS` (a file of
    # garbage must not fill memory with the reasons).
    skipped_count: int = 0
    unpriced_count: int = 0
    priced_count: int = 0
    priced_usd: Decimal = Decimal(0)  # exact sum of every priced usage, known or not
    estimated: int = 0                # priced usages whose numbers were estimated
    rejected_count: int = 0           # usage events the reader refused (among `skipped`)
    first_rejected: LineProblem | None = None
    # The catalog id each model name of the events resolved to (first seen).
    catalog_ids: dict[str, str] = field(default_factory=dict)
    _tally: _Tally = field(default_factory=_Tally, repr=False, compare=False)

    def skip(self, line: int, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < KEPT_PROBLEMS:
            self.skipped.append(LineProblem(line, reason))

    def reject(self, line: int, reason: str) -> None:
        """A usage event the reader refused: skipped, and the total is no longer known."""
        self.skip(line, reason)
        self.rejected_count += 1
        if self.first_rejected is None:
            self.first_rejected = LineProblem(line, reason)

    def unprice(self, line: int, reason: str) -> None:
        self.unpriced_count += 1
        if len(self.unpriced) < KEPT_PROBLEMS:
            self.unpriced.append(LineProblem(line, reason))

    def add(self, priced: PricedUsage, keep: bool = True) -> None:
        """Count one priced usage in (and keep it in `priced` if `keep`)."""
        cost = priced.cost
        usage = cost.usage
        self.priced_count += 1
        self.priced_usd += cost.total_usd
        if usage.estimated:
            self.estimated += 1
        if usage.model not in self.catalog_ids:
            self.catalog_ids[usage.model] = cost.model
        self._tally.add(cost)
        if keep:
            self.priced.append(priced)

    @property
    def total_usd(self) -> Decimal | None:
        """Exact total, or None when it is not known (`unknown_reason` says why)."""
        if self.unknown_reason is not None:
            return None
        return self.priced_usd

    @property
    def unknown_reason(self) -> str | None:
        """Why the total is unknown, or None when it is known.

        It is unknown when some usage has no known rate, when nothing at all was priced (a
        session whose every usage line was rejected did not cost $0, we just cannot tell),
        and when some usage event was rejected: the priced part is then a lower bound.
        """
        if self.unpriced:
            n = self.unpriced_count
            return (f"{n} {'usage has' if n == 1 else 'usages have'} no known rate "
                    f"(first, line {self.unpriced[0].line}: {self.unpriced[0].reason})")
        if self.priced_count:
            first = self.first_rejected
            if first is None:
                return None
            n = self.rejected_count
            return (f"{n} usage {'event was' if n == 1 else 'events were'} rejected (first, "
                    f"line {first.line}: {first.reason}); the {self.priced_count} priced "
                    f"usages sum to ${plain(self.priced_usd)}, a lower bound")
        if self.skipped:
            first = self.skipped[0]
            return (f"no usage could be priced: {self.skipped_count} of {self.lines} lines "
                    f"were rejected (first, line {first.line}: {first.reason})")
        return "no usage found in this file"

    @property
    def line_items(self) -> list[LineItem]:
        """Line items summed by (model, item), as `summarize` of every priced usage."""
        return self._tally.line_items()
