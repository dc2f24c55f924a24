"""Redis ledger benchmark: reserve+commit throughput with 64 concurrent sessions (goal >= 5,000/s).

Every session is a loop of ``reserve()`` (a daily budget: ``limit_usd`` with ``since`` =
today 00:00 UTC, so the limit check runs on every call) then ``commit()`` of an actual amount
with 12 decimal places, against ONE tenant. Sessions are ``--procs`` processes x ``--threads``
threads, each with its own `RedisLedger` (its own connections). After the run it checks that
nothing was lost or counted twice: the ledger's total for the tenant equals, exactly, the sum
of what the clients committed; the record count equals their commit count; nothing is held.

Starts its own ``redis-server`` on a free loopback port (no persistence) unless ``--url``.

    python bench/bench_ledger_redis.py [--procs 8] [--threads 8] [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.errors import BudgetExceeded, LedgerError  # noqa: E402
from costmodel.ledger import SpendRecord  # noqa: E402
from costmodel.ledger.base import exact_sum  # noqa: E402
from costmodel.ledger.redis import RedisLedger  # noqa: E402

TENANT = "bench-tenant"


def _session(url: str, name: str, start: float, seconds: float, limit: Decimal,
             since: datetime, out: list) -> None:
    ledger, rng = RedisLedger(url), random.Random(name)
    pairs, refused, mine, lat = 0, 0, Decimal(0), []
    while time.time() < start:
        time.sleep(0.001)
    end = start + seconds
    while (t0 := time.perf_counter()) and time.time() < end:
        projected = Decimal(rng.randrange(10**9, 2 * 10**10)).scaleb(-12)
        try:
            hold = ledger.reserve(TENANT, name, projected, limit_usd=limit, since=since)
        except BudgetExceeded:
            refused += 1
            continue
        actual = projected - Decimal(rng.randrange(10**9)).scaleb(-12)
        ledger.commit(hold, SpendRecord(session_id=name, scope=TENANT, model="bench/model",
                                        usd=actual))
        lat.append(time.perf_counter() - t0)
        mine += actual
        pairs += 1
    ledger.close()
    out.append({"pairs": pairs, "refused": refused, "usd": str(mine), "lat": lat})


def _process(url: str, n: int, threads: int, start: float, seconds: float, limit: Decimal,
             since: datetime, queue) -> None:
    out: list = []
    ts = [threading.Thread(target=_session, args=(url, f"p{n}t{t}", start, seconds, limit,
                                                  since, out)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    queue.put(out)


def _start_server() -> tuple[subprocess.Popen, str]:
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server is not installed (Debian: apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(500):
        try:
            RedisLedger(url).close()
            return proc, url
        except LedgerError:
            time.sleep(0.02)
    proc.kill()
    sys.exit("redis-server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--limit", default="1000000", help="the tenant's daily cap, USD")
    ap.add_argument("--url", help="an existing Redis (its keys under {costmodel} are deleted)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    proc, url = (None, args.url) if args.url else _start_server()
    try:
        import redis
        with redis.Redis.from_url(url) as r:
            for key in r.scan_iter("{costmodel}:*", count=1000):
                r.delete(key)
            server_version = r.info("server")["redis_version"]
            before = r.info("commandstats").get("cmdstat_evalsha", {"calls": 0, "usec": 0})
        since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        queue, start = ctx.Queue(), time.time() + 1.0 + 0.05 * args.procs
        ps = [ctx.Process(target=_process, args=(url, n, args.threads, start, args.seconds,
                                                 Decimal(args.limit), since, queue))
              for n in range(args.procs)]
        for p in ps:
            p.start()
        sessions = [s for _ in ps for s in queue.get(timeout=args.seconds + 120)]
        for p in ps:
            p.join()
        with RedisLedger(url) as ledger:
            total = ledger.spent(scope=TENANT)
            day_total = ledger.spent(scope=TENANT, since=since)
            n_records = len(ledger.records(scope=TENANT))
            held = ledger.reserved()
        with redis.Redis.from_url(url) as r:
            after = r.info("commandstats")["cmdstat_evalsha"]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
    pairs = sum(s["pairs"] for s in sessions)
    clients = exact_sum(Decimal(s["usd"]) for s in sessions)
    lat = sorted(x for s in sessions for x in s["lat"])
    script_us = (after["usec"] - before["usec"]) / max(1, after["calls"] - before["calls"])
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, python "
                   f"{platform.python_version()}, redis-server {server_version}",
        "sessions": len(sessions), "procs": args.procs, "threads": args.threads,
        "seconds": args.seconds, "pairs": pairs,
        "pairs_per_s": round(pairs / args.seconds), "ops_per_s": round(2 * pairs / args.seconds),
        "refused": sum(s["refused"] for s in sessions),
        # Redis's own time per EVALSHA (reserve or commit script), from INFO commandstats:
        # one Redis thread could serve 1e6 / (2 x this) pairs/s if the clients kept up.
        "server_us_per_script": round(script_us, 1),
        "server_capacity_pairs_per_s": round(1e6 / (2 * script_us)),
        "latency_ms": {"median": round(statistics.median(lat) * 1000, 3),
                       "p99": round(lat[int(len(lat) * 0.99)] * 1000, 3),
                       "max": round(lat[-1] * 1000, 3)},
        "ledger_total_usd": str(total), "clients_total_usd": str(clients),
        "records": n_records, "held_after_usd": str(held),
        "goal_pairs_per_s": 5000,
    }
    result["exact"] = (total == clients == day_total and n_records == pairs and held == 0)
    result["met"] = result["exact"] and result["pairs_per_s"] >= 5000
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rows = [("sessions", f"{result['sessions']} ({args.procs} procs x {args.threads} threads)"),
            ("reserve+commit pairs", f"{pairs:,} in {args.seconds:g} s"),
            ("throughput", f"{result['pairs_per_s']:,} pairs/s ({result['ops_per_s']:,} ops/s)"),
            ("Redis time per script", (f"{result['server_us_per_script']} us (one Redis thread: "
                                       f"~{result['server_capacity_pairs_per_s']:,} pairs/s)")),
            ("latency per pair", (f"median {result['latency_ms']['median']} ms, p99 "
                                  f"{result['latency_ms']['p99']} ms")),
            ("ledger total", f"${total}"), ("clients' total", f"${clients}"),
            ("records / commits", f"{n_records:,} / {pairs:,}"), ("held after", f"${held}"),
            ("exact (no loss, no double count)", "yes" if result["exact"] else "NO"),
            ("goal >= 5,000 pairs/s", "met" if result["met"] else "NOT met")]
    width = max(len(k) for k, _ in rows)
    print(result["machine"])
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
