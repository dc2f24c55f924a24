"""Fit from sessions (issue 14 item 5): recorded session files or spend logs uploaded in the
sidebar, fitted by `costmodel.fit.fit_sessions`, the fitted scenario loaded into the editor,
and a panel listing each fitted parameter with its spread and the sessions behind it, with
the fitted YAML to download.

Uploads arrive as bytes. `fit_uploads` writes them to a temporary directory under the names
they were uploaded with (so an error names a file as the user knows it), fits them in this
process (worker processes are never forked from a Streamlit server: it runs threads), removes
the directory, and writes the fitted scenario (and, for empirical call lengths, its CSV) to a
directory of its own, where the editor reads it back::

    fitted = fit_uploads([("call.jsonl", data)], uploads_dir, calls_per_month=60_000)
    load_scenario(fitted.scenario_path)      # what the editor loads

The upload is bounded (`MAX_FILES`, `MAX_BYTES`): more sessions are for ``costmodel fit``,
which reads them on every CPU.
"""

from __future__ import annotations

import hashlib
import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from .._files import MB
from ..core.catalog import Catalog
from ..errors import CostModelError, InputError
from ..estimation.scenario import Scenario, load_scenario
from ..fit import FitResult, fit_sessions

MAX_FILES = 2_000
MAX_BYTES = 64 * MB   # ~2,000 three-minute OpenAI Realtime sessions: a few seconds to fit
TYPES = ["jsonl", "json", "ndjson", "log"]
NAMED = "(named in the files)"
SOURCE = "Fit to sessions"   # the scenario source's option in the sidebar


@dataclass(frozen=True)
class Fitted:
    """A fit of uploaded files: the result, the scenario file written from it (and the
    call lengths' CSV beside it, when empirical) and their text (the downloads), and the
    names of the files fitted."""

    ident: str
    result: FitResult
    scenario_path: Path
    lengths_path: Path | None
    names: tuple[str, ...]
    yaml_text: str
    lengths_text: str | None


def upload_id(files: Sequence[tuple[str, str, int]], *options: object) -> str:
    """A short id of one upload: its files' (name, upload id, size) and the fit's options."""
    h = hashlib.sha256()
    for part in [*(x for f in files for x in f), *options]:
        h.update(str(part).encode() + b"\0")
    return h.hexdigest()[:16]


def check_upload(sizes: Sequence[tuple[str, int]]) -> None:
    """`InputError` when the upload is past the dashboard's bounds, before anything is read."""
    total = sum(size for _, size in sizes)
    if len(sizes) > MAX_FILES:
        raise InputError(f"{len(sizes):,} files are more than the dashboard fits at once "
                         f"({MAX_FILES:,}); fit them with `costmodel fit` on the command line")
    if total > MAX_BYTES:
        raise InputError(f"the files hold {total / MB:,.1f} MB together, more than the "
                         f"dashboard fits at once ({MAX_BYTES // MB} MB); fit them with "
                         "`costmodel fit` on the command line")


def _names(files: Sequence[tuple[str, bytes]]) -> list[str]:
    """Each upload's file name, made safe and unique (two uploads may share a name)."""
    out: list[str] = []
    for i, (name, _) in enumerate(files):
        safe = re.sub(r"[^\w.\-]+", "_", Path(name).name).strip("._") or f"file-{i + 1}"
        out.append(safe if safe not in out else f"{i + 1}-{safe}")
    return out


