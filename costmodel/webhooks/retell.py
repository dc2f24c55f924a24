"""Retell webhooks: the inbound call webhook costmodel answers and the call events whose
``call_cost`` it records, read in the shapes Retell documents.

Sources (read 2026-11-30):

- Inbound call webhook: ``POST {"event": "call_inbound", "call_inbound": {"agent_id",
  "agent_version", "from_number", "to_number"}}`` with no call object and no call id yet;
  answered within 10 s with ``{"call_inbound": {"override_agent_id", "override_agent_version",
  "dynamic_variables", "metadata"}}`` (all optional). To decline calls, leave the number's
  inbound agent unset and answer without ``override_agent_id``; a failed webhook is retried
  up to 3 times, then the number's inbound agent (if any) takes the call:
  https://docs.retellai.com/features/inbound-call-webhook
- Call events ``{"event": "call_started" | "call_ended" | "call_analyzed" | ..., "call":
  {...}}``; ``call_ended`` carries every field of the call object but ``call_analysis``:
  https://docs.retellai.com/features/webhook-overview
- The call object's ``call_cost``: ``product_costs[]`` (``product``, ``unit_price`` in cents
  per second, ``cost`` in cents, ``is_transfer_leg_cost``), ``total_duration_seconds``,
  ``total_duration_unit_price``, ``combined_cost`` in cents; and ``call_id``, ``direction``,
  ``from_number``, ``to_number``, ``start_timestamp`` / ``end_timestamp`` (ms), ``duration_ms``,
  ``metadata``: Retell's API reference (https://docs.retellai.com/api-references/get-call),
  as generated into RetellAI/retell-python-sdk ``src/retell/types/phone_call_response.py``.
- Signatures: ``x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256(api key, raw body +
  that timestamp)>``, accepted within 5 minutes; only the API key with the webhook badge
  signs: https://docs.retellai.com/features/secure-webhook and the SDK's verifier,
  RetellAI/retell-python-sdk ``src/retell/lib/webhook_auth.py``.

>>> from costmodel.webhooks.payload import parse_json
>>> report = read_call_event(parse_json(
...     b'{"event": "call_ended", "call": {"call_id": "call_1", "direction": "inbound", '
...     b'"from_number": "+12137771234", "to_number": "+12137771235", "call_cost": '
...     b'{"product_costs": [{"product": "elevenlabs_tts", "unit_price": 1, "cost": 60}], '
...     b'"total_duration_seconds": 60, "total_duration_unit_price": 1, '
...     b'"combined_cost": 70}}}', "retell"))
>>> [(line.model, line.usd) for line in report.lines], report.total_usd
([('retell/elevenlabs_tts', Decimal('0.60'))], Decimal('0.70'))
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .._files import clip
from ..errors import UsageError
from .payload import amount, epoch_ms, mapping, quantity, text, value
from .report import CallReport, CostLine, HoldNote

PLATFORM_FEE_ID = "retell/voice-infra"   # the catalog entry of Retell's per-minute fee
EVENTS_WITH_COST = frozenset({"call_ended", "call_analyzed"})
SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000
MAX_LINES = 1000
NOTE_KEY = "costmodel"   # where the admission's hold travels in the call's metadata
_SIGNATURE = re.compile(r"v=(\d{1,16}),d=([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class InboundCall:
    """A call ringing on a Retell number: who calls, which number (ours), and the agent
    the number names (None when its inbound agent is unset)."""

    from_number: str
    to_number: str
    agent_id: str | None
    agent_version: int | None

    @property
    def tenant_keys(self) -> tuple[str, ...]:
        return (self.to_number,)


def event_of(body: Mapping[str, Any]) -> str:
    """The body's ``event``."""
    event = text(body, "event")
    assert event is not None
    return event


def read_inbound(body: Mapping[str, Any]) -> InboundCall:
    """The call a ``call_inbound`` webhook is about."""
    version = value(body, "call_inbound.agent_version", required=False)
    if version is not None and type(version) is not int:
        raise UsageError(f"call_inbound.agent_version: expected an integer, got "
                         f"{clip(repr(version))}")
    from_number = text(body, "call_inbound.from_number")
    to_number = text(body, "call_inbound.to_number")
    assert from_number is not None and to_number is not None
    return InboundCall(from_number, to_number, text(body, "call_inbound.agent_id",
                                                    required=False), version)


def _lines(costs: Any) -> tuple[CostLine, ...]:
    where = "call.call_cost.product_costs"
    if costs is None:
        return ()
    if not isinstance(costs, Sequence) or isinstance(costs, str | bytes):
        raise UsageError(f"{where}: expected a list, got {clip(repr(costs))}")
    if len(costs) > MAX_LINES:
        raise UsageError(f"{where}: {len(costs)} products (at most {MAX_LINES})")
    lines = []
    for i, item in enumerate(costs):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise UsageError(f"{at}: expected an object, got {clip(repr(item))}")
        try:
            product = text(item, "product")
            assert product is not None
            usd = amount(item, "cost", scale=-2)        # cents
            unit = quantity(item, "unit_price")         # cents per second
        except UsageError as exc:
            raise UsageError(f"{at}.{exc}") from None
        assert usd is not None
        detail: dict[str, Any] = {"product": product}
        if unit is not None:
            detail["unit_price_cents_per_second"] = str(unit)
        if item.get("is_transfer_leg_cost") is True:
            detail["transfer_leg"] = True
        lines.append(CostLine(product, f"retell/{clip(product, 100)}", usd, detail))
    return tuple(lines)


