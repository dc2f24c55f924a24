"""costmodel dashboard: explore a scenario and compare voice stacks.  `streamlit run app.py`

Every figure comes from the library (`estimate`, `curve`, `sweep`, `break_even`, the catalog);
this file only gathers inputs, caches results by the scenario's JSON dump and draws charts.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from datetime import date
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import yaml
from pydantic import ValidationError

from costmodel import KINDS, Catalog, CostModelError, ModelEntry, PricePeriod, default_catalog
from costmodel.estimation import (
    HOURS_PER_MONTH,
    Scenario,
    StackEstimate,
    break_even,
    curve,
    estimate,
    load_scenario,
    stack_id,
    sweep,
    truncation_onset,
)

EXAMPLES = Path(__file__).resolve().parent / "examples"
UPLOADS = Path(tempfile.gettempdir()) / "costmodel-dashboard"
VIEWS = ["Monthly cost", "Cost per minute vs call length", "Per-call distribution",
         "Line items", "Sensitivity", "Self-hosting break-even", "Catalog"]
TURN_KEYS = ("seconds_per_turn", "user_speech_s", "agent_speech_s", "agent_text_tokens_per_s")
TURN_LABELS = (("Seconds per exchange", 1.0), ("User speech (s)", 0.5), ("Agent speech (s)", 0.5),
               ("Agent text tokens / s", 0.1))
KEEP = ("fixed_min", "ln_mean", "ln_p95", *TURN_KEYS, "sim_calls", "seed", "b_mode", "b_stt",
        "b_llm", "b_tts", "b_realtime", "b_tel")
LEGEND = alt.Legend(orient="bottom", columns=1, labelLimit=600, title=None)

st.set_page_config(page_title="costmodel dashboard", layout="wide")


# ---- library calls, cached by the scenario's JSON dump ---------------------------------------

@st.cache_resource
def catalog() -> Catalog:
    return default_catalog()


def from_json(text: str, base_dir: str) -> Scenario:
    sc = Scenario.model_validate_json(text)
    sc._base_dir = base_dir
    return sc


@st.cache_data(show_spinner=False, max_entries=512)
def stack_result(sc_json: str, base_dir: str, stack: str, day: date) -> StackEstimate | str:
    """One stack's estimate with its per-call samples, or the error message."""
    try:
        return estimate(from_json(sc_json, base_dir), catalog(), stacks=[stack], on=day,
                        keep_samples=True).results[0]
    except CostModelError as exc:
        return str(exc)


@st.cache_data(show_spinner=False, max_entries=256)
def curve_frame(sc_json: str, base_dir: str, stack: str, max_minutes: float,
                day: date) -> tuple[pd.DataFrame, float | None]:
    sc = from_json(sc_json, base_dir)
    points = curve(stack, sc, catalog(), max_minutes=max_minutes,
                   step_minutes=max_minutes / 240, on=day)
    df = pd.DataFrame([p.__dict__ for p in points]).assign(stack=stack)
    return df, truncation_onset(stack, sc, catalog(), max_minutes=max_minutes, on=day)


@st.cache_data(show_spinner="Re-running the estimate over a grid...", max_entries=64)
def sweep_frame(sc_json: str, base_dir: str, stacks: tuple[str, ...], prompts: tuple[int, ...],
                calls: int, day: date) -> pd.DataFrame:
    points = sweep(from_json(sc_json, base_dir), catalog(), stacks=list(stacks), calls=calls,
                   hit_ratios=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), prompt_tokens=prompts,
                   on=day)
    return pd.DataFrame([p.__dict__ for p in points])


@st.cache_data(show_spinner=False)
def load_file(path: str, digest: str) -> Scenario | str:
    try:
        return load_scenario(path)
    except CostModelError as exc:
        return str(exc)


# ---- sidebar: where the scenario comes from, and its editor ---------------------------------

def save_upload(data: bytes, suffix: str) -> Path:
    UPLOADS.mkdir(parents=True, exist_ok=True)
    path = UPLOADS / (hashlib.sha256(data).hexdigest()[:16] + suffix)
    if not path.exists():
        path.write_bytes(data)
    return path


