"""`costmodel estimate | compare | curve`: contracts, examples, and clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodel.cli import app

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("name", ["support-line", "outbound-sales", "companion", "ivr"])
def test_every_example_scenario_estimates(name):
    r = run("estimate", str(EXAMPLES / f"{name}.yaml"), "--calls", "2000", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["scenario"] == name and data["currency"] == "USD"
    for res in data["results"]:
        assert set(res["per_call_usd"]) == {"mean", "p50", "p95", "p99"}
        assert res["per_minute_usd"] > 0 and res["monthly_usd"] > 0
        assert all({"item", "usd"} <= li.keys() for li in res["line_items"])
        assert sum(li["usd"] for li in res["line_items"]) == pytest.approx(
            res["monthly_usd"], rel=1e-6, abs=0.05)


def test_chained_stack_ids_are_joined_with_plus():
    r = run("estimate", str(EXAMPLES / "outbound-sales.yaml"), "--calls", "500", "--json")
    stacks = [res["stack"] for res in json.loads(r.stdout)["results"]]
    assert "deepgram/nova-3+openai/gpt-5.4-mini+cartesia/sonic-3+twilio/us-outbound" in stacks
    assert "openai/gpt-realtime-mini+twilio/us-outbound" in stacks


def test_estimate_one_stack_with_overrides_and_csv():
    r = run("estimate", str(EXAMPLES / "support-line.yaml"), "--stack", "xai/grok-voice-agent",
            "--calls-per-month", "1000", "--seed", "3", "--calls", "5000", "--csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["stack"] for row in rows] == ["xai/grok-voice-agent"]
    assert float(rows[0]["per_minute_usd"]) == pytest.approx(0.05, rel=1e-6)
    assert float(rows[0]["monthly_usd"]) == pytest.approx(
        1000 * float(rows[0]["per_call_mean_usd"]), rel=1e-4)


def test_compare_ranks_cheapest_first_with_ratios():
    r = run("compare", str(EXAMPLES / "support-line.yaml"), "--calls", "5000", "--json")
    ranking = json.loads(r.stdout)["ranking"]
    monthly = [x["monthly_usd"] for x in ranking]
    assert monthly == sorted(monthly)
    assert ranking[0]["ratio_to_cheapest"] == 1.0
    assert all(x["ratio_to_cheapest"] >= 1 for x in ranking)
    table = run("compare", str(EXAMPLES / "support-line.yaml"), "--calls", "5000")
    assert "x cheapest" in table.stdout and "1.0x" in table.stdout


def test_curve_defaults_and_json():
    r = run("curve", "--stack", "openai/gpt-realtime-1.5", "--max-minutes", "30", "--step", "5",
            "--json")
    pts = json.loads(r.stdout)["points"]
    assert [p["minutes"] for p in pts] == [5, 10, 15, 20, 25, 30]
    per_min = [p["per_minute_usd"] for p in pts]
    assert per_min == sorted(per_min)  # re-billing: dearer per minute as calls get longer
    flat = run("curve", "--stack", "xai/grok-voice-agent", "--max-minutes", "10", "--json")
    assert {p["per_minute_usd"] for p in json.loads(flat.stdout)["points"]} == {0.05}


def test_curve_with_a_chained_stack_from_the_scenario():
    r = run("curve", "--stack", "deepgram/nova-3+openai/gpt-5.4-mini+cartesia/sonic-3",
            "--scenario", str(EXAMPLES / "support-line.yaml"), "--max-minutes", "3", "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["points"]) == 3


def test_bad_scenario_exits_2_naming_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvolume: {calls_per_month: 5}\nduration_min: {fixed: -1}\n"
                   "stacks: [xai/grok-voice-agent]\n")
    r = run("estimate", str(bad))
    assert r.exit_code == 2
    assert "bad.yaml:3: duration_min.fixed" in r.stderr
    r = run("estimate", str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2 and "cannot read" in r.stderr


def test_unknown_stack_exits_2_with_suggestions():
    r = run("estimate", str(EXAMPLES / "support-line.yaml"), "--stack", "xai/grok-voice")
    assert r.exit_code == 2 and "did you mean" in r.stderr


def test_unsimulatable_stack_is_a_clear_error():
    r = run("curve", "--stack", "openai/gpt-5.4-mini")
    assert r.exit_code == 1 and "chained pipeline" in r.stderr
