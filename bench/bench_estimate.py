"""Estimator benchmark: `estimate` on one realtime stack at 1M-10M calls against a numpy floor.

The floor is the numpy work any Monte Carlo estimate of one stack must do on the same number
of calls, with the pricing given away for free:

1. sample the call lengths (the scenario's lognormal, ``rng.lognormal``), whole seconds
   (``ceil``), capped at a day;
2. look each call's cost up in a per-second cost table (86,401 float64, built before timing);
3. the statistics reported: mean, standard deviation, 50th/95th/99th percentiles.

The estimator must do (1) as well, then price its tables (Python, ``price`` per distinct
usage) and its statistics. Both run alternately in the same process on the same sizes, so the
ratio estimator / floor survives the drift of a shared machine; the growth exponent from
1M to 10M calls is log(t10M / t1M) / log(10) (1.0 = linear).

Also timed, as before: a 10-stack compare of 100k calls (goal <= 1 s). With ``--memory``, one
extra untimed run of each workload reports the peak of memory allocated (tracemalloc, which
numpy reports its arrays to).

    python bench/bench_estimate.py [--sizes 1000000,3000000,10000000] [--repeats 5] [--json]

Imports costmodel from this checkout, so a worktree of another commit runs its own code.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Catalog
from costmodel.estimation.monthly import estimate
from costmodel.estimation.scenario import Scenario

RT = "openai/gpt-realtime-1.5"
TEN_STACKS = [
    "openai/gpt-realtime-1.5", "openai/gpt-realtime-mini", "openai/gpt-realtime-2",
    "google/gemini-3.1-flash-live", "xai/grok-voice-agent", "ultravox/ultravox-v0.7",
    "selfhost/ultravox-v0.7",
    {"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini", "tts": "cartesia/sonic-3",
     "telephony": "twilio/us-inbound"},
    {"stt": "deepgram/nova-3", "llm": "anthropic/claude-haiku-4.5",
     "tts": "elevenlabs/flash-v2.5", "telephony": "twilio/us-inbound"},
    {"stt": "assemblyai/universal-streaming", "llm": "google/gemini-3-flash",
     "tts": "deepgram/aura-2", "telephony": "telnyx/us-inbound"},
]
DAY_S = 86_400


def scenario(stacks: list, calls: int) -> Scenario:
    return Scenario.model_validate({
        "name": "bench", "volume": {"calls_per_month": 60000},
        "duration_min": {"lognormal": {"mean": 6, "p95": 18}},
        "prompt": {"system_tokens": 3000}, "cache": {"hit_ratio": 0.5},
        "stacks": stacks, "simulation": {"calls": calls, "seed": 1}})


def numpy_floor(sc: Scenario, n: int, cost_per_second: np.ndarray) -> tuple[float, ...]:
    """Sample n calls, look their costs up, and the statistics: nothing else."""
    d = sc.duration_min.lognormal
    seconds = np.ceil(np.random.default_rng(1).lognormal(d.mu, d.sigma, n) * 60)
    seconds = np.minimum(seconds, DAY_S, out=seconds).astype(np.int64)
    costs = cost_per_second[seconds]
    return (costs.mean(), costs.std(), *np.percentile(costs, [50, 95, 99]))


def cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,3000000,10000000")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    t = time.perf_counter()
    catalog = Catalog.load()
    cold_load = time.perf_counter() - t
    # Any positive per-second costs do for the floor: its work does not depend on them.
    cost_per_second = np.linspace(0.01, 150.0, DAY_S + 1)

    rows = {}
    for n in sizes:
        sc = scenario([RT], n)
        estimate(sc, catalog)  # warm: first-use imports and caches
        est, flo = [], []
        for _ in range(args.repeats):  # alternate, so both see the same machine
            t = time.perf_counter()
            estimate(sc, catalog)
            est.append(time.perf_counter() - t)
            t = time.perf_counter()
            numpy_floor(sc, n, cost_per_second)
            flo.append(time.perf_counter() - t)
        row = {"estimate_s": statistics.median(est), "floor_s": statistics.median(flo),
               "estimate_min_s": min(est), "floor_min_s": min(flo)}
        row["ratio"] = row["estimate_s"] / row["floor_s"]
        if args.memory:
            row["estimate_peak_mib"] = peak_mib(lambda sc=sc: estimate(sc, catalog))
            row["floor_peak_mib"] = peak_mib(
                lambda sc=sc, n=n: numpy_floor(sc, n, cost_per_second))
        rows[n] = row

    ten = scenario(TEN_STACKS, 100_000)
    estimate(ten, catalog)
    compare = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        estimate(ten, catalog)
        compare.append(time.perf_counter() - t)

    lo, hi = min(sizes), max(sizes)
    growth = {k: math.log(rows[hi][k] / rows[lo][k]) / math.log(hi / lo)
              for k in ("estimate_s", "floor_s")} if hi > lo else {}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    result = {
        "machine": f"{cpu()}, python {platform.python_version()}, numpy {np.__version__}",
        "commit": commit, "catalog_load_s": round(cold_load, 3),
        "one_stack": {str(n): {k: round(v, 4) for k, v in r.items()} for n, r in rows.items()},
        "growth_exponent": {k: round(v, 2) for k, v in growth.items()},
        "compare_10_stacks_100k_s": round(statistics.median(compare), 3),
        "goals": {"ratio_at_1M": 1.5, "compare_s": 1.0},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['machine']}; commit {commit}; catalog load {cold_load:.3f} s")
    mem = " est MiB  floor MiB" if args.memory else ""
    print(f"{'calls':>11} {'estimate s':>11} {'floor s':>8} {'ratio':>6}{mem}")
    for n, r in rows.items():
        extra = (f" {r['estimate_peak_mib']:8.0f} {r['floor_peak_mib']:10.0f}"
                 if args.memory else "")
        print(f"{n:>11,} {r['estimate_s']:11.4f} {r['floor_s']:8.4f} {r['ratio']:6.2f}{extra}")
    if growth:
        print(f"growth exponent {lo:,} -> {hi:,}: estimate {growth['estimate_s']:.2f}, "
              f"floor {growth['floor_s']:.2f} (1.0 = linear)")
    print(f"10-stack compare, 100k calls: {result['compare_10_stacks_100k_s']:.3f} s "
          f"(goal <= 1 s)")


if __name__ == "__main__":
    main()
