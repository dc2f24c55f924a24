"""Platform catalog entries in estimates (issue 13 item 4): the per-minute fee priced per
call, monthly and per-number fees as their own monthly line items (never per call), included
minutes as a monthly credit, the scenario-wide `platform: {id: ...}` and a stack's own."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from costmodel.core.catalog import Catalog
from costmodel.errors import ScenarioError
from costmodel.estimation import Scenario, estimate, load_scenario
from costmodel.estimation.breakdown import per_minute
from costmodel.estimation.capacity import capacity

DAY = date(2026, 11, 30)
GROK = "xai/grok-voice-agent"   # $0.05/min connection time


def scenario(stacks: list, platform: dict | None = None, calls: float = 60_000) -> Scenario:
    data: dict = {"name": "t", "volume": {"calls_per_month": calls},
                  "duration_min": {"fixed": 3}, "stacks": stacks, "simulation": {"calls": 200}}
    if platform is not None:
        data["platform"] = platform
    return Scenario.model_validate(data)


def by_stack(sc: Scenario, catalog: Catalog) -> dict:
    return {r.stack: r for r in estimate(sc, catalog, on=DAY).results}


def test_a_stacks_platform_fee_per_minute(builtin):
    plain, vapi = by_stack(scenario([GROK, {"realtime": GROK, "platform": "vapi/platform"}]),
                           builtin).values()
    assert vapi.stack == f"{GROK}+vapi/platform"
    # 60,000 calls x 3 min x $0.05/min = $9,000/month on top of Grok's own $9,000.
    items = dict(vapi.line_items)
    assert items["vapi/platform connection"] == pytest.approx(9_000)
    assert vapi.monthly_usd == pytest.approx(plain.monthly_usd + 9_000)
    assert vapi.per_call_usd["mean"] == pytest.approx(0.15 + 0.15)   # per call: 3 x 0.05 each
    assert vapi.fixed_monthly_usd == 0
    assert per_minute(vapi, builtin, calls_per_month=60_000)["platform fee"] == (
        pytest.approx(0.05))


def test_a_plan_fee_is_a_monthly_line_item_not_per_call(builtin):
    # Bland Build is a stack by itself: $0.12/min, prorated to the second, plus $299/month.
    # 60,000 calls x 3 min x $0.12 = $21,600; + $299 = $21,899 a month.
    [r] = by_stack(scenario(["bland/build"]), builtin).values()
    items = dict(r.line_items)
    assert items["bland/build connection"] == pytest.approx(21_600)
    assert items["bland/build monthly fee"] == pytest.approx(299)
    assert r.monthly_usd == pytest.approx(21_899)
    assert r.fixed_monthly_usd == pytest.approx(299)
    assert r.per_call_usd["mean"] == pytest.approx(0.36)           # 3 x 0.12: no $299 in it
    assert r.per_call_usd["p99"] == pytest.approx(0.36)
    # $/min is the month's total over its minutes: 21,899 / 180,000 = $0.121661...
    assert r.per_minute_usd == pytest.approx(21_899 / 180_000)
    split = per_minute(r, builtin, calls_per_month=60_000)
    assert split == {"platform fee": pytest.approx(21_899 / 180_000)}
    assert sum(split.values()) == pytest.approx(r.per_minute_usd)
    lo, hi = r.monthly_band_usd   # fixed calls: no spread, the band sits on the total
    assert lo == pytest.approx(21_899) and hi == pytest.approx(21_899)


def test_phone_numbers_times_the_per_number_fee(builtin):
    # Grok behind Vapi, on 3 Twilio local numbers at $1.15 each: $3.45 a month.
    stack = {"realtime": GROK, "telephony": "twilio/us-inbound",
             "platform": ["vapi/platform", "twilio/us-local-number"]}
    [r] = by_stack(scenario([stack], {"phone_numbers": 3}), builtin).values()
    items = dict(r.line_items)
    assert items["twilio/us-local-number phone numbers"] == pytest.approx(3.45)
    assert "twilio/us-local-number connection" not in items   # no per-minute fee
    # Grok 9,000 + Vapi 9,000 + Twilio inbound 60,000 x 3 min x $0.0085 = 1,530; + 3.45
    assert r.monthly_usd == pytest.approx(9_000 + 9_000 + 1_530 + 3.45)
    assert r.fixed_monthly_usd == pytest.approx(3.45)


def test_the_scenario_platform_id_applies_to_stacks_without_their_own(builtin):
    sc = scenario([GROK, {"realtime": GROK, "platform": "retell/voice-infra"}],
                  {"id": "vapi/platform"})
    grok, retell = by_stack(sc, builtin).values()
    assert grok.stack == GROK   # a scenario-wide platform does not rename the stack
    assert dict(grok.line_items)["vapi/platform connection"] == pytest.approx(9_000)
    # the stack's own platform replaces the scenario's: 180,000 min x $0.055 = $9,900
    assert "vapi/platform connection" not in dict(retell.line_items)
    assert dict(retell.line_items)["retell/voice-infra connection"] == pytest.approx(9_900)


def test_included_minutes_credit_the_month(tmp_path: Path):
    # A test plan: $0.01/min rounded up per minute, $50/month, 5,000 minutes included.
    (tmp_path / "p.yaml").write_text("""
