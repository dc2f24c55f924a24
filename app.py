"""costmodel dashboard: explore a scenario and compare voice stacks.  `streamlit run app.py`

Every figure comes from the library (`estimate`, `curve`, `sweep`, `break_even`, the catalog)
and every label from its view model (`costmodel.dashboard`); this file gathers inputs and
draws. Cost tables are cached per stack component and call shape (`TableCache`), so a new
volume re-prices nothing and one more stack prices only that stack.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from costmodel import Catalog, CostModelError, default_catalog
from costmodel.dashboard import fit_view
from costmodel.dashboard import inputs as inp
from costmodel.dashboard.model import from_query, short_label, to_query
from costmodel.estimation import Scenario, StackEstimate, TableCache, estimate, load_scenario
from costmodel.estimation.scenario import stack_id

EXAMPLES = Path(__file__).resolve().parent / "examples"
UPLOADS = Path(tempfile.gettempdir()) / "costmodel-dashboard"
VIEWS = ["Monthly cost", "Cost breakdown", "Cost per minute vs call length",
         "Per-call distribution", "Sensitivity", "Capacity", "Self-hosting break-even",
         "Catalog", "Reconcile"]
TURN_LABELS = ("Seconds per exchange", "User speech (s)", "Agent speech (s)",
               "Agent text tokens / s")

st.set_page_config(page_title="costmodel dashboard", layout="wide")


@st.cache_resource
def catalog() -> Catalog:
    return default_catalog()


@st.cache_resource
def tables() -> TableCache:
    """Cost tables shared by every session and rerun (keyed by component and call shape)."""
    return TableCache(max_components=2048)


def save_upload(data: bytes, suffix: str) -> Path:
    UPLOADS.mkdir(parents=True, exist_ok=True)
    path = UPLOADS / (hashlib.sha256(data).hexdigest()[:16] + suffix)
    if not path.exists():
        path.write_bytes(data)
    return path


def read_scenario(path: Path, shown: str) -> Scenario | str:
    try:
        return load_scenario(path)
    except CostModelError as exc:  # name the file as the user knows it
        return str(exc).replace(str(path), shown)


# ---- state: every input lives in session_state["v"], widgets are seeded from it -------------

S = st.session_state


def load(ident: str, sc: Scenario) -> None:
    """Put a freshly loaded scenario into the inputs (and drop the widgets' own state)."""
    S.v, S.loaded, S.base = inp.values_of(sc, catalog()), ident, sc
    for key in [k for k in S if str(k).startswith("w_")]:
        del S[key]


def field(widget: Any, label: str, key: str, slot: Any = None, **kw: Any) -> Any:
    """A widget bound to input `key`: seeded from the inputs, its value written back."""
    wkey = f"w_{key}"
    if wkey not in S:
        S[wkey] = S.v[key]
    value = widget(label, key=wkey, **kw)
    S.v[key] = value
    S.slots[key] = (slot or st.sidebar).empty()
    return value


def source() -> None:
    """The scenario's source: a link, an example or an uploaded YAML (errors stay beside it).
    Inputs are reloaded only when the user picks another example or a new file; a file that
    cannot be used leaves them as they were."""
    sb = st.sidebar
    if "v" not in S and (packed := st.query_params.get("s")):
        try:
            load("link", from_query(packed))
            S.example_seen = "support-line"
            if st.query_params.get("view") in VIEWS:
                S.view = st.query_params["view"]
        except CostModelError as exc:
            S.link_error = str(exc)
    src = sb.radio("Scenario", ["Example", "Upload YAML", fit_view.SOURCE], horizontal=True,
                   key="src")
    if S.get("link_error"):
        sb.warning(S.link_error)
    names = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
    if src == fit_view.SOURCE:
        fit_source()
        return
    if src == "Upload YAML":
        up = sb.file_uploader("Scenario YAML", type=["yaml", "yml"], key="upload")
        if up is None:
            sb.caption("No file yet: the inputs below are kept.")
        elif S.get("loaded") != f"upload:{(path := save_upload(up.getvalue(), '.yaml')).name}":
            sc = read_scenario(path, up.name)
            if isinstance(sc, str):
                sb.error(f"{up.name} cannot be used: {sc}. The inputs below are kept.")
            else:
                load(f"upload:{path.name}", sc)
        if "v" not in S:
            load_example("support-line")
        return
    name = sb.selectbox("Example", names, key="example",
                        index=names.index(S.get("example_seen", "support-line")))
    if ("v" not in S or S.get("example_seen") != name
            or S.loaded.startswith(("upload:", "fit:"))):
        load_example(name)


def fit_source() -> None:
    """Recorded sessions or spend logs, fitted; the fitted scenario replaces the inputs."""
    if "v" not in S:
        load_example("support-line")
    fit_view.fit_source(load, UPLOADS, catalog(), ids("realtime"))


def load_example(name: str) -> None:
    sc = read_scenario(EXAMPLES / f"{name}.yaml", f"{name}.yaml")
    assert not isinstance(sc, str), sc
    load(f"example:{name}", sc)
    S.example_seen = name


def sidebar_inputs() -> None:
    sb, v = st.sidebar, S.v
    sb.subheader("Calls")
    field(sb.number_input, "Calls per month", "calls_per_month", min_value=1, step=1000)
    dist = field(sb.radio, "Call length (minutes)", "dist", horizontal=True,
                 options=["fixed", "lognormal", "empirical"])
    if dist == "fixed":
        field(sb.number_input, "Minutes per call", "fixed_min", min_value=0.05, step=0.5)
    elif dist == "lognormal":
        a, b = sb.columns(2)
        field(a.number_input, "Mean", "ln_mean", a, min_value=0.05, step=0.5)
        field(b.number_input, "p95", "ln_p95", b, min_value=0.1, step=0.5)
    else:
        up = sb.file_uploader("Call lengths CSV (minutes, one per line)", type=["csv", "txt"],
                              key="w_emp_upload")
        if up is not None:
            v["emp_path"], v["emp_name"] = str(save_upload(up.getvalue(), ".csv")), up.name
        S.slots["emp_upload"] = sb.empty()
        if v["emp_name"]:
            sb.caption(f"Using {v['emp_name']}")
    with sb.expander("Turn timing"):
        for label, key in zip(TURN_LABELS, inp.TURN_KEYS, strict=True):
            field(st.number_input, label, key, st, min_value=0.0, step=0.5)
    sb.subheader("Prompt and cache")
    a, b = sb.columns(2)
    field(a.number_input, "System prompt tokens", "system_tokens", a, min_value=0, step=500)
    field(b.number_input, "Tool tokens", "tool_tokens", b, min_value=0, step=250)
    field(sb.slider, "Cache hit ratio", "hit_ratio", min_value=0.0, max_value=1.0, step=0.05)
    field(sb.radio, "Cache hits", "cache_hits", options=list(inp.CACHE_HITS), horizontal=True,
          help="share: every response has the hit ratio of its prefix cached, system text "
          "first; per-response: that share of the responses hit their whole prefix, the rest "
          "miss (what recorded sessions show).")
    field(sb.slider, "Truncation retention_ratio", "retention_ratio", min_value=0.05,
          max_value=1.0, step=0.05, help="Share of the context a re-billing realtime model "
          "keeps when it truncates (OpenAI's retention_ratio; 1.0 truncates every turn).")
    sb.subheader("Stacks")
    field(sb.multiselect, "Realtime, flat-rate and self-hosted models", "singles",
          options=inp.single_options(catalog()))
    field(sb.multiselect, "Pipelines", "pipeline_sel", options=list(v["pipelines"]))
    pipeline_builder()
    field(sb.selectbox, "Telephony on every stack", "telephony_all",
          options=[inp.NO_TELEPHONY, *ids("telephony")],
          help="Adds this phone line to every stack that has none.")
    field(sb.number_input, "Platform fee (USD per minute)", "platform_fee", min_value=0.0,
          max_value=100.0, step=0.01, format="%.3f",
          help="A voice platform's fee on every minute (Vapi, Retell ...).")
    with sb.expander("Simulation"):
        field(st.number_input, "Simulated calls", "sim_calls", st, min_value=1,
              max_value=2_000_000, step=10_000)
        field(st.number_input, "Seed", "seed", st, min_value=0, step=1)


def ids(kind: str) -> list[str]:
    return [e.id for e in catalog().select(kind=kind)]


def add_pipeline() -> None:
    if S.b_mode == "STT → LLM → TTS":
        stack = {"stt": S.b_stt, "llm": S.b_llm, "tts": S.b_tts}
    else:
        stack = {"realtime": S.b_realtime}
    if S.b_tel != inp.NO_TELEPHONY:
        stack["telephony"] = S.b_tel
    sid = "+".join(stack.values())
    S.v["pipelines"] = {**S.v["pipelines"], sid: stack}
    if sid not in S.v["pipeline_sel"]:
        S.v["pipeline_sel"] = [*S.v["pipeline_sel"], sid]
    S.pop("w_pipeline_sel", None)  # re-seeded from the inputs on this rerun


def pipeline_builder() -> None:
    for key in ("b_mode", "b_stt", "b_llm", "b_tts", "b_realtime", "b_tel"):
        if key in S:  # builder choices survive while the expander's widgets are hidden
            S[key] = S[key]
    with st.sidebar.expander("Build a chained stack"):
        mode = st.radio("Kind", ["STT → LLM → TTS", "Realtime + phone line"], key="b_mode")
        if mode == "STT → LLM → TTS":
            st.selectbox("STT", ids("stt"), key="b_stt")
            st.selectbox("LLM", ids("llm"), key="b_llm")
            st.selectbox("TTS", ids("tts"), key="b_tts")
        else:
            st.selectbox("Realtime model", ids("realtime"), key="b_realtime")
        st.selectbox("Telephony", [inp.NO_TELEPHONY, *ids("telephony")], key="b_tel")
        st.button("Add stack", on_click=add_pipeline, key="b_add")


# ---- results -----------------------------------------------------------------------------------

def results_of(sc: Scenario, day: date) -> tuple[list[StackEstimate], list[str]]:
    """Each stack's estimate (tables from the shared cache), and the stacks that failed."""
    results, failed = [], []
    for sid in dict.fromkeys(stack_id(x) for x in sc.stacks):
        try:
            results += estimate(sc, catalog(), stacks=[sid], on=day, keep_samples=True,
                                cache=tables()).results
        except CostModelError as exc:
            msg = str(exc).removeprefix(f"stack {sid!r}: ")
            failed.append(f"{short_label(sid)} cannot be estimated: "
                          + msg.replace(sc.resolve_path(".").as_posix() + "/", ""))
    return results, failed


def main() -> None:
    from costmodel.dashboard import pages

    st.title("costmodel: what a voice agent costs")
    S.slots = {}
    source()
    sidebar_inputs()
    sc, errors = inp.scenario_of(S.base, S.v, catalog())
    if errors and sc is None and "empirical" in errors.get("dist", ""):
        errors["emp_upload"] = errors.pop("dist")
    for key, msg in errors.items():
        (S.slots.get(key) or st.sidebar).error(msg)
    day = date.today()
    stale = sc is None
    if sc is not None:
        started = time.perf_counter()
        results, failed = results_of(sc, day)
        if results:
            S.good = (sc, results, failed, time.perf_counter() - started)
        else:
            stale = True
            errors["stacks"] = "; ".join(failed)
    if "good" not in S:
        st.error("Fix the inputs marked in the sidebar to see results.")
        return
    good_sc, results, failed, elapsed = S.good
    if stale:
        st.warning("**Stale results**: these are the last valid inputs' results. "
                   + "Fix: " + "; ".join(errors.values()), icon="⏸")
    for msg in failed:
        st.warning(msg)
    fit_view.fitted_panel()
    view = st.radio("View", VIEWS, horizontal=True, key="view", label_visibility="collapsed")
    if not stale:
        st.query_params.from_dict(to_query(good_sc, {"view": view}))
    pages.render(view, good_sc, results, day, elapsed, catalog(), tables(), stale)


main()
