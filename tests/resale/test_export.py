"""Usage exported as Stripe meter events, OpenMeter CloudEvents and Lago events, from the real
SQLite ledger and spend log of tests/resale/pilot.py (October 2026)."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodel.errors import UsageError
from costmodel.ledger import SQLiteLedger
from costmodel.resale import export_usage, load_cards, read_usage, usage_key

from .pilot import write_pilot

TODAY = date(2026, 11, 3)   # Oct 1 and 2 are within Stripe's 35 days


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    return write_pilot(tmp_path_factory.mktemp("pilot"))


def export(pilot, target, *, today=TODAY, logs=True):
    ledger, log, cards = pilot
    with SQLiteLedger(ledger) as store:
        usage = read_usage(store, spend_logs=[log] if logs else [])
    return export_usage(usage, load_cards(cards), target, today=today)


def lines(result) -> list[dict]:
    out = io.StringIO()
    result.write(out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_stripe_meter_events_carry_customer_value_identifier_and_timestamp(pilot):
    result = export(pilot, "stripe")
    events = {(e["payload"]["stripe_customer_id"], e["timestamp"]): e for e in lines(result)}
    acme = events[("cus_acme", 1790812800)]   # 2026-10-01T00:00:00Z
    # acme is billed per minute: 120 minutes on Oct 1 (Stripe applies its own free tier)
    assert acme == {"event_name": "voice_minutes",
                    "payload": {"stripe_customer_id": "cus_acme", "value": "120"},
                    "identifier": usage_key("acme", date(2026, 10, 1), "minutes",
                                            "plan:starter"),
                    "timestamp": 1790812800}
    globex = events[("cus_globex", 1790899200)]   # cost x markup: Oct 2's $5.00 of cost
    assert (globex["event_name"], globex["payload"]["value"]) == ("voice_cost_usd", "5")
    initech = events[("cus_initech", 1790812800)]
    assert (initech["event_name"], initech["payload"]["value"]) == ("voice_calls", "4")
    assert len(events) == 5   # acme x 2 days, globex x 2, initech x 1
    # umbrella has no card: reported, not exported
    assert [(s.tenant, s.reason) for s in result.skipped] == [("umbrella", "no rate card")]


def test_openmeter_events_are_cloudevents(pilot):
    events = lines(export(pilot, "openmeter"))
    acme = next(e for e in events if e["subject"] == "customer-acme" and
                e["time"] == "2026-10-02T00:00:00Z")
    assert acme == {"specversion": "1.0",
                    "id": usage_key("acme", date(2026, 10, 2), "minutes", "plan:starter"),
                    "source": "acme-voice", "type": "voice_minutes",
                    "subject": "customer-acme", "time": "2026-10-02T00:00:00Z",
                    "data": {"minutes": "10"}}
    # without openmeter_subject, the subject is the tenant (ledger scope)
    assert {e["subject"] for e in events} == {"customer-acme", "globex", "initech"}


def test_lago_events_name_the_subscription_and_the_metric_code(pilot):
    events = lines(export(pilot, "lago"))
    globex = next(e for e in events if e["external_subscription_id"] == "sub_globex"
                  and e["timestamp"] == 1790812800)
    assert globex == {"transaction_id": usage_key("globex", date(2026, 10, 1), "cost_usd",
                                                  "tenant:globex"),
                      "external_subscription_id": "sub_globex",
                      "external_customer_id": "globex", "code": "voice_cost_usd",
                      "timestamp": 1790812800, "properties": {"cost_usd": "10"}}


@pytest.mark.parametrize("target", ["stripe", "openmeter", "lago"])
def test_a_reexport_writes_the_same_ids_and_the_same_bytes(pilot, target):
    first, again = io.StringIO(), io.StringIO()
    export(pilot, target).write(first)
    export(pilot, target).write(again)
    assert first.getvalue() == again.getvalue() and first.getvalue()
    keys = [e.key for e in export(pilot, target).events]
    assert len(set(keys)) == len(keys) == 5


def test_days_not_over_are_not_exported_and_stripe_days_past_35_are_reported(pilot):
    running = export(pilot, "lago", today=date(2026, 10, 2))   # Oct 2 is not over
    assert {e.day for e in running.events} == {date(2026, 10, 1)}
    assert {s.day for s in running.skipped} == {date(2026, 10, 1)}   # (umbrella: no card)
    late = export(pilot, "stripe", today=date(2026, 11, 5))   # Oct 1 is 35 days back
    assert {e.day for e in late.events} == {date(2026, 10, 2)}
    assert ("acme", date(2026, 10, 1), "older than Stripe's 35 days for meter events") in [
        (s.tenant, s.day, s.reason) for s in late.skipped]


def test_a_tenant_without_the_systems_id_or_minutes_is_reported(pilot):
    result = export(pilot, "stripe", logs=False)
    reasons = {(s.tenant, s.reason) for s in result.skipped}
    assert ("acme", "a per-minute card: no call minutes: the ledger records dollars, not "
            "seconds (give the spend logs, --spend-log)") in reasons
    ledger, log, cards = pilot
    text = cards.read_text().replace("    stripe_customer_id: cus_globex\n", "")
    (cards.parent / "no-id.yaml").write_text(text)
    with SQLiteLedger(ledger) as store:
        usage = read_usage(store, spend_logs=[log])
    result = export_usage(usage, load_cards(cards.parent / "no-id.yaml"), "stripe",
                          today=TODAY)
    assert ("globex", "no stripe_customer_id in the cards file") in {
        (s.tenant, s.reason) for s in result.skipped}


def test_an_unknown_target_is_refused(pilot):
    with pytest.raises(UsageError, match="stripe, openmeter, lago"):
        export(pilot, "chargebee")


def test_values_are_rounded_to_six_places_as_text():
    from costmodel.resale import MeteredUsage, TenantDay, parse_cards

    cards = parse_cards("tenants: {a: {card: {per_minute_usd: 0.1}, openmeter_subject: a}}")
    day = TenantDay("a", date(2026, 10, 1), D(0), 0, 1, "spend log", D(7), (D(7),))
    event = export_usage(MeteredUsage([day]), cards, "openmeter", today=TODAY).events[0]
    assert event.body["data"] == {"minutes": "0.116667"}   # 7 s = 0.11666... minutes
    assert event.value == D(7) / 60


parts = st.text(min_size=1, max_size=8)


@given(a=st.tuples(parts, st.dates(), st.sampled_from(["minutes", "calls"]), parts),
       b=st.tuples(parts, st.dates(), st.sampled_from(["minutes", "calls"]), parts))
def test_a_key_is_the_same_for_the_same_usage_and_another_for_any_other(a, b):
    assert usage_key(*a) == usage_key(*a)
    assert (usage_key(*a) == usage_key(*b)) == (a == b)
    assert len(usage_key(*a)) == 35 <= 100   # Stripe's identifier: at most 100 characters


def test_minutes_are_counted_as_the_card_counts_them():
    from costmodel.resale import MeteredUsage, TenantDay, parse_cards

    cards = parse_cards("tenants: {a: {card: {per_minute_usd: 0.1, increment_seconds: 60}}}")
    day = TenantDay("a", date(2026, 10, 1), D(0), 0, 2, "spend log", D(90), (D(20), D(70)))
    event = export_usage(MeteredUsage([day]), cards, "openmeter", today=TODAY).events[0]
    assert event.body["data"] == {"minutes": "3"}   # per started minute: 1 + 2
