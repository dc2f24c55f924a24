"""The per-call fixed cost: the instructions and tools a session is set up with.

A realtime session bills its set-up (system instructions, tool definitions) as text input of
its first response, whatever the call then does: a call that ends after one answer still pays
it in full. A re-billing model (OpenAI Realtime, Gemini Live) sends it again with every
response, at the cached rate while its prompt cache holds. `setup_cost` reads it off a guard
once the first response is priced: its text input is the set-up (`Projector.setup_tokens`),
priced with `price` like any usage.

>>> from costmodel.core.usage import Usage
>>> from costmodel.guard import SessionGuard
>>> guard = SessionGuard("1", model="openai/gpt-realtime-1.5")
>>> d = guard.observe(Usage("openai/gpt-realtime-1.5", {"text.input": 1000, "audio.input": 80}))
>>> cost = setup_cost(guard)   # 1,000 x $4/1M; from the cache 1,000 x $0.40/1M
>>> cost.first_usd, cost.cached_usd, cost.rebilled
(Decimal('0.004000000000'), Decimal('0.000400000000'), True)
>>> for part in cost.note().split("; "):
...     print(part)
set-up: 1,000 text tokens (instructions, tools) billed with the first response: $0.004000
re-sent with every response ($0.000400 each from the cache)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.pricing import price
from ..core.usage import Usage
from ..errors import CostModelError
from ..money import format_usd

if TYPE_CHECKING:
    from .session import SessionGuard


@dataclass(frozen=True, slots=True)
class SetupCost:
    """A session's set-up tokens and what they cost (see the module docstring)."""

    model: str
    text_tokens: int
    first_usd: Decimal          # in the first response, uncached
    rebilled: bool              # sent again with every response (a re-billing model)
    cached_usd: Decimal | None  # each later response from the cache (None: no cached rate)

    def note(self) -> str:
        """The set-up in one line, for a log or a decision."""
        text = (f"set-up: {self.text_tokens:,} text tokens (instructions, tools) billed with "
                f"the first response: {format_usd(self.first_usd)}")
        if not self.rebilled:
            return text + "; billed once a call"
        if self.cached_usd is None:
            return text + "; re-sent with every response"
        return (text + f"; re-sent with every response ({format_usd(self.cached_usd)} each "
                "from the cache)")

    def json(self) -> dict[str, Any]:
        return {"model": self.model, "text_tokens": self.text_tokens,
                "first_response_usd": str(self.first_usd), "rebilled": self.rebilled,
                "cached_usd_per_response": None if self.cached_usd is None
                else str(self.cached_usd)}


def setup_cost(guard: SessionGuard) -> SetupCost | None:
    """The set-up of `guard`'s session, once its first response is priced (else None; None
    too for a set-up of no text, or one the catalog cannot price)."""
    projector = guard.projector
    facts, tokens = projector.facts, projector.setup_tokens
    if facts is None or not tokens or facts.time_billed:
        return None
    try:
        first = price(Usage(facts.model_id, {"text.input": tokens}), guard.catalog).total_usd
    except CostModelError:
        return None
    cached = None
    if "text" in facts.cacheable:
        cached = price(Usage(facts.model_id, {"text.cached": tokens}),
                       guard.catalog).total_usd
    return SetupCost(facts.model_id, tokens, first, facts.rebills, cached)
