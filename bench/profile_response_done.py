"""Where the time of ``price(usage_from_response_done(event, model))`` goes.

    bench/.litellm-venv/bin/python bench/profile_response_done.py [--n 200000] [--cprofile]

Times each stage of the dict -> Decimal path separately on the benchmark's events (same seeded
generator), by subtraction of cumulative loops, then optionally runs cProfile on the whole path.
Stage times are medians of 5 runs; gc disabled in timed loops, as in bench_pricing.py.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from functools import partial

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_pricing import REALTIME, realtime_events

from costmodel import price, rates_for
from costmodel.adapters._common import mapping
from costmodel.adapters.openai_realtime import (
    tokens_from_realtime_usage,
    usage_from_response_done,
)
from costmodel.core.pricing import Cost
from costmodel.core.usage import Usage

MODEL = REALTIME[0]


def timed(fn, arg, repeats: int = 5) -> float:
    """Median us per item of fn(arg) (fn loops over arg itself: the stages below)."""
    out = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        t0 = time.perf_counter_ns()
        fn(arg)
        t1 = time.perf_counter_ns()
        gc.enable()
        out.append((t1 - t0) / len(arg) / 1000)
    return statistics.median(out)


def empty(evs):
    for _ev in evs:
        pass


def get_usage(evs):
    for ev in evs:
        mapping(mapping(ev, "response", "r"), "usage", "u")


def adapter_tokens(raws):
    for u in raws:
        tokens_from_realtime_usage(u, "response.usage")


def usage_init(toks):
    for t in toks:
        Usage(MODEL, t, at=None, label="")


def adapter_full(evs):
    for ev in evs:
        usage_from_response_done(ev, MODEL)


def today_calls(us):
    for _ in us:
        date.today()


def rates_lookup(us):
    for u in us:
        rates_for(u.model, u.at or None, None)


def token_sum(per_token, us):
    zero = Decimal(0)
    for u in us:
        total = zero
        for key, n in u.tokens.items():
            if n:
                total += n * per_token[key]


def cost_init(rates, us):
    zero = Decimal(0)
    for u in us:
        Cost(u, rates, zero)


def price_only(us):
    for u in us:
        _ = price(u).total_usd


def end_to_end(evs):
    for ev in evs:
        _ = price(usage_from_response_done(ev, MODEL)).total_usd


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--cprofile", action="store_true")
    args = ap.parse_args()
    events = realtime_events(args.n, random.Random(20261125))
    usages_raw = [e["response"]["usage"] for e in events]
    tokens = [tokens_from_realtime_usage(u) for u in usages_raw]
    built = [Usage(MODEL, t) for t in tokens]
    price(built[0])
    today = date.today()
    rates = rates_for(MODEL, today)
    nb = statistics.mean(len(t) for t in tokens)

    rows = [
        ("loop overhead (empty for-loop)", timed(empty, events)),
        ("adapter: 2x mapping() for response/usage", timed(get_usage, events)),
        ("adapter: tokens_from_realtime_usage", timed(adapter_tokens, usages_raw)),
        ("adapter: Usage(...) incl. __post_init__", timed(usage_init, tokens)),
        ("adapter total: usage_from_response_done", timed(adapter_full, events)),
        ("price: date.today()", timed(today_calls, built)),
        ("price: rates_for() (incl. date.today())", timed(rates_lookup, built)),
        (f"price: token sum ({nb:.1f} buckets avg, Decimal)",
         timed(partial(token_sum, rates.per_token), built)),
        ("price: Cost(...) construction", timed(partial(cost_init, rates), built)),
        ("price total: price(Usage).total_usd", timed(price_only, built)),
        ("END TO END: dict -> Decimal", timed(end_to_end, events)),
    ]
    print(f"n = {args.n:,} response.done events, model {MODEL}; us per event (median of 5)")
    for name, us in rows:
        print(f"  {name:<52} {us:7.3f}")

    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        end_to_end(events)
        prof.disable()
        print("\ncProfile of the end-to-end loop (cProfile inflates per-call overhead):")
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
