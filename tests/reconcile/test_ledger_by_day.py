"""`Ledger.spent_by_day`: exact committed spend per UTC day, scope and model, on every backend
(a real SQLite file, a real redis-server, memory), the same rows whichever backend holds them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costmodel.ledger import DaySpend, MemoryLedger, SpendRecord, open_ledger
from costmodel.ledger.base import day_totals
from tests.ledger.test_redis import redis_url  # noqa: F401 (the session's redis-server)

NOV29 = datetime(2026, 11, 29, tzinfo=UTC)


def rec(usd: str, at: datetime, *, scope: str = "acme", model: str = "openai/gpt-realtime-1.5",
        session: str = "s1") -> SpendRecord:
    return SpendRecord(session_id=session, scope=scope, model=model, usd=D(usd), at=at)


def book(ledger) -> None:
    """Five records over two days, two scopes, two models, three sessions.

    Nov 29 acme realtime: 0.10 (s1, 10:00) + 0.25 (s1, 23:59:59.999999) = 0.35, 2 records
    Nov 30 acme realtime: 0.05 (s1, 00:00, the same call past midnight) = 0.05, 1 record
    Nov 30 acme mini:     0.000000001 (s2: a nano-dollar)
    Nov 30 globex realtime: 0.1234567891 (s3: finer than a nano-dollar, kept exactly)
    """
    for r in (rec("0.10", NOV29 + timedelta(hours=10)),
              rec("0.25", NOV29 + timedelta(days=1, microseconds=-1)),
              rec("0.05", NOV29 + timedelta(days=1)),
              rec("0.000000001", NOV29 + timedelta(days=1, hours=1),
                  model="openai/gpt-realtime-mini", session="s2"),
              rec("0.1234567891", NOV29 + timedelta(days=1, hours=2), scope="globex",
                  session="s3")):
        ledger.record(r)


EXPECTED = [
    DaySpend(date(2026, 11, 29), "acme", "openai/gpt-realtime-1.5", D("0.35"), 2, 1),
    DaySpend(date(2026, 11, 30), "acme", "openai/gpt-realtime-1.5", D("0.05"), 1, 1),
    DaySpend(date(2026, 11, 30), "acme", "openai/gpt-realtime-mini", D("0.000000001"), 1, 1),
    DaySpend(date(2026, 11, 30), "globex", "openai/gpt-realtime-1.5", D("0.1234567891"), 1, 1),
]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def ledger(request, tmp_path):
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        import redis
        redis.Redis.from_url(url).flushdb()
        store = open_ledger(url)
    else:
        store = open_ledger("memory" if request.param == "memory" else tmp_path / "l.db")
    with store:
        yield store


def test_rows_per_day_scope_and_model_are_exact_on_every_backend(ledger):
    book(ledger)
    assert ledger.spent_by_day(sessions=True) == EXPECTED
    # without sessions the count is not taken (it costs the SQL backend a distinct set a group)
    assert [d.sessions for d in ledger.spent_by_day()] == [None] * 4
    assert sum(d.usd for d in ledger.spent_by_day()) == ledger.spent() == D("0.5234567901")


def test_since_is_inclusive_until_exclusive_and_scope_filters(ledger):
    book(ledger)
    nov30 = NOV29 + timedelta(days=1)
    assert ledger.spent_by_day(since=nov30) == [
        DaySpend(e.day, e.scope, e.model, e.usd, e.records) for e in EXPECTED[1:]]
    assert [(d.day, d.usd) for d in ledger.spent_by_day(until=nov30)] == [
        (date(2026, 11, 29), D("0.35"))]
    assert [(d.scope, d.usd) for d in ledger.spent_by_day(scope="globex")] == [
        ("globex", D("0.1234567891"))]
    assert ledger.spent_by_day(scope="nobody") == []


def test_sqlite_sums_nano_dollars_in_sql_and_finer_amounts_exactly(tmp_path):
    # 0.1234567891 is stored as 123456789 nano-dollars, not exact: its text is what counts.
    path = tmp_path / "l.db"
    with open_ledger(path) as ledger:
        book(ledger)
        ledger.record(rec("0.0000000004", NOV29 + timedelta(days=1, hours=3), scope="globex"))
        [row] = ledger.spent_by_day(scope="globex")
    assert row.usd == D("0.1234567895") and row.records == 2
    exact = sqlite3.connect(path).execute("SELECT usd, nano_exact FROM records WHERE "
                                          "scope = 'globex' ORDER BY seq").fetchall()
    assert exact == [("0.1234567891", 0), ("0.0000000004", 0)]


def test_sqlite_group_past_int64_nano_dollars_falls_back_to_exact_text(tmp_path):
    # 10 x $999,999,999 = 9.99e18 nano-dollars: more than SQLite's 64-bit SUM holds.
    with open_ledger(tmp_path / "l.db") as ledger:
        for i in range(10):
            ledger.record(rec("999999999", NOV29, session=f"s{i}"))
        [row] = ledger.spent_by_day(sessions=True)
    assert (row.usd, row.records, row.sessions) == (D("9999999990"), 10, 10)


amounts = st.decimals(min_value=0, max_value=1000, places=12, allow_nan=False)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(amounts, st.integers(0, 5 * 86_400 - 1), st.sampled_from(["a", "b"]),
                          st.sampled_from(["m1", "m2"]), st.integers(0, 3)), max_size=30))
def test_sqlite_agrees_with_one_pass_over_the_records(tmp_path_factory, items):
    """Whatever is committed, SQL's rows are the records' exact day totals."""
    records = [rec(str(usd), NOV29 + timedelta(seconds=s), scope=scope, model=model,
                   session=f"s{n}") for usd, s, scope, model, n in items]
    path = tmp_path_factory.mktemp("h") / "l.db"
    with open_ledger(path) as sql, MemoryLedger() as memory:
        for r in records:
            sql.record(r)
            memory.record(r)
        expected = day_totals(records, sessions=True)
        assert sql.spent_by_day(sessions=True) == expected
        assert memory.spent_by_day(sessions=True) == expected


def test_sqlite_groups_by_day_from_its_own_index_without_sorting_the_records(tmp_path):
    path = tmp_path / "l.db"
    with open_ledger(path) as ledger:
        book(ledger)
    db = sqlite3.connect(path)
    [sql] = [r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE name = 'records_day'")]
    assert "at_us / 86400000000, scope, model, session_id" in sql
    plan = " ".join(r[3] for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT at_us / 86400000000, scope, model, SUM(usd_nano * nano_exact),"
        " SUM(1 - nano_exact), COUNT(*), COUNT(DISTINCT session_id) FROM records "
        "WHERE at_us / 86400000000 >= 20000 AND at_us >= 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"))
    assert "COVERING INDEX records_day" in plan    # no table lookups
    assert "FOR GROUP BY" not in plan and "FOR ORDER BY" not in plan   # and no sort
    fine = " ".join(r[3] for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT at_us / 86400000000, scope, model, usd FROM records "
        "WHERE nano_exact = 0"))
    assert "COVERING INDEX records_day_fine" in fine     # only the finer amounts' own text
    # A file made before the index existed gets it when opened, and keeps its schema version.
    db.execute("DROP INDEX records_day")
    db.execute("DROP INDEX records_day_fine")
    db.commit()
    db.close()
    with open_ledger(path) as ledger:
        assert ledger.spent_by_day(sessions=True) == EXPECTED
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'records_day%'"
                      ).fetchone() == (2,)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    db.close()


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 3 * 86_400_000_000), st.integers(0, 3 * 86_400_000_000))
def test_any_since_and_until_cut_at_the_instant(tmp_path_factory, a, b):
    """Bounds at any microsecond, not only midnights: the same rows as the records' own."""
    since, until = (NOV29 + timedelta(microseconds=min(a, b)),
                    NOV29 + timedelta(microseconds=max(a, b)))
    records = [rec(f"0.{i + 1:02d}", NOV29 + timedelta(hours=7 * i), session=f"s{i % 3}")
               for i in range(10)]
    path = tmp_path_factory.mktemp("b") / "l.db"
    with open_ledger(path) as sql:
        for r in records:
            sql.record(r)
        expected = day_totals([r for r in records if since <= r.at < until], sessions=True)
        assert sql.spent_by_day(since=since, until=until, sessions=True) == expected
