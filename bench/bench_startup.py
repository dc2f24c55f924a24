"""Start-up costs: loading the price catalog, and `costmodel --help`, against floors.

Goals (issue 10): catalog load <= 20 ms; `costmodel --help` <= 2x `import typer, rich`.

Catalog load is timed in a child process after its imports, as `Catalog.load()` of the
built-in files (median of `--repeats` loads), three ways: with the compiled cache warm (the
normal case: a run after the first), with the cache off (every file parsed: libyaml with
marks), and the first load of a fresh process. Floors, in the same child: libyaml's
`yaml.load` of the same files (a bare parse, no marks, no validation) and `json.loads` of the
same data (what reading a cache costs at best).

A second floor for `--help`: a bare typer app with the same command names, drawing its own
help (typer's help renderer imports rich's markdown, syntax and traceback modules: most of
what `--help` costs beyond `import typer, rich`; `TYPER_USE_RICH=0` turns it off).

`--help` and the import floors are whole processes, in rotating order, `--rounds` times;
the figures are medians of CPU time (user + system; steadier than wall time on a shared
machine) and of wall time.

    python bench/bench_startup.py [--rounds 15] [--repeats 20] [--root DIR] [--json]

`--root DIR` times another checkout (run from DIR), e.g. a worktree of the commit before.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

CATALOG = r"""
import glob, json, os, statistics, sys, time
t0 = time.perf_counter()
from costmodel.core.catalog import Catalog, builtin_dir
t1 = time.perf_counter()
Catalog.load()
t2 = time.perf_counter()
n = int(sys.argv[1])
def med(fn):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3
load = med(Catalog.load)
import yaml
texts = [open(p, encoding="utf-8").read() for p in sorted(glob.glob(str(builtin_dir() / "*.yaml")))]
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
libyaml = med(lambda: [yaml.load(t, Loader=loader) for t in texts])
blobs = [json.dumps(yaml.load(t, Loader=loader), default=str) for t in texts]
js = med(lambda: [json.loads(b) for b in blobs])
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_load_ms": (t2 - t1) * 1e3,
                  "load_ms": load, "libyaml_ms": libyaml, "json_ms": js}))
"""


BARE_APP = r"""
import sys, typer
app = typer.Typer(help="bare", no_args_is_help=True, add_completion=False)
for name in ("price-events", "estimate", "compare", "curve", "tokens"):
    def command(file: str, json_: bool = typer.Option(False, "--json")) -> None:
        "One line of help."
    app.command(name)(command)
for name in ("prices", "guard", "ledger"):
    group = typer.Typer(help="A group.")
    group.command("show")(lambda: None)
    app.add_typer(group, name=name)
sys.argv = ["bare", "--help"]
app()
"""


def proc_time(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process run to completion."""
    t = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sink, stderr=sink)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def catalog(root: Path, env: dict[str, str], repeats: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CATALOG, str(repeats)], cwd=root, env=env,
                         check=True, capture_output=True, text=True).stdout
    return {k: round(v, 2) for k, v in json.loads(out).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--root", type=Path, default=HERE, help="checkout to time")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ)
    env.pop("COSTMODEL_PRICING", None)

    with tempfile.TemporaryDirectory() as cache:
        warm = dict(env, COSTMODEL_CACHE_DIR=cache)
        catalog(args.root, warm, 1)  # fills the cache
        cat = {"cache_warm": catalog(args.root, warm, args.repeats),
               "cache_off": catalog(args.root, dict(env, COSTMODEL_CACHE_DIR=""),
                                    args.repeats)}

    procs = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import typer, rich": [sys.executable, "-c", "import typer, rich"],
        "typer app --help": [sys.executable, "-c", BARE_APP],
        "costmodel --help": [sys.executable, "-m", "costmodel", "--help"],
    }
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in procs}
    names = list(procs)
    for i in range(args.rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            runs[name].append(proc_time(procs[name], args.root, env))
    start = {k: {"wall_ms": round(statistics.median(w for w, _ in v) * 1e3, 1),
                 "cpu_ms": round(statistics.median(c for _, c in v) * 1e3, 1)}
             for k, v in runs.items()}
    floor = start["import typer, rich"]["cpu_ms"]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"python {platform.python_version()}",
        "root": str(args.root), "catalog": cat, "startup": start,
        "ratios": {
            "help/import typer,rich": round(start["costmodel --help"]["cpu_ms"] / floor, 2),
            "help/python -c pass": round(start["costmodel --help"]["cpu_ms"]
                                         / start["python -c pass"]["cpu_ms"], 1),
            "help/typer app --help": round(start["costmodel --help"]["cpu_ms"]
                                           / start["typer app --help"]["cpu_ms"], 2),
            "catalog warm/libyaml": round(cat["cache_warm"]["load_ms"]
                                          / cat["cache_warm"]["libyaml_ms"], 2),
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['machine']}; {args.root}")
    for mode, c in cat.items():
        print(f"  Catalog.load() {mode:10}: {c['load_ms']:6.1f} ms (first in process "
              f"{c['first_load_ms']:.1f} ms, imports {c['import_ms']:.0f} ms); floors: "
              f"libyaml {c['libyaml_ms']:.1f} ms, json {c['json_ms']:.1f} ms")
    for k, v in start.items():
        print(f"  {k:20} {v['wall_ms']:7.1f} ms wall  {v['cpu_ms']:7.1f} ms CPU")
    for k, v in result["ratios"].items():
        print(f"  {k:24} {v}x")


if __name__ == "__main__":
    main()
