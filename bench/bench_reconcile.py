"""reconcile benchmark: a month of a 100-tenant SQLite ledger, reconciled, against the floor.

The ledger: 100 tenants x 30 days x 50 calls a day x 20 responses = **3,000,000 records**
(150,000 sessions), as a relay fleet writes them: time-ordered across tenants, each record a
reservation id, a record id, a 32-hex session id, kind ``response``, ``{}`` detail. Models:
70% of calls ``openai/gpt-realtime-1.5``, 20% ``openai/gpt-realtime-mini``, 10%
``xai/grok-voice-agent``, whose per-second billing makes amounts finer than a nano-dollar (the
ledger keeps those as exact text, not in its nano-dollar column). The file is created by
`SQLiteLedger` (its schema) and filled with one ``executemany`` per day, each row encoded as
the ledger encodes it: committing 3M records one by one with ``synchronous=FULL`` would take
hours. It is checked afterwards through the ledger API (``spent()`` equals the generated sum
to the last digit) and kept in the temp directory for the next run.

The export: an OpenAI Costs page for the month (``bucket_width=1d``, ``group_by=line_item``),
one line item per day and OpenAI model, equal to what was recorded.

Timed, alternating, ``--rounds`` times each (the median is reported):

- **costmodel**: what ``costmodel reconcile --ledger FILE --export costs.json --json`` runs:
  ``recorded_from_ledger`` (`Ledger.spent_by_day`: one GROUP BY, exact money) +
  ``read_export`` + ``reconcile`` + ``to_json``, in process;
- **floor**: a bare ``sqlite3`` query doing the same aggregation, per UTC day, scope and model:
  ``SELECT at_us / 86400000000, scope, model, SUM(usd_nano), COUNT(*) FROM records GROUP BY
  1, 2, 3``, fetched; nothing exact, no export, no table;
- **command**: the whole command as a subprocess (interpreter start and imports included);
- **with a plan**: the same with ``--scenario examples/outbound-sales.yaml`` (whose stacks use
  the three models): calls counted per day (``COUNT(DISTINCT session_id)``, from the same
  index) and each stack estimated once (100,000 simulated calls).

    python bench/bench_reconcile.py [--tenants 100] [--days 30] [--calls 50] [--responses 20]
                                    [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.estimation import load_scenario
from costmodel.ledger import SQLiteLedger
from costmodel.money import exact_sum
from costmodel.reconcile import Plan, read_export, reconcile, recorded_from_ledger, to_json

SCENARIO = Path(__file__).resolve().parents[1] / "examples" / "outbound-sales.yaml"
DAY_US = 86_400_000_000
START = date(2026, 10, 1)
MODELS = (("openai/gpt-realtime-1.5", 0.7), ("openai/gpt-realtime-mini", 0.2),
          ("xai/grok-voice-agent", 0.1))


def _amount(rng: random.Random, model: str) -> tuple[str, int | None, int]:
    """(usd text, usd_nano, nano_exact) of one response, encoded as SQLiteLedger does."""
    if model.startswith("xai/"):   # 15 s of connection at $0.05/min, per second: 1/80 x s
        seconds = rng.randrange(5, 30)
        usd = Decimal(seconds) * Decimal("0.05") / Decimal(60)   # 28 digits, mostly
        scaled = usd.scaleb(9)
        nano = int(scaled.to_integral_value())   # half-even, as the ledger rounds
        return format(usd, "f"), nano, int(nano == scaled)
    nano = rng.randrange(2_000, 60_000) * 1_000   # $0.000002 .. $0.06, whole micro-dollars
    return format(Decimal(nano).scaleb(-9).normalize(), "f"), nano, 1


def generate(path: Path, tenants: int, days: int, calls: int, responses: int) -> Decimal:
    """Write the ledger (see the module doc); return the exact sum written."""
    SQLiteLedger(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(14)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    total: list[Decimal] = []
    insert = ("INSERT INTO records (reservation_id, usd_nano, nano_exact, session_id, scope, "
              "model, kind, usd, at_us, detail, record_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
    for d in range(days):
        midnight = (datetime.combine(START + timedelta(days=d), datetime.min.time(), UTC)
                    - epoch) // timedelta(microseconds=1)
        rows = []
        for t in range(tenants):
            for _ in range(calls):
                session = os.urandom(16).hex()
                model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
                start = midnight + rng.randrange(DAY_US - responses * 16_000_000)
                for k in range(responses):
                    usd, nano, exact = _amount(rng, model)
                    total.append(Decimal(usd))
                    rows.append((os.urandom(16).hex(), nano, exact, session, f"tenant-{t:03d}",
                                 model, "response", usd, start + k * 15_000_000, "{}",
                                 os.urandom(16).hex()))
        rows.sort(key=lambda r: r[8])
        conn.executemany(insert, rows)
        conn.commit()
    conn.close()
    return exact_sum(total)


def costs_export(path: Path, ledger: Path) -> None:
    """An OpenAI Costs page of what the ledger recorded per day and OpenAI model."""
    with SQLiteLedger(ledger) as store:
        rows = store.spent_by_day()
    days: dict[date, dict[str, Decimal]] = {}
    for r in rows:
        if r.model.startswith("openai/"):
            per = days.setdefault(r.day, {})
            per[r.model] = per.get(r.model, Decimal(0)) + r.usd
    buckets = []
    for day, models in sorted(days.items()):
        start = int(datetime.combine(day, datetime.min.time(), UTC).timestamp())
        buckets.append({"object": "bucket", "start_time": start, "end_time": start + 86_400,
                        "results": [{"object": "organization.costs.result",
                                     "amount": {"value": f"@{usd}@", "currency": "usd"},
                                     "line_item": f"{m.split('/')[1]}, total",
                                     "project_id": None} for m, usd in sorted(models.items())]})
    text = json.dumps({"object": "page", "data": buckets, "has_more": False, "next_page": None})
    path.write_text(text.replace('"@', "").replace('@"', ""))   # amounts as JSON numbers


def run_costmodel(ledger: Path, export: Path, plan: bool = False) -> tuple[float, dict]:
    t = time.perf_counter()
    with SQLiteLedger(ledger) as store:
        recorded = recorded_from_ledger(store, name=str(ledger), calls=plan)
    result = reconcile(recorded, [read_export(export)],
                       Plan(load_scenario(SCENARIO)) if plan else None)
    data = to_json(result)
    return time.perf_counter() - t, data


def run_floor(ledger: Path) -> tuple[float, int]:
    t = time.perf_counter()
    conn = sqlite3.connect(ledger)
    rows = conn.execute(f"SELECT at_us / {DAY_US}, scope, model, SUM(usd_nano), COUNT(*) "
                        "FROM records GROUP BY 1, 2, 3").fetchall()
    conn.close()
    return time.perf_counter() - t, len(rows)


def run_command(ledger: Path, export: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "costmodel", "reconcile", "--ledger",
                           str(ledger), "--export", str(export), "--json"],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if done.returncode not in (0, 1):
        raise SystemExit(f"the command failed ({done.returncode}): {done.stderr}")
    return elapsed


def ledger_args(description: str) -> argparse.Namespace:
    """The ledger's shape (tenants x days x calls x responses), --rounds and --json: the
    options of this bench and of bench_margins, which reads the same ledger."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--calls", type=int, default=50, help="calls a tenant a day")
    ap.add_argument("--responses", type=int, default=20, help="responses (records) a call")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


