"""margins benchmark: a month of a 100-tenant SQLite ledger under rate cards, against the floor.

The ledger is bench/bench_reconcile.py's (imported, not rebuilt: `generate` writes it once to
the temp directory, where both benchmarks find it): 100 tenants x 30 days x 50 calls a day x
20 responses = **3,000,000 records** (150,000 sessions), October 2026. The rate cards give
the tenants three plans in turn: cost x 1.35 (a $100 monthly minimum), $0.90 a call (a $200
minimum) and, in the spend-log variant, $0.15 a minute with 500 minutes included.

Timed, alternating, ``--rounds`` times each (the median is reported):

- **costmodel**: what ``costmodel margins --ledger FILE --cards cards.yaml --json`` runs, in
  process: `read_usage` (`Ledger.spent_by_day(sessions=True)`: one GROUP BY per day, scope and
  model, exact money, distinct sessions) + `margins` (3,000 tenant-days, 100 months) +
  `to_json`;
- **floor**: a bare ``sqlite3`` query doing the same aggregation, per UTC day and tenant:
  ``SELECT at_us / 86400000000, scope, SUM(usd_nano), COUNT(DISTINCT session_id) FROM records
  GROUP BY 1, 2``, fetched; nothing exact, no cards, no JSON;
- **command** (``--json``) and **table**: the whole command as a subprocess (interpreter
  start and imports included), printing JSON or the 3,100-row table;
- **with a spend log**: the same in process with every third tenant per minute, its minutes
  read from a spend log of the 150,000 sessions (one line each, as the relay writes them,
  without their usage trail): `read_spend_log` included.

    python bench/bench_margins.py [--tenants 100] [--days 30] [--calls 50] [--responses 20]
                                  [--rounds 5] [--json]
"""

from __future__ import annotations

import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_reconcile import (  # (puts the repository on sys.path)
    DAY_US,
    START,
    generate,
    ledger_args,
    work_dir,
)

from costmodel.ledger import SQLiteLedger
from costmodel.reconcile.window import Window
from costmodel.resale import load_cards, margins, read_usage, to_json

PLANS = """\
plans:
  markup: {markup: 1.35, minimum_per_month_usd: 100}
  per-call: {per_call_usd: 0.90, minimum_per_month_usd: 200}
  per-minute: {per_minute_usd: 0.15, included_minutes_per_month: 500}
"""


def write_cards(path: Path, tenants: int, per_minute: bool) -> None:
    plans = ("markup", "per-call", "per-minute") if per_minute else ("markup", "per-call")
    lines = [PLANS, "tenants:"]
    lines += [f"  tenant-{t:03d}: {{plan: {plans[t % len(plans)]}, "
              f"stripe_customer_id: cus_{t:03d}}}" for t in range(tenants)]
    path.write_text("\n".join(lines) + "\n")


def write_spend_log(path: Path, tenants: int, days: int, calls: int) -> None:
    """One line a session, each tenant's `calls` a day, 1 to 12 minutes long."""
    rng = random.Random(15)
    with path.open("w") as fh:
        for d in range(days):
            midnight = datetime.combine(START + timedelta(days=d), datetime.min.time(), UTC)
            for t in range(tenants):
                for c in range(calls):
                    start = midnight + timedelta(seconds=rng.randrange(80_000))
                    seconds = rng.randrange(60, 720)
                    fh.write(json.dumps({
                        "session_id": f"{t}-{d}-{c}", "scope": f"tenant-{t:03d}",
                        "model": "openai/gpt-realtime-1.5", "spent_usd": "0.5",
                        "responses": 20, "started_at": start.isoformat(),
                        "ended_at": (start + timedelta(seconds=seconds)).isoformat(),
                        "seconds": float(seconds), "end": "closed"}) + "\n")


def ledger_file(where: Path, tenants: int, days: int, calls: int, responses: int) -> Path:
    """bench_reconcile's ledger, written by its `generate` when the temp directory lacks it."""
    ledger = where / f"ledger-{tenants}x{days}x{calls}x{responses}.db"
    if not ledger.exists():
        print(f"writing {tenants * days * calls * responses:,} records to {ledger} ...",
              file=sys.stderr)
        partial = ledger.with_suffix(".partial")
        for p in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            p.unlink(missing_ok=True)
        generate(partial, tenants, days, calls, responses)
        partial.rename(ledger)
    return ledger


def window(days: int) -> Window:
    return Window(START, START + timedelta(days=days - 1))


def run_costmodel(ledger: Path, cards: Path, days: int, logs: list[Path]) -> tuple[float, dict]:
    t = time.perf_counter()
    with SQLiteLedger(ledger) as store:
        usage = read_usage(store, window=window(days), spend_logs=logs)
    data = to_json(margins(usage, load_cards(cards)))
    return time.perf_counter() - t, data


