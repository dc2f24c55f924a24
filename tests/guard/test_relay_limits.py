"""Bounded resources, attacked with real parts: idle and half-open connections, too many
sessions, oversized frames, and a relay in a subprocess that runs out of file descriptors.

Measured on main before this: with a low fd limit, ~96 idle sessions blocked every new
handshake and asyncio logged "socket.accept() out of system resource" 715,798 times
(318 MB of stderr in 95 s); there was no session cap and no idle timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from costmodel.errors import InputError
from costmodel.guard.relay import Limits, Relay
from costmodel.guard.relay.limits import parse_size
from costmodel.guard.relay.ratelog import AcceptErrorHandler, RateLimitedLog

from .fake_upstream import FakeUpstream
from .test_relay import PATH, audio_frame, client, recv, relay_stack, run, spend_log, turn, wait_for

ROOT = Path(__file__).resolve().parents[2]


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the relay closes a raw TCP connection within `seconds` (EOF or reset)."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
        return True
    except ConnectionError:
        return True
    except TimeoutError:
        return False


def test_sessions_over_the_cap_get_503_and_a_freed_place_is_reused(tmp_path):
    async def main():
        async with relay_stack(tmp_path, max_sessions=2) as (up, relay, url):
            async with client(url) as a, client(url) as b:
                await recv(a)
                await recv(b)
                with pytest.raises(InvalidStatus) as info:
                    async with client(url):
                        pass
                res = info.value.response
                await turn(a, [])  # the admitted sessions are unaffected
            await wait_for(lambda: relay.sessions_live == 0)
            async with client(url) as c:  # places are freed when sessions end
                await recv(c)
            return res, len(up.conns), relay.metrics

    res, upstreams, metrics = run(main())
    assert res.status_code == 503 and res.headers["Retry-After"] == "5"
    assert upstreams == 3  # the refused one never reached the upstream
    assert metrics.value("costmodel_relay_refused_handshakes_total", reason="over_capacity") == 1


def test_a_session_that_cannot_start_frees_its_place(tmp_path, caplog):
    """Measured before: a session whose setup raised (a token limit of 1e999999999 overflowed
    its guard) kept its place for good; with max_sessions=3, three such handshakes shut every
    tenant out (HTTP 503). Such limits are now refused up front, and any setup failure frees
    the place."""
    async def main():
        async with relay_stack(tmp_path, max_sessions=1) as (up, relay, url):
            relay.warn_at = "not a number"  # any failure of a session's setup
            codes = []
            for _ in range(3):
                async with client(url) as ws:
                    with pytest.raises(ConnectionClosed):
                        await recv(ws)
                    codes.append(ws.close_code)
            await wait_for(lambda: all(c.closed.is_set() for c in up.conns))
            relay.warn_at = "0.8"
            async with client(url) as ws:  # the one place is free
                await recv(ws)
                await turn(ws, [])
            await wait_for(lambda: relay.sessions_done == 1)
            return codes, relay.metrics

    codes, metrics = run(main())
    assert codes == [1011] * 3
    assert metrics.value("costmodel_relay_refused_handshakes_total", reason="over_capacity") == 0
    assert len(spend_log(tmp_path)) == 1
    assert sum("cannot start a session" in r.getMessage() for r in caplog.records) == 3


def test_limits_the_guard_cannot_hold_and_a_foreign_spool_are_refused_up_front(tmp_path):
    from costmodel.guard.relay import Grant, TokenTable
    from costmodel.ledger import Spool, open_ledger

    token = "tok-0123456789abcdef"
    for limit in ("1e999999999", "1000000.01", "inf", "0"):
        with pytest.raises(InputError, match="at most 1000000"):
            TokenTable({token: ("acme", limit)})
        with pytest.raises(InputError, match="at most 1000000"):
            Relay("ws://127.0.0.1:9", limit)
    with pytest.raises(InputError, match="at most 1000000"):
        TokenTable({token: Grant("acme", Decimal("1e999999999"))})
    assert TokenTable({token: ("acme", "1000000")}).check(token).limit_usd == 1_000_000
    ours, other = open_ledger("memory"), open_ledger(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with pytest.raises(InputError, match="is for the ledger sqlite:"):
            Relay("ws://127.0.0.1:9", "1", ledger=ours, spool=Spool(other, tmp_path))
        with pytest.raises(InputError, match="could never be flushed"):
            Relay("ws://127.0.0.1:9", "1", ledger=ours, spool=Spool(None, tmp_path, key=ours.key))
        assert Relay("ws://127.0.0.1:9", "1", ledger=ours,
                     spool=Spool(ours, tmp_path)).spool.ledger is ours
    finally:
        other.close()


def test_idle_sessions_are_closed_and_live_ones_kept(tmp_path):
    async def main():
        async with relay_stack(tmp_path, idle_timeout=0.4) as (up, _relay, url), \
                client(url) as idle, client(url) as talker:
            await recv(idle)
            await recv(talker)
            t0 = time.monotonic()
            while idle.state.name == "OPEN" or time.monotonic() - t0 < 1.0:
                await talker.send(audio_frame(0))  # a live call streams audio
                await asyncio.sleep(0.05)
                assert time.monotonic() - t0 < 4
            with pytest.raises(ConnectionClosed):
                await recv(idle)
            await turn(talker, [])
            return idle.close_code, idle.close_reason, time.monotonic() - t0, up.conns

    code, reason, elapsed, conns = run(main())
    assert (code, reason) == (4008, "idle timeout")
    assert elapsed < 3
    [rec] = [r for r in spend_log(tmp_path) if r["end"] == "idle"]
    assert rec["responses"] == 0
    assert conns[0].closed.is_set()  # its upstream was closed too
    assert conns[1].responses == 1


def test_half_open_connections_are_dropped_after_the_handshake_timeout(tmp_path):
    async def main():
        async with relay_stack(tmp_path, handshake_timeout=0.3) as (_up, relay, url):
            port = int(url.rsplit(":", 1)[1])
            silent = await asyncio.open_connection("127.0.0.1", port)
            slow = await asyncio.open_connection("127.0.0.1", port)
            slow[1].write(b"GET /v1/realtime HTTP/1.1\r\nHost: x\r\n")  # never finished
            dropped = [await closed_within(silent[0], 3), await closed_within(slow[0], 3)]
            async with client(url) as ws:  # a real client is still served
                await recv(ws)
            for _, w in (silent, slow):
                w.close()
            return dropped, relay.metrics

    dropped, metrics = run(main())
    assert dropped == [True, True]
    assert metrics.value("costmodel_relay_refused_handshakes_total",
                         reason="handshake_timeout") == 2


def test_connections_over_the_connection_cap_are_closed_at_once(tmp_path):
    async def main():
        async with relay_stack(tmp_path, max_connections=3) as (_up, relay, url):
            port = int(url.rsplit(":", 1)[1])
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            await wait_for(lambda: relay.connections_open == 3)
            extra = await asyncio.open_connection("127.0.0.1", port)
            over = await closed_within(extra[0], 2)
            for _, w in held:
                w.close()
            await wait_for(lambda: relay.connections_open == 0)
            async with client(url) as ws:
                await recv(ws)
            return over, relay.metrics

    over, metrics = run(main())
    assert over
    assert metrics.value("costmodel_relay_refused_handshakes_total", reason="connection_limit") == 1


def test_an_oversized_client_frame_closes_the_session_1009(tmp_path):
    async def main():
        async with relay_stack(tmp_path, max_frame_bytes=64 * 1024) as (up, relay, url):
            async with client(url) as ws:
                await recv(ws)
                await ws.send(audio_frame(0))
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": "A" * 100_000}))
                with pytest.raises(ConnectionClosed):
                    while True:
                        await recv(ws)
            await wait_for(lambda: relay.sessions_done == 1)
            return ws.close_code, up.conns[0], relay.metrics

    code, conn, metrics = run(main())
    assert code == 1009
    assert len(conn.frames) == 1  # the small frame went through, the big one never did
    assert spend_log(tmp_path)[0]["end"] == "frame_too_big"
    assert metrics.value("costmodel_relay_rejected_client_frames_total", reason="too_big") == 1


def test_limit_defaults_follow_the_fd_limit_and_bad_values_are_input_errors():
    low = Limits().resolve(nofile=128, open_fds=10)
    # Client sockets (connections), upstream sockets (one per session) and three accept
    # bursts fit in what is left after the open descriptors and a reserve for files.
    assert (low.max_sessions, low.max_connections, low.backlog) == (13, 41, 16)
    assert low.max_connections + low.max_sessions + 3 * low.backlog <= 128 - 10 - 16
    high = Limits().resolve(nofile=1_048_576, open_fds=10)
    assert high.max_sessions == 1000 and high.max_connections == 4064
    assert Limits(idle_timeout=0).resolve(nofile=1024, open_fds=10).idle_timeout is None
    assert Limits(max_sessions=7).resolve(nofile=1024, open_fds=10).max_sessions == 7
    for bad in ({"max_sessions": 0}, {"idle_timeout": -1}, {"handshake_timeout": 0},
                {"max_frame_bytes": 10}):
        with pytest.raises(InputError):
            Limits(**bad)
    with pytest.raises(InputError):
        Relay("ws://127.0.0.1:9", "1", max_sessions=-3)
    assert parse_size("16MiB") == 16 * 2**20
    with pytest.raises(InputError):
        parse_size("lots")


def test_refusal_and_accept_error_logs_are_rate_limited(caplog):
    now = [0.0]
    rl = RateLimitedLog(__import__("logging").getLogger("costmodel.relay"), interval=10,
                        clock=lambda: now[0])
    caplog.set_level("WARNING", "costmodel.relay")
    for _ in range(1000):
        rl.warning("k", "refused a client")
    now[0] = 11
    rl.warning("k", "refused a client")
    assert [r.getMessage() for r in caplog.records] == [
        "refused a client", "refused a client (999 more in the last 11 s)"]

    async def main():
        loop = asyncio.get_running_loop()
        handler = AcceptErrorHandler()
        handler.install(loop)
        for _ in range(5000):
            loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                         "exception": OSError(24, "Too many open files")})
        handler.uninstall()
        assert loop.get_exception_handler() is None
        return handler.count

    caplog.clear()
    assert asyncio.run(main()) == 5000
    assert len([r for r in caplog.records if "cannot accept" in r.getMessage()]) == 1


# -- a relay out of file descriptors -----------------------------------------------------

CHILD = textwrap.dedent("""
    import asyncio, logging, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (@NOFILE@, @NOFILE@))
    logging.basicConfig(level=logging.WARNING)
    from costmodel.guard.relay import Relay

    async def main():
        relay = Relay(sys.argv[1], "5", proxy=None, **@KW@)
        _, port = await relay.start("127.0.0.1:0")
        print(port, relay.limits.max_sessions, flush=True)
        await asyncio.get_running_loop().create_future()

    asyncio.run(main())
