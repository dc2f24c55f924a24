"""Telling a rate `costmodel prices import` wrote from one a person curated.

An import marks every period it writes ``confidence: secondary`` with its package's PyPI page
as ``source`` (``https://pypi.org/project/litellm/1.110.2/``). Estimates and priced sessions
say so beside their figures (`imported_notes`). Kept apart from `costmodel.core.priceimport`
so that pricing a session loads nothing of the importer.

>>> from datetime import date
>>> from costmodel.core.catalog import default_catalog
>>> imported_notes(default_catalog(), ["openai/gpt-realtime-1.5"], date(2026, 11, 30))
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Catalog
    from .rates import ModelEntry, PricePeriod

PYPI = "https://pypi.org/project/"
_IMPORTED = re.compile(r"^" + re.escape(PYPI) + r"([A-Za-z0-9._-]+)/(?:([A-Za-z0-9.+!_-]+)/)?$")


def imported_from(period: PricePeriod) -> str | None:
    """``litellm==1.110.2`` when `period` is an import's (secondary, its source the package's
    PyPI page, as `costmodel prices import` writes it); None otherwise."""
    if period.confidence != "secondary":
        return None
    m = _IMPORTED.match(period.source)
    if m is None:
        return None
    return f"{m[1]}=={m[2]}" if m[2] else m[1]


def imported_note(entry: ModelEntry, day: date) -> str | None:
    """The note for a model priced on `day` at imported rates, or None."""
    period = entry.period_on(day)
    package = None if period is None else imported_from(period)
    if package is None:
        return None
    return (f"rates imported from {package} (confidence: secondary: a public price map's "
            "figure, not checked against the vendor)")


def imported_notes(catalog: Catalog, models: Iterable[str], day: date) -> list[str]:
    """``"<id>: rates imported from ..."`` for each of `models` (catalog ids, each once)
    priced at imported rates on `day`."""
    notes = []
    for model in dict.fromkeys(models):
        entry = catalog.entries.get(model)
        note = None if entry is None else imported_note(entry, day)
        if note is not None:
            notes.append(f"{model}: {note}")
    return notes
