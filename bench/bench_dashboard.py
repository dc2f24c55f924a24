"""The dashboard in a real headless Chromium: time from an action to the settled page.

    python bench/bench_dashboard.py [--repeats 5]

Starts `streamlit run app.py` and Debian's Chromium (DevTools protocol, as the browser
tests), then times, from the action to the page settled (the new content shown, no element
stale, nothing running), each of: first load, a new calls/month, adding a stack, opening
Sensitivity (first time, then again after a volume change). The floor is the same
measurement on a Streamlit app that only echoes one number input (`st.write`): what any
Streamlit rerun costs in this browser on this machine. Goals (issue 12): volume edit
<= 0.5 s, add a stack <= 1 s, first load <= 4 s, Sensitivity <= 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.app.cdp import CHROMIUM, chromium, streamlit  # noqa: E402

FLOOR_APP = """import streamlit as st
x = st.number_input("Calls per month", value=1000, step=1000)
st.write(f"echo {x:,} calls/month")
"""


def timed(page, act, marker: str, charts: int = 0) -> float:
    t = time.perf_counter()
    act()
    st = page.settled(marker, charts=charts)
    assert not st["exceptions"], st["text"][:2000]
    return time.perf_counter() - t


def bench_floor(tmp: Path, repeats: int) -> dict[str, list[float]]:
    app = tmp / "floor.py"
    app.write_text(FLOOR_APP, encoding="utf-8")
    out: dict[str, list[float]] = {"first load": [], "volume edit": []}
    with streamlit(app, tmp / "floor.log") as url, chromium(tmp / "chrome-floor") as page:
        for i in range(repeats):
            out["first load"].append(timed(page, lambda: page.navigate(url),
                                           "echo 1,000 calls/month"))
            n = 2000 + i
            out["volume edit"].append(timed(
                page, lambda n=n: page.type_into("Calls per month", str(n)),
                f"echo {n:,} calls/month"))
    return out


def bench_app(tmp: Path, repeats: int) -> dict[str, list[float]]:
    """Each repeat opens support-line by its link with another system prompt size, so what
    reads the prompt is priced afresh (time-billed parts stay cached, as in use)."""
    from urllib.parse import urlencode

    from costmodel.dashboard.model import to_query
    from costmodel.estimation import load_scenario

    base = load_scenario(ROOT / "examples" / "support-line.yaml")
    n_stacks = len(base.stacks)
    out: dict[str, list[float]] = {k: [] for k in (
        "first load", "volume edit", "add a stack", "Sensitivity (first)",
        "Sensitivity (after a volume edit)")}
    monthly = "Monthly = calls × mean"
    with streamlit(ROOT / "app.py", tmp / "app.log") as url, \
            chromium(tmp / "chrome-app") as page:
        page.navigate(url)   # start the server's imports and catalog once
        page.settled(monthly, charts=1)
        for i in range(repeats):
            prompt = base.prompt.model_copy(update={"system_tokens": 3001 + i})
            sc = base.model_copy(update={"prompt": prompt})
            link = url + "?" + urlencode(to_query(sc))
            out["first load"].append(timed(page, lambda link=link: page.navigate(link),
                                           f"across {n_stacks} stacks", charts=1))
            n = 61_000 + 1000 * i
            out["volume edit"].append(timed(
                page, lambda n=n: page.type_into("Calls per month", str(n)),
                f"{n:,} calls/month"))
            out["add a stack"].append(timed(page, lambda: page.click_label(
                "Add stack", "button"), f"across {n_stacks + 1} stacks", charts=1))
            out["Sensitivity (first)"].append(timed(
                page, lambda: page.click_label("Sensitivity"),
                "Each point re-runs the estimate", charts=2))
            page.click_label("Monthly cost")
            page.settled(monthly, charts=1)
            page.type_into("Calls per month", str(n + 500))
            page.settled(f"{n + 500:,} calls/month")
            out["Sensitivity (after a volume edit)"].append(timed(
                page, lambda: page.click_label("Sensitivity"),
                "Each point re-runs the estimate", charts=2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if not CHROMIUM.exists():
        sys.exit("needs Debian's chromium at /usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp:
        floor = bench_floor(Path(tmp), args.repeats)
        app = bench_app(Path(tmp), args.repeats)
    goals = {"first load": 4.0, "volume edit": 0.5, "add a stack": 1.0,
             "Sensitivity (first)": 1.0, "Sensitivity (after a volume edit)": 1.0}
    print(f"{'action':36} {'median':>8} {'max':>8} {'floor':>8} {'goal':>6}")
    for what, times in app.items():
        fl = floor.get(what) or floor["volume edit"]
        print(f"{what:36} {statistics.median(times):8.2f} {max(times):8.2f} "
              f"{statistics.median(fl):8.2f} {goals[what]:6.1f}")


if __name__ == "__main__":
    main()
