"""Sampled call lengths as a histogram, and the statistics of per-call costs over it.

A call's cost depends only on its length in whole seconds (at most 86,400), so n sampled calls
collapse into at most 86,401 (length, count) pairs. Means, spreads and percentiles of the
per-call cost are computed over those pairs, in time independent of n, instead of over an
array of n costs: one `np.bincount` of the samples is the only per-call work, shared by every
stack of an estimate.

>>> calls = Lengths.of(np.array([60, 30, 60, 90]))
>>> calls.seconds.tolist(), calls.counts.tolist()
([30, 60, 90], [1, 2, 1])
>>> percentiles(np.array([1.0, 2.0, 3.0]), calls.counts, [50, 95])
[2.0, 2.8499999999999996]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Lengths:
    """Call lengths: each of `seconds` (ascending, distinct) occurs `counts` times among the
    `sampled` calls (kept, in sampling order, for resampling and per-call costs)."""

    sampled: np.ndarray   # [n] int64 whole seconds
    seconds: np.ndarray   # [distinct] int64, ascending
    counts: np.ndarray    # [distinct] int64, > 0

    @classmethod
    def of(cls, sampled: np.ndarray) -> Lengths:
        counts = np.bincount(sampled)
        seconds = np.flatnonzero(counts)
        return cls(sampled, seconds, counts[seconds])

    @property
    def n(self) -> int:
        return len(self.sampled)

    def total_seconds(self) -> int:
        return int(self.counts @ self.seconds)


def weighted_mean_std(values: np.ndarray, counts: np.ndarray, n: int) -> tuple[float, float]:
    """Mean and population standard deviation of `values` repeated `counts` times (as
    `ndarray.mean()` / `.std()` of the repeated array, to float rounding)."""
    mean = float(np.sum(counts * values)) / n
    spread = float(np.sum(counts * np.square(values - mean))) / n
    return mean, math.sqrt(spread)


def percentiles(values: np.ndarray, counts: np.ndarray, qs: Sequence[float]) -> list[float]:
    """``np.percentile(np.repeat(values, counts), qs)`` (the default linear method), exactly,
    without building the repeated array: the order statistics are read off cumulative counts
    and interpolated with numpy's own formula (`numpy.lib._function_base_impl._lerp`)."""
    order = np.argsort(values, kind="stable")
    ranked, upto = values[order], np.cumsum(counts[order])
    n = int(upto[-1])
    out = []
    for q in np.true_divide(qs, 100).tolist():
        virtual = (n - 1) * q
        if virtual >= n - 1:
            out.append(float(ranked[-1]))
            continue
        below = math.floor(virtual)
        a, b = ranked[np.searchsorted(upto, [below, below + 1], side="right")].tolist()
        t = virtual - below
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return out
