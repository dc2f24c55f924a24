"""`costmodel fit` over 10,000 recorded sessions (~1.3M events): wall time, CPU, peak RSS.

Goal (issue 14): fit over 10,000 recorded sessions (~1.4M events) <= 10 s.

The sessions are OpenAI Realtime GA event files written by the test generator
(`tests.fit.generate`, the bench profile: 3-minute calls of ~14 responses, ~130 events
each), made once in `--dir` (default /tmp/costmodel-bench-fit; never commit them). Each path
runs as its own process, in rotating order, `--rounds` times; wall time from the parent, CPU
(user + system, children included) and peak RSS from wait4(). Paths:

- read:    every file read whole (`open().read()`): the I/O floor;
- json:    `json.loads` of every line of every file: the naive floor a fit that decodes
           everything would stand on;
- fit-1:   `costmodel fit DIR --json --no-check --workers 1`: one process;
- fit:     `costmodel fit DIR --json --no-check`: a worker per CPU (the default);
- check:   `costmodel fit DIR --json`: the same, and the fitted scenario estimated (100,000
           simulated calls) against what the sessions cost.

    python bench/bench_fit.py [--sessions 10000] [--rounds 3] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

READ = r"""
import os, sys
n = 0
for name in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], name), "rb") as f:
        n += len(f.read())
print(n)
"""

JSON = r"""
import json, os, sys
n = 0
for name in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], name), "rb") as f:
        for line in f:
            json.loads(line)
            n += 1
print(n)
"""


def sessions_dir(root: Path, n: int) -> Path:
    """`n` generated sessions in `root/openai-N` (written once; a marker says it is whole)."""
    out = root / f"openai-{n}"
    marker = out / ".complete"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "tests.fit.generate", "--stack", "openai",
                        "--sessions", str(n), "--out", str(out)], cwd=HERE, check=True)
        marker.write_text("ok\n")
    return out


def run(cmd: list[str]) -> dict:
    """Wall seconds, CPU seconds (user + system, with the process's children) and peak
    RSS of one process."""
    began = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, cwd=HERE, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{' '.join(cmd)} exited {code}: {stderr[-500:]}")
    # (Linux's wait4 adds the descendants the process waited for, as `fit` waits for its
    # workers: their CPU is in. Peak RSS is the largest single process's.)
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024}


def counts(path: Path) -> tuple[int, int, float]:
    files = [p for p in path.iterdir() if p.suffix == ".jsonl"]
    lines = 0
    size = 0
    for p in files:
        data = p.read_bytes()
        size += len(data)
        lines += data.count(b"\n")
    return len(files), lines, size / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/costmodel-bench-fit"))
    ap.add_argument("--only", help="comma-separated paths (read,json,fit-1,fit,check)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    path = sessions_dir(args.dir, args.sessions)
    cli = [sys.executable, "-m", "costmodel", "fit", str(path), "--json"]
    paths = {"read": [sys.executable, "-c", READ, str(path)],
             "json": [sys.executable, "-c", JSON, str(path)],
             "fit-1": [*cli, "--no-check", "--workers", "1"],
             "fit": [*cli, "--no-check"],
             "check": cli}
    if args.only:
        paths = {k: v for k, v in paths.items() if k in args.only.split(",")}
    names = list(paths)
    samples: dict[str, list[dict]] = {k: [] for k in names}
    for i in range(args.rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:  # rotating order
            samples[name].append(run(paths[name]))
    med = {k: {"wall_s": round(statistics.median(s["wall_s"] for s in v), 2),
               "cpu_s": round(statistics.median(s["cpu_s"] for s in v), 2),
               "rss_mb": round(max(s["rss_mb"] for s in v), 1),
               "wall_runs": [round(s["wall_s"], 2) for s in v]} for k, v in samples.items()}
    files, lines, mb = counts(path)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    result = {"sessions": files, "events": lines, "mb": round(mb, 1), "rounds": args.rounds,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                         f"CPUs, python {platform.python_version()}",
              "load_before": round(load, 2), "paths": med,
              "goal": "fit <= 10 s wall",
              "met": med.get("fit", {}).get("wall_s", float("inf")) <= 10}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{files:,} sessions, {lines:,} events, {mb:.0f} MB; median of {args.rounds} runs; "
          f"{result['machine']}; load average {load:.2f}")
    for k, v in med.items():
        print(f"  {k:6} {v['wall_s']:6.2f} s wall  {v['cpu_s']:6.2f} s CPU  peak RSS "
              f"{v['rss_mb']:6.1f} MB   wall runs {v['wall_runs']}")
    if "fit" in med and "json" in med:
        ratio = med["fit"]["wall_s"] / med["json"]["wall_s"]
        print(f"  fit / json.loads floor (wall): {ratio:.2f}x")
    print(f"  goal fit <= 10 s: {'met' if result['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
