"""Estimator benchmark: 1M simulated calls on one realtime stack; a 10-stack compare of 100k.

Goals (issue #3): 1M calls (lognormal lengths, one realtime stack) in <= 2 s on a 2-core
machine; a 10-stack compare of 100k calls in <= 1 s. Times are wall-clock medians of several
runs of the library call `costmodel.estimate` (catalog already loaded, as in the CLI after
start-up), plus one cold run that includes loading the catalog.

    python bench/bench_estimate.py            # prints a table
    python bench/bench_estimate.py --json     # machine-readable
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

from costmodel import Catalog
from costmodel.estimation.monthly import estimate
from costmodel.estimation.scenario import Scenario

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


def scenario(stacks: list, calls: int) -> Scenario:
    return Scenario.model_validate({
        "name": "bench", "volume": {"calls_per_month": 60000},
        "duration_min": {"lognormal": {"mean": 6, "p95": 18}},
        "prompt": {"system_tokens": 3000}, "cache": {"hit_ratio": 0.5},
        "stacks": stacks, "simulation": {"calls": calls, "seed": 1}})


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    t = time.perf_counter()
    catalog = Catalog.load()
    cold_load = time.perf_counter() - t

    one = scenario(["openai/gpt-realtime-1.5"], 1_000_000)
    ten = scenario(TEN_STACKS, 100_000)
    rows = {
        "1M calls, 1 realtime stack": timed(lambda: estimate(one, catalog), args.repeats),
        "100k calls, 10-stack compare": timed(lambda: estimate(ten, catalog), args.repeats),
    }
    goals = {"1M calls, 1 realtime stack": 2.0, "100k calls, 10-stack compare": 1.0}
    result = {
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"python {platform.python_version()}",
        "catalog_load_s": round(cold_load, 3),
        "runs": {k: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3),
                     "max_s": round(max(v), 3), "goal_s": goals[k],
                     "met": statistics.median(v) <= goals[k]} for k, v in rows.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"catalog load (once per process): {cold_load:.3f} s")
    print(f"{'workload':32} {'median s':>9} {'min':>7} {'max':>7} {'goal':>6}  met")
    for k, v in result["runs"].items():
        print(f"{k:32} {v['median_s']:9.3f} {v['min_s']:7.3f} {v['max_s']:7.3f} "
              f"{v['goal_s']:6.1f}  {'yes' if v['met'] else 'NO'}")


if __name__ == "__main__":
    main()
