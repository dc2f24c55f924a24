"""A scenario's stacks and the platform they run on: the ``stacks:`` and ``platform:`` keys.

A stack is a catalog id (a realtime, time-billed or self-hosted model, or an all-in platform)
or a chained pipeline ``{stt, llm, tts}`` (``telephony`` and ``platform`` optional), or a
realtime model with telephony and/or a transcription model.

>>> stack_id(ChainedStack(stt="deepgram/nova-3", llm="openai/gpt-5.4-mini",
...                       tts="cartesia/sonic-3", telephony="twilio/us-inbound"))
'deepgram/nova-3+openai/gpt-5.4-mini+cartesia/sonic-3+twilio/us-inbound'
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from .scenario import Scenario


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChainedStack(_Strict):
    stt: str | None = None
    llm: str | None = None
    tts: str | None = None
    telephony: str | None = None
    realtime: str | None = Field(default=None, description="extension: a realtime model with "
                                 "telephony and/or a transcription model")
    transcription: str | None = None
    platform: str | list[str] | None = Field(default=None, description="extension: catalog "
                                             "id(s) of kind platform this stack runs on "
                                             "(replaces the scenario's platform.id)")

    def platforms(self) -> tuple[str, ...]:
        """The stack's own platform ids ((), when it names none)."""
        return _ids(self.platform)

    def chain(self) -> tuple[tuple[str, str], ...]:
        """(role, model id) of a chained stack's stt, llm and tts, in that order."""
        assert self.stt and self.llm and self.tts  # `_shape`, for a stack without realtime
        return (("stt", self.stt), ("llm", self.llm), ("tts", self.tts))

    @model_validator(mode="after")
    def _shape(self) -> ChainedStack:
        if self.realtime is not None:
            if self.stt or self.llm or self.tts:
                raise ValueError("a stack has either realtime, or stt + llm + tts")
        elif not (self.stt and self.llm and self.tts):
            raise ValueError("a chained stack needs stt, llm and tts (telephony optional)")
        return self


def _ids(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


MAX_PHONE_NUMBERS = 1_000_000


class Platform(_Strict):
    """Extension: a voice platform's fees. ``usd_per_minute``: a fee per minute of call on
    every stack (line item 'platform fee'); or ``id``: catalog entries of kind platform (per
    minute fee, monthly fee, per-number fee, included minutes) for every stack that names
    none of its own; ``phone_numbers``: numbers rented (times each per-number fee)."""

    usd_per_minute: Decimal = Field(default=Decimal(0), ge=0, le=100, allow_inf_nan=False)
    id: str | list[str] | None = None
    phone_numbers: int = Field(default=1, ge=0, le=MAX_PHONE_NUMBERS, strict=True)

    @model_validator(mode="after")
    def _one_fee(self) -> Platform:
        if self.id is not None and self.usd_per_minute:
            raise ValueError("give usd_per_minute or id (a catalog platform), not both: the "
                             "catalog entry has its own per-minute fee")
        return self

    def ids(self) -> tuple[str, ...]:
        return _ids(self.id)


def stack_id(stack: str | ChainedStack) -> str:
    """The stack's display id: the model id, or a chained stack's ids joined by '+' (its own
    platforms last)."""
    if isinstance(stack, str):
        return stack
    parts = [stack.realtime, stack.transcription] if stack.realtime else [
        stack.stt, stack.llm, stack.tts]
    return "+".join(p for p in (*parts, stack.telephony, *stack.platforms()) if p)


def stack_platforms(stack: str | ChainedStack, sc: Scenario) -> tuple[str, ...]:
    """The platform ids a stack is billed by: its own ``platform:``, else the scenario's
    ``platform.id`` (a stack that is itself a platform entry takes the scenario's too)."""
    own = stack.platforms() if isinstance(stack, ChainedStack) else ()
    return own or sc.platform.ids()
