"""Amazon Nova Sonic (Bedrock bidirectional stream): ``usageEvent`` deltas price the session.

Nova Sonic runs over an HTTP/2 stream of the AWS SDK, not a websocket, so only an app (not the
relay) feeds it; its events name no model (pass ``model=``). Each ``usageEvent`` is priced by
its delta and counted as a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...adapters.nova_sonic import NovaSonicReader
from ..policy import Decision
from .base import Tracker


class NovaSonicTracker(Tracker):
    """See the module docstring."""

    format = "nova-sonic"
    reader_class = NovaSonicReader

    def server(self, event: Mapping[str, Any]) -> Decision:
        inner = event.get("event")
        scope = inner if isinstance(inner, Mapping) else event
        if "usageEvent" in scope:
            return self._completed(event)
        return self.meter.other()

    def client(self, event: Mapping[str, Any]) -> Decision:
        inner = event.get("event")
        scope = inner if isinstance(inner, Mapping) else event
        if "usageEvent" in scope:
            return self.meter.forged("usageEvent")
        return self.meter.last
