"""The Reconcile view (issue 14 item 5): what was recorded, billed and estimated, by day.

The recorded spend comes from uploaded spend logs (the relay's or a hook's JSON lines) or one
SQLite ledger; provider exports (OpenAI usage or costs JSON, a Twilio usage-records CSV, a
``date,model,usd`` CSV) are optional; the estimate is the scenario in the editor's, for the
calls recorded. `costmodel.reconcile` does all of it, as ``costmodel reconcile`` does:
`reconcile_uploads` only puts the uploads where it can read them (a temporary directory,
under the names they were uploaded with, so errors name them as the user knows them) and
removes them; the view draws a chart per model and the day x model table, rows over the
threshold flagged.

>>> from pathlib import Path
>>> bill = Path("examples/exports/xai-billing.csv")
>>> r = reconcile_uploads([], [(bill.name, bill.read_bytes())], None)
>>> [(str(row.day), row.model, row.billed_usd) for row in r.rows][:1]
[('2026-11-24', 'xai/grok-voice-agent', Decimal('1.26'))]
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from .._files import MB
from ..core.catalog import Catalog
from ..errors import CostModelError, InputError
from ..estimation import Scenario
from ..ledger import open_ledger
from ..money import format_usd_short
from ..reconcile import (
    Plan,
    Reconciliation,
    Recorded,
    Row,
    default_window,
    read_export,
    reconcile,
    recorded_from_ledger,
    recorded_from_spend_logs,
)
from . import charts

LEDGER_SUFFIXES = (".db", ".sqlite", ".sqlite3")
RECORDED_TYPES = ["jsonl", "json", "ndjson", "log", "db", "sqlite", "sqlite3"]
EXPORT_TYPES = ["json", "jsonl", "csv"]
MAX_BYTES = 200 * MB   # Streamlit's own limit per file; more is for `costmodel reconcile`
SERIES = {"recorded": "Recorded (ledger or spend log)", "billed": "Billed (provider export)",
          "estimated": "Estimate (this scenario)"}
SERIES_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f")

Files = Sequence[tuple[str, bytes]]


def _safe(name: str, i: int) -> str:
    return f"{i + 1}-" + (re.sub(r"[^\w.\-]+", "_", Path(name).name).strip("._") or "file")


def reconcile_uploads(recorded: Files, exports: Files, scenario: Scenario | None, *,
                      catalog: Catalog | None = None, threshold_pct: Decimal = Decimal(5),
                      min_usd: Decimal = Decimal("0.01")) -> Reconciliation:
    """Reconcile uploaded (name, bytes) files: spend logs or one ledger (`LEDGER_SUFFIXES`)
    as recorded, provider exports as billed, `scenario` as the plan. The days are those the
    exports cover (every day without exports). Rows differing by more than `threshold_pct`
    of the recorded spend (and at least `min_usd`) are flagged. Errors are `CostModelError`\\ s
    naming the files as uploaded."""
    total = sum(len(data) for _, data in [*recorded, *exports])
    if total > MAX_BYTES:
        raise InputError(f"the files hold {total / MB:,.1f} MB together, more than the "
                         f"dashboard reconciles at once ({MAX_BYTES // MB} MB); use "
                         "`costmodel reconcile` on the command line")
    ledgers = [f for f in recorded if f[0].lower().endswith(LEDGER_SUFFIXES)]
    if len(ledgers) > 1 or (ledgers and len(recorded) > 1):
        raise InputError("give spend logs or one ledger as the recorded spend, not both: "
                         + ", ".join(name for name, _ in recorded))
    if not recorded and not exports:
        raise InputError("upload a spend log or a ledger, and provider exports to compare")
    with tempfile.TemporaryDirectory(prefix="costmodel-reconcile-") as tmp:
        shown: dict[str, str] = {}

        def put(files: Files, sub: str) -> list[Path]:
            (Path(tmp) / sub).mkdir()
            paths = []
            for i, (name, data) in enumerate(files):
                path = Path(tmp) / sub / _safe(name, i)
                path.write_bytes(data)
                shown[str(path)] = name
                paths.append(path)
            return paths

        def plain(text: str) -> str:   # the files as the user knows them
            for path, name in sorted(shown.items(), key=lambda x: -len(x[0])):
                text = text.replace(path, name)
            return text.replace(tmp, "the upload")

        logs, bills = put(recorded, "recorded"), put(exports, "exports")
        try:
            result = _reconcile(logs, bills, scenario, catalog, threshold_pct, min_usd, plain)
        except CostModelError as exc:
            exc.args = (plain(str(exc)),)
            raise
    result.rows = [replace(r, notes=tuple(plain(n) for n in r.notes)) for r in result.rows]
    result.notes = [plain(n) for n in result.notes]
    result.sources = [plain(s) for s in result.sources if not s.startswith("plan ")]
    if scenario is not None:
        result.sources.append(f"estimate: the scenario in the editor ({scenario.name})")
    return result


def _reconcile(logs: list[Path], bills: list[Path], scenario: Scenario | None,
               catalog: Catalog | None, threshold: Decimal, min_usd: Decimal,
               plain: Any) -> Reconciliation:
    read = [read_export(p, catalog) for p in bills]
    window = default_window(read)
    plan = None if scenario is None else Plan(scenario, catalog)
    recorded: Recorded | None = None
    if len(logs) == 1 and logs[0].name.lower().endswith(LEDGER_SUFFIXES):
        with open_ledger(logs[0]) as store:
            recorded = recorded_from_ledger(store, window=window, catalog=catalog,
                                            calls=plan is not None, name=plain(str(logs[0])))
    elif logs:
        recorded = recorded_from_spend_logs(logs, window=window, catalog=catalog)
    # no exit code here, so one limit: rows over it are flagged
    return reconcile(recorded, read, plan, window=window, tolerance_pct=threshold,
                     threshold_pct=threshold, min_usd=min_usd)


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


def table_rows(result: Reconciliation) -> list[dict[str, Any]]:
    """One row per UTC day and model, with human headers (money as float for display only:
    the library's figures are exact)."""
    return [{
        "Day": r.day.isoformat(), "Model": r.model, "Calls": r.calls,
        "Recorded": _f(r.recorded_usd), "Billed": _f(r.billed_usd),
        "Billed from": {"billed": "the bill", "priced": "usage, priced"}.get(r.billed_basis, ""),
        "Billed − recorded": _f(r.vs_billed.usd) if r.vs_billed else None,
        "Billed − recorded (%)": _f(r.vs_billed.pct) if r.vs_billed else None,
        "Estimate": _f(r.estimated_usd),
        "Estimate 95% range": "" if r.band is None else
        f"{format_usd_short(float(r.band[0]))} – {format_usd_short(float(r.band[1]))}",
        "Estimate − recorded": _f(r.vs_estimate.usd) if r.vs_estimate else None,
        "Estimate − recorded (%)": _f(r.vs_estimate.pct) if r.vs_estimate else None,
        "Over the threshold": " and ".join(r.flagged),
        "Notes": "; ".join(r.notes)} for r in result.rows]


def day_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """One model's days, long: a bar per day and series (unknown figures left out)."""
    out = []
    for r in rows:
        for key, label in SERIES.items():
            usd = getattr(r, f"{key}_usd")
            if usd is None:
                continue
            band = r.band if key == "estimated" and r.band is not None else (usd, usd)
            out.append({"day": r.day.isoformat(), "series": label, "usd": float(usd),
                        "low": float(band[0]), "high": float(band[1]),
                        "flag": "⚠" if r.flagged else ""})
    return pd.DataFrame(out, columns=["day", "series", "usd", "low", "high", "flag"])


def day_bars(df: pd.DataFrame) -> alt.TopLevelMixin:
    """Recorded, billed and estimated spend per day side by side; the estimate's whisker is
    its 95% range for the calls recorded; ⚠ above a day over the threshold."""
    colour = alt.Color("series:N", title=None, legend=charts.LEGEND,
                       scale=alt.Scale(domain=list(SERIES.values()),
                                       range=list(SERIES_COLOURS)))
    x = alt.X("day:O", title="UTC day", axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("series:N", sort=list(SERIES.values()))
    base = alt.Chart(df)
    bars = base.mark_bar().encode(
        x=x, xOffset=offset, y=alt.Y("usd:Q", title="USD", axis=alt.Axis(format="$,.2f")),
        color=colour, tooltip=["day", "series", alt.Tooltip("usd:Q", format="$,.4f")])
    est = base.transform_filter(alt.datum.series == SERIES["estimated"]).mark_rule(
        color="#333").encode(x=x, xOffset=offset, y="low:Q", y2="high:Q")
    flags = base.transform_filter(alt.datum.flag != "").transform_aggregate(
        top="max(usd)", groupby=["day", "flag"]).mark_text(dy=-10, fontSize=16).encode(
        x=x, y="top:Q", text="flag:N")
    return alt.layer(bars, est, flags)


# ---- Streamlit ----------------------------------------------------------------------------


def kept(key: str, default: Any) -> None:
    """Seed widget `key` from its kept value: a widget that is not drawn (another view is
    shown) loses its state, so its value is also kept under a key of its own."""
    S = st.session_state
    if key not in S:
        S[key] = S.get(f"{key}_kept", default)


def uploads(rec: Any, exp: Any) -> tuple[tuple, Files, Files] | None:
    """The files to reconcile: those in the uploaders, else those uploaded earlier (the
    uploaders are empty again after another view was shown), as (id, recorded, exports)."""
    S = st.session_state
    if rec or exp:
        ident = (tuple((f.file_id, f.size) for f in [*(rec or ()), *(exp or ())]),
                 len(rec or ()))
        if S.get("rec_files", (None,))[0] != ident:
            S.rec_files = (ident, [(f.name, f.getvalue()) for f in rec or ()],
                           [(f.name, f.getvalue()) for f in exp or ()])
    return S.get("rec_files")


def forget() -> None:
    for key in ("rec_files", "rec_good", "rec_failed"):
        st.session_state.pop(key, None)


def view_reconcile(sc: Scenario, catalog: Catalog) -> None:
    S = st.session_state
    a, b = st.columns(2)
    rec = a.file_uploader("Recorded: spend logs (JSONL) or a SQLite ledger", key="rec_recorded",
                          type=RECORDED_TYPES, accept_multiple_files=True,
                          help="The relay's or a hook's spend log (one line per session), or "
                          "the guard's ledger file.")
    exp = b.file_uploader("Billed: provider exports (optional)", key="rec_exports",
                          type=EXPORT_TYPES, accept_multiple_files=True,
                          help="OpenAI usage or costs JSON (organization Usage / Costs API), "
                          "a Twilio usage-records CSV, or any bill as date,model,usd.")
    slot = st.empty()
    kept("rec_threshold", 5.0)
    threshold = st.number_input("Flag days that differ by more than (% of recorded)",
                                min_value=0.0, max_value=1000.0, step=1.0, key="rec_threshold")
    S.rec_threshold_kept = threshold
    files = uploads(rec, exp)
    if files is None:
        st.caption("Upload a spend log or a ledger (and, to compare, what providers billed): "
                   "each UTC day and model is lined up as recorded, billed and estimated by "
                   "this scenario for the calls recorded. Samples: examples/exports.")
        return
    ident, recorded, exports = files
    if not rec and not exp:
        c1, c2 = st.columns([4, 1])
        c1.caption("Reconciling the files uploaded earlier: "
                   + ", ".join(name for name, _ in [*recorded, *exports]) + ".")
        c2.button("Forget them", on_click=forget, key="rec_forget")
    key = (ident, sc.model_dump_json(), str(sc.resolve_path(".")), threshold)
    good = S.get("rec_good")
    if good is None or good[0] != key:
        failed = S.get("rec_failed")
        if failed is not None and failed[0] == key:
            slot.error(failed[1])
        else:
            try:
                with st.spinner("Reconciling..."):
                    result = reconcile_uploads(recorded, exports, sc, catalog=catalog,
                                               threshold_pct=Decimal(repr(threshold)))
                S.rec_good = good = (key, result)
            except CostModelError as exc:
                S.rec_failed = (key, f"These files cannot be reconciled: {exc}")
                slot.error(S.rec_failed[1])
        if good is None:
            return
        if good[0] != key:
            st.warning("**Stale**: the last files that could be reconciled.", icon="⏸")
    draw(good[1])


def draw(result: Reconciliation) -> None:
    t = result.totals
    m = st.columns(4)
    m[0].metric("Recorded", "—" if t.recorded_usd is None else format_usd_short(
        float(t.recorded_usd)))
    m[1].metric("Billed", "—" if t.billed_usd is None else format_usd_short(
        float(t.billed_usd)), None if t.vs_billed is None or t.vs_billed.pct is None
        else f"{float(t.vs_billed.pct):+.1f}% of recorded", delta_color="off")
    m[2].metric("Estimated", "—" if t.estimated_usd is None else format_usd_short(
        float(t.estimated_usd)), None if t.vs_estimate is None or t.vs_estimate.pct is None
        else f"{float(t.vs_estimate.pct):+.1f}% of recorded", delta_color="off")
    flagged = [r for r in result.rows if r.flagged]
    m[3].metric(f"Over {float(result.threshold_pct):g}%",
                f"{len(flagged)} of {len(result.rows)} rows")
    by_model = result.by_model()
    if by_model:
        models = sorted(by_model, key=lambda k: -(by_model[k][1].recorded_usd
                                                  or by_model[k][1].billed_usd or 0))
        model = models[0]
        if len(models) > 1:
            if st.session_state.get("rec_model") not in models:   # other files' model
                st.session_state.pop("rec_model", None)
            if st.session_state.get("rec_model_kept") in models:
                kept("rec_model", models[0])
            model = st.selectbox("Model", models, key="rec_model")
            st.session_state.rec_model_kept = model
        charts_spec = charts.to_spec(day_bars(day_frame(by_model[model][0])), 300)
        st.vega_lite_chart(charts_spec, width="stretch")
    money = st.column_config.NumberColumn(format="dollar")
    diff = st.column_config.NumberColumn(format="%+.2f")
    pct = st.column_config.NumberColumn(format="%+.1f%%")
    st.dataframe(pd.DataFrame(table_rows(result)), hide_index=True, key="rec_table",
                 column_config={"Recorded": money, "Billed": money, "Estimate": money,
                                "Billed − recorded": diff, "Estimate − recorded": diff,
                                "Billed − recorded (%)": pct, "Estimate − recorded (%)": pct})
    st.caption(
        f"{result.window.describe()}. Differences are of the recorded spend; under "
        f"${result.min_usd} they are never over the threshold (rounding on a bill). Billed "
        "from usage: the provider's usage export priced with the catalog. The estimate is "
        "the scenario's mean cost per call × the calls recorded that day; it is over the "
        "threshold only when the recorded spend is also outside its 95% range. A day no "
        "export covers is not compared (unknown, not $0).")
    if result.notes or result.sources:
        with st.expander("Sources and notes"):
            st.markdown("\n".join(f"- {s}" for s in [*result.sources, *result.notes]))
