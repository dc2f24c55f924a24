"""The spend ledger: exact money, atomic reservations, durable and concurrent SQLite storage.

Most behaviour is shared, so those tests run against both backends (the `ledger` fixture).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest

from costmodel.errors import (
    AmountError,
    BudgetExceeded,
    CostModelError,
    LedgerConflictError,
    LedgerError,
    UsageError,
)
from costmodel.ledger import (
    Ledger,
    MemoryLedger,
    Reservation,
    SpendRecord,
    SQLiteLedger,
    open_ledger,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = 1_000_000.0  # a fixed unix time for reservation expiry


def rec(usd: str, session: str = "s1", scope: str = "acme", at: datetime = T0,
        **kw: object) -> SpendRecord:
    return SpendRecord(session_id=session, scope=scope, model="toy/realtime", usd=D(usd), at=at,
                       **kw)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    made = MemoryLedger() if request.param == "memory" else SQLiteLedger(tmp_path / "l.db")
    yield made
    made.close()


# --- exact arithmetic ----------------------------------------------------------------------

def test_point_one_plus_point_two_is_exactly_point_three(ledger):
    hold = ledger.reserve("acme", "s1", D("0.1"), now=NOW)
    assert ledger.reserved(scope="acme", now=NOW) == D("0.1")
    ledger.commit(hold, rec("0.1"))
    ledger.record(rec("0.2"))
    total = ledger.spent(scope="acme")
    assert isinstance(total, D) and total == D("0.3") and str(total) == "0.3"
    assert ledger.reserved(now=NOW) == 0


def test_sums_are_exact_beyond_nano_dollars_and_default_decimal_precision(ledger):
    # 12 fractional digits (finer than a nano-dollar) and 31 significant digits (more than
    # Decimal's default 28): nothing may be rounded.
    amounts = ["0.000000000001", "0.000000000002", "1234567890123456789.123456789012", "0.5"]
    for a in amounts:
        ledger.record(rec(a))
    assert ledger.spent() == D("1234567890123456789.623456789015")


def test_spent_filters_by_scope_session_and_half_open_time_range(ledger):
    ledger.record(rec("1", session="a", scope="acme", at=T0))
    ledger.record(rec("2", session="b", scope="acme", at=T0 + timedelta(hours=1)))
    ledger.record(rec("4", session="a", scope="zeta", at=T0 + timedelta(hours=2)))
    assert ledger.spent() == 7
    assert ledger.spent(scope="acme") == 3
    assert ledger.spent(session_id="a") == 5
    assert ledger.spent(scope="zeta", session_id="b") == 0
    # since inclusive, until exclusive
    assert ledger.spent(since=T0 + timedelta(hours=1)) == 6
    assert ledger.spent(until=T0 + timedelta(hours=1)) == 1
    assert ledger.spent(since=T0, until=T0 + timedelta(hours=2)) == 3
    assert ledger.scopes() == ["acme", "zeta"]


def test_records_come_back_equal_in_commit_order(ledger):
    first = rec("0.25", kind="transcription", detail={"seconds": 12.5, "tags": ["a"]})
    ledger.record(first)
    ledger.record(rec("1", session="s2", at=T0 - timedelta(days=1)))   # older `at`, later commit
    ledger.record(rec("2", scope="other"))
    got = ledger.records()
    assert [r.usd for r in got] == [D("0.25"), D(1), D(2)]
    assert got[0] == first and got[0].detail == {"seconds": 12.5, "tags": ["a"]}
    assert got[0].at.tzinfo is not None and got[0].at == T0
    assert [r.usd for r in ledger.records(scope="acme")] == [D("0.25"), D(1)]
    assert [r.usd for r in ledger.records(session_id="s2")] == [D(1)]
    assert [r.usd for r in ledger.records(limit=2)] == [D(1), D(2)]   # the latest two
    assert ledger.records(limit=0) == [] and len(ledger.records(limit=10)) == 3


# --- reservations --------------------------------------------------------------------------

def test_reservation_over_the_limit_raises_and_holds_nothing(ledger):
    ledger.record(rec("0.60"))
    ledger.reserve("acme", "s1", D("0.30"), limit_usd=D(1), now=NOW)
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve("acme", "s2", D("0.11"), limit_usd=D(1), now=NOW)
    msg = str(info.value)
    assert "0.6" in msg and "0.3" in msg and "0.11" in msg and "1.01" in msg and "$1" in msg
    assert info.value.spent_usd == D("0.6") and info.value.reserved_usd == D("0.3")
    assert ledger.reserved(scope="acme", now=NOW) == D("0.30")
    # exactly at the limit is allowed (the rule is "> limit")
    ledger.reserve("acme", "s2", D("0.10"), limit_usd=D(1), now=NOW)
    assert ledger.reserved(scope="acme", now=NOW) == D("0.40")
    # other scopes do not count against this one
    ledger.reserve("zeta", "s3", D("0.9"), limit_usd=D(1), now=NOW)


def test_period_budget_counts_only_spend_since(ledger):
    ledger.record(rec("5", at=T0 - timedelta(days=1)))    # yesterday
    ledger.record(rec("0.5", at=T0))
    day = T0.replace(hour=0)
    ledger.reserve("acme", "s1", D("0.5"), limit_usd=D(1), since=day, now=NOW)
    with pytest.raises(BudgetExceeded):
        ledger.reserve("acme", "s1", D("0.01"), limit_usd=D(1), since=day, now=NOW)


def test_expired_reservations_do_not_count(ledger):
    ledger.reserve("acme", "s1", D("0.9"), ttl_seconds=10, limit_usd=D(1), now=NOW)
    assert ledger.reserved(now=NOW + 9.9) == D("0.9")
    assert ledger.reserved(now=NOW + 10) == 0            # expires_at itself is expired
    ledger.reserve("acme", "s2", D(1), limit_usd=D(1), now=NOW + 10)
    assert ledger.reserved(now=NOW + 10) == 1


def test_release_is_idempotent(ledger):
    hold = ledger.reserve("acme", "s1", D("0.5"), now=NOW)
    ledger.release(hold)
    ledger.release(hold)
    ledger.release(None)
    assert ledger.reserved(now=NOW) == 0 and ledger.spent() == 0


def test_commit_of_an_expired_reservation_still_records_once(ledger):
    hold = ledger.reserve("acme", "s1", D("0.5"), ttl_seconds=1, now=NOW)
    ledger.reserve("acme", "s2", D("0.1"), now=NOW + 5)    # purges the expired one
    ledger.commit(hold, rec("0.45"))
    ledger.commit(hold, rec("0.45"))                        # a retry: no double count
    assert ledger.spent() == D("0.45") and len(ledger.records()) == 1
    with pytest.raises(LedgerError, match="already committed"):
        ledger.commit(hold, rec("0.99"))                    # one reservation, one spend
    assert ledger.spent() == D("0.45")
    unknown = Reservation("nope", "acme", "s1", D(1), NOW)
    ledger.commit(unknown, rec("0.05"))
    assert ledger.spent() == D("0.5")


def test_a_record_id_is_stored_once_however_often_it_is_committed(ledger):
    # The spool replays records whose first commit may or may not have reached the ledger:
    # the id makes the replay harmless.
    first = rec("0.30", id="resp-1")
    ledger.record(first)
    ledger.record(rec("0.30", id="resp-1"))                  # a replay: no double count
    hold = ledger.reserve("acme", "s1", D("0.5"), now=NOW)
    ledger.commit(hold, rec("0.30", id="resp-1"))            # ...even with a reservation
    assert ledger.spent() == D("0.30") and [r.id for r in ledger.records()] == ["resp-1"]
    with pytest.raises(LedgerConflictError, match="resp-1"):
        ledger.record(rec("0.31", id="resp-1"))              # one id, one spend
    ledger.record(rec("0.30"))                               # equal content, new id: counted
    assert ledger.spent() == D("0.60")


def test_commit_drops_only_its_own_reservation(ledger):
    a = ledger.reserve("acme", "s1", D("0.3"), now=NOW)
    ledger.reserve("acme", "s2", D("0.2"), now=NOW)
    ledger.commit(a, rec("0.25"))                  # actual below the reservation: reconciled
    assert ledger.reserved(scope="acme", now=NOW) == D("0.2")
    assert ledger.spent(scope="acme") == D("0.25")


def test_bad_amounts_and_times_are_refused(ledger):
    # Every refusal is a CostModelError a caller can catch (and still a ValueError).
    with pytest.raises(AmountError, match="float"):       # money computed in binary: refused
        ledger.reserve("acme", "s1", 0.1)                  # type: ignore[arg-type]
    with pytest.raises(AmountError, match=">= 0"):
        ledger.reserve("acme", "s1", D(-1))
    with pytest.raises(AmountError, match="finite"):
        rec("NaN")
    with pytest.raises(UsageError, match="timezone-aware"):
        rec("1", at=datetime(2026, 1, 1))
    with pytest.raises(UsageError, match="JSON"):
        rec("1", detail={"x": object()})
    with pytest.raises(UsageError, match="SpendRecord"):
        ledger.commit(None, {"usd": "1"})                  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="ttl_seconds"):
        ledger.reserve("acme", "s1", D(1), ttl_seconds=0)
    assert issubclass(AmountError, ValueError) and issubclass(UsageError, CostModelError)
    plus_one = timezone(timedelta(hours=1))
    assert rec("1", at=datetime(2026, 1, 1, 13, tzinfo=plus_one)).at == T0     # kept as UTC


def test_closed_ledger_raises_ledger_error(ledger):
    with ledger:
        ledger.record(rec("1"))
    with pytest.raises(LedgerError, match="closed"):
        ledger.spent()
    ledger.close()                                         # idempotent


# --- threads -------------------------------------------------------------------------------

def test_eight_threads_share_one_ledger_object(ledger):
    limit, step, committed = D(3), D("0.0123456789012"), []

    def worker(n: int) -> None:
        mine = D(0)
        for i in range(50):
            try:
                hold = ledger.reserve("acme", f"t{n}", step, limit_usd=limit)
            except BudgetExceeded:
                continue
            actual = step - D(i % 3) / 10**13
            ledger.commit(hold, rec(str(actual), session=f"t{n}"))
            mine += actual
        committed.append(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.spent(scope="acme") == sum(committed) <= limit
    assert len(ledger.records()) == 243     # floor(3 / step) reservations fit
    assert ledger.reserved() == 0


# --- SQLite: no other writer between a check and its write (an injected interleaving) -------

def _between_check_and_write(ledger: SQLiteLedger, statement: str, other) -> list[object]:
    """Run `other()` once, at the moment `ledger`'s connection starts `statement` (after the
    check that statement depends on); returns what `other` returned or raised."""
    seen: list[object] = []

    def trace(sql: str) -> None:
        if sql.lstrip().startswith(statement) and not seen:
            try:
                seen.append(other())
            except (LedgerError, BudgetExceeded) as exc:
                seen.append(exc)

    ledger._conn.set_trace_callback(trace)
    return seen


def test_no_other_writer_gets_between_a_reservations_check_and_its_hold(tmp_path):
    # Two connections to one file, as two processes have. $2.98 is committed under a $3 cap:
    # room for one $0.02 hold ($2.98 + $0.02 = $3.00), not two ($3.02).
    path = tmp_path / "race.db"
    first, second = SQLiteLedger(path), SQLiteLedger(path, timeout_seconds=0)
    first.record(rec("2.98"))
    seen = _between_check_and_write(first, "INSERT INTO reservations", lambda: second.reserve(
        "acme", "s2", D("0.02"), limit_usd=D(3), now=NOW))
    first.reserve("acme", "s1", D("0.02"), limit_usd=D(3), now=NOW)
    # The second writer tried after the first's check and before its hold: the first still
    # held the database's write lock, so the second (which will not wait) was told so...
    [attempt] = seen
    assert isinstance(attempt, LedgerError) and "database is locked" in str(attempt)
    # ...and, trying again once the hold is stored, it is refused for want of room.
    with pytest.raises(BudgetExceeded, match=r"= \$3.02\)"):
        second.reserve("acme", "s2", D("0.02"), limit_usd=D(3), now=NOW)
    assert first.reserved(scope="acme", now=NOW) == D("0.02")
    assert first.spent(scope="acme") + first.reserved(scope="acme", now=NOW) == D(3)
    first.close()
    second.close()


def test_no_other_writer_gets_between_a_commits_id_check_and_its_insert(tmp_path):
    # The same record (one id) committed through two connections at once is stored once.
    path = tmp_path / "race.db"
    first, second = SQLiteLedger(path), SQLiteLedger(path, timeout_seconds=0)
    record = rec("0.25", id="resp-1")
    seen = _between_check_and_write(first, "INSERT INTO records",
                                    lambda: second.commit(None, record))
    assert first.commit(None, record) is True
    [attempt] = seen
    assert isinstance(attempt, LedgerError) and "database is locked" in str(attempt)
    assert second.commit(None, record) is False         # a retry: already stored
    assert [r.id for r in first.records()] == ["resp-1"]
    assert first.spent() == D("0.25")
    first.close()
    second.close()


# --- SQLite storage ------------------------------------------------------------------------

def test_sqlite_file_settings_and_exact_columns(tmp_path):
    path = tmp_path / "l.db"
    with SQLiteLedger(path) as ledger:
        ledger.record(rec("0.1234567891"))         # 10 fractional digits: nano is rounded
        ledger.record(rec("0.1234567895"))         # a tie: half-even keeps the even ...790
        ledger.record(rec("0.000000002"))
        conn = ledger._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2      # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        assert ledger.spent() == D("0.2469135806")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SQLiteLedger.SCHEMA_VERSION
    rows = db.execute("SELECT usd, usd_nano, nano_exact FROM records ORDER BY seq").fetchall()
    assert rows == [("0.1234567891", 123456789, 0), ("0.1234567895", 123456790, 0),
                    ("0.000000002", 2, 1)]
    indexes = {r[0]: r[1] for r in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert "(scope, at_us" in indexes["records_scope_at"]
    assert "(session_id)" in indexes["records_session"]
    db.close()


CHILD = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from decimal import Decimal
    from costmodel.ledger import SQLiteLedger, SpendRecord

    ledger = SQLiteLedger(sys.argv[1])
    for i in range(1, 100_000):
        hold = ledger.reserve("acme", "crash", Decimal("0.001"))
        ledger.commit(hold, SpendRecord(session_id="crash", scope="acme", model="toy/realtime",
                                        usd=Decimal("0.000000001") * i,
                                        at=datetime.now(timezone.utc), detail={"i": i}))
        print(i, flush=True)       # only after commit() has returned
""")


