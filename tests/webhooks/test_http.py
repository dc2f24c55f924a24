"""Vapi and Retell webhooks over real HTTP: admission against the tenant's budget, refusals,
authentication, malformed bodies, and end-of-call costs recorded exactly once.

Numbers (conftest): a call holds $0.20 (its P95); tenant acme has $0.50 a month.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal as D

from costmodel.ledger import Spool, SQLiteLedger

from .conftest import RETELL_KEY, VAPI_SECRET, build, payload

ASSISTANT = "2ccabf54-ccd8-4dff-ae93-e830159c8004"


def assistant_request(call_id: str) -> dict:
    body = payload("vapi-assistant-request.json")
    body["message"]["call"]["id"] = call_id
    return body


def report_for(call_id: str) -> dict:
    body = payload("vapi-end-of-call-report.json")
    body["message"]["call"]["id"] = call_id
    return body


# -- Vapi: admission ------------------------------------------------------------------------------
def test_vapi_admits_a_call_and_holds_its_p95(setup):
    reply = setup.served.vapi(assistant_request("call-1"))
    assert reply.status == 200
    assert reply.body == {"assistantId": ASSISTANT}           # Vapi's shape: take the call
    assert reply.headers["x-costmodel-decision"] == "admit"
    assert reply.headers["x-costmodel-hold-usd"] == "0.2"
    assert setup.ledger.reserved(scope="acme") == D("0.2")    # held in the tenant's budget


def test_vapi_refuses_the_call_the_budget_cannot_cover(setup):
    for call in ("call-1", "call-2"):                         # $0.40 held of $0.50
        assert setup.served.vapi(assistant_request(call)).body == {"assistantId": ASSISTANT}
    reply = setup.served.vapi(assistant_request("call-3"))    # $0.60 > $0.50
    assert reply.status == 200                                # Vapi reads answers from a 200
    assert reply.body == {"error": "Sorry, Acme cannot take your call right now."}
    assert reply.headers["x-costmodel-decision"] == "reject"
    assert "$0.1 left" in reply.headers["x-costmodel-reason"]    # 0.50 - 0.40
    assert setup.ledger.reserved(scope="acme") == D("0.4")    # nothing more held


def test_a_repeated_assistant_request_gets_the_same_answer_and_one_hold(setup):
    first = setup.served.vapi(assistant_request("call-1"))
    again = setup.served.vapi(assistant_request("call-1"))
    assert first.body == again.body == {"assistantId": ASSISTANT}
    assert setup.ledger.reserved(scope="acme") == D("0.2")


def test_a_number_in_no_budget_is_refused(setup):
    body = assistant_request("call-9")
    body["message"]["phoneNumber"] = {"id": "pn-other", "number": "+15550000000"}
    body["message"]["call"]["phoneNumberId"] = "pn-other"
    reply = setup.served.vapi(body)
    assert reply.headers["x-costmodel-decision"] == "reject"
    assert "no tenant" in reply.headers["x-costmodel-reason"]
    assert setup.ledger.reserved() == 0


# -- authentication -------------------------------------------------------------------------------
def test_a_wrong_or_missing_vapi_secret_is_401_and_touches_nothing(setup):
    for secret in ("wrong", ""):
        reply = setup.served.vapi(assistant_request("call-1"), secret=secret)
        assert reply.status == 401 and reply.body == {"error": "unauthorized"}
        reply = setup.served.vapi(report_for("call-1"), secret=secret)
        assert reply.status == 401
    bearer = setup.served.request("POST", "/vapi", json.dumps(assistant_request("c")).encode(),
                                  {"authorization": f"Bearer {VAPI_SECRET}"})
    assert bearer.status == 200                   # a Bearer Token credential is accepted too
    setup.ledger.release(setup.admission.settle("c").reservation)
    assert setup.ledger.reserved() == 0 and setup.ledger.records() == []


def test_a_bad_retell_signature_is_401_and_touches_nothing(setup):
    raw = json.dumps(payload("retell-call-ended.json")).encode()
    served = setup.served
    assert served.retell(raw, key="another-key").status == 401
    tampered = served.request("POST", "/retell", raw.replace(b"70", b"7"),
                              {"x-retell-signature": served_signature(raw)})
    assert tampered.status == 401                 # signed for other bytes
    stale = served.request("POST", "/retell", raw, {
        "x-retell-signature": served_signature(raw, now_ms=1_700_000_000_000)})
    assert stale.status == 401                    # more than 5 minutes old
    assert served.request("POST", "/retell", raw).status == 401      # no signature at all
    assert setup.ledger.records() == [] and setup.ledger.reserved() == 0


def served_signature(raw: bytes, now_ms: int | None = None) -> str:
    from costmodel.webhooks.retell import sign

    return sign(raw, RETELL_KEY, now_ms=now_ms)


# -- malformed bodies -----------------------------------------------------------------------------
def test_malformed_json_is_400_with_a_clear_message(setup):
    reply = setup.served.vapi(b'{"message": {"type": "assistant-request",')
    assert reply.status == 400
    assert reply.body == {"error": "vapi: the body is not JSON (Expecting property name "
                                   "enclosed in double quotes at line 1 column 42)"}
    reply = setup.served.retell(b"[1, 2]")
    assert reply.status == 400
    assert reply.body == {"error": "retell: the body is a JSON list, not an object"}


def test_a_payload_missing_what_the_answer_needs_is_400_naming_the_field(setup):
    body = assistant_request("call-1")
    del body["message"]["call"]
    reply = setup.served.vapi(body)
    assert (reply.status, reply.body) == (400, {"error": "message.call: missing"})
    body = payload("vapi-end-of-call-report.json")
    body["message"]["costs"][4]["cost"] = -0.125
    reply = setup.served.vapi(body)
    assert reply.status == 400
    assert reply.body["error"].startswith("message.costs[4].cost must be a finite amount")
    assert setup.ledger.records() == []


def test_an_oversized_body_is_413(setup):
    reply = setup.served.vapi(b" " * (16 * 2**20 + 1))
    assert reply.status == 413


# -- Vapi: end-of-call report ---------------------------------------------------------------------
def test_the_end_of_call_report_is_recorded_exactly_and_pays_the_hold(setup):
    setup.served.vapi(assistant_request("7f1c2f60-3b7e-4c1a-9d3e-2a6b0c9e4d11"))
    reply = setup.served.vapi(payload("vapi-end-of-call-report.json"))
    assert reply.status == 200
    assert reply.body["stored"] == 6 and reply.body["scope"] == "acme"
    assert reply.body["usd"] == "0.2345"
    records = setup.ledger.records(scope="acme")
    assert [(r.model, r.usd) for r in records] == [
        ("vapi/transport:twilio", D("0.0213")),
        ("vapi/transcriber:deepgram/nova-3", D("0.0269")),
        ("vapi/model:openai/gpt-4o-mini", D("0.0026")),
        ("vapi/voice:11labs/eleven_flash_v2_5", D("0.0549")),
        ("vapi/platform", D("0.125")),
        ("vapi/analysis:openai/gpt-4o", D("0.0038"))]
    assert setup.ledger.spent(scope="acme") == D("0.2345")    # the report's cost, exactly
    assert setup.ledger.reserved(scope="acme") == 0           # the $0.20 hold is paid
    fee = records[4].detail["platform_fee"]                   # 150 s at $0.05/min
    assert fee == {"catalog_id": "vapi/platform", "catalog_usd": "0.125",
                   "reported_usd": "0.125"}
    assert records[2].detail["promptTokens"] == "15840"
    assert records[0].detail["reported_total_usd"] == "0.2345"
    assert {r.at.isoformat() for r in records} == {"2026-11-30T09:02:30+00:00"}


def test_a_redelivered_report_is_not_counted_twice(setup):
    first = setup.served.vapi(payload("vapi-end-of-call-report.json"))
    again = setup.served.vapi(payload("vapi-end-of-call-report.json"))
    assert (first.body["stored"], again.body["stored"], again.body["already"]) == (6, 0, 6)
    assert setup.ledger.spent() == D("0.2345")
    assert len(setup.ledger.records()) == 6


def test_a_report_without_a_hold_finds_its_tenant_from_the_number(setup):
    reply = setup.served.vapi(payload("vapi-end-of-call-report.json"))   # never admitted here
    assert reply.body["scope"] == "acme"
    assert setup.ledger.spent(scope="acme") == D("0.2345")


def test_a_report_with_no_cost_is_recorded_at_the_hold_never_as_zero(setup):
    setup.served.vapi(assistant_request("call-1"))
    body = report_for("call-1")
    del body["message"]["cost"], body["message"]["costs"]
    reply = setup.served.vapi(body)
    assert reply.body["notes"] == ["the report carries no cost: recorded at the call's "
                                   "forecast"]
    [record] = setup.ledger.records()
    assert (record.kind, record.usd) == ("estimate", D("0.2"))
    assert setup.ledger.reserved() == 0


# -- Retell ---------------------------------------------------------------------------------------
def test_retell_admits_with_the_tenant_agent_and_carries_the_hold_to_call_ended(setup):
    reply = setup.served.retell(payload("retell-call-inbound.json"))
    assert reply.status == 200 and reply.headers["x-costmodel-decision"] == "admit"
    answer = reply.body["call_inbound"]
    assert answer["override_agent_id"] == "agent_acme"
    note = answer["metadata"]["costmodel"]
    assert (note["tenant"], note["usd"]) == ("acme", "0.2")
    assert setup.ledger.reserved(scope="acme") == D("0.2")

    ended = payload("retell-call-ended.json")
    ended["call"]["metadata"] = answer["metadata"]      # Retell keeps the call's metadata
    reply = setup.served.retell(ended)
    assert reply.status == 200 and reply.body["stored"] == 2
    records = setup.ledger.records(scope="acme")
    assert [(r.model, r.usd) for r in records] == [("retell/elevenlabs_tts", D("0.60")),
                                                   ("retell/unitemized", D("0.10"))]
    assert setup.ledger.spent(scope="acme") == D("0.70")    # combined_cost, 70 cents
    assert setup.ledger.reserved(scope="acme") == 0         # the hold is paid
    assert records[0].detail["platform_fee"] == {           # 60 s at $0.055/min
        "catalog_id": "retell/voice-infra", "catalog_usd": "0.055", "reported_usd": None}

    analyzed = copy.deepcopy(ended)
    analyzed["event"] = "call_analyzed"
    analyzed["call"]["call_analysis"] = {"call_summary": "A greeting.", "call_successful": True}
    reply = setup.served.retell(analyzed)
    assert (reply.body["stored"], reply.body["already"]) == (0, 2)
    assert setup.ledger.spent() == D("0.70")


def test_retell_declines_over_budget_and_says_when_the_number_would_connect_anyway(setup):
    inbound = payload("retell-call-inbound.json")
    for _ in range(2):
        assert setup.served.retell(inbound).headers["x-costmodel-decision"] == "admit"
    reply = setup.served.retell(inbound)
    assert reply.body == {"call_inbound": {}}               # no agent: declined
    assert "unset it" in reply.headers["x-costmodel-reason"]     # agent_12345 is on the number
    del inbound["call_inbound"]["agent_id"]
    reply = setup.served.retell(inbound)
    assert reply.body == {"call_inbound": {}}
    assert "unset it" not in reply.headers["x-costmodel-reason"]


def test_retell_events_without_cost_are_acknowledged(setup):
    started = payload("retell-call-ended.json")
    started["event"] = "call_started"
    assert setup.served.retell(started).body == {}
    ended = payload("retell-call-ended.json")
    del ended["call"]["call_cost"]
    assert setup.served.retell(ended).body["recorded"] is False
    assert setup.ledger.records() == []


# -- the ledger down ------------------------------------------------------------------------------
def test_ledger_down_fail_open_admits_without_a_hold_and_spools_the_report(tmp_path):
    s = build(tmp_path)
    try:
        s.ledger.close()                                    # every ledger call now fails
        reply = s.served.vapi(assistant_request("7f1c2f60-3b7e-4c1a-9d3e-2a6b0c9e4d11"))
        assert reply.body == {"assistantId": ASSISTANT}
        assert reply.headers["x-costmodel-ledger"] == "down"
        assert "x-costmodel-hold-usd" not in reply.headers
        reply = s.served.vapi(payload("vapi-end-of-call-report.json"))
        assert reply.status == 200 and reply.body["spooled"] == 6
    finally:
        s.served.stop()
    with SQLiteLedger(s.db) as back:                        # the ledger answers again
        assert Spool(back, s.spool).flush().committed == 6
        assert back.spent(scope="acme") == D("0.2345")      # nothing lost


def test_ledger_down_fail_closed_refuses(tmp_path):
    s = build(tmp_path, on_ledger_error="fail_closed")
    try:
        s.ledger.close()
        reply = s.served.vapi(assistant_request("call-1"))
        assert reply.body == {"error": "Sorry, Acme cannot take your call right now."}
        assert reply.headers["x-costmodel-ledger"] == "down"
    finally:
        s.served.stop()


def test_health_says_what_a_call_holds(setup):
    reply = setup.served.request("GET", "/healthz")
    assert reply.body["forecasts"] == {"xai/grok-voice-agent": {
        "p95_usd": "0.2", "mean_usd": "0.2", "scenario": "webhooks"}}
    assert reply.body["platforms"] == ["vapi", "retell"]
