"""Does the fitted scenario give back what the sessions cost?

The fitted scenario is estimated (Monte Carlo, as `costmodel estimate` does) and its mean
per call compared with the mean priced session (`FitResult.observed_usd_per_call`): the
closing of the loop issue 14 asks for, shown by `costmodel fit` for every fit.

>>> from costmodel.fit import fit_sessions
>>> c = check_fit(fit_sessions(["examples/sessions/openai-realtime-support.jsonl"]))
>>> c.observed_usd_per_call is not None and c.estimated_usd_per_call > 0
True
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.catalog import Catalog
from ..estimation.monthly import estimate
from .result import FitResult


@dataclass(frozen=True)
class FitCheck:
    """Mean cost per call: observed (priced sessions; None when none could be priced) and
    estimated from the fitted scenario; ``difference`` = estimated / observed - 1."""

    observed_usd_per_call: float | None
    estimated_usd_per_call: float
    difference: float | None
    calls_simulated: int

    def as_json(self) -> dict[str, object]:
        return {"observed_usd_per_call": self.observed_usd_per_call,
                "estimated_usd_per_call": self.estimated_usd_per_call,
                "difference": self.difference, "calls_simulated": self.calls_simulated}


def check_fit(result: FitResult, catalog: Catalog | None = None, *,
              calls: int = 100_000) -> FitCheck:
    """Estimate the fitted scenario (`calls` simulated calls, at the fit's rates day)."""
    est = estimate(result.scenario, catalog, calls=calls, on=result.day)
    mean = est.results[0].per_call_usd["mean"]
    observed = (None if result.observed_usd_per_call is None
                else float(result.observed_usd_per_call))
    diff = None if not observed else mean / observed - 1
    return FitCheck(observed, mean, diff, calls)
