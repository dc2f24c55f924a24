"""Hang-up timers and guard policy files: silence, hold, maximum length; file:line:key errors.

Times are seconds on a test clock; `check` is what the relay runs every tick."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from costmodel.cli import app
from costmodel.errors import LadderError, UsageError
from costmodel.guard import DEFAULT_LADDER, Hangup, Quiet
from costmodel.guard.policyfile import load_policy, parse_policy


def quiet(**kw) -> Quiet:
    q = Quiet(Hangup(**kw), now=0.0)
    q.detects_speech(True)
    return q


def test_silence_counts_from_the_last_speech_either_way():
    q = quiet(silence_seconds=20)
    assert q.check(10, streaming=False, answering=True) is None     # the agent talks to 10 s
    assert q.check(29, streaming=False, answering=False) is None    # 19 s of silence
    assert q.check(30, streaming=False, answering=False) == "silence"
    q.speech(True, now=31)                                          # the user speaks again
    assert q.check(80, streaming=False, answering=False) is None    # ...for as long as they like
    q.speech(False, now=80)
    assert q.check(99, streaming=False, answering=False) is None
    assert q.check(100, streaming=False, answering=False) == "silence"


def test_audio_without_speech_is_hold_and_its_own_timer_decides():
    q = quiet(silence_seconds=20, hold_seconds=60)
    assert q.check(30, streaming=True, answering=False) is None     # 30 s of music: not silence
    assert q.check(60, streaming=True, answering=False) == "hold"
    # Without a hold timer, silence decides whether audio streams or not (a phone line).
    assert quiet(silence_seconds=20).check(20, streaming=True, answering=False) == "silence"


def test_no_speech_timer_runs_until_the_provider_shows_it_detects_speech():
    q = Quiet(Hangup(silence_seconds=5), now=0.0)       # the client commits turns itself
    assert q.check(500, streaming=False, answering=False) is None
    q.speech(True, now=501)                             # a speech event arms it
    q.speech(False, now=502)
    assert q.check(507, streaming=False, answering=False) == "silence"
    off = Quiet(Hangup(silence_seconds=5), now=0.0)
    off.detects_speech(False)
    assert off.check(500, streaming=False, answering=False) is None


def test_max_length_asks_for_a_goodbye_first_then_ends():
    q = Quiet(Hangup(max_call_seconds=600, wrap_up_before_seconds=30), now=0.0)
    assert q.check(569, streaming=True, answering=True) is None
    assert q.check(570, streaming=True, answering=True) == "wrap_up"
    assert q.check(571, streaming=True, answering=True) is None       # asked once
    assert q.check(600, streaming=True, answering=True) == "max_length"
    assert Quiet(Hangup(max_call_seconds=60, wrap_up_before_seconds=0), 0.0).check(
        59, streaming=False, answering=False) is None


@pytest.mark.parametrize("kw", [{"silence_seconds": 0}, {"hold_seconds": float("inf")},
                                {"max_call_seconds": True}, {"wrap_up_before_seconds": -1}])
def test_bad_timers_are_refused(kw):
    with pytest.raises(UsageError, match=next(iter(kw))):
        Hangup(**kw)


def test_a_policy_file_sets_a_ladder_and_timers(tmp_path):
    path = tmp_path / "guard.yaml"
    path.write_text("ladder:\n"
                    "  - {at: 0.5, max_output_tokens: 300}\n"
                    "  - {at_usd: 0.40, drop_turns: {keep_items: 8}}\n"
                    "hangup: {silence_seconds: 30, hold_seconds: 60, max_call_minutes: 20}\n")
    policy = load_policy(path)
    assert policy.ladder is not None and policy.ladder.source == str(path)
    assert [s.describe() for s in policy.ladder.steps] == [
        "max_output_tokens 300 at 50% of the limit", "drop_turns keeping 8 items at $0.40"]
    assert policy.hangup == Hangup(30, 60, 1200)
    assert load_policy("default").ladder is DEFAULT_LADDER


@pytest.mark.parametrize(("text", "where"), [
    ("ladder:\n  - {at: 0.5}\n", "p.yaml:2: ladder.0: a step is exactly one of"),
    ("ladder:\n  - {at: 0.5, truncation: {retention_ratio: 2}}\n",
     "p.yaml:2: ladder.0.truncation.retention_ratio: Input should be less than or equal to 1"),
    ("hangup:\n  silence_seconds: 30\n  max_call_minutes: -1\n",
     "p.yaml:3: hangup.max_call_minutes: Input should be greater than 0"),
    ("ladder: [\n", "p.yaml:2: invalid YAML"),
    ("laddder: []\n", "p.yaml:1: laddder: Extra inputs are not permitted"),
])
def test_policy_file_errors_name_file_line_and_key(text, where):
    with pytest.raises(LadderError) as exc:
        parse_policy(text, "p.yaml")
    assert str(exc.value).startswith(where), str(exc.value)


def test_guard_serve_refuses_a_bad_policy_file_before_listening(tmp_path):
    bad = tmp_path / "guard.yaml"
    bad.write_text("ladder:\n  - {at: 0.5, end: true, wrap_up: true}\n")
    res = CliRunner().invoke(app, ["guard", "serve", "--upstream", "wss://api.openai.com",
                                   "--limit-usd", "0.50", "--ladder", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:2: ladder.0: a step is exactly one of" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["guard", "serve", "--upstream", "wss://api.openai.com",
                                   "--limit-usd", "0.50", "--ladder", str(tmp_path / "no.yaml")])
    assert res.exit_code == 2 and "cannot read" in res.output