def test_sqlite_loses_no_committed_spend_when_the_writer_is_killed(tmp_path):
    path = tmp_path / "crash.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                             text=True, cwd=Path(__file__).parents[2])
    acked = 0
    for line in child.stdout:
        acked = int(line)
        if acked >= 30:
            break
    child.send_signal(signal.SIGKILL)        # mid-loop, no close(), no atexit
    child.wait()
    child.stdout.close()
    with SQLiteLedger(path) as ledger:
        got = [r.detail["i"] for r in ledger.records()]
        # every acknowledged commit is there, in order, exactly once (one more may have
        # committed before its acknowledgement was printed)
        assert got[:acked] == list(range(1, acked + 1)) and len(got) in (acked, acked + 1)
        n = len(got)
        assert ledger.spent() == D("0.000000001") * (n * (n + 1) // 2)


def _worker(path: str, n: int, limit: str, out) -> None:   # runs in a child process
    ledger, mine = SQLiteLedger(path), D(0)
    step = D("0.0123456789012")
    for i in range(50):
        try:
            hold = ledger.reserve("acme", f"p{n}", step, limit_usd=D(limit))
        except BudgetExceeded:
            continue
        actual = step - D((n + i) % 5) / 10**13            # commits reconcile down
        ledger.commit(hold, rec(str(actual), session=f"p{n}"))
        mine += actual
        assert ledger.spent(scope="acme") <= D(limit)
    ledger.close()
    out.put((n, str(mine)))


def test_eight_processes_never_pass_the_limit_and_account_to_the_last_digit(tmp_path):
    path, limit = str(tmp_path / "shared.db"), "3"
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, n, limit, out)) for n in range(8)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    with SQLiteLedger(path) as ledger:
        total = ledger.spent(scope="acme")
        assert total <= D(limit)
        assert total == sum(D(v) for v in results.values())
        assert ledger.reserved() == 0
        assert len(ledger.records()) == 243     # floor(3 / step) reservations fit
        for n, mine in results.items():
            assert ledger.spent(session_id=f"p{n}") == D(mine)


