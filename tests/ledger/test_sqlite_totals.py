"""SQLiteLedger's running totals per scope and UTC day (``spend_days``) and its holds.

The totals must always equal a fresh SUM over the records, whoever wrote them (this
costmodel, an older one without the totals, two processes at once), and money stays exact,
amounts finer than a nano-dollar included. Holds are not fsynced; spend is.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costmodel.errors import BudgetExceeded
from costmodel.ledger import SpendRecord, SQLiteLedger
from costmodel.ledger.sqlite_totals import TRIGGERS
from costmodel.money import EXACT, exact_sum

NOV = datetime(2026, 11, 1, tzinfo=UTC)
NOW = NOV.timestamp() + 29 * 86_400   # unix seconds, Nov 30 00:00 UTC


def rec(usd: str, at: datetime, scope: str = "acme", session_id: str = "s") -> SpendRecord:
    return SpendRecord(session_id=session_id, scope=scope, model="toy/realtime", usd=D(usd), at=at)


def fresh_days(path: Path) -> dict[tuple[str, int], tuple[int, int]]:
    """What the totals must hold, summed afresh from the records (days of $0 left out)."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT scope, at_us / 86400000000, SUM(CASE nano_exact WHEN 1 THEN "
                      "usd_nano ELSE 0 END), SUM(nano_exact = 0) FROM records GROUP BY 1, 2")
    fresh = {(s, d): (n, f) for s, d, n, f in rows if (n, f) != (0, 0)}
    db.close()
    return fresh


