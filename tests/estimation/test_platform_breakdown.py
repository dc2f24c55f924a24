"""A platform's fee per minute (scenario `platform:`) and the cost per minute by component
(issue 12 items 4 and 7)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from costmodel.estimation import Scenario, estimate, load_scenario
from costmodel.estimation.breakdown import COMPONENTS, component_of, per_minute

DAY = date(2026, 11, 25)
CHAINED = {"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini", "tts": "cartesia/sonic-3",
           "telephony": "twilio/us-inbound"}


def scenario(fee: str | None = None) -> Scenario:
    data = {"name": "t", "volume": {"calls_per_month": 1000}, "duration_min": {"fixed": 3},
            "stacks": ["xai/grok-voice-agent", CHAINED, "openai/gpt-realtime-1.5"],
            "simulation": {"calls": 100}}
    if fee is not None:
        data["platform"] = {"usd_per_minute": fee}
    return Scenario.model_validate(data)


def test_platform_fee_adds_per_minute_to_every_stack(builtin):
    plain = {r.stack: r for r in estimate(scenario(), builtin, on=DAY).results}
    fee = {r.stack: r for r in estimate(scenario("0.05"), builtin, on=DAY).results}
    for stack, r in fee.items():
        assert r.per_minute_usd == pytest.approx(plain[stack].per_minute_usd + 0.05)
        assert r.per_call_usd["p95"] == pytest.approx(plain[stack].per_call_usd["p95"] + 0.15)
        assert dict(r.line_items)["platform fee"] == pytest.approx(0.05 * 3 * 1000)


def test_platform_fee_round_trips_through_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario("0.05").model_dump(mode="json")))
    assert str(load_scenario(path).platform.usd_per_minute) == "0.05"
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        scenario("-1")


def test_breakdown_sums_to_cost_per_minute(builtin):
    for r in estimate(scenario("0.01"), builtin, on=DAY).results:
        split = per_minute(r, builtin, calls_per_month=1000)
        assert set(split) <= set(COMPONENTS) and "platform fee" in split
        assert sum(split.values()) == pytest.approx(r.per_minute_usd, rel=1e-12)


def test_components_of_line_items(builtin):
    assert component_of("deepgram/nova-3 audio_time", builtin) == "STT"
    assert component_of("openai/gpt-5.4-mini text.cached", builtin) == "LLM cached"
    assert component_of("anthropic/claude-haiku-4.5 text.cache_write_5m", builtin) \
        == "LLM input"
    assert component_of("openai/gpt-realtime-1.5 audio.output", builtin) == "realtime audio"
    assert component_of("xai/grok-voice-agent connection", builtin) == "realtime by the minute"
    assert component_of("twilio/us-inbound connection", builtin) == "telephony"
    assert component_of("selfhost/moshi connection", builtin) == "self-hosting"
