"""The ASGI app: Vapi's and Retell's webhooks on one Starlette application.

====================  ==========================================================================
``POST /vapi``        every Vapi server message: ``assistant-request`` is answered from the
                      admission, ``end-of-call-report`` recorded; other types get ``{}``
``POST /retell``      Retell's inbound call webhook (``call_inbound``) and call events
                      (``call_ended`` / ``call_analyzed`` recorded; others acknowledged)
``GET /healthz``      the forecasts held per call, and the holds this process keeps
====================  ==========================================================================

Each request is read (at most `MAX_BODY_BYTES`, else 413), then authenticated: Vapi's server
secret (``X-Vapi-Secret`` or ``Authorization: Bearer``), Retell's ``x-retell-signature``. A
request that fails is answered 401 and touches nothing, nor does one for a platform no secret
is configured for. Only then is the body parsed: a body that is not JSON, or lacks a field
the answer needs, is answered 400 with the reason (``message.call.id: missing``).

An admission is decided on the event loop, not in a worker thread: it is one short ledger
transaction, and handing it to a thread costs more than it takes (the GIL is handed back up to
5 ms later under load: bench/bench_webhooks.py measured p99 9.7 ms in a thread against 3.4 ms
on the loop). A report (one commit per cost line) is recorded in a worker thread.

An admission is answered 200 either way (a platform reads no answer from an error status:
Retell would retry and then connect the call to the number's agent), with headers saying
what was decided and why: ``X-Costmodel-Decision: admit|reject``, ``X-Costmodel-Reason``,
``X-Costmodel-Hold-Usd``. A report is answered with what it did to the ledger (JSON), 503 when
some of its spend could be saved neither in the ledger nor in the spool (so a platform that
retries sends it again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import LedgerError, UsageError
from ..money import plain
from . import retell, vapi
from .admission import Admission, Decision
from .ingest import Ingestor
from .payload import MAX_BODY_BYTES, parse_json
from .report import CallReport
from .retell import InboundCall
from .vapi import AssistantRequest

log = logging.getLogger("costmodel.webhooks")


def _header(text: str) -> str:
    """`text` as an HTTP header value (ASCII, one line, bounded)."""
    return text.encode("ascii", "replace").decode()[:400].replace("\r", " ").replace("\n", " ")


def _answer(body: dict[str, Any], decision: Decision, reason: str | None = None) -> Response:
    headers = {"X-Costmodel-Decision": "admit" if decision.admit else "reject",
               "X-Costmodel-Reason": _header(reason or decision.reason)}
    if decision.reservation is not None:
        headers["X-Costmodel-Hold-Usd"] = plain(decision.reservation.usd)
    if decision.ledger_error is not None:
        headers["X-Costmodel-Ledger"] = "down"
    return JSONResponse(body, headers=headers)


def _bad(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _read(request: Request, limit: int) -> bytes | Response:
    """The body, or the 413 that refuses it (a declared length is refused unread)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _bad(f"the body is larger than {limit} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _bad(f"the body is larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookApp:
    """The endpoints' logic over one `Admission` and `Ingestor` (see the module docstring);
    `create_app` wraps it in a Starlette application."""

    def __init__(self, admission: Admission, ingestor: Ingestor, *,
                 vapi_secret: str | None = None, retell_api_key: str | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.admission, self.ingestor = admission, ingestor
        self.vapi_secret, self.retell_api_key = vapi_secret or None, retell_api_key or None
        self.max_body_bytes = max_body_bytes

    # -- Vapi -------------------------------------------------------------------------------
    async def vapi(self, request: Request) -> Response:
        raw = await _read(request, self.max_body_bytes)
        if isinstance(raw, Response):
            return raw
        if self.vapi_secret is None:
            return _bad("no Vapi secret is configured on this server (--secret-env)", 401)
        if not vapi.verify(request.headers, self.vapi_secret):
            log.warning("vapi: refused a request from %s: wrong or missing secret",
                        request.client.host if request.client else "?")
            return _bad("unauthorized", 401)
        try:
            kind, message = vapi.message_of(parse_json(raw, "vapi"))
            if kind == "assistant-request":
                return await self._vapi_admit(vapi.read_assistant_request(message))
            if kind == "end-of-call-report":
                return await self._record(vapi.read_end_of_call_report(message))
        except UsageError as exc:
            return _bad(str(exc))
        return JSONResponse({})

    async def _vapi_admit(self, call: AssistantRequest) -> Response:
        budgets = self.admission.budgets
        tenant = budgets.tenant_for(*call.tenant_keys)
        decision = self.admission.decide(tenant, call_key=call.call_id)
        log.info("vapi call %s: %s (%s)", call.call_id, "admit" if decision.admit else "reject",
                 decision.reason)
        if decision.admit and tenant is not None:
            assistant_id, assistant = budgets.vapi_assistant(tenant)
            if assistant_id or assistant:
                return _answer(vapi.admit_answer(assistant_id, assistant), decision)
            self._forget(call.call_id, decision)
            why = f"tenant {tenant.name!r} has no Vapi assistant to answer with"
            log.error("vapi call %s: refused: %s (vapi_assistant_id in the budgets file, or "
                      "--vapi-assistant-id)", call.call_id, why)
            return _answer(vapi.reject_answer(tenant.reject_message),
                           Decision(False, why, tenant), why)
        spoken = tenant.reject_message if tenant is not None else budgets.reject_message
        return _answer(vapi.reject_answer(spoken), decision)

    def _forget(self, call_key: str | None, decision: Decision) -> None:
        """Undo an admission that cannot be answered: its hold is released."""
        if call_key is not None:
            self.admission.settle(call_key)
        if decision.reservation is not None:
            try:
                self.admission.ledger.release(decision.reservation)
            except LedgerError as exc:   # the hold lapses anyway
                log.error("cannot release a hold: %s", exc)

    # -- Retell -----------------------------------------------------------------------------
    async def retell(self, request: Request) -> Response:
        raw = await _read(request, self.max_body_bytes)
        if isinstance(raw, Response):
            return raw
        if self.retell_api_key is None:
            return _bad("no Retell API key is configured on this server (--retell-key-env)", 401)
        if not retell.verify(raw, request.headers.get("x-retell-signature"),
                             self.retell_api_key):
            log.warning("retell: refused a request from %s: bad or missing signature",
                        request.client.host if request.client else "?")
            return _bad("unauthorized", 401)
        try:
            body = parse_json(raw, "retell")
            event = retell.event_of(body)
            if event == "call_inbound":
                return await self._retell_admit(retell.read_inbound(body))
            if event in retell.EVENTS_WITH_COST:
                report = retell.read_call_event(body)
                if report is not None:
                    return await self._record(report)
                return JSONResponse({"recorded": False, "why": "the call carries no call_cost"})
        except UsageError as exc:
            return _bad(str(exc))
        return JSONResponse({})

    async def _retell_admit(self, call: InboundCall) -> Response:
        tenant = self.admission.budgets.tenant_for(*call.tenant_keys)
        decision = self.admission.decide(tenant, session_id=f"retell-inbound:{call.to_number}")
        log.info("retell call to %s: %s (%s)", call.to_number,
                 "admit" if decision.admit else "reject", decision.reason)
        if decision.admit and tenant is not None:
            agent = self.admission.budgets.retell_agent(tenant) or call.agent_id
            if agent:
                return _answer(retell.admit_answer(agent, decision.note), decision)
            self._forget(None, decision)
            why = f"tenant {tenant.name!r} has no Retell agent to answer with"
            log.error("retell call to %s: refused: %s (retell_agent_id in the budgets file, "
                      "or --retell-agent-id)", call.to_number, why)
            return _answer(retell.reject_answer(), Decision(False, why, tenant), why)
        reason = decision.reason
        if call.agent_id is not None:
            reason += ("; the number has an inbound agent, which Retell connects anyway: "
                       "unset it so refusals take effect")
            log.warning("retell call to %s refused, but %s", call.to_number, reason)
        return _answer(retell.reject_answer(), decision, reason)

    # -- reports ----------------------------------------------------------------------------
    async def _record(self, report: CallReport) -> Response:
        result = await run_in_threadpool(self.ingestor.ingest, report)
        log.info("%s call %s: %d record(s), $%s in %r (%d new, %d already, %d spooled)",
                 report.platform, report.call_id, result.records, result.usd, result.scope,
                 result.stored, result.already, result.spooled)
        return JSONResponse(result.to_json(), status_code=503 if result.unsaved else 200)

    async def health(self, request: Request) -> Response:
        return JSONResponse({
            "ok": True, "period": self.admission.budgets.period,
            "default_stack": self.admission.default_stack,
            "forecasts": {s: {"p95_usd": plain(f.p95_usd), "mean_usd": plain(f.mean_usd),
                              "scenario": f.scenario}
                          for s, f in self.admission.forecasts.items()},
            "live_holds": self.admission.live_holds,
            "platforms": [p for p, key in (("vapi", self.vapi_secret),
                                           ("retell", self.retell_api_key)) if key]})


def create_app(admission: Admission, ingestor: Ingestor | None = None, *,
               vapi_secret: str | None = None, retell_api_key: str | None = None,
               max_body_bytes: int = MAX_BODY_BYTES,
               extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The Starlette application (see the module docstring); run it with any ASGI server,
    e.g. ``uvicorn.run(app, host="127.0.0.1", port=8088)``.

    >>> from decimal import Decimal
    >>> from costmodel.ledger import MemoryLedger
    >>> from costmodel.webhooks import Admission, Budgets, Forecast
    >>> f = Forecast("xai/grok-voice-agent", Decimal("0.90"), Decimal("0.30"), 1000, "demo")
    >>> app = create_app(Admission(MemoryLedger(), Budgets.uniform(Decimal(50)), {f.stack: f}),
    ...                  vapi_secret="s3cret")
    >>> sorted(r.path for r in app.routes)
    ['/healthz', '/retell', '/vapi']
    """
    hooks = WebhookApp(admission, ingestor or Ingestor(admission), vapi_secret=vapi_secret,
                       retell_api_key=retell_api_key, max_body_bytes=max_body_bytes)
    return Starlette(routes=[Route("/vapi", hooks.vapi, methods=["POST"]),
                             Route("/retell", hooks.retell, methods=["POST"]),
                             Route("/healthz", hooks.health, methods=["GET"]),
                             *extra_routes])