""")


@contextlib.asynccontextmanager
async def fd_limited_relay(upstream: str, nofile: int, **kw):
    code = CHILD.replace("@NOFILE@", str(nofile)).replace("@KW@", repr(kw))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, upstream, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    stderr: list[bytes] = []

    async def read_stderr():
        while line := await proc.stderr.readline():
            stderr.append(line)

    reader = asyncio.create_task(read_stderr())
    try:
        port, max_sessions = map(int, (await asyncio.wait_for(proc.stdout.readline(), 10))
                                 .split())
        yield f"ws://127.0.0.1:{port}", max_sessions, stderr
    finally:
        proc.terminate()
        await proc.wait()
        await reader


async def flood(url: str, sessions: int, raw: int) -> tuple[list, list]:
    """Open `sessions` websocket sessions, then `raw` TCP connections, none of which sends
    anything; returns them (to close later) and the HTTP statuses of the refused sessions
    (None: closed before any answer)."""
    port = int(url.rsplit(":", 1)[1])
    held, statuses = [], []
    for _ in range(sessions):
        try:
            held.append(await connect(url + PATH, open_timeout=1, proxy=None).__aenter__())
        except InvalidStatus as exc:
            statuses.append(exc.response.status_code)
        except (OSError, TimeoutError, ConnectionClosed, InvalidMessage):
            statuses.append(None)

    async def connect_raw():
        # Once the relay stops accepting, the kernel's queue fills and further connects
        # wait for SYN retries: give up on those quickly (all at once).
        with contextlib.suppress(OSError, TimeoutError):
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
            held.append(writer)

    await asyncio.gather(*(connect_raw() for _ in range(raw)))
    return held, statuses


async def close_all(held: list) -> None:
    for h in held:
        if hasattr(h, "transport") and hasattr(h, "recv"):
            h.transport.abort()
        else:
            h.close()


@pytest.mark.parametrize("gate", ["default limits", "no connection cap"])
def test_an_fd_limited_relay_keeps_serving_its_sessions_under_a_flood(gate):
    """96 descriptors. With the default limits the relay never runs out: idle sessions over
    the cap get 503 and surplus connections are closed at once. With the connection cap
    lifted, accept() does fail (EMFILE): the loop's error is logged once per interval, not
    per attempt. Either way the admitted sessions keep working and stderr stays small."""
    kw = {} if gate == "default limits" else {"max_connections": 10_000, "max_sessions": 30,
                                              "handshake_timeout": 1.0}

    async def main():
        async with FakeUpstream() as up, fd_limited_relay(up.url, 96, **kw) as (
                url, max_sessions, stderr):
            admitted = [await client(url).__aenter__() for _ in range(3)]
            for ws in admitted:
                await recv(ws)
            # Over the session cap (default limits), or (cap lifted) idle sessions up to the
            # cap, which leaves the raw connections only a few descriptors to exhaust.
            idle = max_sessions + 5 if gate == "default limits" else max_sessions - 3
            held, statuses = await flood(url, sessions=idle, raw=150)
            for ws in admitted:  # the admitted sessions still work, end to end
                seen: list[dict] = []
                await turn(ws, seen)
                assert seen[-1]["type"] == "response.done"
            await close_all(held)
            await close_all(admitted)
            return max_sessions, statuses, stderr

    max_sessions, statuses, stderr = asyncio.run(asyncio.wait_for(main(), 30))
    text = b"".join(stderr).decode(errors="replace")
    if gate == "default limits":
        assert 1 <= max_sessions <= (96 - 16 - 48) // 4
        assert statuses and set(statuses) == {503}  # every session over the cap, at once
        assert "cannot accept" not in text  # the fds never ran out
    else:
        assert "cannot accept connections: [Errno 24]" in text
    lines = text.splitlines()
    assert len(lines) < 40, lines[:40]
    assert sum(len(line) for line in lines) < 20_000


def test_guard_serve_refuses_bad_limits_with_exit_2():
    from typer.testing import CliRunner

    from costmodel.cli import app

    for args in (["--max-sessions", "0"], ["--idle-timeout", "-1"], ["--idle-timeout", "inf"],
                 ["--handshake-timeout", "0"], ["--max-frame-bytes", "10"],
                 ["--max-frame-bytes", "lots"], ["--metrics-port", "99999"]):
        r = CliRunner().invoke(app, ["guard", "serve", "--upstream", "ws://127.0.0.1:9",
                                     "--limit-usd", "1", *args], env={"COLUMNS": "200"})
        assert r.exit_code == 2 and "Traceback" not in r.output, (args, r.output)
    for limit in ("1e999999999", "2000000", "nan"):
        r = CliRunner().invoke(app, ["guard", "serve", "--upstream", "ws://127.0.0.1:9",
                                     "--limit-usd", limit], env={"COLUMNS": "200"})
        assert r.exit_code == 2 and "at most 1000000" in r.output, (limit, r.output)
