"""One self-hosting price (issue 12 item 5, issue 13 item 3): a self-hosted stack costs the
GPU fleet its traffic needs, in `estimate` and `break_even` alike. Numbers by hand."""

from __future__ import annotations

from datetime import date

import pytest

from costmodel.estimation import Scenario, break_even, estimate

DAY = date(2026, 11, 25)
MOSHI, XAI = "selfhost/moshi", "xai/grok-voice-agent"


def flat(calls: float = 72_000, **over) -> Scenario:
    # Flat traffic, 6-minute calls: 72,000 / 30 days / 24 h = 100 calls an hour, 100 x 6 / 60
    # = 10 in progress, P99 of Poisson(10) = 18.
    data = {"name": "flat", "volume": {"calls_per_month": calls, "hourly_profile": "flat"},
            "duration_min": {"fixed": 6},
            "stacks": [MOSHI, XAI, {"realtime": MOSHI, "telephony": "twilio/us-inbound"}],
            "simulation": {"calls": 1000}}
    data.update(over)
    return Scenario.model_validate(data)


def test_always_on_fleet_for_the_p99_by_hand(builtin):
    # Moshi: 8 sessions per 1-H100 deployment at $2.79/h. ceil(18 / 8) = 3 deployments,
    # always on: 3 x $2.79 x 730 h = $6,110.10 a month; per call $6,110.10 / 72,000.
    moshi, _, phone = estimate(flat(), builtin, on=DAY).results
    assert moshi.monthly_usd == pytest.approx(3 * 2.79 * 730)            # $6,110.10
    assert moshi.per_call_usd["mean"] == pytest.approx(6110.10 / 72_000)  # $0.0848625
    assert moshi.per_call_usd["p99"] == pytest.approx(6110.10 / 72_000)   # the same for all
    assert moshi.per_minute_usd == pytest.approx(6110.10 / 72_000 / 6)
    assert moshi.line_items == [("selfhost/moshi GPUs always on", pytest.approx(6110.10))]
    assert moshi.selfhost_basis == ("always on: 3 GPUs (3 x 1 selfhost/h100, 8 sessions "
                                    "each) for P99 18 concurrent, $6,110/month (730 h)")
    assert f"selfhost/moshi: {moshi.selfhost_basis}" in moshi.notes
    # + Twilio inbound, $0.0085/min: 72,000 x 6 min x $0.0085 = $3,672
    assert phone.monthly_usd == pytest.approx(6110.10 + 3672)
    assert dict(phone.line_items)["selfhost/moshi GPUs always on"] == pytest.approx(6110.10)


def test_a_smaller_volume_is_sized_again(builtin):
    # 7,200 calls: 1 in progress, P99 of Poisson(1) = 4 <= 8: one deployment, $2,036.70.
    moshi = estimate(flat(), builtin, on=DAY, calls_per_month=7_200, stacks=[MOSHI]).results[0]
    assert moshi.monthly_usd == pytest.approx(2.79 * 730)
    assert "for P99 4 concurrent" in (moshi.selfhost_basis or "")


def test_autoscaled_at_the_utilisation_the_scenario_sets(builtin):
    # selfhost: {utilisation: 0.5}: each hour ceil(10 / (8 x 0.5)) = 3 deployments,
    # 3 x 24 h x 30 days = 2,160 GPU-hours x $2.79 = $6,026.40.
    moshi = estimate(flat(selfhost={"utilisation": 0.5}), builtin, on=DAY,
                     stacks=[MOSHI]).results[0]
    assert moshi.monthly_usd == pytest.approx(2160 * 2.79)
    assert moshi.line_items == [("selfhost/moshi GPUs autoscaled", pytest.approx(6026.40))]
    assert (moshi.selfhost_basis or "").startswith("autoscaled at 50% utilisation: 2,160 "
                                                   "GPU-hours, $6,026/month")


def test_break_even_shows_the_estimate_s_price(builtin):
    sc = flat()
    moshi, xai, _ = estimate(sc, builtin, on=DAY).results
    be = break_even(sc, MOSHI, xai, builtin, on=DAY)
    assert be.selfhost_fleet_usd == pytest.approx(moshi.monthly_usd) == pytest.approx(6110.10)
    # xAI at $0.05/min x 6 min = $0.30 a call: one deployment ($2,036.70) is first no dearer
    # at 2,036.70 / 0.30 = 6,789 calls (P99 there: Poisson(0.94) -> 4 <= 8 sessions).
    assert be.first_calls_per_month == pytest.approx(2036.70 / 0.30)
    assert be.calls_per_month == pytest.approx(2036.70 / 0.30)
