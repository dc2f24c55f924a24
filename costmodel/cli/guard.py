"""`costmodel guard ...`: the runtime budget guard (`serve`: a metering websocket relay)."""

from __future__ import annotations

import contextlib
import os
import signal
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ..errors import CostModelError, InputError
from ..money import format_usd
from ._common import err, handle_errors, out

app = typer.Typer(help="Meter live realtime sessions and cut them before they overspend.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command("serve")
@handle_errors
def serve_cmd(
    upstream: Annotated[str, typer.Option(
        help="Provider websocket URL; the client's path and query are appended "
             "(e.g. wss://api.openai.com). Credentials in it are masked in all output; prefer "
             "--upstream-auth-env.", show_default=False)],
    limit_usd: Annotated[str | None, typer.Option(
        "--limit-usd", help="Per-session limit in USD (without --auth-tokens).",
        show_default=False)] = None,
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:8765",
    auth_tokens: Annotated[Path | None, typer.Option(
        help="Token file: one 'TOKEN SCOPE LIMIT_USD' per line (or YAML). Clients must send "
             "'Authorization: Bearer TOKEN' or the subprotocol costmodel-token.TOKEN; the "
             "token picks the tenant scope and the session limit.", show_default=False)] = None,
    upstream_auth_env: Annotated[str | None, typer.Option(
        help="Environment variable holding the provider key (e.g. OPENAI_API_KEY): the relay "
             "sends 'Authorization: Bearer <key>' upstream (Gemini Live: 'x-goog-api-key: "
             "<key>'), clients send no provider key.", show_default=False)] = None,
    protocol: Annotated[str, typer.Option(
        help="openai-realtime, gemini-live, or auto (Gemini Live when --upstream is a "
             "BidiGenerateContent endpoint).")] = "auto",
    warn_at: Annotated[str, typer.Option(help="Share of the limit at which to warn.")] = "0.8",
    spend_log: Annotated[Path | None, typer.Option(
        help="Append one JSON line per finished session to this file.",
        show_default=False)] = None,
    ledger: Annotated[str | None, typer.Option(
        help="Spend ledger URL: memory, sqlite:///path.db (relative), sqlite:////abs.db or "
             "redis://host:6379/0.", show_default=False)] = None,
    spool: Annotated[Path | None, typer.Option(
        help="Directory for spend the ledger could not take (default: $COSTMODEL_SPOOL_DIR, "
             "else the user cache directory); 'costmodel ledger flush' commits it.",
        show_default=False)] = None,
    model: Annotated[str | None, typer.Option(
        help="Model id (default: from each session's own events).", show_default=False)] = None,
    on_ledger_error: Annotated[str, typer.Option(
        help="fail_open (keep relaying, log loudly) or fail_closed (cut the session).")
    ] = "fail_open",
    max_sessions: Annotated[int | None, typer.Option(
        help="Sessions at once; over it a client gets HTTP 503. Default: a quarter of the "
             "free file descriptors (each session holds 2), at most 1000.",
        show_default=False)] = None,
    idle_timeout: Annotated[float, typer.Option(
        help="Close a session after this many seconds without a frame either way (0: "
             "never).")] = 120.0,
    handshake_timeout: Annotated[float, typer.Option(
        help="Seconds a new connection has to send its upgrade request.")] = 5.0,
    max_frame_bytes: Annotated[str, typer.Option(
        help="Largest client message (e.g. 4MiB, 512KiB); a bigger one closes the session "
             "(1009).")] = "4MiB",
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus metrics at http://METRICS_HOST:PORT/metrics.", min=0,
        max=65535, show_default=False)] = None,
    metrics_host: Annotated[str, typer.Option(
        help="Address for --metrics-port (metrics name tenants and spend).")] = "127.0.0.1",
    compression: Annotated[bool, typer.Option(
        help="Negotiate permessage-deflate with clients that offer it (and upstream).")
    ] = False,
    workers: Annotated[int, typer.Option(
        help="Relay processes sharing the port (SO_REUSEPORT; Linux): the kernel spreads "
             "sessions over them. Each has its own sessions; spend and tenant budgets are "
             "shared through --ledger (give a SQLite or Redis one). Metrics: worker i serves "
             "--metrics-port + i.", min=1, max=64)] = 1,
    ladder: Annotated[str | None, typer.Option(
        "--ladder", metavar="FILE|default",
        help="Guard policy file (YAML): 'ladder:' steps between warn and cut (lower "
             "max_output_tokens, tighten truncation, drop old turns, wrap up, end), each at a "
             "share of the session limit, and 'hangup:' timers; 'default' for the built-in "
             "ladder.", show_default=False)] = None,
    silence_timeout: Annotated[float | None, typer.Option(
        help="End a call after this many seconds without user speech, as the provider's VAD "
             "reports it (spend log end: silence, close code 4009).", min=0.001,
        show_default=False)] = None,
    hold_timeout: Annotated[float | None, typer.Option(
        help="End a call after this many seconds of client audio the provider hears no "
             "speech in, as on hold (end: hold, close code 4010). Default: "
             "--silence-timeout decides then too.", min=0.001, show_default=False)] = None,
    max_call_minutes: Annotated[float | None, typer.Option(
        help="End a call this long after it started (end: max_length, close code 4011), "
             "asking the agent to wrap up 30 s before.", min=0.001, max=1440,
        show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each session's "
                                          "wrap-up, ladder steps and cut as they happen.")
                       ] = False,
) -> None:
    """Relay client <-> provider realtime traffic unchanged, metered; runs until Ctrl-C.

    Point the client at ws://HOST:PORT/<the provider path>?<query> with its usual headers.
    A session that would pass its limit is cut: the client gets close code 4002 (OpenAI
    Realtime clients an `error` event of type `budget_exceeded` first). Speaks OpenAI Realtime
    and Gemini Live (BidiGenerateContent).
    """
    import asyncio  # (here, as the relay is: `costmodel --help` loads neither)
    import logging

    from ..guard.relay import Relay, TokenTable, parse_listen
    from ..guard.relay.limits import parse_size, raise_fd_limit
    from ..guard.relay.protocols import protocol_for

    if on_ledger_error not in ("fail_open", "fail_closed"):
        raise InputError("--on-ledger-error must be fail_open or fail_closed")
    ledger_policy: Literal["fail_open", "fail_closed"] = (
        "fail_closed" if on_ledger_error == "fail_closed" else "fail_open")
    parse_listen(listen)  # a bad --listen exits 2 before anything starts
    _configure_logging(verbose)
    store = None
    try:  # bad arguments exit 2, before anything starts
        from ..ledger import open_ledger
        limit, warn = _limits(limit_usd, warn_at, tokens=auth_tokens is not None)
        auth = TokenTable.load(auth_tokens) if auth_tokens is not None else None
        wire = protocol_for(upstream, protocol)
        # Gemini API keys travel in their own header, as they are (no Bearer scheme).
        auth_header = "x-goog-api-key" if wire.name == "gemini-live" else "Authorization"
        upstream_auth = _upstream_auth(upstream_auth_env, bearer=auth_header == "Authorization")
        frame_bytes = parse_size(max_frame_bytes)
        steps, hangup = _guard_policy(ladder, silence_timeout, hold_timeout, max_call_minutes)
        raise_fd_limit()  # (the default session cap follows the fd limit)
        if ledger is not None:
            store = open_ledger(ledger)
        relay = Relay(upstream, limit, warn_at=warn, spend_log=spend_log, ledger=store,
                      spool=spool, model=model, on_ledger_error=ledger_policy,
                      on_session_end=_print_session, compression=compression, auth=auth,
                      upstream_auth=upstream_auth, max_sessions=max_sessions,
                      idle_timeout=idle_timeout, handshake_timeout=handshake_timeout,
                      max_frame_bytes=frame_bytes, protocol=wire.name,
                      upstream_auth_header=auth_header, ladder=steps, hangup=hangup)
    except CostModelError as exc:  # a ledger URL we cannot open
        if store is not None:
            store.close()
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc)) from None
    for handler in logging.getLogger().handlers:  # other libraries' lines too
        handler.addFilter(relay.log_filter())
    if workers > 1 and (ledger is None or ledger.strip().lower().startswith("memory")):
        err.print("[yellow]warning:[/] --workers without a shared --ledger: each worker "
                  "keeps its own spend, and tenant budgets are not shared", soft_wrap=True)
    try:
        if workers > 1:
            raise typer.Exit(_serve_workers(relay, listen, workers, metrics_host,
                                            metrics_port))
        asyncio.run(_run(relay, listen, metrics_host, metrics_port))
    except OSError as exc:  # the address is in use, not ours...
        err.print(f"[bold red]error:[/] cannot listen on {listen}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    finally:
        if store is not None:
            store.close()


def _configure_logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # websockets logs every connection at INFO
        logging.getLogger("websockets").setLevel(logging.WARNING)


def _limits(limit_usd: str | None, warn_at: str, *, tokens: bool) -> tuple[Decimal | None, Decimal]:
    """--limit-usd and --warn-at checked (InputError): the session limit (None with
    --auth-tokens, whose lines set it) and the share of it at which to warn."""
    from ..guard.relay.limits import session_limit

    limit = session_limit(limit_usd, "--limit-usd") if limit_usd is not None else None
    try:
        warn = Decimal(warn_at)
    except InvalidOperation:
        raise InputError(f"--warn-at must be a number, got {warn_at!r}") from None
    if not tokens and limit is None:
        raise InputError("give --limit-usd (one limit for every session) or --auth-tokens "
                         "(a limit per token)")
    if tokens and limit is not None:
        raise InputError("--limit-usd and --auth-tokens: with tokens, each token's line "
                         "sets the session limit; drop --limit-usd")
    if not warn.is_finite() or not 0 < warn <= 1:
        raise InputError(f"--warn-at must be in (0, 1], got {warn_at!r}")
    return limit, warn


def _guard_policy(path: str | None, silence: float | None, hold: float | None,
                  max_minutes: float | None) -> tuple[Any, Any]:
    """The ladder (--ladder FILE|default) and the hang-up timers (the file's ``hangup:``, each
    overridden by its flag); InputError (LadderError) for a bad file."""
    from ..guard.idle import Hangup
    from ..guard.policyfile import GuardPolicy, load_policy

    policy = load_policy(path) if path is not None else GuardPolicy()
    base = policy.hangup or Hangup()
    hangup = Hangup(silence if silence is not None else base.silence_seconds,
                    hold if hold is not None else base.hold_seconds,
                    max_minutes * 60 if max_minutes is not None else base.max_call_seconds,
                    base.wrap_up_before_seconds)
    return policy.ladder, hangup if hangup.any else None


def _upstream_auth(env_name: str | None, bearer: bool = True) -> str | None:
    """The key in the environment variable `env_name` (InputError if unset), as 'Bearer
    <key>' when `bearer`."""
    if env_name is None:
        return None
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise InputError(f"--upstream-auth-env {env_name}: that environment variable is not "
                         "set or is empty")
    if not bearer or value.lower().startswith("bearer "):
        return value
    return f"Bearer {value}"


def _serve_workers(relay, listen: str, workers: int, metrics_host: str,
                   metrics_port: int | None) -> int:
    """Run `workers` processes on one port (forked from this one, each with the relay as
    configured here); the exit code is the worst of theirs."""
    import multiprocessing
    import socket

    from ..guard.relay import parse_listen

    host, port = parse_listen(listen)
    if port == 0:  # one port for all: pick it here
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    listen = f"{_show(host)}:{port}"
    ctx = multiprocessing.get_context("fork")  # (before any event loop or thread exists)
    procs = [ctx.Process(target=_worker, name=f"costmodel-relay-{i}", args=(
        relay, listen, metrics_host, None if metrics_port is None else metrics_port + i, i))
        for i in range(workers)]
    for proc in procs:
        proc.start()
    err.print(f"costmodel guard: {workers} workers on ws://{listen} (pids "
              f"{', '.join(str(p.pid) for p in procs)})", soft_wrap=True, markup=False)
    # An INT or TERM here is passed on to every worker, each of which closes its sessions
    # (with Ctrl-C they also get it from the terminal: a second stop is harmless).
    def stop(*_: object) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for proc in procs:
        proc.join()
    return max((p.exitcode or 0) if (p.exitcode or 0) >= 0 else 0 for p in procs)


def _worker(relay, listen: str, metrics_host: str, metrics_port: int | None, i: int) -> None:
    import asyncio

    try:
        asyncio.run(_run(relay, listen, metrics_host, metrics_port, reuse_port=True, worker=i))
    except KeyboardInterrupt:
        pass
    except (OSError, CostModelError) as exc:
        err.print(f"[bold red]error:[/] worker {i}: {exc}")
        raise SystemExit(2) from None


async def _run(relay, listen: str, metrics_host: str, metrics_port: int | None, *,
               reuse_port: bool = False, worker: int | None = None) -> None:
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    host, port = await relay.start(listen, reuse_port=reuse_port)
    try:
        metrics = ""
        if metrics_port is not None:
            try:
                mhost, mport = await relay.serve_metrics(metrics_host, metrics_port)
            except OSError as exc:
                raise InputError(f"--metrics-port {metrics_port}: cannot listen on "
                                 f"{metrics_host}: {exc.strerror or exc}") from None
            metrics = f"  metrics http://{_show(mhost)}:{mport}/metrics"
        lim = relay.limits
        who = (f"{len(relay.auth)} token(s), limit per token" if relay.auth is not None
               else f"no client auth, limit ${relay.limit_usd} per session")
        idle = f"idle {lim.idle_timeout:g} s" if lim.idle_timeout else "no idle timeout"
        if relay.ladder is not None:
            idle += f", ladder of {len(relay.ladder.steps)} steps ({relay.ladder.source})"
        if relay.hangup is not None:
            h = relay.hangup
            idle += "".join(f", {name} {v:g} s" for name, v in (
                ("silence", h.silence_seconds), ("hold", h.hold_seconds),
                ("max call", h.max_call_seconds)) if v is not None)
        name = "costmodel guard" if worker is None else f"costmodel guard worker {worker}"
        err.print(f"{name}: ws://{_show(host)}:{port} -> {relay.upstream_display}  "
                  f"{who}  max {lim.max_sessions} sessions, {idle}{metrics}  (Ctrl-C to stop)",
                  soft_wrap=True, markup=False)
        await stop.wait()
    finally:
        err.print("costmodel guard: closing open sessions...")
        await relay.close()
        err.print(f"costmodel guard: {relay.sessions_done} session(s) relayed")


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _print_session(rec: dict) -> None:
    from decimal import Decimal
    cut = next((d for d in rec["decisions"] if d["action"] == "cut"), None)
    note = f"  cut: {cut['reason']}" if cut else ""
    steps = [s["step"] for s in rec.get("ladder", []) if s.get("applied")]
    note += f"  ladder: {', '.join(steps)}" if steps else ""
    setup = rec.get("setup")
    if setup:
        note += f"  set-up {format_usd(Decimal(setup['first_response_usd']))}"
    out.print(f"{rec['ended_at'][:19]}  {rec['session_id'][:12]}  {rec['model'] or '?'}  "
              f"{format_usd(Decimal(rec['spent_usd']))} of "
              f"{format_usd(Decimal(rec['limit_usd']), 2)}  "
              f"{rec['responses']} responses  {rec['end']}{note}", markup=False, soft_wrap=True)
