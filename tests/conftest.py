"""Shared fixtures: the built-in catalog, and small catalogs written to a temp dir."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from costmodel import Catalog

# A tiny catalog with numbers easy to check by hand. Dates are fixed so tests never depend
# on today's date.
TOY = """
provider: toy
models:
  - id: toy/realtime
    kind: realtime
    name: Toy realtime
    aliases: [toy-rt]
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/toy/v1
        tokens:
          text: {input: 4, cached: 0.4, output: 16}
          audio: {input: 40, cached: 4, output: 80}
      - effective: 2026-01-01
        checked: 2026-01-02
        source: https://example.com/toy/v2
        tokens:
          text: {input: 2, cached: 0.2, output: 8}
          audio: {input: 20, cached: 2, output: 40}
  - id: toy/phone
    kind: telephony
    name: Toy phone line
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/toy/phone
        connection: {usd_per_minute: 0.01, increment_seconds: 60}
  - id: toy/stt
    kind: stt
    name: Toy STT billed per 15 s with a 30 s minimum
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/toy/stt
        audio: {usd_per_hour: 0.36, increment_seconds: 15, minimum_seconds: 30}
  - id: toy/tts
    kind: tts
    name: Toy TTS
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/toy/tts
        characters: {usd_per_mchar: 50}
  - id: toy/gpu
    kind: selfhost
    name: Toy GPU
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/toy/gpu
        gpu: {usd_per_hour: 2.40}
  - id: toy/open-model
    kind: selfhost
    name: Toy open model
    selfhost:
      runs_on: toy/gpu
      gpus: 2
      concurrent_sessions: 8
      utilization: 0.5
      source: https://example.com/toy/open-model
      checked: 2025-01-02
"""


def write(dir_: Path, name: str, text: str) -> Path:
    dir_.mkdir(parents=True, exist_ok=True)
    path = dir_ / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_user_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the catalogs they ask for, whatever the developer's environment says."""
    monkeypatch.delenv("COSTMODEL_PRICING", raising=False)


@pytest.fixture(autouse=True)
def _no_user_spool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Spend a failing ledger could not take is spooled to this test's own directory, never
    to the developer's cache directory (tests that check the default unset it)."""
    monkeypatch.setenv("COSTMODEL_SPOOL_DIR", str(tmp_path / "default-spool"))
    # ...and the catalog's parse cache is the test's own too.
    monkeypatch.setenv("COSTMODEL_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    write(tmp_path / "toy", "toy.yaml", TOY)
    return tmp_path / "toy"


@pytest.fixture(scope="session")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The toy catalog alone (session-wide: a Catalog is immutable once loaded)."""
    d = tmp_path_factory.mktemp("toy")
    write(d, "toy.yaml", TOY)
    return Catalog.load([d], include_builtin=False)


# Test copies of chained-pipeline rates, so adapter tests do not move when list prices do.
# Claude Haiku 4.5 figures are Anthropic's list rates; the STT/TTS ones are round test values.
PIPELINE = """
provider: test
models:
  - id: anthropic/claude-haiku-4.5
    kind: llm
    name: Claude Haiku 4.5 (test copy)
    aliases: [claude-haiku-4-5-20251001]
    prices:
      - effective: 2025-10-15
        checked: 2026-11-25
        source: https://platform.claude.com/docs/en/about-claude/pricing
        tokens:
          text: {input: 1.00, cached: 0.10, cache_write_5m: 1.25, cache_write_1h: 2.00,
                 output: 5.00}
  - id: deepgram/nova-3
    kind: stt
    name: Nova-3 (test copy)
    prices:
      - effective: 2025-01-01
        checked: 2026-11-25
        source: https://example.com/test
        confidence: assumption
        audio: {usd_per_minute: 0.0060, increment_seconds: 1}
  - id: cartesia/sonic-3
    kind: tts
    name: Sonic 3 (test copy)
    prices:
      - effective: 2025-01-01
        checked: 2026-11-25
        source: https://example.com/test
        confidence: assumption
        characters: {usd_per_mchar: 50}
"""


@pytest.fixture(scope="session")
def builtin() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def openai_catalog() -> Catalog:
    """Only the built-in OpenAI file (the adapter tests' realtime and chat rates)."""
    from costmodel.core.catalog import builtin_dir

    return Catalog.load([builtin_dir() / "openai.yaml"], include_builtin=False)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    d = tmp_path_factory.mktemp("pipeline")
    write(d, "pipeline.yaml", PIPELINE)
    return Catalog.load([d], include_builtin=False)
