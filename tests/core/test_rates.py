"""The catalog's data model at its bounds: what a catalog file may say, to the unit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from costmodel.core.rates import (
    MAX_FACT,
    CacheRules,
    ModelFacts,
    PricePeriod,
    SelfHost,
    TimeRate,
)

BILLION = 10**9


def test_a_billion_is_the_largest_count_a_fact_may_hold():
    assert MAX_FACT == BILLION


@pytest.mark.parametrize("model, data", [
    (ModelFacts, {"context_window_tokens": 1}),
    (ModelFacts, {"truncation_threshold_tokens": BILLION}),
    (ModelFacts, {"max_session_seconds": BILLION}),
    (ModelFacts, {"audio_tokens_per_second_in": 0, "audio_tokens_per_second_out": 0}),
    (ModelFacts, {"audio_tokens_per_second_in": 10_000, "audio_tokens_per_second_out": 10_000}),
    (CacheRules, {"min_prefix_tokens": 0, "ttl_seconds": 0, "write_multiplier": 0}),
    (CacheRules, {"min_prefix_tokens": BILLION, "ttl_seconds": BILLION,
                  "write_multiplier": 100, "increment_tokens": 1}),
    (TimeRate, {"usd_per_second": 1, "minimum_seconds": 0}),
    (TimeRate, {"usd_per_second": 1_000_000}),                  # a million dollars: the cap
    (TimeRate, {"usd_per_second": 1, "increment_seconds": 86_400, "minimum_seconds": 86_400}),
    (SelfHost, {"runs_on": "x/gpu", "gpus": 10_000, "concurrent_sessions": 1,
                "utilization": "0.01", "source": "https://example.com", "checked": "2026-01-01"}),
    (SelfHost, {"runs_on": "x/gpu", "gpus": 1, "concurrent_sessions": 1,
                "utilization": 1, "source": "https://example.com", "checked": "2026-01-01"}),
])
def test_values_at_the_bounds_are_accepted(model, data):
    model.model_validate(data)


@pytest.mark.parametrize("model, data", [
    (ModelFacts, {"context_window_tokens": 0}),
    (ModelFacts, {"context_window_tokens": True}),          # YAML's `true` is not 1
    (ModelFacts, {"truncation_threshold_tokens": BILLION + 1}),
    (ModelFacts, {"audio_tokens_per_second_in": -1}),
    (ModelFacts, {"audio_tokens_per_second_out": -1}),
    (ModelFacts, {"audio_tokens_per_second_in": 10_001}),
    (ModelFacts, {"audio_tokens_per_second_out": 10_001}),
    (CacheRules, {"min_prefix_tokens": -1}),
    (CacheRules, {"min_prefix_tokens": True}),
    (CacheRules, {"min_prefix_tokens": BILLION + 1}),
    (CacheRules, {"ttl_seconds": -1}),
    (CacheRules, {"ttl_seconds": True}),
    (CacheRules, {"ttl_seconds": BILLION + 1}),
    (CacheRules, {"write_multiplier": -1}),
    (CacheRules, {"write_multiplier": 101}),
    (CacheRules, {"increment_tokens": 0}),
    (TimeRate, {"usd_per_second": 1, "minimum_seconds": -1}),
    (TimeRate, {"usd_per_second": "1000000.01"}),              # past a million dollars
    (TimeRate, {"usd_per_minute": "1000000.01"}),
    (TimeRate, {"usd_per_second": 1, "increment_seconds": "86400.5"}),   # past a day
    (TimeRate, {"usd_per_second": 1, "minimum_seconds": "86400.5"}),
    (SelfHost, {"runs_on": "x/gpu", "gpus": 1, "concurrent_sessions": 1,
                "utilization": "1.01", "source": "https://example.com", "checked": "2026-01-01"}),
    (SelfHost, {"runs_on": "x/gpu", "gpus": 10_001, "concurrent_sessions": 1,
                "utilization": "0.5", "source": "https://example.com", "checked": "2026-01-01"}),
    (SelfHost, {"runs_on": "x/gpu", "gpus": 0, "concurrent_sessions": 1,
                "utilization": "0.5", "source": "https://example.com", "checked": "2026-01-01"}),
])
def test_values_past_the_bounds_are_refused(model, data):
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_catalog_models_are_frozen():
    # a rate read from the catalog cannot be edited in place by whoever holds it
    rate = TimeRate(usd_per_minute=1)
    with pytest.raises(ValidationError):
        rate.usd_per_minute = D(0)
    assert rate.usd_per_minute == 1


def test_defaults_say_nothing_is_known_and_caches_are_automatic():
    assert CacheRules().automatic is True
    facts = ModelFacts()
    assert facts.audio_tokens_per_second_in is None and facts.cache is None
    rate = TimeRate(usd_per_minute=1)
    assert (rate.increment_seconds, rate.minimum_seconds) == (1, 0)


@pytest.mark.parametrize("given, unit", [({"usd_per_second": "0.01"}, 1),
                                         ({"usd_per_minute": "0.01"}, 60),
                                         ({"usd_per_hour": "0.01"}, 3600)])
def test_a_time_rate_is_its_figure_per_its_unit(given, unit):
    rate = TimeRate.model_validate(given)
    assert rate.rate_and_unit_seconds() == (D("0.01"), unit)
    assert rate.per_minute == D("0.01") * 60 / unit


PERIOD = {"source": "https://example.com/p", "tokens": {"text": {"input": 1}}}


def test_a_price_checked_before_it_takes_effect_must_say_it_is_announced():
    future = {**PERIOD, "effective": date(2027, 1, 1), "checked": date(2026, 11, 1)}
    with pytest.raises(ValidationError, match="say 'announced' in notes"):
        PricePeriod.model_validate(future)
    PricePeriod.model_validate({**future, "notes": "Announced on the blog"})
    PricePeriod.model_validate({**future, "confidence": "assumption"})
    # checked the day it takes effect is not a future price
    PricePeriod.model_validate({**PERIOD, "effective": date(2027, 1, 1),
                                "checked": date(2027, 1, 1)})
