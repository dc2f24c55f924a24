"""Erlang B / C and Poisson quantiles against published tables and hand arithmetic."""

from __future__ import annotations

import math

import pytest

from costmodel.estimation.erlang import erlang_b, erlang_c, mixture_quantile, poisson_quantile


# Erlang B tables give the offered load (Erlangs) a number of lines carries at a blocking
# probability; at that load the formula must return that probability.
# - https://erlang.com/calculatormanual/howmuchtrafficcanatrunkgrouphandle.htm: 15 lines at
#   1 % blocking carry 8.108 Erlangs.
# - Lucent's Erlang B capacity table for 2 % blocking
#   (http://garywagoner.tripod.com/traffic/ERLANG.HTML): 5 channels 1.657, 15 channels
#   9.010, 31 channels 22.827 Erlangs.
@pytest.mark.parametrize(("lines", "erlangs", "blocking"), [
    (15, 8.108, 0.01), (5, 1.657, 0.02), (15, 9.010, 0.02), (31, 22.827, 0.02)])
def test_erlang_b_matches_published_tables(lines: int, erlangs: float, blocking: float) -> None:
    assert erlang_b(lines, erlangs) == pytest.approx(blocking, abs=0.0002)


def test_erlang_b_by_hand() -> None:
    # B(1, A) = A / (1 + A); B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2
    assert erlang_b(1, 3.0) == pytest.approx(0.75)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(0, 5.0) == 1.0


def test_erlang_c_by_hand() -> None:
    # M/M/1: a caller waits when the one server is busy, with probability rho = A.
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    # C(2, 1) = 2 B / (2 - A (1 - B)) with B(2, 1) = 0.2: 0.4 / 1.2 = 1/3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # From the 2 % Erlang B table row (15 lines, 9.010 E): C = 15 x 0.02 / (15 - 9.01 x 0.98)
    assert erlang_c(15, 9.010) == pytest.approx(0.3 / (15 - 9.010 * 0.98), rel=1e-3)
    assert erlang_c(10, 10.0) == 1.0   # load at or above the servers: everyone waits
    assert erlang_c(10, 12.0) == 1.0


def test_poisson_quantile_by_hand() -> None:
    # Poisson(4): P(X <= 8) = 0.9786, P(X <= 9) = 0.9919 -> the 99th percentile is 9.
    cdf = sum(math.exp(-4) * 4 ** k / math.factorial(k) for k in range(9))
    assert cdf < 0.99 < cdf + math.exp(-4) * 4 ** 9 / math.factorial(9)
    assert poisson_quantile(4.0, 0.99) == 9
    # Poisson(1): P(X <= 3) = 0.9810, P(X <= 4) = 0.9963 -> 4; Poisson(10): 18.
    assert poisson_quantile(1.0, 0.99) == 4
    assert poisson_quantile(10.0, 0.99) == 18
    assert poisson_quantile(0.0, 0.99) == 0


def test_poisson_quantile_large_means_follow_the_normal_approximation() -> None:
    for mean in (5e4, 2e5, 1e7):  # both sides of the exact / approximate switch
        q = poisson_quantile(mean, 0.99)
        assert abs(q - (mean + 2.3263 * math.sqrt(mean))) < 3


def test_mixture_quantile_lies_between_its_parts() -> None:
    lo, hi = poisson_quantile(5.0, 0.99), poisson_quantile(20.0, 0.99)
    assert lo <= mixture_quantile([5.0, 20.0], 0.99) <= hi
    assert mixture_quantile([7.0] * 12, 0.99) == poisson_quantile(7.0, 0.99)
    with pytest.raises(ValueError):
        mixture_quantile([1.0], 1.0)
