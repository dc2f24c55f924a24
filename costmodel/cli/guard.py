"""`costmodel guard ...`: the runtime budget guard (`serve`: a metering websocket relay)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CostModelError, InputError
from ._common import err, handle_errors, out, usd

app = typer.Typer(help="Meter live realtime sessions and cut them before they overspend.",
                  no_args_is_help=True)


@app.command("serve")
@handle_errors
def serve_cmd(
    upstream: Annotated[str, typer.Option(
        help="Provider websocket URL; the client's path and query are appended "
             "(e.g. wss://api.openai.com).", show_default=False)],
    limit_usd: Annotated[str, typer.Option("--limit-usd", help="Per-session limit in USD.",
                                           show_default=False)],
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:8765",
    warn_at: Annotated[str, typer.Option(help="Share of the limit at which to warn.")] = "0.8",
    spend_log: Annotated[Path | None, typer.Option(
        help="Append one JSON line per finished session to this file.",
        show_default=False)] = None,
    ledger: Annotated[str | None, typer.Option(
        help="Spend ledger URL: memory, sqlite:///path.db (relative) or sqlite:////abs.db.",
        show_default=False)] = None,
    model: Annotated[str | None, typer.Option(
        help="Model id (default: from each session's own events).", show_default=False)] = None,
    on_ledger_error: Annotated[str, typer.Option(
        help="fail_open (keep relaying, log loudly) or fail_closed (cut the session).")
    ] = "fail_open",
    compression: Annotated[bool, typer.Option(
        help="Negotiate permessage-deflate with clients that offer it (and upstream).")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each session's "
                                          "wrap-up and cut as they happen.")] = False,
) -> None:
    """Relay client <-> provider realtime traffic unchanged, metered; runs until Ctrl-C.

    Point the client at ws://HOST:PORT/<the provider path>?<query> with its usual headers.
    A session that would pass --limit-usd is cut: the client gets an `error` event of type
    `budget_exceeded`, then close code 4002.
    """
    from ..relay import Relay, parse_listen

    if on_ledger_error not in ("fail_open", "fail_closed"):
        raise InputError("--on-ledger-error must be fail_open or fail_closed")
    parse_listen(listen)  # a bad --listen exits 2 before anything starts
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # websockets logs every connection at INFO
        logging.getLogger("websockets").setLevel(logging.WARNING)
    store = None
    try:  # bad arguments exit 2, before anything starts
        from decimal import Decimal, InvalidOperation

        from ..ledger import open_ledger
        limit, warn = Decimal(limit_usd), Decimal(warn_at)
        if not limit.is_finite() or limit <= 0:
            raise InputError(f"--limit-usd must be a positive amount, got {limit_usd!r}")
        if not warn.is_finite() or not 0 < warn <= 1:
            raise InputError(f"--warn-at must be in (0, 1], got {warn_at!r}")
        if ledger is not None:
            store = open_ledger(ledger)
    except InvalidOperation:
        raise InputError(f"--limit-usd and --warn-at must be numbers, got {limit_usd!r} and "
                         f"{warn_at!r}") from None
    except CostModelError as exc:  # a ledger URL we cannot open
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc)) from None
    relay = Relay(upstream, limit, warn_at=warn, spend_log=spend_log, ledger=store,
                  model=model, on_ledger_error=on_ledger_error, on_session_end=_print_session,
                  compression=compression)
    try:
        asyncio.run(_run(relay, listen))
    except OSError as exc:  # the address is in use, not ours...
        err.print(f"[bold red]error:[/] cannot listen on {listen}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    finally:
        if store is not None:
            store.close()


async def _run(relay, listen: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    host, port = await relay.start(listen)
    shown = f"[{host}]" if ":" in host else host
    err.print(f"costmodel guard: ws://{shown}:{port} -> {relay.upstream}  "
              f"limit ${relay.limit_usd} per session  (Ctrl-C to stop)", soft_wrap=True)
    try:
        await stop.wait()
    finally:
        err.print("costmodel guard: closing open sessions...")
        await relay.close()
        err.print(f"costmodel guard: {relay.sessions_done} session(s) relayed")


def _print_session(rec: dict) -> None:
    from decimal import Decimal
    cut = next((d for d in rec["decisions"] if d["action"] == "cut"), None)
    note = f"  cut: {cut['reason']}" if cut else ""
    out.print(f"{rec['ended_at'][:19]}  {rec['session_id'][:12]}  {rec['model'] or '?'}  "
              f"{usd(Decimal(rec['spent_usd']))} of {usd(Decimal(rec['limit_usd']), 2)}  "
              f"{rec['responses']} responses  {rec['end']}{note}", markup=False, soft_wrap=True)