def source_scenario() -> tuple[str, Scenario | str]:
    """(identity, scenario or error) of the chosen example or uploaded YAML."""
    sb = st.sidebar
    src = sb.radio("Scenario", ["Example", "Upload YAML"], horizontal=True, key="src")
    if src == "Upload YAML":
        up = sb.file_uploader("Scenario YAML", type=["yaml", "yml"], key="upload")
        if up is not None:
            data = up.getvalue()
            path = save_upload(data, ".yaml")
            return f"upload:{path.name}", load_file(str(path), path.stem)
        sb.caption("No file yet: showing the support-line example.")
    names = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
    name = sb.selectbox("Example", names, index=names.index("support-line"), key="example",
                        disabled=src != "Example")
    path = EXAMPLES / f"{name}.yaml"
    return f"example:{name}", load_file(str(path), str(path.stat().st_mtime))


def load_state(sc: Scenario) -> None:
    """Put a freshly loaded scenario into the widgets."""
    s, d, t = st.session_state, sc.duration_min, sc.turns
    s.calls_per_month = round(sc.volume.monthly_calls)
    s.dist = "fixed" if d.fixed else "lognormal" if d.lognormal else "empirical"
    s.fixed_min = float(d.fixed or 6.0)
    s.ln_mean = float(d.lognormal.mean if d.lognormal else 6.0)
    s.ln_p95 = float(d.lognormal.p95 if d.lognormal else 18.0)
    s.emp_path = str(sc.resolve_path(d.empirical)) if d.empirical else ""
    s.emp_name = d.empirical or ""
    for k in TURN_KEYS:
        s[k] = float(getattr(t, k))
    try:
        s.system_tokens = sc.system_tokens() - sc.prompt.tool_tokens
    except CostModelError:
        s.system_tokens = 0
    s.tool_tokens, s.hit_ratio = sc.prompt.tool_tokens, float(sc.cache.hit_ratio)
    s.sim_calls, s.seed = sc.simulation.calls, sc.simulation.seed
    singles, pipelines = [], {}
    for x in sc.stacks:  # models that are a stack alone go to the picker, the rest to pipelines
        if isinstance(x, str) and x in catalog() and catalog().resolve(x) in single_options():
            singles.append(catalog().resolve(x))
        else:
            pipelines[stack_id(x)] = x if isinstance(x, str) else x.model_dump(exclude_none=True)
    s.singles, s.pipelines = list(dict.fromkeys(singles)), pipelines
    s.pipeline_sel = list(s.pipelines)


def single_options() -> list[str]:
    """Models that are a stack by themselves: realtime and self-hosted (not GPU rentals)."""
    return [e.id for e in catalog() if e.kind == "realtime" or e.selfhost is not None]


def add_pipeline() -> None:
    s = st.session_state
    if s.b_mode == "STT → LLM → TTS":
        stack = {"stt": s.b_stt, "llm": s.b_llm, "tts": s.b_tts}
    else:
        stack = {"realtime": s.b_realtime}
    if s.b_tel != "(none)":
        stack["telephony"] = s.b_tel
    sid = "+".join(stack.values())
    s.pipelines = {**s.pipelines, sid: stack}
    if sid not in s.pipeline_sel:
        s.pipeline_sel = [*s.pipeline_sel, sid]


def ids(kind: str) -> list[str]:
    return [e.id for e in catalog().select(kind=kind)]


def pipeline_builder() -> None:
    with st.sidebar.expander("Build a chained stack"):
        mode = st.radio("Kind", ["STT → LLM → TTS", "Realtime + phone line"], key="b_mode")
        if mode == "STT → LLM → TTS":
            st.selectbox("STT", ids("stt"), key="b_stt")
            st.selectbox("LLM", ids("llm"), key="b_llm")
            st.selectbox("TTS", ids("tts"), key="b_tts")
        else:
            st.selectbox("Realtime model", ids("realtime"), key="b_realtime")
        st.selectbox("Telephony", ["(none)", *ids("telephony")], key="b_tel")
        st.button("Add stack", on_click=add_pipeline, key="b_add")


