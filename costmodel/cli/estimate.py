"""`costmodel estimate | compare | curve`: monthly cost, ranking, and cost against call length."""

from __future__ import annotations

import csv
import sys
import warnings
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ModelShutDownWarning
from ..money import format_usd_short
from ._bounds import MAX_CALL_MINUTES, MAX_CALLS_PER_MONTH, MAX_SIMULATED_CALLS
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

if TYPE_CHECKING:
    from rich.table import Table

    from ..estimation import Estimate, Scenario, StackEstimate

ScenarioArg = Annotated[Path, typer.Argument(help="Scenario YAML file (see examples/).",
                                             show_default=False)]
StackOpt = Annotated[list[str] | None, typer.Option(
    "--stack", help="Only this stack: a stack of the scenario (its id, or a chained stack's "
    "ids joined by '+'), or any single catalog id; repeatable.", show_default=False)]
CallsOpt = Annotated[float | None, typer.Option(
    "--calls-per-month", parser=finite(1, MAX_CALLS_PER_MONTH),
    help=f"Override the scenario's volume (at most {MAX_CALLS_PER_MONTH:.0e}).",
    show_default=False)]
SeedOpt = Annotated[int | None, typer.Option(min=0, max=2**63 - 1, help="Random seed "
                                             "(default: the scenario's).", show_default=False)]
SamplesOpt = Annotated[int | None, typer.Option(
    "--calls", min=1, max=MAX_SIMULATED_CALLS,
    help="Calls to simulate (default: the scenario's, 100,000).", show_default=False)]
DateOpt = Annotated[datetime | None, typer.Option(
    "--date", formats=["%Y-%m-%d"], help="Price at the rates in force on this date.",
    show_default=False)]

_PROGRESS_AT = 2_000_000  # simulated calls x stacks above which a progress bar is shown


def _run(path: Path, stack: list[str] | None, calls_per_month: float | None,
         seed: int | None, calls: int | None, on: datetime | None,
         pricing: list[Path] | None, quiet: bool) -> Estimate:
    from ..estimation import estimate, load_scenario  # (numpy: loaded when it is needed)

    sc = load_scenario(path)
    catalog = load_catalog(pricing, quiet=quiet)
    n_stacks = len(stack) if stack else len(sc.stacks)
    work = (calls or sc.simulation.calls) * n_stacks
    run = partial(estimate, sc, catalog, stacks=stack, calls_per_month=calls_per_month,
                  seed=seed, calls=calls, on=on.date() if on else None)
    # An estimate carries a shut-down model's note itself (its notes): not a warning too.
    run = partial(_without_shutdown_warnings, run)
    if quiet or work < _PROGRESS_AT or not err.is_terminal:
        return run()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err.rich, transient=True) as bar:
        task = bar.add_task("simulating", total=n_stacks)

        def step(stack_id: str) -> None:
            bar.update(task, advance=1, description=f"simulating {stack_id}")

        return run(progress=step)


def _without_shutdown_warnings(run: Callable[..., Estimate], **kwargs: Any) -> Estimate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelShutDownWarning)
        return run(**kwargs)


def result_json(r: StackEstimate) -> dict:
    return {
        "stack": r.stack,
        "per_call_usd": {k: round(v, 6) for k, v in r.per_call_usd.items()},
        "per_minute_usd": round(r.per_minute_usd, 6),
        "monthly_usd": round(r.monthly_usd, 2),
        "monthly_band_usd": {"p5": round(r.monthly_band_usd[0], 2),
                             "p95": round(r.monthly_band_usd[1], 2)},
        "mean_call_minutes": round(r.mean_minutes, 3),
        "calls_simulated": r.calls_simulated,
        "fixed_monthly_usd": round(r.fixed_monthly_usd, 2),
        "line_items": [{"item": name, "usd": round(usd, 2)} for name, usd in r.line_items],
        "selfhost_basis": r.selfhost_basis,
        "policy_saving_monthly_usd": None if r.policy_saving_monthly_usd is None
        else round(r.policy_saving_monthly_usd, 2),
        "notes": r.notes,
    }


def _header(est: Estimate) -> str:
    return (f"{est.scenario}: {est.calls_per_month:,.0f} calls/month, "
            f"{est.results[0].calls_simulated:,} simulated (seed {est.seed}), "
            f"rates of {est.on.isoformat()}")


def _results_table(est: Estimate, rows: list[StackEstimate], ratio: bool) -> Table:
    table = new_table(title=escape(_header(est)), title_justify="left")
    cols = ["stack", "mean/call", "p50", "p95", "p99", "$/min", "monthly", "P5-P95"]
    if ratio:
        cols.insert(0, "#")
        cols.append("x cheapest")
    # On a narrow terminal drop the columns --json/--csv still carry, so figures never break.
    hidden = set()
    if out.width < 140:
        hidden |= {"p50", "P5-P95"}
    if out.width < 110:
        hidden |= {"p95", "p99"}
    for c in cols:
        if c in hidden:
            continue
        if c == "stack":
            table.add_column(c, overflow="fold", min_width=24)
        else:  # numbers never wrap mid-figure; the stack id folds instead
            table.add_column(c, justify="right", no_wrap=True)
    cheapest = rows[0].monthly_usd if rows else 0
    for i, r in enumerate(rows, 1):
        pc = r.per_call_usd
        cells = [escape(r.stack), *(format_usd_short(pc[k]) for k in ("mean", "p50", "p95", "p99")),
                 f"${r.per_minute_usd:.4f}", f"${r.monthly_usd:,.0f}",
                 f"${r.monthly_band_usd[0]:,.0f}-{r.monthly_band_usd[1]:,.0f}"]
        if ratio:
            cells.insert(0, str(i))
            cells.append(f"{r.monthly_usd / cheapest:.1f}x" if cheapest else "-")
        table.add_row(*(cell for c, cell in zip(cols, cells, strict=True) if c not in hidden))
    return table


