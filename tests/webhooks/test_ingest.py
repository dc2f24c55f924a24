"""End-of-call reports into ledger records, and holds that lapse: the library under the app.

Every amount is exact; the sums in the comments can be checked by hand.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.ledger import MemoryLedger, SQLiteLedger
from costmodel.webhooks import (
    Admission,
    Budgets,
    CallReport,
    CostLine,
    Forecast,
    Ingestor,
    platform_fee,
    records_for,
)
from costmodel.webhooks.payload import parse_json
from costmodel.webhooks.retell import read_call_event
from costmodel.webhooks.vapi import message_of, read_end_of_call_report

from .conftest import PAYLOADS

ENDED = datetime(2026, 11, 30, 9, 2, 30, tzinfo=UTC)
F = Forecast("xai/grok-voice-agent", D("0.30"), D("0.25"), 1000, "test")


def gate(ledger=None, budget="0.50", **kw) -> Admission:
    return Admission(ledger or MemoryLedger(), Budgets.uniform(D(budget)), {F.stack: F},
                     spool=tempfile.mkdtemp(), **kw)


def test_the_vapi_report_reads_every_line_and_the_call_length():
    _, message = message_of(parse_json((PAYLOADS / "vapi-end-of-call-report.json")
                                       .read_bytes(), "vapi"))
    report = read_end_of_call_report(message)
    assert report.call_id == "7f1c2f60-3b7e-4c1a-9d3e-2a6b0c9e4d11"
    assert report.duration_seconds == 150                     # 09:00:00 to 09:02:30
    assert report.total_usd == report.lines_usd == D("0.2345")
    assert report.numbers == ("+15551230001", "pn-acme-main")
    assert [line.key for line in report.lines] == [
        "transport", "transcriber", "model", "voice", "vapi", "analysis"]


def test_retell_cents_become_dollars_and_the_unitemized_rest_a_line():
    report = read_call_event(parse_json((PAYLOADS / "retell-call-ended.json").read_bytes(),
                                        "retell"))
    assert report is not None
    assert (report.lines_usd, report.total_usd, report.unitemized_usd) == (
        D("0.60"), D("0.70"), D("0.10"))                      # 60 + 10 = 70 cents
    records = records_for(report, "acme")
    assert [(r.model, r.usd, r.kind) for r in records] == [
        ("retell/elevenlabs_tts", D("0.60"), "call-report"),
        ("retell/unitemized", D("0.10"), "call-report")]
    assert report.duration_seconds == 60 and report.numbers == ("+12137771235",)


def test_an_outbound_retell_call_is_its_caller_number_tenant():
    body = parse_json((PAYLOADS / "retell-call-ended.json").read_bytes(), "retell")
    body["call"]["direction"] = "outbound"
    report = read_call_event(body)
    assert report is not None and report.numbers == ("+12137771234",)


def test_a_platform_fee_that_cannot_be_priced_is_unknown_never_zero():
    line = CostLine("vapi", "vapi/platform", D("0.05"))
    no_length = CallReport(platform="vapi", event="end-of-call-report", call_id="c",
                           lines=(line,), platform_fee_id="vapi/platform",
                           platform_line="vapi")
    fee = platform_fee(no_length)
    assert fee is not None
    assert (fee.catalog_usd, fee.reported_usd) == (None, D("0.05"))
    assert fee.unknown_because == "the report gives no call duration"
    unknown = CallReport(platform="vapi", event="end-of-call-report", call_id="c",
                         lines=(line,), duration_seconds=D(60), platform_fee_id="acme/fee",
                         platform_line="vapi")
    fee = platform_fee(unknown)
    assert fee is not None and fee.catalog_usd is None
    assert "unknown model 'acme/fee'" in (fee.unknown_because or "")


def test_lines_beyond_the_reported_total_are_kept_and_said():
    report = CallReport(platform="vapi", event="end-of-call-report", call_id="c",
                        lines=(CostLine("model", "vapi/model", D("0.30")),),
                        total_usd=D("0.25"))
    result = Ingestor(gate()).ingest(report)
    assert result.usd == D("0.30") and result.stored == 1
    assert result.notes[-1] == ("the lines add up to $0.3, more than the reported total "
                                "$0.25: the ledger holds the lines")


def test_a_hold_lapses_when_no_report_pays_it():
    now = [1_796_029_200.0]                                  # 2026-11-30 09:00 UTC
    with SQLiteLedger(tempfile.mkdtemp() + "/l.db") as ledger:
        g = gate(ledger, clock=lambda: now[0], hold_seconds=3600)
        acme = g.budgets.tenant_for("+15551230001")
        assert g.decide(acme, call_key="a").admit             # $0.30 held of $0.50
        now[0] += 10
        assert not g.decide(acme, call_key="b").admit         # 0.30 + 0.30 > 0.50
        now[0] += 3600                                        # a's hold has lapsed
        assert g.decide(acme, call_key="c").admit
        assert g.live_holds == 1                              # a's entry is cleared too


@settings(max_examples=60, deadline=None)
@given(cents=st.lists(st.decimals(min_value=0, max_value=500, places=4), max_size=8),
       extra=st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=4)),
       deliveries=st.integers(min_value=1, max_value=3))
def test_a_report_is_recorded_exactly_once_however_often_it_arrives(cents, extra, deliveries):
    lines = tuple(CostLine(f"p{i}", f"retell/p{i}", c.scaleb(-2)) for i, c in enumerate(cents))
    lines_usd = sum((line.usd for line in lines), D(0))
    total = None if extra is None else lines_usd + extra.scaleb(-2)
    report = CallReport(platform="retell", event="call_ended", call_id="call-x", lines=lines,
                        total_usd=total, numbers=("+15551230001",), ended_at=ENDED)
    ledger = MemoryLedger()
    ingest = Ingestor(gate(ledger, budget="1000"))
    results = [ingest.ingest(report) for _ in range(deliveries)]
    expected = total if total is not None else lines_usd
    if not lines and total is None:                           # no cost: at the forecast
        expected = F.p95_usd
    assert ledger.spent() == expected
    assert sum(r.stored for r in results) == results[0].records
    assert all(r.stored == 0 and r.already == r.records for r in results[1:])
