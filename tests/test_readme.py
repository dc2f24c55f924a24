"""The README's Python examples run as written.

Each ```python block is executed with only the names its prose says come from the reader's
own code (a provider event, a session's events, a Pipecat pipeline, a LiveKit session) filled
in with real objects, in a scratch directory (the guard example writes ``spend.db``). A block
that stops running fails here, so the README cannot drift from the API.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
from pathlib import Path

import pytest

from costmodel import default_catalog
from tests.sessions import openai_session

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def _first_line(code: str) -> str:
    return next(line for line in code.splitlines() if line.strip())[:60]


@pytest.fixture
def reader_names(tmp_path, monkeypatch):
    """What the examples take from the reader's own code, as real objects."""
    monkeypatch.chdir(tmp_path)
    events = openai_session(default_catalog(), turns=3)
    names = {"provider_events": events,
             "event": next(e for e in events if e["type"] == "response.done")}
    try:
        from livekit.agents import AgentSession
        from pipecat.pipeline.pipeline import Pipeline
        from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    except ImportError:     # the hooks' example needs the [pipecat,livekit] extras
        yield names
        return
    # Both frameworks' objects are made inside a running program's event loop: give them
    # one of their own (earlier tests' asyncio.run() leave none set).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        names.update(pipeline=Pipeline([]), PipelineWorker=PipelineWorker,
                     PipelineParams=PipelineParams, session=AgentSession())
        yield names
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_the_readme_has_its_examples():
    assert len(BLOCKS) >= 5, [_first_line(b) for b in BLOCKS]


def test_every_python_example_runs(reader_names, capsys):
    # One namespace, in order: a later block may use what an earlier one made (as a reader
    # following along would), e.g. the shared-budget guard reuses the first guard's imports.
    namespace = dict(reader_names)
    for code in BLOCKS:
        if "hooks." in code and "session" not in namespace:
            continue
        try:
            exec(compile(code, f"README.md: {_first_line(code)}", "exec"), namespace)
        except Exception as exc:  # say which example broke
            pytest.fail(f"README example {_first_line(code)!r} raised {exc!r}")
    printed = capsys.readouterr().out
    assert "$0.30" in printed and "the refund must be a finite amount in USD >= 0" in printed
    assert namespace["cost"].total_usd > 0 and namespace["decision"].action in {
        "ok", "warn", "wrap_up", "cut"}


# -- the command-line examples -------------------------------------------------------------------
ROOT = README.parent
SHELL = re.findall(r"^```bash\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
# Commands that need something this machine must not reach or keep running (a provider, a
# server until Ctrl-C, a browser) are left to their own tests (tests/guard, tests/webhooks,
# tests/app).
LONG_RUNNING = ("costmodel guard serve", "costmodel serve-webhooks", "streamlit run")
CLI_EXAMPLES = [line.split("  #")[0].strip() for block in SHELL for line in block.splitlines()
                if line.startswith("costmodel ")
                and not line.startswith(LONG_RUNNING) and not line.endswith("\\")]


def test_the_readme_shows_the_commands_it_promises():
    subcommands = {line.split()[1] for line in CLI_EXAMPLES}
    assert {"price-events", "prices", "tokens", "estimate", "curve", "ledger"} <= subcommands


@pytest.mark.parametrize("line", CLI_EXAMPLES)
def test_every_command_line_example_runs(line, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from costmodel.cli import app

    # The reader's own files the examples name, stood in for by the repository's examples.
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for name in ("session.jsonl", "long-session.jsonl"):
        shutil.copy(ROOT / "examples/sessions/openai-realtime-support.jsonl", tmp_path / name)
    (tmp_path / "prompt.txt").write_text("You are a helpful voice agent for Acme.\n")
    (tmp_path / "prices").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))     # ~/prices is the scratch directory's
    monkeypatch.delenv("COSTMODEL_PRICING", raising=False)
    args = [Path(a).expanduser().as_posix() if a.startswith("~") else a
            for a in shlex.split(line)[1:]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{line}\n{result.output}"
    assert result.stdout.strip()
