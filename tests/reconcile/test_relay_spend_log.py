"""Reconciling what a REAL relay recorded: a relay on loopback in front of a fake OpenAI
Realtime upstream (recorded-shape events, tests/guard/fake_upstream.py) writes its spend log
and a SQLite ledger; both, reconciled, say the same, and match a bill priced independently."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from costmodel.cli import app
from costmodel.guard.spendlog import read_spend_log
from costmodel.ledger import open_ledger
from costmodel.reconcile import recorded_from_ledger, recorded_from_spend_logs
from tests.guard.test_relay import client, cost_of, recv, relay_stack, run, turn, wait_for

MODEL = "openai/gpt-realtime-1.5"
TURNS = (2, 3, 1)   # responses in each of three sessions


@pytest.fixture(scope="module")
def relay_run(tmp_path_factory):
    """Three sessions through a real relay: its spend log and its SQLite ledger."""
    tmp = tmp_path_factory.mktemp("relay")
    ledger = open_ledger(tmp / "spend.db")

    async def main():
        async with relay_stack(tmp, limit="5.00", ledger=ledger) as (_up, relay, url):
            for n in TURNS:
                async with client(url) as ws:
                    await recv(ws)               # session.created
                    for _ in range(n):
                        await turn(ws, [])
            await wait_for(lambda: relay.sessions_done == len(TURNS))

    try:
        run(main(), timeout=30)
    finally:
        ledger.close()
    return tmp / "spend.jsonl", tmp / "spend.db"


def expected_usd() -> Decimal:
    """The fake upstream's responses priced by a fresh guard: $ of 2 + 3 + 1 responses."""
    return sum((cost_of(n) for n in TURNS), Decimal(0))


def test_spend_log_and_ledger_record_the_same_per_day_and_model(relay_run):
    log_path, db_path = relay_run
    log = read_spend_log(log_path)
    assert len(log.records) == 3 and not log.problems
    day = log.records[0].started_at.date()
    from_log = recorded_from_spend_logs([log_path])
    with open_ledger(db_path) as ledger:
        from_ledger = recorded_from_ledger(ledger, calls=True)
    assert [(d.day, d.model, d.usd, d.calls) for d in from_log.days] == [
        (day, MODEL, expected_usd(), 3)]
    assert [(d.day, d.model, d.usd, d.calls) for d in from_ledger.days] == [
        (day, MODEL, expected_usd(), 3)]
    assert [s.session_id for s in from_log.sessions] == [r.session_id for r in log.records]


def test_reconciled_against_a_bill_from_the_command_line(relay_run, tmp_path):
    log_path, db_path = relay_run
    day = read_spend_log(log_path).records[0].started_at.date()
    bill = tmp_path / "bill.csv"
    bill.write_text(f"date,model,usd\n{day},gpt-realtime-1.5,{expected_usd()}\n")
    runner = CliRunner(env={"COLUMNS": "500"})
    for source in (["--spend-log", str(log_path)], ["--ledger", str(db_path)]):
        result = runner.invoke(app, ["reconcile", *source, "--export", str(bill), "--json"])
        assert result.exit_code == 0, result.output
        [row] = json.loads(result.stdout)["rows"]
        assert row["vs_billed"] == {"usd": "0", "pct": 0.0} and row["over_threshold"] == []
    # a bill 10% over what the relay recorded fails the 5% tolerance
    bill.write_text(f"date,model,usd\n{day},gpt-realtime-1.5,{expected_usd() * 11 / 10}\n")
    result = runner.invoke(app, ["reconcile", "--spend-log", str(log_path), "--export", str(bill),
                                 "--json"])
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)["rows"]
    assert row["over_tolerance"] == ["billed"] and row["vs_billed"]["pct"] == 10.0


def test_a_damaged_spend_log_line_is_bad_input(relay_run, tmp_path):
    log_path, _ = relay_run
    damaged = tmp_path / "spend.jsonl"
    lines = log_path.read_text().splitlines()
    damaged.write_text("\n".join([lines[0], lines[1][:40], lines[2]]) + "\n")   # cut short
    result = CliRunner(env={"COLUMNS": "500"}).invoke(app, ["reconcile", "--spend-log",
                                                            str(damaged)])
    assert result.exit_code == 2
    assert f"{damaged}:2: not JSON" in result.stderr and "Traceback" not in result.output
