"""The Capacity view: concurrency by hour of day, the binding provider limit per stack, and
the GPUs a self-hosted stack needs (`costmodel.estimation.capacity`)."""

from __future__ import annotations

from datetime import date

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from ..core.catalog import Catalog
from ..estimation import Scenario, TableCache
from ..estimation.capacity import capacity
from ..estimation.selfhost import basis
from ..money import format_usd_short
from .model import short_label


def view_capacity(sc: Scenario, stacks: list[str], day: date, catalog: Catalog,
                  cache: TableCache) -> None:
    rep = capacity(sc, catalog, stacks=stacks, on=day, cache=cache,
                   utilisation=sc.selfhost.utilisation)
    busy = rep.results[0].busy_hour
    st.markdown(f"**Busy hour {busy.hour:02d}:00**: {busy.calls:,.0f} calls, "
                f"{busy.mean_concurrent:,.1f} in progress on average, P99 "
                f"{busy.p99_concurrent:,} ({rep.profile} profile, peak factor "
                f"{rep.peak_factor:g}, {rep.calls_per_day:,.0f} calls on the busy day).")
    hours = pd.DataFrame({"hour": [f"{h:02d}:00" for h in range(24)],
                          "calls in progress (mean)": rep.concurrency_by_hour})
    st.bar_chart(hours, x="hour", y="calls in progress (mean)", height=260)
    rows = []
    for r in rep.results:
        bind = next((c for c in r.limits if c.name == r.binding_limit), None)
        f = r.fleet
        rows.append({
            "Stack": short_label(r.stack), "Requests/min (P99)": r.busy_hour.requests_per_min,
            "Input tokens/min (P99)": r.busy_hour.input_tokens_per_min,
            "Binding limit": r.binding_limit or "none known",
            "Headroom": None if bind is None or bind.headroom is None
            else f"{bind.headroom:+.0%}",
            "Unknown limits": sum(c.limit is None for c in r.limits),
            "GPUs": None if f is None else f.gpus,
            "Self-hosting": "" if f is None else basis(
                f, sc.selfhost.utilisation, f.always_on_usd_per_month
                if sc.selfhost.utilisation is None else f.autoscaled_usd_per_month,
                p99=r.busy_hour.p99_concurrent),
            "Stack id": r.stack})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="capacity_table", column_config={
        "Requests/min (P99)": st.column_config.NumberColumn(format="%,.0f"),
        "Input tokens/min (P99)": st.column_config.NumberColumn(format="%,.0f")})
    hosted = [r for r in rep.results if r.fleet is not None]
    for r in hosted:
        f = r.fleet
        assert f is not None
        st.caption(f"{short_label(r.stack)}: P(wait) {f.wait_probability:.2%} (Erlang C), "
                   f"P(refused) {f.block_probability:.2%} (Erlang B); always on "
                   f"{format_usd_short(f.always_on_usd_per_month)}/month, autoscaled at "
                   f"{f.utilisation:.0%} {format_usd_short(f.autoscaled_usd_per_month)}/month.")
    st.caption("Capacity: calls arrive as a Poisson process shaped by the hourly profile; the "
               "busy hour's P99 minute is compared with the catalog's limits (a limit it does "
               "not give is unknown, never unlimited). Self-hosting is sized from the P99, the "
               "same fleet the Monthly cost view prices.")