def edited_scenario(base: Scenario) -> Scenario:
    """The scenario as edited in the sidebar (raises ValidationError on bad input)."""
    sb, s = st.sidebar, st.session_state
    sb.subheader("Calls")
    sb.number_input("Calls per month", min_value=1, step=1000, key="calls_per_month")
    dist = sb.radio("Call length (minutes)", ["fixed", "lognormal", "empirical"],
                    horizontal=True, key="dist")
    if dist == "fixed":
        sb.number_input("Minutes per call", min_value=0.05, step=0.5, key="fixed_min")
        duration: dict = {"fixed": s.fixed_min}
    elif dist == "lognormal":
        a, b = sb.columns(2)
        a.number_input("Mean", min_value=0.05, step=0.5, key="ln_mean")
        b.number_input("p95", min_value=0.1, step=0.5, key="ln_p95")
        duration = {"lognormal": {"mean": s.ln_mean, "p95": s.ln_p95}}
    else:
        up = sb.file_uploader("Call lengths CSV (minutes, one per line)", type=["csv", "txt"],
                              key="emp_upload")
        if up is not None:
            s.emp_path, s.emp_name = str(save_upload(up.getvalue(), ".csv")), up.name
        if not s.emp_path:
            raise ValueError("upload a CSV of call lengths for an empirical distribution")
        sb.caption(f"Using {s.emp_name}")
        duration = {"empirical": s.emp_path}
    with sb.expander("Turn timing"):
        for (label, step), key in zip(TURN_LABELS, TURN_KEYS, strict=True):
            st.number_input(label, min_value=0.0, step=step, key=key)
    sb.subheader("Prompt and cache")
    a, b = sb.columns(2)
    a.number_input("System prompt tokens", min_value=0, step=500, key="system_tokens")
    b.number_input("Tool tokens", min_value=0, step=250, key="tool_tokens")
    sb.slider("Cache hit ratio", 0.0, 1.0, step=0.05, key="hit_ratio")
    sb.subheader("Stacks")
    sb.multiselect("Realtime, flat-rate and self-hosted models", single_options(),
                   key="singles")
    sb.multiselect("Pipelines", list(s.pipelines), key="pipeline_sel")
    pipeline_builder()
    with sb.expander("Simulation"):
        st.number_input("Simulated calls", min_value=1, max_value=2_000_000, step=10_000,
                        key="sim_calls")
        st.number_input("Seed", min_value=0, step=1, key="seed")
    data = base.model_dump(mode="json", exclude_none=True)
    data.update(volume={"calls_per_month": s.calls_per_month}, duration_min=duration,
                prompt={**data.get("prompt", {}), "system_tokens": s.system_tokens,
                        "tool_tokens": s.tool_tokens},
                stacks=[*s.singles, *(s.pipelines[p] for p in s.pipeline_sel)],
                simulation={"calls": s.sim_calls, "seed": s.seed})
    data["prompt"].pop("system_file", None)
    data["turns"].update({k: s[k] for k in TURN_KEYS})
    data["cache"]["hit_ratio"] = s.hit_ratio
    if not data["stacks"]:
        raise ValueError("pick at least one stack")
    sc = Scenario.model_validate(data)
    sc._base_dir = base._base_dir
    return sc


def download_yaml(sc: Scenario) -> str:
    data = sc.model_dump(mode="json", exclude_none=True)
    if sc.duration_min.empirical:  # refer to the CSV by the name it was uploaded with
        data["duration_min"]["empirical"] = st.session_state.emp_name
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# ---- views -----------------------------------------------------------------------------------

def show(chart: alt.Chart, plot_height: int, legend_rows: int = 0) -> None:
    """Streamlit fits the whole chart, legend included, into its height: make room."""
    st.altair_chart(chart.properties(height=plot_height + 22 * legend_rows))