def work_dir() -> Path:
    """Where the ledger is written once and kept between runs (never in the repository)."""
    where = Path(tempfile.gettempdir()) / "costmodel-bench-reconcile"
    where.mkdir(exist_ok=True)
    return where


def main() -> None:
    args = ledger_args(__doc__.split("\n\n")[0])
    n = args.tenants * args.days * args.calls * args.responses
    where = work_dir()
    stem = f"ledger-{args.tenants}x{args.days}x{args.calls}x{args.responses}"
    ledger, export = where / f"{stem}.db", where / f"{stem}-costs.json"
    if not ledger.exists():
        print(f"writing {n:,} records to {ledger} ...", file=sys.stderr)
        partial = ledger.with_suffix(".partial")
        for p in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            p.unlink(missing_ok=True)
        written = generate(partial, args.tenants, args.days, args.calls, args.responses)
        with SQLiteLedger(partial) as store:   # the ledger API agrees, to the digit
            assert store.spent() == written, (store.spent(), written)
        partial.rename(ledger)
    if not export.exists():   # (bench_margins may have written the ledger alone)
        costs_export(export, ledger)
    size_mb = ledger.stat().st_size / 2**20
    ours, floor, command, planned = [], [], [], []
    groups = rows = 0
    for _ in range(args.rounds):
        t, data = run_costmodel(ledger, export)
        ours.append(t)
        rows = len(data["rows"])   # type: ignore[arg-type]
        assert data["rows_over_tolerance"] == 0, "the export equals the ledger"
        t, groups = run_floor(ledger)
        floor.append(t)
        command.append(run_command(ledger, export))
        planned.append(run_costmodel(ledger, export, plan=True)[0])
    med = {k: statistics.median(v) for k, v in
           (("costmodel", ours), ("floor", floor), ("command", command),
            ("with_plan", planned))}
    report = {
        "records": n, "sessions": args.tenants * args.days * args.calls,
        "ledger_mb": round(size_mb), "groups_day_scope_model": groups, "table_rows": rows,
        "rounds": args.rounds, "seconds_median": {k: round(v, 3) for k, v in med.items()},
        "seconds_all": {"costmodel": [round(x, 3) for x in ours],
                        "floor": [round(x, 3) for x in floor],
                        "command": [round(x, 3) for x in command],
                        "with_plan": [round(x, 3) for x in planned]},
        "ratio_costmodel_to_floor": round(med["costmodel"] / med["floor"], 2),
        "goal_seconds": 2.0, "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, CPython {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}", "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"ledger: {n:,} records ({report['sessions']:,} sessions, {args.tenants} tenants x "
          f"{args.days} days), {size_mb:,.0f} MB; {groups:,} day x scope x model groups -> "
          f"{rows} day x model rows")
    print(f"median of {args.rounds} rounds (load average {os.getloadavg()[0]:.2f}):")
    print(f"  costmodel (spent_by_day + export + table + JSON) {med['costmodel']:6.3f} s")
    print(f"  floor (bare sqlite3 GROUP BY)                    {med['floor']:6.3f} s   "
          f"ratio {report['ratio_costmodel_to_floor']}x")
    print(f"  the command, end to end (subprocess)             {med['command']:6.3f} s   "
          f"goal <= 2 s: {'met' if med['command'] <= 2 else 'NOT met'}")
    print(f"  with a plan (calls counted, 3 stacks estimated)  {med['with_plan']:6.3f} s")


if __name__ == "__main__":
    main()