def _items_table(r: StackEstimate) -> Table:
    table = new_table(title=escape(f"{r.stack}: line items per month"), title_justify="left")
    for c in ("item", "USD/month", "share"):
        table.add_column(c, justify="left" if c == "item" else "right", no_wrap=c != "item")
    for name, usd in sorted(r.line_items, key=lambda x: -x[1]):
        share = usd / r.monthly_usd if r.monthly_usd else 0
        table.add_row(escape(name), f"${usd:,.2f}", f"{share:.1%}")
    return table


def _notes(rows: list[StackEstimate]) -> None:
    for note in dict.fromkeys(n for r in rows for n in r.notes):  # once each, in order
        err.print(f"[yellow]note:[/] {escape(note)}")


@handle_errors
def estimate_cmd(
    scenario: ScenarioArg,
    stack: StackOpt = None,
    calls_per_month: CallsOpt = None,
    seed: SeedOpt = None,
    calls: SamplesOpt = None,
    on: DateOpt = None,
    items: Annotated[bool, typer.Option(help="Show each stack's line items.")] = True,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
    csv_: Annotated[bool, typer.Option("--csv", help="Print CSV (one row per stack).")] = False,
) -> None:
    """Monthly cost of each stack in a scenario: per-call distribution, $/min, P5-P95 band."""
    est = _run(scenario, stack, calls_per_month, seed, calls, on, pricing, json_ or csv_)
    if json_:
        print_json({"scenario": est.scenario, "currency": "USD",
                    "calls_per_month": est.calls_per_month, "seed": est.seed,
                    "rates_date": est.on, "results": [result_json(r) for r in est.results]})
        return
    if csv_:
        w = csv.writer(sys.stdout)
        w.writerow(["stack", "per_call_mean_usd", "per_call_p50_usd", "per_call_p95_usd",
                    "per_call_p99_usd", "per_minute_usd", "monthly_usd", "monthly_p5_usd",
                    "monthly_p95_usd", "mean_call_minutes", "fixed_monthly_usd"])
        for r in est.results:
            pc = r.per_call_usd
            w.writerow([r.stack, *(f"{pc[k]:.6f}" for k in ("mean", "p50", "p95", "p99")),
                        f"{r.per_minute_usd:.6f}", f"{r.monthly_usd:.2f}",
                        f"{r.monthly_band_usd[0]:.2f}", f"{r.monthly_band_usd[1]:.2f}",
                        f"{r.mean_minutes:.3f}", f"{r.fixed_monthly_usd:.2f}"])
        return
    out.print(_results_table(est, est.results, ratio=False))
    if items:
        for r in est.results:
            out.print(_items_table(r))
    _notes(est.results)


@handle_errors
def compare_cmd(
    scenario: ScenarioArg,
    stack: StackOpt = None,
    calls_per_month: CallsOpt = None,
    seed: SeedOpt = None,
    calls: SamplesOpt = None,
    on: DateOpt = None,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Stacks ranked cheapest first, with each one's cost as a multiple of the cheapest."""
    est = _run(scenario, stack, calls_per_month, seed, calls, on, pricing, json_)
    ranked = est.ranked()
    if json_:
        cheapest = ranked[0].monthly_usd if ranked else 0
        print_json({"scenario": est.scenario, "currency": "USD",
                    "calls_per_month": est.calls_per_month, "seed": est.seed,
                    "rates_date": est.on,
                    "ranking": [{**result_json(r), "rank": i,
                                 "ratio_to_cheapest": round(r.monthly_usd / cheapest, 3)
                                 if cheapest else None}
                                for i, r in enumerate(ranked, 1)]})
        return
    out.print(_results_table(est, ranked, ratio=True))
    _notes(ranked)


@handle_errors
def curve_cmd(
    stack: Annotated[str, typer.Option("--stack", help="Stack id (or chained ids joined "
                                       "by '+' from the scenario).", show_default=False)],
    scenario: Annotated[Path | None, typer.Option(
        "--scenario", help="Scenario for turn timing, prompt and cache (default: built-in "
        "defaults).", show_default=False)] = None,
    max_minutes: Annotated[float, typer.Option(parser=finite(0.1, MAX_CALL_MINUTES),
                                               help="Longest call.")] = 60,
    step: Annotated[float, typer.Option(parser=finite(0.1, MAX_CALL_MINUTES),
                                        help="Minutes between points.")] = 1,
    on: DateOpt = None,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Cost per call and per minute against call length (the re-billing curve)."""
    from ..estimation import curve, default_scenario, load_scenario

    sc: Scenario = load_scenario(scenario) if scenario else default_scenario()
    catalog = load_catalog(pricing, quiet=json_)
    points = curve(stack, sc, catalog, max_minutes=max_minutes, step_minutes=step,
                   on=on.date() if on else None)
    if json_:
        print_json({"stack": stack, "scenario": sc.name, "currency": "USD",
                    "points": [{"minutes": p.minutes, "responses": p.responses,
                                "per_call_usd": round(p.per_call_usd, 6),
                                "per_minute_usd": round(p.per_minute_usd, 6)}
                               for p in points]})
        return
    table = new_table(title=escape(f"{stack}: cost against call length ({sc.name})"),
                      title_justify="left")
    for c in ("minutes", "responses", "per call", "per minute"):
        table.add_column(c, justify="right", no_wrap=True)
    for p in points:
        table.add_row(f"{p.minutes:g}", str(p.responses), format_usd_short(p.per_call_usd),
                      f"${p.per_minute_usd:.4f}")
    out.print(table)
