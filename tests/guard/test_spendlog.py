"""The spend log: the line a finished session leaves, and reading a log back."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from costmodel.core.pricing import price
from costmodel.core.usage import Usage, usage_to_json
from costmodel.errors import InputError
from costmodel.guard import SessionGuard, spendlog
from costmodel.guard.spendlog import (
    SessionRecord,
    append_record,
    is_spend_log_line,
    read_spend_log,
    record_from_json,
    session_record,
)

RT = "openai/gpt-realtime-1.5"


def done(audio_in: int, cached: int, audio_out: int) -> dict:
    """A GA-shaped response.done: `audio_in` audio input tokens, `cached` of them cached."""
    return {"type": "response.done", "response": {"usage": {
        "input_tokens": audio_in, "output_tokens": audio_out,
        "input_token_details": {"audio_tokens": audio_in, "text_tokens": 0,
                                "cached_tokens": cached,
                                "cached_tokens_details": {"audio_tokens": cached}},
        "output_token_details": {"audio_tokens": audio_out, "text_tokens": 0}}}}


def three_turns(builtin, now: list[float]) -> SessionGuard:
    guard = SessionGuard("1", catalog=builtin, model=RT, session_id="s1", scope="acme",
                         clock=lambda: now[0])
    for ai, ca, ao in [(1000, 0, 200), (1500, 1000, 200), (2000, 1500, 300)]:
        now[0] += 20.0
        guard.observe(done(ai, ca, ao))
    now[0] += 5.25
    guard.finalize()
    now[0] += 100   # after finalize: not part of the session
    return guard


def test_a_line_carries_the_session_length_and_every_priced_usage(builtin):
    now = [1000.0]
    rec = session_record(three_turns(builtin, now), end="client_closed",
                         ended_at="2026-11-30T10:01:05.250000+00:00")
    # 3 turns of 20 s, and 5.25 s to the end: 65.25 s, from the guard's own clock
    assert rec["seconds"] == 65.25
    assert rec["started_at"] == "2026-11-30T10:00:00+00:00"   # ended_at - 65.25 s
    assert rec["session_id"] == "s1" and rec["scope"] == "acme" and rec["model"] == RT
    assert rec["end"] == "client_closed" and rec["responses"] == 3
    # response 2: 500 audio in at $32/1M + 1000 cached at $0.40/1M + 200 out at $64/1M
    #   = $0.016 + $0.0004 + $0.0128 = $0.0292
    assert rec["usage"][1] == {"model": RT, "label": "response 2", "tokens": {
        "audio.input": 500, "audio.cached": 1000, "audio.output": 200}}
    assert price(record_from_json(rec).usage[1], builtin).total_usd == D("0.0292")
    repriced = sum(price(u, builtin).total_usd for u in
                   record_from_json(json.loads(json.dumps(rec))).usage)
    assert repriced == D(rec["spent_usd"])
    assert "usage_truncated" not in rec
    json.dumps(rec)  # all of it is JSON


def test_a_time_billed_session_records_its_connection_as_a_usage(builtin):
    now = [5000.0]
    guard = SessionGuard("10", catalog=builtin, model="xai/grok-voice-agent",
                         clock=lambda: now[0])
    guard.observe({"type": "session.created", "session": {"model": "grok-voice-latest"}})
    now[0] += 90.5
    guard.finalize()
    rec = session_record(guard, end="client_closed")
    assert rec["seconds"] == 90.5
    # the connection usage is the session's length, to the digit, and all that was spent
    [conn] = rec["usage"]
    assert conn["connection_seconds"] == "90.5" and conn["label"] == "connection"
    assert price(record_from_json(rec).usage[0], builtin).total_usd == D(rec["spent_usd"])


def test_the_trail_is_bounded_and_says_so(builtin, monkeypatch):
    monkeypatch.setattr(spendlog, "MAX_USAGES", 2)
    rec = session_record(three_turns(builtin, [0.0]), end="cut")
    assert len(rec["usage"]) == 2 and rec["usage_truncated"] is True
    back = record_from_json(rec)
    assert back.usage_truncated and len(back.usage) == 2
    assert back.responses == 3   # the counts are the whole session's


def test_decisions_default_to_the_guard_s_history(builtin):
    guard = SessionGuard("0.12", catalog=builtin, model=RT)
    guard.observe(done(1000, 0, 200))   # $0.0448 spent, ~$0.054 next: wrap up
    guard.finalize()
    rec = session_record(guard, end="cut")
    assert [d["action"] for d in rec["decisions"]] == ["wrap_up"]
    assert rec["decisions"][0]["spent_usd"] == str(guard.history[0].spent_usd)
    assert "at" not in rec["decisions"][0]   # a hook does not know when; the relay does


def test_a_written_log_reads_back_as_records(builtin, tmp_path):
    path = tmp_path / "spend.jsonl"
    first = session_record(three_turns(builtin, [0.0]), end="cut",
                           ended_at="2026-11-30T10:01:05.250000+00:00")
    assert append_record(path, first) and append_record(path, first | {"session_id": "s2"})
    log = read_spend_log(path)
    assert log.problems == [] and log.skipped == 0
    a, b = log.records
    assert isinstance(a, SessionRecord) and (a.session_id, b.session_id) == ("s1", "s2")
    assert a.seconds == 65.25 and a.end == "cut" and a.scope == "acme" and a.model == RT
    assert a.started_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert a.spent_usd == D(first["spent_usd"]) and a.limit_usd == D(1)
    assert [usage_to_json(u) for u in a.usage] == first["usage"]
    assert a.responses == 3 and not a.usage_truncated and not a.estimated


# A line as the relay wrote it before `seconds` and `usage` existed.
OLD = {"session_id": "old1", "upstream_session_id": "sess_1", "worker": 7, "path": "/v1/realtime",
       "scope": "default", "model": RT, "limit_usd": "0.50", "spent_usd": "0.1056",
       "responses": 2, "estimated": False, "unsaved_usd": "0", "decisions": [],
       "started_at": "2026-10-01T09:00:00+00:00", "ended_at": "2026-10-01T09:02:30.5+00:00",
       "end": "client_closed"}


def test_an_older_line_without_usage_or_seconds_is_still_read(tmp_path):
    path = tmp_path / "spend.jsonl"
    path.write_text(json.dumps(OLD) + "\n")
    [rec] = read_spend_log(path).records
    assert rec.usage == () and not rec.usage_truncated
    assert rec.seconds == 150.5            # 09:00:00 to 09:02:30.5, from the timestamps
    assert rec.spent_usd == D("0.1056") and rec.responses == 2


def test_an_older_line_whose_clock_went_back_has_no_length():
    rec = record_from_json(OLD | {"ended_at": "2026-10-01T08:59:00+00:00"})
    assert rec.seconds is None


def test_bad_lines_are_listed_with_their_numbers_and_the_rest_is_read(tmp_path):
    good = json.dumps(OLD)
    lines = [
        good,                                                       # 1
        "{not json",                                                # 2
        "",                                                         # 3: blank, not a problem
        json.dumps({"type": "response.done"}),                      # 4: a provider event
        json.dumps(OLD | {"spent_usd": "lots"}),                    # 5
        json.dumps(OLD | {"usage": [{"model": RT}, {"model": RT, "tokens": {"x.y": 1}}]}),
        json.dumps(OLD | {"seconds": -1}),                          # 7
        json.dumps(OLD | {"started_at": "yesterday"}),              # 8
        json.dumps(OLD | {"responses": "2"}),                       # 9
        json.dumps(OLD | {"usage": {"model": RT}}),                 # 10
        "[" * 100_000,                                              # 11: too deep
        json.dumps(OLD | {"session_id": "last"}),                   # 12
    ]
    path = tmp_path / "spend.jsonl"
    path.write_text("\n".join(lines) + "\n")
    log = read_spend_log(path)
    assert [r.session_id for r in log.records] == ["old1", "last"]
    assert [n for n, _ in log.problems] == [2, 4, 5, 6, 7, 8, 9, 10, 11]
    why = dict(log.problems)
    assert why[2].startswith("not JSON")
    assert why[4].startswith("not a spend-log record")
    assert why[5].startswith("spent_usd must be")
    assert why[6].startswith("usage[1]: unknown token bucket")
    assert why[7].startswith("seconds: expected a number of seconds >= 0")
    assert why[8].startswith("started_at: expected an ISO 8601 time")
    assert why[9].startswith("responses: expected a whole number")
    assert why[10].startswith("usage: expected a list")
    assert log.skipped == 9


def test_problems_are_listed_up_to_a_bound_and_all_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(spendlog, "MAX_PROBLEMS", 3)
    path = tmp_path / "spend.jsonl"
    path.write_text("junk\n" * 10)
    log = read_spend_log(path)
    assert len(log.problems) == 3 and log.skipped == 10 and log.records == []


def test_a_file_past_the_limit_or_not_there_is_an_input_error(tmp_path, monkeypatch):
    path = tmp_path / "spend.jsonl"
    path.write_text(json.dumps(OLD) + "\n")
    monkeypatch.setattr(spendlog, "SPEND_LOG_LIMIT", 100)
    with pytest.raises(InputError, match=r"spend.jsonl: file too large"):
        read_spend_log(path)
    with pytest.raises(InputError, match=r"missing.jsonl: cannot read"):
        read_spend_log(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match=r"cannot read"):
        read_spend_log(tmp_path)


def test_a_line_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "spend.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(OLD).encode() + b"\r\n")
    assert [r.session_id for r in read_spend_log(path).records] == ["old1"]


def test_spend_log_lines_are_told_from_provider_events():
    assert is_spend_log_line(OLD)
    assert not is_spend_log_line({"type": "response.done", "response": {}})
    assert not is_spend_log_line({"session_id": "x", "spent_usd": "1"})  # no started_at
    assert not is_spend_log_line(["session_id", "spent_usd", "started_at"])


def test_an_unwritable_log_is_reported_with_the_record_and_never_raises(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    assert append_record(tmp_path / "no" / "such" / "dir.jsonl", OLD) is False
    assert "SPEND LOG ERROR" in caplog.text and '"spent_usd":"0.1056"' in caplog.text


def test_a_usage_in_the_trail_keeps_its_exact_seconds():
    u = Usage("deepgram/nova-3", audio_seconds=D("12.345"), label="stt")
    rec = record_from_json(OLD | {"usage": [usage_to_json(u)]})
    assert rec.usage == (u,)
