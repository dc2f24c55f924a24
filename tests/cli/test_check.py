"""`costmodel check`: a CI step that exits 1 when calls got dearer, naming every breach with
its figures and change, 0 when all are within, 2 for input it cannot use.

Figures to check by hand: xai/grok-voice-agent is $0.05 a minute, so a fixed 2-minute call
is $0.10 and 1,000 calls a month $100; openai/gpt-realtime-1.5 re-bills the system prompt as
text input ($4/1M) in each of a 2-minute call's 8 responses.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from costmodel.cli import app

runner = CliRunner()
DAY = ("--date", "2026-11-30")   # the rates in force that day, whatever today is


def run(*args: str):
    result = runner.invoke(app, ["check", *args], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A repository with a scenario whose system prompt is a file, as a team keeps it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompt.txt").write_text("You are the support agent for Acme. Be brief.\n")
    (tmp_path / "agent.yaml").write_text(
        "name: agent\nvolume: {calls_per_month: 1000}\nduration_min: {fixed: 2}\n"
        "prompt: {system_file: prompt.txt}\n"
        "stacks: [xai/grok-voice-agent, openai/gpt-realtime-1.5]\n"
        "simulation: {calls: 500}\n")
    return tmp_path


def test_a_first_run_writes_the_baseline_and_an_unchanged_one_passes(project):
    first = run("agent.yaml", "--write-baseline", "costs.json", *DAY)
    assert first.exit_code == 0, first.output
    assert "wrote the baseline costs.json" in first.stdout
    data = json.loads((project / "costs.json").read_text())
    assert data["stacks"][0] == {
        "stack": "xai/grok-voice-agent", "per_call_mean_usd": "0.10000000",
        "per_call_p95_usd": "0.10000000", "per_minute_usd": "0.05000000",
        "monthly_usd": "100.0000", "rates": data["stacks"][0]["rates"]}
    again = run("agent.yaml", "--baseline", "costs.json", "--tolerance", "5%", *DAY)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("+0.0%") == 8      # 4 figures x 2 stacks
    assert "ok: every figure is within its limits and within 5.0% of the baseline" in \
        again.stdout
    assert "moved: the scenario is unchanged" in again.stdout


def test_a_longer_prompt_fails_the_check_naming_each_figure(project):
    run("agent.yaml", "--write-baseline", "costs.json", *DAY)
    # 100 lines of 10 tokens: 12 -> 1,012 tokens; 1,000 x 8 responses x $4/1M = +$0.032/call
    with open(project / "prompt.txt", "a") as fh:
        fh.write("Never promise a refund; offer a callback instead.\n" * 100)
    r = run("agent.yaml", "--baseline", "costs.json", "--tolerance", "5%", *DAY)
    assert r.exit_code == 1, r.output
    fails = [line for line in r.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 4 and all("openai/gpt-realtime-1.5" in f for f in fails)
    assert "(tolerance 5.0%)" in fails[0] and "is over the baseline's" in fails[0]
    assert "system prompt tokens 12 -> 1,012" in r.stdout
    assert "the catalog rates priced are unchanged" in r.stdout
    assert "4 figures are over: calls got dearer" in r.stdout

    js = run("agent.yaml", "--baseline", "costs.json", "--tolerance", "5%", "--json", *DAY)
    assert js.exit_code == 1
    data = json.loads(js.stdout)
    assert data["ok"] is False and data["tolerance_pct"] == 5.0
    mean = next(b for b in data["breaches"] if b["figure"] == "per_call_mean_usd")
    was = next(s for s in data["baseline"]["stacks"] if s["stack"] == "openai/gpt-realtime-1.5")
    assert float(mean["current_usd"]) - float(was["per_call_mean_usd"]) == pytest.approx(0.032)
    assert mean["kind"] == "baseline" and mean["change_pct"] > 5


def test_absolute_limits_fail_per_stack_and_pass_when_met(project):
    r = run("agent.yaml", "--stack", "xai/grok-voice-agent", "--max-per-minute", "$0.04",
            "--max-per-call-p95", "0.10", "--max-monthly", "150", *DAY)
    assert r.exit_code == 1, r.output
    assert "FAIL xai/grok-voice-agent: per minute $0.050000 is over the limit $0.040000 " \
           "(+25.0%)" in r.stdout
    assert r.stdout.count("FAIL ") == 2   # the table's cell, and the named breach
    ok = run("agent.yaml", "--stack", "xai/grok-voice-agent", "--max-per-minute", "0.05", *DAY)
    assert ok.exit_code == 0, ok.output


def test_a_price_change_is_told_apart_from_a_scenario_change(project):
    run("agent.yaml", "--stack", "xai/grok-voice-agent", "--write-baseline", "costs.json",
        *DAY)
    (project / "prices").mkdir()
    (project / "prices" / "xai.yaml").write_text("""
provider: contract
models:
  - id: xai/grok-voice-agent
    prices:
      - effective: 2025-12-17
        checked: 2026-11-29
        source: https://contracts.example.com/xai
        connection: {usd_per_minute: 0.06, increment_seconds: 1}
""")
    r = run("agent.yaml", "--stack", "xai/grok-voice-agent", "--baseline", "costs.json",
            "--pricing", "prices", *DAY)
    assert r.exit_code == 1
    assert "over the baseline's $0.100000 by +20.0%" in r.stdout   # $0.12 a call
    assert "moved: the scenario is unchanged" in r.stdout
    assert "moved: the rates of xai/grok-voice-agent changed" in r.stdout


@pytest.mark.parametrize(("args", "message"), [
    ((), "nothing to check"),
    (("--baseline", "absent.json"), "absent.json: no such baseline file"),
    (("--max-per-minute", "cheap"), "--max-per-minute must be a positive amount"),
    (("--max-monthly", "-5"), "--max-monthly must be a positive amount"),
    (("--max-monthly", "100", "--tolerance", "five"), "--tolerance: expected a percentage"),
    (("--max-monthly", "100", "--stack", "acme/nothing"), "unknown model 'acme/nothing'"),
])
def test_bad_input_exits_2_naming_it(project, args, message):
    r = run("agent.yaml", *args)
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())


def test_a_broken_baseline_or_scenario_exits_2_naming_file_and_place(project):
    (project / "costs.json").write_text('{"format": 1,\n "stacks": [}\n')
    r = run("agent.yaml", "--baseline", "costs.json")
    assert r.exit_code == 2 and "costs.json:2: not JSON" in r.output
    (project / "agent.yaml").write_text("name: agent\nvolume: {calls_per_month: -1}\n")
    r = run("agent.yaml", "--max-monthly", "100")
    assert r.exit_code == 2 and "agent.yaml:2: volume" in " ".join(r.output.split())
