"""`costmodel prices import`: a user catalog directory from an installed price map, checked,
and priced by `price-events` and `estimate` with a note that its rates are secondary.

The real LiteLLM 1.110.2 map is read (pinned in .ci/run). Imports use ``--effective
2026-01-01`` so pricing on 2026-11-30 does not depend on the day the test runs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodel.cli import app

from ..conftest import write

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SESSION = ROOT / "examples/sessions/openai-realtime-support.jsonl"
NOTE = "rates imported from litellm==1.110.2 (confidence: secondary"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("litellm") is None,
                                reason="litellm is not installed (.ci/run installs it)")


def run(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    assert "Traceback" not in result.output
    return result


def _import(out: Path, *more: str):
    return run("prices", "import", "--from", "litellm", "-o", str(out),
               "--effective", "2026-01-01", *more)


def test_import_writes_a_catalog_that_checks(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    result = _import(out, "--only", "stt,tts")
    assert result.exit_code == 0, result.output
    assert ("imported 73 models from pypi:litellm==1.110.2 "
            "(model_prices_and_context_window_backup.json)") in result.stdout
    assert "stt 38, tts 35" in result.stdout
    assert "the built-in catalog wins: 47 models it already prices were not imported, " \
           "e.g. azure/gpt-realtime-whisper-2026-05-06 (as openai/gpt-realtime-whisper)" \
           in result.stdout
    assert "every imported rate is confidence: secondary" in result.stdout
    checked = run("prices", "check", "--pricing", str(out))
    assert checked.exit_code == 0 and ": ok" in checked.stdout
    shown = run("prices", "show", "minimax/speech-02-hd", "--pricing", str(out))
    assert "confidence secondary" in shown.stdout
    assert "https://pypi.org/project/litellm/1.110.2/" in shown.stdout


def test_json_counts(tmp_path: Path) -> None:
    result = _import(tmp_path / "imported", "--only", "realtime", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["imported"] == 14 and data["by_kind"] == {"realtime": 14}
    assert data["by_provider"] == {"azure": 7, "google": 2, "vertex-ai": 3, "xai": 2}
    assert data["effective"] == "2026-01-01" and data["effective_known"] is True
    assert {"key": "gpt-realtime-1.5", "catalog_id": "openai/gpt-realtime-1.5"} in \
        data["shadowed"]
    assert data["skipped_count"] + data["imported"] == 4877   # LiteLLM's rows, sample_spec aside
    assert sorted(data["files"]) == ["azure.yaml", "google.yaml", "vertex-ai.yaml", "xai.yaml"]


def test_an_imported_model_prices_a_session_with_a_note(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    assert _import(out, "--only", "realtime").exit_code == 0
    args = ("price-events", str(SESSION), "--model", "azure/us-gpt-realtime-1.5",
            "--pricing", str(out), "--date", "2026-11-30")
    table = run(*args)
    assert table.exit_code == 0
    assert f"note: azure/us-gpt-realtime-1.5: {NOTE}" in table.stderr
    data = json.loads(run(*args, "--json").stdout)
    assert data["notes"][0].startswith(f"azure/us-gpt-realtime-1.5: {NOTE}")
    # "azure/us/gpt-realtime-1.5": output_cost_per_audio_token 7.04e-05 -> $70.4 per 1M;
    # the session's 920 audio output tokens cost 920 x 70.4 / 1e6 = $0.064768
    audio_out = next(li for li in data["line_items"]
                     if li["model"] == "azure/us-gpt-realtime-1.5" and li["item"] ==
                     "audio.output")
    assert audio_out["quantity"] == 920 and audio_out["usd"] == pytest.approx(0.064768)


def test_an_imported_stack_estimates_with_notes(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    assert _import(out).exit_code == 0
    scenario = write(tmp_path, "sc.yaml", """
        name: imported
        volume: {calls_per_month: 1000}
        duration_min: {fixed: 5}
        turns: {seconds_per_turn: 15, user_speech_s: 5, agent_speech_s: 7,
                agent_text_tokens_per_s: 3.5}
        prompt: {system_tokens: 1000}
        stacks:
          - {stt: mistral/voxtral-mini-transcribe-3, llm: openai/gpt-4o,
             tts: minimax/speech-02-hd}
        """)
    result = run("estimate", str(scenario), "--pricing", str(out), "--date", "2026-11-30",
                 "--json")
    assert result.exit_code == 0, result.output
    (stack,) = json.loads(result.stdout)["results"]
    items = {li["item"]: li["usd"] for li in stack["line_items"]}
    # 1,000 calls x 20 turns of 15 s: 100 s of user speech a call at $0.0000583333/s
    assert items["mistral/voxtral-mini-transcribe-3 audio_time"] == pytest.approx(5.83, abs=0.01)
    # 20 x 7 s of agent speech x 15 characters/s = 2,100 characters a call, $100 per 1M
    assert items["minimax/speech-02-hd characters"] == pytest.approx(210.0)
    assert [n.split(": ", 1)[0] for n in stack["notes"] if NOTE in n] == [
        "mistral/voxtral-mini-transcribe-3", "openai/gpt-4o", "minimax/speech-02-hd"]


def test_a_non_empty_directory_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    assert _import(out, "--only", "tts").exit_code == 0
    again = _import(out, "--only", "tts")
    assert again.exit_code == 2 and "is not empty" in again.stderr and "--force" in again.stderr
    assert _import(out, "--only", "stt", "--force").exit_code == 0
    assert {p.name for p in out.iterdir()} >= {"mistral.yaml", "soniox.yaml"}
    assert not (out / "minimax.yaml").exists()      # the earlier import's TTS-only file went


@pytest.mark.parametrize(("args", "says"), [
    (("--from", "openrouter"), "--from takes one of litellm, genai-prices, voice-prices"),
    (("--from", "litellm", "--only", "llm,images"), "--only takes a comma-separated list"),
])
def test_bad_arguments_exit_2(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    result = run("prices", "import", *args, "-o", str(tmp_path / "x"))
    assert result.exit_code == 2 and says in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_package_not_installed_exits_2_naming_pip(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    result = run("prices", "import", "--from", "voice-prices", "-o", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "voice-prices is not installed: pip install voice-prices" in result.stderr
