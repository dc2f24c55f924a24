"""Webhook admission latency: Vapi ``assistant-request`` answered by `costmodel.webhooks` at
a fixed request rate over loopback, with the SQLite ledger, beside a bare endpoint.

The server is its own process, built as ``costmodel serve-webhooks`` builds it (the scenario's
P95 estimated once at start, a budgets file, a `SQLiteLedger` file, uvicorn with its access log
off), plus one extra route on the same Starlette app and server:

* ``admission``: ``POST /vapi`` with a recorded-shape ``assistant-request`` (a new call id and
  one of the tenants' numbers each time, the ``X-Vapi-Secret`` checked): the body read, the
  secret compared, the JSON parsed, the tenant found, the P95 reserved in the tenant's month
  budget (a ``BEGIN IMMEDIATE`` transaction reading the tenant's running totals per day this
  month and summing its live holds, the hold written with ``synchronous=NORMAL``), the answer
  written;
* ``floor``: ``POST /floor`` with the same body and headers, answered with a constant
  ``{"assistantId": ...}`` by a bare Starlette endpoint: what the HTTP stack costs anyway.

The ledger holds this month's history before the run: ``--tenants`` tenants x ``--calls``
calls so far x 6 cost lines (a Vapi report's), spread from the 1st to now; a tenth of the
tenants have a budget their history has spent, so their calls are refused (a refusal runs
the same reservation). Holds made during the run stay (no report pays them).

The load generator (this process) sends requests open-loop at ``--rate`` per second, each
at its scheduled time on keep-alive connections, and times each from send to answer. The
paths alternate, ``--seconds`` each per round, for ``--rounds`` rounds (the first second of
each phase is warm-up, not counted). Also reported: `Admission.decide` called in process on
the same ledger file (no HTTP), the decision alone.

    python bench/bench_webhooks.py [--rate 100] [--seconds 20] [--rounds 3] [--tenants 50]
                                   [--calls 1000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-vapi-secret"
STACK = "openai/gpt-realtime-1.5"
SCENARIO = ROOT / "examples" / "support-line.yaml"
ASSISTANT = "2ccabf54-ccd8-4dff-ae93-e830159c8004"
LINES = ("transport", "transcriber", "model", "voice", "vapi", "analysis")


def _number(t: int) -> str:
    return f"+1555{t:07d}"


def budgets_yaml(tenants: int) -> str:
    """A tenth of the tenants (every tenth) have $1 a month, spent already: refused."""
    lines = ["period: month", "tenants:"]
    for t in range(tenants):
        budget = 1 if t % 10 == 9 else 1_000_000
        lines += [f"  tenant-{t:03d}:", f"    budget_usd: {budget}",
                  f"    numbers: ['{_number(t)}']", f"    vapi_assistant_id: {ASSISTANT}"]
    return "\n".join(lines) + "\n"


def seed(path: Path, tenants: int, calls: int) -> int:
    """This month's history, as the webhooks record it: 6 lines a call, at most $0.05 each."""
    from costmodel.ledger import SQLiteLedger

    SQLiteLedger(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(15)
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span_us = (now - start) // timedelta(microseconds=1) - 60_000_000
    epoch_us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    rows = []
    for t in range(tenants):
        for c in range(calls):
            call = f"bench-{t}-{c}"
            at = epoch_us + rng.randrange(max(1, span_us))
            for n, line in enumerate(LINES):
                nano = rng.randrange(100, 50_000) * 1_000
                rows.append((None, nano, 1, call, f"tenant-{t:03d}", f"vapi/{line}",
                             "call-report", format(Decimal(nano).scaleb(-9).normalize(), "f"),
                             at, "{}", f"vapi:{call}:{n}:{line}"))
    rows.sort(key=lambda r: r[8])
    conn.executemany(
        "INSERT INTO records (reservation_id, usd_nano, nano_exact, session_id, scope, model, "
        "kind, usd, at_us, detail, record_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()
    return len(rows)


def build_admission(db: Path, spool: Path, budgets: Path):
    from costmodel.estimation import load_scenario
    from costmodel.ledger import SQLiteLedger
    from costmodel.webhooks import Admission, forecasts, load_budgets

    held = forecasts(load_scenario(SCENARIO), [STACK])
    return Admission(SQLiteLedger(db), load_budgets(budgets), held, default_stack=STACK,
                     spool=spool)


# -- the server (its own process) -------------------------------------------------------------
def serve(port: int, db: Path, spool: Path, budgets: Path) -> None:
    import uvicorn
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from costmodel.webhooks import Ingestor, create_app

    async def floor(request):
        await request.body()
        return JSONResponse({"assistantId": ASSISTANT})

    admission = build_admission(db, spool, budgets)
    app = create_app(admission, Ingestor(admission), vapi_secret=SECRET,
                     extra_routes=[Route("/floor", floor, methods=["POST"])])
    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the load generator -----------------------------------------------------------------------
def _body(tenant: int) -> bytes:
    return json.dumps({"message": {
        "timestamp": int(time.time() * 1000), "type": "assistant-request",
        "call": {"id": str(uuid.uuid4()), "orgId": "org-bench", "type": "inboundPhoneCall",
                 "phoneNumberId": f"pn-{tenant}", "status": "ringing"},
        "phoneNumber": {"id": f"pn-{tenant}", "number": _number(tenant)},
        "customer": {"number": "+15559871234"}}}).encode()


async def phase(port: int, path: str, rate: float, seconds: float, tenants: int
                ) -> tuple[list[float], dict[str, int]]:
    import aiohttp

    latencies: list[float] = []
    decisions: dict[str, int] = {}
    warmup = int(rate)              # the first second is not counted
    total = warmup + int(rate * seconds)
    rng = random.Random(path)
    bodies = [_body(rng.randrange(tenants)) for _ in range(total)]
    headers = {"content-type": "application/json", "x-vapi-secret": SECRET}
    url = f"http://127.0.0.1:{port}{path}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            async with session.post(url, data=bodies[i], headers=headers) as resp:
                await resp.read()
                ms = (time.perf_counter() - t0) * 1000
                assert resp.status == 200, resp.status
                what = resp.headers.get("x-costmodel-decision", "constant")
            if i >= warmup:
                latencies.append(ms)
                decisions[what] = decisions.get(what, 0) + 1

        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return latencies, decisions


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(db: Path, spool: Path, budgets: Path, tenants: int, n: int) -> list[float]:
    admission = build_admission(db, spool, budgets)
    rng = random.Random(7)
    out = []
    for _ in range(n):
        tenant = admission.budgets.tenant_for(_number(rng.randrange(tenants)))
        t0 = time.perf_counter()
        admission.decide(tenant, call_key=str(uuid.uuid4()))
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.002)
    admission.ledger.close()
    return out


def fsync_probe(directory: Path, n: int = 500) -> list[float]:
    """What one durable write costs where the ledger is: 4 KiB appended and fsync'd (ms),
    every 10 ms. SQLite in WAL mode with synchronous=FULL does one of these per commit."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    out = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t0 = time.perf_counter()
            os.fsync(fd)
            out.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)
    finally:
        os.close(fd)
        path.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1000, help="history: calls per tenant")
    parser.add_argument("--dir", default=None, help="where the ledger file goes (default: "
                        "the temp directory)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", nargs=4, metavar=("PORT", "DB", "SPOOL", "BUDGETS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        port, db, spool, budgets = args.serve
        serve(int(port), Path(db), Path(spool), Path(budgets))
        return

    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-", dir=args.dir))
    db, spool, budgets = work / "spend.db", work / "spool", work / "budgets.yaml"
    budgets.write_text(budgets_yaml(args.tenants))
    records = seed(db, args.tenants, args.calls)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(db),
                               str(spool), str(budgets)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "COSTMODEL_SPOOL_DIR": str(spool)})
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        results: dict[str, list[float]] = {"admission": [], "floor": []}
        decided: dict[str, int] = {}
        for r in range(args.rounds):
            order = ("admission", "floor") if r % 2 == 0 else ("floor", "admission")
            for name in order:
                lat, what = asyncio.run(phase(port, "/vapi" if name == "admission" else "/floor",
                                              args.rate, args.seconds, args.tenants))
                results[name] += lat
                if name == "admission":
                    for k, v in what.items():
                        decided[k] = decided.get(k, 0) + v
    finally:
        server.terminate()
        server.wait(10)
    try:
        direct = in_process(db, spool, budgets, args.tenants, 2000)
        disk = fsync_probe(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        "rate_per_s": args.rate, "seconds": args.seconds, "rounds": args.rounds,
        "tenants": args.tenants, "history_records": records, "decisions": decided,
        "machine": f"{os.cpu_count()} CPUs, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        **{name: {"n": len(v), "p50_ms": round(pct(v, 0.50), 3),
                  "p99_ms": round(pct(v, 0.99), 3), "max_ms": round(max(v), 3),
                  "mean_ms": round(statistics.fmean(v), 3)}
           for name, v in (*results.items(), ("decide_in_process", direct),
                           ("fsync", disk))}}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"webhook admission at {args.rate:g} requests/s over loopback, {args.rounds} rounds x "
          f"{args.seconds:g} s per path; SQLite ledger of {records:,} records this month "
          f"({args.tenants} tenants) in {work}; {summary['machine']}")
    print(f"{'path':<22}{'n':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name in ("admission", "floor", "decide_in_process", "fsync"):
        s = summary[name]
        print(f"{name:<22}{s['n']:>7}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}{s['max_ms']:>9.2f}")
    a, f = summary["admission"], summary["floor"]
    print(f"admission - floor: +{a['p50_ms'] - f['p50_ms']:.2f} ms p50, "
          f"+{a['p99_ms'] - f['p99_ms']:.2f} ms p99; decisions {decided}; goal: admission p99 "
          f"<= 5 ms: {'met' if a['p99_ms'] <= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
