"""Pricing benchmark: costmodel vs LiteLLM's ``cost_per_token``, side by side in one run.

Run with the bench venv (``bench/setup.sh`` creates it)::

    bench/.litellm-venv/bin/python bench/bench_pricing.py            # N = 1,000,000 per workload
    bench/.litellm-venv/bin/python bench/bench_pricing.py --quick    # N = 20,000, a smoke run
    bench/.litellm-venv/bin/python bench/bench_pricing.py --json     # JSON on stdout instead
    bench/.litellm-venv/bin/python bench/bench_pricing.py --json out.json  # table + JSON file

Two workloads, each N seeded records of realistic sizes, built once before timing:

- ``realtime``: OpenAI Realtime ``response.done`` events for ``gpt-realtime`` (text + audio
  input with per-modality cache hits, text + audio output);
- ``chat``: Chat Completions ``usage`` objects for ``gpt-5.4-mini`` (cache hits, reasoning).

Timed paths, all in the same process and interleaved batch by batch:

- ``ours: price(Usage)``           `costmodel.price` on pre-built `Usage` objects, ``.total_usd``;
- ``ours: dict -> Decimal``        ``price(usage_from_response_done(event, model)).total_usd``
                                   (chat: ``usage_from_chat_completion``), from the raw dict;
- ``ours: adapter only``           the dict -> `Usage` step alone (to split the two above);
- ``litellm: cost_per_token``      ``litellm.cost_per_token(...)`` with the same counts, prompt +
                                   completion summed. Realtime passes a pre-built
                                   ``usage_object=litellm.Usage(...)`` carrying the audio/cached
                                   split; chat passes ``cache_read_input_tokens``;
- ``litellm: build Usage``         (realtime) building that ``litellm.Usage`` from the event dict,
                                   done per batch anyway, timed for reference.

Each workload's N records are split into ``--repeats`` batches (default 5) so every record is
priced exactly once by each path; the reported per-op time is the median over the batches.
Timer: ``time.perf_counter_ns``; a warm-up pass precedes timing; the garbage collector is
disabled inside timed loops (and a full collection is run before each).
"""

from __future__ import annotations

import os

# Before importing litellm: use its bundled price map, never the network.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("LITELLM_LOG", "ERROR")

import argparse
import gc
import json
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path

import litellm

from costmodel import price
from costmodel.adapters.openai_chat import usage_from_chat_completion
from costmodel.adapters.openai_realtime import usage_from_response_done

ROOT = Path(__file__).resolve().parents[1]
perf_ns = time.perf_counter_ns

# (costmodel id, litellm model name) for each workload; both catalogs price these.
REALTIME = ("openai/gpt-realtime", "gpt-realtime")
CHAT = ("openai/gpt-5.4-mini", "gpt-5.4-mini")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data
def _cached_prefix(rng: random.Random, total_in: int) -> int:
    """OpenAI caches a prefix of >= 1024 tokens in 128-token steps; ~80% of turns hit."""
    if total_in < 1024 + 128 or rng.random() >= 0.8:
        return 0
    steps = (total_in - 1024) // 128
    return 1024 + 128 * rng.randint(0, steps)


