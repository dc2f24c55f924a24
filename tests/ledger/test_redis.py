"""The Redis ledger against a real ``redis-server`` started on loopback for this session.

Without ``redis-server`` (or the ``redis`` package) these tests skip, unless the ``CI``
environment variable is set: CI installs both, so there they fail instead.

The shared behaviour tests of ``test_ledger.py`` run here too (imported below; the ``ledger``
fixture of this module gives them a `RedisLedger`). The concurrency proof (issue 6) runs 64
sessions, 8 processes x 8 threads, against one tenant cap.
"""

from __future__ import annotations

import inspect
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from costmodel.errors import BudgetExceeded, LedgerError
from costmodel.ledger import MemoryLedger, open_ledger
from costmodel.money import exact_sum
from tests.ledger import test_ledger as shared

SERVER = shutil.which("redis-server")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: it must install it)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client, deadline = redis.Redis(port=port, socket_timeout=1), time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.02)
    client.close()
    return proc, f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    try:
        import redis  # noqa: F401
    except ImportError:
        _unavailable("the redis package is not installed (pip install 'costmodel[redis]')")
    if SERVER is None:
        _unavailable("redis-server is not installed (Debian: apt-get install redis-server)")
    proc, url = _start_server()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def url(redis_url: str) -> str:
    """The session's server, flushed."""
    import redis
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    return redis_url


@pytest.fixture
def ledger(url: str) -> Iterator[object]:
    made = open_ledger(url)
    yield made
    made.close()


# The shared behaviour tests: every test of test_ledger.py that takes the `ledger` fixture.
SHARED = [name for name, fn in vars(shared).items()
          if name.startswith("test_") and "ledger" in inspect.signature(fn).parameters]
globals().update({name: getattr(shared, name) for name in SHARED})
rec, T0, NOW = shared.rec, shared.T0, shared.NOW


def test_the_shared_tests_were_picked_up():
    assert len(SHARED) >= 13 and "test_period_budget_counts_only_spend_since" in SHARED


# --- exact arithmetic in Lua ---------------------------------------------------------------

def test_the_lua_decimal_arithmetic_agrees_with_python_decimal(url):
    """add, sub (clamped at 0) and cmp on random plain decimals: carries, borrows across
    15-digit chunks, up to 40 digits and 45 decimals, near-equal pairs; canonical output."""
    import decimal

    import redis

    from costmodel.ledger import redis as ledger_redis
    from costmodel.ledger import redis_lua
    ctx, rng = decimal.Context(prec=200), random.Random(2026)

    def canon(d: D) -> str:
        return "0" if d == 0 else f"{d.normalize(ctx):f}"

    def amount() -> D:
        digits = rng.randrange(10 ** rng.randint(0, 40)) if rng.random() < 0.9 else 0
        return D(digits).scaleb(-rng.choice([0, 0, 1, 3, 9, 12, 14, 15, 16, 29, 45]))

    pairs = []
    for _ in range(3000):
        a, b = amount(), amount()
        if rng.random() < 0.2:
            b = max(D(0), a + D(rng.choice([0, 1, -1])).scaleb(-rng.randint(0, 30)))
        pairs.append((a, b))
    with redis.Redis.from_url(url, decode_responses=True) as r:
        script = r.register_script(redis_lua.LIB + "return {add(ARGV[1], ARGV[2]), "
                                   "sub(ARGV[1], ARGV[2]), tostring(cmp(ARGV[1], ARGV[2]))}")
        pipe = r.pipeline(transaction=False)
        for a, b in pairs:
            script([], [ledger_redis._plain(a), ledger_redis._plain(b)], client=pipe)
        got = pipe.execute()
    for (a, b), out in zip(pairs, got, strict=True):
        assert out == [canon(ctx.add(a, b)), canon(max(D(0), ctx.subtract(a, b))),
                       str((a > b) - (a < b))], (a, b)


