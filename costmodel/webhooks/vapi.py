"""Vapi server messages: the ``assistant-request`` costmodel answers and the
``end-of-call-report`` it records, read in the shapes Vapi documents.

Sources (read 2026-11-30):

- Every message is ``POST {"message": {"type": ..., "call": {...}, ...}}``; an
  ``assistant-request`` is answered within 7.5 s end to end with ``assistantId`` or
  ``assistant`` to take the call, or ``{"error": "..."}`` to refuse it (the text is spoken
  to the caller): https://docs.vapi.ai/server-url/events and
  https://docs.vapi.ai/server-url/assistant-request (its sample payload carries
  ``phoneNumber: {id, number}`` and ``customer: {number}``).
- The end-of-call report is sent once after post-call processing and not retried by
  default, duplicates possible: https://docs.vapi.ai/server-url/end-of-call-report
- Field shapes: ``ServerMessageEndOfCallReport`` (``cost``, ``costs``, ``startedAt``,
  ``endedAt``, ``call``), the cost lines ``TransportCost`` (provider, minutes),
  ``TranscriberCost`` (transcriber, minutes), ``ModelCost`` (model, promptTokens,
  completionTokens, cachedPromptTokens), ``VoiceCost`` (voice, characters), ``VapiCost``
  (subType normal|overage, minutes "should match call.endedAt - call.startedAt"),
  ``AnalysisCost``, ``VoicemailDetectionCost``, ``KnowledgeBaseCost``, every one with
  ``cost`` in USD: Vapi's OpenAPI document,
  https://github.com/VapiAI/docs/blob/main/fern/apis/api/openapi.json
- Authentication: the legacy server secret arrives as ``X-Vapi-Secret``; a Bearer Token
  credential as ``Authorization: Bearer <token>`` (or in a header the credential names):
  https://docs.vapi.ai/server-url/server-authentication

>>> from costmodel.webhooks.payload import parse_json
>>> kind, message = message_of(parse_json(
...     b'{"message": {"type": "end-of-call-report", "cost": 0.0585, "costs": ['
...     b'{"type": "vapi", "subType": "normal", "minutes": 1, "cost": 0.05}, '
...     b'{"type": "transport", "provider": "twilio", "minutes": 1, "cost": 0.0085}], '
...     b'"call": {"id": "c-1", "startedAt": "2026-11-30T10:00:00Z", '
...     b'"endedAt": "2026-11-30T10:01:00.5Z"}}}', "vapi"))
>>> report = read_end_of_call_report(message)
>>> [(line.model, line.usd) for line in report.lines]
[('vapi/platform', Decimal('0.05')), ('vapi/transport:twilio', Decimal('0.0085'))]
>>> report.duration_seconds
Decimal('60.5')
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .._files import clip
from ..errors import UsageError
from ..money import tidy
from .payload import amount, instant, mapping, quantity, text, value
from .report import CallReport, CostLine

PLATFORM_FEE_ID = "vapi/platform"   # the catalog entry of Vapi's own per-minute fee
MAX_LINES = 1000
# What each cost type says about its quantity, kept in the record's detail.
_QUANTITIES = ("minutes", "characters", "promptTokens", "completionTokens",
               "cachedPromptTokens", "reasoningTokens", "promptTextTokens",
               "promptAudioTokens", "completionTextTokens", "completionAudioTokens")
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class AssistantRequest:
    """An inbound call Vapi asks an assistant for: its id, the number called (ours) and
    Vapi's id for it, and the caller's number."""

    call_id: str
    called_number: str | None
    phone_number_id: str | None
    caller_number: str | None

    @property
    def tenant_keys(self) -> tuple[str, ...]:
        """What can name the call's tenant, the called number first."""
        return tuple(k for k in (self.called_number, self.phone_number_id) if k)