def results_frame(results: list[StackEstimate]) -> pd.DataFrame:
    rows = [{"stack": r.stack, "monthly_usd": r.monthly_usd,
             "monthly_p5_usd": r.monthly_band_usd[0], "monthly_p95_usd": r.monthly_band_usd[1],
             "per_minute_usd": r.per_minute_usd,
             **{f"per_call_{k}_usd": v for k, v in r.per_call_usd.items()},
             "mean_call_minutes": r.mean_minutes, "notes": "; ".join(r.notes)} for r in results]
    df = pd.DataFrame(rows).sort_values("monthly_usd", ignore_index=True)
    return df.assign(x_cheapest=df.monthly_usd / df.monthly_usd.min())


def view_monthly(df: pd.DataFrame) -> None:
    y = alt.Y("stack:N", sort=list(df["stack"]), title=None, axis=alt.Axis(labelLimit=420))
    title = "USD per month (bar: mean; whisker: P5–P95 of a month's total)"
    money = alt.Axis(format="$,.0f")
    bars = alt.Chart(df).mark_bar().encode(
        y=y, x=alt.X("monthly_usd:Q", title=title, axis=money),
        tooltip=["stack", *(alt.Tooltip(c, format="$,.0f") for c in
                            ("monthly_usd", "monthly_p5_usd", "monthly_p95_usd"))])
    whiskers = alt.Chart(df).mark_errorbar(ticks=True, color="black").encode(
        y=y, x=alt.X("monthly_p5_usd:Q", title=title, axis=money), x2="monthly_p95_usd:Q")
    show(bars + whiskers, 34 * len(df) + 50)
    usd = {c: st.column_config.NumberColumn(format="$%.4f") for c in df if c.startswith("per_")}
    usd |= {c: st.column_config.NumberColumn(format="$%.0f") for c in df if c.startswith("month")}
    st.dataframe(df, hide_index=True, key="results_table", column_config=usd | {
        "x_cheapest": st.column_config.NumberColumn(format="%.1fx")})
    st.caption("Monthly = calls × mean per-call cost; the P5–P95 band is the month-to-month "
               "spread from call-length randomness.")


def view_curves(sc_json: str, base_dir: str, stacks: list[str], day: date) -> None:
    c1, c2 = st.columns([1, 3])
    max_min = c1.slider("Longest call (minutes)", 5, 180, 60, step=5, key="curve_max")
    per = c2.radio("Show", ["per minute", "per call"], horizontal=True, key="curve_y")
    frames, onsets = [], []
    for s in stacks:
        df, onset = curve_frame(sc_json, base_dir, s, float(max_min), day)
        frames.append(df)
        if onset is not None:
            onsets.append({"stack": s, "truncation starts (min)": onset})
    field = "per_minute_usd" if per == "per minute" else "per_call_usd"
    color = alt.Color("stack:N", legend=LEGEND)
    chart = alt.Chart(pd.concat(frames, ignore_index=True)).mark_line().encode(
        x=alt.X("minutes:Q", title="call length (minutes)"),
        y=alt.Y(f"{field}:Q", title=f"USD {per}", axis=alt.Axis(format="$")), color=color,
        tooltip=["stack", "minutes", "responses", alt.Tooltip(field, format="$.4f")])
    if onsets:
        chart += alt.Chart(pd.DataFrame(onsets)).mark_rule(strokeDash=[5, 4]).encode(
            x="truncation starts (min):Q", color=color, tooltip=list(onsets[0]))
    show(chart, 380, len(stacks))
    st.caption("Re-billing models re-send the whole conversation with every response, so cost "
               "per minute climbs with call length. Dashed lines: where the context starts "
               "being truncated (or a pipeline's history slides); from there every response "
               "costs about the same, and cost per minute levels off towards a ceiling.")
    if onsets:
        st.dataframe(pd.DataFrame(onsets), hide_index=True)


