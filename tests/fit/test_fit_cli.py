"""`costmodel fit` at the command line: the table, the YAML, --json, exit codes, and many files
read by a real process pool."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from costmodel.cli import app
from costmodel.core.usage import Usage, usage_to_json
from costmodel.estimation import estimate, load_scenario

ROOT = Path(__file__).parents[2]
SESSION = ROOT / "examples" / "sessions" / "openai-realtime-support.jsonl"
runner = CliRunner()


def run(*args: str) -> object:
    result = runner.invoke(app, ["fit", *args], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def strict_json(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON output")
    return json.loads(text, parse_constant=refuse)


def test_fit_writes_a_scenario_that_estimates(tmp_path):
    out = tmp_path / "fitted.yaml"
    result = run(str(SESSION), "-o", str(out), "--name", "support",
                 "--calls-per-month", "60000")
    assert result.exit_code == 0, result.output
    for text in ("support: fitted to 1 session of openai/gpt-realtime-1.5+openai/gpt-4o-"
                 "transcribe", "turns.seconds_per_turn", "cache.hits", "per-response",
                 "check: the 1 session cost $0.1138 per call on average",
                 f"wrote {out}"):
        assert text in result.stdout
    sc = load_scenario(out)
    assert sc.volume.calls_per_month == 60000 and sc.name == "support"
    assert estimate(sc, calls=1000).results[0].per_call_usd["mean"] > 0


def test_without_o_the_yaml_is_stdout_and_the_table_stderr(tmp_path):
    result = run(str(SESSION), "--no-check")
    assert result.exit_code == 0
    assert result.stdout.startswith("# Fitted by `costmodel fit`")
    assert "turns.seconds_per_turn" in result.stderr and "check:" not in result.stderr
    path = tmp_path / "s.yaml"
    path.write_text(result.stdout)
    assert load_scenario(path).stacks[0].realtime == "openai/gpt-realtime-1.5"


def test_json_is_strict_and_complete(tmp_path):
    result = run(str(SESSION), "--json")
    assert result.exit_code == 0
    doc = strict_json(result.stdout)
    assert doc["sessions"] == 1 and doc["cache_hits"] == "per-response"
    assert doc["parameters"]["prompt.system_tokens"] == {
        "value": 1180.0, "spread": None, "sessions": 1,
        "source": "text input of each session's first response", "note": ""}
    assert doc["duration"]["chosen"] == "fixed"
    assert doc["observed_usd_per_call"] == "0.1137524"
    assert doc["check"]["observed_usd_per_call"] == 0.1137524
    path = tmp_path / "s.yaml"
    path.write_text(doc["yaml"])
    load_scenario(path)


def realtime_log(path: Path, seconds: list[float]) -> Path:
    """A relay's spend log of gpt-realtime-1.5 sessions of these lengths, 3 responses each."""
    usage = [Usage("openai/gpt-realtime-1.5", {"text.input": 1000, "audio.input": 50 + 150 * k,
                                               "audio.output": 100})
             for k in range(3)]
    lines = [{"session_id": f"s{i}", "spent_usd": "0", "seconds": s, "end": "closed",
              "started_at": "2026-11-02T10:00:00+00:00", "model": "openai/gpt-realtime-1.5",
              "usage": [usage_to_json(u) for u in usage]} for i, s in enumerate(seconds)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_empirical_lengths_are_written_beside_the_scenario(tmp_path):
    log = realtime_log(tmp_path / "spend.jsonl", [40.0] * 30 + [400.0] * 30)
    out = tmp_path / "out" / "fitted.yaml"
    out.parent.mkdir()
    result = run(str(log), "-o", str(out))
    assert result.exit_code == 0, result.output
    csv = tmp_path / "out" / "fitted-lengths.csv"
    assert f"wrote {csv}" in result.stdout and "empirical" in result.stdout
    assert csv.read_text().splitlines()[:2] == ["minutes", f"{40 / 60:.6f}"]
    sc = load_scenario(out)
    assert sc.duration_min.empirical == "fitted-lengths.csv"
    assert estimate(sc, calls=1000).results[0].mean_minutes > 0


def test_errors_are_one_line_with_the_usual_exit_codes(tmp_path):
    missing = run(str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr
    (tmp_path / "x.jsonl").write_text('{"hello": 1}\n')
    nothing = run(str(tmp_path / "x.jsonl"))
    assert nothing.exit_code == 2 and "error: no session to fit found" in nothing.stderr
    unknown = tmp_path / "u.jsonl"
    unknown.write_text(SESSION.read_text().replace('"model": "gpt-realtime-1.5"',
                                                   '"model": "gpt-realtime-1.6"'))
    bad = run(str(unknown))
    assert bad.exit_code == 2 and "did you mean openai/gpt-realtime-1.5" in bad.stderr


def test_many_files_are_read_by_worker_processes_with_the_same_result(tmp_path):
    # 70 copies of a session of a model shut down on 2026-11-17: 70 files pass the pool's
    # threshold (64); the workers' warnings come back as one note.
    gemini = ROOT / "examples" / "sessions" / "gemini-live-booking.jsonl"
    for i in range(70):
        shutil.copy(gemini, tmp_path / f"g{i:02d}.jsonl")
    pooled = run(str(tmp_path), "--json", "--workers", "2", "--no-check")
    alone = run(str(tmp_path), "--json", "--workers", "1", "--no-check")
    assert pooled.exit_code == alone.exit_code == 0
    a, b = strict_json(pooled.stdout), strict_json(alone.stdout)
    assert a["sessions"] == b["sessions"] == 70 and a["parameters"] == b["parameters"]
    assert pooled.stderr.count("shut down on 2026-11-17") == 1


def test_the_sessions_priced_are_the_price_events_total():
    result = run(str(SESSION), "--json", "--no-check")
    doc = strict_json(result.stdout)
    assert Decimal(doc["observed_usd_per_call"]) == Decimal("0.1137524")  # price-events' total


def test_empirical_lengths_without_o_go_beside_the_printed_yaml(tmp_path, monkeypatch):
    log = realtime_log(tmp_path / "spend.jsonl", [40.0] * 30 + [400.0] * 30)
    monkeypatch.chdir(tmp_path)
    result = run(str(log), "--no-check", "--name", "bimodal")
    assert result.exit_code == 0
    assert "empirical: bimodal-lengths.csv" in result.stdout
    assert "wrote bimodal-lengths.csv" in result.stderr
    (tmp_path / "bimodal.yaml").write_text(result.stdout)
    assert load_scenario(tmp_path / "bimodal.yaml").duration_min.empirical == \
        "bimodal-lengths.csv"
