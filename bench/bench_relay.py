"""Relay overhead: per-frame latency client -> upstream, direct vs through `costmodel.guard.relay`
without and with client auth.

N concurrent sessions each stream 20 ms audio frames (960 bytes of pcm16 24 kHz, base64, in
``input_audio_buffer.append``) for S seconds while the fake upstream streams
``response.output_audio.delta`` frames back at the same cadence. Each frame carries its send
time (``time.monotonic_ns``, system-wide on Linux) in its ``event_id``; the upstream reads it on
arrival. Three paths are measured in the same invocation, in rotating order:

* ``direct``: client <-> upstream (the floor: what the websocket stack costs anyway);
* ``relay``: client <-> relay <-> upstream, no client auth (the relay's defaults otherwise:
  limits, idle timeout, metrics);
* ``relay_auth``: the same through a second relay that requires a token (``Authorization:
  Bearer``, checked once at the handshake) and brings the upstream key itself;
* ``bare``: client <-> a bare websockets pass-through <-> upstream (each frame received and
  sent on, nothing parsed or metered): the floor for the relay's own CPU per frame.

Separate processes, so no relay shares an event loop (or a GIL) with the load: the load
generator (this process), the fake upstream and the two relays (idle while the other runs).

    python bench/bench_relay.py [--sessions 50] [--seconds 10] [--rounds 3]
                                [--compression deflate|none] [--relay-compression] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAME_MS = 20
PCM = base64.b64encode(os.urandom(960)).decode()           # 20 ms of pcm16 at 24 kHz
WARMUP_FRAMES = 25                                           # per session, not measured


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# -- the fake upstream (its own process) ---------------------------------------------------
async def upstream_main() -> None:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    lat: dict[str, list[float]] = {}
    delta = json.dumps({"type": "response.output_audio.delta", "event_id": "event_d",
                        "response_id": "resp_1", "item_id": "item_1", "output_index": 0,
                        "content_index": 0, "delta": PCM})

    async def stream_out(ws) -> None:
        nxt = time.monotonic()
        while True:
            nxt += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            await ws.send(delta)

    async def handler(ws) -> None:
        path = ws.request.path.split("?")[0]
        if path == "/stats":  # the load generator asks for a run's figures
            label = ws.request.path.split("label=")[1]
            await ws.send(json.dumps(lat.pop(label, [])))
            return
        label = path.strip("/")
        out = lat.setdefault(label, [])
        sender = asyncio.create_task(stream_out(ws))
        seen = 0
        try:
            async for msg in ws:
                now = time.monotonic_ns()
                i = msg.find('"event_id":"t') + 13
                sent = int(msg[i:msg.index('"', i)])
                seen += 1
                if seen > WARMUP_FRAMES:
                    out.append((now - sent) / 1e6)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()


# -- the relay (its own process) -------------------------------------------------------------
TOKEN = "bench-token-0123456789abcdef"


async def relay_main(upstream: str, compression: bool, auth: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from costmodel.guard.relay import Relay, TokenTable

    if auth:
        relay = Relay(upstream, None, auth=TokenTable({TOKEN: ("bench", "1000")}),
                      upstream_auth="Bearer sk-bench", model="openai/gpt-realtime-1.5",
                      proxy=None, compression=compression)
    else:
        relay = Relay(upstream, "1000", model="openai/gpt-realtime-1.5", proxy=None,
                      compression=compression)
    _, port = await relay.start("127.0.0.1:0")
    print(port, flush=True)
    await asyncio.get_running_loop().create_future()


async def bare_main(upstream: str) -> None:
    """The floor of a relay: websockets on both legs, frames passed on untouched."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def pump(src, dst) -> None:
        try:
            async for msg in src:
                await dst.send(msg)
        except ConnectionClosed:
            pass

    async def handler(client) -> None:
        async with connect(upstream + client.request.path, proxy=None, max_size=None,
                           compression=None) as up:
            tasks = [asyncio.create_task(pump(client, up)), asyncio.create_task(pump(up, client))]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in tasks:
                t.cancel()

    server = await serve(handler, "127.0.0.1", 0, compression=None, max_size=None)
    print(next(iter(server.sockets)).getsockname()[1], flush=True)
    await asyncio.get_running_loop().create_future()


