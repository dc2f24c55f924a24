"""`costmodel guard replay | serve`: contracts and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from costmodel.cli import app

from ..sessions import openai_session

SESSION = Path(__file__).parents[2] / "examples" / "sessions" / "openai-realtime-support.jsonl"
runner = CliRunner()


def run(*args: str, input: str | None = None):
    result = runner.invoke(app, list(args), input=input, env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def test_replay_json_contract():
    r = run("guard", "replay", str(SESSION), "--limit-usd", "0.05", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {"limit_usd", "spent_usd", "warned_at_response", "cut_at_response",
            "saved_usd"} <= data.keys()
    assert data["limit_usd"] == 0.05 and data["spent_usd"] <= 0.05
    assert data["cut_at_response"] == 3 and data["warned_at_response"] == 1
    assert abs(data["saved_usd"] - (data["unguarded_usd"] - data["spent_usd"])) < 1e-12


def test_replay_that_never_triggers_has_nulls(builtin):
    lines = "\n".join(json.dumps(e) for e in openai_session(builtin, turns=3))
    r = run("guard", "replay", "-", "--limit-usd", "100", "--json", input=lines)
    data = json.loads(r.stdout)
    assert data["cut_at_response"] is None and data["warned_at_response"] is None
    assert data["saved_usd"] == 0


def test_replay_table_and_errors(tmp_path):
    r = run("guard", "replay", str(SESSION), "--limit-usd", "0.05")
    assert r.exit_code == 0 and "cut before" in r.stdout and "response 3" in r.stdout
    assert run("guard", "replay", str(tmp_path / "no.jsonl"), "--limit-usd", "1").exit_code == 2
    assert run("guard", "replay", str(SESSION), "--limit-usd", "-1").exit_code == 2
    nova = SESSION.parent / "nova-sonic-turn.jsonl"
    r = run("guard", "replay", str(nova), "--limit-usd", "1")
    assert r.exit_code == 1 and "--model amazon/nova-2-sonic" in r.stderr


def test_serve_rejects_a_bad_listen_address():
    r = run("guard", "serve", "--upstream", "ws://127.0.0.1:9", "--limit-usd", "1",
            "--listen", "nowhere")
    assert r.exit_code == 2 and "listen" in r.stderr.lower()


def test_ledger_show_reports_spend_per_tenant(builtin, tmp_path):
    from costmodel.guard import SessionGuard
    from costmodel.ledger import open_ledger
    url = f"sqlite:///{tmp_path / 'spend.db'}"
    with open_ledger(url) as store:
        for tenant, turns in (("acme", 3), ("globex", 2)):
            guard = SessionGuard("100", catalog=builtin, ledger=store, scope=tenant)
            for ev in openai_session(builtin, turns=turns):
                guard.observe(ev)
            guard.finalize()
        expected = store.spent(scope="acme")
    r = run("ledger", "show", "--ledger", url, "--json")
    assert r.exit_code == 0, r.output
    tenants = {t["tenant"]: t for t in json.loads(r.stdout)["tenants"]}
    assert set(tenants) == {"acme", "globex"}
    assert tenants["acme"]["spent_usd_exact"] == format(expected.normalize(), "f")
    assert tenants["acme"]["records"] == 3 and tenants["acme"]["reserved_usd"] == 0
    table = run("ledger", "show", "--ledger", url, "--tenant", "globex", "--period", "month")
    assert table.exit_code == 0 and "globex" in table.stdout and "acme" not in table.stdout
    assert run("ledger", "show").exit_code == 2
