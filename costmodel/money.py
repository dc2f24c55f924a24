"""Money: the one way costmodel turns numbers into exact USD, adds them, and shows them.

Every amount inside costmodel is a `Decimal`; this module is where they come from and how they
leave:

- **In** (`to_decimal`, `to_usd`): a `Decimal` is kept as is, an ``int`` is exact, and a
  ``float`` is taken at its shortest ``repr`` (``0.1`` -> ``Decimal('0.1')``: the digits the
  user wrote, not the binary value ``0.1000000000000000055...``). Text is read only where a
  person typed it (a limit on the command line); NaN, infinities, negatives and values past a
  bound are refused with an `AmountError` that names the value.
- **Sums** (`exact_sum`, `EXACT`): in a context wide enough never to round, with ``Inexact``
  trapped, so a sum of a million records is exact to the last digit.
- **Storage** (`tidy`, `plain`): the same value without trailing zeros or exponent, so every
  ledger backend stores and prints an amount alike.
- **Out** (`format_usd`, `format_usd_short`, `format_rate`): rounded once, for display only.

A plain module with no dependencies (like `costmodel.errors`), so the ledger and the command
line can use it without loading the pricing core.

>>> to_usd(0.1, "the limit"), to_usd("1.50", "the limit", allow_text=True)
(Decimal('0.1'), Decimal('1.50'))
>>> exact_sum([Decimal("0.1")] * 3), plain(Decimal("2.50")), format_usd(Decimal("1234.5"))
(Decimal('0.3'), '2.5', '$1,234.500000')
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation

from .errors import AmountError, CostModelError

# Sums are computed in a context wide enough never to round; Inexact would be a bug, so trap it.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])
_ONE = Decimal(1)
_DISPLAY = Context(prec=60)   # quantize fails past the default 28 digits of precision


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _exact(value: object, what: str, allow_text: bool, allow_float: bool) -> Decimal | None:
    """`value` as a Decimal; None for text that is not a number; `AmountError` for a type
    that is never read (bool, None, a list, a float where floats are refused ...)."""
    if type(value) is Decimal:
        return value
    if type(value) is int:
        return Decimal(value)
    if type(value) is float and allow_float:
        return Decimal(repr(value))
    if isinstance(value, str) and allow_text:
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    if isinstance(value, Decimal):      # a Decimal subclass: its value, as a plain Decimal
        return Decimal(value)
    if allow_float:
        raise AmountError(f"{what} must be a number, got {_shown(value)}")
    why = " (a float: money is never computed in binary)" if type(value) is float else ""
    raise AmountError(f"{what} must be a Decimal or int, got {_shown(value)}{why}")


def to_decimal(value: object, what: str, *, allow_text: bool = False,
               allow_float: bool = True) -> Decimal:
    """`value` as an exact, finite Decimal (any sign), else `AmountError` naming `what`.

    Decimal: as is (the same object). int: exact. float: its shortest repr, the digits
    written. str (only with ``allow_text``): parsed, surrounding spaces ignored. bool and
    anything else: refused.

    >>> to_decimal(2.675, "seconds")      # Decimal(2.675) would be 2.67499999999999982236...
    Decimal('2.675')
    """
    amount = _exact(value, what, allow_text, allow_float)
    if amount is None or not amount.is_finite():
        raise AmountError(f"{what} must be a finite number, got {_shown(value)}")
    return amount


def to_usd(value: object, what: str, *, allow_text: bool = False, allow_float: bool = True,
           positive: bool = False, maximum: Decimal | None = None) -> Decimal:
    """An amount of USD: `to_decimal`, then >= 0 (> 0 with ``positive``) and <= ``maximum``.

    >>> to_usd(-1, "usd")
    Traceback (most recent call last):
    costmodel.errors.AmountError: usd must be a finite amount in USD >= 0, got -1
    >>> to_usd("lots", "limit", allow_text=True, positive=True, maximum=Decimal(100))
    Traceback (most recent call last):
    costmodel.errors.AmountError: limit must be a positive amount in USD, at most 100, got 'lots'
    """
    amount = _exact(value, what, allow_text, allow_float)
    if (amount is None or not amount.is_finite() or amount < 0 or (positive and amount == 0)
            or (maximum is not None and amount > maximum)):
        kind = "a positive amount in USD" if positive else "a finite amount in USD >= 0"
        bound = "" if maximum is None else f", at most {maximum}"
        raise AmountError(f"{what} must be {kind}{bound}, got {_shown(value)}")
    return amount


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum, tidied (`tidy`). Never rounds: a digit lost would raise ``Inexact``."""
    total = Decimal(0)
    for value in values:
        total = EXACT.add(total, value)
    return tidy(total)


def tidy(amount: Decimal) -> Decimal:
    """The same value without trailing fractional zeros or exponent (``1E+3`` -> ``1000``,
    ``0.50`` -> ``0.5``), so every backend prints alike."""
    if amount == amount.to_integral_value():
        return amount.quantize(_ONE, context=EXACT)
    return amount.normalize(EXACT)


def plain(amount: Decimal) -> str:
    """``f"{tidy(amount):f}"`` by string operations, at a third of the cost (ledgers format
    every amount they store)."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _finite(value: Decimal | float) -> None:
    if not (value.is_finite() if isinstance(value, Decimal) else abs(value) < float("inf")):
        # inputs are validated, so this cannot happen; never show it as if it were money
        raise CostModelError(f"refusing to show a non-finite amount ({value}): please report")


def format_usd(value: Decimal | float | None, places: int = 6) -> str:
    """Money for display, rounded once, here: ``$1,234.500000``; None is ``unknown``.

    >>> format_usd(Decimal("0.0448"), 4), format_usd(None)
    ('$0.0448', 'unknown')
    """
    if value is None:
        return "unknown"
    _finite(value)
    return f"${value:,.{places}f}"


def format_usd_short(value: Decimal | float) -> str:
    """A per-call or per-month figure at a glance: four places below $100, whole dollars
    from there (a $1,234.5678 month is read as $1,235).

    >>> format_usd_short(0.123456), format_usd_short(1234.5678)
    ('$0.1235', '$1,235')
    """
    _finite(value)
    small = -100 < value < 100
    return f"${value:,.4f}" if small else f"${value:,.0f}"


def format_rate(value: Decimal) -> str:
    """A rate without trailing zeros (0.40 -> 0.4, 32 -> 32), rounded to 12 places: rates
    derived by division (per minute from per second) would otherwise print 28 digits.

    >>> format_rate(Decimal("0.40")), format_rate(Decimal(1) / 60)
    ('0.4', '0.016666666667')
    """
    return format(value.quantize(Decimal("1e-12"), context=_DISPLAY).normalize(_DISPLAY), "f")
