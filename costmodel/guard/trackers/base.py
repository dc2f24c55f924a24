"""What every tracker shares: the `Meter` it reports to, and the reader it prices with."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ...core.usage import Usage
from ...errors import MissingModelError, UsageError
from ..policy import Decision
from ..projector import Truncation

if TYPE_CHECKING:
    from ...adapters.recorded import EventReader

log = logging.getLogger("costmodel.guard")


class Meter(Protocol):
    """What a tracker tells the guard (`SessionGuard` implements it). Each call returns the
    guard's decision after it."""

    last: Decision   # the latest decision

    def requested(self) -> Decision:
        """A response was asked for (it counts against the budget from now)."""

    def started(self) -> Decision:
        """The provider has started a response (it is in flight)."""

    def refused(self) -> Decision:
        """The provider refused a request."""

    def completed(self, usages: list[Usage]) -> Decision:
        """A response finished; its usage as the provider reported it."""

    def completed_unreported(self, why: UsageError) -> Decision:
        """A response finished without usage: the guard estimates it."""

    def metered(self, usages: list[Usage]) -> Decision:
        """Usage outside a response (input transcription)."""

    def unmeterable(self, why: MissingModelError) -> Decision:
        """Usage that cannot be priced (no model named): the policy decides."""

    def before_response(self) -> Decision:
        """A response is about to be requested (the user's turn was committed)."""

    def user_speech(self, seconds: Decimal | None) -> Decision:
        """The user spoke (`seconds`, when the provider measured it; None at its start)."""

    def audio_rate(self, bytes_per_second: int) -> None:
        """The session's output audio format changed."""

    def configured(self, max_output_tokens: int | None, truncation: Truncation | None) -> None:
        """The provider says the session caps replies at `max_output_tokens` (None: no cap)
        and truncates its context so (None: the model's own way)."""

    def busted(self) -> Decision:
        """The cached prefix cannot be trusted any more (new instructions, edited history)."""

    def forged(self, kind: str) -> Decision:
        """A client sent an event only the provider may send: never metered."""

    def other(self) -> Decision:
        """Nothing that moves money (a time-billed session is still re-checked)."""


class Tracker:
    """Base of the protocol trackers: the protocol's reader (`costmodel.adapters`) prices
    provider events; `server` and `client` take one event each from each side."""

    format: ClassVar[str]
    reader_class: ClassVar[type[EventReader]]

    def __init__(self, meter: Meter, *, model: str | None = None,
                 transcription_model: str | None = None) -> None:
        self.meter = meter
        # Output audio streamed since the last priced usage: a response that ends without
        # reporting its usage is estimated from it (the guard reads and resets it).
        self.audio_bytes = 0
        self.reader: Any = self.reader_class(model=model,
                                             transcription_model=transcription_model)

    @property
    def model(self) -> str | None:
        """The model as the session's own events named it (or as given)."""
        return self.reader.model

    @classmethod
    def claims(cls, event: Mapping[str, Any]) -> bool:
        return bool(cls.reader_class.claims(event))

    def server(self, event: Mapping[str, Any]) -> Decision:
        raise NotImplementedError

    def client(self, event: Mapping[str, Any]) -> Decision:
        raise NotImplementedError

    def _completed(self, event: Mapping[str, Any]) -> Decision:
        """Price a response's usage: it completes the response, reported or not."""
        meter = self.meter
        try:
            usages = self.reader.feed(event)
        except MissingModelError as exc:
            return meter.unmeterable(exc)
        except UsageError as exc:
            return meter.completed_unreported(exc)
        return meter.completed(usages)

    def _metered(self, event: Mapping[str, Any]) -> Decision:
        """Price what a provider event reports outside a response (a transcription, a
        session event naming the model)."""
        meter = self.meter
        try:
            usages = self.reader.feed(event)
        except MissingModelError as exc:
            return meter.unmeterable(exc)
        except UsageError as exc:
            log.warning("guard: unusable %s event: %s", self.format, exc)
            return meter.other()
        return meter.metered(usages) if usages else meter.other()