# -- the load generator ------------------------------------------------------------------------
async def session(url: str, seconds: float, compression: str | None, token: str | None) -> int:
    from websockets.asyncio.client import connect

    frames = int(seconds * 1000 / FRAME_MS)
    received = 0
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with connect(url, compression=compression, max_size=None, proxy=None,
                       additional_headers=headers) as ws:
        async def drain() -> None:
            nonlocal received
            async for _ in ws:
                received += 1
        reader = asyncio.create_task(drain())
        nxt = time.monotonic()
        for _ in range(frames):
            await ws.send('{"type":"input_audio_buffer.append","event_id":"t'
                          f'{time.monotonic_ns()}","audio":"{PCM}"}}')
            nxt += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
        reader.cancel()
    return received


async def run_load(base: str, label: str, upstream_port: int, sessions: int, seconds: float,
                   compression: str | None) -> tuple[list[float], int]:
    """One run: `sessions` concurrent sessions; returns (latencies in ms, deltas received)."""
    from websockets.asyncio.client import connect

    url = f"{base}/{label}?model=gpt-realtime-1.5"
    token = TOKEN if label == "relay_auth" else None
    received = await asyncio.gather(*(session(url, seconds, compression, token)
                                      for _ in range(sessions)))
    async with connect(f"ws://127.0.0.1:{upstream_port}/stats?label={label}",
                       proxy=None, max_size=None) as ws:   # (200 sessions: > 1 MB of figures)
        return json.loads(await ws.recv()), sum(received)


def summary(label: str, lat: list[float], received: int) -> dict:
    return {"label": label, "frames": len(lat), "p50_ms": _pct(lat, 0.50),
            "p90_ms": _pct(lat, 0.90), "p99_ms": _pct(lat, 0.99), "max_ms": max(lat),
            "mean_ms": statistics.fmean(lat), "deltas_received": received}


