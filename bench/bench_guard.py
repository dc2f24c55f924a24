"""Guard benchmark: `SessionGuard.observe()` per OpenAI `response.done`, against the price
path of the same event (goal: <= 2.5x).

The price path is what any meter must do with a `response.done`: read its usage into a `Usage`
and price it (`usage_from_response_done` + `price`). `observe()` does that and everything a
guard adds: account the spend, learn the context, project the next response and price it,
decide. Both are timed on the same events, side by side in one run, two ways:

* **in session**: recorded-shape 100-turn sessions (context re-billed every response, half the
  prefix cached) fed to a guard event by event, 70 audio deltas and the turn's VAD events
  between responses, as a relay would; sessions alternate between timing `observe()` on each
  `response.done` and timing the price path on it (the guard then observes it untimed), so
  both run with the same work around them (caches as cold);
* **tight loop**: the same `response.done` events one after another (caches warm).

Also times the hot path for audio deltas, which a relay feeds the guard many times a second.
The cyclic GC is disabled during the timed loops.

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

from costmodel import default_catalog, price
from costmodel.adapters.openai_realtime import usage_from_response_done
from costmodel.guard import SessionGuard
from costmodel.ledger import MemoryLedger
from tests.sessions import openai_session

MODEL = "openai/gpt-realtime-1.5"
GOAL_RATIO = 2.5


def _stats(xs: list[int]) -> dict:
    xs = sorted(xs)
    return {"n": len(xs), "median_us": round(statistics.median(xs) / 1000, 3),
            "p99_us": round(xs[int(len(xs) * 0.99)] / 1000, 3)}


def in_session(events: list[dict], catalog, sessions: int, ledger: bool) -> dict:
    observe_ns: list[int] = []
    price_ns: list[int] = []
    delta_ns: list[int] = []
    clock = time.perf_counter_ns
    for i in range(sessions):
        guard = SessionGuard("1000000", catalog=catalog,
                             ledger=MemoryLedger() if ledger else None)
        timing_observe = i % 2 == 1
        for ev in events:
            t = ev["type"]
            if t == "response.done":
                if timing_observe:
                    t0 = clock()
                    guard.observe(ev)
                    observe_ns.append(clock() - t0)
                else:
                    t0 = clock()
                    price(usage_from_response_done(ev, MODEL), catalog)
                    price_ns.append(clock() - t0)
                    guard.observe(ev)
            elif t == "response.output_audio.delta":
                t0 = clock()
                guard.observe(ev)
                delta_ns.append(clock() - t0)
            else:
                guard.observe(ev)
    return {"observe": _stats(observe_ns), "price_path": _stats(price_ns),
            "audio_delta": _stats(delta_ns)}


def tight_loop(events: list[dict], catalog, repeats: int = 20) -> dict:
    dones = [e for e in events if e["type"] == "response.done"]
    guard = SessionGuard("1000000", catalog=catalog)
    guard.observe(events[0])
    clock = time.perf_counter_ns
    observe_ns: list[int] = []
    price_ns: list[int] = []
    for _ in range(repeats):
        for ev in dones:
            t0 = clock()
            price(usage_from_response_done(ev, MODEL), catalog)
            price_ns.append(clock() - t0)
        for ev in dones:
            t0 = clock()
            guard.observe(ev)
            observe_ns.append(clock() - t0)
    return {"observe": _stats(observe_ns), "price_path": _stats(price_ns)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ledger", action="store_true", help="commit to a MemoryLedger")
    args = ap.parse_args()
    catalog = default_catalog()
    events = openai_session(catalog, turns=100, hit_ratio=0.5)
    gc.collect()
    gc.disable()  # stated: timed loops run without the cyclic GC
    try:
        session = in_session(events, catalog, args.sessions, args.ledger)
        tight = tight_loop(events, catalog)
    finally:
        gc.enable()
    ratios = {name: round(r["observe"]["median_us"] / r["price_path"]["median_us"], 2)
              for name, r in (("in_session", session), ("tight_loop", tight))}
    result = {"machine": f"{platform.machine()}, python {platform.python_version()}",
              "ledger": "memory" if args.ledger else None, "in_session": session,
              "tight_loop": tight, "observe_over_price_path": ratios,
              "goal_ratio": GOAL_RATIO, "met": ratios["in_session"] <= GOAL_RATIO}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, r in (("in session", session), ("tight loop", tight)):
        key = name.replace(" ", "_")
        print(f"{name:>10}: observe() per response.done median {r['observe']['median_us']} us, "
              f"price path {r['price_path']['median_us']} us: {ratios[key]}x")
    print(f"observe() per audio delta: median {session['audio_delta']['median_us']} us")
    print(f"goal: observe <= {GOAL_RATIO}x the price path (in session): "
          f"{'met' if result['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