def test_a_forked_child_opens_its_own_connection(tmp_path):
    ledger = SQLiteLedger(tmp_path / "fork.db")
    ledger.record(rec("1"))
    pid = os.fork() if hasattr(os, "fork") else pytest.skip("no fork")
    if pid == 0:                                           # child: never return to pytest
        code = 2
        try:
            ledger.record(rec("2"))
            code = 0 if ledger.spent() == 3 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ledger.spent() == 3
    ledger.close()


# --- opening -------------------------------------------------------------------------------

def test_open_ledger_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_ledger(None), MemoryLedger)
    assert isinstance(open_ledger("memory"), MemoryLedger)
    for url, made in [("sqlite:///rel.db", tmp_path / "rel.db"),
                      (f"sqlite:///{tmp_path}/abs.db", tmp_path / "abs.db"),   # sqlite:////...
                      ("plain.db", tmp_path / "plain.db"),
                      ("other.sqlite", tmp_path / "other.sqlite"),
                      (tmp_path / "pathlike.sqlite3", tmp_path / "pathlike.sqlite3")]:
        with open_ledger(url) as ledger:
            assert isinstance(ledger, SQLiteLedger)
        assert made.is_file(), url


@pytest.mark.parametrize("url, words", [
    ("postgres://db/x", "unsupported ledger URL"),
    ("ledger.txt", "unsupported ledger URL"),
    ("sqlite:///", "unsupported ledger URL"),
])
def test_open_ledger_refuses_other_forms_and_names_the_accepted_ones(url, words):
    # (redis:// URLs open a RedisLedger: tests/ledger/test_redis.py)
    with pytest.raises(LedgerError, match=words) as info:
        open_ledger(url)
    assert "sqlite:///" in str(info.value) and "memory" in str(info.value)
    assert isinstance(info.value, CostModelError) and "s3cret" not in str(info.value)


