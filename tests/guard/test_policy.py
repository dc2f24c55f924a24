"""The budget policy at its boundaries: each threshold is inclusive exactly where the docs say.

Policy("1.00") warns from 80% of the limit spent ($0.80), wraps up when there is room for one
more projected response but not two, and cuts when the next response would pass the limit.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from costmodel.errors import UsageError
from costmodel.guard.policy import MAX_LIMIT_USD, MAX_SCOPE_LIMIT_USD, Policy, share, usd_limit


def test_warn_starts_at_exactly_the_threshold():
    # warn_at 0.8 of $1.00: $0.80 spent is the threshold itself, and it warns
    at = Policy("1.00").decide(D("0.80"), D("0.05"), pending=0, responses=4)
    assert at.action == "warn" and at.reason == "80% of the $1.00 limit spent"
    below = Policy("1.00").decide(D("0.799999"), D("0.05"), pending=0, responses=4)
    assert below.action == "ok" and below.reason == ""


def test_warn_threshold_follows_warn_at():
    # warn_at 0.5 of $2: $1.00 spent warns, $0.99 does not
    assert Policy("2", warn_at="0.5").decide(D("1.00"), D("0.01"), 0, 1).action == "warn"
    assert Policy("2", warn_at="0.5").decide(D("0.99"), D("0.01"), 0, 1).action == "ok"


def test_room_for_exactly_two_more_responses_is_ok_and_one_cent_less_wraps_up():
    # $0.60 + 2 x $0.20 = $1.00: both fit, to the cent
    assert Policy("1.00").decide(D("0.60"), D("0.20"), 0, 3).action == "ok"
    # $0.61 + 2 x $0.20 = $1.01: only one more fits
    wrap = Policy("1.00").decide(D("0.61"), D("0.20"), 0, 3)
    assert wrap.action == "wrap_up"
    assert wrap.reason == "room for about one more response: time to close"


def test_the_response_that_lands_exactly_on_the_limit_is_allowed_one_cent_more_is_cut():
    # $0.80 + $0.20 = $1.00: the last response fits (wrap up, not cut)
    assert Policy("1.00").decide(D("0.80"), D("0.20"), 0, 4).action == "wrap_up"
    cut = Policy("1.00").decide(D("0.81"), D("0.20"), 0, 4)
    assert cut.action == "cut"
    assert cut.reason == ("spent $0.810000; the next response (~$0.200000) would pass the "
                          "$1.00 limit")
    assert (cut.spent_usd, cut.projected_next_usd, cut.remaining_usd) == (
        D("0.81"), D("0.20"), D("0.19"))


def test_responses_in_flight_are_each_counted_as_one_projected_response():
    # $0.20 spent, 3 in flight at $0.20 each, then the next: $0.20 + 4 x $0.20 = $1.00 fits
    fits = Policy("1.00").decide(D("0.20"), D("0.20"), pending=3, responses=1)
    assert fits.action == "wrap_up" and fits.pending == 3
    # 4 in flight: $0.20 + 5 x $0.20 = $1.20 does not
    over = Policy("1.00").decide(D("0.20"), D("0.20"), pending=4, responses=1)
    assert over.action == "cut"
    assert over.reason.endswith("would pass the $1.00 limit with 4 response(s) in flight")
    # 1 in flight: $0.20 + 2 x $0.20 = $0.60, plus one more $0.80: room for two, ok
    assert Policy("1.00").decide(D("0.20"), D("0.20"), pending=1, responses=1).action == "ok"
    # 2 in flight: $0.20 + 3 x $0.20 = $0.80, plus one more $1.00: still fits, to the cent
    assert Policy("1.00").decide(D("0.20"), D("0.20"), pending=2, responses=1).action == "ok"


def test_decisions_only_escalate():
    policy = Policy("1.00")
    assert policy.decide(D("0.10"), D("0.10"), 0, 1).action == "ok"
    assert policy.decide(D("0.85"), D("0.05"), 0, 2).action == "warn"
    # spend cannot go down, but a smaller projection would say "ok": the warning stays
    assert policy.decide(D("0.85"), D("0.01"), 0, 3).action == "warn"
    wrap = policy.decide(D("0.85"), D("0.10"), 0, 4)
    assert wrap.action == "wrap_up"
    # room again (a smaller projection): still wrap_up, with its reason
    again = policy.decide(D("0.85"), D("0.01"), 0, 5)
    assert (again.action, again.reason) == ("wrap_up", wrap.reason)
    cut = policy.decide(D("0.95"), D("0.10"), 0, 6)
    assert cut.action == "cut"
    later = policy.decide(D("0.95"), D("0.01"), 0, 7)
    assert (later.action, later.reason) == ("cut", cut.reason) and later.responses == 7
    assert policy.last is later


def test_a_lower_figure_after_a_warning_keeps_the_warning():
    policy = Policy("1.00")
    assert policy.decide(D("0.85"), D("0.05"), 0, 1).action == "warn"
    # a caller passes a lower spend; $0.60 + 2 x $0.20 = $1.00 is room for exactly two more
    # responses (ok, not wrap_up), and ok never replaces the warning
    d = policy.decide(D("0.60"), D("0.20"), 0, 2)
    assert (d.action, d.reason) == ("warn", "80% of the $1.00 limit spent")


def test_a_second_cut_gives_its_own_figures():
    policy = Policy("1.00")
    assert policy.decide(D("0.95"), D("0.10"), 0, 1).action == "cut"
    again = policy.decide(D("1.05"), D("0.10"), 0, 2)
    assert again.action == "cut"
    assert again.reason == ("spent $1.050000; the next response (~$0.100000) would pass the "
                            "$1.00 limit")


def test_the_latest_decision_is_kept_when_nothing_changed():
    policy = Policy("1.00")
    d = policy.decide(D("0.10"), D("0.10"), 0, 1)   # room left, still ok: the quick path
    assert policy.last is d and d.spent_usd == D("0.10")


def test_a_stop_reason_cuts_whatever_the_spend():
    d = Policy("1.00").decide(D(0), D(0), 0, 0, estimated=True, stop="the ledger failed")
    assert (d.action, d.reason, d.estimated) == ("cut", "the ledger failed", True)


def test_the_first_decision_is_ok_with_nothing_spent():
    policy = Policy("0.50")
    assert policy.last == ("ok", D(0), D(0), D("0.50"), 0, "", False, 0)
    d = policy.decide(D(0), D("0.01"), 0, 0)
    assert d == ("ok", D(0), D("0.01"), D("0.50"), 0, "", False, 0)


@pytest.mark.parametrize("text, amount", [("0.01", D("0.01")), ("1000000", MAX_LIMIT_USD),
                                          (" 2.5 ", D("2.5")), (3, D(3))])
def test_limits_in_range_are_taken_exactly(text, amount):
    assert usd_limit(text, "the limit") == amount


@pytest.mark.parametrize("text", ["0", "-1", "1000000.01", "NaN", "Infinity", "abc", ""])
def test_limits_out_of_range_are_refused_naming_what_they_must_be(text):
    with pytest.raises(UsageError, match="the limit must be a positive amount in USD, at most"):
        usd_limit(text, "the limit")


def test_a_scope_limit_may_go_up_to_its_own_maximum():
    # a trillion dollars a day or month, to the dollar
    assert usd_limit("1000000000000", "the scope limit", MAX_SCOPE_LIMIT_USD) == D(10) ** 12
    with pytest.raises(UsageError, match="at most 1000000000000"):
        usd_limit("1000000000001", "the scope limit", MAX_SCOPE_LIMIT_USD)
    assert usd_limit("5000000", "the scope limit", D(10) ** 12) == D(5_000_000)
    with pytest.raises(UsageError, match="at most 1000000000000"):
        usd_limit("1000000000001", "the scope limit", D(10) ** 12)


@pytest.mark.parametrize("text, ok", [("1", True), ("0.8", True), ("0.0001", True),
                                      ("0", False), ("1.01", False), ("-0.5", False),
                                      ("NaN", False), ("x", False)])
def test_warn_at_is_a_share_in_zero_exclusive_one_inclusive(text, ok):
    if ok:
        assert share(text, "warn_at") == D(text)
    else:
        with pytest.raises(UsageError, match=r"warn_at must be in \(0, 1\]"):
            share(text, "warn_at")


def test_a_cut_is_never_softened_to_a_wrap_up():
    p = Policy("1.00")
    assert p.decide(D(0), D("0.10"), 0, 0, stop="the ledger failed").action == "cut"
    # $0.50 spent, $0.30 next: 0.80 fits, a second 0.30 would not (1.10): a wrap-up alone
    later = p.decide(D("0.50"), D("0.30"), 0, 1)
    assert (later.action, later.reason) == ("cut", "the ledger failed")
    assert Policy("1.00").decide(D("0.50"), D("0.30"), 0, 1).action == "wrap_up"