def _cpu_seconds(proc: subprocess.Popen) -> float:
    """User + system CPU time of a child process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn(*args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            text=True)
    return proc, int(proc.stdout.readline())


PATHS = ("direct", "bare", "relay", "relay_auth")
GOAL_P99_ADDED_MS = 1.0   # relay with auth on, over the direct floor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--compression", choices=["deflate", "none"], default="deflate",
                    help="permessage-deflate offered by the clients (the websockets default)")
    ap.add_argument("--relay-compression", action="store_true",
                    help="let the relays negotiate deflate too (Relay(compression=True))")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs per path, in rotating order; --seconds is split among them")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("role", nargs="?", default="bench", help=argparse.SUPPRESS)
    ap.add_argument("upstream", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("relay_deflate", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("relay_auth", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "_upstream":
        asyncio.run(upstream_main())
        return
    if args.role == "_bare":
        asyncio.run(bare_main(args.upstream))
        return
    if args.role == "_relay":
        asyncio.run(relay_main(args.upstream, args.relay_deflate == "deflate",
                               args.relay_auth == "auth"))
        return

    compression = None if args.compression == "none" else "deflate"
    deflate = "deflate" if args.relay_compression else "off"
    up, up_port = _spawn("_upstream")
    relay, relay_port = _spawn("_relay", f"ws://127.0.0.1:{up_port}", deflate, "open")
    relay_auth, auth_port = _spawn("_relay", f"ws://127.0.0.1:{up_port}", deflate, "auth")
    bare, bare_port = _spawn("_bare", f"ws://127.0.0.1:{up_port}")
    try:
        # Each round runs every path once; the order rotates (and reverses every other
        # round) so no path always gets the warm-up or a quieter machine. Latencies are
        # pooled per path.
        pooled: dict[str, list] = {p: [[], 0] for p in PATHS}
        ports = {"direct": up_port, "bare": bare_port, "relay": relay_port,
                 "relay_auth": auth_port}
        procs = {"bare": bare, "relay": relay, "relay_auth": relay_auth}
        cpu = {p: 0.0 for p in PATHS}
        for r in range(args.rounds):
            order = PATHS[r % len(PATHS):] + PATHS[:r % len(PATHS)]
            for label in (order if r % 2 == 0 else order[::-1]):
                before = _cpu_seconds(procs[label]) if label in procs else 0.0
                lat, got = asyncio.run(run_load(f"ws://127.0.0.1:{ports[label]}", label,
                                                up_port, args.sessions,
                                                args.seconds / args.rounds, compression))
                if label in procs:
                    cpu[label] += _cpu_seconds(procs[label]) - before
                pooled[label][0] += lat
                pooled[label][1] += got
        rows = {p: summary(p, *pooled[p]) for p in PATHS}
        for p in procs:  # relay CPU per relayed frame, both directions (warm-up included)
            frames = args.rounds * args.sessions * int(args.seconds / args.rounds * 1000
                                                       / FRAME_MS) + rows[p]["deltas_received"]
            rows[p]["relay_cpu_s"] = cpu[p]
            rows[p]["relay_cpu_us_per_frame"] = cpu[p] / frames * 1e6
    finally:
        for p in (bare, relay_auth, relay, up):
            p.terminate()
            p.wait(5)
    direct = rows["direct"]
    added = {p: {k: rows[p][k] - direct[k] for k in ("p50_ms", "p90_ms", "p99_ms")}
             for p in ("bare", "relay", "relay_auth")}
    ratios = {"relay_cpu_over_bare": rows["relay"]["relay_cpu_us_per_frame"]
              / rows["bare"]["relay_cpu_us_per_frame"],
              "relay_auth_cpu_over_bare": rows["relay_auth"]["relay_cpu_us_per_frame"]
              / rows["bare"]["relay_cpu_us_per_frame"],
              "relay_p99_over_direct": rows["relay"]["p99_ms"] / direct["p99_ms"],
              "relay_auth_p99_over_direct": rows["relay_auth"]["p99_ms"] / direct["p99_ms"],
              "relay_auth_p99_over_relay": rows["relay_auth"]["p99_ms"]
              / rows["relay"]["p99_ms"]}
    met = added["relay_auth"]["p99_ms"] <= GOAL_P99_ADDED_MS
    result = {"sessions": args.sessions, "seconds": args.seconds, "rounds": args.rounds,
              "frame_ms": FRAME_MS,
              "compression": args.compression, "relay_compression": args.relay_compression,
              "cpus": os.cpu_count(),
              "processes": "load generator, fake upstream and two relays in separate processes",
              **rows, "added_ms": added, "ratios": ratios,
              "goal_p99_added_ms": GOAL_P99_ADDED_MS, "goal_met": met}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.sessions} sessions x {args.seconds:g} s of {FRAME_MS} ms frames per path, "
          f"clients offer compression: {args.compression}, relays negotiate it: "
          f"{'yes' if args.relay_compression else 'no'}; {os.cpu_count()} CPUs")
    print(f"{'path':<12}{'frames':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'p99 added':>11}")
    for p in PATHS:
        r = rows[p]
        extra = f"{added[p]['p99_ms']:>+11.3f}" if p in added else ""
        print(f"{p:<12}{r['frames']:>8}{r['p50_ms']:>9.3f}{r['p90_ms']:>9.3f}"
              f"{r['p99_ms']:>9.3f}{r['max_ms']:>9.3f}{extra}")
    print("p99 ratios: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    print("relay CPU per relayed frame (both directions): " + ", ".join(
        f"{p} {rows[p]['relay_cpu_us_per_frame']:.1f} us" for p in procs))
    print(f"goal: relay with auth adds <= {GOAL_P99_ADDED_MS:g} ms at p99: "
          f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
