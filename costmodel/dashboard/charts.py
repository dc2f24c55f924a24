"""The dashboard's charts as Altair specifications (pure: data in, chart out).

Every chart labels stacks by their short label (`model.short_label`) with the full id on
hover, colours each stack with its own colour (`model.colours`), and formats money with $
and thousands separators.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd  # type: ignore[import-untyped]

from .model import colours, short_label

LEGEND = alt.Legend(orient="bottom", columns=2, labelLimit=320, title=None)
# Components in a fixed order, each with its own colour.
COMPONENT_COLOURS = {"STT": "#4e79a7", "LLM input": "#f28e2b", "LLM cached": "#ffbe7d",
                     "LLM output": "#e15759", "TTS": "#59a14f", "realtime audio": "#b07aa1",
                     "realtime text": "#ff9da7", "realtime by the minute": "#9c755f",
                     "self-hosting": "#76b7b2", "telephony": "#edc948",
                     "platform fee": "#bab0ac"}


def to_spec(chart: alt.TopLevelMixin, height: int) -> dict[str, Any]:
    """`chart` as a Vega-Lite spec whose datasets have stable names ("d0", "d1", ...).

    Altair names each dataset by a hash of its content, so new numbers (another volume)
    would change the spec and make the browser rebuild the chart; with the same names the
    spec stays the same and Streamlit swaps only the data in the chart already drawn. Built
    without schema validation (the charts are fixed code, validated by the tests)."""
    spec = chart.properties(height=height).to_dict(validate=False)
    names = list(spec.get("datasets", {}))
    if not names:
        return spec
    text = json.dumps(spec)
    for i, name in enumerate(names):
        text = text.replace(json.dumps(name), json.dumps(f"d{i}"))
    return dict(json.loads(text))


def stack_colour(stacks: list[str], field: str = "label") -> alt.Color:
    """A colour channel keyed by the stacks' short labels, in the stacks' own colours."""
    cols = colours(stacks)
    labels = [short_label(s) for s in stacks]
    return alt.Color(f"{field}:N", legend=LEGEND, title=None,
                     scale=alt.Scale(domain=labels, range=[cols[s] for s in stacks]))


def labelled(df: pd.DataFrame, column: str = "stack") -> pd.DataFrame:
    return df.assign(label=df[column].map(short_label))


def monthly_bars(df: pd.DataFrame) -> alt.LayerChart:
    """Monthly cost per stack (bar: mean; whisker: P5-P95 of a month's total)."""
    df = labelled(df)
    stacks = list(df["stack"])
    y = alt.Y("label:N", sort=list(df["label"]), title=None, axis=alt.Axis(labelLimit=260))
    money = alt.Axis(format="$,.0f")
    title = "USD per month (bar: mean; whisker: P5–P95 of a month's total)"
    tips = [alt.Tooltip("stack:N", title="stack"),
            alt.Tooltip("monthly:Q", title="monthly", format="$,.0f"),
            alt.Tooltip("p5:Q", title="month P5", format="$,.0f"),
            alt.Tooltip("p95:Q", title="month P95", format="$,.0f"),
            alt.Tooltip("per_minute:Q", title="$/min", format="$,.4f")]
    bars = alt.Chart(df).mark_bar().encode(
        y=y, x=alt.X("monthly:Q", title=title, axis=money),
        color=stack_colour(stacks).legend(None), tooltip=tips)
    whiskers = alt.Chart(df).mark_errorbar(ticks=True, color="black").encode(
        y=y, x=alt.X("p5:Q", title=title, axis=money), x2="p95:Q")
    return bars + whiskers


def breakdown_bars(df: pd.DataFrame) -> alt.Chart:
    """$/min per stack stacked by component; `df`: stack, component, per_minute."""
    df = labelled(df)
    order = list(COMPONENT_COLOURS)
    present = [c for c in order if c in set(df["component"])]
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("label:N", sort="x", title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("sum(per_minute):Q", title="USD per minute of call",
                axis=alt.Axis(format="$,.3f")),
        color=alt.Color("component:N", title=None, sort=present,
                        scale=alt.Scale(domain=present,
                                        range=[COMPONENT_COLOURS[c] for c in present]),
                        legend=alt.Legend(orient="bottom", columns=4)),
        order=alt.Order("rank:Q"),
        tooltip=[alt.Tooltip("stack:N"), alt.Tooltip("component:N"),
                 alt.Tooltip("per_minute:Q", title="$/min", format="$,.4f")])


def curve_lines(df: pd.DataFrame, field: str, stacks: list[str], log: bool,
                onsets: pd.DataFrame, max_minutes: float) -> alt.LayerChart | alt.Chart:
    """Cost per call or per minute by call length, one line per stack."""
    df = labelled(df)
    per = "per minute" if field == "per_minute_usd" else "per call"
    y_scale = alt.Scale(type="log") if log else alt.Scale(zero=True)
    chart = alt.Chart(df).mark_line().encode(
        x=alt.X("minutes:Q", title="call length (minutes)",
                scale=alt.Scale(domain=[0, max_minutes], nice=False)),
        y=alt.Y(f"{field}:Q", title=f"USD {per}" + (" (log scale)" if log else ""),
                scale=y_scale, axis=alt.Axis(format="$,.2f" if not log else "$,.3~f")),
        color=stack_colour(stacks),
        tooltip=[alt.Tooltip("stack:N"), alt.Tooltip("minutes:Q", format=",.1f"),
                 alt.Tooltip("responses:Q"), alt.Tooltip(f"{field}:Q", format="$,.4f")])
    if len(onsets):
        onsets = labelled(onsets)
        chart += alt.Chart(onsets).mark_rule(strokeDash=[5, 4]).encode(
            x="minutes:Q", color=stack_colour(stacks).legend(None),
            tooltip=[alt.Tooltip("stack:N"),
                     alt.Tooltip("minutes:Q", title="truncation starts (min)", format=",.1f")])
    return chart


def histogram(df: pd.DataFrame, stacks: list[str], log: bool, lo: float, hi: float
              ) -> alt.Chart:
    """Share of calls by per-call cost, one step outline per stack (overlaid)."""
    df = labelled(df)
    return alt.Chart(df).mark_line(interpolate="step-after").encode(
        x=alt.X("from:Q", title="cost of one call (USD)" + (" (log scale)" if log else ""),
                axis=alt.Axis(format="$,.2f" if not log else "$,.3~f"),
                scale=alt.Scale(type="log" if log else "linear", domain=[lo, hi], nice=False)),
        y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of calls"),
        color=stack_colour(stacks),
        tooltip=[alt.Tooltip("stack:N"), alt.Tooltip("from:Q", format="$,.4f"),
                 alt.Tooltip("to:Q", format="$,.4f"), alt.Tooltip("share:Q", format=".2%")])


def sweep_lines(df: pd.DataFrame, stacks: list[str], title: str, now: float
                ) -> alt.LayerChart:
    df = labelled(df)
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("value:Q", title=title),
        y=alt.Y("monthly_usd:Q", title="USD per month", axis=alt.Axis(format="$,.0f")),
        color=stack_colour(stacks),
        tooltip=[alt.Tooltip("stack:N"), alt.Tooltip("value:Q", format=",g"),
                 alt.Tooltip("monthly_usd:Q", title="monthly", format="$,.0f")])
    rule = alt.Chart(pd.DataFrame({"value": [now]})).mark_rule(strokeDash=[4, 4]).encode(
        x="value:Q")
    return lines + rule


