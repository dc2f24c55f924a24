"""The Sensitivity view: monthly cost against the cache hit ratio and the prompt size, from
the shared cost tables (only the parts that read the changed input are re-priced)."""

from __future__ import annotations

from datetime import date

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from ..core.catalog import Catalog
from ..estimation import Scenario, TableCache, sweep
from . import charts

HIT_RATIOS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
PROMPTS = (0, 1000, 2000, 4000, 8000, 16000)


def sweep_frame(sc: Scenario, stacks: list[str], day: date, catalog: Catalog,
                cache: TableCache) -> pd.DataFrame:
    """The sweep's points; kept per scenario *without* its volume (a month is calls x the
    mean per call), so a new volume redraws the sweep without re-running it."""
    key = (sc.model_dump_json(exclude={"volume"}), sc._base_dir, tuple(stacks), day,
           id(catalog))
    memo = st.session_state.setdefault("_sweeps", {})
    df = memo.get(key)
    if df is None:
        calls = min(20_000, sc.simulation.calls)
        prompts = tuple(sorted({*PROMPTS, sc.system_tokens()}))
        points = sweep(sc, catalog, stacks=stacks, calls=calls, hit_ratios=HIT_RATIOS,
                       prompt_tokens=prompts, on=day, cache=cache)
        df = memo[key] = pd.DataFrame([p.__dict__ for p in points])
        while len(memo) > 8:
            memo.pop(next(iter(memo)))
    return df.assign(monthly_usd=df.per_call_mean_usd * sc.volume.monthly_calls)


def view_sensitivity(sc: Scenario, stacks: list[str], day: date, catalog: Catalog,
                     cache: TableCache) -> None:
    with st.spinner("Re-pricing the parts that read the cache and the prompt..."):
        df = sweep_frame(sc, stacks, day, catalog, cache)
    calls = min(20_000, sc.simulation.calls)
    st.caption(f"Each point re-runs the estimate ({calls:,} simulated calls, same seed) with "
               "one input changed; the dashed line is the scenario's value.")
    cols = st.columns(2)
    for col, param, now, title in (
            (cols[0], "cache.hit_ratio", sc.cache.hit_ratio, "cache hit ratio"),
            (cols[1], "prompt_tokens", sc.system_tokens(), "system prompt + tools (tokens)")):
        with col:
            spec = charts.sweep_lines(df[df.parameter == param], stacks, title, now)
            st.vega_lite_chart(charts.to_spec(spec, 380), width="stretch")
