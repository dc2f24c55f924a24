"""The spool: spend a ledger could not take is kept on disk and committed exactly once later."""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import socket
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodel.cli import app
from costmodel.errors import LedgerError, UsageError
from costmodel.guard import SessionGuard
from costmodel.ledger import MemoryLedger, SpendRecord, Spool, SQLiteLedger, default_spool_dir

from ..sessions import openai_session

T0 = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


def rec(usd: str, rid: str | None = None, scope: str = "acme") -> SpendRecord:
    kw = {"id": rid} if rid else {}
    return SpendRecord(session_id="s1", scope=scope, model="openai/gpt-realtime-1.5",
                       usd=D(usd), at=T0, **kw)


class FlakyLedger(MemoryLedger):
    """A ledger that is down while ``down`` is set (what a Redis restart looks like to a
    client: every call raises LedgerError), with an option to fail *after* storing a commit
    (the reply was lost: the caller cannot tell that the spend arrived)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.lose_replies = False

    def _commit(self, reservation_id, record):
        if self.down:
            raise LedgerError("Connection refused", path="flaky", operation="commit")
        stored = super()._commit(reservation_id, record)
        if self.lose_replies:
            raise LedgerError("Timeout reading from socket", path="flaky", operation="commit")
        return stored

    def _reserve(self, hold, now, limit, since):
        if self.down:
            raise LedgerError("Connection refused", path="flaky", operation="reserve")
        super()._reserve(hold, now, limit, since)


def test_spooled_records_are_committed_once_and_the_spool_emptied(tmp_path):
    ledger = SQLiteLedger(tmp_path / "l.db")
    spool = Spool(ledger, tmp_path / "spool")
    spool.append(rec("0.10", "a"))
    spool.append(rec("0.25", "b", scope="globex"))
    ledger.record(rec("0.10", "a"))   # its first commit did arrive; only the reply was lost
    summary = spool.summary()
    assert (summary.records, summary.usd) == (2, D("0.35"))
    assert summary.by_scope == {"acme": D("0.10"), "globex": D("0.25")}
    report = spool.flush()
    assert (report.committed, report.already, report.remaining) == (1, 1, 0)
    assert report.committed_usd == D("0.25") and report.error is None
    assert ledger.spent() == D("0.35")       # "a" counted once
    assert list(spool.directory.glob("spool-*")) == []
    assert spool.flush().committed == 0 and ledger.spent() == D("0.35")   # replay: no change
    (line,) = (spool.directory / "LEDGER").read_text().splitlines()
    assert line == ledger.key


def test_a_spool_replayed_twice_changes_nothing(tmp_path):
    ledger = MemoryLedger()
    spool = Spool(ledger, tmp_path)
    spool.append(rec("0.5", "x"))
    copy = spool.directory / "spool-copy.jsonl"   # the same line twice, in two files
    copy.write_bytes(next(spool.directory.glob("spool-*.jsonl")).read_bytes())
    assert spool.summary().records == 1          # counted once when shown...
    report = spool.flush()
    assert (report.committed, report.already) == (1, 1) and ledger.spent() == D("0.5")


def test_flush_stops_when_the_ledger_fails_and_finishes_later(tmp_path):
    ledger = FlakyLedger()
    spool = Spool(ledger, tmp_path)
    for i in range(5):
        spool.append(rec("0.01", f"r{i}"))
    ledger.down = True
    report = spool.flush()
    assert (report.committed, report.remaining) == (0, 5) and "refused" in report.error
    assert spool.may_have_records()
    ledger.down = False
    assert spool.flush().committed == 5 and ledger.spent() == D("0.05")
    assert not spool.may_have_records()


def test_unreadable_lines_and_conflicts_are_kept_and_reported(tmp_path):
    ledger = MemoryLedger()
    spool = Spool(ledger, tmp_path)
    spool.append(rec("0.20", "dup"))
    ledger.record(rec("0.99", "dup"))           # the ledger holds another spend under that id
    path = next(spool.directory.glob("spool-*.jsonl"))
    with open(path, "ab") as fh:
        fh.write(b'{"v": 1, "record": {"id": "half-writ')   # a crash mid-write
    report = spool.flush()
    assert (report.committed, report.conflicts, report.unreadable) == (0, 1, 1)
    assert ledger.spent() == D("0.99")
    summary = spool.summary()
    assert (summary.records, summary.unreadable) == (1, 1)   # nothing dropped silently


def test_each_ledger_has_its_own_spool(tmp_path):
    a, b = SQLiteLedger(tmp_path / "a.db"), SQLiteLedger(tmp_path / "b.db")
    Spool(a, tmp_path / "spool").append(rec("1", "only-a"))
    assert Spool(b, tmp_path / "spool").flush().committed == 0 and b.spent() == 0
    assert Spool(a, tmp_path / "spool").flush().committed == 1 and a.spent() == D(1)


def test_the_spool_directory_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("COSTMODEL_SPOOL_DIR", str(tmp_path / "env"))
    assert default_spool_dir() == tmp_path / "env"
    monkeypatch.delenv("COSTMODEL_SPOOL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_spool_dir() == tmp_path / "cache" / "costmodel" / "spool"
    assert Spool(MemoryLedger()).root == tmp_path / "cache" / "costmodel" / "spool"


def test_an_unwritable_spool_is_a_ledger_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LedgerError, match="cannot write the spool"):
        Spool(MemoryLedger(), blocker).append(rec("1"))


def _append_many(db: str, directory: str, start: int, n: int) -> None:
    spool = Spool(SQLiteLedger(db), directory)
    for i in range(start, start + n):
        spool.append(rec("0.001", f"p{i}"))


def test_writers_and_flushers_in_several_processes_lose_and_double_nothing(tmp_path):
    # Two processes append while this one flushes again and again: a writer whose file a
    # flush removed or rewrote reopens it, so every record lands in the ledger exactly once.
    db, directory = str(tmp_path / "l.db"), str(tmp_path / "spool")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(db, directory, k * 1000, 150))
             for k in range(2)]
    for p in procs:
        p.start()
    ledger = SQLiteLedger(db)
    spool = Spool(ledger, directory)
    while any(p.is_alive() for p in procs):
        spool.flush()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    spool.flush()
    assert len(ledger.records()) == 300 and ledger.spent() == D("0.3")
    assert spool.summary().records == 0


# -- the guard ------------------------------------------------------------------------------

def test_fail_open_spools_what_the_ledger_missed_and_commits_it_when_it_is_back(builtin,
                                                                                 tmp_path,
                                                                                 caplog):
    ledger = FlakyLedger()
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, spool=tmp_path)
    events = openai_session(builtin, turns=6)
    done = [i for i, e in enumerate(events) if e["type"] == "response.done"]
    with caplog.at_level(logging.WARNING, logger="costmodel.guard"):
        for i, ev in enumerate(events):
            ledger.down = done[1] <= i <= done[3]      # responses 2-4 find the ledger down
            guard.observe(ev)
            if i == done[3]:
                assert guard.spooled_records == 3 and guard.ledger_errors == 3
                assert ledger.spent() < guard.spent_usd
    # Response 5 found the ledger back, and took the spooled three with it.
    assert ledger.spent() == guard.spent_usd and len(ledger.records()) == 6
    assert guard.last.action == "ok"                # fail_open: the session went on
    assert "committed 3 spooled record(s)" in caplog.text
    assert Spool(ledger, tmp_path).summary().records == 0


def test_a_lost_reply_is_not_counted_twice(builtin, tmp_path):
    ledger = FlakyLedger()
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, spool=tmp_path)
    events = openai_session(builtin, turns=3)
    done = [i for i, e in enumerate(events) if e["type"] == "response.done"]
    for i, ev in enumerate(events):
        ledger.lose_replies = i == done[0]   # stored, but the guard hears an error
        guard.observe(ev)
    assert guard.spooled_records == 1
    assert ledger.spent() == guard.spent_usd and len(ledger.records()) == 3


def test_fail_closed_cuts_and_spools_what_was_in_flight(builtin, tmp_path):
    ledger = FlakyLedger()
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, spool=tmp_path,
                         on_ledger_error="fail_closed")
    events = openai_session(builtin, turns=3)
    created = [i for i, e in enumerate(events) if e["type"] == "response.created"][1]
    for ev in events[:created + 1]:          # response 2 is in flight...
        guard.observe(ev)
    ledger.down = True                        # ...when the ledger goes down
    assert guard.observe({"type": "input_audio_buffer.speech_started"}).action == "ok"
    final = guard.finalize()                  # the session ends: the estimate must be kept
    assert final.action == "cut" and "ledger" in final.reason
    summary = Spool(ledger, tmp_path).summary()
    assert summary.records == 1 and summary.usd == guard.spent_usd - ledger.spent()
    ledger.down = False
    assert Spool(ledger, tmp_path).flush().committed == 1
    assert ledger.spent() == guard.spent_usd


def test_a_session_ending_with_the_ledger_still_down_says_what_waits(builtin, tmp_path, caplog):
    ledger = FlakyLedger()
    ledger.down = True
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5",
                         ledger=ledger, spool=tmp_path / "spool", session_id="s1")
    guard.observe({"type": "response.done", "response": {"usage": {
        "input_tokens": 10, "output_tokens": 0, "input_token_details": {"text_tokens": 10}}}})
    with caplog.at_level(logging.ERROR, logger="costmodel.guard"):
        guard.finalize()                       # the last flush finds the ledger down
    assert "1 spooled record(s)" in caplog.text and "still wait for the ledger" in caplog.text


def test_a_flush_with_nothing_left_over_reports_no_wait(builtin, tmp_path, caplog):
    ledger = FlakyLedger()
    ledger.down = True
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5",
                         ledger=ledger, spool=tmp_path / "spool", session_id="s1")
    guard.observe({"type": "response.done", "response": {"usage": {
        "input_tokens": 10, "output_tokens": 0, "input_token_details": {"text_tokens": 10}}}})
    ledger.down = False
    with caplog.at_level(logging.ERROR, logger="costmodel.guard"):
        guard.finalize()                       # all committed
    assert "still wait" not in caplog.text


def test_a_guard_without_a_ledger_has_no_spool(builtin):
    assert SessionGuard("1", catalog=builtin).spool is None


def test_a_guard_takes_its_ledgers_own_spool_and_refuses_another_ledgers(builtin, tmp_path):
    ledger = MemoryLedger()
    mine = Spool(ledger, tmp_path / "spool")
    assert SessionGuard("1", catalog=builtin, ledger=ledger, spool=mine).spool is mine
    theirs = Spool(MemoryLedger(), tmp_path / "spool")
    with pytest.raises(UsageError, match="belongs to another ledger"):
        SessionGuard("1", catalog=builtin, ledger=ledger, spool=theirs)


def test_a_live_session_commits_a_spooled_backlog_200_records_at_a_time(builtin, tmp_path):
    ledger = MemoryLedger()
    spool = Spool(ledger, tmp_path / "spool")
    for i in range(201):                       # an earlier outage left 201 x $0.01
        spool.append(SpendRecord(session_id="earlier", scope="acme",
                                 model="openai/gpt-realtime-1.5", usd=D("0.01"), at=T0,
                                 id=f"earlier-{i}"))
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5",
                         ledger=ledger, spool=spool, session_id="s1")
    guard.observe({"type": "response.done", "response": {"usage": {
        "input_tokens": 10, "output_tokens": 0, "input_token_details": {"text_tokens": 10}}}})
    # the ledger answered: one batch of 200 came along, one record waits
    assert ledger.spent(session_id="earlier") == D("2.00")
    guard.finalize()                           # the session's last chance takes the rest
    assert ledger.spent(session_id="earlier") == D("2.01")


# -- the CLI --------------------------------------------------------------------------------

def test_ledger_show_and_flush(tmp_path):
    url = f"sqlite:///{tmp_path / 'spend.db'}"
    ledger = SQLiteLedger(tmp_path / "spend.db")
    ledger.record(rec("1.5", "in-ledger"))
    Spool(ledger, tmp_path / "spool").append(rec("0.25", "spooled", scope="globex"))
    runner = CliRunner()
    args = ["--ledger", url, "--spool", str(tmp_path / "spool")]
    shown = runner.invoke(app, ["ledger", "show", *args, "--period", "all", "--json"])
    data = json.loads(shown.stdout)
    assert data["spooled"]["records"] == 1 and data["spooled"]["usd_exact"] == "0.25"
    tenants = {t["tenant"]: t for t in data["tenants"]}
    assert tenants["globex"]["spooled_usd"] == 0.25 and tenants["acme"]["spent_usd"] == 1.5
    table = runner.invoke(app, ["ledger", "show", *args, "--period", "all"])
    assert "spooled" in table.stdout and "ledger flush" in table.stderr
    flushed = runner.invoke(app, ["ledger", "flush", *args, "--json"])
    assert flushed.exit_code == 0, flushed.output
    assert json.loads(flushed.stdout)["committed"] == 1 and ledger.spent() == D("1.75")
    again = runner.invoke(app, ["ledger", "flush", *args])
    assert again.exit_code == 0 and "committed 0" in again.stdout and ledger.spent() == D("1.75")
    assert runner.invoke(app, ["ledger", "flush"], env={"COSTMODEL_LEDGER": ""}).exit_code == 2


def test_ledger_flush_exits_1_while_records_remain(tmp_path):
    ledger = SQLiteLedger(tmp_path / "spend.db")
    spool = Spool(ledger, tmp_path / "spool")
    spool.append(rec("0.2", "x"))
    ledger.record(rec("0.3", "x"))               # a conflict: needs a person
    r = CliRunner().invoke(app, ["ledger", "flush", "--ledger", str(tmp_path / "spend.db"),
                                 "--spool", str(tmp_path / "spool")])
    assert r.exit_code == 1 and "still spooled" in r.stderr and "conflict" in r.stderr
    assert Path(spool.directory).is_dir()


def test_after_an_outage_the_scope_budget_counts_the_spooled_spend(builtin, tmp_path):
    # Spend spooled while the ledger was down is committed before the next reservation, so
    # the tenant's budget check sees it (else the first responses after the outage could
    # pass the budget by what was spooled).
    ledger = FlakyLedger()
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, spool=tmp_path, scope="acme",
                         scope_limit_usd="100")
    events = openai_session(builtin, turns=4)
    done = [i for i, e in enumerate(events) if e["type"] == "response.done"]
    for ev in events[:done[1] + 1]:
        ledger.down = ev is events[done[1]]       # response 2's commit fails: spooled
        guard.observe(ev)
    ledger.down = False
    assert guard.spooled_records == 1 and ledger.spent() < guard.spent_usd
    guard.observe({"type": "response.create"}, source="client")   # reserves for response 3
    assert ledger.spent() == guard.spent_usd
    assert ledger.reserved(scope="acme") > 0                    # and it was held


# -- review fixes ---------------------------------------------------------------------------

def test_redis_keys_name_the_database_however_the_url_spells_it():
    # Spooled spend must go back to the database it was meant for: ?db=1 is not db 0, and
    # one database spelled two ways is one spool.
    pytest.importorskip("redis")
    from costmodel.ledger import ledger_key
    same = {ledger_key(u) for u in ("redis://127.0.0.1:6391", "redis://localhost:6391/0",
                                    "redis://user:pw@LOCALHOST:6391/?db=0",
                                    "redis://127.0.0.1:6391/")}
    assert len(same) == 1 and "pw" not in same.pop()
    assert ledger_key("redis://127.0.0.1:6391?db=1") != ledger_key("redis://127.0.0.1:6391")
    assert ledger_key("redis://127.0.0.1:6391/1") == ledger_key("redis://127.0.0.1:6391?db=1")
    assert ledger_key("sqlite:///x/../spend.db") == ledger_key("spend.db")
    assert ledger_key("memory") is None


def test_a_write_that_fails_half_way_is_cut_off(tmp_path, monkeypatch):
    # A full disk half-way through a line must not glue the next record onto the broken one
    # (it would then be unreadable, and its spend lost).
    from costmodel.ledger import spool as spool_mod
    ledger = MemoryLedger()
    spool = Spool(ledger, tmp_path)
    spool.append(rec("1", "one"))
    real_write, calls = os.write, []

    def full_disk(fd, data):
        calls.append(1)
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_mod.os, "write", full_disk)
    with pytest.raises(LedgerError, match="No space left"):
        spool.append(rec("2", "two"))
    monkeypatch.setattr(spool_mod.os, "write", real_write)
    spool.append(rec("4", "four"))
    summary = spool.summary()
    assert (summary.records, summary.usd, summary.unreadable) == (2, D(5), 0)
    # A line a crash cut short (no newline at the end) is not glued to the next one either.
    path = next(spool.directory.glob("spool-*.jsonl"))
    with open(path, "ab") as fh:
        fh.write(b'{"v": 1, "rec')
    spool.append(rec("8", "eight"))
    summary = spool.summary()
    assert (summary.records, summary.usd, summary.unreadable) == (3, D(13), 1)
    assert calls and spool.flush().committed == 3 and ledger.spent() == D(13)


def test_a_spool_others_can_write_is_not_trusted(tmp_path):
    # Spooled lines become spend in the ledger: a directory or file someone else could have
    # written is refused (a planted "$1,000,000" line must not be committed).
    ledger = MemoryLedger()
    spool = Spool(ledger, tmp_path)
    spool.append(rec("1", "mine"))
    planted = spool.directory / "spool-evil.jsonl"
    planted.write_bytes(next(spool.directory.glob("spool-*.jsonl")).read_bytes()
                        .replace(b'"usd":"1"', b'"usd":"1000000"').replace(b"mine", b"evil"))
    planted.chmod(0o666)
    assert spool.flush().committed == 1 and ledger.spent() == D(1)   # the planted file: no
    spool.directory.chmod(0o777)
    with pytest.raises(LedgerError, match="not private"):
        spool.append(rec("2", "later"))
    with pytest.raises(LedgerError, match="not private"):
        spool.flush()


def test_a_long_backlog_is_flushed_in_batches(tmp_path):
    ledger = MemoryLedger()
    spool = Spool(ledger, tmp_path)
    for i in range(5):
        spool.append(rec("0.1", f"b{i}"))
    first = spool.flush(max_records=2)
    assert (first.committed, first.remaining) == (2, 3) and spool.may_have_records()
    while spool.may_have_records():
        spool.flush(max_records=2)
    assert ledger.spent() == D("0.5") and spool.summary().records == 0


def test_ledger_show_tells_what_is_spooled_while_the_ledger_is_down(tmp_path):
    pytest.importorskip("redis")
    from costmodel.ledger import ledger_key
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{s.getsockname()[1]}/3"     # nothing listens there
    Spool(None, tmp_path, key=ledger_key(url)).append(rec("2.5", "waiting"))
    r = CliRunner().invoke(app, ["ledger", "show", "--ledger", url, "--spool", str(tmp_path),
                                 "--json"])
    assert r.exit_code == 1 and "Connection refused" in r.stderr
    assert json.loads(r.stdout)["spooled"]["usd_exact"] == "2.5"


def test_a_response_requested_but_never_confirmed_is_estimated(builtin):
    # The client asked for a response and left before the provider confirmed it: the
    # provider may have started it, so it is counted (estimated), not forgotten.
    guard = SessionGuard("10", catalog=builtin)
    for ev in openai_session(builtin, turns=2):
        guard.observe(ev)
    before = guard.spent_usd
    guard.observe({"type": "response.create"}, source="client")
    final = guard.finalize()
    assert final.spent_usd > before and final.estimated
    assert guard.costs[-1].usage.label == "estimated (requested)"


def test_spend_neither_the_ledger_nor_the_spool_took_is_kept_and_retried(builtin, tmp_path,
                                                                          caplog):
    ledger = FlakyLedger()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, spool=blocker)
    events = openai_session(builtin, turns=3)
    done = [i for i, e in enumerate(events) if e["type"] == "response.done"]
    with caplog.at_level(logging.CRITICAL, logger="costmodel.guard"):
        for i, ev in enumerate(events):
            ledger.down = i == done[0]
            guard.observe(ev)
            if i == done[0]:
                assert guard.unsaved_usd > 0 and "SPEND NOT SAVED" in caplog.text
    assert guard.unsaved_usd == 0 and ledger.spent() == guard.spent_usd   # retried, stored
    assert caplog.text.count("SPEND NOT SAVED") == 1


class _RefusesOneRecordTwice(MemoryLedger):
    """Refuses the first record it is offered, twice (the record, not the ledger, is the
    trouble); takes everything else."""

    def __init__(self) -> None:
        super().__init__()
        self.first: str | None = None
        self.refusals = 0

    def _commit(self, reservation_id, record):
        self.first = self.first or record.id
        if record.id == self.first and self.refusals < 2:
            self.refusals += 1
            raise LedgerError("Connection reset", path="picky", operation="commit")
        return super()._commit(reservation_id, record)


def test_spend_kept_in_memory_survives_a_failed_retry_and_is_logged_once(builtin, tmp_path,
                                                                         caplog):
    ledger = _RefusesOneRecordTwice()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")          # the spool cannot be written either
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, spool=blocker)
    with caplog.at_level(logging.CRITICAL, logger="costmodel.guard"):
        # response 1: refused, kept in memory; response 2 is taken and the retry of 1 refused
        # again (kept again); response 3 is taken and the retry of 1 succeeds
        for ev in openai_session(builtin, turns=3):
            guard.observe(ev)
    assert ledger.refusals == 2
    assert guard.unsaved_usd == 0 and ledger.spent() == guard.spent_usd
    assert caplog.text.count("SPEND NOT SAVED") == 1    # the record is logged the first time