def test_amounts_travel_as_canonical_plain_decimals():
    """What the scripts and the stored records receive: no exponent, no trailing fractional
    zeros, never a sign (``tidy``'s text, by string operations)."""
    from costmodel.ledger import redis as ledger_redis
    from costmodel.money import plain, tidy
    rng = random.Random(10)
    amounts = [D("-0"), D("0.000"), D("0E+5"), D("1E+3"), D("1.0E+2"), D("0.50"), D("1E-45"),
               D("120.000"), D("12345678901234567890.1234567890")]
    amounts += [D(rng.randrange(10 ** rng.randint(0, 40))).scaleb(rng.randint(-45, 10))
                for _ in range(5000)]
    for usd in amounts:
        assert plain(usd) == f"{tidy(usd):f}", usd
        assert ledger_redis._plain(usd) == f"{tidy(usd.copy_abs()):f}", usd
    assert [ledger_redis._plain(D(x)) for x in ("1E+3", "0.50", "-0", "0.000")] == [
        "1000", "0.5", "0", "0"]


# --- periods -------------------------------------------------------------------------------

def test_period_totals_match_a_record_by_record_sum_for_any_since_and_until(ledger):
    """Day/month counters and the in-day lists, checked against `MemoryLedger` scanning."""
    rng, memory = random.Random(6), MemoryLedger()
    start = datetime(2025, 12, 20, tzinfo=UTC)
    for i in range(300):
        at = start + timedelta(seconds=rng.randrange(60 * 86400))
        usd = D(rng.randrange(10**rng.randrange(1, 16))).scaleb(-rng.randrange(15))
        r = rec(str(usd), scope=rng.choice(["acme", "zeta"]), session=f"s{i % 7}", at=at)
        ledger.record(r)
        memory.record(r)
    marks = [None, start, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC),
             datetime(2026, 1, 17, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC),
             datetime(2027, 1, 1, tzinfo=UTC)]
    marks += [start + timedelta(seconds=rng.randrange(62 * 86400)) for _ in range(8)]
    for since in marks:
        for until in marks:
            for scope in ("acme", "zeta", None):
                want = memory.spent(scope=scope, since=since, until=until)
                assert ledger.spent(scope=scope, since=since, until=until) == want, (since, until)
    for session in ("s0", "s3"):
        assert ledger.spent(session_id=session, scope="acme") == memory.spent(
            session_id=session, scope="acme")
        assert ledger.records(session_id=session, limit=5) == memory.records(
            session_id=session, limit=5)
    assert ledger.records(scope="zeta") == memory.records(scope="zeta")


@pytest.mark.parametrize("since", [datetime(2026, 1, 15, tzinfo=UTC),          # a day start
                                   datetime(2026, 1, 15, 9, 30, tzinfo=UTC)])  # any instant
def test_daily_budget_counts_today_only(ledger, since):
    ledger.record(rec("5", at=since - timedelta(seconds=1)))
    ledger.record(rec("0.4", at=since))
    ledger.record(rec("0.2", at=since + timedelta(hours=3)))
    ledger.reserve("acme", "s1", D("0.4"), limit_usd=D(1), since=since, now=NOW)
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve("acme", "s1", D("0.000000000001"), limit_usd=D(1), since=since, now=NOW)
    assert info.value.spent_usd == D("0.6") and info.value.reserved_usd == D("0.4")


def test_amounts_are_stored_as_exact_decimal_strings(ledger, url):
    import redis
    for usd in ("0.1", "0.000000000001", "1E+3", "-0"):
        ledger.record(rec(usd, at=T0))
    with redis.Redis.from_url(url, decode_responses=True) as r:
        assert r.hgetall("{costmodel}:sums:acme") == {
            "all": "1000.100000000001", "2026-01": "1000.100000000001",
            "2026-01-01": "1000.100000000001"}
        assert r.zrange("{costmodel}:months:acme", 0, -1, withscores=True) == [
            ("2026-01", 202601.0)]
    assert ledger.spent(scope="acme", since=T0, until=T0 + timedelta(microseconds=1)) == D(
        "1000.100000000001")


def test_each_reservation_is_checked_against_the_limit_it_names(ledger):
    """One ledger serves budgets of different sizes (the limit's text is reused only for the
    same limit)."""
    big, small = D(1), D("0.5")
    for _ in range(2):
        hold = ledger.reserve("acme", "s1", D("0.6"), limit_usd=big, now=NOW)
        with pytest.raises(BudgetExceeded):
            ledger.reserve("zeta", "s1", D("0.6"), limit_usd=small, now=NOW)
        ledger.release(hold)
    ledger.reserve("acme", "s1", D("0.4"), limit_usd=small, now=NOW)
    with pytest.raises(BudgetExceeded):
        ledger.reserve("acme", "s1", D("0.2"), limit_usd=small, now=NOW)


