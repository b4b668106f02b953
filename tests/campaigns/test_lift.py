"""The lift estimator (``campaigns.stats``): on synthetic campaigns where the treatment buys with
probability p + δ and the holdout with p, its 95% interval must contain δ about 95% of the time
(at least 90 of 100 campaigns of 20,000 members) and exclude 0 once δ is 3 points or more (in
at least 95 of 100: the power of the comparison at that size is about 98.7%)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import stats

N = 20_000
HOLDOUT = 0.10


def _campaign(rng: random.Random, p: float, delta: float) -> stats.Lift:
    held = round(N * HOLDOUT)
    treated = N - held
    converted_t = sum(1 for _ in range(treated) if rng.random() < p + delta)
    converted_h = sum(1 for _ in range(held) if rng.random() < p)
    return stats.lift_estimate(
        treated=treated, treated_converted=converted_t, held=held, held_converted=converted_h
    )


@pytest.mark.parametrize("p,delta", [(0.10, 0.0), (0.12, 0.03), (0.05, 0.01), (0.30, 0.05)])
def test_the_95_interval_covers_the_true_lift_in_at_least_90_of_100_campaigns(p, delta):
    rng = random.Random(f"{p}:{delta}")
    covered = 0
    for _ in range(100):
        lift = _campaign(rng, p, delta)
        covered += lift.low <= delta <= lift.high
    assert covered >= 90, covered


@pytest.mark.parametrize("p,delta", [(0.10, 0.03), (0.20, 0.04), (0.05, 0.03)])
def test_a_lift_of_3_points_or_more_is_told_from_none(p, delta):
    """At n = 20,000 and a 10% holdout, 3 points over a 10% rate is 4.2 standard errors: the
    interval excludes 0 in about 98.7% of campaigns (the test's power), so nearly all of 100."""
    rng = random.Random(f"excl:{p}:{delta}")
    excluded = sum(_campaign(rng, p, delta).significant for _ in range(100))
    assert excluded >= 95, excluded


@settings(max_examples=200, deadline=None)
@given(
    treated=st.integers(1, 10**6),
    held=st.integers(1, 10**5),
    ft=st.floats(0, 1),
    fh=st.floats(0, 1),
)
def test_the_interval_holds_the_estimate_and_narrows_with_more_members(treated, held, ft, fh):
    ct, ch = int(treated * ft), int(held * fh)
    lift = stats.lift_estimate(treated=treated, treated_converted=ct, held=held, held_converted=ch)
    assert lift.absolute == pytest.approx(ct / treated - ch / held)
    assert lift.low <= lift.absolute <= lift.high
    bigger = stats.lift_estimate(
        treated=treated * 4, treated_converted=ct * 4, held=held * 4, held_converted=ch * 4
    )
    assert bigger.high - bigger.low <= (lift.high - lift.low) / 2 + 1e-12


def test_without_a_holdout_there_is_no_lift():
    lift = stats.lift_estimate(treated=100, treated_converted=10, held=0, held_converted=0)
    assert lift.absolute is None and not lift.significant
    assert stats.decimal_rate(None) is None and stats.decimal_rate(0.12345) == "0.1235"
    assert stats.incremental(10, 1, 100, 0) is None
