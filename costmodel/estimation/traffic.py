"""Traffic over a day: hourly profiles, Poisson arrivals, and load carried by calls in progress.

A day's calls (``calls per month / days_per_month``, times ``peak_factor`` for the busy day)
arrive as a Poisson process whose rate is constant within each hour and follows the
scenario's ``volume.hourly_profile`` (24 weights, or a named profile below). Days repeat, so
a call that starts at 23:50 is still in progress after midnight.

Anything a call does at a given age (being in progress, sending response k) becomes a load
over the day by one circular convolution with the arrival rate, per second::

    load(t) = sum_s  arrivals_per_second(t - s) x E[what a call does at age s]

With ``P(length > s)`` as the kernel this is the mean number of calls in progress (the
M_t/G/infinity model: the number in progress is Poisson with that mean at every moment);
with a flat profile it is calls per hour x mean length in hours.

Named profiles (OUR ASSUMPTIONS, shaped to one published figure, not measured traffic):

- ``flat``: every hour alike (a 24/7 line, or no knowledge);
- ``business-hours``: a staffed support line's day, calls from 08:00 rising to a late-morning
  peak and a smaller mid-afternoon one, a trickle at night; the busiest hour carries 11.5 %
  of the day, inside the 10-15 % for a support line's busy hour that issue 13 gives;
- ``evening-peak``: consumer and companion use, low in working hours, peaking 20:00-22:00;
  its busiest hour carries 11.4 % of the day.

Hours are the scenario's local clock.

>>> w = profile_weights("business-hours")
>>> round(float(w.max()), 3)
0.115
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DAY_S = 86_400
HOUR_S = 3_600

PROFILES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    "business-hours": (0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 1, 4, 7, 8, 8,
                       6, 7, 7, 6, 5, 3, 2, 1.5, 1, 0.8, 0.5, 0.3),
    "evening-peak": (1.5, 0.8, 0.4, 0.3, 0.3, 0.3, 0.5, 1, 1.5, 2, 2, 2.5,
                     3, 3, 3, 3, 3.5, 4, 5, 6, 7.5, 8, 7, 4),
}
DEFAULT_PROFILE = "business-hours"


def profile_weights(profile: str | Sequence[float]) -> np.ndarray:
    """The 24 hourly weights of a named profile or of a list, normalised to sum to 1."""
    raw = PROFILES[profile] if isinstance(profile, str) else tuple(profile)
    w = np.asarray(raw, dtype=np.float64)
    return w / w.sum()


def arrivals_per_second(calls_per_day: float, weights: np.ndarray) -> np.ndarray:
    """Expected arrivals in each second of the day (86,400 values): each hour's share of the
    day's calls spread evenly over its seconds."""
    return np.repeat(calls_per_day * weights / HOUR_S, HOUR_S)


def survival(seconds: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``P(length > s)`` for s = 0 .. 86,399 from a histogram of call lengths (whole seconds):
    a call that starts in second a is in progress in seconds a .. a + length - 1."""
    n = counts.sum()
    per = np.zeros(DAY_S + 1)
    np.add.at(per, np.minimum(seconds, DAY_S), counts)
    # P(L > s) = 1 - P(L <= s)
    return (1.0 - np.cumsum(per) / n)[:DAY_S].clip(min=0.0)


class DayConvolver:
    """Circular convolutions of one day's arrival rate with kernels of call age (seconds)."""

    def __init__(self, rate: np.ndarray) -> None:
        if rate.shape != (DAY_S,):
            raise ValueError("a day's arrival rate has 86,400 values")
        self._rate_f = np.fft.rfft(rate)

    def load(self, kernel: np.ndarray) -> np.ndarray:
        """load(t) = sum_s rate(t - s) x kernel(s), over a repeating day (86,400 values)."""
        if kernel.shape != (DAY_S,):
            raise ValueError("a kernel has 86,400 values (one per second of age)")
        out = np.fft.irfft(self._rate_f * np.fft.rfft(kernel), n=DAY_S)
        return np.maximum(out, 0.0, out=out)  # FFT round-off below zero


def hourly_means(per_second: np.ndarray) -> np.ndarray:
    """The mean of a per-second series over each hour of the day (24 values)."""
    return per_second.reshape(24, HOUR_S).mean(axis=1)


def interval_means(per_second: np.ndarray, hour: int, parts: int = 12) -> list[float]:
    """Means over `parts` equal slices of one hour (5 minutes each by default)."""
    seg = per_second[hour * HOUR_S:(hour + 1) * HOUR_S]
    return seg.reshape(parts, HOUR_S // parts).mean(axis=1).tolist()
