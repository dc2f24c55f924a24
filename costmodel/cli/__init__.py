"""The `costmodel` command line: a thin layer over the library's public API.

Its modules import the library inside each command, not at the top: building the command
line (and drawing `--help`) then loads typer and rich only, not numpy, the guard's relay or
the ledgers (`_bounds` repeats the few limits the options show).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .._files import TEXT_LIMIT, read_text
from ..errors import InputError
from . import guard, ledger, prices
from ._bounds import DEFAULT_ENCODING
from ._common import JsonOpt, handle_errors, out, print_json
from .capacity import capacity_cmd
from .check import check_cmd
from .estimate import compare_cmd, curve_cmd, estimate_cmd
from .events import price_events_cmd
from .fit import fit_cmd
from .margins import export_usage_cmd, margins_cmd
from .reconcile import reconcile_cmd
from .replay import replay_cmd
from .webhooks import serve_webhooks_cmd

app = typer.Typer(
    help="What voice AI agents cost: price catalog, session pricing, estimates, budget guard.",
    no_args_is_help=True,
    # Plain help: typer's rich help renderer alone costs ~2.4x `import typer, rich` at every
    # start (bench/bench_startup.py), and the help reads as well without boxes.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(prices.app, name="prices")
app.command("price-events")(price_events_cmd)
app.command("estimate")(estimate_cmd)
app.command("compare")(compare_cmd)
app.command("curve")(curve_cmd)
app.command("capacity")(capacity_cmd)
app.command("fit")(fit_cmd)
app.add_typer(guard.app, name="guard")
guard.app.command("replay")(replay_cmd)
app.add_typer(ledger.app, name="ledger")
app.command("reconcile")(reconcile_cmd)
app.command("margins")(margins_cmd)
app.command("export-usage")(export_usage_cmd)
app.command("check")(check_cmd)
app.command("serve-webhooks")(serve_webhooks_cmd)


@app.command("tokens")
@handle_errors
def tokens_cmd(
    file: Annotated[str, typer.Argument(help="UTF-8 text file (at most 16 MB), or - for "
                                        "stdin.")] = "-",
    encoding: Annotated[str, typer.Option(help="tiktoken encoding.")] = DEFAULT_ENCODING,
    json_: JsonOpt = False,
) -> None:
    """Count tokens with tiktoken (works offline for o200k_base and cl100k_base)."""
    from ..core.tokens import count_tokens

    text = read_text(sys.stdin.buffer if file == "-" else file, limit=TEXT_LIMIT,
                     fail=lambda msg: InputError(f"{file}: {msg}"))
    n = count_tokens(text, encoding)
    if json_:
        print_json({"file": file, "encoding": encoding, "tokens": n, "characters": len(text)})
    else:
        out.print(f"{n} tokens ({encoding}, {len(text)} characters)")


def main() -> None:
    """Console-script entry point."""
    app()
