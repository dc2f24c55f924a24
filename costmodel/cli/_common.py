"""What every command shares: catalog loading, error handling, money and JSON output."""

from __future__ import annotations

import functools
import json
import math
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer

from .._files import MB, clip, read_lines
from ..errors import (
    CostModelError,
    InputError,
    ModelShutDownWarning,
    ScenarioError,
    UnknownModelError,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ..core.catalog import Catalog
    from ..ledger import Ledger


class _LazyConsole:
    """A rich `Console`, made on first use: `--json` and `--help` print through none, and
    importing rich's console and markup costs ~25 ms of every run."""

    def __init__(self, **options: Any) -> None:
        self._options = options

    @functools.cached_property
    def rich(self) -> Console:
        from rich.console import Console

        return Console(**self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich, name)


# No emoji codes: ":x:" in quoted input (/etc/passwd has "root:x:0") would print as an emoji.
out = _LazyConsole(highlight=False, soft_wrap=False, emoji=False)
err = _LazyConsole(stderr=True, highlight=False, emoji=False)


def escape(text: str) -> str:
    """`rich.markup.escape` (loaded on first use, as the consoles are)."""
    from rich.markup import escape

    return escape(text)


def new_table(*args: Any, **kwargs: Any) -> Table:
    """A `rich.table.Table` (loaded on first use, as the consoles are)."""
    from rich.table import Table

    return Table(*args, **kwargs)

PricingOpt = Annotated[
    list[Path] | None,
    typer.Option("--pricing", help="Extra catalog directory or file (repeatable; later wins). "
                 "Also read from $COSTMODEL_PRICING.", show_default=False, metavar="PATH"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

F = TypeVar("F", bound=Callable[..., Any])


# The command line's exit codes, decided here only: 2 when what the user gave cannot be used
# as given (an unknown model id, bad arguments or input files, an invalid scenario), 1 for
# every other CostModelError (an invalid catalog, a rate not known, a budget refused, a ledger
# down). The first class in an error's MRO that is listed wins.
EXIT_CODES: dict[type[CostModelError], int] = {
    UnknownModelError: 2, InputError: 2, ScenarioError: 2, CostModelError: 1}


def exit_code(exc: CostModelError) -> int:
    """The exit code for `exc` (`EXIT_CODES`)."""
    return next(EXIT_CODES[c] for c in type(exc).__mro__ if c in EXIT_CODES)


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Our warnings as one `note:` line each (once per text), not a Python warning with a
    file and line number; anything else as Python would have shown it."""
    seen: set[str] = set()
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, ModelShutDownWarning):
            if text not in seen:
                seen.add(text)
                err.print(f"[yellow]note:[/] {escape(text)}", highlight=False)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def handle_errors(fn: F) -> F:
    """Turn our errors into one clear line on stderr and their exit code (`EXIT_CODES`), and
    our warnings into notes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                return fn(*args, **kwargs)
        except CostModelError as exc:
            # Messages quote user input (ids, names, paths): "[/x]" in one is not markup.
            err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
            raise typer.Exit(exit_code(exc)) from None
        except BrokenPipeError:  # `costmodel ... | head`
            sys.stderr.close()
            raise typer.Exit(0) from None
        finally:
            _show_warnings(caught)

    return wrapper  # type: ignore[return-value]


def load_catalog(pricing: list[Path] | None, *, quiet: bool = False) -> Catalog:
    """The catalog with user directories applied; overrides are reported on stderr."""
    from ..core.catalog import Catalog

    catalog = Catalog.load(pricing or ())
    if not quiet:
        for o in catalog.overrides:
            err.print("[yellow]note:[/] " + escape(
                f"{o.id} from {o.by} overrides {o.replaced} "
                f"({', '.join(o.fields) or 'no fields'})"))
    return catalog


def num(value: Decimal | None) -> float | None:
    """A JSON number for a Decimal (exact strings are emitted alongside where it matters)."""
    return None if value is None else float(value)


def print_json(data: Any, rows: Mapping[str, JsonRows] | None = None) -> None:
    """Print `data` as JSON. Infinity and NaN are not JSON (a strict parser rejects the whole
    document), so a non-finite number is refused here, naming where it is, never printed.

    `rows` streams long lists: each named top-level key's value is the list in its
    `JsonRows`, whose items are already formatted. The text is what ``json.dumps(data,
    indent=2)`` would print with those lists in place.
    """
    rows = rows or {}
    try:
        if not rows:
            sys.stdout.write(json.dumps(data, indent=2, default=_default, allow_nan=False)
                             + "\n")
            return
        # Everything else is formatted first, so a refused value prints nothing at all.
        parts = {k: None if k in rows else json.dumps(v, indent=2, default=_default,
                                                       allow_nan=False).replace("\n", "\n  ")
                 for k, v in data.items()}
    except ValueError:
        where = _non_finite(data, "$") or "a value"
        raise CostModelError(f"refusing to print {where}: it is not a finite number "
                             "(inputs are validated, so this is a bug: please report it)") from None
    write = sys.stdout.write
    write("{")
    for i, (key, text) in enumerate(parts.items()):
        write(f"{',' if i else ''}\n  {json.dumps(key)}: ")
        if text is None:
            rows[key].write_list(sys.stdout)
        else:
            write(text)
    write("\n}\n")


class JsonRows:
    """The items of one long JSON list, kept in a temporary file once they pass a few MB, so
    printing a long list does not hold it in memory.

    `item_text(n, item)` formats the n-th item (from 1) as ``json.dumps(data, indent=2)``
    prints an item of a top-level list. Items are formatted a thousand at a time: in a
    tight loop that costs half what it does one at a time between other work.
    """

    def __init__(self, item_text: Callable[[int, Any], str]) -> None:
        self.count = 0
        self._item_text = item_text
        self._batch: list[Any] = []
        self._spool = tempfile.SpooledTemporaryFile(max_size=4 * MB, mode="w+",  # noqa: SIM115
                                                    encoding="utf-8")

    def append(self, item: Any) -> None:
        self._batch.append(item)
        self.count += 1
        if len(self._batch) == 1000:
            self._flush()

    def _flush(self) -> None:
        batch = self._batch
        if batch:
            first = self.count - len(batch) + 1
            text = ",\n".join([self._item_text(n, item) for n, item in enumerate(batch, first)])
            self._spool.write(",\n" + text if first > 1 else text)
            batch.clear()

    def write_list(self, out: TextIO) -> None:
        if not self.count:
            out.write("[]")
            return
        self._flush()
        out.write("[\n")
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, out, 1 * MB)
        self._spool.close()
        out.write("\n  ]")


def _non_finite(data: Any, path: str) -> str | None:
    if isinstance(data, dict):
        return next((p for k, v in data.items() if (p := _non_finite(v, f"{path}.{k}"))), None)
    if isinstance(data, list | tuple):
        return next((p for i, v in enumerate(data) if (p := _non_finite(v, f"{path}[{i}]"))),
                    None)
    if isinstance(data, Decimal) and not data.is_finite():
        return path
    if isinstance(data, float | Decimal):  # (a finite Decimal past 1.8e308 is an inf float)
        return None if math.isfinite(float(data)) else path
    return None


def finite(lo: float, hi: float) -> Callable[[Any], float]:
    """A parser for a numeric option: a finite number from `lo` to `hi`.

    click's own ranges compare, and every comparison with NaN is false, so `nan` passed any
    bound and `inf` passed a lower one; both then reached the totals.
    """
    def parse(value: Any) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"expected a number, got {clip(repr(value))}") from None
        if not (math.isfinite(x) and lo <= x <= hi):
            raise typer.BadParameter(f"must be a finite number from {lo:g} to {hi:g}, "
                                     f"got {clip(str(value))}")
        return x

    return parse


@contextmanager
def event_lines(file: str) -> Iterator[Iterator[str]]:
    """The lines of a recorded session (a path, or - for stdin), each read within a bound, so
    a file with no line breaks (/dev/zero) fails at once instead of filling memory."""
    def fail(msg: str) -> InputError:
        return InputError(f"{file}: {msg}")

    if file == "-":
        yield read_lines(sys.stdin.buffer, fail=fail)
        return
    path = Path(file)
    if path.is_dir():
        raise InputError(f"{file} is a directory; give a JSONL file of recorded events")
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after the caller is done
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except OSError as exc:
        raise InputError(f"{file}: cannot read: {exc.strerror or exc}") from None
    with fh:
        yield read_lines(fh, fail=fail)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return float(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


@contextmanager
def existing_ledger(url: str) -> Iterator[Ledger]:
    """The ledger at `url`, opened to read: a SQLite file that does not exist is an
    `InputError` (a typo must not create an empty ledger that then reads as $0 spent)."""
    from ..errors import LedgerError
    from ..ledger import open_ledger
    from ..ledger.url import ledger_key

    try:
        key = ledger_key(url)
    except LedgerError as exc:
        raise InputError(f"--ledger: {exc}") from None
    if key is not None and key.startswith("sqlite:") and not Path(key[7:]).is_file():
        raise InputError(f"--ledger: {url}: no such ledger file")   # (never create one)
    with open_ledger(url) as store:
        yield store
