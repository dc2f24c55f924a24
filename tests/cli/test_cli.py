"""The command line: tables, --json contracts, exit codes, and clear errors (no tracebacks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

from typer.testing import CliRunner

from costmodel.cli import app

from ..conftest import TOY, write

ROOT = Path(__file__).parents[2]
SESSION = ROOT / "examples" / "sessions" / "openai-realtime-support.jsonl"
runner = CliRunner()


def run(*args: str, input: str | None = None):
    result = runner.invoke(app, list(args), input=input, env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def test_prices_list_filters_by_kind_and_provider():
    result = run("prices", "list", "--kind", "realtime", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {r["kind"] for r in rows} == {"realtime"}
    assert "openai/gpt-realtime-1.5" in {r["id"] for r in rows}
    rows = json.loads(run("prices", "list", "--provider", "openai", "--json").stdout)
    assert {r["provider"] for r in rows} == {"openai"}
    table = run("prices", "list", "--kind", "telephony")
    assert table.exit_code == 0 and "twilio/us-inbound" in table.stdout


def test_prices_list_rejects_an_unknown_kind():
    result = run("prices", "list", "--kind", "fax")
    assert result.exit_code == 2
    assert "--kind must be one of" in result.stderr


def test_prices_show_lists_every_rate_with_source_and_dates():
    result = run("prices", "show", "openai/gpt-realtime-1.5")
    assert result.exit_code == 0
    out = result.stdout
    for needle in ("audio.cached", "0.4", "64", "https://developers.openai.com/api/docs/models/"
                   "gpt-realtime-1.5", "effective 2026-02-23", "checked"):
        assert needle in out
    data = json.loads(run("prices", "show", "gpt-realtime-1.5", "--json").stdout)
    assert data["id"] == "openai/gpt-realtime-1.5"
    assert D(str(data["prices"][0]["tokens"]["audio"]["output"])) == 64


def test_unknown_id_exits_2_and_names_near_matches():
    result = run("prices", "show", "openai/gpt-realtime-15")
    assert result.exit_code == 2
    assert "unknown model 'openai/gpt-realtime-15'" in result.stderr
    assert "openai/gpt-realtime-1.5" in result.stderr


def test_prices_check_passes_on_the_builtin_catalog():
    result = run("prices", "check", "--max-age-days", "100000")
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout


def test_prices_check_fails_on_a_bad_user_file_naming_file_line_and_field(tmp_path):
    bad = TOY.replace("usd_per_minute: 0.01", "usd_per_minute: cheap")
    d = write(tmp_path / "mine", "mine.yaml", bad).parent
    result = run("prices", "check", "--pricing", str(d), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    (msg,) = data["errors"]
    assert "mine.yaml:" in msg and "toy/phone" in msg and "connection.usd_per_minute" in msg


def test_stale_rates_are_listed_but_do_not_fail(tmp_path):
    d = write(tmp_path / "mine", "toy.yaml", TOY).parent
    result = run("prices", "check", "--pricing", str(d), "--max-age-days", "30")
    assert result.exit_code == 0
    assert "toy/phone" in result.stdout and "stale" in result.stdout


def test_overrides_are_reported_never_silent(tmp_path):
    mine = write(tmp_path / "mine", "o.yaml", """
        provider: mine
        models:
          - id: openai/gpt-realtime-1.5
            prices:
              - effective: 2026-02-23
                checked: 2026-11-25
                source: https://example.com/contract
                tokens: {audio: {input: 16, cached: 0.2, output: 32}}
        """).parent
    result = run("prices", "show", "openai/gpt-realtime-1.5", "--pricing", str(mine))
    assert result.exit_code == 0
    assert "overrides" in result.stderr and "o.yaml" in result.stderr


def test_price_events_json_contract():
    result = run("price-events", str(SESSION), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "gpt-realtime-1.5" and data["currency"] == "USD"
    assert len(data["responses"]) == 6 and len(data["transcriptions"]) == 6
    for li in data["line_items"]:
        assert {"item", "quantity", "unit", "usd"} <= li.keys()
    # total_usd includes transcription
    items_total = sum(D(str(li["usd"])) for li in data["line_items"])
    assert abs(D(data["total_usd_exact"]) - items_total) < D("1e-12")
    assert any(li["model"] == "openai/gpt-4o-transcribe" for li in data["line_items"])
    assert D(data["total_usd_exact"]) == D(str(data["total_usd"]))


def test_price_events_table_and_model_override():
    result = run("price-events", str(SESSION), "--model", "openai/gpt-realtime-mini")
    assert result.exit_code == 0
    assert "response 6" in result.stdout and "total $" in result.stdout


def test_price_events_skips_bad_lines_and_strict_fails(tmp_path):
    lines = SESSION.read_text().splitlines()
    lines.insert(3, "{oops")
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join(lines) + "\n")
    ok = run("price-events", str(f))
    assert ok.exit_code == 0
    assert "skipped line 4" in ok.stderr and "1 of 51 lines skipped" in ok.stdout
    assert run("price-events", str(f), "--strict").exit_code == 1


def test_price_events_unknown_model_and_missing_file(tmp_path):
    r = run("price-events", str(SESSION), "--model", "gpt-realtime-9")
    assert r.exit_code == 2 and "did you mean" in r.stderr
    r = run("price-events", str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = run("price-events", str(tmp_path))
    assert r.exit_code == 2 and "is a directory" in r.stderr


def test_price_events_from_stdin():
    r = run("price-events", "-", "--json", input=SESSION.read_text())
    assert r.exit_code == 0 and json.loads(r.stdout)["model"] == "gpt-realtime-1.5"


def test_tokens_counts_offline(tmp_path):
    f = tmp_path / "prompt.txt"
    f.write_text("Hello, world!")
    r = run("tokens", str(f), "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["tokens"] == 4
    assert run("tokens", "--encoding", "cl100k_base", input="Hello, world!").exit_code == 0


def test_tokens_unknown_encoding_is_a_clear_error():
    r = run("tokens", "--encoding", "nope_base", input="hi")
    assert r.exit_code == 1
    assert "unknown tiktoken encoding 'nope_base'" in r.stderr


def test_real_subprocess_console_script_and_exit_codes(tmp_path):
    """The installed `costmodel` script, run as a user would, offline, in a fresh cache."""
    env = {**os.environ, "COLUMNS": "200", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("TIKTOKEN_CACHE_DIR", None)
    env.pop("COSTMODEL_PRICING", None)
    exe = [sys.executable, "-m", "costmodel"]
    p = subprocess.run([*exe, "price-events", str(SESSION), "--json"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["currency"] == "USD"
    p = subprocess.run([*exe, "prices", "show", "nope/nope"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "unknown model" in p.stderr
    p = subprocess.run([*exe, "tokens", "-"], input="Hello, world!", capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0 and p.stdout.startswith("4 tokens")


def test_price_events_at_a_past_date_uses_the_rates_then_in_force():
    # gpt-realtime-1.5 took effect 2026-02-23: before that it has no price, so the total is
    # unknown (null), never $0, and the exit code says so.
    r = run("price-events", str(SESSION), "--json", "--date", "2025-01-01")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["total_usd"] is None and len(data["unpriced"]) == 12
    assert "no price in force on 2025-01-01" in data["unpriced"][0]["reason"]
    assert run("price-events", str(SESSION), "--date", "2026-11-01").exit_code == 0


# ---- long sessions ----------------------------------------------------------------------------

def _session_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_price_events_json_is_laid_out_as_json_dumps_lays_it_out(tmp_path):
    # Rows are formatted as they are priced and streamed: the document must still read
    # exactly as json.dumps(indent=2) prints it, whatever the rows hold.
    odd = []  # rows with audio_seconds (whisper-1 bills time) and one with no tokens at all
    for line in SESSION.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "conversation.item.input_audio_transcription.completed":
            event["usage"] = {"type": "duration", "seconds": 2.5}
        if event["type"] == "response.done" and '"response.done"' not in "".join(odd):
            event["response"]["usage"] = {"input_tokens": 0, "output_tokens": 0}
        odd.append(json.dumps(event).replace('"gpt-4o-transcribe"', '"whisper-1"'))
    sessions = [*sorted((ROOT / "examples" / "sessions").glob("*.jsonl")),
                _session_file(tmp_path, odd)]
    for path in sessions:
        r = run("price-events", str(path), "--json", "--connection-seconds", "60")
        data = json.loads(r.stdout)
        assert r.stdout == json.dumps(data, indent=2) + "\n", path.name
    assert any("audio_seconds" in row for row in data["transcriptions"])
    assert {} in [row["tokens"] for row in data["responses"]]


def test_json_rows_past_the_in_memory_spool_are_printed_whole(capsys):
    from costmodel.cli._common import JsonRows, print_json

    def item_text(n: int, label: str) -> str:
        return "    " + json.dumps({"n": n, "label": label}, indent=2).replace("\n", "\n    ")

    rows = JsonRows(item_text)
    for i in range(20_001):  # ~7 MB: spooled to disk, in batches and a partial one
        rows.append(f"{i}" + "x" * 300)
    print_json({"a": 1, "rows": [], "empty": [], "b": None},
               rows={"rows": rows, "empty": JsonRows(item_text)})
    out = capsys.readouterr().out
    items = [{"n": i + 1, "label": f"{i}" + "x" * 300} for i in range(20_001)]
    expected = {"a": 1, "rows": items, "empty": [], "b": None}
    assert out == json.dumps(expected, indent=2) + "\n"


def test_a_long_session_table_shows_its_first_and_last_rows(tmp_path):
    path = _session_file(tmp_path, SESSION.read_text().splitlines() * 15)  # 180 priced
    r = run("price-events", str(path))
    assert r.exit_code == 0
    rows = [line for line in r.stdout.splitlines() if line.startswith("│")]
    numbers = [line.split("│")[1].strip() for line in rows]
    assert numbers[:80] == [str(i) for i in range(1, 81)]
    assert numbers[80] == "…" and "80 more rows (--all shows every row)" in rows[80]
    assert numbers[81:101] == [str(i) for i in range(161, 181)]
    assert "total $" in r.stdout and "over 180 priced usages" in r.stdout
    everything = run("price-events", str(path), "--all")
    numbers = [line.split("│")[1].strip() for line in everything.stdout.splitlines()
               if line.startswith("│")]
    assert numbers[:180] == [str(i) for i in range(1, 181)]
    assert "more rows" not in everything.stdout
    # a session that fits is drawn whole, with no note
    assert "more rows" not in run("price-events", str(SESSION)).stdout


# ---- start-up: the command line loads what a command runs, when it runs ------------------------

def test_building_the_command_line_loads_no_command_s_machinery():
    # `costmodel --help` once imported numpy, asyncio, the relay and the ledgers up front.
    # rich is imported by whatever prints (a table, an error, typer's help), pydantic by
    # whatever needs the catalog.
    code = ("import sys, costmodel.cli; print(' '.join(sorted(m for m in sys.modules if "
            "m.split('.')[0] in ('numpy', 'asyncio', 'websockets', 'yaml', 'sqlite3', "
            "'tiktoken', 'prometheus_client', 'rich', 'pydantic') or m.startswith(("
            "'costmodel.core', 'costmodel.estimation', "
            "'costmodel.guard', 'costmodel.ledger', 'costmodel.adapters', 'costmodel.hooks', "
            "'costmodel._yamlmarks')))))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, check=True)
    assert p.stdout.split() == []
    r = run("--help")
    assert r.exit_code == 0
    for command in ("prices", "price-events", "estimate", "compare", "curve", "guard",
                    "ledger", "tokens"):
        assert command in r.stdout


def test_the_limits_the_help_shows_are_the_library_s():
    from costmodel.adapters.recorded import FORMATS
    from costmodel.cli import _bounds
    from costmodel.core.rates import KINDS
    from costmodel.core.tokens import DEFAULT_ENCODING
    from costmodel.estimation import scenario
    from costmodel.guard.policy import MAX_LIMIT_USD
    from costmodel.ledger.spool import SPOOL_ENV

    assert _bounds.KINDS == KINDS and _bounds.FORMATS == FORMATS
    assert _bounds.DEFAULT_ENCODING == DEFAULT_ENCODING and _bounds.SPOOL_ENV == SPOOL_ENV
    assert _bounds.MAX_LIMIT_USD == MAX_LIMIT_USD
    assert (_bounds.MAX_CALL_MINUTES, _bounds.MAX_CALLS_PER_MONTH,
            _bounds.MAX_SIMULATED_CALLS) == (scenario.MAX_CALL_MINUTES,
                                             scenario.MAX_CALLS_PER_MONTH,
                                             scenario.MAX_SIMULATED_CALLS)


def test_a_shut_down_model_is_a_note_once_not_a_python_warning():
    # Gemini 3.1 Flash Live's catalog shutdown date is 2026-11-17: priced after it, at its last
    # list price, with one note on stderr (no Python warning with a file and line number).
    r = run("curve", "--stack", "google/gemini-3.1-flash-live", "--max-minutes", "2",
            "--date", "2026-11-20")
    assert r.exit_code == 0, r.output
    assert r.stderr.count("shut down on 2026-11-17") == 1 and "note:" in r.stderr
    assert "Warning" not in r.stderr and ".py:" not in r.stderr
    # an estimate says it once too: in its notes, not also as a warning
    r = run("compare", str(ROOT / "examples" / "support-line.yaml"), "--date", "2026-11-20",
            "--calls", "2000")
    assert r.exit_code == 0, r.output
    assert (r.stdout + r.stderr).count("shut down on 2026-11-17") == 1
    assert "Warning" not in r.stderr
