"""`costmodel prices diff`: the catalog against a public price map, as a table or JSON, exit 1
on an unexplained difference."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from costmodel.cli import app

from ..conftest import write
from ..core.pricemaps import CATALOG, LITELLM

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def _setup(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "litellm.json").write_text(json.dumps(LITELLM))
    write(tmp_path / "prices", "test.yaml", CATALOG)   # test copies replace the built-in rates
    return str(tmp_path / "litellm.json"), str(tmp_path / "prices")


def test_an_unexplained_difference_exits_1_and_is_listed(tmp_path: Path) -> None:
    their, mine = _setup(tmp_path)
    result = run("prices", "diff", "--against", their, "--pricing", mine)
    assert result.exit_code == 1
    assert "xai/grok-voice-latest" in result.stdout and "unexplained" in result.stdout
    assert "0.08" in result.stdout and "1.6x" in result.stdout     # theirs, ratio
    assert "https://docs.x.ai/docs/models" in result.stdout        # our source
    assert "6 models, 14 rates agree, 3 differ (1 unexplained), 2 unpriced" in result.stdout


def test_json(tmp_path: Path) -> None:
    their, mine = _setup(tmp_path)
    result = run("prices", "diff", "--against", their, "--pricing", mine, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    grok = next(d for d in data["differences"] if d["model"] == "xai/grok-voice-latest")
    assert grok == {"model": "xai/grok-voice-latest", "rate": "connection", "unit": "min",
                    "ours": "0.05", "theirs": "0.07999999999998", "ratio": "1.6",
                    "their_ids": ["xai/grok-voice-latest"],
                    "source": "https://docs.x.ai/docs/models", "checked": "2026-11-25",
                    "explained_by": None}
    assert data["unexplained"] == 1 and data["agreeing_rates"] == 14
    assert {(u["model"], u["rate"], u["theirs"]) for u in data["unpriced"]} == {
        ("openai/gpt-realtime-mini", "image.input", "0.8"),
        ("openai/gpt-realtime-mini", "image.cached", "0.08")}


def test_an_alternative_recording_their_figure_explains_it(tmp_path: Path) -> None:
    their, mine = _setup(tmp_path)
    write(tmp_path / "more", "grok.yaml", """
        provider: more
        models:
          - id: xai/grok-voice-latest
            prices:
              - effective: 2025-12-17
                checked: 2026-11-25
                source: https://docs.x.ai/docs/models
                alternatives:
                  - source: https://docs.x.ai/developers/pricing#voice-pricing
                    figure: $0.08/min for grok-voice-latest (now grok-voice-think-fast-2.0)
                connection: {usd_per_minute: 0.05}
        """)
    result = run("prices", "diff", "--against", their, "--pricing", mine,
                 "--pricing", str(tmp_path / "more"))
    assert result.exit_code == 0, result.output
    assert "3 differ (0 unexplained)" in result.stdout


def test_a_map_that_cannot_be_read_exits_2(tmp_path: Path) -> None:
    result = run("prices", "diff", "--against", str(tmp_path / "missing.json"))
    assert result.exit_code == 2