def test_a_file_that_is_not_a_database_gives_ledger_error_naming_the_path(tmp_path):
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not an SQLite database, just text " * 100)
    with pytest.raises(LedgerError) as info:
        open_ledger(str(bad))
    assert str(bad) in str(info.value) and info.value.path == str(bad)
    assert info.value.operation == "open"


def test_a_version_1_file_is_migrated_and_keeps_its_records(tmp_path):
    # Files written before records had ids: the rows keep their spend and get a stable name.
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    from costmodel.ledger.sqlite import _SCHEMA
    for statement in _SCHEMA:
        db.execute(statement)
    db.execute("INSERT INTO records (session_id, scope, model, kind, usd, usd_nano, nano_exact,"
               " at_us, detail) VALUES ('s1', 'acme', 'toy/realtime', 'response', '0.25',"
               " 250000000, 1, 0, '{}')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with SQLiteLedger(path) as ledger:
        [old] = ledger.records()
        assert old.id == "sqlite-row-1" and old.usd == D("0.25")
        ledger.record(rec("0.5", id="new"))
        ledger.record(rec("0.5", id="new"))
        assert ledger.spent() == D("0.75")
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2


def test_missing_directory_and_newer_schema_give_ledger_error(tmp_path):
    with pytest.raises(LedgerError, match="no-such-dir"):
        SQLiteLedger(tmp_path / "no-such-dir" / "l.db")
    newer = tmp_path / "newer.db"
    SQLiteLedger(newer).close()
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(LedgerError, match="schema version 99"):
        SQLiteLedger(newer)
