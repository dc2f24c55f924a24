"""`costmodel ledger show`: spend and live reservations, from any ledger backend."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer
from rich.table import Table

from ..errors import InputError
from ..ledger import open_ledger, period_start
from ._common import JsonOpt, handle_errors, out, print_json, usd

app = typer.Typer(help="Inspect the spend ledger.", no_args_is_help=True)

LEDGER_ENV = "COSTMODEL_LEDGER"


@app.command("show")
@handle_errors
def show(
    ledger: Annotated[str | None, typer.Option(
        help=f"Ledger URL: sqlite:///file.db, redis://host:port/db (default: ${LEDGER_ENV}).",
        show_default=False)] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (scope).",
                                               show_default=False)] = None,
    period: Annotated[Literal["day", "month", "all"], typer.Option(
        help="Spend since the start of the current UTC day or month, or all of it.")] = "day",
    json_: JsonOpt = False,
) -> None:
    """Spend per tenant for the period, and the budget held by live reservations."""
    url = ledger or os.environ.get(LEDGER_ENV)
    if not url:
        raise InputError(f"give --ledger URL (or set ${LEDGER_ENV})")
    since = period_start(period)
    with open_ledger(url) as store:
        scopes = [tenant] if tenant else store.scopes()
        rows = []
        for scope in scopes:
            records = store.records(scope=scope)
            in_period = [r for r in records if since is None or r.at >= since]
            rows.append({
                "tenant": scope,
                "spent_usd": store.spent(scope=scope, since=since),
                "reserved_usd": store.reserved(scope=scope),
                "sessions": len({r.session_id for r in in_period}),
                "records": len(in_period),
            })
    if json_:
        print_json({"ledger": url.split("@")[-1], "period": period,
                    "since": since.isoformat() if since else None,
                    "tenants": [{**r, "spent_usd_exact": format(r["spent_usd"].normalize(), "f")}
                                for r in rows]})
        return
    title = f"spend since {since:%Y-%m-%d %H:%M} UTC" if since else "all spend"
    table = Table(title=title, title_justify="left")
    for col, just in (("tenant", "left"), ("spent", "right"), ("reserved now", "right"),
                      ("sessions", "right"), ("records", "right")):
        table.add_column(col, justify=just)
    for r in rows:
        table.add_row(r["tenant"], usd(r["spent_usd"]), usd(r["reserved_usd"]),
                      str(r["sessions"]), str(r["records"]))
    out.print(table)