def view_distribution(results: list[StackEstimate]) -> None:
    c1, c2 = st.columns([3, 1])
    name = c1.selectbox("Stack", [r.stack for r in results], key="dist_stack")
    r = next(r for r in results if r.stack == name)
    lo, hi = float(r.samples_usd.min()), float(r.samples_usd.max())
    log = c2.toggle("log scale", value=True, key="dist_log") and hi > lo > 0
    counts, edges = np.histogram(r.samples_usd, bins=np.geomspace(lo, hi, 61) if log else 60)
    hist = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "share": counts / counts.sum()})
    x = alt.X("from:Q", title="cost of one call (USD)", axis=alt.Axis(format="$"),
              scale=alt.Scale(type="log" if log else "linear", domain=[lo, hi], nice=False))
    bars = alt.Chart(hist).mark_bar().encode(
        x=x, x2="to:Q", y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of calls"),
        y2=alt.datum(0), tooltip=[alt.Tooltip("from", format="$.4f"),
                                  alt.Tooltip("to", format="$.4f"),
                                  alt.Tooltip("share", format=".2%")])
    marks = pd.DataFrame({"stat": list(r.per_call_usd), "usd": list(r.per_call_usd.values())})
    rules = alt.Chart(marks).mark_rule(color="firebrick").encode(
        x="usd:Q", tooltip=["stat", alt.Tooltip("usd", format="$.4f")])
    show(bars + rules, 400)
    st.caption(f"{r.calls_simulated:,} simulated calls. Red lines: mean, p50, p95, p99 "
               f"({', '.join(f'{k} ${v:,.4f}' for k, v in r.per_call_usd.items())}).")


