"""Amazon Nova Sonic / Nova 2 Sonic (Bedrock bidirectional stream): ``usageEvent``.

Shape (AWS output-events docs; pipecat ``tests/test_nova_sonic_usage_metrics.py``)::

    {"event": {"usageEvent": {"completionId": ..., "details": {
        "delta": {"input": {"speechTokens", "textTokens"}, "output": {...}},
        "total": {"input": {...}, "output": {...}}},
      "totalInputTokens", "totalOutputTokens", "totalTokens"}}}

``total`` is cumulative for the session and ``delta`` is what this event adds (pipecat's
CHANGELOG 1.7.0: the deltas sum to the total). We price **deltas only**, never delta and
total both. An event with only a ``total`` is turned into a delta against the previous total.
Speech tokens are priced at the audio rates, text tokens at the text rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.usage import Usage
from ..errors import MissingModelError, UsageError
from ._common import count, mapping, put

_SIDES = (("input", "input"), ("output", "output"))
_KINDS = (("speechTokens", "audio"), ("textTokens", "text"))


def _counts(block: Mapping[str, Any] | None, where: str) -> dict[str, int]:
    out: dict[str, int] = {}
    reported = False
    for side, state in _SIDES:
        part = mapping(block, side, where)
        for field, modality in _KINDS:
            reported = reported or (part is not None and part.get(field) is not None)
            put(out, f"{modality}.{state}", count(part, field, f"{where}.{side}"))
    if not reported:  # `{}` says nothing; priced as $0 it would understate the session
        raise UsageError(f"{where} reports no speechTokens or textTokens; it cannot be priced")
    return out


def _usage_event(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    inner = event.get("event")
    if isinstance(inner, Mapping):
        event = inner
    ue = event.get("usageEvent")
    if ue is None:
        return None
    if not isinstance(ue, Mapping):
        raise UsageError("usageEvent must be an object")
    return ue


class NovaSonicReader:
    """Prices a Nova Sonic session's ``usageEvent`` stream by its deltas."""

    format = "nova-sonic"

    def __init__(self, model: str | None = None, transcription_model: str | None = None) -> None:
        self.model = model
        self.responses = 0
        self._seen: dict[str, int] = {}  # everything priced so far, by bucket

    @staticmethod
    def claims(event: Mapping[str, Any]) -> bool:
        inner = event.get("event")
        scope = inner if isinstance(inner, Mapping) else event
        return any(k in scope for k in ("usageEvent", "completionStart", "completionEnd",
                                        "contentStart", "textOutput", "audioOutput",
                                        "sessionStart", "promptStart"))

    def feed(self, event: Mapping[str, Any]) -> list[Usage]:
        ue = _usage_event(event)
        if ue is None:
            return []
        if self.model is None:
            raise MissingModelError("Nova Sonic events do not name their model; pass it "
                                    "explicitly (--model amazon/nova-2-sonic)")
        details = mapping(ue, "details", "usageEvent")
        delta_block = mapping(details, "delta", "usageEvent.details")
        total_block = mapping(details, "total", "usageEvent.details")
        if delta_block is None and total_block is None:
            raise UsageError("usageEvent.details has neither delta nor total")
        if delta_block is not None:
            delta = _counts(delta_block, "usageEvent.details.delta")
        else:
            # Only a cumulative total: this event adds what the total has beyond everything
            # already priced (whether that came as deltas or as earlier totals).
            total = _counts(total_block, "usageEvent.details.total")
            delta = {k: total.get(k, 0) - self._seen.get(k, 0)
                     for k in total.keys() | self._seen.keys()}
            if any(v < 0 for v in delta.values()):
                raise UsageError("usageEvent total is below what earlier events already "
                                 "counted; totals must be cumulative")
            delta = {k: v for k, v in delta.items() if v}
        for k, v in delta.items():
            self._seen[k] = self._seen.get(k, 0) + v
        self.responses += 1
        return [Usage(self.model, delta, label=f"usage event {self.responses}")]