def fit_uploads(files: Sequence[tuple[str, bytes]], out: Path, *, catalog: Catalog | None = None,
                calls_per_month: float | None = None, model: str | None = None,
                ident: str | None = None) -> Fitted:
    """Fit uploaded (name, bytes) files and write the fitted scenario under `out`.

    Errors are `CostModelError`s that name the files as uploaded (no temporary path).

    >>> import tempfile
    >>> data = Path("examples/sessions/openai-realtime-support.jsonl").read_bytes()
    >>> with tempfile.TemporaryDirectory() as out:
    ...     f = fit_uploads([("support.jsonl", data)], Path(out), calls_per_month=9)
    ...     load_scenario(f.scenario_path).volume.monthly_calls, f.result.sessions
    (9.0, 1)
    """
    check_upload([(name, len(data)) for name, data in files])
    names = _names(files)
    ident = ident or upload_id([(n, hashlib.sha256(d).hexdigest(), len(d)) for n, d in files],
                               calls_per_month, model)
    with tempfile.TemporaryDirectory(prefix="costmodel-fit-upload-") as tmp:
        paths = [Path(tmp) / name for name in names]
        for path, (_, data) in zip(paths, files, strict=True):
            path.write_bytes(data)

        def shown(text: str) -> str:   # the files as the user knows them
            return text.replace(f"{tmp}/", "").replace(tmp, "the upload")

        try:
            result = fit_sessions(paths, catalog=catalog, name="fitted",
                                  calls_per_month=calls_per_month, model=model, workers=1)
        except CostModelError as exc:
            exc.args = (shown(str(exc)).replace(
                "pass it explicitly (--model", "pick it under 'Model of sessions that do not "
                "name it' ("),)
            raise
        result = replace(result, left_out=[shown(x) for x in result.left_out])
    dest = out / f"fit-{ident}"
    dest.mkdir(parents=True, exist_ok=True)
    written = result.write(dest / "fitted.yaml")
    lengths = written[1] if len(written) > 1 else None
    return Fitted(ident, result, written[0], lengths, tuple(name for name, _ in files),
                  written[0].read_text("utf-8"),
                  None if lengths is None else lengths.read_text("utf-8"))


def _number(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return ""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.4g}"


def parameter_rows(result: FitResult) -> list[dict[str, Any]]:
    """The fitted parameters as table rows: the call lengths and the volume first, then
    every `FittedValue` (spread: the sample standard deviation across sessions; sessions 0:
    not observable, the value is an assumption its source names)."""
    d = result.duration
    shape = (f"{d.mean_min:.2f} min" if d.chosen == "fixed" else
             f"mean {d.mean_min:.2f} min, p95 {d.p95_min:.2f} min")
    rows = [{"Parameter": "duration_min", "Value": f"{d.chosen}: {shape}", "Spread (sd)": "",
             "Sessions": d.sessions, "Source": d.why, "Note": ""},
            {"Parameter": "volume.calls_per_month", "Value": _number(result.calls_per_month),
             "Spread (sd)": "", "Sessions": result.sessions, "Source": result.volume_source,
             "Note": ""},
            {"Parameter": "cache.hits", "Value": result.cache_mode, "Spread (sd)": "",
             "Sessions": result.sessions, "Source": "what sessions show: each response hits "
             "its whole previous input or misses", "Note": ""}]
    for key, v in result.parameters.items():
        rows.append({"Parameter": key, "Value": _number(v.value),
                     "Spread (sd)": _number(v.spread), "Sessions": v.sessions,
                     "Source": v.source, "Note": v.note})
    return rows


# ---- Streamlit ----------------------------------------------------------------------------


