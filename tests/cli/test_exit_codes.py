"""Exit codes are the command line's decision, made in one table (cli/_common.EXIT_CODES).

2: what the user gave cannot be used as given (an unknown model id, bad arguments or input
files, an invalid scenario); 1: every other CostModelError. README's "Exit codes" says the same.
"""

from __future__ import annotations

import inspect

import pytest

import costmodel.errors as errors
from costmodel.cli._common import EXIT_CODES, exit_code
from costmodel.errors import CostModelError

EXPECTED = {
    "CostModelError": 1, "UnknownModelError": 2, "UnknownRateError": 1,
    "NoPriceInForceError": 1, "CatalogError": 1, "ScenarioError": 2, "SimulationError": 1,
    "UsageError": 1, "MissingModelError": 1, "AmountError": 1, "InputError": 2,
    "EncodingUnavailableError": 1, "BudgetExceeded": 1, "LedgerError": 1,
    "LedgerConflictError": 1, "LadderError": 2, "RateCardError": 2,
}

ERROR_CLASSES = {name: cls for name, cls in vars(errors).items()
                 if inspect.isclass(cls) and issubclass(cls, CostModelError)}


def _instance(cls: type[CostModelError]) -> CostModelError:
    # Each class's own required arguments, filled with something plausible.
    if cls is errors.UnknownModelError:
        return cls("acme/voice-9", ["acme/voice-8"])
    if cls is errors.UnknownRateError:
        return cls("toy/realtime", "image.input")
    return cls("something went wrong")


def test_every_error_class_has_its_decided_exit_code():
    assert set(ERROR_CLASSES) == set(EXPECTED), "a new error class needs its exit code here"
    got = {name: exit_code(_instance(cls)) for name, cls in ERROR_CLASSES.items()}
    assert got == EXPECTED


def test_a_subclass_a_library_user_defines_inherits_its_parents_code():
    class TenantUnknown(errors.InputError):
        pass

    assert exit_code(TenantUnknown("no such tenant")) == 2


def test_errors_carry_no_exit_codes_themselves():
    # The library raises; only the CLI layer maps errors to process exit codes.
    assert not [name for name, cls in ERROR_CLASSES.items() if "exit_code" in vars(cls)]
    assert CostModelError in EXIT_CODES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_error_is_documented_in_the_tree(name):
    assert name in (errors.__doc__ or "")