provider: test
models:
  - id: test/agent-host
    kind: platform
    name: test host
    prices:
      - effective: 2026-01-01
        checked: 2026-11-30
        source: https://example.com/test
        confidence: assumption
        connection: {usd_per_minute: 0.01, increment_seconds: 60}
        fees: {usd_per_month: 50, included_minutes: 5000}
""", encoding="utf-8")
    catalog = Catalog.load([tmp_path])
    stack = {"realtime": GROK, "platform": "test/agent-host"}
    # 1,000 calls x 3 min = 3,000 billed minutes < 5,000 included: the credit is all of it,
    # $30, and the month costs Grok's 1,000 x $0.15 = $150 + the $50 plan.
    [small] = by_stack(scenario([stack], calls=1_000), catalog).values()
    items = dict(small.line_items)
    assert items["test/agent-host connection"] == pytest.approx(30)
    assert items["test/agent-host included minutes"] == pytest.approx(-30)
    assert items["test/agent-host monthly fee"] == pytest.approx(50)
    assert small.monthly_usd == pytest.approx(150 + 50)
    # 60,000 calls: 180,000 minutes, 175,000 billed: 180,000 x 0.01 - 5,000 x 0.01 = $1,750.
    [big] = by_stack(scenario([stack]), catalog).values()
    items = dict(big.line_items)
    assert items["test/agent-host connection"] + items["test/agent-host included minutes"] \
        == pytest.approx(1_750)
    assert big.monthly_usd == pytest.approx(9_000 + 1_750 + 50)
    assert big.fixed_monthly_usd == pytest.approx(50 - 50)   # the plan, less the credit


def test_platform_keys_are_validated():
    with pytest.raises(ValueError, match="not both"):
        scenario([GROK], {"id": "vapi/platform", "usd_per_minute": "0.05"})
    with pytest.raises(ValueError):
        scenario([GROK], {"phone_numbers": -1})


def test_a_platform_without_a_per_minute_fee_is_not_a_stack(builtin):
    with pytest.raises(Exception, match="no per-minute fee"):
        estimate(scenario(["twilio/us-local-number"]), builtin, on=DAY)


def test_a_platform_must_be_a_platform_entry(builtin):
    with pytest.raises(Exception, match="must be a platform entry"):
        estimate(scenario([{"realtime": GROK, "platform": "twilio/us-inbound"}]), builtin,
                 on=DAY)


def test_yaml_round_trip(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("""name: t
volume: {calls_per_month: 10}
duration_min: {fixed: 3}
platform: {id: vapi/platform, phone_numbers: 2}
stacks:
  - xai/grok-voice-agent
  - {realtime: xai/grok-voice-agent, platform: [retell/voice-infra, twilio/us-local-number]}
""", encoding="utf-8")
    sc = load_scenario(path)
    assert sc.platform.ids() == ("vapi/platform",) and sc.platform.phone_numbers == 2
    path.write_text(path.read_text().replace("phone_numbers: 2", "phone_numbers: two"))
    with pytest.raises(ScenarioError, match="platform.phone_numbers"):
        load_scenario(path)


def test_capacity_counts_no_requests_for_a_platform(builtin):
    sc = scenario([GROK, {"realtime": GROK, "platform": "vapi/platform"}])
    plain, vapi = capacity(sc, builtin, on=DAY).results
    assert vapi.busy_hour.requests_per_min == plain.busy_hour.requests_per_min
    assert not [c for c in vapi.limits if c.model == "vapi/platform" and c.metric == "rpm"]


def test_the_csv_and_json_carry_the_fixed_fees(tmp_path: Path):
    import csv
    import io
    import json

    from typer.testing import CliRunner

    from costmodel.cli import app

    path = tmp_path / "s.yaml"
    path.write_text("name: t\nvolume: {calls_per_month: 60000}\nduration_min: {fixed: 3}\n"
                    "simulation: {calls: 200}\nstacks: [bland/build]\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["estimate", str(path), "--csv", "--date", "2026-11-30"])
    assert out.exit_code == 0, out.output
    [row] = csv.DictReader(io.StringIO(out.output))
    assert (row["monthly_usd"], row["fixed_monthly_usd"]) == ("21899.00", "299.00")
    out = CliRunner().invoke(app, ["estimate", str(path), "--json", "--date", "2026-11-30"])
    [r] = json.loads(out.output)["results"]
    assert r["fixed_monthly_usd"] == 299
    assert {"item": "bland/build monthly fee", "usd": 299} in r["line_items"]
