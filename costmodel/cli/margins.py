"""`costmodel margins` (revenue, cost and margin per tenant and day under the rate cards) and
`costmodel export-usage` (the usage as Stripe, OpenMeter or Lago events, JSON lines)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .._files import clip
from ..errors import InputError
from ._common import JsonOpt, err, escape, existing_ledger, handle_errors, out, print_json

if TYPE_CHECKING:
    from rich.text import Text

    from ..reconcile.window import Window
    from ..resale import DayMargin, Margins, MeteredUsage, UsageExport
    from ..resale.cards import RateCards

LedgerOpt = Annotated[str, typer.Option(
    "--ledger", metavar="URL", help="Ledger URL (sqlite:///file.db, a .db path, "
    "redis://host:port/db): each tenant's (scope's) cost per day.", show_default=False)]
CardsOpt = Annotated[Path, typer.Option(
    "--cards", metavar="FILE", help="Rate cards YAML: plans, tenants, prices.",
    show_default=False)]
SpendLogOpt = Annotated[list[Path] | None, typer.Option(
    "--spend-log", metavar="FILE", help="Relay or hook spend log (JSON lines; repeatable): "
    "call minutes, which per-minute cards need.", show_default=False)]
SinceOpt = Annotated[str | None, typer.Option(
    metavar="7d|DATE", help="First UTC day: YYYY-MM-DD, or 7d for the last 7 days.",
    show_default=False)]
UntilOpt = Annotated[str | None, typer.Option(
    metavar="DATE", help="Last UTC day, included.", show_default=False)]
ScopeOpt = Annotated[str | None, typer.Option(
    metavar="TENANT", help="Only this tenant (ledger scope).", show_default=False)]


def _percent(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text.strip().removesuffix("%").strip())
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 <= value <= 100:
        raise InputError(f"{option}: expected a percentage from 0% to 100%, got "
                         f"{clip(repr(text))}")
    return value


def _usage(ledger: str, cards_file: Path, spend_logs: list[Path], window: Window,
           scope: str | None) -> tuple[RateCards, MeteredUsage]:
    from ..resale import load_cards, read_usage

    cards = load_cards(cards_file)   # (first: a bad file is reported before the ledger is read)
    with existing_ledger(ledger) as store:
        usage = read_usage(store, window=window, spend_logs=spend_logs, scope=scope,
                           name=ledger)
    return cards, usage


@handle_errors
def margins_cmd(
    ledger: LedgerOpt,
    cards: CardsOpt,
    spend_log: SpendLogOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    thin: Annotated[str, typer.Option(
        metavar="PCT", help="Flag margins under this % of revenue as thin.")] = "20%",
    scope: ScopeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Revenue, cost and margin ($ and % of revenue) per tenant and UTC day, and per month,
    under the rate cards.

    Cost is the ledger's (exact, per scope); revenue is what each tenant's card bills for
    its calls, minutes (from --spend-log) or cost. Margins under --thin are flagged, negative
    ones too. Exits 1 when a month loses money (its minimum counted) or some usage cannot
    be billed (no card, or a per-minute card without minutes: never billed $0), 2 for bad
    input.
    """
    from ..reconcile.window import parse_window
    from ..resale import margins, to_json

    thin_pct = _percent(thin, "--thin")
    cards_, usage = _usage(ledger, cards, list(spend_log or ()), parse_window(since, until),
                           scope)
    result = margins(usage, cards_, thin_pct=thin_pct)
    if json_:
        print_json(to_json(result))
    else:
        _show(result)
    if result.failed:
        raise typer.Exit(1)