def test_a_server_that_forgot_the_scripts_gets_them_again(ledger, url):
    import redis
    with redis.Redis.from_url(url) as r:
        r.script_flush()
    hold = ledger.reserve("acme", "s1", D("0.3"), limit_usd=D(1), since=T0, now=NOW)
    with redis.Redis.from_url(url) as r:
        r.script_flush()
    assert ledger.commit(hold, rec("0.25")) is True
    assert ledger.spent(scope="acme") == D("0.25") and ledger.reserved(now=NOW) == 0


# --- the concurrency proof -----------------------------------------------------------------

CAP, SESSIONS_PER_PROC, PROCS = D(10), 8, 8


def _session(url: str, name: str, overrun: bool, out: list) -> None:
    """Reserve a projection, then commit the actual (over, under) or release, until refused."""
    ledger, rng = open_ledger(url), random.Random(name)
    mine, overruns, refusals = D(0), [], 0
    while refusals < 6:
        projected = D(rng.randrange(1, 20_000_000_000)).scaleb(-12)   # < 2 cents, 12 places
        try:
            hold = ledger.reserve("tenant", name, projected, limit_usd=CAP, ttl_seconds=60)
        except BudgetExceeded:
            refusals += 1
            time.sleep(0.002)
            continue
        roll = rng.random()
        if roll < 0.1:
            ledger.release(hold)
            continue
        delta = D(rng.randrange(0, 5_000_000_000)).scaleb(-12)
        actual = projected + delta if overrun and roll < 0.35 else max(D(0), projected - delta)
        ledger.commit(hold, rec(str(actual), session=name, scope="tenant"))
        mine += actual
        overruns.append(actual - projected)
    ledger.close()
    out.append((name, str(mine), [str(o) for o in overruns]))


