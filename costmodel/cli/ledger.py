"""`costmodel ledger show | flush`: spend, live reservations and spooled spend, from any ledger
backend; flush commits what guards spooled while the ledger was down."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from .._redact import mask_url
from ..errors import InputError, LedgerError
from ..money import format_usd
from ._bounds import SPOOL_ENV
from ._common import JsonOpt, err, handle_errors, new_table, out, print_json

app = typer.Typer(help="Inspect the spend ledger; commit spend spooled while it was down.",
                  no_args_is_help=True, rich_markup_mode=None)

LEDGER_ENV = "COSTMODEL_LEDGER"

LedgerOpt = Annotated[str | None, typer.Option(
    help=f"Ledger URL: sqlite:///file.db, redis://host:port/db (default: ${LEDGER_ENV}).",
    show_default=False)]
SpoolOpt = Annotated[Path | None, typer.Option(
    help=f"Spool directory the guards used (default: ${SPOOL_ENV}, else the user cache "
         "directory).", show_default=False)]


def _url(ledger: str | None) -> str:
    url = ledger or os.environ.get(LEDGER_ENV)
    if not url:
        raise InputError(f"give --ledger URL (or set ${LEDGER_ENV})")
    return url


@app.command("show")
@handle_errors
def show(
    ledger: LedgerOpt = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (scope).",
                                               show_default=False)] = None,
    period: Annotated[Literal["day", "month", "all"], typer.Option(
        help="Spend since the start of the current UTC day or month, or all of it.")] = "day",
    spool: SpoolOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Spend per tenant for the period, live reservations, and spooled spend.

    Spooled spend is what guards could not commit while the ledger was down; it is not in the
    totals until `costmodel ledger flush` commits it.
    """
    from ..ledger import Spool, open_ledger, period_start

    url = _url(ledger)
    since = period_start(period)
    try:
        store = open_ledger(url)
    except LedgerError as exc:
        _show_spool_only(url, spool, exc, json_)
        raise
    with store:
        spooled = Spool(store, spool).summary()
        scopes = [tenant] if tenant else sorted(set(store.scopes()) | set(spooled.by_scope))
        rows: list[dict[str, Any]] = []
        for scope in scopes:
            records = store.records(scope=scope)
            in_period = [r for r in records if since is None or r.at >= since]
            rows.append({
                "tenant": scope,
                "spent_usd": store.spent(scope=scope, since=since),
                "reserved_usd": store.reserved(scope=scope),
                "sessions": len({r.session_id for r in in_period}),
                "records": len(in_period),
                "spooled_usd": spooled.by_scope.get(scope, Decimal(0)),
            })
    if json_:
        print_json({"ledger": mask_url(url), "period": period,
                    "since": since.isoformat() if since else None,
                    "tenants": [{**r, "spent_usd_exact": format(r["spent_usd"].normalize(), "f")}
                                for r in rows],
                    "spooled": {"directory": str(spooled.directory),
                                "records": spooled.records, "usd": spooled.usd,
                                "usd_exact": format(spooled.usd, "f"),
                                "unreadable_lines": spooled.unreadable}})
        return
    title = f"spend since {since:%Y-%m-%d %H:%M} UTC" if since else "all spend"
    table = new_table(title=title, title_justify="left")
    columns: list[tuple[str, Literal["left", "right"]]] = [
        ("tenant", "left"), ("spent", "right"), ("reserved now", "right"), ("sessions", "right"),
        ("records", "right")]
    if spooled.records:
        columns.append(("spooled", "right"))
    for col, just in columns:
        table.add_column(col, justify=just)
    for r in rows:
        cells = [r["tenant"], format_usd(r["spent_usd"]), format_usd(r["reserved_usd"]),
                 str(r["sessions"]), str(r["records"])]
        table.add_row(*cells, *([format_usd(r["spooled_usd"])] if spooled.records else []))
    out.print(table)
    if spooled.records or spooled.unreadable:
        err.print(f"[yellow]spooled:[/] {format_usd(spooled.usd)} in {spooled.records} "
                  "record(s) the ledger could not take, not in the totals above "
                  f"({spooled.directory}); "
                  "run `costmodel ledger flush` once the ledger is back"
                  + (f"; {spooled.unreadable} unreadable line(s) there"
                     if spooled.unreadable else ""), soft_wrap=True)


def _show_spool_only(url: str, spool: Path | None, exc: LedgerError, json_: bool) -> None:
    """The ledger cannot be opened (it is down): what its spool holds is still worth saying."""
    from ..ledger import Spool
    from ..ledger.url import ledger_key

    key = ledger_key(url)
    if key is None:
        return
    try:
        spooled = Spool(None, spool, key=key).summary()
    except LedgerError:
        return
    if json_:
        print_json({"ledger": mask_url(url), "error": str(exc),
                    "spooled": {"directory": str(spooled.directory),
                                "records": spooled.records, "usd": spooled.usd,
                                "usd_exact": format(spooled.usd, "f"),
                                "unreadable_lines": spooled.unreadable,
                                "by_tenant": spooled.by_scope}})
    else:
        err.print(f"[yellow]spooled while the ledger is unreachable:[/] "
                  f"{format_usd(spooled.usd)} in {spooled.records} record(s) "
                  f"({spooled.directory})", soft_wrap=True)


@app.command("flush")
@handle_errors
def flush(ledger: LedgerOpt = None, spool: SpoolOpt = None, json_: JsonOpt = False) -> None:
    """Commit the spend guards spooled while the ledger was down.

    Safe to run at any time, any number of times: the ledger stores each record once. Exits 1
    if anything is still spooled (the ledger failed again, or lines need a person's look).
    """
    from ..ledger import Spool, open_ledger

    with open_ledger(_url(ledger)) as store:
        box = Spool(store, spool)
        report = box.flush()
        left = box.summary()
    if json_:
        print_json({"directory": str(box.directory), "committed": report.committed,
                    "already_in_ledger": report.already,
                    "committed_usd": report.committed_usd,
                    "committed_usd_exact": format(report.committed_usd, "f"),
                    "remaining": left.records, "remaining_usd": left.usd,
                    "conflicts": report.conflicts, "unreadable_lines": left.unreadable,
                    "error": report.error})
    else:
        out.print(f"committed {report.committed} spooled record(s), "
                  f"{format_usd(report.committed_usd)}, from {box.directory}"
                  + (f" ({report.already} more were in the ledger already)"
                     if report.already else ""), soft_wrap=True)
        if left.records or left.unreadable:
            why = report.error or (f"{report.conflicts} record(s) conflict with the ledger's"
                                   if report.conflicts else "")
            err.print(f"[yellow]still spooled:[/] {left.records} record(s), {format_usd(left.usd)}"
                      + (f"; {left.unreadable} unreadable line(s)" if left.unreadable else "")
                      + (f" ({why})" if why else ""), soft_wrap=True)
    if left.records or left.unreadable:
        raise typer.Exit(1)