def view_items(results: list[StackEstimate]) -> None:
    rows = []
    for r in results:
        for name, usd in r.line_items:
            model, _, bucket = name.partition(" ")
            rows.append({"stack": r.stack, "item": name, "usd": usd,
                         "what": f"{catalog().get(model).kind} · {bucket}"})
    df = pd.DataFrame(rows)
    kinds = df["what"].nunique()
    chart = alt.Chart(df).mark_bar().encode(
        y=alt.Y("stack:N", sort="x", title=None, axis=alt.Axis(labelLimit=420)),
        x=alt.X("sum(usd):Q", title="USD per month", axis=alt.Axis(format="$,.0f")),
        color=alt.Color("what:N", legend=alt.Legend(orient="bottom", columns=3, title=None)),
        tooltip=["stack", "item", alt.Tooltip("usd", format="$,.2f")])
    show(chart, 34 * len(results) + 50, -(-kinds // 3))
    st.caption("Each bar is one stack's monthly cost, split by billed item (the model's kind "
               "and the billed bucket; hover for the model).")
    st.dataframe(df.pivot_table(index="item", columns="stack", values="usd", fill_value=0))


def view_sensitivity(sc: Scenario, sc_json: str, base_dir: str, stacks: list[str],
                     day: date) -> None:
    current = sc.system_tokens()
    calls = min(20_000, sc.simulation.calls)
    df = sweep_frame(sc_json, base_dir, tuple(stacks),
                     tuple(sorted({0, 1000, 2000, 4000, 8000, 16000, current})), calls, day)
    st.caption(f"Each point re-runs the estimate ({calls:,} simulated calls, same seed) with "
               "one input changed; the dashed line is the scenario's value.")
    cols = st.columns(2)
    for col, param, now, title in (
            (cols[0], "cache.hit_ratio", sc.cache.hit_ratio, "cache hit ratio"),
            (cols[1], "prompt_tokens", current, "system prompt + tools (tokens)")):
        lines = alt.Chart(df[df.parameter == param]).mark_line(point=True).encode(
            x=alt.X("value:Q", title=title),
            y=alt.Y("monthly_usd:Q", title="USD per month", axis=alt.Axis(format="$,.0f")),
            color=alt.Color("stack:N", legend=LEGEND),
            tooltip=["stack", "value", alt.Tooltip("monthly_usd", format="$,.0f")])
        rule = alt.Chart(pd.DataFrame({"value": [now]})).mark_rule(strokeDash=[4, 4]).encode(
            x="value:Q")
        with col:
            show(lines + rule, 360, len(stacks))


def view_breakeven(results: list[StackEstimate], volume: float, day: date) -> None:
    hosts = [e.id for e in catalog() if e.selfhost is not None]
    apis = [r.stack for r in sorted(results, key=lambda r: r.monthly_usd)
            if not set(r.stack.split("+")) & set(hosts)]  # cheapest first
    if not apis:
        st.info("Pick at least one API stack to compare with self-hosting.")
        return
    mine = [r.stack for r in results if r.stack in hosts] + ["selfhost/moshi"]
    c1, c2, c3 = st.columns(3)
    host = c1.selectbox("Self-hosted model", hosts, key="be_host",
                        index=hosts.index(next((h for h in mine if h in hosts), hosts[0])))
    api = c2.selectbox("API stack", apis, key="be_api")
    hours = c3.number_input("GPU hours rented per month", 1.0, 744.0, float(HOURS_PER_MONTH),
                            key="be_hours")
    be = break_even(host, next(r for r in results if r.stack == api), catalog(),
                    hours_per_month=hours, on=day)
    m = st.columns(4)
    m[0].metric("Deployment, always on ($/month)", f"{be.deployment_usd_per_month:,.0f}")
    m[1].metric("Calls one deployment serves / month", f"{be.calls_per_deployment:,.0f}")
    m[2].metric("API cost per call ($)", f"{be.api_usd_per_call:,.4f}")
    m[3].metric("Break-even (calls/month)",
                "never" if be.calls_per_month is None else f"{be.calls_per_month:,.0f}")
    marks = [v for v in (volume, be.calls_per_month, be.calls_per_deployment) if v]
    df = pd.DataFrame(be.table(np.geomspace(min(marks) / 10, max(marks) * 4, 800)))
    long = df.melt("calls_per_month", ["selfhost_usd", "api_usd"], "option", "usd").replace(
        {"selfhost_usd": f"self-host {host} (always on)", "api_usd": api})
    chart = alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("calls_per_month:Q", title="calls per month (log)",
                scale=alt.Scale(type="log"), axis=alt.Axis(format="~s")),
        y=alt.Y("usd:Q", title="USD per month (log)", scale=alt.Scale(type="log"),
                axis=alt.Axis(format="$~s")),
        color=alt.Color("option:N", legend=LEGEND))
    now = alt.Chart(pd.DataFrame({"calls_per_month": [volume]})).mark_rule(
        strokeDash=[4, 4]).encode(x="calls_per_month:Q")
    show(chart + now, 380, 2)
    first = be.first_calls_per_month
    st.markdown(
        f"**How this is defined.** Self-hosting rents GPUs *always on*: a deployment of `{host}` "
        f"costs its GPUs × GPU $/h × {hours:,.0f} h a month, calls or not, and serves what its "
        "catalog concurrency × utilisation allows at this scenario's mean call length; more "
        "calls need another deployment (the steps). The API costs its mean per-call cost × "
        "calls. Break-even: the volume from which self-hosting is never dearer"
        + ("" if first is None else f" (first cheaper at {first:,.0f} calls/month)")
        + ". Concurrency and utilisation are catalog assumptions; staff, egress, telephony and "
        "a separate STT/TTS are not included. Dashed line: this scenario's volume.")


def view_catalog() -> None:
    c1, c2, c3 = st.columns([2, 1, 1])
    kinds = c1.multiselect("Kinds", list(KINDS), key="cat_kinds")
    max_age = c2.number_input("Stale after (days)", 1, 3650, 90, key="cat_age")
    only_stale = c3.toggle("Only stale", key="cat_stale")
    today = date.today()
    stale = dict(catalog().stale(int(max_age), today))
    rows = []
    for e in catalog():
        if kinds and e.kind not in kinds or only_stale and e.id not in stale:
            continue
        p = e.period_on(today) or (e.prices[-1] if e.prices else None)
        prov = p or e.selfhost
        rows.append({"stale": "⚠ stale" if e.id in stale else "", "id": e.id, "kind": e.kind,
                     "name": e.name, "rates": rate_summary(e, p),
                     "effective": p.effective if p else None, "checked": prov.checked,
                     "confidence": prov.confidence, "source": prov.source})
    st.caption(f"{len(rows)} entries; {len(stale)} checked more than {max_age} days ago. "
               "Token rates in USD per 1M tokens (input · cached · output).")
    st.dataframe(pd.DataFrame(rows), hide_index=True, height=520,
                 column_config={"source": st.column_config.LinkColumn("source")})


def rate_summary(e: ModelEntry, p: PricePeriod | None) -> str:
    """The entry's rates as text (display only)."""
    if e.selfhost is not None:
        sh = e.selfhost
        return (f"{sh.gpus} × {sh.runs_on} / {sh.concurrent_sessions} sessions "
                f"@ {float(sh.utilization):.0%}")
    parts = [f"{m} " + " · ".join(f"{float(r[s]):g}" if s in r else "-"
                                  for s in ("input", "cached", "output"))
             for m, r in p.tokens.items()]
    parts += [f"{n} ${float(tr.per_minute):g}/min" for n in ("connection", "audio")
              if (tr := getattr(p, n)) is not None]
    parts += [f"${float(p.characters.usd_per_mchar):g}/1M chars"] if p.characters else []
    parts += [f"${float(p.gpu.usd_per_hour):g}/GPU-h"] if p.gpu else []
    return "; ".join(parts)


# ---- the page --------------------------------------------------------------------------------

def main() -> None:
    st.title("costmodel: what a voice agent costs")
    ident, base = source_scenario()
    if isinstance(base, str):
        st.error(base)
        st.stop()
    if st.session_state.get("_loaded") != ident:
        load_state(base)
        st.session_state._loaded = ident
    for key in KEEP:  # keep values of widgets hidden in this run (Streamlit drops them)
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    try:
        sc = edited_scenario(base)
    except (ValidationError, ValueError) as exc:
        st.error(f"The scenario is not valid: {exc}")
        st.stop()
    day = date.today()
    sc_json, base_dir = sc.model_dump_json(exclude_none=True), sc._base_dir
    started = time.perf_counter()
    results, failed = [], []
    for s in dict.fromkeys(stack_id(x) for x in sc.stacks):
        r = stack_result(sc_json, base_dir, s, day)
        (failed if isinstance(r, str) else results).append(r)
    elapsed = time.perf_counter() - started
    for msg in failed:
        st.warning(msg)
    if not results:
        st.stop()
    df = results_frame(results)
    st.sidebar.subheader("Download")
    text = download_yaml(sc)
    st.sidebar.download_button("Scenario (YAML)", text, f"{sc.name}.yaml", "application/x-yaml",
                               key="dl_yaml")
    st.sidebar.expander("Edited scenario as YAML").code(text, language="yaml")
    st.sidebar.download_button("Results (CSV)", df.to_csv(index=False), f"{sc.name}.csv",
                               "text/csv", key="dl_csv")
    st.caption(f"**{sc.name}**: {sc.volume.monthly_calls:,.0f} calls/month, "
               f"{results[0].calls_simulated:,} simulated calls (seed {sc.simulation.seed}), "
               f"rates of {day.isoformat()}; estimated in {elapsed * 1000:.0f} ms. "
               + (sc.description or ""))
    view = st.radio("View", VIEWS, horizontal=True, key="view", label_visibility="collapsed")
    stacks = [r.stack for r in results]
    {VIEWS[0]: lambda: view_monthly(df),
     VIEWS[1]: lambda: view_curves(sc_json, base_dir, stacks, day),
     VIEWS[2]: lambda: view_distribution(results),
     VIEWS[3]: lambda: view_items(results),
     VIEWS[4]: lambda: view_sensitivity(sc, sc_json, base_dir, stacks, day),
     VIEWS[5]: lambda: view_breakeven(results, sc.volume.monthly_calls, day),
     VIEWS[6]: view_catalog}[view]()
    notes = sorted({n for r in results for n in r.notes})
    if notes and view != VIEWS[6]:
        with st.expander(f"Notes ({len(notes)}): facts these results depend on"):
            st.markdown("\n".join(f"- {n}" for n in notes))
    if sc.assumptions:
        with st.expander("Scenario assumptions"):
            st.write(sc.assumptions)


main()
