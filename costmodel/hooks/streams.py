"""Audio reported in parts of one stream, billed as the provider bills the stream: once.

A streaming STT connection is one request to its provider, and the provider rounds the
request's audio to its billing increment once (Deepgram: per second, "without rounding up to a
minute", deepgram.com/pricing as captured 2026-11-04 in
https://docs.flexprice.io/cookbooks/pricing-teardowns/deepgram-pricing; at least one second a
connection, https://community.deepgram.com/answers/en/billing-zero-transmitted-data-
1317275304300908664). A framework that reports the stream's audio in deltas (Pipecat's
``STTUsage``, "incremental deltas since the previous usage report") must not have each delta
rounded up on its own: over a session of short turns that bills several percent too much
(3.96% on 200 generated Deepgram sessions).

`Streams.share` turns one report into what it adds to its stream's bill: the stream's audio
so far, rounded as the rate rounds (increment and minimum), less what the stream was billed
before. So the spend is, at every report, what the stream would be billed if it closed then:
never less than its audio (the guard's projection stays on the safe side), and the shares of a
stream add up to its audio rounded once. Each share is a whole number of increments, which
pricing does not round again.

What cannot be seen is not guessed: a reconnect inside a service starts a new stream for the
provider (another rounding, at most one increment more) that the reports do not show; and a
rate whose minimum is more than its increment (a per-request minimum, as Groq's Whisper has)
is billed report by report, as requests of their own, which can only overstate a stream.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal

from ..core.catalog import Catalog
from ..core.pricing import rates_for
from ..core.usage import Usage
from ..errors import CostModelError

__all__ = ["Streams"]

_ZERO = Decimal(0)


class Streams:
    """The audio and bill so far of each stream (by a key the caller chooses, e.g. the
    reporting service and its model).

    >>> streams = Streams()
    >>> [str(streams.share("stt#0", Usage("deepgram/nova-3", audio_seconds=Decimal(s)))
    ...      .audio_seconds) for s in ("3.5", "3.5", "0.4")]   # 4 s, 7 s, 8 s billed
    ['4', '3', '1']
    >>> streams.share("stt#0", Usage("deepgram/nova-3", audio_seconds=Decimal("0.5"))) is None
    True
    """

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog
        self._streams: dict[Hashable, tuple[Decimal, Decimal]] = {}   # (audio, billed) seconds

    def share(self, key: Hashable, usage: Usage) -> Usage | None:
        """What `usage` (audio seconds of stream `key`) adds to the stream's bill, as a usage
        of whole billing increments; None when the bill does not grow. A usage without audio,
        or of a model whose audio rate is unknown or has a per-request minimum, is returned
        as it is (pricing then reports or rounds it alone)."""
        if not usage.audio_seconds:
            return usage
        try:
            plan = rates_for(usage.model, usage.at, self.catalog).audio
        except CostModelError:
            return usage   # the guard says why it cannot price it
        if plan is None or plan.minimum > plan.increment:
            return usage
        audio, billed = self._streams.get(key, (_ZERO, _ZERO))
        audio += usage.audio_seconds
        now = plan.billed_seconds(audio)
        self._streams[key] = (audio, now)
        if now == billed:
            return None
        return usage.with_(audio_seconds=now - billed)

    def audio_seconds(self, key: Hashable) -> Decimal:
        """The audio reported so far for stream `key`, exact."""
        return self._streams.get(key, (_ZERO, _ZERO))[0]
