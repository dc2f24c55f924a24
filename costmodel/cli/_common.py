"""What every command shares: catalog loading, error handling, money and JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from ..catalog import Catalog
from ..errors import CostModelError

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

PricingOpt = Annotated[
    list[Path] | None,
    typer.Option("--pricing", help="Extra catalog directory or file (repeatable; later wins). "
                 "Also read from $COSTMODEL_PRICING.", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn our errors into one clear line on stderr and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CostModelError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:  # `costmodel ... | head`
            sys.stderr.close()
            raise typer.Exit(0) from None

    return wrapper  # type: ignore[return-value]


def load_catalog(pricing: list[Path] | None, *, quiet: bool = False) -> Catalog:
    """The catalog with user directories applied; overrides are reported on stderr."""
    catalog = Catalog.load(pricing or ())
    if not quiet:
        for o in catalog.overrides:
            err.print(f"[yellow]note:[/] {o.id} from {o.by} overrides {o.replaced} "
                      f"({', '.join(o.fields) or 'no fields'})")
    return catalog


def usd(value: Decimal | None, places: int = 6) -> str:
    """Money for display, rounded once, here."""
    if value is None:
        return "unknown"
    return f"${value:,.{places}f}"


def rate_str(value: Decimal) -> str:
    """A rate without trailing zeros: 0.40 -> 0.4, 32 -> 32."""
    # Round for display only: rates derived by division (per minute from per second) would
    # otherwise print 28 digits.
    return format(value.quantize(Decimal("1e-12")).normalize(), "f")


def num(value: Decimal | None) -> float | None:
    """A JSON number for a Decimal (exact strings are emitted alongside where it matters)."""
    return None if value is None else float(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default) + "\n")


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return float(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
