"""`costmodel serve-webhooks`: admit Vapi and Retell calls against tenant budgets, and record
what they cost (`costmodel.webhooks`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from ..errors import CostModelError, InputError, UsageError
from ._common import PricingOpt, err, escape, handle_errors, load_catalog, out

if TYPE_CHECKING:
    from ..estimation import Scenario
    from ..webhooks import Budgets, Forecast


def _secret(option: str, name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise InputError(f"{option} {name}: the environment variable is not set (or empty)")
    return value


def _budgets(budgets: Path | None, tenant_budget: str | None, period: str,
             vapi_assistant_id: str | None, retell_agent_id: str | None) -> Budgets:
    from ..money import to_usd
    from ..webhooks import Budgets, load_budgets
    from ..webhooks.budgets import MAX_BUDGET_USD

    if (budgets is None) == (tenant_budget is None):
        raise InputError("give --budgets FILE (tenants, their numbers and budgets) or "
                         "--tenant-budget USD (every called number its own tenant), not both")
    if budgets is not None:
        return load_budgets(budgets, vapi_assistant_id=vapi_assistant_id,
                            retell_agent_id=retell_agent_id)
    if period not in ("day", "month", "all"):
        raise InputError(f"--period must be day, month or all, not {period!r}")
    when: Literal["day", "month", "all"] = "day" if period == "day" else (
        "all" if period == "all" else "month")
    try:
        usd = to_usd(tenant_budget, "--tenant-budget", allow_text=True, positive=True,
                     maximum=MAX_BUDGET_USD)
    except UsageError as exc:
        raise InputError(str(exc)) from None
    return Budgets.uniform(usd, when, vapi_assistant_id=vapi_assistant_id,
                           retell_agent_id=retell_agent_id)


def _default_stack(sc: Scenario, stack: str | None) -> str:
    from ..estimation import stack_id

    ids = [stack_id(s) for s in sc.stacks]
    if stack is not None:
        return stack
    if len(ids) == 1:
        return ids[0]
    raise InputError(f"{sc.file}: the scenario has {len(ids)} stacks: name the one calls run "
                     f"on with --stack ({', '.join(ids)})")


def _banner(url: str, forecasts: dict[str, Forecast], default: str, budgets: Budgets,
            platforms: list[str]) -> None:
    from ..money import format_usd

    out.print(f"serving webhooks on {url}: " + ", ".join(
        f"{p} at {url}/{p}" for p in platforms), soft_wrap=True)
    for stack, f in forecasts.items():
        mark = " (default)" if stack == default else ""
        out.print(f"  {escape(stack)}{mark}: holds {format_usd(f.p95_usd)} a call (P95 of "
                  f"{f.calls_simulated:,} simulated calls of {escape(f.scenario)}; mean "
                  f"{format_usd(f.mean_usd)})", soft_wrap=True)
    if budgets.uniform_usd is not None:
        out.print(f"  every called number is a tenant with ${budgets.uniform_usd} a "
                  f"{budgets.period}")
    else:
        out.print(f"  {len(budgets.tenants)} tenant(s) from {escape(budgets.source)}, budgets "
                  f"per {budgets.period}")
    for tenant in budgets.tenants.values():
        f = forecasts[tenant.stack or default]
        if f.p95_usd > tenant.budget_usd:
            err.print(f"[yellow]warning:[/] tenant {escape(tenant.name)}: a call's hold "
                      f"{format_usd(f.p95_usd)} is more than its whole budget "
                      f"(${tenant.budget_usd}): every call will be refused", soft_wrap=True)


@handle_errors
def serve_webhooks_cmd(
    scenario: Annotated[Path, typer.Option(
        help="Scenario YAML: a call's hold is its P95 cost per call for the stack.",
        show_default=False)],
    ledger: Annotated[str, typer.Option(
        help="Spend ledger URL: sqlite:///path.db, sqlite:////abs.db or redis://host:6379/0 "
             "(shared by every worker and by the guard).", show_default=False)],
    budgets: Annotated[Path | None, typer.Option(
        help="Budgets YAML: tenants, their budgets, the numbers that are their calls, the "
             "Vapi assistant / Retell agent admitted calls get.", show_default=False)] = None,
    tenant_budget: Annotated[str | None, typer.Option(
        "--tenant-budget", help="Instead of --budgets: every called number is its own tenant "
        "with this budget in USD per --period.", show_default=False)] = None,
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:8088",
    secret_env: Annotated[str | None, typer.Option(
        help="Environment variable holding the Vapi server secret (sent as X-Vapi-Secret or "
             "Authorization: Bearer). Without it /vapi refuses every request.",
        show_default=False)] = None,
    retell_key_env: Annotated[str | None, typer.Option(
        help="Environment variable holding the Retell API key that signs webhooks (the one "
             "with the webhook badge). Without it /retell refuses every request.",
        show_default=False)] = None,
    pricing: PricingOpt = None,
    stack: Annotated[str | None, typer.Option(
        help="The stack calls run on (default: the scenario's only stack); a tenant's "
             "'stack:' overrides it.", show_default=False)] = None,
    period: Annotated[str, typer.Option(
        help="With --tenant-budget: day, month or all (a budgets file says its own).")
    ] = "month",
    vapi_assistant_id: Annotated[str | None, typer.Option(
        help="The Vapi assistant admitted calls get, for tenants naming none.",
        show_default=False)] = None,
    retell_agent_id: Annotated[str | None, typer.Option(
        help="The Retell agent admitted calls get, for tenants naming none (default: the "
             "number's own inbound agent).", show_default=False)] = None,
    hold_seconds: Annotated[float, typer.Option(
        help="A hold lapses this long after admission if no end-of-call report pays it.",
        min=1.0, max=7 * 86400.0)] = 3600.0,
    on_ledger_error: Annotated[str, typer.Option(
        help="fail_open (admit without a hold, log loudly) or fail_closed (refuse calls) "
             "while the ledger is down; reported costs go to the spool either way.")
    ] = "fail_open",
    spool: Annotated[Path | None, typer.Option(
        help="Directory for spend the ledger could not take (default: $COSTMODEL_SPOOL_DIR, "
             "else the user cache directory).", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every decision and "
                                          "report, and every request.")] = False,
) -> None:
    """Answer Vapi assistant-request and Retell inbound webhooks with admit or reject, and
    record their end-of-call costs in the ledger; runs until Ctrl-C.

    A call is admitted when its tenant's budget can still hold the scenario's P95 cost per
    call; the hold is paid by the call's end-of-call report (one ledger record per cost
    line, the platform fee also priced from the catalog) or lapses after --hold-seconds.
    """
    import logging

    import uvicorn

    from ..estimation import load_scenario
    from ..guard.relay.server import is_loopback, parse_listen
    from ..ledger import open_ledger
    from ..webhooks import Admission, Ingestor, create_app, forecasts

    if on_ledger_error not in ("fail_open", "fail_closed"):
        raise InputError("--on-ledger-error must be fail_open or fail_closed")
    policy: Literal["fail_open", "fail_closed"] = (
        "fail_closed" if on_ledger_error == "fail_closed" else "fail_open")
    host, port = parse_listen(listen)
    vapi_secret = _secret("--secret-env", secret_env)
    retell_key = _secret("--retell-key-env", retell_key_env)
    if vapi_secret is None and retell_key is None:
        raise InputError("nothing to serve: give --secret-env (Vapi) and/or --retell-key-env "
                         "(Retell); a platform without one is refused every request")
    tenants = _budgets(budgets, tenant_budget, period, vapi_assistant_id, retell_agent_id)
    catalog = load_catalog(pricing)
    sc = load_scenario(scenario)
    default = _default_stack(sc, stack)
    held = forecasts(sc, [default, *tenants.stacks.values()], catalog)
    try:
        store = open_ledger(ledger)
    except CostModelError as exc:
        raise InputError(str(exc)) from None
    try:
        gate = Admission(store, tenants, held, default_stack=default, spool=spool,
                         on_ledger_error=policy, hold_seconds=hold_seconds)
        app = create_app(gate, Ingestor(gate, catalog), vapi_secret=vapi_secret,
                         retell_api_key=retell_key)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        _banner(url, held, default, tenants, [p for p, k in (("vapi", vapi_secret),
                                                             ("retell", retell_key)) if k])
        if not is_loopback(host):
            err.print("[yellow]note:[/] listening beyond this machine: put TLS in front "
                      "(the platforms call an https:// URL)", soft_wrap=True)
        logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        uvicorn.run(app, host=host, port=port, log_level="info" if verbose else "warning",
                    access_log=verbose)
    finally:
        store.close()