def realtime_events(n: int, rng: random.Random) -> list[dict]:
    """``response.done`` events with realistic, self-consistent usage."""
    out = []
    for i in range(n):
        instructions = rng.randint(300, 3000)           # system prompt + tools
        history_text = rng.randint(0, 6000)             # transcripts, text turns
        text_in = instructions + history_text
        audio_in = rng.randint(20, 28224 - text_in if text_in < 20000 else 8000)
        audio_in = min(audio_in, max(20, 28224 - text_in))
        cached = _cached_prefix(rng, text_in + audio_in)
        # The cache holds the conversation prefix: instructions and text first, then audio.
        cached_text = min(cached, text_in)
        cached_audio = cached - cached_text
        text_out = rng.randint(5, 250)                  # transcript of the spoken reply
        audio_out = 0 if rng.random() < 0.05 else rng.randint(40, 1500)  # 5% text-only / tools
        usage = {
            "total_tokens": text_in + audio_in + text_out + audio_out,
            "input_tokens": text_in + audio_in,
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio,
                                          "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }
        out.append({
            "type": "response.done", "event_id": f"event_{i:08d}",
            "response": {"object": "realtime.response", "id": f"resp_{i:08d}",
                         "status": "completed", "status_details": None, "output": [],
                         "conversation_id": "conv_bench", "output_modalities": ["audio"],
                         "usage": usage},
        })
    return out


def chat_usages(n: int, rng: random.Random) -> list[dict]:
    """Chat Completions ``usage`` objects (gross prompt incl. cache hits; reasoning inside)."""
    out = []
    for _ in range(n):
        prompt = int(10 ** rng.uniform(1.7, 4.5))       # ~50 .. ~32k tokens, log-uniform
        cached = _cached_prefix(rng, prompt)
        reasoning = 0 if rng.random() < 0.3 else rng.randint(0, 2000)
        completion = reasoning + rng.randint(1, 1500)
        out.append({
            "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0},
        })
    return out


def litellm_usage_from_done(event: dict):
    """The ``litellm.Usage`` of a response.done event (audio/cached split kept)."""
    u = event["response"]["usage"]
    itd = u["input_token_details"]
    return litellm.Usage(
        prompt_tokens=u["input_tokens"], completion_tokens=u["output_tokens"],
        total_tokens=u["total_tokens"],
        prompt_tokens_details={**itd, "cached_tokens_details": dict(itd["cached_tokens_details"])},
        completion_tokens_details=dict(u["output_token_details"]))


# --------------------------------------------------------------------------- timed loops
# Each returns elapsed ns for the whole list; results are kept in a local so nothing is
# optimised away (CPython does not, but the loop bodies stay identical in shape).
def t_ours_usage(usages: list) -> int:
    p = price
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    for u in usages:
        last = p(u).total_usd
    t1 = perf_ns()
    gc.enable()
    del last
    return t1 - t0


def t_ours_done(events: list, model: str) -> int:
    p, a = price, usage_from_response_done
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    for ev in events:
        last = p(a(ev, model)).total_usd
    t1 = perf_ns()
    gc.enable()
    del last
    return t1 - t0


def t_adapter_done(events: list, model: str) -> int:
    a = usage_from_response_done
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    for ev in events:
        last = a(ev, model)
    t1 = perf_ns()
    gc.enable()
    del last
    return t1 - t0


def t_ours_chat(usages: list, model: str) -> int:
    p, a = price, usage_from_chat_completion
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    for u in usages:
        last = p(a(u, model)).total_usd
    t1 = perf_ns()
    gc.enable()
    del last
    return t1 - t0


def t_adapter_chat(usages: list, model: str) -> int:
    a = usage_from_chat_completion
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    for u in usages:
        last = a(u, model)
    t1 = perf_ns()
    gc.enable()
    del last
    return t1 - t0


def t_litellm_realtime(items: list, model: str) -> int:
    """items: (prompt_tokens, completion_tokens, litellm.Usage)."""
    cpt = litellm.cost_per_token
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    for pt, ct, uo in items:
        a, b = cpt(model=model, prompt_tokens=pt, completion_tokens=ct, usage_object=uo)
        last = a + b
    t1 = perf_ns()
    gc.enable()
    del last
    return t1 - t0


def t_litellm_chat(items: list, model: str) -> int:
    """items: (prompt_tokens, completion_tokens, cached_tokens)."""
    cpt = litellm.cost_per_token
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    for pt, ct, cached in items:
        a, b = cpt(model=model, prompt_tokens=pt, completion_tokens=ct,
                   cache_read_input_tokens=cached)
        last = a + b
    t1 = perf_ns()
    gc.enable()
    del last
    return t1 - t0


def t_litellm_build(events: list) -> tuple[int, list]:
    build = litellm_usage_from_done
    gc.collect()
    gc.disable()
    t0 = perf_ns()
    built = [build(ev) for ev in events]
    t1 = perf_ns()
    gc.enable()
    return t1 - t0, built


# --------------------------------------------------------------------------- agreement
def agreement(pairs: list[tuple[Decimal, float]]) -> dict:
    """How far LiteLLM's float USD is from our exact Decimal USD over a sample."""
    max_abs = Decimal(0)
    max_rel = Decimal(0)
    exact = 0
    for ours, theirs in pairs:
        diff = abs(ours - Decimal(repr(theirs)))
        if diff == 0:
            exact += 1
        max_abs = max(max_abs, diff)
        if ours:
            max_rel = max(max_rel, diff / ours)
    return {"sample": len(pairs), "identical_to_float_repr": exact,
            "max_abs_diff_usd": float(max_abs), "max_rel_diff": float(max_rel)}


def check_realtime(events: list) -> tuple[dict, dict]:
    ours_id, theirs = REALTIME
    pairs = []
    for ev in events:
        u = ev["response"]["usage"]
        ours = price(usage_from_response_done(ev, ours_id)).total_usd
        a, b = litellm.cost_per_token(model=theirs, prompt_tokens=u["input_tokens"],
                                      completion_tokens=u["output_tokens"],
                                      usage_object=litellm_usage_from_done(ev))
        pairs.append((ours, a + b))
    ev = events[0]
    u = ev["response"]["usage"]
    a, b = litellm.cost_per_token(model=theirs, prompt_tokens=u["input_tokens"],
                                  completion_tokens=u["output_tokens"],
                                  usage_object=litellm_usage_from_done(ev))
    sample = {"usage": u, "ours_usd": str(pairs[0][0]), "litellm_usd": repr(a + b),
              "litellm_prompt_usd": repr(a), "litellm_completion_usd": repr(b),
              "ours_line_items": {li.item: str(li.usd) for li in
                                  price(usage_from_response_done(ev, ours_id)).line_items}}
    return sample, agreement(pairs)


def check_chat(usages: list) -> tuple[dict, dict]:
    ours_id, theirs = CHAT
    pairs = []
    for u in usages:
        ours = price(usage_from_chat_completion(u, ours_id)).total_usd
        a, b = litellm.cost_per_token(
            model=theirs, prompt_tokens=u["prompt_tokens"],
            completion_tokens=u["completion_tokens"],
            cache_read_input_tokens=u["prompt_tokens_details"]["cached_tokens"])
        pairs.append((ours, a + b))
    u = usages[0]
    a, b = litellm.cost_per_token(
        model=theirs, prompt_tokens=u["prompt_tokens"], completion_tokens=u["completion_tokens"],
        cache_read_input_tokens=u["prompt_tokens_details"]["cached_tokens"])
    sample = {"usage": u, "ours_usd": str(pairs[0][0]), "litellm_usd": repr(a + b),
              "litellm_prompt_usd": repr(a), "litellm_completion_usd": repr(b)}
    return sample, agreement(pairs)


# --------------------------------------------------------------------------- runs
def batches(seq: list, k: int) -> list[list]:
    size = -(-len(seq) // k)
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def summarize(name: str, ns: list[int], sizes: list[int]) -> dict:
    per_op = [t / s / 1000 for t, s in zip(ns, sizes, strict=True)]  # us per op, per batch
    med = statistics.median(per_op)
    return {"path": name, "ops": sum(sizes), "batches": len(ns),
            "us_per_op_median": med, "us_per_op_min": min(per_op), "us_per_op_max": max(per_op),
            "ops_per_s": 1e6 / med, "total_s": sum(ns) / 1e9}


def run_realtime(n: int, repeats: int, seed: int) -> dict:
    ours_id, theirs = REALTIME
    log(f"[realtime] building {n:,} response.done events (seed {seed}) ...")
    events = realtime_events(n, random.Random(seed))
    sample, agree = check_realtime(events[:min(len(events), 10_000)])

    warm = events[:min(2000, n)]
    t_ours_done(warm, ours_id)
    t_adapter_done(warm, ours_id)
    t_ours_usage([usage_from_response_done(e, ours_id) for e in warm])
    t_litellm_realtime([(e["response"]["usage"]["input_tokens"],
                         e["response"]["usage"]["output_tokens"], litellm_usage_from_done(e))
                        for e in warm], theirs)

    times: dict[str, list[int]] = {k: [] for k in ("ours_usage", "ours_e2e", "adapter",
                                                   "litellm", "litellm_build")}
    sizes = []
    for i, batch in enumerate(batches(events, repeats)):
        sizes.append(len(batch))
        usages = [usage_from_response_done(e, ours_id) for e in batch]  # untimed pre-build
        tb, built = t_litellm_build(batch)
        items = [(e["response"]["usage"]["input_tokens"], e["response"]["usage"]["output_tokens"],
                  uo) for e, uo in zip(batch, built, strict=True)]
        del built
        times["litellm_build"].append(tb)
        times["ours_usage"].append(t_ours_usage(usages))
        times["ours_e2e"].append(t_ours_done(batch, ours_id))
        times["adapter"].append(t_adapter_done(batch, ours_id))
        times["litellm"].append(t_litellm_realtime(items, theirs))
        del usages, items
        log(f"[realtime] batch {i + 1}/{repeats}: ours e2e "
            f"{times['ours_e2e'][-1] / len(batch) / 1000:.2f} us, litellm "
            f"{times['litellm'][-1] / len(batch) / 1000:.1f} us")
    del events
    rows = [summarize("ours: price(Usage)", times["ours_usage"], sizes),
            summarize("ours: response.done dict -> Decimal", times["ours_e2e"], sizes),
            summarize("ours: adapter only (dict -> Usage)", times["adapter"], sizes),
            summarize("litellm: cost_per_token(usage_object=...)", times["litellm"], sizes),
            summarize("litellm: build litellm.Usage from dict", times["litellm_build"], sizes)]
    return {"workload": "realtime", "models": {"costmodel": ours_id, "litellm": theirs},
            "n": n, "rows": rows, "sample": sample, "agreement": agree}


def run_chat(n: int, repeats: int, seed: int) -> dict:
    ours_id, theirs = CHAT
    log(f"[chat] building {n:,} chat.completion usage objects (seed {seed + 1}) ...")
    usages_raw = chat_usages(n, random.Random(seed + 1))
    sample, agree = check_chat(usages_raw[:min(len(usages_raw), 10_000)])

    def items_of(raw):
        return [(u["prompt_tokens"], u["completion_tokens"],
                 u["prompt_tokens_details"]["cached_tokens"]) for u in raw]

    warm = usages_raw[:min(2000, n)]
    t_ours_chat(warm, ours_id)
    t_adapter_chat(warm, ours_id)
    t_ours_usage([usage_from_chat_completion(u, ours_id) for u in warm])
    t_litellm_chat(items_of(warm), theirs)

    times: dict[str, list[int]] = {k: [] for k in ("ours_usage", "ours_e2e", "adapter", "litellm")}
    sizes = []
    for i, batch in enumerate(batches(usages_raw, repeats)):
        sizes.append(len(batch))
        usages = [usage_from_chat_completion(u, ours_id) for u in batch]
        items = items_of(batch)
        times["ours_usage"].append(t_ours_usage(usages))
        times["ours_e2e"].append(t_ours_chat(batch, ours_id))
        times["adapter"].append(t_adapter_chat(batch, ours_id))
        times["litellm"].append(t_litellm_chat(items, theirs))
        del usages, items
        log(f"[chat] batch {i + 1}/{repeats}: ours e2e "
            f"{times['ours_e2e'][-1] / len(batch) / 1000:.2f} us, litellm "
            f"{times['litellm'][-1] / len(batch) / 1000:.1f} us")
    del usages_raw
    rows = [summarize("ours: price(Usage)", times["ours_usage"], sizes),
            summarize("ours: chat usage dict -> Decimal", times["ours_e2e"], sizes),
            summarize("ours: adapter only (dict -> Usage)", times["adapter"], sizes),
            summarize("litellm: cost_per_token(counts)", times["litellm"], sizes)]
    return {"workload": "chat", "models": {"costmodel": ours_id, "litellm": theirs},
            "n": n, "rows": rows, "sample": sample, "agreement": agree}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True,
                                   check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "implementation": platform.python_implementation(), "os": platform.platform(),
            "litellm": metadata.version("litellm"), "costmodel": metadata.version("costmodel"),
            "costmodel_commit": commit}


def ratios(result: dict) -> dict:
    rows = {r["path"]: r["us_per_op_median"] for r in result["rows"]}
    lite = next(v for k, v in rows.items() if k.startswith("litellm: cost_per_token"))
    usage = rows["ours: price(Usage)"]
    e2e = next(v for k, v in rows.items() if "-> Decimal" in k)
    return {"litellm_over_ours_price_usage": lite / usage,
            "litellm_over_ours_dict_to_decimal": lite / e2e}


def print_table(report: dict) -> None:
    m = report["machine"]
    print(f"costmodel pricing benchmark  {report['started']}")
    print(f"machine: {m['cpu']}, {m['cpus']} CPUs | {m['implementation']} {m['python']} | "
          f"litellm {m['litellm']} | costmodel {m['costmodel']} @ {m['costmodel_commit']}")
    print(f"N = {report['n']:,} per workload, {report['repeats']} batches of N/{report['repeats']};"
          " median per-op time over batches; gc disabled in timed loops\n")
    for res in report["workloads"]:
        print(f"## {res['workload']}: costmodel {res['models']['costmodel']} vs litellm "
              f"{res['models']['litellm']}")
        print(f"{'path':<44} {'us/op (median)':>14} {'min':>8} {'max':>8} {'ops/s':>12}")
        for r in res["rows"]:
            print(f"{r['path']:<44} {r['us_per_op_median']:>14.3f} {r['us_per_op_min']:>8.3f} "
                  f"{r['us_per_op_max']:>8.3f} {r['ops_per_s']:>12,.0f}")
        ra = res["ratios"]
        print(f"ratio litellm/ours: {ra['litellm_over_ours_price_usage']:.1f}x (price(Usage)), "
              f"{ra['litellm_over_ours_dict_to_decimal']:.1f}x (dict -> Decimal)")
        a, s = res["agreement"], res["sample"]
        print(f"agreement on {a['sample']:,} records: max |diff| ${a['max_abs_diff_usd']:.3g}, "
              f"max rel {a['max_rel_diff']:.3g} ({a['identical_to_float_repr']:,} identical to "
              f"the float's repr)")
        print(f"sample: ours ${s['ours_usd']} vs litellm ${s['litellm_usd']}\n")
    g = report["goals"]

    def status(ok: bool | None) -> str:
        return "n/a (not run)" if ok is None else ("MET" if ok else "NOT MET")

    print(f"goal >= 20x faster than litellm per priced usage: realtime "
          f"{status(g['ratio_20x_realtime'])}, chat {status(g['ratio_20x_chat'])}")
    us = g["response_done_us"]
    print(f"goal <= 5 us per response.done dict -> Decimal: "
          f"{'' if us is None else f'{us:.3f} us, '}{status(g['response_done_5us'])}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="records per workload")
    ap.add_argument("--quick", action="store_true", help="small run (n = 20,000)")
    ap.add_argument("--repeats", type=int, default=5, help="batches per workload (median)")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--only", choices=("realtime", "chat"), help="run one workload")
    ap.add_argument("--json", nargs="?", const="-", metavar="PATH",
                    help="write the results as JSON to PATH (or, with no PATH, print JSON "
                         "instead of the table)")
    args = ap.parse_args(argv)
    n = 20_000 if args.quick else args.n
    if n < args.repeats:
        ap.error("--n must be at least --repeats")

    # Prime catalog loading and rate compilation outside any timing.
    price(usage_from_response_done(realtime_events(1, random.Random(0))[0], REALTIME[0]))
    report = {"started": datetime.now(UTC).isoformat(timespec="seconds"),
              "priced_on": date.today().isoformat(), "n": n, "repeats": args.repeats,
              "seed": args.seed, "gc_disabled_in_timed_loops": True, "machine": machine(),
              "command": " ".join(["bench/.litellm-venv/bin/python", "bench/bench_pricing.py",
                                   *(argv if argv is not None else sys.argv[1:])]),
              "workloads": []}
    t0 = time.perf_counter()
    if args.only in (None, "realtime"):
        report["workloads"].append(run_realtime(n, args.repeats, args.seed))
    if args.only in (None, "chat"):
        report["workloads"].append(run_chat(n, args.repeats, args.seed))
    report["wall_s"] = time.perf_counter() - t0
    for res in report["workloads"]:
        res["ratios"] = ratios(res)
    by = {r["workload"]: r for r in report["workloads"]}
    goals: dict = {}  # None: that workload was not run
    for w in ("realtime", "chat"):
        goals[f"ratio_20x_{w}"] = (by[w]["ratios"]["litellm_over_ours_price_usage"] >= 20
                                   if w in by else None)
    rt_us = (next(r["us_per_op_median"] for r in by["realtime"]["rows"]
                  if "-> Decimal" in r["path"]) if "realtime" in by else None)
    goals["response_done_us"] = rt_us
    goals["response_done_5us"] = rt_us <= 5 if rt_us is not None else None
    report["goals"] = goals
    if args.json and args.json != "-":
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.json == "-":
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
