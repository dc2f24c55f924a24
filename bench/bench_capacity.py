"""Capacity benchmark: `capacity` for 10 stacks over 24 hours and 100k simulated calls (goal
<= 1 s), against a numpy floor.

The floor is the numpy work any such report must do, with everything per stack given away:
sample the call lengths (the scenario's lognormal, whole seconds, capped at a day), count
them per second (``np.bincount``), and one circular convolution of a day's arrival rate with
``P(length > age)`` (86,400 values, by FFT) for the calls in progress. `capacity` does that
once, then per stack builds the estimator's components and reads each response's usage, and
weighs it against the busy hour (a dot product, no convolution per stack). Both run
alternately in the same process, fresh caches each time, so the ratio survives a shared
machine's drift.

    python bench/bench_capacity.py [--repeats 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Catalog
from costmodel.estimation.capacity import capacity
from costmodel.estimation.monthly import sample_seconds
from costmodel.estimation.scenario import Scenario
from costmodel.estimation.traffic import DAY_S, arrivals_per_second, profile_weights

TEN_STACKS = [
    "openai/gpt-realtime-1.5", "openai/gpt-realtime-mini", "openai/gpt-realtime-2",
    "google/gemini-3.1-flash-live", "xai/grok-voice-agent", "ultravox/ultravox-v0.7",
    "selfhost/ultravox-v0.7",
    {"stt": "deepgram/nova-3", "llm": "openai/gpt-5.4-mini", "tts": "cartesia/sonic-3",
     "telephony": "twilio/us-inbound"},
    {"stt": "deepgram/nova-3", "llm": "anthropic/claude-haiku-4.5",
     "tts": "elevenlabs/flash-v2.5", "telephony": "twilio/us-outbound"},
    {"stt": "assemblyai/universal-streaming", "llm": "google/gemini-3-flash",
     "tts": "deepgram/aura-2", "telephony": "telnyx/us-inbound"},
]
ON = date(2026, 11, 25)
GOAL_S = 1.0


def scenario() -> Scenario:
    return Scenario.model_validate({
        "name": "bench", "volume": {"calls_per_month": 60_000},
        "duration_min": {"lognormal": {"mean": 6, "p95": 18}},
        "prompt": {"system_tokens": 3000, "tool_tokens": 1000}, "cache": {"hit_ratio": 0.5},
        "stacks": TEN_STACKS, "simulation": {"calls": 100_000, "seed": 42}})


def floor(sc: Scenario) -> float:
    t = time.perf_counter()
    seconds = sample_seconds(sc, sc.simulation.calls, np.random.default_rng(42))
    counts = np.bincount(seconds, minlength=DAY_S + 1)
    surv = 1.0 - np.cumsum(counts)[:DAY_S] / counts.sum()
    rate = arrivals_per_second(2000.0, profile_weights("business-hours"))
    np.fft.irfft(np.fft.rfft(rate) * np.fft.rfft(surv), n=DAY_S)
    return time.perf_counter() - t


def run(sc: Scenario, catalog: Catalog) -> float:
    t = time.perf_counter()
    rep = capacity(sc, catalog, on=ON)
    elapsed = time.perf_counter() - t
    assert len(rep.results) == 10 and len(rep.concurrency_by_hour) == 24
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sc, catalog = scenario(), Catalog.load()
    run(sc, catalog), floor(sc)  # warm imports and the catalog
    ours, base = [], []
    for _ in range(args.repeats):
        ours.append(run(sc, catalog))
        base.append(floor(sc))
    result = {"python": platform.python_version(), "stacks": 10, "calls": 100_000,
              "capacity_s": statistics.median(ours), "floor_s": statistics.median(base),
              "ratio": statistics.median(ours) / statistics.median(base),
              "goal_s": GOAL_S, "meets_goal": statistics.median(ours) <= GOAL_S}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:12} {v:.4f}" if isinstance(v, float) else f"{k:12} {v}")


if __name__ == "__main__":
    main()
