"""The call-length distribution: lognormal by mean and p95, or the lengths themselves.

The lognormal is the one the scenario would write for these lengths: their sample mean and
95th percentile (``{lognormal: {mean, p95}}``). Not the maximum-likelihood fit of the log
lengths: a re-billing model's cost grows with the square of the length, so the mean and the
tail are what the estimate needs right, and the log-space fit is pulled by the shortest
calls, whose lengths recordings understate most (the seconds after a session's last answer
are never seen). On generated Gemini Live sessions the log-space fit put the estimate 16%
above the same scenario with the lengths themselves; by mean and p95, within 1%.

The lognormal is kept when it fits: its Kolmogorov-Smirnov distance D to the lengths'
empirical CDF is within the 95th percentile of the distances seen when lognormal samples of
the same size are fitted the same way (a parametric bootstrap, seeded: the idea of the
Lilliefors test, for this estimator; Lilliefors' own table assumes the maximum-likelihood
fit and would reject a true lognormal fitted by mean and p95 most of the time: the mean and
p95 of a sample are noisier than its log moments, at sigma 0.93 the 5% critical D is ~2.3 /
sqrt(n), not 0.9 / sqrt(n)). `BOOTSTRAP` samples of at most `BOOTSTRAP_SIZE` lengths are
drawn; for more lengths, the critical value is scaled by sqrt(size / n), as D is.

Otherwise the lengths are written to a CSV beside the scenario (`empirical:`), which
reproduces them exactly. Under `MIN_EMPIRICAL` lengths the lognormal is kept even when the
test rejects it (it is said): an empirical distribution of a handful of calls has no tail,
and resampling it repeats the same few calls. Lengths that no lognormal has as mean and p95
(p95 / mean past 3.87, or not above 1) are empirical whatever their number; equal lengths
(one session) are ``fixed``.

>>> d = fit_duration([300.0, 240.0, 420.0, 360.0, 180.0, 600.0])
>>> d.chosen, round(d.mean_min, 2), round(d.p95_min, 3)     # 35 min / 6; p95 of the six
('lognormal', 5.83, 9.25)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import InputError

Z95 = 1.6448536269514722  # the standard normal's 95th percentile
MIN_EMPIRICAL = 30        # below this many lengths the lognormal is kept
BOOTSTRAP = 200           # samples drawn to find the critical distance
BOOTSTRAP_SIZE = 2000     # lengths per sample, at most


def _phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF, to 1.5e-7 (Abramowitz & Stegun 7.1.26): numpy has no erf."""
    a = np.abs(x) / math.sqrt(2)
    t = 1 / (1 + 0.3275911 * a)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
            + 0.254829592) * t
    return 0.5 * (1 + np.sign(x) * (1 - poly * np.exp(-a * a)))


def lognormal_of(mean: np.ndarray, p95: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """(mu, sigma, ok) of the lognormal with this mean and p95, as `Lognormal` solves it
    (s^2/2 - z s + ln(p95/mean) = 0, the smaller root); ok is False where none exists."""
    disc = Z95 * Z95 - 2 * np.log(np.maximum(p95, 1e-300) / mean)
    ok = (p95 > mean) & (disc >= 0)
    sigma = Z95 - np.sqrt(np.where(ok, disc, 0.0))
    return np.log(mean) - sigma ** 2 / 2, sigma, ok


def ks_distances(sorted_rows: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """sup |F_n - F| of each row (sorted lengths) against its lognormal(mu, sigma)."""
    n = sorted_rows.shape[1]
    f = _phi((np.log(sorted_rows) - mu[:, None]) / sigma[:, None])
    i = np.arange(1, n + 1)
    return np.maximum((i / n - f).max(axis=1), (f - (i - 1) / n).max(axis=1))


def ks_threshold(n: int, mu: float, sigma: float, seed: int = 0) -> float:
    """The 5% critical KS distance for a lognormal(mu, sigma) fitted by mean and p95 to n
    lengths (parametric bootstrap; see the module docstring)."""
    size = min(n, BOOTSTRAP_SIZE)
    draws = np.random.default_rng(seed).lognormal(mu, sigma, (BOOTSTRAP, size))
    m, q = draws.mean(axis=1), np.percentile(draws, 95, axis=1)
    b_mu, b_sigma, ok = lognormal_of(m, q)
    d = ks_distances(np.sort(draws[ok], axis=1), b_mu[ok], b_sigma[ok])
    return float(np.quantile(d, 0.95)) * math.sqrt(size / n)


@dataclass(frozen=True)
class DurationFit:
    """Which call-length distribution was chosen and why.

    ``mean_min`` / ``p95_min``: the lengths' mean and p95 in minutes (the lognormal's, when
    one exists); ``ks_distance``: that lognormal's KS distance to the lengths and
    ``ks_threshold`` its 5% critical value (None when no lognormal was tried);
    ``minutes``: the lengths, in the order given (the empirical CSV's lines).
    """

    chosen: Literal["lognormal", "empirical", "fixed"]
    why: str
    sessions: int
    mean_min: float
    p95_min: float
    ks_distance: float | None
    ks_threshold: float | None
    minutes: tuple[float, ...]

    @property
    def sample_mean_min(self) -> float:
        return self.mean_min

    @property
    def sample_p95_min(self) -> float:
        return self.p95_min

    def as_json(self) -> dict[str, object]:
        return {"chosen": self.chosen, "why": self.why, "sessions": self.sessions,
                "mean_min": self.mean_min, "p95_min": self.p95_min,
                "ks_distance": self.ks_distance, "ks_threshold": self.ks_threshold}


def fit_duration(seconds: Sequence[float]) -> DurationFit:
    """Choose and fit the call-length distribution of these call lengths (seconds)."""
    if not len(seconds):
        raise InputError("no session's length could be derived, so there is no call-length "
                         "distribution to fit (spend logs record each session's seconds)")
    minutes = np.maximum(np.asarray(seconds, dtype=np.float64), 1e-3) / 60
    kept = tuple(minutes.tolist())
    n = len(minutes)
    mean, p95 = float(minutes.mean()), float(np.percentile(minutes, 95))
    if float(minutes.max() - minutes.min()) < 1e-9:
        return DurationFit("fixed", f"all {n} lengths are equal" if n > 1 else "one length",
                           n, mean, mean, None, None, kept)
    mu_a, sigma_a, ok_a = lognormal_of(np.array([mean]), np.array([p95]))
    if not ok_a[0]:
        why = (f"empirical: no lognormal has the lengths' mean {mean:.2f} and p95 {p95:.2f} "
               "minutes (p95 / mean must be above 1 and at most 3.87)")
        return DurationFit("empirical", why, n, mean, p95, None, None, kept)
    mu, sigma = float(mu_a[0]), float(sigma_a[0])
    d = float(ks_distances(np.sort(minutes)[None, :], mu_a, sigma_a)[0])
    c = ks_threshold(n, mu, sigma)
    fit = (f"the lognormal of their mean and p95 is {d:.4f} from the {n} lengths (KS), "
           f"{'within' if d <= c else 'past'} the 5% critical distance {c:.4f}")
    if n < MIN_EMPIRICAL:
        chosen: Literal["lognormal", "empirical"] = "lognormal"
        why = (f"lognormal: {fit}; under {MIN_EMPIRICAL} lengths the parametric form is kept "
               "(an empirical distribution of so few calls has no tail)")
    elif d <= c:
        chosen, why = "lognormal", f"lognormal: {fit}"
    else:
        chosen, why = "empirical", f"empirical: {fit}, so the lengths are used as they are"
    return DurationFit(chosen, why, n, mean, p95, d, c, kept)