def _process(url: str, n: int, overrun: bool, queue) -> None:   # a child process: 8 sessions
    out: list = []
    threads = [threading.Thread(target=_session, args=(url, f"p{n}t{t}", overrun, out))
               for t in range(SESSIONS_PER_PROC)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(out)


@pytest.mark.parametrize("overrun", [False, True], ids=["actual<=reserved", "with-overruns"])
def test_64_sessions_in_8_processes_share_one_cap_exactly(url, overrun):
    """Bound: committed <= cap + the sum of the positive overruns (actual - reserved) of the
    reservations live at the last granted reserve; one per session, so <= cap + the 64
    largest overruns, and exactly <= cap when actual never exceeds reserved.

    (Why: a grant needs committed + held + amount <= cap; a commit adds actual - reserved to
    committed + held; releases and expiry only lower it. Once committed passes the cap no
    grant succeeds, so only reservations already live can add to the excess.)
    """
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_process, args=(url, n, overrun, queue)) for n in range(PROCS)]
    for p in procs:
        p.start()
    results = [item for _ in procs for item in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert len(results) == PROCS * SESSIONS_PER_PROC == 64
    overruns = sorted((D(o) for _, _, os_ in results for o in os_ if D(o) > 0), reverse=True)
    bound = exact_sum(overruns[:64])
    assert bool(overruns) == overrun
    with open_ledger(url) as ledger:
        total = ledger.spent(scope="tenant")
        assert total == exact_sum(D(mine) for _, mine, _ in results)   # exact, not ~micro
        assert total <= CAP + bound
        assert total > CAP - D("0.02")        # the cap was actually reached
        assert ledger.reserved() == 0 and ledger.reserved(now=0) == 0
        assert len(ledger.records()) == sum(len(o) for _, _, o in results)
        for name, mine, _ in results[:8]:
            assert ledger.spent(scope="tenant", session_id=name) == D(mine)
    import redis
    with redis.Redis.from_url(url) as r:    # nothing held, not even expired leftovers
        assert r.zcard("{costmodel}:held") == r.hlen("{costmodel}:hold") == 0
        assert r.hlen("{costmodel}:heldsum") == 0


CRASH = textwrap.dedent("""
    import os, sys
    from decimal import Decimal
    from costmodel.ledger import open_ledger
    ledger = open_ledger(sys.argv[1])
    ledger.reserve("tenant", "doomed", Decimal("0.9"), limit_usd=Decimal(1), ttl_seconds=1.0)
    print("held", flush=True)
    os._exit(1)                   # dies holding the reservation: no commit, no release
""")


def test_a_crashed_worker_leaks_no_reservation(url):
    child = subprocess.run([sys.executable, "-c", CRASH, url], capture_output=True, text=True,
                           check=False, cwd=Path(__file__).parents[2], timeout=30)
    assert child.stdout == "held\n" and child.returncode == 1, child.stderr
    with open_ledger(url) as ledger:
        assert ledger.reserved(scope="tenant") == D("0.9")
        with pytest.raises(BudgetExceeded):
            ledger.reserve("tenant", "next", D("0.2"), limit_usd=D(1))
        time.sleep(1.05)                                   # past the TTL
        assert ledger.reserved(scope="tenant") == 0
        hold = ledger.reserve("tenant", "next", D(1), limit_usd=D(1))   # the budget is free
        ledger.release(hold)
    import redis
    with redis.Redis.from_url(url) as r:
        assert r.zcard("{costmodel}:held") == r.hlen("{costmodel}:hold") == 0


# --- failures ------------------------------------------------------------------------------

def test_unreachable_redis_is_a_quick_ledger_error_naming_the_url_not_the_password():
    try:
        import redis  # noqa: F401
    except ImportError:
        _unavailable("the redis package is not installed (pip install 'costmodel[redis]')")
    url = f"redis://user:s3cret@127.0.0.1:{_free_port()}/0"
    started = time.monotonic()
    with pytest.raises(LedgerError) as info:
        open_ledger(url)
    assert time.monotonic() - started < 3
    msg = str(info.value)
    assert "s3cret" not in msg and f"127.0.0.1:{url.rsplit(':', 1)[1]}" in msg
    assert info.value.operation == "open" and "***@" in info.value.path
    with pytest.raises(LedgerError) as info:   # a password in the query is hidden too
        open_ledger(f"redis://127.0.0.1:{_free_port()}/0?password=qu3ry-s3cret")
    assert "qu3ry-s3cret" not in str(info.value) and "password=***" in str(info.value)


def test_redis_going_away_mid_session_is_a_ledger_error_naming_the_operation(redis_url):
    proc, url = _start_server()
    try:
        ledger = open_ledger(url)
        ledger.reserve("acme", "s1", D("0.1"), limit_usd=D(1))
    finally:
        proc.kill()
        proc.wait()
    for call, op in [(lambda: ledger.reserve("acme", "s1", D("0.1"), limit_usd=D(1)), "reserve"),
                     (lambda: ledger.record(rec("0.1")), "commit"),
                     (lambda: ledger.spent(scope="acme"), "spent")]:
        started = time.monotonic()
        with pytest.raises(LedgerError) as info:
            call()
        assert time.monotonic() - started < 3
        assert info.value.operation == op and url in str(info.value)
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.spent()


# -- the stored text of a record --------------------------------------------------------------
def _records():
    from hypothesis import strategies as st

    from costmodel.ledger import SpendRecord

    text = st.text(min_size=1, max_size=20)   # any Unicode: quotes, backslashes, emoji, NUL
    detail = st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5),
                             max_size=3)
    return st.builds(
        SpendRecord, session_id=text, scope=text, model=text, kind=text, id=text, detail=detail,
        usd=st.decimals(min_value=0, max_value=10**9, places=12, allow_nan=False,
                        allow_infinity=False),
        at=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC)))


def test_a_record_is_stored_as_the_json_of_record_to_json():
    # The commit builds the stored text directly, for speed; it must be exactly what the
    # encoder makes of record_to_json (what every other ledger and the spool store).
    from hypothesis import given, settings

    from costmodel.ledger.base import record_to_json
    from costmodel.ledger.redis import _record_text, _to_json

    @settings(max_examples=300, deadline=None)
    @given(_records())
    def check(record):
        stored = record_to_json(record)
        assert _record_text(record) == (_to_json(stored), stored["usd"], stored["at_us"])

    check()
