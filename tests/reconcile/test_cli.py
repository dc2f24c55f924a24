"""`costmodel reconcile` end to end: a real SQLite ledger written through the ledger API
(tests/reconcile/pilot.py), the sample exports of examples/exports, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodel.cli import app

from .pilot import COSTS, SCENARIO, TWILIO, USAGE, XAI, write_pilot_ledger

runner = CliRunner()


def run(*args: str | Path):
    result = runner.invoke(app, ["reconcile", *map(str, args)], env={"COLUMNS": "500"})
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> Path:
    return write_pilot_ledger(tmp_path_factory.mktemp("pilot") / "spend.db")


def rows(result) -> dict[tuple[str, str], dict]:
    return {(r["day"], r["model"]): r for r in json.loads(result.stdout)["rows"]}


def test_a_day_billed_over_the_tolerance_exits_1(ledger):
    result = run("--ledger", ledger, "--export", COSTS, "--export", TWILIO, "--export", XAI,
                 "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["since"], data["until"]) == ("2026-11-24", "2026-11-26")   # the exports' days
    assert data["compared"] == ["recorded vs billed", "recorded vs estimate"]
    got = rows(result)
    nov25 = got[("2026-11-25", "openai/gpt-realtime-mini")]
    # billed $16.285 against $15.41 recorded: +$0.875, +5.678% of recorded
    assert (nov25["recorded_usd"], nov25["billed_usd"]) == ("15.41", "16.285")
    assert nov25["vs_billed"]["usd"] == "0.875"
    assert nov25["vs_billed"]["pct"] == pytest.approx(5.678131, abs=1e-6)
    assert nov25["over_tolerance"] == ["billed"] and nov25["billed_basis"] == "billed"
    assert data["rows_over_tolerance"] == 1
    nov26 = got[("2026-11-26", "xai/grok-voice-agent")]
    assert nov26["vs_billed"]["usd"] == "0.005" and nov26["over_threshold"] == []  # < 1 cent
    # totals: recorded 45.214 + 6.356 + 3.755 = 55.325; billed 46.112 + 6.356 + 3.76 = 56.228
    assert data["totals"]["recorded_usd"] == "55.325"
    assert data["totals"]["billed_usd"] == "56.228"
    assert data["totals"]["vs_billed"]["usd"] == "0.903"


def test_a_looser_tolerance_passes_and_still_flags(ledger):
    result = run("--ledger", ledger, "--export", COSTS, "--tolerance", "6%", "--json")
    assert result.exit_code == 0
    nov25 = rows(result)[("2026-11-25", "openai/gpt-realtime-mini")]
    assert nov25["over_threshold"] == ["billed"] and nov25["over_tolerance"] == []


def test_usage_priced_with_the_catalog_says_the_same_as_the_bill(ledger):
    priced = rows(run("--ledger", ledger, "--export", USAGE, "--json"))
    billed = rows(run("--ledger", ledger, "--export", COSTS, "--json"))
    assert {k: r["billed_usd"] for k, r in priced.items()} == {
        k: r["billed_usd"] for k, r in billed.items()}
    mini = [r for k, r in priced.items() if k[1] == "openai/gpt-realtime-mini"]
    assert [r["billed_usd"] for r in mini] == ["15.204", "16.285", "14.623"]
    assert {r["billed_basis"] for r in mini} == {"priced"}
    both = run("--ledger", ledger, "--export", USAGE, "--export", COSTS, "--json")
    nov24 = rows(both)[("2026-11-24", "openai/gpt-realtime-mini")]
    assert nov24["billed_basis"] == "billed" and any("the bill is compared" in n
                                                     for n in nov24["notes"])


def test_days_no_export_covers_are_not_compared(ledger):
    # Only the OpenAI bill: Twilio and xAI spend is recorded but nobody billed it here, so it
    # is shown without a comparison (unknown, not $0).
    got = rows(run("--ledger", ledger, "--export", COSTS, "--json"))
    twilio = got[("2026-11-24", "twilio/us-outbound")]
    assert twilio["billed_usd"] is None and twilio["vs_billed"] is None
    # ... while a model recorded on a day an export covers, with nothing billed, is $0 billed
    window = run("--ledger", ledger, "--export", TWILIO, "--since", "2026-11-25", "--until",
                 "2026-11-25", "--scope", "acme", "--json")
    assert {k[0] for k in rows(window)} == {"2026-11-25"}


def test_another_scope_recorded_nothing_so_every_bill_is_over(ledger):
    result = run("--ledger", ledger, "--export", XAI, "--scope", "globex", "--json")
    assert result.exit_code == 1
    nov24 = rows(result)[("2026-11-24", "xai/grok-voice-agent")]
    assert nov24["recorded_usd"] == "0" and nov24["vs_billed"]["pct"] is None   # not recorded


def test_the_plan_estimates_the_recorded_calls(ledger):
    result = run("--ledger", ledger, "--export", COSTS, "--export", TWILIO, "--export", XAI,
                 "--scenario", SCENARIO, "--json")
    assert result.exit_code == 1          # the bill, not the plan: the plan is within its range
    got = rows(result)
    mini = got[("2026-11-24", "openai/gpt-realtime-mini")]
    twilio = got[("2026-11-25", "twilio/us-outbound")]
    # outbound-sales' first stack: ~$0.39 of realtime mini and ~$0.042 of Twilio a call
    assert mini["calls"] == 40 and 14 < float(mini["estimated_usd"]) < 17.5
    assert twilio["calls"] == 51 and 1.9 < float(twilio["estimated_usd"]) < 2.4
    low, high = map(float, mini["estimate_band_usd"])
    assert low < 15.204 < high and mini["over_tolerance"] == []
    assert all("estimate" not in r["over_tolerance"] for r in got.values())


def test_the_table_shows_each_model_and_the_failing_row(ledger):
    result = run("--ledger", ledger, "--export", COSTS, "--export", TWILIO)
    assert result.exit_code == 1
    out = result.stdout
    assert "openai/gpt-realtime-mini" in out and "twilio/us-outbound" in out
    assert "+0.88 +5.7%!" in out                  # rounded once, for display
    assert "$15.41" in out and "$16.28" in out    # 16.285, half to even
    assert "1 row(s) over the 5% tolerance" in result.stderr
    assert "left out: totalprice $6.36" in result.stderr


def test_bad_input_exits_2_naming_what(ledger, tmp_path):
    missing = tmp_path / "nope.db"
    result = run("--ledger", missing, "--export", COSTS)
    assert result.exit_code == 2 and "no such ledger file" in result.stderr
    assert not missing.exists()                    # reconcile never creates a ledger
    bad = tmp_path / "bill.csv"
    bad.write_text("date,model,usd\n2026-11-24,gpt-realtime-mini,1\n2026-11-25,gpt-realtime-mini,"
                   "x\n")
    result = run("--ledger", ledger, "--export", bad)
    assert result.exit_code == 2 and f"{bad}:3: usd: expected a number" in result.stderr
    for args in (("--ledger", "ftp://x"), ("--ledger", ledger, "--tolerance", "five"),
                 ("--ledger", ledger, "--since", "last week"), ()):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
    assert "expected a percentage" in run("--ledger", ledger, "--threshold", "x").stderr
    assert "give what to reconcile" in run().stderr


def test_the_sample_spend_log_records_what_the_pilot_ledger_does(ledger):
    log = COSTS.parent / "pilot-spend-log.jsonl"
    from_log = rows(run("--spend-log", log, "--export", COSTS, "--export", TWILIO, "--json"))
    from_ledger = rows(run("--ledger", ledger, "--export", COSTS, "--export", TWILIO,
                           "--scenario", SCENARIO, "--json"))
    assert {k: r["recorded_usd"] for k, r in from_log.items()} == {
        k: r["recorded_usd"] for k, r in from_ledger.items()}
    # one call a session either way (the ledger counts sessions with spend that day)
    assert {k: r["calls"] for k, r in from_log.items()} == {
        k: r["calls"] for k, r in from_ledger.items()}
    # its sessions have no usage trail: reconciled, but not fitted for drift (a note says so)
    planned = run("--spend-log", log, "--scenario", SCENARIO, "--json")
    data = json.loads(planned.stdout)
    assert data["drift"] is None and any("no drift check" in n for n in data["notes"])