def _usd(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _minutes(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


_STYLE = {"negative": "bold red", "unbilled": "red", "thin": "yellow"}


_HEADERS = ("tenant", "day", "card", "calls", "minutes", "cost", "revenue", "margin",
            "margin %", "")
_LEFT = {0, 1, 2, 9}
Row = tuple[tuple[str, ...], str | None]


def _rows(m: Margins) -> list[Row | None]:
    """The table's rows (cells and a style), tenant by tenant, each month's days then its
    total; None between tenants."""
    days: dict[tuple[str, object], list[DayMargin]] = defaultdict(list)
    for d in m.days:
        days[(d.tenant, d.day.replace(day=1))].append(d)
    rows: list[Row | None] = []
    for i, mm in enumerate(m.months):
        if i and m.months[i - 1].tenant != mm.tenant:
            rows.append(None)
        rows.extend(((d.tenant, d.day.isoformat(), d.card or "none", str(d.calls),
                       _minutes(d.minutes), _usd(d.cost_usd), _usd(d.revenue_usd),
                       _usd(d.margin_usd), _pct(d.margin_pct), " ".join(d.flags)),
                      _STYLE.get(next(iter(d.flags), "")))
                     for d in days[(mm.tenant, mm.month)])
        label = mm.month.strftime("%Y-%m") + (" total" if mm.over else " to date")
        extra = f" +{_usd(mm.top_up_usd)} min" if mm.top_up_usd else ""
        rows.append(((mm.tenant, label, mm.card or "none", str(mm.calls), _minutes(mm.minutes),
                      _usd(mm.cost_usd), _usd(mm.revenue_usd) + extra, _usd(mm.margin_usd),
                      _pct(mm.margin_pct), " ".join(mm.flags)),
                     "bold " + _STYLE.get(next(iter(mm.flags), ""), "")))
    return rows


def _table(rows: list[Row | None]) -> Text:
    """The rows laid out in columns: a rich `Table` takes ~0.7 ms a row to lay out, and a
    month of 100 tenants is 3,100 rows (bench/bench_margins.py)."""
    from rich.text import Text

    cells = [r[0] for r in rows if r is not None]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(_HEADERS)]

    def line(values: tuple[str, ...]) -> str:
        return " " + "   ".join(v.ljust(w) if i in _LEFT else v.rjust(w)
                                for i, (v, w) in enumerate(zip(values, widths, strict=True)))

    text = Text(line(_HEADERS).rstrip() + "\n", style="bold")
    text.append(" " + "─" * (sum(widths) + 3 * (len(widths) - 1)) + "\n")
    for row in rows:
        if row is None:
            text.append("\n")
        else:
            text.append(line(row[0]).rstrip() + "\n", style=row[1])
    return text


def _show(m: Margins) -> None:
    out.print(f"margins: {m.window.describe()}", soft_wrap=True)
    out.print(_table(_rows(m)), soft_wrap=True)
    t = m.totals
    out.print(f"all tenants: revenue {_usd(t.revenue_usd)}, cost {_usd(t.cost_usd)}, margin "
              f"{_usd(t.margin_usd)} ({_pct(t.margin_pct)} of revenue)"
              + (f"; {_usd(t.unbilled_cost_usd)} of cost not billed" if t.unbilled_cost_usd
                 else ""), soft_wrap=True)
    out.print(f"margin % is of revenue; thin under {m.thin_pct}% (yellow), negative (red); "
              "a month's revenue includes its top-up to the card's monthly minimum "
              "(+$ min)", soft_wrap=True)
    for source in m.sources:
        out.print(f"  from {escape(source)}", soft_wrap=True)
    _problems(m)


def _problems(m: Margins) -> None:
    for note in m.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    for mm in m.months:
        for note in mm.notes:
            err.print(f"[yellow]note:[/] {escape(mm.tenant)} {mm.month:%Y-%m}: {escape(note)}",
                      soft_wrap=True)
    unbilled: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for d in m.unbilled:
        unbilled[(d.tenant, d.problem or "")].append(d.cost_usd)
    for (tenant, problem), costs in unbilled.items():
        err.print(f"[red]not billed:[/] {escape(tenant)}: {len(costs)} day(s), "
                  f"{_usd(sum(costs, Decimal(0)))} of cost: {escape(problem)}", soft_wrap=True)
    if m.failed:
        parts = [f"{len(m.negative)} month(s) lose money"] if m.negative else []
        if m.unbilled:
            parts.append(f"{len(m.unbilled)} tenant-day(s) cannot be billed")
        err.print(f"[bold red]{'; '.join(parts)}: exit 1[/]", soft_wrap=True)


@handle_errors
def export_usage_cmd(
    ledger: LedgerOpt,
    cards: CardsOpt,
    to: Annotated[str, typer.Option(
        "--to", metavar="stripe|openmeter|lago", help="The billing system's event shape.",
        show_default=False)],
    spend_log: SpendLogOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    scope: ScopeOpt = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Write the events here (default: stdout).",
        show_default=False)] = None,
) -> None:
    """Each tenant's usage per UTC day as billing events, one JSON object a line: Stripe
    meter events, OpenMeter CloudEvents or Lago events.

    One event per tenant, day and the metric its card prices by (minutes, calls or cost),
    with an idempotency key derived from them and the card: exporting the same days again
    writes the same keys, so nothing is billed twice. Only days that are over are exported
    (--until defaults to yesterday); for Stripe, --since defaults to 34 days ago (it takes
    events of the past 35 days). Exits 1 when some usage could not be exported (no card, no
    id for the system in the cards file, no minutes), 2 for bad input.
    """
    from ..reconcile.window import Window, parse_window
    from ..resale import TARGETS, export_usage

    if to not in TARGETS:
        raise InputError(f"--to: expected one of {', '.join(TARGETS)}, got {to!r}")
    today = datetime.now(UTC).date()
    window = parse_window(since, until)
    if window.until is None:
        window = Window(window.since, today - timedelta(days=1))
    elif window.until >= today:
        raise InputError(f"--until {window.until}: the day is not over (UTC {today}); an "
                         "event for it now would be dropped as a duplicate when the whole day "
                         "is exported")
    if window.since is None and to == "stripe":
        window = Window(today - timedelta(days=34), window.until)
        err.print(f"[yellow]note:[/] Stripe takes meter events of the past 35 days: from "
                  f"{window.since}", soft_wrap=True)
    if window.since is not None and window.until is not None and window.since > window.until:
        raise InputError(f"--since {window.since} is after --until {window.until}")
    cards_, usage = _usage(ledger, cards, list(spend_log or ()), window, scope)
    result = export_usage(usage, cards_, next(t for t in TARGETS if t == to), today=today)
    if output is None:
        result.write(sys.stdout)
    else:
        _write_atomically(output, result)
    tenants = len({e.tenant for e in result.events})
    err.print(f"{len(result.events)} {to} event(s) for {tenants} tenant(s), "
              f"{window.describe()}" + (f", written to {escape(str(output))}" if output else ""),
              soft_wrap=True)
    skipped: dict[tuple[str, str], int] = defaultdict(int)
    for s in result.skipped:
        skipped[(s.tenant, s.reason)] += 1
    for (tenant, reason), n in skipped.items():
        err.print(f"[red]not exported:[/] {escape(tenant)}: {n} day(s): {escape(reason)}",
                  soft_wrap=True)
    if result.skipped:
        raise typer.Exit(1)


def _write_atomically(path: Path, result: UsageExport) -> None:
    """Write to a temporary file beside ``path``, then rename: a reader (or an uploader
    polling the file) never sees half an export."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    except OSError as exc:
        raise InputError(f"--output {path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            result.write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"--output {path}: cannot write: {exc.strerror or exc}") from None