def breakeven_lines(long: pd.DataFrame, volume: float, crossing: float | None
                    ) -> alt.LayerChart:
    chart = alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("calls_per_month:Q", title="calls per month (log scale)",
                scale=alt.Scale(type="log"), axis=alt.Axis(format=",~s")),
        y=alt.Y("usd:Q", title="USD per month (log scale)", scale=alt.Scale(type="log"),
                axis=alt.Axis(format="$,~s")),
        color=alt.Color("option:N", legend=LEGEND),
        tooltip=[alt.Tooltip("option:N"), alt.Tooltip("calls_per_month:Q", format=",.0f"),
                 alt.Tooltip("usd:Q", format="$,.0f")])
    marks = [{"calls_per_month": volume, "what": "this scenario"}]
    if crossing is not None:
        marks.append({"calls_per_month": crossing, "what": "break-even"})
    rules = alt.Chart(pd.DataFrame(marks)).mark_rule(strokeDash=[4, 4]).encode(
        x="calls_per_month:Q",
        color=alt.Color("what:N", scale=alt.Scale(domain=["this scenario", "break-even"],
                                                   range=["#555555", "#d62728"]),
                        legend=LEGEND),
        tooltip=[alt.Tooltip("what:N"), alt.Tooltip("calls_per_month:Q", format=",.0f")])
    return chart + rules
