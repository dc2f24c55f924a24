"""Queueing formulas for sizing: Erlang B and C, and Poisson quantiles (numpy only, no scipy).

Offered load ``A`` is in Erlangs: arrivals per unit time x mean holding time, which is also
the mean number of calls in progress when no call waits (M/G/infinity). With ``c`` servers
(session slots), Erlang B is the share of calls refused when all are busy (no queue) and
Erlang C the probability that a call has to wait (an unlimited queue, M/M/c).

>>> round(erlang_b(15, 8.108), 4)        # 15 lines carry 8.108 E at 1 % blocking (tables)
0.01
>>> round(erlang_c(2, 1.0), 4)           # M/M/2 at 50 % utilisation: 1/3
0.3333
>>> poisson_quantile(4.0, 0.99)
9
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Above this mean a Poisson distribution is replaced by its normal approximation with a
# skewness term (Cornish-Fisher); at 1e5 the correction is 0.7 of a unit on a spread of 316.
_EXACT_MEAN = 1e5


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability B(c, A), by the stable recurrence B(n) = A B(n-1) / (n + A B(n-1))."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must be >= 0")
    b = 1.0
    for n in range(1, servers + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability of waiting C(c, A) = c B / (c - A (1 - B)); 1.0 when A >= c (unstable)."""
    if servers <= 0 or load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1 - b))


def _poisson_cdf(ks: np.ndarray, mean: float) -> np.ndarray:
    """P(X <= k) for each k of `ks` (ascending, consecutive integers) under Poisson(mean)."""
    if mean <= 0:
        return np.ones(len(ks))
    if mean > _EXACT_MEAN:
        z = (ks + 0.5 - mean) / math.sqrt(mean)
        # Cornish-Fisher: shift by the skewness term (z^2 - 1) / (6 sqrt(mean)).
        z = z - (z * z - 1) / (6 * math.sqrt(mean))
        return np.asarray([0.5 * math.erfc(-v / math.sqrt(2)) for v in z.tolist()])
    lo = max(0, int(math.floor(mean - 12 * math.sqrt(mean) - 10)))
    # log pmf from lo upward: log p(k) = log p(k-1) + log(mean / k)
    top = int(ks[-1])
    if top < lo:
        return np.zeros(len(ks))
    k = np.arange(lo, top + 1, dtype=np.float64)
    logp = lo * math.log(mean) - mean - math.lgamma(lo + 1)
    steps = np.log(mean) - np.log(np.maximum(k[1:], 1.0))
    logs = np.concatenate(([logp], logp + np.cumsum(steps)))
    cdf = np.minimum(np.cumsum(np.exp(logs)), 1.0)
    out = np.zeros(len(ks))
    inside = ks >= lo
    out[inside] = cdf[(ks[inside] - lo).astype(np.int64)]
    return out


def poisson_quantile(mean: float, q: float) -> int:
    """The smallest k with P(X <= k) >= q for X ~ Poisson(mean)."""
    return mixture_quantile([mean], q)


def mixture_quantile(means: Sequence[float], q: float) -> int:
    """The `q` quantile of an equal-weight mixture of Poisson distributions: the number in
    progress at a random moment of an interval whose mean load moves through `means`."""
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    ms = [float(m) for m in means if m > 0]
    if not ms:
        return 0
    lo = max(0, int(math.floor(min(ms) - 12 * math.sqrt(min(ms)) - 10)))
    hi = int(math.ceil(max(ms) + 12 * math.sqrt(max(ms)) + 30))
    # Bisection over k keeps memory small for a wide range; each step evaluates one k.
    n = len(means)
    while lo < hi:
        mid = (lo + hi) // 2
        ks = np.asarray([mid], dtype=np.float64)
        f = sum(float(_poisson_cdf(ks, m)[0]) for m in ms) / n + (n - len(ms)) / n
        if f >= q:
            hi = mid
        else:
            lo = mid + 1
    return lo
