"""Redis ledger benchmark: reserve+commit pairs/s of `RedisLedger` against raw redis-py.

64 concurrent sessions (``--procs`` processes x ``--threads`` threads) against ONE tenant, each
a loop of a reservation on a daily budget (a limit with ``since`` = today 00:00 UTC, so the
limit check runs every time) then the commit of an actual amount with 12 decimal places. Two
clients take turns (costmodel, floor, then floor, costmodel, ...), ``--rounds`` times each, every
round ``--seconds`` long on an emptied database:

- **costmodel**: each session its own `RedisLedger`: ``reserve()``, then ``commit()`` of a
  `SpendRecord`;
- **floor**: raw redis-py, what any client of the same Lua scripts must do: each session its
  own ``redis.Redis`` (the options `RedisLedger` uses), the scripts loaded once, keys and the
  day's arguments built once; per pair, two ``evalsha`` calls of ``RESERVE`` and ``COMMIT``
  with the same keys and argument values costmodel sends (random ids, amounts as plain
  decimal strings, the record's JSON), and nothing else.

Both store the same records, so after every round the benchmark checks, with a `RedisLedger`,
that the tenant's total (all time, and since today) equals exactly the sum the clients
committed, that there is one record per commit and that nothing is still held. Reported per
round: pairs/s; the clients' CPU per pair (every client process's CPU time over the run / the
pairs: costmodel's minus the floor's is costmodel's own Python per pair); Redis's CPU per pair
(from ``/proc``, when the benchmark started the server) and per script (``INFO
commandstats``); latency per pair. The ratio costmodel / floor is taken within each pair of
adjacent rounds, so both see the same machine; so is the same ratio from CPU time per pair
(floor's clients + Redis / costmodel's), which other work on the machine barely moves.

Starts its own ``redis-server`` on a free loopback port (no persistence) unless ``--url``
(whose database is FLUSHED before each round).

    python bench/bench_ledger_redis.py [--procs 8] [--threads 8] [--seconds 5] [--rounds 3]
                                       [--only costmodel|floor] [--json]
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

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from costmodel.errors import BudgetExceeded, LedgerError
from costmodel.ledger import SpendRecord, redis_lua
from costmodel.ledger.redis import RedisLedger
from costmodel.money import exact_sum

TENANT = "bench-tenant"
MODEL = "bench/model"
KINDS = ("costmodel", "floor")


def _amounts(rng: random.Random) -> tuple[Decimal, Decimal]:
    """A projected cost and the actual one (<= it), 12 decimal places: the same draws for
    both clients."""
    projected = Decimal(rng.randrange(10**9, 2 * 10**10)).scaleb(-12)
    return projected, projected - Decimal(rng.randrange(10**9)).scaleb(-12)


def _costmodel(url: str, name: str, end: float, limit: Decimal, since: datetime,
               stats: dict) -> None:
    ledger, rng = RedisLedger(url), random.Random(name)
    lat = stats["lat"]
    while (t0 := time.perf_counter()) and time.time() < end:
        projected, actual = _amounts(rng)
        try:
            hold = ledger.reserve(TENANT, name, projected, limit_usd=limit, since=since)
        except BudgetExceeded:
            stats["refused"] += 1
            continue
        ledger.commit(hold, SpendRecord(session_id=name, scope=TENANT, model=MODEL,
                                        usd=actual))
        lat.append(time.perf_counter() - t0)
        stats["usd"] += actual
        stats["pairs"] += 1
    ledger.close()


def _plain(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _floor(url: str, name: str, end: float, limit: Decimal, since: datetime,
           stats: dict) -> None:
    r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5.0,
                             socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 0))
    reserve_sha = r.script_load(redis_lua.RESERVE)
    commit_sha = r.script_load(redis_lua.COMMIT)
    rng, p, day = random.Random(name), "{costmodel}:", since.date()
    d, month = day.isoformat(), day.year * 100 + day.month
    scope_keys = [f"{p}held", f"{p}hold", f"{p}heldsum", f"{p}sums:{TENANT}",
                  f"{p}months:{TENANT}", f"{p}days:{TENANT}", f"{p}dayrec:{TENANT}:{d}"]
    commit_keys = scope_keys + [f"{p}seq", f"{p}rec", f"{p}log:{TENANT}", f"{p}paid",
                                f"{p}scopes", f"{p}ids"]
    since_args = ["month" if day.day == 1 else "day", str(month), str(month * 100 + 99),
                  str(month * 100 + day.day), d, str(int(since.timestamp()) * 1_000_000)]
    day_args = [d[:7], str(month), d, str(month * 100 + day.day)]
    limit_text, lat = _plain(limit), stats["lat"]
    while (t0 := time.perf_counter()) and time.time() < end:
        projected, actual = _amounts(rng)
        now = time.time()
        hold = os.urandom(16).hex()
        out = r.evalsha(reserve_sha, 7, *scope_keys, hold, TENANT, _plain(projected),
                        repr(now + 120.0), repr(now), limit_text, *since_args)
        if out[0] == "refused":
            stats["refused"] += 1
            continue
        at_us, usd, record_id = int(time.time() * 1e6), _plain(actual), os.urandom(16).hex()
        payload = json.dumps({"id": record_id, "session_id": name, "scope": TENANT,
                              "model": MODEL, "kind": "response", "usd": usd,
                              "at_us": at_us, "detail": {}}, separators=(",", ":"))
        r.evalsha(commit_sha, 13, *commit_keys, hold, TENANT, usd, payload, *day_args,
                  str(at_us), record_id)
        lat.append(time.perf_counter() - t0)
        stats["usd"] += actual
        stats["pairs"] += 1
    r.close()


def _process(kind: str, url: str, n: int, threads: int, start: float, seconds: float,
             limit: Decimal, since: datetime, queue) -> None:
    run = _costmodel if kind == "costmodel" else _floor
    sessions = [{"pairs": 0, "refused": 0, "usd": Decimal(0), "lat": []}
                for _ in range(threads)]
    ts = [threading.Thread(target=run, args=(url, f"p{n}t{t}", start + seconds, limit, since,
                                             sessions[t])) for t in range(threads)]
    for t in ts:
        t.start()
    while time.time() < start:
        time.sleep(0.001)
    cpu = time.process_time()
    for t in ts:
        t.join()
    cpu = time.process_time() - cpu
    queue.put({"cpu_s": cpu, "sessions": [{**s, "usd": str(s["usd"])} for s in sessions]})


def _server_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_round(kind: str, url: str, args: argparse.Namespace, server_pid: int | None) -> dict:
    with redis.Redis.from_url(url) as r:
        r.flushdb()
        r.config_resetstat()
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    queue, start = ctx.Queue(), time.time() + 0.5 + 0.05 * args.procs
    ps = [ctx.Process(target=_process, args=(kind, url, n, args.threads, start, args.seconds,
                                             Decimal(args.limit), since, queue))
          for n in range(args.procs)]
    for p in ps:
        p.start()
    while time.time() < start:
        time.sleep(0.001)
    server_cpu = _server_cpu(server_pid)
    procs = [queue.get(timeout=args.seconds + 120) for _ in ps]
    server_cpu = _server_cpu(server_pid) - server_cpu
    for p in ps:
        p.join()
    sessions = [s for proc in procs for s in proc["sessions"]]
    with RedisLedger(url) as ledger:
        total = ledger.spent(scope=TENANT)
        day_total = ledger.spent(scope=TENANT, since=since)
        n_records = len(ledger.records(scope=TENANT))
        held = ledger.reserved()
    with redis.Redis.from_url(url) as r:
        evalsha = r.info("commandstats").get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    pairs = sum(s["pairs"] for s in sessions)
    clients = exact_sum(Decimal(s["usd"]) for s in sessions)
    lat = sorted(x for s in sessions for x in s["lat"])
    return {
        "kind": kind, "pairs": pairs, "pairs_per_s": round(pairs / args.seconds),
        "refused": sum(s["refused"] for s in sessions),
        "client_cpu_us_per_pair": round(sum(p["cpu_s"] for p in procs) / pairs * 1e6, 1),
        "server_cpu_us_per_pair": round(server_cpu / pairs * 1e6, 1) if server_pid else None,
        "server_us_per_script": round(evalsha["usec"] / max(1, evalsha["calls"]), 1),
        "latency_ms": {"median": round(statistics.median(lat) * 1000, 2),
                       "p99": round(lat[int(len(lat) * 0.99)] * 1000, 2)},
        "exact": (total == clients == day_total and n_records == pairs and held == 0),
        "ledger_total_usd": str(total), "clients_total_usd": str(clients),
    }


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


def _versions(url: str) -> str:
    try:
        import hiredis
        parser = f"hiredis {hiredis.__version__}"
    except ImportError:
        parser = "no hiredis"
    with redis.Redis.from_url(url) as r:
        server = r.info("server")["redis_version"]
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
            f"redis-py {redis.__version__} ({parser}), redis-server {server}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each client, alternating")
    ap.add_argument("--only", choices=KINDS, help="run one client only")
    ap.add_argument("--limit", default="1000000", help="the tenant's daily cap, USD")
    ap.add_argument("--url", help="an existing Redis: its database is FLUSHED each round")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    proc, url = (None, args.url) if args.url else _start_server()
    kinds = (args.only,) if args.only else KINDS
    try:
        machine = _versions(url)
        # ABBA order: a drift of the machine's load does not favour either client.
        rounds = [run_round(kind, url, args, proc.pid if proc else None)
                  for i in range(args.rounds) for kind in (kinds[::-1] if i % 2 else kinds)]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
    pairs = [sorted((a, b), key=lambda r: KINDS.index(r["kind"]))
             for a, b in zip(rounds[::2], rounds[1::2], strict=True)] if not args.only else []
    ratios = [a["pairs_per_s"] / b["pairs_per_s"] for a, b in pairs]
    # The same ratio from CPU time (clients + Redis) per pair: what pairs/s converge to when
    # the two cores are the limit, and far steadier than pairs/s when others share them.
    cpu_ratios = [(b["client_cpu_us_per_pair"] + b["server_cpu_us_per_pair"])
                  / (a["client_cpu_us_per_pair"] + a["server_cpu_us_per_pair"])
                  for a, b in pairs if a["server_cpu_us_per_pair"] is not None]
    by = {k: [r for r in rounds if r["kind"] == k] for k in kinds}
    result = {
        "machine": machine, "sessions": args.procs * args.threads, "procs": args.procs,
        "threads": args.threads, "seconds": args.seconds, "rounds": rounds,
        "median_pairs_per_s": {k: statistics.median(r["pairs_per_s"] for r in v)
                               for k, v in by.items()},
        "median_client_cpu_us_per_pair": {
            k: statistics.median(r["client_cpu_us_per_pair"] for r in v) for k, v in by.items()},
        "ratios": [round(x, 3) for x in ratios],
        "median_ratio": round(statistics.median(ratios), 3) if ratios else None,
        "cpu_ratios": [round(x, 3) for x in cpu_ratios],
        "median_cpu_ratio": round(statistics.median(cpu_ratios), 3) if cpu_ratios else None,
        "all_exact": all(r["exact"] for r in rounds),
        "goal_ratio": 0.9,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{machine}; {result['sessions']} sessions ({args.procs} procs x {args.threads} "
          f"threads), {args.seconds:g} s rounds")
    print(f"{'client':>10} {'pairs/s':>8} {'client CPU/pair':>16} {'Redis CPU/pair':>15} "
          f"{'us/script':>9} {'p50 ms':>7} {'p99 ms':>7}  exact")
    for r in rounds:
        srv = r["server_cpu_us_per_pair"]
        print(f"{r['kind']:>10} {r['pairs_per_s']:8,} {r['client_cpu_us_per_pair']:13.1f} us "
              f"{'-' if srv is None else f'{srv:.1f} us':>15} {r['server_us_per_script']:9.1f} "
              f"{r['latency_ms']['median']:7.2f} {r['latency_ms']['p99']:7.2f}  "
              f"{'yes' if r['exact'] else 'NO'}")
    if ratios:
        cm, fl = (result["median_client_cpu_us_per_pair"][k] for k in KINDS)
        print(f"costmodel / floor pairs/s by round: {', '.join(f'{x:.2f}' for x in ratios)}; "
              f"median {result['median_ratio']:.2f} (goal >= 0.9)")
        print(f"costmodel's own client CPU per pair (median costmodel - floor): {cm - fl:.1f} us")
    if cpu_ratios:
        print(f"floor / costmodel CPU (clients + Redis) per pair by round: "
              f"{', '.join(f'{x:.2f}' for x in cpu_ratios)}; median "
              f"{result['median_cpu_ratio']:.2f}")


if __name__ == "__main__":
    main()