def run_floor(ledger: Path) -> tuple[float, int]:
    t = time.perf_counter()
    conn = sqlite3.connect(ledger)
    rows = conn.execute(f"SELECT at_us / {DAY_US}, scope, SUM(usd_nano), "
                        "COUNT(DISTINCT session_id) FROM records GROUP BY 1, 2").fetchall()
    conn.close()
    return time.perf_counter() - t, len(rows)


def run_command(ledger: Path, cards: Path, days: int, *extra: str) -> float:
    w = window(days)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "costmodel", "margins", "--ledger",
                           str(ledger), "--cards", str(cards), "--since", str(w.since),
                           "--until", str(w.until), *extra], capture_output=True, text=True,
                          check=False, env={**os.environ, "COLUMNS": "120"})
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"the command failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    args = ledger_args(__doc__.split("\n\n")[0])
    n = args.tenants * args.days * args.calls * args.responses
    where = work_dir()
    ledger = ledger_file(where, args.tenants, args.days, args.calls, args.responses)
    cards, cards_pm = where / "margins-cards.yaml", where / "margins-cards-per-minute.yaml"
    write_cards(cards, args.tenants, per_minute=False)
    write_cards(cards_pm, args.tenants, per_minute=True)
    log = where / f"margins-spend-{args.tenants}x{args.days}x{args.calls}.jsonl"
    if not log.exists():
        write_spend_log(log, args.tenants, args.days, args.calls)
    ours, floor, command, table, logged = [], [], [], [], []
    groups = rows = 0
    data: dict = {}
    for _ in range(args.rounds):
        t, data = run_costmodel(ledger, cards, args.days, [])
        ours.append(t)
        rows = len(data["days"])
        assert not data["failed"] and data["unbilled_days"] == 0, "every tenant has a card"
        t, groups = run_floor(ledger)
        floor.append(t)
        command.append(run_command(ledger, cards, args.days, "--json"))
        table.append(run_command(ledger, cards, args.days))
        t, with_log = run_costmodel(ledger, cards_pm, args.days, [log])
        assert not with_log["failed"], "the spend log holds every session"
        logged.append(t)
    assert groups == rows, (groups, rows)
    med = {k: statistics.median(v) for k, v in
           (("costmodel", ours), ("floor", floor), ("command_json", command),
            ("command_table", table), ("with_spend_log", logged))}
    report = {
        "records": n, "sessions": args.tenants * args.days * args.calls,
        "ledger_mb": round(ledger.stat().st_size / 2**20),
        "spend_log_mb": round(log.stat().st_size / 2**20), "tenant_days": rows,
        "months": len(data["months"]), "revenue_usd": data["totals"]["revenue_usd"],
        "margin_pct": data["totals"]["margin_pct"], "rounds": args.rounds,
        "seconds_median": {k: round(v, 3) for k, v in med.items()},
        "seconds_all": {k: [round(x, 3) for x in v] for k, v in
                        (("costmodel", ours), ("floor", floor), ("command_json", command),
                         ("command_table", table), ("with_spend_log", logged))},
        "ratio_costmodel_to_floor": round(med["costmodel"] / med["floor"], 2),
        "goal_seconds": 2.0, "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, CPython {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}", "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"ledger: {n:,} records ({report['sessions']:,} sessions, {args.tenants} tenants x "
          f"{args.days} days), {report['ledger_mb']:,} MB -> {rows:,} tenant-days, "
          f"{report['months']} months; revenue ${float(data['totals']['revenue_usd']):,.2f}, "
          f"margin {data['totals']['margin_pct']:.1f}%")
    print(f"median of {args.rounds} rounds (load average {os.getloadavg()[0]:.2f}):")
    print(f"  costmodel (read_usage + margins + JSON)      {med['costmodel']:6.3f} s")
    print(f"  floor (bare sqlite3 GROUP BY day, tenant)    {med['floor']:6.3f} s   "
          f"ratio {report['ratio_costmodel_to_floor']}x")
    print(f"  the command --json, end to end (subprocess)  {med['command_json']:6.3f} s   "
          f"goal <= 2 s: {'met' if med['command_json'] <= 2 else 'NOT met'}")
    table_label = f"the command, its table of {rows + report['months']:,} rows"
    log_label = f"with a spend log ({report['spend_log_mb']} MB; per-minute tenants)"
    print(f"  {table_label:<45}{med['command_table']:6.3f} s")
    print(f"  {log_label:<45}{med['with_spend_log']:6.3f} s")


if __name__ == "__main__":
    main()
