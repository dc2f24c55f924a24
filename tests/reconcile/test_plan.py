"""The plan's side: the mean cost a call of each model's part of the first stack using it,
and the spread of that part's cost, for the 95% range of a day's calls."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest

from costmodel.estimation import load_scenario
from costmodel.estimation.monthly import sample_seconds
from costmodel.reconcile import Plan

SCENARIO = load_scenario(Path(__file__).parents[2] / "examples" / "outbound-sales.yaml")
DAY = date(2026, 11, 25)


def test_a_telephony_legs_spread_is_that_of_its_billed_minutes():
    plan = Plan(SCENARIO)
    phone = plan.cost("twilio/us-outbound", DAY)
    # the same call lengths (the scenario's seed), each leg billed per started minute at $0.014
    seconds = sample_seconds(SCENARIO, 20_000, np.random.default_rng(SCENARIO.simulation.seed))
    legs = np.ceil(seconds / 60) * 0.014
    assert phone.cv == pytest.approx(legs.std() / legs.mean(), rel=1e-9)
    assert float(phone.per_call_usd) == pytest.approx(legs.mean(), rel=0.01)   # ~$0.042
    assert phone.stack == "openai/gpt-realtime-mini+twilio/us-outbound"       # the first using it


def test_a_re_billing_model_spreads_far_more_than_its_phone_leg():
    plan = Plan(SCENARIO)
    realtime, phone = (plan.cost(m, DAY) for m in ("openai/gpt-realtime-mini",
                                                    "twilio/us-outbound"))
    assert realtime.cv > 3 * phone.cv
    low, high = phone.band(50)      # 50 x mean +- 1.96 x sqrt(50) x cv x mean
    mean = 50 * phone.per_call_usd
    assert float((high - mean) / mean) == pytest.approx(1.959964 * phone.cv / 50 ** 0.5, rel=1e-6)
    assert low > 0 and realtime.band(50)[0] == D(0)


def test_models_no_stack_uses_have_no_plan():
    plan = Plan(SCENARIO)
    assert plan.cost("cartesia/sonic-3", DAY) is not None      # a chained stack's TTS
    assert plan.cost("elevenlabs/flash-v2.5", DAY) is None and plan.stack_for("x/y") is None
