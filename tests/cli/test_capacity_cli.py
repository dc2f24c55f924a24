"""`costmodel capacity`: the JSON contract of issue 13, the table, and errors."""

from __future__ import annotations

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
def test_every_example_has_a_capacity_report_with_the_issue_keys(name: str) -> None:
    r = run("capacity", str(EXAMPLES / f"{name}.yaml"), "--json", "--date", "2026-11-25")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["scenario"] == name and len(data["concurrency_by_hour"]) == 24
    for res in data["results"]:
        assert {"stack", "busy_hour", "limits", "binding_limit", "gpus"} <= set(res)
        assert {"hour", "calls", "mean_concurrent", "p99_concurrent", "requests_per_min",
                "input_tokens_per_min"} <= set(res["busy_hour"])
        for lim in res["limits"]:
            assert {"name", "limit", "peak", "headroom"} <= set(lim)
            if lim["limit"] is None:          # unknown, never unlimited
                assert lim["headroom"] is None


def test_selfhost_gpus_tier_and_utilisation() -> None:
    r = run("capacity", str(EXAMPLES / "support-line.yaml"), "--stack", "selfhost/moshi",
            "--stack", "google/gemini-3.1-flash-live", "--tier", "firebase-vertex",
            "--utilisation", "0.5", "--json", "--date", "2026-11-25")
    assert r.exit_code == 0, r.output
    moshi, gemini = json.loads(r.stdout)["results"]
    assert moshi["gpus"] >= 1 and moshi["selfhost"]["autoscaled"]["utilisation"] == 0.5
    assert gemini["gpus"] is None
    tpm = next(x for x in gemini["limits"] if x["name"].endswith(" tpm"))
    assert tpm["limit"] == 4_000_000
    text = run("capacity", str(EXAMPLES / "support-line.yaml"), "--stack", "selfhost/moshi",
               "--date", "2026-11-25")
    assert text.exit_code == 0 and "Erlang C" in text.stdout


def test_bad_utilisation_and_missing_file() -> None:
    assert run("capacity", str(EXAMPLES / "support-line.yaml"), "--utilisation", "0").exit_code != 0
    assert run("capacity", "nope.yaml").exit_code != 0