def message_of(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """(``message.type``, ``message``) of a server message body."""
    message = mapping(body, "message")
    assert message is not None
    kind = text(message, "type", required=True)
    assert kind is not None
    return kind, message


def _under(prefix: str, fn: Any, obj: Mapping[str, Any], path: str, **kw: Any) -> Any:
    """`fn(obj, path)`, its error naming the path from the body's root."""
    try:
        return fn(obj, path, **kw)
    except UsageError as exc:
        raise UsageError(f"{prefix}.{exc}") from None


def read_assistant_request(message: Mapping[str, Any]) -> AssistantRequest:
    """The call an ``assistant-request`` message is about."""
    call_id = _under("message", text, message, "call.id")
    return AssistantRequest(
        call_id=call_id,
        called_number=_under("message", text, message, "phoneNumber.number", required=False),
        phone_number_id=(_under("message", text, message, "call.phoneNumberId", required=False)
                         or _under("message", text, message, "phoneNumber.id",
                                   required=False)),
        caller_number=(_under("message", text, message, "customer.number", required=False)
                       or _under("message", text, message, "call.customer.number",
                                 required=False)))


def _descriptor(line: Mapping[str, Any], kind: str) -> str | None:
    """``provider/model`` of a cost line (its nested transcriber, model or voice object, or
    its ``provider``), as far as the line says."""
    nested = line.get(kind) if kind in ("transcriber", "voice") else line.get("model")
    if isinstance(nested, Mapping):
        provider = nested.get("provider")
        name = nested.get("model") or nested.get("voiceId")
        parts = [str(p) for p in (provider, name) if isinstance(p, str) and p]
        if parts:
            return clip("/".join(parts), 100)
    provider = line.get("provider")
    return clip(provider, 100) if isinstance(provider, str) and provider else None


def _line(line: Any, where: str) -> CostLine:
    if not isinstance(line, Mapping):
        raise UsageError(f"{where}: expected a cost object, got {clip(repr(line))}")
    kind = _under(where, text, line, "type")
    usd = _under(where, amount, line, "cost")
    detail: dict[str, Any] = {}
    for key in _QUANTITIES:
        q = _under(where, quantity, line, key)
        if q is not None:
            detail[key] = str(q)
    for key in ("subType", "analysisType", "provider"):
        if isinstance(line.get(key), str):
            detail[key] = clip(line[key], 100)
    if kind == "vapi":
        return CostLine(kind, PLATFORM_FEE_ID, usd, detail)
    what = _descriptor(line, kind)
    if what:
        detail["what"] = what
    return CostLine(kind, f"vapi/{clip(kind, 40)}" + (f":{what}" if what else ""), usd, detail)


def _lines(costs: Any, where: str) -> tuple[CostLine, ...]:
    if costs is None:
        return ()
    if not isinstance(costs, Sequence) or isinstance(costs, str | bytes):
        raise UsageError(f"{where}: expected a list of cost objects, got {clip(repr(costs))}")
    if len(costs) > MAX_LINES:
        raise UsageError(f"{where}: {len(costs)} cost lines (at most {MAX_LINES})")
    return tuple(_line(line, f"{where}[{i}]") for i, line in enumerate(costs))


def _duration(message: Mapping[str, Any], started: datetime | None,
              ended: datetime | None) -> Decimal | None:
    """The call's length: ``durationSeconds`` where the report has it, else end - start."""
    seconds = _under("message", quantity, message, "durationSeconds")
    if seconds is not None:
        return seconds
    if started is not None and ended is not None and ended >= started:
        return tidy(Decimal((ended - started) // _US).scaleb(-6))
    return None


def read_end_of_call_report(message: Mapping[str, Any]) -> CallReport:
    """The cost of the call an ``end-of-call-report`` message reports (`CallReport`).

    The lines are ``message.costs`` (else ``message.call.costs``), the total
    ``message.cost`` (else ``message.call.cost``); times ``message.startedAt`` /
    ``endedAt`` (else the call's). Each line keeps what it says about its quantity.
    """
    call_id = _under("message", text, message, "call.id")
    in_message = message.get("costs") is not None
    costs = value(message, "costs" if in_message else "call.costs", required=False)
    lines = _lines(costs, "message.costs" if in_message else "message.call.costs")
    total = _under("message", amount, message, "cost", required=False)
    if total is None:
        total = _under("message", amount, message, "call.cost", required=False)
    started = (_under("message", instant, message, "startedAt")
               or _under("message", instant, message, "call.startedAt"))
    ended = (_under("message", instant, message, "endedAt")
             or _under("message", instant, message, "call.endedAt"))
    request = read_assistant_request(message)
    return CallReport(
        platform="vapi", event="end-of-call-report", call_id=call_id, lines=lines,
        total_usd=total, started_at=started, ended_at=ended,
        duration_seconds=_duration(message, started, ended), numbers=request.tenant_keys,
        agent_id=(_under("message", text, message, "call.assistantId", required=False)
                  or _under("message", text, message, "assistant.id", required=False)),
        caller=request.caller_number, platform_fee_id=PLATFORM_FEE_ID, platform_line="vapi")


def verify(headers: Mapping[str, str], secret: str) -> bool:
    """Whether a request carries the server secret: ``X-Vapi-Secret: <secret>`` or
    ``Authorization: Bearer <secret>``, compared in constant time.

    >>> verify({"x-vapi-secret": "s3cret"}, "s3cret"), verify({"authorization": "Bearer x"},
    ...                                                         "s3cret")
    (True, False)
    """
    given = headers.get("x-vapi-secret")
    if given is None:
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else None
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


def admit_answer(assistant_id: str | None, assistant: Mapping[str, Any] | None
                 ) -> dict[str, Any]:
    """What takes the call: the saved assistant's id, else the transient assistant."""
    if assistant_id:
        return {"assistantId": assistant_id}
    return {"assistant": dict(assistant or {})}


def reject_answer(spoken: str) -> dict[str, Any]:
    """What refuses the call; Vapi speaks `spoken` to the caller."""
    return {"error": spoken}
