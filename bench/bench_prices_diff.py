"""`costmodel prices diff --against litellm`: the whole diff against LiteLLM's full map.

Goal (issue 11): <= 1 s. The figure is the library's own work, after imports: read the map
(`load_map`: read the file, json, rows in our units), resolve every first-party row against
the built-in catalog, compare. Floor: `json.load` of the same file (reading the map costs at
least that). Median of `--repeats` runs, each in a fresh catalog (so resolution is not
memoized from the run before); also the whole command as a process (`costmodel prices diff
--against FILE --json`, wall time: imports included).

The map is the installed litellm package's, or `--map FILE`: to run it without installing
litellm, `pip download litellm --no-deps -d /tmp/pkgs` and unzip the wheel's
``litellm/model_prices_and_context_window_backup.json``.

    python bench/bench_prices_diff.py [--map FILE] [--repeats 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--map", help="LiteLLM map JSON (default: the installed litellm's)")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from costmodel.core.catalog import Catalog
    from costmodel.core.pricediff import diff, load_map

    against = args.map or "litellm"
    today = date.today()
    their = load_map(against, today)
    path = Path(their.path)
    catalog = Catalog.load()
    report = diff(catalog, their, today)

    def whole() -> None:
        diff(Catalog.load(), load_map(against, today), today)

    def floor() -> None:
        with path.open("rb") as fh:
            json.load(fh)

    def compare_only() -> None:
        diff(Catalog.load(), their, today)

    whole(), floor()  # warm the file cache and the catalog parse cache
    ours = _median_seconds(whole, args.repeats)
    base = _median_seconds(floor, args.repeats)
    cmp_ = _median_seconds(compare_only, args.repeats)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "costmodel", "prices", "diff", "--against",
                           str(path), "--json"], capture_output=True, text=True, check=False)
    command = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr)
    result = {
        "map": f"{their.label} ({path.stat().st_size / 1e6:.1f} MB, {len(their.rows)} "
               "first-party rows)",
        "matched_models": len(report.models), "agreeing_rates": report.agreeing,
        "differences": len(report.differences), "unpriced": len(report.unpriced),
        "diff_s": round(ours, 4), "of_which_compare_s": round(cmp_, 4),
        "floor_json_load_s": round(base, 4), "ratio_to_floor": round(ours / base, 2),
        "command_wall_s": round(command, 3), "goal_s": 1.0,
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
