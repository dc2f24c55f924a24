"""The error hierarchy. Every error a user can cause is a `CostModelError`.

The CLI turns these into a one-line message and a meaningful exit code; library users
catch `CostModelError` (or a subclass) and never need to parse messages.
"""

from __future__ import annotations

from collections.abc import Sequence


class CostModelError(Exception):
    """Base class for every error costmodel raises on purpose."""

    exit_code = 1


class UnknownModelError(CostModelError, LookupError):
    """A model id (or alias) that no loaded catalog file defines.

    Carries the nearest known ids so the message can suggest them.
    """

    exit_code = 2

    def __init__(self, model: str, suggestions: Sequence[str] = ()) -> None:
        self.model = model
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown model {model!r}{hint}")


class UnknownRateError(CostModelError, LookupError):
    """Usage that the catalog has no rate for. Never priced as zero."""

    exit_code = 1

    def __init__(self, model: str, what: str, known: Sequence[str] = ()) -> None:
        self.model = model
        self.what = what
        self.known = tuple(known)
        listed = f" (it prices: {', '.join(self.known)})" if self.known else ""
        super().__init__(f"{model} has no known rate for {what}{listed}")


class NoPriceInForceError(CostModelError, LookupError):
    """The model's price history starts after the date being priced."""

    exit_code = 1


class CatalogError(CostModelError, ValueError):
    """A catalog file that cannot be read or does not validate.

    `path`, `line` and `field` say where; `line` is 1-based.
    """

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.line, self.field = path, line, field
        where = path or "<catalog>"
        if line is not None:
            where += f":{line}"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {message}")


class UsageError(CostModelError, ValueError):
    """A usage payload or `Usage` value that does not have the expected shape."""

    exit_code = 1


class MissingModelError(UsageError):
    """Usage whose model nothing names (no session event, no --model): it cannot be priced.

    Reported as *unpriced* (the total becomes unknown), not as a skipped line: skipping it
    would quietly price the session too low.
    """


class InputError(CostModelError, ValueError):
    """Bad arguments or input files (missing file, wrong format): exit code 2."""

    exit_code = 2


class EncodingUnavailableError(CostModelError):
    """A tiktoken encoding that cannot be loaded on this machine (offline, no data)."""

    exit_code = 1


class BudgetExceeded(CostModelError):
    """Spending more would pass a budget limit."""

    exit_code = 1


class LedgerError(CostModelError):
    """The spend ledger could not be opened, read or written (or its URL is not understood).

    `path` names the store (a file path or URL) and `operation` what was being attempted, so a
    guard can log the failure loudly before applying its fail-open / fail-closed policy.
    """

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None,
                 operation: str | None = None) -> None:
        self.path, self.operation = path, operation
        where = f"{path}: " if path else ""
        doing = f"{operation}: " if operation else ""
        super().__init__(f"ledger {where}{doing}{message}")


class LedgerConflictError(LedgerError):
    """A different record committed under an id (or a reservation) that already paid for one:
    a bug or a tampered spool, never a passing fault, so retrying cannot help."""
