"""The error hierarchy. Every error a user can cause is a `CostModelError`.

Library users catch `CostModelError` (or a subclass) and never need to parse messages; the
command line turns each into one line on stderr and an exit code (which code is the CLI's
decision, made in one place: `costmodel.cli._common.EXIT_CODES`)::

    CostModelError
    ├── UnknownModelError (LookupError)   no catalog entry has this id; lists near matches
    ├── UnknownRateError (LookupError)    usage the model has no rate for (never priced $0)
    ├── NoPriceInForceError (LookupError) the model's prices start after the date priced
    ├── CatalogError (ValueError)         a catalog file that does not load (file:line: field)
    ├── ScenarioError (ValueError)        a scenario file that does not load (file:line: key)
    ├── SimulationError (ValueError)      a stack the estimator cannot model with the catalog
    ├── UsageError (ValueError)           a value of the wrong shape given to the API
    │   ├── MissingModelError             usage whose model nothing names
    │   └── AmountError                   money or a quantity that is not a finite amount
    ├── InputError (ValueError)           bad command-line arguments or input files
    │   ├── RateCardError                 a rate-card file that does not load (file:line: key)
    │   └── LadderError                   a guard policy file that does not load (file:line: key)
    ├── EncodingUnavailableError          a tiktoken encoding this machine cannot load
    ├── BudgetExceeded                    spending more would pass a budget limit
    └── LedgerError                       the spend ledger cannot be opened, read or written
        └── LedgerConflictError           a second, different record under an id already paid

One warning: `ModelShutDownWarning` (a UserWarning), usage priced on or after the model's
shutdown date.

The builtin bases in brackets let code that predates costmodel's errors keep working
(``except ValueError`` still catches a bad catalog).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


class CostModelError(Exception):
    """Base class for every error costmodel raises on purpose."""


class UnknownModelError(CostModelError, LookupError):
    """A model id (or alias) that no loaded catalog file defines.

    Carries the nearest known ids so the message can suggest them.
    """


    def __init__(self, model: str, suggestions: Sequence[str] = (), *, note: str = "") -> None:
        self.model = model
        self.suggestions = tuple(suggestions)
        self.note = note
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        more = f" ({note})" if note else ""
        super().__init__(f"unknown model {model!r}{hint}{more}")


class UnknownRateError(CostModelError, LookupError):
    """Usage that the catalog has no rate for. Never priced as zero."""


    def __init__(self, model: str, what: str, known: Sequence[str] = ()) -> None:
        self.model = model
        self.what = what
        self.known = tuple(known)
        listed = f" (it prices: {', '.join(self.known)})" if self.known else ""
        super().__init__(f"{model} has no known rate for {what}{listed}")


class NoPriceInForceError(CostModelError, LookupError):
    """The model's price history starts after the date being priced."""



def _located(what: str, message: str, path: str | None, line: int | None,
             name: str | None) -> str:
    """``path:line: name: message``, each part that is known (``<what>`` without a path)."""
    where = path or f"<{what}>"
    if line is not None:
        where += f":{line}"
    if name:
        where += f": {name}"
    return f"{where}: {message}"


class CatalogError(CostModelError, ValueError):
    """A catalog file that cannot be read or does not validate.

    `path`, `line` and `field` say where; `line` is 1-based.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.line, self.field = path, line, field
        super().__init__(_located("catalog", message, path, line, field))


class UsageError(CostModelError, ValueError):
    """A value given to costmodel's API that does not have the expected shape: a usage
    payload, a `Usage`, a spend record or a ledger query."""



class MissingModelError(UsageError):
    """Usage whose model nothing names (no session event, no --model): it cannot be priced.

    Reported as *unpriced* (the total becomes unknown), not as a skipped line: skipping it
    would quietly price the session too low.
    """


class AmountError(UsageError):
    """An amount of money (or a quantity) that is not finite, is negative, past its bound, or
    of a type that cannot be exact (`costmodel.money` says which types are read how)."""


class InputError(CostModelError, ValueError):
    """Bad arguments or input files (missing file, wrong format)."""


class RateCardError(InputError):
    """A rate-card file (`costmodel.resale.cards`) that cannot be read or does not validate:
    names the file, line and key, as `ScenarioError` does."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.path, self.line, self.key = path, line, key
        super().__init__(_located("rate cards", message, path, line, key))


class LadderError(InputError):
    """A guard policy file (`costmodel.guard.policyfile`: the ladder and the hang-up timers) that
    cannot be read or does not validate: names the file, line and key."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.path, self.line, self.key = path, line, key
        super().__init__(_located("guard policy", message, path, line, key))


class ScenarioError(CostModelError, ValueError):
    """A scenario file that cannot be read or does not validate (names file, line and key)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.path, self.line, self.key = path, line, key
        super().__init__(_located("scenario", message, path, line, key))


class SimulationError(CostModelError, ValueError):
    """A stack the simulator cannot model with the catalog's facts (names what is missing)."""



class EncodingUnavailableError(CostModelError):
    """A tiktoken encoding that cannot be loaded on this machine (offline, no data)."""



class BudgetExceeded(CostModelError):
    """Spending more would pass a budget limit.

    When a ledger refuses a reservation it says why in numbers: the ``scope``, its
    ``limit_usd``, the ``requested_usd``, and what was ``spent_usd`` and ``reserved_usd``
    already (None when the budget was not a ledger's).
    """

    def __init__(self, message: str, *, scope: str | None = None,
                 limit_usd: Decimal | None = None, requested_usd: Decimal | None = None,
                 spent_usd: Decimal | None = None, reserved_usd: Decimal | None = None) -> None:
        self.scope, self.limit_usd, self.requested_usd = scope, limit_usd, requested_usd
        self.spent_usd, self.reserved_usd = spent_usd, reserved_usd
        super().__init__(message)



class LedgerError(CostModelError):
    """The spend ledger could not be opened, read or written (or its URL is not understood).

    `path` names the store (a file path or URL) and `operation` what was being attempted, so a
    guard can log the failure loudly before applying its fail-open / fail-closed policy.
    """


    def __init__(self, message: str, *, path: str | None = None,
                 operation: str | None = None) -> None:
        self.path, self.operation = path, operation
        where = f"{path}: " if path else ""
        doing = f"{operation}: " if operation else ""
        super().__init__(f"ledger {where}{doing}{message}")


class LedgerConflictError(LedgerError):
    """A different record committed under an id (or a reservation) that already paid for one:
    a bug or a tampered spool, never a passing fault, so retrying cannot help."""


class ModelShutDownWarning(UserWarning):
    """Usage priced on or after the model's shutdown date (`ModelEntry.deprecated`).

    A warning, not an error: a recording replayed with a wrong clock, or a list price kept
    for comparison, is still priced (at the last list price), but the figure describes a
    call that cannot have happened on that date, so it is never silent.
    """
