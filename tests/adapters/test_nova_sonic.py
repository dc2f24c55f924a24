"""Nova Sonic usageEvent: deltas priced, never delta and total both."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from costmodel import UsageError
from costmodel.adapters.nova_sonic import NovaSonicReader
from costmodel.adapters.recorded import price_events

EXAMPLE = Path(__file__).parents[2] / "examples" / "sessions" / "nova-sonic-turn.jsonl"


def _event(delta=None, total=None):
    details = {}
    if delta is not None:
        details["delta"] = delta
    if total is not None:
        details["total"] = total
    return {"event": {"usageEvent": {"completionId": "c", "details": details}}}


def io(si=0, ti=0, so=0, to=0):
    return {"input": {"speechTokens": si, "textTokens": ti},
            "output": {"speechTokens": so, "textTokens": to}}


def test_pipecat_recorded_values_use_the_delta_only():
    # pipecat tests/test_nova_sonic_usage_metrics.py
    r = NovaSonicReader(model="amazon/nova-2-sonic")
    (u,) = r.feed(_event(io(ti=3, so=20), io(si=288, ti=3443, so=694, to=203)))
    assert u.tokens == {"text.input": 3, "audio.output": 20}


def test_total_only_events_become_deltas():
    r = NovaSonicReader(model="m/x")
    (a,) = r.feed(_event(total=io(si=100, ti=10)))
    (b,) = r.feed(_event(total=io(si=150, ti=10, so=40)))
    assert a.tokens == {"audio.input": 100, "text.input": 10}
    assert b.tokens == {"audio.input": 50, "audio.output": 40}
    with pytest.raises(UsageError, match="cumulative"):
        r.feed(_event(total=io(si=10)))


def test_model_must_be_given():
    with pytest.raises(UsageError, match="--model amazon/nova-2-sonic"):
        NovaSonicReader().feed(_event(io(si=1)))


def test_trace_deltas_sum_to_the_session_total(builtin):
    report = price_events(EXAMPLE.read_text().splitlines(), model="amazon/nova-2-sonic",
                          catalog=builtin)
    assert report.format == "nova-sonic" and len(report.priced) == 4
    items = {li.item: li.quantity for li in report.line_items}
    # The last cumulative total in the file: in speech 288 / text 3446, out speech 694 / text 203
    assert items == {"text.input": 3446, "audio.input": 288, "audio.output": 694,
                     "text.output": 203}
    # speech $3 / $12 per 1M, text $0.33 / $2.75 per 1M (seed; Bedrock):
    # 288x3 + 694x12 + 3446x0.33 + 203x2.75 = 864 + 8328 + 1137.18 + 558.25 = 10887.43 / 1M
    assert report.total_usd == D("0.01088743")


def test_delta_then_total_only_events_do_not_double_count():
    r = NovaSonicReader(model="m/x")
    (a,) = r.feed(_event(io(si=100)))
    (b,) = r.feed(_event(total=io(si=130, so=10)))
    assert a.tokens == {"audio.input": 100}
    assert b.tokens == {"audio.input": 30, "audio.output": 10}


def test_an_event_that_reports_no_counts_is_refused_not_priced_at_zero():
    r = NovaSonicReader(model="m/x")
    with pytest.raises(UsageError, match="reports no speechTokens or textTokens"):
        r.feed(_event({"input": {}, "output": {}}))
    (u,) = r.feed(_event(io()))           # explicit zeros are a real zero
    assert u.tokens == {}


def test_usage_events_are_counted_and_labelled_from_one():
    r = NovaSonicReader(model="m/x")
    assert r.responses == 0
    (a,) = r.feed(_event(io(si=10)))
    (b,) = r.feed(_event(io(so=20)))
    assert (a.label, b.label, r.responses) == ("usage event 1", "usage event 2", 2)


def test_a_total_that_leaves_out_a_bucket_counted_before_is_refused():
    # one speech token came as a delta; a total with no speech tokens is below it
    r = NovaSonicReader(model="m/x")
    r.feed(_event(io(si=1)))
    with pytest.raises(UsageError, match="cumulative"):
        r.feed(_event(total=io(ti=5)))