def _hold(metadata: Mapping[str, Any] | None) -> HoldNote | None:
    """The admission's `HoldNote` in a call's metadata, if it is there and whole."""
    note = metadata.get(NOTE_KEY) if isinstance(metadata, Mapping) else None
    if not isinstance(note, Mapping):
        return None
    try:
        tenant, hold, usd, expires = (note["tenant"], note["hold"], Decimal(note["usd"]),
                                      float(note["expires_at"]))
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None
    if not (isinstance(tenant, str) and tenant and isinstance(hold, str) and hold
            and usd.is_finite() and usd >= 0):
        return None
    return HoldNote(tenant, hold, usd, expires)


def hold_metadata(note: HoldNote) -> dict[str, Any]:
    """The call metadata that carries `note` (see `HoldNote`)."""
    return {NOTE_KEY: {"tenant": note.tenant, "hold": note.reservation_id,
                       "usd": f"{note.usd:f}", "expires_at": note.expires_at}}


def read_call_event(body: Mapping[str, Any]) -> CallReport | None:
    """The cost a call event reports (`CallReport`), or None when its call carries no
    ``call_cost`` (yet: ``call_started``, or a call that never connected)."""
    call = mapping(body, "call")
    assert call is not None
    cost = mapping(call, "call_cost", required=False)
    if cost is None:
        return None
    try:
        call_id = text(call, "call_id")
        assert call_id is not None
        total = amount(cost, "combined_cost", required=False, scale=-2)
        seconds = quantity(cost, "total_duration_seconds")
        duration_ms = quantity(call, "duration_ms")
        started, ended = epoch_ms(call, "start_timestamp"), epoch_ms(call, "end_timestamp")
        ours, theirs = ("from_number", "to_number") if call.get("direction") == "outbound" \
            else ("to_number", "from_number")
        number = text(call, ours, required=False)
        caller = text(call, theirs, required=False)
        agent = text(call, "agent_id", required=False)
    except UsageError as exc:
        raise UsageError(f"call.{exc}") from None
    if seconds is None and duration_ms is not None:
        seconds = duration_ms.scaleb(-3)
    return CallReport(
        platform="retell", event=event_of(body), call_id=call_id,
        lines=_lines(cost.get("product_costs")), total_usd=total, started_at=started,
        ended_at=ended, duration_seconds=seconds, numbers=(number,) if number else (),
        agent_id=agent, caller=caller, hold=_hold(call.get("metadata")),
        platform_fee_id=PLATFORM_FEE_ID, platform_line=None)


def verify(raw: bytes, signature: str | None, api_key: str, *,
           now_ms: int | None = None) -> bool:
    """Whether `signature` (the ``x-retell-signature`` header) signs `raw` with `api_key`,
    made within `SIGNATURE_TOLERANCE_MS` of `now_ms`; compared in constant time.

    The SDK's own test vector (RetellAI/retell-python-sdk tests/test_webhook_auth.py):

    >>> sig = ("v=1700000000000,"
    ...        "d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e")
    >>> verify(b'{"event":"call_ended"}', sig, "test-api-key", now_ms=1_700_000_000_000)
    True
    >>> verify(b'{"event":"call_ended"} ', sig, "test-api-key", now_ms=1_700_000_000_000)
    False
    """
    match = _SIGNATURE.fullmatch(signature or "")
    if match is None:
        return False
    stamp = int(match.group(1))
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - stamp) > SIGNATURE_TOLERANCE_MS:
        return False
    digest = hmac.new(api_key.encode(), raw + match.group(1).encode(), hashlib.sha256)
    return hmac.compare_digest(digest.hexdigest(), match.group(2))


def sign(raw: bytes, api_key: str, *, now_ms: int | None = None) -> str:
    """The ``x-retell-signature`` Retell would send for `raw` (tests and the bench sign
    their requests with it)."""
    stamp = str(int(time.time() * 1000) if now_ms is None else now_ms)
    digest = hmac.new(api_key.encode(), raw + stamp.encode(), hashlib.sha256).hexdigest()
    return f"v={stamp},d={digest}"


def admit_answer(agent_id: str | None, note: HoldNote | None) -> dict[str, Any]:
    """What takes the call: the tenant's agent (when it names one) and the hold's note in the
    call's metadata."""
    answer: dict[str, Any] = {}
    if agent_id:
        answer["override_agent_id"] = agent_id
    if note is not None:
        answer["metadata"] = hold_metadata(note)
    return {"call_inbound": answer}


def reject_answer() -> dict[str, Any]:
    """What declines the call: no agent (on a number whose inbound agent is unset)."""
    return {"call_inbound": {}}
