"""`costmodel guard serve --workers N` under load: p99 added latency at 200 sessions.

The same load as ``bench_relay.py`` (each session streams 20 ms audio frames up while the fake
upstream streams audio deltas down at the same cadence; latency client -> upstream from a
timestamp in each frame), at 200 concurrent sessions by default, through the real command line
``costmodel guard serve --workers N`` (N processes on one port, SO_REUSEPORT, spend in one
SQLite ledger) for each N asked, side by side with the direct path (client <-> upstream: the
floor) in one invocation, in rotating order, latencies pooled per path. The CPU of every worker
process is read from ``/proc`` around its runs.

    python bench/bench_relay_workers.py [--sessions 200] [--workers 1 2] [--seconds 30]
                                        [--rounds 3] [--json]

Everything shares the machine's cores: the load generator (this process, one event loop), the
fake upstream and the relay's workers. The direct path carries the same load through the
generator and the upstream, so "added" is what the relay costs on top, including the CPU it
takes from them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_relay  # the load generator and the fake upstream, shared

GOAL_P99_ADDED_MS = 2.0   # --workers N at 200 sessions on 2 cores (issue 10 item 5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"guard serve exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"guard serve did not listen on {port} in {timeout:g} s")


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    pids, i = [pid], 0
    while i < len(pids):
        try:
            kids = Path(f"/proc/{pids[i]}/task/{pids[i]}/children").read_text().split()
        except OSError:
            kids = []
        pids += [int(k) for k in kids]
        i += 1
    return pids


def _cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _serve(workers: int, upstream_port: int, ledger: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    cmd = [sys.executable, "-m", "costmodel", "guard", "serve",
           "--upstream", f"ws://127.0.0.1:{upstream_port}", "--limit-usd", "1000",
           "--model", "openai/gpt-realtime-1.5", "--listen", f"127.0.0.1:{port}",
           "--workers", str(workers), "--ledger", f"sqlite:///{ledger}",
           "--idle-timeout", "0", "--max-sessions", "1000"]
    # Its log goes to a file: a pipe nobody reads fills up and blocks the relay mid-run.
    with open(ledger.with_suffix(".log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
    _wait_for_port(port, proc)
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=30,
                    help="per path, split among the rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    paths = ["direct", *(f"workers{n}" for n in args.workers)]
    up, up_port = bench_relay._spawn("_upstream")
    relays: dict[str, tuple[subprocess.Popen, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for n in args.workers:
                relays[f"workers{n}"] = _serve(n, up_port, Path(tmp) / f"ledger{n}.db")
            ports = {"direct": up_port, **{k: port for k, (_, port) in relays.items()}}
            pooled: dict[str, list] = {p: [[], 0] for p in paths}
            cpu = dict.fromkeys(paths, 0.0)
            per_round = args.seconds / args.rounds
            for r in range(args.rounds):
                order = paths[r % len(paths):] + paths[:r % len(paths)]
                for label in (order if r % 2 == 0 else order[::-1]):
                    proc = relays[label][0] if label in relays else None
                    before = _cpu_seconds(proc.pid) if proc else 0.0
                    lat, got = asyncio.run(bench_relay.run_load(
                        f"ws://127.0.0.1:{ports[label]}", label, up_port, args.sessions,
                        per_round, None))
                    if proc:
                        cpu[label] += _cpu_seconds(proc.pid) - before
                    pooled[label][0] += lat
                    pooled[label][1] += got
        finally:
            for proc, _ in relays.values():
                proc.terminate()
                proc.wait(10)
            up.terminate()
            up.wait(5)
    rows = {p: bench_relay.summary(p, *pooled[p]) for p in paths}
    frames_up = args.rounds * args.sessions * int(per_round * 1000 / bench_relay.FRAME_MS)
    for p in relays:
        rows[p]["relay_cpu_s"] = round(cpu[p], 2)
        rows[p]["relay_cpu_us_per_frame"] = round(
            cpu[p] / (frames_up + rows[p]["deltas_received"]) * 1e6, 1)
    direct = rows["direct"]
    added = {p: round(rows[p]["p99_ms"] - direct["p99_ms"], 3) for p in relays}
    result = {"sessions": args.sessions, "seconds_per_path": args.seconds,
              "rounds": args.rounds, "cpus": os.cpu_count(), "paths": rows,
              "p99_added_ms": added, "goal_p99_added_ms": GOAL_P99_ADDED_MS,
              "goal_met": {p: v <= GOAL_P99_ADDED_MS for p, v in added.items()}}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.sessions} sessions, {args.seconds:g} s per path in {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs; relay = costmodel guard serve --workers N, SQLite ledger")
    print(f"{'path':<10}{'frames':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'p99 added':>11}{'CPU/frame':>11}")
    for p in paths:
        r = rows[p]
        extra = (f"{added[p]:>+11.3f}{r['relay_cpu_us_per_frame']:>9.1f}us"
                 if p in added else "")
        print(f"{p:<10}{r['frames']:>8}{r['p50_ms']:>9.3f}{r['p90_ms']:>9.3f}"
              f"{r['p99_ms']:>9.3f}{r['max_ms']:>9.3f}{extra}")
    for p, ok in result["goal_met"].items():
        print(f"goal: {p} adds <= {GOAL_P99_ADDED_MS} ms at p99: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
