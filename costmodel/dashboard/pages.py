"""The dashboard's views, drawn with Streamlit from the library's results and the view model.

`render` draws the headline, the chosen view, the downloads and the notes. Only `app.py`
imports this module (it needs a running Streamlit script).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import streamlit as st
import yaml

from ..core.catalog import Catalog
from ..estimation import (
    Scenario,
    StackEstimate,
    TableCache,
    break_even,
    curve,
    truncation_onset,
)
from ..estimation.breakdown import COMPONENTS
from ..estimation.lengths import percentiles
from ..estimation.monthly import sampled_lengths
from ..money import format_usd_short
from . import charts
from .capacity_view import view_capacity
from .catalog_view import view_catalog
from .model import (
    breakdown_rows,
    export_rows,
    headline,
    results_rows,
    short_label,
)
from .reconcile_view import view_reconcile
from .sweeps import view_sensitivity


def show(chart, height: int) -> None:
    """Draw an Altair chart (`charts.to_spec`: new data in the same chart is swapped in
    place, not redrawn from scratch)."""
    st.vega_lite_chart(charts.to_spec(chart, height), width="stretch")


def render(view: str, sc: Scenario, results: list[StackEstimate], day: date, elapsed: float,
           catalog: Catalog, cache: TableCache, stale: bool) -> None:
    calls = sc.volume.monthly_calls
    draw_headline(results, stale)
    st.caption(f"**{sc.name}**: {calls:,.0f} calls/month, {results[0].calls_simulated:,} "
               f"simulated calls (seed {sc.simulation.seed}), rates of {day.isoformat()}; "
               f"estimated in {elapsed * 1000:,.0f} ms. " + (sc.description or ""))
    downloads(sc, results, catalog)
    stacks = [r.stack for r in results]
    if view == "Monthly cost":
        view_monthly(results, catalog, calls)
    elif view == "Cost breakdown":
        view_breakdown(results, catalog, calls)
    elif view == "Cost per minute vs call length":
        view_curves(sc, stacks, day, catalog, cache)
    elif view == "Per-call distribution":
        view_distribution(results)
    elif view == "Sensitivity":
        view_sensitivity(sc, stacks, day, catalog, cache)
    elif view == "Capacity":
        view_capacity(sc, stacks, day, catalog, cache)
    elif view == "Self-hosting break-even":
        view_breakeven(sc, results, calls, day, catalog, cache)
    elif view == "Reconcile":
        view_reconcile(sc, catalog)
    else:
        view_catalog(catalog)
    notes = sorted({n for r in results for n in r.notes})
    if notes and view != "Catalog":
        with st.expander(f"Notes ({len(notes)}): facts these results depend on"):
            st.markdown("\n".join(f"- {n}" for n in notes))
    if sc.assumptions:
        with st.expander("Scenario assumptions"):
            st.write(sc.assumptions)


def draw_headline(results: list[StackEstimate], stale: bool) -> None:
    ranked = sorted(results, key=lambda r: r.monthly_usd)
    ids = [r.stack for r in ranked]
    if st.session_state.get("baseline") not in ids:
        st.session_state.baseline = ids[-1]
    h = headline(results, st.session_state.baseline)
    box = st.container(border=True)
    a, b, c, d = box.columns([3, 2, 2, 3])
    a.metric("Cheapest stack" + (" (stale)" if stale else ""), short_label(h.cheapest),
             help=h.cheapest)
    b.metric("Per month", format_usd_short(h.monthly_usd))
    c.metric("Per minute", format_usd_short(h.per_minute_usd))
    d.selectbox("Your current stack (baseline)", ids, key="baseline",
                format_func=short_label)
    box.markdown(f"**{h.text()}.** Spread: {h.spread}."
                 + "".join(f" `{x}`" for x in h.badges))


def downloads(sc: Scenario, results: list[StackEstimate], catalog: Catalog) -> None:
    sb = st.sidebar
    sb.subheader("Download and share")
    data = sc.model_dump(mode="json", exclude_none=True)
    if sc.duration_min.empirical:  # refer to the CSV by the name it was uploaded with
        data["duration_min"]["empirical"] = st.session_state.v.get("emp_name") or "lengths.csv"
    if data.get("platform", {}).get("usd_per_minute") in ("0", 0):
        data.pop("platform")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    sb.download_button("Scenario (YAML)", text, f"{sc.name}.yaml", "application/x-yaml",
                       key="dl_yaml", on_click="ignore")

    def csv() -> str:  # built when downloaded, not on every rerun
        rows = export_rows(sc, results, catalog, sc.volume.monthly_calls)
        return str(pd.DataFrame(rows).to_csv(index=False))
    sb.download_button("Results with inputs and line items (CSV)", csv, f"{sc.name}.csv",
                       "text/csv", key="dl_csv", on_click="ignore")
    sb.caption("The page's address holds the scenario: copy it to share this view.")
    sb.expander("Edited scenario as YAML").code(text, language="yaml")


MONEY = st.column_config.NumberColumn(format="dollar")


def view_monthly(results: list[StackEstimate], catalog: Catalog, calls: float) -> None:
    rows = results_rows(results, catalog, calls)
    df = pd.DataFrame({"stack": [r["Stack id"] for r in rows],
                       "monthly": [r["Monthly (USD)"] for r in rows],
                       "p5": [r["Month P5 (USD)"] for r in rows],
                       "p95": [r["Month P95 (USD)"] for r in rows],
                       "per_minute": [r["$/min"] for r in rows]})
    show(charts.monthly_bars(df), 34 * len(df) + 50)
    table = pd.DataFrame(rows)
    cols = ["Stack", "Monthly (USD)", "× cheapest", "$/min", "Mean per call", "p95 per call",
            "Caveats", "Month P5 (USD)", "Month P95 (USD)", "p50 per call", "p99 per call",
            "Mean call (min)", "Stack id"]
    per = st.column_config.NumberColumn(format="$%.4f")
    st.dataframe(table[cols], hide_index=True, key="results_table", column_config={
        "Monthly (USD)": MONEY, "Month P5 (USD)": MONEY, "Month P95 (USD)": MONEY,
        "× cheapest": st.column_config.NumberColumn(format="%.1f×"),
        "$/min": per, "Mean per call": per, "p50 per call": per, "p95 per call": per,
        "p99 per call": per, "Mean call (min)": st.column_config.NumberColumn(format="%.2f")})
    st.caption("Monthly = calls × mean per-call cost; the P5–P95 band is the month-to-month "
               "spread from call-length randomness. Caveats: see the notes below.")


def view_breakdown(results: list[StackEstimate], catalog: Catalog, calls: float) -> None:
    rows = breakdown_rows(results, catalog, calls)
    long = pd.DataFrame([{"stack": r["Stack id"], "component": c, "per_minute": r[c],
                          "rank": COMPONENTS.index(c)}
                         for r in rows for c in COMPONENTS if r[c]])
    show(charts.breakdown_bars(long), 34 * len(rows) + 90)
    st.caption("Cost per minute of call, split by what it pays for: speech-to-text, the LLM's "
               "input, cached input and output, text-to-speech, a realtime model's audio and "
               "text tokens or its per-minute rate, self-hosting, telephony and the platform "
               "fee.")
    df = pd.DataFrame(rows)
    used = [c for c in COMPONENTS if df[c].any()]
    per = st.column_config.NumberColumn(format="$%.4f")
    st.dataframe(df[["Stack", *used, "Total $/min"]], hide_index=True, key="breakdown_table",
                 column_config={c: per for c in [*used, "Total $/min"]})
    with st.expander("Line items (USD per month)"):
        items = pd.DataFrame([{"Stack": short_label(r.stack), "Line item": name, "USD": usd}
                              for r in results for name, usd in r.line_items])
        st.dataframe(items, hide_index=True, column_config={"USD": MONEY})


def p99_minutes(sc: Scenario, cache: TableCache) -> float:
    calls = sampled_lengths(sc, min(sc.simulation.calls, 100_000), sc.simulation.seed, cache)
    return percentiles(calls.seconds.astype(float), calls.counts, [99])[0] / 60


def view_curves(sc: Scenario, stacks: list[str], day: date, catalog: Catalog,
                cache: TableCache) -> None:
    p99 = p99_minutes(sc, cache)
    c1, c2, c3 = st.columns([2, 2, 1])
    default = int(min(180, max(5, np.ceil(p99 / 5) * 5)))
    max_min = c1.slider("Longest call (minutes)", 5, 180, default, step=5, key="curve_max",
                        help=f"Default: this scenario's p99 call length ({p99:,.1f} min).")
    per = c2.radio("Show", ["per minute", "per call"], horizontal=True, key="curve_y")
    log = c3.toggle("log scale", value=False, key="curve_log")
    frames: list[pd.DataFrame] = []
    onsets: list[dict[str, str | float]] = []
    for s in stacks:
        pts = curve(s, sc, catalog, max_minutes=float(max_min), step_minutes=max_min / 240,
                    on=day, cache=cache)
        frames.append(pd.DataFrame([p.__dict__ for p in pts]).assign(stack=s))
        onset = truncation_onset(s, sc, catalog, max_minutes=float(max_min), on=day)
        if onset is not None:
            onsets.append({"stack": s, "minutes": onset})
    field = "per_minute_usd" if per == "per minute" else "per_call_usd"
    show(charts.curve_lines(pd.concat(frames, ignore_index=True), field, stacks, log,
                            pd.DataFrame(onsets, columns=["stack", "minutes"]),
                            float(max_min)), 420)
    keep = sc.truncation.retention_ratio
    st.caption(
        "Re-billing models re-send the whole conversation with every response, so cost per "
        "minute climbs with call length; flat-rate stacks stay level (use the log scale to "
        "tell them apart). Dashed lines: where the context starts being truncated (or a "
        "pipeline's history slides). "
        + ("With retention_ratio 1.0 the model truncates on every turn from there and the "
           "cached prefix is lost each time, so cost can jump at the dashed line rather than "
           "level off; a lower retention_ratio keeps room between truncations."
           if keep >= 1 else f"With retention_ratio {keep:g} each truncation keeps "
           f"{keep:.0%} of the context; between truncations the cache is reused."))
    if onsets:
        st.dataframe(pd.DataFrame([{"Stack": short_label(str(o["stack"])),
                                    "Truncation starts (min)": round(float(o["minutes"]), 1)}
                                   for o in onsets]), hide_index=True)


def view_distribution(results: list[StackEstimate]) -> None:
    ids = [r.stack for r in results]
    c1, c2 = st.columns([4, 1])
    if "dist_stacks" not in st.session_state:
        st.session_state.dist_stacks = ids[:3]
    st.session_state.dist_stacks = [s for s in st.session_state.dist_stacks if s in ids]
    chosen = c1.multiselect("Stacks", ids, key="dist_stacks", format_func=short_label)
    log = c2.toggle("log scale", value=True, key="dist_log")
    picked = [r for r in results if r.stack in chosen] or results[:1]
    lo = min(float(r.samples_usd.min()) for r in picked if r.samples_usd is not None)
    hi = max(float(r.samples_usd.max()) for r in picked if r.samples_usd is not None)
    log = log and hi > lo > 0
    edges = np.geomspace(lo, hi, 61) if log else np.linspace(lo, hi if hi > lo else lo + 1, 61)
    frames = []
    for r in picked:
        assert r.samples_usd is not None  # estimated with keep_samples
        counts, _ = np.histogram(r.samples_usd, bins=edges)
        frames.append(pd.DataFrame({"from": edges[:-1], "to": edges[1:],
                                    "share": counts / counts.sum(), "stack": r.stack}))
    show(charts.histogram(pd.concat(frames, ignore_index=True), [r.stack for r in picked],
                          log, lo, hi), 400)
    st.caption(f"{picked[0].calls_simulated:,} simulated calls per stack, overlaid. " + " · ".join(
        f"{short_label(r.stack)}: mean {format_usd_short(r.per_call_usd['mean'])}, "
        f"p95 {format_usd_short(r.per_call_usd['p95'])}" for r in picked))


def view_breakeven(sc: Scenario, results: list[StackEstimate], volume: float, day: date,
                   catalog: Catalog, cache: TableCache) -> None:
    hosts = [e.id for e in catalog if e.selfhost is not None]
    apis = [r.stack for r in sorted(results, key=lambda r: r.monthly_usd)
            if not set(r.stack.split("+")) & set(hosts)]
    if not apis:
        st.info("Pick at least one API stack to compare with self-hosting.")
        return
    mine = [h for r in results for h in r.stack.split("+") if h in hosts] + ["selfhost/moshi"]
    c1, c2 = st.columns(2)
    host = c1.selectbox("Self-hosted model", hosts, key="be_host",
                        index=hosts.index(next(h for h in mine if h in hosts)))
    api = c2.selectbox("API stack", apis, key="be_api", format_func=short_label)
    sid = next((r.stack for r in results if r.stack == host), host)
    be = break_even(sc, sid, next(r for r in results if r.stack == api), catalog, on=day,
                    cache=cache)
    m = st.columns(4)
    m[0].metric("Self-hosting GPUs at this volume",
                format_usd_short(be.selfhost_fleet_usd) + "/month", help=be.basis)
    m[1].metric("One deployment, always on", format_usd_short(be.deployment_usd_per_month)
                + "/month")
    m[2].metric("API cost per call", format_usd_short(be.api_usd_per_call))
    m[3].metric("Break-even", "never" if be.calls_per_month is None
                else f"{be.calls_per_month:,.0f} calls/month")
    marks = [v for v in (volume, be.calls_per_month, be.first_calls_per_month) if v]
    df = pd.DataFrame(be.table(np.geomspace(min(marks) / 10, max(marks) * 4, 240).tolist()))
    tel = " + the same telephony" if be.telephony_usd_per_call else ""
    what = "always on" if sc.selfhost.utilisation is None else "autoscaled"
    long = df.melt("calls_per_month", ["selfhost_usd", "api_usd"], "option", "usd").replace(
        {"selfhost_usd": f"self-host {short_label(host)} ({what}){tel}",
         "api_usd": short_label(api)})
    show(charts.breakeven_lines(long, volume, be.calls_per_month), 380)
    first = be.first_calls_per_month
    st.markdown(
        f"**How this is defined.** Self-hosting has one price in every view, the Monthly cost "
        f"view's too: the GPU fleet this scenario's traffic needs, here {be.basis}. At "
        "another volume the fleet is sized again (always on: a deployment more each time the "
        "busy hour's P99 concurrency passes its sessions: the steps). "
        "Like for like, the self-hosted side pays the API stack's telephony too "
        f"({format_usd_short(be.telephony_usd_per_call)} per call). The API costs its mean "
        "per-call cost × calls. Break-even (red dashed line): the volume from which "
        "self-hosting is never dearer"
        + ("" if first is None else f" (first cheaper at {first:,.0f} calls/month)")
        + ". Set `selfhost: {utilisation: 0.6}` in the scenario to price an autoscaled fleet "
        "instead; staff, egress and a separate STT/TTS are not included. "
        "Grey dashed line: this scenario's volume.")
