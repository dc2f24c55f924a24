"""`costmodel capacity`: the busy hour of each stack against provider limits, GPUs to self-host."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ModelShutDownWarning
from ._common import (
    JsonOpt,
    PricingOpt,
    err,
    escape,
    finite,
    handle_errors,
    load_catalog,
    new_table,
    out,
    print_json,
)
from .estimate import DateOpt, ScenarioArg, StackOpt

if TYPE_CHECKING:
    from ..estimation.capacity import CapacityReport, LimitCheck, StackCapacity

TierOpt = Annotated[str | None, typer.Option(
    "--tier", help="Provider usage tier (e.g. tier-1, vertex-paygo); a model without it shows "
    "its first-listed tier.", show_default=False)]
UtilOpt = Annotated[float | None, typer.Option(
    "--utilisation", parser=finite(0.01, 1), help="Self-hosting: average share of a deployment "
    "in use when autoscaled hour by hour (default: the scenario's selfhost.utilisation, else "
    "the catalog entry's).", show_default=False)]


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def limit_json(c: LimitCheck) -> dict[str, Any]:
    return {"name": c.name, "model": c.model, "metric": c.metric, "tier": c.tier,
            "limit": c.limit, "peak": _r(c.peak), "headroom": _r(c.headroom, 4),
            "source": c.source}


def stack_json(r: StackCapacity) -> dict[str, Any]:
    b = r.busy_hour
    f = r.fleet
    return {
        "stack": r.stack,
        "busy_hour": {"hour": b.hour, "calls": _r(b.calls),
                      "mean_concurrent": _r(b.mean_concurrent),
                      "p99_concurrent": b.p99_concurrent,
                      "requests_per_min": _r(b.requests_per_min),
                      "input_tokens_per_min": _r(b.input_tokens_per_min, 1),
                      "cached_tokens_per_min": _r(b.cached_tokens_per_min, 1),
                      "requests_per_min_mean": _r(b.requests_per_min_mean),
                      "input_tokens_per_min_mean": _r(b.input_tokens_per_min_mean, 1),
                      "connection_minutes": _r(b.connection_minutes),
                      "calls_per_second": _r(b.calls_per_second, 5)},
        "components": [{"role": c.role, "model": c.model,
                        "requests_per_min": _r(c.requests_per_min),
                        "input_tokens_per_min": _r(c.input_tokens_per_min, 1),
                        "requests_per_day": _r(c.requests_per_day, 1)} for c in r.components],
        "limits": [limit_json(c) for c in r.limits],
        "binding_limit": r.binding_limit,
        "gpus": r.gpus,
        "selfhost": None if f is None else {
            "model": f.model, "runs_on": f.runs_on, "deployments": f.deployments,
            "gpus_per_deployment": f.gpus_per_deployment,
            "sessions_per_deployment": f.sessions_per_deployment,
            "wait_probability": _r(f.wait_probability, 6),
            "block_probability": _r(f.block_probability, 6),
            "always_on_usd_per_month": round(f.always_on_usd_per_month, 2),
            "autoscaled": {"utilisation": f.utilisation,
                           "gpu_hours_per_month": round(f.autoscaled_gpu_hours_per_month, 1),
                           "usd_per_month": round(f.autoscaled_usd_per_month, 2)}},
        "notes": r.notes,
    }


def report_json(rep: CapacityReport) -> dict[str, Any]:
    return {"scenario": rep.scenario, "rates_date": rep.on, "tier": rep.tier,
            "calls_per_busy_day": _r(rep.calls_per_day, 1), "hourly_profile": rep.profile,
            "peak_factor": rep.peak_factor,
            "concurrency_by_hour": [_r(x) for x in rep.concurrency_by_hour],
            "results": [stack_json(r) for r in rep.results]}


def _fmt(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.3g}"


def _headroom(c: LimitCheck) -> str:
    if c.limit is None:
        return "unknown"
    if c.headroom is None:
        return "-"
    style = "red" if c.headroom < 0 else "yellow" if c.headroom < 0.25 else "green"
    return f"[{style}]{c.headroom:+.0%}[/]"


def _print(rep: CapacityReport) -> None:
    first = rep.results[0].busy_hour
    out.print(f"{escape(rep.scenario)}: {rep.calls_per_day:,.0f} calls on the busy day "
              f"({escape(rep.profile)} profile, peak factor {rep.peak_factor:g}); busy hour "
              f"{first.hour:02d}:00: {first.calls:,.0f} calls, {first.mean_concurrent:,.1f} "
              f"in progress on average, P99 {first.p99_concurrent:,}")
    table = new_table(title="busy hour per stack (P99 minute)", title_justify="left")
    for col in ("stack", "req/min", "input tok/min", "cached tok/min", "binding limit", "GPUs"):
        if col == "stack":
            table.add_column(col, overflow="fold", min_width=24)
        else:
            table.add_column(col, justify="right", overflow="fold")
    for r in rep.results:
        b = r.busy_hour
        table.add_row(escape(r.stack), _fmt(b.requests_per_min), _fmt(b.input_tokens_per_min),
                      _fmt(b.cached_tokens_per_min),
                      escape(r.binding_limit.rpartition("/")[2]) if r.binding_limit
                      else "none known",
                      "-" if r.gpus is None else str(r.gpus))
    out.print(table)
    _print_limits(rep)
    _print_fleets(rep)
    for note in dict.fromkeys(n for r in rep.results for n in r.notes):
        err.print(f"[yellow]note:[/] {escape(note)}")


def _print_limits(rep: CapacityReport) -> None:
    limits = new_table(title="known limits (peak: the busy hour's P99 minute)",
                       title_justify="left")
    for col in ("limit", "tier", "limit value", "peak", "headroom"):
        limits.add_column(col, justify="left" if col in ("limit", "tier") else "right",
                          overflow="fold")
    unknown = 0
    for r in rep.results:
        for c in r.limits:
            if c.limit is None:
                unknown += 1
                continue
            limits.add_row(escape(c.name), escape(c.tier or "-"), _fmt(c.limit), _fmt(c.peak),
                           _headroom(c))
    if limits.row_count:
        out.print(limits)
    if unknown:
        out.print(f"{unknown} limits unknown (not in the catalog: unknown, never unlimited); "
                  "--json lists each with its peak")


def _print_fleets(rep: CapacityReport) -> None:
    for r in rep.results:
        f = r.fleet
        if f is None:
            continue
        out.print(f"{escape(r.stack)}: {f.gpus} GPU(s) ({f.deployments} x {f.gpus_per_deployment:g}"
                  f" {escape(f.runs_on)}, {f.sessions_per_deployment} sessions each) for P99 "
                  f"{r.busy_hour.p99_concurrent}; P(wait) {f.wait_probability:.2%} (Erlang C), "
                  f"P(refused) {f.block_probability:.2%} (Erlang B); always on "
                  f"${f.always_on_usd_per_month:,.0f}/month; autoscaled at "
                  f"{f.utilisation:.0%} utilisation ${f.autoscaled_usd_per_month:,.0f}/month "
                  f"({f.autoscaled_gpu_hours_per_month:,.0f} GPU-hours)")


@handle_errors
def capacity_cmd(
    scenario: ScenarioArg,
    stack: StackOpt = None,
    tier: TierOpt = None,
    utilisation: UtilOpt = None,
    on: DateOpt = None,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Busy-hour concurrency, requests and tokens per minute against provider limits; GPUs
    for self-hosted stacks (Erlang C), always on or autoscaled."""
    from ..estimation import load_scenario
    from ..estimation.capacity import capacity

    sc = load_scenario(Path(scenario))
    catalog = load_catalog(pricing, quiet=json_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelShutDownWarning)
        rep = capacity(sc, catalog, stacks=stack, tier=tier, utilisation=utilisation,
                       on=on.date() if on else None)
    if json_:
        print_json(report_json(rep))
        return
    _print(rep)
