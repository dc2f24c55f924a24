"""Anthropic Messages usage -> disjoint buckets (nothing subtracted) -> exact cost."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costmodel import Catalog, UsageError, price
from costmodel.adapters.anthropic import usage_from_anthropic

DAY = date(2026, 11, 25)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    # Test catalog with Claude Haiku 4.5 list rates (USD / 1M): input 1, 5m write 1.25,
    # 1h write 2, read 0.10, output 5 (Anthropic pricing page); the real file is not relied on.
    (tmp_path / "a.yaml").write_text(textwrap.dedent("""
        provider: anthropic
        models:
          - id: anthropic/claude-haiku-4.5
            kind: llm
            name: Claude Haiku 4.5 (test copy)
            prices:
              - effective: 2025-10-15
                checked: 2026-11-25
                source: https://platform.claude.com/docs/en/about-claude/pricing
                confidence: assumption
                tokens:
                  text: {input: 1.00, cached: 0.10, cache_write_5m: 1.25,
                         cache_write_1h: 2.00, output: 5.00}
        """).lstrip(), encoding="utf-8")
    return Catalog.load([tmp_path], include_builtin=False)


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


def test_recorded_buckets_and_cost(catalog: Catalog) -> None:
    u = usage_from_anthropic(RECORDED, "anthropic/claude-haiku-4.5")
    assert dict(u.tokens) == {"text.input": 50, "text.cached": 4096, "text.cache_write_5m": 1000,
                              "text.cache_write_1h": 200, "text.output": 180}
    # Total input = read + creation + input; nothing is subtracted.
    assert u.input_tokens == 50 + 1200 + 4096
    # 50 x 1 + 4096 x 0.10 + 1000 x 1.25 + 200 x 2 + 180 x 5
    # = 50 + 409.6 + 1250 + 400 + 900 = 3009.6 / 1M
    assert price(u, catalog, on=DAY).total_usd == Decimal("0.0030096")


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
