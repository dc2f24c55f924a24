"""Guard benchmark: `SessionGuard.observe()` per OpenAI `response.done` (goal: <= 10 us median).

Each `response.done` is metered end to end: parsed into a `Usage`, priced, added to the
session's spend, the next response projected from the context and priced, and a `Decision`
returned. The events come from recorded-shape 100-turn sessions (context re-billed every
response, half the prefix cached). Also times the hot path for audio deltas, which a relay
feeds the guard many times a second.

    python bench/bench_guard.py [--json] [--sessions 40] [--ledger]

``--ledger``: every guard commits each response to a `MemoryLedger` (what a relay with a
ledger does), so the figure includes the commit and the spool's "anything to flush?" check.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import default_catalog  # noqa: E402
from costmodel.guard import SessionGuard  # noqa: E402
from costmodel.ledger import MemoryLedger  # noqa: E402
from tests.sessions import openai_session  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ledger", action="store_true", help="commit to a MemoryLedger")
    args = ap.parse_args()
    catalog = default_catalog()
    events = openai_session(catalog, turns=100, hit_ratio=0.5)
    done_times: list[int] = []
    delta_times: list[int] = []
    gc.collect()
    gc.disable()  # stated: timed loops run without the cyclic GC
    try:
        for _ in range(args.sessions):
            guard = SessionGuard("1000000", catalog=catalog,
                                 ledger=MemoryLedger() if args.ledger else None)
            for ev in events:
                t0 = time.perf_counter_ns()
                guard.observe(ev)
                dt = time.perf_counter_ns() - t0
                if ev["type"] == "response.done":
                    done_times.append(dt)
                elif ev["type"] == "response.output_audio.delta":
                    delta_times.append(dt)
    finally:
        gc.enable()

    def stats(xs: list[int]) -> dict:
        xs = sorted(xs)
        return {"n": len(xs), "median_us": round(statistics.median(xs) / 1000, 3),
                "p99_us": round(xs[int(len(xs) * 0.99)] / 1000, 3)}

    result = {"machine": f"{platform.machine()}, python {platform.python_version()}",
              "ledger": "memory" if args.ledger else None,
              "response_done": stats(done_times), "audio_delta": stats(delta_times),
              "goal_median_us": 10}
    result["met"] = result["response_done"]["median_us"] <= 10
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"observe() per response.done: median {result['response_done']['median_us']} us, "
          f"p99 {result['response_done']['p99_us']} us over {len(done_times):,} events "
          f"(goal <= 10 us median: {'met' if result['met'] else 'NOT met'})")
    print(f"observe() per audio delta:   median {result['audio_delta']['median_us']} us, "
          f"p99 {result['audio_delta']['p99_us']} us over {len(delta_times):,} events")


if __name__ == "__main__":
    main()
