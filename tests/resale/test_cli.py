"""`costmodel margins` and `costmodel export-usage` end to end, on the real SQLite ledger and
spend log of tests/resale/pilot.py: what they print, write and exit with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodel.cli import app

from .pilot import write_pilot

runner = CliRunner()


def run(*args: str | Path):
    result = runner.invoke(app, [*map(str, args)], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    return write_pilot(tmp_path_factory.mktemp("pilot"))


def margins(pilot, *args: str):
    ledger, log, cards = pilot
    return run("margins", "--ledger", ledger, "--cards", cards, "--spend-log", log, *args)


def test_a_tenant_that_cannot_be_billed_exits_1_and_is_named(pilot):
    result = margins(pilot)
    assert result.exit_code == 1
    assert "not billed: umbrella: 1 day(s), $3.00 of cost: no rate card" in result.stderr
    assert "1 tenant-day(s) cannot be billed: exit 1" in result.stderr
    # the table: acme's Oct 1 bills $2.40 against $1.50; initech's month is topped up
    assert "acme" in result.stdout and "$2.40" in result.stdout
    assert "2026-10 total" in result.stdout and "$20.00 +$19.00 min" in result.stdout
    assert "all tenants: revenue $44.60, cost $21.80, margin $25.80" in result.stdout


def test_billable_tenants_exit_0(pilot):
    result = margins(pilot, "--scope", "acme", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(d["day"], d["revenue_usd"], d["flags"]) for d in data["days"]] == [
        ("2026-10-01", "2.40", []), ("2026-10-02", "1.20", ["thin"])]
    assert data["months"][0]["margin_pct"] == pytest.approx(27.777778)
    assert data["failed"] is False and data["currency"] == "USD"


def test_thin_takes_the_percentage_given(pilot):
    data = json.loads(margins(pilot, "--scope", "acme", "--thin", "30%", "--json").stdout)
    assert data["months"][0]["flags"] == ["thin"] and data["thin_pct"] == 30


def test_a_month_that_loses_money_exits_1(pilot, tmp_path):
    ledger, log, _ = pilot
    cards = tmp_path / "lossy.yaml"
    cards.write_text("tenants:\n  globex:\n    card: {markup: 0.9}\n")
    result = run("margins", "--ledger", ledger, "--cards", cards, "--scope", "globex")
    assert result.exit_code == 1
    assert "1 month(s) lose money: exit 1" in result.stderr
    assert "-$1.50" in result.stdout   # $15.00 of cost billed $13.50


def test_without_a_spend_log_a_per_minute_tenant_is_not_billed(pilot):
    ledger, _, cards = pilot
    result = run("margins", "--ledger", ledger, "--cards", cards, "--scope", "acme")
    assert result.exit_code == 1
    assert "not billed: acme: 2 day(s), $2.60 of cost: a per-minute card: no call minutes" \
        in result.stderr


def test_bad_input_exits_2_with_file_and_line(pilot, tmp_path):
    ledger, _, _ = pilot
    cards = tmp_path / "cards.yaml"
    cards.write_text("plans:\n  s:\n    per_minute_usd: lots\n")
    result = run("margins", "--ledger", ledger, "--cards", cards)
    assert result.exit_code == 2
    assert f"{cards}:3: plans.s.per_minute_usd: expected an amount in USD" in result.stderr
    missing = run("margins", "--ledger", tmp_path / "none.db", "--cards", pilot[2])
    assert missing.exit_code == 2 and "no such ledger file" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    thin = run("margins", "--ledger", ledger, "--cards", pilot[2], "--thin", "lots")
    assert thin.exit_code == 2 and "--thin: expected a percentage" in thin.stderr


def test_export_usage_writes_json_lines_and_a_rerun_writes_the_same(pilot, tmp_path):
    ledger, log, cards = pilot
    first, again = tmp_path / "first.jsonl", tmp_path / "again.jsonl"
    args = ["export-usage", "--ledger", ledger, "--cards", cards, "--spend-log", log,
            "--to", "lago"]
    result = run(*args, "-o", first)
    assert result.exit_code == 1   # umbrella has no card
    assert "not exported: umbrella: 1 day(s): no rate card" in result.stderr
    assert "5 lago event(s) for 3 tenant(s)" in result.stderr
    run(*args, "-o", again)
    assert first.read_bytes() == again.read_bytes()
    events = [json.loads(line) for line in first.read_text().splitlines()]
    assert {e["external_subscription_id"] for e in events} == {"sub_acme", "sub_globex",
                                                               "sub_initech"}
    alone = run(*args, "--scope", "acme")
    assert alone.exit_code == 0 and len(alone.stdout.splitlines()) == 2


def test_export_to_stripe_takes_its_last_35_days(tmp_path):
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) \
        - timedelta(days=10)
    ledger, log, cards = write_pilot(tmp_path, month=start)
    result = run("export-usage", "--ledger", ledger, "--cards", cards, "--spend-log", log,
                 "--to", "stripe", "--scope", "acme")
    assert result.exit_code == 0, result.output
    assert "Stripe takes meter events of the past 35 days" in result.stderr
    values = [json.loads(line)["payload"]["value"] for line in result.stdout.splitlines()]
    assert values == ["120", "10"]


def test_export_refuses_a_day_not_over_and_an_unknown_system(pilot):
    ledger, _, cards = pilot
    today = datetime.now(UTC).date().isoformat()
    result = run("export-usage", "--ledger", ledger, "--cards", cards, "--to", "lago",
                 "--until", today)
    assert result.exit_code == 2 and "the day is not over" in result.stderr
    bogus = run("export-usage", "--ledger", ledger, "--cards", cards, "--to", "chargebee")
    assert bogus.exit_code == 2 and "stripe, openmeter, lago" in bogus.stderr
