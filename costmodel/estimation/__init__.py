"""Estimation: what a month of calls costs, from a scenario, by simulating calls turn by turn.

A `Scenario` (volume, call lengths, turn timing, prompt, cache, stacks) is simulated as the
same `Usage` the guard meters, priced by `costmodel.core.price`, and summed over a Monte
Carlo sample of calls (`estimate`); `curve` gives the cost by call length, `break_even` and
`sweep` what self-hosting and the cache hit ratio change.
"""

from ..errors import ScenarioError, SimulationError
from .breakeven import HOURS_PER_MONTH, BreakEven, break_even
from .monthly import CurvePoint, Estimate, StackEstimate, curve, estimate
from .scenario import Scenario, default_scenario, load_scenario, stack_id
from .sensitivity import SweepPoint, sweep, truncation_onset
from .tables import TableCache

__all__ = ["HOURS_PER_MONTH", "BreakEven", "CurvePoint", "Estimate", "Scenario",
           "ScenarioError", "SimulationError", "StackEstimate", "SweepPoint", "TableCache",
           "break_even", "curve", "default_scenario", "estimate", "load_scenario", "stack_id",
           "sweep", "truncation_onset"]
