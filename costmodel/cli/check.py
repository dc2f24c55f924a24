"""`costmodel check`: fail a CI run when a prompt or configuration change makes calls dearer.

Exit codes: 0 every checked figure is within its limits and baseline; 1 a figure is past one
(each breach is named with both amounts and the change in %); 2 bad input (a scenario, a
baseline file, a limit or a tolerance that cannot be used, or nothing to check).
"""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import AmountError, InputError, ModelShutDownWarning
from ._common import (
    JsonOpt,
    PricingOpt,
    err,
    escape,
    handle_errors,
    load_catalog,
    new_table,
    out,
    print_json,
)
from .estimate import DateOpt, ScenarioArg, StackOpt

if TYPE_CHECKING:
    from ..estimation.baseline import StackBaseline
    from ..estimation.check import Breach, CheckResult

_MAX_LIMIT_USD = Decimal(10) ** 12   # a month of a large fleet fits; past it is a typo


def _usd(text: str | None, option: str) -> Decimal | None:
    if text is None:
        return None
    from ..money import to_usd

    try:
        return to_usd(text.strip().removeprefix("$"), option, allow_text=True, positive=True,
                      maximum=_MAX_LIMIT_USD)
    except AmountError as exc:
        raise InputError(str(exc)) from None


def _money(metric: str, value: Decimal) -> str:
    return f"${value:,.2f}" if metric == "monthly_usd" else f"${value:.6f}"


def _stack_table(res: CheckResult, s: StackBaseline, failed: set[tuple[str, str]]) -> Any:
    from ..estimation.baseline import METRICS
    from ..estimation.check import LABELS, change_of

    before = res.baseline.stack(s.stack) if res.baseline is not None else None
    table = new_table(title=escape(s.stack), title_justify="left")
    for col in ("figure", "now", "baseline", "change", "limit", ""):
        table.add_column(col, justify="left" if col in ("figure", "") else "right",
                         no_wrap=True)
    for metric in METRICS:
        now = s.figure(metric)
        then = before.figure(metric) if before is not None else None
        change = change_of(now, then) if then is not None else None
        limit = res.limits.of(metric)
        table.add_row(LABELS[metric], _money(metric, now),
                      "-" if then is None else _money(metric, then),
                      "-" if then is None else ("new" if change is None else f"{change:+.1%}"),
                      "-" if limit is None else _money(metric, limit),
                      "[bold red]FAIL[/]" if (s.stack, metric) in failed else "ok")
    return table


def _breach_json(b: Breach) -> dict[str, Any]:
    change = b.change
    return {"stack": b.stack, "figure": b.metric, "kind": b.kind,
            "current_usd": str(b.current_usd), "threshold_usd": str(b.threshold_usd),
            "change_pct": None if change is None else round(float(change) * 100, 2),
            "message": b.message}


def _result_json(res: CheckResult, baseline: Path | None) -> dict[str, Any]:
    from ..estimation.baseline import baseline_to_json

    limits = res.limits
    return {"ok": res.ok, "scenario": res.current.scenario,
            "baseline_file": None if baseline is None else str(baseline),
            "tolerance_pct": float(res.tolerance * 100),
            "limits_usd": {"per_minute": limits.per_minute_usd,
                           "per_call_p95": limits.per_call_p95_usd,
                           "monthly": limits.monthly_usd},
            "breaches": [_breach_json(b) for b in res.breaches],
            "moved": list(res.moved), "notes": list(res.notes),
            "current": baseline_to_json(res.current),
            "baseline": None if res.baseline is None else baseline_to_json(res.baseline)}


@handle_errors
def check_cmd(
    scenario: ScenarioArg,
    max_per_minute: Annotated[str | None, typer.Option(
        "--max-per-minute", metavar="USD", help="Fail when a stack costs more per minute "
        "of call.", show_default=False)] = None,
    max_per_call_p95: Annotated[str | None, typer.Option(
        "--max-per-call-p95", metavar="USD", help="Fail when a stack's P95 cost per call is "
        "higher.", show_default=False)] = None,
    max_monthly: Annotated[str | None, typer.Option(
        "--max-monthly", metavar="USD", help="Fail when a stack's monthly total is higher.",
        show_default=False)] = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", metavar="FILE", help="Baseline JSON written by --write-baseline: fail "
        "when a figure rose past it by more than the tolerance.", show_default=False)] = None,
    tolerance: Annotated[str, typer.Option(
        "--tolerance", metavar="PCT", help="How much a figure may rise over the baseline "
        "(5% or 5).")] = "1%",
    write_baseline: Annotated[Path | None, typer.Option(
        "--write-baseline", metavar="FILE", help="Write the current figures as the baseline "
        "(after comparing with --baseline, if given).", show_default=False)] = None,
    stack: StackOpt = None,
    on: DateOpt = None,
    pricing: PricingOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check a scenario's cost against limits and a committed baseline (CI): exit 1 when a
    figure is past one, naming each; 0 when all are within; 2 for bad input."""
    from ..estimation import load_scenario
    from ..estimation.baseline import read_baseline
    from ..estimation.baseline import write_baseline as write
    from ..estimation.check import Limits, check, parse_tolerance

    limits = Limits(_usd(max_per_minute, "--max-per-minute"),
                    _usd(max_per_call_p95, "--max-per-call-p95"),
                    _usd(max_monthly, "--max-monthly"))
    share = parse_tolerance(tolerance)
    if not limits.any and baseline is None and write_baseline is None:
        raise InputError("nothing to check: give --max-per-minute, --max-per-call-p95, "
                         "--max-monthly or --baseline FILE (or --write-baseline FILE to "
                         "record one)")
    before = read_baseline(baseline) if baseline is not None else None
    sc = load_scenario(scenario)
    catalog = load_catalog(pricing, quiet=json_)
    with warnings.catch_warnings():   # a shut-down model is in the estimate's notes
        warnings.simplefilter("ignore", ModelShutDownWarning)
        res = check(sc, catalog, baseline=before, limits=limits, tolerance=share,
                    stacks=stack, on=on.date() if on else None)
    if write_baseline is not None:
        write(write_baseline, res.current)
    if json_:
        print_json(_result_json(res, baseline))
    else:
        _show(res, write_baseline)
    if not res.ok:
        raise typer.Exit(1)


def _show(res: CheckResult, written: Path | None) -> None:
    cur = res.current
    out.print(escape(f"{cur.scenario}: {cur.calls_simulated:,} calls simulated "
                     f"(seed {cur.seed}), rates of {cur.rates_date}, system prompt "
                     f"{cur.system_tokens:,} tokens, scenario sha256 {cur.scenario_sha256}"))
    failed = {(b.stack, b.metric) for b in res.breaches}
    for s in cur.stacks:
        out.print(_stack_table(res, s, failed))
    for line in res.moved:
        out.print(escape(f"moved: {line}"))
    for note in [*res.notes, *dict.fromkeys(n for ns in res.estimate_notes.values()
                                            for n in ns)]:
        err.print(f"[yellow]note:[/] {escape(note)}")
    if written is not None:
        out.print(escape(f"wrote the baseline {written}"))
    if res.ok:
        out.print("[green]ok:[/] every figure is within its limits"
                  + (f" and within {res.tolerance:.1%} of the baseline"
                     if res.baseline is not None else ""))
        return
    for b in res.breaches:
        out.print(f"[bold red]FAIL[/] {escape(b.message)}")
    n = len(res.breaches)
    out.print(f"[bold red]{n} figure{'s are' if n > 1 else ' is'} over:[/] calls got dearer")
