"""`costmodel reconcile`: recorded spend (ledger or spend logs) against provider exports and
the plan's estimate, per UTC day and model; exits 1 when a difference passes the tolerance."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .._files import clip
from ..errors import InputError
from ._common import (
    JsonOpt,
    PricingOpt,
    err,
    escape,
    existing_ledger,
    handle_errors,
    load_catalog,
    new_table,
    out,
    print_json,
)

if TYPE_CHECKING:
    from rich.table import Table

    from ..core.catalog import Catalog
    from ..reconcile import Gap, Reconciliation, Recorded, Row, Totals, Window
    from ..reconcile.drift import Drift

LedgerOpt = Annotated[str | None, typer.Option(
    "--ledger", metavar="URL", help="Ledger URL (sqlite:///file.db, a .db path, "
    "redis://host:port/db): the recorded spend.", show_default=False)]
SpendLogOpt = Annotated[list[Path] | None, typer.Option(
    "--spend-log", metavar="FILE", help="Relay or hook spend log (JSON lines; repeatable): "
    "the recorded spend when no --ledger is given.", show_default=False)]
ExportOpt = Annotated[list[Path] | None, typer.Option(
    "--export", metavar="FILE", help="Provider export (repeatable): OpenAI usage or costs "
    "JSON, Twilio usage-records CSV, or a date,model,usd CSV.", show_default=False)]
ScenarioOpt = Annotated[Path | None, typer.Option(
    "--scenario", metavar="FILE", help="Scenario YAML: estimate the recorded calls as planned, "
    "and fit the sessions (spend logs, --sessions) to say whether they drift from it.",
    show_default=False)]
SessionsOpt = Annotated[list[Path] | None, typer.Option(
    "--sessions", metavar="PATH", help="Recorded session event files or directories "
    "(repeatable), fitted for the drift check with the spend logs' sessions.",
    show_default=False)]


def _percent(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text.strip().removesuffix("%").strip())
    except InvalidOperation:
        raise InputError(f"{option}: expected a percentage such as 5%, got "
                         f"{clip(repr(text))}") from None
    if not value.is_finite() or not 0 <= value <= 10_000:
        raise InputError(f"{option}: expected a percentage from 0% to 10000%, got {text!r}")
    return value


def _min_usd(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().removeprefix("$"))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise InputError(f"--min-usd: expected an amount >= 0, got {clip(repr(text))}")
    return value


def _recorded(ledger: str | None, spend_logs: list[Path], window: Window, scope: str | None,
              catalog: Catalog, calls: bool) -> Recorded | None:
    from ..reconcile import recorded_from_ledger, recorded_from_spend_logs

    logs = recorded_from_spend_logs(spend_logs, window=window, scope=scope, catalog=catalog) \
        if spend_logs else None
    if ledger is None:
        return logs
    with existing_ledger(ledger) as store:
        found = recorded_from_ledger(store, window=window, scope=scope, catalog=catalog,
                                     calls=calls, name=ledger)
    if logs is not None:
        found.sessions = logs.sessions
        if logs.total_usd != found.total_usd:
            found.notes.append(f"the spend logs add up to ${logs.total_usd} for these days, "
                               f"the ledger to ${found.total_usd}: the ledger is compared")
    return found


@handle_errors
def reconcile_cmd(
    ledger: LedgerOpt = None,
    spend_log: SpendLogOpt = None,
    export: ExportOpt = None,
    scenario: ScenarioOpt = None,
    sessions: SessionsOpt = None,
    since: Annotated[str | None, typer.Option(
        metavar="7d|DATE", help="First UTC day: YYYY-MM-DD, or 7d for the last 7 days "
        "(default: the first day the exports cover, else every day).",
        show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        metavar="DATE", help="Last UTC day, included (default: the last day the exports cover).",
        show_default=False)] = None,
    tolerance: Annotated[str, typer.Option(
        metavar="PCT", help="Exit 1 when a row differs by more (% of recorded).")] = "5%",
    threshold: Annotated[str, typer.Option(
        metavar="PCT", help="Flag rows that differ by more (% of recorded).")] = "5%",
    min_usd: Annotated[str, typer.Option(
        metavar="USD", help="Differences smaller than this are never over a limit (rounding "
        "on a bill).")] = "0.01",
    scope: Annotated[str | None, typer.Option(
        metavar="SCOPE", help="Only this tenant (scope) of the ledger or spend logs.",
        show_default=False)] = None,
    json_: JsonOpt = False,
    pricing: PricingOpt = None,
) -> None:
    """Line up recorded spend, provider bills and the plan, per UTC day and model.

    Two pairs are compared, each against the recorded spend (percentages are of it):
    recorded vs billed (the provider's dollars, or its usage priced with the catalog), and
    recorded vs estimate (the scenario's cost for the calls recorded; only when the recorded
    spend is also outside the plan's 95% range for that many calls). Rows over --threshold
    are flagged; the command exits 1 when any row is over --tolerance, 2 for bad input.
    """
    from ..reconcile import Plan, default_window, parse_window, read_export, reconcile

    tol, thr, floor = _percent(tolerance, "--tolerance"), _percent(threshold, "--threshold"), \
        _min_usd(min_usd)
    if ledger is None and not spend_log and not export and not sessions:
        raise InputError("give what to reconcile: --ledger URL or --spend-log FILE, and/or "
                         "--export FILE (or --sessions with --scenario, for drift alone)")
    catalog = load_catalog(pricing, quiet=json_)
    exports = [read_export(p, catalog) for p in export or ()]
    window = parse_window(since, until)
    if since is None and until is None:
        window = default_window(exports)
    plan = None
    if scenario is not None:
        from ..estimation import load_scenario

        plan = Plan(load_scenario(scenario), catalog)
    recorded = _recorded(ledger, list(spend_log or ()), window, scope, catalog,
                         calls=plan is not None)
    result = reconcile(recorded, exports, plan, window=window, tolerance_pct=tol,
                       threshold_pct=thr, min_usd=floor)
    drifted = None
    fit_from = [*(recorded.sessions if recorded else ()), *(sessions or ())]
    if plan is not None and fit_from:
        from ..reconcile.drift import drift

        try:
            drifted = drift(plan.scenario, fit_from, catalog=catalog, threshold_pct=float(thr),
                            on=window.until)
        except InputError as exc:
            if sessions:   # asked for by name: that they cannot be fitted is an error
                raise
            result.notes.append(f"no drift check: the spend logs' sessions cannot be fitted "
                                f"({exc})")
    elif sessions:
        raise InputError("--sessions are fitted against a plan: give --scenario FILE too")
    drift_fails = drifted is not None and bool(drifted.drifting) and \
        drifted.total_pct is not None and abs(drifted.total_pct) > float(tol)
    if json_:
        from ..reconcile import to_json
        from ..reconcile.drift import drift_json

        print_json({**to_json(result), "drift": None if drifted is None else {
            **drift_json(drifted), "over_tolerance": drift_fails}})
    else:
        _show(result)
        if drifted is not None:
            _show_drift(drifted, drift_fails, tol)
        elif plan is not None and not fit_from:
            err.print("[yellow]note:[/] no drift check: it fits sessions (give --spend-log or "
                      "--sessions)", soft_wrap=True)
    if result.failed or drift_fails:
        raise typer.Exit(1)


def _usd(value: Decimal | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def _gap(g: Gap | None, over: bool = False) -> str:
    """``+0.88 +5.7%``: the difference in dollars and in % of the recorded spend."""
    if g is None:
        return "—"
    pct = "n/a" if g.pct is None else f"{g.pct:+.1f}%"
    return f"{g.usd:+,.2f} {pct}{'!' if over else ''}"


def _style(row: Row) -> str | None:
    return "bold red" if row.failed else ("yellow" if row.flagged else None)


def _model_table(model: str, rows: list[Row], t: Totals, billed: bool, planned: bool) -> Table:
    from rich import box

    table = new_table(title=escape(model), title_justify="left", box=box.SIMPLE_HEAD,
                      pad_edge=False)
    names = ["day", "calls", "recorded", *(("billed", "vs billed") if billed else ()),
             *(("estimated", "vs plan") if planned else ())]
    for name in names:
        table.add_column(name, justify="left" if name == "day" else "right")
    for r in rows:
        cells = [r.day.isoformat(), "—" if r.calls is None else str(r.calls),
                 _usd(r.recorded_usd)]
        if billed:
            cells += [_usd(r.billed_usd) + ("*" if r.billed_basis == "priced" else ""),
                      _gap(r.vs_billed, "billed" in r.failed + r.flagged)]
        if planned:
            cells += [_usd(r.estimated_usd),
                      _gap(r.vs_estimate, "estimate" in r.failed + r.flagged)]
        table.add_row(*cells, style=_style(r))
    if len(rows) > 1:
        calls = [r.calls for r in rows if r.calls is not None]
        cells = ["total", str(sum(calls)) if calls else "—", _usd(t.recorded_usd)]
        cells += [_usd(t.billed_usd), _gap(t.vs_billed)] if billed else []
        cells += [_usd(t.estimated_usd), _gap(t.vs_estimate)] if planned else []
        table.add_row(*cells, style="bold")
    return table


def _show(result: Reconciliation) -> None:
    if not result.rows and len(result.sources) <= 1:   # a plan alone: drift only
        return
    out.print(f"reconcile: {result.window.describe()}", soft_wrap=True)
    # (a side nothing was given for is left out, not shown as a column of dashes)
    billed = any(r.billed_usd is not None for r in result.rows)
    planned = any(r.estimated_usd is not None for r in result.rows)
    for model, (rows, totals) in result.by_model().items():
        out.print(_model_table(model, rows, totals, billed, planned))
    t = result.totals
    out.print(f"all models: recorded {_usd(t.recorded_usd)}" + "".join(
        f"; {what} {_usd(total)} against {_usd(total - g.usd)} recorded on the same rows "
        f"({_gap(g)})" for what, total, g in (("billed", t.billed_usd, t.vs_billed),
                                             ("estimated", t.estimated_usd, t.vs_estimate))
        if total is not None and g is not None), soft_wrap=True)
    if any(r.billed_basis == "priced" for r in result.rows):
        out.print("* usage the provider reported, priced by costmodel with the catalog")
    out.print(f"vs billed, vs plan: the difference from the recorded spend, in $ and % of it; "
              f"! over {result.threshold_pct}% (yellow), over the {result.tolerance_pct}% "
              f"tolerance (red); differences under ${result.min_usd} ignored; vs plan only "
              "outside the plan's 95% range for that many calls", soft_wrap=True)
    for source in result.sources:
        out.print(f"  from {escape(source)}", soft_wrap=True)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    for r in result.rows:
        for note in r.notes:
            err.print(f"[yellow]note:[/] {r.day} {escape(r.model)}: {escape(note)}",
                      soft_wrap=True)
    if result.failed:
        err.print(f"[bold red]{len(result.failed)} row(s) over the {result.tolerance_pct}% "
                  "tolerance: exit 1[/]", soft_wrap=True)


def _show_drift(d: Drift, fails: bool, tolerance: Decimal) -> None:
    from rich import box

    table = new_table(title=escape(f"drift: {d.sessions} sessions ({d.stack}) against "
                                   f"{d.plan}"), title_justify="left", box=box.SIMPLE_HEAD,
                      pad_edge=False)
    for name in ("parameter", "plan", "sessions (± sd, n)", "change", "$/month alone"):
        table.add_column(name, justify="left" if name == "parameter" else "right")
    for p in d.parameters:
        spread = "" if p.spread is None else f" ±{p.spread:.3g}"
        table.add_row(p.parameter, f"{p.planned:,.4g}", f"{p.fitted:,.4g}{spread} ({p.sessions})",
                      "—" if p.change_pct is None else f"{p.change_pct:+.1f}%",
                      "—" if p.impact_usd is None else f"{p.impact_usd:+,.0f}",
                      style="yellow" if p.drifting else None)
    out.print(table)
    style = "bold red" if fails else ("yellow" if d.drifting else "green")
    out.print(f"[{style}]{escape(d.verdict())}[/]", soft_wrap=True)
    for p in d.parameters:
        if p.note:
            err.print(f"[yellow]note:[/] {p.parameter}: {escape(p.note)}", soft_wrap=True)
    for note in d.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    if fails:
        err.print(f"[bold red]the sessions move the plan's monthly cost by more than the "
                  f"{tolerance}% tolerance: exit 1[/]", soft_wrap=True)
