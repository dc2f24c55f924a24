"""Catalog kind `platform` (issue 13 item 4): a per-minute fee priced by `price` as connection
time, and `fees:` (plan, per phone number, included minutes) validated and sourced like every
rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from costmodel import Usage, price
from costmodel.core.catalog import Catalog
from costmodel.core.rates import KINDS, ModelEntry

DAY = date(2026, 11, 30)


def entry(kind: str = "platform", **period) -> dict:
    return {"id": "acme/platform", "kind": kind, "name": "Acme", "prices": [
        {"effective": "2026-01-01", "checked": "2026-11-30",
         "source": "https://example.com/pricing", **period}]}


def test_platform_is_a_kind():
    assert "platform" in KINDS
    e = ModelEntry.model_validate(entry(connection={"usd_per_minute": "0.05"},
                                        fees={"usd_per_month": 299, "usd_per_number": "1.15",
                                              "included_minutes": 1000}))
    fees = e.prices[0].fees
    assert fees is not None
    assert (fees.usd_per_month, fees.usd_per_number, fees.included_minutes) == (
        Decimal(299), Decimal("1.15"), 1000)
    assert e.prices[0].headline() == ("connection $0.05/min; $299/month; $1.15 per number "
                                      "per month; 1,000 minutes included")


@pytest.mark.parametrize("fees, why", [
    ({}, "at least one"),
    ({"usd_per_month": -1}, "greater than or equal"),
    ({"included_minutes": 1.5}, "integer"),
    ({"included_minutes": True}, "integer"),
    ({"usd_per_number": 1, "per_seat": 3}, "Extra inputs"),
])
def test_bad_fees_are_refused(fees, why):
    with pytest.raises(ValidationError, match=why):
        ModelEntry.model_validate(entry(fees=fees))


def test_fees_belong_to_platform_entries_only():
    with pytest.raises(ValidationError, match="belong to platform entries"):
        ModelEntry.model_validate(entry("telephony", connection={"usd_per_minute": "0.0085"},
                                        fees={"usd_per_number": "1.15"}))


def test_the_per_minute_fee_is_priced_by_price_as_connection_time(builtin: Catalog):
    # vapi/platform: $0.05/min, per second. 3 minutes = 180 s x $0.05 / 60 = $0.15 exactly.
    cost = price(Usage("vapi/platform", connection_seconds=Decimal(180)), builtin, on=DAY)
    assert cost.total_usd == Decimal("0.15")
    [item] = cost.line_items
    assert (item.model, item.item, item.quantity) == ("vapi/platform", "connection", 180)
    # Bland Build: $0.12/min prorated to the second: 61 s -> 61 x 0.12 / 60 = $0.122.
    assert price(Usage("bland/build", connection_seconds=Decimal(61)), builtin,
                 on=DAY).total_usd == Decimal("0.122")


def test_every_builtin_platform_entry_is_sourced_and_has_a_fee(builtin: Catalog):
    platforms = builtin.select(kind="platform")
    assert {"vapi/platform", "retell/voice-infra", "bland/start", "bland/build",
            "twilio/us-local-number", "plivo/us-local-number"} <= {e.id for e in platforms}
    for e in platforms:
        p = e.period_on(DAY)
        assert p is not None and p.source.startswith("https://") and p.checked <= DAY
        assert p.connection is not None or p.fees is not None, e.id
    # Bland's plan fees, from docs.bland.ai/platform/billing (effective 2025-12-05)
    build = builtin.get("bland/build").period_on(DAY)
    assert build is not None and build.fees is not None
    assert build.fees.usd_per_month == 299 and build.effective == date(2025, 12, 5)
