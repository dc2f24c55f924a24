"""Cost per minute by component, the way voice platforms present it.

A stack's line items ('model item', USD per month) are grouped by what they pay for: the
model's kind in the catalog and the billed bucket. Groups, in display order:

STT · LLM input (cache writes included) · LLM cached · LLM output · TTS · realtime audio ·
realtime text · realtime by the minute (a connection rate) · self-hosting · telephony ·
platform fee.

>>> from costmodel.estimation import StackEstimate
>>> r = StackEstimate("xai/grok-voice-agent+twilio/us-inbound", 1, {"mean": 0.6}, 0.06,
...     600.0, (590.0, 610.0), [("xai/grok-voice-agent connection", 500.0),
...     ("twilio/us-inbound connection", 85.0), ("platform fee", 15.0)], mean_minutes=10.0)
>>> {k: round(v, 4) for k, v in per_minute(r, calls_per_month=1000).items()}
{'realtime by the minute': 0.05, 'telephony': 0.0085, 'platform fee': 0.0015}
"""

from __future__ import annotations

from ..core.catalog import Catalog, default_catalog
from ..errors import UnknownModelError
from .monthly import PLATFORM_FEE, StackEstimate

COMPONENTS = ("STT", "LLM input", "LLM cached", "LLM output", "TTS", "realtime audio",
              "realtime text", "realtime by the minute", "self-hosting", "telephony",
              "platform fee")


def component_of(item: str, catalog: Catalog | None = None) -> str:
    """The group of a line item named 'model bucket' (or the platform fee)."""
    if item == PLATFORM_FEE:
        return "platform fee"
    model, _, bucket = item.partition(" ")
    kind: str
    try:
        kind = (catalog or default_catalog()).get(model).kind
    except UnknownModelError:
        kind = model.split("/", 1)[0]
    if kind == "stt":
        return "STT"
    if kind == "tts":
        return "TTS"
    if kind == "platform":  # per-minute fee, plan, phone numbers, included minutes
        return "platform fee"
    if kind in ("telephony", "selfhost"):
        return "telephony" if kind == "telephony" else "self-hosting"
    if kind == "llm":
        if bucket.endswith(".output"):
            return "LLM output"
        return "LLM cached" if bucket.endswith(".cached") else "LLM input"
    if bucket in ("connection", "audio_time"):
        return "realtime by the minute"
    return "realtime audio" if bucket.startswith("audio.") else "realtime text"


def per_minute(result: StackEstimate, catalog: Catalog | None = None, *,
               calls_per_month: float) -> dict[str, float]:
    """USD per minute of call by component (only those billed), in `COMPONENTS` order;
    they sum to the stack's cost per minute. `calls_per_month` is the volume its line items
    (USD per month) were computed for."""
    minutes = calls_per_month * result.mean_minutes
    out: dict[str, float] = {}
    for item, usd in result.line_items:
        group = component_of(item, catalog)
        out[group] = out.get(group, 0.0) + usd / minutes
    return {k: out[k] for k in COMPONENTS if k in out}
