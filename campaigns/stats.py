"""What a campaign changed, measured against its holdout: the difference of two conversion rates
with its 95% confidence interval (the normal approximation to the difference of two independent
proportions, Wald interval), as an intention-to-treat comparison. Pure functions over counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal
RATE = Decimal("0.0001")
MONEY = Decimal("0.01")


@dataclass(frozen=True)
class Lift:
    treatment_rate: float
    holdout_rate: float
    absolute: float | None  # treatment rate - holdout rate
    low: float | None  # the 95% interval of ``absolute``
    high: float | None
    relative: float | None  # absolute / holdout rate

    @property
    def significant(self) -> bool:
        """The interval excludes 0: a difference this large is unlikely by chance alone."""
        return self.low is not None and (self.low > 0 or self.high < 0)


def rate(converted: int, members: int) -> float:
    return converted / members if members else 0.0


def lift_estimate(*, treated: int, treated_converted: int, held: int, held_converted: int) -> Lift:
    """The lift of the treatment's conversion rate over the holdout's. Without members in
    both groups there is nothing to compare (``absolute`` None)."""
    p_t, p_h = rate(treated_converted, treated), rate(held_converted, held)
    if not treated or not held:
        return Lift(p_t, p_h, None, None, None, None)
    diff = p_t - p_h
    se = math.sqrt(p_t * (1 - p_t) / treated + p_h * (1 - p_h) / held)
    relative = diff / p_h if p_h else None
    return Lift(p_t, p_h, diff, diff - Z95 * se, diff + Z95 * se, relative)


def decimal_rate(x: float | None) -> str | None:
    """A rate or lift as API.md writes it: a decimal string with four places."""
    if x is None:
        return None
    return str(Decimal(repr(x)).quantize(RATE, rounding=ROUND_HALF_UP))


def incremental(treated_total: Decimal | int, held_total: Decimal | int, treated: int, held: int):
    """What the treatment group did beyond what it would have done at the holdout's rate: the
    treatment's total minus the holdout's total scaled to the treatment's size."""
    if not held:
        return None
    expected = Decimal(held_total) * Decimal(treated) / Decimal(held)
    return Decimal(treated_total) - expected
