"""Anthropic Messages usage -> disjoint buckets (nothing subtracted) -> exact cost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costmodel import Catalog, UsageError, price
from costmodel.adapters.anthropic import usage_from_anthropic

DAY = date(2026, 11, 25)


# Shape: the Messages API `usage` object (Anthropic prompt-caching docs, "Tracking cache
# performance"; field list in /work/shared/prices/chained-pipelines.md §1). Numbers illustrative.
RECORDED = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 1200,
    "cache_read_input_tokens": 4096,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 200},
    "output_tokens": 180,
    "service_tier": "standard",
}


def test_recorded_buckets_and_cost(pipeline: Catalog) -> None:
    u = usage_from_anthropic(RECORDED, "anthropic/claude-haiku-4.5")
    assert dict(u.tokens) == {"text.input": 50, "text.cached": 4096, "text.cache_write_5m": 1000,
                              "text.cache_write_1h": 200, "text.output": 180}
    # Total input = read + creation + input; nothing is subtracted.
    assert u.input_tokens == 50 + 1200 + 4096
    # 50 x 1 + 4096 x 0.10 + 1000 x 1.25 + 200 x 2 + 180 x 5
    # = 50 + 409.6 + 1250 + 400 + 900 = 3009.6 / 1M
    assert price(u, pipeline, on=DAY).total_usd == Decimal("0.0030096")


def test_without_split_all_writes_are_5m() -> None:
    u = usage_from_anthropic({"input_tokens": 3, "cache_creation_input_tokens": 2048,
                              "cache_read_input_tokens": 0, "output_tokens": 12},
                             "anthropic/claude-haiku-4.5")
    assert dict(u.tokens) == {"text.input": 3, "text.cache_write_5m": 2048, "text.output": 12}


def test_null_cache_fields() -> None:
    # Older responses / some SDK dumps have nulls for the cache fields.
    u = usage_from_anthropic({"input_tokens": 10, "output_tokens": 2,
                              "cache_creation_input_tokens": None,
                              "cache_read_input_tokens": None, "cache_creation": None},
                             "anthropic/claude-haiku-4.5")
    assert dict(u.tokens) == {"text.input": 10, "text.output": 2}


def test_split_without_total() -> None:
    u = usage_from_anthropic({"input_tokens": 1, "output_tokens": 1,
                              "cache_creation": {"ephemeral_1h_input_tokens": 500}},
                             "anthropic/claude-haiku-4.5")
    assert dict(u.tokens) == {"text.input": 1, "text.cache_write_1h": 500, "text.output": 1}


def test_split_disagreeing_with_total_raises() -> None:
    bad = dict(RECORDED, cache_creation={"ephemeral_5m_input_tokens": 1000,
                                         "ephemeral_1h_input_tokens": 100})
    with pytest.raises(UsageError, match="cache_creation_input_tokens"):
        usage_from_anthropic(bad, "anthropic/claude-haiku-4.5")


@pytest.mark.parametrize("payload, field", [
    ({"output_tokens": 1}, "usage.input_tokens"),
    ({"input_tokens": 1}, "usage.output_tokens"),
    ({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": -5},
     "cache_read_input_tokens"),
    ({"input_tokens": 1, "output_tokens": "1"}, "usage.output_tokens"),
    ({"input_tokens": 1, "output_tokens": 1, "cache_creation": 7}, "usage.cache_creation"),
    ({"input_tokens": 1, "output_tokens": 1,
      "cache_creation": {"ephemeral_5m_input_tokens": 1.5}}, "ephemeral_5m_input_tokens"),
])
def test_malformed(payload: dict, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        usage_from_anthropic(payload, "anthropic/claude-haiku-4.5")