def stored_days(path: Path) -> dict[tuple[str, int], tuple[int, int]]:
    """The totals, days of $0 left out (a day whose records were all deleted holds 0, 0)."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT scope, day, nano, fine FROM spend_days")
    stored = {(s, d): (n, f) for s, d, n, f in rows if (n, f) != (0, 0)}
    db.close()
    return stored


def test_a_month_budget_counts_whole_days_from_the_totals_and_exact_fine_amounts(tmp_path):
    path = tmp_path / "l.db"
    with SQLiteLedger(path) as ledger:
        ledger.record(rec("0.10", NOV - timedelta(microseconds=1)))   # October: not counted
        ledger.record(rec("0.20", NOV))                                # Nov 1 00:00 exactly
        ledger.record(rec("0.30", NOV + timedelta(days=28, hours=23)))
        ledger.record(rec("0.05", NOV + timedelta(days=3), scope="other"))
        # 1/3 of a cent: finer than a nano-dollar, kept as its 28-digit text
        third = D("0.01") / 3
        ledger.record(rec(str(third), NOV + timedelta(days=10)))
        # Nov: 0.20 + 0.30 + 0.00333...3 = 0.50333...3 (28 digits of the third kept)
        month = ledger.spent(scope="acme", since=NOV)
        assert month == EXACT.add(D("0.5"), third)    # (30 digits: no rounding anywhere)
        # limit 1.00: 0.5033... spent + 0.4966... asked is exactly 1 (allowed); a nano more is not
        rest = EXACT.subtract(D(1), month)
        hold = ledger.reserve("acme", "call", rest, limit_usd=D(1), since=NOV, now=NOW)
        ledger.release(hold)
        with pytest.raises(BudgetExceeded):
            ledger.reserve("acme", "call", EXACT.add(rest, D("1e-9")), limit_usd=D(1),
                           since=NOV, now=NOW)
    assert stored_days(path) == fresh_days(path)


def test_partial_days_at_either_end_are_read_from_the_records(tmp_path):
    with SQLiteLedger(tmp_path / "l.db") as ledger:
        for hour in range(0, 48, 6):   # $0.01 at 00, 06, 12, 18 h on Nov 1 and Nov 2
            ledger.record(rec("0.01", NOV + timedelta(hours=hour)))
        # [Nov 1 07:00, Nov 2 13:00): 12 h and 18 h on the 1st, 00, 06, 12 h on the 2nd = 5
        assert ledger.spent(scope="acme", since=NOV + timedelta(hours=7),
                            until=NOV + timedelta(hours=37)) == D("0.05")
        # [Nov 1 05:00, Nov 1 13:00): 06 and 12 h, within one day
        assert ledger.spent(since=NOV + timedelta(hours=5),
                            until=NOV + timedelta(hours=13)) == D("0.02")
        assert ledger.spent(until=NOV + timedelta(days=1)) == D("0.04")


_amounts = st.one_of(
    st.decimals(min_value=0, max_value=5, places=6),                  # whole micro-dollars
    st.decimals(min_value=0, max_value=1, places=12),                 # finer than a nano
    st.sampled_from([D("1e9"), D("0.01") / 3, D("0.000000001")]))     # no nano column; 28 digits


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), _amounts,
                          st.integers(0, 3 * 86_400_000_000)), max_size=25),
       st.integers(-86_400_000_000, 4 * 86_400_000_000),
       st.integers(0, 4 * 86_400_000_000), st.integers(0, 6))
def test_totals_equal_a_fresh_sum_for_any_records_and_range(tmp_path_factory, rows, lo, span,
                                                            deleted):
    path = tmp_path_factory.mktemp("h") / "l.db"
    records = [rec(str(usd), NOV + timedelta(microseconds=us), scope=scope)
               for scope, usd, us in rows]
    with SQLiteLedger(path) as ledger:
        for r in records:
            ledger.record(r)
        # another writer deletes and moves records with plain SQL: the triggers follow
        db = sqlite3.connect(path)
        db.execute("DELETE FROM records WHERE seq <= ?", (deleted,))
        db.execute("UPDATE records SET scope = 'b', at_us = at_us + 3600000000 WHERE seq % 3 = 0")
        db.commit()
        db.close()
        left = ledger.records()
        since = NOV + timedelta(microseconds=lo)
        until = since + timedelta(microseconds=span)
        for scope in ("a", "b", None):
            expected = exact_sum(r.usd for r in left if (scope is None or r.scope == scope)
                                 and since <= r.at < until)
            assert ledger.spent(scope=scope, since=since, until=until) == expected
            assert ledger.spent(scope=scope) == exact_sum(
                r.usd for r in left if scope is None or r.scope == scope)
    assert stored_days(path) == fresh_days(path)


def test_holds_expire_and_only_live_ones_count(tmp_path):
    with SQLiteLedger(tmp_path / "l.db") as ledger:
        ledger.record(rec("0.60", NOV + timedelta(days=2)))
        ledger.reserve("acme", "c1", D("0.30"), ttl_seconds=60, limit_usd=D(1), since=NOV,
                       now=NOW)
        # 0.60 spent + 0.30 held + 0.20 > 1.00: refused while the hold lives
        with pytest.raises(BudgetExceeded):
            ledger.reserve("acme", "c2", D("0.20"), limit_usd=D(1), since=NOV, now=NOW + 59)
        # at NOW + 60 it has expired and is purged: 0.60 + 0.20 <= 1.00
        ledger.reserve("acme", "c2", D("0.20"), limit_usd=D(1), since=NOV, now=NOW + 60)
        assert ledger.reserved(now=NOW + 60) == D("0.20")
        plan = " ".join(row[-1] for row in ledger._conn.execute(
            "EXPLAIN QUERY PLAN DELETE FROM reservations WHERE expires_at <= ?", (NOW,)))
        assert "reservations_expiry" in plan   # only the expired rows are read


def test_holds_are_not_fsynced_and_spend_is(tmp_path):
    with SQLiteLedger(tmp_path / "l.db") as ledger:
        conn = ledger._conn
        hold = ledger.reserve("acme", "c", D("0.1"), now=NOW)
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1    # NORMAL
        ledger.commit(hold, rec("0.1", NOV))
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2    # FULL
        ledger.release(ledger.reserve("acme", "c", D("0.1"), now=NOW))
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1
        ledger.record(rec("0.1", NOV))
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        with SQLiteLedger(tmp_path / "l.db") as other:                 # per connection
            assert other._conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def _writer(path: str, n: int, count: int) -> None:
    with SQLiteLedger(path) as ledger:
        for i in range(count):
            hold = ledger.reserve("acme", f"p{n}", D("0.01"), limit_usd=D(1000), since=NOV)
            ledger.commit(hold, rec(f"0.00{i % 10}1", NOV + timedelta(hours=i % 72),
                                    session_id=f"p{n}"))


def test_two_processes_writing_at_once_keep_the_totals_exact(tmp_path):
    path = str(tmp_path / "shared.db")
    SQLiteLedger(path).close()
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    procs = [ctx.Process(target=_writer, args=(path, n, 150)) for n in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    # each process: 15 rounds of 0.0001 + 0.0011 + ... + 0.0091 (= 0.046) = 0.69; two: 1.38
    with SQLiteLedger(path) as ledger:
        assert ledger.spent(scope="acme", since=NOV) == D("1.38")
        assert ledger.spent(scope="acme", since=NOV + timedelta(hours=1)) == exact_sum(
            r.usd for r in ledger.records() if r.at >= NOV + timedelta(hours=1))
    assert stored_days(Path(path)) == fresh_days(Path(path))


def _as_older_costmodel(path: Path) -> None:
    """What a file looks like when an older costmodel made and filled it: no totals."""
    db = sqlite3.connect(path)
    for name in TRIGGERS:
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE spend_days")
    db.commit()
    db.close()


def test_a_file_from_an_older_costmodel_gets_its_totals_built_at_open(tmp_path):
    path = tmp_path / "old.db"
    with SQLiteLedger(path) as ledger:
        ledger.record(rec("0.25", NOV + timedelta(days=1)))
    _as_older_costmodel(path)
    db = sqlite3.connect(path)     # the older costmodel writes on, as it inserts records
    db.execute("INSERT INTO records (session_id, scope, model, kind, usd, usd_nano, nano_exact, "
               "at_us, detail, record_id) VALUES ('s', 'acme', 'm', 'response', "
               "'0.0000000005', 1, 0, ?, '{}', 'old-2')",
               ((NOV + timedelta(days=2) - datetime(1970, 1, 1, tzinfo=UTC))
                // timedelta(microseconds=1),))
    db.commit()
    db.close()
    with SQLiteLedger(path) as ledger:      # built at open: $0.25 exact + one fine record
        assert ledger.spent(scope="acme", since=NOV) == D("0.2500000005")
    assert stored_days(path) == fresh_days(path) == {
        ("acme", 20759): (250_000_000, 0), ("acme", 20760): (0, 1)}   # Nov 2 and 3, 2026
    # (2026-11-02 is day 56 years x 365 + 14 leap days + 304 days to Nov 1 + 1 = 20,759)
    # an older costmodel opening the file after the upgrade still writes it, and its inserts
    # keep the totals: the triggers are in the file, not in costmodel
    db = sqlite3.connect(path)
    db.execute("INSERT INTO records (session_id, scope, model, kind, usd, usd_nano, nano_exact, "
               "at_us, detail, record_id) SELECT session_id, scope, model, kind, '0.5', "
               "500000000, 1, at_us, detail, 'old-3' FROM records WHERE record_id = 'old-2'")
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone()[0] == SQLiteLedger.SCHEMA_VERSION
    db.close()
    assert stored_days(path) == fresh_days(path)
    with SQLiteLedger(path) as ledger:
        assert ledger.spent(scope="acme", since=NOV) == D("0.7500000005")


def test_a_dropped_trigger_rebuilds_the_totals_at_open(tmp_path):
    path = tmp_path / "l.db"
    with SQLiteLedger(path) as ledger:
        ledger.record(rec("0.25", NOV))
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER spend_days_insert")
    db.execute("INSERT INTO records (session_id, scope, model, kind, usd, usd_nano, nano_exact, "
               "at_us, detail) SELECT session_id, scope, model, kind, usd, usd_nano, "
               "nano_exact, at_us, detail FROM records")    # missed by the totals
    db.commit()
    db.close()
    with SQLiteLedger(path) as ledger:
        assert ledger.spent(scope="acme", since=NOV) == D("0.5")
    assert stored_days(path) == fresh_days(path)
