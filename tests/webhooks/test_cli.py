"""`costmodel serve-webhooks`: what it refuses before serving (exit 2, one clear line), and
the command itself serving Vapi over HTTP in a subprocess."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from costmodel.cli import app

from .conftest import BUDGETS, SCENARIO, VAPI_SECRET, payload


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAPI_SECRET", VAPI_SECRET)
    monkeypatch.setenv("COSTMODEL_SPOOL_DIR", str(tmp_path / "spool"))
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(SCENARIO))
    (tmp_path / "budgets.yaml").write_text(BUDGETS)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "500"}).invoke(app, [
        "serve-webhooks", "--scenario", "scenario.yaml", "--ledger", "sqlite:///spend.db",
        *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "says"), [
    (("--secret-env", "VAPI_SECRET"), "give --budgets FILE"),
    (("--budgets", "budgets.yaml", "--tenant-budget", "5", "--secret-env", "VAPI_SECRET"),
     "not both"),
    (("--tenant-budget", "5"), "nothing to serve: give --secret-env"),
    (("--tenant-budget", "5", "--secret-env", "NOT_SET_ANYWHERE"),
     "--secret-env NOT_SET_ANYWHERE: the environment variable is not set"),
    (("--tenant-budget", "-5", "--secret-env", "VAPI_SECRET"),
     "--tenant-budget must be a positive amount in USD"),
    (("--tenant-budget", "5", "--secret-env", "VAPI_SECRET", "--listen", "nowhere"),
     "--listen 'nowhere': expected HOST:PORT"),
    (("--tenant-budget", "5", "--secret-env", "VAPI_SECRET", "--on-ledger-error", "maybe"),
     "--on-ledger-error must be fail_open or fail_closed"),
])
def test_bad_arguments_exit_2_with_one_clear_line(files, args, says):
    code, output = run(*args)
    assert code == 2, output
    assert says in output and "Traceback" not in output


def test_a_budgets_file_mistake_names_its_line_and_key(files):
    (files / "budgets.yaml").write_text("tenants:\n  acme:\n    budget_usd: lots\n")
    code, output = run("--budgets", "budgets.yaml", "--secret-env", "VAPI_SECRET")
    assert code == 2
    assert "budgets.yaml:3: tenants.acme.budget_usd: must be a number, got 'lots'" in output


def test_a_scenario_of_several_stacks_needs_stack(files):
    two = dict(SCENARIO, stacks=["xai/grok-voice-agent", "openai/gpt-realtime-mini"])
    (files / "scenario.yaml").write_text(yaml.safe_dump(two))
    code, output = run("--tenant-budget", "5", "--secret-env", "VAPI_SECRET")
    assert code == 2 and "name the one calls run on with --stack" in output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, path: str, body: dict, headers: dict) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, json.dumps(body).encode(),
                     {"content-type": "application/json", **headers})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read())
    finally:
        conn.close()


def test_the_command_serves_vapi_until_interrupted(files):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "costmodel", "serve-webhooks", "--scenario", "scenario.yaml",
         "--ledger", "sqlite:///spend.db", "--budgets", "budgets.yaml",
         "--secret-env", "VAPI_SECRET", "--listen", f"127.0.0.1:{port}"],
        cwd=files, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        status, headers, body = _post(port, "/vapi", payload("vapi-assistant-request.json"),
                                      {"x-vapi-secret": VAPI_SECRET})
        assert status == 200 and body == {"assistantId": "2ccabf54-ccd8-4dff-ae93-e830159c8004"}
        assert headers["x-costmodel-hold-usd"] == "0.2"
        status, _, body = _post(port, "/vapi", payload("vapi-end-of-call-report.json"),
                                {"x-vapi-secret": VAPI_SECRET})
        assert (status, body["stored"], body["usd"]) == (200, 6, "0.2345")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"serving webhooks on http://127.0.0.1:{port}: vapi at " in out
    assert "xai/grok-voice-agent (default): holds $0.200000 a call" in out
