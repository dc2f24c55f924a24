"""Every bad input gets a clear error and the right exit code, never a traceback.

A corpus of CLI invocations, each a line of specification: what is given, which exit code
(2: bad arguments or input files; 1: invalid catalog, or a total that is not known), and what
stderr must say (the file, line or field, and what was expected). Every case also checks that
nothing crashed, that stdout has no Infinity or NaN, and that it runs fast: /dev/zero must be
refused by the size limits, not read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from costmodel import Usage
from costmodel.cli import app
from costmodel.cli._common import print_json
from costmodel.errors import CostModelError, UsageError

ROOT = Path(__file__).parents[2]
SESSION = ROOT / "examples" / "sessions" / "openai-realtime-support.jsonl"
runner = CliRunner()

SCENARIO = ("name: x\nvolume: {calls_per_month: 10}\nduration_min: {fixed: 6}\n"
            "stacks: [openai/gpt-realtime-1.5]\n")


def scenario(**lines: str) -> bytes:
    """The minimal scenario with some top-level keys replaced."""
    keys = {"name": "x", "volume": "{calls_per_month: 10}", "duration_min": "{fixed: 6}",
            "stacks": "[openai/gpt-realtime-1.5]", **lines}
    return "".join(f"{k}: {v}\n" for k, v in keys.items()).encode()


CREATED = json.dumps({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})


def done(usage: object) -> str:
    return json.dumps({"type": "response.done", "response": {"usage": usage}})


GOOD = {"input_tokens": 10, "output_tokens": 0, "input_token_details": {"audio_tokens": 10},
        "output_token_details": {}}


def catalog(rate: str = "3", extra: str = "") -> bytes:
    return (f"provider: mine\nmodels:\n  - id: mine/llm\n    kind: llm\n    name: Mine\n{extra}"
            "    prices:\n      - effective: 2025-01-01\n        checked: 2025-01-02\n"
            "        source: https://example.com/mine\n"
            f"        tokens:\n          text: {{input: {rate}, output: 1}}\n").encode()


@dataclass
class Case:
    id: str
    args: list[str]                     # "{d}" is the case's temporary directory
    code: int
    says: list[str]                     # all of these appear on stderr
    files: dict[str, bytes] = field(default_factory=dict)
    stdin: str | None = None


BOM = b"\xef\xbb\xbf"

CASES = [
    # -- files that are not what they claim to be -------------------------------------------
    # A scenario saved in Latin-1: the byte and its line, not a UnicodeDecodeError.
    Case("scenario-not-utf8", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml", "not UTF-8 text", "0xe9", "line 5"],
         {"s.yaml": scenario() + b"# caf\xe9\n"}),
    Case("compare-not-utf8", ["compare", "{d}/s.yaml"], 2, ["s.yaml", "not UTF-8"],
         {"s.yaml": b"name: caf\xe9\n"}),
    # An executable given as a scenario: binary, refused before YAML sees it.
    Case("scenario-binary", ["estimate", "{d}/s.yaml"], 2, ["s.yaml", "binary file"],
         {"s.yaml": b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256))}),
    # UTF-16 (Windows "Unicode") is named as such.
    Case("scenario-utf16", ["estimate", "{d}/s.yaml"], 2, ["s.yaml", "UTF-16"],
         {"s.yaml": SCENARIO.encode("utf-16")}),
    # 20,000 nested lists would overflow the stack while composing: refused at a depth.
    Case("scenario-deep-yaml", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml:1", "nested more than 100 levels"],
         {"s.yaml": b"a: " + b"[" * 20_000 + b"]" * 20_000}),
    # int() of more than 4,300 digits raises a bare ValueError: refused with its line.
    Case("scenario-huge-integer", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml:2", "an integer of 5000 digits"],
         {"s.yaml": scenario(volume="{calls_per_month: " + "9" * 5000 + "}")}),
    # A control character is not YAML; the line is named.
    Case("scenario-control-char", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml:1", "special characters"], {"s.yaml": b"name: a\x01b\n"}),
    # /dev/zero has no end: at most limit+1 bytes are read.
    Case("scenario-dev-zero", ["estimate", "/dev/zero"], 2,
         ["/dev/zero", "file too large", "1 MB limit"]),
    Case("compare-dev-zero", ["compare", "/dev/zero"], 2, ["/dev/zero", "file too large"]),
    # A call-length CSV that never ends.
    Case("empirical-dev-zero", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml", "duration_min.empirical", "file too large", "16 MB limit"],
         {"s.yaml": scenario(duration_min="{empirical: /dev/zero}")}),
    # A prompt file that never ends.
    Case("system-file-dev-zero", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml", "prompt.system_file", "file too large"],
         {"s.yaml": scenario(prompt="{system_file: /dev/zero}")}),
    Case("system-file-not-utf8", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml", "prompt.system_file", "not UTF-8"],
         {"s.yaml": scenario(prompt="{system_file: p.txt}"), "p.txt": b"\xff\xfe\xfa"}),
    Case("tokens-dev-zero", ["tokens", "/dev/zero"], 2, ["/dev/zero", "file too large"]),
    # An event file with no line breaks: one line may be 16 MB, then it is not JSONL.
    Case("price-events-dev-zero", ["price-events", "/dev/zero"], 2,
         ["/dev/zero", "line 1 is longer than 16 MB"]),
    Case("replay-dev-zero", ["guard", "replay", "/dev/zero", "--limit-usd", "1"], 2,
         ["/dev/zero", "line 1 is longer than 16 MB"]),
    Case("price-events-directory", ["price-events", "{d}"], 2, ["is a directory"]),
    Case("replay-missing-file", ["guard", "replay", "{d}/no.jsonl", "--limit-usd", "1"], 2,
         ["no.jsonl", "no such file"]),
    # A catalog path that is a device is read within the catalog limit, not forever.
    Case("pricing-dev-zero", ["prices", "check", "--pricing", "/dev/zero"], 1,
         ["/dev/zero", "file too large", "4 MB limit"]),
    # -- numbers -----------------------------------------------------------------------------
    # 5,000 digits in an event: the line is skipped with a reason; nothing else was usage, so
    # the total is unknown.
    Case("event-huge-integer", ["price-events", "{d}/e.jsonl"], 1,
         ["line 2", "too many digits", "total unknown"],
         {"e.jsonl": f'{CREATED}\n{{"type": "response.done", "n": {"9" * 5000}}}\n'.encode()}),
    Case("replay-huge-integer", ["guard", "replay", "{d}/e.jsonl", "--limit-usd", "1"], 1,
         ["cannot be priced", "too many digits"],
         {"e.jsonl": f'{CREATED}\n{{"type": "response.done", "n": {"9" * 5000}}}\n'.encode()}),
    # NaN and Infinity are not JSON numbers.
    Case("event-nan", ["price-events", "{d}/e.jsonl"], 1, ["line 2", "NaN is not a JSON"],
         {"e.jsonl": f'{CREATED}\n{{"type": "response.done", "x": NaN}}\n'.encode()}),
    # A rate of 1e100000 validated, then crashed pricing: now refused, naming file and field.
    Case("catalog-absurd-rate", ["prices", "check", "--pricing", "{d}/c.yaml"], 1,
         ["c.yaml:11", "mine/llm", "tokens.text.input", "less than or equal to 1000000"],
         {"c.yaml": catalog('"1e100000"')}),
    Case("catalog-absurd-rate-pricing", ["price-events", str(SESSION), "--pricing", "{d}/c.yaml"],
         1, ["c.yaml:11", "tokens.text.input"], {"c.yaml": catalog('"1e100000"')}),
    # `true` is not a count.
    Case("catalog-bool-fact", ["prices", "check", "--pricing", "{d}/c.yaml"], 1,
         ["c.yaml", "facts.context_window_tokens", "valid integer"],
         {"c.yaml": catalog(extra="    facts: {context_window_tokens: true}\n")}),
    Case("connection-seconds-inf", ["price-events", str(SESSION), "--model",
                                    "xai/grok-voice-agent", "--connection-seconds", "inf"], 2,
         ["--connection-seconds", "finite number from 0 to 86400"]),
    Case("connection-seconds-nan", ["price-events", str(SESSION), "--model",
                                    "xai/grok-voice-agent", "--connection-seconds", "nan"], 2,
         ["--connection-seconds", "finite"]),
    Case("calls-per-month-inf", ["estimate", "{d}/s.yaml", "--calls-per-month", "inf"], 2,
         ["--calls-per-month", "finite"], {"s.yaml": scenario()}),
    # Ten billion calls a month is the documented bound.
    Case("calls-per-month-above-bound", ["compare", "{d}/s.yaml", "--calls-per-month", "1e11"],
         2, ["--calls-per-month", "1e+10"], {"s.yaml": scenario()}),
    # YAML's `true` is a boolean, not 1 call a month.
    Case("scenario-bool-volume", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml:2", "volume.calls_per_month", "valid number"],
         {"s.yaml": scenario(volume="{calls_per_month: true}")}),
    # 1e30 tokens of system prompt is no prompt at all.
    Case("scenario-huge-prompt", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml:5", "prompt.system_tokens", "less than or equal to 10000000"],
         {"s.yaml": scenario(prompt="{system_tokens: " + "1" + "0" * 30 + "}")}),
    # YAML's .inf is a float; finite numbers only.
    Case("scenario-inf-rate", ["estimate", "{d}/s.yaml"], 2,
         ["s.yaml:5", "turns.characters_per_s", "finite number"],
         {"s.yaml": scenario(turns="{characters_per_s: .inf}")}),
    Case("curve-step-inf", ["curve", "--stack", "openai/gpt-realtime-1.5", "--step", "inf"], 2,
         ["--step", "finite"]),
    Case("replay-limit-inf", ["guard", "replay", str(SESSION), "--limit-usd", "inf"], 2,
         ["--limit-usd", "finite"]),
    Case("replay-limit-overflow", ["guard", "replay", str(SESSION), "--limit-usd", "1e400"], 2,
         ["--limit-usd", "finite"]),
    Case("max-age-negative", ["prices", "check", "--max-age-days", "-1"], 2,
         ["--max-age-days"]),
    # -- never $0 for what was not priced ----------------------------------------------------
    # Every usage line rejected: not $0, unknown, and the reason is given.
    Case("all-usage-rejected", ["price-events", "{d}/e.jsonl"], 1,
         ["total unknown", "no usage could be priced", "line 2", "from 0 to 1e12"],
         {"e.jsonl": f"{CREATED}\n{done({**GOOD, 'input_tokens': 1e30})}\n".encode()}),
    Case("replay-all-usage-rejected", ["guard", "replay", "{d}/e.jsonl", "--limit-usd", "1"], 1,
         ["cannot be priced", "no usage could be priced"],
         {"e.jsonl": f"{CREATED}\n{done({**GOOD, 'input_tokens': 1e30})}\n".encode()}),
    # `usage: {}` reports nothing: not a usage of zero tokens.
    Case("empty-usage", ["price-events", "{d}/e.jsonl"], 1,
         ["line 2", "reports none of", "total unknown"],
         {"e.jsonl": f"{CREATED}\n{done({})}\n".encode()}),
    Case("no-usage-at-all", ["price-events", "{d}/e.jsonl"], 1,
         ["total unknown", "no usage found"], {"e.jsonl": f"{CREATED}\n".encode()}),
    # -- markup in quoted input is text, not a crash -----------------------------------------
    Case("markup-in-model-id", ["prices", "show", "[/x]"], 2, ["unknown model '[/x]'"]),
    Case("markup-in-scenario-name", ["estimate", "{d}/s.yaml", "--calls", "100"], 0, [],
         {"s.yaml": scenario(name='"[/x]"')}),
    # -- a byte-order mark is not content ----------------------------------------------------
    Case("bom-scenario-and-csv", ["estimate", "{d}/s.yaml", "--calls", "100"], 0, [],
         {"s.yaml": BOM + scenario(duration_min="{empirical: d.csv}"),
          "d.csv": BOM + b"minutes\n5\n7\n"}),
    Case("bom-catalog", ["prices", "check", "--pricing", "{d}/c.yaml"], 0, [],
         {"c.yaml": BOM + catalog()}),
    Case("bom-tokens-stdin", ["tokens", "-"], 0, [], stdin="\ufeffhello world"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data)
    args = [a.replace("{d}", str(tmp_path)) for a in case.args]
    started = time.perf_counter()
    r = runner.invoke(app, args, input=case.stdin, env={"COLUMNS": "300"})
    elapsed = time.perf_counter() - started
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    assert r.exit_code == case.code, r.output
    for needle in case.says:
        assert needle in r.stderr, (needle, r.stderr)
    assert "Infinity" not in r.stdout and "NaN" not in r.stdout
    # Well under a second alone; the margin is for a loaded machine. Reading /dev/zero
    # without a limit would run until memory ran out.
    assert elapsed < 3.0, f"{case.id} took {elapsed:.2f} s"


def test_bom_in_an_event_file_does_not_cost_line_1():
    data = b"\xef\xbb\xbf" + SESSION.read_bytes()
    r = runner.invoke(app, ["price-events", "-", "--json"], input=data)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["skipped"] == [] and report["model"] == "gpt-realtime-1.5"


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs /etc/passwd")
def test_a_wrong_file_is_quoted_at_most_40_bytes(tmp_path):
    # A secret file given as call lengths: the error names the line, quotes <= 40 bytes.
    secret = Path("/etc/passwd").read_bytes()
    (tmp_path / "s.yaml").write_bytes(scenario(duration_min="{empirical: /etc/passwd}"))
    r = runner.invoke(app, ["estimate", str(tmp_path / "s.yaml")])
    assert r.exit_code == 2 and "/etc/passwd:1" in r.stderr
    said = r.output.encode()
    assert not any(secret[i:i + 41] in said for i in range(len(secret) - 40))


def test_a_long_bad_cell_is_clipped(tmp_path):
    token = "x" * 30 + "SECRET" * 20
    (tmp_path / "d.csv").write_text(f"5\n{token}\n")
    (tmp_path / "s.yaml").write_bytes(scenario(duration_min="{empirical: d.csv}"))
    r = runner.invoke(app, ["estimate", str(tmp_path / "s.yaml")])
    assert r.exit_code == 2 and "d.csv:2" in r.stderr
    assert token[:40] in r.stderr and token[:41] not in r.stderr


def test_a_regular_file_over_the_limit_is_refused_by_its_size(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:  # sparse: the size says enough, nothing is read
        fh.truncate(3 * 1024 * 1024)
    r = runner.invoke(app, ["estimate", str(big)])
    assert r.exit_code == 2
    assert "file too large (3 MB > 1 MB limit)" in r.stderr


def test_dev_zero_on_stdin_fails_fast_in_a_real_process():
    # The installed entry point, as a shell would run it: `costmodel tokens - < /dev/zero`.
    started = time.perf_counter()
    with open("/dev/zero", "rb") as zero:
        p = subprocess.run([sys.executable, "-m", "costmodel", "tokens", "-"], stdin=zero,
                           capture_output=True, text=True, timeout=30, check=False,
                           env={**os.environ, "COLUMNS": "200"})
    assert p.returncode == 2 and "file too large" in p.stderr
    assert "Traceback" not in p.stderr
    assert time.perf_counter() - started < 10


def test_price_events_and_replay_agree_when_a_response_has_no_usage(tmp_path):
    # The guard estimates a response.done whose usage is missing (live, it must meter it);
    # the recorded cost is what the file reports. Replay once reported the estimate as the
    # recorded cost, so the two commands gave different totals for one file.
    lines = SESSION.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if '"response.done"' in line)
    event = json.loads(lines[i])
    del event["response"]["usage"]
    lines[i] = json.dumps(event)
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n")
    priced = runner.invoke(app, ["price-events", str(path), "--json"])
    replayed = runner.invoke(app, ["guard", "replay", str(path), "--limit-usd", "100",
                                   "--json"])
    # price-events: a usage event was rejected, so its total is unknown (issue 11: never a
    # complete total that silently leaves it out), exit 1; the priced part is what replay
    # reports as the recorded cost.
    assert (priced.exit_code, replayed.exit_code) == (1, 0)
    report = json.loads(priced.stdout)
    assert report["total_usd_exact"] is None and report["rejected_count"] == 1
    assert "response.done without usage" in report["total_unknown_reason"]
    replay = json.loads(replayed.stdout)
    assert replay["unguarded_usd_exact"] == report["priced_usd_exact"] == replay["spent_usd_exact"]
    assert replay["skipped_lines"] == [i + 1]


def test_the_json_printer_refuses_non_finite_numbers(capsys):
    for bad in (float("inf"), float("nan"), Decimal("Infinity"), Decimal("1e400")):
        with pytest.raises(CostModelError, match=r"\$\.results\[0\]\.usd"):
            print_json({"results": [{"usd": bad}]})
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("kwargs", [
    {"connection_seconds": Decimal("Infinity")},
    {"audio_seconds": Decimal("NaN")},
    {"tokens": {"audio.input": 10 ** 30}},
    {"characters": 10 ** 13},
])
def test_usage_refuses_quantities_past_the_sanity_bound(kwargs):
    # 1e12 tokens or seconds per usage: nothing real is larger.
    with pytest.raises(UsageError, match="1e12"):
        Usage("openai/gpt-realtime-1.5", **kwargs)


def test_a_file_of_garbage_keeps_a_bounded_list_of_problems(tmp_path):
    # /dev/urandom as a session once grew the list of skipped lines without end: the report
    # keeps the first 1,000 reasons and counts them all.
    path = tmp_path / "junk.jsonl"
    path.write_text("not json\n" * 5000 + "{}\n" * 20_000)
    r = runner.invoke(app, ["price-events", str(path), "--json"])
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["total_usd"] is None
    assert data["skipped_count"] == 25_000 and len(data["skipped"]) == 1000
    r = runner.invoke(app, ["guard", "replay", str(path), "--limit-usd", "1"])
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_a_recorded_session_has_a_total_size_bound():
    import io

    from costmodel._files import read_lines
    stream = io.BytesIO(b"{}\n" * 1000)
    with pytest.raises(UsageError, match="file too large"):
        list(read_lines(stream, fail=UsageError, total_limit=2000))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"{}", b"\n", b"\r\n", b"\xc3\xa9", b"\xe2", b"\xbf",
                                 b"\xef\xbb\xbf", b" "]), max_size=40),
       st.sampled_from([1, 2, 5, 64]), st.sampled_from([3, 6, 100]))
def test_session_lines_are_the_file_s_lines_however_it_is_read(parts, block, limit):
    # Sessions are read in blocks and split; that must give what reading line by line gives:
    # the same lines (a BOM dropped from the first only, bad UTF-8 as U+FFFD), and the same
    # "line N is longer than" refusal for the first line past the bound.
    import io

    import costmodel._files as files

    data = b"".join(parts)
    expected, too_long = [], None
    for n, raw in enumerate(io.BytesIO(data).readlines(), 1):
        if len(raw.removesuffix(b"\n")) > limit:
            too_long = n
            break
        expected.append((raw.removeprefix(b"\xef\xbb\xbf") if n == 1 else raw)
                        .removesuffix(b"\n").decode("utf-8", errors="replace"))
    saved, files._BLOCK = files._BLOCK, block
    try:
        if too_long is None:
            assert list(files.read_lines(io.BytesIO(data), fail=UsageError,
                                         limit=limit)) == expected
        else:
            with pytest.raises(UsageError, match=f"line {too_long} is longer than"):
                list(files.read_lines(io.BytesIO(data), fail=UsageError, limit=limit))
    finally:
        files._BLOCK = saved