def fit_source(load: Callable[[str, Scenario], None], uploads: Path, catalog: Catalog,
               models: Sequence[str]) -> None:
    """The sidebar's 'Fit to sessions' source: the uploader, the fit's options, and the fit
    loaded into the editor once per upload. Files that cannot be fitted leave the inputs as
    they were, with the reason beside the uploader."""
    S, sb = st.session_state, st.sidebar
    files = sb.file_uploader(
        "Recorded sessions or spend logs (JSONL)", type=TYPES, accept_multiple_files=True,
        key="fit_upload", help="Provider event files as `costmodel price-events` reads them "
        "(OpenAI Realtime, Gemini Live, Nova Sonic) and/or the relay's or a hook's spend log. "
        f"Up to {MAX_FILES:,} files and {MAX_BYTES // MB} MB; more with `costmodel fit`.")
    slot = sb.empty()
    own = sb.toggle("Calls per month from the sessions", key="fit_volume", help="Off: keep "
                    "the calls per month below. On: the spend logs' sessions per day × 30 "
                    "(or, without dates, the sessions themselves taken as a month's calls).")
    model = sb.selectbox("Model of sessions that do not name it", [NAMED, *models],
                         key="fit_model", help="Nova Sonic's events do not name their model.")
    if not files:
        slot.caption("No files yet: the inputs below are kept.")
        return
    # Not the calls per month: editing them after a fit must not fit (and reload) again.
    ident = upload_id([(f.name, f.file_id, f.size) for f in files], own, model)
    if S.get("loaded") == f"fit:{ident}":
        return
    if (failed := S.get("fit_failed")) and failed[0] == ident:
        slot.error(failed[1])
        return
    shown = ", ".join(f.name for f in files[:3]) + (f" and {len(files) - 3} more"
                                                    if len(files) > 3 else "")
    try:
        check_upload([(f.name, f.size) for f in files])
        with st.spinner(f"Fitting {len(files):,} file(s)..."):
            fitted = fit_uploads([(f.name, f.getvalue()) for f in files], uploads,
                                 catalog=catalog,
                                 calls_per_month=None if own else float(S.v["calls_per_month"]),
                                 model=None if model == NAMED else model, ident=ident)
            sc = load_scenario(fitted.scenario_path)
    except CostModelError as exc:
        S.fit_failed = (ident, f"{shown} cannot be fitted: {exc}. The inputs below are kept.")
        slot.error(S.fit_failed[1])
        return
    S.fitted = fitted
    load(f"fit:{ident}", sc)


def fitted_panel() -> None:
    """The fit behind the loaded scenario: its parameters, what it could not express, and
    the fitted YAML (nothing when the scenario in the editor was not fitted)."""
    S = st.session_state
    fitted: Fitted | None = S.get("fitted")
    if fitted is None or S.get("loaded") != f"fit:{fitted.ident}":
        return
    r = fitted.result
    what = "+".join(model for _, model in r.stack)
    with st.expander(f"Fitted to {r.sessions:,} sessions of {what}: the parameters in the "
                     "inputs, their spread and sources", expanded=True):
        st.dataframe(pd.DataFrame(parameter_rows(r)), hide_index=True, key="fit_table",
                     column_config={"Sessions": st.column_config.NumberColumn(format="%d")})
        st.caption("Spread: the standard deviation of the per-session values (how much "
                   "sessions differ). Sessions 0: not observable in these sessions, an "
                   "assumption its source names. Editing an input below changes the "
                   "scenario, not this table.")
        for text in r.problems:
            st.warning(f"Not expressible in the scenario: {text}")
        if r.other_stacks:
            st.info("Sessions of other stacks, not fitted (one stack per fit, the most "
                    "common): " + ", ".join(f"{k} ({n:,})" for k, n in r.other_stacks.items()))
        if r.left_out_count:
            st.warning(f"{r.left_out_count:,} session(s) left out: " + "; ".join(
                r.left_out[:5]) + (" ..." if r.left_out_count > 5 else ""))
        if r.observed_usd_per_call is not None:
            st.caption(f"The {r.priced_sessions:,} priced sessions cost "
                       f"${r.observed_usd_per_call:.4f} per call on average "
                       f"(rates of {r.day.isoformat()}).")
        a, b = st.columns(2)
        a.download_button("Fitted scenario (YAML)", fitted.yaml_text,
                          "fitted.yaml", "application/x-yaml", key="dl_fit_yaml",
                          on_click="ignore")
        if fitted.lengths_path is not None and fitted.lengths_text is not None:
            b.download_button("Its call lengths (CSV)", fitted.lengths_text,
                              fitted.lengths_path.name, "text/csv", key="dl_fit_csv",
                              on_click="ignore")
